/* prom_request.c -- the client configuration, the credential files and the HTTP request of a
 * query, built without any network.
 *
 * DESIGN
 * A struct prom_endpoint owns its struct prom_config and one struct wfile per credential file.
 * A wfile caches the file's content with the stat() it was read under (device, inode, size,
 * mtime, ctime); every request stat()s the path (following symlinks, so the `..data` swap of a
 * Kubernetes secret volume shows as a new inode) and re-reads only when something differs.
 * Secret contents (token, password, client key) are read into an exact-size allocation (no
 * realloc leaving copies behind) and zeroed before they are freed. The endpoint, like the
 * client around it, belongs to one thread.
 */
#include "prom.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "prom_int.h"
#include "ps_alloc.h"
#include "ps_buf.h"
#include "ps_parse.h"

/* The part of the server timeout kept free for the answer to arrive: a tenth, at most: */
#define SERVER_TIMEOUT_MARGIN_MAX_MS 500
/* Cap of the encoded parameters: every byte of the query may become %XX. */
#define PARAMS_MAX (PROM_MAX_QUERY * 3 + 4096)

/* ---- configuration ---- */

void prom_config_init(struct prom_config *c)
{
	PS_ASSERT(c);
	memset(c, 0, sizeof(*c));
}

static void kv_release(struct prom_kv *v, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		ps_free(v[i].name);
		ps_free(v[i].value);
	}
	ps_free(v);
}

void prom_config_release(struct prom_config *c)
{
	if (!c)
		return;
	ps_free(c->url);
	ps_free(c->bearer_token_file);
	ps_free(c->basic_username);
	ps_free(c->basic_password_file);
	ps_free(c->ca_file);
	ps_free(c->cert_file);
	ps_free(c->key_file);
	kv_release(c->headers, c->n_headers);
	kv_release(c->params, c->n_params);
	prom_config_init(c);
}

static enum ps_err kv_add(struct prom_kv **v, size_t *n, const char *name, const char *value)
{
	PS_ASSERT(name && value);
	struct prom_kv *grown = ps_reallocarray(*v, *n + 1, sizeof(**v));
	if (!grown)
		return PS_ENOMEM;
	*v = grown;
	char *nm = ps_strdup(name), *val = ps_strdup(value);
	if (!nm || !val) {
		ps_free(nm);
		ps_free(val);
		return PS_ENOMEM;
	}
	grown[*n].name = nm;
	grown[*n].value = val;
	(*n)++;
	return PS_OK;
}

enum ps_err prom_config_add_header(struct prom_config *c, const char *name, const char *value)
{
	return kv_add(&c->headers, &c->n_headers, name, value);
}

enum ps_err prom_config_add_param(struct prom_config *c, const char *name, const char *value)
{
	return kv_add(&c->params, &c->n_params, name, value);
}

/* Sets *dst to a copy of <src>, or NULL when <src> is NULL. False when out of memory. */
static bool dup_opt(char **dst, const char *src)
{
	*dst = src ? ps_strdup(src) : NULL;
	return !src || *dst;
}

enum ps_err prom_config_from_cfg(const struct cfg_prometheus *p, struct prom_config *out,
                                 struct ps_diag *diag)
{
	PS_ASSERT(p && out);
	prom_config_init(out);
	bool ok =
	    dup_opt(&out->url, p->url) && dup_opt(&out->bearer_token_file, p->bearer_token_file);
	if (ok && p->has_basic_auth)
		ok = dup_opt(&out->basic_username, p->basic_auth.username) &&
		     dup_opt(&out->basic_password_file, p->basic_auth.password_file);
	if (ok && p->has_tls) {
		ok = dup_opt(&out->ca_file, p->tls.ca_file) &&
		     dup_opt(&out->cert_file, p->tls.cert_file) &&
		     dup_opt(&out->key_file, p->tls.key_file);
		out->insecure_skip_verify = p->tls.insecure_skip_verify;
	}
	for (size_t i = 0; ok && i < p->headers.n; i++)
		ok = prom_config_add_header(out, p->headers.v[i].name, p->headers.v[i].value) ==
		     PS_OK;
	for (size_t i = 0; ok && i < p->params.n; i++)
		ok = prom_config_add_param(out, p->params.v[i].name, p->params.v[i].value) == PS_OK;
	out->timeout_ms = p->timeout_ms;
	if (!ok) {
		prom_config_release(out);
		return ps_diag_set(diag, PS_ENOMEM, "prometheus: out of memory copying the config");
	}
	return PS_OK;
}

