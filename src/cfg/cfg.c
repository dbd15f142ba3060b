/* cfg.c -- loading a configuration (files, documents, kinds), the snapshot and its accessors.
 *
 * DESIGN
 * cfg_load() reads every file (capped), parses every YAML document with libyaml's document
 * API, and keeps the documents until the walk is over. The ControllerConfig is walked first,
 * so that Autoscalers can take defaults from it and be validated against its switches,
 * whatever file order they come in. Then each Autoscaler is walked into a struct cfg_target,
 * then targets are finalized (key, engine spec) and checked for duplicates. Errors are
 * collected (up to CFG_MAX_ERRORS) and sorted by file, line and column, so the output reads
 * in file order. The snapshot is immutable once returned; only its reference count changes.
 */
#include <dirent.h>
#include <errno.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "cfg_keys.h"
#include "engine.h"
#include "ps_alloc.h"
#include "ps_buf.h"

struct cfg_errmsg {
	size_t file, line, col, seq;
	char *text;
};

struct cfg_errors {
	size_t n;
	size_t seq;
	bool truncated;
	struct cfg_errmsg v[CFG_MAX_ERRORS];
};

/* Where a target's identity was written, for duplicate messages. */
struct cfg_loc {
	size_t file, line, col;
};

struct cfg_index {
	const char *key;
	size_t i;
};

struct cfg {
	atomic_uint refs;
	char *path;
	size_t n_files;
	char **files;
	struct cfg_controller ctl;
	size_t n_targets, cap_targets;
	struct cfg_target *targets;
	struct cfg_index *by_key; /* sorted by key */
};

enum doc_kind { DOC_SKIP, DOC_CONTROLLER, DOC_AUTOSCALER };

struct cfg_doc {
	yaml_document_t doc;
	size_t file;
	enum doc_kind kind;
};

struct loader {
	struct cfg *c;
	struct cfg_errors *errs;
	struct cfg_walk w;
	size_t n_docs, cap_docs;
	struct cfg_doc *docs;
	struct cfg_loc *ref_locs;  /* per target: spec.scaleTargetRef */
	struct cfg_loc *name_locs; /* per target: metadata.name */
	enum ps_err io_err;        /* PS_ENOENT / PS_EIO when the path itself failed */
};

/* ---- errors ---- */

enum ps_err cfg_errors_add(struct cfg_errors *e, size_t file, size_t line, size_t col,
                           const char *msg)
{
	if (e->n == CFG_MAX_ERRORS) {
		e->truncated = true;
		return PS_OK;
	}
	char *text = ps_strdup(msg);
	if (!text)
		return PS_ENOMEM;
	e->v[e->n++] = (struct cfg_errmsg){file, line, col, e->seq++, text};
	return PS_OK;
}

size_t cfg_errors_count(const struct cfg_errors *e)
{
	return e ? e->n : 0;
}

const char *cfg_errors_at(const struct cfg_errors *e, size_t i)
{
	PS_ASSERT(e && i < e->n);
	return e->v[i].text;
}

bool cfg_errors_truncated(const struct cfg_errors *e)
{
	return e && e->truncated;
}

void cfg_errors_free(struct cfg_errors *e)
{
	if (!e)
		return;
	for (size_t i = 0; i < e->n; i++)
		ps_free(e->v[i].text);
	ps_free(e);
}

static int errmsg_cmp(const void *pa, const void *pb)
{
	const struct cfg_errmsg *a = pa, *b = pb;
	if (a->file != b->file)
		return a->file < b->file ? -1 : 1;
	if (a->line != b->line)
		return a->line < b->line ? -1 : 1;
	if (a->col != b->col)
		return a->col < b->col ? -1 : 1;
	return a->seq < b->seq ? -1 : a->seq > b->seq;
}

/* A message about a whole file or path (no position). */
static void file_error(struct loader *L, size_t file, const char *fmt, ...) PS_PRINTF(3, 4);

static void file_error(struct loader *L, size_t file, const char *fmt, ...)
{
	char msg[PS_DIAG_MAX];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (cfg_errors_add(L->errs, file, 0, 0, msg) != PS_OK)
		L->w.enomem = true;
}

