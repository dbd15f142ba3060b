/* test_prom.c -- the Prometheus client without a network: response parsing, error mapping,
 * query templates and the HTTP requests the client would send.
 *
 * Expected values come from outside the code under test: the real Prometheus 2.42 responses of
 * ../shared/fixtures/prometheus (read from there, never copied; each value checked against the
 * fixture's own parsed copy or its README), the fixtures' request URLs (what Prometheus was
 * sent), hand-encoded form bodies, and PromQL's string escapes (Go's strconv.Unquote rules).
 */
#include <cjson/cJSON.h>
#include <criterion/criterion.h>
#include <fcntl.h>
#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "cfg.h"
#include "prom.h"
#include "ps_alloc.h"
#include "ps_buf.h"

#define FIXTURES PS_SHARED_DIR "/fixtures/prometheus/"
#define DATA PS_TEST_DATA "/prom/"

/* ---- fixtures ---- */

/* One file of ../shared/fixtures/prometheus: the request and the raw response. */
struct fixture {
	char method[8];
	char request_url[1024];
	char source[1024]; /* "<method> <request_url without its query string>" */
	char request_body[1024];
	long status;
	char content_type[64];
	char body[4096];
	size_t body_len;
};

static void copy_str(char *dst, size_t size, const cJSON *j, const char *what, const char *name)
{
	cr_assert(cJSON_IsString(j), "%s: %s is not a string", name, what);
	cr_assert_lt(strlen(j->valuestring), size, "%s: %s too long for the test", name, what);
	strcpy(dst, j->valuestring);
}

static void load_fixture(const char *name, struct fixture *f)
{
	char path[512];
	snprintf(path, sizeof(path), FIXTURES "%s.json", name);
	struct ps_buf b;
	ps_buf_init(&b, 1 << 20);
	struct ps_diag d;
	ps_diag_clear(&d);
	cr_assert_eq(ps_buf_read_file(&b, path, &d), PS_OK, "%s", ps_diag_msg(&d));
	cJSON *j = cJSON_Parse(ps_buf_cstr(&b));
	cr_assert_not_null(j, "%s: not JSON", path);
	memset(f, 0, sizeof(*f));
	copy_str(f->method, sizeof(f->method), cJSON_GetObjectItem(j, "method"), "method", name);
	copy_str(f->request_url, sizeof(f->request_url), cJSON_GetObjectItem(j, "request_url"),
	         "request_url", name);
	snprintf(f->source, sizeof(f->source), "%s %.*s", f->method,
	         (int)strcspn(f->request_url, "?"), f->request_url);
	const cJSON *rb = cJSON_GetObjectItem(j, "request_body");
	if (cJSON_IsString(rb))
		copy_str(f->request_body, sizeof(f->request_body), rb, "request_body", name);
	const cJSON *st = cJSON_GetObjectItem(j, "status");
	cr_assert(cJSON_IsNumber(st));
	f->status = (long)st->valuedouble;
	copy_str(f->content_type, sizeof(f->content_type), cJSON_GetObjectItem(j, "content_type"),
	         "content_type", name);
	copy_str(f->body, sizeof(f->body), cJSON_GetObjectItem(j, "body"), "body", name);
	f->body_len = strlen(f->body);
	cJSON_Delete(j);
	ps_buf_release(&b);
}

static enum ps_err parse_fixture(const struct fixture *f, const char *key_label,
                                 struct prom_result *r, struct ps_diag *d)
{
	struct prom_parse_opts o = {.source = f->source,
	                            .http_status = f->status,
	                            .content_type = f->content_type,
	                            .key_label = key_label};
	ps_diag_clear(d);
	return prom_parse_response(f->body, f->body_len, &o, r, d);
}

/* Parses fixture <name> and asserts success. */
static void parse_ok(const char *name, const char *key_label, struct prom_result *r)
{
	struct fixture f;
	load_fixture(name, &f);
	struct ps_diag d;
	enum ps_err err = parse_fixture(&f, key_label, r, &d);
	cr_assert_eq(err, PS_OK, "%s: %s: %s", name, ps_err_name(err), ps_diag_msg(&d));
	cr_assert_eq(r->http_status, 200);
}

/* Parses an inline body (no HTTP status unless given) and returns the code. */
static enum ps_err parse_text(const char *body, long status, const char *ctype,
                              struct prom_result *r, struct ps_diag *d)
{
	struct prom_parse_opts o = {.source = "GET http://prom:9090/api/v1/query",
	                            .http_status = status,
	                            .content_type = ctype};
	ps_diag_clear(d);
	return prom_parse_response(body, strlen(body), &o, r, d);
}

static void assert_label(const struct prom_series *s, const char *name, const char *value)
{
	const char *v = prom_series_label(s, name);
	cr_assert_not_null(v, "no label %s", name);
	cr_assert_str_eq(v, value);
}

static void assert_empty_result(const struct prom_result *r)
{
	cr_assert_null(r->mem);
	cr_assert_null(r->series);
	cr_assert_eq(r->n_series, 0);
	cr_assert_null(r->warnings);
}

/* ---- successful responses ---- */

Test(prom, parses_an_instant_vector_with_labels_values_and_times)
{
	struct prom_result r;
	parse_ok("instant_vector_rate", NULL, &r);
	cr_assert_eq(r.type, PROM_RESULT_VECTOR);
	cr_assert_eq(r.n_series, 2);
	cr_assert_eq(r.n_points_with_data, 2);
	cr_assert_not(r.no_data);
	cr_assert_eq(r.n_warnings, 0);
	const double want[] = {2, 5};
	const char *instance[] = {"a", "b"};
	for (size_t i = 0; i < 2; i++) {
		const struct prom_series *s = &r.series[i];
		cr_assert_eq(s->n_labels, 2);
		cr_assert_str_eq(s->labels[0].name, "instance");
		cr_assert_str_eq(s->labels[0].value, instance[i]);
		assert_label(s, "job", "api");
		cr_assert_null(s->key, "no pod label, so no key");
		cr_assert_eq(s->n_points, 1);
		cr_assert_eq(s->points[0].ts_ms, 1795676820000LL);
		cr_assert_eq(s->points[0].value, want[i]);
		cr_assert_not(s->points[0].no_data);
	}
	double v;
	struct ps_diag d;
	cr_assert_eq(prom_result_value(&r, &v, &d), PS_EMETRIC);
	cr_assert_str_eq(ps_diag_msg(&d), "prometheus: the query returned 2 series where one "
	                                  "value is needed (aggregate them, e.g. with sum(...))");
	prom_result_release(&r);
	assert_empty_result(&r);
}

Test(prom, keys_series_by_the_configured_label)
{
	struct prom_result r;
	parse_ok("instant_vector_rate", "instance", &r);
	cr_assert_str_eq(r.series[0].key, "a");
	cr_assert_str_eq(r.series[1].key, "b");
	const struct prom_series *b = prom_result_find(&r, "b");
	cr_assert_eq(b, &r.series[1]);
	cr_assert_eq(b->points[0].value, 5);
	cr_assert_null(prom_result_find(&r, "c"));
	prom_result_release(&r);

	/* The default key label is "pod". */
	cr_assert_eq(parse_text("{\"status\":\"success\",\"data\":{\"resultType\":\"vector\","
	                        "\"result\":[{\"metric\":{\"namespace\":\"shop\",\"pod\":"
	                        "\"web-7f9c\"},\"value\":[1795676820.5,\"0.25\"]}]}}",
	                        200, NULL, &r, &(struct ps_diag){0}),
	             PS_OK);
	cr_assert_str_eq(r.series[0].key, "web-7f9c");
	cr_assert_eq(r.series[0].points[0].ts_ms, 1795676820500LL);
	cr_assert_eq(r.series[0].points[0].value, 0.25);
	prom_result_release(&r);
}

Test(prom, parses_single_value_vectors)
{
	static const struct {
		const char *fixture;
		double value;
		int64_t ts_ms;
		size_t n_labels;
	} cases[] = {
	    {"instant_vector_sum_by", 7, 1795676820000LL, 1},
	    {"instant_histogram_quantile", 0.5, 1795676820000LL, 0},
	    {"instant_post_form", 7, 1795676820000LL, 0},
	    {"instant_rfc3339_time", 13, 1795675620000LL, 2},
	    {"instant_with_stats", 13, 1795675620000LL, 2},
	};
	for (size_t i = 0; i < PS_ARRAY_LEN(cases); i++) {
		struct prom_result r;
		parse_ok(cases[i].fixture, NULL, &r);
		cr_assert_eq(r.type, PROM_RESULT_VECTOR, "%s", cases[i].fixture);
		cr_assert_eq(r.n_series, 1, "%s", cases[i].fixture);
		cr_assert_eq(r.series[0].n_labels, cases[i].n_labels, "%s", cases[i].fixture);
		cr_assert_eq(r.series[0].points[0].ts_ms, cases[i].ts_ms, "%s", cases[i].fixture);
		double v = -1;
		struct ps_diag d;
		cr_assert_eq(prom_result_value(&r, &v, &d), PS_OK, "%s: %s", cases[i].fixture,
		             ps_diag_msg(&d));
		cr_assert_eq(v, cases[i].value, "%s: %g", cases[i].fixture, v);
		prom_result_release(&r);
	}
	struct prom_result r;
	parse_ok("instant_vector_sum_by", NULL, &r);
	assert_label(&r.series[0], "job", "api");
	prom_result_release(&r);
}

