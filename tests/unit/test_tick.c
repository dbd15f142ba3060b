/* test_tick.c -- the job of a target: Prometheus results to readings (per-pod join, no data),
 * onError, staleness, fallback and recovery, scale to zero and back, pause, the restart seed,
 * the --once table and JSON record, the new configuration keys; and, end to end, `prescale run
 * --once` against a real Prometheus and the fake API server (see the second half).
 *
 * The policy tests hand-build what a tick observes (scale, pods, one input per metric, each
 * input parsed by prom_parse_response from a hand-written body) and check the decision
 * against counts worked out by hand from the HPA rules (SEMANTICS.md), written next to each
 * assertion.
 */
#include <cjson/cJSON.h>
#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "cfg.h"
#include "engine.h"
#include "http.h"
#include "prom.h"
#include "ps_alloc.h"
#include "ps_buf.h"
#include "ps_clock.h"
#include "tick.h"

#define CTL_DATA PS_TEST_DATA "/ctl"
#define T0 ((int64_t)1767225600000) /* 2026-01-01T00:00:00Z */
#define SEC ((int64_t)1000)
#define MIN ((int64_t)60000)

/* ---- helpers ---- */

static struct cfg *load(const char *name)
{
	char path[512];
	snprintf(path, sizeof(path), "%s/%s", CTL_DATA, name);
	struct cfg *c = NULL;
	struct ps_diag d;
	ps_diag_clear(&d);
	enum ps_err e = cfg_load(path, &c, NULL, &d);
	cr_assert_eq(e, PS_OK, "%s: %s", path, ps_diag_msg(&d));
	return c;
}

static const struct cfg_target *target(struct cfg *c, const char *key)
{
	const struct cfg_target *t = cfg_target_find(c, key);
	cr_assert_not_null(t, "no target %s", key);
	return t;
}

/* A vector body of <n> series: labels[i] (a JSON object's inside, may be "") and values[i]
 * (as Prometheus writes them: "42", "NaN", "+Inf"). */
static char *vector_body(size_t n, const char *const *labels, const char *const *values)
{
	static char buf[8192];
	size_t at = (size_t)snprintf(buf, sizeof(buf),
	                             "{\"status\":\"success\",\"data\":{\"resultType\":\"vector\","
	                             "\"result\":[");
	for (size_t i = 0; i < n; i++)
		at += (size_t)snprintf(buf + at, sizeof(buf) - at,
		                       "%s{\"metric\":{%s},\"value\":[1767225600,\"%s\"]}",
		                       i ? "," : "", labels[i], values[i]);
	snprintf(buf + at, sizeof(buf) - at, "]}}");
	return buf;
}

static void parse(const char *body, const char *key_label, struct prom_result *r)
{
	struct prom_parse_opts o = {.key_label = key_label};
	struct ps_diag d;
	enum ps_err e = prom_parse_response(body, strlen(body), &o, r, &d);
	cr_assert_eq(e, PS_OK, "%s", ps_diag_msg(&d));
}

/* Maps <body> for metric <m> into <in>, as a tick does. */
static void input_from(struct tick_input *in, const struct cfg_metric *m, const char *body,
                       int64_t now)
{
	memset(in, 0, sizeof(*in));
	struct prom_result r;
	parse(body, m->per_pod ? m->pod.pod_label : NULL, &r);
	struct ps_diag d;
	ps_diag_clear(&d);
	in->err = tick_values_from_result(&r, m, now, &in->values, &d);
	if (in->err)
		snprintf(in->error, sizeof(in->error), "%s", ps_diag_msg(&d));
	prom_result_release(&r);
}

/* One scalar-ish sample: a vector of one series with value <v>. */
static void input_value(struct tick_input *in, const struct cfg_metric *m, const char *v,
                        int64_t now)
{
	const char *labels[] = {""};
	const char *values[] = {v};
	input_from(in, m, vector_body(1, labels, values), now);
}

static void input_fail(struct tick_input *in, const char *why)
{
	memset(in, 0, sizeof(*in));
	in->err = PS_EUNAVAIL;
	snprintf(in->error, sizeof(in->error), "%s", why);
}

static struct eng_pod pod(const char *name)
{
	return (struct eng_pod){.name = name,
	                        .phase = ENG_PHASE_RUNNING,
	                        .has_ready_condition = true,
	                        .ready = true,
	                        .ready_transition_ms = T0 - 3600 * SEC,
	                        .has_start_time = true,
	                        .start_time_ms = T0 - 3600 * SEC};
}

struct fixture {
	struct cfg *cfg;
	const struct cfg_target *t;
	struct tick_target *st;
	struct tick_record rec;
};

static void fixture_open(struct fixture *f, const char *key)
{
	memset(f, 0, sizeof(*f));
	f->cfg = load("policy.yaml");
	f->t = target(f->cfg, key);
	struct ps_diag d;
	cr_assert_eq(tick_target_new(NULL, f->t, &f->st, &d), PS_OK, "%s", ps_diag_msg(&d));
}

static void fixture_close(struct fixture *f)
{
	tick_target_free(f->st);
	cfg_unref(f->cfg);
}

/* Decides at <now> with <current> replicas (status the same), <n_pods> pods, <in> (consumed). */
static void decide(struct fixture *f, int64_t now, int32_t current, const struct eng_pod *pods,
                   size_t n_pods, struct tick_input *in)
{
	struct tick_obs o = {.now_ms = now,
	                     .spec_replicas = current,
	                     .status_replicas = current,
	                     .selector = ENG_SELECTOR_OK,
	                     .pods = pods,
	                     .n_pods = n_pods,
	                     .inputs = in};
	struct ps_diag d;
	ps_diag_clear(&d);
	cr_assert_eq(tick_decide(f->st, f->t, &o, &f->rec, &d), PS_OK, "%s", ps_diag_msg(&d));
	for (size_t i = 0; i < f->t->n_metrics; i++)
		tick_values_release(&in[i].values);
}

/* ---- mapping ---- */

Test(tick, a_per_pod_vector_is_keyed_by_the_pod_label_sorted_without_nan_or_keyless_series)
{
	struct cfg *c = load("policy.yaml");
	const struct cfg_metric *m = &target(c, "shop/Deployment/web")->metrics[0];
	const char *labels[] = {"\"pod\":\"web-2\"", "\"pod\":\"web-1\"", "\"pod\":\"web-3\"",
	                        "\"instance\":\"x\""};
	const char *values[] = {"250", "150", "NaN", "7"};
	struct prom_result r;
	parse(vector_body(4, labels, values), "pod", &r);
	struct tick_values v;
	struct ps_diag d;
	cr_assert_eq(tick_values_from_result(&r, m, T0, &v, &d), PS_OK, "%s", ps_diag_msg(&d));
	cr_assert_eq(v.n, 2);
	cr_expect_str_eq(v.keys[0], "web-1");
	cr_expect_eq(v.v[0], 150.0);
	cr_expect_str_eq(v.keys[1], "web-2");
	cr_expect_eq(v.v[1], 250.0);
	cr_expect_eq(v.ts[0], T0);
	cr_expect_eq(v.window_ms, 60 * SEC, "the query's [1m]");
	cr_expect_eq(tick_values_aggregate(&v, m), 200.0, "the per-pod mean");
	tick_values_release(&v);
	prom_result_release(&r);
	cfg_unref(c);
}

Test(tick, per_pod_values_join_the_pods_by_name_and_missing_pods_follow_the_hpa_rule)
{
	struct fixture f;
	fixture_open(&f, "shop/Deployment/web");
	const char *labels[] = {"\"pod\":\"web-2\"", "\"pod\":\"web-1\"", "\"pod\":\"gone-7\""};
	const char *values[] = {"250", "150", "900"};
	struct tick_input in[1];
	input_from(&in[0], &f.t->metrics[0], vector_body(3, labels, values), T0);
	/* web-9 is Running and Ready but has no sample; gone-7 is not one of the target's pods (a
	 * namespace-wide query): its series is left out. */
	struct eng_pod pods[] = {pod("web-2"), pod("web-1"), pod("web-9")};
	decide(&f, T0, 3, pods, 3, in);
	const struct eng_metric_row *row = &f.rec.d.rows[0];
	cr_assert(row->ok, "%s", row->error);
	/* Average of the pods with samples (250 + 150) / 2 = 200 per pod against 100: ratio 2, a
	 * scale-up, so the missing pod counts as 0: (250 + 150 + 0) / (3 x 100) = 1.333, times 3
	 * samples = 4 replicas; the legacy cap max(2 x 3, 4) = 6 does not bind. */
	cr_expect_eq(row->current_milli, 200000);
	cr_expect_eq(row->ready_pods, 2);
	cr_expect_eq(row->missing_pods, 1);
	cr_expect_eq(f.rec.desired, 4);
	cr_expect(f.rec.write);
	cr_expect_eq(f.rec.m[0].state, TICK_M_OK);
	cr_expect_eq(f.rec.m[0].value, 200.0, "the mean over the target's pods");
	fixture_close(&f);
}

