/* test_sim_report.c -- the reports of `prescale simulate`: the table, JSON, steps.csv and the
 * SVG chart, written from a struct sim_result filled by hand.
 * The fixture is a six-tick run (interval 15 s, startup 30 s = two ticks, lag one tick, target
 * 100, capacity 125, scored from tick 2) whose figures were worked out by hand: replica-seconds
 * 105/135/150, under-provisioned 2/4, 2/4, 0/4 ticks, unserved 300/870, 175/870, 0. Expected
 * texts are written out in full; the shortest round-trip forms of the reals are Python's repr()
 * of the same doubles. */
#include <cjson/cJSON.h>
#include <criterion/criterion.h>
#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ps_alloc.h"
#include "sim.h"

typedef enum ps_err (*writer_fn)(const struct sim_result *r, FILE *out);

static const writer_fn writers[] = {sim_write_table, sim_write_json, sim_write_steps_csv,
                                    sim_write_svg};

/* ---- fixture ---- */

/* Unix time of 2023-11-14T22:13:20Z. */
#define UNIX_T0 ((int64_t)1700000000000LL)

struct fixture {
	struct sim_result r;
	struct sim_step steps[6];
};

static void set_step(struct sim_step *st, int64_t t_ms, double demand, double observed,
                     double forecast, const int32_t desired[3], const int32_t ready[3])
{
	st->t_ms = t_ms;
	st->demand = demand;
	st->observed = observed;
	st->forecast = forecast;
	for (int p = 0; p < SIM_NPOLICIES; p++) {
		st->desired[p] = desired[p];
		st->ready[p] = ready[p];
	}
}

/* Fills <f> with the hand-worked six-tick run, its clock starting at <t0>. */
static void fixture_init(struct fixture *f, int64_t t0)
{
	memset(f, 0, sizeof(*f));
	struct sim_result *r = &f->r;
	/*                                 desired R P O      ready R P O */
	set_step(&f->steps[0], t0 + 0, 100, 100, NAN, (int32_t[]){1, 1, 1}, (int32_t[]){1, 1, 1});
	set_step(&f->steps[1], t0 + 15000, 150, 100, NAN, (int32_t[]){1, 2, 2},
	         (int32_t[]){1, 1, 2});
	set_step(&f->steps[2], t0 + 30000, 250, 150, 260.5, (int32_t[]){2, 3, 3},
	         (int32_t[]){1, 1, 3});
	set_step(&f->steps[3], t0 + 45000, 300, 250, 320, (int32_t[]){3, 3, 3},
	         (int32_t[]){1, 2, 3});
	set_step(&f->steps[4], t0 + 60000, 200, 300, 210, (int32_t[]){3, 3, 2},
	         (int32_t[]){2, 3, 2});
	set_step(&f->steps[5], t0 + 75000, 120, 200, 125.25, (int32_t[]){3, 3, 2},
	         (int32_t[]){3, 3, 2});
	r->steps = f->steps;
	r->n_steps = 6;
	r->score_from_step = 2;
	r->params = (struct sim_params){
	    .startup_ms = 30000,
	    .lag_ms = 15000,
	    .target = 100,
	    .capacity = 125,
	    .interval_ms = 15000,
	    .score_from_ms = t0 + 30000,
	    .policies = {true, true, true},
	};
	snprintf(r->source, sizeof(r->source), "trace.csv");
	snprintf(r->target_name, sizeof(r->target_name), "web");
	snprintf(r->forecast_model, sizeof(r->forecast_model), "holt-winters");
	r->score[SIM_REACTIVE] =
	    (struct sim_score){true, 105, 105.0 / 150.0, 0.5, 300.0 / 870.0, 2, 3};
	r->score[SIM_PREDICTIVE] =
	    (struct sim_score){true, 135, 135.0 / 150.0, 0.5, 175.0 / 870.0, 1, 3};
	r->score[SIM_ORACLE] = (struct sim_score){true, 150, 1.0, 0, 0, 2, 3};
	r->forecast = (struct sim_forecast_score){true, 12.345, 0.6149, 4};
}

