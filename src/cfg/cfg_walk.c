/* cfg_walk.c -- the generic walker: YAML nodes into structs, as the descriptor table says. */
#include <float.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "cfg_keys.h"
#include "ps_alloc.h"
#include "ps_parse.h"

/* Strings without an upper bound in the table still have one. */
#define STR_MAX_DEFAULT 4096
#define PATH_MAX_LEN 256
#define WHY_MAX 320

static void *at(void *base, size_t off)
{
	return (char *)base + off;
}

static const void *cat(const void *base, size_t off)
{
	return (const char *)base + off;
}

static void set_has(const struct cfg_key *k, void *base)
{
	if (k->has_off)
		*(bool *)at(base, k->has_off - 1) = true;
}

static bool get_has(const struct cfg_key *k, const void *base)
{
	return k->has_off ? *(const bool *)cat(base, k->has_off - 1) : true;
}

static const char *text_of(const yaml_node_t *n)
{
	return (const char *)n->data.scalar.value;
}

static bool is_plain(const yaml_node_t *n)
{
	return n->data.scalar.style == YAML_PLAIN_SCALAR_STYLE ||
	       n->data.scalar.style == YAML_ANY_SCALAR_STYLE;
}

/* A plain empty, "~" or "null" scalar: the key counts as absent, as in Kubernetes. */
static bool is_null(const yaml_node_t *n)
{
	if (!n || n->type != YAML_SCALAR_NODE || !is_plain(n))
		return false;
	const char *s = text_of(n);
	return n->data.scalar.length == 0 || strcmp(s, "~") == 0 || strcmp(s, "null") == 0 ||
	       strcmp(s, "Null") == 0 || strcmp(s, "NULL") == 0;
}

/* <s> in double quotes, escaped, cut after 60 characters. Returns <buf>. */
static char *quote(const char *s, size_t len, char *buf, size_t size)
{
	size_t o = 0;
	buf[o++] = '"';
	for (size_t i = 0; i < len && o + 8 < size; i++) {
		unsigned char ch = (unsigned char)s[i];
		if (i == 60) {
			memcpy(buf + o, "...", 3);
			o += 3;
			break;
		}
		if (ch == '"' || ch == '\\') {
			buf[o++] = '\\';
			buf[o++] = (char)ch;
		} else if (ch < 0x20 || ch == 0x7f) {
			o += (size_t)snprintf(buf + o, size - o, "\\x%02x", ch);
		} else {
			buf[o++] = (char)ch;
		}
	}
	buf[o++] = '"';
	buf[o] = '\0';
	return buf;
}

static char *describe(const yaml_node_t *n, char *buf, size_t size)
{
	if (!n)
		snprintf(buf, size, "nothing");
	else if (n->type == YAML_MAPPING_NODE)
		snprintf(buf, size, "a mapping");
	else if (n->type == YAML_SEQUENCE_NODE)
		snprintf(buf, size, "a sequence");
	else
		quote(text_of(n), n->data.scalar.length, buf, size);
	return buf;
}

/* "A, B or C" from an enum's values. */
static char *enum_list(const struct cfg_enum_val *v, const char *last_sep, char *buf, size_t size)
{
	size_t o = 0;
	buf[0] = '\0';
	for (size_t i = 0; v[i].name && o < size; i++) {
		const char *sep = i == 0 ? "" : v[i + 1].name ? ", " : last_sep;
		int n = snprintf(buf + o, size - o, "%s%s", sep, v[i].name);
		if (n < 0)
			break;
		o += (size_t)n;
	}
	return buf;
}

static const char *expect_text(const struct cfg_key *k, char *buf, size_t size)
{
	switch (k->type) {
	case CFG_T_STRING:
		return "a string";
	case CFG_T_BOOL:
		return "true or false";
	case CFG_T_INT32:
	case CFG_T_INT64:
		return "an integer";
	case CFG_T_DOUBLE:
		return "a number";
	case CFG_T_DURATION:
		return "a duration such as \"30s\" or \"1m30s\"";
	case CFG_T_QUANTITY:
	case CFG_T_QUANTITY_REAL:
		return "a quantity such as \"500m\" or \"2\"";
	case CFG_T_ENUM: {
		char list[256];
		snprintf(buf, size, "one of %s", enum_list(k->values, " or ", list, sizeof(list)));
		return buf;
	}
	case CFG_T_MAP:
		return "a mapping of strings";
	case CFG_T_OBJECT:
		return "a mapping";
	case CFG_T_LIST:
		return "a sequence";
	}
	return "?";
}

/* snprintf for key paths, which are short by construction: cutting one only shortens a
 * message. */
static void pathf(char *out, size_t size, const char *fmt, ...) PS_PRINTF(3, 4);

