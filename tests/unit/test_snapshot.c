/* test_snapshot.c -- the recommend snapshot parser: every field reaches the engine input it
 * names, and every bad input fails with a message naming the field. Expected values are worked
 * out by hand from the JSON text and SEMANTICS.md (API defaults), not from the parser. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>

#include "engine.h"
#include "ps_alloc.h"
#include "ps_buf.h"
#include "snapshot.h"

/* 2026-11-26T12:00:00Z in Unix ms: 1970..2025 is 56 years with 14 leap days (1972..2024) =
 * 20454 days; Jan..Oct 2026 is 304 days, plus 25 days of November = 329; 20783 days * 86400 s =
 * 1795651200 s at midnight, plus 12 h = 43200 s: 1795694400 s. */
#define NOW_MS ((int64_t)1795694400000LL)
#define S(x) ((int64_t)(x) * 1000)

static const char *minimal_head = "{\"now\": \"2026-11-26T12:00:00Z\", ";

/* Parses <json>; asserts success. */
static void parse_ok(const char *json, struct snapshot *s)
{
	struct ps_diag d;
	ps_diag_clear(&d);
	enum ps_err err = snapshot_parse(json, strlen(json), NULL, s, &d);
	cr_assert_eq(err, PS_OK, "parse failed: %s", ps_diag_msg(&d));
}

/* Parses <json>; asserts failure with <code> and a message containing <want>. */
static void parse_fails(const char *json, enum ps_err code, const char *want)
{
	struct snapshot s;
	struct ps_diag d;
	ps_diag_clear(&d);
	enum ps_err err = snapshot_parse(json, strlen(json), NULL, &s, &d);
	cr_assert_eq(err, code, "for %s\nwant %s, got %s: %s", json, ps_err_name(code),
		     ps_err_name(err), ps_diag_msg(&d));
	cr_assert(strstr(ps_diag_msg(&d), want), "message \"%s\" lacks \"%s\"", ps_diag_msg(&d),
		  want);
	snapshot_release(&s);
}

/* A snapshot with one External Value metric, so nothing else is needed; <extra> goes in the
 * top-level object. */
static char *with_extra(const char *extra)
{
	static char buf[4096];
	snprintf(buf, sizeof(buf),
		 "%s\"spec\": {\"maxReplicas\": 10, \"metrics\": [{\"type\": \"External\", "
		 "\"external\": {\"metric\": {\"name\": \"q\"}, \"target\": {\"type\": \"Value\", "
		 "\"value\": \"10\"}}}]}, \"scale\": {\"specReplicas\": 2}, \"readings\": "
		 "[{\"values\": [\"5\"]}]%s%s}",
		 minimal_head, *extra ? ", " : "", extra);
	return buf;
}

Test(snapshot, maps_spec_scale_and_metric_targets)
{
	struct snapshot s;
	parse_ok("{\"now\": \"2026-11-26T12:00:00Z\",\n"
		 " \"spec\": {\"minReplicas\": 2, \"maxReplicas\": 10, \"metrics\": [\n"
		 "  {\"type\": \"Resource\", \"resource\": {\"name\": \"cpu\", \"target\": "
		 "{\"type\": \"Utilization\", \"averageUtilization\": 60}}},\n"
		 "  {\"type\": \"External\", \"external\": {\"metric\": {\"name\": \"queue_depth\"}, "
		 "\"target\": {\"type\": \"AverageValue\", \"averageValue\": \"30\"}}},\n"
		 "  {\"type\": \"ContainerResource\", \"containerResource\": {\"name\": \"memory\", "
		 "\"container\": \"app\", \"target\": {\"type\": \"AverageValue\", \"averageValue\": "
		 "\"1Gi\"}}},\n"
		 "  {\"type\": \"Object\", \"object\": {\"describedObject\": {\"kind\": \"Ingress\", "
		 "\"name\": \"main\"}, \"metric\": {\"name\": \"rps\"}, \"target\": {\"type\": "
		 "\"Value\", \"value\": 2.5}}},\n"
		 "  {\"type\": \"Pods\", \"pods\": {\"metric\": {\"name\": \"qps\"}, \"target\": "
		 "{\"type\": \"AverageValue\", \"averageValue\": \"500m\"}}}]},\n"
		 " \"scale\": {\"specReplicas\": 4, \"statusReplicas\": 3},\n"
		 " \"readings\": [{\"pods\": {}}, {\"values\": []}, {\"pods\": {}}, {\"value\": 1}, "
		 "{\"pods\": {}}]}",
		 &s);
	cr_assert_eq(s.obs.now_ms, NOW_MS);
	cr_assert(s.spec.has_min_replicas);
	cr_assert_eq(s.spec.min_replicas, 2);
	cr_assert_eq(s.spec.max_replicas, 10);
	cr_assert_eq(s.obs.spec_replicas, 4);
	cr_assert_eq(s.obs.status_replicas, 3);
	cr_assert_eq(s.obs.selector, ENG_SELECTOR_OK);
	cr_assert_eq(s.spec.n_metrics, 5);

	const struct eng_metric_spec *m = s.spec.metrics;
	cr_assert_eq(m[0].source, ENG_SRC_RESOURCE);
	cr_assert_str_eq(m[0].resource, "cpu");
	cr_assert_eq(m[0].target.type, ENG_TARGET_UTILIZATION);
	cr_assert(m[0].target.has_average_utilization);
	cr_assert_eq(m[0].target.average_utilization, 60);
	cr_assert(!m[0].target.has_value && !m[0].target.has_average_value);

	cr_assert_eq(m[1].source, ENG_SRC_EXTERNAL);
	cr_assert_str_eq(m[1].name, "queue_depth");
	cr_assert_eq(m[1].target.type, ENG_TARGET_AVERAGE_VALUE);
	cr_assert(m[1].target.has_average_value);
	cr_assert_eq(m[1].target.average_value_milli, 30000); /* "30" = 30 * 1000 milli */

	cr_assert_eq(m[2].source, ENG_SRC_CONTAINER_RESOURCE);
	cr_assert_str_eq(m[2].resource, "memory");
	cr_assert_str_eq(m[2].container, "app");
	/* 1Gi = 2^30 = 1073741824 bytes = 1073741824000 milli */
	cr_assert_eq(m[2].target.average_value_milli, 1073741824000LL);

	cr_assert_eq(m[3].source, ENG_SRC_OBJECT);
	cr_assert_str_eq(m[3].object_kind, "Ingress");
	cr_assert_str_eq(m[3].name, "rps");
	cr_assert_eq(m[3].target.type, ENG_TARGET_VALUE);
	cr_assert_eq(m[3].target.value_milli, 2500); /* the JSON number 2.5 */

	cr_assert_eq(m[4].source, ENG_SRC_PODS);
	cr_assert_str_eq(m[4].name, "qps");
	cr_assert_eq(m[4].target.average_value_milli, 500);

	/* No behavior: the legacy path. */
	cr_assert(!s.spec.has_behavior);
	/* No history: Go's nil recommendation list, which the first decision seeds. */
	cr_assert(!s.history.recs_set);
	cr_assert_eq(s.history.n_recs, 0);
	snapshot_release(&s);
}

