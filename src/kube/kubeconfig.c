/* kubeconfig.c -- the Kubernetes connection configuration: building it from a kubeconfig
 * context or the service account, and handing out credentials at request time.
 *
 * DESIGN
 * A struct kcfg is built by one thread (a loader) and is immutable afterwards: server, TLS
 * material, namespace, names and the auth settings may be read by any thread without a lock.
 * The only mutable part is the credential cache in <state>, under <state->lock>:
 *   - <cur>, the current struct cred (a reference-counted, immutable snapshot). A request
 *     takes a reference (kcfg_credentials) and drops it when done (kcfg_cred_unref), so a
 *     refresh by another thread never frees a token that a request is still sending.
 *   - <stale>, set by kcfg_token_invalidate() after a 401, but only when the rejected
 *     snapshot is still <cur>: N workers hit by the same 401 cause one refresh.
 *   - <read_ms> and <fid>, when and what was last read from the token file.
 * kcfg_credentials() may be called from any worker thread. It holds the lock while it
 * refreshes (reads the token file, or runs the exec plugin for up to its timeout), so exactly
 * one thread refreshes and the others wait for the result instead of running the plugin again.
 * kcfg_free() must not race with any other call on the same kcfg; snapshots outlive it.
 * Secrets: tokens and keys live in buffers that are zeroed before they are freed; nothing here
 * logs, and diag messages name files, users and plugins, never a credential.
 */
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "kubecfg_int.h"
#include "kubeconfig.h"
#include "ps_alloc.h"

enum auth_kind {
	AUTH_NONE,  /* anonymous or client certificate only */
	AUTH_TOKEN, /* a static token */
	AUTH_FILE,  /* a token file, re-read */
	AUTH_EXEC,  /* an exec plugin */
};

/* A credential snapshot: the public part first, so a struct kcfg_cred * is a struct cred *. */
struct cred {
	struct kcfg_cred pub;
	atomic_int refs;
	char *token; /* secret */
	struct kcfg_bytes cert;
	struct kcfg_bytes key; /* secret */
};

/* Identity of a token file when it was read: a change means "read it again". */
struct file_id {
	dev_t dev;
	ino_t ino;
	off_t size;
	time_t mtime_s;
	long mtime_ns;
};

struct kcfg_state {
	enum auth_kind kind; /* immutable */
	bool watch_file;     /* immutable: stat the token file on every call (kubeconfig) */
	pthread_mutex_t lock;
	struct cred *cur;        /* protected by <lock>; NULL: nothing fetched yet */
	bool stale;              /* protected by <lock>: refresh at the next call */
	int64_t read_ms;         /* protected by <lock>: wall ms of the last token-file read */
	struct file_id fid;      /* protected by <lock>: the token file at that read */
	int64_t exec_timeout_ms; /* protected by <lock> */
};

/* ---- credential snapshots ---- */

static void cred_free(struct cred *cr)
{
	if (cr->token)
		ps_free_secret(cr->token, strlen(cr->token));
	kc_bytes_free(&cr->cert);
	kc_bytes_free_secret(&cr->key);
	ps_free(cr);
}

void kcfg_cred_unref(const struct kcfg_cred *pub)
{
	if (!pub)
		return;
	struct cred *cr = (struct cred *)(uintptr_t)pub;
	if (atomic_fetch_sub(&cr->refs, 1) == 1)
		cred_free(cr);
}

/* A new snapshot with one reference, taking ownership of <token> and of the exec result's
 * certificate and key (the result is left empty). NULL when out of memory (nothing taken). */
static struct cred *cred_new(char **token, struct kc_exec_result *r)
{
	struct cred *cr = ps_calloc(1, sizeof(*cr));
	if (!cr)
		return NULL;
	atomic_init(&cr->refs, 1);
	if (token) {
		cr->token = *token;
		*token = NULL;
	}
	if (r) {
		cr->cert = r->cert;
		cr->key = r->key;
		r->cert = (struct kcfg_bytes){0};
		r->key = (struct kcfg_bytes){0};
		cr->pub.expires_ms = r->expires_ms;
	}
	cr->pub.token = cr->token;
	cr->pub.cert_pem = cr->cert.data;
	cr->pub.cert_len = cr->cert.len;
	cr->pub.key_pem = cr->key.data;
	cr->pub.key_len = cr->key.len;
	return cr;
}

