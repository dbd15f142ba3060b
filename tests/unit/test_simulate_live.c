/* test_simulate_live.c -- `prescale simulate --prometheus` end to end: the prescale binary
 * against a real Prometheus 2.42 on 127.0.0.1.
 *
 * DESIGN
 * The suite `simulate_live` gives every test its own server (tests/support/prom_server.h,
 * which also guarantees it never outlives the test), loaded with two hours of known series at a
 * 15 s resolution ending at or before now: demo_series, a ramp 100 + i at sample i, and
 * demo_pair, two series. Each test runs PS_BINARY with a deadline and checks its exit code, its
 * JSON and its messages. Expected figures come from the data written here: a range of N points
 * at a 60 s step is (N - 1) * 4 + 1 ticks of 15 s, and the first tick's demand is the sample at
 * the start. Two hours are shorter than the forecaster's warm-up (a day), so the runs that must
 * succeed score from the first sample (--score-from 0s). The suite `simulate_live_offline` needs no
 * server: a closed port and a range that Prometheus would refuse.
 */
#include <cjson/cJSON.h>
#include <criterion/criterion.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "prom_server.h"
#include "ps_clock.h"

#define STEP_S 15
#define WINDOW_S 7200
#define N_SAMPLES (WINDOW_S / STEP_S + 1)
/* The deadline of one prescale run: its query times out after 30 s. */
#define RUN_TIMEOUT_MS 60000
#define OUT_MAX (256 * 1024)

static struct prom_server srv;
static int64_t t0_s; /* the first sample's time, Unix seconds */

static double ramp(int i)
{
	return 100.0 + i;
}

static int64_t sample_ms(int i)
{
	return (t0_s + (int64_t)i * STEP_S) * 1000;
}

static void write_series(FILE *f, void *arg)
{
	(void)arg;
	fprintf(f, "# TYPE demo_series gauge\n");
	for (int i = 0; i < N_SAMPLES; i++)
		fprintf(f, "demo_series %.0f %lld\n", ramp(i), (long long)(sample_ms(i) / 1000));
	fprintf(f, "# TYPE demo_pair gauge\n");
	for (int i = 0; i < N_SAMPLES; i++)
		fprintf(f, "demo_pair{pod=\"a\"} 1 %lld\n", (long long)(sample_ms(i) / 1000));
	for (int i = 0; i < N_SAMPLES; i++)
		fprintf(f, "demo_pair{pod=\"b\"} 2 %lld\n", (long long)(sample_ms(i) / 1000));
}

static void server_start(void)
{
	prom_server_init(&srv);
	int64_t now_s = ps_clock_wall_ms(ps_clock_real()) / 1000;
	t0_s = now_s / STEP_S * STEP_S - WINDOW_S;
	prom_server_start(&srv, write_series, NULL, NULL, NULL);
}

static void server_fini(void)
{
	prom_server_fini(&srv);
}

/* Both suites have the same timeout: with suites of different timeouts and --jobs 2,
 * Criterion 2.4.1's runner leaks 48 bytes, which LeakSanitizer reports. */
TestSuite(simulate_live, .init = server_start, .fini = server_fini, .timeout = 120);

/* ---- running prescale ---- */

struct run {
	int status; /* exit code, -1 when killed */
	char out[OUT_MAX];
	char err[OUT_MAX];
};

static void slurp(const char *path, char *buf, size_t size)
{
	buf[0] = '\0';
	FILE *f = fopen(path, "r");
	if (!f)
		return;
	size_t n = fread(buf, 1, size - 1, f);
	buf[n] = '\0';
	fclose(f);
}

/* Runs PS_BINARY with <args> (NULL-terminated, without argv[0]) within RUN_TIMEOUT_MS; its
 * output goes through files in <dir>. */
