/* test_clock.c -- real and virtual clocks, RFC 3339 formatting and parsing. */
#include <criterion/criterion.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "../support/scenario.h"
#include "ps_clock.h"

/* 2026-11-26T12:00:00Z: 20783 days after 1970-01-01 (56 years with 14 leap days, plus 329
 * days into 2026), plus 12 hours. */
#define NOV26_NOON INT64_C(1795694400000)
/* 2024-02-29T00:00:00Z: 19782 days. */
#define LEAP_DAY INT64_C(1709164800000)

Test(clock, a_virtual_clock_starts_where_it_is_told)
{
	struct ps_clock c;
	ps_clock_virtual_init(&c, NOV26_NOON);
	cr_expect_eq(ps_clock_wall_ms(&c), NOV26_NOON);
	cr_expect_eq(ps_clock_mono_ms(&c), NOV26_NOON);
	cr_expect_eq(ps_clock_wall_ms(&c), NOV26_NOON, "reading must not move it");
}

Test(clock, advancing_a_virtual_clock_moves_both_readings)
{
	struct ps_clock c;
	ps_clock_virtual_init(&c, 1000);
	ps_clock_virtual_advance(&c, 15000);
	cr_expect_eq(ps_clock_wall_ms(&c), 16000);
	cr_expect_eq(ps_clock_mono_ms(&c), 16000);
	ps_clock_virtual_advance(&c, 0);
	cr_expect_eq(ps_clock_mono_ms(&c), 16000);
}

Test(clock, setting_a_virtual_wall_clock_steps_it_without_moving_monotonic_time)
{
	struct ps_clock c;
	ps_clock_virtual_init(&c, 50000);
	ps_clock_virtual_set(&c, 20000);
	cr_expect_eq(ps_clock_wall_ms(&c), 20000);
	cr_expect_eq(ps_clock_mono_ms(&c), 50000);
	ps_clock_virtual_advance(&c, 5);
	cr_expect_eq(ps_clock_wall_ms(&c), 20005);
	cr_expect_eq(ps_clock_mono_ms(&c), 50005);
}

static void *advance_many(void *arg)
{
	for (int i = 0; i < 1000; i++)
		ps_clock_virtual_advance(arg, 1);
	return NULL;
}

static void *read_many(void *arg)
{
	int64_t prev = 0;
	for (int i = 0; i < 1000; i++) {
		int64_t now = ps_clock_mono_ms(arg);
		if (now < prev)
			return arg; /* went backwards */
		prev = now;
	}
	return NULL;
}

/* Four threads advance a virtual clock 1000 times by 1 ms while a fifth reads it. Returns
 * NULL or a description of the problem; plain C so the ThreadSanitizer build can run it without
 * Criterion (see main). */
static const char *concurrent_scenario(void)
{
	static char problem[128];
	struct ps_clock c;
	ps_clock_virtual_init(&c, 0);
	pthread_t t[5];
	for (int i = 0; i < 4; i++)
		if (pthread_create(&t[i], NULL, advance_many, &c) != 0)
			return "pthread_create failed";
	if (pthread_create(&t[4], NULL, read_many, &c) != 0)
		return "pthread_create failed";
	void *backwards = NULL;
	for (int i = 0; i < 5; i++)
		if (pthread_join(t[i], i == 4 ? &backwards : NULL) != 0)
			return "pthread_join failed";
	if (backwards)
		return "the monotonic reading went backwards";
	if (ps_clock_mono_ms(&c) != 4000 || ps_clock_wall_ms(&c) != 4000) {
		snprintf(problem, sizeof(problem), "mono %lld wall %lld, want 4000",
			 (long long)ps_clock_mono_ms(&c), (long long)ps_clock_wall_ms(&c));
		return problem;
	}
	return NULL;
}

Test(clock, concurrent_advances_on_a_virtual_clock_are_all_counted)
{
	const char *problem = concurrent_scenario();
	cr_expect_null(problem, "%s", problem ? problem : "");
}

