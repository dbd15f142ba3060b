/* tick.c -- the job's I/O: the ctl_job_ops of a scale target against Prometheus and Kubernetes.
 *
 * DESIGN
 * The runtime calls these on the target's worker thread (ctl_job.h). The state (struct
 * tick_target) is the worker's: its Prometheus client (rebuilt when the env's configuration
 * generation moves), its Kubernetes client (made with the tick's cancel token, so a stop aborts
 * its transfers), history, forecasters. The env is shared: its lock guards the configuration
 * pointer, the generation and the registry of targets; each target's published record has its
 * own lock. Nothing here blocks without the tick's deadline: every query has a timeout below
 * it and takes a query slot first, and the Kubernetes client gets the deadline too.
 *
 * A tick: scale -> pods (when a metric needs them) -> warm-up (first tick, and forecasters
 * whose warm-up failed) -> one instant query per metric -> tick_decide -> the pause annotation
 * (a GET of the target object, cached for TICK_PAUSE_RECHECK_MS but always read again before
 * a write) -> PATCH (live: then the scale event; server dry run: dryRun=All; dry run: nothing)
 * -> Events (live only, one per reason per interval) -> publish -> one log line.
 *
 * Warm-up, restart safety. start() does no I/O (it has no cancel token), so the first tick
 * warms the target up:
 * - The recommendation history is seeded with the current spec replicas at every past tick
 *   within the longest stabilization window. The current count is what the old process
 *   settled on: its stabilized value, the highest recommendation within its downscale window
 *   (or less, if a rate limit or maxReplicas held it: then it wanted more, not less). So the
 *   new downscale window sees recommendations at least as high as the old one did, and a
 *   restart can delay a scale-down by at most one window, never bring one forward. Replaying
 *   the metrics' history through the engine was considered and rejected: a per-pod or Value
 *   metric's past proposal depends on the past pod count, which is gone, and any replayed
 *   value above the current count would turn into a scale-up on the legacy path; a replayed
 *   value below it cannot lower the seed. So the seed needs no Prometheus at all.
 * - The forecasters are fitted (fc_fit) on one query_range per metric over the forecast's
 *   history window at step = interval, in chunks of at most PROM_MAX_RANGE_POINTS, newest
 *   first. A failure is retried every TICK_WARM_RETRY_MS while the model learns online.
 * - A minReplicas 0 target reads the last cooldown of each metric too, so the time every
 *   metric has been at or below its activation value survives a restart.
 */
#include <cjson/cJSON.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "engine.h"
#include "ps_alloc.h"
#include "ps_clock.h"
#include "ps_log.h"
#include "ps_parse.h"
#include "tick.h"

struct tick_env {
	pthread_mutex_t lock;
	struct cfg *cfg;             /* protected by <lock> */
	uint64_t gen;                /* protected by <lock>: bumped by each new configuration */
	struct tick_target *targets; /* protected by <lock> */
	/* immutable after tick_env_new */
	struct kcfg *kcfg;
	struct kube_limiter *limiter;
	enum tick_write_mode mode;
	char instance[128];
	int64_t event_interval_ms;
	bool quiet;
	bool keep_records;
};

/* ---- the env ---- */

enum ps_err tick_env_new(struct cfg *cfg, const struct tick_env_opts *opts, struct tick_env **out,
                         struct ps_diag *diag)
{
	*out = NULL;
	struct tick_env *env = ps_calloc(1, sizeof(*env));
	if (!env)
		return ps_diag_set(diag, PS_ENOMEM, "out of memory");
	const struct cfg_kubernetes *k = &cfg_controller(cfg)->kubernetes;
	enum ps_err e = kube_limiter_new(k->qps, k->burst, NULL, &env->limiter, diag);
	if (e) {
		ps_free(env);
		return e;
	}
	pthread_mutex_init(&env->lock, NULL);
	env->cfg = cfg_ref(cfg);
	env->gen = 1;
	env->kcfg = opts ? opts->kcfg : NULL;
	env->mode = opts ? opts->mode : TICK_WRITE_DRY_RUN;
	env->quiet = opts && opts->quiet;
	env->keep_records = opts && opts->keep_records;
	env->event_interval_ms =
	    opts && opts->event_interval_ms > 0 ? opts->event_interval_ms : TICK_EVENT_INTERVAL_MS;
	const char *inst = opts && opts->instance ? opts->instance : getenv("POD_NAME");
	if (inst && *inst)
		snprintf(env->instance, sizeof(env->instance), "%s", inst);
	else if (gethostname(env->instance, sizeof(env->instance) - 1) != 0 || !env->instance[0])
		snprintf(env->instance, sizeof(env->instance), "prescale");
	*out = env;
	return PS_OK;
}

