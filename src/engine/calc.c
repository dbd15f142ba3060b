/* calc.c -- the replica calculator: pod grouping, requests, usage ratios, and the per-source
 * replica proposals of Kubernetes' replica_calculator.go (SEMANTICS.md sections 5-9).
 *
 * Arithmetic follows Go exactly: int64 sums and truncating divisions where Go uses them, IEEE
 * double for ratios, and Go's amd64 float->int conversion (out of range gives the minimum
 * integer) wherever Go converts without a guard.
 */
#include <math.h>
#include <string.h>

#include "engine.h"

/* Go's int32(f) on amd64 (CVTTSD2SL): truncation; NaN or out of range gives MinInt32. */
static int32_t go_int32(double f)
{
	if (!(f > -2147483649.0 && f < 2147483648.0))
		return INT32_MIN;
	return (int32_t)f;
}

/* Go's int64(f) on amd64 (CVTTSD2SQ): NaN or out of range gives MinInt64. */
static int64_t go_int64(double f)
{
	if (!(f >= -9223372036854775808.0 && f < 9223372036854775808.0))
		return INT64_MIN;
	return (int64_t)f;
}

/* int32(math.Ceil(x)) */
static int32_t ceil_int32(double x)
{
	return go_int32(ceil(x));
}

/* Go's wrapping int64 addition (two's complement), without C's undefined behaviour. */
static int64_t wrap_add(int64_t a, int64_t b)
{
	return (int64_t)((uint64_t)a + (uint64_t)b);
}

static int64_t wrap_mul(int64_t a, int64_t b)
{
	return (int64_t)((uint64_t)a * (uint64_t)b);
}

bool eng_tolerances_within(struct eng_tolerances t, double r)
{
	return (1.0 - t.scale_down) <= r && r <= (1.0 + t.scale_up);
}

struct eng_tolerances eng_tolerances_for(const struct eng_spec *spec, const struct eng_params *p)
{
	struct eng_tolerances t = {p->tolerance, p->tolerance};
	if (spec->has_behavior && p->gate_configurable_tolerance) {
		const struct eng_behavior *b = &spec->behavior;
		if (b->has_scale_down && b->scale_down.has_tolerance)
			t.scale_down = b->scale_down.tolerance;
		if (b->has_scale_up && b->scale_up.has_tolerance)
			t.scale_up = b->scale_up.tolerance;
	}
	return t;
}

static bool is_cpu(const char *resource)
{
	return resource && strcmp(resource, "cpu") == 0;
}

int32_t eng_group_pods(const struct eng_params *p, const char *resource, int64_t now_ms,
                       const struct eng_pod *pods, size_t n_pods, const struct eng_sample *samples,
                       unsigned char *cls)
{
	int32_t ready = 0;
	for (size_t i = 0; i < n_pods; i++) {
		const struct eng_pod *pod = &pods[i];
		if (pod->deleted || pod->phase == ENG_PHASE_FAILED) {
			cls[i] = ENG_POD_IGNORED;
			continue;
		}
		if (pod->phase == ENG_PHASE_PENDING) {
			cls[i] = ENG_POD_UNREADY;
			continue;
		}
		if (!samples || !samples[i].present) {
			cls[i] = ENG_POD_MISSING;
			continue;
		}
		if (is_cpu(resource)) {
			bool unready;
			if (!pod->has_ready_condition || !pod->has_start_time) {
				unready = true;
			} else if (pod->start_time_ms + p->cpu_init_period_ms > now_ms) {
				/* Still initializing: a sample taken before one full window since
				 * the last readiness change does not count. */
				unready = !pod->ready ||
				          samples[i].timestamp_ms <
				              pod->ready_transition_ms + samples[i].window_ms;
			} else {
				/* Unready and never ready since the initial delay. */
				unready =
				    !pod->ready && pod->start_time_ms + p->readiness_delay_ms >
				                       pod->ready_transition_ms;
			}
			if (unready) {
				cls[i] = ENG_POD_UNREADY;
				continue;
			}
		}
		cls[i] = ENG_POD_READY;
		ready++;
	}
	return ready;
}

