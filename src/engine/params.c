/* params.c -- engine defaults (controller flags, API defaulting of behavior), names of enum
 * values, and the lifecycle of the history and scratch arrays. */
#include <string.h>

#include "engine.h"
#include "ps_alloc.h"

void eng_params_default(struct eng_params *p)
{
	memset(p, 0, sizeof(*p));
	p->tolerance = 0.1;
	p->cpu_init_period_ms = 5 * 60 * 1000;
	p->readiness_delay_ms = 30 * 1000;
	p->downscale_window_ms = 5 * 60 * 1000;
	p->scale_up_limit_factor = 2.0;
	p->scale_up_limit_minimum = 4.0;
	p->gate_scale_to_zero = false;
	p->gate_configurable_tolerance = true;
	p->gate_pod_level_resources = true;
}

void eng_rules_default_up(struct eng_rules *r)
{
	memset(r, 0, sizeof(*r));
	r->has_window = true;
	r->window_s = 0;
	r->has_select = true;
	r->select = ENG_SELECT_MAX;
	r->has_policies = true;
	r->n_policies = 2;
	r->policies[0] = (struct eng_policy){ENG_POLICY_PODS, 4, 15};
	r->policies[1] = (struct eng_policy){ENG_POLICY_PERCENT, 100, 15};
}

void eng_rules_default_down(struct eng_rules *r)
{
	memset(r, 0, sizeof(*r));
	/* No window: the controller's --horizontal-pod-autoscaler-downscale-stabilization applies.
	 */
	r->has_window = false;
	r->has_select = true;
	r->select = ENG_SELECT_MAX;
	r->has_policies = true;
	r->n_policies = 1;
	r->policies[0] = (struct eng_policy){ENG_POLICY_PERCENT, 100, 15};
}

/* copyHPAScalingRules(given, default): every field left unset in <r> comes from <def>. */
static void fill_rules(struct eng_rules *r, const struct eng_rules *def)
{
	if (!r->has_window && def->has_window) {
		r->has_window = true;
		r->window_s = def->window_s;
	}
	if (!r->has_select) {
		r->has_select = def->has_select;
		r->select = def->select;
	}
	if (!r->has_policies) {
		r->has_policies = def->has_policies;
		r->n_policies = def->n_policies;
		memcpy(r->policies, def->policies, sizeof(r->policies));
	}
}

void eng_behavior_default(struct eng_behavior *b)
{
	struct eng_rules up, down;
	eng_rules_default_up(&up);
	eng_rules_default_down(&down);
	if (!b->has_scale_up) {
		b->has_scale_up = true;
		b->scale_up = up;
	} else {
		fill_rules(&b->scale_up, &up);
	}
	if (!b->has_scale_down) {
		b->has_scale_down = true;
		b->scale_down = down;
	} else {
		fill_rules(&b->scale_down, &down);
	}
}

enum ps_err eng_history_init_sized(struct eng_history *h, size_t cap_recs, size_t cap_events)
{
	memset(h, 0, sizeof(*h));
	if (cap_recs == 0)
		cap_recs = 1;
	if (cap_events == 0)
		cap_events = 1;
	h->recs = ps_calloc(cap_recs, sizeof(*h->recs));
	h->up.v = ps_calloc(cap_events, sizeof(*h->up.v));
	h->down.v = ps_calloc(cap_events, sizeof(*h->down.v));
	if (!h->recs || !h->up.v || !h->down.v) {
		eng_history_release(h);
		return PS_ENOMEM;
	}
	h->cap_recs = cap_recs;
	h->up.cap = h->down.cap = cap_events;
	return PS_OK;
}

enum ps_err eng_history_init(struct eng_history *h, size_t cap)
{
	return eng_history_init_sized(h, cap, cap);
}

/* Doubles <l> when full, up to <max> entries. */
static enum ps_err events_reserve(struct eng_event_list *l, size_t max)
{
	if (l->n < l->cap || l->cap >= max)
		return PS_OK;
	size_t cap = l->cap * 2 < max ? l->cap * 2 : max;
	struct eng_event *v = ps_reallocarray(l->v, cap, sizeof(*v));
	if (!v)
		return PS_ENOMEM;
	l->v = v;
	l->cap = cap;
	return PS_OK;
}

enum ps_err eng_history_reserve_events(struct eng_history *h, size_t max)
{
	enum ps_err e = events_reserve(&h->up, max);
	enum ps_err e2 = events_reserve(&h->down, max);
	return e ? e : e2;
}

void eng_history_release(struct eng_history *h)
{
	ps_free(h->recs);
	ps_free(h->up.v);
	ps_free(h->down.v);
	memset(h, 0, sizeof(*h));
}