Test(tick, nan_infinities_and_empty_results_are_no_data_never_zero)
{
	struct cfg *c = load("policy.yaml");
	const struct cfg_metric *ext = &target(c, "shop/Deployment/worker")->metrics[0];
	const struct cfg_metric *pp = &target(c, "shop/Deployment/web")->metrics[0];
	const struct {
		const struct cfg_metric **m;
		const char *body;
		const char *msg;
	} cases[] = {
	    {&ext,
	     "{\"status\":\"success\",\"data\":{\"resultType\":\"vector\",\"result\":[{\"metric\":"
	     "{},\"value\":[1767225600,\"NaN\"]}]}}",
	     "no data: the value is NaN"},
	    {&ext,
	     "{\"status\":\"success\",\"data\":{\"resultType\":\"scalar\",\"result\":[1767225600,"
	     "\"+Inf\"]}}",
	     "no data: the value is +Inf"},
	    {&ext, "{\"status\":\"success\",\"data\":{\"resultType\":\"vector\",\"result\":[]}}",
	     "no data: the query returned no series"},
	    {&ext,
	     "{\"status\":\"success\",\"data\":{\"resultType\":\"vector\",\"result\":[{\"metric\":"
	     "{\"q\":\"a\"},\"value\":[1767225600,\"4\"]},{\"metric\":{\"q\":\"b\"},\"value\":"
	     "[1767225600,\"-Inf\"]}]}}",
	     "no data: series {q=\"b\"} is NaN or infinite (a sum of the others could "
	     "under-count)"},
	    {&pp,
	     "{\"status\":\"success\",\"data\":{\"resultType\":\"vector\",\"result\":[{\"metric\":"
	     "{\"pod\":\"a\"},\"value\":[1767225600,\"NaN\"]}]}}",
	     "no data: every series is NaN or infinite"},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		const struct cfg_metric *m = *cases[i].m;
		struct prom_result r;
		parse(cases[i].body, m->per_pod ? "pod" : NULL, &r);
		struct tick_values v;
		struct ps_diag d;
		ps_diag_clear(&d);
		cr_expect_eq(tick_values_from_result(&r, m, T0, &v, &d), PS_ENODATA, "case %zu", i);
		cr_expect_str_eq(ps_diag_msg(&d), cases[i].msg, "case %zu", i);
		cr_expect_eq(v.n, 0);
		prom_result_release(&r);
	}
	cfg_unref(c);
}

Test(tick, results_of_the_wrong_shape_say_how_to_fix_the_query)
{
	struct cfg *c = load("policy.yaml");
	const struct cfg_metric *pp = &target(c, "shop/Deployment/web")->metrics[0];
	struct cfg_metric obj = target(c, "shop/Deployment/worker")->metrics[0];
	obj.source = ENG_SRC_OBJECT;
	static const struct {
		bool per_pod;
		const char *body;
		const char *msg;
	} cases[] = {
	    {true,
	     "{\"status\":\"success\",\"data\":{\"resultType\":\"vector\",\"result\":[{\"metric\":"
	     "{\"pod\":\"a\",\"c\":\"x\"},\"value\":[1,\"1\"]},{\"metric\":{\"pod\":\"a\",\"c\":"
	     "\"y\"},\"value\":[1,\"2\"]}]}}",
	     "pod=\"a\" has several series: aggregate by the pod label, e.g. sum by (pod) (...)"},
	    {true,
	     "{\"status\":\"success\",\"data\":{\"resultType\":\"scalar\",\"result\":[1,\"3\"]}}",
	     "a per-pod metric needs one series per pod (label \"pod\"), the query returned a "
	     "scalar"},
	    {true,
	     "{\"status\":\"success\",\"data\":{\"resultType\":\"vector\",\"result\":[{\"metric\":"
	     "{\"instance\":\"a\"},\"value\":[1,\"1\"]}]}}",
	     "no series has the label \"pod\" (perPod.podLabel) that names the pod"},
	    {false,
	     "{\"status\":\"success\",\"data\":{\"resultType\":\"vector\",\"result\":[{\"metric\":"
	     "{\"a\":\"1\"},\"value\":[1,\"1\"]},{\"metric\":{\"a\":\"2\"},\"value\":[1,\"2\"]}]}}",
	     "the query returned 2 series; an Object metric needs one value: aggregate it, e.g. "
	     "with sum(...) or max(...)"},
	    {false,
	     "{\"status\":\"success\",\"data\":{\"resultType\":\"matrix\",\"result\":[{\"metric\":"
	     "{},\"values\":[[1,\"1\"]]}]}}",
	     "the query returned a range vector (matrix); an instant vector or a scalar is needed"},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		const struct cfg_metric *m = cases[i].per_pod ? pp : &obj;
		struct prom_result r;
		parse(cases[i].body, m->per_pod ? "pod" : NULL, &r);
		struct tick_values v;
		struct ps_diag d;
		ps_diag_clear(&d);
		cr_expect_eq(tick_values_from_result(&r, m, T0, &v, &d), PS_EMETRIC, "case %zu", i);
		cr_expect_str_eq(ps_diag_msg(&d), cases[i].msg, "case %zu", i);
		prom_result_release(&r);
	}
	cfg_unref(c);
}

Test(tick, the_sample_window_is_the_longest_range_selector_of_the_query)
{
	cr_expect_eq(tick_query_window_ms("sum(rate(x[1m]))"), 60 * SEC);
	cr_expect_eq(tick_query_window_ms("max_over_time(rate(x[30s])[5m:15s])"), 5 * MIN);
	cr_expect_eq(tick_query_window_ms("sum(x{a=\"b\"})"), 0);
	cr_expect_eq(tick_query_window_ms("x[bad]"), 0);
	cr_expect_eq(tick_milli(1.5), 1500);
	cr_expect_eq(tick_milli(-0.0004), 0);
	cr_expect_eq(tick_milli(1e300), INT64_MAX);
}

/* ---- onError, staleness, fallback ---- */

Test(tick, on_error_hold_makes_the_metric_invalid_no_scale_down_but_scale_up_goes_on)
{
	struct fixture f;
	fixture_open(&f, "shop/Deployment/worker");
	struct tick_input in[2];
	/* backlog fails (hold); lag 60 s against 30 per pod on 4 replicas asks ceil(60/30) = 2. */
	input_fail(&in[0], "connection refused");
	input_value(&in[1], &f.t->metrics[1], "60", T0);
	decide(&f, T0, 4, NULL, 0, in);
	cr_expect_eq(f.rec.m[0].state, TICK_M_FAILED);
	cr_expect_eq(f.rec.d.rule, ENG_RULE_METRICS_FAILED,
	             "an invalid metric blocks the "
	             "scale-down");
	cr_expect_eq(f.rec.desired, 4);
	cr_expect_not(f.rec.write);
	cr_expect_eq(f.rec.failures, 1);
	/* lag 300 asks ceil(300/30) = 10; the default scale-up policies allow
	 * max(4 + 4 pods, 4 x 200%) = 8 within 15 s. */
	input_fail(&in[0], "connection refused");
	input_value(&in[1], &f.t->metrics[1], "300", T0 + 15 * SEC);
	decide(&f, T0 + 15 * SEC, 4, NULL, 0, in);
	cr_expect_eq(f.rec.desired, 8);
	cr_expect(f.rec.write);
	cr_expect_eq(f.rec.failures, 2, "still a failed tick");
	fixture_close(&f);
}

Test(tick, on_error_ignore_leaves_the_metric_out_but_still_holds_a_scale_down)
{
	struct fixture f;
	fixture_open(&f, "shop/Deployment/worker");
	struct tick_input in[2];
	/* lag fails (ignore); backlog 20 asks ceil(20/10) = 2 < 4: held. */
	input_value(&in[0], &f.t->metrics[0], "20", T0);
	input_fail(&in[1], "execution: query timed out");
	decide(&f, T0, 4, NULL, 0, in);
	cr_expect_eq(f.rec.m[1].state, TICK_M_IGNORED);
	cr_expect_eq(f.rec.m[1].row, -1, "not in the decision");
	cr_expect_eq(f.rec.d.n_rows, 1);
	cr_expect_eq(f.rec.rule, TICK_RULE_HELD);
	cr_expect_str_eq(f.rec.reason, "scale-down to 2 held: lag (onError: ignore) has no value: "
	                               "execution: query timed out");
	cr_expect_eq(f.rec.desired, 4);
	cr_expect_not(f.rec.write);
	cr_expect_eq(f.rec.failures, 0, "an ignored metric is not a failed tick");
	/* backlog 100 asks 10: up to the policy's 8. */
	input_value(&in[0], &f.t->metrics[0], "100", T0 + 15 * SEC);
	input_fail(&in[1], "execution: query timed out");
	decide(&f, T0 + 15 * SEC, 4, NULL, 0, in);
	cr_expect_eq(f.rec.desired, 8);
	cr_expect(f.rec.write);
	cr_expect_eq(f.rec.rule, TICK_RULE_ENGINE);
	fixture_close(&f);
}

Test(tick, a_failed_query_reuses_the_last_good_values_until_they_are_older_than_staleness)
{
	struct fixture f;
	fixture_open(&f, "shop/Deployment/worker");
	struct tick_input in[2];
	input_value(&in[0], &f.t->metrics[0], "60", T0);
	input_value(&in[1], &f.t->metrics[1], "30", T0);
	decide(&f, T0, 4, NULL, 0, in); /* backlog asks ceil(60/10) = 6 */
	cr_expect_eq(f.rec.desired, 6);
	/* 60 s later backlog fails: its 60 from T0 (60 s old, staleness 2m) still counts. */
	input_fail(&in[0], "connection refused");
	input_value(&in[1], &f.t->metrics[1], "30", T0 + MIN);
	decide(&f, T0 + MIN, 6, NULL, 0, in);
	cr_expect_eq(f.rec.m[0].state, TICK_M_STALE);
	cr_expect_eq(f.rec.m[0].stale_age_ms, MIN);
	cr_expect_str_eq(f.rec.m[0].error, "connection refused");
	cr_expect(f.rec.d.rows[0].ok);
	cr_expect_eq(f.rec.d.rows[0].current_milli, 10000, "60 over 6 replicas");
	cr_expect_eq(f.rec.desired, 6);
	cr_expect_eq(f.rec.failures, 0, "a stale reading is not a failure");
	/* At T0 + 2m01s the values are older than 2m: the metric fails (hold). */
	input_fail(&in[0], "connection refused");
	input_value(&in[1], &f.t->metrics[1], "30", T0 + 121 * SEC);
	decide(&f, T0 + 121 * SEC, 6, NULL, 0, in);
	cr_expect_eq(f.rec.m[0].state, TICK_M_FAILED);
	cr_expect_eq(f.rec.failures, 1);
	fixture_close(&f);
}

