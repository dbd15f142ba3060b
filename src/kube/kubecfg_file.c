/* kubecfg_file.c -- kubeconfig files: which ones, parsing them with libyaml, and kubectl's merge
 * (first file wins per name, whole entries; first current-context wins). */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <yaml.h>

#include "kubecfg_int.h"
#include "ps_alloc.h"

/* ---- the merged model ---- */

static void cluster_release(struct kc_cluster *c)
{
	ps_free(c->name);
	ps_free(c->server);
	ps_free(c->tls_server_name);
	ps_free(c->proxy_url);
	ps_free(c->ca_path);
	kc_bytes_free(&c->ca_data);
}

static void user_release(struct kc_user *u)
{
	ps_free(u->name);
	ps_free(u->cert_path);
	kc_bytes_free(&u->cert_data);
	ps_free(u->key_path);
	kc_bytes_free_secret(&u->key_data);
	if (u->token)
		ps_free_secret(u->token, strlen(u->token));
	ps_free(u->token_file);
	kc_exec_free(u->exec);
}

static void context_release(struct kc_context *c)
{
	ps_free(c->name);
	ps_free(c->cluster);
	ps_free(c->user);
	ps_free(c->namespace);
}

void kc_merged_free(struct kc_merged *m)
{
	if (!m)
		return;
	for (size_t i = 0; i < m->n_clusters; i++)
		cluster_release(&m->clusters[i]);
	for (size_t i = 0; i < m->n_users; i++)
		user_release(&m->users[i]);
	for (size_t i = 0; i < m->n_contexts; i++)
		context_release(&m->contexts[i]);
	ps_free(m->clusters);
	ps_free(m->users);
	ps_free(m->contexts);
	for (size_t i = 0; i < m->n_files; i++)
		ps_free(m->files[i]);
	ps_free(m->files);
	ps_free(m->origin);
	ps_free(m->current_context);
	ps_free(m);
}

struct kc_cluster *kc_find_cluster(struct kc_merged *m, const char *name)
{
	for (size_t i = 0; i < m->n_clusters; i++)
		if (strcmp(m->clusters[i].name, name) == 0)
			return &m->clusters[i];
	return NULL;
}

struct kc_user *kc_find_user(struct kc_merged *m, const char *name)
{
	for (size_t i = 0; i < m->n_users; i++)
		if (strcmp(m->users[i].name, name) == 0)
			return &m->users[i];
	return NULL;
}

const struct kc_context *kc_find_context(const struct kc_merged *m, const char *name)
{
	for (size_t i = 0; i < m->n_contexts; i++)
		if (strcmp(m->contexts[i].name, name) == 0)
			return &m->contexts[i];
	return NULL;
}

/* Returns <arr> with room for element <n> (growing it, *cap updated), or NULL when out of
 * memory (<arr> is then unchanged). */
static void *grow(void *arr, size_t n, size_t *cap, size_t size)
{
	if (n < *cap)
		return arr;
	size_t ncap = *cap ? *cap * 2 : 4;
	void *p = ps_reallocarray(arr, ncap, size);
	if (p)
		*cap = ncap;
	return p;
}

/* ---- parsing one file ---- */

struct pctx {
	const char *file; /* as given, for messages */
	const char *dir;  /* absolute directory of the file, for relative paths */
	size_t file_index;
	yaml_document_t *doc;
	struct ps_diag *diag;
	char what[200]; /* the entry being parsed, `cluster "c1"`, for messages */
};

static enum ps_err perr(struct pctx *p, const yaml_node_t *n, const char *fmt, ...) PS_PRINTF(3, 4);

/* A PS_EPARSE "<file>:<line>:<col>: <entry>: <message>" at node <n>. */
static enum ps_err perr(struct pctx *p, const yaml_node_t *n, const char *fmt, ...)
{
	char msg[PS_DIAG_MAX];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	return ps_diag_set(p->diag, PS_EPARSE, "%s:%zu:%zu: %s%s%s", p->file,
	                   (size_t)n->start_mark.line + 1, (size_t)n->start_mark.column + 1,
	                   p->what, p->what[0] ? ": " : "", msg);
}

static enum ps_err nomem(struct pctx *p)
{
	return ps_diag_set(p->diag, PS_ENOMEM, "%s: out of memory", p->file);
}

