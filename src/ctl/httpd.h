/* httpd.h -- the controller's HTTP endpoints (DESIGN.md section 3), served by libmicrohttpd:
 *
 *   GET /metrics         the Prometheus text format 0.0.4 (metrics.h)
 *   GET /healthz         200 "ok" while every worker's heartbeat is fresh; 500 listing the stuck
 *                        workers (rt_worker_is_stuck with the grace below) otherwise
 *   GET /readyz          200 once the configuration is loaded and the leader state is known;
 *                        503 saying which is missing otherwise
 *   GET /debug/targets   a JSON array of the targets' last decision records (tick_record_json),
 *                        sorted by target key
 *   GET /debug/workers   a JSON array, one object per worker: target, state, stuck, interval,
 *                        last tick start/end/duration, next tick, heartbeat age, last result and
 *                        error, counters
 *   anything else        404; a method other than GET or HEAD gets 405 with "Allow: GET, HEAD"
 *
 * Lifecycle, on the controlling thread: httpd_start (binds and serves at once: /healthz and
 * /metrics answer before the runtime exists), httpd_attach(rt, env) once the runtime runs,
 * httpd_set_leader whenever the leader state changes, httpd_attach(NULL, NULL) before the
 * runtime or the env is freed, httpd_stop.
 *
 * Threads: libmicrohttpd's own (a pool of HTTPD_THREADS, each polling the listening socket);
 * the handlers read the runtime and the env through their thread-safe snapshot functions under
 * a read lock that httpd_attach takes for writing, so a detach waits for the requests in
 * flight. Start it after rt_signals_start() so its threads inherit the blocked signals.
 */
#ifndef HTTPD_H
#define HTTPD_H

#include <stdbool.h>
#include <stdint.h>

#include "metrics.h"
#include "ps_compiler.h"
#include "ps_diag.h"
#include "ps_err.h"

struct rt;
struct tick_env;

#define HTTPD_DEFAULT_LISTEN ":8080"
/* A worker past its tick deadline (ticking) or its due time (idle) by more than this is stuck. */
#define HTTPD_DEFAULT_STUCK_GRACE_MS ((int64_t)30000)
/* Connections served at once; more wait in the listen backlog. */
#define HTTPD_DEFAULT_CONNECTION_LIMIT 64u
/* An idle connection is closed after this many seconds. */
#define HTTPD_DEFAULT_TIMEOUT_S 10u
/* Threads of the server. */
#define HTTPD_THREADS 2u

struct httpd_opts {
	/* "[host]:port": host a name or an address (IPv6 in brackets), empty for every address
	 * (IPv6 and IPv4 when the system has IPv6, else IPv4); port 0 picks a free one
	 * (httpd_port). NULL: HTTPD_DEFAULT_LISTEN. */
	const char *listen;
	int64_t stuck_grace_ms;     /* 0: HTTPD_DEFAULT_STUCK_GRACE_MS */
	unsigned connection_limit;  /* 0: HTTPD_DEFAULT_CONNECTION_LIMIT */
	unsigned timeout_s;         /* 0: HTTPD_DEFAULT_TIMEOUT_S */
	bool config_loaded;         /* the caller has a valid configuration (for /readyz) */
	enum metrics_leader leader; /* the initial leader state */
	bool observe_http;          /* install the metrics' http_observer (http_set_observer) for
	                             * the life of the server: the latency histograms (start the
	                             * server before the workers; see httpd_stop) */
	bool quiet;                 /* log nothing (tests) */
};

struct httpd;

/* Binds <opts->listen> and starts serving. On PS_OK *out is owned: httpd_stop. Returns PS_EINVAL
 * for a malformed address, PS_EIO when it cannot be resolved, bound (in use, no permission) or
 * the server cannot start, PS_ENOMEM; <diag> (may be NULL) names the address and the reason.
 * Nothing is left running on failure. */
PS_MUST_CHECK enum ps_err httpd_start(const struct httpd_opts *opts, struct httpd **out,
                                      struct ps_diag *diag);

/* The port the server listens on (the one picked for port 0). */
uint16_t httpd_port(const struct httpd *h);

/* Makes the endpoints read <rt> and <env> (borrowed; either may be NULL; they must stay valid
 * until the next httpd_attach or httpd_stop). Blocks until the requests using the previous ones
 * have finished. */
void httpd_attach(struct httpd *h, struct rt *rt, struct tick_env *env);

/* Sets the leader state that /readyz and prescale_leader report. Any thread. */
void httpd_set_leader(struct httpd *h, enum metrics_leader state);

/* Stops serving (the requests in flight finish first), closes the socket, removes the http
 * observer if it installed one, joins its threads and frees <h> (NULL allowed). With
 * observe_http, call it once no other thread makes HTTP requests any more (after rt_stop): a
 * request in flight could still be reporting to the observer being freed. */
void httpd_stop(struct httpd *h);

#endif
