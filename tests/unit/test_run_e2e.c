/* test_run_e2e.c -- `prescale run`, long-running, end to end: the real binary against a real
 * Prometheus and the fake Kubernetes API server over TLS, judged from the fake's request log and
 * the process's JSON log.
 *
 * DESIGN
 * Each test runs in its own process (Criterion) with its own servers: the fake API server
 * (tests/fakeapi, seeded with the RBAC of tests/data/ctl/e2e-run/rbac*.json and the test's
 * deployments) and a Prometheus 2.42 whose data is written before it starts
 * (tests/support/prom_server.c: OpenMetrics -> promtool -> TSDB blocks). The load a test wants
 * over time is written in full at the start, ten minutes of the past and of the FUTURE, one
 * sample a second: e2e_load{app} follows the test's schedule of phases relative to the moment
 * W the data was written, so "the load rises at W+4 s and falls at W+10 s" is data Prometheus
 * serves when that time comes, with nothing to change during the run (backfilled blocks are
 * immutable). Prometheus can be stopped and started again on the same port and data for an
 * outage.
 *
 * The configurations are the YAML files of tests/data/ctl/e2e-run (@PROMETHEUS@ and @LISTEN@
 * replaced): External metrics sum(e2e_load{app="<deployment>"}) against an averageValue of
 * 100, so the count prescale should ask for is ceil(load / 100), one tick a second, scale-up
 * policies that never bind, and a short scale-down window. The kubeconfig is written at test
 * time: the fake's CA and the service account's token.
 *
 * Assertions come from outside prescale: the PATCHes the fake received (time, status, body)
 * and its objects; the decision lines of the JSON log (`--log-format json`); the schedule the
 * test wrote. Time bounds are generous where they are upper bounds (a slow machine only makes
 * things later); lower bounds (no scale-down before the window) are exact up to the 0.5 s a
 * log line may trail its tick. After every test the fake must report no request body that the
 * real API server would have rejected.
 *
 * The test's directory (configs, logs, the servers' data) is removed at the end; set
 * PS_E2E_KEEP=DIR to keep a copy of it in DIR, for the logs the failure messages name.
 *
 * Processes: every server and every prescale process is the leader of its own process group,
 * dies with the test (PR_SET_PDEATHSIG), and is stopped by the suite's .fini or an atexit()
 * handler; every wait has a deadline. The suite needs prometheus, promtool and python3 (hack/test
 * installs them): missing ones fail, they do not skip.
 *
 * tests/CMakeLists.txt links tests/support/prom_server.c only into the targets it names, and
 * this file must build from the glob alone, so the two harness files are part of this
 * translation unit (see the #includes below). Whoever adds test_run_e2e to that list (with
 * support/fake_api.c) drops them.
 */
#include <cjson/cJSON.h>
#include <criterion/criterion.h>
#include <criterion/logging.h>
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "http.h"
#include "ps_alloc.h"
#include "ps_buf.h"
#include "ps_clock.h"
#include "runtime.h"

/* The harness, compiled into this file: see the end of the DESIGN block. */
#include "../support/fake_api.c"
#include "../support/prom_server.c"

#define RUN_DATA PS_TEST_DATA "/ctl/e2e-run"
#define TOKEN "prescale-e2e-token"
#define NS "shop"
#define POLL_MS 100
/* The load's history and future around W, one sample a second. */
#define LOAD_PAST_S 600
#define LOAD_FUTURE_S 600
/* A graceful stop: the process must be gone within this (the issue's bound). */
#define STOP_BOUND_MS 2000
#define MAX_REQS 512

/* ---- the test's world ---- */

/* A phase of a load schedule: <value> from W + <from_s> on, until the next phase. The first
 * phase also covers the past. */
struct phase {
	int from_s;
	double value;
};

struct load {
	const char *app; /* the deployment (label app of e2e_load) */
	struct phase p[4];
	size_t n;
};

struct deploy {
	const char *name;
	int replicas;
};

static struct {
	struct prom_server prom; /* its dir is the test's dir too (configs, logs, kubeconfig) */
	struct fake_api fake;
	int64_t w_ms; /* W: when the load data was written (wall clock, whole second) */
	const struct load *loads;
	size_t n_loads;
	char listen[64];
	char kubeconfig[192];
	char config[192]; /* the configuration prescale runs with */
	pid_t pid;        /* the running prescale, 0: none */
	char log[192];    /* its stderr: the JSON log */
	char out[256];    /* its stdout */
} E;

static int64_t mono_ms(void)
{
	return ps_clock_mono_ms(ps_clock_real());
}

static int64_t wall_ms(void)
{
	return ps_clock_wall_ms(ps_clock_real());
}

static void nap(long ms)
{
	struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
	while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
		;
}

/* Seconds since W, for messages. */
static double since_w(int64_t t_ms)
{
	return (double)(t_ms - E.w_ms) / 1000.0;
}

static char *slurp(const char *path)
{
	struct ps_buf b;
	ps_buf_init(&b, 64 << 20);
	struct ps_diag d;
	cr_assert_eq(ps_buf_read_file(&b, path, &d), PS_OK, "%s", ps_diag_msg(&d));
	char *s = ps_buf_detach(&b);
	cr_assert_not_null(s);
	return s;
}

/* Writes <text> to <path> through a temporary file and rename(), as an editor or a deploy
 * tool does, so that prescale never reads half a file. */
static void write_atomically(const char *path, const char *text)
{
	char tmp[256];
	snprintf(tmp, sizeof(tmp), "%s.tmp", path);
	FILE *f = fopen(tmp, "w");
	cr_assert_not_null(f, "%s: %s", tmp, strerror(errno));
	cr_assert(fputs(text, f) >= 0);
	cr_assert_eq(fclose(f), 0);
	cr_assert_eq(rename(tmp, path), 0, "rename %s: %s", path, strerror(errno));
}

/* The template tests/data/ctl/e2e-run/<name> with the servers filled in, written to <dst>. */
static void render(const char *name, const char *dst)
{
	char src[256];
	snprintf(src, sizeof(src), "%s/%s", RUN_DATA, name);
	char *tmpl = slurp(src);
	struct ps_buf b;
	ps_buf_init(&b, 1 << 20);
	for (const char *p = tmpl; *p;) {
		enum ps_err e;
		if (strncmp(p, "@PROMETHEUS@", 12) == 0) {
			e = ps_buf_append_str(&b, E.prom.url);
			p += 12;
		} else if (strncmp(p, "@LISTEN@", 8) == 0) {
			e = ps_buf_append_str(&b, E.listen);
			p += 8;
		} else {
			e = ps_buf_append(&b, p, 1);
			p++;
		}
		cr_assert_eq(e, PS_OK);
	}
	write_atomically(dst, ps_buf_cstr(&b));
	ps_buf_release(&b);
	ps_free(tmpl);
}

/* ---- servers ---- */

static double load_at(const struct load *l, int64_t offset_s)
{
	double v = l->p[0].value;
	for (size_t i = 1; i < l->n; i++)
		if (offset_s >= l->p[i].from_s)
			v = l->p[i].value;
	return v;
}

static void write_loads(FILE *f, void *arg)
{
	(void)arg;
	int64_t w_s = E.w_ms / 1000;
	fprintf(f, "# HELP e2e_load Load of the test's deployments (requests per second).\n");
	fprintf(f, "# TYPE e2e_load gauge\n");
	for (size_t i = 0; i < E.n_loads; i++)
		for (int64_t t = -LOAD_PAST_S; t <= LOAD_FUTURE_S; t++)
			fprintf(f, "e2e_load{app=\"%s\"} %g %lld\n", E.loads[i].app,
			        load_at(&E.loads[i], t), (long long)(w_s + t));
}

/* A Deployment as kubectl would show it, <replicas> ready. */
static const char deployment_fmt[] =
    "{\"apiVersion\":\"apps/v1\",\"kind\":\"Deployment\","
    "\"metadata\":{\"name\":\"%s\",\"namespace\":\"" NS "\",\"labels\":{\"app\":\"%s\"}},"
    "\"spec\":{\"replicas\":%d,\"selector\":{\"matchLabels\":{\"app\":\"%s\"}},"
    "\"template\":{\"metadata\":{\"labels\":{\"app\":\"%s\"}},"
    "\"spec\":{\"containers\":[{\"name\":\"app\",\"image\":\"registry.example/%s:1\"}]}}},"
    "\"status\":{\"replicas\":%d,\"readyReplicas\":%d}}";

