/* test_httpd.c -- the HTTP endpoints on a real socket: status codes, content types, JSON bodies,
 * /healthz turning 500 when a worker's tick hangs past its deadline, /readyz following the
 * leader state, 404 and 405, bind errors, the latency observer end to end, concurrent scrapes
 * while workers tick (under TSan too), no thread or descriptor left after a stop, and
 * `prescale status` against a server started here.
 *
 * The server runs on 127.0.0.1 with port 0 (a free one). Requests go out on a plain socket
 * written by hand (so the methods, headers and bodies checked are the bytes on the wire), and
 * through src/http for the observer. The runtime runs a fake job (as test_runtime.c does); the
 * decision records come from tick_decide on a hand-built observation. Each scenario is a plain
 * function returning NULL or the first problem, so that the TSan build runs them from its own
 * main() (Criterion cannot start under TSan; see test_runtime.c).
 */
#include <arpa/inet.h>
#include <criterion/criterion.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <spawn.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#include "../support/scenario.h"
#include "cfg.h"
#include "ctl_job.h"
#include "http.h"
#include "httpd.h"
#include "ps_alloc.h"
#include "ps_clock.h"
#include "runtime.h"
#include "tick.h"

extern char **environ;

/* ---- scenario plumbing ---- */

static char problem[4096];

#define CHECK(cond, ...)                                                                           \
	do {                                                                                       \
		if (!(cond)) {                                                                     \
			int n_ = snprintf(problem, sizeof(problem), "line %d: ", __LINE__);        \
			snprintf(problem + n_, sizeof(problem) - (size_t)n_, __VA_ARGS__);         \
			return problem;                                                            \
		}                                                                                  \
	} while (0)

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

static int count_dir(const char *path)
{
	DIR *d = opendir(path);
	if (!d)
		return -1;
	int n = 0;
	struct dirent *e;
	while ((e = readdir(d)) != NULL)
		if (e->d_name[0] != '.')
			n++;
	closedir(d);
	return n - (strcmp(path, "/proc/self/fd") == 0); /* the DIR's own descriptor */
}

/* The count of <path> once it is <want>, or whatever it is after 2 s. */
static int count_settled(const char *path, int want)
{
	int n = count_dir(path);
	for (int i = 0; i < 200 && n != want; i++) {
		sleep_ms(10);
		n = count_dir(path);
	}
	return n;
}

/* ---- a raw HTTP/1.1 client ---- */

struct resp {
	int status;
	char content_type[128];
	char allow[64];
	char *body; /* malloc'd, NUL-terminated */
	size_t len;
};

static void resp_free(struct resp *r)
{
	free(r->body);
	memset(r, 0, sizeof(*r));
}

static void header_value(const char *head, const char *name, char *out, size_t size)
{
	out[0] = '\0';
	size_t n = strlen(name);
	for (const char *p = head; (p = strstr(p, "\r\n")) != NULL;) {
		p += 2;
		if (strncasecmp(p, name, n) == 0 && p[n] == ':') {
			const char *v = p + n + 1;
			while (*v == ' ')
				v++;
			size_t len = strcspn(v, "\r\n");
			snprintf(out, size, "%.*s", (int)(len < size ? len : size - 1), v);
			return;
		}
	}
}

/* Sends "<method> <path> HTTP/1.1" with Connection: close and reads the whole response. */
static const char *request(uint16_t port, const char *method, const char *path, struct resp *r)
{
	memset(r, 0, sizeof(*r));
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	CHECK(fd >= 0, "socket: %s", strerror(errno));
	struct timeval tv = {.tv_sec = 20};
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons(port)};
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (connect(fd, (struct sockaddr *)&a, sizeof(a)) != 0) {
		close(fd);
		CHECK(false, "connect to port %u: %s", port, strerror(errno));
	}
	/* A POST carries a small body, which the server must not need to read. */
	bool post = strcmp(method, "POST") == 0;
	char req[512];
	int n = snprintf(req, sizeof(req),
	                 "%s %s HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n%s", method,
	                 path, post ? "Content-Length: 4\r\n\r\nbody" : "\r\n");
	CHECK(send(fd, req, (size_t)n, MSG_NOSIGNAL) == n, "send: %s", strerror(errno));
	size_t cap = 1 << 16, len = 0;
	char *buf = malloc(cap);
	CHECK(buf, "out of memory");
	for (;;) {
		if (len + 4096 > cap) {
			cap *= 2;
			char *nb = realloc(buf, cap);
			if (!nb) {
				free(buf);
				close(fd);
				CHECK(false, "out of memory");
			}
			buf = nb;
		}
		ssize_t got = recv(fd, buf + len, cap - len - 1, 0);
		if (got <= 0)
			break;
		len += (size_t)got;
	}
	close(fd);
	buf[len] = '\0';
	char *end = strstr(buf, "\r\n\r\n");
	if (!end || sscanf(buf, "HTTP/1.1 %d", &r->status) != 1) {
		free(buf);
		CHECK(false, "%s %s: no HTTP response (%zu bytes)", method, path, len);
	}
	*end = '\0';
	header_value(buf, "Content-Type", r->content_type, sizeof(r->content_type));
	header_value(buf, "Allow", r->allow, sizeof(r->allow));
	char cl[32];
	header_value(buf, "Content-Length", cl, sizeof(cl));
	r->len = len - (size_t)(end + 4 - buf);
	r->body = malloc(r->len + 1);
	if (!r->body) {
		free(buf);
		CHECK(false, "out of memory");
	}
	memcpy(r->body, end + 4, r->len);
	r->body[r->len] = '\0';
	free(buf);
	if (cl[0] && strcmp(method, "HEAD") != 0)
		CHECK((size_t)strtoul(cl, NULL, 10) == r->len,
		      "%s %s: Content-Length %s, got %zu bytes", method, path, cl, r->len);
	return NULL;
}

