/* record.c -- writes a decision record as JSON (stable keys, 2-space indent) or as a table. */
#include "record.h"

#include <math.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "engine.h"
#include "ps_alloc.h"
#include "ps_parse.h"

/* ---- a small JSON writer: keys in the order written, 2-space indent ---- */

#define JW_MAX_DEPTH 8

struct jw {
	FILE *f;
	int depth;
	bool first[JW_MAX_DEPTH]; /* nothing written yet at this level */
};

static void jw_indent(struct jw *w)
{
	fputc('\n', w->f);
	for (int i = 0; i < w->depth; i++)
		fputs("  ", w->f);
}

static void jw_string_body(FILE *f, const char *s)
{
	fputc('"', f);
	for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
		switch (*p) {
		case '"': fputs("\\\"", f); break;
		case '\\': fputs("\\\\", f); break;
		case '\n': fputs("\\n", f); break;
		case '\r': fputs("\\r", f); break;
		case '\t': fputs("\\t", f); break;
		case '\b': fputs("\\b", f); break;
		case '\f': fputs("\\f", f); break;
		default:
			if (*p < 0x20)
				fprintf(f, "\\u%04x", *p);
			else
				fputc(*p, f);
		}
	}
	fputc('"', f);
}

/* Starts the next member: a separator, a new line, and "key": (key NULL inside arrays). */
static void jw_next(struct jw *w, const char *key)
{
	if (w->depth > 0) {
		if (!w->first[w->depth])
			fputc(',', w->f);
		w->first[w->depth] = false;
		jw_indent(w);
	}
	if (key) {
		jw_string_body(w->f, key);
		fputs(": ", w->f);
	}
}

static void jw_open(struct jw *w, const char *key, char brace)
{
	jw_next(w, key);
	fputc(brace, w->f);
	PS_ASSERT(w->depth + 1 < JW_MAX_DEPTH);
	w->depth++;
	w->first[w->depth] = true;
}

static void jw_close(struct jw *w, char brace)
{
	bool empty = w->first[w->depth];
	w->depth--;
	if (!empty)
		jw_indent(w);
	fputc(brace, w->f);
}

static void jw_str(struct jw *w, const char *key, const char *v)
{
	jw_next(w, key);
	if (v)
		jw_string_body(w->f, v);
	else
		fputs("null", w->f);
}

static void jw_int(struct jw *w, const char *key, int64_t v)
{
	jw_next(w, key);
	fprintf(w->f, "%lld", (long long)v);
}

static void jw_bool(struct jw *w, const char *key, bool v)
{
	jw_next(w, key);
	fputs(v ? "true" : "false", w->f);
}

static void jw_null(struct jw *w, const char *key)
{
	jw_next(w, key);
	fputs("null", w->f);
}

/* The shortest decimal form that reads back as the same double. */
static void format_double(double v, char *buf, size_t size)
{
	for (int prec = 1; prec <= 17; prec++) {
		snprintf(buf, size, "%.*g", prec, v);
		if (strtod(buf, NULL) == v)
			return;
	}
}

static void jw_double(struct jw *w, const char *key, double v)
{
	jw_next(w, key);
	if (!isfinite(v)) {
		fputs("null", w->f);
		return;
	}
	char buf[40];
	format_double(v, buf, sizeof(buf));
	fputs(buf, w->f);
}

static void jw_quantity(struct jw *w, const char *key, int64_t milli)
{
	char buf[48];
	jw_str(w, key, ps_format_quantity_milli(milli, buf, sizeof(buf)));
}

/* ---- record fields shared by both forms ---- */

/* "cpu", "app/cpu" (ContainerResource) or the metric name. */
static void metric_name(const struct eng_metric_spec *m, char *buf, size_t size)
{
	if (m->source == ENG_SRC_CONTAINER_RESOURCE)
		snprintf(buf, size, "%s/%s", m->container, m->resource);
	else if (m->source == ENG_SRC_RESOURCE)
		snprintf(buf, size, "%s", m->resource);
	else
		snprintf(buf, size, "%s", m->name);
}

