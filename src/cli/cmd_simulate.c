/* cmd_simulate.c -- `prescale simulate`: replays a recorded (or generated) series through the
 * decision engine for the reactive, predictive and oracle policies and reports the figures. */
#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "cfg.h"
#include "cli.h"
#include "ps_clock.h"
#include "ps_parse.h"
#include "sim.h"
#include "trace.h"
#include "workload.h"

void cmd_simulate_usage(FILE *out)
{
	fputs("usage: prescale simulate (-f FILE | --workload diurnal [--seed N] [--days N])\n"
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
	      "Exit status: 0 success, 1 an output could not be written, 2 a bad option, input\n"
	      "or configuration.\n",
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
};

struct sim_opts {
	const char *file, *workload, *config, *target, *out_dir, *score_from;
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

static enum fc_kind fc_kind_of(enum cfg_model m)
{
	switch (m) {
	case CFG_MODEL_AUTO:
		return FC_AUTO;
	case CFG_MODEL_SEASONAL_NAIVE:
		return FC_SNAIVE;
	case CFG_MODEL_HOLT:
		return FC_HOLT;
	case CFG_MODEL_HOLT_WINTERS_ADDITIVE:
		return FC_HW_ADD;
	case CFG_MODEL_HOLT_WINTERS_MULTIPLICATIVE:
		return FC_HW_MUL;
	case CFG_MODEL_LINEAR:
		return FC_LINREG;
	}
	return FC_AUTO;
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
 * Autoscaler <name> of the configuration at <path>. Returns 0 or an exit code. */
static int target_from_config(struct sim_opts *o, struct sim_target *t)
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
		t->forecast.kind = fc_kind_of(ct->forecast.model);
		t->forecast.season_ms = ct->forecast.season_ms;
		t->forecast.history_ms = ct->forecast.history_ms;
		t->forecast.quantile = ct->forecast.quantile;
		t->observe = ct->forecast.mode == CFG_FORECAST_OBSERVE;
		if (!o->startup_set)
			o->params.startup_ms = ct->forecast.pod_startup_ms;
		if (!o->lag_set)
			o->params.lag_ms = ct->forecast.metric_lag_ms;
	}
	cfg_unref(cfg);
	if (!(t->target > 0) && !(o->metric_target > 0)) {
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

static int load_series(const struct sim_opts *o, struct trace *tr)
{
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
	if (!o.file == !o.workload) {
		fprintf(stderr, "prescale simulate: give a series with -f FILE or a --workload\n");
		return usage_error();
	}
	if (o.target && !o.config) {
		fprintf(stderr, "prescale simulate: --target needs -c CONFIG\n");
		return usage_error();
	}

	struct sim_target t;
	default_target(&t);
	int rc = o.config ? target_from_config(&o, &t) : 0;
	if (rc)
		return rc;
	struct trace tr;
	memset(&tr, 0, sizeof(tr));
	rc = load_series(&o, &tr);
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
