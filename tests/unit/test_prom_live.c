/* test_prom_live.c -- the Prometheus client against a real Prometheus 2.42 on 127.0.0.1.
 *
 * DESIGN
 * Every test gets its own server (the suite's .init, in the test's own process), started by
 * the harness of tests/support/prom_server.h: this file writes known series over the last two
 * hours (timestamps relative to now, so the data sits inside Prometheus' retention and block
 * ranges); the expected values are the ones written. The harness guarantees that the server
 * never outlives the test and that every wait is bounded.
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "http.h"
#include "prom.h"
#include "prom_server.h"
#include "ps_alloc.h"
#include "ps_clock.h"

/* The data: samples every STEP_S seconds over WINDOW_S seconds, ending at or before now. */
#define STEP_S 15
#define WINDOW_S 7200
#define N_SAMPLES (WINDOW_S / STEP_S + 1)

static struct prom_server srv;
static int64_t t0_s; /* the first sample's time, Unix seconds */

/* The values written, so the tests can name them. web-1 moves in quarters (exact in binary),
 * web-2 in whole numbers; demo_mixed is NaN at odd samples. */
static double web1(int i)
{
	return 10.0 + i * 0.25;
}

static double web2(int i)
{
	return 1000.0 + i;
}

static double mixed(int i)
{
	return i % 2 ? NAN : i * 2.0;
}

static int64_t sample_ms(int i)
{
	return (t0_s + (int64_t)i * STEP_S) * 1000;
}

/* ---- the server ---- */

static void write_openmetrics(FILE *f, void *arg)
{
	(void)arg;
	fprintf(f,
	        "# HELP demo_requests Requests in flight per pod.\n# TYPE demo_requests gauge\n");
	for (int i = 0; i < N_SAMPLES; i++)
		fprintf(f, "demo_requests{pod=\"web-1\"} %.2f %lld\n", web1(i),
		        (long long)(sample_ms(i) / 1000));
	for (int i = 0; i < N_SAMPLES; i++)
		fprintf(f, "demo_requests{pod=\"web-2\"} %.0f %lld\n", web2(i),
		        (long long)(sample_ms(i) / 1000));
	fprintf(f, "# TYPE demo_nan gauge\n");
	for (int i = 0; i < N_SAMPLES; i++)
		fprintf(f, "demo_nan{pod=\"web-3\"} NaN %lld\n", (long long)(sample_ms(i) / 1000));
	fprintf(f, "# TYPE demo_mixed gauge\n");
	for (int i = 0; i < N_SAMPLES; i++) {
		if (i % 2)
			fprintf(f, "demo_mixed NaN %lld\n", (long long)(sample_ms(i) / 1000));
		else
			fprintf(f, "demo_mixed %.0f %lld\n", mixed(i),
			        (long long)(sample_ms(i) / 1000));
	}
}

static struct prom_client *tls_probe(const struct prom_server *s, void *arg);

/* Places the data in time, then starts prometheus with <web_config> (NULL: plain HTTP). */
static void server_start_with(const char *web_config)
{
	int64_t now_s = ps_clock_wall_ms(ps_clock_real()) / 1000;
	t0_s = now_s / STEP_S * STEP_S - WINDOW_S;
	prom_server_start(&srv, write_openmetrics, NULL, web_config, web_config ? tls_probe : NULL);
}

static void server_start(void)
{
	prom_server_init(&srv);
	server_start_with(NULL);
}

static void server_fini(void)
{
	prom_server_fini(&srv);
}

TestSuite(prom_live, .init = server_start, .fini = server_fini, .timeout = 120);

/* ---- helpers ---- */

static struct prom_client *client_for(const char *url)
{
	struct prom_config c;
	prom_config_init(&c);
	c.url = ps_strdup(url);
	c.timeout_ms = 10000;
	struct prom_client *cl = NULL;
	struct ps_diag d;
	cr_assert_eq(prom_client_new(&c, &cl, &d), PS_OK, "%s", ps_diag_msg(&d));
	return cl;
}

