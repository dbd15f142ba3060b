/* test_forecast.c -- the forecasting models on closed-form series whose forecasts are worked out
 * by hand (the arithmetic is in the comment above each assertion), plus the slot rules, the
 * error quantile, the model choice, determinism and the no-allocation contract.
 *
 * Time: one step is a minute; slot k is at k * STEP ms. A test "day" (season) is a few dozen
 * steps so that every test runs many seasons in milliseconds. */
#include <criterion/criterion.h>
#include <math.h>
#include <string.h>

#include "forecast.h"
#include "ps_alloc.h"

#define STEP 60000LL
#define K0 1000000LL /* first slot of every series: K0 mod 24 = 16, K0 mod 60 = 40 */
#define PI 3.14159265358979323846

static const enum fc_kind all_kinds[] = {FC_SNAIVE, FC_LINREG, FC_HOLT,
                                         FC_HW_ADD, FC_HW_MUL, FC_AUTO};

/* A config of <m> steps per season, <h> steps of horizon, a 10-step regression window, a
 * history of 20 seasons, 200 errors kept, no automatic refit. */
static struct fc_config cfg_for(enum fc_kind k, int64_t m, int64_t h)
{
	struct fc_config c;
	fc_config_default(&c);
	c.kind = k;
	c.step_ms = STEP;
	c.season_ms = m * STEP;
	c.horizon_ms = h * STEP;
	c.history_ms = 20 * (m > 0 ? m : 10) * STEP;
	c.regression_ms = 10 * STEP;
	c.error_window = 200;
	c.refit_every = 0;
	return c;
}

static void init_ok(struct fc_model *m, const struct fc_config *c)
{
	struct ps_diag d = {0};
	enum ps_err e = fc_init(m, c, &d);
	cr_assert_eq(e, PS_OK, "fc_init: %s", d.msg);
}

static void feed(struct fc_model *m, int64_t k, double y)
{
	struct ps_diag d = {0};
	enum ps_err e = fc_update(m, k * STEP, y, &d);
	cr_assert_eq(e, PS_OK, "fc_update(slot %lld): %s", (long long)k, d.msg);
}

static struct fc_forecast forecast_ok(struct fc_model *m)
{
	struct fc_forecast f;
	struct ps_diag d = {0};
	enum ps_err e = fc_forecast(m, 0, &f, &d);
	cr_assert_eq(e, PS_OK, "fc_forecast: %s", d.msg);
	return f;
}

/* xorshift64*: a deterministic PRNG of our own; uniform in [-1, 1). */
static uint64_t rng_state;
static void rng_seed(uint64_t s)
{
	rng_state = s ? s : 88172645463325252ULL;
}
static double rng_uniform(void)
{
	rng_state ^= rng_state >> 12;
	rng_state ^= rng_state << 25;
	rng_state ^= rng_state >> 27;
	uint64_t r = rng_state * 2685821657736338717ULL;
	return (double)(r >> 11) * (2.0 / 9007199254740992.0) - 1.0;
}

/* ---- closed-form series ---- */

static int64_t fc_pmod_test(int64_t k, int64_t n)
{
	return ((k % n) + n) % n;
}

static double sine24(int64_t k)
{
	return 100.0 + 20.0 * sin(2 * PI * (double)k / 24.0);
}

static double sine60(int64_t k)
{
	return 100.0 + 20.0 * sin(2 * PI * (double)k / 60.0);
}

Test(forecast, a_constant_series_is_forecast_exactly_by_every_model_after_warm_up)
{
	for (size_t i = 0; i < PS_ARRAY_LEN(all_kinds); i++) {
		struct fc_config c = cfg_for(all_kinds[i], 24, 4);
		struct fc_model m;
		init_ok(&m, &c);
		/* 24 + 4 + 1 samples make the first scored forecast; run 10 seasons. */
		for (int64_t k = K0; k < K0 + 240; k++) {
			feed(&m, k, 42.5);
			if (!fc_ready(&m))
				continue;
			struct fc_forecast f = forecast_ok(&m);
			cr_assert(fabs(f.point_at_horizon - 42.5) < 1e-9, "%s: point %.17g",
			          fc_kind_name(all_kinds[i]), f.point_at_horizon);
			cr_assert(fabs(f.peak - 42.5) < 1e-9, "%s: peak %.17g",
			          fc_kind_name(all_kinds[i]), f.peak);
			/* every past error is 0, so the quantile is 0 and upper = peak */
			cr_assert(fabs(f.upper - 42.5) < 1e-9, "%s: upper %.17g",
			          fc_kind_name(all_kinds[i]), f.upper);
			cr_assert(f.mae < 1e-9 && !f.fallback, "%s", fc_kind_name(all_kinds[i]));
		}
		cr_assert(fc_ready(&m));
		/* Fitting on the same constant history changes nothing. */
		int64_t ts[240];
		double v[240];
		for (int i2 = 0; i2 < 240; i2++) {
			ts[i2] = (K0 + i2) * STEP;
			v[i2] = 42.5;
		}
		cr_assert_eq(fc_fit(&m, ts, v, 240, NULL), PS_OK);
		struct fc_forecast f = forecast_ok(&m);
		cr_assert(fabs(f.point_at_horizon - 42.5) < 1e-9 && fabs(f.upper - 42.5) < 1e-9,
		          "%s after fit: %.17g", fc_kind_name(all_kinds[i]), f.point_at_horizon);
		fc_release(&m);
	}
}

