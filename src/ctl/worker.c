/* worker.c -- one worker per scale target, run by a fixed pool of executor threads: wait for
 * the tick, follow the config, run the job.
 *
 * DESIGN
 * Each target that is not paused gets a struct worker: its schedule, its cancel token, the
 * job's state (the void * from ops->start) and the config snapshot that state was built from
 * (<run.cur>, one reference). A worker is not a thread. The pool (struct rt_pool) keeps the
 * workers that wait for their due time in a min-heap on <run.due> and the ones to run at once
 * (a stop, a poke) in a FIFO; rt->opts.executors threads take the earliest due worker, run one
 * step of it (a tick, a reschedule after a poke, or the final stop) with no pool lock held,
 * then put it back in the heap at its next due time. A worker is on at most one executor at a
 * time (place == WP_RUNNING), so its <run> and the job state are touched by one thread at a
 * time; the pool's lock orders one executor's step before the next one's. Thread count, stack
 * memory and the job's per-thread resources (HTTP connections, in the tc.exec slot) are set by
 * the pool size, not by the number of targets: ten thousand targets cost ten thousand small
 * structs, not ten thousand threads.
 *
 * Why not a thread per target: each thread pins its touched stack (~22 KiB after one tick, up
 * to ~111 KiB after a deep JSON response), and a thread per target means an HTTP client, a
 * curl multi handle, its wake-up pipe and keep-alive connections per target: 10,000 targets
 * would hold 20,000+ file descriptors and 500+ MiB. Ticks spend most of their time waiting on
 * HTTP, and a target's ticks are 15 s apart: a pool of a few dozen threads runs thousands of
 * targets with ticks started within milliseconds of their due time, and tick lateness
 * (exported as a histogram) says when it is too small.
 *
 * Shared with the supervisor, under <w->lock>: <stop>, <poke> and <info> (the stats that
 * rt_workers_snapshot copies). <cancel> is an http_cancel (thread-safe by itself):
 * worker_signal_stop() fires it, which aborts the job's in-flight transfers at once, and then
 * broadcasts the query semaphore so that a tick waiting for a slot sees the fired token; it
 * moves a worker waiting in the heap to the ready FIFO so its stop runs without waiting for
 * its due time. <exited>/<exit_mono_ms> are written once, under rt->exit_lock, by the executor
 * that ran the final step, as its last touch of the worker. Lock order: pool.lock ->
 * w->lock; rt->cfg_lock, the semaphore's lock and rt->exit_lock are each taken alone.
 *
 * Step: at the tick: take a reference to the supervisor's current snapshot and find our target
 * in it. If it is a newer snapshot whose target differs from ours, ops->reconfigure (false:
 * ops->stop + ops->start); then our reference moves to the new snapshot. Without a live state,
 * ops->start (a failure is counted and retried at the next tick). Then ops->tick with deadline
 * = tick start + interval and the cancel token. The reference is kept until a newer snapshot
 * replaces it, so ops->reconfigure can compare old with new.
 *
 * Schedule: the first tick is due at launch + rt_jitter_ms(seed, key, interval), so thousands
 * of targets spread evenly over one interval; later ticks keep that phase (due += interval).
 * Ticks never pile up: a tick that starts one interval or more after it was due is "late"; it
 * runs once, the whole intervals it missed are counted in <missed>, and the schedule restarts
 * from that tick's start. Every tick's lateness (start - due) goes into the pool's histogram.
 * A poke (reload changed the target) re-reads the interval so a shorter one takes effect
 * without waiting out the old one.
 *
 * Backpressure: the job takes Prometheus query slots through the tick context; a take that
 * fails before the deadline marks the tick, and the job's PS_ETIMEDOUT is then counted as
 * "skipped" rather than as an error. Slots the job forgot to give back are returned at the end
 * of the tick (and logged), so the limit cannot leak. The pool itself bounds how many ticks
 * run at once.
 *
 * Invariants: a worker finishes only after <stop> was seen; before it finishes, ops->stop has
 * run on any live state and <run.cur> is released, so after worker_join nothing of the worker
 * remains but the struct, which the supervisor frees. Executors leave only at pool_stop, after
 * every worker has finished.
 */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>

#include "ps_alloc.h"
#include "ps_log.h"
#include "rt_int.h"

