/* kube_lease.c -- coordination.k8s.io/v1 Leases for leader election: get, create, update. */
#include <stdio.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "kube.h"
#include "ps_alloc.h"

#define LEASE_GROUP "coordination.k8s.io"
#define LEASE_API_VERSION "coordination.k8s.io/v1"

char *kube_format_microtime(int64_t wall_ms, char *buf, size_t size)
{
	char ms[PS_RFC3339_MS_LEN + 1];
	ps_clock_format_rfc3339(wall_ms, ms, sizeof(ms));
	/* "2026-01-01T00:00:08.123Z" -> "2026-01-01T00:00:08.123000Z" */
	snprintf(buf, size, "%.*s000Z", PS_RFC3339_MS_LEN - 1, ms);
	return buf;
}

enum ps_err kube_lease_parse(const char *json, size_t len, struct kube_lease *out,
                             struct ps_diag *diag)
{
	memset(out, 0, sizeof(*out));
	cJSON *root;
	enum ps_err err = kube_json_parse(json, len, "Lease", &root, diag);
	if (err)
		return err;
	const cJSON *meta = kube_json_get(root, "metadata");
	const cJSON *spec = kube_json_get(root, "spec");
	int64_t v = 0;
	if (!cJSON_IsObject(root))
		err = ps_diag_set(diag, PS_EPARSE, "expected a JSON object");
	if (!err)
		err = kube_json_copy(meta, "metadata", "namespace", out->namespace,
		                     sizeof(out->namespace), diag);
	if (!err)
		err = kube_json_copy(meta, "metadata", "name", out->name, sizeof(out->name), diag);
	if (!err)
		err = kube_json_copy(meta, "metadata", "uid", out->uid, sizeof(out->uid), diag);
	if (!err)
		err = kube_json_copy(meta, "metadata", "resourceVersion", out->resource_version,
		                     sizeof(out->resource_version), diag);
	if (!err)
		err = kube_json_copy(spec, "spec", "holderIdentity", out->holder,
		                     sizeof(out->holder), diag);
	if (!err)
		err =
		    kube_json_int(spec, "spec", "leaseDurationSeconds", 0, INT32_MAX, 0, &v, diag);
	if (!err) {
		out->duration_s = (int32_t)v;
		err = kube_json_time(spec, "spec", "acquireTime", &out->acquire_ms,
		                     &out->has_acquire_time, diag);
	}
	if (!err)
		err = kube_json_time(spec, "spec", "renewTime", &out->renew_ms,
		                     &out->has_renew_time, diag);
	if (!err)
		err = kube_json_int(spec, "spec", "leaseTransitions", 0, INT32_MAX, 0, &v, diag);
	if (!err)
		out->transitions = (int32_t)v;
	cJSON_Delete(root);
	if (err) {
		if (err != PS_ENOMEM)
			ps_diag_prefix(diag, "Lease");
		memset(out, 0, sizeof(*out));
	}
	return err;
}

/* Adds string <val> under <key>; false when out of memory. */
static bool add_str(cJSON *obj, const char *key, const char *val)
{
	return cJSON_AddStringToObject(obj, key, val) != NULL;
}

static bool add_time(cJSON *obj, const char *key, int64_t wall_ms)
{
	char t[32];
	return add_str(obj, key, kube_format_microtime(wall_ms, t, sizeof(t)));
}

