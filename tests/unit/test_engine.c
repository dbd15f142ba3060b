/* test_engine.c -- the decision engine, rule by rule. Every expected value is worked out by hand
 * from SEMANTICS.md (the arithmetic is in the comment above each assertion). */
#include <criterion/criterion.h>
#include <string.h>

#include "engine.h"
#include "ps_alloc.h"

#define NOW ((int64_t)2000000000000LL) /* an arbitrary fixed "now" in ms */
#define LONG_AGO (NOW - ENG_TIME_ZERO_AGE_MS)

/* A small world: up to 8 pods with one container each requesting 1 CPU, one sample per pod per
 * metric, built per test. */
struct world {
	struct eng_spec spec;
	struct eng_params p;
	struct eng_request req[8];
	struct eng_container ctr[8];
	struct eng_pod pods[8];
	struct eng_sample samples[ENG_MAX_METRICS][8];
	struct eng_reading readings[ENG_MAX_METRICS];
	int64_t values[ENG_MAX_METRICS][4];
	struct eng_observation obs;
	struct eng_history h;
	struct eng_scratch s;
	struct eng_decision d;
};

static void world_init(struct world *w, int32_t replicas, int32_t min, int32_t max)
{
	memset(w, 0, sizeof(*w));
	eng_params_default(&w->p);
	w->spec.has_min_replicas = true;
	w->spec.min_replicas = min;
	w->spec.max_replicas = max;
	for (int i = 0; i < 8; i++) {
		w->req[i] = (struct eng_request){"cpu", 1000};
		w->ctr[i] = (struct eng_container){"app", 1, &w->req[i]};
		w->pods[i] = (struct eng_pod){.name = "pod",
		                              .phase = ENG_PHASE_RUNNING,
		                              .has_ready_condition = true,
		                              .ready = true,
		                              .ready_transition_ms = LONG_AGO,
		                              .has_start_time = true,
		                              .start_time_ms = LONG_AGO,
		                              .n_containers = 1,
		                              .containers = &w->ctr[i]};
	}
	w->obs.now_ms = NOW;
	w->obs.spec_replicas = replicas;
	w->obs.status_replicas = replicas;
	w->obs.n_pods = (size_t)replicas;
	w->obs.pods = w->pods;
	w->obs.readings = w->readings;
	cr_assert_eq(eng_history_init(&w->h, 32), PS_OK);
	cr_assert_eq(eng_scratch_reserve(&w->s, 8), PS_OK);
}

static void world_release(struct world *w)
{
	eng_history_release(&w->h);
	eng_scratch_release(&w->s);
}

/* Adds a CPU utilization metric with per-pod usage in milli-CPU. */
static void add_cpu(struct world *w, int32_t target_pct, const int64_t *usage)
{
	size_t m = w->spec.n_metrics++;
	struct eng_metric_spec *ms = &w->spec.metrics[m];
	ms->source = ENG_SRC_RESOURCE;
	strcpy(ms->resource, "cpu");
	ms->target = (struct eng_target){.type = ENG_TARGET_UTILIZATION,
	                                 .has_average_utilization = true,
	                                 .average_utilization = target_pct};
	for (size_t i = 0; i < w->obs.n_pods; i++)
		w->samples[m][i] = (struct eng_sample){usage[i] >= 0, usage[i], NOW, 60000};
	w->readings[m].pod_samples = w->samples[m];
}

/* Adds an External metric with one series value and a Value or AverageValue target. */
static void add_external(struct world *w, int64_t value, int64_t target, bool average)
{
	size_t m = w->spec.n_metrics++;
	struct eng_metric_spec *ms = &w->spec.metrics[m];
	ms->source = ENG_SRC_EXTERNAL;
	strcpy(ms->name, "queue");
	if (average)
		ms->target = (struct eng_target){.type = ENG_TARGET_AVERAGE_VALUE,
		                                 .has_average_value = true,
		                                 .average_value_milli = target};
	else
		ms->target = (struct eng_target){
		    .type = ENG_TARGET_VALUE, .has_value = true, .value_milli = target};
	w->values[m][0] = value;
	w->readings[m].values_milli = w->values[m];
	w->readings[m].n_values = 1;
}

