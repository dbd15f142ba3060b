/* snapshot.c -- parses a recommend snapshot (HPA v2 shaped JSON) into engine inputs.
 *
 * The parsed cJSON tree is kept for the snapshot's lifetime: pod names, resource names, error
 * messages and condition reasons in the observation borrow its strings. Every array behind the
 * observation is allocated through snap_alloc(), which records it for snapshot_release().
 * While walking the tree, struct ctx keeps the JSON path of the value at hand, so every
 * message names the field it is about.
 */
#include "snapshot.h"

#include <cjson/cJSON.h>
#include <math.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine.h"
#include "ps_alloc.h"
#include "ps_clock.h"
#include "ps_parse.h"
#include "ps_text.h"

/* metricServerDefaultMetricWindow: the sample window when a reading gives none. */
#define SNAP_DEFAULT_WINDOW_MS ((int64_t)60 * 1000)
/* The history lists get this much room beyond what the snapshot holds. */
#define SNAP_HISTORY_SLACK 8

struct ctx {
	struct snapshot *s;
	struct ps_diag *diag;
	const char *source;
	char path[256];
	size_t plen;
};

/* ---- paths and messages ---- */

static void path_set_len(struct ctx *c, size_t saved, int n)
{
	if (n < 0) {
		c->path[saved] = '\0';
		c->plen = saved;
	} else if ((size_t)n >= sizeof(c->path) - saved) {
		c->plen = sizeof(c->path) - 1;
	} else {
		c->plen = saved + (size_t)n;
	}
}

