/* sim.c -- the simulator: a virtual clock ticking over a recorded series, a deployment model
 * per policy, the decision engine (and, for predictive, the forecaster), and the scores. */
#include "sim.h"

#include <math.h>
#include <string.h>

#include "ps_alloc.h"

/* The simulated metric is an External AverageValue metric. Its value is sent to the engine
 * normalised so that the target is SIM_UNIT milli-units: only the ratio matters to the HPA
 * arithmetic, and this keeps six significant digits whatever the series' scale. */
#define SIM_UNIT 1000000.0

const char *sim_policy_name(enum sim_policy p)
{
	switch (p) {
	case SIM_REACTIVE:
		return "reactive";
	case SIM_PREDICTIVE:
		return "predictive";
	case SIM_ORACLE:
		return "oracle";
	}
	return "unknown";
}

void sim_params_default(struct sim_params *p)
{
	memset(p, 0, sizeof(*p));
	p->startup_ms = 60000;
	p->lag_ms = 30000;
	p->score_from_ms = INT64_MIN;
	for (int i = 0; i < SIM_NPOLICIES; i++)
		p->policies[i] = true;
}

void sim_result_release(struct sim_result *r)
{
	if (!r)
		return;
	ps_free(r->steps);
	r->steps = NULL;
	r->n_steps = 0;
}

/* ---- the series ---- */

/* A cursor over the trace for non-decreasing times: demand(t) with linear interpolation,
 * clamped to the first and last samples. */
struct cursor {
	const struct trace *tr;
	size_t i; /* ts_ms[i] <= t < ts_ms[i + 1], as far as possible */
};

static double demand_at(struct cursor *c, int64_t t)
{
	const struct trace *tr = c->tr;
	if (t <= tr->ts_ms[0])
		return tr->value[0];
	if (t >= tr->ts_ms[tr->n - 1])
		return tr->value[tr->n - 1];
	while (c->i + 1 < tr->n && tr->ts_ms[c->i + 1] <= t)
		c->i++;
	int64_t t0 = tr->ts_ms[c->i], t1 = tr->ts_ms[c->i + 1];
	double v0 = tr->value[c->i], v1 = tr->value[c->i + 1];
	return v0 + (v1 - v0) * (double)(t - t0) / (double)(t1 - t0);
}

/* ---- one policy's deployment ---- */

/* Pods as a stack of the times they start serving, oldest first; removals pop the newest. */
struct deployment {
	int64_t *ready_at;
	size_t n, cap;
	size_t n_ready; /* ready_at[0 .. n_ready) <= now: ready_at is non-decreasing */
};

static enum ps_err deployment_resize(struct deployment *d, int32_t want, int64_t now,
                                     int64_t startup)
{
	size_t w = want > 0 ? (size_t)want : 0;
	if (w > d->cap) {
		size_t cap = d->cap ? d->cap : 16;
		while (cap < w)
			cap *= 2;
		int64_t *v = ps_reallocarray(d->ready_at, cap, sizeof(*v));
		if (!v)
			return PS_ENOMEM;
		d->ready_at = v;
		d->cap = cap;
	}
	while (d->n < w)
		d->ready_at[d->n++] = now + startup;
	if (d->n > w)
		d->n = w;
	if (d->n_ready > d->n)
		d->n_ready = d->n;
	return PS_OK;
}

static int32_t deployment_ready(struct deployment *d, int64_t now)
{
	while (d->n_ready < d->n && d->ready_at[d->n_ready] <= now)
		d->n_ready++;
	return (int32_t)d->n_ready;
}

/* The engine's side of one policy. */
struct policy {
	bool on;
	struct deployment dep;
	int32_t desired;
	struct eng_history h;
	struct eng_scratch s;
	struct eng_condition conds[ENG_MAX_CONDITIONS];
	size_t n_conds;
};

static void policy_release(struct policy *p)
{
	ps_free(p->dep.ready_at);
	eng_history_release(&p->h);
	eng_scratch_release(&p->s);
}

static int32_t clamp_count(const struct eng_spec *spec, double x)
{
	int32_t min = spec->has_min_replicas ? spec->min_replicas : 1;
	double c = ceil(x);
	if (!(c < (double)spec->max_replicas))
		return spec->max_replicas;
	int32_t v = c > 0 ? (int32_t)c : 0;
	return v < min ? min : v;
}

