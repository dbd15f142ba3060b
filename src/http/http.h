/* http.h -- the libcurl wrapper that the Prometheus and Kubernetes clients share.
 *
 * DESIGN
 * A struct http_client belongs to one thread (curl handles are never shared): it keeps one curl
 * easy handle and one multi handle for its whole life, so connections and TLS sessions are
 * reused. Every transfer runs through the multi handle so that a struct http_cancel fired from
 * another thread wakes it with curl_multi_wakeup() and the transfer ends within milliseconds
 * (not at the next once-a-second progress callback). Every response body has a cap. TLS
 * verification is on unless a request's TLS settings explicitly turn it off; CA, client
 * certificate and key are handed to curl from memory (CURLOPT_*_BLOB), never written to disk.
 * Errors carry the method, the URL (without credentials) and curl's message. Nothing here logs.
 * curl_global_init must have run before any thread uses this (http_global_init()).
 */
#ifndef HTTP_H
#define HTTP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ps_buf.h"
#include "ps_compiler.h"
#include "ps_diag.h"
#include "ps_err.h"

/* Once per process, before any thread starts: curl_global_init. Returns PS_EIO on failure. */
PS_MUST_CHECK enum ps_err http_global_init(struct ps_diag *diag);
void http_global_cleanup(void);

/* TLS settings of a request. The PEM buffers are borrowed for the call. */
struct http_tls {
	const char *ca_pem; /* NULL: the system's CA store */
	size_t ca_len;
	const char *cert_pem; /* client certificate, NULL: none */
	size_t cert_len;
	const char *key_pem; /* its private key */
	size_t key_len;
	bool insecure_skip_verify; /* only when the configuration says so explicitly */
};

struct http_header {
	const char *name;
	const char *value;
};

struct http_request {
	const char *method; /* "GET", "POST", "PATCH", "PUT", "DELETE" */
	const char *url;    /* absolute; query string already encoded */
	const struct http_header *headers;
	size_t n_headers;
	const char *body; /* NULL: none */
	size_t body_len;
	const char *content_type; /* of <body> */
	const char *bearer_token; /* sent as Authorization: Bearer; never appears in errors */
	const char *basic_user;   /* basic auth when set */
	const char *basic_password;
	const struct http_tls *tls; /* NULL: system CAs, verification on */
	int64_t connect_timeout_ms; /* 0: 5 s */
	int64_t timeout_ms;         /* total; 0: 30 s */
	size_t max_body;            /* response body cap; 0: 16 MiB */
};

struct http_response {
	long status;              /* HTTP status, 0 when no response arrived */
	struct ps_buf body;       /* capped by the request's max_body */
	char content_type[128];   /* "" when absent */
	int64_t retry_after_ms;   /* Retry-After (seconds or an HTTP date), -1 when absent */
};

/* A cancellation token: fired once, from any thread; wakes the transfer of every client that
 * runs under it. Owned by whoever created it (a worker): http_cancel_new() before use,
 * http_cancel_free() once no transfer runs under it any more. */
struct http_cancel;
struct http_client;

PS_MUST_CHECK enum ps_err http_cancel_new(struct http_cancel **out);
void http_cancel_free(struct http_cancel *c);
/* Fires <c>: every transfer under it ends with PS_ECANCELED promptly. Thread-safe. */
void http_cancel_fire(struct http_cancel *c);
bool http_cancel_fired(const struct http_cancel *c);

/* Returns an owned client for the calling thread. PS_ENOMEM or PS_EIO (curl refused). */
PS_MUST_CHECK enum ps_err http_client_new(struct http_client **out, struct ps_diag *diag);
void http_client_free(struct http_client *c);

/* Initialises <r> empty (status 0, no body, retry_after_ms -1); release frees its body. */
void http_response_init(struct http_response *r);
void http_response_release(struct http_response *r);

/* Performs <req> on <c> (owned by the calling thread) and fills <resp> (any status: the caller
 * decides what a 4xx means). Blocks up to the request's timeout. Returns PS_OK when a response
 * arrived; PS_ETIMEDOUT, PS_ECANCELED (<cancel> fired; may be NULL), PS_EUNAVAIL (could not
 * connect or resolve), PS_EIO (TLS or transfer failure), PS_ETOOBIG (body over the cap),
 * PS_EINVAL (bad request), with <diag> naming the method and URL. */
PS_MUST_CHECK enum ps_err http_do(struct http_client *c, const struct http_request *req,
                                  struct http_response *resp, struct http_cancel *cancel,
                                  struct ps_diag *diag);

/* ---- observing transfers (the controller's own metrics) ---- */

/* What one http_do() call did. Pointers are borrowed for the duration of the callback. */
struct http_observation {
	const char *method; /* the request's method (may be invalid: the call then failed) */
	const char *url;    /* the request's URL, as given (may be NULL when the call failed) */
	long status;        /* the HTTP status, 0 when no response arrived */
	enum ps_err err;    /* what http_do() returned */
	int64_t elapsed_us; /* the call's duration, CLOCK_MONOTONIC microseconds */
};

struct http_observer {
	/* Called on the thread of each http_do() call, after the transfer, before it returns.
	 * Must be thread-safe and quick, and must not call http_do(). */
	void (*done)(void *arg, const struct http_observation *o);
	void *arg;
};

/* Installs <obs> (borrowed; NULL removes the observer) as the process-wide observer of every
 * http_do() call. Install it before the threads that make requests start and remove it after
 * they have stopped: a call in flight may still use the previous observer. Costs nothing when
 * no observer is installed; two clock reads per call otherwise. Any thread. */
void http_set_observer(const struct http_observer *obs);

/* Appends <s> percent-encoded for a URL path segment or a query value to <b>. Returns PS_OK,
 * PS_ETOOBIG (over the cap of <b>) or PS_ENOMEM; on failure nothing is appended. */
PS_MUST_CHECK enum ps_err http_append_escaped(struct ps_buf *b, const char *s);

#endif
