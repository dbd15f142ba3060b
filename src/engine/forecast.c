/* forecast.c -- the forecasting model of one metric: config, lifecycle, the slot grid, error
 * tracking at the horizon, model choice, and the peak/upper forecast (design in forecast.h). */
#include <math.h>
#include <string.h>

#include "forecast_int.h"
#include "ps_alloc.h"

static const char *const kind_names[] = {
    [FC_SNAIVE] = "seasonal-naive",
    [FC_LINREG] = "linear",
    [FC_HOLT] = "holt",
    [FC_HW_ADD] = "hw-additive",
    [FC_HW_MUL] = "hw-multiplicative",
    [FC_AUTO] = "auto",
};

const char *fc_kind_name(enum fc_kind k)
{
	if ((unsigned)k >= PS_ARRAY_LEN(kind_names))
		return "unknown";
	return kind_names[k];
}

enum ps_err fc_kind_parse(const char *s, enum fc_kind *out, struct ps_diag *diag)
{
	for (size_t i = 0; s && i < PS_ARRAY_LEN(kind_names); i++) {
		if (strcmp(s, kind_names[i]) == 0) {
			*out = (enum fc_kind)i;
			return PS_OK;
		}
	}
	return ps_diag_set(diag, PS_EINVAL,
	                   "unknown forecast model \"%s\" (expected seasonal-naive, linear, holt, "
	                   "hw-additive, hw-multiplicative or auto)",
	                   s ? s : "");
}

void fc_config_default(struct fc_config *c)
{
	memset(c, 0, sizeof(*c));
	c->kind = FC_AUTO;
	c->step_ms = 60 * 1000;
	c->season_ms = 24 * 3600 * 1000LL;
	c->weekly = false;
	c->horizon_ms = 5 * 60 * 1000;
	c->history_ms = 7 * 24 * 3600 * 1000LL;
	c->regression_ms = 3600 * 1000;
	c->quantile = 0.8;
	c->damped = true;
	c->refit_every = 10080;
	c->error_window = 1440;
}

/* ---- config validation and sizes ---- */

static enum ps_err check_config(struct fc_model *mod, const struct fc_config *c,
                                struct ps_diag *diag)
{
	if ((unsigned)c->kind > FC_AUTO)
		return ps_diag_set(diag, PS_EINVAL, "forecast: model %d is not a forecast model",
		                   (int)c->kind);
	if (c->step_ms <= 0)
		return ps_diag_set(diag, PS_EINVAL, "forecast: step_ms must be > 0 (got %lld)",
		                   (long long)c->step_ms);
	if (c->season_ms < 0 || c->season_ms % c->step_ms != 0 ||
	    (c->season_ms > 0 && c->season_ms / c->step_ms < 2))
		return ps_diag_set(diag, PS_EINVAL,
		                   "forecast: season_ms must be 0 or a multiple of step_ms of at "
		                   "least 2 steps (got season %lld ms, step %lld ms)",
		                   (long long)c->season_ms, (long long)c->step_ms);
	bool hw = c->kind == FC_HW_ADD || c->kind == FC_HW_MUL;
	if (hw && c->season_ms == 0)
		return ps_diag_set(diag, PS_EINVAL,
		                   "forecast: model %s needs a season (season_ms > 0)",
		                   fc_kind_name(c->kind));
	if (c->weekly && c->season_ms == 0)
		return ps_diag_set(diag, PS_EINVAL,
		                   "forecast: weekly needs a daily season (season_ms > 0)");
	if (c->horizon_ms <= 0)
		return ps_diag_set(diag, PS_EINVAL, "forecast: horizon_ms must be > 0 (got %lld)",
		                   (long long)c->horizon_ms);
	if (!(c->quantile > 0 && c->quantile < 1))
		return ps_diag_set(diag, PS_EINVAL,
		                   "forecast: quantile must be strictly between 0 and 1 (got %g)",
		                   c->quantile);
	if (c->regression_ms / c->step_ms < 2)
		return ps_diag_set(
		    diag, PS_EINVAL,
		    "forecast: regression_ms must cover at least 2 steps (got %lld ms, "
		    "step %lld ms)",
		    (long long)c->regression_ms, (long long)c->step_ms);
	if (c->error_window < 1)
		return ps_diag_set(diag, PS_EINVAL, "forecast: error_window must be >= 1 sample");

