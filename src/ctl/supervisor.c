/* supervisor.c -- the worker set: start, reload (diff), stop; the query limit; snapshots.
 *
 * DESIGN
 * One struct rt per process. It owns the worker set (an array of struct worker *, sorted by
 * target key), one reference to the running config snapshot (<cfg>), the query semaphore and
 * the executor pool that runs the workers' steps (worker.c).
 * The controlling thread (the one that called rt_start: `prescale run`'s main loop) is the only
 * one that changes the set: rt_reload and rt_stop run under <op_lock>, which they hold across
 * the joins, so two of them never interleave. Other threads (HTTP endpoints) only read:
 * rt_workers_snapshot and rt_stats under <set_lock>, rt_cfg under <cfg_lock>.
 *
 * Locks and what they protect:
 *   op_lock   <stopped>; serialises the operations; held while joining (never by a worker).
 *   cfg_lock  the <cfg> pointer (leaf). Written only by the op_lock holder, so the holder may
 *             read it without cfg_lock; workers read it under cfg_lock at each tick.
 *   set_lock  <workers>, <n_workers>, the reload and thread counters. Held briefly: never
 *             across a join or a job call. Order: op_lock -> set_lock -> worker->lock.
 *   exit_lock <n_exited> and each worker's <exited>, <exit_mono_ms> (leaf); <exit_cond> is
 *             broadcast by every worker as its last act, so rt_stop can wait for all of them
 *             with one deadline.
 *   sem.lock  the query semaphore: slots used and the FIFO of waiters (leaf).
 * An executor takes cfg_lock, a worker's lock, sem.lock and exit_lock one at a time, and
 * pool.lock before a worker's lock.
 *
 * Reload: the new snapshot becomes <cfg> first, then the set is diffed against it: a worker
 * whose target is gone or paused is stopped and joined; a missing worker is created; a worker
 * whose target changed is poked (it re-reads its interval now and reconfigures its job at the
 * next tick, from the snapshot it finds in <cfg>); the rest carry on. Workers pull the config
 * rather than being handed a spec, so two quick reloads cannot race: a worker always moves
 * from the snapshot its state was built on to the newest one.
 *
 * Stop: every worker is told to stop at once (flag + its http_cancel fired + the semaphore
 * broadcast + moved to the pool's ready queue), then the supervisor waits on <exit_cond> until
 * all have finished or the deadline passes, logs the overdue ones, and waits for the rest; rt_stop
 * then joins the executors. Threads are never detached or cancelled; a job that ignores its
 * token delays the join, and the process-level deadline is the signal thread's
 * (rt_signal_ops.grace_ms).
 *
 * Logging: the runtime logs what happens to one worker, with its target key (a failed tick or
 * start, a skip, a late tick, a reconfigure, an overdue stop, a thread that cannot be created)
 * and a failure reported through rt_reload_failed. rt_start, rt_reload and rt_stop log nothing
 * themselves: they return their figures (rt_reload_result, rt_stop_report, the diag) for the
 * caller to log once, with what it knows (the trigger of a reload).
 *
 * Invariants: every worker in the set has running == true until rt_stop; after rt_stop returns
 * no executor thread exists; <cfg> is never NULL between rt_start and rt_free.
 */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "ps_alloc.h"
#include "ps_log.h"
#include "rt_int.h"

/* ---- time and condvars ---- */

