/* kube.h -- the Kubernetes API client: the scale subresource, pods, Leases and Events, with
 * client-side rate limiting, retries and the API's Status errors.
 *
 * Lifecycle and threads: a struct kube_client belongs to one thread (it owns an http_client,
 * whose curl handles are never shared) and borrows a struct kcfg that every thread shares, a
 * struct kube_limiter shared by every client of the process (the token bucket of qps and burst)
 * and, optionally, the thread's struct http_cancel. A call blocks until its deadline at most:
 * the client's timeout from the call's start, or an earlier deadline set with
 * kube_client_set_deadline(). Responses are decoded into caller-owned structs; nothing returned
 * points into the client unless a comment says "borrowed from <c>".
 *
 * Errors: every call returns enum ps_err and fills a struct ps_diag (may be NULL) with one line
 * naming the method, the URL and the API's Status message, e.g.
 *   PATCH https://127.0.0.1:6443/apis/apps/v1/namespaces/shop/deployments/web/scale: 403
 *   Forbidden: deployments.apps "web" is forbidden: User "..." cannot patch ...
 * HTTP statuses map to 401 PS_EUNAUTHORIZED, 403 PS_EFORBIDDEN, 404 PS_ENOTFOUND, 409
 * PS_ECONFLICT, 410 PS_EGONE, 422 PS_EINVALID, 429 PS_ETHROTTLED, 5xx PS_ESERVER, any other
 * non-2xx PS_EHTTP; transport failures keep the http layer's codes (PS_ETIMEDOUT, PS_EIO,
 * PS_EUNAVAIL, PS_ECANCELED, ...). A client-side rate limit that cannot be met before the
 * deadline is PS_ETHROTTLED too, without anything sent. No message ever holds a credential.
 *
 * Retries, inside a call and within its deadline: 429 and 5xx, up to the client's attempt
 * limit, after the server's Retry-After (header, else the Status' retryAfterSeconds) or else an
 * exponential backoff with full jitter; a dropped connection, a truncated body or an attempt
 * timeout only for idempotent requests (GETs and the scale merge patch); a refused connection
 * always (nothing was sent). A 401 refreshes the credentials once (kcfg_token_invalidate) and
 * repeats the request when they changed. Other 4xx are never retried; in particular a 409 on a
 * Lease create or update goes back to the caller, who must read the Lease again. (Below this
 * layer, libcurl resends a request once by itself when a reused keep-alive connection closes
 * before any byte of an answer: the server dropped an idle connection as the request left.)
 */
#ifndef KUBE_H
#define KUBE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Types only (struct eng_pod), by path: ps_kube does not link ps_engine. */
#include "engine_types.h"
#include "http.h"
#include "kubeconfig.h"
#include "ps_clock.h"
#include "ps_compiler.h"
#include "ps_diag.h"
#include "ps_err.h"

/* ---- limits and defaults ---- */

#define KUBE_NAME_MAX 253   /* a DNS-1123 subdomain: object names, API groups */
#define KUBE_LABEL_MAX 63   /* a DNS-1123 label: namespaces, resources, versions */
#define KUBE_KIND_MAX 64    /* buffer for a kind ("Deployment"), NUL included */
#define KUBE_RV_MAX 128     /* buffer for a resourceVersion, NUL included */
#define KUBE_UID_MAX 64     /* buffer for a uid, NUL included */
#define KUBE_HOLDER_MAX 512 /* buffer for a Lease's holderIdentity, NUL included */
#define KUBE_REASON_MAX 128 /* Event reason and action: the API's limit */
#define KUBE_NOTE_MAX 1024  /* Event note: the API's limit in bytes; longer notes are cut */
#define KUBE_STATUS_MSG_MAX 1024

#define KUBE_DEFAULT_QPS 20.0
#define KUBE_DEFAULT_BURST 30
#define KUBE_DEFAULT_TIMEOUT_MS 30000         /* a whole call, retries and waits included */
#define KUBE_DEFAULT_ATTEMPT_TIMEOUT_MS 10000 /* one HTTP exchange */
#define KUBE_DEFAULT_MAX_ATTEMPTS 5
#define KUBE_DEFAULT_BACKOFF_BASE_MS 200
#define KUBE_DEFAULT_BACKOFF_CAP_MS 5000
#define KUBE_DEFAULT_MAX_BODY ((size_t)16 << 20)
#define KUBE_POD_PAGE 500 /* pods asked for per list page (limit/continue) */

