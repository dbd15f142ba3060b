/* tick_policy.c -- one target's decision around the engine: staleness, onError, forecasts,
 * scale to zero, fallback and pause (see the DESIGN block of tick.h). No I/O, no clock: time
 * comes in the observation. */
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine.h"
#include "ps_alloc.h"
#include "ps_parse.h"
#include "tick.h"

/* ---- names ---- */

const char *tick_metric_state_name(enum tick_metric_state s)
{
	switch (s) {
	case TICK_M_OK:
		return "ok";
	case TICK_M_STALE:
		return "stale";
	case TICK_M_FAILED:
		return "failed";
	case TICK_M_IGNORED:
		return "ignored";
	case TICK_M_IDLE:
		return "idle";
	}
	return "unknown";
}

const char *tick_rule_name(const struct tick_record *r)
{
	if (r->paused_by[0])
		return "paused";
	switch (r->rule) {
	case TICK_RULE_ENGINE:
		return r->have_decision ? eng_rule_name(r->d.rule) : "none";
	case TICK_RULE_FALLBACK:
		return "fallback";
	case TICK_RULE_HELD:
		return "scale-down held";
	case TICK_RULE_NO_METRICS:
		return "no metrics";
	case TICK_RULE_SCALE_TO_ZERO:
		return "scale to zero";
	case TICK_RULE_IDLE:
		return "idle at zero";
	case TICK_RULE_ACTIVATION:
		return "activation";
	}
	return "unknown";
}

/* ---- sizes ---- */

/* The longest stabilization window of <t>, in ms (HPA: the behavior's windows, else the
 * controller's downscale window). */
static int64_t longest_window_ms(const struct cfg_target *t)
{
	int64_t down = t->params.downscale_window_ms, up = 0;
	if (t->spec.has_behavior) {
		if (t->spec.behavior.has_scale_down && t->spec.behavior.scale_down.has_window)
			down = (int64_t)t->spec.behavior.scale_down.window_s * 1000;
		if (t->spec.behavior.has_scale_up && t->spec.behavior.scale_up.has_window)
			up = (int64_t)t->spec.behavior.scale_up.window_s * 1000;
	}
	return down > up ? down : up;
}

/* The longest rate-policy period of <t>, in ms. */
static int64_t longest_period_ms(const struct cfg_target *t)
{
	int64_t best = 0;
	const struct eng_rules *rules[2] = {&t->spec.behavior.scale_up,
	                                    &t->spec.behavior.scale_down};
	for (size_t r = 0; t->spec.has_behavior && r < 2; r++)
		for (size_t i = 0; i < rules[r]->n_policies; i++)
			if ((int64_t)rules[r]->policies[i].period_s * 1000 > best)
				best = (int64_t)rules[r]->policies[i].period_s * 1000;
	return best;
}

size_t tick_seed_count(const struct cfg_target *t)
{
	int64_t w = longest_window_ms(t);
	return t->interval_ms > 0 && w > 0 ? (size_t)(w / t->interval_ms) + 1 : 0;
}

/* Recommendations and scale events the target keeps: everything inside its windows and
 * policy periods at one per tick, and some room for ticks that come early. */
/* Scale-event slots per direction a target starts with; they double as events come, up to
 * history_cap(). */
#define TICK_EVENTS_INITIAL 4

static size_t history_cap(const struct cfg_target *t)
{
	int64_t span = longest_window_ms(t);
	if (longest_period_ms(t) > span)
		span = longest_period_ms(t);
	return (size_t)(span / t->interval_ms) * 2 + 16;
}

/* ---- forecasters ---- */


/* The decision horizon: a pod requested now serves after podStartup, for one interval, on a
 * metric that lags demand by metricLag. */
static int64_t horizon_ms(const struct cfg_target *t)
{
	return t->forecast.pod_startup_ms + t->interval_ms + t->forecast.metric_lag_ms;
}

int64_t tick_forecast_step_ms(const struct cfg_target *t)
{
	int64_t iv = t->interval_ms > 0 ? t->interval_ms : 1;
	int64_t season = t->forecast.season_ms;
	for (int64_t k = (TICK_FORECAST_MIN_STEP_MS + iv - 1) / iv; k > 1; k--) {
		int64_t step = k * iv;
		if (season <= 0 || (season % step == 0 && season / step >= TICK_FORECAST_MIN_SLOTS))
			return step;
	}
	return iv;
}

