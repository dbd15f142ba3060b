/* test_kube.c -- the Kubernetes client without an API server: Status errors, names, paths,
 * the pod mapping, Lease and Event bodies, the rate limit on a virtual clock, backoff, and
 * allocation failures in every parser.
 *
 * Expected values come from outside the code under test: the Status, Scale, Lease and Event
 * fixtures of ../shared/fixtures/kubernetes (read from there and compared member by member),
 * apimachinery's validation messages, the hand-made PodList in tests/data/kube/calls with
 * values worked out by hand (64Mi = 64 * 2^20 bytes, `date -u -d 2026-01-01T00:00:00Z +%s` =
 * 1767225600), and token-bucket arithmetic done on paper. The few client tests here talk to a
 * port where nothing listens; the live tests are in test_kube_live.c.
 */
#include <cjson/cJSON.h>
#include <criterion/criterion.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "kube.h"
#include "ps_alloc.h"
#include "ps_buf.h"

#define FIXTURES PS_SHARED_DIR "/fixtures/kubernetes/"
#define DATA PS_TEST_DATA "/kube/calls/"

/* 2026-01-01T00:00:00Z in Unix ms. */
#define T2026 INT64_C(1767225600000)

/* ---- helpers ---- */

static char *read_file(const char *path, size_t *len)
{
	struct ps_buf b;
	ps_buf_init(&b, 1 << 20);
	struct ps_diag d;
	ps_diag_clear(&d);
	cr_assert_eq(ps_buf_read_file(&b, path, &d), PS_OK, "%s", ps_diag_msg(&d));
	if (len)
		*len = b.len;
	char *s = ps_buf_detach(&b);
	cr_assert_not_null(s);
	return s;
}

static char *read_fixture(const char *name, size_t *len)
{
	char path[512];
	snprintf(path, sizeof(path), FIXTURES "%s", name);
	return read_file(path, len);
}

/* Asserts that the JSON texts <got> and <want> hold the same value (member order aside). */
static void assert_same_json(const char *got, const char *want, const char *what)
{
	cJSON *g = cJSON_Parse(got);
	cJSON *w = cJSON_Parse(want);
	cr_assert_not_null(g, "%s: ours is not JSON: %s", what, got);
	cr_assert_not_null(w, "%s: the fixture is not JSON", what);
	bool same = cJSON_Compare(g, w, true);
	char *wp = cJSON_PrintUnformatted(w);
	cr_assert(same, "%s differs:\n ours:    %s\n fixture: %s", what, got, wp);
	free(wp);
	cJSON_Delete(g);
	cJSON_Delete(w);
}

/* ---- Status bodies ---- */

struct status_case {
	const char *file;
	long http;
	enum ps_err err;
	const char *reason;
	const char *message;
	const char *details_name, *details_kind;
	int64_t retry_after_s;
};

/* Copied from the fixtures by hand. */
static const struct status_case status_cases[] = {
    {"status_401_unauthorized.json", 401, PS_EUNAUTHORIZED, "Unauthorized", "Unauthorized", "", "",
     -1},
    {"status_403_forbidden.json", 403, PS_EFORBIDDEN, "Forbidden",
     "deployments.apps \"web\" is forbidden: User "
     "\"system:serviceaccount:autoscaler:autoscaler\" cannot patch resource "
     "\"deployments/scale\" in API group \"apps\" in the namespace \"default\"",
     "web", "deployments", -1},
    {"status_404_notfound.json", 404, PS_ENOTFOUND, "NotFound",
     "deployments.apps \"web\" not found", "web", "deployments", -1},
    {"status_409_conflict.json", 409, PS_ECONFLICT, "Conflict",
     "Operation cannot be fulfilled on deployments.apps \"web\": the object has been "
     "modified; please apply your changes to the latest version and try again",
     "web", "deployments", -1},
    {"status_410_expired.json", 410, PS_EGONE, "Expired", "too old resource version: 100 (12000)",
     "", "", -1},
    {"status_422_invalid.json", 422, PS_EINVALID, "Invalid",
     "Scale.autoscaling \"web\" is invalid: spec.replicas: Invalid value: -1: must be greater "
     "than or equal to 0",
     "web", "Scale", -1},
    {"status_429_toomanyrequests_json.json", 429, PS_ETHROTTLED, "TooManyRequests",
     "Too many requests, please try again later.", "", "", 1},
};

Test(kube, every_status_fixture_decodes_to_its_code_reason_and_message)
{
	for (size_t i = 0; i < PS_ARRAY_LEN(status_cases); i++) {
		const struct status_case *sc = &status_cases[i];
		size_t len;
		char *body = read_fixture(sc->file, &len);
		struct kube_status st;
		struct ps_diag d;
		ps_diag_clear(&d);
		cr_assert_eq(kube_status_parse(body, len, &st, &d), PS_OK, "%s: %s", sc->file,
		             ps_diag_msg(&d));
		cr_expect_eq(st.code, sc->http, "%s: code %d", sc->file, st.code);
		cr_expect_str_eq(st.status, "Failure", "%s", sc->file);
		cr_expect_str_eq(st.reason, sc->reason, "%s", sc->file);
		cr_expect_str_eq(st.message, sc->message, "%s", sc->file);
		cr_expect_str_eq(st.details_name, sc->details_name, "%s", sc->file);
		cr_expect_str_eq(st.details_kind, sc->details_kind, "%s", sc->file);
		cr_expect_eq(st.retry_after_s, sc->retry_after_s, "%s", sc->file);
		free(body);
	}
}

Test(kube, the_422_status_names_the_first_invalid_field)
{
	size_t len;
	char *body = read_fixture("status_422_invalid.json", &len);
	struct kube_status st;
	cr_assert_eq(kube_status_parse(body, len, &st, NULL), PS_OK);
	cr_expect_eq(st.n_causes, 1);
	cr_expect_str_eq(st.cause_field, "spec.replicas");
	cr_expect_str_eq(st.details_group, "autoscaling");
	free(body);
}

Test(kube, every_status_fixture_becomes_its_error_with_url_and_message)
{
	const char *url =
	    "https://127.0.0.1:6443/apis/apps/v1/namespaces/shop/deployments/web/scale";
	const char *phrases[] = {"Unauthorized",     "Forbidden", "Not Found",
	                         "Conflict",         "Gone",      "Unprocessable Entity",
	                         "Too Many Requests"};
	for (size_t i = 0; i < PS_ARRAY_LEN(status_cases); i++) {
		const struct status_case *sc = &status_cases[i];
		size_t len;
		char *body = read_fixture(sc->file, &len);
		struct ps_diag d;
		ps_diag_clear(&d);
		struct kube_status st;
		enum ps_err err = kube_status_error("PATCH", url, sc->http, body, len, &st, &d);
		cr_expect_eq(err, sc->err, "%s: %s", sc->file, ps_err_name(err));
		cr_expect_eq(d.err, sc->err);
		char want[PS_DIAG_MAX];
		snprintf(want, sizeof(want), "PATCH %s: %ld %s: %s", url, sc->http, phrases[i],
		         sc->message);
		cr_expect_str_eq(d.msg, want, "%s", sc->file);
		cr_expect_str_eq(st.reason, sc->reason);
		free(body);
	}
}

Test(kube, the_403_message_reads_like_the_issue_example)
{
	size_t len;
	char *body = read_fixture("status_403_forbidden.json", &len);
	struct ps_diag d;
	ps_diag_clear(&d);
	cr_assert_eq(kube_status_error("PATCH",
	                               "https://127.0.0.1:6443/apis/apps/v1/namespaces/shop/"
	                               "deployments/web/scale",
	                               403, body, len, NULL, &d),
	             PS_EFORBIDDEN);
	const char *prefix =
	    "PATCH https://127.0.0.1:6443/apis/apps/v1/namespaces/shop/deployments/"
	    "web/scale: 403 Forbidden: deployments.apps \"web\" is forbidden: ";
	cr_expect_eq(strncmp(d.msg, prefix, strlen(prefix)), 0, "%s", d.msg);
	free(body);
}

