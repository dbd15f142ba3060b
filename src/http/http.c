/* http.c -- the libcurl wrapper: per-thread clients, capped bodies, cancellable transfers.
 *
 * DESIGN
 * A struct http_client is owned by one thread: its easy handle, multi handle and error buffer
 * are touched by that thread only. http_do() resets the easy handle's options (the multi
 * handle keeps the connection cache and the easy handle its TLS session cache, so both survive
 * the reset), sets the request's options, adds the easy handle to the multi handle and drives
 * it with curl_multi_perform() and curl_multi_poll() in slices of at most HTTP_POLL_SLICE_MS,
 * checking the cancel flag before each slice. Before returning it removes the handle from the
 * multi handle and resets its options again, so curl keeps no pointer into the caller's memory.
 *
 * A struct http_cancel is shared between threads: <fired> is atomic; <multis> is protected by
 * <lock>. While a transfer runs under a token, its client's multi handle sits in <multis>.
 * http_cancel_fire() sets <fired>, then under <lock> calls curl_multi_wakeup() (callable from
 * any thread) on each registered handle, which makes its curl_multi_poll() return at once. A
 * client registers before its first look at <fired> and unregisters under <lock> before
 * http_do() returns, so a fire at any moment is seen (either the look sees the flag or the
 * wakeup interrupts the poll after it) and fire() never touches a handle that may be freed.
 * When more than HTTP_CANCEL_SLOTS clients run under one token at once, the extra ones are not
 * registered and see the flag at the end of their current slice.
 *
 * Secrets: the CA, client certificate and key reach curl as CURL_BLOB_NOCOPY blobs borrowed for
 * the call (curl 7.88 parses the key straight from the caller's buffer and keeps no copy of
 * it); nothing is written to disk. The header strings we build (the Authorization header among
 * them) are zeroed before they are freed, ours and curl's copies. Diagnostics carry the method,
 * the URL with any userinfo removed, and curl's message, which never holds request headers.
 *
 * An optional process-wide observer (http_set_observer) sees each call's method, URL, status,
 * result and duration after the transfer; the controller's /metrics use it for the latency of
 * Prometheus queries and Kubernetes requests. Without one, http_do() reads no clock.
 *
 * curl allocates through its own allocator (not ps_malloc): failure injection covers this
 * file's allocations, and curl's own failures come back as CURLE_OUT_OF_MEMORY -> PS_ENOMEM.
 */
#include "http.h"

#include <curl/curl.h>
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "ps_alloc.h"
#include "ps_clock.h"

#define HTTP_POLL_SLICE_MS 100
#define HTTP_CANCEL_SLOTS 8
#define HTTP_DEFAULT_CONNECT_TIMEOUT_MS 5000
#define HTTP_DEFAULT_TIMEOUT_MS 30000
#define HTTP_DEFAULT_MAX_BODY ((size_t)16 * 1024 * 1024)
#define HTTP_MAX_METHOD 16

struct http_cancel {
	atomic_bool fired;
	pthread_mutex_t lock;
	CURLM *multis[HTTP_CANCEL_SLOTS]; /* protected by <lock>; NULL: free slot */
};

struct http_client {
	CURL *easy;
	CURLM *multi;
	char errbuf[CURL_ERROR_SIZE];
};

/* State of one transfer, shared with the write and header callbacks (same thread). */
struct transfer {
	struct http_response *resp;
	enum ps_err body_err; /* why the write callback stopped the transfer */
};

enum ps_err http_global_init(struct ps_diag *diag)
{
	/* Blobs (7.77) and curl_multi_wakeup (7.68): refuse an older library loaded at run time. */
	const curl_version_info_data *v = curl_version_info(CURLVERSION_NOW);
	if (!v || v->version_num < 0x074d00)
		return ps_diag_set(diag, PS_EIO, "libcurl %s is older than 7.77.0",
				   v ? v->version : "(unknown)");
	if (!(v->features & CURL_VERSION_SSL))
		return ps_diag_set(diag, PS_EIO, "libcurl %s was built without TLS", v->version);
	CURLcode cc = curl_global_init(CURL_GLOBAL_ALL);
	if (cc != CURLE_OK)
		return ps_diag_set(diag, PS_EIO, "curl_global_init: %s", curl_easy_strerror(cc));
	return PS_OK;
}