static bool is_plain_key(const char *k)
{
	if (!*k)
		return false;
	for (; *k; k++) {
		char ch = *k;
		if (!((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') ||
		      ch == '_' || ch == '-'))
			return false;
	}
	return true;
}

/* Appends ".key" (or `["key"]` for a key that is not an identifier); returns the old length. */
static size_t path_key(struct ctx *c, const char *key)
{
	size_t saved = c->plen;
	size_t room = sizeof(c->path) - saved;
	int n;
	if (is_plain_key(key))
		n = snprintf(c->path + saved, room, "%s%s", saved ? "." : "", key);
	else
		n = snprintf(c->path + saved, room, "[\"%s\"]", key);
	path_set_len(c, saved, n);
	return saved;
}

static size_t path_index(struct ctx *c, size_t i)
{
	size_t saved = c->plen;
	int n = snprintf(c->path + saved, sizeof(c->path) - saved, "[%zu]", i);
	path_set_len(c, saved, n);
	return saved;
}

static void path_pop(struct ctx *c, size_t saved)
{
	c->plen = saved;
	c->path[saved] = '\0';
}

/* Records "<source>: <path>: <message>" in the diag and returns <err>. */
PS_PRINTF(3, 4)
static enum ps_err fail(struct ctx *c, enum ps_err err, const char *fmt, ...)
{
	char msg[PS_DIAG_MAX];
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (n < 0)
		msg[0] = '\0';
	if (c->plen)
		return ps_diag_set(c->diag, err, "%s: %s: %s", c->source, c->path, msg);
	return ps_diag_set(c->diag, err, "%s: %s", c->source, msg);
}

static const char *type_name(const cJSON *j)
{
	if (cJSON_IsString(j))
		return "a string";
	if (cJSON_IsNumber(j))
		return "a number";
	if (cJSON_IsBool(j))
		return "a boolean";
	if (cJSON_IsNull(j))
		return "null";
	if (cJSON_IsArray(j))
		return "an array";
	if (cJSON_IsObject(j))
		return "an object";
	return "an invalid value";
}

static enum ps_err want(struct ctx *c, const cJSON *j, const char *what)
{
	return fail(c, PS_EPARSE, "expected %s, got %s", what, type_name(j));
}

/* Levenshtein distance of two short strings, for "did you mean". */
static size_t edit_distance(const char *a, const char *b)
{
	size_t la = strlen(a), lb = strlen(b);
	if (la > 63 || lb > 63)
		return SIZE_MAX;
	size_t row[64];
	for (size_t j = 0; j <= lb; j++)
		row[j] = j;
	for (size_t i = 1; i <= la; i++) {
		size_t diag = row[0];
		row[0] = i;
		for (size_t j = 1; j <= lb; j++) {
			size_t up = row[j];
			size_t best = diag + (a[i - 1] != b[j - 1]);
			if (up + 1 < best)
				best = up + 1;
			if (row[j - 1] + 1 < best)
				best = row[j - 1] + 1;
			row[j] = best;
			diag = up;
		}
	}
	return row[lb];
}

/* Rejects keys of <obj> not in <allowed>, and keys given twice. */
static enum ps_err check_keys(struct ctx *c, const cJSON *obj, const char *const *allowed,
			      size_t n_allowed)
{
	for (const cJSON *it = obj->child; it; it = it->next) {
		size_t i = 0;
		while (i < n_allowed && strcmp(it->string, allowed[i]) != 0)
			i++;
		if (i == n_allowed) {
			const char *best = NULL;
			size_t best_d = 3;
			for (size_t k = 0; k < n_allowed; k++) {
				size_t d = edit_distance(it->string, allowed[k]);
				if (d < best_d) {
					best_d = d;
					best = allowed[k];
				}
			}
			size_t saved = path_key(c, it->string);
			enum ps_err err;
			if (best)
				err = fail(c, PS_EPARSE, "unknown field (did you mean \"%s\"?)", best);
			else
				err = fail(c, PS_EPARSE, "unknown field");
			path_pop(c, saved);
			return err;
		}
		for (const cJSON *prev = obj->child; prev != it; prev = prev->next) {
			if (strcmp(prev->string, it->string) == 0) {
				size_t saved = path_key(c, it->string);
				enum ps_err err = fail(c, PS_EPARSE, "field given twice");
				path_pop(c, saved);
				return err;
			}
		}
	}
	return PS_OK;
}

#define CHECK_KEYS(c, obj, ...)                                                                \
	check_keys((c), (obj), (const char *const[]){__VA_ARGS__},                             \
		   sizeof((const char *const[]){__VA_ARGS__}) / sizeof(const char *))

/* obj[key], or NULL when absent or null (Kubernetes treats both alike). */
static const cJSON *field(const cJSON *obj, const char *key)
{
	const cJSON *j = cJSON_GetObjectItemCaseSensitive(obj, key);
	return cJSON_IsNull(j) ? NULL : j;
}

static enum ps_err missing(struct ctx *c, const char *key)
{
	size_t saved = path_key(c, key);
	enum ps_err err = fail(c, PS_EPARSE, "required field missing");
	path_pop(c, saved);
	return err;
}

/* ---- typed values; each reads the value at the current path ---- */

static enum ps_err val_int32(struct ctx *c, const cJSON *j, int32_t lo, int32_t hi, int32_t *out)
{
	if (!cJSON_IsNumber(j))
		return want(c, j, "an integer");
	double v = j->valuedouble;
	if (!isfinite(v) || v != floor(v))
		return fail(c, PS_EPARSE, "expected an integer, got %g", v);
	if (v < (double)lo || v > (double)hi) {
		if (hi == INT32_MAX)
			return fail(c, PS_ERANGE, "%.0f is out of range (must be >= %d)", v, (int)lo);
		return fail(c, PS_ERANGE, "%.0f is out of range (must be %d..%d)", v, (int)lo,
			    (int)hi);
	}
	*out = (int32_t)v;
	return PS_OK;
}

static enum ps_err val_double(struct ctx *c, const cJSON *j, double lo, double *out)
{
	if (!cJSON_IsNumber(j))
		return want(c, j, "a number");
	double v = j->valuedouble;
	if (!isfinite(v))
		return fail(c, PS_ERANGE, "number out of range");
	if (v < lo)
		return fail(c, PS_ERANGE, "%g is out of range (must be >= %g)", v, lo);
	*out = v;
	return PS_OK;
}

static enum ps_err val_string(struct ctx *c, const cJSON *j, const char **out)
{
	if (!cJSON_IsString(j))
		return want(c, j, "a string");
	*out = j->valuestring;
	return PS_OK;
}

static enum ps_err val_name(struct ctx *c, const cJSON *j, char *out, size_t size)
{
	const char *s = NULL;
	enum ps_err err = val_string(c, j, &s);
	if (err)
		return err;
	if (!*s)
		return fail(c, PS_EPARSE, "must not be empty");
	if (strlen(s) >= size)
		return fail(c, PS_ETOOBIG, "\"%.40s...\" is longer than %zu characters", s,
			    size - 1);
	memcpy(out, s, strlen(s) + 1);
	return PS_OK;
}

static enum ps_err val_bool(struct ctx *c, const cJSON *j, bool *out)
{
	if (!cJSON_IsBool(j))
		return want(c, j, "true or false");
	*out = cJSON_IsTrue(j);
	return PS_OK;
}

/* A Kubernetes quantity: a string ("500m", "1.5Gi") or a JSON number; in milli-units. */
static enum ps_err val_quantity(struct ctx *c, const cJSON *j, int64_t *out)
{
	char num[64];
	const char *text;
	if (cJSON_IsString(j)) {
		text = j->valuestring;
	} else if (cJSON_IsNumber(j)) {
		if (!isfinite(j->valuedouble))
			return fail(c, PS_ERANGE, "number out of range");
		/* %.15g gives back the decimal a JSON number was written as (up to 15 digits). */
		snprintf(num, sizeof(num), "%.15g", j->valuedouble);
		text = num;
	} else {
		return want(c, j, "a quantity (a string such as \"500m\" or a number)");
	}
	struct ps_diag d;
	ps_diag_clear(&d);
	enum ps_err err = ps_parse_quantity_milli(text, out, &d);
	if (err)
		return fail(c, err, "%s", ps_diag_msg(&d));
	return PS_OK;
}

static enum ps_err val_duration(struct ctx *c, const cJSON *j, int64_t *out)
{
	if (!cJSON_IsString(j))
		return want(c, j, "a duration string such as \"30s\"");
	struct ps_diag d;
	ps_diag_clear(&d);
	enum ps_err err = ps_parse_duration_ms(j->valuestring, out, &d);
	if (err)
		return fail(c, err, "%s", ps_diag_msg(&d));
	return PS_OK;
}

static enum ps_err val_time(struct ctx *c, const cJSON *j, int64_t *out)
{
	if (!cJSON_IsString(j))
		return want(c, j, "an RFC 3339 time string such as \"2026-11-26T12:00:00Z\"");
	struct ps_diag d;
	ps_diag_clear(&d);
	enum ps_err err = ps_clock_parse_rfc3339(j->valuestring, out, &d);
	if (err)
		return fail(c, err, "%s", ps_diag_msg(&d));
	return PS_OK;
}

/* Picks the index of <s> in <names> or fails listing them. */
static enum ps_err val_enum(struct ctx *c, const cJSON *j, const char *const *names, size_t n,
			    size_t *out)
{
	const char *s = NULL;
	enum ps_err err = val_string(c, j, &s);
	if (err)
		return err;
	for (size_t i = 0; i < n; i++) {
		if (strcmp(s, names[i]) == 0) {
			*out = i;
			return PS_OK;
		}
	}
	char list[160] = "";
	size_t len = 0;
	for (size_t i = 0; i < n && len < sizeof(list); i++) {
		int w = snprintf(list + len, sizeof(list) - len, "%s%s", i == 0 ? "" : ", ",
				 names[i]);
		if (w < 0)
			break;
		len += (size_t)w;
	}
	return fail(c, PS_EPARSE, "unsupported value \"%.64s\" (want one of: %s)", s, list);
}

/* The same readers by key: push the key on the path, read, pop. <has> (may be NULL for a
 * required field) says whether the field was there. */
#define BY_KEY(reader, c, obj, key, required, has, ...)                                        \
	do {                                                                                   \
		const cJSON *j_ = field((obj), (key));                                         \
		bool *has_ = (has);                                                            \
		if (has_)                                                                      \
			*has_ = j_ != NULL;                                                    \
		if (!j_) {                                                                     \
			if (required)                                                          \
				return missing((c), (key));                                    \
			break;                                                                 \
		}                                                                              \
		size_t saved_ = path_key((c), (key));                                          \
		enum ps_err err_ = reader((c), j_, __VA_ARGS__);                               \
		path_pop((c), saved_);                                                         \
		if (err_)                                                                      \
			return err_;                                                           \
	} while (0)

/* ---- owned storage ---- */

static void *snap_alloc(struct ctx *c, size_t n, size_t size)
{
	struct snapshot *s = c->s;
	if (s->n_owned == s->cap_owned) {
		size_t cap = s->cap_owned ? 2 * s->cap_owned : 16;
		void **v = ps_reallocarray(s->owned, cap, sizeof(*v));
		if (!v)
			return NULL;
		s->owned = v;
		s->cap_owned = cap;
	}
	void *p = ps_calloc(n ? n : 1, size);
	if (p)
		s->owned[s->n_owned++] = p;
	return p;
}

#define SNAP_ALLOC(c, ptr, n)                                                                  \
	do {                                                                                   \
		(ptr) = snap_alloc((c), (n), sizeof(*(ptr)));                                  \
		if (!(ptr))                                                                    \
			return fail((c), PS_ENOMEM, "out of memory");                          \
	} while (0)

/* ---- spec ---- */

static enum ps_err parse_target(struct ctx *c, const cJSON *j, enum eng_source src,
				struct eng_target *t)
{
	if (!cJSON_IsObject(j))
		return want(c, j, "an object");
	enum ps_err err = CHECK_KEYS(c, j, "type", "value", "averageValue", "averageUtilization");
	if (err)
		return err;
	size_t type = 0;
	BY_KEY(val_enum, c, j, "type", true, NULL,
	       (const char *const[]){"Utilization", "AverageValue", "Value"}, 3, &type);
	t->type = type == 0 ? ENG_TARGET_UTILIZATION
		  : type == 1 ? ENG_TARGET_AVERAGE_VALUE
			      : ENG_TARGET_VALUE;
	BY_KEY(val_quantity, c, j, "value", false, &t->has_value, &t->value_milli);
	BY_KEY(val_quantity, c, j, "averageValue", false, &t->has_average_value,
	       &t->average_value_milli);
	BY_KEY(val_int32, c, j, "averageUtilization", false, &t->has_average_utilization, 1,
	       INT32_MAX, &t->average_utilization);

	/* The API server's validateMetricTarget and per-source rules. */
	size_t saved;
	if (t->has_value && t->value_milli <= 0) {
		saved = path_key(c, "value");
		err = fail(c, PS_ERANGE, "must be positive");
		path_pop(c, saved);
		return err;
	}
	if (t->has_average_value && t->average_value_milli <= 0) {
		saved = path_key(c, "averageValue");
		err = fail(c, PS_ERANGE, "must be positive");
		path_pop(c, saved);
		return err;
	}
	bool resource = src == ENG_SRC_RESOURCE || src == ENG_SRC_CONTAINER_RESOURCE;
	switch (t->type) {
	case ENG_TARGET_UTILIZATION:
		if (!resource)
			return fail(c, PS_EPARSE, "type Utilization is only for Resource and "
						  "ContainerResource metrics");
		if (!t->has_average_utilization)
			return missing(c, "averageUtilization");
		break;
	case ENG_TARGET_AVERAGE_VALUE:
		if (!t->has_average_value)
			return missing(c, "averageValue");
		break;
	case ENG_TARGET_VALUE:
		if (resource || src == ENG_SRC_PODS)
			return fail(c, PS_EPARSE, "type Value is only for Object and External "
						  "metrics (use AverageValue)");
		if (!t->has_value)
			return missing(c, "value");
		break;
	case ENG_TARGET_UNSET:
		break;
	}
	if (resource && t->has_average_value && t->has_average_utilization)
		return fail(c, PS_EPARSE, "set averageValue or averageUtilization, not both");
	return PS_OK;
}

/* MetricIdentifier: {"name": ..., "selector": {...}}; the selector is accepted and unused
 * (the readings already hold the selected series). */
static enum ps_err parse_metric_id(struct ctx *c, const cJSON *j, char *name, size_t size)
{
	if (!cJSON_IsObject(j))
		return want(c, j, "an object");
	enum ps_err err = CHECK_KEYS(c, j, "name", "selector");
	if (err)
		return err;
	BY_KEY(val_name, c, j, "name", true, NULL, name, size);
	return PS_OK;
}

static enum ps_err parse_described_object(struct ctx *c, const cJSON *j, char *kind, size_t size)
{
	if (!cJSON_IsObject(j))
		return want(c, j, "an object");
	enum ps_err err = CHECK_KEYS(c, j, "apiVersion", "kind", "name");
	if (err)
		return err;
	BY_KEY(val_name, c, j, "kind", true, NULL, kind, size);
	const char *unused;
	BY_KEY(val_string, c, j, "name", true, NULL, &unused);
	BY_KEY(val_string, c, j, "apiVersion", false, NULL, &unused);
	return PS_OK;
}

static enum ps_err parse_source(struct ctx *c, const cJSON *j, struct eng_metric_spec *m)
{
	if (!cJSON_IsObject(j))
		return want(c, j, "an object");
	enum ps_err err;
	switch (m->source) {
	case ENG_SRC_RESOURCE:
		err = CHECK_KEYS(c, j, "name", "target");
		if (err)
			return err;
		BY_KEY(val_name, c, j, "name", true, NULL, m->resource, sizeof(m->resource));
		memcpy(m->name, m->resource, sizeof(m->name));
		break;
	case ENG_SRC_CONTAINER_RESOURCE:
		err = CHECK_KEYS(c, j, "name", "container", "target");
		if (err)
			return err;
		BY_KEY(val_name, c, j, "name", true, NULL, m->resource, sizeof(m->resource));
		BY_KEY(val_name, c, j, "container", true, NULL, m->container,
		       sizeof(m->container));
		memcpy(m->name, m->resource, sizeof(m->name));
		break;
	case ENG_SRC_PODS:
	case ENG_SRC_EXTERNAL:
		err = CHECK_KEYS(c, j, "metric", "target");
		if (err)
			return err;
		BY_KEY(parse_metric_id, c, j, "metric", true, NULL, m->name, sizeof(m->name));
		break;
	case ENG_SRC_OBJECT:
		err = CHECK_KEYS(c, j, "describedObject", "metric", "target");
		if (err)
			return err;
		BY_KEY(parse_described_object, c, j, "describedObject", true, NULL,
		       m->object_kind, sizeof(m->object_kind));
		BY_KEY(parse_metric_id, c, j, "metric", true, NULL, m->name, sizeof(m->name));
		break;
	case ENG_SRC_UNKNOWN:
		break;
	}
	BY_KEY(parse_target, c, j, "target", true, NULL, m->source, &m->target);
	return PS_OK;
}

static const char *const source_names[] = {"Resource", "ContainerResource", "Pods", "Object",
					   "External"};
static const char *const source_keys[] = {"resource", "containerResource", "pods", "object",
					  "external"};
static const enum eng_source source_values[] = {ENG_SRC_RESOURCE, ENG_SRC_CONTAINER_RESOURCE,
					       ENG_SRC_PODS, ENG_SRC_OBJECT, ENG_SRC_EXTERNAL};

static enum ps_err parse_metric(struct ctx *c, const cJSON *j, struct eng_metric_spec *m)
{
	if (!cJSON_IsObject(j))
		return want(c, j, "an object");
	size_t k = 0;
	BY_KEY(val_enum, c, j, "type", true, NULL, source_names, PS_ARRAY_LEN(source_names), &k);
	m->source = source_values[k];
	enum ps_err err = check_keys(c, j, (const char *const[]){"type", source_keys[k]}, 2);
	if (err)
		return err;
	BY_KEY(parse_source, c, j, source_keys[k], true, NULL, m);
	return PS_OK;
}

static enum ps_err parse_policy(struct ctx *c, const cJSON *j, struct eng_policy *p)
{
	if (!cJSON_IsObject(j))
		return want(c, j, "an object");
	enum ps_err err = CHECK_KEYS(c, j, "type", "value", "periodSeconds");
	if (err)
		return err;
	size_t type = 0;
	BY_KEY(val_enum, c, j, "type", true, NULL, (const char *const[]){"Pods", "Percent"}, 2,
	       &type);
	p->type = type == 0 ? ENG_POLICY_PODS : ENG_POLICY_PERCENT;
	BY_KEY(val_int32, c, j, "value", true, NULL, 1, INT32_MAX, &p->value);
	BY_KEY(val_int32, c, j, "periodSeconds", true, NULL, 1, 1800, &p->period_s);
	return PS_OK;
}

static enum ps_err parse_policies(struct ctx *c, const cJSON *j, struct eng_rules *r)
{
	if (!cJSON_IsArray(j))
		return want(c, j, "an array");
	size_t n = (size_t)cJSON_GetArraySize(j);
	if (n == 0)
		return fail(c, PS_EPARSE, "must hold at least one policy");
	if (n > ENG_MAX_POLICIES)
		return fail(c, PS_ETOOBIG, "%zu policies; at most %d are supported", n,
			    ENG_MAX_POLICIES);
	size_t i = 0;
	for (const cJSON *it = j->child; it; it = it->next, i++) {
		size_t saved = path_index(c, i);
		enum ps_err err = parse_policy(c, it, &r->policies[i]);
		path_pop(c, saved);
		if (err)
			return err;
	}
	r->has_policies = true;
	r->n_policies = n;
	return PS_OK;
}

/* HPAScalingRules.tolerance is a Quantity: a number, a decimal string, or "50m". */
static enum ps_err val_tolerance(struct ctx *c, const cJSON *j, double *out)
{
	if (cJSON_IsString(j)) {
		if (ps_parse_double(j->valuestring, out, NULL) != PS_OK) {
			int64_t milli = 0;
			enum ps_err err = val_quantity(c, j, &milli);
			if (err)
				return err;
			*out = (double)milli / 1000.0;
		}
		if (*out < 0)
			return fail(c, PS_ERANGE, "must not be negative");
		return PS_OK;
	}
	if (cJSON_IsNumber(j))
		return val_double(c, j, 0.0, out);
	return want(c, j, "a quantity (a number or a string such as \"0.05\")");
}

static enum ps_err parse_rules(struct ctx *c, const cJSON *j, struct eng_rules *r)
{
	if (!cJSON_IsObject(j))
		return want(c, j, "an object");
	enum ps_err err = CHECK_KEYS(c, j, "stabilizationWindowSeconds", "selectPolicy",
				     "policies", "tolerance");
	if (err)
		return err;
	BY_KEY(val_int32, c, j, "stabilizationWindowSeconds", false, &r->has_window, 0, 3600,
	       &r->window_s);
	size_t sel = 0;
	BY_KEY(val_enum, c, j, "selectPolicy", false, &r->has_select,
	       (const char *const[]){"Max", "Min", "Disabled"}, 3, &sel);
	r->select = sel == 0 ? ENG_SELECT_MAX : sel == 1 ? ENG_SELECT_MIN : ENG_SELECT_DISABLED;
	BY_KEY(parse_policies, c, j, "policies", false, NULL, r);
	BY_KEY(val_tolerance, c, j, "tolerance", false, &r->has_tolerance, &r->tolerance);
	return PS_OK;
}

static enum ps_err parse_behavior(struct ctx *c, const cJSON *j, struct eng_behavior *b)
{
	if (!cJSON_IsObject(j))
		return want(c, j, "an object");
	enum ps_err err = CHECK_KEYS(c, j, "scaleUp", "scaleDown");
	if (err)
		return err;
	BY_KEY(parse_rules, c, j, "scaleUp", false, &b->has_scale_up, &b->scale_up);
	BY_KEY(parse_rules, c, j, "scaleDown", false, &b->has_scale_down, &b->scale_down);
	eng_behavior_default(b);
	return PS_OK;
}

static enum ps_err parse_metrics(struct ctx *c, const cJSON *j, struct eng_spec *spec)
{
	if (!cJSON_IsArray(j))
		return want(c, j, "an array");
	size_t n = (size_t)cJSON_GetArraySize(j);
	if (n > ENG_MAX_METRICS)
		return fail(c, PS_ETOOBIG, "%zu metrics; at most %d are supported", n,
			    ENG_MAX_METRICS);
	size_t i = 0;
	for (const cJSON *it = j->child; it; it = it->next, i++) {
		size_t saved = path_index(c, i);
		enum ps_err err = parse_metric(c, it, &spec->metrics[i]);
		path_pop(c, saved);
		if (err)
			return err;
	}
	spec->n_metrics = n;
	return PS_OK;
}

static enum ps_err parse_spec(struct ctx *c, const cJSON *j, struct eng_spec *spec)
{
	if (!cJSON_IsObject(j))
		return want(c, j, "an object");
	enum ps_err err = CHECK_KEYS(c, j, "scaleTargetRef", "minReplicas", "maxReplicas",
				     "metrics", "behavior");
	if (err)
		return err;
	const cJSON *ref = field(j, "scaleTargetRef");
	if (ref && !cJSON_IsObject(ref)) {
		size_t saved = path_key(c, "scaleTargetRef");
		err = want(c, ref, "an object");
		path_pop(c, saved);
		return err;
	}
	BY_KEY(val_int32, c, j, "minReplicas", false, &spec->has_min_replicas, 0, INT32_MAX,
	       &spec->min_replicas);
	BY_KEY(val_int32, c, j, "maxReplicas", true, NULL, 1, INT32_MAX, &spec->max_replicas);
	if (spec->has_min_replicas && spec->min_replicas > spec->max_replicas) {
		size_t saved = path_key(c, "maxReplicas");
		err = fail(c, PS_ERANGE, "%d is below minReplicas (%d)", (int)spec->max_replicas,
			   (int)spec->min_replicas);
		path_pop(c, saved);
		return err;
	}
	BY_KEY(parse_metrics, c, j, "metrics", false, NULL, spec);
	if (spec->n_metrics == 0) {
		/* SetDefaults_HorizontalPodAutoscaler: no metrics means CPU at 80 %. */
		struct eng_metric_spec *m = &spec->metrics[0];
		m->source = ENG_SRC_RESOURCE;
		memcpy(m->resource, "cpu", 4);
		memcpy(m->name, "cpu", 4);
		m->target.type = ENG_TARGET_UTILIZATION;
		m->target.has_average_utilization = true;
		m->target.average_utilization = 80;
		spec->n_metrics = 1;
	}
	BY_KEY(parse_behavior, c, j, "behavior", false, &spec->has_behavior, &spec->behavior);
	return PS_OK;
}

/* ---- controller flags and feature gates ---- */

static enum ps_err parse_gates(struct ctx *c, const cJSON *j, struct eng_params *p)
{
	if (!cJSON_IsObject(j))
		return want(c, j, "an object");
	enum ps_err err = CHECK_KEYS(c, j, "HPAScaleToZero", "HPAConfigurableTolerance",
				     "PodLevelResources");
	if (err)
		return err;
	BY_KEY(val_bool, c, j, "HPAScaleToZero", false, NULL, &p->gate_scale_to_zero);
	BY_KEY(val_bool, c, j, "HPAConfigurableTolerance", false, NULL,
	       &p->gate_configurable_tolerance);
	BY_KEY(val_bool, c, j, "PodLevelResources", false, NULL, &p->gate_pod_level_resources);
	return PS_OK;
}

static enum ps_err parse_controller(struct ctx *c, const cJSON *j, struct eng_params *p)
{
	if (!cJSON_IsObject(j))
		return want(c, j, "an object");
	enum ps_err err = CHECK_KEYS(c, j, "tolerance", "cpuInitializationPeriod",
				     "initialReadinessDelay", "downscaleStabilization",
				     "scaleUpLimitFactor", "scaleUpLimitMinimum", "featureGates");
	if (err)
		return err;
	BY_KEY(val_double, c, j, "tolerance", false, NULL, 0.0, &p->tolerance);
	BY_KEY(val_duration, c, j, "cpuInitializationPeriod", false, NULL,
	       &p->cpu_init_period_ms);
	BY_KEY(val_duration, c, j, "initialReadinessDelay", false, NULL, &p->readiness_delay_ms);
	BY_KEY(val_duration, c, j, "downscaleStabilization", false, NULL,
	       &p->downscale_window_ms);
	BY_KEY(val_double, c, j, "scaleUpLimitFactor", false, NULL, 0.0,
	       &p->scale_up_limit_factor);
	BY_KEY(val_double, c, j, "scaleUpLimitMinimum", false, NULL, 0.0,
	       &p->scale_up_limit_minimum);
	BY_KEY(parse_gates, c, j, "featureGates", false, NULL, p);
	return PS_OK;
}

/* ---- scale and pods ---- */

static enum ps_err parse_scale(struct ctx *c, const cJSON *j, struct eng_observation *obs)
{
	if (!cJSON_IsObject(j))
		return want(c, j, "an object");
	enum ps_err err = CHECK_KEYS(c, j, "specReplicas", "statusReplicas", "selector");
	if (err)
		return err;
	BY_KEY(val_int32, c, j, "specReplicas", true, NULL, 0, INT32_MAX, &obs->spec_replicas);
	bool has_status = false;
	BY_KEY(val_int32, c, j, "statusReplicas", false, &has_status, 0, INT32_MAX,
	       &obs->status_replicas);
	if (!has_status)
		obs->status_replicas = obs->spec_replicas;
	const char *selector = NULL;
	BY_KEY(val_string, c, j, "selector", false, NULL, &selector);
	obs->selector = selector && !*selector ? ENG_SELECTOR_EMPTY : ENG_SELECTOR_OK;
	return PS_OK;
}

/* {"cpu": "500m", "memory": "1Gi"} into an owned array of requests. */
static enum ps_err parse_requests(struct ctx *c, const cJSON *j, const struct eng_request **out,
				  size_t *n_out)
{
	if (!cJSON_IsObject(j))
		return want(c, j, "an object of resource quantities");
	size_t n = (size_t)cJSON_GetArraySize(j);
	struct eng_request *reqs;
	SNAP_ALLOC(c, reqs, n);
	size_t i = 0;
	for (const cJSON *it = j->child; it; it = it->next, i++) {
		size_t saved = path_key(c, it->string);
		enum ps_err err = val_quantity(c, it, &reqs[i].milli);
		if (!err && reqs[i].milli < 0)
			err = fail(c, PS_ERANGE, "must not be negative");
		for (size_t k = 0; !err && k < i; k++)
			if (strcmp(reqs[k].resource, it->string) == 0)
				err = fail(c, PS_EPARSE, "field given twice");
		path_pop(c, saved);
		if (err)
			return err;
		reqs[i].resource = it->string;
	}
	*out = reqs;
	*n_out = n;
	return PS_OK;
}

struct container_list {
	size_t n;
	struct eng_container *v; /* room for containers and init containers */
};

static enum ps_err parse_container(struct ctx *c, const cJSON *j, bool init,
				   struct container_list *list)
{
	if (!cJSON_IsObject(j))
		return want(c, j, "an object");
	enum ps_err err = init ? CHECK_KEYS(c, j, "name", "restartPolicy", "requests")
			       : CHECK_KEYS(c, j, "name", "requests");
	if (err)
		return err;
	struct eng_container ct = {0};
	BY_KEY(val_string, c, j, "name", true, NULL, &ct.name);
	bool counts = !init;
	if (init) {
		size_t policy = 0;
		bool has_policy = false;
		BY_KEY(val_enum, c, j, "restartPolicy", false, &has_policy,
		       (const char *const[]){"Always"}, 1, &policy);
		/* Only restartable init containers (sidecars) count for requests. */
		counts = has_policy;
	}
	BY_KEY(parse_requests, c, j, "requests", false, NULL, &ct.requests, &ct.n_requests);
	if (counts)
		list->v[list->n++] = ct;
	return PS_OK;
}

static enum ps_err parse_containers(struct ctx *c, const cJSON *j, bool init,
				    struct container_list *list)
{
	if (!cJSON_IsArray(j))
		return want(c, j, "an array");
	size_t i = 0;
	for (const cJSON *it = j->child; it; it = it->next, i++) {
		size_t saved = path_index(c, i);
		enum ps_err err = parse_container(c, it, init, list);
		path_pop(c, saved);
		if (err)
			return err;
	}
	return PS_OK;
}

static enum ps_err parse_pod(struct ctx *c, const cJSON *j, struct eng_pod *pod)
{
	if (!cJSON_IsObject(j))
		return want(c, j, "an object");
	enum ps_err err = CHECK_KEYS(c, j, "name", "phase", "ready", "readyTransitionTime",
				     "startTime", "deleted", "containers", "initContainers",
				     "requests");
	if (err)
		return err;
	BY_KEY(val_string, c, j, "name", true, NULL, &pod->name);
	if (!*pod->name)
		return fail(c, PS_EPARSE, "name: must not be empty");
	bool has_phase = false;
	size_t phase = 0;
	BY_KEY(val_enum, c, j, "phase", false, &has_phase,
	       (const char *const[]){"Pending", "Running", "Succeeded", "Failed", "Unknown"}, 5,
	       &phase);
	static const enum eng_phase phases[] = {ENG_PHASE_PENDING, ENG_PHASE_RUNNING,
						ENG_PHASE_SUCCEEDED, ENG_PHASE_FAILED,
						ENG_PHASE_UNKNOWN};
	pod->phase = has_phase ? phases[phase] : ENG_PHASE_RUNNING;
	BY_KEY(val_bool, c, j, "ready", false, &pod->has_ready_condition, &pod->ready);
	bool has_transition = false;
	BY_KEY(val_time, c, j, "readyTransitionTime", false, &has_transition,
	       &pod->ready_transition_ms);
	if (!has_transition)
		pod->ready_transition_ms = c->s->obs.now_ms - ENG_TIME_ZERO_AGE_MS;
	BY_KEY(val_time, c, j, "startTime", false, &pod->has_start_time, &pod->start_time_ms);
	BY_KEY(val_bool, c, j, "deleted", false, NULL, &pod->deleted);

	const cJSON *cs = field(j, "containers");
	const cJSON *ics = field(j, "initContainers");
	struct container_list list = {0};
	size_t room = (size_t)cJSON_GetArraySize(cs) + (size_t)cJSON_GetArraySize(ics);
	SNAP_ALLOC(c, list.v, room);
	BY_KEY(parse_containers, c, j, "containers", false, NULL, false, &list);
	BY_KEY(parse_containers, c, j, "initContainers", false, NULL, true, &list);
	pod->containers = list.v;
	pod->n_containers = list.n;
	BY_KEY(parse_requests, c, j, "requests", false, NULL, &pod->pod_requests,
	       &pod->n_pod_requests);
	return PS_OK;
}

/* Pod names sorted, to find a reading's pod in O(log n). */
struct pod_key {
	const char *name;
	size_t index;
};

struct pod_index {
	size_t n;
	struct pod_key *keys;
};

static int cmp_pod_key(const void *a, const void *b)
{
	const struct pod_key *x = a, *y = b;
	return strcmp(x->name, y->name);
}

/* Returns the index of the pod named <name>, or SIZE_MAX. */
static size_t pod_find(const struct pod_index *ix, const char *name)
{
	struct pod_key key = {name, 0};
	const struct pod_key *k = ix->n ? bsearch(&key, ix->keys, ix->n, sizeof(key), cmp_pod_key)
				       : NULL;
	return k ? k->index : SIZE_MAX;
}

static enum ps_err parse_pods(struct ctx *c, const cJSON *j, struct pod_index *ix)
{
	if (!cJSON_IsArray(j))
		return want(c, j, "an array");
	size_t n = (size_t)cJSON_GetArraySize(j);
	struct eng_pod *pods;
	SNAP_ALLOC(c, pods, n);
	SNAP_ALLOC(c, ix->keys, n);
	size_t i = 0;
	for (const cJSON *it = j->child; it; it = it->next, i++) {
		size_t saved = path_index(c, i);
		enum ps_err err = parse_pod(c, it, &pods[i]);
		path_pop(c, saved);
		if (err)
			return err;
		ix->keys[i] = (struct pod_key){pods[i].name, i};
	}
	ix->n = n;
	qsort(ix->keys, n, sizeof(*ix->keys), cmp_pod_key);
	for (i = 1; i < n; i++) {
		if (strcmp(ix->keys[i - 1].name, ix->keys[i].name) == 0) {
			size_t a = ix->keys[i - 1].index, b = ix->keys[i].index;
			size_t saved = path_index(c, a > b ? a : b);
			enum ps_err err = fail(c, PS_EPARSE, "pod \"%s\" is listed twice",
					       ix->keys[i].name);
			path_pop(c, saved);
			return err;
		}
	}
	c->s->obs.pods = pods;
	c->s->obs.n_pods = n;
	return PS_OK;
}

/* ---- readings ---- */

struct sample_defaults {
	int64_t timestamp_ms;
	int64_t window_ms;
};

/* One per-pod sample: a quantity, or {"value", "timestamp", "window"}; null = no sample. */
static enum ps_err parse_sample(struct ctx *c, const cJSON *j, const struct sample_defaults *def,
				struct eng_sample *out)
{
	out->timestamp_ms = def->timestamp_ms;
	out->window_ms = def->window_ms;
	if (cJSON_IsNull(j)) {
		out->present = false;
		return PS_OK;
	}
	out->present = true;
	if (!cJSON_IsObject(j))
		return val_quantity(c, j, &out->value_milli);
	enum ps_err err = CHECK_KEYS(c, j, "value", "timestamp", "window");
	if (err)
		return err;
	BY_KEY(val_quantity, c, j, "value", true, NULL, &out->value_milli);
	BY_KEY(val_time, c, j, "timestamp", false, NULL, &out->timestamp_ms);
	BY_KEY(val_duration, c, j, "window", false, NULL, &out->window_ms);
	return PS_OK;
}

static enum ps_err parse_pod_samples(struct ctx *c, const cJSON *j, const struct pod_index *ix,
				     const struct sample_defaults *def, struct eng_reading *r)
{
	if (!cJSON_IsObject(j))
		return want(c, j, "an object mapping pod names to values");
	size_t n = (size_t)cJSON_GetArraySize(j);
	struct eng_sample *samples, *extra;
	SNAP_ALLOC(c, samples, ix->n);
	SNAP_ALLOC(c, extra, n);
	bool *seen;
	SNAP_ALLOC(c, seen, ix->n);
	size_t n_extra = 0;
	for (const cJSON *it = j->child; it; it = it->next) {
		size_t saved = path_key(c, it->string);
		size_t at = pod_find(ix, it->string);
		enum ps_err err;
		if (at == SIZE_MAX) {
			err = parse_sample(c, it, def, &extra[n_extra++]);
		} else if (seen[at]) {
			err = fail(c, PS_EPARSE, "pod given twice");
		} else {
			seen[at] = true;
			err = parse_sample(c, it, def, &samples[at]);
		}
		path_pop(c, saved);
		if (err)
			return err;
	}
	r->pod_samples = samples;
	r->extra_samples = extra;
	r->n_extra = n_extra;
	return PS_OK;
}

static enum ps_err parse_values(struct ctx *c, const cJSON *j, struct eng_reading *r)
{
	if (!cJSON_IsArray(j))
		return want(c, j, "an array of quantities");
	size_t n = (size_t)cJSON_GetArraySize(j);
	int64_t *v;
	SNAP_ALLOC(c, v, n);
	size_t i = 0;
	for (const cJSON *it = j->child; it; it = it->next, i++) {
		size_t saved = path_index(c, i);
		enum ps_err err = val_quantity(c, it, &v[i]);
		path_pop(c, saved);
		if (err)
			return err;
	}
	r->values_milli = v;
	r->n_values = n;
	return PS_OK;
}

/* "forecast": {"value": quantity, "use": "scale" | "observe" | "fallback"} */
static enum ps_err parse_forecast(struct ctx *c, const cJSON *j, struct eng_reading *r)
{
	if (!cJSON_IsObject(j))
		return want(c, j, "an object");
	enum ps_err err = CHECK_KEYS(c, j, "value", "use");
	if (err)
		return err;
	size_t use = 0;
	BY_KEY(val_quantity, c, j, "value", true, NULL, &r->forecast_milli);
	BY_KEY(val_enum, c, j, "use", false, NULL,
	       (const char *const[]){"scale", "observe", "fallback"}, 3, &use);
	static const enum eng_forecast_use uses[] = {ENG_FORECAST_ACT, ENG_FORECAST_OBSERVE,
	                                             ENG_FORECAST_FALLBACK};
	r->forecast_use = uses[use];
	return PS_OK;
}

static enum ps_err parse_reading(struct ctx *c, const cJSON *j, const struct eng_metric_spec *m,
				 const struct pod_index *ix, struct eng_reading *r)
{
	if (!cJSON_IsObject(j))
		return want(c, j, "an object");
	bool per_pod = m->source == ENG_SRC_RESOURCE || m->source == ENG_SRC_CONTAINER_RESOURCE ||
		       m->source == ENG_SRC_PODS;
	const char *src = eng_source_name(m->source);
	enum ps_err err;
	if (field(j, "error")) {
		err = CHECK_KEYS(c, j, "error");
		if (err)
			return fail(c, PS_EPARSE, "a failed reading holds only \"error\"");
		BY_KEY(val_string, c, j, "error", true, NULL, &r->error);
		r->failed = true;
		return PS_OK;
	}
	if (per_pod) {
		err = CHECK_KEYS(c, j, "pods", "timestamp", "window", "forecast", "error");
		if (err)
			return err;
		struct sample_defaults def = {c->s->obs.now_ms, SNAP_DEFAULT_WINDOW_MS};
		BY_KEY(val_time, c, j, "timestamp", false, NULL, &def.timestamp_ms);
		BY_KEY(val_duration, c, j, "window", false, NULL, &def.window_ms);
		if (!field(j, "pods"))
			return fail(c, PS_EPARSE,
				    "a %s metric needs \"pods\" (a value per pod) or \"error\"", src);
		BY_KEY(parse_pod_samples, c, j, "pods", true, NULL, ix, &def, r);
	} else if (m->source == ENG_SRC_OBJECT) {
		err = CHECK_KEYS(c, j, "value", "forecast", "error");
		if (err)
			return err;
		if (!field(j, "value"))
			return fail(c, PS_EPARSE, "an Object metric needs \"value\" or \"error\"");
		BY_KEY(val_quantity, c, j, "value", true, NULL, &r->value_milli);
	} else {
		err = CHECK_KEYS(c, j, "values", "forecast", "error");
		if (err)
			return err;
		if (!field(j, "values"))
			return fail(c, PS_EPARSE,
				    "an External metric needs \"values\" (every matching series) "
				    "or \"error\"");
		BY_KEY(parse_values, c, j, "values", true, NULL, r);
	}
	BY_KEY(parse_forecast, c, j, "forecast", false, NULL, r);
	return PS_OK;
}

static enum ps_err parse_readings(struct ctx *c, const cJSON *j, const struct pod_index *ix)
{
	const struct eng_spec *spec = &c->s->spec;
	if (!cJSON_IsArray(j))
		return want(c, j, "an array");
	size_t n = (size_t)cJSON_GetArraySize(j);
	if (n != spec->n_metrics)
		return fail(c, PS_EPARSE, "%zu readings for %zu metrics (one per spec.metrics entry, "
					  "in order)",
			    n, spec->n_metrics);
	struct eng_reading *r;
	SNAP_ALLOC(c, r, n);
	size_t i = 0;
	for (const cJSON *it = j->child; it; it = it->next, i++) {
		size_t saved = path_index(c, i);
		enum ps_err err = parse_reading(c, it, &spec->metrics[i], ix, &r[i]);
		path_pop(c, saved);
		if (err)
			return err;
	}
	c->s->obs.readings = r;
	return PS_OK;
}

/* ---- history and conditions ---- */

static enum ps_err parse_rec(struct ctx *c, const cJSON *j, struct eng_rec *rec)
{
	if (!cJSON_IsObject(j))
		return want(c, j, "an object");
	enum ps_err err = CHECK_KEYS(c, j, "replicas", "time");
	if (err)
		return err;
	BY_KEY(val_int32, c, j, "replicas", true, NULL, 0, INT32_MAX, &rec->replicas);
	BY_KEY(val_time, c, j, "time", true, NULL, &rec->ts_ms);
	return PS_OK;
}

static enum ps_err parse_event(struct ctx *c, const cJSON *j, struct eng_event *ev)
{
	if (!cJSON_IsObject(j))
		return want(c, j, "an object");
	enum ps_err err = CHECK_KEYS(c, j, "replicaChange", "time", "outdated");
	if (err)
		return err;
	BY_KEY(val_int32, c, j, "replicaChange", true, NULL, 0, INT32_MAX, &ev->replica_change);
	BY_KEY(val_time, c, j, "time", true, NULL, &ev->ts_ms);
	BY_KEY(val_bool, c, j, "outdated", false, NULL, &ev->outdated);
	return PS_OK;
}

static enum ps_err parse_recs(struct ctx *c, const cJSON *j, struct eng_history *h)
{
	size_t i = 0;
	for (const cJSON *it = j->child; it; it = it->next, i++) {
		size_t saved = path_index(c, i);
		enum ps_err err = parse_rec(c, it, &h->recs[i]);
		path_pop(c, saved);
		if (err)
			return err;
	}
	h->n_recs = i;
	h->recs_set = true;
	return PS_OK;
}

static enum ps_err parse_events(struct ctx *c, const cJSON *j, struct eng_event_list *l)
{
	size_t i = 0;
	for (const cJSON *it = j->child; it; it = it->next, i++) {
		size_t saved = path_index(c, i);
		enum ps_err err = parse_event(c, it, &l->v[i]);
		path_pop(c, saved);
		if (err)
			return err;
	}
	l->n = i;
	return PS_OK;
}

static enum ps_err array_or_absent(struct ctx *c, const cJSON *obj, const char *key,
				   size_t *n)
{
	const cJSON *j = field(obj, key);
	*n = 0;
	if (!j)
		return PS_OK;
	if (!cJSON_IsArray(j)) {
		size_t saved = path_key(c, key);
		enum ps_err err = want(c, j, "an array");
		path_pop(c, saved);
		return err;
	}
	*n = (size_t)cJSON_GetArraySize(j);
	return PS_OK;
}

static enum ps_err parse_history(struct ctx *c, const cJSON *j, struct eng_history *h)
{
	size_t n_recs = 0, n_up = 0, n_down = 0;
	if (j) {
		if (!cJSON_IsObject(j))
			return want(c, j, "an object");
		enum ps_err err = CHECK_KEYS(c, j, "recommendations", "scaleUpEvents",
					     "scaleDownEvents");
		if (!err)
			err = array_or_absent(c, j, "recommendations", &n_recs);
		if (!err)
			err = array_or_absent(c, j, "scaleUpEvents", &n_up);
		if (!err)
			err = array_or_absent(c, j, "scaleDownEvents", &n_down);
		if (err)
			return err;
	}
	size_t cap = n_recs;
	if (n_up > cap)
		cap = n_up;
	if (n_down > cap)
		cap = n_down;
	if (eng_history_init(h, cap + SNAP_HISTORY_SLACK) != PS_OK)
		return fail(c, PS_ENOMEM, "out of memory");
	if (!j)
		return PS_OK;
	BY_KEY(parse_recs, c, j, "recommendations", false, NULL, h);
	BY_KEY(parse_events, c, j, "scaleUpEvents", false, NULL, &h->up);
	BY_KEY(parse_events, c, j, "scaleDownEvents", false, NULL, &h->down);
	return PS_OK;
}

static enum ps_err parse_condition(struct ctx *c, const cJSON *j, struct eng_condition *cond)
{
	if (!cJSON_IsObject(j))
		return want(c, j, "an object");
	enum ps_err err = CHECK_KEYS(c, j, "type", "status", "reason", "message",
				     "lastTransitionTime");
	if (err)
		return err;
	size_t type = 0, status = 0;
	BY_KEY(val_enum, c, j, "type", true, NULL,
	       (const char *const[]){"AbleToScale", "ScalingActive", "ScalingLimited",
				     "ScaledToZero"},
	       4, &type);
	static const enum eng_cond_type types[] = {ENG_COND_ABLE_TO_SCALE, ENG_COND_SCALING_ACTIVE,
						   ENG_COND_SCALING_LIMITED,
						   ENG_COND_SCALED_TO_ZERO};
	cond->type = types[type];
	BY_KEY(val_enum, c, j, "status", true, NULL, (const char *const[]){"True", "False"}, 2,
	       &status);
	cond->status = status == 0;
	const char *reason = "";
	BY_KEY(val_string, c, j, "reason", false, NULL, &reason);
	if (strlen(reason) >= sizeof(cond->reason))
		return fail(c, PS_EPARSE, "reason: longer than %zu characters",
			    sizeof(cond->reason) - 1);
	snprintf(cond->reason, sizeof(cond->reason), "%s", reason);
	const char *msg = "";
	BY_KEY(val_string, c, j, "message", false, NULL, &msg);
	snprintf(cond->message, sizeof(cond->message), "%s", msg);
	int64_t unused;
	BY_KEY(val_time, c, j, "lastTransitionTime", false, NULL, &unused);
	return PS_OK;
}

static enum ps_err parse_conditions(struct ctx *c, const cJSON *j, struct eng_observation *obs)
{
	if (!cJSON_IsArray(j))
		return want(c, j, "an array");
	size_t n = (size_t)cJSON_GetArraySize(j);
	struct eng_condition *conds;
	SNAP_ALLOC(c, conds, n);
	size_t i = 0;
	for (const cJSON *it = j->child; it; it = it->next, i++) {
		size_t saved = path_index(c, i);
		enum ps_err err = parse_condition(c, it, &conds[i]);
		for (size_t k = 0; !err && k < i; k++)
			if (conds[k].type == conds[i].type)
				err = fail(c, PS_EPARSE, "a second %s condition",
					   eng_cond_type_name(conds[i].type));
		path_pop(c, saved);
		if (err)
			return err;
	}
	obs->conditions = conds;
	obs->n_conditions = n;
	return PS_OK;
}

/* ---- the document ---- */

/* "<source>:<line>:<col>: <what> near '...'" for a syntax error at byte <off>. */
static enum ps_err syntax_error(struct ctx *c, const char *text, size_t len, size_t off,
				const char *what)
{
	return ps_text_syntax_error(c->diag, c->source, text, len, off, what);
}

static bool all_space(const char *p, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (p[i] != ' ' && p[i] != '\t' && p[i] != '\n' && p[i] != '\r')
			return false;
	return true;
}

static enum ps_err parse_document(struct ctx *c, const cJSON *root)
{
	struct snapshot *s = c->s;
	if (!cJSON_IsObject(root))
		return fail(c, PS_EPARSE, "the snapshot must be a JSON object, got %s",
			    type_name(root));
	enum ps_err err = CHECK_KEYS(c, root, "description", "now", "controller", "spec", "scale",
				     "pods", "readings", "history", "conditions");
	if (err)
		return err;
	const char *unused;
	BY_KEY(val_string, c, root, "description", false, NULL, &unused);
	BY_KEY(val_time, c, root, "now", true, NULL, &s->obs.now_ms);
	eng_params_default(&s->params);
	BY_KEY(parse_controller, c, root, "controller", false, NULL, &s->params);
	BY_KEY(parse_spec, c, root, "spec", true, NULL, &s->spec);
	BY_KEY(parse_scale, c, root, "scale", true, NULL, &s->obs);
	struct pod_index ix = {0};
	BY_KEY(parse_pods, c, root, "pods", false, NULL, &ix);
	if (!field(root, "readings"))
		return fail(c, PS_EPARSE, "readings: required field missing (one reading per "
					  "spec.metrics entry)");
	BY_KEY(parse_readings, c, root, "readings", true, NULL, &ix);
	const cJSON *hist = field(root, "history");
	size_t saved = hist ? path_key(c, "history") : c->plen;
	err = parse_history(c, hist, &s->history);
	path_pop(c, saved);
	if (err)
		return err;
	BY_KEY(parse_conditions, c, root, "conditions", false, NULL, &s->obs);
	return PS_OK;
}

/* cJSON returns NULL both for bad JSON and for a failed allocation: the noted allocator
 * tells them apart. */

enum ps_err snapshot_parse(const char *text, size_t len, const char *source,
			   struct snapshot *out, struct ps_diag *diag)
{
	static cJSON_Hooks hooks = {ps_malloc_noted, ps_free};
	cJSON_InitHooks(&hooks);
	ps_alloc_note_reset();
	memset(out, 0, sizeof(*out));
	struct ctx c = {.s = out, .diag = diag, .source = source ? source : "snapshot"};

	if (all_space(text, len))
		return ps_diag_set(diag, PS_EPARSE, "%s: empty input (expected a JSON object)",
				   c.source);
	const char *end = NULL;
	out->json = cJSON_ParseWithLengthOpts(text, len, &end, false);
	if (!out->json) {
		if (ps_alloc_note_failed())
			return ps_diag_set(diag, PS_ENOMEM, "%s: out of memory", c.source);
		size_t off = end && end >= text ? (size_t)(end - text) : 0;
		return syntax_error(&c, text, len, off, "invalid JSON");
	}
	size_t off = end && end >= text ? (size_t)(end - text) : len;
	if (off < len && !all_space(text + off, len - off)) {
		while (off < len && (text[off] == ' ' || text[off] == '\t' || text[off] == '\n' ||
				     text[off] == '\r'))
			off++;
		enum ps_err err = syntax_error(&c, text, len, off,
					       "unexpected data after the JSON object");
		snapshot_release(out);
		return err;
	}
	enum ps_err err = parse_document(&c, out->json);
	if (err) {
		snapshot_release(out);
		return err;
	}
	return PS_OK;
}

void snapshot_release(struct snapshot *s)
{
	if (!s)
		return;
	for (size_t i = 0; i < s->n_owned; i++)
		ps_free(s->owned[i]);
	ps_free(s->owned);
	eng_history_release(&s->history);
	cJSON_Delete(s->json);
	memset(s, 0, sizeof(*s));
}