static yaml_node_t *get_node(struct pctx *p, int id)
{
	return yaml_document_get_node(p->doc, id);
}

static bool is_plain(const yaml_node_t *n)
{
	return n->data.scalar.style == YAML_PLAIN_SCALAR_STYLE ||
	       n->data.scalar.style == YAML_ANY_SCALAR_STYLE;
}

/* Absent, or a plain empty, "~" or "null" scalar: the key counts as unset, as in Kubernetes. */
static bool is_null(const yaml_node_t *n)
{
	if (!n)
		return true;
	if (n->type != YAML_SCALAR_NODE || !is_plain(n))
		return false;
	const char *s = (const char *)n->data.scalar.value;
	return n->data.scalar.length == 0 || strcmp(s, "~") == 0 || strcmp(s, "null") == 0 ||
	       strcmp(s, "Null") == 0 || strcmp(s, "NULL") == 0;
}

static const char *kind_of(const yaml_node_t *n)
{
	switch (n->type) {
	case YAML_MAPPING_NODE:
		return "a mapping";
	case YAML_SEQUENCE_NODE:
		return "a sequence";
	case YAML_SCALAR_NODE:
		return "a scalar";
	case YAML_NO_NODE:
		break;
	}
	return "nothing";
}

/* The value node of <key> in mapping <m>, or NULL. */
static yaml_node_t *map_get(struct pctx *p, const yaml_node_t *m, const char *key)
{
	for (yaml_node_pair_t *pr = m->data.mapping.pairs.start; pr < m->data.mapping.pairs.top;
	     pr++) {
		yaml_node_t *k = get_node(p, pr->key);
		if (k && k->type == YAML_SCALAR_NODE &&
		    strcmp((const char *)k->data.scalar.value, key) == 0)
			return get_node(p, pr->value);
	}
	return NULL;
}

/* A string value into <*out> (replacing what was there); NULL when unset. */
static enum ps_err get_str(struct pctx *p, const yaml_node_t *n, const char *key, char **out)
{
	if (is_null(n))
		return PS_OK;
	if (n->type != YAML_SCALAR_NODE)
		return perr(p, n, "%s: expected a string, got %s", key, kind_of(n));
	char *s = ps_strndup((const char *)n->data.scalar.value, n->data.scalar.length);
	if (!s)
		return nomem(p);
	ps_free(*out);
	*out = s;
	return PS_OK;
}

/* A string that may be a secret: the old value is zeroed. */
static enum ps_err get_secret_str(struct pctx *p, const yaml_node_t *n, const char *key, char **out)
{
	char *s = NULL;
	enum ps_err err = get_str(p, n, key, &s);
	if (err)
		return err;
	if (*out)
		ps_free_secret(*out, strlen(*out));
	*out = s;
	return PS_OK;
}

/* A boolean as YAML 1.1 (Go's yaml.v2, which kubectl uses) spells it. */
static enum ps_err get_bool(struct pctx *p, const yaml_node_t *n, const char *key, bool *out)
{
	static const char *const yes[] = {"true", "True", "TRUE", "yes", "Yes", "YES",
	                                  "on",   "On",   "ON",   "y",   "Y"};
	static const char *const no[] = {"false", "False", "FALSE", "no", "No", "NO",
	                                 "off",   "Off",   "OFF",   "n",  "N"};
	if (is_null(n)) {
		*out = false;
		return PS_OK;
	}
	if (n->type == YAML_SCALAR_NODE && is_plain(n)) {
		const char *s = (const char *)n->data.scalar.value;
		for (size_t i = 0; i < PS_ARRAY_LEN(yes); i++) {
			if (strcmp(s, yes[i]) == 0) {
				*out = true;
				return PS_OK;
			}
			if (strcmp(s, no[i]) == 0) {
				*out = false;
				return PS_OK;
			}
		}
	}
	if (n->type == YAML_SCALAR_NODE)
		return perr(p, n, "%s: expected true or false, got \"%.40s\"", key,
		            (const char *)n->data.scalar.value);
	return perr(p, n, "%s: expected true or false, got %s", key, kind_of(n));
}