Test(forecast, holt_and_linear_regression_follow_a_linear_trend_and_seasonal_naive_lags_by_a_season)
{
	/* y(k) = 10 + 0.5 (k - K0). At the last slot k the 4-step forecast is y(k + 4); the path
	 * rises, so the peak is that value too. Undamped Holt is exact from its second sample
	 * (trend = y1 - y0 = 0.5, then l + b = y at every step); the regression line over any
	 * window is the series itself. Seasonal-naive predicts y(k + 4 - 24) = y(k + 4) - 0.5 * 24
	 * = y(k + 4) - 12. */
	const enum fc_kind kinds[] = {FC_HOLT, FC_LINREG, FC_SNAIVE};
	const double lag[] = {0, 0, 12};
	for (size_t i = 0; i < 3; i++) {
		struct fc_config c = cfg_for(kinds[i], 24, 4);
		c.damped = false;
		struct fc_model m;
		init_ok(&m, &c);
		for (int64_t k = K0; k < K0 + 200; k++) {
			feed(&m, k, 10 + 0.5 * (double)(k - K0));
			if (!fc_ready(&m))
				continue;
			double want = 10 + 0.5 * (double)(k + 4 - K0) - lag[i];
			struct fc_forecast f = forecast_ok(&m);
			cr_assert(fabs(f.point_at_horizon - want) < 1e-6,
			          "%s at %lld: %.9g, want %.9g", fc_kind_name(kinds[i]),
			          (long long)(k - K0), f.point_at_horizon, want);
			cr_assert(fabs(f.peak - want) < 1e-6);
		}
		struct fc_forecast f = forecast_ok(&m);
		/* Seasonal-naive's error is the lag every time: MAE 12; the others are exact. */
		cr_assert(fabs(f.mae - lag[i]) < 1e-6, "%s: mae %g", fc_kind_name(kinds[i]), f.mae);
		fc_release(&m);
	}
}

Test(forecast, damped_holt_fitted_on_a_trend_predicts_it_within_a_small_bound)
{
	/* Fitting drives phi towards 1 on a straight line; with phi >= 0.99 the 4-step forecast of
	 * slope 0.5 is off by at most 0.5 * (4 - (0.99 + ... + 0.99^4)) = 0.05, well under 1% of
	 * the value (>= 60 here). */
	struct fc_config c = cfg_for(FC_HOLT, 24, 4);
	struct fc_model m;
	init_ok(&m, &c);
	int64_t ts[300];
	double v[300];
	for (int i = 0; i < 300; i++) {
		ts[i] = (K0 + i) * STEP;
		v[i] = 10 + 0.5 * i;
	}
	cr_assert_eq(fc_fit(&m, ts, v, 300, NULL), PS_OK);
	struct fc_forecast f = forecast_ok(&m);
	double want = 10 + 0.5 * (299 + 4);
	cr_assert(fabs(f.point_at_horizon - want) < 0.05, "%.9g vs %.9g", f.point_at_horizon, want);
	struct fc_cand_info info;
	cr_assert_eq(fc_inspect(&m, FC_HOLT, &info), PS_OK);
	cr_assert(info.p.phi > 0.99 && info.p.phi < 1, "phi %g", info.p.phi);
	fc_release(&m);
}

Test(forecast, seasonal_naive_and_additive_holt_winters_reproduce_a_pure_season)
{
	/* y = 100 + 20 sin(2 pi k / 24). Seasonal-naive repeats the last season: exact. Additive
	 * Holt-Winters starts from level = mean of the first season = 100 (the sine sums to 0
	 * over a period) and seasonal cells = y - 100: also exact, and every update keeps it so
	 * (each residual is 0). The peak over the next 4 steps is max y(k+1..k+4). Asserted
	 * within 1% from the start of the third season. */
	const enum fc_kind kinds[] = {FC_SNAIVE, FC_HW_ADD};
	for (size_t i = 0; i < 2; i++) {
		struct fc_config c = cfg_for(kinds[i], 24, 4);
		struct fc_model m;
		init_ok(&m, &c);
		for (int64_t k = K0; k < K0 + 24 * 10; k++) {
			feed(&m, k, sine24(k));
			if (k < K0 + 48)
				continue;
			struct fc_forecast f = forecast_ok(&m);
			double want = sine24(k + 4), peak = -INFINITY;
			for (int j = 1; j <= 4; j++)
				peak = fmax(peak, sine24(k + j));
			cr_assert(fabs(f.point_at_horizon - want) < 0.01 * want, "%s: %g vs %g",
			          fc_kind_name(kinds[i]), f.point_at_horizon, want);
			cr_assert(fabs(f.peak - peak) < 0.01 * peak, "%s: peak %g vs %g",
			          fc_kind_name(kinds[i]), f.peak, peak);
		}
		fc_release(&m);
	}
}