void tick_env_set_config(struct tick_env *env, struct cfg *cfg)
{
	struct cfg *ref = cfg_ref(cfg);
	pthread_mutex_lock(&env->lock);
	struct cfg *old = env->cfg;
	env->cfg = ref;
	env->gen++;
	pthread_mutex_unlock(&env->lock);
	cfg_unref(old);
}

void tick_env_free(struct tick_env *env)
{
	if (!env)
		return;
	PS_ASSERT(env->targets == NULL);
	cfg_unref(env->cfg);
	kube_limiter_free(env->limiter);
	pthread_mutex_destroy(&env->lock);
	ps_free(env);
}

void tick_env_register(struct tick_env *env, struct tick_target *st)
{
	pthread_mutex_lock(&env->lock);
	st->next = env->targets;
	env->targets = st;
	pthread_mutex_unlock(&env->lock);
}

void tick_env_unregister(struct tick_env *env, struct tick_target *st)
{
	pthread_mutex_lock(&env->lock);
	for (struct tick_target **p = &env->targets; *p; p = &(*p)->next)
		if (*p == st) {
			*p = st->next;
			break;
		}
	pthread_mutex_unlock(&env->lock);
}

enum ps_err tick_env_snaps(struct tick_env *env, struct tick_snap **out, size_t *n)
{
	*out = NULL;
	*n = 0;
	pthread_mutex_lock(&env->lock);
	size_t cap = 0;
	for (struct tick_target *st = env->targets; st; st = st->next)
		cap++;
	struct tick_snap *snaps = cap ? ps_calloc(cap, sizeof(*snaps)) : NULL;
	if (cap && !snaps) {
		pthread_mutex_unlock(&env->lock);
		return PS_ENOMEM;
	}
	size_t k = 0;
	for (struct tick_target *st = env->targets; st && k < cap; st = st->next)
		if (tick_state_snap(st, &snaps[k]))
			k++;
	pthread_mutex_unlock(&env->lock);
	*out = snaps;
	*n = k;
	return PS_OK;
}

bool tick_env_keeps_records(const struct tick_env *env)
{
	return env->keep_records;
}

/* ---- clients ---- */

static int64_t mono_now(void)
{
	return ps_clock_mono_ms(ps_clock_real());
}

/* Makes or remakes the Prometheus client of <cl> when the configuration moved on. */
static enum ps_err prom_ensure(struct tick_target *st, struct tick_clients *cl, int64_t *timeout_ms,
                               struct ps_diag *diag)
{
	struct tick_env *env = st->env;
	pthread_mutex_lock(&env->lock);
	uint64_t gen = env->gen;
	struct cfg *cfg = cfg_ref(env->cfg);
	pthread_mutex_unlock(&env->lock);
	const struct cfg_prometheus *p = &cfg_controller(cfg)->prometheus;
	*timeout_ms = p->timeout_ms > 0 ? p->timeout_ms : PROM_DEFAULT_TIMEOUT_MS;
	enum ps_err e = PS_OK;
	if (!cl->prom || cl->prom_gen != gen) {
		struct prom_config pc;
		e = prom_config_from_cfg(p, &pc, diag);
		struct prom_client *c = NULL;
		if (!e)
			e = prom_client_new(&pc, &c, diag);
		prom_config_release(&pc);
		if (!e) {
			prom_client_free(cl->prom);
			cl->prom = c;
			cl->prom_gen = gen;
		}
	}
	cfg_unref(cfg);
	return e;
}

static enum ps_err kube_ensure(struct tick_target *st, struct tick_clients *cl,
                               const struct ctl_tick_ctx *tc, struct ps_diag *diag)
{
	if (!st->env->kcfg)
		return ps_diag_set(diag, PS_ESTATE, "no Kubernetes connection configured");
	if (!cl->kube) {
		struct kube_client_opts o = {.limiter = st->env->limiter, .cancel = tc->cancel};
		enum ps_err e = kube_client_new(st->env->kcfg, &o, &cl->kube, diag);
		if (e)
			return e;
	}
	kube_client_set_cancel(cl->kube, tc->cancel);
	kube_client_set_deadline(cl->kube, tc->deadline_mono_ms);
	return PS_OK;
}

void tick_clients_release(struct tick_clients *cl)
{
	prom_client_free(cl->prom);
	kube_client_free(cl->kube);
	cl->prom = NULL;
	cl->kube = NULL;
	cl->prom_gen = 0;
}

/* The clients a tick uses: the executor's (the runtime's tc.exec slot, made on first use and
 * kept for every target that executor runs, so connections are reused across targets), or
 * the target's own when the caller has no slot (prescale run --once, tests). */
