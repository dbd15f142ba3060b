/* runtime.h -- the controller's generic runtime: a supervisor that keeps one worker per scale
 * target and runs their ticks on a fixed pool of executor threads, hot reload, the process-wide Prometheus query limit, the signal thread and the
 * configuration watcher.
 *
 * The runtime knows threads, time, cancellation, limits and reloads; what a target does each
 * tick is a struct ctl_job_ops (ctl_job.h). A process uses it like this:
 *
 *   rt_signals_start(&sig_ops, &sig)      first, before any other thread exists
 *   http_global_init()
 *   cfg_load(path, &cfg)  rt_start(cfg, &ops, arg, &opts, &rt)  cfg_unref(cfg)
 *   rt_watch_new(path, &watch)
 *   loop until a stop signal: every few seconds, or on SIGHUP / rt_watch_changed():
 *       cfg_load(path, &next) ok     -> rt_reload(rt, next)  cfg_unref(next)
 *       cfg_load(path, &next) failed -> rt_reload_failed(rt, &diag)   (old config keeps running)
 *   rt_stop(rt, grace, &report)  rt_free(rt)  rt_signals_stop(sig)
 *
 * Logging: workers log their own events with the target key (failed ticks and starts, skips,
 * late ticks, reconfigures, overdue stops); rt_reload_failed logs what it is given; rt_start,
 * rt_reload and rt_stop return their figures and log nothing, so the caller logs each once.
 *
 * Threads: rt_start, rt_reload, rt_stop and rt_free are called by one controlling thread (they
 * are serialised by a lock anyway); rt_workers_snapshot, rt_stats and rt_cfg may be called from
 * any thread (the HTTP endpoints) at any time between rt_start and rt_free.
 */
#ifndef RUNTIME_H
#define RUNTIME_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "cfg.h"
#include "ctl_job.h"
#include "ps_compiler.h"
#include "ps_diag.h"
#include "ps_err.h"

/* Stack of an executor thread, measured by test_runtime on a painted stack: a tick's usual work
 * (a curl request, a JSON parse, an eng_decision of ~15 KiB, a log line) takes ~22 KiB; the
 * worst case is a response nested as deep as cJSON allows (CJSON_NESTING_LIMIT, 1000 levels),
 * which a broken or hostile server can send: ~111 KiB. 512 KiB keeps 4x over that worst case.
 * glibc carves the thread descriptor and static TLS out of the same size (~4 KiB here, but
 * ~770 KiB under TSan, whose per-thread state lives in TLS), and ASan's redzones grow frames,
 * hence the larger sanitizer sizes. There are only opts.executors of them, whatever the number
 * of targets. */
#if defined(__SANITIZE_THREAD__)
#define RT_STACK_SIZE ((size_t)2048 * 1024)
#elif defined(__SANITIZE_ADDRESS__)
#define RT_STACK_SIZE ((size_t)1024 * 1024)
#else
#define RT_STACK_SIZE ((size_t)512 * 1024)
#endif
/* Default number of executor threads (controller.workers). */
#define RT_DEFAULT_EXECUTORS 16
/* Upper bounds of the tick lateness histogram (seconds), and their count. */
#define RT_LATENESS_BUCKETS                                                                        \
	{0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60}
#define RT_LATENESS_NBUCKETS 15
/* Default number of Prometheus queries in flight across all workers. */
#define RT_DEFAULT_MAX_QUERIES 16
/* Default time a reload waits for a removed worker before it logs it as overdue. */
#define RT_DEFAULT_STOP_TIMEOUT_MS 5000
/* Size of the key copied into a struct rt_worker_info ("namespace/kind/name"; longer keys are
 * cut). Namespace (63) + kind (63) + name (253) + 2 fits. */
#define RT_KEY_MAX 400

