/* trace.c -- reads a recorded series (CSV or a Prometheus query_range response) for simulate.
 *
 * The CSV parser collects samples into struct rows, in input order. A query_range response is
 * parsed by the Prometheus client's own parser (prom_parse_response(), the same code that reads
 * live answers), and its one series is copied into struct rows by trace_from_prom_result().
 * rhythm() then works out the step and returns the index of a sample off the rhythm, which the
 * caller turns into its own kind of place (sample i of a CSV is on a known line, point i of a
 * query_range on a JSON path). query_range "no data" samples travel as NaN up to that check, so
 * that the step comes from every timestamp Prometheus sent, and are dropped after it.
 */
#include "trace.h"

#include <inttypes.h>
#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ps_alloc.h"
#include "ps_buf.h"
#include "ps_parse.h"
#include "ps_text.h"

/* Bytes kept of one CSV field; a longer field cannot be a number we accept anyway. */
#define FIELD_CAP 128
/* Longest piece of input quoted in a message before it is cut with "...". */
#define QUOTE_MAX 40
/* Room for quote(): every byte may become \xNN, plus quotes, "..." and the NUL. */
#define QUOTE_BUF (QUOTE_MAX * 4 + 8)
/* Room for fmt_sec(): sign, 15 digits, point, 3 digits. */
#define SEC_BUF 32
/* First capacity of the sample arrays; they double from there. */
#define ROWS_INITIAL 1024

static const char default_source[] = "trace";

/* ---- small helpers ---- */

static bool is_digit(char c)
{
	return c >= '0' && c <= '9';
}