static void loc_error(struct loader *L, struct cfg_loc at, const char *fmt, ...) PS_PRINTF(3, 4);

static void loc_error(struct loader *L, struct cfg_loc at, const char *fmt, ...)
{
	char msg[PS_DIAG_MAX], full[PS_DIAG_MAX + 300];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	snprintf(full, sizeof(full), "%s:%zu:%zu: %s", L->c->files[at.file], at.line, at.col, msg);
	if (cfg_errors_add(L->errs, at.file, at.line, at.col, full) != PS_OK)
		L->w.enomem = true;
}

static struct cfg_loc node_loc(size_t file, const yaml_node_t *n)
{
	return (struct cfg_loc){file, n->start_mark.line + 1, n->start_mark.column + 1};
}

/* ---- files ---- */

static bool has_config_ext(const char *name)
{
	size_t n = strlen(name);
	return (n > 5 && strcmp(name + n - 5, ".yaml") == 0) ||
	       (n > 4 && strcmp(name + n - 4, ".yml") == 0);
}

static int name_cmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static enum ps_err add_file(struct cfg *c, const char *dir, const char *name)
{
	size_t cap = c->n_files + 1;
	char **files = ps_reallocarray(c->files, cap, sizeof(*files));
	if (!files)
		return PS_ENOMEM;
	c->files = files;
	size_t len = strlen(dir) + strlen(name) + 2;
	char *p = ps_malloc(len);
	if (!p)
		return PS_ENOMEM;
	if (dir[0]) {
		size_t dl = strlen(dir);
		bool slash = dl > 0 && dir[dl - 1] == '/';
		snprintf(p, len, "%s%s%s", dir, slash ? "" : "/", name);
	} else {
		snprintf(p, len, "%s", name);
	}
	c->files[c->n_files++] = p;
	return PS_OK;
}

/* The *.yaml and *.yml entries of <dir> in name order: hidden entries (a ConfigMap volume's
 * "..data" and "..<timestamp>") are skipped, symlinks to regular files are followed. */
static enum ps_err list_dir(struct loader *L, const char *dir)
{
	DIR *d = opendir(dir);
	if (!d) {
		file_error(L, 0, "cannot read \"%s\": %s", dir, strerror(errno));
		L->io_err = PS_EIO;
		return PS_OK;
	}
	enum ps_err rc = PS_OK;
	char **names = NULL;
	size_t n = 0;
	struct dirent *e;
	while ((e = readdir(d)) != NULL) {
		if (e->d_name[0] == '.' || !has_config_ext(e->d_name))
			continue;
		char **grown = ps_reallocarray(names, n + 1, sizeof(*names));
		if (!grown) {
			rc = PS_ENOMEM;
			break;
		}
		names = grown;
		if (!(names[n] = ps_strdup(e->d_name))) {
			rc = PS_ENOMEM;
			break;
		}
		n++;
	}
	closedir(d);
	if (n)
		qsort(names, n, sizeof(*names), name_cmp);
	for (size_t i = 0; i < n && rc == PS_OK; i++) {
		size_t at = L->c->n_files;
		rc = add_file(L->c, dir, names[i]);
		struct stat st;
		if (rc == PS_OK && stat(L->c->files[at], &st) == 0 && !S_ISREG(st.st_mode)) {
			/* A directory named *.yaml: not ours. */
			ps_free(L->c->files[at]);
			L->c->n_files--;
		}
	}
	for (size_t i = 0; i < n; i++)
		ps_free(names[i]);
	ps_free(names);
	return rc;
}

/* ---- YAML documents ---- */

/* 1-based line and column of byte <offset> in <buf> (libyaml's reader errors give offsets). */
static void offset_mark(const char *buf, size_t len, size_t offset, size_t *line, size_t *col)
{
	*line = 1;
	*col = 1;
	for (size_t i = 0; i < offset && i < len; i++) {
		if (buf[i] == '\n') {
			(*line)++;
			*col = 1;
		} else if (((unsigned char)buf[i] & 0xc0) != 0x80) {
			(*col)++;
		}
	}
}

