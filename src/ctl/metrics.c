/* metrics.c -- the metrics registry and the Prometheus text exposition format 0.0.4, and
 * prescale's own families (see metrics.h for the design and what is approximate).
 *
 * A registry is an array of families; a family is an array of series in creation order plus an
 * open-addressing index (FNV-1a of the label values) that finds a series in O(1). Each family
 * has its own mutex, held for one update or while the family is rendered.
 */
#include "metrics.h"

#include <inttypes.h>
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ps_alloc.h"
#include "runtime.h"
#include "tick.h"

#ifndef PS_VERSION
#define PS_VERSION "unknown"
#endif
#ifndef PS_GIT_DESCRIBE
#define PS_GIT_DESCRIBE "unknown"
#endif

/* ---- the registry ---- */

struct series {
	uint64_t hash;
	const char *values[METRICS_MAX_LABELS]; /* point into this allocation, after buckets */
	double value;                           /* counter, gauge */
	double sum;                             /* histogram */
	uint64_t count;                         /* histogram */
	uint64_t buckets[];                     /* histogram: per bucket, not cumulative */
};

struct metrics_family {
	pthread_mutex_t lock;
	char *name;
	char *help;
	enum metrics_type type;
	size_t n_labels;
	char *labels[METRICS_MAX_LABELS];
	size_t n_buckets;
	double buckets[METRICS_MAX_BUCKETS];
	struct series **series; /* protected by <lock>, in creation order */
	size_t n, cap;          /* protected by <lock> */
	size_t *index;          /* protected by <lock>: series index + 1, 0 empty */
	size_t idx_cap;         /* protected by <lock>: 0 or a power of two */
};

struct metrics {
	struct metrics_family **fam; /* immutable once shared */
	size_t n, cap;
};

enum ps_err metrics_new(struct metrics **out)
{
	*out = ps_calloc(1, sizeof(**out));
	return *out ? PS_OK : PS_ENOMEM;
}

static void family_free(struct metrics_family *f)
{
	if (!f)
		return;
	for (size_t i = 0; i < f->n; i++)
		ps_free(f->series[i]);
	ps_free(f->series);
	ps_free(f->index);
	for (size_t i = 0; i < f->n_labels; i++)
		ps_free(f->labels[i]);
	ps_free(f->name);
	ps_free(f->help);
	pthread_mutex_destroy(&f->lock);
	ps_free(f);
}

void metrics_free(struct metrics *m)
{
	if (!m)
		return;
	for (size_t i = 0; i < m->n; i++)
		family_free(m->fam[i]);
	ps_free(m->fam);
	ps_free(m);
}

static bool is_alpha_(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_';
}

static bool is_digit(char c)
{
	return c >= '0' && c <= '9';
}

static bool metric_name_ok(const char *s)
{
	if (!s || !(is_alpha_(*s) || *s == ':'))
		return false;
	for (s++; *s; s++)
		if (!is_alpha_(*s) && !is_digit(*s) && *s != ':')
			return false;
	return true;
}

static bool label_name_ok(const char *s)
{
	if (!s || !is_alpha_(*s) || strncmp(s, "__", 2) == 0)
		return false;
	for (s++; *s; s++)
		if (!is_alpha_(*s) && !is_digit(*s))
			return false;
	return true;
}

static enum ps_err family_check(const struct metrics *m, const char *name, enum metrics_type type,
                                const char *const *labels, size_t n_labels, const double *buckets,
                                size_t n_buckets, struct ps_diag *diag)
{
	if (!metric_name_ok(name))
		return ps_diag_set(diag, PS_EINVAL, "metrics: invalid metric name \"%s\"",
		                   name ? name : "");
	for (size_t i = 0; i < m->n; i++)
		if (strcmp(m->fam[i]->name, name) == 0)
			return ps_diag_set(diag, PS_EINVAL, "metrics: %s: registered twice", name);
	if (type != METRICS_COUNTER && type != METRICS_GAUGE && type != METRICS_HISTOGRAM)
		return ps_diag_set(diag, PS_EINVAL, "metrics: %s: unknown type", name);
	if (n_labels > METRICS_MAX_LABELS || (n_labels && !labels))
		return ps_diag_set(diag, PS_EINVAL, "metrics: %s: %zu labels (at most %d)", name,
		                   n_labels, METRICS_MAX_LABELS);
	for (size_t i = 0; i < n_labels; i++) {
		if (!label_name_ok(labels[i]))
			return ps_diag_set(diag, PS_EINVAL,
			                   "metrics: %s: invalid label name \"%s\"", name,
			                   labels[i] ? labels[i] : "");
		if (type == METRICS_HISTOGRAM && strcmp(labels[i], "le") == 0)
			return ps_diag_set(diag, PS_EINVAL,
			                   "metrics: %s: a histogram cannot have a label \"le\"",
			                   name);
		for (size_t j = 0; j < i; j++)
			if (strcmp(labels[i], labels[j]) == 0)
				return ps_diag_set(diag, PS_EINVAL,
				                   "metrics: %s: label \"%s\" given twice", name,
				                   labels[i]);
	}
	if (type != METRICS_HISTOGRAM) {
		if (n_buckets)
			return ps_diag_set(diag, PS_EINVAL, "metrics: %s: buckets on a %s", name,
			                   type == METRICS_COUNTER ? "counter" : "gauge");
		return PS_OK;
	}
	if (n_buckets == 0 || n_buckets > METRICS_MAX_BUCKETS || !buckets)
		return ps_diag_set(diag, PS_EINVAL, "metrics: %s: %zu buckets (1 to %d)", name,
		                   n_buckets, METRICS_MAX_BUCKETS);
	for (size_t i = 0; i < n_buckets; i++)
		if (!isfinite(buckets[i]) || (i > 0 && !(buckets[i] > buckets[i - 1])))
			return ps_diag_set(diag, PS_EINVAL,
			                   "metrics: %s: buckets must be finite and strictly "
			                   "increasing",
			                   name);
	return PS_OK;
}

