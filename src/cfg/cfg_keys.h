/* cfg_keys.h -- the descriptor table of every configuration key, and the generic walker over it.
 *
 * DESIGN
 * Each YAML mapping the configuration knows is a struct cfg_object: an array of struct cfg_key
 * rows (name, type, where the value goes, default, bounds, flags, description) plus an optional
 * validate callback for rules that span keys. Object and list rows point to the child object, so
 * the two root objects (cfg_controller_object, cfg_autoscaler_object) describe every key. Values
 * are written at byte offsets into the public structs of cfg.h (and into struct eng_spec's
 * fields directly), so there is no per-key parsing code. The same rows drive defaults, freeing,
 * comparing, the `check` dump and the reference table.
 *
 * Internal to src/cfg (the tests include it to check the table itself).
 */
#ifndef CFG_KEYS_H
#define CFG_KEYS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <yaml.h>

#include "cfg.h"
#include "ps_compiler.h"

enum cfg_type {
	CFG_T_STRING,        /* char *, owned */
	CFG_T_BOOL,          /* bool */
	CFG_T_INT32,         /* int32_t */
	CFG_T_INT64,         /* int64_t */
	CFG_T_DOUBLE,        /* double */
	CFG_T_DURATION,      /* int64_t milliseconds */
	CFG_T_QUANTITY,      /* int64_t milli-units */
	CFG_T_QUANTITY_REAL, /* double: a quantity or a number, as Quantity.AsApproximateFloat64 */
	CFG_T_ENUM,          /* int (the value of the matching struct cfg_enum_val) */
	CFG_T_MAP,           /* struct cfg_headers: string to string */
	CFG_T_OBJECT,        /* a nested struct described by <child> */
	CFG_T_LIST,          /* an inline array of <child> items with a size_t count */
};

/* Flags of a key. */
#define CFG_F_REQUIRED 0x01u /* absence is an error */
#define CFG_F_STATIC 0x02u   /* not reloadable: a change needs a restart (inherited by children) */
#define CFG_F_LO_EXCL 0x04u  /* doubles: the lower bound is excluded */
#define CFG_F_HI_EXCL 0x08u  /* doubles: the upper bound is excluded */
#define CFG_F_SECRET 0x10u   /* maps: the values are not shown by the dump */
#define CFG_F_NOSTORE 0x20u  /* apiVersion, kind: checked by the loader, not stored */
#define CFG_F_DERIVED 0x40u  /* a validator fills the value when absent: the dump shows it */

struct cfg_enum_val {
	const char *name;
	int value;
};

/* A format rule for string values, beyond the length bounds. */
struct cfg_check {
	const char *what; /* "DNS-1123 label": shown in the reference and errors */
	bool (*ok)(const char *s);
};

struct cfg_object;

struct cfg_key {
	const char *name;
	enum cfg_type type;
	unsigned flags;
	size_t off;          /* the value's offset from the object's base */
	size_t has_off;      /* 1 + offset of a bool set when the key is given; 0: none */
	size_t count_off;    /* lists: offset of the size_t item count */
	const char *def;     /* the default, as YAML text; NULL: none */
	const char *def_doc; /* the default as documented when it is computed */
	int64_t lo, hi;      /* ints, durations (ms), quantities (milli), string length,
	                      * list items, map entries; hi = 0 means no upper bound */
	double dlo, dhi;     /* doubles */
	const struct cfg_enum_val *values; /* enums, NULL-terminated */
	const struct cfg_object *child;    /* objects and lists */
	const struct cfg_check *check;     /* strings and map names */
	const char *unset_doc; /* what applies when the key is absent (the dump shows it) */
	const char *doc;       /* one line */
};

struct cfg_ctx;

struct cfg_object {
	const struct cfg_key *keys;
	size_t n_keys;
	size_t size;        /* list items: the size of one item */
	const char *unique; /* list items: the key whose value is unique in the list */
	/* Cross-field rules, run once the object's keys are parsed and defaulted without error. */
	void (*validate)(struct cfg_ctx *c);
};

/* The two document kinds. */
extern const struct cfg_object cfg_controller_object; /* base: struct cfg_controller */
extern const struct cfg_object cfg_autoscaler_object; /* base: struct cfg_target */

/* The most keys one object may have (the walker keeps one node per key on the stack). */
#define CFG_MAX_KEYS 24

/* ---- the walker (cfg_walk.c) ---- */

