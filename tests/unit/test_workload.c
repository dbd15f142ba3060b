/* test_workload.c -- the seeded "diurnal" series of `prescale simulate --workload`: deterministic,
 * the right length and clock, a daily and a weekly cycle, flash crowds only after the warm-up,
 * autocorrelated noise, and every bad parameter refused with its message.
 *
 * Expected figures come from the formula in workload.h worked by hand (the exact values at known
 * times, the continuous means of the daily curve), or from a minute-by-minute evaluation of that
 * formula in a separate script where a sum over a window is needed; the comments give both. */
#include <criterion/criterion.h>
#include <math.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "ps_alloc.h"
#include "trace.h"
#include "workload.h"

#define MIN_MS INT64_C(60000)
#define HOUR_MS (60 * MIN_MS)
#define DAY_MS (24 * HOUR_MS)
/* Samples per day at the default 60 s step. */
#define PER_DAY 1440
#define PER_HOUR 60
/* 2026-11-02T00:00:00Z, a Monday (date -u -d @1793577600). */
#define MONDAY_MS INT64_C(1793577600000)

/* ---- helpers ---- */

static void assert_ok(enum ps_err err, const struct ps_diag *d)
{
	cr_assert_eq(err, PS_OK, "%s: %s", ps_err_name(err), ps_diag_msg(d));
}

/* Generates <p> into <t>, asserting success. */
static void gen(const struct workload_params *p, struct trace *t)
{
	struct ps_diag d;
	ps_diag_clear(&d);
	assert_ok(workload_diurnal(p, t, &d), &d);
}

/* The mean of value[from .. from + n). */
static double mean(const struct trace *t, size_t from, size_t n)
{
	cr_assert_leq(from + n, t->n);
	double sum = 0;
	for (size_t i = from; i < from + n; i++)
		sum += t->value[i];
	return sum / (double)n;
}

static double max_of(const double *v, size_t n)
{
	double m = v[0];
	for (size_t i = 1; i < n; i++)
		m = fmax(m, v[i]);
	return m;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return (x > y) - (x < y);
}

/* The median of the daily maxima of a series of whole days at the default step. */
static double daily_peak_median(const struct trace *t)
{
	size_t days = t->n / PER_DAY;
	cr_assert_geq(days, 1);
	cr_assert_leq(days, 64);
	double peaks[64];
	for (size_t d = 0; d < days; d++)
		peaks[d] = max_of(t->value + d * PER_DAY, PER_DAY);
	qsort(peaks, days, sizeof(peaks[0]), cmp_double);
	return days % 2 ? peaks[days / 2] : (peaks[days / 2 - 1] + peaks[days / 2]) / 2;
}

/* The default parameters without noise and without flash crowds: the smooth curve S(t). */
static struct workload_params smooth_params(void)
{
	struct workload_params p = workload_params_default();
	p.noise = 0;
	p.flash_crowds = 0;
	return p;
}

static void assert_close(double got, double want, double rel)
{
	cr_assert(fabs(got - want) <= rel * fabs(want), "got %.10g, want %.10g (+-%g relative)",
	          got, want, rel);
}

/* ---- determinism, length, clock ---- */

Test(workload, the_same_seed_gives_bit_identical_series_and_another_seed_a_different_one)
{
	struct workload_params p = workload_params_default();
	struct trace a, b, c;
	gen(&p, &a);
	gen(&p, &b);
	p.seed = 43;
	gen(&p, &c);

	cr_assert_eq(a.n, b.n);
	cr_assert_eq(memcmp(a.ts_ms, b.ts_ms, a.n * sizeof(a.ts_ms[0])), 0);
	cr_assert_eq(memcmp(a.value, b.value, a.n * sizeof(a.value[0])), 0);

	cr_assert_eq(a.n, c.n);
	cr_assert_eq(memcmp(a.ts_ms, c.ts_ms, a.n * sizeof(a.ts_ms[0])), 0);
	size_t differ = 0;
	for (size_t i = 0; i < a.n; i++)
		differ += a.value[i] != c.value[i];
	/* The noise touches every sample, so another seed changes (almost) all of them. */
	cr_assert_gt(differ, a.n * 99 / 100, "only %zu of %zu samples differ", differ, a.n);
	cr_assert_str_eq(a.source, "diurnal(seed=42)");
	cr_assert_str_eq(c.source, "diurnal(seed=43)");
	trace_release(&a);
	trace_release(&b);
	trace_release(&c);
}