Test(forecast, multiplicative_holt_winters_beats_additive_on_a_multiplicative_season)
{
	/* y = (50 + 0.2 k) (1 + 0.5 sin(2 pi k / 24)): the swing grows with the level, which an
	 * additive season cannot follow. Both models run inside one auto model, fitted on ten
	 * seasons, then scored on the same truths for ten more. */
	struct fc_config c = cfg_for(FC_AUTO, 24, 4);
	struct fc_model m;
	init_ok(&m, &c);
	int64_t ts[240];
	double v[240];
	for (int i = 0; i < 240; i++) {
		ts[i] = (K0 + i) * STEP;
		v[i] = (50 + 0.2 * i) * (1 + 0.5 * sin(2 * PI * (double)(K0 + i) / 24.0));
	}
	cr_assert_eq(fc_fit(&m, ts, v, 240, NULL), PS_OK);
	for (int i = 240; i < 480; i++)
		feed(&m, K0 + i,
		     (50 + 0.2 * i) * (1 + 0.5 * sin(2 * PI * (double)(K0 + i) / 24.0)));
	struct fc_cand_info add, mul;
	cr_assert_eq(fc_inspect(&m, FC_HW_ADD, &add), PS_OK);
	cr_assert_eq(fc_inspect(&m, FC_HW_MUL, &mul), PS_OK);
	cr_assert(mul.mae < 0.5 * add.mae, "multiplicative %g, additive %g", mul.mae, add.mae);
	struct fc_forecast f = forecast_ok(&m);
	cr_assert_eq(f.model_used, FC_HW_MUL, "auto chose %s", fc_kind_name(f.model_used));
	fc_release(&m);
}

Test(forecast, every_model_recovers_from_a_step_within_a_bounded_number_of_steps)
{
	/* y = 100 until slot S, 200 from S on (S in the sixth season).
	 * - linear regression with a 10-step window: once the window holds only 200s (10 samples
	 *   after S) the line is flat at 200, exactly.
	 * - seasonal-naive: one season (24 samples) after S every phase has seen 200: exact.
	 * - Holt, alpha 0.5, beta 0.1, undamped: the error follows z^2 - (2 - a - ab) z + (1 - a)
	 *   = z^2 - 1.45 z + 0.5, roots 0.885 and 0.565; from an error of 100, 60 steps leave
	 *   about 100 * 3 * 0.885^60 = 0.2 < 1.
	 * After recovery the peak over the horizon is at least the new level minus the bound. */
	const enum fc_kind kinds[] = {FC_LINREG, FC_SNAIVE, FC_HOLT};
	const int64_t after[] = {10, 24, 60};
	const double tol[] = {1e-9, 1e-9, 1.0};
	const int64_t s = K0 + 5 * 24 + 7;
	for (size_t i = 0; i < PS_ARRAY_LEN(kinds); i++) {
		struct fc_config c = cfg_for(kinds[i], 24, 4);
		c.damped = false;
		struct fc_model m;
		init_ok(&m, &c);
		for (int64_t k = K0; k < s + after[i] + 48; k++) {
			feed(&m, k, k < s ? 100.0 : 200.0);
			if (k < s + after[i] - 1)
				continue;
			struct fc_forecast f = forecast_ok(&m);
			cr_assert(fabs(f.point_at_horizon - 200) < tol[i], "%s %lld after: %g",
			          fc_kind_name(kinds[i]), (long long)(k - s + 1),
			          f.point_at_horizon);
			cr_assert(f.peak >= 200 - tol[i], "%s: peak %g", fc_kind_name(kinds[i]),
			          f.peak);
		}
		fc_release(&m);
	}
}

Test(forecast, holt_winters_forgets_a_step_geometrically_season_by_season)
{
	/* The same step through additive Holt-Winters (alpha 0.3, beta 0.01, gamma 0.1,
	 * undamped). The level catches up within the first season; what is left is the bump the
	 * first season after the step put into the seasonal cells it crossed. Each later season
	 * returns a share of about gamma of each cell's bump, so the worst error of a season
	 * shrinks by about 1 - gamma = 0.9 a season (a little slower while the trend settles:
	 * at most 0.95 is asserted). From the second season on, the bump is under 12 (6% of the
	 * level; the first pass gives the cells about gamma * 100 = 10 plus the level lag), and
	 * from the tenth under 5; the peak never drops more than 1 below the new level. */
	struct fc_config c = cfg_for(FC_HW_ADD, 24, 4);
	c.damped = false;
	struct fc_model m;
	init_ok(&m, &c);
	const int64_t s = K0 + 5 * 24 + 7;
	double worst = 0, prev = INFINITY;
	for (int64_t k = K0; k < s + 24 * 12; k++) {
		feed(&m, k, k < s ? 100.0 : 200.0);
		if (k < s + 24)
			continue;
		struct fc_forecast f = forecast_ok(&m);
		worst = fmax(worst, fabs(f.point_at_horizon - 200));
		cr_assert(f.peak >= 199, "peak %g at %lld", f.peak, (long long)(k - s));
		if ((k - s + 1) % 24 == 0) {
			int64_t season = (k - s + 1) / 24;
			cr_assert(worst < 12, "season %lld: %g", (long long)season, worst);
			cr_assert(worst <= 0.95 * prev, "season %lld: %g after %g",
			          (long long)season, worst, prev);
			if (season >= 10)
				cr_assert(worst < 5, "season %lld: %g", (long long)season, worst);
			prev = worst;
			worst = 0;
		}
	}
	fc_release(&m);
}

