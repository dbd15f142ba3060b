/* cmd_simulate.c -- `prescale simulate`: replays a recorded, generated or live Prometheus series
 * through the decision engine for the reactive, predictive and oracle policies and reports the
 * figures. */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "cfg.h"
#include "cli.h"
#include "http.h"
#include "prom.h"
#include "ps_alloc.h"
#include "ps_clock.h"
#include "ps_parse.h"
#include "sim.h"
#include "trace.h"
#include "workload.h"

/* The timeout of the range query of --prometheus without -c (with -c: prometheus.timeout). */
#define LIVE_TIMEOUT_MS ((int64_t)30000)

void cmd_simulate_usage(FILE *out)
{
	fputs("usage: prescale simulate (-f FILE | --workload diurnal [--seed N] [--days N] |\n"
	      "                          --prometheus URL --query Q --start T --end T --step D)\n"
	      "                         [-c CONFIG [--target NAME]] [--metric-target X]\n"
	      "                         [--startup D] [--lag D] [--capacity X] [--interval D]\n"
	      "                         [--score-from T] [--policy P] [--json] [--out DIR]\n"
	      "\n"
	      "Replays a series through the same decision engine as `prescale run`, with a\n"
	      "virtual clock, and compares three policies: reactive (the HPA arithmetic alone),\n"
	      "predictive (plus the forecast) and oracle (ceil(demand / target) with no delay).\n"
	      "\n"
	      "Input:\n"
	      "  -f, --file FILE       a CSV `timestamp,value` (seconds) or a saved Prometheus\n"
	      "                        query_range response (one matrix series)\n"
	      "      --workload NAME   a generated series instead: diurnal\n"
	      "      --seed N          the workload's seed (default 42)\n"
	      "      --days N          the workload's length in days (default 14; flash crowds\n"
	      "                        come only after the first two days)\n"
	      "      --prometheus URL  read the series from this Prometheus (one range query;\n"
	      "                        timeout 30s); with -c, the config's prometheus section\n"
	      "                        gives auth, TLS, headers, timeout and the URL if omitted\n"
	      "      --query Q         the PromQL query; it must return exactly one series\n"
	      "      --start T         first evaluation: RFC 3339 (2026-11-26T12:00:00Z),\n"
	      "                        \"now\", or a duration before now (\"7d\": now - 7 days)\n"
	      "      --end T           last evaluation, in the same forms (\"now\", \"0s\")\n"
	      "      --step D          the query's resolution (\"60s\"); at most 11000 points\n"
	      "                        from start to end, as Prometheus allows\n"
	      "\n"
	      "Policy (default: a built-in target: minReplicas 1, maxReplicas 10000, the\n"
	      "default HPA behavior, forecast model auto):\n"
	      "  -c, --config PATH     a prescale configuration (file or directory)\n"
	      "      --target NAME     its Autoscaler (name or namespace/kind/name); needed when\n"
	      "                        the configuration has several\n"
	      "      --metric-target X the AverageValue per replica, in the series' units\n"
	      "                        (default: the target's first metric; without a config,\n"
	      "                        the mean of the series / 10)\n"
	      "\n"
	      "Simulation:\n"
	      "      --startup D       a requested pod serves this much later (default 60s)\n"
	      "      --lag D           the metric shows demand this much later (default 30s)\n"
	      "      --capacity X      what one replica serves (default metric target / 0.8)\n"
	      "      --interval D      tick interval (default: the target's, else 15s)\n"
	      "      --score-from T    start of the scored window: RFC 3339, or a duration after\n"
	      "                        the first sample (default: after the forecaster's warm-up)\n"
	      "      --policy P        reactive, predictive, oracle or all (default all)\n"
	      "\n"
	      "Output:\n"
	      "      --json            the summary as JSON instead of a table\n"
	      "      --out DIR         also write DIR/steps.csv and DIR/chart.svg\n"
	      "  -h, --help            show this help\n"
	      "\n"
	      "Exit status: 0 success; 1 an output could not be written, or Prometheus could\n"
	      "not be reached or failed; 2 a bad option, input, configuration or query (PromQL\n"
	      "that Prometheus refuses, or a result that is not exactly one series).\n",
	      out);
}

static int usage_error(void)
{
	fputc('\n', stderr);
	cmd_simulate_usage(stderr);
	return CLI_EXIT_USAGE;
}