Test(workload, fourteen_days_at_sixty_seconds_give_20160_samples_one_step_apart_from_the_start)
{
	struct workload_params p = workload_params_default();
	cr_assert_eq(p.start_ms, MONDAY_MS);
	cr_assert_eq(p.step_ms, 60000);
	cr_assert_eq(p.duration_ms, 14 * DAY_MS);

	struct trace t;
	gen(&p, &t);
	cr_assert_eq(t.n, 20160); /* 14 * 24 * 60 */
	cr_assert_eq(t.step_ms, 60000);
	cr_assert_eq(t.n_missing, 0);
	cr_assert_eq(t.n_skipped, 0);
	cr_assert_eq(t.ts_ms[0], MONDAY_MS);
	for (size_t i = 1; i < t.n; i++)
		cr_assert_eq(t.ts_ms[i] - t.ts_ms[i - 1], 60000, "at %zu", i);
	cr_assert_eq(t.ts_ms[t.n - 1], MONDAY_MS + 14 * DAY_MS - 60000);
	trace_release(&t);

	/* A duration that is not a whole number of steps ends at the last whole step. */
	p.duration_ms = 3 * DAY_MS + 59999;
	p.flash_crowds = 1;
	gen(&p, &t);
	cr_assert_eq(t.n, 3 * PER_DAY);
	trace_release(&t);
}

Test(workload, every_value_is_finite_and_positive_even_at_the_parameter_limits)
{
	struct workload_params cases[4];
	cases[0] = workload_params_default();
	cases[1] = workload_params_default();
	cases[1].daily_amplitude = 0.999;
	cases[1].weekly_amplitude = 0.999;
	cases[1].noise = 1;
	cases[1].seed = 7;
	cases[2] = cases[1];
	cases[2].base = 1e12;
	cases[2].flash_crowds = 200;
	cases[3] = cases[1];
	cases[3].base = 1e-9;
	cases[3].step_ms = 1000;
	cases[3].duration_ms = 3 * DAY_MS;
	for (size_t c = 0; c < 4; c++) {
		struct trace t;
		gen(&cases[c], &t);
		for (size_t i = 0; i < t.n; i++)
			cr_assert(isfinite(t.value[i]) && t.value[i] > 0,
			          "case %zu, sample %zu: %g", c, i, t.value[i]);
		trace_release(&t);
	}
}

/* ---- the cycles ---- */

/* The noiseless curve at known times, worked by hand from workload.h with base 1000, daily
 * amplitude 0.6, weekly 0.3:
 *  Wednesday 09:00: theta = -pi/2, s = 0 + 0.4*1 = 0.4, g = 0        -> 1000 * 1.24 = 1240
 *  Saturday 15:00:  theta = 0,     s = 1,           g = 1            -> 1000 * 1.6 * 0.7 = 1120
 *  Tuesday 03:00:   theta = -pi,   s = -1,          g = 0            -> 1000 * 0.4 = 400
 *  Monday 00:00:    theta = -5pi/4, s = 0.2 - sqrt(2)/2, g = 0.5 (the middle of the ramp)
 *                   -> 1000 * (1 + 0.6*(0.2 - sqrt(2)/2)) * 0.85 = 591.3755... */
