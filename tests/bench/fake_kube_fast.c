/* fake_kube_fast.c -- a fast fake Kubernetes API for controller benchmarks: N Deployments in
 * memory, answered like the real API server for what a prescale tick asks, and a /metrics page
 * of slowly moving per-Deployment loads for Prometheus to scrape.
 *
 * DESIGN
 * libmicrohttpd with its internal polling thread on epoll (a pool of --threads, default 1, so
 * its CPU is one core's at most), bound to 127.0.0.1 only; HTTPS when --tls-cert and --tls-key
 * are given (MHD over GnuTLS; the bench makes a self-signed certificate with openssl), plain
 * HTTP otherwise. Each request is answered in the access handler's last call; a body (PATCH,
 * POST, PUT) is gathered first into a per-request buffer capped at BODY_MAX.
 * State: the Deployments are an array indexed by the number in their name (<prefix> and
 * --width digits), each under its own mutex; resourceVersions come from one atomic counter,
 * as etcd's revision does; Leases and the names of created Events sit under <misc_lock>.
 * Counters are atomics. Nothing else is shared between the pool's threads.
 *
 * What is answered (bearer token required, else 401 with a Status body):
 *   GET   /apis/apps/v1/namespaces/NS/deployments/NAME[/scale]
 *   PATCH /apis/apps/v1/namespaces/NS/deployments/NAME/scale (merge, strategic-merge or JSON
 *         patch of spec.replicas; ?dryRun=All stores nothing)
 *   GET   /api/v1/namespaces/NS/pods?labelSelector=app%3DNAME&limit=L&continue=C (replicas
 *         Running and Ready pods per Deployment, made up on the fly)
 *   POST  /apis/events.k8s.io/v1/namespaces/NS/events
 *   GET, PUT /apis/coordination.k8s.io/v1/namespaces/NS/leases/NAME; POST .../leases
 * and without a token: GET /metrics (bench_load gauges), GET /stats (JSON counters), GET
 * /healthz. Unknown objects: 404 Status bodies shaped like apimachinery's.
 *
 * usage: fake_kube_fast --count N [--namespace bench] [--prefix t] [--width 5] [--token T]
 *                       [--port P] [--tls-cert F --tls-key F] [--threads K] [--replicas R]
 *                       [--base B] [--period S]
 * Prints "READY port=<p> scheme=<http|https>" on stdout once listening; SIGTERM or SIGINT
 * stops it and prints the final /stats on stderr.
 */
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

#include <arpa/inet.h>
#include <cjson/cJSON.h>
#include <microhttpd.h>
#include <netinet/in.h>

#include "ps_alloc.h"
#include "ps_buf.h"

#define BODY_MAX ((size_t)1 << 20)    /* request bodies */
#define REPLY_MAX ((size_t)256 << 20) /* /metrics of many targets, big pod lists */
#define NAME_MAX_LEN 253
#define MAX_LEASES 16
#define EVENT_SET_BITS 20 /* names of created Events remembered: 2^20, then forgotten */
#define PAUSED_ANNOTATION "prescale.dev/paused"

enum kind {
	K_GET_SCALE,
	K_PATCH_SCALE,
	K_GET_DEPLOYMENT,
	K_LIST_PODS,
	K_CREATE_EVENT,
	K_GET_LEASE,
	K_CREATE_LEASE,
	K_UPDATE_LEASE,
	K_METRICS,
	K_STATS,
	K_HEALTHZ,
	K_OTHER,
	K_NKINDS
};

static const char *const kind_names[K_NKINDS] = {
    "get_scale",    "patch_scale",  "get_deployment", "list_pods", "create_event", "get_lease",
    "create_lease", "update_lease", "metrics",        "stats",     "healthz",      "other",
};

/* The HTTP statuses counted in /stats. */
static const unsigned status_codes[] = {200, 201, 400, 401, 404, 405, 409, 413, 415, 422, 500};
#define N_STATUS (sizeof(status_codes) / sizeof(status_codes[0]))

struct deploy {
	pthread_mutex_t lock;
	int32_t replicas;            /* protected by <lock> */
	uint64_t rv;                 /* resourceVersion, protected by <lock> */
	int64_t generation;          /* protected by <lock> */
	double amp, period_s, phase; /* the load's shape, fixed at start */
};

struct lease {
	char name[NAME_MAX_LEN + 1];
	cJSON *obj; /* owned; metadata filled in by the server */
};

struct server {
	char ns[64];
	char prefix[64];
	int width;
	size_t n;
	struct deploy *d;
	char token[512];
	size_t token_len;
	double t0_mono; /* start, for the loads and the uptime */
	char created[32];
	atomic_uint_fast64_t rv; /* the cluster's resourceVersion counter */
	atomic_uint_fast64_t count[K_NKINDS];
	atomic_uint_fast64_t status[N_STATUS + 1]; /* the last: any other code */
	atomic_uint_fast64_t unauthorized, patches_applied, events_stored;
	pthread_mutex_t misc_lock;
	struct lease leases[MAX_LEASES]; /* protected by <misc_lock> */
	size_t n_leases;                 /* protected by <misc_lock> */
	uint64_t *event_set;             /* protected by <misc_lock>: name hashes, 0 = empty */
	struct MHD_Daemon *daemon;       /* set before the first request; for /stats */
	size_t event_n;                  /* protected by <misc_lock> */
};

/* A request in progress: its body. */
struct req_ctx {
	struct ps_buf body;
	bool too_big;
};

/* A reply being built; <e> keeps the first failure so callers check once. */
struct reply {
	unsigned status;
	enum kind kind;
	struct ps_buf b;
	enum ps_err e;
	const char *content_type;
};

static double mono_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void outf(struct reply *r, const char *fmt, ...) PS_PRINTF(2, 3);
static void outf(struct reply *r, const char *fmt, ...)
{
	if (r->e)
		return;
	va_list ap;
	va_start(ap, fmt);
	r->e = ps_buf_vappendf(&r->b, fmt, ap);
	va_end(ap);
}

/* Appends <s> as a JSON string, quotes included. */
static void out_json_str(struct reply *r, const char *s)
{
	outf(r, "\"");
	for (const unsigned char *p = (const unsigned char *)s; *p && !r->e; p++) {
		if (*p == '"' || *p == '\\')
			outf(r, "\\%c", *p);
		else if (*p < 0x20)
			outf(r, "\\u%04x", *p);
		else
			r->e = ps_buf_append(&r->b, p, 1);
	}
	outf(r, "\"");
}

/* Copies <in> into <out> with what JSON string bodies cannot hold replaced by '_' (names
 * quoted in the raw "details" objects), cut at <size>. Returns <out>. */
static const char *esc(const char *in, char *out, size_t size)
{
	size_t i = 0;
	for (; in[i] && i + 1 < size; i++)
		out[i] = in[i] == '"' || in[i] == '\\' || (unsigned char)in[i] < 0x20 ? '_' : in[i];
	out[i] = '\0';
	return out;
}