Test(forecast, a_gap_of_thirty_samples_keeps_the_season_phase)
{
	/* y = 100 + 20 sin(2 pi k / 60), three seasons, then slots 30 .. 59 of the fourth season
	 * missing (half a season: a model that shifted its season by the gap would be off by up to
	 * 40). The gap is stepped over with the models' own forecasts, which for this series are
	 * exact, and the next sample's phase is its wall-time slot: the forecast right after the
	 * gap still matches y(k + 4) within 0.1 (0.1% of the level). */
	const enum fc_kind kinds[] = {FC_SNAIVE, FC_HW_ADD, FC_HW_MUL, FC_AUTO};
	for (size_t i = 0; i < PS_ARRAY_LEN(kinds); i++) {
		struct fc_config c = cfg_for(kinds[i], 60, 4);
		struct fc_model m;
		init_ok(&m, &c);
		int64_t gap0 = K0 + 3 * 60 + 30, gap1 = gap0 + 30;
		for (int64_t k = K0; k < K0 + 6 * 60; k++) {
			if (k >= gap0 && k < gap1)
				continue;
			feed(&m, k, sine60(k));
			if (k < gap1)
				continue;
			struct fc_forecast f = forecast_ok(&m);
			cr_assert(fabs(f.point_at_horizon - sine60(k + 4)) < 0.1,
			          "%s at %lld after the gap: %g vs %g", fc_kind_name(kinds[i]),
			          (long long)(k - gap1), f.point_at_horizon, sine60(k + 4));
		}
		fc_release(&m);
	}
}

Test(forecast, a_gap_in_a_noisy_season_does_not_disturb_holt_winters)
{
	/* The same with noise (+-2) and fitted parameters: after the gap the forecast error stays
	 * within the noise band plus a margin (|e| < 6) for the whole next season. */
	struct fc_config c = cfg_for(FC_HW_ADD, 60, 4);
	struct fc_model m;
	init_ok(&m, &c);
	rng_seed(7);
	int64_t ts[600];
	double v[600];
	for (int i = 0; i < 600; i++) {
		ts[i] = (K0 + i) * STEP;
		v[i] = sine60(K0 + i) + 2 * rng_uniform();
	}
	cr_assert_eq(fc_fit(&m, ts, v, 600, NULL), PS_OK);
	/* gap: 30 slots */
	for (int64_t k = K0 + 630; k < K0 + 720; k++) {
		feed(&m, k, sine60(k) + 2 * rng_uniform());
		struct fc_forecast f = forecast_ok(&m);
		cr_assert(fabs(f.point_at_horizon - sine60(k + 4)) < 6, "at %lld: %g vs %g",
		          (long long)(k - K0), f.point_at_horizon, sine60(k + 4));
	}
	fc_release(&m);
}

/* A "week" of 7 x 24 steps: a daily sine, plus 30 on the last two "days" of each week. */
static double weekly_series(int64_t k)
{
	return 100 + 20 * sin(2 * PI * (double)k / 24.0) + (fc_pmod_test(k, 168) >= 120 ? 30 : 0);
}

Test(forecast, a_weekly_component_learns_what_the_daily_season_cannot)
{
	/* The daily season alone cannot hold a jump of 30 that comes twice a week (on and off):
	 * its level chases it, and the 4-step forecast is wrong by up to 30 for the 4 steps after
	 * each edge (mean error over a week >= 2 * (30 + 22.5 + 15 + 7.5) / 168 / 2 ~ 0.45, and
	 * the level keeps drifting after). The weekly cells start from the decomposition of the
	 * fitted weeks, which for this noise-free series is the series itself: the weekly model
	 * is exact up to rounding. Scored over the next four weeks. */
	struct fc_model daily, weekly;
	struct fc_config c = cfg_for(FC_HW_ADD, 24, 4);
	c.history_ms = 4 * 168 * STEP;
	init_ok(&daily, &c);
	c.weekly = true;
	init_ok(&weekly, &c);
	enum { N = 4 * 168 };
	static int64_t ts[N];
	static double v[N];
	for (int i = 0; i < N; i++) {
		ts[i] = (K0 + i) * STEP;
		v[i] = weekly_series(K0 + i);
	}
	cr_assert_eq(fc_fit(&daily, ts, v, N, NULL), PS_OK);
	cr_assert_eq(fc_fit(&weekly, ts, v, N, NULL), PS_OK);
	double err_d = 0, err_w = 0;
	for (int64_t k = K0 + N; k < K0 + 2 * N; k++) {
		feed(&daily, k, weekly_series(k));
		feed(&weekly, k, weekly_series(k));
		if (k + 4 >= K0 + 2 * N)
			continue;
		err_d += fabs(forecast_ok(&daily).point_at_horizon - weekly_series(k + 4));
		err_w += fabs(forecast_ok(&weekly).point_at_horizon - weekly_series(k + 4));
	}
	double n = N - 4;
	cr_assert(err_w / n < 1e-6 && err_d / n > 0.45, "weekly %g, daily only %g", err_w / n,
	          err_d / n);
	struct fc_cand_info info;
	cr_assert_eq(fc_inspect(&weekly, FC_HW_ADD, &info), PS_OK);
	cr_assert(info.p.delta > 0 && info.p.delta < 1);
	fc_release(&daily);
	fc_release(&weekly);
}

/* Seasonal series with noise: 100 + 30 sin(2 pi k / 24) + 3 u, u uniform in [-1, 1). */
static double noisy_season(int64_t k)
{
	return 100 + 30 * sin(2 * PI * (double)k / 24.0) + 3 * rng_uniform();
}

