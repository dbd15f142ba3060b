/* tick_table.c -- the `prescale run --once` table: one block per target, one line per metric,
 * cells taken from the decision records so the table and the records always agree. */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "engine.h"
#include "ps_alloc.h"
#include "ps_parse.h"
#include "tick.h"

/* <milli> as a plain decimal number, exact, without trailing zeros: "466.333", "100",
 * "-0.5". */
static const char *q(int64_t milli, char *buf, size_t size)
{
	uint64_t a = milli < 0 ? (uint64_t)0 - (uint64_t)milli : (uint64_t)milli;
	unsigned frac = (unsigned)(a % 1000);
	if (frac == 0) {
		snprintf(buf, size, "%s%" PRIu64, milli < 0 ? "-" : "", a / 1000);
		return buf;
	}
	char f[4];
	snprintf(f, sizeof(f), "%03u", frac);
	for (int i = 2; i > 0 && f[i] == '0'; i--)
		f[i] = '\0';
	snprintf(buf, size, "%s%" PRIu64 ".%s", milli < 0 ? "-" : "", a / 1000, f);
	return buf;
}

static const struct eng_metric_row *row_of(const struct tick_record *r,
                                           const struct tick_metric_rec *m)
{
	if (!r->have_decision || !r->d.computed || m->row < 0 || (size_t)m->row >= r->d.n_rows)
		return NULL;
	return &r->d.rows[m->row];
}

/* The target's half of a VALUE/TARGET cell. */
static void target_text(const struct tick_metric_rec *m, char *buf, size_t size)
{
	char a[48];
	const struct eng_target *t = &m->target;
	if (t->type == ENG_TARGET_UTILIZATION)
		snprintf(buf, size, "%d%%", (int)t->average_utilization);
	else if (t->type == ENG_TARGET_AVERAGE_VALUE)
		snprintf(buf, size, "%s (avg)", q(t->average_value_milli, a, sizeof(a)));
	else
		snprintf(buf, size, "%s", q(t->value_milli, a, sizeof(a)));
}

void tick_format_value_target(const struct tick_record *r, const struct tick_metric_rec *m,
                              char *buf, size_t size)
{
	char v[64] = "<unknown>", tg[64], a[48];
	const struct eng_metric_row *row = row_of(r, m);
	target_text(m, tg, sizeof(tg));
	/* The target's unit says "(avg)" already; the value follows it. */
	char *avg = strstr(tg, " (avg)");
	if (avg)
		*avg = '\0';
	if (row && row->ok) {
		if (m->target.type == ENG_TARGET_UTILIZATION)
			snprintf(v, sizeof(v), "%d%%", (int)row->utilization);
		else
			snprintf(v, sizeof(v), "%s", q(row->current_milli, a, sizeof(a)));
	} else if (m->has_value && m->target.type != ENG_TARGET_UTILIZATION) {
		/* Not evaluated by the engine (at zero, scaling disabled): the query's value. */
		snprintf(v, sizeof(v), "%s%s", q(tick_milli(m->value), a, sizeof(a)),
		         m->per_pod                      ? " mean"
		         : m->source == ENG_SRC_EXTERNAL ? " sum"
		                                         : "");
	}
	char suffix[48] = "";
	char d[40];
	switch (m->state) {
	case TICK_M_OK:
	case TICK_M_FAILED:
		break;
	case TICK_M_STALE:
		snprintf(suffix, sizeof(suffix), " (stale %s)",
		         ps_format_duration_ms(m->stale_age_ms, d, sizeof(d)));
		break;
	case TICK_M_IGNORED:
		snprintf(suffix, sizeof(suffix), " (ignored)");
		break;
	case TICK_M_IDLE:
		snprintf(suffix, sizeof(suffix), " (no pods)");
		break;
	}
	snprintf(buf, size, "%s/%s%s%s", v, tg, avg ? " (avg)" : "", suffix);
}

void tick_format_forecast(const struct tick_record *r, const struct tick_metric_rec *m, char *buf,
                          size_t size)
{
	if (!m->forecast_on) {
		snprintf(buf, size, "-");
		return;
	}
	if (!m->has_forecast) {
		if (strncmp(m->forecast_note, "warming up", 10) == 0)
			snprintf(buf, size, "warming up");
		else if (strcmp(m->forecast_note, "no value this tick") == 0)
			snprintf(buf, size, "-");
		else
			snprintf(buf, size, "unavailable");
		return;
	}
	char a[48], p[24] = "";
	const struct eng_metric_row *row = row_of(r, m);
	if (row && row->ok && row->has_forecast_proposal)
		snprintf(p, sizeof(p), " -> %d", (int)row->forecast_proposal);
	const char *mode = m->forecast_use == ENG_FORECAST_OBSERVE    ? " (observe)"
	                   : m->forecast_use == ENG_FORECAST_FALLBACK ? " (not used)"
	                                                              : "";
	snprintf(buf, size, "%s%s%s", q(tick_milli(m->forecast), a, sizeof(a)), p, mode);
}