static void decide(struct world *w)
{
	struct ps_diag diag;
	ps_diag_clear(&diag);
	cr_assert_eq(eng_decide(&w->spec, &w->p, &w->obs, &w->h, &w->s, &w->d, &diag), PS_OK, "%s",
	             ps_diag_msg(&diag));
}

static const struct eng_condition *cond(const struct world *w, enum eng_cond_type t)
{
	for (size_t i = 0; i < w->d.n_conditions; i++)
		if (w->d.conditions[i].type == t)
			return &w->d.conditions[i];
	return NULL;
}

Test(engine, scales_up_on_cpu_utilization_above_target)
{
	struct world w;
	world_init(&w, 3, 1, 10);
	/* usage 500+700+900 = 2100m of 3000m requested: 70%; target 35% -> ratio 2.0;
	 * ceil(2.0 * 3 ready) = 6; legacy cap max(2*3, 4) = 6 lets it through. */
	add_cpu(&w, 35, (int64_t[]){500, 700, 900});
	decide(&w);
	cr_assert_eq(w.d.rows[0].utilization, 70);
	cr_assert_eq(w.d.rows[0].current_milli, 700);
	cr_assert_eq(w.d.desired_replicas, 6);
	cr_assert(w.d.write);
	cr_assert_str_eq(w.d.reason,
	                 "cpu resource utilization (percentage of request) above target");
	world_release(&w);
}

Test(engine, holds_the_count_when_the_ratio_is_within_tolerance)
{
	struct world w;
	world_init(&w, 4, 1, 10);
	/* 4 pods at 540m: 54%, target 50% -> ratio 1.08, inside [0.9, 1.1]. */
	add_cpu(&w, 50, (int64_t[]){540, 540, 540, 540});
	w.h.recs_set = true; /* no seeded recommendation */
	decide(&w);
	cr_assert_eq(w.d.desired_replicas, 4);
	cr_assert_not(w.d.write);
	cr_assert_eq(w.d.rule, ENG_RULE_TOLERANCE);
	world_release(&w);
}

Test(engine, applies_an_asymmetric_tolerance_from_the_behavior)
{
	struct world w;
	world_init(&w, 4, 1, 10);
	/* 4 pods at 300m: 30%, target 50% -> ratio 0.6. With scaleDown tolerance 0.5 the band is
	 * [0.5, 1.1]: no change. Without it, ceil(0.6*4) = 3. */
	add_cpu(&w, 50, (int64_t[]){300, 300, 300, 300});
	w.spec.has_behavior = true;
	w.spec.behavior.has_scale_down = true;
	w.spec.behavior.scale_down.has_tolerance = true;
	w.spec.behavior.scale_down.tolerance = 0.5;
	w.spec.behavior.scale_down.has_window = true;
	w.spec.behavior.scale_down.window_s = 0;
	decide(&w);
	cr_assert_eq(w.d.desired_replicas, 4);
	w.p.gate_configurable_tolerance = false; /* the gate off ignores the field */
	decide(&w);
	cr_assert_eq(w.d.desired_replicas, 3);
	world_release(&w);
}

Test(engine, counts_missing_pods_at_full_request_on_scale_down)
{
	struct world w;
	world_init(&w, 4, 1, 10);
	/* Two pods report 100m and 100m, two are missing. Ratio: 10% / 50% = 0.2 (scale down).
	 * Missing pods count as max(100, 50)% = 1000m: (100+100+1000+1000)/4000 = 55% -> 1.1,
	 * the direction flipped, so no change. */
	add_cpu(&w, 50, (int64_t[]){100, 100, -1, -1});
	w.h.recs_set = true;
	decide(&w);
	cr_assert_eq(w.d.rows[0].missing_pods, 2);
	cr_assert_eq(w.d.desired_replicas, 4);
	world_release(&w);
}