Test(forecast, auto_picks_a_seasonal_model_on_seasonal_data)
{
	struct fc_config c = cfg_for(FC_AUTO, 24, 4);
	struct fc_model m;
	init_ok(&m, &c);
	rng_seed(11);
	int64_t ts[240];
	double v[240];
	for (int i = 0; i < 240; i++) {
		ts[i] = (K0 + i) * STEP;
		v[i] = noisy_season(K0 + i);
	}
	cr_assert_eq(fc_fit(&m, ts, v, 240, NULL), PS_OK);
	for (int64_t k = K0 + 240; k < K0 + 480; k++)
		feed(&m, k, noisy_season(k));
	struct fc_forecast f = forecast_ok(&m);
	cr_assert(f.model_used == FC_HW_ADD || f.model_used == FC_HW_MUL ||
	              f.model_used == FC_SNAIVE,
	          "auto chose %s", fc_kind_name(f.model_used));
	cr_assert_not(f.fallback);
	fc_release(&m);
}

Test(forecast, auto_picks_holt_or_linear_regression_on_trend_data)
{
	/* y = 10 + 0.8 k + 1 u: seasonal-naive lags by 0.8 * 24 = 19.2; a season only adds
	 * noise. */
	struct fc_config c = cfg_for(FC_AUTO, 24, 4);
	struct fc_model m;
	init_ok(&m, &c);
	rng_seed(13);
	int64_t ts[240];
	double v[240];
	for (int i = 0; i < 240; i++) {
		ts[i] = (K0 + i) * STEP;
		v[i] = 10 + 0.8 * i + rng_uniform();
	}
	cr_assert_eq(fc_fit(&m, ts, v, 240, NULL), PS_OK);
	for (int i = 240; i < 480; i++)
		feed(&m, K0 + i, 10 + 0.8 * i + rng_uniform());
	struct fc_forecast f = forecast_ok(&m);
	cr_assert(f.model_used == FC_HOLT || f.model_used == FC_LINREG, "auto chose %s",
	          fc_kind_name(f.model_used));
	cr_assert(f.naive_mae > 15 && f.mase < 0.2, "naive %g, mase %g", f.naive_mae, f.mase);
	fc_release(&m);
}

Test(forecast, upper_covers_the_configured_quantile_of_the_truths_over_a_long_run)
{
	/* Level 100 plus uniform noise of +-10, seasonal-naive without a season (the last value):
	 * errors y(k+4) - y(k) are exchangeable, so truth > upper should happen in about 1 - q of
	 * the cases; asserted within 0.05 for q = 0.9 and q = 0.7 over 20000 forecasts. */
	const double qs[] = {0.9, 0.7};
	const enum fc_kind kinds[] = {FC_SNAIVE, FC_HOLT};
	for (size_t ki = 0; ki < 2; ki++) {
		for (size_t qi = 0; qi < 2; qi++) {
			struct fc_config c = cfg_for(kinds[ki], 0, 4);
			c.quantile = qs[qi];
			c.error_window = 500;
			struct fc_model m;
			init_ok(&m, &c);
			rng_seed(17);
			enum { N = 20500 };
			static double upper[N];
			double y[N];
			size_t over = 0, total = 0;
			for (int i = 0; i < N; i++) {
				y[i] = 100 + 10 * rng_uniform();
				feed(&m, K0 + i, y[i]);
				upper[i] = NAN;
				if (fc_ready(&m)) {
					struct fc_forecast f = forecast_ok(&m);
					cr_assert(f.upper >= f.peak);
					upper[i] = f.upper;
				}
				if (i >= 4 + 500 && !isnan(upper[i - 4])) {
					total++;
					over += y[i] > upper[i - 4];
				}
			}
			double frac = (double)over / (double)total;
			cr_assert(fabs(frac - (1 - qs[qi])) < 0.05,
			          "%s q=%g: %zu of %zu above upper (%g)", fc_kind_name(kinds[ki]),
			          qs[qi], over, total, frac);
			fc_release(&m);
		}
	}
}

Test(forecast, holt_winters_has_mase_below_one_on_a_noisy_season)
{
	/* Seasonal-naive's error is the difference of two noise draws; Holt-Winters averages the
	 * noise out of its seasonal cells, so its MAE is clearly lower: MASE < 1, no fallback. */
	struct fc_config c = cfg_for(FC_HW_ADD, 24, 4);
	struct fc_model m;
	init_ok(&m, &c);
	rng_seed(19);
	int64_t ts[240];
	double v[240];
	for (int i = 0; i < 240; i++) {
		ts[i] = (K0 + i) * STEP;
		v[i] = noisy_season(K0 + i);
	}
	cr_assert_eq(fc_fit(&m, ts, v, 240, NULL), PS_OK);
	for (int64_t k = K0 + 240; k < K0 + 480; k++)
		feed(&m, k, noisy_season(k));
	struct fc_forecast f = forecast_ok(&m);
	cr_assert(f.mase < 1 && f.mase > 0, "mase %g", f.mase);
	cr_assert(fabs(f.mase - f.mae / f.naive_mae) < 1e-12);
	cr_assert_not(f.fallback);
	cr_assert(f.smape > 0 && f.smape < 10, "smape %g%%", f.smape);
	fc_release(&m);
}