static const struct eng_request *find_request(const struct eng_request *reqs, size_t n,
                                              const char *resource)
{
	for (size_t i = 0; i < n; i++)
		if (reqs[i].resource && strcmp(reqs[i].resource, resource) == 0)
			return &reqs[i];
	return NULL;
}

/* calculateRequests: per-pod request of <resource>, summed over the containers (or only the
 * named one), or the pod-level request when enabled and set. Runs over every pod. */
static enum ps_err calc_requests(const struct eng_params *p, const struct eng_pod_metric *m,
                                 struct eng_scratch *s, struct ps_diag *diag)
{
	const char *container = (m->container && m->container[0]) ? m->container : NULL;
	for (size_t i = 0; i < m->n_pods; i++) {
		const struct eng_pod *pod = &m->pods[i];
		int64_t sum = 0;
		const struct eng_request *pr = NULL;
		if (p->gate_pod_level_resources && !container)
			pr = find_request(pod->pod_requests, pod->n_pod_requests, m->resource);
		if (pr) {
			sum = pr->milli;
		} else {
			bool found = false;
			for (size_t c = 0; c < pod->n_containers; c++) {
				const struct eng_container *ct = &pod->containers[c];
				if (container && (!ct->name || strcmp(ct->name, container) != 0))
					continue;
				found = true;
				const struct eng_request *r =
				    find_request(ct->requests, ct->n_requests, m->resource);
				if (!r)
					return ps_diag_set(
					    diag, PS_EMETRIC,
					    "missing request for %s in container %s of Pod %s",
					    m->resource, ct->name ? ct->name : "",
					    pod->name ? pod->name : "");
				sum = wrap_add(sum, r->milli);
			}
			if (container && !found)
				return ps_diag_set(diag, PS_EMETRIC,
				                   "container %s not found in Pod %s", container,
				                   pod->name ? pod->name : "");
		}
		s->req[i] = sum;
		s->has_req[i] = true;
	}
	return PS_OK;
}

/* The working metric map of Go is, here, s->vals/s->has_val for the pods plus the extra
 * samples (for pods that do not exist), which are kept as they are. */
static size_t metrics_len(const struct eng_pod_metric *m, const struct eng_scratch *s)
{
	size_t n = m->n_extra;
	for (size_t i = 0; i < m->n_pods; i++)
		n += s->has_val[i];
	return n;
}

/* GetResourceUtilizationRatio. Extra samples have no request and are skipped. The sums use
 * 128-bit integers so a total beyond int64 does not wrap (the newest upstream falls back to
 * math/big for the same reason). */
static enum ps_err utilization_ratio(const struct eng_pod_metric *m, const struct eng_scratch *s,
                                     int32_t target, double *ratio, int32_t *util, int64_t *raw,
                                     struct ps_diag *diag)
{
	__extension__ __int128 metrics_total = 0, requests_total = 0;
	int64_t n = 0;
	for (size_t i = 0; i < m->n_pods; i++) {
		if (!s->has_val[i] || !s->has_req[i])
			continue;
		metrics_total += s->vals[i];
		requests_total += s->req[i];
		n++;
	}
	if (requests_total == 0)
		return ps_diag_set(diag, PS_EMETRIC, "no metrics returned matched known pods");
	__extension__ __int128 u = (metrics_total * 100) / requests_total;
	int32_t cur = (u > INT32_MAX) ? INT32_MAX : (u < INT32_MIN) ? INT32_MIN : (int32_t)u;
	__extension__ __int128 avg = metrics_total / n;
	*util = cur;
	*ratio = (double)cur / (double)target;
	*raw = (avg > INT64_MAX) ? INT64_MAX : (avg < INT64_MIN) ? INT64_MIN : (int64_t)avg;
	return PS_OK;
}

