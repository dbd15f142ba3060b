/* cmd_run.c -- `prescale run`: the controller. With --once, one tick of every target and a
 * table of what prescale would do (or did); otherwise the runtime: one worker per target,
 * reload on SIGHUP and on configuration changes, graceful stop on SIGTERM/SIGINT.
 *
 * DESIGN
 * The long-running mode follows runtime.h: the signal thread first (so every later thread
 * inherits the blocked signals), then curl, the Kubernetes connection, the job environment
 * (tick.h) and the supervisor. The main thread then waits on a condvar (CLOCK_MONOTONIC) that
 * the signal callbacks signal; it wakes at least every RUN_POLL_MS to poll the configuration
 * watcher. A reload parses the whole configuration first; a bad one is logged with every
 * file:line:col message and the old one keeps running. With leaderElection.enabled the
 * supervisor runs only while this replica holds the Lease (see "leader election" below).
 * --once needs no runtime (and ignores leader election): a few threads run start + tick + stop
 * on each target directly.
 */
#include <errno.h>
#include <getopt.h>
#include <malloc.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cfg.h"
#include "cli.h"
#include "http.h"
#include "httpd.h"
#include "kubeconfig.h"
#include "leader.h"
#include "ps_alloc.h"
#include "ps_buf.h"
#include "ps_clock.h"
#include "ps_log.h"
#include "runtime.h"
#include "tick.h"

#define RUN_POLL_MS 2000           /* configuration watcher cadence */
#define RUN_STOP_TIMEOUT_MS 5000   /* rt_stop waits this long before logging overdue workers */
#define RUN_GRACE_MS 10000         /* after this, a graceful stop becomes an exit */
#define RUN_ONCE_THREADS 4         /* targets ticked at the same time by --once */
#define RUN_ONCE_DEADLINE_MS 60000 /* --once: a target's tick, warm-up included */

void cmd_run_usage(FILE *out)
{
	fputs(
	    "usage: prescale run -c CONFIG [--kubeconfig FILE] [--context NAME]\n"
	    "                    [--dry-run | --server-dry-run] [--once [-o table|json]]\n"
	    "                    [--listen ADDR] [--log-format text|json] [--log-level LEVEL]\n"
	    "\n"
	    "Runs the controller: every interval, for every Autoscaler of CONFIG (a file or a\n"
	    "directory), reads the scale, queries Prometheus, decides like the HPA controller\n"
	    "(plus forecasts, scale to zero, fallback) and writes the scale. One log line per\n"
	    "decision. SIGHUP, or a change of CONFIG, reloads it (an invalid one is rejected and\n"
	    "the running one kept); SIGTERM or SIGINT stops gracefully, a second one at once.\n"
	    "\n"
	    "Options:\n"
	    "  -c, --config PATH     the configuration (file or directory)\n"
	    "      --kubeconfig FILE the kubeconfig (default: $KUBECONFIG, in-cluster, or\n"
	    "                        ~/.kube/config, as kubectl chooses)\n"
	    "      --context NAME    the kubeconfig context to use\n"
	    "      --dry-run         decide and report, write nothing (no PATCH, no Event)\n"
	    "      --server-dry-run  send the writes with dryRun=All: the API server validates\n"
	    "                        them and stores nothing (no Event)\n"
	    "      --once            one tick of every target, then a table on stdout: TARGET,\n"
	    "                        CURRENT, DESIRED, each metric's VALUE/TARGET and FORECAST,\n"
	    "                        REASON. With --dry-run: what prescale would do right now\n"
	    "  -o, --output FMT      with --once: table (the default) or json (one record per\n"
	    "                        line)\n"
	    "      --listen ADDR     [host]:port of the HTTP endpoints (default: the config's)\n"
	    "      --log-format FMT  text (the default) or json\n"
	    "      --log-level LEVEL debug, info (the default), warn or error\n"
	    "  -h, --help            show this help\n"
	    "\n"
	    "Exit status: 0 success (--once: every target decided without error), 1 a runtime\n"
	    "error (--once: some target failed), 2 a bad option or an invalid configuration.\n",
	    out);
}

