/* forecast.h -- statistical load forecasting for one metric: seasonal-naive, Holt, Holt-Winters
 * (additive, multiplicative), linear regression, and `auto`, which runs them side by side.
 *
 * DESIGN
 * Pure like the rest of src/engine: no clock, no I/O, no threads. fc_init allocates every array
 * the model will ever use (seasonal arrays sized season/step, the history ring sized
 * history/step, the rings of pending forecasts and of scored errors, the fitting scratch);
 * fc_release frees them. fc_update, fc_forecast, fc_fit and fc_refit never allocate. A model
 * belongs to one thread at a time (fc_forecast writes into the model's scratch).
 *
 * Time. A sample at <ts_ms> belongs to slot k = round(ts_ms / step_ms), counted from the Unix
 * epoch, so the season index (k mod season/step) is tied to wall time, not to the first sample.
 * - k = last slot + 1: the ordinary O(1) update.
 * - k > last slot + 1 (a gap of g missing slots): every model first steps over the gap with its
 *   own one-step forecasts. For the exponential-smoothing models that is closed form and O(1):
 *   level += (phi + ... + phi^g) * trend, trend *= phi^g, seasonal cells of the missing slots
 *   unchanged (imputing the forecast leaves them exactly as they were); seasonal-naive keeps the
 *   last value seen for each phase; the regression window is in time, so missing slots just are
 *   not in it. The season phase of the next sample is its own wall-time slot, so a gap cannot
 *   shift it. Forecasts that targeted missing slots are never scored. A gap longer than the
 *   history window resets the model (warm-up starts again; fitted parameters are kept).
 * - k <= last slot (a duplicate within the same step, or a late sample): ignored, first sample
 *   wins; counted in fc_model.n_ignored. fc_update still returns PS_OK.
 * - NaN or +-Inf: PS_EINVAL, and the slot counts as missing.
 *
 * Warm-up. Forecasting starts once one season (or, without a season, one regression window)
 * has been seen; the first h-step forecast is scored h steps later, and from then fc_ready()
 * is true. Holt-Winters initialises from that first season: level = its mean, trend = 0,
 * daily seasonal = each slot's deviation (ratio) from the mean. With `weekly`, a second
 * seasonal component of 7 x season_ms (Taylor's double-seasonal Holt-Winters, smoothing
 * weight delta) is added. Its start values come from fc_fit: a classical decomposition of the
 * complete weeks of the fitted part of the history (the daily profile, then each slot of the
 * week's mean deviation, or ratio, from it); the first season is taken net of them. Without a
 * fit, or with less than a week of history, the weekly cells start neutral (0 or 1) and are
 * only learned online, slowly (each cell once a week).
 *
 * Errors. Every model's h-step forecast (h = ceil(horizon_ms / step_ms)) is kept in a ring
 * until its target slot arrives, then scored: signed error e = truth - forecast, |e| and the
 * sMAPE term 200|e|/(|truth|+|forecast|). The last error_window scores of each model are kept;
 * MAE, sMAPE and the error quantile come from that window. All models forecast from the same
 * origins, so their windows cover the same truths and compare fairly. Seasonal-naive (naive,
 * the last value, without a season) always runs: it is the baseline of MASE and of the
 * fallback rule. `auto` uses the model with the lowest windowed MAE at the horizon (ties go to
 * the earlier one in enum order).
 *
 * Safety margin. upper = peak + max(0, Q), where Q is the conformal q-quantile of the chosen
 * model's recent signed errors at the horizon (the ceil((n+1)q)-th smallest of n, the largest
 * when n is small). A negative Q (the model over-forecasts) never lowers the peak: a forecast
 * only ever adds capacity, and bias correction is the model's job, not the margin's.
 *
 * Fitting. fc_fit bins the caller's history onto the slot grid (the last history_ms of it),
 * fits each model's parameters on all but the last error_window slots (at most a third of
 * them) by minimising the MAE of the h-step forecast, the same error `auto` ranks by: a
 * coarse grid (alpha, beta, gamma, phi, delta), then Nelder-Mead from the three best grid
 * points, in logit space so every parameter stays within [1e-4, 1 - 1e-4]; a run stops when
 * its simplex's values agree to 1e-4 (relative) and is restarted while that gains more than
 * 1e-4; the regression window is chosen from a grid of lengths. An evaluation runs the
 * models' own arithmetic in loops specialised per model (bit for bit what fc_update computes),
 * starts Holt-Winters after its first season (which no parameter affects, so it is run once
 * per fit), and stops as soon as its MAE cannot beat the value it will be compared with; none
 * of that changes a result. Then it resets the state and replays the whole history, so the
 * state, the pending forecasts and the error windows are what streaming would have produced,
 * and the last window of errors is out-of-sample. fc_refit does the same from the model's own
 * history ring; the caller runs it when fc_refit_due() says so (as the history doubles, then every refit_every samples), so
 * fc_update stays O(1). Cost: about 0.05 s of one core for `auto` on 7 days of one-minute
 * data (some 10^3 passes over the history, each latency-bound at a few ns per slot).
 */
