/* prom_template.c -- {{.name}} placeholders in PromQL, expanded with string escaping.
 *
 * One walk over the query serves both the configuration-time check and the expansion: it
 * follows PromQL's lexical context (outside, "double" or 'single' quoted string, `raw` string,
 * # comment) exactly as far as placeholders need: inside a quoted string a backslash escapes
 * the next byte, so \" does not end it. A placeholder is valid only inside a quoted string,
 * where the value is written escaped for that string's body (the rules of Go's
 * strconv.UnquoteChar, which PromQL uses: within '...' a \" is an error and within "..." a \'
 * is, so only the string's own quote is escaped).
 */
#include "prom.h"

#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include "ps_buf.h"
#include "ps_text.h"

/* Longest placeholder text quoted in a message. */
#define PH_QUOTE_MAX 40

static const struct {
	const char *name;
	size_t off; /* of the value in struct prom_vars */
} vars_table[] = {
    {"namespace", offsetof(struct prom_vars, namespace)},
    {"name", offsetof(struct prom_vars, name)},
    {"target", offsetof(struct prom_vars, target)},
    {"kind", offsetof(struct prom_vars, kind)},
    {"metric", offsetof(struct prom_vars, metric)},
};
#define KNOWN_NAMES "namespace, name, target, kind, metric"

void prom_vars_from_target(const struct cfg_target *t, const struct cfg_metric *m,
                           struct prom_vars *out)
{
	out->namespace = t->namespace;
	out->name = t->name;
	out->target = t->ref.name;
	out->kind = t->ref.kind;
	out->metric = m ? m->name : NULL;
}

enum lex {
	LEX_OUT,
	LEX_DOUBLE,  /* "..." */
	LEX_SINGLE,  /* '...' */
	LEX_RAW,     /* `...` */
	LEX_COMMENT, /* # to the end of the line */
};

struct walk {
	const char *q;
	size_t len;
	const struct prom_vars *vars; /* NULL: check only */
	struct ps_buf *out;           /* NULL: check only */
	struct ps_diag *diag;
};