#define KUBE_REPORTING_CONTROLLER "prescale.dev/prescale"

/* Go's zero time, 0001-01-01T00:00:00Z, in Unix ms: what a missing lastTransitionTime means. */
#define KUBE_GO_ZERO_TIME_MS INT64_C(-62135596800000)

/* ---- names ---- */

/* True when <s> is a DNS-1123 subdomain (object names, API groups): 1..253 characters of
 * [a-z0-9.-], dot-separated labels that start and end with [a-z0-9]. */
bool kube_is_dns1123_subdomain(const char *s);
/* True when <s> is a DNS-1123 label (namespaces): 1..63 characters of [a-z0-9-], starting and
 * ending with [a-z0-9]. */
bool kube_is_dns1123_label(const char *s);

/* Checks <s> (may be NULL) as an object name (a DNS-1123 subdomain). <what> ("name", "Lease
 * name") starts the message. Returns PS_OK or PS_EINVAL with <diag> quoting the value and
 * giving the API server's rule, e.g. `invalid name "Web": a lowercase RFC 1123 subdomain must
 * consist of lower case alphanumeric characters, '-' or '.', and must start and end with an
 * alphanumeric character`. */
PS_MUST_CHECK enum ps_err kube_validate_name(const char *what, const char *s, struct ps_diag *diag);
/* Checks <s> (may be NULL) as a namespace (a DNS-1123 label). Same returns, with "namespace". */
PS_MUST_CHECK enum ps_err kube_validate_namespace(const char *s, struct ps_diag *diag);

/* ---- object references ---- */

/* A namespaced object, by group, version and resource (what the URL needs) and kind (what an
 * Event's `regarding` shows). Plain data: copy it freely. group "" is the core API. */
struct kube_ref {
	char group[KUBE_NAME_MAX + 1];     /* "apps", "argoproj.io", "" */
	char version[KUBE_LABEL_MAX + 1];  /* "v1", "v1alpha1" */
	char resource[KUBE_LABEL_MAX + 1]; /* "deployments", "rollouts" */
	char kind[KUBE_KIND_MAX];          /* "Deployment"; "" when not known */
	char namespace[KUBE_LABEL_MAX + 1];
	char name[KUBE_NAME_MAX + 1];
};

/* Fills <out> for the object of <api_version> ("apps/v1", "v1", "argoproj.io/v1alpha1") and
 * <kind> named <name> in <namespace>. The resource comes from a table of kinds with a scale
 * subresource (Deployment, StatefulSet, ReplicaSet, ReplicationController, Argo Rollout) and
 * otherwise from apimachinery's guess (lower case, then "s", "es" after s, "ies" for y).
 * Returns PS_OK, or PS_EINVAL with <diag> naming the bad part (every name is validated). */
PS_MUST_CHECK enum ps_err kube_ref_from_kind(struct kube_ref *out, const char *api_version,
                                             const char *kind, const char *namespace,
                                             const char *name, struct ps_diag *diag);
/* Fills <out> from a group ("" for core), version and resource; the kind is filled for the
 * resources of the table above and left "" otherwise. Returns PS_OK or PS_EINVAL. */
PS_MUST_CHECK enum ps_err kube_ref_from_resource(struct kube_ref *out, const char *group,
                                                 const char *version, const char *resource,
                                                 const char *namespace, const char *name,
                                                 struct ps_diag *diag);
/* Checks every part of <ref>. Returns PS_OK or PS_EINVAL with <diag>. Every call that takes a
 * ref runs this before sending anything. */
PS_MUST_CHECK enum ps_err kube_ref_validate(const struct kube_ref *ref, struct ps_diag *diag);