#ifndef FORECAST_H
#define FORECAST_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ps_compiler.h"
#include "ps_diag.h"
#include "ps_err.h"

/* The models, in tie-break order. FC_AUTO must stay last. */
enum fc_kind {
	FC_SNAIVE, /* seasonal-naive: the value one season ago; the last value without a season */
	FC_LINREG, /* least-squares line over a sliding time window */
	FC_HOLT,   /* level + trend (optionally damped) */
	FC_HW_ADD, /* Holt-Winters, additive season(s) */
	FC_HW_MUL, /* Holt-Winters, multiplicative season(s); needs positive data */
	FC_AUTO,   /* all of the above, the best by recent error at the horizon */
};
#define FC_NKINDS 5 /* concrete models: FC_SNAIVE .. FC_HW_MUL */

struct fc_config {
	enum fc_kind kind;     /* default FC_AUTO */
	int64_t step_ms;       /* nominal sample step, > 0; default 60 s */
	int64_t season_ms;     /* daily season, a multiple of step_ms (>= 2 steps), 0 = none; 1 d */
	bool weekly;           /* Holt-Winters adds a second season of 7 x season_ms (other
	                        * models ignore it); false */
	int64_t horizon_ms;    /* decision horizon (> 0), rounded up to whole steps; 5 min */
	int64_t history_ms;    /* history ring for fitting; >= the season (a week with weekly) and
	                        * >= season + horizon; default 7 d */
	int64_t regression_ms; /* longest linear-regression window (>= 2 steps); default 1 h */
	double quantile;       /* error quantile of the margin, in (0,1); default 0.8 */
	bool damped;           /* Holt and Holt-Winters trends damped by a fitted phi; true */
	uint32_t refit_every;  /* samples between refits once the history is long (fc_refit_due);
	                        * 0 = never; 10080 (a week of minutes) */
	uint32_t error_window; /* scored errors kept per model, >= 1; default 1440 */
};

/* Parameters of one model. alpha: level, beta: trend, gamma: daily season, delta: weekly
 * season, phi: trend damping (1 when not damped); window: regression window in steps. */
struct fc_params {
	double alpha, beta, gamma, delta, phi;
	uint32_t window;
};

/* State of one concrete model. Arrays are owned by the struct fc_model they sit in. */
struct fc_cand {
	enum fc_kind kind;
	struct fc_params p;
	size_t m;    /* daily season in steps (1 without a season) */
	size_t mw;   /* weekly season in steps (0 without) */
	bool any;    /* a sample has been seen */
	bool inited; /* Holt: trend known; Holt-Winters: first season done */
	bool broken; /* the state went non-finite or degenerate: predicts the last value */
	int64_t first_slot, last_slot;
	double last_y;
	double level, trend;
	double *day;    /* m cells. Seasonal-naive: last value per phase (NaN = none). Holt-Winters:
	                 * raw cells, effective = raw - off (additive) or raw / off (multiplicative);
	                 * NaN = never seen, neutral */
	double off;     /* see <day> */
	double *week;   /* mw cells, effective values, Holt-Winters with weekly only */
	double *week0;  /* mw cells: the weekly start values fc_fit estimated (week0_set) */
	bool week0_set; /* else the weekly cells start neutral (0 or 1) */
	double init_sum;
	size_t init_n;
	/* linear regression: FIFO of the points in the window, x = slot - last_slot */
	double *lr_y;
	int64_t *lr_slot;
	size_t lr_cap, lr_head, lr_n;
	uint64_t lr_pushes;
	double sx, sxx, sy, sxy;
};