Test(tick, after_failure_threshold_failed_ticks_the_fallback_count_applies_and_recovers)
{
	struct fixture f;
	fixture_open(&f, "shop/Deployment/worker");
	struct tick_input in[2];
	int64_t now = T0;
	for (int k = 1; k <= 2; k++, now += 15 * SEC) {
		input_fail(&in[0], "connection refused");
		input_value(&in[1], &f.t->metrics[1], "30", now);
		decide(&f, now, 3, NULL, 0, in);
		cr_expect_eq(f.rec.failures, k);
	}
	/* The second failed tick reaches failureThreshold 2: 5 replicas. */
	cr_expect(f.rec.fallback_active);
	cr_expect_eq(f.rec.rule, TICK_RULE_FALLBACK);
	cr_expect_eq(f.rec.desired, 5);
	cr_expect(f.rec.write);
	cr_expect_str_eq(f.rec.reason, "fallback after 2 failed ticks: 5 replicas");
	tick_target_written(f.st, f.t, &f.rec, true, NULL);
	cr_expect(f.rec.wrote);
	/* Data is back: backlog 30 over 5 replicas asks 3; no window, so 3; recovered. */
	input_value(&in[0], &f.t->metrics[0], "30", now);
	input_value(&in[1], &f.t->metrics[1], "30", now);
	decide(&f, now, 5, NULL, 0, in);
	cr_expect(f.rec.recovered);
	cr_expect_not(f.rec.fallback_active);
	cr_expect_eq(f.rec.failures, 0);
	cr_expect_eq(f.rec.rule, TICK_RULE_ENGINE);
	cr_expect_eq(f.rec.desired, 3);
	fixture_close(&f);
}

Test(tick, a_fallback_without_replicas_holds_the_current_count)
{
	struct fixture f;
	fixture_open(&f, "shop/Deployment/hold");
	struct tick_input in[1];
	for (int k = 1; k <= 3; k++) {
		input_fail(&in[0], "connection refused");
		decide(&f, T0 + k * 15 * SEC, 7, NULL, 0, in);
	}
	cr_expect_eq(f.rec.failures, 3);
	cr_expect(f.rec.fallback_active);
	cr_expect_eq(f.rec.rule, TICK_RULE_FALLBACK);
	cr_expect_eq(f.rec.desired, 7);
	cr_expect_not(f.rec.write);
	cr_expect_str_eq(f.rec.reason, "fallback after 3 failed ticks: holding 7 replicas");
	fixture_close(&f);
}

/* ---- scale to zero ---- */

Test(tick, every_metric_at_or_below_activation_for_the_cooldown_scales_to_zero)
{
	struct fixture f;
	fixture_open(&f, "batch/Deployment/jobs");
	struct tick_input in[1];
	/* 3 waiting <= 5: inactive from T0; the normal math (floor 1) asks ceil(3/10) = 1. */
	input_value(&in[0], &f.t->metrics[0], "3", T0);
	decide(&f, T0, 1, NULL, 0, in);
	cr_expect_eq(f.rec.m[0].activity, TICK_ACT_INACTIVE);
	cr_expect(f.rec.has_inactive);
	cr_expect_eq(f.rec.inactive_since_ms, T0);
	cr_expect_eq(f.rec.desired, 1);
	cr_expect_not(f.rec.write);
	/* 8 > 5 at T0 + 2m: active again, the stretch starts over. */
	input_value(&in[0], &f.t->metrics[0], "8", T0 + 2 * MIN);
	decide(&f, T0 + 2 * MIN, 1, NULL, 0, in);
	cr_expect_eq(f.rec.m[0].activity, TICK_ACT_ACTIVE);
	cr_expect_not(f.rec.has_inactive);
	/* Inactive from T0 + 3m; not yet at T0 + 7m59s; at T0 + 8m the 5m cooldown is over. */
	input_value(&in[0], &f.t->metrics[0], "5", T0 + 3 * MIN);
	decide(&f, T0 + 3 * MIN, 1, NULL, 0, in);
	input_value(&in[0], &f.t->metrics[0], "0", T0 + 8 * MIN - SEC);
	decide(&f, T0 + 8 * MIN - SEC, 1, NULL, 0, in);
	cr_expect_eq(f.rec.desired, 1);
	input_value(&in[0], &f.t->metrics[0], "0", T0 + 8 * MIN);
	decide(&f, T0 + 8 * MIN, 1, NULL, 0, in);
	cr_expect_eq(f.rec.rule, TICK_RULE_SCALE_TO_ZERO);
	cr_expect_eq(f.rec.desired, 0);
	cr_expect(f.rec.write);
	cr_expect_str_eq(f.rec.reason, "every metric at or below its activation value for 5m");
	tick_target_written(f.st, f.t, &f.rec, true, NULL);
	bool stz = false;
	for (size_t i = 0; i < f.rec.d.n_conditions; i++)
		if (f.rec.d.conditions[i].type == ENG_COND_SCALED_TO_ZERO)
			stz = f.rec.d.conditions[i].status;
	cr_expect(stz, "ScaledToZero=True after the write");
	fixture_close(&f);
}

Test(tick, at_zero_a_metric_above_activation_wakes_the_target_through_the_normal_math)
{
	struct fixture f;
	fixture_open(&f, "batch/Deployment/jobs");
	struct tick_input in[1];
	/* 4 <= 5: stay at zero. */
	input_value(&in[0], &f.t->metrics[0], "4", T0);
	decide(&f, T0, 0, NULL, 0, in);
	cr_expect_eq(f.rec.rule, TICK_RULE_IDLE);
	cr_expect_eq(f.rec.desired, 0);
	cr_expect_not(f.rec.write);
	cr_expect_str_eq(f.rec.reason, "every metric is at or below its activation value");
	/* 50 > 5: from zero, ceil(50/10) = 5 asked; the default scale-up policies allow
	 * max(0 + 4 pods, 0 x 200%) = 4 within 15 s. */
	input_value(&in[0], &f.t->metrics[0], "50", T0 + 15 * SEC);
	decide(&f, T0 + 15 * SEC, 0, NULL, 0, in);
	cr_expect_eq(f.rec.rule, TICK_RULE_ACTIVATION);
	cr_expect_eq(f.rec.desired, 4);
	cr_expect(f.rec.write);
	cr_expect_str_eq(f.rec.reason, "waiting is above its activation value (50 > 5)");
	/* 6 > 5 asks ceil(6/10) = 1: at least one replica. */
	input_value(&in[0], &f.t->metrics[0], "6", T0 + 30 * SEC);
	decide(&f, T0 + 30 * SEC, 0, NULL, 0, in);
	cr_expect_eq(f.rec.desired, 1);
	cr_expect(f.rec.write);
	/* Missing data at zero: nothing wakes it, nothing is written. */
	input_fail(&in[0], "connection refused");
	decide(&f, T0 + 45 * SEC, 0, NULL, 0, in);
	cr_expect_eq(f.rec.rule, TICK_RULE_IDLE);
	cr_expect_eq(f.rec.desired, 0);
	cr_expect_not(f.rec.write);
	fixture_close(&f);
}

Test(tick, missing_data_never_scales_to_zero)
{
	struct fixture f;
	fixture_open(&f, "batch/Deployment/jobs");
	struct tick_input in[1];
	input_value(&in[0], &f.t->metrics[0], "0", T0);
	decide(&f, T0, 1, NULL, 0, in);
	input_fail(&in[0], "connection refused");
	decide(&f, T0 + 6 * MIN, 1, NULL, 0, in);
	cr_expect_eq(f.rec.m[0].activity, TICK_ACT_UNKNOWN);
	cr_expect_not(f.rec.has_inactive);
	cr_expect_eq(f.rec.desired, 1);
	cr_expect_not(f.rec.write);
	fixture_close(&f);
}

/* ---- pause, restart ---- */

Test(tick, a_paused_target_is_decided_and_reported_but_not_written)
{
	struct fixture f;
	fixture_open(&f, "shop/Deployment/paused");
	struct tick_input in[1];
	input_value(&in[0], &f.t->metrics[0], "60", T0); /* asks 6 */
	decide(&f, T0, 2, NULL, 0, in);
	cr_expect_str_eq(tick_rule_name(&f.rec), "paused");
	cr_expect_str_eq(f.rec.paused_by, "spec.paused");
	cr_expect_eq(f.rec.desired, 4, "what it would do: the legacy cap max(2 x 2, 4)");
	cr_expect_not(f.rec.write);
	char reason[600];
	tick_format_reason(&f.rec, reason, sizeof(reason));
	cr_expect_str_eq(reason, "paused (spec.paused): would scale up: external metric backlog "
	                         "above target, limited: ScaleUpLimit");
	fixture_close(&f);
}

