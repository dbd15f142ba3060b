/* test_text.c -- quoting for messages and line:column location of syntax errors. */
#include <criterion/criterion.h>
#include <string.h>

#include "ps_alloc.h"
#include "ps_text.h"

Test(text, quotes_escape_quotes_backslashes_and_control_bytes)
{
	char out[PS_QUOTE_BUF(16)];
	const char in[] = "a\"b\\c\n\x01";
	ps_text_quote(out, sizeof(out), in, sizeof(in) - 1, 16);
	cr_assert_str_eq(out, "\"a\\\"b\\\\c\\x0a\\x01\"");
}

Test(text, quotes_a_nul_byte_instead_of_stopping_there)
{
	char out[PS_QUOTE_BUF(8)];
	ps_text_quote(out, sizeof(out), "a\0b", 3, 8);
	cr_assert_str_eq(out, "\"a\\x00b\"");
}

Test(text, cuts_long_input_with_an_ellipsis)
{
	char out[PS_QUOTE_BUF(4)];
	ps_text_quote(out, sizeof(out), "abcdefgh", 8, 4);
	cr_assert_str_eq(out, "\"abcd...\"");
	ps_text_quote(out, sizeof(out), "abcd", 4, 4);
	cr_assert_str_eq(out, "\"abcd\"");
}

Test(text, locates_offsets_as_line_and_character_column)
{
	/* "é" is two bytes but one column: byte 6 of "ab\né x" is the 'x' on line 2, column 3. */
	const char t[] = "ab\n\xc3\xa9 x";
	size_t line, col;
	ps_text_locate(t, sizeof(t) - 1, 6, &line, &col);
	cr_assert_eq(line, 2);
	cr_assert_eq(col, 3);
	ps_text_locate(t, sizeof(t) - 1, 0, &line, &col);
	cr_assert_eq(line, 1);
	cr_assert_eq(col, 1);
}

Test(text, reports_syntax_errors_with_an_excerpt_or_at_the_end)
{
	struct ps_diag d;
	/* Line 1 is 8 bytes and a newline; "oops" starts at byte 11, line 2 column 3. */
	const char t[] = "{\"a\": 1,\n  oops}\n";
	size_t len = sizeof(t) - 1;
	cr_assert_eq(ps_text_syntax_error(&d, "f.json", t, len, 11, "invalid JSON"), PS_EPARSE);
	cr_assert_str_eq(d.msg, "f.json:2:3: invalid JSON near 'oops}'");
	ps_text_syntax_error(&d, "f.json", t, len, 8, "invalid JSON");
	cr_assert_str_eq(d.msg, "f.json:1:9: invalid JSON at end of line");
	ps_text_syntax_error(&d, "f.json", t, len, len, "input ends too early");
	cr_assert_str_eq(d.msg, "f.json:3:1: input ends too early");
}

Test(text, notes_a_failed_hook_allocation_for_the_calling_thread)
{
	ps_alloc_note_reset();
	void *p = ps_malloc_noted(16);
	cr_assert_not_null(p);
	cr_assert_not(ps_alloc_note_failed());
	ps_free(p);
	ps_alloc_fail_at(1);
	cr_assert_null(ps_malloc_noted(16));
	cr_assert(ps_alloc_note_failed());
	ps_alloc_note_reset();
	cr_assert_not(ps_alloc_note_failed());
}