/* Recent h-step errors of one model: a ring of the last error_window scores. The rings of all
 * models of a struct fc_model advance together (fc_model.e_head, e_n). */
struct fc_track {
	double *err;    /* signed, truth - forecast */
	double *sterm;  /* sMAPE terms, percent */
	double *sorted; /* the same errors in ascending order (fc_model.e_n of them): the margin's
	                 * quantile is one lookup, kept up by a binary search and a shift */
	double sum_abs, sum_smape;
};

struct fc_model {
	struct fc_config cfg;
	size_t m, mw; /* seasons in steps (m = 1, mw = 0 without) */
	size_t h;     /* configured horizon in steps, >= 1 */
	size_t cap;   /* history ring, slots */
	size_t wmax;  /* longest regression window, slots */
	size_t warm;  /* slots seen before forecasting starts */
	/* models run: all five for auto (three without a season), else the configured one and
	 * seasonal-naive */
	size_t n_cand;
	struct fc_cand cand[FC_NKINDS];
	struct fc_track track[FC_NKINDS];
	size_t chosen;   /* index into cand[] of the model in use */
	size_t baseline; /* index into cand[] of seasonal-naive */
	/* time */
	bool any;
	int64_t first_slot, last_slot;
	uint64_t n_samples;   /* accepted samples */
	uint64_t n_ignored;   /* duplicates and late samples */
	uint64_t n_rejected;  /* NaN / Inf */
	uint64_t n_since_fit; /* accepted samples since the last fit (or init) */
	uint64_t n_scored;    /* h-step forecasts scored against their truth */
	/* history ring for fc_refit: value and slot per cell (slot tag INT64_MIN = empty) */
	double *hist;
	int64_t *hist_slot;
	/* pending h-step forecasts: (h + 1) rows of n_cand values, tagged with the target slot */
	double *pend;
	int64_t *pend_slot;
	/* the error window: ring position shared by every track, and |truth| of each score (for
	 * the relative tie tolerance of the fallback rule) */
	size_t e_head, e_n;
	double *abs_y;
	double sum_abs_y;
	/* scratch (init-time sized): fitting */
	double *scr_y;      /* cap: binned history */
	struct fc_cand fit; /* the candidate being fitted; arrays below */
	double *scr_season; /* 2 m + mw (weekly only): weekly start values */
};

/* One fc_forecast result. Errors are at the configured horizon, over the last error_window
 * scored forecasts. */
struct fc_forecast {
	double peak;             /* max of the point forecasts over the next horizon steps */
	double upper;            /* peak + max(0, quantile of past signed errors) */
	double point_at_horizon; /* the point forecast at the last step of the horizon */
	enum fc_kind model_used; /* the concrete model that produced the numbers */
	bool fallback;           /* the model's recent MAE is worse than seasonal-naive's: the
	                          * caller should ignore the forecast and act reactively */
	double mae, smape;       /* of model_used; sMAPE in percent (0..200) */
	double mase;             /* mae / naive_mae; 1 when both are 0, +Inf when only naive is 0 */
	double naive_mae;        /* seasonal-naive's MAE on the same truths */
	double q_error;          /* the error quantile itself (may be negative) */
	size_t n_errors;         /* errors in the window */
	int64_t origin_ms;       /* the slot time the forecast starts from (the last sample's) */
};

/* A model's fitted parameters and recent error, for reports. */
struct fc_cand_info {
	struct fc_params p;
	double mae, smape;
	size_t n_errors;
	bool broken;
};

/* Fills <c> with the defaults listed in struct fc_config. */
void fc_config_default(struct fc_config *c);

/* Validates <c> and sizes <m> for it: every array the model will use is allocated here. <m> is
 * overwritten (no need to zero it). Returns PS_OK; PS_EINVAL with <diag> (may be NULL) naming
 * the field and the value for a bad config; PS_ENOMEM. On failure nothing is left allocated.
 * The model starts with default parameters and no history (fc_ready() false). */
PS_MUST_CHECK enum ps_err fc_init(struct fc_model *m, const struct fc_config *c,
                                  struct ps_diag *diag);
