/* httpd.c -- the controller's HTTP endpoints on libmicrohttpd: /metrics, /healthz, /readyz,
 * /debug/targets, /debug/workers.
 *
 * DESIGN
 * We bind the listening socket ourselves (so an address in use or a bad host gets a clear
 * message, and port 0 a known port) and hand it to libmicrohttpd, which runs a pool of
 * HTTPD_THREADS threads polling it (MHD_USE_AUTO: epoll here), with a connection limit and an
 * idle timeout, and closes it on stop. Each request is answered in one call of the access
 * handler, from snapshots: rt_workers_snapshot, rt_stats and tick_env_snaps copy what they
 * need under the workers' and targets' own locks and never wait for a tick. The runtime and env
 * pointers are read under <src_lock> (read side, one request); httpd_attach takes it for
 * writing, so after it returns no request uses the old pointers. The leader state is an atomic.
 * Bodies are built in a capped struct ps_buf (ps_malloc) and handed to libmicrohttpd with
 * ps_free as their free callback.
 */
#include "httpd.h"

#include <errno.h>
#include <inttypes.h>
#include <malloc.h>
#include <microhttpd.h>
#include <netdb.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "ctl_json.h"
#include "ps_alloc.h"
#include "ps_buf.h"
#include "ps_clock.h"
#include "ps_log.h"
#include "runtime.h"
#include "tick.h"

/* Cap of a /debug body: a few thousand targets' records. */
#define HTTPD_MAX_BODY ((size_t)256 << 20)
#define HTTPD_BACKLOG 64
#define CT_TEXT "text/plain; charset=utf-8"
#define CT_JSON "application/json"

struct httpd {
	struct MHD_Daemon *daemon;
	uint16_t port;
	int64_t grace_ms;
	bool config_loaded;
	bool observing; /* installed the metrics' http observer */
	bool quiet;
	atomic_int leader;           /* enum metrics_leader */
	pthread_rwlock_t src_lock;   /* read: a request uses rt/env; write: httpd_attach */
	struct rt *rt;               /* protected by <src_lock> */
	struct tick_env *env;        /* protected by <src_lock> */
	struct metrics_ctl *metrics; /* thread-safe itself */
};

/* ---- the listening socket ---- */

/* Splits "[host]:port" into <host> (may become "") and <port> ("0".."65535"). */
static enum ps_err parse_listen(const char *listen, char *host, size_t host_size, char *port,
                                size_t port_size, struct ps_diag *diag)
{
	const char *colon = strrchr(listen, ':');
	if (!colon || !colon[1])
		return ps_diag_set(diag, PS_EINVAL, "listen address \"%s\": want [host]:port",
		                   listen);
	unsigned long p = 0;
	for (const char *c = colon + 1; *c; c++) {
		if (*c < '0' || *c > '9' || p > 65535)
			return ps_diag_set(diag, PS_EINVAL,
			                   "listen address \"%s\": port must be 0 to 65535",
			                   listen);
		p = p * 10 + (unsigned long)(*c - '0');
	}
	if (p > 65535)
		return ps_diag_set(diag, PS_EINVAL,
		                   "listen address \"%s\": port must be 0 to 65535", listen);
	snprintf(port, port_size, "%lu", p);
	const char *h = listen;
	size_t n = (size_t)(colon - listen);
	if (n >= 2 && h[0] == '[' && h[n - 1] == ']') {
		h++;
		n -= 2;
	} else if (memchr(h, ':', n)) {
		return ps_diag_set(diag, PS_EINVAL,
		                   "listen address \"%s\": write an IPv6 address in brackets, "
		                   "[::1]:8080",
		                   listen);
	}
	if (n >= host_size)
		return ps_diag_set(diag, PS_EINVAL, "listen address \"%s\": host too long", listen);
	memcpy(host, h, n);
	host[n] = '\0';
	return PS_OK;
}

