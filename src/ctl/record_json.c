/* record_json.c -- a tick record as one JSON object, for /debug/targets and `--once -o json`.
 * Keys are written in a fixed order; quantities as Kubernetes quantity strings, values of the
 * queries as numbers (null when unknown). */
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ctl_json.h"
#include "engine.h"
#include "ps_clock.h"
#include "ps_parse.h"
#include "tick.h"

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
	jw_open(w, NULL);
	jw_kv_str(w, "name", m->name);
	jw_kv_str(w, "type", eng_source_name(m->source));
	jw_kv_str(w, "targetType", eng_target_type_name(m->target.type));
	jw_kv_str(w, "state", tick_metric_state_name(m->state));
	if (m->error[0])
		jw_kv_str(w, "error", m->error);
	if (m->state == TICK_M_STALE)
		jw_kv_int(w, "staleAgeMs", m->stale_age_ms);
	jw_kv_num(w, "value", m->has_value, m->value);
	tick_format_value_target(r, m, cell, sizeof(cell));
	jw_kv_str(w, "valueTarget", cell);
	const struct eng_metric_row *row =
	    r->have_decision && m->row >= 0 && (size_t)m->row < r->d.n_rows ? &r->d.rows[m->row]
	                                                                    : NULL;
	if (row && r->d.computed) {
		jw_open(w, "row");
		jw_kv_bool(w, "ok", row->ok);
		jw_kv_str(w, "label", row->label);
		if (row->ok) {
			jw_kv_int(w, "proposal", row->proposal);
			jw_kv_qty(w, "current", row->current_milli);
			if (row->has_utilization)
				jw_kv_int(w, "utilization", row->utilization);
			jw_kv_num(w, "ratio", true, row->ratio);
			jw_kv_int(w, "readyPods", row->ready_pods);
		} else {
			jw_kv_str(w, "reason", row->failure_reason);
			jw_kv_str(w, "error", row->error);
		}
		jw_close(w);
	}
	const char *act = activity_name(m->activity);
	if (act) {
		jw_kv_str(w, "activity", act);
		jw_kv_qty(w, "activationValue", m->activation_milli);
	}
	if (m->forecast_on) {
		jw_open(w, "forecast");
		jw_kv_num(w, "value", m->has_forecast, m->forecast);
		if (m->has_forecast) {
			jw_kv_str(w, "use", eng_forecast_use_name(m->forecast_use));
			jw_kv_str(w, "model", m->forecast_model);
			if (row && row->ok && row->has_forecast_proposal)
				jw_kv_int(w, "proposal", row->forecast_proposal);
		}
		if (m->forecast_note[0])
			jw_kv_str(w, "note", m->forecast_note);
		jw_close(w);
	}
	jw_close(w);
}

enum ps_err tick_record_json_body(struct ps_buf *b, const struct tick_record *r)
{
	struct jw w = {b, PS_OK, true};
	char reason[ENG_LONG_MSG_MAX + 160];
	jw_open(&w, NULL);
	jw_kv_str(&w, "target", r->key);
	jw_kv_time(&w, "time", r->time_ms);
	jw_kv_str(&w, "outcome", outcome_name(r->outcome));
	jw_kv_str(&w, "mode", mode_name(r->mode));
	if (r->error[0])
		jw_kv_str(&w, "error", r->error);
	if (r->outcome == TICK_OUT_DECIDED) {
		jw_kv_int(&w, "current", r->current);
		jw_kv_int(&w, "desired", r->desired);
		jw_kv_bool(&w, "write", r->write);
		jw_kv_bool(&w, "wrote", r->wrote);
		jw_kv_str(&w, "rule", tick_rule_name(r));
		tick_format_reason(r, reason, sizeof(reason));
		jw_kv_str(&w, "reason", reason);
		if (r->paused_by[0])
			jw_kv_str(&w, "pausedBy", r->paused_by);
		jw_kv_int(&w, "consecutiveFailures", r->failures);
		jw_kv_bool(&w, "fallback", r->fallback_active);
		if (r->has_inactive)
			jw_kv_time(&w, "inactiveSince", r->inactive_since_ms);
		if (r->have_decision) {
			jw_kv_int(&w, "metricReplicas", r->d.metric_replicas);
			jw_kv_int(&w, "stabilizedReplicas", r->d.stabilized_replicas);
			jw_kv_int(&w, "forecastReplicas", r->d.forecast_replicas);
			jw_key(&w, "conditions");
			jw_raw(&w, "[");
			for (size_t i = 0; i < r->d.n_conditions; i++) {
				if (i)
					jw_raw(&w, ",");
				const struct eng_condition *c = &r->d.conditions[i];
				jw_open(&w, NULL);
				jw_kv_str(&w, "type", eng_cond_type_name(c->type));
				jw_kv_str(&w, "status", c->status ? "True" : "False");
				jw_kv_str(&w, "reason", c->reason);
				jw_kv_str(&w, "message", c->message);
				jw_close(&w);
			}
			jw_raw(&w, "]");
		}
		jw_key(&w, "metrics");
		jw_raw(&w, "[");
		for (size_t i = 0; i < r->n_metrics; i++) {
			if (i)
				jw_raw(&w, ",");
			metric(&w, r, &r->m[i]);
		}
		jw_raw(&w, "]");
	}
	return w.e;
}

enum ps_err tick_counters_json_tail(struct ps_buf *b, const struct tick_counters *c)
{
	/* The body always has "target" before: the member needs its comma. */
	struct jw w = {b, PS_OK, false};
	jw_open(&w, "counters");
	jw_kv_int(&w, "ticks", (int64_t)c->ticks);
	jw_kv_int(&w, "decisions", (int64_t)c->decisions);
	jw_kv_int(&w, "writes", (int64_t)c->writes);
	jw_kv_int(&w, "writeErrors", (int64_t)c->write_errors);
	jw_kv_int(&w, "skipped", (int64_t)c->skipped);
	jw_kv_int(&w, "failedTicks", (int64_t)c->failed_ticks);
	jw_close(&w);
	jw_close(&w);
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
