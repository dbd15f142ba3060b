/* test_alloc_fail.c -- allocation-failure injection over every parser and client call.
 *
 * DESIGN
 * torture() runs one call on a valid input with the n-th allocation failing, for n = 1, 2, ...
 * (ps_alloc_fail_at), until a run sees no injected failure (ps_alloc_injected): the call made
 * fewer than n allocations that time, so it must succeed. Every run that did see one must end
 * in a clean error: PS_ENOMEM, the same code in the diag and a message that says "memory", with
 * everything freed. The loop is capped (MAX_RUNS) and must end by that clean run. Each test ends
 * with a LeakSanitizer check in the ASan build, so a leak fails the test that made it (not only
 * a report at exit, which Criterion would not see).
 *
 * The clients run against the servers their own live tests use: the Kubernetes client against
 * tests/fakeapi/fake_apiserver.py over TLS (tests/support/fake_api.c), the Prometheus client
 * against a real Prometheus (tests/support/prom_server.c). One client serves every run of a
 * loop, so a failed call must also leave its client usable for the next.
 *
 * What cannot be injected here:
 * - libyaml allocates with plain malloc and has no allocator hooks: the configuration and
 *   kubeconfig loaders see injected failures only in prescale's own code on top of libyaml's
 *   events, never inside the YAML parser itself.
 * - libcurl and OpenSSL allocate through their own allocators: only prescale's allocations in
 *   the request path (src/http, src/kube, src/prom, cJSON through its hooks) fail here.
 *   curl_global_init_mem() could route libcurl's through ps_malloc, but libcurl 7.88 does not
 *   end every one of its allocation failures cleanly: tried on the instant query, some gave
 *   "Empty reply from server" (PS_EIO), one sent the request without its query string
 *   (Prometheus answered 400 "no expression found"), others a content-decoding message with
 *   CURLE_OUT_OF_MEMORY. That would test libcurl rather than prescale; what prescale owns is
 *   that CURLE_OUT_OF_MEMORY maps to PS_ENOMEM (src/http).
 * - ps_parse_quantity_milli, ps_parse_duration_ms and ps_clock_parse_rfc3339 allocate nothing:
 *   a test checks that they make no allocation, so there is nothing to inject.
 */
#include <cjson/cJSON.h>
#include <criterion/criterion.h>
#include <criterion/logging.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cfg.h"
#include "engine.h"
#include "fake_api.h"
#include "forecast.h"
#include "http.h"
#include "kube.h"
#include "kubeconfig.h"
#include "prom.h"
#include "prom_server.h"
#include "ps_alloc.h"
#include "ps_buf.h"
#include "ps_clock.h"
#include "ps_parse.h"
#include "snapshot.h"
#include "trace.h"

#if defined(__SANITIZE_ADDRESS__)
#define HAVE_LSAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define HAVE_LSAN 1
#endif
#endif
#ifdef HAVE_LSAN
#include <sanitizer/lsan_interface.h>
#endif

#define KFIX PS_SHARED_DIR "/fixtures/kubernetes/"
#define PFIX PS_SHARED_DIR "/fixtures/prometheus/"
#define FAKE_CONFIG PS_SOURCE_DIR "/tests/fakeapi/example_config.json"

/* No call here makes anywhere near this many allocations. */
#define MAX_RUNS 20000

static void expect_no_leak(void)
{
#ifdef HAVE_LSAN
	cr_expect_eq(__lsan_do_recoverable_leak_check(), 0, "LeakSanitizer found a leak");
#endif
}

/* ---- the loop ---- */

typedef enum ps_err (*call_fn)(void *arg, struct ps_diag *diag);

struct torture {
	const char *what;
	call_fn call;               /* frees whatever it made, success or not */
	void (*prepare)(void *arg); /* may be NULL: runs before each call, injection off */
	void *arg;
	enum ps_err want; /* the call's result without failures: PS_OK, or the documented error of
	                     an error input */
	bool may_absorb;  /* a documented fallback: an injected failure may still end in <want> */
	bool no_diag;     /* the call takes no diag; its contract says just "PS_ENOMEM" */
};

/* Runs <t> as described at the top; fails the test at the first run that breaks the rules. */
static void torture(const struct torture *t)
{
	struct ps_diag d;
	if (t->prepare)
		t->prepare(t->arg);
	uint64_t before = ps_alloc_count();
	ps_diag_clear(&d);
	enum ps_err err = t->call(t->arg, &d);
	uint64_t made = ps_alloc_count() - before;
	cr_assert_eq(err, t->want, "%s without injection: %s (%s)", t->what, ps_err_name(err),
	             ps_diag_msg(&d));
	cr_assert_gt(made, 0, "%s made no allocation", t->what);
	uint64_t n, failed = 0;
	for (n = 1; n <= MAX_RUNS; n++) {
		if (t->prepare)
			t->prepare(t->arg);
		ps_diag_clear(&d);
		ps_alloc_fail_at(n);
		err = t->call(t->arg, &d);
		bool injected = ps_alloc_injected();
		ps_alloc_fail_at(0);
		if (!injected) {
			cr_assert_eq(err, t->want, "%s, clean run %llu: %s (%s)", t->what,
			             (unsigned long long)n, ps_err_name(err), ps_diag_msg(&d));
			break;
		}
		if (err == t->want) {
			cr_assert(t->may_absorb,
			          "%s: allocation %llu failed, yet the call returned %s as without "
			          "failures (%s)",
			          t->what, (unsigned long long)n, ps_err_name(err),
			          ps_diag_msg(&d));
			continue;
		}
		failed++;
		cr_assert_eq(err, PS_ENOMEM, "%s, allocation %llu: %s (%s)", t->what,
		             (unsigned long long)n, ps_err_name(err), ps_diag_msg(&d));
		if (!t->no_diag) {
			cr_assert_eq(d.err, PS_ENOMEM,
			             "%s, allocation %llu: the diag holds %s (%s)", t->what,
			             (unsigned long long)n, ps_err_name(d.err), ps_diag_msg(&d));
			cr_assert(strstr(d.msg, "memory") != NULL,
			          "%s, allocation %llu: the message does not say so: \"%s\"",
			          t->what, (unsigned long long)n, d.msg);
		}
	}
	cr_assert_leq(n, MAX_RUNS, "%s never ran without an injected failure", t->what);
	if (!t->may_absorb)
		cr_assert_gt(failed, 0, "%s: no injected failure reached the caller", t->what);
	cr_log_info("%s: %llu allocations, %llu runs", t->what, (unsigned long long)made,
	            (unsigned long long)n);
	expect_no_leak();
}

