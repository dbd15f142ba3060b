/* test_trace.c -- the simulate input loader: CSV and Prometheus query_range files become the
 * same struct trace, and every malformed input fails with its exact message and place.
 * Expected values come from the hand-made files in tests/data/trace (read by eye), from the
 * real Prometheus 2.42 responses in ../shared/fixtures/prometheus and from the row counts and
 * statistics in ../shared/traces/PROVENANCE.md, never from the loader itself. */
#include <cjson/cJSON.h>
#include <criterion/criterion.h>
#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "prom.h"
#include "ps_alloc.h"
#include "ps_buf.h"
#include "trace.h"

#define DATA PS_TEST_DATA "/trace/"
#define FIXTURES PS_SHARED_DIR "/fixtures/prometheus/"
#define TRACES PS_SHARED_DIR "/traces/"

/* ---- helpers ---- */

/* Asserts that <err> is PS_OK, showing the message otherwise. */
static void assert_ok(enum ps_err err, const struct ps_diag *d)
{
	cr_assert_eq(err, PS_OK, "%s: %s", ps_err_name(err), ps_diag_msg(d));
}

/* Asserts a failure with <code> and exactly the message <want>, and that <t> holds nothing. */
static void assert_fails(enum ps_err err, const struct ps_diag *d, const struct trace *t,
                         enum ps_err code, const char *want)
{
	cr_assert_eq(err, code, "want %s, got %s: %s", ps_err_name(code), ps_err_name(err),
	             ps_diag_msg(d));
	cr_assert_str_eq(ps_diag_msg(d), want);
	cr_assert_eq(t->n, 0);
	cr_assert_null(t->ts_ms);
	cr_assert_null(t->value);
}

static enum ps_err csv(const char *text, struct trace *t, struct ps_diag *d)
{
	ps_diag_clear(d);
	return trace_from_csv_text(text, strlen(text), "trace.csv", t, d);
}

static enum ps_err qr(const char *text, struct trace *t, struct ps_diag *d)
{
	ps_diag_clear(d);
	return trace_from_query_range_text(text, strlen(text), "resp.json", t, d);
}

/* A real response from ../shared/fixtures/prometheus: the raw body as Prometheus sent it, and
 * for an error envelope its errorType and error as the fixture's own parsed copy has them. */
struct fixture {
	char body[4096];
	char error_type[64];
	char error[1024];
};

static void fixture_read(const char *name, struct fixture *f)
{
	char path[512];
	snprintf(path, sizeof(path), FIXTURES "%s.json", name);
	struct ps_buf b;
	ps_buf_init(&b, 1 << 20);
	struct ps_diag d;
	ps_diag_clear(&d);
	cr_assert_eq(ps_buf_read_file(&b, path, &d), PS_OK, "%s", ps_diag_msg(&d));
	cJSON *j = cJSON_Parse(ps_buf_cstr(&b));
	cr_assert_not_null(j, "%s is not JSON", path);
	const cJSON *body = cJSON_GetObjectItemCaseSensitive(j, "body");
	cr_assert(cJSON_IsString(body), "%s has no body", path);
	snprintf(f->body, sizeof(f->body), "%s", body->valuestring);
	const cJSON *bj = cJSON_GetObjectItemCaseSensitive(j, "body_json");
	const cJSON *et = cJSON_GetObjectItemCaseSensitive(bj, "errorType");
	const cJSON *er = cJSON_GetObjectItemCaseSensitive(bj, "error");
	snprintf(f->error_type, sizeof(f->error_type), "%s",
	         cJSON_IsString(et) ? et->valuestring : "");
	snprintf(f->error, sizeof(f->error), "%s", cJSON_IsString(er) ? er->valuestring : "");
	cJSON_Delete(j);
	ps_buf_release(&b);
}

/* ---- CSV: good input ---- */

Test(trace, reads_a_csv_file_with_header_values_and_step)
{
	struct trace t;
	struct ps_diag d;
	ps_diag_clear(&d);
	assert_ok(trace_load_csv(DATA "good.csv", &t, &d), &d);
	cr_assert_eq(t.n, 5);
	cr_assert_eq(t.step_ms, 60000);
	cr_assert_eq(t.n_missing, 0);
	cr_assert_eq(t.n_skipped, 0);
	static const int64_t ts[] = {1795675620000, 1795675680000, 1795675740000, 1795675800000,
	                             1795675860000};
	static const double v[] = {12.5, 14, 13.25, 0, 20};
	for (size_t i = 0; i < 5; i++) {
		cr_assert_eq(t.ts_ms[i], ts[i], "row %zu", i);
		cr_assert_eq(t.value[i], v[i], "row %zu", i);
	}
	cr_assert_str_eq(t.source, DATA "good.csv");
	trace_release(&t);
	cr_assert_null(t.ts_ms);
	trace_release(&t); /* a released trace may be released again */
	trace_release(NULL);
}

Test(trace, reads_a_csv_without_header)
{
	struct trace t;
	struct ps_diag d;
	assert_ok(csv("100,1\n110,2\n120,3\n", &t, &d), &d);
	cr_assert_eq(t.n, 3);
	cr_assert_eq(t.ts_ms[0], 100000);
	cr_assert_eq(t.ts_ms[2], 120000);
	cr_assert_eq(t.value[1], 2.0);
	cr_assert_eq(t.step_ms, 10000);
	cr_assert_str_eq(t.source, "trace.csv");
	trace_release(&t);
}

Test(trace, takes_the_header_names_in_any_case)
{
	struct trace t;
	struct ps_diag d;
	assert_ok(csv("Timestamp,VALUE\n0,1\n60,2\n", &t, &d), &d);
	cr_assert_eq(t.n, 2);
	cr_assert_eq(t.step_ms, 60000);
	trace_release(&t);
}