struct run_opts {
	const char *config;
	const char *kubeconfig;
	const char *context;
	enum tick_write_mode mode;
	bool once;
	bool json_output;
	const char *listen;
};

static int usage_error(void)
{
	fputc('\n', stderr);
	cmd_run_usage(stderr);
	return CLI_EXIT_USAGE;
}

/* Loads <path>; prints every error (file:line:col) on failure. */
static enum ps_err load_config(const char *path, struct cfg **out)
{
	struct cfg_errors *errs = NULL;
	struct ps_diag d;
	ps_diag_clear(&d);
	enum ps_err e = cfg_load(path, out, &errs, &d);
	if (e) {
		size_t n = cfg_errors_count(errs);
		if (n == 0)
			fprintf(stderr, "prescale run: %s\n", ps_diag_msg(&d));
		for (size_t i = 0; i < n; i++)
			fprintf(stderr, "%s\n", cfg_errors_at(errs, i));
		if (cfg_errors_truncated(errs))
			fprintf(stderr,
			        "prescale run: more than %d errors; the rest are not shown\n",
			        CFG_MAX_ERRORS);
	}
	cfg_errors_free(errs);
	return e;
}

/* ---- --once ---- */

struct once {
	struct tick_env *env;
	struct cfg *cfg;
	struct tick_record *recs;
	size_t n;
	atomic_size_t next;
};

static void once_target(struct once *o, size_t i)
{
	const struct cfg_target *t = cfg_target_at(o->cfg, i);
	struct tick_record *rec = &o->recs[i];
	struct ps_diag d;
	ps_diag_clear(&d);
	void *state = NULL;
	enum ps_err e = tick_job_ops.start(o->env, t, &state, &d);
	if (!e) {
		struct ctl_tick_ctx tc = {
		    .now_wall_ms = ps_clock_wall_ms(ps_clock_real()),
		    .deadline_mono_ms = ps_clock_mono_ms(ps_clock_real()) + RUN_ONCE_DEADLINE_MS,
		};
		e = tick_job_ops.tick(o->env, state, t, &tc, &d);
		if (tick_state_record(state, rec)) {
			tick_job_ops.stop(o->env, state);
			return;
		}
		tick_job_ops.stop(o->env, state);
	}
	memset(rec, 0, sizeof(*rec));
	snprintf(rec->key, sizeof(rec->key), "%s", t->key);
	rec->outcome = TICK_OUT_FAILED;
	rec->err = e ? e : PS_ESTATE;
	snprintf(rec->error, sizeof(rec->error), "%s", ps_diag_msg(&d));
}

static void *once_thread(void *arg)
{
	struct once *o = arg;
	for (;;) {
		size_t i = atomic_fetch_add(&o->next, 1);
		if (i >= o->n)
			return NULL;
		once_target(o, i);
	}
}

