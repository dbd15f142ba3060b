/* test_metrics.c -- the metrics registry and its Prometheus text exposition (exact text for a
 * small registry, escaping, histogram buckets, value formatting, refused families), and
 * prescale's families: what a snapshot of workers and records becomes, the scale actions by
 * direction across scrapes, the HTTP observer's classification, allocation failures, and
 * `promtool check metrics` on an exposition with every family.
 *
 * Expected texts are written by hand from the format's specification
 * (prometheus.io/docs/instrumenting/exposition_formats, format 0.0.4) and from the records'
 * values; promtool is the format's own checker (Debian package prometheus).
 */
#include <criterion/criterion.h>
#include <fcntl.h>
#include <math.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "metrics.h"
#include "ps_alloc.h"
#include "runtime.h"
#include "tick.h"

extern char **environ;

#define PROMTOOL "/usr/bin/promtool"

static char *render(struct metrics *m)
{
	struct ps_buf b;
	ps_buf_init(&b, 1 << 20);
	cr_assert_eq(metrics_render(m, &b), PS_OK);
	char *s = ps_buf_detach(&b);
	cr_assert_not_null(s);
	return s;
}

static struct metrics_family *family(struct metrics *m, const char *name, const char *help,
                                     enum metrics_type type, const char *const *labels,
                                     size_t n_labels, const double *buckets, size_t n_buckets)
{
	struct metrics_family *f = NULL;
	struct ps_diag d;
	ps_diag_clear(&d);
	cr_assert_eq(
	    metrics_family_add(m, name, help, type, labels, n_labels, buckets, n_buckets, &f, &d),
	    PS_OK, "%s", ps_diag_msg(&d));
	return f;
}

/* ---- the registry ---- */

Test(metrics, a_small_registry_renders_exactly_as_the_text_format_says)
{
	struct metrics *m;
	cr_assert_eq(metrics_new(&m), PS_OK);
	static const char *const req_labels[] = {"code", "path"};
	static const char *const op_label[] = {"op"};
	static const double buckets[] = {0.25, 0.5, 1};
	struct metrics_family *req = family(m, "demo_requests_total", "Requests handled.",
	                                    METRICS_COUNTER, req_labels, 2, NULL, 0);
	struct metrics_family *temp = family(m, "demo_temperature_celsius", "Current temperature.",
	                                     METRICS_GAUGE, NULL, 0, NULL, 0);
	struct metrics_family *lat = family(m, "demo_latency_seconds", "Latency.",
	                                    METRICS_HISTOGRAM, op_label, 1, buckets, 3);
	(void)family(m, "demo_unused", "Never touched.", METRICS_GAUGE, NULL, 0, NULL, 0);
	const char *a[] = {"200", "/a"}, *b[] = {"500", "/b"}, *get[] = {"get"};
	cr_assert_eq(metrics_add(req, a, 3), PS_OK);
	cr_assert_eq(metrics_add(req, b, 1), PS_OK);
	cr_assert_eq(metrics_add(req, a, 2), PS_OK);
	cr_assert_eq(metrics_set(temp, NULL, -3.5), PS_OK);
	/* 0.125 and 0.25 (the bound is inclusive) in le=0.25; 0.75 in le=1; 3 only in +Inf.
	 * Sum 0.125 + 0.25 + 0.75 + 3 = 4.125 (exact in binary). */
	cr_assert_eq(metrics_observe(lat, get, 0.125), PS_OK);
	cr_assert_eq(metrics_observe(lat, get, 0.25), PS_OK);
	cr_assert_eq(metrics_observe(lat, get, 0.75), PS_OK);
	cr_assert_eq(metrics_observe(lat, get, 3), PS_OK);
	char *text = render(m);
	cr_expect_str_eq(text, "# HELP demo_requests_total Requests handled.\n"
	                       "# TYPE demo_requests_total counter\n"
	                       "demo_requests_total{code=\"200\",path=\"/a\"} 5\n"
	                       "demo_requests_total{code=\"500\",path=\"/b\"} 1\n"
	                       "# HELP demo_temperature_celsius Current temperature.\n"
	                       "# TYPE demo_temperature_celsius gauge\n"
	                       "demo_temperature_celsius -3.5\n"
	                       "# HELP demo_latency_seconds Latency.\n"
	                       "# TYPE demo_latency_seconds histogram\n"
	                       "demo_latency_seconds_bucket{op=\"get\",le=\"0.25\"} 2\n"
	                       "demo_latency_seconds_bucket{op=\"get\",le=\"0.5\"} 2\n"
	                       "demo_latency_seconds_bucket{op=\"get\",le=\"1\"} 3\n"
	                       "demo_latency_seconds_bucket{op=\"get\",le=\"+Inf\"} 4\n"
	                       "demo_latency_seconds_sum{op=\"get\"} 4.125\n"
	                       "demo_latency_seconds_count{op=\"get\"} 4\n"
	                       "# HELP demo_unused Never touched.\n"
	                       "# TYPE demo_unused gauge\n");
	ps_free(text);
	metrics_free(m);
}