Test(kube, the_plain_text_429_is_quoted_briefly)
{
	size_t len;
	char *raw = read_fixture("http_429_maxinflight_plaintext.http", &len);
	char *sep = strstr(raw, "\r\n\r\n");
	cr_assert_not_null(sep);
	const char *body = sep + 4; /* "Too many requests, please try again later.\n" */
	struct ps_diag d;
	ps_diag_clear(&d);
	struct kube_status st;
	enum ps_err err =
	    kube_status_error("GET", "https://127.0.0.1:6443/api/v1/namespaces/a/pods", 429, body,
	                      strlen(body), &st, &d);
	cr_expect_eq(err, PS_ETHROTTLED);
	cr_expect_str_eq(d.msg, "GET https://127.0.0.1:6443/api/v1/namespaces/a/pods: 429 Too Many "
	                        "Requests: \"Too many requests, please try again later.\"");
	cr_expect_eq(st.code, 0);
	cr_expect_eq(st.retry_after_s, -1);
	/* And the parser alone says it is no Status. */
	cr_expect_eq(kube_status_parse(body, strlen(body), &st, &d), PS_EPARSE);
	free(raw);
}

Test(kube, a_long_non_json_error_body_is_cut_and_an_empty_one_omitted)
{
	char body[1000];
	memset(body, 'x', sizeof(body));
	struct ps_diag d;
	ps_diag_clear(&d);
	cr_expect_eq(kube_status_error("GET", "https://h/x", 502, body, sizeof(body), NULL, &d),
	             PS_ESERVER);
	cr_expect(strstr(d.msg, "GET https://h/x: 502 Bad Gateway: \"xxxx") == d.msg, "%s", d.msg);
	cr_expect(strstr(d.msg, "xxx...") != NULL, "%s", d.msg);
	cr_expect_lt(strlen(d.msg), 200);
	cr_expect_eq(kube_status_error("GET", "https://h/x", 503, "", 0, NULL, &d), PS_ESERVER);
	cr_expect_str_eq(d.msg, "GET https://h/x: 503 Service Unavailable");
	cr_expect_eq(kube_status_error("GET", "https://h/x", 418, "{\"a\":1}", 7, NULL, &d),
	             PS_EHTTP);
	cr_expect_str_eq(d.msg, "GET https://h/x: 418: \"{\\\"a\\\":1}\"");
}

Test(kube, http_statuses_map_to_distinct_errors)
{
	const struct {
		long s;
		enum ps_err e;
	} t[] = {
	    {200, PS_OK},         {201, PS_OK},        {400, PS_EHTTP},   {401, PS_EUNAUTHORIZED},
	    {403, PS_EFORBIDDEN}, {404, PS_ENOTFOUND}, {405, PS_EHTTP},   {409, PS_ECONFLICT},
	    {410, PS_EGONE},      {413, PS_EHTTP},     {415, PS_EHTTP},   {422, PS_EINVALID},
	    {429, PS_ETHROTTLED}, {500, PS_ESERVER},   {503, PS_ESERVER}, {504, PS_ESERVER},
	    {599, PS_ESERVER},    {302, PS_EHTTP}};
	for (size_t i = 0; i < PS_ARRAY_LEN(t); i++)
		cr_expect_eq(kube_err_from_http(t[i].s), t[i].e, "%ld -> %s", t[i].s,
		             ps_err_name(kube_err_from_http(t[i].s)));
	cr_expect_str_eq(kube_http_reason(415), "Unsupported Media Type");
	cr_expect_str_eq(kube_http_reason(299), "");
}

/* ---- names ---- */

Test(kube, names_follow_dns1123_subdomain_rules)
{
	const char *good[] = {"web", "a", "web-1", "web.v2", "0abc", "a.b.c", "x-1.y-2"};
	const char *bad[] = {"Web",  "web_1", "-web", "web-",  ".web", "web.",
	                     "a..b", "a.-b",  "a b",  "web/x", "ü"};
	for (size_t i = 0; i < PS_ARRAY_LEN(good); i++)
		cr_expect(kube_is_dns1123_subdomain(good[i]), "%s", good[i]);
	for (size_t i = 0; i < PS_ARRAY_LEN(bad); i++)
		cr_expect(!kube_is_dns1123_subdomain(bad[i]), "%s", bad[i]);
	char longest[254];
	memset(longest, 'a', 253);
	longest[253] = '\0';
	cr_expect(kube_is_dns1123_subdomain(longest));
	char too_long[255];
	memset(too_long, 'a', 254);
	too_long[254] = '\0';
	cr_expect(!kube_is_dns1123_subdomain(too_long));
	cr_expect(!kube_is_dns1123_subdomain(""));
	cr_expect(!kube_is_dns1123_subdomain(NULL));
}

Test(kube, namespaces_follow_dns1123_label_rules)
{
	cr_expect(kube_is_dns1123_label("shop"));
	cr_expect(kube_is_dns1123_label("kube-system"));
	cr_expect(!kube_is_dns1123_label("a.b"));
	cr_expect(!kube_is_dns1123_label("Shop"));
	char s[65];
	memset(s, 'a', 64);
	s[64] = '\0';
	cr_expect(!kube_is_dns1123_label(s));
	s[63] = '\0';
	cr_expect(kube_is_dns1123_label(s));
}

Test(kube, invalid_names_get_apimachinery_messages)
{
	struct ps_diag d;
	ps_diag_clear(&d);
	cr_expect_eq(kube_validate_name("name", "Web_1", &d), PS_EINVAL);
	cr_expect_str_eq(d.msg,
	                 "invalid name \"Web_1\": a lowercase RFC 1123 subdomain must consist "
	                 "of lower case alphanumeric characters, '-' or '.', and must start "
	                 "and end with an alphanumeric character");
	cr_expect_eq(kube_validate_namespace("my.ns", &d), PS_EINVAL);
	cr_expect_str_eq(d.msg, "invalid namespace \"my.ns\": a lowercase RFC 1123 label must "
	                        "consist of lower case alphanumeric characters or '-', and must "
	                        "start and end with an alphanumeric character");
	cr_expect_eq(kube_validate_name("Lease name", "", &d), PS_EINVAL);
	cr_expect_str_eq(d.msg, "Lease name must not be empty");
	cr_expect_eq(kube_validate_namespace(NULL, &d), PS_EINVAL);
	cr_expect_str_eq(d.msg, "namespace must not be empty");
	char s[300];
	memset(s, 'a', 299);
	s[299] = '\0';
	cr_expect_eq(kube_validate_name("name", s, &d), PS_EINVAL);
	cr_expect(strstr(d.msg, "must be no more than 253 characters") != NULL, "%s", d.msg);
	cr_expect(strstr(d.msg, "...\"") != NULL, "the value is quoted briefly: %s", d.msg);
	cr_expect_eq(kube_validate_name("name", "web\n", &d), PS_EINVAL);
	cr_expect(strstr(d.msg, "\"web\\x0a\"") != NULL, "%s", d.msg);
	cr_expect_eq(kube_validate_name("name", "web-1.v2", NULL), PS_OK);
}

/* ---- references and paths ---- */

Test(kube, kinds_map_to_their_resources)
{
	const struct {
		const char *api_version, *kind, *group, *version, *resource;
	} t[] = {
	    {"apps/v1", "Deployment", "apps", "v1", "deployments"},
	    {"apps/v1", "StatefulSet", "apps", "v1", "statefulsets"},
	    {"apps/v1", "ReplicaSet", "apps", "v1", "replicasets"},
	    {"v1", "ReplicationController", "", "v1", "replicationcontrollers"},
	    {"argoproj.io/v1alpha1", "Rollout", "argoproj.io", "v1alpha1", "rollouts"},
	    /* apimachinery's UnsafeGuessKindToResource for anything else */
	    {"example.com/v1", "Widget", "example.com", "v1", "widgets"},
	    {"example.com/v1", "Policy", "example.com", "v1", "policies"},
	    {"example.com/v1beta1", "Class", "example.com", "v1beta1", "classes"},
	};
	for (size_t i = 0; i < PS_ARRAY_LEN(t); i++) {
		struct kube_ref r;
		struct ps_diag d;
		ps_diag_clear(&d);
		cr_assert_eq(kube_ref_from_kind(&r, t[i].api_version, t[i].kind, "shop", "web", &d),
		             PS_OK, "%s", ps_diag_msg(&d));
		cr_expect_str_eq(r.group, t[i].group);
		cr_expect_str_eq(r.version, t[i].version);
		cr_expect_str_eq(r.resource, t[i].resource);
		cr_expect_str_eq(r.kind, t[i].kind);
		cr_expect_str_eq(r.namespace, "shop");
		cr_expect_str_eq(r.name, "web");
	}
}

