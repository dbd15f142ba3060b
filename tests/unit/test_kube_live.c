/* test_kube_live.c -- the Kubernetes client against the fake API server over TLS.
 *
 * DESIGN
 * Every test gets its own fake API server (tests/fakeapi/fake_apiserver.py, the suite's .init,
 * in the test's own process): the harness writes its config (users with tokens and RBAC-like
 * rules, a Deployment, an Argo Rollout, pods), starts it on a free 127.0.0.1 port with a state
 * directory under a fresh temporary directory, and reads its JSON ready line (port, CA path,
 * client certificates, admin token) within READY_TIMEOUT_MS. Kubeconfigs pointing at it are
 * written into the same temporary directory (the CA as certificate-authority-data; a token or
 * the fake's client certificate). The fake's control API (/_fake/..., admin token) injects
 * faults, seeds objects and returns its request log, which the tests assert on: methods,
 * paths, queries, content types, bodies, statuses and timings. Each test ends by asserting
 * that the fake found ZERO request bodies that fail the Kubernetes 1.34 OpenAPI schema.
 *
 * The server never outlives the test: it leads its own process group, gets SIGKILL from the
 * kernel if the test process dies (PR_SET_PDEATHSIG) and exits when its stdin closes; the
 * suite's .fini and an atexit() handler kill the group and reap it. Every wait is bounded.
 */
#include <cjson/cJSON.h>
#include <criterion/criterion.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "http.h"
#include "kube.h"
#include "ps_alloc.h"
#include "ps_clock.h"
#include "ps_log.h"

#define FAKE_SCRIPT PS_SOURCE_DIR "/tests/fakeapi/fake_apiserver.py"
#define READY_TIMEOUT_MS 30000
#define STOP_TIMEOUT_MS 3000

/* Credentials of the fake's users (test-only values, never real secrets). */
#define TOKEN_SCALER "tok-scaler-5d1f0c9a"
#define TOKEN_READER "tok-reader-88b2e417"
#define TOKEN_REVOKED "tok-revoked-c03e6b21"

struct fake {
	pid_t pid; /* leader of its process group; 0: not running */
	int in_fd; /* its stdin: closing it stops the server */
	char dir[64];
	int port;
	char url[64];
	char ca_path[512];
	char admin_token[128];
	char scaler_cert[512], scaler_key[512];
	char *ca_pem;
	size_t ca_len;
	struct http_client *http; /* for the control API */
	long log_mark;            /* request log sequence number before the test's requests */
};

static struct fake fk;

static int64_t now_ms(void)
{
	return ps_clock_mono_ms(ps_clock_real());
}

static void sleep_ms(long ms)
{
	struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
	while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
		;
}

/* ---- the server's life ---- */