/* A whole file in plain malloc memory (the test's own, outside the injection), NUL added. */
static char *slurp(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	cr_assert_not_null(f, "%s: %s", path, strerror(errno));
	cr_assert_eq(fseek(f, 0, SEEK_END), 0);
	long size = ftell(f);
	cr_assert_geq(size, 0);
	rewind(f);
	char *s = malloc((size_t)size + 1);
	cr_assert_not_null(s);
	cr_assert_eq(fread(s, 1, (size_t)size, f), (size_t)size);
	fclose(f);
	s[size] = '\0';
	*len = (size_t)size;
	return s;
}

struct text {
	char *s;
	size_t len;
	const char *source;
	long status;
};

static struct text text_of(const char *path, long status)
{
	struct text t = {.source = path, .status = status};
	t.s = slurp(path, &t.len);
	return t;
}

/* ---- Prometheus response parsing ---- */

static enum ps_err call_prom_parse(void *arg, struct ps_diag *d)
{
	const struct text *t = arg;
	struct prom_parse_opts o = {
	    .source = t->source, .http_status = t->status, .content_type = "application/json"};
	struct prom_result r;
	enum ps_err err = prom_parse_response(t->s, t->len, &o, &r, d);
	if (err) {
		cr_assert_eq(r.n_series, 0, "a failed parse left series");
		cr_assert_null(r.mem, "a failed parse left memory");
	}
	prom_result_release(&r);
	return err;
}

/* The recorded response of Prometheus fixture <path>: its "body" and "status". */
static struct text prom_fixture(const char *path)
{
	size_t len;
	char *json = slurp(path, &len);
	cJSON *root = cJSON_ParseWithLength(json, len);
	free(json);
	cr_assert_not_null(root, "%s is not JSON", path);
	const cJSON *body = cJSON_GetObjectItemCaseSensitive(root, "body");
	const cJSON *status = cJSON_GetObjectItemCaseSensitive(root, "status");
	cr_assert(cJSON_IsString(body) && cJSON_IsNumber(status), "%s: no body or status", path);
	struct text t = {.source = path, .status = (long)status->valuedouble};
	t.len = strlen(body->valuestring);
	t.s = malloc(t.len + 1);
	cr_assert_not_null(t.s);
	memcpy(t.s, body->valuestring, t.len + 1);
	cJSON_Delete(root);
	return t;
}

Test(alloc_fail, prometheus_responses_parse_or_fail_cleanly)
{
	const struct {
		const char *file;
		enum ps_err want;
	} cases[] = {
	    {"instant_vector_sum_by.json", PS_OK},
	    {"range_matrix.json", PS_OK},
	    {"instant_scalar.json", PS_OK},
	    {"instant_string.json", PS_OK},
	    {"instant_with_stats.json", PS_OK},
	    /* Error envelopes: the message is built from the JSON too. */
	    {"err_400_parse_error.json", PS_EPARSE},
	    {"err_422_many_to_many.json", PS_EINVALID},
	};
	for (size_t i = 0; i < PS_ARRAY_LEN(cases); i++) {
		char path[512];
		snprintf(path, sizeof(path), PFIX "%s", cases[i].file);
		struct text t = prom_fixture(path);
		struct torture tt = {.what = cases[i].file,
		                     .call = call_prom_parse,
		                     .arg = &t,
		                     .want = cases[i].want};
		torture(&tt);
		free(t.s);
	}
}

struct expand {
	const char *query;
	struct prom_vars vars;
};

static enum ps_err call_prom_expand(void *arg, struct ps_diag *d)
{
	const struct expand *e = arg;
	char *out = NULL;
	enum ps_err err = prom_template_expand(e->query, &e->vars, &out, d);
	if (!err)
		cr_assert_str_eq(out, "sum(rate(x{namespace=\"shop\",deployment=\"web\"}[1m]))");
	else
		cr_assert_null(out);
	ps_free(out);
	return err;
}

Test(alloc_fail, query_templates_expand_or_fail_cleanly)
{
	struct expand e = {
	    .query = "sum(rate(x{namespace=\"{{.namespace}}\",deployment=\"{{ .target }}\"}[1m]))",
	    .vars = {.namespace = "shop",
	             .name = "web-as",
	             .target = "web",
	             .kind = "Deployment",
	             .metric = "rps"}};
	struct torture t = {.what = "prom_template_expand", .call = call_prom_expand, .arg = &e};
	torture(&t);
}

/* ---- Kubernetes JSON decoders and bodies ---- */

static enum ps_err call_scale_parse(void *arg, struct ps_diag *d)
{
	const struct text *t = arg;
	struct kube_scale s;
	enum ps_err err = kube_scale_parse(t->s, t->len, &s, d);
	if (!err) {
		cr_assert_str_eq(s.name, "web");
		cr_assert_eq(s.replicas, 3);
		cr_assert_str_eq(s.selector, "app=web");
		kube_scale_release(&s);
	}
	return err;
}

static enum ps_err call_pods_parse(void *arg, struct ps_diag *d)
{
	const struct text *t = arg;
	struct kube_pod_list l;
	memset(&l, 0, sizeof(l));
	char cont[256];
	/* Two pages: the second grows what the first allocated. */
	enum ps_err err = kube_pod_list_parse(t->s, t->len, &l, cont, sizeof(cont), d);
	size_t first = l.n_pods;
	if (!err)
		err = kube_pod_list_parse(t->s, t->len, &l, cont, sizeof(cont), d);
	if (!err)
		cr_assert_eq(l.n_pods, 2 * first);
	kube_pod_list_release(&l);
	return err;
}

