/* tick.h -- the real job of a scale target (ctl_job.h): read the scale and the pods, query
 * Prometheus, feed the forecaster, decide with the engine, write the scale, publish the record.
 *
 * DESIGN
 * Three layers, each testable without the ones after it:
 * - Mapping (tick_map.c, pure): a Prometheus result becomes a struct tick_values (owned values,
 *   per-pod ones keyed by pod name and sorted), and tick_values become an eng_reading joined to
 *   the pods. NaN, +-Inf and an empty result are no data, never 0.
 * - Policy (tick_policy.c, pure, no I/O, no clock): tick_decide() turns one tick's observation
 *   (scale, pods, one input per metric) into a record. Around eng_decide it applies, in order:
 *   staleness (a failed metric reuses its last good values if younger than spec.staleness),
 *   onError (hold: a failed reading, HPA's invalid-metric rule; ignore: left out of the
 *   decision, but a scale-down is still held that tick), the forecast of each metric
 *   (fc_update with the fresh value, fc_forecast_range from metricLag + podStartup to the
 *   horizon), scale to zero (minReplicas 0: the engine runs with a floor of 1; every metric at
 *   or below its activationValue for spec.cooldown sets 0; at 0, any metric above wakes the
 *   target through the engine's scale-from-zero path, at least 1), the fallback (after
 *   failureThreshold consecutive failed ticks: hold, or the fixed count; recovery when a tick
 *   succeeds) and pause (decided and reported, never written).
 * - I/O (tick.c, on the worker's thread): the ctl_job_ops. start() only allocates (no I/O: it
 *   has no cancel token and no deadline); the first tick warms the target up under the tick's
 *   cancel token: it seeds the recommendation history for the stabilization window, fits the
 *   forecasters on Prometheus' query_range and rebuilds the scale-to-zero cooldown (see
 *   tick.c), then every tick does
 *   scale -> pods -> queries -> tick_decide -> patch -> events -> publish -> log.
 *
 * Threads: a struct tick_target belongs to its worker thread; only its published record is
 * shared, copied under the target's own lock. A struct tick_env is shared by every worker: its
 * configuration pointer and target registry are under its lock, its Kubernetes rate limiter is
 * thread-safe, its options are immutable.
 */
#ifndef TICK_H
#define TICK_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "cfg.h"
#include "ctl_job.h"
#include "engine_types.h"
#include "forecast.h"
#include "kube.h"
#include "kubeconfig.h"
#include "prom.h"
#include "ps_buf.h"
#include "ps_compiler.h"
#include "ps_diag.h"
#include "ps_err.h"

/* The annotation on the target object that pauses it (value "true"). */
#define TICK_PAUSED_ANNOTATION "prescale.dev/paused"
/* At most one Event per reason per target this often (default). */
#define TICK_EVENT_INTERVAL_MS ((int64_t)60000)
/* The pause annotation is read again after this long, and always before a write. */
#define TICK_PAUSE_RECHECK_MS ((int64_t)60000)
/* A forecaster whose warm-up from history failed tries again after this long. */
#define TICK_WARM_RETRY_MS ((int64_t)300000)
/* Bytes of a target key kept in a record ("namespace/kind/name"). */
#define TICK_KEY_MAX 400

/* ---- the environment shared by every worker (the ops' <arg>) ---- */

enum tick_write_mode {
	TICK_WRITE_LIVE,           /* patch the scale, create Events */
	TICK_WRITE_DRY_RUN,        /* no write of any kind (no PATCH, no Event) */
	TICK_WRITE_SERVER_DRY_RUN, /* PATCH with dryRun=All; no Event */
};

