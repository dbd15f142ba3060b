/* worker.c -- one thread per scale target: wait for the tick, follow the config, run the job.
 *
 * DESIGN
 * Each target that is not paused gets a struct worker and one thread with a small stack
 * (RT_STACK_SIZE, see runtime.h for the measurement). The thread owns the job's state (the
 * void * from ops->start) and the config snapshot that state was built from (<cur>, one
 * reference); nothing else touches them. The job's HTTP handles live in that state, so they
 * too belong to this thread alone.
 *
 * Shared with the supervisor, under <w->lock>: <stop>, <poke> and <info> (the stats that
 * rt_workers_snapshot copies). <wake> is a CLOCK_MONOTONIC condvar under <w->lock>, signalled by
 * worker_signal_stop() and worker_poke(). <cancel> is an http_cancel (thread-safe by itself):
 * worker_signal_stop() fires it, which aborts the job's in-flight transfers at once, and then
 * broadcasts the query semaphore so that a worker waiting for a slot sees the fired token.
 * <exited>/<exit_mono_ms> are written once, under rt->exit_lock, as the thread's last act.
 * Lock order: never two at once on this thread (w->lock, rt->cfg_lock, the semaphore's lock and
 * rt->exit_lock are each taken alone); the supervisor takes w->lock under rt->set_lock.
 *
 * Loop: wait until the tick is due, a poke, or a stop (timed wait to the due time: every wait
 * has a deadline). At the tick: take a reference to the supervisor's current snapshot and find
 * our target in it. If it is a newer snapshot whose target differs from ours, ops->reconfigure
 * (false: ops->stop + ops->start, same thread); then our reference moves to the new snapshot.
 * Without a live state, ops->start (a failure is counted and retried at the next tick). Then
 * ops->tick with deadline = tick start + interval and the cancel token. The reference is kept
 * until a newer snapshot replaces it, so ops->reconfigure can compare old with new.
 *
 * Schedule: the first tick is due at launch + rt_jitter_ms(seed, key, interval), so thousands
 * of targets spread evenly over one interval; later ticks keep that phase (due += interval).
 * Ticks never pile up: a tick that starts one interval or more after it was due is "late"; it
 * runs once, the whole intervals it missed are counted in <missed>, and the schedule restarts
 * from that tick's start. A poke (reload changed the target) re-reads the interval so a shorter
 * one takes effect without waiting out the old one.
 *
 * Backpressure: the job takes Prometheus query slots through the tick context; a take that
 * fails before the deadline marks the tick, and the job's PS_ETIMEDOUT is then counted as
 * "skipped" rather than as an error. Slots the job forgot to give back are returned at the end
 * of the tick (and logged), so the limit cannot leak.
 *
 * Invariants: the thread exits only after <stop> was seen; before it exits, ops->stop has run on
 * any live state and <cur> is released, so after the join nothing of the worker remains but
 * the struct, which the supervisor frees.
 */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>

#include "ps_alloc.h"
#include "ps_log.h"
#include "rt_int.h"

enum wake_reason { WAKE_TICK, WAKE_POKE, WAKE_STOP };

/* The schedule and the job state, private to the worker thread. */
struct run {
	struct worker *w;
	struct cfg *cur;            /* owned reference: <t> and <state> come from it */
	const struct cfg_target *t; /* borrowed from <cur> */
	void *state;                /* the job's, NULL until ops->start succeeds */
	int64_t launched;           /* monotonic ms when the thread started */
	int64_t interval;           /* current interval */
	int64_t due;                /* monotonic ms the next tick is due */
	bool ticked;                /* a tick has been due at least once */
	uint64_t skips_in_a_row;    /* for logging the first skip of a run of skips only */
};

/* Sets the visible state; while a stop is pending, IDLE and TICKING read as STOPPING. Call with
 * w->lock held. */
static void set_state_locked(struct worker *w, enum rt_worker_state s)
{
	if (w->stop && s != RT_WORKER_STOPPED)
		s = RT_WORKER_STOPPING;
	w->info.state = s;
	w->info.heartbeat_mono_ms = rt_mono_ms();
}

static void lock(struct worker *w)
{
	PS_ASSERT(pthread_mutex_lock(&w->lock) == 0);
}

