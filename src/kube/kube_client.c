/* kube_client.c -- the Kubernetes API client core: one request with credentials, the shared
 * rate limit, retries with backoff, and the API's Status errors.
 *
 * DESIGN
 * A struct kube_client is owned by one thread: its http_client (curl handles), its reusable
 * URL buffer and response, its PRNG state, its last Status and its counters are touched by that
 * thread only, so none of them has a lock. It borrows three shared objects:
 *   - the struct kcfg (server, TLS material, the credential cache), read by every thread; the
 *     credentials are taken per attempt with kcfg_credentials() and dropped right after it, so
 *     a rotated token is picked up by the next attempt and a snapshot is never freed under us;
 *   - the struct kube_limiter, one per process: a token bucket whose <tokens> and <last_ms> are
 *     protected by its <lock>; kube_limiter_reserve() only computes (it never sleeps under the
 *     lock), the calling thread then waits outside it;
 *   - the thread's struct http_cancel, fired by its owner from any thread: it aborts a
 *     transfer (the http layer wakes curl) and ends the waits between attempts here, which
 *     sleep in slices of KUBE_WAIT_SLICE_MS and look at the token between slices.
 * kube_do() runs one call: until its deadline and at most max_attempts exchanges (plus the one
 * repeat after a 401 with fresh credentials), each through the limiter. Every wait (limiter,
 * backoff, Retry-After) must end before the deadline, else the call returns at once instead
 * of sleeping in vain.
 */
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#include "kube.h"
#include "ps_alloc.h"
#include "ps_text.h"

#define KUBE_WAIT_SLICE_MS 10
#define KUBE_URL_MAX ((size_t)64 << 10)
#define KUBE_CONNECT_TIMEOUT_MS 5000
#define KUBE_QUOTE_BODY 120

/* ---- rate limit ---- */

struct kube_limiter {
	pthread_mutex_t lock;
	struct ps_clock *clock; /* borrowed, immutable */
	double qps, burst;      /* immutable */
	double tokens;          /* protected by <lock>; negative: tokens promised ahead */
	int64_t last_ms;        /* protected by <lock>: when <tokens> was brought up to date */
	_Atomic uint64_t refused, delayed;
};

enum ps_err kube_limiter_new(double qps, int32_t burst, struct ps_clock *clock,
                             struct kube_limiter **out, struct ps_diag *diag)
{
	*out = NULL;
	if (!(qps > 0) || qps > 1e6)
		return ps_diag_set(diag, PS_EINVAL, "rate limit: qps %g is not in (0, 1e6]", qps);
	if (burst < 1)
		return ps_diag_set(diag, PS_EINVAL, "rate limit: burst %d is below 1", (int)burst);
	struct kube_limiter *l = ps_calloc(1, sizeof(*l));
	if (!l)
		return ps_diag_set(diag, PS_ENOMEM, "rate limit: out of memory");
	if (pthread_mutex_init(&l->lock, NULL) != 0) {
		ps_free(l);
		return ps_diag_set(diag, PS_ENOMEM, "rate limit: cannot create a mutex");
	}
	l->clock = clock ? clock : ps_clock_real();
	l->qps = qps;
	l->burst = burst;
	l->tokens = burst;
	l->last_ms = ps_clock_mono_ms(l->clock);
	atomic_init(&l->refused, 0);
	atomic_init(&l->delayed, 0);
	*out = l;
	return PS_OK;
}

void kube_limiter_free(struct kube_limiter *l)
{
	if (!l)
		return;
	pthread_mutex_destroy(&l->lock);
	ps_free(l);
}