static void put_deployments(const struct deploy *d, size_t n)
{
	struct ps_buf b;
	ps_buf_init(&b, 4 << 20);
	cr_assert_eq(ps_buf_append_str(&b, "{\"items\":["), PS_OK);
	for (size_t i = 0; i < n; i++) {
		const char *m = d[i].name;
		cr_assert_eq(ps_buf_append_str(&b, i ? "," : ""), PS_OK);
		cr_assert_eq(ps_buf_appendf(&b, deployment_fmt, m, m, d[i].replicas, m, m, m,
		                            d[i].replicas, d[i].replicas),
		             PS_OK);
	}
	cr_assert_eq(ps_buf_append_str(&b, "]}"), PS_OK);
	fake_api_put_objects(&E.fake, ps_buf_cstr(&b));
	ps_buf_release(&b);
}

/* Starts the fake with <rbac> and the deployments, then Prometheus with the loads (W is now),
 * and writes the kubeconfig. The fake goes first so that W is as late as possible. */
static void setup(const char *rbac, const struct deploy *d, size_t n_d, const struct load *loads,
                  size_t n_loads)
{
	char cfg[256];
	snprintf(cfg, sizeof(cfg), "%s/%s", RUN_DATA, rbac);
	fake_api_start(&E.fake, cfg, prom_server_path(&E.prom, "fake.log"), 300);
	put_deployments(d, n_d);
	E.loads = loads;
	E.n_loads = n_loads;
	E.w_ms = wall_ms() / 1000 * 1000;
	prom_server_start(&E.prom, write_loads, NULL, NULL, NULL);
	fake_api_write_kubeconfig(&E.fake, E.kubeconfig, TOKEN, NS);
}

static void suite_init(void)
{
	memset(&E, 0, sizeof(E));
	E.fake.stdin_fd = -1;
	prom_server_init(&E.prom); /* http_global_init, the directory, the atexit() guard */
	snprintf(E.listen, sizeof(E.listen), "127.0.0.1:%d", prom_server_free_port());
	snprintf(E.kubeconfig, sizeof(E.kubeconfig), "%s", prom_server_path(&E.prom, "kubeconfig"));
	snprintf(E.config, sizeof(E.config), "%s", prom_server_path(&E.prom, "prescale.yaml"));
}

static void suite_fini(void)
{
	prom_server_child_stop(&E.pid);
	fake_api_stop(&E.fake);
	/* PS_E2E_KEEP=DIR keeps a copy of the test's directory (logs, configs, data) in DIR. */
	const char *keep = getenv("PS_E2E_KEEP");
	if (keep && *keep && E.prom.dir[0]) {
		char *cp[] = {"cp", "-a", E.prom.dir, (char *)keep, NULL};
		(void)prom_server_run(cp, "/dev/null", NULL, 60000);
	}
	prom_server_fini(&E.prom);
}

TestSuite(run_e2e, .init = suite_init, .fini = suite_fini, .timeout = 120);

/* ---- the prescale process ---- */

/* Starts `prescale run -c <config> --kubeconfig K --log-format json [<extra>]` with its log in
 * <dir>/<log_name>. */
static void prescale_start(const char *config, const char *extra, const char *log_name)
{
	cr_assert_eq(E.pid, 0, "prescale is already running");
	snprintf(E.log, sizeof(E.log), "%s", prom_server_path(&E.prom, log_name));
	snprintf(E.out, sizeof(E.out), "%s.stdout", E.log);
	/* The log exists before the child opens it, so a poll right after the start reads it. */
	int log = open(E.log, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	cr_assert_geq(log, 0, "%s: %s", E.log, strerror(errno));
	close(log);
	int out = open(E.out, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	cr_assert_geq(out, 0, "%s: %s", E.out, strerror(errno));
	char *argv[] = {PS_BINARY,    "run",          "-c",   (char *)config, "--kubeconfig",
	                E.kubeconfig, "--log-format", "json", (char *)extra,  NULL};
	E.pid = prom_server_spawn(argv, -1, out, E.log);
	close(out);
}

/* SIGTERM, then waits for the exit; returns the exit status and the time it took in *took_ms
 * (may be NULL). A process still there after 10 s is killed (-1). */
static int prescale_stop(int64_t *took_ms)
{
	cr_assert_gt(E.pid, 0);
	int64_t t0 = mono_ms();
	cr_assert_eq(kill(E.pid, SIGTERM), 0);
	int rc = prom_server_child_wait(&E.pid, 10000);
	if (took_ms)
		*took_ms = mono_ms() - t0;
	return rc;
}

/* Fails the test at once when prescale has exited on its own. */
static void assert_running(void)
{
	if (E.pid <= 0)
		return;
	siginfo_t si;
	memset(&si, 0, sizeof(si));
	if (waitid(P_PID, (id_t)E.pid, &si, WEXITED | WNOHANG | WNOWAIT) == 0 && si.si_pid == E.pid)
		cr_assert_fail("prescale exited during the test (code %d, status %d); see %s",
		               si.si_code, si.si_status, E.log);
}

/* One polling step; false once <deadline> (monotonic ms) has passed. */
static bool poll_wait(int64_t deadline)
{
	assert_running();
	if (mono_ms() >= deadline)
		return false;
	nap(POLL_MS);
	return true;
}

/* Sleeps <ms> while checking that prescale stays up. */
static void run_for(int64_t ms)
{
	int64_t deadline = mono_ms() + ms;
	while (poll_wait(deadline))
		;
}

/* ---- the JSON log ---- */

/* Every line of <path> as a cJSON array (cJSON_Delete it); each line must be JSON (an ASan
 * report or a stray printf would not be). */
static cJSON *log_lines(const char *path)
{
	char *text = slurp(path);
	cJSON *all = cJSON_CreateArray();
	cr_assert_not_null(all);
	char *save = NULL;
	for (char *line = strtok_r(text, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		cJSON *j = cJSON_Parse(line);
		cr_assert_not_null(j, "%s: not a JSON log line: %s", path, line);
		cJSON_AddItemToArray(all, j);
	}
	ps_free(text);
	return all;
}

static const char *jstr(const cJSON *o, const char *key)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
	return cJSON_IsString(v) ? v->valuestring : NULL;
}

static double jnum(const cJSON *o, const char *key, double dflt)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
	return cJSON_IsNumber(v) ? v->valuedouble : dflt;
}

static bool jtrue(const cJSON *o, const char *key)
{
	return cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(o, key));
}

static bool is_line(const cJSON *l, const char *msg, const char *target)
{
	const char *m = jstr(l, "msg"), *t = jstr(l, "target");
	return m && strcmp(m, msg) == 0 && (!target || (t && strcmp(t, target) == 0));
}

/* Days since 1970-01-01 of a civil date (H. Hinnant's algorithm). */
static int64_t days_from_civil(int64_t y, int64_t m, int64_t d)
{
	y -= m <= 2;
	int64_t era = (y >= 0 ? y : y - 399) / 400;
	int64_t yoe = y - era * 400;
	int64_t doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
	int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	return era * 146097 + doe - 719468;
}

/* The "ts" of a log line ("2026-11-26T12:00:00.123Z") in Unix ms. */
static int64_t line_ms(const cJSON *l)
{
	const char *ts = jstr(l, "ts");
	cr_assert_not_null(ts, "a log line without ts");
	int y, mo, d, h, mi, s, ms;
	cr_assert_eq(sscanf(ts, "%4d-%2d-%2dT%2d:%2d:%2d.%3dZ", &y, &mo, &d, &h, &mi, &s, &ms), 7,
	             "ts %s", ts);
	return ((days_from_civil(y, mo, d) * 24 + h) * 60 + mi) * (int64_t)60000 + s * 1000 + ms;
}

static const char *key_of(const char *name)
{
	static char key[8][128];
	static int next;
	char *k = key[next++ % 8];
	snprintf(k, sizeof(key[0]), NS "/Deployment/%s", name);
	return k;
}

/* The load the decision line <l> saw: metric.load is "<per pod>/100 (avg)" and the fake never
 * changes status.replicas, so the load is that times the deployment's initial count. NaN when
 * the metric had no value. */
static double line_load(const cJSON *l, int initial_replicas)
{
	const char *v = jstr(l, "metric.load");
	if (!v)
		return NAN;
	char *end;
	double per_pod = strtod(v, &end);
	if (end == v)
		return NAN;
	return per_pod * initial_replicas;
}

/* The number of lines with <msg> (and <target>, NULL: any) in the current log. */
static int count_lines(const char *msg, const char *target)
{
	cJSON *all = log_lines(E.log), *l;
	int n = 0;
	cJSON_ArrayForEach(l, all) n += is_line(l, msg, target);
	cJSON_Delete(all);
	return n;
}

/* ---- the fake's request log ---- */

struct req {
	int64_t t_ms; /* when the fake received it */
	int seq;
	int status;   /* -1: no answer (drop) */
	int replicas; /* PATCH body spec.replicas; -1: none */
};