void http_global_cleanup(void)
{
	curl_global_cleanup();
}

enum ps_err http_cancel_new(struct http_cancel **out)
{
	*out = NULL;
	struct http_cancel *c = ps_calloc(1, sizeof(*c));
	if (!c)
		return PS_ENOMEM;
	atomic_init(&c->fired, false);
	if (pthread_mutex_init(&c->lock, NULL) != 0) {
		ps_free(c);
		return PS_ENOMEM;
	}
	*out = c;
	return PS_OK;
}

void http_cancel_free(struct http_cancel *c)
{
	if (!c)
		return;
	for (size_t i = 0; i < HTTP_CANCEL_SLOTS; i++)
		PS_ASSERT(c->multis[i] == NULL); /* a transfer still runs under <c> */
	pthread_mutex_destroy(&c->lock);
	ps_free(c);
}

void http_cancel_fire(struct http_cancel *c)
{
	atomic_store(&c->fired, true);
	PS_ASSERT(pthread_mutex_lock(&c->lock) == 0);
	for (size_t i = 0; i < HTTP_CANCEL_SLOTS; i++)
		if (c->multis[i])
			(void)curl_multi_wakeup(c->multis[i]);
	PS_ASSERT(pthread_mutex_unlock(&c->lock) == 0);
}

bool http_cancel_fired(const struct http_cancel *c)
{
	return atomic_load(&c->fired);
}

/* Registers <m> under <c> so that a fire wakes it. Returns its slot, or -1 when every slot is
 * taken (the transfer then notices a fire at the end of its poll slice). */
static int cancel_register(struct http_cancel *c, CURLM *m)
{
	int slot = -1;
	PS_ASSERT(pthread_mutex_lock(&c->lock) == 0);
	for (size_t i = 0; i < HTTP_CANCEL_SLOTS && slot < 0; i++) {
		if (!c->multis[i]) {
			c->multis[i] = m;
			slot = (int)i;
		}
	}
	PS_ASSERT(pthread_mutex_unlock(&c->lock) == 0);
	return slot;
}

static void cancel_unregister(struct http_cancel *c, int slot)
{
	if (slot < 0)
		return;
	PS_ASSERT(pthread_mutex_lock(&c->lock) == 0);
	c->multis[slot] = NULL;
	PS_ASSERT(pthread_mutex_unlock(&c->lock) == 0);
}

enum ps_err http_client_new(struct http_client **out, struct ps_diag *diag)
{
	*out = NULL;
	struct http_client *c = ps_calloc(1, sizeof(*c));
	if (!c)
		return ps_diag_set(diag, PS_ENOMEM, "http client: out of memory");
	c->easy = curl_easy_init();
	c->multi = curl_multi_init();
	if (!c->easy || !c->multi) {
		http_client_free(c);
		return ps_diag_set(diag, PS_EIO, "http client: curl could not create a handle");
	}
	*out = c;
	return PS_OK;
}

void http_client_free(struct http_client *c)
{
	if (!c)
		return;
	if (c->multi)
		curl_multi_cleanup(c->multi);
	if (c->easy)
		curl_easy_cleanup(c->easy);
	ps_free(c);
}

void http_response_init(struct http_response *r)
{
	r->status = 0;
	ps_buf_init(&r->body, HTTP_DEFAULT_MAX_BODY);
	r->content_type[0] = '\0';
	r->retry_after_ms = -1;
}

void http_response_release(struct http_response *r)
{
	if (r)
		ps_buf_release(&r->body);
}

/* Writes <url> into <out> without its userinfo ("user:password@"), truncated to <size>. A URL
 * without a scheme is treated as curl treats it: the authority starts at the beginning. */
static void url_for_diag(const char *url, char *out, size_t size)
{
	const char *sep = strstr(url, "://");
	const char *auth = sep ? sep + 3 : url;
	size_t auth_len = strcspn(auth, "/?#");
	const char *at = NULL;
	for (const char *p = auth; p < auth + auth_len; p++)
		if (*p == '@')
			at = p;
	if (at)
		snprintf(out, size, "%.*s%s", (int)(auth - url), url, at + 1);
	else
		snprintf(out, size, "%s", url);
}