static void pathf(char *out, size_t size, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(out, size, fmt, ap);
	va_end(ap);
}

static void join(char *out, size_t size, const char *path, const char *name)
{
	if (path[0])
		pathf(out, size, "%s.%s", path, name);
	else
		pathf(out, size, "%s", name);
}

/* ---- errors ---- */

static void walk_verror(struct cfg_walk *w, const yaml_node_t *node, const char *fmt, va_list ap)
    PS_PRINTF(3, 0);

static void walk_verror(struct cfg_walk *w, const yaml_node_t *node, const char *fmt, va_list ap)
{
	char msg[PS_DIAG_MAX], full[PS_DIAG_MAX + 300];
	vsnprintf(msg, sizeof(msg), fmt, ap);
	size_t line = 0, col = 0;
	if (node) {
		line = node->start_mark.line + 1;
		col = node->start_mark.column + 1;
		snprintf(full, sizeof(full), "%s:%zu:%zu: %s", w->file, line, col, msg);
	} else {
		snprintf(full, sizeof(full), "%s: %s", w->file, msg);
	}
	if (cfg_errors_add(w->errs, w->file_index, line, col, full) != PS_OK)
		w->enomem = true;
}

void cfg_walk_error(struct cfg_walk *w, const yaml_node_t *node, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	walk_verror(w, node, fmt, ap);
	va_end(ap);
}

static int key_index(const struct cfg_object *obj, const char *name)
{
	for (size_t i = 0; i < obj->n_keys; i++)
		if (strcmp(obj->keys[i].name, name) == 0)
			return (int)i;
	return -1;
}

const struct cfg_key *cfg_object_key(const struct cfg_object *obj, const char *name)
{
	int i = key_index(obj, name);
	return i < 0 ? NULL : &obj->keys[i];
}

yaml_node_t *cfg_ctx_node(const struct cfg_ctx *c, const char *key, bool value)
{
	int i = key_index(c->obj, key);
	if (i < 0)
		return NULL;
	return value ? c->val_node[i] : c->key_node[i];
}

yaml_node_t *cfg_node_get(const struct cfg_walk *w, yaml_node_t *map, const char *key, bool value)
{
	if (!map || map->type != YAML_MAPPING_NODE)
		return NULL;
	for (yaml_node_pair_t *p = map->data.mapping.pairs.start; p < map->data.mapping.pairs.top;
	     p++) {
		yaml_node_t *k = yaml_document_get_node(w->doc, p->key);
		if (k && k->type == YAML_SCALAR_NODE && strcmp(text_of(k), key) == 0)
			return value ? yaml_document_get_node(w->doc, p->value) : k;
	}
	return NULL;
}

void cfg_ctx_error(struct cfg_ctx *c, const char *key, const char *fmt, ...)
{
	char path[PATH_MAX_LEN], msg[PS_DIAG_MAX];
	yaml_node_t *node = c->node;
	if (key) {
		int i = key_index(c->obj, key);
		PS_ASSERT(i >= 0);
		if (c->val_node[i])
			node = c->val_node[i];
		else if (c->key_node[i])
			node = c->key_node[i];
		join(path, sizeof(path), c->path, key);
	} else {
		snprintf(path, sizeof(path), "%s", c->path);
	}
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	cfg_walk_error(c->w, node, "%s: %s", path, msg);
}

/* "Autoscaler spec.metrics[0]" */
static const char *where(const struct cfg_ctx *c, char *buf, size_t size)
{
	if (c->path[0])
		snprintf(buf, size, "%s %s", c->w->kind, c->path);
	else
		snprintf(buf, size, "%s", c->w->kind);
	return buf;
}

/* ---- suggestions ---- */

static char lower(char c)
{
	return (c >= 'A' && c <= 'Z') ? (char)(c - 'A' + 'a') : c;
}

/* Optimal-string-alignment distance, case-insensitive; <max>+1 when the strings are too long. */
static size_t distance(const char *a, const char *b, size_t max)
{
	enum { N = 64 };
	size_t la = strlen(a), lb = strlen(b);
	if (la >= N || lb >= N)
		return max + 1;
	size_t d[N][N];
	for (size_t i = 0; i <= la; i++)
		d[i][0] = i;
	for (size_t j = 0; j <= lb; j++)
		d[0][j] = j;
	for (size_t i = 1; i <= la; i++) {
		for (size_t j = 1; j <= lb; j++) {
			size_t cost = lower(a[i - 1]) == lower(b[j - 1]) ? 0 : 1;
			size_t v = d[i - 1][j] + 1;
			if (d[i][j - 1] + 1 < v)
				v = d[i][j - 1] + 1;
			if (d[i - 1][j - 1] + cost < v)
				v = d[i - 1][j - 1] + cost;
			if (i > 1 && j > 1 && lower(a[i - 1]) == lower(b[j - 2]) &&
			    lower(a[i - 2]) == lower(b[j - 1]) && d[i - 2][j - 2] + 1 < v)
				v = d[i - 2][j - 2] + 1;
			d[i][j] = v;
		}
	}
	return d[la][lb];
}

