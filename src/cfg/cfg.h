/* cfg.h -- the configuration: YAML documents loaded into an immutable, refcounted snapshot.
 *
 * A configuration is one file or a directory of *.yaml / *.yml files, each holding one or more
 * Kubernetes-shaped documents: at most one `kind: ControllerConfig` and any number of
 * `kind: Autoscaler` (DESIGN.md section 7). Every key is described once, in the descriptor table
 * of cfg_keys.c, which drives parsing, defaults, validation, the `prescale check` output and the
 * README's configuration reference.
 *
 * Ownership: cfg_load() returns an owned snapshot with one reference. cfg_ref() takes another
 * reference, cfg_unref() drops one and frees the snapshot with the last. The reference count is
 * atomic, so threads may share a snapshot; the snapshot itself is never modified after
 * cfg_load() returns, so every accessor may be called from any thread holding a reference.
 * Pointers returned by accessors are borrowed from the snapshot and live as long as it does.
 */
#ifndef CFG_H
#define CFG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "engine_types.h"
#include "forecast.h"
#include "ps_compiler.h"
#include "ps_diag.h"
#include "ps_err.h"

#define CFG_API_VERSION "prescale.dev/v1alpha1"
/* Errors collected by one load before it gives up. */
#define CFG_MAX_ERRORS 20
/* Size cap of one configuration file. */
#define CFG_MAX_FILE_BYTES ((size_t)4 << 20)
/* Cap of prometheus.headers (and prometheus.params) entries. */
#define CFG_MAX_HEADERS 32

/* ---- ControllerConfig ---- */

struct cfg_header {
	char *name;
	char *value;
};

struct cfg_headers {
	size_t n;
	struct cfg_header *v;
};

struct cfg_basic_auth {
	char *username;
	char *password_file;
};

struct cfg_tls {
	char *ca_file;   /* NULL: the system's CA bundle */
	char *cert_file; /* client certificate (with key_file) */
	char *key_file;
	bool insecure_skip_verify;
};

struct cfg_prometheus {
	char *url;
	int64_t timeout_ms;
	char *bearer_token_file; /* NULL when not set */
	bool has_basic_auth;
	struct cfg_basic_auth basic_auth;
	bool has_tls;
	struct cfg_tls tls;
	struct cfg_headers headers; /* extra request headers (a tenant header, ...) */
	struct cfg_headers params;  /* extra query parameters (name -> value) */
};

struct cfg_kubernetes {
	double qps;
	int32_t burst;
};

struct cfg_leader_election {
	bool enabled;
	char *namespace; /* NULL: the controller's own namespace */
	char *lease_name;
	int64_t lease_duration_ms;
	int64_t renew_deadline_ms;
	int64_t retry_period_ms;
};

struct cfg_controller {
	bool present; /* false: no ControllerConfig document, all defaults */
	char *name;   /* metadata.name, NULL when not set */
	struct cfg_prometheus prometheus;
	struct cfg_kubernetes kubernetes;
	char *listen; /* "[host]:port" of the HTTP endpoints */
	struct cfg_leader_election leader_election;
	int32_t workers;             /* executor threads running the ticks */
	int64_t default_interval_ms; /* defaults.interval */
	struct eng_params params;    /* the hpa section over eng_params_default() */
};

/* ---- Autoscaler ---- */

enum cfg_model {
	CFG_MODEL_AUTO,
	CFG_MODEL_SEASONAL_NAIVE,
	CFG_MODEL_HOLT,
	CFG_MODEL_HOLT_WINTERS_ADDITIVE,
	CFG_MODEL_HOLT_WINTERS_MULTIPLICATIVE,
	CFG_MODEL_LINEAR,
};

enum cfg_forecast_mode {
	CFG_FORECAST_SCALE,   /* the forecast proposal takes part in the decision */
	CFG_FORECAST_OBSERVE, /* computed and reported only */
};

struct cfg_scale_ref {
	char *api_version;
	char *kind;
	char *name;
};

/* What a metric whose query fails (an error, or no data: empty, NaN, +-Inf) does to a decision. */
enum cfg_on_error {
	CFG_ON_ERROR_HOLD,   /* a failed reading: HPA's invalid-metric rule (no scale-down) */
	CFG_ON_ERROR_IGNORE, /* left out of the decision; a scale-down is still held that tick */
};

struct cfg_per_pod {
	char *pod_label; /* the query's label naming the pod */
	char *resource;  /* "cpu", "memory": the request the values relate to; NULL for Pods */
};

struct cfg_metric {
	char *name;
	char *query;  /* PromQL */
	bool per_pod; /* the query returns one series per pod */
	struct cfg_per_pod pod;
	bool type_set; /* false: <source> was derived from perPod */
	enum eng_source source;
	char *container; /* ContainerResource only */
	struct eng_target target;
	enum cfg_on_error on_error;
	bool has_activation;      /* activationValue given (else 0 applies with minReplicas 0) */
	int64_t activation_milli; /* minReplicas 0: above it on any metric wakes the target */
};

struct cfg_forecast {
	bool enabled; /* a forecast section is present */
	enum cfg_model model;
	int64_t season_ms;
	int64_t history_ms;
	double quantile;
	enum cfg_forecast_mode mode;
	int64_t pod_startup_ms; /* with the interval and metric lag: the forecast horizon */
	int64_t metric_lag_ms;
};