	int64_t slots_max = (int64_t)FC_MAX_SLOTS;
	int64_t m = c->season_ms > 0 ? c->season_ms / c->step_ms : 1;
	int64_t h = c->horizon_ms / c->step_ms + (c->horizon_ms % c->step_ms != 0);
	int64_t cap = c->history_ms / c->step_ms;
	int64_t wmax = c->regression_ms / c->step_ms;
	int64_t mw = c->weekly && m <= slots_max ? 7 * m : 0;
	if (m > slots_max || mw > slots_max || h > slots_max || cap > slots_max ||
	    wmax > slots_max || (int64_t)c->error_window > slots_max)
		return ps_diag_set(diag, PS_EINVAL,
		                   "forecast: more than %zu steps in the season, week, horizon, "
		                   "history, regression or error window (step %lld ms)",
		                   FC_MAX_SLOTS, (long long)c->step_ms);
	int64_t warm = c->season_ms > 0 ? m : wmax;
	int64_t need = warm + h;
	if (mw > need)
		need = mw;
	if (cap < need)
		return ps_diag_set(
		    diag, PS_EINVAL,
		    "forecast: history_ms %lld is shorter than the %lld steps of %lld "
		    "ms it needs (%s plus the horizon%s)",
		    (long long)c->history_ms, (long long)need, (long long)c->step_ms,
		    c->season_ms > 0 ? "the season" : "the regression window",
		    c->weekly ? ", and at least a week" : "");
	if (wmax > cap)
		return ps_diag_set(diag, PS_EINVAL,
		                   "forecast: regression_ms %lld is longer than history_ms %lld",
		                   (long long)c->regression_ms, (long long)c->history_ms);
	mod->m = (size_t)m;
	mod->mw = (size_t)mw;
	mod->h = (size_t)h;
	mod->cap = (size_t)cap;
	mod->wmax = (size_t)wmax;
	mod->warm = (size_t)warm;
	return PS_OK;
}

/* Points <c> at a model of kind <k> with the arrays it needs, allocated. */
static enum ps_err cand_alloc(struct fc_model *m, struct fc_cand *c, enum fc_kind k)
{
	memset(c, 0, sizeof(*c));
	c->kind = k;
	c->m = m->m;
	c->lr_cap = m->wmax;
	fc_params_default(k, m->cfg.damped, m->wmax, &c->p);
	if (k == FC_SNAIVE || k == FC_HW_ADD || k == FC_HW_MUL) {
		c->day = ps_calloc(m->m, sizeof(double));
		if (!c->day)
			return PS_ENOMEM;
	}
	if ((k == FC_HW_ADD || k == FC_HW_MUL) && m->mw > 0) {
		c->mw = m->mw;
		c->week = ps_calloc(m->mw, sizeof(double));
		c->week0 = ps_calloc(m->mw, sizeof(double));
		if (!c->week || !c->week0)
			return PS_ENOMEM;
	}
	if (k == FC_LINREG) {
		c->lr_y = ps_calloc(m->wmax, sizeof(double));
		c->lr_slot = ps_calloc(m->wmax, sizeof(int64_t));
		if (!c->lr_y || !c->lr_slot)
			return PS_ENOMEM;
	}
	fc_cand_reset(c);
	return PS_OK;
}

static void cand_free(struct fc_cand *c)
{
	ps_free(c->day);
	ps_free(c->week);
	ps_free(c->lr_y);
	ps_free(c->lr_slot);
	ps_free(c->week0);
	c->day = c->week = c->week0 = c->lr_y = NULL;
	c->lr_slot = NULL;
}

void fc_release(struct fc_model *m)
{
	if (!m)
		return;
	for (size_t i = 0; i < FC_NKINDS; i++) {
		cand_free(&m->cand[i]);
		ps_free(m->track[i].err);
		ps_free(m->track[i].sterm);
		ps_free(m->track[i].sorted);
		m->track[i].err = m->track[i].sterm = m->track[i].sorted = NULL;
	}
	cand_free(&m->fit);
	ps_free(m->hist);
	ps_free(m->hist_slot);
	ps_free(m->pend);
	ps_free(m->pend_slot);
	ps_free(m->abs_y);
	ps_free(m->scr_y);
	ps_free(m->scr_season);
	m->hist = m->pend = m->abs_y = m->scr_y = m->scr_season = NULL;
	m->hist_slot = m->pend_slot = NULL;
	m->n_cand = 0;
}

enum ps_err fc_init(struct fc_model *m, const struct fc_config *c, struct ps_diag *diag)
{
	memset(m, 0, sizeof(*m));
	enum ps_err err = check_config(m, c, diag);
	if (err)
		return err;
	m->cfg = *c;

