/* test_leader.c -- leader election: the state machine on an in-process Lease store with a
 * virtual clock, two electors on threads, and two electors against the fake API server over TLS.
 *
 * DESIGN
 * The in-process store (struct fstore) keeps one Lease with an etcd-like resourceVersion
 * counter: a create of an existing Lease is PS_ECONFLICT (AlreadyExists), an update with a
 * stale resourceVersion is PS_ECONFLICT (Conflict). It can fail calls, let "another replica"
 * write just before our next write (the 409 races), and records every call and every callback
 * as one line ("A:update:A", "A:stopped") so a test compares whole sequences. The state
 * machine tests drive leader_step() on a virtual clock, so every figure is exact; the bodies
 * the elector writes are compared with the Lease fixtures of ../shared/fixtures/kubernetes
 * (create, renew, takeover, release), whose times and resourceVersions the scenarios reproduce.
 *
 * The live scenarios start tests/fakeapi/fake_apiserver.py (own process group,
 * PR_SET_PDEATHSIG, stdin pipe, atexit() kill: it never outlives the test), give each elector
 * its own user and token, and let the leader "act" through a worker thread that PATCHes a
 * Deployment's scale every 100 ms with its own client and cancel token (what the runtime's
 * workers do); stopped_leading fires that token and joins the worker. The assertions come from
 * the fake's request log: which user wrote, when (unixTime + durationMs), and the holder of
 * every Lease write. The measured takeover times are printed.
 *
 * Each scenario is a function returning NULL or its first problem, so the ThreadSanitizer
 * build runs them from its own main() (Criterion cannot start under TSan, see test_runtime.c).
 */
#include <arpa/inet.h>
#include <cjson/cJSON.h>
#include <criterion/criterion.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "../support/scenario.h"
#include "http.h"
#include "kube.h"
#include "leader.h"
#include "ps_alloc.h"
#include "ps_clock.h"
#include "ps_log.h"

/* ---- scenario plumbing ---- */

static char problem[2048];

#define CHECK(cond, ...)                                                                           \
	do {                                                                                       \
		if (!(cond)) {                                                                     \
			int n_ = snprintf(problem, sizeof(problem), "line %d: ", __LINE__);        \
			snprintf(problem + n_, sizeof(problem) - (size_t)n_, __VA_ARGS__);         \
			return problem;                                                            \
		}                                                                                  \
	} while (0)

/* Runs <call> (a scenario helper returning a problem) and returns its problem, if any. */
#define TRY(call)                                                                                  \
	do {                                                                                       \
		const char *p_ = (call);                                                           \
		if (p_)                                                                            \
			return p_;                                                                 \
	} while (0)

static int64_t mono_ms(void)
{
	return ps_clock_mono_ms(ps_clock_real());
}

static void sleep_ms(int64_t ms)
{
	struct timespec ts = {.tv_sec = (time_t)(ms / 1000),
	                      .tv_nsec = (long)(ms % 1000) * 1000000L};
	while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
		;
}

/* 2026-01-01T00:00:00Z, the fixtures' epoch. */
#define T0 INT64_C(1767225600000)

#define FIXTURES PS_SHARED_DIR "/fixtures/kubernetes/"
#define ID_OLD "autoscaler-7d9f-xk2p_4f0c" /* the holder of the fixtures' first term */
#define ID_NEW "autoscaler-5b8c-zz91_a1b2" /* the replica that takes over */

static char *slurp(const char *path)
{
	FILE *f = fopen(path, "rb");
	if (!f)
		return NULL;
	size_t cap = 4096, n = 0;
	char *s = malloc(cap);
	size_t got;
	while (s && (got = fread(s + n, 1, cap - n - 1, f)) > 0) {
		n += got;
		if (cap - n - 1 == 0) {
			char *t = realloc(s, cap *= 2);
			if (!t)
				free(s);
			s = t;
		}
	}
	fclose(f);
	if (s)
		s[n] = '\0';
	return s;
}

/* The Lease of fixture <file>. */
static const char *fixture_lease(const char *file, struct kube_lease *out)
{
	char path[512];
	snprintf(path, sizeof(path), FIXTURES "%s", file);
	char *text = slurp(path);
	CHECK(text, "cannot read %s", path);
	struct ps_diag d;
	ps_diag_clear(&d);
	enum ps_err err = kube_lease_parse(text, strlen(text), out, &d);
	free(text);
	CHECK(err == PS_OK, "%s: %s", file, d.msg);
	return NULL;
}

/* The body kube_lease_create/update would send for <l> equals fixture <file> as JSON. */
static const char *body_is_fixture(const struct kube_lease *l, bool update, const char *file)
{
	struct ps_buf b;
	ps_buf_init(&b, 1 << 16);
	CHECK(kube_lease_body(&b, l, update) == PS_OK, "kube_lease_body");
	char path[512];
	snprintf(path, sizeof(path), FIXTURES "%s", file);
	char *text = slurp(path);
	CHECK(text, "cannot read %s", path);
	cJSON *want = cJSON_Parse(text);
	cJSON *got = cJSON_Parse(ps_buf_cstr(&b));
	bool same = want && got && cJSON_Compare(want, got, true);
	static char shown[1024];
	snprintf(shown, sizeof(shown), "%s", ps_buf_cstr(&b));
	cJSON_Delete(want);
	cJSON_Delete(got);
	free(text);
	ps_buf_release(&b);
	CHECK(same, "the body differs from %s: %s", file, shown);
	return NULL;
}

/* ---- the in-process Lease store ---- */

#define FS_MAX_EVENTS 1024

struct fstore {
	pthread_mutex_t lock;
	struct ps_clock *clock;
	bool exists;
	struct kube_lease lease; /* the stored Lease when <exists> */
	long rv;                 /* the last resourceVersion handed out */
	enum ps_err fail;        /* != PS_OK: calls fail with it ... */
	int fail_count;          /* ... this many more times (< 0: until cleared) */
	bool steal;              /* before the next write, <steal_holder> writes the Lease */
	char steal_holder[64];
	int64_t deadline; /* what the elector's last set_deadline said */
	size_t n_events;
	char events[FS_MAX_EVENTS][128];
	int64_t event_mono[FS_MAX_EVENTS];
	int64_t event_deadline[FS_MAX_EVENTS]; /* the deadline in force at a store call */
	struct kube_lease last_write;          /* the last write that was sent */
};

static void fs_init(struct fstore *fs, struct ps_clock *clock)
{
	memset(fs, 0, sizeof(*fs));
	pthread_mutex_init(&fs->lock, NULL);
	fs->clock = clock;
	fs->rv = 100;
}

static void fs_release(struct fstore *fs)
{
	pthread_mutex_destroy(&fs->lock);
}

/* Appends an event line; <fs->lock> held. */
static void fs_event_locked(struct fstore *fs, const char *fmt, ...) PS_PRINTF(2, 3);
static void fs_event_locked(struct fstore *fs, const char *fmt, ...)
{
	if (fs->n_events >= FS_MAX_EVENTS)
		return;
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(fs->events[fs->n_events], sizeof(fs->events[0]), fmt, ap);
	va_end(ap);
	fs->event_mono[fs->n_events] = ps_clock_mono_ms(fs->clock);
	fs->event_deadline[fs->n_events] = fs->deadline;
	fs->n_events++;
}

static void fs_event(struct fstore *fs, const char *line)
{
	pthread_mutex_lock(&fs->lock);
	fs_event_locked(fs, "%s", line);
	pthread_mutex_unlock(&fs->lock);
}

/* The events from index <from> on, joined by spaces (a static buffer). */
static const char *fs_events(struct fstore *fs, size_t from)
{
	static char out[16384];
	out[0] = '\0';
	pthread_mutex_lock(&fs->lock);
	size_t len = 0;
	for (size_t i = from; i < fs->n_events && len + 130 < sizeof(out); i++)
		len += (size_t)snprintf(out + len, sizeof(out) - len, "%s%s", i > from ? " " : "",
		                        fs->events[i]);
	pthread_mutex_unlock(&fs->lock);
	return out;
}

static size_t fs_mark(struct fstore *fs)
{
	pthread_mutex_lock(&fs->lock);
	size_t n = fs->n_events;
	pthread_mutex_unlock(&fs->lock);
	return n;
}

/* Stores <l> as the Lease with a fresh resourceVersion; <fs->lock> held. */
static void fs_store_locked(struct fstore *fs, const struct kube_lease *l)
{
	fs->lease = *l;
	if (!fs->exists)
		snprintf(fs->lease.uid, sizeof(fs->lease.uid),
		         "3f1c2b9e-0000-4000-8000-000000000002");
	fs->exists = true;
	snprintf(fs->lease.resource_version, sizeof(fs->lease.resource_version), "%ld", ++fs->rv);
}

/* Seeds the store with <l> as is (its resourceVersion kept). */
static void fs_seed(struct fstore *fs, const struct kube_lease *l)
{
	pthread_mutex_lock(&fs->lock);
	fs->lease = *l;
	fs->exists = true;
	fs->rv = strtol(l->resource_version, NULL, 10);
	pthread_mutex_unlock(&fs->lock);
}

/* Another replica renews or takes the Lease: holder <holder>, renewTime now. */
static void fs_write_as(struct fstore *fs, const char *holder)
{
	pthread_mutex_lock(&fs->lock);
	struct kube_lease l = fs->lease;
	if (!fs->exists) {
		snprintf(l.namespace, sizeof(l.namespace), "autoscaler");
		snprintf(l.name, sizeof(l.name), "c-autoscaler-leader");
		l.duration_s = 15;
	}
	snprintf(l.holder, sizeof(l.holder), "%s", holder);
	l.has_renew_time = true;
	l.renew_ms = ps_clock_wall_ms(fs->clock);
	fs_store_locked(fs, &l);
	fs_event_locked(fs, "X:write:%s", holder);
	pthread_mutex_unlock(&fs->lock);
}

/* The stored holder, copied under the lock (a static buffer). */
static const char *fs_holder(struct fstore *fs)
{
	static char out[KUBE_HOLDER_MAX];
	pthread_mutex_lock(&fs->lock);
	snprintf(out, sizeof(out), "%s", fs->exists ? fs->lease.holder : "(absent)");
	pthread_mutex_unlock(&fs->lock);
	return out;
}

/* Fails the next <count> calls (< 0: every call until fs_fail(fs, PS_OK, 0)) with <err>. */
static void fs_fail(struct fstore *fs, enum ps_err err, int count)
{
	pthread_mutex_lock(&fs->lock);
	fs->fail = err;
	fs->fail_count = count;
	pthread_mutex_unlock(&fs->lock);
}

/* A call's injected failure, if any; <fs->lock> held. */
static enum ps_err fs_injected_locked(struct fstore *fs)
{
	if (fs->fail == PS_OK || fs->fail_count == 0)
		return PS_OK;
	if (fs->fail_count > 0)
		fs->fail_count--;
	return fs->fail;
}

/* One elector's view of the store: its events carry <who>. */
struct fview {
	struct fstore *fs;
	const char *who;
};