enum ps_err kube_limiter_reserve(struct kube_limiter *l, int64_t max_wait_ms, int64_t *wait_ms)
{
	int64_t now = ps_clock_mono_ms(l->clock);
	enum ps_err err = PS_OK;
	PS_ASSERT(pthread_mutex_lock(&l->lock) == 0);
	if (now > l->last_ms) {
		l->tokens += (double)(now - l->last_ms) * l->qps / 1000.0;
		if (l->tokens > l->burst)
			l->tokens = l->burst;
		l->last_ms = now;
	}
	int64_t wait = 0;
	/* The epsilon absorbs rounding in the refill (50 ms at 20 qps is exactly one token). */
	if (l->tokens < 1.0 - 1e-9) {
		double w = (1.0 - l->tokens) * 1000.0 / l->qps;
		wait = (int64_t)w;
		if ((double)wait < w - 1e-9)
			wait++;
	}
	if (wait > (max_wait_ms > 0 ? max_wait_ms : 0)) {
		err = PS_ETHROTTLED;
	} else {
		l->tokens -= 1.0;
	}
	PS_ASSERT(pthread_mutex_unlock(&l->lock) == 0);
	*wait_ms = wait;
	if (err)
		atomic_fetch_add(&l->refused, 1);
	else if (wait > 0)
		atomic_fetch_add(&l->delayed, 1);
	return err;
}

uint64_t kube_limiter_refused(const struct kube_limiter *l)
{
	return atomic_load(&((struct kube_limiter *)l)->refused);
}

uint64_t kube_limiter_delayed(const struct kube_limiter *l)
{
	return atomic_load(&((struct kube_limiter *)l)->delayed);
}

/* ---- backoff ---- */

uint64_t kube_rand_next(uint64_t *state)
{
	uint64_t z = (*state += UINT64_C(0x9e3779b97f4a7c15));
	z = (z ^ (z >> 30)) * UINT64_C(0xbf58476d1ce4e5b9);
	z = (z ^ (z >> 27)) * UINT64_C(0x94d049bb133111eb);
	return z ^ (z >> 31);
}

int64_t kube_backoff_delay_ms(int64_t base_ms, int64_t cap_ms, int retry, int64_t retry_after_ms,
                              uint64_t *rng)
{
	if (retry_after_ms >= 0)
		return retry_after_ms;
	if (base_ms <= 0 || cap_ms <= 0)
		return 0;
	int64_t ceiling = base_ms;
	for (int i = 1; i < retry && ceiling < cap_ms; i++)
		ceiling = ceiling > INT64_MAX / 2 ? INT64_MAX : ceiling * 2;
	if (ceiling > cap_ms)
		ceiling = cap_ms;
	return (int64_t)(kube_rand_next(rng) % ((uint64_t)ceiling + 1));
}

/* ---- Status ---- */

enum ps_err kube_err_from_http(long s)
{
	if (s >= 200 && s < 300)
		return PS_OK;
	switch (s) {
	case 401:
		return PS_EUNAUTHORIZED;
	case 403:
		return PS_EFORBIDDEN;
	case 404:
		return PS_ENOTFOUND;
	case 409:
		return PS_ECONFLICT;
	case 410:
		return PS_EGONE;
	case 422:
		return PS_EINVALID;
	case 429:
		return PS_ETHROTTLED;
	default:
		return s >= 500 && s < 600 ? PS_ESERVER : PS_EHTTP;
	}
}

const char *kube_http_reason(long s)
{
	switch (s) {
	case 400:
		return "Bad Request";
	case 401:
		return "Unauthorized";
	case 403:
		return "Forbidden";
	case 404:
		return "Not Found";
	case 405:
		return "Method Not Allowed";
	case 406:
		return "Not Acceptable";
	case 409:
		return "Conflict";
	case 410:
		return "Gone";
	case 413:
		return "Request Entity Too Large";
	case 415:
		return "Unsupported Media Type";
	case 422:
		return "Unprocessable Entity";
	case 429:
		return "Too Many Requests";
	case 500:
		return "Internal Server Error";
	case 501:
		return "Not Implemented";
	case 502:
		return "Bad Gateway";
	case 503:
		return "Service Unavailable";
	case 504:
		return "Gateway Timeout";
	default:
		return "";
	}
}

static void status_clear(struct kube_status *st)
{
	memset(st, 0, sizeof(*st));
	st->retry_after_s = -1;
}

/* Copies string member <key> of <obj>, cut to <size>; absent or not a string: "". */
static void copy_cut(const cJSON *obj, const char *key, char *dst, size_t size)
{
	const cJSON *v = kube_json_get(obj, key);
	dst[0] = '\0';
	if (v && cJSON_IsString(v) && v->valuestring)
		snprintf(dst, size, "%s", v->valuestring);
}