struct tick_env_opts {
	struct kcfg *kcfg; /* borrowed, shared, must outlive the env; NULL: no Kubernetes
	                    * (a tick then fails: for tests of the pure parts) */
	enum tick_write_mode mode;
	const char *instance;      /* Event reportingInstance (copied); NULL: $POD_NAME or the host
	                            * name */
	int64_t event_interval_ms; /* 0: TICK_EVENT_INTERVAL_MS */
	bool quiet;                /* no decision log lines (tests, and --once prints a table) */
	bool keep_records;         /* each target also keeps its whole last record (~29 KiB) for
	                            * tick_state_record (--once, tests); the controller keeps only
	                            * the compact view (tick_view) */
};

struct tick_env;

/* Creates the environment for the configuration <cfg> (a reference is taken): the
 * Kubernetes rate limiter from kubernetes.qps/burst (not reloadable) and the Prometheus
 * settings. <opts> is copied. Returns PS_OK with an owned *out (tick_env_free), PS_EINVAL or
 * PS_ENOMEM with <diag>. */
PS_MUST_CHECK enum ps_err tick_env_new(struct cfg *cfg, const struct tick_env_opts *opts,
                                       struct tick_env **out, struct ps_diag *diag);
/* Hands a reloaded configuration to the env (a reference is taken, the old one dropped):
 * workers rebuild their Prometheus client at their next tick when the prometheus section
 * changed. Any thread. */
void tick_env_set_config(struct tick_env *env, struct cfg *cfg);
/* Frees <env> (NULL allowed) once no worker uses it any more. */
void tick_env_free(struct tick_env *env);

/* The job: <arg> is a struct tick_env. */
extern const struct ctl_job_ops tick_job_ops;

/* ---- the record a tick publishes ---- */

enum tick_outcome {
	TICK_OUT_NONE,    /* no tick has finished yet */
	TICK_OUT_DECIDED, /* a decision was made (it may carry metric errors) */
	TICK_OUT_FAILED,  /* no decision: the scale could not be read, or an internal error */
	TICK_OUT_SKIPPED, /* no Prometheus query slot before the deadline */
};

/* What decided the count, beyond the engine's own rules. */
enum tick_rule {
	TICK_RULE_ENGINE,        /* d.rule says */
	TICK_RULE_FALLBACK,      /* failureThreshold failed ticks: hold or the fixed count */
	TICK_RULE_HELD,          /* an onError: ignore metric failed: a scale-down is held */
	TICK_RULE_NO_METRICS,    /* every metric was left out: hold */
	TICK_RULE_SCALE_TO_ZERO, /* every metric at or below its activation value for cooldown */
	TICK_RULE_IDLE,          /* at 0 and no metric above its activation value: stay */
	TICK_RULE_ACTIVATION,    /* at 0 and a metric above its activation value: wake */
};

enum tick_metric_state {
	TICK_M_OK,      /* fresh values this tick */
	TICK_M_STALE,   /* the query failed; the last good values (younger than staleness) */
	TICK_M_FAILED,  /* failed, onError hold: an invalid metric for the engine */
	TICK_M_IGNORED, /* failed, onError ignore: left out of the decision */
	TICK_M_IDLE,    /* per-pod metric of a target at 0 replicas: no pods, left out */
};

enum tick_activity {
	TICK_ACT_NONE,     /* not a minReplicas 0 target */
	TICK_ACT_ACTIVE,   /* value above activationValue */
	TICK_ACT_INACTIVE, /* at or below */
	TICK_ACT_UNKNOWN,  /* no value */
};

