/* ps_parse.c -- strict parsers for quantities, durations, integers and floats (exact arithmetic).
 *
 * Quantities follow resource.Quantity's grammar; their milli value is computed exactly from the
 * digit string (no double), then its magnitude is rounded up to a whole milli, which is what
 * Quantity.MilliValue() does for the values it stores as int64Amount: "1n" and "0.0001" give 1,
 * and "-1n" gives -1 (away from zero, so parse(-x) == -parse(x)). Unlike Go we reject the
 * digit-less forms "+", "-" and "." that Go quietly reads as zero, and we report PS_ERANGE where
 * Go would clamp or overflow.
 *
 * Durations accept decimals like Go's time.ParseDuration ("1.5h", "0.25s") as long as the result
 * is a whole number of milliseconds ("1.5ms" is refused rather than silently rounded).
 */
#include "ps_parse.h"
#include "ps_text.h"

#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Longest piece of user input quoted in a message before it is cut with "...". */
#define QUOTE_MAX 96
/* Beyond this magnitude an exponent can only overflow (or round to one milli), so it saturates. */
#define EXP_SATURATE 100000

static bool is_digit(char c)
{
	return c >= '0' && c <= '9';
}

static bool is_space(char c)
{
	return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f';
}

static bool has_space(const char *s)
{
	for (; *s; s++)
		if (is_space(*s))
			return true;
	return false;
}

/* Writes <s> (at most <n> bytes of it, up to its NUL) into <out> for a message. */
static const char *quote_n(char out[PS_QUOTE_BUF(QUOTE_MAX)], const char *s, size_t n)
{
	return ps_text_quote(out, PS_QUOTE_BUF(QUOTE_MAX), s, strnlen(s, n), QUOTE_MAX);
}

static const char *quote(char out[PS_QUOTE_BUF(QUOTE_MAX)], const char *s)
{
	return quote_n(out, s, SIZE_MAX);
}

/* ---- quantities ------------------------------------------------------------------------- */

struct quantity_suffix {
	const char *name;
	int exp10;
	unsigned exp2;
};

static const struct quantity_suffix quantity_suffixes[] = {
	{"n", -9, 0},  {"u", -6, 0},  {"m", -3, 0},  {"", 0, 0},     {"k", 3, 0},
	{"M", 6, 0},   {"G", 9, 0},   {"T", 12, 0},  {"P", 15, 0},   {"E", 18, 0},
	{"Ki", 0, 10}, {"Mi", 0, 20}, {"Gi", 0, 30}, {"Ti", 0, 40}, {"Pi", 0, 50},
	{"Ei", 0, 60},
};

/* The digits of the number with the decimal point removed: int_digits then frac_digits. */
struct digits {
	const char *int_part;
	size_t n_int;
	const char *frac_part;
	size_t n_frac;
};

static unsigned digit_at(const struct digits *d, size_t i)
{
	char c = i < d->n_int ? d->int_part[i] : d->frac_part[i - d->n_int];
	return (unsigned)(c - '0');
}

/* Computes ceil(D * 10^e10 * 2^e2) where D is the digit string, into <out>, failing (false)
 * when it exceeds <limit>. e2 <= 60. */
static bool scaled_ceil(const struct digits *d, int64_t e10, unsigned e2, uint64_t limit,
			uint64_t *out)
{
	size_t n = d->n_int + d->n_frac;
	uint64_t acc = 0;
	bool any = false;
	for (size_t i = 0; i < n; i++)
		if (digit_at(d, i) != 0)
			any = true;
	if (!any) {
		*out = 0;
		return true;
	}
	uint64_t mul = (uint64_t)1 << e2;
	if (e10 >= 0) {
		for (size_t i = 0; i < n; i++) {
			if (__builtin_mul_overflow(acc, 10u, &acc) ||
			    __builtin_add_overflow(acc, digit_at(d, i), &acc) || acc > limit)
				return false;
		}
		/* acc >= 1 here, so this loop overflows within 20 rounds for a big exponent. */
		for (int64_t k = 0; k < e10; k++)
			if (__builtin_mul_overflow(acc, 10u, &acc) || acc > limit)
				return false;
		if (__builtin_mul_overflow(acc, mul, &acc) || acc > limit)
			return false;
		*out = acc;
		return true;
	}
	/* D = Q * 10^k + R with R the last k digits: ceil(D * mul / 10^k) =
	 * Q * mul + floor(R * mul / 10^k) + (remainder != 0). */
	uint64_t k = (uint64_t)(-e10);
	size_t q_end = (uint64_t)n > k ? n - (size_t)k : 0;
	for (size_t i = 0; i < q_end; i++) {
		if (__builtin_mul_overflow(acc, 10u, &acc) ||
		    __builtin_add_overflow(acc, digit_at(d, i), &acc) || acc > limit)
			return false;
	}
	if (__builtin_mul_overflow(acc, mul, &acc) || acc > limit)
		return false;
	/* Multiply the fraction 0.r1..rk by mul from its last digit: carry < mul <= 2^60, so
	 * digit * mul + carry < 10 * 2^60 fits in 64 bits. */
	uint64_t carry = 0;
	bool rest = false;
	for (size_t i = n; i > q_end; i--) {
		uint64_t t = (uint64_t)digit_at(d, i - 1) * mul + carry;
		if (t % 10 != 0)
			rest = true;
		carry = t / 10;
	}
	/* Leading zeros of R (when k > n) keep dividing the carry. */
	uint64_t pad = k - (uint64_t)(n - q_end);
	for (; pad > 0 && carry > 0; pad--) {
		if (carry % 10 != 0)
			rest = true;
		carry /= 10;
	}
	if (__builtin_add_overflow(acc, carry, &acc) ||
	    __builtin_add_overflow(acc, rest ? 1u : 0u, &acc) || acc > limit)
		return false;
	*out = acc;
	return true;
}

