/* normalize.c -- from the metrics' proposal to the count written: stabilization windows, the
 * legacy scale-up cap, behavior rate policies, min/max, and the recorded scale events
 * (horizontal.go; SEMANTICS.md sections 11 and 12). Pure: time comes in as now_ms. */
#include <math.h>
#include <string.h>

#include "engine.h"

/* Go's int32 arithmetic wraps; C's signed overflow is undefined, so wrap explicitly. */
static int32_t add32(int32_t a, int32_t b)
{
	return (int32_t)((uint32_t)a + (uint32_t)b);
}

static int32_t sub32(int32_t a, int32_t b)
{
	return (int32_t)((uint32_t)a - (uint32_t)b);
}

static int32_t go_int32(double f)
{
	if (!(f > -2147483649.0 && f < 2147483648.0))
		return INT32_MIN;
	return (int32_t)f;
}

static int64_t seconds_ms(int64_t s)
{
	return s * 1000;
}

/* Stores <rec> at <old> (a reusable slot) or appends it; a full list reuses its oldest slot
 * and counts the loss in h->dropped. */
static void store_rec(struct eng_history *h, bool found_old, size_t old, struct eng_rec rec)
{
	if (found_old) {
		h->recs[old] = rec;
		return;
	}
	if (h->n_recs < h->cap_recs) {
		h->recs[h->n_recs++] = rec;
		return;
	}
	if (h->cap_recs == 0) {
		h->dropped++;
		return;
	}
	size_t oldest = 0;
	for (size_t i = 1; i < h->n_recs; i++)
		if (h->recs[i].ts_ms < h->recs[oldest].ts_ms)
			oldest = i;
	h->recs[oldest] = rec;
	h->dropped++;
}

int32_t eng_stabilize_legacy(struct eng_history *h, int64_t window_ms, int32_t desired,
                             int64_t now_ms)
{
	int32_t max = desired;
	bool found_old = false;
	size_t old = 0;
	int64_t cutoff = now_ms - window_ms;
	for (size_t i = 0; i < h->n_recs; i++) {
		if (h->recs[i].ts_ms < cutoff) {
			found_old = true;
			old = i;
		} else if (h->recs[i].replicas > max) {
			max = h->recs[i].replicas;
		}
	}
	store_rec(h, found_old, old, (struct eng_rec){desired, now_ms});
	h->recs_set = true;
	return max;
}

int32_t eng_stabilize(struct eng_history *h, int32_t current, int32_t desired, int32_t up_window_s,
                      int32_t down_window_s, int64_t now_ms, const char **reason)
{
	int32_t up = desired, down = desired;
	int64_t up_cut = now_ms - seconds_ms(up_window_s);
	int64_t down_cut = now_ms - seconds_ms(down_window_s);
	bool found_old = false;
	size_t old = 0;
	for (size_t i = 0; i < h->n_recs; i++) {
		const struct eng_rec *r = &h->recs[i];
		if (r->ts_ms > up_cut && r->replicas < up)
			up = r->replicas;
		if (r->ts_ms > down_cut && r->replicas > down)
			down = r->replicas;
		if (r->ts_ms < up_cut && r->ts_ms < down_cut) {
			found_old = true;
			old = i;
		}
	}
	int32_t rec = current;
	if (rec < up)
		rec = up;
	if (rec > down)
		rec = down;
	/* The unstabilized value is what gets recorded. */
	store_rec(h, found_old, old, (struct eng_rec){desired, now_ms});
	h->recs_set = true;
	if (reason)
		*reason = desired >= current ? "ScaleUpStabilized" : "ScaleDownStabilized";
	return rec;
}

int32_t eng_legacy_rules(int32_t current, int32_t desired, int32_t min, int32_t max, double factor,
                         double minimum, const char **reason)
{
	int32_t up_limit = go_int32(fmax(factor * (double)current, minimum));
	int32_t allowed_max;
	const char *cond;
	if (max > up_limit) {
		allowed_max = up_limit;
		cond = "ScaleUpLimit";
	} else {
		allowed_max = max;
		cond = "TooManyReplicas";
	}
	if (desired < min) {
		*reason = "TooFewReplicas";
		return min;
	}
	if (desired > allowed_max) {
		*reason = cond;
		return allowed_max;
	}
	*reason = "DesiredWithinRange";
	return desired;
}

int32_t eng_change_in_period(int32_t period_s, const struct eng_event_list *events, int64_t now_ms)
{
	int64_t cutoff = now_ms - seconds_ms(period_s);
	int32_t sum = 0;
	for (size_t i = 0; i < events->n; i++)
		if (events->v[i].ts_ms > cutoff)
			sum = add32(sum, events->v[i].replica_change);
	return sum;
}

/* Replicas at the start of <period_s>: current minus what was added plus what was removed. */
static int32_t period_start(int32_t current, const struct eng_event_list *up,
                            const struct eng_event_list *down, int32_t period_s, int64_t now_ms)
{
	return add32(sub32(current, eng_change_in_period(period_s, up, now_ms)),
	             eng_change_in_period(period_s, down, now_ms));
}

