/* decide.c -- one reconcile of the HPA controller as a pure function: short-circuits, the
 * per-metric proposals and their maximum, normalization, and the status conditions
 * (horizontal.go reconcileAutoscaler; SEMANTICS.md sections 3, 4, 10, 13 and 14). */
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "engine.h"

/* ---- conditions: updated in place by type, new types appended (setConditionInList) ---- */

static void set_cond(struct eng_decision *d, enum eng_cond_type type, bool status,
                     const char *reason, const char *fmt, ...) PS_PRINTF(5, 6);

static void set_cond(struct eng_decision *d, enum eng_cond_type type, bool status,
                     const char *reason, const char *fmt, ...)
{
	struct eng_condition *c = NULL;
	for (size_t i = 0; i < d->n_conditions; i++)
		if (d->conditions[i].type == type)
			c = &d->conditions[i];
	if (!c) {
		if (d->n_conditions >= ENG_MAX_CONDITIONS)
			return; /* only four types exist; the list cannot fill */
		c = &d->conditions[d->n_conditions++];
		c->type = type;
	}
	c->status = status;
	snprintf(c->reason, sizeof(c->reason), "%s", reason);
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(c->message, sizeof(c->message), fmt, ap);
	va_end(ap);
}

static void remove_cond(struct eng_decision *d, enum eng_cond_type type)
{
	size_t w = 0;
	for (size_t i = 0; i < d->n_conditions; i++)
		if (d->conditions[i].type != type)
			d->conditions[w++] = d->conditions[i];
	d->n_conditions = w;
}

static bool cond_is_true(const struct eng_condition *cs, size_t n, enum eng_cond_type type)
{
	for (size_t i = 0; i < n; i++)
		if (cs[i].type == type)
			return cs[i].status;
	return false;
}

static bool has_object_or_external(const struct eng_spec *spec)
{
	for (size_t i = 0; i < spec->n_metrics; i++)
		if (spec->metrics[i].source == ENG_SRC_OBJECT ||
		    spec->metrics[i].source == ENG_SRC_EXTERNAL)
			return true;
	return false;
}

static int32_t min_replicas(const struct eng_spec *spec)
{
	return spec->has_min_replicas ? spec->min_replicas : 1;
}

/* ---- one metric (computeReplicasForMetric) ---- */

const char *eng_failure_reason(enum eng_source s)
{
	switch (s) {
	case ENG_SRC_RESOURCE:
		return "FailedGetResourceMetric";
	case ENG_SRC_CONTAINER_RESOURCE:
		return "FailedGetContainerResourceMetric";
	case ENG_SRC_PODS:
		return "FailedGetPodsMetric";
	case ENG_SRC_OBJECT:
		return "FailedGetObjectMetric";
	case ENG_SRC_EXTERNAL:
		return "FailedGetExternalMetric";
	case ENG_SRC_UNKNOWN:
		return "InvalidMetricSourceType";
	}
	return "InvalidMetricSourceType";
}

static void metric_label(const struct eng_metric_spec *ms, char *buf, size_t size)
{
	const struct eng_target *t = &ms->target;
	switch (ms->source) {
	case ENG_SRC_RESOURCE:
		if (t->has_average_value)
			snprintf(buf, size, "%s resource", ms->resource);
		else
			snprintf(buf, size, "%s resource utilization (percentage of request)",
			         ms->resource);
		return;
	case ENG_SRC_CONTAINER_RESOURCE:
		if (t->has_average_value)
			snprintf(buf, size, "%s container resource", ms->resource);
		else
			snprintf(buf, size,
			         "%s container resource utilization (percentage of request)",
			         ms->resource);
		return;
	case ENG_SRC_PODS:
		snprintf(buf, size, "pods metric %s", ms->name);
		return;
	case ENG_SRC_OBJECT:
		snprintf(buf, size, "%s metric %s", ms->object_kind[0] ? ms->object_kind : "object",
		         ms->name);
		return;
	case ENG_SRC_EXTERNAL:
		snprintf(buf, size, "external metric %s", ms->name);
		return;
	case ENG_SRC_UNKNOWN:
		snprintf(buf, size, "metric %s", ms->name);
		return;
	}
}