static void unlock(struct worker *w)
{
	PS_ASSERT(pthread_mutex_unlock(&w->lock) == 0);
}

/* Publishes the schedule after it changed. */
static void publish_schedule(struct run *r, int64_t jitter)
{
	lock(r->w);
	r->w->info.interval_ms = r->interval;
	if (jitter >= 0)
		r->w->info.jitter_ms = jitter;
	r->w->info.next_tick_mono_ms = r->due;
	set_state_locked(r->w, RT_WORKER_IDLE);
	unlock(r->w);
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

/* Waits until <due>, a poke or a stop, whichever comes first. */
static enum wake_reason wait_due(struct worker *w, int64_t due)
{
	enum wake_reason why;
	lock(w);
	for (;;) {
		if (w->stop) {
			why = WAKE_STOP;
			break;
		}
		if (w->poke) {
			w->poke = false;
			why = WAKE_POKE;
			break;
		}
		if (rt_mono_ms() >= due) {
			why = WAKE_TICK;
			break;
		}
		int rc = rt_cond_wait_until(&w->wake, &w->lock, due);
		PS_ASSERT(rc == 0 || rc == ETIMEDOUT);
	}
	w->info.heartbeat_mono_ms = rt_mono_ms();
	unlock(w);
	return why;
}

/* After a poke: adopt the target's new interval, keeping the phase of the schedule. */
static void reschedule(struct run *r)
{
	int64_t iv = peek_interval(r->w, r->interval);
	if (iv == r->interval)
		return;
	int64_t jitter = -1;
	if (!r->ticked) {
		jitter = rt_jitter_ms(r->w->rt->opts.jitter_seed, r->w->key, iv);
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
	publish_schedule(r, jitter);
}

/* ctl_tick_ctx.query_slot_take: <p> is the worker. */
static bool slot_take(void *p, int64_t deadline_mono_ms)
{
	struct worker *w = p;
	if (rt_sem_take(&w->rt->sem, deadline_mono_ms, w->cancel)) {
		w->slots_held++;
		return true;
	}
	w->slot_denied = true;
	return false;
}

/* ctl_tick_ctx.query_slot_give. */
static void slot_give(void *p)
{
	struct worker *w = p;
	PS_ASSERT(w->slots_held > 0); /* a give without a take would break the limit */
	w->slots_held--;
	rt_sem_give(&w->rt->sem);
}

static bool log_on(const struct worker *w, enum ps_log_level level)
{
	return !w->rt->opts.quiet && ps_log_enabled(level);
}

/* Moves <r> to snapshot <c> (an owned reference, consumed) whose target for our key is <nt>:
 * reconfigures or rebuilds the job state when the target changed. */
static void follow_config(struct run *r, struct cfg *c, const struct cfg_target *nt)
{
	struct worker *w = r->w;
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
static void record(struct run *r, enum ps_err err, const struct ps_diag *diag, bool ticked,
                   bool skipped, bool canceled, int64_t start_mono, int64_t end_mono)
{
	struct worker *w = r->w;
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

/* Runs one due tick. */
static void tick(struct run *r)
{
	struct worker *w = r->w;
	struct rt *rt = w->rt;
	int64_t start = rt_mono_ms();
	r->ticked = true;
	if (start - r->due >= r->interval) {
		/* Late (the process was starved, or the previous tick overran): run once now and
		 * restart the schedule from here rather than firing the missed ticks back to back.
		 */
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
		publish_schedule(r, -1);
		return;
	}
	r->interval = rt_interval_of(rt, nt);
	lock(w);
	w->info.interval_ms = r->interval;
	w->info.last_tick_start_wall_ms = rt_wall_ms();
	w->info.tick_deadline_mono_ms = start + r->interval;
	set_state_locked(w, RT_WORKER_TICKING);
	unlock(w);

	follow_config(r, c, nt);

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
		};
		w->slots_held = 0;
		w->slot_denied = false;
		err = rt->ops->tick(rt->arg, r->state, r->t, &tc, &diag);
		ticked = true;
		if (w->slots_held > 0) {
			if (log_on(w, PS_LOG_ERROR))
				PS_LOG_FIELDS(PS_LOG_ERROR, "tick kept query slots; returned them",
				              PS_LOG_STR("target", w->key),
				              PS_LOG_INT("slots", w->slots_held));
			while (w->slots_held > 0)
				slot_give(w);
		}
		skipped = err == PS_ETIMEDOUT && w->slot_denied;
	}
	bool canceled = err == PS_ECANCELED && http_cancel_fired(w->cancel);
	record(r, err, &diag, ticked, skipped, canceled, start, rt_mono_ms());

	r->due += r->interval;
	publish_schedule(r, -1);
}

static void *worker_main(void *p)
{
	struct worker *w = p;
	struct rt *rt = w->rt;
	struct run r = {.w = w};
	r.launched = rt_mono_ms();
	r.interval = peek_interval(w, rt->opts.interval_ms > 0 ? rt->opts.interval_ms : 15000);
	int64_t jitter = rt_jitter_ms(rt->opts.jitter_seed, w->key, r.interval);
	r.due = r.launched + jitter;
	publish_schedule(&r, jitter);

	for (;;) {
		enum wake_reason why = wait_due(w, r.due);
		if (why == WAKE_STOP)
			break;
		if (why == WAKE_POKE)
			reschedule(&r);
		else
			tick(&r);
	}

	lock(w);
	set_state_locked(w, RT_WORKER_STOPPING);
	unlock(w);
	if (r.state)
		rt->ops->stop(rt->arg, r.state);
	cfg_unref(r.cur);
	lock(w);
	w->info.has_state = false;
	set_state_locked(w, RT_WORKER_STOPPED);
	unlock(w);

	/* Last act: the supervisor may join and free <w> as soon as it sees this. */
	PS_ASSERT(pthread_mutex_lock(&rt->exit_lock) == 0);
	w->exited = true;
	w->exit_mono_ms = rt_mono_ms();
	rt->n_exited++;
	PS_ASSERT(pthread_cond_broadcast(&rt->exit_cond) == 0);
	PS_ASSERT(pthread_mutex_unlock(&rt->exit_lock) == 0);
	return NULL;
}

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
	if (rt_cond_init(&w->wake) != 0)
		goto out_free_lock;
	snprintf(w->info.key, sizeof(w->info.key), "%s", key);
	w->info.state = RT_WORKER_STARTING;
	w->info.heartbeat_mono_ms = rt_mono_ms();
	*out = w;
	return PS_OK;

out_free_lock:
	pthread_mutex_destroy(&w->lock);
out_free_cancel:
	http_cancel_free(w->cancel);
out_free_key:
	ps_free(w->key);
out_free:
	ps_free(w);
	return PS_ENOMEM;
}

enum ps_err worker_launch(struct worker *w, size_t stack_size, struct ps_diag *diag)
{
	pthread_attr_t attr;
	int rc = pthread_attr_init(&attr);
	if (rc != 0)
		return ps_diag_set(diag, PS_ENOMEM, "%s: pthread_attr_init: %s", w->key,
		                   strerror(rc));
	rc = pthread_attr_setstacksize(&attr, stack_size);
	if (rc == 0)
		rc = pthread_create(&w->thread, &attr, worker_main, w);
	pthread_attr_destroy(&attr);
	if (rc != 0)
		return ps_diag_set(diag, rc == EINVAL ? PS_EINVAL : PS_EIO,
		                   "%s: cannot create the worker thread (stack %zu bytes): %s",
		                   w->key, stack_size, strerror(rc));
	w->running = true;
	return PS_OK;
}

void worker_signal_stop(struct worker *w)
{
	lock(w);
	w->stop = true;
	if (w->info.state != RT_WORKER_STOPPED)
		w->info.state = RT_WORKER_STOPPING;
	PS_ASSERT(pthread_cond_signal(&w->wake) == 0);
	unlock(w);
	http_cancel_fire(w->cancel);
	rt_sem_wake_all(&w->rt->sem);
}

void worker_poke(struct worker *w)
{
	lock(w);
	w->poke = true;
	PS_ASSERT(pthread_cond_signal(&w->wake) == 0);
	unlock(w);
}

void worker_join(struct worker *w)
{
	if (!w->running)
		return;
	PS_ASSERT(pthread_join(w->thread, NULL) == 0);
	w->running = false;
}

void worker_free(struct worker *w)
{
	if (!w)
		return;
	PS_ASSERT(!w->running);
	pthread_cond_destroy(&w->wake);
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