enum ps_err kube_status_parse(const char *body, size_t len, struct kube_status *out,
                              struct ps_diag *diag)
{
	status_clear(out);
	cJSON *root;
	enum ps_err err = kube_json_parse(body, len, "Status", &root, diag);
	if (err)
		return err;
	const cJSON *kind = kube_json_get(root, "kind");
	const cJSON *code = kube_json_get(root, "code");
	bool is_status = cJSON_IsObject(root) &&
	                 ((kind && cJSON_IsString(kind) && !strcmp(kind->valuestring, "Status")) ||
	                  (!kind && code && cJSON_IsNumber(code)));
	if (!is_status) {
		cJSON_Delete(root);
		return ps_diag_set(diag, PS_EPARSE, "Status: not a Status object");
	}
	if (code && cJSON_IsNumber(code) && code->valuedouble >= 0 && code->valuedouble < 1000)
		out->code = (int32_t)code->valuedouble;
	copy_cut(root, "status", out->status, sizeof(out->status));
	copy_cut(root, "reason", out->reason, sizeof(out->reason));
	copy_cut(root, "message", out->message, sizeof(out->message));
	const cJSON *details = kube_json_get(root, "details");
	if (details && cJSON_IsObject(details)) {
		copy_cut(details, "name", out->details_name, sizeof(out->details_name));
		copy_cut(details, "group", out->details_group, sizeof(out->details_group));
		copy_cut(details, "kind", out->details_kind, sizeof(out->details_kind));
		const cJSON *ra = kube_json_get(details, "retryAfterSeconds");
		if (ra && cJSON_IsNumber(ra) && ra->valuedouble >= 0 && ra->valuedouble < 1e9)
			out->retry_after_s = (int64_t)ra->valuedouble;
		const cJSON *causes = kube_json_get(details, "causes");
		if (causes && cJSON_IsArray(causes)) {
			out->n_causes = (size_t)cJSON_GetArraySize(causes);
			const cJSON *first = cJSON_GetArrayItem(causes, 0);
			if (first)
				copy_cut(first, "field", out->cause_field,
				         sizeof(out->cause_field));
		}
	}
	cJSON_Delete(root);
	return PS_OK;
}

enum ps_err kube_status_error(const char *method, const char *url, long http_status,
                              const char *body, size_t len, struct kube_status *st,
                              struct ps_diag *diag)
{
	enum ps_err err = kube_err_from_http(http_status);
	if (err == PS_OK)
		err = PS_EHTTP; /* not an error status: the caller misused us; say so plainly */
	struct kube_status local;
	if (!st)
		st = &local;
	status_clear(st);
	const char *phrase = kube_http_reason(http_status);
	char head[PS_DIAG_MAX];
	snprintf(head, sizeof(head), "%s %s: %ld%s%s", method, url, http_status, *phrase ? " " : "",
	         phrase);

	/* Skip leading white space to find out whether the body can be JSON at all. */
	size_t off = 0;
	while (off < len &&
	       (body[off] == ' ' || body[off] == '\t' || body[off] == '\r' || body[off] == '\n'))
		off++;
	if (off < len && body[off] == '{' && kube_status_parse(body, len, st, NULL) == PS_OK) {
		const char *text = st->message[0] ? st->message : st->reason;
		if (*text)
			return ps_diag_set(diag, err, "%s: %s", head, text);
		return ps_diag_set(diag, err, "%s", head);
	}
	status_clear(st);
	size_t end = len;
	while (end > off && (body[end - 1] == ' ' || body[end - 1] == '\t' ||
	                     body[end - 1] == '\r' || body[end - 1] == '\n'))
		end--;
	if (end == off)
		return ps_diag_set(diag, err, "%s", head);
	char q[PS_QUOTE_BUF(KUBE_QUOTE_BODY)];
	ps_text_quote(q, sizeof(q), body + off, end - off, KUBE_QUOTE_BODY);
	return ps_diag_set(diag, err, "%s: %s", head, q);
}

/* ---- the client ---- */

