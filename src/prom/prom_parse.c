/* prom_parse.c -- Prometheus API response bodies into struct prom_result, or a clear error.
 *
 * The body is parsed with cJSON, then walked once: the envelope (status, errorType, error,
 * warnings), then data by resultType. Everything the result points to (labels, points,
 * warnings, the string) is copied into an arena of a few large blocks owned by the result, so
 * the cJSON tree is freed before returning and prom_result_release() is one loop. Messages
 * name the JSON path of what is wrong ("data.result[2].value[1]") and end with where the body
 * came from (fail()).
 */
#include "prom.h"
#include "prom_int.h"

#include <cjson/cJSON.h>
#include <inttypes.h>
#include <math.h>
#include <pthread.h>
#include <stdalign.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include "ps_alloc.h"
#include "ps_parse.h"
#include "ps_text.h"

/* Bytes of a non-JSON body quoted in its message. */
#define BODY_QUOTE_MAX 60
/* Longest error, errorType or bad value quoted from a response. */
#define FIELD_QUOTE_MAX 200
/* Usual arena block; larger requests get a block of their own. */
#define ARENA_BLOCK ((size_t)16 << 10)
/* Timestamps from here on (about the year 5138) are refused: surely milliseconds. */
#define MAX_ABS_SECONDS 100000000000.0
/* Room for a JSON path such as data.result[123456].values[123456][1]. */
#define PATH_BUF 64

/* ---- the arena ---- */

struct block {
	struct block *next;
	size_t used, size;
	alignas(max_align_t) unsigned char data[];
};

/* Returns <n> bytes aligned for any type from the arena at <*mem>, or NULL (out of memory). */
static void *arena_alloc(void **mem, size_t n)
{
	const size_t align = alignof(max_align_t);
	if (n > SIZE_MAX - align - sizeof(struct block))
		return NULL;
	n = (n + align - 1) / align * align;
	struct block *b = *mem;
	if (!b || b->size - b->used < n) {
		size_t size = n > ARENA_BLOCK ? n : ARENA_BLOCK;
		struct block *nb = ps_malloc(sizeof(*nb) + size);
		if (!nb)
			return NULL;
		nb->used = 0;
		nb->size = size;
		if (b && n > ARENA_BLOCK) {
			/* A big array gets its own block behind the current one, which keeps
			 * its free room for the small strings that follow. */
			nb->next = b->next;
			b->next = nb;
		} else {
			nb->next = b;
			*mem = nb;
		}
		b = nb;
	}
	void *p = b->data + b->used;
	b->used += n;
	return p;
}

static char *arena_strdup(void **mem, const char *s)
{
	size_t n = strlen(s) + 1;
	char *d = arena_alloc(mem, n);
	if (d)
		memcpy(d, s, n);
	return d;
}

static void arena_free(void *mem)
{
	struct block *b = mem;
	while (b) {
		struct block *next = b->next;
		ps_free(b);
		b = next;
	}
}

/* ---- cJSON hooks ---- */

static pthread_once_t hooks_once = PTHREAD_ONCE_INIT;

static void hooks_install(void)
{
	static cJSON_Hooks hooks = {ps_malloc_noted, ps_free};
	cJSON_InitHooks(&hooks);
}

/* ---- messages ---- */

struct pctx {
	const struct prom_parse_opts *o;
	struct ps_diag *diag;
	void **mem;
	bool source_named; /* the message already starts with the source: no "(<where>)" */
};

/* Records "prometheus: <message> (<where>)" in the diag and returns <err>. <where> is the HTTP
 * status and the source, whichever are known. */
PS_PRINTF(3, 4)
static enum ps_err fail(const struct pctx *c, enum ps_err err, const char *fmt, ...)
{
	char msg[PS_DIAG_MAX];
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (n < 0)
		msg[0] = '\0';
	const char *src = c->o->source;
	long st = c->o->http_status;
	if (c->source_named)
		return ps_diag_set(c->diag, err, "prometheus: %s", msg);
	if (st && src)
		return ps_diag_set(c->diag, err, "prometheus: %s (HTTP %ld from %s)", msg, st, src);
	if (st)
		return ps_diag_set(c->diag, err, "prometheus: %s (HTTP %ld)", msg, st);
	if (src)
		return ps_diag_set(c->diag, err, "prometheus: %s (%s)", msg, src);
	return ps_diag_set(c->diag, err, "prometheus: %s", msg);
}