/* A metav1.Status failure body, as apimachinery writes it. <details> is raw JSON or NULL. */
static void status_reply(struct reply *r, unsigned code, const char *reason, const char *message,
                         const char *details)
{
	ps_buf_reset(&r->b);
	r->e = PS_OK;
	r->status = code;
	r->content_type = "application/json";
	outf(r, "{\"kind\":\"Status\",\"apiVersion\":\"v1\",\"metadata\":{},\"status\":\"Failure\","
	        "\"message\":");
	out_json_str(r, message);
	outf(r, ",\"reason\":\"%s\"", reason);
	if (details)
		outf(r, ",\"details\":%s", details);
	outf(r, ",\"code\":%u}\n", code);
}

static void not_found_path(struct reply *r)
{
	status_reply(r, 404, "NotFound", "the server could not find the requested resource", "{}");
}

/* `<resource>.<group> "<name>" not found`. */
static void not_found(struct reply *r, const char *group, const char *resource, const char *name)
{
	char msg[640], det[640], e[NAME_MAX_LEN + 1];
	snprintf(msg, sizeof(msg), "%s%s%s \"%s\" not found", resource, group[0] ? "." : "", group,
	         name);
	name = esc(name, e, sizeof(e));
	snprintf(det, sizeof(det), "{\"name\":\"%s\",%s%s%s\"kind\":\"%s\"}", name,
	         group[0] ? "\"group\":\"" : "", group, group[0] ? "\"," : "", resource);
	status_reply(r, 404, "NotFound", msg, det);
}

static void bad_request(struct reply *r, const char *msg)
{
	status_reply(r, 400, "BadRequest", msg, NULL);
}

static void method_not_allowed(struct reply *r)
{
	status_reply(r, 405, "MethodNotAllowed",
	             "the server does not allow this method on the requested resource", "{}");
}

/* ---- the Deployments ---- */

/* The index of Deployment <name>, or -1. Names are <prefix><width digits>. */
static long deploy_index(const struct server *s, const char *name)
{
	size_t pl = strlen(s->prefix);
	if (strncmp(name, s->prefix, pl) != 0 || strlen(name) != pl + (size_t)s->width)
		return -1;
	long v = 0;
	for (const char *p = name + pl; *p; p++) {
		if (*p < '0' || *p > '9')
			return -1;
		v = v * 10 + (*p - '0');
	}
	return (size_t)v < s->n ? v : -1;
}

static void deploy_name(const struct server *s, size_t i, char *buf, size_t size)
{
	snprintf(buf, size, "%s%0*zu", s->prefix, s->width, i);
}

static void uid_of(size_t i, unsigned salt, char *buf, size_t size)
{
	snprintf(buf, size, "5c0ffee0-%04x-4000-8000-%012zx", salt, i);
}

struct deploy_view {
	int32_t replicas;
	uint64_t rv;
	int64_t generation;
};

static struct deploy_view deploy_read(struct deploy *d)
{
	pthread_mutex_lock(&d->lock);
	struct deploy_view v = {d->replicas, d->rv, d->generation};
	pthread_mutex_unlock(&d->lock);
	return v;
}

/* An autoscaling/v1 Scale (spec.replicas omitted when 0: omitempty). */
static void scale_json(struct reply *r, const struct server *s, size_t i, struct deploy_view v)
{
	char name[NAME_MAX_LEN + 1], uid[64];
	deploy_name(s, i, name, sizeof(name));
	uid_of(i, 0xd, uid, sizeof(uid));
	outf(r,
	     "{\"kind\":\"Scale\",\"apiVersion\":\"autoscaling/v1\",\"metadata\":{\"name\":\"%s\","
	     "\"namespace\":\"%s\",\"uid\":\"%s\",\"resourceVersion\":\"%" PRIu64 "\","
	     "\"creationTimestamp\":\"%s\"},\"spec\":{",
	     name, s->ns, uid, v.rv, s->created);
	if (v.replicas)
		outf(r, "\"replicas\":%d", (int)v.replicas);
	outf(r, "},\"status\":{\"replicas\":%d,\"selector\":\"app=%s\"}}\n", (int)v.replicas, name);
}

/* An apps/v1 Deployment whose pods are all up to date and ready. */
static void deployment_json(struct reply *r, const struct server *s, size_t i, struct deploy_view v)
{
	char name[NAME_MAX_LEN + 1], uid[64];
	deploy_name(s, i, name, sizeof(name));
	uid_of(i, 0xd, uid, sizeof(uid));
	outf(r,
	     "{\"kind\":\"Deployment\",\"apiVersion\":\"apps/v1\",\"metadata\":{\"name\":\"%s\","
	     "\"namespace\":\"%s\",\"uid\":\"%s\",\"resourceVersion\":\"%" PRIu64 "\","
	     "\"generation\":%" PRId64 ",\"creationTimestamp\":\"%s\",\"labels\":{\"app\":\"%s\"},"
	     "\"annotations\":{\"deployment.kubernetes.io/revision\":\"1\"}},"
	     "\"spec\":{\"replicas\":%d,\"selector\":{\"matchLabels\":{\"app\":\"%s\"}},"
	     "\"template\":{\"metadata\":{\"creationTimestamp\":null,\"labels\":{\"app\":\"%s\"}},"
	     "\"spec\":{\"containers\":[{\"name\":\"app\",\"image\":\"registry.k8s.io/pause:3.9\","
	     "\"resources\":{\"requests\":{\"cpu\":\"100m\",\"memory\":\"64Mi\"}},"
	     "\"terminationMessagePath\":\"/dev/termination-log\",\"terminationMessagePolicy\":"
	     "\"File\",\"imagePullPolicy\":\"IfNotPresent\"}],\"restartPolicy\":\"Always\","
	     "\"terminationGracePeriodSeconds\":30,\"dnsPolicy\":\"ClusterFirst\","
	     "\"securityContext\":{},\"schedulerName\":\"default-scheduler\"}},"
	     "\"strategy\":{\"type\":\"RollingUpdate\",\"rollingUpdate\":{\"maxUnavailable\":"
	     "\"25%%\",\"maxSurge\":\"25%%\"}},\"revisionHistoryLimit\":10,"
	     "\"progressDeadlineSeconds\":600},"
	     "\"status\":{\"observedGeneration\":%" PRId64 ",\"replicas\":%d,"
	     "\"updatedReplicas\":%d,\"readyReplicas\":%d,\"availableReplicas\":%d}}\n",
	     name, s->ns, uid, v.rv, v.generation, s->created, name, (int)v.replicas, name, name,
	     v.generation, (int)v.replicas, (int)v.replicas, (int)v.replicas, (int)v.replicas);
}

