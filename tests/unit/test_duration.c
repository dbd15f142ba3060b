/* test_duration.c -- duration parsing into milliseconds and shortest formatting. */
#include <criterion/criterion.h>
#include <stdint.h>

#include "ps_parse.h"

struct valid_case {
	const char *in;
	int64_t ms;
};

struct invalid_case {
	const char *in;
	enum ps_err err;
	const char *msg;
};

static const struct valid_case valid[] = {
	{"0", 0},
	{"0s", 0},
	{"15s", 15000},
	{"1m30s", 90000},
	{"30s1m", 90000},
	{"7d", 604800000},
	{"250ms", 250},
	{"1h0m", 3600000},
	{"1d2h", 93600000},
	{"2h45m", 9900000},
	{"1s500ms", 1500},
	{"1.5h", 5400000},
	{"1.5s", 1500},
	{"0.25s", 250},
	{"0.001s", 1},
	{"1.0ms", 1},
	{"1.000000000000s", 1000},
	{"0.00001d", 864},
	{"0.5m", 30000},
	{"106751991167d", INT64_C(9223372036828800000)},
	{"9223372036854775807ms", INT64_MAX},
};

#define UNITS " (units: ms, s, m, h, d)"

static const struct invalid_case invalid[] = {
	{"", PS_EPARSE, "invalid duration \"\": empty string"},
	{"15", PS_EPARSE, "invalid duration \"15\": missing unit after \"15\"" UNITS},
	{"1m30", PS_EPARSE, "invalid duration \"1m30\": missing unit after \"30\"" UNITS},
	{"00", PS_EPARSE, "invalid duration \"00\": missing unit after \"00\"" UNITS},
	{"5w", PS_EPARSE, "invalid duration \"5w\": unknown unit \"w\"" UNITS},
	{"1y", PS_EPARSE, "invalid duration \"1y\": unknown unit \"y\"" UNITS},
	{"5sec", PS_EPARSE, "invalid duration \"5sec\": unknown unit \"sec\"" UNITS},
	{"5S", PS_EPARSE, "invalid duration \"5S\": unknown unit \"S\"" UNITS},
	{"1e3s", PS_EPARSE, "invalid duration \"1e3s\": unknown unit \"e\"" UNITS},
	{"-5s", PS_EPARSE, "invalid duration \"-5s\": negative durations are not allowed"},
	{"1m 30s", PS_EPARSE, "invalid duration \"1m 30s\": whitespace is not allowed"},
	{" 5s", PS_EPARSE, "invalid duration \" 5s\": whitespace is not allowed"},
	{"s", PS_EPARSE, "invalid duration \"s\": expected a number at \"s\""},
	{"+5s", PS_EPARSE, "invalid duration \"+5s\": expected a number at \"+5s\""},
	{".5s", PS_EPARSE, "invalid duration \".5s\": expected a number at \".5s\""},
	{"5s!", PS_EPARSE, "invalid duration \"5s!\": expected a number at \"!\""},
	{"1.s", PS_EPARSE, "invalid duration \"1.s\": expected digits after the \".\" in \"1.\""},
	{"1.5ms", PS_EPARSE,
	 "invalid duration \"1.5ms\": \"1.5ms\" is not a whole number of milliseconds"},
	{"0.0000000001d", PS_EPARSE,
	 "invalid duration \"0.0000000001d\": \"0.0000000001d\" is not a whole number of "
	 "milliseconds"},
	{"1.00000000001s", PS_EPARSE,
	 "invalid duration \"1.00000000001s\": \"1.00000000001s\" is not a whole number of "
	 "milliseconds"},
	{"106751991168d", PS_ERANGE, "invalid duration \"106751991168d\": out of range"},
	{"9223372036854775808ms", PS_ERANGE,
	 "invalid duration \"9223372036854775808ms\": out of range"},
	{"9223372036854775807ms1ms", PS_ERANGE,
	 "invalid duration \"9223372036854775807ms1ms\": out of range"},
};

Test(duration, parses_every_valid_form_to_milliseconds)
{
	for (size_t i = 0; i < sizeof(valid) / sizeof(valid[0]); i++) {
		struct ps_diag d;
		ps_diag_clear(&d);
		int64_t got = -1;
		enum ps_err err = ps_parse_duration_ms(valid[i].in, &got, &d);
		cr_expect_eq(err, PS_OK, "\"%s\": %s", valid[i].in, d.msg);
		cr_expect_eq(got, valid[i].ms, "\"%s\": got %lld, want %lld", valid[i].in,
			     (long long)got, (long long)valid[i].ms);
	}
}

Test(duration, rejects_invalid_forms_with_a_message_quoting_the_input)
{
	for (size_t i = 0; i < sizeof(invalid) / sizeof(invalid[0]); i++) {
		struct ps_diag d;
		ps_diag_clear(&d);
		int64_t got = 777;
		enum ps_err err = ps_parse_duration_ms(invalid[i].in, &got, &d);
		cr_expect_eq(err, invalid[i].err, "\"%s\": got %s", invalid[i].in,
			     ps_err_name(err));
		cr_expect_str_eq(d.msg, invalid[i].msg, "\"%s\"", invalid[i].in);
		cr_expect_eq(got, 777, "\"%s\": output written on failure", invalid[i].in);
	}
}

Test(duration, accepts_a_null_diag)
{
	int64_t v;
	cr_expect_eq(ps_parse_duration_ms("5w", &v, NULL), PS_EPARSE);
	cr_expect_eq(ps_parse_duration_ms("2m", &v, NULL), PS_OK);
	cr_expect_eq(v, 120000);
}

struct format_case {
	int64_t ms;
	const char *out;
};

static const struct format_case formats[] = {
	{0, "0s"},
	{1, "1ms"},
	{250, "250ms"},
	{1000, "1s"},
	{1500, "1s500ms"},
	{15000, "15s"},
	{90000, "1m30s"},
	{3600000, "1h"},
	{93600000, "1d2h"},
	{604800000, "7d"},
	{90061001, "1d1h1m1s1ms"},
	{-90000, "-1m30s"},
	{INT64_MAX, "106751991167d7h12m55s807ms"},
	{INT64_MIN, "-106751991167d7h12m55s808ms"},
};

Test(duration, formats_milliseconds_in_the_shortest_unit_form)
{
	for (size_t i = 0; i < sizeof(formats) / sizeof(formats[0]); i++) {
		char buf[64];
		char *r = ps_format_duration_ms(formats[i].ms, buf, sizeof(buf));
		cr_expect_eq(r, buf);
		cr_expect_str_eq(buf, formats[i].out, "%lld", (long long)formats[i].ms);
	}
}

Test(duration, formatted_non_negative_durations_parse_back_unchanged)
{
	for (size_t i = 0; i < sizeof(formats) / sizeof(formats[0]); i++) {
		if (formats[i].ms < 0)
			continue;
		char buf[64];
		int64_t back = -1;
		ps_format_duration_ms(formats[i].ms, buf, sizeof(buf));
		cr_expect_eq(ps_parse_duration_ms(buf, &back, NULL), PS_OK, "%s", buf);
		cr_expect_eq(back, formats[i].ms, "%s", buf);
	}
}

Test(duration, formatting_truncates_to_the_buffer_and_stays_terminated)
{
	char buf[4];
	ps_format_duration_ms(90000, buf, sizeof(buf));
	cr_expect_str_eq(buf, "1m3");
}