static enum ps_err clients_for(struct tick_target *st, const struct ctl_tick_ctx *tc,
                               struct tick_clients **out, struct ps_diag *diag)
{
	if (!tc->exec) {
		*out = &st->own;
		return PS_OK;
	}
	if (!*tc->exec) {
		struct tick_clients *cl = ps_calloc(1, sizeof(*cl));
		if (!cl)
			return ps_diag_set(diag, PS_ENOMEM, "%s: out of memory", st->key);
		*tc->exec = cl;
	}
	*out = *tc->exec;
	return PS_OK;
}

/* ---- Prometheus queries under the tick's budget ---- */

struct budget {
	const struct ctl_tick_ctx *tc;
	int64_t timeout_ms; /* prometheus.timeout */
};

/* Runs <q> with a query slot and a timeout that ends before the tick's deadline.
 * PS_ETIMEDOUT with <*no_slot> when no slot came in time. */
static enum ps_err run_query(struct tick_target *st, const struct budget *b, struct prom_query *q,
                             struct prom_result *res, bool *no_slot, struct ps_diag *diag)
{
	const struct ctl_tick_ctx *tc = b->tc;
	*no_slot = false;
	int64_t left = tc->deadline_mono_ms - mono_now() - 100;
	if (left < 100)
		return ps_diag_set(diag, PS_ETIMEDOUT, "no time left before the tick's deadline");
	if (tc->query_slot_take && !tc->query_slot_take(tc->rt, tc->deadline_mono_ms)) {
		*no_slot = true;
		return ps_diag_set(diag, PS_ETIMEDOUT,
		                   "skipped: no Prometheus query slot before the tick's deadline");
	}
	left = tc->deadline_mono_ms - mono_now() - 100;
	q->timeout_ms = left < b->timeout_ms ? left : b->timeout_ms;
	if (q->timeout_ms < 50)
		q->timeout_ms = 50;
	enum ps_err e = prom_client_query(st->prom, q, tc->cancel, res, diag);
	if (tc->query_slot_give)
		tc->query_slot_give(tc->rt);
	return e;
}

/* Expands the query template of metric <cm> of <t> into an owned string. */
static enum ps_err expand(const struct cfg_target *t, const struct cfg_metric *cm, char **out,
                          struct ps_diag *diag)
{
	struct prom_vars vars;
	prom_vars_from_target(t, cm, &vars);
	return prom_template_expand(cm->query, &vars, out, diag);
}

/* ---- the pause annotation ---- */

/* Reads the target object's annotations: *paused is true when TICK_PAUSED_ANNOTATION is
 * "true". */
static enum ps_err read_pause_annotation(struct tick_target *st, bool *paused, struct ps_diag *diag)
{
	*paused = false;
	struct ps_buf path;
	ps_buf_init(&path, 4096);
	const struct kube_ref *r = &st->ref;
	enum ps_err e =
	    kube_path_build(&path, r->group, r->version, r->namespace, r->resource, r->name, NULL);
	if (e) {
		ps_buf_release(&path);
		return ps_diag_set(diag, e, "%s: cannot build the object's path", st->key);
	}
	struct kube_req req = {.method = "GET", .path = ps_buf_cstr(&path), .idempotent = true};
	const char *body = NULL;
	size_t len = 0;
	e = kube_do(st->kube, &req, &body, &len, diag);
	ps_buf_release(&path);
	if (e)
		return e;
	cJSON *root = cJSON_ParseWithLength(body, len);
	if (!root)
		return ps_diag_set(diag, PS_EPARSE, "GET %s: the object is not JSON",
		                   kube_client_last_url(st->kube));
	const cJSON *meta = cJSON_GetObjectItemCaseSensitive(root, "metadata");
	const cJSON *ann = cJSON_GetObjectItemCaseSensitive(meta, "annotations");
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(ann, TICK_PAUSED_ANNOTATION);
	*paused = cJSON_IsString(v) && strcmp(v->valuestring, "true") == 0;
	cJSON_Delete(root);
	return PS_OK;
}

/* Refreshes the cached annotation when it is older than <max_age_ms>. A failure (RBAC without
 * `get` on the object, say) keeps the previous answer (not paused when never read) and is
 * logged once until a read works again. */