static enum ps_err no_memory(const struct pctx *c)
{
	return fail(c, PS_ENOMEM, "out of memory parsing the response");
}

static const char *json_type(const cJSON *j)
{
	if (!j)
		return "nothing";
	if (cJSON_IsObject(j))
		return "an object";
	if (cJSON_IsArray(j))
		return "an array";
	if (cJSON_IsString(j))
		return "a string";
	if (cJSON_IsNumber(j))
		return "a number";
	if (cJSON_IsBool(j))
		return "a boolean";
	return "null";
}

static const char *quote(char *out, size_t size, const char *s)
{
	return ps_text_quote(out, size, s, strlen(s), FIELD_QUOTE_MAX);
}

/* ---- error codes ---- */

/* The code of a response that carries no usable errorType, by its HTTP status. */
static enum ps_err code_for_status(long status)
{
	switch (status) {
	case 401:
		return PS_EUNAUTHORIZED;
	case 403:
		return PS_EFORBIDDEN;
	case 404:
		return PS_ENOTFOUND;
	case 429:
		return PS_ETHROTTLED;
	case 503:
		return PS_EUNAVAIL;
	case 504:
		return PS_ETIMEDOUT;
	default:
		return status >= 500 && status <= 599 ? PS_ESERVER : PS_EHTTP;
	}
}

/* The code of an error envelope: by errorType (the values of Prometheus' web/api/v1), else by
 * the HTTP status. */
static enum ps_err code_for_error_type(const char *type, long status)
{
	static const struct {
		const char *type;
		enum ps_err err;
	} map[] = {
	    {"timeout", PS_ETIMEDOUT},   {"canceled", PS_EUNAVAIL}, {"unavailable", PS_EUNAVAIL},
	    {"internal", PS_ESERVER},    {"bad_data", PS_EPARSE},   {"execution", PS_EINVALID},
	    {"not_found", PS_ENOTFOUND},
	};
	for (size_t i = 0; type && i < PS_ARRAY_LEN(map); i++)
		if (strcmp(type, map[i].type) == 0)
			return map[i].err;
	return code_for_status(status);
}

/* The code of a body that is not a well-formed Prometheus response: by HTTP status when the
 * status already says the request failed, else a parse error. */
static enum ps_err code_for_bad_body(long status)
{
	return status >= 400 ? code_for_status(status) : PS_EPARSE;
}

/* ---- values ---- */

/* Parses the timestamp <t> (element 0 of the array at <path>) into Unix ms. */
static enum ps_err parse_ts(const struct pctx *c, const cJSON *t, const char *path, int64_t *ms)
{
	if (!cJSON_IsNumber(t))
		return fail(c, PS_EPARSE, "%s[0]: the timestamp must be a number, got %s", path,
		            json_type(t));
	double sec = t->valuedouble;
	if (!(fabs(sec) < MAX_ABS_SECONDS))
		return fail(c, PS_ERANGE,
		            "%s[0]: timestamp %.17g is out of range (Prometheus sends seconds)",
		            path, sec);
	*ms = llround(sec * 1000.0);
	return PS_OK;
}