static void scale_path(char *buf, size_t size, const char *name)
{
	snprintf(buf, size, "/apis/apps/v1/namespaces/" NS "/deployments/%s/scale", name);
}

/* The requests <method> (NULL: any) on <path> since log entry <after_seq> (exclusive), in order,
 * into <out> (up to <cap>); returns how many there are. */
static size_t requests(const char *method, const char *path, int after_seq, struct req *out,
                       size_t cap)
{
	cJSON *entries;
	cJSON *root = fake_api_log(&E.fake, &entries);
	size_t n = 0;
	cJSON *e;
	cJSON_ArrayForEach(e, entries)
	{
		int seq = (int)jnum(e, "seq", 0);
		const char *m = jstr(e, "method"), *p = jstr(e, "path");
		if (seq <= after_seq || !m || !p || (method && strcmp(m, method) != 0) ||
		    strcmp(p, path) != 0)
			continue;
		if (n < cap) {
			struct req *r = &out[n];
			r->t_ms = (int64_t)llround(jnum(e, "unixTime", 0) * 1000.0);
			r->seq = seq;
			r->status = (int)jnum(e, "status", -1);
			cJSON *spec = cJSON_GetObjectItemCaseSensitive(
			    cJSON_GetObjectItemCaseSensitive(e, "body"), "spec");
			r->replicas = (int)jnum(spec, "replicas", -1);
		}
		n++;
	}
	cJSON_Delete(root);
	return n;
}

/* The scale PATCHes of deployment <name> (all of them). */
static size_t patches(const char *name, struct req *out, size_t cap)
{
	char path[256];
	scale_path(path, sizeof(path), name);
	return requests("PATCH", path, 0, out, cap);
}

/* The number of successful scale PATCHes of <name>. */
static int patches_ok(const char *name)
{
	struct req r[MAX_REQS];
	size_t n = patches(name, r, MAX_REQS);
	int ok = 0;
	for (size_t i = 0; i < n && i < MAX_REQS; i++)
		ok += r[i].status == 200;
	return ok;
}

/* Requests of any kind about deployment <name> (its scale or the object) after <after_seq>. */
static size_t requests_about(const char *name, int after_seq)
{
	char scale[256], obj[256];
	struct req r[MAX_REQS];
	scale_path(scale, sizeof(scale), name);
	snprintf(obj, sizeof(obj), "/apis/apps/v1/namespaces/" NS "/deployments/%s", name);
	return requests(NULL, scale, after_seq, r, MAX_REQS) +
	       requests(NULL, obj, after_seq, r, MAX_REQS);
}

/* The sequence number of the fake's latest request. */
static int last_seq(void)
{
	cJSON *entries;
	cJSON *root = fake_api_log(&E.fake, &entries);
	int seq = (int)jnum(root, "lastSeq", 0);
	cJSON_Delete(root);
	return seq;
}

/* Waits until every deployment of <names> has <n> successful PATCHes; fails after <ms>. */
static void wait_patched(const char *const *names, size_t n_names, int n, int64_t ms)
{
	int64_t deadline = mono_ms() + ms;
	bool done = false;
	while (!done) {
		done = true;
		for (size_t i = 0; i < n_names && done; i++)
			done = patches_ok(names[i]) >= n;
		if (!done && !poll_wait(deadline))
			break;
	}
	for (size_t i = 0; i < n_names; i++)
		cr_assert_geq(patches_ok(names[i]), n,
		              "%s: %d successful PATCHes after %lld ms, %d wanted; see %s",
		              names[i], patches_ok(names[i]), (long long)ms, n, E.log);
}

/* The checks every test ends with: prescale stopped, no invalid request body. */
static void finish(void)
{
	if (E.pid > 0) {
		int rc = prescale_stop(NULL);
		cr_expect_eq(rc, 0, "prescale run exits 0 on SIGTERM; see %s", E.log);
	}
	cr_expect_eq(fake_api_validation_failures(&E.fake), 0,
	             "prescale sent a body the real API server would reject; see %s", E.fake.log);
}

/* ==================== the tests ==================== */

/* The load rises at W+4 s and falls at W+10 s; windows of 5 s. */
static const struct load rise_fall_loads[] = {
    {"web", {{0, 200}, {4, 800}, {10, 200}}, 3},
    {"api", {{0, 300}, {4, 600}, {10, 300}}, 3},
    {"worker", {{0, 100}, {4, 450}, {10, 100}}, 3},
};

Test(run_e2e, a_rising_then_falling_load_scales_every_target_up_then_down_after_the_window)
{
	static const struct deploy deps[] = {{"web", 2}, {"api", 3}, {"worker", 1}};
	/* ceil(load / 100): web 200 -> 2, 800 -> 8; api 300 -> 3, 600 -> 6; worker 100 -> 1,
	 * 450 -> 5. The low loads ask for exactly the initial counts: nothing to do until W+4. */
	static const struct {
		int low, high;
	} want[] = {{2, 8}, {3, 6}, {1, 5}};
	const int64_t rise = 4000, fall = 10000, window = 5000;
	setup("rbac.json", deps, 3, rise_fall_loads, 3);
	render("rise-fall.yaml", E.config);
	prescale_start(E.config, NULL, "run.log");
	const char *names[] = {"web", "api", "worker"};
	wait_patched(names, 3, 2, 40000);
	finish();

	cJSON *lines = log_lines(E.log);
	for (size_t i = 0; i < 3; i++) {
		const char *name = deps[i].name, *key = key_of(name);
		struct req p[MAX_REQS];
		size_t n = patches(name, p, MAX_REQS);
		cr_assert_eq(n, 2, "%s: %zu PATCHes, want the scale-up and the scale-down", name,
		             n);
		cr_expect_eq(p[0].status, 200);
		cr_expect_eq(p[1].status, 200);
		cr_expect_eq(p[0].replicas, want[i].high, "%s: scaled up to %d", name,
		             p[0].replicas);
		cr_expect_eq(p[1].replicas, want[i].low, "%s: scaled down to %d", name,
		             p[1].replicas);
		/* The last tick that saw the high load: its recommendation holds the scale-down for
		 * the window. */
		int64_t last_high = 0;
		bool held = false;
		cJSON *l;
		cJSON_ArrayForEach(l, lines)
		{
			if (!is_line(l, "decision", key))
				continue;
			double load = line_load(l, deps[i].replicas);
			int64_t t = line_ms(l);
			if (load >
			    (rise_fall_loads[i].p[0].value + rise_fall_loads[i].p[1].value) / 2)
				last_high = t;
			else if (t > E.w_ms + fall && t < p[1].t_ms &&
			         (int)jnum(l, "desired", -1) == want[i].high && jstr(l, "rule") &&
			         strcmp(jstr(l, "rule"), "stabilization window") == 0)
				held = true;
		}
		cr_assert_gt(last_high, 0, "%s: no decision saw the high load", name);
		cr_log_info(
		    "%s: up to %d at W+%.2fs, last high load seen at W+%.2fs, down to %d at "
		    "W+%.2fs",
		    name, p[0].replicas, since_w(p[0].t_ms), since_w(last_high), p[1].replicas,
		    since_w(p[1].t_ms));
		cr_expect_geq(p[0].t_ms, E.w_ms + rise - 50, "%s: scaled up before the load rose",
		              name);
		cr_expect_lt(p[0].t_ms, E.w_ms + fall, "%s: the scale-up came after the fall",
		             name);
		cr_expect_geq(
		    p[1].t_ms, last_high + window - 500,
		    "%s: scaled down %.2f s after the last high recommendation, within the "
		    "%lld ms window",
		    name, (double)(p[1].t_ms - last_high) / 1000.0, (long long)window);
		cr_expect_lt(p[1].t_ms, E.w_ms + fall + window + 8000,
		             "%s: the scale-down came too late (W+%.2fs)", name,
		             since_w(p[1].t_ms));
		cr_expect(held,
		          "%s: no decision between the fall and the scale-down was held by the "
		          "stabilization window",
		          name);
		cr_expect_eq(fake_api_deployment_replicas(&E.fake, NS, name), want[i].low);
	}
	cJSON_Delete(lines);
}

/* High until W+7 s, then low; Prometheus is down from W+5 s to W+13 s. */
static const struct load outage_loads[] = {
    {"web", {{0, 600}, {7, 200}}, 2},
    {"api", {{0, 900}, {7, 300}}, 2},
};

/* Sleeps until the wall clock reaches <t_ms>, checking that prescale stays up. */
static void run_until_wall(int64_t t_ms)
{
	int64_t left = t_ms - wall_ms();
	if (left > 0)
		run_for(left);
}