/* A socket bound to <ai> and listening, or -1 with errno. */
static int bind_one(const struct addrinfo *ai, bool dual_stack)
{
	int fd =
	    socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC | SOCK_NONBLOCK, ai->ai_protocol);
	if (fd < 0)
		return -1;
	int one = 1, zero = 0;
	(void)setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (ai->ai_family == AF_INET6)
		(void)setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, dual_stack ? &zero : &one,
		                 sizeof(int));
	if (bind(fd, ai->ai_addr, ai->ai_addrlen) != 0 || listen(fd, HTTPD_BACKLOG) != 0) {
		int err = errno;
		close(fd);
		errno = err;
		return -1;
	}
	return fd;
}

static enum ps_err open_listener(const char *listen, int *out_fd, uint16_t *out_port,
                                 struct ps_diag *diag)
{
	char host[256], port[8];
	enum ps_err e = parse_listen(listen, host, sizeof(host), port, sizeof(port), diag);
	if (e)
		return e;
	bool any = host[0] == '\0';
	struct addrinfo hints = {.ai_socktype = SOCK_STREAM, .ai_flags = AI_PASSIVE};
	hints.ai_family = any ? AF_INET6 : AF_UNSPEC;
	struct addrinfo *res = NULL;
	int rc = getaddrinfo(any ? NULL : host, port, &hints, &res);
	if (rc != 0 && any) {
		/* No IPv6 on this system: every IPv4 address. */
		hints.ai_family = AF_INET;
		rc = getaddrinfo(NULL, port, &hints, &res);
	}
	if (rc != 0)
		return ps_diag_set(diag, PS_EIO, "listen address \"%s\": %s", listen,
		                   gai_strerror(rc));
	int fd = -1, err = 0;
	for (const struct addrinfo *ai = res; ai && fd < 0; ai = ai->ai_next) {
		fd = bind_one(ai, any);
		if (fd < 0)
			err = errno;
	}
	freeaddrinfo(res);
	if (fd < 0 && any && (err == EAFNOSUPPORT || err == EADDRNOTAVAIL)) {
		hints.ai_family = AF_INET;
		if (getaddrinfo(NULL, port, &hints, &res) == 0) {
			for (const struct addrinfo *ai = res; ai && fd < 0; ai = ai->ai_next) {
				fd = bind_one(ai, false);
				if (fd < 0)
					err = errno;
			}
			freeaddrinfo(res);
		}
	}
	if (fd < 0)
		return ps_diag_set(diag, PS_EIO, "listen address \"%s\": %s", listen,
		                   strerror(err));
	struct sockaddr_storage ss;
	socklen_t len = sizeof(ss);
	if (getsockname(fd, (struct sockaddr *)&ss, &len) != 0) {
		err = errno;
		close(fd);
		return ps_diag_set(diag, PS_EIO, "listen address \"%s\": getsockname: %s", listen,
		                   strerror(err));
	}
	*out_port = ss.ss_family == AF_INET6 ? ntohs(((struct sockaddr_in6 *)&ss)->sin6_port)
	                                     : ntohs(((struct sockaddr_in *)&ss)->sin_port);
	*out_fd = fd;
	return PS_OK;
}

/* ---- JSON bits (ctl_json.h) ---- */

/* An RFC 3339 time, or null for 0 ("never"). */
static void jw_kv_time_or_null(struct jw *w, const char *k, int64_t wall_ms)
{
	char buf[PS_RFC3339_MS_LEN + 1];
	jw_kv_nstr(w, k, wall_ms ? ps_clock_format_rfc3339(wall_ms, buf, sizeof(buf)) : NULL);
}

/* ---- snapshots ---- */