Test(engine, counts_unready_pods_as_idle_on_scale_up)
{
	struct world w;
	world_init(&w, 4, 1, 20);
	/* Pod 3 is not ready (and started long ago but became unready after its delay: for cpu
	 * it is unready when ready=false and start+delay > transition; make it start now). Ready
	 * pods at 900m: 90%, target 30% -> ratio 3.0 > 1 with an unready pod: rebalance with 0
	 * for it: 2700/4000 = 67% -> 2.2333; ceil(2.2333 * 4) = 9. Legacy cap max(8, 4) = 8. */
	add_cpu(&w, 30, (int64_t[]){900, 900, 900, 900});
	w.pods[3].ready = false;
	w.pods[3].start_time_ms = NOW - 1000;
	w.pods[3].ready_transition_ms = NOW - 1000;
	decide(&w);
	cr_assert_eq(w.d.rows[0].unready_pods, 1);
	cr_assert_eq(w.d.stabilized_replicas, 9);
	cr_assert_eq(w.d.desired_replicas, 8);
	cr_assert_eq(w.d.rule, ENG_RULE_RATE_LIMIT);
	const struct eng_condition *c = cond(&w, ENG_COND_SCALING_LIMITED);
	cr_assert_not_null(c);
	cr_assert(c->status);
	cr_assert_str_eq(c->reason, "ScaleUpLimit");
	world_release(&w);
}

Test(engine, takes_the_largest_proposal_of_several_metrics)
{
	struct world w;
	world_init(&w, 2, 1, 10);
	/* cpu: 2 pods at 500m = 50%, target 50% -> 2. External queue 900 over a Value target of
	 * 100 -> ratio 9 * 2 ready pods = 18, capped by maxReplicas 10 (legacy cap is 4 though:
	 * max(2*2, 4) = 4 < 10, so ScaleUpLimit at 4). */
	add_cpu(&w, 50, (int64_t[]){500, 500});
	add_external(&w, 900000, 100000, false);
	decide(&w);
	cr_assert_eq(w.d.rows[0].proposal, 2);
	cr_assert_eq(w.d.rows[1].proposal, 18);
	cr_assert_eq(w.d.metric_replicas, 18);
	cr_assert_eq(w.d.desired_replicas, 4);
	cr_assert_str_eq(w.d.reason, "external metric queue above target");
	world_release(&w);
}

Test(engine, lets_a_failed_metric_block_a_scale_down_but_not_a_scale_up)
{
	struct world w;
	world_init(&w, 4, 1, 10);
	/* cpu says 4 pods at 100m = 10% of target 50% -> ceil(0.2*4) = 1 (down); the external
	 * metric failed: the scale-down is blocked. */
	add_cpu(&w, 50, (int64_t[]){100, 100, 100, 100});
	add_external(&w, 0, 1000, false);
	w.readings[1].failed = true;
	w.readings[1].error = "connection refused";
	decide(&w);
	cr_assert_eq(w.d.rule, ENG_RULE_METRICS_FAILED);
	cr_assert_not(w.d.write);
	cr_assert_eq(w.d.desired_replicas, 4);
	cr_assert(w.d.error);
	const struct eng_condition *c = cond(&w, ENG_COND_SCALING_ACTIVE);
	cr_assert_str_eq(c->reason, "FailedGetExternalMetric");
	cr_assert(strstr(w.d.error_msg, "connection refused"));

	/* Now cpu says scale up: 4 pods at 1000m = 100% of 50% -> 8; the failure no longer
	 * blocks, but the record still carries the error. */
	for (int i = 0; i < 4; i++)
		w.samples[0][i].value_milli = 1000;
	decide(&w);
	cr_assert_eq(w.d.desired_replicas, 8);
	cr_assert(w.d.write);
	cr_assert(w.d.error);
	cr_assert_str_eq(cond(&w, ENG_COND_SCALING_ACTIVE)->reason, "ValidMetricFound");
	world_release(&w);
}