static enum ps_err fail(struct ps_diag *diag, enum ps_err err, const struct http_request *req,
			const char *what)
{
	char url[PS_DIAG_MAX];
	url_for_diag(req->url ? req->url : "", url, sizeof(url));
	return ps_diag_set(diag, err, "%s %s: %s", req->method ? req->method : "?", url, what);
}

static size_t on_body(char *data, size_t size, size_t nmemb, void *arg)
{
	struct transfer *t = arg;
	size_t n = size * nmemb;
	enum ps_err err = ps_buf_append(&t->resp->body, data, n);
	if (err != PS_OK) {
		t->body_err = err;
		return 0; /* curl ends the transfer with CURLE_WRITE_ERROR */
	}
	return n;
}

/* Parses a Retry-After value: delta-seconds or an HTTP date (RFC 9110 10.2.3) into
 * milliseconds from now, 0 for a date in the past. Returns -1 for anything else. */
static int64_t parse_retry_after(const char *v)
{
	size_t digits = strspn(v, "0123456789");
	if (digits > 0 && v[digits] == '\0') {
		if (digits > 12) /* more than 31000 years: as good as never, keep it finite */
			return INT64_C(999999999999) * 1000;
		return strtoll(v, NULL, 10) * 1000;
	}
	time_t when = curl_getdate(v, NULL);
	if (when == (time_t)-1)
		return -1;
	int64_t ms = (int64_t)when * 1000 - ps_clock_wall_ms(ps_clock_real());
	return ms > 0 ? ms : 0;
}

static size_t on_header(char *data, size_t size, size_t nmemb, void *arg)
{
	struct transfer *t = arg;
	size_t n = size * nmemb;
	if (n >= 5 && memcmp(data, "HTTP/", 5) == 0) {
		/* A new response begins (after a 1xx): forget the previous one's headers. */
		t->resp->content_type[0] = '\0';
		t->resp->retry_after_ms = -1;
		return n;
	}
	const char *colon = memchr(data, ':', n);
	if (!colon)
		return n;
	size_t name_len = (size_t)(colon - data);
	const char *v = colon + 1;
	const char *end = data + n;
	while (v < end && (*v == ' ' || *v == '\t'))
		v++;
	while (end > v && (end[-1] == '\r' || end[-1] == '\n' || end[-1] == ' ' || end[-1] == '\t'))
		end--;
	size_t v_len = (size_t)(end - v);
	if (name_len == 12 && strncasecmp(data, "Content-Type", 12) == 0) {
		size_t keep = v_len < sizeof(t->resp->content_type) - 1
				      ? v_len
				      : sizeof(t->resp->content_type) - 1;
		memcpy(t->resp->content_type, v, keep);
		t->resp->content_type[keep] = '\0';
	} else if (name_len == 11 && strncasecmp(data, "Retry-After", 11) == 0) {
		char value[64];
		if (v_len < sizeof(value)) {
			memcpy(value, v, v_len);
			value[v_len] = '\0';
			t->resp->retry_after_ms = parse_retry_after(value);
		} else {
			t->resp->retry_after_ms = -1;
		}
	}
	return n;
}