static void fake_stop(void)
{
	if (fk.in_fd >= 0) {
		close(fk.in_fd);
		fk.in_fd = -1;
	}
	if (fk.pid > 0) {
		kill(-fk.pid, SIGTERM);
		int64_t end = now_ms() + STOP_TIMEOUT_MS;
		bool reaped = false;
		while (!reaped && now_ms() < end) {
			if (waitpid(fk.pid, NULL, WNOHANG) == fk.pid)
				reaped = true;
			else
				sleep_ms(10);
		}
		kill(-fk.pid, SIGKILL); /* anything the group may have left behind */
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
		DIR *d = opendir(path);
		if (d) {
			struct dirent *e;
			while ((e = readdir(d))) {
				if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
					continue;
				char sub[1024];
				snprintf(sub, sizeof(sub), "%s/%s", path, e->d_name);
				rm_tree(sub);
			}
			closedir(d);
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

static void write_text(const char *path, const char *text)
{
	FILE *f = fopen(path, "w");
	cr_assert_not_null(f, "%s: %s", path, strerror(errno));
	fputs(text, f);
	cr_assert_eq(fclose(f), 0);
}

static char *slurp(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	cr_assert_not_null(f, "%s: %s", path, strerror(errno));
	size_t cap = 4096, n = 0;
	char *s = malloc(cap);
	size_t got;
	while ((got = fread(s + n, 1, cap - n - 1, f)) > 0) {
		n += got;
		if (cap - n - 1 == 0)
			s = realloc(s, cap *= 2);
	}
	fclose(f);
	s[n] = '\0';
	if (len)
		*len = n;
	return s;
}

/* The fake's config: users, rules and the objects every test starts with. */
static const char *fake_config =
    "{\"users\": ["
    " {\"name\": \"scaler\", \"token\": \"" TOKEN_SCALER "\", \"rules\": ["
    "  {\"verbs\": [\"get\", \"patch\", \"update\"], \"apiGroups\": [\"apps\"],"
    "   \"resources\": [\"deployments/scale\", \"statefulsets/scale\", \"replicasets/scale\"]},"
    "  {\"verbs\": [\"get\", \"patch\"], \"apiGroups\": [\"argoproj.io\"],"
    "   \"resources\": [\"rollouts/scale\"]},"
    "  {\"verbs\": [\"list\"], \"apiGroups\": [\"\"], \"resources\": [\"pods\"]},"
    "  {\"verbs\": [\"get\", \"create\", \"update\"], \"apiGroups\": [\"coordination.k8s.io\"],"
    "   \"resources\": [\"leases\"]},"
    "  {\"verbs\": [\"create\"], \"apiGroups\": [\"events.k8s.io\"], \"resources\": [\"events\"]}"
    " ]},"
    " {\"name\": \"reader\", \"token\": \"" TOKEN_READER "\", \"clientCert\": false, \"rules\": ["
    "  {\"verbs\": [\"get\"], \"apiGroups\": [\"apps\"], \"resources\": [\"deployments/scale\"]}"
    " ]}"
    "],"
    "\"objects\": ["
    " {\"apiVersion\": \"apps/v1\", \"kind\": \"Deployment\","
    "  \"metadata\": {\"name\": \"web\", \"namespace\": \"shop\", \"labels\": {\"app\": \"web\"}},"
    "  \"spec\": {\"replicas\": 3, \"selector\": {\"matchLabels\": {\"app\": \"web\"}},"
    "   \"template\": {\"metadata\": {\"labels\": {\"app\": \"web\"}},"
    "    \"spec\": {\"containers\": [{\"name\": \"app\", \"image\": \"web:1\"}]}}},"
    "  \"status\": {\"replicas\": 3}},"
    " {\"apiVersion\": \"argoproj.io/v1alpha1\", \"kind\": \"Rollout\","
    "  \"metadata\": {\"name\": \"canary\", \"namespace\": \"shop\"},"
    "  \"spec\": {\"replicas\": 2}, \"status\": {\"replicas\": 2, \"selector\": \"app=canary\"}},"
    " {\"apiVersion\": \"v1\", \"kind\": \"Pod\","
    "  \"metadata\": {\"name\": \"web-1\", \"namespace\": \"shop\", \"labels\": {\"app\": "
    "\"web\"}},"
    "  \"spec\": {\"initContainers\": ["
    "    {\"name\": \"migrate\", \"image\": \"m:1\", \"resources\": {\"requests\": {\"cpu\": "
    "\"2\"}}},"
    "    {\"name\": \"proxy\", \"image\": \"envoy:1\", \"restartPolicy\": \"Always\","
    "     \"resources\": {\"requests\": {\"cpu\": \"100m\"}}}],"
    "   \"containers\": [{\"name\": \"app\", \"image\": \"web:1\","
    "    \"resources\": {\"requests\": {\"cpu\": \"250m\", \"memory\": \"64Mi\"}}}]},"
    "  \"status\": {\"phase\": \"Running\", \"startTime\": \"2026-01-01T00:00:00Z\","
    "   \"conditions\": [{\"type\": \"Ready\", \"status\": \"True\","
    "    \"lastTransitionTime\": \"2026-01-01T00:00:30Z\"}]}},"
    " {\"apiVersion\": \"v1\", \"kind\": \"Pod\","
    "  \"metadata\": {\"name\": \"web-2\", \"namespace\": \"shop\", \"labels\": {\"app\": \"web\"},"
    "   \"deletionTimestamp\": \"2026-01-01T00:05:00Z\"},"
    "  \"spec\": {\"containers\": [{\"name\": \"app\", \"image\": \"web:1\"}]},"
    "  \"status\": {\"phase\": \"Running\", \"startTime\": \"2026-01-01T00:01:00Z\","
    "   \"conditions\": [{\"type\": \"Ready\", \"status\": \"False\","
    "    \"lastTransitionTime\": \"2026-01-01T00:01:10Z\"}]}},"
    " {\"apiVersion\": \"v1\", \"kind\": \"Pod\","
    "  \"metadata\": {\"name\": \"web-3\", \"namespace\": \"shop\","
    "   \"labels\": {\"app\": \"web\", \"tier\": \"edge\"}},"
    "  \"spec\": {\"containers\": [{\"name\": \"app\", \"image\": \"web:1\"}]},"
    "  \"status\": {\"phase\": \"Pending\"}},"
    " {\"apiVersion\": \"v1\", \"kind\": \"Pod\","
    "  \"metadata\": {\"name\": \"other-1\", \"namespace\": \"shop\","
    "   \"labels\": {\"app\": \"other\"}},"
    "  \"spec\": {\"containers\": [{\"name\": \"app\", \"image\": \"o:1\"}]},"
    "  \"status\": {\"phase\": \"Running\"}}"
    "]}";

static void fake_child(const char *cfg, const char *state, int in_fd, int out_fd)
{
	setpgid(0, 0);
	prctl(PR_SET_PDEATHSIG, SIGKILL);
	dup2(in_fd, 0);
	dup2(out_fd, 1);
	int devnull = open("/dev/null", O_WRONLY);
	if (devnull >= 0 && !getenv("KUBE_LIVE_VERBOSE"))
		dup2(devnull, 2);
	/* The fake finds swagger.json in the shared folder this build was configured with. */
	setenv("PS_SHARED_DIR", PS_SHARED_DIR, 1);
	execlp("python3", "python3", FAKE_SCRIPT, "--port", "0", "--config", cfg, "--state-dir",
	       state, "--exit-on-stdin-eof", "--timeout", "150", (char *)NULL);
	_exit(127);
}

static void copy_json_str(char *dst, size_t size, const cJSON *obj, const char *key)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, key);
	cr_assert(cJSON_IsString(v), "ready line: no %s", key);
	cr_assert_lt(strlen(v->valuestring), size);
	strcpy(dst, v->valuestring);
}

static void fake_start(void)
{
	memset(&fk, 0, sizeof(fk));
	fk.in_fd = -1;
	atexit(fake_cleanup);
	cr_assert_eq(http_global_init(NULL), PS_OK);
	snprintf(fk.dir, sizeof(fk.dir), "/tmp/prescale-kube-live-XXXXXX");
	cr_assert_not_null(mkdtemp(fk.dir));
	char cfg[128], state[128];
	snprintf(cfg, sizeof(cfg), "%s/fake.json", fk.dir);
	snprintf(state, sizeof(state), "%s/state", fk.dir);
	write_text(cfg, fake_config);

	int in[2], out[2];
	cr_assert_eq(pipe(in), 0);
	cr_assert_eq(pipe(out), 0);
	pid_t pid = fork();
	cr_assert_neq(pid, -1, "fork: %s", strerror(errno));
	if (pid == 0) {
		close(in[1]);
		close(out[0]);
		fake_child(cfg, state, in[0], out[1]);
	}
	setpgid(pid, pid); /* also here: no window where a kill of the group misses it */
	fk.pid = pid;
	close(in[0]);
	close(out[1]);
	fk.in_fd = in[1];
	(void)fcntl(fk.in_fd, F_SETFD, FD_CLOEXEC);

	char line[16384];
	size_t len = 0;
	line[0] = '\0';
	int64_t end = now_ms() + READY_TIMEOUT_MS;
	while (!strchr(line, '\n') && len < sizeof(line) - 1 && now_ms() < end) {
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
	cr_assert_not_null(ready, "the fake API server did not get ready: \"%s\"", line);
	const cJSON *port = cJSON_GetObjectItemCaseSensitive(ready, "port");
	cr_assert(cJSON_IsNumber(port));
	fk.port = port->valueint;
	copy_json_str(fk.url, sizeof(fk.url), ready, "url");
	copy_json_str(fk.ca_path, sizeof(fk.ca_path), ready, "ca");
	copy_json_str(fk.admin_token, sizeof(fk.admin_token), ready, "adminToken");
	const cJSON *scaler = cJSON_GetObjectItemCaseSensitive(
	    cJSON_GetObjectItemCaseSensitive(ready, "clients"), "scaler");
	copy_json_str(fk.scaler_cert, sizeof(fk.scaler_cert), scaler, "cert");
	copy_json_str(fk.scaler_key, sizeof(fk.scaler_key), scaler, "key");
	cJSON_Delete(ready);
	fk.ca_pem = slurp(fk.ca_path, &fk.ca_len);
	cr_assert_eq(http_client_new(&fk.http, NULL), PS_OK);
}

static void fake_fini(void)
{
	fake_cleanup();
	http_global_cleanup();
}

TestSuite(kube_live, .init = fake_start, .fini = fake_fini, .timeout = 120);

/* ---- the control API ---- */

/* Sends <method> <path> with <body> (may be NULL) to the control API; returns the parsed
 * answer (the caller deletes it). */
static cJSON *fake_call(const char *method, const char *path, const char *body)
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
	                           .timeout_ms = 20000};
	struct http_response r;
	http_response_init(&r);
	struct ps_diag d;
	ps_diag_clear(&d);
	cr_assert_eq(http_do(fk.http, &req, &r, NULL, &d), PS_OK, "%s", d.msg);
	cr_assert_eq(r.status, 200, "%s %s: %ld %s", method, path, r.status, ps_buf_cstr(&r.body));
	cJSON *j = cJSON_Parse(ps_buf_cstr(&r.body));
	cr_assert_not_null(j);
	http_response_release(&r);
	return j;
}

static void fake_fault(const char *json)
{
	cJSON_Delete(fake_call("POST", "/_fake/faults", json));
}

/* Waits until the request log stops growing: the fake logs a request just *after* writing
 * its response, so the last one may land a moment after the client saw the answer. Stable
 * for 100 ms (or 3 s at most) is settled. */
static void log_settle(void)
{
	long last = -1;
	int64_t stable_since = now_ms(), end = now_ms() + 3000;
	while (now_ms() < end) {
		cJSON *j = fake_call("GET", "/_fake/log?since=999999999", NULL);
		long seq = (long)cJSON_GetObjectItem(j, "lastSeq")->valuedouble;
		cJSON_Delete(j);
		if (seq != last) {
			last = seq;
			stable_since = now_ms();
		} else if (now_ms() - stable_since >= 100) {
			return;
		}
		sleep_ms(20);
	}
}

/* Remembers where the request log stands: later lookups see only newer entries. */
static void log_mark(void)
{
	log_settle();
	cJSON *j = fake_call("GET", "/_fake/log", NULL);
	fk.log_mark = (long)cJSON_GetObjectItem(j, "lastSeq")->valuedouble;
	cJSON_Delete(j);
}

/* The log entries since the mark, settled (the caller deletes the returned object; entries
 * under "entries"). */
static cJSON *log_since_mark(void)
{
	log_settle();
	char path[64];
	snprintf(path, sizeof(path), "/_fake/log?since=%ld", fk.log_mark);
	return fake_call("GET", path, NULL);
}

/* Entry <i> of a log answer; fails the test when there is none. */
static const cJSON *log_entry(const cJSON *log, int i)
{
	const cJSON *e = cJSON_GetArrayItem(cJSON_GetObjectItem(log, "entries"), i);
	cr_assert_not_null(e, "no log entry %d", i);
	return e;
}

/* String member <key> of <o>; fails the test when it is not a string. */
static const char *jstr(const cJSON *o, const char *key)
{
	const cJSON *v = cJSON_GetObjectItem(o, key);
	cr_assert(cJSON_IsString(v), "no string \"%s\"", key);
	return v->valuestring;
}

static int jint(const cJSON *o, const char *key)
{
	const cJSON *v = cJSON_GetObjectItem(o, key);
	cr_assert(cJSON_IsNumber(v), "no number \"%s\"", key);
	return v->valueint;
}