Test(metrics, label_values_and_help_text_are_escaped)
{
	struct metrics *m;
	cr_assert_eq(metrics_new(&m), PS_OK);
	static const char *const labels[] = {"path", "empty"};
	struct metrics_family *f = family(m, "demo_info", "Line one\nback\\slash \"quotes\" stay",
	                                  METRICS_GAUGE, labels, 2, NULL, 0);
	/* Label values escape backslash, double quote and line feed; help text backslash and
	 * line feed only. A NULL value is the empty string. */
	const char *v[] = {"C:\\dir \"quoted\"\nnext", NULL};
	cr_assert_eq(metrics_set(f, v, 1), PS_OK);
	char *text = render(m);
	cr_expect_str_eq(text,
	                 "# HELP demo_info Line one\\nback\\\\slash \"quotes\" stay\n"
	                 "# TYPE demo_info gauge\n"
	                 "demo_info{path=\"C:\\\\dir \\\"quoted\\\"\\nnext\",empty=\"\"} 1\n");
	ps_free(text);
	metrics_free(m);
}

Test(metrics, histogram_buckets_are_cumulative_per_series_with_the_bound_inclusive)
{
	struct metrics *m;
	cr_assert_eq(metrics_new(&m), PS_OK);
	static const char *const labels[] = {"type"};
	static const double buckets[] = METRICS_LATENCY_BUCKETS;
	struct metrics_family *f = family(m, "x_seconds", "h", METRICS_HISTOGRAM, labels, 1,
	                                  buckets, PS_ARRAY_LEN(buckets));
	const char *a[] = {"a"}, *b[] = {"b"};
	/* a: 0.005 (le=0.005), 0.0051 (le=0.01), 30 (le=30), 31 (+Inf only); b: 0 (le=0.005). */
	cr_assert_eq(metrics_observe(f, a, 0.005), PS_OK);
	cr_assert_eq(metrics_observe(f, a, 0.0051), PS_OK);
	cr_assert_eq(metrics_observe(f, a, 30), PS_OK);
	cr_assert_eq(metrics_observe(f, a, 31), PS_OK);
	cr_assert_eq(metrics_observe(f, b, 0), PS_OK);
	cr_expect_eq(metrics_observe(f, b, NAN), PS_EINVAL);
	char *text = render(m);
	static const char *const want[] = {
	    "x_seconds_bucket{type=\"a\",le=\"0.005\"} 1\n",
	    "x_seconds_bucket{type=\"a\",le=\"0.01\"} 2\n",
	    "x_seconds_bucket{type=\"a\",le=\"10\"} 2\n",
	    "x_seconds_bucket{type=\"a\",le=\"30\"} 3\n",
	    "x_seconds_bucket{type=\"a\",le=\"+Inf\"} 4\n",
	    "x_seconds_count{type=\"a\"} 4\n",
	    "x_seconds_bucket{type=\"b\",le=\"0.005\"} 1\n",
	    "x_seconds_bucket{type=\"b\",le=\"+Inf\"} 1\n",
	    "x_seconds_sum{type=\"b\"} 0\n",
	    "x_seconds_count{type=\"b\"} 1\n",
	};
	for (size_t i = 0; i < PS_ARRAY_LEN(want); i++)
		cr_expect_not_null(strstr(text, want[i]), "missing %s in:\n%s", want[i], text);
	/* Every series has the twelve bounds plus +Inf. */
	size_t n = 0;
	for (const char *p = text; (p = strstr(p, "_bucket{type=\"a\"")) != NULL; p++)
		n++;
	cr_expect_eq(n, PS_ARRAY_LEN(buckets) + 1);
	ps_free(text);
	metrics_free(m);
}

Test(metrics, values_are_written_as_integers_shortest_decimals_or_the_special_names)
{
	char buf[40];
	cr_expect_str_eq(metrics_format_value(0, buf, sizeof(buf)), "0");
	cr_expect_str_eq(metrics_format_value(42, buf, sizeof(buf)), "42");
	cr_expect_str_eq(metrics_format_value(-7, buf, sizeof(buf)), "-7");
	cr_expect_str_eq(metrics_format_value(0.1, buf, sizeof(buf)), "0.1");
	cr_expect_str_eq(metrics_format_value(1767225600.123, buf, sizeof(buf)), "1767225600.123");
	cr_expect_str_eq(metrics_format_value(1e-9, buf, sizeof(buf)), "1e-09");
	/* From 2^53 on, the shortest %g that reads back. */
	cr_expect_str_eq(metrics_format_value(9007199254740992.0, buf, sizeof(buf)),
	                 "9007199254740992");
	cr_expect_str_eq(metrics_format_value(1e20, buf, sizeof(buf)), "1e+20");
	cr_expect_str_eq(metrics_format_value(NAN, buf, sizeof(buf)), "NaN");
	cr_expect_str_eq(metrics_format_value(INFINITY, buf, sizeof(buf)), "+Inf");
	cr_expect_str_eq(metrics_format_value(-INFINITY, buf, sizeof(buf)), "-Inf");
}