enum {
	OPT_WORKLOAD = 256,
	OPT_SEED,
	OPT_DAYS,
	OPT_TARGET,
	OPT_METRIC_TARGET,
	OPT_STARTUP,
	OPT_LAG,
	OPT_CAPACITY,
	OPT_INTERVAL,
	OPT_SCORE_FROM,
	OPT_POLICY,
	OPT_JSON,
	OPT_OUT,
	OPT_PROMETHEUS,
	OPT_QUERY,
	OPT_START,
	OPT_END,
	OPT_STEP,
};

struct sim_opts {
	const char *file, *workload, *config, *target, *out_dir, *score_from;
	const char *prom_url, *query, *start, *end, *step; /* --prometheus and its range */
	int64_t start_ms, end_ms, step_ms;                 /* the range, once resolved */
	int64_t seed, days;
	double metric_target;
	bool json;
	struct sim_params params;
	bool startup_set, lag_set, interval_set;
};

static int bad_value(const char *opt, const struct ps_diag *d)
{
	fprintf(stderr, "prescale simulate: --%s: %s\n", opt, ps_diag_msg(d));
	return usage_error();
}

/* Parses one option value; returns 0 or an exit code. */
static int parse_option(int c, const char *arg, const char *name, struct sim_opts *o)
{
	struct ps_diag d;
	ps_diag_clear(&d);
	enum ps_err e = PS_OK;
	switch (c) {
	case OPT_SEED:
		e = ps_parse_int64(arg, &o->seed, &d);
		if (!e && o->seed < 0)
			e = ps_diag_set(&d, PS_ERANGE, "must not be negative");
		break;
	case OPT_DAYS:
		e = ps_parse_int64(arg, &o->days, &d);
		if (!e && (o->days < 1 || o->days > 366))
			e = ps_diag_set(&d, PS_ERANGE, "must be from 1 to 366");
		break;
	case OPT_METRIC_TARGET:
		e = ps_parse_double(arg, &o->metric_target, &d);
		if (!e && !(o->metric_target > 0))
			e = ps_diag_set(&d, PS_ERANGE, "must be greater than 0");
		break;
	case OPT_CAPACITY:
		e = ps_parse_double(arg, &o->params.capacity, &d);
		if (!e && !(o->params.capacity > 0))
			e = ps_diag_set(&d, PS_ERANGE, "must be greater than 0");
		break;
	case OPT_STARTUP:
		e = ps_parse_duration_ms(arg, &o->params.startup_ms, &d);
		o->startup_set = true;
		break;
	case OPT_LAG:
		e = ps_parse_duration_ms(arg, &o->params.lag_ms, &d);
		o->lag_set = true;
		break;
	case OPT_INTERVAL:
		e = ps_parse_duration_ms(arg, &o->params.interval_ms, &d);
		if (!e && o->params.interval_ms < 1000)
			e = ps_diag_set(&d, PS_ERANGE, "must be at least 1s");
		o->interval_set = true;
		break;
	case OPT_POLICY: {
		static const char *const names[] = {"reactive", "predictive", "oracle"};
		bool all = strcmp(arg, "all") == 0;
		bool found = all;
		for (int i = 0; i < SIM_NPOLICIES; i++) {
			o->params.policies[i] = all || strcmp(arg, names[i]) == 0;
			found |= o->params.policies[i];
		}
		if (!found)
			e = ps_diag_set(&d, PS_EINVAL,
			                "unknown policy \"%s\" (reactive, predictive, oracle or all)",
			                arg);
		break;
	}
	default:
		break;
	}
	return e ? bad_value(name, &d) : 0;
}


/* The built-in target: what `hack/demo` and `hack/evaluate` simulate. */
static void default_target(struct sim_target *t)
{
	memset(t, 0, sizeof(*t));
	snprintf(t->name, sizeof(t->name), "built-in");
	t->spec.has_min_replicas = true;
	t->spec.min_replicas = 1;
	t->spec.max_replicas = 10000;
	t->spec.has_behavior = true;
	eng_behavior_default(&t->spec.behavior);
	eng_params_default(&t->params);
	fc_config_default(&t->forecast);
}

/* Fills <t> (and the interval, startup and lag not given on the command line) from the
 * Autoscaler <name> of the configuration at <path>, and <prom> (NULL: not wanted) from its
 * ControllerConfig's prometheus section. Returns 0 or an exit code; <prom> holds nothing then. */