Test(engine, holds_a_scale_down_for_the_legacy_five_minute_window)
{
	struct world w;
	world_init(&w, 5, 1, 10);
	/* 5 pods at 100m = 10% of 50% -> 1; a recommendation of 5 two minutes ago wins. */
	add_cpu(&w, 50, (int64_t[]){100, 100, 100, 100, 100});
	w.h.recs_set = true;
	w.h.recs[0] = (struct eng_rec){5, NOW - 120000};
	w.h.n_recs = 1;
	decide(&w);
	cr_assert_eq(w.d.metric_replicas, 1);
	cr_assert_eq(w.d.desired_replicas, 5);
	cr_assert_eq(w.d.rule, ENG_RULE_STABILIZATION);
	cr_assert_str_eq(cond(&w, ENG_COND_ABLE_TO_SCALE)->reason, "ScaleDownStabilized");
	/* Six minutes later the old recommendation is outside the window. */
	w.h.recs[0].ts_ms = NOW - 360000;
	w.h.n_recs = 1;
	decide(&w);
	cr_assert_eq(w.d.desired_replicas, 1);
	world_release(&w);
}

Test(engine, caps_a_legacy_scale_up_at_twice_the_current_count_or_four)
{
	struct world w;
	world_init(&w, 1, 1, 100);
	/* One pod at 1000m = 100% of 10% -> 10; cap max(2*1, 4) = 4. */
	add_cpu(&w, 10, (int64_t[]){1000});
	decide(&w);
	cr_assert_eq(w.d.desired_replicas, 4);
	w.p.scale_up_limit_factor = 8; /* the test value of Kubernetes: max(8, 4) = 8 */
	w.h.recs_set = false;
	decide(&w);
	cr_assert_eq(w.d.desired_replicas, 8);
	world_release(&w);
}

Test(engine, limits_a_scale_up_by_the_behavior_pods_policy_and_records_the_event)
{
	struct world w;
	world_init(&w, 2, 1, 50);
	/* 2 pods at 1000m = 100% of 10% -> 20. scaleUp: Pods 3 per 60 s -> limit 2+3 = 5. */
	add_cpu(&w, 10, (int64_t[]){1000, 1000});
	w.spec.has_behavior = true;
	w.spec.behavior.has_scale_up = true;
	w.spec.behavior.scale_up.has_policies = true;
	w.spec.behavior.scale_up.n_policies = 1;
	w.spec.behavior.scale_up.policies[0] = (struct eng_policy){ENG_POLICY_PODS, 3, 60};
	decide(&w);
	cr_assert_eq(w.d.desired_replicas, 5);
	cr_assert_str_eq(cond(&w, ENG_COND_SCALING_LIMITED)->reason, "ScaleUpLimit");
	eng_rescaled(&w.spec, &w.p, &w.h, &w.d, NOW);
	cr_assert_eq(w.h.up.n, 1);
	cr_assert_eq(w.h.up.v[0].replica_change, 3);
	cr_assert_str_eq(cond(&w, ENG_COND_ABLE_TO_SCALE)->reason, "SucceededRescale");

	/* 30 s later at 5 replicas the period started at 5-3 = 2, limit 2+3 = 5: no growth. */
	w.obs.now_ms = NOW + 30000;
	w.obs.spec_replicas = w.obs.status_replicas = 5;
	w.obs.n_pods = 5;
	for (int i = 0; i < 5; i++)
		w.samples[0][i] = (struct eng_sample){true, 1000, NOW + 30000, 60000};
	decide(&w);
	cr_assert_eq(w.d.desired_replicas, 5);
	cr_assert_not(w.d.write);
	world_release(&w);
}