static enum ps_err fv_get(void *arg, const char *namespace, const char *name,
                          struct kube_lease *out, struct ps_diag *diag)
{
	struct fview *v = arg;
	struct fstore *fs = v->fs;
	pthread_mutex_lock(&fs->lock);
	enum ps_err err = fs_injected_locked(fs);
	if (!err && !fs->exists)
		err = ps_diag_set(diag, PS_ENOTFOUND, "leases \"%s\" not found", name);
	if (!err && (strcmp(namespace, fs->lease.namespace) || strcmp(name, fs->lease.name)))
		err = ps_diag_set(diag, PS_ENOTFOUND, "leases \"%s\" not found", name);
	if (!err)
		*out = fs->lease;
	else if (err != PS_ENOTFOUND)
		ps_diag_set(diag, err, "injected");
	fs_event_locked(fs, "%s:get%s%s", v->who, err ? ":" : "", err ? ps_err_name(err) : "");
	pthread_mutex_unlock(&fs->lock);
	return err;
}

/* Before a write: the injected failure, or another replica's write that makes it conflict. */
static enum ps_err fv_write_prologue_locked(struct fstore *fs, struct ps_diag *diag)
{
	enum ps_err err = fs_injected_locked(fs);
	if (err)
		return ps_diag_set(diag, err, "injected");
	if (fs->steal) {
		fs->steal = false;
		pthread_mutex_unlock(&fs->lock);
		fs_write_as(fs, fs->steal_holder);
		pthread_mutex_lock(&fs->lock);
	}
	return PS_OK;
}

static enum ps_err fv_create(void *arg, const struct kube_lease *l, struct kube_lease *out,
                             struct ps_diag *diag)
{
	struct fview *v = arg;
	struct fstore *fs = v->fs;
	pthread_mutex_lock(&fs->lock);
	fs->last_write = *l;
	enum ps_err err = fv_write_prologue_locked(fs, diag);
	if (!err && fs->exists)
		err = ps_diag_set(diag, PS_ECONFLICT, "leases \"%s\" already exists", l->name);
	if (!err && l->resource_version[0])
		err = ps_diag_set(diag, PS_EINVALID, "resourceVersion on create");
	if (!err) {
		fs_store_locked(fs, l);
		*out = fs->lease;
	}
	fs_event_locked(fs, "%s:create:%s", v->who, err ? ps_err_name(err) : l->holder);
	pthread_mutex_unlock(&fs->lock);
	return err;
}

static enum ps_err fv_update(void *arg, const struct kube_lease *l, struct kube_lease *out,
                             struct ps_diag *diag)
{
	struct fview *v = arg;
	struct fstore *fs = v->fs;
	pthread_mutex_lock(&fs->lock);
	fs->last_write = *l;
	enum ps_err err = fv_write_prologue_locked(fs, diag);
	if (!err && !fs->exists)
		err = ps_diag_set(diag, PS_ENOTFOUND, "leases \"%s\" not found", l->name);
	if (!err && strcmp(l->resource_version, fs->lease.resource_version) != 0)
		err = ps_diag_set(diag, PS_ECONFLICT, "the object has been modified");
	if (!err && l->duration_s <= 0)
		err = ps_diag_set(diag, PS_EINVALID, "leaseDurationSeconds must be > 0");
	if (!err) {
		fs_store_locked(fs, l);
		*out = fs->lease;
	}
	fs_event_locked(fs, "%s:update:%s", v->who, err ? ps_err_name(err) : l->holder);
	pthread_mutex_unlock(&fs->lock);
	return err;
}

static void fv_set_deadline(void *arg, int64_t deadline)
{
	struct fview *v = arg;
	pthread_mutex_lock(&v->fs->lock);
	v->fs->deadline = deadline;
	pthread_mutex_unlock(&v->fs->lock);
}

/* What the callbacks saw, per elector. */
struct cbctx {
	struct fstore *fs;
	const char *who;
	atomic_int started, stopped, news;
	_Atomic int64_t started_mono, stopped_mono; /* of the real clock */
	char last_new[KUBE_HOLDER_MAX];             /* elector thread only */
};

static void cb_started(void *arg)
{
	struct cbctx *c = arg;
	atomic_store(&c->started_mono, mono_ms());
	atomic_fetch_add(&c->started, 1);
	char line[64];
	snprintf(line, sizeof(line), "%s:started", c->who);
	fs_event(c->fs, line);
}

static void cb_stopped(void *arg)
{
	struct cbctx *c = arg;
	atomic_store(&c->stopped_mono, mono_ms());
	atomic_fetch_add(&c->stopped, 1);
	char line[64];
	snprintf(line, sizeof(line), "%s:stopped", c->who);
	fs_event(c->fs, line);
}

static void cb_new(void *arg, const char *identity)
{
	struct cbctx *c = arg;
	atomic_fetch_add(&c->news, 1);
	snprintf(c->last_new, sizeof(c->last_new), "%s", identity);
	char line[128];
	snprintf(line, sizeof(line), "%s:new:%s", c->who, identity[0] ? identity : "-");
	fs_event(c->fs, line);
}

/* An elector <who> with identity <identity> on <fs>; durations in ms (0: defaults). */
struct elector {
	struct fview view;
	struct cbctx cb;
	struct leader *le;
};

static const char *elector_new(struct elector *e, struct fstore *fs, const char *who,
                               const char *identity, struct ps_clock *clock, int64_t lease,
                               int64_t renew, int64_t retry)
{
	memset(e, 0, sizeof(*e));
	e->view = (struct fview){.fs = fs, .who = who};
	e->cb.fs = fs;
	e->cb.who = who;
	struct leader_store_ops ops = {.get = fv_get,
	                               .create = fv_create,
	                               .update = fv_update,
	                               .set_deadline = fv_set_deadline,
	                               .arg = &e->view};
	struct leader_callbacks cb = {.started_leading = cb_started,
	                              .stopped_leading = cb_stopped,
	                              .new_leader = cb_new,
	                              .arg = &e->cb};
	struct leader_opts o = {.namespace = "autoscaler",
	                        .name = "c-autoscaler-leader",
	                        .identity = identity,
	                        .lease_duration_ms = lease,
	                        .renew_deadline_ms = renew,
	                        .retry_period_ms = retry,
	                        .clock = clock,
	                        .quiet = true};
	struct ps_diag d;
	ps_diag_clear(&d);
	CHECK(leader_new(&o, &ops, &cb, &e->le, &d) == PS_OK, "leader_new: %s", d.msg);
	return NULL;
}

static bool leading(struct elector *e)
{
	return leader_is_leader(e->le);
}

/* ---- the state machine on a virtual clock ---- */

static const char *identity_and_options_scenario(void)
{
	struct leader_store_ops ops = {
	    .get = fv_get, .create = fv_create, .update = fv_update, .arg = NULL};
	struct leader *le = NULL;
	struct ps_diag d;
	struct leader_opts o = {.namespace = "autoscaler", .name = "c-autoscaler-leader"};

	setenv("POD_NAME", "prescale-6f7d9-abcde", 1);
	CHECK(leader_new(&o, &ops, NULL, &le, NULL) == PS_OK, "leader_new");
	CHECK(!strcmp(leader_identity(le), "prescale-6f7d9-abcde"), "POD_NAME: %s",
	      leader_identity(le));
	leader_free(le);

	unsetenv("POD_NAME");
	char host[256];
	CHECK(gethostname(host, sizeof(host)) == 0, "gethostname");
	char first[KUBE_HOLDER_MAX];
	CHECK(leader_new(&o, &ops, NULL, &le, NULL) == PS_OK, "leader_new");
	snprintf(first, sizeof(first), "%s", leader_identity(le));
	leader_free(le);
	size_t hl = strlen(host);
	CHECK(strlen(first) == hl + 17 && !strncmp(first, host, hl) && first[hl] == '_' &&
	          strspn(first + hl + 1, "0123456789abcdef") == 16,
	      "identity \"%s\" is not <hostname>_<16 hex digits>", first);
	CHECK(leader_new(&o, &ops, NULL, &le, NULL) == PS_OK, "leader_new");
	CHECK(strcmp(first, leader_identity(le)) != 0, "two electors drew the same identity");
	leader_free(le);

	/* client-go's checks, with the message naming the rule. */
	static const struct {
		const char *ns, *name;
		int64_t lease, renew, retry;
		const char *msg;
	} bad[] = {
	    {"autoscaler", "x", 10000, 10000, 2000, "greater than the renew deadline"},
	    {"autoscaler", "x", 0, 20000, 0, "greater than the renew deadline"},
	    {"autoscaler", "x", 15000, 2400, 2000, "1.2 x the retry period"},
	    {"autoscaler", "x", -1, 0, 0, "negative"},
	    {"Bad_NS", "x", 0, 0, 0, "namespace"},
	    {"autoscaler", NULL, 0, 0, 0, "Lease name"},
	    {"autoscaler", "UPPER", 0, 0, 0, "Lease name"},
	};
	for (size_t i = 0; i < PS_ARRAY_LEN(bad); i++) {
		struct leader_opts b = {.namespace = bad[i].ns,
		                        .name = bad[i].name,
		                        .lease_duration_ms = bad[i].lease,
		                        .renew_deadline_ms = bad[i].renew,
		                        .retry_period_ms = bad[i].retry};
		ps_diag_clear(&d);
		le = NULL;
		CHECK(leader_new(&b, &ops, NULL, &le, &d) == PS_EINVAL && !le, "case %zu accepted",
		      i);
		CHECK(strstr(d.msg, bad[i].msg), "case %zu: \"%s\" does not say \"%s\"", i, d.msg,
		      bad[i].msg);
	}
	return NULL;
}