struct cfg_fallback {
	bool enabled;              /* a fallback section is present */
	int32_t failure_threshold; /* consecutive failed ticks before the fallback applies */
	bool has_replicas;         /* false: hold the current count */
	int32_t replicas;
};

struct cfg_target {
	char *key;  /* "<namespace>/<scaleTargetRef.kind>/<scaleTargetRef.name>" */
	char *name; /* metadata.name of the Autoscaler */
	char *namespace;
	char *origin; /* "file:line:col" of the document, for logs */
	struct cfg_scale_ref ref;
	bool interval_set; /* false: taken from defaults.interval */
	int64_t interval_ms;
	bool paused;
	int64_t staleness_ms; /* a failed query reuses the last good values younger than this */
	int64_t cooldown_ms;  /* minReplicas 0: every metric at or below its activation value this
	                       * long before the target goes to zero */
	size_t n_metrics;
	struct cfg_metric metrics[ENG_MAX_METRICS];
	struct cfg_forecast forecast;
	struct cfg_fallback fallback;
	struct eng_spec spec;     /* fully filled; behavior defaulted when present */
	struct eng_params params; /* a copy of the controller's */
};

/* ---- loading and the snapshot ---- */

struct cfg;
struct cfg_errors;

/* Loads the configuration at <path> (borrowed): a file, or a directory whose *.yaml and *.yml
 * entries are read in name order (hidden entries such as a ConfigMap volume's `..data` are
 * skipped; symlinks to regular files are followed). On PS_OK, *out is an owned snapshot with
 * one reference. On failure *out is NULL and the return is PS_ECONFIG (invalid configuration),
 * PS_ENOENT / PS_EIO (a path could not be read) or PS_ENOMEM; <diag> (may be NULL) gets the
 * first message, as `file:line:col: message`. When <errors> is not NULL it receives an owned
 * list of every message (at most CFG_MAX_ERRORS), also on success (then empty); free it with
 * cfg_errors_free(). Blocks on file I/O; safe from any thread. */
PS_MUST_CHECK enum ps_err cfg_load(const char *path, struct cfg **out, struct cfg_errors **errors,
                                   struct ps_diag *diag);

/* Takes one more reference on <c> (not NULL) and returns it. */
struct cfg *cfg_ref(struct cfg *c);
/* Drops one reference on <c> (NULL allowed); the last one frees the snapshot. */
void cfg_unref(struct cfg *c);

/* The path given to cfg_load(). Borrowed. */
const char *cfg_path(const struct cfg *c);
/* Number of files the snapshot was read from. */
size_t cfg_file_count(const struct cfg *c);
/* The controller configuration (defaults when there was no ControllerConfig). Borrowed. */
const struct cfg_controller *cfg_controller(const struct cfg *c);
/* The targets, in file order and document order within a file. Borrowed. */
size_t cfg_target_count(const struct cfg *c);
const struct cfg_target *cfg_target_at(const struct cfg *c, size_t i);
/* The target whose key is <key> ("namespace/kind/name"), or NULL. Borrowed. */
const struct cfg_target *cfg_target_find(const struct cfg *c, const char *key);

/* Messages of a load, sorted by file, line and column. */
size_t cfg_errors_count(const struct cfg_errors *e);
/* The i-th message (borrowed from <e>). */
const char *cfg_errors_at(const struct cfg_errors *e, size_t i);
/* True when more errors existed than CFG_MAX_ERRORS. */
bool cfg_errors_truncated(const struct cfg_errors *e);
/* Frees <e> (NULL allowed). */
void cfg_errors_free(struct cfg_errors *e);

/* ---- reload support ---- */

/* True when the two targets are equal in every key (the supervisor hands a changed spec to the
 * worker only when they differ). */
bool cfg_target_equal(const struct cfg_target *a, const struct cfg_target *b);
/* True when both targets have the same metrics in the same order with the same queries (and
 * perPod settings): a worker keeps its history and forecaster state only then. */
bool cfg_target_same_queries(const struct cfg_target *a, const struct cfg_target *b);
/* Compares the keys marked "not reloadable" in the descriptor table. Returns PS_OK when <next>
 * can replace <cur> in a running process, or PS_ECONFIG with <diag> naming the first key that
 * changed (those take effect only after a restart). */
PS_MUST_CHECK enum ps_err cfg_check_reload(const struct cfg *cur, const struct cfg *next,
                                           struct ps_diag *diag);

/* ---- rendering (the caller prints) ---- */

/* Renders the resolved configuration, defaults filled in, as YAML documents that load back to
 * the same configuration (header values are hidden). On PS_OK *out is an owned string (free
 * with ps_free). Returns PS_ENOMEM. */
PS_MUST_CHECK enum ps_err cfg_dump(const struct cfg *c, char **out);
/* Renders the configuration reference (every key: path, type, default, allowed values,
 * reloadable, description) as markdown tables. Returns an owned string, or NULL on ENOMEM. */
char *cfg_reference_markdown(void) PS_MUST_CHECK;

/* Names of the forecast enums as written in the configuration. */
const char *cfg_model_name(enum cfg_model m);
/* The forecaster model (forecast.h) that the configured <m> selects. */
enum fc_kind cfg_model_kind(enum cfg_model m);
const char *cfg_forecast_mode_name(enum cfg_forecast_mode m);
const char *cfg_on_error_name(enum cfg_on_error e);

#endif
