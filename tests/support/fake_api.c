/* fake_api.c -- the fake Kubernetes API server as a child of a test (see fake_api.h). */
#include "fake_api.h"

#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "http.h"
#include "prom_server.h"
#include "ps_alloc.h"
#include "ps_buf.h"
#include "ps_clock.h"

static int64_t fake_mono_ms(void)
{
	return ps_clock_mono_ms(ps_clock_real());
}

static void fake_nap(long ms)
{
	struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
	while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
		;
}

static void copy_field(cJSON *j, const char *key, char *dst, size_t size)
{
	cJSON *v = cJSON_GetObjectItemCaseSensitive(j, key);
	cr_assert(cJSON_IsString(v), "the fake's ready line has no %s", key);
	snprintf(dst, size, "%s", v->valuestring);
}

void fake_api_start(struct fake_api *f, const char *config, const char *log, int timeout_s)
{
	memset(f, 0, sizeof(*f));
	f->stdin_fd = -1;
	snprintf(f->log, sizeof(f->log), "%s", log);
	cr_assert(prom_server_in_path("python3"), "python3 is needed for the fake API server");
	char script[512], timeout[32];
	snprintf(script, sizeof(script), "%s/tests/fakeapi/fake_apiserver.py", PS_SOURCE_DIR);
	snprintf(timeout, sizeof(timeout), "%d", timeout_s);
	int in[2], out[2];
	cr_assert_eq(pipe(in), 0);
	cr_assert_eq(pipe(out), 0);
	/* Close-on-exec, so that children started later (prescale) do not hold the fake's stdin
	 * open; the spawned child dup2()s its ends, which clears the flag there. */
	for (int i = 0; i < 2; i++) {
		cr_assert_eq(fcntl(in[i], F_SETFD, FD_CLOEXEC), 0);
		cr_assert_eq(fcntl(out[i], F_SETFD, FD_CLOEXEC), 0);
	}
	char *argv[16] = {
	    "python3", script, "--port", "0", "--timeout", timeout, "--exit-on-stdin-eof",
	    "--quiet"};
	size_t n = 8;
	if (config) {
		argv[n++] = "--config";
		argv[n++] = (char *)config;
	}
	argv[n] = NULL;
	f->pid = prom_server_spawn(argv, in[0], out[1], log);
	close(in[0]);
	close(out[1]);
	f->stdin_fd = in[1];
	char line[8192];
	size_t got = 0;
	int64_t deadline = fake_mono_ms() + FAKE_API_READY_MS;
	cr_assert_eq(fcntl(out[0], F_SETFL, O_NONBLOCK), 0);
	while (got < sizeof(line) - 1 && (got == 0 || line[got - 1] != '\n')) {
		if (fake_mono_ms() > deadline) {
			close(out[0]);
			cr_assert_fail("the fake API server was not ready within %d s; see %s",
			               FAKE_API_READY_MS / 1000, log);
		}
		ssize_t r = read(out[0], line + got, sizeof(line) - 1 - got);
		if (r > 0) {
			got += (size_t)r;
		} else if (r == 0) {
			close(out[0]);
			cr_assert_fail("the fake API server exited; see %s", log);
		} else {
			fake_nap(20);
		}
	}
	line[got] = '\0';
	close(out[0]);
	cJSON *j = cJSON_Parse(line);
	cr_assert_not_null(j, "the fake's ready line is not JSON: %s", line);
	copy_field(j, "url", f->url, sizeof(f->url));
	copy_field(j, "ca", f->ca, sizeof(f->ca));
	copy_field(j, "adminToken", f->admin_token, sizeof(f->admin_token));
	cJSON_Delete(j);
	struct ps_buf b;
	ps_buf_init(&b, 1 << 20);
	struct ps_diag d;
	cr_assert_eq(ps_buf_read_file(&b, f->ca, &d), PS_OK, "%s", ps_diag_msg(&d));
	f->ca_pem = ps_buf_detach(&b);
	cr_assert_not_null(f->ca_pem);
}

void fake_api_stop(struct fake_api *f)
{
	if (f->stdin_fd >= 0) {
		close(f->stdin_fd);
		f->stdin_fd = -1;
	}
	prom_server_child_stop(&f->pid);
	ps_free(f->ca_pem);
	f->ca_pem = NULL;
}