static const char *acquire_and_renew_scenario(void)
{
	struct ps_clock clk;
	ps_clock_virtual_init(&clk, T0);
	struct fstore fs;
	fs_init(&fs, &clk);
	struct elector a;
	TRY(elector_new(&a, &fs, "A", ID_OLD, &clk, 0, 0, 0)); /* client-go's defaults */

	/* Absent: created with us as the holder; the body is the fixture's. */
	int64_t due = leader_step(a.le);
	CHECK(!strcmp(fs_events(&fs, 0), "A:get:ENOTFOUND A:create:" ID_OLD " A:new:-"
	                                 " A:new:" ID_OLD " A:started"),
	      "events: %s", fs_events(&fs, 0));
	TRY(body_is_fixture(&fs.last_write, false, "lease_create_body.json"));
	CHECK(leading(&a) && atomic_load(&a.cb.started) == 1, "not leading");
	CHECK(due == T0 + 2000, "next round at +%lld ms, want the 2 s retry period",
	      (long long)(due - T0));
	CHECK(!strcmp(a.cb.last_new, ID_OLD), "new_leader: %s", a.cb.last_new);

	/* Renewed every retry period, without a read: the resourceVersion of our own write. */
	for (int i = 1; i <= 5; i++) {
		ps_clock_virtual_advance(&clk, due - ps_clock_mono_ms(&clk));
		size_t m = fs_mark(&fs);
		char rv[KUBE_RV_MAX];
		snprintf(rv, sizeof(rv), "%s", fs.lease.resource_version);
		due = leader_step(a.le);
		CHECK(!strcmp(fs_events(&fs, m), "A:update:" ID_OLD), "renew %d: %s", i,
		      fs_events(&fs, m));
		CHECK(!strcmp(fs.last_write.resource_version, rv), "renew %d sent rv %s, want %s",
		      i, fs.last_write.resource_version, rv);
		CHECK(fs.last_write.renew_ms == T0 + 2000 * i, "renewTime +%lld",
		      (long long)(fs.last_write.renew_ms - T0));
		CHECK(fs.last_write.acquire_ms == T0 && fs.last_write.transitions == 0,
		      "acquireTime or leaseTransitions changed by a renew");
		CHECK(fs.last_write.duration_s == 15, "leaseDurationSeconds %d",
		      (int)fs.last_write.duration_s);
		/* The call was bounded by the loss deadline: the start of the previous
		 * successful write + the renew deadline. */
		CHECK(fs.event_deadline[m] == T0 + 2000 * (i - 1) + 10000, "deadline +%lld",
		      (long long)(fs.event_deadline[m] - T0));
		CHECK(due == T0 + 2000 * (i + 1), "renew %d: next at +%lld", i,
		      (long long)(due - T0));
	}
	struct leader_status st;
	leader_status(a.le, &st);
	CHECK(st.leading && st.known && st.renewals == 5 && st.acquisitions == 1 &&
	          st.losses == 0 && !strcmp(st.holder, ID_OLD),
	      "status: leading %d renewals %llu acquisitions %llu holder %s", st.leading,
	      (unsigned long long)st.renewals, (unsigned long long)st.acquisitions, st.holder);
	CHECK(atomic_load(&a.cb.started) == 1 && atomic_load(&a.cb.stopped) == 0,
	      "callbacks while renewing");
	leader_finish(a.le, false);
	CHECK(atomic_load(&a.cb.stopped) == 1, "leader_finish did not stop leading");
	leader_free(a.le);
	fs_release(&fs);
	return NULL;
}

static const char *renew_fixture_scenario(void)
{
	/* The fixture's Lease is ours (same identity): renewed at once, acquireTime and
	 * leaseTransitions kept, under the resourceVersion read: lease_update_renew_body.json. */
	struct ps_clock clk;
	ps_clock_virtual_init(&clk, T0 + 10000);
	struct fstore fs;
	fs_init(&fs, &clk);
	struct kube_lease seed;
	TRY(fixture_lease("lease_get_response.json", &seed));
	fs_seed(&fs, &seed);
	struct elector a;
	TRY(elector_new(&a, &fs, "A", ID_OLD, &clk, 0, 0, 0));
	(void)leader_step(a.le);
	CHECK(!strcmp(fs_events(&fs, 0), "A:get A:update:" ID_OLD " A:new:" ID_OLD " A:started"),
	      "events: %s", fs_events(&fs, 0));
	TRY(body_is_fixture(&fs.last_write, true, "lease_update_renew_body.json"));
	leader_finish(a.le, false);
	leader_free(a.le);
	fs_release(&fs);
	return NULL;
}

/* Another replica's Lease, renewTime <renew_wall>, leaseDurationSeconds <dur>: the elector
 * takes it over exactly <dur> s after it first saw it (its own clock), whatever renewTime
 * says, with the body of lease_update_takeover_body.json when <dur> is 15. */
static const char *takeover_case(int64_t renew_wall, int32_t dur)
{
	struct ps_clock clk;
	ps_clock_virtual_init(&clk, T0 + 45000);
	struct fstore fs;
	fs_init(&fs, &clk);
	struct kube_lease seed;
	TRY(fixture_lease("lease_get_response.json", &seed));
	snprintf(seed.resource_version, sizeof(seed.resource_version), "790");
	seed.renew_ms = renew_wall;
	seed.duration_s = dur;
	fs_seed(&fs, &seed);
	struct elector b;
	TRY(elector_new(&b, &fs, "B", ID_NEW, &clk, 0, 0, 0));

	int64_t seen = ps_clock_mono_ms(&clk), expiry = seen + dur * 1000;
	int64_t due = leader_step(b.le);
	CHECK(!strcmp(fs_events(&fs, 0), "B:get B:new:" ID_OLD), "first round: %s",
	      fs_events(&fs, 0));
	/* Rounds every retry period, and one right at the expiry; reads only until then. */
	int rounds = 0;
	while (due < expiry) {
		int64_t now = ps_clock_mono_ms(&clk);
		int64_t want = expiry - now < 2000 ? expiry - now : 2000;
		CHECK(due - now == want, "next round in %lld ms, want %lld", (long long)(due - now),
		      (long long)want);
		ps_clock_virtual_advance(&clk, due - now);
		size_t m = fs_mark(&fs);
		due = leader_step(b.le);
		CHECK(!strcmp(fs_events(&fs, m), "B:get"), "before the expiry: %s",
		      fs_events(&fs, m));
		CHECK(!leading(&b), "took over %lld ms early",
		      (long long)(expiry - ps_clock_mono_ms(&clk)));
		rounds++;
	}
	CHECK(rounds == (dur * 1000 - 1) / 2000, "%d rounds before the expiry", rounds);
	CHECK(due == expiry, "the round after the last one before expiry is at +%lld, want +%lld",
	      (long long)(due - seen), (long long)(expiry - seen));
	ps_clock_virtual_advance(&clk, due - ps_clock_mono_ms(&clk));
	size_t m = fs_mark(&fs);
	(void)leader_step(b.le);
	CHECK(!strcmp(fs_events(&fs, m), "B:get B:update:" ID_NEW " B:new:" ID_NEW " B:started"),
	      "at the expiry: %s", fs_events(&fs, m));
	CHECK(fs.last_write.transitions == 1 && fs.last_write.acquire_ms == T0 + 45000 + dur * 1000,
	      "takeover: transitions %d acquire +%lld", (int)fs.last_write.transitions,
	      (long long)(fs.last_write.acquire_ms - T0));
	if (dur == 15)
		TRY(body_is_fixture(&fs.last_write, true, "lease_update_takeover_body.json"));
	leader_finish(b.le, false);
	leader_free(b.le);
	fs_release(&fs);
	return NULL;
}

static const char *takeover_local_clock_scenario(void)
{
	/* renewTime far in the future (a fast clock), far in the past (a slow one, or an old
	 * Lease), and what it says in the fixture. */
	TRY(takeover_case(INT64_C(4102444800000), 15)); /* 2100-01-01 */
	TRY(takeover_case(INT64_C(946684800000), 15));  /* 2000-01-01 */
	TRY(takeover_case(T0 + 8123, 15));
	/* The holder's own leaseDurationSeconds counts, not ours. */
	TRY(takeover_case(T0 + 8123, 5));
	return NULL;
}

static const char *observed_change_restarts_expiry_scenario(void)
{
	struct ps_clock clk;
	ps_clock_virtual_init(&clk, T0);
	struct fstore fs;
	fs_init(&fs, &clk);
	fs_write_as(&fs, ID_OLD); /* the other replica holds it, 15 s */
	struct elector b;
	TRY(elector_new(&b, &fs, "B", ID_NEW, &clk, 0, 0, 0));
	(void)leader_step(b.le); /* seen at T0 */
	/* The holder renews at +9 s with renewTime unchanged (a stopped wall clock): only the
	 * resourceVersion changes. B sees it at its next read (+10 s): expiry at +25 s. */
	ps_clock_virtual_advance(&clk, 9000);
	pthread_mutex_lock(&fs.lock);
	struct kube_lease l = fs.lease;
	fs_store_locked(&fs, &l);
	pthread_mutex_unlock(&fs.lock);
	int64_t due = 0;
	for (int64_t t = 10000; t <= 24000; t += 2000) {
		ps_clock_virtual_advance(&clk, T0 + t - ps_clock_mono_ms(&clk));
		due = leader_step(b.le);
		CHECK(!leading(&b), "took over at +%lld, before +25 s", (long long)t);
	}
	CHECK(due == T0 + 25000, "the expiry round at +%lld, want +25000", (long long)(due - T0));
	ps_clock_virtual_advance(&clk, due - ps_clock_mono_ms(&clk));
	(void)leader_step(b.le);
	CHECK(leading(&b), "not leading at +25 s");
	leader_finish(b.le, false);
	leader_free(b.le);
	fs_release(&fs);
	return NULL;
}

static const char *released_lease_taken_at_once_scenario(void)
{
	struct ps_clock clk;
	ps_clock_virtual_init(&clk, T0 + 120000);
	struct fstore fs;
	fs_init(&fs, &clk);
	struct kube_lease seed;
	TRY(fixture_lease("lease_release_body.json", &seed));
	fs_seed(&fs, &seed);
	struct elector b;
	TRY(elector_new(&b, &fs, "B", ID_OLD, &clk, 0, 0, 0));
	(void)leader_step(b.le);
	CHECK(!strcmp(fs_events(&fs, 0), "B:get B:update:" ID_OLD " B:new:-"
	                                 " B:new:" ID_OLD " B:started"),
	      "events: %s", fs_events(&fs, 0));
	CHECK(fs.last_write.transitions == 2 && fs.last_write.duration_s == 15 &&
	          !strcmp(fs.last_write.resource_version, "801"),
	      "takeover of a released Lease: transitions %d duration %d rv %s",
	      (int)fs.last_write.transitions, (int)fs.last_write.duration_s,
	      fs.last_write.resource_version);
	leader_finish(b.le, false);
	leader_free(b.le);
	fs_release(&fs);
	return NULL;
}

static const char *conflicts_scenario(void)
{
	struct ps_clock clk;
	ps_clock_virtual_init(&clk, T0);
	struct fstore fs;
	fs_init(&fs, &clk);
	struct elector a;
	TRY(elector_new(&a, &fs, "A", ID_NEW, &clk, 0, 0, 0));

	/* 409 AlreadyExists: another replica created it between our read and our create. */
	fs.steal = true;
	snprintf(fs.steal_holder, sizeof(fs.steal_holder), "%s", ID_OLD);
	int64_t due = leader_step(a.le);
	CHECK(!strcmp(fs_events(&fs, 0), "A:get:ENOTFOUND X:write:" ID_OLD " A:create:ECONFLICT"
	                                 " A:new:-"),
	      "create race: %s", fs_events(&fs, 0));
	CHECK(!leading(&a) && atomic_load(&a.cb.started) == 0, "leader after a 409");
	CHECK(due == T0 + 2000, "next round +%lld", (long long)(due - T0));
	struct leader_status st;
	leader_status(a.le, &st);
	CHECK(st.conflicts == 1 && st.failures == 0, "conflicts %llu failures %llu",
	      (unsigned long long)st.conflicts, (unsigned long long)st.failures);
	ps_clock_virtual_advance(&clk, 2000);
	size_t m = fs_mark(&fs);
	(void)leader_step(a.le);
	CHECK(!strcmp(fs_events(&fs, m), "A:get A:new:" ID_OLD), "next round: %s",
	      fs_events(&fs, m));

	/* 409 Conflict: at the expiry, a third replica takes it between our read and our
	 * update; we are not leader, and its fresh write restarts the expiry. */
	ps_clock_virtual_advance(&clk, 15000);
	fs.steal = true;
	snprintf(fs.steal_holder, sizeof(fs.steal_holder), "third");
	m = fs_mark(&fs);
	due = leader_step(a.le);
	CHECK(!strcmp(fs_events(&fs, m), "A:get X:write:third A:update:ECONFLICT"),
	      "takeover race: %s", fs_events(&fs, m));
	CHECK(!leading(&a), "leader after a 409 Conflict");
	ps_clock_virtual_advance(&clk, due - ps_clock_mono_ms(&clk));
	m = fs_mark(&fs);
	(void)leader_step(a.le);
	CHECK(!strcmp(fs_events(&fs, m), "A:get A:new:third"), "after the race: %s",
	      fs_events(&fs, m));
	CHECK(!leading(&a), "took a Lease just renewed by another");
	leader_free(a.le);
	fs_release(&fs);
	return NULL;
}