/* Replaces the cached snapshot (lock held). */
static void set_cur(struct kcfg_state *s, struct cred *cr)
{
	if (s->cur)
		kcfg_cred_unref(&s->cur->pub);
	s->cur = cr;
	s->stale = false;
}

/* ---- token files ---- */

static bool is_space(char c)
{
	return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f';
}

/* Reads the token in <path> (white space around it trimmed, as client-go does) into an owned
 * secret string. */
static enum ps_err read_token(const char *path, char **out, struct ps_diag *diag)
{
	*out = NULL;
	struct kcfg_bytes b;
	enum ps_err err = kc_read_file(path, KC_MAX_TOKEN_FILE, &b, diag);
	if (err) {
		ps_diag_prefix(diag, "token file");
		return err;
	}
	size_t start = 0, end = b.len;
	while (start < end && is_space(b.data[start]))
		start++;
	while (end > start && is_space(b.data[end - 1]))
		end--;
	if (start == end)
		err = ps_diag_set(diag, PS_ECONFIG, "token file \"%s\" is empty", path);
	else if (!(*out = ps_strndup(b.data + start, end - start)))
		err = ps_diag_set(diag, PS_ENOMEM, "token file \"%s\": out of memory", path);
	kc_bytes_free_secret(&b);
	return err;
}

static bool file_id_of(const char *path, struct file_id *id)
{
	struct stat st;
	if (stat(path, &st) != 0)
		return false;
	*id = (struct file_id){st.st_dev, st.st_ino, st.st_size, st.st_mtim.tv_sec,
	                       st.st_mtim.tv_nsec};
	return true;
}

static bool file_id_eq(const struct file_id *a, const struct file_id *b)
{
	return a->dev == b->dev && a->ino == b->ino && a->size == b->size &&
	       a->mtime_s == b->mtime_s && a->mtime_ns == b->mtime_ns;
}

/* Refreshes from the token file when due (lock held). */
static enum ps_err refresh_file(struct kcfg *c, int64_t now_ms, struct ps_diag *diag)
{
	struct kcfg_state *s = c->state;
	struct file_id id = {0};
	bool have_id = file_id_of(c->token_file, &id);
	bool due = !s->cur || s->stale || now_ms - s->read_ms >= KCFG_TOKEN_FILE_PERIOD_MS ||
	           now_ms < s->read_ms;
	if (!due && s->watch_file)
		due = !have_id || !file_id_eq(&id, &s->fid);
	if (!due)
		return PS_OK;
	char *token;
	enum ps_err err = read_token(c->token_file, &token, diag);
	if (err)
		return err;
	struct cred *cr = cred_new(&token, NULL);
	if (!cr) {
		ps_free_secret(token, strlen(token));
		return ps_diag_set(diag, PS_ENOMEM, "token file \"%s\": out of memory",
		                   c->token_file);
	}
	set_cur(s, cr);
	s->read_ms = now_ms;
	s->fid = id;
	return PS_OK;
}

/* Runs the exec plugin when due (lock held). */
static enum ps_err refresh_exec(struct kcfg *c, int64_t now_ms, struct ps_diag *diag)
{
	struct kcfg_state *s = c->state;
	bool due =
	    !s->cur || s->stale ||
	    (s->cur->pub.expires_ms && now_ms >= s->cur->pub.expires_ms - KCFG_EXEC_REFRESH_MS);
	if (!due)
		return PS_OK;
	struct kc_exec_result r;
	enum ps_err err = kc_exec_run(c, s->exec_timeout_ms, &r, diag);
	if (err)
		return err;
	struct cred *cr = cred_new(&r.token, &r);
	if (!cr) {
		kc_exec_result_release(&r);
		return ps_diag_set(diag, PS_ENOMEM, "exec plugin \"%s\": out of memory",
		                   c->exec->command);
	}
	set_cur(s, cr);
	return PS_OK;
}