/* GET <path>: wants <status> and a Content-Type starting with <ctype>; the body stays in <r>. */
static const char *get_expect(uint16_t port, const char *path, int status, const char *ctype,
                              struct resp *r)
{
	TRY(request(port, "GET", path, r));
	if (r->status != status || strncmp(r->content_type, ctype, strlen(ctype)) != 0) {
		snprintf(problem, sizeof(problem), "GET %s: %d %s, want %d %s; body:\n%.1500s",
		         path, r->status, r->content_type, status, ctype, r->body);
		resp_free(r);
		return problem;
	}
	return NULL;
}

/* ---- the fixture: a configuration, a runtime with a fake job, an env with one record ---- */

static char tmpdir[256];

static const char *config_text =
    "apiVersion: prescale.dev/v1alpha1\n"
    "kind: ControllerConfig\n"
    "prometheus: {url: \"http://127.0.0.1:1\"}\n"
    "---\n"
    "apiVersion: prescale.dev/v1alpha1\n"
    "kind: Autoscaler\n"
    "metadata: {name: web, namespace: shop}\n"
    "spec:\n"
    "  scaleTargetRef: {kind: Deployment, name: web}\n"
    "  maxReplicas: 10\n"
    "  metrics:\n"
    "    - {name: rps, query: 'sum(rate(requests_total{app=\"web\"}[1m]))', "
    "target: {averageValue: 50}}\n"
    "---\n"
    "apiVersion: prescale.dev/v1alpha1\n"
    "kind: Autoscaler\n"
    "metadata: {name: stuck, namespace: shop}\n"
    "spec:\n"
    "  scaleTargetRef: {kind: Deployment, name: stuck}\n"
    "  maxReplicas: 10\n"
    "  metrics:\n"
    "    - {name: rps, query: 'sum(rate(requests_total{app=\"stuck\"}[1m]))', "
    "target: {averageValue: 50}}\n"
    "---\n"
    "apiVersion: prescale.dev/v1alpha1\n"
    "kind: Autoscaler\n"
    "metadata: {name: failing, namespace: batch}\n"
    "spec:\n"
    "  scaleTargetRef: {kind: StatefulSet, name: failing}\n"
    "  maxReplicas: 10\n"
    "  metrics:\n"
    "    - {name: depth, query: 'sum(queue_depth)', target: {averageValue: 5}}\n";

static atomic_bool block_stuck; /* shop/Deployment/stuck's ticks hang while true */
static int job_state;           /* the fake's per-target state: nothing */

static enum ps_err job_start(void *arg, const struct cfg_target *t, void **state,
                             struct ps_diag *diag)
{
	(void)arg;
	(void)t;
	(void)diag;
	*state = &job_state;
	return PS_OK;
}

static enum ps_err job_tick(void *arg, void *state, const struct cfg_target *t,
                            const struct ctl_tick_ctx *tc, struct ps_diag *diag)
{
	(void)arg;
	(void)state;
	if (strcmp(t->key, "shop/Deployment/stuck") == 0)
		while (atomic_load(&block_stuck) && !http_cancel_fired(tc->cancel))
			sleep_ms(5);
	if (strcmp(t->key, "batch/StatefulSet/failing") == 0)
		return ps_diag_set(diag, PS_EUNAVAIL, "prometheus: connection refused");
	return PS_OK;
}

static bool job_reconfigure(void *arg, void *state, const struct cfg_target *old_t,
                            const struct cfg_target *t)
{
	(void)arg;
	(void)state;
	(void)old_t;
	(void)t;
	return true;
}

static void job_stop(void *arg, void *state)
{
	(void)arg;
	(void)state;
}

static const struct ctl_job_ops job_ops = {
    .start = job_start, .tick = job_tick, .reconfigure = job_reconfigure, .stop = job_stop};

struct fx {
	struct cfg *cfg;
	struct rt *rt;
	struct tick_env *env;
	struct tick_target *web; /* registered in env, with a published record */
	struct httpd *hd;
	uint16_t port;
};

static const char *fx_load(struct fx *f)
{
	const char *base = getenv("TMPDIR");
	snprintf(tmpdir, sizeof(tmpdir), "%s/ps_httpd_test.XXXXXX", base && *base ? base : "/tmp");
	CHECK(mkdtemp(tmpdir), "mkdtemp: %s", strerror(errno));
	char path[512];
	snprintf(path, sizeof(path), "%s/prescale.yaml", tmpdir);
	FILE *fp = fopen(path, "w");
	CHECK(fp, "cannot write %s", path);
	fputs(config_text, fp);
	fclose(fp);
	struct ps_diag d;
	ps_diag_clear(&d);
	enum ps_err e = cfg_load(path, &f->cfg, NULL, &d);
	unlink(path);
	rmdir(tmpdir);
	CHECK(e == PS_OK, "cfg_load: %s", ps_diag_msg(&d));
	return NULL;
}

/* shop/Deployment/web decides at 4 replicas on rps 240 against an average of 50:
 * ceil(240 / 50) = 5 (usage ratio 240 / (4 x 50) = 1.2, outside the 0.1 tolerance; the scale-up
 * limits allow 8), and the write is recorded as done (a live PATCH). */
