/* forecast_models.c -- the five concrete forecasting models: state update and point forecasts.
 *
 * Each model is a struct fc_cand driven by fc_cand_step (one sample, O(1)) and read by
 * fc_cand_predict / fc_cand_path. A gap of g missing slots before a sample is stepped over with
 * the model's own one-step forecasts, in closed form (see forecast.h, DESIGN). None of these
 * functions allocates; the arrays belong to the struct fc_model the candidate sits in.
 */
#include <math.h>
#include <string.h>

#include "forecast_int.h"

void fc_params_default(enum fc_kind k, bool damped, size_t wmax, struct fc_params *p)
{
	memset(p, 0, sizeof(*p));
	p->phi = 1.0;
	switch (k) {
	case FC_SNAIVE:
		break;
	case FC_LINREG:
		p->window = (uint32_t)wmax;
		break;
	case FC_HOLT:
		p->alpha = 0.5;
		p->beta = 0.1;
		break;
	case FC_HW_ADD:
	case FC_HW_MUL:
		p->alpha = 0.3;
		p->beta = 0.01;
		p->gamma = 0.1;
		p->delta = 0.05;
		break;
	case FC_AUTO:
		break;
	}
	if (damped && (k == FC_HOLT || k == FC_HW_ADD || k == FC_HW_MUL))
		p->phi = 0.98;
}

void fc_cand_reset(struct fc_cand *c)
{
	c->any = false;
	c->inited = false;
	c->broken = false;
	c->first_slot = 0;
	c->last_slot = 0;
	c->last_y = 0;
	c->level = 0;
	c->trend = 0;
	c->off = c->kind == FC_HW_MUL ? 1.0 : 0.0;
	c->init_sum = 0;
	c->init_n = 0;
	if (c->day)
		for (size_t i = 0; i < c->m; i++)
			c->day[i] = NAN;
	if (c->week) {
		double neutral = c->kind == FC_HW_MUL ? 1.0 : 0.0;
		for (size_t i = 0; i < c->mw; i++)
			c->week[i] = c->week0_set ? c->week0[i] : neutral;
	}
	c->lr_head = 0;
	c->lr_n = 0;
	c->lr_pushes = 0;
	c->sx = c->sxx = c->sy = c->sxy = 0;
}

/* phi + phi^2 + ... + phi^g */
double fc_damp_sum(double phi, int64_t g)
{
	if (g <= 0)
		return 0;
	if (phi == 1.0)
		return (double)g;
	return phi * (1.0 - pow(phi, (double)g)) / (1.0 - phi);
}

/* ---- seasonal cells of Holt-Winters ---- */

static double day_get(const struct fc_cand *c, int64_t slot)
{
	double raw = c->day[fc_pmod(slot, c->m)];
	if (isnan(raw))
		return c->kind == FC_HW_MUL ? 1.0 : 0.0;
	return c->kind == FC_HW_MUL ? raw / c->off : raw - c->off;
}

static void day_set(struct fc_cand *c, int64_t slot, double v)
{
	c->day[fc_pmod(slot, c->m)] = c->kind == FC_HW_MUL ? v * c->off : v + c->off;
}

static double week_get(const struct fc_cand *c, int64_t slot)
{
	if (!c->week)
		return c->kind == FC_HW_MUL ? 1.0 : 0.0;
	return c->week[fc_pmod(slot, c->mw)];
}

/* The combined seasonal effect at <slot>. */
static double season_at(const struct fc_cand *c, int64_t slot)
{
	if (c->kind == FC_HW_MUL)
		return day_get(c, slot) * week_get(c, slot);
	return day_get(c, slot) + week_get(c, slot);
}

/* Steps level and trend over the <g> missing slots before the next sample: imputing each
 * missing value by the one-step forecast leaves the seasonal cells as they are and gives
 * exactly this. */
static void skip_gap(struct fc_cand *c, int64_t g)
{
	if (g <= 0)
		return;
	c->level += fc_damp_sum(c->p.phi, g) * c->trend;
	if (c->p.phi != 1.0)
		c->trend *= pow(c->p.phi, (double)g);
}

static void check_finite(struct fc_cand *c)
{
	if (!isfinite(c->level) || !isfinite(c->trend))
		c->broken = true;
}

/* ---- per model ---- */

