/* engine_types.h -- the types of the pure decision engine: spec, observation, history, record.
 *
 * Ownership: a struct eng_spec is plain data (fixed arrays, no pointers) so a config snapshot can
 * hold it by value. A struct eng_observation only *borrows*: every pointer in it (pods, names,
 * samples) belongs to the caller and must live for the call. struct eng_history and struct
 * eng_scratch own arrays sized once (eng_history_init, eng_scratch_reserve); a decision never
 * allocates.
 *
 * Units follow Kubernetes: quantities in milli-units (Quantity.MilliValue()), replicas int32,
 * times in int64 milliseconds on one clock chosen by the driver (wall or virtual).
 */
#ifndef ENGINE_TYPES_H
#define ENGINE_TYPES_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define ENG_MAX_METRICS 16
#define ENG_MAX_POLICIES 8
#define ENG_MAX_CONDITIONS 8
#define ENG_NAME_MAX 64
#define ENG_MSG_MAX 256
#define ENG_LONG_MSG_MAX 512 /* holds an ENG_MSG_MAX text plus context */
#define ENG_REASON_MAX 48     /* the longest Kubernetes reason is 32 characters */

/* Go's zero time (0001-01-01) stands for "a time longer ago than any window". */
#define ENG_TIME_ZERO_AGE_MS ((int64_t)1000000000000000LL)

/* ---- controller parameters (kube-controller-manager flags and feature gates) ---- */

struct eng_params {
	double tolerance;                 /* --horizontal-pod-autoscaler-tolerance, 0.1 */
	int64_t cpu_init_period_ms;       /* --...-cpu-initialization-period, 300 s */
	int64_t readiness_delay_ms;       /* --...-initial-readiness-delay, 30 s */
	int64_t downscale_window_ms;      /* --...-downscale-stabilization, 300 s */
	double scale_up_limit_factor;     /* legacy path (no behavior): 2.0 */
	double scale_up_limit_minimum;    /* legacy path (no behavior): 4.0 */
	bool gate_scale_to_zero;          /* HPAScaleToZero, false */
	bool gate_configurable_tolerance; /* HPAConfigurableTolerance, true */
	bool gate_pod_level_resources;    /* PodLevelResources, true */
};

/* ---- the target's spec (HPA v2 shape) ---- */

enum eng_source {
	ENG_SRC_RESOURCE,
	ENG_SRC_CONTAINER_RESOURCE,
	ENG_SRC_PODS,
	ENG_SRC_OBJECT,
	ENG_SRC_EXTERNAL,
	ENG_SRC_UNKNOWN, /* an unknown metric source type: InvalidMetricSourceType */
};

enum eng_target_type {
	ENG_TARGET_UNSET,
	ENG_TARGET_UTILIZATION,
	ENG_TARGET_AVERAGE_VALUE,
	ENG_TARGET_VALUE,
};

/* A MetricTarget. The has_* flags mirror Go's nil pointers: dispatch looks at which fields are
 * set (SEMANTICS.md section 4), not only at <type>. */
struct eng_target {
	enum eng_target_type type;
	bool has_value;
	int64_t value_milli;
	bool has_average_value;
	int64_t average_value_milli;
	bool has_average_utilization;
	int32_t average_utilization; /* percent of request */
};

struct eng_metric_spec {
	enum eng_source source;
	char name[ENG_NAME_MAX];        /* metric name (Pods, Object, External); shown in reasons */
	char resource[ENG_NAME_MAX];    /* Resource, ContainerResource: "cpu", "memory", ... */
	char container[ENG_NAME_MAX];   /* ContainerResource only */
	char object_kind[ENG_NAME_MAX]; /* Object: the described object's kind, for messages */
	struct eng_target target;
};

enum eng_policy_type { ENG_POLICY_PODS, ENG_POLICY_PERCENT };
enum eng_select { ENG_SELECT_MAX, ENG_SELECT_MIN, ENG_SELECT_DISABLED };

struct eng_policy {
	enum eng_policy_type type;
	int32_t value;    /* > 0 */
	int32_t period_s; /* 1..1800 */
};