/* Number of logged requests since the mark with <method> whose path contains <needle>. */
static int log_count(const char *method, const char *needle)
{
	cJSON *j = log_since_mark();
	int n = 0;
	const cJSON *e;
	cJSON_ArrayForEach(e, cJSON_GetObjectItem(j, "entries"))
	{
		if (strcmp(jstr(e, "method"), method) == 0 && strstr(jstr(e, "path"), needle))
			n++;
	}
	cJSON_Delete(j);
	return n;
}

/* Every body the fake received matched the Kubernetes OpenAPI schema. */
static void assert_no_validation_failures(void)
{
	log_settle();
	cJSON *j = fake_call("GET", "/_fake/validation-failures", NULL);
	int n = (int)cJSON_GetObjectItem(j, "total")->valuedouble;
	char *s = n ? cJSON_Print(cJSON_GetObjectItem(j, "failures")) : NULL;
	cr_expect_eq(n, 0, "the fake API server rejected %d request bodies: %s", n, s ? s : "");
	free(s);
	cJSON_Delete(j);
}

/* ---- kubeconfigs ---- */

static char *base64(const char *in, size_t n)
{
	static const char tbl[] =
	    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
	char *out = malloc(4 * ((n + 2) / 3) + 1);
	size_t o = 0;
	for (size_t i = 0; i < n; i += 3) {
		unsigned v = (unsigned char)in[i] << 16;
		if (i + 1 < n)
			v |= (unsigned char)in[i + 1] << 8;
		if (i + 2 < n)
			v |= (unsigned char)in[i + 2];
		out[o++] = tbl[(v >> 18) & 63];
		out[o++] = tbl[(v >> 12) & 63];
		out[o++] = i + 1 < n ? tbl[(v >> 6) & 63] : '=';
		out[o++] = i + 2 < n ? tbl[v & 63] : '=';
	}
	out[o] = '\0';
	return out;
}

/* Writes a kubeconfig for the fake with <user_yaml> (the lines under "user:") and loads it. */
static struct kcfg *kubeconfig(const char *name, const char *user_yaml)
{
	char path[256];
	snprintf(path, sizeof(path), "%s/%s.yaml", fk.dir, name);
	char *ca = base64(fk.ca_pem, fk.ca_len);
	FILE *f = fopen(path, "w");
	cr_assert_not_null(f);
	fprintf(f,
	        "apiVersion: v1\nkind: Config\ncurrent-context: fake\n"
	        "clusters:\n- name: fake\n  cluster:\n    server: %s\n"
	        "    certificate-authority-data: %s\n"
	        "users:\n- name: u\n  user:\n%s"
	        "contexts:\n- name: fake\n  context: {cluster: fake, user: u, namespace: shop}\n",
	        fk.url, ca, user_yaml);
	fclose(f);
	free(ca);
	struct kcfg *cfg = NULL;
	struct ps_diag d;
	ps_diag_clear(&d);
	cr_assert_eq(kcfg_load_kubeconfig(path, NULL, &cfg, &d), PS_OK, "%s", d.msg);
	return cfg;
}

static struct kcfg *token_config(const char *token)
{
	char user[256];
	snprintf(user, sizeof(user), "    token: %s\n", token);
	return kubeconfig("token", user);
}

static struct kube_client *client(struct kcfg *cfg, const struct kube_client_opts *o)
{
	struct kube_client *c = NULL;
	struct ps_diag d;
	ps_diag_clear(&d);
	cr_assert_eq(kube_client_new(cfg, o, &c, &d), PS_OK, "%s", d.msg);
	return c;
}

static struct kube_ref ref_of(const char *api_version, const char *kind, const char *name)
{
	struct kube_ref r;
	cr_assert_eq(kube_ref_from_kind(&r, api_version, kind, "shop", name, NULL), PS_OK);
	return r;
}

/* The resourceVersion as a number (the fake's are integers, like etcd revisions). */
static long rv_num(const char *rv)
{
	char *end;
	long v = strtol(rv, &end, 10);
	cr_assert(*rv && !*end, "resourceVersion \"%s\"", rv);
	return v;
}

/* The fixed options of most tests: quick retries, a deterministic jitter. */
static const struct kube_client_opts quick = {
    .backoff_base_ms = 50, .backoff_cap_ms = 200, .seed = 1, .timeout_ms = 15000};

/* ---- scale ---- */

Test(kube_live, scale_get_and_merge_patch_over_tls)
{
	struct kcfg *cfg = token_config(TOKEN_SCALER);
	struct kube_client *c = client(cfg, &quick);
	struct kube_ref web = ref_of("apps/v1", "Deployment", "web");
	log_mark();

	struct kube_scale s;
	struct ps_diag d;
	ps_diag_clear(&d);
	cr_assert_eq(kube_scale_get(c, &web, &s, &d), PS_OK, "%s", d.msg);
	cr_expect_eq(s.replicas, 3);
	cr_expect_str_eq(s.selector, "app=web");
	cr_expect_str_eq(s.name, "web");
	cr_expect_str_eq(s.namespace, "shop");
	long rv0 = rv_num(s.resource_version);
	kube_scale_release(&s);

	struct kube_scale p;
	cr_assert_eq(kube_scale_patch(c, &web, 5, false, &p, &d), PS_OK, "%s", d.msg);
	cr_expect_eq(p.replicas, 5);
	long rv1 = rv_num(p.resource_version);
	cr_expect_gt(rv1, rv0, "the write made a new resourceVersion");
	kube_scale_release(&p);
	cr_assert_eq(kube_scale_get(c, &web, &s, &d), PS_OK, "%s", d.msg);
	cr_expect_eq(s.replicas, 5, "stored");
	cr_expect_eq(rv_num(s.resource_version), rv1);
	kube_scale_release(&s);

	/* What went over the wire, in the fake's own words. */
	cJSON *j = log_since_mark();
	const cJSON *e, *patch = NULL;
	cJSON_ArrayForEach(e, cJSON_GetObjectItem(j, "entries"))
	{
		if (!strcmp(jstr(e, "method"), "PATCH"))
			patch = e;
	}
	cr_assert_not_null(patch);
	cr_expect_str_eq(jstr(patch, "path"),
	                 "/apis/apps/v1/namespaces/shop/deployments/web/scale");
	cr_expect_str_eq(jstr(patch, "contentType"), "application/merge-patch+json");
	char *body = cJSON_PrintUnformatted(cJSON_GetObjectItem(patch, "body"));
	cr_expect_str_eq(body, "{\"spec\":{\"replicas\":5}}");
	free(body);
	cr_expect_eq(jint(patch, "status"), 200);
	cr_expect(
	    cJSON_IsTrue(cJSON_GetObjectItem(cJSON_GetObjectItem(patch, "validation"), "ok")));
	cr_expect_str_eq(jstr(cJSON_GetObjectItem(patch, "identity"), "user"), "scaler");
	cJSON_Delete(j);
	cr_expect_eq(kube_client_stats(c).requests, 3);
	cr_expect_eq(kube_client_stats(c).retries, 0);

	/* A custom resource with a scale subresource: an Argo Rollout. */
	struct kube_ref canary = ref_of("argoproj.io/v1alpha1", "Rollout", "canary");
	cr_assert_eq(kube_scale_get(c, &canary, &s, &d), PS_OK, "%s", d.msg);
	cr_expect_eq(s.replicas, 2);
	cr_expect_str_eq(s.selector, "app=canary");
	kube_scale_release(&s);
	cr_assert_eq(kube_scale_patch(c, &canary, 4, false, NULL, &d), PS_OK, "%s", d.msg);
	cr_assert_eq(kube_scale_get(c, &canary, &s, &d), PS_OK, "%s", d.msg);
	cr_expect_eq(s.replicas, 4);
	kube_scale_release(&s);
	cr_expect_eq(log_count("PATCH", "/apis/argoproj.io/v1alpha1/namespaces/shop/rollouts/"
	                                "canary/scale"),
	             1);
	assert_no_validation_failures();
	kube_client_free(c);
	kcfg_free(cfg);
}