static enum ps_err call_status_parse(void *arg, struct ps_diag *d)
{
	const struct text *t = arg;
	struct kube_status st;
	enum ps_err err = kube_status_parse(t->s, t->len, &st, d);
	if (!err)
		cr_assert_eq(st.code, 422);
	return err;
}

static enum ps_err call_lease_parse(void *arg, struct ps_diag *d)
{
	const struct text *t = arg;
	struct kube_lease l;
	enum ps_err err = kube_lease_parse(t->s, t->len, &l, d);
	if (!err)
		cr_assert_neq(l.holder[0], '\0');
	return err;
}

/* kube_status_error falls back to the status line when it cannot decode the body: the code
 * and the line are there whatever memory does. */
static enum ps_err call_status_error(void *arg, struct ps_diag *d)
{
	const struct text *t = arg;
	struct kube_status st;
	enum ps_err err = kube_status_error("GET", "https://h/x", 403, t->s, t->len, &st, d);
	cr_assert_eq(err, PS_EFORBIDDEN);
	cr_assert(strstr(d->msg, "GET https://h/x: 403 Forbidden") == d->msg, "%s", d->msg);
	return err;
}

Test(alloc_fail, kubernetes_decoders_parse_or_fail_cleanly)
{
	struct text scale = text_of(KFIX "scale_get_response_deployment.json", 0);
	struct text pods = text_of(PS_TEST_DATA "/kube/calls/pods_list.json", 0);
	struct text status = text_of(KFIX "status_422_invalid.json", 0);
	struct text lease = text_of(KFIX "lease_get_response.json", 0);
	struct text forbidden = text_of(KFIX "status_403_forbidden.json", 0);
	const struct torture t[] = {
	    {.what = "kube_scale_parse", .call = call_scale_parse, .arg = &scale},
	    {.what = "kube_pod_list_parse", .call = call_pods_parse, .arg = &pods},
	    {.what = "kube_status_parse", .call = call_status_parse, .arg = &status},
	    {.what = "kube_lease_parse", .call = call_lease_parse, .arg = &lease},
	    {.what = "kube_status_error",
	     .call = call_status_error,
	     .arg = &forbidden,
	     .want = PS_EFORBIDDEN,
	     .may_absorb = true},
	};
	for (size_t i = 0; i < PS_ARRAY_LEN(t); i++)
		torture(&t[i]);
	free(scale.s);
	free(pods.s);
	free(status.s);
	free(lease.s);
	free(forbidden.s);
}

#define T2026 INT64_C(1767225600000)

static struct kube_lease lease_of(const char *ns, const char *name, const char *holder,
                                  int64_t wall_ms)
{
	struct kube_lease l;
	memset(&l, 0, sizeof(l));
	snprintf(l.namespace, sizeof(l.namespace), "%s", ns);
	snprintf(l.name, sizeof(l.name), "%s", name);
	snprintf(l.holder, sizeof(l.holder), "%s", holder);
	l.duration_s = 15;
	l.has_acquire_time = l.has_renew_time = true;
	l.acquire_ms = l.renew_ms = wall_ms;
	l.transitions = 1;
	return l;
}

static enum ps_err call_lease_body(void *arg, struct ps_diag *d)
{
	(void)arg;
	(void)d;
	struct kube_lease l = lease_of("default", "leader", "me", T2026);
	snprintf(l.resource_version, sizeof(l.resource_version), "42");
	struct ps_buf b;
	ps_buf_init(&b, 4096);
	enum ps_err err = kube_lease_body(&b, &l, true);
	ps_buf_release(&b);
	return err;
}

static enum ps_err call_patch_body(void *arg, struct ps_diag *d)
{
	(void)arg;
	(void)d;
	struct ps_buf b;
	ps_buf_init(&b, 4096);
	enum ps_err err = kube_scale_patch_body(&b, 7);
	if (!err)
		cr_assert_str_eq(ps_buf_cstr(&b), "{\"spec\":{\"replicas\":7}}");
	ps_buf_release(&b);
	return err;
}

static enum ps_err call_event_body(void *arg, struct ps_diag *d)
{
	(void)arg;
	struct kube_ref r;
	cr_assert_eq(kube_ref_from_kind(&r, "apps/v1", "Deployment", "default", "web", NULL),
	             PS_OK);
	struct kube_event ev = {.regarding = &r,
	                        .type = "Normal",
	                        .reason = "ScaledUp",
	                        .action = "Scale",
	                        .note = "from 2 to 3",
	                        .event_time_ms = T2026};
	struct ps_buf b;
	ps_buf_init(&b, 8192);
	enum ps_err err = kube_event_body(&b, &ev, "web.0123456789abcdef", d);
	ps_buf_release(&b);
	return err;
}

Test(alloc_fail, kubernetes_bodies_build_or_fail_cleanly)
{
	const struct torture t[] = {
	    {.what = "kube_lease_body", .call = call_lease_body, .no_diag = true},
	    {.what = "kube_scale_patch_body", .call = call_patch_body, .no_diag = true},
	    {.what = "kube_event_body", .call = call_event_body},
	};
	for (size_t i = 0; i < PS_ARRAY_LEN(t); i++)
		torture(&t[i]);
}

/* ---- configuration and kubeconfig ---- */

static enum ps_err call_cfg_load(void *arg, struct ps_diag *d)
{
	const char *path = arg;
	struct cfg *c = NULL;
	struct cfg_errors *errs = NULL;
	enum ps_err err = cfg_load(path, &c, &errs, d);
	if (err)
		cr_assert_null(c);
	cfg_unref(c);
	cfg_errors_free(errs);
	return err;
}

static enum ps_err call_cfg_dump(void *arg, struct ps_diag *d)
{
	(void)d;
	char *out = NULL;
	enum ps_err err = cfg_dump(arg, &out);
	if (!err)
		cr_assert(strstr(out, "kind: Autoscaler") != NULL);
	ps_free(out);
	return err;
}