/* Leaves out the oracle (and with it every cost ratio) and the forecast score. */
static void fixture_without_oracle(struct fixture *f)
{
	f->r.score[SIM_ORACLE] = (struct sim_score){0};
	f->r.params.policies[SIM_ORACLE] = false;
	f->r.score[SIM_REACTIVE].cost_ratio = NAN;
	f->r.score[SIM_PREDICTIVE].cost_ratio = NAN;
	f->r.forecast = (struct sim_forecast_score){0};
}

/* A run of <n> ticks, 15 s apart from 0, all policies enabled: demand 100 with one tick at
 * 1000 (tick <spike>), one ready replica everywhere except 7 ready for reactive at tick
 * <ready_spike>. Free with ps_free(r->steps). */
static void spike_run(struct sim_result *r, size_t n, size_t spike, size_t ready_spike)
{
	memset(r, 0, sizeof(*r));
	r->steps = ps_calloc(n, sizeof(*r->steps));
	cr_assert_not_null(r->steps);
	r->n_steps = n;
	for (size_t i = 0; i < n; i++) {
		struct sim_step *st = &r->steps[i];
		st->t_ms = (int64_t)i * 15000;
		st->demand = i == spike ? 1000 : 100;
		st->observed = st->demand;
		st->forecast = NAN;
		for (int p = 0; p < SIM_NPOLICIES; p++)
			st->desired[p] = st->ready[p] = 1;
		if (i == ready_spike)
			st->desired[SIM_REACTIVE] = st->ready[SIM_REACTIVE] = 7;
	}
	r->params = (struct sim_params){.startup_ms = 60000,
	                                .lag_ms = 30000,
	                                .target = 100,
	                                .capacity = 125,
	                                .interval_ms = 15000,
	                                .policies = {true, true, true}};
	snprintf(r->source, sizeof(r->source), "spike");
	snprintf(r->target_name, sizeof(r->target_name), "web");
	for (int p = 0; p < SIM_NPOLICIES; p++)
		r->score[p].enabled = true;
}

/* ---- capture ---- */

struct text {
	char *data;
	size_t len;
};

/* Runs <fn> on <r> into memory; asserts success. Free with free(t->data). */
static struct text write_to_memory(writer_fn fn, const struct sim_result *r)
{
	struct text t = {NULL, 0};
	FILE *f = open_memstream(&t.data, &t.len);
	cr_assert_not_null(f);
	enum ps_err e = fn(r, f);
	cr_assert_eq(fclose(f), 0);
	cr_assert_eq(e, PS_OK, "writer failed: %s", ps_err_name(e));
	return t;
}

static size_t count(const char *hay, const char *needle)
{
	size_t n = 0;
	for (const char *p = strstr(hay, needle); p; p = strstr(p + 1, needle))
		n++;
	return n;
}

/* ---- a small XML check, so that the test needs no xmllint ---- */

/* NULL when <s> is one <svg> element with balanced tags, quoted attributes and only the five
 * predefined entities or character references; else what is wrong. */
static const char *xml_problem(const char *s)
{
	static char msg[128];
	char stack[32][32];
	size_t depth = 0;
	bool root_seen = false;
	if (strncmp(s, "<svg", 4) != 0)
		return "does not start with <svg";
	for (const char *p = s; *p;) {
		if (*p == '&') {
			static const char *const ok[] = {"&amp;",  "&lt;",   "&gt;",
			                                 "&quot;", "&apos;", "&#"};
			bool good = false;
			for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++)
				good = good || strncmp(p, ok[i], strlen(ok[i])) == 0;
			if (!good)
				return "bare &";
			p++;
			continue;
		}
		if (*p != '<') {
			if (*p == '>')
				return "bare >";
			if (depth == 0 && *p != '\n')
				return "text outside the root";
			p++;
			continue;
		}
		const char *end = p + 1;
		bool in_quote = false;
		for (; *end && (in_quote || *end != '>'); end++) {
			if (*end == '"')
				in_quote = !in_quote;
			if (in_quote && *end == '<')
				return "< inside an attribute";
		}
		if (!*end)
			return "unterminated tag";
		bool closing = p[1] == '/';
		bool empty = end[-1] == '/';
		const char *name = p + (closing ? 2 : 1);
		size_t nlen = strcspn(name, " \t\n/>");
		if (nlen == 0 || nlen >= sizeof(stack[0]))
			return "bad tag name";
		if (closing) {
			if (depth == 0 || strlen(stack[depth - 1]) != nlen ||
			    strncmp(stack[depth - 1], name, nlen) != 0) {
				snprintf(msg, sizeof(msg), "mismatched </%.*s>", (int)nlen, name);
				return msg;
			}
			depth--;
		} else if (!empty) {
			if (depth == 0 && root_seen)
				return "second root element";
			if (depth == sizeof(stack) / sizeof(stack[0]))
				return "too deep";
			memcpy(stack[depth], name, nlen);
			stack[depth][nlen] = '\0';
			depth++;
			root_seen = true;
		} else if (depth == 0) {
			return "empty element outside the root";
		}
		p = end + 1;
	}
	return depth == 0 && root_seen ? NULL : "unclosed element";
}