static void fc_config_of(const struct cfg_target *t, struct fc_config *c)
{
	fc_config_default(c);
	c->kind = cfg_model_kind(t->forecast.model);
	c->step_ms = tick_forecast_step_ms(t);
	c->season_ms = t->forecast.season_ms;
	c->horizon_ms = horizon_ms(t);
	c->quantile = t->forecast.quantile;
	/* The engine wants the ring to hold a season plus the horizon, and a regression window
	 * of two steps at least: widen rather than refuse. */
	int64_t need = c->season_ms + c->horizon_ms + c->step_ms;
	c->history_ms = t->forecast.history_ms > need ? t->forecast.history_ms : need;
	if (c->regression_ms < 2 * c->step_ms)
		c->regression_ms = 2 * c->step_ms;
}

static void forecasters_release(struct tick_target *st)
{
	for (size_t i = 0; i < st->n_metrics; i++) {
		if (st->m[i].fc_on)
			fc_release(st->m[i].fc);
		ps_free(st->m[i].fc);
		st->m[i].fc = NULL;
		st->m[i].fc_on = false;
		st->m[i].fc_fitted = st->m[i].fc_warm = false;
		st->m[i].fc_warm_retry_ms = 0;
		st->m[i].fc_error[0] = '\0';
	}
}

/* Makes one forecaster per metric; a config the forecaster refuses leaves that metric
 * reactive with the reason in fc_error. Returns PS_ENOMEM only. */
static enum ps_err forecasters_init(struct tick_target *st, const struct cfg_target *t)
{
	st->fc_cfg = t->forecast;
	if (!t->forecast.enabled)
		return PS_OK;
	struct fc_config c;
	fc_config_of(t, &c);
	for (size_t i = 0; i < t->n_metrics; i++) {
		struct ps_diag d;
		ps_diag_clear(&d);
		st->m[i].fc = ps_calloc(1, sizeof(*st->m[i].fc));
		if (!st->m[i].fc)
			return PS_ENOMEM;
		enum ps_err e = fc_init(st->m[i].fc, &c, &d);
		if (e == PS_ENOMEM)
			return e;
		if (e) {
			snprintf(st->m[i].fc_error, sizeof(st->m[i].fc_error), "%s",
			         ps_diag_msg(&d));
			continue;
		}
		st->m[i].fc_on = true;
	}
	return PS_OK;
}

/* ---- the state ---- */

/* Keeps the <n> conditions of a decision for the next one, in an array sized to them (most
 * targets carry 3 of the engine's 8 possible, ~570 bytes each). Out of memory for a longer
 * array, the ones that fit are kept. */
static void conds_store(struct tick_target *st, const struct eng_condition *c, size_t n)
{
	if (n > st->cap_conds) {
		struct eng_condition *v = ps_reallocarray(st->conds, n, sizeof(*v));
		if (v) {
			st->conds = v;
			st->cap_conds = n;
		}
	}
	st->n_conds = n < st->cap_conds ? n : st->cap_conds;
	if (st->n_conds)
		memcpy(st->conds, c, st->n_conds * sizeof(*c));
}

static void metric_buffers_release(struct tick_metric *m)
{
	ps_free(m->samples);
	ps_free(m->vals);
	m->samples = NULL;
	m->vals = NULL;
	m->cap_samples = m->cap_vals = 0;
}

enum ps_err tick_target_new(struct tick_env *env, const struct cfg_target *t,
                            struct tick_target **out, struct ps_diag *diag)
{
	*out = NULL;
	if (t->interval_ms <= 0 || t->n_metrics == 0 || t->n_metrics > ENG_MAX_METRICS)
		return ps_diag_set(diag, PS_EINVAL,
		                   "%s: bad target (interval %" PRId64 " ms, %zu "
		                   "metrics)",
		                   t->key, t->interval_ms, t->n_metrics);
	struct tick_target *st = ps_calloc(1, sizeof(*st));
	if (!st)
		return ps_diag_set(diag, PS_ENOMEM, "%s: out of memory", t->key);
	snprintf(st->key, sizeof(st->key), "%s", t->key);
	st->interval_ms = t->interval_ms;
	st->n_metrics = t->n_metrics;
	st->m = ps_calloc(t->n_metrics, sizeof(*st->m));
	enum ps_err e =
	    st->m ? eng_history_init_sized(&st->hist, history_cap(t), TICK_EVENTS_INITIAL) : PS_ENOMEM;
	if (!e)
		e = forecasters_init(st, t);
	if (e) {
		if (st->m)
			forecasters_release(st);
		eng_history_release(&st->hist);
		ps_free(st->m);
		ps_free(st);
		return ps_diag_set(diag, PS_ENOMEM, "%s: out of memory", t->key);
	}
	pthread_mutex_init(&st->lock, NULL);
	st->env = env;
	if (env)
		tick_env_register(env, st);
	*out = st;
	return PS_OK;
}