Test(kube, bad_references_are_refused_with_the_part_named)
{
	struct kube_ref r;
	struct ps_diag d;
	ps_diag_clear(&d);
	cr_expect_eq(kube_ref_from_kind(&r, "apps/v1/x", "Deployment", "shop", "web", &d),
	             PS_EINVAL);
	cr_expect(strstr(d.msg, "invalid apiVersion \"apps/v1/x\"") == d.msg, "%s", d.msg);
	cr_expect_eq(kube_ref_from_kind(&r, "apps/v1", "Deploy-ment", "shop", "web", &d),
	             PS_EINVAL);
	cr_expect(strstr(d.msg, "invalid kind") == d.msg, "%s", d.msg);
	cr_expect_eq(kube_ref_from_kind(&r, "apps/v1", "Deployment", "Shop", "web", &d), PS_EINVAL);
	cr_expect(strstr(d.msg, "invalid namespace \"Shop\"") == d.msg, "%s", d.msg);
	cr_expect_eq(kube_ref_from_kind(&r, "apps/v1", "Deployment", "shop", "../etc", &d),
	             PS_EINVAL);
	cr_expect(strstr(d.msg, "invalid name \"../etc\"") == d.msg, "%s", d.msg);
	cr_expect_eq(kube_ref_from_resource(&r, "Apps", "v1", "deployments", "shop", "web", &d),
	             PS_EINVAL);
	cr_expect(strstr(d.msg, "invalid API group \"Apps\"") == d.msg, "%s", d.msg);
	cr_expect_eq(kube_ref_from_resource(&r, "apps", "v1", "deployments", "shop", "web", &d),
	             PS_OK);
	cr_expect_str_eq(r.kind, "Deployment");
	cr_expect_eq(kube_ref_from_resource(&r, "x.io", "v1", "things", "shop", "web", &d), PS_OK);
	cr_expect_str_eq(r.kind, "");
}

Test(kube, paths_are_built_and_every_segment_escaped)
{
	struct ps_buf b;
	ps_buf_init(&b, 4096);
	cr_assert_eq(kube_path_build(&b, "apps", "v1", "shop", "deployments", "web", "scale"),
	             PS_OK);
	cr_expect_str_eq(ps_buf_cstr(&b), "/apis/apps/v1/namespaces/shop/deployments/web/scale");
	ps_buf_reset(&b);
	cr_assert_eq(kube_path_build(&b, "", "v1", "shop", "pods", NULL, NULL), PS_OK);
	cr_expect_str_eq(ps_buf_cstr(&b), "/api/v1/namespaces/shop/pods");
	ps_buf_reset(&b);
	cr_assert_eq(kube_path_build(&b, "coordination.k8s.io", "v1", "kube-system", "leases",
	                             "prescale", NULL),
	             PS_OK);
	cr_expect_str_eq(ps_buf_cstr(&b),
	                 "/apis/coordination.k8s.io/v1/namespaces/kube-system/leases/prescale");
	/* Building does not validate: a hostile name stays one escaped segment. */
	ps_buf_reset(&b);
	cr_assert_eq(kube_path_build(&b, "apps", "v1", "a b", "deployments", "../x?y#z", "scale"),
	             PS_OK);
	cr_expect_str_eq(ps_buf_cstr(&b),
	                 "/apis/apps/v1/namespaces/a%20b/deployments/..%2Fx%3Fy%23z/scale");
	cr_assert_eq(kube_path_query(&b, "labelSelector", "app=web,tier in (a,b)"), PS_OK);
	cr_assert_eq(kube_path_query(&b, "limit", "500"), PS_OK);
	cr_expect_str_eq(ps_buf_cstr(&b),
	                 "/apis/apps/v1/namespaces/a%20b/deployments/..%2Fx%3Fy%23z/scale"
	                 "?labelSelector=app%3Dweb%2Ctier%20in%20%28a%2Cb%29&limit=500");
	ps_buf_release(&b);
	struct ps_buf small;
	ps_buf_init(&small, 20);
	cr_expect_eq(kube_path_build(&small, "apps", "v1", "shop", "deployments", "web", NULL),
	             PS_ETOOBIG);
	ps_buf_release(&small);
}

/* ---- Scale ---- */

Test(kube, the_scale_fixture_decodes)
{
	size_t len;
	char *body = read_fixture("scale_get_response_deployment.json", &len);
	struct kube_scale s;
	struct ps_diag d;
	ps_diag_clear(&d);
	cr_assert_eq(kube_scale_parse(body, len, &s, &d), PS_OK, "%s", ps_diag_msg(&d));
	cr_expect_str_eq(s.name, "web");
	cr_expect_str_eq(s.namespace, "default");
	cr_expect_str_eq(s.uid, "3f1c2b9e-0000-4000-8000-000000000001");
	cr_expect_str_eq(s.resource_version, "12345");
	cr_expect_eq(s.replicas, 3);
	cr_expect_eq(s.status_replicas, 3);
	cr_expect_str_eq(s.selector, "app=web");
	kube_scale_release(&s);
	free(body);
}

Test(kube, a_scale_at_zero_omits_replicas_and_reads_as_zero)
{
	const char *j = "{\"kind\":\"Scale\",\"apiVersion\":\"autoscaling/v1\",\"metadata\":"
	                "{\"name\":\"w\",\"namespace\":\"n\",\"resourceVersion\":\"7\"},"
	                "\"spec\":{},\"status\":{\"replicas\":0}}";
	struct kube_scale s;
	cr_assert_eq(kube_scale_parse(j, strlen(j), &s, NULL), PS_OK);
	cr_expect_eq(s.replicas, 0);
	cr_expect_str_eq(s.selector, "");
	kube_scale_release(&s);
}

Test(kube, bad_scale_bodies_name_the_field)
{
	const struct {
		const char *json;
		enum ps_err err;
		const char *msg;
	} t[] = {
	    {"{\"spec\":{\"replicas\":\"3\"}}", PS_EPARSE,
	     "Scale: spec.replicas: expected a number"},
	    {"{\"spec\":{\"replicas\":3.5}}", PS_EPARSE,
	     "Scale: spec.replicas: expected an integer in [-2147483648, 2147483647]"},
	    {"{\"spec\":{\"replicas\":3000000000}}", PS_EPARSE,
	     "Scale: spec.replicas: expected an integer in [-2147483648, 2147483647]"},
	    {"{\"status\":{\"selector\":7}}", PS_EPARSE,
	     "Scale: status.selector: expected a string"},
	    {"[1]", PS_EPARSE, "Scale: expected a JSON object"},
	    {"{\"spec\":", PS_EPARSE,
	     "Scale: invalid JSON at byte 7 near \":\""}, /* cJSON's offset */
	    {"", PS_EPARSE, "Scale: empty body (expected JSON)"},
	};
	for (size_t i = 0; i < PS_ARRAY_LEN(t); i++) {
		struct kube_scale s;
		struct ps_diag d;
		ps_diag_clear(&d);
		cr_expect_eq(kube_scale_parse(t[i].json, strlen(t[i].json), &s, &d), t[i].err, "%s",
		             t[i].json);
		cr_expect_str_eq(d.msg, t[i].msg);
		cr_expect_null(s.selector);
	}
}

Test(kube, the_patch_body_is_the_merge_patch_fixture)
{
	struct ps_buf b;
	ps_buf_init(&b, 256);
	cr_assert_eq(kube_scale_patch_body(&b, 5), PS_OK);
	char *want = read_fixture("scale_patch_merge_body.json", NULL);
	assert_same_json(ps_buf_cstr(&b), want, "merge patch");
	cr_expect_str_eq(ps_buf_cstr(&b), "{\"spec\":{\"replicas\":5}}");
	free(want);
	ps_buf_release(&b);
}