static enum ps_err call_prom_config_from_cfg(void *arg, struct ps_diag *d)
{
	struct prom_config pc;
	enum ps_err err = prom_config_from_cfg(&cfg_controller(arg)->prometheus, &pc, d);
	if (!err)
		cr_assert_not_null(pc.url);
	else
		cr_assert_null(pc.url);
	prom_config_release(&pc);
	return err;
}

/* libyaml's own allocations are plain malloc (no hooks): only prescale's fail here. */
Test(alloc_fail, configurations_load_or_fail_cleanly)
{
	const struct torture t[] = {
	    {.what = "cfg_load full.yaml",
	     .call = call_cfg_load,
	     .arg = PS_TEST_DATA "/config/full.yaml"},
	    {.what = "cfg_load dir/", .call = call_cfg_load, .arg = PS_TEST_DATA "/config/dir"},
	    {.what = "cfg_load configmap/",
	     .call = call_cfg_load,
	     .arg = PS_TEST_DATA "/config/configmap"},
	    {.what = "cfg_load simulate.yaml",
	     .call = call_cfg_load,
	     .arg = PS_TEST_DATA "/config/simulate.yaml"},
	};
	for (size_t i = 0; i < PS_ARRAY_LEN(t); i++)
		torture(&t[i]);
	struct cfg *c = NULL;
	struct ps_diag d;
	cr_assert_eq(cfg_load(PS_TEST_DATA "/config/full.yaml", &c, NULL, &d), PS_OK, "%s", d.msg);
	struct torture dump = {
	    .what = "cfg_dump", .call = call_cfg_dump, .arg = c, .no_diag = true};
	torture(&dump);
	struct torture prom = {
	    .what = "prom_config_from_cfg", .call = call_prom_config_from_cfg, .arg = c};
	torture(&prom);
	cfg_unref(c);
	expect_no_leak();
}

static enum ps_err call_kcfg_load(void *arg, struct ps_diag *d)
{
	const char *context = arg;
	struct kcfg *c = (struct kcfg *)1;
	enum ps_err err = kcfg_load_kubeconfig(NULL, context, &c, d);
	if (err)
		cr_assert_null(c);
	kcfg_free(c);
	return err;
}

static enum ps_err call_kcfg_view(void *arg, struct ps_diag *d)
{
	(void)arg;
	char *s = (char *)1;
	enum ps_err err = kcfg_view_json(NULL, true, &s, d);
	if (err) {
		cr_assert_null(s);
		return err;
	}
	ps_free_secret(s, strlen(s));
	return err;
}

/* libyaml's own allocations are plain malloc (no hooks): only prescale's fail here. */
Test(alloc_fail, kubeconfigs_load_or_fail_cleanly)
{
	/* kubectl's merge of two files, each context of the merged view. */
	cr_assert_eq(
	    setenv("KUBECONFIG", KFIX "kubeconfig_merge/a.yaml:" KFIX "kubeconfig_merge/b.yaml", 1),
	    0);
	const struct torture t[] = {
	    {.what = "kcfg_load_kubeconfig current context", .call = call_kcfg_load},
	    {.what = "kcfg_load_kubeconfig ctx-a", .call = call_kcfg_load, .arg = "ctx-a"},
	    {.what = "kcfg_view_json", .call = call_kcfg_view},
	};
	for (size_t i = 0; i < PS_ARRAY_LEN(t); i++)
		torture(&t[i]);
}

static void write_file(const char *dir, const char *name, const char *content)
{
	char path[256];
	snprintf(path, sizeof(path), "%s/%s", dir, name);
	FILE *f = fopen(path, "w");
	cr_assert_not_null(f, "%s: %s", path, strerror(errno));
	cr_assert_geq(fputs(content, f), 0);
	cr_assert_eq(fclose(f), 0);
}

static void remove_files(const char *dir, const char *const *names, size_t n)
{
	char path[256];
	for (size_t i = 0; i < n; i++) {
		snprintf(path, sizeof(path), "%s/%s", dir, names[i]);
		unlink(path);
	}
	rmdir(dir);
}

static enum ps_err call_in_cluster(void *arg, struct ps_diag *d)
{
	struct kcfg *c = (struct kcfg *)1;
	enum ps_err err = kcfg_load_in_cluster(arg, &c, d);
	if (err)
		cr_assert_null(c);
	kcfg_free(c);
	return err;
}

/* The next kcfg_credentials() re-reads the token file. */
static void creds_prepare(void *arg)
{
	kcfg_token_invalidate(arg, NULL);
}

static enum ps_err call_credentials(void *arg, struct ps_diag *d)
{
	const struct kcfg_cred *cred = (const struct kcfg_cred *)1;
	enum ps_err err = kcfg_credentials(arg, ps_clock_wall_ms(ps_clock_real()), &cred, d);
	if (!err)
		cr_assert_str_eq(cred->token, "sa-token");
	else
		cr_assert_null(cred);
	kcfg_cred_unref(err ? NULL : cred);
	return err;
}

Test(alloc_fail, in_cluster_configs_and_token_files_load_or_fail_cleanly)
{
	char dir[] = "/tmp/prescale-allocfail-sa-XXXXXX";
	cr_assert_not_null(mkdtemp(dir));
	write_file(dir, "token", "sa-token\n");
	write_file(dir, "ca.crt",
	           "-----BEGIN CERTIFICATE-----\nY2EgZm9yIHRlc3Rz\n-----END CERTIFICATE-----\n");
	write_file(dir, "namespace", "autoscaler");
	cr_assert_eq(setenv("KUBERNETES_SERVICE_HOST", "10.96.0.1", 1), 0);
	cr_assert_eq(setenv("KUBERNETES_SERVICE_PORT", "443", 1), 0);
	struct torture load = {.what = "kcfg_load_in_cluster", .call = call_in_cluster, .arg = dir};
	torture(&load);
	struct kcfg *c = NULL;
	struct ps_diag d;
	cr_assert_eq(kcfg_load_in_cluster(dir, &c, &d), PS_OK, "%s", d.msg);
	struct torture creds = {.what = "kcfg_credentials (token file re-read)",
	                        .call = call_credentials,
	                        .prepare = creds_prepare,
	                        .arg = c};
	torture(&creds);
	kcfg_free(c);
	const char *const names[] = {"token", "ca.crt", "namespace"};
	remove_files(dir, names, PS_ARRAY_LEN(names));
	expect_no_leak();
}