static bool is_space(char c)
{
	return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

static bool ascii_ieq(const char *a, const char *b)
{
	for (; *a && *b; a++, b++) {
		char x = *a >= 'A' && *a <= 'Z' ? (char)(*a - 'A' + 'a') : *a;
		char y = *b >= 'A' && *b <= 'Z' ? (char)(*b - 'A' + 'a') : *b;
		if (x != y)
			return false;
	}
	return *a == *b;
}

/* Writes at most <n> bytes of <s> into <out> in double quotes for a message. */
static const char *quote(char out[QUOTE_BUF], const char *s, size_t n)
{
	return ps_text_quote(out, QUOTE_BUF, s, n, QUOTE_MAX);
}

/* Writes <ms> as seconds, with only the decimals it needs ("600", "600.5", "-0.25"). */
static const char *fmt_sec(char out[SEC_BUF], int64_t ms)
{
	/* |ms| < TRACE_MAX_ABS_SECONDS * 1000, so the negation cannot overflow. */
	int64_t a = ms < 0 ? -ms : ms;
	const char *sign = ms < 0 ? "-" : "";
	int64_t frac = a % 1000;
	if (frac == 0) {
		snprintf(out, SEC_BUF, "%s%" PRId64, sign, a / 1000);
		return out;
	}
	int digits = 3;
	while (frac % 10 == 0) {
		frac /= 10;
		digits--;
	}
	snprintf(out, SEC_BUF, "%s%" PRId64 ".%0*" PRId64, sign, a / 1000, digits, frac);
	return out;
}

/* ---- samples, step and the result ---- */

struct rows {
	size_t n, cap;
	int64_t *ts;
	double *v;
};

static enum ps_err rows_push(struct rows *r, int64_t ts, double v)
{
	if (r->n == r->cap) {
		size_t cap = r->cap ? r->cap * 2 : ROWS_INITIAL;
		int64_t *ts2 = ps_reallocarray(r->ts, cap, sizeof(*ts2));
		if (!ts2)
			return PS_ENOMEM;
		r->ts = ts2;
		double *v2 = ps_reallocarray(r->v, cap, sizeof(*v2));
		if (!v2)
			return PS_ENOMEM;
		r->v = v2;
		r->cap = cap;
	}
	r->ts[r->n] = ts;
	r->v[r->n] = v;
	r->n++;
	return PS_OK;
}

static void rows_release(struct rows *r)
{
	ps_free(r->ts);
	ps_free(r->v);
	memset(r, 0, sizeof(*r));
}

static int cmp_i64(const void *a, const void *b)
{
	int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
	return (x > y) - (x < y);
}

/* Sets *step to the most common difference of the n >= 2 strictly increasing <ts>, the smaller
 * on a tie. Returns PS_OK or PS_ENOMEM (only an irregular series needs the sorted copy). */
static enum ps_err common_step(const int64_t *ts, size_t n, int64_t *step)
{
	int64_t d0 = ts[1] - ts[0];
	size_t i = 2;
	while (i < n && ts[i] - ts[i - 1] == d0)
		i++;
	if (i == n) {
		*step = d0;
		return PS_OK;
	}
	int64_t *d = ps_reallocarray(NULL, n - 1, sizeof(*d));
	if (!d)
		return PS_ENOMEM;
	for (i = 1; i < n; i++)
		d[i - 1] = ts[i] - ts[i - 1];
	qsort(d, n - 1, sizeof(*d), cmp_i64);
	/* Ascending order, and only a strictly longer run replaces the best: ties keep the
	 * smaller difference. */
	int64_t best = d[0];
	size_t best_run = 0;
	for (i = 0; i < n - 1;) {
		size_t j = i;
		while (j < n - 1 && d[j] == d[i])
			j++;
		if (j - i > best_run) {
			best = d[i];
			best_run = j - i;
		}
		i = j;
	}
	ps_free(d);
	*step = best;
	return PS_OK;
}

/* Works out the step of the n >= 2 strictly increasing r->ts and checks that every difference
 * is a whole multiple of it. Returns PS_OK, PS_ENOMEM, or PS_EPARSE with *bad set to the index
 * of the first sample off the rhythm (*step holds the step): the caller names the place. Sets
 * no message. */
static enum ps_err rhythm(const struct rows *r, int64_t *step, size_t *bad)
{
	enum ps_err err = common_step(r->ts, r->n, step);
	if (err)
		return err;
	for (size_t i = 1; i < r->n; i++) {
		if ((r->ts[i] - r->ts[i - 1]) % *step != 0) {
			*bad = i;
			return PS_EPARSE;
		}
	}
	return PS_OK;
}

/* Removes the samples whose value is NaN (query_range's "no data") from <r>; returns how many. */
static size_t drop_no_data(struct rows *r)
{
	size_t k = 0;
	for (size_t i = 0; i < r->n; i++) {
		if (isnan(r->v[i]))
			continue;
		r->ts[k] = r->ts[i];
		r->v[k] = r->v[i];
		k++;
	}
	size_t dropped = r->n - k;
	r->n = k;
	return dropped;
}

/* Moves the n >= 2 samples of <r> into <out> with their <step>; <r> is left empty. */
static void hand_over(struct rows *r, int64_t step, struct trace *out)
{
	out->n = r->n;
	out->ts_ms = r->ts;
	out->value = r->v;
	out->step_ms = step;
	out->n_missing = (size_t)((r->ts[r->n - 1] - r->ts[0]) / step) + 1 - r->n;
	memset(r, 0, sizeof(*r));
}

static void start(struct trace *out, const char *source)
{
	memset(out, 0, sizeof(*out));
	snprintf(out->source, sizeof(out->source), "%s", source);
}

void trace_release(struct trace *t)
{
	if (!t)
		return;
	ps_free(t->ts_ms);
	ps_free(t->value);
	memset(t, 0, sizeof(*t));
}

/* ---- CSV ---- */

struct field {
	char text[FIELD_CAP]; /* NUL-terminated, cut at FIELD_CAP - 1 bytes */
	size_t len;           /* the field's full length, which may exceed what <text> holds */
};

static void field_put(struct field *f, char c)
{
	if (f->len < FIELD_CAP - 1) {
		f->text[f->len] = c;
		f->text[f->len + 1] = '\0';
	}
	f->len++;
}

/* True when <f> holds the whole field and no NUL byte, so C string parsers see all of it. */
static bool field_whole(const struct field *f)
{
	return f->len < FIELD_CAP && strlen(f->text) == f->len;
}

/* Splits the line <s> of <n> bytes (no terminator) at commas outside double quotes. Fields
 * are trimmed of spaces and tabs and unquoted ("" inside quotes is one quote); the first two go
 * to f[0] and f[1]. Sets *ncols to the number of fields. Returns false on an unterminated
 * quote. */
static bool split_line(const char *s, size_t n, struct field f[2], size_t *ncols)
{
	size_t i = 0, col = 0;
	for (;;) {
		struct field spare;
		struct field *dst = col < 2 ? &f[col] : &spare;
		dst->len = 0;
		dst->text[0] = '\0';
		while (i < n && (s[i] == ' ' || s[i] == '\t'))
			i++;
		if (i < n && s[i] == '"') {
			for (i++;; i++) {
				if (i >= n)
					return false;
				if (s[i] == '"' && i + 1 < n && s[i + 1] == '"')
					field_put(dst, s[i++]);
				else if (s[i] == '"')
					break;
				else
					field_put(dst, s[i]);
			}
			i++;
			while (i < n && (s[i] == ' ' || s[i] == '\t'))
				i++;
			/* Text after the closing quote stays in the field, so the number parser
			 * shows it in its message. */
			while (i < n && s[i] != ',')
				field_put(dst, s[i++]);
		} else {
			size_t b = i;
			while (i < n && s[i] != ',')
				i++;
			size_t e = i;
			while (e > b && (s[e - 1] == ' ' || s[e - 1] == '\t'))
				e--;
			for (size_t k = b; k < e; k++)
				field_put(dst, s[k]);
		}
		col++;
		if (i >= n)
			break;
		i++; /* the comma */
	}
	*ncols = col;
	return true;
}

static bool starts_like_number(const struct field *f)
{
	char c = f->text[0];
	return is_digit(c) || c == '+' || c == '-' || c == '.';
}

enum sec_result { SEC_OK, SEC_BAD, SEC_BIG };

/* Parses `[+-]digits[.digits]` seconds into milliseconds, rounding half up on the magnitude. */
static enum sec_result parse_seconds(const char *s, int64_t *out_ms)
{
	bool neg = *s == '-';
	if (*s == '+' || *s == '-')
		s++;
	int64_t whole = 0, frac = 0;
	int wdigits = 0, fdigits = 0;
	bool big = false, round_up = false;
	for (; is_digit(*s); s++, wdigits++) {
		if (whole >= TRACE_MAX_ABS_SECONDS)
			big = true;
		else
			whole = whole * 10 + (*s - '0');
	}
	if (*s == '.') {
		for (s++; is_digit(*s); s++, fdigits++) {
			if (fdigits < 3)
				frac = frac * 10 + (*s - '0');
			else if (fdigits == 3)
				round_up = *s >= '5';
		}
	}
	if (*s || wdigits + fdigits == 0)
		return SEC_BAD;
	if (big || whole >= TRACE_MAX_ABS_SECONDS)
		return SEC_BIG;
	for (int k = fdigits; k < 3; k++)
		frac *= 10;
	int64_t ms = whole * 1000 + frac + (round_up ? 1 : 0);
	*out_ms = neg ? -ms : ms;
	return SEC_OK;
}

/* True for the spellings strtod would read as NaN or infinity. */
static bool is_nan_or_inf(const char *s)
{
	if (*s == '+' || *s == '-')
		s++;
	return ascii_ieq(s, "nan") || ascii_ieq(s, "inf") || ascii_ieq(s, "infinity");
}

struct csv {
	const char *name;
	struct ps_diag *diag;
	size_t line;
};

static enum ps_err csv_timestamp(const struct csv *c, const struct field *f, int64_t *ms)
{
	char q[QUOTE_BUF];
	if (f->len == 0)
		return ps_diag_set(c->diag, PS_EPARSE, "%s:%zu: the timestamp is empty", c->name,
		                   c->line);
	enum sec_result r = field_whole(f) ? parse_seconds(f->text, ms) : SEC_BAD;
	if (r == SEC_BIG)
		return ps_diag_set(c->diag, PS_ERANGE,
		                   "%s:%zu: timestamp %s is too large for seconds (milliseconds? "
		                   "timestamps must be in seconds)",
		                   c->name, c->line, quote(q, f->text, f->len));
	if (r == SEC_BAD)
		return ps_diag_set(c->diag, PS_EPARSE,
		                   "%s:%zu: timestamp %s is not a number of seconds", c->name,
		                   c->line, quote(q, f->text, f->len));
	return PS_OK;
}

static enum ps_err csv_value(const struct csv *c, const struct field *f, double *v)
{
	char q[QUOTE_BUF];
	if (f->len == 0)
		return ps_diag_set(c->diag, PS_EPARSE, "%s:%zu: the value is empty", c->name,
		                   c->line);
	if (field_whole(f) && is_nan_or_inf(f->text))
		return ps_diag_set(c->diag, PS_EPARSE,
		                   "%s:%zu: value %s is not a finite number (leave the row out to "
		                   "mark a missing sample)",
		                   c->name, c->line, quote(q, f->text, f->len));
	enum ps_err err = field_whole(f) ? ps_parse_double(f->text, v, NULL) : PS_EPARSE;
	if (err == PS_ERANGE)
		return ps_diag_set(c->diag, PS_ERANGE, "%s:%zu: value %s is out of range", c->name,
		                   c->line, quote(q, f->text, f->len));
	if (err)
		return ps_diag_set(c->diag, PS_EPARSE, "%s:%zu: value %s is not a number", c->name,
		                   c->line, quote(q, f->text, f->len));
	return PS_OK;
}

static enum ps_err csv_columns(const struct csv *c, const char *s, size_t n, size_t ncols)
{
	/* A spreadsheet set to another locale writes ';' or tabs: say so rather than only
	 * counting. */
	const char *hint = "";
	if (ncols == 1 && memchr(s, ';', n))
		hint = " (separated by ';'? the separator is ',')";
	else if (ncols == 1 && memchr(s, '\t', n))
		hint = " (separated by tabs? the separator is ',')";
	return ps_diag_set(c->diag, PS_EPARSE,
	                   "%s:%zu: expected 2 columns (timestamp,value), found %zu%s", c->name,
	                   c->line, ncols, hint);
}

static bool is_blank(const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (s[i] != ' ' && s[i] != '\t')
			return false;
	return true;
}

/* Parses the lines of <text> into <r>. Sets *first_line to the line of the first sample: with
 * blank lines only at the end and no comments, sample i is on line *first_line + i. */
static enum ps_err csv_rows(struct csv *c, const char *text, size_t len, struct rows *r,
                            size_t *first_line, bool *header)
{
	const char *p = text, *end = text + len;
	if (len >= 3 && memcmp(p, "\xEF\xBB\xBF", 3) == 0)
		p += 3; /* the UTF-8 BOM some spreadsheets write */
	size_t blank_line = 0;
	char q[QUOTE_BUF], s1[SEC_BUF], s2[SEC_BUF];
	*header = false;
	*first_line = 1;
	c->line = 0;
	while (p < end) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		const char *next = nl ? nl + 1 : end;
		size_t n = (size_t)((nl ? nl : end) - p);
		if (n && p[n - 1] == '\r')
			n--;
		c->line++;
		if (is_blank(p, n)) {
			if (!blank_line)
				blank_line = c->line;
			p = next;
			continue;
		}
		if (blank_line)
			return ps_diag_set(c->diag, PS_EPARSE,
			                   "%s:%zu: blank line (blank lines are allowed only at "
			                   "the end)",
			                   c->name, blank_line);
		size_t lead = 0;
		while (lead < n && (p[lead] == ' ' || p[lead] == '\t'))
			lead++;
		if (p[lead] == '#')
			return ps_diag_set(c->diag, PS_EPARSE,
			                   "%s:%zu: comments are not allowed in a trace", c->name,
			                   c->line);
		struct field f[2];
		size_t ncols = 0;
		if (!split_line(p, n, f, &ncols))
			return ps_diag_set(c->diag, PS_EPARSE, "%s:%zu: unterminated quoted field",
			                   c->name, c->line);
		if (c->line == 1 && !starts_like_number(&f[0])) {
			if (ncols != 2 || !ascii_ieq(f[0].text, "timestamp") ||
			    !ascii_ieq(f[1].text, "value"))
				return ps_diag_set(c->diag, PS_EPARSE,
				                   "%s:1: the header must be \"timestamp,value\", "
				                   "found %s",
				                   c->name, quote(q, p, n));
			*header = true;
			*first_line = 2;
			p = next;
			continue;
		}
		if (ncols != 2)
			return csv_columns(c, p, n, ncols);
		int64_t ms = 0;
		double v = 0;
		enum ps_err err = csv_timestamp(c, &f[0], &ms);
		if (!err)
			err = csv_value(c, &f[1], &v);
		if (err)
			return err;
		if (r->n && ms <= r->ts[r->n - 1])
			return ps_diag_set(
			    c->diag, PS_EPARSE,
			    "%s:%zu: timestamp %s is not after the previous one (%s)", c->name,
			    c->line, fmt_sec(s1, ms), fmt_sec(s2, r->ts[r->n - 1]));
		if (rows_push(r, ms, v))
			return ps_diag_set(c->diag, PS_ENOMEM, "%s: out of memory", c->name);
		p = next;
	}
	return PS_OK;
}

