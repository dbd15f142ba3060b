/* test_kubeconfig.c -- the Kubernetes connection configuration: kubectl's merge against its real
 * output, contexts, paths, base64, token files, in-cluster, exec plugins (real processes
 * written at test time), error messages and allocation failures. */
#include <criterion/criterion.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#include "kubeconfig.h"
#include "ps_alloc.h"
#include "ps_buf.h"

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

#define MERGE_DIR PS_SHARED_DIR "/fixtures/kubernetes/kubeconfig_merge"
#define FIXTURES PS_SHARED_DIR "/fixtures/kubernetes"
#define DATA PS_TEST_DATA "/kube"

/* 2026-01-01T01:00:00Z, the expiry in the ExecCredential fixture (date -u -d ... +%s). */
#define EXPIRY_MS INT64_C(1767229200000)

/* Fake PEM blocks: prescale only checks the PEM armour; curl parses the content. */
#define CA_PEM "-----BEGIN CERTIFICATE-----\nY2EgZm9yIHRlc3Rz\n-----END CERTIFICATE-----\n"
#define CERT_PEM "-----BEGIN CERTIFICATE-----\nY2xpZW50\n-----END CERTIFICATE-----\n"
#define KEY_PEM "-----BEGIN PRIVATE KEY-----\na2V5IGZvciB0ZXN0cw==\n-----END PRIVATE KEY-----\n"
/* base64 of CA_PEM, computed with `printf -- "$CA_PEM" | base64 -w0`. */
#define CA_PEM_B64                                                                                 \
	"LS0tLS1CRUdJTiBDRVJUSUZJQ0FURS0tLS0tClkyRWdabTl5SUhSbGMzUnoKLS0tLS1FTkQgQ0VSVElGSUNBVEUt" \
	"LS0tLQo="

/* ---- helpers ---- */

static char tmp[256];

