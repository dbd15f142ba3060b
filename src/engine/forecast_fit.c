/* forecast_fit.c -- fitting the model parameters on history: grid, then Nelder-Mead, on the MAE
 * of the h-step forecast; then the replay that rebuilds the state (design in forecast.h).
 *
 * Everything runs in memory sized by fc_init: the binned history (scr_y, history_ms / step_ms
 * slots) and one scratch model (fit) that each candidate parameter set is run through. Cost per
 * objective evaluation: one pass over the fitted slots, O(1) per slot.
 */
#include <math.h>
#include <string.h>

#include "forecast_int.h"

enum { P_ALPHA, P_BETA, P_GAMMA, P_PHI, P_DELTA, P_N };
#define NM_MAX_DIM 5
#define NM_STARTS 3  /* local searches, from the best grid points */
#define U_BOUND 9.21 /* logistic(9.21) = 1 - 1e-4: parameters stay in [1e-4, 1 - 1e-4] */
#define LANES FC_FIT_LANES

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
	/* Holt-Winters: the scratch model after its first season, which no parameter affects
	 * (it only collects the start values), taken once per fitted model; evaluations start
	 * from it. Its daily cells sit after the lanes' in m->fit.day. */
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

/* ---- the objective, for up to LANES parameter sets at once ----
 *
 * The objective of a parameter set is the MAE of the scratch model's h-step forecasts over the
 * scored origins. The model recursions are latency-bound (each step waits for the previous
 * level and trend), so the parameter sets of a batch run side by side through one pass over
 * the slots, each in its own lane (its own copy of the model state and seasonal cells), and the
 * CPU overlaps them. Each lane is computed exactly as alone: the batch changes no bit.
 *
 * Bounds. A lane may carry a bound: the caller only needs to know whether its MAE is below it.
 * The running sum of absolute errors only grows (terms >= 0, rounding monotone), so once the
 * partial sum over all n_scored origins reaches the bound, the lane stops and reports +Inf.
 * Every value below its bound is exact. */

#define ABANDON_EVERY 64 /* scored origins between bound checks */

struct batch {
	struct fc_cand c[LANES];
	double phisum[LANES]; /* damp sum at the horizon, per lane */
	double sum[LANES];    /* absolute errors so far */
	double bound[LANES];
	bool live[LANES]; /* in use and not stopped by its bound */
	size_t n_live;
	size_t cnt; /* origins scored so far (the same for every live lane) */
};

static void check_bounds(const struct fit_run *r, struct batch *b)
{
	for (size_t i = 0; i < LANES; i++) {
		if (b->live[i] && !(b->sum[i] / (double)r->n_scored < b->bound[i])) {
			b->live[i] = false;
			b->n_live--;
		}
	}
}

/* One slot through the generic model code, lane by lane: warm-up, the sample after a gap,
 * and the models without a fast loop. */
static void generic_slot(const struct fit_run *r, struct batch *b, size_t s)
{
	const size_t h = r->m->h;
	int64_t slot = r->base + (int64_t)s;
	for (size_t i = 0; i < LANES; i++)
		if (b->live[i])
			fc_cand_step(&b->c[i], slot, r->y[s]);
	if (!scored(r, s))
		return;
	double yt = r->y[s + h];
	for (size_t i = 0; i < LANES; i++)
		if (b->live[i])
			b->sum[i] += fabs(yt - fc_cand_predict_ds(&b->c[i], h, b->phisum[i]));
	if (++b->cnt % ABANDON_EVERY == 0)
		check_bounds(r, b);
}

/* Holt over the consecutive samples from <*ps> on (every live lane inited, y[*ps] the slot
 * after their last): holt_step and fc_cand_predict_ds (forecast_models.c) inlined, the same
 * arithmetic in the same order, so the same bits. A lane that breaks forecasts the last value
 * from then on, as fc_cand_step does. Stops at a missing sample, the end, or no live lane. */