static void pause_refresh(struct tick_target *st, int64_t max_age_ms)
{
	int64_t now = mono_now();
	if (st->pause_known && now - st->pause_checked_ms < max_age_ms)
		return;
	struct ps_diag d;
	ps_diag_clear(&d);
	bool paused;
	enum ps_err e = read_pause_annotation(st, &paused, &d);
	st->pause_checked_ms = now;
	st->pause_known = true;
	if (e) {
		if (!st->env->quiet && !st->pause_warned)
			ps_log(PS_LOG_WARN,
			       "cannot read the pause annotation; keeping the last answer",
			       "target", st->key, "annotation", TICK_PAUSED_ANNOTATION, "error",
			       ps_diag_msg(&d), NULL);
		st->pause_warned = true;
		return;
	}
	st->pause_warned = false;
	st->pause_annotated = paused;
}

/* ---- events ---- */

static void event(struct tick_target *st, const char *uid, int64_t now_ms, const char *type,
                  const char *reason, const char *action, const char *note)
{
	struct tick_env *env = st->env;
	if (env->mode != TICK_WRITE_LIVE || !st->kube || !st->ref_ok)
		return;
	struct tick_event_slot *slot = NULL, *oldest = &st->events[0];
	for (size_t i = 0; i < TICK_EVENT_SLOTS && !slot; i++) {
		if (strcmp(st->events[i].reason, reason) == 0)
			slot = &st->events[i];
		else if (st->events[i].last_ms < oldest->last_ms)
			oldest = &st->events[i];
	}
	if (slot && now_ms - slot->last_ms < env->event_interval_ms)
		return;
	if (!slot) {
		slot = oldest;
		snprintf(slot->reason, sizeof(slot->reason), "%s", reason);
	}
	slot->last_ms = now_ms;
	struct kube_event ev = {
	    .regarding = &st->ref,
	    .regarding_uid = uid && *uid ? uid : NULL,
	    .type = type,
	    .reason = reason,
	    .action = action,
	    .note = note,
	    .reporting_instance = env->instance,
	    .event_time_ms = now_ms,
	};
	struct ps_diag d;
	ps_diag_clear(&d);
	if (kube_event_create(st->kube, &ev, NULL, &d) != PS_OK && !env->quiet)
		ps_log(PS_LOG_WARN, "cannot create an Event", "target", st->key, "reason", reason,
		       "error", ps_diag_msg(&d), NULL);
}


/* ---- logging ---- */

static void log_decision(const struct tick_target *st, const struct tick_record *r)
{
	if (st->env && st->env->quiet)
		return;
	enum ps_log_level level = r->err ? PS_LOG_WARN : PS_LOG_INFO;
	if (!ps_log_enabled(level))
		return;
	struct ps_log_field f[16 + ENG_MAX_METRICS];
	char keys[ENG_MAX_METRICS][ENG_NAME_MAX + 8];
	char vals[ENG_MAX_METRICS][ENG_MSG_MAX + 128];
	char since[48] = "";
	size_t n = 0;
	f[n++] = PS_LOG_STR("target", r->key);
	if (r->outcome != TICK_OUT_DECIDED) {
		f[n++] =
		    PS_LOG_STR("outcome", r->outcome == TICK_OUT_SKIPPED ? "skipped" : "failed");
		f[n++] = PS_LOG_STR("error", r->error);
		ps_log_fields(level, "tick", f, n);
		return;
	}
	f[n++] = PS_LOG_INT("current", r->current);
	f[n++] = PS_LOG_INT("desired", r->desired);
	f[n++] = PS_LOG_BOOL("write", r->write);
	f[n++] = PS_LOG_BOOL("wrote", r->wrote);
	if (r->mode != TICK_WRITE_LIVE)
		f[n++] = PS_LOG_STR("mode",
		                    r->mode == TICK_WRITE_DRY_RUN ? "dry-run" : "server-dry-run");
	char reason[ENG_LONG_MSG_MAX + 160];
	tick_format_reason(r, reason, sizeof(reason));
	f[n++] = PS_LOG_STR("rule", tick_rule_name(r));
	f[n++] = PS_LOG_STR("reason", reason);
	if (r->paused_by[0])
		f[n++] = PS_LOG_STR("paused", r->paused_by);
	if (r->failures)
		f[n++] = PS_LOG_INT("failures", r->failures);
	if (r->fallback_active)
		f[n++] = PS_LOG_BOOL("fallback", true);
	if (r->recovered)
		f[n++] = PS_LOG_BOOL("recovered", true);
	if (r->has_inactive) {
		ps_format_duration_ms(r->time_ms - r->inactive_since_ms, since, sizeof(since));
		f[n++] = PS_LOG_STR("inactive_for", since);
	}
	for (size_t i = 0; i < r->n_metrics; i++) {
		const struct tick_metric_rec *m = &r->m[i];
		char vt[128], fc[128];
		tick_format_value_target(r, m, vt, sizeof(vt));
		tick_format_forecast(r, m, fc, sizeof(fc));
		snprintf(keys[i], sizeof(keys[i]), "metric.%s", m->name);
		int len = snprintf(vals[i], sizeof(vals[i]), "%s", vt);
		if (strcmp(fc, "-") != 0 && len >= 0 && (size_t)len < sizeof(vals[i]))
			len += snprintf(vals[i] + len, sizeof(vals[i]) - (size_t)len,
			                " forecast %s", fc);
		if (m->state != TICK_M_OK && len >= 0 && (size_t)len < sizeof(vals[i]))
			snprintf(vals[i] + len, sizeof(vals[i]) - (size_t)len, " %s: %s",
			         tick_metric_state_name(m->state), m->error);
		f[n++] = PS_LOG_STR(keys[i], vals[i]);
	}
	if (r->err)
		f[n++] = PS_LOG_STR("error", r->error);
	ps_log_fields(level, "decision", f, n);
}