static void lock(struct worker *w)
{
	PS_ASSERT(pthread_mutex_lock(&w->lock) == 0);
}

static void unlock(struct worker *w)
{
	PS_ASSERT(pthread_mutex_unlock(&w->lock) == 0);
}

static void plock(struct rt_pool *p)
{
	PS_ASSERT(pthread_mutex_lock(&p->lock) == 0);
}

static void punlock(struct rt_pool *p)
{
	PS_ASSERT(pthread_mutex_unlock(&p->lock) == 0);
}

/* ---- the pool's heap and queue (pool lock held) ---- */

static bool heap_less(const struct worker *a, const struct worker *b)
{
	return a->run.due < b->run.due;
}

static void heap_set(struct rt_pool *p, size_t i, struct worker *w)
{
	p->heap[i] = w;
	w->heap_idx = i;
}

static void heap_up(struct rt_pool *p, size_t i)
{
	struct worker *w = p->heap[i];
	while (i > 0) {
		size_t parent = (i - 1) / 2;
		if (!heap_less(w, p->heap[parent]))
			break;
		heap_set(p, i, p->heap[parent]);
		i = parent;
	}
	heap_set(p, i, w);
}

static void heap_down(struct rt_pool *p, size_t i)
{
	struct worker *w = p->heap[i];
	for (;;) {
		size_t c = 2 * i + 1;
		if (c >= p->n_heap)
			break;
		if (c + 1 < p->n_heap && heap_less(p->heap[c + 1], p->heap[c]))
			c++;
		if (!heap_less(p->heap[c], w))
			break;
		heap_set(p, i, p->heap[c]);
		i = c;
	}
	heap_set(p, i, w);
}

/* Room for one more worker in the heap. */
static enum ps_err heap_reserve(struct rt_pool *p, size_t n)
{
	if (n <= p->cap_heap)
		return PS_OK;
	size_t cap = p->cap_heap ? p->cap_heap : 64;
	while (cap < n)
		cap *= 2;
	struct worker **h = ps_reallocarray(p->heap, cap, sizeof(*h));
	if (!h)
		return PS_ENOMEM;
	p->heap = h;
	p->cap_heap = cap;
	return PS_OK;
}

/* Puts <w> in the heap (room reserved by worker_launch: the heap never holds more workers
 * than were launched). Signals an executor when <w> became the earliest. */
static void heap_push(struct rt_pool *p, struct worker *w)
{
	PS_ASSERT(p->n_heap < p->cap_heap);
	w->place = WP_HEAP;
	p->heap[p->n_heap] = w;
	w->heap_idx = p->n_heap++;
	heap_up(p, w->heap_idx);
	if (w->heap_idx == 0)
		PS_ASSERT(pthread_cond_signal(&p->cond) == 0);
}

static void heap_remove(struct rt_pool *p, struct worker *w)
{
	size_t i = w->heap_idx;
	PS_ASSERT(w->place == WP_HEAP && i < p->n_heap && p->heap[i] == w);
	p->n_heap--;
	if (i < p->n_heap) {
		heap_set(p, i, p->heap[p->n_heap]);
		heap_down(p, i);
		heap_up(p, p->heap[i]->heap_idx);
	}
	w->place = WP_NONE;
}

static void ready_push(struct rt_pool *p, struct worker *w)
{
	w->place = WP_READY;
	w->ready_next = NULL;
	if (p->ready_tail)
		p->ready_tail->ready_next = w;
	else
		p->ready_head = w;
	p->ready_tail = w;
	PS_ASSERT(pthread_cond_signal(&p->cond) == 0);
}

static struct worker *ready_pop(struct rt_pool *p)
{
	struct worker *w = p->ready_head;
	if (w) {
		p->ready_head = w->ready_next;
		if (!p->ready_head)
			p->ready_tail = NULL;
		w->ready_next = NULL;
	}
	return w;
}

/* ---- one worker's step (no pool lock held) ---- */

/* Sets the visible state; while a stop is pending, IDLE and TICKING read as STOPPING. Call with
 * w->lock held. */
static void set_state_locked(struct worker *w, enum rt_worker_state s)
{
	if (w->stop && s != RT_WORKER_STOPPED)
		s = RT_WORKER_STOPPING;
	w->info.state = s;
	w->info.heartbeat_mono_ms = rt_mono_ms();
}

