/* sim_report.c -- the reports of `prescale simulate`: the terminal table, the JSON summary,
 * steps.csv and chart.svg, each written straight to a stream.
 *
 * DESIGN
 * Every writer is deterministic: the same result gives the same bytes. Numbers only go through
 * the fixed formats below; prescale never calls setlocale(), so the decimal point is '.'.
 * - table: fixed decimals per column ("%.2fx", "%.1f%%", ...);
 * - JSON and CSV reals: the shortest of %.15g, %.16g and %.17g that reads back as the same
 *   double (exact, and short for the numbers people write); non-finite values become null in
 *   JSON and an empty cell in CSV;
 * - times in seconds: an integer when whole, else three decimals;
 * - SVG coordinates: tenths of a pixel.
 * The trace clock is taken as Unix time when the first tick is at or after 1e9 s (2001-09-09);
 * instants are then shown in RFC 3339 (UTC), otherwise as offsets from 0 ("+2d3h").
 * The chart draws each series through M4 downsampling when the run has more than
 * SVG_DS_THRESHOLD ticks: per pixel column it keeps the first, lowest, highest and last point,
 * so a one-tick spike still reaches its height. Text written into JSON and SVG is made valid
 * UTF-8 (a bad byte becomes U+FFFD) and escaped.
 * Writers stop at the first stream error and return PS_EIO; they flush <out> at the end, since a
 * buffered stream reports a failed write only then.
 */
#include "sim.h"

#include <inttypes.h>
#include <math.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ps_clock.h"
#include "ps_parse.h"

/* Room for one formatted number or duration. */
#define NUM_BUF 48
/* Room for one formatted instant (RFC 3339 or "+<duration>"). */
#define TIME_BUF 64
/* A first tick at or after this is read as Unix time (1e9 s, September 2001). */
#define UNIX_MIN_MS ((int64_t)1000000000 * 1000)
#define DAY_MS ((int64_t)86400000)

/* ---- the output stream ---- */

struct sink {
	FILE *f;
	bool failed; /* a write failed: every later write is skipped */
};

static void put(struct sink *s, const char *fmt, ...) PS_PRINTF(2, 3);

static void put(struct sink *s, const char *fmt, ...)
{
	if (s->failed)
		return;
	va_list ap;
	va_start(ap, fmt);
	if (vfprintf(s->f, fmt, ap) < 0)
		s->failed = true;
	va_end(ap);
}

static void put_mem(struct sink *s, const char *p, size_t n)
{
	if (!s->failed && n > 0 && fwrite(p, 1, n, s->f) != n)
		s->failed = true;
}

static void put_str(struct sink *s, const char *str)
{
	put_mem(s, str, strlen(str));
}

static enum ps_err sink_end(struct sink *s)
{
	/* The last bytes may still sit in the stream's buffer: only the flush reports them. */
	if (fflush(s->f) != 0 || ferror(s->f))
		s->failed = true;
	return s->failed ? PS_EIO : PS_OK;
}

static bool result_ok(const struct sim_result *r, FILE *out)
{
	return r && out && r->n_steps > 0 && r->steps;
}

/* ---- numbers, times and text ---- */

/* The shortest of %.15g..%.17g that reads back as <v>; <nonfinite> for NaN and infinities. */
static const char *fmt_real(char out[NUM_BUF], double v, const char *nonfinite)
{
	if (!isfinite(v)) {
		snprintf(out, NUM_BUF, "%s", nonfinite);
		return out;
	}
	for (int prec = 15; prec <= 17; prec++) {
		snprintf(out, NUM_BUF, "%.*g", prec, v);
		if (strtod(out, NULL) == v)
			break;
	}
	return out;
}

/* <ms> in seconds: "15", "-3", "1.500". */
static const char *fmt_seconds(char out[NUM_BUF], int64_t ms)
{
	uint64_t a = ms < 0 ? (uint64_t)0 - (uint64_t)ms : (uint64_t)ms;
	const char *sign = ms < 0 ? "-" : "";
	if (a % 1000 == 0)
		snprintf(out, NUM_BUF, "%s%" PRIu64, sign, a / 1000);
	else
		snprintf(out, NUM_BUF, "%s%" PRIu64 ".%03" PRIu64, sign, a / 1000, a % 1000);
	return out;
}

/* <v> for a person: integers as such, other values with at most 6 significant digits and no
 * trailing zeros, exponent form only from 1e15; "-" when not finite. */
static const char *fmt_human(char out[NUM_BUF], double v)
{
	double a = fabs(v);
	if (!isfinite(v)) {
		snprintf(out, NUM_BUF, "-");
	} else if (a >= 1e15) {
		snprintf(out, NUM_BUF, "%.6g", v);
	} else if (v == trunc(v)) {
		snprintf(out, NUM_BUF, "%.0f", v);
	} else {
		int dec = 5;
		for (double p = 10; p <= a && dec > 0; p *= 10)
			dec--;
		for (double p = 0.1; a < p && dec < 12; p /= 10)
			dec++;
		snprintf(out, NUM_BUF, "%.*f", dec, v);
		size_t n = strlen(out);
		while (n > 0 && out[n - 1] == '0')
			out[--n] = '\0';
		if (n > 0 && out[n - 1] == '.')
			out[--n] = '\0';
		if (strcmp(out, "-0") == 0)
			snprintf(out, NUM_BUF, "0");
	}
	return out;
}

/* A share (0..1) as a percentage with <dec> decimals, "-" when not finite. */
static const char *fmt_percent(char out[NUM_BUF], double share, int dec)
{
	if (isfinite(share))
		snprintf(out, NUM_BUF, "%.*f%%", dec, share * 100.0);
	else
		snprintf(out, NUM_BUF, "-");
	return out;
}

static const char *fmt_duration(char out[NUM_BUF], int64_t ms)
{
	return ps_format_duration_ms(ms, out, NUM_BUF);
}