static void yaml_error(struct loader *L, size_t file, const yaml_parser_t *p, const char *buf,
                       size_t len)
{
	char msg[PS_DIAG_MAX];
	size_t line = p->problem_mark.line + 1, col = p->problem_mark.column + 1;
	const char *problem = p->problem ? p->problem : "unknown error";
	if (p->error == YAML_READER_ERROR) {
		offset_mark(buf, len, p->problem_offset, &line, &col);
		snprintf(msg, sizeof(msg), "malformed YAML: %s", problem);
	} else if (p->context) {
		snprintf(msg, sizeof(msg), "malformed YAML: %s (%s at line %zu, column %zu)",
		         problem, p->context, p->context_mark.line + 1, p->context_mark.column + 1);
	} else {
		snprintf(msg, sizeof(msg), "malformed YAML: %s", problem);
	}
	loc_error(L, (struct cfg_loc){file, line, col}, "%s", msg);
}

static bool is_empty_doc(yaml_document_t *doc)
{
	yaml_node_t *root = yaml_document_get_root_node(doc);
	return root && root->type == YAML_SCALAR_NODE &&
	       root->data.scalar.style == YAML_PLAIN_SCALAR_STYLE && root->data.scalar.length == 0;
}

/* Parses every document of <file> into L->docs. A syntax error ends the file. */
static enum ps_err parse_file(struct loader *L, size_t file)
{
	struct ps_buf data;
	struct ps_diag d;
	ps_buf_init(&data, CFG_MAX_FILE_BYTES);
	enum ps_err rc = ps_buf_read_file(&data, L->c->files[file], &d);
	if (rc == PS_ENOMEM)
		return rc;
	if (rc != PS_OK) {
		file_error(L, file, "%s", ps_diag_msg(&d));
		return PS_OK;
	}
	const char *buf = ps_buf_cstr(&data);
	size_t len = data.len;
	yaml_parser_t parser;
	if (!yaml_parser_initialize(&parser)) {
		ps_buf_release(&data);
		return PS_ENOMEM;
	}
	yaml_parser_set_input_string(&parser, (const unsigned char *)buf, len);
	while (!cfg_errors_truncated(L->errs)) {
		yaml_document_t doc;
		if (!yaml_parser_load(&parser, &doc)) {
			if (parser.error == YAML_MEMORY_ERROR)
				rc = PS_ENOMEM;
			else
				yaml_error(L, file, &parser, buf, len);
			break;
		}
		if (!yaml_document_get_root_node(&doc)) { /* the end of the stream */
			yaml_document_delete(&doc);
			break;
		}
		if (is_empty_doc(&doc)) {
			yaml_document_delete(&doc);
			continue;
		}
		if (L->n_docs == L->cap_docs) {
			size_t cap = L->cap_docs ? L->cap_docs * 2 : 8;
			struct cfg_doc *docs = ps_reallocarray(L->docs, cap, sizeof(*docs));
			if (!docs) {
				yaml_document_delete(&doc);
				rc = PS_ENOMEM;
				break;
			}
			L->docs = docs;
			L->cap_docs = cap;
		}
		L->docs[L->n_docs++] = (struct cfg_doc){doc, file, DOC_SKIP};
	}
	yaml_parser_delete(&parser);
	ps_buf_release(&data);
	return rc;
}

static const char *kind_name(const struct cfg_object *root)
{
	return cfg_object_key(root, "kind")->values[0].name;
}

/* Checks apiVersion and kind of a document's root and says which kind it is. */
static enum doc_kind classify(struct loader *L, struct cfg_doc *d)
{
	struct cfg_walk *w = &L->w;
	yaml_node_t *root = yaml_document_get_root_node(&d->doc);
	char got[32];
	if (root->type != YAML_MAPPING_NODE) {
		snprintf(got, sizeof(got), "%s",
		         root->type == YAML_SEQUENCE_NODE ? "a sequence" : "a scalar");
		cfg_walk_error(w, root, "expected a mapping at the top of the document, got %s",
		               got);
		return DOC_SKIP;
	}
	const char *want_api = cfg_object_key(&cfg_autoscaler_object, "apiVersion")->values[0].name;
	const char *kinds[] = {kind_name(&cfg_controller_object),
	                       kind_name(&cfg_autoscaler_object)};
	yaml_node_t *api = cfg_node_get(w, root, "apiVersion", true);
	yaml_node_t *kind = cfg_node_get(w, root, "kind", true);
	enum doc_kind k = DOC_SKIP;

