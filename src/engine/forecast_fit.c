/* forecast_fit.c -- fitting the model parameters on history: grid, then Nelder-Mead, on the MAE
 * of the h-step forecast; then the replay that rebuilds the state (design in forecast.h).
 *
 * Everything runs in memory sized by fc_init: the binned history (scr_y, history_ms / step_ms
 * slots) and one scratch model (fit) that each candidate parameter set is run through. Cost per
 * objective evaluation: one pass over the fitted slots, O(1) per slot.
 *
 * Where the time goes: a few hundred evaluations per model, each a pass of about 10^4 slots
 * whose recursion is latency-bound (every step waits for the previous level and trend). So:
 * - the steady state runs in loops specialised per model (holt_run, hw_run) that do exactly
 *   the arithmetic of forecast_models.c, in the same order, with the season phases counted
 *   instead of divided and the damp sum at the horizon computed once: the same bits as
 *   fc_cand_step + fc_cand_predict, several times faster;
 * - Holt-Winters' first season only collects start values, which no parameter affects: it is
 *   run once per model (take_snapshot) and every evaluation starts after it;
 * - an evaluation whose value only matters if it is below some bound stops as soon as it is
 *   known not to be (see objective());
 * - a local search stops when its simplex agrees to NM_FTOL (relative), and restarts only
 *   while that gains more than NM_RESTART_GAIN.
 */
#include <math.h>
#include <string.h>

#include "forecast_int.h"

enum { P_ALPHA, P_BETA, P_GAMMA, P_PHI, P_DELTA, P_N };
#define NM_MAX_DIM 5
#define NM_STARTS 3  /* local searches, from the best grid points */
#define NM_RUNS 3    /* Nelder-Mead runs per local search, at most */
#define U_BOUND 9.21 /* logistic(9.21) = 1 - 1e-4: parameters stay in [1e-4, 1 - 1e-4] */
/* A run ends when its simplex is this small in logit space, or when the values at its vertices
 * agree to NM_FTOL relative: 1e-4 of the MAE is far below what separates two forecasts, and a
 * tighter tolerance costs twice the evaluations for nothing measurable (MASE on real traces
 * moves by < 0.03%). A local search restarts while a run gains more than NM_RESTART_GAIN. */
#define NM_XTOL 1e-2
#define NM_FTOL 1e-4
#define NM_RESTART_GAIN 1e-4

/* The coarse grid of each parameter. */
static const double grid_alpha[] = {0.05, 0.2, 0.5, 0.8};
static const double grid_beta[] = {0.005, 0.05, 0.2};
static const double grid_gamma[] = {0.02, 0.1, 0.3, 0.6};
static const double grid_phi[] = {0.9, 0.98, 0.998};
static const double grid_delta[] = {0.02, 0.1};

static const double *const grids[P_N] = {grid_alpha, grid_beta, grid_gamma, grid_phi, grid_delta};
static const size_t grid_len[P_N] = {PS_ARRAY_LEN(grid_alpha), PS_ARRAY_LEN(grid_beta),
                                     PS_ARRAY_LEN(grid_gamma), PS_ARRAY_LEN(grid_phi),
                                     PS_ARRAY_LEN(grid_delta)};

struct fit_run {
	struct fc_model *m;
	const double *y;   /* binned history, NaN = missing */
	int64_t base;      /* slot of y[0] */
	size_t n_fit;      /* slots used for fitting (the rest is held out) */
	size_t score_from; /* the origins scored: s in [score_from, score_end) with y[s] and */
	size_t score_end;  /* y[s + h] present (see scored()) */
	size_t n_scored;   /* how many: the same for every parameter set */
	size_t evals;
	/* Holt-Winters: the scratch model after its first season, taken once per fitted model
	 * (take_snapshot); its daily cells are the second half of m->fit.day. */
	bool snap_ok;
	size_t snap_s; /* the slot after the first season */
	struct fc_cand snap;
};

static double *param_ref(struct fc_params *p, int id)
{
	switch (id) {
	case P_ALPHA:
		return &p->alpha;
	case P_BETA:
		return &p->beta;
	case P_GAMMA:
		return &p->gamma;
	case P_PHI:
		return &p->phi;
	default:
		return &p->delta;
	}
}