static const char *fx_record(struct fx *f)
{
	struct tick_env_opts eo = {.mode = TICK_WRITE_LIVE, .quiet = true, .keep_records = true};
	struct ps_diag d;
	ps_diag_clear(&d);
	CHECK(tick_env_new(f->cfg, &eo, &f->env, &d) == PS_OK, "tick_env_new: %s", ps_diag_msg(&d));
	const struct cfg_target *t = cfg_target_find(f->cfg, "shop/Deployment/web");
	CHECK(t, "no target web");
	CHECK(tick_target_new(f->env, t, &f->web, &d) == PS_OK, "tick_target_new: %s",
	      ps_diag_msg(&d));
	int64_t now = ps_clock_wall_ms(ps_clock_real());
	struct tick_input in = {.err = PS_OK};
	in.values.time_ms = now;
	in.values.n = 1;
	in.values.v = ps_malloc(sizeof(double));
	in.values.ts = ps_malloc(sizeof(int64_t));
	CHECK(in.values.v && in.values.ts, "out of memory");
	in.values.v[0] = 240;
	in.values.ts[0] = now;
	struct tick_obs o = {.now_ms = now,
	                     .spec_replicas = 4,
	                     .status_replicas = 4,
	                     .selector = ENG_SELECTOR_OK,
	                     .inputs = &in};
	struct tick_record *rec = calloc(1, sizeof(*rec));
	CHECK(rec, "out of memory");
	enum ps_err e = tick_decide(f->web, t, &o, rec, &d);
	tick_values_release(&in.values);
	if (e) {
		free(rec);
		CHECK(false, "tick_decide: %s", ps_diag_msg(&d));
	}
	rec->mode = TICK_WRITE_LIVE;
	if (rec->write)
		tick_target_written(f->web, t, rec, true, NULL);
	tick_target_publish(f->web, rec);
	int32_t desired = rec->desired;
	free(rec);
	CHECK(desired == 5, "web decided %d, want 5", (int)desired);
	return NULL;
}

static const char *fx_runtime(struct fx *f, int64_t interval_ms)
{
	struct rt_opts o = {.interval_ms = interval_ms, .quiet = true};
	struct ps_diag d;
	ps_diag_clear(&d);
	CHECK(rt_start(f->cfg, &job_ops, NULL, &o, &f->rt, &d) == PS_OK, "rt_start: %s",
	      ps_diag_msg(&d));
	return NULL;
}

static const char *fx_server(struct fx *f, const struct httpd_opts *opts)
{
	struct httpd_opts o =
	    opts ? *opts : (struct httpd_opts){.config_loaded = true, .leader = METRICS_LEADER_YES};
	if (!o.listen)
		o.listen = "127.0.0.1:0";
	o.quiet = true;
	struct ps_diag d;
	ps_diag_clear(&d);
	CHECK(httpd_start(&o, &f->hd, &d) == PS_OK, "httpd_start: %s", ps_diag_msg(&d));
	f->port = httpd_port(f->hd);
	CHECK(f->port != 0, "no port");
	httpd_attach(f->hd, f->rt, f->env);
	return NULL;
}

/* Everything: config, record, runtime (ticking every <interval_ms>), server with <opts>. */
static const char *fx_open(struct fx *f, int64_t interval_ms, const struct httpd_opts *opts)
{
	memset(f, 0, sizeof(*f));
	atomic_store(&block_stuck, false);
	TRY(fx_load(f));
	TRY(fx_record(f));
	TRY(fx_runtime(f, interval_ms));
	return fx_server(f, opts);
}

static void fx_close(struct fx *f)
{
	atomic_store(&block_stuck, false);
	if (f->hd)
		httpd_attach(f->hd, NULL, NULL);
	if (f->rt)
		rt_stop(f->rt, 5000, NULL);
	httpd_stop(f->hd);
	rt_free(f->rt);
	tick_target_free(f->web);
	tick_env_free(f->env);
	cfg_unref(f->cfg);
	memset(f, 0, sizeof(*f));
}

static void http_init_once(void)
{
	static bool done;
	if (!done) {
		signal(SIGPIPE, SIG_IGN);
		PS_ASSERT(http_global_init(NULL) == PS_OK);
		done = true;
	}
}

/* ---- scenarios ---- */

static const cJSON *item(const cJSON *o, const char *k)
{
	return cJSON_GetObjectItemCaseSensitive(o, k);
}

static const cJSON *find_target(const cJSON *arr, const char *key)
{
	const cJSON *e;
	cJSON_ArrayForEach(e, arr)
	{
		const cJSON *t = item(e, "target");
		if (cJSON_IsString(t) && strcmp(t->valuestring, key) == 0)
			return e;
	}
	return NULL;
}

/* Waits until every worker has ticked at least once (so /debug/workers has figures). */
static const char *wait_ticks(struct fx *f)
{
	int64_t deadline = mono_ms() + 10000;
	for (;;) {
		struct rt_worker_info w[8];
		size_t n = rt_workers_snapshot(f->rt, w, 8);
		size_t ticked = 0;
		for (size_t i = 0; i < n && i < 8; i++)
			ticked += w[i].ticks > 0;
		if (n && ticked == n)
			return NULL;
		CHECK(mono_ms() < deadline, "workers did not tick within 10 s");
		sleep_ms(10);
	}
}