/* ---- trace readers ---- */

/* One trace reader on <path>: a loaded trace has two samples at least, a failed one nothing. */
static enum ps_err call_trace_with(enum ps_err (*load)(const char *, struct trace *,
                                                       struct ps_diag *),
                                   const char *path, struct ps_diag *d)
{
	struct trace t;
	enum ps_err err = load(path, &t, d);
	if (!err)
		cr_assert_geq(t.n, 2);
	else
		cr_assert_null(t.ts_ms);
	trace_release(&t);
	return err;
}

static enum ps_err call_trace_csv(void *arg, struct ps_diag *d)
{
	return call_trace_with(trace_load_csv, arg, d);
}

static enum ps_err call_trace_auto(void *arg, struct ps_diag *d)
{
	return call_trace_with(trace_load, arg, d);
}

static enum ps_err call_trace_qr(void *arg, struct ps_diag *d)
{
	return call_trace_with(trace_load_query_range, arg, d);
}

Test(alloc_fail, traces_load_or_fail_cleanly)
{
	const struct torture t[] = {
	    {.what = "trace_load_csv good.csv",
	     .call = call_trace_csv,
	     .arg = PS_TEST_DATA "/trace/good.csv"},
	    {.what = "trace_load_csv gap.csv",
	     .call = call_trace_csv,
	     .arg = PS_TEST_DATA "/trace/gap.csv"},
	    {.what = "trace_load_query_range",
	     .call = call_trace_qr,
	     .arg = PS_TEST_DATA "/trace/query_range.json"},
	    {.what = "trace_load (detects JSON)",
	     .call = call_trace_auto,
	     .arg = PS_TEST_DATA "/trace/query_range.json"},
	    {.what = "trace_load (CSV, CRLF)",
	     .call = call_trace_auto,
	     .arg = PS_TEST_DATA "/trace/crlf.csv"},
	};
	for (size_t i = 0; i < PS_ARRAY_LEN(t); i++)
		torture(&t[i]);
}

/* ---- recommend snapshots ---- */

static enum ps_err call_snapshot(void *arg, struct ps_diag *d)
{
	const struct text *t = arg;
	struct snapshot s;
	enum ps_err err = snapshot_parse(t->s, t->len, t->source, &s, d);
	snapshot_release(&s);
	return err;
}

Test(alloc_fail, recommend_snapshots_parse_or_fail_cleanly)
{
	const char *files[] = {"forecast-ahead.json", "rate-limit.json",
	                       "external-average-value.json",
	                       "failing-metric-blocks-scale-down.json"};
	for (size_t i = 0; i < PS_ARRAY_LEN(files); i++) {
		char path[512];
		snprintf(path, sizeof(path), PS_TEST_DATA "/recommend/%s", files[i]);
		struct text t = text_of(path, 0);
		struct torture tt = {.what = files[i], .call = call_snapshot, .arg = &t};
		torture(&tt);
		free(t.s);
	}
}

/* ---- the engine's allocations ---- */

static enum ps_err call_fc_init(void *arg, struct ps_diag *d)
{
	const struct fc_config *c = arg;
	struct fc_model m;
	enum ps_err err = fc_init(&m, c, d);
	fc_release(&m);
	return err;
}

static enum ps_err call_history_init(void *arg, struct ps_diag *d)
{
	(void)arg;
	(void)d;
	struct eng_history h;
	enum ps_err err = eng_history_init(&h, 64);
	eng_history_release(&h);
	return err;
}

static enum ps_err call_scratch_reserve(void *arg, struct ps_diag *d)
{
	(void)arg;
	(void)d;
	struct eng_scratch s;
	memset(&s, 0, sizeof(s));
	enum ps_err err = eng_scratch_reserve(&s, 10);
	if (!err)
		err = eng_scratch_reserve(&s, 100); /* grows: the old arrays go */
	eng_scratch_release(&s);
	return err;
}

Test(alloc_fail, forecasters_and_engine_state_size_or_fail_cleanly)
{
	struct fc_config daily, weekly, holt;
	fc_config_default(&daily); /* auto: every model, daily season */
	fc_config_default(&weekly);
	weekly.weekly = true;
	weekly.step_ms = 15 * 60 * 1000;
	fc_config_default(&holt);
	holt.kind = FC_HOLT;
	holt.season_ms = 0;
	const struct torture t[] = {
	    {.what = "fc_init auto daily", .call = call_fc_init, .arg = &daily},
	    {.what = "fc_init auto weekly", .call = call_fc_init, .arg = &weekly},
	    {.what = "fc_init holt", .call = call_fc_init, .arg = &holt},
	    {.what = "eng_history_init", .call = call_history_init, .no_diag = true},
	    {.what = "eng_scratch_reserve", .call = call_scratch_reserve, .no_diag = true},
	};
	for (size_t i = 0; i < PS_ARRAY_LEN(t); i++)
		torture(&t[i]);
}

Test(alloc_fail, quantity_duration_and_time_parsers_allocate_nothing)
{
	uint64_t before = ps_alloc_count();
	int64_t v;
	struct ps_diag d;
	cr_assert_eq(ps_parse_quantity_milli("1500m", &v, &d), PS_OK);
	cr_assert_eq(v, 1500);
	cr_assert_eq(ps_parse_quantity_milli("2Gi", &v, &d), PS_OK);
	cr_assert_eq(v, INT64_C(2147483648000));
	cr_assert_eq(ps_parse_duration_ms("1h30m", &v, &d), PS_OK);
	cr_assert_eq(v, 5400000);
	cr_assert_eq(ps_clock_parse_rfc3339("2026-01-01T00:00:00Z", &v, &d), PS_OK);
	cr_assert_eq(v, T2026);
	cr_assert_eq(ps_alloc_count(), before, "a parser allocated: injection would miss it");
}