int32_t eng_scale_up_limit(int32_t current, const struct eng_event_list *up,
                           const struct eng_event_list *down, const struct eng_rules *r,
                           int64_t now_ms)
{
	if (r->select == ENG_SELECT_DISABLED)
		return current;
	bool pick_min = r->select == ENG_SELECT_MIN;
	int32_t result = pick_min ? INT32_MAX : INT32_MIN;
	for (size_t i = 0; i < r->n_policies; i++) {
		const struct eng_policy *pol = &r->policies[i];
		int32_t start = period_start(current, up, down, pol->period_s, now_ms);
		int32_t proposed;
		if (pol->type == ENG_POLICY_PODS)
			proposed = add32(start, pol->value);
		else
			proposed =
			    go_int32(ceil((double)start * (1.0 + (double)pol->value / 100.0)));
		if (pick_min ? proposed < result : proposed > result)
			result = proposed;
	}
	return result;
}

int32_t eng_scale_down_limit(int32_t current, const struct eng_event_list *up,
                             const struct eng_event_list *down, const struct eng_rules *r,
                             int64_t now_ms)
{
	if (r->select == ENG_SELECT_DISABLED)
		return current;
	/* For scale-down, "Min" means the smallest change, i.e. the largest count. */
	bool pick_max = r->select == ENG_SELECT_MIN;
	int32_t result = pick_max ? INT32_MIN : INT32_MAX;
	for (size_t i = 0; i < r->n_policies; i++) {
		const struct eng_policy *pol = &r->policies[i];
		int32_t start = period_start(current, up, down, pol->period_s, now_ms);
		int32_t proposed;
		if (pol->type == ENG_POLICY_PODS)
			proposed = sub32(start, pol->value);
		else
			proposed = go_int32((double)start * (1.0 - (double)pol->value / 100.0));
		if (pick_max ? proposed > result : proposed < result)
			result = proposed;
	}
	return result;
}

int32_t eng_behavior_rate(const struct eng_behavior *b, const struct eng_history *h,
                          int32_t current, int32_t desired, int32_t min, int32_t max,
                          int64_t now_ms, const char **reason)
{
	if (desired > current) {
		int32_t limit = eng_scale_up_limit(current, &h->up, &h->down, &b->scale_up, now_ms);
		if (limit < current)
			limit = current;
		int32_t allowed;
		const char *why;
		if (max > limit) {
			allowed = limit;
			why = "ScaleUpLimit";
		} else {
			allowed = max;
			why = "TooManyReplicas";
		}
		if (desired > allowed) {
			*reason = why;
			return allowed;
		}
	} else if (desired < current) {
		int32_t limit =
		    eng_scale_down_limit(current, &h->up, &h->down, &b->scale_down, now_ms);
		if (limit > current)
			limit = current;
		int32_t allowed;
		const char *why;
		if (min < limit) {
			allowed = limit;
			why = "ScaleDownLimit";
		} else {
			allowed = min;
			why = "TooFewReplicas";
		}
		if (desired < allowed) {
			*reason = why;
			return allowed;
		}
	}
	*reason = "DesiredWithinRange";
	return desired;
}

static int32_t longest_period(const struct eng_rules *r)
{
	int32_t longest = 0;
	for (size_t i = 0; i < r->n_policies; i++)
		if (r->policies[i].period_s > longest)
			longest = r->policies[i].period_s;
	return longest;
}

static void store_event(struct eng_history *h, struct eng_event_list *l, const struct eng_rules *r,
                        int32_t change, int64_t now_ms)
{
	int64_t cutoff = now_ms - seconds_ms(longest_period(r));
	bool found_old = false;
	size_t old = 0;
	for (size_t i = 0; i < l->n; i++) {
		if (l->v[i].ts_ms < cutoff)
			l->v[i].outdated = true; /* sticky: marked for reuse */
		if (l->v[i].outdated) {
			found_old = true;
			old = i;
		}
	}
	struct eng_event ev = {change, now_ms, false};
	if (found_old) {
		l->v[old] = ev;
	} else if (l->n < l->cap) {
		l->v[l->n++] = ev;
	} else if (l->cap > 0) {
		size_t oldest = 0;
		for (size_t i = 1; i < l->n; i++)
			if (l->v[i].ts_ms < l->v[oldest].ts_ms)
				oldest = i;
		l->v[oldest] = ev;
		h->dropped++;
	} else {
		h->dropped++;
	}
}

void eng_store_scale_event(const struct eng_behavior *b, struct eng_history *h,
                           int32_t prev_replicas, int32_t new_replicas, int64_t now_ms)
{
	if (!b)
		return; /* without a behavior the events would never be read */
	if (new_replicas > prev_replicas)
		store_event(h, &h->up, &b->scale_up, sub32(new_replicas, prev_replicas), now_ms);
	else
		store_event(h, &h->down, &b->scale_down, sub32(prev_replicas, new_replicas),
		            now_ms);
}