enum ps_err metrics_family_add(struct metrics *m, const char *name, const char *help,
                               enum metrics_type type, const char *const *labels, size_t n_labels,
                               const double *buckets, size_t n_buckets, struct metrics_family **out,
                               struct ps_diag *diag)
{
	if (out)
		*out = NULL;
	enum ps_err e = family_check(m, name, type, labels, n_labels, buckets, n_buckets, diag);
	if (e)
		return e;
	if (m->n == m->cap) {
		size_t cap = m->cap ? m->cap * 2 : 16;
		struct metrics_family **fam = ps_reallocarray(m->fam, cap, sizeof(*fam));
		if (!fam)
			return ps_diag_set(diag, PS_ENOMEM, "metrics: out of memory");
		m->fam = fam;
		m->cap = cap;
	}
	struct metrics_family *f = ps_calloc(1, sizeof(*f));
	if (!f)
		return ps_diag_set(diag, PS_ENOMEM, "metrics: out of memory");
	pthread_mutex_init(&f->lock, NULL);
	f->type = type;
	f->name = ps_strdup(name);
	f->help = ps_strdup(help ? help : "");
	bool ok = f->name && f->help;
	for (size_t i = 0; i < n_labels; i++) {
		f->labels[i] = ps_strdup(labels[i]);
		f->n_labels = i + 1;
		ok = ok && f->labels[i];
	}
	if (!ok) {
		family_free(f);
		return ps_diag_set(diag, PS_ENOMEM, "metrics: out of memory");
	}
	f->n_buckets = n_buckets;
	if (n_buckets)
		memcpy(f->buckets, buckets, n_buckets * sizeof(buckets[0]));
	m->fam[m->n++] = f;
	if (out)
		*out = f;
	return PS_OK;
}

static const char *value_at(const char *const *values, size_t i)
{
	return values && values[i] ? values[i] : "";
}

static uint64_t values_hash(const struct metrics_family *f, const char *const *values)
{
	uint64_t h = 1469598103934665603ULL;
	for (size_t i = 0; i < f->n_labels; i++) {
		/* The NUL after each value keeps ("ab","c") apart from ("a","bc"). */
		for (const unsigned char *p = (const unsigned char *)value_at(values, i);; p++) {
			h ^= *p;
			h *= 1099511628211ULL;
			if (!*p)
				break;
		}
	}
	return h;
}

static bool series_is(const struct metrics_family *f, const struct series *s, uint64_t h,
                      const char *const *values)
{
	if (s->hash != h)
		return false;
	for (size_t i = 0; i < f->n_labels; i++)
		if (strcmp(s->values[i], value_at(values, i)) != 0)
			return false;
	return true;
}

static void index_put(size_t *index, size_t cap, uint64_t h, size_t pos)
{
	for (size_t i = (size_t)h & (cap - 1);; i = (i + 1) & (cap - 1))
		if (!index[i]) {
			index[i] = pos + 1;
			return;
		}
}

