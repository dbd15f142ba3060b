/* tick_map.c -- from a Prometheus result to the values of a metric and to an engine reading:
 * the per-pod key, no data (NaN, +-Inf, empty) and the shapes each metric type accepts. Pure. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ps_alloc.h"
#include "ps_parse.h"
#include "tick.h"

void tick_values_release(struct tick_values *v)
{
	if (!v)
		return;
	if (v->keys)
		for (size_t i = 0; i < v->n; i++)
			ps_free(v->keys[i]);
	ps_free(v->keys);
	ps_free(v->v);
	ps_free(v->ts);
	memset(v, 0, sizeof(*v));
}

int64_t tick_milli(double v)
{
	double x = v * 1000.0;
	if (!(x < 9.2e18))
		return INT64_MAX;
	if (!(x > -9.2e18))
		return -INT64_MAX;
	return (int64_t)llround(x);
}

bool tick_metric_needs_pods(const struct cfg_metric *m)
{
	if (m->per_pod)
		return true;
	return (m->source == ENG_SRC_OBJECT || m->source == ENG_SRC_EXTERNAL) &&
	       m->target.type == ENG_TARGET_VALUE;
}

int64_t tick_query_window_ms(const char *query)
{
	int64_t best = 0;
	for (const char *p = query ? strchr(query, '[') : NULL; p; p = strchr(p + 1, '[')) {
		size_t n = strcspn(p + 1, ":]");
		char buf[32];
		if (n == 0 || n >= sizeof(buf) || (p[1 + n] != ']' && p[1 + n] != ':'))
			continue;
		memcpy(buf, p + 1, n);
		buf[n] = '\0';
		int64_t ms;
		if (ps_parse_duration_ms(buf, &ms, NULL) == PS_OK && ms > best)
			best = ms;
	}
	return best;
}

/* "{a="b",c="d"}" of <s> into <buf>, for messages. */
static const char *series_name(const struct prom_series *s, char *buf, size_t size)
{
	size_t at = 0;
	at += (size_t)snprintf(buf, size, "{");
	for (size_t i = 0; i < s->n_labels && at < size; i++)
		at += (size_t)snprintf(buf + at, size - at, "%s%s=\"%s\"", i ? "," : "",
		                       s->labels[i].name, s->labels[i].value);
	if (at < size)
		snprintf(buf + at, size - at, "}");
	return buf;
}

/* One point chosen per series, before the checks of the metric's type. */
struct pick {
	const struct prom_series *s;
	const struct prom_point *p; /* NULL: the series has no point there */
};

struct keyed {
	const char *key;
	double v;
	int64_t ts;
};

static int keyed_cmp(const void *a, const void *b)
{
	return strcmp(((const struct keyed *)a)->key, ((const struct keyed *)b)->key);
}

static enum ps_err values_alloc(struct tick_values *out, size_t n, bool keyed)
{
	if (n == 0)
		return PS_OK;
	out->v = ps_calloc(n, sizeof(*out->v));
	out->ts = ps_calloc(n, sizeof(*out->ts));
	if (keyed)
		out->keys = ps_calloc(n, sizeof(*out->keys));
	if (!out->v || !out->ts || (keyed && !out->keys))
		return PS_ENOMEM;
	return PS_OK;
}

static enum ps_err from_picks_per_pod(const struct pick *picks, size_t n,
                                      const struct cfg_metric *m, struct tick_values *out,
                                      struct ps_diag *diag)
{
	const char *label = m->pod.pod_label ? m->pod.pod_label : PROM_DEFAULT_KEY_LABEL;
	struct keyed *k = n ? ps_calloc(n, sizeof(*k)) : NULL;
	if (n && !k)
		return ps_diag_set(diag, PS_ENOMEM, "out of memory");
	size_t nk = 0, keyless = 0, with_point = 0;
	for (size_t i = 0; i < n; i++) {
		if (!picks[i].p)
			continue;
		with_point++;
		if (!picks[i].s->key) {
			keyless++;
			continue;
		}
		if (picks[i].p->no_data)
			continue;
		k[nk++] = (struct keyed){picks[i].s->key, picks[i].p->value, picks[i].p->ts_ms};
	}
	enum ps_err e = PS_OK;
	if (with_point == 0) {
		e = ps_diag_set(diag, PS_ENODATA, "no data: the query returned no series");
	} else if (keyless == with_point) {
		e = ps_diag_set(
		    diag, PS_EMETRIC,
		    "no series has the label \"%s\" (perPod.podLabel) that names the pod", label);
	} else if (nk == 0) {
		e = ps_diag_set(diag, PS_ENODATA, "no data: every series is NaN or infinite");
	}
	if (!e) {
		qsort(k, nk, sizeof(*k), keyed_cmp);
		for (size_t i = 1; i < nk && !e; i++)
			if (strcmp(k[i - 1].key, k[i].key) == 0)
				e = ps_diag_set(
				    diag, PS_EMETRIC,
				    "%s=\"%s\" has several series: aggregate by the pod "
				    "label, e.g. sum by (%s) (...)",
				    label, k[i].key, label);
	}
	if (!e && values_alloc(out, nk, true) != PS_OK)
		e = ps_diag_set(diag, PS_ENOMEM, "out of memory");
	for (size_t i = 0; i < nk && !e; i++) {
		if (!(out->keys[i] = ps_strdup(k[i].key))) {
			e = ps_diag_set(diag, PS_ENOMEM, "out of memory");
			break;
		}
		out->v[i] = k[i].v;
		out->ts[i] = k[i].ts;
		out->n = i + 1;
	}
	ps_free(k);
	return e;
}

