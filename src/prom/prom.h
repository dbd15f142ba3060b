/* prom.h -- the Prometheus HTTP API client: instant and range queries, response parsing and
 * query templates (DESIGN.md section 4).
 *
 * DESIGN
 * Four parts, each usable without the ones after it:
 * - Parsing: prom_parse_response() turns a response body (plus the HTTP status and content
 *   type when it came over HTTP) into a struct prom_result or an error. Pure: no I/O, no clock.
 *   It is also what `prescale simulate` needs for a saved query_range file.
 * - Templates: prom_template_check() at configuration time, prom_template_expand() per query.
 * - The endpoint: a struct prom_endpoint holds the client configuration and the credential
 *   files (bearer token, basic-auth password, CA, client certificate and key), each re-read
 *   when its stat() changes. prom_endpoint_build() turns a struct prom_query into the exact
 *   HTTP request (method, URL, form body, credentials, TLS, timeouts) without any network, so
 *   tests can check what would be sent.
 * - The client: a struct prom_client is an endpoint plus an http_client. It belongs to ONE
 *   thread (the http_client inside is a curl handle, and the endpoint caches files): a worker
 *   creates its own with prom_client_new() and no other thread touches it. Only the struct
 *   http_cancel passed to a query may be fired from another thread.
 *
 * No data. Prometheus sends values as strings; "NaN", "+Inf" and "-Inf" are no data: the point
 * gets no_data = true and keeps that value (NaN or an infinity), never 0. An empty vector or
 * matrix, and a result whose every value is no data, set prom_result.no_data. Callers decide
 * what no data means (the engine never scales down on it).
 *
 * Errors. Every failure returns an enum ps_err and a one-line message in <diag> that starts
 * with "prometheus: " and ends with where the response came from, e.g.
 *   prometheus: bad_data: invalid parameter "query": 1:5: parse error: unclosed left
 *   parenthesis (HTTP 400 from GET http://127.0.0.1:9090/api/v1/query)
 * The code says whether trying again later may help (ps_err_is_retryable()):
 *   errorType timeout                    -> PS_ETIMEDOUT  (retryable)
 *   errorType unavailable, canceled      -> PS_EUNAVAIL   (retryable; "canceled" is the server
 *                                           giving up on the query, not our own cancel)
 *   errorType internal                   -> PS_ESERVER    (retryable)
 *   errorType bad_data                   -> PS_EPARSE     (the query or a parameter is wrong)
 *   errorType execution                  -> PS_EINVALID   (422: the query cannot be evaluated)
 *   errorType not_found                  -> PS_ENOTFOUND
 *   any other errorType, and a body that is not JSON (the plain-text 404, a proxy's HTML
 *   page, an empty body; the message quotes its start), by HTTP status: 401 PS_EUNAUTHORIZED,
 *   403 PS_EFORBIDDEN, 404 PS_ENOTFOUND, 429 PS_ETHROTTLED, 503 PS_EUNAVAIL, 504
 *   PS_ETIMEDOUT, other 5xx PS_ESERVER (all retryable but 401/403/404), any other status
 *   PS_EHTTP; PS_EPARSE for a saved body (status 0).
 *   Malformed JSON (with body:line:col; a cut body "ends too early") and JSON that is not a
 *   Prometheus envelope are PS_EPARSE, or the status' code when the status is 400 or more (a
 *   proxy's broken error page keeps its retry class). A success envelope whose data is not
 *   what the API documents is PS_EPARSE with the JSON path ("data.result[2].value[1]: ..."),
 *   and with a status of 300 or more it gets the status' code. Transport failures are
 *   http_do()'s (PS_ETIMEDOUT, PS_EUNAVAIL, PS_ECANCELED, PS_EIO, PS_ETOOBIG), its message
 *   behind "prometheus: ".
 *
 * Memory: every allocation goes through ps_malloc & co; cJSON uses the hooks
 * {ps_malloc_noted, ps_free}, installed once per process (pthread_once), so an allocation
 * failure is PS_ENOMEM and never reads as bad JSON. Secrets (token, password, client key) are
 * zeroed before they are freed and never appear in a message.
 */
