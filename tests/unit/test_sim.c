/* test_sim.c -- the simulator: a ten-tick run worked out by hand for each policy, determinism,
 * and bad parameters. */
#include <criterion/criterion.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "ps_alloc.h"
#include "sim.h"
#include "workload.h"

/* A linear ramp: demand 10 + 10k at t = 60k s, k = 0..10. */
static void ramp(struct trace *tr, int64_t ts[11], double v[11])
{
	memset(tr, 0, sizeof(*tr));
	for (int k = 0; k <= 10; k++) {
		ts[k] = (int64_t)k * 60000;
		v[k] = 10.0 + 10.0 * k;
	}
	tr->n = 11;
	tr->ts_ms = ts;
	tr->value = v;
	tr->step_ms = 60000;
	snprintf(tr->source, sizeof(tr->source), "ramp");
}

/* minReplicas 1, maxReplicas 100, no behavior (the legacy path), target 10 per replica, a
 * linear-regression forecast over two steps with no season. Ticks every 60 s, no metric lag,
 * pods serve 60 s after they are requested, capacity 10, every tick scored. */
static void ramp_setup(struct sim_target *t, struct sim_params *p)
{
	memset(t, 0, sizeof(*t));
	snprintf(t->name, sizeof(t->name), "ramp-test");
	t->spec.has_min_replicas = true;
	t->spec.min_replicas = 1;
	t->spec.max_replicas = 100;
	eng_params_default(&t->params);
	t->target = 10;
	fc_config_default(&t->forecast);
	t->forecast.kind = FC_LINREG;
	t->forecast.season_ms = 0;
	t->forecast.regression_ms = 120000;
	t->forecast.history_ms = 3600000;
	sim_params_default(p);
	p->interval_ms = 60000;
	p->lag_ms = 0;
	p->startup_ms = 60000;
	p->capacity = 10;
	p->score_from_ms = 0;
}