static struct run *run_in(const char *dir, const char *const *args)
{
	struct run *r = calloc(1, sizeof(*r));
	cr_assert_not_null(r);
	char *argv[40];
	size_t n = 0;
	argv[n++] = (char *)PS_BINARY;
	for (; args[n - 1] && n < PS_ARRAY_LEN(argv) - 1; n++)
		argv[n] = (char *)args[n - 1];
	argv[n] = NULL;
	char out[256], err[256];
	snprintf(out, sizeof(out), "%s/prescale.out", dir);
	snprintf(err, sizeof(err), "%s/prescale.err", dir);
	unlink(out);
	unlink(err);
	r->status = prom_server_run(argv, out, err, RUN_TIMEOUT_MS);
	slurp(out, r->out, sizeof(r->out));
	slurp(err, r->err, sizeof(r->err));
	unlink(out);
	unlink(err);
	return r;
}

#define RUN(...) run_in(srv.dir, (const char *const[]){__VA_ARGS__, NULL})

static void assert_contains(const char *hay, const char *needle)
{
	cr_assert(strstr(hay, needle), "output lacks \"%s\":\n%s", needle, hay);
}

static const cJSON *item(const cJSON *j, const char *name)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(j, name);
	cr_assert_not_null(v, "no \"%s\"", name);
	return v;
}

static const char *rfc3339(int64_t ms)
{
	static char buf[4][PS_RFC3339_MS_LEN + 1];
	static int next;
	char *b = buf[next++ % 4];
	return ps_clock_format_rfc3339(ms, b, sizeof(buf[0]));
}

/* Checks the JSON summary <out>: <ticks> ticks of 15 s, the source naming the server and
 * <query>, the three policies. */
static void assert_summary(const char *out, int ticks, const char *query)
{
	cJSON *j = cJSON_Parse(out);
	cr_assert_not_null(j, "not JSON: %s", out);
	char source[256];
	snprintf(source, sizeof(source), "%s query %s", srv.url, query);
	cr_assert_str_eq(item(j, "source")->valuestring, source);
	cr_assert_eq(item(j, "ticks")->valueint, ticks);
	cr_assert_eq(item(j, "intervalSeconds")->valueint, 15);
	const cJSON *pol = item(j, "policies");
	cr_assert(cJSON_IsObject(item(pol, "reactive")));
	cr_assert(cJSON_IsObject(item(pol, "predictive")));
	cr_assert_float_eq(item(item(pol, "oracle"), "costVsOracle")->valuedouble, 1.0, 1e-12);
	cJSON_Delete(j);
}

/* ---- reading a range ---- */

Test(simulate_live, simulates_one_series_read_from_prometheus)
{
	/* Samples 40 to 440 at a 60 s step: 101 points, 100 minutes, 401 ticks of 15 s. */
	char out_dir[160];
	snprintf(out_dir, sizeof(out_dir), "%s/out", srv.dir);
	struct run *r = RUN("simulate", "--prometheus", srv.url, "--query", "demo_series",
	                    "--start", rfc3339(sample_ms(40)), "--end", rfc3339(sample_ms(440)),
	                    "--step", "60s", "--score-from", "0s", "--json", "--out", out_dir);
	cr_assert_eq(r->status, 0, "exit %d: %s", r->status, r->err);
	cr_assert_str_empty(r->err);
	assert_summary(r->out, 401, "demo_series");
	free(r);

	/* The values are the ones written: the first tick's demand is sample 40, the fifth is
	 * sample 44 (one 60 s step later), and the three ticks between are linear. */
	char path[200];
	snprintf(path, sizeof(path), "%s/steps.csv", out_dir);
	static char csv[1 << 20];
	slurp(path, csv, sizeof(csv));
	char *line = strchr(csv, '\n');
	cr_assert_not_null(line, "%s", csv);
	for (int k = 0; k <= 4; k++) {
		long long t = 0;
		double demand = 0;
		cr_assert_eq(sscanf(line + 1, "%lld,%lf,", &t, &demand), 2, "%.80s", line + 1);
		cr_assert_eq(t, sample_ms(40) / 1000 + k * 15);
		cr_assert_float_eq(demand, ramp(40) + k, 1e-9, "tick %d", k);
		line = strchr(line + 1, '\n');
	}
	size_t rows = 0;
	for (const char *p = csv; *p; p++)
		rows += *p == '\n';
	cr_assert_eq(rows, 1 + 401, "a header and one row per tick");
}