/* A file path, made absolute against the file's directory; NULL when unset or empty. */
static enum ps_err get_path(struct pctx *p, const yaml_node_t *n, const char *key, char **out)
{
	char *s = NULL;
	enum ps_err err = get_str(p, n, key, &s);
	if (err || !s)
		return err;
	ps_free(*out);
	*out = NULL;
	if (!s[0]) {
		ps_free(s);
		return PS_OK;
	}
	*out = kc_resolve_path(p->dir, s);
	ps_free(s);
	return *out ? PS_OK : nomem(p);
}

/* A *-data field: base64 decoded; absent when empty, as in client-go. */
static enum ps_err get_data(struct pctx *p, const yaml_node_t *n, const char *key,
                            struct kcfg_bytes *out, bool secret)
{
	if (is_null(n))
		return PS_OK;
	if (n->type != YAML_SCALAR_NODE)
		return perr(p, n, "%s: expected a base64 string, got %s", key, kind_of(n));
	struct kcfg_bytes b;
	size_t bad_at = 0;
	enum ps_err err = kc_base64_decode((const char *)n->data.scalar.value,
	                                   n->data.scalar.length, &b, &bad_at);
	if (err == PS_ENOMEM)
		return nomem(p);
	if (err) {
		if (bad_at >= n->data.scalar.length)
			return perr(p, n,
			            "%s: invalid base64: the data ends in the middle of a "
			            "4-character group",
			            key);
		return perr(p, n, "%s: invalid base64 at character %zu", key, bad_at + 1);
	}
	if (secret)
		kc_bytes_free_secret(out);
	else
		kc_bytes_free(out);
	if (b.len == 0) {
		kc_bytes_free(&b);
		return PS_OK;
	}
	*out = b;
	return PS_OK;
}

static enum ps_err expect_map(struct pctx *p, const yaml_node_t *n, const char *key)
{
	if (n->type != YAML_MAPPING_NODE)
		return perr(p, n, "%s: expected a mapping, got %s", key, kind_of(n));
	return PS_OK;
}

static enum ps_err expect_seq(struct pctx *p, const yaml_node_t *n, const char *key)
{
	if (n->type != YAML_SEQUENCE_NODE)
		return perr(p, n, "%s: expected a sequence, got %s", key, kind_of(n));
	return PS_OK;
}

/* Loops over the pairs of mapping <m> that have a scalar key, with <k> and <v> the key and
 * value nodes; `continue` moves to the next pair. */
#define FOR_PAIRS(p, m, k, v)                                                                      \
	for (yaml_node_pair_t *pr_ = (m)->data.mapping.pairs.start;                                \
	     pr_ < (m)->data.mapping.pairs.top; pr_++)                                             \
		for (yaml_node_t *k = get_node(p, pr_->key), *v = get_node(p, pr_->value);         \
		     k && v && k->type == YAML_SCALAR_NODE; k = NULL)

static bool key_is(const yaml_node_t *k, const char *name)
{
	return strcmp((const char *)k->data.scalar.value, name) == 0;
}

static enum ps_err parse_cluster(struct pctx *p, const yaml_node_t *m, struct kc_cluster *c)
{
	enum ps_err err = PS_OK;
	FOR_PAIRS(p, m, k, v)
	{
		if (key_is(k, "server"))
			err = get_str(p, v, "server", &c->server);
		else if (key_is(k, "tls-server-name"))
			err = get_str(p, v, "tls-server-name", &c->tls_server_name);
		else if (key_is(k, "proxy-url"))
			err = get_str(p, v, "proxy-url", &c->proxy_url);
		else if (key_is(k, "insecure-skip-tls-verify"))
			err = get_bool(p, v, "insecure-skip-tls-verify", &c->insecure);
		else if (key_is(k, "disable-compression"))
			err = get_bool(p, v, "disable-compression", &c->disable_compression);
		else if (key_is(k, "certificate-authority"))
			err = get_path(p, v, "certificate-authority", &c->ca_path);
		else if (key_is(k, "certificate-authority-data"))
			err = get_data(p, v, "certificate-authority-data", &c->ca_data, false);
		if (err)
			return err;
	}
	return PS_OK;
}