Test(kube_live, a_client_certificate_authenticates_without_a_token)
{
	char user[1200];
	snprintf(user, sizeof(user), "    client-certificate: %s\n    client-key: %s\n",
	         fk.scaler_cert, fk.scaler_key);
	struct kcfg *cfg = kubeconfig("cert", user);
	struct kube_client *c = client(cfg, &quick);
	struct kube_ref web = ref_of("apps/v1", "Deployment", "web");
	log_mark();
	struct kube_scale s;
	struct ps_diag d;
	ps_diag_clear(&d);
	cr_assert_eq(kube_scale_get(c, &web, &s, &d), PS_OK, "%s", d.msg);
	cr_expect_eq(s.replicas, 3);
	kube_scale_release(&s);
	cJSON *j = log_since_mark();
	const cJSON *id = cJSON_GetObjectItem(log_entry(j, 0), "identity");
	cr_expect_str_eq(jstr(id, "user"), "scaler");
	cr_expect_str_eq(jstr(id, "authenticatedBy"), "clientCert");
	cJSON_Delete(j);
	assert_no_validation_failures();
	kube_client_free(c);
	kcfg_free(cfg);
}

Test(kube_live, a_dry_run_patch_is_validated_but_not_stored)
{
	struct kcfg *cfg = token_config(TOKEN_SCALER);
	struct kube_client *c = client(cfg, &quick);
	struct kube_ref web = ref_of("apps/v1", "Deployment", "web");
	struct kube_scale before, p, after;
	struct ps_diag d;
	ps_diag_clear(&d);
	cr_assert_eq(kube_scale_get(c, &web, &before, &d), PS_OK, "%s", d.msg);
	log_mark();
	cr_assert_eq(kube_scale_patch(c, &web, 7, true, &p, &d), PS_OK, "%s", d.msg);
	cr_expect_eq(p.replicas, 7, "the answer shows what would be stored");
	cr_assert_eq(kube_scale_get(c, &web, &after, &d), PS_OK, "%s", d.msg);
	cr_expect_eq(after.replicas, 3, "nothing was stored");
	cr_expect_str_eq(after.resource_version, before.resource_version);
	cJSON *j = log_since_mark();
	const cJSON *e = log_entry(j, 0);
	cr_expect_str_eq(jstr(e, "method"), "PATCH");
	cr_expect_str_eq(jstr(e, "rawQuery"), "dryRun=All");
	cJSON_Delete(j);
	kube_scale_release(&before);
	kube_scale_release(&p);
	kube_scale_release(&after);
	assert_no_validation_failures();
	kube_client_free(c);
	kcfg_free(cfg);
}

Test(kube_live, an_unknown_deployment_is_not_found)
{
	struct kcfg *cfg = token_config(TOKEN_SCALER);
	struct kube_client *c = client(cfg, &quick);
	struct kube_ref nope = ref_of("apps/v1", "Deployment", "nope");
	log_mark();
	struct kube_scale s;
	struct ps_diag d;
	ps_diag_clear(&d);
	cr_expect_eq(kube_scale_get(c, &nope, &s, &d), PS_ENOTFOUND, "%s", d.msg);
	char want[256];
	snprintf(want, sizeof(want),
	         "GET %s/apis/apps/v1/namespaces/shop/deployments/nope/scale: 404 Not Found: "
	         "deployments.apps \"nope\" not found",
	         fk.url);
	cr_expect_str_eq(d.msg, want);
	const struct kube_status *st = kube_client_last_status(c);
	cr_expect_eq(st->code, 404);
	cr_expect_str_eq(st->reason, "NotFound");
	cr_expect_str_eq(st->details_name, "nope");
	cr_expect_eq(log_count("GET", "/nope/scale"), 1, "a 404 is not retried");
	assert_no_validation_failures();
	kube_client_free(c);
	kcfg_free(cfg);
}

Test(kube_live, a_user_without_patch_is_forbidden_once)
{
	struct kcfg *cfg = token_config(TOKEN_READER);
	struct kube_client *c = client(cfg, &quick);
	struct kube_ref web = ref_of("apps/v1", "Deployment", "web");
	log_mark();
	struct kube_scale s;
	struct ps_diag d;
	ps_diag_clear(&d);
	cr_assert_eq(kube_scale_get(c, &web, &s, &d), PS_OK, "reading is allowed: %s", d.msg);
	kube_scale_release(&s);
	cr_expect_eq(kube_scale_patch(c, &web, 4, false, NULL, &d), PS_EFORBIDDEN, "%s", d.msg);
	char want[512];
	snprintf(want, sizeof(want),
	         "PATCH %s/apis/apps/v1/namespaces/shop/deployments/web/scale: 403 Forbidden: "
	         "deployments.apps \"web\" is forbidden: User \"reader\" cannot patch resource "
	         "\"deployments/scale\" in API group \"apps\" in the namespace \"shop\"",
	         fk.url);
	cr_expect_str_eq(d.msg, want);
	cr_expect_str_eq(kube_client_last_status(c)->reason, "Forbidden");
	cr_expect_eq(log_count("PATCH", "/web/scale"), 1, "a 403 is not retried");
	assert_no_validation_failures();
	kube_client_free(c);
	kcfg_free(cfg);
}

Test(kube_live, negative_replicas_are_refused_here_and_invalid_there)
{
	struct kcfg *cfg = token_config(TOKEN_SCALER);
	struct kube_client *c = client(cfg, &quick);
	struct kube_ref web = ref_of("apps/v1", "Deployment", "web");
	log_mark();
	struct ps_diag d;
	ps_diag_clear(&d);
	cr_expect_eq(kube_scale_patch(c, &web, -1, false, NULL, &d), PS_EINVAL);
	cr_expect_eq(log_count("PATCH", "/scale"), 0, "refused before sending");

	/* Sent raw, the server's validation answers 422. */
	const char *body = "{\"spec\":{\"replicas\":-1}}";
	struct kube_req req = {.method = "PATCH",
	                       .path = "/apis/apps/v1/namespaces/shop/deployments/web/scale",
	                       .content_type = "application/merge-patch+json",
	                       .body = body,
	                       .body_len = strlen(body),
	                       .idempotent = true};
	cr_expect_eq(kube_do(c, &req, NULL, NULL, &d), PS_EINVALID, "%s", d.msg);
	cr_expect(strstr(d.msg, ": 422 Unprocessable Entity: Scale.autoscaling \"web\" is invalid: "
	                        "spec.replicas: Invalid value: -1: must be greater than or equal "
	                        "to 0") != NULL,
	          "%s", d.msg);
	cr_expect_str_eq(kube_client_last_status(c)->cause_field, "spec.replicas");
	cr_expect_eq(log_count("PATCH", "/scale"), 1, "a 422 is not retried");

	/* A wrong patch type is the server's 415: a plain HTTP error, not retried. */
	req.content_type = "application/json";
	req.body = "{\"spec\":{\"replicas\":2}}";
	req.body_len = strlen(req.body);
	cr_expect_eq(kube_do(c, &req, NULL, NULL, &d), PS_EHTTP, "%s", d.msg);
	cr_expect(strstr(d.msg, ": 415 Unsupported Media Type: ") != NULL, "%s", d.msg);
	cr_expect_eq(log_count("PATCH", "/scale"), 2);
	kube_client_free(c);
	kcfg_free(cfg);
	/* The 422 body was *meant* to fail the server's value rule, not the schema. */
	assert_no_validation_failures();
}

/* ---- 401 and fresh credentials ---- */

Test(kube_live, a_rejected_static_token_is_not_retried)
{
	struct kcfg *cfg = token_config(TOKEN_REVOKED);
	struct kube_client *c = client(cfg, &quick);
	struct kube_ref web = ref_of("apps/v1", "Deployment", "web");
	log_mark();
	struct kube_scale s;
	struct ps_diag d;
	ps_diag_clear(&d);
	cr_expect_eq(kube_scale_get(c, &web, &s, &d), PS_EUNAUTHORIZED, "%s", d.msg);
	cr_expect(strstr(d.msg, "/web/scale: 401 Unauthorized: Unauthorized") != NULL, "%s", d.msg);
	cr_expect_eq(log_count("GET", "/web/scale"), 1, "a static token cannot be refreshed");
	cr_expect_eq(kube_client_stats(c).reauths, 0);
	assert_no_validation_failures();
	kube_client_free(c);
	kcfg_free(cfg);
}