static void query_ok(struct prom_client *c, const struct prom_query *q, struct prom_result *r)
{
	struct ps_diag d;
	ps_diag_clear(&d);
	enum ps_err err = prom_client_query(c, q, NULL, r, &d);
	cr_assert_eq(err, PS_OK, "%s: %s: %s", q->promql, ps_err_name(err), ps_diag_msg(&d));
	cr_assert_eq(r->http_status, 200);
}

static struct prom_query instant_at(const char *promql, int i)
{
	return (struct prom_query){.promql = promql, .has_time = true, .time_ms = sample_ms(i)};
}

/* ---- the tests ---- */

Test(prom_live, answers_an_instant_per_pod_vector_with_the_values_written)
{
	struct prom_client *c = client_for(srv.url);
	struct prom_query q = instant_at("demo_requests", 200);
	struct prom_result r;
	query_ok(c, &q, &r);
	cr_assert_eq(r.type, PROM_RESULT_VECTOR);
	cr_assert_eq(r.n_series, 2);
	cr_assert_not(r.no_data);
	const struct prom_series *w1 = prom_result_find(&r, "web-1");
	const struct prom_series *w2 = prom_result_find(&r, "web-2");
	cr_assert_not_null(w1);
	cr_assert_not_null(w2);
	cr_assert_str_eq(prom_series_label(w1, "__name__"), "demo_requests");
	cr_assert_eq(w1->points[0].ts_ms, sample_ms(200));
	cr_assert_eq(w1->points[0].value, web1(200), "%g", w1->points[0].value);
	cr_assert_eq(w2->points[0].value, web2(200), "%g", w2->points[0].value);
	prom_result_release(&r);

	/* The same through a template, one pod: a single value. */
	struct prom_vars v = {.target = "web-2"};
	char *promql = NULL;
	cr_assert_eq(prom_template_expand("demo_requests{pod=\"{{.target}}\"}", &v, &promql, NULL),
	             PS_OK);
	q = instant_at(promql, N_SAMPLES - 1);
	query_ok(c, &q, &r);
	double value = 0;
	cr_assert_eq(prom_result_value(&r, &value, NULL), PS_OK);
	cr_assert_eq(value, web2(N_SAMPLES - 1));
	prom_result_release(&r);
	ps_free(promql);
	prom_client_free(c);
}

Test(prom_live, keys_series_by_another_label_when_told)
{
	struct prom_client *c = client_for(srv.url);
	struct prom_query q = instant_at("label_replace(demo_requests, \"instance\", \"i-$1\", "
	                                 "\"pod\", \"web-(.*)\")",
	                                 10);
	q.key_label = "instance";
	struct prom_result r;
	query_ok(c, &q, &r);
	const struct prom_series *s = prom_result_find(&r, "i-1");
	cr_assert_not_null(s);
	cr_assert_eq(s->points[0].value, web1(10));
	cr_assert_null(prom_result_find(&r, "web-1"));
	prom_result_release(&r);
	prom_client_free(c);
}

Test(prom_live, reports_nan_as_no_data)
{
	struct prom_client *c = client_for(srv.url);
	struct prom_query q = instant_at("demo_nan", 100);
	struct prom_result r;
	query_ok(c, &q, &r);
	cr_assert_eq(r.n_series, 1);
	cr_assert_str_eq(r.series[0].key, "web-3");
	cr_assert(r.series[0].points[0].no_data);
	cr_assert(isnan(r.series[0].points[0].value));
	cr_assert(r.no_data);
	double v = 0;
	struct ps_diag d;
	cr_assert_eq(prom_result_value(&r, &v, &d), PS_ENODATA);
	cr_assert_str_eq(ps_diag_msg(&d), "prometheus: no data: the value is NaN");
	prom_result_release(&r);
	prom_client_free(c);
}