#ifndef PROM_H
#define PROM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "cfg.h"
#include "http.h"
#include "ps_compiler.h"
#include "ps_diag.h"
#include "ps_err.h"

/* The label that names a pod in per-pod queries when the metric does not say. */
#define PROM_DEFAULT_KEY_LABEL "pod"
/* Query timeout when the configuration gives none. */
#define PROM_DEFAULT_TIMEOUT_MS ((int64_t)5000)
/* Response body cap: a 7-day warm-up at a 15 s step is about 1 MB per series. */
#define PROM_DEFAULT_MAX_BODY ((size_t)64 << 20)
/* Above this many bytes of encoded parameters, a query is sent as a POST form (long URLs are
 * cut by proxies; Prometheus reads the same parameters from a form body). */
#define PROM_POST_THRESHOLD ((size_t)2000)
/* Largest PromQL text we send (before encoding). */
#define PROM_MAX_QUERY ((size_t)256 << 10)
/* Prometheus refuses a range query of more than 11,000 points per series. */
#define PROM_MAX_RANGE_POINTS ((int64_t)11000)
/* Size caps of the credential files: a token or password, and a PEM file. */
#define PROM_MAX_SECRET_FILE ((size_t)64 << 10)
#define PROM_MAX_PEM_FILE ((size_t)1 << 20)

/* ---- configuration ---- */

/* A name and a value: a request header or a query parameter. Both owned by the config. */
struct prom_kv {
	char *name;
	char *value;
};

/* How to reach Prometheus. Every string is owned (allocate it with ps_strdup and friends);
 * prom_config_release() frees them. NULL means "not set" for every optional field. */
struct prom_config {
	char *url;                 /* base URL, "http://prometheus:9090" or with a path prefix; no
	                              query string (use <params>) */
	int64_t timeout_ms;        /* per query; 0: PROM_DEFAULT_TIMEOUT_MS */
	char *bearer_token_file;   /* Authorization: Bearer <file content, trimmed> */
	char *basic_username;      /* basic auth when set, with the password from: */
	char *basic_password_file; /* (content trimmed like Prometheus does) */
	char *ca_file;             /* PEM CAs that verify the server; NULL: the system store */
	char *cert_file;           /* client certificate (PEM), with: */
	char *key_file;            /* its private key (PEM) */
	bool insecure_skip_verify; /* do not verify the server (only when configured so) */
	size_t n_headers;
	struct prom_kv *headers; /* extra request headers (a tenant header: X-Scope-OrgID) */
	size_t n_params;
	struct prom_kv *params; /* extra query parameters sent with every query, in the URL also
	                           for POST (tenant parameters of Thanos, Cortex, Mimir proxies).
	                           struct cfg_prometheus has no such key yet. */
	size_t max_body;        /* response body cap; 0: PROM_DEFAULT_MAX_BODY */
};

/* Initialises <c> (not NULL) empty: no URL, defaults everywhere. */
void prom_config_init(struct prom_config *c);

/* Fills <out> (initialised here) with owned copies of the prometheus section <p> (borrowed)
 * of a loaded configuration. Returns PS_OK or PS_ENOMEM (then <out> holds nothing). */
PS_MUST_CHECK enum ps_err prom_config_from_cfg(const struct cfg_prometheus *p,
                                               struct prom_config *out, struct ps_diag *diag);

/* Appends a copy of <name>: <value> (borrowed) to the headers / the extra query parameters
 * of <c>. Returns PS_OK or PS_ENOMEM (nothing appended). */
PS_MUST_CHECK enum ps_err prom_config_add_header(struct prom_config *c, const char *name,
                                                 const char *value);