long fake_api_control(struct fake_api *f, const char *method, const char *path, const char *body,
                      char **out)
{
	char url[1024];
	snprintf(url, sizeof(url), "%s%s", f->url, path);
	struct http_tls tls = {.ca_pem = f->ca_pem, .ca_len = strlen(f->ca_pem)};
	struct http_request req = {.method = method,
	                           .url = url,
	                           .body = body,
	                           .body_len = body ? strlen(body) : 0,
	                           .content_type = body ? "application/json" : NULL,
	                           .bearer_token = f->admin_token,
	                           .tls = &tls,
	                           .timeout_ms = 10000,
	                           .max_body = 64 << 20};
	struct http_client *c = NULL;
	cr_assert_eq(http_client_new(&c, NULL), PS_OK);
	struct http_response resp;
	http_response_init(&resp);
	struct ps_diag d;
	ps_diag_clear(&d);
	enum ps_err e = http_do(c, &req, &resp, NULL, &d);
	if (e) {
		http_response_release(&resp);
		http_client_free(c);
		cr_assert_fail("%s %s: %s", method, url, ps_diag_msg(&d));
	}
	long status = resp.status;
	if (out)
		*out = ps_strdup(ps_buf_cstr(&resp.body));
	http_response_release(&resp);
	http_client_free(c);
	return status;
}

void fake_api_put_objects(struct fake_api *f, const char *json)
{
	char *out = NULL;
	long st = fake_api_control(f, "PUT", "/_fake/objects", json, &out);
	cr_assert_eq(st, 200, "PUT /_fake/objects: %ld %s", st, out);
	ps_free(out);
}

void fake_api_add_faults(struct fake_api *f, const char *json)
{
	char *out = NULL;
	long st = fake_api_control(f, "POST", "/_fake/faults", json, &out);
	cr_assert_eq(st, 200, "POST /_fake/faults: %ld %s", st, out);
	ps_free(out);
}

cJSON *fake_api_log(struct fake_api *f, cJSON **entries)
{
	char *body = NULL;
	cr_assert_eq(fake_api_control(f, "GET", "/_fake/log", NULL, &body), 200);
	cJSON *root = cJSON_Parse(body);
	ps_free(body);
	cr_assert_not_null(root, "the fake's log is not JSON");
	*entries = cJSON_GetObjectItemCaseSensitive(root, "entries");
	cr_assert(cJSON_IsArray(*entries));
	return root;
}

int fake_api_validation_failures(struct fake_api *f)
{
	char *body = NULL;
	cr_assert_eq(fake_api_control(f, "GET", "/_fake/validation-failures", NULL, &body), 200);
	cJSON *root = cJSON_Parse(body);
	ps_free(body);
	cr_assert_not_null(root);
	cJSON *t = cJSON_GetObjectItemCaseSensitive(root, "total");
	cr_assert(cJSON_IsNumber(t));
	int n = t->valueint;
	cJSON_Delete(root);
	return n;
}

int fake_api_deployment_replicas(struct fake_api *f, const char *ns, const char *name)
{
	char path[512], *body = NULL;
	snprintf(path, sizeof(path),
	         "/_fake/objects?apiVersion=apps/v1&kind=Deployment&namespace=%s&name=%s", ns,
	         name);
	cr_assert_eq(fake_api_control(f, "GET", path, NULL, &body), 200);
	cJSON *root = cJSON_Parse(body);
	ps_free(body);
	cr_assert_not_null(root);
	cJSON *item = cJSON_GetArrayItem(cJSON_GetObjectItemCaseSensitive(root, "items"), 0);
	cr_assert_not_null(item, "no deployment %s/%s in the fake", ns, name);
	cJSON *r = cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(item, "spec"),
	                                            "replicas");
	int n = cJSON_IsNumber(r) ? r->valueint : 1;
	cJSON_Delete(root);
	return n;
}

void fake_api_write_kubeconfig(struct fake_api *f, const char *path, const char *token,
                               const char *ns)
{
	FILE *out = fopen(path, "w");
	cr_assert_not_null(out, "%s: %s", path, strerror(errno));
	fprintf(
	    out,
	    "apiVersion: v1\nkind: Config\nclusters:\n- name: fake\n  cluster:\n    server: "
	    "\"%s\"\n    certificate-authority: \"%s\"\nusers:\n- name: prescale\n  user:\n    "
	    "token: \"%s\"\ncontexts:\n- name: fake\n  context: {cluster: fake, user: prescale, "
	    "namespace: %s}\ncurrent-context: fake\n",
	    f->url, f->ca, token, ns);
	cr_assert_eq(fclose(out), 0);
}
