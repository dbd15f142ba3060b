/* ps_alloc.c -- allocation wrappers and the failure-injection counter. */
#include "ps_alloc.h"

#include <stdatomic.h>
#include <string.h>

static atomic_uint_fast64_t alloc_count;
static atomic_uint_fast64_t fail_at; /* absolute count that fails; 0 = never */
static atomic_int injected;

void ps_alloc_fail_at(uint64_t n)
{
	atomic_store(&injected, 0);
	atomic_store(&fail_at, n ? atomic_load(&alloc_count) + n : 0);
}

uint64_t ps_alloc_count(void)
{
	return atomic_load(&alloc_count);
}

int ps_alloc_injected(void)
{
	return atomic_load(&injected);
}

/* Counts one allocation; true when this one must fail. */
static int should_fail(void)
{
	uint_fast64_t n = atomic_fetch_add(&alloc_count, 1) + 1;
	uint_fast64_t f = atomic_load(&fail_at);
	if (f != 0 && n == f) {
		atomic_store(&injected, 1);
		return 1;
	}
	return 0;
}

void *ps_malloc(size_t size)
{
	if (should_fail())
		return NULL;
	return malloc(size ? size : 1);
}

void *ps_calloc(size_t n, size_t size)
{
	if (size && n > SIZE_MAX / size)
		return NULL;
	if (should_fail())
		return NULL;
	return calloc(n ? n : 1, size ? size : 1);
}

void *ps_realloc(void *p, size_t size)
{
	if (should_fail())
		return NULL;
	return realloc(p, size ? size : 1);
}

void *ps_reallocarray(void *p, size_t n, size_t size)
{
	if (size && n > SIZE_MAX / size)
		return NULL;
	return ps_realloc(p, n * size);
}

static _Thread_local int noted_failure;

void *ps_malloc_noted(size_t size)
{
	void *p = ps_malloc(size);
	if (!p)
		noted_failure = 1;
	return p;
}

void ps_alloc_note_reset(void)
{
	noted_failure = 0;
}

int ps_alloc_note_failed(void)
{
	return noted_failure;
}

char *ps_strndup(const char *s, size_t n)
{
	size_t len = strnlen(s, n);
	char *d = ps_malloc(len + 1);
	if (!d)
		return NULL;
	memcpy(d, s, len);
	d[len] = '\0';
	return d;
}

char *ps_strdup(const char *s)
{
	return ps_strndup(s, strlen(s));
}

void ps_free(void *p)
{
	free(p);
}

void ps_free_secret(void *p, size_t size)
{
	if (!p)
		return;
	volatile unsigned char *v = p;
	while (size--)
		*v++ = 0;
	free(p);
}
