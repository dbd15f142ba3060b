/* ps_log.c -- structured logger: builds each line in memory, writes it whole under a mutex.
 *
 * DESIGN
 * Any thread may log. A record is built in a per-call line buffer (stack first, heap when it
 * grows) with a fixed-width placeholder for the timestamp; then, under <log_lock>, the clock is
 * read, the timestamp copied into the placeholder and the line written with one fwrite and
 * flushed. Reading the clock under the lock keeps timestamps in file order. The threshold and
 * format are atomics read without the lock; the output stream and the clock are protected by
 * <log_lock>. If the line buffer cannot grow (out of memory or past LOG_LINE_MAX), the field that
 * did not fit and every later one are dropped and the line ends with truncated=true, so the
 * output stays one well-formed line (valid JSON in JSON mode).
 */
#include "ps_log.h"

#include <inttypes.h>
#include <math.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "ps_alloc.h"

#define LINE_STACK 1024
/* Bytes always kept free behind the content for the truncation marker and the terminator. */
#define LINE_RESERVE 32
/* Hard limit of one line; values are already cut at PS_LOG_VALUE_MAX. */
#define LOG_LINE_MAX ((size_t)1 << 20)

static pthread_mutex_t log_lock = PTHREAD_MUTEX_INITIALIZER;
static FILE *log_out;              /* protected by <log_lock>; NULL means stderr */
static struct ps_clock *log_clock; /* protected by <log_lock>; NULL means the real clock */
static atomic_int log_level = PS_LOG_INFO;
static atomic_int log_format = PS_LOG_TEXT;
static atomic_uint_fast64_t log_dropped;

struct line {
	char *p;
	size_t len;
	size_t cap;  /* usable bytes; the allocation at <p> has cap + LINE_RESERVE */
	bool full;   /* the buffer could not grow: later fields are dropped */
	bool heap;   /* <p> was allocated with ps_malloc */
	char stack[LINE_STACK + LINE_RESERVE];
};

static void line_init(struct line *l)
{
	l->p = l->stack;
	l->len = 0;
	l->cap = LINE_STACK;
	l->full = false;
	l->heap = false;
}

static void line_release(struct line *l)
{
	if (l->heap)
		ps_free(l->p);
}

static bool line_room(struct line *l, size_t n)
{
	if (l->full)
		return false;
	if (n <= l->cap - l->len)
		return true;
	size_t cap = l->cap;
	while (cap - l->len < n && cap < LOG_LINE_MAX)
		cap *= 2;
	if (cap - l->len < n) {
		l->full = true;
		return false;
	}
	char *p;
	if (l->heap) {
		p = ps_realloc(l->p, cap + LINE_RESERVE);
	} else {
		p = ps_malloc(cap + LINE_RESERVE);
		if (p)
			memcpy(p, l->p, l->len);
	}
	if (!p) {
		l->full = true;
		return false;
	}
	l->p = p;
	l->cap = cap;
	l->heap = true;
	return true;
}

static void put(struct line *l, const char *s, size_t n)
{
	if (n && line_room(l, n)) {
		memcpy(l->p + l->len, s, n);
		l->len += n;
	}
}

static void put_str(struct line *l, const char *s)
{
	put(l, s, strlen(s));
}

/* Length of the valid UTF-8 sequence at <s> (at most <n> bytes), 0 when invalid. Rejects
 * overlong forms, surrogates and code points above U+10FFFF. */
static size_t utf8_len(const unsigned char *s, size_t n)
{
	unsigned c = s[0];
	size_t len;
	unsigned min;
	if (c >= 0xc2 && c <= 0xdf) {
		len = 2;
		min = 0x80;
	} else if (c >= 0xe0 && c <= 0xef) {
		len = 3;
		min = 0x800;
	} else if (c >= 0xf0 && c <= 0xf4) {
		len = 4;
		min = 0x10000;
	} else {
		return 0;
	}
	if (n < len)
		return 0;
	unsigned cp = c & (0x7fu >> len);
	for (size_t i = 1; i < len; i++) {
		if ((s[i] & 0xc0) != 0x80)
			return 0;
		cp = (cp << 6) | (s[i] & 0x3fu);
	}
	if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
		return 0;
	return len;
}