Test(sim, runs_ten_ticks_of_a_ramp_as_worked_out_by_hand)
{
	struct trace tr;
	int64_t ts[11];
	double v[11];
	ramp(&tr, ts, v);
	struct sim_target t;
	struct sim_params p;
	ramp_setup(&t, &p);
	struct sim_result r;
	struct ps_diag d;
	cr_assert_eq(sim_run(&tr, &t, &p, &r, &d), PS_OK, "%s", d.msg);
	cr_assert_eq(r.n_steps, 11);
	cr_assert_eq(r.score_from_step, 0);

	/* Oracle: ceil((10 + 10k) / 10) = k + 1, serving at once: never under (demand equals
	 * capacity exactly); replica-seconds (1 + ... + 11) x 60 = 3960; 10 changes; peak 11. */
	for (int k = 0; k <= 10; k++) {
		cr_assert_eq(r.steps[k].desired[SIM_ORACLE], k + 1, "oracle desired at %d", k);
		cr_assert_eq(r.steps[k].ready[SIM_ORACLE], k + 1, "oracle ready at %d", k);
	}
	const struct sim_score *o = &r.score[SIM_ORACLE];
	cr_assert_float_eq(o->replica_seconds, 3960, 1e-9);
	cr_assert_float_eq(o->under_share, 0, 1e-12);
	cr_assert_eq(o->actions, 10);
	cr_assert_eq(o->peak, 11);

	/* Reactive starts at the oracle's 1. At tick k it runs k replicas (the previous tick's
	 * request) and sees 10 + 10k over a target of 10k: ratio 1 + 1/k, outside the 10 %
	 * tolerance up to k = 9, so it asks for ceil(1 + k) = k + 1; at k = 10 the ratio is 1.1,
	 * inside: it stays at 10. The legacy cap max(2k, 4) never binds. Ready = the request of
	 * the tick before: 1, 1, 2, ..., 10. Under-provisioned at k = 1..10 (demand exceeds
	 * 10 x ready by 10 each time): 10/11 of the ticks, unserved 100 of 660; replica-seconds
	 * (1 + 1 + 2 + ... + 10) x 60 = 3360, 0.848 of the oracle's; 9 changes; peak 10. */
	static const int32_t re_desired[11] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 10};
	static const int32_t re_ready[11] = {1, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10};
	for (int k = 0; k <= 10; k++) {
		cr_assert_eq(r.steps[k].desired[SIM_REACTIVE], re_desired[k], "reactive at %d", k);
		cr_assert_eq(r.steps[k].ready[SIM_REACTIVE], re_ready[k], "reactive ready at %d", k);
	}
	const struct sim_score *re = &r.score[SIM_REACTIVE];
	cr_assert_float_eq(re->replica_seconds, 3360, 1e-9);
	cr_assert_float_eq(re->cost_ratio, 3360.0 / 3960.0, 1e-12);
	cr_assert_float_eq(re->under_share, 10.0 / 11.0, 1e-12);
	cr_assert_float_eq(re->unserved_share, 100.0 / 660.0, 1e-12);
	cr_assert_eq(re->actions, 9);
	cr_assert_eq(re->peak, 10);

	/* Predictive: the regression over two steps sees the exact line, so every forecast is
	 * exact and the error quantile is 0. The horizon is lag + step + startup + interval =
	 * 180 s; the peak is taken from lag + startup = 60 s on, i.e. demand at k + 3:
	 * 40 + 10k. Warm-up (forecast.h): one regression window (2 samples) plus the 3-step
	 * horizon plus one: the first forecast is at the sixth sample, k = 5. Until then it is
	 * reactive. Then, with n replicas running (status):
	 *   k=5: n=5, reactive 60/50 = 1.2 -> 6; forecast 90/50 -> 9 raises it; cap 10: 9.
	 *   k=6: n=9, reactive 70/90 -> 7, the 5-min window holds max(7, 6, ...) = 7; forecast
	 *        100/90 = 1.11 -> 10: 10.
	 *   k=7: n=10, reactive 80/100 -> 8 (window: 8); forecast 110/100 = 1.1, within
	 *        tolerance -> 10: 10.
	 *   k=8: n=10, reactive 90/100 = 0.9, within -> 10; forecast 120 -> 12: 12.
	 *   k=9: n=12, reactive 100/120 -> 10 (window: 10); forecast 130/120 = 1.083 -> 12: 12.
	 *   k=10: n=12, reactive 110/120 = 0.917, within -> 12; forecast 140 -> 14: 14.
	 * Ready: 1, 1, 2, 3, 4, 5, 9, 10, 10, 12, 12. Under at k = 1..5: 5/11, unserved 50 of
	 * 660; replica-seconds 69 x 60 = 4140; 8 changes; peak 12. */
	static const int32_t pr_desired[11] = {1, 2, 3, 4, 5, 9, 10, 10, 12, 12, 14};
	static const int32_t pr_ready[11] = {1, 1, 2, 3, 4, 5, 9, 10, 10, 12, 12};
	for (int k = 0; k <= 10; k++) {
		cr_assert_eq(r.steps[k].desired[SIM_PREDICTIVE], pr_desired[k], "predictive at %d",
		             k);
		cr_assert_eq(r.steps[k].ready[SIM_PREDICTIVE], pr_ready[k],
		             "predictive ready at %d", k);
	}
	cr_assert(isnan(r.steps[4].forecast));
	cr_assert_float_eq(r.steps[5].forecast, 90, 1e-6);
	const struct sim_score *pr = &r.score[SIM_PREDICTIVE];
	cr_assert_float_eq(pr->replica_seconds, 4140, 1e-9);
	cr_assert_float_eq(pr->under_share, 5.0 / 11.0, 1e-12);
	cr_assert_float_eq(pr->unserved_share, 50.0 / 660.0, 1e-12);
	cr_assert_eq(pr->actions, 8);
	cr_assert_eq(pr->peak, 12);
	sim_result_release(&r);
}