static const struct eng_condition *find_condition(const struct eng_decision *d,
						  enum eng_cond_type t)
{
	for (size_t i = 0; i < d->n_conditions; i++)
		if (d->conditions[i].type == t)
			return &d->conditions[i];
	return NULL;
}

/* The condition whose reason says more about <rule>, or NULL. */
static const struct eng_condition *rule_condition(const struct eng_decision *d)
{
	switch (d->rule) {
	case ENG_RULE_STABILIZATION:
		return find_condition(d, ENG_COND_ABLE_TO_SCALE);
	case ENG_RULE_RATE_LIMIT:
	case ENG_RULE_MIN_REPLICAS:
	case ENG_RULE_MAX_REPLICAS:
	case ENG_RULE_ABOVE_MAX:
	case ENG_RULE_BELOW_MIN:
		return find_condition(d, ENG_COND_SCALING_LIMITED);
	case ENG_RULE_SCALING_DISABLED:
	case ENG_RULE_METRICS_FAILED:
	case ENG_RULE_INVALID_SELECTOR:
		return find_condition(d, ENG_COND_SCALING_ACTIVE);
	case ENG_RULE_METRICS:
	case ENG_RULE_TOLERANCE:
	case ENG_RULE_FORECAST:
		return NULL;
	}
	return NULL;
}

/* Rows exist only when the metrics were evaluated; row i belongs to spec metric i. */
static size_t row_count(const struct eng_spec *spec, const struct eng_decision *d)
{
	return d->n_rows < spec->n_metrics ? d->n_rows : spec->n_metrics;
}

static bool has_metric_replicas(const struct eng_decision *d)
{
	return d->computed && d->metric_replicas >= 0;
}

/* ---- JSON ---- */

static void json_target(struct jw *w, const struct eng_target *t)
{
	jw_open(w, "target", '{');
	jw_str(w, "type", eng_target_type_name(t->type));
	if (t->has_value)
		jw_quantity(w, "value", t->value_milli);
	if (t->has_average_value)
		jw_quantity(w, "averageValue", t->average_value_milli);
	if (t->has_average_utilization)
		jw_int(w, "averageUtilization", t->average_utilization);
	jw_close(w, '}');
}

static void json_row(struct jw *w, const struct eng_metric_spec *m, const struct eng_metric_row *r)
{
	char name[2 * ENG_NAME_MAX + 2];
	metric_name(m, name, sizeof(name));
	jw_open(w, NULL, '{');
	jw_str(w, "name", name);
	jw_str(w, "type", eng_source_name(m->source));
	jw_str(w, "label", r->label);
	json_target(w, &m->target);
	jw_bool(w, "ok", r->ok);
	if (r->ok) {
		jw_open(w, "current", '{');
		if (m->target.type == ENG_TARGET_VALUE)
			jw_quantity(w, "value", r->current_milli);
		else
			jw_quantity(w, "averageValue", r->current_milli);
		if (r->has_utilization)
			jw_int(w, "averageUtilization", r->utilization);
		jw_close(w, '}');
		jw_double(w, "ratio", r->ratio);
		jw_int(w, "proposal", r->proposal);
		jw_null(w, "error");
		jw_null(w, "failureReason");
	} else {
		jw_null(w, "current");
		jw_null(w, "ratio");
		jw_null(w, "proposal");
		jw_str(w, "error", r->error);
		jw_str(w, "failureReason", r->failure_reason);
	}
	if (r->forecast_use == ENG_FORECAST_NONE) {
		jw_null(w, "forecast");
	} else {
		jw_open(w, "forecast", '{');
		jw_str(w, "use", eng_forecast_use_name(r->forecast_use));
		jw_quantity(w, "value", r->forecast_milli);
		if (r->has_forecast_proposal)
			jw_int(w, "proposal", r->forecast_proposal);
		else
			jw_null(w, "proposal");
		jw_close(w, '}');
	}
	jw_open(w, "pods", '{');
	jw_int(w, "ready", r->ready_pods);
	jw_int(w, "unready", r->unready_pods);
	jw_int(w, "missing", r->missing_pods);
	jw_int(w, "ignored", r->ignored_pods);
	jw_close(w, '}');
	jw_close(w, '}');
}