/* An owned copy of every worker's state (*n of them); PS_ENOMEM. */
static enum ps_err workers_copy(struct rt *rt, struct rt_worker_info **out, size_t *n)
{
	*out = NULL;
	*n = 0;
	if (!rt)
		return PS_OK;
	size_t cap = rt_workers_snapshot(rt, NULL, 0);
	for (;;) {
		cap += 8; /* workers may be added between the count and the copy */
		struct rt_worker_info *w = ps_reallocarray(*out, cap, sizeof(*w));
		if (!w) {
			ps_free(*out);
			*out = NULL;
			return PS_ENOMEM;
		}
		*out = w;
		size_t got = rt_workers_snapshot(rt, w, cap);
		if (got <= cap) {
			*n = got;
			return PS_OK;
		}
		cap = got;
	}
}

static int cmp_snap(const void *a, const void *b)
{
	return strcmp(((const struct tick_snap *)a)->view->key,
	              ((const struct tick_snap *)b)->view->key);
}

/* ---- the endpoints: each fills <b> and returns the status ---- */

struct reply {
	unsigned status;
	const char *content_type;
	struct ps_buf b;
};

static unsigned internal_error(struct reply *r, enum ps_err e)
{
	ps_buf_reset(&r->b);
	r->content_type = CT_TEXT;
	if (ps_buf_appendf(&r->b, "internal error: %s\n", ps_strerror(e)) != PS_OK)
		ps_buf_reset(&r->b);
	return MHD_HTTP_INTERNAL_SERVER_ERROR;
}

static unsigned get_metrics(struct httpd *h, struct reply *r)
{
	r->content_type = METRICS_CONTENT_TYPE;
	enum ps_err e = metrics_ctl_scrape(h->metrics, h->rt, h->env,
	                                   (enum metrics_leader)atomic_load(&h->leader), &r->b);
	return e ? internal_error(r, e) : MHD_HTTP_OK;
}

static unsigned get_healthz(struct httpd *h, struct reply *r)
{
	r->content_type = CT_TEXT;
	struct rt_worker_info *w = NULL;
	size_t n = 0;
	enum ps_err e = workers_copy(h->rt, &w, &n);
	if (e)
		return internal_error(r, e);
	int64_t now = ps_clock_mono_ms(ps_clock_real());
	size_t stuck = 0;
	for (size_t i = 0; i < n && !e; i++) {
		if (!rt_worker_is_stuck(&w[i], now, h->grace_ms))
			continue;
		if (stuck++ == 0)
			e = ps_buf_append_str(&r->b, "stuck workers:\n");
		int64_t due = w[i].state == RT_WORKER_TICKING ? w[i].tick_deadline_mono_ms
		              : w[i].state == RT_WORKER_IDLE  ? w[i].next_tick_mono_ms
		                                              : w[i].heartbeat_mono_ms;
		if (!e)
			e = ps_buf_appendf(&r->b, "%s: %s, %" PRId64 " ms past %s\n", w[i].key,
			                   rt_worker_state_name(w[i].state), now - due,
			                   w[i].state == RT_WORKER_TICKING ? "its tick deadline"
			                   : w[i].state == RT_WORKER_IDLE  ? "its next tick"
			                                                   : "its last heartbeat");
	}
	ps_free(w);
	if (!e && !stuck)
		e = ps_buf_append_str(&r->b, "ok\n");
	if (e)
		return internal_error(r, e);
	return stuck ? MHD_HTTP_INTERNAL_SERVER_ERROR : MHD_HTTP_OK;
}

static unsigned get_readyz(struct httpd *h, struct reply *r)
{
	r->content_type = CT_TEXT;
	enum metrics_leader l = (enum metrics_leader)atomic_load(&h->leader);
	const char *why = !h->config_loaded             ? "not ready: no configuration loaded\n"
	                  : l == METRICS_LEADER_UNKNOWN ? "not ready: leader state not known yet\n"
	                                                : NULL;
	enum ps_err e = ps_buf_append_str(&r->b, why ? why : "ok\n");
	if (e)
		return internal_error(r, e);
	return why ? MHD_HTTP_SERVICE_UNAVAILABLE : MHD_HTTP_OK;
}