/* ---- pods ---- */

static const struct eng_request *find_req(const struct eng_container *c, const char *res)
{
	for (size_t i = 0; i < c->n_requests; i++)
		if (!strcmp(c->requests[i].resource, res))
			return &c->requests[i];
	return NULL;
}

static void load_pods(struct kube_pod_list *l)
{
	size_t len;
	char *body = read_file(DATA "pods_list.json", &len);
	memset(l, 0, sizeof(*l));
	struct ps_diag d;
	ps_diag_clear(&d);
	char cont[64] = "x";
	cr_assert_eq(kube_pod_list_parse(body, len, l, cont, sizeof(cont), &d), PS_OK, "%s",
	             ps_diag_msg(&d));
	cr_expect_str_eq(cont, "");
	free(body);
}

Test(kube, a_pod_list_maps_to_engine_pods)
{
	struct kube_pod_list l;
	load_pods(&l);
	cr_assert_eq(l.n_pods, 6);
	cr_expect_str_eq(l.resource_version, "4242");
	const struct eng_pod *p = l.pods;

	/* web-1: ready; its sidecar counts, the plain init container does not. */
	cr_expect_str_eq(p[0].name, "web-1");
	cr_expect_eq(p[0].phase, ENG_PHASE_RUNNING);
	cr_expect(!p[0].deleted);
	cr_expect(p[0].has_ready_condition);
	cr_expect(p[0].ready);
	cr_expect_eq(p[0].ready_transition_ms, T2026 + 30000);
	cr_expect(p[0].has_start_time);
	cr_expect_eq(p[0].start_time_ms, T2026);
	cr_assert_eq(p[0].n_containers, 2);
	cr_expect_str_eq(p[0].containers[0].name, "app");
	cr_expect_str_eq(p[0].containers[1].name, "proxy");
	cr_assert_eq(p[0].containers[0].n_requests, 2);
	cr_expect_eq(find_req(&p[0].containers[0], "cpu")->milli, 250);
	cr_expect_eq(find_req(&p[0].containers[0], "memory")->milli, INT64_C(64) * 1048576 * 1000);
	cr_expect_eq(find_req(&p[0].containers[1], "cpu")->milli, 100);
	cr_expect_eq(find_req(&p[0].containers[1], "memory")->milli, INT64_C(32) * 1048576 * 1000);
	cr_expect_eq(p[0].n_pod_requests, 0);

	/* web-2: running but unready; one container without requests. */
	cr_expect_str_eq(p[1].name, "web-2");
	cr_expect(p[1].has_ready_condition);
	cr_expect(!p[1].ready);
	cr_expect_eq(p[1].ready_transition_ms, T2026 + 65000);
	cr_expect_eq(p[1].start_time_ms, T2026 + 60250);
	cr_assert_eq(p[1].n_containers, 2);
	cr_expect_eq(find_req(&p[1].containers[0], "cpu")->milli, 500);
	cr_expect_eq(p[1].containers[1].n_requests, 0);

	/* web-3: pending, no Ready condition, no start time, no resources at all. */
	cr_expect_eq(p[2].phase, ENG_PHASE_PENDING);
	cr_expect(!p[2].has_ready_condition);
	cr_expect(!p[2].has_start_time);
	cr_assert_eq(p[2].n_containers, 1);
	cr_expect_eq(p[2].containers[0].n_requests, 0);

	/* web-4: being deleted. */
	cr_expect(p[3].deleted);
	cr_expect(p[3].ready);

	/* web-5: failed. */
	cr_expect_eq(p[4].phase, ENG_PHASE_FAILED);

	/* web-6: pod-level requests, a sidecar without requests, phase Unknown, a Ready condition
	 * of status Unknown without a transition time (Go's zero time). */
	cr_expect_eq(p[5].phase, ENG_PHASE_UNKNOWN);
	cr_expect(p[5].has_ready_condition);
	cr_expect(!p[5].ready);
	cr_expect_eq(p[5].ready_transition_ms, KUBE_GO_ZERO_TIME_MS);
	cr_assert_eq(p[5].n_containers, 2);
	cr_expect_str_eq(p[5].containers[1].name, "sidecar");
	cr_assert_eq(p[5].n_pod_requests, 2);
	const struct eng_container pod_level = {"", p[5].n_pod_requests, p[5].pod_requests};
	cr_expect_eq(find_req(&pod_level, "cpu")->milli, 1000);
	cr_expect_eq(find_req(&pod_level, "memory")->milli, INT64_C(1073741824000));
	kube_pod_list_release(&l);
	cr_expect_eq(l.n_pods, 0);
	cr_expect_null(l.pods);
}

Test(kube, pages_append_and_earlier_pods_stay_valid)
{
	size_t len;
	char *body = read_file(DATA "pods_list.json", &len);
	struct kube_pod_list l;
	memset(&l, 0, sizeof(l));
	/* 6 pods a page: the array grows past its first 16 slots on the third page. */
	for (int page = 0; page < 4; page++)
		cr_assert_eq(kube_pod_list_parse(body, len, &l, NULL, 0, NULL), PS_OK);
	cr_assert_eq(l.n_pods, 24);
	for (size_t i = 0; i < 24; i++) {
		char want[8];
		snprintf(want, sizeof(want), "web-%zu", i % 6 + 1);
		cr_expect_str_eq(l.pods[i].name, want);
	}
	cr_expect_eq(find_req(&l.pods[18].containers[0], "cpu")->milli, 250);
	const char *page = "{\"kind\":\"PodList\",\"metadata\":{\"resourceVersion\":\"9\","
	                   "\"continue\":\"eyJ2IjoibWV0YS5rOHMuaW8vdjEifQ\"},\"items\":[]}";
	char cont[64];
	cr_assert_eq(kube_pod_list_parse(page, strlen(page), &l, cont, sizeof(cont), NULL), PS_OK);
	cr_expect_str_eq(cont, "eyJ2IjoibWV0YS5rOHMuaW8vdjEifQ");
	cr_expect_str_eq(l.resource_version, "4242", "the first page's version stays");
	cr_expect_eq(l.n_pods, 24);
	kube_pod_list_release(&l);
	free(body);
}

Test(kube, bad_pod_lists_name_the_item_and_field)
{
	const struct {
		const char *json;
		enum ps_err err;
		const char *msg;
	} t[] = {
	    {"{\"items\":[{\"spec\":{\"containers\":[{\"name\":\"a\",\"resources\":{\"requests\":"
	     "{\"cpu\":\"lots\"}}}]}}]}",
	     PS_EPARSE, "PodList: items[0].spec.containers[0].resources.requests.cpu: "},
	    {"{\"items\":[{},{\"status\":{\"startTime\":\"yesterday\"}}]}", PS_EPARSE,
	     "PodList: items[1].status.startTime: "},
	    {"{\"items\":[{\"metadata\":{\"name\":5}}]}", PS_EPARSE,
	     "PodList: items[0].metadata.name: expected a string"},
	    {"{\"items\":[{\"spec\":{\"initContainers\":{}}}]}", PS_EPARSE,
	     "PodList: items[0].spec.initContainers: expected an array"},
	    {"{\"items\":[{\"status\":{\"conditions\":[{\"type\":\"Ready\",\"status\":\"True\","
	     "\"lastTransitionTime\":\"2026-13-01T00:00:00Z\"}]}}]}",
	     PS_EPARSE, "PodList: items[0].status.conditions[0].lastTransitionTime: "},
	    {"{\"kind\":\"DeploymentList\",\"items\":[]}", PS_EPARSE,
	     "PodList: kind: expected \"PodList\", got \"DeploymentList\""},
	    {"{\"items\":{}}", PS_EPARSE, "PodList: items: expected an array"},
	    {"nope", PS_EPARSE, "PodList: invalid JSON at byte 0 near \"nope\""},
	    {"{\"items\":[{\"spec\":{\"containers\":[{\"resources\":{\"requests\":"
	     "{\"memory\":\"99999999999Ei\"}}}]}}]}",
	     PS_ERANGE, "PodList: items[0].spec.containers[0].resources.requests.memory: "},
	};
	for (size_t i = 0; i < PS_ARRAY_LEN(t); i++) {
		struct kube_pod_list l;
		memset(&l, 0, sizeof(l));
		struct ps_diag d;
		ps_diag_clear(&d);
		cr_expect_eq(kube_pod_list_parse(t[i].json, strlen(t[i].json), &l, NULL, 0, &d),
		             t[i].err, "%zu: %s", i, d.msg);
		cr_expect_eq(strncmp(d.msg, t[i].msg, strlen(t[i].msg)), 0, "%zu: %s", i, d.msg);
		cr_expect_eq(l.n_pods, 0);
		kube_pod_list_release(&l);
	}
}

