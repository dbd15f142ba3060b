/* forecast_int.h -- internals shared by forecast.c, forecast_models.c and forecast_fit.c. */
#ifndef FORECAST_INT_H
#define FORECAST_INT_H

#include "forecast.h"

/* Largest array (in slots) fc_init agrees to size: 4 Mi cells, 32 MiB of doubles. */
#define FC_MAX_SLOTS ((size_t)1 << 22)

/* Timestamps beyond +-2^62 ms (146 million years) are rejected, so slot arithmetic cannot
 * overflow. */
#define FC_TS_LIMIT ((int64_t)1 << 62)

/* The slot of <ts_ms>: round(ts_ms / step_ms), ties up, floor semantics for negative times.
 * False when <ts_ms> is out of range. */
static inline bool fc_slot_of(int64_t ts_ms, int64_t step_ms, int64_t *slot)
{
	if (ts_ms > FC_TS_LIMIT || ts_ms < -FC_TS_LIMIT)
		return false;
	int64_t t = ts_ms + step_ms / 2;
	*slot = t / step_ms - (t % step_ms < 0);
	return true;
}

/* Factors and levels below this count as zero in the multiplicative model (no division). */
#define FC_TINY 1e-9

/* slot mod n, in [0, n), also for negative slots. */
static inline size_t fc_pmod(int64_t slot, size_t n)
{
	int64_t r = slot % (int64_t)n;
	return (size_t)(r < 0 ? r + (int64_t)n : r);
}

/* ---- one model (forecast_models.c) ---- */

/* Default parameters of <k>; <damped> picks phi < 1; <wmax> the longest regression window. */
void fc_params_default(enum fc_kind k, bool damped, size_t wmax, struct fc_params *p);
/* Forgets the state of <c> (not its parameters or arrays): O(season + window). */
void fc_cand_reset(struct fc_cand *c);
/* Feeds <y> at <slot> (> c->last_slot once c->any). */
void fc_cand_step(struct fc_cand *c, int64_t slot, double y);
/* The point forecast <j> >= 1 steps after c->last_slot; always finite once c->any. */
double fc_cand_predict(const struct fc_cand *c, size_t j);
/* phi + phi^2 + ... + phi^g (0 for g <= 0): the trend multiplier g steps ahead. */
double fc_damp_sum(double phi, int64_t g);
/* fc_cand_predict with <phisum> = fc_damp_sum(c->p.phi, j) computed once by the caller (the
 * fitting loop forecasts at one horizon with fixed parameters). */
double fc_cand_predict_ds(const struct fc_cand *c, size_t j, double phisum);
/* The peak of the point forecasts over steps 1..<n> and the value at step <n>. */
/* The point forecasts 1..n steps ahead: *peak is the largest of steps first..n (first >= 1,
 * clamped to n), *last the one n steps ahead. */
void fc_cand_path(const struct fc_cand *c, size_t first, size_t n, double *peak, double *last);

/* ---- the model (forecast.c) ---- */

/* Forgets the state of every model run by <m>, the pending forecasts and the error windows;
 * keeps the parameters. */
void fc_model_reset_state(struct fc_model *m);
/* The slot step: scores pending forecasts for <slot>, feeds every model, emits the next
 * h-step forecasts. <slot> must be > m->last_slot (or the first). */
void fc_model_step(struct fc_model *m, int64_t slot, double y);

#endif