/* The replicas a patch body of <content_type> asks for: PS_OK and *<out>, or a reply. */
static bool patch_replicas(struct reply *r, const char *content_type, const char *body, size_t len,
                           const char *name, int64_t *out)
{
	bool merge = strcmp(content_type, "application/merge-patch+json") == 0 ||
	             strcmp(content_type, "application/strategic-merge-patch+json") == 0;
	bool json_patch = strcmp(content_type, "application/json-patch+json") == 0;
	if (!merge && !json_patch) {
		status_reply(r, 415, "UnsupportedMediaType",
		             "the body of the request was in an unknown format - accepted media "
		             "types include: application/json-patch+json, "
		             "application/merge-patch+json, application/apply-patch+yaml, "
		             "application/strategic-merge-patch+json",
		             NULL);
		return false;
	}
	cJSON *root = cJSON_ParseWithLength(body, len);
	if (!root) {
		bad_request(r, "error decoding patch: invalid character looking for beginning of "
		               "value");
		return false;
	}
	const cJSON *v = NULL;
	if (merge) {
		const cJSON *spec = cJSON_GetObjectItemCaseSensitive(root, "spec");
		v = cJSON_GetObjectItemCaseSensitive(spec, "replicas");
	} else {
		const cJSON *op;
		cJSON_ArrayForEach(op, root)
		{
			const cJSON *o = cJSON_GetObjectItemCaseSensitive(op, "op");
			const cJSON *p = cJSON_GetObjectItemCaseSensitive(op, "path");
			if (cJSON_IsString(o) && cJSON_IsString(p) &&
			    (strcmp(o->valuestring, "replace") == 0 ||
			     strcmp(o->valuestring, "add") == 0) &&
			    strcmp(p->valuestring, "/spec/replicas") == 0)
				v = cJSON_GetObjectItemCaseSensitive(op, "value");
		}
	}
	bool ok = true;
	if (v == NULL) {
		*out = -1; /* nothing to change */
	} else if (!cJSON_IsNumber(v) || v->valuedouble != floor(v->valuedouble) ||
	           v->valuedouble > 2147483647.0 || v->valuedouble < -2147483648.0) {
		bad_request(r,
		            "json: cannot unmarshal into Go struct field ScaleSpec.spec.replicas "
		            "of type int32");
		ok = false;
	} else if (v->valuedouble < 0) {
		char msg[512];
		snprintf(msg, sizeof(msg),
		         "Scale.autoscaling \"%s\" is invalid: spec.replicas: Invalid value: %.0f: "
		         "must be greater than or equal to 0",
		         name, v->valuedouble);
		char det[512];
		snprintf(
		    det, sizeof(det),
		    "{\"name\":\"%s\",\"group\":\"autoscaling\",\"kind\":\"Scale\",\"causes\":"
		    "[{\"reason\":\"FieldValueInvalid\",\"message\":\"Invalid value: %.0f: must "
		    "be greater than or equal to 0\",\"field\":\"spec.replicas\"}]}",
		    name, v->valuedouble);
		status_reply(r, 422, "Invalid", msg, det);
		ok = false;
	} else {
		*out = (int64_t)v->valuedouble;
	}
	cJSON_Delete(root);
	return ok;
}

static void handle_deployment(struct server *s, struct MHD_Connection *c, struct reply *r,
                              const char *method, const char *name, bool scale,
                              const struct req_ctx *rq)
{
	bool get = strcmp(method, "GET") == 0, patch = strcmp(method, "PATCH") == 0;
	r->kind = scale ? (patch ? K_PATCH_SCALE : K_GET_SCALE) : K_GET_DEPLOYMENT;
	if (!get && !(patch && scale)) {
		r->kind = K_OTHER;
		method_not_allowed(r);
		return;
	}
	long i = deploy_index(s, name);
	if (i < 0) {
		not_found(r, "apps", "deployments", name);
		return;
	}
	struct deploy *d = &s->d[i];
	if (get) {
		struct deploy_view v = deploy_read(d);
		if (scale)
			scale_json(r, s, (size_t)i, v);
		else
			deployment_json(r, s, (size_t)i, v);
		return;
	}
	const char *ct = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Content-Type");
	const char *dry = MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, "dryRun");
	if (dry && strcmp(dry, "All") != 0) {
		char msg[256];
		snprintf(msg, sizeof(msg),
		         "dryRun: Unsupported value: \"%.100s\": supported values: \"All\"", dry);
		bad_request(r, msg);
		return;
	}
	int64_t want;
	if (!patch_replicas(r, ct ? ct : "", rq->body.data ? rq->body.data : "", rq->body.len, name,
	                    &want))
		return;
	pthread_mutex_lock(&d->lock);
	struct deploy_view v = {d->replicas, d->rv, d->generation};
	if (want >= 0 && (int32_t)want != d->replicas) {
		v.replicas = (int32_t)want;
		if (!dry) {
			d->replicas = v.replicas;
			d->rv = v.rv = atomic_fetch_add(&s->rv, 1) + 1;
			d->generation = ++v.generation;
			atomic_fetch_add(&s->patches_applied, 1);
		}
	}
	pthread_mutex_unlock(&d->lock);
	scale_json(r, s, (size_t)i, v);
}

/* ---- pods ---- */

/* Parses a label selector of equality terms (k=v, k==v, k!=v, comma-separated). Returns false
 * for anything else. *<app> gets the value of an `app=` term ("" when none); *<never> is true
 * when a term can match no pod of this fake (another key, or app!= the Deployment's own). */
static bool selector_parse(const char *sel, char *app, size_t size, bool *never, bool *app_neq,
                           char *neq, size_t neq_size)
{
	app[0] = neq[0] = '\0';
	*never = *app_neq = false;
	const char *p = sel;
	while (*p) {
		const char *end = strchr(p, ',');
		size_t len = end ? (size_t)(end - p) : strlen(p);
		char term[512];
		if (len == 0 || len >= sizeof(term))
			return false;
		memcpy(term, p, len);
		term[len] = '\0';
		char *op = strpbrk(term, "=!");
		if (!op || op == term)
			return false;
		bool ne = op[0] == '!';
		if (ne && op[1] != '=')
			return false;
		char *val = op + (ne ? 2 : (op[1] == '=' ? 2 : 1));
		*op = '\0';
		if (strpbrk(val, "=! ()") || strpbrk(term, " ()"))
			return false;
		if (strcmp(term, "app") == 0) {
			if (ne) {
				*app_neq = true;
				snprintf(neq, neq_size, "%s", val);
			} else {
				if (app[0] && strcmp(app, val) != 0)
					*never = true;
				snprintf(app, size, "%s", val);
			}
		} else if (strcmp(term, "pod-template-hash") == 0) {
			if (!ne && strcmp(val, "5d4f8c7b9") != 0)
				*never = true;
			if (ne && strcmp(val, "5d4f8c7b9") == 0)
				*never = true;
		} else if (!ne) {
			*never = true;
		}
		p = end ? end + 1 : p + len;
	}
	return true;
}