/* ---- watched files ---- */

struct wfile {
	const char *what; /* "bearer token file", for messages */
	const char *path; /* borrowed from the config; NULL: not configured */
	bool secret;      /* zero on free; refuse control bytes (token) */
	bool trim;        /* strip surrounding white space, as Prometheus does */
	size_t max;
	bool loaded, stale;
	struct stat st; /* what the cached content was read under */
	char *data;     /* NUL-terminated */
	size_t len;
	size_t alloc; /* bytes at <data>, for zeroing */
};

static bool same_file(const struct stat *a, const struct stat *b)
{
	return a->st_dev == b->st_dev && a->st_ino == b->st_ino && a->st_size == b->st_size &&
	       a->st_mtim.tv_sec == b->st_mtim.tv_sec && a->st_mtim.tv_nsec == b->st_mtim.tv_nsec &&
	       a->st_ctim.tv_sec == b->st_ctim.tv_sec && a->st_ctim.tv_nsec == b->st_ctim.tv_nsec;
}

static void wfile_drop(struct wfile *f)
{
	if (f->data) {
		if (f->secret)
			ps_free_secret(f->data, f->alloc);
		else
			ps_free(f->data);
	}
	f->data = NULL;
	f->len = f->alloc = 0;
	f->loaded = false;
}

static enum ps_err file_error(const struct wfile *f, int errnum, struct ps_diag *diag)
{
	enum ps_err err = errnum == ENOENT || errnum == ENOTDIR ? PS_ENOENT : PS_EIO;
	return ps_diag_set(diag, err, "prometheus: %s %s: %s", f->what, f->path, strerror(errnum));
}

static bool is_ws(char ch)
{
	return ch == ' ' || ch == '\t' || ch == '\r' || ch == '\n';
}

/* Reads the whole file behind <fd> (stat <st>) into an exact-size allocation. */
static enum ps_err wfile_read(struct wfile *f, int fd, const struct stat *st, struct ps_diag *diag)
{
	if (!S_ISREG(st->st_mode))
		return ps_diag_set(diag, PS_EIO, "prometheus: %s %s: not a regular file", f->what,
		                   f->path);
	if ((uintmax_t)st->st_size > f->max)
		return ps_diag_set(diag, PS_ETOOBIG, "prometheus: %s %s: larger than %zu bytes",
		                   f->what, f->path, f->max);
	size_t size = (size_t)st->st_size;
	/* One byte more than the size tells a file that grew while we read it. */
	size_t alloc = size + 2;
	char *data = ps_malloc(alloc);
	if (!data)
		return ps_diag_set(diag, PS_ENOMEM, "prometheus: out of memory reading %s %s",
		                   f->what, f->path);
	size_t got = 0;
	while (got < size + 1) {
		ssize_t n = read(fd, data + got, size + 1 - got);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			int e = errno;
			ps_free_secret(data, alloc);
			return file_error(f, e, diag);
		}
		if (n == 0)
			break;
		got += (size_t)n;
	}
	if (got > size) {
		ps_free_secret(data, alloc);
		return ps_diag_set(diag, PS_EIO, "prometheus: %s %s: changed while being read",
		                   f->what, f->path);
	}
	data[got] = '\0';
	size_t start = 0, end = got;
	if (f->trim) {
		while (start < end && is_ws(data[start]))
			start++;
		while (end > start && is_ws(data[end - 1]))
			end--;
		memmove(data, data + start, end - start);
		memset(data + (end - start), 0, alloc - (end - start));
	}
	size_t len = end - start;
	const char *bad = NULL;
	if (len == 0)
		bad = "is empty";
	for (size_t i = 0; f->trim && i < len && !bad; i++)
		if ((unsigned char)data[i] < 0x20 || data[i] == 0x7f)
			bad = "holds a control character (a line break inside?)";
	if (bad) {
		ps_free_secret(data, alloc);
		return ps_diag_set(diag, PS_EPARSE, "prometheus: %s %s %s", f->what, f->path, bad);
	}
	wfile_drop(f);
	f->data = data;
	f->len = len;
	f->alloc = alloc;
	f->st = *st;
	f->loaded = true;
	f->stale = false;
	return PS_OK;
}