Test(snapshot, defaults_to_cpu_80_percent_and_statusReplicas_to_specReplicas)
{
	struct snapshot s;
	/* SetDefaults_HorizontalPodAutoscaler: no metrics means CPU utilization at 80 %. */
	parse_ok("{\"now\": \"2026-11-26T12:00:00Z\", \"spec\": {\"maxReplicas\": 3}, "
		 "\"scale\": {\"specReplicas\": 2, \"selector\": \"\"}, "
		 "\"readings\": [{\"error\": \"metrics-server down\"}]}",
		 &s);
	cr_assert(!s.spec.has_min_replicas);
	cr_assert_eq(s.spec.n_metrics, 1);
	cr_assert_eq(s.spec.metrics[0].source, ENG_SRC_RESOURCE);
	cr_assert_str_eq(s.spec.metrics[0].resource, "cpu");
	cr_assert_eq(s.spec.metrics[0].target.type, ENG_TARGET_UTILIZATION);
	cr_assert_eq(s.spec.metrics[0].target.average_utilization, 80);
	cr_assert_eq(s.obs.status_replicas, 2);
	cr_assert_eq(s.obs.selector, ENG_SELECTOR_EMPTY);
	cr_assert(s.obs.readings[0].failed);
	cr_assert_str_eq(s.obs.readings[0].error, "metrics-server down");
	snapshot_release(&s);
}

Test(snapshot, applies_api_defaulting_to_behavior)
{
	struct snapshot s;
	const char *json =
		"{\"now\": \"2026-11-26T12:00:00Z\", \"spec\": {\"maxReplicas\": 10, "
		"\"behavior\": {\"scaleDown\": {\"stabilizationWindowSeconds\": 60, "
		"\"tolerance\": \"50m\"}, \"scaleUp\": {\"selectPolicy\": \"Min\", \"policies\": "
		"[{\"type\": \"Percent\", \"value\": 50, \"periodSeconds\": 30}], \"tolerance\": "
		"0.25}}}, \"scale\": {\"specReplicas\": 2}, \"readings\": [{\"pods\": {}}]}";
	parse_ok(json, &s);
	const struct eng_behavior *b = &s.spec.behavior;
	cr_assert(s.spec.has_behavior);
	/* scaleUp: given select and policies; the window comes from the default (0). */
	cr_assert(b->has_scale_up);
	cr_assert(b->scale_up.has_window);
	cr_assert_eq(b->scale_up.window_s, 0);
	cr_assert_eq(b->scale_up.select, ENG_SELECT_MIN);
	cr_assert_eq(b->scale_up.n_policies, 1);
	cr_assert_eq(b->scale_up.policies[0].type, ENG_POLICY_PERCENT);
	cr_assert_eq(b->scale_up.policies[0].value, 50);
	cr_assert_eq(b->scale_up.policies[0].period_s, 30);
	cr_assert(b->scale_up.has_tolerance);
	cr_assert_float_eq(b->scale_up.tolerance, 0.25, 1e-12);
	/* scaleDown: given window; select Max and [{Percent, 100, 15}] by default. */
	cr_assert(b->scale_down.has_window);
	cr_assert_eq(b->scale_down.window_s, 60);
	cr_assert_eq(b->scale_down.select, ENG_SELECT_MAX);
	cr_assert_eq(b->scale_down.n_policies, 1);
	cr_assert_eq(b->scale_down.policies[0].type, ENG_POLICY_PERCENT);
	cr_assert_eq(b->scale_down.policies[0].value, 100);
	cr_assert_eq(b->scale_down.policies[0].period_s, 15);
	cr_assert_float_eq(b->scale_down.tolerance, 0.05, 1e-12); /* 50m = 0.05 */
	snapshot_release(&s);

	/* An empty behavior: both directions get the defaults, scaleDown without a window. */
	parse_ok("{\"now\": \"2026-11-26T12:00:00Z\", \"spec\": {\"maxReplicas\": 10, "
		 "\"behavior\": {}}, \"scale\": {\"specReplicas\": 2}, \"readings\": [{\"pods\": {}}]}",
		 &s);
	cr_assert(s.spec.has_behavior);
	cr_assert_eq(b->scale_up.n_policies, 2);
	cr_assert_eq(b->scale_up.policies[0].type, ENG_POLICY_PODS);
	cr_assert_eq(b->scale_up.policies[0].value, 4);
	cr_assert_eq(b->scale_up.policies[0].period_s, 15);
	cr_assert_eq(b->scale_up.policies[1].type, ENG_POLICY_PERCENT);
	cr_assert_eq(b->scale_up.policies[1].value, 100);
	cr_assert_eq(b->scale_up.policies[1].period_s, 15);
	cr_assert(!b->scale_down.has_window);
	cr_assert(!b->scale_up.has_tolerance && !b->scale_down.has_tolerance);
	snapshot_release(&s);
}