static bool is_ident_start(char ch)
{
	return (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || ch == '_';
}

static bool is_ident(char ch)
{
	return is_ident_start(ch) || (ch >= '0' && ch <= '9');
}

/* Records "<adj> template <placeholder> at <line>:<col><rest>" about the placeholder of
 * <ph_len> bytes at <at> in <diag> and returns <err>. */
static enum ps_err ph_fail(const struct walk *w, enum ps_err err, size_t at, size_t ph_len,
                           const char *adj, const char *rest)
{
	char q[PS_QUOTE_BUF(PH_QUOTE_MAX)];
	size_t line, col;
	ps_text_locate(w->q, w->len, at, &line, &col);
	/* The placeholder as written, without the quotes ps_text_quote() puts around it. */
	ps_text_quote(q, sizeof(q), w->q + at, ph_len, PH_QUOTE_MAX);
	q[strlen(q) - 1] = '\0';
	return ps_diag_set(w->diag, err, "%s%stemplate %s at %zu:%zu%s", adj, *adj ? " " : "",
	                   q + 1, line, col, rest);
}

/* Appends <v> escaped for the body of a PromQL string quoted with <quote>. */
static enum ps_err append_escaped(struct ps_buf *b, const char *v, char quote)
{
	static const char hex[] = "0123456789abcdef";
	enum ps_err err = PS_OK;
	for (const unsigned char *p = (const unsigned char *)v; *p && !err; p++) {
		char esc[5] = {0};
		switch (*p) {
		case '\\':
			memcpy(esc, "\\\\", 2);
			break;
		case '\n':
			memcpy(esc, "\\n", 2);
			break;
		case '\r':
			memcpy(esc, "\\r", 2);
			break;
		case '\t':
			memcpy(esc, "\\t", 2);
			break;
		default:
			if (*p == (unsigned char)quote) {
				esc[0] = '\\';
				esc[1] = quote;
			} else if (*p < 0x20 || *p == 0x7f) {
				esc[0] = '\\';
				esc[1] = 'x';
				esc[2] = hex[*p >> 4];
				esc[3] = hex[*p & 15];
			}
		}
		err = esc[0] ? ps_buf_append_str(b, esc) : ps_buf_append(b, p, 1);
	}
	return err;
}

static enum ps_err out_fail(const struct walk *w, enum ps_err err)
{
	if (err == PS_ETOOBIG)
		return ps_diag_set(w->diag, err, "the expanded query is longer than %zu bytes",
		                   w->out->max);
	return ps_diag_set(w->diag, err, "out of memory expanding the query");
}

/* Handles the placeholder starting at w->q[*i] ("{{") in context <lex>: checks it, and when
 * expanding appends its escaped value. Advances *i past it. */
static enum ps_err placeholder(struct walk *w, size_t *i, enum lex lex)
{
	const char *q = w->q;
	size_t at = *i;
	const char *close = strstr(q + at + 2, "}}");
	if (!close)
		return ph_fail(w, PS_ECONFIG, at, w->len - at, "unterminated",
		               " (no closing \"}}\")");
	size_t ph_len = (size_t)(close + 2 - (q + at));
	size_t j = at + 2;
	while (q[j] == ' ' || q[j] == '\t')
		j++;
	size_t name = j + 1, name_len = 0;
	if (q[j] == '.' && is_ident_start(q[name])) {
		while (is_ident(q[name + name_len]))
			name_len++;
		j = name + name_len;
		while (q[j] == ' ' || q[j] == '\t')
			j++;
	}
	if (name_len == 0 || q + j != close)
		return ph_fail(w, PS_ECONFIG, at, ph_len, "malformed",
		               " (write {{.name}} with a name among " KNOWN_NAMES ")");
	size_t v = 0;
	while (v < PS_ARRAY_LEN(vars_table) && (strlen(vars_table[v].name) != name_len ||
	                                        memcmp(vars_table[v].name, q + name, name_len)))
		v++;
	if (v == PS_ARRAY_LEN(vars_table))
		return ph_fail(w, PS_ECONFIG, at, ph_len, "unknown", " (known: " KNOWN_NAMES ")");
	switch (lex) {
	case LEX_OUT:
		return ph_fail(w, PS_ECONFIG, at, ph_len, "",
		               " is outside a quoted string; write it inside \"...\" (e.g. "
		               "deployment=\"{{.target}}\") so that its value is escaped");
	case LEX_RAW:
		return ph_fail(w, PS_ECONFIG, at, ph_len, "",
		               " is in a `raw` string, which cannot escape its value; use \"...\"");
	case LEX_COMMENT:
		return ph_fail(w, PS_ECONFIG, at, ph_len, "", " is in a # comment");
	case LEX_DOUBLE:
	case LEX_SINGLE:
		break;
	}
	*i = at + ph_len;
	if (!w->out)
		return PS_OK;
	const char *value = *(const char *const *)((const char *)w->vars + vars_table[v].off);
	if (!value)
		return ph_fail(w, PS_EINVAL, at, ph_len, "", " has no value");
	enum ps_err err = append_escaped(w->out, value, lex == LEX_DOUBLE ? '"' : '\'');
	return err ? out_fail(w, err) : PS_OK;
}

/* Walks the whole query; see the file comment. */
static enum ps_err walk(struct walk *w)
{
	const char *q = w->q;
	enum lex lex = LEX_OUT;
	size_t i = 0;
	while (i < w->len) {
		char ch = q[i];
		if (ch == '{' && q[i + 1] == '{') {
			enum ps_err err = placeholder(w, &i, lex);
			if (err)
				return err;
			continue;
		}
		size_t n = 1;
		switch (lex) {
		case LEX_OUT:
			lex = ch == '"'    ? LEX_DOUBLE
			      : ch == '\'' ? LEX_SINGLE
			      : ch == '`'  ? LEX_RAW
			      : ch == '#'  ? LEX_COMMENT
			                   : LEX_OUT;
			break;
		case LEX_DOUBLE:
		case LEX_SINGLE:
			/* An escaped byte can neither end the string nor start a template. */
			if (ch == '\\' && q[i + 1])
				n = 2;
			else if (ch == (lex == LEX_DOUBLE ? '"' : '\''))
				lex = LEX_OUT;
			break;
		case LEX_RAW:
			if (ch == '`')
				lex = LEX_OUT;
			break;
		case LEX_COMMENT:
			if (ch == '\n')
				lex = LEX_OUT;
			break;
		}
		if (w->out) {
			enum ps_err err = ps_buf_append(w->out, q + i, n);
			if (err)
				return out_fail(w, err);
		}
		i += n;
	}
	return PS_OK;
}

enum ps_err prom_template_check(const char *query, struct ps_diag *diag)
{
	PS_ASSERT(query);
	struct walk w = {.q = query, .len = strlen(query), .diag = diag};
	return walk(&w);
}

enum ps_err prom_template_expand(const char *query, const struct prom_vars *vars, char **out,
                                 struct ps_diag *diag)
{
	PS_ASSERT(query && vars && out);
	*out = NULL;
	struct ps_buf b;
	ps_buf_init(&b, PROM_MAX_QUERY);
	struct walk w = {.q = query, .len = strlen(query), .vars = vars, .out = &b, .diag = diag};
	enum ps_err err = walk(&w);
	if (!err) {
		*out = ps_buf_detach(&b);
		if (!*out)
			err = out_fail(&w, PS_ENOMEM);
	}
	ps_buf_release(&b);
	return err;
}