struct rt_opts {
	int32_t max_queries;     /* concurrent Prometheus queries, process-wide; 0: default */
	uint64_t jitter_seed;    /* mixed into each key's hash: same seed, same tick offsets */
	int64_t stop_timeout_ms; /* a reload waits this long for a removed worker before it logs it
	                          * as overdue (it still joins it); 0: RT_DEFAULT_STOP_TIMEOUT_MS */
	size_t stack_size;       /* executor stack; 0: RT_STACK_SIZE */
	int32_t executors;       /* executor threads; 0: RT_DEFAULT_EXECUTORS */
	int64_t interval_ms;     /* > 0: every target ticks at this interval instead of its own
	                          * (tests and demos); 0: the target's interval */
	bool quiet;              /* true: the runtime itself logs nothing (tests) */
};

enum rt_worker_state {
	RT_WORKER_STARTING, /* created, not yet scheduled */
	RT_WORKER_IDLE,     /* waiting for its next tick */
	RT_WORKER_TICKING,  /* in ops->start, ops->reconfigure or ops->tick */
	RT_WORKER_STOPPING, /* told to stop: leaving its tick, in ops->stop */
	RT_WORKER_STOPPED,  /* finished: its job state is gone */
};

/* A copy of one worker's state, taken under its lock. Times: *_mono_ms are CLOCK_MONOTONIC
 * milliseconds (compare with ps_clock_mono_ms), *_wall_ms Unix milliseconds; 0 means "never". */
struct rt_worker_info {
	char key[RT_KEY_MAX];
	enum rt_worker_state state;
	bool has_state;                /* ops->start succeeded and the job state is live */
	int64_t interval_ms;           /* current tick interval */
	int64_t jitter_ms;             /* offset of the first tick after the worker started */
	int64_t next_tick_mono_ms;     /* when the next tick is due */
	int64_t tick_deadline_mono_ms; /* deadline of the tick running now (or the last one) */
	int64_t heartbeat_mono_ms;     /* the last time the worker ran or changed state */
	int64_t last_tick_start_wall_ms;
	int64_t last_tick_end_wall_ms;
	int64_t last_tick_ms;         /* duration of the last tick */
	enum ps_err last_result;      /* result of the last tick (PS_OK, or its error) */
	char last_error[PS_DIAG_MAX]; /* text of the last error, kept after later successes */
	int64_t last_error_wall_ms;
	uint64_t ticks;              /* ticks run (any outcome) */
	uint64_t errors;             /* failed starts and ticks */
	uint64_t consecutive_errors; /* failures since the last success */
	uint64_t skipped;            /* ticks skipped: no query slot before the deadline */
	uint64_t late;               /* ticks that ran at least one interval after they were due */
	uint64_t missed;             /* whole intervals that passed without a tick (late ticks) */
	uint64_t starts;             /* successful ops->start calls */
	uint64_t reconfigures;       /* reloads the state followed (reconfigure returned true) */
	uint64_t rebuilds;           /* reloads that rebuilt the state (reconfigure false) */
};

/* Aggregate counters. */
struct rt_stats {
	size_t workers;               /* workers in the set (running, or stopped after rt_stop) */
	uint64_t reloads_ok;          /* rt_reload applied a new configuration */
	uint64_t reloads_failed;      /* rejected by rt_reload, or reported with rt_reload_failed */
	uint64_t thread_failures;     /* workers that could not be scheduled (out of memory) */
	int32_t query_slots;          /* the limit */
	int32_t query_slots_used;     /* slots taken right now */
	uint64_t query_slot_timeouts; /* takes that reached their deadline */
	int32_t executors;            /* executor threads */
	int32_t executors_busy;       /* running a step right now */
	size_t ticks_queued;          /* workers due and waiting for an executor */
	/* tick lateness: how long after its due time each tick started (seconds); counts per
	 * bucket of RT_LATENESS_BUCKETS (not cumulative), the last one for "above the last" */
	uint64_t lateness_counts[RT_LATENESS_NBUCKETS + 1];
	double lateness_sum_s;
	uint64_t lateness_count;
};

struct rt_reload_result {
	size_t added;     /* workers started (new or unpaused targets) */
	size_t removed;   /* workers stopped and joined (removed or paused targets) */
	size_t changed;   /* running workers whose target changed: they follow at their next tick */
	size_t unchanged; /* running workers whose target is equal */
	size_t failed;    /* added targets that could not be scheduled (logged, counted) */
	size_t overdue;   /* removed workers that took longer than opts.stop_timeout_ms to stop */
};