enum ps_err record_write_json(FILE *out, const struct eng_spec *spec, const struct eng_decision *d)
{
	struct jw w = {.f = out};
	jw_open(&w, NULL, '{');
	jw_int(&w, "currentReplicas", d->current_replicas);
	jw_int(&w, "desiredReplicas", d->desired_replicas);
	jw_bool(&w, "write", d->write);
	jw_str(&w, "rule", eng_rule_name(d->rule));
	jw_str(&w, "reason", d->reason);
	if (d->error)
		jw_str(&w, "error", d->error_msg[0] ? d->error_msg : "a metric failed");
	else
		jw_null(&w, "error");
	jw_bool(&w, "metricsComputed", d->computed);
	if (has_metric_replicas(d)) {
		jw_int(&w, "metricReplicas", d->metric_replicas);
		jw_int(&w, "stabilizedReplicas", d->stabilized_replicas);
	} else {
		jw_null(&w, "metricReplicas");
		jw_null(&w, "stabilizedReplicas");
	}
	if (has_metric_replicas(d) && d->forecast_replicas >= 0)
		jw_int(&w, "forecastReplicas", d->forecast_replicas);
	else
		jw_null(&w, "forecastReplicas");
	jw_open(&w, "conditions", '[');
	for (size_t i = 0; i < d->n_conditions; i++) {
		const struct eng_condition *c = &d->conditions[i];
		jw_open(&w, NULL, '{');
		jw_str(&w, "type", eng_cond_type_name(c->type));
		jw_str(&w, "status", c->status ? "True" : "False");
		jw_str(&w, "reason", c->reason);
		jw_str(&w, "message", c->message);
		jw_close(&w, '}');
	}
	jw_close(&w, ']');
	jw_open(&w, "metrics", '[');
	for (size_t i = 0; i < row_count(spec, d); i++)
		json_row(&w, &spec->metrics[i], &d->rows[i]);
	jw_close(&w, ']');
	jw_close(&w, '}');
	fputc('\n', out);
	return ferror(out) ? PS_EIO : PS_OK;
}

/* ---- table ---- */

#define TBL_MAX_COLS 8
#define TBL_CELL 160

struct table {
	size_t n_cols, n_rows;
	size_t width[TBL_MAX_COLS];
	/* row 0 is the header */
	char (*cells)[TBL_MAX_COLS][TBL_CELL];
};

PS_PRINTF(4, 5)
static void cell(struct table *t, size_t row, size_t col, const char *fmt, ...)
{
	char *dst = t->cells[row][col];
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(dst, TBL_CELL, fmt, ap);
	va_end(ap);
	if (n < 0)
		dst[0] = '\0';
	size_t len = strlen(dst);
	if (len > t->width[col])
		t->width[col] = len;
}

/* Prints the table; the last column is not padded. */
static void table_print(FILE *out, const struct table *t)
{
	for (size_t r = 0; r < t->n_rows; r++) {
		for (size_t c = 0; c < t->n_cols; c++) {
			if (c + 1 == t->n_cols)
				fprintf(out, "%s\n", t->cells[r][c]);
			else
				fprintf(out, "%-*s  ", (int)t->width[c], t->cells[r][c]);
		}
	}
}