static void row_from_calc(struct eng_metric_row *row, const struct eng_calc *c, bool util)
{
	row->proposal = c->replicas;
	row->current_milli = c->usage_milli;
	row->has_utilization = util;
	row->utilization = c->utilization;
	row->ratio = c->ratio;
	row->ready_pods = c->ready_pods;
	row->unready_pods = c->unready_pods;
	row->missing_pods = c->missing_pods;
	row->ignored_pods = c->ignored_pods;
}

/* The prefix Kubernetes puts on a metrics-API failure of this source. */
static void fetch_error(const struct eng_metric_spec *ms, const struct eng_reading *rd,
                        struct ps_diag *diag)
{
	const char *msg = rd->error ? rd->error : "the metric source returned an error";
	switch (ms->source) {
	case ENG_SRC_RESOURCE:
	case ENG_SRC_CONTAINER_RESOURCE:
		ps_diag_set(diag, PS_EMETRIC, "unable to get metrics for resource %s: %s",
		            ms->resource, msg);
		return;
	case ENG_SRC_EXTERNAL:
		ps_diag_set(diag, PS_EMETRIC, "unable to get external metric %s: %s", ms->name,
		            msg);
		return;
	case ENG_SRC_PODS:
	case ENG_SRC_OBJECT:
	case ENG_SRC_UNKNOWN:
		ps_diag_set(diag, PS_EMETRIC, "unable to get metric %s: %s", ms->name, msg);
		return;
	}
}

static enum ps_err compute_metric(const struct eng_spec *spec, const struct eng_params *p,
                                  struct eng_tolerances tol, const struct eng_observation *obs,
                                  size_t idx, struct eng_scratch *s, struct eng_metric_row *row,
                                  struct ps_diag *diag)
{
	const struct eng_metric_spec *ms = &spec->metrics[idx];
	const struct eng_reading *rd = &obs->readings[idx];
	const struct eng_target *t = &ms->target;
	struct eng_calc c;
	(void)spec;

	if (ms->source == ENG_SRC_UNKNOWN)
		return ps_diag_set(diag, PS_EINVAL, "unknown metric source type %s", ms->name);
	if (rd->failed) {
		fetch_error(ms, rd, diag);
		return PS_EMETRIC;
	}
	struct eng_pod_metric pm = {
	    .resource = ms->resource,
	    .container = ms->source == ENG_SRC_CONTAINER_RESOURCE ? ms->container : NULL,
	    .pods = obs->pods,
	    .n_pods = obs->n_pods,
	    .samples = rd->pod_samples,
	    .n_extra = rd->n_extra,
	    .extra_samples = rd->extra_samples,
	};
	enum ps_err e;
	switch (ms->source) {
	case ENG_SRC_RESOURCE:
	case ENG_SRC_CONTAINER_RESOURCE:
		if (t->has_average_value) {
			e = eng_calc_plain(p, tol, obs->spec_replicas, t->average_value_milli, &pm,
			                   obs->now_ms, s, &c, diag);
			if (!e)
				row_from_calc(row, &c, false);
			return e;
		}
		if (!t->has_average_utilization)
			return ps_diag_set(diag, PS_EINVAL,
			                   "invalid resource metric source: neither an average "
			                   "utilization target nor an average value (usage) target "
			                   "was set");
		e = eng_calc_resource_utilization(p, tol, obs->spec_replicas,
		                                  t->average_utilization, &pm, obs->now_ms, s, &c,
		                                  diag);
		if (!e)
			row_from_calc(row, &c, true);
		return e;
	case ENG_SRC_PODS:
		if (!t->has_average_value)
			return ps_diag_set(diag, PS_EINVAL,
			                   "invalid pods metric source: no average value target");
		pm.resource = "";
		e = eng_calc_plain(p, tol, obs->spec_replicas, t->average_value_milli, &pm,
		                   obs->now_ms, s, &c, diag);
		if (!e)
			row_from_calc(row, &c, false);
		return e;
	case ENG_SRC_OBJECT:
		if (t->type == ENG_TARGET_VALUE && t->has_value)
			e = eng_calc_object(tol, obs->spec_replicas, rd->value_milli,
			                    t->value_milli, obs->pods, obs->n_pods, &c, diag);
		else if (t->type == ENG_TARGET_AVERAGE_VALUE && t->has_average_value)
			e = eng_calc_object_per_pod(tol, obs->status_replicas, rd->value_milli,
			                            t->average_value_milli, &c, diag);
		else
			return ps_diag_set(diag, PS_EINVAL,
			                   "invalid object metric source: neither a value target "
			                   "nor an average value target was set");
		if (!e)
			row_from_calc(row, &c, false);
		return e;
	case ENG_SRC_EXTERNAL:
		if (t->has_average_value)
			e = eng_calc_external_per_pod(tol, obs->status_replicas, rd->values_milli,
			                              rd->n_values, t->average_value_milli, &c,
			                              diag);
		else if (t->has_value)
			e = eng_calc_external(tol, obs->spec_replicas, rd->values_milli,
			                      rd->n_values, t->value_milli, obs->pods, obs->n_pods,
			                      &c, diag);
		else
			return ps_diag_set(diag, PS_EINVAL,
			                   "invalid external metric source: neither a value target "
			                   "nor an average value target was set");
		if (e == PS_ENODATA)
			ps_diag_prefix(diag, "unable to get external metric %s", ms->name);
		if (!e)
			row_from_calc(row, &c, false);
		return e;
	case ENG_SRC_UNKNOWN:
		break;
	}
	return ps_diag_set(diag, PS_EINVAL, "unknown metric source type");
}