static void make_tmp(void)
{
	const char *base = getenv("TMPDIR");
	snprintf(tmp, sizeof(tmp), "%s/ps_kcfg_test.XXXXXX", base && *base ? base : "/tmp");
	cr_assert_not_null(mkdtemp(tmp));
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

static void cleanup_tmp(void)
{
	if (tmp[0])
		rm_tree(tmp);
}

/* <tmp>/<name> into <out>. */
static const char *tpath(char *out, size_t size, const char *name)
{
	snprintf(out, size, "%s/%s", tmp, name);
	return out;
}

/* Writes <text> to <tmp>/<name> (directories in <name> created) with <mode>. */
static void write_tmp(const char *name, const char *text, mode_t mode)
{
	char path[512];
	tpath(path, sizeof(path), name);
	for (char *s = strchr(path + strlen(tmp) + 1, '/'); s; s = strchr(s + 1, '/')) {
		*s = '\0';
		(void)mkdir(path, 0700);
		*s = '/';
	}
	char part[600];
	snprintf(part, sizeof(part), "%s.part", path);
	int fd = open(part, O_WRONLY | O_CREAT | O_TRUNC, mode);
	cr_assert(fd >= 0, "creating %s: %s", part, strerror(errno));
	size_t len = strlen(text);
	cr_assert_eq(write(fd, text, len), (ssize_t)len);
	cr_assert_eq(close(fd), 0);
	/* A rename, as kubelet swaps files: a running plugin script is never rewritten. */
	cr_assert_eq(rename(part, path), 0);
}

static void set_env(const char *name, const char *value)
{
	if (value)
		cr_assert_eq(setenv(name, value, 1), 0);
	else
		cr_assert_eq(unsetenv(name), 0);
}

static struct kcfg *load_ok(const char *explicit_path, const char *context)
{
	struct kcfg *c = NULL;
	struct ps_diag d;
	ps_diag_clear(&d);
	enum ps_err rc = kcfg_load_kubeconfig(explicit_path, context, &c, &d);
	cr_assert_eq(rc, PS_OK, "load: %s (%s)", ps_diag_msg(&d), ps_err_name(rc));
	cr_assert_not_null(c);
	return c;
}

/* Loads expecting <want>; the message goes to <msg>. */
static void load_fail(const char *explicit_path, const char *context, enum ps_err want, char *msg,
                      size_t size)
{
	struct kcfg *c = (struct kcfg *)1;
	struct ps_diag d;
	ps_diag_clear(&d);
	enum ps_err rc = kcfg_load_kubeconfig(explicit_path, context, &c, &d);
	cr_assert_eq(rc, want, "got %s: %s", ps_err_name(rc), ps_diag_msg(&d));
	cr_assert_null(c);
	cr_assert_eq(d.err, want);
	snprintf(msg, size, "%s", d.msg);
}

static cJSON *parse_json(const char *text)
{
	cJSON *j = cJSON_Parse(text);
	cr_assert_not_null(j, "not JSON: %s", text);
	return j;
}

static cJSON *parse_json_file(const char *path)
{
	struct ps_buf b;
	ps_buf_init(&b, 1 << 20);
	cr_assert_eq(ps_buf_read_file(&b, path, NULL), PS_OK, "%s", path);
	cJSON *j = parse_json(ps_buf_cstr(&b));
	ps_buf_release(&b);
	return j;
}

/* The merged view for the current KUBECONFIG. */
static cJSON *view(bool redact)
{
	char *s = NULL;
	struct ps_diag d;
	enum ps_err rc = kcfg_view_json(NULL, redact, &s, &d);
	cr_assert_eq(rc, PS_OK, "view: %s", ps_diag_msg(&d));
	cJSON *j = parse_json(s);
	ps_free_secret(s, strlen(s));
	return j;
}

static const cJSON *named(const cJSON *root, const char *list, const char *name, const char *inner)
{
	const cJSON *e;
	cJSON_ArrayForEach(e, cJSON_GetObjectItemCaseSensitive(root, list))
	{
		const cJSON *n = cJSON_GetObjectItemCaseSensitive(e, "name");
		if (cJSON_IsString(n) && strcmp(n->valuestring, name) == 0)
			return cJSON_GetObjectItemCaseSensitive(e, inner);
	}
	cr_assert_fail("no %s named %s", list, name);
	return NULL;
}

static const char *jstr(const cJSON *o, const char *key)
{
	const cJSON *j = cJSON_GetObjectItemCaseSensitive(o, key);
	return cJSON_IsString(j) ? j->valuestring : NULL;
}

static const char *cred_token(struct kcfg *c, int64_t now_ms)
{
	/* Returns the token of a snapshot dropped right away: fine in a single-threaded test,
	 * copied into a static buffer so the assertion reads stable memory. */
	static char buf[256];
	const struct kcfg_cred *cr = NULL;
	struct ps_diag d;
	enum ps_err rc = kcfg_credentials(c, now_ms, &cr, &d);
	cr_assert_eq(rc, PS_OK, "credentials: %s (%s)", ps_diag_msg(&d), ps_err_name(rc));
	snprintf(buf, sizeof(buf), "%s", cr->token ? cr->token : "(none)");
	kcfg_cred_unref(cr);
	return buf;
}

/* Leaks are found by LeakSanitizer in the sanitizer build (-DPS_SANITIZE=ON). */
static void expect_no_leak(void)
{
#ifdef HAVE_LSAN
	cr_expect_eq(__lsan_do_recoverable_leak_check(), 0, "LeakSanitizer found a leak");
#endif
}

/* ---- kubectl's merge, against its real output ---- */

Test(kubeconfig, merging_a_then_b_reproduces_kubectls_merged_view)
{
	set_env("KUBECONFIG", MERGE_DIR "/a.yaml:" MERGE_DIR "/b.yaml");
	cJSON *got = view(false);
	cJSON *want = parse_json_file(MERGE_DIR "/merged_ab.json");
	char *g = cJSON_Print(got), *w = cJSON_Print(want);
	cr_expect(cJSON_Compare(got, want, true),
	          "merged view differs from kubectl's\ngot:\n%s\nwant:\n%s", g, w);
	free(g);
	free(w);
	cJSON_Delete(got);
	cJSON_Delete(want);
}

Test(kubeconfig, loading_a_then_b_uses_the_first_files_context_cluster_and_user)
{
	set_env("KUBECONFIG", MERGE_DIR "/a.yaml:" MERGE_DIR "/b.yaml");
	struct kcfg *c = load_ok(NULL, NULL);
	cr_expect_eq(c->source, KCFG_SOURCE_KUBECONFIG);
	cr_expect_str_eq(c->origin, MERGE_DIR "/a.yaml:" MERGE_DIR "/b.yaml");
	cr_expect_str_eq(c->context, "ctx-a");
	cr_expect_str_eq(c->cluster, "c1");
	cr_expect_str_eq(c->user, "u1");
	cr_expect_str_eq(c->server, "https://a.example:6443");
	cr_expect(c->insecure_skip_tls_verify);
	cr_expect_null(c->ca.data, "b's certificate-authority-data must not leak into a's c1");
	cr_expect_null(c->client_cert.data,
	               "b's client-certificate-data must not leak into a's u1");
	cr_expect_str_eq(c->namespace, "nsa");
	cr_expect_str_eq(cred_token(c, 0), "token-from-a");
	kcfg_free(c);
}

Test(kubeconfig, with_b_before_a_the_current_context_is_ctx_b_and_bs_entries_win)
{
	set_env("KUBECONFIG", MERGE_DIR "/b.yaml:" MERGE_DIR "/a.yaml");
	cJSON *v = view(false);
	cr_expect_str_eq(jstr(v, "current-context"), "ctx-b");
	const cJSON *c1 = named(v, "clusters", "c1", "cluster");
	cr_expect_str_eq(jstr(c1, "server"), "https://b.example:6443");
	cr_expect_str_eq(jstr(c1, "certificate-authority-data"), "Zm9v");
	cr_expect_null(cJSON_GetObjectItemCaseSensitive(c1, "insecure-skip-tls-verify"));
	const cJSON *u1 = named(v, "users", "u1", "user");
	cr_expect_str_eq(jstr(u1, "token"), "token-from-b");
	cr_expect_str_eq(jstr(u1, "client-certificate-data"), "YmFy");
	/* ctx-a still comes from a.yaml, and now points at b's c1 and u1. */
	const cJSON *ctx_a = named(v, "contexts", "ctx-a", "context");
	cr_expect_str_eq(jstr(ctx_a, "namespace"), "nsa");
	cJSON_Delete(v);
	/* b's u1 has a client certificate without a key: kubectl refuses to use it as well
	 * ("client-key-data or client-key must be specified"). */
	char msg[PS_DIAG_MAX];
	load_fail(NULL, NULL, PS_ECONFIG, msg, sizeof(msg));
	cr_expect_str_eq(msg, MERGE_DIR "/b.yaml:13:3: user \"u1\" has a client certificate but "
	                                "no client key");
}

Test(kubeconfig, empty_entries_in_the_kubeconfig_list_are_ignored)
{
	set_env("KUBECONFIG", ":" MERGE_DIR "/a.yaml::" MERGE_DIR "/b.yaml:");
	cJSON *got = view(false);
	cJSON *want = parse_json_file(MERGE_DIR "/merged_ab.json");
	cr_expect(cJSON_Compare(got, want, true));
	cJSON_Delete(got);
	cJSON_Delete(want);
	set_env("KUBECONFIG", ":" MERGE_DIR "/a.yaml");
	struct kcfg *c = load_ok(NULL, NULL);
	cr_expect_str_eq(c->context, "ctx-a");
	cr_expect_str_eq(c->origin, MERGE_DIR "/a.yaml");
	kcfg_free(c);
}

Test(kubeconfig, listed_files_that_do_not_exist_are_skipped_but_an_explicit_one_must_exist)
{
	set_env("KUBECONFIG", "/nonexistent/one.yaml:" MERGE_DIR "/a.yaml");
	struct kcfg *c = load_ok(NULL, NULL);
	cr_expect_str_eq(c->origin, MERGE_DIR "/a.yaml");
	kcfg_free(c);

	char msg[PS_DIAG_MAX];
	set_env("KUBECONFIG", "/nonexistent/one.yaml:/nonexistent/two.yaml");
	load_fail(NULL, NULL, PS_ENOENT, msg, sizeof(msg));
	cr_expect_str_eq(msg, "no kubeconfig: none of "
	                      "KUBECONFIG=\"/nonexistent/one.yaml:/nonexistent/two.yaml\" exists");

	load_fail("/nonexistent/explicit.yaml", NULL, PS_ENOENT, msg, sizeof(msg));
	cr_expect_str_eq(msg,
	                 "cannot open \"/nonexistent/explicit.yaml\": No such file or directory");
}

Test(kubeconfig, an_explicit_kubeconfig_wins_over_the_kubeconfig_variable)
{
	set_env("KUBECONFIG", MERGE_DIR "/b.yaml");
	struct kcfg *c = load_ok(MERGE_DIR "/a.yaml", NULL);
	cr_expect_str_eq(c->context, "ctx-a");
	cr_expect_str_eq(c->origin, MERGE_DIR "/a.yaml");
	kcfg_free(c);
}

Test(kubeconfig, without_kubeconfig_the_file_in_home_is_used)
{
	make_tmp();
	char home[512], text[4096];
	struct ps_buf b;
	ps_buf_init(&b, sizeof(text));
	cr_assert_eq(ps_buf_read_file(&b, MERGE_DIR "/a.yaml", NULL), PS_OK);
	write_tmp(".kube/config", ps_buf_cstr(&b), 0600);
	ps_buf_release(&b);
	set_env("KUBECONFIG", NULL);
	set_env("HOME", tmp);
	struct kcfg *c = load_ok(NULL, NULL);
	cr_expect_str_eq(c->origin, tpath(home, sizeof(home), ".kube/config"));
	cr_expect_str_eq(c->context, "ctx-a");
	kcfg_free(c);
	cleanup_tmp();
}

Test(kubeconfig, the_context_flag_overrides_current_context)
{
	set_env("KUBECONFIG", MERGE_DIR "/a.yaml:" MERGE_DIR "/b.yaml");
	struct kcfg *c = load_ok(NULL, "ctx-b");
	cr_expect_str_eq(c->context, "ctx-b");
	cr_expect_str_eq(c->cluster, "c2");
	cr_expect_str_eq(c->server, "https://c2.example:6443");
	cr_expect_str_eq(c->user, "u1");
	cr_expect_str_eq(c->namespace, "default");
	cr_expect_str_eq(cred_token(c, 0), "token-from-a");
	kcfg_free(c);
}

/* ---- error messages ---- */

Test(kubeconfig, a_missing_context_cluster_or_user_is_named_with_the_files_searched)
{
	char msg[PS_DIAG_MAX];
	set_env("KUBECONFIG", MERGE_DIR "/a.yaml:" MERGE_DIR "/b.yaml");
	load_fail(NULL, "x", PS_ECONFIG, msg, sizeof(msg));
	cr_expect_str_eq(msg,
	                 "context \"x\" not found in " MERGE_DIR "/a.yaml:" MERGE_DIR "/b.yaml");

	set_env("KUBECONFIG", DATA "/missing-refs.yaml");
	load_fail(NULL, NULL, PS_ECONFIG, msg, sizeof(msg));
	cr_expect_str_eq(msg, "cluster \"c9\" of context \"no-cluster\" not found in " DATA
	                      "/missing-refs.yaml");
	load_fail(NULL, "no-user", PS_ECONFIG, msg, sizeof(msg));
	cr_expect_str_eq(msg, "user \"u9\" of context \"no-user\" not found in " DATA
	                      "/missing-refs.yaml");
	/* A context without a user is anonymous, not an error. */
	struct kcfg *c = load_ok(NULL, "anonymous");
	cr_expect_null(c->user);
	cr_expect_str_eq(cred_token(c, 0), "(none)");
	kcfg_free(c);
}

Test(kubeconfig, no_current_context_asks_for_the_context_flag)
{
	char msg[PS_DIAG_MAX];
	make_tmp();
	write_tmp("nocurrent.yaml", "apiVersion: v1\nkind: Config\nclusters: []\n", 0600);
	char path[512];
	tpath(path, sizeof(path), "nocurrent.yaml");
	load_fail(path, NULL, PS_ECONFIG, msg, sizeof(msg));
	char want[2048];
	snprintf(want, sizeof(want), "no current-context is set in %s; choose one with --context",
	         path);
	cr_expect_str_eq(msg, want);
	cleanup_tmp();
}

Test(kubeconfig, malformed_yaml_is_reported_with_file_line_and_column)
{
	char msg[PS_DIAG_MAX];
	load_fail(DATA "/bad-yaml.yaml", NULL, PS_EPARSE, msg, sizeof(msg));
	/* Line 7 "      more: x": the ':' after "more" is column 11. */
	cr_expect_str_eq(msg, DATA "/bad-yaml.yaml:7:11: malformed YAML: mapping values are not "
	                           "allowed in this context");
}

Test(kubeconfig, a_wrong_type_is_reported_with_file_line_and_column)
{
	char msg[PS_DIAG_MAX];
	load_fail(DATA "/bad-type.yaml", NULL, PS_EPARSE, msg, sizeof(msg));
	cr_expect_str_eq(msg,
	                 DATA "/bad-type.yaml:4:3: clusters: expected a sequence, got a mapping");
}

Test(kubeconfig, a_name_defined_twice_in_one_file_is_an_error)
{
	char msg[PS_DIAG_MAX];
	load_fail(DATA "/duplicate.yaml", NULL, PS_EPARSE, msg, sizeof(msg));
	cr_expect_str_eq(msg,
	                 DATA "/duplicate.yaml:6:3: cluster \"c1\": defined twice in this file "
	                      "(first at line 4)");
}

Test(kubeconfig, unsupported_or_conflicting_settings_are_refused_with_a_reason)
{
	char msg[PS_DIAG_MAX];
	load_fail(DATA "/unsupported.yaml", NULL, PS_ECONFIG, msg, sizeof(msg));
	cr_expect_str_eq(msg, DATA "/unsupported.yaml:13:3: user \"gcp\": auth-provider is not "
	                           "supported by prescale (use a token, tokenFile, a client "
	                           "certificate or an exec plugin)");
	load_fail(DATA "/unsupported.yaml", "insecure-with-ca", PS_ECONFIG, msg, sizeof(msg));
	cr_expect_str_eq(msg, DATA "/unsupported.yaml:7:3: cluster \"both\" sets both "
	                           "insecure-skip-tls-verify and a certificate authority; kubectl "
	                           "refuses this too, keep one");
}

/* ---- data fields and files ---- */

Test(kubeconfig, certificate_authority_data_is_base64_decoded_into_memory)
{
	make_tmp();
	write_tmp("config",
	          "apiVersion: v1\n"
	          "kind: Config\n"
	          "current-context: ctx\n"
	          "clusters:\n"
	          "- name: c\n"
	          "  cluster:\n"
	          "    server: api.example:6443/\n"
	          "    certificate-authority-data: " CA_PEM_B64 "\n"
	          "contexts:\n"
	          "- {name: ctx, context: {cluster: c}}\n",
	          0600);
	char path[512];
	struct kcfg *c = load_ok(tpath(path, sizeof(path), "config"), NULL);
	cr_expect_eq(c->ca.len, strlen(CA_PEM));
	cr_expect_str_eq(c->ca.data, CA_PEM);
	/* No scheme: https, as client-go assumes; no trailing slash. */
	cr_expect_str_eq(c->server, "https://api.example:6443");
	struct http_tls tls;
	kcfg_tls(c, NULL, &tls);
	cr_expect_eq(tls.ca_pem, c->ca.data);
	cr_expect_eq(tls.ca_len, strlen(CA_PEM));
	cr_expect_null(tls.cert_pem);
	cr_expect_not(tls.insecure_skip_verify);
	kcfg_free(c);
	cleanup_tmp();
}

Test(kubeconfig, bad_base64_is_reported_with_the_position)
{
	char msg[PS_DIAG_MAX];
	load_fail(DATA "/bad-base64.yaml", NULL, PS_EPARSE, msg, sizeof(msg));
	/* "    certificate-authority-data: " is 32 characters: the value starts at column 33;
	 * "Zm9v!mFy": the '!' is its 5th character. */
	cr_expect_str_eq(msg, DATA "/bad-base64.yaml:8:33: cluster \"c1\": "
	                           "certificate-authority-data: invalid base64 at character 5");
	load_fail(DATA "/bad-base64-short.yaml", NULL, PS_EPARSE, msg, sizeof(msg));
	cr_expect_str_eq(msg, DATA "/bad-base64-short.yaml:6:22: user \"u1\": client-key-data: "
	                           "invalid base64: the data ends in the middle of a 4-character "
	                           "group");
}

Test(kubeconfig, relative_paths_are_resolved_against_the_files_directory)
{
	make_tmp();
	write_tmp("conf/ca.pem", CA_PEM, 0600);
	write_tmp("conf/certs/client.pem", CERT_PEM, 0600);
	write_tmp("conf/certs/client.key", KEY_PEM, 0600);
	write_tmp("conf/token", "  file-token\n", 0600);
	write_tmp("conf/config",
	          "apiVersion: v1\n"
	          "kind: Config\n"
	          "current-context: ctx\n"
	          "clusters:\n"
	          "- name: c\n"
	          "  cluster: {server: 'https://api.example', certificate-authority: ca.pem}\n"
	          "users:\n"
	          "- name: u\n"
	          "  user:\n"
	          "    client-certificate: certs/client.pem\n"
	          "    client-key: ./certs/client.key\n"
	          "    tokenFile: token\n"
	          "contexts:\n"
	          "- {name: ctx, context: {cluster: c, user: u, namespace: shop}}\n",
	          0600);
	/* Load through a relative KUBECONFIG entry from another directory: the paths follow
	 * the file, not the working directory. */
	cr_assert_eq(chdir(tmp), 0);
	set_env("KUBECONFIG", "conf/config");
	struct kcfg *c = load_ok(NULL, NULL);
	cr_expect_str_eq(c->ca.data, CA_PEM);
	cr_expect_str_eq(c->client_cert.data, CERT_PEM);
	cr_expect_str_eq(c->client_key.data, KEY_PEM);
	cr_expect_str_eq(c->namespace, "shop");
	char want[2048], cwd[512];
	cr_assert_not_null(getcwd(cwd, sizeof(cwd)));
	snprintf(want, sizeof(want), "%s/conf/token", cwd);
	cr_expect_str_eq(c->token_file, want);
	/* The view shows them absolute too. */
	cJSON *v = view(false);
	const cJSON *u = named(v, "users", "u", "user");
	snprintf(want, sizeof(want), "%s/conf/certs/client.key", cwd);
	cr_expect_str_eq(jstr(u, "client-key"), want);
	snprintf(want, sizeof(want), "%s/conf/ca.pem", cwd);
	cr_expect_str_eq(jstr(named(v, "clusters", "c", "cluster"), "certificate-authority"), want);
	cJSON_Delete(v);

	/* The token file is re-read from anywhere. */
	cr_assert_eq(chdir("/"), 0);
	cr_expect_str_eq(cred_token(c, 1000), "file-token");
	struct http_tls tls;
	kcfg_tls(c, NULL, &tls);
	cr_expect_str_eq(tls.cert_pem, CERT_PEM);
	cr_expect_str_eq(tls.key_pem, KEY_PEM);
	cr_expect_eq(tls.key_len, strlen(KEY_PEM));
	kcfg_free(c);
	cleanup_tmp();
}

Test(kubeconfig, a_missing_certificate_file_fails_the_load_and_is_named)
{
	make_tmp();
	write_tmp("config",
	          "current-context: ctx\n"
	          "clusters: [{name: c, cluster: {server: 'https://x', certificate-authority: "
	          "nope.pem}}]\n"
	          "contexts: [{name: ctx, context: {cluster: c}}]\n",
	          0600);
	char path[512], msg[PS_DIAG_MAX], want[2048];
	load_fail(tpath(path, sizeof(path), "config"), NULL, PS_ENOENT, msg, sizeof(msg));
	snprintf(want, sizeof(want),
	         "cluster \"c\": certificate-authority: cannot open \"%s/nope.pem\": No such file "
	         "or directory",
	         tmp);
	cr_expect_str_eq(msg, want);
	cleanup_tmp();
}

Test(kubeconfig, the_redacted_view_hides_tokens_and_data_like_kubectl)
{
	set_env("KUBECONFIG", MERGE_DIR "/b.yaml");
	cJSON *v = view(true);
	cr_expect_str_eq(jstr(named(v, "users", "u1", "user"), "token"), "REDACTED");
	cr_expect_str_eq(jstr(named(v, "users", "u1", "user"), "client-certificate-data"),
	                 "DATA+OMITTED");
	cr_expect_str_eq(jstr(named(v, "clusters", "c1", "cluster"), "certificate-authority-data"),
	                 "DATA+OMITTED");
	cJSON_Delete(v);
}

/* ---- tokens ---- */

Test(kubeconfig, a_static_token_is_returned_as_is_and_survives_invalidation)
{
	set_env("KUBECONFIG", MERGE_DIR "/a.yaml");
	struct kcfg *c = load_ok(NULL, NULL);
	const struct kcfg_cred *cr;
	cr_assert_eq(kcfg_credentials(c, 0, &cr, NULL), PS_OK);
	cr_expect_str_eq(cr->token, "token-from-a");
	cr_expect_null(cr->cert_pem);
	cr_expect_eq(cr->expires_ms, 0);
	kcfg_token_invalidate(c, cr);
	kcfg_cred_unref(cr);
	cr_expect_str_eq(cred_token(c, 0), "token-from-a");
	kcfg_free(c);
}

static void write_token_config(void)
{
	write_tmp("config",
	          "current-context: ctx\n"
	          "clusters: [{name: c, cluster: {server: 'https://x'}}]\n"
	          "users: [{name: u, user: {token: static-ignored, tokenFile: token}}]\n"
	          "contexts: [{name: ctx, context: {cluster: c, user: u}}]\n",
	          0600);
}

Test(kubeconfig, a_token_file_is_reread_when_it_changes_and_after_invalidation)
{
	make_tmp();
	write_tmp("token", "one\n", 0600);
	write_token_config();
	char path[512];
	struct kcfg *c = load_ok(tpath(path, sizeof(path), "config"), NULL);
	/* tokenFile wins over token, as in client-go. */
	cr_expect_str_eq(cred_token(c, 1000), "one");
	/* A rotation (new inode, new size): seen at the next call, within the minute. */
	write_tmp("token", "two-rotated\n", 0600);
	cr_expect_str_eq(cred_token(c, 2000), "two-rotated");

	/* Same size, same mtime, same inode: only the minute or an invalidation reveals it. */
	char tp[512];
	tpath(tp, sizeof(tp), "token");
	struct stat st;
	cr_assert_eq(stat(tp, &st), 0);
	FILE *f = fopen(tp, "r+");
	cr_assert_not_null(f);
	fputs("six-rotated\n", f);
	fclose(f);
	struct timespec times[2] = {st.st_atim, st.st_mtim};
	cr_assert_eq(utimensat(AT_FDCWD, tp, times, 0), 0);
	cr_expect_str_eq(cred_token(c, 3000), "two-rotated");
	const struct kcfg_cred *cr;
	cr_assert_eq(kcfg_credentials(c, 3000, &cr, NULL), PS_OK);
	kcfg_token_invalidate(c, cr);
	cr_expect_str_eq(cred_token(c, 3001), "six-rotated");
	/* The snapshot taken before the refresh is still readable. */
	cr_expect_str_eq(cr->token, "two-rotated");
	kcfg_cred_unref(cr);

	f = fopen(tp, "r+");
	cr_assert_not_null(f);
	fputs("ten-rotated\n", f);
	fclose(f);
	cr_assert_eq(utimensat(AT_FDCWD, tp, times, 0), 0);
	cr_expect_str_eq(cred_token(c, 3001 + KCFG_TOKEN_FILE_PERIOD_MS - 1), "six-rotated");
	cr_expect_str_eq(cred_token(c, 3001 + KCFG_TOKEN_FILE_PERIOD_MS), "ten-rotated");

	/* A token file that disappears is an error at the next read, naming the file. */
	cr_assert_eq(unlink(tp), 0);
	kcfg_token_invalidate(c, NULL);
	struct ps_diag d;
	cr_expect_eq(kcfg_credentials(c, 100000, &cr, &d), PS_ENOENT);
	cr_expect_null(cr);
	char want[2048];
	snprintf(want, sizeof(want), "token file: cannot open \"%s\": No such file or directory",
	         tp);
	cr_expect_str_eq(d.msg, want);
	kcfg_free(c);
	cleanup_tmp();
}

Test(kubeconfig, an_empty_token_file_fails_the_load)
{
	make_tmp();
	write_tmp("token", " \n", 0600);
	write_token_config();
	char path[512], msg[PS_DIAG_MAX], want[2048];
	load_fail(tpath(path, sizeof(path), "config"), NULL, PS_ECONFIG, msg, sizeof(msg));
	snprintf(want, sizeof(want), "token file \"%s/token\" is empty", tmp);
	cr_expect_str_eq(msg, want);
	cleanup_tmp();
}

/* ---- in-cluster ---- */

static void write_sa_dir(const char *ns)
{
	write_tmp("sa/token", "sa-token-1\n", 0600);
	write_tmp("sa/ca.crt", CA_PEM, 0600);
	if (ns)
		write_tmp("sa/namespace", ns, 0600);
}

Test(kubeconfig, in_cluster_reads_the_service_account_and_the_service_variables)
{
	make_tmp();
	write_sa_dir("shop\n");
	set_env("KUBERNETES_SERVICE_HOST", "10.96.0.1");
	set_env("KUBERNETES_SERVICE_PORT", "443");
	char sa[512];
	tpath(sa, sizeof(sa), "sa");
	struct kcfg *c = NULL;
	struct ps_diag d;
	cr_assert_eq(kcfg_load_in_cluster(sa, &c, &d), PS_OK, "%s", ps_diag_msg(&d));
	cr_expect_eq(c->source, KCFG_SOURCE_IN_CLUSTER);
	cr_expect_str_eq(c->origin, sa);
	cr_expect_str_eq(c->server, "https://10.96.0.1:443");
	cr_expect_str_eq(c->namespace, "shop");
	cr_expect_str_eq(c->ca.data, CA_PEM);
	cr_expect_null(c->context);
	cr_expect_str_eq(cred_token(c, 1000), "sa-token-1");

	/* Rotation: not looked at again within the minute, then picked up. */
	write_tmp("sa/token", "sa-token-2\n", 0600);
	cr_expect_str_eq(cred_token(c, 1000 + KCFG_TOKEN_FILE_PERIOD_MS - 1), "sa-token-1");
	cr_expect_str_eq(cred_token(c, 1000 + KCFG_TOKEN_FILE_PERIOD_MS), "sa-token-2");
	/* After a 401, at once. */
	write_tmp("sa/token", "sa-token-3\n", 0600);
	const struct kcfg_cred *cr;
	cr_assert_eq(kcfg_credentials(c, 62000, &cr, NULL), PS_OK);
	cr_expect_str_eq(cr->token, "sa-token-2");
	kcfg_token_invalidate(c, cr);
	kcfg_cred_unref(cr);
	cr_expect_str_eq(cred_token(c, 62001), "sa-token-3");
	kcfg_free(c);
	cleanup_tmp();
}

Test(kubeconfig, in_cluster_brackets_an_ipv6_host_and_defaults_the_namespace)
{
	make_tmp();
	write_sa_dir(NULL);
	set_env("KUBERNETES_SERVICE_HOST", "fd00:10:96::1");
	set_env("KUBERNETES_SERVICE_PORT", "6443");
	char sa[512];
	struct kcfg *c = NULL;
	struct ps_diag d;
	cr_assert_eq(kcfg_load_in_cluster(tpath(sa, sizeof(sa), "sa"), &c, &d), PS_OK, "%s",
	             ps_diag_msg(&d));
	cr_expect_str_eq(c->server, "https://[fd00:10:96::1]:6443");
	cr_expect_str_eq(c->namespace, "default");
	kcfg_free(c);
	cleanup_tmp();
}

Test(kubeconfig, in_cluster_without_the_variables_or_files_says_what_is_missing)
{
	make_tmp();
	char sa[512], want[2048];
	tpath(sa, sizeof(sa), "sa");
	struct kcfg *c = NULL;
	struct ps_diag d;
	set_env("KUBERNETES_SERVICE_HOST", NULL);
	set_env("KUBERNETES_SERVICE_PORT", "443");
	cr_expect_eq(kcfg_load_in_cluster(sa, &c, &d), PS_ECONFIG);
	cr_expect_str_eq(d.msg, "not running in a cluster: KUBERNETES_SERVICE_HOST and "
	                        "KUBERNETES_SERVICE_PORT must both be set");
	set_env("KUBERNETES_SERVICE_HOST", "10.0.0.1");
	set_env("KUBERNETES_SERVICE_PORT", "https");
	cr_expect_eq(kcfg_load_in_cluster(sa, &c, &d), PS_ECONFIG);
	cr_expect_str_eq(d.msg, "KUBERNETES_SERVICE_PORT=\"https\" is not a port number");
	set_env("KUBERNETES_SERVICE_PORT", "443");
	write_tmp("sa/ca.crt", CA_PEM, 0600);
	cr_expect_eq(kcfg_load_in_cluster(sa, &c, &d), PS_ENOENT);
	snprintf(want, sizeof(want),
	         "token file: cannot open \"%s/token\": No such file or directory", sa);
	cr_expect_str_eq(d.msg, want);
	cr_expect_null(c);
	cleanup_tmp();
}

Test(kubeconfig, auto_chooses_in_cluster_only_when_no_kubeconfig_is_given)
{
	make_tmp();
	write_sa_dir("ops");
	char sa[512];
	tpath(sa, sizeof(sa), "sa");
	set_env("KUBERNETES_SERVICE_HOST", "10.96.0.1");
	set_env("KUBERNETES_SERVICE_PORT", "443");
	set_env("KUBECONFIG", NULL);
	struct kcfg *c = NULL;
	struct ps_diag d;
	cr_assert_eq(kcfg_load_auto(NULL, NULL, sa, &c, &d), PS_OK, "%s", ps_diag_msg(&d));
	cr_expect_eq(c->source, KCFG_SOURCE_IN_CLUSTER);
	kcfg_free(c);
	cr_assert_eq(kcfg_load_auto(MERGE_DIR "/a.yaml", NULL, sa, &c, &d), PS_OK);
	cr_expect_eq(c->source, KCFG_SOURCE_KUBECONFIG);
	kcfg_free(c);
	set_env("KUBECONFIG", MERGE_DIR "/a.yaml");
	cr_assert_eq(kcfg_load_auto(NULL, NULL, sa, &c, &d), PS_OK);
	cr_expect_eq(c->source, KCFG_SOURCE_KUBECONFIG);
	kcfg_free(c);
	cleanup_tmp();
}

/* ---- exec plugins ---- */

/* The plugin counts its runs in $COUNT_FILE, saves KUBERNETES_EXEC_INFO and its arguments,
 * and prints the fixture's ExecCredential with its run number in the token. */
static const char plugin_ok[] =
    "#!/bin/sh\n"
    "echo run >> \"$COUNT_FILE\"\n"
    "n=$(( $(wc -l < \"$COUNT_FILE\") ))\n"
    "printf '%s' \"$KUBERNETES_EXEC_INFO\" > \"$INFO_FILE\"\n"
    "printf '%s\\n' \"$@\" > \"$ARGS_FILE\"\n"
    "cat <<EOF\n"
    "{\"apiVersion\": \"client.authentication.k8s.io/v1\", \"kind\": \"ExecCredential\",\n"
    " \"status\": {\"token\": \"exec-token-$n\", \"expirationTimestamp\": "
    "\"2026-01-01T01:00:00Z\"}}\n"
    "EOF\n";

/* Writes <tmp>/config with an exec user running ./plugin.sh (relative: resolved against the
 * config's directory), and <tmp>/plugin.sh with <script>. */
static void write_exec_config(const char *script, bool cluster_info, const char *api_version)
{
	char text[4096];
	snprintf(text, sizeof(text),
	         "apiVersion: v1\n"
	         "kind: Config\n"
	         "current-context: ctx\n"
	         "clusters:\n"
	         "- name: c\n"
	         "  cluster:\n"
	         "    server: https://api.example:6443\n"
	         "    certificate-authority-data: " CA_PEM_B64 "\n"
	         "contexts:\n"
	         "- {name: ctx, context: {cluster: c, user: u}}\n"
	         "users:\n"
	         "- name: u\n"
	         "  user:\n"
	         "    exec:\n"
	         "      apiVersion: %s\n"
	         "      command: ./plugin.sh\n"
	         "      args: [get-token, --cluster, \"c with space\"]\n"
	         "      env:\n"
	         "      - {name: COUNT_FILE, value: %s/count}\n"
	         "      - {name: INFO_FILE, value: %s/info.json}\n"
	         "      - {name: ARGS_FILE, value: %s/args}\n"
	         "      interactiveMode: Never\n"
	         "      provideClusterInfo: %s\n"
	         "      installHint: install the plugin\n",
	         api_version, tmp, tmp, tmp, cluster_info ? "true" : "false");
	write_tmp("config", text, 0600);
	write_tmp("plugin.sh", script, 0700);
}

static struct kcfg *load_exec(void)
{
	char path[512];
	return load_ok(tpath(path, sizeof(path), "config"), NULL);
}

static int runs(void)
{
	char path[512], line[64];
	FILE *f = fopen(tpath(path, sizeof(path), "count"), "r");
	if (!f)
		return 0;
	int n = 0;
	while (fgets(line, sizeof(line), f))
		n++;
	fclose(f);
	return n;
}

Test(kubeconfig, an_exec_plugin_runs_once_until_its_credential_nears_expiry)
{
	make_tmp();
	write_exec_config(plugin_ok, false, KCFG_EXEC_API_V1);
	struct kcfg *c = load_exec();
	cr_expect_eq(runs(), 0, "loading must not run the plugin");
	const struct kcfg_cred *cr;
	struct ps_diag d;
	cr_assert_eq(kcfg_credentials(c, EXPIRY_MS - 3600000, &cr, &d), PS_OK, "%s",
	             ps_diag_msg(&d));
	cr_expect_str_eq(cr->token, "exec-token-1");
	cr_expect_eq(cr->expires_ms, EXPIRY_MS);
	kcfg_cred_unref(cr);
	cr_expect_eq(runs(), 1);
	/* Cached while more than KCFG_EXEC_REFRESH_MS remain. */
	cr_expect_str_eq(cred_token(c, EXPIRY_MS - KCFG_EXEC_REFRESH_MS - 1), "exec-token-1");
	cr_expect_eq(runs(), 1);
	/* Inside the refresh margin: run again. */
	cr_expect_str_eq(cred_token(c, EXPIRY_MS - KCFG_EXEC_REFRESH_MS), "exec-token-2");
	cr_expect_eq(runs(), 2);

	/* What the plugin saw: KUBERNETES_EXEC_INFO as in the fixture, its arguments as
	 * written (no shell in between). */
	char path[512];
	cJSON *info = parse_json_file(tpath(path, sizeof(path), "info.json"));
	cJSON *want = parse_json_file(FIXTURES "/exec_credential_v1_KUBERNETES_EXEC_INFO.json");
	cr_expect(cJSON_Compare(info, want, true), "KUBERNETES_EXEC_INFO differs from the fixture");
	cJSON_Delete(info);
	cJSON_Delete(want);
	struct ps_buf b;
	ps_buf_init(&b, 4096);
	cr_assert_eq(ps_buf_read_file(&b, tpath(path, sizeof(path), "args"), NULL), PS_OK);
	cr_expect_str_eq(ps_buf_cstr(&b), "get-token\n--cluster\nc with space\n");
	ps_buf_release(&b);
	kcfg_free(c);
	cleanup_tmp();
}

Test(kubeconfig, an_exec_plugin_reruns_after_invalidation_and_only_for_the_current_credential)
{
	make_tmp();
	write_exec_config(plugin_ok, false, KCFG_EXEC_API_V1);
	struct kcfg *c = load_exec();
	const struct kcfg_cred *first, *second;
	cr_assert_eq(kcfg_credentials(c, 0, &first, NULL), PS_OK);
	kcfg_token_invalidate(c, first);
	cr_assert_eq(kcfg_credentials(c, 0, &second, NULL), PS_OK);
	cr_expect_str_eq(second->token, "exec-token-2");
	cr_expect_eq(runs(), 2);
	/* A late 401 for the replaced credential does not run the plugin again. */
	kcfg_token_invalidate(c, first);
	cr_expect_str_eq(cred_token(c, 0), "exec-token-2");
	cr_expect_eq(runs(), 2);
	cr_expect_str_eq(first->token, "exec-token-1");
	kcfg_cred_unref(first);
	kcfg_cred_unref(second);
	kcfg_free(c);
	cleanup_tmp();
}

struct race {
	struct kcfg *c;
	pthread_barrier_t *barrier;
	char token[64];
};

static void *race_thread(void *arg)
{
	struct race *r = arg;
	const struct kcfg_cred *cr;
	if (kcfg_credentials(r->c, 0, &cr, NULL) != PS_OK)
		return NULL;
	pthread_barrier_wait(r->barrier);
	kcfg_token_invalidate(r->c, cr); /* every thread got a 401 with the same token */
	pthread_barrier_wait(r->barrier);
	kcfg_cred_unref(cr);
	if (kcfg_credentials(r->c, 0, &cr, NULL) != PS_OK)
		return NULL;
	snprintf(r->token, sizeof(r->token), "%s", cr->token);
	kcfg_cred_unref(cr);
	return NULL;
}

Test(kubeconfig, concurrent_401s_with_the_same_credential_run_the_plugin_once_more)
{
	make_tmp();
	write_exec_config(plugin_ok, false, KCFG_EXEC_API_V1);
	struct kcfg *c = load_exec();
	enum { N = 6 };
	pthread_barrier_t barrier;
	pthread_barrier_init(&barrier, NULL, N);
	struct race r[N];
	pthread_t th[N];
	for (int i = 0; i < N; i++) {
		r[i] = (struct race){.c = c, .barrier = &barrier};
		cr_assert_eq(pthread_create(&th[i], NULL, race_thread, &r[i]), 0);
	}
	for (int i = 0; i < N; i++)
		pthread_join(th[i], NULL);
	pthread_barrier_destroy(&barrier);
	for (int i = 0; i < N; i++)
		cr_expect_str_eq(r[i].token, "exec-token-2", "thread %d", i);
	cr_expect_eq(runs(), 2);
	kcfg_free(c);
	cleanup_tmp();
}

Test(kubeconfig, an_exec_plugin_gets_the_cluster_when_it_asks_for_it)
{
	make_tmp();
	write_exec_config(plugin_ok, true, KCFG_EXEC_API_V1);
	struct kcfg *c = load_exec();
	cr_expect_str_eq(cred_token(c, 0), "exec-token-1");
	char path[512];
	cJSON *info = parse_json_file(tpath(path, sizeof(path), "info.json"));
	const cJSON *spec = cJSON_GetObjectItemCaseSensitive(info, "spec");
	cr_expect(cJSON_IsFalse(cJSON_GetObjectItemCaseSensitive(spec, "interactive")));
	const cJSON *cl = cJSON_GetObjectItemCaseSensitive(spec, "cluster");
	cr_expect_str_eq(jstr(cl, "server"), "https://api.example:6443");
	cr_expect_str_eq(jstr(cl, "certificate-authority-data"), CA_PEM_B64);
	cJSON_Delete(info);
	kcfg_free(c);
	cleanup_tmp();
}

Test(kubeconfig, an_exec_plugin_without_expiry_is_cached_until_invalidated)
{
	make_tmp();
	write_exec_config("#!/bin/sh\n"
	                  "echo run >> \"$COUNT_FILE\"\n"
	                  "echo '{\"apiVersion\":\"client.authentication.k8s.io/v1beta1\","
	                  "\"kind\":\"ExecCredential\",\"status\":{\"token\":\"forever\"}}'\n",
	                  false, KCFG_EXEC_API_V1BETA1);
	struct kcfg *c = load_exec();
	cr_expect_str_eq(cred_token(c, 0), "forever");
	cr_expect_str_eq(cred_token(c, INT64_C(4102444800000)), "forever"); /* year 2100 */
	cr_expect_eq(runs(), 1);
	kcfg_token_invalidate(c, NULL);
	cr_expect_str_eq(cred_token(c, 0), "forever");
	cr_expect_eq(runs(), 2);
	kcfg_free(c);
	cleanup_tmp();
}

Test(kubeconfig, an_exec_plugin_may_return_a_client_certificate_used_for_tls)
{
	make_tmp();
	write_exec_config("#!/bin/sh\n"
	                  "cat <<'EOF'\n"
	                  "{\"apiVersion\":\"client.authentication.k8s.io/v1\","
	                  "\"kind\":\"ExecCredential\",\"status\":{"
	                  "\"clientCertificateData\":\"-----BEGIN CERTIFICATE-----\\nZXhlYw==\\n"
	                  "-----END CERTIFICATE-----\\n\","
	                  "\"clientKeyData\":\"-----BEGIN PRIVATE KEY-----\\nZXhlYw==\\n"
	                  "-----END PRIVATE KEY-----\\n\"}}\n"
	                  "EOF\n",
	                  false, KCFG_EXEC_API_V1);
	struct kcfg *c = load_exec();
	const struct kcfg_cred *cr;
	struct ps_diag d;
	cr_assert_eq(kcfg_credentials(c, 0, &cr, &d), PS_OK, "%s", ps_diag_msg(&d));
	cr_expect_null(cr->token);
	struct http_tls tls;
	kcfg_tls(c, cr, &tls);
	cr_expect_str_eq(tls.cert_pem, "-----BEGIN CERTIFICATE-----\nZXhlYw==\n-----END "
	                               "CERTIFICATE-----\n");
	cr_expect_str_eq(tls.key_pem, "-----BEGIN PRIVATE KEY-----\nZXhlYw==\n-----END PRIVATE "
	                              "KEY-----\n");
	cr_expect_eq(tls.ca_pem, c->ca.data);
	kcfg_cred_unref(cr);
	kcfg_free(c);
	cleanup_tmp();
}

Test(kubeconfig, a_failing_exec_plugin_reports_its_exit_status_and_stderr)
{
	make_tmp();
	write_exec_config("#!/bin/sh\n"
	                  "echo 'error: session expired, run \"login\" again' >&2\n"
	                  "exit 1\n",
	                  false, KCFG_EXEC_API_V1);
	struct kcfg *c = load_exec();
	const struct kcfg_cred *cr;
	struct ps_diag d;
	cr_expect_eq(kcfg_credentials(c, 0, &cr, &d), PS_EIO);
	cr_expect_null(cr);
	char want[2048];
	snprintf(want, sizeof(want),
	         "exec plugin \"%s/plugin.sh\" of user \"u\" exited with status 1; stderr: "
	         "\"error: session expired, run \\\"login\\\" again\"",
	         tmp);
	cr_expect_str_eq(d.msg, want);
	kcfg_free(c);
	cleanup_tmp();
}

Test(kubeconfig, an_exec_plugin_printing_garbage_is_a_parse_error_that_shows_no_output)
{
	make_tmp();
	write_exec_config("#!/bin/sh\n"
	                  "echo '{\"status\": {\"token\": \"secret-in-broken-json\"'\n",
	                  false, KCFG_EXEC_API_V1);
	struct kcfg *c = load_exec();
	const struct kcfg_cred *cr;
	struct ps_diag d;
	cr_expect_eq(kcfg_credentials(c, 0, &cr, &d), PS_EPARSE);
	char want[2048];
	/* The output is 45 bytes (44 and a newline); it ends inside the object, so the error
	 * is at its last byte. */
	snprintf(want, sizeof(want),
	         "exec plugin \"%s/plugin.sh\" of user \"u\" printed something that is not "
	         "JSON (error at byte 45 of 45; expected an ExecCredential)",
	         tmp);
	cr_expect_str_eq(d.msg, want);
	cr_expect_null(strstr(d.msg, "secret"));
	kcfg_free(c);
	cleanup_tmp();
}

Test(kubeconfig, an_exec_credential_of_another_api_version_is_refused)
{
	make_tmp();
	write_exec_config(plugin_ok, false, KCFG_EXEC_API_V1BETA1);
	struct kcfg *c = load_exec();
	const struct kcfg_cred *cr;
	struct ps_diag d;
	cr_expect_eq(kcfg_credentials(c, 0, &cr, &d), PS_EPARSE);
	char want[2048];
	snprintf(want, sizeof(want),
	         "exec plugin \"%s/plugin.sh\" of user \"u\" answered with apiVersion "
	         "\"client.authentication.k8s.io/v1\", but "
	         "\"client.authentication.k8s.io/v1beta1\" was requested",
	         tmp);
	cr_expect_str_eq(d.msg, want);
	kcfg_free(c);
	cleanup_tmp();
}

Test(kubeconfig, a_hanging_exec_plugin_is_killed_after_the_timeout)
{
	make_tmp();
	/* The shell waits for a child: killing only the shell would leave the sleep behind. */
	write_exec_config("#!/bin/sh\n"
	                  "echo waiting >&2\n"
	                  "sleep 30 &\n"
	                  "echo $! > \"$COUNT_FILE.pid\"\n"
	                  "wait\n",
	                  false, KCFG_EXEC_API_V1);
	struct kcfg *c = load_exec();
	kcfg_set_exec_timeout_ms(c, 300);
	const struct kcfg_cred *cr;
	struct ps_diag d;
	struct timespec t0, t1;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	cr_expect_eq(kcfg_credentials(c, 0, &cr, &d), PS_ETIMEDOUT);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	double ms = (double)(t1.tv_sec - t0.tv_sec) * 1e3 + (double)(t1.tv_nsec - t0.tv_nsec) / 1e6;
	cr_expect(ms >= 300 && ms < 3000, "took %.0f ms", ms);
	char want[2048];
	snprintf(want, sizeof(want),
	         "exec plugin \"%s/plugin.sh\" of user \"u\" did not finish within 300 ms and "
	         "was killed; stderr: \"waiting\"",
	         tmp);
	cr_expect_str_eq(d.msg, want);
	/* The plugin's child went with it (its process group was killed). */
	char path[512];
	FILE *f = fopen(tpath(path, sizeof(path), "count.pid"), "r");
	cr_assert_not_null(f);
	int pid = 0;
	cr_assert_eq(fscanf(f, "%d", &pid), 1);
	fclose(f);
	bool gone = false;
	for (int i = 0; i < 200 && !gone; i++) {
		gone = kill(pid, 0) != 0 && errno == ESRCH;
		if (!gone)
			nanosleep(&(struct timespec){0, 10 * 1000 * 1000}, NULL);
	}
	cr_expect(gone, "the plugin's child %d survived", pid);
	kcfg_free(c);
	cleanup_tmp();
}

Test(kubeconfig, a_missing_exec_plugin_shows_its_install_hint)
{
	make_tmp();
	write_exec_config(plugin_ok, false, KCFG_EXEC_API_V1);
	char path[512];
	tpath(path, sizeof(path), "plugin.sh");
	cr_assert_eq(unlink(path), 0);
	struct kcfg *c = load_exec();
	const struct kcfg_cred *cr;
	struct ps_diag d;
	cr_expect_eq(kcfg_credentials(c, 0, &cr, &d), PS_ENOENT);
	char want[2048];
	snprintf(want, sizeof(want),
	         "exec plugin \"%s/plugin.sh\" of user \"u\" not found: install the plugin", tmp);
	cr_expect_str_eq(d.msg, want);
	kcfg_free(c);
	cleanup_tmp();
}

Test(kubeconfig, an_exec_plugin_that_wants_a_terminal_is_refused_at_load)
{
	make_tmp();
	write_tmp("config",
	          "current-context: ctx\n"
	          "clusters: [{name: c, cluster: {server: 'https://x'}}]\n"
	          "contexts: [{name: ctx, context: {cluster: c, user: u}}]\n"
	          "users:\n"
	          "- name: u\n"
	          "  user:\n"
	          "    exec: {command: login-tool, apiVersion: client.authentication.k8s.io/v1,\n"
	          "           interactiveMode: Always}\n",
	          0600);
	char path[512], msg[PS_DIAG_MAX], want[2048];
	load_fail(tpath(path, sizeof(path), "config"), NULL, PS_ECONFIG, msg, sizeof(msg));
	snprintf(want, sizeof(want),
	         "%s:5:3: user \"u\": exec.interactiveMode is Always, but prescale runs plugins "
	         "without a terminal (use Never or IfAvailable)",
	         path);
	cr_expect_str_eq(msg, want);
	cleanup_tmp();
}

/* ---- allocation failures ---- */

static void write_rich_configs(void)
{
	write_tmp("ca.pem", CA_PEM, 0600);
	write_tmp("client.pem", CERT_PEM, 0600);
	write_tmp("client.key", KEY_PEM, 0600);
	write_tmp("token", "tok\n", 0600);
	write_tmp("one.yaml",
	          "apiVersion: v1\n"
	          "kind: Config\n"
	          "current-context: ctx\n"
	          "clusters:\n"
	          "- name: c\n"
	          "  cluster: {server: 'https://api.example/', certificate-authority: ca.pem,\n"
	          "            tls-server-name: api}\n"
	          "- name: d\n"
	          "  cluster: {server: https://d.example, certificate-authority-data: " CA_PEM_B64
	          "}\n"
	          "users:\n"
	          "- name: u\n"
	          "  user: {client-certificate: client.pem, client-key: client.key, tokenFile: "
	          "token}\n"
	          "- name: x\n"
	          "  user:\n"
	          "    exec:\n"
	          "      command: ./bin/plugin\n"
	          "      args: [a, b]\n"
	          "      env: [{name: A, value: '1'}, {name: B, value: '2'}]\n"
	          "      apiVersion: client.authentication.k8s.io/v1\n"
	          "      installHint: hint\n"
	          "contexts:\n"
	          "- {name: ctx, context: {cluster: c, user: u, namespace: ns}}\n"
	          "- {name: other, context: {cluster: d, user: x}}\n",
	          0600);
	write_tmp("two.yaml",
	          "current-context: other\n"
	          "clusters: [{name: c, cluster: {server: 'https://shadowed'}},\n"
	          "           {name: e, cluster: {server: 'https://e'}}]\n"
	          "users: [{name: u, user: {token: shadowed}}, {name: y, user: {token: t}}]\n"
	          "contexts: [{name: third, context: {cluster: e, user: y}}]\n",
	          0600);
	char one[512], two[512], list[1100];
	snprintf(list, sizeof(list), "%s:%s", tpath(one, sizeof(one), "one.yaml"),
	         tpath(two, sizeof(two), "two.yaml"));
	set_env("KUBECONFIG", list);
}

Test(kubeconfig, every_allocation_failure_while_loading_gives_enomem_and_leaks_nothing)
{
	make_tmp();
	write_rich_configs();
	const char *contexts[] = {"ctx", "other"};
	for (size_t k = 0; k < PS_ARRAY_LEN(contexts); k++) {
		struct kcfg *c = load_ok(NULL, contexts[k]); /* warm up libc and libyaml */
		kcfg_free(c);
		uint64_t n;
		for (n = 1;; n++) {
			struct ps_diag d;
			ps_diag_clear(&d);
			c = (struct kcfg *)1;
			ps_alloc_fail_at(n);
			enum ps_err rc = kcfg_load_kubeconfig(NULL, contexts[k], &c, &d);
			bool injected = ps_alloc_injected();
			ps_alloc_fail_at(0);
			if (!injected) {
				cr_expect_eq(rc, PS_OK, "n=%llu: %s", (unsigned long long)n,
				             ps_diag_msg(&d));
				kcfg_free(c);
				break;
			}
			cr_expect_eq(rc, PS_ENOMEM, "%s n=%llu: %s (%s)", contexts[k],
			             (unsigned long long)n, ps_err_name(rc), ps_diag_msg(&d));
			cr_expect_eq(d.err, PS_ENOMEM, "n=%llu", (unsigned long long)n);
			cr_expect_null(c);
			if (rc == PS_OK)
				kcfg_free(c);
		}
		cr_expect_gt(n, 40, "the load made only %llu allocations", (unsigned long long)n);
	}
	for (uint64_t n = 1;; n++) {
		char *s = (char *)1;
		ps_alloc_fail_at(n);
		enum ps_err rc = kcfg_view_json(NULL, false, &s, NULL);
		bool injected = ps_alloc_injected();
		ps_alloc_fail_at(0);
		if (!injected) {
			cr_expect_eq(rc, PS_OK);
			ps_free_secret(s, strlen(s));
			break;
		}
		cr_expect_eq(rc, PS_ENOMEM, "view n=%llu: %s", (unsigned long long)n,
		             ps_err_name(rc));
		cr_expect_null(s);
	}
	expect_no_leak();
	cleanup_tmp();
}

Test(kubeconfig, every_allocation_failure_while_running_a_plugin_gives_enomem_and_leaks_nothing)
{
	make_tmp();
	write_exec_config(plugin_ok, true, KCFG_EXEC_API_V1);
	struct kcfg *c = load_exec();
	uint64_t n;
	for (n = 1;; n++) {
		const struct kcfg_cred *cr = (const struct kcfg_cred *)1;
		struct ps_diag d;
		kcfg_token_invalidate(c, NULL);
		ps_alloc_fail_at(n);
		enum ps_err rc = kcfg_credentials(c, 0, &cr, &d);
		bool injected = ps_alloc_injected();
		ps_alloc_fail_at(0);
		if (!injected) {
			cr_expect_eq(rc, PS_OK, "%s", ps_diag_msg(&d));
			kcfg_cred_unref(cr);
			break;
		}
		cr_expect_eq(rc, PS_ENOMEM, "n=%llu: %s (%s)", (unsigned long long)n,
		             ps_err_name(rc), ps_diag_msg(&d));
		cr_expect_null(cr);
	}
	cr_expect_gt(n, 5, "the refresh made only %llu allocations", (unsigned long long)n);
	kcfg_free(c);
	expect_no_leak();
	cleanup_tmp();
}