/* Appends to <b> the API path of a resource collection or object: "/api/<version>" for the
 * core group, else "/apis/<group>/<version>"; then "/namespaces/<namespace>" when <namespace>
 * is not NULL, "/<resource>", "/<name>" and "/<subresource>" when not NULL. Every segment is
 * percent-encoded (http_append_escaped). Returns PS_OK, PS_ETOOBIG (over the cap of <b>) or
 * PS_ENOMEM; on failure <b> may hold part of the path. Validates nothing. */
PS_MUST_CHECK enum ps_err kube_path_build(struct ps_buf *b, const char *group, const char *version,
                                          const char *namespace, const char *resource,
                                          const char *name, const char *subresource);
/* Appends "?<key>=<value>" (the first time: when <b> holds no '?') or "&<key>=<value>", the
 * value percent-encoded. Same returns as kube_path_build. */
PS_MUST_CHECK enum ps_err kube_path_query(struct ps_buf *b, const char *key, const char *value);

/* ---- Status errors ---- */

/* A decoded metav1.Status body. */
struct kube_status {
	int32_t code;                         /* "code"; 0 when absent */
	char status[16];                      /* "Failure", "Success" */
	char reason[64];                      /* "NotFound", "Conflict", ...; "" when absent */
	char message[KUBE_STATUS_MSG_MAX];    /* cut at the buffer's size */
	char details_name[KUBE_NAME_MAX + 1]; /* details.name */
	char details_group[KUBE_NAME_MAX + 1];
	char details_kind[KUBE_KIND_MAX];
	int64_t retry_after_s; /* details.retryAfterSeconds; -1 when absent */
	size_t n_causes;       /* details.causes */
	char cause_field[128]; /* the first cause's field ("spec.replicas"), "" when none */
};

/* Decodes <body> (<len> bytes, borrowed) as a Status object (`"kind":"Status"`). Returns
 * PS_OK; PS_EPARSE when the body is not JSON or not a Status (a plain-text 429, an HTML page),
 * with <diag> (may be NULL) saying which; PS_ENOMEM. Fields too long are cut. */
PS_MUST_CHECK enum ps_err kube_status_parse(const char *body, size_t len, struct kube_status *out,
                                            struct ps_diag *diag);

/* The error code of a non-2xx HTTP status (the table at the top of this file); PS_OK for
 * 2xx. */
enum ps_err kube_err_from_http(long http_status);

/* The standard reason phrase of <http_status> ("Forbidden", "Too Many Requests"); "" when
 * unknown. Never NULL. */
const char *kube_http_reason(long http_status);

/* Builds the error of a non-2xx response: returns kube_err_from_http(<http_status>) and records
 * in <diag> (may be NULL) `<method> <url>: <status> <phrase>: <Status message>`, or, when the
 * body is not a Status, the start of the body quoted (at most 120 bytes). <st> (may be NULL)
 * receives the decoded Status (code, reason and message from the body; all empty and
 * retry_after_s -1 when there was none). May allocate (cJSON); under memory pressure the
 * message falls back to the status line alone. */
enum ps_err kube_status_error(const char *method, const char *url, long http_status,
                              const char *body, size_t len, struct kube_status *st,
                              struct ps_diag *diag);

/* ---- client-side rate limit ---- */

/* A token bucket of <qps> tokens a second holding at most <burst>, shared by every client of
 * the process. Thread-safe. */
struct kube_limiter;

/* Returns an owned limiter, full (<burst> tokens), reading time from <clock> (borrowed, must
 * outlive the limiter; NULL: the real clock). <qps> > 0 and <burst> >= 1, else PS_EINVAL with
 * <diag>; PS_ENOMEM. */
PS_MUST_CHECK enum ps_err kube_limiter_new(double qps, int32_t burst, struct ps_clock *clock,
                                           struct kube_limiter **out, struct ps_diag *diag);
/* Frees <l> (NULL allowed). No client may use it any more. */
void kube_limiter_free(struct kube_limiter *l);

/* Takes a token for a request to be sent <*wait_ms> ms from now (0: at once); tokens taken
 * ahead of time queue later takers behind them, like golang.org/x/time/rate's Reserve. When
 * the token would come later than <max_wait_ms> from now, takes nothing and returns
 * PS_ETHROTTLED (<*wait_ms> then says how long it would have been). Never blocks (the caller
 * waits); thread-safe. A token taken is not given back if the caller gives up waiting. */