enum ps_err trace_from_csv_text(const char *text, size_t len, const char *source, struct trace *out,
                                struct ps_diag *diag)
{
	PS_ASSERT(out && (text || len == 0));
	if (!text)
		text = "";
	const char *name = source ? source : default_source;
	start(out, name);
	struct csv c = {.name = name, .diag = diag};
	struct rows r = {0};
	size_t first_line;
	bool header;
	enum ps_err err = csv_rows(&c, text, len, &r, &first_line, &header);
	if (err)
		goto out_rows;
	if (r.n == 0 && !header) {
		err = ps_diag_set(diag, PS_EPARSE, "%s: empty file (expected timestamp,value rows)",
		                  name);
		goto out_rows;
	}
	if (r.n < 2) {
		err = ps_diag_set(diag, PS_EPARSE,
		                  "%s: %zu data row%s; a trace needs at least 2 to have a step",
		                  name, r.n, r.n == 1 ? "" : "s");
		goto out_rows;
	}
	int64_t step;
	size_t bad = 0;
	err = rhythm(&r, &step, &bad);
	if (err == PS_ENOMEM) {
		ps_diag_set(diag, err, "%s: out of memory", name);
	} else if (err) {
		char s1[SEC_BUF], s2[SEC_BUF], s3[SEC_BUF], s4[SEC_BUF];
		ps_diag_set(diag, err,
		            "%s:%zu: timestamp %s is %s s after the previous one (%s), not a whole "
		            "multiple of the step (%s s, the most common difference)",
		            name, first_line + bad, fmt_sec(s1, r.ts[bad]),
		            fmt_sec(s2, r.ts[bad] - r.ts[bad - 1]), fmt_sec(s3, r.ts[bad - 1]),
		            fmt_sec(s4, step));
	} else {
		hand_over(&r, step, out);
	}
out_rows:
	rows_release(&r);
	if (err)
		trace_release(out);
	return err;
}

