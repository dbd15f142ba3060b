/* test_buf.c -- capped buffers: appends, caps, allocation failure and whole-file reads. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ps_alloc.h"
#include "ps_buf.h"

static char tmpdir[256];

static void make_tmpdir(void)
{
	const char *base = getenv("TMPDIR");
	snprintf(tmpdir, sizeof(tmpdir), "%s/ps_buf_test.XXXXXX", base && *base ? base : "/tmp");
	cr_assert_not_null(mkdtemp(tmpdir));
}

static void remove_tmpdir(void)
{
	/* Only the files the tests wrote. */
	static const char *const names[] = {"f", "big"};
	char path[512];
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		snprintf(path, sizeof(path), "%s/%s", tmpdir, names[i]);
		(void)unlink(path);
	}
	cr_expect_eq(rmdir(tmpdir), 0);
}

/* Writes <n> bytes of <fill> to <tmpdir>/<name>; returns the path in <path>. */
static void write_file(const char *name, char fill, size_t n, char *path, size_t size)
{
	snprintf(path, size, "%s/%s", tmpdir, name);
	FILE *f = fopen(path, "wb");
	cr_assert_not_null(f);
	for (size_t i = 0; i < n; i++)
		cr_assert_neq(fputc(fill, f), EOF);
	cr_assert_eq(fclose(f), 0);
}

Test(buf, a_new_buffer_is_empty_and_reads_as_an_empty_string)
{
	struct ps_buf b;
	ps_buf_init(&b, 10);
	cr_expect_eq(b.len, 0);
	cr_expect_null(b.data);
	cr_expect_eq(b.max, 10);
	cr_expect_str_eq(ps_buf_cstr(&b), "");
	ps_buf_release(&b);
}

Test(buf, appending_exactly_up_to_the_cap_succeeds_and_one_more_byte_is_refused)
{
	struct ps_buf b;
	ps_buf_init(&b, 8);
	cr_expect_eq(ps_buf_append(&b, "abcd", 4), PS_OK);
	cr_expect_eq(ps_buf_append(&b, "efgh", 4), PS_OK);
	cr_expect_eq(b.len, 8);
	cr_expect_str_eq(ps_buf_cstr(&b), "abcdefgh");
	cr_expect_eq(ps_buf_append(&b, "i", 1), PS_ETOOBIG);
	cr_expect_eq(b.len, 8);
	cr_expect_str_eq(ps_buf_cstr(&b), "abcdefgh");
	cr_expect_eq(ps_buf_append(&b, "", 0), PS_OK);
	ps_buf_release(&b);
}

Test(buf, an_append_over_the_cap_appends_nothing)
{
	struct ps_buf b;
	ps_buf_init(&b, 5);
	cr_expect_eq(ps_buf_append_str(&b, "ab"), PS_OK);
	cr_expect_eq(ps_buf_append_str(&b, "cdef"), PS_ETOOBIG);
	cr_expect_eq(b.len, 2);
	cr_expect_str_eq(ps_buf_cstr(&b), "ab");
	ps_buf_release(&b);
}

Test(buf, a_zero_cap_buffer_accepts_only_empty_appends)
{
	struct ps_buf b;
	ps_buf_init(&b, 0);
	cr_expect_eq(ps_buf_append(&b, NULL, 0), PS_OK);
	cr_expect_eq(ps_buf_append(&b, "x", 1), PS_ETOOBIG);
	cr_expect_eq(ps_buf_appendf(&b, "%d", 1), PS_ETOOBIG);
	cr_expect_str_eq(ps_buf_cstr(&b), "");
	ps_buf_release(&b);
}

Test(buf, binary_content_with_nul_bytes_is_counted_in_len)
{
	struct ps_buf b;
	ps_buf_init(&b, 16);
	cr_expect_eq(ps_buf_append(&b, "a\0b", 3), PS_OK);
	cr_expect_eq(b.len, 3);
	cr_expect_eq(memcmp(b.data, "a\0b", 4), 0);
	ps_buf_release(&b);
}

Test(buf, appendf_formats_and_respects_the_cap)
{
	struct ps_buf b;
	ps_buf_init(&b, 10);
	cr_expect_eq(ps_buf_appendf(&b, "%d-%s", 42, "x"), PS_OK);
	cr_expect_str_eq(ps_buf_cstr(&b), "42-x");
	cr_expect_eq(ps_buf_appendf(&b, "%s", "123456"), PS_OK);
	cr_expect_eq(b.len, 10);
	cr_expect_eq(ps_buf_appendf(&b, "%c", 'z'), PS_ETOOBIG);
	cr_expect_str_eq(ps_buf_cstr(&b), "42-x123456");
	ps_buf_release(&b);
}