Test(prom, parses_scalars_with_millisecond_times)
{
	struct prom_result r;
	parse_ok("instant_scalar", NULL, &r);
	cr_assert_eq(r.type, PROM_RESULT_SCALAR);
	cr_assert_eq(r.scalar.ts_ms, 1795675620000LL);
	cr_assert_eq(r.scalar.value, 13);
	cr_assert_not(r.no_data);
	cr_assert_eq(r.n_points_with_data, 1);
	double v;
	cr_assert_eq(prom_result_value(&r, &v, NULL), PS_OK);
	cr_assert_eq(v, 13);
	prom_result_release(&r);

	parse_ok("instant_scalar_literal", NULL, &r);
	cr_assert_eq(r.scalar.ts_ms, 1700000000123LL);
	cr_assert_eq(r.scalar.value, 1.5);
	prom_result_release(&r);
}

Test(prom, parses_a_string_result)
{
	struct prom_result r;
	parse_ok("instant_string", NULL, &r);
	cr_assert_eq(r.type, PROM_RESULT_STRING);
	cr_assert_str_eq(r.string, "hello");
	cr_assert_eq(r.scalar.ts_ms, 1795676820000LL);
	double v;
	struct ps_diag d;
	cr_assert_eq(prom_result_value(&r, &v, &d), PS_EMETRIC);
	cr_assert_str_eq(ps_diag_msg(&d),
	                 "prometheus: the query returned a string where one value is needed");
	prom_result_release(&r);
}

Test(prom, parses_range_matrices)
{
	struct prom_result r;
	parse_ok("range_matrix", "instance", &r);
	cr_assert_eq(r.type, PROM_RESULT_MATRIX);
	cr_assert_eq(r.n_series, 1);
	const struct prom_series *s = &r.series[0];
	cr_assert_str_eq(s->key, "a");
	assert_label(s, "job", "api");
	cr_assert_eq(s->n_points, 6);
	for (size_t i = 0; i < 6; i++) {
		cr_assert_eq(s->points[i].ts_ms, 1795675620000LL + (int64_t)i * 60000);
		cr_assert_eq(s->points[i].value, 2);
	}
	cr_assert_eq(r.n_points_with_data, 6);
	double v;
	struct ps_diag d;
	cr_assert_eq(prom_result_value(&r, &v, &d), PS_EMETRIC);
	cr_assert_str_eq(ps_diag_msg(&d), "prometheus: the query returned a range vector (matrix) "
	                                  "where one value is needed");
	prom_result_release(&r);

	parse_ok("range_post_form", NULL, &r);
	cr_assert_eq(r.series[0].n_points, 4);
	cr_assert_eq(r.series[0].n_labels, 0);
	cr_assert_eq(r.series[0].points[3].ts_ms, 1795675800000LL);
	cr_assert_eq(r.series[0].points[3].value, 7);
	prom_result_release(&r);
}

Test(prom, marks_nan_and_infinite_matrix_points_as_no_data)
{
	struct prom_result r;
	parse_ok("range_matrix_duration_step", NULL, &r);
	const struct prom_series *s = &r.series[0];
	cr_assert_eq(s->n_points, 5);
	cr_assert_eq(s->points[0].value, 11);
	cr_assert_not(s->points[0].no_data);
	cr_assert(s->points[1].no_data);
	cr_assert(isnan(s->points[1].value));
	cr_assert(s->points[2].no_data);
	cr_assert(isinf(s->points[2].value) && s->points[2].value > 0);
	cr_assert(s->points[3].no_data);
	cr_assert(isinf(s->points[3].value) && s->points[3].value < 0);
	cr_assert_eq(s->points[4].value, 15);
	cr_assert_eq(s->points[4].ts_ms, 1795677000000LL);
	cr_assert_eq(r.n_points_with_data, 2);
	cr_assert_not(r.no_data, "two points carry data");
	prom_result_release(&r);
}

Test(prom, treats_nan_and_infinite_instant_values_as_no_data_never_zero)
{
	static const struct {
		const char *fixture, *word;
	} cases[] = {
	    {"instant_gauge_nan", "NaN"},
	    {"instant_gauge_posinf", "+Inf"},
	    {"instant_gauge_neginf", "-Inf"},
	};
	for (size_t i = 0; i < PS_ARRAY_LEN(cases); i++) {
		struct prom_result r;
		parse_ok(cases[i].fixture, NULL, &r);
		cr_assert_eq(r.n_series, 1);
		const struct prom_point *p = &r.series[0].points[0];
		cr_assert(p->no_data, "%s", cases[i].fixture);
		cr_assert(!isfinite(p->value), "%s: never a number, let alone 0", cases[i].fixture);
		cr_assert(r.no_data);
		cr_assert_eq(r.n_points_with_data, 0);
		double v = 0;
		struct ps_diag d;
		cr_assert_eq(prom_result_value(&r, &v, &d), PS_ENODATA);
		cr_assert(isnan(v));
		char want[128];
		snprintf(want, sizeof(want), "prometheus: no data: the value is %s", cases[i].word);
		cr_assert_str_eq(ps_diag_msg(&d), want);
		cr_assert(ps_err_is_retryable(PS_ENODATA));
		prom_result_release(&r);
	}
}

Test(prom, treats_an_empty_result_as_no_data)
{
	struct prom_result r;
	parse_ok("instant_empty_result", NULL, &r);
	cr_assert_eq(r.type, PROM_RESULT_VECTOR);
	cr_assert_eq(r.n_series, 0);
	cr_assert(r.no_data);
	double v = 0;
	struct ps_diag d;
	cr_assert_eq(prom_result_value(&r, &v, &d), PS_ENODATA);
	cr_assert(isnan(v));
	cr_assert_str_eq(ps_diag_msg(&d),
	                 "prometheus: no data: the query returned an empty vector");
	prom_result_release(&r);

	/* An empty matrix, and a scalar NaN, are no data too. */
	struct ps_diag d2;
	cr_assert_eq(parse_text("{\"status\":\"success\",\"data\":{\"resultType\":\"matrix\","
	                        "\"result\":[]}}",
	                        200, NULL, &r, &d2),
	             PS_OK);
	cr_assert(r.no_data);
	prom_result_release(&r);
	cr_assert_eq(parse_text("{\"status\":\"success\",\"data\":{\"resultType\":\"scalar\","
	                        "\"result\":[1795675620,\"NaN\"]}}",
	                        200, NULL, &r, &d2),
	             PS_OK);
	cr_assert(r.no_data);
	cr_assert(r.scalar.no_data);
	cr_assert_eq(prom_result_value(&r, &v, &d2), PS_ENODATA);
	prom_result_release(&r);
}

Test(prom, surfaces_warnings)
{
	struct prom_result r;
	struct ps_diag d;
	cr_assert_eq(parse_text("{\"status\":\"success\",\"data\":{\"resultType\":\"vector\","
	                        "\"result\":[{\"metric\":{},\"value\":[1795676820,\"3\"]}]},"
	                        "\"warnings\":[\"store gateway eu-1 did not answer\","
	                        "\"partial response\"]}",
	                        200, NULL, &r, &d),
	             PS_OK, "%s", ps_diag_msg(&d));
	cr_assert_eq(r.n_warnings, 2);
	cr_assert_str_eq(r.warnings[0], "store gateway eu-1 did not answer");
	cr_assert_str_eq(r.warnings[1], "partial response");
	double v;
	cr_assert_eq(prom_result_value(&r, &v, NULL), PS_OK);
	cr_assert_eq(v, 3);
	prom_result_release(&r);

	cr_assert_eq(parse_text("{\"status\":\"success\",\"data\":{\"resultType\":\"vector\","
	                        "\"result\":[]},\"warnings\":[1]}",
	                        200, NULL, &r, &d),
	             PS_EPARSE);
	cr_assert_str_eq(ps_diag_msg(&d),
	                 "prometheus: warnings[0]: expected a string, got a number "
	                 "(HTTP 200 from GET http://prom:9090/api/v1/query)");
	assert_empty_result(&r);
}

/* ---- error envelopes and other failures ---- */

Test(prom, turns_every_error_fixture_into_its_error_and_retry_class)
{
	static const struct {
		const char *fixture;
		enum ps_err err;
		const char *msg; /* the part before " (HTTP ..." */
	} cases[] = {
	    {"err_400_bad_time", PS_EPARSE,
	     "prometheus: bad_data: invalid parameter \"time\": Invalid time value for 'time': "
	     "cannot parse \"notatime\" to a valid timestamp"},
	    {"err_400_end_before_start", PS_EPARSE,
	     "prometheus: bad_data: invalid parameter \"end\": end timestamp must not be before "
	     "start time"},
	    {"err_400_missing_query", PS_EPARSE,
	     "prometheus: bad_data: invalid parameter \"query\": 1:1: parse error: no expression "
	     "found in input"},
	    {"err_400_parse_error", PS_EPARSE,
	     "prometheus: bad_data: invalid parameter \"query\": 1:33: parse error: unclosed left "
	     "parenthesis"},
	    {"err_400_too_many_points", PS_EPARSE,
	     "prometheus: bad_data: exceeded maximum resolution of 11,000 points per timeseries. "
	     "Try decreasing the query resolution (?step=XX)"},
	    {"err_400_zero_step", PS_EPARSE,
	     "prometheus: bad_data: invalid parameter \"step\": zero or negative query resolution "
	     "step widths are not accepted. Try a positive integer"},
	    {"err_422_duplicate_labelset", PS_EINVALID,
	     "prometheus: execution: vector cannot contain metrics with the same labelset"},
	    {"err_422_many_to_many", PS_EINVALID,
	     "prometheus: execution: found duplicate series for the match group {job=\"api\"} on "
	     "the right hand-side of the operation: [{__name__=\"http_requests_total\", "
	     "instance=\"b\", job=\"api\"}, {__name__=\"http_requests_total\", instance=\"a\", "
	     "job=\"api\"}];many-to-many matching not allowed: matching labels must be unique on "
	     "one side"},
	    {"err_timeout_503", PS_ETIMEDOUT,
	     "prometheus: timeout: query timed out in query execution"},
	    {"err_timeout_503_range", PS_ETIMEDOUT,
	     "prometheus: timeout: query timed out in query queue"},
	    {"err_404_unknown_endpoint", PS_ENOTFOUND,
	     "prometheus: the response is not JSON (text/plain; charset=utf-8): "
	     "\"404 page not found\\x0a\""},
	};
	for (size_t i = 0; i < PS_ARRAY_LEN(cases); i++) {
		struct fixture f;
		load_fixture(cases[i].fixture, &f);
		struct prom_result r;
		struct ps_diag d;
		enum ps_err err = parse_fixture(&f, NULL, &r, &d);
		cr_assert_eq(err, cases[i].err, "%s: want %s, got %s: %s", cases[i].fixture,
		             ps_err_name(cases[i].err), ps_err_name(err), ps_diag_msg(&d));
		char want[2048];
		snprintf(want, sizeof(want), "%s (HTTP %ld from %s)", cases[i].msg, f.status,
		         f.source);
		cr_assert_str_eq(ps_diag_msg(&d), want, "%s", cases[i].fixture);
		bool retry = cases[i].err == PS_ETIMEDOUT;
		cr_assert_eq(ps_err_is_retryable(err), retry, "%s", cases[i].fixture);
		assert_empty_result(&r);
	}
}