/* ---- the clients: construction ---- */

static enum ps_err call_http_client_new(void *arg, struct ps_diag *d)
{
	(void)arg;
	struct http_client *c = NULL;
	enum ps_err err = http_client_new(&c, d);
	http_client_free(c);
	return err;
}

static enum ps_err call_http_cancel_new(void *arg, struct ps_diag *d)
{
	(void)arg;
	(void)d;
	struct http_cancel *c = NULL;
	enum ps_err err = http_cancel_new(&c);
	http_cancel_free(c);
	return err;
}

static void prom_cfg_prepare(void *arg)
{
	struct prom_config *c = arg;
	prom_config_release(c);
	prom_config_init(c);
	c->url = ps_strdup("http://127.0.0.1:9/prefix");
	cr_assert_not_null(c->url);
	cr_assert_eq(prom_config_add_header(c, "X-Scope-OrgID", "tenant-a"), PS_OK);
	cr_assert_eq(prom_config_add_param(c, "dedup", "true"), PS_OK);
}

static enum ps_err call_prom_client_new(void *arg, struct ps_diag *d)
{
	struct prom_config *c = arg;
	struct prom_client *cl = NULL;
	enum ps_err err = prom_client_new(c, &cl, d);
	cr_assert_null(c->url, "prom_client_new left the config's url");
	prom_client_free(cl);
	return err;
}

static enum ps_err call_kube_client_new(void *arg, struct ps_diag *d)
{
	struct kube_client *c = NULL;
	enum ps_err err = kube_client_new(arg, NULL, &c, d);
	kube_client_free(c);
	return err;
}

static enum ps_err call_limiter_new(void *arg, struct ps_diag *d)
{
	(void)arg;
	struct kube_limiter *l = NULL;
	enum ps_err err = kube_limiter_new(20, 30, NULL, &l, d);
	kube_limiter_free(l);
	return err;
}

Test(alloc_fail, clients_are_created_or_fail_cleanly)
{
	struct ps_diag d;
	cr_assert_eq(http_global_init(&d), PS_OK, "%s", d.msg);
	cr_assert_eq(setenv("KUBECONFIG", KFIX "kubeconfig_merge/a.yaml", 1), 0);
	struct kcfg *kc = NULL;
	cr_assert_eq(kcfg_load_kubeconfig(NULL, NULL, &kc, &d), PS_OK, "%s", d.msg);
	struct prom_config pc;
	prom_config_init(&pc);
	const struct torture t[] = {
	    {.what = "http_client_new", .call = call_http_client_new},
	    {.what = "http_cancel_new", .call = call_http_cancel_new, .no_diag = true},
	    {.what = "prom_client_new",
	     .call = call_prom_client_new,
	     .prepare = prom_cfg_prepare,
	     .arg = &pc},
	    {.what = "kube_client_new", .call = call_kube_client_new, .arg = kc},
	    {.what = "kube_limiter_new", .call = call_limiter_new},
	};
	for (size_t i = 0; i < PS_ARRAY_LEN(t); i++)
		torture(&t[i]);
	prom_config_release(&pc);
	kcfg_free(kc);
	http_global_cleanup();
	expect_no_leak();
}

/* ---- the Prometheus client against a real Prometheus ---- */

#define PROM_STEP_S 15
#define PROM_SAMPLES 41 /* ten minutes */

static struct prom_server psrv;
static int64_t prom_end_s; /* the last sample's time, Unix seconds */

static void write_series(FILE *f, void *arg)
{
	(void)arg;
	fprintf(f, "# TYPE alloc_demo gauge\n");
	for (int i = 0; i < PROM_SAMPLES; i++) {
		long long ts = (long long)(prom_end_s - (PROM_SAMPLES - 1 - i) * PROM_STEP_S);
		fprintf(f, "alloc_demo{pod=\"web-1\"} %d %lld\n", i, ts);
		fprintf(f, "alloc_demo{pod=\"web-2\"} %d %lld\n", 100 + i, ts);
	}
}

static void prom_start(void)
{
	prom_server_init(&psrv);
	int64_t now_s = ps_clock_wall_ms(ps_clock_real()) / 1000;
	prom_end_s = now_s / PROM_STEP_S * PROM_STEP_S - 60;
	prom_server_start(&psrv, write_series, NULL, NULL, NULL);
}

static void prom_stop(void)
{
	prom_server_fini(&psrv);
}

struct prom_call {
	struct prom_client *c;
	struct prom_query q;
	size_t want_series, want_points;
};

static enum ps_err call_prom_query(void *arg, struct ps_diag *d)
{
	struct prom_call *a = arg;
	struct prom_result r;
	enum ps_err err = prom_client_query(a->c, &a->q, NULL, &r, d);
	if (!err) {
		cr_assert_eq(r.n_series, a->want_series);
		cr_assert_eq(r.n_points_with_data, a->want_points);
	} else {
		cr_assert_eq(r.n_series, 0);
	}
	prom_result_release(&r);
	return err;
}

TestSuite(alloc_fail_prom, .init = prom_start, .fini = prom_stop, .timeout = 240);

