/* kube_pods.c -- listing pods by label selector and mapping them to the engine's struct eng_pod.
 *
 * Memory: each PodList page is walked twice over the same code, first counting (containers,
 * requests, string bytes), then filling one chunk of exactly that size. A chunk never moves
 * once filled, so the pods (a growing array of values) may point into it; the chunks of all
 * pages hang off the list and are freed with it.
 */
#include <stdio.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "kube.h"
#include "ps_alloc.h"
#include "ps_parse.h"
#include "ps_text.h"

struct kube_pod_chunk {
	struct kube_pod_chunk *next;
	struct eng_container *containers;
	struct eng_request *requests;
	char *strings;
};

/* The walk of one page: counting when <chunk> is NULL, else filling it. The counters are the
 * sizes in the first walk and the fill cursors in the second. */
struct walk {
	struct kube_pod_chunk *chunk;
	size_t n_cont, n_req, n_str;
	struct ps_diag *diag;
};

void kube_pod_list_release(struct kube_pod_list *l)
{
	if (!l)
		return;
	struct kube_pod_chunk *ch = l->chunks_;
	while (ch) {
		struct kube_pod_chunk *next = ch->next;
		ps_free(ch->containers);
		ps_free(ch->requests);
		ps_free(ch->strings);
		ps_free(ch);
		ch = next;
	}
	ps_free(l->pods);
	memset(l, 0, sizeof(*l));
}

/* Copies <s> into the chunk's strings (filling) or counts its bytes. Returns the copy, or ""
 * while counting (a placeholder nobody keeps). */
static const char *put_str(struct walk *w, const char *s)
{
	size_t n = strlen(s) + 1;
	if (!w->chunk) {
		w->n_str += n;
		return "";
	}
	char *d = w->chunk->strings + w->n_str;
	memcpy(d, s, n);
	w->n_str += n;
	return d;
}

/* Walks a ResourceList (resources.requests) at <path>: each entry a quantity. */
static enum ps_err walk_requests(struct walk *w, const cJSON *resources, const char *path,
                                 size_t *n_out, const struct eng_request **first)
{
	*n_out = 0;
	*first = NULL;
	const cJSON *reqs = kube_json_get(resources, "requests");
	if (!reqs)
		return PS_OK;
	if (!cJSON_IsObject(reqs))
		return ps_diag_set(w->diag, PS_EPARSE, "%s.requests: expected an object", path);
	if (w->chunk)
		*first = w->chunk->requests + w->n_req;
	const cJSON *q;
	cJSON_ArrayForEach(q, reqs)
	{
		if (!cJSON_IsString(q) || !q->valuestring)
			return ps_diag_set(w->diag, PS_EPARSE,
			                   "%s.requests.%s: expected a quantity "
			                   "string",
			                   path, q->string ? q->string : "?");
		int64_t milli;
		struct ps_diag d;
		ps_diag_clear(&d);
		enum ps_err err = ps_parse_quantity_milli(q->valuestring, &milli, &d);
		if (err)
			return ps_diag_set(w->diag, err, "%s.requests.%s: %s", path,
			                   q->string ? q->string : "?", ps_diag_msg(&d));
		if (w->chunk) {
			struct eng_request *r = &w->chunk->requests[w->n_req];
			r->resource = put_str(w, q->string ? q->string : "");
			r->milli = milli;
		} else {
			put_str(w, q->string ? q->string : "");
		}
		w->n_req++;
		(*n_out)++;
	}
	return PS_OK;
}

/* Walks one container at <path>. */
static enum ps_err walk_container(struct walk *w, const cJSON *ct, const char *path)
{
	if (!cJSON_IsObject(ct))
		return ps_diag_set(w->diag, PS_EPARSE, "%s: expected an object", path);
	const char *name;
	enum ps_err err = kube_json_str(ct, path, "name", &name, w->diag);
	if (err)
		return err;
	const cJSON *res = kube_json_get(ct, "resources");
	if (res && !cJSON_IsObject(res))
		return ps_diag_set(w->diag, PS_EPARSE, "%s.resources: expected an object", path);
	struct eng_container *c = w->chunk ? &w->chunk->containers[w->n_cont] : NULL;
	w->n_cont++;
	const char *copy = put_str(w, name ? name : "");
	char rpath[160];
	snprintf(rpath, sizeof(rpath), "%s.resources", path);
	size_t n;
	const struct eng_request *first;
	err = walk_requests(w, res, rpath, &n, &first);
	if (err)
		return err;
	if (c) {
		c->name = copy;
		c->n_requests = n;
		c->requests = first;
	}
	return PS_OK;
}