Test(prom, maps_error_types_and_bare_statuses_to_codes)
{
	static const struct {
		const char *body;
		long status;
		enum ps_err err;
		bool retryable;
	} cases[] = {
	    {"{\"status\":\"error\",\"errorType\":\"canceled\",\"error\":\"query was canceled\"}",
	     503, PS_EUNAVAIL, true},
	    {"{\"status\":\"error\",\"errorType\":\"unavailable\",\"error\":\"not ready\"}", 503,
	     PS_EUNAVAIL, true},
	    {"{\"status\":\"error\",\"errorType\":\"internal\",\"error\":\"boom\"}", 500,
	     PS_ESERVER, true},
	    {"{\"status\":\"error\",\"errorType\":\"not_found\",\"error\":\"no rule\"}", 404,
	     PS_ENOTFOUND, false},
	    {"{\"status\":\"error\",\"errorType\":\"timeout\",\"error\":\"x\"}", 200, PS_ETIMEDOUT,
	     true},
	    /* An errorType we do not know: the status decides. */
	    {"{\"status\":\"error\",\"errorType\":\"weird\",\"error\":\"x\"}", 503, PS_EUNAVAIL,
	     true},
	    {"{\"status\":\"error\",\"errorType\":\"weird\",\"error\":\"x\"}", 400, PS_EHTTP,
	     false},
	    {"{\"status\":\"error\",\"error\":\"no type\"}", 502, PS_ESERVER, true},
	    /* Bodies that are no Prometheus response at all. */
	    {"<html><body>502 Bad Gateway</body></html>", 502, PS_ESERVER, true},
	    {"<html>maintenance</html>", 503, PS_EUNAVAIL, true},
	    {"upstream request timeout", 504, PS_ETIMEDOUT, true},
	    {"Unauthorized", 401, PS_EUNAUTHORIZED, false},
	    {"Forbidden", 403, PS_EFORBIDDEN, false},
	    {"rate limited", 429, PS_ETHROTTLED, true},
	    {"<!DOCTYPE html><html>login page</html>", 200, PS_EHTTP, false},
	    {"", 502, PS_ESERVER, true},
	    {"", 200, PS_EHTTP, false},
	    {"{\"status\":\"success\",\"data\":{\"resultType\":\"vector\",\"result\":[]}}", 500,
	     PS_ESERVER, true},
	};
	for (size_t i = 0; i < PS_ARRAY_LEN(cases); i++) {
		struct prom_result r;
		struct ps_diag d;
		enum ps_err err = parse_text(cases[i].body, cases[i].status, NULL, &r, &d);
		cr_assert_eq(err, cases[i].err, "case %zu: want %s, got %s: %s", i,
		             ps_err_name(cases[i].err), ps_err_name(err), ps_diag_msg(&d));
		cr_assert_eq(ps_err_is_retryable(err), cases[i].retryable, "case %zu", i);
		assert_empty_result(&r);
	}
}

Test(prom, quotes_the_start_of_a_non_json_body_with_the_status)
{
	struct prom_result r;
	struct ps_diag d;
	cr_assert_eq(parse_text("<html><head><title>502 Bad Gateway</title></head><body><center>"
	                        "<h1>502 Bad Gateway</h1></center></body></html>\r\n",
	                        502, "text/html", &r, &d),
	             PS_ESERVER);
	cr_assert_str_eq(ps_diag_msg(&d),
	                 "prometheus: the response is not JSON (text/html): \"<html><head><title>"
	                 "502 Bad Gateway</title></head><body><cent...\" (HTTP 502 "
	                 "from GET http://prom:9090/api/v1/query)");
	cr_assert_eq(parse_text("   \n", 502, NULL, &r, &d), PS_ESERVER);
	cr_assert_str_eq(ps_diag_msg(&d), "prometheus: empty response body (HTTP 502 from GET "
	                                  "http://prom:9090/api/v1/query)");
	/* A saved file: its name leads a syntax error, as in other file parsers. */
	struct prom_parse_opts o = {.source = "resp.json"};
	const char *cut = "{\n \"status\": \"success\",\n \"data\": {\"result";
	cr_assert_eq(prom_parse_response(cut, strlen(cut), &o, &r, &d), PS_EPARSE);
	cr_assert_str_eq(ps_diag_msg(&d),
	                 "prometheus: resp.json:3:18: invalid JSON: the body ends too early");
	const char *env = "{\"status\":\"error\",\"errorType\":\"bad_data\",\"error\":\"x\"}";
	cr_assert_eq(prom_parse_response(env, strlen(env), &o, &r, &d), PS_EPARSE);
	cr_assert_str_eq(ps_diag_msg(&d), "prometheus: bad_data: x (resp.json)");
	/* No status, no source. */
	cr_assert_eq(prom_parse_response("404 page not found\n", 19, NULL, &r, &d), PS_EPARSE);
	cr_assert_str_eq(ps_diag_msg(&d),
	                 "prometheus: the response is not JSON: \"404 page not found\\x0a\"");
}

Test(prom, reports_malformed_json_with_line_and_column)
{
	static const struct {
		const char *body;
		long status;
		enum ps_err err;
		const char *msg;
	} cases[] = {
	    {"{\n  \"status\": \"success\",\n  \"data\": @{}\n}", 200, PS_EPARSE,
	     "prometheus: body:3:11: invalid JSON near '@{}' (HTTP 200 from GET "
	     "http://prom:9090/api/v1/query)"},
	    {"{\"status\":\"success\",\"data\":{\"resultType\":\"vector\",\"result\":[]}} trailing",
	     200, PS_EPARSE,
	     "prometheus: body:1:65: unexpected data after the JSON value near 'trailing' (HTTP "
	     "200 from GET http://prom:9090/api/v1/query)"},
	    {"{\"status\":\"succ", 200, PS_EPARSE,
	     "prometheus: body:1:16: invalid JSON: the body ends too early (HTTP 200 from GET "
	     "http://prom:9090/api/v1/query)"},
	    /* A broken body with a 5xx keeps the status' retry class. */
	    {"{\"status\":\"error\",\"errorTy", 503, PS_EUNAVAIL,
	     "prometheus: body:1:27: invalid JSON: the body ends too early (HTTP 503 from GET "
	     "http://prom:9090/api/v1/query)"},
	};
	for (size_t i = 0; i < PS_ARRAY_LEN(cases); i++) {
		struct prom_result r;
		struct ps_diag d;
		enum ps_err err = parse_text(cases[i].body, cases[i].status, NULL, &r, &d);
		cr_assert_eq(err, cases[i].err, "case %zu: %s: %s", i, ps_err_name(err),
		             ps_diag_msg(&d));
		cr_assert_str_eq(ps_diag_msg(&d), cases[i].msg, "case %zu: %s", i, ps_diag_msg(&d));
		assert_empty_result(&r);
	}
}