Test(tick, a_seeded_history_holds_the_current_count_for_one_window_after_a_restart)
{
	struct fixture f;
	fixture_open(&f, "shop/Deployment/web");
	cr_expect_eq(tick_seed_count(f.t), 21, "5m of 15s ticks, T0 included");
	tick_target_seed_history(f.st, f.t, T0, 6);
	const char *labels[] = {"\"pod\":\"a\""};
	const char *values[] = {"50"};
	struct eng_pod pods[] = {pod("a"), pod("b"), pod("c"), pod("d"), pod("e"), pod("f")};
	struct tick_input in[1];
	/* Every pod at 50 against 100: the metrics ask 3 (of 6); the window holds 6. */
	const char *six[] = {"\"pod\":\"a\"", "\"pod\":\"b\"", "\"pod\":\"c\"",
	                     "\"pod\":\"d\"", "\"pod\":\"e\"", "\"pod\":\"f\""};
	const char *fifty[] = {"50", "50", "50", "50", "50", "50"};
	(void)labels;
	(void)values;
	input_from(&in[0], &f.t->metrics[0], vector_body(6, six, fifty), T0);
	decide(&f, T0, 6, pods, 6, in);
	cr_expect_eq(f.rec.d.metric_replicas, 3);
	cr_expect_eq(f.rec.desired, 6);
	cr_expect_eq(f.rec.d.rule, ENG_RULE_STABILIZATION);
	/* The last seed is at T0, like the engine's own first recommendation: at T0 + 5m it is
	 * exactly one window old and still counts (HPA drops only older ones); at T0 + 5m15s it
	 * is gone and the scale-down happens, no earlier than without a restart. */
	input_from(&in[0], &f.t->metrics[0], vector_body(6, six, fifty), T0 + 300 * SEC);
	decide(&f, T0 + 300 * SEC, 6, pods, 6, in);
	cr_expect_eq(f.rec.desired, 6);
	input_from(&in[0], &f.t->metrics[0], vector_body(6, six, fifty), T0 + 315 * SEC);
	decide(&f, T0 + 315 * SEC, 6, pods, 6, in);
	cr_expect_eq(f.rec.desired, 3);
	fixture_close(&f);
}

/* ---- forecasts ---- */

/* A load of 10, 20, 30, 40 repeating every minute (by wall-clock 15 s slot), fitted over the
 * hour before T0; T0's slot is the first of the cycle. */
static void fit_cycle(struct fixture *f)
{
	enum { N = 240 };
	int64_t ts[N];
	double v[N];
	for (int k = 0; k < N; k++) {
		ts[k] = T0 - (int64_t)(N - k) * 15 * SEC;
		v[k] = 10.0 * (double)(1 + (ts[k] / (15 * SEC)) % 4);
	}
	struct ps_diag d;
	cr_assert_eq(tick_target_fit(f->st, 0, ts, v, N, &d), PS_OK, "%s", ps_diag_msg(&d));
}

Test(tick, a_forecast_in_scale_mode_adds_the_replicas_the_next_tick_needs)
{
	struct fixture f;
	fixture_open(&f, "shop/Deployment/ahead");
	fit_cycle(&f);
	struct tick_input in[1];
	/* Now 10 (ceil(10/10) = 1 replica); seasonal-naive says 20 next (its errors on an exact
	 * cycle are 0, so no margin): ceil(20/10) = 2. */
	input_value(&in[0], &f.t->metrics[0], "10", T0);
	decide(&f, T0, 1, NULL, 0, in);
	cr_expect(f.rec.m[0].has_forecast, "%s", f.rec.m[0].forecast_note);
	cr_expect_eq(f.rec.m[0].forecast, 20.0);
	cr_expect_eq(f.rec.m[0].forecast_use, ENG_FORECAST_ACT);
	cr_expect_str_eq(f.rec.m[0].forecast_model, "seasonal-naive");
	cr_expect_eq(f.rec.d.metric_replicas, 1);
	cr_expect_eq(f.rec.d.forecast_replicas, 2);
	cr_expect_eq(f.rec.d.rule, ENG_RULE_FORECAST);
	cr_expect_eq(f.rec.desired, 2);
	char cell[64];
	tick_format_forecast(&f.rec, &f.rec.m[0], cell, sizeof(cell));
	cr_expect_str_eq(cell, "20 -> 2");
	fixture_close(&f);
}

Test(tick, a_forecast_in_observe_mode_is_reported_and_never_acted_on)
{
	struct fixture f;
	fixture_open(&f, "shop/Deployment/watch");
	fit_cycle(&f);
	struct tick_input in[1];
	input_value(&in[0], &f.t->metrics[0], "10", T0);
	decide(&f, T0, 1, NULL, 0, in);
	cr_expect_eq(f.rec.m[0].forecast, 20.0);
	cr_expect_eq(f.rec.m[0].forecast_use, ENG_FORECAST_OBSERVE);
	cr_expect_eq(f.rec.desired, 1);
	cr_expect_not(f.rec.write);
	char cell[64];
	tick_format_forecast(&f.rec, &f.rec.m[0], cell, sizeof(cell));
	cr_expect_str_eq(cell, "20 -> 2 (observe)");
	fixture_close(&f);
}

Test(tick, without_history_the_forecaster_warms_up_and_the_target_runs_reactively)
{
	struct fixture f;
	fixture_open(&f, "shop/Deployment/ahead");
	struct tick_input in[1];
	input_value(&in[0], &f.t->metrics[0], "30", T0);
	decide(&f, T0, 1, NULL, 0, in);
	cr_expect_not(f.rec.m[0].has_forecast);
	cr_expect(strncmp(f.rec.m[0].forecast_note, "warming up (1 of ", 17) == 0, "%s",
	          f.rec.m[0].forecast_note);
	cr_expect_eq(f.rec.desired, 3, "ceil(30/10), reactive");
	char cell[64];
	tick_format_forecast(&f.rec, &f.rec.m[0], cell, sizeof(cell));
	cr_expect_str_eq(cell, "warming up");
	fixture_close(&f);
}

/* ---- output ---- */

Test(tick, the_once_table_shows_every_target_metric_forecast_and_reason)
{
	struct fixture w, q;
	fixture_open(&w, "shop/Deployment/web");
	fixture_open(&q, "shop/Deployment/worker");
	struct tick_record recs[3];
	const char *labels[] = {"\"pod\":\"web-1\"", "\"pod\":\"web-2\""};
	const char *values[] = {"150", "250"};
	struct eng_pod pods[] = {pod("web-1"), pod("web-2")};
	struct tick_input in[2];
	input_from(&in[0], &w.t->metrics[0], vector_body(2, labels, values), T0);
	decide(&w, T0, 2, pods, 2, in); /* avg 200 vs 100: 4 */
	recs[0] = w.rec;
	input_value(&in[0], &q.t->metrics[0], "20", T0);
	input_fail(&in[1], "execution: query timed out");
	decide(&q, T0, 4, NULL, 0, in);
	recs[1] = q.rec;
	memset(&recs[2], 0, sizeof(recs[2]));
	snprintf(recs[2].key, sizeof(recs[2].key), "shop/Deployment/gone");
	recs[2].outcome = TICK_OUT_FAILED;
	recs[2].err = PS_ENOTFOUND;
	snprintf(recs[2].error, sizeof(recs[2].error),
	         "shop/Deployment/gone: GET https://127.0.0.1:6443/apis/apps/v1/namespaces/shop/"
	         "deployments/gone/scale: 404 Not Found: deployments.apps \"gone\" not found");
	struct ps_buf b;
	ps_buf_init(&b, 1 << 20);
	cr_assert_eq(tick_table_render(&b, recs, 3), PS_OK);
	const char *want =
	    "TARGET                  CURRENT  DESIRED  METRIC   VALUE/TARGET                  "
	    "FORECAST  REASON\n"
	    "shop/Deployment/web           2        4  rps      200/100 (avg)                 "
	    "-         scale up: pods metric rps above target\n"
	    "shop/Deployment/worker        4        4  backlog  5/10 (avg)                    "
	    "-         no change: scale-down to 2 held: lag (onError: ignore) has no value: "
	    "execution: query timed out\n"
	    "                                          lag      <unknown>/30 (avg) (ignored)  -\n"
	    "shop/Deployment/gone          -        -                                         "
	    "          error: shop/Deployment/gone: GET https://127.0.0.1:6443/apis/apps/v1/"
	    "namespaces/shop/deployments/gone/scale: 404 Not Found: deployments.apps \"gone\" not "
	    "found\n"
	    "\n"
	    "METRIC ERRORS\n"
	    "shop/Deployment/worker lag: ignored: execution: query timed out\n";
	cr_expect_str_eq(ps_buf_cstr(&b), want);
	ps_buf_release(&b);
	fixture_close(&w);
	fixture_close(&q);
}

Test(tick, the_json_record_carries_the_decision_and_each_metric)
{
	struct fixture f;
	fixture_open(&f, "shop/Deployment/worker");
	struct tick_input in[2];
	input_value(&in[0], &f.t->metrics[0], "20", T0);
	input_fail(&in[1], "execution: query timed out");
	decide(&f, T0, 4, NULL, 0, in);
	struct ps_buf b;
	ps_buf_init(&b, 1 << 20);
	cr_assert_eq(tick_record_json(&b, &f.rec), PS_OK);
	cJSON *j = cJSON_Parse(ps_buf_cstr(&b));
	cr_assert_not_null(j, "%s", ps_buf_cstr(&b));
	cr_expect_str_eq(cJSON_GetObjectItem(j, "target")->valuestring, "shop/Deployment/worker");
	cr_expect_str_eq(cJSON_GetObjectItem(j, "time")->valuestring, "2026-01-01T00:00:00.000Z");
	cr_expect_eq(cJSON_GetObjectItem(j, "current")->valueint, 4);
	cr_expect_eq(cJSON_GetObjectItem(j, "desired")->valueint, 4);
	cr_expect_str_eq(cJSON_GetObjectItem(j, "rule")->valuestring, "scale-down held");
	cJSON *m = cJSON_GetObjectItem(j, "metrics");
	cr_assert_eq(cJSON_GetArraySize(m), 2);
	cJSON *m0 = cJSON_GetArrayItem(m, 0), *m1 = cJSON_GetArrayItem(m, 1);
	cr_expect_eq(cJSON_GetObjectItem(m0, "value")->valuedouble, 20.0);
	cr_expect_str_eq(cJSON_GetObjectItem(m0, "valueTarget")->valuestring, "5/10 (avg)");
	cr_expect_eq(cJSON_GetObjectItem(cJSON_GetObjectItem(m0, "row"), "proposal")->valueint, 2);
	cr_expect_str_eq(cJSON_GetObjectItem(m1, "state")->valuestring, "ignored");
	cr_expect(cJSON_IsNull(cJSON_GetObjectItem(m1, "value")));
	cJSON_Delete(j);
	ps_buf_release(&b);
	fixture_close(&f);
}

