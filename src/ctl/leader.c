/* leader.c -- leader election on a coordination.k8s.io/v1 Lease (client-go's rules, leader.h).
 *
 * DESIGN
 * One struct leader per process, one thread (leader_start). The state machine lives in
 * step(): each round reads "now" from the elector's clock once, checks the renew deadline,
 * then tries to acquire or renew (try_round) and returns when the next round is due. The
 * fields it works on (<leading>, <observed>, <observed_mono>, <renew_ok_mono>, <reported>,
 * <last_err>) belong to the elector's thread alone (or to leader_step's caller when there is
 * no thread); nothing else reads them. What other threads may read is mirrored into <st>
 * under <lock>.
 *
 * Shared with the controlling thread, under <lock>: <stop>, <release>, <st>. <wake> is a
 * CLOCK_MONOTONIC condvar under <lock>, signalled by leader_stop(). <stopping> is an atomic
 * copy of <stop> that a round reads before each write, so that no Lease write starts once a
 * stop was asked for. <cancel> (an http_cancel, thread-safe by itself) is fired by
 * leader_stop() and aborts a Kubernetes request in flight at once.
 *
 * Time: expiry and deadlines are monotonic readings of the elector's clock. <observed_mono>
 * is when we last saw the Lease change (any field, resourceVersion included): another holder's
 * Lease expires <observed.duration_s> after it. <renew_ok_mono> is the START of our last
 * successful write: we lose at <renew_ok_mono> + renew deadline, and every call of a round is
 * bounded by that instant (store set_deadline), so a hung request cannot stretch our term.
 * A follower sees our write no earlier than we sent it, so its expiry (observed + lease
 * duration) comes at least (lease duration - renew deadline) after our loss, wall clocks
 * notwithstanding. The thread's waits are real-time condvar waits for the interval the clock
 * gives; leader_step() lets tests run rounds on a virtual clock instead.
 *
 * Callbacks run on the elector's thread with no lock held. stopped_leading returns before any
 * further write: on a loss, step() returns right after it; on stop, the release comes after
 * it. Order on acquiring: new_leader(us), then started_leading; on losing: stopped_leading,
 * then new_leader(other) when another holder is known.
 *
 * Invariants: <st.leading> == <leading> outside a callback; the thread exits only after
 * <stop> was seen, having called stopped_leading if it was leading.
 */
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>

#include "http.h"
#include "leader.h"
#include "ps_alloc.h"
#include "ps_log.h"

/* client-go's JitterFactor: renewDeadline must exceed 1.2 x retryPeriod. */
#define LEADER_JITTER_FACTOR 1.2

/* ---- the Kubernetes store ---- */

struct kstore {
	struct kcfg *kcfg;          /* borrowed, shared */
	struct http_cancel *cancel; /* borrowed from the elector */
	/* Elector thread only. */
	struct kube_client *c;    /* under <cancel>; created at the first call */
	struct kube_client *late; /* not under <cancel>: calls made after it fired (the release) */
	int64_t deadline_ms;      /* real monotonic ms; 0: none */
};

static enum ps_err ks_client(struct kstore *ks, struct kube_client **out, struct ps_diag *diag)
{
	bool late = http_cancel_fired(ks->cancel);
	struct kube_client **slot = late ? &ks->late : &ks->c;
	if (!*slot) {
		struct kube_client_opts o = {.cancel = late ? NULL : ks->cancel};
		enum ps_err err = kube_client_new(ks->kcfg, &o, slot, diag);
		if (err)
			return err;
	}
	kube_client_set_deadline(*slot, ks->deadline_ms);
	*out = *slot;
	return PS_OK;
}

static enum ps_err ks_get(void *arg, const char *namespace, const char *name,
                          struct kube_lease *out, struct ps_diag *diag)
{
	struct kube_client *c;
	enum ps_err err = ks_client(arg, &c, diag);
	return err ? err : kube_lease_get(c, namespace, name, out, diag);
}

/* A 409 on a Lease write: says in <diag> which one (the Status reason tells them apart). */
static void ks_conflict(struct kube_client *c, struct ps_diag *diag)
{
	const struct kube_status *st = kube_client_last_status(c);
	if (strcmp(st->reason, "AlreadyExists") == 0)
		ps_diag_prefix(diag, "another replica created the Lease first");
	else if (strcmp(st->reason, "Conflict") == 0)
		ps_diag_prefix(diag, "the Lease changed since it was read");
}

