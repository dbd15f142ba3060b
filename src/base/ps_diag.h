/* ps_diag.h -- the human half of an error: what failed, the subject, and where.
 *
 * A function that fails returns an enum ps_err and, when given a non-NULL struct ps_diag, fills
 * it with one line such as `config.yaml:12:5: unknown key "minReplica" (did you mean
 * "minReplicas"?)`. Lower layers never print; ctl and cli print the diag.
 */
#ifndef PS_DIAG_H
#define PS_DIAG_H

#include <stdarg.h>
#include <stddef.h>

#include "ps_compiler.h"
#include "ps_err.h"

#define PS_DIAG_MAX 512

struct ps_diag {
	enum ps_err err;       /* the code of the last failure recorded here */
	char msg[PS_DIAG_MAX]; /* NUL-terminated, truncated with "..." when too long */
};

/* Clears <d> (NULL allowed). */
void ps_diag_clear(struct ps_diag *d);
/* Records <err> and a formatted message in <d> (NULL allowed: nothing happens). Returns <err>,
 * so a failure path reads `return ps_diag_set(d, PS_EPARSE, "...", ...);`. */
enum ps_err ps_diag_set(struct ps_diag *d, enum ps_err err, const char *fmt, ...) PS_PRINTF(3, 4);
enum ps_err ps_diag_vset(struct ps_diag *d, enum ps_err err, const char *fmt, va_list ap)
    PS_PRINTF(3, 0);
/* Puts "<prefix>: " in front of the message already in <d> (context added on the way up).
 * Returns d->err, or PS_OK when <d> is NULL. */
enum ps_err ps_diag_prefix(struct ps_diag *d, const char *fmt, ...) PS_PRINTF(2, 3);
/* The message, or the code's static message when none was set. Never NULL. */
const char *ps_diag_msg(const struct ps_diag *d);

#endif