	/* Models run, in enum order (the tie-break order). */
	bool seasonal = c->season_ms > 0;
	for (int k = 0; k < FC_NKINDS; k++) {
		bool run = c->kind == FC_AUTO ? (seasonal || (k != FC_HW_ADD && k != FC_HW_MUL))
		                              : (k == FC_SNAIVE || k == (int)c->kind);
		if (!run)
			continue;
		size_t i = m->n_cand++;
		if (cand_alloc(m, &m->cand[i], (enum fc_kind)k))
			goto nomem;
		if (k == FC_SNAIVE)
			m->baseline = i;
		if (k == (int)c->kind)
			m->chosen = i;
	}
	size_t e = c->error_window;
	for (size_t i = 0; i < m->n_cand; i++) {
		m->track[i].err = ps_calloc(e, sizeof(double));
		m->track[i].sterm = ps_calloc(e, sizeof(double));
		m->track[i].sorted = ps_calloc(e, sizeof(double));
		if (!m->track[i].err || !m->track[i].sterm || !m->track[i].sorted)
			goto nomem;
	}
	/* The fitting scratch model carries the largest arrays any kind needs, the daily cells
	 * twice: the second m hold its state after warm-up (forecast_fit.c). */
	m->fit.m = m->m;
	m->fit.mw = m->mw;
	m->fit.lr_cap = m->wmax;
	m->fit.day = ps_calloc(2 * m->m, sizeof(double));
	m->fit.week = m->mw ? ps_calloc(m->mw, sizeof(double)) : NULL;
	m->fit.lr_y = ps_calloc(m->wmax, sizeof(double));
	m->fit.lr_slot = ps_calloc(m->wmax, sizeof(int64_t));
	m->hist = ps_calloc(m->cap, sizeof(double));
	m->hist_slot = ps_calloc(m->cap, sizeof(int64_t));
	m->pend = ps_calloc((m->h + 1) * m->n_cand, sizeof(double));
	m->pend_slot = ps_calloc(m->h + 1, sizeof(int64_t));
	m->abs_y = ps_calloc(e, sizeof(double));
	m->scr_y = ps_calloc(m->cap, sizeof(double));
	m->scr_season = m->mw ? ps_calloc(2 * m->m + m->mw, sizeof(double)) : NULL;
	if (!m->fit.day || (m->mw && (!m->fit.week || !m->scr_season)) || !m->fit.lr_y ||
	    !m->fit.lr_slot || !m->hist || !m->hist_slot || !m->pend || !m->pend_slot ||
	    !m->abs_y || !m->scr_y)
		goto nomem;
	fc_model_reset_state(m);
	return PS_OK;
nomem:
	fc_release(m);
	return ps_diag_set(diag, PS_ENOMEM, "forecast: out of memory sizing the model");
}

/* ---- state ---- */

void fc_model_reset_state(struct fc_model *m)
{
	for (size_t i = 0; i < m->n_cand; i++) {
		fc_cand_reset(&m->cand[i]);
		m->track[i].sum_abs = m->track[i].sum_smape = 0;
	}
	if (m->cfg.kind == FC_AUTO)
		m->chosen = 0;
	m->any = false;
	m->first_slot = m->last_slot = 0;
	m->n_samples = m->n_scored = 0;
	m->e_head = m->e_n = 0;
	m->sum_abs_y = 0;
	for (size_t i = 0; i < m->cap; i++)
		m->hist_slot[i] = INT64_MIN;
	for (size_t i = 0; i <= m->h; i++)
		m->pend_slot[i] = INT64_MIN;
}

/* Re-adds the window sums from the rings: running sums drift by rounding otherwise. */
static void recompute_sums(struct fc_model *m)
{
	size_t e = m->cfg.error_window;
	for (size_t i = 0; i < m->n_cand; i++) {
		struct fc_track *t = &m->track[i];
		t->sum_abs = t->sum_smape = 0;
		for (size_t k = 0; k < m->e_n; k++) {
			size_t at = (m->e_head + k) % e;
			t->sum_abs += fabs(t->err[at]);
			t->sum_smape += t->sterm[at];
		}
	}
	m->sum_abs_y = 0;
	for (size_t k = 0; k < m->e_n; k++)
		m->sum_abs_y += m->abs_y[(m->e_head + k) % e];
}