/* One engine tick of a reactive or predictive policy. */
static enum ps_err engine_tick(const struct eng_spec *spec, const struct eng_params *params,
                               struct policy *pol, int64_t now, double observed_norm,
                               enum eng_forecast_use fuse, double forecast_norm,
                               struct ps_diag *diag)
{
	int64_t value = (int64_t)llround(observed_norm);
	struct eng_reading rd = {.n_values = 1, .values_milli = &value};
	if (fuse != ENG_FORECAST_NONE) {
		rd.forecast_use = fuse;
		rd.forecast_milli = (int64_t)llround(forecast_norm);
	}
	struct eng_observation obs = {
		.now_ms = now,
		.spec_replicas = pol->desired,
		.status_replicas = (int32_t)pol->dep.n,
		.readings = &rd,
		.n_conditions = pol->n_conds,
		.conditions = pol->conds,
	};
	struct eng_decision d;
	enum ps_err e = eng_decide(spec, params, &obs, &pol->h, &pol->s, &d, diag);
	if (e)
		return e;
	if (d.write) {
		eng_rescaled(spec, params, &pol->h, &d, now);
		pol->desired = d.desired_replicas;
	}
	pol->n_conds = d.n_conditions;
	memcpy(pol->conds, d.conditions, d.n_conditions * sizeof(d.conditions[0]));
	return PS_OK;
}

/* ---- the forecast of the predictive policy ---- */

struct fc_run {
	bool on;
	struct fc_model m;
	int64_t horizon_ms;
	size_t next;        /* next trace sample to feed */
	bool have;          /* a forecast is available */
	struct fc_forecast last;
	bool fitted;
	/* scoring at the horizon against seasonal-naive */
	double sum_abs, sum_naive, sum_smape;
	size_t n;
	struct cursor truth, naive;
	char model[32];
};

/* Feeds the samples the metric has shown by <now> (those at or before now - lag) and refreshes
 * the forecast when a sample arrived. */
static enum ps_err fc_advance(struct fc_run *f, const struct trace *tr, const struct sim_target *t,
                              const struct sim_params *p, int64_t now, int64_t score_from,
                              struct ps_diag *diag)
{
	bool fed = false;
	while (f->next < tr->n && tr->ts_ms[f->next] <= now - p->lag_ms) {
		enum ps_err e = fc_update(&f->m, tr->ts_ms[f->next], tr->value[f->next], diag);
		if (e && e != PS_EINVAL)
			return e;
		f->next++;
		fed = true;
	}
	if (!fed)
		return PS_OK;
	if (fc_ready(&f->m) && (!f->fitted || fc_refit_due(&f->m))) {
		enum ps_err e = fc_refit(&f->m, diag);
		if (e && e != PS_ENODATA)
			return e;
		f->fitted = true;
	}
	struct fc_forecast fc;
	/* The peak that matters is where capacity requested now would serve: from one pod
	 * start-up after the metric caught up (lag + startup) to the end of the horizon. */
	enum ps_err e = fc_forecast_range(&f->m, p->lag_ms + p->startup_ms, f->horizon_ms, &fc, diag);
	if (e == PS_ENODATA) {
		f->have = false;
		return PS_OK;
	}
	if (e)
		return e;
	f->have = true;
	f->last = fc;
	snprintf(f->model, sizeof(f->model), "%s", fc_kind_name(fc.model_used));
	/* Score the point forecast at the horizon against the series and against seasonal-naive
	 * (the value one season earlier; the last value without a season). Every time looked up
	 * here only grows, so each has its own cursor. */
	int64_t origin = fc.origin_ms, at = origin + f->horizon_ms;
	int64_t season = t->forecast.season_ms;
	int64_t naive_at = season > 0 ? at - season : origin;
	if (origin >= score_from && at <= tr->ts_ms[tr->n - 1] && naive_at >= tr->ts_ms[0]) {
		double y = demand_at(&f->truth, at);
		double nv = demand_at(&f->naive, naive_at);
		double err = fabs(y - fc.point_at_horizon);
		f->sum_abs += err;
		f->sum_naive += fabs(y - nv);
		double den = fabs(y) + fabs(fc.point_at_horizon);
		f->sum_smape += den > 0 ? 200.0 * err / den : 0.0;
		f->n++;
	}
	return PS_OK;
}

/* ---- the run ---- */

/* Replicas each policy starts with: the oracle's count at the first tick, all serving. */
static enum ps_err policy_init(struct policy *pol, const struct eng_spec *spec, int32_t start,
                               int64_t first, size_t hist_cap)
{
	pol->desired = start;
	enum ps_err e = eng_history_init(&pol->h, hist_cap);
	if (!e)
		e = eng_scratch_reserve(&pol->s, 1);
	if (!e)
		e = deployment_resize(&pol->dep, start, first, 0);
	(void)spec;
	return e;
}