/* Parses [<unix seconds>, "<value>"] at <j> into <p>; <path> names <j> in messages. */
static enum ps_err parse_point(const struct pctx *c, const cJSON *j, const char *path,
                               struct prom_point *p)
{
	char q[PS_QUOTE_BUF(FIELD_QUOTE_MAX)];
	if (!cJSON_IsArray(j) || cJSON_GetArraySize(j) != 2)
		return fail(c, PS_EPARSE, "%s: expected [<unix seconds>, \"<value>\"], got %s",
		            path, cJSON_IsArray(j) ? "an array of another size" : json_type(j));
	const cJSON *t = j->child, *v = j->child->next;
	enum ps_err err = parse_ts(c, t, path, &p->ts_ms);
	if (err)
		return err;
	if (!cJSON_IsString(v))
		return fail(c, PS_EPARSE, "%s[1]: the value must be a string, got %s", path,
		            json_type(v));
	const char *s = v->valuestring;
	p->no_data = true;
	if (strcmp(s, "NaN") == 0) {
		p->value = NAN;
	} else if (strcmp(s, "+Inf") == 0 || strcmp(s, "Inf") == 0) {
		p->value = INFINITY;
	} else if (strcmp(s, "-Inf") == 0) {
		p->value = -INFINITY;
	} else {
		p->no_data = false;
		err = ps_parse_double(s, &p->value, NULL);
		if (err)
			return fail(c, err, "%s[1]: value %s is %s", path, quote(q, sizeof(q), s),
			            err == PS_ERANGE ? "out of range" : "not a number");
	}
	return PS_OK;
}

/* Copies the "metric" object <m> of result[<i>] into <s>, and finds the key label. */
static enum ps_err parse_labels(const struct pctx *c, const cJSON *m, size_t i,
                                struct prom_series *s)
{
	if (!cJSON_IsObject(m))
		return fail(c, PS_EPARSE, "data.result[%zu].metric: expected an object, got %s", i,
		            json_type(m));
	int n = cJSON_GetArraySize(m);
	struct prom_label *labels = NULL;
	if (n > 0) {
		labels = arena_alloc(c->mem, (size_t)n * sizeof(*labels));
		if (!labels)
			return no_memory(c);
	}
	const char *key_label = c->o->key_label ? c->o->key_label : PROM_DEFAULT_KEY_LABEL;
	size_t k = 0;
	const cJSON *l;
	cJSON_ArrayForEach(l, m)
	{
		char q[PS_QUOTE_BUF(FIELD_QUOTE_MAX)];
		if (!cJSON_IsString(l))
			return fail(c, PS_EPARSE,
			            "data.result[%zu].metric: label %s: expected a string, got %s",
			            i, quote(q, sizeof(q), l->string), json_type(l));
		labels[k].name = arena_strdup(c->mem, l->string);
		labels[k].value = arena_strdup(c->mem, l->valuestring);
		if (!labels[k].name || !labels[k].value)
			return no_memory(c);
		if (!s->key && strcmp(l->string, key_label) == 0)
			s->key = labels[k].value;
		k++;
	}
	s->labels = labels;
	s->n_labels = k;
	return PS_OK;
}

/* A vector sample or a matrix series of Prometheus' native histograms, which prescale does not
 * read: says so instead of "no value". */
static bool is_histogram(const cJSON *e, const char *field)
{
	return cJSON_GetObjectItemCaseSensitive(e, field) != NULL;
}

/* data.result of a vector: [{"metric": {...}, "value": [ts, "v"]}, ...]. */
static enum ps_err parse_vector(const struct pctx *c, const cJSON *result, struct prom_result *r)
{
	int n = cJSON_GetArraySize(result);
	if (n == 0)
		return PS_OK;
	struct prom_series *series = arena_alloc(c->mem, (size_t)n * sizeof(*series));
	struct prom_point *points = arena_alloc(c->mem, (size_t)n * sizeof(*points));
	if (!series || !points)
		return no_memory(c);
	size_t i = 0;
	const cJSON *e;
	cJSON_ArrayForEach(e, result)
	{
		char path[PATH_BUF];
		memset(&series[i], 0, sizeof(series[i]));
		if (!cJSON_IsObject(e))
			return fail(c, PS_EPARSE, "data.result[%zu]: expected an object, got %s", i,
			            json_type(e));
		enum ps_err err =
		    parse_labels(c, cJSON_GetObjectItemCaseSensitive(e, "metric"), i, &series[i]);
		if (err)
			return err;
		const cJSON *v = cJSON_GetObjectItemCaseSensitive(e, "value");
		if (!v && is_histogram(e, "histogram"))
			return fail(c, PS_EPARSE,
			            "data.result[%zu]: a native histogram sample; prescale reads "
			            "float samples (\"value\") only",
			            i);
		snprintf(path, sizeof(path), "data.result[%zu].value", i);
		err = parse_point(c, v, path, &points[i]);
		if (err)
			return err;
		series[i].points = &points[i];
		series[i].n_points = 1;
		if (!points[i].no_data)
			r->n_points_with_data++;
		i++;
	}
	r->series = series;
	r->n_series = i;
	return PS_OK;
}