/* Frees the arrays of <m> (NULL allowed; safe after a failed fc_init or twice). */
void fc_release(struct fc_model *m);

/* Feeds one sample: O(1), no allocation (the regression window drops expired points, at most
 * one per slot on average). The slot rules (gaps, duplicates, late samples) are in the DESIGN
 * block above. Returns PS_OK (also for an ignored duplicate or late sample); PS_EINVAL with
 * <diag> (may be NULL) for a NaN or infinite value or a timestamp beyond +-2^62 ms, and the
 * slot then counts as missing. */
PS_MUST_CHECK enum ps_err fc_update(struct fc_model *m, int64_t ts_ms, double value,
                                    struct ps_diag *diag);

/* Fits the parameters on the history <ts_ms>[i], <values>[i] (borrowed; ascending times; the
 * same slot rules as fc_update, non-finite values missing; only the last history_ms is used),
 * then replaces the model's state by replaying that history. Samples fed before are
 * forgotten, so feed the ones newer than the history again afterwards. No allocation: the
 * scratch is sized at init. CPU-bound (see Fitting above); no blocking otherwise. Returns
 * PS_OK; PS_EINVAL (NULL arrays with n > 0); PS_ENODATA when no sample is usable, or when the
 * history spans fewer than warm-up + horizon + 24 steps: the parameters are then kept and the
 * state is still replayed from the history. <diag> may be NULL. */
PS_MUST_CHECK enum ps_err fc_fit(struct fc_model *m, const int64_t *ts_ms, const double *values,
                                 size_t n, struct ps_diag *diag);
/* fc_fit on the model's own history ring (the last history_ms of accepted samples). */
PS_MUST_CHECK enum ps_err fc_refit(struct fc_model *m, struct ps_diag *diag);
/* True when the model should be refitted: never with refit_every 0; while the fitted history
 * is shorter than refit_every samples, each time it has doubled (at least one season apart),
 * so a young model's parameters follow its growing history; then every refit_every samples. */
bool fc_refit_due(const struct fc_model *m);

/* True once one season (or regression window) plus the horizon has been seen and at least one
 * h-step forecast has been scored. */
bool fc_ready(const struct fc_model *m);

/* Forecasts the next <horizon_ms> (<= 0: the configured horizon; rounded up to steps) from the
 * last accepted sample with the chosen model: peak, upper, errors, fallback, into <out>. Uses
 * the model's scratch (hence not const), no allocation. Returns PS_OK; PS_ENODATA before
 * fc_ready(); PS_EINVAL for a horizon longer than the configured one (its errors are not
 * tracked). <diag> may be NULL. */
PS_MUST_CHECK enum ps_err fc_forecast(struct fc_model *m, int64_t horizon_ms,
                                      struct fc_forecast *out, struct ps_diag *diag);
/* fc_forecast() with the peak taken only over the steps from <from_ms> to <horizon_ms> after
 * the last sample (at least the last step): the window in which capacity requested now would
 * serve. <from_ms> <= 0 is fc_forecast(). */
PS_MUST_CHECK enum ps_err fc_forecast_range(struct fc_model *m, int64_t from_ms,
                                            int64_t horizon_ms, struct fc_forecast *out,
                                            struct ps_diag *diag);

/* The parameters and recent error of the model <k> run inside <m>. Returns PS_OK, or PS_ENOENT
 * when <m> does not run <k> (a fixed-kind model runs only its kind and seasonal-naive). */
PS_MUST_CHECK enum ps_err fc_inspect(const struct fc_model *m, enum fc_kind k,
                                     struct fc_cand_info *out);

/* The config name of <k> ("seasonal-naive", "linear", "holt", "hw-additive",
 * "hw-multiplicative", "auto"); "unknown" outside the enum. Static string. */
const char *fc_kind_name(enum fc_kind k);
/* Parses a config name (exact, as fc_kind_name spells it) into <out>. Returns PS_OK, or
 * PS_EINVAL with <diag> (may be NULL) quoting <s> and listing the names. <s> may be NULL. */
PS_MUST_CHECK enum ps_err fc_kind_parse(const char *s, enum fc_kind *out, struct ps_diag *diag);

#endif