void tick_target_free(struct tick_target *st)
{
	if (!st)
		return;
	if (st->env)
		tick_env_unregister(st->env, st);
	forecasters_release(st);
	for (size_t i = 0; i < st->n_metrics; i++) {
		tick_values_release(&st->m[i].last);
		metric_buffers_release(&st->m[i]);
	}
	ps_free(st->m);
	ps_free(st->conds);
	eng_history_release(&st->hist);
	eng_scratch_release(&st->scratch);
	tick_clients_release(&st->own);
	tick_view_unref(st->view);
	ps_free(st->full);
	pthread_mutex_destroy(&st->lock);
	ps_free(st);
}

/* Grows the history to <cap>, keeping what it holds. */
static enum ps_err history_grow(struct eng_history *h, size_t cap)
{
	if (cap <= h->cap_recs)
		return PS_OK;
	struct eng_history n;
	size_t events = h->up.cap > h->down.cap ? h->up.cap : h->down.cap;
	enum ps_err e = eng_history_init_sized(&n, cap, events);
	if (e)
		return e;
	n.recs_set = h->recs_set;
	n.n_recs = h->n_recs;
	memcpy(n.recs, h->recs, h->n_recs * sizeof(*h->recs));
	n.up.n = h->up.n;
	memcpy(n.up.v, h->up.v, h->up.n * sizeof(*h->up.v));
	n.down.n = h->down.n;
	memcpy(n.down.v, h->down.v, h->down.n * sizeof(*h->down.v));
	n.dropped = h->dropped;
	eng_history_release(h);
	*h = n;
	return PS_OK;
}

static bool forecast_same(const struct cfg_forecast *a, const struct cfg_forecast *b)
{
	return a->enabled == b->enabled && a->model == b->model && a->season_ms == b->season_ms &&
	       a->history_ms == b->history_ms && a->quantile == b->quantile &&
	       a->pod_startup_ms == b->pod_startup_ms && a->metric_lag_ms == b->metric_lag_ms;
}

bool tick_target_reconfigure(struct tick_target *st, const struct cfg_target *t)
{
	if (t->n_metrics != st->n_metrics)
		return false;
	if (history_grow(&st->hist, history_cap(t)) != PS_OK)
		return false;
	/* The mode (scale/observe) only changes how a forecast is used. */
	struct cfg_forecast want = t->forecast, have = st->fc_cfg;
	want.mode = have.mode;
	if (!forecast_same(&want, &have) || t->interval_ms != st->interval_ms) {
		forecasters_release(st);
		st->interval_ms = t->interval_ms;
		if (forecasters_init(st, t) != PS_OK)
			return false;
	}
	st->fc_cfg = t->forecast;
	return true;
}

void tick_target_seed_history(struct tick_target *st, const struct cfg_target *t, int64_t now_ms,
                              int32_t current)
{
	size_t n = tick_seed_count(t);
	if (n == 0)
		return;
	if (n > st->hist.cap_recs)
		n = st->hist.cap_recs;
	st->hist.n_recs = 0;
	for (size_t j = 0; j < n; j++) {
		st->hist.recs[st->hist.n_recs++] =
		    (struct eng_rec){current, now_ms - (int64_t)(n - 1 - j) * t->interval_ms};
	}
	st->hist.recs_set = true;
}

void tick_target_set_inactive_since(struct tick_target *st, int64_t since_ms)
{
	st->has_inactive = since_ms != 0;
	st->inactive_since_ms = since_ms;
}