enum ps_err kube_lease_body(struct ps_buf *b, const struct kube_lease *l, bool update)
{
	kube_json_hooks();
	cJSON *root = cJSON_CreateObject();
	bool ok = root && add_str(root, "apiVersion", LEASE_API_VERSION) &&
	          add_str(root, "kind", "Lease");
	cJSON *meta = ok ? cJSON_AddObjectToObject(root, "metadata") : NULL;
	ok = meta && add_str(meta, "name", l->name) && add_str(meta, "namespace", l->namespace) &&
	     (!update || add_str(meta, "resourceVersion", l->resource_version));
	cJSON *spec = ok ? cJSON_AddObjectToObject(root, "spec") : NULL;
	ok = spec && add_str(spec, "holderIdentity", l->holder) &&
	     (l->duration_s <= 0 ||
	      cJSON_AddNumberToObject(spec, "leaseDurationSeconds", l->duration_s)) &&
	     (!l->has_acquire_time || add_time(spec, "acquireTime", l->acquire_ms)) &&
	     (!l->has_renew_time || add_time(spec, "renewTime", l->renew_ms)) &&
	     cJSON_AddNumberToObject(spec, "leaseTransitions", l->transitions);
	enum ps_err err = ok ? kube_json_append(b, root) : PS_ENOMEM;
	cJSON_Delete(root);
	return err;
}

static enum ps_err lease_names(const char *namespace, const char *name, struct ps_diag *diag)
{
	enum ps_err err = kube_validate_namespace(namespace, diag);
	if (!err)
		err = kube_validate_name("Lease name", name, diag);
	return err;
}

/* Sends <method> to the Lease path (<with_name>: the object, else the collection) with <l>'s
 * body (NULL: none) and decodes the answer into <out> (may be NULL). */
static enum ps_err lease_call(struct kube_client *c, const char *method, const char *namespace,
                              const char *name, bool with_name, const struct kube_lease *l,
                              bool update, struct kube_lease *out, struct ps_diag *diag)
{
	struct ps_buf path, body;
	ps_buf_init(&path, 2048);
	ps_buf_init(&body, 8192);
	enum ps_err err = kube_path_build(&path, LEASE_GROUP, "v1", namespace, "leases",
	                                  with_name ? name : NULL, NULL);
	if (!err && l)
		err = kube_lease_body(&body, l, update);
	if (err) {
		err = ps_diag_set(diag, err, "Lease %s/%s: cannot build the request: %s", namespace,
		                  name, ps_strerror(err));
		goto out;
	}
	/* A GET may be repeated; a create or update is not repeated after a transport failure:
	 * it may have been applied, and only a fresh read can tell. */
	struct kube_req req = {
	    .method = method,
	    .path = ps_buf_cstr(&path),
	    .content_type = l ? "application/json" : NULL,
	    .body = l ? body.data : NULL,
	    .body_len = l ? body.len : 0,
	    .idempotent = !l,
	};
	const char *resp;
	size_t len;
	err = kube_do(c, &req, &resp, &len, diag);
	if (!err && out) {
		err = kube_lease_parse(resp, len, out, diag);
		if (err)
			ps_diag_prefix(diag, "%s %s: response", method, kube_client_last_url(c));
	}
out:
	ps_buf_release(&path);
	ps_buf_release(&body);
	return err;
}

enum ps_err kube_lease_get(struct kube_client *c, const char *namespace, const char *name,
                           struct kube_lease *out, struct ps_diag *diag)
{
	memset(out, 0, sizeof(*out));
	enum ps_err err = lease_names(namespace, name, diag);
	if (err)
		return err;
	return lease_call(c, "GET", namespace, name, true, NULL, false, out, diag);
}

enum ps_err kube_lease_create(struct kube_client *c, const struct kube_lease *l,
                              struct kube_lease *out, struct ps_diag *diag)
{
	enum ps_err err = lease_names(l->namespace, l->name, diag);
	if (err)
		return err;
	return lease_call(c, "POST", l->namespace, l->name, false, l, false, out, diag);
}

enum ps_err kube_lease_update(struct kube_client *c, const struct kube_lease *l,
                              struct kube_lease *out, struct ps_diag *diag)
{
	enum ps_err err = lease_names(l->namespace, l->name, diag);
	if (err)
		return err;
	if (!l->resource_version[0])
		return ps_diag_set(diag, PS_EINVAL,
		                   "Lease %s/%s: an update needs the resourceVersion last read",
		                   l->namespace, l->name);
	return lease_call(c, "PUT", l->namespace, l->name, true, l, true, out, diag);
}