Test(run_e2e, with_prometheus_down_nothing_scales_down_errors_are_counted_and_decisions_resume)
{
	static const struct deploy deps[] = {{"web", 2}, {"api", 3}};
	/* web 600 -> 6, then 200 -> 2; api 900 -> 9, then 300 -> 3. web has a fallback section
	 * (hold after 3 failed ticks), api none. */
	static const struct {
		int high, low;
		bool fallback;
	} want[] = {{6, 2, true}, {9, 3, false}};
	const int64_t outage_from = 5000, fall = 7000, outage_to = 13000, window = 3000;
	setup("rbac.json", deps, 2, outage_loads, 2);
	render("outage.yaml", E.config);
	prescale_start(E.config, NULL, "run.log");
	const char *names[] = {"web", "api"};
	wait_patched(names, 2, 1, 20000);
	cr_assert_lt(wall_ms(), E.w_ms + outage_from - 500,
	             "the harness was too slow: the scale-ups came at W+%.2fs, after the outage "
	             "was due",
	             since_w(wall_ms()));

	/* Prometheus goes away while the load is high; the load falls during the outage, and
	 * the 3 s window runs out twice over before Prometheus is back: a controller that took
	 * missing data for zero, or for "no change needed", would scale down in the dark. */
	run_until_wall(E.w_ms + outage_from);
	int64_t t_down = wall_ms();
	prom_server_pause(&E.prom);
	run_until_wall(E.w_ms + outage_to);
	int64_t t_back = wall_ms();
	prom_server_resume(&E.prom, NULL, NULL, NULL);
	int64_t t_ready = wall_ms();
	cr_log_info("Prometheus down from W+%.2fs to W+%.2fs (ready again at W+%.2fs); the load "
	            "fell at W+%.2fs",
	            since_w(t_down), since_w(t_back), since_w(t_ready), since_w(E.w_ms + fall));
	wait_patched(names, 2, 2, 20000);
	finish();

	cJSON *lines = log_lines(E.log);
	for (size_t i = 0; i < 2; i++) {
		const char *name = deps[i].name, *key = key_of(name);
		struct req p[MAX_REQS];
		size_t n = patches(name, p, MAX_REQS);
		cr_assert_eq(n, 2,
		             "%s: %zu PATCHes, want the scale-up and, after the outage, the "
		             "scale-down",
		             name, n);
		cr_expect_eq(p[0].replicas, want[i].high);
		cr_expect_eq(p[1].replicas, want[i].low);
		cr_expect_lt(p[0].t_ms, t_down);
		cr_expect_gt(p[1].t_ms, t_back, "%s: scaled down at W+%.2fs, during the outage",
		             name, since_w(p[1].t_ms));
		cr_expect_lt(p[1].t_ms, t_ready + window + 5000,
		             "%s: the decisions did not resume (the scale-down came at W+%.2fs)",
		             name, since_w(p[1].t_ms));
		cr_log_info("%s: up to %d at W+%.2fs, down to %d at W+%.2fs", name, p[0].replicas,
		            since_w(p[0].t_ms), p[1].replicas, since_w(p[1].t_ms));
		/* During the outage every tick failed with the target's key and was counted; web's
		 * fallback held the count after 3 of them, api's missing metric held it. */
		int failed = 0, held = 0, max_failures = 0;
		bool fallback = false, recovered = false;
		cJSON *l;
		cJSON_ArrayForEach(l, lines)
		{
			int64_t t = line_ms(l);
			if (is_line(l, "tick failed", key) && t > t_down && t < t_ready + 1000) {
				const char *m = jstr(l, "message");
				cr_expect(m && strstr(m, key) && strstr(m, E.prom.url),
				          "%s: a failure without the target's key or the URL: %s",
				          name, m ? m : "(none)");
				failed++;
			}
			if (!is_line(l, "decision", key))
				continue;
			int failures = (int)jnum(l, "failures", 0);
			if (failures > max_failures)
				max_failures = failures;
			if (t > t_down && t < t_back) {
				const char *err = jstr(l, "error"), *rule = jstr(l, "rule");
				cr_expect(
				    err && strstr(err, key) && strstr(err, "metric load"),
				    "%s: a decision in the outage without the metric's error: %s",
				    name, err ? err : "(none)");
				cr_expect_eq((int)jnum(l, "desired", -1), want[i].high,
				             "%s: the outage changed the count", name);
				cr_expect(!jtrue(l, "write"), "%s: a write was due in the outage",
				          name);
				if (!want[i].fallback || failures < 3)
					cr_expect_str_eq(rule, "metrics failed", "%s", name);
				else
					cr_expect_str_eq(rule, "fallback", "%s", name);
				held++;
				fallback |= jtrue(l, "fallback");
			}
			if (t > t_back)
				recovered |= jtrue(l, "recovered");
		}
		cr_log_info("%s: %d failed ticks logged, failures counted up to %d, %d decisions "
		            "held in the outage",
		            name, failed, max_failures, held);
		cr_expect_geq(failed, 5, "%s: the outage's failed ticks are logged", name);
		cr_expect_geq(max_failures, 5, "%s: consecutive failures are counted", name);
		cr_expect_eq(fallback, want[i].fallback, "%s: the fallback (hold) after 3 failures",
		             name);
		cr_expect_eq(recovered, want[i].fallback,
		             "%s: the first good tick ends the fallback", name);
		cr_expect_eq(fake_api_deployment_replicas(&E.fake, NS, name), want[i].low);
	}
	cJSON_Delete(lines);
}

Test(run_e2e, a_scale_patch_answered_409_429_or_500_is_retried_until_it_lands)
{
	static const struct deploy deps[] = {{"web", 2}, {"api", 2}};
	static const struct load loads[] = {{"web", {{0, 500}}, 1}, {"api", {{0, 700}}, 1}};
	setup("rbac.json", deps, 2, loads, 2);
	/* web (a tick a second): a conflict, then 429 with Retry-After: 1 (longer than what is
	 * left of its tick), then a 500. api (every 3 s): 429 with Retry-After: 1, then two 500s,
	 * all within one tick. Faults apply in the order given. */
	fake_api_add_faults(
	    &E.fake,
	    "[{\"kind\":\"status\",\"code\":409,\"method\":\"PATCH\",\"path\":\"/deployments/web/"
	    "scale$\",\"count\":1,\"message\":\"Operation cannot be fulfilled on deployments.apps "
	    "\\\"web\\\": the object has been modified; please apply your changes to the latest "
	    "version and try again\"},"
	    "{\"kind\":\"429\",\"method\":\"PATCH\",\"path\":\"/deployments/web/scale$\",\"count\":"
	    "1,\"retryAfter\":1},"
	    "{\"kind\":\"500\",\"method\":\"PATCH\",\"path\":\"/deployments/web/scale$\",\"count\":"
	    "1},"
	    "{\"kind\":\"429\",\"method\":\"PATCH\",\"path\":\"/deployments/api/scale$\",\"count\":"
	    "1,\"retryAfter\":1},"
	    "{\"kind\":\"500\",\"method\":\"PATCH\",\"path\":\"/deployments/api/scale$\",\"count\":"
	    "2}]");
	render("faults.yaml", E.config);
	prescale_start(E.config, NULL, "run.log");
	const char *names[] = {"web", "api"};
	wait_patched(names, 2, 1, 20000);
	run_for(3500); /* a tick of api and three of web after the write: nothing more to do */
	finish();

	static const struct {
		int desired;
		int statuses[4];
	} want[] = {{5, {409, 429, 500, 200}}, {7, {429, 500, 500, 200}}};
	cJSON *lines = log_lines(E.log);
	for (size_t i = 0; i < 2; i++) {
		const char *name = deps[i].name, *key = key_of(name);
		struct req p[MAX_REQS];
		size_t n = patches(name, p, MAX_REQS);
		cr_assert_eq(n, 4, "%s: %zu PATCHes, want 3 failed and the one that landed", name,
		             n);
		for (size_t k = 0; k < 4; k++) {
			cr_expect_eq(p[k].status, want[i].statuses[k], "%s: PATCH %zu answered %d",
			             name, k + 1, p[k].status);
			cr_expect_eq(p[k].replicas, want[i].desired, "%s: PATCH %zu asked %d", name,
			             k + 1, p[k].replicas);
			if (k > 0)
				cr_log_info("%s: PATCH %zu (%d) %lld ms after the previous one",
				            name, k + 1, p[k].status,
				            (long long)(p[k].t_ms - p[k - 1].t_ms));
		}
		/* api: the client waits out Retry-After (1 s) within the tick. web: its 1 s tick
		 * has no room for that wait, so the client gives up and the next tick, one interval
		 * after the last, writes again. (That retry is not held back until Retry-After has
		 * passed: the client keeps no "not before" across calls.) */
		int64_t gap = i == 0 ? p[2].t_ms - p[1].t_ms : p[1].t_ms - p[0].t_ms;
		if (i == 0)
			cr_expect(
			    gap > 500 && gap < 2500,
			    "web: the write after the 429 came %lld ms later, not at the next tick",
			    (long long)gap);
		else
			cr_expect_geq(gap, 1000 - 20,
			              "api: the retry after the 429 did not wait for Retry-After "
			              "(%lld ms)",
			              (long long)gap);
		/* Nothing lost: the stored count is the decision's. */
		int desired = -1, failed_writes = 0;
		cJSON *l;
		cJSON_ArrayForEach(l, lines)
		{
			if (!is_line(l, "decision", key))
				continue;
			desired = (int)jnum(l, "desired", -1);
			if (jtrue(l, "write") && !jtrue(l, "wrote")) {
				/* web's failed writes say why, in order. */
				static const char *const why[] = {
				    "409 Conflict: Operation cannot be "
				    "fulfilled",
				    "429 Too Many Requests"};
				const char *err = jstr(l, "error");
				cr_expect(err && strstr(err, key),
				          "%s: a failed write without its error", name);
				if (i == 0 && failed_writes < 2)
					cr_expect(err && strstr(err, why[failed_writes]),
					          "%s: failed write %d: %s", name,
					          failed_writes + 1, err ? err : "(none)");
				failed_writes++;
			}
		}
		cr_expect_eq(desired, want[i].desired, "%s: the last decision", name);
		cr_expect_eq(fake_api_deployment_replicas(&E.fake, NS, name), desired,
		             "%s: the fake holds what prescale decided", name);
		/* web: the 409 and the 429 each failed a tick. api's retries fit in its 3 s tick
		 * (1 s Retry-After, then at most 0.4 s and 0.8 s of backoff), unless the machine
		 * is so slow that the client gives the last one up to the next tick. */
		if (i == 0)
			cr_expect_eq(failed_writes, 2, "%s: %d failed writes logged", name,
			             failed_writes);
		else
			cr_expect_leq(failed_writes, 1, "%s: %d failed writes logged", name,
			              failed_writes);
	}
	cJSON_Delete(lines);
}