/* ---- query_range: a parsed Prometheus response ---- */

/* The place of values[<k>] in messages. */
#define VALUES_AT "data.result[0].values[%zu]"

static const char *result_type_name(enum prom_result_type t)
{
	switch (t) {
	case PROM_RESULT_SCALAR:
		return "scalar";
	case PROM_RESULT_VECTOR:
		return "vector";
	case PROM_RESULT_MATRIX:
		return "matrix";
	case PROM_RESULT_STRING:
		return "string";
	}
	return "unknown";
}

/* Sizes the arrays of the empty <r> for <n> samples. */
static enum ps_err rows_reserve(struct rows *r, size_t n)
{
	r->ts = ps_reallocarray(NULL, n, sizeof(*r->ts));
	r->v = ps_reallocarray(NULL, n, sizeof(*r->v));
	if (!r->ts || !r->v)
		return PS_ENOMEM;
	r->cap = n;
	return PS_OK;
}

/* Copies the points of <s> into <r>, in order, one per point: no-data values become NaN, so the
 * step is judged on every timestamp Prometheus sent. prom_parse_response() has already checked
 * the order and range of the timestamps; they are checked again because a caller may build a
 * result by hand, and the step search needs strictly increasing times. */
static enum ps_err series_rows(const char *name, const struct prom_series *s, struct rows *r,
                               struct ps_diag *diag)
{
	char s1[SEC_BUF], s2[SEC_BUF];
	if (rows_reserve(r, s->n_points))
		return ps_diag_set(diag, PS_ENOMEM, "%s: out of memory", name);
	for (size_t k = 0; k < s->n_points; k++) {
		const struct prom_point *p = &s->points[k];
		int64_t ms = p->ts_ms;
		if (ms <= -TRACE_MAX_ABS_SECONDS * 1000 || ms >= TRACE_MAX_ABS_SECONDS * 1000)
			return ps_diag_set(diag, PS_ERANGE,
			                   "%s: " VALUES_AT "[0]: timestamp %" PRId64
			                   " ms is out of range",
			                   name, k, ms);
		if (k > 0 && ms <= r->ts[k - 1])
			return ps_diag_set(diag, PS_EPARSE,
			                   "%s: " VALUES_AT ": timestamp %s is not after the "
			                   "previous one (%s)",
			                   name, k, fmt_sec(s1, ms), fmt_sec(s2, r->ts[k - 1]));
		r->ts[k] = ms;
		r->v[k] = p->no_data || !isfinite(p->value) ? NAN : p->value;
		r->n++;
	}
	return PS_OK;
}

