/* cfg_render.c -- text from the descriptor table: the resolved dump and the reference tables. */
#include <float.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cfg_keys.h"
#include "ps_alloc.h"
#include "ps_buf.h"
#include "ps_parse.h"

/* Caps of the rendered texts: far above what a valid configuration produces. */
#define DUMP_MAX ((size_t)64 << 20)
#define REFERENCE_MAX ((size_t)1 << 20)

/* ---- output: a capped ps_buf with a sticky error ---- */

struct out {
	struct ps_buf b;
	enum ps_err err;
};

static void out_put(struct out *o, const char *s, size_t n)
{
	if (o->err == PS_OK)
		o->err = ps_buf_append(&o->b, s, n);
}

static void out_puts(struct out *o, const char *s)
{
	out_put(o, s, strlen(s));
}

static void out_printf(struct out *o, const char *fmt, ...) PS_PRINTF(2, 3);

static void out_printf(struct out *o, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	if (o->err == PS_OK)
		o->err = ps_buf_vappendf(&o->b, fmt, ap);
	va_end(ap);
}

/* The text, owned, or NULL after any failure. */
static char *out_take(struct out *o)
{
	char *s = o->err == PS_OK ? ps_buf_detach(&o->b) : NULL;
	ps_buf_release(&o->b);
	return s;
}

/* ---- values as YAML ---- */

static const void *cat(const void *base, size_t off)
{
	return (const char *)base + off;
}

static bool get_has(const struct cfg_key *k, const void *base)
{
	return k->has_off ? *(const bool *)cat(base, k->has_off - 1) : true;
}

static bool plain_safe(const char *s)
{
	static const char *const reserved[] = {"null",  "Null", "NULL",  "~",    "true",
	                                       "false", "True", "False", "TRUE", "FALSE"};
	if (!*s || *s == '-' || *s == '.')
		return false;
	for (size_t i = 0; i < PS_ARRAY_LEN(reserved); i++)
		if (strcmp(s, reserved[i]) == 0)
			return false;
	for (const char *p = s; *p; p++) {
		char c = *p;
		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		      c == '.' || c == '_' || c == '/' || c == '-'))
			return false;
	}
	return true;
}

static void put_yaml_string(struct out *b, const char *s)
{
	if (plain_safe(s)) {
		out_puts(b, s);
		return;
	}
	out_puts(b, "\"");
	for (const char *p = s; *p; p++) {
		unsigned char c = (unsigned char)*p;
		if (c == '"' || c == '\\')
			out_printf(b, "\\%c", c);
		else if (c == '\n')
			out_puts(b, "\\n");
		else if (c == '\t')
			out_puts(b, "\\t");
		else if (c < 0x20 || c == 0x7f)
			out_printf(b, "\\x%02x", c);
		else
			out_put(b, p, 1);
	}
	out_puts(b, "\"");
}

/* The shortest form that reads back as the same double; whole numbers without an exponent. */
static void put_double(struct out *b, double v)
{
	char buf[64];
	if (v == (double)(int64_t)v && v > -1e15 && v < 1e15) {
		out_printf(b, "%" PRId64, (int64_t)v);
		return;
	}
	for (int prec = 1; prec <= 17; prec++) {
		snprintf(buf, sizeof(buf), "%.*g", prec, v);
		if (strtod(buf, NULL) == v)
			break;
	}
	out_puts(b, buf);
}

static const char *enum_value_name(const struct cfg_key *k, int v)
{
	for (const struct cfg_enum_val *e = k->values; e->name; e++)
		if (e->value == v)
			return e->name;
	return "?";
}

static void put_scalar(struct out *b, const struct cfg_key *k, const void *base)
{
	const void *p = cat(base, k->off);
	char buf[64];
	switch (k->type) {
	case CFG_T_STRING:
		put_yaml_string(b, *(char *const *)p);
		break;
	case CFG_T_BOOL:
		out_puts(b, *(const bool *)p ? "true" : "false");
		break;
	case CFG_T_INT32:
		out_printf(b, "%" PRId32, *(const int32_t *)p);
		break;
	case CFG_T_INT64:
		out_printf(b, "%" PRId64, *(const int64_t *)p);
		break;
	case CFG_T_DOUBLE:
	case CFG_T_QUANTITY_REAL:
		put_double(b, *(const double *)p);
		break;
	case CFG_T_DURATION:
		out_puts(b, ps_format_duration_ms(*(const int64_t *)p, buf, sizeof(buf)));
		break;
	case CFG_T_QUANTITY:
		put_yaml_string(b, ps_format_quantity_milli(*(const int64_t *)p, buf, sizeof(buf)));
		break;
	case CFG_T_ENUM:
		put_yaml_string(b, enum_value_name(k, *(const int *)p));
		break;
	case CFG_T_MAP:
	case CFG_T_OBJECT:
	case CFG_T_LIST:
		break;
	}
}