Test(trace, tolerates_crlf_line_ends_and_blank_lines_at_the_end)
{
	struct trace t;
	struct ps_diag d;
	ps_diag_clear(&d);
	assert_ok(trace_load_csv(DATA "crlf.csv", &t, &d), &d);
	cr_assert_eq(t.n, 3);
	cr_assert_eq(t.step_ms, 300000);
	cr_assert_eq(t.ts_ms[2], 600000);
	cr_assert_eq(t.value[0], 1.5);
	cr_assert_eq(t.value[2], 3.5);
	trace_release(&t);
}

Test(trace, reads_a_gap_of_missing_rows_as_missing_steps)
{
	struct trace t;
	struct ps_diag d;
	ps_diag_clear(&d);
	assert_ok(trace_load_csv(DATA "gap.csv", &t, &d), &d);
	/* Rows at 0, 60, 120, 300, 360: differences 60, 60, 180, 60; 180 and 240 are missing. */
	cr_assert_eq(t.n, 5);
	cr_assert_eq(t.step_ms, 60000);
	cr_assert_eq(t.n_missing, 2);
	cr_assert_eq(t.ts_ms[3], 300000);
	cr_assert_eq(t.value[3], 15.0);
	trace_release(&t);
}

Test(trace, takes_the_smaller_difference_when_two_are_equally_common)
{
	struct trace t;
	struct ps_diag d;
	/* Differences 60, 120, 60, 120: a 60 s step with two missing rows. */
	assert_ok(csv("0,1\n60,1\n180,1\n240,1\n360,1\n", &t, &d), &d);
	cr_assert_eq(t.step_ms, 60000);
	cr_assert_eq(t.n_missing, 2);
	trace_release(&t);
}

Test(trace, reads_decimal_and_negative_seconds_to_the_millisecond)
{
	struct trace t;
	struct ps_diag d;
	assert_ok(csv("-1.5,1\n-1,2\n-.5,3\n0.,4\n+0.5,5\n", &t, &d), &d);
	static const int64_t ts[] = {-1500, -1000, -500, 0, 500};
	for (size_t i = 0; i < 5; i++)
		cr_assert_eq(t.ts_ms[i], ts[i], "row %zu", i);
	cr_assert_eq(t.step_ms, 500);
	trace_release(&t);
	/* In ms: 0.4 rounds down to 0, 1.5 up to 2 (half up), 3.51 up to 4, 5.9995 up to 6. */
	assert_ok(csv("0.0004,1\n0.0015,1\n0.00351,1\n0.0059995,1\n", &t, &d), &d);
	cr_assert_eq(t.ts_ms[0], 0);
	cr_assert_eq(t.ts_ms[1], 2);
	cr_assert_eq(t.ts_ms[2], 4);
	cr_assert_eq(t.ts_ms[3], 6);
	cr_assert_eq(t.step_ms, 2);
	trace_release(&t);
}

Test(trace, accepts_quoted_fields_spaces_and_a_utf8_bom)
{
	struct trace t;
	struct ps_diag d;
	assert_ok(csv("\xEF\xBB\xBF\"timestamp\",\"value\"\n\"0\",\"1.25\"\n 60 ,\t2e3 \n", &t, &d),
	          &d);
	cr_assert_eq(t.n, 2);
	cr_assert_eq(t.ts_ms[1], 60000);
	cr_assert_eq(t.value[0], 1.25);
	cr_assert_eq(t.value[1], 2000.0);
	trace_release(&t);
}

Test(trace, accepts_a_last_line_without_newline_and_negative_values)
{
	struct trace t;
	struct ps_diag d;
	assert_ok(csv("0,-1\n15,-2.5", &t, &d), &d);
	cr_assert_eq(t.n, 2);
	cr_assert_eq(t.value[1], -2.5);
	trace_release(&t);
}

/* ---- CSV: malformed input, one exact message each ---- */

struct bad_csv {
	const char *text;
	size_t len; /* 0: strlen(text) */
	enum ps_err code;
	const char *msg;
};