static int run_once(const struct run_opts *ro, struct cfg *cfg, struct tick_env *env)
{
	struct once o = {.env = env, .cfg = cfg, .n = cfg_target_count(cfg)};
	atomic_init(&o.next, 0);
	o.recs = o.n ? ps_calloc(o.n, sizeof(*o.recs)) : NULL;
	if (o.n && !o.recs) {
		fputs("prescale run: out of memory\n", stderr);
		return CLI_EXIT_RUNTIME;
	}
	pthread_t th[RUN_ONCE_THREADS];
	size_t n_th = 0;
	for (size_t i = 0; i < RUN_ONCE_THREADS && i + 1 < o.n; i++)
		if (pthread_create(&th[n_th], NULL, once_thread, &o) == 0)
			n_th++;
	once_thread(&o);
	for (size_t i = 0; i < n_th; i++)
		pthread_join(th[i], NULL);

	int rc = CLI_EXIT_OK;
	for (size_t i = 0; i < o.n; i++)
		if (o.recs[i].outcome != TICK_OUT_DECIDED || o.recs[i].err != PS_OK)
			rc = CLI_EXIT_RUNTIME;
	struct ps_buf b;
	ps_buf_init(&b, (size_t)64 << 20);
	enum ps_err e = PS_OK;
	if (ro->json_output) {
		for (size_t i = 0; i < o.n && !e; i++) {
			e = tick_record_json(&b, &o.recs[i]);
			if (!e)
				e = ps_buf_append_str(&b, "\n");
		}
	} else {
		e = tick_table_render(&b, o.recs, o.n);
		const char *foot = ro->mode == TICK_WRITE_DRY_RUN
		                       ? "\ndry run: nothing was written.\n"
		                   : ro->mode == TICK_WRITE_SERVER_DRY_RUN
		                       ? "\nserver dry run: the API server validated the writes "
		                         "(dryRun=All) and stored nothing.\n"
		                       : NULL;
		if (!e && o.n == 0)
			e = ps_buf_append_str(&b, "(the configuration has no Autoscaler)\n");
		if (!e && foot)
			e = ps_buf_append_str(&b, foot);
	}
	if (e) {
		fprintf(stderr, "prescale run: rendering the output: %s\n", ps_strerror(e));
		rc = CLI_EXIT_RUNTIME;
	} else if (fwrite(ps_buf_cstr(&b), 1, b.len, stdout) != b.len || fflush(stdout) != 0) {
		rc = CLI_EXIT_RUNTIME;
	}
	ps_buf_release(&b);
	ps_free(o.recs);
	return rc;
}

/* ---- the long-running mode ---- */

struct run_ctl {
	pthread_mutex_t lock;
	pthread_cond_t cond; /* CLOCK_MONOTONIC */
	bool stop;           /* protected by <lock> */
	bool reload;         /* protected by <lock> */
	/* Leader election (see "leader election" below). */
	struct kcfg *kcfg;        /* borrowed: the elector's connection */
	pthread_cond_t lead_cond; /* CLOCK_MONOTONIC: stopped_leading waits on it */
	bool lead;                /* protected by <lock>: the elector says we lead */
	bool lead_changed;        /* protected by <lock>: the main thread has to look */
	bool workers_down;        /* protected by <lock>: no worker runs since the last loss */
	bool lead_closing;        /* protected by <lock>: shutting down, workers already stopped */
};

static void on_stop(void *arg, int signo)
{
	struct run_ctl *c = arg;
	pthread_mutex_lock(&c->lock);
	c->stop = true;
	pthread_cond_signal(&c->cond);
	pthread_mutex_unlock(&c->lock);
	ps_log(PS_LOG_INFO, "stopping", "signal", signo == SIGINT ? "SIGINT" : "SIGTERM", NULL);
}

static void on_exit_now(void *arg, int signo)
{
	(void)arg;
	static const char msg[] = "prescale: exiting now\n";
	ssize_t w = write(2, msg, sizeof(msg) - 1);
	(void)w;
	_exit(signo ? 128 + signo : CLI_EXIT_RUNTIME);
}

static void on_reload(void *arg)
{
	struct run_ctl *c = arg;
	pthread_mutex_lock(&c->lock);
	c->reload = true;
	pthread_cond_signal(&c->cond);
	pthread_mutex_unlock(&c->lock);
}

/* Loads the configuration again and hands it to the runtime and the jobs. */
static void reload(const struct run_opts *ro, struct rt *rt, struct tick_env *env, const char *why)
{
	struct cfg *next = NULL;
	struct cfg_errors *errs = NULL;
	struct ps_diag d;
	ps_diag_clear(&d);
	enum ps_err e = cfg_load(ro->config, &next, &errs, &d);
	if (e) {
		for (size_t i = 1; i < cfg_errors_count(errs); i++)
			ps_log(PS_LOG_ERROR, "invalid configuration", "error",
			       cfg_errors_at(errs, i), NULL);
		cfg_errors_free(errs);
		rt_reload_failed(rt, &d);
		return;
	}
	cfg_errors_free(errs);
	struct rt_reload_result res;
	e = rt_reload(rt, next, &res, &d);
	if (e) {
		ps_log(PS_LOG_ERROR, "reload rejected", "trigger", why, "error", ps_diag_msg(&d),
		       NULL);
	} else {
		tick_env_set_config(env, next);
		PS_LOG_FIELDS(PS_LOG_INFO, "configuration reloaded", PS_LOG_STR("trigger", why),
		              PS_LOG_INT("added", (int64_t)res.added),
		              PS_LOG_INT("removed", (int64_t)res.removed),
		              PS_LOG_INT("changed", (int64_t)res.changed),
		              PS_LOG_INT("unchanged", (int64_t)res.unchanged),
		              PS_LOG_INT("failed", (int64_t)res.failed),
		              PS_LOG_INT("overdue", (int64_t)res.overdue));
	}
	cfg_unref(next);
}