static bool unix_clock(const struct sim_result *r)
{
	return r->steps[0].t_ms >= UNIX_MIN_MS;
}

/* The instant <ms> on the trace clock: RFC 3339 without ".000" for Unix time, else "+<offset
 * from 0>" ("-<offset>" before 0). */
static const char *fmt_instant(char out[TIME_BUF], int64_t ms, bool unix_time)
{
	if (unix_time) {
		ps_clock_format_rfc3339(ms, out, TIME_BUF);
		size_t n = strlen(out);
		if (n == PS_RFC3339_MS_LEN && strcmp(out + n - 5, ".000Z") == 0)
			memcpy(out + n - 5, "Z", 2);
		return out;
	}
	char d[NUM_BUF];
	ps_format_duration_ms(ms, d, sizeof(d));
	snprintf(out, TIME_BUF, "%s%s", ms > 0 ? "+" : "", d);
	return out;
}

static size_t scored_ticks(const struct sim_result *r)
{
	return r->score_from_step < r->n_steps ? r->n_steps - r->score_from_step : 0;
}

/* The length of the valid UTF-8 sequence at <p> (at most <n> bytes), its code point in <cp>;
 * 0 when the bytes there are not one (overlong forms and surrogates included). */
static size_t utf8_decode(const unsigned char *p, size_t n, uint32_t *cp)
{
	uint32_t c = p[0];
	size_t len;
	uint32_t min;
	if (c < 0x80) {
		*cp = c;
		return 1;
	} else if (c >= 0xc2 && c <= 0xdf) {
		len = 2, min = 0x80, c &= 0x1f;
	} else if (c >= 0xe0 && c <= 0xef) {
		len = 3, min = 0x800, c &= 0x0f;
	} else if (c >= 0xf0 && c <= 0xf4) {
		len = 4, min = 0x10000, c &= 0x07;
	} else {
		return 0;
	}
	if (len > n)
		return 0;
	for (size_t i = 1; i < len; i++) {
		if ((p[i] & 0xc0) != 0x80)
			return 0;
		c = (c << 6) | (p[i] & 0x3f);
	}
	if (c < min || c > 0x10ffff || (c >= 0xd800 && c <= 0xdfff))
		return 0;
	*cp = c;
	return len;
}

/* Writes the string in the fixed-size field <str> (at most <max> bytes, NUL-terminated or not)
 * for a terminal: control bytes become '?', so a file name cannot move the cursor. */
static void put_plain(struct sink *s, const char *str, size_t max)
{
	size_t n = strnlen(str, max);
	for (size_t i = 0; i < n && !s->failed; i++) {
		unsigned char c = (unsigned char)str[i];
		if (c < 0x20 || c == 0x7f)
			put_mem(s, "?", 1);
		else
			put_mem(s, str + i, 1);
	}
}

/* Escapes with a short form in JSON; other control characters become \u00XX. */
static const char *const json_escapes[0x80] = {
    ['"'] = "\\\"", ['\\'] = "\\\\", ['\b'] = "\\b", ['\f'] = "\\f",
    ['\n'] = "\\n", ['\r'] = "\\r",  ['\t'] = "\\t",
};

/* Writes <str> (at most <max> bytes) as a JSON string, quotes included. */
static void put_json_str(struct sink *s, const char *str, size_t max)
{
	const unsigned char *p = (const unsigned char *)str;
	size_t n = strnlen(str, max);
	put_mem(s, "\"", 1);
	for (size_t i = 0; i < n && !s->failed;) {
		uint32_t cp;
		size_t len = utf8_decode(p + i, n - i, &cp);
		if (len == 0) {
			put_str(s, "\\ufffd");
			i++;
			continue;
		}
		if (cp < 0x80 && json_escapes[cp])
			put_str(s, json_escapes[cp]);
		else if (cp < 0x20)
			put(s, "\\u%04" PRIx32, cp);
		else
			put_mem(s, str + i, len);
		i += len;
	}
	put_mem(s, "\"", 1);
}

static const char *const xml_escapes[0x80] = {
    ['&'] = "&amp;", ['<'] = "&lt;", ['>'] = "&gt;", ['"'] = "&quot;", ['\''] = "&apos;",
};

/* Writes <str> (at most <max> bytes) as XML character data or attribute text: markup
 * characters as entities; bytes that XML 1.0 cannot carry (bad UTF-8, control characters
 * other than tab and line ends, U+FFFE, U+FFFF) as U+FFFD. */
static void put_xml(struct sink *s, const char *str, size_t max)
{
	const unsigned char *p = (const unsigned char *)str;
	size_t n = strnlen(str, max);
	for (size_t i = 0; i < n && !s->failed;) {
		uint32_t cp;
		size_t len = utf8_decode(p + i, n - i, &cp);
		if (len == 0 || (cp < 0x20 && cp != '\t' && cp != '\n' && cp != '\r') ||
		    cp == 0xfffe || cp == 0xffff) {
			put_str(s, "&#65533;");
			i += len ? len : 1;
			continue;
		}
		if (cp < 0x80 && xml_escapes[cp])
			put_str(s, xml_escapes[cp]);
		else
			put_mem(s, str + i, len);
		i += len;
	}
}

/* ---- the table ---- */

enum { COL_POLICY, COL_COST, COL_RATIO, COL_UNDER, COL_UNSERVED, COL_ACTIONS, COL_PEAK, NCOLS };

static const char *const table_head[NCOLS] = {
    "POLICY", "REPLICA-SECONDS", "VS ORACLE", "UNDER-PROVISIONED", "UNSERVED", "ACTIONS", "PEAK",
};

/* The cost ratio is shown only against a simulated oracle. */
static bool ratio_known(const struct sim_result *r, enum sim_policy p)
{
	return r->score[SIM_ORACLE].enabled && isfinite(r->score[p].cost_ratio);
}