static const struct eng_condition *cond(const struct eng_decision *d, enum eng_cond_type t)
{
	for (size_t i = 0; i < d->n_conditions; i++)
		if (d->conditions[i].type == t)
			return &d->conditions[i];
	return NULL;
}

/* Why the engine settled where it did, in words. */
static void engine_why(const struct tick_record *r, char *buf, size_t size)
{
	const struct eng_decision *d = &r->d;
	const struct eng_condition *c;
	switch (d->rule) {
	case ENG_RULE_METRICS:
	case ENG_RULE_FORECAST:
		if (d->reason[0])
			snprintf(buf, size, "%s", d->reason);
		else
			snprintf(buf, size, "the metrics ask for %d", (int)d->metric_replicas);
		return;
	case ENG_RULE_TOLERANCE:
		snprintf(buf, size, "every metric within tolerance of its target");
		return;
	case ENG_RULE_STABILIZATION:
		c = cond(d, ENG_COND_ABLE_TO_SCALE);
		snprintf(buf, size, "%s: the metrics ask for %d, the stabilization window holds %d",
		         c ? c->reason : "stabilized", (int)d->metric_replicas,
		         (int)d->stabilized_replicas);
		return;
	case ENG_RULE_RATE_LIMIT:
	case ENG_RULE_MIN_REPLICAS:
	case ENG_RULE_MAX_REPLICAS:
		c = cond(d, ENG_COND_SCALING_LIMITED);
		snprintf(buf, size, "%s%s%s", d->reason[0] ? d->reason : "limited",
		         c ? ", limited: " : "", c ? c->reason : "");
		return;
	case ENG_RULE_ABOVE_MAX:
	case ENG_RULE_BELOW_MIN:
	case ENG_RULE_INVALID_SELECTOR:
		snprintf(buf, size, "%s", d->reason[0] ? d->reason : d->error_msg);
		return;
	case ENG_RULE_SCALING_DISABLED:
		snprintf(buf, size, "scaling is disabled: the target is at zero replicas");
		return;
	case ENG_RULE_METRICS_FAILED: {
		size_t ok = 0;
		for (size_t i = 0; i < d->n_rows; i++)
			ok += d->rows[i].ok;
		c = cond(d, ENG_COND_SCALING_ACTIVE);
		if (ok == 0)
			snprintf(buf, size, "no metric could be read (%s): holding",
			         c ? c->reason : "metrics failed");
		else
			snprintf(buf, size, "a metric failed (%s): no scale-down while it does",
			         c ? c->reason : "metrics failed");
		return;
	}
	}
	snprintf(buf, size, "%s", d->reason);
}

void tick_format_reason(const struct tick_record *r, char *buf, size_t size)
{
	if (r->outcome == TICK_OUT_NONE) {
		snprintf(buf, size, "no tick yet");
		return;
	}
	if (r->outcome != TICK_OUT_DECIDED) {
		snprintf(buf, size, "%s: %s", r->outcome == TICK_OUT_SKIPPED ? "skipped" : "error",
		         r->error);
		return;
	}
	char why[ENG_LONG_MSG_MAX + 64];
	if (r->rule == TICK_RULE_ENGINE && r->have_decision)
		engine_why(r, why, sizeof(why));
	else
		snprintf(why, sizeof(why), "%s", r->reason[0] ? r->reason : tick_rule_name(r));
	bool did = r->wrote && r->mode == TICK_WRITE_LIVE;
	const char *action = r->desired > r->current   ? (did ? "scaled up" : "scale up")
	                     : r->desired < r->current ? (did ? "scaled down" : "scale down")
	                                               : "no change";
	char extra[96] = "";
	if (r->fallback_active && r->rule != TICK_RULE_FALLBACK)
		snprintf(extra, sizeof(extra), " (fallback active: %d failed ticks)",
		         (int)r->failures);
	else if (r->recovered)
		snprintf(extra, sizeof(extra), " (recovered from fallback)");
	if (r->paused_by[0])
		snprintf(buf, size, "paused (%s): would %s: %s%s", r->paused_by,
		         r->desired == r->current ? "keep the count" : action, why, extra);
	else if (r->write_failed)
		snprintf(buf, size, "%s failed: %s%s", action, why, extra);
	else
		snprintf(buf, size, "%s: %s%s", action, why, extra);
}

/* ---- the table ---- */

enum {
	COL_TARGET,
	COL_CURRENT,
	COL_DESIRED,
	COL_METRIC,
	COL_VALUE,
	COL_FORECAST,
	COL_REASON,
	NCOL
};

struct line {
	char c[NCOL][ENG_LONG_MSG_MAX + 160];
};