Test(metrics, bad_families_and_bad_updates_are_refused_with_a_reason)
{
	struct metrics *m;
	cr_assert_eq(metrics_new(&m), PS_OK);
	struct ps_diag d;
	static const char *const le[] = {"le"};
	static const char *const dup[] = {"a", "a"};
	static const char *const reserved[] = {"__name"};
	static const double down[] = {1, 0.5};
	struct {
		const char *name;
		enum metrics_type type;
		const char *const *labels;
		size_t n_labels;
		const double *buckets;
		size_t n_buckets;
		const char *msg;
	} bad[] = {
	    {"1abc", METRICS_GAUGE, NULL, 0, NULL, 0, "metrics: invalid metric name \"1abc\""},
	    {"a-b", METRICS_GAUGE, NULL, 0, NULL, 0, "metrics: invalid metric name \"a-b\""},
	    {"h", METRICS_HISTOGRAM, le, 1, down, 1,
	     "metrics: h: a histogram cannot have a label \"le\""},
	    {"g", METRICS_GAUGE, dup, 2, NULL, 0, "metrics: g: label \"a\" given twice"},
	    {"g", METRICS_GAUGE, reserved, 1, NULL, 0, "metrics: g: invalid label name \"__name\""},
	    {"h", METRICS_HISTOGRAM, NULL, 0, down, 2,
	     "metrics: h: buckets must be finite and strictly increasing"},
	    {"h", METRICS_HISTOGRAM, NULL, 0, NULL, 0, "metrics: h: 0 buckets (1 to 32)"},
	    {"c_total", METRICS_COUNTER, NULL, 0, down, 1,
	     "metrics: c_total: buckets on a counter"},
	};
	for (size_t i = 0; i < PS_ARRAY_LEN(bad); i++) {
		ps_diag_clear(&d);
		cr_expect_eq(metrics_family_add(m, bad[i].name, "x", bad[i].type, bad[i].labels,
		                                bad[i].n_labels, bad[i].buckets, bad[i].n_buckets,
		                                NULL, &d),
		             PS_EINVAL, "case %zu", i);
		cr_expect_str_eq(ps_diag_msg(&d), bad[i].msg);
	}
	struct metrics_family *c = family(m, "c_total", "c", METRICS_COUNTER, NULL, 0, NULL, 0);
	ps_diag_clear(&d);
	cr_expect_eq(
	    metrics_family_add(m, "c_total", "again", METRICS_GAUGE, NULL, 0, NULL, 0, NULL, &d),
	    PS_EINVAL);
	cr_expect_str_eq(ps_diag_msg(&d), "metrics: c_total: registered twice");
	cr_expect_eq(metrics_add(c, NULL, -1), PS_EINVAL, "a counter never goes down");
	cr_expect_eq(metrics_add(c, NULL, NAN), PS_EINVAL);
	cr_expect_eq(metrics_observe(c, NULL, 1), PS_EINVAL, "not a histogram");
	cr_expect_eq(metrics_add(c, NULL, 2), PS_OK);
	metrics_free(m);
}

Test(metrics, many_series_are_found_again_after_the_index_grows)
{
	struct metrics *m;
	cr_assert_eq(metrics_new(&m), PS_OK);
	static const char *const labels[] = {"a", "b"};
	struct metrics_family *f =
	    family(m, "many_total", "m", METRICS_COUNTER, labels, 2, NULL, 0);
	char x[16], y[16];
	for (int round = 0; round < 3; round++)
		for (int i = 0; i < 500; i++) {
			/* ("1","23") and ("12","3") must stay apart. */
			snprintf(x, sizeof(x), "%d", i / 10);
			snprintf(y, sizeof(y), "%d", i % 10);
			const char *v[] = {x, y};
			cr_assert_eq(metrics_add(f, v, 1), PS_OK);
		}
	char *text = render(m);
	size_t lines = 0;
	for (const char *p = text; *p; p++)
		lines += *p == '\n';
	cr_expect_eq(lines, 500 + 2);
	cr_expect_not_null(strstr(text, "many_total{a=\"49\",b=\"9\"} 3\n"));
	cr_expect_not_null(strstr(text, "many_total{a=\"1\",b=\"2\"} 3\n"));
	ps_free(text);
	metrics_free(m);
}

/* ---- prescale's families ---- */

#define T0 ((int64_t)1767225600000) /* 2026-01-01T00:00:00Z */

/* A decided record of shop/Deployment/web: rps 240 per pod against 100 (AverageValue, the
 * query's per-pod mean, not evaluated by the engine), cpu 55% against 70% (Utilization, from the
 * engine's row), a forecast of 310 for rps. */