/* ---- leader election (leader.h) ----
 * With leaderElection.enabled only the replica that holds the Lease runs workers. The elector
 * has its own thread; its callbacks only set flags under <ctl->lock> and wake the main thread,
 * which alone starts and stops the runtime (runtime.h: one controlling thread). On a loss,
 * stopped_leading waits on <lead_cond> until the main thread has stopped and joined every
 * worker (rt_stop fires their cancel tokens first), so the elector writes nothing before the
 * workers are gone. On shutdown the workers stop first, then the elector releases the Lease.
 * A configuration change seen while standing by is applied by a reload when a term starts.
 */
struct run_lead {
	struct leader *le; /* NULL: leader election is off and this process leads */
	struct cfg *cur;   /* owned: the configuration the next term starts with */
	bool stale;        /* the configuration changed while standing by */
};

static void lead_wake(struct run_ctl *c, int lead)
{
	pthread_mutex_lock(&c->lock);
	if (lead >= 0)
		c->lead = lead > 0;
	c->lead_changed = true;
	pthread_cond_signal(&c->cond);
	pthread_mutex_unlock(&c->lock);
}

static void lead_on_started(void *arg)
{
	lead_wake(arg, 1);
}

static void lead_on_new_leader(void *arg, const char *identity)
{
	(void)identity; /* the elector logs it; the main thread updates /readyz */
	lead_wake(arg, -1);
}

/* Returns once the main thread has stopped every worker (or the process is stopping, its
 * workers already stopped). */
static void lead_on_stopped(void *arg)
{
	struct run_ctl *c = arg;
	pthread_mutex_lock(&c->lock);
	c->lead = false;
	c->lead_changed = true;
	c->workers_down = false;
	pthread_cond_signal(&c->cond);
	int64_t since = ps_clock_mono_ms(ps_clock_real());
	bool warned = false;
	while (!c->workers_down && !c->lead_closing) {
		struct timespec ts;
		clock_gettime(CLOCK_MONOTONIC, &ts);
		ts.tv_sec += 1;
		pthread_cond_timedwait(&c->lead_cond, &c->lock, &ts);
		if (!warned && ps_clock_mono_ms(ps_clock_real()) - since > RUN_STOP_TIMEOUT_MS) {
			ps_log(PS_LOG_WARN,
			       "leader election: still waiting for the workers to stop", NULL);
			warned = true;
		}
	}
	pthread_mutex_unlock(&c->lock);
}

/* Starts the elector of <cfg>'s leaderElection section; the workers wait for leadership. */
static enum ps_err lead_start(struct run_ctl *ctl, struct run_lead *lead, struct cfg *cfg,
                              struct ps_diag *d)
{
	const struct cfg_leader_election *c = &cfg_controller(cfg)->leader_election;
	struct leader_opts o = {.namespace = c->namespace ? c->namespace : ctl->kcfg->namespace,
	                        .name = c->lease_name,
	                        .lease_duration_ms = c->lease_duration_ms,
	                        .renew_deadline_ms = c->renew_deadline_ms,
	                        .retry_period_ms = c->retry_period_ms};
	struct leader_callbacks cb = {.started_leading = lead_on_started,
	                              .stopped_leading = lead_on_stopped,
	                              .new_leader = lead_on_new_leader,
	                              .arg = ctl};
	pthread_condattr_t ca;
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&ctl->lead_cond, &ca);
	pthread_condattr_destroy(&ca);
	enum ps_err e = leader_new_kube(ctl->kcfg, &o, &cb, &lead->le, d);
	if (!e)
		e = leader_start(lead->le, d);
	if (e) {
		leader_free(lead->le);
		lead->le = NULL;
		pthread_cond_destroy(&ctl->lead_cond);
		return e;
	}
	lead->cur = cfg_ref(cfg);
	ps_log(PS_LOG_INFO, "leader election: standing by until this replica holds the lease",
	       "namespace", o.namespace, "lease", o.name, "identity", leader_identity(lead->le),
	       NULL);
	return PS_OK;
}