/* The points of the path with id <id> in <svg>: how many, and the least and greatest y. */
struct path_stats {
	size_t n;
	double ymin, ymax;
};

static struct path_stats path_points(const char *svg, const char *id)
{
	char key[64];
	snprintf(key, sizeof(key), "<path id=\"%s\"", id);
	const char *p = strstr(svg, key);
	cr_assert_not_null(p, "no path %s", id);
	p = strstr(p, " d=\"");
	cr_assert_not_null(p);
	p += 4;
	struct path_stats st = {0, INFINITY, -INFINITY};
	while (*p && *p != '"') {
		if (*p == 'M' || *p == 'L') {
			char *e;
			(void)strtod(p + 1, &e);
			cr_assert_neq(e, p + 1, "no x after %c", *p);
			double y = strtod(e, &e);
			st.ymin = fmin(st.ymin, y);
			st.ymax = fmax(st.ymax, y);
			st.n++;
			p = e;
		} else {
			cr_assert(*p == '\n', "unexpected byte '%c' in path data", *p);
			p++;
		}
	}
	return st;
}

/* ---- argument and stream errors ---- */

Test(sim_report, every_writer_refuses_a_null_result_or_an_empty_run)
{
	struct fixture f;
	fixture_init(&f, 0);
	FILE *out = fopen("/dev/null", "w");
	cr_assert_not_null(out);
	for (size_t i = 0; i < sizeof(writers) / sizeof(writers[0]); i++) {
		cr_expect_eq(writers[i](NULL, out), PS_EINVAL);
		cr_expect_eq(writers[i](&f.r, NULL), PS_EINVAL);
		struct sim_result empty = f.r;
		empty.n_steps = 0;
		cr_expect_eq(writers[i](&empty, out), PS_EINVAL);
		empty.n_steps = 6;
		empty.steps = NULL;
		cr_expect_eq(writers[i](&empty, out), PS_EINVAL);
	}
	fclose(out);
}

Test(sim_report, every_writer_reports_a_full_device_as_an_io_error)
{
	struct fixture f;
	fixture_init(&f, 0);
	for (size_t i = 0; i < sizeof(writers) / sizeof(writers[0]); i++) {
		FILE *out = fopen("/dev/full", "w");
		cr_assert_not_null(out);
		cr_expect_eq(writers[i](&f.r, out), PS_EIO, "writer %zu", i);
		(void)fclose(out);
	}
}

Test(sim_report, a_long_csv_stops_at_the_first_failed_write)
{
	struct sim_result r;
	spike_run(&r, 100000, 1, 2);
	FILE *out = fopen("/dev/full", "w");
	cr_assert_not_null(out);
	cr_expect_eq(sim_write_steps_csv(&r, out), PS_EIO);
	(void)fclose(out);
	ps_free(r.steps);
}

Test(sim_report, every_writer_reports_a_stream_open_for_reading_as_an_io_error)
{
	struct fixture f;
	fixture_init(&f, 0);
	for (size_t i = 0; i < sizeof(writers) / sizeof(writers[0]); i++) {
		FILE *out = fopen("/dev/null", "r");
		cr_assert_not_null(out);
		cr_expect_eq(writers[i](&f.r, out), PS_EIO, "writer %zu", i);
		(void)fclose(out);
	}
}

/* ---- table ---- */