Test(workload, without_noise_or_flash_crowds_the_curve_is_exact_and_matches_hand_computed_values)
{
	struct workload_params p = smooth_params();
	struct trace a, b, c;
	gen(&p, &a);
	gen(&p, &b);
	p.seed = 999; /* nothing random is left, so the seed must not matter */
	gen(&p, &c);
	cr_assert_eq(memcmp(a.value, b.value, a.n * sizeof(a.value[0])), 0);
	cr_assert_eq(memcmp(a.value, c.value, a.n * sizeof(a.value[0])), 0);

	assert_close(a.value[2 * PER_DAY + 9 * PER_HOUR], 1240.0, 1e-12);
	assert_close(a.value[5 * PER_DAY + 15 * PER_HOUR], 1120.0, 1e-12);
	assert_close(a.value[1 * PER_DAY + 3 * PER_HOUR], 400.0, 1e-12);
	assert_close(a.value[0], 1000.0 * (1.0 + 0.6 * (0.2 - sqrt(2.0) / 2.0)) * 0.85, 1e-12);
	/* Daily and weekly: the same hour a week later is the same value. */
	for (size_t i = 0; i < 7 * PER_DAY; i++)
		assert_close(a.value[i + 7 * PER_DAY], a.value[i], 1e-12);
	/* Smooth: one minute never moves the curve by more than 1% (the steepest slope of
	 * 1000 * 1.6 * 0.6 * 2pi/24 * ~1.1 is about 4.6 per minute, against a floor of 280). */
	for (size_t i = 1; i < a.n; i++)
		cr_assert_lt(fabs(a.value[i] - a.value[i - 1]), 0.01 * a.value[i - 1], "at %zu", i);
	trace_release(&a);
	trace_release(&b);
	trace_release(&c);

	/* The phase follows UTC, not the start: a series starting on Wednesday 09:00 opens at the
	 * Wednesday 09:00 value. */
	p.start_ms = MONDAY_MS + 2 * DAY_MS + 9 * HOUR_MS;
	p.duration_ms = DAY_MS;
	gen(&p, &a);
	assert_close(a.value[0], 1240.0, 1e-12);
	trace_release(&a);
}

/* Over Tuesday (a quiet weekday: no weekend ramp, no crowd before day 2) the noiseless means are,
 * integrating s over +-pi/4 around the peak and the trough:
 *  12:00-18:00: 1000 * (1 + 0.6 * (2*sqrt(2)/pi + 0.4*(1/2 - 1/pi))) = 1583.8
 *  00:00-06:00: 1000 * (1 - 0.6 * (2*sqrt(2)/pi - 0.4*(1/2 - 1/pi))) =  503.4
 * a ratio of 3.15. The noise (sd 0.05 on the log, about 18 independent values per 6 hours) moves
 * a 6-hour mean by a few percent, so with noise the ratio stays far above the 1.5 asserted; on
 * Monday the night is lower still (the weekend ramp ends at 02:00). */
Test(workload, afternoons_are_at_least_one_and_a_half_times_the_nights_on_quiet_weekdays)
{
	struct workload_params p = smooth_params();
	struct trace t;
	gen(&p, &t);
	assert_close(mean(&t, PER_DAY + 12 * PER_HOUR, 6 * PER_HOUR), 1583.8, 1e-3);
	assert_close(mean(&t, PER_DAY, 6 * PER_HOUR), 503.4, 1e-3);
	/* The trough is at 03:00 and the peak at 15:00 (s = -1 and +1). */
	size_t lo = PER_DAY, hi = PER_DAY;
	for (size_t i = PER_DAY; i < 2 * PER_DAY; i++) {
		lo = t.value[i] < t.value[lo] ? i : lo;
		hi = t.value[i] > t.value[hi] ? i : hi;
	}
	cr_assert_eq(lo, PER_DAY + 3 * PER_HOUR);
	cr_assert_eq(hi, PER_DAY + 15 * PER_HOUR);
	trace_release(&t);

	p = workload_params_default();
	gen(&p, &t);
	for (size_t day = 0; day < 2; day++) {
		double afternoon = mean(&t, day * PER_DAY + 12 * PER_HOUR, 6 * PER_HOUR);
		double night = mean(&t, day * PER_DAY, 6 * PER_HOUR);
		cr_assert_geq(afternoon, 1.5 * night, "day %zu: afternoon %g, night %g", day,
		              afternoon, night);
	}
	trace_release(&t);
}

/* Noiseless, the Saturday-Sunday mean over the Tuesday-Thursday mean is 0.7028: the 0.3 dip,
 * lifted a little by the ramps around Saturday 00:00 and Monday 00:00 (the weekday mean is
 * 1000 * (1 + 0.6 * 0.2) = 1120 exactly, since cos averages to 0 and 0.4 sin^2 to 0.2; the
 * weekend mean 787.19 is the formula summed minute by minute in a separate script). With noise
 * the ratio moves by well under 0.01 (two days of AR(1) noise average out), so 0.75 is safe. */