struct tick_metric_rec {
	char name[ENG_NAME_MAX];
	enum eng_source source;
	struct eng_target target;
	bool per_pod;
	enum cfg_on_error on_error;
	enum tick_metric_state state;
	char error[ENG_MSG_MAX]; /* why the query failed (also when stale) */
	int64_t stale_age_ms;    /* TICK_M_STALE: age of the values used */
	bool has_value;
	double value; /* the query's value: Object value, External sum, per-pod mean */
	int row;      /* index into d.rows; -1: not in the decision */
	/* scale to zero */
	enum tick_activity activity;
	int64_t activation_milli;
	/* forecast */
	bool forecast_on; /* the target has a forecast section */
	enum eng_forecast_use forecast_use;
	bool has_forecast;
	double forecast;                 /* the upper bound over the serving window */
	char forecast_model[24];         /* the model used ("hw-additive") */
	char forecast_note[ENG_MSG_MAX]; /* "warming up", an error; "" otherwise */
	bool has_forecast_error; /* <forecast_mase> is known: h-step forecasts were scored */
	double forecast_mase;    /* the model's recent MAE over seasonal-naive's at the horizon
	                          * (below 1: better than naive; +Inf when naive's MAE is 0) */
};

struct tick_record {
	char key[TICK_KEY_MAX];
	int64_t time_ms; /* the tick's wall-clock time */
	enum tick_outcome outcome;
	enum ps_err err;         /* the tick's result */
	char error[PS_DIAG_MAX]; /* its message ("" when PS_OK) */
	enum tick_write_mode mode;
	int32_t current;               /* scale.spec.replicas */
	int32_t desired;               /* what prescale wants (also when paused or in a dry run) */
	bool write;                    /* desired != current and nothing holds it: a write is due */
	bool wrote;                    /* the PATCH succeeded (server dry run: was accepted) */
	bool write_failed;             /* the PATCH failed: <error> says why */
	enum tick_rule rule;           /* what decided <desired> (a pause does not change it) */
	char reason[ENG_LONG_MSG_MAX]; /* the rescale reason, or why nothing changed */
	char paused_by[64];            /* "spec.paused" or the annotation: decided, not written */
	int32_t failures;              /* consecutive failed ticks, this one included */
	bool fallback_active;
	bool recovered;    /* this tick ended a fallback */
	bool has_inactive; /* minReplicas 0: every metric inactive since */
	int64_t inactive_since_ms;
	int64_t cooldown_ms;
	bool have_decision;    /* <d> holds the engine's record */
	struct eng_decision d; /* the engine's record, final counts applied */
	size_t n_metrics;
	struct tick_metric_rec m[ENG_MAX_METRICS];
	/* counters over the target's life */
	uint64_t ticks, decisions, writes, write_errors, skipped, failed_ticks;
};

/* Name of the record's rule ("fallback", ...; "paused" for a paused target); TICK_RULE_ENGINE
 * gives the engine rule's. */
const char *tick_rule_name(const struct tick_record *r);
const char *tick_metric_state_name(enum tick_metric_state s);

/* Copies the last record published by the target state <state> (a tick_job_ops state) into
 * <out>, its counters up to date. Returns false when no tick has finished yet, or when the
 * target does not keep whole records (tick_env_opts.keep_records). Any thread. */
bool tick_state_record(void *state, struct tick_record *out);

/* ---- the published view (tick_view.c) ---- */

/* Counters over a target's life (the tick writes them). */
struct tick_counters {
	uint64_t ticks, decisions, writes, write_errors, skipped, failed_ticks;
};

/* One metric of a view, in the units /metrics exports. */
struct tick_view_metric {
	const char *name;
	bool has_value;    /* <value>: in the target's unit (percent of request, per-pod average,
	                    * total), as the --once VALUE cell */
	bool has_target;   /* <target>: in the same unit */
	bool has_forecast; /* <forecast>: the upper bound over the serving window */
	bool has_mase;     /* <mase>: the forecast's recent error (MASE) */
	double value, target, forecast, mase;
};

/* What a target publishes after each tick for the HTTP endpoints: the few numbers /metrics
 * needs and the record's JSON for /debug/targets, in one allocation of about the JSON's size
 * (1-3 KiB) rather than a whole struct tick_record (~29 KiB). Immutable once made; shared by
 * reference count, so a scrape takes references instead of copying. */