static void table_row(const struct sim_result *r, enum sim_policy p, char cell[NCOLS][NUM_BUF])
{
	const struct sim_score *sc = &r->score[p];
	snprintf(cell[COL_POLICY], NUM_BUF, "%s", sim_policy_name(p));
	if (isfinite(sc->replica_seconds))
		snprintf(cell[COL_COST], NUM_BUF, "%.0f", sc->replica_seconds);
	else
		snprintf(cell[COL_COST], NUM_BUF, "-");
	if (ratio_known(r, p))
		snprintf(cell[COL_RATIO], NUM_BUF, "%.2fx", sc->cost_ratio);
	else
		snprintf(cell[COL_RATIO], NUM_BUF, "-");
	fmt_percent(cell[COL_UNDER], sc->under_share, 1);
	fmt_percent(cell[COL_UNSERVED], sc->unserved_share, 2);
	snprintf(cell[COL_ACTIONS], NUM_BUF, "%" PRIu32, sc->actions);
	snprintf(cell[COL_PEAK], NUM_BUF, "%" PRId32, sc->peak);
}

/* One line of the table: every column but the last padded to its width, two spaces apart. */
static void table_line(struct sink *s, const char *const cell[NCOLS], const size_t width[NCOLS])
{
	for (size_t c = 0; c + 1 < NCOLS; c++)
		put(s, "%-*s  ", (int)width[c], cell[c]);
	put(s, "%s\n", cell[NCOLS - 1]);
}

enum ps_err sim_write_table(const struct sim_result *r, FILE *out)
{
	if (!result_ok(r, out))
		return PS_EINVAL;
	struct sink s = {.f = out};
	const struct sim_params *pa = &r->params;
	char t1[TIME_BUF], n1[NUM_BUF], n2[NUM_BUF], n3[NUM_BUF], n4[NUM_BUF];
	size_t scored = scored_ticks(r);

	put(&s, "prescale simulate: ");
	put_plain(&s, r->source, sizeof(r->source));
	put(&s, ", target ");
	put_plain(&s, r->target_name, sizeof(r->target_name));
	put(&s, ", %zu tick%s every %s, scored from %s (%zu tick%s)\n", r->n_steps,
	    r->n_steps == 1 ? "" : "s", fmt_duration(n1, pa->interval_ms),
	    fmt_instant(t1, pa->score_from_ms, unix_clock(r)), scored, scored == 1 ? "" : "s");
	put(&s, "startup %s, lag %s, target %s, capacity %s\n", fmt_duration(n1, pa->startup_ms),
	    fmt_duration(n2, pa->lag_ms), fmt_human(n3, pa->target), fmt_human(n4, pa->capacity));

	char cell[SIM_NPOLICIES][NCOLS][NUM_BUF];
	size_t width[NCOLS];
	for (size_t c = 0; c < NCOLS; c++)
		width[c] = strlen(table_head[c]);
	for (int p = 0; p < SIM_NPOLICIES; p++) {
		if (!r->score[p].enabled)
			continue;
		table_row(r, (enum sim_policy)p, cell[p]);
		for (size_t c = 0; c < NCOLS; c++)
			if (strlen(cell[p][c]) > width[c])
				width[c] = strlen(cell[p][c]);
	}
	table_line(&s, table_head, width);
	for (int p = 0; p < SIM_NPOLICIES; p++) {
		if (!r->score[p].enabled)
			continue;
		const char *row[NCOLS];
		for (size_t c = 0; c < NCOLS; c++)
			row[c] = cell[p][c];
		table_line(&s, row, width);
	}

	if (r->forecast.valid) {
		put(&s, "forecast (predictive");
		if (r->forecast_model[0]) {
			put(&s, ", ");
			put_plain(&s, r->forecast_model, sizeof(r->forecast_model));
		}
		if (isfinite(r->forecast.mase))
			snprintf(n2, sizeof(n2), "%.2f", r->forecast.mase);
		else
			snprintf(n2, sizeof(n2), "-");
		if (isfinite(r->forecast.smape))
			snprintf(n1, sizeof(n1), "%.1f%%", r->forecast.smape);
		else
			snprintf(n1, sizeof(n1), "-");
		put(&s, "): sMAPE %s, MASE %s against seasonal-naive, %zu forecast%s\n", n1, n2,
		    r->forecast.n, r->forecast.n == 1 ? "" : "s");
	}
	return sink_end(&s);
}

/* ---- JSON ---- */

static void json_real(struct sink *s, const char *key, double v, const char *end)
{
	char n[NUM_BUF];
	put(s, "\"%s\": %s%s\n", key, fmt_real(n, v, "null"), end);
}

enum ps_err sim_write_json(const struct sim_result *r, FILE *out)
{
	if (!result_ok(r, out))
		return PS_EINVAL;
	struct sink s = {.f = out};
	const struct sim_params *pa = &r->params;
	char n1[NUM_BUF];

	put(&s, "{\n  \"source\": ");
	put_json_str(&s, r->source, sizeof(r->source));
	put(&s, ",\n  \"target\": ");
	put_json_str(&s, r->target_name, sizeof(r->target_name));
	put(&s, ",\n  \"ticks\": %zu,\n", r->n_steps);
	put(&s, "  \"intervalSeconds\": %s,\n", fmt_seconds(n1, pa->interval_ms));
	put(&s, "  \"scoreFrom\": %" PRId64 ",\n", pa->score_from_ms);
	put(&s, "  \"scoredTicks\": %zu,\n", scored_ticks(r));
	put(&s, "  \"params\": {\n");
	put(&s, "    \"startupSeconds\": %s,\n", fmt_seconds(n1, pa->startup_ms));
	put(&s, "    \"lagSeconds\": %s,\n", fmt_seconds(n1, pa->lag_ms));
	put(&s, "    ");
	json_real(&s, "target", pa->target, ",");
	put(&s, "    ");
	json_real(&s, "capacity", pa->capacity, "");
	put(&s, "  },\n");