static void holt_lanes(const struct fit_run *r, struct batch *b, size_t *ps)
{
	const double *y = r->y;
	const size_t n = r->n_fit, h = r->m->h, sf = r->score_from, se = r->score_end;
	const double ns = (double)r->n_scored;
	double al[LANES], be[LANES], ph[LANES], ds[LANES], lvl[LANES], tr[LANES], sum[LANES],
	    bnd[LANES];
	bool live[LANES], brk[LANES];
	for (size_t i = 0; i < LANES; i++) {
		const struct fc_cand *c = &b->c[i];
		al[i] = c->p.alpha;
		be[i] = c->p.beta;
		ph[i] = c->p.phi;
		ds[i] = b->phisum[i];
		lvl[i] = c->level;
		tr[i] = c->trend;
		brk[i] = c->broken;
		sum[i] = b->sum[i];
		bnd[i] = b->bound[i];
		live[i] = b->live[i];
	}
	size_t s = *ps, cnt = b->cnt, n_live = b->n_live;
	double v = 0;
	while (s < n && !isnan(y[s])) {
		v = y[s];
		const bool sc = s >= sf && s < se && !isnan(y[s + h]);
		const double yt = sc ? y[s + h] : 0;
		for (size_t i = 0; i < LANES; i++) {
			if (!live[i])
				continue;
			if (!brk[i]) {
				double prior = lvl[i] + ph[i] * tr[i];
				double lv = al[i] * v + (1 - al[i]) * prior;
				tr[i] = be[i] * (lv - lvl[i]) + (1 - be[i]) * ph[i] * tr[i];
				lvl[i] = lv;
				brk[i] = !isfinite(lvl[i]) || !isfinite(tr[i]);
			}
			if (sc) {
				double f = brk[i] ? v : lvl[i] + ds[i] * tr[i];
				sum[i] += fabs(yt - (isfinite(f) ? f : v));
			}
		}
		s++;
		if (sc && ++cnt % ABANDON_EVERY == 0) {
			for (size_t i = 0; i < LANES; i++) {
				if (live[i] && !(sum[i] / ns < bnd[i])) {
					live[i] = false;
					n_live--;
				}
			}
			if (n_live == 0)
				break;
		}
	}
	for (size_t i = 0; i < LANES; i++) {
		struct fc_cand *c = &b->c[i];
		c->level = lvl[i];
		c->trend = tr[i];
		c->broken = brk[i];
		c->last_y = v;
		c->last_slot = r->base + (int64_t)s - 1;
		b->sum[i] = sum[i];
		b->live[i] = live[i];
	}
	b->cnt = cnt;
	b->n_live = n_live;
	*ps = s;
}

/* Holt-Winters (<mul>: multiplicative) over consecutive samples, as holt_lanes: hw_step,
 * day_get, week_get and fc_cand_predict_ds inlined, the season phases counted instead of
 * divided. */
