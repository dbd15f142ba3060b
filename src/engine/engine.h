/* engine.h -- the pure decision engine: HPA replica calculation, exactly as Kubernetes does it.
 *
 * Nothing here reads a clock, does I/O, takes a lock or allocates during a decision: time comes
 * in as obs->now_ms, memory was sized beforehand (eng_history_init, eng_scratch_reserve). Every
 * function is safe to call from any thread on data that thread owns.
 *
 * The top-level call is eng_decide(); the lower-level functions are exported because each one
 * is a Kubernetes function with its own unit tests (tests/hpa_conformance runs them).
 */
#ifndef ENGINE_H
#define ENGINE_H

#include "engine_types.h"
#include "ps_compiler.h"
#include "ps_diag.h"
#include "ps_err.h"

/* ---- parameters, spec defaults, lifecycle ---- */

/* Fills <p> with Kubernetes' production defaults (SEMANTICS.md section 2). */
void eng_params_default(struct eng_params *p);
/* API defaulting of spec.behavior (SetDefaults_HorizontalPodAutoscalerBehavior): fills every
 * unset field of both directions; scaleDown's window stays unset (the controller flag applies). */
void eng_behavior_default(struct eng_behavior *b);
/* The rules Kubernetes puts in when a direction is absent. */
void eng_rules_default_up(struct eng_rules *r);
void eng_rules_default_down(struct eng_rules *r);

/* Sizes <h> for <cap> recommendations and <cap> events per direction. Returns PS_ENOMEM. */
PS_MUST_CHECK enum ps_err eng_history_init(struct eng_history *h, size_t cap);
/* The same with <cap_events> events per direction, for a caller that grows the event lists
 * with eng_history_reserve_events before each eng_rescaled (most targets rescale rarely, so a
 * few slots hold every event inside the longest policy period). */
PS_MUST_CHECK enum ps_err eng_history_init_sized(struct eng_history *h, size_t cap_recs,
                                                 size_t cap_events);
/* Makes room for one more event in each direction whose list is full, doubling it up to <max>
 * entries (allocates, so call it outside a decision). PS_ENOMEM leaves a list as it was: the
 * engine then reuses its oldest slot and counts the loss in h->dropped. */
PS_MUST_CHECK enum ps_err eng_history_reserve_events(struct eng_history *h, size_t max);
void eng_history_release(struct eng_history *h);
/* Makes <s> hold at least <n_pods> pods (allocates only when growing). */
PS_MUST_CHECK enum ps_err eng_scratch_reserve(struct eng_scratch *s, size_t n_pods);
void eng_scratch_release(struct eng_scratch *s);

/* ---- the decision ---- */

/* One reconcile of HorizontalController.reconcileAutoscaler, without the writes: reads <obs>,
 * updates the recommendation history in <h>, and fills <out>. Conditions start from
 * obs->conditions. Returns PS_OK when a record was produced (even one that says "metrics
 * failed": see out->error), PS_ETOOBIG when <s> is too small for the pods, PS_EINVAL for a spec
 * the API would reject (with <diag>). */
PS_MUST_CHECK enum ps_err eng_decide(const struct eng_spec *spec, const struct eng_params *p,
                                     const struct eng_observation *obs, struct eng_history *h,
                                     struct eng_scratch *s, struct eng_decision *out,
                                     struct ps_diag *diag);

/* The driver wrote out->desired_replicas successfully at <now_ms>: records the scale event
 * (behavior only), sets AbleToScale=True/SucceededRescale and the ScaledToZero condition. */
void eng_rescaled(const struct eng_spec *spec, const struct eng_params *p, struct eng_history *h,
                  struct eng_decision *out, int64_t now_ms);
/* The write failed with <msg>: AbleToScale=False/FailedUpdateScale, out->error set. */
void eng_rescale_failed(struct eng_decision *out, const char *msg);

/* Human names of enum values, for records and logs. */
const char *eng_rule_name(enum eng_rule r);
const char *eng_cond_type_name(enum eng_cond_type t);
const char *eng_forecast_use_name(enum eng_forecast_use u);
/* HPA's reason for a metric of source <s> that could not be computed ("FailedGetPodsMetric",
 * ...; "InvalidMetricSourceType" for an unknown source). */
const char *eng_failure_reason(enum eng_source s);
const char *eng_source_name(enum eng_source s);
const char *eng_target_type_name(enum eng_target_type t);
const char *eng_select_name(enum eng_select s);
const char *eng_policy_type_name(enum eng_policy_type t);
const char *eng_phase_name(enum eng_phase p);

/* ---- replica calculator (replica_calculator.go) ---- */

struct eng_tolerances {
	double scale_down, scale_up;
};

/* isWithin: (1 - down) <= r <= (1 + up). */
bool eng_tolerances_within(struct eng_tolerances t, double ratio);
/* tolerancesForHpa: the controller tolerance, overridden per direction by the behavior. */
struct eng_tolerances eng_tolerances_for(const struct eng_spec *spec, const struct eng_params *p);

enum eng_pod_class { ENG_POD_READY, ENG_POD_UNREADY, ENG_POD_MISSING, ENG_POD_IGNORED };

/* groupPods: classifies each pod into cls[i] and returns the ready count. <resource> is the
 * metric's resource name ("" or NULL for Pods metrics). */
