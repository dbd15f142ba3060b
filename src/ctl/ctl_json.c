/* ctl_json.c -- see ctl_json.h. */
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#include "ctl_json.h"
#include "ps_clock.h"
#include "ps_parse.h"

void jw_raw(struct jw *w, const char *s)
{
	if (!w->e)
		w->e = ps_buf_append_str(w->b, s);
}

void jw_str(struct jw *w, const char *s)
{
	jw_raw(w, "\"");
	for (const unsigned char *p = (const unsigned char *)(s ? s : ""); *p && !w->e; p++) {
		char esc[8];
		switch (*p) {
		case '"':
			jw_raw(w, "\\\"");
			break;
		case '\\':
			jw_raw(w, "\\\\");
			break;
		case '\n':
			jw_raw(w, "\\n");
			break;
		case '\r':
			jw_raw(w, "\\r");
			break;
		case '\t':
			jw_raw(w, "\\t");
			break;
		default:
			if (*p < 0x20) {
				snprintf(esc, sizeof(esc), "\\u%04x", *p);
				jw_raw(w, esc);
			} else {
				w->e = ps_buf_append(w->b, p, 1);
			}
		}
	}
	jw_raw(w, "\"");
}

void jw_key(struct jw *w, const char *k)
{
	if (!w->first)
		jw_raw(w, ",");
	w->first = false;
	jw_str(w, k);
	jw_raw(w, ":");
}

void jw_open(struct jw *w, const char *k)
{
	if (k)
		jw_key(w, k);
	jw_raw(w, "{");
	w->first = true;
}

void jw_close(struct jw *w)
{
	jw_raw(w, "}");
	w->first = false;
}

void jw_kv_str(struct jw *w, const char *k, const char *v)
{
	jw_key(w, k);
	jw_str(w, v);
}

void jw_kv_nstr(struct jw *w, const char *k, const char *v)
{
	jw_key(w, k);
	if (v)
		jw_str(w, v);
	else
		jw_raw(w, "null");
}

void jw_kv_int(struct jw *w, const char *k, int64_t v)
{
	char buf[32];
	snprintf(buf, sizeof(buf), "%" PRId64, v);
	jw_key(w, k);
	jw_raw(w, buf);
}

void jw_kv_bool(struct jw *w, const char *k, bool v)
{
	jw_key(w, k);
	jw_raw(w, v ? "true" : "false");
}

void jw_kv_num(struct jw *w, const char *k, bool has, double v)
{
	jw_key(w, k);
	if (!has || !isfinite(v)) {
		jw_raw(w, "null");
		return;
	}
	char buf[40];
	for (int prec = 1; prec <= 17; prec++) {
		snprintf(buf, sizeof(buf), "%.*g", prec, v);
		if (strtod(buf, NULL) == v)
			break;
	}
	jw_raw(w, buf);
}

void jw_kv_qty(struct jw *w, const char *k, int64_t milli)
{
	char buf[48];
	jw_kv_str(w, k, ps_format_quantity_milli(milli, buf, sizeof(buf)));
}

void jw_kv_time(struct jw *w, const char *k, int64_t wall_ms)
{
	char buf[PS_RFC3339_MS_LEN + 1];
	jw_kv_str(w, k, ps_clock_format_rfc3339(wall_ms, buf, sizeof(buf)));
}