Test(alloc_fail_prom, instant_and_range_queries_succeed_or_fail_cleanly)
{
	struct prom_config cfg;
	prom_config_init(&cfg);
	cfg.url = ps_strdup(psrv.url);
	cfg.timeout_ms = 10000;
	cr_assert_eq(prom_config_add_header(&cfg, "X-Scope-OrgID", "tenant-a"), PS_OK);
	struct prom_client *c = NULL;
	struct ps_diag d;
	cr_assert_eq(prom_client_new(&cfg, &c, &d), PS_OK, "%s", d.msg);
	struct prom_call instant = {.c = c,
	                            .q = {.kind = PROM_QUERY_INSTANT,
	                                  .promql = "alloc_demo",
	                                  .has_time = true,
	                                  .time_ms = prom_end_s * 1000},
	                            .want_series = 2,
	                            .want_points = 2};
	struct prom_call range = {.c = c,
	                          .q = {.kind = PROM_QUERY_RANGE,
	                                .promql = "alloc_demo",
	                                .start_ms = (prom_end_s - 600) * 1000,
	                                .end_ms = prom_end_s * 1000,
	                                .step_ms = PROM_STEP_S * 1000},
	                          .want_series = 2,
	                          .want_points = 2 * PROM_SAMPLES};
	/* Over PROM_POST_THRESHOLD: sent as a POST form. */
	char long_query[4096];
	int w = snprintf(long_query, sizeof(long_query), "alloc_demo{pod=~\"web-1|web-2");
	for (int i = 0; w < 3000; i++)
		w += snprintf(long_query + w, sizeof(long_query) - (size_t)w, "|absent-%d", i);
	snprintf(long_query + w, sizeof(long_query) - (size_t)w, "\"}");
	struct prom_call post = instant;
	post.q.promql = long_query;
	/* An error answer: the message is built from the envelope. */
	struct prom_call bad = instant;
	bad.q.promql = "sum(alloc_demo";
	const struct torture t[] = {
	    {.what = "prom_client_query instant", .call = call_prom_query, .arg = &instant},
	    {.what = "prom_client_query range", .call = call_prom_query, .arg = &range},
	    {.what = "prom_client_query POST", .call = call_prom_query, .arg = &post},
	    {.what = "prom_client_query 400",
	     .call = call_prom_query,
	     .arg = &bad,
	     .want = PS_EPARSE},
	};
	for (size_t i = 0; i < PS_ARRAY_LEN(t); i++)
		torture(&t[i]);
	prom_client_free(c);
	expect_no_leak();
}

struct token_call {
	struct prom_call q;
	char path[256];
	unsigned seq;
};

/* A token of another length each time: the client re-reads the file before the query. */
static void token_prepare(void *arg)
{
	struct token_call *a = arg;
	FILE *f = fopen(a->path, "w");
	cr_assert_not_null(f);
	fprintf(f, "token-%u\n", a->seq++);
	cr_assert_eq(fclose(f), 0);
}

Test(alloc_fail_prom, a_query_that_rereads_its_bearer_token_file_succeeds_or_fails_cleanly)
{
	struct token_call a = {.seq = 9};
	snprintf(a.path, sizeof(a.path), "%s", prom_server_path(&psrv, "bearer-token"));
	token_prepare(&a);
	struct prom_config cfg;
	prom_config_init(&cfg);
	cfg.url = ps_strdup(psrv.url);
	cfg.bearer_token_file = ps_strdup(a.path);
	cfg.timeout_ms = 10000;
	struct ps_diag d;
	cr_assert_eq(prom_client_new(&cfg, &a.q.c, &d), PS_OK, "%s", d.msg);
	a.q.q = (struct prom_query){.kind = PROM_QUERY_INSTANT,
	                            .promql = "alloc_demo",
	                            .has_time = true,
	                            .time_ms = prom_end_s * 1000};
	a.q.want_series = 2;
	a.q.want_points = 2;
	struct torture t = {.what = "prom_client_query with a bearer token file",
	                    .call = call_prom_query,
	                    .prepare = token_prepare,
	                    .arg = &a};
	torture(&t);
	prom_client_free(a.q.c);
	expect_no_leak();
}

/* ---- the Kubernetes client against the fake API server ---- */

struct kenv {
	struct fake_api fake;
	char dir[64];
	char kubeconfig[128];
	struct kcfg *cfg;
	struct kube_client *c;
	struct kube_ref web;
};

static void kenv_start(struct kenv *e)
{
	snprintf(e->dir, sizeof(e->dir), "/tmp/prescale-allocfail-XXXXXX");
	cr_assert_not_null(mkdtemp(e->dir));
	char log[128];
	snprintf(log, sizeof(log), "%s/fake.log", e->dir);
	struct ps_diag d;
	cr_assert_eq(http_global_init(&d), PS_OK, "%s", d.msg);
	fake_api_start(&e->fake, FAKE_CONFIG, log, 300);
	snprintf(e->kubeconfig, sizeof(e->kubeconfig), "%s/kubeconfig", e->dir);
	fake_api_write_kubeconfig(&e->fake, e->kubeconfig, e->fake.admin_token, "default");
	cr_assert_eq(kcfg_load_kubeconfig(e->kubeconfig, NULL, &e->cfg, &d), PS_OK, "%s", d.msg);
	struct kube_client_opts o = {.timeout_ms = 20000};
	cr_assert_eq(kube_client_new(e->cfg, &o, &e->c, &d), PS_OK, "%s", d.msg);
	cr_assert_eq(kube_ref_from_kind(&e->web, "apps/v1", "Deployment", "default", "web", &d),
	             PS_OK, "%s", d.msg);
}

static void kenv_stop(struct kenv *e)
{
	kube_client_free(e->c);
	kcfg_free(e->cfg);
	fake_api_stop(&e->fake);
	char log[128];
	snprintf(log, sizeof(log), "%s/fake.log", e->dir);
	unlink(log);
	unlink(e->kubeconfig);
	rmdir(e->dir);
	http_global_cleanup();
	expect_no_leak();
}

static enum ps_err call_scale_get(void *arg, struct ps_diag *d)
{
	struct kenv *e = arg;
	struct kube_scale s;
	enum ps_err err = kube_scale_get(e->c, &e->web, &s, d);
	if (!err) {
		cr_assert_eq(s.replicas, 3);
		cr_assert_str_eq(s.selector, "app=web");
		kube_scale_release(&s);
	}
	return err;
}

static enum ps_err call_scale_patch(void *arg, struct ps_diag *d)
{
	struct kenv *e = arg;
	struct kube_scale s;
	enum ps_err err = kube_scale_patch(e->c, &e->web, 3, false, &s, d);
	if (!err) {
		cr_assert_eq(s.replicas, 3);
		kube_scale_release(&s);
	}
	return err;
}