static int target_from_config(struct sim_opts *o, struct sim_target *t, struct prom_config *prom)
{
	struct cfg *cfg = NULL;
	struct cfg_errors *errs = NULL;
	struct ps_diag d;
	ps_diag_clear(&d);
	enum ps_err e = cfg_load(o->config, &cfg, &errs, &d);
	if (e) {
		size_t n = cfg_errors_count(errs);
		if (n == 0)
			fprintf(stderr, "prescale simulate: %s\n", ps_diag_msg(&d));
		for (size_t i = 0; i < n; i++)
			fprintf(stderr, "%s\n", cfg_errors_at(errs, i));
		cfg_errors_free(errs);
		return e == PS_ENOMEM ? CLI_EXIT_RUNTIME : CLI_EXIT_USAGE;
	}
	cfg_errors_free(errs);
	const struct cfg_target *ct = NULL;
	size_t n = cfg_target_count(cfg);
	for (size_t i = 0; i < n && o->target; i++) {
		const struct cfg_target *c = cfg_target_at(cfg, i);
		if (strcmp(c->name, o->target) == 0 || strcmp(c->key, o->target) == 0)
			ct = c;
	}
	if (!o->target && n == 1)
		ct = cfg_target_at(cfg, 0);
	if (!ct) {
		if (o->target)
			fprintf(stderr, "prescale simulate: %s has no Autoscaler \"%s\"\n", o->config,
			        o->target);
		else
			fprintf(stderr,
			        "prescale simulate: %s has %zu Autoscalers: choose one with --target\n",
			        o->config, n);
		cfg_unref(cfg);
		return CLI_EXIT_USAGE;
	}
	default_target(t);
	snprintf(t->name, sizeof(t->name), "%s", ct->key);
	t->spec = ct->spec;
	t->params = ct->params;
	const struct eng_target *mt = &ct->spec.metrics[0].target;
	if (mt->has_average_value)
		t->target = (double)mt->average_value_milli / 1000.0;
	else if (mt->has_value)
		t->target = (double)mt->value_milli / 1000.0;
	if (!o->interval_set)
		o->params.interval_ms = ct->interval_ms;
	if (ct->forecast.enabled) {
		t->forecast.kind = cfg_model_kind(ct->forecast.model);
		t->forecast.season_ms = ct->forecast.season_ms;
		t->forecast.history_ms = ct->forecast.history_ms;
		t->forecast.quantile = ct->forecast.quantile;
		t->observe = ct->forecast.mode == CFG_FORECAST_OBSERVE;
		if (!o->startup_set)
			o->params.startup_ms = ct->forecast.pod_startup_ms;
		if (!o->lag_set)
			o->params.lag_ms = ct->forecast.metric_lag_ms;
	}
	if (prom) {
		e = prom_config_from_cfg(&cfg_controller(cfg)->prometheus, prom, &d);
		if (e) {
			fprintf(stderr, "prescale simulate: %s\n", ps_diag_msg(&d));
			cfg_unref(cfg);
			return CLI_EXIT_RUNTIME;
		}
	}
	cfg_unref(cfg);
	if (!(t->target > 0) && !(o->metric_target > 0)) {
		prom_config_release(prom);
		fprintf(stderr,
		        "prescale simulate: the first metric of %s has no value or averageValue "
		        "target: give the per-replica target with --metric-target\n",
		        t->name);
		return CLI_EXIT_USAGE;
	}
	return 0;
}

/* --score-from: RFC 3339, or a duration after the first sample. */
static int resolve_score_from(struct sim_opts *o, const struct trace *tr)
{
	if (!o->score_from)
		return 0;
	struct ps_diag d;
	ps_diag_clear(&d);
	int64_t ms;
	const char *s = o->score_from[0] == '+' ? o->score_from + 1 : o->score_from;
	if (ps_parse_duration_ms(s, &ms, NULL) == PS_OK) {
		o->params.score_from_ms = tr->ts_ms[0] + ms;
		return 0;
	}
	if (ps_clock_parse_rfc3339(o->score_from, &ms, &d) == PS_OK) {
		o->params.score_from_ms = ms;
		return 0;
	}
	fprintf(stderr,
	        "prescale simulate: --score-from: \"%s\" is neither a duration (\"2d\") nor an "
	        "RFC 3339 time\n",
	        o->score_from);
	return usage_error();
}

/* ---- --prometheus ---- */