enum ps_err kcfg_credentials(struct kcfg *c, int64_t now_ms, const struct kcfg_cred **out,
                             struct ps_diag *diag)
{
	PS_ASSERT(c && out);
	*out = NULL;
	struct kcfg_state *s = c->state;
	enum ps_err err = PS_OK;
	pthread_mutex_lock(&s->lock);
	if (s->kind == AUTH_FILE)
		err = refresh_file(c, now_ms, diag);
	else if (s->kind == AUTH_EXEC)
		err = refresh_exec(c, now_ms, diag);
	if (!err) {
		atomic_fetch_add(&s->cur->refs, 1);
		*out = &s->cur->pub;
	}
	pthread_mutex_unlock(&s->lock);
	return err;
}

void kcfg_token_invalidate(struct kcfg *c, const struct kcfg_cred *rejected)
{
	struct kcfg_state *s = c->state;
	pthread_mutex_lock(&s->lock);
	if ((s->kind == AUTH_FILE || s->kind == AUTH_EXEC) &&
	    (!rejected || (s->cur && rejected == &s->cur->pub)))
		s->stale = true;
	pthread_mutex_unlock(&s->lock);
}

void kcfg_set_exec_timeout_ms(struct kcfg *c, int64_t timeout_ms)
{
	pthread_mutex_lock(&c->state->lock);
	c->state->exec_timeout_ms = timeout_ms > 0 ? timeout_ms : KCFG_EXEC_TIMEOUT_MS;
	pthread_mutex_unlock(&c->state->lock);
}

void kcfg_tls(const struct kcfg *c, const struct kcfg_cred *cred, struct http_tls *out)
{
	*out = (struct http_tls){0};
	out->ca_pem = c->ca.data;
	out->ca_len = c->ca.len;
	out->insecure_skip_verify = c->insecure_skip_tls_verify;
	if (cred && cred->cert_pem) {
		out->cert_pem = cred->cert_pem;
		out->cert_len = cred->cert_len;
		out->key_pem = cred->key_pem;
		out->key_len = cred->key_len;
	} else {
		out->cert_pem = c->client_cert.data;
		out->cert_len = c->client_cert.len;
		out->key_pem = c->client_key.data;
		out->key_len = c->client_key.len;
	}
}

/* ---- building a kcfg ---- */

void kcfg_free(struct kcfg *c)
{
	if (!c)
		return;
	ps_free(c->origin);
	ps_free(c->context);
	ps_free(c->cluster);
	ps_free(c->user);
	ps_free(c->server);
	ps_free(c->tls_server_name);
	ps_free(c->namespace);
	kc_bytes_free(&c->ca);
	kc_bytes_free(&c->client_cert);
	kc_bytes_free_secret(&c->client_key);
	if (c->token)
		ps_free_secret(c->token, strlen(c->token));
	ps_free(c->token_file);
	kc_exec_free(c->exec);
	if (c->state) {
		if (c->state->cur)
			kcfg_cred_unref(&c->state->cur->pub);
		pthread_mutex_destroy(&c->state->lock);
		ps_free(c->state);
	}
	ps_free(c);
}

static enum ps_err nomem(struct ps_diag *diag, const char *origin)
{
	return ps_diag_set(diag, PS_ENOMEM, "%s: out of memory", origin);
}

/* A new, empty kcfg with its state (no credentials yet). */
static enum ps_err kcfg_alloc(enum kcfg_source source, const char *origin, struct kcfg **out,
                              struct ps_diag *diag)
{
	struct kcfg *c = ps_calloc(1, sizeof(*c));
	if (!c)
		return nomem(diag, origin);
	c->source = source;
	c->state = ps_calloc(1, sizeof(*c->state));
	if (!c->state || !(c->origin = ps_strdup(origin))) {
		ps_free(c->state);
		c->state = NULL;
		kcfg_free(c);
		return nomem(diag, origin);
	}
	if (pthread_mutex_init(&c->state->lock, NULL) != 0) {
		ps_free(c->state);
		c->state = NULL;
		kcfg_free(c);
		return nomem(diag, origin);
	}
	c->state->exec_timeout_ms = KCFG_EXEC_TIMEOUT_MS;
	*out = c;
	return PS_OK;
}