	int last = -1;
	for (int p = 0; p < SIM_NPOLICIES; p++)
		if (r->score[p].enabled)
			last = p;
	put(&s, "  \"policies\": {%s", last < 0 ? "},\n" : "\n");
	for (int p = 0; p <= last; p++) {
		const struct sim_score *sc = &r->score[p];
		if (!sc->enabled)
			continue;
		put(&s, "    \"%s\": {\n", sim_policy_name((enum sim_policy)p));
		put(&s, "      ");
		json_real(&s, "replicaSeconds", sc->replica_seconds, ",");
		put(&s, "      ");
		json_real(&s, "costVsOracle",
		          ratio_known(r, (enum sim_policy)p) ? sc->cost_ratio : NAN, ",");
		put(&s, "      ");
		json_real(&s, "underProvisionedShare", sc->under_share, ",");
		put(&s, "      ");
		json_real(&s, "unservedShare", sc->unserved_share, ",");
		put(&s, "      \"actions\": %" PRIu32 ",\n", sc->actions);
		put(&s, "      \"peakReplicas\": %" PRId32 "\n", sc->peak);
		put(&s, "    }%s\n", p == last ? "" : ",");
	}
	if (last >= 0)
		put(&s, "  },\n");

	if (!r->forecast.valid) {
		put(&s, "  \"forecast\": null\n}\n");
		return sink_end(&s);
	}
	put(&s, "  \"forecast\": {\n    \"model\": ");
	put_json_str(&s, r->forecast_model, sizeof(r->forecast_model));
	put(&s, ",\n    ");
	json_real(&s, "smape", r->forecast.smape, ",");
	put(&s, "    ");
	json_real(&s, "mase", r->forecast.mase, ",");
	put(&s, "    \"n\": %zu\n  }\n}\n", r->forecast.n);
	return sink_end(&s);
}

/* ---- steps.csv ---- */

enum ps_err sim_write_steps_csv(const struct sim_result *r, FILE *out)
{
	if (!result_ok(r, out))
		return PS_EINVAL;
	struct sink s = {.f = out};
	put(&s, "time,demand,observed,forecast");
	for (int p = 0; p < SIM_NPOLICIES; p++)
		if (r->score[p].enabled)
			put(&s, ",%s_desired,%s_ready", sim_policy_name((enum sim_policy)p),
			    sim_policy_name((enum sim_policy)p));
	put(&s, "\n");
	for (size_t i = 0; i < r->n_steps && !s.failed; i++) {
		const struct sim_step *st = &r->steps[i];
		char t[NUM_BUF], d[NUM_BUF], o[NUM_BUF], f[NUM_BUF];
		put(&s, "%s,%s,%s,%s", fmt_seconds(t, st->t_ms), fmt_real(d, st->demand, ""),
		    fmt_real(o, st->observed, ""), fmt_real(f, st->forecast, ""));
		for (int p = 0; p < SIM_NPOLICIES; p++)
			if (r->score[p].enabled)
				put(&s, ",%" PRId32 ",%" PRId32, st->desired[p], st->ready[p]);
		put(&s, "\n");
	}
	return sink_end(&s);
}

/* ---- chart.svg ---- */

#define SVG_W 1200
#define SVG_H 700
/* Plot area, shared by both panels horizontally. */
#define PLOT_L 76.0
#define PLOT_R 1176.0
/* Top panel (demand and capacity) and bottom panel (replicas), pixel top and bottom. */
#define TOP_Y0 88.0
#define TOP_Y1 368.0
#define BOT_Y0 396.0
#define BOT_Y1 622.0
/* Above this many ticks each series is downsampled per pixel column. */
#define SVG_DS_THRESHOLD 2000
/* At most this many x-axis ticks. */
#define X_TICKS_MAX 8
/* Points per line inside a path's d attribute, to keep lines short. */
#define PATH_POINTS_PER_LINE 12
/* Rough width of a character of the 12 px sans-serif text, for laying out the legend. */
#define CHAR_W 6.6

static const char color_demand[] = "#3a3a3a";
static const char color_text[] = "#333333";
static const char color_muted[] = "#6b6b6b";
static const char color_grid[] = "#e8e8e8";
static const char color_axis[] = "#9a9a9a";
static const char color_warmup[] = "#f1f1f1";
static const char *const color_policy[SIM_NPOLICIES] = {
    [SIM_REACTIVE] = "#d7812a",   /* muted orange */
    [SIM_PREDICTIVE] = "#3d6fb6", /* muted blue */
    [SIM_ORACLE] = "#4a9a5b",     /* muted green */
};
/* The order policies are drawn in, bottom first. */
static const int draw_order[SIM_NPOLICIES] = {SIM_ORACLE, SIM_REACTIVE, SIM_PREDICTIVE};

/* The time axis: the trace clock from the first tick to one interval past the last (each tick
 * holds for one interval), and its tick spacing. */
struct xaxis {
	int64_t t0, t1;
	int64_t tick;
	bool unix_time;
};

/* A value axis: <py0>..<py1> pixels (top, bottom) show <v1>..<v0>; labels are value / <div>
 * with <suffix>, <dec> decimals. */
struct panel {
	double py0, py1;
	double v0, v1, step;
	double div;
	const char *suffix;
	int dec;
};

static double x_of(const struct xaxis *xa, int64_t t)
{
	return PLOT_L + (double)(t - xa->t0) / (double)(xa->t1 - xa->t0) * (PLOT_R - PLOT_L);
}

static double y_of(const struct panel *p, double v)
{
	return p->py1 - (v - p->v0) / (p->v1 - p->v0) * (p->py1 - p->py0);
}