Test(forecast, a_model_worse_than_seasonal_naive_asks_for_the_fallback)
{
	/* Holt on a pure season: seasonal-naive is exact (MAE 0), Holt is not. */
	struct fc_config c = cfg_for(FC_HOLT, 24, 4);
	struct fc_model m;
	init_ok(&m, &c);
	for (int64_t k = K0; k < K0 + 240; k++)
		feed(&m, k, sine24(k));
	struct fc_forecast f = forecast_ok(&m);
	cr_assert_eq(f.model_used, FC_HOLT);
	cr_assert(f.fallback);
	/* sin() of two arguments a period apart differ in the last bits: naive MAE ~ 1e-14 */
	cr_assert(f.naive_mae < 1e-9 && f.mae > 1, "mae %g naive %g", f.mae, f.naive_mae);
	cr_assert(f.mase > 1e6, "mase %g", f.mase);
	fc_release(&m);
}

Test(forecast, forecasts_are_unavailable_until_one_season_and_the_horizon_are_seen)
{
	/* Forecasting starts at the first slot 24 steps after the first sample; its 4-step
	 * forecast is scored by the sample 4 slots later: ready after 24 + 4 + 1 = 29 samples. */
	struct fc_config c = cfg_for(FC_AUTO, 24, 4);
	struct fc_model m;
	init_ok(&m, &c);
	struct ps_diag d = {0};
	struct fc_forecast f;
	for (int64_t k = K0; k < K0 + 28; k++) {
		feed(&m, k, sine24(k));
		cr_assert_not(fc_ready(&m));
		cr_assert_eq(fc_forecast(&m, 0, &f, &d), PS_ENODATA);
	}
	cr_assert(strstr(d.msg, "warming up"), "%s", d.msg);
	feed(&m, K0 + 28, sine24(K0 + 28));
	cr_assert(fc_ready(&m));
	cr_assert_eq(fc_forecast(&m, 0, &f, NULL), PS_OK);
	cr_assert_eq(f.n_errors, 1);
	fc_release(&m);
}

Test(forecast, a_shorter_horizon_is_served_and_a_longer_one_is_rejected)
{
	/* Linear regression on y = k - K0: the peak over 2 steps is y(k + 2). */
	struct fc_config c = cfg_for(FC_LINREG, 24, 4);
	struct fc_model m;
	init_ok(&m, &c);
	for (int64_t k = K0; k < K0 + 40; k++)
		feed(&m, k, (double)(k - K0));
	struct fc_forecast f;
	cr_assert_eq(fc_forecast(&m, 2 * STEP, &f, NULL), PS_OK);
	cr_assert(fabs(f.peak - 41) < 1e-9, "peak %g", f.peak);
	cr_assert_eq(f.origin_ms, (K0 + 39) * STEP);
	cr_assert_eq(fc_forecast(&m, 90 * 1000, &f, NULL), PS_OK); /* 1.5 steps: 2 */
	cr_assert(fabs(f.peak - 41) < 1e-9);
	struct ps_diag d = {0};
	cr_assert_eq(fc_forecast(&m, 5 * STEP, &f, &d), PS_EINVAL);
	cr_assert(strstr(d.msg, "longer than the configured"), "%s", d.msg);
	fc_release(&m);
}

Test(forecast, non_finite_samples_are_rejected_and_count_as_missing)
{
	struct fc_config c = cfg_for(FC_SNAIVE, 24, 4);
	struct fc_model m;
	init_ok(&m, &c);
	struct ps_diag d = {0};
	feed(&m, K0, 1);
	cr_assert_eq(fc_update(&m, (K0 + 1) * STEP, NAN, &d), PS_EINVAL);
	cr_assert(strstr(d.msg, "not a finite number"), "%s", d.msg);
	cr_assert_eq(fc_update(&m, (K0 + 1) * STEP, INFINITY, NULL), PS_EINVAL);
	cr_assert_eq(m.n_rejected, 2);
	/* The slot is still free: a finite sample for it is accepted. */
	feed(&m, K0 + 1, 2);
	cr_assert_eq(m.n_samples, 2);
	fc_release(&m);
}

Test(forecast, duplicates_and_late_samples_are_ignored_and_jitter_rounds_to_the_nearest_slot)
{
	/* Snaive without a season predicts the last accepted value: the first sample of a slot
	 * wins. 29.9 s after the slot still rounds to it; 30 s rounds to the next one. */
	struct fc_config c = cfg_for(FC_SNAIVE, 0, 1);
	struct fc_model m;
	init_ok(&m, &c);
	cr_assert_eq(fc_update(&m, K0 * STEP, 5, NULL), PS_OK);
	cr_assert_eq(fc_update(&m, K0 * STEP + 29900, 7, NULL), PS_OK); /* same slot */
	cr_assert_eq(fc_update(&m, K0 * STEP - 1000, 8, NULL), PS_OK);  /* same slot, early */
	cr_assert_eq(m.n_ignored, 2);
	cr_assert_eq(m.last_slot, K0);
	cr_assert_eq(fc_update(&m, K0 * STEP + 30000, 9, NULL), PS_OK); /* next slot */
	cr_assert_eq(m.last_slot, K0 + 1);
	cr_assert_eq(fc_update(&m, K0 * STEP, 10, NULL), PS_OK); /* late */
	cr_assert_eq(m.n_ignored, 3);
	cr_assert_eq(m.n_samples, 2);
	fc_release(&m);
}