Test(prom_live, reports_an_empty_result_as_no_data)
{
	struct prom_client *c = client_for(srv.url);
	struct prom_query q = instant_at("demo_requests{pod=\"no-such-pod\"}", 100);
	struct prom_result r;
	query_ok(c, &q, &r);
	cr_assert_eq(r.type, PROM_RESULT_VECTOR);
	cr_assert_eq(r.n_series, 0);
	cr_assert(r.no_data);
	double v = 0;
	cr_assert_eq(prom_result_value(&r, &v, NULL), PS_ENODATA);
	prom_result_release(&r);
	prom_client_free(c);
}

Test(prom_live, turns_a_promql_syntax_error_into_bad_data)
{
	struct prom_client *c = client_for(srv.url);
	struct prom_query q = {.promql = "sum("};
	struct prom_result r;
	struct ps_diag d;
	cr_assert_eq(prom_client_query(c, &q, NULL, &r, &d), PS_EPARSE, "%s", ps_diag_msg(&d));
	char want[512];
	snprintf(want, sizeof(want),
	         "prometheus: bad_data: invalid parameter \"query\": 1:5: parse error: unclosed "
	         "left parenthesis (HTTP 400 from GET %s/api/v1/query)",
	         srv.url);
	cr_assert_str_eq(ps_diag_msg(&d), want);
	cr_assert_not(ps_err_is_retryable(PS_EPARSE));
	cr_assert_null(r.mem);
	prom_client_free(c);
}

Test(prom_live, turns_a_server_side_query_timeout_into_a_retryable_error)
{
	struct prom_client *c = client_for(srv.url);
	/* A second-resolution subquery over two hours: tens of milliseconds of work, against a
	 * 1 ms `timeout` parameter (the transfer itself may take 10 s). */
	struct prom_query q = {.kind = PROM_QUERY_RANGE,
	                       .promql = "sum(rate(demo_requests[30m:1s]))",
	                       .start_ms = sample_ms(0),
	                       .end_ms = sample_ms(N_SAMPLES - 1),
	                       .step_ms = 1000,
	                       .timeout_ms = 10000,
	                       .server_timeout_ms = 1};
	struct prom_result r;
	struct ps_diag d;
	enum ps_err err = prom_client_query(c, &q, NULL, &r, &d);
	cr_assert_eq(err, PS_ETIMEDOUT, "%s: %s", ps_err_name(err), ps_diag_msg(&d));
	cr_assert(ps_err_is_retryable(err));
	cr_assert(strncmp(ps_diag_msg(&d), "prometheus: timeout: query timed out in ", 40) == 0,
	          "%s", ps_diag_msg(&d));
	char tail[256];
	snprintf(tail, sizeof(tail), " (HTTP 503 from GET %s/api/v1/query_range)", srv.url);
	const char *m = ps_diag_msg(&d);
	cr_assert_str_eq(m + strlen(m) - strlen(tail), tail);
	/* Without the 1 ms limit the same query answers. */
	q.server_timeout_ms = 0;
	query_ok(c, &q, &r);
	cr_assert_eq(r.type, PROM_RESULT_MATRIX);
	prom_result_release(&r);
	prom_client_free(c);
}

Test(prom_live, returns_range_matrices_with_the_points_written)
{
	struct prom_client *c = client_for(srv.url);
	struct prom_query q = {.kind = PROM_QUERY_RANGE,
	                       .promql = "demo_requests{pod=\"web-1\"}",
	                       .start_ms = sample_ms(40),
	                       .end_ms = sample_ms(80),
	                       .step_ms = 60000};
	struct prom_result r;
	query_ok(c, &q, &r);
	cr_assert_eq(r.type, PROM_RESULT_MATRIX);
	cr_assert_eq(r.n_series, 1);
	const struct prom_series *s = &r.series[0];
	cr_assert_str_eq(s->key, "web-1");
	cr_assert_eq(s->n_points, 11); /* 10 minutes at 1 minute, both ends */
	for (size_t k = 0; k < s->n_points; k++) {
		int i = 40 + 4 * (int)k; /* 60 s is 4 samples */
		cr_assert_eq(s->points[k].ts_ms, sample_ms(i));
		cr_assert_eq(s->points[k].value, web1(i), "point %zu: %g", k, s->points[k].value);
	}
	prom_result_release(&r);

	/* NaN samples come back as no-data points in place, never as 0. */
	q.promql = "demo_mixed";
	q.start_ms = sample_ms(100);
	q.end_ms = sample_ms(110);
	q.step_ms = STEP_S * 1000;
	query_ok(c, &q, &r);
	s = &r.series[0];
	cr_assert_eq(s->n_points, 11);
	for (size_t k = 0; k < s->n_points; k++) {
		int i = 100 + (int)k;
		cr_assert_eq(s->points[k].no_data, i % 2 == 1, "point %zu", k);
		if (i % 2 == 0)
			cr_assert_eq(s->points[k].value, mixed(i));
	}
	cr_assert_eq(r.n_points_with_data, 6);
	prom_result_release(&r);
	prom_client_free(c);
}