Test(buf, appendf_handles_output_longer_than_its_stack_copy)
{
	char big[1001];
	memset(big, 'q', 1000);
	big[1000] = '\0';
	struct ps_buf b;
	ps_buf_init(&b, 1003);
	cr_expect_eq(ps_buf_appendf(&b, "<%s>", big), PS_OK);
	cr_expect_eq(b.len, 1002);
	cr_expect_eq(b.data[0], '<');
	cr_expect_eq(b.data[1001], '>');
	cr_expect_eq(b.data[1002], '\0');
	/* Two more bytes would exceed 1003: refused, content and terminator intact. */
	cr_expect_eq(ps_buf_appendf(&b, "%s", big), PS_ETOOBIG);
	cr_expect_eq(b.len, 1002);
	cr_expect_eq(b.data[1002], '\0');
	ps_buf_release(&b);
}

Test(buf, an_allocation_failure_gives_enomem_and_keeps_the_content)
{
	struct ps_buf b;
	ps_buf_init(&b, 1 << 20);
	ps_alloc_fail_at(1);
	cr_expect_eq(ps_buf_append_str(&b, "abc"), PS_ENOMEM);
	cr_expect_eq(b.len, 0);
	cr_expect_str_eq(ps_buf_cstr(&b), "");
	cr_expect_eq(ps_buf_append_str(&b, "abc"), PS_OK);
	char big[5000];
	memset(big, 'x', sizeof(big));
	ps_alloc_fail_at(1);
	cr_expect_eq(ps_buf_append(&b, big, sizeof(big)), PS_ENOMEM);
	cr_expect_eq(b.len, 3);
	cr_expect_str_eq(ps_buf_cstr(&b), "abc");
	ps_alloc_fail_at(1);
	cr_expect_eq(ps_buf_appendf(&b, "%.*s", 3000, big), PS_ENOMEM);
	cr_expect_str_eq(ps_buf_cstr(&b), "abc");
	cr_expect_eq(ps_buf_append(&b, big, sizeof(big)), PS_OK);
	cr_expect_eq(b.len, 5003);
	ps_buf_release(&b);
}

Test(buf, growth_never_allocates_more_than_the_cap_plus_the_terminator)
{
	struct ps_buf b;
	ps_buf_init(&b, 100);
	char chunk[30];
	memset(chunk, 'k', sizeof(chunk));
	for (int i = 0; i < 3; i++)
		cr_expect_eq(ps_buf_append(&b, chunk, sizeof(chunk)), PS_OK);
	cr_expect_eq(ps_buf_append(&b, chunk, 10), PS_OK);
	cr_expect_eq(b.len, 100);
	cr_expect_leq(b.cap_alloc, 101);
	ps_buf_release(&b);
}

Test(buf, reset_empties_and_release_frees_but_keeps_the_cap)
{
	struct ps_buf b;
	ps_buf_init(&b, 32);
	cr_expect_eq(ps_buf_append_str(&b, "hello"), PS_OK);
	ps_buf_reset(&b);
	cr_expect_eq(b.len, 0);
	cr_expect_str_eq(ps_buf_cstr(&b), "");
	cr_expect_not_null(b.data);
	ps_buf_release(&b);
	cr_expect_null(b.data);
	cr_expect_eq(b.max, 32);
	cr_expect_eq(ps_buf_append_str(&b, "again"), PS_OK);
	cr_expect_str_eq(ps_buf_cstr(&b), "again");
	ps_buf_release(&b);
	ps_buf_release(NULL);
}

Test(buf, detach_hands_over_an_owned_string_and_empties_the_buffer)
{
	struct ps_buf b;
	ps_buf_init(&b, 32);
	char *empty = ps_buf_detach(&b);
	cr_assert_not_null(empty);
	cr_expect_str_eq(empty, "");
	ps_free(empty);
	cr_expect_eq(ps_buf_append_str(&b, "mine"), PS_OK);
	char *s = ps_buf_detach(&b);
	cr_assert_not_null(s);
	cr_expect_str_eq(s, "mine");
	cr_expect_null(b.data);
	cr_expect_eq(b.len, 0);
	cr_expect_eq(b.max, 32);
	ps_free(s);
}