static void score_tick(struct sim_score *sc, double demand, int32_t ready, double capacity,
                       double interval_s, bool changed, double *unserved, double *total)
{
	sc->replica_seconds += (double)ready * interval_s;
	double served = (double)ready * capacity;
	if (demand > served) {
		sc->under_share += 1.0;
		*unserved += (demand - served) * interval_s;
	}
	*total += (demand > 0 ? demand : 0) * interval_s;
	if (changed)
		sc->actions++;
	if (ready > sc->peak)
		sc->peak = ready;
}

static enum ps_err check_input(const struct trace *tr, const struct sim_target *t,
                               const struct sim_params *p, struct ps_diag *diag)
{
	if (!tr || tr->n < 2 || tr->step_ms <= 0)
		return ps_diag_set(diag, PS_EINVAL, "simulate: the series needs at least 2 samples");
	if (!(t->target > 0) || !isfinite(t->target))
		return ps_diag_set(diag, PS_EINVAL, "simulate: the metric target must be > 0");
	if (t->spec.max_replicas < 1)
		return ps_diag_set(diag, PS_EINVAL, "simulate: maxReplicas must be at least 1");
	if (p->startup_ms < 0 || p->lag_ms < 0 || p->interval_ms < 0 || p->capacity < 0 ||
	    !isfinite(p->capacity))
		return ps_diag_set(diag, PS_EINVAL,
		                   "simulate: startup, lag, interval and capacity must not be negative");
	bool any = false;
	for (int i = 0; i < SIM_NPOLICIES; i++)
		any |= p->policies[i];
	if (!any)
		return ps_diag_set(diag, PS_EINVAL, "simulate: no policy selected");
	return PS_OK;
}