static unsigned get_targets(struct httpd *h, struct reply *r)
{
	r->content_type = CT_JSON;
	struct tick_snap *snaps = NULL;
	size_t n = 0;
	enum ps_err e = h->env ? tick_env_snaps(h->env, &snaps, &n) : PS_OK;
	if (n)
		qsort(snaps, n, sizeof(*snaps), cmp_snap);
	if (!e)
		e = ps_buf_append_str(&r->b, "[");
	for (size_t i = 0; i < n && !e; i++) {
		e = ps_buf_append_str(&r->b, i ? ",\n" : "\n");
		if (!e)
			e = tick_snap_json(&r->b, &snaps[i]);
	}
	if (!e)
		e = ps_buf_append_str(&r->b, n ? "\n]\n" : "]\n");
	tick_snaps_free(snaps, n);
	return e ? internal_error(r, e) : MHD_HTTP_OK;
}

static void worker_json(struct jw *w, const struct rt_worker_info *wi, int64_t now_mono,
                        int64_t grace_ms)
{
	jw_open(w, NULL);
	jw_kv_nstr(w, "target", wi->key);
	jw_kv_nstr(w, "state", rt_worker_state_name(wi->state));
	jw_kv_bool(w, "stuck", rt_worker_is_stuck(wi, now_mono, grace_ms));
	jw_kv_bool(w, "hasState", wi->has_state);
	jw_kv_int(w, "intervalMs", wi->interval_ms);
	jw_kv_time_or_null(w, "lastTickStart", wi->last_tick_start_wall_ms);
	jw_kv_time_or_null(w, "lastTickEnd", wi->last_tick_end_wall_ms);
	jw_kv_int(w, "lastTickMs", wi->last_tick_ms);
	if (wi->state == RT_WORKER_IDLE)
		jw_kv_int(w, "nextTickInMs", wi->next_tick_mono_ms - now_mono);
	jw_kv_int(w, "heartbeatAgeMs", now_mono - wi->heartbeat_mono_ms);
	jw_kv_nstr(w, "lastResult", ps_err_name(wi->last_result));
	jw_kv_nstr(w, "lastError", wi->last_error[0] ? wi->last_error : NULL);
	jw_kv_time_or_null(w, "lastErrorTime", wi->last_error_wall_ms);
	jw_open(w, "counters");
	jw_kv_int(w, "ticks", (int64_t)wi->ticks);
	jw_kv_int(w, "errors", (int64_t)wi->errors);
	jw_kv_int(w, "consecutiveErrors", (int64_t)wi->consecutive_errors);
	jw_kv_int(w, "skipped", (int64_t)wi->skipped);
	jw_kv_int(w, "late", (int64_t)wi->late);
	jw_kv_int(w, "missed", (int64_t)wi->missed);
	jw_kv_int(w, "starts", (int64_t)wi->starts);
	jw_kv_int(w, "reconfigures", (int64_t)wi->reconfigures);
	jw_kv_int(w, "rebuilds", (int64_t)wi->rebuilds);
	jw_raw(w, "}}");
}

static unsigned get_workers(struct httpd *h, struct reply *r)
{
	r->content_type = CT_JSON;
	struct rt_worker_info *wi = NULL;
	size_t n = 0;
	enum ps_err e = workers_copy(h->rt, &wi, &n);
	if (e)
		return internal_error(r, e);
	int64_t now = ps_clock_mono_ms(ps_clock_real());
	struct jw w = {&r->b, PS_OK, true};
	jw_raw(&w, "[");
	for (size_t i = 0; i < n; i++) {
		jw_raw(&w, i ? ",\n" : "\n");
		worker_json(&w, &wi[i], now, h->grace_ms);
	}
	jw_raw(&w, n ? "\n]\n" : "]\n");
	ps_free(wi);
	return w.e ? internal_error(r, w.e) : MHD_HTTP_OK;
}