Test(prom_live, sends_a_long_query_as_a_post_form_and_gets_the_same_answer)
{
	/* A regex alternation of 300 names that match nothing, and web-1. */
	static char promql[8192];
	size_t n = (size_t)snprintf(promql, sizeof(promql), "demo_requests{pod=~\"web-1");
	for (int i = 0; i < 300; i++)
		n += (size_t)snprintf(promql + n, sizeof(promql) - n, "|absent-%03d", i);
	snprintf(promql + n, sizeof(promql) - n, "\"}");
	struct prom_query q = instant_at(promql, 300);

	struct prom_config cfg;
	prom_config_init(&cfg);
	cfg.url = ps_strdup(srv.url);
	struct prom_endpoint *e = NULL;
	cr_assert_eq(prom_endpoint_new(&cfg, &e, NULL), PS_OK);
	struct prom_request req;
	cr_assert_eq(prom_endpoint_build(e, &q, &req, NULL), PS_OK);
	cr_assert_str_eq(req.http.method, "POST", "the query is %zu bytes", strlen(promql));
	prom_request_release(&req);
	prom_endpoint_free(e);

	struct prom_client *c = client_for(srv.url);
	struct prom_result r;
	query_ok(c, &q, &r);
	cr_assert_eq(r.n_series, 1);
	cr_assert_str_eq(r.series[0].key, "web-1");
	cr_assert_eq(r.series[0].points[0].value, web1(300));
	prom_result_release(&r);
	prom_client_free(c);
}

Test(prom_live, template_escaping_survives_the_promql_parser)
{
	/* Values with every byte that matters inside a string come back unchanged as a label. */
	static const char *const values[] = {
	    "plain",
	    "quote\" backslash\\ newline\n tab\t cr\r",
	    "single' and double\" quotes",
	    "\"} or vector(42) or x{a=\"",
	};
	static const char *const templates[] = {
	    "label_replace(vector(1), \"v\", \"{{.target}}\", \"\", \"\")",
	    "label_replace(vector(1), 'v', '{{.target}}', '', '')",
	};
	struct prom_client *c = client_for(srv.url);
	for (size_t t = 0; t < PS_ARRAY_LEN(templates); t++) {
		for (size_t i = 0; i < PS_ARRAY_LEN(values); i++) {
			struct prom_vars v = {.target = values[i]};
			char *promql = NULL;
			cr_assert_eq(prom_template_expand(templates[t], &v, &promql, NULL), PS_OK);
			struct prom_query q = {.promql = promql};
			struct prom_result r;
			query_ok(c, &q, &r);
			cr_assert_eq(r.n_series, 1, "%s", promql);
			cr_assert_str_eq(prom_series_label(&r.series[0], "v"), values[i], "%s",
			                 promql);
			cr_assert_eq(r.series[0].points[0].value, 1);
			prom_result_release(&r);
			ps_free(promql);
		}
	}
	prom_client_free(c);
}