Test(prom, refuses_json_that_is_not_a_query_response_with_its_path)
{
	static const struct {
		const char *body;
		enum ps_err err;
		const char *msg; /* without the " (HTTP 200 ...)" suffix */
	} cases[] = {
	    {"[1,2]", PS_EPARSE,
	     "not a Prometheus API response (expected a JSON object, got an array)"},
	    {"{\"status\":1}", PS_EPARSE, "not a Prometheus API response (no \"status\" string)"},
	    {"{\"status\":\"partial\"}", PS_EPARSE,
	     "status: \"partial\" is neither \"success\" nor \"error\""},
	    {"{\"status\":\"success\"}", PS_EPARSE, "data: expected an object, got nothing"},
	    {"{\"status\":\"success\",\"data\":{\"result\":[]}}", PS_EPARSE,
	     "data.resultType: expected a string, got nothing"},
	    {"{\"status\":\"success\",\"data\":{\"resultType\":\"table\",\"result\":[]}}",
	     PS_EPARSE, "data.resultType: \"table\" is none of scalar, vector, matrix, string"},
	    {"{\"status\":\"success\",\"data\":{\"resultType\":\"vector\",\"result\":{}}}",
	     PS_EPARSE, "data.result: expected an array, got an object"},
	    {"{\"status\":\"success\",\"data\":{\"resultType\":\"vector\",\"result\":[3]}}",
	     PS_EPARSE, "data.result[0]: expected an object, got a number"},
	    {"{\"status\":\"success\",\"data\":{\"resultType\":\"vector\",\"result\":[{\"metric\":"
	     "{\"a\":1},\"value\":[1,\"2\"]}]}}",
	     PS_EPARSE, "data.result[0].metric: label \"a\": expected a string, got a number"},
	    {"{\"status\":\"success\",\"data\":{\"resultType\":\"vector\",\"result\":[{\"metric\":"
	     "[],\"value\":[1,\"2\"]}]}}",
	     PS_EPARSE, "data.result[0].metric: expected an object, got an array"},
	    {"{\"status\":\"success\",\"data\":{\"resultType\":\"vector\",\"result\":[{\"metric\":"
	     "{},\"value\":[1,\"2\"]},{\"metric\":{},\"value\":[1,\"abc\"]}]}}",
	     PS_EPARSE, "data.result[1].value[1]: value \"abc\" is not a number"},
	    {"{\"status\":\"success\",\"data\":{\"resultType\":\"vector\",\"result\":[{\"metric\":"
	     "{},\"value\":[1,2]}]}}",
	     PS_EPARSE, "data.result[0].value[1]: the value must be a string, got a number"},
	    {"{\"status\":\"success\",\"data\":{\"resultType\":\"vector\",\"result\":[{\"metric\":"
	     "{},\"value\":[\"1\",\"2\"]}]}}",
	     PS_EPARSE, "data.result[0].value[0]: the timestamp must be a number, got a string"},
	    {"{\"status\":\"success\",\"data\":{\"resultType\":\"vector\",\"result\":[{\"metric\":"
	     "{},\"value\":[1795676820000,\"2\"]}]}}",
	     PS_ERANGE,
	     "data.result[0].value[0]: timestamp 1795676820000 is out of range (Prometheus sends "
	     "seconds)"},
	    {"{\"status\":\"success\",\"data\":{\"resultType\":\"vector\",\"result\":[{\"metric\":"
	     "{},\"value\":[1]}]}}",
	     PS_EPARSE,
	     "data.result[0].value: expected [<unix seconds>, \"<value>\"], got an array of "
	     "another "
	     "size"},
	    {"{\"status\":\"success\",\"data\":{\"resultType\":\"vector\",\"result\":[{\"metric\":"
	     "{},\"histogram\":[1,{}]}]}}",
	     PS_EPARSE,
	     "data.result[0]: a native histogram sample; prescale reads float samples (\"value\") "
	     "only"},
	    {"{\"status\":\"success\",\"data\":{\"resultType\":\"matrix\",\"result\":[{\"metric\":"
	     "{},\"values\":[[10,\"1\"],[20,\"2\"],[20,\"3\"]]}]}}",
	     PS_EPARSE,
	     "data.result[0].values[2][0]: timestamp 20 is not after the previous one (20)"},
	    {"{\"status\":\"success\",\"data\":{\"resultType\":\"matrix\",\"result\":[{\"metric\":"
	     "{},\"values\":{}}]}}",
	     PS_EPARSE, "data.result[0].values: expected an array, got an object"},
	    {"{\"status\":\"success\",\"data\":{\"resultType\":\"matrix\",\"result\":[{\"metric\":"
	     "{},\"histograms\":[]}]}}",
	     PS_EPARSE,
	     "data.result[0]: native histogram samples only; prescale reads float samples "
	     "(\"values\")"},
	    {"{\"status\":\"success\",\"data\":{\"resultType\":\"string\",\"result\":[1,2]}}",
	     PS_EPARSE, "data.result[1]: expected a string, got a number"},
	    {"{\"status\":\"success\",\"data\":{\"resultType\":\"scalar\",\"result\":[1,\"1e999\"]}"
	     "}",
	     PS_ERANGE, "data.result[1]: value \"1e999\" is out of range"},
	};
	for (size_t i = 0; i < PS_ARRAY_LEN(cases); i++) {
		struct prom_result r;
		struct ps_diag d;
		enum ps_err err = parse_text(cases[i].body, 200, NULL, &r, &d);
		cr_assert_eq(err, cases[i].err, "case %zu: %s: %s", i, ps_err_name(err),
		             ps_diag_msg(&d));
		char want[2048];
		snprintf(want, sizeof(want),
		         "prometheus: %s (HTTP 200 from GET http://prom:9090/api/v1/query)",
		         cases[i].msg);
		cr_assert_str_eq(ps_diag_msg(&d), want, "case %zu", i);
		assert_empty_result(&r);
	}
}

Test(prom, refuses_the_responses_of_other_endpoints)
{
	static const char *const names[] = {"metadata_labels", "metadata_series", "buildinfo"};
	static const char *const msgs[] = {
	    "prometheus: data: expected an object, got an array",
	    "prometheus: data: expected an object, got an array",
	    "prometheus: data.resultType: expected a string, got nothing",
	};
	for (size_t i = 0; i < PS_ARRAY_LEN(names); i++) {
		struct fixture f;
		load_fixture(names[i], &f);
		struct prom_result r;
		struct ps_diag d;
		cr_assert_eq(parse_fixture(&f, NULL, &r, &d), PS_EPARSE, "%s", names[i]);
		char want[2048];
		snprintf(want, sizeof(want), "%s (HTTP 200 from %s)", msgs[i], f.source);
		cr_assert_str_eq(ps_diag_msg(&d), want);
	}
}

Test(prom, fails_cleanly_on_every_truncation_of_every_fixture)
{
	static const char *const names[] = {
	    "instant_vector_rate", "instant_scalar",   "instant_string",
	    "range_matrix",        "err_400_bad_time", "instant_with_stats",
	};
	for (size_t i = 0; i < PS_ARRAY_LEN(names); i++) {
		struct fixture f;
		load_fixture(names[i], &f);
		for (size_t n = 0; n < f.body_len; n++) {
			struct prom_parse_opts o = {.http_status = 200};
			struct prom_result r;
			struct ps_diag d;
			ps_diag_clear(&d);
			enum ps_err err = prom_parse_response(f.body, n, &o, &r, &d);
			cr_assert_eq(err, n == 0 ? PS_EHTTP : PS_EPARSE, "%s cut at %zu: %s",
			             names[i], n, ps_diag_msg(&d));
			char want[2048];
			if (n == 0)
				snprintf(want, sizeof(want),
				         "prometheus: empty response body (HTTP 200)");
			else
				snprintf(want, sizeof(want),
				         "prometheus: body:1:%zu: invalid JSON: the body ends too "
				         "early (HTTP 200)",
				         n + 1);
			cr_assert_str_eq(ps_diag_msg(&d), want, "%s cut at %zu", names[i], n);
			assert_empty_result(&r);
		}
	}
}

Test(prom, fails_cleanly_when_any_allocation_fails_while_parsing)
{
	static const char *const names[] = {
	    "instant_vector_rate", "range_matrix_duration_step", "instant_string",
	    "instant_scalar",      "err_422_many_to_many",       "err_404_unknown_endpoint",
	};
	for (size_t i = 0; i < PS_ARRAY_LEN(names); i++) {
		struct fixture f;
		load_fixture(names[i], &f);
		struct prom_result want;
		struct ps_diag wd;
		enum ps_err want_err = parse_fixture(&f, "instance", &want, &wd);
		uint64_t n = 1;
		for (;; n++) {
			struct prom_result r;
			struct ps_diag d;
			ps_diag_clear(&d);
			ps_alloc_fail_at(n);
			enum ps_err err = parse_fixture(&f, "instance", &r, &d);
			bool injected = ps_alloc_injected();
			ps_alloc_fail_at(0);
			if (!injected) {
				cr_assert_eq(err, want_err, "%s", names[i]);
				cr_assert_str_eq(ps_diag_msg(&d), ps_diag_msg(&wd));
				cr_assert_eq(r.n_series, want.n_series);
				prom_result_release(&r);
				break;
			}
			cr_assert_eq(err, PS_ENOMEM, "%s, allocation %llu: %s: %s", names[i],
			             (unsigned long long)n, ps_err_name(err), ps_diag_msg(&d));
			char msg[2048];
			snprintf(
			    msg, sizeof(msg),
			    "prometheus: out of memory parsing the response (HTTP %ld from %s)",
			    f.status, f.source);
			cr_assert_str_eq(ps_diag_msg(&d), msg);
			assert_empty_result(&r);
			cr_assert_lt(n, 10000);
		}
		prom_result_release(&want);
		if (strncmp(names[i], "err_404", 7) != 0)
			cr_assert_gt(n, 2, "%s: too few allocations to mean anything", names[i]);
	}
}

/* ---- templates ---- */

static const struct prom_vars test_vars = {
    .namespace = "shop",
    .name = "checkout-scaler",
    .target = "checkout",
    .kind = "StatefulSet",
    .metric = "queue",
};

static void expand_ok(const char *query, const struct prom_vars *vars, const char *want)
{
	char *out = NULL;
	struct ps_diag d;
	ps_diag_clear(&d);
	enum ps_err err = prom_template_expand(query, vars, &out, &d);
	cr_assert_eq(err, PS_OK, "%s: %s", query, ps_diag_msg(&d));
	cr_assert_str_eq(out, want);
	ps_free(out);
	cr_assert_eq(prom_template_check(query, &d), PS_OK);
}

