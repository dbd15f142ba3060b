/* rt_int.h -- what supervisor.c and worker.c share inside the runtime (not for other layers). */
#ifndef RT_INT_H
#define RT_INT_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "http.h"
#include "runtime.h"

/* One thread waiting in rt_sem_take (lives on that thread's stack). */
struct rt_sem_waiter {
	struct rt_sem_waiter *next;
	bool granted; /* a give handed its slot to this waiter */
};

/* A counting semaphore with a deadline: the process-wide Prometheus query limit. Fair: waiters
 * queue in FIFO order and a give hands its slot straight to the oldest one, so a worker that
 * just gave a slot back cannot take it again ahead of one that has been waiting. */
struct rt_sem {
	pthread_mutex_t lock;
	pthread_cond_t cond; /* CLOCK_MONOTONIC; broadcast on give and on any worker stop */
	int32_t cap;         /* immutable */
	int32_t used;        /* protected by <lock>: slots held, including handed-off ones */
	struct rt_sem_waiter *head, *tail; /* protected by <lock>: the queue */
	uint64_t timeouts;                 /* protected by <lock> */
};

/* Where a worker is in the pool's schedule; protected by the pool's lock. */
enum worker_place {
	WP_NONE,    /* not scheduled yet (worker_new) */
	WP_HEAP,    /* waiting for its due time, in the pool's heap */
	WP_READY,   /* in the ready queue: an executor takes it next */
	WP_RUNNING, /* an executor runs its step now */
	WP_DONE,    /* finished: the pool holds it no more */
};

/* The schedule and the job state of one target; only the executor running the worker's step
 * touches it (one at a time: a worker is never on two executors). */
struct worker_run {
	struct cfg *cur;            /* owned reference: <t> and <state> come from it */
	const struct cfg_target *t; /* borrowed from <cur> */
	void *state;                /* the job's, NULL until ops->start succeeds */
	int64_t launched;           /* monotonic ms when the worker was scheduled */
	int64_t interval;           /* current interval */
	int64_t due;                /* monotonic ms the next tick is due */
	bool ticked;                /* a tick has been due at least once */
	uint64_t skips_in_a_row;    /* for logging the first skip of a run of skips only */
	int32_t slots_held;         /* query slots taken and not given back in this tick */
	bool slot_denied;           /* a query_slot_take failed in this tick */
};

struct worker {
	struct rt *rt;              /* immutable */
	char *key;                  /* owned, immutable */
	struct http_cancel *cancel; /* owned; fired by the supervisor; freed with the worker */

	/* Supervisor (controlling thread) only. */
	bool running; /* scheduled and not yet joined */

	pthread_mutex_t lock;
	bool stop;                  /* protected by <lock> */
	bool poke;                  /* protected by <lock>: the target changed, re-read it */
	struct rt_worker_info info; /* protected by <lock> */

	/* Protected by the pool's lock. */
	enum worker_place place;
	size_t heap_idx;           /* WP_HEAP: index in the heap */
	struct worker *ready_next; /* WP_READY: the queue */

	bool exited;          /* protected by rt->exit_lock */
	int64_t exit_mono_ms; /* protected by rt->exit_lock */

	struct worker_run run; /* the executor running the worker's step only */
};

/* The executors: a fixed set of threads that run the workers' steps (a tick, a reschedule or
 * the final stop) in due-time order. See worker.c. */
struct rt_pool {
	pthread_mutex_t lock;
	pthread_cond_t cond;   /* CLOCK_MONOTONIC; signalled when work arrives or the top moves */
	struct worker **heap;  /* min-heap on run.due */
	size_t n_heap, cap_heap;
	struct worker *ready_head, *ready_tail;
	pthread_t *threads;
	void **exec;       /* per executor: the job's slot (ctl_tick_ctx.exec) */
	size_t n_threads;  /* started */
	size_t n_live;     /* launched workers that have not finished */
	bool inited;       /* lock and condvar initialised (pool_start got that far) */
	size_t busy;       /* executors in a step now */
	bool shutdown;     /* executors leave once this is set */
	/* lateness of ticks (start - due), a histogram on RT_LATENESS_BUCKETS */
	uint64_t late_counts[RT_LATENESS_NBUCKETS + 1];
	double late_sum_s;
	uint64_t late_n;
};