/* ---- warm-up ---- */

/* Fetches metric <i>'s range [now - (n - 1) step, now], newest chunk first, into the
 * aggregates agg[k] at ts[k] (NaN: no data). */
static enum ps_err warm_fetch(struct tick_target *st, const struct cfg_target *t, size_t i,
                              const struct budget *b, int64_t now, int64_t step, size_t n,
                              double *agg, int64_t *ts, bool *no_slot, struct ps_diag *diag)
{
	const struct cfg_metric *cm = &t->metrics[i];
	const int64_t start = now - (int64_t)(n - 1) * step;
	char *promql = NULL;
	enum ps_err e = expand(t, cm, &promql, diag);
	if (e)
		return e;
	for (size_t k = 0; k < n; k++) {
		agg[k] = NAN;
		ts[k] = start + (int64_t)k * step;
	}
	size_t hi = n; /* one past the last slot of the chunk */
	while (hi > 0 && !e) {
		size_t lo =
		    hi > (size_t)PROM_MAX_RANGE_POINTS ? hi - (size_t)PROM_MAX_RANGE_POINTS : 0;
		struct prom_query q = {
		    .kind = PROM_QUERY_RANGE,
		    .promql = promql,
		    .start_ms = ts[lo],
		    .end_ms = ts[hi - 1],
		    .step_ms = step,
		    .key_label = cm->per_pod ? cm->pod.pod_label : NULL,
		};
		struct prom_result res;
		e = run_query(st, b, &q, &res, no_slot, diag);
		if (!e) {
			if (tick_values_aggregate_matrix(&res, cm, ts[lo], step, hi - lo, agg + lo))
				e = ps_diag_set(diag, PS_ENOMEM, "out of memory");
			prom_result_release(&res);
		}
		hi = lo;
	}
	ps_free(promql);
	return e;
}

/* The number of trailing slots of <agg> at or below <act_milli>. */
static size_t inactive_run(const double *agg, size_t n, int64_t act_milli)
{
	size_t run = 0;
	for (size_t k = n; k > 0; k--) {
		if (!isfinite(agg[k - 1]) || tick_milli(agg[k - 1]) > act_milli)
			break;
		run++;
	}
	return run;
}

/* Seeds the history (first tick), fits the forecasters that are not warm yet and rebuilds
 * the all-inactive stretch of a minReplicas 0 target. Prometheus failures are logged and
 * leave the forecaster to learn online (retried later) and the cooldown to start now; only a
 * missing query slot (PS_ETIMEDOUT with *no_slot), a cancel and PS_ENOMEM are returned. */