/* --start and --end: RFC 3339, "now", or a duration before <now_ms>. Returns 0 or an exit
 * code. */
static int parse_time(const char *opt, const char *arg, int64_t now_ms, int64_t *out)
{
	int64_t ms;
	if (strcmp(arg, "now") == 0) {
		*out = now_ms;
		return 0;
	}
	if (ps_parse_duration_ms(arg, &ms, NULL) == PS_OK) {
		*out = now_ms - ms;
		return 0;
	}
	if (ps_clock_parse_rfc3339(arg, &ms, NULL) == PS_OK) {
		*out = ms;
		return 0;
	}
	fprintf(stderr,
	        "prescale simulate: --%s: \"%s\" is neither an RFC 3339 time "
	        "(\"2026-11-26T12:00:00Z\"), \"now\", nor a duration before now (\"7d\")\n",
	        opt, arg);
	return usage_error();
}

/* Works out the range of --prometheus from --start, --end and --step, and checks it against
 * Prometheus' limit of points per series before anything is sent. Returns 0 or an exit code. */
static int resolve_range(struct sim_opts *o)
{
	struct ps_diag d;
	ps_diag_clear(&d);
	int64_t now_ms = ps_clock_wall_ms(ps_clock_real());
	int rc = parse_time("start", o->start, now_ms, &o->start_ms);
	if (!rc)
		rc = parse_time("end", o->end, now_ms, &o->end_ms);
	if (rc)
		return rc;
	enum ps_err e = ps_parse_duration_ms(o->step, &o->step_ms, &d);
	if (!e && o->step_ms <= 0)
		e = ps_diag_set(&d, PS_ERANGE, "must be greater than 0");
	if (e)
		return bad_value("step", &d);
	if (o->end_ms <= o->start_ms) {
		char s1[PS_RFC3339_MS_LEN + 1], s2[PS_RFC3339_MS_LEN + 1];
		fprintf(stderr, "prescale simulate: --end (%s) must be after --start (%s)\n",
		        ps_clock_format_rfc3339(o->end_ms, s1, sizeof(s1)),
		        ps_clock_format_rfc3339(o->start_ms, s2, sizeof(s2)));
		return usage_error();
	}
	/* Both are Unix ms, far from the int64 limits. Prometheus refuses more points than this
	 * per series; the smallest step that fits is rounded up to a whole second. */
	int64_t span = o->end_ms - o->start_ms;
	int64_t points = span / o->step_ms + 1;
	if (points > PROM_MAX_RANGE_POINTS) {
		int64_t min_step = (span + PROM_MAX_RANGE_POINTS - 2) / (PROM_MAX_RANGE_POINTS - 1);
		min_step = (min_step + 999) / 1000 * 1000;
		char span_s[32], step_s[32], min_s[32];
		fprintf(stderr,
		        "prescale simulate: --start to --end (%s) at --step %s is %" PRId64
		        " points per series; Prometheus allows %" PRId64
		        ": use a larger step (at least %s)\n",
		        ps_format_duration_ms(span, span_s, sizeof(span_s)),
		        ps_format_duration_ms(o->step_ms, step_s, sizeof(step_s)), points,
		        PROM_MAX_RANGE_POINTS,
		        ps_format_duration_ms(min_step, min_s, sizeof(min_s)));
		return usage_error();
	}
	return 0;
}

/* Writes <url> without userinfo (a password must not reach a report or a message) and without
 * trailing slashes into <out>. */
static void url_for_messages(const char *url, char *out, size_t size)
{
	const char *rest = strstr(url, "://");
	rest = rest ? rest + 3 : url;
	size_t authority = strcspn(rest, "/");
	const char *at = NULL;
	for (const char *p = rest; p < rest + authority; p++)
		if (*p == '@')
			at = p;
	if (at)
		snprintf(out, size, "%.*s%s", (int)(rest - url), url, at + 1);
	else
		snprintf(out, size, "%s", url);
	size_t n = strlen(out);
	while (n > 0 && out[n - 1] == '/')
		out[--n] = '\0';
}

/* The exit code of a failed query: 2 for what the user can fix in the command or the
 * configuration (PromQL Prometheus refuses, a bad URL or parameter), 1 when Prometheus cannot be
 * reached, refuses the credentials or fails. */