enum ps_err tick_target_fit(struct tick_target *st, size_t i, const int64_t *ts_ms,
                            const double *values, size_t n, struct ps_diag *diag)
{
	if (i >= st->n_metrics || !st->m[i].fc_on)
		return PS_OK;
	enum ps_err e = fc_fit(st->m[i].fc, ts_ms, values, n, diag);
	if (e == PS_OK || e == PS_ENODATA) {
		st->m[i].fc_fitted = e == PS_OK;
		st->m[i].fc_warm = true;
	}
	return e;
}

/* ---- one tick ---- */

static enum ps_err grow(void **p, size_t *cap, size_t want, size_t elem)
{
	if (want <= *cap)
		return PS_OK;
	size_t n = want < 16 ? 16 : want;
	void *q = ps_reallocarray(*p, n, elem);
	if (!q)
		return PS_ENOMEM;
	*p = q;
	*cap = n;
	return PS_OK;
}

static int key_cmp(const void *key, const void *elem)
{
	return strcmp((const char *)key, *(char *const *)elem);
}

/* Builds the engine reading of metric <cm> from <v>, per-pod values joined to the pods by
 * name: a series whose pod is not among the scale's pods is left out (a query may cover a
 * whole namespace; HPA's metrics API only answers for the selector's pods). The arrays live
 * in <tm>. *<value> gets the metric's single number: the Object value, the External sum, or
 * the mean over the joined pods (NaN when none). */
static enum ps_err reading_build(struct tick_metric *tm, const struct cfg_metric *cm,
                                 const struct tick_values *v, const struct tick_obs *o,
                                 struct eng_reading *rd, double *value)
{
	memset(rd, 0, sizeof(*rd));
	*value = NAN;
	if (cm->per_pod) {
		if (grow((void **)&tm->samples, &tm->cap_samples, o->n_pods, sizeof(*tm->samples)))
			return PS_ENOMEM;
		double sum = 0;
		size_t n = 0;
		for (size_t i = 0; i < o->n_pods; i++) {
			const char *name = o->pods[i].name ? o->pods[i].name : "";
			char **hit =
			    v->n ? bsearch(name, v->keys, v->n, sizeof(*v->keys), key_cmp) : NULL;
			if (!hit) {
				tm->samples[i] = (struct eng_sample){.present = false};
				continue;
			}
			size_t j = (size_t)(hit - v->keys);
			tm->samples[i] =
			    (struct eng_sample){true, tick_milli(v->v[j]), v->ts[j], v->window_ms};
			sum += v->v[j];
			n++;
		}
		rd->pod_samples = o->n_pods ? tm->samples : NULL;
		*value = n ? sum / (double)n : NAN;
		return PS_OK;
	}
	*value = tick_values_aggregate(v, cm);
	if (cm->source == ENG_SRC_OBJECT) {
		rd->value_milli = v->n ? tick_milli(v->v[0]) : 0;
		return PS_OK;
	}
	if (grow((void **)&tm->vals, &tm->cap_vals, v->n, sizeof(*tm->vals)))
		return PS_ENOMEM;
	for (size_t j = 0; j < v->n; j++)
		tm->vals[j] = tick_milli(v->v[j]);
	rd->n_values = v->n;
	rd->values_milli = tm->vals;
	return PS_OK;
}