static enum ps_err warm_up(struct tick_target *st, const struct cfg_target *t,
                           const struct budget *b, const struct tick_obs *o, bool *no_slot,
                           struct ps_diag *diag)
{
	const int64_t now = o->now_ms;
	const bool first = !st->warmed;
	const bool zero = t->spec.min_replicas == 0;
	const bool cool = first && zero && o->spec_replicas > 0;
	/* the shortest trailing inactive stretch (ms); -1: some metric is active at the end */
	int64_t inactive_ms = INT64_MAX;
	enum ps_err e = PS_OK;
	for (size_t i = 0; i < t->n_metrics && !e; i++) {
		bool fc = st->m[i].fc_on && !st->m[i].fc_warm && now >= st->m[i].fc_warm_retry_ms;
		/* The forecaster's own step (one fetch serves both when the cooldown is needed
		 * too: its stretch is then known to that step). */
		const int64_t step = fc ? tick_forecast_step_ms(t) : t->interval_ms;
		size_t n_cool = cool ? (size_t)(t->cooldown_ms / step) : 0;
		size_t span = fc ? (size_t)(t->forecast.history_ms / step) : 0;
		if (n_cool > span)
			span = n_cool;
		if (span == 0)
			continue;
		size_t n = span + 1;
		double *agg = ps_calloc(n, sizeof(*agg));
		int64_t *ts = ps_calloc(n, sizeof(*ts));
		if (!agg || !ts) {
			ps_free(agg);
			ps_free(ts);
			return ps_diag_set(diag, PS_ENOMEM, "out of memory");
		}
		struct ps_diag d;
		ps_diag_clear(&d);
		enum ps_err fe = warm_fetch(st, t, i, b, now, step, n, agg, ts, no_slot, &d);
		if (fe == PS_ENOMEM || fe == PS_ECANCELED || *no_slot) {
			*diag = d;
			e = fe;
		} else if (fe) {
			if (!st->env->quiet)
				ps_log(PS_LOG_WARN, "warm-up from Prometheus history failed",
				       "target", st->key, "metric", t->metrics[i].name, "error",
				       ps_diag_msg(&d), NULL);
			inactive_ms = -1;
		} else {
			if (fc) {
				ps_diag_clear(&d);
				enum ps_err ff = tick_target_fit(st, i, ts, agg, n, &d);
				if (ff && ff != PS_ENODATA && !st->env->quiet)
					ps_log(PS_LOG_WARN, "forecast fit failed", "target",
					       st->key, "metric", t->metrics[i].name, "error",
					       ps_diag_msg(&d), NULL);
			}
			if (n_cool > 0) {
				const struct cfg_metric *cm = &t->metrics[i];
				size_t r = inactive_run(
				    agg, n, cm->has_activation ? cm->activation_milli : 0);
				int64_t ms = r > 0 ? (int64_t)(r - 1) * step : -1;
				if (ms < inactive_ms)
					inactive_ms = ms;
			}
		}
		if (fc && !st->m[i].fc_warm)
			st->m[i].fc_warm_retry_ms = now + TICK_WARM_RETRY_MS;
		ps_free(agg);
		ps_free(ts);
	}
	if (e || !first)
		return e;
	tick_target_seed_history(st, t, now, o->spec_replicas);
	if (cool && inactive_ms >= 0 && inactive_ms != INT64_MAX)
		tick_target_set_inactive_since(st, now - inactive_ms);
	st->warmed = true;
	return PS_OK;
}

static bool warm_due(const struct tick_target *st, int64_t now)
{
	if (!st->warmed)
		return true;
	for (size_t i = 0; i < st->n_metrics; i++)
		if (st->m[i].fc_on && !st->m[i].fc_warm && now >= st->m[i].fc_warm_retry_ms)
			return true;
	return false;
}

/* ---- the tick ---- */

/* Ends a tick that made no decision: the record says why; the error goes back with the key. */
static enum ps_err tick_fail(struct tick_target *st, struct tick_record *rec,
                             enum tick_outcome outcome, enum ps_err e, struct ps_diag *diag)
{
	rec->outcome = outcome;
	rec->err = e;
	if (outcome == TICK_OUT_SKIPPED)
		st->count.skipped++;
	else
		st->count.failed_ticks++;
	if (!strstr(ps_diag_msg(diag), st->key))
		ps_diag_prefix(diag, "%s", st->key);
	snprintf(rec->error, sizeof(rec->error), "%s", ps_diag_msg(diag));
	/* A skipped tick keeps the last decision on show (its counters move on). */
	bool keep = outcome == TICK_OUT_SKIPPED && tick_target_published(st);
	if (keep)
		tick_target_publish_counters(st);
	else
		tick_target_publish(st, rec);
	log_decision(st, rec);
	return e;
}

static enum ps_err tick_run(struct tick_target *st, const struct cfg_target *t,
                            const struct ctl_tick_ctx *tc, struct ps_diag *diag);

static enum ps_err job_tick(void *arg, void *state, const struct cfg_target *t,
                            const struct ctl_tick_ctx *tc, struct ps_diag *diag_out)
{
	(void)arg;
	struct ps_diag dg;
	ps_diag_clear(&dg);
	enum ps_err e = tick_run(state, t, tc, &dg);
	if (diag_out)
		*diag_out = dg;
	return e;
}

