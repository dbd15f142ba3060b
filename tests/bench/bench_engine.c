/* bench_engine.c -- how many decisions a second the engine makes on one core: (a) reactive, one
 * External AverageValue metric, the default behavior, the stabilization history in use; (b)
 * the same with a Holt-Winters additive forecaster (daily season, one-minute samples) fed,
 * refitted when due and queried each decision the way src/ctl/tick_policy.c does it. Prints
 * figures; asserts nothing about time.
 *
 * usage: bench_engine [--seconds S]   (S: measured time per case, default 2)
 */
#include <inttypes.h>
#include <malloc.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "engine.h"
#include "forecast.h"
#include "ps_alloc.h"

#define MINUTE_MS ((int64_t)60000)
#define DAY_MS ((int64_t)86400000)
/* 2026-01-01T00:00:00Z: a wall-time origin, so the season grid is the real one. */
#define T0_MS ((int64_t)1767225600000LL)

static double now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Bytes the allocator hands out right now (small blocks and mmapped ones). */
static size_t heap_in_use(void)
{
	struct mallinfo2 mi = mallinfo2();
	return mi.uordblks + mi.hblkhd;
}

/* A deterministic load: a daily sine between 100 and 500 plus +-5% noise (xorshift). */
static double load_at(int64_t t_ms, uint64_t *rng)
{
	*rng ^= *rng << 13;
	*rng ^= *rng >> 7;
	*rng ^= *rng << 17;
	double noise = ((double)(*rng >> 11) / 9007199254740992.0 - 0.5) * 0.1;
	double phase = 2.0 * 3.14159265358979323846 * (double)(t_ms % DAY_MS) / (double)DAY_MS;
	return (300.0 + 200.0 * sin(phase)) * (1.0 + noise);
}

/* One scale target as the controller holds it: spec, params, history, scratch, conditions. */
struct target {
	struct eng_spec spec;
	struct eng_params params;
	struct eng_history hist;
	struct eng_scratch scratch;
	struct eng_condition conds[ENG_MAX_CONDITIONS];
	size_t n_conds;
	int32_t replicas;
	uint64_t writes;
};

/* An External AverageValue metric of 50 per pod, 1..100 replicas, the default behavior, and
 * the history tick_policy.c sizes for <interval_ms> (twice the longest window, plus 16). */
static enum ps_err target_init(struct target *t, int64_t interval_ms)
{
	memset(t, 0, sizeof(*t));
	t->spec.has_min_replicas = true;
	t->spec.min_replicas = 1;
	t->spec.max_replicas = 100;
	t->spec.n_metrics = 1;
	t->spec.metrics[0].source = ENG_SRC_EXTERNAL;
	snprintf(t->spec.metrics[0].name, sizeof(t->spec.metrics[0].name), "bench_load");
	t->spec.metrics[0].target = (struct eng_target){.type = ENG_TARGET_AVERAGE_VALUE,
	                                                .has_average_value = true,
	                                                .average_value_milli = 50000};
	t->spec.has_behavior = true;
	eng_behavior_default(&t->spec.behavior);
	eng_params_default(&t->params);
	t->replicas = 6;
	size_t cap = (size_t)(t->params.downscale_window_ms / interval_ms) * 2 + 16;
	enum ps_err e = eng_history_init(&t->hist, cap);
	if (!e)
		e = eng_scratch_reserve(&t->scratch, 1);
	return e;
}

static void target_release(struct target *t)
{
	eng_history_release(&t->hist);
	eng_scratch_release(&t->scratch);
}

/* One decision on <value> at <now_ms>, with an optional forecast; a write is taken as done
 * (eng_rescaled), as the controller does after a successful PATCH. */