/* Main thread: starts the runtime when the elector says we lead; stops and frees it when it
 * says we do not, then lets a waiting stopped_leading return. Fails only when the runtime
 * cannot start. */
static enum ps_err lead_sync(const struct run_opts *ro, struct run_ctl *ctl, struct run_lead *lead,
                             struct rt **rt, struct tick_env *env, struct httpd *hd)
{
	pthread_mutex_lock(&ctl->lock);
	bool want = ctl->lead;
	ctl->lead_changed = false;
	pthread_mutex_unlock(&ctl->lock);
	enum ps_err e = PS_OK;
	if (!want && *rt) {
		httpd_attach(hd, NULL, env);
		struct rt_stop_report rep;
		rt_stop(*rt, RUN_STOP_TIMEOUT_MS, &rep);
		cfg_unref(lead->cur);
		lead->cur = rt_cfg(*rt); /* with the reloads of the term */
		rt_free(*rt);
		*rt = NULL;
		PS_LOG_FIELDS(PS_LOG_INFO, "leader election: workers stopped",
		              PS_LOG_INT("workers", (int64_t)rep.workers),
		              PS_LOG_INT("elapsed_ms", rep.elapsed_ms));
	}
	if (!want) {
		pthread_mutex_lock(&ctl->lock);
		ctl->workers_down = true;
		pthread_cond_broadcast(&ctl->lead_cond);
		pthread_mutex_unlock(&ctl->lock);
	} else if (!*rt) {
		struct ps_diag d;
		ps_diag_clear(&d);
		struct rt_opts rto = {.executors = cfg_controller(lead->cur)->workers};
		e = rt_start(lead->cur, &tick_job_ops, env, &rto, rt, &d);
		if (e) {
			ps_log(PS_LOG_ERROR, "leader election: cannot start the workers", "error",
			       ps_diag_msg(&d), NULL);
		} else {
			httpd_attach(hd, *rt, env);
			PS_LOG_FIELDS(PS_LOG_INFO, "leader election: workers started",
			              PS_LOG_INT("targets", (int64_t)cfg_target_count(lead->cur)));
			if (lead->stale)
				reload(ro, *rt, env, "changed while standing by");
			lead->stale = false;
		}
	}
	struct leader_status st;
	leader_status(lead->le, &st);
	httpd_set_leader(hd, *rt        ? METRICS_LEADER_YES
	                     : st.known ? METRICS_LEADER_NO
	                                : METRICS_LEADER_UNKNOWN);
	return e;
}

/* Shutdown, after rt_stop: the elector stops and releases the Lease. */
static void lead_end(struct run_ctl *ctl, struct run_lead *lead)
{
	pthread_mutex_lock(&ctl->lock);
	ctl->lead_closing = true;
	pthread_cond_broadcast(&ctl->lead_cond);
	pthread_mutex_unlock(&ctl->lock);
	leader_stop(lead->le, true);
	leader_free(lead->le);
	lead->le = NULL;
	cfg_unref(lead->cur);
	pthread_cond_destroy(&ctl->lead_cond);
}