/* ---- Leases ---- */

Test(kube, the_lease_fixture_decodes_with_microtime)
{
	size_t len;
	char *body = read_fixture("lease_get_response.json", &len);
	struct kube_lease l;
	struct ps_diag d;
	ps_diag_clear(&d);
	cr_assert_eq(kube_lease_parse(body, len, &l, &d), PS_OK, "%s", ps_diag_msg(&d));
	cr_expect_str_eq(l.name, "c-autoscaler-leader");
	cr_expect_str_eq(l.namespace, "autoscaler");
	cr_expect_str_eq(l.resource_version, "777");
	cr_expect_str_eq(l.uid, "3f1c2b9e-0000-4000-8000-000000000002");
	cr_expect_str_eq(l.holder, "autoscaler-7d9f-xk2p_4f0c");
	cr_expect_eq(l.duration_s, 15);
	cr_expect(l.has_acquire_time);
	cr_expect_eq(l.acquire_ms, T2026);
	cr_expect(l.has_renew_time);
	cr_expect_eq(l.renew_ms, T2026 + 8123, "8.123456 s read to the millisecond");
	cr_expect_eq(l.transitions, 0);
	free(body);
}

/* The Lease of a fixture, as a caller would fill it. */
static struct kube_lease fixture_lease(const char *holder, int32_t duration, int64_t acquire,
                                       int64_t renew, int32_t transitions, const char *rv)
{
	struct kube_lease l;
	memset(&l, 0, sizeof(l));
	strcpy(l.namespace, "autoscaler");
	strcpy(l.name, "c-autoscaler-leader");
	strcpy(l.holder, holder);
	strcpy(l.resource_version, rv);
	l.duration_s = duration;
	l.has_acquire_time = true;
	l.acquire_ms = acquire;
	l.has_renew_time = true;
	l.renew_ms = renew;
	l.transitions = transitions;
	return l;
}

Test(kube, lease_bodies_have_the_shape_of_the_fixtures)
{
	const struct {
		const char *file;
		struct kube_lease l;
		bool update;
	} t[] = {
	    {"lease_create_body.json",
	     fixture_lease("autoscaler-7d9f-xk2p_4f0c", 15, T2026, T2026, 0, "ignored on create"),
	     false},
	    {"lease_update_renew_body.json",
	     fixture_lease("autoscaler-7d9f-xk2p_4f0c", 15, T2026, T2026 + 10000, 0, "777"), true},
	    {"lease_update_takeover_body.json",
	     fixture_lease("autoscaler-5b8c-zz91_a1b2", 15, T2026 + 60000, T2026 + 60000, 1, "790"),
	     true},
	    {"lease_release_body.json",
	     fixture_lease("", 1, T2026 + 120000, T2026 + 120000, 1, "801"), true},
	};
	for (size_t i = 0; i < PS_ARRAY_LEN(t); i++) {
		struct ps_buf b;
		ps_buf_init(&b, 4096);
		cr_assert_eq(kube_lease_body(&b, &t[i].l, t[i].update), PS_OK);
		char *want = read_fixture(t[i].file, NULL);
		assert_same_json(ps_buf_cstr(&b), want, t[i].file);
		free(want);
		ps_buf_release(&b);
	}
}

Test(kube, microtime_has_six_fraction_digits)
{
	char buf[32];
	cr_expect_str_eq(kube_format_microtime(T2026 + 8123, buf, sizeof(buf)),
	                 "2026-01-01T00:00:08.123000Z");
	cr_expect_str_eq(kube_format_microtime(T2026, buf, sizeof(buf)),
	                 "2026-01-01T00:00:00.000000Z");
}

Test(kube, bad_leases_name_the_field)
{
	const char *j = "{\"spec\":{\"leaseDurationSeconds\":-1}}";
	struct kube_lease l;
	struct ps_diag d;
	ps_diag_clear(&d);
	cr_expect_eq(kube_lease_parse(j, strlen(j), &l, &d), PS_EPARSE);
	cr_expect_str_eq(
	    d.msg, "Lease: spec.leaseDurationSeconds: expected an integer in [0, 2147483647]");
	j = "{\"spec\":{\"renewTime\":\"soon\"}}";
	cr_expect_eq(kube_lease_parse(j, strlen(j), &l, &d), PS_EPARSE);
	cr_expect(strstr(d.msg, "Lease: spec.renewTime: ") == d.msg, "%s", d.msg);
	char big[700];
	int n = snprintf(big, sizeof(big), "{\"spec\":{\"holderIdentity\":\"%0600d\"}}", 0);
	cr_expect_eq(kube_lease_parse(big, (size_t)n, &l, &d), PS_ERANGE);
	cr_expect_str_eq(d.msg, "Lease: spec.holderIdentity: longer than 511 bytes");
}

/* ---- Events ---- */

Test(kube, event_bodies_have_the_shape_of_the_fixture)
{
	struct kube_ref r;
	cr_assert_eq(kube_ref_from_kind(&r, "apps/v1", "Deployment", "default", "web", NULL),
	             PS_OK);
	struct kube_event ev = {
	    .regarding = &r,
	    .regarding_uid = "3f1c2b9e-0000-4000-8000-000000000001",
	    .type = "Normal",
	    .reason = "ScaledUp",
	    .action = "Scale",
	    .note = "Scaled deployment default/web from 3 to 5 replicas",
	    .reporting_instance = "autoscaler-7d9f-xk2p",
	    .event_time_ms = T2026,
	};
	struct ps_buf b;
	ps_buf_init(&b, 8192);
	struct ps_diag d;
	ps_diag_clear(&d);
	cr_assert_eq(kube_event_body(&b, &ev, "web.18a1b2c3d4e5f609", &d), PS_OK, "%s", d.msg);
	char *want = read_fixture("event_events_k8s_io_v1_create_body.json", NULL);
	/* The fixture was written for another controller: only its name differs. */
	cJSON *w = cJSON_Parse(want);
	cr_assert_not_null(w);
	cJSON_ReplaceItemInObject(w, "reportingController",
	                          cJSON_CreateString(KUBE_REPORTING_CONTROLLER));
	char *wp = cJSON_PrintUnformatted(w);
	assert_same_json(ps_buf_cstr(&b), wp, "event");
	free(wp);
	cJSON_Delete(w);
	free(want);
	ps_buf_release(&b);
}

Test(kube, event_names_are_unique_suffixes_within_the_name_limit)
{
	char buf[KUBE_NAME_MAX + 1];
	cr_expect_str_eq(kube_event_name(buf, sizeof(buf), "web", UINT64_C(0x18a1b2c3d4e5f609)),
	                 "web.18a1b2c3d4e5f609");
	cr_expect_str_eq(kube_event_name(buf, sizeof(buf), "web", 1), "web.0000000000000001");
	/* 253 characters of object: cut to 236, and a '-' left at the cut is dropped too. */
	char obj[KUBE_NAME_MAX + 1];
	memset(obj, 'a', KUBE_NAME_MAX);
	obj[KUBE_NAME_MAX] = '\0';
	obj[235] = '-';
	kube_event_name(buf, sizeof(buf), obj, 0xabc);
	cr_expect_eq(strlen(buf), 235 + 17);
	cr_expect(kube_is_dns1123_subdomain(buf), "%s", buf);
	obj[235] = 'a';
	kube_event_name(buf, sizeof(buf), obj, 0xabc);
	cr_expect_eq(strlen(buf), KUBE_NAME_MAX);
	cr_expect(kube_is_dns1123_subdomain(buf));
}