static enum ps_err ks_create(void *arg, const struct kube_lease *l, struct kube_lease *out,
                             struct ps_diag *diag)
{
	struct kube_client *c;
	enum ps_err err = ks_client(arg, &c, diag);
	if (!err)
		err = kube_lease_create(c, l, out, diag);
	if (err == PS_ECONFLICT)
		ks_conflict(c, diag);
	return err;
}

static enum ps_err ks_update(void *arg, const struct kube_lease *l, struct kube_lease *out,
                             struct ps_diag *diag)
{
	struct kube_client *c;
	enum ps_err err = ks_client(arg, &c, diag);
	if (!err)
		err = kube_lease_update(c, l, out, diag);
	if (err == PS_ECONFLICT)
		ks_conflict(c, diag);
	return err;
}

static void ks_set_deadline(void *arg, int64_t deadline_mono_ms)
{
	struct kstore *ks = arg;
	ks->deadline_ms = deadline_mono_ms;
}

/* ---- the elector ---- */

struct leader {
	/* Immutable after leader_new. */
	char namespace[KUBE_LABEL_MAX + 1];
	char name[KUBE_NAME_MAX + 1];
	char identity[KUBE_HOLDER_MAX];
	int64_t lease_ms, renew_ms, retry_ms;
	int32_t lease_s; /* leaseDurationSeconds we write: lease_ms rounded up */
	struct ps_clock *clock;
	struct leader_store_ops store;
	struct leader_callbacks cb;
	bool quiet;
	struct kstore *ks;          /* owned; NULL with a store of the caller's */
	struct http_cancel *cancel; /* owned */

	/* Elector thread only (see DESIGN). */
	bool leading;
	bool have_observed;
	struct kube_lease observed; /* the Lease as last read or written */
	int64_t observed_mono;      /* when <observed> last changed */
	int64_t renew_ok_mono;      /* start of the last successful acquire or renew */
	bool have_reported;
	char reported[KUBE_HOLDER_MAX]; /* the holder last passed to new_leader */
	char last_err[PS_DIAG_MAX];     /* the last error logged, so a repeat is not */
	bool seen_valid;                /* this round read the Lease (or found none) */
	char seen[KUBE_HOLDER_MAX];     /* the holder it showed; "" for none */

	/* Controlling thread only. */
	pthread_t thread;
	bool started; /* thread created */
	bool joined;  /* and joined */

	pthread_mutex_t lock;
	pthread_cond_t wake;     /* CLOCK_MONOTONIC; signalled by leader_stop */
	bool stop;               /* protected by <lock> */
	bool release;            /* protected by <lock> */
	struct leader_status st; /* protected by <lock> */
	atomic_bool stopping;    /* == <stop>, read without the lock before each write */
};

static void lock(pthread_mutex_t *m)
{
	PS_ASSERT(pthread_mutex_lock(m) == 0);
}

static void unlock(pthread_mutex_t *m)
{
	PS_ASSERT(pthread_mutex_unlock(m) == 0);
}

static int64_t mono(struct leader *le)
{
	return ps_clock_mono_ms(le->clock);
}

char *leader_default_identity(char *buf, size_t size)
{
	const char *pod = getenv("POD_NAME");
	if (pod && *pod) {
		snprintf(buf, size, "%s", pod);
		return buf;
	}
	char host[256];
	if (gethostname(host, sizeof(host)) != 0 || !host[0])
		snprintf(host, sizeof(host), "prescale");
	host[sizeof(host) - 1] = '\0';
	uint64_t r = 0;
	if (getrandom(&r, sizeof(r), GRND_NONBLOCK) != (ssize_t)sizeof(r)) {
		/* No entropy yet (early boot): the time, the pid and an address, mixed. */
		struct timespec ts;
		clock_gettime(CLOCK_REALTIME, &ts);
		uint64_t s = (uint64_t)ts.tv_nsec ^ ((uint64_t)ts.tv_sec << 20) ^
		             ((uint64_t)getpid() << 40) ^ (uint64_t)(uintptr_t)buf;
		r = kube_rand_next(&s);
	}
	snprintf(buf, size, "%s_%016llx", host, (unsigned long long)r);
	return buf;
}