static void web_record(struct tick_record *r, int32_t current, int32_t desired, bool wrote,
                       uint64_t writes, int64_t time_ms)
{
	memset(r, 0, sizeof(*r));
	snprintf(r->key, sizeof(r->key), "shop/Deployment/web");
	r->time_ms = time_ms;
	r->outcome = TICK_OUT_DECIDED;
	r->mode = TICK_WRITE_LIVE;
	r->current = current;
	r->desired = desired;
	r->write = desired != current;
	r->wrote = wrote;
	r->writes = writes;
	r->ticks = 10;
	r->have_decision = true;
	r->d.computed = true;
	r->d.n_rows = 1;
	r->d.rows[0].ok = true;
	r->d.rows[0].has_utilization = true;
	r->d.rows[0].utilization = 55;
	r->n_metrics = 2;
	snprintf(r->m[0].name, sizeof(r->m[0].name), "rps");
	r->m[0].target = (struct eng_target){.type = ENG_TARGET_AVERAGE_VALUE,
	                                     .has_average_value = true,
	                                     .average_value_milli = 100000};
	r->m[0].per_pod = true;
	r->m[0].has_value = true;
	r->m[0].value = 240;
	r->m[0].row = -1;
	r->m[0].forecast_on = true;
	r->m[0].has_forecast = true;
	r->m[0].forecast = 310;
	r->m[0].has_forecast_error = true;
	r->m[0].forecast_mase = 0.75;
	snprintf(r->m[1].name, sizeof(r->m[1].name), "cpu");
	r->m[1].target = (struct eng_target){.type = ENG_TARGET_UTILIZATION,
	                                     .has_average_utilization = true,
	                                     .average_utilization = 70};
	r->m[1].row = 0;
}

static void worker(struct rt_worker_info *w, const char *key, enum rt_worker_state st,
                   uint64_t ticks, uint64_t errors, uint64_t skipped)
{
	memset(w, 0, sizeof(*w));
	snprintf(w->key, sizeof(w->key), "%s", key);
	w->state = st;
	w->ticks = ticks;
	w->errors = errors;
	w->skipped = skipped;
}

static char *scrape(struct metrics_ctl *mc, const struct metrics_snapshot *s)
{
	struct ps_buf b;
	ps_buf_init(&b, METRICS_MAX_OUTPUT);
	cr_assert_eq(metrics_ctl_render(mc, s, &b), PS_OK);
	char *text = ps_buf_detach(&b);
	cr_assert_not_null(text);
	return text;
}

static void expect_line(const char *text, const char *line)
{
	char want[512];
	snprintf(want, sizeof(want), "\n%s\n", line);
	cr_expect_not_null(strstr(text, want), "missing line: %s\n--- in:\n%s", line, text);
}

static void expect_no(const char *text, const char *prefix)
{
	char want[512];
	snprintf(want, sizeof(want), "\n%s", prefix);
	cr_expect_null(strstr(text, want), "unexpected: %s\n--- in:\n%s", prefix, text);
}

/* The snapshot entries of <n> records (tick_snaps_free them). */
static struct tick_snap *snaps_of(const struct tick_record *r, size_t n)
{
	struct tick_snap *s = ps_calloc(n, sizeof(*s));
	cr_assert_not_null(s);
	for (size_t i = 0; i < n; i++)
		cr_assert_eq(tick_snap_from_record(&r[i], &s[i]), PS_OK);
	return s;
}