/* The series of <values>, created when missing; NULL when out of memory. Under f->lock. */
static struct series *series_get(struct metrics_family *f, const char *const *values)
{
	uint64_t h = values_hash(f, values);
	if (f->idx_cap) {
		for (size_t i = (size_t)h & (f->idx_cap - 1); f->index[i];
		     i = (i + 1) & (f->idx_cap - 1)) {
			struct series *s = f->series[f->index[i] - 1];
			if (series_is(f, s, h, values))
				return s;
		}
	}
	/* Room first, so that a failure leaves the family as it was. */
	if ((f->n + 1) * 2 > f->idx_cap) {
		size_t cap = f->idx_cap ? f->idx_cap * 2 : 16;
		size_t *index = ps_calloc(cap, sizeof(*index));
		if (!index)
			return NULL;
		for (size_t i = 0; i < f->n; i++)
			index_put(index, cap, f->series[i]->hash, i);
		ps_free(f->index);
		f->index = index;
		f->idx_cap = cap;
	}
	if (f->n == f->cap) {
		size_t cap = f->cap ? f->cap * 2 : 16;
		struct series **v = ps_reallocarray(f->series, cap, sizeof(*v));
		if (!v)
			return NULL;
		f->series = v;
		f->cap = cap;
	}
	size_t head = sizeof(struct series) + f->n_buckets * sizeof(uint64_t);
	size_t size = head;
	for (size_t i = 0; i < f->n_labels; i++)
		size += strlen(value_at(values, i)) + 1;
	struct series *s = ps_calloc(1, size);
	if (!s)
		return NULL;
	s->hash = h;
	char *p = (char *)s + head;
	for (size_t i = 0; i < f->n_labels; i++) {
		size_t len = strlen(value_at(values, i)) + 1;
		memcpy(p, value_at(values, i), len);
		s->values[i] = p;
		p += len;
	}
	index_put(f->index, f->idx_cap, h, f->n);
	f->series[f->n++] = s;
	return s;
}

enum op { OP_ADD, OP_SET, OP_OBSERVE };

static enum ps_err update(struct metrics_family *f, const char *const *values, double v, enum op op)
{
	switch (op) {
	case OP_ADD:
		if (f->type == METRICS_HISTOGRAM || (f->type == METRICS_COUNTER && !(v >= 0)))
			return PS_EINVAL;
		break;
	case OP_SET:
		if (f->type == METRICS_HISTOGRAM || (f->type == METRICS_COUNTER && !(v >= 0)))
			return PS_EINVAL;
		break;
	case OP_OBSERVE:
		if (f->type != METRICS_HISTOGRAM || isnan(v))
			return PS_EINVAL;
		break;
	}
	pthread_mutex_lock(&f->lock);
	struct series *s = series_get(f, values);
	if (s) {
		switch (op) {
		case OP_ADD:
			s->value += v;
			break;
		case OP_SET:
			s->value = v;
			break;
		case OP_OBSERVE: {
			size_t i = 0;
			while (i < f->n_buckets && v > f->buckets[i])
				i++;
			if (i < f->n_buckets)
				s->buckets[i]++;
			s->count++;
			s->sum += v;
			break;
		}
		}
	}
	pthread_mutex_unlock(&f->lock);
	return s ? PS_OK : PS_ENOMEM;
}

enum ps_err metrics_add(struct metrics_family *f, const char *const *values, double v)
{
	return update(f, values, v, OP_ADD);
}

enum ps_err metrics_set(struct metrics_family *f, const char *const *values, double v)
{
	return update(f, values, v, OP_SET);
}

enum ps_err metrics_set_histogram(struct metrics_family *f, const char *const *values,
                                  const uint64_t *counts, double sum, uint64_t count)
{
	if (f->type != METRICS_HISTOGRAM || isnan(sum))
		return PS_EINVAL;
	pthread_mutex_lock(&f->lock);
	struct series *s = series_get(f, values);
	if (s) {
		memcpy(s->buckets, counts, f->n_buckets * sizeof(s->buckets[0]));
		s->sum = sum;
		s->count = count;
	}
	pthread_mutex_unlock(&f->lock);
	return s ? PS_OK : PS_ENOMEM;
}

enum ps_err metrics_observe(struct metrics_family *f, const char *const *values, double v)
{
	return update(f, values, v, OP_OBSERVE);
}

/* ---- the text format ---- */

const char *metrics_format_value(double v, char *buf, size_t size)
{
	if (isnan(v)) {
		snprintf(buf, size, "NaN");
	} else if (isinf(v)) {
		snprintf(buf, size, "%s", v > 0 ? "+Inf" : "-Inf");
	} else if (v == floor(v) && fabs(v) < 9007199254740992.0) {
		snprintf(buf, size, "%lld", (long long)v);
	} else {
		for (int prec = 1; prec <= 17; prec++) {
			snprintf(buf, size, "%.*g", prec, v);
			if (strtod(buf, NULL) == v)
				break;
		}
	}
	return buf;
}

struct out {
	struct ps_buf *b;
	enum ps_err e;
};

static void put(struct out *o, const char *s, size_t n)
{
	if (!o->e)
		o->e = ps_buf_append(o->b, s, n);
}

static void puts_(struct out *o, const char *s)
{
	put(o, s, strlen(s));
}

/* <s> with the escapes of a label value (\\, \", \n) or, for help text, of a HELP line (\\,
 * \n). Runs without an escape are appended whole. */
static void put_escaped(struct out *o, const char *s, bool quote)
{
	const char *run = s;
	for (const char *p = s; *p; p++) {
		const char *esc = *p == '\\'           ? "\\\\"
		                  : *p == '\n'         ? "\\n"
		                  : *p == '"' && quote ? "\\\""
		                                       : NULL;
		if (!esc)
			continue;
		put(o, run, (size_t)(p - run));
		puts_(o, esc);
		run = p + 1;
	}
	puts_(o, run);
}