/* Feeds the forecaster with a fresh value and fills the forecast of the reading. */
static void forecast_metric(struct tick_metric *tm, const struct cfg_target *t, bool fresh,
                            int64_t now_ms, struct tick_metric_rec *mr, struct eng_reading *rd)
{
	mr->forecast_on = t->forecast.enabled;
	if (!t->forecast.enabled)
		return;
	if (!tm->fc_on) {
		snprintf(mr->forecast_note, sizeof(mr->forecast_note), "%s",
		         tm->fc_error[0] ? tm->fc_error : "no forecaster");
		return;
	}
	struct ps_diag d;
	ps_diag_clear(&d);
	if (fresh && mr->has_value && isfinite(mr->value)) {
		if (fc_update(tm->fc, now_ms, mr->value, NULL) == PS_OK && fc_ready(tm->fc) &&
		    (!tm->fc_fitted || fc_refit_due(tm->fc))) {
			enum ps_err e = fc_refit(tm->fc, NULL);
			tm->fc_fitted = e == PS_OK || tm->fc_fitted;
		}
	}
	if (!mr->has_value) {
		snprintf(mr->forecast_note, sizeof(mr->forecast_note), "no value this tick");
		return;
	}
	struct fc_forecast f;
	enum ps_err e = fc_forecast_range(
	    tm->fc, t->forecast.metric_lag_ms + t->forecast.pod_startup_ms, horizon_ms(t), &f, &d);
	if (e == PS_ENODATA) {
		snprintf(mr->forecast_note, sizeof(mr->forecast_note),
		         "warming up (%" PRIu64 " of %zu samples)", tm->fc->n_samples,
		         tm->fc->warm + tm->fc->h + 1);
		return;
	}
	if (e) {
		snprintf(mr->forecast_note, sizeof(mr->forecast_note), "%s", ps_diag_msg(&d));
		return;
	}
	mr->has_forecast = true;
	mr->has_forecast_error = f.n_errors > 0;
	mr->forecast_mase = f.mase;
	mr->forecast = f.upper;
	snprintf(mr->forecast_model, sizeof(mr->forecast_model), "%s", fc_kind_name(f.model_used));
	mr->forecast_use = f.fallback                                 ? ENG_FORECAST_FALLBACK
	                   : t->forecast.mode == CFG_FORECAST_OBSERVE ? ENG_FORECAST_OBSERVE
	                                                              : ENG_FORECAST_ACT;
	if (f.fallback)
		snprintf(mr->forecast_note, sizeof(mr->forecast_note),
		         "worse than seasonal-naive (MASE %.2f): not used", f.mase);
	rd->forecast_use = mr->forecast_use;
	rd->forecast_milli = tick_milli(f.upper);
}

static void set_conds_scaled_to_zero(struct eng_condition *c, size_t *n)
{
	for (size_t i = 0; i < *n; i++)
		if (c[i].type == ENG_COND_SCALED_TO_ZERO) {
			c[i].status = true;
			return;
		}
	if (*n < ENG_MAX_CONDITIONS) {
		c[*n] = (struct eng_condition){.type = ENG_COND_SCALED_TO_ZERO, .status = true};
		snprintf(c[*n].reason, sizeof(c[*n].reason), "ScaledToZero");
		snprintf(c[*n].message, sizeof(c[*n].message),
		         "the target is at zero replicas (minReplicas 0)");
		(*n)++;
	}
}

static const char *qty(double v, char *buf, size_t size)
{
	return ps_format_quantity_milli(tick_milli(v), buf, size);
}

void tick_record_pause(struct tick_record *rec, const char *by)
{
	snprintf(rec->paused_by, sizeof(rec->paused_by), "%s", by);
	rec->write = false;
	if (rec->have_decision)
		rec->d.write = false;
}

enum ps_err tick_decide(struct tick_target *st, const struct cfg_target *t, struct tick_obs *o,
                        struct tick_record *rec, struct ps_diag *diag)
{
	memset(rec, 0, sizeof(*rec));
	snprintf(rec->key, sizeof(rec->key), "%s", t->key);
	rec->time_ms = o->now_ms;
	rec->outcome = TICK_OUT_DECIDED;
	rec->current = o->spec_replicas;
	rec->desired = o->spec_replicas;
	rec->cooldown_ms = t->cooldown_ms;
	rec->n_metrics = t->n_metrics;
	const bool zero = t->spec.min_replicas == 0;
	const int32_t current = o->spec_replicas;