/* The replicas a metric's forecast asks for: the same calculation as the metric's, with the
 * forecast in place of the reading. Per-pod metrics scale their usage ratio by forecast/current
 * and multiply by the ready pods, as a rebalance-free GetResourceReplicas would. Returns false
 * when no proposal can be made (no forecast, a failed row, no usage to scale from). */
static bool forecast_proposal(const struct eng_metric_spec *ms, const struct eng_reading *rd,
                              struct eng_tolerances tol, const struct eng_observation *obs,
                              const struct eng_metric_row *row, int32_t *out)
{
	const struct eng_target *t = &ms->target;
	int64_t fc = rd->forecast_milli;
	struct eng_calc c;
	enum ps_err e;
	switch (ms->source) {
	case ENG_SRC_OBJECT:
		if (t->type == ENG_TARGET_VALUE && t->has_value)
			e = eng_calc_object(tol, obs->spec_replicas, fc, t->value_milli, obs->pods,
			                    obs->n_pods, &c, NULL);
		else
			e = eng_calc_object_per_pod(tol, obs->status_replicas, fc,
			                            t->average_value_milli, &c, NULL);
		break;
	case ENG_SRC_EXTERNAL:
		if (t->has_average_value)
			e = eng_calc_external_per_pod(tol, obs->status_replicas, &fc, 1,
			                              t->average_value_milli, &c, NULL);
		else
			e = eng_calc_external(tol, obs->spec_replicas, &fc, 1, t->value_milli,
			                      obs->pods, obs->n_pods, &c, NULL);
		break;
	case ENG_SRC_RESOURCE:
	case ENG_SRC_CONTAINER_RESOURCE:
	case ENG_SRC_PODS: {
		if (row->current_milli <= 0 || row->ready_pods <= 0)
			return false;
		double ratio = row->ratio * ((double)fc / (double)row->current_milli);
		if (eng_tolerances_within(tol, ratio)) {
			*out = obs->spec_replicas;
			return true;
		}
		double x = ceil(ratio * (double)row->ready_pods);
		*out = x >= (double)INT32_MAX ? INT32_MAX : x <= 0 ? 0 : (int32_t)x;
		return true;
	}
	case ENG_SRC_UNKNOWN:
	default:
		return false;
	}
	if (e)
		return false;
	*out = c.replicas;
	return true;
}