Test(run_e2e, a_target_forbidden_to_scale_logs_its_error_and_the_others_keep_scaling)
{
	static const struct deploy deps[] = {{"web", 2}, {"api", 2}, {"billing", 2}};
	/* Two steps up at W and W+6 s for web (5, 8) and api (4, 6); billing wants 5 all along
	 * but may not patch its scale (rbac-billing-forbidden.json). */
	static const struct load loads[] = {
	    {"web", {{0, 500}, {6, 800}}, 2},
	    {"api", {{0, 400}, {6, 600}}, 2},
	    {"billing", {{0, 500}}, 1},
	};
	setup("rbac-billing-forbidden.json", deps, 3, loads, 3);
	render("forbidden.yaml", E.config);
	prescale_start(E.config, NULL, "run.log");
	const char *names[] = {"web", "api"};
	wait_patched(names, 2, 2, 30000);
	finish();

	static const int steps[2][2] = {{5, 8}, {4, 6}};
	for (size_t i = 0; i < 2; i++) {
		struct req p[MAX_REQS];
		size_t n = patches(names[i], p, MAX_REQS);
		cr_assert_eq(n, 2, "%s: %zu PATCHes", names[i], n);
		cr_expect_eq(p[0].replicas, steps[i][0]);
		cr_expect_eq(p[1].replicas, steps[i][1]);
		cr_expect_eq(p[1].status, 200);
		cr_expect_eq(fake_api_deployment_replicas(&E.fake, NS, names[i]), steps[i][1]);
	}
	struct req p[MAX_REQS];
	size_t n = patches("billing", p, MAX_REQS);
	cr_expect_geq(n, 3, "billing: one PATCH a tick, each refused");
	for (size_t k = 0; k < n && k < MAX_REQS; k++) {
		cr_expect_eq(p[k].status, 403);
		cr_expect_eq(p[k].replicas, 5);
	}
	cr_expect_eq(fake_api_deployment_replicas(&E.fake, NS, "billing"), 2);

	/* billing's error is logged with its key; the others' decisions carry no error. */
	const char *billing = key_of("billing");
	int failed = 0, refused = 0;
	cJSON *lines = log_lines(E.log), *l;
	cJSON_ArrayForEach(l, lines)
	{
		const char *err = jstr(l, "error");
		if (is_line(l, "tick failed", billing)) {
			const char *m = jstr(l, "message");
			cr_expect(m && strstr(m, billing) && strstr(m, "forbidden"), "%s",
			          m ? m : "(none)");
			cr_expect_str_eq(err, "EFORBIDDEN");
			failed++;
		} else if (is_line(l, "decision", billing)) {
			if (jtrue(l, "write") && !jtrue(l, "wrote") && err &&
			    strstr(err, billing) &&
			    strstr(err, "cannot patch resource \"deployments/scale\""))
				refused++;
		} else if (is_line(l, "decision", NULL)) {
			cr_expect_null(err, "%s: %s", jstr(l, "target"), err);
		}
	}
	cJSON_Delete(lines);
	cr_log_info("billing: %zu PATCHes refused, %d failed ticks logged", n, failed);
	cr_expect_geq(failed, 3);
	cr_expect_geq(refused, 3, "billing's decisions say the write was forbidden");
}

/* Waits for a log line <msg> whose integer field <field> is at least <min> (field NULL: any)
 * after line <after> (the count of lines seen before); returns a copy (cJSON_Delete it). */
static cJSON *wait_line(const char *msg, const char *field, int min, int after, int64_t ms)
{
	int64_t deadline = mono_ms() + ms;
	for (;;) {
		cJSON *all = log_lines(E.log);
		int k = 0;
		cJSON *l, *found = NULL;
		cJSON_ArrayForEach(l, all)
		{
			if (k++ < after || !is_line(l, msg, NULL))
				continue;
			if (!field || (int)jnum(l, field, -1) >= min) {
				found = cJSON_Duplicate(l, true);
				break;
			}
		}
		cJSON_Delete(all);
		if (found)
			return found;
		cr_assert(poll_wait(deadline), "no log line \"%s\" within %lld ms; see %s", msg,
		          (long long)ms, E.log);
	}
}

static int n_lines(void)
{
	cJSON *all = log_lines(E.log);
	int n = cJSON_GetArraySize(all);
	cJSON_Delete(all);
	return n;
}

/* Requests for deployment <name>'s scale after <seq>. */
static size_t scale_requests_after(const char *name, int seq)
{
	char path[256];
	struct req r[MAX_REQS];
	scale_path(path, sizeof(path), name);
	return requests(NULL, path, seq, r, MAX_REQS);
}

static const struct load reload_loads[] = {
    {"web", {{0, 400}}, 1},
    {"api", {{0, 300}}, 1},
    {"search", {{0, 500}}, 1},
};
static const struct deploy reload_deps[] = {{"web", 2}, {"api", 2}, {"search", 1}};