static enum ps_err put_line(struct ps_buf *b, const struct line *l, const size_t *w)
{
	enum ps_err e = PS_OK;
	/* Columns 1 and 2 are numbers: right-aligned. The last column is not padded. */
	for (int c = 0; c < NCOL && !e; c++) {
		bool last = c == NCOL - 1;
		if (last)
			e = ps_buf_appendf(b, "%s", l->c[c]);
		else if (c == COL_CURRENT || c == COL_DESIRED)
			e = ps_buf_appendf(b, "%*s  ", (int)w[c], l->c[c]);
		else
			e = ps_buf_appendf(b, "%-*s  ", (int)w[c], l->c[c]);
	}
	/* No trailing blanks when the last cells are empty. */
	while (!e && b->len > 0 && b->data[b->len - 1] == ' ')
		b->data[--b->len] = '\0';
	return e ? e : ps_buf_append_str(b, "\n");
}

static enum ps_err errors_section(struct ps_buf *b, const struct tick_record *recs, size_t n)
{
	enum ps_err e = PS_OK;
	bool header = false;
	for (size_t k = 0; k < n && !e; k++) {
		const struct tick_record *r = &recs[k];
		if (r->outcome != TICK_OUT_DECIDED)
			continue;
		for (size_t i = 0; i < r->n_metrics && !e; i++) {
			const struct tick_metric_rec *m = &r->m[i];
			const struct eng_metric_row *row = row_of(r, m);
			const char *what = NULL, *msg = NULL;
			if (m->state == TICK_M_FAILED || m->state == TICK_M_IGNORED ||
			    m->state == TICK_M_STALE) {
				what = tick_metric_state_name(m->state);
				msg = m->error;
			} else if (row && !row->ok) {
				what = row->failure_reason ? row->failure_reason : "failed";
				msg = row->error;
			}
			if (what) {
				if (!header)
					e = ps_buf_append_str(b, "\nMETRIC ERRORS\n");
				header = true;
				if (!e)
					e = ps_buf_appendf(b, "%s %s: %s: %s\n", r->key, m->name,
					                   what, msg);
			}
			if (!e && m->forecast_on && !m->has_forecast && m->forecast_note[0] &&
			    strncmp(m->forecast_note, "warming up", 10) != 0 &&
			    strcmp(m->forecast_note, "no value this tick") != 0) {
				if (!header)
					e = ps_buf_append_str(b, "\nMETRIC ERRORS\n");
				header = true;
				if (!e)
					e = ps_buf_appendf(b, "%s %s: forecast: %s\n", r->key,
					                   m->name, m->forecast_note);
			}
		}
	}
	return e;
}

enum ps_err tick_table_render(struct ps_buf *b, const struct tick_record *recs, size_t n)
{
	static const char *const head[NCOL] = {"TARGET",       "CURRENT",  "DESIRED", "METRIC",
	                                       "VALUE/TARGET", "FORECAST", "REASON"};
	size_t n_lines = 1;
	for (size_t k = 0; k < n; k++)
		n_lines += recs[k].outcome == TICK_OUT_DECIDED && recs[k].n_metrics
		               ? recs[k].n_metrics
		               : 1;
	struct line *lines = ps_calloc(n_lines, sizeof(*lines));
	if (!lines)
		return PS_ENOMEM;
	size_t w[NCOL] = {0};
	for (int c = 0; c < NCOL; c++)
		snprintf(lines[0].c[c], sizeof(lines[0].c[c]), "%s", head[c]);
	size_t at = 1;
	for (size_t k = 0; k < n; k++) {
		const struct tick_record *r = &recs[k];
		struct line *l = &lines[at];
		snprintf(l->c[COL_TARGET], sizeof(l->c[0]), "%s", r->key);
		tick_format_reason(r, l->c[COL_REASON], sizeof(l->c[0]));
		if (r->outcome != TICK_OUT_DECIDED) {
			snprintf(l->c[COL_CURRENT], sizeof(l->c[0]), "-");
			snprintf(l->c[COL_DESIRED], sizeof(l->c[0]), "-");
			at++;
			continue;
		}
		snprintf(l->c[COL_CURRENT], sizeof(l->c[0]), "%d", (int)r->current);
		snprintf(l->c[COL_DESIRED], sizeof(l->c[0]), "%d", (int)r->desired);
		for (size_t i = 0; i < r->n_metrics; i++) {
			struct line *ml = &lines[at + i];
			snprintf(ml->c[COL_METRIC], sizeof(ml->c[0]), "%s", r->m[i].name);
			tick_format_value_target(r, &r->m[i], ml->c[COL_VALUE], sizeof(ml->c[0]));
			tick_format_forecast(r, &r->m[i], ml->c[COL_FORECAST], sizeof(ml->c[0]));
		}
		at += r->n_metrics ? r->n_metrics : 1;
	}
	for (size_t i = 0; i < at; i++)
		for (int c = 0; c < NCOL; c++)
			if (strlen(lines[i].c[c]) > w[c])
				w[c] = strlen(lines[i].c[c]);
	enum ps_err e = PS_OK;
	for (size_t i = 0; i < at && !e; i++)
		e = put_line(b, &lines[i], w);
	ps_free(lines);
	if (!e)
		e = errors_section(b, recs, n);
	return e;
}