Test(sim_report, the_table_shows_one_aligned_row_per_policy_and_the_forecast_error)
{
	struct fixture f;
	fixture_init(&f, 0);
	struct text t = write_to_memory(sim_write_table, &f.r);
	cr_assert_str_eq(
	    t.data,
	    "prescale simulate: trace.csv, target web, 6 ticks every 15s, scored from +30s (4 "
	    "ticks)\n"
	    "startup 30s, lag 15s, target 100, capacity 125\n"
	    "POLICY      REPLICA-SECONDS  VS ORACLE  UNDER-PROVISIONED  UNSERVED  ACTIONS  PEAK\n"
	    "reactive    105              0.70x      50.0%              34.48%    2        3\n"
	    "predictive  135              0.90x      50.0%              20.11%    1        3\n"
	    "oracle      150              1.00x      0.0%               0.00%     2        3\n"
	    "forecast (predictive, holt-winters): sMAPE 12.3%, MASE 0.61 against seasonal-naive, "
	    "4 forecasts\n");
	free(t.data);
}

Test(sim_report, the_table_without_an_oracle_shows_no_cost_ratio_and_no_forecast_line)
{
	struct fixture f;
	fixture_init(&f, 0);
	fixture_without_oracle(&f);
	struct text t = write_to_memory(sim_write_table, &f.r);
	cr_assert_str_eq(
	    t.data,
	    "prescale simulate: trace.csv, target web, 6 ticks every 15s, scored from +30s (4 "
	    "ticks)\n"
	    "startup 30s, lag 15s, target 100, capacity 125\n"
	    "POLICY      REPLICA-SECONDS  VS ORACLE  UNDER-PROVISIONED  UNSERVED  ACTIONS  PEAK\n"
	    "reactive    105              -          50.0%              34.48%    2        3\n"
	    "predictive  135              -          50.0%              20.11%    1        3\n");
	free(t.data);
}

Test(sim_report, the_table_widens_a_column_for_a_long_figure)
{
	struct fixture f;
	fixture_init(&f, 0);
	f.r.score[SIM_PREDICTIVE].enabled = false;
	f.r.score[SIM_ORACLE].enabled = false;
	f.r.score[SIM_REACTIVE].replica_seconds = 12345678901234567.0;
	f.r.score[SIM_REACTIVE].peak = 2147483647;
	f.r.forecast.valid = false;
	struct text t = write_to_memory(sim_write_table, &f.r);
	cr_assert_not_null(
	    strstr(t.data,
	           "POLICY    REPLICA-SECONDS    VS ORACLE  UNDER-PROVISIONED  UNSERVED  ACTIONS  "
	           "PEAK\n"
	           "reactive  12345678901234568  -          50.0%              34.48%    2        "
	           "2147483647\n"),
	    "%s", t.data);
	free(t.data);
}

Test(sim_report, the_table_gives_unix_times_in_rfc3339_and_odd_parameters_readably)
{
	struct fixture f;
	fixture_init(&f, UNIX_T0);
	f.r.params.target = 0.5;
	f.r.params.capacity = 0.5 / 0.8;
	f.r.params.startup_ms = 90000;
	struct text t = write_to_memory(sim_write_table, &f.r);
	cr_assert_not_null(strstr(t.data, "scored from 2023-11-14T22:13:50Z (4 ticks)\n"), "%s",
	                   t.data);
	cr_assert_not_null(strstr(t.data, "\nstartup 1m30s, lag 15s, target 0.5, capacity 0.625\n"),
	                   "%s", t.data);
	free(t.data);
}

Test(sim_report, the_table_masks_control_characters_in_names)
{
	struct fixture f;
	fixture_init(&f, 0);
	snprintf(f.r.source, sizeof(f.r.source), "a\033[2Jb\n");
	struct text t = write_to_memory(sim_write_table, &f.r);
	cr_assert(strncmp(t.data, "prescale simulate: a?[2Jb?, target web,", 39) == 0, "%s",
	          t.data);
	free(t.data);
}

/* ---- JSON ---- */