const char *cfg_suggest(const char *s, const char *const *cands, size_t n)
{
	size_t len = strlen(s);
	/* A third of the word may be wrong, at most 3 edits: "minReplica" -> "minReplicas". */
	size_t max = len / 3 < 1 ? 1 : len / 3 > 3 ? 3 : len / 3;
	const char *best = NULL;
	size_t best_d = max + 1;
	for (size_t i = 0; i < n; i++) {
		size_t d = distance(s, cands[i], max);
		if (strcmp(s, cands[i]) != 0 && d < best_d) {
			best = cands[i];
			best_d = d;
		}
	}
	return best;
}

static const char *suggest_enum(const struct cfg_enum_val *v, const char *s)
{
	const char *cands[16];
	size_t n = 0;
	for (; v->name && n < PS_ARRAY_LEN(cands); v++)
		cands[n++] = v->name;
	return cfg_suggest(s, cands, n);
}

/* ---- ranges ---- */

static void fmt_num(const struct cfg_key *k, int64_t v, char *buf, size_t size)
{
	if (k->type == CFG_T_DURATION)
		ps_format_duration_ms(v, buf, size);
	else if (k->type == CFG_T_QUANTITY)
		ps_format_quantity_milli(v, buf, size);
	else
		snprintf(buf, size, "%" PRId64, v);
}

char *cfg_key_range(const struct cfg_key *k, char *buf, size_t size)
{
	char a[64], b[64];
	buf[0] = '\0';
	switch (k->type) {
	case CFG_T_INT32:
	case CFG_T_INT64:
	case CFG_T_DURATION:
	case CFG_T_QUANTITY:
		fmt_num(k, k->lo, a, sizeof(a));
		fmt_num(k, k->hi, b, sizeof(b));
		if (k->hi == 0 && k->lo == 1 && k->type == CFG_T_QUANTITY)
			snprintf(buf, size, "> 0");
		else if (k->hi == 0)
			snprintf(buf, size, ">= %s", a);
		else
			snprintf(buf, size, "%s..%s", a, b);
		break;
	case CFG_T_DOUBLE:
	case CFG_T_QUANTITY_REAL: {
		const char *lo_op = (k->flags & CFG_F_LO_EXCL) ? "> " : ">= ";
		const char *hi_op = (k->flags & CFG_F_HI_EXCL) ? "< " : "<= ";
		if (k->dhi == DBL_MAX)
			snprintf(buf, size, "%s%g", lo_op, k->dlo);
		else if (!(k->flags & (CFG_F_LO_EXCL | CFG_F_HI_EXCL)))
			snprintf(buf, size, "%g..%g", k->dlo, k->dhi);
		else
			snprintf(buf, size, "%s%g, %s%g", lo_op, k->dlo, hi_op, k->dhi);
		break;
	}
	case CFG_T_STRING:
		if (k->check && k->hi)
			snprintf(buf, size, "%s, at most %" PRId64 " characters", k->check->what,
			         k->hi);
		else if (k->check)
			snprintf(buf, size, "%s", k->check->what);
		else if (k->lo == 1 && k->hi)
			snprintf(buf, size, "1..%" PRId64 " characters", k->hi);
		else if (k->lo == 1)
			snprintf(buf, size, "non-empty");
		break;
	case CFG_T_ENUM:
		enum_list(k->values, ", ", buf, size);
		break;
	case CFG_T_BOOL:
		snprintf(buf, size, "true, false");
		break;
	case CFG_T_LIST:
		snprintf(buf, size, "%" PRId64 "..%" PRId64 " items", k->lo, k->hi);
		break;
	case CFG_T_MAP:
		snprintf(buf, size, "at most %" PRId64 " entries; names: %s", k->hi,
		         k->check ? k->check->what : "any");
		break;
	case CFG_T_OBJECT:
		break;
	}
	return buf;
}

/* ---- scalar conversion ---- */

static bool parse_bool(const char *s, bool *out)
{
	static const char *const yes[] = {"true", "True", "TRUE"};
	static const char *const no[] = {"false", "False", "FALSE"};
	for (size_t i = 0; i < 3; i++) {
		if (strcmp(s, yes[i]) == 0)
			return *out = true, true;
		if (strcmp(s, no[i]) == 0)
			return *out = false, true;
	}
	return false;
}