/* <trim>: the answer is built from a snapshot of every target (a few KiB each, freed before
 * the body is sent); malloc_trim gives those pages back to the system, so that scrapes of a
 * large controller do not keep its resident memory at their high-water mark. */
static const struct {
	const char *path;
	unsigned (*get)(struct httpd *h, struct reply *r);
	bool trim;
} routes[] = {
    {"/metrics", get_metrics, true},       {"/healthz", get_healthz, false},
    {"/readyz", get_readyz, false},        {"/debug/targets", get_targets, true},
    {"/debug/workers", get_workers, true},
};

/* ---- libmicrohttpd glue ---- */

static enum MHD_Result send_reply(struct MHD_Connection *c, struct reply *r, bool allow_header)
{
	size_t len = r->b.len;
	char *body = ps_buf_detach(&r->b);
	struct MHD_Response *resp =
	    body ? MHD_create_response_from_buffer_with_free_callback(len, body, ps_free) : NULL;
	if (!resp) {
		ps_free(body);
		return MHD_NO; /* out of memory: libmicrohttpd closes the connection */
	}
	enum MHD_Result ok =
	    MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, r->content_type);
	if (ok == MHD_YES)
		ok = MHD_add_response_header(resp, MHD_HTTP_HEADER_CACHE_CONTROL, "no-store");
	if (ok == MHD_YES && allow_header)
		ok = MHD_add_response_header(resp, MHD_HTTP_HEADER_ALLOW, "GET, HEAD");
	if (ok == MHD_YES)
		ok = MHD_queue_response(c, r->status, resp);
	MHD_destroy_response(resp);
	return ok;
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *c, const char *url,
                                  const char *method, const char *version, const char *upload_data,
                                  size_t *upload_size, void **req_cls)
{
	(void)version;
	(void)upload_data;
	(void)req_cls;
	struct httpd *h = cls;
	struct reply r = {.status = MHD_HTTP_NOT_FOUND, .content_type = CT_TEXT};
	ps_buf_init(&r.b, HTTPD_MAX_BODY);
	bool get =
	    strcmp(method, MHD_HTTP_METHOD_GET) == 0 || strcmp(method, MHD_HTTP_METHOD_HEAD) == 0;
	/* A body is not read: the reply goes out on the first call and the connection is
	 * closed after it when the client sent one. */
	*upload_size = 0;
	size_t route = PS_ARRAY_LEN(routes);
	for (size_t i = 0; i < PS_ARRAY_LEN(routes); i++)
		if (strcmp(url, routes[i].path) == 0)
			route = i;
	enum ps_err e = PS_OK;
	if (!get) {
		r.status = MHD_HTTP_METHOD_NOT_ALLOWED;
		e = ps_buf_appendf(&r.b, "method %s not allowed: use GET\n", method);
	} else if (route == PS_ARRAY_LEN(routes)) {
		e = ps_buf_append_str(&r.b, "not found; endpoints: /metrics /healthz /readyz "
		                            "/debug/targets /debug/workers\n");
	} else {
		pthread_rwlock_rdlock(&h->src_lock);
		r.status = routes[route].get(h, &r);
		pthread_rwlock_unlock(&h->src_lock);
		if (routes[route].trim)
			(void)malloc_trim(0);
	}
	if (e)
		r.status = internal_error(&r, e);
	enum MHD_Result res = send_reply(c, &r, !get);
	ps_buf_release(&r.b);
	return res;
}

/* libmicrohttpd's messages (it formats them itself, hence the non-literal format). */
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wformat-nonliteral"
static void on_log(void *cls, const char *fmt, va_list ap)
{
	struct httpd *h = cls;
	if (h->quiet)
		return;
	char msg[512];
	vsnprintf(msg, sizeof(msg), fmt, ap);
	size_t n = strlen(msg);
	while (n && (msg[n - 1] == '\n' || msg[n - 1] == '\r'))
		msg[--n] = '\0';
	ps_log(PS_LOG_WARN, "http server", "error", msg, NULL);
}
#pragma GCC diagnostic pop