Test(run_e2e, sighup_reloads_added_removed_and_changed_targets_and_a_bad_file_keeps_the_old_ones)
{
	setup("rbac.json", reload_deps, 3, reload_loads, 3);
	render("reload-v1.yaml", E.config);
	prescale_start(E.config, NULL, "run.log");
	const char *v1[] = {"web", "api"};
	wait_patched(v1, 2, 1, 20000); /* web 4, api 3 */

	/* api removed, search added, web changed (a target of 50: 400 / 50 = 8). The watcher
	 * may see the new file before the signal does: then that reload does the work and the
	 * SIGHUP one finds nothing to change. */
	int before = n_lines();
	render("reload-v2.yaml", E.config);
	cr_assert_eq(kill(E.pid, SIGHUP), 0);
	cJSON *rl = wait_line("configuration reloaded", "removed", 1, before, 10000);
	cr_expect_eq((int)jnum(rl, "added", -1), 1);
	cr_expect_eq((int)jnum(rl, "removed", -1), 1);
	cr_expect_eq((int)jnum(rl, "changed", -1), 1, "web");
	cJSON_Delete(rl);
	int seq = last_seq(); /* the reload joined api's worker before it logged */
	const char *search[] = {"search"}, *web[] = {"web"};
	wait_patched(search, 1, 1, 10000);
	wait_patched(web, 1, 2, 10000);
	cJSON *rc = wait_line("target reconfigured", NULL, 0, before, 1000);
	cr_expect_str_eq(jstr(rc, "target"), key_of("web"));
	cr_expect(jtrue(rc, "history_kept"), "web's query did not change: its state is kept");
	cJSON_Delete(rc);
	bool by_signal = false;
	cJSON *all = log_lines(E.log), *l;
	int k = 0;
	cJSON_ArrayForEach(l, all)
	{
		const char *trig = jstr(l, "trigger");
		if (k++ >= before && is_line(l, "configuration reloaded", NULL) && trig &&
		    strcmp(trig, "SIGHUP") == 0)
			by_signal = true;
	}
	cJSON_Delete(all);
	if (!by_signal) {
		cJSON *s = wait_line("configuration reloaded", NULL, 0, before + 1, 5000);
		by_signal = jstr(s, "trigger") && strcmp(jstr(s, "trigger"), "SIGHUP") == 0;
		cJSON_Delete(s);
	}
	cr_expect(by_signal, "no reload triggered by SIGHUP");
	run_for(3000);
	cr_expect_eq(requests_about("api", seq), 0, "the removed target still gets requests");
	cr_expect_geq(scale_requests_after("web", seq), 2, "web stopped ticking");
	cr_expect_eq(fake_api_deployment_replicas(&E.fake, NS, "search"), 5);
	cr_expect_eq(fake_api_deployment_replicas(&E.fake, NS, "web"), 8);

	/* A syntax error: rejected with file:line:col, the running targets carry on. */
	before = n_lines();
	render("reload-bad.yaml", E.config);
	cr_assert_eq(kill(E.pid, SIGHUP), 0);
	cJSON *rej = wait_line("configuration reload rejected; the old one keeps running", NULL, 0,
	                       before, 10000);
	char want[512];
	snprintf(want, sizeof(want),
	         "%s:29:14: malformed YAML: did not find expected ',' or '}' (while parsing a flow "
	         "mapping at line 28, column 19)",
	         E.config);
	cr_expect_str_eq(jstr(rej, "error"), want);
	cJSON_Delete(rej);
	seq = last_seq();
	run_for(3000);
	cr_expect_geq(scale_requests_after("web", seq), 2, "web stopped after the bad reload");
	cr_expect_geq(scale_requests_after("search", seq), 2,
	              "search stopped after the bad reload");
	cr_expect_eq(requests_about("api", seq), 0);
	finish();
}

Test(run_e2e, a_configmap_directory_whose_data_symlink_is_swapped_is_reloaded_without_a_signal)
{
	setup("rbac.json", reload_deps, 3, reload_loads, 3);
	/* The layout of a ConfigMap volume: ..<timestamp>/ with the files, ..data -> it, and
	 * the visible names as symlinks through ..data. */
	char dir[192], path[256], target[256];
	snprintf(dir, sizeof(dir), "%s", prom_server_path(&E.prom, "config"));
	cr_assert_eq(mkdir(dir, 0700), 0);
	snprintf(path, sizeof(path), "%s/..2026_01_01_00_00_00.1", dir);
	cr_assert_eq(mkdir(path, 0700), 0);
	snprintf(path, sizeof(path), "%s/..2026_01_01_00_00_00.1/prescale.yaml", dir);
	render("reload-v1.yaml", path);
	snprintf(path, sizeof(path), "%s/..data", dir);
	cr_assert_eq(symlink("..2026_01_01_00_00_00.1", path), 0);
	snprintf(path, sizeof(path), "%s/prescale.yaml", dir);
	cr_assert_eq(symlink("..data/prescale.yaml", path), 0);
	prescale_start(dir, NULL, "run.log");
	const char *v1[] = {"web", "api"};
	wait_patched(v1, 2, 1, 20000);

	/* The kubelet's update: a new timestamped directory, a new ..data link renamed over the
	 * old one (atomic), the old directory removed. No signal. */
	int before = n_lines();
	snprintf(path, sizeof(path), "%s/..2026_01_01_00_05_00.2", dir);
	cr_assert_eq(mkdir(path, 0700), 0);
	snprintf(path, sizeof(path), "%s/..2026_01_01_00_05_00.2/prescale.yaml", dir);
	render("reload-v2.yaml", path);
	snprintf(path, sizeof(path), "%s/..data_tmp", dir);
	cr_assert_eq(symlink("..2026_01_01_00_05_00.2", path), 0);
	snprintf(target, sizeof(target), "%s/..data", dir);
	cr_assert_eq(rename(path, target), 0);
	snprintf(path, sizeof(path), "%s/..2026_01_01_00_00_00.1/prescale.yaml", dir);
	cr_assert_eq(unlink(path), 0);
	snprintf(path, sizeof(path), "%s/..2026_01_01_00_00_00.1", dir);
	cr_assert_eq(rmdir(path), 0);
	int64_t t_swap = mono_ms();

	cJSON *rl = wait_line("configuration reloaded", NULL, 0, before, 10000);
	cr_log_info("the swap was noticed after %lld ms", (long long)(mono_ms() - t_swap));
	cr_expect_str_eq(jstr(rl, "trigger"), "file change");
	cr_expect_eq((int)jnum(rl, "added", -1), 1);
	cr_expect_eq((int)jnum(rl, "removed", -1), 1);
	cr_expect_eq((int)jnum(rl, "changed", -1), 1);
	cJSON_Delete(rl);
	int seq = last_seq();
	const char *search[] = {"search"}, *web[] = {"web"};
	wait_patched(search, 1, 1, 10000);
	wait_patched(web, 1, 2, 10000);
	run_for(1500);
	cr_expect_eq(requests_about("api", seq), 0, "the removed target still gets requests");
	cr_expect_eq(fake_api_deployment_replicas(&E.fake, NS, "search"), 5);
	cr_expect_eq(fake_api_deployment_replicas(&E.fake, NS, "web"), 8);
	finish();
}

Test(run_e2e, a_restart_inside_the_stabilization_window_does_not_bring_the_scale_down_forward)
{
	static const struct deploy deps[] = {{"web", 2}};
	/* 600 (6 replicas) until W+7 s, then 200 (2); a 6 s scale-down window. */
	static const struct load loads[] = {{"web", {{0, 600}, {7, 200}}, 2}};
	const int64_t fall = 7000, window = 6000;
	const char *key = key_of("web");
	setup("rbac.json", deps, 1, loads, 1);
	render("restart.yaml", E.config);
	prescale_start(E.config, NULL, "run-1.log");
	const char *names[] = {"web"};
	wait_patched(names, 1, 1, 20000);
	/* Wait for a decision that sees the low load and holds 6 in the window. */
	int64_t deadline = mono_ms() + 20000;
	int64_t last_high = 0;
	bool holding = false;
	while (!holding) {
		cJSON *all = log_lines(E.log), *l;
		cJSON_ArrayForEach(l, all)
		{
			if (!is_line(l, "decision", key))
				continue;
			double load = line_load(l, 2);
			if (load > 400)
				last_high = line_ms(l);
			else if (load < 400 && (int)jnum(l, "desired", -1) == 6)
				holding = true;
		}
		cJSON_Delete(all);
		if (!holding)
			cr_assert(poll_wait(deadline), "no decision held the scale-down; see %s",
			          E.log);
	}
	int64_t took;
	int rc = prescale_stop(&took);
	cr_expect_eq(rc, 0);
	int64_t t_restart = wall_ms();
	prescale_start(E.config, NULL, "run-2.log");
	cr_log_info("last high load seen at W+%.2fs; stopped in %lld ms; restarted at W+%.2fs",
	            since_w(last_high), (long long)took, since_w(t_restart));
	cr_assert_lt(t_restart, last_high + window,
	             "the harness was too slow: the restart at W+%.2fs is not within the window "
	             "that ends at W+%.2fs",
	             since_w(t_restart), since_w(last_high + window));
	wait_patched(names, 1, 2, 30000);
	finish();

	struct req p[MAX_REQS];
	size_t n = patches("web", p, MAX_REQS);
	cr_assert_eq(n, 2, "%zu PATCHes: want the scale-up and one scale-down", n);
	cr_expect_eq(p[0].replicas, 6);
	cr_expect_eq(p[1].replicas, 2);
	cr_log_info("web: down to 2 at W+%.2fs", since_w(p[1].t_ms));
	cr_expect_gt(p[1].t_ms, t_restart, "the first process scaled down");
	cr_expect_geq(p[1].t_ms, last_high + window - 500,
	              "the restarted controller scaled down %.2f s after the last high "
	              "recommendation, inside the %lld ms window",
	              (double)(p[1].t_ms - last_high) / 1000.0, (long long)window);
	cr_expect_gt(p[1].t_ms, E.w_ms + fall);
	/* It did scale down in the end: one window after the restart at most, plus slack. */
	cr_expect_lt(p[1].t_ms, t_restart + window + 6000, "the scale-down never came (W+%.2fs)",
	             since_w(p[1].t_ms));
	/* The new process saw the low load and held 6 before it let go. */
	int held = 0;
	cJSON *all = log_lines(E.log), *l;
	cJSON_ArrayForEach(l, all)
	{
		if (is_line(l, "decision", key) && line_load(l, 2) < 400 &&
		    line_ms(l) < p[1].t_ms && (int)jnum(l, "desired", -1) == 6)
			held++;
	}
	cJSON_Delete(all);
	cr_expect_geq(held, 1, "the restarted controller held no decision");
}