/* An in-cluster configuration (token file read at load, then at most once a minute) whose
 * token file holds <token>. */
static struct kcfg *in_cluster(const char *token, char *sa_dir, size_t size)
{
	snprintf(sa_dir, size, "%s/sa", fk.dir);
	mkdir(sa_dir, 0700);
	char p[300];
	snprintf(p, sizeof(p), "%s/token", sa_dir);
	write_text(p, token);
	snprintf(p, sizeof(p), "%s/ca.crt", sa_dir);
	write_text(p, fk.ca_pem);
	snprintf(p, sizeof(p), "%s/namespace", sa_dir);
	write_text(p, "shop");
	char port[16];
	snprintf(port, sizeof(port), "%d", fk.port);
	setenv("KUBERNETES_SERVICE_HOST", "127.0.0.1", 1);
	setenv("KUBERNETES_SERVICE_PORT", port, 1);
	struct kcfg *cfg = NULL;
	struct ps_diag d;
	ps_diag_clear(&d);
	cr_assert_eq(kcfg_load_in_cluster(sa_dir, &cfg, &d), PS_OK, "%s", d.msg);
	return cfg;
}

Test(kube_live, a_401_rereads_the_token_file_and_retries_once)
{
	char sa[256], p[300];
	struct kcfg *cfg = in_cluster(TOKEN_REVOKED, sa, sizeof(sa));
	struct kube_client *c = client(cfg, &quick);
	struct kube_ref web = ref_of("apps/v1", "Deployment", "web");

	/* The token is bad and stays bad: one repeat after re-reading it, then the 401. */
	log_mark();
	struct kube_scale s;
	struct ps_diag d;
	ps_diag_clear(&d);
	cr_expect_eq(kube_scale_get(c, &web, &s, &d), PS_EUNAUTHORIZED, "%s", d.msg);
	cr_expect(strstr(d.msg, "/web/scale: 401 Unauthorized: Unauthorized") != NULL, "%s", d.msg);
	cr_expect_eq(log_count("GET", "/web/scale"), 2, "exactly one repeat");
	cr_expect_eq(kube_client_stats(c).reauths, 1);

	/* The token rotates. The client read the file a moment ago and would not read it again
	 * for a minute: only the 401 makes it look, and the repeat succeeds. */
	snprintf(p, sizeof(p), "%s/token", sa);
	write_text(p, TOKEN_SCALER "\n");
	log_mark();
	cr_assert_eq(kube_scale_get(c, &web, &s, &d), PS_OK, "%s", d.msg);
	cr_expect_eq(s.replicas, 3);
	kube_scale_release(&s);
	cr_expect_eq(kube_client_stats(c).reauths, 2);
	cJSON *j = log_since_mark();
	cr_assert_eq(cJSON_GetArraySize(cJSON_GetObjectItem(j, "entries")), 2);
	cr_expect_eq(jint(log_entry(j, 0), "status"), 401);
	cr_expect_eq(jint(log_entry(j, 1), "status"), 200);
	cJSON_Delete(j);

	/* And the next call goes out with the new token at once. */
	log_mark();
	cr_assert_eq(kube_scale_get(c, &web, &s, &d), PS_OK, "%s", d.msg);
	kube_scale_release(&s);
	cr_expect_eq(log_count("GET", "/web/scale"), 1);
	assert_no_validation_failures();
	kube_client_free(c);
	kcfg_free(cfg);
}

/* ---- pods ---- */

Test(kube_live, pods_are_listed_by_selector_and_mapped)
{
	struct kcfg *cfg = token_config(TOKEN_SCALER);
	struct kube_client *c = client(cfg, &quick);
	log_mark();
	struct kube_pod_list l;
	struct ps_diag d;
	ps_diag_clear(&d);
	cr_assert_eq(kube_pods_list(c, "shop", "app=web", &l, &d), PS_OK, "%s", d.msg);
	cr_assert_eq(l.n_pods, 3, "other-1 does not match");
	const struct eng_pod *p = l.pods; /* the fake lists by name */
	cr_expect_str_eq(p[0].name, "web-1");
	cr_expect_eq(p[0].phase, ENG_PHASE_RUNNING);
	cr_expect(p[0].ready);
	cr_expect_eq(p[0].ready_transition_ms, INT64_C(1767225630000));
	cr_expect_eq(p[0].start_time_ms, INT64_C(1767225600000));
	cr_assert_eq(p[0].n_containers, 2, "app and the proxy sidecar, not the migration");
	cr_expect_str_eq(p[0].containers[0].name, "app");
	cr_expect_str_eq(p[0].containers[1].name, "proxy");
	cr_expect_eq(p[0].containers[1].requests[0].milli, 100);
	cr_expect_str_eq(p[1].name, "web-2");
	cr_expect(p[1].deleted);
	cr_expect(!p[1].ready);
	cr_expect_str_eq(p[2].name, "web-3");
	cr_expect_eq(p[2].phase, ENG_PHASE_PENDING);
	cr_expect(!p[2].has_ready_condition);
	cr_expect_eq(p[2].containers[0].n_requests, 0);
	kube_pod_list_release(&l);

	/* A set-based selector is escaped into the query and understood. */
	cr_assert_eq(kube_pods_list(c, "shop", "app in (web),tier!=edge", &l, &d), PS_OK, "%s",
	             d.msg);
	cr_expect_eq(l.n_pods, 2);
	kube_pod_list_release(&l);
	cJSON *j = log_since_mark();
	const cJSON *e = log_entry(j, 1);
	cr_expect_str_eq(jstr(e, "rawQuery"),
	                 "labelSelector=app%20in%20%28web%29%2Ctier%21%3Dedge&limit=500");
	cJSON_Delete(j);
	assert_no_validation_failures();
	kube_client_free(c);
	kcfg_free(cfg);
}

Test(kube_live, a_long_pod_list_is_read_page_by_page)
{
	/* 1203 pods in namespace "big": three pages of 500. */
	struct ps_buf b;
	ps_buf_init(&b, 4 << 20);
	cr_assert_eq(ps_buf_append_str(&b, "["), PS_OK);
	for (int i = 0; i < 1203; i++)
		cr_assert_eq(
		    ps_buf_appendf(&b,
		                   "%s{\"apiVersion\":\"v1\",\"kind\":\"Pod\",\"metadata\":{"
		                   "\"name\":\"p-%04d\",\"namespace\":\"big\",\"labels\":{"
		                   "\"app\":\"big\"}},\"spec\":{\"containers\":[{\"name\":"
		                   "\"c\",\"image\":\"i\",\"resources\":{\"requests\":{"
		                   "\"cpu\":\"%dm\"}}}]},\"status\":{\"phase\":\"Running\"}}",
		                   i ? "," : "", i, i + 1),
		    PS_OK);
	cr_assert_eq(ps_buf_append_str(&b, "]"), PS_OK);
	cJSON_Delete(fake_call("POST", "/_fake/objects", ps_buf_cstr(&b)));
	ps_buf_release(&b);

	struct kcfg *cfg = token_config(TOKEN_SCALER);
	struct kube_client *c = client(cfg, &quick);
	log_mark();
	struct kube_pod_list l;
	struct ps_diag d;
	ps_diag_clear(&d);
	cr_assert_eq(kube_pods_list(c, "big", "app=big", &l, &d), PS_OK, "%s", d.msg);
	cr_assert_eq(l.n_pods, 1203);
	for (size_t i = 0; i < l.n_pods; i++) {
		char want[32];
		snprintf(want, sizeof(want), "p-%04zu", i);
		cr_assert_str_eq(l.pods[i].name, want);
		cr_assert_eq(l.pods[i].containers[0].requests[0].milli, (int64_t)i + 1);
	}
	kube_pod_list_release(&l);
	cr_expect_eq(log_count("GET", "/api/v1/namespaces/big/pods"), 3);
	cJSON *j = log_since_mark();
	const cJSON *e = log_entry(j, 2);
	cr_expect_not_null(cJSON_GetObjectItem(cJSON_GetObjectItem(e, "query"), "continue"));
	cJSON_Delete(j);
	assert_no_validation_failures();
	kube_client_free(c);
	kcfg_free(cfg);
}