PS_MUST_CHECK enum ps_err kube_limiter_reserve(struct kube_limiter *l, int64_t max_wait_ms,
                                               int64_t *wait_ms);

/* Requests refused (PS_ETHROTTLED) and requests that had to wait, since creation. */
uint64_t kube_limiter_refused(const struct kube_limiter *l);
uint64_t kube_limiter_delayed(const struct kube_limiter *l);

/* ---- backoff ---- */

/* The next pseudo-random number of the splitmix64 sequence in <*state>. */
uint64_t kube_rand_next(uint64_t *state);

/* The wait before retry number <retry> (1 for the first retry): <retry_after_ms> when it is
 * >= 0 (the server's word wins, neither jittered nor capped: the call's deadline bounds it);
 * otherwise full jitter, uniform in [0, min(<cap_ms>, <base_ms> * 2^(retry-1))], drawn from
 * <*rng>. */
int64_t kube_backoff_delay_ms(int64_t base_ms, int64_t cap_ms, int retry, int64_t retry_after_ms,
                              uint64_t *rng);

/* ---- the client ---- */

struct kube_client_opts {
	struct kube_limiter *limiter; /* borrowed, shared; NULL: no client-side rate limit */
	struct http_cancel *cancel;   /* borrowed; fires end waits and transfers; NULL: none */
	int64_t timeout_ms;           /* whole call; 0: KUBE_DEFAULT_TIMEOUT_MS */
	int64_t attempt_timeout_ms;   /* one HTTP exchange; 0: KUBE_DEFAULT_ATTEMPT_TIMEOUT_MS */
	int max_attempts;             /* 0: KUBE_DEFAULT_MAX_ATTEMPTS; 1: no retries */
	int64_t backoff_base_ms;      /* 0: KUBE_DEFAULT_BACKOFF_BASE_MS */
	int64_t backoff_cap_ms;       /* 0: KUBE_DEFAULT_BACKOFF_CAP_MS */
	uint64_t seed;                /* jitter PRNG seed; 0: from the time, pid and address */
	size_t max_body;              /* response body cap; 0: KUBE_DEFAULT_MAX_BODY */
};

/* Counters of one client (only its thread changes them; read them from that thread). */
struct kube_client_stats {
	uint64_t requests;  /* HTTP exchanges attempted */
	uint64_t retries;   /* repeated after a 429, 5xx or transport failure */
	uint64_t reauths;   /* repeated after a 401 with fresh credentials */
	uint64_t throttled; /* calls refused by the client-side rate limit */
};

struct kube_client;

/* Returns in <*out> an owned client for the calling thread. Borrows <cfg> (shared by all
 * threads; must outlive the client) and the limiter and cancel token of <opts> (NULL: every
 * default). Returns PS_OK, PS_EINVAL (a negative option), PS_ENOMEM or PS_EIO (curl), with
 * <diag>. */
PS_MUST_CHECK enum ps_err kube_client_new(struct kcfg *cfg, const struct kube_client_opts *opts,
                                          struct kube_client **out, struct ps_diag *diag);
/* Frees <c> (NULL allowed); the borrowed config, limiter and token are left alone. */
void kube_client_free(struct kube_client *c);

/* Makes <cancel> (borrowed; NULL: none) the token of every later call of <c>: a client kept by
 * a thread for whichever target it works for takes each target's token in turn. */
void kube_client_set_cancel(struct kube_client *c, struct http_cancel *cancel);

/* Makes every later call of <c> end by monotonic time <deadline_ms> (ps_clock_mono_ms of the
 * real clock) if that comes before its own timeout (a worker's tick deadline). 0 removes it. */
void kube_client_set_deadline(struct kube_client *c, int64_t deadline_ms);

/* The Status of the response that failed <c>'s last call (code 0 when that call succeeded or
 * failed without a response), borrowed from <c> until its next call: the reason tells 409
 * AlreadyExists from Conflict. */