/* data.result of a matrix: [{"metric": {...}, "values": [[ts, "v"], ...]}, ...]. */
static enum ps_err parse_matrix(const struct pctx *c, const cJSON *result, struct prom_result *r)
{
	int n = cJSON_GetArraySize(result);
	if (n == 0)
		return PS_OK;
	struct prom_series *series = arena_alloc(c->mem, (size_t)n * sizeof(*series));
	if (!series)
		return no_memory(c);
	size_t i = 0;
	const cJSON *e;
	cJSON_ArrayForEach(e, result)
	{
		char path[PATH_BUF], s1[PROM_SEC_BUF], s2[PROM_SEC_BUF];
		memset(&series[i], 0, sizeof(series[i]));
		if (!cJSON_IsObject(e))
			return fail(c, PS_EPARSE, "data.result[%zu]: expected an object, got %s", i,
			            json_type(e));
		enum ps_err err =
		    parse_labels(c, cJSON_GetObjectItemCaseSensitive(e, "metric"), i, &series[i]);
		if (err)
			return err;
		const cJSON *values = cJSON_GetObjectItemCaseSensitive(e, "values");
		if (!values && is_histogram(e, "histograms"))
			return fail(
			    c, PS_EPARSE,
			    "data.result[%zu]: native histogram samples only; prescale reads "
			    "float samples (\"values\")",
			    i);
		if (!cJSON_IsArray(values))
			return fail(c, PS_EPARSE,
			            "data.result[%zu].values: expected an array, got %s", i,
			            json_type(values));
		int np = cJSON_GetArraySize(values);
		struct prom_point *points = NULL;
		if (np > 0) {
			points = arena_alloc(c->mem, (size_t)np * sizeof(*points));
			if (!points)
				return no_memory(c);
		}
		size_t k = 0;
		const cJSON *v;
		cJSON_ArrayForEach(v, values)
		{
			snprintf(path, sizeof(path), "data.result[%zu].values[%zu]", i, k);
			err = parse_point(c, v, path, &points[k]);
			if (err)
				return err;
			if (k > 0 && points[k].ts_ms <= points[k - 1].ts_ms)
				return fail(
				    c, PS_EPARSE,
				    "%s[0]: timestamp %s is not after the previous one (%s)", path,
				    prom_fmt_seconds(points[k].ts_ms, s1),
				    prom_fmt_seconds(points[k - 1].ts_ms, s2));
			if (!points[k].no_data)
				r->n_points_with_data++;
			k++;
		}
		series[i].points = points;
		series[i].n_points = k;
		i++;
	}
	r->series = series;
	r->n_series = i;
	return PS_OK;
}