static enum ps_err parse_interactive(struct pctx *p, const yaml_node_t *v,
                                     enum kcfg_interactive *out)
{
	static const struct {
		const char *name;
		enum kcfg_interactive mode;
	} modes[] = {{"Never", KCFG_INTERACTIVE_NEVER},
	             {"IfAvailable", KCFG_INTERACTIVE_IF_AVAILABLE},
	             {"Always", KCFG_INTERACTIVE_ALWAYS}};
	char *s = NULL;
	enum ps_err err = get_str(p, v, "exec.interactiveMode", &s);
	if (err || !s)
		return err;
	*out = KCFG_INTERACTIVE_UNSET;
	for (size_t i = 0; i < PS_ARRAY_LEN(modes); i++)
		if (strcmp(s, modes[i].name) == 0)
			*out = modes[i].mode;
	bool known = *out != KCFG_INTERACTIVE_UNSET || !s[0];
	ps_free(s);
	if (!known)
		return perr(p, v,
		            "exec.interactiveMode: expected Never, IfAvailable or Always, got "
		            "\"%.40s\"",
		            (const char *)v->data.scalar.value);
	return PS_OK;
}

static enum ps_err parse_exec_env(struct pctx *p, const yaml_node_t *seq, struct kcfg_exec *e)
{
	enum ps_err err = expect_seq(p, seq, "exec.env");
	if (err)
		return err;
	size_t n = (size_t)(seq->data.sequence.items.top - seq->data.sequence.items.start);
	if (n == 0)
		return PS_OK;
	e->env = ps_calloc(n, sizeof(*e->env));
	if (!e->env)
		return nomem(p);
	for (size_t i = 0; i < n; i++) {
		yaml_node_t *item = get_node(p, seq->data.sequence.items.start[i]);
		if ((err = expect_map(p, item, "exec.env[]")))
			return err;
		struct kcfg_env_var *ev = &e->env[e->n_env++];
		if ((err = get_str(p, map_get(p, item, "name"), "exec.env[].name", &ev->name)))
			return err;
		if ((err = get_secret_str(p, map_get(p, item, "value"), "exec.env[].value",
		                          &ev->value)))
			return err;
		if (!ev->name || !ev->name[0] || strchr(ev->name, '='))
			return perr(p, item, "exec.env[]: a variable needs a name without '='");
		if (!ev->value && !(ev->value = ps_strdup("")))
			return nomem(p);
	}
	return PS_OK;
}

static enum ps_err parse_exec(struct pctx *p, const yaml_node_t *m, struct kcfg_exec **out)
{
	if (is_null(m))
		return PS_OK;
	enum ps_err err = expect_map(p, m, "exec");
	if (err)
		return err;
	struct kcfg_exec *e = ps_calloc(1, sizeof(*e));
	if (!e)
		return nomem(p);
	kc_exec_free(*out);
	*out = e;
	FOR_PAIRS(p, m, k, v)
	{
		if (key_is(k, "command")) {
			err = get_str(p, v, "exec.command", &e->command);
		} else if (key_is(k, "args")) {
			if (is_null(v))
				continue;
			if ((err = expect_seq(p, v, "exec.args")))
				return err;
			size_t n =
			    (size_t)(v->data.sequence.items.top - v->data.sequence.items.start);
			for (size_t i = 0; i < e->n_args; i++)
				ps_free(e->args[i]);
			ps_free(e->args);
			e->n_args = 0;
			e->args = ps_calloc(n + 1, sizeof(*e->args));
			if (!e->args)
				return nomem(p);
			for (size_t i = 0; i < n; i++) {
				yaml_node_t *item = get_node(p, v->data.sequence.items.start[i]);
				char *s = NULL;
				if ((err = get_str(p, item, "exec.args[]", &s)))
					return err;
				if (!s && !(s = ps_strdup("")))
					return nomem(p);
				e->args[e->n_args++] = s;
			}
		} else if (key_is(k, "env")) {
			if (!is_null(v) && !e->env)
				err = parse_exec_env(p, v, e);
		} else if (key_is(k, "apiVersion")) {
			err = get_str(p, v, "exec.apiVersion", &e->api_version);
		} else if (key_is(k, "installHint")) {
			err = get_str(p, v, "exec.installHint", &e->install_hint);
		} else if (key_is(k, "provideClusterInfo")) {
			err = get_bool(p, v, "exec.provideClusterInfo", &e->provide_cluster_info);
		} else if (key_is(k, "interactiveMode")) {
			err = parse_interactive(p, v, &e->interactive_mode);
		}
		if (err)
			return err;
	}
	/* client-go resolves the command against the file's directory only when it is a
	 * relative path, not a name looked up in PATH. */
	if (e->command && e->command[0] != '/' && strchr(e->command, '/')) {
		char *abs = kc_resolve_path(p->dir, e->command);
		if (!abs)
			return nomem(p);
		ps_free(e->command);
		e->command = abs;
	}
	return PS_OK;
}