/* "{a="x",b="y"}" (with le="<le>" last when <le> is not NULL); nothing without labels. */
static void put_labels(struct out *o, const struct metrics_family *f, const struct series *s,
                       const char *le)
{
	if (f->n_labels == 0 && !le)
		return;
	puts_(o, "{");
	for (size_t i = 0; i < f->n_labels; i++) {
		if (i)
			puts_(o, ",");
		puts_(o, f->labels[i]);
		puts_(o, "=\"");
		put_escaped(o, s->values[i], true);
		puts_(o, "\"");
	}
	if (le) {
		puts_(o, f->n_labels ? ",le=\"" : "le=\"");
		puts_(o, le);
		puts_(o, "\"");
	}
	puts_(o, "}");
}

static void put_sample(struct out *o, const struct metrics_family *f, const struct series *s,
                       const char *suffix, const char *le, double v)
{
	char num[40];
	puts_(o, f->name);
	puts_(o, suffix);
	put_labels(o, f, s, le);
	puts_(o, " ");
	puts_(o, metrics_format_value(v, num, sizeof(num)));
	puts_(o, "\n");
}

static const char *type_name(enum metrics_type t)
{
	switch (t) {
	case METRICS_COUNTER:
		return "counter";
	case METRICS_GAUGE:
		return "gauge";
	case METRICS_HISTOGRAM:
		return "histogram";
	}
	return "untyped";
}

static void render_family(struct out *o, struct metrics_family *f)
{
	puts_(o, "# HELP ");
	puts_(o, f->name);
	puts_(o, " ");
	put_escaped(o, f->help, false);
	puts_(o, "\n# TYPE ");
	puts_(o, f->name);
	puts_(o, " ");
	puts_(o, type_name(f->type));
	puts_(o, "\n");
	pthread_mutex_lock(&f->lock);
	for (size_t i = 0; i < f->n && !o->e; i++) {
		const struct series *s = f->series[i];
		if (f->type != METRICS_HISTOGRAM) {
			put_sample(o, f, s, "", NULL, s->value);
			continue;
		}
		uint64_t cum = 0;
		char le[40];
		for (size_t k = 0; k < f->n_buckets; k++) {
			cum += s->buckets[k];
			put_sample(o, f, s, "_bucket",
			           metrics_format_value(f->buckets[k], le, sizeof(le)),
			           (double)cum);
		}
		put_sample(o, f, s, "_bucket", "+Inf", (double)s->count);
		put_sample(o, f, s, "_sum", NULL, s->sum);
		put_sample(o, f, s, "_count", NULL, (double)s->count);
	}
	pthread_mutex_unlock(&f->lock);
}

enum ps_err metrics_render(struct metrics *m, struct ps_buf *b)
{
	struct out o = {b, PS_OK};
	for (size_t i = 0; i < m->n && !o.e; i++)
		render_family(&o, m->fam[i]);
	return o.e;
}

/* ---- prescale's families ---- */

/* Per target, between scrapes: what the scale-action counters are derived from. */
struct memo {
	char *key;
	uint64_t writes;  /* the record's write counter at the last scrape */
	int32_t replicas; /* the count after the last decided record seen */
	bool has_replicas;
	int last_dir; /* +1 up, -1 down, 0 none yet */
	uint64_t up, down;
	int64_t last_decision_ms; /* 0: none seen */
};

struct metrics_ctl {
	struct http_observer obs;
	struct metrics *pushed;
	struct metrics_family *prom_latency;
	struct metrics_family *kube_latency;
	struct metrics_family *kube_errors;
	pthread_mutex_t lock; /* serialises scrapes */
	struct memo *memo;    /* protected by <lock>: sorted by key */
	size_t n_memo;        /* protected by <lock> */
};

static void observer_done(void *arg, const struct http_observation *o)
{
	metrics_ctl_observe_http(arg, o);
}

enum ps_err metrics_ctl_new(struct metrics_ctl **out)
{
	static const double lat[] = METRICS_LATENCY_BUCKETS;
	static const char *const type_label[] = {"type"};
	static const char *const verb_label[] = {"verb"};
	static const char *const code_label[] = {"code"};
	*out = NULL;
	struct metrics_ctl *mc = ps_calloc(1, sizeof(*mc));
	if (!mc)
		return PS_ENOMEM;
	pthread_mutex_init(&mc->lock, NULL);
	mc->obs.done = observer_done;
	mc->obs.arg = mc;
	enum ps_err e = metrics_new(&mc->pushed);
	if (!e)
		e = metrics_family_add(
		    mc->pushed, "prescale_prometheus_query_duration_seconds",
		    "Duration of Prometheus HTTP queries by type (instant or range), failed ones "
		    "included, canceled ones left out.",
		    METRICS_HISTOGRAM, type_label, 1, lat, PS_ARRAY_LEN(lat), &mc->prom_latency,
		    NULL);
	if (!e)
		e = metrics_family_add(
		    mc->pushed, "prescale_kubernetes_request_duration_seconds",
		    "Duration of Kubernetes API HTTP requests by verb; each retry is one request.",
		    METRICS_HISTOGRAM, verb_label, 1, lat, PS_ARRAY_LEN(lat), &mc->kube_latency,
		    NULL);
	if (!e)
		e = metrics_family_add(
		    mc->pushed, "prescale_kubernetes_request_errors_total",
		    "Failed Kubernetes API HTTP requests by code: the HTTP status (400 and above), "
		    "or the error (ETIMEDOUT, EUNAVAIL, EIO, ...) when no response arrived.",
		    METRICS_COUNTER, code_label, 1, NULL, 0, &mc->kube_errors, NULL);
	if (e) {
		metrics_ctl_free(mc);
		return e;
	}
	*out = mc;
	return PS_OK;
}