Test(prom_live, reports_the_plain_text_404_of_a_wrong_path_prefix)
{
	char url[128];
	snprintf(url, sizeof(url), "%s/not-a-prefix", srv.url);
	struct prom_client *c = client_for(url);
	struct prom_query q = {.promql = "up"};
	struct prom_result r;
	struct ps_diag d;
	cr_assert_eq(prom_client_query(c, &q, NULL, &r, &d), PS_ENOTFOUND, "%s", ps_diag_msg(&d));
	char want[512];
	snprintf(want, sizeof(want),
	         "prometheus: the response is not JSON (text/plain; charset=utf-8): \"404 page not "
	         "found\\x0a\" (HTTP 404 from GET %s/api/v1/query)",
	         url);
	cr_assert_str_eq(ps_diag_msg(&d), want);
	prom_client_free(c);
}

Test(prom_live, reports_a_server_that_does_not_listen_as_unavailable)
{
	char url[64];
	snprintf(url, sizeof(url), "http://127.0.0.1:%d", prom_server_free_port());
	struct prom_client *c = client_for(url);
	struct prom_query q = {.promql = "up"};
	struct prom_result r;
	struct ps_diag d;
	enum ps_err err = prom_client_query(c, &q, NULL, &r, &d);
	cr_assert_eq(err, PS_EUNAVAIL, "%s: %s", ps_err_name(err), ps_diag_msg(&d));
	cr_assert(ps_err_is_retryable(err));
	char want[128];
	snprintf(want, sizeof(want), "prometheus: GET %s/api/v1/query?query=up", url);
	cr_assert(strncmp(ps_diag_msg(&d), want, strlen(want)) == 0, "%s", ps_diag_msg(&d));
	prom_client_free(c);
}

Test(prom_live, returns_canceled_when_the_token_has_fired)
{
	struct prom_client *c = client_for(srv.url);
	struct http_cancel *cancel = NULL;
	cr_assert_eq(http_cancel_new(&cancel), PS_OK);
	http_cancel_fire(cancel);
	struct prom_query q = {.promql = "demo_requests"};
	struct prom_result r;
	struct ps_diag d;
	cr_assert_eq(prom_client_query(c, &q, cancel, &r, &d), PS_ECANCELED, "%s", ps_diag_msg(&d));
	cr_assert(strncmp(ps_diag_msg(&d), "prometheus: GET ", 16) == 0, "%s", ps_diag_msg(&d));
	cr_assert_null(r.mem);
	/* The client works for the next query. */
	query_ok(c, &q, &r);
	prom_result_release(&r);
	http_cancel_free(cancel);
	prom_client_free(c);
}

/* ---- over TLS, with a client certificate and basic auth ---- */

/* bcrypt (cost 4, the minimum, to keep the server quick) of "correct horse", made with
 * python3 -c "import crypt; print(crypt.crypt('correct horse',
 *             crypt.mksalt(crypt.METHOD_BLOWFISH, rounds=16)))"
 * The server checking it is what proves it right. */
#define PASSWORD_HASH "$2b$04$9kKe0EofCabNUFSIy9wSDePXZ0FCUiLnVZhvuS.ApYBa37vj1H.ra"

/* Writes <content> to the file <name> of the server's directory; returns its path. */
static const char *write_in_dir(const char *name, const char *content)
{
	const char *p = prom_server_path(&srv, name);
	FILE *f = fopen(p, "w");
	cr_assert_not_null(f, "%s: %s", p, strerror(errno));
	fputs(content, f);
	cr_assert_eq(fclose(f), 0);
	return p;
}

static void openssl(const char *const args[])
{
	char *argv[32];
	size_t n = 0;
	argv[n++] = "openssl";
	for (; args[n - 1] && n < PS_ARRAY_LEN(argv) - 1; n++)
		argv[n] = (char *)args[n - 1];
	argv[n] = NULL;
	const char *log = prom_server_path(&srv, "openssl.log");
	int rc = prom_server_run(argv, log, NULL, PROM_SERVER_TOOL_TIMEOUT_MS);
	cr_assert_eq(rc, 0, "openssl %s %s failed (%d); see %s", args[0], args[1], rc, log);
}

static const char *in_dir(const char *name)
{
	return prom_server_path(&srv, name);
}