/* computeReplicasForMetrics: the maximum of the valid proposals, or -1 when no metric is
 * valid or an invalid one would let a scale-down through. Sets ScalingActive. Returns the
 * index of the metric that gave the maximum in <*winner> (or -1). */
static int32_t compute_metrics(const struct eng_spec *spec, const struct eng_params *p,
                               const struct eng_observation *obs, struct eng_scratch *s,
                               struct eng_decision *d, int *winner, int32_t *fc_replicas,
                               int *fc_winner)
{
	struct eng_tolerances tol = eng_tolerances_for(spec, p);
	*fc_replicas = -1;
	*fc_winner = -1;
	int32_t replicas = 0;
	size_t invalid = 0;
	int first_invalid = -1;
	*winner = -1;
	d->n_rows = spec->n_metrics;
	for (size_t i = 0; i < spec->n_metrics; i++) {
		struct eng_metric_row *row = &d->rows[i];
		memset(row, 0, sizeof(*row));
		metric_label(&spec->metrics[i], row->label, sizeof(row->label));
		struct ps_diag md;
		ps_diag_clear(&md);
		enum ps_err e = compute_metric(spec, p, tol, obs, i, s, row, &md);
		if (e) {
			row->ok = false;
			row->failure_reason = eng_failure_reason(spec->metrics[i].source);
			snprintf(row->error, sizeof(row->error), "%s", ps_diag_msg(&md));
			if (first_invalid < 0)
				first_invalid = (int)i;
			invalid++;
			continue;
		}
		row->ok = true;
		if (replicas == 0 || row->proposal > replicas) {
			replicas = row->proposal;
			*winner = (int)i;
		}
		const struct eng_reading *rd = &obs->readings[i];
		row->forecast_use = rd->forecast_use;
		if (rd->forecast_use == ENG_FORECAST_NONE)
			continue;
		row->forecast_milli = rd->forecast_milli;
		row->has_forecast_proposal = forecast_proposal(&spec->metrics[i], rd, tol, obs, row,
		                                               &row->forecast_proposal);
		/* Only a forecast in scale mode takes part: the largest one, applied after
		 * stabilization (see eng_decide). */
		if (rd->forecast_use == ENG_FORECAST_ACT && row->has_forecast_proposal &&
		    row->forecast_proposal > *fc_replicas) {
			*fc_replicas = row->forecast_proposal;
			*fc_winner = (int)i;
		}
	}
	if (invalid > 0) {
		d->error = true;
		snprintf(d->error_msg, sizeof(d->error_msg),
		         "invalid metrics (%zu invalid out of %zu), first error is: %s", invalid,
		         spec->n_metrics, d->rows[first_invalid].error);
	}
	if (invalid >= spec->n_metrics || (invalid > 0 && replicas < obs->spec_replicas)) {
		const struct eng_metric_row *fr = &d->rows[first_invalid];
		set_cond(d, ENG_COND_SCALING_ACTIVE, false, fr->failure_reason,
		         "the HPA was unable to compute the replica count: %s", fr->error);
		return -1;
	}
	set_cond(d, ENG_COND_SCALING_ACTIVE, true, "ValidMetricFound",
	         "the HPA was able to successfully calculate a replica count from %s",
	         *winner >= 0 ? d->rows[*winner].label : "");
	return replicas;
}

/* ---- normalization with conditions ---- */