Test(run_e2e, dry_run_never_writes_and_still_logs_every_decision)
{
	static const struct deploy deps[] = {{"web", 2}, {"api", 4}};
	/* web 600 -> 6 (up); api 100 -> 1 (down, no window). */
	static const struct load loads[] = {{"web", {{0, 600}}, 1}, {"api", {{0, 100}}, 1}};
	static const int desired[] = {6, 1};
	setup("rbac.json", deps, 2, loads, 2);
	render("dry-run.yaml", E.config);
	prescale_start(E.config, "--dry-run", "run.log");
	int64_t deadline = mono_ms() + 20000;
	while ((count_lines("decision", key_of("web")) < 5 ||
	        count_lines("decision", key_of("api")) < 5) &&
	       poll_wait(deadline))
		;
	finish();

	cJSON *entries;
	cJSON *root = fake_api_log(&E.fake, &entries);
	cJSON *e;
	int gets = 0;
	cJSON_ArrayForEach(e, entries)
	{
		const char *m = jstr(e, "method");
		cr_expect(m && strcmp(m, "GET") == 0, "a dry run sent %s %s", m, jstr(e, "path"));
		gets++;
	}
	cJSON_Delete(root);
	cr_expect_geq(gets, 10);
	cJSON *lines = log_lines(E.log);
	for (size_t i = 0; i < 2; i++) {
		const char *key = key_of(deps[i].name);
		int n = 0;
		cJSON *l;
		cJSON_ArrayForEach(l, lines)
		{
			if (!is_line(l, "decision", key))
				continue;
			n++;
			cr_expect_str_eq(jstr(l, "mode"), "dry-run");
			cr_expect_eq((int)jnum(l, "current", -1), deps[i].replicas);
			cr_expect_eq((int)jnum(l, "desired", -1), desired[i]);
			cr_expect(jtrue(l, "write"), "%s: the write is due", key);
			cr_expect(!jtrue(l, "wrote"), "%s: a dry run wrote", key);
		}
		cr_expect_geq(n, 5, "%s: %d decisions logged", key, n);
		cr_expect_eq(fake_api_deployment_replicas(&E.fake, NS, deps[i].name),
		             deps[i].replicas);
	}
	cJSON_Delete(lines);
}

#define FLEET 30

Test(run_e2e, sigterm_stops_thirty_targets_and_a_blocked_request_within_two_seconds)
{
	/* 30 targets a second, and one every 30 s whose first tick comes at once (its name is
	 * picked for a jitter under 300 ms) and hangs in a GET of its scale that the fake
	 * answers after 20 s: the stop must cancel that transfer, not wait for it. */
	char slow[64] = "";
	for (int k = 0; k < 1000 && !slow[0]; k++) {
		char key[128];
		snprintf(key, sizeof(key), NS "/Deployment/slow-%d", k);
		if (rt_jitter_ms(0, key, 30000) < 300)
			snprintf(slow, sizeof(slow), "slow-%d", k);
	}
	cr_assert(slow[0], "no name with a short jitter");
	static char names[FLEET][16];
	struct deploy deps[FLEET + 1];
	for (int i = 0; i < FLEET; i++) {
		snprintf(names[i], sizeof(names[i]), "svc-%02d", i);
		deps[i] = (struct deploy){names[i], 1};
	}
	deps[FLEET] = (struct deploy){slow, 1};
	static const struct load loads[] = {{"fleet", {{0, 100}}, 1}};
	setup("rbac.json", deps, FLEET + 1, loads, 1);
	char fault[256];
	snprintf(fault, sizeof(fault),
	         "{\"kind\":\"delay\",\"method\":\"GET\",\"path\":\"/deployments/%s/scale$\","
	         "\"delayMs\":20000,\"count\":-1}",
	         slow);
	fake_api_add_faults(&E.fake, fault);

	struct ps_buf b;
	ps_buf_init(&b, 1 << 20);
	cr_assert_eq(ps_buf_appendf(&b,
	                            "apiVersion: prescale.dev/v1alpha1\nkind: ControllerConfig\n"
	                            "prometheus: {url: \"%s\"}\nkubernetes: {qps: 500, burst: "
	                            "500}\nlisten: \"%s\"\ndefaults: {interval: 1s}\n",
	                            E.prom.url, E.listen),
	             PS_OK);
	for (int i = 0; i <= FLEET; i++)
		cr_assert_eq(ps_buf_appendf(
		                 &b,
		                 "---\napiVersion: prescale.dev/v1alpha1\nkind: Autoscaler\n"
		                 "metadata: {name: %s, namespace: " NS "}\nspec:\n"
		                 "  scaleTargetRef: {kind: Deployment, name: %s}\n"
		                 "  maxReplicas: 10\n%s  metrics:\n    - name: load\n"
		                 "      query: sum(e2e_load{app=\"fleet\"})\n"
		                 "      target: {averageValue: \"100\"}\n",
		                 deps[i].name, deps[i].name, i == FLEET ? "  interval: 30s\n" : ""),
		             PS_OK);
	write_atomically(E.config, ps_buf_cstr(&b));
	ps_buf_release(&b);

	prescale_start(E.config, NULL, "run.log");
	/* Every fast target has decided (so every worker runs) and the slow one is in its GET. */
	int64_t deadline = mono_ms() + 20000;
	int decided = 0;
	while (decided < FLEET) {
		cJSON *all = log_lines(E.log), *l;
		bool seen[FLEET] = {false};
		decided = 0;
		cJSON_ArrayForEach(l, all)
		{
			const char *t = jstr(l, "target");
			int i;
			if (is_line(l, "decision", NULL) && t &&
			    sscanf(t, NS "/Deployment/svc-%d", &i) == 1 && i >= 0 && i < FLEET &&
			    !seen[i]) {
				seen[i] = true;
				decided++;
			}
		}
		cJSON_Delete(all);
		if (decided < FLEET)
			cr_assert(poll_wait(deadline), "%d of %d targets decided; see %s", decided,
			          FLEET, E.log);
	}
	run_for(1000);
	cr_expect_eq(count_lines("decision", key_of(slow)), 0, "the slow target's tick is blocked");

	int64_t took;
	int rc = prescale_stop(&took);
	fprintf(stderr,
	        "run_e2e: SIGTERM with %d targets, one blocked in a request: exit status %d after "
	        "%lld ms\n",
	        FLEET + 1, rc, (long long)took);
	cr_expect_eq(rc, 0);
	cr_expect_lt(took, STOP_BOUND_MS, "the process took %lld ms to exit", (long long)took);
	/* The slow target's request was canceled by the stop, not waited for. */
	cJSON *all = log_lines(E.log), *l;
	bool canceled = false;
	cJSON_ArrayForEach(l, all)
	{
		const char *err = jstr(l, "error");
		if (is_line(l, "tick", key_of(slow)) && err && strstr(err, "scale: canceled"))
			canceled = true;
	}
	cJSON_Delete(all);
	cr_expect(canceled, "no canceled request of %s in the log", slow);
	cJSON *st = wait_line("stopped", "workers", 0, 0, 1000);
	cr_expect_eq((int)jnum(st, "workers", -1), FLEET + 1);
	cr_expect_eq((int)jnum(st, "overdue", -1), 0);
	cr_log_info("stopped: %d workers joined in %d ms, the slowest %s",
	            (int)jnum(st, "workers", -1), (int)jnum(st, "elapsed_ms", -1),
	            jstr(st, "slowest"));
	cJSON_Delete(st);
	finish();
}

/* ---- --once --dry-run against a small cluster ---- */

/* Per pod CPU in cores and per service requests per second (code 200, code 500). */
static const struct {
	const char *app;
	double cores;
	double rps_ok, rps_err;
} cluster_use[] = {
    {"frontend", 0.45, 228, 12},
    {"checkout", 0.075, 57, 3},
    {"catalog", 0.65, 0, 0},
};

#define CLUSTER_STEP_S 15
#define CLUSTER_PAST_S 7200
#define CLUSTER_FUTURE_S 600