/* Chooses how requests authenticate and prepares the cache: a snapshot now for the static
 * kinds, a first read of the token file so that a missing one fails the load. */
static enum ps_err init_auth(struct kcfg *c, bool watch_file, struct ps_diag *diag)
{
	struct kcfg_state *s = c->state;
	s->watch_file = watch_file;
	s->kind = c->token_file ? AUTH_FILE
	          : c->token    ? AUTH_TOKEN
	          : c->exec     ? AUTH_EXEC
	                        : AUTH_NONE;
	if (s->kind == AUTH_FILE) {
		char *token;
		enum ps_err err = read_token(c->token_file, &token, diag);
		if (err)
			return err;
		ps_free_secret(token, strlen(token)); /* read again, and dated, at the first call */
		return PS_OK;
	}
	if (s->kind == AUTH_EXEC)
		return PS_OK;
	char *token = NULL;
	if (c->token && !(token = ps_strdup(c->token)))
		return nomem(diag, c->origin);
	s->cur = cred_new(token ? &token : NULL, NULL);
	if (!s->cur) {
		if (token)
			ps_free_secret(token, strlen(token));
		return nomem(diag, c->origin);
	}
	return PS_OK;
}

/* Naive search for <needle> in the first <len> bytes of <hay>. */
static bool contains(const char *hay, size_t len, const char *needle)
{
	size_t n = strlen(needle);
	for (size_t i = 0; i + n <= len; i++)
		if (memcmp(hay + i, needle, n) == 0)
			return true;
	return false;
}

/* TLS material must be PEM; better said at load than as a TLS failure on the first call. */
static enum ps_err check_pem(const struct kcfg_bytes *b, const char *entry, const char *what,
                             struct ps_diag *diag)
{
	if (!b->data || contains(b->data, b->len, "-----BEGIN "))
		return PS_OK;
	return ps_diag_set(diag, PS_ECONFIG, "%s: %s is not PEM (no \"-----BEGIN\" line)", entry,
	                   what);
}

/* <data> when set (taken from the entry), else the file at <path> read into memory. */
static enum ps_err take_or_read(struct kcfg_bytes *data, const char *path, const char *entry,
                                const char *key, struct kcfg_bytes *out, struct ps_diag *diag)
{
	if (data->data) {
		*out = *data;
		*data = (struct kcfg_bytes){0};
		return PS_OK;
	}
	if (!path)
		return PS_OK;
	enum ps_err err = kc_read_file(path, KC_MAX_PEM_FILE, out, diag);
	if (err)
		ps_diag_prefix(diag, "%s: %s", entry, key);
	return err;
}

/* The server URL as client-go reads it: https:// when no scheme, no trailing slash. */
static enum ps_err set_server(struct kcfg *c, const struct kc_cluster *cl, const char *entry,
                              struct ps_diag *diag)
{
	const char *s = cl->server;
	if (!s || !s[0])
		return ps_diag_set(diag, PS_ECONFIG, "%s:%zu:%zu: %s has no server", cl->loc.file,
		                   cl->loc.line, cl->loc.col, entry);
	const char *scheme = strstr(s, "://");
	if (scheme && strncmp(s, "https://", 8) != 0 && strncmp(s, "http://", 7) != 0)
		return ps_diag_set(diag, PS_ECONFIG,
		                   "%s:%zu:%zu: %s: server \"%.100s\" is not an http(s) URL",
		                   cl->loc.file, cl->loc.line, cl->loc.col, entry, s);
	size_t len = strlen(s);
	while (len && s[len - 1] == '/')
		len--;
	const char *prefix = scheme ? "" : "https://";
	size_t pl = strlen(prefix);
	c->server = ps_malloc(pl + len + 1);
	if (!c->server)
		return nomem(diag, c->origin);
	memcpy(c->server, prefix, pl);
	memcpy(c->server + pl, s, len);
	c->server[pl + len] = '\0';
	return PS_OK;
}