/* Load-wide state shared by every document of one cfg_load(). */
struct cfg_walk {
	struct cfg_errors *errs;
	const char *file; /* the document's file name, for messages */
	size_t file_index;
	yaml_document_t *doc;
	const struct cfg_controller *ctl; /* the ControllerConfig, walked first */
	bool enomem;
	const char *kind; /* "Autoscaler", for messages */
};

/* One object being walked: what validate callbacks see. */
struct cfg_ctx {
	struct cfg_walk *w;
	const struct cfg_object *obj;
	void *base;
	yaml_node_t *node; /* the mapping; NULL when the object is absent */
	const char *path;  /* "spec.metrics[0]"; "" at the root */
	yaml_node_t *key_node[CFG_MAX_KEYS];
	yaml_node_t *val_node[CFG_MAX_KEYS]; /* NULL: absent or null */
};

/* Walks the mapping <node> (NULL: absent) of the document in <w> into <base> as <obj>: parses
 * each key, reports unknown, duplicate, mistyped, out-of-range and missing keys, fills
 * defaults and runs the validate callbacks. <base> must be zeroed beforehand. Strings are
 * owned by <base> afterwards, also on error: release them with cfg_object_release(). */
void cfg_walk_object(struct cfg_walk *w, const struct cfg_object *obj, void *base,
                     yaml_node_t *node, const char *path);
/* Frees every string and map of <base> described by <obj>. */
void cfg_object_release(const struct cfg_object *obj, void *base);
/* True when every key of <obj> has the same value in <a> and <b>. With <static_only>, only keys
 * marked CFG_F_STATIC (or under one) are compared, and <path> (may be NULL, <size> bytes)
 * receives the first that differs. */
bool cfg_object_equal(const struct cfg_object *obj, const void *a, const void *b, bool static_only,
                      char *path, size_t size);

/* Adds the error "<file>:<line>:<col>: <msg>" at <node> (NULL: no position) to the load. */
void cfg_walk_error(struct cfg_walk *w, const yaml_node_t *node, const char *fmt, ...)
    PS_PRINTF(3, 4);
/* Adds an error at the value of <key> in <c> (its key node when null, the object's mapping
 * when absent), prefixed with the key's path: "spec.maxReplicas: <msg>". */
void cfg_ctx_error(struct cfg_ctx *c, const char *key, const char *fmt, ...) PS_PRINTF(3, 4);
/* The key node (or, when <value>, the value node) of <key> in <c>; NULL when absent. */
yaml_node_t *cfg_ctx_node(const struct cfg_ctx *c, const char *key, bool value);
/* The key node (or, when <value>, the value node) of <key> in the mapping <map> of the
 * document in <w>; NULL when <map> is NULL or not a mapping, or has no such key. */
yaml_node_t *cfg_node_get(const struct cfg_walk *w, yaml_node_t *map, const char *key, bool value);

/* The row of <obj> named <name>, or NULL. */
const struct cfg_key *cfg_object_key(const struct cfg_object *obj, const char *name);
/* The closest of <n> candidate names to <s> when it is close enough to be a likely typo, or
 * NULL. */
const char *cfg_suggest(const char *s, const char *const *cands, size_t n);
/* Range text of <k> as the reference shows it ("0..3600", "> 0"), into <buf>. Returns <buf>. */
char *cfg_key_range(const struct cfg_key *k, char *buf, size_t size);
/* Converts the scalar text <s> (<plain>: unquoted) as <k> describes, with the bound check, into
 * the storage at <dst> (strings: a new owned copy). Returns PS_OK, PS_ENOMEM, or PS_EPARSE /
 * PS_ERANGE with the reason in <why> (no path). Used for values and for defaults. */
PS_MUST_CHECK enum ps_err cfg_key_convert(const struct cfg_key *k, const char *s, size_t len,
                                          bool plain, void *dst, char *why, size_t why_size);

/* ---- error list (cfg.c) ---- */

/* Adds an owned copy of <msg>, positioned at (<file>, <line>, <col>) for sorting, to <e>.
 * Returns PS_ENOMEM, or PS_OK (also when the list is full: the message is dropped and <e> is
 * marked truncated, which tells the loader and the walker to stop). */
PS_MUST_CHECK enum ps_err cfg_errors_add(struct cfg_errors *e, size_t file, size_t line, size_t col,
                                         const char *msg);

#endif
