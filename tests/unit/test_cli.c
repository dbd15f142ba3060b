/* test_cli.c -- the prescale binary end to end: the command table, exit codes, and `recommend`
 * on every example snapshot. Expected replica counts are worked out by hand from SEMANTICS.md;
 * the arithmetic is in the comment above each case. */
#include <criterion/criterion.h>
#include <cjson/cJSON.h>
#include <fcntl.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "engine.h"

extern char **environ;

#define OUT_MAX (256 * 1024)

struct run {
	int status; /* exit code, or -1 when the process did not exit normally */
	char out[OUT_MAX];
	char err[OUT_MAX];
};

static void slurp(int fd, char *buf, size_t size)
{
	cr_assert_eq(lseek(fd, 0, SEEK_SET), 0);
	size_t n = 0;
	ssize_t got;
	while (n + 1 < size && (got = read(fd, buf + n, size - 1 - n)) > 0)
		n += (size_t)got;
	buf[n] = '\0';
}

static int temp_fd(void)
{
	char path[] = "/tmp/prescale-test-XXXXXX";
	int fd = mkstemp(path);
	cr_assert_geq(fd, 0);
	unlink(path);
	return fd;
}

/* Runs PS_BINARY with <args> (NULL-terminated, without argv[0]); stdin from <in> (NULL: empty). */
static struct run *run(const char *in, const char *const *args)
{
	struct run *r = calloc(1, sizeof(*r));
	cr_assert(r);
	char *argv[32];
	size_t n = 0;
	argv[n++] = (char *)"prescale";
	for (; args[n - 1] && n < 31; n++)
		argv[n] = (char *)args[n - 1];
	argv[n] = NULL;
	int out = temp_fd(), err = temp_fd();
	posix_spawn_file_actions_t fa;
	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_addopen(&fa, 0, in ? in : "/dev/null", O_RDONLY, 0);
	posix_spawn_file_actions_adddup2(&fa, out, 1);
	posix_spawn_file_actions_adddup2(&fa, err, 2);
	pid_t pid;
	int rc = posix_spawn(&pid, PS_BINARY, &fa, NULL, argv, environ);
	posix_spawn_file_actions_destroy(&fa);
	cr_assert_eq(rc, 0, "cannot run %s", PS_BINARY);
	int ws;
	cr_assert_eq(waitpid(pid, &ws, 0), pid);
	r->status = WIFEXITED(ws) ? WEXITSTATUS(ws) : -1;
	slurp(out, r->out, sizeof(r->out));
	slurp(err, r->err, sizeof(r->err));
	close(out);
	close(err);
	return r;
}

#define RUN(in, ...) run((in), (const char *const[]){__VA_ARGS__, NULL})

static const char *example(const char *name)
{
	static char path[4][512];
	static int next;
	char *p = path[next++ % 4];
	snprintf(p, sizeof(path[0]), "%s/recommend/%s", PS_TEST_DATA, name);
	return p;
}

static void assert_contains(const char *hay, const char *needle)
{
	cr_assert(strstr(hay, needle), "output lacks \"%s\":\n%s", needle, hay);
}

/* ---- the command table ---- */

Test(cli, version_prints_the_version_and_git_description)
{
	const char *forms[][2] = {{"version", NULL}, {"--version", NULL}};
	for (size_t i = 0; i < 2; i++) {
		struct run *r = run(NULL, forms[i]);
		cr_assert_eq(r->status, 0, "%s", r->err);
		cr_assert_eq(strncmp(r->out, "prescale ", 9), 0, "%s", r->out);
		assert_contains(r->out, " (git ");
		cr_assert_eq(r->out[strlen(r->out) - 2], ')');
		cr_assert_str_empty(r->err);
		free(r);
	}
}

Test(cli, help_lists_every_command)
{
	const char *forms[][2] = {{"--help", NULL}, {"-h", NULL}, {"help", NULL}};
	for (size_t i = 0; i < 3; i++) {
		struct run *r = run(NULL, forms[i]);
		cr_assert_eq(r->status, 0);
		assert_contains(r->out, "usage: prescale");
		assert_contains(r->out, "\n  version ");
		assert_contains(r->out, "\n  recommend ");
		assert_contains(r->out, "\n  check ");
		assert_contains(r->out, "\n  help ");
		cr_assert_str_empty(r->err);
		free(r);
	}
}