	if (!kind) {
		cfg_walk_error(w, root, "missing required key \"kind\" (expected %s or %s)",
		               kinds[0], kinds[1]);
	} else if (kind->type != YAML_SCALAR_NODE) {
		cfg_walk_error(w, kind, "kind: expected %s or %s", kinds[0], kinds[1]);
	} else {
		const char *s = (const char *)kind->data.scalar.value;
		if (strcmp(s, kinds[0]) == 0) {
			k = DOC_CONTROLLER;
		} else if (strcmp(s, kinds[1]) == 0) {
			k = DOC_AUTOSCALER;
		} else {
			const char *sug = cfg_suggest(s, kinds, 2);
			char tail[96] = "";
			if (sug)
				snprintf(tail, sizeof(tail), " (did you mean \"%s\"?)", sug);
			cfg_walk_error(w, kind, "unknown kind \"%.64s\" (expected %s or %s)%s", s,
			               kinds[0], kinds[1], tail);
		}
	}
	if (!api) {
		cfg_walk_error(w, root, "missing required key \"apiVersion\" (expected \"%s\")",
		               want_api);
		return DOC_SKIP;
	}
	if (api->type != YAML_SCALAR_NODE ||
	    strcmp((const char *)api->data.scalar.value, want_api) != 0) {
		if (api->type == YAML_SCALAR_NODE)
			cfg_walk_error(w, api, "unsupported apiVersion \"%.64s\" (expected \"%s\")",
			               (const char *)api->data.scalar.value, want_api);
		else
			cfg_walk_error(w, api, "apiVersion: expected \"%s\"", want_api);
		return DOC_SKIP;
	}
	return k;
}

static void set_doc(struct loader *L, struct cfg_doc *d, const char *kind)
{
	L->w.doc = &d->doc;
	L->w.file = L->c->files[d->file];
	L->w.file_index = d->file;
	L->w.kind = kind;
}

static void walk_controller(struct loader *L)
{
	struct cfg_controller *ctl = &L->c->ctl;
	struct cfg_doc *first = NULL;
	eng_params_default(&ctl->params);
	for (size_t i = 0; i < L->n_docs && !L->w.enomem; i++) {
		struct cfg_doc *d = &L->docs[i];
		if (d->kind != DOC_CONTROLLER)
			continue;
		set_doc(L, d, "ControllerConfig");
		yaml_node_t *root = yaml_document_get_root_node(&d->doc);
		if (first) {
			yaml_node_t *froot = yaml_document_get_root_node(&first->doc);
			struct cfg_loc f = node_loc(first->file, froot);
			cfg_walk_error(
			    &L->w, root,
			    "more than one ControllerConfig (the first is at %s:%zu:%zu)",
			    L->c->files[f.file], f.line, f.col);
			continue;
		}
		first = d;
		ctl->present = true;
		cfg_walk_object(&L->w, &cfg_controller_object, ctl, root, "");
	}
	if (!first) {
		L->w.doc = NULL;
		L->w.kind = "ControllerConfig";
		cfg_walk_object(&L->w, &cfg_controller_object, ctl, NULL, "");
	}
}

static enum ps_err grow_targets(struct loader *L)
{
	struct cfg *c = L->c;
	if (c->n_targets < c->cap_targets)
		return PS_OK;
	size_t cap = c->cap_targets ? c->cap_targets * 2 : 4;
	struct cfg_target *t = ps_reallocarray(c->targets, cap, sizeof(*t));
	if (!t)
		return PS_ENOMEM;
	c->targets = t;
	struct cfg_loc *r = ps_reallocarray(L->ref_locs, cap, sizeof(*r));
	if (!r)
		return PS_ENOMEM;
	L->ref_locs = r;
	struct cfg_loc *n = ps_reallocarray(L->name_locs, cap, sizeof(*n));
	if (!n)
		return PS_ENOMEM;
	L->name_locs = n;
	c->cap_targets = cap;
	return PS_OK;
}