static void snaive_step(struct fc_cand *c, int64_t slot, double y)
{
	c->day[fc_pmod(slot, c->m)] = y;
}

/* holt_step and hw_step (with day_get, week_get and fc_cand_predict_ds) have twins in
 * forecast_fit.c (holt_run, hw_run): the fitting loops repeat this arithmetic operation for
 * operation, so that the parameters are fitted on exactly the model that runs. Change both
 * together. */
static void holt_step(struct fc_cand *c, int64_t slot, double y, bool first)
{
	if (first) {
		c->level = y;
		c->trend = 0;
		return;
	}
	int64_t g = slot - c->last_slot;
	if (!c->inited) {
		/* The second sample fixes the trend: a straight line is followed exactly. */
		c->trend = (y - c->level) / (double)g;
		c->level = y;
		c->inited = true;
		return;
	}
	skip_gap(c, g - 1);
	const struct fc_params *p = &c->p;
	double prior = c->level + p->phi * c->trend;
	double level = p->alpha * y + (1 - p->alpha) * prior;
	c->trend = p->beta * (level - c->level) + (1 - p->beta) * p->phi * c->trend;
	c->level = level;
	check_finite(c);
}

static void hw_init(struct fc_cand *c)
{
	double mean = c->init_sum / (double)c->init_n;
	c->level = mean;
	c->trend = 0;
	c->inited = true;
	if (c->kind == FC_HW_MUL) {
		if (!(mean > FC_TINY)) {
			/* Seasonal ratios of non-positive data mean nothing. */
			c->broken = true;
			c->off = 1.0;
			return;
		}
		c->off = mean;
	} else {
		c->off = mean;
	}
}

static void hw_step(struct fc_cand *c, int64_t slot, double y)
{
	if (!c->inited) {
		if (slot - c->first_slot < (int64_t)c->m) {
			/* First season: the raw values net of the weekly cells; the offset makes
			 * them deviations at init. */
			double w = week_get(c, slot), v = y;
			if (c->kind == FC_HW_MUL)
				v = w > FC_TINY ? y / w : y;
			else
				v = y - w;
			c->day[fc_pmod(slot, c->m)] = v;
			c->init_sum += v;
			c->init_n++;
			return;
		}
		hw_init(c);
		if (c->broken)
			return;
	}
	skip_gap(c, slot - c->last_slot - 1);
	const struct fc_params *p = &c->p;
	double d = day_get(c, slot), w = week_get(c, slot);
	double prior = c->level + p->phi * c->trend;
	double level, d_new, w_new;
	if (c->kind == FC_HW_MUL) {
		double sw = d * w;
		level = sw > FC_TINY ? p->alpha * (y / sw) + (1 - p->alpha) * prior : prior;
		d_new = d;
		w_new = w;
		if (level > FC_TINY) {
			if (w > FC_TINY)
				d_new = p->gamma * (y / (level * w)) + (1 - p->gamma) * d;
			if (d > FC_TINY)
				w_new = p->delta * (y / (level * d)) + (1 - p->delta) * w;
		}
	} else {
		level = p->alpha * (y - d - w) + (1 - p->alpha) * prior;
		d_new = p->gamma * (y - level - w) + (1 - p->gamma) * d;
		w_new = p->delta * (y - level - d) + (1 - p->delta) * w;
	}
	c->trend = p->beta * (level - c->level) + (1 - p->beta) * p->phi * c->trend;
	c->level = level;
	day_set(c, slot, d_new);
	if (c->week)
		c->week[fc_pmod(slot, c->mw)] = w_new;
	check_finite(c);
	if (!isfinite(d_new) || !isfinite(w_new))
		c->broken = true;
}

/* Recomputes the regression sums from the points, bounding the drift of the running sums. */
static void lr_recompute(struct fc_cand *c)
{
	c->sx = c->sxx = c->sy = c->sxy = 0;
	for (size_t i = 0; i < c->lr_n; i++) {
		size_t at = (c->lr_head + i) % c->lr_cap;
		double x = (double)(c->lr_slot[at] - c->last_slot);
		c->sx += x;
		c->sxx += x * x;
		c->sy += c->lr_y[at];
		c->sxy += x * c->lr_y[at];
	}
}