static const char *endpoints_scenario(void)
{
	http_init_once();
	struct fx f;
	const char *p = fx_open(&f, 100, NULL);
	if (!p)
		p = wait_ticks(&f);
	struct resp r = {0};
	if (!p)
		p = get_expect(f.port, "/metrics", 200, "text/plain; version=0.0.4", &r);
	if (!p) {
		static const char *const want[] = {
		    "\nprescale_leader 1\n",
		    "\nprescale_workers{state=\"idle\"} ",
		    "\nprescale_config_reloads_total{result=\"success\"} 0\n",
		    "\nprescale_target_desired_replicas{namespace=\"shop\",kind=\"Deployment\","
		    "name=\"web\"} 5\n",
		    "\nprescale_target_current_replicas{namespace=\"shop\",kind=\"Deployment\","
		    "name=\"web\"} 4\n",
		    /* 240 in all over 4 pods: 60 per pod, against 50 per pod. */
		    "\nprescale_target_metric_value{namespace=\"shop\",kind=\"Deployment\",name="
		    "\"web\","
		    "metric=\"rps\"} 60\n",
		    "\nprescale_target_metric_target{namespace=\"shop\",kind=\"Deployment\",name="
		    "\"web\",metric=\"rps\"} 50\n",
		    "\nprescale_target_scale_actions_total{namespace=\"shop\",kind=\"Deployment\","
		    "name=\"web\",direction=\"up\"} 1\n",
		    "\nprescale_target_ticks_total{namespace=\"batch\",kind=\"StatefulSet\",name="
		    "\"failing\"} ",
		    "# TYPE prescale_kubernetes_request_duration_seconds histogram\n",
		};
		for (size_t i = 0; i < PS_ARRAY_LEN(want) && !p; i++)
			if (!strstr(r.body, want[i])) {
				snprintf(problem, sizeof(problem), "/metrics lacks %s in:\n%s",
				         want[i], r.body);
				p = problem;
			}
		/* Every failed tick of batch/StatefulSet/failing is an error. */
		const char *e = strstr(r.body, "\nprescale_target_errors_total{namespace=\"batch\","
		                               "kind=\"StatefulSet\",name=\"failing\"} ");
		if (!p && (!e || strtol(strchr(e, '}') + 2, NULL, 10) < 1)) {
			snprintf(problem, sizeof(problem), "no errors for failing in:\n%s", r.body);
			p = problem;
		}
		resp_free(&r);
	}
	if (!p)
		p = get_expect(f.port, "/healthz", 200, "text/plain", &r);
	if (!p) {
		if (strcmp(r.body, "ok\n") != 0) {
			snprintf(problem, sizeof(problem), "/healthz body \"%s\"", r.body);
			p = problem;
		}
		resp_free(&r);
	}
	if (!p)
		p = get_expect(f.port, "/readyz", 200, "text/plain", &r);
	if (!p)
		resp_free(&r);
	if (!p)
		p = get_expect(f.port, "/debug/targets", 200, "application/json", &r);
	if (!p) {
		cJSON *j = cJSON_Parse(r.body);
		const cJSON *web = find_target(j, "shop/Deployment/web");
		if (!cJSON_IsArray(j) || cJSON_GetArraySize(j) != 1 || !web) {
			snprintf(problem, sizeof(problem), "/debug/targets: want one record:\n%s",
			         r.body);
			p = problem;
		} else if (!cJSON_IsNumber(item(web, "desired")) ||
		           item(web, "desired")->valueint != 5 ||
		           item(web, "current")->valueint != 4 ||
		           strcmp(item(web, "outcome")->valuestring, "decided") != 0 ||
		           !cJSON_IsTrue(item(web, "wrote"))) {
			snprintf(problem, sizeof(problem), "/debug/targets: web's record:\n%s",
			         r.body);
			p = problem;
		}
		cJSON_Delete(j);
		resp_free(&r);
	}
	if (!p)
		p = get_expect(f.port, "/debug/workers", 200, "application/json", &r);
	if (!p) {
		cJSON *j = cJSON_Parse(r.body);
		const cJSON *failing = find_target(j, "batch/StatefulSet/failing");
		const cJSON *web = find_target(j, "shop/Deployment/web");
		if (!cJSON_IsArray(j) || cJSON_GetArraySize(j) != 3 || !failing || !web) {
			snprintf(problem, sizeof(problem), "/debug/workers: want 3 workers:\n%s",
			         r.body);
			p = problem;
		} else if (!cJSON_IsString(item(failing, "lastError")) ||
		           strcmp(item(failing, "lastError")->valuestring,
		                  "prometheus: connection refused") != 0 ||
		           strcmp(item(failing, "lastResult")->valuestring, "EUNAVAIL") != 0 ||
		           item(item(failing, "counters"), "errors")->valueint < 1 ||
		           !cJSON_IsNull(item(web, "lastError")) ||
		           item(web, "intervalMs")->valueint != 100 ||
		           !cJSON_IsString(item(web, "lastTickStart")) ||
		           !cJSON_IsString(item(web, "state")) ||
		           !cJSON_IsFalse(item(web, "stuck")) ||
		           item(item(web, "counters"), "ticks")->valueint < 1) {
			snprintf(problem, sizeof(problem), "/debug/workers: fields:\n%s", r.body);
			p = problem;
		}
		cJSON_Delete(j);
		resp_free(&r);
	}
	fx_close(&f);
	return p;
}

static const char *errors_scenario(void)
{
	http_init_once();
	struct fx f;
	const char *p = fx_open(&f, 1000, NULL);
	static const struct {
		const char *method, *path;
		int status;
		const char *allow;
	} cases[] = {
	    {"GET", "/", 404, ""},
	    {"GET", "/nope", 404, ""},
	    {"GET", "/metrics/", 404, ""},
	    {"GET", "/debug", 404, ""},
	    {"POST", "/metrics", 405, "GET, HEAD"},
	    {"DELETE", "/healthz", 405, "GET, HEAD"},
	    {"PUT", "/nope", 405, "GET, HEAD"},
	    {"GET", "/metrics?name[]=x", 200, ""},
	};
	struct resp r;
	for (size_t i = 0; i < PS_ARRAY_LEN(cases) && !p; i++) {
		p = request(f.port, cases[i].method, cases[i].path, &r);
		if (p)
			break;
		if (r.status != cases[i].status || strcmp(r.allow, cases[i].allow) != 0 ||
		    (r.status != 200 && strncmp(r.content_type, "text/plain", 10) != 0)) {
			snprintf(problem, sizeof(problem), "%s %s: %d (Allow \"%s\", %s), want %d",
			         cases[i].method, cases[i].path, r.status, r.allow, r.content_type,
			         cases[i].status);
			p = problem;
		}
		resp_free(&r);
	}
	/* HEAD: the headers of GET, no body. */
	if (!p)
		p = request(f.port, "HEAD", "/healthz", &r);
	if (!p) {
		if (r.status != 200 || r.len != 0) {
			snprintf(problem, sizeof(problem), "HEAD /healthz: %d with %zu bytes",
			         r.status, r.len);
			p = problem;
		}
		resp_free(&r);
	}
	fx_close(&f);
	return p;
}