static const struct bad_csv bad_csv[] = {
    {"", 0, PS_EPARSE, "trace.csv: empty file (expected timestamp,value rows)"},
    {"\n \r\n\t\n", 0, PS_EPARSE, "trace.csv: empty file (expected timestamp,value rows)"},
    {"timestamp,value\n", 0, PS_EPARSE,
     "trace.csv: 0 data rows; a trace needs at least 2 to have a step"},
    {"timestamp,value\r\n0,1\r\n", 0, PS_EPARSE,
     "trace.csv: 1 data row; a trace needs at least 2 to have a step"},
    {"time,cpu\n0,1\n60,2\n", 0, PS_EPARSE,
     "trace.csv:1: the header must be \"timestamp,value\", found \"time,cpu\""},
    {"timestamp,value,pod\n0,1,a\n", 0, PS_EPARSE,
     "trace.csv:1: the header must be \"timestamp,value\", found \"timestamp,value,pod\""},
    {"value,timestamp\n0,1\n", 0, PS_EPARSE,
     "trace.csv:1: the header must be \"timestamp,value\", found \"value,timestamp\""},
    {"timestamp,value\n0,1\n60,12,5\n", 0, PS_EPARSE,
     "trace.csv:3: expected 2 columns (timestamp,value), found 3"},
    {"0,1\n60,2,\n", 0, PS_EPARSE, "trace.csv:2: expected 2 columns (timestamp,value), found 3"},
    {"0,1\n60\n", 0, PS_EPARSE, "trace.csv:2: expected 2 columns (timestamp,value), found 1"},
    {"0;1\n60;2\n", 0, PS_EPARSE,
     "trace.csv:1: expected 2 columns (timestamp,value), found 1 (separated by ';'? the "
     "separator is ',')"},
    {"0\t1\n60\t2\n", 0, PS_EPARSE,
     "trace.csv:1: expected 2 columns (timestamp,value), found 1 (separated by tabs? the "
     "separator is ',')"},
    {"0,1\n60,\"12,5\"\n", 0, PS_EPARSE, "trace.csv:2: value \"12,5\" is not a number"},
    {"0,1\n60,abc\n", 0, PS_EPARSE, "trace.csv:2: value \"abc\" is not a number"},
    {"0,1\n60,0x10\n", 0, PS_EPARSE, "trace.csv:2: value \"0x10\" is not a number"},
    {"0,1\n60,NaN\n", 0, PS_EPARSE,
     "trace.csv:2: value \"NaN\" is not a finite number (leave the row out to mark a missing "
     "sample)"},
    {"0,1\n60,-Inf\n", 0, PS_EPARSE,
     "trace.csv:2: value \"-Inf\" is not a finite number (leave the row out to mark a missing "
     "sample)"},
    {"0,1\n60,1e999\n", 0, PS_ERANGE, "trace.csv:2: value \"1e999\" is out of range"},
    {"0,1\n60,\n", 0, PS_EPARSE, "trace.csv:2: the value is empty"},
    {"0,1\n,2\n", 0, PS_EPARSE, "trace.csv:2: the timestamp is empty"},
    {"0,1\n1e3,2\n", 0, PS_EPARSE, "trace.csv:2: timestamp \"1e3\" is not a number of seconds"},
    {"0,1\n60s,2\n", 0, PS_EPARSE, "trace.csv:2: timestamp \"60s\" is not a number of seconds"},
    {"0,1\n2026-11-26T12:00:00Z,2\n", 0, PS_EPARSE,
     "trace.csv:2: timestamp \"2026-11-26T12:00:00Z\" is not a number of seconds"},
    {"1795675620000,1\n1795675680000,2\n", 0, PS_ERANGE,
     "trace.csv:1: timestamp \"1795675620000\" is too large for seconds (milliseconds? "
     "timestamps must be in seconds)"},
    {"0,1\n0,2\n", 0, PS_EPARSE, "trace.csv:2: timestamp 0 is not after the previous one (0)"},
    {"0.25,1\n0.125,2\n", 0, PS_EPARSE,
     "trace.csv:2: timestamp 0.125 is not after the previous one (0.25)"},
    {"0,1\n60,1\n120,1\n150,1\n210,1\n", 0, PS_EPARSE,
     "trace.csv:4: timestamp 150 is 30 s after the previous one (120), not a whole multiple "
     "of the step (60 s, the most common difference)"},
    {"timestamp,value\n0,1\n60,1\n120,1\n181,1\n", 0, PS_EPARSE,
     "trace.csv:5: timestamp 181 is 61 s after the previous one (120), not a whole multiple "
     "of the step (60 s, the most common difference)"},
    {"0,1\n\n60,2\n", 0, PS_EPARSE,
     "trace.csv:2: blank line (blank lines are allowed only at the end)"},
    {"\n0,1\n60,2\n", 0, PS_EPARSE,
     "trace.csv:1: blank line (blank lines are allowed only at the end)"},
    {"# exported by hand\n0,1\n60,2\n", 0, PS_EPARSE,
     "trace.csv:1: comments are not allowed in a trace"},
    {"0,1\n  # a note\n", 0, PS_EPARSE, "trace.csv:2: comments are not allowed in a trace"},
    {"0,1\n60,\"2\n", 0, PS_EPARSE, "trace.csv:2: unterminated quoted field"},
    {"0,1\n60,2\x00"
     "3\n",
     10, PS_EPARSE, "trace.csv:2: value \"2\\x003\" is not a number"},
    {"0,1\n60,\"2\"x\n", 0, PS_EPARSE, "trace.csv:2: value \"2x\" is not a number"},
    {"0,1\n60,123456789012345678901234567890123456789012345678901234567890x\n", 0, PS_EPARSE,
     "trace.csv:2: value \"1234567890123456789012345678901234567890...\" is not a number"},
};

Test(trace, rejects_each_malformed_csv_with_its_line_and_reason)
{
	for (size_t i = 0; i < sizeof(bad_csv) / sizeof(bad_csv[0]); i++) {
		const struct bad_csv *c = &bad_csv[i];
		struct trace t;
		struct ps_diag d;
		ps_diag_clear(&d);
		size_t len = c->len ? c->len : strlen(c->text);
		enum ps_err err = trace_from_csv_text(c->text, len, "trace.csv", &t, &d);
		cr_assert_eq(err, c->code, "case %zu: want %s, got %s: %s", i, ps_err_name(c->code),
		             ps_err_name(err), ps_diag_msg(&d));
		cr_assert_str_eq(ps_diag_msg(&d), c->msg, "case %zu", i);
		cr_assert_null(t.ts_ms, "case %zu", i);
		trace_release(&t);
	}
}

Test(trace, names_the_file_and_line_of_a_bad_value)
{
	struct trace t;
	struct ps_diag d;
	ps_diag_clear(&d);
	enum ps_err err = trace_load_csv(DATA "bad-value.csv", &t, &d);
	assert_fails(err, &d, &t, PS_EPARSE,
	             DATA "bad-value.csv:17: value \"12,5\" is not a number");
}