/* Parses a decimal-exponent suffix "e<signed integer>" (s points at 'e' or 'E'). */
static bool parse_exponent(const char *s, int64_t *out)
{
	const char *p = s + 1;
	bool neg = false;
	if (*p == '+' || *p == '-')
		neg = *p++ == '-';
	if (!is_digit(*p))
		return false;
	int64_t v = 0;
	for (; is_digit(*p); p++)
		if (v < EXP_SATURATE)
			v = v * 10 + (*p - '0');
	if (*p)
		return false;
	*out = neg ? -v : v;
	return true;
}

enum ps_err ps_parse_quantity_milli(const char *s, int64_t *out_milli, struct ps_diag *diag)
{
	PS_ASSERT(s && out_milli);
	char q1[QUOTE_MAX * 4 + 8], q2[QUOTE_MAX * 4 + 8];
	if (!*s)
		return ps_diag_set(diag, PS_EPARSE, "invalid quantity \"\": empty string");
	if (has_space(s))
		return ps_diag_set(diag, PS_EPARSE, "invalid quantity %s: whitespace is not allowed",
				   quote(q1, s));
	const char *p = s;
	bool negative = false;
	if (*p == '+' || *p == '-')
		negative = *p++ == '-';
	struct digits d = {.int_part = p};
	while (is_digit(*p))
		p++;
	d.n_int = (size_t)(p - d.int_part);
	if (*p == '.') {
		d.frac_part = ++p;
		while (is_digit(*p))
			p++;
		d.n_frac = (size_t)(p - d.frac_part);
	}
	if (d.n_int + d.n_frac == 0)
		return ps_diag_set(diag, PS_EPARSE, "invalid quantity %s: expected a number",
				   quote(q1, s));

	int64_t exp10 = 0;
	unsigned exp2 = 0;
	bool found = false;
	for (size_t i = 0; i < PS_ARRAY_LEN(quantity_suffixes); i++) {
		if (strcmp(p, quantity_suffixes[i].name) == 0) {
			exp10 = quantity_suffixes[i].exp10;
			exp2 = quantity_suffixes[i].exp2;
			found = true;
			break;
		}
	}
	if (!found && (*p == 'e' || *p == 'E') && p[1]) {
		if (!parse_exponent(p, &exp10))
			return ps_diag_set(diag, PS_EPARSE,
					   "invalid quantity %s: malformed exponent %s",
					   quote(q1, s), quote(q2, p));
		found = true;
	}
	if (!found)
		return ps_diag_set(diag, PS_EPARSE, "invalid quantity %s: unknown suffix %s",
				   quote(q1, s), quote(q2, p));

	/* milli = D * 10^(exp10 + 3 - n_frac) * 2^exp2; n_frac fits: it is a string length. */
	int64_t e10 = exp10 + 3 - (int64_t)d.n_frac;
	uint64_t limit = negative ? (uint64_t)INT64_MAX + 1 : (uint64_t)INT64_MAX;
	uint64_t mag;
	if (!scaled_ceil(&d, e10, exp2, limit, &mag))
		return ps_diag_set(diag, PS_ERANGE,
				   "invalid quantity %s: out of range for int64 milli-units",
				   quote(q1, s));
	if (negative)
		*out_milli = mag == (uint64_t)INT64_MAX + 1 ? INT64_MIN : -(int64_t)mag;
	else
		*out_milli = (int64_t)mag;
	return PS_OK;
}