static const char *loss_at_renew_deadline_scenario(void)
{
	struct ps_clock clk;
	ps_clock_virtual_init(&clk, T0);
	struct fstore fs;
	fs_init(&fs, &clk);
	struct elector a;
	TRY(elector_new(&a, &fs, "A", ID_OLD, &clk, 0, 0, 0));
	int64_t due = leader_step(a.le); /* acquired at +0 */
	ps_clock_virtual_advance(&clk, due - ps_clock_mono_ms(&clk));
	due = leader_step(a.le); /* renewed at +2 s: the loss deadline is +12 s */
	CHECK(leading(&a) && due == T0 + 4000, "renew at +2 s");

	/* Two failures inside the deadline change nothing. */
	fs_fail(&fs, PS_ESERVER, 2);
	for (int i = 0; i < 2; i++) {
		ps_clock_virtual_advance(&clk, due - ps_clock_mono_ms(&clk));
		due = leader_step(a.le);
	}
	ps_clock_virtual_advance(&clk, due - ps_clock_mono_ms(&clk));
	due = leader_step(a.le); /* +8 s: renewed; the deadline moves to +18 s */
	CHECK(leading(&a) && atomic_load(&a.cb.stopped) == 0, "lost after transient failures");
	CHECK(!strcmp(fs.events[fs.n_events - 1], "A:update:" ID_OLD), "renew at +8 s: %s",
	      fs.events[fs.n_events - 1]);

	/* The API server becomes unreachable: renews fail at +10, +12, +14, +16 s; at +18 s the
	 * elector stops leading without sending anything more. */
	fs_fail(&fs, PS_EUNAVAIL, -1);
	size_t m = fs_mark(&fs);
	int64_t lost_at = 0;
	for (int i = 0; i < 10 && !lost_at; i++) {
		ps_clock_virtual_advance(&clk, due - ps_clock_mono_ms(&clk));
		due = leader_step(a.le);
		if (!leading(&a))
			lost_at = ps_clock_mono_ms(&clk);
	}
	CHECK(lost_at == T0 + 18000, "lost at +%lld ms, want +18000 (the renew at +8 s + 10 s)",
	      (long long)(lost_at - T0));
	CHECK(!strcmp(fs_events(&fs, m), "A:update:EUNAVAIL A:update:EUNAVAIL A:update:EUNAVAIL"
	                                 " A:update:EUNAVAIL A:stopped"),
	      "around the loss: %s", fs_events(&fs, m));
	/* Each failed renew was bounded by the loss deadline. */
	for (size_t i = m; i < m + 4; i++)
		CHECK(fs.event_deadline[i] == T0 + 18000, "call %zu bounded by +%lld", i - m,
		      (long long)(fs.event_deadline[i] - T0));
	/* (A follower that saw the renew of +8 s at once may take over at +23 s at the
	 * earliest: 5 s after this leader stopped.) */

	/* The API comes back: the Lease still names us, so we lead again (its CAS keeps that
	 * safe), with a new term only after stopped_leading returned. */
	fs_fail(&fs, PS_OK, 0);
	m = fs_mark(&fs);
	ps_clock_virtual_advance(&clk, due - ps_clock_mono_ms(&clk));
	(void)leader_step(a.le);
	CHECK(!strcmp(fs_events(&fs, m), "A:get A:update:" ID_OLD " A:started"),
	      "after the outage: %s", fs_events(&fs, m));
	struct leader_status st;
	leader_status(a.le, &st);
	CHECK(st.acquisitions == 2 && st.losses == 1 && st.failures == 6,
	      "acquisitions %llu losses %llu failures %llu", (unsigned long long)st.acquisitions,
	      (unsigned long long)st.losses, (unsigned long long)st.failures);
	leader_finish(a.le, false);
	leader_free(a.le);
	fs_release(&fs);
	return NULL;
}

static const char *loss_to_another_holder_scenario(void)
{
	struct ps_clock clk;
	ps_clock_virtual_init(&clk, T0);
	struct fstore fs;
	fs_init(&fs, &clk);
	struct elector a;
	TRY(elector_new(&a, &fs, "A", ID_OLD, &clk, 0, 0, 0));
	int64_t due = leader_step(a.le);
	fs_write_as(&fs, "intruder"); /* forced over our head */
	ps_clock_virtual_advance(&clk, due - ps_clock_mono_ms(&clk));
	size_t m = fs_mark(&fs);
	due = leader_step(a.le);
	/* The renew meets a 409, the read shows the other holder: we stop at once, and the new
	 * leader is reported only after the workers stopped. */
	CHECK(!strcmp(fs_events(&fs, m), "A:update:ECONFLICT A:get A:stopped A:new:intruder"),
	      "events: %s", fs_events(&fs, m));
	CHECK(!leading(&a), "still leading");
	/* As a follower now, it waits for the intruder's Lease to expire. */
	m = fs_mark(&fs);
	ps_clock_virtual_advance(&clk, due - ps_clock_mono_ms(&clk));
	(void)leader_step(a.le);
	CHECK(!strcmp(fs_events(&fs, m), "A:get"), "follower: %s", fs_events(&fs, m));
	leader_free(a.le);
	fs_release(&fs);
	return NULL;
}

static const char *release_scenario(void)
{
	/* A holds the Lease of the takeover fixture (rv 800 once stored); a renew at 00:01:58
	 * makes it rv 801; the release at 00:02:00 is lease_release_body.json. */
	struct ps_clock clk;
	ps_clock_virtual_init(&clk, T0 + 118000);
	struct fstore fs;
	fs_init(&fs, &clk);
	struct kube_lease seed;
	TRY(fixture_lease("lease_update_takeover_body.json", &seed));
	snprintf(seed.resource_version, sizeof(seed.resource_version), "800");
	fs_seed(&fs, &seed);
	struct elector a, b;
	TRY(elector_new(&a, &fs, "A", ID_NEW, &clk, 0, 0, 0));
	TRY(elector_new(&b, &fs, "B", ID_OLD, &clk, 0, 0, 0));
	(void)leader_step(a.le);
	CHECK(leading(&a) && !strcmp(fs.lease.resource_version, "801"), "A leads at rv %s",
	      fs.lease.resource_version);
	(void)leader_step(b.le);
	CHECK(!leading(&b), "B leads too");

	ps_clock_virtual_advance(&clk, 2000);
	size_t m = fs_mark(&fs);
	leader_finish(a.le, true);
	CHECK(!strcmp(fs_events(&fs, m), "A:stopped A:update: A:new:-"), "release: %s",
	      fs_events(&fs, m));
	TRY(body_is_fixture(&fs.last_write, true, "lease_release_body.json"));

	/* B, which saw A's Lease 2 s ago (13 s before its expiry), takes it at once. */
	m = fs_mark(&fs);
	(void)leader_step(b.le);
	CHECK(!strcmp(fs_events(&fs, m), "B:get B:update:" ID_OLD " B:new:-"
	                                 " B:new:" ID_OLD " B:started"),
	      "takeover after the release: %s", fs_events(&fs, m));
	CHECK(fs.last_write.transitions == 2, "transitions %d", (int)fs.last_write.transitions);

	/* A release by a replica that no longer holds the Lease writes nothing. */
	struct elector c;
	TRY(elector_new(&c, &fs, "C", "c", &clk, 0, 0, 0));
	ps_clock_virtual_advance(&clk, 20000);
	fs_write_as(&fs, "");
	(void)leader_step(c.le); /* C takes the released Lease */
	fs_write_as(&fs, "intruder");
	m = fs_mark(&fs);
	leader_finish(c.le, true);
	CHECK(!strcmp(fs_events(&fs, m), "C:stopped C:update:ECONFLICT C:get"),
	      "release of a lost Lease: %s", fs_events(&fs, m));
	CHECK(!strcmp(fs.lease.holder, "intruder"), "holder %s", fs.lease.holder);
	leader_free(a.le);
	leader_free(b.le);
	leader_free(c.le);
	fs_release(&fs);
	return NULL;
}

/* ---- two electors on threads, real clock ---- */

static const char *wait_for(bool (*pred)(void *), void *arg, int64_t timeout_ms)
{
	int64_t end = mono_ms() + timeout_ms;
	while (!pred(arg)) {
		CHECK(mono_ms() < end, "condition not met within %lld ms", (long long)timeout_ms);
		sleep_ms(2);
	}
	return NULL;
}

static bool is_leading(void *arg)
{
	return leading(arg);
}

/* The body of threads_scenario, which owns <fs>, <a>, <b> and <c> and frees them whatever this
 * returns: a failed check must not leave an elector thread running on them. */
static const char *threads_body(struct fstore *fs, struct elector *a, struct elector *b,
                                struct elector *c)
{
	/* Lease 1 s, renew deadline 600 ms, retry 100 ms. */
	const int64_t lease = 1000, renew = 600, retry = 100;
	TRY(elector_new(a, fs, "A", "replica-a", NULL, lease, renew, retry));
	TRY(elector_new(b, fs, "B", "replica-b", NULL, lease, renew, retry));
	struct ps_diag d;
	CHECK(leader_start(a->le, &d) == PS_OK && leader_start(b->le, &d) == PS_OK, "start");
	CHECK(leader_start(a->le, &d) == PS_ESTATE, "started twice");

	/* Exactly one leads, for a second of renewals. */
	int64_t end = mono_ms() + 3000;
	while (!leading(a) && !leading(b)) {
		CHECK(mono_ms() < end, "nobody leads after 3 s");
		sleep_ms(2);
	}
	end = mono_ms() + 1000;
	while (mono_ms() < end) {
		CHECK(leading(a) != leading(b), "%s", leading(a) ? "both lead" : "none leads");
		sleep_ms(5);
	}
	struct elector *l = leading(a) ? a : b, *f = l == a ? b : a;
	CHECK(atomic_load(&f->cb.started) == 0, "the follower started leading");

	/* The leader dies without releasing: the follower takes over one lease duration after
	 * it last saw a renew (which came at most a retry period before the crash). */
	int64_t crash = mono_ms();
	leader_stop(l->le, false);
	CHECK(atomic_load(&l->cb.stopped) == 1, "stopped_leading on stop");
	TRY(wait_for(is_leading, f, lease + 2000));
	int64_t took = atomic_load(&f->cb.started_mono) - crash;
	printf("test_leader: takeover after a crash (in-process store): %lld ms "
	       "(lease %lld ms, retry %lld ms)\n",
	       (long long)took, (long long)lease, (long long)retry);
	CHECK(took >= lease - retry - 20 && took <= lease + retry + 400,
	      "took over %lld ms after the crash", (long long)took);
	CHECK(atomic_load(&l->cb.stopped_mono) <= atomic_load(&f->cb.started_mono),
	      "terms overlap");