/* Publishes the schedule after it changed. */
static void publish_schedule(struct worker *w, int64_t jitter)
{
	lock(w);
	w->info.interval_ms = w->run.interval;
	if (jitter >= 0)
		w->info.jitter_ms = jitter;
	w->info.next_tick_mono_ms = w->run.due;
	set_state_locked(w, RT_WORKER_IDLE);
	unlock(w);
}

/* The interval of our target in the running configuration, or <fallback> when it is gone. */
static int64_t peek_interval(struct worker *w, int64_t fallback)
{
	struct cfg *c = rt_cfg_current(w->rt);
	const struct cfg_target *t = cfg_target_find(c, w->key);
	int64_t iv = t ? rt_interval_of(w->rt, t) : fallback;
	cfg_unref(c);
	return iv;
}

/* After a poke: adopt the target's new interval, keeping the phase of the schedule. */
static void reschedule(struct worker *w)
{
	struct worker_run *r = &w->run;
	int64_t iv = peek_interval(w, r->interval);
	if (iv == r->interval)
		return;
	int64_t jitter = -1;
	if (!r->ticked) {
		jitter = rt_jitter_ms(w->rt->opts.jitter_seed, w->key, iv);
		r->due = r->launched + jitter;
	} else {
		r->due = r->due - r->interval + iv; /* same phase, new period */
	}
	/* A due time already past means "now", not a late tick: nothing was missed, the old
	 * interval had not run out. */
	int64_t now = rt_mono_ms();
	if (r->due < now)
		r->due = now;
	r->interval = iv;
	publish_schedule(w, jitter);
}

/* ctl_tick_ctx.query_slot_take: <p> is the worker. */
static bool slot_take(void *p, int64_t deadline_mono_ms)
{
	struct worker *w = p;
	if (rt_sem_take(&w->rt->sem, deadline_mono_ms, w->cancel)) {
		w->run.slots_held++;
		return true;
	}
	w->run.slot_denied = true;
	return false;
}

/* ctl_tick_ctx.query_slot_give. */
static void slot_give(void *p)
{
	struct worker *w = p;
	PS_ASSERT(w->run.slots_held > 0); /* a give without a take would break the limit */
	w->run.slots_held--;
	rt_sem_give(&w->rt->sem);
}

static bool log_on(const struct worker *w, enum ps_log_level level)
{
	return !w->rt->opts.quiet && ps_log_enabled(level);
}

/* Moves the worker to snapshot <c> (an owned reference, consumed) whose target for our key is
 * <nt>: reconfigures or rebuilds the job state when the target changed. */
static void follow_config(struct worker *w, struct cfg *c, const struct cfg_target *nt)
{
	struct worker_run *r = &w->run;
	const struct ctl_job_ops *ops = w->rt->ops;
	if (c == r->cur) {
		cfg_unref(c);
		return;
	}
	if (r->state && !cfg_target_equal(r->t, nt)) {
		bool kept = ops->reconfigure(w->rt->arg, r->state, r->t, nt);
		if (!kept) {
			ops->stop(w->rt->arg, r->state);
			r->state = NULL;
		}
		lock(w);
		if (kept)
			w->info.reconfigures++;
		else
			w->info.rebuilds++;
		w->info.has_state = r->state != NULL;
		unlock(w);
		if (log_on(w, PS_LOG_INFO))
			PS_LOG_FIELDS(PS_LOG_INFO, "target reconfigured",
			              PS_LOG_STR("target", w->key),
			              PS_LOG_BOOL("history_kept", kept));
	}
	cfg_unref(r->cur);
	r->cur = c;
	r->t = nt;
}