Test(sim_report, the_json_summary_has_exactly_the_table_figures_in_a_stable_order)
{
	struct fixture f;
	fixture_init(&f, 0);
	struct text t = write_to_memory(sim_write_json, &f.r);
	cr_assert_str_eq(t.data, "{\n"
	                         "  \"source\": \"trace.csv\",\n"
	                         "  \"target\": \"web\",\n"
	                         "  \"ticks\": 6,\n"
	                         "  \"intervalSeconds\": 15,\n"
	                         "  \"scoreFrom\": 30000,\n"
	                         "  \"scoredTicks\": 4,\n"
	                         "  \"params\": {\n"
	                         "    \"startupSeconds\": 30,\n"
	                         "    \"lagSeconds\": 15,\n"
	                         "    \"target\": 100,\n"
	                         "    \"capacity\": 125\n"
	                         "  },\n"
	                         "  \"policies\": {\n"
	                         "    \"reactive\": {\n"
	                         "      \"replicaSeconds\": 105,\n"
	                         "      \"costVsOracle\": 0.7,\n"
	                         "      \"underProvisionedShare\": 0.5,\n"
	                         "      \"unservedShare\": 0.3448275862068966,\n"
	                         "      \"actions\": 2,\n"
	                         "      \"peakReplicas\": 3\n"
	                         "    },\n"
	                         "    \"predictive\": {\n"
	                         "      \"replicaSeconds\": 135,\n"
	                         "      \"costVsOracle\": 0.9,\n"
	                         "      \"underProvisionedShare\": 0.5,\n"
	                         "      \"unservedShare\": 0.20114942528735633,\n"
	                         "      \"actions\": 1,\n"
	                         "      \"peakReplicas\": 3\n"
	                         "    },\n"
	                         "    \"oracle\": {\n"
	                         "      \"replicaSeconds\": 150,\n"
	                         "      \"costVsOracle\": 1,\n"
	                         "      \"underProvisionedShare\": 0,\n"
	                         "      \"unservedShare\": 0,\n"
	                         "      \"actions\": 2,\n"
	                         "      \"peakReplicas\": 3\n"
	                         "    }\n"
	                         "  },\n"
	                         "  \"forecast\": {\n"
	                         "    \"model\": \"holt-winters\",\n"
	                         "    \"smape\": 12.345,\n"
	                         "    \"mase\": 0.6149,\n"
	                         "    \"n\": 4\n"
	                         "  }\n"
	                         "}\n");
	free(t.data);
}

Test(sim_report, the_json_summary_without_oracle_and_forecast_has_nulls_and_no_oracle_key)
{
	struct fixture f;
	fixture_init(&f, UNIX_T0);
	fixture_without_oracle(&f);
	f.r.params.interval_ms = 1500;
	struct text t = write_to_memory(sim_write_json, &f.r);
	cJSON *j = cJSON_Parse(t.data);
	cr_assert_not_null(j, "not JSON:\n%s", t.data);
	cr_expect_eq(cJSON_GetObjectItemCaseSensitive(j, "scoreFrom")->valuedouble,
	             1700000030000.0);
	cr_expect_eq(cJSON_GetObjectItemCaseSensitive(j, "intervalSeconds")->valuedouble, 1.5);
	cr_expect_not_null(strstr(t.data, "\"intervalSeconds\": 1.500,\n"));
	const cJSON *pol = cJSON_GetObjectItemCaseSensitive(j, "policies");
	cr_expect_eq(cJSON_GetArraySize(pol), 2);
	cr_expect_null(cJSON_GetObjectItemCaseSensitive(pol, "oracle"));
	const cJSON *re = cJSON_GetObjectItemCaseSensitive(pol, "reactive");
	cr_expect(cJSON_IsNull(cJSON_GetObjectItemCaseSensitive(re, "costVsOracle")));
	cr_expect(cJSON_IsNull(cJSON_GetObjectItemCaseSensitive(j, "forecast")));
	cr_expect_not_null(strstr(t.data, "    }\n  },\n  \"forecast\": null\n}\n"));
	cJSON_Delete(j);
	free(t.data);
}

Test(sim_report, the_json_summary_with_no_policy_has_an_empty_policies_object)
{
	struct fixture f;
	fixture_init(&f, 0);
	for (int p = 0; p < SIM_NPOLICIES; p++)
		f.r.score[p].enabled = false;
	struct text t = write_to_memory(sim_write_json, &f.r);
	cr_expect_not_null(strstr(t.data, "  },\n  \"policies\": {},\n  \"forecast\": {\n"), "%s",
	                   t.data);
	cJSON *j = cJSON_Parse(t.data);
	cr_assert_not_null(j, "not JSON:\n%s", t.data);
	cJSON_Delete(j);
	free(t.data);
}