	/* A new replica follows; the leader stops with a release: taken over at once. */
	TRY(elector_new(c, fs, "C", "replica-c", NULL, lease, renew, retry));
	CHECK(leader_start(c->le, &d) == PS_OK, "start");
	sleep_ms(300);
	CHECK(!leading(c), "the new replica leads");
	int64_t stop = mono_ms();
	leader_stop(f->le, true);
	const char *h = fs_holder(fs);
	CHECK(!strcmp(h, "replica-c") || !h[0], "holder after the release: %s", h);
	TRY(wait_for(is_leading, c, lease));
	took = atomic_load(&c->cb.started_mono) - stop;
	printf("test_leader: takeover after a release (in-process store): %lld ms\n",
	       (long long)took);
	CHECK(took <= retry + 300, "took over %lld ms after the release", (long long)took);
	CHECK(atomic_load(&f->cb.stopped_mono) <= atomic_load(&c->cb.started_mono),
	      "terms overlap");
	leader_stop(c->le, true);
	CHECK(!fs_holder(fs)[0], "not released: %s", fs_holder(fs));
	return NULL;
}

static const char *threads_scenario(void)
{
	struct fstore fs;
	fs_init(&fs, ps_clock_real());
	struct elector a, b, c;
	memset(&a, 0, sizeof(a));
	memset(&b, 0, sizeof(b));
	memset(&c, 0, sizeof(c));
	const char *p = threads_body(&fs, &a, &b, &c);
	leader_free(a.le);
	leader_free(b.le);
	leader_free(c.le);
	fs_release(&fs);
	return p;
}

/* ---- live: the fake API server over TLS ---- */

#define FAKE_SCRIPT PS_SOURCE_DIR "/tests/fakeapi/fake_apiserver.py"
#define READY_TIMEOUT_MS 30000
#define TOKEN_A "tok-replica-a-51c0"
#define TOKEN_B "tok-replica-b-9e2d"

struct fake {
	pid_t pid;
	int in_fd;
	char dir[64];
	char url[64];
	char admin_token[128];
	char *ca_pem;
	size_t ca_len;
	struct http_client *http;
};

static struct fake fk = {.in_fd = -1};

static void fake_stop(void)
{
	if (fk.in_fd >= 0) {
		close(fk.in_fd);
		fk.in_fd = -1;
	}
	if (fk.pid > 0) {
		kill(-fk.pid, SIGTERM);
		int64_t end = mono_ms() + 3000;
		bool reaped = false;
		while (!reaped && mono_ms() < end) {
			if (waitpid(fk.pid, NULL, WNOHANG) == fk.pid)
				reaped = true;
			else
				sleep_ms(10);
		}
		kill(-fk.pid, SIGKILL);
		if (!reaped)
			(void)waitpid(fk.pid, NULL, 0);
		fk.pid = 0;
	}
}

static void rm_tree(const char *path)
{
	struct stat st;
	if (lstat(path, &st) != 0)
		return;
	if (S_ISDIR(st.st_mode)) {
		DIR *dd = opendir(path);
		if (dd) {
			struct dirent *e;
			while ((e = readdir(dd))) {
				if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
					continue;
				char sub[1024];
				snprintf(sub, sizeof(sub), "%s/%s", path, e->d_name);
				rm_tree(sub);
			}
			closedir(dd);
		}
		(void)rmdir(path);
	} else {
		(void)unlink(path);
	}
}

static void fake_cleanup(void)
{
	fake_stop();
	if (fk.http) {
		http_client_free(fk.http);
		fk.http = NULL;
	}
	free(fk.ca_pem);
	fk.ca_pem = NULL;
	if (fk.dir[0]) {
		rm_tree(fk.dir);
		fk.dir[0] = '\0';
	}
}

/* Users A and B may get, create and update Leases in "prescale" and patch the scale of
 * shop/web; nothing else. */
static const char *fake_config =
    "{\"users\": ["
    " {\"name\": \"replica-a\", \"token\": \"" TOKEN_A "\", \"clientCert\": false},"
    " {\"name\": \"replica-b\", \"token\": \"" TOKEN_B "\", \"clientCert\": false}],"
    "\"rules\": ["
    " {\"users\": [\"replica-a\", \"replica-b\"], \"namespaces\": [\"prescale\"],"
    "  \"verbs\": [\"get\", \"create\", \"update\"], \"apiGroups\": [\"coordination.k8s.io\"],"
    "  \"resources\": [\"leases\"]},"
    " {\"users\": [\"replica-a\", \"replica-b\"], \"namespaces\": [\"shop\"],"
    "  \"verbs\": [\"get\", \"patch\"], \"apiGroups\": [\"apps\"],"
    "  \"resources\": [\"deployments/scale\"]}],"
    "\"objects\": ["
    " {\"apiVersion\": \"apps/v1\", \"kind\": \"Deployment\","
    "  \"metadata\": {\"name\": \"web\", \"namespace\": \"shop\"},"
    "  \"spec\": {\"replicas\": 3, \"selector\": {\"matchLabels\": {\"app\": \"web\"}},"
    "   \"template\": {\"metadata\": {\"labels\": {\"app\": \"web\"}},"
    "    \"spec\": {\"containers\": [{\"name\": \"app\", \"image\": \"web:1\"}]}}}}"
    "]}";

static const char *copy_str(char *dst, size_t size, const cJSON *obj, const char *key)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, key);
	CHECK(cJSON_IsString(v) && strlen(v->valuestring) < size, "ready line: no %s", key);
	snprintf(dst, size, "%s", v->valuestring);
	return NULL;
}

static const char *fake_start(const char *config)
{
	fake_cleanup();
	static bool registered;
	if (!registered) {
		atexit(fake_cleanup);
		registered = true;
	}
	snprintf(fk.dir, sizeof(fk.dir), "/tmp/prescale-leader-XXXXXX");
	CHECK(mkdtemp(fk.dir), "mkdtemp: %s", strerror(errno));
	char cfg[128], state[128];
	snprintf(cfg, sizeof(cfg), "%s/fake.json", fk.dir);
	snprintf(state, sizeof(state), "%s/state", fk.dir);
	FILE *f = fopen(cfg, "w");
	CHECK(f, "%s: %s", cfg, strerror(errno));
	fputs(config, f);
	CHECK(fclose(f) == 0, "fclose");

	int in[2], out[2];
	CHECK(pipe(in) == 0 && pipe(out) == 0, "pipe");
	pid_t pid = fork();
	CHECK(pid != -1, "fork: %s", strerror(errno));
	if (pid == 0) {
		setpgid(0, 0);
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		dup2(in[0], 0);
		dup2(out[1], 1);
		int devnull = open("/dev/null", O_WRONLY);
		if (devnull >= 0 && !getenv("LEADER_LIVE_VERBOSE"))
			dup2(devnull, 2);
		setenv("PS_SHARED_DIR", PS_SHARED_DIR, 1);
		execlp("python3", "python3", FAKE_SCRIPT, "--port", "0", "--config", cfg,
		       "--state-dir", state, "--exit-on-stdin-eof", "--timeout", "150",
		       (char *)NULL);
		_exit(127);
	}
	setpgid(pid, pid);
	fk.pid = pid;
	close(in[0]);
	close(out[1]);
	fk.in_fd = in[1];
	(void)fcntl(fk.in_fd, F_SETFD, FD_CLOEXEC);

	char line[16384];
	size_t len = 0;
	line[0] = '\0';
	int64_t end = mono_ms() + READY_TIMEOUT_MS;
	while (!strchr(line, '\n') && len < sizeof(line) - 1 && mono_ms() < end) {
		struct pollfd p = {.fd = out[0], .events = POLLIN};
		if (poll(&p, 1, 100) <= 0)
			continue;
		ssize_t n = read(out[0], line + len, sizeof(line) - 1 - len);
		if (n <= 0)
			break;
		len += (size_t)n;
		line[len] = '\0';
	}
	close(out[0]);
	cJSON *ready = cJSON_Parse(line);
	CHECK(ready, "the fake API server did not get ready: \"%s\"", line);
	char ca_path[512];
	const char *p = copy_str(fk.url, sizeof(fk.url), ready, "url");
	if (!p)
		p = copy_str(ca_path, sizeof(ca_path), ready, "ca");
	if (!p)
		p = copy_str(fk.admin_token, sizeof(fk.admin_token), ready, "adminToken");
	cJSON_Delete(ready);
	if (p)
		return p;
	fk.ca_pem = slurp(ca_path);
	CHECK(fk.ca_pem, "cannot read %s", ca_path);
	fk.ca_len = strlen(fk.ca_pem);
	CHECK(http_client_new(&fk.http, NULL) == PS_OK, "http_client_new");
	return NULL;
}

/* The control API: <method> <path> with <body> (may be NULL); *out the parsed answer. */
static const char *fake_call(const char *method, const char *path, const char *body, cJSON **out)
{
	char url[512];
	snprintf(url, sizeof(url), "%s%s", fk.url, path);
	struct http_tls tls = {.ca_pem = fk.ca_pem, .ca_len = fk.ca_len};
	struct http_request req = {.method = method,
	                           .url = url,
	                           .body = body,
	                           .body_len = body ? strlen(body) : 0,
	                           .content_type = body ? "application/json" : NULL,
	                           .bearer_token = fk.admin_token,
	                           .tls = &tls,
	                           .timeout_ms = 20000,
	                           .max_body = (size_t)64 << 20};
	struct http_response r;
	http_response_init(&r);
	struct ps_diag d;
	ps_diag_clear(&d);
	enum ps_err err = http_do(fk.http, &req, &r, NULL, &d);
	long status = r.status;
	cJSON *j = err ? NULL : cJSON_Parse(ps_buf_cstr(&r.body));
	http_response_release(&r);
	CHECK(!err, "%s %s: %s", method, path, d.msg);
	CHECK(status == 200 && j, "%s %s: %ld", method, path, status);
	if (out)
		*out = j;
	else
		cJSON_Delete(j);
	return NULL;
}

/* Waits until the request log stops growing (the fake logs a request just after its answer). */
static const char *log_settle(void)
{
	double last = -1;
	int64_t stable = mono_ms(), end = mono_ms() + 3000;
	while (mono_ms() < end) {
		cJSON *j;
		TRY(fake_call("GET", "/_fake/log?since=999999999", NULL, &j));
		double seq = cJSON_GetObjectItem(j, "lastSeq")->valuedouble;
		cJSON_Delete(j);
		if (seq != last) {
			last = seq;
			stable = mono_ms();
		} else if (mono_ms() - stable >= 150) {
			return NULL;
		}
		sleep_ms(20);
	}
	return NULL;
}