static void template_fails(const char *query, enum ps_err want_err, const char *want)
{
	struct ps_diag d;
	ps_diag_clear(&d);
	char *out = (char *)"untouched";
	cr_assert_eq(prom_template_expand(query, &test_vars, &out, &d), want_err, "%s: %s", query,
	             ps_diag_msg(&d));
	cr_assert_null(out);
	cr_assert_str_eq(ps_diag_msg(&d), want);
	if (want_err == PS_ECONFIG) {
		ps_diag_clear(&d);
		cr_assert_eq(prom_template_check(query, &d), PS_ECONFIG);
		cr_assert_str_eq(ps_diag_msg(&d), want);
	}
}

Test(prom, expands_every_template_variable)
{
	expand_ok("sum(queue_depth{namespace=\"{{.namespace}}\",app=\"{{ .target }}\","
	          "kind=\"{{.kind}}\",owner='{{.name}}',m=\"{{\t.metric\t}}\"})",
	          &test_vars,
	          "sum(queue_depth{namespace=\"shop\",app=\"checkout\",kind=\"StatefulSet\","
	          "owner='checkout-scaler',m=\"queue\"})");
	/* No placeholder: the query comes back as it was. */
	expand_ok("sum(rate(x[5m])) # a {comment}", &test_vars, "sum(rate(x[5m])) # a {comment}");
	/* Twice in one string, and a string holding an escaped quote before the placeholder. */
	expand_ok("x{a=\"{{.target}}-{{.target}}\",b=\"q\\\"{{.namespace}}\"}", &test_vars,
	          "x{a=\"checkout-checkout\",b=\"q\\\"shop\"}");
}

Test(prom, escapes_values_for_the_promql_string_they_are_in)
{
	struct prom_vars v = test_vars;
	v.target = "a\"b\\c\nd\re\tf\x01g'h";
	/* In "...": the double quote, backslash and control bytes are escaped; ' stays. */
	expand_ok("x{app=\"{{.target}}\"}", &v, "x{app=\"a\\\"b\\\\c\\nd\\re\\tf\\x01g'h\"}");
	/* In '...': the single quote is escaped and " stays (PromQL refuses \" there). */
	expand_ok("x{app='{{.target}}'}", &v, "x{app='a\"b\\\\c\\nd\\re\\tf\\x01g\\'h'}");
	/* A value cannot end its string and inject PromQL. */
	v.target = "\"} or vector(1) or x{a=\"";
	expand_ok("x{app=\"{{.target}}\"}", &v, "x{app=\"\\\"} or vector(1) or x{a=\\\"\"}");
	/* UTF-8 passes unchanged. */
	v.target = "caf\xc3\xa9";
	expand_ok("x{app=\"{{.target}}\"}", &v, "x{app=\"caf\xc3\xa9\"}");
}

Test(prom, refuses_unknown_or_malformed_templates_with_the_name_and_place)
{
	template_fails("x{a=\"{{.deployment}}\"}", PS_ECONFIG,
	               "unknown template {{.deployment}} at 1:6 (known: namespace, name, target, "
	               "kind, metric)");
	template_fails("x{a=\"{{name}}\"}", PS_ECONFIG,
	               "malformed template {{name}} at 1:6 (write {{.name}} with a name among "
	               "namespace, name, target, kind, metric)");
	template_fails("x{a=\"{{.name | upper}}\"}", PS_ECONFIG,
	               "malformed template {{.name | upper}} at 1:6 (write {{.name}} with a name "
	               "among namespace, name, target, kind, metric)");
	template_fails("sum(x)\n  / on() y{a=\"{{.name\"}", PS_ECONFIG,
	               "unterminated template {{.name\\\"} at 2:15 (no closing \"}}\")");
}

Test(prom, refuses_templates_outside_quoted_strings)
{
	template_fails("{{.target}}_requests_total", PS_ECONFIG,
	               "template {{.target}} at 1:1 is outside a quoted string; write it inside "
	               "\"...\" (e.g. deployment=\"{{.target}}\") so that its value is escaped");
	template_fails("x{a=\"b\"} > {{.name}}", PS_ECONFIG,
	               "template {{.name}} at 1:12 is outside a quoted string; write it inside "
	               "\"...\" (e.g. deployment=\"{{.target}}\") so that its value is escaped");
	template_fails("x{a=`{{.target}}`}", PS_ECONFIG,
	               "template {{.target}} at 1:6 is in a `raw` string, which cannot escape its "
	               "value; use \"...\"");
	template_fails("x # owner {{.name}}\n", PS_ECONFIG,
	               "template {{.name}} at 1:11 is in a # comment");
	/* A quote inside a comment opens no string. */
	template_fails("x # it's\n{{.name}}", PS_ECONFIG,
	               "template {{.name}} at 2:1 is outside a quoted string; write it inside "
	               "\"...\" (e.g. deployment=\"{{.target}}\") so that its value is escaped");
}

Test(prom, refuses_a_variable_without_a_value)
{
	struct prom_vars v = test_vars;
	v.metric = NULL;
	char *out = NULL;
	struct ps_diag d;
	cr_assert_eq(prom_template_expand("x{m=\"{{.metric}}\"}", &v, &out, &d), PS_EINVAL);
	cr_assert_null(out);
	cr_assert_str_eq(ps_diag_msg(&d), "template {{.metric}} at 1:6 has no value");
}

Test(prom, takes_template_variables_from_the_target)
{
	struct cfg *c = NULL;
	struct ps_diag d;
	cr_assert_eq(cfg_load(DATA "config.yaml", &c, NULL, &d), PS_OK, "%s", ps_diag_msg(&d));
	const struct cfg_target *t = cfg_target_at(c, 0);
	struct prom_vars v;
	prom_vars_from_target(t, &t->metrics[0], &v);
	cr_assert_str_eq(v.namespace, "shop");
	cr_assert_str_eq(v.name, "checkout-scaler");
	cr_assert_str_eq(v.target, "checkout");
	cr_assert_str_eq(v.kind, "StatefulSet");
	cr_assert_str_eq(v.metric, "queue");
	char *q = NULL;
	cr_assert_eq(prom_template_expand(t->metrics[0].query, &v, &q, &d), PS_OK);
	cr_assert_str_eq(q, "sum(queue_depth{namespace=\"shop\", app=\"checkout\"})");
	ps_free(q);
	prom_vars_from_target(t, NULL, &v);
	cr_assert_null(v.metric);
	cfg_unref(c);
}

Test(prom, fails_cleanly_when_any_allocation_fails_while_expanding)
{
	uint64_t n = 1;
	for (;; n++) {
		char *out = NULL;
		struct ps_diag d;
		ps_diag_clear(&d);
		ps_alloc_fail_at(n);
		enum ps_err err = prom_template_expand("x{a=\"{{.target}}\",b=\"{{.namespace}}\"}",
		                                       &test_vars, &out, &d);
		bool injected = ps_alloc_injected();
		ps_alloc_fail_at(0);
		if (!injected) {
			cr_assert_eq(err, PS_OK);
			cr_assert_str_eq(out, "x{a=\"checkout\",b=\"shop\"}");
			ps_free(out);
			break;
		}
		cr_assert_eq(err, PS_ENOMEM, "allocation %llu: %s", (unsigned long long)n,
		             ps_diag_msg(&d));
		cr_assert_str_eq(ps_diag_msg(&d), "out of memory expanding the query");
		cr_assert_null(out);
	}
	cr_assert_gt(n, 1);
}

/* ---- requests ---- */

/* A config for http://127.0.0.1:19090, the fixtures' server. */
static struct prom_endpoint *endpoint_for(const char *url, int64_t timeout_ms)
{
	struct prom_config c;
	prom_config_init(&c);
	c.url = ps_strdup(url);
	c.timeout_ms = timeout_ms;
	struct prom_endpoint *e = NULL;
	struct ps_diag d;
	cr_assert_eq(prom_endpoint_new(&c, &e, &d), PS_OK, "%s", ps_diag_msg(&d));
	cr_assert_null(c.url, "the endpoint took the config");
	return e;
}

static void build_ok(struct prom_endpoint *e, const struct prom_query *q, struct prom_request *r)
{
	struct ps_diag d;
	ps_diag_clear(&d);
	enum ps_err err = prom_endpoint_build(e, q, r, &d);
	cr_assert_eq(err, PS_OK, "%s: %s", ps_err_name(err), ps_diag_msg(&d));
}