static bool scored(const struct fit_run *r, size_t s)
{
	return s >= r->score_from && s < r->score_end && !isnan(r->y[s + r->m->h]);
}

/* ---- the objective ---- */

/* The running sum of absolute errors of one evaluation, and its bound: the caller only needs
 * to know whether the MAE is below it. The sum only grows (terms >= 0, rounding monotone), so
 * once the partial sum over all n_scored origins reaches the bound the evaluation stops. */
#define ABANDON_EVERY 64 /* scored origins between bound checks */

struct obj_acc {
	double sum, bound;
	size_t cnt;
};

/* Adds one error; false when the evaluation can no longer end below the bound. */
static inline bool acc_add(struct obj_acc *a, const struct fit_run *r, double e)
{
	a->sum += e;
	return ++a->cnt % ABANDON_EVERY != 0 || a->sum / (double)r->n_scored < a->bound;
}

/* One sample through the generic model code, and its score: the slots the loops below do not
 * cover (Holt's first two samples, the sample after a gap, a broken state, the regression). */
static bool generic_slot(const struct fit_run *r, struct fc_cand *c, size_t s, double phisum,
                         struct obj_acc *a)
{
	fc_cand_step(c, r->base + (int64_t)s, r->y[s]);
	if (!scored(r, s))
		return true;
	return acc_add(a, r, fabs(r->y[s + r->m->h] - fc_cand_predict_ds(c, r->m->h, phisum)));
}

/* Holt over the consecutive samples from y[*ps] on (c inited and not broken, y[*ps] the slot
 * after c->last_slot): holt_step and fc_cand_predict_ds inlined, the same arithmetic in the
 * same order. Stops at a missing sample or the end, or after a step that breaks the state or
 * reaches the bound; false for the bound. */
static bool holt_run(const struct fit_run *r, struct fc_cand *c, size_t *ps, double phisum,
                     struct obj_acc *a)
{
	const double *y = r->y;
	const size_t n = r->n_fit, h = r->m->h;
	const double alpha = c->p.alpha, beta = c->p.beta, phi = c->p.phi;
	double level = c->level, trend = c->trend, v = c->last_y;
	size_t s = *ps;
	bool ok = true, broken = false;
	while (s < n && !isnan(y[s])) {
		v = y[s];
		double prior = level + phi * trend;
		double lv = alpha * v + (1 - alpha) * prior;
		trend = beta * (lv - level) + (1 - beta) * phi * trend;
		level = lv;
		broken = !isfinite(level) || !isfinite(trend);
		if (scored(r, s)) {
			/* as fc_cand_predict: the last value if broken or not finite */
			double f = level + phisum * trend;
			ok = acc_add(a, r, fabs(y[s + h] - (!broken && isfinite(f) ? f : v)));
		}
		s++;
		if (broken || !ok)
			break;
	}
	c->level = level;
	c->trend = trend;
	c->broken = broken;
	c->last_y = v;
	c->last_slot = r->base + (int64_t)s - 1;
	*ps = s;
	return ok;
}

/* Holt-Winters (<mul>: multiplicative) over consecutive samples, as holt_run: hw_step, day_get,
 * week_get and fc_cand_predict_ds inlined, the season phases counted instead of divided. */