Test(snapshot, maps_pods_times_containers_and_requests)
{
	struct snapshot s;
	parse_ok("{\"now\": \"2026-11-26T12:00:00Z\", \"spec\": {\"maxReplicas\": 10}, "
		 "\"scale\": {\"specReplicas\": 3},\n"
		 "\"pods\": [\n"
		 " {\"name\": \"a\", \"phase\": \"Running\", \"ready\": true, "
		 "\"readyTransitionTime\": \"2026-11-26T11:59:00Z\", \"startTime\": "
		 "\"2026-11-26T11:00:00+01:00\", \"containers\": [{\"name\": \"app\", \"requests\": "
		 "{\"cpu\": \"250m\", \"memory\": \"64Mi\"}}, {\"name\": \"log\", \"requests\": "
		 "{\"cpu\": 0.1}}], \"initContainers\": [{\"name\": \"migrate\", \"requests\": "
		 "{\"cpu\": \"2\"}}, {\"name\": \"proxy\", \"restartPolicy\": \"Always\", "
		 "\"requests\": {\"cpu\": \"50m\"}}]},\n"
		 " {\"name\": \"b\", \"phase\": \"Pending\", \"ready\": false},\n"
		 " {\"name\": \"c\", \"deleted\": true, \"requests\": {\"cpu\": \"1\"}}],\n"
		 "\"readings\": [{\"pods\": {}}]}",
		 &s);
	cr_assert_eq(s.obs.n_pods, 3);
	const struct eng_pod *a = &s.obs.pods[0], *b = &s.obs.pods[1], *c = &s.obs.pods[2];
	cr_assert_str_eq(a->name, "a");
	cr_assert_eq(a->phase, ENG_PHASE_RUNNING);
	cr_assert(a->has_ready_condition && a->ready);
	cr_assert_eq(a->ready_transition_ms, NOW_MS - S(60));
	/* 11:00+01:00 is 10:00Z, two hours before now */
	cr_assert(a->has_start_time);
	cr_assert_eq(a->start_time_ms, NOW_MS - S(2 * 3600));
	cr_assert(!a->deleted);
	/* app, log and the restartable init container proxy; migrate does not count */
	cr_assert_eq(a->n_containers, 3);
	cr_assert_str_eq(a->containers[0].name, "app");
	cr_assert_eq(a->containers[0].n_requests, 2);
	cr_assert_str_eq(a->containers[0].requests[0].resource, "cpu");
	cr_assert_eq(a->containers[0].requests[0].milli, 250);
	cr_assert_str_eq(a->containers[0].requests[1].resource, "memory");
	cr_assert_eq(a->containers[0].requests[1].milli, 64LL * 1024 * 1024 * 1000);
	cr_assert_str_eq(a->containers[1].name, "log");
	cr_assert_eq(a->containers[1].requests[0].milli, 100);
	cr_assert_str_eq(a->containers[2].name, "proxy");
	cr_assert_eq(a->containers[2].requests[0].milli, 50);
	cr_assert_eq(a->n_pod_requests, 0);

	cr_assert_eq(b->phase, ENG_PHASE_PENDING);
	cr_assert(b->has_ready_condition && !b->ready);
	/* No readyTransitionTime: Go's zero time, the engine's "longer ago than any window". */
	cr_assert_eq(b->ready_transition_ms, NOW_MS - ENG_TIME_ZERO_AGE_MS);
	cr_assert(!b->has_start_time);

	/* Defaults: phase Running, no PodReady condition, not deleted unless said. */
	cr_assert_eq(c->phase, ENG_PHASE_RUNNING);
	cr_assert(!c->has_ready_condition);
	cr_assert(c->deleted);
	cr_assert_eq(c->n_containers, 0);
	cr_assert_eq(c->n_pod_requests, 1);
	cr_assert_str_eq(c->pod_requests[0].resource, "cpu");
	cr_assert_eq(c->pod_requests[0].milli, 1000);
	snapshot_release(&s);
}