/* True when byte <c> needs a JSON escape or makes a text value need quotes. */
static bool needs_escape(unsigned char c, bool quotes)
{
	return c < 0x20 || c == 0x7f || (quotes && (c == '"' || c == '\\'));
}

/* Writes <s> escaped as in a JSON string (without the surrounding quotes): control bytes as
 * \n, \t, ... or \u00XX, invalid UTF-8 as U+FFFD, and '"' and '\' when <quotes>. Cuts at
 * PS_LOG_VALUE_MAX bytes on a character boundary and then writes "...". */
static void put_escaped(struct line *l, const char *s, bool quotes)
{
	static const char hex[] = "0123456789abcdef";
	const unsigned char *u = (const unsigned char *)s;
	size_t n = strlen(s);
	bool cut = false;
	if (n > PS_LOG_VALUE_MAX) {
		n = PS_LOG_VALUE_MAX;
		while (n > 0 && (u[n] & 0xc0) == 0x80)
			n--;
		cut = true;
	}
	size_t start = 0, i = 0;
	while (i < n) {
		unsigned char c = u[i];
		char esc[8];
		const char *e = esc;
		size_t elen;
		if (c >= 0x80) {
			size_t ul = utf8_len(u + i, n - i);
			if (ul) {
				i += ul;
				continue;
			}
			e = "\xef\xbf\xbd";
			elen = 3;
		} else if (!needs_escape(c, quotes)) {
			i++;
			continue;
		} else {
			switch (c) {
			case '"': e = "\\\""; break;
			case '\\': e = "\\\\"; break;
			case '\n': e = "\\n"; break;
			case '\r': e = "\\r"; break;
			case '\t': e = "\\t"; break;
			case '\b': e = "\\b"; break;
			case '\f': e = "\\f"; break;
			default:
				memcpy(esc, "\\u00", 4);
				esc[4] = hex[c >> 4];
				esc[5] = hex[c & 15];
				esc[6] = '\0';
				break;
			}
			elen = strlen(e);
		}
		put(l, s + start, i - start);
		put(l, e, elen);
		i++;
		start = i;
	}
	put(l, s + start, i - start);
	if (cut)
		put(l, "...", 3);
}

static void put_json_string(struct line *l, const char *s)
{
	put(l, "\"", 1);
	put_escaped(l, s, true);
	put(l, "\"", 1);
}

/* True when a text value must be quoted to read back unambiguously. */
static bool text_needs_quotes(const char *s)
{
	const unsigned char *u = (const unsigned char *)s;
	size_t n = strlen(s);
	if (n == 0)
		return true;
	for (size_t i = 0; i < n; i++) {
		if (u[i] == ' ' || u[i] == '=' || needs_escape(u[i], true))
			return true;
		if (u[i] >= 0x80) {
			size_t ul = utf8_len(u + i, n - i);
			if (!ul)
				return true;
			i += ul - 1;
		}
	}
	return false;
}

static void put_text_value(struct line *l, const char *s)
{
	if (text_needs_quotes(s))
		put_json_string(l, s);
	else if (strlen(s) > PS_LOG_VALUE_MAX)
		put_escaped(l, s, true);
	else
		put_str(l, s);
}

/* Formats a finite double with the fewest digits that read back to the same value. */
static void format_double(double d, char *buf, size_t size)
{
	for (int prec = 15; prec <= 17; prec++) {
		snprintf(buf, size, "%.*g", prec, d);
		if (strtod(buf, NULL) == d)
			return;
	}
}