static inline bool hw_run(const struct fit_run *r, struct fc_cand *c, size_t *ps, double phisum,
                          struct obj_acc *a, const bool mul)
{
	const double *y = r->y;
	const size_t n = r->n_fit, h = r->m->h, m = c->m, mw = c->week ? c->mw : 0;
	const double alpha = c->p.alpha, beta = c->p.beta, gamma = c->p.gamma, delta = c->p.delta,
	             phi = c->p.phi;
	const double neutral = mul ? 1.0 : 0.0, off = c->off;
	double *day = c->day, *week = c->week;
	double level = c->level, trend = c->trend, v = c->last_y;
	size_t s = *ps;
	int64_t slot = r->base + (int64_t)s;
	/* phases of the sample and of its forecast's target */
	size_t pd = fc_pmod(slot, m), pw = mw ? fc_pmod(slot, mw) : 0;
	const size_t hd = h % m, hw = mw ? h % mw : 0;
	bool ok = true, broken = false;
	while (s < n && !isnan(y[s])) {
		v = y[s];
		double raw = day[pd];
		double d = isnan(raw) ? neutral : (mul ? raw / off : raw - off);
		double w = mw ? week[pw] : neutral;
		double prior = level + phi * trend;
		double lv, d_new, w_new;
		if (mul) {
			double sw = d * w;
			lv = sw > FC_TINY ? alpha * (v / sw) + (1 - alpha) * prior : prior;
			d_new = d;
			w_new = w;
			if (lv > FC_TINY) {
				if (w > FC_TINY)
					d_new = gamma * (v / (lv * w)) + (1 - gamma) * d;
				if (d > FC_TINY)
					w_new = delta * (v / (lv * d)) + (1 - delta) * w;
			}
		} else {
			lv = alpha * (v - d - w) + (1 - alpha) * prior;
			d_new = gamma * (v - lv - w) + (1 - gamma) * d;
			w_new = delta * (v - lv - d) + (1 - delta) * w;
		}
		trend = beta * (lv - level) + (1 - beta) * phi * trend;
		level = lv;
		day[pd] = mul ? d_new * off : d_new + off;
		if (mw)
			week[pw] = w_new;
		broken =
		    !isfinite(level) || !isfinite(trend) || !isfinite(d_new) || !isfinite(w_new);
		if (scored(r, s)) {
			double f = v;
			if (!broken) {
				size_t td = pd + hd, tw = pw + hw;
				td = td >= m ? td - m : td;
				tw = tw >= mw ? tw - mw : tw;
				double traw = day[td];
				double sd = isnan(traw) ? neutral : (mul ? traw / off : traw - off);
				double sw = mw ? week[tw] : neutral;
				f = mul ? (level + phisum * trend) * (sd * sw)
				        : level + phisum * trend + (sd + sw);
				f = isfinite(f) ? f : v;
			}
			ok = acc_add(a, r, fabs(y[s + h] - f));
		}
		s++;
		pd = pd + 1 == m ? 0 : pd + 1;
		pw = pw + 1 == mw ? 0 : pw + 1;
		if (broken || !ok)
			break;
	}
	c->level = level;
	c->trend = trend;
	c->broken = broken;
	c->last_y = v;
	c->last_slot = r->base + (int64_t)s - 1;
	*ps = s;
	return ok;
}

/* MAE of the h-step forecasts of the scratch model with parameters <p> over the scored
 * origins; +Inf when nothing could be scored. With a finite <bound>, the evaluation may stop
 * early and return +Inf once the MAE is known to be >= bound: the caller only compares it
 * with the bound then, and every value below the bound is exact. */
static double objective(struct fit_run *r, const struct fc_params *p, double bound)
{
	struct fc_cand *c = &r->m->fit;
	size_t h = r->m->h, s = 0;
	fc_cand_reset(c);
	if (r->snap_ok) {
		double *day = c->day;
		*c = r->snap; /* the same weekly cells, just reset */
		c->day = day;
		memcpy(day, r->snap.day, c->m * sizeof(double));
		s = r->snap_s;
	}
	c->p = *p;
	const double phisum = fc_damp_sum(p->phi, (int64_t)h);
	const bool fast = c->kind == FC_HOLT || c->kind == FC_HW_ADD || c->kind == FC_HW_MUL;
	struct obj_acc a = {.bound = bound};
	r->evals++;
	while (s < r->n_fit) {
		if (isnan(r->y[s])) {
			s++;
			continue;
		}
		bool ok;
		if (fast && c->inited && !c->broken && r->base + (int64_t)s == c->last_slot + 1) {
			if (c->kind == FC_HOLT)
				ok = holt_run(r, c, &s, phisum, &a);
			else if (c->kind == FC_HW_MUL)
				ok = hw_run(r, c, &s, phisum, &a, true);
			else
				ok = hw_run(r, c, &s, phisum, &a, false);
		} else {
			ok = generic_slot(r, c, s, phisum, &a);
			s++;
		}
		if (!ok)
			return INFINITY;
	}
	return a.cnt ? a.sum / (double)a.cnt : INFINITY;
}