/* A coordinate in tenths of a pixel: "12", "12.5", "-0.5". */
static const char *fmt_px(char out[NUM_BUF], long tenths)
{
	unsigned long a = tenths < 0 ? 0UL - (unsigned long)tenths : (unsigned long)tenths;
	const char *sign = tenths < 0 ? "-" : "";
	if (a % 10 == 0)
		snprintf(out, NUM_BUF, "%s%lu", sign, a / 10);
	else
		snprintf(out, NUM_BUF, "%s%lu.%lu", sign, a / 10, a % 10);
	return out;
}

static long tenths(double v)
{
	/* Coordinates stay on the canvas; the clamp only keeps a broken input from overflowing. */
	if (!(v > -1e6))
		v = -1e6;
	if (v > 1e6)
		v = 1e6;
	return lround(v * 10.0);
}

static const char *px(char out[NUM_BUF], double v)
{
	return fmt_px(out, tenths(v));
}

/* The smallest 1, 2 or 5 x 10^k at or above <raw>. A table, not pow(), so that every libm
 * gives the same grid. */
static double nice_step(double raw)
{
	static const double pow10[] = {1e-9, 1e-8, 1e-7, 1e-6, 1e-5, 1e-4, 1e-3, 1e-2, 1e-1,
	                               1e0,  1e1,  1e2,  1e3,  1e4,  1e5,  1e6,  1e7,  1e8,
	                               1e9,  1e10, 1e11, 1e12, 1e13, 1e14, 1e15};
	static const double mult[] = {1, 2, 5};
	for (size_t i = 0; i < PS_ARRAY_LEN(pow10); i++)
		for (size_t j = 0; j < PS_ARRAY_LEN(mult); j++)
			if (mult[j] * pow10[i] >= raw)
				return mult[j] * pow10[i];
	return raw;
}

/* Fits <p> to values in [lo, hi] plus 0, on a grid of about five steps (whole steps for
 * <integer> axes). */
static void panel_scale(struct panel *p, double lo, double hi, bool integer)
{
	if (!(lo < 0))
		lo = 0;
	if (!(hi > lo))
		hi = lo + 1;
	double step = nice_step((hi - lo) / 5);
	if (integer && step < 1)
		step = 1;
	p->step = step;
	p->v0 = floor(lo / step) * step;
	p->v1 = ceil(hi / step) * step;
	double top = fmax(fabs(p->v0), fabs(p->v1));
	p->div = 1, p->suffix = "";
	if (top >= 1e10)
		p->div = 1e9, p->suffix = "G";
	else if (top >= 1e7)
		p->div = 1e6, p->suffix = "M";
	else if (top >= 1e4)
		p->div = 1e3, p->suffix = "k";
	p->dec = 0;
	double unit = step / p->div;
	while (p->dec < 9 && fabs(unit - round(unit)) > 1e-6 * unit) {
		unit *= 10;
		p->dec++;
	}
}

/* The value of series <k> at tick <i>. */
enum series { SER_DEMAND, SER_CAPACITY, SER_READY, SER_DESIRED };

static double series_value(const struct sim_result *r, enum series k, int pol, size_t i)
{
	const struct sim_step *st = &r->steps[i];
	switch (k) {
	case SER_DEMAND:
		return st->demand;
	case SER_CAPACITY:
		return (double)st->ready[pol] * r->params.capacity;
	case SER_READY:
		return (double)st->ready[pol];
	case SER_DESIRED:
		return (double)st->desired[pol];
	}
	return NAN;
}

/* Writes the points of one path. The <path> element (<open> up to `d="`) is written with the
 * first point, so a series with no finite value leaves no element. Repeated points are
 * skipped. */
struct pen {
	struct sink *s;
	const char *open;
	bool down;
	long lx, ly;
	size_t n;
};

static void pen_to(struct pen *pen, double x, double y)
{
	long xi = tenths(x), yi = tenths(y);
	if (pen->down && xi == pen->lx && yi == pen->ly)
		return;
	char a[NUM_BUF], b[NUM_BUF];
	if (!pen->down)
		put_str(pen->s, pen->open);
	else if (pen->n % PATH_POINTS_PER_LINE == 0)
		put_str(pen->s, "\n");
	put(pen->s, "%c%s %s", pen->down ? 'L' : 'M', fmt_px(a, xi), fmt_px(b, yi));
	pen->down = true;
	pen->lx = xi, pen->ly = yi;
	pen->n++;
}

static void pen_end(struct pen *pen)
{
	if (pen->down)
		put_str(pen->s, "\"/>\n");
}

/* The ticks kept of one downsampling bucket (a pixel column, or a single tick). */
struct bucket {
	long id;
	size_t first, lo, hi, last;
	bool used;
};

struct series_ctx {
	const struct sim_result *r;
	const struct xaxis *xa;
	const struct panel *p;
	enum series kind;
	int pol;
	struct pen pen;
	double held; /* step series: the value drawn up to the bucket being flushed */
};

static void flush_bucket(struct series_ctx *c, const struct bucket *b)
{
	/* first <= lo, hi <= last, so this is the kept ticks in time order. */
	size_t idx[4] = {b->first, b->lo < b->hi ? b->lo : b->hi, b->lo < b->hi ? b->hi : b->lo,
	                 b->last};
	const struct sim_step *st = c->r->steps;
	if (c->kind == SER_DEMAND) {
		for (size_t j = 0; j < 4; j++)
			if (j == 0 || idx[j] != idx[j - 1])
				pen_to(&c->pen, x_of(c->xa, st[idx[j]].t_ms),
				       y_of(c->p, series_value(c->r, c->kind, c->pol, idx[j])));
		return;
	}
	/* A step line changes only where the value does: the level held so far runs up to this
	 * bucket, then the kept values are drawn as one vertical stroke. */
	bool change = !isfinite(c->held);
	for (size_t j = 0; j < 4; j++)
		if (series_value(c->r, c->kind, c->pol, idx[j]) != c->held)
			change = true;
	if (!change)
		return;
	double x = x_of(c->xa, st[b->first].t_ms);
	if (isfinite(c->held))
		pen_to(&c->pen, x, y_of(c->p, c->held));
	for (size_t j = 0; j < 4; j++)
		pen_to(&c->pen, x, y_of(c->p, series_value(c->r, c->kind, c->pol, idx[j])));
	c->held = series_value(c->r, c->kind, c->pol, b->last);
}