static inline __attribute__((always_inline)) void hw_lanes(const struct fit_run *r,
                                                           struct batch *b, size_t *ps,
                                                           const bool mul)
{
	const double *y = r->y;
	const size_t n = r->n_fit, h = r->m->h, sf = r->score_from, se = r->score_end;
	const double ns = (double)r->n_scored, neutral = mul ? 1.0 : 0.0;
	const size_t m = b->c[0].m, mw = b->c[0].week ? b->c[0].mw : 0;
	double al[LANES], be[LANES], ga[LANES], de[LANES], ph[LANES], ds[LANES], off[LANES],
	    lvl[LANES], tr[LANES], sum[LANES], bnd[LANES];
	double *day[LANES], *week[LANES];
	bool live[LANES], brk[LANES];
	for (size_t i = 0; i < LANES; i++) {
		const struct fc_cand *c = &b->c[i];
		al[i] = c->p.alpha;
		be[i] = c->p.beta;
		ga[i] = c->p.gamma;
		de[i] = c->p.delta;
		ph[i] = c->p.phi;
		ds[i] = b->phisum[i];
		off[i] = c->off;
		lvl[i] = c->level;
		tr[i] = c->trend;
		day[i] = c->day;
		week[i] = c->week;
		brk[i] = c->broken;
		sum[i] = b->sum[i];
		bnd[i] = b->bound[i];
		live[i] = b->live[i];
	}
	size_t s = *ps, cnt = b->cnt, n_live = b->n_live;
	int64_t slot = r->base + (int64_t)s;
	size_t pd = fc_pmod(slot, m), pw = mw ? fc_pmod(slot, mw) : 0;
	const size_t hd = h % m, hw = mw ? h % mw : 0;
	double v = 0;
	while (s < n && !isnan(y[s])) {
		v = y[s];
		const bool sc = s >= sf && s < se && !isnan(y[s + h]);
		const double yt = sc ? y[s + h] : 0;
		size_t td = pd + hd, tw = pw + hw;
		td = td >= m ? td - m : td;
		tw = tw >= mw ? tw - mw : tw;
		for (size_t i = 0; i < LANES; i++) {
			if (!live[i])
				continue;
			if (!brk[i]) {
				double raw = day[i][pd];
				double d = isnan(raw) ? neutral : (mul ? raw / off[i] : raw - off[i]);
				double w = mw ? week[i][pw] : neutral;
				double prior = lvl[i] + ph[i] * tr[i];
				double lv, d_new, w_new;
				if (mul) {
					double sw = d * w;
					lv = sw > FC_TINY ? al[i] * (v / sw) + (1 - al[i]) * prior
					                  : prior;
					d_new = d;
					w_new = w;
					if (lv > FC_TINY) {
						if (w > FC_TINY)
							d_new = ga[i] * (v / (lv * w)) +
							        (1 - ga[i]) * d;
						if (d > FC_TINY)
							w_new = de[i] * (v / (lv * d)) +
							        (1 - de[i]) * w;
					}
				} else {
					lv = al[i] * (v - d - w) + (1 - al[i]) * prior;
					d_new = ga[i] * (v - lv - w) + (1 - ga[i]) * d;
					w_new = de[i] * (v - lv - d) + (1 - de[i]) * w;
				}
				tr[i] = be[i] * (lv - lvl[i]) + (1 - be[i]) * ph[i] * tr[i];
				lvl[i] = lv;
				day[i][pd] = mul ? d_new * off[i] : d_new + off[i];
				if (mw)
					week[i][pw] = w_new;
				brk[i] = !isfinite(lvl[i]) || !isfinite(tr[i]) || !isfinite(d_new) ||
				         !isfinite(w_new);
			}
			if (sc) {
				double f = v;
				if (!brk[i]) {
					double traw = day[i][td];
					double sd = isnan(traw) ? neutral
					                        : (mul ? traw / off[i] : traw - off[i]);
					double sw = mw ? week[i][tw] : neutral;
					f = mul ? (lvl[i] + ds[i] * tr[i]) * (sd * sw)
					        : lvl[i] + ds[i] * tr[i] + (sd + sw);
					f = isfinite(f) ? f : v;
				}
				sum[i] += fabs(yt - f);
			}
		}
		s++;
		pd = pd + 1 == m ? 0 : pd + 1;
		pw = pw + 1 == mw ? 0 : pw + 1;
		if (sc && ++cnt % ABANDON_EVERY == 0) {
			for (size_t i = 0; i < LANES; i++) {
				if (live[i] && !(sum[i] / ns < bnd[i])) {
					live[i] = false;
					n_live--;
				}
			}
			if (n_live == 0)
				break;
		}
	}
	for (size_t i = 0; i < LANES; i++) {
		struct fc_cand *c = &b->c[i];
		c->level = lvl[i];
		c->trend = tr[i];
		c->broken = brk[i];
		c->last_y = v;
		c->last_slot = r->base + (int64_t)s - 1;
		b->sum[i] = sum[i];
		b->live[i] = live[i];
	}
	b->cnt = cnt;
	b->n_live = n_live;
	*ps = s;
}

/* The objective of the <k> (1..LANES) parameter sets p[] into out[]: the MAE over the scored
 * origins, +Inf when nothing was scored or when it is >= bound[] (see above). */