/* ---- the configuration keys ---- */

Test(tick, the_new_keys_have_their_defaults_and_their_values)
{
	struct cfg *c = load("policy.yaml");
	const struct cfg_target *web = target(c, "shop/Deployment/web");
	cr_expect_eq(web->staleness_ms, 0);
	cr_expect_eq(web->cooldown_ms, 5 * MIN);
	cr_expect_eq(web->metrics[0].on_error, CFG_ON_ERROR_HOLD);
	cr_expect_not(web->metrics[0].has_activation);
	const struct cfg_target *q = target(c, "shop/Deployment/worker");
	cr_expect_eq(q->staleness_ms, 2 * MIN);
	cr_expect_eq(q->metrics[1].on_error, CFG_ON_ERROR_IGNORE);
	cr_expect_str_eq(cfg_on_error_name(q->metrics[1].on_error), "ignore");
	const struct cfg_target *j = target(c, "batch/Deployment/jobs");
	cr_expect(j->metrics[0].has_activation);
	cr_expect_eq(j->metrics[0].activation_milli, 5000);
	cfg_unref(c);
}

Test(tick, bad_values_of_the_new_keys_are_refused_with_their_position)
{
	struct cfg *c = NULL;
	struct cfg_errors *errs = NULL;
	struct ps_diag d;
	cr_assert_eq(cfg_load(CTL_DATA "/bad-keys.yaml", &c, &errs, &d), PS_ECONFIG);
	cr_assert_eq(cfg_errors_count(errs), 4);
	const char *want[] = {
	    CTL_DATA "/bad-keys.yaml:8:14: spec.staleness: 2h is out of range (0s..1h)",
	    CTL_DATA "/bad-keys.yaml:9:13: spec.cooldown: invalid duration \"soon\" (expected a "
	             "number and a unit: ms, s, m, h or d, e.g. \"1m30s\")",
	    CTL_DATA "/bad-keys.yaml:13:16: spec.metrics[0].onError: invalid value \"skip\" "
	             "(expected hold or ignore)",
	    CTL_DATA "/bad-keys.yaml:14:24: spec.metrics[0].activationValue: -1 is out of range "
	             "(>= 0)",
	};
	for (size_t i = 0; i < 4; i++)
		cr_expect_str_eq(cfg_errors_at(errs, i), want[i]);
	cfg_errors_free(errs);
}

/* ==================== end to end: prescale run against real servers ====================
 *
 * DESIGN
 * Each test starts its own servers in its own process (the suite's .init): a Prometheus 2.42
 * loaded by `promtool tsdb create-blocks-from openmetrics` with two hours of known series
 * (15 s apart, ending now), and tests/fakeapi/fake_apiserver.py seeded with
 * tests/data/ctl/fakeapi.json. It writes a kubeconfig for the fake (its CA, a service-account
 * token with the RBAC prescale needs) and the configuration from tests/data/ctl/e2e.yaml, then
 * runs the prescale binary and reads the fake's request log through its control API. Servers
 * run as leaders of their own process groups with PR_SET_PDEATHSIG; .fini kills and reaps
 * them. Every wait is bounded. Missing prometheus, promtool or python3 is a failure, not a
 * skip: hack/test installs them.
 *
 * The series (values as written, so the expected table is worked out by hand):
 *   http_rps{namespace="shop",pod="web-a"} 150, pod="web-b" 250, pod="other-1" 999
 *   queue_backlog{queue="orders"} 44       jobs_waiting{queue="batch"} 0
 *   broken_ratio NaN
 */

#define E2E_STEP_S 15
#define E2E_WINDOW_S 7200
#define E2E_READY_MS 30000
#define E2E_TOOL_MS 60000
#define E2E_STOP_MS 5000

struct e2e {
	char dir[128];
	pid_t prom_pid, fake_pid;
	int fake_stdin; /* write end: closing it stops the fake (--exit-on-stdin-eof) */
	int prom_port;
	char prom_url[64];
	char fake_url[128];
	char fake_ca[512];
	char admin_token[128];
	char config[256];
	char kubeconfig[256];
};

static struct e2e ee;

static int64_t mono_ms(void)
{
	return ps_clock_mono_ms(ps_clock_real());
}

static void nap(long ms)
{
	struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
	while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
		;
}

static bool in_path(const char *name)
{
	const char *path = getenv("PATH");
	char buf[4096];
	while (path && *path) {
		size_t n = strcspn(path, ":");
		snprintf(buf, sizeof(buf), "%.*s/%s", (int)n, path, name);
		if (n && access(buf, X_OK) == 0)
			return true;
		path += n;
		if (*path == ':')
			path++;
	}
	return false;
}

/* Starts <argv> as the leader of a new process group, killed with this process. stdin from
 * <in_fd> (-1: /dev/null), stdout to <out_fd> (-1: <log>), stderr to <log>. */