static bool all_digits(const char *s)
{
	if (!*s)
		return false;
	for (; *s; s++)
		if (*s < '0' || *s > '9')
			return false;
	return true;
}

static enum ps_err check_int_range(const struct cfg_key *k, int64_t v, const char *s, char *why,
                                   size_t size)
{
	int64_t hi = k->hi;
	if (hi == 0)
		hi = k->type == CFG_T_INT32 ? INT32_MAX : INT64_MAX;
	if (v >= k->lo && v <= hi)
		return PS_OK;
	char range[96];
	if (k->hi == 0 && v > hi) {
		snprintf(why, size, "%s is too large (at most %" PRId64 ")", s, hi);
		return PS_ERANGE;
	}
	snprintf(why, size, "%s is out of range (%s)", s, cfg_key_range(k, range, sizeof(range)));
	return PS_ERANGE;
}

static enum ps_err check_double_range(const struct cfg_key *k, double v, const char *s, char *why,
                                      size_t size)
{
	bool lo_ok = (k->flags & CFG_F_LO_EXCL) ? v > k->dlo : v >= k->dlo;
	bool hi_ok = (k->flags & CFG_F_HI_EXCL) ? v < k->dhi : v <= k->dhi;
	if (lo_ok && hi_ok)
		return PS_OK;
	char range[96];
	snprintf(why, size, "%s is out of range (%s)", s, cfg_key_range(k, range, sizeof(range)));
	return PS_ERANGE;
}

static enum ps_err convert_string(const struct cfg_key *k, const char *s, size_t len, void *dst,
                                  char *why, size_t size)
{
	int64_t hi = k->hi ? k->hi : STR_MAX_DEFAULT;
	char q[96];
	if ((int64_t)len < k->lo) {
		snprintf(why, size, "must not be empty");
		return PS_ERANGE;
	}
	if ((int64_t)len > hi) {
		snprintf(why, size, "is %zu characters long, at most %" PRId64 " allowed", len, hi);
		return PS_ERANGE;
	}
	if (k->check && !k->check->ok(s)) {
		snprintf(why, size, "invalid value %s (expected a %s)", quote(s, len, q, sizeof(q)),
		         k->check->what);
		return PS_EPARSE;
	}
	char *copy = ps_strndup(s, len);
	if (!copy)
		return PS_ENOMEM;
	*(char **)dst = copy;
	return PS_OK;
}