static struct kcfg *kubeconfig_for(const char *token)
{
	char path[256];
	snprintf(path, sizeof(path), "%s/kubeconfig-%s.yaml", fk.dir, token);
	FILE *f = fopen(path, "w");
	if (!f)
		return NULL;
	/* certificate-authority as a file: the fake's own CA. */
	char ca[256];
	snprintf(ca, sizeof(ca), "%s/ca.pem", fk.dir);
	FILE *c = fopen(ca, "w");
	if (c) {
		fputs(fk.ca_pem, c);
		fclose(c);
	}
	fprintf(
	    f,
	    "apiVersion: v1\nkind: Config\ncurrent-context: fake\n"
	    "clusters:\n- name: fake\n  cluster:\n    server: %s\n"
	    "    certificate-authority: %s\n"
	    "users:\n- name: u\n  user:\n    token: %s\n"
	    "contexts:\n- name: fake\n  context: {cluster: fake, user: u, namespace: prescale}\n",
	    fk.url, ca, token);
	fclose(f);
	struct kcfg *cfg = NULL;
	if (kcfg_load_kubeconfig(path, NULL, &cfg, NULL) != PS_OK)
		return NULL;
	return cfg;
}

/* A replica: an elector on the Kubernetes store plus, while it leads, one worker thread that
 * patches shop/web's scale every 100 ms through its own client (what the runtime does). */
struct replica {
	const char *name; /* identity and fake user */
	struct kcfg *kcfg;
	struct leader *le;
	pthread_mutex_t lock;
	bool worker_running;        /* protected by <lock>; elector thread changes it */
	pthread_t worker;           /* elector thread only */
	struct http_cancel *cancel; /* the worker's; fired by stopped_leading */
	atomic_int started, stopped, patches, patch_errors;
	_Atomic int64_t started_mono, stopped_mono;
};

static void *worker_main(void *arg)
{
	struct replica *r = arg;
	struct kube_client *c = NULL;
	struct kube_client_opts o = {.cancel = r->cancel, .timeout_ms = 5000, .max_attempts = 1};
	if (kube_client_new(r->kcfg, &o, &c, NULL) != PS_OK)
		return NULL;
	struct kube_ref web;
	if (kube_ref_from_kind(&web, "apps/v1", "Deployment", "shop", "web", NULL) != PS_OK) {
		kube_client_free(c);
		return NULL;
	}
	for (int32_t i = 0; !http_cancel_fired(r->cancel); i++) {
		enum ps_err err = kube_scale_patch(c, &web, 3 + i % 2, false, NULL, NULL);
		atomic_fetch_add(err ? &r->patch_errors : &r->patches, 1);
		for (int w = 0; w < 10 && !http_cancel_fired(r->cancel); w++)
			sleep_ms(10);
	}
	kube_client_free(c);
	return NULL;
}

static void replica_started(void *arg)
{
	struct replica *r = arg;
	atomic_store(&r->started_mono, mono_ms());
	atomic_fetch_add(&r->started, 1);
	if (http_cancel_new(&r->cancel) != PS_OK)
		return;
	pthread_mutex_lock(&r->lock);
	r->worker_running = pthread_create(&r->worker, NULL, worker_main, r) == 0;
	pthread_mutex_unlock(&r->lock);
}

/* Stops every worker before it returns: the contract of stopped_leading. */
static void replica_stopped(void *arg)
{
	struct replica *r = arg;
	pthread_mutex_lock(&r->lock);
	bool running = r->worker_running;
	r->worker_running = false;
	pthread_mutex_unlock(&r->lock);
	if (r->cancel)
		http_cancel_fire(r->cancel);
	if (running)
		pthread_join(r->worker, NULL);
	http_cancel_free(r->cancel);
	r->cancel = NULL;
	atomic_store(&r->stopped_mono, mono_ms());
	atomic_fetch_add(&r->stopped, 1);
}

#define LIVE_LEASE_MS 3000
#define LIVE_RENEW_MS 2000
#define LIVE_RETRY_MS 500

static const char *replica_start(struct replica *r, const char *name, const char *token)
{
	memset(r, 0, sizeof(*r));
	r->name = name;
	pthread_mutex_init(&r->lock, NULL);
	if (!r->kcfg)
		r->kcfg = kubeconfig_for(token);
	CHECK(r->kcfg, "kubeconfig for %s", name);
	struct leader_opts o = {.namespace = "prescale",
	                        .name = "prescale-leader",
	                        .identity = name,
	                        .lease_duration_ms = LIVE_LEASE_MS,
	                        .renew_deadline_ms = LIVE_RENEW_MS,
	                        .retry_period_ms = LIVE_RETRY_MS,
	                        .quiet = !getenv("LEADER_LIVE_VERBOSE")};
	struct leader_callbacks cb = {
	    .started_leading = replica_started, .stopped_leading = replica_stopped, .arg = r};
	struct ps_diag d;
	ps_diag_clear(&d);
	CHECK(leader_new_kube(r->kcfg, &o, &cb, &r->le, &d) == PS_OK, "%s", d.msg);
	CHECK(leader_start(r->le, &d) == PS_OK, "%s", d.msg);
	return NULL;
}

static void replica_free(struct replica *r)
{
	leader_free(r->le);
	r->le = NULL;
	kcfg_free(r->kcfg);
	r->kcfg = NULL;
	pthread_mutex_destroy(&r->lock);
}

static bool replica_leads(void *arg)
{
	struct replica *r = arg;
	return r->le && leader_is_leader(r->le);
}

/* One write in the fake's log. */
struct wr {
	double t0, t1; /* unixTime and unixTime + durationMs, seconds */
	long seq;
	char user[32];
	bool lease;
	char holder[64]; /* Lease writes: holderIdentity */
};

/* The successful writes (Lease POST/PUT, scale PATCH) of the log, in log order; with <acts>,
 * every request that is not about the Lease, whatever its method and status. */
static const char *log_writes(struct wr **out, size_t *n, bool acts)
{
	TRY(log_settle());
	cJSON *j;
	TRY(fake_call("GET", "/_fake/log", NULL, &j));
	const cJSON *e;
	size_t cap = (size_t)cJSON_GetArraySize(cJSON_GetObjectItem(j, "entries"));
	*out = calloc(cap + 1, sizeof(**out));
	*n = 0;
	cJSON_ArrayForEach(e, cJSON_GetObjectItem(j, "entries"))
	{
		const char *method = cJSON_GetObjectItem(e, "method")->valuestring;
		const char *path = cJSON_GetObjectItem(e, "path")->valuestring;
		const cJSON *st = cJSON_GetObjectItem(e, "status");
		bool is_lease = strstr(path, "/leases") != NULL;
		if ((!acts || is_lease) &&
		    (!strcmp(method, "GET") || !cJSON_IsNumber(st) || st->valueint >= 300))
			continue;
		struct wr *w = &(*out)[(*n)++];
		w->t0 = cJSON_GetObjectItem(e, "unixTime")->valuedouble;
		w->t1 = w->t0 + cJSON_GetObjectItem(e, "durationMs")->valuedouble / 1000.0;
		w->seq = (long)cJSON_GetObjectItem(e, "seq")->valuedouble;
		const cJSON *id = cJSON_GetObjectItem(e, "identity");
		snprintf(w->user, sizeof(w->user), "%s",
		         cJSON_GetObjectItem(id, "user")->valuestring);
		w->lease = strstr(path, "/leases") != NULL;
		if (w->lease) {
			const cJSON *h = cJSON_GetObjectItem(
			    cJSON_GetObjectItem(cJSON_GetObjectItem(e, "body"), "spec"),
			    "holderIdentity");
			snprintf(w->holder, sizeof(w->holder), "%s",
			         cJSON_IsString(h) ? h->valuestring : "");
		}
	}
	cJSON_Delete(j);
	return NULL;
}

/* Every scale PATCH (or other request of <acts>) of user U lies inside a term of U: the last Lease
 * write that started before it names U, and no Lease write naming someone else started before it
 * ended. Also in log order: the last Lease write logged before it names U. Counts PATCHes per user.
 */
static const char *check_terms(const struct wr *w, size_t n, int *patches_a, int *patches_b,
                               char *holders, size_t size)
{
	*patches_a = *patches_b = 0;
	holders[0] = '\0';
	const char *prev = NULL;
	for (size_t i = 0; i < n; i++) {
		if (w[i].lease) {
			if (!prev || strcmp(prev, w[i].holder) != 0) {
				size_t len = strlen(holders);
				snprintf(holders + len, size - len, "%s%s", len ? " " : "",
				         w[i].holder[0] ? w[i].holder : "-");
			}
			prev = w[i].holder;
			continue;
		}
		(*(strcmp(w[i].user, "replica-a") == 0 ? patches_a : patches_b))++;
		CHECK(prev && !strcmp(prev, w[i].user),
		      "log seq %ld: a request by %s while the Lease names \"%s\"", w[i].seq,
		      w[i].user, prev ? prev : "(none)");
		const struct wr *term = NULL;
		for (size_t k = 0; k < n; k++)
			if (w[k].lease && w[k].t0 <= w[i].t0)
				term = &w[k];
		CHECK(term && !strcmp(term->holder, w[i].user),
		      "log seq %ld: a request by %s in a term of \"%s\"", w[i].seq, w[i].user,
		      term ? term->holder : "(none)");
		for (size_t k = 0; k < n; k++)
			CHECK(
			    !(w[k].lease && strcmp(w[k].holder, w[i].user) != 0 &&
			      w[k].t0 > w[i].t0 && w[k].t0 < w[i].t1),
			    "log seq %ld: a request by %s overlaps the Lease write of %s (seq %ld)",
			    w[i].seq, w[i].user, w[k].holder, w[k].seq);
	}
	return NULL;
}

/* The takeover by <taker> after the crash came a full lease duration or more after the last
 * renewal of the crashed holder, as the fake's clock saw them (and not much later). */
static const char *check_takeover_gap(const struct wr *w, size_t n, const char *taker)
{
	const struct wr *last = NULL, *take = NULL;
	for (size_t i = 0; i < n && !take; i++) {
		if (!w[i].lease)
			continue;
		if (!strcmp(w[i].holder, taker))
			take = &w[i];
		else
			last = &w[i];
	}
	CHECK(last && take, "no takeover by %s in the log", taker);
	double gap = (take->t0 - last->t0) * 1000.0;
	printf("test_leader: the fake received the takeover %.0f ms after the crashed leader's "
	       "last renewal (lease %d ms)\n",
	       gap, LIVE_LEASE_MS);
	CHECK(gap >= LIVE_LEASE_MS, "taken over %.0f ms after the last renewal", gap);
	CHECK(gap <= LIVE_LEASE_MS + LIVE_RETRY_MS + 500,
	      "taken over %.0f ms after the last renewal", gap);
	return NULL;
}

static const char *validation_clean(void)
{
	cJSON *j;
	TRY(fake_call("GET", "/_fake/validation-failures", NULL, &j));
	int total = (int)cJSON_GetObjectItem(j, "total")->valuedouble;
	cJSON_Delete(j);
	CHECK(total == 0, "the fake rejected %d request bodies", total);
	return NULL;
}