static void memo_free(struct memo *v, size_t n)
{
	for (size_t i = 0; i < n; i++)
		ps_free(v[i].key);
	ps_free(v);
}

void metrics_ctl_free(struct metrics_ctl *mc)
{
	if (!mc)
		return;
	metrics_free(mc->pushed);
	memo_free(mc->memo, mc->n_memo);
	pthread_mutex_destroy(&mc->lock);
	ps_free(mc);
}

const struct http_observer *metrics_ctl_observer(struct metrics_ctl *mc)
{
	return &mc->obs;
}

static bool ends_with(const char *s, size_t n, const char *suffix)
{
	size_t k = strlen(suffix);
	return n >= k && memcmp(s + n - k, suffix, k) == 0;
}

static bool contains(const char *s, size_t n, const char *needle)
{
	size_t k = strlen(needle);
	for (size_t i = 0; i + k <= n; i++)
		if (memcmp(s + i, needle, k) == 0)
			return true;
	return false;
}

void metrics_ctl_observe_http(struct metrics_ctl *mc, const struct http_observation *o)
{
	if (!o->url || o->err == PS_ECANCELED)
		return;
	/* The path: after the authority, up to the query or fragment. */
	const char *p = strstr(o->url, "://");
	p = p ? strchr(p + 3, '/') : o->url;
	if (!p)
		return;
	size_t n = strcspn(p, "?#");
	double secs = (double)o->elapsed_us / 1e6;
	const char *v[1];
	if (ends_with(p, n, "/api/v1/query") || ends_with(p, n, "/api/v1/query_range")) {
		v[0] = ends_with(p, n, "/api/v1/query") ? "instant" : "range";
		/* Out of memory loses the sample (here and below): nothing else to do on a
		 * worker's thread. */
		if (metrics_observe(mc->prom_latency, v, secs)) {
		}
		return;
	}
	if (!contains(p, n, "/api/") && !contains(p, n, "/apis/"))
		return;
	v[0] = o->method ? o->method : "";
	if (metrics_observe(mc->kube_latency, v, secs) != PS_OK)
		return;
	char code[24];
	if (o->status >= 400)
		snprintf(code, sizeof(code), "%ld", o->status);
	else if (o->err != PS_OK)
		snprintf(code, sizeof(code), "%s", ps_err_name(o->err));
	else
		return;
	v[0] = code;
	if (metrics_add(mc->kube_errors, v, 1) != PS_OK)
		return;
}

/* The scrape's own families, in the order they are rendered. */
enum {
	F_BUILD,
	F_LEADER,
	F_WORKERS,
	F_RELOADS,
	F_SLOTS,
	F_SLOTS_USED,
	F_EXECUTORS,
	F_EXECUTORS_BUSY,
	F_QUEUED,
	F_LATENESS,
	F_TICKS,
	F_ERRORS,
	F_SKIPPED,
	F_CURRENT,
	F_DESIRED,
	F_VALUE,
	F_TARGET,
	F_FORECAST,
	F_FORECAST_ERROR,
	F_ACTIONS,
	F_LAST,
	F_COUNT
};

static const char *const l_build[] = {"version", "git"};
static const char *const l_state[] = {"state"};
static const char *const l_result[] = {"result"};
static const char *const l_target[] = {"namespace", "kind", "name"};
static const char *const l_metric[] = {"namespace", "kind", "name", "metric"};
static const char *const l_direction[] = {"namespace", "kind", "name", "direction"};