/* Draws series <kind> (of policy <pol>) as one path opened by <open>: a line through the
 * demand, step lines for the rest. Non-finite values are skipped. */
static void draw_series(struct sink *s, const struct sim_result *r, const struct xaxis *xa,
                        const struct panel *p, enum series kind, int pol, const char *open)
{
	struct series_ctx c = {
	    .r = r,
	    .xa = xa,
	    .p = p,
	    .kind = kind,
	    .pol = pol,
	    .held = NAN,
	    .pen = {.s = s, .open = open},
	};
	bool ds = r->n_steps > SVG_DS_THRESHOLD;
	struct bucket b = {.used = false};
	for (size_t i = 0; i < r->n_steps && !s->failed; i++) {
		double v = series_value(r, kind, pol, i);
		if (!isfinite(v))
			continue;
		long id = ds ? (long)floor(x_of(xa, r->steps[i].t_ms) - PLOT_L) : (long)i;
		if (b.used && id != b.id) {
			flush_bucket(&c, &b);
			b.used = false;
		}
		if (!b.used) {
			b = (struct bucket){
			    .id = id, .first = i, .lo = i, .hi = i, .last = i, .used = true};
			continue;
		}
		if (v < series_value(r, kind, pol, b.lo))
			b.lo = i;
		if (v > series_value(r, kind, pol, b.hi))
			b.hi = i;
		b.last = i;
	}
	if (b.used)
		flush_bucket(&c, &b);
	if (kind != SER_DEMAND && isfinite(c.held))
		pen_to(&c.pen, x_of(xa, xa->t1), y_of(p, c.held));
	pen_end(&c.pen);
}

/* Chooses the x-axis tick spacing: the first of a list of round durations giving at most
 * X_TICKS_MAX ticks, or a multiple of 28 days for long traces. */
static int64_t x_tick_step(int64_t span)
{
	static const int64_t steps[] = {
	    1000,     2000,   5000,       10000,      15000,       30000,       60000,    120000,
	    300000,   600000, 900000,     1800000,    3600000,     7200000,     10800000, 21600000,
	    43200000, DAY_MS, 2 * DAY_MS, 7 * DAY_MS, 14 * DAY_MS, 28 * DAY_MS,
	};
	for (size_t i = 0; i < PS_ARRAY_LEN(steps); i++)
		if (span / steps[i] <= X_TICKS_MAX)
			return steps[i];
	int64_t unit = 28 * DAY_MS;
	return unit * ((span / unit + X_TICKS_MAX - 1) / X_TICKS_MAX);
}

static void svg_x_axis(struct sink *s, const struct xaxis *xa)
{
	char a[NUM_BUF], b[NUM_BUF], c[NUM_BUF], d[NUM_BUF];
	int64_t t = xa->t0 / xa->tick * xa->tick;
	if (t < xa->t0)
		t += xa->tick;
	char prev_date[16] = "";
	for (int k = 0; t <= xa->t1 && k <= 4 * X_TICKS_MAX && !s->failed; t += xa->tick, k++) {
		double x = x_of(xa, t);
		put(s, "<line x1=\"%s\" y1=\"%s\" x2=\"%s\" y2=\"%s\" stroke=\"%s\"/>\n", px(a, x),
		    px(b, TOP_Y0), px(c, x), px(d, TOP_Y1), color_grid);
		put(s, "<line x1=\"%s\" y1=\"%s\" x2=\"%s\" y2=\"%s\" stroke=\"%s\"/>\n", px(a, x),
		    px(b, BOT_Y0), px(c, x), px(d, BOT_Y1 + 4), color_grid);
		char line1[TIME_BUF], date[16] = "";
		if (xa->unix_time) {
			char iso[TIME_BUF];
			ps_clock_format_rfc3339(t, iso, sizeof(iso));
			snprintf(date, sizeof(date), "%.10s", iso);
			if (xa->tick >= DAY_MS)
				snprintf(line1, sizeof(line1), "%s", date);
			else if (xa->tick >= 60000)
				snprintf(line1, sizeof(line1), "%.5s", iso + 11);
			else
				snprintf(line1, sizeof(line1), "%.8s", iso + 11);
		} else {
			fmt_instant(line1, t, false);
		}
		/* A label at the right edge ends there rather than running off the canvas. */
		const char *anchor = x > PLOT_R - 40 ? "end" : "middle";
		put(s, "<text x=\"%s\" y=\"%s\" text-anchor=\"%s\">%s</text>\n", px(a, x),
		    px(b, BOT_Y1 + 17), anchor, line1);
		/* Times of day carry their date under the first tick and where the day changes. */
		if (xa->unix_time && xa->tick < DAY_MS && strcmp(date, prev_date) != 0)
			put(s, "<text x=\"%s\" y=\"%s\" text-anchor=\"%s\" fill=\"%s\">%s</text>\n",
			    px(a, x), px(b, BOT_Y1 + 31), anchor, color_muted, date);
		snprintf(prev_date, sizeof(prev_date), "%s", date);
	}
	put(s, "<text x=\"%s\" y=\"%s\" text-anchor=\"middle\" fill=\"%s\">%s</text>\n",
	    px(a, (PLOT_L + PLOT_R) / 2), px(b, SVG_H - 24), color_text,
	    xa->unix_time ? "time (UTC)" : "time (trace clock, from 0)");
}

