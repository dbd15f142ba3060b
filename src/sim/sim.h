/* sim.h -- `prescale simulate`: replays a recorded series through the decision engine with a
 * virtual clock and scores each policy against a no-delay oracle (DESIGN.md section 6).
 *
 * DESIGN
 * Single-threaded and deterministic: the same trace and parameters give byte-identical reports.
 * Model, per tick (every interval from the first timestamp):
 * - demand(t) is the trace linearly interpolated; the observed metric is demand(t - lag);
 * - the target is an AverageValue on the total: the engine sees an External metric whose value
 *   is the observed total and whose averageValue target is the target's;
 * - a requested pod serves <startup> later; removals take effect at once, newest pods first;
 * - the oracle sets ceil(demand / target) every tick with no delay;
 * - reactive is the HPA engine alone; predictive adds the forecast proposal (forecast.h) of the
 *   same metric.
 * A policy is under-provisioned at a tick when demand > ready replicas x capacity; the unserved
 * share is the integral of max(0, demand - ready x capacity) over the integral of demand.
 * Figures are integrated over the scored window [score_from, end): each tick counts for one
 * interval.
 */
#ifndef SIM_H
#define SIM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "engine.h"
#include "forecast.h"
#include "ps_compiler.h"
#include "ps_diag.h"
#include "ps_err.h"
#include "trace.h"

enum sim_policy { SIM_REACTIVE, SIM_PREDICTIVE, SIM_ORACLE };
#define SIM_NPOLICIES 3

/* "reactive", "predictive", "oracle". */
const char *sim_policy_name(enum sim_policy p);

/* One tick of the simulation. */
struct sim_step {
	int64_t t_ms;         /* tick time (the trace's clock) */
	double demand;        /* demand at t */
	double observed;      /* what the metric showed at t (demand at t - lag) */
	double forecast;      /* predictive's forecast upper bound at t; NaN when none */
	int32_t desired[SIM_NPOLICIES]; /* replicas each policy asked for at t */
	int32_t ready[SIM_NPOLICIES];   /* replicas serving at t */
};

/* The figures of one policy over the scored window. */
struct sim_score {
	bool enabled;               /* the policy was simulated (--policy) */
	double replica_seconds;     /* sum of ready replicas x interval, seconds */
	double cost_ratio;          /* replica_seconds / the oracle's (NaN when no oracle) */
	double under_share;         /* share of scored ticks with demand > ready x capacity */
	double unserved_share;      /* unserved demand / total demand */
	uint32_t actions;           /* ticks at which the policy changed its desired count */
	int32_t peak;               /* most ready replicas at any scored tick */
};

/* Forecast quality of the predictive policy at the decision horizon, over the scored window. */
struct sim_forecast_score {
	bool valid;        /* at least one forecast was scored */
	double smape;      /* percent, 0..200 */
	double mase;       /* MAE / seasonal-naive MAE on the same truths */
	size_t n;          /* forecasts scored */
};

struct sim_params {
	int64_t startup_ms;   /* a requested pod serves this much later; default 60 s */
	int64_t lag_ms;       /* the metric shows demand this much later; default 30 s */
	double target;        /* AverageValue target per replica, in the metric's units */
	double capacity;      /* per-replica capacity; default target / 0.8 */
	int64_t interval_ms;  /* tick interval; default the target's */
	int64_t score_from_ms;/* start of the scored window (absolute, trace clock) */
	bool policies[SIM_NPOLICIES];
};

/* The result of a run: owned arrays, free with sim_result_release(). */
struct sim_result {
	struct sim_params params;    /* as resolved (defaults filled) */
	char source[256];            /* where the series came from, for reports */
	char target_name[128];       /* the Autoscaler simulated */
	char forecast_model[32];     /* the model predictive used last ("" without forecast) */
	size_t n_steps;
	struct sim_step *steps;
	size_t score_from_step;      /* index of the first scored tick */
	struct sim_score score[SIM_NPOLICIES];
	struct sim_forecast_score forecast;
};

void sim_result_release(struct sim_result *r);

/* ---- running (sim.c) ---- */

/* What is simulated: the target's policy (min, max, behavior and controller parameters come
 * from its spec; its metrics are replaced by the one simulated metric) and its forecast. */
struct sim_target {
	char name[128];
	struct eng_spec spec;
	struct eng_params params;
	double target;             /* AverageValue per replica, in the metric's units (> 0) */
	struct fc_config forecast; /* the predictive policy's model; horizon_ms and step_ms are set
	                            * by the simulator */
	bool observe;              /* forecast mode observe: predictive computes, never acts */
};

/* Defaults of sim_params: startup 60 s, lag 30 s, capacity and interval 0 (resolved by
 * sim_run: target / 0.8 and 15 s), score_from_ms INT64_MIN (after the forecaster's warm-up),
 * every policy on. */
void sim_params_default(struct sim_params *p);

/* Replays <tr> through the engine for each enabled policy of <p> and fills <out> (owned; free
 * with sim_result_release()). Returns PS_EINVAL with <diag> for parameters that cannot be
 * simulated, PS_ENOMEM. Pure computation: no clock, no I/O; deterministic. */
PS_MUST_CHECK enum ps_err sim_run(const struct trace *tr, const struct sim_target *t,
                                  const struct sim_params *p, struct sim_result *out,
                                  struct ps_diag *diag);

/* ---- reports (sim_report.c) ---- */

/* The summary table for a terminal: one row per enabled policy with replica-seconds, cost vs
 * oracle, under-provisioned time, unserved share, actions, peak; then the forecast error. */
PS_MUST_CHECK enum ps_err sim_write_table(const struct sim_result *r, FILE *out);
/* The machine-readable summary: exactly the figures of the table, stable key order. */
PS_MUST_CHECK enum ps_err sim_write_json(const struct sim_result *r, FILE *out);
/* steps.csv: time, demand, observed, forecast, then desired and ready replicas per enabled
 * policy, one row per tick, with a header. */
PS_MUST_CHECK enum ps_err sim_write_steps_csv(const struct sim_result *r, FILE *out);
/* chart.svg: demand against capacity (ready x capacity) and replicas over time, per policy,
 * with labelled axes and a legend. */
PS_MUST_CHECK enum ps_err sim_write_svg(const struct sim_result *r, FILE *out);

#endif
