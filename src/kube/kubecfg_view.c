/* kubecfg_view.c -- the merged kubeconfig rendered as JSON, the shape of `kubectl config view
 * --merge -o json`, for tests against kubectl's own output and for debugging. */
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "kubecfg_int.h"
#include "ps_alloc.h"

/* Zeroes every string of <j> (the tree may hold tokens and keys) before cJSON frees it. */
static void scrub(cJSON *j)
{
	for (; j; j = j->next) {
		if (j->valuestring)
			kc_zero(j->valuestring, strlen(j->valuestring));
		scrub(j->child);
	}
}

static bool add_str(cJSON *o, const char *key, const char *value)
{
	return !value || cJSON_AddStringToObject(o, key, value);
}

static bool add_true(cJSON *o, const char *key, bool value)
{
	return !value || cJSON_AddBoolToObject(o, key, true);
}

/* A *-data field: base64 like kubectl, or "DATA+OMITTED" when redacted. */
static bool add_data(cJSON *o, const char *key, const struct kcfg_bytes *b, bool redact)
{
	if (!b->data)
		return true;
	if (redact)
		return cJSON_AddStringToObject(o, key, "DATA+OMITTED") != NULL;
	char *s = kc_base64_encode(b->data, b->len);
	if (!s)
		return false;
	bool ok = cJSON_AddStringToObject(o, key, s) != NULL;
	ps_free_secret(s, strlen(s));
	return ok;
}

static int cmp_cluster(const void *a, const void *b)
{
	return strcmp((*(const struct kc_cluster *const *)a)->name,
	              (*(const struct kc_cluster *const *)b)->name);
}

static int cmp_user(const void *a, const void *b)
{
	return strcmp((*(const struct kc_user *const *)a)->name,
	              (*(const struct kc_user *const *)b)->name);
}

static int cmp_context(const void *a, const void *b)
{
	return strcmp((*(const struct kc_context *const *)a)->name,
	              (*(const struct kc_context *const *)b)->name);
}

/* Appends {"name": <name>, <inner>: {}} to array <arr>; returns the inner object or NULL. */
static cJSON *add_named(cJSON *arr, const char *name, const char *inner)
{
	cJSON *e = cJSON_CreateObject();
	if (!e)
		return NULL;
	if (!cJSON_AddItemToArray(arr, e)) {
		cJSON_Delete(e);
		return NULL;
	}
	if (!cJSON_AddStringToObject(e, "name", name))
		return NULL;
	return cJSON_AddObjectToObject(e, inner);
}

static const char *interactive_name(enum kcfg_interactive m)
{
	switch (m) {
	case KCFG_INTERACTIVE_UNSET:
		return NULL;
	case KCFG_INTERACTIVE_NEVER:
		return "Never";
	case KCFG_INTERACTIVE_IF_AVAILABLE:
		return "IfAvailable";
	case KCFG_INTERACTIVE_ALWAYS:
		return "Always";
	}
	return NULL;
}

static bool add_exec(cJSON *u, const struct kcfg_exec *e)
{
	cJSON *x = cJSON_AddObjectToObject(u, "exec");
	if (!x || !add_str(x, "command", e->command ? e->command : ""))
		return false;
	/* Go renders nil slices as null: args and env have no omitempty. */
	cJSON *args =
	    e->n_args ? cJSON_AddArrayToObject(x, "args") : cJSON_AddNullToObject(x, "args");
	if (!args)
		return false;
	for (size_t i = 0; i < e->n_args; i++) {
		cJSON *s = cJSON_CreateString(e->args[i]);
		if (!s || !cJSON_AddItemToArray(args, s)) {
			cJSON_Delete(s);
			return false;
		}
	}
	cJSON *env = e->n_env ? cJSON_AddArrayToObject(x, "env") : cJSON_AddNullToObject(x, "env");
	if (!env)
		return false;
	for (size_t i = 0; i < e->n_env; i++) {
		cJSON *v = cJSON_CreateObject();
		if (!v || !cJSON_AddItemToArray(env, v)) {
			cJSON_Delete(v);
			return false;
		}
		if (!add_str(v, "name", e->env[i].name) || !add_str(v, "value", e->env[i].value))
			return false;
	}
	return add_str(x, "apiVersion", e->api_version) &&
	       add_str(x, "installHint", e->install_hint) &&
	       cJSON_AddBoolToObject(x, "provideClusterInfo", e->provide_cluster_info) &&
	       add_str(x, "interactiveMode", interactive_name(e->interactive_mode));
}