struct rt_stop_report {
	size_t workers;               /* workers joined */
	size_t overdue;               /* workers not finished by the deadline (joined anyway) */
	int64_t elapsed_ms;           /* from the stop request until every worker finished */
	int64_t slowest_ms;           /* the slowest worker's time to finish */
	char slowest_key[RT_KEY_MAX]; /* its key ("" with no workers) */
};

struct rt;

/* Starts the runtime on <cfg> (borrowed; the runtime takes its own reference): opts.executors
 * executor threads and one worker per target that is not paused, each calling <ops>
 * (borrowed, must outlive the runtime) with <arg> (shared by every worker; thread-safety is the
 * job's) on whichever executor runs it. <opts> may be NULL (defaults). Call rt_signals_start()
 * before, so the executors inherit the blocked signals. On PS_OK *out is owned: rt_stop() then
 * rt_free(). On failure (PS_EINVAL for bad options, PS_ENOMEM, PS_EIO when a thread cannot be
 * created) no thread is left running, *out is NULL and <diag> (may be NULL) says why. */
PS_MUST_CHECK enum ps_err rt_start(struct cfg *cfg, const struct ctl_job_ops *ops, void *arg,
                                   const struct rt_opts *opts, struct rt **out,
                                   struct ps_diag *diag);

/* Replaces the running configuration with <next> (borrowed; a reference is taken). First
 * cfg_check_reload(): when a non-reloadable key changed, returns PS_ECONFIG with <diag>, counts
 * a reload failure (without logging it: the caller logs the diag), and the old configuration
 * keeps running untouched. Otherwise the targets
 * are diffed against the running workers: removed or newly paused targets have their worker
 * stopped and joined (blocks until they finish; see rt_reload_result.overdue); added or
 * unpaused targets get a new worker; a changed target's worker is woken to pick up its new
 * interval and, at its next tick, calls ops->reconfigure (false: ops->stop + ops->start);
 * unchanged ones carry on. Counts a reload success. <res> may be NULL. Returns
 * PS_OK (also when some added workers could not be scheduled: res->failed, logged and counted),
 * PS_ECONFIG, or PS_ESTATE after rt_stop(). Called by the controlling thread. */
PS_MUST_CHECK enum ps_err rt_reload(struct rt *rt, struct cfg *next, struct rt_reload_result *res,
                                    struct ps_diag *diag);

/* For the caller whose cfg_load() of a new configuration failed: logs <diag> (may be NULL) and
 * counts a reload failure; the old configuration keeps running. */
void rt_reload_failed(struct rt *rt, const struct ps_diag *diag);

/* Stops every worker: fires each one's cancel token (aborting its in-flight HTTP transfers and
 * query-slot waits), wakes it, waits up to <timeout_ms> for all of them to finish, logs each
 * one still running then as overdue, and joins them all. It never detaches: a job that ignores
 * its cancel token makes this block until the job returns (killing the process at a deadline is
 * the signal thread's job, see rt_signal_ops.grace_ms). Then the executors leave and are
 * joined: after it returns the process's thread count is what it was before rt_start (less any
 * threads the jobs left behind). <rep> (may be NULL) gets the figures. Idempotent: a second call reports zero
 * workers. Workers stay in the set as RT_WORKER_STOPPED for rt_workers_snapshot(). */
void rt_stop(struct rt *rt, int64_t timeout_ms, struct rt_stop_report *rep);

/* Frees <rt> (NULL allowed), calling rt_stop() with opts.stop_timeout_ms first if needed. No
 * other thread may use <rt> any more. */
void rt_free(struct rt *rt);

/* Copies the state of up to <cap> workers, in key order, into <buf> (may be NULL when cap is 0).
 * Returns the number of workers, which may exceed <cap>. Any thread; takes each worker's lock
 * briefly (never waits for a tick). */
size_t rt_workers_snapshot(struct rt *rt, struct rt_worker_info *buf, size_t cap);

/* True when the worker in <wi> looks stuck at <now_mono_ms>: ticking more than <grace_ms> past
 * its tick deadline, or idle more than <grace_ms> past its due time. For /healthz. */