static const struct {
	const char *name;
	enum metrics_type type;
	const char *const *labels;
	size_t n_labels;
	const char *help;
} scrape_families[F_COUNT] = {
    [F_BUILD] = {"prescale_build_info", METRICS_GAUGE, l_build, 2,
                 "Always 1; the labels give the release and the git description of the build."},
    [F_LEADER] = {"prescale_leader", METRICS_GAUGE, NULL, 0,
                  "1 when this process holds the leader lease or leader election is off, 0 "
                  "otherwise (also while not known yet)."},
    [F_WORKERS] = {"prescale_workers", METRICS_GAUGE, l_state, 1,
                   "Workers (one per scale target) by state."},
    [F_RELOADS] = {"prescale_config_reloads_total", METRICS_COUNTER, l_result, 1,
                   "Configuration reloads by result (success or failure)."},
    [F_SLOTS] = {"prescale_prometheus_query_slots", METRICS_GAUGE, NULL, 0,
                 "Prometheus queries allowed in flight across all workers."},
    [F_SLOTS_USED] = {"prescale_prometheus_query_slots_in_use", METRICS_GAUGE, NULL, 0,
                      "Prometheus query slots taken right now."},
    [F_EXECUTORS] = {"prescale_executors", METRICS_GAUGE, NULL, 0,
                     "Executor threads that run the targets' ticks (controller.workers)."},
    [F_EXECUTORS_BUSY] = {"prescale_executors_busy", METRICS_GAUGE, NULL, 0,
                          "Executor threads running a tick right now."},
    [F_QUEUED] = {"prescale_ticks_queued", METRICS_GAUGE, NULL, 0,
                  "Ticks due and waiting for a free executor right now."},
    [F_LATENESS] = {"prescale_tick_lateness_seconds", METRICS_HISTOGRAM, NULL, 0,
                    "How long after its due time each tick started: a growing tail means "
                    "too few executors (controller.workers) or a starved process."},
    [F_TICKS] = {"prescale_target_ticks_total", METRICS_COUNTER, l_target, 3,
                 "Ticks run by the target's worker, any outcome."},
    [F_ERRORS] = {"prescale_target_errors_total", METRICS_COUNTER, l_target, 3,
                  "Failed starts and ticks of the target's worker (a failed query, read or "
                  "write)."},
    [F_SKIPPED] = {"prescale_target_skipped_ticks_total", METRICS_COUNTER, l_target, 3,
                   "Ticks skipped: no Prometheus query slot before the tick's deadline."},
    [F_CURRENT] = {"prescale_target_current_replicas", METRICS_GAUGE, l_target, 3,
                   "The scale's spec.replicas read by the last decided tick."},
    [F_DESIRED] = {"prescale_target_desired_replicas", METRICS_GAUGE, l_target, 3,
                   "The replicas the last decided tick wanted (also when paused or in a dry "
                   "run)."},
    [F_VALUE] = {"prescale_target_metric_value", METRICS_GAUGE, l_metric, 4,
                 "A metric's current value in its target's unit: percent of request "
                 "(Utilization), per-pod average (AverageValue) or total (Value)."},
    [F_TARGET] = {"prescale_target_metric_target", METRICS_GAUGE, l_metric, 4,
                  "A metric's target in the same unit as prescale_target_metric_value."},
    [F_FORECAST] = {"prescale_target_forecast_value", METRICS_GAUGE, l_metric, 4,
                    "A metric's forecast (upper bound over the serving window), in the "
                    "query's unit."},
    [F_FORECAST_ERROR] = {"prescale_target_forecast_error_mase", METRICS_GAUGE, l_metric, 4,
                          "A metric's recent forecast error at the horizon as MASE: the "
                          "model's mean absolute error over seasonal-naive's (above 1, the "
                          "forecast is not used)."},
    [F_ACTIONS] = {"prescale_target_scale_actions_total", METRICS_COUNTER, l_direction, 4,
                   "Scale writes by direction (up or down); the direction is approximate "
                   "when a target writes more than once between two scrapes."},
    [F_LAST] = {"prescale_target_last_decision_timestamp_seconds", METRICS_GAUGE, l_target, 3,
                "Unix time of the target's last decision."},
};

/* "namespace/kind/name" into three label values; a key of another shape goes whole to name. */
struct key_parts {
	char buf[TICK_KEY_MAX];
	const char *v[4];
};

static void split_key(const char *key, struct key_parts *k)
{
	snprintf(k->buf, sizeof(k->buf), "%s", key);
	char *a = strchr(k->buf, '/');
	char *b = a ? strchr(a + 1, '/') : NULL;
	if (!b) {
		k->v[0] = "";
		k->v[1] = "";
		k->v[2] = k->buf;
	} else {
		*a = '\0';
		*b = '\0';
		k->v[0] = k->buf;
		k->v[1] = a + 1;
		k->v[2] = b + 1;
	}
	k->v[3] = NULL;
}

static int cmp_snap_ptr(const void *a, const void *b)
{
	const struct tick_snap *const *x = a, *const *y = b;
	return strcmp((*x)->view->key, (*y)->view->key);
}

static int sign32(int32_t a, int32_t b)
{
	return a > b ? 1 : a < b ? -1 : 0;
}