static bool is_token_char(char ch)
{
	return (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') ||
	       (ch != '\0' && strchr("!#$%&'*+-.^_`|~", ch) != NULL);
}

static bool is_token(const char *s)
{
	if (!*s)
		return false;
	for (; *s; s++)
		if (!is_token_char(*s))
			return false;
	return true;
}

/* True when <s> may be sent as a header value: no CR, LF or other control byte but tab. */
static bool is_field_value(const char *s)
{
	for (; *s; s++)
		if (((unsigned char)*s < 0x20 && *s != '\t') || *s == 0x7f)
			return false;
	return true;
}

/* Zeroes every string of <list> (headers may hold credentials), then frees it. */
static void free_headers(struct curl_slist *list)
{
	for (struct curl_slist *l = list; l; l = l->next) {
		volatile char *p = l->data;
		while (*p)
			*p++ = '\0';
	}
	curl_slist_free_all(list);
}

/* Appends "<name><sep><value>" to <*list>. Returns PS_OK or PS_ENOMEM. */
static enum ps_err add_header(struct curl_slist **list, const char *name, const char *sep,
			      const char *value)
{
	size_t len = strlen(name) + strlen(sep) + strlen(value) + 1;
	char *line = ps_malloc(len);
	if (!line)
		return PS_ENOMEM;
	snprintf(line, len, "%s%s%s", name, sep, value);
	struct curl_slist *l = curl_slist_append(*list, line);
	ps_free_secret(line, len);
	if (!l)
		return PS_ENOMEM;
	*list = l;
	return PS_OK;
}

/* Builds the header list of <req> into <*out>. Returns PS_OK, PS_EINVAL (a bad name or value,
 * described in <why>, which never quotes a value: it may be a credential) or PS_ENOMEM. */
static enum ps_err build_headers(const struct http_request *req, struct curl_slist **out,
				 char *why, size_t why_size)
{
	struct curl_slist *list = NULL;
	enum ps_err err = PS_OK;
	for (size_t i = 0; i < req->n_headers && !err; i++) {
		const struct http_header *h = &req->headers[i];
		if (!h->name || !is_token(h->name)) {
			snprintf(why, why_size, "invalid name of header %zu", i + 1);
			err = PS_EINVAL;
			break;
		}
		if (!h->value || !is_field_value(h->value)) {
			snprintf(why, why_size, "invalid value of header \"%s\"", h->name);
			err = PS_EINVAL;
			break;
		}
		/* "Name:" would tell curl to remove the header; "Name;" sends it empty. */
		err = add_header(&list, h->name, *h->value ? ": " : ";", h->value);
	}
	if (!err && req->body) {
		if (req->content_type && !is_field_value(req->content_type)) {
			snprintf(why, why_size, "invalid content type");
			err = PS_EINVAL;
		} else {
			/* Without a type, send none rather than curl's form-urlencoded default. */
			bool typed = req->content_type && *req->content_type;
			err = add_header(&list, "Content-Type", typed ? ": " : ":",
					 typed ? req->content_type : "");
		}
	}
	/* No "Expect: 100-continue" round trip for large bodies. */
	if (!err)
		err = add_header(&list, "Expect", ":", "");
	if (!err && req->bearer_token) {
		if (!*req->bearer_token || !is_field_value(req->bearer_token)) {
			/* Never quote the token itself. */
			snprintf(why, why_size, "invalid bearer token");
			err = PS_EINVAL;
		} else {
			err = add_header(&list, "Authorization", ": Bearer ", req->bearer_token);
		}
	}
	if (err) {
		free_headers(list);
		return err;
	}
	*out = list;
	return PS_OK;
}

static bool is_method(const char *m)
{
	size_t n = strlen(m);
	if (n == 0 || n > HTTP_MAX_METHOD)
		return false;
	for (size_t i = 0; i < n; i++)
		if (m[i] < 'A' || m[i] > 'Z')
			return false;
	return true;
}

/* Sets every option of <req> on the (freshly reset) easy handle of <c>. */
static CURLcode set_options(struct http_client *c, const struct http_request *req,
			    struct transfer *t, struct curl_slist *headers, size_t max_body)
{
	CURL *e = c->easy;
	CURLcode cc = CURLE_OK;
#define SET(opt, val)                                                                              \
	do {                                                                                       \
		if (cc == CURLE_OK)                                                                \
			cc = curl_easy_setopt(e, opt, val);                                        \
	} while (0)
	SET(CURLOPT_URL, req->url);
	SET(CURLOPT_ERRORBUFFER, c->errbuf);
	SET(CURLOPT_NOSIGNAL, 1L);
	SET(CURLOPT_PROTOCOLS_STR, "http,https");
	SET(CURLOPT_FOLLOWLOCATION, 0L);
	SET(CURLOPT_TCP_KEEPALIVE, 1L);
	SET(CURLOPT_USERAGENT, "prescale");
	SET(CURLOPT_ACCEPT_ENCODING, ""); /* every encoding curl can decode; the cap applies after */
	int64_t connect_ms = req->connect_timeout_ms ? req->connect_timeout_ms
						     : HTTP_DEFAULT_CONNECT_TIMEOUT_MS;
	int64_t total_ms = req->timeout_ms ? req->timeout_ms : HTTP_DEFAULT_TIMEOUT_MS;
	SET(CURLOPT_CONNECTTIMEOUT_MS, (long)connect_ms);
	SET(CURLOPT_TIMEOUT_MS, (long)total_ms);
	/* Refuses early a Content-Length over the cap; the write callback catches the rest. */
	SET(CURLOPT_MAXFILESIZE_LARGE, (curl_off_t)max_body);
	SET(CURLOPT_WRITEFUNCTION, on_body);
	SET(CURLOPT_WRITEDATA, t);
	SET(CURLOPT_HEADERFUNCTION, on_header);
	SET(CURLOPT_HEADERDATA, t);
	SET(CURLOPT_HTTPHEADER, headers);

	const char *m = req->method;
	if (strcmp(m, "GET") == 0 && !req->body) {
		SET(CURLOPT_HTTPGET, 1L);
	} else if (strcmp(m, "HEAD") == 0 && !req->body) {
		SET(CURLOPT_NOBODY, 1L);
	} else {
		if (req->body || strcmp(m, "POST") == 0 || strcmp(m, "PUT") == 0 ||
		    strcmp(m, "PATCH") == 0) {
			SET(CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)req->body_len);
			SET(CURLOPT_POSTFIELDS, req->body ? req->body : "");
		}
		if (strcmp(m, "POST") != 0)
			SET(CURLOPT_CUSTOMREQUEST, m);
	}

	if (req->basic_user) {
		SET(CURLOPT_HTTPAUTH, (long)CURLAUTH_BASIC);
		SET(CURLOPT_USERNAME, req->basic_user);
		SET(CURLOPT_PASSWORD, req->basic_password ? req->basic_password : "");
	}

	const struct http_tls *tls = req->tls;
	bool verify = !(tls && tls->insecure_skip_verify);
	SET(CURLOPT_SSL_VERIFYPEER, verify ? 1L : 0L);
	SET(CURLOPT_SSL_VERIFYHOST, verify ? 2L : 0L);
	if (tls && tls->ca_pem) {
		struct curl_blob ca = {(void *)tls->ca_pem, tls->ca_len, CURL_BLOB_NOCOPY};
		SET(CURLOPT_CAINFO_BLOB, &ca);
		/* Only the given CA, as kubeconfig's certificate-authority means: no system store. */
		SET(CURLOPT_CAINFO, (char *)NULL);
		SET(CURLOPT_CAPATH, (char *)NULL);
	}
	if (tls && tls->cert_pem) {
		struct curl_blob cert = {(void *)tls->cert_pem, tls->cert_len, CURL_BLOB_NOCOPY};
		SET(CURLOPT_SSLCERT_BLOB, &cert);
		SET(CURLOPT_SSLCERTTYPE, "PEM");
	}
	if (tls && tls->key_pem) {
		struct curl_blob key = {(void *)tls->key_pem, tls->key_len, CURL_BLOB_NOCOPY};
		SET(CURLOPT_SSLKEY_BLOB, &key);
		SET(CURLOPT_SSLKEYTYPE, "PEM");
	}
#undef SET
	return cc;
}

