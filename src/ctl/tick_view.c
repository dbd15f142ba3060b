/* tick_view.c -- the compact, shared view a target publishes after each tick.
 *
 * DESIGN
 * A struct tick_record is what one tick knows (~29 KiB: the engine's decision with a row per
 * possible metric, condition messages, ...). Keeping one per target for the HTTP endpoints,
 * and copying all of them for each /metrics scrape, cost more than everything else a target
 * holds: at 10,000 targets, 290 MiB resident and as much again per scrape. A view keeps what
 * the endpoints read: the numbers /metrics exports (computed here, once per tick, from the
 * record) and the record's JSON for /debug/targets, in one allocation sized to fit. Views
 * are immutable and reference counted: publishing swaps the target's pointer under its lock,
 * a snapshot takes references, and the last holder frees. The counters move on between
 * records (a skipped tick keeps the last decision on show), so they travel beside the view
 * (struct tick_snap) and are appended to the JSON when it is served.
 */
#include <math.h>
#include <stdalign.h>
#include <stdatomic.h>
#include <string.h>

#include "ps_alloc.h"
#include "tick.h"

static const struct eng_metric_row *row_of(const struct tick_record *r,
                                           const struct tick_metric_rec *m)
{
	if (!r->have_decision || !r->d.computed || m->row < 0 || (size_t)m->row >= r->d.n_rows)
		return NULL;
	return &r->d.rows[m->row];
}

/* The metric's value in its target's unit, as the `--once` table's VALUE cell has it. */
static bool metric_value(const struct tick_record *r, const struct tick_metric_rec *m, double *out)
{
	const struct eng_metric_row *row = row_of(r, m);
	if (row && row->ok) {
		*out = m->target.type == ENG_TARGET_UTILIZATION
		           ? (double)row->utilization
		           : (double)row->current_milli / 1000.0;
		return true;
	}
	/* Not evaluated by the engine (at zero replicas, scaling disabled): the query's value
	 * when it is in the target's unit, a per-pod mean against an average or a total against
	 * a value. An External sum against an average needs the pod count: left out. */
	bool same_unit = (m->target.type == ENG_TARGET_AVERAGE_VALUE && m->per_pod) ||
	                 m->target.type == ENG_TARGET_VALUE;
	if (m->has_value && same_unit && isfinite(m->value)) {
		*out = m->value;
		return true;
	}
	return false;
}

static bool metric_target(const struct tick_metric_rec *m, double *out)
{
	switch (m->target.type) {
	case ENG_TARGET_UTILIZATION:
		*out = (double)m->target.average_utilization;
		return true;
	case ENG_TARGET_AVERAGE_VALUE:
		*out = (double)m->target.average_value_milli / 1000.0;
		return true;
	case ENG_TARGET_VALUE:
		*out = (double)m->target.value_milli / 1000.0;
		return true;
	case ENG_TARGET_UNSET:
		break;
	}
	return false;
}

enum ps_err tick_view_new(const struct tick_record *r, struct tick_view **out)
{
	*out = NULL;
	struct ps_buf json;
	ps_buf_init(&json, (size_t)1 << 20);
	enum ps_err e = tick_record_json_body(&json, r);
	if (e) {
		ps_buf_release(&json);
		return e;
	}
	size_t n = r->n_metrics <= ENG_MAX_METRICS ? r->n_metrics : ENG_MAX_METRICS;
	size_t names = 0;
	for (size_t i = 0; i < n; i++)
		names += strlen(r->m[i].name) + 1;
	size_t key_len = strlen(r->key) + 1;
	/* [view][metrics][key][names][json] */
	size_t head = sizeof(struct tick_view);
	head = (head + alignof(struct tick_view_metric) - 1) / alignof(struct tick_view_metric) *
	       alignof(struct tick_view_metric);
	size_t size = head + n * sizeof(struct tick_view_metric) + key_len + names +
	              json.len + 1;
	char *mem = ps_calloc(1, size);
	if (!mem) {
		ps_buf_release(&json);
		return PS_ENOMEM;
	}
	struct tick_view *v = (struct tick_view *)(void *)mem;
	struct tick_view_metric *vm = (struct tick_view_metric *)(void *)(mem + head);
	char *p = mem + head + n * sizeof(struct tick_view_metric);
	atomic_init(&v->refs, 1);
	memcpy(p, r->key, key_len);
	v->key = p;
	p += key_len;
	v->time_ms = r->time_ms;
	v->outcome = r->outcome;
	v->mode = r->mode;
	v->current = r->current;
	v->desired = r->desired;
	v->wrote = r->wrote;
	v->n_metrics = n;
	v->m = vm;
	for (size_t i = 0; i < n; i++) {
		const struct tick_metric_rec *m = &r->m[i];
		size_t len = strlen(m->name) + 1;
		memcpy(p, m->name, len);
		vm[i].name = p;
		p += len;
		vm[i].has_value = metric_value(r, m, &vm[i].value);
		vm[i].has_target = metric_target(m, &vm[i].target);
		vm[i].has_forecast = m->has_forecast && isfinite(m->forecast);
		vm[i].forecast = m->forecast;
		vm[i].has_mase = m->has_forecast && m->has_forecast_error && !isnan(m->forecast_mase);
		vm[i].mase = m->forecast_mase;
	}
	if (json.len)
		memcpy(p, json.data, json.len);
	p[json.len] = '\0';
	v->json = p;
	v->json_len = json.len;
	ps_buf_release(&json);
	*out = v;
	return PS_OK;
}

struct tick_view *tick_view_ref(struct tick_view *v)
{
	if (v)
		atomic_fetch_add_explicit(&v->refs, 1, memory_order_relaxed);
	return v;
}

void tick_view_unref(struct tick_view *v)
{
	if (v && atomic_fetch_sub_explicit(&v->refs, 1, memory_order_acq_rel) == 1)
		ps_free(v);
}

enum ps_err tick_snap_from_record(const struct tick_record *r, struct tick_snap *out)
{
	memset(out, 0, sizeof(*out));
	out->count = (struct tick_counters){.ticks = r->ticks,
	                                    .decisions = r->decisions,
	                                    .writes = r->writes,
	                                    .write_errors = r->write_errors,
	                                    .skipped = r->skipped,
	                                    .failed_ticks = r->failed_ticks};
	return tick_view_new(r, &out->view);
}

void tick_snaps_free(struct tick_snap *s, size_t n)
{
	if (!s)
		return;
	for (size_t i = 0; i < n; i++)
		tick_view_unref(s[i].view);
	ps_free(s);
}

enum ps_err tick_snap_json(struct ps_buf *b, const struct tick_snap *s)
{
	enum ps_err e = ps_buf_append(b, s->view->json, s->view->json_len);
	if (!e)
		e = tick_counters_json_tail(b, &s->count);
	return e;
}
