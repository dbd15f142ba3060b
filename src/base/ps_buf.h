/* ps_buf.h -- a growable byte buffer with a mandatory size cap, and whole-file reading.
 *
 * Every body received and every file read goes into a struct ps_buf whose cap is fixed at init,
 * so a hostile or broken peer cannot make prescale allocate without bound. Invariants: len <=
 * max; data is NULL (nothing allocated yet) or holds at least len + 1 bytes with data[len] ==
 * '\0'. A buffer is used by one thread at a time.
 */
#ifndef PS_BUF_H
#define PS_BUF_H

#include <stdarg.h>
#include <stddef.h>

#include "ps_compiler.h"
#include "ps_diag.h"
#include "ps_err.h"

struct ps_buf {
	char *data;       /* owned; NULL until the first append */
	size_t len;       /* bytes of content, excluding the terminating NUL */
	size_t cap_alloc; /* bytes allocated at <data>, including room for the NUL */
	size_t max;       /* the cap: len never exceeds it */
};

/* Initialises <b> (not NULL) empty, with room for at most <max> bytes of content. Allocates
 * nothing. */
void ps_buf_init(struct ps_buf *b, size_t max);

/* Appends <n> bytes from <data> (borrowed; NULL allowed when n == 0). Returns PS_OK,
 * PS_ETOOBIG when len + n would exceed the cap, or PS_ENOMEM; on failure nothing is appended. */
PS_MUST_CHECK enum ps_err ps_buf_append(struct ps_buf *b, const void *data, size_t n);

/* Appends the NUL-terminated string <s> (borrowed, not NULL). Same returns as ps_buf_append. */
PS_MUST_CHECK enum ps_err ps_buf_append_str(struct ps_buf *b, const char *s);

/* Appends printf-style formatted text. Same returns as ps_buf_append, plus PS_EINVAL when the
 * format fails (an encoding error); on failure nothing is appended. */
PS_MUST_CHECK enum ps_err ps_buf_appendf(struct ps_buf *b, const char *fmt, ...) PS_PRINTF(2, 3);
PS_MUST_CHECK enum ps_err ps_buf_vappendf(struct ps_buf *b, const char *fmt, va_list ap)
	PS_PRINTF(2, 0);

/* Returns the content as a NUL-terminated string borrowed from <b> ("" when empty), valid until
 * the next change to <b>. Content with embedded NULs is cut short by C string functions; use
 * b->len for binary data. */
const char *ps_buf_cstr(const struct ps_buf *b);

/* Empties <b>, keeping its allocation and cap. */
void ps_buf_reset(struct ps_buf *b);

/* Frees the allocation. <b> is then empty with the same cap and may be used again. NULL
 * allowed. */
void ps_buf_release(struct ps_buf *b);

/* Returns an owned NUL-terminated string with the content (the buffer's own allocation, handed
 * over without a copy; free it with ps_free) and leaves <b> empty with the same cap. Returns
 * NULL (out of memory) only when <b> had nothing allocated and allocating "" fails. */
PS_MUST_CHECK char *ps_buf_detach(struct ps_buf *b);

/* Replaces the content of <b> with the whole file at <path> (borrowed), reading at most b->max
 * bytes. Returns PS_OK; PS_ENOENT when the file does not exist; PS_ETOOBIG when it is larger
 * than the cap; PS_EIO for any other open or read error (permissions, a directory); PS_ENOMEM.
 * <diag> (may be NULL) names the path. On failure <b> is left empty. Blocks on file I/O. */
PS_MUST_CHECK enum ps_err ps_buf_read_file(struct ps_buf *b, const char *path,
					   struct ps_diag *diag);

#endif