static enum ps_err from_picks_values(const struct pick *picks, size_t n, const struct cfg_metric *m,
                                     struct tick_values *out, struct ps_diag *diag)
{
	size_t np = 0;
	for (size_t i = 0; i < n; i++)
		np += picks[i].p != NULL;
	if (np == 0)
		return ps_diag_set(diag, PS_ENODATA, "no data: the query returned no series");
	if (m->source == ENG_SRC_OBJECT && np > 1)
		return ps_diag_set(
		    diag, PS_EMETRIC,
		    "the query returned %zu series; an Object metric needs one value: "
		    "aggregate it, e.g. with sum(...) or max(...)",
		    np);
	char name[256];
	for (size_t i = 0; i < n; i++)
		if (picks[i].p && picks[i].p->no_data)
			return ps_diag_set(diag, PS_ENODATA,
			                   np == 1
			                       ? "no data: the value is %s"
			                       : "no data: series %s is NaN or infinite (a sum of "
			                         "the others could under-count)",
			                   np == 1 ? (isnan(picks[i].p->value) ? "NaN"
			                              : picks[i].p->value > 0  ? "+Inf"
			                                                       : "-Inf")
			                           : series_name(picks[i].s, name, sizeof(name)));
	if (values_alloc(out, np, false) != PS_OK)
		return ps_diag_set(diag, PS_ENOMEM, "out of memory");
	for (size_t i = 0; i < n; i++) {
		if (!picks[i].p)
			continue;
		out->v[out->n] = picks[i].p->value;
		out->ts[out->n] = picks[i].p->ts_ms;
		out->n++;
	}
	return PS_OK;
}

static enum ps_err from_picks(const struct pick *picks, size_t n, const struct cfg_metric *m,
                              int64_t time_ms, struct tick_values *out, struct ps_diag *diag)
{
	memset(out, 0, sizeof(*out));
	out->time_ms = time_ms;
	out->window_ms = tick_query_window_ms(m->query);
	enum ps_err e = m->per_pod ? from_picks_per_pod(picks, n, m, out, diag)
	                           : from_picks_values(picks, n, m, out, diag);
	if (e) {
		int64_t w = out->window_ms;
		tick_values_release(out);
		out->time_ms = time_ms;
		out->window_ms = w;
	}
	return e;
}

enum ps_err tick_values_from_result(const struct prom_result *r, const struct cfg_metric *m,
                                    int64_t time_ms, struct tick_values *out, struct ps_diag *diag)
{
	memset(out, 0, sizeof(*out));
	if (r->type == PROM_RESULT_SCALAR) {
		if (m->per_pod)
			return ps_diag_set(
			    diag, PS_EMETRIC,
			    "a per-pod metric needs one series per pod (label \"%s\"), "
			    "the query returned a scalar",
			    m->pod.pod_label ? m->pod.pod_label : PROM_DEFAULT_KEY_LABEL);
		static const struct prom_series none = {0};
		struct pick p = {&none, &r->scalar};
		return from_picks(&p, 1, m, time_ms, out, diag);
	}
	if (r->type != PROM_RESULT_VECTOR)
		return ps_diag_set(
		    diag, PS_EMETRIC,
		    "the query returned a %s; an instant vector or a scalar is needed",
		    r->type == PROM_RESULT_MATRIX ? "range vector (matrix)" : "string");
	struct pick *picks = r->n_series ? ps_calloc(r->n_series, sizeof(*picks)) : NULL;
	if (r->n_series && !picks)
		return ps_diag_set(diag, PS_ENOMEM, "out of memory");
	for (size_t i = 0; i < r->n_series; i++)
		picks[i] = (struct pick){&r->series[i],
		                         r->series[i].n_points ? &r->series[i].points[0] : NULL};
	enum ps_err e = from_picks(picks, r->n_series, m, time_ms, out, diag);
	ps_free(picks);
	return e;
}

enum ps_err tick_values_aggregate_matrix(const struct prom_result *r, const struct cfg_metric *m,
                                         int64_t start_ms, int64_t step_ms, size_t n, double *out)
{
	if (r->type != PROM_RESULT_MATRIX || n == 0 || step_ms <= 0)
		return PS_OK;
	double *sum = ps_calloc(n, sizeof(*sum));
	size_t *cnt = ps_calloc(n, sizeof(*cnt));
	bool *bad = ps_calloc(n, sizeof(*bad));
	if (!sum || !cnt || !bad) {
		ps_free(sum);
		ps_free(cnt);
		ps_free(bad);
		return PS_ENOMEM;
	}
	for (size_t i = 0; i < r->n_series; i++) {
		const struct prom_series *s = &r->series[i];
		if (m->per_pod && !s->key)
			continue;
		for (size_t j = 0; j < s->n_points; j++) {
			int64_t off = s->points[j].ts_ms - start_ms;
			if (off < -step_ms / 2)
				continue;
			size_t k = (size_t)((off + step_ms / 2) / step_ms);
			if (k >= n)
				continue;
			if (s->points[j].no_data) {
				bad[k] = true;
				continue;
			}
			sum[k] += s->points[j].value;
			cnt[k]++;
		}
	}
	for (size_t k = 0; k < n; k++) {
		if (m->per_pod) {
			if (cnt[k])
				out[k] = sum[k] / (double)cnt[k];
		} else if (cnt[k] || bad[k]) {
			bool several = m->source == ENG_SRC_OBJECT && cnt[k] + bad[k] > 1;
			out[k] = bad[k] || several ? NAN : sum[k];
		}
	}
	ps_free(sum);
	ps_free(cnt);
	ps_free(bad);
	return PS_OK;
}

double tick_values_aggregate(const struct tick_values *v, const struct cfg_metric *m)
{
	if (!v || v->n == 0)
		return NAN;
	double s = 0;
	for (size_t i = 0; i < v->n; i++)
		s += v->v[i];
	return m->per_pod ? s / (double)v->n : s;
}