static void evaluate(struct fit_run *r, size_t k, const struct fc_params *p, const double *bound,
                     double *out)
{
	const struct fc_cand *fit = &r->m->fit;
	const size_t m = fit->m, mw = fit->mw, h = r->m->h;
	struct batch b;
	b.n_live = 0;
	b.cnt = 0;
	for (size_t i = 0; i < LANES; i++) {
		struct fc_cand *c = &b.c[i];
		*c = *fit;
		c->day = fit->day + i * m;
		c->week = fit->week ? fit->week + i * mw : NULL;
		if (i > 0) {
			/* the regression runs in lane 0 only (fit_window) */
			c->lr_y = NULL;
			c->lr_slot = NULL;
		}
		c->p = p[i < k ? i : 0];
		b.phisum[i] = fc_damp_sum(c->p.phi, (int64_t)h);
		b.sum[i] = 0;
		b.bound[i] = i < k ? bound[i] : INFINITY;
		b.live[i] = i < k;
		if (!b.live[i])
			continue;
		b.n_live++;
		fc_cand_reset(c);
		if (r->snap_ok) {
			struct fc_cand keep = *c;
			*c = r->snap;
			c->day = keep.day;
			c->week = keep.week;
			c->lr_y = keep.lr_y;
			c->lr_slot = keep.lr_slot;
			c->p = keep.p;
			memcpy(c->day, r->snap.day, m * sizeof(double));
		}
	}
	r->evals += k;
	const enum fc_kind kind = fit->kind;
	const bool fast = kind == FC_HOLT || kind == FC_HW_ADD || kind == FC_HW_MUL;
	size_t s = r->snap_ok ? r->snap_s : 0;
	while (s < r->n_fit && b.n_live > 0) {
		if (isnan(r->y[s])) {
			s++;
			continue;
		}
		size_t i0 = 0;
		while (!b.live[i0])
			i0++;
		const struct fc_cand *c0 = &b.c[i0];
		if (fast && c0->inited && r->base + (int64_t)s == c0->last_slot + 1) {
			if (kind == FC_HOLT)
				holt_lanes(r, &b, &s);
			else if (kind == FC_HW_MUL)
				hw_lanes(r, &b, &s, true);
			else
				hw_lanes(r, &b, &s, false);
		} else {
			generic_slot(r, &b, s);
			s++;
		}
	}
	for (size_t i = 0; i < k; i++)
		out[i] = b.live[i] && b.cnt ? b.sum[i] / (double)b.cnt : INFINITY;
}

/* Runs the scratch model (kind and weekly cells set) through the first season of the fitted
 * slots and keeps its state as r->snap, its daily cells after the lanes' in m->fit.day. */