PS_MUST_CHECK enum ps_err prom_config_add_param(struct prom_config *c, const char *name,
                                                const char *value);

/* Frees every string of <c> and leaves it as prom_config_init() does. NULL allowed. */
void prom_config_release(struct prom_config *c);

/* ---- queries ---- */

enum prom_query_kind {
	PROM_QUERY_INSTANT, /* GET/POST /api/v1/query */
	PROM_QUERY_RANGE,   /* GET/POST /api/v1/query_range */
};

/* One query. Every pointer is borrowed for the call. */
struct prom_query {
	enum prom_query_kind kind;
	const char *promql;        /* the PromQL text, templates already expanded */
	bool has_time;             /* instant: evaluate at <time_ms>; false: the server's now */
	int64_t time_ms;           /* Unix ms */
	int64_t start_ms;          /* range: first evaluation, Unix ms */
	int64_t end_ms;            /* range: last evaluation (>= start) */
	int64_t step_ms;           /* range: > 0, at most PROM_MAX_RANGE_POINTS points */
	int64_t timeout_ms;        /* the whole request (curl); 0: the endpoint's */
	int64_t server_timeout_ms; /* the `timeout` parameter; 0: derived from the request
	                              timeout, a little shorter (by a tenth, at most 500 ms) so
	                              that the server's "query timed out" answer arrives before
	                              the transfer is cut */
	const char *key_label;     /* the label that keys series (per-pod); NULL: "pod" */
};

/* ---- results ---- */

enum prom_result_type {
	PROM_RESULT_SCALAR,
	PROM_RESULT_VECTOR,
	PROM_RESULT_MATRIX,
	PROM_RESULT_STRING,
};

struct prom_label {
	const char *name;
	const char *value;
};

struct prom_point {
	int64_t ts_ms; /* Unix ms (Prometheus sends seconds with millisecond decimals) */
	double value;  /* as sent; NaN, +Inf or -Inf when no_data (never 0) */
	bool no_data;  /* the value was "NaN", "+Inf" or "-Inf" */
};

/* One series: a vector sample (exactly one point) or a matrix series (points in time order,
 * strictly increasing). */
struct prom_series {
	const struct prom_label *labels; /* as sent (Prometheus sorts them by name) */
	size_t n_labels;
	const char *key; /* the value of the query's key label ("pod"); NULL when absent */
	const struct prom_point *points;
	size_t n_points;
};

/* A parsed successful response. Every pointer inside is owned by the result and lives until
 * prom_result_release(). */
struct prom_result {
	enum prom_result_type type;
	long http_status;                 /* 0 when not parsed from HTTP */
	struct prom_point scalar;         /* scalar; string: its timestamp (value NaN) */
	const char *string;               /* string results, else NULL */
	const struct prom_series *series; /* vector and matrix */
	size_t n_series;
	size_t n_points_with_data; /* over all series (scalar: 0 or 1) */
	bool no_data; /* scalar NaN/Inf; vector or matrix empty or with no value that is data */
	const char *const *warnings; /* the response's "warnings", in order */
	size_t n_warnings;
	void *mem; /* private: the allocations behind the pointers above */
};

/* What the parser knows about where a body came from. Every field may be zero/NULL. */
struct prom_parse_opts {
	const char *source;       /* names the response in messages: "GET http://host/api/v1/query"
	                             or a file name; NULL: nothing */
	long http_status;         /* 0: not from HTTP (a saved body) */
	const char *content_type; /* for the message about a non-JSON body */
	const char *key_label;    /* NULL: PROM_DEFAULT_KEY_LABEL */
};

/* Parses the <len> bytes at <body> (borrowed, need not be NUL-terminated) as a Prometheus
 * /api/v1/query or /api/v1/query_range response. <opts> may be NULL. On PS_OK, <out> holds an
 * owned result (release it with prom_result_release()); on failure <out> holds nothing
 * (releasing it is harmless) and the code and message follow the table at the top of this
 * file. Does no I/O; any thread (cJSON hooks are installed once per process). */