static int run_forever(const struct run_opts *ro, struct cfg *cfg, struct tick_env *env,
                       struct run_ctl *ctl)
{
	struct ps_diag d;
	ps_diag_clear(&d);
	/* The HTTP endpoints (httpd.h), up before the workers so that the latency histograms see
	 * their first requests; stopped after them. Leader election is off: this process leads. */
	bool elected = cfg_controller(cfg)->leader_election.enabled;
	struct run_lead lead = {0};
	int rc = CLI_EXIT_OK;
	struct httpd_opts ho = {.listen = ro->listen ? ro->listen : cfg_controller(cfg)->listen,
	                        .config_loaded = true,
	                        .leader = elected ? METRICS_LEADER_UNKNOWN : METRICS_LEADER_YES,
	                        .observe_http = true};
	struct httpd *hd = NULL;
	if (httpd_start(&ho, &hd, &d) != PS_OK) {
		fprintf(stderr, "prescale run: %s\n", ps_diag_msg(&d));
		return CLI_EXIT_RUNTIME;
	}
	PS_LOG_FIELDS(PS_LOG_INFO, "serving HTTP",
	              PS_LOG_STR("listen", ho.listen ? ho.listen : HTTPD_DEFAULT_LISTEN),
	              PS_LOG_INT("port", httpd_port(hd)));
	struct rt *rt = NULL;
	struct rt_opts rto = {.executors = cfg_controller(cfg)->workers};
	enum ps_err e = elected ? lead_start(ctl, &lead, cfg, &d)
	                        : rt_start(cfg, &tick_job_ops, env, &rto, &rt, &d);
	if (e) {
		fprintf(stderr, "prescale run: %s\n", ps_diag_msg(&d));
		httpd_stop(hd);
		return CLI_EXIT_RUNTIME;
	}
	httpd_attach(hd, rt, env);
	struct rt_watch *watch = NULL;
	if (rt_watch_new(ro->config, &watch, &d) != PS_OK)
		ps_log(PS_LOG_WARN, "not watching the configuration", "error", ps_diag_msg(&d),
		       NULL);
	PS_LOG_FIELDS(PS_LOG_INFO, "running", PS_LOG_STR("config", ro->config),
	              PS_LOG_INT("targets", (int64_t)cfg_target_count(cfg)),
	              PS_LOG_STR("mode", ro->mode == TICK_WRITE_LIVE      ? "live"
	                                 : ro->mode == TICK_WRITE_DRY_RUN ? "dry-run"
	                                                                  : "server-dry-run"));
	for (;;) {
		pthread_mutex_lock(&ctl->lock);
		if (!ctl->stop && !ctl->reload && !ctl->lead_changed) {
			struct timespec ts;
			clock_gettime(CLOCK_MONOTONIC, &ts);
			ts.tv_sec += RUN_POLL_MS / 1000;
			pthread_cond_timedwait(&ctl->cond, &ctl->lock, &ts);
		}
		bool stop = ctl->stop, rl = ctl->reload;
		ctl->reload = false;
		pthread_mutex_unlock(&ctl->lock);
		if (stop)
			break;
		if (lead.le && lead_sync(ro, ctl, &lead, &rt, env, hd) != PS_OK) {
			rc = CLI_EXIT_RUNTIME;
			break;
		}
		if (!rt) {
			if (rl || (watch && rt_watch_changed(watch)))
				lead.stale = true; /* standing by: applied when a term starts */
		} else if (rl)
			reload(ro, rt, env, "SIGHUP");
		else if (watch && rt_watch_changed(watch))
			reload(ro, rt, env, "file change");
	}
	struct rt_stop_report rep;
	memset(&rep, 0, sizeof(rep));
	if (rt) /* NULL while standing by */
		rt_stop(rt, RUN_STOP_TIMEOUT_MS, &rep);
	PS_LOG_FIELDS(PS_LOG_INFO, "stopped", PS_LOG_INT("workers", (int64_t)rep.workers),
	              PS_LOG_INT("overdue", (int64_t)rep.overdue),
	              PS_LOG_INT("elapsed_ms", rep.elapsed_ms),
	              PS_LOG_STR("slowest", rep.slowest_key));
	if (lead.le)
		lead_end(ctl, &lead); /* releases the Lease now that no worker runs */
	httpd_stop(hd);
	rt_free(rt);
	rt_watch_free(watch);
	return rc;
}

/* ---- options and setup ---- */