/* Horizontal gridlines, tick labels and the frame of one panel. */
static void svg_y_axis(struct sink *s, const struct panel *p)
{
	char a[NUM_BUF], b[NUM_BUF], c[NUM_BUF], d[NUM_BUF];
	double n = round((p->v1 - p->v0) / p->step);
	for (double k = 0; k <= n && !s->failed; k++) {
		double v = p->v0 + k * p->step;
		double y = y_of(p, v);
		put(s, "<line x1=\"%s\" y1=\"%s\" x2=\"%s\" y2=\"%s\" stroke=\"%s\"/>\n",
		    px(a, PLOT_L - 4), px(b, y), px(c, PLOT_R), px(d, y), color_grid);
		double lv = v / p->div;
		if (fabs(lv) < 1e-12)
			lv = 0; /* no "-0" */
		put(s, "<text x=\"%s\" y=\"%s\" text-anchor=\"end\">%.*f%s</text>\n",
		    px(a, PLOT_L - 7), px(b, y + 4), p->dec, lv, p->suffix);
	}
	put(s, "<path d=\"M%s %sV%sH%s\" fill=\"none\" stroke=\"%s\"/>\n", px(a, PLOT_L),
	    px(b, p->py0), px(c, p->py1), px(d, PLOT_R), color_axis);
}

static void svg_y_title(struct sink *s, const struct panel *p, const char *title_xml)
{
	char a[NUM_BUF], b[NUM_BUF];
	const char *x = px(a, 22);
	const char *y = px(b, (p->py0 + p->py1) / 2);
	put(s,
	    "<text x=\"%s\" y=\"%s\" transform=\"rotate(-90 %s %s)\" text-anchor=\"middle\" "
	    "fill=\"%s\">%s</text>\n",
	    x, y, x, y, color_text, title_xml);
}

/* A policy whose desired count ever differs from its ready count gets a dashed desired line;
 * for the others (the oracle) it would only hide the ready line. */
static bool desired_differs(const struct sim_result *r, int pol)
{
	for (size_t i = 0; i < r->n_steps; i++)
		if (r->steps[i].desired[pol] != r->steps[i].ready[pol])
			return true;
	return false;
}

/* One legend entry at <*x>: a swatch and a label; moves <*x> past it. */
static void legend_entry(struct sink *s, double *x, const char *color, const char *dash, bool box,
                         const char *label)
{
	char a[NUM_BUF], b[NUM_BUF], c[NUM_BUF], d[NUM_BUF];
	const double y = 66;
	if (box)
		put(s,
		    "<rect x=\"%s\" y=\"%s\" width=\"18\" height=\"10\" fill=\"%s\" "
		    "stroke=\"%s\"/>\n",
		    px(a, *x), px(b, y - 5), color, color_axis);
	else
		put(s,
		    "<line x1=\"%s\" y1=\"%s\" x2=\"%s\" y2=\"%s\" stroke=\"%s\" "
		    "stroke-width=\"2\"%s%s%s/>\n",
		    px(a, *x), px(b, y), px(c, *x + 18), px(d, y), color,
		    dash ? " stroke-dasharray=\"" : "", dash ? dash : "", dash ? "\"" : "");
	put(s, "<text x=\"%s\" y=\"%s\">%s</text>\n", px(a, *x + 24), px(b, y + 4), label);
	*x += 24 + CHAR_W * (double)strlen(label) + 22;
}

enum ps_err sim_write_svg(const struct sim_result *r, FILE *out)
{
	if (!result_ok(r, out))
		return PS_EINVAL;
	struct sink s = {.f = out};
	const struct sim_params *pa = &r->params;
	char a[NUM_BUF], b[NUM_BUF], c[NUM_BUF], d[NUM_BUF];
	char tbuf[TIME_BUF], open[256], title[160];

	/* The axes. */
	struct xaxis xa = {.t0 = r->steps[0].t_ms, .unix_time = unix_clock(r)};
	int64_t interval = pa->interval_ms;
	if (interval <= 0)
		interval = r->n_steps > 1 ? r->steps[1].t_ms - r->steps[0].t_ms : 1000;
	if (interval <= 0)
		interval = 1000;
	xa.t1 = r->steps[r->n_steps - 1].t_ms + interval;
	if (xa.t1 <= xa.t0)
		xa.t1 = xa.t0 + interval;
	xa.tick = x_tick_step(xa.t1 - xa.t0);

	bool desired[SIM_NPOLICIES] = {false};
	double dlo = 0, dhi = 0, rhi = 0;
	for (int p = 0; p < SIM_NPOLICIES; p++)
		if (r->score[p].enabled)
			desired[p] = desired_differs(r, p);
	for (size_t i = 0; i < r->n_steps; i++) {
		const struct sim_step *st = &r->steps[i];
		if (isfinite(st->demand))
			dlo = fmin(dlo, st->demand), dhi = fmax(dhi, st->demand);
		for (int p = 0; p < SIM_NPOLICIES; p++) {
			if (!r->score[p].enabled)
				continue;
			double cap = (double)st->ready[p] * pa->capacity;
			if (isfinite(cap))
				dlo = fmin(dlo, cap), dhi = fmax(dhi, cap);
			rhi = fmax(rhi, (double)st->ready[p]);
			if (desired[p])
				rhi = fmax(rhi, (double)st->desired[p]);
		}
	}
	struct panel top = {.py0 = TOP_Y0, .py1 = TOP_Y1};
	struct panel bot = {.py0 = BOT_Y0, .py1 = BOT_Y1};
	panel_scale(&top, dlo, dhi, false);
	panel_scale(&bot, 0, rhi, true);