/* Records the end of a tick (or of a failed start) in the worker's stats and logs it. */
static void record(struct worker *w, enum ps_err err, const struct ps_diag *diag, bool ticked,
                   bool skipped, bool canceled, int64_t start_mono, int64_t end_mono)
{
	struct worker_run *r = &w->run;
	const char *msg = diag->msg[0] ? diag->msg : ps_strerror(err);
	bool failed = err != PS_OK && !skipped && !canceled;
	lock(w);
	if (ticked)
		w->info.ticks++;
	w->info.last_tick_end_wall_ms = rt_wall_ms();
	w->info.last_tick_ms = end_mono - start_mono;
	w->info.last_result = err;
	w->info.has_state = r->state != NULL;
	if (skipped)
		w->info.skipped++;
	if (failed) {
		w->info.errors++;
		w->info.consecutive_errors++;
		snprintf(w->info.last_error, sizeof(w->info.last_error), "%s", msg);
		w->info.last_error_wall_ms = w->info.last_tick_end_wall_ms;
	} else if (err == PS_OK) {
		w->info.consecutive_errors = 0;
	}
	unlock(w);

	r->skips_in_a_row = skipped ? r->skips_in_a_row + 1 : 0;
	if (failed && log_on(w, PS_LOG_WARN))
		PS_LOG_FIELDS(PS_LOG_WARN, ticked ? "tick failed" : "target start failed",
		              PS_LOG_STR("target", w->key), PS_LOG_STR("error", ps_err_name(err)),
		              PS_LOG_STR("message", msg));
	if (skipped && log_on(w, r->skips_in_a_row == 1 ? PS_LOG_WARN : PS_LOG_DEBUG))
		PS_LOG_FIELDS(r->skips_in_a_row == 1 ? PS_LOG_WARN : PS_LOG_DEBUG,
		              "tick skipped: no Prometheus query slot before the deadline",
		              PS_LOG_STR("target", w->key),
		              PS_LOG_INT("skipped_in_a_row", (int64_t)r->skips_in_a_row));
}

/* Adds one tick's lateness to the pool's histogram. */
static void count_lateness(struct rt_pool *p, int64_t late_ms)
{
	static const double bounds[RT_LATENESS_NBUCKETS] = RT_LATENESS_BUCKETS;
	double s = late_ms > 0 ? (double)late_ms / 1000.0 : 0.0;
	size_t b = 0;
	while (b < RT_LATENESS_NBUCKETS && s > bounds[b])
		b++;
	plock(p);
	p->late_counts[b]++;
	p->late_sum_s += s;
	p->late_n++;
	punlock(p);
}

/* Runs one due tick on the executor whose job slot is <exec>. */
static void tick(struct worker *w, void **exec)
{
	struct worker_run *r = &w->run;
	struct rt *rt = w->rt;
	int64_t start = rt_mono_ms();
	r->ticked = true;
	count_lateness(&rt->pool, start - r->due);
	if (start - r->due >= r->interval) {
		/* Late (the process was starved, the pool is too small, or the previous tick
		 * overran): run once now and restart the schedule from here rather than firing the
		 * missed ticks back to back. */
		uint64_t missed = (uint64_t)((start - r->due) / r->interval);
		lock(w);
		w->info.late++;
		w->info.missed += missed;
		unlock(w);
		if (log_on(w, PS_LOG_INFO))
			PS_LOG_FIELDS(PS_LOG_INFO, "tick late", PS_LOG_STR("target", w->key),
			              PS_LOG_INT("late_ms", start - r->due),
			              PS_LOG_INT("missed", (int64_t)missed));
		r->due = start;
	}

	struct cfg *c = rt_cfg_current(rt);
	const struct cfg_target *nt = cfg_target_find(c, w->key);
	if (!nt || nt->paused) {
		/* A reload removed or paused the target; the supervisor is about to stop us. */
		cfg_unref(c);
		r->due += r->interval;
		publish_schedule(w, -1);
		return;
	}
	r->interval = rt_interval_of(rt, nt);
	lock(w);
	w->info.interval_ms = r->interval;
	w->info.last_tick_start_wall_ms = rt_wall_ms();
	w->info.tick_deadline_mono_ms = start + r->interval;
	set_state_locked(w, RT_WORKER_TICKING);
	unlock(w);

	follow_config(w, c, nt);

	struct ps_diag diag;
	ps_diag_clear(&diag);
	enum ps_err err = PS_OK;
	bool ticked = false, skipped = false;
	if (!r->state) {
		err = rt->ops->start(rt->arg, r->t, &r->state, &diag);
		if (err != PS_OK) {
			r->state = NULL;
		} else {
			lock(w);
			w->info.starts++;
			w->info.has_state = true;
			unlock(w);
		}
	}
	if (err == PS_OK) {
		struct ctl_tick_ctx tc = {
		    .now_wall_ms = rt_wall_ms(),
		    .deadline_mono_ms = start + r->interval,
		    .cancel = w->cancel,
		    .query_slot_take = slot_take,
		    .query_slot_give = slot_give,
		    .rt = w,
		    .exec = exec,
		};
		r->slots_held = 0;
		r->slot_denied = false;
		err = rt->ops->tick(rt->arg, r->state, r->t, &tc, &diag);
		ticked = true;
		if (r->slots_held > 0) {
			if (log_on(w, PS_LOG_ERROR))
				PS_LOG_FIELDS(PS_LOG_ERROR, "tick kept query slots; returned them",
				              PS_LOG_STR("target", w->key),
				              PS_LOG_INT("slots", r->slots_held));
			while (r->slots_held > 0)
				slot_give(w);
		}
		skipped = err == PS_ETIMEDOUT && r->slot_denied;
	}
	bool canceled = err == PS_ECANCELED && http_cancel_fired(w->cancel);
	record(w, err, &diag, ticked, skipped, canceled, start, rt_mono_ms());

	r->due += r->interval;
	publish_schedule(w, -1);
}