Test(workload, weekends_are_lower_than_weekdays)
{
	struct workload_params p = smooth_params();
	struct trace t;
	gen(&p, &t);
	assert_close(mean(&t, PER_DAY, 3 * PER_DAY), 1120.0, 1e-9);
	assert_close(mean(&t, 5 * PER_DAY, 2 * PER_DAY), 787.19, 1e-4);
	trace_release(&t);

	p.noise = workload_params_default().noise;
	gen(&p, &t);
	for (size_t week = 0; week < 2; week++) {
		double weekdays = mean(&t, week * 7 * PER_DAY, 5 * PER_DAY);
		double weekend = mean(&t, week * 7 * PER_DAY + 5 * PER_DAY, 2 * PER_DAY);
		cr_assert_lt(weekend, 0.75 * weekdays, "week %zu: weekend %g, weekdays %g", week,
		             weekend, weekdays);
		cr_assert_gt(weekend, 0.65 * weekdays, "week %zu: weekend %g, weekdays %g", week,
		             weekend, weekdays);
	}
	trace_release(&t);
}

/* ---- flash crowds ---- */

/* Each crowd tops out at m * P, m in [2, 4], P = 1000 * 1.6 the weekday peak, and holds the top
 * for more than one 60 s step, so the noiseless series reaches at least 2 * 1600 and at most
 * 4 * 1600; the daily peak median is P (10 of 14 days are weekdays and at most 4 hold a crowd).
 * With noise the daily maxima rise too (the median is 1828 for seed 42, the highest crowd 5888):
 * the bound is not a certainty then, but it held for every seed from 0 to 1999 (the lowest
 * ratio 2.04), so seed 42 is checked against it as the issue states it. */
Test(workload, flash_crowds_rise_above_twice_the_daily_peak_median_and_never_in_the_first_two_days)
{
	struct workload_params p = workload_params_default();
	struct trace with, without;
	gen(&p, &with);
	double med = daily_peak_median(&with);
	cr_assert_geq(max_of(with.value, with.n), 2 * med, "max %g, daily peak median %g",
	              max_of(with.value, with.n), med);
	p.flash_crowds = 0;
	gen(&p, &without);
	/* The same seed draws the same noise with or without crowds: the first two days are
	 * bit-identical, and the crowds only add load afterwards. */
	cr_assert_eq(memcmp(with.value, without.value, 2 * PER_DAY * sizeof(with.value[0])), 0);
	for (size_t i = 0; i < with.n; i++)
		cr_assert_geq(with.value[i], without.value[i], "at %zu", i);
	trace_release(&with);
	trace_release(&without);

	/* Noiseless: count the crowds as runs where they lift the curve, and measure them. */
	p = workload_params_default();
	p.noise = 0;
	gen(&p, &with);
	p.flash_crowds = 0;
	gen(&p, &without);
	cr_assert_eq(daily_peak_median(&with), 1600.0);
	size_t runs = 0;
	for (size_t i = 0; i < with.n;) {
		if (with.value[i] == without.value[i]) {
			i++;
			continue;
		}
		size_t begin = i;
		double top = 0;
		while (i < with.n && with.value[i] != without.value[i])
			top = fmax(top, with.value[i++]);
		runs++;
		cr_assert_geq(begin, 2 * PER_DAY, "a crowd at sample %zu, in the warm-up", begin);
		/* 10 to 60 minutes long: the samples strictly inside (onset, onset + L). */
		cr_assert_geq(i - begin, 9, "crowd at %zu lasts %zu samples", begin, i - begin);
		cr_assert_leq(i - begin, 60, "crowd at %zu lasts %zu samples", begin, i - begin);
		cr_assert_geq(top, 2 * 1600.0 * (1 - 1e-12), "crowd at %zu tops at %g", begin, top);
		cr_assert_leq(top, 4 * 1600.0 * (1 + 1e-12), "crowd at %zu tops at %g", begin, top);
		/* Sudden: the top is reached within 5 minutes of the first lifted sample. */
		size_t k = begin;
		while (with.value[k] < top * (1 - 1e-12))
			k++;
		cr_assert_leq(k - begin, 5, "crowd at %zu needs %zu samples to the top", begin,
		              k - begin);
	}
	cr_assert_eq(runs, 4);
	trace_release(&with);
	trace_release(&without);
}

/* ---- noise ---- */

