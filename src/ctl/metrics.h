/* metrics.h -- the controller's own metrics: a small registry of counters, gauges and histograms
 * with labels, rendered in the Prometheus text exposition format 0.0.4, and prescale's metric
 * families, collected from the runtime and the tick records when /metrics is scraped.
 *
 * DESIGN
 * Two parts.
 * - The registry (struct metrics): families (name, help, type, label names, histogram buckets),
 *   each holding series keyed by their label values, in the order they were first touched.
 *   Families are added before the registry is shared; after that, any thread may add to, set
 *   or observe a series and render the registry: each family has its own mutex, taken for one
 *   update or while that family is rendered. Rendering writes every family with its # HELP and
 *   # TYPE lines (also a family without series), label values and help text escaped as the
 *   format says, histograms as cumulative _bucket{le=...} series plus _sum and _count.
 * - prescale's families (struct metrics_ctl). Most values are pulled at scrape time, so the
 *   workers pay nothing for them: the runtime's worker snapshot and statistics
 *   (rt_workers_snapshot, rt_stats) and the targets' last decision records
 *   (tick_env_snaps) are referenced and turned into a fresh registry per scrape. What cannot be
 *   pulled is pushed into a registry that lives as long as the struct metrics_ctl: the latency
 *   of every Prometheus query and Kubernetes request and the Kubernetes errors by code, which
 *   an http_observer (http.h) feeds from the workers' threads, and the scale actions by
 *   direction, which each scrape derives from the change of a target's write counter.
 *
 * Approximate values (also in the README):
 * - prescale_target_scale_actions_total{direction}: the record counts live writes but not
 *   their direction. Each scrape takes the writes made since the previous scrape; the one
 *   the last record made goes to its own direction (desired against current) and any others
 *   to the direction the replica count moved since the previous scrape (or the last known
 *   direction when it did not move). Exact while a target writes at most once between two
 *   scrapes. A target whose state was rebuilt restarts its write counter; the scrape then
 *   counts the new counter from zero.
 * - prescale_target_last_decision_timestamp_seconds: the time of the newest decided record
 *   seen by a scrape; a decision made and superseded by a failed tick between two scrapes is
 *   not seen.
 * - The replica, metric and forecast gauges show the target's last record; they are absent
 *   while its last tick failed or before its first tick.
 * - Latency histograms count HTTP exchanges (each retry of a Kubernetes call is one), told
 *   apart by URL path: a path ending in /api/v1/query or /api/v1/query_range is a Prometheus
 *   query, any other path under /api or /apis is a Kubernetes request.
 */
#ifndef METRICS_H
#define METRICS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "http.h"
#include "ps_buf.h"
#include "ps_compiler.h"
#include "ps_diag.h"
#include "ps_err.h"

struct rt;
struct rt_worker_info;
struct rt_stats;
struct tick_env;
struct tick_record;

/* The Content-Type of metrics_render()'s output. */
#define METRICS_CONTENT_TYPE "text/plain; version=0.0.4; charset=utf-8"
/* Labels of one family, at most. */
#define METRICS_MAX_LABELS 8
/* Buckets of one histogram (without +Inf), at most. */
#define METRICS_MAX_BUCKETS 32
/* Size cap of a rendered exposition. */
#define METRICS_MAX_OUTPUT ((size_t)64 << 20)

/* ---- the registry ---- */

enum metrics_type {
	METRICS_COUNTER,
	METRICS_GAUGE,
	METRICS_HISTOGRAM,
};

struct metrics;
struct metrics_family;

/* Returns an owned, empty registry in *out (metrics_free). PS_OK or PS_ENOMEM. */
PS_MUST_CHECK enum ps_err metrics_new(struct metrics **out);
/* Frees <m> (NULL allowed) and its families. No other thread may use it any more. */
void metrics_free(struct metrics *m);

/* Adds a family to <m>: <name> (a Prometheus metric name, [a-zA-Z_:][a-zA-Z0-9_:]*), <help>
 * (any text), <type>, <n_labels> label names (each [a-zA-Z_][a-zA-Z0-9_]*, not starting with
 * "__", distinct, and not "le" for a histogram) and, for a histogram only, <n_buckets>
 * strictly increasing finite upper bounds (+Inf is implied). Everything is copied. *out (may
 * be NULL) is borrowed from <m> and valid until metrics_free. Call before <m> is shared with
 * other threads. Returns PS_OK; PS_EINVAL with <diag> (may be NULL) naming what is wrong (also
 * for a name already registered); PS_ENOMEM. */
PS_MUST_CHECK enum ps_err metrics_family_add(struct metrics *m, const char *name, const char *help,
                                             enum metrics_type type, const char *const *labels,
                                             size_t n_labels, const double *buckets,
                                             size_t n_buckets, struct metrics_family **out,
                                             struct ps_diag *diag);