Test(trace, names_the_file_and_line_of_a_timestamp_going_back)
{
	struct trace t;
	struct ps_diag d;
	ps_diag_clear(&d);
	enum ps_err err = trace_load(DATA "not-after.csv", &t, &d);
	assert_fails(err, &d, &t, PS_EPARSE,
	             DATA "not-after.csv:9: timestamp 540 is not after the previous one (600)");
}

Test(trace, reports_a_missing_file)
{
	struct trace t;
	struct ps_diag d;
	ps_diag_clear(&d);
	enum ps_err err = trace_load(DATA "no-such-file.csv", &t, &d);
	assert_fails(err, &d, &t, PS_ENOENT,
	             "cannot open \"" DATA "no-such-file.csv\": No such file or directory");
}

/* ---- query_range ---- */

Test(trace, reads_a_query_range_file)
{
	struct trace t;
	struct ps_diag d;
	ps_diag_clear(&d);
	assert_ok(trace_load_query_range(DATA "query_range.json", &t, &d), &d);
	cr_assert_eq(t.n, 4);
	cr_assert_eq(t.step_ms, 15000);
	cr_assert_eq(t.ts_ms[0], 1795675620250);
	cr_assert_eq(t.ts_ms[3], 1795675665250);
	static const double v[] = {10.5, 11, 12.75, 0};
	for (size_t i = 0; i < 4; i++)
		cr_assert_eq(t.value[i], v[i], "sample %zu", i);
	cr_assert_eq(t.n_missing, 0);
	cr_assert_eq(t.n_skipped, 0);
	cr_assert_str_eq(t.source, DATA "query_range.json");
	trace_release(&t);
}

Test(trace, skips_nan_and_infinite_samples_as_no_data)
{
	struct trace t;
	struct ps_diag d;
	ps_diag_clear(&d);
	assert_ok(trace_load_query_range(DATA "query_range_nodata.json", &t, &d), &d);
	/* NaN at 1795675620, +Inf at ...740, -Inf at ...920: 5, 7, 8 remain, with ...740
	 * missing between them; the step still comes from every timestamp sent. */
	cr_assert_eq(t.n, 3);
	cr_assert_eq(t.n_skipped, 3);
	cr_assert_eq(t.step_ms, 60000);
	cr_assert_eq(t.n_missing, 1);
	cr_assert_eq(t.ts_ms[0], 1795675680000);
	cr_assert_eq(t.ts_ms[1], 1795675800000);
	cr_assert_eq(t.value[0], 5.0);
	cr_assert_eq(t.value[2], 8.0);
	trace_release(&t);
}

Test(trace, reads_real_prometheus_range_responses)
{
	struct fixture f;
	struct trace t;
	struct ps_diag d;

	fixture_read("range_matrix", &f);
	assert_ok(qr(f.body, &t, &d), &d);
	cr_assert_eq(t.n, 6);
	cr_assert_eq(t.step_ms, 60000); /* the request's step=60 */
	cr_assert_eq(t.ts_ms[0], 1795675620000);
	cr_assert_eq(t.ts_ms[5], 1795675920000);
	for (size_t i = 0; i < 6; i++)
		cr_assert_eq(t.value[i], 2.0);
	trace_release(&t);

	fixture_read("range_post_form", &f);
	assert_ok(qr(f.body, &t, &d), &d);
	cr_assert_eq(t.n, 4);
	cr_assert_eq(t.step_ms, 60000); /* step=60s */
	cr_assert_eq(t.value[3], 7.0);
	trace_release(&t);

	/* step=1m; "NaN", "+Inf" and "-Inf" at 1795676820, ...880, ...940 as the server sent them.
	 */
	fixture_read("range_matrix_duration_step", &f);
	assert_ok(qr(f.body, &t, &d), &d);
	cr_assert_eq(t.n, 2);
	cr_assert_eq(t.n_skipped, 3);
	cr_assert_eq(t.step_ms, 60000);
	cr_assert_eq(t.n_missing, 3);
	cr_assert_eq(t.ts_ms[0], 1795676760000);
	cr_assert_eq(t.value[0], 11.0);
	cr_assert_eq(t.ts_ms[1], 1795677000000);
	cr_assert_eq(t.value[1], 15.0);
	trace_release(&t);
}

Test(trace, rejects_more_than_one_series)
{
	struct trace t;
	struct ps_diag d;
	ps_diag_clear(&d);
	enum ps_err err = trace_load_query_range(DATA "query_range_two_series.json", &t, &d);
	assert_fails(err, &d, &t, PS_EPARSE,
	             DATA "query_range_two_series.json: data.result: 2 series; simulate takes one: "
	                  "narrow the query (a label matcher, or sum(...))");
}

Test(trace, reports_each_real_prometheus_error_envelope)
{
	static const char *names[] = {
	    "err_400_bad_time",      "err_400_end_before_start",   "err_400_missing_query",
	    "err_400_parse_error",   "err_400_too_many_points",    "err_400_zero_step",
	    "err_422_many_to_many",  "err_422_duplicate_labelset", "err_timeout_503",
	    "err_timeout_503_range",
	};
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		struct fixture f;
		fixture_read(names[i], &f);
		cr_assert(f.error_type[0] && f.error[0], "%s: no error in body_json", names[i]);
		char want[2048];
		snprintf(want, sizeof(want), "%s: %s: %s", names[i], f.error_type, f.error);
		cr_assert_lt(strlen(want), PS_DIAG_MAX, "%s: the message would be cut", names[i]);
		struct trace t;
		struct ps_diag d;
		ps_diag_clear(&d);
		enum ps_err err =
		    trace_from_query_range_text(f.body, strlen(f.body), names[i], &t, &d);
		assert_fails(err, &d, &t, PS_EPARSE, want);
	}
}