/* ---- leases ---- */

Test(kube_live, a_lease_is_created_read_renewed_and_guarded_by_its_version)
{
	struct kcfg *cfg = token_config(TOKEN_SCALER);
	struct kube_client *c = client(cfg, &quick);
	log_mark();
	struct kube_lease got;
	struct ps_diag d;
	ps_diag_clear(&d);
	cr_expect_eq(kube_lease_get(c, "shop", "prescale-leader", &got, &d), PS_ENOTFOUND, "%s",
	             d.msg);

	int64_t t0 = INT64_C(1767225600000) + 123;
	struct kube_lease l = {.duration_s = 15,
	                       .has_acquire_time = true,
	                       .acquire_ms = t0,
	                       .has_renew_time = true,
	                       .renew_ms = t0};
	strcpy(l.namespace, "shop");
	strcpy(l.name, "prescale-leader");
	strcpy(l.holder, "prescale-7d9f_4f0c");
	struct kube_lease created;
	cr_assert_eq(kube_lease_create(c, &l, &created, &d), PS_OK, "%s", d.msg);
	cr_expect_str_eq(created.holder, "prescale-7d9f_4f0c");
	long rv1 = rv_num(created.resource_version);

	cr_assert_eq(kube_lease_get(c, "shop", "prescale-leader", &got, &d), PS_OK, "%s", d.msg);
	cr_expect_str_eq(got.holder, "prescale-7d9f_4f0c");
	cr_expect_eq(got.duration_s, 15);
	cr_expect_eq(got.acquire_ms, t0);
	cr_expect_eq(got.renew_ms, t0);
	cr_expect_eq(got.transitions, 0);
	cr_expect_eq(rv_num(got.resource_version), rv1);

	/* Renew with the version just read. */
	struct kube_lease renew = got;
	renew.renew_ms = t0 + 10000;
	struct kube_lease renewed;
	cr_assert_eq(kube_lease_update(c, &renew, &renewed, &d), PS_OK, "%s", d.msg);
	cr_expect_gt(rv_num(renewed.resource_version), rv1);
	cr_expect_eq(renewed.renew_ms, t0 + 10000);

	/* A writer with the old version loses: 409, not retried. */
	struct kube_lease stale = got;
	strcpy(stale.holder, "someone-else");
	stale.transitions = 1;
	cr_expect_eq(kube_lease_update(c, &stale, NULL, &d), PS_ECONFLICT, "%s", d.msg);
	cr_expect_str_eq(kube_client_last_status(c)->reason, "Conflict");
	cr_expect(strstr(d.msg, ": 409 Conflict: Operation cannot be fulfilled on "
	                        "leases.coordination.k8s.io \"prescale-leader\"") != NULL,
	          "%s", d.msg);
	cr_expect_eq(log_count("PUT", "/leases/prescale-leader"), 2);

	/* Creating it again: 409 AlreadyExists. */
	cr_expect_eq(kube_lease_create(c, &l, NULL, &d), PS_ECONFLICT, "%s", d.msg);
	cr_expect_str_eq(kube_client_last_status(c)->reason, "AlreadyExists");
	cr_expect_eq(log_count("POST", "/leases"), 2);

	/* What was sent is a coordination.k8s.io/v1 Lease with MicroTimes. */
	cJSON *j = log_since_mark();
	const cJSON *e;
	cJSON_ArrayForEach(e, cJSON_GetObjectItem(j, "entries"))
	{
		if (strcmp(jstr(e, "method"), "POST"))
			continue;
		const cJSON *spec = cJSON_GetObjectItem(cJSON_GetObjectItem(e, "body"), "spec");
		cr_expect_str_eq(jstr(spec, "renewTime"), "2026-01-01T00:00:00.123000Z");
		cr_expect_str_eq(jstr(e, "contentType"), "application/json");
	}
	cJSON_Delete(j);
	assert_no_validation_failures();
	kube_client_free(c);
	kcfg_free(cfg);
}

/* ---- events ---- */

Test(kube_live, an_event_is_created_about_a_deployment)
{
	struct kcfg *cfg = token_config(TOKEN_SCALER);
	struct kube_client *c = client(cfg, &quick);
	struct kube_ref web = ref_of("apps/v1", "Deployment", "web");
	log_mark();
	struct kube_event ev = {
	    .regarding = &web,
	    .type = "Normal",
	    .reason = "ScaledUp",
	    .action = "Scale",
	    .note = "Scaled deployment shop/web from 3 to 5 replicas (queue_depth=42 > 10)",
	    .reporting_instance = "prescale-7d9f-xk2p",
	};
	char name[KUBE_NAME_MAX + 1];
	struct ps_diag d;
	ps_diag_clear(&d);
	cr_assert_eq(kube_event_create(c, &ev, name, &d), PS_OK, "%s", d.msg);
	cr_expect_eq(strncmp(name, "web.", 4), 0, "%s", name);
	cr_expect_eq(strlen(name), 4 + 16);
	char second[KUBE_NAME_MAX + 1];
	ev.type = "Warning";
	ev.reason = "FailedGetMetric";
	ev.action = "Query";
	cr_assert_eq(kube_event_create(c, &ev, second, &d), PS_OK, "%s", d.msg);
	cr_expect_str_neq(name, second);

	cJSON *objs =
	    fake_call("GET", "/_fake/objects?apiVersion=events.k8s.io/v1&namespace=shop", NULL);
	const cJSON *items = cJSON_GetObjectItem(objs, "items");
	cr_assert_eq(cJSON_GetArraySize(items), 2);
	const cJSON *o;
	bool found = false;
	cJSON_ArrayForEach(o, items)
	{
		if (strcmp(jstr(cJSON_GetObjectItem(o, "metadata"), "name"), name))
			continue;
		found = true;
		cr_expect_str_eq(jstr(o, "reportingController"), KUBE_REPORTING_CONTROLLER);
		cr_expect_str_eq(jstr(o, "reason"), "ScaledUp");
		const cJSON *reg = cJSON_GetObjectItem(o, "regarding");
		cr_expect_str_eq(jstr(reg, "kind"), "Deployment");
		cr_expect_str_eq(jstr(reg, "apiVersion"), "apps/v1");
	}
	cr_expect(found);
	cJSON_Delete(objs);
	cr_expect_eq(log_count("POST", "/apis/events.k8s.io/v1/namespaces/shop/events"), 2);
	assert_no_validation_failures();
	kube_client_free(c);
	kcfg_free(cfg);
}

/* ---- faults: retries, timeouts, cancellation ---- */

Test(kube_live, a_429_is_retried_after_its_retry_after)
{
	struct kcfg *cfg = token_config(TOKEN_SCALER);
	struct kube_client *c = client(cfg, &quick);
	struct kube_ref web = ref_of("apps/v1", "Deployment", "web");
	fake_fault("{\"kind\":\"429\",\"method\":\"GET\",\"path\":\"/web/scale$\",\"count\":1,"
	           "\"retryAfter\":1}");
	log_mark();
	struct kube_scale s;
	struct ps_diag d;
	ps_diag_clear(&d);
	int64_t t0 = now_ms();
	cr_assert_eq(kube_scale_get(c, &web, &s, &d), PS_OK, "%s", d.msg);
	int64_t took = now_ms() - t0;
	kube_scale_release(&s);
	cr_expect_geq(took, 990, "waited %lld ms for Retry-After: 1", (long long)took);
	cr_expect_lt(took, 4000, "took %lld ms", (long long)took);
	cr_log_info("429 with Retry-After 1: the call took %lld ms", (long long)took);
	cr_expect_eq(kube_client_stats(c).retries, 1);
	cJSON *j = log_since_mark();
	const cJSON *entries = cJSON_GetObjectItem(j, "entries");
	cr_assert_eq(cJSON_GetArraySize(entries), 2);
	const cJSON *a = log_entry(j, 0), *b = log_entry(j, 1);
	cr_expect_eq(jint(a, "status"), 429);
	cr_expect_eq(jint(b, "status"), 200);
	double gap = cJSON_GetObjectItem(b, "unixTime")->valuedouble -
	             cJSON_GetObjectItem(a, "unixTime")->valuedouble;
	cr_expect_geq(gap, 0.95, "the server saw the retry %.3f s later", gap);
	cJSON_Delete(j);
	assert_no_validation_failures();
	kube_client_free(c);
	kcfg_free(cfg);
}