/* Runs the scratch model (kind and weekly cells set) through the first season of the fitted
 * slots, which only collects Holt-Winters' start values, and keeps that state as r->snap. */
static void take_snapshot(struct fit_run *r)
{
	struct fc_cand c = r->m->fit;
	size_t end = r->score_from < r->n_fit ? r->score_from : r->n_fit;
	c.day += c.m;
	fc_cand_reset(&c);
	for (size_t s = 0; s < end; s++)
		if (!isnan(r->y[s]))
			fc_cand_step(&c, r->base + (int64_t)s, r->y[s]);
	r->snap = c;
	r->snap_s = end;
	r->snap_ok = true;
}

/* ---- the search ---- */

static double logistic(double u)
{
	return 1.0 / (1.0 + exp(-u));
}

static double logit(double p)
{
	return log(p / (1.0 - p));
}

/* The objective at the point <u> (clamped in place to the bounds), with <bound> as in
 * objective(). */
static double eval_u(struct fit_run *r, const struct fc_params *base, const int *ids, size_t dim,
                     double *u, double bound)
{
	struct fc_params p = *base;
	for (size_t d = 0; d < dim; d++) {
		if (u[d] > U_BOUND)
			u[d] = U_BOUND;
		if (u[d] < -U_BOUND)
			u[d] = -U_BOUND;
		*param_ref(&p, ids[d]) = logistic(u[d]);
	}
	return objective(r, &p, bound);
}

/* Nelder-Mead on u (logit of the parameters) from <u>; leaves the best point in <u> and
 * returns its value. Deterministic: fixed start simplex, stable ordering. A trial point is
 * evaluated against the bound its comparison needs (the worst vertex for a reflection, the
 * reflected value for an expansion, the threshold for a contraction), so hopeless points stop
 * early without changing any decision; vertices always hold exact values. */
static double nelder_mead(struct fit_run *r, const struct fc_params *base, const int *ids,
                          size_t dim, double *u, double f0, size_t max_evals)
{
	double x[NM_MAX_DIM + 1][NM_MAX_DIM], f[NM_MAX_DIM + 1];
	size_t nv = dim + 1, evals = 0;
	memcpy(x[0], u, dim * sizeof(double));
	f[0] = f0;
	for (size_t i = 1; i < nv; i++) {
		memcpy(x[i], u, dim * sizeof(double));
		x[i][i - 1] += u[i - 1] > 0 ? -1.0 : 1.0;
		f[i] = eval_u(r, base, ids, dim, x[i], INFINITY);
		evals++;
	}
	while (evals < max_evals) {
		/* insertion sort by f, stable */
		for (size_t i = 1; i < nv; i++) {
			double fi = f[i], xi[NM_MAX_DIM];
			memcpy(xi, x[i], sizeof(xi));
			size_t j = i;
			while (j > 0 && f[j - 1] > fi) {
				f[j] = f[j - 1];
				memcpy(x[j], x[j - 1], sizeof(xi));
				j--;
			}
			f[j] = fi;
			memcpy(x[j], xi, sizeof(xi));
		}
		double size = 0;
		for (size_t i = 1; i < nv; i++)
			for (size_t d = 0; d < dim; d++)
				size = fmax(size, fabs(x[i][d] - x[0][d]));
		if (size < NM_XTOL || f[nv - 1] - f[0] <= NM_FTOL * fabs(f[0]))
			break;
		double cen[NM_MAX_DIM] = {0}, xr[NM_MAX_DIM], xt[NM_MAX_DIM];
		for (size_t i = 0; i < dim; i++)
			for (size_t d = 0; d < dim; d++)
				cen[d] += x[i][d] / (double)dim;
		double *xw = x[nv - 1];
		for (size_t d = 0; d < dim; d++)
			xr[d] = cen[d] + (cen[d] - xw[d]);
		double fr = eval_u(r, base, ids, dim, xr, f[nv - 1]);
		evals++;
		if (fr < f[0]) {
			for (size_t d = 0; d < dim; d++)
				xt[d] = cen[d] + 2.0 * (cen[d] - xw[d]);
			double fe = eval_u(r, base, ids, dim, xt, fr);
			evals++;
			if (fe < fr) {
				memcpy(xw, xt, dim * sizeof(double));
				f[nv - 1] = fe;
			} else {
				memcpy(xw, xr, dim * sizeof(double));
				f[nv - 1] = fr;
			}
			continue;
		}
		if (fr < f[nv - 2]) {
			memcpy(xw, xr, dim * sizeof(double));
			f[nv - 1] = fr;
			continue;
		}
		bool outside = fr < f[nv - 1];
		for (size_t d = 0; d < dim; d++)
			xt[d] = outside ? cen[d] + 0.5 * (xr[d] - cen[d])
			                : cen[d] + 0.5 * (xw[d] - cen[d]);
		double thr = outside ? fr : f[nv - 1];
		double fc = eval_u(r, base, ids, dim, xt, thr);
		evals++;
		if (fc < thr) {
			memcpy(xw, xt, dim * sizeof(double));
			f[nv - 1] = fc;
			continue;
		}
		for (size_t i = 1; i < nv; i++) {
			for (size_t d = 0; d < dim; d++)
				x[i][d] = x[0][d] + 0.5 * (x[i][d] - x[0][d]);
			f[i] = eval_u(r, base, ids, dim, x[i], INFINITY);
			evals++;
		}
	}
	size_t best = 0;
	for (size_t i = 1; i < nv; i++)
		if (f[i] < f[best])
			best = i;
	memcpy(u, x[best], dim * sizeof(double));
	return f[best];
}