Test(metrics_ctl, a_snapshot_becomes_the_controller_and_per_target_families)
{
	struct metrics_ctl *mc;
	cr_assert_eq(metrics_ctl_new(&mc), PS_OK);
	struct tick_record *recs = calloc(2, sizeof(*recs));
	cr_assert_not_null(recs);
	web_record(&recs[0], 2, 4, true, 1, T0 + 1500);
	/* A failed target: counted, no replica or metric gauges. */
	snprintf(recs[1].key, sizeof(recs[1].key), "shop/StatefulSet/db");
	recs[1].outcome = TICK_OUT_FAILED;
	struct rt_worker_info w[2];
	worker(&w[0], "shop/Deployment/web", RT_WORKER_IDLE, 10, 0, 1);
	worker(&w[1], "shop/StatefulSet/db", RT_WORKER_TICKING, 7, 7, 0);
	struct rt_stats st = {.workers = 2,
	                      .reloads_ok = 3,
	                      .reloads_failed = 1,
	                      .query_slots = 16,
	                      .query_slots_used = 2,
	                      .executors = 16,
	                      .executors_busy = 3,
	                      .ticks_queued = 5,
	                      .lateness_sum_s = 75.5,
	                      .lateness_count = 12};
	/* 4 ticks within 1 ms, 5 within 2.5 ms, 2 at 1.5 s, 1 above the last bucket (60 s) */
	st.lateness_counts[0] = 4;
	st.lateness_counts[1] = 5;
	st.lateness_counts[10] = 2;
	st.lateness_counts[RT_LATENESS_NBUCKETS] = 1;
	struct tick_snap *sn = snaps_of(recs, 2);
	struct metrics_snapshot s = {.workers = w,
	                             .n_workers = 2,
	                             .stats = &st,
	                             .records = sn,
	                             .n_records = 2,
	                             .leader = METRICS_LEADER_YES,
	                             .version = "0.1.0",
	                             .git = "v0.1.0-3-gabc"};
	char *text = scrape(mc, &s);
	expect_line(text, "prescale_build_info{version=\"0.1.0\",git=\"v0.1.0-3-gabc\"} 1");
	expect_line(text, "prescale_leader 1");
	expect_line(text, "prescale_workers{state=\"starting\"} 0");
	expect_line(text, "prescale_workers{state=\"idle\"} 1");
	expect_line(text, "prescale_workers{state=\"ticking\"} 1");
	expect_line(text, "prescale_workers{state=\"stopped\"} 0");
	expect_line(text, "prescale_config_reloads_total{result=\"success\"} 3");
	expect_line(text, "prescale_config_reloads_total{result=\"failure\"} 1");
	expect_line(text, "prescale_prometheus_query_slots 16");
	expect_line(text, "prescale_prometheus_query_slots_in_use 2");
	expect_line(text, "prescale_executors 16");
	expect_line(text, "prescale_executors_busy 3");
	expect_line(text, "prescale_ticks_queued 5");
	expect_line(text, "# TYPE prescale_tick_lateness_seconds histogram");
	/* cumulative buckets; +Inf is the count, the tick above 60 s included */
	expect_line(text, "prescale_tick_lateness_seconds_bucket{le=\"0.001\"} 4");
	expect_line(text, "prescale_tick_lateness_seconds_bucket{le=\"0.0025\"} 9");
	expect_line(text, "prescale_tick_lateness_seconds_bucket{le=\"1\"} 9");
	expect_line(text, "prescale_tick_lateness_seconds_bucket{le=\"2.5\"} 11");
	expect_line(text, "prescale_tick_lateness_seconds_bucket{le=\"60\"} 11");
	expect_line(text, "prescale_tick_lateness_seconds_bucket{le=\"+Inf\"} 12");
	expect_line(text, "prescale_tick_lateness_seconds_sum 75.5");
	expect_line(text, "prescale_tick_lateness_seconds_count 12");
	expect_line(
	    text,
	    "prescale_target_ticks_total{namespace=\"shop\",kind=\"Deployment\",name=\"web\"} "
	    "10");
	expect_line(text, "prescale_target_errors_total{namespace=\"shop\",kind=\"StatefulSet\","
	                  "name=\"db\"} 7");
	expect_line(text,
	            "prescale_target_skipped_ticks_total{namespace=\"shop\",kind=\"Deployment\","
	            "name=\"web\"} 1");
	expect_line(text, "prescale_target_current_replicas{namespace=\"shop\",kind=\"Deployment\","
	                  "name=\"web\"} 2");
	expect_line(text, "prescale_target_desired_replicas{namespace=\"shop\",kind=\"Deployment\","
	                  "name=\"web\"} 4");
	/* rps: the query's 240 against 100 per pod; cpu: the row's 55% against 70%. */
	expect_line(text, "prescale_target_metric_value{namespace=\"shop\",kind=\"Deployment\","
	                  "name=\"web\",metric=\"rps\"} 240");
	expect_line(text, "prescale_target_metric_target{namespace=\"shop\",kind=\"Deployment\","
	                  "name=\"web\",metric=\"rps\"} 100");
	expect_line(text, "prescale_target_metric_value{namespace=\"shop\",kind=\"Deployment\","
	                  "name=\"web\",metric=\"cpu\"} 55");
	expect_line(text, "prescale_target_metric_target{namespace=\"shop\",kind=\"Deployment\","
	                  "name=\"web\",metric=\"cpu\"} 70");
	expect_line(text, "prescale_target_forecast_value{namespace=\"shop\",kind=\"Deployment\","
	                  "name=\"web\",metric=\"rps\"} 310");
	expect_no(text, "prescale_target_forecast_value{namespace=\"shop\",kind=\"Deployment\","
	                "name=\"web\",metric=\"cpu\"}");
	expect_line(text,
	            "prescale_target_forecast_error_mase{namespace=\"shop\",kind=\"Deployment\","
	            "name=\"web\",metric=\"rps\"} 0.75");
	/* One write, 2 -> 4: up. */
	expect_line(text,
	            "prescale_target_scale_actions_total{namespace=\"shop\",kind=\"Deployment\","
	            "name=\"web\",direction=\"up\"} 1");
	expect_line(text,
	            "prescale_target_scale_actions_total{namespace=\"shop\",kind=\"Deployment\","
	            "name=\"web\",direction=\"down\"} 0");
	expect_line(text, "prescale_target_last_decision_timestamp_seconds{namespace=\"shop\","
	                  "kind=\"Deployment\",name=\"web\"} 1767225601.5");
	expect_no(text, "prescale_target_current_replicas{namespace=\"shop\",kind=\"StatefulSet\"");
	expect_no(text, "prescale_target_last_decision_timestamp_seconds{namespace=\"shop\","
	                "kind=\"StatefulSet\"");
	/* The pushed families are there, empty. */
	expect_line(text, "# TYPE prescale_prometheus_query_duration_seconds histogram");
	expect_line(text, "# TYPE prescale_kubernetes_request_duration_seconds histogram");
	expect_line(text, "# TYPE prescale_kubernetes_request_errors_total counter");
	ps_free(text);

	/* Without a runtime or records: the controller families only; leader unknown is 0. */
	struct metrics_snapshot empty = {.leader = METRICS_LEADER_UNKNOWN};
	text = scrape(mc, &empty);
	expect_line(text, "prescale_leader 0");
	expect_line(text, "prescale_workers{state=\"idle\"} 0");
	expect_no(text, "prescale_config_reloads_total{");
	expect_no(text, "prescale_target_ticks_total{");
	cr_expect_not_null(strstr(text, "prescale_build_info{version=\""));
	ps_free(text);
	tick_snaps_free(sn, 2);
	free(recs);
	metrics_ctl_free(mc);
}