/* Walks the containers of spec.<key> at <path>; with <sidecars_only>, only restartable init
 * containers (restartPolicy Always). */
static enum ps_err walk_containers(struct walk *w, const cJSON *spec, const char *path,
                                   const char *key, bool sidecars_only)
{
	const cJSON *arr = kube_json_get(spec, key);
	if (!arr)
		return PS_OK;
	if (!cJSON_IsArray(arr))
		return ps_diag_set(w->diag, PS_EPARSE, "%s.%s: expected an array", path, key);
	size_t i = 0;
	const cJSON *ct;
	cJSON_ArrayForEach(ct, arr)
	{
		char cpath[128];
		snprintf(cpath, sizeof(cpath), "%s.%s[%zu]", path, key, i++);
		if (sidecars_only) {
			const char *policy;
			enum ps_err err =
			    kube_json_str(ct, cpath, "restartPolicy", &policy, w->diag);
			if (err)
				return err;
			if (!policy || strcmp(policy, "Always") != 0)
				continue;
		}
		enum ps_err err = walk_container(w, ct, cpath);
		if (err)
			return err;
	}
	return PS_OK;
}

static enum eng_phase phase_of(const char *s)
{
	if (!s)
		return ENG_PHASE_UNKNOWN;
	if (!strcmp(s, "Pending"))
		return ENG_PHASE_PENDING;
	if (!strcmp(s, "Running"))
		return ENG_PHASE_RUNNING;
	if (!strcmp(s, "Succeeded"))
		return ENG_PHASE_SUCCEEDED;
	if (!strcmp(s, "Failed"))
		return ENG_PHASE_FAILED;
	return ENG_PHASE_UNKNOWN; /* "Unknown", or a phase newer than prescale */
}

/* Walks the Ready condition of status.conditions into <p> (may be NULL while counting). */
static enum ps_err walk_ready(struct walk *w, const cJSON *status, const char *path,
                              struct eng_pod *p)
{
	const cJSON *conds = kube_json_get(status, "conditions");
	if (!conds)
		return PS_OK;
	if (!cJSON_IsArray(conds))
		return ps_diag_set(w->diag, PS_EPARSE, "%s.conditions: expected an array", path);
	size_t i = 0;
	const cJSON *cd;
	cJSON_ArrayForEach(cd, conds)
	{
		char cpath[128];
		snprintf(cpath, sizeof(cpath), "%s.conditions[%zu]", path, i++);
		if (!cJSON_IsObject(cd))
			return ps_diag_set(w->diag, PS_EPARSE, "%s: expected an object", cpath);
		const char *type, *st;
		enum ps_err err = kube_json_str(cd, cpath, "type", &type, w->diag);
		if (!err)
			err = kube_json_str(cd, cpath, "status", &st, w->diag);
		if (err)
			return err;
		if (!type || strcmp(type, "Ready") != 0)
			continue;
		int64_t t = KUBE_GO_ZERO_TIME_MS;
		bool present;
		err = kube_json_time(cd, cpath, "lastTransitionTime", &t, &present, w->diag);
		if (err)
			return err;
		if (p) {
			p->has_ready_condition = true;
			p->ready = st && !strcmp(st, "True");
			p->ready_transition_ms = present ? t : KUBE_GO_ZERO_TIME_MS;
		}
	}
	return PS_OK;
}