Test(kube, bad_events_are_refused_before_sending)
{
	struct kube_ref r;
	cr_assert_eq(kube_ref_from_kind(&r, "apps/v1", "Deployment", "default", "web", NULL),
	             PS_OK);
	struct kube_event ev = {
	    .regarding = &r, .type = "Normal", .reason = "ScaledUp", .action = "Scale"};
	struct ps_buf b;
	ps_buf_init(&b, 8192);
	struct ps_diag d;
	ps_diag_clear(&d);
	ev.type = "Info";
	cr_expect_eq(kube_event_body(&b, &ev, "web.1", &d), PS_EINVAL);
	cr_expect_str_eq(d.msg, "Event: type \"Info\" is neither Normal nor Warning");
	ev.type = "Warning";
	ev.reason = "";
	cr_expect_eq(kube_event_body(&b, &ev, "web.1", &d), PS_EINVAL);
	cr_expect_str_eq(d.msg, "Event: reason must not be empty");
	char long_action[200];
	memset(long_action, 'A', 199);
	long_action[199] = '\0';
	ev.reason = "ScaledUp";
	ev.action = long_action;
	cr_expect_eq(kube_event_body(&b, &ev, "web.1", &d), PS_EINVAL);
	cr_expect_str_eq(d.msg, "Event: action is 199 bytes, more than 128");
	ev.action = "Scale";
	cr_expect_eq(kube_event_body(&b, &ev, "Web.1", &d), PS_EINVAL);
	cr_expect(strstr(d.msg, "invalid Event name \"Web.1\"") == d.msg, "%s", d.msg);
	cr_expect_eq(b.len, 0, "nothing written");
	ps_buf_release(&b);
}

Test(kube, a_long_note_is_cut_at_a_character_boundary)
{
	struct kube_ref r;
	cr_assert_eq(kube_ref_from_kind(&r, "apps/v1", "Deployment", "default", "web", NULL),
	             PS_OK);
	/* 1023 ASCII bytes, then a 2-byte character that would end at byte 1025. */
	char note[1100];
	memset(note, 'n', 1023);
	strcpy(note + 1023, "\xc3\xa9tail");
	struct kube_event ev = {.regarding = &r,
	                        .type = "Normal",
	                        .reason = "ScaledUp",
	                        .action = "Scale",
	                        .note = note,
	                        .event_time_ms = T2026};
	struct ps_buf b;
	ps_buf_init(&b, 8192);
	cr_assert_eq(kube_event_body(&b, &ev, "web.1", NULL), PS_OK);
	cJSON *j = cJSON_Parse(ps_buf_cstr(&b));
	cr_assert_not_null(j);
	const cJSON *n = cJSON_GetObjectItem(j, "note");
	cr_assert(cJSON_IsString(n));
	cr_expect_eq(strlen(n->valuestring), 1023);
	cr_expect_str_eq(cJSON_GetObjectItem(j, "reportingInstance")->valuestring, "prescale");
	cJSON_Delete(j);
	ps_buf_release(&b);
}

/* ---- rate limit ---- */

Test(kube, the_limiter_gives_a_burst_then_qps_on_a_virtual_clock)
{
	struct ps_clock clk;
	ps_clock_virtual_init(&clk, T2026);
	struct kube_limiter *l;
	cr_assert_eq(kube_limiter_new(KUBE_DEFAULT_QPS, KUBE_DEFAULT_BURST, &clk, &l, NULL), PS_OK);
	int64_t w = -1;
	for (int i = 0; i < 30; i++) {
		cr_assert_eq(kube_limiter_reserve(l, 0, &w), PS_OK, "burst token %d", i);
		cr_assert_eq(w, 0);
	}
	/* Empty: the next token comes in 1/20 s; a caller that will not wait is refused and
	 * takes nothing. */
	cr_expect_eq(kube_limiter_reserve(l, 0, &w), PS_ETHROTTLED);
	cr_expect_eq(w, 50);
	cr_expect_eq(kube_limiter_reserve(l, 49, &w), PS_ETHROTTLED);
	/* Callers that wait queue behind each other: 50, 100, 150 ms. */
	cr_expect_eq(kube_limiter_reserve(l, 1000, &w), PS_OK);
	cr_expect_eq(w, 50);
	cr_expect_eq(kube_limiter_reserve(l, 1000, &w), PS_OK);
	cr_expect_eq(w, 100);
	cr_expect_eq(kube_limiter_reserve(l, 120, &w), PS_ETHROTTLED);
	cr_expect_eq(w, 150);
	cr_expect_eq(kube_limiter_refused(l), 3);
	cr_expect_eq(kube_limiter_delayed(l), 2);
	/* One second later: 20 new tokens, 2 of them already promised. */
	ps_clock_virtual_advance(&clk, 1000);
	for (int i = 0; i < 18; i++) {
		cr_assert_eq(kube_limiter_reserve(l, 0, &w), PS_OK, "refill token %d", i);
		cr_assert_eq(w, 0);
	}
	cr_expect_eq(kube_limiter_reserve(l, 0, &w), PS_ETHROTTLED);
	/* A long idle time refills to the burst and no further. */
	ps_clock_virtual_advance(&clk, 3600 * 1000);
	int granted = 0;
	while (kube_limiter_reserve(l, 0, &w) == PS_OK)
		granted++;
	cr_expect_eq(granted, 30);
	kube_limiter_free(l);
}

Test(kube, the_limiter_handles_a_fractional_rate)
{
	struct ps_clock clk;
	ps_clock_virtual_init(&clk, T2026);
	struct kube_limiter *l;
	cr_assert_eq(kube_limiter_new(3, 1, &clk, &l, NULL), PS_OK);
	int64_t w;
	cr_expect_eq(kube_limiter_reserve(l, 0, &w), PS_OK);
	cr_expect_eq(kube_limiter_reserve(l, 10000, &w), PS_OK);
	cr_expect_eq(w, 334, "1/3 s rounded up: %lld", (long long)w);
	ps_clock_virtual_advance(&clk, 334);
	cr_expect_eq(kube_limiter_reserve(l, 10000, &w), PS_OK);
	cr_expect_eq(w, 333, "%lld", (long long)w); /* 2/3 - 334*3/1000 tokens short */
	kube_limiter_free(l);
}

Test(kube, the_limiter_refuses_nonsense_settings)
{
	struct kube_limiter *l;
	struct ps_diag d;
	ps_diag_clear(&d);
	cr_expect_eq(kube_limiter_new(0, 30, NULL, &l, &d), PS_EINVAL);
	cr_expect_str_eq(d.msg, "rate limit: qps 0 is not in (0, 1e6]");
	cr_expect_null(l);
	cr_expect_eq(kube_limiter_new(20, 0, NULL, &l, &d), PS_EINVAL);
	cr_expect_str_eq(d.msg, "rate limit: burst 0 is below 1");
}

struct hammer {
	struct kube_limiter *l;
	int granted;
};

static void *hammer_run(void *arg)
{
	struct hammer *h = arg;
	int64_t w;
	for (int i = 0; i < 1000; i++)
		if (kube_limiter_reserve(h->l, 0, &w) == PS_OK)
			h->granted++;
	return NULL;
}

Test(kube, the_limiter_is_shared_safely_between_threads)
{
	struct ps_clock clk;
	ps_clock_virtual_init(&clk, T2026);
	struct kube_limiter *l;
	cr_assert_eq(kube_limiter_new(20, 30, &clk, &l, NULL), PS_OK);
	struct hammer h[4];
	pthread_t t[4];
	for (int i = 0; i < 4; i++) {
		h[i] = (struct hammer){l, 0};
		cr_assert_eq(pthread_create(&t[i], NULL, hammer_run, &h[i]), 0);
	}
	int total = 0;
	for (int i = 0; i < 4; i++) {
		pthread_join(t[i], NULL);
		total += h[i].granted;
	}
	cr_expect_eq(total, 30, "exactly the burst on a stopped clock: %d", total);
	kube_limiter_free(l);
}

