/* ctl_json.h -- the small JSON writer of the HTTP endpoints and the decision records (ctl only).
 *
 * Not cJSON: its allocator hooks are process-wide, and what is written here is flat and
 * streamed into a capped struct ps_buf. A struct jw keeps the first error (every later call is
 * then a no-op) and whether the next member of the open object is its first. Compact output:
 * no spaces, keys in the caller's order. */
#ifndef CTL_JSON_H
#define CTL_JSON_H

#include <stdbool.h>
#include <stdint.h>

#include "ps_buf.h"
#include "ps_err.h"

struct jw {
	struct ps_buf *b;
	enum ps_err e; /* the first error; PS_OK so far */
	bool first;    /* the next member is the first of its object */
};

/* <s> as it is. */
void jw_raw(struct jw *w, const char *s);
/* <s> as a JSON string (NULL: ""); quotes, backslashes and control characters escaped. */
void jw_str(struct jw *w, const char *s);
/* The member name <k> and its colon, after a comma unless it is the first member. */
void jw_key(struct jw *w, const char *k);
/* Opens an object, as member <k> (NULL: a bare value). */
void jw_open(struct jw *w, const char *k);
void jw_close(struct jw *w);
/* Members: a string (NULL: ""), a string or null, an integer, a boolean, a number (null when
 * !has or not finite; the shortest "%g" that reads back the same), a Kubernetes quantity from
 * milli-units, an RFC 3339 time with milliseconds. */
void jw_kv_str(struct jw *w, const char *k, const char *v);
void jw_kv_nstr(struct jw *w, const char *k, const char *v);
void jw_kv_int(struct jw *w, const char *k, int64_t v);
void jw_kv_bool(struct jw *w, const char *k, bool v);
void jw_kv_num(struct jw *w, const char *k, bool has, double v);
void jw_kv_qty(struct jw *w, const char *k, int64_t milli);
void jw_kv_time(struct jw *w, const char *k, int64_t wall_ms);

#endif