Test(sim_report, the_json_summary_escapes_names_and_replaces_bad_utf8)
{
	struct fixture f;
	fixture_init(&f, 0);
	snprintf(f.r.source, sizeof(f.r.source), "a\"b\\c\nd\001e\tf\xff/\xc3\xa9");
	snprintf(f.r.target_name, sizeof(f.r.target_name), "\xe2\x82");
	struct text t = write_to_memory(sim_write_json, &f.r);
	cr_expect_not_null(
	    strstr(t.data, "\"source\": \"a\\\"b\\\\c\\nd\\u0001e\\tf\\ufffd/\xc3\xa9\",\n"), "%s",
	    t.data);
	cJSON *j = cJSON_Parse(t.data);
	cr_assert_not_null(j, "not JSON:\n%s", t.data);
	cr_expect_str_eq(cJSON_GetObjectItemCaseSensitive(j, "source")->valuestring,
	                 "a\"b\\c\nd\001e\tf\xef\xbf\xbd/\xc3\xa9");
	/* A sequence cut short is two bad bytes. */
	cr_expect_str_eq(cJSON_GetObjectItemCaseSensitive(j, "target")->valuestring,
	                 "\xef\xbf\xbd\xef\xbf\xbd");
	cJSON_Delete(j);
	free(t.data);
}

/* ---- steps.csv ---- */

Test(sim_report, the_steps_csv_has_a_row_per_tick_and_an_empty_cell_for_no_forecast)
{
	struct fixture f;
	fixture_init(&f, 0);
	struct text t = write_to_memory(sim_write_steps_csv, &f.r);
	cr_assert_str_eq(t.data, "time,demand,observed,forecast,reactive_desired,reactive_ready,"
	                         "predictive_desired,predictive_ready,oracle_desired,oracle_ready\n"
	                         "0,100,100,,1,1,1,1,1,1\n"
	                         "15,150,100,,1,1,2,1,2,2\n"
	                         "30,250,150,260.5,2,1,3,1,3,3\n"
	                         "45,300,250,320,3,1,3,2,3,3\n"
	                         "60,200,300,210,3,2,3,3,2,2\n"
	                         "75,120,200,125.25,3,3,3,3,2,2\n");
	free(t.data);
}

Test(sim_report, the_steps_csv_leaves_out_a_disabled_policy)
{
	struct fixture f;
	fixture_init(&f, 0);
	f.r.score[SIM_PREDICTIVE].enabled = false;
	struct text t = write_to_memory(sim_write_steps_csv, &f.r);
	cr_assert_str_eq(t.data, "time,demand,observed,forecast,reactive_desired,reactive_ready,"
	                         "oracle_desired,oracle_ready\n"
	                         "0,100,100,,1,1,1,1\n"
	                         "15,150,100,,1,1,2,2\n"
	                         "30,250,150,260.5,2,1,3,3\n"
	                         "45,300,250,320,3,1,3,3\n"
	                         "60,200,300,210,3,2,2,2\n"
	                         "75,120,200,125.25,3,3,2,2\n");
	free(t.data);
}

Test(sim_report, the_steps_csv_writes_times_in_seconds_and_reals_in_their_shortest_exact_form)
{
	struct fixture f;
	fixture_init(&f, UNIX_T0);
	f.r.steps[1].t_ms = UNIX_T0 + 1500;
	f.r.steps[2].t_ms = -2250;
	f.r.steps[0].demand = 0.1 + 0.2;
	f.r.steps[1].demand = 1e-7;
	f.r.steps[2].demand = 12345678.9;
	f.r.steps[3].demand = 1e21;
	f.r.steps[4].demand = -0.0;
	f.r.steps[5].observed = NAN;
	struct text t = write_to_memory(sim_write_steps_csv, &f.r);
	cr_assert_str_eq(t.data, "time,demand,observed,forecast,reactive_desired,reactive_ready,"
	                         "predictive_desired,predictive_ready,oracle_desired,oracle_ready\n"
	                         "1700000000,0.30000000000000004,100,,1,1,1,1,1,1\n"
	                         "1700000001.500,1e-07,100,,1,1,2,1,2,2\n"
	                         "-2.250,12345678.9,150,260.5,2,1,3,1,3,3\n"
	                         "1700000045,1e+21,250,320,3,1,3,2,3,3\n"
	                         "1700000060,-0,300,210,3,2,3,3,2,2\n"
	                         "1700000075,120,,125.25,3,3,3,3,2,2\n");
	free(t.data);
}