char *ps_format_quantity_milli(int64_t milli, char *buf, size_t size)
{
	static const char *const si[] = {"", "k", "M", "G", "T", "P", "E"};
	if (!buf || size == 0)
		return buf;
	const char *sign = milli < 0 ? "-" : "";
	uint64_t mag = milli < 0 ? (uint64_t)0 - (uint64_t)milli : (uint64_t)milli;
	if (mag % 1000 != 0) {
		snprintf(buf, size, "%s%" PRIu64 "m", sign, mag);
		return buf;
	}
	/* Kubernetes' canonical DecimalSI form: the largest suffix with an integer mantissa. */
	uint64_t v = mag / 1000;
	size_t i = 0;
	while (v != 0 && v % 1000 == 0 && i + 1 < PS_ARRAY_LEN(si)) {
		v /= 1000;
		i++;
	}
	snprintf(buf, size, "%s%" PRIu64 "%s", v ? sign : "", v, si[i]);
	return buf;
}

/* ---- durations -------------------------------------------------------------------------- */

struct duration_unit {
	const char *name;
	int64_t ms;
};

static const struct duration_unit duration_units[] = {
	{"ms", 1}, {"s", 1000}, {"m", 60000}, {"h", 3600000}, {"d", 86400000},
};

static bool is_alpha(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

enum ps_err ps_parse_duration_ms(const char *s, int64_t *out_ms, struct ps_diag *diag)
{
	PS_ASSERT(s && out_ms);
	char q1[QUOTE_MAX * 4 + 8], q2[QUOTE_MAX * 4 + 8];
	if (!*s)
		return ps_diag_set(diag, PS_EPARSE, "invalid duration \"\": empty string");
	if (has_space(s))
		return ps_diag_set(diag, PS_EPARSE, "invalid duration %s: whitespace is not allowed",
				   quote(q1, s));
	if (*s == '-')
		return ps_diag_set(diag, PS_EPARSE,
				   "invalid duration %s: negative durations are not allowed",
				   quote(q1, s));
	if (strcmp(s, "0") == 0) {
		*out_ms = 0;
		return PS_OK;
	}
	int64_t total = 0;
	const char *p = s;
	while (*p) {
		const char *part = p;
		if (!is_digit(*p))
			return ps_diag_set(diag, PS_EPARSE,
					   "invalid duration %s: expected a number at %s",
					   quote(q1, s), quote(q2, p));
		int64_t whole = 0;
		bool range = false;
		for (; is_digit(*p); p++)
			if (__builtin_mul_overflow(whole, 10, &whole) ||
			    __builtin_add_overflow(whole, *p - '0', &whole))
				range = true;
		const char *frac = NULL;
		size_t n_frac = 0;
		if (*p == '.') {
			frac = ++p;
			while (is_digit(*p))
				p++;
			n_frac = (size_t)(p - frac);
			if (n_frac == 0)
				return ps_diag_set(diag, PS_EPARSE,
						   "invalid duration %s: expected digits after "
						   "the \".\" in %s",
						   quote(q1, s), quote_n(q2, part, (size_t)(p - part)));
		}
		const char *unit = p;
		while (is_alpha(*p))
			p++;
		size_t unit_len = (size_t)(p - unit);
		if (unit_len == 0)
			return ps_diag_set(diag, PS_EPARSE,
					   "invalid duration %s: missing unit after %s "
					   "(units: ms, s, m, h, d)",
					   quote(q1, s), quote_n(q2, part, (size_t)(p - part)));
		const struct duration_unit *u = NULL;
		for (size_t i = 0; i < PS_ARRAY_LEN(duration_units); i++)
			if (strlen(duration_units[i].name) == unit_len &&
			    memcmp(duration_units[i].name, unit, unit_len) == 0)
				u = &duration_units[i];
		if (!u)
			return ps_diag_set(diag, PS_EPARSE,
					   "invalid duration %s: unknown unit %s (units: ms, s, m, h, "
					   "d)",
					   quote(q1, s), quote_n(q2, unit, unit_len));
		int64_t part_ms;
		if (range || __builtin_mul_overflow(whole, u->ms, &part_ms))
			return ps_diag_set(diag, PS_ERANGE, "invalid duration %s: out of range",
					   quote(q1, s));
		if (n_frac > 0) {
			/* frac * unit / 10^n must be whole; trailing zeros do not count. A unit
			 * (at most 2^10 * 3^3 * 5^5) can absorb at most 10 decimal places. */
			while (n_frac > 0 && frac[n_frac - 1] == '0')
				n_frac--;
			int64_t f = 0, pow10 = 1;
			bool whole_ms = n_frac <= 10;
			for (size_t i = 0; whole_ms && i < n_frac; i++) {
				f = f * 10 + (frac[i] - '0');
				pow10 *= 10;
			}
			if (whole_ms && (f * u->ms) % pow10 != 0)
				whole_ms = false;
			if (!whole_ms)
				return ps_diag_set(diag, PS_EPARSE,
						   "invalid duration %s: %s is not a whole number of "
						   "milliseconds",
						   quote(q1, s), quote_n(q2, part, (size_t)(p - part)));
			if (__builtin_add_overflow(part_ms, f * u->ms / pow10, &part_ms))
				return ps_diag_set(diag, PS_ERANGE,
						   "invalid duration %s: out of range", quote(q1, s));
		}
		if (__builtin_add_overflow(total, part_ms, &total))
			return ps_diag_set(diag, PS_ERANGE, "invalid duration %s: out of range",
					   quote(q1, s));
	}
	*out_ms = total;
	return PS_OK;
}

char *ps_format_duration_ms(int64_t ms, char *buf, size_t size)
{
	if (!buf || size == 0)
		return buf;
	if (ms == 0) {
		snprintf(buf, size, "0s");
		return buf;
	}
	char tmp[64];
	size_t o = 0;
	uint64_t mag = ms < 0 ? (uint64_t)0 - (uint64_t)ms : (uint64_t)ms;
	if (ms < 0)
		tmp[o++] = '-';
	for (size_t i = PS_ARRAY_LEN(duration_units); i-- > 0;) {
		uint64_t unit = (uint64_t)duration_units[i].ms;
		uint64_t n = mag / unit;
		mag %= unit;
		if (n == 0)
			continue;
		int w = snprintf(tmp + o, sizeof(tmp) - o, "%" PRIu64 "%s", n,
				 duration_units[i].name);
		if (w > 0)
			o += (size_t)w;
	}
	tmp[o] = '\0';
	snprintf(buf, size, "%s", tmp);
	return buf;
}

/* ---- plain numbers ---------------------------------------------------------------------- */

enum ps_err ps_parse_int64(const char *s, int64_t *out, struct ps_diag *diag)
{
	PS_ASSERT(s && out);
	char q1[QUOTE_MAX * 4 + 8];
	const char *p = s;
	if (*p == '+' || *p == '-')
		p++;
	if (!is_digit(*p))
		return ps_diag_set(diag, PS_EPARSE, "invalid integer %s", quote(q1, s));
	while (is_digit(*p))
		p++;
	if (*p)
		return ps_diag_set(diag, PS_EPARSE, "invalid integer %s", quote(q1, s));
	errno = 0;
	char *end = NULL;
	long long v = strtoll(s, &end, 10);
	if (errno == ERANGE)
		return ps_diag_set(diag, PS_ERANGE, "integer %s out of range", quote(q1, s));
	if (errno != 0 || !end || *end)
		return ps_diag_set(diag, PS_EPARSE, "invalid integer %s", quote(q1, s));
	*out = (int64_t)v;
	return PS_OK;
}

enum ps_err ps_parse_double(const char *s, double *out, struct ps_diag *diag)
{
	PS_ASSERT(s && out);
	char q1[QUOTE_MAX * 4 + 8];
	/* strtod also takes leading space, hex floats, "inf" and "nan": only decimal text may
	 * reach it, starting with a digit or a point after an optional sign. */
	const char *p = s;
	if (*p == '+' || *p == '-')
		p++;
	if (!is_digit(*p) && *p != '.')
		return ps_diag_set(diag, PS_EPARSE, "invalid number %s", quote(q1, s));
	for (const char *c = p; *c; c++)
		if (!is_digit(*c) && !strchr(".eE+-", *c))
			return ps_diag_set(diag, PS_EPARSE, "invalid number %s", quote(q1, s));
	errno = 0;
	char *end = NULL;
	double v = strtod(s, &end);
	if (!end || end == s || *end)
		return ps_diag_set(diag, PS_EPARSE, "invalid number %s", quote(q1, s));
	/* ERANGE with a tiny result is underflow: the nearest double is the honest answer. */
	if (errno == ERANGE && isinf(v))
		return ps_diag_set(diag, PS_ERANGE, "number %s out of range", quote(q1, s));
	if (!isfinite(v))
		return ps_diag_set(diag, PS_EPARSE, "invalid number %s", quote(q1, s));
	*out = v;
	return PS_OK;
}