struct kube_client {
	struct kcfg *cfg;             /* borrowed, shared */
	struct kube_limiter *limiter; /* borrowed, shared; NULL: no limit */
	struct http_cancel *cancel;   /* borrowed; NULL: none */
	struct http_client *http;     /* owned */
	int64_t timeout_ms, attempt_timeout_ms, base_ms, cap_ms;
	int max_attempts;
	size_t max_body;
	int64_t deadline_ms; /* kube_client_set_deadline; 0: none */
	uint64_t rng;
	struct ps_buf url;
	struct http_response resp;
	struct kube_status last;
	struct kube_client_stats stats;
};

static int64_t mono_now(void)
{
	return ps_clock_mono_ms(ps_clock_real());
}

enum ps_err kube_client_new(struct kcfg *cfg, const struct kube_client_opts *opts,
                            struct kube_client **out, struct ps_diag *diag)
{
	*out = NULL;
	struct kube_client_opts o = opts ? *opts : (struct kube_client_opts){0};
	if (!cfg || !cfg->server)
		return ps_diag_set(diag, PS_EINVAL, "kube client: no configuration");
	if (o.timeout_ms < 0 || o.attempt_timeout_ms < 0 || o.max_attempts < 0 ||
	    o.backoff_base_ms < 0 || o.backoff_cap_ms < 0)
		return ps_diag_set(diag, PS_EINVAL, "kube client: negative option");
	struct kube_client *c = ps_calloc(1, sizeof(*c));
	if (!c)
		return ps_diag_set(diag, PS_ENOMEM, "kube client: out of memory");
	enum ps_err err = http_client_new(&c->http, diag);
	if (err) {
		ps_free(c);
		return err;
	}
	c->cfg = cfg;
	c->limiter = o.limiter;
	c->cancel = o.cancel;
	c->timeout_ms = o.timeout_ms ? o.timeout_ms : KUBE_DEFAULT_TIMEOUT_MS;
	c->attempt_timeout_ms =
	    o.attempt_timeout_ms ? o.attempt_timeout_ms : KUBE_DEFAULT_ATTEMPT_TIMEOUT_MS;
	c->max_attempts = o.max_attempts ? o.max_attempts : KUBE_DEFAULT_MAX_ATTEMPTS;
	c->base_ms = o.backoff_base_ms ? o.backoff_base_ms : KUBE_DEFAULT_BACKOFF_BASE_MS;
	c->cap_ms = o.backoff_cap_ms ? o.backoff_cap_ms : KUBE_DEFAULT_BACKOFF_CAP_MS;
	c->max_body = o.max_body ? o.max_body : KUBE_DEFAULT_MAX_BODY;
	if (o.seed) {
		c->rng = o.seed;
	} else {
		struct timespec ts;
		clock_gettime(CLOCK_MONOTONIC, &ts);
		c->rng = ((uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec) ^
		         ((uint64_t)getpid() << 32) ^ (uint64_t)(uintptr_t)c;
	}
	ps_buf_init(&c->url, KUBE_URL_MAX);
	http_response_init(&c->resp);
	status_clear(&c->last);
	*out = c;
	return PS_OK;
}

void kube_client_free(struct kube_client *c)
{
	if (!c)
		return;
	http_response_release(&c->resp);
	ps_buf_release(&c->url);
	http_client_free(c->http);
	ps_free(c);
}

void kube_client_set_cancel(struct kube_client *c, struct http_cancel *cancel)
{
	c->cancel = cancel;
}

void kube_client_set_deadline(struct kube_client *c, int64_t deadline_ms)
{
	c->deadline_ms = deadline_ms > 0 ? deadline_ms : 0;
}

int64_t kube_client_call_deadline(const struct kube_client *c)
{
	int64_t d = mono_now() + c->timeout_ms;
	if (c->deadline_ms && c->deadline_ms < d)
		d = c->deadline_ms;
	return d;
}

const struct kube_status *kube_client_last_status(const struct kube_client *c)
{
	return &c->last;
}

struct kube_client_stats kube_client_stats(const struct kube_client *c)
{
	return c->stats;
}

const char *kube_client_last_url(const struct kube_client *c)
{
	return ps_buf_cstr(&c->url);
}

uint64_t kube_client_next_random(struct kube_client *c)
{
	return kube_rand_next(&c->rng);
}

/* Sleeps <ms> in slices, watching the cancel token. Returns PS_OK or PS_ECANCELED. */
static enum ps_err wait_for(struct kube_client *c, int64_t ms)
{
	int64_t end = mono_now() + ms;
	for (;;) {
		if (c->cancel && http_cancel_fired(c->cancel))
			return PS_ECANCELED;
		int64_t left = end - mono_now();
		if (left <= 0)
			return PS_OK;
		if (left > KUBE_WAIT_SLICE_MS)
			left = KUBE_WAIT_SLICE_MS;
		struct timespec ts = {0, (long)left * 1000000L};
		(void)clock_nanosleep(CLOCK_MONOTONIC, 0, &ts, NULL);
	}
}

/* Appends " (<note>)" to the message in <diag> (NULL allowed). */
PS_PRINTF(2, 3)
static void append_note(struct ps_diag *diag, const char *fmt, ...)
{
	if (!diag)
		return;
	char msg[PS_DIAG_MAX], note[160];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(note, sizeof(note), fmt, ap);
	va_end(ap);
	snprintf(msg, sizeof(msg), "%s", diag->msg);
	(void)ps_diag_set(diag, diag->err, "%s (%s)", msg, note);
}

/* Gives the message of the failed attempt <ad> to the caller's <diag> (may be NULL). */
static enum ps_err hand_over(struct ps_diag *diag, const struct ps_diag *ad, enum ps_err err)
{
	if (diag)
		*diag = *ad;
	return err;
}

static bool is_transport_retryable(enum ps_err err, bool idempotent)
{
	if (err == PS_EUNAVAIL) /* could not connect: nothing reached the server */
		return true;
	return idempotent && (err == PS_EIO || err == PS_ETIMEDOUT);
}

/* Waits for a limiter token, at most until <deadline>. */
static enum ps_err take_token(struct kube_client *c, const struct kube_req *req, int64_t deadline,
                              struct ps_diag *diag)
{
	if (!c->limiter)
		return PS_OK;
	int64_t wait = 0;
	int64_t left = deadline - mono_now();
	if (kube_limiter_reserve(c->limiter, left, &wait) != PS_OK) {
		c->stats.throttled++;
		return ps_diag_set(
		    diag, PS_ETHROTTLED,
		    "%s %s: client-side rate limit (qps %g, burst %g): no slot within "
		    "%lld ms, not sent",
		    req->method, ps_buf_cstr(&c->url), c->limiter->qps, c->limiter->burst,
		    (long long)(left > 0 ? left : 0));
	}
	if (wait > 0 && wait_for(c, wait) != PS_OK)
		return ps_diag_set(diag, PS_ECANCELED, "%s %s: canceled", req->method,
		                   ps_buf_cstr(&c->url));
	return PS_OK;
}

enum ps_err kube_do(struct kube_client *c, const struct kube_req *req, const char **body,
                    size_t *body_len, struct ps_diag *diag)
{
	if (body)
		*body = NULL;
	if (body_len)
		*body_len = 0;
	status_clear(&c->last);
	int64_t deadline = req->deadline_ms ? req->deadline_ms : kube_client_call_deadline(c);
	if (!req->method || !req->path || req->path[0] != '/')
		return ps_diag_set(diag, PS_EINVAL,
		                   "kube: request without a method or an API path");
	ps_buf_reset(&c->url);
	enum ps_err err = ps_buf_append_str(&c->url, c->cfg->server);
	if (!err)
		err = ps_buf_append_str(&c->url, req->path);
	if (err)
		return ps_diag_set(diag, err, "%s %s%.200s: URL too long", req->method,
		                   c->cfg->server, req->path);
	const char *url = ps_buf_cstr(&c->url);
	const struct http_header accept = {"Accept", "application/json"};

	int attempts = 0;
	bool reauthed = false;
	for (;;) {
		if (c->cancel && http_cancel_fired(c->cancel))
			return ps_diag_set(diag, PS_ECANCELED, "%s %s: canceled", req->method, url);
		int64_t left = deadline - mono_now();
		if (left <= 0)
			return ps_diag_set(diag, PS_ETIMEDOUT,
			                   "%s %s: deadline passed before sending", req->method,
			                   url);
		err = take_token(c, req, deadline, diag);
		if (err)
			return err;
		left = deadline - mono_now();
		if (left <= 0)
			return ps_diag_set(diag, PS_ETIMEDOUT,
			                   "%s %s: deadline passed before sending", req->method,
			                   url);

		const struct kcfg_cred *cred = NULL;
		struct ps_diag cd;
		ps_diag_clear(&cd);
		err = kcfg_credentials(c->cfg, ps_clock_wall_ms(ps_clock_real()), &cred, &cd);
		if (err)
			return ps_diag_set(diag, err, "%s %s: credentials: %s", req->method, url,
			                   ps_diag_msg(&cd));
		struct http_tls tls;
		kcfg_tls(c->cfg, cred, &tls);
		int64_t t = left < c->attempt_timeout_ms ? left : c->attempt_timeout_ms;
		struct http_request hr = {
		    .method = req->method,
		    .url = url,
		    .headers = &accept,
		    .n_headers = 1,
		    .body = req->body,
		    .body_len = req->body ? req->body_len : 0,
		    .content_type = req->content_type,
		    .bearer_token = cred->token,
		    .tls = &tls,
		    .connect_timeout_ms = t < KUBE_CONNECT_TIMEOUT_MS ? t : KUBE_CONNECT_TIMEOUT_MS,
		    .timeout_ms = t,
		    .max_body = c->max_body,
		};
		attempts++;
		c->stats.requests++;
		/* The attempt's message reaches <diag> only if the call fails with it: a call
		 * that succeeds on a retry leaves no stale error behind. */
		struct ps_diag ad;
		ps_diag_clear(&ad);
		err = http_do(c->http, &hr, &c->resp, c->cancel, &ad);
		long status = c->resp.status;

		if (!err && status == 401 && !reauthed) {
			/* Fresh credentials once; retry only when they did change (a static token
			 * cannot be refreshed). <cred> is held until the comparison so that its
			 * address cannot be reused by the fresh snapshot. */
			reauthed = true;
			kcfg_token_invalidate(c->cfg, cred);
			const struct kcfg_cred *fresh = NULL;
			bool changed = kcfg_credentials(c->cfg, ps_clock_wall_ms(ps_clock_real()),
			                                &fresh, NULL) == PS_OK &&
			               fresh != cred;
			kcfg_cred_unref(fresh);
			if (changed) {
				kcfg_cred_unref(cred);
				c->stats.reauths++;
				attempts--; /* the repeat does not count against the retries */
				continue;
			}
		}
		kcfg_cred_unref(cred);

		bool retryable;
		int64_t retry_after = -1;
		if (err) {
			if (err == PS_ECANCELED)
				return hand_over(diag, &ad, err);
			retryable = is_transport_retryable(err, req->idempotent);
		} else if (status >= 200 && status < 300) {
			if (body)
				*body = ps_buf_cstr(&c->resp.body);
			if (body_len)
				*body_len = c->resp.body.len;
			status_clear(&c->last);
			return PS_OK;
		} else {
			err = kube_status_error(req->method, url, status, c->resp.body.data,
			                        c->resp.body.len, &c->last, &ad);
			c->last.code = c->last.code ? c->last.code : (int32_t)status;
			retryable = status == 429 || (status >= 500 && status < 600);
			retry_after = c->resp.retry_after_ms;
			if (retry_after < 0 && c->last.retry_after_s >= 0)
				retry_after = c->last.retry_after_s * 1000;
		}
		if (!retryable)
			return hand_over(diag, &ad, err);
		if (attempts >= c->max_attempts) {
			append_note(&ad, "gave up after %d attempts", attempts);
			return hand_over(diag, &ad, err);
		}
		int64_t delay =
		    kube_backoff_delay_ms(c->base_ms, c->cap_ms, attempts, retry_after, &c->rng);
		if (mono_now() + delay >= deadline) {
			append_note(&ad, "%d attempt%s; a retry in %lld ms would pass the deadline",
			            attempts, attempts == 1 ? "" : "s", (long long)delay);
			return hand_over(diag, &ad, err);
		}
		if (wait_for(c, delay) != PS_OK)
			return ps_diag_set(diag, PS_ECANCELED,
			                   "%s %s: canceled while waiting to retry", req->method,
			                   url);
		c->stats.retries++;
	}
}