Test(simulate_live, takes_start_and_end_as_durations_before_now)
{
	/* now - 90m to now - 30m at 60 s: 61 points whatever now is, 241 ticks. */
	struct run *r =
	    RUN("simulate", "--prometheus", srv.url, "--query", "demo_series", "--start", "90m",
	        "--end", "30m", "--step", "60s", "--score-from", "0s", "--json");
	cr_assert_eq(r->status, 0, "exit %d: %s", r->status, r->err);
	assert_summary(r->out, 241, "demo_series");
	free(r);
}

Test(simulate_live, takes_the_server_from_the_config_unless_prometheus_overrides_it)
{
	/* The ControllerConfig points at a closed port; the Autoscaler is test data's
	 * simulate.yaml (averageValue 4, interval 30s). */
	char closed[64];
	snprintf(closed, sizeof(closed), "http://127.0.0.1:%d", prom_server_free_port());
	char yaml[2048];
	snprintf(yaml, sizeof(yaml),
	         "apiVersion: prescale.dev/v1alpha1\n"
	         "kind: ControllerConfig\n"
	         "prometheus:\n"
	         "  url: %s\n"
	         "  timeout: 10s\n"
	         "  headers:\n"
	         "    X-Scope-OrgID: tenant-a\n"
	         "---\n"
	         "apiVersion: prescale.dev/v1alpha1\n"
	         "kind: Autoscaler\n"
	         "metadata: {name: worker, namespace: jobs}\n"
	         "spec:\n"
	         "  scaleTargetRef: {kind: Deployment, name: worker}\n"
	         "  minReplicas: 1\n"
	         "  maxReplicas: 500\n"
	         "  interval: 30s\n"
	         "  metrics:\n"
	         "    - name: load\n"
	         "      query: demo_series\n"
	         "      target: {type: AverageValue, averageValue: 4}\n",
	         closed);
	const char *config = prom_server_path(&srv, "prescale.yaml");
	FILE *f = fopen(config, "w");
	cr_assert_not_null(f, "%s: %s", config, strerror(errno));
	fputs(yaml, f);
	cr_assert_eq(fclose(f), 0);

	struct run *r = RUN("simulate", "-c", config, "--query", "demo_series", "--start", "90m",
	                    "--end", "30m", "--step", "60s", "--json");
	cr_assert_eq(r->status, 1, "exit %d: %s", r->status, r->err);
	assert_contains(r->err, closed);
	free(r);

	r = RUN("simulate", "-c", config, "--prometheus", srv.url, "--query", "demo_series",
	        "--start", "90m", "--end", "30m", "--step", "60s", "--score-from", "0s", "--json");
	cr_assert_eq(r->status, 0, "exit %d: %s", r->status, r->err);
	cJSON *j = cJSON_Parse(r->out);
	cr_assert_not_null(j, "not JSON: %s", r->out);
	cr_assert_str_eq(item(j, "target")->valuestring, "jobs/Deployment/worker");
	cr_assert_eq(item(j, "intervalSeconds")->valueint, 30);
	cr_assert_float_eq(item(item(j, "params"), "target")->valuedouble, 4.0, 1e-12);
	/* 60 minutes at 30 s ticks. */
	cr_assert_eq(item(j, "ticks")->valueint, 121);
	cJSON_Delete(j);
	free(r);
}

/* ---- errors ---- */

Test(simulate_live, reports_a_promql_error_as_bad_input)
{
	struct run *r = RUN("simulate", "--prometheus", srv.url, "--query", "sum(", "--start",
	                    "90m", "--end", "30m", "--step", "60s", "--json");
	cr_assert_eq(r->status, 2, "exit %d: %s", r->status, r->err);
	char want[512];
	snprintf(want, sizeof(want),
	         "prescale simulate: prometheus: bad_data: 1:5: parse error: unclosed left "
	         "parenthesis (HTTP 400 from GET %s/api/v1/query_range)\n",
	         srv.url);
	cr_assert_str_eq(r->err, want);
	cr_assert_str_empty(r->out);
	free(r);
}