struct tick_view {
	_Atomic int refs;
	const char *key;
	int64_t time_ms;
	enum tick_outcome outcome;
	enum tick_write_mode mode;
	int32_t current, desired;
	bool wrote;
	size_t n_metrics;
	const struct tick_view_metric *m;
	const char *json; /* the record as tick_record_json_body writes it (no counters) */
	size_t json_len;
};

/* A target's published state as a snapshot has it. */
struct tick_snap {
	struct tick_view *view; /* a reference (tick_snaps_free drops it) */
	struct tick_counters count;
};

/* Makes the view of <r> (borrowed). PS_OK with an owned *out (refs 1), PS_ENOMEM, PS_ETOOBIG. */
PS_MUST_CHECK enum ps_err tick_view_new(const struct tick_record *r, struct tick_view **out);
struct tick_view *tick_view_ref(struct tick_view *v);
/* Drops a reference (NULL allowed); the last one frees. Any thread. */
void tick_view_unref(struct tick_view *v);

/* A snapshot entry from a record (its view and its counters), for --once and tests. */
PS_MUST_CHECK enum ps_err tick_snap_from_record(const struct tick_record *r,
                                                struct tick_snap *out);

/* The published state of every running target of <env> (targets without a finished tick are
 * left out), in no particular order: an owned array (*out, tick_snaps_free) of *n entries,
 * each holding a reference. Takes each target's lock briefly; copies no record. Any thread.
 * PS_OK or PS_ENOMEM. */
PS_MUST_CHECK enum ps_err tick_env_snaps(struct tick_env *env, struct tick_snap **out, size_t *n);
/* Drops the references of <s> and frees the array (NULL allowed). */
void tick_snaps_free(struct tick_snap *s, size_t n);

/* Appends the JSON object of <s>: the view's JSON and its counters. PS_OK, PS_ETOOBIG,
 * PS_ENOMEM. */
PS_MUST_CHECK enum ps_err tick_snap_json(struct ps_buf *b, const struct tick_snap *s);

/* ---- mapping (tick_map.c) ---- */

/* The values of one metric's query at one time. Owned arrays. */
struct tick_values {
	int64_t time_ms;   /* when they were read (the query's evaluation time) */
	int64_t window_ms; /* sample window: the query's longest range selector ([1m]), 0: none */
	size_t n;
	double *v;   /* finite values */
	int64_t *ts; /* their sample times */
	char **keys; /* per-pod: pod names, sorted ascending and unique; NULL otherwise */
};

/* Frees what <v> owns and empties it (NULL allowed). */
void tick_values_release(struct tick_values *v);

/* Maps the instant-query result <r> (borrowed) of metric <m> evaluated at <time_ms> into <out>
 * (emptied first; release it after PS_OK). Per-pod metrics need a vector keyed by
 * perPod.podLabel (series without the label are skipped; a pod named twice is an error: the
 * message says to aggregate by the label); Object metrics need a scalar or one series; External
 * metrics take every series (summed by the engine). Returns PS_OK; PS_ENODATA when there is no
 * data (an empty vector, NaN, +-Inf; an External or Object series with no data, since a partial
 * sum could under-count); PS_EMETRIC for a result of the wrong shape; PS_ENOMEM. <diag> says
 * why, in words for the record. */
PS_MUST_CHECK enum ps_err tick_values_from_result(const struct prom_result *r,
                                                  const struct cfg_metric *m, int64_t time_ms,
                                                  struct tick_values *out, struct ps_diag *diag);

/* Adds the range-query result <r> (a matrix) of metric <m> into a grid of <n> slots starting
 * at <start_ms> every <step_ms>: out[k] becomes the slot's aggregate (External and Object: the
 * sum of the series, NaN when a series has no data there; per-pod: the mean of the series with
 * data). Slots that no point falls on are left untouched (the caller fills them with NaN).
 * Returns PS_OK or PS_ENOMEM. */