/* HPAScalingRules. has_* mirror nil pointers, so API defaulting can fill field by field. */
struct eng_rules {
	bool has_window;
	int32_t window_s; /* stabilizationWindowSeconds, 0..3600 */
	bool has_select;
	enum eng_select select;
	bool has_policies;
	size_t n_policies;
	struct eng_policy policies[ENG_MAX_POLICIES];
	bool has_tolerance;
	double tolerance; /* >= 0 */
};

struct eng_behavior {
	bool has_scale_up;
	struct eng_rules scale_up;
	bool has_scale_down;
	struct eng_rules scale_down;
};

struct eng_spec {
	bool has_min_replicas;
	int32_t min_replicas; /* default 1 */
	int32_t max_replicas;
	size_t n_metrics;
	struct eng_metric_spec metrics[ENG_MAX_METRICS];
	bool has_behavior; /* false: the legacy path (SEMANTICS.md section 11) */
	struct eng_behavior behavior;
};

/* ---- one observation (borrowed) ---- */

enum eng_phase {
	ENG_PHASE_PENDING,
	ENG_PHASE_RUNNING,
	ENG_PHASE_SUCCEEDED,
	ENG_PHASE_FAILED,
	ENG_PHASE_UNKNOWN
};

struct eng_request {
	const char *resource; /* "cpu", "memory", ... */
	int64_t milli;
};

/* A container that counts for requests: a regular container or a restartable init container
 * (a sidecar). Other init containers are not passed at all. */
struct eng_container {
	const char *name;
	size_t n_requests;
	const struct eng_request *requests;
};

struct eng_pod {
	const char *name;
	enum eng_phase phase;
	bool deleted; /* metadata.deletionTimestamp set */
	bool has_ready_condition;
	bool ready;                  /* PodReady status */
	int64_t ready_transition_ms; /* PodReady lastTransitionTime */
	bool has_start_time;         /* status.startTime set */
	int64_t start_time_ms;
	size_t n_containers;
	const struct eng_container *containers;
	size_t n_pod_requests; /* pod-level resources (spec.resources.requests) */
	const struct eng_request *pod_requests;
};

/* One metric sample of one pod. */
struct eng_sample {
	bool present; /* false: no sample for this pod (a "missing" pod) */
	int64_t value_milli;
	int64_t timestamp_ms;
	int64_t window_ms;
};

/* How a metric's forecast takes part in a decision. */
enum eng_forecast_use {
	ENG_FORECAST_NONE,     /* no forecast for this metric */
	ENG_FORECAST_ACT,      /* the forecast proposal joins the maximum (mode: scale) */
	ENG_FORECAST_OBSERVE,  /* computed and reported, never acted on (mode: observe) */
	ENG_FORECAST_FALLBACK, /* the forecaster does worse than seasonal-naive: reported, not used */
};

/* The reading of one metric of the spec, as the metric source returned it. */
struct eng_reading {
	bool failed;       /* the source returned an error */
	const char *error; /* its message (may be NULL) */
	/* Resource, ContainerResource, Pods: samples[i] belongs to pods[i] of the observation. */
	const struct eng_sample *pod_samples;
	/* Samples for pods that are not in the pod list (superfluous metrics). */
	size_t n_extra;
	const struct eng_sample *extra_samples;
	/* Object: the value. */
	int64_t value_milli;
	/* External: every matching series; they are summed. */
	size_t n_values;
	const int64_t *values_milli;
	/* The forecast of this reading over the decision horizon (the upper bound of forecast.h),
	 * in the reading's own form: the Object value, the External sum, or the per-pod average
	 * for Resource, ContainerResource and Pods metrics. */
	enum eng_forecast_use forecast_use;
	int64_t forecast_milli;
};

enum eng_cond_type {
	ENG_COND_ABLE_TO_SCALE,
	ENG_COND_SCALING_ACTIVE,
	ENG_COND_SCALING_LIMITED,
	ENG_COND_SCALED_TO_ZERO,
};

struct eng_condition {
	enum eng_cond_type type;
	bool status;
	char reason[ENG_REASON_MAX]; /* copied: a record never points into its input */
	char message[ENG_LONG_MSG_MAX];
};

enum eng_selector {
	ENG_SELECTOR_OK,
	ENG_SELECTOR_EMPTY,
	ENG_SELECTOR_INVALID,
	ENG_SELECTOR_AMBIGUOUS
};