static int32_t normalize_legacy(const struct eng_spec *spec, const struct eng_params *p,
                                struct eng_history *h, int32_t current, int32_t pre, int32_t min,
                                int32_t floor, int64_t now_ms, struct eng_decision *d,
                                const char **limit_reason)
{
	int32_t stab = eng_stabilize_legacy(h, p->downscale_window_ms, pre, now_ms);
	d->stabilized_replicas = stab;
	if (stab != pre)
		set_cond(d, ENG_COND_ABLE_TO_SCALE, true, "ScaleDownStabilized",
		         "recent recommendations were higher than current one, applying the "
		         "highest recent recommendation");
	else
		set_cond(d, ENG_COND_ABLE_TO_SCALE, true, "ReadyForNewScale",
		         "recommended size matches current size");
	const char *why;
	if (floor > stab)
		stab = floor;
	int32_t desired =
	    eng_legacy_rules(current, stab, min, spec->max_replicas, p->scale_up_limit_factor,
	                     p->scale_up_limit_minimum, &why);
	*limit_reason = why;
	set_cond(d, ENG_COND_SCALING_LIMITED, desired != stab, why, "%s",
	         desired != stab ? "the desired replica count is outside the allowed range"
	                         : "the desired count is within the acceptable range");
	return desired;
}

static const char *limit_message(const char *reason)
{
	if (strcmp(reason, "ScaleUpLimit") == 0)
		return "the desired replica count is increasing faster than the maximum scale rate";
	if (strcmp(reason, "ScaleDownLimit") == 0)
		return "the desired replica count is decreasing faster than the maximum scale rate";
	if (strcmp(reason, "TooManyReplicas") == 0)
		return "the desired replica count is more than the maximum replica count";
	if (strcmp(reason, "TooFewReplicas") == 0)
		return "the desired replica count is less than the minimum replica count";
	return "the desired count is within the acceptable range";
}

static int32_t normalize_behavior(const struct eng_spec *spec, const struct eng_params *p,
                                  struct eng_history *h, int32_t current, int32_t pre, int32_t min,
                                  int32_t floor, int64_t now_ms, struct eng_decision *d,
                                  const char **limit_reason)
{
	struct eng_behavior b = spec->behavior;
	eng_behavior_default(&b);
	/* maybeInitScaleDownStabilizationWindow */
	if (!b.scale_down.has_window) {
		b.scale_down.has_window = true;
		b.scale_down.window_s = (int32_t)(p->downscale_window_ms / 1000);
	}
	const char *why;
	int32_t stab = eng_stabilize(h, current, pre, b.scale_up.window_s, b.scale_down.window_s,
	                             now_ms, &why);
	d->stabilized_replicas = stab;
	if (stab != pre)
		set_cond(d, ENG_COND_ABLE_TO_SCALE, true, why, "%s",
		         strcmp(why, "ScaleUpStabilized") == 0
		             ? "recent recommendations were lower than current one, applying "
		               "the lowest recent recommendation"
		             : "recent recommendations were higher than current one, applying "
		               "the highest recent recommendation");
	else
		set_cond(d, ENG_COND_ABLE_TO_SCALE, true, "ReadyForNewScale",
		         "recommended size matches current size");
	if (floor > stab)
		stab = floor;
	int32_t desired =
	    eng_behavior_rate(&b, h, current, stab, min, spec->max_replicas, now_ms, &why);
	*limit_reason = why;
	set_cond(d, ENG_COND_SCALING_LIMITED, desired != stab, why, "%s", limit_message(why));
	return desired;
}

static enum eng_rule rule_for_limit(const char *reason)
{
	if (strcmp(reason, "ScaleUpLimit") == 0 || strcmp(reason, "ScaleDownLimit") == 0)
		return ENG_RULE_RATE_LIMIT;
	if (strcmp(reason, "TooManyReplicas") == 0)
		return ENG_RULE_MAX_REPLICAS;
	if (strcmp(reason, "TooFewReplicas") == 0)
		return ENG_RULE_MIN_REPLICAS;
	return ENG_RULE_METRICS;
}

/* ---- the reconcile ---- */

static enum ps_err check_spec(const struct eng_spec *spec, const struct eng_observation *obs,
                              const struct eng_scratch *s, struct ps_diag *diag)
{
	if (spec->n_metrics == 0 || spec->n_metrics > ENG_MAX_METRICS)
		return ps_diag_set(diag, PS_EINVAL, "the spec has %zu metrics (1 to %d allowed)",
		                   spec->n_metrics, ENG_MAX_METRICS);
	if (!obs->readings)
		return ps_diag_set(diag, PS_EINVAL, "the observation has no readings");
	if (obs->n_pods > 0 && (!s || s->cap < obs->n_pods))
		return ps_diag_set(diag, PS_ETOOBIG,
		                   "scratch space holds %zu pods, the observation has %zu",
		                   s ? s->cap : 0, obs->n_pods);
	if (obs->n_conditions > ENG_MAX_CONDITIONS)
		return ps_diag_set(diag, PS_EINVAL, "too many status conditions (%zu)",
		                   obs->n_conditions);
	return PS_OK;
}