static enum ps_err decide(struct target *t, int64_t now_ms, double value,
                          enum eng_forecast_use fuse, double forecast)
{
	int64_t milli = llround(value * 1000.0);
	struct eng_reading rd = {.n_values = 1, .values_milli = &milli};
	if (fuse != ENG_FORECAST_NONE) {
		rd.forecast_use = fuse;
		rd.forecast_milli = llround(forecast * 1000.0);
	}
	struct eng_observation obs = {
	    .now_ms = now_ms,
	    .spec_replicas = t->replicas,
	    .status_replicas = t->replicas,
	    .selector = ENG_SELECTOR_OK,
	    .readings = &rd,
	    .n_conditions = t->n_conds,
	    .conditions = t->conds,
	};
	struct eng_decision d;
	struct ps_diag diag;
	enum ps_err e = eng_decide(&t->spec, &t->params, &obs, &t->hist, &t->scratch, &d, &diag);
	if (e) {
		fprintf(stderr, "bench_engine: eng_decide: %s\n", diag.msg);
		return e;
	}
	if (d.write) {
		eng_rescaled(&t->spec, &t->params, &t->hist, &d, now_ms);
		t->replicas = d.desired_replicas;
		t->writes++;
	}
	t->n_conds = d.n_conditions;
	memcpy(t->conds, d.conditions, d.n_conditions * sizeof(d.conditions[0]));
	return PS_OK;
}

static void report(const char *name, uint64_t n, double secs, const struct target *t)
{
	printf("%-44s %10" PRIu64 " decisions %6.3f s %12.0f decisions/s %8.1f ns/decision"
	       "  (%" PRIu64 " writes)\n",
	       name, n, secs, (double)n / secs, secs * 1e9 / (double)n, t->writes);
}

/* (a) reactive: a decision every 15 s of virtual time. */
static int bench_reactive(double seconds)
{
	struct target t;
	if (target_init(&t, 15000)) {
		fprintf(stderr, "bench_engine: out of memory\n");
		return 1;
	}
	uint64_t rng = 88172645463325252ULL;
	int64_t now = T0_MS;
	/* Warm-up: fill the stabilization window. */
	for (int i = 0; i < 1000; i++, now += 15000)
		if (decide(&t, now, load_at(now, &rng), ENG_FORECAST_NONE, 0))
			return 1;
	t.writes = 0;
	uint64_t n = 0;
	double t0 = now_s(), dt = 0;
	while (dt < seconds) {
		for (int i = 0; i < 65536; i++, now += 15000)
			if (decide(&t, now, load_at(now, &rng), ENG_FORECAST_NONE, 0))
				return 1;
		n += 65536;
		dt = now_s() - t0;
	}
	report("reactive (External AverageValue, behavior)", n, dt, &t);
	printf("  history: %zu recommendations kept (cap %zu), %" PRIu64 " dropped\n",
	       t.hist.n_recs, t.hist.cap_recs, t.hist.dropped);
	target_release(&t);
	return 0;
}

/* The forecaster's side of a decision, as tick_policy.c's forecast_metric: feed, refit when
 * due, then the peak over the serving window. */
struct fc_run {
	struct fc_model m;
	bool fitted;
	int64_t from_ms, horizon_ms;
	uint64_t refits;
	double refit_s;
	uint64_t forecasts, fallbacks;
};

static enum ps_err fc_step(struct fc_run *f, int64_t now_ms, double value,
                           enum eng_forecast_use *fuse, double *upper)
{
	*fuse = ENG_FORECAST_NONE;
	if (fc_update(&f->m, now_ms, value, NULL) == PS_OK && fc_ready(&f->m) &&
	    (!f->fitted || fc_refit_due(&f->m))) {
		double t0 = now_s();
		enum ps_err e = fc_refit(&f->m, NULL);
		f->refit_s += now_s() - t0;
		f->refits++;
		f->fitted = e == PS_OK || f->fitted;
	}
	struct fc_forecast fc;
	enum ps_err e = fc_forecast_range(&f->m, f->from_ms, f->horizon_ms, &fc, NULL);
	if (e == PS_ENODATA)
		return PS_OK;
	if (e) {
		fprintf(stderr, "bench_engine: fc_forecast_range: %s\n", ps_strerror(e));
		return e;
	}
	f->forecasts++;
	f->fallbacks += fc.fallback;
	*fuse = fc.fallback ? ENG_FORECAST_FALLBACK : ENG_FORECAST_ACT;
	*upper = fc.upper;
	return PS_OK;
}