Test(kube_live, the_plain_text_429_of_an_overloaded_server_is_handled)
{
	struct kcfg *cfg = token_config(TOKEN_SCALER);
	struct kube_client_opts o = quick;
	o.max_attempts = 2;
	struct kube_client *c = client(cfg, &o);
	struct kube_ref web = ref_of("apps/v1", "Deployment", "web");
	/* Once: retried after its Retry-After (1 s) and then fine. */
	fake_fault("{\"kind\":\"429-plaintext\",\"method\":\"GET\",\"count\":1}");
	struct kube_scale s;
	struct ps_diag d;
	ps_diag_clear(&d);
	cr_assert_eq(kube_scale_get(c, &web, &s, &d), PS_OK, "%s", d.msg);
	kube_scale_release(&s);
	/* Every time: the error quotes the text body and counts the attempts. */
	fake_fault("{\"kind\":\"429-plaintext\",\"method\":\"GET\",\"count\":5,\"retryAfter\":0}");
	log_mark();
	cr_expect_eq(kube_scale_get(c, &web, &s, &d), PS_ETHROTTLED, "%s", d.msg);
	char want[512];
	snprintf(want, sizeof(want),
	         "GET %s/apis/apps/v1/namespaces/shop/deployments/web/scale: 429 Too Many "
	         "Requests: \"Too many requests, please try again later.\" (gave up after 2 "
	         "attempts)",
	         fk.url);
	cr_expect_str_eq(d.msg, want);
	cr_expect_eq(kube_client_last_status(c)->code, 429);
	cr_expect_str_eq(kube_client_last_status(c)->reason, "");
	cr_expect_eq(log_count("GET", "/web/scale"), 2);
	cJSON_Delete(fake_call("DELETE", "/_fake/faults", NULL));
	assert_no_validation_failures();
	kube_client_free(c);
	kcfg_free(cfg);
}

Test(kube_live, a_500_is_retried_with_backoff_and_reported_when_it_persists)
{
	struct kcfg *cfg = token_config(TOKEN_SCALER);
	struct kube_client_opts o = quick;
	o.max_attempts = 4;
	struct kube_client *c = client(cfg, &o);
	struct kube_ref web = ref_of("apps/v1", "Deployment", "web");
	fake_fault("{\"kind\":\"500\",\"method\":\"PATCH\",\"count\":2}");
	log_mark();
	struct ps_diag d;
	ps_diag_clear(&d);
	cr_assert_eq(kube_scale_patch(c, &web, 6, false, NULL, &d), PS_OK, "%s", d.msg);
	cr_expect_eq(kube_client_stats(c).retries, 2);
	cr_expect_eq(log_count("PATCH", "/web/scale"), 3);

	fake_fault("{\"kind\":\"500\",\"method\":\"GET\",\"count\":10}");
	struct kube_scale s;
	cr_expect_eq(kube_scale_get(c, &web, &s, &d), PS_ESERVER, "%s", d.msg);
	cr_expect(strstr(d.msg, "/web/scale: 500 Internal Server Error: Internal error occurred: "
	                        "fake fault injected (gave up after 4 attempts)") != NULL,
	          "%s", d.msg);
	cr_expect_eq(log_count("GET", "/web/scale"), 4);
	cJSON_Delete(fake_call("DELETE", "/_fake/faults", NULL));
	assert_no_validation_failures();
	kube_client_free(c);
	kcfg_free(cfg);
}

Test(kube_live, a_dropped_connection_is_retried_on_a_get_but_not_on_a_create)
{
	struct kcfg *cfg = token_config(TOKEN_SCALER);
	struct kube_client *c = client(cfg, &quick);
	struct kube_ref web = ref_of("apps/v1", "Deployment", "web");
	fake_fault("{\"kind\":\"drop\",\"method\":\"GET\",\"count\":1}");
	log_mark();
	struct kube_scale s;
	struct ps_diag d;
	ps_diag_clear(&d);
	cr_assert_eq(kube_scale_get(c, &web, &s, &d), PS_OK, "%s", d.msg);
	kube_scale_release(&s);
	cr_expect_str_eq(d.msg, "", "a call that succeeds on a retry leaves no stale error");
	cr_expect_eq(kube_client_stats(c).retries, 1);
	cr_expect_eq(log_count("GET", "/web/scale"), 2);

	/* A POST on a fresh connection: curl itself repeats a request whose reused connection
	 * turns out dead before any answer (a keep-alive race), so only a new client shows what
	 * prescale does. */
	struct kube_client *fresh = client(cfg, &quick);
	fake_fault("{\"kind\":\"drop\",\"method\":\"POST\",\"count\":1}");
	struct kube_event ev = {.regarding = &web,
	                        .type = "Normal",
	                        .reason = "ScaledUp",
	                        .action = "Scale",
	                        .note = "n"};
	cr_expect_eq(kube_event_create(fresh, &ev, NULL, &d), PS_EIO, "%s", d.msg);
	cr_expect(strstr(d.msg, "POST ") == d.msg, "%s", d.msg);
	cr_expect_eq(kube_client_stats(fresh).requests, 1);
	kube_client_free(fresh);
	cr_expect_eq(log_count("POST", "/events"), 1, "a create is not repeated blindly");
	assert_no_validation_failures();
	kube_client_free(c);
	kcfg_free(cfg);
}

Test(kube_live, a_truncated_body_is_an_error)
{
	struct kcfg *cfg = token_config(TOKEN_SCALER);
	struct kube_client_opts o = quick;
	o.max_attempts = 3;
	struct kube_client *c = client(cfg, &o);
	struct kube_ref web = ref_of("apps/v1", "Deployment", "web");
	/* Once: a GET is repeated and succeeds. */
	fake_fault("{\"kind\":\"truncate\",\"method\":\"GET\",\"count\":1}");
	struct kube_scale s;
	struct ps_diag d;
	ps_diag_clear(&d);
	cr_assert_eq(kube_scale_get(c, &web, &s, &d), PS_OK, "%s", d.msg);
	kube_scale_release(&s);
	/* Always: the error, after the attempts, names the URL. */
	fake_fault("{\"kind\":\"truncate\",\"method\":\"GET\",\"count\":10}");
	log_mark();
	cr_expect_eq(kube_scale_get(c, &web, &s, &d), PS_EIO, "%s", d.msg);
	cr_expect(strstr(d.msg, "GET https://127.0.0.1:") == d.msg, "%s", d.msg);
	cr_expect(strstr(d.msg, "(gave up after 3 attempts)") != NULL, "%s", d.msg);
	cr_expect_eq(log_count("GET", "/web/scale"), 3);
	cJSON_Delete(fake_call("DELETE", "/_fake/faults", NULL));
	assert_no_validation_failures();
	kube_client_free(c);
	kcfg_free(cfg);
}

Test(kube_live, a_delay_longer_than_the_timeout_times_out)
{
	struct kcfg *cfg = token_config(TOKEN_SCALER);
	struct kube_client_opts o = quick;
	o.timeout_ms = 1000;
	struct kube_client *c = client(cfg, &o);
	struct kube_ref web = ref_of("apps/v1", "Deployment", "web");
	fake_fault("{\"kind\":\"delay\",\"method\":\"GET\",\"delayMs\":4000,\"count\":1}");
	struct kube_scale s;
	struct ps_diag d;
	ps_diag_clear(&d);
	int64_t t0 = now_ms();
	cr_expect_eq(kube_scale_get(c, &web, &s, &d), PS_ETIMEDOUT, "%s", d.msg);
	int64_t took = now_ms() - t0;
	cr_log_info("a 4 s delay under a 1 s timeout returned after %lld ms", (long long)took);
	cr_expect_geq(took, 900);
	cr_expect_lt(took, 2500, "%lld ms", (long long)took);
	cr_expect(strstr(d.msg, "GET https://127.0.0.1:") == d.msg, "%s", d.msg);
	/* The delayed request is still in the fake; it has no body to fail validation. */
	assert_no_validation_failures();
	kube_client_free(c);
	kcfg_free(cfg);
}