/* The log residual against the noiseless series of the same seed is the AR(1) process alone,
 * minus the constant noise^2/2: its lag-1 autocorrelation is phi = exp(-60 s / 10 min) = 0.9048
 * and its standard deviation the noise, 0.05. With 20160 samples (about 1000 independent ones)
 * the estimates land within a few percent; the asserted bounds are looser. White noise would
 * give an autocorrelation near 0. */
Test(workload, the_noise_is_autocorrelated_with_a_lag_one_autocorrelation_above_one_half)
{
	struct workload_params p = workload_params_default();
	struct trace noisy, clean;
	gen(&p, &noisy);
	p.noise = 0;
	gen(&p, &clean);
	cr_assert_eq(noisy.n, clean.n);

	size_t n = noisy.n;
	double *r = malloc(n * sizeof(*r));
	cr_assert_not_null(r);
	double avg = 0;
	for (size_t i = 0; i < n; i++) {
		r[i] = log(noisy.value[i] / clean.value[i]);
		avg += r[i];
	}
	avg /= (double)n;
	double var = 0, cov = 0;
	for (size_t i = 0; i < n; i++) {
		var += (r[i] - avg) * (r[i] - avg);
		if (i + 1 < n)
			cov += (r[i] - avg) * (r[i + 1] - avg);
	}
	double lag1 = cov / var;
	double sd = sqrt(var / (double)n);
	cr_assert_gt(lag1, 0.5, "lag-1 autocorrelation %g", lag1);
	cr_assert(fabs(lag1 - exp(-0.1)) < 0.03, "lag-1 autocorrelation %g, want 0.9048", lag1);
	cr_assert(fabs(sd - 0.05) < 0.005, "noise sd %g, want 0.05", sd);
	/* The mean of the noise factor is 1: the residual's mean is near -noise^2/2. */
	cr_assert(fabs(avg + 0.05 * 0.05 / 2) < 0.01, "mean log residual %g", avg);
	free(r);
	trace_release(&noisy);
	trace_release(&clean);
}

/* ---- errors ---- */

struct bad_case {
	const char *what;
	struct workload_params p;
	enum ps_err code;
	const char *msg;
};

Test(workload, bad_parameters_are_rejected_with_their_exact_messages)
{
	struct workload_params d = workload_params_default();
	struct bad_case cases[] = {
	    {"zero step", d, PS_EINVAL, "workload: step must be positive (got 0 ms)"},
	    {"negative step", d, PS_EINVAL, "workload: step must be positive (got -5 ms)"},
	    {"one step", d, PS_EINVAL,
	     "workload: duration 60000 ms is shorter than 2 steps of 60000 ms"},
	    {"negative duration", d, PS_EINVAL,
	     "workload: duration -1 ms is shorter than 2 steps of 60000 ms"},
	    {"too many samples", d, PS_ETOOBIG,
	     "workload: 10000001 samples (duration / step) exceed the limit of 10000000"},
	    {"end too late", d, PS_EINVAL,
	     "workload: start 99999999999999 ms and duration 120000 ms leave the range of Unix "
	     "times accepted (|t| < 100000000000000 ms)"},
	    {"zero base", d, PS_EINVAL, "workload: base must be in (0, 1e12] (got 0)"},
	    {"NaN base", d, PS_EINVAL, "workload: base must be in (0, 1e12] (got nan)"},
	    {"huge base", d, PS_EINVAL, "workload: base must be in (0, 1e12] (got 1e+13)"},
	    {"daily 1", d, PS_EINVAL, "workload: daily amplitude must be in [0, 1) (got 1)"},
	    {"daily < 0", d, PS_EINVAL, "workload: daily amplitude must be in [0, 1) (got -0.1)"},
	    {"weekly 1.5", d, PS_EINVAL, "workload: weekly amplitude must be in [0, 1) (got 1.5)"},
	    {"noise < 0", d, PS_EINVAL, "workload: noise must be in [0, 1] (got -0.01)"},
	    {"noise inf", d, PS_EINVAL, "workload: noise must be in [0, 1] (got inf)"},
	    {"crowds in 2 days", d, PS_EINVAL,
	     "workload: 4 flash crowds need a duration of at least 2 days + 4 h (one hour each "
	     "after the 2-day warm-up; got 172800000 ms)"},
	};
	cases[0].p.step_ms = 0;
	cases[1].p.step_ms = -5;
	cases[2].p.duration_ms = 60000;
	cases[3].p.duration_ms = -1;
	cases[4].p.step_ms = 1;
	cases[4].p.duration_ms = 10000001;
	cases[5].p.start_ms = INT64_C(99999999999999);
	cases[5].p.duration_ms = 120000;
	cases[6].p.base = 0;
	cases[7].p.base = NAN;
	cases[8].p.base = 1e13;
	cases[9].p.daily_amplitude = 1;
	cases[10].p.daily_amplitude = -0.1;
	cases[11].p.weekly_amplitude = 1.5;
	cases[12].p.noise = -0.01;
	cases[13].p.noise = INFINITY;
	cases[14].p.duration_ms = 2 * DAY_MS;

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct trace t;
		memset(&t, 0xa5, sizeof(t)); /* whatever was there, a failure leaves it empty */
		struct ps_diag diag;
		ps_diag_clear(&diag);
		enum ps_err err = workload_diurnal(&cases[i].p, &t, &diag);
		cr_assert_eq(err, cases[i].code, "%s: want %s, got %s: %s", cases[i].what,
		             ps_err_name(cases[i].code), ps_err_name(err), ps_diag_msg(&diag));
		cr_assert_str_eq(ps_diag_msg(&diag), cases[i].msg, "%s", cases[i].what);
		cr_assert_eq(t.n, 0, "%s", cases[i].what);
		cr_assert_null(t.ts_ms, "%s", cases[i].what);
		cr_assert_null(t.value, "%s", cases[i].what);
		/* NULL diag is allowed. */
		cr_assert_eq(workload_diurnal(&cases[i].p, &t, NULL), cases[i].code);
	}

	/* The limits themselves are accepted. */
	struct workload_params ok = d;
	ok.duration_ms = 2 * DAY_MS + 4 * HOUR_MS;
	struct trace t;
	gen(&ok, &t);
	trace_release(&t);
	ok = d;
	ok.flash_crowds = 0;
	ok.duration_ms = 2 * ok.step_ms;
	ok.daily_amplitude = 0;
	ok.weekly_amplitude = 0;
	ok.noise = 1;
	gen(&ok, &t);
	cr_assert_eq(t.n, 2);
	trace_release(&t);
}

