/* ctl_job.h -- the contract between the runtime (supervisor and workers) and what one target
 * does each tick. The runtime knows threads, time, cancellation, limits and reloads; a job knows
 * Prometheus, Kubernetes and the engine. Tests drive the runtime with fake jobs.
 *
 * Lifecycle, per target key ("namespace/kind/name"); every call runs on one of the runtime's
 * executor threads, never two at once for one target (they may be different threads in turn):
 *   state = ops->start(arg, target)          before the first tick
 *   ops->tick(arg, state, target, &tc)       every interval (jittered)
 *   ops->reconfigure(arg, state, old, new)   when a reload changed the
 *                                            target; returns false when the state must be
 *                                            rebuilt (e.g. a metric query changed): the runtime
 *                                            then calls stop + start
 *   ops->stop(arg, state)                    when the target is removed or the runtime stops
 *   ops->exec_free(arg, exec)                when an executor leaves, for what the job kept in
 *                                            its tc.exec slot (optional)
 * The <target> pointers are borrowed from a config snapshot the runtime holds a reference on
 * for the duration of the call. <arg> is shared by all workers: anything in it that a job
 * mutates must be thread-safe.
 */
#ifndef CTL_JOB_H
#define CTL_JOB_H

#include <stdbool.h>
#include <stdint.h>

#include "cfg.h"
#include "http.h"
#include "ps_compiler.h"
#include "ps_diag.h"
#include "ps_err.h"

/* What the runtime hands a tick. */
struct ctl_tick_ctx {
	int64_t now_wall_ms;          /* the tick's wall-clock time (decision "now") */
	int64_t deadline_mono_ms;     /* the tick must finish by this monotonic time */
	struct http_cancel *cancel;   /* fires on stop; pass to every request */
	/* Backpressure: a job takes a Prometheus query slot before each query and gives it
	 * back after; false means no slot before the deadline: skip the tick. */
	bool (*query_slot_take)(void *rt, int64_t deadline_mono_ms);
	void (*query_slot_give)(void *rt);
	void *rt;
	/* The executor's own slot for the job (NULL at first): things a tick may reuse on the
	 * same thread, whatever the target (HTTP clients and their connections). Freed with
	 * ops->exec_free when the executor leaves. */
	void **exec;
};

struct ctl_job_ops {
	/* Returns an owned per-target state in *state, or an error (the worker logs it, counts
	 * it and retries start at the next tick). */
	PS_MUST_CHECK enum ps_err (*start)(void *arg, const struct cfg_target *t, void **state,
	                                   struct ps_diag *diag);
	/* One tick. An error is that target's alone: logged with its key and counted. PS_ETIMEDOUT
	 * with the query slot not taken means "skipped". */
	PS_MUST_CHECK enum ps_err (*tick)(void *arg, void *state, const struct cfg_target *t,
	                                  const struct ctl_tick_ctx *tc, struct ps_diag *diag);
	/* The target changed on reload; true: <state> follows <t> and keeps its history. */
	bool (*reconfigure)(void *arg, void *state, const struct cfg_target *old_t,
	                    const struct cfg_target *t);
	void (*stop)(void *arg, void *state);
	/* Optional (NULL): frees what ticks left in an executor's tc.exec slot. */
	void (*exec_free)(void *arg, void *exec);
};

#endif