Test(cli, no_command_is_a_usage_error)
{
	struct run *r = run(NULL, (const char *const[]){NULL});
	cr_assert_eq(r->status, 2);
	assert_contains(r->err, "usage: prescale");
	cr_assert_str_empty(r->out);
	free(r);
}

Test(cli, unknown_command_or_option_exits_2_with_usage)
{
	struct run *r = RUN(NULL, "frobnicate");
	cr_assert_eq(r->status, 2);
	assert_contains(r->err, "prescale: unknown command 'frobnicate'");
	assert_contains(r->err, "usage: prescale");
	cr_assert_str_empty(r->out);
	free(r);

	r = RUN(NULL, "--frobnicate", "version");
	cr_assert_eq(r->status, 2);
	assert_contains(r->err, "unknown option '--frobnicate'");
	free(r);

	r = RUN(NULL, "help", "frobnicate");
	cr_assert_eq(r->status, 2);
	assert_contains(r->err, "unknown command 'frobnicate'");
	free(r);

	r = RUN(NULL, "version", "extra");
	cr_assert_eq(r->status, 2);
	assert_contains(r->err, "prescale version: unexpected argument 'extra'");
	free(r);
}

Test(cli, command_help_comes_from_both_forms)
{
	struct run *a = RUN(NULL, "recommend", "--help");
	struct run *b = RUN(NULL, "help", "recommend");
	cr_assert_eq(a->status, 0);
	cr_assert_eq(b->status, 0);
	assert_contains(a->out, "usage: prescale recommend [-f FILE|-] [-o table|json]");
	cr_assert_str_eq(a->out, b->out);
	free(a);
	free(b);

	a = RUN(NULL, "version", "-h");
	cr_assert_eq(a->status, 0);
	assert_contains(a->out, "usage: prescale version");
	free(a);

	a = RUN(NULL, "help", "check");
	cr_assert_eq(a->status, 0);
	cr_assert_str_not_empty(a->out);
	free(a);
}

Test(cli, recommend_rejects_bad_options)
{
	struct run *r = RUN(NULL, "recommend", "-o", "yaml");
	cr_assert_eq(r->status, 2);
	assert_contains(r->err, "unknown output format 'yaml' (want table or json)");
	assert_contains(r->err, "usage: prescale recommend");
	free(r);

	r = RUN(NULL, "recommend", "--bogus");
	cr_assert_eq(r->status, 2);
	assert_contains(r->err, "unknown option '--bogus'");
	free(r);

	r = RUN(NULL, "recommend", "-f");
	cr_assert_eq(r->status, 2);
	assert_contains(r->err, "option '-f' needs a value");
	free(r);

	r = RUN(NULL, "recommend", "snapshot.json");
	cr_assert_eq(r->status, 2);
	assert_contains(r->err, "unexpected argument 'snapshot.json'");
	free(r);
}

Test(cli, recommend_reports_an_unreadable_file_as_a_runtime_error)
{
	struct run *r = RUN(NULL, "recommend", "-f", "/nonexistent/snapshot.json");
	cr_assert_eq(r->status, 1);
	assert_contains(r->err, "/nonexistent/snapshot.json");
	cr_assert_str_empty(r->out);
	free(r);
}

Test(cli, recommend_caps_the_input_at_16_MiB)
{
	char path[] = "/tmp/prescale-big-XXXXXX";
	int fd = mkstemp(path);
	cr_assert_geq(fd, 0);
	/* 16 MiB + 1 byte of spaces: one byte over the cap */
	static char chunk[64 * 1024];
	memset(chunk, ' ', sizeof(chunk));
	for (int i = 0; i < 256; i++)
		cr_assert_eq(write(fd, chunk, sizeof(chunk)), (ssize_t)sizeof(chunk));
	cr_assert_eq(write(fd, " ", 1), 1);
	close(fd);
	struct run *r = RUN(NULL, "recommend", "-f", path);
	struct run *s = RUN(path, "recommend");
	unlink(path);
	cr_assert_eq(r->status, 2, "%s", r->err);
	assert_contains(r->err, "larger than");
	cr_assert_eq(s->status, 2, "%s", s->err);
	assert_contains(s->err, "<stdin>: input larger than the 16 MiB limit");
	free(r);
	free(s);
}