/* Runs the diurnal workload (3 days) and writes every report into one buffer. */
static char *run_and_report(size_t *len)
{
	struct workload_params wp = workload_params_default();
	wp.duration_ms = 3LL * 86400000;
	struct trace tr;
	struct ps_diag d;
	cr_assert_eq(workload_diurnal(&wp, &tr, &d), PS_OK, "%s", d.msg);
	struct sim_target t;
	struct sim_params p;
	memset(&t, 0, sizeof(t));
	snprintf(t.name, sizeof(t.name), "det");
	t.spec.has_min_replicas = true;
	t.spec.min_replicas = 1;
	t.spec.max_replicas = 1000;
	t.spec.has_behavior = true;
	eng_behavior_default(&t.spec.behavior);
	eng_params_default(&t.params);
	fc_config_default(&t.forecast);
	t.target = 100;
	sim_params_default(&p);
	struct sim_result r;
	cr_assert_eq(sim_run(&tr, &t, &p, &r, &d), PS_OK, "%s", d.msg);
	char *buf = NULL;
	FILE *f = open_memstream(&buf, len);
	cr_assert_not_null(f);
	cr_assert_eq(sim_write_table(&r, f), PS_OK);
	cr_assert_eq(sim_write_json(&r, f), PS_OK);
	cr_assert_eq(sim_write_steps_csv(&r, f), PS_OK);
	cr_assert_eq(sim_write_svg(&r, f), PS_OK);
	cr_assert_eq(fclose(f), 0);
	cr_assert(r.forecast.valid);
	sim_result_release(&r);
	trace_release(&tr);
	return buf;
}

Test(sim, gives_byte_identical_reports_for_the_same_input)
{
	size_t n1, n2;
	char *a = run_and_report(&n1);
	char *b = run_and_report(&n2);
	cr_assert_gt(n1, 1000);
	cr_assert_eq(n1, n2);
	cr_assert_eq(memcmp(a, b, n1), 0);
	free(a);
	free(b);
}

Test(sim, rejects_parameters_it_cannot_simulate)
{
	struct trace tr;
	int64_t ts[11];
	double v[11];
	ramp(&tr, ts, v);
	struct sim_target t;
	struct sim_params p;
	struct sim_result r;
	struct ps_diag d;

	ramp_setup(&t, &p);
	t.target = 0;
	cr_assert_eq(sim_run(&tr, &t, &p, &r, &d), PS_EINVAL);
	cr_assert_str_eq(d.msg, "simulate: the metric target must be > 0");

	ramp_setup(&t, &p);
	p.policies[0] = p.policies[1] = p.policies[2] = false;
	cr_assert_eq(sim_run(&tr, &t, &p, &r, &d), PS_EINVAL);
	cr_assert_str_eq(d.msg, "simulate: no policy selected");

	ramp_setup(&t, &p);
	p.score_from_ms = 600000;
	cr_assert_eq(sim_run(&tr, &t, &p, &r, &d), PS_EINVAL);
	cr_assert(strstr(d.msg, "scored window starts at or after the series ends"));

	ramp_setup(&t, &p);
	tr.n = 1;
	cr_assert_eq(sim_run(&tr, &t, &p, &r, &d), PS_EINVAL);
	cr_assert_str_eq(d.msg, "simulate: the series needs at least 2 samples");
}

Test(sim, ends_every_failed_allocation_cleanly)
{
	struct trace tr;
	int64_t ts[11];
	double v[11];
	ramp(&tr, ts, v);
	struct sim_target t;
	struct sim_params p;
	ramp_setup(&t, &p);
	struct sim_result r;
	struct ps_diag d;
	bool ok = false;
	for (uint64_t n = 1; n < 200 && !ok; n++) {
		ps_alloc_fail_at(n);
		enum ps_err e = sim_run(&tr, &t, &p, &r, &d);
		bool injected = ps_alloc_injected();
		ps_alloc_fail_at(0);
		if (e == PS_OK) {
			sim_result_release(&r);
			ok = !injected;
		} else {
			cr_assert_eq(e, PS_ENOMEM, "allocation %llu: %s", (unsigned long long)n, d.msg);
		}
	}
	cr_assert(ok, "a run with no injected failure was never reached");
}