static void walk_autoscalers(struct loader *L)
{
	struct cfg *c = L->c;
	L->w.ctl = &c->ctl;
	for (size_t i = 0; i < L->n_docs; i++) {
		struct cfg_doc *d = &L->docs[i];
		if (d->kind != DOC_AUTOSCALER || L->w.enomem || cfg_errors_truncated(L->errs))
			continue;
		if (grow_targets(L) != PS_OK) {
			L->w.enomem = true;
			return;
		}
		struct cfg_target *t = &c->targets[c->n_targets];
		memset(t, 0, sizeof(*t));
		c->n_targets++;
		set_doc(L, d, "Autoscaler");
		yaml_node_t *root = yaml_document_get_root_node(&d->doc);
		yaml_node_t *spec = cfg_node_get(&L->w, root, "spec", true);
		yaml_node_t *ref = cfg_node_get(&L->w, spec, "scaleTargetRef", true);
		yaml_node_t *meta = cfg_node_get(&L->w, root, "metadata", true);
		yaml_node_t *name = cfg_node_get(&L->w, meta, "name", true);
		L->ref_locs[c->n_targets - 1] = node_loc(d->file, ref ? ref : root);
		L->name_locs[c->n_targets - 1] = node_loc(d->file, name ? name : root);
		struct cfg_loc origin = node_loc(d->file, root);
		char buf[PS_DIAG_MAX];
		snprintf(buf, sizeof(buf), "%s:%zu:%zu", L->c->files[d->file], origin.line,
		         origin.col);
		if (!(t->origin = ps_strdup(buf))) {
			L->w.enomem = true;
			return;
		}
		cfg_walk_object(&L->w, &cfg_autoscaler_object, t, root, "");
	}
}

static int index_cmp(const void *pa, const void *pb)
{
	const struct cfg_index *a = pa, *b = pb;
	int r = strcmp(a->key, b->key);
	if (r)
		return r;
	return a->i < b->i ? -1 : a->i > b->i;
}

static char *join3(const char *a, const char *b, const char *c)
{
	size_t len = strlen(a) + strlen(b) + (c ? strlen(c) : 0) + 3;
	char *s = ps_malloc(len);
	if (!s)
		return NULL;
	if (c)
		snprintf(s, len, "%s/%s/%s", a, b, c);
	else
		snprintf(s, len, "%s/%s", a, b);
	return s;
}

/* Reports every target whose key (or Autoscaler name, <by_name>) is taken by an earlier one. */
static void report_duplicates(struct loader *L, struct cfg_index *idx, const struct cfg_loc *locs,
                              const char *what)
{
	size_t n = L->c->n_targets;
	qsort(idx, n, sizeof(*idx), index_cmp);
	for (size_t j = 1; j < n; j++) {
		size_t first = j - 1;
		while (first > 0 && strcmp(idx[first - 1].key, idx[j].key) == 0)
			first--;
		if (strcmp(idx[first].key, idx[j].key) != 0)
			continue;
		struct cfg_loc f = locs[idx[first].i];
		loc_error(L, locs[idx[j].i], "duplicate %s \"%s\" (first defined at %s:%zu:%zu)",
		          what, idx[j].key, L->c->files[f.file], f.line, f.col);
	}
}

/* Fills what the walk does not: the key, the engine's metric specs, the parameters. Then
 * checks keys and Autoscaler names are unique. */
static enum ps_err finalize(struct loader *L)
{
	struct cfg *c = L->c;
	size_t n = c->n_targets;
	for (size_t i = 0; i < n; i++) {
		struct cfg_target *t = &c->targets[i];
		if (!(t->key = join3(t->namespace, t->ref.kind, t->ref.name)))
			return PS_ENOMEM;
		t->spec.n_metrics = t->n_metrics;
		for (size_t m = 0; m < t->n_metrics; m++) {
			const struct cfg_metric *cm = &t->metrics[m];
			struct eng_metric_spec *e = &t->spec.metrics[m];
			memset(e, 0, sizeof(*e));
			e->source = cm->source;
			snprintf(e->name, sizeof(e->name), "%s", cm->name);
			if (cm->pod.resource && cm->per_pod)
				snprintf(e->resource, sizeof(e->resource), "%s", cm->pod.resource);
			if (cm->container)
				snprintf(e->container, sizeof(e->container), "%s", cm->container);
			e->target = cm->target;
		}
		memcpy(&t->params, &c->ctl.params, sizeof(t->params));
	}
	if (n == 0)
		return PS_OK;