/* ---- recommend on the examples ---- */

struct expect {
	const char *file;
	int current, desired;
	bool write;
	enum eng_rule rule;
	int metric_replicas, stabilized; /* -1: null */
	const char *reason;              /* the "REASON" line of the table */
	const char *bound_by;            /* the condition reason after the rule, or NULL */
};

static const cJSON *item(const cJSON *o, const char *key)
{
	const cJSON *j = cJSON_GetObjectItemCaseSensitive(o, key);
	cr_assert(j, "no \"%s\" in the record", key);
	return j;
}

static int int_item(const cJSON *o, const char *key)
{
	const cJSON *j = item(o, key);
	cr_assert(cJSON_IsNumber(j), "\"%s\" is not a number", key);
	return j->valueint;
}

static cJSON *recommend_json(const char *file)
{
	struct run *r = RUN(NULL, "recommend", "-o", "json", "-f", example(file));
	cr_assert_eq(r->status, 0, "%s: %s", file, r->err);
	cr_assert_str_empty(r->err);
	cJSON *j = cJSON_Parse(r->out);
	cr_assert(j, "%s: the record is not JSON:\n%s", file, r->out);
	free(r);
	return j;
}

static void check_example(const struct expect *e)
{
	cJSON *j = recommend_json(e->file);
	cr_assert_eq(int_item(j, "currentReplicas"), e->current, "%s", e->file);
	cr_assert_eq(int_item(j, "desiredReplicas"), e->desired, "%s", e->file);
	cr_assert_eq(cJSON_IsTrue(item(j, "write")), e->write, "%s", e->file);
	cr_assert_str_eq(item(j, "rule")->valuestring, eng_rule_name(e->rule), "%s", e->file);
	if (e->metric_replicas < 0) {
		cr_assert(cJSON_IsNull(item(j, "metricReplicas")), "%s", e->file);
	} else {
		cr_assert_eq(int_item(j, "metricReplicas"), e->metric_replicas, "%s", e->file);
		cr_assert_eq(int_item(j, "stabilizedReplicas"), e->stabilized, "%s", e->file);
	}
	cJSON_Delete(j);

	struct run *r = RUN(NULL, "recommend", "-f", example(e->file));
	cr_assert_eq(r->status, 0, "%s: %s", e->file, r->err);
	char line[512];
	const char *dir = e->desired > e->current   ? "scale up"
			  : e->desired < e->current ? "scale down"
						    : "no change";
	snprintf(line, sizeof(line), "TARGET REPLICAS  current %d \u2192 desired %d (%s)\n",
		 e->current, e->desired, dir);
	cr_assert_eq(strncmp(r->out, line, strlen(line)), 0, "%s: first line:\n%s", e->file,
		     r->out);
	snprintf(line, sizeof(line), "\nREASON           %s\n", e->reason);
	assert_contains(r->out, line);
	if (e->bound_by)
		snprintf(line, sizeof(line), "\nBOUND BY         %s (%s)\n", eng_rule_name(e->rule),
			 e->bound_by);
	else
		snprintf(line, sizeof(line), "\nBOUND BY         %s\n", eng_rule_name(e->rule));
	assert_contains(r->out, line);
	free(r);
}

Test(cli, recommend_scales_up_on_cpu_utilization)
{
	/* 4 ready pods (started 1 h ago, past the 5 min CPU initialization), 500m requested each:
	 * usage 450+420+480+450 = 1800m of 2000m -> utilization int(1800*100/2000) = 90 %;
	 * ratio 90/60 = 1.5, outside [0.9, 1.1] -> ceil(1.5 * 4 ready) = 6.
	 * No behavior: legacy stabilization over the seeded {4, now} keeps max(6, 4) = 6; the
	 * legacy cap max(2*4, 4) = 8 does not bind; 6 is within [2, 10]. */
	check_example(&(struct expect){"scale-up-cpu.json", 4, 6, true, ENG_RULE_METRICS, 6, 6,
				       "cpu resource utilization (percentage of request) above "
				       "target",
				       NULL});
	cJSON *j = recommend_json("scale-up-cpu.json");
	const cJSON *m = cJSON_GetArrayItem(item(j, "metrics"), 0);
	cr_assert_eq(int_item(item(m, "current"), "averageUtilization"), 90);
	cr_assert_str_eq(item(item(m, "current"), "averageValue")->valuestring, "450m");
	cr_assert_float_eq(item(m, "ratio")->valuedouble, 1.5, 1e-12);
	cr_assert_eq(int_item(m, "proposal"), 6);
	cr_assert_eq(int_item(item(m, "pods"), "ready"), 4);
	cJSON_Delete(j);
}