PS_MUST_CHECK enum ps_err tick_values_aggregate_matrix(const struct prom_result *r,
                                                       const struct cfg_metric *m, int64_t start_ms,
                                                       int64_t step_ms, size_t n, double *out);

/* The single number a metric is judged by for activation and forecasting: Object value,
 * External sum, per-pod mean. NaN when <v> is empty. */
double tick_values_aggregate(const struct tick_values *v, const struct cfg_metric *m);

/* The longest range selector ("[5m]", "[1h:1m]") in <query>, in ms; 0 when none. */
int64_t tick_query_window_ms(const char *query);

/* True when metric <m> needs the pod list: per-pod metrics, and Object or External metrics
 * with a Value target (HPA counts the ready pods). */
bool tick_metric_needs_pods(const struct cfg_metric *m);

/* Converts a finite value to milli-units, rounded to the nearest, saturating at +-INT64_MAX. */
int64_t tick_milli(double v);

/* ---- the per-target state and the decision (tick_policy.c) ---- */

struct tick_target;

/* One metric's outcome of this tick's query. */
struct tick_input {
	enum ps_err err;           /* PS_OK: <values> holds data */
	char error[ENG_MSG_MAX];   /* why not */
	struct tick_values values; /* tick_decide takes ownership (leaves it empty) */
};

/* What the I/O part observed. Everything borrowed for the call. */
struct tick_obs {
	int64_t now_ms;
	int32_t spec_replicas;
	int32_t status_replicas;
	enum eng_selector selector;
	const struct eng_pod *pods;
	size_t n_pods;
	bool pods_failed;          /* listing the pods failed: */
	const char *pods_error;    /* why */
	struct tick_input *inputs; /* one per metric of the target */
	const char *paused_by;     /* non-NULL: the annotation paused the target */
};

/* Allocates the state of target <t> (borrowed): history sized for its stabilization windows,
 * scratch, one forecaster per metric when forecast is on. No I/O. <env> may be NULL (tests:
 * the state then only decides). Returns PS_OK with an owned *out (tick_target_free), or
 * PS_ENOMEM / PS_EINVAL with <diag>. A forecaster the engine refuses (a season that is not a
 * multiple of the interval) is not an error: that metric runs reactively and its record says
 * why. */
PS_MUST_CHECK enum ps_err tick_target_new(struct tick_env *env, const struct cfg_target *t,
                                          struct tick_target **out, struct ps_diag *diag);
/* Frees <st> (NULL allowed) and its clients; unregisters it from its env. Worker thread. */
void tick_target_free(struct tick_target *st);

/* Follows a reload: <t> replaces the target's spec. Keeps history, last good values and
 * forecasters (re-made, and warmed again, when the forecast settings or the interval
 * changed). Returns false when the queries changed (cfg_target_same_queries) or memory ran
 * out: the state must be rebuilt. */
bool tick_target_reconfigure(struct tick_target *st, const struct cfg_target *t);

/* Seeds the recommendation history as if the previous controller had recommended <current>
 * at each of the tick_seed_count() ticks within the longest stabilization window up to
 * <now_ms> included (see
 * tick.c, "Warm-up, restart safety"), so that a restart never scales down earlier than the
 * old process would have. Marks the history set (unless the window is 0: then the engine's
 * own initial recommendation applies). */
void tick_target_seed_history(struct tick_target *st, const struct cfg_target *t, int64_t now_ms,
                              int32_t current);

/* The number of ticks tick_target_seed_history() covers for <t>: window / interval + 1. */
size_t tick_seed_count(const struct cfg_target *t);

/* Sets the start of the current all-inactive stretch (minReplicas 0), rebuilt from history;
 * 0 clears it. */
void tick_target_set_inactive_since(struct tick_target *st, int64_t since_ms);

/* A forecaster's samples are at least this far apart: a target ticking every 15 s keeps one
 * sample a minute for its model (the first of each minute), so a week of history takes 10,080
 * slots (80 KiB a series) instead of 40,320, and a fit a quarter of the time. */