enum ps_err trace_from_prom_result(const struct prom_result *res, const char *source,
                                   struct trace *out, struct ps_diag *diag)
{
	PS_ASSERT(res && out);
	const char *name = source ? source : default_source;
	start(out, name);
	if (res->type != PROM_RESULT_MATRIX)
		return ps_diag_set(
		    diag, PS_EPARSE,
		    "%s: data.resultType is \"%s\", not \"matrix\": simulate needs the "
		    "response of a range query (/api/v1/query_range)",
		    name, result_type_name(res->type));
	if (res->n_series == 0)
		return ps_diag_set(diag, PS_EPARSE,
		                   "%s: data.result: no series (the query matched nothing in that "
		                   "range)",
		                   name);
	if (res->n_series > 1)
		return ps_diag_set(
		    diag, PS_EPARSE,
		    "%s: data.result: %zu series; simulate takes one: narrow the query "
		    "(a label matcher, or sum(...))",
		    name, res->n_series);
	const struct prom_series *s = &res->series[0];
	if (s->n_points < 2)
		return ps_diag_set(
		    diag, PS_EPARSE,
		    "%s: data.result[0].values: %zu sample%s; a trace needs at least 2", name,
		    s->n_points, s->n_points == 1 ? "" : "s");
	struct rows r = {0};
	enum ps_err err = series_rows(name, s, &r, diag);
	if (err)
		goto out_rows;
	int64_t step;
	size_t bad = 0;
	err = rhythm(&r, &step, &bad);
	if (err == PS_ENOMEM) {
		ps_diag_set(diag, err, "%s: out of memory", name);
		goto out_rows;
	}
	if (err) {
		char s1[SEC_BUF], s2[SEC_BUF], s3[SEC_BUF], s4[SEC_BUF];
		ps_diag_set(diag, err,
		            "%s: " VALUES_AT ": timestamp %s is %s s after the previous one (%s), "
		            "not a whole multiple of the step (%s s, the most common difference)",
		            name, bad, fmt_sec(s1, r.ts[bad]),
		            fmt_sec(s2, r.ts[bad] - r.ts[bad - 1]), fmt_sec(s3, r.ts[bad - 1]),
		            fmt_sec(s4, step));
		goto out_rows;
	}
	size_t skipped = drop_no_data(&r);
	if (r.n < 2) {
		err = ps_diag_set(diag, PS_EPARSE,
		                  "%s: data.result[0].values: %zu sample%s with data (%zu NaN or "
		                  "infinite skipped); a trace needs at least 2",
		                  name, r.n, r.n == 1 ? "" : "s", skipped);
		goto out_rows;
	}
	hand_over(&r, step, out);
	out->n_skipped = skipped;
out_rows:
	rows_release(&r);
	if (err)
		trace_release(out);
	return err;
}