static const char *readyz_scenario(void)
{
	http_init_once();
	struct fx f;
	struct httpd_opts o = {.config_loaded = true, .leader = METRICS_LEADER_UNKNOWN};
	const char *p = fx_open(&f, 1000, &o);
	struct resp r;
	if (!p)
		p = get_expect(f.port, "/readyz", 503, "text/plain", &r);
	if (!p) {
		if (strcmp(r.body, "not ready: leader state not known yet\n") != 0) {
			snprintf(problem, sizeof(problem), "/readyz body \"%s\"", r.body);
			p = problem;
		}
		resp_free(&r);
	}
	if (!p)
		p = get_expect(f.port, "/metrics", 200, "text/plain", &r);
	if (!p) {
		if (!strstr(r.body, "\nprescale_leader 0\n"))
			p = "prescale_leader is not 0 while the state is unknown";
		resp_free(&r);
	}
	/* A standby knows it is not the leader: ready, and prescale_leader 0. */
	if (!p) {
		httpd_set_leader(f.hd, METRICS_LEADER_NO);
		p = get_expect(f.port, "/readyz", 200, "text/plain", &r);
		if (!p)
			resp_free(&r);
	}
	if (!p) {
		httpd_set_leader(f.hd, METRICS_LEADER_YES);
		p = get_expect(f.port, "/metrics", 200, "text/plain", &r);
		if (!p) {
			if (!strstr(r.body, "\nprescale_leader 1\n"))
				p = "prescale_leader is not 1 once leading";
			resp_free(&r);
		}
	}
	fx_close(&f);
	/* No configuration: 503 whatever the leader. */
	if (!p) {
		struct fx g = {0};
		struct httpd_opts no_cfg = {.leader = METRICS_LEADER_YES};
		p = fx_server(&g, &no_cfg);
		if (!p)
			p = get_expect(g.port, "/readyz", 503, "text/plain", &r);
		if (!p) {
			if (strcmp(r.body, "not ready: no configuration loaded\n") != 0)
				p = "wrong /readyz body without a configuration";
			resp_free(&r);
		}
		/* Nothing attached: empty arrays, healthy. */
		if (!p)
			p = get_expect(g.port, "/debug/targets", 200, "application/json", &r);
		if (!p) {
			if (strcmp(r.body, "[]\n") != 0)
				p = "/debug/targets without an env is not []";
			resp_free(&r);
		}
		if (!p)
			p = get_expect(g.port, "/debug/workers", 200, "application/json", &r);
		if (!p)
			resp_free(&r);
		if (!p)
			p = get_expect(g.port, "/healthz", 200, "text/plain", &r);
		if (!p)
			resp_free(&r);
		httpd_stop(g.hd);
	}
	return p;
}

static const char *healthz_scenario(void)
{
	http_init_once();
	struct fx f;
	/* Ticks every 100 ms (deadline = start + 100 ms); stuck after 300 ms past it. */
	struct httpd_opts o = {
	    .config_loaded = true, .leader = METRICS_LEADER_YES, .stuck_grace_ms = 300};
	const char *p = fx_open(&f, 100, &o);
	if (!p)
		p = wait_ticks(&f);
	struct resp r;
	if (!p)
		p = get_expect(f.port, "/healthz", 200, "text/plain", &r);
	if (!p)
		resp_free(&r);
	if (!p) {
		atomic_store(&block_stuck, true);
		int64_t start = mono_ms(), deadline = start + 10000;
		for (;;) {
			p = request(f.port, "GET", "/healthz", &r);
			if (p || r.status == 500)
				break;
			resp_free(&r);
			if (mono_ms() > deadline) {
				p = "/healthz stayed 200 for 10 s with a hung tick";
				break;
			}
			sleep_ms(20);
		}
		int64_t took = mono_ms() - start;
		if (!p) {
			/* Only the hung worker is listed, with how late it is. */
			long late = -1;
			const char *line = strstr(r.body, "shop/Deployment/stuck: ticking, ");
			if (line)
				late = strtol(line + strlen("shop/Deployment/stuck: ticking, "),
				              NULL, 10);
			if (strncmp(r.body, "stuck workers:\n", 15) != 0 || late < 300 ||
			    strstr(r.body, "shop/Deployment/web") || strstr(r.body, "failing") ||
			    strncmp(r.content_type, "text/plain", 10) != 0) {
				snprintf(problem, sizeof(problem), "/healthz 500 body:\n%s",
				         r.body);
				p = problem;
			}
			/* Deadline 100 ms after the tick's start plus 300 ms of grace. */
			else if (took < 300) {
				snprintf(problem, sizeof(problem),
				         "/healthz turned 500 after %lld ms", (long long)took);
				p = problem;
			}
			resp_free(&r);
		}
		/* /debug/workers says the same. */
		if (!p)
			p = get_expect(f.port, "/debug/workers", 200, "application/json", &r);
		if (!p) {
			cJSON *j = cJSON_Parse(r.body);
			const cJSON *s = find_target(j, "shop/Deployment/stuck");
			if (!s || !cJSON_IsTrue(item(s, "stuck")) ||
			    strcmp(item(s, "state")->valuestring, "ticking") != 0)
				p = "/debug/workers does not show the stuck worker as stuck";
			cJSON_Delete(j);
			resp_free(&r);
		}
		/* Released: healthy again once it has ticked on time. */
		atomic_store(&block_stuck, false);
		deadline = mono_ms() + 10000;
		while (!p) {
			p = request(f.port, "GET", "/healthz", &r);
			if (p)
				break;
			int st = r.status;
			resp_free(&r);
			if (st == 200)
				break;
			if (mono_ms() > deadline)
				p = "/healthz did not recover within 10 s";
			sleep_ms(20);
		}
	}
	fx_close(&f);
	return p;
}