const struct kube_status *kube_client_last_status(const struct kube_client *c);

/* The counters of <c>. */
struct kube_client_stats kube_client_stats(const struct kube_client *c);

/* The deadline (monotonic ms of the real clock) of a call of <c> starting now: now plus its
 * timeout, or the deadline set with kube_client_set_deadline() when that comes first. A call
 * made of several requests (a paged list) computes it once and passes it in each kube_req. */
int64_t kube_client_call_deadline(const struct kube_client *c);

/* A request for kube_do(). */
struct kube_req {
	const char *method;       /* "GET", "PATCH", "POST", "PUT" */
	const char *path;         /* "/api..." with its query, already percent-encoded */
	const char *content_type; /* of <body>; NULL when there is none */
	const char *body;         /* NULL: none */
	size_t body_len;
	bool idempotent; /* transport failures may be retried (a GET, a merge patch of a value) */
	int64_t deadline_ms; /* monotonic ms the call must end by; 0: kube_client_call_deadline() */
};

/* Sends <req> to the configured server with the credentials of the moment, through the rate
 * limit, retrying as described at the top of this file. On PS_OK (a 2xx), <*body> and
 * <*body_len> (both may be NULL) give the response body, borrowed from <c> until its next call.
 * Errors as described at the top of this file, with <diag>. <c> must belong to the calling
 * thread; blocks until the call's deadline at most. The typed calls below use it; it is public
 * for requests they do not cover (and for tests that send what the typed calls refuse). */
PS_MUST_CHECK enum ps_err kube_do(struct kube_client *c, const struct kube_req *req,
                                  const char **body, size_t *body_len, struct ps_diag *diag);

/* ---- the scale subresource ---- */

/* An autoscaling/v1 Scale. */
struct kube_scale {
	char namespace[KUBE_LABEL_MAX + 1];
	char name[KUBE_NAME_MAX + 1];
	char uid[KUBE_UID_MAX];
	char resource_version[KUBE_RV_MAX];
	int32_t replicas;        /* spec.replicas (0 when absent, as the API omits a zero) */
	int32_t status_replicas; /* status.replicas */
	char *selector;          /* owned: status.selector, "" when absent */
};

/* Frees what <s> owns (NULL allowed) and empties it. */
void kube_scale_release(struct kube_scale *s);

/* Decodes an autoscaling/v1 Scale from <json> (<len> bytes, borrowed) into <out>, which the
 * caller releases with kube_scale_release() after PS_OK (on failure nothing is left to free).
 * Returns PS_OK; PS_EPARSE (not JSON, a field of the wrong type, replicas out of int32 range)
 * with <diag> naming the field; PS_ERANGE (a string longer than its buffer); PS_ENOMEM. */
PS_MUST_CHECK enum ps_err kube_scale_parse(const char *json, size_t len, struct kube_scale *out,
                                           struct ps_diag *diag);

/* GETs the scale subresource of <ref> into <out> (release it with kube_scale_release after
 * PS_OK). <c> belongs to the calling thread. Returns PS_OK or an error as described at the
 * top of this file, with <diag>; PS_EINVAL (a bad name, nothing sent). */
PS_MUST_CHECK enum ps_err kube_scale_get(struct kube_client *c, const struct kube_ref *ref,
                                         struct kube_scale *out, struct ps_diag *diag);

/* Sets spec.replicas of <ref>'s scale subresource to <replicas> with a merge patch
 * (application/merge-patch+json, `{"spec":{"replicas":N}}`); with <dry_run>, adds dryRun=All
 * so the server validates without storing. <out> (may be NULL) receives the Scale the server
 * answered (release it). The patch sets a fixed value, so a retry cannot apply twice: transport
 * failures are retried too. Returns PS_OK, PS_EINVAL (a bad name or negative <replicas>,
 * nothing sent), or an error as described at the top of this file, with <diag>. */
PS_MUST_CHECK enum ps_err kube_scale_patch(struct kube_client *c, const struct kube_ref *ref,
                                           int32_t replicas, bool dry_run, struct kube_scale *out,
                                           struct ps_diag *diag);