/* The last step: the job's state goes. */
static void finish(struct worker *w)
{
	struct rt *rt = w->rt;
	lock(w);
	set_state_locked(w, RT_WORKER_STOPPING);
	unlock(w);
	if (w->run.state)
		rt->ops->stop(rt->arg, w->run.state);
	w->run.state = NULL;
	cfg_unref(w->run.cur);
	w->run.cur = NULL;
	lock(w);
	w->info.has_state = false;
	set_state_locked(w, RT_WORKER_STOPPED);
	unlock(w);
}

/* One step of <w>: stop, poke or tick. Returns true when the worker has finished. */
static bool step(struct worker *w, void **exec)
{
	lock(w);
	bool stop = w->stop, poke = w->poke;
	w->poke = false;
	w->info.heartbeat_mono_ms = rt_mono_ms();
	unlock(w);
	if (stop) {
		finish(w);
		return true;
	}
	if (poke)
		reschedule(w);
	else if (rt_mono_ms() >= w->run.due)
		tick(w, exec);
	return false;
}

/* ---- the executors ---- */

static void *executor_main(void *p)
{
	struct rt *rt = p;
	struct rt_pool *pool = &rt->pool;
	plock(pool);
	size_t idx = pool->n_threads; /* pool_start counts us in order, under the lock */
	void **exec = &pool->exec[idx];
	pool->n_threads++;
	PS_ASSERT(pthread_cond_broadcast(&pool->cond) == 0);
	for (;;) {
		if (pool->shutdown)
			break;
		struct worker *w = ready_pop(pool);
		if (!w && pool->n_heap > 0) {
			int64_t due = pool->heap[0]->run.due;
			if (rt_mono_ms() >= due) {
				w = pool->heap[0];
				heap_remove(pool, w);
			} else {
				int rc = rt_cond_wait_until(&pool->cond, &pool->lock, due);
				PS_ASSERT(rc == 0 || rc == ETIMEDOUT);
				continue;
			}
		}
		if (!w) {
			PS_ASSERT(pthread_cond_wait(&pool->cond, &pool->lock) == 0);
			continue;
		}
		w->place = WP_RUNNING;
		pool->busy++;
		/* Idle executors may all be in an untimed wait: hand the watch over the heap's new
		 * top (or the rest of the ready queue) to one of them before running. */
		if (pool->ready_head || pool->n_heap > 0)
			PS_ASSERT(pthread_cond_signal(&pool->cond) == 0);
		punlock(pool);

		bool done = step(w, exec);

		plock(pool);
		pool->busy--;
		if (done) {
			w->place = WP_DONE;
			pool->n_live--;
			punlock(pool);
			/* Last touch: the supervisor may free <w> as soon as it sees this. */
			PS_ASSERT(pthread_mutex_lock(&rt->exit_lock) == 0);
			w->exited = true;
			w->exit_mono_ms = rt_mono_ms();
			rt->n_exited++;
			PS_ASSERT(pthread_cond_broadcast(&rt->exit_cond) == 0);
			PS_ASSERT(pthread_mutex_unlock(&rt->exit_lock) == 0);
			plock(pool);
			continue;
		}
		lock(w);
		bool again = w->stop || w->poke;
		unlock(w);
		if (again)
			ready_push(pool, w);
		else
			heap_push(pool, w);
		/* Another executor may be waiting for a later top than the one we just
		 * pushed; heap_push signalled it if so. */
	}
	pool->n_threads--;
	PS_ASSERT(pthread_cond_broadcast(&pool->cond) == 0);
	punlock(pool);
	return NULL;
}