/* Fits the smoothing parameters of <c> (Holt or Holt-Winters) into c->p. */
static void fit_smoothing(struct fit_run *r, struct fc_cand *c)
{
	const struct fc_config *cfg = &r->m->cfg;
	int ids[NM_MAX_DIM];
	size_t dim = 0;
	ids[dim++] = P_ALPHA;
	ids[dim++] = P_BETA;
	if (c->kind != FC_HOLT)
		ids[dim++] = P_GAMMA;
	if (cfg->damped)
		ids[dim++] = P_PHI;
	if (c->kind != FC_HOLT && r->m->mw > 0)
		ids[dim++] = P_DELTA;
	if (c->kind != FC_HOLT)
		take_snapshot(r);

	/* Grid: keep the best NM_STARTS points as starts for the local search (the error surface
	 * has several valleys, e.g. damped-and-reactive against trend-following). A grid point
	 * only matters if it beats the last start kept: that is its bound. */
	struct fc_params base = c->p, p = c->p;
	if (!cfg->damped)
		base.phi = p.phi = 1.0;
	struct fc_params start[NM_STARTS];
	double fstart[NM_STARTS];
	size_t n_start = 0;
	start[n_start] = base;
	fstart[n_start++] = objective(r, &base, INFINITY);
	size_t idx[NM_MAX_DIM] = {0};
	for (;;) {
		for (size_t d = 0; d < dim; d++)
			*param_ref(&p, ids[d]) = grids[ids[d]][idx[d]];
		double f = objective(r, &p, n_start < NM_STARTS ? INFINITY : fstart[NM_STARTS - 1]);
		/* insert into the sorted list of starts (stable: earlier points win ties) */
		size_t at = n_start;
		while (at > 0 && f < fstart[at - 1])
			at--;
		if (at < NM_STARTS) {
			size_t last = n_start < NM_STARTS ? n_start++ : NM_STARTS - 1;
			for (size_t j = last; j > at; j--) {
				start[j] = start[j - 1];
				fstart[j] = fstart[j - 1];
			}
			start[at] = p;
			fstart[at] = f;
		}
		size_t d = 0;
		while (d < dim && ++idx[d] == grid_len[ids[d]])
			idx[d++] = 0;
		if (d == dim)
			break;
	}
	struct fc_params best = start[0];
	double fbest = fstart[0];
	for (size_t s = 0; s < n_start && isfinite(fstart[s]); s++) {
		double u[NM_MAX_DIM];
		for (size_t d = 0; d < dim; d++) {
			double v = *param_ref(&start[s], ids[d]);
			v = v < 1e-4 ? 1e-4 : (v > 1 - 1e-4 ? 1 - 1e-4 : v);
			u[d] = logit(v);
		}
		/* Nelder-Mead collapses its simplex in flat valleys; restarting from the best point
		 * with a fresh simplex (up to NM_RUNS runs) fixes most of that at little cost. */
		double f = eval_u(r, &base, ids, dim, u, INFINITY);
		for (int run = 0; run < NM_RUNS; run++) {
			double prev = f;
			f = nelder_mead(r, &base, ids, dim, u, f, 60 + 40 * dim);
			if (!(f < prev - NM_RESTART_GAIN * fabs(prev)) && run > 0)
				break;
		}
		if (f < fbest) {
			fbest = f;
			for (size_t d = 0; d < dim; d++)
				*param_ref(&best, ids[d]) = logistic(u[d]);
		}
	}
	c->p = best;
	r->snap_ok = false;
}