/* Walks item <i>, filling <p> (NULL while counting). */
static enum ps_err walk_pod(struct walk *w, const cJSON *item, size_t i, struct eng_pod *p)
{
	char path[64];
	snprintf(path, sizeof(path), "items[%zu]", i);
	if (!cJSON_IsObject(item))
		return ps_diag_set(w->diag, PS_EPARSE, "%s: expected an object", path);
	char mpath[80], spath[80], stpath[80];
	snprintf(mpath, sizeof(mpath), "%s.metadata", path);
	snprintf(spath, sizeof(spath), "%s.spec", path);
	snprintf(stpath, sizeof(stpath), "%s.status", path);
	const cJSON *meta = kube_json_get(item, "metadata");
	const cJSON *spec = kube_json_get(item, "spec");
	const cJSON *status = kube_json_get(item, "status");
	const char *name, *phase;
	int64_t deleted_ms = 0, start_ms = 0;
	bool deleted = false, started = false;
	enum ps_err err = kube_json_str(meta, mpath, "name", &name, w->diag);
	if (!err)
		err = kube_json_time(meta, mpath, "deletionTimestamp", &deleted_ms, &deleted,
		                     w->diag);
	if (!err)
		err = kube_json_str(status, stpath, "phase", &phase, w->diag);
	if (!err)
		err = kube_json_time(status, stpath, "startTime", &start_ms, &started, w->diag);
	if (err)
		return err;
	if (p) {
		memset(p, 0, sizeof(*p));
		p->name = put_str(w, name ? name : "");
		p->phase = phase_of(phase);
		p->deleted = deleted;
		p->has_start_time = started;
		p->start_time_ms = started ? start_ms : 0;
		p->containers = w->chunk->containers + w->n_cont;
	} else {
		put_str(w, name ? name : "");
	}
	err = walk_ready(w, status, stpath, p);
	size_t first_cont = w->n_cont;
	if (!err)
		err = walk_containers(w, spec, spath, "containers", false);
	if (!err)
		err = walk_containers(w, spec, spath, "initContainers", true);
	if (err)
		return err;
	const cJSON *res = kube_json_get(spec, "resources");
	if (res && !cJSON_IsObject(res))
		return ps_diag_set(w->diag, PS_EPARSE, "%s.resources: expected an object", spath);
	char rpath[96];
	snprintf(rpath, sizeof(rpath), "%s.resources", spath);
	size_t n_req;
	const struct eng_request *first;
	err = walk_requests(w, res, rpath, &n_req, &first);
	if (err)
		return err;
	if (p) {
		p->n_containers = w->n_cont - first_cont;
		if (!p->n_containers)
			p->containers = NULL;
		p->n_pod_requests = n_req;
		p->pod_requests = first;
	}
	return PS_OK;
}

static enum ps_err walk_items(struct walk *w, const cJSON *items, struct eng_pod *pods)
{
	size_t i = 0;
	const cJSON *item;
	cJSON_ArrayForEach(item, items)
	{
		enum ps_err err = walk_pod(w, item, i, pods ? &pods[i] : NULL);
		if (err)
			return err;
		i++;
	}
	return PS_OK;
}

static struct kube_pod_chunk *chunk_new(const struct walk *count)
{
	struct kube_pod_chunk *ch = ps_calloc(1, sizeof(*ch));
	if (!ch)
		return NULL;
	/* calloc of 0 items may return NULL legitimately: ask for at least one. */
	ch->containers = ps_calloc(count->n_cont ? count->n_cont : 1, sizeof(*ch->containers));
	ch->requests = ps_calloc(count->n_req ? count->n_req : 1, sizeof(*ch->requests));
	ch->strings = ps_malloc(count->n_str ? count->n_str : 1);
	if (!ch->containers || !ch->requests || !ch->strings) {
		ps_free(ch->containers);
		ps_free(ch->requests);
		ps_free(ch->strings);
		ps_free(ch);
		return NULL;
	}
	return ch;
}