Test(forecast, a_gap_longer_than_the_history_restarts_the_warm_up)
{
	struct fc_config c = cfg_for(FC_HW_ADD, 24, 4); /* history: 480 slots */
	struct fc_model m;
	init_ok(&m, &c);
	for (int64_t k = K0; k < K0 + 100; k++)
		feed(&m, k, sine24(k));
	cr_assert(fc_ready(&m));
	feed(&m, K0 + 99 + 480, sine24(K0 + 99 + 480)); /* a gap of 479 slots: kept */
	cr_assert(fc_ready(&m));
	feed(&m, K0 + 99 + 480 + 481, 1.0); /* a gap of 480 slots: reset */
	cr_assert_not(fc_ready(&m));
	cr_assert_eq(m.n_samples, 1);
	fc_release(&m);
}

Test(forecast, fitting_needs_enough_history_but_still_replays_it)
{
	struct fc_config c = cfg_for(FC_HW_ADD, 24, 4);
	struct fc_model m;
	init_ok(&m, &c);
	int64_t ts[40];
	double v[40];
	for (int i = 0; i < 40; i++) {
		ts[i] = (K0 + i) * STEP;
		v[i] = sine24(K0 + i);
	}
	struct ps_diag d = {0};
	cr_assert_eq(fc_fit(&m, ts, v, 40, &d), PS_ENODATA);
	cr_assert(strstr(d.msg, "too few to fit"), "%s", d.msg);
	cr_assert_eq(m.n_samples, 40);
	cr_assert(fc_ready(&m));
	cr_assert_eq(fc_fit(&m, NULL, NULL, 3, &d), PS_EINVAL);
	cr_assert_eq(fc_fit(&m, ts, v, 0, &d), PS_ENODATA);
	fc_release(&m);
}

/* ---- determinism, allocation ---- */

/* Runs a fixed scenario (fit, stream with a gap, duplicates, refits) and records every
 * forecast number. */
static size_t scenario(double *out, size_t cap)
{
	struct fc_config c = cfg_for(FC_AUTO, 24, 4);
	c.refit_every = 100;
	c.weekly = true;
	c.history_ms = 7 * 24 * 4 * STEP;
	struct fc_model m;
	init_ok(&m, &c);
	rng_seed(23);
	int64_t ts[300];
	double v[300];
	for (int i = 0; i < 300; i++) {
		ts[i] = (K0 + i) * STEP;
		v[i] = noisy_season(K0 + i) + 0.05 * i;
	}
	cr_assert_eq(fc_fit(&m, ts, v, 300, NULL), PS_OK);
	size_t n = 0;
	for (int64_t k = K0 + 300; k < K0 + 900; k++) {
		if (k % 97 < 5)
			continue;
		feed(&m, k, noisy_season(k) + 0.05 * (double)(k - K0));
		cr_assert_eq(fc_update(&m, k * STEP + 1000, 1e6, NULL), PS_OK);
		if (fc_refit_due(&m))
			cr_assert_eq(fc_refit(&m, NULL), PS_OK);
		struct fc_forecast f = forecast_ok(&m);
		double rec[] = {f.peak,
		                f.upper,
		                f.point_at_horizon,
		                (double)f.model_used,
		                f.fallback,
		                f.mae,
		                f.smape,
		                f.mase,
		                f.naive_mae,
		                f.q_error};
		cr_assert(n + PS_ARRAY_LEN(rec) <= cap);
		memcpy(out + n, rec, sizeof(rec));
		n += PS_ARRAY_LEN(rec);
	}
	fc_release(&m);
	return n;
}

Test(forecast, two_identical_runs_give_bit_identical_outputs)
{
	static double a[10 * 600], b[10 * 600];
	size_t na = scenario(a, PS_ARRAY_LEN(a));
	size_t nb = scenario(b, PS_ARRAY_LEN(b));
	cr_assert_eq(na, nb);
	cr_assert(na > 1000);
	cr_assert_eq(memcmp(a, b, na * sizeof(double)), 0);
}

Test(forecast, update_forecast_fit_and_refit_never_allocate)
{
	struct fc_config c = cfg_for(FC_AUTO, 24, 4);
	c.weekly = true;
	c.history_ms = 7 * 24 * 2 * STEP;
	struct fc_model m;
	init_ok(&m, &c);
	int64_t ts[300];
	double v[300];
	for (int i = 0; i < 300; i++) {
		ts[i] = (K0 + i) * STEP;
		v[i] = sine24(K0 + i);
	}
	uint64_t before = ps_alloc_count();
	cr_assert_eq(fc_fit(&m, ts, v, 300, NULL), PS_OK);
	for (int64_t k = K0 + 300; k < K0 + 700; k++) {
		if (k % 50 == 0)
			continue;
		feed(&m, k, sine24(k));
		struct fc_forecast f = forecast_ok(&m);
		(void)f;
	}
	cr_assert_eq(fc_update(&m, 0, NAN, NULL), PS_EINVAL);
	cr_assert_eq(fc_refit(&m, NULL), PS_OK);
	cr_assert_eq(ps_alloc_count(), before);
	fc_release(&m);
}