Test(prom, encodes_get_requests_as_the_fixtures_were_sent)
{
	static const struct {
		const char *fixture, *promql;
		enum prom_query_kind kind;
		int64_t time_ms, start_ms, end_ms, step_ms;
	} cases[] = {
	    {"instant_vector_rate", "rate(http_requests_total[5m])", PROM_QUERY_INSTANT,
	     1795676820000LL, 0, 0, 0},
	    {"instant_vector_sum_by", "sum by (job) (rate(http_requests_total[5m]))",
	     PROM_QUERY_INSTANT, 1795676820000LL, 0, 0, 0},
	    {"instant_scalar_literal", "1.5", PROM_QUERY_INSTANT, 1700000000123LL, 0, 0, 0},
	    {"instant_string", "\"hello\"", PROM_QUERY_INSTANT, 1795676820000LL, 0, 0, 0},
	    {"err_422_duplicate_labelset",
	     "label_replace(http_requests_total, \"instance\", \"x\", \"\", \"\")",
	     PROM_QUERY_INSTANT, 1795676820000LL, 0, 0, 0},
	    {"err_422_many_to_many", "http_requests_total + on(job) http_requests_total",
	     PROM_QUERY_INSTANT, 1795676820000LL, 0, 0, 0},
	    {"range_matrix", "rate(http_requests_total{instance=\"a\"}[5m])", PROM_QUERY_RANGE, 0,
	     1795675620000LL, 1795675920000LL, 60000},
	};
	struct prom_endpoint *e = endpoint_for("http://127.0.0.1:19090", 0);
	for (size_t i = 0; i < PS_ARRAY_LEN(cases); i++) {
		struct fixture f;
		load_fixture(cases[i].fixture, &f);
		struct prom_query q = {.kind = cases[i].kind,
		                       .promql = cases[i].promql,
		                       .has_time = true,
		                       .time_ms = cases[i].time_ms,
		                       .start_ms = cases[i].start_ms,
		                       .end_ms = cases[i].end_ms,
		                       .step_ms = cases[i].step_ms};
		struct prom_request r;
		build_ok(e, &q, &r);
		char want[2048];
		snprintf(want, sizeof(want), "%s&timeout=4s500ms", f.request_url);
		cr_assert_str_eq(r.http.url, want, "%s", cases[i].fixture);
		cr_assert_str_eq(r.http.method, "GET");
		cr_assert_null(r.http.body);
		cr_assert_null(r.http.content_type);
		cr_assert_str_eq(r.source, f.source);
		cr_assert_eq(r.http.timeout_ms, 5000, "the default timeout");
		cr_assert_eq(r.http.max_body, PROM_DEFAULT_MAX_BODY);
		cr_assert_null(r.http.bearer_token);
		cr_assert_null(r.http.basic_user);
		cr_assert_null(r.http.tls, "plain http: no TLS settings");
		cr_assert_eq(r.http.n_headers, 1);
		cr_assert_str_eq(r.http.headers[0].name, "Accept");
		cr_assert_str_eq(r.http.headers[0].value, "application/json");
		prom_request_release(&r);
	}
	/* Without a time the server evaluates at its now. */
	struct prom_query q = {.promql = "up"};
	struct prom_request r;
	build_ok(e, &q, &r);
	cr_assert_str_eq(r.http.url,
	                 "http://127.0.0.1:19090/api/v1/query?query=up&timeout=4s500ms");
	prom_request_release(&r);
	prom_endpoint_free(e);
}

Test(prom, sends_long_queries_as_a_post_form)
{
	struct prom_endpoint *e = endpoint_for("http://127.0.0.1:19090/", 0);
	/* "query=" + 1978 bytes + "&timeout=4s500ms" is 2000 bytes: still a GET. */
	static char promql[4096];
	memset(promql, 'a', 1978);
	promql[1978] = '\0';
	struct prom_query q = {.promql = promql};
	struct prom_request r;
	build_ok(e, &q, &r);
	cr_assert_str_eq(r.http.method, "GET");
	cr_assert_eq(strlen(r.http.url), strlen("http://127.0.0.1:19090/api/v1/query?") + 2000);
	prom_request_release(&r);
	/* One byte more: a POST whose form has every parameter, and a URL without any. */
	promql[1978] = 'a';
	promql[1979] = '\0';
	build_ok(e, &q, &r);
	cr_assert_str_eq(r.http.method, "POST");
	cr_assert_str_eq(r.http.url, "http://127.0.0.1:19090/api/v1/query");
	cr_assert_str_eq(r.http.content_type, "application/x-www-form-urlencoded");
	cr_assert_eq(r.http.body_len, 2001);
	cr_assert_eq(strlen(r.http.body), 2001);
	cr_assert(strncmp(r.http.body, "query=aaaa", 10) == 0);
	cr_assert_str_eq(r.http.body + 2001 - 16, "&timeout=4s500ms");
	cr_assert_str_eq(r.source, "POST http://127.0.0.1:19090/api/v1/query");
	prom_request_release(&r);

	/* The form encoding of the fixture's POST (instant_post_form), repeated: 100 copies of
	 * "sum(rate(http_requests_total[5m])) or " make 3800 bytes, 4800 encoded. */
	struct fixture f;
	load_fixture("instant_post_form", &f);
	size_t len = 0;
	for (int i = 0; i < 100; i++)
		len += (size_t)snprintf(promql + len, sizeof(promql) - len, "%s",
		                        "sum(rate(http_requests_total[5m])) or ");
	snprintf(promql + len, sizeof(promql) - len, "vector(0)");
	q = (struct prom_query){.kind = PROM_QUERY_RANGE,
	                        .promql = promql,
	                        .start_ms = 1795675620000LL,
	                        .end_ms = 1795675800000LL,
	                        .step_ms = 60000,
	                        .timeout_ms = 30000};
	build_ok(e, &q, &r);
	cr_assert_str_eq(r.http.method, "POST");
	cr_assert_str_eq(r.http.url, "http://127.0.0.1:19090/api/v1/query_range");
	/* Each copy: the fixture's encoded query, then "+or+". */
	const char *enc = f.request_body + strlen("query=");
	size_t enc_len = strcspn(enc, "&");
	const char *p = r.http.body;
	cr_assert(strncmp(p, "query=", 6) == 0);
	p += 6;
	for (int i = 0; i < 100; i++) {
		cr_assert(strncmp(p, enc, enc_len) == 0, "copy %d", i);
		p += enc_len;
		cr_assert(strncmp(p, "+or+", 4) == 0, "copy %d", i);
		p += 4;
	}
	cr_assert_str_eq(p,
	                 "vector%280%29&start=1795675620&end=1795675800&step=60&timeout=29s500ms");
	cr_assert_eq(r.http.timeout_ms, 30000);
	prom_request_release(&r);
	prom_endpoint_free(e);
}

Test(prom, passes_the_timeout_to_curl_and_as_the_timeout_parameter)
{
	static const struct {
		int64_t config_ms, query_ms, server_ms;
		int64_t want_curl_ms;
		const char *want_param;
	} cases[] = {
	    {0, 0, 0, 5000, "4s500ms"},       /* the default, a tenth less for the server */
	    {2500, 0, 0, 2500, "2s250ms"},    /* the config's */
	    {2500, 800, 0, 800, "720ms"},     /* the query's */
	    {0, 60000, 0, 60000, "59s500ms"}, /* the margin stops at 500 ms */
	    {0, 10000, 1, 10000, "1ms"},      /* an explicit server timeout */
	    {0, 1, 0, 1, "1ms"},              /* never 0 */
	};
	for (size_t i = 0; i < PS_ARRAY_LEN(cases); i++) {
		struct prom_endpoint *e = endpoint_for("http://prom:9090", cases[i].config_ms);
		struct prom_query q = {.promql = "up",
		                       .timeout_ms = cases[i].query_ms,
		                       .server_timeout_ms = cases[i].server_ms};
		struct prom_request r;
		build_ok(e, &q, &r);
		cr_assert_eq(r.http.timeout_ms, cases[i].want_curl_ms, "case %zu", i);
		cr_assert_str_eq(r.server_timeout, cases[i].want_param, "case %zu", i);
		char want[128];
		snprintf(want, sizeof(want), "http://prom:9090/api/v1/query?query=up&timeout=%s",
		         cases[i].want_param);
		cr_assert_str_eq(r.http.url, want);
		prom_request_release(&r);
		prom_endpoint_free(e);
	}
}

Test(prom, keeps_extra_params_in_the_url_and_sends_configured_headers)
{
	struct prom_config c;
	prom_config_init(&c);
	c.url = ps_strdup("https://user:secret@thanos.example:10902/prefix//");
	c.insecure_skip_verify = true;
	cr_assert_eq(prom_config_add_param(&c, "tenant", "team a&b"), PS_OK);
	cr_assert_eq(prom_config_add_param(&c, "dedup", "true"), PS_OK);
	cr_assert_eq(prom_config_add_header(&c, "X-Scope-OrgID", "team-a"), PS_OK);
	cr_assert_eq(prom_config_add_header(&c, "accept", "application/json;q=1"), PS_OK);
	struct prom_endpoint *e = NULL;
	struct ps_diag d;
	cr_assert_eq(prom_endpoint_new(&c, &e, &d), PS_OK, "%s", ps_diag_msg(&d));
	struct prom_query q = {.promql = "up", .has_time = true, .time_ms = -1500};
	struct prom_request r;
	build_ok(e, &q, &r);
	cr_assert_str_eq(r.http.url, "https://user:secret@thanos.example:10902/prefix/api/v1/"
	                             "query?query=up&time=-1.5&timeout=4s500ms&tenant=team+a%26b"
	                             "&dedup=true");
	/* Messages never show the userinfo. */
	cr_assert_str_eq(r.source, "GET https://thanos.example:10902/prefix/api/v1/query");
	/* The configured Accept replaces ours. */
	cr_assert_eq(r.http.n_headers, 2);
	cr_assert_str_eq(r.http.headers[0].name, "X-Scope-OrgID");
	cr_assert_str_eq(r.http.headers[0].value, "team-a");
	cr_assert_str_eq(r.http.headers[1].name, "accept");
	cr_assert_not_null(r.http.tls);
	cr_assert(r.http.tls->insecure_skip_verify);
	cr_assert_null(r.http.tls->ca_pem);
	prom_request_release(&r);

	/* A POST keeps the extra parameters in its URL. */
	static char promql[3000];
	memset(promql, 'x', sizeof(promql) - 1);
	q.promql = promql;
	build_ok(e, &q, &r);
	cr_assert_str_eq(r.http.method, "POST");
	cr_assert_str_eq(r.http.url, "https://user:secret@thanos.example:10902/prefix/api/v1/"
	                             "query?tenant=team+a%26b&dedup=true");
	cr_assert_null(strstr(r.http.body, "tenant"));
	prom_request_release(&r);
	prom_endpoint_free(e);
}