enum ps_err cfg_key_convert(const struct cfg_key *k, const char *s, size_t len, bool plain,
                            void *dst, char *why, size_t size)
{
	char q[96];
	if (memchr(s, '\0', len)) {
		snprintf(why, size, "must not contain a NUL character");
		return PS_EPARSE;
	}
	quote(s, len, q, sizeof(q));
	switch (k->type) {
	case CFG_T_STRING:
		return convert_string(k, s, len, dst, why, size);
	case CFG_T_BOOL: {
		bool b;
		if (!plain || !parse_bool(s, &b)) {
			snprintf(why, size, "expected true or false, got %s", q);
			return PS_EPARSE;
		}
		*(bool *)dst = b;
		return PS_OK;
	}
	case CFG_T_INT32:
	case CFG_T_INT64: {
		int64_t v;
		if (!plain) {
			snprintf(why, size, "expected an integer, got the string %s", q);
			return PS_EPARSE;
		}
		enum ps_err prc = ps_parse_int64(s, &v, NULL);
		if (prc == PS_ERANGE) {
			snprintf(why, size, "%s is too large", q);
			return PS_ERANGE;
		}
		if (prc != PS_OK) {
			snprintf(why, size, "expected an integer, got %s", q);
			return PS_EPARSE;
		}
		enum ps_err rc = check_int_range(k, v, s, why, size);
		if (rc)
			return rc;
		if (k->type == CFG_T_INT32)
			*(int32_t *)dst = (int32_t)v;
		else
			*(int64_t *)dst = v;
		return PS_OK;
	}
	case CFG_T_DOUBLE: {
		double v;
		if (!plain) {
			snprintf(why, size, "expected a number, got the string %s", q);
			return PS_EPARSE;
		}
		enum ps_err prc = ps_parse_double(s, &v, NULL);
		if (prc == PS_ERANGE) {
			snprintf(why, size, "%s is out of range", q);
			return PS_ERANGE;
		}
		if (prc != PS_OK) {
			snprintf(why, size, "expected a number, got %s", q);
			return PS_EPARSE;
		}
		enum ps_err rc = check_double_range(k, v, s, why, size);
		if (rc)
			return rc;
		*(double *)dst = v;
		return PS_OK;
	}
	case CFG_T_DURATION: {
		int64_t v;
		enum ps_err rc = ps_parse_duration_ms(s, &v, NULL);
		if (rc == PS_ERANGE) {
			snprintf(why, size, "duration %s is too long", q);
			return rc;
		}
		if (rc != PS_OK && all_digits(s)) {
			snprintf(why, size, "invalid duration %s (a unit is needed, e.g. \"%ss\")",
			         q, s);
			return PS_EPARSE;
		}
		if (rc != PS_OK) {
			snprintf(why, size,
			         "invalid duration %s (expected a number and a unit: ms, s, m, h "
			         "or d, e.g. \"1m30s\")",
			         q);
			return PS_EPARSE;
		}
		rc = check_int_range(k, v, s, why, size);
		if (rc)
			return rc;
		*(int64_t *)dst = v;
		return PS_OK;
	}
	case CFG_T_QUANTITY: {
		int64_t v;
		enum ps_err rc = ps_parse_quantity_milli(s, &v, NULL);
		if (rc == PS_ERANGE) {
			snprintf(why, size, "quantity %s is too large", q);
			return rc;
		}
		if (rc != PS_OK) {
			snprintf(
			    why, size,
			    "invalid quantity %s (expected e.g. \"100\", \"500m\", \"1.5k\" or "
			    "\"2Gi\")",
			    q);
			return PS_EPARSE;
		}
		rc = check_int_range(k, v, s, why, size);
		if (rc)
			return rc;
		*(int64_t *)dst = v;
		return PS_OK;
	}
	case CFG_T_QUANTITY_REAL: {
		double v;
		int64_t milli;
		if (ps_parse_double(s, &v, NULL) != PS_OK) {
			enum ps_err rc = ps_parse_quantity_milli(s, &milli, NULL);
			if (rc != PS_OK) {
				snprintf(why, size,
				         "invalid quantity %s (expected a number or a quantity "
				         "such as \"50m\")",
				         q);
				return PS_EPARSE;
			}
			v = (double)milli / 1000.0;
		}
		enum ps_err rc = check_double_range(k, v, s, why, size);
		if (rc)
			return rc;
		*(double *)dst = v;
		return PS_OK;
	}
	case CFG_T_ENUM: {
		for (const struct cfg_enum_val *v = k->values; v->name; v++) {
			if (strcmp(v->name, s) == 0) {
				*(int *)dst = v->value;
				return PS_OK;
			}
		}
		char list[256];
		const char *sug = suggest_enum(k->values, s);
		int n = snprintf(why, size, "invalid value %s (expected %s)", q,
		                 enum_list(k->values, " or ", list, sizeof(list)));
		if (sug && n >= 0 && (size_t)n < size)
			snprintf(why + n, size - (size_t)n, " (did you mean \"%s\"?)", sug);
		return PS_EPARSE;
	}
	case CFG_T_MAP:
	case CFG_T_OBJECT:
	case CFG_T_LIST:
		break;
	}
	/* The walker only converts scalar types. */
	PS_ASSERT(k->type != CFG_T_MAP && k->type != CFG_T_OBJECT && k->type != CFG_T_LIST);
	return PS_EINVAL;
}

/* ---- the walk ---- */

static void type_error(struct cfg_walk *w, const struct cfg_key *k, const yaml_node_t *n,
                       const char *path)
{
	char exp[300], got[96];
	cfg_walk_error(w, n, "%s: expected %s, got %s", path, expect_text(k, exp, sizeof(exp)),
	               describe(n, got, sizeof(got)));
}

static bool stop(const struct cfg_walk *w)
{
	return w->enomem || cfg_errors_truncated(w->errs);
}