Test(snapshot, maps_readings_to_pods_extras_values_and_errors)
{
	struct snapshot s;
	parse_ok("{\"now\": \"2026-11-26T12:00:00Z\", \"spec\": {\"maxReplicas\": 10, \"metrics\": [\n"
		 " {\"type\": \"Pods\", \"pods\": {\"metric\": {\"name\": \"qps\"}, \"target\": "
		 "{\"type\": \"AverageValue\", \"averageValue\": \"10\"}}},\n"
		 " {\"type\": \"Resource\", \"resource\": {\"name\": \"cpu\", \"target\": {\"type\": "
		 "\"Utilization\", \"averageUtilization\": 50}}},\n"
		 " {\"type\": \"External\", \"external\": {\"metric\": {\"name\": \"q\"}, \"target\": "
		 "{\"type\": \"Value\", \"value\": \"10\"}}},\n"
		 " {\"type\": \"Object\", \"object\": {\"describedObject\": {\"kind\": \"Service\", "
		 "\"name\": \"s\"}, \"metric\": {\"name\": \"rps\"}, \"target\": {\"type\": "
		 "\"AverageValue\", \"averageValue\": \"10\"}}},\n"
		 " {\"type\": \"External\", \"external\": {\"metric\": {\"name\": \"r\"}, \"target\": "
		 "{\"type\": \"Value\", \"value\": \"10\"}}}]},\n"
		 "\"scale\": {\"specReplicas\": 3},\n"
		 "\"pods\": [{\"name\": \"p1\"}, {\"name\": \"p2\"}, {\"name\": \"p3\"}],\n"
		 "\"readings\": [\n"
		 " {\"pods\": {\"p3\": \"12\", \"p1\": 7, \"gone\": \"1\", \"p2\": null}},\n"
		 " {\"pods\": {\"p1\": {\"value\": \"300m\", \"timestamp\": \"2026-11-26T11:58:00Z\", "
		 "\"window\": \"1m30s\"}, \"p2\": \"200m\"}, \"timestamp\": \"2026-11-26T11:59:00Z\", "
		 "\"window\": \"30s\"},\n"
		 " {\"values\": [\"1.5\", 2, \"-1\"]},\n"
		 " {\"value\": \"25k\"},\n"
		 " {\"error\": \"no series\"}]}",
		 &s);
	const struct eng_reading *r = s.obs.readings;
	/* Pods metric: samples follow the pod order; the default time is now, window 60 s. */
	cr_assert(!r[0].failed);
	cr_assert(r[0].pod_samples[0].present);
	cr_assert_eq(r[0].pod_samples[0].value_milli, 7000);
	cr_assert_eq(r[0].pod_samples[0].timestamp_ms, NOW_MS);
	cr_assert_eq(r[0].pod_samples[0].window_ms, S(60));
	cr_assert(!r[0].pod_samples[1].present); /* null: no sample (a missing pod) */
	cr_assert(r[0].pod_samples[2].present);
	cr_assert_eq(r[0].pod_samples[2].value_milli, 12000);
	cr_assert_eq(r[0].n_extra, 1); /* "gone" is not in the pod list */
	cr_assert(r[0].extra_samples[0].present);
	cr_assert_eq(r[0].extra_samples[0].value_milli, 1000);

	/* Resource: a per-sample time and window override the reading's. */
	cr_assert_eq(r[1].pod_samples[0].value_milli, 300);
	cr_assert_eq(r[1].pod_samples[0].timestamp_ms, NOW_MS - S(120));
	cr_assert_eq(r[1].pod_samples[0].window_ms, S(90));
	cr_assert_eq(r[1].pod_samples[1].value_milli, 200);
	cr_assert_eq(r[1].pod_samples[1].timestamp_ms, NOW_MS - S(60));
	cr_assert_eq(r[1].pod_samples[1].window_ms, S(30));
	cr_assert(!r[1].pod_samples[2].present); /* p3 absent from the map */
	cr_assert_eq(r[1].n_extra, 0);

	cr_assert_eq(r[2].n_values, 3);
	cr_assert_eq(r[2].values_milli[0], 1500);
	cr_assert_eq(r[2].values_milli[1], 2000);
	cr_assert_eq(r[2].values_milli[2], -1000);

	cr_assert_eq(r[3].value_milli, 25000000); /* 25k = 25000 = 25000000 milli */

	cr_assert(r[4].failed);
	cr_assert_str_eq(r[4].error, "no series");
	snapshot_release(&s);
}