/* The up and down counters of web after a scrape of <r>. */
static void actions(struct metrics_ctl *mc, const struct tick_record *r, int up, int down)
{
	struct tick_snap *sn = snaps_of(r, 1);
	struct metrics_snapshot s = {.records = sn, .n_records = 1};
	char *text = scrape(mc, &s);
	tick_snaps_free(sn, 1);
	char line[256];
	snprintf(line, sizeof(line),
	         "prescale_target_scale_actions_total{namespace=\"shop\",kind=\"Deployment\","
	         "name=\"web\",direction=\"up\"} %d",
	         up);
	expect_line(text, line);
	snprintf(line, sizeof(line),
	         "prescale_target_scale_actions_total{namespace=\"shop\",kind=\"Deployment\","
	         "name=\"web\",direction=\"down\"} %d",
	         down);
	expect_line(text, line);
	ps_free(text);
}

Test(metrics_ctl, scale_actions_follow_the_write_counter_and_the_direction_of_each_write)
{
	struct metrics_ctl *mc;
	cr_assert_eq(metrics_ctl_new(&mc), PS_OK);
	struct tick_record *r = calloc(1, sizeof(*r));
	cr_assert_not_null(r);
	/* No write yet at 2. */
	web_record(r, 2, 2, false, 0, T0);
	actions(mc, r, 0, 0);
	/* 2 -> 4 written: up 1. The same record scraped again counts nothing more. */
	web_record(r, 2, 4, true, 1, T0 + 15000);
	actions(mc, r, 1, 0);
	actions(mc, r, 1, 0);
	/* Two writes between scrapes: 4 -> 6 (an earlier tick) and 6 -> 3 (the last record).
	 * The last one is down; the other goes the way the count moved since the previous
	 * scrape (4 then, 6 at the last tick's start): up. */
	web_record(r, 6, 3, true, 3, T0 + 45000);
	actions(mc, r, 2, 1);
	/* A tick that decided without writing after one more write: the count moved from 3 to
	 * 2 meanwhile: down. */
	web_record(r, 2, 2, false, 4, T0 + 60000);
	actions(mc, r, 2, 2);
	/* The state was rebuilt: its counter restarts at 1 (a write 2 -> 5): up, counted once. */
	web_record(r, 2, 5, true, 1, T0 + 75000);
	actions(mc, r, 3, 2);
	/* A dry run writes nothing: the record's write counter stays and nothing is counted. */
	web_record(r, 5, 8, false, 1, T0 + 90000);
	r->mode = TICK_WRITE_DRY_RUN;
	actions(mc, r, 3, 2);
	free(r);
	metrics_ctl_free(mc);
}

static void observe(struct metrics_ctl *mc, const char *method, const char *url, long status,
                    enum ps_err err, int64_t us)
{
	struct http_observation o = {
	    .method = method, .url = url, .status = status, .err = err, .elapsed_us = us};
	metrics_ctl_observe_http(mc, &o);
}