static bool build(const struct kc_merged *m, bool redact, cJSON *root, const void **sorted)
{
	if (!cJSON_AddStringToObject(root, "kind", "Config") ||
	    !cJSON_AddStringToObject(root, "apiVersion", "v1") ||
	    !cJSON_AddObjectToObject(root, "preferences"))
		return false;

	cJSON *arr = cJSON_AddArrayToObject(root, "clusters");
	if (!arr)
		return false;
	for (size_t i = 0; i < m->n_clusters; i++)
		sorted[i] = &m->clusters[i];
	qsort(sorted, m->n_clusters, sizeof(*sorted), cmp_cluster);
	for (size_t i = 0; i < m->n_clusters; i++) {
		const struct kc_cluster *c = sorted[i];
		cJSON *o = add_named(arr, c->name, "cluster");
		if (!o || !add_str(o, "server", c->server ? c->server : "") ||
		    !add_str(o, "tls-server-name", c->tls_server_name) ||
		    !add_true(o, "insecure-skip-tls-verify", c->insecure) ||
		    !add_str(o, "certificate-authority", c->ca_path) ||
		    !add_data(o, "certificate-authority-data", &c->ca_data, redact) ||
		    !add_str(o, "proxy-url", c->proxy_url) ||
		    !add_true(o, "disable-compression", c->disable_compression))
			return false;
	}

	if (!(arr = cJSON_AddArrayToObject(root, "users")))
		return false;
	for (size_t i = 0; i < m->n_users; i++)
		sorted[i] = &m->users[i];
	qsort(sorted, m->n_users, sizeof(*sorted), cmp_user);
	for (size_t i = 0; i < m->n_users; i++) {
		const struct kc_user *u = sorted[i];
		cJSON *o = add_named(arr, u->name, "user");
		if (!o || !add_str(o, "client-certificate", u->cert_path) ||
		    !add_data(o, "client-certificate-data", &u->cert_data, redact) ||
		    !add_str(o, "client-key", u->key_path) ||
		    !add_data(o, "client-key-data", &u->key_data, redact) ||
		    !add_str(o, "token", u->token && redact ? "REDACTED" : u->token) ||
		    !add_str(o, "tokenFile", u->token_file) || (u->exec && !add_exec(o, u->exec)))
			return false;
	}

	if (!(arr = cJSON_AddArrayToObject(root, "contexts")))
		return false;
	for (size_t i = 0; i < m->n_contexts; i++)
		sorted[i] = &m->contexts[i];
	qsort(sorted, m->n_contexts, sizeof(*sorted), cmp_context);
	for (size_t i = 0; i < m->n_contexts; i++) {
		const struct kc_context *c = sorted[i];
		cJSON *o = add_named(arr, c->name, "context");
		if (!o || !add_str(o, "cluster", c->cluster ? c->cluster : "") ||
		    !add_str(o, "user", c->user ? c->user : "") ||
		    !add_str(o, "namespace", c->namespace))
			return false;
	}
	return cJSON_AddStringToObject(root, "current-context",
	                               m->current_context ? m->current_context : "") != NULL;
}

enum ps_err kc_merged_json(const struct kc_merged *m, bool redact, char **out, struct ps_diag *diag)
{
	*out = NULL;
	kc_json_hooks();
	size_t most = m->n_clusters;
	if (m->n_users > most)
		most = m->n_users;
	if (m->n_contexts > most)
		most = m->n_contexts;
	const void **sorted = ps_calloc(most + 1, sizeof(*sorted));
	cJSON *root = sorted ? cJSON_CreateObject() : NULL;
	bool ok = root && build(m, redact, root, sorted);
	if (ok)
		*out = cJSON_Print(root);
	scrub(root);
	cJSON_Delete(root);
	ps_free(sorted);
	if (!*out)
		return ps_diag_set(diag, PS_ENOMEM, "%s: out of memory", m->origin);
	return PS_OK;
}

enum ps_err kcfg_view_json(const char *explicit_path, bool redact, char **out, struct ps_diag *diag)
{
	*out = NULL;
	struct kc_merged *m;
	enum ps_err err = kc_merged_load(explicit_path, &m, diag);
	if (err)
		return err;
	err = kc_merged_json(m, redact, out, diag);
	kc_merged_free(m);
	return err;
}