Test(clock, the_real_clock_is_monotonic_and_its_wall_time_matches_time)
{
	struct ps_clock *r = ps_clock_real();
	int64_t before = (int64_t)time(NULL) * 1000;
	int64_t wall = ps_clock_wall_ms(r);
	int64_t after = ((int64_t)time(NULL) + 1) * 1000;
	cr_expect_geq(wall, before);
	cr_expect_lt(wall, after);
	int64_t prev = ps_clock_mono_ms(r);
	for (int i = 0; i < 1000; i++) {
		int64_t now = ps_clock_mono_ms(r);
		cr_assert_geq(now, prev);
		prev = now;
	}
	struct ps_clock mine;
	ps_clock_real_init(&mine);
	cr_expect_geq(ps_clock_mono_ms(&mine), prev);
}

struct format_case {
	int64_t ms;
	const char *out;
};

static const struct format_case formats[] = {
	{0, "1970-01-01T00:00:00.000Z"},
	{NOV26_NOON, "2026-11-26T12:00:00.000Z"},
	{NOV26_NOON + 123, "2026-11-26T12:00:00.123Z"},
	{LEAP_DAY, "2024-02-29T00:00:00.000Z"},
	{INT64_C(951868800000), "2000-03-01T00:00:00.000Z"},
	{-1, "1969-12-31T23:59:59.999Z"},
	{INT64_MAX, "9999-12-31T23:59:59.999Z"},
	{INT64_MIN, "0000-01-01T00:00:00.000Z"},
};

Test(clock, formats_wall_milliseconds_as_rfc3339_utc)
{
	for (size_t i = 0; i < sizeof(formats) / sizeof(formats[0]); i++) {
		char buf[40];
		char *r = ps_clock_format_rfc3339(formats[i].ms, buf, sizeof(buf));
		cr_expect_eq(r, buf);
		cr_expect_str_eq(buf, formats[i].out, "%lld", (long long)formats[i].ms);
		cr_expect_eq(strlen(buf), PS_RFC3339_MS_LEN);
	}
}

struct parse_case {
	const char *in;
	int64_t ms;
};

static const struct parse_case parses[] = {
	{"2026-11-26T12:00:00Z", NOV26_NOON},
	{"2026-11-26T12:00:00.123Z", NOV26_NOON + 123},
	{"2026-11-26T12:00:00.5Z", NOV26_NOON + 500},
	{"2026-11-26T12:00:00.123999999Z", NOV26_NOON + 123},
	{"2026-11-26t12:00:00z", NOV26_NOON},
	{"2026-11-26T13:00:00+01:00", NOV26_NOON},
	{"2026-11-26T06:30:00-05:30", NOV26_NOON},
	{"2026-11-27T00:00:00+12:00", NOV26_NOON},
	{"2024-02-29T00:00:00Z", LEAP_DAY},
	{"1969-12-31T23:59:59.999Z", -1},
	{"1970-01-01T00:00:00Z", 0},
};

Test(clock, parses_rfc3339_with_z_or_an_offset_and_an_optional_fraction)
{
	for (size_t i = 0; i < sizeof(parses) / sizeof(parses[0]); i++) {
		struct ps_diag d;
		ps_diag_clear(&d);
		int64_t got = 42;
		cr_expect_eq(ps_clock_parse_rfc3339(parses[i].in, &got, &d), PS_OK, "%s: %s",
			     parses[i].in, d.msg);
		cr_expect_eq(got, parses[i].ms, "%s: got %lld", parses[i].in, (long long)got);
	}
}

#define FMT_MSG "\": expected RFC 3339 like \"2026-11-26T12:00:00Z\" or \"2026-11-26T13:00:00.5+01:00\""
#define RANGE_MSG "\": a date or time field is out of range"