enum ps_err httpd_start(const struct httpd_opts *opts, struct httpd **out, struct ps_diag *diag)
{
	*out = NULL;
	struct httpd_opts o = opts ? *opts : (struct httpd_opts){0};
	const char *listen_addr = o.listen ? o.listen : HTTPD_DEFAULT_LISTEN;
	struct httpd *h = ps_calloc(1, sizeof(*h));
	if (!h)
		return ps_diag_set(diag, PS_ENOMEM, "http server: out of memory");
	h->grace_ms = o.stuck_grace_ms > 0 ? o.stuck_grace_ms : HTTPD_DEFAULT_STUCK_GRACE_MS;
	h->config_loaded = o.config_loaded;
	h->quiet = o.quiet;
	atomic_init(&h->leader, (int)o.leader);
	if (metrics_ctl_new(&h->metrics) != PS_OK) {
		ps_free(h);
		return ps_diag_set(diag, PS_ENOMEM, "http server: out of memory");
	}
	int fd = -1;
	enum ps_err e = open_listener(listen_addr, &fd, &h->port, diag);
	if (e) {
		metrics_ctl_free(h->metrics);
		ps_free(h);
		return e;
	}
	struct stat sock = {0};
	(void)fstat(fd, &sock);
	pthread_rwlock_init(&h->src_lock, NULL);
	/* The observer goes in before the first request can run. */
	if (o.observe_http) {
		http_set_observer(metrics_ctl_observer(h->metrics));
		h->observing = true;
	}
	unsigned flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_AUTO;
	if (!o.quiet)
		flags |= MHD_USE_ERROR_LOG;
	h->daemon = MHD_start_daemon(
	    flags, 0, NULL, NULL, on_request, h, MHD_OPTION_EXTERNAL_LOGGER, on_log, h,
	    MHD_OPTION_LISTEN_SOCKET, fd, MHD_OPTION_THREAD_POOL_SIZE, HTTPD_THREADS,
	    MHD_OPTION_CONNECTION_LIMIT,
	    o.connection_limit ? o.connection_limit : HTTPD_DEFAULT_CONNECTION_LIMIT,
	    MHD_OPTION_CONNECTION_TIMEOUT, o.timeout_s ? o.timeout_s : HTTPD_DEFAULT_TIMEOUT_S,
	    MHD_OPTION_END);
	if (!h->daemon) {
		/* libmicrohttpd closes the socket it was given on some failure paths and not on
		 * others: close it only when the descriptor still is our socket. */
		struct stat now;
		if (fstat(fd, &now) == 0 && now.st_ino == sock.st_ino && now.st_dev == sock.st_dev)
			close(fd);
		if (h->observing)
			http_set_observer(NULL);
		pthread_rwlock_destroy(&h->src_lock);
		metrics_ctl_free(h->metrics);
		ps_free(h);
		return ps_diag_set(diag, PS_EIO,
		                   "http server on \"%s\": libmicrohttpd did not start",
		                   listen_addr);
	}
	*out = h;
	return PS_OK;
}

uint16_t httpd_port(const struct httpd *h)
{
	return h->port;
}

void httpd_attach(struct httpd *h, struct rt *rt, struct tick_env *env)
{
	pthread_rwlock_wrlock(&h->src_lock);
	h->rt = rt;
	h->env = env;
	pthread_rwlock_unlock(&h->src_lock);
}

void httpd_set_leader(struct httpd *h, enum metrics_leader state)
{
	atomic_store(&h->leader, (int)state);
}

void httpd_stop(struct httpd *h)
{
	if (!h)
		return;
	MHD_stop_daemon(h->daemon);
	if (h->observing)
		http_set_observer(NULL);
	pthread_rwlock_destroy(&h->src_lock);
	metrics_ctl_free(h->metrics);
	ps_free(h);
}