static int64_t read_ms(clockid_t id)
{
	struct timespec ts;
	PS_ASSERT(clock_gettime(id, &ts) == 0);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int64_t rt_mono_ms(void)
{
	return read_ms(CLOCK_MONOTONIC);
}

int64_t rt_wall_ms(void)
{
	return read_ms(CLOCK_REALTIME);
}

int rt_cond_init(pthread_cond_t *cond)
{
	pthread_condattr_t a;
	int rc = pthread_condattr_init(&a);
	if (rc != 0)
		return rc;
	rc = pthread_condattr_setclock(&a, CLOCK_MONOTONIC);
	if (rc == 0)
		rc = pthread_cond_init(cond, &a);
	pthread_condattr_destroy(&a);
	return rc;
}

int rt_cond_wait_until(pthread_cond_t *cond, pthread_mutex_t *m, int64_t deadline_mono_ms)
{
	if (deadline_mono_ms < 0)
		deadline_mono_ms = 0;
	struct timespec ts = {.tv_sec = (time_t)(deadline_mono_ms / 1000),
	                      .tv_nsec = (long)(deadline_mono_ms % 1000) * 1000000L};
	return pthread_cond_timedwait(cond, m, &ts);
}

static void lock(pthread_mutex_t *m)
{
	PS_ASSERT(pthread_mutex_lock(m) == 0);
}

static void unlock(pthread_mutex_t *m)
{
	PS_ASSERT(pthread_mutex_unlock(m) == 0);
}

/* ---- the query semaphore ---- */

static int sem_init(struct rt_sem *s, int32_t cap)
{
	s->cap = cap;
	s->used = 0;
	s->head = s->tail = NULL;
	s->timeouts = 0;
	int rc = pthread_mutex_init(&s->lock, NULL);
	if (rc != 0)
		return rc;
	rc = rt_cond_init(&s->cond);
	if (rc != 0)
		pthread_mutex_destroy(&s->lock);
	return rc;
}

static void sem_release(struct rt_sem *s)
{
	pthread_cond_destroy(&s->cond);
	pthread_mutex_destroy(&s->lock);
}

/* Removes <w> from the queue of <s>. Call with s->lock held. */
static void sem_dequeue(struct rt_sem *s, struct rt_sem_waiter *w)
{
	struct rt_sem_waiter **pp = &s->head, *prev = NULL;
	while (*pp && *pp != w) {
		prev = *pp;
		pp = &(*pp)->next;
	}
	if (!*pp)
		return;
	*pp = w->next;
	if (s->tail == w)
		s->tail = prev;
}

bool rt_sem_take(struct rt_sem *s, int64_t deadline_mono_ms, const struct http_cancel *cancel)
{
	bool ok = false;
	lock(&s->lock);
	if (cancel && http_cancel_fired(cancel)) {
		unlock(&s->lock);
		return false;
	}
	if (s->used < s->cap && !s->head) {
		s->used++;
		unlock(&s->lock);
		return true;
	}
	struct rt_sem_waiter me = {.next = NULL, .granted = false};
	if (s->tail)
		s->tail->next = &me;
	else
		s->head = &me;
	s->tail = &me;
	for (;;) {
		if (me.granted) {
			ok = true; /* the giver counted the slot as ours */
			break;
		}
		bool fired = cancel && http_cancel_fired(cancel);
		if (fired || rt_mono_ms() >= deadline_mono_ms) {
			sem_dequeue(s, &me);
			if (!fired)
				s->timeouts++;
			break;
		}
		int rc = rt_cond_wait_until(&s->cond, &s->lock, deadline_mono_ms);
		PS_ASSERT(rc == 0 || rc == ETIMEDOUT);
	}
	unlock(&s->lock);
	return ok;
}

void rt_sem_give(struct rt_sem *s)
{
	lock(&s->lock);
	PS_ASSERT(s->used > 0);
	struct rt_sem_waiter *w = s->head;
	if (w) {
		/* Hand the slot over: <used> stays, the oldest waiter owns it now. */
		s->head = w->next;
		if (!s->head)
			s->tail = NULL;
		w->next = NULL;
		w->granted = true;
		PS_ASSERT(pthread_cond_broadcast(&s->cond) == 0);
	} else {
		s->used--;
	}
	unlock(&s->lock);
}

void rt_sem_wake_all(struct rt_sem *s)
{
	lock(&s->lock);
	PS_ASSERT(pthread_cond_broadcast(&s->cond) == 0);
	unlock(&s->lock);
}

/* ---- small helpers ---- */

int64_t rt_jitter_ms(uint64_t seed, const char *key, int64_t interval_ms)
{
	PS_ASSERT(interval_ms > 0);
	uint64_t h = UINT64_C(14695981039346656037); /* FNV-1a 64 offset basis */
	for (int i = 0; i < 8; i++) {
		h ^= (seed >> (8 * i)) & 0xff;
		h *= UINT64_C(1099511628211); /* FNV prime */
	}
	for (const unsigned char *p = (const unsigned char *)key; *p; p++) {
		h ^= *p;
		h *= UINT64_C(1099511628211);
	}
	/* FNV's low bits mix poorly for keys differing only at the end ("web-1", "web-2");
	 * splitmix64's finaliser spreads every input bit over the whole word before the modulo. */
	h ^= h >> 30;
	h *= UINT64_C(0xbf58476d1ce4e5b9);
	h ^= h >> 27;
	h *= UINT64_C(0x94d049bb133111eb);
	h ^= h >> 31;
	return (int64_t)(h % (uint64_t)interval_ms);
}

const char *rt_worker_state_name(enum rt_worker_state s)
{
	switch (s) {
	case RT_WORKER_STARTING:
		return "starting";
	case RT_WORKER_IDLE:
		return "idle";
	case RT_WORKER_TICKING:
		return "ticking";
	case RT_WORKER_STOPPING:
		return "stopping";
	case RT_WORKER_STOPPED:
		return "stopped";
	}
	return "unknown";
}

bool rt_worker_is_stuck(const struct rt_worker_info *wi, int64_t now_mono_ms, int64_t grace_ms)
{
	switch (wi->state) {
	case RT_WORKER_TICKING:
		return now_mono_ms > wi->tick_deadline_mono_ms + grace_ms;
	case RT_WORKER_IDLE:
		return now_mono_ms > wi->next_tick_mono_ms + grace_ms;
	case RT_WORKER_STARTING:
	case RT_WORKER_STOPPING:
		return now_mono_ms > wi->heartbeat_mono_ms + grace_ms;
	case RT_WORKER_STOPPED:
		return false;
	}
	return false;
}

struct cfg *rt_cfg_current(struct rt *rt)
{
	lock(&rt->cfg_lock);
	struct cfg *c = cfg_ref(rt->cfg);
	unlock(&rt->cfg_lock);
	return c;
}

struct cfg *rt_cfg(struct rt *rt)
{
	return rt_cfg_current(rt);
}

int64_t rt_interval_of(const struct rt *rt, const struct cfg_target *t)
{
	if (rt->opts.interval_ms > 0)
		return rt->opts.interval_ms;
	return t->interval_ms > 0 ? t->interval_ms : 1000;
}

static bool quiet(const struct rt *rt)
{
	return rt->opts.quiet;
}

static int cmp_worker(const void *a, const void *b)
{
	const struct worker *x = *(struct worker *const *)a, *y = *(struct worker *const *)b;
	return strcmp(x->key, y->key);
}

/* The worker for <key> in the set, or NULL. Call with set_lock held (or as the op holder). */
static struct worker *find_worker(struct rt *rt, const char *key)
{
	size_t lo = 0, hi = rt->n_workers;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		int r = strcmp(rt->workers[mid]->key, key);
		if (r == 0)
			return rt->workers[mid];
		if (r < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return NULL;
}

/* Grows the set to hold <n> workers. Call as the op holder, with set_lock held. */
static enum ps_err reserve(struct rt *rt, size_t n)
{
	if (n <= rt->cap_workers)
		return PS_OK;
	size_t cap = rt->cap_workers ? rt->cap_workers : 16;
	while (cap < n)
		cap *= 2;
	struct worker **v = ps_reallocarray(rt->workers, cap, sizeof(*v));
	if (!v)
		return PS_ENOMEM;
	rt->workers = v;
	rt->cap_workers = cap;
	return PS_OK;
}

/* Stops <ws[0..n)> together: signals all, waits for them up to <timeout_ms>, logs the overdue
 * ones, joins all. Fills <rep> (not NULL). Call as the op holder, without set_lock. */
static void stop_workers(struct rt *rt, struct worker **ws, size_t n, int64_t timeout_ms,
                         struct rt_stop_report *rep)
{
	memset(rep, 0, sizeof(*rep));
	int64_t t0 = rt_mono_ms();
	int64_t deadline = t0 + (timeout_ms > 0 ? timeout_ms : 0);
	/* A worker exits only after it was told to stop, so none of <ws> has counted yet. */
	lock(&rt->exit_lock);
	uint64_t base = rt->n_exited;
	unlock(&rt->exit_lock);

	size_t live = 0;
	for (size_t i = 0; i < n; i++) {
		if (!ws[i]->running)
			continue;
		live++;
		worker_signal_stop(ws[i]);
	}

	lock(&rt->exit_lock);
	while (rt->n_exited - base < live && rt_mono_ms() < deadline) {
		int rc = rt_cond_wait_until(&rt->exit_cond, &rt->exit_lock, deadline);
		PS_ASSERT(rc == 0 || rc == ETIMEDOUT);
	}
	for (size_t i = 0; i < n; i++) {
		if (!ws[i]->running)
			continue;
		if (!ws[i]->exited) {
			rep->overdue++;
			continue;
		}
		int64_t took = ws[i]->exit_mono_ms - t0;
		if (took >= rep->slowest_ms || !rep->slowest_key[0]) {
			rep->slowest_ms = took;
			snprintf(rep->slowest_key, sizeof(rep->slowest_key), "%s", ws[i]->key);
		}
	}
	unlock(&rt->exit_lock);

	if (rep->overdue && !quiet(rt)) {
		for (size_t i = 0; i < n; i++) {
			if (!ws[i]->running)
				continue;
			lock(&rt->exit_lock);
			bool gone = ws[i]->exited;
			unlock(&rt->exit_lock);
			if (!gone)
				PS_LOG_FIELDS(
				    PS_LOG_WARN,
				    "worker did not stop by the deadline; still joining it",
				    PS_LOG_STR("target", ws[i]->key),
				    PS_LOG_INT("deadline_ms", timeout_ms));
		}
	}

	for (size_t i = 0; i < n; i++) {
		if (!ws[i]->running)
			continue;
		worker_join(ws[i]);
		rep->workers++;
	}
	/* Those that finished after the deadline: their times, now that they have. */
	lock(&rt->exit_lock);
	for (size_t i = 0; i < n; i++) {
		int64_t took = ws[i]->exit_mono_ms - t0;
		if (ws[i]->exited && took > rep->slowest_ms) {
			rep->slowest_ms = took;
			snprintf(rep->slowest_key, sizeof(rep->slowest_key), "%s", ws[i]->key);
		}
	}
	unlock(&rt->exit_lock);
	rep->elapsed_ms = rt_mono_ms() - t0;
}

/* Creates and launches a worker for <key>; on PS_OK *out is running. */
static enum ps_err spawn(struct rt *rt, const char *key, struct worker **out, struct ps_diag *diag)
{
	struct worker *w;
	enum ps_err err = worker_new(rt, key, &w);
	if (err != PS_OK)
		return ps_diag_set(diag, err, "%s: cannot create the worker: %s", key,
		                   ps_strerror(err));
	err = worker_launch(w, diag);
	if (err != PS_OK) {
		worker_free(w);
		return err;
	}
	*out = w;
	return PS_OK;
}

static void free_rt(struct rt *rt)
{
	pool_free(rt);
	for (size_t i = 0; i < rt->n_workers; i++)
		worker_free(rt->workers[i]);
	ps_free(rt->workers);
	cfg_unref(rt->cfg);
	sem_release(&rt->sem);
	pthread_cond_destroy(&rt->exit_cond);
	pthread_mutex_destroy(&rt->exit_lock);
	pthread_mutex_destroy(&rt->set_lock);
	pthread_mutex_destroy(&rt->cfg_lock);
	pthread_mutex_destroy(&rt->op_lock);
	ps_free(rt);
}

/* ---- the API ---- */

enum ps_err rt_start(struct cfg *cfg, const struct ctl_job_ops *ops, void *arg,
                     const struct rt_opts *opts, struct rt **out, struct ps_diag *diag)
{
	*out = NULL;
	if (!cfg || !ops || !ops->start || !ops->tick || !ops->reconfigure || !ops->stop)
		return ps_diag_set(diag, PS_EINVAL,
		                   "rt_start: a configuration and four job "
		                   "operations are required");
	struct rt_opts o = opts ? *opts : (struct rt_opts){0};
	if (o.max_queries < 0 || o.stop_timeout_ms < 0 || o.interval_ms < 0 || o.executors < 0)
		return ps_diag_set(diag, PS_EINVAL, "rt_start: negative option");
	if (o.executors == 0)
		o.executors = RT_DEFAULT_EXECUTORS;
	if (o.max_queries == 0)
		o.max_queries = RT_DEFAULT_MAX_QUERIES;
	if (o.stop_timeout_ms == 0)
		o.stop_timeout_ms = RT_DEFAULT_STOP_TIMEOUT_MS;
	if (o.stack_size == 0)
		o.stack_size = RT_STACK_SIZE;

	struct rt *rt = ps_calloc(1, sizeof(*rt));
	if (!rt)
		return ps_diag_set(diag, PS_ENOMEM, "rt_start: out of memory");
	rt->ops = ops;
	rt->arg = arg;
	rt->opts = o;
	if (pthread_mutex_init(&rt->op_lock, NULL) != 0)
		goto out_free;
	if (pthread_mutex_init(&rt->cfg_lock, NULL) != 0)
		goto out_op;
	if (pthread_mutex_init(&rt->set_lock, NULL) != 0)
		goto out_cfg;
	if (pthread_mutex_init(&rt->exit_lock, NULL) != 0)
		goto out_set;
	if (rt_cond_init(&rt->exit_cond) != 0)
		goto out_exit;
	if (sem_init(&rt->sem, o.max_queries) != 0)
		goto out_exit_cond;
	rt->cfg = cfg_ref(cfg);
	enum ps_err perr = pool_start(rt, diag);
	if (perr != PS_OK) {
		free_rt(rt);
		return perr;
	}

	enum ps_err err = PS_OK;
	size_t n = cfg_target_count(cfg);
	lock(&rt->op_lock);
	lock(&rt->set_lock);
	err = reserve(rt, n);
	unlock(&rt->set_lock);
	if (err != PS_OK) {
		ps_diag_set(diag, err, "rt_start: out of memory");
	} else {
		for (size_t i = 0; i < n && err == PS_OK; i++) {
			const struct cfg_target *t = cfg_target_at(cfg, i);
			if (t->paused)
				continue;
			struct worker *w;
			err = spawn(rt, t->key, &w, diag);
			if (err != PS_OK)
				break;
			lock(&rt->set_lock);
			rt->workers[rt->n_workers++] = w;
			unlock(&rt->set_lock);
		}
	}
	lock(&rt->set_lock);
	if (rt->n_workers > 1) /* qsort's base must not be NULL, even for 0 elements */
		qsort(rt->workers, rt->n_workers, sizeof(*rt->workers), cmp_worker);
	unlock(&rt->set_lock);
	if (err != PS_OK) {
		struct rt_stop_report rep;
		stop_workers(rt, rt->workers, rt->n_workers, o.stop_timeout_ms, &rep);
		rt->stopped = true;
		unlock(&rt->op_lock);
		free_rt(rt);
		return err;
	}
	unlock(&rt->op_lock);
	*out = rt;
	return PS_OK;

out_exit_cond:
	pthread_cond_destroy(&rt->exit_cond);
out_exit:
	pthread_mutex_destroy(&rt->exit_lock);
out_set:
	pthread_mutex_destroy(&rt->set_lock);
out_cfg:
	pthread_mutex_destroy(&rt->cfg_lock);
out_op:
	pthread_mutex_destroy(&rt->op_lock);
out_free:
	ps_free(rt);
	return ps_diag_set(diag, PS_ENOMEM, "rt_start: cannot initialise locks");
}

static void count_reload_failure(struct rt *rt)
{
	lock(&rt->set_lock);
	rt->reloads_failed++;
	unlock(&rt->set_lock);
}

void rt_reload_failed(struct rt *rt, const struct ps_diag *diag)
{
	count_reload_failure(rt);
	if (!quiet(rt))
		PS_LOG_FIELDS(
		    PS_LOG_ERROR, "configuration reload rejected; the old one keeps running",
		    PS_LOG_STR("error", diag ? ps_diag_msg(diag) : "invalid configuration"));
}

enum ps_err rt_reload(struct rt *rt, struct cfg *next, struct rt_reload_result *res,
                      struct ps_diag *diag)
{
	struct rt_reload_result r = {0};
	if (res)
		*res = r;
	lock(&rt->op_lock);
	if (rt->stopped) {
		unlock(&rt->op_lock);
		return ps_diag_set(diag, PS_ESTATE, "rt_reload: the runtime is stopped");
	}
	struct ps_diag d;
	ps_diag_clear(&d);
	if (cfg_check_reload(rt->cfg, next, &d) != PS_OK) {
		unlock(&rt->op_lock);
		count_reload_failure(rt);
		if (diag)
			*diag = d;
		return PS_ECONFIG;
	}

	struct cfg *old = rt->cfg;
	lock(&rt->cfg_lock);
	rt->cfg = cfg_ref(next);
	unlock(&rt->cfg_lock);

	/* Diff: take the removed workers out of the set; poke the changed ones. */
	size_t n_next = cfg_target_count(next);
	struct worker **gone = ps_calloc(rt->n_workers ? rt->n_workers : 1, sizeof(*gone));
	enum ps_err err = gone ? PS_OK : PS_ENOMEM;
	lock(&rt->set_lock);
	if (err == PS_OK)
		err = reserve(rt, rt->n_workers + n_next);
	if (err == PS_OK) {
		size_t keep = 0;
		for (size_t i = 0; i < rt->n_workers; i++) {
			struct worker *w = rt->workers[i];
			const struct cfg_target *nt = cfg_target_find(next, w->key);
			if (!nt || nt->paused) {
				gone[r.removed++] = w;
				continue;
			}
			const struct cfg_target *ot = cfg_target_find(old, w->key);
			if (ot && cfg_target_equal(ot, nt)) {
				r.unchanged++;
			} else {
				r.changed++;
				worker_poke(w);
			}
			rt->workers[keep++] = w;
		}
		rt->n_workers = keep;
	}
	unlock(&rt->set_lock);
	if (err != PS_OK) {
		/* Nothing was changed in the set: go back to the old snapshot. */
		lock(&rt->cfg_lock);
		rt->cfg = old;
		unlock(&rt->cfg_lock);
		cfg_unref(next);
		ps_free(gone);
		unlock(&rt->op_lock);
		count_reload_failure(rt);
		return ps_diag_set(diag, PS_ENOMEM, "rt_reload: out of memory");
	}

	if (r.removed) {
		struct rt_stop_report rep;
		stop_workers(rt, gone, r.removed, rt->opts.stop_timeout_ms, &rep);
		r.overdue = rep.overdue;
		for (size_t i = 0; i < r.removed; i++)
			worker_free(gone[i]);
	}
	ps_free(gone);

	/* Added: targets without a worker. The set has room (reserved above). */
	for (size_t i = 0; i < n_next; i++) {
		const struct cfg_target *t = cfg_target_at(next, i);
		if (t->paused || find_worker(rt, t->key))
			continue;
		struct worker *w;
		struct ps_diag sd;
		ps_diag_clear(&sd);
		if (spawn(rt, t->key, &w, &sd) != PS_OK) {
			r.failed++;
			lock(&rt->set_lock);
			rt->thread_failures++;
			unlock(&rt->set_lock);
			if (!quiet(rt))
				PS_LOG_FIELDS(PS_LOG_ERROR, "cannot start a worker",
				              PS_LOG_STR("target", t->key),
				              PS_LOG_STR("error", ps_diag_msg(&sd)));
			continue;
		}
		r.added++;
		lock(&rt->set_lock);
		/* Insert in key order, so find_worker keeps working for the next targets. */
		size_t at = rt->n_workers;
		while (at > 0 && strcmp(rt->workers[at - 1]->key, w->key) > 0) {
			rt->workers[at] = rt->workers[at - 1];
			at--;
		}
		rt->workers[at] = w;
		rt->n_workers++;
		unlock(&rt->set_lock);
	}

	lock(&rt->set_lock);
	rt->reloads_ok++;
	unlock(&rt->set_lock);
	unlock(&rt->op_lock);
	cfg_unref(old);
	if (res)
		*res = r;
	return PS_OK;
}

void rt_stop(struct rt *rt, int64_t timeout_ms, struct rt_stop_report *rep)
{
	struct rt_stop_report local;
	if (!rep)
		rep = &local;
	memset(rep, 0, sizeof(*rep));
	lock(&rt->op_lock);
	if (rt->stopped) {
		unlock(&rt->op_lock);
		return;
	}
	/* The set does not change under the op holder; stop_workers reads it without set_lock
	 * (snapshot readers only read it too). */
	stop_workers(rt, rt->workers, rt->n_workers, timeout_ms, rep);
	pool_stop(rt);
	rt->stopped = true;
	unlock(&rt->op_lock);
}

void rt_free(struct rt *rt)
{
	if (!rt)
		return;
	rt_stop(rt, rt->opts.stop_timeout_ms, NULL);
	free_rt(rt);
}

size_t rt_workers_snapshot(struct rt *rt, struct rt_worker_info *buf, size_t cap)
{
	lock(&rt->set_lock);
	size_t n = rt->n_workers;
	for (size_t i = 0; i < n && i < cap; i++)
		worker_info(rt->workers[i], &buf[i]);
	unlock(&rt->set_lock);
	return n;
}

void rt_stats(struct rt *rt, struct rt_stats *out)
{
	memset(out, 0, sizeof(*out));
	lock(&rt->set_lock);
	out->workers = rt->n_workers;
	out->reloads_ok = rt->reloads_ok;
	out->reloads_failed = rt->reloads_failed;
	out->thread_failures = rt->thread_failures;
	unlock(&rt->set_lock);
	lock(&rt->sem.lock);
	out->query_slots = rt->sem.cap;
	out->query_slots_used = rt->sem.used;
	out->query_slot_timeouts = rt->sem.timeouts;
	unlock(&rt->sem.lock);
	pool_stats(rt, out);
}