enum ps_err eng_scratch_reserve(struct eng_scratch *s, size_t n)
{
	if (n <= s->cap && s->cls)
		return PS_OK;
	if (n == 0)
		n = 1;
	unsigned char *cls = ps_calloc(n, sizeof(*cls));
	int64_t *vals = ps_calloc(n, sizeof(*vals));
	bool *has_val = ps_calloc(n, sizeof(*has_val));
	int64_t *req = ps_calloc(n, sizeof(*req));
	bool *has_req = ps_calloc(n, sizeof(*has_req));
	if (!cls || !vals || !has_val || !req || !has_req) {
		ps_free(cls);
		ps_free(vals);
		ps_free(has_val);
		ps_free(req);
		ps_free(has_req);
		return PS_ENOMEM;
	}
	eng_scratch_release(s);
	s->cls = cls;
	s->vals = vals;
	s->has_val = has_val;
	s->req = req;
	s->has_req = has_req;
	s->cap = n;
	return PS_OK;
}

void eng_scratch_release(struct eng_scratch *s)
{
	ps_free(s->cls);
	ps_free(s->vals);
	ps_free(s->has_val);
	ps_free(s->req);
	ps_free(s->has_req);
	memset(s, 0, sizeof(*s));
}

const char *eng_rule_name(enum eng_rule r)
{
	switch (r) {
	case ENG_RULE_METRICS:
		return "metrics";
	case ENG_RULE_TOLERANCE:
		return "tolerance";
	case ENG_RULE_STABILIZATION:
		return "stabilization window";
	case ENG_RULE_RATE_LIMIT:
		return "rate limit";
	case ENG_RULE_MIN_REPLICAS:
		return "minReplicas";
	case ENG_RULE_MAX_REPLICAS:
		return "maxReplicas";
	case ENG_RULE_ABOVE_MAX:
		return "current above maxReplicas";
	case ENG_RULE_BELOW_MIN:
		return "current below minReplicas";
	case ENG_RULE_SCALING_DISABLED:
		return "scaling disabled";
	case ENG_RULE_METRICS_FAILED:
		return "metrics failed";
	case ENG_RULE_INVALID_SELECTOR:
		return "invalid selector";
	case ENG_RULE_FORECAST:
		return "forecast";
	}
	return "unknown";
}

const char *eng_forecast_use_name(enum eng_forecast_use u)
{
	switch (u) {
	case ENG_FORECAST_NONE:
		return "none";
	case ENG_FORECAST_ACT:
		return "scale";
	case ENG_FORECAST_OBSERVE:
		return "observe";
	case ENG_FORECAST_FALLBACK:
		return "fallback";
	}
	return "none";
}

const char *eng_cond_type_name(enum eng_cond_type t)
{
	switch (t) {
	case ENG_COND_ABLE_TO_SCALE:
		return "AbleToScale";
	case ENG_COND_SCALING_ACTIVE:
		return "ScalingActive";
	case ENG_COND_SCALING_LIMITED:
		return "ScalingLimited";
	case ENG_COND_SCALED_TO_ZERO:
		return "ScaledToZero";
	}
	return "Unknown";
}

const char *eng_source_name(enum eng_source s)
{
	switch (s) {
	case ENG_SRC_RESOURCE:
		return "Resource";
	case ENG_SRC_CONTAINER_RESOURCE:
		return "ContainerResource";
	case ENG_SRC_PODS:
		return "Pods";
	case ENG_SRC_OBJECT:
		return "Object";
	case ENG_SRC_EXTERNAL:
		return "External";
	case ENG_SRC_UNKNOWN:
		return "Unknown";
	}
	return "Unknown";
}

const char *eng_target_type_name(enum eng_target_type t)
{
	switch (t) {
	case ENG_TARGET_UNSET:
		return "";
	case ENG_TARGET_UTILIZATION:
		return "Utilization";
	case ENG_TARGET_AVERAGE_VALUE:
		return "AverageValue";
	case ENG_TARGET_VALUE:
		return "Value";
	}
	return "";
}

const char *eng_select_name(enum eng_select s)
{
	switch (s) {
	case ENG_SELECT_MAX:
		return "Max";
	case ENG_SELECT_MIN:
		return "Min";
	case ENG_SELECT_DISABLED:
		return "Disabled";
	}
	return "";
}

const char *eng_policy_type_name(enum eng_policy_type t)
{
	switch (t) {
	case ENG_POLICY_PODS:
		return "Pods";
	case ENG_POLICY_PERCENT:
		return "Percent";
	}
	return "";
}

const char *eng_phase_name(enum eng_phase p)
{
	switch (p) {
	case ENG_PHASE_PENDING:
		return "Pending";
	case ENG_PHASE_RUNNING:
		return "Running";
	case ENG_PHASE_SUCCEEDED:
		return "Succeeded";
	case ENG_PHASE_FAILED:
		return "Failed";
	case ENG_PHASE_UNKNOWN:
		return "Unknown";
	}
	return "Unknown";
}