static int live_exit_code(enum ps_err e)
{
	switch (e) {
	case PS_EPARSE:
	case PS_ERANGE:
	case PS_EINVAL:
	case PS_EINVALID:
	case PS_ECONFIG:
		return CLI_EXIT_USAGE;
	default:
		return CLI_EXIT_RUNTIME;
	}
}

/* Prints the message of <d>, followed by <url> unless the message already names it. */
static void live_error(const struct ps_diag *d, const char *url)
{
	const char *m = ps_diag_msg(d);
	if (strstr(m, url))
		fprintf(stderr, "prescale simulate: %s\n", m);
	else
		fprintf(stderr, "prescale simulate: %s (%s)\n", m, url);
}

/* Runs the range query of --prometheus on the server of <pc> (whose contents it takes, success
 * or not) and turns its one series into <tr>. Returns 0 or an exit code. */
static int fetch_series(const struct sim_opts *o, struct prom_config *pc, struct trace *tr)
{
	struct ps_diag d;
	ps_diag_clear(&d);
	if (o->prom_url) {
		ps_free(pc->url);
		pc->url = ps_strdup(o->prom_url);
		if (!pc->url) {
			prom_config_release(pc);
			fprintf(stderr, "prescale simulate: out of memory\n");
			return CLI_EXIT_RUNTIME;
		}
	}
	if (!o->config)
		pc->timeout_ms = LIVE_TIMEOUT_MS;
	char url[256];
	url_for_messages(pc->url ? pc->url : "", url, sizeof(url));
	enum ps_err e = http_global_init(&d);
	if (e) {
		prom_config_release(pc);
		fprintf(stderr, "prescale simulate: %s\n", ps_diag_msg(&d));
		return CLI_EXIT_RUNTIME;
	}
	struct prom_client *c = NULL;
	struct prom_result res;
	memset(&res, 0, sizeof(res));
	int rc = 0;
	e = prom_client_new(pc, &c, &d);
	if (!e) {
		struct prom_query q = {.kind = PROM_QUERY_RANGE,
		                       .promql = o->query,
		                       .start_ms = o->start_ms,
		                       .end_ms = o->end_ms,
		                       .step_ms = o->step_ms};
		e = prom_client_query(c, &q, NULL, &res, &d);
	}
	if (e) {
		live_error(&d, url);
		rc = live_exit_code(e);
		goto out;
	}
	for (size_t i = 0; i < res.n_warnings; i++)
		fprintf(stderr, "prescale simulate: warning from %s: %s\n", url, res.warnings[i]);
	/* The source names the URL and the query; a long one is cut (it only labels reports). */
	char source[TRACE_SOURCE_MAX];
	int sn = snprintf(source, sizeof(source), "%s query ", url);
	if (sn >= 0 && (size_t)sn < sizeof(source))
		snprintf(source + sn, sizeof(source) - (size_t)sn, "%s", o->query);
	e = trace_from_prom_result(&res, source, tr, &d);
	if (e) {
		fprintf(stderr, "prescale simulate: %s\n", ps_diag_msg(&d));
		rc = e == PS_ENOMEM ? CLI_EXIT_RUNTIME : CLI_EXIT_USAGE;
	}
out:
	prom_result_release(&res);
	prom_client_free(c);
	http_global_cleanup();
	return rc;
}

/* ---- the series ---- */

/* Loads the series of -f, --workload or --prometheus (<pc>, taken) into <tr>. Returns 0 or an
 * exit code. */
static int load_series(const struct sim_opts *o, struct prom_config *pc, struct trace *tr)
{
	if (o->query)
		return fetch_series(o, pc, tr);
	struct ps_diag d;
	ps_diag_clear(&d);
	enum ps_err e;
	if (o->workload) {
		enum workload_kind k;
		e = workload_parse_name(o->workload, &k, &d);
		if (!e) {
			struct workload_params wp = workload_params_default();
			wp.seed = (uint64_t)o->seed;
			wp.duration_ms = o->days * 86400000LL;
			/* Flash crowds only come after the two-day warm-up. */
			if (o->days <= 2)
				wp.flash_crowds = 0;
			e = workload_diurnal(&wp, tr, &d);
		}
	} else {
		e = trace_load(o->file, tr, &d);
	}
	if (!e)
		return 0;
	fprintf(stderr, "prescale simulate: %s\n", ps_diag_msg(&d));
	return e == PS_ENOMEM || e == PS_EIO || e == PS_ENOENT ? CLI_EXIT_RUNTIME : CLI_EXIT_USAGE;
}