	/* Autoscaler names first (ns/name), then the index by target key that stays. */
	struct cfg_index *idx = ps_calloc(n, sizeof(*idx));
	char **names = ps_calloc(n, sizeof(*names));
	enum ps_err rc = (idx && names) ? PS_OK : PS_ENOMEM;
	for (size_t i = 0; i < n && rc == PS_OK; i++) {
		if (!(names[i] = join3(c->targets[i].namespace, c->targets[i].name, NULL)))
			rc = PS_ENOMEM;
		idx[i] = (struct cfg_index){names[i], i};
	}
	if (rc == PS_OK)
		report_duplicates(L, idx, L->name_locs, "Autoscaler");
	for (size_t i = 0; names && i < n; i++)
		ps_free(names[i]);
	ps_free(names);
	if (rc != PS_OK) {
		ps_free(idx);
		return rc;
	}
	for (size_t i = 0; i < n; i++)
		idx[i] = (struct cfg_index){c->targets[i].key, i};
	report_duplicates(L, idx, L->ref_locs, "target");
	c->by_key = idx;
	return PS_OK;
}

/* ---- the snapshot ---- */

static void cfg_free(struct cfg *c)
{
	if (!c)
		return;
	for (size_t i = 0; i < c->n_targets; i++) {
		struct cfg_target *t = &c->targets[i];
		cfg_object_release(&cfg_autoscaler_object, t);
		ps_free(t->key);
		ps_free(t->origin);
	}
	ps_free(c->targets);
	ps_free(c->by_key);
	cfg_object_release(&cfg_controller_object, &c->ctl);
	for (size_t i = 0; i < c->n_files; i++)
		ps_free(c->files[i]);
	ps_free(c->files);
	ps_free(c->path);
	ps_free(c);
}

static void loader_release(struct loader *L)
{
	for (size_t i = 0; i < L->n_docs; i++)
		yaml_document_delete(&L->docs[i].doc);
	ps_free(L->docs);
	L->docs = NULL;
	L->n_docs = 0;
	ps_free(L->ref_locs);
	ps_free(L->name_locs);
}

static enum ps_err load(struct loader *L, const char *path)
{
	struct cfg *c = L->c;
	struct stat st;
	if (!(c->path = ps_strdup(path)))
		return PS_ENOMEM;
	if (stat(path, &st) != 0) {
		L->io_err = errno == ENOENT ? PS_ENOENT : PS_EIO;
		file_error(L, 0, "cannot read \"%s\": %s", path, strerror(errno));
		return L->w.enomem ? PS_ENOMEM : PS_OK;
	}
	enum ps_err rc = S_ISDIR(st.st_mode) ? list_dir(L, path) : add_file(c, "", path);
	for (size_t i = 0; i < c->n_files && rc == PS_OK && !cfg_errors_truncated(L->errs); i++)
		rc = parse_file(L, i);
	if (rc != PS_OK || L->w.enomem)
		return PS_ENOMEM;
	for (size_t i = 0; i < L->n_docs && !L->w.enomem; i++) {
		set_doc(L, &L->docs[i], "document");
		L->docs[i].kind = classify(L, &L->docs[i]);
	}
	walk_controller(L);
	walk_autoscalers(L);
	if (L->w.enomem)
		return PS_ENOMEM;
	/* Keys and engine specs only mean something for a valid configuration. */
	if (cfg_errors_count(L->errs) == 0 && finalize(L) != PS_OK)
		return PS_ENOMEM;
	/* The array grew by doubling; a struct cfg_target is ~7 KiB, so the slack of a large
	 * configuration (up to half of it) is worth giving back. */
	struct cfg *c2 = L->c;
	if (c2->n_targets > 0 && c2->n_targets < c2->cap_targets) {
		struct cfg_target *t = ps_reallocarray(c2->targets, c2->n_targets, sizeof(*t));
		if (!t)
			return PS_ENOMEM;
		c2->targets = t;
		c2->cap_targets = c2->n_targets;
	}
	return L->w.enomem ? PS_ENOMEM : PS_OK;
}