static enum ps_err check_opts(const struct leader_opts *o, struct ps_diag *diag)
{
	enum ps_err err = kube_validate_namespace(o->namespace, diag);
	if (!err)
		err = kube_validate_name("Lease name", o->name, diag);
	if (err) {
		ps_diag_prefix(diag, "leader election");
		return PS_EINVAL;
	}
	if (o->identity && strlen(o->identity) >= KUBE_HOLDER_MAX)
		return ps_diag_set(diag, PS_EINVAL,
		                   "leader election: identity longer than %d bytes",
		                   KUBE_HOLDER_MAX - 1);
	if (o->lease_duration_ms < 0 || o->renew_deadline_ms < 0 || o->retry_period_ms < 0)
		return ps_diag_set(diag, PS_EINVAL, "leader election: negative duration");
	return PS_OK;
}

enum ps_err leader_new(const struct leader_opts *opts, const struct leader_store_ops *store,
                       const struct leader_callbacks *cb, struct leader **out, struct ps_diag *diag)
{
	*out = NULL;
	if (!store || !store->get || !store->create || !store->update)
		return ps_diag_set(diag, PS_EINVAL, "leader election: incomplete Lease store");
	enum ps_err err = check_opts(opts, diag);
	if (err)
		return err;
	int64_t lease =
	    opts->lease_duration_ms ? opts->lease_duration_ms : LEADER_DEFAULT_LEASE_DURATION_MS;
	int64_t renew =
	    opts->renew_deadline_ms ? opts->renew_deadline_ms : LEADER_DEFAULT_RENEW_DEADLINE_MS;
	int64_t retry =
	    opts->retry_period_ms ? opts->retry_period_ms : LEADER_DEFAULT_RETRY_PERIOD_MS;
	if (lease <= renew)
		return ps_diag_set(diag, PS_EINVAL,
		                   "leader election: the lease duration (%lld ms) must be greater "
		                   "than the renew deadline (%lld ms)",
		                   (long long)lease, (long long)renew);
	if ((double)renew <= LEADER_JITTER_FACTOR * (double)retry)
		return ps_diag_set(diag, PS_EINVAL,
		                   "leader election: the renew deadline (%lld ms) must be greater "
		                   "than 1.2 x the retry period (%lld ms)",
		                   (long long)renew, (long long)retry);
	if (lease / 1000 >= INT32_MAX)
		return ps_diag_set(diag, PS_EINVAL, "leader election: lease duration too long");

	struct leader *le = ps_calloc(1, sizeof(*le));
	if (!le)
		return ps_diag_set(diag, PS_ENOMEM, "leader election: out of memory");
	snprintf(le->namespace, sizeof(le->namespace), "%s", opts->namespace);
	snprintf(le->name, sizeof(le->name), "%s", opts->name);
	if (opts->identity && *opts->identity)
		snprintf(le->identity, sizeof(le->identity), "%s", opts->identity);
	else
		leader_default_identity(le->identity, sizeof(le->identity));
	le->lease_ms = lease;
	le->renew_ms = renew;
	le->retry_ms = retry;
	le->lease_s = (int32_t)((lease + 999) / 1000);
	le->clock = opts->clock ? opts->clock : ps_clock_real();
	le->store = *store;
	if (cb)
		le->cb = *cb;
	le->quiet = opts->quiet;
	atomic_init(&le->stopping, false);

	if (http_cancel_new(&le->cancel) != PS_OK) {
		ps_free(le);
		return ps_diag_set(diag, PS_ENOMEM, "leader election: out of memory");
	}
	pthread_condattr_t ca;
	bool ok = pthread_mutex_init(&le->lock, NULL) == 0;
	if (ok && pthread_condattr_init(&ca) == 0) {
		ok = pthread_condattr_setclock(&ca, CLOCK_MONOTONIC) == 0 &&
		     pthread_cond_init(&le->wake, &ca) == 0;
		pthread_condattr_destroy(&ca);
		if (!ok)
			pthread_mutex_destroy(&le->lock);
	} else if (ok) {
		pthread_mutex_destroy(&le->lock);
		ok = false;
	}
	if (!ok) {
		http_cancel_free(le->cancel);
		ps_free(le);
		return ps_diag_set(diag, PS_ENOMEM, "leader election: cannot create a lock");
	}
	*out = le;
	return PS_OK;
}

