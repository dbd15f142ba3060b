/* ps_diag.c -- formatting of error messages into a fixed buffer. */
#include "ps_diag.h"

#include <stdio.h>
#include <string.h>

static void mark_truncated(char *buf, size_t size)
{
	if (size >= 4)
		memcpy(buf + size - 4, "...", 4);
}

void ps_diag_clear(struct ps_diag *d)
{
	if (!d)
		return;
	d->err = PS_OK;
	d->msg[0] = '\0';
}

enum ps_err ps_diag_vset(struct ps_diag *d, enum ps_err err, const char *fmt, va_list ap)
{
	if (!d)
		return err;
	d->err = err;
	int n = vsnprintf(d->msg, sizeof(d->msg), fmt, ap);
	if (n < 0)
		d->msg[0] = '\0';
	else if ((size_t)n >= sizeof(d->msg))
		mark_truncated(d->msg, sizeof(d->msg));
	return err;
}

enum ps_err ps_diag_set(struct ps_diag *d, enum ps_err err, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	enum ps_err r = ps_diag_vset(d, err, fmt, ap);
	va_end(ap);
	return r;
}

enum ps_err ps_diag_prefix(struct ps_diag *d, const char *fmt, ...)
{
	if (!d)
		return PS_OK;
	char old[PS_DIAG_MAX];
	memcpy(old, d->msg, sizeof(old));
	char pre[PS_DIAG_MAX];
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(pre, sizeof(pre), fmt, ap);
	va_end(ap);
	if (n < 0)
		pre[0] = '\0';
	n = snprintf(d->msg, sizeof(d->msg), "%s: %s", pre, old);
	if (n >= 0 && (size_t)n >= sizeof(d->msg))
		mark_truncated(d->msg, sizeof(d->msg));
	return d->err;
}

const char *ps_diag_msg(const struct ps_diag *d)
{
	if (!d)
		return "";
	if (d->msg[0])
		return d->msg;
	return ps_strerror(d->err);
}