/* ---- chart.svg ---- */

Test(sim_report, the_chart_is_one_well_formed_svg_element)
{
	struct fixture f;
	fixture_init(&f, 0);
	snprintf(f.r.source, sizeof(f.r.source), "<a & 'b'>\001\xff");
	struct text t = write_to_memory(sim_write_svg, &f.r);
	const char *why = xml_problem(t.data);
	cr_assert_null(why, "%s:\n%s", why, t.data);
	cr_assert(t.len > 7 && strcmp(t.data + t.len - 7, "</svg>\n") == 0);
	cr_expect_not_null(strstr(t.data, "width=\"1200\" height=\"700\""));
	cr_expect_not_null(
	    strstr(t.data, "<title>prescale simulate: &lt;a &amp; &apos;b&apos;&gt;&#65533;&#65533;"
	                   ", target web</title>"));
	free(t.data);
}

Test(sim_report, the_chart_has_a_legend_axis_titles_and_tick_labels)
{
	struct fixture f;
	fixture_init(&f, 0);
	struct text t = write_to_memory(sim_write_svg, &f.r);
	static const char *const want[] = {
	    ">demand</text>",
	    ">reactive</text>",
	    ">predictive</text>",
	    ">oracle</text>",
	    ">desired replicas</text>",
	    ">warm-up (not scored)</text>",
	    ">warm-up</text>",
	    ">replicas</text>",
	    ">demand and capacity (ready replicas &#215; 125)</text>",
	    ">time (trace clock, from 0)</text>",
	    /* 90 s of ticks: x ticks every 15 s. */
	    ">0s</text>",
	    ">+45s</text>",
	    ">+1m30s</text>",
	    /* Demand and capacity up to 375 (3 x 125): steps of 100 up to 400. */
	    ">400</text>",
	    /* Replicas up to 3: steps of 1. */
	    ">3</text>",
	    "prescale simulate: trace.csv, target web</text>",
	};
	for (size_t i = 0; i < sizeof(want) / sizeof(want[0]); i++)
		cr_expect_not_null(strstr(t.data, want[i]), "missing %s", want[i]);
	cr_expect_null(strstr(t.data, ">500</text>"));
	free(t.data);
}

Test(sim_report, the_chart_labels_a_unix_clock_with_utc_times_and_dates)
{
	struct fixture f;
	fixture_init(&f, UNIX_T0);
	struct text t = write_to_memory(sim_write_svg, &f.r);
	cr_expect_not_null(strstr(t.data, ">time (UTC)</text>"));
	/* Ticks fall on round times: every 15 s of the minute, from 22:13:30 to 22:14:45. */
	cr_expect_not_null(strstr(t.data, ">22:13:30</text>"));
	cr_expect_not_null(strstr(t.data, ">22:14:45</text>"));
	cr_expect_null(strstr(t.data, ">22:13:20</text>"));
	/* The date only under the first tick, since the day never changes. */
	cr_expect_eq(count(t.data, ">2023-11-14</text>"), 1);
	cr_expect_not_null(strstr(t.data, "scored from 2023-11-14T22:13:50Z (4 ticks)"));
	free(t.data);
}

Test(sim_report, the_chart_draws_one_path_per_series_of_each_enabled_policy)
{
	struct fixture f;
	fixture_init(&f, 0);
	f.r.score[SIM_PREDICTIVE].enabled = false;
	struct text t = write_to_memory(sim_write_svg, &f.r);
	cr_expect_eq(count(t.data, "<path id=\"demand\""), 1);
	cr_expect_eq(count(t.data, "<path id=\"capacity-reactive\""), 1);
	cr_expect_eq(count(t.data, "<path id=\"ready-reactive\""), 1);
	cr_expect_eq(count(t.data, "<path id=\"desired-reactive\""), 1);
	cr_expect_eq(count(t.data, "<path id=\"capacity-oracle\""), 1);
	cr_expect_eq(count(t.data, "<path id=\"ready-oracle\""), 1);
	/* The oracle's desired count is its ready count: no second line. */
	cr_expect_eq(count(t.data, "<path id=\"desired-oracle\""), 0);
	cr_expect_eq(count(t.data, "predictive"), 0);
	cr_expect_eq(count(t.data, "<path id="), 6);
	free(t.data);
}