enum ps_err leader_new_kube(struct kcfg *kcfg, const struct leader_opts *opts,
                            const struct leader_callbacks *cb, struct leader **out,
                            struct ps_diag *diag)
{
	*out = NULL;
	if (opts->clock && opts->clock != ps_clock_real())
		return ps_diag_set(diag, PS_EINVAL,
		                   "leader election: the Kubernetes store needs the real clock");
	struct kstore *ks = ps_calloc(1, sizeof(*ks));
	if (!ks)
		return ps_diag_set(diag, PS_ENOMEM, "leader election: out of memory");
	ks->kcfg = kcfg;
	struct leader_store_ops ops = {.get = ks_get,
	                               .create = ks_create,
	                               .update = ks_update,
	                               .set_deadline = ks_set_deadline,
	                               .arg = ks};
	struct leader *le;
	enum ps_err err = leader_new(opts, &ops, cb, &le, diag);
	if (err) {
		ps_free(ks);
		return err;
	}
	ks->cancel = le->cancel;
	le->ks = ks;
	*out = le;
	return PS_OK;
}

const char *leader_identity(const struct leader *le)
{
	return le->identity;
}

void leader_status(struct leader *le, struct leader_status *out)
{
	lock(&le->lock);
	*out = le->st;
	unlock(&le->lock);
}

bool leader_is_leader(struct leader *le)
{
	lock(&le->lock);
	bool l = le->st.leading;
	unlock(&le->lock);
	return l;
}

/* ---- logging ---- */

static void log_event(struct leader *le, enum ps_log_level level, const char *msg, const char *key,
                      const char *value)
{
	if (le->quiet)
		return;
	char lease[KUBE_LABEL_MAX + KUBE_NAME_MAX + 2];
	snprintf(lease, sizeof(lease), "%s/%s", le->namespace, le->name);
	ps_log(level, msg, "lease", lease, "identity", le->identity, key, value, NULL);
}

/* Logs a failed round once per distinct message (a follower retrying against an API server
 * that is down would otherwise log every retry period). */
static void log_failure(struct leader *le, const char *what, const struct ps_diag *d)
{
	if (strcmp(le->last_err, ps_diag_msg(d)) == 0)
		return;
	snprintf(le->last_err, sizeof(le->last_err), "%s", ps_diag_msg(d));
	log_event(le, le->leading ? PS_LOG_WARN : PS_LOG_INFO, what, "error", ps_diag_msg(d));
}

/* ---- the state machine (elector thread) ---- */

static bool lease_changed(const struct kube_lease *a, const struct kube_lease *b)
{
	return strcmp(a->resource_version, b->resource_version) != 0 ||
	       strcmp(a->holder, b->holder) != 0 || a->duration_s != b->duration_s ||
	       a->has_acquire_time != b->has_acquire_time || a->acquire_ms != b->acquire_ms ||
	       a->has_renew_time != b->has_renew_time || a->renew_ms != b->renew_ms ||
	       a->transitions != b->transitions;
}

/* Reports <holder> to new_leader when it differs from the last one reported. */
static void note_holder(struct leader *le, const char *holder)
{
	lock(&le->lock);
	snprintf(le->st.holder, sizeof(le->st.holder), "%s", holder);
	le->st.known = true;
	unlock(&le->lock);
	if (le->have_reported && strcmp(le->reported, holder) == 0)
		return;
	le->have_reported = true;
	snprintf(le->reported, sizeof(le->reported), "%s", holder);
	if (strcmp(holder, le->identity) != 0)
		log_event(le, PS_LOG_INFO, "leader election: new leader", "holder",
		          holder[0] ? holder : "(none)");
	if (le->cb.new_leader)
		le->cb.new_leader(le->cb.arg, holder);
}

/* Records <l>, read or written at <now>: a change restarts its expiry. */
static void observe(struct leader *le, const struct kube_lease *l, int64_t now)
{
	if (!le->have_observed || lease_changed(&le->observed, l)) {
		le->observed = *l;
		le->observed_mono = now;
		le->have_observed = true;
	}
}

static bool held_by_other(const struct leader *le)
{
	return le->have_observed && le->observed.holder[0] &&
	       strcmp(le->observed.holder, le->identity) != 0;
}

/* When the observed Lease of another holder expires (by our clock). */
static int64_t expiry(const struct leader *le)
{
	return le->observed_mono + (int64_t)le->observed.duration_s * 1000;
}