static pid_t spawn(char *const argv[], int in_fd, int out_fd, const char *log)
{
	pid_t parent = getpid();
	pid_t pid = fork();
	cr_assert_neq(pid, -1, "fork: %s", strerror(errno));
	if (pid == 0) {
		setpgid(0, 0);
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		if (getppid() != parent)
			_exit(126);
		int fd = open(log, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
		int null = open("/dev/null", O_RDONLY);
		dup2(in_fd >= 0 ? in_fd : null, 0);
		dup2(out_fd >= 0 ? out_fd : fd, 1);
		dup2(fd, 2);
		execvp(argv[0], argv);
		_exit(127);
	}
	setpgid(pid, pid);
	return pid;
}

/* Waits for <pid> up to <timeout_ms>; returns its exit status, or -1 (killed on timeout or by
 * a signal). */
static int wait_exit(pid_t pid, int64_t timeout_ms)
{
	int64_t deadline = mono_ms() + timeout_ms;
	int status = 0;
	while (waitpid(pid, &status, WNOHANG) == 0) {
		if (mono_ms() > deadline) {
			kill(-pid, SIGKILL);
			waitpid(pid, &status, 0);
			return -1;
		}
		nap(10);
	}
	return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

static void stop_group(pid_t *pid)
{
	if (*pid <= 0)
		return;
	kill(-*pid, SIGTERM);
	if (wait_exit(*pid, E2E_STOP_MS) == -1)
		kill(-*pid, SIGKILL);
	*pid = 0;
}

static int free_port(void)
{
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	cr_assert_geq(fd, 0);
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = 0};
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	cr_assert_eq(bind(fd, (struct sockaddr *)&a, sizeof(a)), 0);
	socklen_t len = sizeof(a);
	cr_assert_eq(getsockname(fd, (struct sockaddr *)&a, &len), 0);
	close(fd);
	return ntohs(a.sin_port);
}

static char *slurp(const char *path)
{
	struct ps_buf b;
	ps_buf_init(&b, 64 << 20);
	struct ps_diag d;
	cr_assert_eq(ps_buf_read_file(&b, path, &d), PS_OK, "%s", ps_diag_msg(&d));
	char *s = ps_buf_detach(&b);
	cr_assert_not_null(s);
	return s;
}

static void write_file(const char *path, const char *text)
{
	FILE *f = fopen(path, "w");
	cr_assert_not_null(f, "%s: %s", path, strerror(errno));
	cr_assert_eq(fputs(text, f) >= 0, true);
	cr_assert_eq(fclose(f), 0);
}

static void om_series(FILE *f, const char *name, const char *labels, const char *value,
                      int64_t t0_s)
{
	for (int i = 0; i <= E2E_WINDOW_S / E2E_STEP_S; i++)
		fprintf(f, "%s{%s} %s %lld\n", name, labels, value,
		        (long long)(t0_s + (int64_t)i * E2E_STEP_S));
}

static void prometheus_start(void)
{
	cr_assert(in_path("prometheus") && in_path("promtool"),
	          "prometheus and promtool are needed (Debian package prometheus; hack/test "
	          "installs it)");
	char input[256], data[256], config[256], log[256];
	snprintf(input, sizeof(input), "%s/input.om", ee.dir);
	snprintf(data, sizeof(data), "%s/data", ee.dir);
	snprintf(config, sizeof(config), "%s/prometheus.yml", ee.dir);
	snprintf(log, sizeof(log), "%s/prometheus.log", ee.dir);
	int64_t now_s = ps_clock_wall_ms(ps_clock_real()) / 1000;
	int64_t t0 = now_s / E2E_STEP_S * E2E_STEP_S - E2E_WINDOW_S;
	FILE *f = fopen(input, "w");
	cr_assert_not_null(f);
	fprintf(f, "# TYPE http_rps gauge\n");
	om_series(f, "http_rps", "namespace=\"shop\",pod=\"web-a\"", "150", t0);
	om_series(f, "http_rps", "namespace=\"shop\",pod=\"web-b\"", "250", t0);
	om_series(f, "http_rps", "namespace=\"shop\",pod=\"other-1\"", "999", t0);
	fprintf(f, "# TYPE queue_backlog gauge\n");
	om_series(f, "queue_backlog", "queue=\"orders\"", "44", t0);
	fprintf(f, "# TYPE jobs_waiting gauge\n");
	om_series(f, "jobs_waiting", "queue=\"batch\"", "0", t0);
	fprintf(f, "# TYPE broken_ratio gauge\n");
	om_series(f, "broken_ratio", "", "NaN", t0);
	fprintf(f, "# EOF\n");
	cr_assert_eq(fclose(f), 0);
	char *tool[] = {"promtool", "tsdb", "create-blocks-from", "openmetrics", input, data, NULL};
	int rc = wait_exit(spawn(tool, -1, -1, log), E2E_TOOL_MS);
	cr_assert_eq(rc, 0, "promtool failed (%d); see %s", rc, log);
	write_file(config, "global:\n  scrape_interval: 1h\n");
	char a_config[300], a_data[300], a_listen[64];
	snprintf(a_config, sizeof(a_config), "--config.file=%s", config);
	snprintf(a_data, sizeof(a_data), "--storage.tsdb.path=%s", data);
	for (int attempt = 0; attempt < 3; attempt++) {
		ee.prom_port = free_port();
		snprintf(ee.prom_url, sizeof(ee.prom_url), "http://127.0.0.1:%d", ee.prom_port);
		snprintf(a_listen, sizeof(a_listen), "--web.listen-address=127.0.0.1:%d",
		         ee.prom_port);
		char *argv[] = {"prometheus",
		                a_config,
		                a_data,
		                a_listen,
		                "--storage.tsdb.retention.time=1d",
		                "--log.level=warn",
		                NULL};
		ee.prom_pid = spawn(argv, -1, -1, log);
		struct prom_config pc;
		prom_config_init(&pc);
		pc.url = ps_strdup(ee.prom_url);
		struct prom_client *c = NULL;
		cr_assert_eq(prom_client_new(&pc, &c, NULL), PS_OK);
		struct prom_query q = {.promql = "vector(1)", .timeout_ms = 1000};
		int64_t deadline = mono_ms() + E2E_READY_MS;
		bool ready = false;
		while (!ready && mono_ms() < deadline) {
			int status;
			if (waitpid(ee.prom_pid, &status, WNOHANG) == ee.prom_pid) {
				ee.prom_pid = 0;
				break;
			}
			struct prom_result r;
			if (prom_client_query(c, &q, NULL, &r, NULL) == PS_OK) {
				prom_result_release(&r);
				ready = true;
			} else {
				nap(20);
			}
		}
		prom_client_free(c);
		if (ready)
			return;
		stop_group(&ee.prom_pid);
	}
	cr_assert_fail("prometheus did not start; see %s", log);
}

static void json_copy(cJSON *j, const char *key, char *dst, size_t size)
{
	cJSON *v = cJSON_GetObjectItemCaseSensitive(j, key);
	cr_assert(cJSON_IsString(v), "the fake's ready line has no %s", key);
	snprintf(dst, size, "%s", v->valuestring);
}

static void fake_start(void)
{
	char script[512], log[256], cfg[512];
	snprintf(script, sizeof(script), "%s/tests/fakeapi/fake_apiserver.py", PS_SOURCE_DIR);
	snprintf(cfg, sizeof(cfg), "%s/fakeapi.json", CTL_DATA);
	snprintf(log, sizeof(log), "%s/fake.log", ee.dir);
	cr_assert(in_path("python3"), "python3 is needed for the fake API server");
	int in[2], out[2];
	cr_assert_eq(pipe(in), 0);
	cr_assert_eq(pipe(out), 0);
	char *argv[] = {"python3",   script,     "--port",
	                "0",         "--config", cfg,
	                "--timeout", "300",      "--exit-on-stdin-eof",
	                "--quiet",   NULL};
	ee.fake_pid = spawn(argv, in[0], out[1], log);
	close(in[0]);
	close(out[1]);
	ee.fake_stdin = in[1];
	char line[8192];
	size_t n = 0;
	int64_t deadline = mono_ms() + E2E_READY_MS;
	fcntl(out[0], F_SETFL, O_NONBLOCK);
	while (n < sizeof(line) - 1 && (n == 0 || line[n - 1] != '\n')) {
		cr_assert(mono_ms() < deadline, "the fake API server did not start; see %s", log);
		ssize_t got = read(out[0], line + n, sizeof(line) - 1 - n);
		if (got > 0)
			n += (size_t)got;
		else if (got == 0)
			cr_assert_fail("the fake API server exited; see %s", log);
		else
			nap(20);
	}
	line[n] = '\0';
	close(out[0]);
	cJSON *j = cJSON_Parse(line);
	cr_assert_not_null(j, "ready line: %s", line);
	json_copy(j, "url", ee.fake_url, sizeof(ee.fake_url));
	json_copy(j, "ca", ee.fake_ca, sizeof(ee.fake_ca));
	json_copy(j, "adminToken", ee.admin_token, sizeof(ee.admin_token));
	cJSON_Delete(j);
}

/* Writes the kubeconfig and the prescale configuration (ticks every <interval>). */
static void e2e_files(const char *interval)
{
	char text[4096];
	snprintf(ee.kubeconfig, sizeof(ee.kubeconfig), "%s/kubeconfig", ee.dir);
	snprintf(text, sizeof(text),
	         "apiVersion: v1\nkind: Config\nclusters:\n- name: fake\n  cluster: {server: "
	         "\"%s\", certificate-authority: \"%s\"}\nusers:\n- name: prescale\n  user: "
	         "{token: prescale-e2e-token}\ncontexts:\n- name: fake\n  context: {cluster: "
	         "fake, user: prescale, namespace: shop}\ncurrent-context: fake\n",
	         ee.fake_url, ee.fake_ca);
	write_file(ee.kubeconfig, text);
	char *tmpl = slurp(CTL_DATA "/e2e.yaml");
	struct ps_buf b;
	ps_buf_init(&b, 1 << 20);
	for (const char *p = tmpl; *p;) {
		if (strncmp(p, "@PROMETHEUS@", 12) == 0) {
			cr_assert_eq(ps_buf_append_str(&b, ee.prom_url), PS_OK);
			p += 12;
		} else if (strncmp(p, "@INTERVAL@", 10) == 0) {
			cr_assert_eq(ps_buf_append_str(&b, interval), PS_OK);
			p += 10;
		} else {
			cr_assert_eq(ps_buf_append(&b, p, 1), PS_OK);
			p++;
		}
	}
	snprintf(ee.config, sizeof(ee.config), "%s/prescale.yaml", ee.dir);
	write_file(ee.config, ps_buf_cstr(&b));
	ps_buf_release(&b);
	ps_free(tmpl);
}

static void e2e_init(void)
{
	memset(&ee, 0, sizeof(ee));
	ee.fake_stdin = -1;
	const char *base = getenv("TMPDIR");
	snprintf(ee.dir, sizeof(ee.dir), "%s/ps_tick_e2e.XXXXXX", base && *base ? base : "/tmp");
	cr_assert_not_null(mkdtemp(ee.dir));
	cr_assert_eq(http_global_init(NULL), PS_OK);
	prometheus_start();
	fake_start();
}

static void e2e_fini(void)
{
	if (ee.fake_stdin >= 0)
		close(ee.fake_stdin);
	stop_group(&ee.fake_pid);
	stop_group(&ee.prom_pid);
	if (ee.dir[0]) {
		char cmd[256];
		snprintf(cmd, sizeof(cmd), "rm -rf '%s'", ee.dir);
		int rc = system(cmd);
		(void)rc;
	}
}

/* The fake's control API with the admin token. Returns the HTTP status; the body in <out>
 * (may be NULL; ps_free it). */
static long control(const char *method, const char *path, const char *body, char **out)
{
	static char *ca;
	static size_t ca_len;
	if (!ca) {
		ca = slurp(ee.fake_ca);
		ca_len = strlen(ca);
	}
	char url[512];
	snprintf(url, sizeof(url), "%s%s", ee.fake_url, path);
	struct http_tls tls = {.ca_pem = ca, .ca_len = ca_len};
	struct http_request req = {.method = method,
	                           .url = url,
	                           .body = body,
	                           .body_len = body ? strlen(body) : 0,
	                           .content_type = body ? "application/json" : NULL,
	                           .bearer_token = ee.admin_token,
	                           .tls = &tls,
	                           .timeout_ms = 10000,
	                           .max_body = 64 << 20};
	struct http_client *c = NULL;
	cr_assert_eq(http_client_new(&c, NULL), PS_OK);
	struct http_response resp;
	http_response_init(&resp);
	struct ps_diag d;
	cr_assert_eq(http_do(c, &req, &resp, NULL, &d), PS_OK, "%s", ps_diag_msg(&d));
	long status = resp.status;
	if (out)
		*out = ps_strdup(ps_buf_cstr(&resp.body));
	http_response_release(&resp);
	http_client_free(c);
	return status;
}

/* The fake's request log as a cJSON array of entries (owned by the returned root). */
static cJSON *fake_log(cJSON **entries)
{
	char *body = NULL;
	cr_assert_eq(control("GET", "/_fake/log", NULL, &body), 200);
	cJSON *root = cJSON_Parse(body);
	ps_free(body);
	cr_assert_not_null(root);
	cr_expect_eq(cJSON_GetObjectItem(root, "validationFailures")->valueint, 0,
	             "prescale sent a body the real API server would reject");
	*entries = cJSON_GetObjectItem(root, "entries");
	return root;
}

/* Requests of the log with <method> whose path ends with <suffix> (NULL: any). */
static int count_requests(cJSON *entries, const char *method, const char *suffix,
                          const char *raw_query)
{
	int n = 0;
	cJSON *e;
	cJSON_ArrayForEach(e, entries)
	{
		const char *m = cJSON_GetObjectItem(e, "method")->valuestring;
		const char *p = cJSON_GetObjectItem(e, "path")->valuestring;
		cJSON *q = cJSON_GetObjectItem(e, "rawQuery");
		size_t lp = strlen(p), ls = suffix ? strlen(suffix) : 0;
		if (strcmp(m, method) != 0 || (suffix && (lp < ls || strcmp(p + lp - ls, suffix))))
			continue;
		if (raw_query && !(cJSON_IsString(q) && strcmp(q->valuestring, raw_query) == 0))
			continue;
		n++;
	}
	return n;
}

/* spec.replicas of deployment shop/<name> as the fake stores it. */
static int replicas_of(const char *name)
{
	char path[256], *body = NULL;
	snprintf(path, sizeof(path),
	         "/_fake/objects?apiVersion=apps/v1&kind=Deployment&namespace=shop&name=%s", name);
	cr_assert_eq(control("GET", path, NULL, &body), 200);
	cJSON *root = cJSON_Parse(body);
	ps_free(body);
	cJSON *item = cJSON_GetArrayItem(cJSON_GetObjectItem(root, "items"), 0);
	cr_assert_not_null(item, "no deployment %s", name);
	int r = cJSON_GetObjectItem(cJSON_GetObjectItem(item, "spec"), "replicas")->valueint;
	cJSON_Delete(root);
	return r;
}

/* Runs the prescale binary with <args> (NULL-terminated, after "run"); stdout into *out,
 * stderr into *err (ps_free both). Returns the exit status. */
static int prescale(const char *const *args, char **out, char **err)
{
	char o[300], e[300];
	snprintf(o, sizeof(o), "%s/stdout", ee.dir);
	snprintf(e, sizeof(e), "%s/stderr", ee.dir);
	unlink(o);
	unlink(e);
	char *argv[32] = {PS_BINARY, "run"};
	size_t n = 2;
	for (; args[n - 2] && n < 31; n++)
		argv[n] = (char *)args[n - 2];
	argv[n] = NULL;
	int fd = open(o, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	cr_assert_geq(fd, 0);
	int rc = wait_exit(spawn(argv, -1, fd, e), 120000);
	close(fd);
	*out = slurp(o);
	*err = slurp(e);
	return rc;
}

TestSuite(tick_e2e, .init = e2e_init, .fini = e2e_fini, .timeout = 240);

Test(tick_e2e, once_dry_run_prints_the_table_and_never_writes)
{
	e2e_files("15s");
	cr_assert_eq(control("DELETE", "/_fake/log", NULL, NULL), 200);
	const char *args[] = {"--once",       "--dry-run",   "-c", ee.config,
	                      "--kubeconfig", ee.kubeconfig, NULL};
	char *out, *err;
	int rc = prescale(args, &out, &err);
	/* web: (150 + 250) / 2 = 200 per pod against 100 on 2 pods: 4 (other-1 is not a pod of
	 * web); the legacy cap max(2 x 2, 4) = 4 does not bind.
	 * worker: 44 / 10 = 4.4, ceil 5; per pod 44 / 3 = 14.667. Seasonal-naive on a constant
	 * series forecasts 44, which asks 5 too.
	 * jobs: 0 <= 2 for the whole history: cooldown 10m already over, to zero.
	 * broken: NaN is no data: holds 3, and the target fails (exit 1). */
	const char *want =
	    "TARGET                  CURRENT  DESIRED  METRIC   VALUE/TARGET     FORECAST  REASON\n"
	    "shop/Deployment/web           2        4  rps      200/100 (avg)    -         scale "
	    "up: "
	    "pods metric rps above target\n"
	    "shop/Deployment/worker        3        5  backlog  14.667/10 (avg)  44 -> 5   scale "
	    "up: "
	    "external metric backlog above target\n"
	    "shop/Deployment/jobs          2        0  waiting  0/10 (avg)       -         scale "
	    "down: every metric at or below its activation value for 10m\n"
	    "shop/Deployment/broken        3        3  ratio    <unknown>/1      -         no "
	    "change: no metric could be read (FailedGetExternalMetric): holding\n"
	    "\n"
	    "METRIC ERRORS\n"
	    "shop/Deployment/broken ratio: failed: no data: the value is NaN\n"
	    "\n"
	    "dry run: nothing was written.\n";
	cr_expect_str_eq(out, want, "stderr:\n%s", err);
	cr_expect_eq(rc, 1, "a target failed");
	cJSON *entries;
	cJSON *root = fake_log(&entries);
	cr_expect_eq(count_requests(entries, "PATCH", NULL, NULL), 0, "a dry run never PATCHes");
	cr_expect_eq(count_requests(entries, "POST", NULL, NULL), 0, "nor creates Events");
	cr_expect_eq(count_requests(entries, "GET", "/deployments/web/scale", NULL), 1);
	cJSON_Delete(root);
	cr_expect_eq(replicas_of("web"), 2);
	ps_free(out);
	ps_free(err);
}

Test(tick_e2e, once_server_dry_run_sends_dry_run_all_then_live_writes_and_reports)
{
	e2e_files("15s");
	cr_assert_eq(control("DELETE", "/_fake/log", NULL, NULL), 200);
	const char *sdr[] = {"--once",       "--server-dry-run", "-c", ee.config,
	                     "--kubeconfig", ee.kubeconfig,      NULL};
	char *out, *err;
	cr_expect_eq(prescale(sdr, &out, &err), 1);
	cr_expect(strstr(out, "server dry run: the API server validated the writes") != NULL, "%s",
	          out);
	ps_free(out);
	ps_free(err);
	cJSON *entries;
	cJSON *root = fake_log(&entries);
	cr_expect_eq(count_requests(entries, "PATCH", "/scale", "dryRun=All"), 3,
	             "web, worker and jobs");
	cr_expect_eq(count_requests(entries, "PATCH", "/scale", NULL), 3);
	cr_expect_eq(count_requests(entries, "POST", "/events", NULL), 0);
	cJSON_Delete(root);
	cr_expect_eq(replicas_of("web"), 2, "a server dry run stores nothing");

	cr_assert_eq(control("DELETE", "/_fake/log", NULL, NULL), 200);
	const char *live[] = {"--once",      "-c", ee.config, "--kubeconfig",
	                      ee.kubeconfig, "-o", "json",    NULL};
	int rc = prescale(live, &out, &err);
	cr_expect_eq(rc, 1);
	cr_expect_eq(replicas_of("web"), 4);
	cr_expect_eq(replicas_of("worker"), 5);
	cr_expect_eq(replicas_of("jobs"), 0);
	cr_expect_eq(replicas_of("broken"), 3);
	root = fake_log(&entries);
	cr_expect_eq(count_requests(entries, "PATCH", "/scale", NULL), 3);
	/* SuccessfulRescale for web, worker and jobs; FailedGetExternalMetric for broken. */
	cr_expect_eq(count_requests(entries, "POST", "/events", NULL), 4);
	cJSON_Delete(root);
	/* One JSON record per target, agreeing with what was written. */
	int lines = 0;
	for (char *line = strtok(out, "\n"); line; line = strtok(NULL, "\n"), lines++) {
		cJSON *j = cJSON_Parse(line);
		cr_assert_not_null(j, "%s", line);
		const char *t = cJSON_GetObjectItem(j, "target")->valuestring;
		if (strcmp(t, "shop/Deployment/web") == 0) {
			cr_expect_eq(cJSON_GetObjectItem(j, "desired")->valueint, 4);
			cr_expect(cJSON_IsTrue(cJSON_GetObjectItem(j, "wrote")));
			cr_expect_str_eq(cJSON_GetObjectItem(j, "reason")->valuestring,
			                 "scaled up: pods metric rps above target");
		}
		cJSON_Delete(j);
	}
	cr_expect_eq(lines, 4);
	ps_free(out);
	ps_free(err);
}

Test(tick_e2e, the_controller_scales_logs_json_and_stops_on_sigterm)
{
	e2e_files("1s");
	cr_assert_eq(control("DELETE", "/_fake/log", NULL, NULL), 200);
	char o[300], e[300];
	snprintf(o, sizeof(o), "%s/run.out", ee.dir);
	snprintf(e, sizeof(e), "%s/run.err", ee.dir);
	char *argv[] = {PS_BINARY,     "run",          "-c",   ee.config, "--kubeconfig",
	                ee.kubeconfig, "--log-format", "json", NULL};
	pid_t pid = spawn(argv, -1, -1, e);
	/* Wait for web's scale-up (2 -> 4) to reach the fake. */
	int64_t deadline = mono_ms() + 30000;
	int patches = 0;
	while (patches == 0 && mono_ms() < deadline) {
		cJSON *entries;
		cJSON *root = fake_log(&entries);
		patches = count_requests(entries, "PATCH", "/deployments/web/scale", NULL);
		cJSON_Delete(root);
		if (!patches)
			nap(200);
	}
	cr_expect_geq(patches, 1, "the controller scaled web");
	cr_expect_eq(replicas_of("web"), 4);
	int64_t t = mono_ms();
	kill(pid, SIGTERM);
	int rc = wait_exit(pid, 10000);
	int64_t took = mono_ms() - t;
	cr_expect_eq(rc, 0, "a graceful stop exits 0");
	cr_expect_lt(took, 3000, "stopped in %lld ms", (long long)took);
	char *log = slurp(e);
	/* Every line is JSON; a decision line for web says what it did. */
	bool seen = false;
	for (char *line = strtok(log, "\n"); line; line = strtok(NULL, "\n")) {
		cJSON *j = cJSON_Parse(line);
		cr_assert_not_null(j, "not JSON: %s", line);
		cJSON *msg = cJSON_GetObjectItem(j, "msg"), *tg = cJSON_GetObjectItem(j, "target");
		if (cJSON_IsString(msg) && strcmp(msg->valuestring, "decision") == 0 &&
		    cJSON_IsString(tg) && strcmp(tg->valuestring, "shop/Deployment/web") == 0 &&
		    cJSON_IsTrue(cJSON_GetObjectItem(j, "wrote"))) {
			seen = true;
			cr_expect_eq(cJSON_GetObjectItem(j, "desired")->valueint, 4);
			cr_expect_str_eq(cJSON_GetObjectItem(j, "metric.rps")->valuestring,
			                 "200/100 (avg)");
		}
		cJSON_Delete(j);
	}
	cr_expect(seen, "no decision line for web");
	ps_free(log);
}

/* ---- the job's ops, driven directly against the servers ---- */

static bool no_slot(void *rt, int64_t deadline)
{
	(void)rt;
	(void)deadline;
	return false;
}

static bool a_slot(void *rt, int64_t deadline)
{
	(void)rt;
	(void)deadline;
	return true;
}

static void give_slot(void *rt)
{
	(void)rt;
}

static void put_web(bool paused)
{
	char body[1024];
	snprintf(
	    body, sizeof(body),
	    "{\"apiVersion\":\"apps/v1\",\"kind\":\"Deployment\",\"metadata\":{\"name\":\"web\","
	    "\"namespace\":\"shop\",\"labels\":{\"app\":\"web\"}%s},\"spec\":{\"replicas\":2,"
	    "\"selector\":{\"matchLabels\":{\"app\":\"web\"}},\"template\":{\"metadata\":"
	    "{\"labels\":{\"app\":\"web\"}},\"spec\":{\"containers\":[{\"name\":\"web\","
	    "\"image\":\"web:1\"}]}}},\"status\":{\"replicas\":2,\"readyReplicas\":2}}",
	    paused ? ",\"annotations\":{\"prescale.dev/paused\":\"true\"}" : "");
	cr_assert_eq(control("PUT", "/_fake/objects", body, NULL), 200);
}

static enum ps_err tick_once(void *state, const struct cfg_target *t, struct tick_env *env,
                             bool slot, struct ps_diag *d)
{
	struct ctl_tick_ctx tc = {.now_wall_ms = ps_clock_wall_ms(ps_clock_real()),
	                          .deadline_mono_ms = mono_ms() + 20000,
	                          .query_slot_take = slot ? a_slot : no_slot,
	                          .query_slot_give = give_slot};
	ps_diag_clear(d);
	return tick_job_ops.tick(env, state, t, &tc, d);
}

Test(tick_e2e, ticks_skip_without_a_slot_honour_the_pause_annotation_and_keep_errors_apart)
{
	e2e_files("15s");
	struct cfg *cfg = NULL;
	struct ps_diag d;
	cr_assert_eq(cfg_load(ee.config, &cfg, NULL, &d), PS_OK, "%s", ps_diag_msg(&d));
	struct kcfg *kc = NULL;
	cr_assert_eq(kcfg_load_kubeconfig(ee.kubeconfig, NULL, &kc, &d), PS_OK, "%s",
	             ps_diag_msg(&d));
	struct tick_env *env = NULL;
	struct tick_env_opts eo = {
	    .kcfg = kc, .mode = TICK_WRITE_LIVE, .quiet = true, .keep_records = true};
	cr_assert_eq(tick_env_new(cfg, &eo, &env, &d), PS_OK, "%s", ps_diag_msg(&d));
	const struct cfg_target *web = target(cfg, "shop/Deployment/web");
	const struct cfg_target *broken = target(cfg, "shop/Deployment/broken");
	void *sw = NULL, *sb = NULL;
	cr_assert_eq(tick_job_ops.start(env, web, &sw, &d), PS_OK);
	cr_assert_eq(tick_job_ops.start(env, broken, &sb, &d), PS_OK);
	struct tick_record rec;

	/* No query slot before the deadline: skipped. */
	cr_expect_eq(tick_once(sw, web, env, false, &d), PS_ETIMEDOUT);
	cr_expect(tick_state_record(sw, &rec));
	cr_expect_eq(rec.outcome, TICK_OUT_SKIPPED);
	cr_expect_str_eq(rec.error, "shop/Deployment/web: skipped: no Prometheus query slot before "
	                            "the tick's deadline");

	/* The annotation pauses it: decided (4), not written. */
	put_web(true);
	cr_assert_eq(control("DELETE", "/_fake/log", NULL, NULL), 200);
	cr_expect_eq(tick_once(sw, web, env, true, &d), PS_OK, "%s", ps_diag_msg(&d));
	cr_assert(tick_state_record(sw, &rec));
	cr_expect_eq(rec.outcome, TICK_OUT_DECIDED);
	cr_expect_str_eq(rec.paused_by, "annotation prescale.dev/paused");
	cr_expect_eq(rec.desired, 4);
	cr_expect_not(rec.write);
	cJSON *entries;
	cJSON *root = fake_log(&entries);
	cr_expect_eq(count_requests(entries, "PATCH", NULL, NULL), 0);
	cJSON_Delete(root);

	/* Unpaused: the annotation is read again before the write. */
	put_web(false);
	cr_expect_eq(tick_once(sw, web, env, true, &d), PS_OK, "%s", ps_diag_msg(&d));
	cr_assert(tick_state_record(sw, &rec));
	cr_expect_str_eq(rec.paused_by, "");
	cr_expect(rec.wrote);
	cr_expect_eq(replicas_of("web"), 4);

	/* A skip keeps the last decision on show and counts. */
	cr_expect_eq(tick_once(sw, web, env, false, &d), PS_ETIMEDOUT);
	cr_assert(tick_state_record(sw, &rec));
	cr_expect_eq(rec.outcome, TICK_OUT_DECIDED);
	cr_expect_eq(rec.skipped, 2);
	cr_expect_eq(rec.ticks, 4);

	/* The broken target's error is its own, with its key. */
	cr_expect_eq(tick_once(sb, broken, env, true, &d), PS_EMETRIC);
	cr_expect_str_eq(ps_diag_msg(&d),
	                 "shop/Deployment/broken: metric ratio: no data: the value is NaN");
	struct tick_snap *all = NULL;
	size_t n = 0;
	cr_assert_eq(tick_env_snaps(env, &all, &n), PS_OK);
	cr_expect_eq(n, 2);
	/* The views: keys, outcomes and the counters that moved on after the records. */
	for (size_t i = 0; i < n; i++) {
		bool is_web = strcmp(all[i].view->key, "shop/Deployment/web") == 0;
		cr_expect(is_web || strcmp(all[i].view->key, "shop/Deployment/broken") == 0);
		if (is_web) {
			cr_expect_eq(all[i].view->outcome, TICK_OUT_DECIDED);
			cr_expect_eq(all[i].view->desired, 4);
			cr_expect_eq(all[i].count.skipped, 2);
			cr_expect_eq(all[i].count.ticks, 4);
			struct ps_buf jb;
			ps_buf_init(&jb, 1 << 20);
			cr_assert_eq(tick_snap_json(&jb, &all[i]), PS_OK);
			cJSON *j = cJSON_Parse(ps_buf_cstr(&jb));
			cr_assert_not_null(j, "not JSON: %s", ps_buf_cstr(&jb));
			const cJSON *c = cJSON_GetObjectItemCaseSensitive(j, "counters");
			cr_expect_eq(cJSON_GetNumberValue(cJSON_GetObjectItemCaseSensitive(c, "skipped")),
			             2);
			cr_expect_str_eq(cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(j, "target")),
			                 "shop/Deployment/web");
			cJSON_Delete(j);
			ps_buf_release(&jb);
		}
	}
	tick_snaps_free(all, n);

	tick_job_ops.stop(env, sw);
	tick_job_ops.stop(env, sb);
	tick_env_free(env);
	kcfg_free(kc);
	cfg_unref(cfg);
}

Test(tick, forecasters_sample_once_a_minute_unless_the_season_is_too_short_for_it)
{
	struct cfg_target t;
	memset(&t, 0, sizeof(t));
	const int64_t s = 1000, min = 60 * s, day = 1440 * min;
	/* Not static: <s>, <min> and <day> are not constant expressions, which gcc accepts in a
	 * static initializer only when it optimizes (the Debug build of hack/valgrind does not). */
	const struct {
		int64_t interval, season, want;
	} cases[] = {
	    {15 * s, day, 60 * s},      /* 4 ticks a slot: a week is 10,080 slots, not 40,320 */
	    {10 * s, day, 60 * s},      /* 6 */
	    {25 * s, day, 75 * s},      /* the smallest multiple of 25 s from a minute on */
	    {45 * s, day, 90 * s},      /* 960 slots a day */
	    {2 * min, day, 2 * min},    /* already coarser: the interval */
	    {7 * s, 0, 63 * s},         /* no season: nothing to divide */
	    {15 * s, 60 * min, 60 * s}, /* an hour: 60 slots of a minute */
	    {15 * s, 30 * min, 30 * s}, /* 30 min: 60 s and 45 s leave too few slots; 30 s: 60 */
	    {10 * s, 1 * min, 10 * s},  /* a one-minute toy season keeps the interval */
	};
	for (size_t i = 0; i < PS_ARRAY_LEN(cases); i++) {
		t.interval_ms = cases[i].interval;
		t.forecast.season_ms = cases[i].season;
		cr_expect_eq(tick_forecast_step_ms(&t), cases[i].want,
		             "interval %lld season %lld: step %lld, want %lld",
		             (long long)cases[i].interval, (long long)cases[i].season,
		             (long long)tick_forecast_step_ms(&t), (long long)cases[i].want);
	}
}