Test(cli, recommend_holds_a_scale_down_by_stabilization)
{
	/* Pods metric: (50+60+55+45+40)/5 = 50 per pod against 100 -> ratio 0.5 -> ceil(0.5*5) =
	 * 3. Behavior: scaleDown window 300 s, scaleUp window 0 (default). Recommendations newer
	 * than now-300s: 6 (60 s ago) and 5 (200 s ago) -> downRec = max(3, 6, 5) = 6; none newer
	 * than now-0 -> upRec = 3. clamp(current 5, 3, 6) = 5: ScaleDownStabilized; rate limits
	 * see no change. */
	check_example(&(struct expect){"scale-down-stabilized.json", 5, 5, false,
				       ENG_RULE_STABILIZATION, 3, 5, "All metrics below target",
				       "ScaleDownStabilized"});
}

Test(cli, recommend_sizes_an_external_average_value_metric)
{
	/* External AverageValue: usage 120+90 = 210 against 30 per replica over status replicas 4:
	 * ratio 210/(30*4) = 1.75, outside tolerance -> ceil(210/30) = 7; reported usage
	 * ceil(210000m/4) = 52500m. Legacy path: max(7, seeded 4) = 7; cap max(8, 4) = 8. */
	check_example(&(struct expect){"external-average-value.json", 4, 7, true,
				       ENG_RULE_METRICS, 7, 7,
				       "external metric queue_depth above target", NULL});
	cJSON *j = recommend_json("external-average-value.json");
	const cJSON *m = cJSON_GetArrayItem(item(j, "metrics"), 0);
	cr_assert_str_eq(item(item(m, "current"), "averageValue")->valuestring, "52500m");
	cr_assert_float_eq(item(m, "ratio")->valuedouble, 1.75, 1e-12);
	cJSON_Delete(j);
}

Test(cli, recommend_acts_on_a_forecast_ahead_of_the_load)
{
	/* Reactive: 210 over 30 per replica with 5 status replicas: ratio 210/150 = 1.4 ->
	 * ceil(210/30) = 7; legacy stabilization max(7, seeded 5) = 7. Forecast 300: ratio
	 * 300/150 = 2 -> ceil(300/30) = 10 raises the stabilized 7; cap max(2*5, 4) = 10. */
	check_example(&(struct expect){"forecast-ahead.json", 5, 10, true, ENG_RULE_FORECAST, 7, 7,
				       "external metric queue_depth forecast above target", NULL});
	cJSON *j = recommend_json("forecast-ahead.json");
	const cJSON *m = cJSON_GetArrayItem(item(j, "metrics"), 0);
	cr_assert_eq(item(m, "proposal")->valueint, 7);
	const cJSON *fc = item(m, "forecast");
	cr_assert_str_eq(item(fc, "use")->valuestring, "scale");
	cr_assert_str_eq(item(fc, "value")->valuestring, "300");
	cr_assert_eq(item(fc, "proposal")->valueint, 10);
	cJSON_Delete(j);
}

Test(cli, recommend_lets_a_failing_metric_block_a_scale_down)
{
	/* CPU: 6 x 200m of 6 x 1000m = 20 % against 50 % -> ratio 0.4 -> ceil(0.4*6) = 3 < 6.
	 * The external metric failed: invalidCount 1 > 0 and 3 < specReplicas 6, so no decision
	 * (-1): ScalingActive=False/FailedGetExternalMetric, the count stays 6, error set. */
	check_example(&(struct expect){"failing-metric-blocks-scale-down.json", 6, 6, false,
				       ENG_RULE_METRICS_FAILED, -1, -1, "-",
				       "FailedGetExternalMetric"});
	cJSON *j = recommend_json("failing-metric-blocks-scale-down.json");
	assert_contains(item(j, "error")->valuestring, "connection refused");
	const cJSON *metrics = item(j, "metrics");
	cr_assert_eq(cJSON_GetArraySize(metrics), 2);
	const cJSON *cpu = cJSON_GetArrayItem(metrics, 0), *ext = cJSON_GetArrayItem(metrics, 1);
	cr_assert(cJSON_IsTrue(item(cpu, "ok")));
	cr_assert_eq(int_item(cpu, "proposal"), 3);
	cr_assert(cJSON_IsFalse(item(ext, "ok")));
	cr_assert_str_eq(item(ext, "failureReason")->valuestring, "FailedGetExternalMetric");
	cr_assert(cJSON_IsNull(item(ext, "proposal")));
	cJSON_Delete(j);
}

