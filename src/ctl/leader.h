/* leader.h -- leader election on a coordination.k8s.io/v1 Lease, with client-go's semantics:
 * only the replica that holds the Lease runs workers.
 *
 * The rules (client-go's LeaderElector with a LeaseLock, ReleaseOnCancel):
 * - Acquire: read the Lease. Absent: create it with us as the holder (a 409 AlreadyExists means
 *   another replica was first: not leader this round). Held by another and not expired: not
 *   leader. Expired, released (holder ""), or already ours: update it with the resourceVersion
 *   just read (a 409 Conflict means someone wrote it since: not leader this round). A takeover
 *   sets acquireTime and renewTime to now and counts leaseTransitions + 1.
 * - Expiry is judged by the LOCAL MONOTONIC clock: a Lease held by another expires
 *   leaseDurationSeconds (the holder's own figure) after the last time this elector saw it
 *   change (resourceVersion, holder, times, duration or transitions). Its renewTime is never
 *   compared with our clock, so clock skew between replicas cannot cause two leaders.
 * - Renew: every retry period while leading, an update of the Lease as last written (the
 *   resourceVersion of our own last write; on a 409, read it and try again in the same round).
 * - Lose: when no renew has succeeded for the renew deadline (counted from the START of the
 *   last successful write, and enforced on the calls themselves), or as soon as a read shows
 *   another holder. on_stopped_leading runs, and returns, before the elector writes again.
 *   Because renewDeadline < leaseDuration, a holder that is cut off stops leading
 *   (leaseDuration - renewDeadline) before any other replica can take over.
 * - Release on shutdown (leader_stop with release): on_stopped_leading first, then an update
 *   with holderIdentity "" and leaseDurationSeconds 1 (acquireTime and renewTime now,
 *   leaseTransitions kept), so another replica takes over at its next attempt.
 * After a loss the elector contends again, like any other replica.
 *
 * Threads: leader_start() runs the elector in its own thread; the callbacks run on that
 * thread, one at a time. leader_stop() fires the elector's cancel token (an in-flight request
 * is aborted at once), wakes it and joins it. Every wait and every request has a deadline.
 * leader_status() may be called from any thread. leader_step() and leader_finish() drive the
 * same state machine by hand, without the thread (unit tests with a virtual clock).
 */
#ifndef LEADER_H
#define LEADER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "kube.h"
#include "kubeconfig.h"
#include "ps_clock.h"
#include "ps_compiler.h"
#include "ps_diag.h"
#include "ps_err.h"

/* client-go's defaults (and the config's). */
#define LEADER_DEFAULT_LEASE_DURATION_MS 15000
#define LEADER_DEFAULT_RENEW_DEADLINE_MS 10000
#define LEADER_DEFAULT_RETRY_PERIOD_MS 2000
/* The release on shutdown gives up after the renew deadline or this, whichever is shorter
 * (a process being stopped has a grace period; the Lease then expires by itself). */
#define LEADER_RELEASE_MAX_MS 5000

/* Where the elector reads and writes the Lease. The elector calls these on its own thread
 * (or on the thread that calls leader_step), one at a time. The kube store (leader_new_kube)
 * wraps kube_lease_get/create/update; tests pass an in-process store. */
struct leader_store_ops {
	/* Reads Lease <namespace>/<name> into <out>: PS_OK, PS_ENOTFOUND when there is none, or
	 * another error with <diag>. */
	enum ps_err (*get)(void *arg, const char *namespace, const char *name,
	                   struct kube_lease *out, struct ps_diag *diag);
	/* Creates <l>; <out> receives the stored Lease (with its resourceVersion). PS_ECONFLICT
	 * when it exists already (AlreadyExists). */
	enum ps_err (*create)(void *arg, const struct kube_lease *l, struct kube_lease *out,
	                      struct ps_diag *diag);
	/* Replaces <l> if its resourceVersion is the stored one; <out> receives the stored Lease.
	 * PS_ECONFLICT when it is not (Conflict). */
	enum ps_err (*update)(void *arg, const struct kube_lease *l, struct kube_lease *out,
	                      struct ps_diag *diag);
	/* May be NULL. The calls that follow must end by <deadline_mono_ms>, a monotonic time of
	 * the elector's clock (0: no bound beyond their own timeouts). */
	void (*set_deadline)(void *arg, int64_t deadline_mono_ms);
	void *arg;
};

/* The callbacks; each may be NULL. They run on the elector's thread (or leader_step's caller)
 * and block it while they run: the elector makes no request meanwhile. */
struct leader_callbacks {
	/* This replica now holds the Lease: start the workers. Should return promptly. */
	void (*started_leading)(void *arg);
	/* This replica no longer holds the Lease (lost it, or is stopping): stop EVERY worker, and
	 * return only when none is left; the elector writes nothing before it returns. */
	void (*stopped_leading)(void *arg);
	/* The holder the elector observed changed: <identity> (borrowed for the call) is the new
	 * one, ours included, "" when the Lease was released or is absent. */
	void (*new_leader)(void *arg, const char *identity);
	void *arg;
};