static const char *live_two_electors_body(struct replica *ra, struct replica *rb)
{
	TRY(replica_start(ra, "replica-a", TOKEN_A));
	TRY(replica_start(rb, "replica-b", TOKEN_B));
	int64_t end = mono_ms() + 10000;
	while (!replica_leads(ra) && !replica_leads(rb)) {
		CHECK(mono_ms() < end, "nobody leads after 10 s");
		sleep_ms(2);
	}
	struct replica *l = replica_leads(ra) ? ra : rb, *f = l == ra ? rb : ra;

	/* Exactly one acts, for 3 s (six renewals). */
	end = mono_ms() + 3000;
	while (mono_ms() < end) {
		CHECK(replica_leads(ra) != replica_leads(rb), "both or none lead");
		sleep_ms(20);
	}
	CHECK(atomic_load(&l->patches) >= 20, "the leader patched %d times in 3 s",
	      atomic_load(&l->patches));
	CHECK(atomic_load(&f->started) == 0 && atomic_load(&f->patches) == 0, "the follower acted");

	/* Crash the leader: no release, its worker stops with it. */
	int64_t crash = mono_ms();
	leader_stop(l->le, false);
	TRY(wait_for(replica_leads, f, LIVE_LEASE_MS + 3000));
	int64_t took = atomic_load(&f->started_mono) - crash;
	printf("test_leader: takeover after a crash (fake API server over TLS): %lld ms "
	       "(lease %d ms, renew deadline %d ms, retry %d ms)\n",
	       (long long)took, LIVE_LEASE_MS, LIVE_RENEW_MS, LIVE_RETRY_MS);
	fflush(stdout);
	/* The follower saw the last renew at most a retry period after it was sent, and it came
	 * at most a retry period before the crash. */
	CHECK(took >= LIVE_LEASE_MS - LIVE_RETRY_MS - 100, "took over too early: %lld ms",
	      (long long)took);
	CHECK(took <= LIVE_LEASE_MS + LIVE_RETRY_MS + 500, "took over %lld ms after the crash",
	      (long long)took);
	sleep_ms(1500);
	CHECK(atomic_load(&f->patches) >= 5, "the new leader patched %d times",
	      atomic_load(&f->patches));

	/* The crashed replica comes back as a follower; the leader stops with a release. */
	const char *back = l->name;
	const char *tok = l == ra ? TOKEN_A : TOKEN_B;
	leader_free(l->le);
	l->le = NULL;
	kcfg_free(l->kcfg);
	l->kcfg = NULL;
	pthread_mutex_destroy(&l->lock);
	TRY(replica_start(l, back, tok));
	sleep_ms(1200);
	CHECK(!replica_leads(l), "the restarted replica leads while the Lease is held");
	int64_t stop = mono_ms();
	leader_stop(f->le, true);
	TRY(wait_for(replica_leads, l, LIVE_LEASE_MS));
	took = atomic_load(&l->started_mono) - stop;
	printf("test_leader: takeover after a release (fake API server over TLS): %lld ms\n",
	       (long long)took);
	fflush(stdout);
	CHECK(took <= LIVE_RETRY_MS + 700, "took over %lld ms after the release (lease %d ms)",
	      (long long)took, LIVE_LEASE_MS);
	sleep_ms(1000);
	leader_stop(l->le, true);

	/* The fake's log: only the holder wrote, never in another's term. */
	struct wr *w = NULL;
	size_t n = 0;
	TRY(log_writes(&w, &n, false));
	int pa, pb;
	char holders[256], want[256];
	const char *p = check_terms(w, n, &pa, &pb, holders, sizeof(holders));
	printf("test_leader: the fake logged %zu writes: %d PATCHes by replica-a, %d by "
	       "replica-b; Lease holders in turn: %s\n",
	       n, pa, pb, holders);
	/* The first leader, the other after the crash, none after its release, the first
	 * again, none after the last release. */
	if (!p)
		p = check_takeover_gap(w, n, f->name);
	snprintf(want, sizeof(want), "%s %s - %s -", l->name, f->name, l->name);
	if (!p && strcmp(holders, want) != 0) {
		snprintf(problem, sizeof(problem), "Lease holders \"%s\", want \"%s\"", holders,
		         want);
		p = problem;
	}
	if (!p && (n == 0 || !w[n - 1].lease || w[n - 1].holder[0])) {
		snprintf(problem, sizeof(problem), "the last write is not a release");
		p = problem;
	}
	free(w);
	TRY(p);
	TRY(validation_clean());
	return NULL;
}

static const char *live_two_electors_scenario(void)
{
	TRY(fake_start(fake_config));
	struct replica ra, rb;
	memset(&ra, 0, sizeof(ra));
	memset(&rb, 0, sizeof(rb));
	const char *p = live_two_electors_body(&ra, &rb);
	if (ra.le || ra.kcfg)
		replica_free(&ra);
	if (rb.le || rb.kcfg)
		replica_free(&rb);
	fake_cleanup();
	return p;
}

static const char *live_stop_aborts_a_hung_request_body(void)
{
	/* Every Lease read hangs for 10 s: the first round is in flight when we stop. */
	TRY(fake_call("POST", "/_fake/faults",
	              "{\"kind\": \"delay\", \"method\": \"GET\", \"path\": \"/leases/\","
	              " \"delayMs\": 10000, \"count\": -1}",
	              NULL));
	struct replica r;
	memset(&r, 0, sizeof(r));
	const char *p = replica_start(&r, "replica-a", TOKEN_A);
	if (!p) {
		sleep_ms(400);
		int64_t t = mono_ms();
		leader_stop(r.le, true);
		int64_t took = mono_ms() - t;
		printf("test_leader: leader_stop with a Lease read in flight: %lld ms\n",
		       (long long)took);
		if (took > 300) {
			snprintf(problem, sizeof(problem), "leader_stop took %lld ms",
			         (long long)took);
			p = problem;
		}
		if (!p && atomic_load(&r.started) != 0) {
			snprintf(problem, sizeof(problem), "started leading");
			p = problem;
		}
	}
	replica_free(&r);
	return p;
}

static const char *live_stop_aborts_a_hung_request_scenario(void)
{
	TRY(fake_start(fake_config));
	const char *p = live_stop_aborts_a_hung_request_body();
	fake_cleanup();
	return p;
}

/* ---- live: two `prescale run` processes ---- */

/* Both users may do anything: the test is about who acts, not about RBAC. */
static const char *fake_config_open =
    "{\"users\": ["
    " {\"name\": \"replica-a\", \"token\": \"" TOKEN_A "\", \"clientCert\": false},"
    " {\"name\": \"replica-b\", \"token\": \"" TOKEN_B "\", \"clientCert\": false}],"
    "\"rules\": [{\"users\": [\"replica-a\", \"replica-b\"], \"verbs\": [\"*\"],"
    "  \"apiGroups\": [\"*\"], \"resources\": [\"*\"]}],"
    "\"objects\": ["
    " {\"apiVersion\": \"apps/v1\", \"kind\": \"Deployment\","
    "  \"metadata\": {\"name\": \"web\", \"namespace\": \"shop\"},"
    "  \"spec\": {\"replicas\": 3, \"selector\": {\"matchLabels\": {\"app\": \"web\"}},"
    "   \"template\": {\"metadata\": {\"labels\": {\"app\": \"web\"}},"
    "    \"spec\": {\"containers\": [{\"name\": \"app\", \"image\": \"web:1\"}]}}}}"
    "]}";

/* The controller's configuration: Prometheus on a port nobody listens on, so every tick fails
 * its query and the fallback (after one failure) patches web to 5 replicas; each tick reads the
 * scale first, so the leader shows in the log every second. Lease 3 s, renew 2 s, retry 0.5 s. */
#define RUN_CONFIG                                                                                 \
	"apiVersion: prescale.dev/v1alpha1\n"                                                      \
	"kind: ControllerConfig\n"                                                                 \
	"prometheus: {url: \"http://127.0.0.1:%d\", timeout: 1s}\n"                                \
	"defaults: {interval: 1s}\n"                                                               \
	"leaderElection: {enabled: true, namespace: prescale, leaseName: prescale-leader,\n"       \
	"  leaseDuration: 3s, renewDeadline: 2s, retryPeriod: 500ms}\n"                            \
	"---\n"                                                                                    \
	"apiVersion: prescale.dev/v1alpha1\n"                                                      \
	"kind: Autoscaler\n"                                                                       \
	"metadata: {name: web, namespace: shop}\n"                                                 \
	"spec:\n"                                                                                  \
	"  scaleTargetRef: {kind: Deployment, name: web}\n"                                        \
	"  maxReplicas: 20\n"                                                                      \
	"  metrics:\n"                                                                             \
	"    - name: load\n"                                                                       \
	"      query: sum(load)\n"                                                                 \
	"      target: {averageValue: \"100\"}\n"                                                  \
	"  fallback: {failureThreshold: 1, replicas: 5}\n"

/* A TCP port on 127.0.0.1 that was free a moment ago (connections to it are refused). */
static int closed_port(void)
{
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	socklen_t len = sizeof(a);
	int port = 1;
	if (fd >= 0 && bind(fd, (struct sockaddr *)&a, sizeof(a)) == 0 &&
	    getsockname(fd, (struct sockaddr *)&a, &len) == 0)
		port = ntohs(a.sin_port);
	if (fd >= 0)
		close(fd);
	return port;
}

struct proc {
	pid_t pid; /* 0: not running */
	const char *name;
	int status;
};

static struct proc procs[4];

static void procs_kill(void)
{
	for (size_t i = 0; i < PS_ARRAY_LEN(procs); i++)
		if (procs[i].pid > 0) {
			kill(procs[i].pid, SIGKILL);
			(void)waitpid(procs[i].pid, NULL, 0);
			procs[i].pid = 0;
		}
}

/* Starts `prescale run` as replica <name> (POD_NAME) with the kubeconfig of <token>. */
static const char *run_start(struct proc *p, const char *name, const char *token, int n)
{
	static bool registered;
	if (!registered) {
		atexit(procs_kill);
		registered = true;
	}
	char cfg[256], kc[256], out[256];
	snprintf(cfg, sizeof(cfg), "%s/prescale.yaml", fk.dir);
	snprintf(kc, sizeof(kc), "%s/kubeconfig-%s.yaml", fk.dir, token);
	snprintf(out, sizeof(out), "%s/%s-%d.log", fk.dir, name, n);
	struct kcfg *k = kubeconfig_for(token); /* writes <kc> */
	CHECK(k, "kubeconfig");
	kcfg_free(k);
	pid_t pid = fork();
	CHECK(pid != -1, "fork: %s", strerror(errno));
	if (pid == 0) {
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		int fd = open(out, O_WRONLY | O_CREAT | O_TRUNC, 0600);
		if (fd >= 0) {
			dup2(fd, 1);
			dup2(fd, 2);
		}
		setenv("POD_NAME", name, 1);
		unsetenv("KUBECONFIG");
		execl(PS_BINARY, PS_BINARY, "run", "-c", cfg, "--kubeconfig", kc, "--listen",
		      "127.0.0.1:0", (char *)NULL);
		_exit(127);
	}
	p->pid = pid;
	p->name = name;
	return NULL;
}