static void walk_list(struct cfg_ctx *c, const struct cfg_key *k, yaml_node_t *vn, const char *path)
{
	struct cfg_walk *w = c->w;
	if (vn->type != YAML_SEQUENCE_NODE) {
		type_error(w, k, vn, path);
		return;
	}
	size_t n = (size_t)(vn->data.sequence.items.top - vn->data.sequence.items.start);
	if ((int64_t)n > k->hi) {
		cfg_walk_error(w, vn, "%s: at most %" PRId64 " items allowed, got %zu", path, k->hi,
		               n);
		return;
	}
	if ((int64_t)n < k->lo) {
		cfg_walk_error(w, vn, "%s: must not be empty", path);
		return;
	}
	void *dst = at(c->base, k->off);
	const struct cfg_object *child = k->child;
	set_has(k, c->base);
	/* The count first: every item is released, also when the walk stops half way. */
	*(size_t *)at(c->base, k->count_off) = n;
	yaml_node_t *items[ENG_MAX_METRICS > ENG_MAX_POLICIES ? ENG_MAX_METRICS : ENG_MAX_POLICIES];
	PS_ASSERT(n <= PS_ARRAY_LEN(items));
	for (size_t i = 0; i < n && !stop(w); i++) {
		char ipath[PATH_MAX_LEN];
		pathf(ipath, sizeof(ipath), "%s[%zu]", path, i);
		yaml_node_t *item =
		    yaml_document_get_node(w->doc, vn->data.sequence.items.start[i]);
		items[i] = item;
		if (!item || item->type != YAML_MAPPING_NODE) {
			char got[96];
			cfg_walk_error(w, item ? item : vn, "%s: expected a mapping, got %s", ipath,
			               describe(item, got, sizeof(got)));
			items[i] = NULL;
			continue;
		}
		cfg_walk_object(w, child, at(dst, i * child->size), item, ipath);
	}
	if (!child->unique || stop(w))
		return;
	size_t uoff = cfg_object_key(child, child->unique)->off;
	for (size_t j = 1; j < n; j++) {
		const char *vj = *(char *const *)at(dst, j * child->size + uoff);
		for (size_t i = 0; vj && i < j; i++) {
			const char *vi = *(char *const *)at(dst, i * child->size + uoff);
			if (vi && strcmp(vi, vj) == 0) {
				char q[96];
				cfg_walk_error(w, cfg_node_get(w, items[j], child->unique, true),
				               "%s[%zu].%s: %s is already used by %s[%zu]", path, j,
				               child->unique, quote(vj, strlen(vj), q, sizeof(q)),
				               path, i);
				break;
			}
		}
	}
}

static bool has_control(const char *s)
{
	for (; *s; s++)
		if (((unsigned char)*s < 0x20 && *s != '\t') || *s == 0x7f)
			return true;
	return false;
}

static void walk_map(struct cfg_ctx *c, const struct cfg_key *k, yaml_node_t *vn, const char *path)
{
	struct cfg_walk *w = c->w;
	if (vn->type != YAML_MAPPING_NODE) {
		type_error(w, k, vn, path);
		return;
	}
	size_t n = (size_t)(vn->data.mapping.pairs.top - vn->data.mapping.pairs.start);
	if ((int64_t)n > k->hi) {
		cfg_walk_error(w, vn, "%s: at most %" PRId64 " entries allowed, got %zu", path,
		               k->hi, n);
		return;
	}
	if (n == 0)
		return;
	struct cfg_headers *m = at(c->base, k->off);
	m->v = ps_calloc(n, sizeof(*m->v));
	if (!m->v) {
		w->enomem = true;
		return;
	}
	for (size_t i = 0; i < n && !stop(w); i++) {
		yaml_node_pair_t *p = &vn->data.mapping.pairs.start[i];
		yaml_node_t *kn = yaml_document_get_node(w->doc, p->key);
		yaml_node_t *val = yaml_document_get_node(w->doc, p->value);
		char q[96], got[96], epath[PATH_MAX_LEN];
		if (!kn || kn->type != YAML_SCALAR_NODE ||
		    memchr(text_of(kn), '\0', kn->data.scalar.length) ||
		    (k->check && !k->check->ok(text_of(kn)))) {
			cfg_walk_error(w, kn ? kn : vn, "%s: invalid name %s (expected a %s)", path,
			               describe(kn, got, sizeof(got)),
			               k->check ? k->check->what : "string");
			continue;
		}
		const char *name = text_of(kn);
		join(epath, sizeof(epath), path, name);
		bool dup = false;
		for (size_t j = 0; j < m->n && !dup; j++)
			dup = strcasecmp(m->v[j].name, name) == 0;
		if (dup) {
			cfg_walk_error(w, kn, "%s: duplicate name %s", path,
			               quote(name, strlen(name), q, sizeof(q)));
			continue;
		}
		if (!val || val->type != YAML_SCALAR_NODE || is_null(val)) {
			cfg_walk_error(w, val ? val : kn, "%s: expected a string, got %s", epath,
			               describe(val, got, sizeof(got)));
			continue;
		}
		if (memchr(text_of(val), '\0', val->data.scalar.length) ||
		    has_control(text_of(val))) {
			cfg_walk_error(w, val, "%s: must not contain control characters", epath);
			continue;
		}
		char *nm = ps_strdup(name);
		char *vv = ps_strdup(text_of(val));
		if (!nm || !vv) {
			ps_free(nm);
			ps_free(vv);
			w->enomem = true;
			return;
		}
		m->v[m->n].name = nm;
		m->v[m->n].value = vv;
		m->n++;
	}
}