static void put_field(struct line *l, enum ps_log_format fmt, const struct ps_log_field *f)
{
	size_t mark = l->len;
	const char *key = f->key ? f->key : "";
	char num[40];
	const char *str = NULL; /* a value written as a string */
	const char *raw = NULL; /* a value written as is (number, bool, null) */
	switch (f->kind) {
	case PS_LOG_FIELD_STR:
		if (f->s)
			str = f->s;
		else
			raw = fmt == PS_LOG_JSON ? "null" : "(null)";
		break;
	case PS_LOG_FIELD_INT:
		snprintf(num, sizeof(num), "%" PRId64, f->i);
		raw = num;
		break;
	case PS_LOG_FIELD_DBL:
		if (isnan(f->d))
			str = "NaN";
		else if (isinf(f->d))
			str = f->d > 0 ? "+Inf" : "-Inf";
		else {
			format_double(f->d, num, sizeof(num));
			raw = num;
		}
		break;
	case PS_LOG_FIELD_BOOL:
		raw = f->b ? "true" : "false";
		break;
	}
	if (!str && !raw)
		raw = fmt == PS_LOG_JSON ? "null" : "(null)";
	if (fmt == PS_LOG_JSON) {
		put(l, ",", 1);
		put_json_string(l, key);
		put(l, ":", 1);
		if (str)
			put_json_string(l, str);
		else
			put_str(l, raw);
	} else {
		put(l, " ", 1);
		put_text_value(l, key);
		put(l, "=", 1);
		if (str)
			put_text_value(l, str);
		else
			put_str(l, raw);
	}
	if (l->full)
		l->len = mark;
}

static const char *const level_json[] = {"debug", "info", "warn", "error"};
static const char *const level_text[] = {"DEBUG", "INFO ", "WARN ", "ERROR"};

/* Builds the line up to (not including) the fields; returns the timestamp's offset. */
static size_t put_head(struct line *l, enum ps_log_format fmt, enum ps_log_level level,
		       const char *msg)
{
	static const char placeholder[PS_RFC3339_MS_LEN + 1] = "0000-00-00T00:00:00.000Z";
	size_t ts_off;
	if (fmt == PS_LOG_JSON) {
		put_str(l, "{\"ts\":\"");
		ts_off = l->len;
		put(l, placeholder, PS_RFC3339_MS_LEN);
		put_str(l, "\",\"level\":\"");
		put_str(l, level_json[level]);
		put_str(l, "\"");
		size_t mark = l->len;
		put_str(l, ",\"msg\":");
		put_json_string(l, msg);
		if (l->full)
			l->len = mark;
	} else {
		ts_off = 0;
		put(l, placeholder, PS_RFC3339_MS_LEN);
		put(l, " ", 1);
		put_str(l, level_text[level]);
		put(l, " ", 1);
		size_t mark = l->len;
		put_escaped(l, msg, false);
		if (l->full)
			l->len = mark;
	}
	return ts_off;
}

/* Ends the line inside the reserve, which is always free. */
static void put_tail(struct line *l, enum ps_log_format fmt)
{
	const char *tail;
	if (fmt == PS_LOG_JSON)
		tail = l->full ? ",\"truncated\":true}\n" : "}\n";
	else
		tail = l->full ? " truncated=true\n" : "\n";
	size_t n = strlen(tail);
	memcpy(l->p + l->len, tail, n);
	l->len += n;
}

static void lock(void)
{
	int rc = pthread_mutex_lock(&log_lock);
	PS_ASSERT(rc == 0);
}

static void unlock(void)
{
	int rc = pthread_mutex_unlock(&log_lock);
	PS_ASSERT(rc == 0);
}

static void emit(struct line *l, size_t ts_off)
{
	char ts[PS_RFC3339_MS_LEN + 1];
	lock();
	struct ps_clock *c = log_clock ? log_clock : ps_clock_real();
	ps_clock_format_rfc3339(ps_clock_wall_ms(c), ts, sizeof(ts));
	memcpy(l->p + ts_off, ts, PS_RFC3339_MS_LEN);
	FILE *f = log_out ? log_out : stderr;
	size_t w = fwrite(l->p, 1, l->len, f);
	int rc = fflush(f);
	unlock();
	if (w != l->len || rc != 0)
		atomic_fetch_add(&log_dropped, 1);
}