static enum ps_err parse_user(struct pctx *p, const yaml_node_t *m, struct kc_user *u)
{
	static const char *const unsupported[] = {
	    "as", "as-uid", "as-groups", "as-user-extra", "username", "password", "auth-provider"};
	enum ps_err err = PS_OK;
	FOR_PAIRS(p, m, k, v)
	{
		if (key_is(k, "client-certificate"))
			err = get_path(p, v, "client-certificate", &u->cert_path);
		else if (key_is(k, "client-certificate-data"))
			err = get_data(p, v, "client-certificate-data", &u->cert_data, false);
		else if (key_is(k, "client-key"))
			err = get_path(p, v, "client-key", &u->key_path);
		else if (key_is(k, "client-key-data"))
			err = get_data(p, v, "client-key-data", &u->key_data, true);
		else if (key_is(k, "token"))
			err = get_secret_str(p, v, "token", &u->token);
		else if (key_is(k, "tokenFile"))
			err = get_path(p, v, "tokenFile", &u->token_file);
		else if (key_is(k, "exec"))
			err = parse_exec(p, v, &u->exec);
		else
			for (size_t i = 0; i < PS_ARRAY_LEN(unsupported); i++)
				if (key_is(k, unsupported[i]) && !is_null(v))
					u->unsupported = unsupported[i];
		if (err)
			return err;
	}
	/* An empty token is no token (client-go tests len() > 0). */
	if (u->token && !u->token[0]) {
		ps_free(u->token);
		u->token = NULL;
	}
	return PS_OK;
}

static enum ps_err parse_context(struct pctx *p, const yaml_node_t *m, struct kc_context *c)
{
	enum ps_err err = PS_OK;
	FOR_PAIRS(p, m, k, v)
	{
		if (key_is(k, "cluster"))
			err = get_str(p, v, "cluster", &c->cluster);
		else if (key_is(k, "user"))
			err = get_str(p, v, "user", &c->user);
		else if (key_is(k, "namespace"))
			err = get_str(p, v, "namespace", &c->namespace);
		if (err)
			return err;
	}
	return PS_OK;
}

enum kind { K_CLUSTER, K_USER, K_CONTEXT };

static const char *const kind_list[] = {"clusters", "users", "contexts"};
static const char *const kind_one[] = {"cluster", "user", "context"};

/* The existing entry named <name> of kind <k>: its file index and line, or false. */
static bool find_existing(const struct kc_merged *m, enum kind k, const char *name,
                          size_t *file_index, size_t *line)
{
	switch (k) {
	case K_CLUSTER:
		for (size_t i = 0; i < m->n_clusters; i++)
			if (strcmp(m->clusters[i].name, name) == 0) {
				*file_index = m->clusters[i].file_index;
				*line = m->clusters[i].loc.line;
				return true;
			}
		break;
	case K_USER:
		for (size_t i = 0; i < m->n_users; i++)
			if (strcmp(m->users[i].name, name) == 0) {
				*file_index = m->users[i].file_index;
				*line = m->users[i].loc.line;
				return true;
			}
		break;
	case K_CONTEXT:
		for (size_t i = 0; i < m->n_contexts; i++)
			if (strcmp(m->contexts[i].name, name) == 0) {
				*file_index = m->contexts[i].file_index;
				*line = m->contexts[i].loc.line;
				return true;
			}
		break;
	}
	return false;
}

/* Parses one entry of a clusters/users/contexts list and keeps it unless an earlier file
 * defined the name (kubectl: the first file wins, with its whole entry). The whole file is
 * parsed either way, because kubectl too refuses a file with a broken entry anywhere. */