static void pod_json(struct reply *r, const struct server *s, size_t i, int32_t j, bool comma)
{
	char name[NAME_MAX_LEN + 1], uid[64];
	deploy_name(s, i, name, sizeof(name));
	uid_of(i * 100000 + (size_t)j, 0xb0d, uid, sizeof(uid));
	outf(r,
	     "%s{\"metadata\":{\"name\":\"%s-5d4f8c7b9-%05d\",\"generateName\":\"%s-5d4f8c7b9-\","
	     "\"namespace\":\"%s\",\"uid\":\"%s\",\"resourceVersion\":\"%zu\","
	     "\"creationTimestamp\":\"%s\",\"labels\":{\"app\":\"%s\",\"pod-template-hash\":"
	     "\"5d4f8c7b9\"}},\"spec\":{\"containers\":[{\"name\":\"app\",\"image\":"
	     "\"registry.k8s.io/pause:3.9\",\"resources\":{\"requests\":{\"cpu\":\"100m\","
	     "\"memory\":\"64Mi\"}}}],\"restartPolicy\":\"Always\",\"nodeName\":\"node-1\"},"
	     "\"status\":{\"phase\":\"Running\",\"conditions\":[{\"type\":\"Ready\",\"status\":"
	     "\"True\",\"lastProbeTime\":null,\"lastTransitionTime\":\"%s\"}],\"startTime\":"
	     "\"%s\"}}",
	     comma ? "," : "", name, (int)j, name, s->ns, uid, 100 + i, s->created, name,
	     s->created, s->created);
}

/* GET /api/v1/namespaces/NS/pods: the pods of the matching Deployments, paged by limit and an
 * opaque continue token "<deployment>.<pod>". */
static void handle_pods(struct server *s, struct MHD_Connection *c, struct reply *r, const char *ns)
{
	r->kind = K_LIST_PODS;
	const char *sel = MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, "labelSelector");
	const char *lim = MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, "limit");
	const char *cont = MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, "continue");
	char app[NAME_MAX_LEN + 1], neq[NAME_MAX_LEN + 1];
	bool never, app_neq;
	if (!selector_parse(sel ? sel : "", app, sizeof(app), &never, &app_neq, neq, sizeof(neq))) {
		char msg[640];
		snprintf(msg, sizeof(msg), "unable to parse requirement: %.500s", sel);
		bad_request(r, msg);
		return;
	}
	long limit = 0;
	if (lim && *lim) {
		char *end;
		errno = 0;
		limit = strtol(lim, &end, 10);
		if (errno || *end || limit < 0) {
			bad_request(r, "limit: Invalid value");
			return;
		}
	}
	size_t di = 0;
	long pj = 0;
	if (cont && *cont) {
		char *end;
		unsigned long long a = strtoull(cont, &end, 10);
		if (*end != '.' || (pj = strtol(end + 1, &end, 10), *end) || pj < 0) {
			status_reply(r, 410, "Expired",
			             "The provided continue parameter is too old to display a "
			             "consistent list result. You can start a new list without the "
			             "continue parameter.",
			             NULL);
			return;
		}
		di = (size_t)a;
	}
	uint64_t rv = atomic_load(&s->rv);
	outf(r,
	     "{\"kind\":\"PodList\",\"apiVersion\":\"v1\",\"metadata\":{\"resourceVersion\":"
	     "\"%" PRIu64 "\"",
	     rv);
	struct ps_buf items;
	ps_buf_init(&items, REPLY_MAX);
	struct reply ir = {.b = items};
	size_t lo = 0, hi = s->n;
	if (app[0]) {
		long k = deploy_index(s, app);
		if (k < 0)
			never = true;
		else
			lo = (size_t)k, hi = (size_t)k + 1;
	}
	if (strcmp(ns, s->ns) != 0)
		never = true;
	long emitted = 0;
	bool more = false;
	size_t next_d = 0;
	long next_p = 0;
	if (di > lo)
		lo = di;
	for (size_t i = lo; !never && i < hi && !more && !ir.e; i++) {
		if (app_neq) {
			char name[NAME_MAX_LEN + 1];
			deploy_name(s, i, name, sizeof(name));
			if (strcmp(name, neq) == 0)
				continue;
		}
		int32_t n = deploy_read(&s->d[i]).replicas;
		for (long j = i == di ? pj : 0; j < n; j++) {
			if (limit > 0 && emitted == limit) {
				more = true;
				next_d = i;
				next_p = j;
				break;
			}
			pod_json(&ir, s, i, (int32_t)j, emitted > 0);
			emitted++;
		}
	}
	if (more)
		outf(r, ",\"continue\":\"%zu.%ld\"", next_d, next_p);
	outf(r, "},\"items\":[");
	if (!r->e && !ir.e && ir.b.len)
		r->e = ps_buf_append(&r->b, ir.b.data, ir.b.len);
	if (ir.e)
		r->e = ir.e;
	ps_buf_release(&ir.b);
	outf(r, "]}\n");
}

/* ---- Events ---- */

static uint64_t hash_str(const char *s)
{
	uint64_t h = 1469598103934665603ULL;
	for (; *s; s++)
		h = (h ^ (unsigned char)*s) * 1099511628211ULL;
	return h ? h : 1;
}

/* Adds <name> to the set of created Events; false when it was there. */
static bool event_name_add(struct server *s, const char *name)
{
	const size_t cap = (size_t)1 << EVENT_SET_BITS;
	uint64_t h = hash_str(name);
	bool added = true;
	pthread_mutex_lock(&s->misc_lock);
	for (size_t k = h & (cap - 1);; k = (k + 1) & (cap - 1)) {
		if (s->event_set[k] == h) {
			added = false;
			break;
		}
		if (s->event_set[k] == 0) {
			if (s->event_n < cap / 2) { /* beyond half full, names are forgotten */
				s->event_set[k] = h;
				s->event_n++;
			}
			break;
		}
	}
	pthread_mutex_unlock(&s->misc_lock);
	return added;
}

/* Fills metadata.uid, resourceVersion and creationTimestamp of <obj> (a JSON object). */
static bool meta_fill(cJSON *meta, uint64_t rv, const char *uid, const char *created)
{
	char rvs[32];
	snprintf(rvs, sizeof(rvs), "%" PRIu64, rv);
	cJSON_DeleteItemFromObjectCaseSensitive(meta, "resourceVersion");
	if (!cJSON_AddStringToObject(meta, "resourceVersion", rvs))
		return false;
	if (uid) {
		cJSON_DeleteItemFromObjectCaseSensitive(meta, "uid");
		cJSON_DeleteItemFromObjectCaseSensitive(meta, "creationTimestamp");
		if (!cJSON_AddStringToObject(meta, "uid", uid) ||
		    !cJSON_AddStringToObject(meta, "creationTimestamp", created))
			return false;
	}
	return true;
}