enum round {
	ROUND_LEADER,     /* we hold the Lease, just written */
	ROUND_NOT_LEADER, /* held by another and valid, or a 409: not leader this round */
	ROUND_ERROR,      /* the API could not tell: retry */
};

static void count(struct leader *le, uint64_t *counter)
{
	lock(&le->lock);
	(*counter)++;
	unlock(&le->lock);
}

/* Writes <want> (create or update); folds the answer into our state. */
static enum round write_lease(struct leader *le, bool create, const struct kube_lease *want,
                              struct ps_diag *d)
{
	if (atomic_load(&le->stopping)) {
		ps_diag_set(d, PS_ECANCELED, "leader election: stopping");
		return ROUND_ERROR;
	}
	struct kube_lease got;
	enum ps_err err = create ? le->store.create(le->store.arg, want, &got, d)
	                         : le->store.update(le->store.arg, want, &got, d);
	if (err == PS_ECONFLICT) {
		count(le, &le->st.conflicts);
		log_event(le, PS_LOG_DEBUG, "leader election: not leader this round", "reason",
		          ps_diag_msg(d));
		return ROUND_NOT_LEADER;
	}
	if (err)
		return ROUND_ERROR;
	observe(le, &got, mono(le));
	return ROUND_LEADER;
}

/* client-go's tryAcquireOrRenew at wall time <wall>. The holder a read showed goes to
 * <le->seen> ("" for no Lease; <le->seen_valid> false when nothing was read). */
static enum round try_round(struct leader *le, int64_t wall, struct ps_diag *d)
{
	struct kube_lease want;
	memset(&want, 0, sizeof(want));
	snprintf(want.namespace, sizeof(want.namespace), "%s", le->namespace);
	snprintf(want.name, sizeof(want.name), "%s", le->name);
	snprintf(want.holder, sizeof(want.holder), "%s", le->identity);
	want.duration_s = le->lease_s;
	want.has_acquire_time = want.has_renew_time = true;
	want.acquire_ms = want.renew_ms = wall;

	/* 1. The leader renews the Lease as it last wrote it, without reading it first. */
	if (le->leading) {
		struct kube_lease r = want;
		snprintf(r.resource_version, sizeof(r.resource_version), "%s",
		         le->observed.resource_version);
		r.has_acquire_time = le->observed.has_acquire_time;
		r.acquire_ms = le->observed.acquire_ms;
		r.transitions = le->observed.transitions;
		enum round res = write_lease(le, false, &r, d);
		if (res != ROUND_NOT_LEADER)
			return res;
		/* Someone wrote it since: read it and decide again. */
	}

	/* 2. Read it; create it when absent. */
	if (atomic_load(&le->stopping)) {
		ps_diag_set(d, PS_ECANCELED, "leader election: stopping");
		return ROUND_ERROR;
	}
	struct kube_lease cur;
	enum ps_err err = le->store.get(le->store.arg, le->namespace, le->name, &cur, d);
	if (err == PS_ENOTFOUND) {
		le->seen_valid = true;
		le->seen[0] = '\0';
		return write_lease(le, true, &want, d);
	}
	if (err)
		return ROUND_ERROR;
	observe(le, &cur, mono(le));
	le->seen_valid = true;
	snprintf(le->seen, sizeof(le->seen), "%s", cur.holder);

	/* 3. Held by another and not expired by our clock: not ours. */
	if (held_by_other(le) && mono(le) < expiry(le))
		return ROUND_NOT_LEADER;

	/* 4. Expired, released or ours: write it under the resourceVersion just read. */
	snprintf(want.resource_version, sizeof(want.resource_version), "%s", cur.resource_version);
	if (strcmp(cur.holder, le->identity) == 0) {
		want.has_acquire_time = cur.has_acquire_time;
		want.acquire_ms = cur.acquire_ms;
		want.transitions = cur.transitions;
	} else {
		want.transitions = cur.transitions < INT32_MAX ? cur.transitions + 1 : INT32_MAX;
	}
	return write_lease(le, false, &want, d);
}

static void set_leading(struct leader *le, bool leading)
{
	le->leading = leading;
	lock(&le->lock);
	le->st.leading = leading;
	if (leading)
		le->st.acquisitions++;
	else
		le->st.losses++;
	unlock(&le->lock);
}