	struct eng_reading rd[ENG_MAX_METRICS];
	bool any_active = false, all_inactive = true, any_ignored = false;
	size_t n_considered = 0;
	const char *ignored_name = NULL, *ignored_error = NULL;
	for (size_t i = 0; i < t->n_metrics; i++) {
		const struct cfg_metric *cm = &t->metrics[i];
		struct tick_metric *tm = &st->m[i];
		struct tick_metric_rec *mr = &rec->m[i];
		struct tick_input *in = &o->inputs[i];
		snprintf(mr->name, sizeof(mr->name), "%s", cm->name);
		mr->source = cm->source;
		mr->target = cm->target;
		mr->per_pod = cm->per_pod;
		mr->on_error = cm->on_error;
		mr->row = -1;
		mr->activation_milli = cm->has_activation ? cm->activation_milli : 0;
		memset(&rd[i], 0, sizeof(rd[i]));

		const struct tick_values *v = NULL;
		bool fresh = false;
		if (in->err == PS_OK) {
			tick_values_release(&tm->last);
			tm->last = in->values;
			memset(&in->values, 0, sizeof(in->values));
			tm->has_last = true;
			v = &tm->last;
			fresh = true;
			mr->state = TICK_M_OK;
		} else {
			snprintf(mr->error, sizeof(mr->error), "%s",
			         in->error[0] ? in->error : ps_strerror(in->err));
			if (t->staleness_ms > 0 && tm->has_last &&
			    o->now_ms - tm->last.time_ms <= t->staleness_ms) {
				v = &tm->last;
				mr->state = TICK_M_STALE;
				mr->stale_age_ms = o->now_ms - tm->last.time_ms;
			} else {
				mr->state = cm->on_error == CFG_ON_ERROR_IGNORE ? TICK_M_IGNORED
				                                                : TICK_M_FAILED;
			}
		}
		/* At zero replicas a per-pod metric has no pods to speak for. */
		if (zero && current == 0 && cm->per_pod) {
			mr->state = TICK_M_IDLE;
			v = NULL;
		} else if (v && tick_metric_needs_pods(cm) && o->pods_failed) {
			snprintf(mr->error, sizeof(mr->error), "listing the pods failed: %s",
			         o->pods_error ? o->pods_error : "");
			mr->state =
			    cm->on_error == CFG_ON_ERROR_IGNORE ? TICK_M_IGNORED : TICK_M_FAILED;
			v = NULL;
		}
		if (v) {
			if (reading_build(tm, cm, v, o, &rd[i], &mr->value) != PS_OK)
				return ps_diag_set(diag, PS_ENOMEM, "%s: out of memory", t->key);
			mr->has_value = isfinite(mr->value);
		} else {
			rd[i].failed = true;
			rd[i].error = mr->error;
		}
		forecast_metric(tm, t, fresh, o->now_ms, mr, &rd[i]);

		if (mr->state == TICK_M_IGNORED) {
			any_ignored = true;
			if (!ignored_name) {
				ignored_name = mr->name;
				ignored_error = mr->error;
			}
		}
		if (zero) {
			if (mr->state == TICK_M_IDLE) {
				mr->activity = TICK_ACT_INACTIVE;
			} else if (mr->has_value) {
				bool act = tick_milli(mr->value) > mr->activation_milli;
				mr->activity = act ? TICK_ACT_ACTIVE : TICK_ACT_INACTIVE;
				any_active |= act;
				all_inactive &= !act;
				n_considered++;
			} else {
				mr->activity = TICK_ACT_UNKNOWN;
				all_inactive = false;
			}
		}
	}
	if (zero) {
		if (all_inactive && n_considered > 0) {
			if (!st->has_inactive) {
				st->has_inactive = true;
				st->inactive_since_ms = o->now_ms;
			}
		} else {
			st->has_inactive = false;
		}
		rec->has_inactive = st->has_inactive;
		rec->inactive_since_ms = st->has_inactive ? st->inactive_since_ms : 0;
	}

	/* The decision runs on the metrics that take part. */
	struct eng_spec spec = t->spec;
	struct eng_reading used[ENG_MAX_METRICS];
	size_t n_used = 0;
	for (size_t i = 0; i < t->n_metrics; i++) {
		if (rec->m[i].state == TICK_M_IGNORED || rec->m[i].state == TICK_M_IDLE)
			continue;
		rec->m[i].row = (int)n_used;
		spec.metrics[n_used] = t->spec.metrics[i];
		used[n_used++] = rd[i];
	}
	spec.n_metrics = n_used;
	if (zero) {
		spec.has_min_replicas = true;
		spec.min_replicas = 1; /* zero is the activation rule's to set */
	}