/* Chooses the regression window of <c> from a grid of lengths up to the configured one. */
static void fit_window(struct fit_run *r, struct fc_cand *c)
{
	size_t wmax = r->m->wmax;
	struct fc_params p = c->p, best = c->p;
	double fbest = INFINITY;
	for (size_t w = 2;; w = w < 4 ? w + 1 : w + w / 2) {
		if (w > wmax)
			w = wmax;
		p.window = (uint32_t)w;
		double f = objective(r, &p, fbest);
		if (f < fbest) {
			fbest = f;
			best = p;
		}
		if (w == wmax)
			break;
	}
	c->p = best;
}

/* Start values of the weekly cells of every Holt-Winters model of <m>, by classical
 * decomposition of the complete weeks in y[i0 .. n_fit): the daily profile D (mean per daily
 * phase), then per slot of the week the mean of y - D (additive) or y / D (multiplicative).
 * With no complete week the cells start neutral. */
static void weekly_start(struct fc_model *m, const double *y, int64_t base, size_t i0, size_t n_fit)
{
	size_t weeks = n_fit > i0 ? (n_fit - i0) / m->mw : 0;
	size_t end = i0 + weeks * m->mw;
	double *dsum = m->scr_season, *dcnt = dsum + m->m, *wcnt = dcnt + m->m;
	for (size_t i = 0; i < 2 * m->m + m->mw; i++)
		dsum[i] = 0;
	for (size_t s = i0; s < end; s++) {
		if (isnan(y[s]))
			continue;
		size_t p = fc_pmod(base + (int64_t)s, m->m);
		dsum[p] += y[s];
		dcnt[p] += 1;
	}
	for (size_t i = 0; i < m->n_cand; i++) {
		struct fc_cand *c = &m->cand[i];
		if (!c->week0)
			continue;
		bool mul = c->kind == FC_HW_MUL;
		c->week0_set = weeks > 0;
		for (size_t q = 0; q < m->mw; q++) {
			c->week0[q] = 0;
			wcnt[q] = 0;
		}
		for (size_t s = i0; s < end; s++) {
			size_t p = fc_pmod(base + (int64_t)s, m->m);
			if (isnan(y[s]) || dcnt[p] == 0)
				continue;
			double d = dsum[p] / dcnt[p];
			if (mul && !(d > 1e-9))
				continue;
			size_t q = fc_pmod(base + (int64_t)s, m->mw);
			c->week0[q] += mul ? y[s] / d : y[s] - d;
			wcnt[q] += 1;
		}
		for (size_t q = 0; q < m->mw; q++)
			c->week0[q] = wcnt[q] > 0 ? c->week0[q] / wcnt[q] : (mul ? 1.0 : 0.0);
	}
}

/* Fits every model of <m> on the <n> binned slots in m->scr_y (slot of the first: <base>),
 * then replays them into the state. */