/* Writes one report file DIR/<name>. Returns 0 or an exit code. */
static int write_file(const char *dir, const char *name, const struct sim_result *r,
                      enum ps_err (*writer)(const struct sim_result *, FILE *))
{
	char path[4096];
	int n = snprintf(path, sizeof(path), "%s/%s", dir, name);
	if (n < 0 || (size_t)n >= sizeof(path)) {
		fprintf(stderr, "prescale simulate: --out: path too long\n");
		return CLI_EXIT_USAGE;
	}
	FILE *f = fopen(path, "w");
	if (!f) {
		fprintf(stderr, "prescale simulate: cannot write %s: %s\n", path, strerror(errno));
		return CLI_EXIT_RUNTIME;
	}
	enum ps_err e = writer(r, f);
	if (fclose(f) != 0 && !e)
		e = PS_EIO;
	if (e) {
		fprintf(stderr, "prescale simulate: writing %s failed: %s\n", path, ps_strerror(e));
		return CLI_EXIT_RUNTIME;
	}
	return 0;
}

/* mkdir -p: creates <dir> and its missing parents. Returns 0, or -1 with errno set. */
static int mkdir_p(const char *dir)
{
	char path[4096];
	size_t len = strlen(dir);
	if (len == 0 || len >= sizeof(path)) {
		errno = ENAMETOOLONG;
		return -1;
	}
	memcpy(path, dir, len + 1);
	for (size_t i = 1; i <= len; i++) {
		if (path[i] != '/' && path[i] != '\0')
			continue;
		char c = path[i];
		path[i] = '\0';
		if (mkdir(path, 0777) != 0 && errno != EEXIST)
			return -1;
		path[i] = c;
	}
	return 0;
}

static int write_outputs(const struct sim_opts *o, const struct sim_result *r)
{
	enum ps_err e = o->json ? sim_write_json(r, stdout) : sim_write_table(r, stdout);
	if (e || fflush(stdout) != 0) {
		fprintf(stderr, "prescale simulate: writing the summary failed\n");
		return CLI_EXIT_RUNTIME;
	}
	if (!o->out_dir)
		return 0;
	if (mkdir_p(o->out_dir) != 0) {
		fprintf(stderr, "prescale simulate: cannot create %s: %s\n", o->out_dir,
		        strerror(errno));
		return CLI_EXIT_RUNTIME;
	}
	int rc = write_file(o->out_dir, "steps.csv", r, sim_write_steps_csv);
	if (!rc)
		rc = write_file(o->out_dir, "chart.svg", r, sim_write_svg);
	if (!rc && !o->json)
		printf("\nwrote %s/steps.csv and %s/chart.svg\n", o->out_dir, o->out_dir);
	return rc;
}