Test(sim_report, the_chart_draws_replicas_as_steps_held_to_the_end_of_the_last_tick)
{
	struct fixture f;
	fixture_init(&f, 0);
	struct text t = write_to_memory(sim_write_svg, &f.r);
	/* Oracle ready 1, 2, 3, 3, 2, 2 on a 0..3 axis over 90 s: the plot runs from x 76 to
	 * 1176 (1100 px, 15 s = 183.33 px) and from y 622 (0) up to 396 (3), 75.33 px a replica.
	 */
	const char *want = "<path id=\"ready-oracle\" fill=\"none\" stroke=\"#4a9a5b\" "
	                   "stroke-width=\"1.5\" d=\"M76 546.7L259.3 546.7L259.3 471.3L442.7 "
	                   "471.3L442.7 396L809.3 396L809.3 471.3L1176 471.3\"/>\n";
	cr_expect_not_null(strstr(t.data, want), "%s", t.data);
	free(t.data);
}

Test(sim_report, the_chart_shades_no_warm_up_when_every_tick_is_scored)
{
	struct fixture f;
	fixture_init(&f, 0);
	f.r.score_from_step = 0;
	f.r.params.score_from_ms = 0;
	struct text t = write_to_memory(sim_write_svg, &f.r);
	cr_expect_null(strstr(t.data, "warm-up"));
	free(t.data);
}

Test(sim_report, downsampling_a_long_run_keeps_a_one_tick_spike, .timeout = 60)
{
	/* The same spikes on 1000 ticks (drawn point by point) and on 100 000 ticks (downsampled):
	 * the axes are the same, so the spikes must reach the same heights. */
	struct sim_result small, big;
	spike_run(&small, 1000, 543, 777);
	spike_run(&big, 100000, 54321, 77777);
	struct text ts = write_to_memory(sim_write_svg, &small);
	struct text tb = write_to_memory(sim_write_svg, &big);
	cr_assert_null(xml_problem(tb.data));

	struct path_stats ds = path_points(ts.data, "demand");
	struct path_stats db = path_points(tb.data, "demand");
	cr_expect_eq(ds.n, 1000);
	cr_expect_lt(db.n, 4 * 1101, "%zu points", db.n);
	cr_expect_eq(db.ymin, ds.ymin, "spike at %g, want %g", db.ymin, ds.ymin);
	cr_expect_eq(db.ymax, ds.ymax);
	/* 1000 is the top of the demand axis (steps of 200): the top of the panel. */
	cr_expect_eq(db.ymin, 88);

	struct path_stats rs = path_points(ts.data, "ready-reactive");
	struct path_stats rb = path_points(tb.data, "ready-reactive");
	cr_expect_eq(rb.ymin, rs.ymin);
	cr_expect_eq(rb.ymax, rs.ymax);
	cr_expect_lt(rb.ymin, rb.ymax - 100);
	/* A step line has points only where it changes: start, up, down, end. */
	cr_expect_leq(rb.n, 6);

	free(ts.data);
	free(tb.data);
	ps_free(small.steps);
	ps_free(big.steps);
}

/* ---- determinism ---- */

Test(sim_report, two_writes_of_the_same_result_are_byte_identical, .timeout = 60)
{
	struct fixture f;
	fixture_init(&f, UNIX_T0);
	struct sim_result big;
	spike_run(&big, 50000, 123, 4567);
	const struct sim_result *runs[] = {&f.r, &big};
	for (size_t k = 0; k < 2; k++) {
		for (size_t i = 0; i < sizeof(writers) / sizeof(writers[0]); i++) {
			struct text a = write_to_memory(writers[i], runs[k]);
			struct text b = write_to_memory(writers[i], runs[k]);
			cr_expect_eq(a.len, b.len);
			cr_expect(a.len == b.len && memcmp(a.data, b.data, a.len) == 0,
			          "writer %zu differs", i);
			free(a.data);
			free(b.data);
		}
	}
	ps_free(big.steps);
}