Test(engine, scales_down_by_percent_with_select_policy_min)
{
	struct world w;
	world_init(&w, 8, 1, 50);
	/* 8 pods at 100m = 10% of 50% -> ceil(0.2*8) = 2. scaleDown window 0, policies Pods 4 and
	 * Percent 25 per 60 s, selectPolicy Min (smallest change): Pods -> 4, Percent -> int(8 *
	 * 0.75) = 6; Min picks the larger count, 6. */
	add_cpu(&w, 50, (int64_t[]){100, 100, 100, 100, 100, 100, 100, 100});
	w.spec.has_behavior = true;
	struct eng_rules *r = &w.spec.behavior.scale_down;
	w.spec.behavior.has_scale_down = true;
	r->has_window = true;
	r->window_s = 0;
	r->has_select = true;
	r->select = ENG_SELECT_MIN;
	r->has_policies = true;
	r->n_policies = 2;
	r->policies[0] = (struct eng_policy){ENG_POLICY_PODS, 4, 60};
	r->policies[1] = (struct eng_policy){ENG_POLICY_PERCENT, 25, 60};
	decide(&w);
	cr_assert_eq(w.d.desired_replicas, 6);
	cr_assert_str_eq(cond(&w, ENG_COND_SCALING_LIMITED)->reason, "ScaleDownLimit");
	r->select = ENG_SELECT_DISABLED; /* no scale-down at all */
	decide(&w);
	cr_assert_eq(w.d.desired_replicas, 8);
	cr_assert_not(w.d.write);
	world_release(&w);
}

Test(engine, stabilizes_a_scale_up_with_the_lowest_recent_recommendation)
{
	struct world w;
	world_init(&w, 2, 1, 50);
	/* Pre-normalized 4 (2 pods at 100% of 50%), scaleUp window 60 s holds the minimum of the
	 * recommendations within it: 3 from 30 s ago. */
	add_cpu(&w, 50, (int64_t[]){1000, 1000});
	w.spec.has_behavior = true;
	w.spec.behavior.has_scale_up = true;
	w.spec.behavior.scale_up.has_window = true;
	w.spec.behavior.scale_up.window_s = 60;
	w.h.recs_set = true;
	w.h.recs[0] = (struct eng_rec){3, NOW - 30000};
	w.h.n_recs = 1;
	decide(&w);
	cr_assert_eq(w.d.desired_replicas, 3);
	cr_assert_eq(w.d.rule, ENG_RULE_STABILIZATION);
	cr_assert_str_eq(cond(&w, ENG_COND_ABLE_TO_SCALE)->reason, "ScaleUpStabilized");
	/* The unstabilized 4 was stored. */
	cr_assert_eq(w.h.n_recs, 2);
	cr_assert_eq(w.h.recs[1].replicas, 4);
	world_release(&w);
}

Test(engine, corrects_a_count_above_max_without_reading_metrics)
{
	struct world w;
	world_init(&w, 8, 1, 5);
	add_cpu(&w, 50, (int64_t[]){-1, -1, -1, -1, -1, -1, -1, -1});
	decide(&w);
	cr_assert_eq(w.d.desired_replicas, 5);
	cr_assert_eq(w.d.rule, ENG_RULE_ABOVE_MAX);
	cr_assert_not(w.d.computed);
	cr_assert_str_eq(w.d.reason, "Current number of replicas above Spec.MaxReplicas");
	world_release(&w);
}

Test(engine, raises_a_count_below_min_without_reading_metrics)
{
	struct world w;
	world_init(&w, 1, 3, 5);
	add_cpu(&w, 50, (int64_t[]){-1});
	decide(&w);
	cr_assert_eq(w.d.desired_replicas, 3);
	cr_assert_eq(w.d.rule, ENG_RULE_BELOW_MIN);
	world_release(&w);
}

Test(engine, leaves_a_target_scaled_to_zero_by_hand_alone)
{
	struct world w;
	world_init(&w, 0, 1, 5);
	add_external(&w, 5000, 1000, false);
	decide(&w);
	cr_assert_eq(w.d.desired_replicas, 0);
	cr_assert_not(w.d.write);
	cr_assert_eq(w.d.rule, ENG_RULE_SCALING_DISABLED);
	cr_assert_str_eq(cond(&w, ENG_COND_SCALING_ACTIVE)->reason, "ScalingDisabled");
	world_release(&w);
}