enum ps_err eng_decide(const struct eng_spec *spec, const struct eng_params *p,
                       const struct eng_observation *obs, struct eng_history *h,
                       struct eng_scratch *s, struct eng_decision *d, struct ps_diag *diag)
{
	enum ps_err e = check_spec(spec, obs, s, diag);
	if (e)
		return e;
	memset(d, 0, sizeof(*d));
	for (size_t i = 0; i < obs->n_conditions; i++)
		d->conditions[d->n_conditions++] = obs->conditions[i];

	const int64_t now = obs->now_ms;
	const int32_t current = obs->spec_replicas;
	const int32_t min = min_replicas(spec);
	d->current_replicas = current;
	d->metric_replicas = -1;
	d->forecast_replicas = -1;
	d->stabilized_replicas = current;

	set_cond(d, ENG_COND_ABLE_TO_SCALE, true, "SucceededGetScale",
	         "the HPA controller was able to get the target's current scale");
	/* recordInitialRecommendation */
	if (!h->recs_set) {
		h->n_recs = 0;
		if (h->cap_recs > 0)
			h->recs[h->n_recs++] = (struct eng_rec){current, now};
		h->recs_set = true;
	}

	const bool gate = p->gate_scale_to_zero;
	const bool obj_ext = has_object_or_external(spec);
	const bool stz =
	    gate && cond_is_true(obs->conditions, obs->n_conditions, ENG_COND_SCALED_TO_ZERO);
	const bool from_zero = stz && obj_ext;
	bool compute = false;
	int32_t desired = 0;

	if (current == 0) {
		if ((min != 0 && stz) || from_zero) {
			compute = true;
		} else {
			d->rule = ENG_RULE_SCALING_DISABLED;
			set_cond(
			    d, ENG_COND_SCALING_ACTIVE, false, "ScalingDisabled",
			    "scaling is disabled since the replica count of the target is zero");
			if (!gate)
				remove_cond(d, ENG_COND_SCALED_TO_ZERO);
			desired = 0;
		}
	} else if (current > spec->max_replicas) {
		d->rule = ENG_RULE_ABOVE_MAX;
		snprintf(d->reason, sizeof(d->reason),
		         "Current number of replicas above Spec.MaxReplicas");
		desired = spec->max_replicas;
	} else if (current < min) {
		d->rule = ENG_RULE_BELOW_MIN;
		snprintf(d->reason, sizeof(d->reason),
		         "Current number of replicas below Spec.MinReplicas");
		desired = min;
	} else {
		compute = true;
	}