Test(buf, read_file_reads_a_whole_file, .init = make_tmpdir, .fini = remove_tmpdir)
{
	char path[512];
	snprintf(path, sizeof(path), "%s/f", tmpdir);
	FILE *f = fopen(path, "wb");
	cr_assert_not_null(f);
	cr_assert_eq(fputs("apiVersion: v1\nkind: Config\n", f) >= 0, 1);
	cr_assert_eq(fclose(f), 0);
	struct ps_buf b;
	ps_buf_init(&b, 1024);
	cr_expect_eq(ps_buf_append_str(&b, "old content"), PS_OK);
	struct ps_diag d;
	ps_diag_clear(&d);
	cr_expect_eq(ps_buf_read_file(&b, path, &d), PS_OK);
	cr_expect_str_eq(ps_buf_cstr(&b), "apiVersion: v1\nkind: Config\n");
	cr_expect_eq(b.len, 28);
	ps_buf_release(&b);
}

Test(buf, read_file_accepts_a_file_of_exactly_the_cap, .init = make_tmpdir,
     .fini = remove_tmpdir)
{
	char path[512];
	write_file("f", 'z', 16, path, sizeof(path));
	struct ps_buf b;
	ps_buf_init(&b, 16);
	cr_expect_eq(ps_buf_read_file(&b, path, NULL), PS_OK);
	cr_expect_eq(b.len, 16);
	cr_expect_str_eq(ps_buf_cstr(&b), "zzzzzzzzzzzzzzzz");
	ps_buf_release(&b);
}

Test(buf, read_file_rejects_a_file_larger_than_the_cap_naming_the_path,
     .init = make_tmpdir, .fini = remove_tmpdir)
{
	char path[512];
	write_file("f", 'z', 17, path, sizeof(path));
	struct ps_buf b;
	ps_buf_init(&b, 16);
	struct ps_diag d;
	ps_diag_clear(&d);
	cr_expect_eq(ps_buf_read_file(&b, path, &d), PS_ETOOBIG);
	char want[600];
	snprintf(want, sizeof(want), "file \"%s\" is larger than the limit of 16 bytes", path);
	cr_expect_str_eq(d.msg, want);
	cr_expect_eq(d.err, PS_ETOOBIG);
	cr_expect_eq(b.len, 0);
	cr_expect_str_eq(ps_buf_cstr(&b), "");
	ps_buf_release(&b);
}

Test(buf, read_file_reads_files_bigger_than_one_read_chunk, .init = make_tmpdir,
     .fini = remove_tmpdir)
{
	char path[512];
	write_file("big", 'w', 100000, path, sizeof(path));
	struct ps_buf b;
	ps_buf_init(&b, 100000);
	cr_expect_eq(ps_buf_read_file(&b, path, NULL), PS_OK);
	cr_expect_eq(b.len, 100000);
	size_t ws = 0;
	for (size_t i = 0; i < b.len; i++)
		ws += b.data[i] == 'w';
	cr_expect_eq(ws, 100000);
	ps_buf_release(&b);
	ps_buf_init(&b, 99999);
	cr_expect_eq(ps_buf_read_file(&b, path, NULL), PS_ETOOBIG);
	ps_buf_release(&b);
}

Test(buf, read_file_reports_a_missing_file_as_enoent_naming_the_path, .init = make_tmpdir,
     .fini = remove_tmpdir)
{
	char path[512];
	snprintf(path, sizeof(path), "%s/absent.yaml", tmpdir);
	struct ps_buf b;
	ps_buf_init(&b, 16);
	struct ps_diag d;
	ps_diag_clear(&d);
	cr_expect_eq(ps_buf_read_file(&b, path, &d), PS_ENOENT);
	char want[600];
	snprintf(want, sizeof(want), "cannot open \"%s\": No such file or directory", path);
	cr_expect_str_eq(d.msg, want);
	ps_buf_release(&b);
}

Test(buf, read_file_reports_a_directory_as_eio, .init = make_tmpdir, .fini = remove_tmpdir)
{
	struct ps_buf b;
	ps_buf_init(&b, 16);
	struct ps_diag d;
	ps_diag_clear(&d);
	cr_expect_eq(ps_buf_read_file(&b, tmpdir, &d), PS_EIO);
	char want[600];
	snprintf(want, sizeof(want), "cannot read \"%s\": Is a directory", tmpdir);
	cr_expect_str_eq(d.msg, want);
	ps_buf_release(&b);
}

Test(buf, read_file_reports_an_allocation_failure, .init = make_tmpdir, .fini = remove_tmpdir)
{
	char path[512];
	write_file("f", 'a', 10, path, sizeof(path));
	struct ps_buf b;
	ps_buf_init(&b, 64);
	struct ps_diag d;
	ps_diag_clear(&d);
	ps_alloc_fail_at(1);
	cr_expect_eq(ps_buf_read_file(&b, path, &d), PS_ENOMEM);
	char want[600];
	snprintf(want, sizeof(want), "cannot read \"%s\": out of memory", path);
	cr_expect_str_eq(d.msg, want);
	cr_expect_eq(b.len, 0);
	ps_buf_release(&b);
}