Test(cli, recommend_applies_the_scale_up_rate_limit)
{
	/* CPU: 4 x 1500m of 4 x 1000m = 150 % against 50 % -> ratio 3 -> ceil(3*4) = 12. api-4
	 * started 4 min ago (still initializing) but its sample (11:59:45) is later than
	 * readiness (11:56:40) + window 30 s, so it counts as ready.
	 * Stabilization: scaleUp window 0 -> upRec 12; the seeded {4, now} is within the default
	 * 300 s scaleDown window -> downRec max(12, 4) = 12; clamp(4, 12, 12) = 12.
	 * Rate: the 1-replica scale-up 240 s ago is inside the 300 s period -> periodStart 4-1 = 3;
	 * Pods 3+2 = 5, Percent ceil(3*1.25) = 4; Max -> 5 < maxReplicas 20: ScaleUpLimit. */
	check_example(&(struct expect){"rate-limit.json", 4, 5, true, ENG_RULE_RATE_LIMIT, 12, 12,
				       "cpu resource utilization (percentage of request) above "
				       "target",
				       "ScaleUpLimit"});
}

Test(cli, recommend_keeps_the_count_within_tolerance)
{
	/* Object Value: 1050 against 1k -> ratio 1.05, within [0.9, 1.1] -> current 3. */
	check_example(&(struct expect){"object-within-tolerance.json", 3, 3, false,
				       ENG_RULE_TOLERANCE, 3, 3, "-", NULL});
}

Test(cli, recommend_reads_standard_input_by_default)
{
	struct run *a = run(example("scale-up-cpu.json"), (const char *const[]){"recommend", "-o",
										"json", NULL});
	struct run *b = run(example("scale-up-cpu.json"),
			    (const char *const[]){"recommend", "--output=json", "-f", "-", NULL});
	cr_assert_eq(a->status, 0, "%s", a->err);
	cr_assert_eq(b->status, 0, "%s", b->err);
	/* stable key order and a 2-space indent */
	const char *head = "{\n  \"currentReplicas\": 4,\n  \"desiredReplicas\": 6,\n"
			   "  \"write\": true,\n  \"rule\": ";
	cr_assert_eq(strncmp(a->out, head, strlen(head)), 0, "%s", a->out);
	cr_assert_str_eq(a->out, b->out);
	free(a);
	free(b);
}

Test(cli, recommend_names_the_bad_field_and_exits_2)
{
	static const struct {
		const char *file, *message;
	} bad[] = {
		/* line 3, `  "spec": {"minReplicas": 1 "maxReplicas": 4},`: column 29 is the '"'
		 * where ',' or '}' was due */
		{"bad-json.json", "bad-json.json:3:29: invalid JSON"},
		{"bad-quantity.json",
		 "spec.metrics[1].external.target.averageValue: invalid quantity \"3O\""},
		{"bad-missing-max-replicas.json", "spec.maxReplicas: required field missing"},
		{"bad-wrong-type.json", "spec.minReplicas: expected an integer, got a string"},
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct run *r = RUN(NULL, "recommend", "-f", example(bad[i].file));
		cr_assert_eq(r->status, 2, "%s: %s", bad[i].file, r->err);
		assert_contains(r->err, "prescale recommend: ");
		assert_contains(r->err, bad[i].message);
		cr_assert_str_empty(r->out);
		free(r);
	}
}

/* ---- simulate ---- */