/* The merge-patch body of kube_scale_patch, `{"spec":{"replicas":<replicas>}}`, into <b>
 * (appended). Returns PS_OK, PS_ETOOBIG or PS_ENOMEM. */
PS_MUST_CHECK enum ps_err kube_scale_patch_body(struct ps_buf *b, int32_t replicas);

/* ---- pods ---- */

struct kube_pod_chunk;

/* Pods mapped to what the engine reads. <pods> and everything its entries point to (names,
 * containers, requests) are owned by the list: valid until kube_pod_list_release(). Containers
 * are a pod's regular containers, then its restartable init containers (restartPolicy Always,
 * sidecars); other init containers are left out. */
struct kube_pod_list {
	size_t n_pods;
	struct eng_pod *pods;
	char resource_version[KUBE_RV_MAX]; /* of the list (its first page) */
	/* private: room in <pods>, and the page chunks that the pods point into */
	size_t cap_pods_;
	struct kube_pod_chunk *chunks_;
};

/* Frees what <l> owns (NULL allowed) and empties it. */
void kube_pod_list_release(struct kube_pod_list *l);

/* Decodes a v1 PodList page from <json> (<len> bytes, borrowed) and appends its pods to <l>
 * (zero it before the first page; release it after, also after a failure). For each pod: name,
 * phase (Pending, Running, Succeeded, Failed; anything else or absent ENG_PHASE_UNKNOWN),
 * deletionTimestamp, the Ready condition (status True, lastTransitionTime; absent:
 * KUBE_GO_ZERO_TIME_MS), startTime, the requests of its containers and of the pod
 * (spec.resources), quantities in milli-units (ps_parse_quantity_milli), times with
 * ps_clock_parse_rfc3339. <continue_out> (may be NULL, <continue_size> bytes) receives
 * metadata.continue ("" on the last page). Returns PS_OK; PS_EPARSE (not JSON, a wrong type, a
 * bad quantity or time) or PS_ERANGE (a value too large) with <diag> naming the item and
 * field, e.g. `items[2].spec.containers[0].resources.requests.cpu: ...`; PS_ENOMEM. On
 * failure <l> keeps the pods of earlier pages. */
PS_MUST_CHECK enum ps_err kube_pod_list_parse(const char *json, size_t len, struct kube_pod_list *l,
                                              char *continue_out, size_t continue_size,
                                              struct ps_diag *diag);

/* Lists the pods of <namespace> that match the label selector <selector> (a Scale's
 * status.selector, e.g. "app=web"; "" matches every pod) into <out>, page by page
 * (KUBE_POD_PAGE a page, following `continue`). <out> is emptied first; release it after the
 * call whatever it returns. Returns PS_OK, PS_EINVAL (a bad namespace, nothing sent), or an
 * error as described at the top of this file (PS_EGONE when a continue token expired), with
 * <diag>. */
PS_MUST_CHECK enum ps_err kube_pods_list(struct kube_client *c, const char *namespace,
                                         const char *selector, struct kube_pod_list *out,
                                         struct ps_diag *diag);

/* ---- Leases (coordination.k8s.io/v1) ---- */

/* A Lease. Times are wall-clock Unix ms (the API's MicroTime has microseconds; prescale writes
 * them with ".mmm000" and reads them to the millisecond). */
struct kube_lease {
	char namespace[KUBE_LABEL_MAX + 1];
	char name[KUBE_NAME_MAX + 1];
	char uid[KUBE_UID_MAX];
	char resource_version[KUBE_RV_MAX]; /* read; sent by an update (required there) */
	char holder[KUBE_HOLDER_MAX];       /* holderIdentity; "" when absent or released */
	int32_t duration_s;                 /* leaseDurationSeconds; 0: absent */
	bool has_acquire_time;
	int64_t acquire_ms;
	bool has_renew_time;
	int64_t renew_ms;
	int32_t transitions; /* leaseTransitions */
};

/* Decodes a Lease from <json> (<len> bytes, borrowed) into <out>. Returns PS_OK, PS_EPARSE
 * (with <diag> naming the field), PS_ERANGE (a string longer than its buffer) or PS_ENOMEM. */
