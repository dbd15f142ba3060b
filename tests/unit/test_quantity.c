/* test_quantity.c -- resource.Quantity parsing into milli-units and canonical formatting. */
#include <criterion/criterion.h>
#include <stdint.h>
#include <string.h>

#include "ps_parse.h"

struct valid_case {
	const char *in;
	int64_t milli;
};

struct invalid_case {
	const char *in;
	enum ps_err err;
	const char *msg;
};

/* Expected values computed by hand: value * 1000, magnitude rounded up to a whole milli. */
static const struct valid_case valid[] = {
	{"0", 0},
	{"-0", 0},
	{"1", 1000},
	{"-2", -2000},
	{"+3", 3000},
	{"500m", 500},
	{"100m", 100},
	{"1.5", 1500},
	{"0.1", 100},
	{".5", 500},
	{"1.", 1000},
	{"000123", 123000},
	{"2k", 2000000},
	{"1M", 1000000000},
	{"1G", INT64_C(1000000000000)},
	{"1T", INT64_C(1000000000000000)},
	{"1P", INT64_C(1000000000000000000)},
	{"1Ki", 1024000},
	{"1Mi", 1048576000},
	{"10Mi", INT64_C(10485760000)},
	{"+3.5Gi", INT64_C(3758096384000)},
	{"0.5Ki", 512000},
	{"0.0005Ki", 512},
	{"1.0000001Ki", 1024001},
	{"8Pi", INT64_C(9007199254740992000)},
	{"1e3", 1000000},
	{"1E+3", 1000000},
	{"12e1", 120000},
	{"1.5E-2", 15},
	{"1e-3", 1},
	{"1e-4", 1},
	{"1e15", INT64_C(1000000000000000000)},
	{"0e99999", 0},
	{"1e-99999999999999", 1},
	{"1n", 1},
	{"1u", 1},
	{"1000u", 1},
	{"1001u", 2},
	{"999999n", 1},
	{"0.0001", 1},
	{"0.5m", 1},
	{"1.0001", 1001},
	{"1.000000000000000000000000000001", 1001},
	{"-1n", -1},
	{"-0.5m", -1},
	{"-1.5m", -2},
	{"-0.0001", -1},
	{"9223372036854775807m", INT64_MAX},
	{"-9223372036854775808m", INT64_MIN},
	{"9223372036854775.807", INT64_MAX},
};

static const struct invalid_case invalid[] = {
	{"", PS_EPARSE, "invalid quantity \"\": empty string"},
	{" 1", PS_EPARSE, "invalid quantity \" 1\": whitespace is not allowed"},
	{"1 ", PS_EPARSE, "invalid quantity \"1 \": whitespace is not allowed"},
	{"5 m", PS_EPARSE, "invalid quantity \"5 m\": whitespace is not allowed"},
	{"m", PS_EPARSE, "invalid quantity \"m\": expected a number"},
	{"NaN", PS_EPARSE, "invalid quantity \"NaN\": expected a number"},
	{"inf", PS_EPARSE, "invalid quantity \"inf\": expected a number"},
	{"+", PS_EPARSE, "invalid quantity \"+\": expected a number"},
	{"-", PS_EPARSE, "invalid quantity \"-\": expected a number"},
	{".", PS_EPARSE, "invalid quantity \".\": expected a number"},
	{"--1", PS_EPARSE, "invalid quantity \"--1\": expected a number"},
	{"1.2.3", PS_EPARSE, "invalid quantity \"1.2.3\": unknown suffix \".3\""},
	{"1Kb", PS_EPARSE, "invalid quantity \"1Kb\": unknown suffix \"Kb\""},
	{"1K", PS_EPARSE, "invalid quantity \"1K\": unknown suffix \"K\""},
	{"1ki", PS_EPARSE, "invalid quantity \"1ki\": unknown suffix \"ki\""},
	{"1mi", PS_EPARSE, "invalid quantity \"1mi\": unknown suffix \"mi\""},
	{"1e", PS_EPARSE, "invalid quantity \"1e\": unknown suffix \"e\""},
	{"0x10", PS_EPARSE, "invalid quantity \"0x10\": unknown suffix \"x10\""},
	{"1\"x", PS_EPARSE, "invalid quantity \"1\\\"x\": unknown suffix \"\\\"x\""},
	{"1e3.5", PS_EPARSE, "invalid quantity \"1e3.5\": malformed exponent \"e3.5\""},
	{"1e+", PS_EPARSE, "invalid quantity \"1e+\": malformed exponent \"e+\""},
	{"1E-", PS_EPARSE, "invalid quantity \"1E-\": malformed exponent \"E-\""},
	{"1E", PS_ERANGE, "invalid quantity \"1E\": out of range for int64 milli-units"},
	{"10P", PS_ERANGE, "invalid quantity \"10P\": out of range for int64 milli-units"},
	{"9Pi", PS_ERANGE, "invalid quantity \"9Pi\": out of range for int64 milli-units"},
	{"8Ei", PS_ERANGE, "invalid quantity \"8Ei\": out of range for int64 milli-units"},
	{"1e99999999999999", PS_ERANGE,
	 "invalid quantity \"1e99999999999999\": out of range for int64 milli-units"},
	{"9223372036854775808m", PS_ERANGE,
	 "invalid quantity \"9223372036854775808m\": out of range for int64 milli-units"},
	{"-9223372036854775809m", PS_ERANGE,
	 "invalid quantity \"-9223372036854775809m\": out of range for int64 milli-units"},
	{"9223372036854775.8071", PS_ERANGE,
	 "invalid quantity \"9223372036854775.8071\": out of range for int64 milli-units"},
};