enum ps_err kube_pod_list_parse(const char *json, size_t len, struct kube_pod_list *l,
                                char *continue_out, size_t continue_size, struct ps_diag *diag)
{
	if (continue_out && continue_size)
		continue_out[0] = '\0';
	cJSON *root;
	enum ps_err err = kube_json_parse(json, len, "PodList", &root, diag);
	if (err)
		return err;
	struct walk w = {.diag = diag};
	const cJSON *items = kube_json_get(root, "items");
	const cJSON *meta = kube_json_get(root, "metadata");
	const char *kind = NULL, *cont = NULL;
	char rv[KUBE_RV_MAX];
	if (!cJSON_IsObject(root)) {
		err = ps_diag_set(diag, PS_EPARSE, "expected a JSON object");
		goto out;
	}
	err = kube_json_str(root, "", "kind", &kind, diag);
	if (!err && kind && strcmp(kind, "PodList") != 0) {
		char q[PS_QUOTE_BUF(40)];
		err = ps_diag_set(diag, PS_EPARSE, "kind: expected \"PodList\", got %s",
		                  ps_text_quote(q, sizeof(q), kind, strlen(kind), 40));
	}
	if (!err && items && !cJSON_IsArray(items))
		err = ps_diag_set(diag, PS_EPARSE, "items: expected an array");
	if (!err)
		err = kube_json_copy(meta, "metadata", "resourceVersion", rv, sizeof(rv), diag);
	if (!err)
		err = kube_json_str(meta, "metadata", "continue", &cont, diag);
	if (!err && cont && continue_out && strlen(cont) >= continue_size)
		err = ps_diag_set(diag, PS_ERANGE, "metadata.continue: longer than %zu bytes",
		                  continue_size - 1);
	if (!err)
		err = walk_items(&w, items, NULL);
	if (err)
		goto out;

	size_t n = (size_t)cJSON_GetArraySize(items);
	if (l->n_pods + n > l->cap_pods_) {
		size_t cap = l->cap_pods_ ? l->cap_pods_ : 16;
		while (cap < l->n_pods + n)
			cap *= 2;
		struct eng_pod *pods = ps_reallocarray(l->pods, cap, sizeof(*pods));
		if (!pods) {
			err = ps_diag_set(diag, PS_ENOMEM, "PodList: out of memory");
			goto out;
		}
		l->pods = pods;
		l->cap_pods_ = cap;
	}
	struct kube_pod_chunk *ch = chunk_new(&w);
	if (!ch) {
		err = ps_diag_set(diag, PS_ENOMEM, "PodList: out of memory");
		goto out;
	}
	ch->next = l->chunks_;
	l->chunks_ = ch;
	struct walk fill = {.chunk = ch, .diag = diag};
	/* Cannot fail: the counting walk already checked every field the filling one reads. */
	/* No pods yet and none in this page: <pods> is still NULL (NULL + 0 is undefined). */
	err = walk_items(&fill, items, l->pods ? l->pods + l->n_pods : NULL);
	PS_ASSERT(err == PS_OK && fill.n_cont == w.n_cont && fill.n_req == w.n_req &&
	          fill.n_str == w.n_str);
	l->n_pods += n;
	if (!l->resource_version[0])
		snprintf(l->resource_version, sizeof(l->resource_version), "%s", rv);
	if (cont && continue_out)
		snprintf(continue_out, continue_size, "%s", cont);
out:
	cJSON_Delete(root);
	if (err && err != PS_ENOMEM)
		ps_diag_prefix(diag, "PodList");
	return err;
}

enum ps_err kube_pods_list(struct kube_client *c, const char *namespace, const char *selector,
                           struct kube_pod_list *out, struct ps_diag *diag)
{
	memset(out, 0, sizeof(*out));
	enum ps_err err = kube_validate_namespace(namespace, diag);
	if (err)
		return err;
	int64_t deadline = kube_client_call_deadline(c);
	/* Continue tokens are opaque base64 of a few hundred bytes; 8 KiB is ample. */
	char cont[8192] = "";
	struct ps_buf path;
	ps_buf_init(&path, (size_t)32 << 10);
	char limit[16];
	snprintf(limit, sizeof(limit), "%d", KUBE_POD_PAGE);
	do {
		ps_buf_reset(&path);
		err = kube_path_build(&path, "", "v1", namespace, "pods", NULL, NULL);
		if (!err && selector && *selector)
			err = kube_path_query(&path, "labelSelector", selector);
		if (!err)
			err = kube_path_query(&path, "limit", limit);
		if (!err && cont[0])
			err = kube_path_query(&path, "continue", cont);
		if (err) {
			const char *why =
			    err == PS_ETOOBIG ? "selector too long?" : ps_strerror(err);
			err = ps_diag_set(diag, err, "pods of %s: cannot build the path (%s)",
			                  namespace, why);
			break;
		}
		struct kube_req req = {.method = "GET",
		                       .path = ps_buf_cstr(&path),
		                       .idempotent = true,
		                       .deadline_ms = deadline};
		const char *body;
		size_t len;
		err = kube_do(c, &req, &body, &len, diag);
		if (!err) {
			err = kube_pod_list_parse(body, len, out, cont, sizeof(cont), diag);
			if (err)
				ps_diag_prefix(diag, "GET %s: response", kube_client_last_url(c));
		}
	} while (!err && cont[0]);
	ps_buf_release(&path);
	return err;
}