PS_MUST_CHECK enum ps_err prom_parse_response(const char *body, size_t len,
                                              const struct prom_parse_opts *opts,
                                              struct prom_result *out, struct ps_diag *diag);

/* Frees everything <r> owns and zeroes it. NULL and a zeroed or failed result allowed. */
void prom_result_release(struct prom_result *r);

/* The value of label <name> (borrowed) in <s>, borrowed from the result; NULL when absent. */
const char *prom_series_label(const struct prom_series *s, const char *name);

/* The first series of <r> whose key is <key> (borrowed), or NULL. */
const struct prom_series *prom_result_find(const struct prom_result *r, const char *key);

/* The one value of a result meant to be a single number: a scalar, or a vector of exactly one
 * sample. Returns PS_OK with *out set; PS_ENODATA when there is no data (an empty vector, NaN,
 * +Inf, -Inf: *out is NaN); PS_EMETRIC for a vector of several series (the message says to
 * aggregate, e.g. with sum) or a matrix or string result. <diag> may be NULL. */
PS_MUST_CHECK enum ps_err prom_result_value(const struct prom_result *r, double *out,
                                            struct ps_diag *diag);

/* ---- query templates ----
 *
 * A query may contain {{.name}} placeholders (spaces allowed inside the braces: {{ .name }}).
 * The variables, all taken from the Autoscaler (struct cfg_target):
 *   {{.namespace}}  metadata.namespace (also the workload's namespace)
 *   {{.name}}       metadata.name of the Autoscaler
 *   {{.target}}     scaleTargetRef.name: the workload (Deployment, StatefulSet, ...)
 *   {{.kind}}       scaleTargetRef.kind ("Deployment")
 *   {{.metric}}     the name of the metric the query belongs to
 * A placeholder may only appear inside a double- or single-quoted PromQL string, e.g.
 * {namespace="{{.namespace}}", deployment="{{.target}}"}: the value is escaped for that
 * string's body (backslash, the quote, newline as \n, tab, CR, other control bytes as \xNN), so
 * no value can end the string and change the query. A placeholder outside a string (where no
 * escaping can make an arbitrary value safe), in a `raw` string (which has no escapes) or in a
 * # comment is refused at configuration time, as is an unknown name. Values are escaped as
 * string bodies, not as regular expressions: in a =~ matcher a "." in a name still matches any
 * character. Every "{{" in a string starts a placeholder.
 */

struct prom_vars {
	const char *namespace; /* {{.namespace}} */
	const char *name;      /* {{.name}} */
	const char *target;    /* {{.target}} */
	const char *kind;      /* {{.kind}} */
	const char *metric;    /* {{.metric}} */
};

/* Fills <out> with pointers borrowed from <t> and <m> (m may be NULL: no {{.metric}}). */
void prom_vars_from_target(const struct cfg_target *t, const struct cfg_metric *m,
                           struct prom_vars *out);

/* Checks the placeholders of <query> (borrowed). Returns PS_OK, or PS_ECONFIG with <diag>
 * saying which placeholder, where (line:col in the query) and why: unknown name (the known ones
 * listed), malformed or unterminated placeholder, or a placeholder outside a quoted string. */
PS_MUST_CHECK enum ps_err prom_template_check(const char *query, struct ps_diag *diag);

/* Expands the placeholders of <query> with <vars> (both borrowed). On PS_OK *out is an owned
 * string (ps_free). Returns PS_ECONFIG as prom_template_check(), PS_EINVAL when a variable the
 * query uses is NULL in <vars>, PS_ETOOBIG past PROM_MAX_QUERY, or PS_ENOMEM. */
PS_MUST_CHECK enum ps_err prom_template_expand(const char *query, const struct prom_vars *vars,
                                               char **out, struct ps_diag *diag);