#define TICK_FORECAST_MIN_STEP_MS ((int64_t)60000)

/* A season keeps at least this many slots when the step is coarsened. */
#define TICK_FORECAST_MIN_SLOTS 60

/* The step of <t>'s forecasters: the smallest multiple of its interval that is at least
 * TICK_FORECAST_MIN_STEP_MS, or a smaller multiple that divides the season into at least
 * TICK_FORECAST_MIN_SLOTS slots; the interval itself when none does (a season of a few
 * minutes). */
int64_t tick_forecast_step_ms(const struct cfg_target *t);

/* Fits the forecaster of metric <i> on the history <ts_ms>[k], <values>[k] (n points, NaN =
 * missing). Returns PS_OK, PS_ENODATA (too little history: the model still replayed it) or an
 * error with <diag>; a metric without a forecaster gives PS_OK. */
PS_MUST_CHECK enum ps_err tick_target_fit(struct tick_target *st, size_t i, const int64_t *ts_ms,
                                          const double *values, size_t n, struct ps_diag *diag);

/* One decision for target <t> from observation <o> into <rec> (overwritten, counters kept
 * from the state). Updates the state: last good values, forecasters, history, failure count,
 * the all-inactive stretch, the carried conditions. Returns PS_OK when a record was made (it
 * may say that metrics failed), PS_ENOMEM, or PS_EINVAL for a spec the engine refuses. */
PS_MUST_CHECK enum ps_err tick_decide(struct tick_target *st, const struct cfg_target *t,
                                      struct tick_obs *o, struct tick_record *rec,
                                      struct ps_diag *diag);

/* Marks <rec> paused by <by> ("spec.paused", the annotation): nothing is written. */
void tick_record_pause(struct tick_record *rec, const char *by);

/* The write of <rec> succeeded (<ok>) or failed with <msg>: records the scale event and the
 * AbleToScale and ScaledToZero conditions into the state and the record. */
void tick_target_written(struct tick_target *st, const struct cfg_target *t,
                         struct tick_record *rec, bool ok, const char *msg);

/* Publishes <rec> as the target's record (copied under the target's lock). */
void tick_target_publish(struct tick_target *st, const struct tick_record *rec);
/* Publishes the counters alone (a skipped tick keeps the last record on show). */
void tick_target_publish_counters(struct tick_target *st);
/* True once a record was published. */
bool tick_target_published(struct tick_target *st);
/* Takes a reference to the published view of <state> with its counters into <out>. False
 * before the first record. Any thread. */
bool tick_state_snap(void *state, struct tick_snap *out);

/* ---- output (tick_table.c, record_json.c) ---- */

/* Appends the `prescale run --once` table of <n> records to <b>: TARGET, CURRENT, DESIRED,
 * then one line per metric (METRIC, VALUE/TARGET, FORECAST) and the REASON; a failed target
 * shows its error. Returns PS_OK, PS_ETOOBIG or PS_ENOMEM. */
PS_MUST_CHECK enum ps_err tick_table_render(struct ps_buf *b, const struct tick_record *recs,
                                            size_t n);

/* "240/100 (avg)", "55%/70%", "<unknown>/100": a metric's VALUE/TARGET cell. */
void tick_format_value_target(const struct tick_record *r, const struct tick_metric_rec *m,
                              char *buf, size_t size);
/* "310 -> 4", "310 -> 4 (observe)", "warming up", "-": a metric's FORECAST cell. */
void tick_format_forecast(const struct tick_record *r, const struct tick_metric_rec *m, char *buf,
                          size_t size);
/* The REASON cell: what was done and why. */
void tick_format_reason(const struct tick_record *r, char *buf, size_t size);

