/* test_alloc.c -- allocation wrappers and failure injection. */
#include <criterion/criterion.h>
#include <stdint.h>
#include <string.h>

#include "ps_alloc.h"

Test(alloc, the_nth_allocation_fails_and_later_ones_succeed)
{
	ps_alloc_fail_at(3);
	void *a = ps_malloc(8);
	void *b = ps_malloc(8);
	cr_expect_not(ps_alloc_injected());
	void *c = ps_malloc(8);
	cr_expect_not_null(a);
	cr_expect_not_null(b);
	cr_expect_null(c);
	cr_expect(ps_alloc_injected());
	void *e = ps_malloc(8);
	void *f = ps_malloc(8);
	cr_expect_not_null(e);
	cr_expect_not_null(f);
	ps_free(a);
	ps_free(b);
	ps_free(e);
	ps_free(f);
}

Test(alloc, every_wrapper_counts_one_attempt_including_injected_failures)
{
	uint64_t n0 = ps_alloc_count();
	ps_alloc_fail_at(2);
	void *a = ps_malloc(4);
	void *b = ps_calloc(2, 4); /* the injected failure */
	char *s = ps_strdup("abc");
	char *t = ps_strndup("abcdef", 2);
	void *r = ps_realloc(NULL, 16);
	cr_expect_eq(ps_alloc_count(), n0 + 5);
	cr_expect_not_null(a);
	cr_expect_null(b);
	cr_expect_str_eq(s, "abc");
	cr_expect_str_eq(t, "ab");
	cr_expect_not_null(r);
	ps_free(a);
	ps_free(s);
	ps_free(t);
	ps_free(r);
}

Test(alloc, fail_at_zero_turns_injection_off)
{
	ps_alloc_fail_at(1);
	ps_alloc_fail_at(0);
	for (int i = 0; i < 10; i++) {
		void *p = ps_malloc(1);
		cr_expect_not_null(p);
		ps_free(p);
	}
	cr_expect_not(ps_alloc_injected());
}

Test(alloc, rearming_clears_the_injected_flag)
{
	ps_alloc_fail_at(1);
	cr_expect_null(ps_malloc(1));
	cr_expect(ps_alloc_injected());
	ps_alloc_fail_at(5);
	cr_expect_not(ps_alloc_injected());
}

Test(alloc, each_wrapper_returns_null_when_injected)
{
	ps_alloc_fail_at(1);
	cr_expect_null(ps_calloc(1, 1));
	ps_alloc_fail_at(1);
	cr_expect_null(ps_strdup("x"));
	ps_alloc_fail_at(1);
	cr_expect_null(ps_strndup("xyz", 2));
	ps_alloc_fail_at(1);
	cr_expect_null(ps_reallocarray(NULL, 2, 2));
}

Test(alloc, a_failed_realloc_leaves_the_old_block_intact)
{
	char *p = ps_malloc(4);
	cr_assert_not_null(p);
	memcpy(p, "abc", 4);
	ps_alloc_fail_at(1);
	char *q = ps_realloc(p, 1 << 20);
	cr_expect_null(q);
	cr_expect_str_eq(p, "abc");
	q = ps_realloc(p, 1 << 20);
	cr_assert_not_null(q);
	cr_expect_str_eq(q, "abc");
	ps_free(q);
}

Test(alloc, calloc_zeroes_and_size_overflow_gives_null)
{
	unsigned char *z = ps_calloc(16, 4);
	cr_assert_not_null(z);
	for (size_t i = 0; i < 64; i++)
		cr_expect_eq(z[i], 0);
	ps_free(z);
	cr_expect_null(ps_calloc(SIZE_MAX / 2, 3));
	cr_expect_null(ps_reallocarray(NULL, SIZE_MAX / 2, 3));
}

Test(alloc, freeing_null_is_a_no_op)
{
	ps_free(NULL);
	ps_free_secret(NULL, 32);
	char *k = ps_strdup("secret-token");
	cr_assert_not_null(k);
	ps_free_secret(k, strlen(k) + 1);
}