/* GetMetricUsageRatio: the average of every sample in the map, extras included. */
static void usage_ratio(const struct eng_pod_metric *m, const struct eng_scratch *s, int64_t target,
                        double *ratio, int64_t *usage)
{
	__extension__ __int128 sum = 0;
	int64_t n = 0;
	for (size_t i = 0; i < m->n_pods; i++) {
		if (!s->has_val[i])
			continue;
		sum += s->vals[i];
		n++;
	}
	for (size_t i = 0; i < m->n_extra; i++) {
		if (!m->extra_samples[i].present)
			continue;
		sum += m->extra_samples[i].value_milli;
		n++;
	}
	__extension__ __int128 avg = n ? sum / n : 0;
	int64_t cur = (avg > INT64_MAX) ? INT64_MAX : (avg < INT64_MIN) ? INT64_MIN : (int64_t)avg;
	*usage = cur;
	*ratio = (double)cur / (double)target;
}

static size_t extra_count(const struct eng_pod_metric *m)
{
	size_t n = 0;
	for (size_t i = 0; i < m->n_extra; i++)
		n += m->extra_samples[i].present;
	return n;
}

/* Common front half: fetch check, pod list check, grouping, removal of ignored and unready
 * samples. Fills s->cls, s->vals, s->has_val and the counts in <out>. */
static enum ps_err prepare(const struct eng_params *p, const struct eng_pod_metric *m,
                           int64_t now_ms, struct eng_scratch *s, struct eng_calc *out,
                           const char *no_items_msg, struct ps_diag *diag)
{
	bool any = extra_count(m) > 0;
	for (size_t i = 0; i < m->n_pods && !any; i++)
		any = m->samples && m->samples[i].present;
	if (!any)
		return ps_diag_set(diag, PS_ENODATA, "%s", no_items_msg);
	if (m->n_pods == 0)
		return ps_diag_set(diag, PS_EMETRIC,
		                   "no pods returned by selector while calculating replica count");
	if (s->cap < m->n_pods)
		return ps_diag_set(diag, PS_ETOOBIG, "scratch space holds %zu pods, %zu listed",
		                   s->cap, m->n_pods);
	out->ready_pods =
	    eng_group_pods(p, m->resource, now_ms, m->pods, m->n_pods, m->samples, s->cls);
	out->unready_pods = out->missing_pods = out->ignored_pods = 0;
	for (size_t i = 0; i < m->n_pods; i++) {
		s->has_req[i] = false;
		s->has_val[i] = false;
		switch (s->cls[i]) {
		case ENG_POD_READY:
			s->has_val[i] = true;
			s->vals[i] = m->samples[i].value_milli;
			break;
		case ENG_POD_UNREADY:
			out->unready_pods++;
			break;
		case ENG_POD_MISSING:
			out->missing_pods++;
			break;
		case ENG_POD_IGNORED:
			out->ignored_pods++;
			break;
		}
	}
	if (metrics_len(m, s) == 0)
		return ps_diag_set(
		    diag, PS_EMETRIC,
		    "did not receive metrics for targeted pods (pods might be unready)");
	return PS_OK;
}

/* The shared back half of GetResourceReplicas and calcPlainMetricReplicas: rebalance missing
 * and unready pods and decide. <fill_missing_down> gives the value a missing pod gets on a
 * scale-down (per pod: a share of its request, or the target). */
enum calc_kind { CALC_UTILIZATION, CALC_PLAIN };

static enum ps_err finish(enum calc_kind kind, struct eng_tolerances tol, int32_t current,
                          int64_t target, const struct eng_pod_metric *m, struct eng_scratch *s,
                          struct eng_calc *out, struct ps_diag *diag)
{
	double ratio = out->ratio;
	bool up_with_unready = out->unready_pods > 0 && ratio > 1.0;
	if (!up_with_unready && out->missing_pods == 0) {
		if (eng_tolerances_within(tol, ratio))
			out->replicas = current;
		else
			out->replicas = ceil_int32(ratio * (double)out->ready_pods);
		return PS_OK;
	}
	for (size_t i = 0; i < m->n_pods; i++) {
		if (s->cls[i] == ENG_POD_MISSING) {
			if (ratio < 1.0) {
				int64_t v;
				if (kind == CALC_UTILIZATION) {
					int64_t fb = target > 100 ? target : 100;
					v = wrap_mul(s->req[i], fb) / 100;
				} else {
					v = target;
				}
				s->vals[i] = v;
				s->has_val[i] = true;
			} else if (ratio > 1.0) {
				s->vals[i] = 0;
				s->has_val[i] = true;
			}
		} else if (s->cls[i] == ENG_POD_UNREADY && up_with_unready) {
			s->vals[i] = 0;
			s->has_val[i] = true;
		}
	}
	double new_ratio;
	if (kind == CALC_UTILIZATION) {
		int32_t u2;
		int64_t r2;
		enum ps_err e =
		    utilization_ratio(m, s, (int32_t)target, &new_ratio, &u2, &r2, diag);
		if (e)
			return e;
	} else {
		int64_t u2;
		usage_ratio(m, s, target, &new_ratio, &u2);
	}
	if (eng_tolerances_within(tol, new_ratio) || (ratio < 1.0 && new_ratio > 1.0) ||
	    (ratio > 1.0 && new_ratio < 1.0)) {
		out->replicas = current;
		return PS_OK;
	}
	int32_t nr = ceil_int32(new_ratio * (double)metrics_len(m, s));
	if ((new_ratio < 1.0 && nr > current) || (new_ratio > 1.0 && nr < current)) {
		out->replicas = current;
		return PS_OK;
	}
	out->replicas = nr;
	return PS_OK;
}