static enum ps_err parse_entry(struct pctx *p, struct kc_merged *m, enum kind k,
                               const yaml_node_t *item)
{
	p->what[0] = '\0';
	enum ps_err err = expect_map(p, item, kind_list[k]);
	if (err)
		return err;
	char *name = NULL;
	if ((err = get_str(p, map_get(p, item, "name"), "name", &name)))
		return err;
	if (!name && !(name = ps_strdup("")))
		return nomem(p);
	snprintf(p->what, sizeof(p->what), "%s \"%.150s\"", kind_one[k], name);
	struct kc_loc loc = {p->file, (size_t)item->start_mark.line + 1,
	                     (size_t)item->start_mark.column + 1};
	size_t prev_file = 0, prev_line = 0;
	bool exists = find_existing(m, k, name, &prev_file, &prev_line);
	if (exists && prev_file == p->file_index) {
		ps_free(name);
		return perr(p, item, "defined twice in this file (first at line %zu)", prev_line);
	}
	const yaml_node_t *body = map_get(p, item, kind_one[k]);
	if (body && !is_null(body) && (err = expect_map(p, body, kind_one[k]))) {
		ps_free(name);
		return err;
	}
	if (is_null(body))
		body = NULL;
	/* Each case parses into a local entry, then appends it or drops it. */
	switch (k) {
	case K_CLUSTER: {
		struct kc_cluster c = {.name = name, .loc = loc, .file_index = p->file_index};
		err = body ? parse_cluster(p, body, &c) : PS_OK;
		if (!err && !exists) {
			struct kc_cluster *a =
			    grow(m->clusters, m->n_clusters, &m->cap_clusters, sizeof(*a));
			if (a) {
				m->clusters = a;
				m->clusters[m->n_clusters++] = c;
				return PS_OK;
			}
			err = nomem(p);
		}
		cluster_release(&c);
		return err;
	}
	case K_USER: {
		struct kc_user u = {.name = name, .loc = loc, .file_index = p->file_index};
		err = body ? parse_user(p, body, &u) : PS_OK;
		if (!err && !exists) {
			struct kc_user *a = grow(m->users, m->n_users, &m->cap_users, sizeof(*a));
			if (a) {
				m->users = a;
				m->users[m->n_users++] = u;
				return PS_OK;
			}
			err = nomem(p);
		}
		user_release(&u);
		return err;
	}
	case K_CONTEXT: {
		struct kc_context c = {.name = name, .loc = loc, .file_index = p->file_index};
		err = body ? parse_context(p, body, &c) : PS_OK;
		if (!err && !exists) {
			struct kc_context *a =
			    grow(m->contexts, m->n_contexts, &m->cap_contexts, sizeof(*a));
			if (a) {
				m->contexts = a;
				m->contexts[m->n_contexts++] = c;
				return PS_OK;
			}
			err = nomem(p);
		}
		context_release(&c);
		return err;
	}
	}
	ps_free(name);
	return PS_OK;
}

static enum ps_err parse_root(struct pctx *p, struct kc_merged *m, const yaml_node_t *root)
{
	if (is_null(root))
		return PS_OK; /* an empty file is an empty config, as for kubectl */
	if (root->type != YAML_MAPPING_NODE)
		return perr(p, root, "expected a kubeconfig mapping, got %s", kind_of(root));
	enum ps_err err = PS_OK;
	FOR_PAIRS(p, root, k, v)
	{
		p->what[0] = '\0';
		if (key_is(k, "current-context")) {
			char *cur = NULL;
			if ((err = get_str(p, v, "current-context", &cur)))
				return err;
			if (cur && cur[0] && !m->current_context)
				m->current_context = cur;
			else
				ps_free(cur);
			continue;
		}
		enum kind kd;
		if (key_is(k, "clusters"))
			kd = K_CLUSTER;
		else if (key_is(k, "users"))
			kd = K_USER;
		else if (key_is(k, "contexts"))
			kd = K_CONTEXT;
		else
			continue;
		if (is_null(v))
			continue;
		if ((err = expect_seq(p, v, kind_list[kd])))
			return err;
		for (yaml_node_item_t *it = v->data.sequence.items.start;
		     it < v->data.sequence.items.top; it++)
			if ((err = parse_entry(p, m, kd, get_node(p, *it))))
				return err;
	}
	p->what[0] = '\0';
	return PS_OK;
}