enum ps_err sim_run(const struct trace *tr, const struct sim_target *t,
                    const struct sim_params *pin, struct sim_result *out, struct ps_diag *diag)
{
	memset(out, 0, sizeof(*out));
	enum ps_err e = check_input(tr, t, pin, diag);
	if (e)
		return e;
	struct sim_params p = *pin;
	if (p.interval_ms == 0)
		p.interval_ms = 15000;
	if (p.capacity == 0)
		p.capacity = t->target / 0.8;
	p.target = t->target;
	const int64_t first = tr->ts_ms[0], last = tr->ts_ms[tr->n - 1];
	const bool predictive = p.policies[SIM_PREDICTIVE];

	/* The forecast must see as far as a pod requested now serves for one interval, from a
	 * sample that is up to one step plus the metric lag old. */
	struct fc_run f;
	memset(&f, 0, sizeof(f));
	f.horizon_ms = p.lag_ms + tr->step_ms + p.startup_ms + p.interval_ms;
	if (p.score_from_ms == INT64_MIN) {
		int64_t warm = t->forecast.season_ms > 0 ? t->forecast.season_ms
		                                         : t->forecast.regression_ms;
		p.score_from_ms = predictive ? first + warm + f.horizon_ms : first;
	}
	if (p.score_from_ms >= last)
		return ps_diag_set(diag, PS_EINVAL,
		                   "simulate: the scored window starts at or after the series ends "
		                   "(the series is shorter than the forecaster's warm-up?)");

	size_t n = (size_t)((last - first) / p.interval_ms) + 1;
	struct sim_step *steps = ps_calloc(n, sizeof(*steps));
	if (!steps)
		return ps_diag_set(diag, PS_ENOMEM, "simulate: out of memory");

	struct eng_spec spec = t->spec;
	spec.n_metrics = 1;
	memset(&spec.metrics[0], 0, sizeof(spec.metrics[0]));
	spec.metrics[0].source = ENG_SRC_EXTERNAL;
	snprintf(spec.metrics[0].name, sizeof(spec.metrics[0].name), "demand");
	spec.metrics[0].target = (struct eng_target){.type = ENG_TARGET_AVERAGE_VALUE,
	                                             .has_average_value = true,
	                                             .average_value_milli = (int64_t)SIM_UNIT};
	/* Room for every recommendation inside the longest stabilization window. */
	size_t hist_cap = (size_t)(3600000 / p.interval_ms) + 64;

	struct policy pol[SIM_NPOLICIES];
	memset(pol, 0, sizeof(pol));
	struct cursor dc = {tr, 0}, oc = {tr, 0};
	int32_t start = clamp_count(&spec, tr->value[0] / t->target);
	for (int i = 0; i < SIM_NPOLICIES && !e; i++) {
		pol[i].on = p.policies[i];
		if (pol[i].on)
			e = policy_init(&pol[i], &spec, start, first, hist_cap);
	}
	if (e) {
		ps_diag_set(diag, e, "simulate: out of memory");
		goto out;
	}
	if (predictive) {
		struct fc_config fcfg = t->forecast;
		fcfg.step_ms = tr->step_ms;
		fcfg.horizon_ms = f.horizon_ms;
		e = fc_init(&f.m, &fcfg, diag);
		if (e) {
			ps_diag_prefix(diag, "simulate: forecast");
			goto out;
		}
		f.on = true;
		f.truth.tr = f.naive.tr = tr;
	}

	double unserved[SIM_NPOLICIES] = {0}, total[SIM_NPOLICIES] = {0};
	const double interval_s = (double)p.interval_ms / 1000.0;
	size_t scored = 0;
	out->score_from_step = n;
	for (size_t k = 0; k < n; k++) {
		int64_t now = first + (int64_t)k * p.interval_ms;
		struct sim_step *st = &steps[k];
		st->t_ms = now;
		st->demand = demand_at(&dc, now);
		st->observed = demand_at(&oc, now - p.lag_ms);
		st->forecast = NAN;
		double obs_norm = st->observed / t->target * SIM_UNIT;
		bool in_score = now >= p.score_from_ms;
		if (in_score && out->score_from_step == n)
			out->score_from_step = k;
		scored += in_score;
		for (int i = 0; i < SIM_NPOLICIES; i++) {
			if (!pol[i].on)
				continue;
			int32_t before = pol[i].desired;
			if (i == SIM_ORACLE) {
				pol[i].desired = clamp_count(&spec, st->demand / t->target);
				e = deployment_resize(&pol[i].dep, pol[i].desired, now, 0);
			} else {
				enum eng_forecast_use fuse = ENG_FORECAST_NONE;
				double fc_norm = 0;
				if (i == SIM_PREDICTIVE) {
					e = fc_advance(&f, tr, t, &p, now, p.score_from_ms, diag);
					if (e)
						goto out;
					if (f.have) {
						st->forecast = f.last.upper;
						fc_norm = f.last.upper / t->target * SIM_UNIT;
						fuse = f.last.fallback ? ENG_FORECAST_FALLBACK
						       : t->observe    ? ENG_FORECAST_OBSERVE
						                       : ENG_FORECAST_ACT;
					}
				}
				e = engine_tick(&spec, &t->params, &pol[i], now, obs_norm, fuse, fc_norm,
				                diag);
				if (e)
					goto out;
				e = deployment_resize(&pol[i].dep, pol[i].desired, now, p.startup_ms);
			}
			if (e) {
				ps_diag_set(diag, e, "simulate: out of memory");
				goto out;
			}
			st->desired[i] = pol[i].desired;
			st->ready[i] = deployment_ready(&pol[i].dep, now);
			if (in_score)
				score_tick(&out->score[i], st->demand, st->ready[i], p.capacity,
				           interval_s, pol[i].desired != before, &unserved[i], &total[i]);
		}
	}

	for (int i = 0; i < SIM_NPOLICIES; i++) {
		struct sim_score *sc = &out->score[i];
		sc->enabled = pol[i].on;
		if (!sc->enabled)
			continue;
		sc->under_share = scored ? sc->under_share / (double)scored : 0;
		sc->unserved_share = total[i] > 0 ? unserved[i] / total[i] : 0;
	}
	for (int i = 0; i < SIM_NPOLICIES; i++) {
		struct sim_score *sc = &out->score[i];
		double o = out->score[SIM_ORACLE].replica_seconds;
		sc->cost_ratio = sc->enabled && pol[SIM_ORACLE].on && o > 0 ? sc->replica_seconds / o
		                                                              : NAN;
	}
	if (f.on && f.n > 0) {
		out->forecast.valid = true;
		out->forecast.n = f.n;
		out->forecast.smape = f.sum_smape / (double)f.n;
		out->forecast.mase = f.sum_naive > 0 ? f.sum_abs / f.sum_naive : NAN;
	}
	snprintf(out->forecast_model, sizeof(out->forecast_model), "%s", f.model);
	snprintf(out->source, sizeof(out->source), "%s", tr->source);
	snprintf(out->target_name, sizeof(out->target_name), "%s", t->name);
	out->params = p;
	out->n_steps = n;
	out->steps = steps;
	steps = NULL;
	e = PS_OK;
out:
	ps_free(steps);
	for (int i = 0; i < SIM_NPOLICIES; i++)
		policy_release(&pol[i]);
	if (f.on)
		fc_release(&f.m);
	return e;
}