/* A CA (EC P-256) named <name>: <name>.pem and <name>-key.pem. */
static void make_ca(const char *name)
{
	char cn[64], cert[64], key[64];
	snprintf(cn, sizeof(cn), "/CN=prescale test %s", name);
	snprintf(cert, sizeof(cert), "%s.pem", name);
	snprintf(key, sizeof(key), "%s-key.pem", name);
	const char *args[] = {
	    "req",    "-x509",   "-newkey",   "ec",   "-pkeyopt",   "ec_paramgen_curve:prime256v1",
	    "-nodes", "-keyout", in_dir(key), "-out", in_dir(cert), "-days",
	    "2",      "-subj",   cn,          NULL};
	openssl(args);
}

/* A certificate <name>.pem (key <name>-key.pem) signed by the CA "ca", with <ext> (an
 * extension file's lines). */
static void make_cert(const char *name, const char *cn, const char *ext)
{
	char csr[64], cert[64], key[64], extf[64], subj[80];
	snprintf(csr, sizeof(csr), "%s.csr", name);
	snprintf(cert, sizeof(cert), "%s.pem", name);
	snprintf(key, sizeof(key), "%s-key.pem", name);
	snprintf(extf, sizeof(extf), "%s.ext", name);
	snprintf(subj, sizeof(subj), "/CN=%s", cn);
	write_in_dir(extf, ext);
	const char *req[] = {
	    "req",    "-newkey", "ec",        "-pkeyopt", "ec_paramgen_curve:prime256v1",
	    "-nodes", "-keyout", in_dir(key), "-out",     in_dir(csr),
	    "-subj",  subj,      NULL};
	openssl(req);
	const char *sign[] = {"x509",
	                      "-req",
	                      "-in",
	                      in_dir(csr),
	                      "-CA",
	                      in_dir("ca.pem"),
	                      "-CAkey",
	                      in_dir("ca-key.pem"),
	                      "-CAcreateserial",
	                      "-out",
	                      in_dir(cert),
	                      "-days",
	                      "2",
	                      "-extfile",
	                      in_dir(extf),
	                      NULL};
	openssl(sign);
}

static struct prom_client *secure_client(const char *ca, bool with_cert, const char *password)
{
	struct prom_config c;
	prom_config_init(&c);
	c.url = ps_strdup(srv.url);
	c.timeout_ms = 10000;
	c.ca_file = ca ? ps_strdup(in_dir(ca)) : NULL;
	c.cert_file = with_cert ? ps_strdup(in_dir("client.pem")) : NULL;
	c.key_file = with_cert ? ps_strdup(in_dir("client-key.pem")) : NULL;
	c.basic_username = ps_strdup("prescale");
	c.basic_password_file = ps_strdup(write_in_dir("password", password));
	struct prom_client *cl = NULL;
	struct ps_diag d;
	cr_assert_eq(prom_client_new(&c, &cl, &d), PS_OK, "%s", ps_diag_msg(&d));
	return cl;
}

static struct prom_client *tls_probe(const struct prom_server *s, void *arg)
{
	(void)s;
	(void)arg;
	return secure_client("ca.pem", true, "correct horse");
}

static void secure_start(void)
{
	cr_assert(prom_server_in_path("openssl"),
	          "openssl is not installed (hack/test installs it)");
	prom_server_init(&srv);
	make_ca("ca");
	make_ca("other-ca");
	make_cert("server", "127.0.0.1",
	          "subjectAltName=IP:127.0.0.1\nextendedKeyUsage=serverAuth\n");
	make_cert("client", "prescale", "extendedKeyUsage=clientAuth\n");
	char web[1024];
	snprintf(web, sizeof(web),
	         "tls_server_config:\n"
	         "  cert_file: %s\n"
	         "  key_file: %s\n"
	         "  client_auth_type: RequireAndVerifyClientCert\n"
	         "  client_ca_file: %s\n"
	         "basic_auth_users:\n"
	         "  prescale: " PASSWORD_HASH "\n",
	         in_dir("server.pem"), in_dir("server-key.pem"), in_dir("ca.pem"));
	server_start_with(write_in_dir("web.yml", web));
}

TestSuite(prom_live_tls, .init = secure_start, .fini = server_fini, .timeout = 120);

