/* workload.c -- the seeded synthetic "diurnal" series (formula and design in workload.h).
 *
 * One pass over the samples: the smooth curve from the sample's UTC time, the flash crowd of the
 * sample's slot (drawn when the pass first enters the slot, so crowds are drawn in time order
 * and need no array), then the AR(1) log noise. The two random streams come from one splitmix64
 * sequence seeded with <seed>: the first four words seed the noise generator, the next four the
 * crowd generator.
 */
#include "workload.h"

#include <inttypes.h>
#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "ps_alloc.h"
#include "ps_text.h"

#define MS_PER_HOUR ((int64_t)3600000)
#define MS_PER_DAY (24 * MS_PER_HOUR)
#define MS_PER_WEEK (7 * MS_PER_DAY)
/* 1970-01-01 was a Thursday: Unix time plus three days counts from a Monday 00:00. */
#define EPOCH_SINCE_MONDAY (3 * MS_PER_DAY)

#define PI 3.14159265358979323846

/* The daily curve peaks at this hour (UTC) and bottoms out twelve hours away. */
#define PEAK_HOUR 15.0
/* Weight of sin^2 in the daily curve: 2b for a second harmonic -b*cos(2 theta); b <= 1/4 keeps
 * the extremes at exactly +1 and -1. */
#define SECOND_HARMONIC 0.4
/* The weekend weight ramps over this many hours, centred on Saturday 00:00 and Monday 00:00. */
#define WEEKEND_RAMP_H 4.0
#define SATURDAY_H (5 * 24.0)
#define WEEK_H (7 * 24.0)

/* No flash crowd starts in the first two days, so a forecaster can warm up. */
#define WARMUP_MS (2 * MS_PER_DAY)
/* Each crowd needs a slot of at least the longest crowd. */
#define SLOT_MIN_MS MS_PER_HOUR
#define FLASH_MIN_TOP 2.0
#define FLASH_MAX_TOP 4.0
#define FLASH_MIN_MS (10.0 * 60000.0)
#define FLASH_MAX_MS (60.0 * 60000.0)
#define RAMP_MIN_MS (2.0 * 60000.0)
#define RAMP_MAX_MS (5.0 * 60000.0)

/* Correlation time of the log noise: phi = exp(-step / NOISE_TAU_MS). */
#define NOISE_TAU_MS (10.0 * 60000.0)

/* Bounds that keep every value finite and every timestamp inside what trace.h accepts. */
#define BASE_MAX 1e12
#define TIME_LIMIT_MS (TRACE_MAX_ABS_SECONDS * 1000)

#define NAME_QUOTE_MAX 40

/* ---- random numbers: splitmix64 to seed, xoshiro256** to draw, Box-Muller for normals ---- */

struct rng {
	uint64_t s[4];
};