static enum ps_err take_cluster(struct kcfg *c, struct kc_cluster *cl, struct ps_diag *diag)
{
	char entry[200];
	snprintf(entry, sizeof(entry), "cluster \"%.150s\"", cl->name);
	enum ps_err err = set_server(c, cl, entry, diag);
	if (err)
		return err;
	if (cl->tls_server_name && cl->tls_server_name[0] &&
	    !(c->tls_server_name = ps_strdup(cl->tls_server_name)))
		return nomem(diag, c->origin);
	c->insecure_skip_tls_verify = cl->insecure;
	if ((err = take_or_read(&cl->ca_data, cl->ca_path, entry, "certificate-authority", &c->ca,
	                        diag)))
		return err;
	if (c->ca.data && c->insecure_skip_tls_verify)
		return ps_diag_set(diag, PS_ECONFIG,
		                   "%s:%zu:%zu: %s sets both insecure-skip-tls-verify and a "
		                   "certificate authority; kubectl refuses this too, keep one",
		                   cl->loc.file, cl->loc.line, cl->loc.col, entry);
	return check_pem(&c->ca, entry, "the certificate authority", diag);
}

static enum ps_err check_exec(const struct kcfg_exec *e, const struct kc_user *u, const char *entry,
                              struct ps_diag *diag)
{
	if (!e->command || !e->command[0])
		return ps_diag_set(diag, PS_ECONFIG, "%s:%zu:%zu: %s: exec.command is empty",
		                   u->loc.file, u->loc.line, u->loc.col, entry);
	if (!e->api_version || (strcmp(e->api_version, KCFG_EXEC_API_V1) != 0 &&
	                        strcmp(e->api_version, KCFG_EXEC_API_V1BETA1) != 0))
		return ps_diag_set(diag, PS_ECONFIG,
		                   "%s:%zu:%zu: %s: exec.apiVersion \"%.80s\" is not supported "
		                   "(use %s or %s)",
		                   u->loc.file, u->loc.line, u->loc.col, entry,
		                   e->api_version ? e->api_version : "", KCFG_EXEC_API_V1,
		                   KCFG_EXEC_API_V1BETA1);
	if (e->interactive_mode == KCFG_INTERACTIVE_ALWAYS)
		return ps_diag_set(diag, PS_ECONFIG,
		                   "%s:%zu:%zu: %s: exec.interactiveMode is Always, but prescale "
		                   "runs plugins without a terminal (use Never or IfAvailable)",
		                   u->loc.file, u->loc.line, u->loc.col, entry);
	return PS_OK;
}

static enum ps_err take_user(struct kcfg *c, struct kc_user *u, struct ps_diag *diag)
{
	char entry[200];
	snprintf(entry, sizeof(entry), "user \"%.150s\"", u->name);
	if (u->unsupported)
		return ps_diag_set(diag, PS_ECONFIG,
		                   "%s:%zu:%zu: %s: %s is not supported by prescale (use a token, "
		                   "tokenFile, a client certificate or an exec plugin)",
		                   u->loc.file, u->loc.line, u->loc.col, entry, u->unsupported);
	enum ps_err err;
	if ((err = take_or_read(&u->cert_data, u->cert_path, entry, "client-certificate",
	                        &c->client_cert, diag)) ||
	    (err = take_or_read(&u->key_data, u->key_path, entry, "client-key", &c->client_key,
	                        diag)))
		return err;
	if (!c->client_cert.data != !c->client_key.data)
		return ps_diag_set(diag, PS_ECONFIG,
		                   "%s:%zu:%zu: %s has a client %s but no client %s", u->loc.file,
		                   u->loc.line, u->loc.col, entry,
		                   c->client_cert.data ? "certificate" : "key",
		                   c->client_cert.data ? "key" : "certificate");
	if ((err = check_pem(&c->client_cert, entry, "the client certificate", diag)) ||
	    (err = check_pem(&c->client_key, entry, "the client key", diag)))
		return err;
	if (u->exec && (err = check_exec(u->exec, u, entry, diag)))
		return err;
	c->token = u->token;
	u->token = NULL;
	c->token_file = u->token_file;
	u->token_file = NULL;
	c->exec = u->exec;
	u->exec = NULL;
	return PS_OK;
}