Test(snapshot, maps_history_conditions_and_controller_flags)
{
	struct snapshot s;
	parse_ok(with_extra(
			 "\"history\": {\"recommendations\": [{\"replicas\": 5, \"time\": "
			 "\"2026-11-26T11:59:00Z\"}, {\"replicas\": 7, \"time\": "
			 "\"2026-11-26T11:55:00.250Z\"}], \"scaleUpEvents\": [{\"replicaChange\": 2, "
			 "\"time\": \"2026-11-26T11:59:45Z\"}], \"scaleDownEvents\": "
			 "[{\"replicaChange\": 1, \"time\": \"2026-11-26T11:00:00Z\", \"outdated\": "
			 "true}]},\n"
			 "\"conditions\": [{\"type\": \"ScaledToZero\", \"status\": \"True\", "
			 "\"reason\": \"ScaledToZero\", \"message\": \"m\", \"lastTransitionTime\": "
			 "\"2026-11-26T10:00:00Z\"}, {\"type\": \"AbleToScale\", \"status\": "
			 "\"False\"}],\n"
			 "\"controller\": {\"tolerance\": 0.05, \"cpuInitializationPeriod\": \"2m\", "
			 "\"initialReadinessDelay\": \"10s\", \"downscaleStabilization\": \"1m\", "
			 "\"scaleUpLimitFactor\": 8, \"scaleUpLimitMinimum\": 4, \"featureGates\": "
			 "{\"HPAScaleToZero\": true, \"HPAConfigurableTolerance\": false, "
			 "\"PodLevelResources\": false}}"),
		 &s);
	const struct eng_history *h = &s.history;
	cr_assert(h->recs_set);
	cr_assert_eq(h->n_recs, 2);
	cr_assert_eq(h->recs[0].replicas, 5);
	cr_assert_eq(h->recs[0].ts_ms, NOW_MS - S(60));
	cr_assert_eq(h->recs[1].replicas, 7);
	cr_assert_eq(h->recs[1].ts_ms, NOW_MS - S(300) + 250);
	/* room for the decision's own entries beyond what the snapshot holds */
	cr_assert_gt(h->cap_recs, h->n_recs);
	cr_assert_eq(h->up.n, 1);
	cr_assert_eq(h->up.v[0].replica_change, 2);
	cr_assert_eq(h->up.v[0].ts_ms, NOW_MS - S(15));
	cr_assert(!h->up.v[0].outdated);
	cr_assert_eq(h->down.n, 1);
	cr_assert(h->down.v[0].outdated);
	cr_assert_gt(h->up.cap, h->up.n);

	cr_assert_eq(s.obs.n_conditions, 2);
	cr_assert_eq(s.obs.conditions[0].type, ENG_COND_SCALED_TO_ZERO);
	cr_assert(s.obs.conditions[0].status);
	cr_assert_str_eq(s.obs.conditions[0].reason, "ScaledToZero");
	cr_assert_str_eq(s.obs.conditions[0].message, "m");
	cr_assert_eq(s.obs.conditions[1].type, ENG_COND_ABLE_TO_SCALE);
	cr_assert(!s.obs.conditions[1].status);

	cr_assert_float_eq(s.params.tolerance, 0.05, 1e-12);
	cr_assert_eq(s.params.cpu_init_period_ms, S(120));
	cr_assert_eq(s.params.readiness_delay_ms, S(10));
	cr_assert_eq(s.params.downscale_window_ms, S(60));
	cr_assert_float_eq(s.params.scale_up_limit_factor, 8.0, 1e-12);
	cr_assert_float_eq(s.params.scale_up_limit_minimum, 4.0, 1e-12);
	cr_assert(s.params.gate_scale_to_zero);
	cr_assert(!s.params.gate_configurable_tolerance);
	cr_assert(!s.params.gate_pod_level_resources);
	snapshot_release(&s);

	/* Without "controller": Kubernetes' production defaults (SEMANTICS.md section 2). */
	parse_ok(with_extra("\"history\": {\"recommendations\": []}"), &s);
	cr_assert(s.history.recs_set); /* [] is an empty, non-nil list: nothing is seeded */
	cr_assert_eq(s.history.n_recs, 0);
	cr_assert_float_eq(s.params.tolerance, 0.1, 1e-12);
	cr_assert_eq(s.params.cpu_init_period_ms, S(300));
	cr_assert_eq(s.params.readiness_delay_ms, S(30));
	cr_assert_eq(s.params.downscale_window_ms, S(300));
	cr_assert_float_eq(s.params.scale_up_limit_factor, 2.0, 1e-12);
	cr_assert(!s.params.gate_scale_to_zero);
	cr_assert(s.params.gate_configurable_tolerance);
	snapshot_release(&s);
}

Test(snapshot, reports_json_syntax_errors_with_line_and_column)
{
	/* The missing comma: on line 2, `  "a": 1 "b": 2}`, the '"' of "b" is the 10th character. */
	parse_fails("{\"now\": 1,\n  \"a\": 1 \"b\": 2}", PS_EPARSE, "snapshot:2:10: invalid JSON");
	/* Columns count characters: in `{"now": "é" }}` the second '}' is the 14th character
	 * (the 15th byte, as "é" takes two). */
	parse_fails("{\"now\": \"é\" }}", PS_EPARSE, "snapshot:1:14: unexpected data");
	parse_fails("   \n ", PS_EPARSE, "snapshot: empty input");
	parse_fails("[1, 2]", PS_EPARSE, "snapshot: the snapshot must be a JSON object, got an array");
}

struct bad_case {
	const char *extra; /* added to a valid snapshot's top level, or a full document */
	enum ps_err code;
	const char *message;
};