static const char *bind_scenario(void)
{
	http_init_once();
	struct fx f = {0};
	const char *p = fx_server(&f, NULL);
	if (p)
		return p;
	char addr[64];
	snprintf(addr, sizeof(addr), "127.0.0.1:%u", f.port);
	static const struct {
		const char *listen;
		enum ps_err err;
		const char *msg;
	} cases[] = {
	    {NULL, PS_EIO, NULL}, /* the port in use; message filled below */
	    {"8080", PS_EINVAL, "listen address \"8080\": want [host]:port"},
	    {"127.0.0.1:", PS_EINVAL, "listen address \"127.0.0.1:\": want [host]:port"},
	    {"127.0.0.1:65536", PS_EINVAL,
	     "listen address \"127.0.0.1:65536\": port must be 0 to 65535"},
	    {"::1:80", PS_EINVAL,
	     "listen address \"::1:80\": write an IPv6 address in brackets, [::1]:8080"},
	    {"127.0.0.1:http", PS_EINVAL,
	     "listen address \"127.0.0.1:http\": port must be 0 to 65535"},
	};
	char in_use[160];
	snprintf(in_use, sizeof(in_use), "listen address \"%s\": Address already in use", addr);
	for (size_t i = 0; i < PS_ARRAY_LEN(cases) && !p; i++) {
		struct httpd_opts o = {.listen = cases[i].listen ? cases[i].listen : addr,
		                       .quiet = true};
		struct httpd *h = NULL;
		struct ps_diag d;
		ps_diag_clear(&d);
		enum ps_err e = httpd_start(&o, &h, &d);
		const char *want = cases[i].msg ? cases[i].msg : in_use;
		if (e != cases[i].err || h || strcmp(ps_diag_msg(&d), want) != 0) {
			snprintf(problem, sizeof(problem), "%s: %s \"%s\", want %s \"%s\"",
			         o.listen, ps_err_name(e), ps_diag_msg(&d),
			         ps_err_name(cases[i].err), want);
			p = problem;
		}
		httpd_stop(h);
	}
	/* [::1] and localhost work when the system has them; the server still answers. */
	struct httpd *h6 = NULL;
	struct httpd_opts o6 = {.listen = "[::1]:0", .quiet = true};
	if (!p && httpd_start(&o6, &h6, NULL) == PS_OK && httpd_port(h6) == 0)
		p = "[::1]:0 started without a port";
	httpd_stop(h6);
	httpd_stop(f.hd);
	return p;
}

static const char *observer_scenario(void)
{
	http_init_once();
	struct fx f = {0};
	struct httpd_opts o = {.config_loaded = true, .observe_http = true};
	const char *p = fx_server(&f, &o);
	if (p)
		return p;
	/* Two requests through src/http, as a worker makes them: a Prometheus query and a
	 * Kubernetes GET. The server answers 404 to both. */
	struct http_client *c = NULL;
	CHECK(http_client_new(&c, NULL) == PS_OK, "http_client_new");
	char url[128];
	struct http_response resp;
	http_response_init(&resp);
	snprintf(url, sizeof(url), "http://127.0.0.1:%u/api/v1/query?query=up", f.port);
	struct http_request q = {.method = "GET", .url = url};
	enum ps_err e1 = http_do(c, &q, &resp, NULL, NULL);
	snprintf(url, sizeof(url), "http://127.0.0.1:%u/apis/apps/v1/namespaces/a/deployments/b",
	         f.port);
	enum ps_err e2 = http_do(c, &q, &resp, NULL, NULL);
	http_response_release(&resp);
	http_client_free(c);
	CHECK(e1 == PS_OK && e2 == PS_OK, "requests failed: %s %s", ps_err_name(e1),
	      ps_err_name(e2));
	struct resp r;
	p = get_expect(f.port, "/metrics", 200, "text/plain", &r);
	if (!p) {
		static const char *const want[] = {
		    "\nprescale_prometheus_query_duration_seconds_count{type=\"instant\"} 1\n",
		    "\nprescale_kubernetes_request_duration_seconds_count{verb=\"GET\"} 1\n",
		    "\nprescale_kubernetes_request_errors_total{code=\"404\"} 1\n",
		};
		for (size_t i = 0; i < PS_ARRAY_LEN(want) && !p; i++)
			if (!strstr(r.body, want[i])) {
				snprintf(problem, sizeof(problem), "/metrics lacks %s in:\n%s",
				         want[i], r.body);
				p = problem;
			}
		resp_free(&r);
	}
	httpd_stop(f.hd);
	return p;
}

/* ---- concurrency ---- */

struct load {
	uint16_t port;
	int id;
	int requests;
	atomic_int *failures;
	char first[512]; /* the first failure */
};

static void *scraper(void *arg)
{
	struct load *l = arg;
	static const char *const paths[] = {"/metrics", "/debug/targets", "/debug/workers",
	                                    "/healthz", "/readyz"};
	for (int i = 0; i < l->requests; i++) {
		const char *path = paths[(size_t)(i + l->id) % PS_ARRAY_LEN(paths)];
		struct resp r;
		const char *p = request(l->port, "GET", path, &r);
		if (p || r.status != 200) {
			if (atomic_fetch_add(l->failures, 1) == 0)
				snprintf(l->first, sizeof(l->first), "GET %s: %s", path,
				         p ? p : "not 200");
		}
		if (!p)
			resp_free(&r);
	}
	return NULL;
}