struct bad_case {
	const char *in;
	const char *msg;
};

static const struct bad_case bad[] = {
	{"", "invalid timestamp \"" FMT_MSG},
	{"2026-11-26", "invalid timestamp \"2026-11-26" FMT_MSG},
	{"2026-11-26 12:00:00Z", "invalid timestamp \"2026-11-26 12:00:00Z" FMT_MSG},
	{"2026-11-26T12:00:00", "invalid timestamp \"2026-11-26T12:00:00" FMT_MSG},
	{"2026-11-26T12:00:00.Z", "invalid timestamp \"2026-11-26T12:00:00.Z" FMT_MSG},
	{"2026-11-26T12:00:00+0100", "invalid timestamp \"2026-11-26T12:00:00+0100" FMT_MSG},
	{"2026-11-26T12:00:00Z ", "invalid timestamp \"2026-11-26T12:00:00Z " FMT_MSG},
	{"26-11-26T12:00:00Z", "invalid timestamp \"26-11-26T12:00:00Z" FMT_MSG},
	{"2026-11-26T12:00Z", "invalid timestamp \"2026-11-26T12:00Z" FMT_MSG},
	{"2026-13-01T00:00:00Z", "invalid timestamp \"2026-13-01T00:00:00Z" RANGE_MSG},
	{"2026-00-01T00:00:00Z", "invalid timestamp \"2026-00-01T00:00:00Z" RANGE_MSG},
	{"2026-02-29T00:00:00Z", "invalid timestamp \"2026-02-29T00:00:00Z" RANGE_MSG},
	{"2026-11-31T00:00:00Z", "invalid timestamp \"2026-11-31T00:00:00Z" RANGE_MSG},
	{"2026-11-26T24:00:00Z", "invalid timestamp \"2026-11-26T24:00:00Z" RANGE_MSG},
	{"2026-11-26T12:60:00Z", "invalid timestamp \"2026-11-26T12:60:00Z" RANGE_MSG},
	{"2026-11-26T12:00:60Z", "invalid timestamp \"2026-11-26T12:00:60Z" RANGE_MSG},
	{"2026-11-26T12:00:00+24:00", "invalid timestamp \"2026-11-26T12:00:00+24:00" RANGE_MSG},
};

Test(clock, rejects_anything_but_strict_rfc3339_with_a_message)
{
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct ps_diag d;
		ps_diag_clear(&d);
		int64_t got = 42;
		cr_expect_eq(ps_clock_parse_rfc3339(bad[i].in, &got, &d), PS_EPARSE, "%s",
			     bad[i].in);
		cr_expect_str_eq(d.msg, bad[i].msg);
		cr_expect_eq(got, 42);
	}
}

Test(clock, formatted_timestamps_parse_back_unchanged)
{
	static const int64_t values[] = {0, -1, NOV26_NOON + 999, LEAP_DAY - 1, INT64_C(253402300799999)};
	for (size_t i = 0; i < sizeof(values) / sizeof(values[0]); i++) {
		char buf[40];
		int64_t back = 0;
		ps_clock_format_rfc3339(values[i], buf, sizeof(buf));
		cr_expect_eq(ps_clock_parse_rfc3339(buf, &back, NULL), PS_OK, "%s", buf);
		cr_expect_eq(back, values[i], "%s", buf);
	}
}

/* Criterion 2.4's sandbox cannot start under ThreadSanitizer (its shared arena must be mapped in
 * an address range TSan reserves: Snaipe/Criterion#274), so the TSan build runs the threaded
 * scenario from a plain main, which overrides Criterion's. */

#ifdef PS_TEST_TSAN
int main(void)
{
	const char *problem = concurrent_scenario();
	if (problem) {
		fprintf(stderr, "test_clock (tsan): concurrent advances: %s\n", problem);
		return 1;
	}
	printf("test_clock (tsan): concurrent advances passed\n");
	return 0;
}
#endif