static void target_text(const struct eng_target *t, char *buf, size_t size)
{
	char q[48];
	switch (t->type) {
	case ENG_TARGET_UTILIZATION:
		snprintf(buf, size, "%d%%", (int)t->average_utilization);
		return;
	case ENG_TARGET_AVERAGE_VALUE:
		snprintf(buf, size, "%s (avg)",
			 ps_format_quantity_milli(t->average_value_milli, q, sizeof(q)));
		return;
	case ENG_TARGET_VALUE:
		snprintf(buf, size, "%s", ps_format_quantity_milli(t->value_milli, q, sizeof(q)));
		return;
	case ENG_TARGET_UNSET:
		break;
	}
	snprintf(buf, size, "-");
}

static void current_text(const struct eng_metric_spec *m, const struct eng_metric_row *r,
			 char *buf, size_t size)
{
	char q[48];
	ps_format_quantity_milli(r->current_milli, q, sizeof(q));
	if (r->has_utilization)
		snprintf(buf, size, "%d%% (%s)", (int)r->utilization, q);
	else if (m->target.type == ENG_TARGET_VALUE)
		snprintf(buf, size, "%s", q);
	else
		snprintf(buf, size, "%s (avg)", q);
}

static bool per_pod(const struct eng_metric_spec *m)
{
	return m->source == ENG_SRC_RESOURCE || m->source == ENG_SRC_CONTAINER_RESOURCE ||
	       m->source == ENG_SRC_PODS;
}

/* "-", or "<value> -> <proposal> (<use>)" for a metric with a forecast. */
static void forecast_text(const struct eng_metric_row *r, char *buf, size_t size)
{
	if (r->forecast_use == ENG_FORECAST_NONE) {
		snprintf(buf, size, "-");
		return;
	}
	char q[32];
	ps_format_quantity_milli(r->forecast_milli, q, sizeof(q));
	if (r->has_forecast_proposal)
		snprintf(buf, size, "%s -> %d (%s)", q, (int)r->forecast_proposal,
		         eng_forecast_use_name(r->forecast_use));
	else
		snprintf(buf, size, "%s (%s)", q, eng_forecast_use_name(r->forecast_use));
}

static enum ps_err write_metrics(FILE *out, const struct eng_spec *spec, const struct eng_decision *d)
{
	size_t n = row_count(spec, d);
	struct table t = {.n_cols = 8, .n_rows = n + 1};
	t.cells = ps_calloc(n + 1, sizeof(*t.cells));
	if (!t.cells)
		return PS_ENOMEM;
	static const char *const head[] = {"METRIC", "TYPE",     "TARGET",
					   "CURRENT", "RATIO",   "PROPOSAL",
					   "FORECAST", "PODS ready/unready/missing/ignored"};
	for (size_t c = 0; c < t.n_cols; c++)
		cell(&t, 0, c, "%s", head[c]);
	bool any_failed = false;
	for (size_t i = 0; i < n; i++) {
		const struct eng_metric_spec *m = &spec->metrics[i];
		const struct eng_metric_row *r = &d->rows[i];
		char buf[TBL_CELL];
		metric_name(m, buf, sizeof(buf));
		cell(&t, i + 1, 0, "%s", buf);
		cell(&t, i + 1, 1, "%s", eng_source_name(m->source));
		target_text(&m->target, buf, sizeof(buf));
		cell(&t, i + 1, 2, "%s", buf);
		if (r->ok) {
			current_text(m, r, buf, sizeof(buf));
			cell(&t, i + 1, 3, "%s", buf);
			cell(&t, i + 1, 4, "%.3g", r->ratio);
			cell(&t, i + 1, 5, "%d", (int)r->proposal);
		} else {
			any_failed = true;
			cell(&t, i + 1, 3, "-");
			cell(&t, i + 1, 4, "-");
			cell(&t, i + 1, 5, "failed");
		}
		forecast_text(r, buf, sizeof(buf));
		cell(&t, i + 1, 6, "%s", buf);
		if (per_pod(m))
			cell(&t, i + 1, 7, "%d/%d/%d/%d", (int)r->ready_pods, (int)r->unready_pods,
			     (int)r->missing_pods, (int)r->ignored_pods);
		else
			cell(&t, i + 1, 7, "-");
	}
	fputc('\n', out);
	table_print(out, &t);
	ps_free(t.cells);
	if (!any_failed)
		return PS_OK;
	fputs("\nMETRIC ERRORS\n", out);
	for (size_t i = 0; i < n; i++) {
		const struct eng_metric_row *r = &d->rows[i];
		if (r->ok)
			continue;
		char name[2 * ENG_NAME_MAX + 2];
		metric_name(&spec->metrics[i], name, sizeof(name));
		fprintf(out, "%s: %s: %s\n", name, r->failure_reason ? r->failure_reason : "Failed",
			r->error);
	}
	return PS_OK;
}