/* ---- the endpoint: requests without the network ---- */

struct prom_endpoint;

/* Creates an endpoint from <cfg>, taking ownership of its contents (<cfg> is left empty,
 * success or not). Checks the URL (http:// or https://, no query string or fragment),
 * the timeouts, and that basic auth has its password file and a client certificate its key.
 * Files are read at the first request, not here. Returns PS_OK with an owned *out,
 * PS_ECONFIG or PS_ENOMEM. */
PS_MUST_CHECK enum ps_err prom_endpoint_new(struct prom_config *cfg, struct prom_endpoint **out,
                                            struct ps_diag *diag);

/* Frees <e> (NULL allowed), zeroing the secrets it read. */
void prom_endpoint_free(struct prom_endpoint *e);

/* One HTTP request, ready for http_do(). */
struct prom_request {
	struct http_request http;    /* its strings point into this struct and into the endpoint */
	char *url;                   /* owned */
	char *body;                  /* owned: the form of a POST; NULL for GET */
	char server_timeout[32];     /* the `timeout` parameter sent */
	char source[320];            /* "GET http://host:9090/api/v1/query" (no credentials, no
	                                query string), for messages */
	struct http_header *headers; /* owned array; names and values borrowed from the endpoint */
	struct http_tls tls;         /* http.tls points here when TLS settings apply */
};

/* Builds the request for <q> (borrowed) on <e> (owned by the calling thread): the path, the
 * parameters (query; time, or start/end/step; timeout; then the extra params) percent-encoded
 * as application/x-www-form-urlencoded, in the URL for a GET or as the body of a POST when they
 * exceed PROM_POST_THRESHOLD (the extra params stay in the URL), the headers, the credentials
 * and TLS material (each file re-read first when its device, inode, size, mtime or ctime
 * changed), and the timeouts. <out> is valid until the next build or prom_endpoint_free() on
 * <e>, and must be released with prom_request_release(). Returns PS_OK; PS_EINVAL for a bad
 * query (empty, too long, a range with end < start, step <= 0 or too many points, a negative
 * timeout); PS_ENOENT / PS_EIO / PS_ETOOBIG / PS_EPARSE for a credential file that cannot be
 * read or is empty (the message names the file, never its content); PS_ENOMEM. Blocks on file
 * I/O only. */
PS_MUST_CHECK enum ps_err prom_endpoint_build(struct prom_endpoint *e, const struct prom_query *q,
                                              struct prom_request *out, struct ps_diag *diag);

/* Frees what <r> owns and zeroes it. NULL and a zeroed request allowed. */
void prom_request_release(struct prom_request *r);

/* ---- the client ---- */

struct prom_client;

/* Creates a client for the calling thread, taking ownership of <cfg>'s contents as
 * prom_endpoint_new() does. http_global_init() must have run. Returns PS_OK with an owned
 * *out, PS_ECONFIG, PS_ENOMEM or PS_EIO (curl refused). */
PS_MUST_CHECK enum ps_err prom_client_new(struct prom_config *cfg, struct prom_client **out,
                                          struct ps_diag *diag);

/* Frees <c> (NULL allowed). Call from the thread that used it. */
void prom_client_free(struct prom_client *c);

/* Runs <q> (borrowed) on <c> (owned by the calling thread) and parses the answer into <out>
 * (released with prom_result_release(); holds nothing on failure). Blocks up to the request
 * timeout; returns PS_ECANCELED promptly when <cancel> (may be NULL) fires. Returns PS_OK or
 * an error per the table at the top of this file, <diag> naming the request. A 401 makes the
 * next query re-read the credential files even if they look unchanged. */
PS_MUST_CHECK enum ps_err prom_client_query(struct prom_client *c, const struct prom_query *q,
                                            struct http_cancel *cancel, struct prom_result *out,
                                            struct ps_diag *diag);

#endif