int32_t eng_group_pods(const struct eng_params *p, const char *resource, int64_t now_ms,
                       const struct eng_pod *pods, size_t n_pods, const struct eng_sample *samples,
                       unsigned char *cls);

/* Result of one replica calculation. */
struct eng_calc {
	int32_t replicas;
	int32_t utilization; /* Utilization targets */
	int64_t usage_milli; /* raw average value (resource) or usage (others) */
	double ratio;
	int32_t ready_pods, unready_pods, missing_pods, ignored_pods;
};

/* Inputs shared by the per-pod calculators. */
struct eng_pod_metric {
	const char *resource;  /* "cpu", ...; "" for a Pods metric */
	const char *container; /* ContainerResource: the container; NULL otherwise */
	const struct eng_pod *pods;
	size_t n_pods;
	const struct eng_sample *samples; /* per pod */
	size_t n_extra;
	const struct eng_sample *extra_samples; /* for pods not in the list */
};

/* GetResourceReplicas (Utilization target). Errors carry the Kubernetes message in <diag>. */
PS_MUST_CHECK enum ps_err eng_calc_resource_utilization(const struct eng_params *p,
                                                        struct eng_tolerances tol, int32_t current,
                                                        int32_t target_utilization,
                                                        const struct eng_pod_metric *m,
                                                        int64_t now_ms, struct eng_scratch *s,
                                                        struct eng_calc *out, struct ps_diag *diag);
/* calcPlainMetricReplicas: Pods metrics, and Resource with an AverageValue target. */
PS_MUST_CHECK enum ps_err eng_calc_plain(const struct eng_params *p, struct eng_tolerances tol,
                                         int32_t current, int64_t target_milli,
                                         const struct eng_pod_metric *m, int64_t now_ms,
                                         struct eng_scratch *s, struct eng_calc *out,
                                         struct ps_diag *diag);
/* GetObjectMetricReplicas (Value): <pods> only give the Running+Ready count. */
PS_MUST_CHECK enum ps_err eng_calc_object(struct eng_tolerances tol, int32_t current,
                                          int64_t usage_milli, int64_t target_milli,
                                          const struct eng_pod *pods, size_t n_pods,
                                          struct eng_calc *out, struct ps_diag *diag);
/* GetObjectPerPodMetricReplicas (AverageValue): <status_replicas> is scale.status.replicas. */
PS_MUST_CHECK enum ps_err eng_calc_object_per_pod(struct eng_tolerances tol,
                                                  int32_t status_replicas, int64_t usage_milli,
                                                  int64_t target_avg_milli, struct eng_calc *out,
                                                  struct ps_diag *diag);
/* GetExternalMetricReplicas (Value). */
PS_MUST_CHECK enum ps_err eng_calc_external(struct eng_tolerances tol, int32_t current,
                                            const int64_t *values, size_t n_values,
                                            int64_t target_milli, const struct eng_pod *pods,
                                            size_t n_pods, struct eng_calc *out,
                                            struct ps_diag *diag);
/* GetExternalPerPodMetricReplicas (AverageValue). */
PS_MUST_CHECK enum ps_err eng_calc_external_per_pod(struct eng_tolerances tol,
                                                    int32_t status_replicas, const int64_t *values,
                                                    size_t n_values, int64_t target_avg_milli,
                                                    struct eng_calc *out, struct ps_diag *diag);

/* ---- normalization (horizontal.go) ---- */

/* stabilizeRecommendation (no behavior): returns the stabilized count and stores <desired>. */
int32_t eng_stabilize_legacy(struct eng_history *h, int64_t window_ms, int32_t desired,
                             int64_t now_ms);
/* stabilizeRecommendationWithBehaviors: windows in seconds (a negative down window means the
 * controller default is not set up: callers pass the resolved value). <reason> gets
 * "ScaleUpStabilized" or "ScaleDownStabilized". */
int32_t eng_stabilize(struct eng_history *h, int32_t current, int32_t desired, int32_t up_window_s,
                      int32_t down_window_s, int64_t now_ms, const char **reason);
/* convertDesiredReplicasWithRules (no behavior). */
int32_t eng_legacy_rules(int32_t current, int32_t desired, int32_t min, int32_t max, double factor,
                         double minimum, const char **reason);
/* convertDesiredReplicasWithBehaviorRate. <b> must be defaulted. */
int32_t eng_behavior_rate(const struct eng_behavior *b, const struct eng_history *h,
                          int32_t current, int32_t desired, int32_t min, int32_t max,
                          int64_t now_ms, const char **reason);
/* calculateScaleUpLimitWithScalingRules / calculateScaleDownLimitWithBehaviors. */
int32_t eng_scale_up_limit(int32_t current, const struct eng_event_list *up,
                           const struct eng_event_list *down, const struct eng_rules *r,
                           int64_t now_ms);
int32_t eng_scale_down_limit(int32_t current, const struct eng_event_list *up,
                             const struct eng_event_list *down, const struct eng_rules *r,
                             int64_t now_ms);
/* getReplicasChangePerPeriod. */
int32_t eng_change_in_period(int32_t period_s, const struct eng_event_list *events, int64_t now_ms);
/* storeScaleEvent: <b> NULL means the HPA has no behavior (nothing is recorded). */
void eng_store_scale_event(const struct eng_behavior *b, struct eng_history *h,
                           int32_t prev_replicas, int32_t new_replicas, int64_t now_ms);

#endif