static enum ps_err call_pods_list(void *arg, struct ps_diag *d)
{
	struct kenv *e = arg;
	struct kube_pod_list l;
	memset(&l, 0, sizeof(l));
	enum ps_err err = kube_pods_list(e->c, "default", "app=web", &l, d);
	if (!err) {
		cr_assert_eq(l.n_pods, 1);
		cr_assert_str_eq(l.pods[0].name, "web-0");
	}
	kube_pod_list_release(&l);
	return err;
}

Test(alloc_fail_kube, scale_and_pod_calls_succeed_or_fail_cleanly, .timeout = 240)
{
	struct kenv e;
	kenv_start(&e);
	const struct torture t[] = {
	    {.what = "kube_scale_get", .call = call_scale_get, .arg = &e},
	    {.what = "kube_scale_patch", .call = call_scale_patch, .arg = &e},
	    {.what = "kube_pods_list", .call = call_pods_list, .arg = &e},
	};
	for (size_t i = 0; i < PS_ARRAY_LEN(t); i++)
		torture(&t[i]);
	kenv_stop(&e);
}

struct lease_call {
	struct kenv *e;
	struct kube_lease l;
	unsigned seq;
};

/* A fresh name for each create: a create that was stored before its answer failed to decode
 * would make the next one read AlreadyExists. */
static void lease_create_prepare(void *arg)
{
	struct lease_call *a = arg;
	char name[64];
	snprintf(name, sizeof(name), "alloc-lease-%u", a->seq++);
	a->l = lease_of("default", name, "me", ps_clock_wall_ms(ps_clock_real()));
}

static enum ps_err call_lease_create(void *arg, struct ps_diag *d)
{
	struct lease_call *a = arg;
	struct kube_lease out;
	enum ps_err err = kube_lease_create(a->e->c, &a->l, &out, d);
	if (!err)
		cr_assert_str_eq(out.name, a->l.name);
	return err;
}

static enum ps_err call_lease_get(void *arg, struct ps_diag *d)
{
	struct lease_call *a = arg;
	struct kube_lease out;
	enum ps_err err = kube_lease_get(a->e->c, "default", "alloc-leader", &out, d);
	if (!err)
		cr_assert_str_eq(out.holder, "me");
	return err;
}

/* A 404: under memory pressure the Status may go undecoded, the code stays (a documented
 * fallback of kube_status_error). */
static enum ps_err call_lease_get_missing(void *arg, struct ps_diag *d)
{
	struct lease_call *a = arg;
	struct kube_lease out;
	enum ps_err err = kube_lease_get(a->e->c, "default", "no-such-lease", &out, d);
	if (err == PS_ENOTFOUND)
		cr_assert(strstr(d->msg, ": 404 Not Found") != NULL, "%s", d->msg);
	return err;
}

/* Reads the Lease again (injection off): an update that was stored before its answer failed
 * to decode changed the resourceVersion. */
static void lease_update_prepare(void *arg)
{
	struct lease_call *a = arg;
	struct ps_diag d;
	cr_assert_eq(kube_lease_get(a->e->c, "default", "alloc-leader", &a->l, &d), PS_OK, "%s",
	             d.msg);
	a->l.renew_ms = ps_clock_wall_ms(ps_clock_real());
	a->l.transitions++; /* a write that changes nothing keeps its resourceVersion */
}

static enum ps_err call_lease_update(void *arg, struct ps_diag *d)
{
	struct lease_call *a = arg;
	struct kube_lease out;
	enum ps_err err = kube_lease_update(a->e->c, &a->l, &out, d);
	if (!err)
		cr_assert_str_neq(out.resource_version, a->l.resource_version);
	return err;
}

Test(alloc_fail_kube, lease_calls_succeed_or_fail_cleanly, .timeout = 240)
{
	struct kenv e;
	kenv_start(&e);
	struct lease_call a = {.e = &e};
	struct kube_lease l =
	    lease_of("default", "alloc-leader", "me", ps_clock_wall_ms(ps_clock_real()));
	struct ps_diag d;
	cr_assert_eq(kube_lease_create(e.c, &l, NULL, &d), PS_OK, "%s", d.msg);
	const struct torture t[] = {
	    {.what = "kube_lease_create",
	     .call = call_lease_create,
	     .prepare = lease_create_prepare,
	     .arg = &a},
	    {.what = "kube_lease_get", .call = call_lease_get, .arg = &a},
	    {.what = "kube_lease_get 404",
	     .call = call_lease_get_missing,
	     .arg = &a,
	     .want = PS_ENOTFOUND,
	     .may_absorb = true},
	    {.what = "kube_lease_update",
	     .call = call_lease_update,
	     .prepare = lease_update_prepare,
	     .arg = &a},
	};
	for (size_t i = 0; i < PS_ARRAY_LEN(t); i++)
		torture(&t[i]);
	cr_expect_eq(fake_api_validation_failures(&e.fake), 0);
	kenv_stop(&e);
}

static enum ps_err call_event_create(void *arg, struct ps_diag *d)
{
	struct kenv *e = arg;
	struct kube_event ev = {.regarding = &e->web,
	                        .type = "Normal",
	                        .reason = "ScaledUp",
	                        .action = "Scale",
	                        .note = "from 2 to 3 replicas",
	                        .reporting_instance = "prescale-0"};
	char name[KUBE_NAME_MAX + 1];
	enum ps_err err = kube_event_create(e->c, &ev, name, d);
	if (!err)
		cr_assert(strncmp(name, "web.", 4) == 0, "%s", name);
	return err;
}

Test(alloc_fail_kube, event_creation_succeeds_or_fails_cleanly, .timeout = 240)
{
	struct kenv e;
	kenv_start(&e);
	struct torture t = {.what = "kube_event_create", .call = call_event_create, .arg = &e};
	torture(&t);
	cr_expect_eq(fake_api_validation_failures(&e.fake), 0);
	kenv_stop(&e);
}