static int parse(int argc, char **argv, struct run_opts *o)
{
	enum {
		OPT_KUBECONFIG = 1000,
		OPT_CONTEXT,
		OPT_DRY_RUN,
		OPT_SERVER_DRY_RUN,
		OPT_ONCE,
		OPT_LISTEN,
		OPT_LOG_FORMAT,
		OPT_LOG_LEVEL,
	};
	static const struct option opts[] = {
	    {"config", required_argument, NULL, 'c'},
	    {"kubeconfig", required_argument, NULL, OPT_KUBECONFIG},
	    {"context", required_argument, NULL, OPT_CONTEXT},
	    {"dry-run", no_argument, NULL, OPT_DRY_RUN},
	    {"server-dry-run", no_argument, NULL, OPT_SERVER_DRY_RUN},
	    {"once", no_argument, NULL, OPT_ONCE},
	    {"output", required_argument, NULL, 'o'},
	    {"listen", required_argument, NULL, OPT_LISTEN},
	    {"log-format", required_argument, NULL, OPT_LOG_FORMAT},
	    {"log-level", required_argument, NULL, OPT_LOG_LEVEL},
	    {"help", no_argument, NULL, 'h'},
	    {NULL, 0, NULL, 0},
	};
	bool dry = false, server_dry = false, output_set = false;
	int c;
	struct ps_diag d;
	while ((c = getopt_long(argc, argv, "+:c:o:h", opts, NULL)) != -1) {
		ps_diag_clear(&d);
		switch (c) {
		case 'c':
			o->config = optarg;
			break;
		case OPT_KUBECONFIG:
			o->kubeconfig = optarg;
			break;
		case OPT_CONTEXT:
			o->context = optarg;
			break;
		case OPT_DRY_RUN:
			dry = true;
			break;
		case OPT_SERVER_DRY_RUN:
			server_dry = true;
			break;
		case OPT_ONCE:
			o->once = true;
			break;
		case 'o':
			output_set = true;
			if (strcmp(optarg, "json") == 0) {
				o->json_output = true;
			} else if (strcmp(optarg, "table") != 0) {
				fprintf(stderr,
				        "prescale run: unknown output format '%s' (want table or "
				        "json)\n",
				        optarg);
				return usage_error();
			}
			break;
		case OPT_LISTEN:
			o->listen = optarg;
			break;
		case OPT_LOG_FORMAT: {
			enum ps_log_format f;
			if (ps_log_format_parse(optarg, &f, &d) != PS_OK) {
				fprintf(stderr, "prescale run: --log-format: %s\n",
				        ps_diag_msg(&d));
				return usage_error();
			}
			ps_log_set_format(f);
			break;
		}
		case OPT_LOG_LEVEL: {
			enum ps_log_level l;
			if (ps_log_level_parse(optarg, &l, &d) != PS_OK) {
				fprintf(stderr, "prescale run: --log-level: %s\n", ps_diag_msg(&d));
				return usage_error();
			}
			ps_log_set_level(l);
			break;
		}
		case 'h':
			cmd_run_usage(stdout);
			return -1;
		case ':':
			fprintf(stderr, "prescale run: option '%s' needs a value\n",
			        argv[optind - 1]);
			return usage_error();
		default:
			if (optopt)
				fprintf(stderr, "prescale run: unknown option '-%c'\n", optopt);
			else
				fprintf(stderr, "prescale run: unknown option '%s'\n",
				        argv[optind - 1]);
			return usage_error();
		}
	}
	if (optind < argc) {
		fprintf(stderr, "prescale run: unexpected argument '%s'\n", argv[optind]);
		return usage_error();
	}
	if (!o->config) {
		fputs("prescale run: missing -c CONFIG\n", stderr);
		return usage_error();
	}
	if (dry && server_dry) {
		fputs("prescale run: --dry-run and --server-dry-run exclude each other\n", stderr);
		return usage_error();
	}
	if (output_set && !o->once) {
		fputs("prescale run: --output goes with --once\n", stderr);
		return usage_error();
	}
	o->mode = dry          ? TICK_WRITE_DRY_RUN
	          : server_dry ? TICK_WRITE_SERVER_DRY_RUN
	                       : TICK_WRITE_LIVE;
	return 0;
}