Test(trace, reports_the_plain_text_404_of_a_wrong_endpoint_as_bad_json)
{
	struct fixture f;
	fixture_read("err_404_unknown_endpoint", &f);
	struct trace t;
	struct ps_diag d;
	ps_diag_clear(&d);
	enum ps_err err = trace_from_query_range_text(f.body, strlen(f.body), "404.json", &t, &d);
	/* Not JSON from its first byte: the place is where the text starts. */
	assert_fails(err, &d, &t, PS_EPARSE,
	             "404.json:1:1: not JSON (a query_range response is a JSON object) near '404 "
	             "page not found'");
}

Test(trace, rejects_real_instant_query_responses)
{
	static const struct {
		const char *name, *type;
	} cases[] = {
	    {"instant_vector_rate", "vector"},
	    {"instant_scalar", "scalar"},
	    {"instant_string", "string"},
	    {"instant_empty_result", "vector"},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct fixture f;
		fixture_read(cases[i].name, &f);
		char want[PS_DIAG_MAX];
		snprintf(want, sizeof(want),
		         "resp.json: data.resultType is \"%s\", not \"matrix\": simulate needs the "
		         "response of a range query (/api/v1/query_range)",
		         cases[i].type);
		struct trace t;
		struct ps_diag d;
		assert_fails(qr(f.body, &t, &d), &d, &t, PS_EPARSE, want);
	}
}

struct bad_qr {
	const char *text;
	enum ps_err code;
	const char *msg;
};

#define HEAD "{\"status\":\"success\",\"data\":{\"resultType\":\"matrix\",\"result\":"
#define ONE(values) HEAD "[{\"metric\":{},\"values\":" values "}]}}"

static const struct bad_qr bad_qr[] = {
    {"", PS_EPARSE, "resp.json: empty file (expected a Prometheus query_range response)"},
    {" \n", PS_EPARSE, "resp.json: empty file (expected a Prometheus query_range response)"},
    {"{\n  \"status\": \"success\",\n  \"data\": {\"resultType\": \"matrix\" \"result\": []}\n}",
     PS_EPARSE, "resp.json:3:35: invalid JSON near '\"result\": []}'"},
    {"{\"status\": \"success\",", PS_EPARSE,
     "resp.json:1:22: invalid JSON: the body ends too early"},
    {"{\"status\": \"success\",\n", PS_EPARSE,
     "resp.json:2:1: invalid JSON: the body ends too early"},
    {"{\"status\": \"success\",\r\n  \"data\": {\"resultType\": \"matrix\",\r\n", PS_EPARSE,
     "resp.json:3:1: invalid JSON: the body ends too early"},
    {"{}\n]", PS_EPARSE, "resp.json:2:1: unexpected data after the JSON value near ']'"},
    {"[1,2]", PS_EPARSE,
     "resp.json: not a Prometheus API response (expected a JSON object, got an array)"},
    {"{}", PS_EPARSE, "resp.json: not a Prometheus API response (no \"status\" string)"},
    {"{\"status\":\"partial\"}", PS_EPARSE,
     "resp.json: status: \"partial\" is neither \"success\" nor \"error\""},
    {"{\"status\":\"error\"}", PS_EPARSE, "resp.json: error (no errorType): (no error message)"},
    {"{\"status\":\"success\"}", PS_EPARSE, "resp.json: data: expected an object, got nothing"},
    {"{\"status\":\"success\",\"data\":{}}", PS_EPARSE,
     "resp.json: data.resultType: expected a string, got nothing"},
    {HEAD "{}}}", PS_EPARSE, "resp.json: data.result: expected an array, got an object"},
    {HEAD "[]}}", PS_EPARSE,
     "resp.json: data.result: no series (the query matched nothing in that range)"},
    {HEAD "[7]}}", PS_EPARSE, "resp.json: data.result[0]: expected an object, got a number"},
    {HEAD "[{\"metric\":{}}]}}", PS_EPARSE,
     "resp.json: data.result[0].values: expected an array, got nothing"},
    {HEAD "[{\"metric\":{},\"histograms\":[]}]}}", PS_EPARSE,
     "resp.json: data.result[0]: native histogram samples only; prescale reads float samples "
     "(\"values\")"},
    {ONE("[]"), PS_EPARSE, "resp.json: data.result[0].values: 0 samples; a trace needs at least 2"},
    {ONE("[[60,\"1\"]]"), PS_EPARSE,
     "resp.json: data.result[0].values: 1 sample; a trace needs at least 2"},
    {ONE("[[60,\"1\"],[120,\"1\",3]]"), PS_EPARSE,
     "resp.json: data.result[0].values[1]: expected [<unix seconds>, \"<value>\"], got an "
     "array of another size"},
    {ONE("[{\"t\":60}]"), PS_EPARSE,
     "resp.json: data.result[0].values[0]: expected [<unix seconds>, \"<value>\"], got an "
     "object"},
    {ONE("[[\"60\",\"1\"]]"), PS_EPARSE,
     "resp.json: data.result[0].values[0][0]: the timestamp must be a number, got a string"},
    {ONE("[[60,1]]"), PS_EPARSE,
     "resp.json: data.result[0].values[0][1]: the value must be a string, got a number"},
    {ONE("[[60,\"1\"],[120,\"abc\"]]"), PS_EPARSE,
     "resp.json: data.result[0].values[1][1]: value \"abc\" is not a number"},
    {ONE("[[60,\"1\"],[120,\"\"]]"), PS_EPARSE,
     "resp.json: data.result[0].values[1][1]: value \"\" is not a number"},
    {ONE("[[60,\"1\"],[120,\"1e999\"]]"), PS_ERANGE,
     "resp.json: data.result[0].values[1][1]: value \"1e999\" is out of range"},
    {ONE("[[1795675620000,\"1\"],[1795675680000,\"1\"]]"), PS_ERANGE,
     "resp.json: data.result[0].values[0][0]: timestamp 1795675620000 is out of range "
     "(Prometheus sends seconds)"},
    {ONE("[[60,\"1\"],[60,\"2\"]]"), PS_EPARSE,
     "resp.json: data.result[0].values[1][0]: timestamp 60 is not after the previous one (60)"},
    {ONE("[[0,\"1\"],[60,\"1\"],[120,\"NaN\"],[150,\"1\"],[210,\"1\"]]"), PS_EPARSE,
     "resp.json: data.result[0].values[3]: timestamp 150 is 30 s after the previous one "
     "(120), not a whole multiple of the step (60 s, the most common difference)"},
    {ONE("[[0,\"NaN\"],[60,\"+Inf\"],[120,\"5\"]]"), PS_EPARSE,
     "resp.json: data.result[0].values: 1 sample with data (2 NaN or infinite skipped); a "
     "trace needs at least 2"},
};