int cmd_simulate(int argc, char **argv)
{
	static const struct option longopts[] = {
	    {"file", required_argument, NULL, 'f'},
	    {"config", required_argument, NULL, 'c'},
	    {"workload", required_argument, NULL, OPT_WORKLOAD},
	    {"seed", required_argument, NULL, OPT_SEED},
	    {"days", required_argument, NULL, OPT_DAYS},
	    {"target", required_argument, NULL, OPT_TARGET},
	    {"metric-target", required_argument, NULL, OPT_METRIC_TARGET},
	    {"startup", required_argument, NULL, OPT_STARTUP},
	    {"lag", required_argument, NULL, OPT_LAG},
	    {"capacity", required_argument, NULL, OPT_CAPACITY},
	    {"interval", required_argument, NULL, OPT_INTERVAL},
	    {"score-from", required_argument, NULL, OPT_SCORE_FROM},
	    {"policy", required_argument, NULL, OPT_POLICY},
	    {"json", no_argument, NULL, OPT_JSON},
	    {"out", required_argument, NULL, OPT_OUT},
	    {"prometheus", required_argument, NULL, OPT_PROMETHEUS},
	    {"query", required_argument, NULL, OPT_QUERY},
	    {"start", required_argument, NULL, OPT_START},
	    {"end", required_argument, NULL, OPT_END},
	    {"step", required_argument, NULL, OPT_STEP},
	    {"help", no_argument, NULL, 'h'},
	    {NULL, 0, NULL, 0},
	};
	struct sim_opts o;
	memset(&o, 0, sizeof(o));
	o.seed = 42;
	o.days = 14;
	sim_params_default(&o.params);
	optind = 0;
	opterr = 0;
	int c, idx;
	while ((c = getopt_long(argc, argv, "+f:c:h", longopts, &idx)) != -1) {
		const char *name = NULL;
		for (size_t i = 0; longopts[i].name; i++)
			if (longopts[i].val == c)
				name = longopts[i].name;
		int rc = 0;
		switch (c) {
		case 'f':
			o.file = optarg;
			break;
		case 'c':
			o.config = optarg;
			break;
		case OPT_WORKLOAD:
			o.workload = optarg;
			break;
		case OPT_TARGET:
			o.target = optarg;
			break;
		case OPT_SCORE_FROM:
			o.score_from = optarg;
			break;
		case OPT_JSON:
			o.json = true;
			break;
		case OPT_OUT:
			o.out_dir = optarg;
			break;
		case OPT_PROMETHEUS:
			o.prom_url = optarg;
			break;
		case OPT_QUERY:
			o.query = optarg;
			break;
		case OPT_START:
			o.start = optarg;
			break;
		case OPT_END:
			o.end = optarg;
			break;
		case OPT_STEP:
			o.step = optarg;
			break;
		case 'h':
			cmd_simulate_usage(stdout);
			return CLI_EXIT_OK;
		case '?':
			fprintf(stderr, "prescale simulate: unknown option or missing value: %s\n",
			        argv[optind - 1]);
			return usage_error();
		default:
			rc = parse_option(c, optarg, name ? name : "?", &o);
			break;
		}
		if (rc)
			return rc;
	}
	if (optind < argc) {
		fprintf(stderr, "prescale simulate: unexpected argument \"%s\"\n", argv[optind]);
		return usage_error();
	}
	bool live = o.prom_url || o.query || o.start || o.end || o.step;
	int sources = (o.file != NULL) + (o.workload != NULL) + live;
	if (sources != 1) {
		fprintf(stderr, sources
		                    ? "prescale simulate: -f, --workload and --prometheus are "
		                      "exclusive: give one series\n"
		                    : "prescale simulate: give a series with -f FILE, a --workload "
		                      "or --prometheus URL --query Q\n");
		return usage_error();
	}
	if (live && (!o.query || !o.start || !o.end || !o.step)) {
		fprintf(stderr,
		        "prescale simulate: a Prometheus range needs --query, --start, --end and "
		        "--step (missing: %s)\n",
		        !o.query   ? "--query"
		        : !o.start ? "--start"
		        : !o.end   ? "--end"
		                   : "--step");
		return usage_error();
	}
	if (live && !o.prom_url && !o.config) {
		fprintf(stderr, "prescale simulate: --query needs --prometheus URL (or -c CONFIG, "
		                "whose prometheus.url is used)\n");
		return usage_error();
	}
	if (o.target && !o.config) {
		fprintf(stderr, "prescale simulate: --target needs -c CONFIG\n");
		return usage_error();
	}
	int rc = live ? resolve_range(&o) : 0;
	if (rc)
		return rc;

	struct sim_target t;
	default_target(&t);
	struct prom_config pc;
	prom_config_init(&pc);
	rc = o.config ? target_from_config(&o, &t, live ? &pc : NULL) : 0;
	if (rc)
		return rc;
	struct trace tr;
	memset(&tr, 0, sizeof(tr));
	rc = load_series(&o, &pc, &tr);
	prom_config_release(&pc); /* left empty by load_series when it took it */
	if (rc)
		return rc;
	rc = resolve_score_from(&o, &tr);
	if (!rc) {
		if (o.metric_target > 0) {
			t.target = o.metric_target;
		} else if (!o.config) {
			double sum = 0;
			for (size_t i = 0; i < tr.n; i++)
				sum += tr.value[i];
			t.target = sum / (double)tr.n / 10.0;
		}
		struct sim_result r;
		struct ps_diag d;
		ps_diag_clear(&d);
		enum ps_err e = sim_run(&tr, &t, &o.params, &r, &d);
		if (e) {
			fprintf(stderr, "prescale simulate: %s\n", ps_diag_msg(&d));
			rc = e == PS_ENOMEM ? CLI_EXIT_RUNTIME : CLI_EXIT_USAGE;
		} else {
			rc = write_outputs(&o, &r);
			sim_result_release(&r);
		}
	}
	trace_release(&tr);
	return rc;
}
