/* workload.h -- synthetic demand series for `prescale simulate --workload NAME`, so a demo or a
 * test needs no data file.
 *
 * DESIGN
 * A workload fills the same struct trace (trace.h) as a recorded series, so the simulator cannot
 * tell the two apart. Generation is pure and deterministic: its own PRNG (xoshiro256** seeded by
 * splitmix64) and its own Box-Muller transform, no libc rand(), no global state, so a seed gives
 * the same series on every run and machine, bit for bit wherever the C library's sin, cos, exp,
 * log and sqrt round alike (the same libm does; C11 without GNU extensions keeps GCC from
 * contracting a*b+c into an FMA).
 *
 * "diurnal": realistic web traffic in requests-per-step units. At a sample time t (Unix ms, UTC):
 *
 *   h     = hour of the day (0 <= h < 24), theta = 2*pi*(h - 15)/24
 *   s(h)  = cos(theta) + 0.4*sin^2(theta)        = cos(theta) - 0.2*cos(2*theta) + 0.2, two
 *           harmonics: exactly 1 at 15:00 (peak) and -1 at 03:00 (trough), with a broad afternoon
 *           and a narrow night valley
 *   g(t)  = weekend weight: 0 on weekdays, 1 from Saturday 02:00 to Sunday 22:00, raised-cosine
 *           ramps of 4 hours centred on Saturday 00:00 and Monday 00:00
 *   S(t)  = base * (1 + daily_amplitude*s(h)) * (1 - weekly_amplitude*g(t))     the smooth curve
 *   P     = base * (1 + daily_amplitude)          the weekday peak, the largest value of S
 *   F(t)  = S(t) + (m*P - S(t)) * shape(t)        inside a flash crowd, S(t) outside
 *   v(t)  = F(t) * exp(x_k - noise^2/2)           the sample k written to the trace
 *
 * Flash crowds: the span from start + 2 days (so a forecaster can warm up) to the end is cut into
 * <flash_crowds> equal slots and each slot holds one crowd at a seeded random place, so crowds
 * never overlap. A crowd draws a top multiple m in [2, 4] of the weekday peak P, a length L in
 * [10, 60] min and a ramp r in [2, 5] min; shape rises linearly from 0 to 1 over r, holds 1 for
 * (L - r)/4 and falls back to 0 along a half cosine over the remaining 3(L - r)/4. The hold lasts
 * at least 75 s, so at a step of 60 s at least one sample sits on the top m*P.
 *
 * Noise: x is AR(1) on the log, x_0 = noise*e_0, x_k = phi*x_{k-1} + noise*sqrt(1 - phi^2)*e_k,
 * e standard normal, phi = exp(-step/10 min): a stationary standard deviation of <noise>
 * whatever the step, correlated over about ten minutes (phi = 0.905 at a 60 s step). The
 * -noise^2/2 keeps the mean of exp() at 1. The crowds and the noise come from two separate
 * streams of the seed, so noise 0 with the same seed gives the same crowds without the noise.
 * Every value is finite and > 0: S > 0 since both amplitudes are below 1, and F >= S.
 */
#ifndef WORKLOAD_H
#define WORKLOAD_H

#include <stdint.h>

#include "ps_compiler.h"
#include "ps_diag.h"
#include "ps_err.h"
#include "trace.h"

/* The most samples (duration / step) one workload may have: 10 million, 160 MB of arrays. */
#define WORKLOAD_MAX_SAMPLES ((int64_t)10000000)
/* The workload names workload_parse_name() accepts, for usage text and messages. */
#define WORKLOAD_NAMES "diurnal"

enum workload_kind { WORKLOAD_DIURNAL };

struct workload_params {
	uint64_t seed;           /* any value; the same seed gives the same series */
	int64_t start_ms;        /* the first sample's time, Unix ms (UTC sets day and week) */
	int64_t step_ms;         /* > 0 */
	int64_t duration_ms;     /* >= 2 steps; samples at start + k*step for k*step < duration */
	double base;             /* > 0: the curve's level before the cycles */
	double daily_amplitude;  /* [0, 1): swing of the daily curve, relative to base */
	double weekly_amplitude; /* [0, 1): how much lower Saturday and Sunday are, relative */
	double noise;            /* [0, 1]: standard deviation of the log noise (relative noise) */
	unsigned flash_crowds;   /* crowds after the 2-day warm-up; needs one hour each */
};

/* The parameters of the demo series: seed 42, start 2026-11-02T00:00:00Z (a Monday), a 60 s step
 * for 14 days (20160 samples), base 1000, daily amplitude 0.6, weekend dip 0.3, noise 0.05,
 * 4 flash crowds. */
struct workload_params workload_params_default(void);

/* Generates the "diurnal" series (the formula above) described by <p> (borrowed, not NULL) into
 * <out> (not NULL; its previous contents are overwritten, not freed). Returns PS_OK with <out>
 * holding owned arrays (free with trace_release()), n = duration / step samples, step_ms, no
 * missing or skipped samples and source "diurnal(seed=<seed>)". On failure <out> is zeroed and
 * <diag> (may be NULL) says why, as "workload: ...": PS_EINVAL for a parameter out of its range,
 * PS_ETOOBIG above WORKLOAD_MAX_SAMPLES, PS_ENOMEM. Pure computation, no I/O, no global state:
 * safe from any thread. */
PS_MUST_CHECK enum ps_err workload_diurnal(const struct workload_params *p, struct trace *out,
                                           struct ps_diag *diag);

/* Looks up the workload called <name> (borrowed, not NULL; exact, case-sensitive) and stores its
 * kind in <out> (not NULL). Returns PS_OK, or PS_EINVAL with <diag> (may be NULL) saying
 * `unknown workload "<name>" (known workloads: diurnal)`. */
PS_MUST_CHECK enum ps_err workload_parse_name(const char *name, enum workload_kind *out,
                                              struct ps_diag *diag);

#endif