Test(forecast, init_fails_cleanly_when_an_allocation_fails)
{
	struct fc_config c = cfg_for(FC_AUTO, 24, 4);
	for (uint64_t n = 1; n < 64; n++) {
		struct fc_model m;
		ps_alloc_fail_at(n);
		enum ps_err e = fc_init(&m, &c, NULL);
		bool injected = ps_alloc_injected();
		ps_alloc_fail_at(0);
		if (!injected) {
			cr_assert_eq(e, PS_OK);
			fc_release(&m);
			return;
		}
		cr_assert_eq(e, PS_ENOMEM, "allocation %llu", (unsigned long long)n);
		fc_release(&m); /* safe after a failed init */
	}
	cr_assert_fail("fc_init made more than 63 allocations");
}

/* ---- config ---- */

struct bad_case {
	const char *what;
	void (*mutate)(struct fc_config *c);
	const char *msg;
};

static void bad_step(struct fc_config *c)
{
	c->step_ms = 0;
}
static void bad_season(struct fc_config *c)
{
	c->season_ms = 90 * 1000;
}
static void short_season(struct fc_config *c)
{
	c->season_ms = c->step_ms;
}
static void hw_no_season(struct fc_config *c)
{
	c->kind = FC_HW_MUL;
	c->season_ms = 0;
}
static void weekly_no_season(struct fc_config *c)
{
	c->weekly = true;
	c->season_ms = 0;
}
static void bad_horizon(struct fc_config *c)
{
	c->horizon_ms = -1;
}
static void bad_quantile(struct fc_config *c)
{
	c->quantile = 1.0;
}
static void nan_quantile(struct fc_config *c)
{
	c->quantile = NAN;
}
static void short_history(struct fc_config *c)
{
	c->history_ms = c->season_ms;
}
static void weekly_short_history(struct fc_config *c)
{
	c->weekly = true;
	c->history_ms = 3 * c->season_ms;
}
static void short_regression(struct fc_config *c)
{
	c->regression_ms = c->step_ms;
}
static void no_errors(struct fc_config *c)
{
	c->error_window = 0;
}
static void bad_kind(struct fc_config *c)
{
	c->kind = (enum fc_kind)42;
}
static void huge_history(struct fc_config *c)
{
	c->step_ms = 1;
	c->history_ms = 7 * 24 * 3600 * 1000LL;
}

Test(forecast, bad_configs_are_rejected_with_a_message_naming_the_field)
{
	const struct bad_case cases[] = {
	    {"step", bad_step, "step_ms must be > 0 (got 0)"},
	    {"season", bad_season, "season_ms must be 0 or a multiple of step_ms"},
	    {"short season", short_season, "at least 2 steps"},
	    {"hw without season", hw_no_season, "model hw-multiplicative needs a season"},
	    {"weekly without season", weekly_no_season, "weekly needs a daily season"},
	    {"horizon", bad_horizon, "horizon_ms must be > 0 (got -1)"},
	    {"quantile", bad_quantile, "quantile must be strictly between 0 and 1 (got 1)"},
	    {"quantile NaN", nan_quantile, "quantile must be strictly between 0 and 1"},
	    {"history", short_history,
	     "history_ms 86400000 is shorter than the 1445 steps of 60000 ms"},
	    {"weekly history", weekly_short_history, "and at least a week"},
	    {"regression", short_regression, "regression_ms must cover at least 2 steps"},
	    {"error window", no_errors, "error_window must be >= 1"},
	    {"kind", bad_kind, "model 42 is not a forecast model"},
	    {"too many steps", huge_history, "more than 4194304 steps"},
	};
	for (size_t i = 0; i < PS_ARRAY_LEN(cases); i++) {
		struct fc_config c;
		fc_config_default(&c);
		cases[i].mutate(&c);
		struct fc_model m;
		struct ps_diag d = {0};
		uint64_t before = ps_alloc_count();
		cr_assert_eq(fc_init(&m, &c, &d), PS_EINVAL, "%s accepted", cases[i].what);
		cr_assert_eq(ps_alloc_count(), before, "%s allocated", cases[i].what);
		cr_assert(strstr(d.msg, cases[i].msg), "%s: \"%s\"", cases[i].what, d.msg);
		fc_release(&m);
	}
	struct fc_config c;
	fc_config_default(&c);
	struct fc_model m;
	init_ok(&m, &c);
	fc_release(&m);
	fc_release(NULL);
}

Test(forecast, kind_names_round_trip_and_unknown_names_are_rejected)
{
	for (size_t i = 0; i < PS_ARRAY_LEN(all_kinds); i++) {
		enum fc_kind k = FC_SNAIVE;
		cr_assert_eq(fc_kind_parse(fc_kind_name(all_kinds[i]), &k, NULL), PS_OK);
		cr_assert_eq(k, all_kinds[i]);
	}
	cr_assert_str_eq(fc_kind_name(FC_HW_ADD), "hw-additive");
	cr_assert_str_eq(fc_kind_name((enum fc_kind)99), "unknown");
	struct ps_diag d = {0};
	enum fc_kind k;
	cr_assert_eq(fc_kind_parse("holt-winters", &k, &d), PS_EINVAL);
	cr_assert_str_eq(d.msg, "unknown forecast model \"holt-winters\" (expected seasonal-naive, "
	                        "linear, holt, hw-additive, hw-multiplicative or auto)");
	cr_assert_eq(fc_kind_parse("Auto", &k, NULL), PS_EINVAL);
	cr_assert_eq(fc_kind_parse(NULL, &k, NULL), PS_EINVAL);
}