Test(quantity, parses_every_valid_form_to_exact_milli_units)
{
	for (size_t i = 0; i < sizeof(valid) / sizeof(valid[0]); i++) {
		struct ps_diag d;
		ps_diag_clear(&d);
		int64_t got = -12345;
		enum ps_err err = ps_parse_quantity_milli(valid[i].in, &got, &d);
		cr_expect_eq(err, PS_OK, "\"%s\": %s", valid[i].in, d.msg);
		cr_expect_eq(got, valid[i].milli, "\"%s\": got %lld, want %lld", valid[i].in,
			     (long long)got, (long long)valid[i].milli);
	}
}

Test(quantity, rejects_invalid_forms_with_a_message_quoting_the_input)
{
	for (size_t i = 0; i < sizeof(invalid) / sizeof(invalid[0]); i++) {
		struct ps_diag d;
		ps_diag_clear(&d);
		int64_t got = 777;
		enum ps_err err = ps_parse_quantity_milli(invalid[i].in, &got, &d);
		cr_expect_eq(err, invalid[i].err, "\"%s\": got %s", invalid[i].in,
			     ps_err_name(err));
		cr_expect_eq(d.err, invalid[i].err, "\"%s\"", invalid[i].in);
		cr_expect_str_eq(d.msg, invalid[i].msg, "\"%s\"", invalid[i].in);
		cr_expect_eq(got, 777, "\"%s\": output written on failure", invalid[i].in);
	}
}

Test(quantity, accepts_a_null_diag)
{
	int64_t v;
	cr_expect_eq(ps_parse_quantity_milli("1Kb", &v, NULL), PS_EPARSE);
	cr_expect_eq(ps_parse_quantity_milli("10E", &v, NULL), PS_ERANGE);
	cr_expect_eq(ps_parse_quantity_milli("250m", &v, NULL), PS_OK);
	cr_expect_eq(v, 250);
}

Test(quantity, cuts_a_very_long_input_in_the_message)
{
	char in[400];
	memset(in, '7', sizeof(in) - 2);
	in[sizeof(in) - 2] = 'x';
	in[sizeof(in) - 1] = '\0';
	struct ps_diag d;
	int64_t v;
	cr_assert_eq(ps_parse_quantity_milli(in, &v, &d), PS_EPARSE);
	/* The input is quoted as its first 96 bytes and "...". */
	char want[200];
	snprintf(want, sizeof(want), "invalid quantity \"%.96s...\": unknown suffix \"x\"", in);
	cr_expect_str_eq(d.msg, want);
}

struct format_case {
	int64_t milli;
	const char *out;
};

/* Kubernetes' canonical DecimalSI strings for the same amounts. */
static const struct format_case formats[] = {
	{0, "0"},
	{1, "1m"},
	{500, "500m"},
	{1500, "1500m"},
	{-1500, "-1500m"},
	{2000, "2"},
	{-3000, "-3"},
	{1500000, "1500"},
	{2000000, "2k"},
	{1000000000, "1M"},
	{INT64_C(1000000000000000000), "1P"},
	{INT64_MAX, "9223372036854775807m"},
	{INT64_MIN, "-9223372036854775808m"},
};

Test(quantity, formats_milli_units_in_canonical_short_form)
{
	for (size_t i = 0; i < sizeof(formats) / sizeof(formats[0]); i++) {
		char buf[64];
		char *r = ps_format_quantity_milli(formats[i].milli, buf, sizeof(buf));
		cr_expect_eq(r, buf);
		cr_expect_str_eq(buf, formats[i].out, "%lld", (long long)formats[i].milli);
	}
}

Test(quantity, formatted_values_parse_back_to_the_same_milli_units)
{
	for (size_t i = 0; i < sizeof(formats) / sizeof(formats[0]); i++) {
		char buf[64];
		int64_t back = 0;
		ps_format_quantity_milli(formats[i].milli, buf, sizeof(buf));
		cr_expect_eq(ps_parse_quantity_milli(buf, &back, NULL), PS_OK, "%s", buf);
		cr_expect_eq(back, formats[i].milli, "%s", buf);
	}
}