/* data of a success envelope. */
static enum ps_err parse_data(const struct pctx *c, const cJSON *data, struct prom_result *r)
{
	char q[PS_QUOTE_BUF(FIELD_QUOTE_MAX)];
	if (!cJSON_IsObject(data))
		return fail(c, PS_EPARSE, "data: expected an object, got %s", json_type(data));
	const cJSON *rt = cJSON_GetObjectItemCaseSensitive(data, "resultType");
	if (!cJSON_IsString(rt))
		return fail(c, PS_EPARSE, "data.resultType: expected a string, got %s",
		            json_type(rt));
	const cJSON *result = cJSON_GetObjectItemCaseSensitive(data, "result");
	const char *t = rt->valuestring;
	if (strcmp(t, "scalar") == 0) {
		r->type = PROM_RESULT_SCALAR;
		enum ps_err err = parse_point(c, result, "data.result", &r->scalar);
		if (err)
			return err;
		r->n_points_with_data = r->scalar.no_data ? 0 : 1;
		r->no_data = r->scalar.no_data;
		return PS_OK;
	}
	if (strcmp(t, "string") == 0) {
		r->type = PROM_RESULT_STRING;
		if (!cJSON_IsArray(result) || cJSON_GetArraySize(result) != 2)
			return fail(c, PS_EPARSE,
			            "data.result: expected [<unix seconds>, \"<string>\"], got %s",
			            cJSON_IsArray(result) ? "an array of another size"
			                                  : json_type(result));
		const cJSON *text = result->child->next;
		if (!cJSON_IsString(text))
			return fail(c, PS_EPARSE, "data.result[1]: expected a string, got %s",
			            json_type(text));
		enum ps_err err = parse_ts(c, result->child, "data.result", &r->scalar.ts_ms);
		if (err)
			return err;
		r->scalar.value = NAN;
		r->string = arena_strdup(c->mem, text->valuestring);
		return r->string ? PS_OK : no_memory(c);
	}
	bool vector = strcmp(t, "vector") == 0;
	if (!vector && strcmp(t, "matrix") != 0)
		return fail(c, PS_EPARSE,
		            "data.resultType: %s is none of scalar, vector, matrix, string",
		            quote(q, sizeof(q), t));
	if (!cJSON_IsArray(result))
		return fail(c, PS_EPARSE, "data.result: expected an array, got %s",
		            json_type(result));
	r->type = vector ? PROM_RESULT_VECTOR : PROM_RESULT_MATRIX;
	enum ps_err err = vector ? parse_vector(c, result, r) : parse_matrix(c, result, r);
	r->no_data = r->n_points_with_data == 0;
	return err;
}

/* "warnings": an optional array of strings, next to data. */
static enum ps_err parse_warnings(const struct pctx *c, const cJSON *w, struct prom_result *r)
{
	if (!w || cJSON_IsNull(w))
		return PS_OK;
	if (!cJSON_IsArray(w))
		return fail(c, PS_EPARSE, "warnings: expected an array, got %s", json_type(w));
	int n = cJSON_GetArraySize(w);
	if (n == 0)
		return PS_OK;
	const char **list = arena_alloc(c->mem, (size_t)n * sizeof(*list));
	if (!list)
		return no_memory(c);
	size_t i = 0;
	const cJSON *e;
	cJSON_ArrayForEach(e, w)
	{
		if (!cJSON_IsString(e))
			return fail(c, PS_EPARSE, "warnings[%zu]: expected a string, got %s", i,
			            json_type(e));
		list[i] = arena_strdup(c->mem, e->valuestring);
		if (!list[i])
			return no_memory(c);
		i++;
	}
	r->warnings = list;
	r->n_warnings = i;
	return PS_OK;
}

/* The envelope: {"status": "success", "data": ..., "warnings": [...]} or {"status": "error",
 * "errorType": ..., "error": ...}. */
