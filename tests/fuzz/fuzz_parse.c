/* fuzz_parse.c -- fuzz target: the strict value parsers of src/base on the input as one C string
 * (cut at its first NUL): Kubernetes quantities, durations, integers, floats and RFC 3339 times.
 * Checks what ps_parse.h and ps_clock.h document: failures are PS_EPARSE or PS_ERANGE with a
 * message; durations are never negative; floats are finite; and every value parsed, written
 * back by its formatter, parses to the same value (quantities, durations and times). */
#include <inttypes.h>
#include <math.h>
#include <string.h>

#include "fuzz.h"
#include "ps_clock.h"
#include "ps_parse.h"

/* 0000-01-01T00:00:00.000Z and 9999-12-31T23:59:59.999Z: the formatter's range. */
#define YEAR0_MS INT64_C(-62167219200000)
#define YEAR9999_END_MS INT64_C(253402300799999)

static void check_failure(enum ps_err err, const struct ps_diag *d)
{
	FUZZ_CHECK(err == PS_EPARSE || err == PS_ERANGE);
	FUZZ_CHECK(ps_diag_msg(d)[0] != '\0');
}

static void fuzz_quantity(const char *s)
{
	struct ps_diag d;
	int64_t milli = 0, back = 0;
	enum ps_err err = ps_parse_quantity_milli(s, &milli, &d);
	if (err != PS_OK) {
		check_failure(err, &d);
		return;
	}
	char buf[64];
	ps_format_quantity_milli(milli, buf, sizeof(buf));
	err = ps_parse_quantity_milli(buf, &back, &d);
	if (err != PS_OK || back != milli)
		fprintf(stderr, "quantity \"%s\" = %" PRId64 "m, written \"%s\", read back %s %" PRId64
		        "m\n", s, milli, buf, ps_diag_msg(&d), back);
	FUZZ_CHECK(err == PS_OK && back == milli);
}

static void fuzz_duration(const char *s)
{
	struct ps_diag d;
	int64_t ms = 0, back = 0;
	enum ps_err err = ps_parse_duration_ms(s, &ms, &d);
	if (err != PS_OK) {
		check_failure(err, &d);
		return;
	}
	FUZZ_CHECK(ms >= 0);
	char buf[64];
	ps_format_duration_ms(ms, buf, sizeof(buf));
	err = ps_parse_duration_ms(buf, &back, &d);
	if (err != PS_OK || back != ms)
		fprintf(stderr, "duration \"%s\" = %" PRId64 " ms, written \"%s\", read back %s %" PRId64
		        "\n", s, ms, buf, ps_diag_msg(&d), back);
	FUZZ_CHECK(err == PS_OK && back == ms);
}

static void fuzz_numbers(const char *s)
{
	struct ps_diag d;
	int64_t i = 0, back = 0;
	enum ps_err err = ps_parse_int64(s, &i, &d);
	if (err == PS_OK) {
		char buf[32];
		snprintf(buf, sizeof(buf), "%" PRId64, i);
		FUZZ_CHECK(ps_parse_int64(buf, &back, NULL) == PS_OK && back == i);
	} else {
		check_failure(err, &d);
	}
	double v = 0;
	err = ps_parse_double(s, &v, &d);
	if (err == PS_OK)
		FUZZ_CHECK(isfinite(v));
	else
		check_failure(err, &d);
}

static void fuzz_time(const char *s)
{
	struct ps_diag d;
	int64_t ms = 0, back = 0;
	enum ps_err err = ps_clock_parse_rfc3339(s, &ms, &d);
	if (err != PS_OK) {
		FUZZ_CHECK(err == PS_EPARSE && ps_diag_msg(&d)[0] != '\0');
		return;
	}
	if (ms < YEAR0_MS || ms > YEAR9999_END_MS)
		return; /* an offset moved it out of the range the formatter writes */
	char buf[64];
	ps_clock_format_rfc3339(ms, buf, sizeof(buf));
	err = ps_clock_parse_rfc3339(buf, &back, &d);
	if (err != PS_OK || back != ms)
		fprintf(stderr, "time \"%s\" = %" PRId64 " ms, written \"%s\", read back %" PRId64 "\n",
		        s, ms, buf, back);
	FUZZ_CHECK(err == PS_OK && back == ms);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	/* Values users write are short; longer inputs only slow the search down. */
	if (size > 1024)
		return 0;
	char *s = fuzz_cstr(data, size);
	fuzz_quantity(s);
	fuzz_duration(s);
	fuzz_numbers(s);
	fuzz_time(s);
	free(s);
	return 0;
}