enum ps_err eng_calc_resource_utilization(const struct eng_params *p, struct eng_tolerances tol,
                                          int32_t current, int32_t target_utilization,
                                          const struct eng_pod_metric *m, int64_t now_ms,
                                          struct eng_scratch *s, struct eng_calc *out,
                                          struct ps_diag *diag)
{
	memset(out, 0, sizeof(*out));
	enum ps_err e =
	    prepare(p, m, now_ms, s, out, "no metrics returned from resource metrics API", diag);
	if (e == PS_ENODATA)
		return ps_diag_prefix(diag, "unable to get metrics for resource %s", m->resource);
	if (e)
		return e;
	e = calc_requests(p, m, s, diag);
	if (e)
		return e;
	e = utilization_ratio(m, s, target_utilization, &out->ratio, &out->utilization,
	                      &out->usage_milli, diag);
	if (e)
		return e;
	return finish(CALC_UTILIZATION, tol, current, target_utilization, m, s, out, diag);
}

enum ps_err eng_calc_plain(const struct eng_params *p, struct eng_tolerances tol, int32_t current,
                           int64_t target_milli, const struct eng_pod_metric *m, int64_t now_ms,
                           struct eng_scratch *s, struct eng_calc *out, struct ps_diag *diag)
{
	memset(out, 0, sizeof(*out));
	bool resource = m->resource && m->resource[0];
	enum ps_err e = prepare(p, m, now_ms, s, out,
	                        resource ? "no metrics returned from resource metrics API"
	                                 : "no metrics returned from custom metrics API",
	                        diag);
	if (e == PS_ENODATA) {
		if (resource)
			return ps_diag_prefix(diag, "unable to get metrics for resource %s",
			                      m->resource);
		return ps_diag_prefix(diag, "unable to get metric");
	}
	if (e)
		return e;
	usage_ratio(m, s, target_milli, &out->ratio, &out->usage_milli);
	return finish(CALC_PLAIN, tol, current, target_milli, m, s, out, diag);
}

/* getReadyPodsCount: Running pods whose PodReady is True (deletion is not looked at). */
static enum ps_err ready_pod_count(const struct eng_pod *pods, size_t n, int64_t *count,
                                   struct ps_diag *diag)
{
	if (n == 0)
		return ps_diag_set(diag, PS_EMETRIC,
		                   "unable to calculate ready pods: no pods returned by selector "
		                   "while calculating replica count");
	int64_t c = 0;
	for (size_t i = 0; i < n; i++)
		if (pods[i].phase == ENG_PHASE_RUNNING && pods[i].has_ready_condition &&
		    pods[i].ready)
			c++;
	*count = c;
	return PS_OK;
}