enum ps_err cfg_load(const char *path, struct cfg **out, struct cfg_errors **errors,
                     struct ps_diag *diag)
{
	*out = NULL;
	if (errors)
		*errors = NULL;
	struct loader L = {0};
	L.c = ps_calloc(1, sizeof(*L.c));
	L.errs = ps_calloc(1, sizeof(*L.errs));
	if (!L.c || !L.errs) {
		ps_free(L.c);
		ps_free(L.errs);
		return ps_diag_set(diag, PS_ENOMEM, "out of memory loading %s", path);
	}
	atomic_init(&L.c->refs, 1);
	L.w.errs = L.errs;
	L.w.ctl = &L.c->ctl;

	enum ps_err rc = load(&L, path);
	loader_release(&L);
	if (rc == PS_OK && L.errs->n > 0) {
		qsort(L.errs->v, L.errs->n, sizeof(L.errs->v[0]), errmsg_cmp);
		rc = L.io_err != PS_OK ? L.io_err : PS_ECONFIG;
		ps_diag_set(diag, rc, "%s", L.errs->v[0].text);
	} else if (rc == PS_ENOMEM) {
		ps_diag_set(diag, rc, "out of memory loading %s", path);
	}
	if (rc == PS_OK)
		*out = L.c;
	else
		cfg_free(L.c);
	if (errors && rc != PS_ENOMEM)
		*errors = L.errs;
	else
		cfg_errors_free(L.errs);
	return rc;
}

struct cfg *cfg_ref(struct cfg *c)
{
	atomic_fetch_add_explicit(&c->refs, 1, memory_order_relaxed);
	return c;
}

void cfg_unref(struct cfg *c)
{
	if (c && atomic_fetch_sub_explicit(&c->refs, 1, memory_order_acq_rel) == 1)
		cfg_free(c);
}

const char *cfg_path(const struct cfg *c)
{
	return c->path;
}

size_t cfg_file_count(const struct cfg *c)
{
	return c->n_files;
}

const struct cfg_controller *cfg_controller(const struct cfg *c)
{
	return &c->ctl;
}

size_t cfg_target_count(const struct cfg *c)
{
	return c->n_targets;
}

const struct cfg_target *cfg_target_at(const struct cfg *c, size_t i)
{
	PS_ASSERT(i < c->n_targets);
	return &c->targets[i];
}

const struct cfg_target *cfg_target_find(const struct cfg *c, const char *key)
{
	size_t lo = 0, hi = c->n_targets;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		int r = strcmp(c->by_key[mid].key, key);
		if (r == 0)
			return &c->targets[c->by_key[mid].i];
		if (r < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return NULL;
}

/* ---- reload support ---- */

bool cfg_target_equal(const struct cfg_target *a, const struct cfg_target *b)
{
	/* params are memcpy'd from zero-initialised structs, so memcmp sees no stray padding. */
	return cfg_object_equal(&cfg_autoscaler_object, a, b, false, NULL, 0) &&
	       memcmp(&a->params, &b->params, sizeof(a->params)) == 0;
}

static bool str_same(const char *a, const char *b)
{
	return (!a && !b) || (a && b && strcmp(a, b) == 0);
}

bool cfg_target_same_queries(const struct cfg_target *a, const struct cfg_target *b)
{
	if (a->n_metrics != b->n_metrics)
		return false;
	for (size_t i = 0; i < a->n_metrics; i++) {
		const struct cfg_metric *x = &a->metrics[i], *y = &b->metrics[i];
		if (!str_same(x->query, y->query) || x->per_pod != y->per_pod ||
		    (x->per_pod && !str_same(x->pod.pod_label, y->pod.pod_label)))
			return false;
	}
	return true;
}

enum ps_err cfg_check_reload(const struct cfg *cur, const struct cfg *next, struct ps_diag *diag)
{
	char path[256];
	if (cfg_object_equal(&cfg_controller_object, &cur->ctl, &next->ctl, true, path,
	                     sizeof(path)))
		return PS_OK;
	return ps_diag_set(diag, PS_ECONFIG,
	                   "%s: ControllerConfig key %s changed; it is not reloadable and takes "
	                   "effect after a restart",
	                   next->path, path);
}