Test(trace, reads_a_query_range_response_after_a_utf8_bom)
{
	struct trace t;
	struct ps_diag d;
	assert_ok(qr("\xEF\xBB\xBF\n" ONE("[[60,\"1.5\"],[120,\"2\"]]"), &t, &d), &d);
	cr_assert_eq(t.n, 2);
	cr_assert_eq(t.step_ms, 60000);
	cr_assert_eq(t.value[0], 1.5);
	trace_release(&t);
	/* The BOM is not a column of the text after it. */
	assert_fails(qr("\xEF\xBB\xBF  x", &t, &d), &d, &t, PS_EPARSE,
	             "resp.json:1:3: not JSON (a query_range response is a JSON object) near 'x'");
}

Test(trace, rejects_each_malformed_query_range_with_its_place_and_reason)
{
	for (size_t i = 0; i < sizeof(bad_qr) / sizeof(bad_qr[0]); i++) {
		const struct bad_qr *c = &bad_qr[i];
		struct trace t;
		struct ps_diag d;
		enum ps_err err = qr(c->text, &t, &d);
		cr_assert_eq(err, c->code, "case %zu: want %s, got %s: %s", i, ps_err_name(c->code),
		             ps_err_name(err), ps_diag_msg(&d));
		cr_assert_str_eq(ps_diag_msg(&d), c->msg, "case %zu", i);
		cr_assert_null(t.ts_ms, "case %zu", i);
		trace_release(&t);
	}
}

/* ---- a parsed result (the live path of simulate) ---- */

/* A matrix result built by hand around <points> (one series unless <n_series> says more; every
 * series shares the points). */
static struct prom_result matrix_of(const struct prom_point *points, size_t n,
                                    struct prom_series *series, size_t n_series)
{
	for (size_t i = 0; i < n_series; i++)
		series[i] = (struct prom_series){.points = points, .n_points = n};
	return (struct prom_result){
	    .type = PROM_RESULT_MATRIX, .series = series, .n_series = n_series};
}

Test(trace, turns_a_parsed_matrix_series_into_a_trace)
{
	/* 15 s apart from 1795675620, a NaN and a +Inf point in place: 4 samples with data, one
	 * 15 s step missing between 640 and 680 and the skipped points counted. */
	static const struct prom_point pts[] = {
	    {1795675620000, 3.5, false},  {1795675635000, NAN, true},
	    {1795675650000, 4.0, false},  {1795675665000, INFINITY, true},
	    {1795675680000, 5.25, false}, {1795675710000, 6.0, false},
	};
	struct prom_series series[1];
	struct prom_result r = matrix_of(pts, PS_ARRAY_LEN(pts), series, 1);
	struct trace t;
	struct ps_diag d;
	ps_diag_clear(&d);
	const char *src = "http://127.0.0.1:9090 query demo_series";
	assert_ok(trace_from_prom_result(&r, src, &t, &d), &d);
	cr_assert_eq(t.n, 4);
	cr_assert_eq(t.step_ms, 15000);
	cr_assert_eq(t.n_skipped, 2);
	cr_assert_eq(t.n_missing, 3); /* ...635, ...665 (no data) and ...695 (absent) */
	static const int64_t ts[] = {1795675620000, 1795675650000, 1795675680000, 1795675710000};
	static const double v[] = {3.5, 4.0, 5.25, 6.0};
	for (size_t i = 0; i < 4; i++) {
		cr_assert_eq(t.ts_ms[i], ts[i], "sample %zu", i);
		cr_assert_eq(t.value[i], v[i], "sample %zu", i);
	}
	cr_assert_str_eq(t.source, src);
	trace_release(&t);
}

Test(trace, reads_a_saved_file_exactly_as_its_parsed_result)
{
	/* One parser: the text path is prom_parse_response() then trace_from_prom_result(). */
	struct ps_buf b;
	ps_buf_init(&b, 1 << 20);
	struct ps_diag d;
	ps_diag_clear(&d);
	cr_assert_eq(ps_buf_read_file(&b, DATA "query_range_nodata.json", &d), PS_OK);
	struct prom_result r;
	assert_ok(prom_parse_response(ps_buf_cstr(&b), b.len, NULL, &r, &d), &d);
	struct trace a, t;
	assert_ok(trace_from_prom_result(&r, "parsed", &a, &d), &d);
	assert_ok(trace_load_query_range(DATA "query_range_nodata.json", &t, &d), &d);
	cr_assert_eq(a.n, t.n);
	cr_assert_eq(a.step_ms, t.step_ms);
	cr_assert_eq(a.n_missing, t.n_missing);
	cr_assert_eq(a.n_skipped, t.n_skipped);
	cr_assert_eq(memcmp(a.ts_ms, t.ts_ms, t.n * sizeof(*t.ts_ms)), 0);
	cr_assert_eq(memcmp(a.value, t.value, t.n * sizeof(*t.value)), 0);
	trace_release(&a);
	trace_release(&t);
	prom_result_release(&r);
	ps_buf_release(&b);
}