Test(engine, scales_to_zero_and_back_with_the_gate_and_an_external_metric)
{
	struct world w;
	world_init(&w, 2, 0, 10);
	w.p.gate_scale_to_zero = true;
	/* Queue 0 over a Value target of 5: ratio 0 -> ceil(0 * 2) = 0; minReplicas 0 allows it. */
	add_external(&w, 0, 5000, false);
	w.h.recs_set = true;
	decide(&w);
	cr_assert_eq(w.d.desired_replicas, 0);
	cr_assert(w.d.write);
	eng_rescaled(&w.spec, &w.p, &w.h, &w.d, NOW);
	const struct eng_condition *c = cond(&w, ENG_COND_SCALED_TO_ZERO);
	cr_assert_not_null(c);
	cr_assert(c->status);

	/* Next tick at 0 replicas with ScaledToZero=True: 12 over 5 -> ceil(2.4) = 3 with no
	 * tolerance and no pod count. */
	struct eng_condition prev[ENG_MAX_CONDITIONS];
	memcpy(prev, w.d.conditions, sizeof(prev));
	w.obs.conditions = prev;
	w.obs.n_conditions = w.d.n_conditions;
	w.obs.spec_replicas = w.obs.status_replicas = 0;
	w.obs.n_pods = 0;
	w.values[0][0] = 12000;
	w.obs.now_ms = NOW + 600000;
	decide(&w);
	cr_assert_eq(w.d.rows[0].proposal, 3);
	cr_assert_eq(w.d.desired_replicas, 3);
	eng_rescaled(&w.spec, &w.p, &w.h, &w.d, NOW + 600000);
	cr_assert_not(cond(&w, ENG_COND_SCALED_TO_ZERO)->status);
	world_release(&w);
}

Test(engine, computes_per_pod_external_averages_against_status_replicas)
{
	struct world w;
	world_init(&w, 3, 1, 20);
	/* 8600 over an average of 2150 per pod with 3 status replicas: ratio 8600/(2150*3) =
	 * 1.333 -> ceil(8600/2150) = 4; reported average ceil(8600/3) = 2867. */
	add_external(&w, 8600, 2150, true);
	decide(&w);
	cr_assert_eq(w.d.rows[0].proposal, 4);
	cr_assert_eq(w.d.rows[0].current_milli, 2867);
	world_release(&w);
}

Test(engine, orders_conditions_as_the_controller_appends_them)
{
	struct world w;
	world_init(&w, 3, 1, 10);
	add_cpu(&w, 50, (int64_t[]){500, 500, 500});
	w.h.recs_set = true;
	decide(&w);
	cr_assert_eq(w.d.n_conditions, 3);
	cr_assert_eq(w.d.conditions[0].type, ENG_COND_ABLE_TO_SCALE);
	cr_assert_str_eq(w.d.conditions[0].reason, "ReadyForNewScale");
	cr_assert_eq(w.d.conditions[1].type, ENG_COND_SCALING_ACTIVE);
	cr_assert_str_eq(w.d.conditions[1].reason, "ValidMetricFound");
	cr_assert_eq(w.d.conditions[2].type, ENG_COND_SCALING_LIMITED);
	cr_assert_not(w.d.conditions[2].status);
	cr_assert_str_eq(w.d.conditions[2].reason, "DesiredWithinRange");
	world_release(&w);
}

Test(engine, reports_a_missing_cpu_request_as_a_metric_failure)
{
	struct world w;
	world_init(&w, 2, 1, 10);
	add_cpu(&w, 50, (int64_t[]){500, 500});
	w.ctr[1].n_requests = 0;
	decide(&w);
	cr_assert_eq(w.d.rule, ENG_RULE_METRICS_FAILED);
	cr_assert_str_eq(w.d.rows[0].error, "missing request for cpu in container app of Pod pod");
	cr_assert_str_eq(w.d.rows[0].failure_reason, "FailedGetResourceMetric");
	world_release(&w);
}