struct eng_observation {
	int64_t now_ms;
	int32_t spec_replicas;   /* scale.spec.replicas: "current replicas" */
	int32_t status_replicas; /* scale.status.replicas */
	enum eng_selector selector;
	size_t n_pods;
	const struct eng_pod *pods;
	const struct eng_reading *readings; /* one per spec metric */
	size_t n_conditions;                /* status conditions before this decision */
	const struct eng_condition *conditions;
};

/* ---- history (owned by the target's worker, carried across decisions) ---- */

struct eng_rec {
	int32_t replicas;
	int64_t ts_ms;
};

struct eng_event {
	int32_t replica_change; /* >= 0 */
	int64_t ts_ms;
	bool outdated;
};

struct eng_event_list {
	size_t n, cap;
	struct eng_event *v;
};

struct eng_history {
	bool recs_set; /* false: Go's nil list (the first decision seeds it) */
	size_t n_recs, cap_recs;
	struct eng_rec *recs;
	struct eng_event_list up;
	struct eng_event_list down;
	uint64_t dropped; /* entries lost because a list was full */
};

/* ---- scratch space for one decision, sized for the largest pod list ---- */

struct eng_scratch {
	size_t cap;
	unsigned char *cls; /* pod classes */
	int64_t *vals;      /* working metric values */
	bool *has_val;
	int64_t *req; /* per-pod requests */
	bool *has_req;
};

/* ---- the decision record ---- */

/* Which rule decided the final count. */
enum eng_rule {
	ENG_RULE_METRICS,       /* the metrics' proposal stood */
	ENG_RULE_TOLERANCE,     /* every metric within tolerance: no change */
	ENG_RULE_STABILIZATION, /* a stabilization window held the value */
	ENG_RULE_RATE_LIMIT,    /* a scaling policy (or the legacy scale-up cap) held it */
	ENG_RULE_MIN_REPLICAS,
	ENG_RULE_MAX_REPLICAS,
	ENG_RULE_ABOVE_MAX,        /* current above maxReplicas: set to max, metrics not read */
	ENG_RULE_BELOW_MIN,        /* current below minReplicas: set to min, metrics not read */
	ENG_RULE_SCALING_DISABLED, /* current is 0 and scaling from zero is not allowed */
	ENG_RULE_METRICS_FAILED,   /* no valid metric, or an invalid one blocks a scale-down */
	ENG_RULE_INVALID_SELECTOR,
	ENG_RULE_FORECAST,         /* a metric's forecast proposal was the maximum */
};

struct eng_metric_row {
	bool ok;
	const char *failure_reason; /* FailedGetResourceMetric, ... when !ok */
	char error[ENG_MSG_MAX];
	char label[ENG_MSG_MAX]; /* "cpu resource utilization (percentage of request)" */
	int32_t proposal;        /* replicas this metric asks for */
	int64_t current_milli;   /* average value / usage reported for status */
	bool has_utilization;
	int32_t utilization; /* percent of request, Utilization targets */
	double ratio;        /* usage ratio before rebalancing */
	int32_t ready_pods, unready_pods, missing_pods, ignored_pods;
	enum eng_forecast_use forecast_use;
	bool has_forecast_proposal;  /* forecast_proposal was computed */
	int64_t forecast_milli;      /* the forecast the proposal came from */
	int32_t forecast_proposal;   /* replicas the forecast asks for */
};

struct eng_decision {
	int32_t current_replicas;
	int32_t desired_replicas;
	bool write;                  /* desired != current: the scale must be updated */
	bool computed;               /* the metrics were evaluated */
	int32_t metric_replicas;     /* the multi-metric maximum, before normalization (-1: none) */
	int32_t stabilized_replicas; /* after stabilization, before rate limits and min/max */
	int32_t forecast_replicas;   /* the largest acting forecast proposal (-1: none); it raises
	                              * the stabilized count before rate limits and min/max */
	enum eng_rule rule;
	bool error; /* some metric failed (HPA's reconcile error) */
	char error_msg[ENG_LONG_MSG_MAX];
	char reason[ENG_LONG_MSG_MAX]; /* the rescale reason, "<metric> above target", ... */
	size_t n_conditions;
	struct eng_condition conditions[ENG_MAX_CONDITIONS];
	size_t n_rows;
	struct eng_metric_row rows[ENG_MAX_METRICS];
};

#endif