bool rt_worker_is_stuck(const struct rt_worker_info *wi, int64_t now_mono_ms, int64_t grace_ms);

/* Fills <out> with the aggregate counters. Any thread. */
void rt_stats(struct rt *rt, struct rt_stats *out);

/* Returns an owned reference (cfg_unref it) to the configuration running now. Any thread. */
struct cfg *rt_cfg(struct rt *rt);

/* The offset of a target's first tick: a 64-bit FNV-1a hash of <seed> and <key> (borrowed),
 * passed through a mixing finaliser, modulo <interval_ms> (> 0). Pure; any thread. */
int64_t rt_jitter_ms(uint64_t seed, const char *key, int64_t interval_ms);

/* Name of a state: "starting", "idle", "ticking", "stopping", "stopped". */
const char *rt_worker_state_name(enum rt_worker_state s);

/* ---- signals (sigthread.c) ---- */

/* Callbacks of the signal thread; they run on that thread and must return quickly (set a flag,
 * signal a condvar; exit_now may call _exit). */
struct rt_signal_ops {
	/* First SIGTERM or SIGINT: begin a graceful stop. */
	void (*stop)(void *arg, int signo);
	/* A further SIGTERM or SIGINT (signo), or grace_ms elapsed since the first (signo 0):
	 * exit now. Called once per such event. */
	void (*exit_now)(void *arg, int signo);
	/* SIGHUP: reload the configuration. Not called once a stop has begun. */
	void (*reload)(void *arg);
	void *arg;
	/* > 0: the process-level deadline of a graceful stop, after which exit_now(arg, 0) runs. */
	int64_t grace_ms;
};

struct rt_signals;

/* Blocks SIGTERM, SIGINT and SIGHUP in the calling thread and ignores SIGPIPE. Threads created
 * afterwards inherit the mask. rt_signals_start() calls it; call it directly when a thread must
 * be created before the signal thread. Returns PS_OK or PS_EIO. */
PS_MUST_CHECK enum ps_err rt_signals_block(struct ps_diag *diag);

/* Blocks the signals (rt_signals_block) and starts the signal thread, which waits for them with
 * sigtimedwait in slices of at most 100 ms and calls <ops> (copied; the callbacks and <arg> must
 * outlive the thread). Call from the main thread before any other thread exists: a thread
 * created earlier still has the signals unblocked and may take them with their default action.
 * On PS_OK *out is owned: rt_signals_stop(). Returns PS_EINVAL (a NULL callback), PS_ENOMEM or
 * PS_EIO. */
PS_MUST_CHECK enum ps_err rt_signals_start(const struct rt_signal_ops *ops, struct rt_signals **out,
                                           struct ps_diag *diag);

/* Stops and joins the signal thread (within ~100 ms; not from a callback) and frees <s> (NULL
 * allowed). The signals stay blocked: one arriving later stays pending and harmless. */
void rt_signals_stop(struct rt_signals *s);

/* ---- configuration watching (rt_watch.c) ---- */

struct rt_watch;

/* Watches <path> (borrowed; a file, a symlink or a directory such as a ConfigMap volume) by
 * polling: each rt_watch_changed() computes a fingerprint from lstat and stat (inode, size,
 * mtime, mode) of the path, of each directory entry (hidden ones included, so `..data` counts)
 * and of what each symlink resolves to, plus the symlinks' targets. A path that is missing is a
 * state too (its appearance is a change). On PS_OK *out is owned: rt_watch_free(). PS_ENOMEM. */
PS_MUST_CHECK enum ps_err rt_watch_new(const char *path, struct rt_watch **out,
                                       struct ps_diag *diag);

/* True when the fingerprint differs from the previous call's (or rt_watch_new's); the caller
 * then reloads. Cost: one opendir and two stats per entry (entries past 4096 are ignored). The
 * caller picks the cadence (every few seconds). One thread at a time. */
bool rt_watch_changed(struct rt_watch *w);

/* Frees <w> (NULL allowed). */
void rt_watch_free(struct rt_watch *w);

#endif
