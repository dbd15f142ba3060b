/* ps_clock.c -- real and virtual clocks; RFC 3339 formatting and parsing. */
#include "ps_clock.h"

#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#define MS_PER_DAY INT64_C(86400000)

static int64_t read_clock(clockid_t id)
{
	struct timespec ts;
	/* Fails only for an invalid clock id, a programmer error. */
	int rc = clock_gettime(id, &ts);
	PS_ASSERT(rc == 0);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int64_t real_mono(struct ps_clock *c)
{
	(void)c;
	return read_clock(CLOCK_MONOTONIC);
}

static int64_t real_wall(struct ps_clock *c)
{
	(void)c;
	return read_clock(CLOCK_REALTIME);
}

static int64_t virt_mono(struct ps_clock *c)
{
	return atomic_load(&c->virt_mono);
}

static int64_t virt_wall(struct ps_clock *c)
{
	return atomic_load(&c->virt_wall);
}

static struct ps_clock real_clock = {.mono_ms = real_mono, .wall_ms = real_wall};

struct ps_clock *ps_clock_real(void)
{
	return &real_clock;
}

void ps_clock_real_init(struct ps_clock *c)
{
	PS_ASSERT(c);
	c->mono_ms = real_mono;
	c->wall_ms = real_wall;
	atomic_init(&c->virt_mono, 0);
	atomic_init(&c->virt_wall, 0);
}

void ps_clock_virtual_init(struct ps_clock *c, int64_t start_wall_ms)
{
	PS_ASSERT(c);
	c->mono_ms = virt_mono;
	c->wall_ms = virt_wall;
	atomic_init(&c->virt_mono, start_wall_ms);
	atomic_init(&c->virt_wall, start_wall_ms);
}

void ps_clock_virtual_advance(struct ps_clock *c, int64_t ms)
{
	PS_ASSERT(c && c->mono_ms == virt_mono && ms >= 0);
	atomic_fetch_add(&c->virt_mono, ms);
	atomic_fetch_add(&c->virt_wall, ms);
}

void ps_clock_virtual_set(struct ps_clock *c, int64_t wall_ms)
{
	PS_ASSERT(c && c->wall_ms == virt_wall);
	atomic_store(&c->virt_wall, wall_ms);
}

int64_t ps_clock_mono_ms(struct ps_clock *c)
{
	PS_ASSERT(c);
	return c->mono_ms(c);
}

int64_t ps_clock_wall_ms(struct ps_clock *c)
{
	PS_ASSERT(c);
	return c->wall_ms(c);
}

/* Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's days_from_civil). */
static int64_t days_from_civil(int64_t y, unsigned m, unsigned d)
{
	y -= m <= 2;
	int64_t era = (y >= 0 ? y : y - 399) / 400;
	unsigned yoe = (unsigned)(y - era * 400);
	unsigned doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
	unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	return era * 146097 + (int64_t)doe - 719468;
}

static void civil_from_days(int64_t z, int64_t *y, unsigned *m, unsigned *d)
{
	z += 719468;
	int64_t era = (z >= 0 ? z : z - 146096) / 146097;
	unsigned doe = (unsigned)(z - era * 146097);
	unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
	unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
	unsigned mp = (5 * doy + 2) / 153;
	*d = doy - (153 * mp + 2) / 5 + 1;
	*m = mp < 10 ? mp + 3 : mp - 9;
	*y = (int64_t)yoe + era * 400 + (*m <= 2);
}

static bool is_leap(int64_t y)
{
	return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

static unsigned days_in_month(int64_t y, unsigned m)
{
	static const unsigned days[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
	return m == 2 && is_leap(y) ? 29 : days[m - 1];
}

char *ps_clock_format_rfc3339(int64_t wall_ms, char *buf, size_t size)
{
	if (!buf || size == 0)
		return buf;
	int64_t lo = days_from_civil(0, 1, 1) * MS_PER_DAY;
	int64_t hi = days_from_civil(10000, 1, 1) * MS_PER_DAY - 1;
	if (wall_ms < lo)
		wall_ms = lo;
	if (wall_ms > hi)
		wall_ms = hi;
	int64_t days = wall_ms / MS_PER_DAY;
	int64_t rem = wall_ms % MS_PER_DAY;
	if (rem < 0) {
		rem += MS_PER_DAY;
		days--;
	}
	int64_t y;
	unsigned m, d;
	civil_from_days(days, &y, &m, &d);
	snprintf(buf, size, "%04d-%02u-%02uT%02d:%02d:%02d.%03dZ", (int)y, m, d,
		 (int)(rem / 3600000), (int)(rem / 60000 % 60), (int)(rem / 1000 % 60),
		 (int)(rem % 1000));
	return buf;
}

/* Reads exactly <n> digits at <s> into <out>. */
static bool fixed_digits(const char *s, size_t n, unsigned *out)
{
	unsigned v = 0;
	for (size_t i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return false;
		v = v * 10 + (unsigned)(s[i] - '0');
	}
	*out = v;
	return true;
}

enum ps_err ps_clock_parse_rfc3339(const char *s, int64_t *out_wall_ms, struct ps_diag *diag)
{
	PS_ASSERT(s && out_wall_ms);
	unsigned year, mon, day, hour, min, sec, oh = 0, om = 0;
	const char *p = s;
	if (strlen(s) < 20 || !fixed_digits(p, 4, &year) || p[4] != '-' ||
	    !fixed_digits(p + 5, 2, &mon) || p[7] != '-' || !fixed_digits(p + 8, 2, &day) ||
	    (p[10] != 'T' && p[10] != 't') || !fixed_digits(p + 11, 2, &hour) || p[13] != ':' ||
	    !fixed_digits(p + 14, 2, &min) || p[16] != ':' || !fixed_digits(p + 17, 2, &sec))
		goto bad_format;
	p += 19;
	int64_t ms = 0;
	if (*p == '.') {
		p++;
		if (*p < '0' || *p > '9')
			goto bad_format;
		int64_t scale = 100;
		for (; *p >= '0' && *p <= '9'; p++) {
			ms += (*p - '0') * scale;
			scale /= 10;
		}
	}
	int sign = 0;
	if (*p == 'Z' || *p == 'z') {
		p++;
	} else if (*p == '+' || *p == '-') {
		sign = *p == '+' ? 1 : -1;
		if (!fixed_digits(p + 1, 2, &oh) || p[3] != ':' || !fixed_digits(p + 4, 2, &om))
			goto bad_format;
		p += 6;
	} else {
		goto bad_format;
	}
	if (*p)
		goto bad_format;
	if (mon < 1 || mon > 12 || day < 1 || day > days_in_month(year, mon) || hour > 23 ||
	    min > 59 || sec > 59 || oh > 23 || om > 59)
		return ps_diag_set(diag, PS_EPARSE,
				   "invalid timestamp \"%.64s\": a date or time field is out of range",
				   s);
	int64_t t = days_from_civil(year, mon, day) * MS_PER_DAY + (int64_t)hour * 3600000 +
		    (int64_t)min * 60000 + (int64_t)sec * 1000 + ms;
	t -= sign * ((int64_t)oh * 3600000 + (int64_t)om * 60000);
	*out_wall_ms = t;
	return PS_OK;
bad_format:
	return ps_diag_set(diag, PS_EPARSE,
			   "invalid timestamp \"%.64s\": expected RFC 3339 like "
			   "\"2026-11-26T12:00:00Z\" or \"2026-11-26T13:00:00.5+01:00\"",
			   s);
}