/* Kubernetes-looking requests through src/http: the observer records each one. */
static void *kube_client(void *arg)
{
	struct load *l = arg;
	struct http_client *c = NULL;
	if (http_client_new(&c, NULL) != PS_OK) {
		atomic_fetch_add(l->failures, 1);
		return NULL;
	}
	char url[128];
	snprintf(url, sizeof(url), "http://127.0.0.1:%u/api/v1/namespaces/x/pods", l->port);
	struct http_request q = {.method = "GET", .url = url};
	struct http_response resp;
	http_response_init(&resp);
	for (int i = 0; i < l->requests; i++)
		if (http_do(c, &q, &resp, NULL, NULL) != PS_OK || resp.status != 404)
			atomic_fetch_add(l->failures, 1);
	http_response_release(&resp);
	http_client_free(c);
	return NULL;
}

struct publisher {
	struct fx *f;
	atomic_bool stop;
};

/* Publishes web's record again and again, as its worker would each tick. */
static void *publish_loop(void *arg)
{
	struct publisher *pb = arg;
	struct tick_record *rec = calloc(1, sizeof(*rec));
	if (!rec)
		return NULL;
	PS_ASSERT(tick_state_record(pb->f->web, rec));
	while (!atomic_load(&pb->stop)) {
		rec->time_ms = ps_clock_wall_ms(ps_clock_real());
		tick_target_publish(pb->f->web, rec);
		sleep_ms(1);
	}
	free(rec);
	return NULL;
}

static const char *concurrency_scenario(void)
{
	http_init_once();
	struct fx f;
	struct httpd_opts o = {.config_loaded = true,
	                       .leader = METRICS_LEADER_YES,
	                       .observe_http = true,
	                       .stuck_grace_ms = 60000};
	const char *p = fx_open(&f, 20, &o);
	if (p) {
		fx_close(&f);
		return p;
	}
	atomic_int failures;
	atomic_init(&failures, 0);
	enum { SCRAPERS = 4, PER_THREAD = 40, KUBE = 30 };
	struct load loads[SCRAPERS + 1];
	pthread_t th[SCRAPERS + 2];
	struct publisher pb = {.f = &f};
	atomic_init(&pb.stop, false);
	for (int i = 0; i <= SCRAPERS; i++)
		loads[i] = (struct load){.port = f.port,
		                         .id = i,
		                         .requests = i < SCRAPERS ? PER_THREAD : KUBE,
		                         .failures = &failures};
	for (int i = 0; i < SCRAPERS; i++)
		PS_ASSERT(pthread_create(&th[i], NULL, scraper, &loads[i]) == 0);
	PS_ASSERT(pthread_create(&th[SCRAPERS], NULL, kube_client, &loads[SCRAPERS]) == 0);
	PS_ASSERT(pthread_create(&th[SCRAPERS + 1], NULL, publish_loop, &pb) == 0);
	/* Meanwhile: the leader state flips and the configuration is reloaded. */
	for (int i = 0; i < 20; i++) {
		httpd_set_leader(f.hd, i % 2 ? METRICS_LEADER_YES : METRICS_LEADER_NO);
		struct rt_reload_result res;
		if (rt_reload(f.rt, f.cfg, &res, NULL) != PS_OK && !p)
			p = "rt_reload failed";
		sleep_ms(5);
	}
	httpd_set_leader(f.hd, METRICS_LEADER_YES);
	for (int i = 0; i <= SCRAPERS; i++)
		pthread_join(th[i], NULL);
	atomic_store(&pb.stop, true);
	pthread_join(th[SCRAPERS + 1], NULL);
	if (!p && atomic_load(&failures)) {
		snprintf(problem, sizeof(problem), "%d failed requests; first: %s",
		         atomic_load(&failures),
		         loads[0].first[0] ? loads[0].first : "(kube client)");
		p = problem;
	}
	struct resp r;
	if (!p)
		p = get_expect(f.port, "/metrics", 200, "text/plain", &r);
	if (!p) {
		char want[128];
		snprintf(want, sizeof(want),
		         "\nprescale_kubernetes_request_errors_total{code=\"404\"} %d\n", KUBE);
		if (!strstr(r.body, want) ||
		    !strstr(r.body, "\nprescale_config_reloads_total{result=\"success\"} 20\n")) {
			snprintf(problem, sizeof(problem), "/metrics after the load:\n%s", r.body);
			p = problem;
		}
		resp_free(&r);
	}
	fx_close(&f);
	return p;
}

static const char *no_leak_scenario(void)
{
	http_init_once();
	int threads = count_dir("/proc/self/task");
	int fds = count_dir("/proc/self/fd");
	struct fx f = {0};
	const char *p = fx_server(&f, NULL);
	if (p)
		return p;
	int running = count_dir("/proc/self/task");
	struct resp r;
	p = get_expect(f.port, "/healthz", 200, "text/plain", &r);
	if (!p)
		resp_free(&r);
	httpd_stop(f.hd);
	CHECK(!p, "%s", p);
	CHECK(running >= threads + (int)HTTPD_THREADS, "%d threads while serving, %d before",
	      running, threads);
	int t = count_settled("/proc/self/task", threads);
	int d = count_settled("/proc/self/fd", fds);
	CHECK(t == threads, "%d threads after the stop, %d before", t, threads);
	CHECK(d == fds, "%d descriptors after the stop, %d before", d, fds);
	return NULL;
}

/* ---- prescale status ---- */

struct run {
	int status;
	char out[16384];
	char err[4096];
};

static void slurp(int fd, char *buf, size_t size)
{
	lseek(fd, 0, SEEK_SET);
	size_t n = 0;
	ssize_t got;
	while (n + 1 < size && (got = read(fd, buf + n, size - 1 - n)) > 0)
		n += (size_t)got;
	buf[n] = '\0';
}