/* Stops leading: stopped_leading runs (and the workers stop) before anything else. <why> is
 * NULL when the elector is being stopped. */
static void lose(struct leader *le, const char *why)
{
	set_leading(le, false);
	log_event(le, why ? PS_LOG_WARN : PS_LOG_INFO, "leader election: stopped leading", "reason",
	          why ? why : "stopping");
	if (le->cb.stopped_leading)
		le->cb.stopped_leading(le->cb.arg);
}

static int64_t min64(int64_t a, int64_t b)
{
	return a < b ? a : b;
}

/* One round; returns when the next is due (monotonic ms of the elector's clock). */
static int64_t step(struct leader *le)
{
	int64_t now = mono(le);
	if (le->leading && now >= le->renew_ok_mono + le->renew_ms) {
		lose(le, "no renewal within the renew deadline");
		return mono(le) + le->retry_ms;
	}
	/* A leader's calls end by its loss deadline; a follower's within a renew deadline. */
	int64_t deadline = le->leading ? le->renew_ok_mono + le->renew_ms : now + le->renew_ms;
	if (le->store.set_deadline)
		le->store.set_deadline(le->store.arg, deadline);
	struct ps_diag d;
	ps_diag_clear(&d);
	le->seen_valid = false;
	enum round res = try_round(le, ps_clock_wall_ms(le->clock), &d);
	if (le->store.set_deadline)
		le->store.set_deadline(le->store.arg, 0);
	int64_t after = mono(le);

	if (res == ROUND_LEADER) {
		le->last_err[0] = '\0';
		le->renew_ok_mono = now;
		if (le->leading) {
			count(le, &le->st.renewals);
		} else {
			if (le->seen_valid)
				note_holder(le, le->seen);
			note_holder(le, le->identity);
			set_leading(le, true);
			char tr[16];
			snprintf(tr, sizeof(tr), "%d", (int)le->observed.transitions);
			log_event(le, PS_LOG_INFO, "leader election: started leading",
			          "transitions", tr);
			if (le->cb.started_leading)
				le->cb.started_leading(le->cb.arg);
		}
		return now + le->retry_ms;
	}
	if (res == ROUND_ERROR) {
		if (!atomic_load(&le->stopping)) {
			count(le, &le->st.failures);
			log_failure(le,
			            le->leading ? "leader election: renew failed"
			                        : "leader election: cannot read or write the Lease",
			            &d);
		}
	} else if (!le->leading) {
		le->last_err[0] = '\0';
	}

	if (le->leading) {
		int64_t lose_at = le->renew_ok_mono + le->renew_ms;
		if (res == ROUND_NOT_LEADER && held_by_other(le)) {
			char why[KUBE_HOLDER_MAX + 32];
			snprintf(why, sizeof(why), "the Lease is held by %s", le->observed.holder);
			lose(le, why);
		} else if (after >= lose_at) {
			lose(le, "no renewal within the renew deadline");
		} else {
			if (le->seen_valid)
				note_holder(le, le->seen);
			return min64(after + le->retry_ms, lose_at);
		}
		/* Lost: the workers are stopped; only now may the new holder be reported. */
		if (le->seen_valid)
			note_holder(le, le->seen);
		return mono(le) + le->retry_ms;
	}
	if (le->seen_valid)
		note_holder(le, le->seen);
	/* Follower: every retry period, and right at the expiry of another holder's Lease. */
	int64_t next = after + le->retry_ms;
	if (res == ROUND_NOT_LEADER && held_by_other(le) && expiry(le) > after)
		next = min64(next, expiry(le));
	return next;
}

int64_t leader_step(struct leader *le)
{
	PS_ASSERT(!le->started);
	return step(le);
}

/* Gives the Lease up: holder "", leaseDurationSeconds 1, times now, transitions kept. Only when
 * it is ours as last observed; a 409 re-reads it once. */