/* glibc gives each thread that allocates its own arena, up to 8 per core. The executors make
 * short-lived tick buffers while every target's long-lived state (views, history) is spread
 * over those arenas, and the holes left in each add up: at 10,000 targets, 16 arenas held
 * 65 MB more than 2 (hack/bench-controller). Two arenas are enough for a controller that
 * mostly waits on HTTP. MALLOC_ARENA_MAX in the environment still wins. */
static void tune_malloc(void)
{
	if (!getenv("MALLOC_ARENA_MAX") && mallopt(M_ARENA_MAX, 2) != 1)
		ps_log(PS_LOG_DEBUG, "mallopt(M_ARENA_MAX) refused", NULL);
	/* A fixed threshold (glibc's own rises with every large block freed, up to 32 MiB): the
	 * large buffers of a /metrics scrape of thousands of targets are mapped and unmapped,
	 * not left in the heap. */
	if (!getenv("MALLOC_MMAP_THRESHOLD_") && mallopt(M_MMAP_THRESHOLD, 256 * 1024) != 1)
		ps_log(PS_LOG_DEBUG, "mallopt(M_MMAP_THRESHOLD) refused", NULL);
}

int cmd_run(int argc, char **argv)
{
	struct run_opts ro = {0};
	int rc = parse(argc, argv, &ro);
	if (rc)
		return rc < 0 ? CLI_EXIT_OK : rc;
	tune_malloc();

	struct cfg *cfg = NULL;
	enum ps_err e = load_config(ro.config, &cfg);
	if (e)
		return e == PS_ENOMEM ? CLI_EXIT_RUNTIME : CLI_EXIT_USAGE;

	struct run_ctl rctl = {.stop = false, .reload = false};
	struct rt_signals *sig = NULL;
	struct ps_diag d;
	ps_diag_clear(&d);
	if (!ro.once) {
		pthread_mutex_init(&rctl.lock, NULL);
		pthread_condattr_t ca;
		pthread_condattr_init(&ca);
		pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
		pthread_cond_init(&rctl.cond, &ca);
		pthread_condattr_destroy(&ca);
		struct rt_signal_ops so = {.stop = on_stop,
		                           .exit_now = on_exit_now,
		                           .reload = on_reload,
		                           .arg = &rctl,
		                           .grace_ms = RUN_GRACE_MS};
		if (rt_signals_start(&so, &sig, &d) != PS_OK) {
			fprintf(stderr, "prescale run: %s\n", ps_diag_msg(&d));
			cfg_unref(cfg);
			return CLI_EXIT_RUNTIME;
		}
	}
	struct kcfg *kc = NULL;
	struct tick_env *env = NULL;
	rc = CLI_EXIT_RUNTIME;
	if (http_global_init(&d) != PS_OK) {
		fprintf(stderr, "prescale run: %s\n", ps_diag_msg(&d));
		goto out;
	}
	if (kcfg_load_auto(ro.kubeconfig, ro.context, NULL, &kc, &d) != PS_OK) {
		fprintf(stderr, "prescale run: Kubernetes connection: %s\n", ps_diag_msg(&d));
		goto out_http;
	}
	struct tick_env_opts eo = {
	    .kcfg = kc, .mode = ro.mode, .quiet = ro.once, .keep_records = ro.once};
	if (tick_env_new(cfg, &eo, &env, &d) != PS_OK) {
		fprintf(stderr, "prescale run: %s\n", ps_diag_msg(&d));
		goto out_kc;
	}
	rctl.kcfg = kc;
	rc = ro.once ? run_once(&ro, cfg, env) : run_forever(&ro, cfg, env, &rctl);
	tick_env_free(env);
out_kc:
	kcfg_free(kc);
out_http:
	http_global_cleanup();
out:
	cfg_unref(cfg);
	if (sig) {
		rt_signals_stop(sig);
		pthread_cond_destroy(&rctl.cond);
		pthread_mutex_destroy(&rctl.lock);
	}
	return rc;
}
