/* record_json.c -- a tick record as one JSON object, for /debug/targets and `--once -o json`.
 * Keys are written in a fixed order; quantities as Kubernetes quantity strings, values of the
 * queries as numbers (null when unknown). */
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine.h"
#include "ps_clock.h"
#include "ps_parse.h"
#include "tick.h"

struct jw {
	struct ps_buf *b;
	enum ps_err e;
	bool first;
};

static void raw(struct jw *w, const char *s)
{
	if (!w->e)
		w->e = ps_buf_append_str(w->b, s);
}

static void str_body(struct jw *w, const char *s)
{
	raw(w, "\"");
	for (const unsigned char *p = (const unsigned char *)(s ? s : ""); *p && !w->e; p++) {
		char esc[8];
		switch (*p) {
		case '"':
			raw(w, "\\\"");
			break;
		case '\\':
			raw(w, "\\\\");
			break;
		case '\n':
			raw(w, "\\n");
			break;
		case '\r':
			raw(w, "\\r");
			break;
		case '\t':
			raw(w, "\\t");
			break;
		default:
			if (*p < 0x20) {
				snprintf(esc, sizeof(esc), "\\u%04x", *p);
				raw(w, esc);
			} else if (!w->e) {
				w->e = ps_buf_append(w->b, p, 1);
			}
		}
	}
	raw(w, "\"");
}

static void key(struct jw *w, const char *k)
{
	if (!w->first)
		raw(w, ",");
	w->first = false;
	str_body(w, k);
	raw(w, ":");
}

static void open_obj(struct jw *w, const char *k)
{
	if (k)
		key(w, k);
	raw(w, "{");
	w->first = true;
}

static void close_obj(struct jw *w)
{
	raw(w, "}");
	w->first = false;
}

static void j_str(struct jw *w, const char *k, const char *v)
{
	key(w, k);
	str_body(w, v);
}

static void j_int(struct jw *w, const char *k, int64_t v)
{
	char buf[32];
	snprintf(buf, sizeof(buf), "%" PRId64, v);
	key(w, k);
	raw(w, buf);
}

static void j_bool(struct jw *w, const char *k, bool v)
{
	key(w, k);
	raw(w, v ? "true" : "false");
}

static void j_num(struct jw *w, const char *k, bool has, double v)
{
	key(w, k);
	if (!has || !isfinite(v)) {
		raw(w, "null");
		return;
	}
	char buf[40];
	for (int prec = 1; prec <= 17; prec++) {
		snprintf(buf, sizeof(buf), "%.*g", prec, v);
		if (strtod(buf, NULL) == v)
			break;
	}
	raw(w, buf);
}

static void j_qty(struct jw *w, const char *k, int64_t milli)
{
	char buf[48];
	j_str(w, k, ps_format_quantity_milli(milli, buf, sizeof(buf)));
}

static void j_time(struct jw *w, const char *k, int64_t ms)
{
	char buf[PS_RFC3339_MS_LEN + 1];
	j_str(w, k, ps_clock_format_rfc3339(ms, buf, sizeof(buf)));
}

static const char *outcome_name(enum tick_outcome o)
{
	switch (o) {
	case TICK_OUT_NONE:
		return "none";
	case TICK_OUT_DECIDED:
		return "decided";
	case TICK_OUT_FAILED:
		return "failed";
	case TICK_OUT_SKIPPED:
		return "skipped";
	}
	return "none";
}

static const char *mode_name(enum tick_write_mode m)
{
	switch (m) {
	case TICK_WRITE_LIVE:
		return "live";
	case TICK_WRITE_DRY_RUN:
		return "dry-run";
	case TICK_WRITE_SERVER_DRY_RUN:
		return "server-dry-run";
	}
	return "live";
}

static const char *activity_name(enum tick_activity a)
{
	switch (a) {
	case TICK_ACT_NONE:
		return NULL;
	case TICK_ACT_ACTIVE:
		return "active";
	case TICK_ACT_INACTIVE:
		return "inactive";
	case TICK_ACT_UNKNOWN:
		return "unknown";
	}
	return NULL;
}