static void now_rfc3339(char *buf, size_t size)
{
	time_t t = time(NULL);
	struct tm tm;
	gmtime_r(&t, &tm);
	strftime(buf, size, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

/* Appends <obj> printed to <r>, or an internal error. */
static void out_obj(struct reply *r, const cJSON *obj)
{
	char *txt = cJSON_PrintUnformatted(obj);
	if (!txt) {
		status_reply(r, 500, "InternalError", "Internal error occurred: out of memory",
		             NULL);
		return;
	}
	outf(r, "%s\n", txt);
	cJSON_free(txt);
}

static bool is_alnum_lower(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
}

/* An object name the API accepts: [a-z0-9.-], starting and ending with [a-z0-9]. */
static bool is_dns1123_subdomain(const char *s)
{
	size_t n = strlen(s);
	if (n == 0 || n > NAME_MAX_LEN || !is_alnum_lower(s[0]) || !is_alnum_lower(s[n - 1]))
		return false;
	for (size_t i = 0; i < n; i++)
		if (!is_alnum_lower(s[i]) && s[i] != '-' && s[i] != '.')
			return false;
	return true;
}

/* Parses a create/update body for <ns>: the object and its metadata.name, or a reply. */
static cJSON *body_object(struct reply *r, const struct req_ctx *rq, const char *ns,
                          const char *api_version, const char *kind, const char **name)
{
	cJSON *root = cJSON_ParseWithLength(rq->body.data ? rq->body.data : "", rq->body.len);
	if (!cJSON_IsObject(root)) {
		cJSON_Delete(root);
		bad_request(r, "the object provided is unrecognized (must be of type Object): "
		               "couldn't get version/kind; json parse error");
		return NULL;
	}
	const cJSON *av = cJSON_GetObjectItemCaseSensitive(root, "apiVersion");
	const cJSON *k = cJSON_GetObjectItemCaseSensitive(root, "kind");
	if (!cJSON_IsString(av) || strcmp(av->valuestring, api_version) != 0 ||
	    !cJSON_IsString(k) || strcmp(k->valuestring, kind) != 0) {
		cJSON_Delete(root);
		char msg[256];
		snprintf(msg, sizeof(msg),
		         "the API version in the data does not match the expected "
		         "API version %s %s",
		         api_version, kind);
		bad_request(r, msg);
		return NULL;
	}
	cJSON *meta = cJSON_GetObjectItemCaseSensitive(root, "metadata");
	const cJSON *nm = cJSON_GetObjectItemCaseSensitive(meta, "name");
	const cJSON *mns = cJSON_GetObjectItemCaseSensitive(meta, "namespace");
	if (!cJSON_IsObject(meta) || !cJSON_IsString(nm) || !nm->valuestring[0] ||
	    strlen(nm->valuestring) > NAME_MAX_LEN) {
		cJSON_Delete(root);
		char msg[256];
		snprintf(msg, sizeof(msg),
		         "%s \"\" is invalid: metadata.name: Required value: name or generateName "
		         "is required",
		         kind);
		status_reply(r, 422, "Invalid", msg, NULL);
		return NULL;
	}
	if (!is_dns1123_subdomain(nm->valuestring)) {
		cJSON_Delete(root);
		char msg[512];
		snprintf(
		    msg, sizeof(msg),
		    "%s is invalid: metadata.name: Invalid value: a lowercase RFC 1123 "
		    "subdomain must consist of lower case alphanumeric characters, '-' or '.', "
		    "and must start and end with an alphanumeric character",
		    kind);
		status_reply(r, 422, "Invalid", msg, NULL);
		return NULL;
	}
	if (mns && (!cJSON_IsString(mns) || strcmp(mns->valuestring, ns) != 0)) {
		cJSON_Delete(root);
		bad_request(r, "the namespace of the provided object does not match the namespace "
		               "sent on the request");
		return NULL;
	}
	if (!mns && !cJSON_AddStringToObject(meta, "namespace", ns)) {
		cJSON_Delete(root);
		status_reply(r, 500, "InternalError", "Internal error occurred: out of memory",
		             NULL);
		return NULL;
	}
	*name = cJSON_GetObjectItemCaseSensitive(meta, "name")->valuestring;
	return root;
}

static void handle_events(struct server *s, struct reply *r, const char *method, const char *ns,
                          const struct req_ctx *rq)
{
	r->kind = K_CREATE_EVENT;
	if (strcmp(method, "POST") != 0) {
		r->kind = K_OTHER;
		method_not_allowed(r);
		return;
	}
	const char *name;
	cJSON *root = body_object(r, rq, ns, "events.k8s.io/v1", "Event", &name);
	if (!root)
		return;
	if (!event_name_add(s, name)) {
		char msg[512], det[512];
		snprintf(msg, sizeof(msg), "events.events.k8s.io \"%s\" already exists", name);
		snprintf(det, sizeof(det),
		         "{\"name\":\"%s\",\"group\":\"events.k8s.io\",\"kind\":\"events\"}", name);
		status_reply(r, 409, "AlreadyExists", msg, det);
		cJSON_Delete(root);
		return;
	}
	char uid[64], created[32];
	uint64_t rv = atomic_fetch_add(&s->rv, 1) + 1;
	uid_of((size_t)rv, 0xe7, uid, sizeof(uid));
	now_rfc3339(created, sizeof(created));
	if (!meta_fill(cJSON_GetObjectItemCaseSensitive(root, "metadata"), rv, uid, created)) {
		status_reply(r, 500, "InternalError", "Internal error occurred: out of memory",
		             NULL);
	} else {
		atomic_fetch_add(&s->events_stored, 1);
		r->status = 201;
		out_obj(r, root);
	}
	cJSON_Delete(root);
}

/* ---- Leases ---- */

static struct lease *lease_find(struct server *s, const char *name)
{
	for (size_t i = 0; i < s->n_leases; i++)
		if (strcmp(s->leases[i].name, name) == 0)
			return &s->leases[i];
	return NULL;
}

static void handle_leases(struct server *s, struct reply *r, const char *method, const char *ns,
                          const char *name, const struct req_ctx *rq)
{
	bool get = strcmp(method, "GET") == 0, post = strcmp(method, "POST") == 0,
	     put = strcmp(method, "PUT") == 0;
	r->kind = get ? K_GET_LEASE : post ? K_CREATE_LEASE : put ? K_UPDATE_LEASE : K_OTHER;
	if ((name && !(get || put)) || (!name && !post)) {
		r->kind = K_OTHER;
		method_not_allowed(r);
		return;
	}
	if (strcmp(ns, s->ns) != 0 && get) {
		not_found(r, "coordination.k8s.io", "leases", name);
		return;
	}
	char det[512], msg[768];
	pthread_mutex_lock(&s->misc_lock);
	if (get) {
		struct lease *l = lease_find(s, name);
		if (l)
			out_obj(r, l->obj);
		else
			not_found(r, "coordination.k8s.io", "leases", name);
		pthread_mutex_unlock(&s->misc_lock);
		return;
	}
	pthread_mutex_unlock(&s->misc_lock);
	const char *bname;
	cJSON *root = body_object(r, rq, ns, "coordination.k8s.io/v1", "Lease", &bname);
	if (!root)
		return;
	if (put && strcmp(bname, name) != 0) {
		bad_request(r, "the name of the object does not match the name on the URL");
		cJSON_Delete(root);
		return;
	}
	cJSON *meta = cJSON_GetObjectItemCaseSensitive(root, "metadata");
	const cJSON *brv = cJSON_GetObjectItemCaseSensitive(meta, "resourceVersion");
	pthread_mutex_lock(&s->misc_lock);
	struct lease *l = lease_find(s, bname);
	uint64_t rv = 0;
	if (post && l) {
		snprintf(msg, sizeof(msg), "leases.coordination.k8s.io \"%s\" already exists",
		         bname);
		snprintf(det, sizeof(det),
		         "{\"name\":\"%s\",\"group\":\"coordination.k8s.io\",\"kind\":\"leases\"}",
		         bname);
		status_reply(r, 409, "AlreadyExists", msg, det);
	} else if (post && s->n_leases == MAX_LEASES) {
		status_reply(r, 500, "InternalError", "Internal error occurred: too many leases",
		             NULL);
	} else if (put && !l) {
		not_found(r, "coordination.k8s.io", "leases", bname);
	} else if (put && !cJSON_IsString(brv)) {
		snprintf(msg, sizeof(msg),
		         "Lease.coordination.k8s.io \"%s\" is invalid: metadata.resourceVersion: "
		         "Invalid value: 0x0: must be specified for an update",
		         bname);
		status_reply(r, 422, "Invalid", msg, NULL);
	} else if (put && strcmp(brv->valuestring,
	                         cJSON_GetObjectItemCaseSensitive(
	                             cJSON_GetObjectItemCaseSensitive(l->obj, "metadata"),
	                             "resourceVersion")
	                             ->valuestring) != 0) {
		snprintf(
		    msg, sizeof(msg),
		    "Operation cannot be fulfilled on leases.coordination.k8s.io \"%s\": the "
		    "object has been modified; please apply your changes to the latest version "
		    "and try again",
		    bname);
		snprintf(det, sizeof(det),
		         "{\"name\":\"%s\",\"group\":\"coordination.k8s.io\",\"kind\":\"leases\"}",
		         bname);
		status_reply(r, 409, "Conflict", msg, det);
	} else {
		rv = atomic_fetch_add(&s->rv, 1) + 1;
		char uid[64], created[32];
		if (post) {
			uid_of((size_t)rv, 0x1ea, uid, sizeof(uid));
			now_rfc3339(created, sizeof(created));
		} else {
			const cJSON *om = cJSON_GetObjectItemCaseSensitive(l->obj, "metadata");
			snprintf(uid, sizeof(uid), "%s",
			         cJSON_GetObjectItemCaseSensitive(om, "uid")->valuestring);
			snprintf(
			    created, sizeof(created), "%s",
			    cJSON_GetObjectItemCaseSensitive(om, "creationTimestamp")->valuestring);
		}
		if (!meta_fill(meta, rv, uid, created)) {
			status_reply(r, 500, "InternalError",
			             "Internal error occurred: out of memory", NULL);
		} else {
			if (post) {
				l = &s->leases[s->n_leases++];
				snprintf(l->name, sizeof(l->name), "%s", bname);
			} else {
				cJSON_Delete(l->obj);
			}
			l->obj = root;
			root = NULL;
			r->status = post ? 201 : 200;
			out_obj(r, l->obj);
		}
	}
	pthread_mutex_unlock(&s->misc_lock);
	cJSON_Delete(root);
}

/* ---- /metrics and /stats ---- */

static double load_of(const struct deploy *d, double t)
{
	return d->amp *
	       (1.0 + 0.5 * sin(2.0 * 3.14159265358979323846 * t / d->period_s + d->phase));
}

static void handle_metrics(struct server *s, struct reply *r)
{
	r->kind = K_METRICS;
	r->content_type = "text/plain; version=0.0.4; charset=utf-8";
	double t = mono_s() - s->t0_mono;
	outf(r, "# HELP bench_load Load of a benchmark Deployment, a slow sine per target.\n"
	        "# TYPE bench_load gauge\n");
	char name[NAME_MAX_LEN + 1];
	for (size_t i = 0; i < s->n && !r->e; i++) {
		deploy_name(s, i, name, sizeof(name));
		outf(r, "bench_load{namespace=\"%s\",deployment=\"%s\"} %.3f\n", s->ns, name,
		     load_of(&s->d[i], t));
	}
}

static double cpu_self_s(void)
{
	struct rusage ru;
	getrusage(RUSAGE_SELF, &ru);
	return (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec / 1e6 +
	       (double)ru.ru_stime.tv_sec + (double)ru.ru_stime.tv_usec / 1e6;
}

/* Open client connections, when the daemon is known. */
static unsigned connections(const struct server *s)
{
	const union MHD_DaemonInfo *i =
	    s->daemon ? MHD_get_daemon_info(s->daemon, MHD_DAEMON_INFO_CURRENT_CONNECTIONS) : NULL;
	return i ? i->num_connections : 0;
}

static void stats_json(struct server *s, struct reply *r)
{
	uint64_t total = 0;
	outf(r, "{\"requests\":{");
	for (size_t k = 0; k < K_NKINDS; k++) {
		uint64_t v = atomic_load(&s->count[k]);
		total += v;
		outf(r, "%s\"%s\":%" PRIu64, k ? "," : "", kind_names[k], v);
	}
	outf(r, "},\"total\":%" PRIu64 ",\"responses\":{", total);
	for (size_t k = 0; k < N_STATUS; k++)
		outf(r, "%s\"%u\":%" PRIu64, k ? "," : "", status_codes[k],
		     (uint64_t)atomic_load(&s->status[k]));
	outf(r, ",\"other\":%" PRIu64 "},", (uint64_t)atomic_load(&s->status[N_STATUS]));
	outf(r,
	     "\"unauthorized\":%" PRIu64 ",\"patches_applied\":%" PRIu64
	     ",\"events_stored\":%" PRIu64 ",\"resource_version\":%" PRIu64
	     ",\"deployments\":%zu,\"connections\":%u,"
	     "\"uptime_s\":%.3f,\"cpu_s\":%.3f}\n",
	     (uint64_t)atomic_load(&s->unauthorized), (uint64_t)atomic_load(&s->patches_applied),
	     (uint64_t)atomic_load(&s->events_stored), (uint64_t)atomic_load(&s->rv), s->n,
	     connections(s), mono_s() - s->t0_mono, cpu_self_s());
}

/* ---- dispatch ---- */

static bool authorized(const struct server *s, struct MHD_Connection *c)
{
	const char *a = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Authorization");
	if (!a || strncmp(a, "Bearer ", 7) != 0)
		return false;
	a += 7;
	size_t n = strlen(a);
	unsigned diff = n != s->token_len;
	for (size_t i = 0; i < n && i < s->token_len; i++)
		diff |= (unsigned)(a[i] ^ s->token[i]);
	return diff == 0;
}

/* Splits <url> ("/a/b/c") into at most <max> segments in <buf>. Returns the count, or -1 when
 * there are more, or an empty segment. */
static int split_path(const char *url, char *buf, size_t size, char **seg, int max)
{
	if (url[0] != '/' || strlen(url) >= size)
		return -1;
	snprintf(buf, size, "%s", url + 1);
	size_t len = strlen(buf);
	if (len && buf[len - 1] == '/')
		buf[len - 1] = '\0';
	if (!buf[0])
		return 0;
	int n = 0;
	for (char *p = buf; p;) {
		if (n == max)
			return -1;
		seg[n++] = p;
		p = strchr(p, '/');
		if (p)
			*p++ = '\0';
	}
	for (int i = 0; i < n; i++)
		if (!seg[i][0])
			return -1;
	return n;
}

static void route(struct server *s, struct MHD_Connection *c, struct reply *r, const char *url,
                  const char *method, const struct req_ctx *rq)
{
	bool get = strcmp(method, "GET") == 0;
	if (strcmp(url, "/metrics") == 0 && get) {
		handle_metrics(s, r);
		return;
	}
	if (strcmp(url, "/stats") == 0 && get) {
		r->kind = K_STATS;
		stats_json(s, r);
		return;
	}
	if ((strcmp(url, "/healthz") == 0 || strcmp(url, "/readyz") == 0 ||
	     strcmp(url, "/livez") == 0) &&
	    get) {
		r->kind = K_HEALTHZ;
		r->content_type = "text/plain; charset=utf-8";
		outf(r, "ok");
		return;
	}
	if (!authorized(s, c)) {
		atomic_fetch_add(&s->unauthorized, 1);
		status_reply(r, 401, "Unauthorized", "Unauthorized", NULL);
		return;
	}
	char buf[2048];
	char *g[10];
	int n = split_path(url, buf, sizeof(buf), g, 10);
	/* /api/v1/namespaces/NS/pods */
	if (n == 5 && !strcmp(g[0], "api") && !strcmp(g[1], "v1") && !strcmp(g[2], "namespaces") &&
	    !strcmp(g[4], "pods")) {
		if (!get) {
			method_not_allowed(r);
			return;
		}
		handle_pods(s, c, r, g[3]);
		return;
	}
	if (n < 6 || strcmp(g[0], "apis") != 0 || strcmp(g[2], "v1") != 0 ||
	    strcmp(g[3], "namespaces") != 0) {
		not_found_path(r);
		return;
	}
	const char *group = g[1], *ns = g[4], *res = g[5];
	if (!strcmp(group, "apps") && !strcmp(res, "deployments") && (n == 7 || n == 8)) {
		if (n == 8 && strcmp(g[7], "scale") != 0) {
			not_found_path(r);
			return;
		}
		if (strcmp(ns, s->ns) != 0) {
			not_found(r, "apps", "deployments", g[6]);
			return;
		}
		handle_deployment(s, c, r, method, g[6], n == 8, rq);
		return;
	}
	if (!strcmp(group, "events.k8s.io") && !strcmp(res, "events") && n == 6) {
		handle_events(s, r, method, ns, rq);
		return;
	}
	if (!strcmp(group, "coordination.k8s.io") && !strcmp(res, "leases") && (n == 6 || n == 7)) {
		handle_leases(s, r, method, ns, n == 7 ? g[6] : NULL, rq);
		return;
	}
	not_found_path(r);
}

static void count_status(struct server *s, unsigned code)
{
	size_t k = 0;
	while (k < N_STATUS && status_codes[k] != code)
		k++;
	atomic_fetch_add(&s->status[k], 1);
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *c, const char *url,
                                  const char *method, const char *version, const char *upload_data,
                                  size_t *upload_size, void **con_cls)
{
	(void)version;
	struct server *s = cls;
	struct req_ctx *rq = *con_cls;
	if (!rq) {
		rq = ps_calloc(1, sizeof(*rq));
		if (!rq)
			return MHD_NO;
		ps_buf_init(&rq->body, BODY_MAX);
		*con_cls = rq;
		return MHD_YES;
	}
	if (*upload_size) {
		if (!rq->too_big && ps_buf_append(&rq->body, upload_data, *upload_size) != PS_OK)
			rq->too_big = true;
		*upload_size = 0;
		return MHD_YES;
	}
	struct reply r = {.status = 200, .kind = K_OTHER, .content_type = "application/json"};
	ps_buf_init(&r.b, REPLY_MAX);
	if (rq->too_big)
		status_reply(&r, 413, "RequestEntityTooLarge",
		             "the request body is larger than the fake's limit", NULL);
	else
		route(s, c, &r, url, method, rq);
	if (r.e) {
		ps_buf_reset(&r.b);
		r.e = PS_OK;
		status_reply(&r, 500, "InternalError", "Internal error occurred: reply too large",
		             NULL);
	}
	atomic_fetch_add(&s->count[r.kind], 1);
	count_status(s, r.status);
	size_t len = r.b.len;
	char *body = ps_buf_detach(&r.b);
	if (!body)
		return MHD_NO;
	struct MHD_Response *resp =
	    MHD_create_response_from_buffer_with_free_callback(len, body, ps_free);
	if (!resp) {
		ps_free(body);
		return MHD_NO;
	}
	enum MHD_Result ok = MHD_add_response_header(resp, "Content-Type", r.content_type);
	if (ok == MHD_YES)
		ok = MHD_add_response_header(resp, "Cache-Control", "no-cache, private");
	if (ok == MHD_YES)
		ok = MHD_queue_response(c, r.status, resp);
	MHD_destroy_response(resp);
	return ok;
}

static void on_completed(void *cls, struct MHD_Connection *c, void **con_cls,
                         enum MHD_RequestTerminationCode toe)
{
	(void)cls;
	(void)c;
	(void)toe;
	struct req_ctx *rq = *con_cls;
	if (rq) {
		ps_buf_release(&rq->body);
		ps_free(rq);
	}
	*con_cls = NULL;
}

/* ---- main ---- */

static uint64_t splitmix(uint64_t *x)
{
	uint64_t z = (*x += 0x9e3779b97f4a7c15ULL);
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

static double unit(uint64_t *x)
{
	return (double)(splitmix(x) >> 11) / 9007199254740992.0;
}

static bool parse_long(const char *s, long min, long max, long *out)
{
	char *end;
	errno = 0;
	long v = strtol(s, &end, 10);
	if (errno || !*s || *end || v < min || v > max)
		return false;
	*out = v;
	return true;
}

static bool parse_double(const char *s, double min, double max, double *out)
{
	char *end;
	errno = 0;
	double v = strtod(s, &end);
	if (errno || !*s || *end || !(v >= min && v <= max))
		return false;
	*out = v;
	return true;
}

static void usage(void)
{
	fputs("usage: fake_kube_fast --count N [--namespace bench] [--prefix t] [--width 5]\n"
	      "                      [--token T] [--port P] [--tls-cert F --tls-key F]\n"
	      "                      [--threads K] [--replicas R] [--base B] [--period S]\n",
	      stderr);
}

static char *read_file(const char *path)
{
	struct ps_buf b;
	ps_buf_init(&b, (size_t)1 << 20);
	struct ps_diag d;
	if (ps_buf_read_file(&b, path, &d) != PS_OK) {
		fprintf(stderr, "fake_kube_fast: %s\n", d.msg);
		return NULL;
	}
	return ps_buf_detach(&b);
}

int main(int argc, char **argv)
{
	static struct server s;
	long count = -1, port = 0, threads = 1, replicas = 2, width = 5;
	double base = 400, period = 600;
	const char *ns = "bench", *prefix = "t", *token = "bench-token", *cert = NULL, *key = NULL;
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
		bool ok = v != NULL;
		if (ok && !strcmp(a, "--count"))
			ok = parse_long(v, 0, 10000000, &count);
		else if (ok && !strcmp(a, "--namespace"))
			ns = v;
		else if (ok && !strcmp(a, "--prefix"))
			prefix = v;
		else if (ok && !strcmp(a, "--width"))
			ok = parse_long(v, 1, 12, &width);
		else if (ok && !strcmp(a, "--token"))
			token = v;
		else if (ok && !strcmp(a, "--port"))
			ok = parse_long(v, 0, 65535, &port);
		else if (ok && !strcmp(a, "--tls-cert"))
			cert = v;
		else if (ok && !strcmp(a, "--tls-key"))
			key = v;
		else if (ok && !strcmp(a, "--threads"))
			ok = parse_long(v, 1, 64, &threads);
		else if (ok && !strcmp(a, "--replicas"))
			ok = parse_long(v, 0, 100000, &replicas);
		else if (ok && !strcmp(a, "--base"))
			ok = parse_double(v, 0, 1e12, &base);
		else if (ok && !strcmp(a, "--period"))
			ok = parse_double(v, 1, 1e9, &period);
		else
			ok = false;
		if (!ok) {
			fprintf(stderr, "fake_kube_fast: bad option %s%s%s\n", a, v ? " " : "",
			        v ? v : "");
			usage();
			return 2;
		}
		i++;
	}
	if (count < 0 || strlen(ns) >= sizeof(s.ns) || strlen(prefix) >= sizeof(s.prefix) ||
	    strlen(token) >= sizeof(s.token) || !token[0] || (!cert != !key)) {
		usage();
		return 2;
	}
	snprintf(s.ns, sizeof(s.ns), "%s", ns);
	snprintf(s.prefix, sizeof(s.prefix), "%s", prefix);
	snprintf(s.token, sizeof(s.token), "%s", token);
	s.token_len = strlen(token);
	s.width = (int)width;
	s.n = (size_t)count;
	s.t0_mono = mono_s();
	time_t born = time(NULL) - 3600;
	struct tm tm;
	gmtime_r(&born, &tm);
	strftime(s.created, sizeof(s.created), "%Y-%m-%dT%H:%M:%SZ", &tm);
	pthread_mutex_init(&s.misc_lock, NULL);
	s.d = s.n ? ps_calloc(s.n, sizeof(*s.d)) : NULL;
	s.event_set = ps_calloc((size_t)1 << EVENT_SET_BITS, sizeof(*s.event_set));
	if ((s.n && !s.d) || !s.event_set) {
		fprintf(stderr, "fake_kube_fast: out of memory\n");
		return 1;
	}
	atomic_store(&s.rv, 1000);
	uint64_t rng = 42;
	for (size_t i = 0; i < s.n; i++) {
		struct deploy *d = &s.d[i];
		pthread_mutex_init(&d->lock, NULL);
		d->replicas = (int32_t)replicas;
		d->rv = atomic_fetch_add(&s.rv, 1) + 1;
		d->generation = 1;
		d->amp = base * (0.5 + unit(&rng));
		d->period_s = period * (0.75 + 0.5 * unit(&rng));
		d->phase = 2.0 * 3.14159265358979323846 * unit(&rng);
	}

	sigset_t sigs;
	sigemptyset(&sigs);
	sigaddset(&sigs, SIGINT);
	sigaddset(&sigs, SIGTERM);
	pthread_sigmask(SIG_BLOCK, &sigs, NULL); /* MHD's threads inherit it */
	signal(SIGPIPE, SIG_IGN);

	struct sockaddr_in addr;
	memset(&addr, 0, sizeof(addr));
	addr.sin_family = AF_INET;
	addr.sin_port = htons((uint16_t)port);
	addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	char *cert_pem = NULL, *key_pem = NULL;
	if (cert) {
		cert_pem = read_file(cert);
		key_pem = read_file(key);
		if (!cert_pem || !key_pem)
			return 1;
	}
	unsigned flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_EPOLL | MHD_USE_ERROR_LOG;
	if (cert)
		flags |= MHD_USE_TLS;
	struct MHD_OptionItem opts[8];
	size_t no = 0;
	opts[no++] = (struct MHD_OptionItem){MHD_OPTION_SOCK_ADDR, 0, &addr};
	opts[no++] = (struct MHD_OptionItem){MHD_OPTION_CONNECTION_LIMIT, 60000, NULL};
	/* Idle keep-alive connections live across several tick intervals. */
	opts[no++] = (struct MHD_OptionItem){MHD_OPTION_CONNECTION_TIMEOUT, 300, NULL};
	opts[no++] = (struct MHD_OptionItem){MHD_OPTION_LISTEN_BACKLOG_SIZE, 4096, NULL};
	if (threads > 1)
		opts[no++] = (struct MHD_OptionItem){MHD_OPTION_THREAD_POOL_SIZE, threads, NULL};
	if (cert) {
		opts[no++] = (struct MHD_OptionItem){MHD_OPTION_HTTPS_MEM_CERT, 0, cert_pem};
		opts[no++] = (struct MHD_OptionItem){MHD_OPTION_HTTPS_MEM_KEY, 0, key_pem};
	}
	opts[no] = (struct MHD_OptionItem){MHD_OPTION_END, 0, NULL};
	struct MHD_Daemon *daemon =
	    MHD_start_daemon(flags, 0, NULL, NULL, on_request, &s, MHD_OPTION_NOTIFY_COMPLETED,
	                     on_completed, NULL, MHD_OPTION_ARRAY, opts, MHD_OPTION_END);
	if (!daemon) {
		fprintf(stderr, "fake_kube_fast: cannot start the server on 127.0.0.1:%ld\n", port);
		return 1;
	}
	s.daemon = daemon;
	const union MHD_DaemonInfo *info = MHD_get_daemon_info(daemon, MHD_DAEMON_INFO_BIND_PORT);
	printf("READY port=%u scheme=%s\n", info ? (unsigned)info->port : (unsigned)port,
	       cert ? "https" : "http");
	fflush(stdout);

	int sig = 0;
	sigwait(&sigs, &sig);
	struct reply r = {.status = 200};
	ps_buf_init(&r.b, REPLY_MAX);
	stats_json(&s, &r);
	fprintf(stderr, "fake_kube_fast: stopped by signal %d: %s", sig, ps_buf_cstr(&r.b));
	ps_buf_release(&r.b);
	s.daemon = NULL;
	MHD_stop_daemon(daemon);
	for (size_t i = 0; i < s.n_leases; i++)
		cJSON_Delete(s.leases[i].obj);
	for (size_t i = 0; i < s.n; i++)
		pthread_mutex_destroy(&s.d[i].lock);
	ps_free(s.d);
	ps_free(s.event_set);
	ps_free(cert_pem);
	ps_free(key_pem);
	return 0;
}