/* One tick; <diag> is never NULL here. */
static enum ps_err tick_run(struct tick_target *st, const struct cfg_target *t,
                            const struct ctl_tick_ctx *tc, struct ps_diag *diag)
{
	struct tick_env *env = st->env;
	const int64_t now = tc->now_wall_ms;
	struct tick_record *rec = ps_calloc(1, sizeof(*rec));
	if (!rec)
		return ps_diag_set(diag, PS_ENOMEM, "%s: out of memory", t->key);
	snprintf(rec->key, sizeof(rec->key), "%s", t->key);
	rec->time_ms = now;
	rec->mode = env->mode;
	st->count.ticks++;

	struct kube_scale scale = {0};
	struct kube_pod_list pods = {0};
	struct tick_input in[ENG_MAX_METRICS];
	memset(in, 0, sizeof(in));
	struct ps_diag d;
	ps_diag_clear(&d);
	enum ps_err e;
	struct budget b = {.tc = tc};

	/* Clients and the object. */
	e = kube_ref_from_kind(&st->ref, t->ref.api_version, t->ref.kind, t->namespace, t->ref.name,
	                       diag);
	st->ref_ok = e == PS_OK;
	struct tick_clients *cl = NULL;
	if (!e)
		e = clients_for(st, tc, &cl, diag);
	if (!e)
		e = prom_ensure(st, cl, &b.timeout_ms, diag);
	if (!e)
		e = kube_ensure(st, cl, tc, diag);
	if (cl) {
		/* Borrowed for this tick only. */
		st->prom = cl->prom;
		st->kube = cl->kube;
	}
	if (!e)
		e = kube_scale_get(st->kube, &st->ref, &scale, diag);
	if (e) {
		if (st->kube && st->ref_ok && e != PS_ECANCELED)
			event(st, NULL, now, "Warning", "FailedGetScale", "GetScale",
			      ps_diag_msg(diag));
		e = tick_fail(st, rec, TICK_OUT_FAILED, e, diag);
		goto out;
	}

	struct tick_obs o = {
	    .now_ms = now,
	    .spec_replicas = scale.replicas,
	    .status_replicas = scale.status_replicas,
	    .selector = scale.selector && scale.selector[0] ? ENG_SELECTOR_OK : ENG_SELECTOR_EMPTY,
	    .inputs = in,
	};
	bool need_pods = false;
	for (size_t i = 0; i < t->n_metrics; i++)
		need_pods |= tick_metric_needs_pods(&t->metrics[i]);
	char pods_error[PS_DIAG_MAX] = "";
	if (need_pods && o.selector == ENG_SELECTOR_OK) {
		ps_diag_clear(&d);
		e = kube_pods_list(st->kube, t->namespace, scale.selector, &pods, &d);
		if (e == PS_ECANCELED) {
			*diag = d;
			e = tick_fail(st, rec, TICK_OUT_FAILED, e, diag);
			goto out;
		}
		if (e == PS_EINVALID || e == PS_EHTTP) {
			o.selector = ENG_SELECTOR_INVALID; /* the API refused the selector */
		} else if (e) {
			o.pods_failed = true;
			snprintf(pods_error, sizeof(pods_error), "%s", ps_diag_msg(&d));
			o.pods_error = pods_error;
		}
		o.pods = pods.pods;
		o.n_pods = pods.n_pods;
	}
	bool no_slot = false;
	if (warm_due(st, now)) {
		e = warm_up(st, t, &b, &o, &no_slot, diag);
		if (e) {
			e = tick_fail(st, rec, no_slot ? TICK_OUT_SKIPPED : TICK_OUT_FAILED, e,
			              diag);
			goto out;
		}
	}

	/* One instant query per metric. */
	for (size_t i = 0; i < t->n_metrics; i++) {
		const struct cfg_metric *cm = &t->metrics[i];
		ps_diag_clear(&d);
		char *promql = NULL;
		e = expand(t, cm, &promql, &d);
		if (!e) {
			struct prom_query q = {
			    .kind = PROM_QUERY_INSTANT,
			    .promql = promql,
			    .has_time = true,
			    .time_ms = now,
			    .key_label = cm->per_pod ? cm->pod.pod_label : NULL,
			};
			struct prom_result res;
			e = run_query(st, &b, &q, &res, &no_slot, &d);
			if (!e) {
				e = tick_values_from_result(&res, cm, now, &in[i].values, &d);
				prom_result_release(&res);
			}
		}
		ps_free(promql);
		if (e == PS_ECANCELED || e == PS_ENOMEM || no_slot) {
			*diag = d;
			e = tick_fail(st, rec, no_slot ? TICK_OUT_SKIPPED : TICK_OUT_FAILED, e,
			              diag);
			goto out;
		}
		in[i].err = e;
		if (e)
			snprintf(in[i].error, sizeof(in[i].error), "%s", ps_diag_msg(&d));
	}

	e = tick_decide(st, t, &o, rec, diag);
	if (e) {
		e = tick_fail(st, rec, TICK_OUT_FAILED, e, diag);
		goto out;
	}
	rec->mode = env->mode;

	/* The pause annotation: read again before any write, so a pause takes effect before it;
	 * otherwise at most every TICK_PAUSE_RECHECK_MS, for the record. */
	if (!t->paused) {
		bool writing = rec->write && env->mode != TICK_WRITE_DRY_RUN;
		pause_refresh(st, writing ? 0 : TICK_PAUSE_RECHECK_MS);
		if (st->pause_annotated)
			tick_record_pause(rec, "annotation " TICK_PAUSED_ANNOTATION);
	}
	enum ps_err result = PS_OK;
	char note[KUBE_NOTE_MAX];
	if (rec->write && env->mode != TICK_WRITE_DRY_RUN) {
		ps_diag_clear(&d);
		e = kube_scale_patch(st->kube, &st->ref, rec->desired,
		                     env->mode == TICK_WRITE_SERVER_DRY_RUN, NULL, &d);
		if (!e && env->mode == TICK_WRITE_LIVE) {
			tick_target_written(st, t, rec, true, NULL);
			snprintf(note, sizeof(note), "New size: %d; reason: %s", (int)rec->desired,
			         rec->reason);
			event(st, scale.uid, now, "Normal", "SuccessfulRescale", "Scale", note);
		} else if (!e) {
			rec->wrote = true; /* accepted by the server, not stored */
		} else {
			tick_target_written(st, t, rec, false, ps_diag_msg(&d));
			snprintf(note, sizeof(note), "New size: %d; reason: %s; error: %s",
			         (int)rec->desired, rec->reason, ps_diag_msg(&d));
			event(st, scale.uid, now, "Warning", "FailedRescale", "Scale", note);
			result = ps_diag_set(diag, e, "%s: %s", t->key, ps_diag_msg(&d));
		}
	}
	/* Metric failures: the target's error, an Event per reason. */
	size_t n_failed = 0;
	const struct tick_metric_rec *first = NULL;
	for (size_t i = 0; i < t->n_metrics; i++) {
		const struct tick_metric_rec *m = &rec->m[i];
		bool row_failed =
		    m->row >= 0 && rec->have_decision && rec->d.computed && !rec->d.rows[m->row].ok;
		if (m->state != TICK_M_FAILED && !row_failed)
			continue;
		const char *msg = m->state == TICK_M_FAILED ? m->error : rec->d.rows[m->row].error;
		n_failed++;
		if (!first)
			first = m;
		event(st, scale.uid, now, "Warning", eng_failure_reason(m->source), "GetMetrics",
		      msg);
		if (n_failed == 1 && !result)
			result = ps_diag_set(diag, PS_EMETRIC, "%s: metric %s: %s", t->key, m->name,
			                     msg);
	}
	if (n_failed > 1 && result == PS_EMETRIC)
		ps_diag_set(diag, PS_EMETRIC, "%s: metric %s: %s (and %zu more failed)", t->key,
		            first->name,
		            first->state == TICK_M_FAILED ? first->error
		                                          : rec->d.rows[first->row].error,
		            n_failed - 1);
	if (!result && rec->have_decision && rec->d.rule == ENG_RULE_INVALID_SELECTOR)
		result = ps_diag_set(diag, PS_EMETRIC, "%s: %s", t->key, rec->d.error_msg);
	rec->err = result;
	if (result)
		snprintf(rec->error, sizeof(rec->error), "%s", ps_diag_msg(diag));
	tick_target_publish(st, rec);
	log_decision(st, rec);
	e = result;
out:
	for (size_t i = 0; i < PS_ARRAY_LEN(in); i++)
		tick_values_release(&in[i].values);
	kube_pod_list_release(&pods);
	kube_scale_release(&scale);
	ps_free(rec);
	st->prom = NULL;
	st->kube = NULL;
	return e;
}

static enum ps_err job_start(void *arg, const struct cfg_target *t, void **state,
                             struct ps_diag *diag)
{
	struct tick_target *st = NULL;
	enum ps_err e = tick_target_new(arg, t, &st, diag);
	*state = st;
	return e;
}

static bool job_reconfigure(void *arg, void *state, const struct cfg_target *old_t,
                            const struct cfg_target *t)
{
	(void)arg;
	if (!cfg_target_same_queries(old_t, t))
		return false;
	return tick_target_reconfigure(state, t);
}

static void job_stop(void *arg, void *state)
{
	(void)arg;
	tick_target_free(state);
}

static void job_exec_free(void *arg, void *exec)
{
	(void)arg;
	tick_clients_release(exec);
	ps_free(exec);
}

const struct ctl_job_ops tick_job_ops = {
    .start = job_start,
    .tick = job_tick,
    .reconfigure = job_reconfigure,
    .stop = job_stop,
    .exec_free = job_exec_free,
};
