/* test_diag.c -- error messages: setting, clearing, prefixing and truncation. */
#include <criterion/criterion.h>
#include <string.h>

#include "ps_diag.h"

Test(diag, set_records_the_code_and_the_formatted_message)
{
	struct ps_diag d;
	ps_diag_clear(&d);
	enum ps_err r = ps_diag_set(&d, PS_EPARSE, "bad value \"%s\" at %d", "x", 3);
	cr_expect_eq(r, PS_EPARSE);
	cr_expect_eq(d.err, PS_EPARSE);
	cr_expect_str_eq(d.msg, "bad value \"x\" at 3");
	cr_expect_str_eq(ps_diag_msg(&d), "bad value \"x\" at 3");
}

Test(diag, a_null_diag_is_ignored_and_the_code_still_returned)
{
	cr_expect_eq(ps_diag_set(NULL, PS_EIO, "ignored %d", 1), PS_EIO);
	cr_expect_eq(ps_diag_prefix(NULL, "ctx"), PS_OK);
	ps_diag_clear(NULL);
	cr_expect_str_eq(ps_diag_msg(NULL), "");
}

Test(diag, clear_resets_to_ok_and_msg_falls_back_to_the_code_text)
{
	struct ps_diag d;
	(void)ps_diag_set(&d, PS_EIO, "boom");
	ps_diag_clear(&d);
	cr_expect_eq(d.err, PS_OK);
	cr_expect_str_eq(d.msg, "");
	cr_expect_str_eq(ps_diag_msg(&d), "success");
	d.err = PS_ETIMEDOUT;
	cr_expect_str_eq(ps_diag_msg(&d), "timed out");
}

Test(diag, prefix_adds_context_in_front_and_keeps_the_code)
{
	struct ps_diag d;
	ps_diag_clear(&d);
	(void)ps_diag_set(&d, PS_ECONFIG, "unknown key \"minReplica\"");
	cr_expect_eq(ps_diag_prefix(&d, "%s:%d:%d", "config.yaml", 12, 5), PS_ECONFIG);
	cr_expect_str_eq(d.msg, "config.yaml:12:5: unknown key \"minReplica\"");
	cr_expect_eq(ps_diag_prefix(&d, "target shop/web"), PS_ECONFIG);
	cr_expect_str_eq(d.msg, "target shop/web: config.yaml:12:5: unknown key \"minReplica\"");
	cr_expect_eq(d.err, PS_ECONFIG);
}

Test(diag, a_message_of_exactly_511_bytes_is_kept_whole)
{
	char big[PS_DIAG_MAX];
	memset(big, 'a', PS_DIAG_MAX - 1);
	big[PS_DIAG_MAX - 1] = '\0';
	struct ps_diag d;
	(void)ps_diag_set(&d, PS_EINVAL, "%s", big);
	cr_expect_eq(strlen(d.msg), 511);
	cr_expect_str_eq(d.msg, big);
}

Test(diag, a_longer_message_is_cut_to_511_bytes_ending_in_dots)
{
	char big[600];
	memset(big, 'b', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	struct ps_diag d;
	(void)ps_diag_set(&d, PS_EINVAL, "%s", big);
	cr_expect_eq(strlen(d.msg), 511);
	cr_expect_eq(memcmp(d.msg, big, 508), 0);
	cr_expect_str_eq(d.msg + 508, "...");
}

Test(diag, prefixing_a_full_message_truncates_the_tail)
{
	char big[505];
	memset(big, 'c', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	struct ps_diag d;
	(void)ps_diag_set(&d, PS_EIO, "%s", big);
	cr_expect_eq(ps_diag_prefix(&d, "file.yaml"), PS_EIO);
	cr_expect_eq(strlen(d.msg), 511);
	cr_expect_eq(strncmp(d.msg, "file.yaml: ccc", 14), 0);
	cr_expect_str_eq(d.msg + 508, "...");
}