static uint64_t splitmix64(uint64_t *state)
{
	uint64_t z = (*state += 0x9e3779b97f4a7c15ULL);
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

static uint64_t rotl(uint64_t x, int k)
{
	return (x << k) | (x >> (64 - k));
}

static void rng_seed(struct rng *r, uint64_t *sm)
{
	/* splitmix64's output is a bijection of its counter, so four outputs are never all zero,
	 * the one state xoshiro cannot leave. */
	for (size_t i = 0; i < 4; i++)
		r->s[i] = splitmix64(sm);
}

static uint64_t rng_next(struct rng *r)
{
	uint64_t *s = r->s;
	uint64_t result = rotl(s[1] * 5, 7) * 9;
	uint64_t t = s[1] << 17;
	s[2] ^= s[0];
	s[3] ^= s[1];
	s[1] ^= s[2];
	s[0] ^= s[3];
	s[2] ^= t;
	s[3] = rotl(s[3], 45);
	return result;
}

/* Uniform in [0, 1), 53 random bits. */
static double rng_uniform(struct rng *r)
{
	return (double)(rng_next(r) >> 11) * 0x1.0p-53;
}

struct gauss {
	struct rng rng;
	bool has_spare;
	double spare;
};

/* A standard normal by the Box-Muller transform; the second value of each pair is kept. */
static double gauss_next(struct gauss *g)
{
	if (g->has_spare) {
		g->has_spare = false;
		return g->spare;
	}
	/* u1 in (0, 1] so that log(u1) is finite. */
	double u1 = (double)((rng_next(&g->rng) >> 11) + 1) * 0x1.0p-53;
	double u2 = rng_uniform(&g->rng);
	double radius = sqrt(-2.0 * log(u1));
	g->spare = radius * sin(2.0 * PI * u2);
	g->has_spare = true;
	return radius * cos(2.0 * PI * u2);
}

/* ---- the smooth curve ---- */

static int64_t floor_mod(int64_t a, int64_t m)
{
	int64_t r = a % m;
	return r < 0 ? r + m : r;
}

/* 0 at x = 0 rising smoothly to 1 at x = 1. */
static double raised_cosine(double x)
{
	return 0.5 * (1.0 - cos(PI * x));
}

/* The weekend weight g at <u> hours since Monday 00:00 (0 <= u < 168). */
static double weekend_weight(double u)
{
	const double half = WEEKEND_RAMP_H / 2;
	if (u < half) /* the tail of the Sunday-to-Monday ramp */
		return 1.0 - raised_cosine((u + half) / WEEKEND_RAMP_H);
	if (u < SATURDAY_H - half)
		return 0.0;
	if (u < SATURDAY_H + half)
		return raised_cosine((u - (SATURDAY_H - half)) / WEEKEND_RAMP_H);
	if (u < WEEK_H - half)
		return 1.0;
	return 1.0 - raised_cosine((u - (WEEK_H - half)) / WEEKEND_RAMP_H);
}

/* S(t) of workload.h at Unix time <t_ms>. */
static double smooth_curve(const struct workload_params *p, int64_t t_ms)
{
	int64_t in_week = floor_mod(t_ms + EPOCH_SINCE_MONDAY, MS_PER_WEEK);
	double h = (double)(in_week % MS_PER_DAY) / (double)MS_PER_HOUR;
	double u = (double)in_week / (double)MS_PER_HOUR;
	double theta = 2.0 * PI * (h - PEAK_HOUR) / 24.0;
	double sn = sin(theta);
	double daily = cos(theta) + SECOND_HARMONIC * sn * sn;
	return p->base * (1.0 + p->daily_amplitude * daily) *
	       (1.0 - p->weekly_amplitude * weekend_weight(u));
}

/* ---- flash crowds ---- */

struct flash {
	double onset; /* ms since start */
	double ramp;  /* ms from onset to the top */
	double hold;  /* ms at the top */
	double decay; /* ms of the half-cosine fall */
	double top;   /* m: the top is m times the weekday peak */
};

/* Draws the crowd of the slot starting at <slot_start> ms (since start), <slot_len> ms long. */
static struct flash flash_draw(struct rng *r, double slot_start, double slot_len)
{
	struct flash f;
	double len = FLASH_MIN_MS + (FLASH_MAX_MS - FLASH_MIN_MS) * rng_uniform(r);
	f.ramp = RAMP_MIN_MS + (RAMP_MAX_MS - RAMP_MIN_MS) * rng_uniform(r);
	f.top = FLASH_MIN_TOP + (FLASH_MAX_TOP - FLASH_MIN_TOP) * rng_uniform(r);
	/* slot_len >= SLOT_MIN_MS >= FLASH_MAX_MS (validated), so the crowd ends in its slot. */
	f.onset = slot_start + (slot_len - len) * rng_uniform(r);
	f.hold = (len - f.ramp) / 4;
	f.decay = len - f.ramp - f.hold;
	return f;
}

/* How far (0..1) the crowd <f> has lifted the load toward its top at <rel> ms since start. */
static double flash_shape(const struct flash *f, double rel)
{
	double tau = rel - f->onset;
	if (tau <= 0)
		return 0.0;
	if (tau < f->ramp)
		return tau / f->ramp;
	tau -= f->ramp;
	if (tau <= f->hold)
		return 1.0;
	tau -= f->hold;
	if (tau >= f->decay)
		return 0.0;
	return 1.0 - raised_cosine(tau / f->decay);
}

/* ---- parameters ---- */

struct workload_params workload_params_default(void)
{
	return (struct workload_params){
	    .seed = 42,
	    .start_ms = INT64_C(1793577600000), /* 2026-11-02T00:00:00Z, a Monday */
	    .step_ms = 60000,
	    .duration_ms = 14 * MS_PER_DAY,
	    .base = 1000.0,
	    .daily_amplitude = 0.6,
	    .weekly_amplitude = 0.3,
	    .noise = 0.05,
	    .flash_crowds = 4,
	};
}

/* Checks <p>; returns PS_OK or the error, with the message in <diag>. */
static enum ps_err validate(const struct workload_params *p, struct ps_diag *diag)
{
	if (p->step_ms <= 0)
		return ps_diag_set(diag, PS_EINVAL,
		                   "workload: step must be positive (got %" PRId64 " ms)",
		                   p->step_ms);
	if (p->duration_ms < p->step_ms || p->duration_ms / p->step_ms < 2)
		return ps_diag_set(diag, PS_EINVAL,
		                   "workload: duration %" PRId64
		                   " ms is shorter than 2 steps of %" PRId64 " ms",
		                   p->duration_ms, p->step_ms);
	if (p->duration_ms / p->step_ms > WORKLOAD_MAX_SAMPLES)
		return ps_diag_set(diag, PS_ETOOBIG,
		                   "workload: %" PRId64
		                   " samples (duration / step) exceed the limit of %" PRId64,
		                   p->duration_ms / p->step_ms, WORKLOAD_MAX_SAMPLES);
	if (p->start_ms <= -TIME_LIMIT_MS || p->start_ms >= TIME_LIMIT_MS ||
	    p->duration_ms >= TIME_LIMIT_MS - p->start_ms)
		return ps_diag_set(diag, PS_EINVAL,
		                   "workload: start %" PRId64 " ms and duration %" PRId64
		                   " ms leave the range of Unix times accepted (|t| < %" PRId64
		                   " ms)",
		                   p->start_ms, p->duration_ms, TIME_LIMIT_MS);
	if (!(p->base > 0 && p->base <= BASE_MAX))
		return ps_diag_set(diag, PS_EINVAL, "workload: base must be in (0, 1e12] (got %g)",
		                   p->base);
	if (!(p->daily_amplitude >= 0 && p->daily_amplitude < 1))
		return ps_diag_set(diag, PS_EINVAL,
		                   "workload: daily amplitude must be in [0, 1) (got %g)",
		                   p->daily_amplitude);
	if (!(p->weekly_amplitude >= 0 && p->weekly_amplitude < 1))
		return ps_diag_set(diag, PS_EINVAL,
		                   "workload: weekly amplitude must be in [0, 1) (got %g)",
		                   p->weekly_amplitude);
	if (!(p->noise >= 0 && p->noise <= 1))
		return ps_diag_set(diag, PS_EINVAL, "workload: noise must be in [0, 1] (got %g)",
		                   p->noise);
	/* flash_crowds < 2^32, so the product stays far inside int64_t. */
	if (p->flash_crowds > 0 &&
	    p->duration_ms < WARMUP_MS + (int64_t)p->flash_crowds * SLOT_MIN_MS)
		return ps_diag_set(
		    diag, PS_EINVAL,
		    "workload: %u flash crowds need a duration of at least 2 days + %u h "
		    "(one hour each after the 2-day warm-up; got %" PRId64 " ms)",
		    p->flash_crowds, p->flash_crowds, p->duration_ms);
	return PS_OK;
}

/* ---- generation ---- */

enum ps_err workload_diurnal(const struct workload_params *p, struct trace *out,
                             struct ps_diag *diag)
{
	PS_ASSERT(p != NULL && out != NULL);
	memset(out, 0, sizeof(*out));
	enum ps_err err = validate(p, diag);
	if (err)
		return err;

	size_t n = (size_t)(p->duration_ms / p->step_ms);
	int64_t *ts = ps_calloc(n, sizeof(*ts));
	double *value = ps_calloc(n, sizeof(*value));
	if (!ts || !value) {
		ps_free(ts);
		ps_free(value);
		return ps_diag_set(diag, PS_ENOMEM, "workload: out of memory for %zu samples", n);
	}

	uint64_t sm = p->seed;
	struct gauss noise = {0};
	struct rng crowd_rng;
	rng_seed(&noise.rng, &sm);
	rng_seed(&crowd_rng, &sm);

	double peak = p->base * (1.0 + p->daily_amplitude);
	double step = (double)p->step_ms;
	double phi = exp(-step / NOISE_TAU_MS);
	double innovation = p->noise * sqrt(1.0 - phi * phi);
	double bias = p->noise * p->noise / 2;
	double x = p->noise > 0 ? p->noise * gauss_next(&noise) : 0.0;

	double slot_len = p->flash_crowds > 0
	                      ? (double)(p->duration_ms - WARMUP_MS) / (double)p->flash_crowds
	                      : 0.0;
	unsigned drawn = 0; /* crowds drawn so far; <crowd> is the last one */
	struct flash crowd = {0};

	for (size_t k = 0; k < n; k++) {
		int64_t rel_ms = (int64_t)k * p->step_ms;
		ts[k] = p->start_ms + rel_ms;
		double v = smooth_curve(p, ts[k]);

		if (p->flash_crowds > 0 && rel_ms >= WARMUP_MS) {
			double rel = (double)rel_ms;
			double since = rel - (double)WARMUP_MS;
			unsigned slot =
			    (unsigned)fmin(floor(since / slot_len), (double)(p->flash_crowds - 1));
			while (drawn <= slot) {
				crowd = flash_draw(&crowd_rng, (double)WARMUP_MS + drawn * slot_len,
				                   slot_len);
				drawn++;
			}
			double shape = flash_shape(&crowd, rel);
			if (shape > 0)
				v += (crowd.top * peak - v) * shape;
		}

		if (p->noise > 0) {
			if (k > 0)
				x = phi * x + innovation * gauss_next(&noise);
			v *= exp(x - bias);
		}
		value[k] = v;
	}

	out->n = n;
	out->ts_ms = ts;
	out->value = value;
	out->step_ms = p->step_ms;
	snprintf(out->source, sizeof(out->source), "diurnal(seed=%" PRIu64 ")", p->seed);
	return PS_OK;
}

enum ps_err workload_parse_name(const char *name, enum workload_kind *out, struct ps_diag *diag)
{
	PS_ASSERT(name != NULL && out != NULL);
	if (strcmp(name, "diurnal") == 0) {
		*out = WORKLOAD_DIURNAL;
		return PS_OK;
	}
	char q[PS_QUOTE_BUF(NAME_QUOTE_MAX)];
	return ps_diag_set(diag, PS_EINVAL, "unknown workload %s (known workloads: %s)",
	                   ps_text_quote(q, sizeof(q), name, strlen(name), NAME_QUOTE_MAX),
	                   WORKLOAD_NAMES);
}