enum ps_err pool_start(struct rt *rt, struct ps_diag *diag)
{
	struct rt_pool *p = &rt->pool;
	size_t n = (size_t)rt->opts.executors;
	if (pthread_mutex_init(&p->lock, NULL) != 0)
		return ps_diag_set(diag, PS_ENOMEM, "rt_start: cannot initialise the pool's lock");
	if (rt_cond_init(&p->cond) != 0) {
		pthread_mutex_destroy(&p->lock);
		return ps_diag_set(diag, PS_ENOMEM, "rt_start: cannot initialise the pool's condvar");
	}
	p->inited = true;
	p->threads = ps_calloc(n, sizeof(*p->threads));
	p->exec = ps_calloc(n, sizeof(*p->exec));
	if (!p->threads || !p->exec) {
		pool_free(rt);
		return ps_diag_set(diag, PS_ENOMEM, "rt_start: out of memory");
	}
	pthread_attr_t attr;
	int rc = pthread_attr_init(&attr);
	if (rc != 0) {
		pool_free(rt);
		return ps_diag_set(diag, PS_ENOMEM, "rt_start: pthread_attr_init: %s", strerror(rc));
	}
	rc = pthread_attr_setstacksize(&attr, rt->opts.stack_size);
	size_t started = 0;
	for (; rc == 0 && started < n; started++) {
		/* One at a time, so each executor takes the next index under the lock. */
		plock(p);
		size_t before = p->n_threads;
		punlock(p);
		rc = pthread_create(&p->threads[started], &attr, executor_main, rt);
		if (rc != 0)
			break;
		plock(p);
		while (p->n_threads == before)
			PS_ASSERT(pthread_cond_wait(&p->cond, &p->lock) == 0);
		punlock(p);
	}
	pthread_attr_destroy(&attr);
	if (rc != 0) {
		pool_free(rt);
		return ps_diag_set(diag, rc == EINVAL ? PS_EINVAL : PS_EIO,
		                   "rt_start: cannot create executor thread %zu of %zu (stack %zu "
		                   "bytes): %s",
		                   started + 1, n, rt->opts.stack_size, strerror(rc));
	}
	return PS_OK;
}

void pool_stop(struct rt *rt)
{
	struct rt_pool *p = &rt->pool;
	if (!p->inited || !p->threads)
		return;
	plock(p);
	p->shutdown = true;
	PS_ASSERT(pthread_cond_broadcast(&p->cond) == 0);
	size_t n = p->n_threads;
	punlock(p);
	/* Every executor started took an index below n; join them all. */
	for (size_t i = 0; i < n; i++)
		PS_ASSERT(pthread_join(p->threads[i], NULL) == 0);
	PS_ASSERT(p->n_threads == 0);
	for (size_t i = 0; i < n; i++) {
		if (p->exec[i] && rt->ops->exec_free)
			rt->ops->exec_free(rt->arg, p->exec[i]);
		p->exec[i] = NULL;
	}
	ps_free(p->threads);
	p->threads = NULL;
}

void pool_free(struct rt *rt)
{
	struct rt_pool *p = &rt->pool;
	if (!p->inited)
		return;
	pool_stop(rt);
	ps_free(p->exec);
	ps_free(p->heap);
	p->exec = NULL;
	p->heap = NULL;
	p->n_heap = p->cap_heap = 0;
	pthread_cond_destroy(&p->cond);
	pthread_mutex_destroy(&p->lock);
	p->inited = false;
}

/* ---- workers ---- */