/* Builds the kcfg of context <name> (NULL: current-context) of <m>, taking what it needs out
 * of <m>. */
static enum ps_err from_merged(struct kc_merged *m, const char *name, struct kcfg **out,
                               struct ps_diag *diag)
{
	if (!name || !name[0])
		name = m->current_context;
	if (!name)
		return ps_diag_set(diag, PS_ECONFIG,
		                   "no current-context is set in %s; choose one with --context",
		                   m->origin);
	const struct kc_context *ctx = kc_find_context(m, name);
	if (!ctx)
		return ps_diag_set(diag, PS_ECONFIG, "context \"%s\" not found in %s", name,
		                   m->origin);
	if (!ctx->cluster || !ctx->cluster[0])
		return ps_diag_set(diag, PS_ECONFIG, "%s:%zu:%zu: context \"%s\" names no cluster",
		                   ctx->loc.file, ctx->loc.line, ctx->loc.col, name);
	struct kc_cluster *cl = kc_find_cluster(m, ctx->cluster);
	if (!cl)
		return ps_diag_set(diag, PS_ECONFIG,
		                   "cluster \"%s\" of context \"%s\" not found in %s", ctx->cluster,
		                   name, m->origin);
	struct kc_user *u = NULL;
	if (ctx->user && ctx->user[0] && !(u = kc_find_user(m, ctx->user)))
		return ps_diag_set(diag, PS_ECONFIG,
		                   "user \"%s\" of context \"%s\" not found in %s", ctx->user, name,
		                   m->origin);
	struct kcfg *c;
	enum ps_err err = kcfg_alloc(KCFG_SOURCE_KUBECONFIG, m->origin, &c, diag);
	if (err)
		return err;
	const char *ns = ctx->namespace && ctx->namespace[0] ? ctx->namespace : "default";
	if (!(c->context = ps_strdup(name)) || !(c->cluster = ps_strdup(cl->name)) ||
	    (u && !(c->user = ps_strdup(u->name))) || !(c->namespace = ps_strdup(ns))) {
		err = nomem(diag, m->origin);
		goto fail;
	}
	if ((err = take_cluster(c, cl, diag)) || (u && (err = take_user(c, u, diag))) ||
	    (err = init_auth(c, true, diag)))
		goto fail;
	*out = c;
	return PS_OK;
fail:
	kcfg_free(c);
	return err;
}

enum ps_err kcfg_load_kubeconfig(const char *explicit_path, const char *context, struct kcfg **out,
                                 struct ps_diag *diag)
{
	PS_ASSERT(out);
	*out = NULL;
	struct kc_merged *m;
	enum ps_err err = kc_merged_load(explicit_path, &m, diag);
	if (err)
		return err;
	err = from_merged(m, context, out, diag);
	kc_merged_free(m);
	return err;
}

/* ---- in-cluster ---- */

static bool is_port(const char *s)
{
	long v = 0;
	if (!s[0] || strlen(s) > 5)
		return false;
	for (const char *p = s; *p; p++) {
		if (*p < '0' || *p > '9')
			return false;
		v = v * 10 + (*p - '0');
	}
	return v >= 1 && v <= 65535;
}

static bool is_host(const char *s)
{
	for (const char *p = s; *p; p++)
		if (is_space(*p) || *p == '/' || *p == '@' || *p == '?' || *p == '#')
			return false;
	return s[0] != '\0';
}