static enum ps_log_level clamp_level(enum ps_log_level level)
{
	return (unsigned)level > PS_LOG_ERROR ? PS_LOG_ERROR : level;
}

bool ps_log_enabled(enum ps_log_level level)
{
	return (int)clamp_level(level) >= atomic_load(&log_level);
}

void ps_log_fields(enum ps_log_level level, const char *msg, const struct ps_log_field *fields,
		   size_t n)
{
	if (!ps_log_enabled(level))
		return;
	PS_ASSERT(fields || n == 0);
	level = clamp_level(level);
	enum ps_log_format fmt = (enum ps_log_format)atomic_load(&log_format);
	struct line l;
	line_init(&l);
	size_t ts_off = put_head(&l, fmt, level, msg ? msg : "");
	for (size_t i = 0; i < n && !l.full; i++)
		put_field(&l, fmt, &fields[i]);
	put_tail(&l, fmt);
	emit(&l, ts_off);
	line_release(&l);
}

void ps_log(enum ps_log_level level, const char *msg, ...)
{
	if (!ps_log_enabled(level))
		return;
	level = clamp_level(level);
	enum ps_log_format fmt = (enum ps_log_format)atomic_load(&log_format);
	struct line l;
	line_init(&l);
	size_t ts_off = put_head(&l, fmt, level, msg ? msg : "");
	va_list ap;
	va_start(ap, msg);
	for (;;) {
		const char *key = va_arg(ap, const char *);
		if (!key)
			break;
		const char *value = va_arg(ap, const char *);
		struct ps_log_field f = PS_LOG_STR(key, value);
		if (!l.full)
			put_field(&l, fmt, &f);
		if (!value)
			break;
	}
	va_end(ap);
	put_tail(&l, fmt);
	emit(&l, ts_off);
	line_release(&l);
}

void ps_log_set_level(enum ps_log_level level)
{
	atomic_store(&log_level, (int)clamp_level(level));
}

enum ps_log_level ps_log_get_level(void)
{
	return (enum ps_log_level)atomic_load(&log_level);
}

void ps_log_set_format(enum ps_log_format format)
{
	atomic_store(&log_format, format == PS_LOG_JSON ? PS_LOG_JSON : PS_LOG_TEXT);
}

enum ps_log_format ps_log_get_format(void)
{
	return (enum ps_log_format)atomic_load(&log_format);
}

void ps_log_set_output(FILE *f)
{
	lock();
	log_out = f;
	unlock();
}

void ps_log_set_clock(struct ps_clock *c)
{
	lock();
	log_clock = c;
	unlock();
}

uint64_t ps_log_dropped(void)
{
	return atomic_load(&log_dropped);
}

const char *ps_log_level_name(enum ps_log_level level)
{
	if ((unsigned)level > PS_LOG_ERROR)
		return "unknown";
	return level_json[level];
}

enum ps_err ps_log_level_parse(const char *s, enum ps_log_level *out, struct ps_diag *diag)
{
	PS_ASSERT(s && out);
	for (size_t i = 0; i < PS_ARRAY_LEN(level_json); i++) {
		if (strcasecmp(s, level_json[i]) == 0) {
			*out = (enum ps_log_level)i;
			return PS_OK;
		}
	}
	if (strcasecmp(s, "warning") == 0) {
		*out = PS_LOG_WARN;
		return PS_OK;
	}
	return ps_diag_set(diag, PS_EINVAL,
			   "unknown log level \"%.64s\" (expected debug, info, warn or error)", s);
}

enum ps_err ps_log_format_parse(const char *s, enum ps_log_format *out, struct ps_diag *diag)
{
	PS_ASSERT(s && out);
	if (strcasecmp(s, "text") == 0) {
		*out = PS_LOG_TEXT;
		return PS_OK;
	}
	if (strcasecmp(s, "json") == 0) {
		*out = PS_LOG_JSON;
		return PS_OK;
	}
	return ps_diag_set(diag, PS_EINVAL, "unknown log format \"%.64s\" (expected text or json)",
			   s);
}