/* ---- backoff ---- */

Test(kube, full_jitter_stays_within_the_exponential_ceiling)
{
	uint64_t rng = 42;
	const int64_t base = KUBE_DEFAULT_BACKOFF_BASE_MS, cap = KUBE_DEFAULT_BACKOFF_CAP_MS;
	/* Ceilings by hand: 200, 400, 800, 1600, 3200, then the 5000 cap. */
	const int64_t ceil_ms[] = {200, 400, 800, 1600, 3200, 5000, 5000, 5000};
	for (int retry = 1; retry <= 8; retry++) {
		int64_t lo = INT64_MAX, hi = -1;
		for (int i = 0; i < 4000; i++) {
			int64_t d = kube_backoff_delay_ms(base, cap, retry, -1, &rng);
			cr_assert(d >= 0 && d <= ceil_ms[retry - 1], "retry %d: %lld", retry,
			          (long long)d);
			lo = d < lo ? d : lo;
			hi = d > hi ? d : hi;
		}
		/* Uniform over the whole range: both ends are reached closely. */
		cr_expect_lt(lo, ceil_ms[retry - 1] / 50 + 1, "retry %d: min %lld", retry,
		             (long long)lo);
		cr_expect_gt(hi, ceil_ms[retry - 1] * 49 / 50, "retry %d: max %lld", retry,
		             (long long)hi);
	}
	/* Huge retry numbers do not overflow. */
	cr_expect_leq(kube_backoff_delay_ms(base, cap, 1000, -1, &rng), cap);
}

Test(kube, retry_after_takes_precedence_over_the_backoff)
{
	uint64_t rng = 7;
	cr_expect_eq(kube_backoff_delay_ms(200, 5000, 1, 1000, &rng), 1000);
	cr_expect_eq(kube_backoff_delay_ms(200, 5000, 1, 0, &rng), 0);
	cr_expect_eq(kube_backoff_delay_ms(200, 5000, 3, 12000, &rng), 12000, "not capped");
}

Test(kube, the_jitter_sequence_depends_only_on_the_seed)
{
	uint64_t a = 99, b = 99, c = 100;
	bool differs = false;
	for (int i = 0; i < 10; i++) {
		int64_t x = kube_backoff_delay_ms(200, 5000, 5, -1, &a);
		cr_expect_eq(x, kube_backoff_delay_ms(200, 5000, 5, -1, &b));
		differs |= x != kube_backoff_delay_ms(200, 5000, 5, -1, &c);
	}
	cr_expect(differs);
}

/* ---- allocation failures ---- */

typedef enum ps_err (*parse_fn)(const char *text, size_t len);

static enum ps_err parse_status(const char *t, size_t n)
{
	struct kube_status st;
	return kube_status_parse(t, n, &st, NULL);
}

static enum ps_err parse_scale(const char *t, size_t n)
{
	struct kube_scale s;
	enum ps_err err = kube_scale_parse(t, n, &s, NULL);
	if (!err)
		kube_scale_release(&s);
	return err;
}

static enum ps_err parse_lease(const char *t, size_t n)
{
	struct kube_lease l;
	return kube_lease_parse(t, n, &l, NULL);
}

static enum ps_err parse_pods(const char *t, size_t n)
{
	struct kube_pod_list l;
	memset(&l, 0, sizeof(l));
	/* Twice: the second page grows what the first allocated. */
	enum ps_err err = kube_pod_list_parse(t, n, &l, NULL, 0, NULL);
	if (!err)
		err = kube_pod_list_parse(t, n, &l, NULL, 0, NULL);
	kube_pod_list_release(&l);
	return err;
}

static enum ps_err build_lease(const char *t, size_t n)
{
	(void)t;
	(void)n;
	struct kube_lease l = fixture_lease("me", 15, T2026, T2026, 0, "1");
	struct ps_buf b;
	ps_buf_init(&b, 4096);
	enum ps_err err = kube_lease_body(&b, &l, true);
	ps_buf_release(&b);
	return err;
}

static enum ps_err build_event(const char *t, size_t n)
{
	(void)t;
	(void)n;
	struct kube_ref r;
	enum ps_err err = kube_ref_from_kind(&r, "apps/v1", "Deployment", "default", "web", NULL);
	if (err)
		return err;
	struct kube_event ev = {.regarding = &r,
	                        .type = "Normal",
	                        .reason = "ScaledUp",
	                        .action = "Scale",
	                        .note = "n",
	                        .event_time_ms = T2026};
	struct ps_buf b;
	ps_buf_init(&b, 4096);
	err = kube_event_body(&b, &ev, "web.1", NULL);
	ps_buf_release(&b);
	return err;
}

static enum ps_err status_error(const char *t, size_t n)
{
	struct ps_diag d;
	enum ps_err err = kube_status_error("GET", "https://h/x", 403, t, n, NULL, &d);
	/* Whatever memory does, the code is the status' and the status line is there. */
	cr_assert_eq(err, PS_EFORBIDDEN);
	cr_assert(strstr(d.msg, "GET https://h/x: 403 Forbidden") == d.msg, "%s", d.msg);
	return PS_OK;
}

Test(kube, every_parser_survives_each_allocation_failing)
{
	const struct {
		const char *what;
		parse_fn fn;
		const char *file; /* under FIXTURES, or DATA when it starts with '/' */
	} t[] = {
	    {"status", parse_status, "status_422_invalid.json"},
	    {"status error", status_error, "status_403_forbidden.json"},
	    {"scale", parse_scale, "scale_get_response_deployment.json"},
	    {"lease", parse_lease, "lease_get_response.json"},
	    {"pods", parse_pods, "/pods_list.json"},
	    {"lease body", build_lease, "lease_get_response.json"},
	    {"event body", build_event, "lease_get_response.json"},
	};
	for (size_t i = 0; i < PS_ARRAY_LEN(t); i++) {
		size_t len;
		char path[512];
		if (t[i].file[0] == '/')
			snprintf(path, sizeof(path), DATA "%s", t[i].file + 1);
		else
			snprintf(path, sizeof(path), FIXTURES "%s", t[i].file);
		char *text = read_file(path, &len);
		cr_assert_eq(t[i].fn(text, len), PS_OK, "%s without failures", t[i].what);
		int failures = 0;
		for (uint64_t n = 1; n < 10000; n++) {
			ps_alloc_fail_at(n);
			enum ps_err err = t[i].fn(text, len);
			bool injected = ps_alloc_injected();
			ps_alloc_fail_at(0);
			if (!injected) {
				cr_expect_eq(err, PS_OK, "%s: %s", t[i].what, ps_err_name(err));
				break;
			}
			failures++;
			cr_expect(err == PS_ENOMEM || err == PS_OK, "%s, allocation %llu: %s",
			          t[i].what, (unsigned long long)n, ps_err_name(err));
			if (t[i].fn != status_error && t[i].fn != parse_status)
				cr_expect_eq(err, PS_ENOMEM, "%s, allocation %llu", t[i].what,
				             (unsigned long long)n);
		}
		cr_expect_gt(failures, 0, "%s allocates", t[i].what);
		free(text);
	}
}

/* ---- the client, with nothing listening ---- */

static char tmp[256];

static int dead_port(void)
{
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	socklen_t alen = sizeof(a);
	int port = -1;
	if (bind(fd, (struct sockaddr *)&a, sizeof(a)) == 0 &&
	    getsockname(fd, (struct sockaddr *)&a, &alen) == 0)
		port = ntohs(a.sin_port);
	close(fd);
	return port;
}