	if (compute) {
		d->computed = true;
		if (obs->selector != ENG_SELECTOR_OK) {
			bool amb = obs->selector == ENG_SELECTOR_AMBIGUOUS;
			set_cond(d, ENG_COND_SCALING_ACTIVE, false,
			         amb ? "AmbiguousSelector" : "InvalidSelector", "%s",
			         amb ? "pods by the selector are controlled by multiple HPAs"
			         : obs->selector == ENG_SELECTOR_EMPTY
			             ? "the HPA target's scale is missing a selector"
			             : "the HPA target's scale has an invalid selector");
			d->rule = ENG_RULE_INVALID_SELECTOR;
			d->error = true;
			snprintf(d->error_msg, sizeof(d->error_msg), "%s",
			         d->conditions[d->n_conditions - 1].message);
			d->desired_replicas = current;
			return PS_OK;
		}
		int winner, fc_winner;
		int32_t fc;
		int32_t metric = compute_metrics(spec, p, obs, s, d, &winner, &fc, &fc_winner);
		d->forecast_replicas = fc;
		d->metric_replicas = metric;
		if (metric == -1) {
			/* No scaling: status keeps the current count. */
			d->rule = ENG_RULE_METRICS_FAILED;
			d->desired_replicas = current;
			d->stabilized_replicas = current;
			return PS_OK;
		}
		const char *rescale_metric = "";
		if (metric > desired) {
			desired = metric;
			rescale_metric = winner >= 0 ? d->rows[winner].label : "";
		}
		if (desired > current)
			snprintf(d->reason, sizeof(d->reason), "%s above target", rescale_metric);
		if (desired < current)
			snprintf(d->reason, sizeof(d->reason), "All metrics below target");

		d->rule = ENG_RULE_METRICS;
		if (desired == current && winner >= 0 &&
		    eng_tolerances_within(eng_tolerances_for(spec, p), d->rows[winner].ratio))
			d->rule = ENG_RULE_TOLERANCE;
		int32_t pre = desired;
		const char *limit;
		/* The forecast proposal joins after stabilization: the recommendation history keeps
		 * the reactive values, so scale-down follows the reactive path and its windows,
		 * while a forecast above them raises the count (through the rate limits). */
		if (!spec->has_behavior)
			desired = normalize_legacy(spec, p, h, current, pre, min, fc, now, d, &limit);
		else
			desired = normalize_behavior(spec, p, h, current, pre, min, fc, now, d, &limit);
		int32_t raised = fc > d->stabilized_replicas ? fc : d->stabilized_replicas;
		if (d->stabilized_replicas != pre)
			d->rule = ENG_RULE_STABILIZATION;
		if (raised != d->stabilized_replicas) {
			d->rule = ENG_RULE_FORECAST;
			if (desired > current)
				snprintf(d->reason, sizeof(d->reason), "%s forecast above target",
				         d->rows[fc_winner].label);
		}
		if (desired != raised)
			d->rule = rule_for_limit(limit);
		if (current == 0 && min != 0 && stz && desired < min) {
			desired = min;
			d->rule = ENG_RULE_MIN_REPLICAS;
		}
	}

	d->write = compute ? desired != current : (current != 0 && desired != current);
	if (d->rule == ENG_RULE_SCALING_DISABLED)
		d->write = false;
	d->desired_replicas = d->write ? desired : current;
	return PS_OK;
}

void eng_rescaled(const struct eng_spec *spec, const struct eng_params *p, struct eng_history *h,
                  struct eng_decision *d, int64_t now_ms)
{
	set_cond(d, ENG_COND_ABLE_TO_SCALE, true, "SucceededRescale",
	         "the HPA controller was able to update the target scale to %d",
	         (int)d->desired_replicas);
	struct eng_behavior b;
	if (spec->has_behavior) {
		b = spec->behavior;
		eng_behavior_default(&b);
	}
	eng_store_scale_event(spec->has_behavior ? &b : NULL, h, d->current_replicas,
	                      d->desired_replicas, now_ms);
	if (p->gate_scale_to_zero) {
		if (d->current_replicas > 0 && d->desired_replicas == 0 &&
		    min_replicas(spec) == 0 && has_object_or_external(spec))
			set_cond(d, ENG_COND_SCALED_TO_ZERO, true, "ScaledToZero",
			         "the HPA controller scaled the workload to zero");
		else
			set_cond(d, ENG_COND_SCALED_TO_ZERO, false, "NotScaledToZero",
			         "the HPA controller did not scale the workload to zero");
	} else {
		remove_cond(d, ENG_COND_SCALED_TO_ZERO);
	}
}

void eng_rescale_failed(struct eng_decision *d, const char *msg)
{
	set_cond(d, ENG_COND_ABLE_TO_SCALE, false, "FailedUpdateScale",
	         "the HPA controller was unable to update the target scale: %s", msg ? msg : "");
	d->error = true;
	snprintf(d->error_msg, sizeof(d->error_msg), "failed to rescale: %s", msg ? msg : "");
}