enum ps_err worker_new(struct rt *rt, const char *key, struct worker **out)
{
	*out = NULL;
	struct worker *w = ps_calloc(1, sizeof(*w));
	if (!w)
		return PS_ENOMEM;
	w->rt = rt;
	w->key = ps_strdup(key);
	if (!w->key)
		goto out_free;
	if (http_cancel_new(&w->cancel) != PS_OK)
		goto out_free_key;
	if (pthread_mutex_init(&w->lock, NULL) != 0)
		goto out_free_cancel;
	snprintf(w->info.key, sizeof(w->info.key), "%s", key);
	w->info.state = RT_WORKER_STARTING;
	w->info.heartbeat_mono_ms = rt_mono_ms();
	w->place = WP_NONE;
	*out = w;
	return PS_OK;

out_free_cancel:
	http_cancel_free(w->cancel);
out_free_key:
	ps_free(w->key);
out_free:
	ps_free(w);
	return PS_ENOMEM;
}

enum ps_err worker_launch(struct worker *w, struct ps_diag *diag)
{
	struct rt *rt = w->rt;
	struct rt_pool *p = &rt->pool;
	struct worker_run *r = &w->run;
	r->launched = rt_mono_ms();
	r->interval = peek_interval(w, rt->opts.interval_ms > 0 ? rt->opts.interval_ms : 15000);
	int64_t jitter = rt_jitter_ms(rt->opts.jitter_seed, w->key, r->interval);
	r->due = r->launched + jitter;
	publish_schedule(w, jitter);

	plock(p);
	/* Room for every live worker: all of them may be in the heap at once. */
	enum ps_err err = heap_reserve(p, p->n_live + 1);
	if (err == PS_OK) {
		p->n_live++;
		heap_push(p, w);
		w->running = true;
	}
	punlock(p);
	if (err != PS_OK)
		return ps_diag_set(diag, err, "%s: cannot schedule the worker: out of memory",
		                   w->key);
	return PS_OK;
}

/* A worker waiting for its due time goes to the ready queue, so that an executor takes its
 * stop or poke at once; one in the queue or running sees the flag when it gets there. */
static void run_soon(struct worker *w)
{
	struct rt_pool *p = &w->rt->pool;
	plock(p);
	if (w->place == WP_HEAP) {
		heap_remove(p, w);
		ready_push(p, w);
	}
	punlock(p);
}

void worker_signal_stop(struct worker *w)
{
	lock(w);
	w->stop = true;
	if (w->info.state != RT_WORKER_STOPPED)
		w->info.state = RT_WORKER_STOPPING;
	unlock(w);
	http_cancel_fire(w->cancel);
	rt_sem_wake_all(&w->rt->sem);
	run_soon(w);
}

void worker_poke(struct worker *w)
{
	lock(w);
	w->poke = true;
	unlock(w);
	run_soon(w);
}

void worker_join(struct worker *w)
{
	if (!w->running)
		return;
	struct rt *rt = w->rt;
	PS_ASSERT(pthread_mutex_lock(&rt->exit_lock) == 0);
	while (!w->exited)
		PS_ASSERT(pthread_cond_wait(&rt->exit_cond, &rt->exit_lock) == 0);
	PS_ASSERT(pthread_mutex_unlock(&rt->exit_lock) == 0);
	w->running = false;
}

void worker_free(struct worker *w)
{
	if (!w)
		return;
	PS_ASSERT(!w->running);
	PS_ASSERT(w->run.state == NULL && w->run.cur == NULL);
	pthread_mutex_destroy(&w->lock);
	http_cancel_free(w->cancel);
	ps_free(w->key);
	ps_free(w);
}

void worker_info(struct worker *w, struct rt_worker_info *out)
{
	lock(w);
	*out = w->info;
	unlock(w);
}

void pool_stats(struct rt *rt, struct rt_stats *out)
{
	struct rt_pool *p = &rt->pool;
	plock(p);
	out->executors = (int32_t)p->n_threads;
	out->executors_busy = (int32_t)p->busy;
	size_t queued = 0;
	for (struct worker *w = p->ready_head; w; w = w->ready_next)
		queued++;
	int64_t now = rt_mono_ms();
	for (size_t i = 0; i < p->n_heap; i++)
		if (p->heap[i]->run.due <= now)
			queued++;
	out->ticks_queued = queued;
	memcpy(out->lateness_counts, p->late_counts, sizeof(out->lateness_counts));
	out->lateness_sum_s = p->late_sum_s;
	out->lateness_count = p->late_n;
	punlock(p);
}