static void release(struct leader *le)
{
	if (!le->have_observed || strcmp(le->observed.holder, le->identity) != 0)
		return;
	int64_t now = mono(le);
	if (le->store.set_deadline)
		le->store.set_deadline(le->store.arg,
		                       now + min64(le->renew_ms, LEADER_RELEASE_MAX_MS));
	struct ps_diag d;
	ps_diag_clear(&d);
	for (int attempt = 0; attempt < 2; attempt++) {
		struct kube_lease r = le->observed;
		r.holder[0] = '\0';
		r.duration_s = 1;
		r.has_acquire_time = r.has_renew_time = true;
		r.acquire_ms = r.renew_ms = ps_clock_wall_ms(le->clock);
		struct kube_lease got;
		enum ps_err err = le->store.update(le->store.arg, &r, &got, &d);
		if (!err) {
			observe(le, &got, mono(le));
			log_event(le, PS_LOG_INFO, "leader election: released the lease", NULL,
			          NULL);
			note_holder(le, "");
			break;
		}
		if (err != PS_ECONFLICT) {
			log_event(le, PS_LOG_WARN, "leader election: cannot release the lease",
			          "error", ps_diag_msg(&d));
			break;
		}
		count(le, &le->st.conflicts);
		struct kube_lease cur;
		err = le->store.get(le->store.arg, le->namespace, le->name, &cur, &d);
		if (err) {
			if (err != PS_ENOTFOUND)
				log_event(le, PS_LOG_WARN,
				          "leader election: cannot release the lease", "error",
				          ps_diag_msg(&d));
			break;
		}
		observe(le, &cur, mono(le));
		if (strcmp(cur.holder, le->identity) != 0)
			break; /* not ours any more: nothing to give up */
	}
	if (le->store.set_deadline)
		le->store.set_deadline(le->store.arg, 0);
}

static void finish(struct leader *le, bool rel)
{
	if (le->leading)
		lose(le, NULL);
	if (rel)
		release(le);
}

void leader_finish(struct leader *le, bool rel)
{
	PS_ASSERT(!le->started);
	finish(le, rel);
}

/* ---- the thread ---- */

/* Waits until the elector's clock reads <due> or a stop; returns true on a stop. */
static bool wait_until(struct leader *le, int64_t due)
{
	lock(&le->lock);
	while (!le->stop) {
		int64_t left = due - mono(le);
		if (left <= 0)
			break;
		struct timespec ts;
		PS_ASSERT(clock_gettime(CLOCK_MONOTONIC, &ts) == 0);
		int64_t at = (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000 + left;
		ts.tv_sec = (time_t)(at / 1000);
		ts.tv_nsec = (long)(at % 1000) * 1000000L;
		int rc = pthread_cond_timedwait(&le->wake, &le->lock, &ts);
		PS_ASSERT(rc == 0 || rc == ETIMEDOUT);
	}
	bool stop = le->stop;
	unlock(&le->lock);
	return stop;
}

static void *leader_main(void *arg)
{
	struct leader *le = arg;
	while (!atomic_load(&le->stopping) && !wait_until(le, step(le)))
		;
	lock(&le->lock);
	bool rel = le->release;
	unlock(&le->lock);
	finish(le, rel);
	return NULL;
}

enum ps_err leader_start(struct leader *le, struct ps_diag *diag)
{
	lock(&le->lock);
	bool stopped = le->stop;
	unlock(&le->lock);
	if (le->started || stopped)
		return ps_diag_set(diag, PS_ESTATE, "leader election: already started or stopped");
	int rc = pthread_create(&le->thread, NULL, leader_main, le);
	if (rc != 0)
		return ps_diag_set(diag, PS_EIO, "leader election: cannot create its thread: %s",
		                   strerror(rc));
	le->started = true;
	return PS_OK;
}

void leader_stop(struct leader *le, bool rel)
{
	lock(&le->lock);
	if (!le->stop) {
		le->stop = true;
		le->release = rel;
	}
	atomic_store(&le->stopping, true);
	PS_ASSERT(pthread_cond_signal(&le->wake) == 0);
	unlock(&le->lock);
	http_cancel_fire(le->cancel);
	if (le->started && !le->joined) {
		PS_ASSERT(pthread_join(le->thread, NULL) == 0);
		le->joined = true;
	}
}

void leader_free(struct leader *le)
{
	if (!le)
		return;
	if (le->started)
		leader_stop(le, false);
	if (le->ks) {
		kube_client_free(le->ks->c);
		kube_client_free(le->ks->late);
		ps_free(le->ks);
	}
	http_cancel_free(le->cancel);
	pthread_cond_destroy(&le->wake);
	pthread_mutex_destroy(&le->lock);
	ps_free(le);
}