static void write_conditions(FILE *out, const struct eng_decision *d)
{
	struct table t = {.n_cols = 4, .n_rows = d->n_conditions + 1};
	char cells[ENG_MAX_CONDITIONS + 1][TBL_MAX_COLS][TBL_CELL];
	t.cells = cells;
	if (t.n_rows > ENG_MAX_CONDITIONS + 1)
		t.n_rows = ENG_MAX_CONDITIONS + 1;
	cell(&t, 0, 0, "CONDITION");
	cell(&t, 0, 1, "STATUS");
	cell(&t, 0, 2, "REASON");
	cell(&t, 0, 3, "MESSAGE");
	for (size_t i = 1; i < t.n_rows; i++) {
		const struct eng_condition *c = &d->conditions[i - 1];
		cell(&t, i, 0, "%s", eng_cond_type_name(c->type));
		cell(&t, i, 1, "%s", c->status ? "True" : "False");
		cell(&t, i, 2, "%s", *c->reason ? c->reason : "-");
		cell(&t, i, 3, "%s", c->message);
	}
	fputc('\n', out);
	table_print(out, &t);
}

enum ps_err record_write_table(FILE *out, const struct eng_spec *spec,
			       const struct eng_decision *d)
{
	const char *dir = d->desired_replicas > d->current_replicas   ? "scale up"
			  : d->desired_replicas < d->current_replicas ? "scale down"
								      : "no change";
	fprintf(out, "TARGET REPLICAS  current %d \u2192 desired %d (%s)\n",
		(int)d->current_replicas, (int)d->desired_replicas, dir);
	fprintf(out, "REASON           %s\n", d->reason[0] ? d->reason : "-");
	const struct eng_condition *rc = rule_condition(d);
	if (rc && *rc->reason)
		fprintf(out, "BOUND BY         %s (%s)\n", eng_rule_name(d->rule), rc->reason);
	else
		fprintf(out, "BOUND BY         %s\n", eng_rule_name(d->rule));
	if (has_metric_replicas(d) && d->forecast_replicas >= 0)
		fprintf(out,
			"STEPS            metrics %d \u2192 stabilized %d \u2192 forecast %d \u2192 "
			"desired %d\n",
			(int)d->metric_replicas, (int)d->stabilized_replicas,
			(int)d->forecast_replicas, (int)d->desired_replicas);
	else if (has_metric_replicas(d))
		fprintf(out, "STEPS            metrics %d \u2192 stabilized %d \u2192 desired %d\n",
			(int)d->metric_replicas, (int)d->stabilized_replicas,
			(int)d->desired_replicas);
	else
		fprintf(out, "STEPS            %s\n",
			d->computed ? "no metric gave a usable proposal" : "metrics not evaluated");
	if (d->error)
		fprintf(out, "ERROR            %s\n", d->error_msg[0] ? d->error_msg : "a metric failed");
	if (row_count(spec, d) > 0) {
		enum ps_err err = write_metrics(out, spec, d);
		if (err)
			return err;
	}
	if (d->n_conditions > 0)
		write_conditions(out, d);
	return ferror(out) ? PS_EIO : PS_OK;
}