/* libyaml's view of a syntax error, as "<file>:<line>:<col>: malformed YAML: ...". */
static enum ps_err yaml_error(const char *file, const yaml_parser_t *yp, const char *buf,
                              size_t len, struct ps_diag *diag)
{
	if (yp->error == YAML_MEMORY_ERROR)
		return ps_diag_set(diag, PS_ENOMEM, "%s: out of memory", file);
	size_t line = yp->problem_mark.line + 1, col = yp->problem_mark.column + 1;
	const char *problem = yp->problem ? yp->problem : "unknown error";
	if (yp->error == YAML_READER_ERROR) {
		/* The reader reports a byte offset only. */
		line = 1;
		col = 1;
		for (size_t i = 0; i < yp->problem_offset && i < len; i++) {
			if (buf[i] == '\n') {
				line++;
				col = 1;
			} else if (((unsigned char)buf[i] & 0xc0) != 0x80) {
				col++;
			}
		}
	}
	if (yp->context)
		return ps_diag_set(
		    diag, PS_EPARSE, "%s:%zu:%zu: malformed YAML: %s (%s at line %zu, column %zu)",
		    file, line, col, problem, yp->context, (size_t)yp->context_mark.line + 1,
		    (size_t)yp->context_mark.column + 1);
	return ps_diag_set(diag, PS_EPARSE, "%s:%zu:%zu: malformed YAML: %s", file, line, col,
	                   problem);
}

/* Zeroes every scalar of <doc> before libyaml frees it: the document holds tokens and keys. */
static void scrub_doc(yaml_document_t *doc)
{
	for (yaml_node_t *n = doc->nodes.start; n && n < doc->nodes.top; n++)
		if (n->type == YAML_SCALAR_NODE && n->data.scalar.value)
			kc_zero(n->data.scalar.value, n->data.scalar.length);
}

/* The absolute directory of <file> into an owned string. */
static enum ps_err file_dir(const char *file, char **out, struct ps_diag *diag)
{
	const char *slash = strrchr(file, '/');
	char cwd[4096];
	if (file[0] != '/' && !getcwd(cwd, sizeof(cwd)))
		return ps_diag_set(diag, PS_EIO, "%s: cannot resolve relative paths: getcwd: %s",
		                   file, strerror(errno));
	size_t dl = slash ? (size_t)(slash - file) : 0;
	if (file[0] == '/') {
		*out = dl ? ps_strndup(file, dl) : ps_strdup("/");
	} else {
		size_t cl = strlen(cwd);
		*out = ps_malloc(cl + dl + 2);
		if (*out) {
			memcpy(*out, cwd, cl);
			if (dl) {
				(*out)[cl] = '/';
				memcpy(*out + cl + 1, file, dl);
				(*out)[cl + 1 + dl] = '\0';
			} else {
				(*out)[cl] = '\0';
			}
		}
	}
	return *out ? PS_OK : ps_diag_set(diag, PS_ENOMEM, "%s: out of memory", file);
}

/* Parses the file m->files[index] into <m>. <skip_missing>: a file that does not exist is
 * skipped (the KUBECONFIG list); returns PS_ENOENT then, without a diag. */
static enum ps_err load_file(struct kc_merged *m, size_t index, bool skip_missing,
                             struct ps_diag *diag)
{
	const char *file = m->files[index];
	struct kcfg_bytes data;
	struct ps_diag d;
	enum ps_err err = kc_read_file(file, KC_MAX_KUBECONFIG, &data, &d);
	if (err == PS_ENOENT && skip_missing)
		return PS_ENOENT;
	if (err) {
		if (diag)
			*diag = d;
		return err;
	}
	char *dir = NULL;
	if ((err = file_dir(file, &dir, diag))) {
		kc_bytes_free_secret(&data);
		return err;
	}
	yaml_parser_t yp;
	if (!yaml_parser_initialize(&yp)) {
		ps_free(dir);
		kc_bytes_free_secret(&data);
		return ps_diag_set(diag, PS_ENOMEM, "%s: out of memory", file);
	}
	yaml_parser_set_input_string(&yp, (const unsigned char *)data.data, data.len);
	yaml_document_t doc;
	if (!yaml_parser_load(&yp, &doc)) {
		err = yaml_error(file, &yp, data.data, data.len, diag);
	} else {
		struct pctx p = {
		    .file = file, .dir = dir, .file_index = index, .doc = &doc, .diag = diag};
		err = parse_root(&p, m, yaml_document_get_root_node(&doc));
		scrub_doc(&doc);
		yaml_document_delete(&doc);
	}
	yaml_parser_delete(&yp);
	ps_free(dir);
	kc_bytes_free_secret(&data);
	return err;
}