Test(engine, refuses_a_pod_list_larger_than_its_scratch_space)
{
	struct world w;
	world_init(&w, 8, 1, 10);
	add_cpu(&w, 50, (int64_t[]){1, 1, 1, 1, 1, 1, 1, 1});
	eng_scratch_release(&w.s);
	cr_assert_eq(eng_scratch_reserve(&w.s, 2), PS_OK);
	struct ps_diag diag;
	cr_assert_eq(eng_decide(&w.spec, &w.p, &w.obs, &w.h, &w.s, &w.d, &diag), PS_ETOOBIG);
	cr_assert(strstr(diag.msg, "scratch space"));
	world_release(&w);
}

Test(engine, allocates_nothing_during_a_decision)
{
	struct world w;
	world_init(&w, 4, 1, 10);
	add_cpu(&w, 50, (int64_t[]){900, 100, 300, -1});
	add_external(&w, 4000, 1000, true);
	uint64_t before = ps_alloc_count();
	for (int i = 0; i < 100; i++) {
		w.obs.now_ms = NOW + i * 15000;
		decide(&w);
	}
	cr_assert_eq(ps_alloc_count(), before);
	world_release(&w);
}

Test(engine, lets_a_forecast_in_scale_mode_raise_the_count)
{
	struct world w;
	world_init(&w, 3, 1, 20);
	/* Reactive: 8600 over 2150 per pod with 3 replicas -> ceil(4.0) = 4. The forecast of
	 * 12900 -> ratio 12900/(2150*3) = 2 -> ceil(12900/2150) = 6; the maximum wins. Legacy cap
	 * max(2*3, 4) = 6 lets it through. */
	add_external(&w, 8600, 2150, true);
	w.readings[0].forecast_use = ENG_FORECAST_ACT;
	w.readings[0].forecast_milli = 12900;
	decide(&w);
	cr_assert_eq(w.d.rows[0].proposal, 4);
	cr_assert(w.d.rows[0].has_forecast_proposal);
	cr_assert_eq(w.d.rows[0].forecast_proposal, 6);
	cr_assert_eq(w.d.desired_replicas, 6);
	cr_assert_eq(w.d.rule, ENG_RULE_FORECAST);
	cr_assert_str_eq(w.d.reason, "external metric queue forecast above target");
	world_release(&w);
}

Test(engine, reports_an_observed_or_fallen_back_forecast_without_acting_on_it)
{
	struct world w;
	world_init(&w, 3, 1, 20);
	add_external(&w, 8600, 2150, true);
	w.readings[0].forecast_milli = 12900;
	w.readings[0].forecast_use = ENG_FORECAST_OBSERVE;
	decide(&w);
	cr_assert_eq(w.d.rows[0].forecast_proposal, 6);
	cr_assert_eq(w.d.desired_replicas, 4);
	cr_assert_eq(w.d.rows[0].forecast_use, ENG_FORECAST_OBSERVE);
	w.readings[0].forecast_use = ENG_FORECAST_FALLBACK;
	decide(&w);
	cr_assert_eq(w.d.desired_replicas, 4);
	cr_assert_eq(w.d.rows[0].forecast_use, ENG_FORECAST_FALLBACK);
	world_release(&w);
}

Test(engine, never_lets_a_low_forecast_lower_the_reactive_count)
{
	struct world w;
	world_init(&w, 3, 1, 20);
	/* Reactive 4 (as above); a forecast of 2150 proposes ceil(1.0) = 1: ignored. */
	add_external(&w, 8600, 2150, true);
	w.readings[0].forecast_use = ENG_FORECAST_ACT;
	w.readings[0].forecast_milli = 2150;
	decide(&w);
	cr_assert_eq(w.d.rows[0].forecast_proposal, 1);
	cr_assert_eq(w.d.desired_replicas, 4);
	cr_assert_eq(w.d.rule, ENG_RULE_METRICS);
	world_release(&w);
}