static void metric(struct jw *w, const struct tick_record *r, const struct tick_metric_rec *m)
{
	char cell[256];
	open_obj(w, NULL);
	j_str(w, "name", m->name);
	j_str(w, "type", eng_source_name(m->source));
	j_str(w, "targetType", eng_target_type_name(m->target.type));
	j_str(w, "state", tick_metric_state_name(m->state));
	if (m->error[0])
		j_str(w, "error", m->error);
	if (m->state == TICK_M_STALE)
		j_int(w, "staleAgeMs", m->stale_age_ms);
	j_num(w, "value", m->has_value, m->value);
	tick_format_value_target(r, m, cell, sizeof(cell));
	j_str(w, "valueTarget", cell);
	const struct eng_metric_row *row =
	    r->have_decision && m->row >= 0 && (size_t)m->row < r->d.n_rows ? &r->d.rows[m->row]
	                                                                    : NULL;
	if (row && r->d.computed) {
		open_obj(w, "row");
		j_bool(w, "ok", row->ok);
		j_str(w, "label", row->label);
		if (row->ok) {
			j_int(w, "proposal", row->proposal);
			j_qty(w, "current", row->current_milli);
			if (row->has_utilization)
				j_int(w, "utilization", row->utilization);
			j_num(w, "ratio", true, row->ratio);
			j_int(w, "readyPods", row->ready_pods);
		} else {
			j_str(w, "reason", row->failure_reason);
			j_str(w, "error", row->error);
		}
		close_obj(w);
	}
	const char *act = activity_name(m->activity);
	if (act) {
		j_str(w, "activity", act);
		j_qty(w, "activationValue", m->activation_milli);
	}
	if (m->forecast_on) {
		open_obj(w, "forecast");
		j_num(w, "value", m->has_forecast, m->forecast);
		if (m->has_forecast) {
			j_str(w, "use", eng_forecast_use_name(m->forecast_use));
			j_str(w, "model", m->forecast_model);
			if (row && row->ok && row->has_forecast_proposal)
				j_int(w, "proposal", row->forecast_proposal);
		}
		if (m->forecast_note[0])
			j_str(w, "note", m->forecast_note);
		close_obj(w);
	}
	close_obj(w);
}

enum ps_err tick_record_json_body(struct ps_buf *b, const struct tick_record *r)
{
	struct jw w = {b, PS_OK, true};
	char reason[ENG_LONG_MSG_MAX + 160];
	open_obj(&w, NULL);
	j_str(&w, "target", r->key);
	j_time(&w, "time", r->time_ms);
	j_str(&w, "outcome", outcome_name(r->outcome));
	j_str(&w, "mode", mode_name(r->mode));
	if (r->error[0])
		j_str(&w, "error", r->error);
	if (r->outcome == TICK_OUT_DECIDED) {
		j_int(&w, "current", r->current);
		j_int(&w, "desired", r->desired);
		j_bool(&w, "write", r->write);
		j_bool(&w, "wrote", r->wrote);
		j_str(&w, "rule", tick_rule_name(r));
		tick_format_reason(r, reason, sizeof(reason));
		j_str(&w, "reason", reason);
		if (r->paused_by[0])
			j_str(&w, "pausedBy", r->paused_by);
		j_int(&w, "consecutiveFailures", r->failures);
		j_bool(&w, "fallback", r->fallback_active);
		if (r->has_inactive)
			j_time(&w, "inactiveSince", r->inactive_since_ms);
		if (r->have_decision) {
			j_int(&w, "metricReplicas", r->d.metric_replicas);
			j_int(&w, "stabilizedReplicas", r->d.stabilized_replicas);
			j_int(&w, "forecastReplicas", r->d.forecast_replicas);
			key(&w, "conditions");
			raw(&w, "[");
			for (size_t i = 0; i < r->d.n_conditions; i++) {
				if (i)
					raw(&w, ",");
				const struct eng_condition *c = &r->d.conditions[i];
				open_obj(&w, NULL);
				j_str(&w, "type", eng_cond_type_name(c->type));
				j_str(&w, "status", c->status ? "True" : "False");
				j_str(&w, "reason", c->reason);
				j_str(&w, "message", c->message);
				close_obj(&w);
			}
			raw(&w, "]");
		}
		key(&w, "metrics");
		raw(&w, "[");
		for (size_t i = 0; i < r->n_metrics; i++) {
			if (i)
				raw(&w, ",");
			metric(&w, r, &r->m[i]);
		}
		raw(&w, "]");
	}
	return w.e;
}

enum ps_err tick_counters_json_tail(struct ps_buf *b, const struct tick_counters *c)
{
	/* The body always has "target" before: the member needs its comma. */
	struct jw w = {b, PS_OK, false};
	open_obj(&w, "counters");
	j_int(&w, "ticks", (int64_t)c->ticks);
	j_int(&w, "decisions", (int64_t)c->decisions);
	j_int(&w, "writes", (int64_t)c->writes);
	j_int(&w, "writeErrors", (int64_t)c->write_errors);
	j_int(&w, "skipped", (int64_t)c->skipped);
	j_int(&w, "failedTicks", (int64_t)c->failed_ticks);
	close_obj(&w);
	close_obj(&w);
	return w.e;
}

enum ps_err tick_record_json(struct ps_buf *b, const struct tick_record *r)
{
	struct tick_counters c = {.ticks = r->ticks,
	                          .decisions = r->decisions,
	                          .writes = r->writes,
	                          .write_errors = r->write_errors,
	                          .skipped = r->skipped,
	                          .failed_ticks = r->failed_ticks};
	enum ps_err e = tick_record_json_body(b, r);
	return e ? e : tick_counters_json_tail(b, &c);
}