/* (b) Holt-Winters additive, daily season, one-minute samples, a decision per sample. */
static int bench_forecast(double seconds)
{
	/* tick_policy.c's horizon: podStartup 1m + interval + metricLag 30s; the peak is taken
	 * from lag + start-up on. */
	const int64_t interval = MINUTE_MS, startup = MINUTE_MS, lag = 30000;
	struct fc_config c;
	fc_config_default(&c);
	c.kind = FC_HW_ADD;
	c.step_ms = interval;
	c.season_ms = DAY_MS;
	c.horizon_ms = startup + interval + lag;

	struct fc_run f;
	memset(&f, 0, sizeof(f));
	f.from_ms = lag + startup;
	f.horizon_ms = c.horizon_ms;
	size_t heap0 = heap_in_use();
	uint64_t allocs0 = ps_alloc_count();
	struct ps_diag diag;
	if (fc_init(&f.m, &c, &diag)) {
		fprintf(stderr, "bench_engine: fc_init: %s\n", diag.msg);
		return 1;
	}
	size_t heap = heap_in_use() - heap0;
	uint64_t allocs = ps_alloc_count() - allocs0;

	struct target t;
	if (target_init(&t, interval)) {
		fprintf(stderr, "bench_engine: out of memory\n");
		return 1;
	}
	uint64_t rng = 88172645463325252ULL;
	int64_t now = T0_MS;
	/* Warm-up: 14 days, so the model is past the fits of its growing history (each time it
	 * doubles) and in the steady regime of a refit every refit_every samples. */
	double w0 = now_s();
	for (int64_t i = 0; i < 14 * 1440; i++, now += interval) {
		double v = load_at(now, &rng), upper = 0;
		enum eng_forecast_use fuse;
		if (fc_step(&f, now, v, &fuse, &upper) || decide(&t, now, v, fuse, upper))
			return 1;
	}
	double warm_s = now_s() - w0;
	uint64_t warm_refits = f.refits;
	double warm_refit_s = f.refit_s;
	f.refits = 0;
	f.refit_s = 0;
	f.forecasts = f.fallbacks = 0;
	t.writes = 0;

	uint64_t n = 0;
	double t0 = now_s(), dt = 0;
	while (dt < seconds) {
		for (int i = 0; i < 65536; i++, now += interval) {
			double v = load_at(now, &rng), upper = 0;
			enum eng_forecast_use fuse;
			if (fc_step(&f, now, v, &fuse, &upper) || decide(&t, now, v, fuse, upper))
				return 1;
		}
		n += 65536;
		dt = now_s() - t0;
	}
	report("forecast (Holt-Winters additive, 1-min, 1d)", n, dt, &t);
	printf("  refits in the measured time: %" PRIu64 " (every %" PRIu32 " samples), %.3f s, "
	       "%.1f ms each = %.0f%% of the time; without them %.1f ns/decision\n",
	       f.refits, c.refit_every, f.refit_s,
	       f.refits ? f.refit_s * 1e3 / (double)f.refits : 0.0, 100.0 * f.refit_s / dt,
	       (dt - f.refit_s) * 1e9 / (double)n);
	printf("  forecasts used: %" PRIu64 " of %" PRIu64 " decisions (%" PRIu64 " fallback to "
	       "reactive)\n",
	       f.forecasts, n, f.fallbacks);
	printf("  warm-up: 14 days (%d samples) in %.3f s, %" PRIu64 " fits taking %.3f s\n",
	       14 * 1440, warm_s, warm_refits, warm_refit_s);
	printf("  fc_model memory: sizeof %zu B + heap %zu B (%.1f KiB, %" PRIu64 " blocks; "
	       "history %zu slots, season %zu slots)\n",
	       sizeof(struct fc_model), heap, (double)heap / 1024.0, allocs, f.m.cap, f.m.m);
	fc_release(&f.m);
	target_release(&t);
	return 0;
}

int main(int argc, char **argv)
{
	double seconds = 2.0;
	for (int i = 1; i < argc; i++) {
		char *end = NULL;
		if (strcmp(argv[i], "--seconds") == 0 && i + 1 < argc) {
			seconds = strtod(argv[++i], &end);
			if (!end || *end || !(seconds > 0) || seconds > 3600) {
				fprintf(stderr, "bench_engine: bad --seconds %s\n", argv[i]);
				return 2;
			}
		} else {
			fprintf(stderr, "usage: bench_engine [--seconds S]\n");
			return 2;
		}
	}
	printf("engine, one core, %.1f s per case\n", seconds);
	printf("  sizeof: eng_spec %zu B, eng_decision %zu B, eng_history %zu B\n",
	       sizeof(struct eng_spec), sizeof(struct eng_decision), sizeof(struct eng_history));
	int rc = bench_reactive(seconds);
	if (!rc)
		rc = bench_forecast(seconds);
	return rc;
}