static void indent(struct out *b, int n)
{
	for (int i = 0; i < n; i++)
		out_puts(b, " ");
}

/* True when <k> has nothing to show at <base>: absent, a NULL string, an empty list or map. */
static bool key_empty(const struct cfg_key *k, const void *base)
{
	const void *p = cat(base, k->off);
	if (!get_has(k, base) && !(k->flags & CFG_F_DERIVED))
		return true;
	switch (k->type) {
	case CFG_T_STRING:
		return *(char *const *)p == NULL;
	case CFG_T_MAP:
		return ((const struct cfg_headers *)p)->n == 0;
	case CFG_T_LIST:
		return *(const size_t *)cat(base, k->count_off) == 0;
	default:
		return false;
	}
}

static bool object_blank(const struct cfg_object *obj, const void *base)
{
	for (size_t i = 0; i < obj->n_keys; i++) {
		const struct cfg_key *k = &obj->keys[i];
		if (k->flags & CFG_F_NOSTORE)
			continue;
		if (!key_empty(k, base) || k->unset_doc)
			return false;
	}
	return true;
}

/* Writes the keys of <obj> at <base> indented by <ind>. With *<dash>, the first key line
 * opens a list item ("- " in the two columns before <ind>). */
static void dump_object(struct out *b, const struct cfg_object *obj, const void *base, int ind,
                        bool *dash)
{
	for (size_t i = 0; i < obj->n_keys; i++) {
		const struct cfg_key *k = &obj->keys[i];
		const void *p = cat(base, k->off);
		if (k->flags & CFG_F_NOSTORE)
			continue;
		if (key_empty(k, base)) {
			if (k->unset_doc) {
				indent(b, ind);
				out_printf(b, "# %s: not set (%s)\n", k->name, k->unset_doc);
			}
			continue;
		}
		/* An always-present object with nothing to show is left out. */
		if (k->type == CFG_T_OBJECT && !k->has_off && !*dash && object_blank(k->child, p))
			continue;
		if (*dash) {
			indent(b, ind - 2);
			out_puts(b, "- ");
		} else {
			indent(b, ind);
		}
		*dash = false;
		out_printf(b, "%s:", k->name);
		switch (k->type) {
		case CFG_T_OBJECT: {
			bool no = false;
			if (object_blank(k->child, p)) {
				out_puts(b, " {}\n");
				break;
			}
			out_puts(b, "\n");
			dump_object(b, k->child, p, ind + 2, &no);
			break;
		}
		case CFG_T_LIST: {
			out_puts(b, "\n");
			size_t n = *(const size_t *)cat(base, k->count_off);
			for (size_t j = 0; j < n; j++) {
				bool d = true;
				dump_object(b, k->child, cat(p, j * k->child->size), ind + 4, &d);
			}
			break;
		}
		case CFG_T_MAP: {
			const struct cfg_headers *m = p;
			out_puts(b, "\n");
			for (size_t j = 0; j < m->n; j++) {
				indent(b, ind + 2);
				put_yaml_string(b, m->v[j].name);
				out_puts(b, ": ");
				put_yaml_string(b, (k->flags & CFG_F_SECRET) ? "<hidden>"
				                                             : m->v[j].value);
				out_puts(b, "\n");
			}
			break;
		}
		default:
			out_puts(b, " ");
			put_scalar(b, k, base);
			out_puts(b, "\n");
			break;
		}
	}
}

static void dump_header(struct out *b, const struct cfg_object *root)
{
	out_printf(b, "---\napiVersion: %s\nkind: %s\n",
	           cfg_object_key(root, "apiVersion")->values[0].name,
	           cfg_object_key(root, "kind")->values[0].name);
}

enum ps_err cfg_dump(const struct cfg *c, char **out)
{
	struct out b = {.err = PS_OK};
	ps_buf_init(&b.b, DUMP_MAX);
	const struct cfg_controller *ctl = cfg_controller(c);
	bool dash = false;
	if (ctl->present)
		out_puts(&b, "# ControllerConfig\n");
	else
		out_puts(&b, "# ControllerConfig: none given, all defaults\n");
	dump_header(&b, &cfg_controller_object);
	dump_object(&b, &cfg_controller_object, ctl, 0, &dash);
	for (size_t i = 0; i < cfg_target_count(c); i++) {
		const struct cfg_target *t = cfg_target_at(c, i);
		out_printf(&b, "# target %s (%s)\n", t->key, t->origin);
		dump_header(&b, &cfg_autoscaler_object);
		dump_object(&b, &cfg_autoscaler_object, t, 0, &dash);
	}
	*out = out_take(&b);
	return *out ? PS_OK : PS_ENOMEM;
}