	bool failed_tick = false;
	int32_t desired = current;
	bool write = false;
	if (n_used == 0) {
		rec->rule = zero && current == 0 ? TICK_RULE_IDLE : TICK_RULE_NO_METRICS;
		failed_tick = !(zero && current == 0) || any_ignored;
		if (rec->rule == TICK_RULE_IDLE)
			snprintf(rec->reason, sizeof(rec->reason),
			         "at zero replicas: no metric can "
			         "wake the target (per-pod metrics have no pods)");
		else
			snprintf(
			    rec->reason, sizeof(rec->reason), "every metric was left out: %s: %s",
			    ignored_name ? ignored_name : "?", ignored_error ? ignored_error : "");
	} else {
		if (eng_scratch_reserve(&st->scratch, o->n_pods) != PS_OK)
			return ps_diag_set(diag, PS_ENOMEM, "%s: out of memory", t->key);
		struct eng_condition conds[ENG_MAX_CONDITIONS];
		size_t n_conds = st->n_conds;
		if (n_conds) /* st->conds is NULL before the first decision */
			memcpy(conds, st->conds, n_conds * sizeof(conds[0]));
		if (zero && current == 0)
			set_conds_scaled_to_zero(conds, &n_conds);
		struct eng_observation obs = {
		    .now_ms = o->now_ms,
		    .spec_replicas = current,
		    .status_replicas = o->status_replicas,
		    .selector = o->selector,
		    .n_pods = o->n_pods,
		    .pods = o->pods,
		    .readings = used,
		    .n_conditions = n_conds,
		    .conditions = conds,
		};
		enum ps_err e =
		    eng_decide(&spec, &t->params, &obs, &st->hist, &st->scratch, &rec->d, diag);
		if (e) {
			ps_diag_prefix(diag, "%s: decision", t->key);
			return e;
		}
		rec->have_decision = true;
		desired = rec->d.desired_replicas;
		write = rec->d.write;
		failed_tick = rec->d.error;
		snprintf(rec->reason, sizeof(rec->reason), "%s", rec->d.reason);
		conds_store(st, rec->d.conditions, rec->d.n_conditions);
	}

	char a[48], b[48], cd[48];
	if (zero && current == 0 && rec->have_decision) {
		const struct tick_metric_rec *waker = NULL;
		for (size_t i = 0; i < t->n_metrics && !waker; i++)
			if (rec->m[i].activity == TICK_ACT_ACTIVE)
				waker = &rec->m[i];
		if (waker && write && desired > 0) {
			rec->rule = TICK_RULE_ACTIVATION;
			snprintf(rec->reason, sizeof(rec->reason),
			         "%s is above its activation value (%s > %s)", waker->name,
			         qty(waker->value, a, sizeof(a)),
			         ps_format_quantity_milli(waker->activation_milli, b, sizeof(b)));
		} else {
			desired = 0;
			write = false;
			rec->rule = TICK_RULE_IDLE;
			if (waker)
				snprintf(rec->reason, sizeof(rec->reason),
				         "%s is above its activation value, but no replica count "
				         "could be "
				         "computed",
				         waker->name);
			else if (all_inactive && n_considered > 0)
				snprintf(rec->reason, sizeof(rec->reason),
				         "every metric is at or below its activation value");
			else
				snprintf(
				    rec->reason, sizeof(rec->reason),
				    "at zero replicas: waiting for metric data to wake the target");
		}
	} else if (zero && current > 0 && st->has_inactive && !failed_tick && !any_ignored &&
	           o->now_ms - st->inactive_since_ms >= t->cooldown_ms) {
		desired = 0;
		write = true;
		rec->rule = TICK_RULE_SCALE_TO_ZERO;
		snprintf(rec->reason, sizeof(rec->reason),
		         "every metric at or below its activation value for %s",
		         ps_format_duration_ms(o->now_ms - st->inactive_since_ms, cd, sizeof(cd)));
	}

	/* onError: ignore leaves the metric out, but missing data still never scales down. */
	if (any_ignored && desired < current && rec->rule == TICK_RULE_ENGINE) {
		rec->rule = TICK_RULE_HELD;
		snprintf(rec->reason, sizeof(rec->reason),
		         "scale-down to %d held: %s (onError: ignore) has no value: %s",
		         (int)desired, ignored_name, ignored_error);
		desired = current;
		write = false;
	}

