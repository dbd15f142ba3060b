/* ps_alloc.h -- allocation wrappers with failure injection for tests.
 *
 * Every allocation in prescale goes through these, so a test can make the N-th allocation fail
 * and check that the caller ends with PS_ENOMEM, no leak and no crash. The counters are atomic:
 * the wrappers may be called from any thread.
 */
#ifndef PS_ALLOC_H
#define PS_ALLOC_H

#include <stddef.h>
#include <stdint.h>

#include "ps_compiler.h"

/* Like malloc/calloc/realloc/strdup, but NULL also when failure injection says so. Sizes are
 * checked for overflow (calloc, ps_reallocarray). ps_free(NULL) is a no-op. */
void *ps_malloc(size_t size) PS_MUST_CHECK;
void *ps_calloc(size_t n, size_t size) PS_MUST_CHECK;
void *ps_realloc(void *p, size_t size) PS_MUST_CHECK;
void *ps_reallocarray(void *p, size_t n, size_t size) PS_MUST_CHECK;
char *ps_strdup(const char *s) PS_MUST_CHECK;
char *ps_strndup(const char *s, size_t n) PS_MUST_CHECK;
void ps_free(void *p);
/* Zeroes <size> bytes at <p> (a key or token) in a way the compiler keeps, then frees it. */
void ps_free_secret(void *p, size_t size);

/* For a library whose allocator hook cannot report failure itself (cJSON returns NULL for a
 * failed allocation and for bad input alike): ps_malloc_noted() is ps_malloc() that also
 * remembers a failure for the calling thread; ps_alloc_note_reset() clears that note and
 * ps_alloc_note_failed() reads it. */
void *ps_malloc_noted(size_t size) PS_MUST_CHECK;
void ps_alloc_note_reset(void);
int ps_alloc_note_failed(void);

/* Failure injection (tests only). After ps_alloc_fail_at(n), the n-th allocation from now
 * (1-based) fails and every later one succeeds; n = 0 turns injection off. */
void ps_alloc_fail_at(uint64_t n);
/* Number of allocations attempted since the process started (counts injected failures too). */
uint64_t ps_alloc_count(void);
/* True once an injected failure has happened since the last ps_alloc_fail_at(). */
int ps_alloc_injected(void);

#endif