/* The series of <f> with the label values <values> (<n_labels> strings, borrowed, copied on
 * first use; NULL stands for "") is created at 0 when missing, then:
 * - metrics_add: a counter or gauge grows by <v> (a counter refuses a negative or NaN <v>);
 * - metrics_set: a gauge, or a counter whose total is pulled from elsewhere, becomes <v> (the
 *   caller keeps a pulled counter monotonic);
 * - metrics_observe: a histogram counts <v> in its buckets, _sum and _count.
 * Returns PS_OK; PS_EINVAL for the wrong type or a bad value; PS_ENOMEM (nothing changed).
 * Any thread. */
PS_MUST_CHECK enum ps_err metrics_add(struct metrics_family *f, const char *const *values,
                                      double v);
PS_MUST_CHECK enum ps_err metrics_set(struct metrics_family *f, const char *const *values,
                                      double v);
/* A histogram's series takes <counts> (per bucket, not cumulative: the family's n_buckets
 * of them; what lies above the last bucket is only in <count>), <sum> and <count> as they are,
 * for totals kept elsewhere (the runtime's tick lateness). PS_EINVAL for another type. */
PS_MUST_CHECK enum ps_err metrics_set_histogram(struct metrics_family *f,
                                                const char *const *values,
                                                const uint64_t *counts, double sum,
                                                uint64_t count);
PS_MUST_CHECK enum ps_err metrics_observe(struct metrics_family *f, const char *const *values,
                                          double v);

/* Appends the exposition of every family of <m>, in the order they were added (series in the
 * order they were created), to <b>. Returns PS_OK, PS_ETOOBIG (over the cap of <b>) or
 * PS_ENOMEM. Any thread. */
PS_MUST_CHECK enum ps_err metrics_render(struct metrics *m, struct ps_buf *b);

/* Writes <v> into <buf> as the format writes a sample value: "NaN", "+Inf", "-Inf", an integer when
 * <v> is one (below 2^53), else the shortest decimal that reads back as <v>. Returns <buf>. */
const char *metrics_format_value(double v, char *buf, size_t size);

/* ---- prescale's families ---- */

enum metrics_leader {
	METRICS_LEADER_UNKNOWN, /* not known yet: /readyz answers 503 */
	METRICS_LEADER_NO,      /* another replica holds the lease */
	METRICS_LEADER_YES,     /* this process leads (also when leader election is off) */
};

/* Buckets of both latency histograms, in seconds. */
#define METRICS_LATENCY_BUCKETS                                                                    \
	{                                                                                          \
		0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30                        \
	}

struct metrics_ctl;

/* Returns an owned collector in *out (metrics_ctl_free) with its pushed families empty. PS_OK or
 * PS_ENOMEM. */
PS_MUST_CHECK enum ps_err metrics_ctl_new(struct metrics_ctl **out);
/* Frees <mc> (NULL allowed). Remove its observer from http first (http_set_observer(NULL)). */
void metrics_ctl_free(struct metrics_ctl *mc);

/* The observer that feeds the latency histograms and the Kubernetes error counter, borrowed
 * from <mc>: install it with http_set_observer() before the workers start. */
const struct http_observer *metrics_ctl_observer(struct metrics_ctl *mc);

/* What the observer does with one http_do() call (public for tests). Any thread. */
void metrics_ctl_observe_http(struct metrics_ctl *mc, const struct http_observation *o);

/* What a scrape collects. Everything borrowed for the call. */
struct metrics_snapshot {
	const struct rt_worker_info *workers; /* the runtime's workers (NULL when n_workers 0) */
	size_t n_workers;
	const struct rt_stats *stats;      /* NULL: no runtime (no worker or reload figures) */
	const struct tick_snap *records;   /* the targets' last records (views and counters) */
	size_t n_records;
	enum metrics_leader leader;
	const char *version; /* build info; NULL: this build's */
	const char *git;
};

/* Appends the whole exposition to <b>: the families of <s> (collected now) and the pushed ones.
 * Updates the scale-action counters from the records' write counters (see the DESIGN block).
 * Returns PS_OK, PS_ETOOBIG or PS_ENOMEM. Any thread; concurrent scrapes are serialised. */
PS_MUST_CHECK enum ps_err metrics_ctl_render(struct metrics_ctl *mc,
                                             const struct metrics_snapshot *s, struct ps_buf *b);

/* Takes the snapshot from <rt> and <env> (either may be NULL) and renders it like
 * metrics_ctl_render. Takes each worker's and each target's lock briefly; never waits for a
 * tick. Returns PS_OK, PS_ETOOBIG or PS_ENOMEM. Any thread, between rt_start and rt_free. */
PS_MUST_CHECK enum ps_err metrics_ctl_scrape(struct metrics_ctl *mc, struct rt *rt,
                                             struct tick_env *env, enum metrics_leader leader,
                                             struct ps_buf *b);

#endif