	/* Fallback after consecutive failed ticks, and recovery. */
	if (failed_tick) {
		st->failures++;
		st->count.failed_ticks++;
	} else {
		rec->recovered = st->fallback_active;
		st->failures = 0;
		st->fallback_active = false;
	}
	rec->failures = st->failures;
	if (t->fallback.enabled && st->failures >= t->fallback.failure_threshold) {
		st->fallback_active = true;
		bool scale_up = write && desired > current;
		if (t->fallback.has_replicas) {
			int32_t fb = t->fallback.replicas;
			if (!(scale_up && desired > fb)) {
				desired = fb;
				write = fb != current;
				rec->rule = TICK_RULE_FALLBACK;
				snprintf(rec->reason, sizeof(rec->reason),
				         "fallback after %d failed ticks: %d replicas",
				         (int)st->failures, (int)fb);
			}
		} else if (!scale_up) {
			desired = current;
			write = false;
			rec->rule = TICK_RULE_FALLBACK;
			snprintf(rec->reason, sizeof(rec->reason),
			         "fallback after %d failed ticks: holding %d replicas",
			         (int)st->failures, (int)current);
		}
	}
	rec->fallback_active = st->fallback_active;

	rec->desired = desired;
	rec->write = write;
	if (rec->have_decision) {
		rec->d.desired_replicas = desired;
		rec->d.write = write;
	}
	if (t->paused)
		tick_record_pause(rec, "spec.paused");
	else if (o->paused_by)
		tick_record_pause(rec, o->paused_by);
	st->count.decisions++;
	return PS_OK;
}

void tick_target_written(struct tick_target *st, const struct cfg_target *t,
                         struct tick_record *rec, bool ok, const char *msg)
{
	if (!rec->have_decision)
		return;
	if (ok) {
		rec->wrote = true;
		st->count.writes++;
		/* Out of memory, the list stays full: the engine then reuses its oldest slot and
		 * counts the loss in hist.dropped. */
		enum ps_err grown = eng_history_reserve_events(&st->hist, history_cap(t));
		(void)grown;
		eng_rescaled(&t->spec, &t->params, &st->hist, &rec->d, rec->time_ms);
	} else {
		rec->write_failed = true;
		st->count.write_errors++;
		eng_rescale_failed(&rec->d, msg);
	}
	conds_store(st, rec->d.conditions, rec->d.n_conditions);
}

void tick_target_publish(struct tick_target *st, const struct tick_record *rec)
{
	/* Built outside the lock; a view that cannot be made (out of memory) leaves the last one
	 * on show, its counters moving on. */
	struct tick_view *v = NULL;
	if (tick_view_new(rec, &v) != PS_OK)
		v = NULL;
	bool keep = !st->env || tick_env_keeps_records(st->env);
	/* Only this thread sets <full>, so reading the pointer without the lock is safe; the
	 * record itself is copied under it (tick_state_record reads it from other threads). */
	struct tick_record *fresh = keep && !st->full ? ps_malloc(sizeof(*fresh)) : NULL;
	pthread_mutex_lock(&st->lock);
	struct tick_view *old = v ? st->view : NULL;
	if (v)
		st->view = v;
	st->pub_count = st->count;
	if (fresh)
		st->full = fresh;
	if (keep && st->full)
		*st->full = *rec;
	pthread_mutex_unlock(&st->lock);
	tick_view_unref(old);
}

void tick_target_publish_counters(struct tick_target *st)
{
	pthread_mutex_lock(&st->lock);
	st->pub_count = st->count;
	pthread_mutex_unlock(&st->lock);
}

bool tick_target_published(struct tick_target *st)
{
	pthread_mutex_lock(&st->lock);
	bool has = st->view != NULL;
	pthread_mutex_unlock(&st->lock);
	return has;
}

bool tick_state_record(void *state, struct tick_record *out)
{
	struct tick_target *st = state;
	pthread_mutex_lock(&st->lock);
	bool has = st->full != NULL;
	if (has) {
		*out = *st->full;
		out->ticks = st->pub_count.ticks;
		out->decisions = st->pub_count.decisions;
		out->writes = st->pub_count.writes;
		out->write_errors = st->pub_count.write_errors;
		out->skipped = st->pub_count.skipped;
		out->failed_ticks = st->pub_count.failed_ticks;
	}
	pthread_mutex_unlock(&st->lock);
	return has;
}

bool tick_state_snap(void *state, struct tick_snap *out)
{
	struct tick_target *st = state;
	pthread_mutex_lock(&st->lock);
	bool has = st->view != NULL;
	if (has) {
		out->view = tick_view_ref(st->view);
		out->count = st->pub_count;
	}
	pthread_mutex_unlock(&st->lock);
	return has;
}