Test(metrics_ctl, the_http_observer_tells_prometheus_queries_from_kubernetes_requests)
{
	struct metrics_ctl *mc;
	cr_assert_eq(metrics_ctl_new(&mc), PS_OK);
	observe(mc, "GET", "http://prom:9090/api/v1/query?query=up&time=1", 200, PS_OK, 250000);
	observe(mc, "POST", "http://thanos/prefix/api/v1/query", 200, PS_OK, 500000);
	observe(mc, "GET", "http://prom:9090/api/v1/query_range?query=up", 200, PS_OK, 2000000);
	observe(mc, "GET", "http://prom:9090/api/v1/query", 0, PS_ECANCELED, 7);
	observe(mc, "GET",
	        "https://10.0.0.1:6443/apis/apps/v1/namespaces/shop/deployments/web/scale", 200,
	        PS_OK, 40000);
	observe(mc, "PATCH",
	        "https://10.0.0.1:6443/apis/apps/v1/namespaces/shop/deployments/web/scale", 409,
	        PS_OK, 30000);
	observe(mc, "GET", "https://10.0.0.1:6443/api/v1/namespaces/shop/pods?labelSelector=a%3Db",
	        0, PS_ETIMEDOUT, 10000000);
	observe(mc, "GET", "https://10.0.0.1:6443/api/v1/namespaces/shop/pods", 503, PS_OK, 1000);
	observe(mc, "GET", "http://127.0.0.1:8080/metrics", 200, PS_OK, 1000);
	observe(mc, "GET", NULL, 0, PS_EINVAL, 1);
	struct metrics_snapshot s = {.leader = METRICS_LEADER_YES};
	char *text = scrape(mc, &s);
	/* instant: 0.25 s (le=0.25) and 0.5 s (le=0.5); the canceled one is left out. */
	expect_line(text, "prescale_prometheus_query_duration_seconds_bucket{type=\"instant\","
	                  "le=\"0.1\"} 0");
	expect_line(text, "prescale_prometheus_query_duration_seconds_bucket{type=\"instant\","
	                  "le=\"0.25\"} 1");
	expect_line(text, "prescale_prometheus_query_duration_seconds_bucket{type=\"instant\","
	                  "le=\"0.5\"} 2");
	expect_line(text, "prescale_prometheus_query_duration_seconds_sum{type=\"instant\"} 0.75");
	expect_line(text, "prescale_prometheus_query_duration_seconds_count{type=\"instant\"} 2");
	expect_line(text, "prescale_prometheus_query_duration_seconds_bucket{type=\"range\","
	                  "le=\"1\"} 0");
	expect_line(text, "prescale_prometheus_query_duration_seconds_bucket{type=\"range\","
	                  "le=\"2.5\"} 1");
	/* Kubernetes: GET 40 ms, 10 s, 1 ms; PATCH 30 ms. Errors: 409, ETIMEDOUT, 503. */
	expect_line(text, "prescale_kubernetes_request_duration_seconds_count{verb=\"GET\"} 3");
	expect_line(text, "prescale_kubernetes_request_duration_seconds_bucket{verb=\"GET\","
	                  "le=\"0.05\"} 2");
	expect_line(text, "prescale_kubernetes_request_duration_seconds_bucket{verb=\"GET\","
	                  "le=\"10\"} 3");
	expect_line(text, "prescale_kubernetes_request_duration_seconds_count{verb=\"PATCH\"} 1");
	expect_line(text, "prescale_kubernetes_request_errors_total{code=\"409\"} 1");
	expect_line(text, "prescale_kubernetes_request_errors_total{code=\"ETIMEDOUT\"} 1");
	expect_line(text, "prescale_kubernetes_request_errors_total{code=\"503\"} 1");
	expect_no(text, "prescale_kubernetes_request_errors_total{code=\"200\"}");
	ps_free(text);
	metrics_ctl_free(mc);
}

Test(metrics_ctl, every_allocation_failing_in_turn_gives_enomem_and_no_leak)
{
	struct tick_record *recs = calloc(2, sizeof(*recs));
	cr_assert_not_null(recs);
	web_record(&recs[0], 2, 4, true, 1, T0);
	web_record(&recs[1], 3, 3, false, 0, T0);
	snprintf(recs[1].key, sizeof(recs[1].key), "shop/Deployment/api");
	struct rt_worker_info w;
	worker(&w, "shop/Deployment/web", RT_WORKER_IDLE, 1, 0, 0);
	struct rt_stats st = {.workers = 1};
	struct tick_snap *sn = snaps_of(recs, 2);
	struct metrics_snapshot s = {
	    .workers = &w, .n_workers = 1, .stats = &st, .records = sn, .n_records = 2};
	uint64_t n;
	for (n = 1;; n++) {
		struct metrics_ctl *mc = NULL;
		ps_alloc_fail_at(n);
		enum ps_err e = metrics_ctl_new(&mc);
		if (!e) {
			observe(mc, "GET", "http://p/api/v1/query", 200, PS_OK, 1000);
			struct ps_buf b;
			ps_buf_init(&b, METRICS_MAX_OUTPUT);
			e = metrics_ctl_render(mc, &s, &b);
			ps_buf_release(&b);
		}
		bool injected = ps_alloc_injected();
		ps_alloc_fail_at(0);
		metrics_ctl_free(mc);
		if (!injected) {
			cr_expect_eq(e, PS_OK);
			break;
		}
		/* The observer drops a sample quietly; everything else reports ENOMEM. */
		cr_expect(e == PS_ENOMEM || e == PS_OK, "allocation %llu: %s",
		          (unsigned long long)n, ps_err_name(e));
		cr_assert_lt(n, 2000);
	}
	cr_expect_gt(n, 20);
	tick_snaps_free(sn, 2);
	free(recs);
}