/* The new memo entry of target <sn> from its previous one <o> (may be NULL); see metrics.h. */
static void memo_next(const struct tick_snap *sn, const struct memo *o, struct memo *n)
{
	const struct tick_view *r = sn->view;
	const uint64_t writes = sn->count.writes;
	n->up = o ? o->up : 0;
	n->down = o ? o->down : 0;
	n->last_dir = o ? o->last_dir : 0;
	n->replicas = o ? o->replicas : 0;
	n->has_replicas = o && o->has_replicas;
	n->last_decision_ms = o ? o->last_decision_ms : 0;
	n->writes = writes;
	bool decided = r->outcome == TICK_OUT_DECIDED;
	uint64_t base = o && writes >= o->writes ? o->writes : 0;
	uint64_t delta = writes - base;
	if (delta > 0) {
		int this_dir = 0;
		if (decided && r->wrote && r->mode == TICK_WRITE_LIVE)
			this_dir = sign32(r->desired, r->current);
		uint64_t rest = this_dir ? delta - 1 : delta;
		if (rest > 0) {
			int d = decided && n->has_replicas ? sign32(r->current, n->replicas) : 0;
			d = d ? d : this_dir ? this_dir : n->last_dir ? n->last_dir : 1;
			*(d > 0 ? &n->up : &n->down) += rest;
			n->last_dir = d;
		}
		if (this_dir) {
			*(this_dir > 0 ? &n->up : &n->down) += 1;
			n->last_dir = this_dir;
		}
	}
	if (decided) {
		n->replicas = r->wrote && r->mode == TICK_WRITE_LIVE ? r->desired : r->current;
		n->has_replicas = true;
		n->last_decision_ms = r->time_ms;
	}
}

/* Builds the new memo for the records <sorted> (by key) from mc->memo (sorted too). */
static enum ps_err memo_build(const struct metrics_ctl *mc, const struct tick_snap *const *sorted,
                              size_t n, struct memo **out)
{
	*out = n ? ps_calloc(n, sizeof(**out)) : NULL;
	if (n && !*out)
		return PS_ENOMEM;
	size_t j = 0;
	for (size_t i = 0; i < n; i++) {
		const struct tick_view *r = sorted[i]->view;
		while (j < mc->n_memo && strcmp(mc->memo[j].key, r->key) < 0)
			j++;
		const struct memo *o =
		    j < mc->n_memo && strcmp(mc->memo[j].key, r->key) == 0 ? &mc->memo[j] : NULL;
		memo_next(sorted[i], o, &(*out)[i]);
		(*out)[i].key = ps_strdup(r->key);
		if (!(*out)[i].key) {
			memo_free(*out, i);
			*out = NULL;
			return PS_ENOMEM;
		}
	}
	return PS_OK;
}

/* Fills the per-target families from one record and its memo entry. */
static enum ps_err target_samples(struct metrics_family **f, const struct tick_view *r,
                                  const struct memo *mm)
{
	struct key_parts k;
	split_key(r->key, &k);
	enum ps_err e = PS_OK;
	if (r->outcome == TICK_OUT_DECIDED) {
		e = metrics_set(f[F_CURRENT], k.v, r->current);
		if (!e)
			e = metrics_set(f[F_DESIRED], k.v, r->desired);
		for (size_t i = 0; i < r->n_metrics && !e; i++) {
			const struct tick_view_metric *m = &r->m[i];
			k.v[3] = m->name;
			if (m->has_value)
				e = metrics_set(f[F_VALUE], k.v, m->value);
			if (!e && m->has_target)
				e = metrics_set(f[F_TARGET], k.v, m->target);
			if (!e && m->has_forecast)
				e = metrics_set(f[F_FORECAST], k.v, m->forecast);
			if (!e && m->has_mase)
				e = metrics_set(f[F_FORECAST_ERROR], k.v, m->mase);
		}
	}
	k.v[3] = "up";
	if (!e)
		e = metrics_set(f[F_ACTIONS], k.v, (double)mm->up);
	k.v[3] = "down";
	if (!e)
		e = metrics_set(f[F_ACTIONS], k.v, (double)mm->down);
	if (!e && mm->last_decision_ms)
		e = metrics_set(f[F_LAST], k.v, (double)mm->last_decision_ms / 1000.0);
	return e;
}