/* ---- query_range: the text of a saved response ---- */

/* Records the failure <err> of prom_parse_response() on the file <name>, whose message is in
 * <pd>, in <diag> in this file's form: "<name>: <what>" rather than the client's
 * "prometheus: <what> (<name>)"; a syntax error already reads "prometheus: <name>:<line>:<col>:
 * ...". The code is PS_EPARSE for any content that is not a usable response (an error envelope
 * of any errorType included: the file is what is wrong), kept for PS_ERANGE and PS_ENOMEM. */
static enum ps_err saved_failure(const char *name, enum ps_err err, const struct ps_diag *pd,
                                 struct ps_diag *diag)
{
	static const char prefix[] = "prometheus: ";
	if (err != PS_ENOMEM && err != PS_ERANGE)
		err = PS_EPARSE;
	const char *m = ps_diag_msg(pd);
	if (strncmp(m, prefix, sizeof(prefix) - 1) == 0)
		m += sizeof(prefix) - 1;
	size_t n = strlen(m), nl = strlen(name);
	bool suffixed = n >= nl + 3 && m[n - 1] == ')' && memcmp(m + n - nl - 3, " (", 2) == 0 &&
	                memcmp(m + n - nl - 1, name, nl) == 0;
	if (suffixed)
		return ps_diag_set(diag, err, "%s: %.*s", name, (int)(n - nl - 3), m);
	if (strncmp(m, name, nl) == 0 && m[nl] == ':')
		return ps_diag_set(diag, err, "%s", m);
	return ps_diag_set(diag, err, "%s: %s", name, m);
}