Test(trace, rejects_each_parsed_result_that_is_not_one_usable_series)
{
	static const struct prom_point two[] = {{60000, 1, false}, {120000, 2, false}};
	static const struct prom_point one[] = {{60000, 1, false}};
	static const struct prom_point back[] = {{60000, 1, false}, {60000, 2, false}};
	static const struct prom_point off[] = {
	    {0, 1, false}, {60000, 1, false}, {120000, 1, false}, {150000, 1, false}};
	static const struct prom_point nodata[] = {
	    {0, NAN, true}, {60000, 5, false}, {120000, -INFINITY, true}};
	static const struct prom_point far[] = {{100000000000000, 1, false},
	                                        {100000000060000, 1, false}};
	struct prom_series series[8]; /* each case its own, since the cases live together */
	const struct {
		struct prom_result r;
		enum ps_err code;
		const char *msg;
	} cases[] = {
	    {{.type = PROM_RESULT_VECTOR},
	     PS_EPARSE,
	     "live: data.resultType is \"vector\", not \"matrix\": simulate needs the response of "
	     "a "
	     "range query (/api/v1/query_range)"},
	    {{.type = PROM_RESULT_SCALAR},
	     PS_EPARSE,
	     "live: data.resultType is \"scalar\", not \"matrix\": simulate needs the response of "
	     "a "
	     "range query (/api/v1/query_range)"},
	    {{.type = PROM_RESULT_MATRIX, .no_data = true},
	     PS_EPARSE,
	     "live: data.result: no series (the query matched nothing in that range)"},
	    {matrix_of(two, 2, series, 3), PS_EPARSE,
	     "live: data.result: 3 series; simulate takes one: narrow the query (a label matcher, "
	     "or sum(...))"},
	    {matrix_of(one, 1, &series[3], 1), PS_EPARSE,
	     "live: data.result[0].values: 1 sample; a trace needs at least 2"},
	    {matrix_of(back, 2, &series[4], 1), PS_EPARSE,
	     "live: data.result[0].values[1]: timestamp 60 is not after the previous one (60)"},
	    {matrix_of(off, 4, &series[5], 1), PS_EPARSE,
	     "live: data.result[0].values[3]: timestamp 150 is 30 s after the previous one (120), "
	     "not a whole multiple of the step (60 s, the most common difference)"},
	    {matrix_of(nodata, 3, &series[6], 1), PS_EPARSE,
	     "live: data.result[0].values: 1 sample with data (2 NaN or infinite skipped); a trace "
	     "needs at least 2"},
	    {matrix_of(far, 2, &series[7], 1), PS_ERANGE,
	     "live: data.result[0].values[0][0]: timestamp 100000000000000 ms is out of range"},
	};
	for (size_t i = 0; i < PS_ARRAY_LEN(cases); i++) {
		struct trace t;
		struct ps_diag d;
		ps_diag_clear(&d);
		enum ps_err err = trace_from_prom_result(&cases[i].r, "live", &t, &d);
		cr_assert_eq(err, cases[i].code, "case %zu: %s: %s", i, ps_err_name(err),
		             ps_diag_msg(&d));
		cr_assert_str_eq(ps_diag_msg(&d), cases[i].msg, "case %zu", i);
		cr_assert_null(t.ts_ms, "case %zu", i);
		trace_release(&t);
	}
}

/* ---- choosing the format ---- */

Test(trace, chooses_the_format_by_content_then_by_the_json_extension)
{
	struct trace t;
	struct ps_diag d;
	ps_diag_clear(&d);
	assert_ok(trace_load(DATA "good.csv", &t, &d), &d);
	cr_assert_eq(t.n, 5);
	trace_release(&t);

	/* A query_range body under a .txt name: the leading '{' decides. */
	assert_ok(trace_load(DATA "saved-response.txt", &t, &d), &d);
	cr_assert_eq(t.n, 4);
	cr_assert_eq(t.step_ms, 15000);
	trace_release(&t);

	/* Plain text under a .json name is read as JSON, so the message is about JSON. */
	enum ps_err err = trace_load(DATA "not-json.json", &t, &d);
	assert_fails(err, &d, &t, PS_EPARSE,
	             DATA "not-json.json:1:1: not JSON (a query_range response is a JSON object) "
	                  "near '404 page not found'");
}

/* ---- allocation failure ---- */

/* Makes each allocation of <load>(<path>) fail in turn: every run ends in PS_ENOMEM with an
 * "out of memory" message and an empty trace, until a run needs no more allocations and ends
 * as without injection (<want_err>, and <want_n> samples). Leaks show up under ASan/LSan and
 * valgrind. */
static void each_allocation_fails(enum ps_err (*load)(const char *, struct trace *,
                                                      struct ps_diag *),
                                  const char *path, enum ps_err want_err, size_t want_n)
{
	uint64_t n = 1;
	for (;; n++) {
		struct trace t;
		struct ps_diag d;
		ps_diag_clear(&d);
		ps_alloc_fail_at(n);
		enum ps_err err = load(path, &t, &d);
		bool injected = ps_alloc_injected();
		ps_alloc_fail_at(0);
		if (!injected) {
			cr_assert_eq(err, want_err, "%s: %s", path, ps_diag_msg(&d));
			cr_assert_eq(t.n, want_n);
			trace_release(&t);
			break;
		}
		cr_assert_eq(err, PS_ENOMEM, "%s, allocation %llu: %s: %s", path,
		             (unsigned long long)n, ps_err_name(err), ps_diag_msg(&d));
		cr_assert(strstr(ps_diag_msg(&d), "out of memory"), "%s", ps_diag_msg(&d));
		cr_assert_null(t.ts_ms);
		cr_assert_null(t.value);
		trace_release(&t);
		cr_assert_lt(n, 100000);
	}
	cr_assert_gt(n, 2, "%s: too few allocations for the test to mean anything", path);
}