static enum ps_err from_curl(CURLcode cc)
{
	switch (cc) {
	case CURLE_OK:
		return PS_OK;
	case CURLE_COULDNT_CONNECT:
	case CURLE_COULDNT_RESOLVE_HOST:
	case CURLE_COULDNT_RESOLVE_PROXY:
		return PS_EUNAVAIL;
	case CURLE_OPERATION_TIMEDOUT:
		return PS_ETIMEDOUT;
	case CURLE_FILESIZE_EXCEEDED:
		return PS_ETOOBIG;
	case CURLE_OUT_OF_MEMORY:
		return PS_ENOMEM;
	case CURLE_URL_MALFORMAT:
	case CURLE_UNSUPPORTED_PROTOCOL:
	case CURLE_BAD_FUNCTION_ARGUMENT:
		return PS_EINVAL;
	default:
		/* TLS failures (handshake, peer verification, a bad certificate or key) and
		 * transfer failures (reset, empty reply, truncated body). */
		return PS_EIO;
	}
}

/* Runs the transfer set up on <c> to its end, or until <cancel> (may be NULL) fires. Returns
 * PS_OK with curl's result in <*result>, PS_ECANCELED, or an error of the multi interface. */
static enum ps_err run(struct http_client *c, struct http_cancel *cancel, CURLcode *result)
{
	CURLMcode mc = curl_multi_add_handle(c->multi, c->easy);
	if (mc != CURLM_OK)
		return mc == CURLM_OUT_OF_MEMORY ? PS_ENOMEM : PS_EIO;
	int slot = cancel ? cancel_register(cancel, c->multi) : -1;
	enum ps_err err = PS_OK;
	bool done = false;
	while (!done) {
		if (cancel && http_cancel_fired(cancel)) {
			err = PS_ECANCELED;
			break;
		}
		int running = 0;
		mc = curl_multi_perform(c->multi, &running);
		if (mc != CURLM_OK)
			break;
		int left = 0;
		CURLMsg *msg;
		while ((msg = curl_multi_info_read(c->multi, &left)) != NULL) {
			if (msg->msg == CURLMSG_DONE && msg->easy_handle == c->easy) {
				*result = msg->data.result;
				done = true;
			}
		}
		if (done)
			break;
		if (running == 0) {
			*result = CURLE_RECV_ERROR; /* cannot happen: a finished transfer says DONE */
			break;
		}
		/* Returns on socket activity, curl's own timeout, a wakeup, or the slice's end. */
		mc = curl_multi_poll(c->multi, NULL, 0, HTTP_POLL_SLICE_MS, NULL);
		if (mc != CURLM_OK)
			break;
	}
	if (cancel)
		cancel_unregister(cancel, slot);
	/* Mid-transfer (a cancel), this closes the connection rather than returning it to the
	 * cache, which is what we want. */
	(void)curl_multi_remove_handle(c->multi, c->easy);
	if (err == PS_OK && mc != CURLM_OK)
		err = mc == CURLM_OUT_OF_MEMORY ? PS_ENOMEM : PS_EIO;
	return err;
}