PS_MUST_CHECK enum ps_err kube_lease_parse(const char *json, size_t len, struct kube_lease *out,
                                           struct ps_diag *diag);

/* Appends to <b> the JSON body of a create (without resourceVersion) or an update (<update>:
 * metadata.resourceVersion of <l>) in the shape of the Lease fixtures: apiVersion, kind,
 * metadata (name, namespace[, resourceVersion]), spec (holderIdentity, leaseDurationSeconds
 * when > 0, acquireTime and renewTime when set, as MicroTime, leaseTransitions). Returns PS_OK,
 * PS_ETOOBIG or PS_ENOMEM. */
PS_MUST_CHECK enum ps_err kube_lease_body(struct ps_buf *b, const struct kube_lease *l,
                                          bool update);

/* Writes <wall_ms> as a MicroTime, "2026-01-01T00:00:08.123000Z" (27 characters), into
 * <buf> (at least 28 bytes). Returns <buf>. */
char *kube_format_microtime(int64_t wall_ms, char *buf, size_t size);

/* GETs Lease <namespace>/<name> into <out>. Returns PS_OK, PS_EINVAL (bad names, nothing
 * sent), PS_ENOTFOUND (no such Lease) or another error as described at the top, with <diag>. */
PS_MUST_CHECK enum ps_err kube_lease_get(struct kube_client *c, const char *namespace,
                                         const char *name, struct kube_lease *out,
                                         struct ps_diag *diag);
/* Creates the Lease <l> (namespace and name from it). <out> (may be NULL) receives the stored
 * Lease with its resourceVersion. Returns PS_OK, PS_EINVAL, PS_ECONFLICT (reason
 * AlreadyExists: another replica created it first; see kube_client_last_status) or another
 * error, with <diag>. Not retried after a 409 or a transport failure; after a 429 or 5xx it
 * is, and a create that was stored after all then reads AlreadyExists: read the Lease to see
 * whose it is. */
PS_MUST_CHECK enum ps_err kube_lease_create(struct kube_client *c, const struct kube_lease *l,
                                            struct kube_lease *out, struct ps_diag *diag);
/* Replaces the Lease <l> (PUT) under optimistic concurrency: <l>->resource_version must be the
 * one last read. <out> (may be NULL) receives the stored Lease. Returns PS_OK, PS_EINVAL (bad
 * names or no resourceVersion), PS_ECONFLICT (someone wrote it since: read it again) or another
 * error, with <diag>. Not retried after a 409. */
PS_MUST_CHECK enum ps_err kube_lease_update(struct kube_client *c, const struct kube_lease *l,
                                            struct kube_lease *out, struct ps_diag *diag);

/* ---- Events (events.k8s.io/v1) ---- */

/* An Event about <regarding>. Strings are borrowed for the call. */
struct kube_event {
	const struct kube_ref *regarding; /* the object; the Event goes into its namespace */
	const char *regarding_uid;        /* NULL: not sent */
	const char *type;                 /* "Normal" or "Warning" */
	const char *reason;               /* UpperCamelCase, 1..128 bytes: "ScaledUp" */
	const char *action;               /* 1..128 bytes: "Scale" */
	const char *note;                 /* human text; cut at KUBE_NOTE_MAX bytes; NULL: "" */
	const char *reporting_instance;   /* 1..128 bytes: the pod name; NULL: "prescale" */
	int64_t event_time_ms;            /* wall-clock Unix ms; 0: now */
};

/* Writes the name of a new Event about object <object>: "<object>.<16 hex digits>" where the
 * digits are <unique> (client-go uses the time in ns), the object part shortened (and left
 * without a trailing '-' or '.') so that the whole stays a DNS-1123 subdomain of at most 253
 * characters. <buf> must hold KUBE_NAME_MAX + 1 bytes. Returns <buf>. */
char *kube_event_name(char *buf, size_t size, const char *object, uint64_t unique);