/* getUsageRatioReplicaCount */
static enum ps_err usage_ratio_replicas(struct eng_tolerances tol, int32_t current, double ratio,
                                        const struct eng_pod *pods, size_t n_pods,
                                        struct eng_calc *out, struct ps_diag *diag)
{
	if (current != 0) {
		if (eng_tolerances_within(tol, ratio)) {
			out->replicas = current;
			return PS_OK;
		}
		int64_t ready = 0;
		enum ps_err e = ready_pod_count(pods, n_pods, &ready, diag);
		if (e)
			return e;
		out->ready_pods = (int32_t)ready;
		double x = ratio * (double)ready;
		out->replicas = x > (double)INT32_MAX ? INT32_MAX : ceil_int32(x);
	} else {
		/* Scaling from zero: no tolerance, no pod count. */
		out->replicas = ceil_int32(ratio);
	}
	return PS_OK;
}

enum ps_err eng_calc_object(struct eng_tolerances tol, int32_t current, int64_t usage_milli,
                            int64_t target_milli, const struct eng_pod *pods, size_t n_pods,
                            struct eng_calc *out, struct ps_diag *diag)
{
	memset(out, 0, sizeof(*out));
	out->usage_milli = usage_milli;
	out->ratio = (double)usage_milli / (double)target_milli;
	return usage_ratio_replicas(tol, current, out->ratio, pods, n_pods, out, diag);
}

enum ps_err eng_calc_object_per_pod(struct eng_tolerances tol, int32_t status_replicas,
                                    int64_t usage_milli, int64_t target_avg_milli,
                                    struct eng_calc *out, struct ps_diag *diag)
{
	(void)diag;
	memset(out, 0, sizeof(*out));
	out->replicas = status_replicas;
	out->ratio = (double)usage_milli / ((double)target_avg_milli * (double)status_replicas);
	if (!eng_tolerances_within(tol, out->ratio))
		out->replicas = ceil_int32((double)usage_milli / (double)target_avg_milli);
	out->usage_milli = go_int64(ceil((double)usage_milli / (double)status_replicas));
	return PS_OK;
}

/* Σ values, stopping at MaxInt64 instead of wrapping. */
static int64_t external_sum(const int64_t *values, size_t n)
{
	int64_t usage = 0;
	for (size_t i = 0; i < n; i++) {
		int64_t v = values[i];
		if (v > 0 && usage > INT64_MAX - v)
			return INT64_MAX;
		usage = wrap_add(usage, v);
	}
	return usage;
}

enum ps_err eng_calc_external(struct eng_tolerances tol, int32_t current, const int64_t *values,
                              size_t n_values, int64_t target_milli, const struct eng_pod *pods,
                              size_t n_pods, struct eng_calc *out, struct ps_diag *diag)
{
	memset(out, 0, sizeof(*out));
	if (n_values == 0)
		return ps_diag_set(diag, PS_ENODATA,
		                   "no metrics returned from external metrics API");
	out->usage_milli = external_sum(values, n_values);
	out->ratio = (double)out->usage_milli / (double)target_milli;
	return usage_ratio_replicas(tol, current, out->ratio, pods, n_pods, out, diag);
}

enum ps_err eng_calc_external_per_pod(struct eng_tolerances tol, int32_t status_replicas,
                                      const int64_t *values, size_t n_values,
                                      int64_t target_avg_milli, struct eng_calc *out,
                                      struct ps_diag *diag)
{
	memset(out, 0, sizeof(*out));
	if (n_values == 0)
		return ps_diag_set(diag, PS_ENODATA,
		                   "no metrics returned from external metrics API");
	/* Here the upstream guard is "the running sum went negative", not the pre-check of the
	 * Value path. */
	int64_t usage = 0;
	for (size_t i = 0; i < n_values; i++) {
		usage = wrap_add(usage, values[i]);
		if (usage < 0) {
			usage = INT64_MAX;
			break;
		}
	}
	out->replicas = status_replicas;
	out->ratio = (double)usage / ((double)target_avg_milli * (double)status_replicas);
	if (!eng_tolerances_within(tol, out->ratio)) {
		double r = ceil((double)usage / (double)target_avg_milli);
		out->replicas = r > (double)INT32_MAX ? INT32_MAX : go_int32(r);
	}
	if ((double)usage >= 9223372036854775807.0)
		out->usage_milli = INT64_MAX;
	else
		out->usage_milli = go_int64(ceil((double)usage / (double)status_replicas));
	return PS_OK;
}