/* ---- promtool ---- */

/* Runs `promtool check metrics` with <text> on its standard input. Returns its exit status;
 * its output (problems) goes into <out>. */
static int promtool_check(const char *text, char *out, size_t out_size)
{
	char in_path[] = "/tmp/prescale-metrics-XXXXXX";
	int in = mkstemp(in_path);
	cr_assert_geq(in, 0);
	unlink(in_path);
	cr_assert_eq(write(in, text, strlen(text)), (ssize_t)strlen(text));
	cr_assert_eq(lseek(in, 0, SEEK_SET), 0);
	char out_path[] = "/tmp/prescale-promtool-XXXXXX";
	int o = mkstemp(out_path);
	cr_assert_geq(o, 0);
	unlink(out_path);
	posix_spawn_file_actions_t fa;
	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_adddup2(&fa, in, 0);
	posix_spawn_file_actions_adddup2(&fa, o, 1);
	posix_spawn_file_actions_adddup2(&fa, o, 2);
	char *argv[] = {"promtool", "check", "metrics", NULL};
	pid_t pid;
	cr_assert_eq(posix_spawn(&pid, PROMTOOL, &fa, NULL, argv, environ), 0);
	posix_spawn_file_actions_destroy(&fa);
	int ws;
	cr_assert_eq(waitpid(pid, &ws, 0), pid);
	cr_assert_eq(lseek(o, 0, SEEK_SET), 0);
	ssize_t got = read(o, out, out_size - 1);
	out[got > 0 ? got : 0] = '\0';
	close(in);
	close(o);
	return WIFEXITED(ws) ? WEXITSTATUS(ws) : -1;
}

Test(metrics_ctl, promtool_accepts_an_exposition_with_every_family_populated)
{
	struct stat sb;
	cr_assert_eq(stat(PROMTOOL, &sb), 0,
	             PROMTOOL " is missing: install the Debian package prometheus (hack/lib.sh)");
	struct metrics_ctl *mc;
	cr_assert_eq(metrics_ctl_new(&mc), PS_OK);
	struct tick_record *recs = calloc(2, sizeof(*recs));
	cr_assert_not_null(recs);
	web_record(&recs[0], 2, 4, true, 1, T0);
	/* A target whose names need escaping in no way, but a metric name with a dot. */
	web_record(&recs[1], 5, 3, true, 2, T0 + 100);
	snprintf(recs[1].key, sizeof(recs[1].key), "batch/StatefulSet/queue-reader");
	snprintf(recs[1].m[0].name, sizeof(recs[1].m[0].name), "lag.seconds");
	struct rt_worker_info w[2];
	worker(&w[0], "shop/Deployment/web", RT_WORKER_IDLE, 3, 1, 1);
	worker(&w[1], "batch/StatefulSet/queue-reader", RT_WORKER_TICKING, 4, 0, 0);
	struct rt_stats st = {.workers = 2, .reloads_ok = 1, .query_slots = 16};
	struct tick_snap *sn = snaps_of(recs, 2);
	struct metrics_snapshot s = {.workers = w,
	                             .n_workers = 2,
	                             .stats = &st,
	                             .records = sn,
	                             .n_records = 2,
	                             .leader = METRICS_LEADER_YES};
	observe(mc, "GET", "http://p/api/v1/query", 200, PS_OK, 1500);
	observe(mc, "GET", "http://p/api/v1/query_range", 200, PS_OK, 150000);
	observe(mc, "PATCH", "https://k/apis/apps/v1/namespaces/a/deployments/b/scale", 422, PS_OK,
	        9000);
	char *text = scrape(mc, &s);
	/* Every family has at least one sample. */
	for (const char *p = text; (p = strstr(p, "# TYPE ")) != NULL; p++) {
		char name[128];
		cr_assert_eq(sscanf(p, "# TYPE %127s", name), 1);
		char sample[140];
		snprintf(sample, sizeof(sample), "\n%s", name);
		const char *eol = strchr(p, '\n');
		cr_expect(eol && strncmp(eol, sample, strlen(sample)) == 0,
		          "family %s has no sample", name);
	}
	char out[8192];
	int rc = promtool_check(text, out, sizeof(out));
	cr_expect_eq(rc, 0, "promtool check metrics exited %d:\n%s\n--- on:\n%s", rc, out, text);
	cr_expect_str_eq(out, "");
	ps_free(text);
	tick_snaps_free(sn, 2);
	free(recs);
	metrics_ctl_free(mc);
}