/* ---- the reference ---- */

static const char *type_name(enum cfg_type t)
{
	switch (t) {
	case CFG_T_STRING:
		return "string";
	case CFG_T_BOOL:
		return "bool";
	case CFG_T_INT32:
		return "int32";
	case CFG_T_INT64:
		return "int64";
	case CFG_T_DOUBLE:
		return "number";
	case CFG_T_DURATION:
		return "duration";
	case CFG_T_QUANTITY:
	case CFG_T_QUANTITY_REAL:
		return "quantity";
	case CFG_T_ENUM:
		return "enum";
	case CFG_T_MAP:
		return "map of strings";
	case CFG_T_OBJECT:
		return "object";
	case CFG_T_LIST:
		return "list of objects";
	}
	return "?";
}

/* A table cell: '|' escaped, so a value cannot break the row. */
static void put_cell(struct out *b, const char *s)
{
	out_puts(b, " ");
	for (; *s; s++) {
		if (*s == '|')
			out_puts(b, "\\|");
		else
			out_put(b, s, 1);
	}
	out_puts(b, " |");
}

static void reference_rows(struct out *b, const struct cfg_object *obj, const char *prefix,
                           bool under_static)
{
	for (size_t i = 0; i < obj->n_keys; i++) {
		const struct cfg_key *k = &obj->keys[i];
		bool st = under_static || (k->flags & CFG_F_STATIC);
		char path[256], cell[300], range[256];
		if (prefix[0])
			snprintf(path, sizeof(path), "%s.%s", prefix, k->name);
		else
			snprintf(path, sizeof(path), "%s", k->name);
		out_puts(b, "|");
		snprintf(cell, sizeof(cell), "`%s`", path);
		put_cell(b, cell);
		put_cell(b, type_name(k->type));
		if (k->flags & CFG_F_REQUIRED)
			put_cell(b, "required");
		else if (k->def) {
			snprintf(cell, sizeof(cell), "`%s`", k->def);
			put_cell(b, cell);
		} else if (k->def_doc) {
			put_cell(b, k->def_doc);
		} else if (k->type == CFG_T_OBJECT || k->type == CFG_T_LIST ||
		           k->type == CFG_T_MAP) {
			put_cell(b, "");
		} else {
			put_cell(b, "unset");
		}
		put_cell(b, cfg_key_range(k, range, sizeof(range)));
		put_cell(b, st ? "no" : "yes");
		put_cell(b, k->doc);
		out_puts(b, "\n");
		if (k->type == CFG_T_OBJECT)
			reference_rows(b, k->child, path, st);
		else if (k->type == CFG_T_LIST) {
			snprintf(path + strlen(path), sizeof(path) - strlen(path), "[]");
			reference_rows(b, k->child, path, st);
		}
	}
}

static void reference_table(struct out *b, const struct cfg_object *root, const char *intro)
{
	out_printf(b, "%s\n\n", intro);
	out_puts(b, "| Key | Type | Default | Allowed | Reloadable | Description |\n");
	out_puts(b, "|---|---|---|---|---|---|\n");
	reference_rows(b, root, "", false);
}

char *cfg_reference_markdown(void)
{
	struct out b = {.err = PS_OK};
	ps_buf_init(&b.b, REFERENCE_MAX);
	out_puts(&b, "<!-- Generated by `prescale check --reference` from src/cfg/cfg_keys.c; "
	             "do not edit by hand. -->\n\n");
	reference_table(&b, &cfg_controller_object,
	                "**`kind: ControllerConfig`**: at most one per configuration; without one, "
	                "every key takes its default.");
	out_puts(&b, "\n");
	reference_table(&b, &cfg_autoscaler_object,
	                "**`kind: Autoscaler`**: one per scale target; targets are keyed "
	                "`namespace/kind/name` of `spec.scaleTargetRef` and must be unique.");
	out_puts(&b, "\n");
	out_puts(&b, "Durations are written as a number and a unit (`ms`, `s`, `m`, `h`, `d`; "
	             "`1m30s`). Quantities are Kubernetes quantities (`500m`, `2`, `1.5k`, "
	             "`2Gi`) or plain numbers. A key set to `null` or left empty counts as "
	             "absent. Reloadable keys take effect on SIGHUP or when the configuration "
	             "changes; the others need a restart.\n");
	return out_take(&b);
}