	put(&s,
	    "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%d\" height=\"%d\" "
	    "viewBox=\"0 0 %d %d\" font-family=\"sans-serif\" font-size=\"12\" fill=\"%s\">\n",
	    SVG_W, SVG_H, SVG_W, SVG_H, color_text);
	put(&s, "<title>prescale simulate: ");
	put_xml(&s, r->source, sizeof(r->source));
	put(&s, ", target ");
	put_xml(&s, r->target_name, sizeof(r->target_name));
	put(&s, "</title>\n<rect width=\"%d\" height=\"%d\" fill=\"#ffffff\"/>\n", SVG_W, SVG_H);

	/* Title and subtitle. */
	put(&s, "<text x=\"%s\" y=\"26\" font-size=\"16\" font-weight=\"bold\">prescale simulate: ",
	    px(a, PLOT_L));
	put_xml(&s, r->source, sizeof(r->source));
	put(&s, ", target ");
	put_xml(&s, r->target_name, sizeof(r->target_name));
	put(&s, "</text>\n");
	size_t scored = scored_ticks(r);
	put(&s,
	    "<text x=\"%s\" y=\"46\" fill=\"%s\">%zu tick%s every %s, scored from %s (%zu "
	    "tick%s); ",
	    px(a, PLOT_L), color_muted, r->n_steps, r->n_steps == 1 ? "" : "s",
	    fmt_duration(b, pa->interval_ms), fmt_instant(tbuf, pa->score_from_ms, xa.unix_time),
	    scored, scored == 1 ? "" : "s");
	put(&s, "startup %s, lag %s, target %s, capacity %s per replica</text>\n",
	    fmt_duration(a, pa->startup_ms), fmt_duration(b, pa->lag_ms), fmt_human(c, pa->target),
	    fmt_human(d, pa->capacity));

	/* Warm-up: the ticks before the scored window, shaded in both panels. */
	bool warmup = r->score_from_step > 0;
	if (warmup) {
		double xw = r->score_from_step < r->n_steps
		                ? x_of(&xa, r->steps[r->score_from_step].t_ms)
		                : PLOT_R;
		xw = fmax(xw, PLOT_L); /* ticks out of order must not give a negative width */
		const double py[2][2] = {{TOP_Y0, TOP_Y1}, {BOT_Y0, BOT_Y1}};
		for (size_t k = 0; k < 2; k++)
			put(&s,
			    "<rect x=\"%s\" y=\"%s\" width=\"%s\" height=\"%s\" fill=\"%s\"/>\n",
			    px(a, PLOT_L), px(b, py[k][0]), px(c, xw - PLOT_L),
			    px(d, py[k][1] - py[k][0]), color_warmup);
		if (xw - PLOT_L >= 60)
			put(&s,
			    "<text x=\"%s\" y=\"%s\" fill=\"%s\" "
			    "font-style=\"italic\">warm-up</text>\n",
			    px(a, PLOT_L + 6), px(b, TOP_Y0 + 16), color_muted);
	}

	/* Grid, axes and their titles. */
	svg_x_axis(&s, &xa);
	svg_y_axis(&s, &top);
	svg_y_axis(&s, &bot);
	snprintf(title, sizeof(title), "demand and capacity (ready replicas &#215; %s)",
	         fmt_human(a, pa->capacity));
	svg_y_title(&s, &top, title);
	svg_y_title(&s, &bot, "replicas");

	/* Top panel: capacity per policy under the demand line. The oracle, the reference, goes
	 * underneath the others. */
	for (int k = 0; k < SIM_NPOLICIES; k++) {
		int p = draw_order[k];
		if (!r->score[p].enabled)
			continue;
		snprintf(
		    open, sizeof(open),
		    "<path id=\"capacity-%s\" fill=\"none\" stroke=\"%s\" stroke-width=\"1.5\" "
		    "d=\"",
		    sim_policy_name((enum sim_policy)p), color_policy[p]);
		draw_series(&s, r, &xa, &top, SER_CAPACITY, p, open);
	}
	snprintf(open, sizeof(open),
	         "<path id=\"demand\" fill=\"none\" stroke=\"%s\" stroke-width=\"1.2\" "
	         "stroke-linejoin=\"round\" d=\"",
	         color_demand);
	draw_series(&s, r, &xa, &top, SER_DEMAND, 0, open);

	/* Bottom panel: desired (dashed) under ready, per policy. */
	for (int k = 0; k < SIM_NPOLICIES; k++) {
		int p = draw_order[k];
		if (!desired[p])
			continue;
		snprintf(open, sizeof(open),
		         "<path id=\"desired-%s\" fill=\"none\" stroke=\"%s\" stroke-width=\"1\" "
		         "stroke-dasharray=\"4 3\" d=\"",
		         sim_policy_name((enum sim_policy)p), color_policy[p]);
		draw_series(&s, r, &xa, &bot, SER_DESIRED, p, open);
	}
	for (int k = 0; k < SIM_NPOLICIES; k++) {
		int p = draw_order[k];
		if (!r->score[p].enabled)
			continue;
		snprintf(open, sizeof(open),
		         "<path id=\"ready-%s\" fill=\"none\" stroke=\"%s\" stroke-width=\"1.5\" "
		         "d=\"",
		         sim_policy_name((enum sim_policy)p), color_policy[p]);
		draw_series(&s, r, &xa, &bot, SER_READY, p, open);
	}

	/* Legend. */
	double lx = PLOT_L;
	legend_entry(&s, &lx, color_demand, NULL, false, "demand");
	bool any_desired = false;
	for (int p = 0; p < SIM_NPOLICIES; p++) {
		if (!r->score[p].enabled)
			continue;
		legend_entry(&s, &lx, color_policy[p], NULL, false,
		             sim_policy_name((enum sim_policy)p));
		any_desired = any_desired || desired[p];
	}
	if (any_desired)
		legend_entry(&s, &lx, color_muted, "4 3", false, "desired replicas");
	if (warmup)
		legend_entry(&s, &lx, color_warmup, NULL, true, "warm-up (not scored)");

	put(&s, "</svg>\n");
	return sink_end(&s);
}