Test(prom_live_tls, queries_over_mutual_tls_with_basic_auth_from_files)
{
	struct prom_client *c = secure_client("ca.pem", true, "correct horse\n");
	struct prom_query q = instant_at("demo_requests{pod=\"web-1\"}", 7);
	struct prom_result r;
	query_ok(c, &q, &r);
	double v = 0;
	cr_assert_eq(prom_result_value(&r, &v, NULL), PS_OK);
	cr_assert_eq(v, web1(7));
	prom_result_release(&r);
	prom_client_free(c);
}

Test(prom_live_tls, reports_a_wrong_password_as_unauthorized_and_rereads_the_file)
{
	struct prom_client *c = secure_client("ca.pem", true, "wrong horse");
	struct prom_query q = instant_at("demo_requests{pod=\"web-2\"}", 7);
	struct prom_result r;
	struct ps_diag d;
	enum ps_err err = prom_client_query(c, &q, NULL, &r, &d);
	cr_assert_eq(err, PS_EUNAUTHORIZED, "%s: %s", ps_err_name(err), ps_diag_msg(&d));
	char want[512];
	snprintf(want, sizeof(want),
	         "prometheus: the response is not JSON (text/plain; charset=utf-8): "
	         "\"Unauthorized\\x0a\" (HTTP 401 from GET %s/api/v1/query)",
	         srv.url);
	cr_assert_str_eq(ps_diag_msg(&d), want);
	cr_assert_null(strstr(ps_diag_msg(&d), "horse"), "no password in messages");
	/* The password is fixed in the file: the next query uses it. */
	write_in_dir("password", "correct horse");
	query_ok(c, &q, &r);
	cr_assert_eq(r.series[0].points[0].value, web2(7));
	prom_result_release(&r);
	prom_client_free(c);
}

Test(prom_live_tls, refuses_a_server_certificate_from_another_ca)
{
	struct prom_client *c = secure_client("other-ca.pem", true, "correct horse");
	struct prom_query q = {.promql = "vector(1)"};
	struct prom_result r;
	struct ps_diag d;
	enum ps_err err = prom_client_query(c, &q, NULL, &r, &d);
	cr_assert_eq(err, PS_EIO, "%s: %s", ps_err_name(err), ps_diag_msg(&d));
	char want[256];
	snprintf(want, sizeof(want), "prometheus: GET %s/api/v1/query?", srv.url);
	cr_assert(strncmp(ps_diag_msg(&d), want, strlen(want)) == 0, "%s", ps_diag_msg(&d));
	prom_client_free(c);

	/* The system's CA store does not know this CA either; insecureSkipVerify accepts it. */
	c = secure_client(NULL, true, "correct horse");
	cr_assert_eq(prom_client_query(c, &q, NULL, &r, &d), PS_EIO, "%s", ps_diag_msg(&d));
	prom_client_free(c);
	struct prom_config cfg;
	prom_config_init(&cfg);
	cfg.url = ps_strdup(srv.url);
	cfg.insecure_skip_verify = true;
	cfg.cert_file = ps_strdup(in_dir("client.pem"));
	cfg.key_file = ps_strdup(in_dir("client-key.pem"));
	cfg.basic_username = ps_strdup("prescale");
	cfg.basic_password_file = ps_strdup(in_dir("password"));
	cr_assert_eq(prom_client_new(&cfg, &c, &d), PS_OK, "%s", ps_diag_msg(&d));
	query_ok(c, &q, &r);
	prom_result_release(&r);
	prom_client_free(c);
}

Test(prom_live_tls, fails_without_the_client_certificate)
{
	struct prom_client *c = secure_client("ca.pem", false, "correct horse");
	struct prom_query q = {.promql = "vector(1)"};
	struct prom_result r;
	struct ps_diag d;
	enum ps_err err = prom_client_query(c, &q, NULL, &r, &d);
	cr_assert_eq(err, PS_EIO, "%s: %s", ps_err_name(err), ps_diag_msg(&d));
	prom_client_free(c);
}