Test(cli, simulate_prints_a_json_summary_of_the_three_policies)
{
	struct run *r = RUN(NULL, "simulate", "--workload", "diurnal", "--days", "3", "--json");
	cr_assert_eq(r->status, 0, "%s", r->err);
	cJSON *j = cJSON_Parse(r->out);
	cr_assert_not_null(j, "not JSON: %s", r->out);
	const cJSON *pol = item(j, "policies");
	cr_assert_not_null(item(pol, "reactive"));
	cr_assert_not_null(item(pol, "predictive"));
	cr_assert_float_eq(item(item(pol, "oracle"), "costVsOracle")->valuedouble, 1.0, 1e-12);
	/* 3 days of 60 s samples end at 3d - 60s: 4319 steps of 15 s, 17277 ticks. */
	cr_assert_eq(item(j, "ticks")->valueint, 17277);
	cr_assert(cJSON_IsObject(item(j, "forecast")));
	cJSON_Delete(j);
	free(r);
}

Test(cli, simulate_writes_steps_csv_and_chart_svg_into_out)
{
	char dir[] = "/tmp/prescale-sim-XXXXXX";
	cr_assert_not_null(mkdtemp(dir));
	char out[600];
	snprintf(out, sizeof(out), "%s/nested/run", dir);
	struct run *r = RUN(NULL, "simulate", "--workload", "diurnal", "--days", "2",
	                    "--policy", "reactive", "--out", out);
	cr_assert_eq(r->status, 0, "%s", r->err);
	assert_contains(r->out, "reactive");
	cr_assert_null(strstr(r->out, "predictive"));
	char path[700];
	struct stat st;
	snprintf(path, sizeof(path), "%s/steps.csv", out);
	cr_assert_eq(stat(path, &st), 0);
	cr_assert_gt(st.st_size, 1000);
	snprintf(path, sizeof(path), "%s/chart.svg", out);
	cr_assert_eq(stat(path, &st), 0);
	cr_assert_gt(st.st_size, 1000);
	free(r);
	char cmd[700];
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	cr_assert_eq(system(cmd), 0);
}

Test(cli, simulate_reports_bad_input_with_its_line_and_exit_codes)
{
	struct run *r = RUN(NULL, "simulate", "-f", PS_TEST_DATA "/trace/bad-value.csv");
	cr_assert_eq(r->status, 2, "%s", r->err);
	assert_contains(r->err, "bad-value.csv:");
	free(r);
	r = RUN(NULL, "simulate", "-f", "/nonexistent/trace.csv");
	cr_assert_eq(r->status, 1);
	assert_contains(r->err, "/nonexistent/trace.csv");
	free(r);
	r = RUN(NULL, "simulate", "--workload", "diurnal", "--policy", "clairvoyant");
	cr_assert_eq(r->status, 2);
	assert_contains(r->err, "unknown policy \"clairvoyant\"");
	free(r);
	r = RUN(NULL, "simulate");
	cr_assert_eq(r->status, 2);
	assert_contains(r->err, "give a series with -f FILE, a --workload or --prometheus URL "
	                        "--query Q");
	free(r);
}