/* Makes <f> hold the current content of its file, reading it again only when its stat()
 * differs from the cached one (or after prom_endpoint_invalidate()). */
static enum ps_err wfile_refresh(struct wfile *f, struct ps_diag *diag)
{
	if (!f->path)
		return PS_OK;
	struct stat st;
	if (stat(f->path, &st) != 0)
		return file_error(f, errno, diag);
	if (f->loaded && !f->stale && same_file(&st, &f->st))
		return PS_OK;
	int fd = open(f->path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return file_error(f, errno, diag);
	/* The stat of what we actually read, not of the path a moment ago. */
	enum ps_err err =
	    fstat(fd, &st) == 0 ? wfile_read(f, fd, &st, diag) : file_error(f, errno, diag);
	close(fd);
	return err;
}

/* ---- the endpoint ---- */

struct prom_endpoint {
	struct prom_config cfg; /* url without a trailing '/' */
	char url_diag[256];     /* the URL without userinfo, for messages */
	struct wfile token, password, ca, cert, key;
	bool has_accept; /* the configuration sets its own Accept header */
};

static bool is_token_char(char ch)
{
	return (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') ||
	       (ch && strchr("!#$%&'*+-.^_`|~", ch));
}

static bool is_header_name(const char *s)
{
	if (!*s)
		return false;
	for (; *s; s++)
		if (!is_token_char(*s))
			return false;
	return true;
}

static bool is_header_value(const char *s)
{
	for (; *s; s++)
		if (((unsigned char)*s < 0x20 && *s != '\t') || *s == 0x7f)
			return false;
	return true;
}

/* Checks the URL and writes its form for messages (no userinfo, at most the room given). */
static enum ps_err check_url(struct prom_endpoint *e, struct ps_diag *diag)
{
	char *u = e->cfg.url;
	if (!u || !*u)
		return ps_diag_set(diag, PS_ECONFIG, "prometheus: no url");
	const char *rest = strncmp(u, "http://", 7) == 0    ? u + 7
	                   : strncmp(u, "https://", 8) == 0 ? u + 8
	                                                    : NULL;
	if (!rest || !*rest || *rest == '/')
		return ps_diag_set(
		    diag, PS_ECONFIG,
		    "prometheus: url must be http://host[:port][/prefix] or https://...");
	for (const char *p = u; *p; p++)
		if ((unsigned char)*p <= ' ' || *p == 0x7f)
			return ps_diag_set(
			    diag, PS_ECONFIG,
			    "prometheus: url holds white space or a control character");
	if (strpbrk(u, "?#"))
		return ps_diag_set(diag, PS_ECONFIG,
		                   "prometheus: url must not have a query string or fragment; put "
		                   "query parameters in params");
	size_t n = strlen(u);
	while (n > 0 && u[n - 1] == '/')
		u[--n] = '\0';
	size_t auth_len = strcspn(rest, "/");
	const char *at = NULL;
	for (const char *p = rest; p < rest + auth_len; p++)
		if (*p == '@')
			at = p;
	if (at)
		snprintf(e->url_diag, sizeof(e->url_diag), "%.*s%s", (int)(rest - u), u, at + 1);
	else
		snprintf(e->url_diag, sizeof(e->url_diag), "%s", u);
	return PS_OK;
}

static enum ps_err check_config(struct prom_endpoint *e, struct ps_diag *diag)
{
	const struct prom_config *c = &e->cfg;
	enum ps_err err = check_url(e, diag);
	if (err)
		return err;
	if (c->timeout_ms < 0)
		return ps_diag_set(diag, PS_ECONFIG, "prometheus: negative timeout");
	if (c->bearer_token_file && c->basic_username)
		return ps_diag_set(diag, PS_ECONFIG,
		                   "prometheus: bearerTokenFile cannot be combined with basicAuth");
	if (!c->basic_username != !c->basic_password_file)
		return ps_diag_set(diag, PS_ECONFIG,
		                   "prometheus: basicAuth needs both username and passwordFile");
	if (!c->cert_file != !c->key_file)
		return ps_diag_set(diag, PS_ECONFIG,
		                   "prometheus: tls certFile and keyFile go together");
	if ((c->ca_file || c->cert_file) && strncmp(c->url, "https://", 8) != 0)
		return ps_diag_set(diag, PS_ECONFIG, "prometheus: tls files need an https:// url");
	for (size_t i = 0; i < c->n_headers; i++) {
		if (!is_header_name(c->headers[i].name))
			return ps_diag_set(diag, PS_ECONFIG,
			                   "prometheus: headers[%zu]: invalid header name", i);
		/* The value may be a secret: never quoted. */
		if (!is_header_value(c->headers[i].value))
			return ps_diag_set(diag, PS_ECONFIG,
			                   "prometheus: header %s: the value holds a line break or "
			                   "control character",
			                   c->headers[i].name);
		if (strcasecmp(c->headers[i].name, "Accept") == 0)
			e->has_accept = true;
	}
	for (size_t i = 0; i < c->n_params; i++)
		if (!*c->params[i].name)
			return ps_diag_set(diag, PS_ECONFIG, "prometheus: params[%zu]: empty name",
			                   i);
	return PS_OK;
}

static void wfile_setup(struct wfile *f, const char *what, const char *path, bool secret, bool trim,
                        size_t max)
{
	memset(f, 0, sizeof(*f));
	f->what = what;
	f->path = path;
	f->secret = secret;
	f->trim = trim;
	f->max = max;
}

enum ps_err prom_endpoint_new(struct prom_config *cfg, struct prom_endpoint **out,
                              struct ps_diag *diag)
{
	PS_ASSERT(cfg && out);
	*out = NULL;
	struct prom_endpoint *e = ps_calloc(1, sizeof(*e));
	if (!e) {
		prom_config_release(cfg);
		return ps_diag_set(diag, PS_ENOMEM, "prometheus: out of memory");
	}
	e->cfg = *cfg;
	prom_config_init(cfg);
	enum ps_err err = check_config(e, diag);
	if (err) {
		prom_endpoint_free(e);
		return err;
	}
	const struct prom_config *c = &e->cfg;
	wfile_setup(&e->token, "bearer token file", c->bearer_token_file, true, true,
	            PROM_MAX_SECRET_FILE);
	wfile_setup(&e->password, "basic auth password file", c->basic_password_file, true, true,
	            PROM_MAX_SECRET_FILE);
	wfile_setup(&e->ca, "tls caFile", c->ca_file, false, false, PROM_MAX_PEM_FILE);
	wfile_setup(&e->cert, "tls certFile", c->cert_file, false, false, PROM_MAX_PEM_FILE);
	wfile_setup(&e->key, "tls keyFile", c->key_file, true, false, PROM_MAX_PEM_FILE);
	*out = e;
	return PS_OK;
}

void prom_endpoint_free(struct prom_endpoint *e)
{
	if (!e)
		return;
	wfile_drop(&e->token);
	wfile_drop(&e->password);
	wfile_drop(&e->ca);
	wfile_drop(&e->cert);
	wfile_drop(&e->key);
	prom_config_release(&e->cfg);
	ps_free(e);
}

void prom_endpoint_invalidate(struct prom_endpoint *e)
{
	e->token.stale = e->password.stale = e->ca.stale = e->cert.stale = e->key.stale = true;
}

/* ---- encoding ---- */

char *prom_fmt_seconds(int64_t ms, char out[PROM_SEC_BUF])
{
	int64_t a = ms < 0 ? -ms : ms;
	int64_t frac = a % 1000;
	if (frac == 0) {
		snprintf(out, PROM_SEC_BUF, "%s%" PRId64, ms < 0 ? "-" : "", a / 1000);
		return out;
	}
	int digits = 3;
	while (frac % 10 == 0) {
		frac /= 10;
		digits--;
	}
	snprintf(out, PROM_SEC_BUF, "%s%" PRId64 ".%0*" PRId64, ms < 0 ? "-" : "", a / 1000, digits,
	         frac);
	return out;
}

/* Appends <s> encoded as application/x-www-form-urlencoded (what Go's url.QueryEscape writes:
 * unreserved bytes as they are, space as '+', the rest as %XX). */
static enum ps_err append_form(struct ps_buf *b, const char *s)
{
	static const char hex[] = "0123456789ABCDEF";
	enum ps_err err = PS_OK;
	for (const unsigned char *p = (const unsigned char *)s; *p && !err; p++) {
		unsigned char ch = *p;
		if ((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
		    (ch >= '0' && ch <= '9') || ch == '-' || ch == '.' || ch == '_' || ch == '~') {
			err = ps_buf_append(b, p, 1);
		} else if (ch == ' ') {
			err = ps_buf_append(b, "+", 1);
		} else {
			char esc[3] = {'%', hex[ch >> 4], hex[ch & 15]};
			err = ps_buf_append(b, esc, 3);
		}
	}
	return err;
}

/* Appends "&<name>=<value>" ("<name>=<value>" on an empty buffer), both encoded. */
static enum ps_err append_param(struct ps_buf *b, const char *name, const char *value)
{
	enum ps_err err = b->len ? ps_buf_append(b, "&", 1) : PS_OK;
	if (!err)
		err = append_form(b, name);
	if (!err)
		err = ps_buf_append(b, "=", 1);
	if (!err)
		err = append_form(b, value);
	return err;
}

/* ---- the request ---- */

void prom_request_release(struct prom_request *r)
{
	if (!r)
		return;
	ps_free(r->url);
	ps_free(r->body);
	ps_free(r->headers);
	memset(r, 0, sizeof(*r));
}

/* Checks <q> and works out its two timeouts. */
static enum ps_err check_query(const struct prom_endpoint *e, const struct prom_query *q,
                               int64_t *total_ms, int64_t *server_ms, struct ps_diag *diag)
{
	if (!q->promql || !*q->promql)
		return ps_diag_set(diag, PS_EINVAL, "prometheus: empty query");
	if (strlen(q->promql) > PROM_MAX_QUERY)
		return ps_diag_set(diag, PS_EINVAL, "prometheus: query longer than %zu bytes",
		                   PROM_MAX_QUERY);
	if (q->timeout_ms < 0 || q->server_timeout_ms < 0)
		return ps_diag_set(diag, PS_EINVAL, "prometheus: negative timeout");
	*total_ms = q->timeout_ms       ? q->timeout_ms
	            : e->cfg.timeout_ms ? e->cfg.timeout_ms
	                                : PROM_DEFAULT_TIMEOUT_MS;
	if (q->server_timeout_ms) {
		*server_ms = q->server_timeout_ms;
	} else {
		int64_t margin = *total_ms / 10;
		if (margin > SERVER_TIMEOUT_MARGIN_MAX_MS)
			margin = SERVER_TIMEOUT_MARGIN_MAX_MS;
		*server_ms = *total_ms - margin > 0 ? *total_ms - margin : 1;
	}
	if (q->kind == PROM_QUERY_RANGE) {
		char s1[PROM_SEC_BUF], s2[PROM_SEC_BUF];
		if (q->step_ms <= 0)
			return ps_diag_set(diag, PS_EINVAL, "prometheus: range step must be > 0");
		if (q->end_ms < q->start_ms)
			return ps_diag_set(
			    diag, PS_EINVAL, "prometheus: range end %s is before its start %s",
			    prom_fmt_seconds(q->end_ms, s1), prom_fmt_seconds(q->start_ms, s2));
		/* Both are Unix ms far from the int64 limits, so the difference fits. */
		int64_t points = (q->end_ms - q->start_ms) / q->step_ms + 1;
		if (points > PROM_MAX_RANGE_POINTS)
			return ps_diag_set(diag, PS_EINVAL,
			                   "prometheus: range of %" PRId64 " points per series; "
			                   "Prometheus allows %" PRId64 ": use a larger step",
			                   points, PROM_MAX_RANGE_POINTS);
	}
	return PS_OK;
}

/* The query's own parameters: query, time or start/end/step, timeout. */
static enum ps_err query_params(const struct prom_query *q, const char *timeout, struct ps_buf *b)
{
	char s[PROM_SEC_BUF];
	enum ps_err err = append_param(b, "query", q->promql);
	if (!err && q->kind == PROM_QUERY_INSTANT && q->has_time)
		err = append_param(b, "time", prom_fmt_seconds(q->time_ms, s));
	if (!err && q->kind == PROM_QUERY_RANGE) {
		err = append_param(b, "start", prom_fmt_seconds(q->start_ms, s));
		if (!err)
			err = append_param(b, "end", prom_fmt_seconds(q->end_ms, s));
		if (!err)
			err = append_param(b, "step", prom_fmt_seconds(q->step_ms, s));
	}
	if (!err)
		err = append_param(b, "timeout", timeout);
	return err;
}

enum ps_err prom_endpoint_build(struct prom_endpoint *e, const struct prom_query *q,
                                struct prom_request *out, struct ps_diag *diag)
{
	PS_ASSERT(e && q && out);
	memset(out, 0, sizeof(*out));
	int64_t total_ms = 0, server_ms = 0;
	enum ps_err err = check_query(e, q, &total_ms, &server_ms, diag);
	if (err)
		return err;
	struct wfile *files[] = {&e->token, &e->password, &e->ca, &e->cert, &e->key};
	for (size_t i = 0; i < PS_ARRAY_LEN(files); i++) {
		err = wfile_refresh(files[i], diag);
		if (err)
			return err;
	}
	ps_format_duration_ms(server_ms, out->server_timeout, sizeof(out->server_timeout));

	struct ps_buf params, extra, url;
	ps_buf_init(&params, PARAMS_MAX);
	ps_buf_init(&extra, PARAMS_MAX);
	ps_buf_init(&url, PARAMS_MAX * 2);
	err = query_params(q, out->server_timeout, &params);
	for (size_t i = 0; !err && i < e->cfg.n_params; i++)
		err = append_param(&extra, e->cfg.params[i].name, e->cfg.params[i].value);
	bool post = params.len > PROM_POST_THRESHOLD;
	const char *path = q->kind == PROM_QUERY_RANGE ? "/api/v1/query_range" : "/api/v1/query";
	if (!err)
		err = ps_buf_appendf(&url, "%s%s", e->cfg.url, path);
	/* Extra parameters stay in the URL even for a POST: proxies that pick the tenant from
	 * the query string do not all read form bodies. Prometheus reads both. */
	if (!err && (!post || extra.len))
		err = ps_buf_append(&url, "?", 1);
	if (!err && !post)
		err = ps_buf_append(&url, params.data, params.len);
	if (!err && !post && extra.len)
		err = ps_buf_append(&url, "&", 1);
	if (!err && extra.len)
		err = ps_buf_append(&url, extra.data, extra.len);
	if (!err) {
		out->url = ps_buf_detach(&url);
		if (!out->url)
			err = PS_ENOMEM;
	}
	if (!err && post) {
		out->http.body_len = params.len;
		out->body = ps_buf_detach(&params);
		if (!out->body)
			err = PS_ENOMEM;
	}
	size_t nh = e->cfg.n_headers + (e->has_accept ? 0 : 1);
	if (!err) {
		out->headers = ps_calloc(nh, sizeof(*out->headers));
		if (!out->headers)
			err = PS_ENOMEM;
	}
	ps_buf_release(&params);
	ps_buf_release(&extra);
	ps_buf_release(&url);
	if (err) {
		prom_request_release(out);
		if (err == PS_ETOOBIG)
			return ps_diag_set(diag, PS_EINVAL, "prometheus: the request is too long");
		return ps_diag_set(diag, PS_ENOMEM, "prometheus: out of memory building a request");
	}

	size_t h = 0;
	if (!e->has_accept)
		out->headers[h++] = (struct http_header){"Accept", "application/json"};
	for (size_t i = 0; i < e->cfg.n_headers; i++)
		out->headers[h++] =
		    (struct http_header){e->cfg.headers[i].name, e->cfg.headers[i].value};
	struct http_request *r = &out->http;
	r->method = post ? "POST" : "GET";
	r->url = out->url;
	r->headers = out->headers;
	r->n_headers = h;
	r->body = out->body;
	r->content_type = post ? "application/x-www-form-urlencoded" : NULL;
	r->bearer_token = e->token.data;
	r->basic_user = e->cfg.basic_username;
	r->basic_password = e->cfg.basic_username ? e->password.data : NULL;
	r->timeout_ms = total_ms;
	r->max_body = e->cfg.max_body ? e->cfg.max_body : PROM_DEFAULT_MAX_BODY;
	/* The TLS settings live in the request: nothing points into the endpoint's files but
	 * for this request's lifetime (the next build may re-read them). */
	if (e->ca.data || e->cert.data || e->cfg.insecure_skip_verify) {
		r->tls = &out->tls;
		out->tls.ca_pem = e->ca.data;
		out->tls.ca_len = e->ca.len;
		out->tls.cert_pem = e->cert.data;
		out->tls.cert_len = e->cert.len;
		out->tls.key_pem = e->key.data;
		out->tls.key_len = e->key.len;
		out->tls.insecure_skip_verify = e->cfg.insecure_skip_verify;
	}
	snprintf(out->source, sizeof(out->source), "%s %s%s", r->method, e->url_diag, path);
	return PS_OK;
}