/* Sends <sig> to <p> and reaps it within 10 s; <p->status> its wait status. */
static const char *run_signal(struct proc *p, int sig)
{
	kill(p->pid, sig);
	int64_t end = mono_ms() + 10000;
	for (;;) {
		pid_t r = waitpid(p->pid, &p->status, WNOHANG);
		if (r == p->pid)
			break;
		CHECK(mono_ms() < end, "%s did not exit within 10 s of signal %d", p->name, sig);
		sleep_ms(10);
	}
	p->pid = 0;
	return NULL;
}

/* The first successful Lease write naming <holder> at log seq > <after>; 0 when none yet. */
static const char *lease_write_by(const char *holder, long after, long *seq, double *t0)
{
	*seq = 0;
	cJSON *j;
	TRY(fake_call("GET", "/_fake/log", NULL, &j));
	const cJSON *e;
	cJSON_ArrayForEach(e, cJSON_GetObjectItem(j, "entries"))
	{
		const cJSON *st = cJSON_GetObjectItem(e, "status");
		const char *path = cJSON_GetObjectItem(e, "path")->valuestring;
		const char *method = cJSON_GetObjectItem(e, "method")->valuestring;
		long s = (long)cJSON_GetObjectItem(e, "seq")->valuedouble;
		if (s <= after || !strstr(path, "/leases") || !strcmp(method, "GET") ||
		    !cJSON_IsNumber(st) || st->valueint >= 300)
			continue;
		const cJSON *h = cJSON_GetObjectItem(
		    cJSON_GetObjectItem(cJSON_GetObjectItem(e, "body"), "spec"), "holderIdentity");
		if (cJSON_IsString(h) && !strcmp(h->valuestring, holder)) {
			*seq = s;
			*t0 = cJSON_GetObjectItem(e, "unixTime")->valuedouble;
			break;
		}
	}
	cJSON_Delete(j);
	return NULL;
}

static const char *wait_lease_write_by(const char *holder, long after, int64_t timeout_ms,
                                       long *seq, double *t0)
{
	int64_t end = mono_ms() + timeout_ms;
	for (;;) {
		TRY(lease_write_by(holder, after, seq, t0));
		if (*seq)
			return NULL;
		CHECK(mono_ms() < end, "no Lease write by %s within %lld ms", holder,
		      (long long)timeout_ms);
		sleep_ms(50);
	}
}

static double wall_s(void)
{
	return (double)ps_clock_wall_ms(ps_clock_real()) / 1000.0;
}

static const char *live_processes_body(void)
{
	char path[256];
	snprintf(path, sizeof(path), "%s/prescale.yaml", fk.dir);
	FILE *f = fopen(path, "w");
	CHECK(f, "%s", path);
	fprintf(f, RUN_CONFIG, closed_port());
	CHECK(fclose(f) == 0, "fclose");

	struct proc *a = &procs[0], *b = &procs[1];
	TRY(run_start(a, "replica-a", TOKEN_A, 1));
	sleep_ms(200);
	TRY(run_start(b, "replica-b", TOKEN_B, 1));

	/* The first holder: whichever wrote the Lease first. */
	long seq_a = 0, seq_b = 0, seq;
	double t0_a = 0, t0_b = 0, t_take;
	int64_t end = mono_ms() + 15000;
	while (!seq_a && !seq_b) {
		CHECK(mono_ms() < end, "no Lease after 15 s");
		TRY(lease_write_by("replica-a", 0, &seq_a, &t0_a));
		TRY(lease_write_by("replica-b", 0, &seq_b, &t0_b));
		sleep_ms(50);
	}
	struct proc *l = seq_a ? a : b, *fo = l == a ? b : a;
	const char *l_tok = l == a ? TOKEN_A : TOKEN_B;
	sleep_ms(4000); /* a few ticks of the leader, renewals, the follower's reads */

	/* kill -9 the leader: no release. The other takes over within about a lease. */
	TRY(lease_write_by(l->name, 0, &seq, &t_take));
	double killed = wall_s();
	CHECK(kill(l->pid, SIGKILL) == 0, "kill");
	TRY(run_signal(l, SIGKILL));
	TRY(wait_lease_write_by(fo->name, 0, LIVE_LEASE_MS + 5000, &seq, &t_take));
	printf("test_leader: `prescale run` killed (SIGKILL) as leader; the other process took "
	       "over %.0f ms later (lease 3000 ms, retry 500 ms)\n",
	       (t_take - killed) * 1000.0);
	fflush(stdout);
	CHECK((t_take - killed) * 1000.0 <= LIVE_LEASE_MS + LIVE_RETRY_MS + 1000,
	      "took over %.0f ms after the kill", (t_take - killed) * 1000.0);
	long seq_takeover = seq;

	/* The killed replica comes back and stands by; the leader gets SIGTERM: it stops its
	 * workers, releases, exits 0, and the other takes over at once. */
	TRY(run_start(l, l->name, l_tok, 2));
	sleep_ms(2500);
	double termed = wall_s();
	TRY(run_signal(fo, SIGTERM));
	CHECK(WIFEXITED(fo->status) && WEXITSTATUS(fo->status) == 0, "%s: exit status %d", fo->name,
	      fo->status);
	TRY(wait_lease_write_by(l->name, seq_takeover, LIVE_LEASE_MS + 2000, &seq, &t_take));
	printf("test_leader: `prescale run` stopped (SIGTERM) as leader, released the Lease; the "
	       "other process took over %.0f ms later\n",
	       (t_take - termed) * 1000.0);
	fflush(stdout);
	CHECK((t_take - termed) * 1000.0 <= LIVE_RETRY_MS + 1000,
	      "took over %.0f ms after the SIGTERM", (t_take - termed) * 1000.0);
	sleep_ms(2500);
	TRY(run_signal(l, SIGTERM));
	CHECK(WIFEXITED(l->status) && WEXITSTATUS(l->status) == 0, "%s: exit status %d", l->name,
	      l->status);

	/* The fake's log: every request that is not about the Lease came from the holder of the
	 * term it fell in. */
	struct wr *w = NULL;
	size_t n = 0;
	TRY(log_writes(&w, &n, true));
	int pa, pb;
	char holders[256], want[256];
	const char *p = check_terms(w, n, &pa, &pb, holders, sizeof(holders));
	printf("test_leader: two processes: %d requests by replica-a, %d by replica-b outside "
	       "the Lease; holders in turn: %s\n",
	       pa, pb, holders);
	snprintf(want, sizeof(want), "%s %s - %s -", l->name, fo->name, l->name);
	if (!p && strcmp(holders, want) != 0) {
		snprintf(problem, sizeof(problem), "Lease holders \"%s\", want \"%s\"", holders,
		         want);
		p = problem;
	}
	if (!p && (pa < 3 || pb < 3)) {
		snprintf(problem, sizeof(problem), "requests: %d by a, %d by b", pa, pb);
		p = problem;
	}
	free(w);
	TRY(p);
	TRY(validation_clean());
	return NULL;
}

static const char *live_processes_scenario(void)
{
	if (access(PS_BINARY, X_OK) != 0) {
		snprintf(problem, sizeof(problem), "%s is not built", PS_BINARY);
		return problem;
	}
	TRY(fake_start(fake_config_open));
	const char *p = live_processes_body();
	procs_kill();
	fake_cleanup();
	return p;
}

/* ---- Criterion ---- */

static void suite_init(void)
{
	ps_log_set_level(PS_LOG_ERROR);
	cr_assert_eq(http_global_init(NULL), PS_OK);
}

static void suite_fini(void)
{
	fake_cleanup();
	http_global_cleanup();
}

/* One timeout for the whole suite: Criterion 2.4's timeout watchdog leaks an entry in the
 * runner (48 bytes, reported by LeakSanitizer) when tests of different timeouts run at once. */
TestSuite(leader, .init = suite_init, .fini = suite_fini, .timeout = 180);

#define SCENARIO_TEST(name, fn)                                                                    \
	Test(leader, name)                                                                         \
	{                                                                                          \
		const char *p = fn();                                                              \
		cr_expect_null(p, "%s", p ? p : "");                                               \
	}

SCENARIO_TEST(identity_is_pod_name_or_hostname_and_random_and_options_follow_client_go,
              identity_and_options_scenario)
SCENARIO_TEST(an_absent_lease_is_created_and_renewed_every_retry_period_without_a_read,
              acquire_and_renew_scenario)
SCENARIO_TEST(a_lease_that_names_us_is_renewed_at_once_keeping_acquire_time_and_transitions,
              renew_fixture_scenario)
SCENARIO_TEST(takeover_waits_the_holders_lease_duration_on_the_local_clock_whatever_renew_time,
              takeover_local_clock_scenario)
SCENARIO_TEST(an_observed_change_of_the_lease_restarts_its_expiry,
              observed_change_restarts_expiry_scenario)
SCENARIO_TEST(a_released_lease_is_taken_over_at_once, released_lease_taken_at_once_scenario)
SCENARIO_TEST(a_409_already_exists_or_conflict_means_not_leader_this_round, conflicts_scenario)
SCENARIO_TEST(a_leader_that_cannot_renew_stops_at_the_renew_deadline_before_any_further_write,
              loss_at_renew_deadline_scenario)
SCENARIO_TEST(a_leader_that_reads_another_holder_stops_at_once, loss_to_another_holder_scenario)
SCENARIO_TEST(release_clears_the_holder_with_a_one_second_lease_and_another_takes_over_at_once,
              release_scenario)
SCENARIO_TEST(two_electors_on_threads_one_leads_and_the_other_takes_over_after_crash_or_release,
              threads_scenario)
SCENARIO_TEST(live_two_electors_one_acts_takeover_within_the_lease_and_no_overlapping_writes,
              live_two_electors_scenario)
SCENARIO_TEST(live_stop_aborts_a_lease_request_in_flight, live_stop_aborts_a_hung_request_scenario)
SCENARIO_TEST(live_two_prescale_run_processes_one_acts_kill_and_sigterm_hand_over_the_lease,
              live_processes_scenario)

/* Criterion 2.4's sandbox cannot start under ThreadSanitizer (see test_runtime.c): the TSan
 * build runs every scenario in sequence from this main, which overrides Criterion's. */

#ifdef PS_TEST_TSAN
int main(void)
{
	static const struct scenario all[] = {
	    {"identity_and_options", identity_and_options_scenario},
	    {"acquire_and_renew", acquire_and_renew_scenario},
	    {"renew_fixture", renew_fixture_scenario},
	    {"takeover_local_clock", takeover_local_clock_scenario},
	    {"observed_change", observed_change_restarts_expiry_scenario},
	    {"released_lease", released_lease_taken_at_once_scenario},
	    {"conflicts", conflicts_scenario},
	    {"loss_at_renew_deadline", loss_at_renew_deadline_scenario},
	    {"loss_to_another_holder", loss_to_another_holder_scenario},
	    {"release", release_scenario},
	    {"threads", threads_scenario},
	    {"live_two_electors", live_two_electors_scenario},
	    {"live_stop", live_stop_aborts_a_hung_request_scenario},
	    {"live_processes", live_processes_scenario},
	};
	ps_log_set_level(PS_LOG_ERROR);
	if (http_global_init(NULL) != PS_OK)
		return 1;
	int failed = scenario_run_all("test_leader", all, PS_ARRAY_LEN(all));
	fake_cleanup();
	http_global_cleanup();
	return failed ? 1 : 0;
}
#endif