/* "https://<host>:<port>", an IPv6 host in brackets (net.JoinHostPort). */
static char *join_host_port(const char *host, const char *port)
{
	bool v6 = strchr(host, ':') && host[0] != '[';
	size_t len = strlen("https://") + strlen(host) + strlen(port) + 4;
	char *s = ps_malloc(len);
	if (s)
		snprintf(s, len, "https://%s%s%s:%s", v6 ? "[" : "", host, v6 ? "]" : "", port);
	return s;
}

enum ps_err kcfg_load_in_cluster(const char *sa_dir, struct kcfg **out, struct ps_diag *diag)
{
	PS_ASSERT(out);
	*out = NULL;
	const char *dir = sa_dir ? sa_dir : KCFG_SA_DIR;
	const char *host = getenv("KUBERNETES_SERVICE_HOST");
	const char *port = getenv("KUBERNETES_SERVICE_PORT");
	if (!host || !host[0] || !port || !port[0])
		return ps_diag_set(diag, PS_ECONFIG,
		                   "not running in a cluster: KUBERNETES_SERVICE_HOST and "
		                   "KUBERNETES_SERVICE_PORT must both be set");
	if (!is_host(host))
		return ps_diag_set(
		    diag, PS_ECONFIG,
		    "KUBERNETES_SERVICE_HOST=\"%.100s\" is not a host name or address", host);
	if (!is_port(port))
		return ps_diag_set(diag, PS_ECONFIG,
		                   "KUBERNETES_SERVICE_PORT=\"%.20s\" is not a port number", port);
	struct kcfg *c;
	enum ps_err err = kcfg_alloc(KCFG_SOURCE_IN_CLUSTER, dir, &c, diag);
	if (err)
		return err;
	char *ns_path = NULL, *ca_path = NULL;
	struct kcfg_bytes ns = {0};
	if (!(c->server = join_host_port(host, port)) ||
	    !(c->token_file = kc_resolve_path(dir, "token")) ||
	    !(ca_path = kc_resolve_path(dir, "ca.crt")) ||
	    !(ns_path = kc_resolve_path(dir, "namespace"))) {
		err = nomem(diag, dir);
		goto out;
	}
	if ((err = kc_read_file(ca_path, KC_MAX_PEM_FILE, &c->ca, diag))) {
		ps_diag_prefix(diag, "service account CA");
		goto out;
	}
	if ((err = check_pem(&c->ca, "service account", ca_path, diag)))
		goto out;
	/* The pod's namespace; a missing file (a token mounted by hand) means "default". */
	err = kc_read_file(ns_path, 256, &ns, diag);
	if (err && err != PS_ENOENT) {
		ps_diag_prefix(diag, "service account namespace");
		goto out;
	}
	if (err == PS_ENOENT)
		ps_diag_clear(diag);
	size_t a = 0, b = ns.len;
	while (a < b && is_space(ns.data[a]))
		a++;
	while (b > a && is_space(ns.data[b - 1]))
		b--;
	c->namespace = a < b ? ps_strndup(ns.data + a, b - a) : ps_strdup("default");
	if (!c->namespace) {
		err = nomem(diag, dir);
		goto out;
	}
	/* Kubelet rotates the projected token by swapping a symlink; re-read it once a minute. */
	err = init_auth(c, false, diag);
out:
	kc_bytes_free(&ns);
	ps_free(ns_path);
	ps_free(ca_path);
	if (err) {
		kcfg_free(c);
		return err;
	}
	*out = c;
	return PS_OK;
}

enum ps_err kcfg_load_auto(const char *explicit_path, const char *context, const char *sa_dir,
                           struct kcfg **out, struct ps_diag *diag)
{
	const char *env = getenv("KUBECONFIG");
	const char *host = getenv("KUBERNETES_SERVICE_HOST");
	const char *port = getenv("KUBERNETES_SERVICE_PORT");
	bool kubeconfig_given =
	    (explicit_path && explicit_path[0]) || (context && context[0]) || (env && env[0]);
	if (!kubeconfig_given && host && host[0] && port && port[0])
		return kcfg_load_in_cluster(sa_dir, out, diag);
	return kcfg_load_kubeconfig(explicit_path, context, out, diag);
}
