/* ps_err.h -- the one error enum of prescale, generated from one X-macro table.
 *
 * Every action returns enum ps_err; the human message travels separately in a struct ps_diag.
 * Adding a row here adds the enum value, its name, its message and its retry class at once.
 */
#ifndef PS_ERR_H
#define PS_ERR_H

#include <stdbool.h>

/* X(enum, name, message, retryable) */
#define PS_ERR_TABLE(X)                                                                            \
	X(PS_OK, "OK", "success", false)                                                           \
	X(PS_ENOMEM, "ENOMEM", "out of memory", false)                                             \
	X(PS_EINVAL, "EINVAL", "invalid argument", false)                                          \
	X(PS_EPARSE, "EPARSE", "malformed input", false)                                           \
	X(PS_ERANGE, "ERANGE", "value out of range", false)                                        \
	X(PS_ETOOBIG, "ETOOBIG", "size limit exceeded", false)                                     \
	X(PS_ENOENT, "ENOENT", "not found", false)                                                 \
	X(PS_EIO, "EIO", "input/output error", true)                                               \
	X(PS_ECONFIG, "ECONFIG", "invalid configuration", false)                                   \
	X(PS_ETIMEDOUT, "ETIMEDOUT", "timed out", true)                                            \
	X(PS_ECANCELED, "ECANCELED", "canceled", false)                                            \
	X(PS_EUNAVAIL, "EUNAVAIL", "service unavailable", true)                                    \
	X(PS_ENODATA, "ENODATA", "no data", true)                                                  \
	X(PS_EMETRIC, "EMETRIC", "metric could not be computed", true)                             \
	X(PS_ESTATE, "ESTATE", "operation not valid in the current state", false)               \
	X(PS_EHTTP, "EHTTP", "unexpected HTTP response", false)                                 \
	X(PS_EUNAUTHORIZED, "EUNAUTHORIZED", "unauthorized (401)", false)                        \
	X(PS_EFORBIDDEN, "EFORBIDDEN", "forbidden (403)", false)                                 \
	X(PS_ENOTFOUND, "ENOTFOUND", "not found (404)", false)                                   \
	X(PS_ECONFLICT, "ECONFLICT", "conflict (409)", true)                                     \
	X(PS_EGONE, "EGONE", "gone (410)", false)                                                \
	X(PS_EINVALID, "EINVALID", "rejected as invalid (422)", false)                           \
	X(PS_ETHROTTLED, "ETHROTTLED", "too many requests (429)", true)                          \
	X(PS_ESERVER, "ESERVER", "server error (5xx)", true)

enum ps_err {
#define PS_ERR_ENUM(e, name, msg, retry) e,
	PS_ERR_TABLE(PS_ERR_ENUM)
#undef PS_ERR_ENUM
};

/* Returns the symbolic name ("ENOMEM") of <e>; "EUNKNOWN" for a value outside the table. */
const char *ps_err_name(enum ps_err e);
/* Returns the static human message of <e> ("out of memory"). */
const char *ps_strerror(enum ps_err e);
/* True when the same call may succeed if tried again later (I/O, timeouts, missing data). */
bool ps_err_is_retryable(enum ps_err e);

#endif