/* A fresh directory for credential files. */
static void temp_dir(char dir[64])
{
	snprintf(dir, 64, "/tmp/prescale-test-prom-XXXXXX");
	cr_assert_not_null(mkdtemp(dir));
}

static void write_file(const char *path, const char *content)
{
	FILE *f = fopen(path, "w");
	cr_assert_not_null(f, "%s", path);
	cr_assert_eq(fputs(content, f) >= 0, true);
	cr_assert_eq(fclose(f), 0);
}

/* Sets the mtime of <path> to <sec> (a rewrite within one clock tick keeps its mtime). */
static void set_mtime(const char *path, time_t sec)
{
	struct timespec ts[2] = {{sec, 0}, {sec, 0}};
	cr_assert_eq(utimensat(AT_FDCWD, path, ts, 0), 0);
}

static const char *bearer_after_build(struct prom_endpoint *e)
{
	struct prom_query q = {.promql = "up"};
	struct prom_request r;
	build_ok(e, &q, &r);
	static char token[256];
	cr_assert_not_null(r.http.bearer_token);
	snprintf(token, sizeof(token), "%s", r.http.bearer_token);
	cr_assert_null(r.http.basic_user);
	prom_request_release(&r);
	return token;
}

Test(prom, rereads_the_bearer_token_file_when_it_changes)
{
	char dir[64], path[128], path2[128];
	temp_dir(dir);
	snprintf(path, sizeof(path), "%s/token", dir);
	snprintf(path2, sizeof(path2), "%s/token.new", dir);
	write_file(path, "  token-one\n");
	set_mtime(path, 1000000000);
	struct prom_config c;
	prom_config_init(&c);
	c.url = ps_strdup("http://prom:9090");
	c.bearer_token_file = ps_strdup(path);
	struct prom_endpoint *e = NULL;
	struct ps_diag d;
	cr_assert_eq(prom_endpoint_new(&c, &e, &d), PS_OK, "%s", ps_diag_msg(&d));
	cr_assert_str_eq(bearer_after_build(e), "token-one", "trimmed like Prometheus does");
	cr_assert_str_eq(bearer_after_build(e), "token-one");
	/* Rewritten with another size. */
	write_file(path, "token-number-two");
	set_mtime(path, 1000000000);
	cr_assert_str_eq(bearer_after_build(e), "token-number-two");
	/* Same size, same inode, and the mtime set back to the same second: only the ctime
	 * tells. It moves with the kernel's coarse clock, hence the pause. */
	nanosleep(&(struct timespec){0, 20 * 1000 * 1000}, NULL);
	write_file(path, "token-number-333");
	set_mtime(path, 1000000000);
	cr_assert_str_eq(bearer_after_build(e), "token-number-333");
	/* Swapped by rename, as a Kubernetes secret volume does: a new inode. */
	write_file(path2, "token-number-444");
	cr_assert_eq(rename(path2, path), 0);
	cr_assert_str_eq(bearer_after_build(e), "token-number-444");
	/* Gone: the request fails naming the file; back: it works again. */
	cr_assert_eq(unlink(path), 0);
	struct prom_query q = {.promql = "up"};
	struct prom_request r;
	ps_diag_clear(&d);
	cr_assert_eq(prom_endpoint_build(e, &q, &r, &d), PS_ENOENT);
	char want[256];
	snprintf(want, sizeof(want), "prometheus: bearer token file %s: No such file or directory",
	         path);
	cr_assert_str_eq(ps_diag_msg(&d), want);
	cr_assert_null(r.url);
	write_file(path, "token-five\n\n");
	cr_assert_str_eq(bearer_after_build(e), "token-five");
	prom_endpoint_free(e);
	unlink(path);
	rmdir(dir);
}

Test(prom, refuses_an_empty_or_multi_line_token_without_quoting_it)
{
	char dir[64], path[128];
	temp_dir(dir);
	snprintf(path, sizeof(path), "%s/token", dir);
	struct prom_config c;
	prom_config_init(&c);
	c.url = ps_strdup("http://prom:9090");
	c.bearer_token_file = ps_strdup(path);
	struct prom_endpoint *e = NULL;
	struct ps_diag d;
	cr_assert_eq(prom_endpoint_new(&c, &e, &d), PS_OK);
	struct prom_query q = {.promql = "up"};
	struct prom_request r;
	char want[256];
	write_file(path, " \n");
	cr_assert_eq(prom_endpoint_build(e, &q, &r, &d), PS_EPARSE);
	snprintf(want, sizeof(want), "prometheus: bearer token file %s is empty", path);
	cr_assert_str_eq(ps_diag_msg(&d), want);
	write_file(path, "secret-part-1\nsecret-part-2\n");
	cr_assert_eq(prom_endpoint_build(e, &q, &r, &d), PS_EPARSE);
	snprintf(want, sizeof(want),
	         "prometheus: bearer token file %s holds a control character (a line break "
	         "inside?)",
	         path);
	cr_assert_str_eq(ps_diag_msg(&d), want);
	cr_assert_null(strstr(ps_diag_msg(&d), "secret-part"));
	prom_endpoint_free(e);
	unlink(path);
	rmdir(dir);
}

Test(prom, rereads_the_basic_auth_password_file_when_it_changes)
{
	char dir[64], path[128];
	temp_dir(dir);
	snprintf(path, sizeof(path), "%s/password", dir);
	write_file(path, "pass word one\n");
	struct prom_config c;
	prom_config_init(&c);
	c.url = ps_strdup("http://prom:9090");
	c.basic_username = ps_strdup("prescale");
	c.basic_password_file = ps_strdup(path);
	struct prom_endpoint *e = NULL;
	struct ps_diag d;
	cr_assert_eq(prom_endpoint_new(&c, &e, &d), PS_OK, "%s", ps_diag_msg(&d));
	struct prom_query q = {.promql = "up"};
	struct prom_request r;
	build_ok(e, &q, &r);
	cr_assert_str_eq(r.http.basic_user, "prescale");
	cr_assert_str_eq(r.http.basic_password, "pass word one");
	cr_assert_null(r.http.bearer_token);
	prom_request_release(&r);
	write_file(path, "second");
	build_ok(e, &q, &r);
	cr_assert_str_eq(r.http.basic_password, "second");
	prom_request_release(&r);
	prom_endpoint_free(e);
	unlink(path);
	rmdir(dir);
}

Test(prom, loads_tls_files_into_the_request_and_rereads_them)
{
	char dir[64], ca[128], cert[128], key[128];
	temp_dir(dir);
	snprintf(ca, sizeof(ca), "%s/ca.pem", dir);
	snprintf(cert, sizeof(cert), "%s/client.pem", dir);
	snprintf(key, sizeof(key), "%s/client-key.pem", dir);
	write_file(ca, "-----BEGIN CERTIFICATE-----\nCA\n-----END CERTIFICATE-----\n");
	write_file(cert, "-----BEGIN CERTIFICATE-----\nCLIENT\n-----END CERTIFICATE-----\n");
	write_file(key, "-----BEGIN PRIVATE KEY-----\nKEY\n-----END PRIVATE KEY-----\n");
	struct prom_config c;
	prom_config_init(&c);
	c.url = ps_strdup("https://prom:9090");
	c.ca_file = ps_strdup(ca);
	c.cert_file = ps_strdup(cert);
	c.key_file = ps_strdup(key);
	struct prom_endpoint *e = NULL;
	struct ps_diag d;
	cr_assert_eq(prom_endpoint_new(&c, &e, &d), PS_OK, "%s", ps_diag_msg(&d));
	struct prom_query q = {.promql = "up"};
	struct prom_request r;
	build_ok(e, &q, &r);
	const struct http_tls *t = r.http.tls;
	cr_assert_not_null(t);
	cr_assert_eq(t->ca_len, strlen(t->ca_pem));
	cr_assert_str_eq(t->ca_pem, "-----BEGIN CERTIFICATE-----\nCA\n-----END CERTIFICATE-----\n");
	cr_assert_str_eq(t->cert_pem,
	                 "-----BEGIN CERTIFICATE-----\nCLIENT\n-----END CERTIFICATE-----\n");
	cr_assert_str_eq(t->key_pem,
	                 "-----BEGIN PRIVATE KEY-----\nKEY\n-----END PRIVATE KEY-----\n");
	cr_assert_eq(t->key_len, strlen(t->key_pem));
	cr_assert_not(t->insecure_skip_verify);
	prom_request_release(&r);
	/* A renewed certificate (cert-manager rewrites both) is picked up. */
	write_file(cert, "-----BEGIN CERTIFICATE-----\nRENEWED\n-----END CERTIFICATE-----\n");
	build_ok(e, &q, &r);
	cr_assert_str_eq(r.http.tls->cert_pem,
	                 "-----BEGIN CERTIFICATE-----\nRENEWED\n-----END CERTIFICATE-----\n");
	prom_request_release(&r);
	prom_endpoint_free(e);
	unlink(ca);
	unlink(cert);
	unlink(key);
	rmdir(dir);
}