/* Counters as cAdvisor and an HTTP server export them, scraped every 15 s: two hours back and
 * ten minutes ahead of W, each rising at the constant rate above (so rate() over any window
 * gives that rate). Each pod has its container's series and the pod cgroup's (container="",
 * which the queries leave out). */
static void write_cluster(FILE *f, void *arg)
{
	const cJSON *objects = arg;
	int64_t w_s = E.w_ms / 1000 / CLUSTER_STEP_S * CLUSTER_STEP_S;
	int64_t n = (CLUSTER_PAST_S + CLUSTER_FUTURE_S) / CLUSTER_STEP_S;
	fprintf(f, "# HELP container_cpu_usage_seconds_total Cumulative cpu time consumed.\n");
	fprintf(f, "# TYPE container_cpu_usage_seconds_total counter\n");
	const cJSON *o;
	cJSON_ArrayForEach(o, cJSON_GetObjectItemCaseSensitive(objects, "items"))
	{
		if (strcmp(jstr(o, "kind"), "Pod") != 0)
			continue;
		const cJSON *md = cJSON_GetObjectItemCaseSensitive(o, "metadata");
		const char *pod = jstr(md, "name");
		const char *app = jstr(cJSON_GetObjectItemCaseSensitive(md, "labels"), "app");
		double cores = 0;
		for (size_t i = 0; i < sizeof(cluster_use) / sizeof(cluster_use[0]); i++)
			if (strcmp(cluster_use[i].app, app) == 0)
				cores = cluster_use[i].cores;
		for (int c = 0; c < 2; c++)
			for (int64_t k = 0; k <= n; k++)
				fprintf(f,
				        "container_cpu_usage_seconds_total{namespace=\"" NS
				        "\",pod=\"%s\","
				        "container=\"%s\",cpu=\"total\"} %.4f %lld\n",
				        pod, c ? "" : app,
				        104729.0 +
				            (cores + (c ? 0.01 : 0)) * (double)(k * CLUSTER_STEP_S),
				        (long long)(w_s - CLUSTER_PAST_S + k * CLUSTER_STEP_S));
	}
	fprintf(f, "# HELP http_requests_total Requests served.\n");
	fprintf(f, "# TYPE http_requests_total counter\n");
	for (size_t i = 0; i < sizeof(cluster_use) / sizeof(cluster_use[0]); i++)
		for (int code = 0; code < 2 && cluster_use[i].rps_ok > 0; code++)
			for (int64_t k = 0; k <= n; k++)
				fprintf(f,
				        "http_requests_total{namespace=\"" NS
				        "\",service=\"%s\",code=\"%s\"}"
				        " %.1f %lld\n",
				        cluster_use[i].app, code ? "500" : "200",
				        7340033.0 + (code ? cluster_use[i].rps_err
				                          : cluster_use[i].rps_ok) *
				                        (double)(k * CLUSTER_STEP_S),
				        (long long)(w_s - CLUSTER_PAST_S + k * CLUSTER_STEP_S));
}

Test(run_e2e, once_dry_run_on_a_small_cluster_prints_what_prescale_would_do)
{
	char path[256];
	snprintf(path, sizeof(path), "%s/rbac.json", RUN_DATA);
	fake_api_start(&E.fake, path, prom_server_path(&E.prom, "fake.log"), 300);
	char *objects = slurp(RUN_DATA "/cluster-objects.json");
	fake_api_put_objects(&E.fake, objects);
	cJSON *parsed = cJSON_Parse(objects);
	ps_free(objects);
	cr_assert_not_null(parsed);
	E.w_ms = wall_ms() / 1000 * 1000;
	prom_server_start(&E.prom, write_cluster, parsed, NULL, NULL);
	cJSON_Delete(parsed);
	fake_api_write_kubeconfig(&E.fake, E.kubeconfig, TOKEN, NS);
	render("cluster.yaml", E.config);

	/* frontend: CPU 0.45 of 0.5 cores = 90% against 70%: ceil(3 x 90/70) = 4; 240 requests
	 *   a second against 50 per pod (80 each on 3): ceil(240/50) = 5; the larger wins, and the
	 *   legacy limit max(2 x 3, 4) = 6 does not bind. Both series have been flat for the two
	 *   hours of history, so every model forecasts the same values: 0.45 cores (4) and 240
	 *   (5), and the 0.8 quantile of zero errors adds nothing.
	 * checkout: CPU 0.075 of 0.25 = 30%: ceil(4 x 30/70) = 2; 60 rps, 15 per pod: ceil(60/50)
	 *   = 2; a scale-down waits out the 5 min window, which holds the current 4.
	 * catalog: CPU 0.65 of 1 = 65%: a ratio of 0.929 is within the 0.1 tolerance: stays 2. */
	static const char want[] =
	    "TARGET                    CURRENT  DESIRED  METRIC  VALUE/TARGET  FORECAST   REASON\n"
	    "shop/Deployment/frontend        3        5  cpu     90%/70%       0.45 -> 4  scale "
	    "up: "
	    "external metric rps above target\n"
	    "                                            rps     80/50 (avg)   240 -> 5\n"
	    "shop/Deployment/checkout        4        4  cpu     30%/70%       -          no "
	    "change: "
	    "ScaleDownStabilized: the metrics ask for 2, the stabilization window holds 4\n"
	    "                                            rps     15/50 (avg)   -\n"
	    "shop/Deployment/catalog         2        2  cpu     65%/70%       -          no "
	    "change: "
	    "every metric within tolerance of its target\n"
	    "\n"
	    "dry run: nothing was written.\n";
	static const struct {
		const char *target;
		int current, desired;
		const char *cells[2];
	} records[] = {
	    {"shop/Deployment/frontend", 3, 5, {"90%/70%", "80/50 (avg)"}},
	    {"shop/Deployment/checkout", 4, 4, {"30%/70%", "15/50 (avg)"}},
	    {"shop/Deployment/catalog", 2, 2, {"65%/70%", NULL}},
	};
	for (int json = 0; json < 2; json++) {
		snprintf(E.log, sizeof(E.log), "%s",
		         prom_server_path(&E.prom, json ? "once-json.log" : "once.log"));
		snprintf(E.out, sizeof(E.out), "%s",
		         prom_server_path(&E.prom, json ? "once-json.out" : "once.out"));
		int out = open(E.out, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
		cr_assert_geq(out, 0);
		/* --listen: should --once ever serve the endpoints, on 127.0.0.1 only. */
		char *argv[] = {PS_BINARY,  "run",    "--once",           "--dry-run",
		                "-c",       E.config, "--kubeconfig",     E.kubeconfig,
		                "--listen", E.listen, json ? "-o" : NULL, "json",
		                NULL};
		pid_t pid = prom_server_spawn(argv, -1, out, E.log);
		close(out);
		int rc = prom_server_child_wait(&pid, 60000);
		char *text = slurp(E.out);
		char *err = slurp(E.log);
		cr_expect_eq(rc, 0, "every target decided; stderr:\n%s", err);
		cr_expect_str_eq(err, "", "--once writes nothing on stderr");
		if (!json) {
			fprintf(stderr,
			        "run_e2e: $ prescale run --once --dry-run -c cluster.yaml\n%s",
			        text);
			cr_expect_str_eq(text, want, "stderr:\n%s", err);
		} else {
			/* The records behind the table say the same. */
			size_t n = 0;
			char *save = NULL;
			for (char *line = strtok_r(text, "\n", &save); line;
			     line = strtok_r(NULL, "\n", &save), n++) {
				cJSON *j = cJSON_Parse(line);
				cr_assert_not_null(j, "%s", line);
				cr_assert_lt(n, 3);
				cr_expect_str_eq(jstr(j, "target"), records[n].target);
				cr_expect_str_eq(jstr(j, "mode"), "dry-run");
				cr_expect_eq((int)jnum(j, "current", -1), records[n].current);
				cr_expect_eq((int)jnum(j, "desired", -1), records[n].desired);
				cr_expect(!jtrue(j, "wrote"));
				cJSON *m = cJSON_GetObjectItemCaseSensitive(j, "metrics");
				for (int k = 0; k < 2 && records[n].cells[k]; k++)
					cr_expect_str_eq(
					    jstr(cJSON_GetArrayItem(m, k), "valueTarget"),
					    records[n].cells[k]);
				cJSON_Delete(j);
			}
			cr_expect_eq(n, 3);
		}
		ps_free(text);
		ps_free(err);
	}
	cJSON *entries;
	cJSON *root = fake_api_log(&E.fake, &entries);
	cJSON *e;
	cJSON_ArrayForEach(e, entries) cr_expect_str_eq(
	    jstr(e, "method"), "GET", "a dry run sent %s %s", jstr(e, "method"), jstr(e, "path"));
	cJSON_Delete(root);
	finish();
}