Test(trace, fails_cleanly_when_any_allocation_fails)
{
	each_allocation_fails(trace_load, DATA "gap.csv", PS_OK, 5);
	each_allocation_fails(trace_load, DATA "query_range_nodata.json", PS_OK, 3);
	each_allocation_fails(trace_load_csv, DATA "bad-value.csv", PS_EPARSE, 0);
	each_allocation_fails(trace_load_query_range, DATA "query_range_two_series.json", PS_EPARSE,
	                      0);
}

Test(trace, fails_cleanly_when_growing_a_long_csv_fails)
{
	/* 3000 rows outgrow the first arrays twice, and a missing row makes the step search sort
	 * the differences. */
	static char text[64 * 1024];
	size_t len = 0;
	for (int i = 0; i < 3001; i++)
		if (i != 1500)
			len += (size_t)snprintf(text + len, sizeof(text) - len, "%d,%d\n", i * 10,
			                        i % 7);
	uint64_t n = 1;
	for (;; n++) {
		struct trace t;
		struct ps_diag d;
		ps_diag_clear(&d);
		ps_alloc_fail_at(n);
		enum ps_err err = trace_from_csv_text(text, len, NULL, &t, &d);
		bool injected = ps_alloc_injected();
		ps_alloc_fail_at(0);
		if (!injected) {
			assert_ok(err, &d);
			cr_assert_eq(t.n, 3000);
			cr_assert_eq(t.step_ms, 10000);
			cr_assert_eq(t.n_missing, 1);
			trace_release(&t);
			break;
		}
		cr_assert_eq(err, PS_ENOMEM, "allocation %llu: %s", (unsigned long long)n,
		             ps_diag_msg(&d));
		cr_assert_str_eq(ps_diag_msg(&d), "trace: out of memory");
		trace_release(&t);
	}
	cr_assert_gt(n, 5);
}

/* ---- the real traces of ../shared/traces (PROVENANCE.md) ---- */

struct stats {
	double min, max, sum;
};

static struct stats stats_of(const struct trace *t)
{
	struct stats s = {t->value[0], t->value[0], 0};
	for (size_t i = 0; i < t->n; i++) {
		s.min = fmin(s.min, t->value[i]);
		s.max = fmax(s.max, t->value[i]);
		s.sum += t->value[i];
	}
	return s;
}

Test(trace, loads_the_nasa_trace)
{
	struct trace t;
	struct ps_diag d;
	ps_diag_clear(&d);
	assert_ok(trace_load(TRACES "nasa_http_jul1995_1min.csv", &t, &d), &d);
	cr_assert_eq(t.n, 39692);
	cr_assert_eq(t.step_ms, 60000);
	cr_assert_eq(t.n_missing, 0);
	cr_assert_eq(t.ts_ms[0], (int64_t)804571200 * 1000);
	cr_assert_eq(t.ts_ms[t.n - 1], (int64_t)806952660 * 1000);
	struct stats s = stats_of(&t);
	cr_assert_eq(s.min, 0.0);
	cr_assert_eq(s.max, 405.0);
	cr_assert_eq(s.sum, 1891672.0); /* "The file holds 1,891,672 requests in total." */
	cr_assert_lt(fabs(s.sum / (double)t.n - 47.6588), 5e-5);
	trace_release(&t);
}

Test(trace, loads_the_alibaba_trace)
{
	struct trace t;
	struct ps_diag d;
	ps_diag_clear(&d);
	assert_ok(trace_load(TRACES "alibaba2018_cpu_util_1min.csv", &t, &d), &d);
	cr_assert_eq(t.n, 8640);
	cr_assert_eq(t.step_ms, 60000);
	cr_assert_eq(t.n_missing, 0);
	cr_assert_eq(t.ts_ms[0], 0);
	cr_assert_eq(t.ts_ms[t.n - 1], (int64_t)518340 * 1000);
	struct stats s = stats_of(&t);
	cr_assert_lt(fabs(s.min - 18.4892), 5e-5);
	cr_assert_lt(fabs(s.max - 78.7464), 5e-5);
	cr_assert_lt(fabs(s.sum / (double)t.n - 38.7570), 5e-5);
	trace_release(&t);
}

Test(trace, loads_the_google_trace)
{
	struct trace t;
	struct ps_diag d;
	ps_diag_clear(&d);
	assert_ok(trace_load(TRACES "google2019_avg_cpu_5min.csv", &t, &d), &d);
	cr_assert_eq(t.n, 8064);
	cr_assert_eq(t.step_ms, 300000);
	cr_assert_eq(t.n_missing, 0);
	cr_assert_eq(t.ts_ms[0], 0);
	cr_assert_eq(t.ts_ms[t.n - 1], (int64_t)2418900 * 1000);
	struct stats s = stats_of(&t);
	cr_assert_lt(fabs(s.min - 0.320287), 5e-7);
	cr_assert_lt(fabs(s.max - 0.592437), 5e-7);
	cr_assert_lt(fabs(s.sum / (double)t.n - 0.4728), 5e-5);
	trace_release(&t);
}