static enum ps_err parse_envelope(const struct pctx *c, const cJSON *root, struct prom_result *r)
{
	char q1[PS_QUOTE_BUF(FIELD_QUOTE_MAX)];
	long st = c->o->http_status;
	if (!cJSON_IsObject(root))
		return fail(c, code_for_bad_body(st),
		            "not a Prometheus API response (expected a JSON object, got %s)",
		            json_type(root));
	const cJSON *status = cJSON_GetObjectItemCaseSensitive(root, "status");
	if (!cJSON_IsString(status))
		return fail(c, code_for_bad_body(st),
		            "not a Prometheus API response (no \"status\" string)");
	if (strcmp(status->valuestring, "error") == 0) {
		const cJSON *et = cJSON_GetObjectItemCaseSensitive(root, "errorType");
		const cJSON *msg = cJSON_GetObjectItemCaseSensitive(root, "error");
		const char *type = cJSON_IsString(et) ? et->valuestring : NULL;
		/* The texts are shown as Prometheus wrote them: they already quote the query. */
		return fail(c, code_for_error_type(type, st), "%s: %s",
		            type ? type : "error (no errorType)",
		            cJSON_IsString(msg) ? msg->valuestring : "(no error message)");
	}
	if (strcmp(status->valuestring, "success") != 0)
		return fail(c, code_for_bad_body(st),
		            "status: %s is neither \"success\" nor \"error\"",
		            quote(q1, sizeof(q1), status->valuestring));
	if (st >= 300)
		return fail(c, code_for_status(st), "a success envelope with a failure status");
	enum ps_err err = parse_warnings(c, cJSON_GetObjectItemCaseSensitive(root, "warnings"), r);
	if (err)
		return err;
	return parse_data(c, cJSON_GetObjectItemCaseSensitive(root, "data"), r);
}

static bool is_space(char ch)
{
	return ch == ' ' || ch == '\t' || ch == '\n' || ch == '\r';
}

static bool is_literal_char(char ch)
{
	return (ch >= '0' && ch <= '9') || (ch >= 'a' && ch <= 'z') || ch == '.' || ch == '+' ||
	       ch == '-' || ch == 'E';
}

/* True when <body> ends inside a string, object or array and cJSON's failure at <off> lies in
 * its last token: the body was cut short, and "near '<last token>'" would mislead. (cJSON
 * reports a cut at the start of the unterminated string or at the last byte.) */
static bool cut_short(const char *body, size_t len, size_t off)
{
	long depth = 0;
	bool in_string = false, escaped = false;
	size_t string_start = 0;
	for (size_t i = 0; i < len; i++) {
		char ch = body[i];
		if (in_string) {
			if (escaped)
				escaped = false;
			else if (ch == '\\')
				escaped = true;
			else if (ch == '"')
				in_string = false;
		} else if (ch == '"') {
			in_string = true;
			string_start = i;
		} else if (ch == '{' || ch == '[') {
			depth++;
		} else if (ch == '}' || ch == ']') {
			depth--;
		}
	}
	if (in_string)
		return off >= string_start;
	if (depth <= 0)
		return false;
	size_t last = len;
	while (last > 0 && is_space(body[last - 1]))
		last--;
	if (last == 0)
		return false;
	size_t tail = last - 1;
	while (tail > 0 && is_literal_char(body[tail]) && is_literal_char(body[tail - 1]))
		tail--;
	return off >= tail;
}

/* The name before line:col in a syntax error: a saved file's own name ("resp.json:3:14: ...",
 * the source then not repeated at the end), else "body". */
static const char *syntax_name(struct pctx *c)
{
	if (c->o->http_status == 0 && c->o->source) {
		c->source_named = true;
		return c->o->source;
	}
	return "body";
}

enum ps_err prom_parse_response(const char *body, size_t len, const struct prom_parse_opts *opts,
                                struct prom_result *out, struct ps_diag *diag)
{
	PS_ASSERT(out && (body || len == 0));
	static const struct prom_parse_opts no_opts;
	memset(out, 0, sizeof(*out));
	struct pctx c = {.o = opts ? opts : &no_opts, .diag = diag, .mem = &out->mem};
	long st = c.o->http_status;
	out->http_status = st;
	if (!body)
		body = "";
	if (len >= 3 && memcmp(body, "\xEF\xBB\xBF", 3) == 0) {
		body += 3; /* a UTF-8 BOM in a saved file; cJSON does not skip it */
		len -= 3;
	}
	size_t first = 0;
	while (first < len && is_space(body[first]))
		first++;
	if (first == len)
		return fail(&c, st ? code_for_status(st) : PS_EPARSE, "empty response body");
	if (body[first] != '{' && body[first] != '[') {
		/* The plain-text 404 of an unknown path, a proxy's HTML page, ... */
		char q[PS_QUOTE_BUF(BODY_QUOTE_MAX)];
		ps_text_quote(q, sizeof(q), body, len, BODY_QUOTE_MAX);
		const char *ct = c.o->content_type;
		if (ct && *ct)
			return fail(&c, st ? code_for_status(st) : PS_EPARSE,
			            "the response is not JSON (%s): %s", ct, q);
		return fail(&c, st ? code_for_status(st) : PS_EPARSE,
		            "the response is not JSON: %s", q);
	}