struct rt {
	const struct ctl_job_ops *ops; /* immutable */
	void *arg;                     /* immutable */
	struct rt_opts opts;           /* immutable, defaults filled in */

	pthread_mutex_t op_lock; /* serialises rt_reload, rt_stop and rt_free; held across joins */
	bool stopped;            /* protected by <op_lock> */

	pthread_mutex_t cfg_lock; /* leaf lock */
	struct cfg *cfg;          /* owned reference; protected by <cfg_lock>, written under
	                           * <op_lock> too (so the op holder may read it without cfg_lock) */

	pthread_mutex_t set_lock; /* protects the fields below */
	struct worker **workers;  /* sorted by key */
	size_t n_workers;
	size_t cap_workers;
	uint64_t reloads_ok;
	uint64_t reloads_failed;
	uint64_t thread_failures;

	pthread_mutex_t exit_lock; /* leaf lock */
	pthread_cond_t exit_cond;  /* CLOCK_MONOTONIC; broadcast by each worker as it finishes */
	uint64_t n_exited;         /* protected by <exit_lock>: workers that have finished */

	struct rt_sem sem;
	struct rt_pool pool;
};

/* ---- supervisor.c, for the workers ---- */

/* Returns an owned reference to the running configuration. */
struct cfg *rt_cfg_current(struct rt *rt);
/* The interval a worker runs <t> at (opts.interval_ms overrides). */
int64_t rt_interval_of(const struct rt *rt, const struct cfg_target *t);
/* Takes a query slot, waiting until <deadline_mono_ms> at most; false on the deadline or when
 * <cancel> (may be NULL) has fired. */
bool rt_sem_take(struct rt_sem *s, int64_t deadline_mono_ms, const struct http_cancel *cancel);
void rt_sem_give(struct rt_sem *s);
/* Wakes every waiter so that they look at their cancel tokens. */
void rt_sem_wake_all(struct rt_sem *s);
/* Initialises <cond> on CLOCK_MONOTONIC. Returns 0 or an errno value. */
int rt_cond_init(pthread_cond_t *cond);
/* Waits on <cond> with <m> held until <deadline_mono_ms>. Returns like pthread_cond_timedwait. */
int rt_cond_wait_until(pthread_cond_t *cond, pthread_mutex_t *m, int64_t deadline_mono_ms);
/* CLOCK_MONOTONIC and CLOCK_REALTIME in milliseconds. */
int64_t rt_mono_ms(void);
int64_t rt_wall_ms(void);

/* ---- worker.c, for the supervisor ---- */

/* Initialises the pool of <rt> and starts rt->opts.executors threads with stacks of
 * rt->opts.stack_size. PS_OK, or PS_ENOMEM / PS_EIO with <diag>: then no thread is left. */
PS_MUST_CHECK enum ps_err pool_start(struct rt *rt, struct ps_diag *diag);
/* Stops and joins the executors (every worker must have finished) and calls ops->exec_free on
 * each executor's job slot. Idempotent; pool_stats keeps working. */
void pool_stop(struct rt *rt);
/* pool_stop, then frees the pool (no other thread may use it any more). Idempotent. */
void pool_free(struct rt *rt);

/* Fills the executor and lateness figures of <out>. Any thread. */
void pool_stats(struct rt *rt, struct rt_stats *out);

/* Returns an owned worker for <key> (borrowed) in *out, not yet running. PS_ENOMEM or PS_EIO. */
PS_MUST_CHECK enum ps_err worker_new(struct rt *rt, const char *key, struct worker **out);
/* Schedules the worker: its first tick is due after its jitter. Cannot fail once the heap has
 * room: PS_ENOMEM when it cannot grow. */
PS_MUST_CHECK enum ps_err worker_launch(struct worker *w, struct ps_diag *diag);
/* Tells the worker to stop: sets <stop>, wakes its wait, fires its cancel token and wakes the
 * query-slot waiters. Does not wait. Any thread. */
void worker_signal_stop(struct worker *w);
/* Wakes the worker so that it re-reads its target's interval (after a reload changed it). */
void worker_poke(struct worker *w);
/* Waits until the worker has finished (blocks; only after worker_signal_stop). */
void worker_join(struct worker *w);
/* Frees a worker that is not running (NULL allowed). */
void worker_free(struct worker *w);
/* Copies the worker's state under its lock. */
void worker_info(struct worker *w, struct rt_worker_info *out);

#endif