struct leader_opts {
	const char *namespace; /* of the Lease (a DNS-1123 label); required; copied */
	const char *name;      /* the Lease (a DNS-1123 subdomain); required; copied */
	/* Holder identity (copied, at most KUBE_HOLDER_MAX - 1 bytes). NULL or "": $POD_NAME when
	 * set and not empty, else "<hostname>_<16 random hex digits>". */
	const char *identity;
	int64_t lease_duration_ms; /* 0: LEADER_DEFAULT_LEASE_DURATION_MS; written rounded up to
	                            * whole seconds (leaseDurationSeconds) */
	int64_t renew_deadline_ms; /* 0: LEADER_DEFAULT_RENEW_DEADLINE_MS */
	int64_t retry_period_ms;   /* 0: LEADER_DEFAULT_RETRY_PERIOD_MS */
	/* Readings of "now" (borrowed; must outlive the elector). NULL: the real clock. The
	 * elector's thread waits in real time for the intervals this clock gives, so a virtual
	 * clock is for leader_step() only. */
	struct ps_clock *clock;
	bool quiet; /* log nothing (tests) */
};

/* What the elector knows, for /readyz and /metrics. */
struct leader_status {
	bool leading;                 /* we hold the Lease (between started and stopped_leading) */
	bool known;                   /* a round has completed: <holder> is what the API said */
	char holder[KUBE_HOLDER_MAX]; /* the holder last observed; "" for none */
	uint64_t acquisitions;        /* times this elector became the leader */
	uint64_t losses;              /* times it stopped leading (a release on stop included) */
	uint64_t renewals;            /* successful renewals while leading */
	uint64_t failures;            /* rounds that ended in an error other than a 409 */
	uint64_t conflicts;           /* 409s (AlreadyExists, Conflict) */
};

struct leader;

/* Returns in <*out> an owned elector on <store> (copied; its arg is borrowed and must outlive
 * the elector) with <cb> (copied; NULL: none) and <opts>. Checks the options like the config
 * does: names, positive durations, leaseDuration > renewDeadline > 1.2 x retryPeriod. Returns
 * PS_OK, PS_EINVAL (with <diag> naming the option) or PS_ENOMEM. Starts nothing. */
PS_MUST_CHECK enum ps_err leader_new(const struct leader_opts *opts,
                                     const struct leader_store_ops *store,
                                     const struct leader_callbacks *cb, struct leader **out,
                                     struct ps_diag *diag);

/* Same as leader_new with the Kubernetes store: Lease calls through a kube_client of its own on
 * <kcfg> (borrowed, shared; must outlive the elector), created on the elector's thread at its
 * first call, with the elector's cancel token and no client-side rate limit (the elector's few
 * requests must never queue behind the workers'). The release on stop goes through a second
 * client that the fired token does not abort, bounded by its deadline. <opts->clock> must be
 * the real clock (NULL). */
PS_MUST_CHECK enum ps_err leader_new_kube(struct kcfg *kcfg, const struct leader_opts *opts,
                                          const struct leader_callbacks *cb, struct leader **out,
                                          struct ps_diag *diag);

/* Starts the elector's thread. Call rt_signals_start() first (the thread inherits the blocked
 * signals, and so do the workers a started_leading callback may create). Returns PS_OK,
 * PS_ESTATE (already started, or stopped) or PS_EIO (no thread), with <diag>. */
PS_MUST_CHECK enum ps_err leader_start(struct leader *le, struct ps_diag *diag);

/* Stops the elector: fires its cancel token (aborting a request in flight), wakes the thread
 * and joins it. Before the thread ends, if it leads: stopped_leading, then, with <release>, the
 * release of the Lease (bounded by min(renew deadline, LEADER_RELEASE_MAX_MS)). Without
 * <release> the Lease is left to expire (what a crash does). Idempotent; a no-op when the
 * thread never started. Not from a callback. */
void leader_stop(struct leader *le, bool release);

/* Frees <le> (NULL allowed), calling leader_stop(le, false) first if needed. */
void leader_free(struct leader *le);

/* The holder identity this elector writes, borrowed from <le> (valid until leader_free). */
const char *leader_identity(const struct leader *le);

/* Copies the elector's state into <out>. Any thread. */
void leader_status(struct leader *le, struct leader_status *out);

/* True while this replica leads. Any thread. */
bool leader_is_leader(struct leader *le);

/* Runs one round of the state machine at the clock's now (loss check, acquire or renew,
 * callbacks) and returns the monotonic time of the clock at which the next round is due.
 * Only without the thread (never after leader_start). */
int64_t leader_step(struct leader *le);

/* Ends by hand what leader_stop ends for the thread: if leading, stopped_leading, then with
 * <release> the release of the Lease. Only without the thread. */
void leader_finish(struct leader *le, bool release);

/* Writes the default identity into <buf> (<size> bytes): $POD_NAME when set and not empty,
 * else "<hostname>_<16 random hex digits>". Returns <buf>. */
char *leader_default_identity(char *buf, size_t size);

#endif