static const char *run_status(const char *server, struct run *r)
{
	char po[] = "/tmp/prescale-status-XXXXXX", pe[] = "/tmp/prescale-status-XXXXXX";
	int out = mkstemp(po), err = mkstemp(pe);
	CHECK(out >= 0 && err >= 0, "mkstemp");
	unlink(po);
	unlink(pe);
	posix_spawn_file_actions_t fa;
	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
	posix_spawn_file_actions_adddup2(&fa, out, 1);
	posix_spawn_file_actions_adddup2(&fa, err, 2);
	char *argv[] = {"prescale", "status", "--server", (char *)server, "--timeout", "5s", NULL};
	pid_t pid;
	int rc = posix_spawn(&pid, PS_BINARY, &fa, NULL, argv, environ);
	posix_spawn_file_actions_destroy(&fa);
	CHECK(rc == 0, "cannot run %s", PS_BINARY);
	int ws;
	CHECK(waitpid(pid, &ws, 0) == pid, "waitpid");
	r->status = WIFEXITED(ws) ? WEXITSTATUS(ws) : -1;
	slurp(out, r->out, sizeof(r->out));
	slurp(err, r->err, sizeof(r->err));
	close(out);
	close(err);
	return NULL;
}

static const char *status_scenario(void)
{
	http_init_once();
	struct fx f;
	const char *p = fx_open(&f, 1000, NULL);
	struct run *r = calloc(1, sizeof(*r));
	CHECK(r, "out of memory");
	char server[64];
	snprintf(server, sizeof(server), "http://127.0.0.1:%u/", f.port);
	if (!p)
		p = run_status(server, r);
	if (!p) {
		/* web decided 4 -> 5 just now: "AGE 0s" or "1s" on a slow machine; no errors. */
		char head[256], row[512];
		int n = sscanf(r->out, "%255[^\n]\n%511[^\n]", head, row);
		char target[64], rule[64], age[16];
		int cur = -1, des = -1, errs = -1;
		if (r->status != 0 || n != 2 || strncmp(head, "TARGET", 6) != 0 ||
		    !strstr(head, "CURRENT") || !strstr(head, "DESIRED") || !strstr(head, "RULE") ||
		    !strstr(head, "AGE") || !strstr(head, "ERRORS") || !strstr(head, "REASON") ||
		    sscanf(row, "%63s %d %d %63s %15s %d", target, &cur, &des, rule, age, &errs) !=
		        6 ||
		    strcmp(target, "shop/Deployment/web") != 0 || cur != 4 || des != 5 ||
		    (strcmp(age, "0s") != 0 && strcmp(age, "1s") != 0) || errs != 0 ||
		    !strstr(row, "rps above target")) {
			snprintf(problem, sizeof(problem),
			         "prescale status: exit %d\nstdout:\n%.1800s\nstderr:\n%.1800s",
			         r->status, r->out, r->err);
			p = problem;
		}
	}
	int port = f.port;
	fx_close(&f);
	/* The server is gone: exit 1 with a message. */
	if (!p) {
		snprintf(server, sizeof(server), "http://127.0.0.1:%d", port);
		p = run_status(server, r);
		if (!p && (r->status != 1 ||
		           !strstr(r->err, "prescale status: cannot reach the controller: ") ||
		           r->out[0])) {
			snprintf(problem, sizeof(problem),
			         "status without a server: exit %d\n%.1800s%.1800s", r->status,
			         r->out, r->err);
			p = problem;
		}
	}
	free(r);
	return p;
}

/* ---- Criterion ---- */

#define SCENARIO_TEST(name, fn)                                                                    \
	Test(httpd, name, .timeout = 120)                                                          \
	{                                                                                          \
		const char *p = fn();                                                              \
		cr_expect_null(p, "%s", p ? p : "");                                               \
	}

SCENARIO_TEST(every_endpoint_answers_with_its_status_content_type_and_body, endpoints_scenario)
SCENARIO_TEST(unknown_paths_are_404_other_methods_405_and_head_has_no_body, errors_scenario)
SCENARIO_TEST(readyz_waits_for_a_configuration_and_a_known_leader_state, readyz_scenario)
SCENARIO_TEST(healthz_turns_500_naming_a_worker_hung_past_its_deadline_and_recovers,
              healthz_scenario)
SCENARIO_TEST(bad_or_busy_listen_addresses_are_refused_with_the_reason, bind_scenario)
SCENARIO_TEST(the_observer_feeds_the_latency_histograms_from_real_requests, observer_scenario)
SCENARIO_TEST(concurrent_scrapes_during_ticks_reloads_and_leader_changes_all_succeed,
              concurrency_scenario)
SCENARIO_TEST(a_stopped_server_leaves_no_thread_and_no_descriptor, no_leak_scenario)
SCENARIO_TEST(prescale_status_prints_the_table_and_exits_1_without_a_server, status_scenario)

/* Criterion 2.4's sandbox cannot start under ThreadSanitizer (see test_runtime.c): the TSan
 * build runs every scenario from this main, which overrides Criterion's. */

#ifdef PS_TEST_TSAN
int main(void)
{
	static const struct scenario all[] = {
	    {"endpoints", endpoints_scenario},
	    {"errors", errors_scenario},
	    {"readyz", readyz_scenario},
	    {"healthz", healthz_scenario},
	    {"bind", bind_scenario},
	    {"observer", observer_scenario},
	    {"concurrency", concurrency_scenario},
	    {"no_leak", no_leak_scenario},
	    {"status", status_scenario},
	};
	int failed = scenario_run_all("test_httpd", all, PS_ARRAY_LEN(all));
	return failed ? 1 : 0;
}
#endif