/* The first index of sorted a[0..n) whose value is not below <v>. */
static size_t lower_bound(const double *a, size_t n, double v)
{
	size_t lo = 0, hi = n;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (a[mid] < v)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

/* Replaces <old> (when <drop>) by <v> in the sorted array a[0..n) (n counts <old>). */
static void sorted_replace(double *a, size_t n, bool drop, double old, double v)
{
	if (drop && n > 0) {
		size_t i = lower_bound(a, n, old);
		if (i >= n)
			i = n - 1; /* <old> is in the array; this only guards the arithmetic */
		for (size_t k = i; k + 1 < n; k++)
			a[k] = a[k + 1];
		n--;
	}
	size_t j = lower_bound(a, n, v);
	for (size_t k = n; k > j; k--)
		a[k] = a[k - 1];
	a[j] = v;
}

/* Scores the h-step forecasts that targeted <slot> against the truth <y>. */
static void score(struct fc_model *m, int64_t slot, double y)
{
	size_t row = fc_pmod(slot, m->h + 1);
	if (m->pend_slot[row] != slot)
		return;
	size_t e = m->cfg.error_window;
	bool full = m->e_n == e;
	size_t at = full ? m->e_head : (m->e_head + m->e_n) % e;
	for (size_t i = 0; i < m->n_cand; i++) {
		struct fc_track *t = &m->track[i];
		double f = m->pend[row * m->n_cand + i];
		double err = y - f, den = fabs(y) + fabs(f);
		double st = den > 0 ? 200.0 * fabs(err) / den : 0.0;
		if (full) {
			t->sum_abs -= fabs(t->err[at]);
			t->sum_smape -= t->sterm[at];
		}
		sorted_replace(t->sorted, m->e_n, full, t->err[at], err);
		t->err[at] = err;
		t->sterm[at] = st;
		t->sum_abs += fabs(err);
		t->sum_smape += st;
	}
	if (full)
		m->sum_abs_y -= m->abs_y[at];
	m->abs_y[at] = fabs(y);
	m->sum_abs_y += fabs(y);
	if (full)
		m->e_head = (m->e_head + 1) % e;
	else
		m->e_n++;
	m->n_scored++;
	if (full && m->e_head == 0)
		recompute_sums(m);
	m->pend_slot[row] = INT64_MIN;

	if (m->cfg.kind == FC_AUTO) {
		size_t best = 0;
		for (size_t i = 1; i < m->n_cand; i++)
			if (m->track[i].sum_abs < m->track[best].sum_abs)
				best = i;
		m->chosen = best;
	}
}

void fc_model_step(struct fc_model *m, int64_t slot, double y)
{
	if (!m->any) {
		m->any = true;
		m->first_slot = slot;
	} else if (slot - m->last_slot > (int64_t)m->cap) {
		/* Nothing of the history window is left: start again (parameters kept). */
		fc_model_reset_state(m);
		m->any = true;
		m->first_slot = slot;
	}
	score(m, slot, y);
	size_t at = fc_pmod(slot, m->cap);
	m->hist[at] = y;
	m->hist_slot[at] = slot;
	for (size_t i = 0; i < m->n_cand; i++)
		fc_cand_step(&m->cand[i], slot, y);
	m->last_slot = slot;
	m->n_samples++;
	m->n_since_fit++;
	if (slot - m->first_slot >= (int64_t)m->warm) {
		int64_t target = slot + (int64_t)m->h;
		size_t row = fc_pmod(target, m->h + 1);
		m->pend_slot[row] = target;
		for (size_t i = 0; i < m->n_cand; i++)
			m->pend[row * m->n_cand + i] = fc_cand_predict(&m->cand[i], m->h);
	}
}

enum ps_err fc_update(struct fc_model *m, int64_t ts_ms, double value, struct ps_diag *diag)
{
	int64_t step = m->cfg.step_ms;
	if (!isfinite(value)) {
		m->n_rejected++;
		return ps_diag_set(
		    diag, PS_EINVAL,
		    "forecast: sample at %lld ms is not a finite number (%g); counted "
		    "as missing",
		    (long long)ts_ms, value);
	}
	int64_t slot;
	if (!fc_slot_of(ts_ms, step, &slot)) {
		m->n_rejected++;
		return ps_diag_set(diag, PS_EINVAL, "forecast: timestamp %lld ms is out of range",
		                   (long long)ts_ms);
	}
	if (m->any && slot <= m->last_slot) {
		m->n_ignored++;
		return PS_OK;
	}
	fc_model_step(m, slot, value);
	return PS_OK;
}

bool fc_ready(const struct fc_model *m)
{
	return m->e_n > 0;
}

bool fc_refit_due(const struct fc_model *m)
{
	if (m->cfg.refit_every == 0)
		return false;
	uint64_t fitted_on = m->n_samples - m->n_since_fit; /* samples the last fit replayed */
	uint64_t period = m->cfg.refit_every;
	if (fitted_on < period)
		period = fitted_on > m->m ? fitted_on : m->m;
	return m->n_since_fit >= period;
}

/* ---- forecast ---- */


enum ps_err fc_forecast(struct fc_model *m, int64_t horizon_ms, struct fc_forecast *out,
                        struct ps_diag *diag)
{
	return fc_forecast_range(m, 0, horizon_ms, out, diag);
}

enum ps_err fc_forecast_range(struct fc_model *m, int64_t from_ms, int64_t horizon_ms,
                              struct fc_forecast *out, struct ps_diag *diag)
{
	memset(out, 0, sizeof(*out));
	if (!fc_ready(m))
		return ps_diag_set(diag, PS_ENODATA,
		                   "forecast: warming up (%llu samples seen; it needs %zu steps of "
		                   "history plus the %zu-step horizon)",
		                   (unsigned long long)m->n_samples, m->warm, m->h);
	size_t n_steps = m->h;
	if (horizon_ms > 0) {
		int64_t s = horizon_ms / m->cfg.step_ms + (horizon_ms % m->cfg.step_ms != 0);
		if (s > (int64_t)m->h)
			return ps_diag_set(
			    diag, PS_EINVAL,
			    "forecast: horizon %lld ms is longer than the configured "
			    "%lld ms",
			    (long long)horizon_ms, (long long)m->cfg.horizon_ms);
		n_steps = (size_t)s;
	}
	/* The first step whose time is at or after from_ms (at least one step ahead). */
	size_t first = 1;
	if (from_ms > 0) {
		int64_t f = from_ms / m->cfg.step_ms + (from_ms % m->cfg.step_ms != 0);
		first = f < 1 ? 1 : (size_t)f > n_steps ? n_steps : (size_t)f;
	}
	const struct fc_cand *c = &m->cand[m->chosen];
	fc_cand_path(c, first, n_steps, &out->peak, &out->point_at_horizon);
	out->model_used = c->kind;
	out->origin_ms = m->last_slot * m->cfg.step_ms;

	size_t n = m->e_n;
	const struct fc_track *t = &m->track[m->chosen];
	/* conformal rank: ceil((n + 1) q), capped at n */
	double r = ceil((double)(n + 1) * m->cfg.quantile);
	size_t rank = r >= (double)n ? n : (r < 1 ? 1 : (size_t)r);
	out->q_error = t->sorted[rank - 1];
	out->upper = out->peak + (out->q_error > 0 ? out->q_error : 0);
	out->n_errors = n;

	double sum_abs = t->sum_abs > 0 ? t->sum_abs : 0;
	double naive = m->track[m->baseline].sum_abs;
	naive = naive > 0 ? naive : 0;
	out->mae = sum_abs / (double)n;
	out->smape = (t->sum_smape > 0 ? t->sum_smape : 0) / (double)n;
	out->naive_mae = naive / (double)n;
	if (out->naive_mae > 0)
		out->mase = out->mae / out->naive_mae;
	else
		out->mase = out->mae > 0 ? INFINITY : 1.0;
	/* Worse than seasonal-naive by more than rounding (relative to the data's scale). */
	double tol = 1e-9 * (m->sum_abs_y / (double)n + out->naive_mae);
	out->fallback = m->chosen != m->baseline && out->mae > out->naive_mae + tol;
	return PS_OK;
}

enum ps_err fc_inspect(const struct fc_model *m, enum fc_kind k, struct fc_cand_info *out)
{
	memset(out, 0, sizeof(*out));
	for (size_t i = 0; i < m->n_cand; i++) {
		if (m->cand[i].kind != k)
			continue;
		out->p = m->cand[i].p;
		out->broken = m->cand[i].broken;
		out->n_errors = m->e_n;
		if (m->e_n > 0) {
			out->mae =
			    (m->track[i].sum_abs > 0 ? m->track[i].sum_abs : 0) / (double)m->e_n;
			out->smape = (m->track[i].sum_smape > 0 ? m->track[i].sum_smape : 0) /
			             (double)m->e_n;
		}
		return PS_OK;
	}
	return PS_ENOENT;
}