static void walk_value(struct cfg_ctx *c, const struct cfg_key *k, yaml_node_t *vn)
{
	struct cfg_walk *w = c->w;
	char path[PATH_MAX_LEN];
	join(path, sizeof(path), c->path, k->name);
	if (k->flags & CFG_F_NOSTORE)
		return;
	void *dst = at(c->base, k->off);
	switch (k->type) {
	case CFG_T_OBJECT:
		if (vn->type != YAML_MAPPING_NODE) {
			type_error(w, k, vn, path);
			return;
		}
		set_has(k, c->base);
		cfg_walk_object(w, k->child, dst, vn, path);
		return;
	case CFG_T_LIST:
		walk_list(c, k, vn, path);
		return;
	case CFG_T_MAP:
		walk_map(c, k, vn, path);
		return;
	default:
		break;
	}
	if (vn->type != YAML_SCALAR_NODE) {
		type_error(w, k, vn, path);
		return;
	}
	char why[WHY_MAX];
	enum ps_err rc = cfg_key_convert(k, text_of(vn), vn->data.scalar.length, is_plain(vn), dst,
	                                 why, sizeof(why));
	if (rc == PS_ENOMEM)
		w->enomem = true;
	else if (rc != PS_OK)
		cfg_walk_error(w, vn, "%s: %s", path, why);
	else
		set_has(k, c->base);
}

/* A key without a value: its default, or an error when it is required. */
static void absent_key(struct cfg_ctx *c, size_t idx)
{
	const struct cfg_key *k = &c->obj->keys[idx];
	struct cfg_walk *w = c->w;
	char wh[PATH_MAX_LEN + 32];
	if (k->flags & CFG_F_NOSTORE)
		return;
	/* In an absent object only the defaults apply: its parent already reported it if it
	 * was required. */
	if ((k->flags & CFG_F_REQUIRED) && c->node) {
		if (c->key_node[idx])
			cfg_walk_error(w, c->key_node[idx],
			               "missing value for required key \"%s\" in %s", k->name,
			               where(c, wh, sizeof(wh)));
		else
			cfg_walk_error(w, c->node, "missing required key \"%s\" in %s", k->name,
			               where(c, wh, sizeof(wh)));
		return;
	}
	void *dst = at(c->base, k->off);
	if (k->type == CFG_T_OBJECT) {
		char path[PATH_MAX_LEN];
		join(path, sizeof(path), c->path, k->name);
		cfg_walk_object(w, k->child, dst, NULL, path);
		return;
	}
	if (!k->def)
		return;
	char why[WHY_MAX];
	enum ps_err rc = cfg_key_convert(k, k->def, strlen(k->def), true, dst, why, sizeof(why));
	if (rc == PS_ENOMEM)
		w->enomem = true;
	else
		PS_ASSERT(rc == PS_OK); /* the table's own defaults; a test checks each */
}

void cfg_walk_object(struct cfg_walk *w, const struct cfg_object *obj, void *base,
                     yaml_node_t *node, const char *path)
{
	struct cfg_ctx c = {.w = w, .obj = obj, .base = base, .node = node, .path = path};
	size_t before = cfg_errors_count(w->errs);
	PS_ASSERT(obj->n_keys <= CFG_MAX_KEYS);
	PS_ASSERT(!node || node->type == YAML_MAPPING_NODE);

	for (yaml_node_pair_t *p = node ? node->data.mapping.pairs.start : NULL;
	     node && p < node->data.mapping.pairs.top; p++) {
		if (stop(w))
			return;
		yaml_node_t *kn = yaml_document_get_node(w->doc, p->key);
		yaml_node_t *vn = yaml_document_get_node(w->doc, p->value);
		char wh[PATH_MAX_LEN + 32], q[96], got[96];
		if (!kn || kn->type != YAML_SCALAR_NODE) {
			cfg_walk_error(w, kn ? kn : node, "expected a string key in %s, got %s",
			               where(&c, wh, sizeof(wh)), describe(kn, got, sizeof(got)));
			continue;
		}
		const char *name = text_of(kn);
		quote(name, kn->data.scalar.length, q, sizeof(q));
		int idx = key_index(obj, name);
		if (idx < 0) {
			const char *cands[CFG_MAX_KEYS];
			for (size_t i = 0; i < obj->n_keys; i++)
				cands[i] = obj->keys[i].name;
			const char *sug = cfg_suggest(name, cands, obj->n_keys);
			if (sug)
				cfg_walk_error(w, kn, "unknown key %s in %s (did you mean \"%s\"?)",
				               q, where(&c, wh, sizeof(wh)), sug);
			else
				cfg_walk_error(w, kn, "unknown key %s in %s", q,
				               where(&c, wh, sizeof(wh)));
			continue;
		}
		if (c.key_node[idx]) {
			cfg_walk_error(w, kn, "duplicate key %s in %s (first at line %zu)", q,
			               where(&c, wh, sizeof(wh)),
			               c.key_node[idx]->start_mark.line + 1);
			continue;
		}
		c.key_node[idx] = kn;
		if (!vn || is_null(vn))
			continue;
		c.val_node[idx] = vn;
		walk_value(&c, &obj->keys[idx], vn);
	}
	for (size_t i = 0; i < obj->n_keys && !stop(w); i++)
		if (!c.val_node[i])
			absent_key(&c, i);
	if (node && obj->validate && !stop(w) && cfg_errors_count(w->errs) == before)
		obj->validate(&c);
}