Test(prom, copies_the_prometheus_section_of_a_config)
{
	struct cfg *cf = NULL;
	struct ps_diag d;
	cr_assert_eq(cfg_load(DATA "config.yaml", &cf, NULL, &d), PS_OK, "%s", ps_diag_msg(&d));
	struct prom_config c;
	cr_assert_eq(prom_config_from_cfg(&cfg_controller(cf)->prometheus, &c, &d), PS_OK);
	cfg_unref(cf); /* the copy owns its strings */
	cr_assert_str_eq(c.url, "https://thanos.monitoring:10902/tenant-a/");
	cr_assert_eq(c.timeout_ms, 2500);
	cr_assert_null(c.bearer_token_file);
	cr_assert_str_eq(c.basic_username, "prescale");
	cr_assert_str_eq(c.basic_password_file, "/etc/prescale/prom-password");
	cr_assert_str_eq(c.ca_file, "/etc/prescale/ca.pem");
	cr_assert_str_eq(c.cert_file, "/etc/prescale/client.pem");
	cr_assert_str_eq(c.key_file, "/etc/prescale/client-key.pem");
	cr_assert(c.insecure_skip_verify);
	cr_assert_eq(c.n_headers, 2);
	cr_assert_str_eq(c.headers[0].name, "X-Scope-OrgID");
	cr_assert_str_eq(c.headers[0].value, "tenant-a");
	cr_assert_str_eq(c.headers[1].name, "X-Extra");
	cr_assert_str_eq(c.headers[1].value, "two words");
	cr_assert_eq(c.n_params, 1);
	cr_assert_str_eq(c.params[0].name, "dedup");
	cr_assert_str_eq(c.params[0].value, "false");
	struct prom_endpoint *e = NULL;
	cr_assert_eq(prom_endpoint_new(&c, &e, &d), PS_OK, "%s", ps_diag_msg(&d));
	/* The files do not exist: the first request says which one. */
	struct prom_query q = {.promql = "up"};
	struct prom_request r;
	cr_assert_eq(prom_endpoint_build(e, &q, &r, &d), PS_ENOENT);
	cr_assert_str_eq(ps_diag_msg(&d), "prometheus: basic auth password file "
	                                  "/etc/prescale/prom-password: No such file or directory");
	prom_endpoint_free(e);

	uint64_t n = 1;
	for (;; n++) {
		cr_assert_eq(cfg_load(DATA "config.yaml", &cf, NULL, &d), PS_OK);
		ps_alloc_fail_at(n);
		enum ps_err err = prom_config_from_cfg(&cfg_controller(cf)->prometheus, &c, &d);
		bool injected = ps_alloc_injected();
		ps_alloc_fail_at(0);
		cfg_unref(cf);
		if (!injected) {
			cr_assert_eq(err, PS_OK);
			prom_config_release(&c);
			break;
		}
		cr_assert_eq(err, PS_ENOMEM);
		cr_assert_null(c.url);
		cr_assert_null(c.headers);
	}
	cr_assert_gt(n, 10);
}

Test(prom, refuses_bad_configurations)
{
	static const struct {
		const char *url, *user, *password_file, *token_file, *ca, *cert, *key;
		const char *header, *header_value;
		const char *msg;
	} cases[] = {
	    {NULL, .msg = "prometheus: no url"},
	    {"ftp://prom", .msg = "prometheus: url must be http://host[:port][/prefix] or "
	                          "https://..."},
	    {"http:///api", .msg = "prometheus: url must be http://host[:port][/prefix] or "
	                           "https://..."},
	    {"http://prom:9090/?tenant=a",
	     .msg = "prometheus: url must not have a query string or fragment; put query "
	            "parameters in params"},
	    {"http://prom 9090", .msg = "prometheus: url holds white space or a control character"},
	    {"http://prom", "u",
	     .msg = "prometheus: basicAuth needs both username and "
	            "passwordFile"},
	    {"http://prom", "u", "/p", "/t",
	     .msg = "prometheus: bearerTokenFile cannot be combined with basicAuth"},
	    {"https://prom", .cert = "/c",
	     .msg = "prometheus: tls certFile and keyFile go together"},
	    {"http://prom", .ca = "/ca", .msg = "prometheus: tls files need an https:// url"},
	    {"http://prom", .header = "X Tenant", .header_value = "a",
	     .msg = "prometheus: headers[0]: invalid header name"},
	    {"http://prom", .header = "X-Tenant", .header_value = "a\r\nX-Evil: 1",
	     .msg = "prometheus: header X-Tenant: the value holds a line break or control "
	            "character"},
	};
	for (size_t i = 0; i < PS_ARRAY_LEN(cases); i++) {
		struct prom_config c;
		prom_config_init(&c);
		c.url = cases[i].url ? ps_strdup(cases[i].url) : NULL;
		c.basic_username = cases[i].user ? ps_strdup(cases[i].user) : NULL;
		c.basic_password_file =
		    cases[i].password_file ? ps_strdup(cases[i].password_file) : NULL;
		c.bearer_token_file = cases[i].token_file ? ps_strdup(cases[i].token_file) : NULL;
		c.ca_file = cases[i].ca ? ps_strdup(cases[i].ca) : NULL;
		c.cert_file = cases[i].cert ? ps_strdup(cases[i].cert) : NULL;
		c.key_file = cases[i].key ? ps_strdup(cases[i].key) : NULL;
		if (cases[i].header)
			cr_assert_eq(
			    prom_config_add_header(&c, cases[i].header, cases[i].header_value),
			    PS_OK);
		struct prom_endpoint *e = (void *)&c; /* must be reset to NULL */
		struct ps_diag d;
		cr_assert_eq(prom_endpoint_new(&c, &e, &d), PS_ECONFIG, "case %zu", i);
		cr_assert_null(e);
		cr_assert_str_eq(ps_diag_msg(&d), cases[i].msg, "case %zu: %s", i, ps_diag_msg(&d));
		cr_assert_null(c.url, "the config is taken even on failure");
	}
}

Test(prom, refuses_bad_queries_before_sending_them)
{
	static const struct {
		struct prom_query q;
		const char *msg;
	} cases[] = {
	    {{.promql = ""}, "prometheus: empty query"},
	    {{.promql = NULL}, "prometheus: empty query"},
	    {{.promql = "up", .timeout_ms = -1}, "prometheus: negative timeout"},
	    {{.kind = PROM_QUERY_RANGE, .promql = "up", .start_ms = 0, .end_ms = 60000},
	     "prometheus: range step must be > 0"},
	    {{.kind = PROM_QUERY_RANGE,
	      .promql = "up",
	      .start_ms = 1795675080000LL,
	      .end_ms = 1795675020000LL,
	      .step_ms = 15000},
	     "prometheus: range end 1795675020 is before its start 1795675080"},
	    /* The fixture err_400_too_many_points: 20001 points at a 1 s step. */
	    {{.kind = PROM_QUERY_RANGE,
	      .promql = "up",
	      .start_ms = 1795675020000LL,
	      .end_ms = 1795695020000LL,
	      .step_ms = 1000},
	     "prometheus: range of 20001 points per series; Prometheus allows 11000: use a larger "
	     "step"},
	};
	struct prom_endpoint *e = endpoint_for("http://prom:9090", 0);
	for (size_t i = 0; i < PS_ARRAY_LEN(cases); i++) {
		struct prom_request r;
		struct ps_diag d;
		cr_assert_eq(prom_endpoint_build(e, &cases[i].q, &r, &d), PS_EINVAL, "case %zu", i);
		cr_assert_str_eq(ps_diag_msg(&d), cases[i].msg, "case %zu: %s", i, ps_diag_msg(&d));
		cr_assert_null(r.url);
	}
	/* Exactly 11000 points is allowed. */
	struct prom_query q = {.kind = PROM_QUERY_RANGE,
	                       .promql = "up",
	                       .start_ms = 0,
	                       .end_ms = 10999000,
	                       .step_ms = 1000};
	struct prom_request r;
	build_ok(e, &q, &r);
	prom_request_release(&r);
	prom_endpoint_free(e);
}

Test(prom, fails_cleanly_when_any_allocation_fails_while_building)
{
	char dir[64], path[128];
	temp_dir(dir);
	snprintf(path, sizeof(path), "%s/token", dir);
	write_file(path, "abc\n");
	static char promql[2600];
	memset(promql, 'q', sizeof(promql) - 1);
	for (int post = 0; post < 2; post++) {
		uint64_t n = 1;
		for (;; n++) {
			struct prom_config c;
			prom_config_init(&c);
			c.url = ps_strdup("http://prom:9090");
			c.bearer_token_file = ps_strdup(path);
			cr_assert_eq(prom_config_add_param(&c, "tenant", "a"), PS_OK);
			cr_assert_eq(prom_config_add_header(&c, "X-Scope-OrgID", "a"), PS_OK);
			struct prom_endpoint *e = NULL;
			struct prom_request r = {0};
			struct ps_diag d;
			ps_diag_clear(&d);
			struct prom_query q = {.promql = post ? promql : "up"};
			ps_alloc_fail_at(n);
			enum ps_err err = prom_endpoint_new(&c, &e, &d);
			if (!err)
				err = prom_endpoint_build(e, &q, &r, &d);
			bool injected = ps_alloc_injected();
			ps_alloc_fail_at(0);
			if (!injected) {
				cr_assert_eq(err, PS_OK, "%s", ps_diag_msg(&d));
				cr_assert_str_eq(r.http.method, post ? "POST" : "GET");
				cr_assert_str_eq(r.http.bearer_token, "abc");
				prom_request_release(&r);
				prom_endpoint_free(e);
				break;
			}
			cr_assert_eq(err, PS_ENOMEM, "allocation %llu: %s", (unsigned long long)n,
			             ps_diag_msg(&d));
			cr_assert(strstr(ps_diag_msg(&d), "out of memory"), "%s", ps_diag_msg(&d));
			cr_assert_null(r.url);
			prom_endpoint_free(e);
		}
		cr_assert_gt(n, 4);
	}
	unlink(path);
	rmdir(dir);
}