Test(cli, simulate_checks_the_prometheus_options_before_sending_anything)
{
	/* Port 1 of 127.0.0.1 is never a Prometheus: each case must fail before any request,
	 * with exit 2 (a request would end in 1). */
	static const struct {
		const char *args[16];
		const char *msg;
	} cases[] = {
	    {{"-f", "x.csv", "--prometheus", "http://127.0.0.1:1", "--query", "up", "--start", "1h",
	      "--end", "now", "--step", "1m"},
	     "prescale simulate: -f, --workload and --prometheus are exclusive: give one series\n"},
	    {{"--workload", "diurnal", "--query", "up"},
	     "prescale simulate: -f, --workload and --prometheus are exclusive: give one series\n"},
	    {{"--prometheus", "http://127.0.0.1:1", "--query", "up", "--start", "1h", "--end",
	      "now"},
	     "prescale simulate: a Prometheus range needs --query, --start, --end and --step "
	     "(missing: --step)\n"},
	    {{"--prometheus", "http://127.0.0.1:1", "--start", "1h", "--end", "now", "--step",
	      "1m"},
	     "prescale simulate: a Prometheus range needs --query, --start, --end and --step "
	     "(missing: --query)\n"},
	    {{"--query", "up", "--start", "1h", "--end", "now", "--step", "1m"},
	     "prescale simulate: --query needs --prometheus URL (or -c CONFIG, whose "
	     "prometheus.url is used)\n"},
	    {{"--prometheus", "http://127.0.0.1:1", "--query", "up", "--start", "yesterday",
	      "--end", "now", "--step", "1m"},
	     "prescale simulate: --start: \"yesterday\" is neither an RFC 3339 time "
	     "(\"2026-11-26T12:00:00Z\"), \"now\", nor a duration before now (\"7d\")\n"},
	    {{"--prometheus", "http://127.0.0.1:1", "--query", "up", "--start",
	      "2026-11-26T12:00:00Z", "--end", "2026-11-26T11:00:00+00:00", "--step", "1m"},
	     "prescale simulate: --end (2026-11-26T11:00:00.000Z) must be after --start "
	     "(2026-11-26T12:00:00.000Z)\n"},
	    {{"--prometheus", "http://127.0.0.1:1", "--query", "up", "--start", "1h", "--end",
	      "now", "--step", "0s"},
	     "prescale simulate: --step: must be greater than 0\n"},
	    /* 2 days at 10 s: 17281 points; 172800 s / 10999 = 15.7 s, so 16 s. */
	    {{"--prometheus", "http://127.0.0.1:1", "--query", "up", "--start",
	      "2026-11-24T00:00:00Z", "--end", "2026-11-26T00:00:00Z", "--step", "10s"},
	     "prescale simulate: --start to --end (2d) at --step 10s is 17281 points per series; "
	     "Prometheus allows 11000: use a larger step (at least 16s)\n"},
	    {{"--prometheus", "ftp://127.0.0.1:1", "--query", "up", "--start", "1h", "--end", "now",
	      "--step", "1m"},
	     "prescale simulate: prometheus: url must be http://host[:port][/prefix] or "
	     "https://... (ftp://127.0.0.1:1)\n"},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		const char *args[20] = {"simulate"};
		for (size_t k = 0; cases[i].args[k]; k++)
			args[k + 1] = cases[i].args[k];
		struct run *r = run(NULL, args);
		cr_assert_eq(r->status, 2, "case %zu: exit %d: %s", i, r->status, r->err);
		cr_assert_eq(strncmp(r->err, cases[i].msg, strlen(cases[i].msg)), 0,
		             "case %zu:\nwant %s\ngot  %s", i, cases[i].msg, r->err);
		cr_assert_str_empty(r->out, "case %zu", i);
		free(r);
	}
}

Test(cli, simulate_help_documents_the_prometheus_input)
{
	struct run *r = RUN(NULL, "simulate", "--help");
	cr_assert_eq(r->status, 0);
	assert_contains(r->out, "--prometheus URL --query Q --start T --end T --step D");
	assert_contains(r->out, "(\"7d\": now - 7 days)");
	free(r);
}

Test(cli, simulate_takes_the_target_and_its_forecast_mode_from_a_config)
{
	/* simulate.yaml: averageValue 4, interval 30s, forecast holt in observe mode. Observe
	 * computes the forecast but never acts, so predictive costs exactly what reactive does. */
	struct run *r = RUN(NULL, "simulate", "--workload", "diurnal", "--days", "3", "-c",
	                    PS_TEST_DATA "/config/simulate.yaml", "--json");
	cr_assert_eq(r->status, 0, "%s", r->err);
	cJSON *j = cJSON_Parse(r->out);
	cr_assert_not_null(j);
	cr_assert_str_eq(item(j, "target")->valuestring, "jobs/Deployment/worker");
	cr_assert_eq(item(j, "intervalSeconds")->valueint, 30);
	cr_assert_float_eq(item(item(j, "params"), "target")->valuedouble, 4.0, 1e-12);
	const cJSON *pol = item(j, "policies");
	cr_assert_float_eq(item(item(pol, "predictive"), "replicaSeconds")->valuedouble,
	                   item(item(pol, "reactive"), "replicaSeconds")->valuedouble, 1e-9);
	cr_assert_str_eq(item(item(j, "forecast"), "model")->valuestring, "holt");
	cJSON_Delete(j);
	free(r);
	r = RUN(NULL, "simulate", "--workload", "diurnal", "-c",
	        PS_TEST_DATA "/config/simulate.yaml", "--target", "nosuch");
	cr_assert_eq(r->status, 2);
	assert_contains(r->err, "has no Autoscaler \"nosuch\"");
	free(r);
}