static enum ps_err controller_samples(struct metrics_family **f, const struct metrics_snapshot *s)
{
	static const enum rt_worker_state states[] = {RT_WORKER_STARTING, RT_WORKER_IDLE,
	                                              RT_WORKER_TICKING, RT_WORKER_STOPPING,
	                                              RT_WORKER_STOPPED};
	const char *bv[] = {s->version ? s->version : PS_VERSION,
	                    s->git ? s->git : PS_GIT_DESCRIBE};
	enum ps_err e = metrics_set(f[F_BUILD], bv, 1);
	if (!e)
		e = metrics_set(f[F_LEADER], NULL, s->leader == METRICS_LEADER_YES ? 1 : 0);
	for (size_t i = 0; i < PS_ARRAY_LEN(states) && !e; i++) {
		size_t n = 0;
		for (size_t j = 0; j < s->n_workers; j++)
			n += s->workers[j].state == states[i];
		const char *v[] = {rt_worker_state_name(states[i])};
		e = metrics_set(f[F_WORKERS], v, (double)n);
	}
	if (s->stats && !e) {
		const char *ok[] = {"success"}, *bad[] = {"failure"};
		e = metrics_set(f[F_RELOADS], ok, (double)s->stats->reloads_ok);
		if (!e)
			e = metrics_set(f[F_RELOADS], bad, (double)s->stats->reloads_failed);
		if (!e)
			e = metrics_set(f[F_SLOTS], NULL, s->stats->query_slots);
		if (!e)
			e = metrics_set(f[F_SLOTS_USED], NULL, s->stats->query_slots_used);
		if (!e)
			e = metrics_set(f[F_EXECUTORS], NULL, s->stats->executors);
		if (!e)
			e = metrics_set(f[F_EXECUTORS_BUSY], NULL, s->stats->executors_busy);
		if (!e)
			e = metrics_set(f[F_QUEUED], NULL, (double)s->stats->ticks_queued);
		if (!e)
			e = metrics_set_histogram(f[F_LATENESS], NULL, s->stats->lateness_counts,
			                          s->stats->lateness_sum_s, s->stats->lateness_count);
	}
	for (size_t i = 0; i < s->n_workers && !e; i++) {
		const struct rt_worker_info *w = &s->workers[i];
		struct key_parts k;
		split_key(w->key, &k);
		e = metrics_set(f[F_TICKS], k.v, (double)w->ticks);
		if (!e)
			e = metrics_set(f[F_ERRORS], k.v, (double)w->errors);
		if (!e)
			e = metrics_set(f[F_SKIPPED], k.v, (double)w->skipped);
	}
	return e;
}

enum ps_err metrics_ctl_render(struct metrics_ctl *mc, const struct metrics_snapshot *s,
                               struct ps_buf *b)
{
	const struct tick_snap **sorted =
	    s->n_records ? ps_calloc(s->n_records, sizeof(*sorted)) : NULL;
	if (s->n_records && !sorted)
		return PS_ENOMEM;
	for (size_t i = 0; i < s->n_records; i++)
		sorted[i] = &s->records[i];
	if (s->n_records)
		qsort(sorted, s->n_records, sizeof(*sorted), cmp_snap_ptr);

	struct metrics *m = NULL;
	struct metrics_family *f[F_COUNT] = {0};
	enum ps_err e = metrics_new(&m);
	static const double lateness_buckets[] = RT_LATENESS_BUCKETS;
	for (size_t i = 0; i < F_COUNT && !e; i++) {
		bool hist = scrape_families[i].type == METRICS_HISTOGRAM;
		e = metrics_family_add(m, scrape_families[i].name, scrape_families[i].help,
		                       scrape_families[i].type, scrape_families[i].labels,
		                       scrape_families[i].n_labels, hist ? lateness_buckets : NULL,
		                       hist ? PS_ARRAY_LEN(lateness_buckets) : 0, &f[i], NULL);
	}
	if (!e)
		e = controller_samples(f, s);

	pthread_mutex_lock(&mc->lock);
	struct memo *next = NULL;
	if (!e)
		e = memo_build(mc, sorted, s->n_records, &next);
	if (!e) {
		memo_free(mc->memo, mc->n_memo);
		mc->memo = next;
		mc->n_memo = s->n_records;
		for (size_t i = 0; i < s->n_records && !e; i++)
			e = target_samples(f, sorted[i]->view, &next[i]);
	}
	pthread_mutex_unlock(&mc->lock);

	if (!e)
		e = metrics_render(m, b);
	if (!e)
		e = metrics_render(mc->pushed, b);
	metrics_free(m);
	ps_free(sorted);
	return e;
}

enum ps_err metrics_ctl_scrape(struct metrics_ctl *mc, struct rt *rt, struct tick_env *env,
                               enum metrics_leader leader, struct ps_buf *b)
{
	struct metrics_snapshot s = {.leader = leader};
	struct rt_stats st;
	struct rt_worker_info *workers = NULL;
	struct tick_snap *snaps = NULL;
	enum ps_err e = PS_OK;
	if (rt) {
		rt_stats(rt, &st);
		s.stats = &st;
		/* Workers may come and go between the count and the copy: retry with more room. */
		size_t cap = rt_workers_snapshot(rt, NULL, 0);
		for (;;) {
			cap += 8;
			struct rt_worker_info *w = ps_reallocarray(workers, cap, sizeof(*w));
			if (!w) {
				e = PS_ENOMEM;
				break;
			}
			workers = w;
			size_t n = rt_workers_snapshot(rt, workers, cap);
			if (n <= cap) {
				s.workers = workers;
				s.n_workers = n;
				break;
			}
			cap = n;
		}
	}
	if (!e && env) {
		e = tick_env_snaps(env, &snaps, &s.n_records);
		s.records = snaps;
	}
	if (!e)
		e = metrics_ctl_render(mc, &s, b);
	tick_snaps_free(snaps, s.n_records);
	ps_free(workers);
	return e;
}