Test(quantity, formatting_truncates_to_the_buffer_and_stays_terminated)
{
	char buf[3] = {'z', 'z', 'z'};
	ps_format_quantity_milli(1500, buf, sizeof(buf));
	cr_expect_str_eq(buf, "15");
	char one = 'z';
	ps_format_quantity_milli(1500, &one, 0);
	cr_expect_eq(one, 'z');
}

struct int_case {
	const char *in;
	enum ps_err err;
	int64_t value;
	const char *msg;
};

static const struct int_case ints[] = {
	{"0", PS_OK, 0, NULL},
	{"-42", PS_OK, -42, NULL},
	{"+7", PS_OK, 7, NULL},
	{"0015", PS_OK, 15, NULL},
	{"9223372036854775807", PS_OK, INT64_MAX, NULL},
	{"-9223372036854775808", PS_OK, INT64_MIN, NULL},
	{"9223372036854775808", PS_ERANGE, 0, "integer \"9223372036854775808\" out of range"},
	{"-9223372036854775809", PS_ERANGE, 0, "integer \"-9223372036854775809\" out of range"},
	{"", PS_EPARSE, 0, "invalid integer \"\""},
	{" 1", PS_EPARSE, 0, "invalid integer \" 1\""},
	{"1 ", PS_EPARSE, 0, "invalid integer \"1 \""},
	{"0x10", PS_EPARSE, 0, "invalid integer \"0x10\""},
	{"1.0", PS_EPARSE, 0, "invalid integer \"1.0\""},
	{"12a", PS_EPARSE, 0, "invalid integer \"12a\""},
	{"-", PS_EPARSE, 0, "invalid integer \"-\""},
	{"1e3", PS_EPARSE, 0, "invalid integer \"1e3\""},
};

Test(quantity, parses_whole_string_int64_strictly)
{
	for (size_t i = 0; i < sizeof(ints) / sizeof(ints[0]); i++) {
		struct ps_diag d;
		ps_diag_clear(&d);
		int64_t v = 99;
		enum ps_err err = ps_parse_int64(ints[i].in, &v, &d);
		cr_expect_eq(err, ints[i].err, "\"%s\": got %s", ints[i].in, ps_err_name(err));
		if (ints[i].err == PS_OK)
			cr_expect_eq(v, ints[i].value, "\"%s\"", ints[i].in);
		else
			cr_expect_str_eq(d.msg, ints[i].msg, "\"%s\"", ints[i].in);
	}
}

struct double_case {
	const char *in;
	enum ps_err err;
	double value;
	const char *msg;
};

static const struct double_case doubles[] = {
	{"0.5", PS_OK, 0.5, NULL},
	{"-1e3", PS_OK, -1000.0, NULL},
	{"+2.5", PS_OK, 2.5, NULL},
	{"1.", PS_OK, 1.0, NULL},
	{".25", PS_OK, 0.25, NULL},
	{"42", PS_OK, 42.0, NULL},
	{"1e-400", PS_OK, 0.0, NULL},
	{"1e309", PS_ERANGE, 0, "number \"1e309\" out of range"},
	{"-1e309", PS_ERANGE, 0, "number \"-1e309\" out of range"},
	{"nan", PS_EPARSE, 0, "invalid number \"nan\""},
	{"NaN", PS_EPARSE, 0, "invalid number \"NaN\""},
	{"inf", PS_EPARSE, 0, "invalid number \"inf\""},
	{"-Infinity", PS_EPARSE, 0, "invalid number \"-Infinity\""},
	{"0x1p3", PS_EPARSE, 0, "invalid number \"0x1p3\""},
	{" 1", PS_EPARSE, 0, "invalid number \" 1\""},
	{"1 ", PS_EPARSE, 0, "invalid number \"1 \""},
	{"", PS_EPARSE, 0, "invalid number \"\""},
	{"1e", PS_EPARSE, 0, "invalid number \"1e\""},
	{".", PS_EPARSE, 0, "invalid number \".\""},
	{"1,5", PS_EPARSE, 0, "invalid number \"1,5\""},
	{"1-2", PS_EPARSE, 0, "invalid number \"1-2\""},
};

Test(quantity, parses_whole_string_doubles_strictly_without_nan_or_inf)
{
	for (size_t i = 0; i < sizeof(doubles) / sizeof(doubles[0]); i++) {
		struct ps_diag d;
		ps_diag_clear(&d);
		double v = 99;
		enum ps_err err = ps_parse_double(doubles[i].in, &v, &d);
		cr_expect_eq(err, doubles[i].err, "\"%s\": got %s", doubles[i].in,
			     ps_err_name(err));
		if (doubles[i].err == PS_OK)
			cr_expect_eq(v, doubles[i].value, "\"%s\"", doubles[i].in);
		else
			cr_expect_str_eq(d.msg, doubles[i].msg, "\"%s\"", doubles[i].in);
	}
}