Test(simulate_live, refuses_a_query_that_returns_two_series)
{
	struct run *r = RUN("simulate", "--prometheus", srv.url, "--query", "demo_pair", "--start",
	                    "90m", "--end", "30m", "--step", "60s");
	cr_assert_eq(r->status, 2, "exit %d: %s", r->status, r->err);
	char want[512];
	snprintf(want, sizeof(want),
	         "prescale simulate: %s query demo_pair: data.result: 2 series; simulate takes "
	         "one: narrow the query (a label matcher, or sum(...))\n",
	         srv.url);
	cr_assert_str_eq(r->err, want);
	cr_assert_str_empty(r->out);
	free(r);

	/* The same narrowed to one series works. */
	r = RUN("simulate", "--prometheus", srv.url, "--query", "demo_pair{pod=\"b\"}", "--start",
	        "90m", "--end", "30m", "--step", "60s", "--score-from", "0s", "--json");
	cr_assert_eq(r->status, 0, "exit %d: %s", r->status, r->err);
	assert_summary(r->out, 241, "demo_pair{pod=\"b\"}");
	free(r);
}

Test(simulate_live, reports_a_query_that_matches_nothing_as_no_data)
{
	struct run *r = RUN("simulate", "--prometheus", srv.url, "--query", "no_such_metric",
	                    "--start", "90m", "--end", "30m", "--step", "60s");
	cr_assert_eq(r->status, 2, "exit %d: %s", r->status, r->err);
	char want[512];
	snprintf(want, sizeof(want),
	         "prescale simulate: %s query no_such_metric: data.result: no series (the query "
	         "matched nothing in that range)\n",
	         srv.url);
	cr_assert_str_eq(r->err, want);
	free(r);
}

/* ---- without a server ---- */

static char tmp_dir[64];

static void tmp_init(void)
{
	snprintf(tmp_dir, sizeof(tmp_dir), "/tmp/prescale-sim-live-XXXXXX");
	cr_assert_not_null(mkdtemp(tmp_dir));
}

static void tmp_fini(void)
{
	rmdir(tmp_dir); /* run_in() leaves nothing inside */
}

TestSuite(simulate_live_offline, .init = tmp_init, .fini = tmp_fini, .timeout = 120);

#define RUN_OFFLINE(...) run_in(tmp_dir, (const char *const[]){__VA_ARGS__, NULL})

Test(simulate_live_offline, reports_a_closed_port_as_a_runtime_error_with_the_url)
{
	char url[64];
	snprintf(url, sizeof(url), "http://127.0.0.1:%d", prom_server_free_port());
	struct run *r = RUN_OFFLINE("simulate", "--prometheus", url, "--query", "demo_series",
	                            "--start", "2h", "--end", "now", "--step", "60s");
	cr_assert_eq(r->status, 1, "exit %d: %s", r->status, r->err);
	char want[128];
	snprintf(want, sizeof(want), "prescale simulate: prometheus: GET %s/api/v1/query_range?",
	         url);
	cr_assert(strncmp(r->err, want, strlen(want)) == 0, "%s", r->err);
	cr_assert_str_empty(r->out);
	free(r);
}

Test(simulate_live_offline, refuses_more_points_than_prometheus_allows_before_sending)
{
	/* 7 days at 15 s is 40321 points; 7d / 10999 is 54.99 s, so 55 s is the smallest step. A
	 * closed port: had anything been sent, the exit code would be 1. */
	char url[64];
	snprintf(url, sizeof(url), "http://127.0.0.1:%d", prom_server_free_port());
	struct run *r = RUN_OFFLINE("simulate", "--prometheus", url, "--query", "demo_series",
	                            "--start", "7d", "--end", "now", "--step", "15s");
	cr_assert_eq(r->status, 2, "exit %d: %s", r->status, r->err);
	assert_contains(r->err, "prescale simulate: --start to --end (7d) at --step 15s is 40321 "
	                        "points per series; Prometheus allows 11000: use a larger step "
	                        "(at least 55s)\n");
	free(r);
	/* 55 s gives 10997 points: accepted, and then the closed port answers. */
	r = RUN_OFFLINE("simulate", "--prometheus", url, "--query", "demo_series", "--start", "7d",
	                "--end", "now", "--step", "55s");
	cr_assert_eq(r->status, 1, "exit %d: %s", r->status, r->err);
	free(r);
}