Test(snapshot, names_the_field_of_each_bad_value)
{
	static const struct bad_case cases[] = {
		{"\"sepc\": 1", PS_EPARSE, "snapshot: sepc: unknown field (did you mean \"spec\"?)"},
		{"\"history\": {\"recommendations\": [{\"replicas\": -1, \"time\": "
		 "\"2026-11-26T11:00:00Z\"}]}",
		 PS_ERANGE, "history.recommendations[0].replicas: -1 is out of range (must be >= 0)"},
		{"\"history\": {\"scaleUpEvents\": [{\"replicaChange\": 1}]}", PS_EPARSE,
		 "history.scaleUpEvents[0].time: required field missing"},
		{"\"history\": {\"recommendations\": [{\"replicas\": 1, \"time\": \"yesterday\"}]}",
		 PS_EPARSE, "history.recommendations[0].time: "},
		{"\"controller\": {\"cpuInitializationPeriod\": \"5 minutes\"}", PS_EPARSE,
		 "controller.cpuInitializationPeriod: "},
		{"\"controller\": {\"cpuInitializationPeriod\": 300}", PS_EPARSE,
		 "controller.cpuInitializationPeriod: expected a duration string such as \"30s\", "
		 "got a number"},
		{"\"controller\": {\"featureGates\": {\"HPAScaleToZero\": \"yes\"}}", PS_EPARSE,
		 "controller.featureGates.HPAScaleToZero: expected true or false, got a string"},
		{"\"controller\": {\"tolerance\": -0.1}", PS_ERANGE,
		 "controller.tolerance: -0.1 is out of range (must be >= 0)"},
		{"\"conditions\": [{\"type\": \"AbleToScale\", \"status\": \"Unknown\"}]", PS_EPARSE,
		 "conditions[0].status: unsupported value \"Unknown\" (want one of: True, False)"},
		{"\"conditions\": [{\"type\": \"ScalingActive\", \"status\": \"True\"}, {\"type\": "
		 "\"ScalingActive\", \"status\": \"False\"}]",
		 PS_EPARSE, "conditions[1]: a second ScalingActive condition"},
		{"\"pods\": [{\"name\": \"a\"}, {\"name\": \"b\"}, {\"name\": \"a\"}]", PS_EPARSE,
		 "pods[2]: pod \"a\" is listed twice"},
		{"\"pods\": [{\"name\": \"a\", \"phase\": \"Crashing\"}]", PS_EPARSE,
		 "pods[0].phase: unsupported value \"Crashing\""},
		{"\"pods\": [{\"name\": \"a\", \"containers\": [{\"name\": \"c\", \"requests\": "
		 "{\"cpu\": \"-1\"}}]}]",
		 PS_ERANGE, "pods[0].containers[0].requests.cpu: must not be negative"},
		{"\"pods\": [{\"name\": \"a\", \"containers\": [{\"name\": \"c\", \"requests\": "
		 "{\"nvidia.com/gpu\": \"x\"}}]}]",
		 PS_EPARSE, "pods[0].containers[0].requests[\"nvidia.com/gpu\"]: invalid quantity"},
		{"\"pods\": [{\"name\": \"a\", \"startTime\": \"2026-13-01T00:00:00Z\"}]", PS_EPARSE,
		 "pods[0].startTime: "},
		{"\"pods\": {\"name\": \"a\"}", PS_EPARSE, "pods: expected an array, got an object"},
		{"\"pods\": [{\"name\": \"a\", \"requests\": {\"cpu\": \"1\", \"cpu\": \"2\"}}]",
		 PS_EPARSE, "pods[0].requests.cpu: field given twice"},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		parse_fails(with_extra(cases[i].extra), cases[i].code, cases[i].message);
}

Test(snapshot, names_the_field_of_each_bad_spec_value)
{
	/* Each is a full document: "now" and the rest are valid unless the case says otherwise. */
	static const struct bad_case cases[] = {
		{"{\"spec\": {\"maxReplicas\": 1}, \"scale\": {\"specReplicas\": 1}, \"readings\": "
		 "[{\"pods\": {}}]}",
		 PS_EPARSE, "snapshot: now: required field missing"},
		{"{\"now\": \"2026-11-26T12:00:00Z\", \"spec\": {\"minReplicas\": 1}, \"scale\": "
		 "{\"specReplicas\": 1}, \"readings\": [{\"pods\": {}}]}",
		 PS_EPARSE, "snapshot: spec.maxReplicas: required field missing"},
		{"{\"now\": \"2026-11-26T12:00:00Z\", \"spec\": {\"maxReplicas\": \"10\"}}", PS_EPARSE,
		 "spec.maxReplicas: expected an integer, got a string"},
		{"{\"now\": \"2026-11-26T12:00:00Z\", \"spec\": {\"maxReplicas\": 2.5}}", PS_EPARSE,
		 "spec.maxReplicas: expected an integer, got 2.5"},
		{"{\"now\": \"2026-11-26T12:00:00Z\", \"spec\": {\"maxReplicas\": 3000000000}}",
		 PS_ERANGE, "spec.maxReplicas: 3000000000 is out of range (must be >= 1)"},
		{"{\"now\": \"2026-11-26T12:00:00Z\", \"spec\": {\"minReplicas\": 5, \"maxReplicas\": "
		 "4}}",
		 PS_ERANGE, "spec.maxReplicas: 4 is below minReplicas (5)"},
		{"{\"now\": \"2026-11-26T12:00:00Z\", \"spec\": {\"maxReplica\": 4}}", PS_EPARSE,
		 "spec.maxReplica: unknown field (did you mean \"maxReplicas\"?)"},
		{"{\"now\": \"2026-11-26T12:00:00Z\", \"spec\": {\"maxReplicas\": 4, \"maxReplicas\": "
		 "5}}",
		 PS_EPARSE, "spec.maxReplicas: field given twice"},
		{"{\"now\": \"2026-11-26T12:00:00Z\", \"spec\": {\"maxReplicas\": 4, \"metrics\": "
		 "[{\"type\": \"CheddarCheese\"}]}}",
		 PS_EPARSE,
		 "spec.metrics[0].type: unsupported value \"CheddarCheese\" (want one of: Resource, "
		 "ContainerResource, Pods, Object, External)"},
		{"{\"now\": \"2026-11-26T12:00:00Z\", \"spec\": {\"maxReplicas\": 4, \"metrics\": "
		 "[{\"type\": \"Pods\", \"resource\": {}}]}}",
		 PS_EPARSE, "spec.metrics[0].resource: unknown field"},
		{"{\"now\": \"2026-11-26T12:00:00Z\", \"spec\": {\"maxReplicas\": 4, \"metrics\": "
		 "[{\"type\": \"External\", \"external\": {\"metric\": {\"name\": \"q\"}, \"target\": "
		 "{\"type\": \"Utilization\", \"averageUtilization\": 50}}}]}}",
		 PS_EPARSE,
		 "spec.metrics[0].external.target: type Utilization is only for Resource and "
		 "ContainerResource metrics"},
		{"{\"now\": \"2026-11-26T12:00:00Z\", \"spec\": {\"maxReplicas\": 4, \"metrics\": "
		 "[{\"type\": \"External\", \"external\": {\"metric\": {\"name\": \"q\"}, \"target\": "
		 "{\"type\": \"AverageValue\", \"value\": \"3\"}}}]}}",
		 PS_EPARSE, "spec.metrics[0].external.target.averageValue: required field missing"},
		{"{\"now\": \"2026-11-26T12:00:00Z\", \"spec\": {\"maxReplicas\": 4, \"metrics\": "
		 "[{\"type\": \"External\", \"external\": {\"metric\": {\"name\": \"q\"}, \"target\": "
		 "{\"type\": \"Value\", \"value\": \"0\"}}}]}}",
		 PS_ERANGE, "spec.metrics[0].external.target.value: must be positive"},
		{"{\"now\": \"2026-11-26T12:00:00Z\", \"spec\": {\"maxReplicas\": 4, \"metrics\": "
		 "[{\"type\": \"External\", \"external\": {\"metric\": {\"name\": \"q\"}, \"target\": "
		 "{\"type\": \"AverageValue\", \"averageValue\": \"3O\"}}}]}}",
		 PS_EPARSE,
		 "snapshot: spec.metrics[0].external.target.averageValue: invalid quantity \"3O\""},
		{"{\"now\": \"2026-11-26T12:00:00Z\", \"spec\": {\"maxReplicas\": 4, \"metrics\": "
		 "[{\"type\": \"Resource\", \"resource\": {\"target\": {\"type\": \"Utilization\", "
		 "\"averageUtilization\": 50}}}]}}",
		 PS_EPARSE, "spec.metrics[0].resource.name: required field missing"},
		{"{\"now\": \"2026-11-26T12:00:00Z\", \"spec\": {\"maxReplicas\": 4, \"behavior\": "
		 "{\"scaleUp\": {\"policies\": []}}}}",
		 PS_EPARSE, "spec.behavior.scaleUp.policies: must hold at least one policy"},
		{"{\"now\": \"2026-11-26T12:00:00Z\", \"spec\": {\"maxReplicas\": 4, \"behavior\": "
		 "{\"scaleDown\": {\"policies\": [{\"type\": \"Pods\", \"value\": 1, "
		 "\"periodSeconds\": 1801}]}}}}",
		 PS_ERANGE,
		 "spec.behavior.scaleDown.policies[0].periodSeconds: 1801 is out of range (must be "
		 "1..1800)"},
		{"{\"now\": \"2026-11-26T12:00:00Z\", \"spec\": {\"maxReplicas\": 4, \"behavior\": "
		 "{\"scaleDown\": {\"selectPolicy\": \"Maximum\"}}}}",
		 PS_EPARSE,
		 "spec.behavior.scaleDown.selectPolicy: unsupported value \"Maximum\" (want one of: "
		 "Max, Min, Disabled)"},
		{"{\"now\": \"2026-11-26T12:00:00Z\", \"spec\": {\"maxReplicas\": 4, \"behavior\": "
		 "{\"scaleDown\": {\"stabilizationWindowSeconds\": 3601}}}}",
		 PS_ERANGE,
		 "spec.behavior.scaleDown.stabilizationWindowSeconds: 3601 is out of range (must be "
		 "0..3600)"},
		{"{\"now\": \"2026-11-26T12:00:00Z\", \"spec\": {\"maxReplicas\": 4}, \"scale\": "
		 "{\"specReplicas\": 1}}",
		 PS_EPARSE, "snapshot: readings: required field missing"},
		{"{\"now\": \"2026-11-26T12:00:00Z\", \"spec\": {\"maxReplicas\": 4}, \"scale\": "
		 "{\"specReplicas\": 1}, \"readings\": [{\"pods\": {}}, {\"pods\": {}}]}",
		 PS_EPARSE, "readings: 2 readings for 1 metrics"},
		{"{\"now\": \"2026-11-26T12:00:00Z\", \"spec\": {\"maxReplicas\": 4}, \"scale\": "
		 "{\"specReplicas\": 1}, \"readings\": [{\"values\": [\"1\"]}]}",
		 PS_EPARSE, "readings[0].values: unknown field"},
		{"{\"now\": \"2026-11-26T12:00:00Z\", \"spec\": {\"maxReplicas\": 4}, \"scale\": "
		 "{\"specReplicas\": 1}, \"readings\": [{\"window\": \"1m\"}]}",
		 PS_EPARSE, "readings[0]: a Resource metric needs \"pods\""},
		{"{\"now\": \"2026-11-26T12:00:00Z\", \"spec\": {\"maxReplicas\": 4}, \"scale\": "
		 "{\"specReplicas\": 1}, \"pods\": [{\"name\": \"a\"}], \"readings\": [{\"pods\": "
		 "{\"a\": \"1\", \"a\": \"2\"}}]}",
		 PS_EPARSE, "readings[0].pods.a: pod given twice"},
		{"{\"now\": \"2026-11-26T12:00:00Z\", \"spec\": {\"maxReplicas\": 4}, \"scale\": "
		 "{\"specReplicas\": 1}, \"readings\": [{\"pods\": {\"a\": [1]}}]}",
		 PS_EPARSE,
		 "readings[0].pods.a: expected a quantity (a string such as \"500m\" or a number), "
		 "got an array"},
		{"{\"now\": \"2026-11-26T12:00:00Z\", \"spec\": {\"maxReplicas\": 4}, \"scale\": "
		 "{}, \"readings\": [{\"pods\": {}}]}",
		 PS_EPARSE, "scale.specReplicas: required field missing"},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		parse_fails(cases[i].extra, cases[i].code, cases[i].message);
}

Test(snapshot, rejects_more_metrics_than_the_engine_holds)
{
	char json[8192];
	int n = snprintf(json, sizeof(json),
			 "{\"now\": \"2026-11-26T12:00:00Z\", \"spec\": {\"maxReplicas\": 4, "
			 "\"metrics\": [");
	for (int i = 0; i <= ENG_MAX_METRICS; i++)
		n += snprintf(json + n, sizeof(json) - (size_t)n,
			      "%s{\"type\": \"External\", \"external\": {\"metric\": {\"name\": "
			      "\"q\"}, \"target\": {\"type\": \"Value\", \"value\": \"1\"}}}",
			      i ? ", " : "");
	snprintf(json + n, sizeof(json) - (size_t)n, "]}}");
	parse_fails(json, PS_ETOOBIG, "spec.metrics: 17 metrics; at most 16 are supported");
}

/* Reads tests/data/recommend/<name> into <buf>. */
static void read_example(const char *name, struct ps_buf *buf)
{
	char path[512];
	snprintf(path, sizeof(path), "%s/recommend/%s", PS_TEST_DATA, name);
	ps_buf_init(buf, SNAPSHOT_MAX_BYTES);
	struct ps_diag d;
	cr_assert_eq(ps_buf_read_file(buf, path, &d), PS_OK, "%s", ps_diag_msg(&d));
}

Test(snapshot, parses_every_good_example)
{
	static const char *const good[] = {
		"scale-up-cpu.json",	 "scale-down-stabilized.json",
		"external-average-value.json", "failing-metric-blocks-scale-down.json",
		"rate-limit.json",	 "object-within-tolerance.json",
	};
	for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
		struct ps_buf buf;
		read_example(good[i], &buf);
		struct snapshot s;
		struct ps_diag d;
		enum ps_err err = snapshot_parse(ps_buf_cstr(&buf), buf.len, good[i], &s, &d);
		cr_assert_eq(err, PS_OK, "%s: %s", good[i], ps_diag_msg(&d));
		cr_assert_eq(s.spec.n_metrics, 1 + (i == 3), "%s", good[i]);
		snapshot_release(&s);
		ps_buf_release(&buf);
	}
}

Test(snapshot, fails_on_every_bad_example_with_its_field)
{
	static const struct {
		const char *file, *message;
	} bad[] = {
		/* line 3 is `  "spec": {"minReplicas": 1 "maxReplicas": 4},`: the '"' after "1 " is
		 * the 29th character, where a ',' or '}' was due */
		{"bad-json.json", "bad-json.json:3:29: invalid JSON near '\"maxReplicas\": 4},'"},
		{"bad-quantity.json", "bad-quantity.json: spec.metrics[1].external.target."
				      "averageValue: invalid quantity \"3O\""},
		{"bad-missing-max-replicas.json",
		 "bad-missing-max-replicas.json: spec.maxReplicas: required field missing"},
		{"bad-wrong-type.json",
		 "bad-wrong-type.json: spec.minReplicas: expected an integer, got a string"},
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct ps_buf buf;
		read_example(bad[i].file, &buf);
		struct snapshot s;
		struct ps_diag d;
		ps_diag_clear(&d);
		enum ps_err err = snapshot_parse(ps_buf_cstr(&buf), buf.len, bad[i].file, &s, &d);
		cr_assert_neq(err, PS_OK, "%s parsed", bad[i].file);
		cr_assert(strstr(ps_diag_msg(&d), bad[i].message), "%s: \"%s\" lacks \"%s\"",
			  bad[i].file, ps_diag_msg(&d), bad[i].message);
		snapshot_release(&s);
		ps_buf_release(&buf);
	}
}

Test(snapshot, survives_every_allocation_failure)
{
	struct ps_buf buf;
	read_example("rate-limit.json", &buf);
	/* Fail the 1st, 2nd, ... allocation until a parse needs no more than that: every run
	 * either succeeds or reports PS_ENOMEM, and releases what it built (ASan checks leaks). */
	for (uint64_t n = 1;; n++) {
		struct snapshot s;
		struct ps_diag d;
		ps_diag_clear(&d);
		ps_alloc_fail_at(n);
		enum ps_err err = snapshot_parse(ps_buf_cstr(&buf), buf.len, NULL, &s, &d);
		bool injected = ps_alloc_injected();
		ps_alloc_fail_at(0);
		snapshot_release(&s);
		if (!injected) {
			cr_assert_eq(err, PS_OK, "%s", ps_diag_msg(&d));
			cr_assert_gt(n, 10); /* the example needs many allocations */
			break;
		}
		cr_assert(err == PS_ENOMEM || err == PS_OK, "allocation %llu: %s: %s",
			  (unsigned long long)n, ps_err_name(err), ps_diag_msg(&d));
		cr_assert(n < 100000);
	}
	ps_buf_release(&buf);
}
