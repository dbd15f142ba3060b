/* test_err.c -- the error table: names, messages and retry classes. */
#include <criterion/criterion.h>
#include <stdbool.h>
#include <string.h>

#include "ps_err.h"

struct row {
	enum ps_err e;
	const char *ident; /* the enum identifier, "PS_ENOMEM" */
};

static const struct row rows[] = {
#define ROW(e, name, msg, retry) {e, #e},
	PS_ERR_TABLE(ROW)
#undef ROW
};

Test(err, ok_is_zero_so_if_err_reads_naturally)
{
	cr_expect_eq(PS_OK, 0);
	cr_expect_str_eq(ps_err_name(PS_OK), "OK");
	cr_expect_str_eq(ps_strerror(PS_OK), "success");
}

Test(err, every_value_has_the_name_of_its_identifier_without_the_prefix)
{
	for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		cr_expect_eq((size_t)rows[i].e, i, "%s is not in table order", rows[i].ident);
		cr_expect_str_eq(ps_err_name(rows[i].e), rows[i].ident + 3);
		cr_expect_str_neq(ps_err_name(rows[i].e), "EUNKNOWN");
		cr_expect_str_neq(ps_strerror(rows[i].e), "unknown error");
		cr_expect_neq(strlen(ps_strerror(rows[i].e)), 0);
	}
}

Test(err, names_and_messages_are_all_distinct)
{
	size_t n = sizeof(rows) / sizeof(rows[0]);
	for (size_t i = 0; i < n; i++) {
		for (size_t j = i + 1; j < n; j++) {
			cr_expect_str_neq(ps_err_name(rows[i].e), ps_err_name(rows[j].e));
			cr_expect_str_neq(ps_strerror(rows[i].e), ps_strerror(rows[j].e), "%s vs %s",
					  rows[i].ident, rows[j].ident);
		}
	}
}

/* Retryable: timeouts, I/O, unavailable, no data, metric failures, and the HTTP answers a
 * client retries with backoff (409 conflict, 429 throttled, 5xx). */
Test(err, retryable_errors_are_exactly_the_transient_ones)
{
	for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		enum ps_err e = rows[i].e;
		bool want = e == PS_ETIMEDOUT || e == PS_EIO || e == PS_EUNAVAIL ||
			    e == PS_ENODATA || e == PS_EMETRIC || e == PS_ECONFLICT ||
			    e == PS_ETHROTTLED || e == PS_ESERVER;
		cr_expect_eq(ps_err_is_retryable(e), want, "%s", rows[i].ident);
	}
}

Test(err, known_values_have_their_documented_text)
{
	cr_expect_str_eq(ps_err_name(PS_ENOMEM), "ENOMEM");
	cr_expect_str_eq(ps_strerror(PS_ENOMEM), "out of memory");
	cr_expect_str_eq(ps_err_name(PS_EPARSE), "EPARSE");
	cr_expect_str_eq(ps_strerror(PS_EPARSE), "malformed input");
	cr_expect_str_eq(ps_strerror(PS_ETIMEDOUT), "timed out");
	cr_expect_str_eq(ps_strerror(PS_ETOOBIG), "size limit exceeded");
}

Test(err, a_value_outside_the_table_is_unknown_and_not_retryable)
{
	enum ps_err bogus = (enum ps_err)999;
	cr_expect_str_eq(ps_err_name(bogus), "EUNKNOWN");
	cr_expect_str_eq(ps_strerror(bogus), "unknown error");
	cr_expect_not(ps_err_is_retryable(bogus));
}