/* ---- release and compare ---- */

void cfg_object_release(const struct cfg_object *obj, void *base)
{
	for (size_t i = 0; i < obj->n_keys; i++) {
		const struct cfg_key *k = &obj->keys[i];
		void *dst = at(base, k->off);
		if (k->flags & CFG_F_NOSTORE)
			continue;
		switch (k->type) {
		case CFG_T_STRING:
			ps_free(*(char **)dst);
			*(char **)dst = NULL;
			break;
		case CFG_T_OBJECT:
			cfg_object_release(k->child, dst);
			break;
		case CFG_T_LIST: {
			size_t n = *(size_t *)at(base, k->count_off);
			for (size_t j = 0; j < n; j++)
				cfg_object_release(k->child, at(dst, j * k->child->size));
			break;
		}
		case CFG_T_MAP: {
			struct cfg_headers *m = dst;
			for (size_t j = 0; j < m->n; j++) {
				ps_free(m->v[j].name);
				ps_free(m->v[j].value);
			}
			ps_free(m->v);
			m->v = NULL;
			m->n = 0;
			break;
		}
		default:
			break;
		}
	}
}

static bool str_eq(const char *a, const char *b)
{
	return (!a && !b) || (a && b && strcmp(a, b) == 0);
}

static bool value_equal(const struct cfg_key *k, const void *a, const void *b)
{
	const void *x = cat(a, k->off), *y = cat(b, k->off);
	switch (k->type) {
	case CFG_T_STRING:
		return str_eq(*(char *const *)x, *(char *const *)y);
	case CFG_T_BOOL:
		return *(const bool *)x == *(const bool *)y;
	case CFG_T_INT32:
		return *(const int32_t *)x == *(const int32_t *)y;
	case CFG_T_INT64:
	case CFG_T_DURATION:
	case CFG_T_QUANTITY:
		return *(const int64_t *)x == *(const int64_t *)y;
	case CFG_T_DOUBLE:
	case CFG_T_QUANTITY_REAL:
		return *(const double *)x == *(const double *)y;
	case CFG_T_ENUM:
		return *(const int *)x == *(const int *)y;
	case CFG_T_MAP: {
		const struct cfg_headers *m = x, *n = y;
		if (m->n != n->n)
			return false;
		for (size_t i = 0; i < m->n; i++)
			if (!str_eq(m->v[i].name, n->v[i].name) ||
			    !str_eq(m->v[i].value, n->v[i].value))
				return false;
		return true;
	}
	case CFG_T_OBJECT:
	case CFG_T_LIST:
		break;
	}
	return false;
}

static bool object_equal(const struct cfg_object *obj, const void *a, const void *b,
                         bool static_only, bool under_static, const char *prefix, char *out,
                         size_t size)
{
	for (size_t i = 0; i < obj->n_keys; i++) {
		const struct cfg_key *k = &obj->keys[i];
		bool st = under_static || (k->flags & CFG_F_STATIC);
		char path[PATH_MAX_LEN];
		if (k->flags & CFG_F_NOSTORE)
			continue;
		join(path, sizeof(path), prefix, k->name);
		bool same = true;
		if (!static_only || st)
			same = get_has(k, a) == get_has(k, b);
		if (same && k->type == CFG_T_OBJECT) {
			if (!object_equal(k->child, cat(a, k->off), cat(b, k->off), static_only, st,
			                  path, out, size))
				return false;
			continue;
		}
		if (same && k->type == CFG_T_LIST) {
			size_t na = *(const size_t *)cat(a, k->count_off);
			size_t nb = *(const size_t *)cat(b, k->count_off);
			if (static_only && !st)
				continue;
			same = na == nb;
			for (size_t j = 0; same && j < na; j++)
				same = object_equal(k->child, cat(a, k->off + j * k->child->size),
				                    cat(b, k->off + j * k->child->size), false, st,
				                    path, NULL, 0);
		} else if (same && (!static_only || st)) {
			same = value_equal(k, a, b);
		}
		if (!same) {
			if (out)
				snprintf(out, size, "%s", path);
			return false;
		}
	}
	return true;
}

bool cfg_object_equal(const struct cfg_object *obj, const void *a, const void *b, bool static_only,
                      char *path, size_t size)
{
	return object_equal(obj, a, b, static_only, false, "", path, size);
}