static void lr_step(struct fc_cand *c, int64_t slot, double y, bool first)
{
	int64_t w = c->p.window;
	if (!first) {
		int64_t d = slot - c->last_slot;
		if (d >= w) {
			c->lr_n = 0;
			c->sx = c->sxx = c->sy = c->sxy = 0;
		} else {
			/* Move the origin to <slot>: every x decreases by d (x stay integers, so sx
			 * and sxx are exact). */
			double dd = (double)d, n = (double)c->lr_n;
			c->sxx = c->sxx - 2 * dd * c->sx + n * dd * dd;
			c->sxy -= dd * c->sy;
			c->sx -= n * dd;
		}
	}
	while (c->lr_n > 0 && c->lr_slot[c->lr_head] <= slot - w) {
		double x = (double)(c->lr_slot[c->lr_head] - slot), v = c->lr_y[c->lr_head];
		c->sx -= x;
		c->sxx -= x * x;
		c->sy -= v;
		c->sxy -= x * v;
		c->lr_head = (c->lr_head + 1) % c->lr_cap;
		c->lr_n--;
	}
	size_t at = (c->lr_head + c->lr_n) % c->lr_cap;
	c->lr_y[at] = y;
	c->lr_slot[at] = slot;
	c->lr_n++;
	c->sy += y; /* x = 0: nothing to add to sx, sxx, sxy */
	if (c->lr_n == 1)
		c->sx = c->sxx = 0, c->sy = y, c->sxy = 0;
	if (++c->lr_pushes % c->lr_cap == 0) {
		c->last_slot = slot;
		lr_recompute(c);
	}
}

void fc_cand_step(struct fc_cand *c, int64_t slot, double y)
{
	bool first = !c->any;
	if (first) {
		c->any = true;
		c->first_slot = slot;
	}
	if (!c->broken) {
		switch (c->kind) {
		case FC_SNAIVE:
			snaive_step(c, slot, y);
			break;
		case FC_LINREG:
			lr_step(c, slot, y, first);
			break;
		case FC_HOLT:
			holt_step(c, slot, y, first);
			break;
		case FC_HW_ADD:
		case FC_HW_MUL:
			hw_step(c, slot, y);
			break;
		case FC_AUTO:
			break;
		}
	}
	c->last_slot = slot;
	c->last_y = y;
}

static double lr_predict(const struct fc_cand *c, size_t j)
{
	double n = (double)c->lr_n;
	if (c->lr_n == 0)
		return c->last_y;
	double den = n * c->sxx - c->sx * c->sx;
	/* The x are distinct integers, so den = n * sum((x - mean)^2) >= 1 from two points on. */
	if (c->lr_n < 2 || !(den > 0.5))
		return c->sy / n;
	double slope = (n * c->sxy - c->sx * c->sy) / den;
	double icpt = (c->sy - slope * c->sx) / n;
	return icpt + slope * (double)j;
}

double fc_cand_predict_ds(const struct fc_cand *c, size_t j, double phisum)
{
	if (!c->any)
		return 0;
	if (c->broken)
		return c->last_y;
	int64_t target = c->last_slot + (int64_t)j;
	double v;
	switch (c->kind) {
	case FC_SNAIVE: {
		double s = c->day[fc_pmod(target, c->m)];
		v = isnan(s) ? c->last_y : s;
		break;
	}
	case FC_LINREG:
		v = lr_predict(c, j);
		break;
	case FC_HOLT:
		v = c->level + phisum * c->trend;
		break;
	case FC_HW_ADD:
		if (!c->inited)
			return c->last_y;
		v = c->level + phisum * c->trend + season_at(c, target);
		break;
	case FC_HW_MUL:
		if (!c->inited)
			return c->last_y;
		v = (c->level + phisum * c->trend) * season_at(c, target);
		break;
	default:
		v = c->last_y;
		break;
	}
	return isfinite(v) ? v : c->last_y;
}

double fc_cand_predict(const struct fc_cand *c, size_t j)
{
	return fc_cand_predict_ds(c, j, fc_damp_sum(c->p.phi, (int64_t)j));
}

void fc_cand_path(const struct fc_cand *c, size_t first, size_t n, double *peak, double *last)
{
	double phisum = 0, pj = 1, best = -INFINITY, v = 0;
	for (size_t j = 1; j <= n; j++) {
		pj *= c->p.phi;
		phisum += pj;
		v = fc_cand_predict_ds(c, j, phisum);
		if (j >= first && v > best)
			best = v;
	}
	*peak = best;
	*last = v;
}