struct firer {
	struct http_cancel *cancel;
	long delay_ms;
	int64_t fired_at;
};

static void *fire_later(void *arg)
{
	struct firer *f = arg;
	sleep_ms(f->delay_ms);
	f->fired_at = now_ms();
	http_cancel_fire(f->cancel);
	return NULL;
}

Test(kube_live, a_cancel_ends_the_wait_for_retry_after)
{
	struct kcfg *cfg = token_config(TOKEN_SCALER);
	struct http_cancel *cancel;
	cr_assert_eq(http_cancel_new(&cancel), PS_OK);
	struct kube_client_opts o = quick;
	o.cancel = cancel;
	o.timeout_ms = 60000;
	struct kube_client *c = client(cfg, &o);
	struct kube_ref web = ref_of("apps/v1", "Deployment", "web");
	fake_fault("{\"kind\":\"429\",\"method\":\"GET\",\"count\":1,\"retryAfter\":20}");
	log_mark();
	struct firer f = {cancel, 400, 0};
	pthread_t t;
	cr_assert_eq(pthread_create(&t, NULL, fire_later, &f), 0);
	struct kube_scale s;
	struct ps_diag d;
	ps_diag_clear(&d);
	enum ps_err err = kube_scale_get(c, &web, &s, &d);
	int64_t back = now_ms();
	pthread_join(t, NULL);
	cr_expect_eq(err, PS_ECANCELED, "%s: %s", ps_err_name(err), d.msg);
	cr_log_info("canceled during a 20 s Retry-After wait: returned %lld ms after the cancel",
	            (long long)(back - f.fired_at));
	cr_expect_lt(back - f.fired_at, 100);
	cr_expect(strstr(d.msg, "canceled while waiting to retry") != NULL, "%s", d.msg);
	cr_expect_eq(log_count("GET", "/web/scale"), 1);
	assert_no_validation_failures();
	kube_client_free(c);
	http_cancel_free(cancel);
	kcfg_free(cfg);
}

/* ---- the rate limit ---- */

Test(kube_live, the_rate_limit_lets_a_burst_through_and_throttles_the_rest)
{
	struct kcfg *cfg = token_config(TOKEN_SCALER);
	struct kube_limiter *lim;
	cr_assert_eq(kube_limiter_new(1, 3, NULL, &lim, NULL), PS_OK);
	struct kube_client_opts o = quick;
	o.limiter = lim;
	o.timeout_ms = 300; /* a token comes every second: too late for this deadline */
	struct kube_client *c = client(cfg, &o);
	struct kube_ref web = ref_of("apps/v1", "Deployment", "web");
	log_mark();
	int ok = 0, throttled = 0;
	for (int i = 0; i < 6; i++) {
		struct kube_scale s;
		struct ps_diag d;
		ps_diag_clear(&d);
		enum ps_err err = kube_scale_get(c, &web, &s, &d);
		if (err == PS_OK) {
			ok++;
			kube_scale_release(&s);
		} else {
			cr_expect_eq(err, PS_ETHROTTLED, "%s", d.msg);
			throttled++;
		}
	}
	cr_expect_eq(ok, 3);
	cr_expect_eq(throttled, 3);
	cr_expect_eq(log_count("GET", "/web/scale"), 3, "throttled calls send nothing");
	kube_client_free(c);
	kube_limiter_free(lim);

	/* Shared by two clients at 10 qps with no burst: 6 calls need 500 ms at least. */
	cr_assert_eq(kube_limiter_new(10, 1, NULL, &lim, NULL), PS_OK);
	o.timeout_ms = 10000;
	o.limiter = lim;
	struct kube_client *c1 = client(cfg, &o), *c2 = client(cfg, &o);
	log_mark();
	int64_t t0 = now_ms();
	for (int i = 0; i < 6; i++) {
		struct kube_scale s;
		struct ps_diag d;
		ps_diag_clear(&d);
		cr_assert_eq(kube_scale_get(i % 2 ? c1 : c2, &web, &s, &d), PS_OK, "%s", d.msg);
		kube_scale_release(&s);
	}
	int64_t took = now_ms() - t0;
	cr_log_info("6 calls at 10 qps, burst 1: %lld ms", (long long)took);
	cr_expect_geq(took, 490, "%lld ms", (long long)took);
	cr_expect_eq(log_count("GET", "/web/scale"), 6);
	cr_expect_eq(kube_limiter_delayed(lim), 5);
	kube_client_free(c1);
	kube_client_free(c2);
	kube_limiter_free(lim);
	assert_no_validation_failures();
	kcfg_free(cfg);
}

/* ---- secrets ---- */

Test(kube_live, no_token_appears_in_debug_logs_or_messages)
{
	char *logbuf = NULL;
	size_t loglen = 0;
	FILE *mem = open_memstream(&logbuf, &loglen);
	cr_assert_not_null(mem);
	ps_log_set_output(mem);
	ps_log_set_level(PS_LOG_DEBUG);

	struct kcfg *good = token_config(TOKEN_SCALER);
	struct kcfg *reader = kubeconfig("reader", "    token: " TOKEN_READER "\n");
	struct kcfg *bad = kubeconfig("bad", "    token: " TOKEN_REVOKED "\n");
	struct kube_client *c = client(good, &quick);
	struct kube_client *cr = client(reader, &quick);
	struct kube_client *cb = client(bad, &quick);
	struct kube_ref web = ref_of("apps/v1", "Deployment", "web");
	struct kube_ref nope = ref_of("apps/v1", "Deployment", "nope");
	fake_fault("{\"kind\":\"500\",\"method\":\"GET\",\"path\":\"/pods$\",\"count\":1}");

	char all[8192] = "";
	struct ps_diag d;
	struct kube_scale s;
	struct kube_pod_list pl;
	enum ps_err errs[6];
	ps_diag_clear(&d);
	errs[0] = kube_scale_get(c, &web, &s, &d);
	if (errs[0] == PS_OK)
		kube_scale_release(&s);
	ps_log(PS_LOG_DEBUG, "scale get", "result", ps_err_name(errs[0]), "diag", d.msg, NULL);
	errs[1] = kube_scale_get(c, &nope, &s, &d);
	strcat(all, d.msg);
	ps_log(PS_LOG_DEBUG, "scale get", "error", d.msg, NULL);
	errs[2] = kube_scale_patch(cr, &web, 4, false, NULL, &d);
	strcat(all, d.msg);
	ps_log(PS_LOG_WARN, "scale patch", "error", d.msg, NULL);
	errs[3] = kube_scale_get(cb, &web, &s, &d);
	strcat(all, d.msg);
	ps_log(PS_LOG_ERROR, "scale get", "error", d.msg, NULL);
	errs[4] = kube_pods_list(c, "shop", "app=web", &pl, &d);
	kube_pod_list_release(&pl);
	ps_log(PS_LOG_DEBUG, "pods", "result", ps_err_name(errs[4]), NULL);
	struct kube_client_stats st = kube_client_stats(c);
	PS_LOG_FIELDS(PS_LOG_DEBUG, "stats", PS_LOG_INT("requests", (int64_t)st.requests),
	              PS_LOG_INT("retries", (int64_t)st.retries));
	ps_log_set_output(NULL);
	fclose(mem);

	cr_expect_eq(errs[0], PS_OK);
	cr_expect_eq(errs[1], PS_ENOTFOUND);
	cr_expect_eq(errs[2], PS_EFORBIDDEN);
	cr_expect_eq(errs[3], PS_EUNAUTHORIZED);
	cr_expect_eq(errs[4], PS_OK);
	cr_expect_gt(loglen, 200, "the log has the records: %s", logbuf);
	const char *tokens[] = {TOKEN_SCALER, TOKEN_READER, TOKEN_REVOKED};
	for (size_t i = 0; i < PS_ARRAY_LEN(tokens); i++) {
		cr_expect_null(strstr(logbuf, tokens[i]), "token %zu in the log", i);
		cr_expect_null(strstr(all, tokens[i]), "token %zu in a message", i);
	}
	free(logbuf);
	assert_no_validation_failures();
	kube_client_free(c);
	kube_client_free(cr);
	kube_client_free(cb);
	kcfg_free(good);
	kcfg_free(reader);
	kcfg_free(bad);
}