/* Appends <r> as one JSON object (no newline) to <b>. Returns PS_OK, PS_ETOOBIG or PS_ENOMEM. */
PS_MUST_CHECK enum ps_err tick_record_json(struct ps_buf *b, const struct tick_record *r);
/* tick_record_json in two parts: the object without its "counters" member and closing brace,
 * then tick_counters_json_tail, which adds both. */
PS_MUST_CHECK enum ps_err tick_record_json_body(struct ps_buf *b, const struct tick_record *r);
PS_MUST_CHECK enum ps_err tick_counters_json_tail(struct ps_buf *b, const struct tick_counters *c);

/* ---- internal to the tick*.c files ---- */

/* Per metric state carried across ticks. */
struct tick_metric {
	struct tick_values last; /* the last good values */
	bool has_last;
	bool fc_on;         /* the forecaster is initialised */
	struct fc_model *fc; /* owned; NULL without a forecast section */
	bool fc_fitted;             /* fitted at least once (from history or online) */
	bool fc_warm;               /* warmed up from Prometheus history */
	int64_t fc_warm_retry_ms;   /* a failed warm-up tries again from then */
	char fc_error[ENG_MSG_MAX]; /* why there is no forecaster */
	/* per-tick buffers, grown as needed */
	struct eng_sample *samples;
	size_t cap_samples;
	int64_t *vals;
	size_t cap_vals;
};

/* HTTP clients a tick uses; one set per executor thread (the runtime's tc.exec slot), so that
 * connections and TLS sessions are reused across the targets it runs. */
struct tick_clients {
	struct prom_client *prom;
	uint64_t prom_gen; /* the env's configuration generation <prom> was made for */
	struct kube_client *kube;
};

/* Frees the clients of <cl> and empties it. */
void tick_clients_release(struct tick_clients *cl);

/* Event rate limiting: the last time of each reason sent. */
#define TICK_EVENT_SLOTS 12
struct tick_event_slot {
	char reason[48];
	int64_t last_ms;
};

struct tick_target {
	struct tick_env *env;     /* NULL in tests of the pure parts */
	struct tick_target *next; /* the env's registry; protected by the env's lock */
	char key[TICK_KEY_MAX];
	int64_t interval_ms;
	struct cfg_forecast fc_cfg; /* the settings the forecasters were made with */
	struct eng_history hist;
	struct eng_scratch scratch;
	size_t n_metrics;
	struct tick_metric *m; /* n_metrics of them */
	size_t n_conds; /* the status conditions carried from the last decision */
	size_t cap_conds;
	struct eng_condition *conds; /* owned, cap_conds of them */
	int32_t failures;
	bool fallback_active;
	bool has_inactive;
	int64_t inactive_since_ms;
	struct tick_counters count;
	/* I/O state (tick.c) */
	struct kube_ref ref;
	bool ref_ok;
	char ref_error[PS_DIAG_MAX];
	struct prom_client *prom; /* during a tick: the clients it uses (borrowed) */
	struct kube_client *kube;
	struct tick_clients own;  /* used when the runtime gives no executor slot */
	bool warmed;                     /* the history was seeded */
	bool pause_known;
	bool pause_annotated;
	bool pause_warned;        /* reading the annotation failed; logged once until it works */
	int64_t pause_checked_ms; /* monotonic */
	struct tick_event_slot events[TICK_EVENT_SLOTS];
	/* what is published; protected by <lock> */
	pthread_mutex_t lock;
	struct tick_view *view;       /* the last record's view; NULL before the first */
	struct tick_counters pub_count;
	struct tick_record *full;     /* tick_env_opts.keep_records: the whole last record */
};

/* Adds <st> to / removes it from the registry of <env> (tick.c). */
void tick_env_register(struct tick_env *env, struct tick_target *st);
/* tick_env_opts.keep_records of <env>. */
bool tick_env_keeps_records(const struct tick_env *env);
void tick_env_unregister(struct tick_env *env, struct tick_target *st);

#endif