	pthread_once(&hooks_once, hooks_install);
	ps_alloc_note_reset();
	const char *end = NULL;
	cJSON *root = cJSON_ParseWithLengthOpts(body, len, &end, false);
	enum ps_err err;
	if (!root) {
		if (ps_alloc_note_failed())
			return no_memory(&c);
		struct ps_diag syn;
		ps_diag_clear(&syn);
		size_t off = end && end >= body ? (size_t)(end - body) : 0;
		if (off >= len || cut_short(body, len, off))
			ps_text_syntax_error(&syn, syntax_name(&c), body, len, len,
			                     "invalid JSON: the body ends too early");
		else
			ps_text_syntax_error(&syn, syntax_name(&c), body, len, off, "invalid JSON");
		return fail(&c, code_for_bad_body(st), "%s", syn.msg);
	}
	size_t off = end && end >= body ? (size_t)(end - body) : len;
	while (off < len && is_space(body[off]))
		off++;
	if (off < len) {
		struct ps_diag syn;
		ps_diag_clear(&syn);
		ps_text_syntax_error(&syn, syntax_name(&c), body, len, off,
		                     "unexpected data after the JSON value");
		err = fail(&c, code_for_bad_body(st), "%s", syn.msg);
		goto out;
	}
	err = parse_envelope(&c, root, out);
out:
	cJSON_Delete(root);
	if (err) {
		arena_free(out->mem);
		memset(out, 0, sizeof(*out));
	}
	return err;
}

void prom_result_release(struct prom_result *r)
{
	if (!r)
		return;
	arena_free(r->mem);
	memset(r, 0, sizeof(*r));
}

const char *prom_series_label(const struct prom_series *s, const char *name)
{
	for (size_t i = 0; i < s->n_labels; i++)
		if (strcmp(s->labels[i].name, name) == 0)
			return s->labels[i].value;
	return NULL;
}

const struct prom_series *prom_result_find(const struct prom_result *r, const char *key)
{
	for (size_t i = 0; i < r->n_series; i++)
		if (r->series[i].key && strcmp(r->series[i].key, key) == 0)
			return &r->series[i];
	return NULL;
}

static const char *value_word(double v)
{
	return isnan(v) ? "NaN" : v > 0 ? "+Inf" : "-Inf";
}

enum ps_err prom_result_value(const struct prom_result *r, double *out, struct ps_diag *diag)
{
	*out = NAN;
	const struct prom_point *p;
	switch (r->type) {
	case PROM_RESULT_SCALAR:
		p = &r->scalar;
		break;
	case PROM_RESULT_VECTOR:
		if (r->n_series == 0)
			return ps_diag_set(
			    diag, PS_ENODATA,
			    "prometheus: no data: the query returned an empty vector");
		if (r->n_series > 1)
			return ps_diag_set(
			    diag, PS_EMETRIC,
			    "prometheus: the query returned %zu series where one value "
			    "is needed (aggregate them, e.g. with sum(...))",
			    r->n_series);
		p = &r->series[0].points[0];
		break;
	case PROM_RESULT_MATRIX:
	case PROM_RESULT_STRING:
	default:
		return ps_diag_set(diag, PS_EMETRIC,
		                   "prometheus: the query returned a %s where one value is needed",
		                   r->type == PROM_RESULT_MATRIX ? "range vector (matrix)"
		                                                 : "string");
	}
	if (p->no_data)
		return ps_diag_set(diag, PS_ENODATA, "prometheus: no data: the value is %s",
		                   value_word(p->value));
	*out = p->value;
	return PS_OK;
}