/* Appends to <b> the events.k8s.io/v1 Event body for <ev>, named <name>, in the shape of the
 * fixture: apiVersion, kind, metadata (name, namespace), eventTime (MicroTime),
 * reportingController KUBE_REPORTING_CONTROLLER, reportingInstance, action, reason, regarding
 * (apiVersion, kind when known, name, namespace, uid when given), note, type. Returns PS_OK,
 * PS_EINVAL (a missing or too long reason, action or instance, a type other than Normal or
 * Warning, a bad reference) with <diag>, PS_ETOOBIG or PS_ENOMEM. */
PS_MUST_CHECK enum ps_err kube_event_body(struct ps_buf *b, const struct kube_event *ev,
                                          const char *name, struct ps_diag *diag);

/* Creates the Event <ev> under a fresh unique name (written to <name_out>, may be NULL, at
 * least KUBE_NAME_MAX + 1 bytes). Returns PS_OK, PS_EINVAL (see kube_event_body, nothing sent)
 * or an error as described at the top, with <diag>. A transport failure is not retried (the
 * Event may have been stored); a 429 or 5xx is, under the same name, so a repeat of a create
 * that was stored after all ends in PS_ECONFLICT (AlreadyExists), never in a duplicate. */
PS_MUST_CHECK enum ps_err kube_event_create(struct kube_client *c, const struct kube_event *ev,
                                            char *name_out, struct ps_diag *diag);

/* ---- internal to src/kube: JSON helpers shared by the kube_*.c files ---- */

struct cJSON;

/* Parses <len> bytes of <text> as JSON with the project's allocator hooks into an owned tree
 * (free with cJSON_Delete). <what> ("Scale") starts the message. Returns PS_OK, PS_EPARSE
 * (with the offset) or PS_ENOMEM. */
PS_MUST_CHECK enum ps_err kube_json_parse(const char *text, size_t len, const char *what,
                                          struct cJSON **out, struct ps_diag *diag);
/* The URL of <c>'s last request, borrowed from <c> until its next call ("" before any). */
const char *kube_client_last_url(const struct kube_client *c);
/* The next number of <c>'s PRNG (unique suffixes of Event names). */
uint64_t kube_client_next_random(struct kube_client *c);
/* Installs the cJSON allocator hooks {ps_malloc_noted, ps_free}, once per process. */
void kube_json_hooks(void);
/* The member <key> of object <obj> (may be NULL) when present and not null, else NULL. */
const struct cJSON *kube_json_get(const struct cJSON *obj, const char *key);
/* <*out> = the string member <key> of <obj> (borrowed from the tree), NULL when absent or null.
 * PS_EPARSE when it is not a string, with <diag> naming <path>.<key>. */
PS_MUST_CHECK enum ps_err kube_json_str(const struct cJSON *obj, const char *path, const char *key,
                                        const char **out, struct ps_diag *diag);
/* Copies the string member <key> into <dst> (<size> bytes; "" when absent). PS_EPARSE (not a
 * string) or PS_ERANGE (too long), with <diag>. */
PS_MUST_CHECK enum ps_err kube_json_copy(const struct cJSON *obj, const char *path, const char *key,
                                         char *dst, size_t size, struct ps_diag *diag);
/* <*out> = the integer member <key> within [<min>, <max>] (<dflt> when absent or null). PS_EPARSE
 * when not an integral number in range, with <diag>. */
PS_MUST_CHECK enum ps_err kube_json_int(const struct cJSON *obj, const char *path, const char *key,
                                        int64_t min, int64_t max, int64_t dflt, int64_t *out,
                                        struct ps_diag *diag);
/* <*out> = the RFC 3339 time member <key> in Unix ms, <*present> false (and <*out> untouched)
 * when absent or null. PS_EPARSE with <diag> when not a string or not a time. */
PS_MUST_CHECK enum ps_err kube_json_time(const struct cJSON *obj, const char *path, const char *key,
                                         int64_t *out, bool *present, struct ps_diag *diag);
/* Prints <root> unformatted and appends it to <b>. PS_OK, PS_ETOOBIG or PS_ENOMEM. */
PS_MUST_CHECK enum ps_err kube_json_append(struct ps_buf *b, const struct cJSON *root);

#endif