Test(workload, an_allocation_failure_gives_enomem_and_an_empty_trace)
{
	struct workload_params p = workload_params_default();
	/* The generator allocates twice (timestamps, values); fail each in turn. */
	for (uint64_t k = 1; k <= 2; k++) {
		struct trace t;
		struct ps_diag d;
		ps_diag_clear(&d);
		ps_alloc_fail_at(k);
		enum ps_err err = workload_diurnal(&p, &t, &d);
		ps_alloc_fail_at(0);
		cr_assert_eq(err, PS_ENOMEM, "allocation %llu: %s", (unsigned long long)k,
		             ps_err_name(err));
		cr_assert_str_eq(ps_diag_msg(&d), "workload: out of memory for 20160 samples");
		cr_assert_eq(t.n, 0);
		cr_assert_null(t.ts_ms);
		cr_assert_null(t.value);
		trace_release(&t); /* harmless on a failed trace */
	}
	/* Nothing is left behind: the leak checker of the sanitizer build sees the process end. */
	struct trace t;
	gen(&p, &t);
	trace_release(&t);
}

Test(workload, only_the_known_workload_names_are_accepted)
{
	enum workload_kind k = (enum workload_kind) - 1;
	struct ps_diag d;
	ps_diag_clear(&d);
	cr_assert_eq(workload_parse_name("diurnal", &k, &d), PS_OK);
	cr_assert_eq(k, WORKLOAD_DIURNAL);

	const char *bad[] = {"Diurnal", "", "diurnal ", "sine"};
	const char *want[] = {
	    "unknown workload \"Diurnal\" (known workloads: diurnal)",
	    "unknown workload \"\" (known workloads: diurnal)",
	    "unknown workload \"diurnal \" (known workloads: diurnal)",
	    "unknown workload \"sine\" (known workloads: diurnal)",
	};
	for (size_t i = 0; i < 4; i++) {
		ps_diag_clear(&d);
		cr_assert_eq(workload_parse_name(bad[i], &k, &d), PS_EINVAL, "%s", bad[i]);
		cr_assert_str_eq(ps_diag_msg(&d), want[i]);
	}
}
