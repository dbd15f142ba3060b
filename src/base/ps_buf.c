/* ps_buf.c -- capped growable buffer and capped whole-file reading. */
#include "ps_buf.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "ps_alloc.h"

/* First allocation size: most buffers hold a short string. */
#define BUF_MIN_ALLOC 64
/* Read size for files: one stack chunk per read(2). */
#define READ_CHUNK 16384

void ps_buf_init(struct ps_buf *b, size_t max)
{
	PS_ASSERT(b);
	b->data = NULL;
	b->len = 0;
	b->cap_alloc = 0;
	b->max = max;
}

/* Makes room for <extra> more bytes of content plus the NUL. The caller checked the cap. */
static enum ps_err grow(struct ps_buf *b, size_t extra)
{
	size_t need = b->len + extra + 1;
	if (need <= b->cap_alloc)
		return PS_OK;
	size_t ceiling = b->max + 1 > b->max ? b->max + 1 : b->max;
	size_t cap = b->cap_alloc ? b->cap_alloc : BUF_MIN_ALLOC;
	while (cap < need)
		cap = cap > SIZE_MAX / 2 ? SIZE_MAX : cap * 2;
	/* Doubling past the cap would allocate memory the cap forbids us to use. */
	if (cap > ceiling)
		cap = ceiling;
	if (cap < need)
		cap = need;
	char *p = ps_realloc(b->data, cap);
	if (!p)
		return PS_ENOMEM;
	if (!b->data)
		p[0] = '\0';
	b->data = p;
	b->cap_alloc = cap;
	return PS_OK;
}

enum ps_err ps_buf_append(struct ps_buf *b, const void *data, size_t n)
{
	PS_ASSERT(b && (data || n == 0));
	if (n > b->max - b->len)
		return PS_ETOOBIG;
	enum ps_err err = grow(b, n);
	if (err)
		return err;
	if (n)
		memcpy(b->data + b->len, data, n);
	b->len += n;
	b->data[b->len] = '\0';
	return PS_OK;
}

enum ps_err ps_buf_append_str(struct ps_buf *b, const char *s)
{
	PS_ASSERT(s);
	return ps_buf_append(b, s, strlen(s));
}

enum ps_err ps_buf_vappendf(struct ps_buf *b, const char *fmt, va_list ap)
{
	PS_ASSERT(b && fmt);
	char small[256];
	va_list ap2;
	va_copy(ap2, ap);
	int n = vsnprintf(small, sizeof(small), fmt, ap2);
	va_end(ap2);
	if (n < 0)
		return PS_EINVAL;
	if ((size_t)n < sizeof(small))
		return ps_buf_append(b, small, (size_t)n);
	/* Too long for the stack copy: format straight into the buffer's spare room. */
	if ((size_t)n > b->max - b->len)
		return PS_ETOOBIG;
	enum ps_err err = grow(b, (size_t)n);
	if (err)
		return err;
	va_copy(ap2, ap);
	int m = vsnprintf(b->data + b->len, (size_t)n + 1, fmt, ap2);
	va_end(ap2);
	if (m != n) {
		b->data[b->len] = '\0';
		return PS_EINVAL;
	}
	b->len += (size_t)n;
	return PS_OK;
}

enum ps_err ps_buf_appendf(struct ps_buf *b, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	enum ps_err err = ps_buf_vappendf(b, fmt, ap);
	va_end(ap);
	return err;
}

const char *ps_buf_cstr(const struct ps_buf *b)
{
	PS_ASSERT(b);
	return b->data ? b->data : "";
}

void ps_buf_reset(struct ps_buf *b)
{
	PS_ASSERT(b);
	b->len = 0;
	if (b->data)
		b->data[0] = '\0';
}

void ps_buf_release(struct ps_buf *b)
{
	if (!b)
		return;
	ps_free(b->data);
	b->data = NULL;
	b->len = 0;
	b->cap_alloc = 0;
}

char *ps_buf_detach(struct ps_buf *b)
{
	PS_ASSERT(b);
	char *s = b->data;
	if (!s) {
		s = ps_malloc(1);
		if (!s)
			return NULL;
		s[0] = '\0';
	}
	b->data = NULL;
	b->len = 0;
	b->cap_alloc = 0;
	return s;
}

enum ps_err ps_buf_read_file(struct ps_buf *b, const char *path, struct ps_diag *diag)
{
	PS_ASSERT(b && path);
	ps_buf_reset(b);
	int fd;
	do
		fd = open(path, O_RDONLY | O_CLOEXEC);
	while (fd < 0 && errno == EINTR);
	if (fd < 0) {
		int e = errno;
		return ps_diag_set(diag, e == ENOENT ? PS_ENOENT : PS_EIO, "cannot open \"%s\": %s",
				   path, strerror(e));
	}
	enum ps_err err = PS_OK;
	char chunk[READ_CHUNK];
	for (;;) {
		ssize_t n = read(fd, chunk, sizeof(chunk));
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			int e = errno;
			err = ps_diag_set(diag, PS_EIO, "cannot read \"%s\": %s", path, strerror(e));
			break;
		}
		if (n == 0)
			break;
		err = ps_buf_append(b, chunk, (size_t)n);
		if (err == PS_ETOOBIG) {
			ps_diag_set(diag, err, "file \"%s\" is larger than the limit of %zu bytes",
				    path, b->max);
			break;
		}
		if (err) {
			ps_diag_set(diag, err, "cannot read \"%s\": out of memory", path);
			break;
		}
	}
	if (close(fd) != 0 && !err)
		err = ps_diag_set(diag, PS_EIO, "cannot close \"%s\": %s", path, strerror(errno));
	if (err)
		ps_buf_reset(b);
	return err;
}