Test(engine, scales_a_per_pod_forecast_through_the_usage_ratio)
{
	struct world w;
	world_init(&w, 4, 1, 20);
	/* 4 pods at 500m = 50% of 50% -> ratio 1.0 -> 4. A forecast average of 1000m doubles the
	 * ratio: ceil(2.0 * 4 ready) = 8; legacy cap max(8, 4) = 8. */
	add_cpu(&w, 50, (int64_t[]){500, 500, 500, 500});
	w.readings[0].forecast_use = ENG_FORECAST_ACT;
	w.readings[0].forecast_milli = 1000;
	decide(&w);
	cr_assert_eq(w.d.rows[0].forecast_proposal, 8);
	cr_assert_eq(w.d.desired_replicas, 8);
	world_release(&w);
}

Test(engine, keeps_reactive_recommendations_so_scale_down_follows_the_reactive_path)
{
	struct world w;
	world_init(&w, 3, 1, 20);
	/* Tick 1: reactive 4 (8600 over 2150 per pod), forecast 6: desired 6. The recommendation
	 * stored is the reactive 4, not 6. */
	add_external(&w, 8600, 2150, true);
	w.readings[0].forecast_use = ENG_FORECAST_ACT;
	w.readings[0].forecast_milli = 12900;
	decide(&w);
	cr_assert_eq(w.d.desired_replicas, 6);
	cr_assert_eq(w.d.stabilized_replicas, 4);
	cr_assert_eq(w.d.forecast_replicas, 6);
	eng_rescaled(&w.spec, &w.p, &w.h, &w.d, NOW);
	cr_assert_eq(w.h.recs[w.h.n_recs - 1].replicas, 4);
	/* Tick 2 at 6 replicas, no forecast: 8600 over 2150 x 6 -> ratio 0.667 -> ceil(4.0) = 4.
	 * The 5-minute window holds max(seed 3, 4, 4) = 4, not 6: down to 4 at once. */
	w.readings[0].forecast_use = ENG_FORECAST_NONE;
	w.obs.spec_replicas = w.obs.status_replicas = 6;
	w.obs.now_ms = NOW + 15000;
	decide(&w);
	cr_assert_eq(w.d.desired_replicas, 4);
	world_release(&w);
}

Test(engine, scale_event_lists_start_small_and_double_up_to_their_bound_when_full)
{
	struct eng_history h;
	cr_assert_eq(eng_history_init_sized(&h, 10, 2), PS_OK);
	cr_expect_eq(h.cap_recs, 10);
	cr_expect_eq(h.up.cap, 2);
	cr_expect_eq(h.down.cap, 2);
	/* Not full: nothing grows. */
	h.up.n = 1;
	cr_assert_eq(eng_history_reserve_events(&h, 5), PS_OK);
	cr_expect_eq(h.up.cap, 2);
	/* Full: 2 -> 4, then 4 -> 5 (the bound), then no further; the kept events stay. */
	h.up.v[0] = (struct eng_event){.replica_change = 3, .ts_ms = 1000};
	h.up.v[1] = (struct eng_event){.replica_change = 1, .ts_ms = 2000};
	h.up.n = 2;
	cr_assert_eq(eng_history_reserve_events(&h, 5), PS_OK);
	cr_expect_eq(h.up.cap, 4);
	cr_expect_eq(h.down.cap, 2); /* the other direction was not full */
	cr_expect_eq(h.up.v[1].replica_change, 1);
	cr_expect_eq(h.up.v[1].ts_ms, 2000);
	h.up.n = 4;
	cr_assert_eq(eng_history_reserve_events(&h, 5), PS_OK);
	cr_expect_eq(h.up.cap, 5);
	h.up.n = 5;
	cr_assert_eq(eng_history_reserve_events(&h, 5), PS_OK);
	cr_expect_eq(h.up.cap, 5);
	/* Out of memory: the list is left as it was. */
	h.down.n = 2;
	ps_alloc_fail_at(1);
	cr_expect_eq(eng_history_reserve_events(&h, 5), PS_ENOMEM);
	ps_alloc_fail_at(0);
	cr_expect_eq(h.down.cap, 2);
	eng_history_release(&h);
}