/* The process-wide observer (http_set_observer); NULL: none. */
static _Atomic(const struct http_observer *) observer;

void http_set_observer(const struct http_observer *obs)
{
	atomic_store_explicit(&observer, obs, memory_order_release);
}

static int64_t mono_us(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

static enum ps_err transfer(struct http_client *c, const struct http_request *req,
			    struct http_response *resp, struct http_cancel *cancel,
			    struct ps_diag *diag);

enum ps_err http_do(struct http_client *c, const struct http_request *req,
		    struct http_response *resp, struct http_cancel *cancel, struct ps_diag *diag)
{
	const struct http_observer *obs = atomic_load_explicit(&observer, memory_order_acquire);
	if (!obs)
		return transfer(c, req, resp, cancel, diag);
	int64_t start = mono_us();
	enum ps_err err = transfer(c, req, resp, cancel, diag);
	struct http_observation o = {
		.method = req->method,
		.url = req->url,
		.status = resp->status,
		.err = err,
		.elapsed_us = mono_us() - start,
	};
	obs->done(obs->arg, &o);
	return err;
}

static enum ps_err transfer(struct http_client *c, const struct http_request *req,
			    struct http_response *resp, struct http_cancel *cancel,
			    struct ps_diag *diag)
{
	resp->status = 0;
	resp->content_type[0] = '\0';
	resp->retry_after_ms = -1;
	size_t max_body = req->max_body ? req->max_body : HTTP_DEFAULT_MAX_BODY;
	/* The body keeps its allocation across requests; an empty buffer may take a new cap. */
	ps_buf_reset(&resp->body);
	resp->body.max = max_body;

	if (!req->method || !is_method(req->method))
		return fail(diag, PS_EINVAL, req, "invalid method");
	if (!req->url || !*req->url)
		return fail(diag, PS_EINVAL, req, "no URL");
	if (req->connect_timeout_ms < 0 || req->timeout_ms < 0)
		return fail(diag, PS_EINVAL, req, "negative timeout");
	if (!req->body && req->body_len > 0)
		return fail(diag, PS_EINVAL, req, "body length without a body");
	if (req->n_headers > 0 && !req->headers)
		return fail(diag, PS_EINVAL, req, "header count without headers");
	if (req->bearer_token && req->basic_user)
		return fail(diag, PS_EINVAL, req, "both a bearer token and basic auth");
	if (cancel && http_cancel_fired(cancel))
		return fail(diag, PS_ECANCELED, req, "canceled");

	struct curl_slist *headers = NULL;
	char why[128] = "out of memory";
	enum ps_err err = build_headers(req, &headers, why, sizeof(why));
	if (err)
		return fail(diag, err, req, why);

	struct transfer t = {.resp = resp, .body_err = PS_OK};
	curl_easy_reset(c->easy);
	c->errbuf[0] = '\0';
	CURLcode cc = set_options(c, req, &t, headers, max_body);
	if (cc != CURLE_OK) {
		err = cc == CURLE_OUT_OF_MEMORY ? PS_ENOMEM : PS_EINVAL;
		(void)fail(diag, err, req, curl_easy_strerror(cc));
		goto out_reset;
	}
	cc = CURLE_OK;
	err = run(c, cancel, &cc);
	long status = 0;
	if (curl_easy_getinfo(c->easy, CURLINFO_RESPONSE_CODE, &status) == CURLE_OK)
		resp->status = status;
	if (err == PS_ECANCELED) {
		(void)fail(diag, err, req, "canceled");
	} else if (err != PS_OK) {
		(void)fail(diag, err, req, "curl multi interface failed");
	} else if (cc == CURLE_WRITE_ERROR && t.body_err != PS_OK) {
		err = t.body_err;
		if (err == PS_ETOOBIG) {
			char what[96];
			snprintf(what, sizeof(what), "response body over the %zu-byte cap", max_body);
			(void)fail(diag, err, req, what);
		} else {
			(void)fail(diag, err, req, "out of memory for the response body");
		}
	} else if (cc == CURLE_FILESIZE_EXCEEDED) {
		err = PS_ETOOBIG;
		char what[96];
		snprintf(what, sizeof(what), "response body over the %zu-byte cap", max_body);
		(void)fail(diag, err, req, what);
	} else if (cc != CURLE_OK) {
		err = from_curl(cc);
		(void)fail(diag, err, req, c->errbuf[0] ? c->errbuf : curl_easy_strerror(cc));
	}

out_reset:
	/* Drops every pointer into the caller's memory (URL, body, TLS blobs) and our header
	 * list; connections and TLS sessions stay. */
	curl_easy_reset(c->easy);
	free_headers(headers);
	return err;
}

static bool is_unreserved(unsigned char ch)
{
	return (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') ||
	       ch == '-' || ch == '.' || ch == '_' || ch == '~';
}

enum ps_err http_append_escaped(struct ps_buf *b, const char *s)
{
	static const char hex[] = "0123456789ABCDEF";
	size_t n = 0;
	for (const unsigned char *p = (const unsigned char *)s; *p; p++)
		n += is_unreserved(*p) ? 1 : 3;
	if (n == 0)
		return PS_OK;
	if (n > b->max - b->len)
		return PS_ETOOBIG;
	/* Escaped into a scratch string first, so that a failure appends nothing. */
	char *out = ps_malloc(n);
	if (!out)
		return PS_ENOMEM;
	size_t i = 0;
	for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
		if (is_unreserved(*p)) {
			out[i++] = (char)*p;
		} else {
			out[i++] = '%';
			out[i++] = hex[*p >> 4];
			out[i++] = hex[*p & 0xf];
		}
	}
	enum ps_err err = ps_buf_append(b, out, n);
	ps_free(out);
	return err;
}