/* A kubeconfig for a server on 127.0.0.1 where nothing listens. */
static struct kcfg *dead_cfg(void)
{
	const char *base = getenv("TMPDIR");
	snprintf(tmp, sizeof(tmp), "%s/ps_kube_test.XXXXXX", base && *base ? base : "/tmp");
	cr_assert_not_null(mkdtemp(tmp));
	char path[300];
	snprintf(path, sizeof(path), "%s/config", tmp);
	FILE *f = fopen(path, "w");
	cr_assert_not_null(f);
	fprintf(f,
	        "apiVersion: v1\nkind: Config\ncurrent-context: c\n"
	        "clusters:\n- name: k\n  cluster:\n    server: https://127.0.0.1:%d\n"
	        "    insecure-skip-tls-verify: true\n"
	        "users:\n- name: u\n  user:\n    token: unit-test-token\n"
	        "contexts:\n- name: c\n  context: {cluster: k, user: u, namespace: shop}\n",
	        dead_port());
	fclose(f);
	struct kcfg *cfg = NULL;
	struct ps_diag d;
	ps_diag_clear(&d);
	cr_assert_eq(kcfg_load_kubeconfig(path, NULL, &cfg, &d), PS_OK, "%s", d.msg);
	unlink(path);
	rmdir(tmp);
	return cfg;
}

static int64_t now_ms(void)
{
	return ps_clock_mono_ms(ps_clock_real());
}

Test(kube, bad_names_are_refused_before_anything_is_sent)
{
	cr_assert_eq(http_global_init(NULL), PS_OK);
	struct kcfg *cfg = dead_cfg();
	struct kube_client *c;
	cr_assert_eq(kube_client_new(cfg, NULL, &c, NULL), PS_OK);
	struct kube_ref r;
	memset(&r, 0, sizeof(r));
	strcpy(r.group, "apps");
	strcpy(r.version, "v1");
	strcpy(r.resource, "deployments");
	strcpy(r.namespace, "shop");
	strcpy(r.name, "Web");
	struct kube_scale s;
	struct ps_diag d;
	ps_diag_clear(&d);
	cr_expect_eq(kube_scale_get(c, &r, &s, &d), PS_EINVAL);
	cr_expect(strstr(d.msg, "invalid name \"Web\"") == d.msg, "%s", d.msg);
	strcpy(r.name, "web");
	cr_expect_eq(kube_scale_patch(c, &r, -1, false, NULL, &d), PS_EINVAL);
	cr_expect_str_eq(d.msg, "scale of shop/web: replicas -1 is negative");
	struct kube_pod_list pl;
	cr_expect_eq(kube_pods_list(c, "Shop", "app=web", &pl, &d), PS_EINVAL);
	kube_pod_list_release(&pl);
	struct kube_lease l;
	cr_expect_eq(kube_lease_get(c, "shop", "under_score", &l, &d), PS_EINVAL);
	cr_expect(strstr(d.msg, "invalid Lease name \"under_score\"") == d.msg, "%s", d.msg);
	memset(&l, 0, sizeof(l));
	strcpy(l.namespace, "shop");
	strcpy(l.name, "leader");
	cr_expect_eq(kube_lease_update(c, &l, NULL, &d), PS_EINVAL);
	cr_expect_str_eq(d.msg, "Lease shop/leader: an update needs the resourceVersion last read");
	cr_expect_eq(kube_client_stats(c).requests, 0);
	kube_client_free(c);
	kcfg_free(cfg);
	http_global_cleanup();
}

Test(kube, a_refused_connection_is_retried_until_the_attempts_run_out)
{
	cr_assert_eq(http_global_init(NULL), PS_OK);
	struct kcfg *cfg = dead_cfg();
	struct kube_client *c;
	struct kube_client_opts o = {
	    .max_attempts = 3, .backoff_base_ms = 10, .backoff_cap_ms = 20, .seed = 1};
	cr_assert_eq(kube_client_new(cfg, &o, &c, NULL), PS_OK);
	struct kube_ref r;
	cr_assert_eq(kube_ref_from_kind(&r, "apps/v1", "Deployment", "shop", "web", NULL), PS_OK);
	struct kube_scale s;
	struct ps_diag d;
	ps_diag_clear(&d);
	cr_expect_eq(kube_scale_get(c, &r, &s, &d), PS_EUNAVAIL, "%s", d.msg);
	cr_expect(strstr(d.msg, "GET https://127.0.0.1:") == d.msg, "%s", d.msg);
	cr_expect(strstr(d.msg, "/apis/apps/v1/namespaces/shop/deployments/web/scale: ") != NULL,
	          "%s", d.msg);
	cr_expect(strstr(d.msg, "(gave up after 3 attempts)") != NULL, "%s", d.msg);
	cr_expect_eq(kube_client_stats(c).requests, 3);
	cr_expect_eq(kube_client_stats(c).retries, 2);
	cr_expect_null(strstr(d.msg, "unit-test-token"));
	kube_client_free(c);
	kcfg_free(cfg);
	http_global_cleanup();
}

Test(kube, the_rate_limit_refuses_without_sending_when_the_deadline_is_too_near)
{
	cr_assert_eq(http_global_init(NULL), PS_OK);
	struct kcfg *cfg = dead_cfg();
	struct kube_limiter *l;
	cr_assert_eq(kube_limiter_new(1, 1, NULL, &l, NULL), PS_OK);
	struct kube_client *c;
	struct kube_client_opts o = {.limiter = l, .max_attempts = 1, .timeout_ms = 300};
	cr_assert_eq(kube_client_new(cfg, &o, &c, NULL), PS_OK);
	struct kube_lease le;
	struct ps_diag d;
	ps_diag_clear(&d);
	cr_expect_eq(kube_lease_get(c, "shop", "leader", &le, &d), PS_EUNAVAIL, "%s", d.msg);
	int64_t t0 = now_ms();
	cr_expect_eq(kube_lease_get(c, "shop", "leader", &le, &d), PS_ETHROTTLED, "%s", d.msg);
	cr_expect_lt(now_ms() - t0, 100, "refused at once, not after waiting");
	cr_expect(strstr(d.msg, "client-side rate limit (qps 1, burst 1): no slot within") != NULL,
	          "%s", d.msg);
	cr_expect(strstr(d.msg, "not sent") != NULL, "%s", d.msg);
	cr_expect_eq(kube_client_stats(c).requests, 1);
	cr_expect_eq(kube_client_stats(c).throttled, 1);
	cr_expect_eq(kube_limiter_refused(l), 1);
	kube_client_free(c);
	kube_limiter_free(l);
	kcfg_free(cfg);
	http_global_cleanup();
}

struct firer {
	struct http_cancel *cancel;
	long delay_ms;
	int64_t fired_at;
};

static void *fire_later(void *arg)
{
	struct firer *f = arg;
	struct timespec ts = {f->delay_ms / 1000, (f->delay_ms % 1000) * 1000000L};
	nanosleep(&ts, NULL);
	f->fired_at = now_ms();
	http_cancel_fire(f->cancel);
	return NULL;
}

Test(kube, a_cancel_ends_the_wait_between_attempts)
{
	cr_assert_eq(http_global_init(NULL), PS_OK);
	struct kcfg *cfg = dead_cfg();
	struct http_cancel *cancel;
	cr_assert_eq(http_cancel_new(&cancel), PS_OK);
	struct kube_client *c;
	/* Waits of up to 5 s between attempts: the cancel comes during one of them. */
	struct kube_client_opts o = {.cancel = cancel,
	                             .backoff_base_ms = 5000,
	                             .backoff_cap_ms = 5000,
	                             .seed = 3,
	                             .timeout_ms = 60000};
	cr_assert_eq(kube_client_new(cfg, &o, &c, NULL), PS_OK);
	struct firer f = {cancel, 300, 0};
	pthread_t t;
	cr_assert_eq(pthread_create(&t, NULL, fire_later, &f), 0);
	struct kube_lease le;
	struct ps_diag d;
	ps_diag_clear(&d);
	int64_t t0 = now_ms();
	enum ps_err err = kube_lease_get(c, "shop", "leader", &le, &d);
	int64_t back = now_ms();
	pthread_join(t, NULL);
	cr_expect_eq(err, PS_ECANCELED, "%s: %s", ps_err_name(err), d.msg);
	cr_expect_lt(back - f.fired_at, 100, "returned %lld ms after the cancel",
	             (long long)(back - f.fired_at));
	cr_expect_lt(back - t0, 2000);
	cr_expect(strstr(d.msg, "canceled while waiting to retry") != NULL, "%s", d.msg);
	kube_client_free(c);
	http_cancel_free(cancel);
	kcfg_free(cfg);
	http_global_cleanup();
}