enum ps_err trace_from_query_range_text(const char *text, size_t len, const char *source,
                                        struct trace *out, struct ps_diag *diag)
{
	PS_ASSERT(out && (text || len == 0));
	const char *name = source ? source : default_source;
	start(out, name);
	if (!text)
		text = "";
	if (len >= 3 && memcmp(text, "\xEF\xBB\xBF", 3) == 0) {
		text += 3; /* a UTF-8 BOM, which editors do not show: not a column */
		len -= 3;
	}
	size_t first = 0;
	while (first < len && is_space(text[first]))
		first++;
	if (first == len)
		return ps_diag_set(diag, PS_EPARSE,
		                   "%s: empty file (expected a Prometheus query_range response)",
		                   name);
	if (text[first] != '{' && text[first] != '[')
		/* The client's message for a body that is not JSON quotes its start but, being
		 * about HTTP bodies, gives no line:column; a file gets one. */
		return ps_text_syntax_error(diag, name, text, len, first,
		                            "not JSON (a query_range response is a JSON object)");
	struct prom_parse_opts opts = {.source = name};
	struct prom_result res;
	struct ps_diag pd;
	ps_diag_clear(&pd);
	enum ps_err err = prom_parse_response(text, len, &opts, &res, &pd);
	if (err)
		return saved_failure(name, err, &pd, diag);
	err = trace_from_prom_result(&res, name, out, diag);
	prom_result_release(&res);
	return err;
}

/* ---- files ---- */

enum kind { KIND_CSV, KIND_JSON, KIND_SNIFF };

static bool ends_with_json(const char *path)
{
	size_t n = strlen(path);
	return n >= 5 && ascii_ieq(path + n - 5, ".json");
}

static enum ps_err load(const char *path, enum kind kind, struct trace *out, struct ps_diag *diag)
{
	PS_ASSERT(path && out);
	start(out, path);
	struct ps_buf b;
	ps_buf_init(&b, TRACE_MAX_BYTES);
	enum ps_err err = ps_buf_read_file(&b, path, diag);
	if (err == PS_ETOOBIG)
		ps_diag_set(diag, err, "%s: larger than the limit of %zu MiB for a trace", path,
		            TRACE_MAX_BYTES >> 20);
	if (err)
		goto out_buf;
	const char *text = ps_buf_cstr(&b);
	if (kind == KIND_SNIFF) {
		size_t i = b.len >= 3 && memcmp(text, "\xEF\xBB\xBF", 3) == 0 ? 3 : 0;
		while (i < b.len && is_space(text[i]))
			i++;
		kind = (i < b.len && text[i] == '{') || ends_with_json(path) ? KIND_JSON : KIND_CSV;
	}
	if (kind == KIND_JSON)
		err = trace_from_query_range_text(text, b.len, path, out, diag);
	else
		err = trace_from_csv_text(text, b.len, path, out, diag);
out_buf:
	ps_buf_release(&b);
	return err;
}

enum ps_err trace_load_csv(const char *path, struct trace *out, struct ps_diag *diag)
{
	return load(path, KIND_CSV, out, diag);
}

enum ps_err trace_load_query_range(const char *path, struct trace *out, struct ps_diag *diag)
{
	return load(path, KIND_JSON, out, diag);
}

enum ps_err trace_load(const char *path, struct trace *out, struct ps_diag *diag)
{
	return load(path, KIND_SNIFF, out, diag);
}