static enum ps_err fit_core(struct fc_model *m, int64_t base, size_t n, struct ps_diag *diag)
{
	const double *y = m->scr_y;
	size_t i0 = 0;
	while (i0 < n && isnan(y[i0]))
		i0++;
	/* Enough data after warm-up to score a few dozen forecasts? */
	size_t need = m->warm + m->h + 24;
	size_t hold = m->cfg.error_window;
	if (hold > n / 3)
		hold = n / 3;
	if (n - hold < i0 + need)
		hold = 0;
	enum ps_err err = PS_OK;
	if (n < i0 + need) {
		err = ps_diag_set(diag, PS_ENODATA,
		                  "forecast: %zu steps of history are too few to fit (need %zu: "
		                  "warm-up %zu, horizon %zu, and 24 to score); kept the parameters",
		                  n - i0, need, m->warm, m->h);
	} else {
		struct fit_run r = {.m = m, .y = y, .base = base, .n_fit = n - hold};
		r.score_from = i0 + m->warm;
		r.score_end = r.n_fit > m->h ? r.n_fit - m->h : 0;
		for (size_t s = i0; s < r.n_fit; s++)
			r.n_scored += !isnan(y[s]) && scored(&r, s);
		if (m->mw)
			weekly_start(m, y, base, i0, r.n_fit);
		for (size_t i = 0; i < m->n_cand; i++) {
			struct fc_cand *c = &m->cand[i];
			m->fit.kind = c->kind;
			m->fit.p = c->p;
			/* borrowed for the fit: the scratch model starts from the same weekly cells
			 */
			m->fit.week0 = c->week0;
			m->fit.week0_set = c->week0_set;
			if (c->kind == FC_LINREG)
				fit_window(&r, c);
			else if (c->kind != FC_SNAIVE)
				fit_smoothing(&r, c);
		}
		m->fit.week0 = NULL;
		m->fit.week0_set = false;
	}
	fc_model_reset_state(m);
	for (size_t s = 0; s < n; s++)
		if (!isnan(y[s]))
			fc_model_step(m, base + (int64_t)s, y[s]);
	m->n_since_fit = 0;
	return err;
}

enum ps_err fc_fit(struct fc_model *m, const int64_t *ts_ms, const double *values, size_t n,
                   struct ps_diag *diag)
{
	if (n > 0 && (!ts_ms || !values))
		return ps_diag_set(diag, PS_EINVAL, "forecast: fit given NULL history arrays");
	int64_t step = m->cfg.step_ms, first = 0, last = 0, slot;
	bool any = false;
	/* Pass 1: the accepted slots (ascending; duplicates and late samples dropped). */
	for (size_t i = 0; i < n; i++) {
		if (!isfinite(values[i]) || !fc_slot_of(ts_ms[i], step, &slot))
			continue;
		if (any && slot <= last)
			continue;
		if (!any)
			first = slot;
		any = true;
		last = slot;
	}
	if (!any)
		return ps_diag_set(diag, PS_ENODATA, "forecast: fit given no usable samples");
	int64_t base = last - (int64_t)m->cap + 1;
	if (base < first)
		base = first;
	size_t len = (size_t)(last - base + 1);
	for (size_t i = 0; i < len; i++)
		m->scr_y[i] = NAN;
	any = false;
	for (size_t i = 0; i < n; i++) {
		if (!isfinite(values[i]) || !fc_slot_of(ts_ms[i], step, &slot))
			continue;
		if (any && slot <= last)
			continue;
		any = true;
		last = slot;
		if (slot >= base)
			m->scr_y[slot - base] = values[i];
	}
	return fit_core(m, base, len, diag);
}

enum ps_err fc_refit(struct fc_model *m, struct ps_diag *diag)
{
	if (!m->any)
		return ps_diag_set(diag, PS_ENODATA, "forecast: refit with no history");
	int64_t last = m->last_slot;
	int64_t base = last - (int64_t)m->cap + 1;
	if (base < m->first_slot)
		base = m->first_slot;
	size_t len = (size_t)(last - base + 1);
	for (size_t i = 0; i < len; i++) {
		int64_t s = base + (int64_t)i;
		size_t at = fc_pmod(s, m->cap);
		m->scr_y[i] = m->hist_slot[at] == s ? m->hist[at] : NAN;
	}
	return fit_core(m, base, len, diag);
}