static void take_snapshot(struct fit_run *r)
{
	struct fc_cand c = r->m->fit;
	size_t end = r->score_from < r->n_fit ? r->score_from : r->n_fit;
	c.day = r->m->fit.day + LANES * c.m;
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

/* The parameters searched, in logit space: u[d] is the logit of parameter ids[d]. */
struct space {
	struct fc_params base; /* the parameters not searched */
	int ids[NM_MAX_DIM];
	size_t dim;
};

static void clamp_u(const struct space *sp, double *u)
{
	for (size_t d = 0; d < sp->dim; d++) {
		if (u[d] > U_BOUND)
			u[d] = U_BOUND;
		if (u[d] < -U_BOUND)
			u[d] = -U_BOUND;
	}
}

static struct fc_params params_at(const struct space *sp, const double *u)
{
	struct fc_params p = sp->base;
	for (size_t d = 0; d < sp->dim; d++)
		*param_ref(&p, sp->ids[d]) = logistic(u[d]);
	return p;
}

/* Nelder-Mead on u, as a state machine that asks for points and is told their values, so
 * that several searches (and a search's trial points) share batches. Deterministic: fixed
 * start simplex, stable ordering; the decisions and the counting of evaluations are those of
 * the plain sequential method, the batching changes no result.
 *
 * One step needs the reflection; the expansion or one of the two contractions may follow,
 * depending on it. All four are known before the reflection's value, so a step asks for the
 * reflection (needed) and offers the other three as optional: evaluated when a batch has room,
 * else asked for again once the reflection decided which one is needed. Each point carries
 * the bound its comparison needs (the worst vertex for the reflection and the contractions,
 * the best for the expansion, which is only compared when the reflection beat the best), so
 * hopeless points stop early; vertices always hold exact values. */
enum nm_state { NM_SIMPLEX, NM_STEP, NM_SHRINK, NM_DONE };

#define NM_MAX_REQ (NM_MAX_DIM + 1)

struct nm {
	const struct space *sp;
	size_t nv, evals, max_evals;
	double x[NM_MAX_DIM + 1][NM_MAX_DIM], f[NM_MAX_DIM + 1];
	enum nm_state state;
	/* a step: reflection, expansion, outside and inside contraction, and their values */
	double t[4][NM_MAX_DIM], ft[4];
	bool have[4];
	/* the request: points to evaluate, their bounds, whether needed, and the results */
	size_t n_req;
	double *req_x[NM_MAX_REQ];
	double req_bound[NM_MAX_REQ], req_f[NM_MAX_REQ];
	bool req_need[NM_MAX_REQ], req_done[NM_MAX_REQ];
};

static void nm_ask(struct nm *nm, double *x, double bound, bool need)
{
	size_t i = nm->n_req++;
	nm->req_x[i] = x;
	nm->req_bound[i] = bound;
	nm->req_need[i] = need;
	nm->req_done[i] = false;
}

static void nm_finish(struct nm *nm)
{
	nm->state = NM_DONE;
	nm->n_req = 0;
}

/* Sorts the simplex, tests convergence and asks for the next step's points. */
static void nm_next(struct nm *nm)
{
	const size_t dim = nm->sp->dim, nv = nm->nv;
	nm->n_req = 0;
	if (nm->evals >= nm->max_evals) {
		nm_finish(nm);
		return;
	}
	/* insertion sort by f, stable */
	for (size_t i = 1; i < nv; i++) {
		double fi = nm->f[i], xi[NM_MAX_DIM];
		memcpy(xi, nm->x[i], sizeof(xi));
		size_t j = i;
		while (j > 0 && nm->f[j - 1] > fi) {
			nm->f[j] = nm->f[j - 1];
			memcpy(nm->x[j], nm->x[j - 1], sizeof(xi));
			j--;
		}
		nm->f[j] = fi;
		memcpy(nm->x[j], xi, sizeof(xi));
	}
	double size = 0;
	for (size_t i = 1; i < nv; i++)
		for (size_t d = 0; d < dim; d++)
			size = fmax(size, fabs(nm->x[i][d] - nm->x[0][d]));
	if (size < 1e-2 || nm->f[nv - 1] - nm->f[0] <= 1e-6 * fabs(nm->f[0])) {
		nm_finish(nm);
		return;
	}
	double cen[NM_MAX_DIM] = {0};
	for (size_t i = 0; i < dim; i++)
		for (size_t d = 0; d < dim; d++)
			cen[d] += nm->x[i][d] / (double)dim;
	const double *xw = nm->x[nv - 1];
	double *xr = nm->t[0], *xe = nm->t[1], *xo = nm->t[2], *xi = nm->t[3];
	for (size_t d = 0; d < dim; d++) {
		xr[d] = cen[d] + (cen[d] - xw[d]);
		xe[d] = cen[d] + 2.0 * (cen[d] - xw[d]);
	}
	clamp_u(nm->sp, xr);
	clamp_u(nm->sp, xe);
	for (size_t d = 0; d < dim; d++) {
		xo[d] = cen[d] + 0.5 * (xr[d] - cen[d]);
		xi[d] = cen[d] + 0.5 * (xw[d] - cen[d]);
	}
	clamp_u(nm->sp, xo);
	clamp_u(nm->sp, xi);
	for (size_t j = 0; j < 4; j++)
		nm->have[j] = false;
	nm_ask(nm, xr, nm->f[nv - 1], true);
	nm_ask(nm, xe, nm->f[0], false);
	nm_ask(nm, xo, nm->f[nv - 1], false);
	nm_ask(nm, xi, nm->f[nv - 1], false);
	nm->state = NM_STEP;
}

/* Starts a search from <u> (clamped) of value <f0>. */
static void nm_begin(struct nm *nm, const struct space *sp, const double *u, double f0,
                     size_t max_evals)
{
	const size_t dim = sp->dim;
	nm->sp = sp;
	nm->nv = dim + 1;
	nm->evals = 0;
	nm->max_evals = max_evals;
	nm->n_req = 0;
	memcpy(nm->x[0], u, dim * sizeof(double));
	nm->f[0] = f0;
	for (size_t i = 1; i < nm->nv; i++) {
		memcpy(nm->x[i], u, dim * sizeof(double));
		nm->x[i][i - 1] += u[i - 1] > 0 ? -1.0 : 1.0;
		clamp_u(sp, nm->x[i]);
		nm_ask(nm, nm->x[i], INFINITY, true);
	}
	nm->state = NM_SIMPLEX;
}

static void nm_accept(struct nm *nm, size_t j)
{
	memcpy(nm->x[nm->nv - 1], nm->t[j], nm->sp->dim * sizeof(double));
	nm->f[nm->nv - 1] = nm->ft[j];
}

/* Goes on with a step whose reflection is known; asks again for a point it lacks. */
static void nm_step(struct nm *nm)
{
	const size_t nv = nm->nv, dim = nm->sp->dim;
	const double fr = nm->ft[0];
	nm->n_req = 0;
	if (fr < nm->f[0]) {
		if (!nm->have[1]) {
			nm_ask(nm, nm->t[1], fr, true);
			return;
		}
		nm->evals++;
		nm_accept(nm, nm->ft[1] < fr ? 1 : 0);
		nm_next(nm);
		return;
	}
	if (fr < nm->f[nv - 2]) {
		nm_accept(nm, 0);
		nm_next(nm);
		return;
	}
	bool outside = fr < nm->f[nv - 1];
	size_t j = outside ? 2 : 3;
	double thr = outside ? fr : nm->f[nv - 1];
	if (!nm->have[j]) {
		nm_ask(nm, nm->t[j], thr, true);
		return;
	}
	nm->evals++;
	if (nm->ft[j] < thr) {
		nm_accept(nm, j);
		nm_next(nm);
		return;
	}
	for (size_t i = 1; i < nv; i++) {
		for (size_t d = 0; d < dim; d++)
			nm->x[i][d] = nm->x[0][d] + 0.5 * (nm->x[i][d] - nm->x[0][d]);
		clamp_u(nm->sp, nm->x[i]);
		nm_ask(nm, nm->x[i], INFINITY, true);
	}
	nm->state = NM_SHRINK;
}

/* Takes the values of the points evaluated (req_done) and moves on. */
static void nm_tell(struct nm *nm)
{
	switch (nm->state) {
	case NM_SIMPLEX:
	case NM_SHRINK:
		for (size_t i = 0; i < nm->n_req; i++)
			nm->f[i + 1] = nm->req_f[i];
		nm->evals += nm->n_req;
		nm_next(nm);
		return;
	case NM_STEP: {
		bool had_r = nm->have[0];
		for (size_t i = 0; i < nm->n_req; i++) {
			if (!nm->req_done[i])
				continue;
			size_t j = (size_t)(nm->req_x[i] - nm->t[0]) / NM_MAX_DIM;
			nm->ft[j] = nm->req_f[i];
			nm->have[j] = true;
		}
		if (!had_r)
			nm->evals++; /* the reflection */
		nm_step(nm);
		return;
	}
	case NM_DONE:
		return;
	}
}

/* One local search of fit_smoothing: a start point, then Nelder-Mead runs from it while they
 * improve (up to three). */
enum run_state { RUN_EVAL, RUN_NM, RUN_DONE };

struct nm_run {
	enum run_state state;
	double u[NM_MAX_DIM];
	double f, prev;
	int run;
	size_t max_evals;
	struct nm nm;
};

/* The pending request of <lr>: the start point's own evaluation, or the search's. */
static struct nm *run_nm(struct nm_run *lr)
{
	return lr->state == RUN_DONE ? NULL : &lr->nm;
}

static void run_begin(struct nm_run *lr, const struct space *sp, const double *u, size_t max)
{
	memcpy(lr->u, u, sp->dim * sizeof(double));
	clamp_u(sp, lr->u);
	lr->state = RUN_EVAL;
	lr->run = 0;
	lr->max_evals = max;
	lr->nm.sp = sp;
	lr->nm.n_req = 0;
	nm_ask(&lr->nm, lr->u, INFINITY, true);
}

static void run_tell(struct nm_run *lr)
{
	const struct space *sp = lr->nm.sp;
	if (lr->state == RUN_EVAL) {
		lr->f = lr->nm.req_f[0];
		lr->prev = lr->f;
		lr->state = RUN_NM;
		nm_begin(&lr->nm, sp, lr->u, lr->f, lr->max_evals);
		return;
	}
	nm_tell(&lr->nm);
	if (lr->nm.state != NM_DONE)
		return;
	/* the best vertex (the first of the lowest) */
	size_t best = 0;
	for (size_t i = 1; i < lr->nm.nv; i++)
		if (lr->nm.f[i] < lr->nm.f[best])
			best = i;
	memcpy(lr->u, lr->nm.x[best], sp->dim * sizeof(double));
	lr->f = lr->nm.f[best];
	/* Nelder-Mead collapses its simplex in flat valleys; restarting from the best point with
	 * a fresh simplex (up to three runs) fixes most of that at little cost. */
	if ((!(lr->f < lr->prev - 1e-6 * fabs(lr->prev)) && lr->run > 0) || lr->run == 2) {
		lr->state = RUN_DONE;
		return;
	}
	lr->run++;
	lr->prev = lr->f;
	nm_begin(&lr->nm, sp, lr->u, lr->f, lr->max_evals);
}

/* Runs the searches <runs>[0..n) to the end, sharing batches: each round evaluates every
 * point the searches need, and fills the lanes left over with optional ones. */
static void run_all(struct fit_run *r, const struct space *sp, struct nm_run *runs, size_t n)
{
	for (;;) {
		struct nm *who[NM_STARTS * NM_MAX_REQ];
		size_t which[NM_STARTS * NM_MAX_REQ];
		size_t n_need = 0, n_opt = 0;
		for (size_t pass = 0; pass < 2; pass++) {
			for (size_t k = 0; k < n; k++) {
				struct nm *nm = run_nm(&runs[k]);
				if (!nm)
					continue;
				for (size_t i = 0; i < nm->n_req; i++) {
					if (nm->req_need[i] != (pass == 0))
						continue;
					who[n_need + n_opt] = nm;
					which[n_need + n_opt] = i;
					if (pass == 0)
						n_need++;
					else
						n_opt++;
				}
			}
		}
		if (n_need == 0)
			return;
		/* the needed points, then optional ones up to the end of the last batch */
		size_t total = (n_need + LANES - 1) / LANES * LANES;
		if (total > n_need + n_opt)
			total = n_need + n_opt;
		for (size_t at = 0; at < total; at += LANES) {
			size_t k = total - at < LANES ? total - at : LANES;
			struct fc_params p[LANES];
			double bound[LANES], out[LANES];
			for (size_t i = 0; i < k; i++) {
				struct nm *nm = who[at + i];
				p[i] = params_at(sp, nm->req_x[which[at + i]]);
				bound[i] = nm->req_bound[which[at + i]];
			}
			evaluate(r, k, p, bound, out);
			for (size_t i = 0; i < k; i++) {
				struct nm *nm = who[at + i];
				nm->req_f[which[at + i]] = out[i];
				nm->req_done[which[at + i]] = true;
			}
		}
		for (size_t k = 0; k < n; k++)
			if (run_nm(&runs[k]))
				run_tell(&runs[k]);
	}
}

/* Inserts <p> of value <f> into the sorted starts (stable: earlier points win ties). */
static void keep_start(struct fc_params *start, double *fstart, size_t *n_start,
                       const struct fc_params *p, double f)
{
	size_t at = *n_start;
	while (at > 0 && f < fstart[at - 1])
		at--;
	if (at >= NM_STARTS)
		return;
	size_t last = *n_start < NM_STARTS ? (*n_start)++ : NM_STARTS - 1;
	for (size_t j = last; j > at; j--) {
		start[j] = start[j - 1];
		fstart[j] = fstart[j - 1];
	}
	start[at] = *p;
	fstart[at] = f;
}

/* Fits the smoothing parameters of <c> (Holt or Holt-Winters) into c->p. */
static void fit_smoothing(struct fit_run *r, struct fc_cand *c)
{
	const struct fc_config *cfg = &r->m->cfg;
	struct space sp = {.base = c->p, .dim = 0};
	sp.ids[sp.dim++] = P_ALPHA;
	sp.ids[sp.dim++] = P_BETA;
	if (c->kind != FC_HOLT)
		sp.ids[sp.dim++] = P_GAMMA;
	if (cfg->damped)
		sp.ids[sp.dim++] = P_PHI;
	if (c->kind != FC_HOLT && r->m->mw > 0)
		sp.ids[sp.dim++] = P_DELTA;
	if (!cfg->damped)
		sp.base.phi = 1.0;
	if (c->kind != FC_HOLT)
		take_snapshot(r);

	/* Grid: the current parameters, then every grid point, in batches; keep the best
	 * NM_STARTS points as starts for the local search (the error surface has several
	 * valleys, e.g. damped-and-reactive against trend-following). A point only matters if it
	 * beats the last start kept, which is its bound (the starts only get better within a
	 * batch, so the bound at the batch's start is safe). */
	struct fc_params start[NM_STARTS];
	double fstart[NM_STARTS];
	size_t n_start = 0;
	size_t idx[NM_MAX_DIM] = {0};
	bool base_done = false, grid_done = false;
	while (!grid_done) {
		struct fc_params p[LANES];
		double bound[LANES], out[LANES];
		size_t k = 0;
		while (k < LANES && !grid_done) {
			p[k] = sp.base;
			if (base_done) {
				for (size_t d = 0; d < sp.dim; d++)
					*param_ref(&p[k], sp.ids[d]) = grids[sp.ids[d]][idx[d]];
				size_t d = 0;
				while (d < sp.dim && ++idx[d] == grid_len[sp.ids[d]])
					idx[d++] = 0;
				grid_done = d == sp.dim;
			}
			base_done = true;
			k++;
		}
		for (size_t i = 0; i < k; i++)
			bound[i] = n_start < NM_STARTS ? INFINITY : fstart[NM_STARTS - 1];
		evaluate(r, k, p, bound, out);
		for (size_t i = 0; i < k; i++)
			keep_start(start, fstart, &n_start, &p[i], out[i]);
	}

	/* Local searches from the starts, side by side. */
	struct nm_run runs[NM_STARTS];
	size_t n_runs = 0;
	while (n_runs < n_start && isfinite(fstart[n_runs])) {
		double u[NM_MAX_DIM];
		for (size_t d = 0; d < sp.dim; d++) {
			double v = *param_ref(&start[n_runs], sp.ids[d]);
			v = v < 1e-4 ? 1e-4 : (v > 1 - 1e-4 ? 1 - 1e-4 : v);
			u[d] = logit(v);
		}
		run_begin(&runs[n_runs], &sp, u, 60 + 40 * sp.dim);
		n_runs++;
	}
	run_all(r, &sp, runs, n_runs);
	struct fc_params best = start[0];
	double fbest = fstart[0];
	for (size_t s = 0; s < n_runs; s++) {
		if (runs[s].f < fbest) {
			fbest = runs[s].f;
			best = params_at(&sp, runs[s].u);
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
		double f;
		evaluate(r, 1, &p, &fbest, &f);
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