static enum ps_err add_file(struct kc_merged *m, const char *path, size_t len, size_t *cap,
                            struct ps_diag *diag)
{
	for (size_t i = 0; i < m->n_files; i++)
		if (strlen(m->files[i]) == len && strncmp(m->files[i], path, len) == 0)
			return PS_OK; /* client-go drops duplicates from the list */
	char **files = grow(m->files, m->n_files, cap, sizeof(*files));
	if (!files)
		return ps_diag_set(diag, PS_ENOMEM, "kubeconfig: out of memory");
	m->files = files;
	m->files[m->n_files] = ps_strndup(path, len);
	if (!m->files[m->n_files])
		return ps_diag_set(diag, PS_ENOMEM, "kubeconfig: out of memory");
	m->n_files++;
	return PS_OK;
}

/* Drops file <i> from the list (it does not exist). */
static void drop_file(struct kc_merged *m, size_t i)
{
	ps_free(m->files[i]);
	memmove(&m->files[i], &m->files[i + 1], (m->n_files - i - 1) * sizeof(*m->files));
	m->n_files--;
}

static enum ps_err join_origin(struct kc_merged *m, struct ps_diag *diag)
{
	size_t len = 1;
	for (size_t i = 0; i < m->n_files; i++)
		len += strlen(m->files[i]) + 1;
	m->origin = ps_malloc(len);
	if (!m->origin)
		return ps_diag_set(diag, PS_ENOMEM, "kubeconfig: out of memory");
	size_t o = 0;
	for (size_t i = 0; i < m->n_files; i++) {
		if (i)
			m->origin[o++] = ':';
		size_t l = strlen(m->files[i]);
		memcpy(m->origin + o, m->files[i], l);
		o += l;
	}
	m->origin[o] = '\0';
	return PS_OK;
}

enum ps_err kc_merged_load(const char *explicit_path, struct kc_merged **out, struct ps_diag *diag)
{
	*out = NULL;
	struct kc_merged *m = ps_calloc(1, sizeof(*m));
	if (!m)
		return ps_diag_set(diag, PS_ENOMEM, "kubeconfig: out of memory");
	size_t cap = 0;
	enum ps_err err = PS_OK;
	const char *env = getenv("KUBECONFIG");
	bool from_list = false;
	char *home_path = NULL;
	if (explicit_path && explicit_path[0]) {
		err = add_file(m, explicit_path, strlen(explicit_path), &cap, diag);
	} else if (env && env[0]) {
		from_list = true;
		for (const char *s = env; !err;) {
			const char *colon = strchr(s, ':');
			size_t len = colon ? (size_t)(colon - s) : strlen(s);
			if (len) /* an empty entry is ignored, as kubectl does */
				err = add_file(m, s, len, &cap, diag);
			if (!colon)
				break;
			s = colon + 1;
		}
		if (!err && m->n_files == 0)
			err = ps_diag_set(diag, PS_ENOENT, "KUBECONFIG=\"%s\" names no file", env);
	} else {
		const char *home = getenv("HOME");
		if (!home || !home[0]) {
			err =
			    ps_diag_set(diag, PS_ENOENT,
			                "no kubeconfig: neither --kubeconfig, KUBECONFIG nor HOME "
			                "is set");
		} else {
			home_path = kc_resolve_path(home, ".kube/config");
			err = home_path ? add_file(m, home_path, strlen(home_path), &cap, diag)
			                : ps_diag_set(diag, PS_ENOMEM, "kubeconfig: out of memory");
		}
	}
	ps_free(home_path);
	for (size_t i = 0; !err && i < m->n_files;) {
		err = load_file(m, i, from_list, diag);
		if (err == PS_ENOENT && from_list) {
			drop_file(m, i); /* client-go skips listed files that do not exist */
			err = PS_OK;
			continue;
		}
		i++; /* files before <i> keep their index: entries refer to it */
	}
	if (!err && m->n_files == 0)
		err =
		    ps_diag_set(diag, PS_ENOENT, "no kubeconfig: none of KUBECONFIG=\"%s\" exists",
		                env ? env : "");
	if (!err)
		err = join_origin(m, diag);
	if (err) {
		kc_merged_free(m);
		return err;
	}
	*out = m;
	return PS_OK;
}
