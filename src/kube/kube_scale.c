/* kube_scale.c -- the scale subresource: read a Scale, merge-patch its replicas. */
#include <stdio.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "kube.h"
#include "ps_alloc.h"

void kube_scale_release(struct kube_scale *s)
{
	if (!s)
		return;
	ps_free(s->selector);
	memset(s, 0, sizeof(*s));
}

enum ps_err kube_scale_parse(const char *json, size_t len, struct kube_scale *out,
                             struct ps_diag *diag)
{
	memset(out, 0, sizeof(*out));
	cJSON *root;
	enum ps_err err = kube_json_parse(json, len, "Scale", &root, diag);
	if (err)
		return err;
	if (!cJSON_IsObject(root)) {
		cJSON_Delete(root);
		return ps_diag_set(diag, PS_EPARSE, "Scale: expected a JSON object");
	}
	const cJSON *meta = kube_json_get(root, "metadata");
	const cJSON *spec = kube_json_get(root, "spec");
	const cJSON *status = kube_json_get(root, "status");
	int64_t v = 0;
	const char *sel = NULL;
	err = kube_json_copy(meta, "metadata", "namespace", out->namespace, sizeof(out->namespace),
	                     diag);
	if (!err)
		err = kube_json_copy(meta, "metadata", "name", out->name, sizeof(out->name), diag);
	if (!err)
		err = kube_json_copy(meta, "metadata", "uid", out->uid, sizeof(out->uid), diag);
	if (!err)
		err = kube_json_copy(meta, "metadata", "resourceVersion", out->resource_version,
		                     sizeof(out->resource_version), diag);
	if (!err)
		err = kube_json_int(spec, "spec", "replicas", INT32_MIN, INT32_MAX, 0, &v, diag);
	if (!err) {
		out->replicas = (int32_t)v;
		err =
		    kube_json_int(status, "status", "replicas", INT32_MIN, INT32_MAX, 0, &v, diag);
	}
	if (!err) {
		out->status_replicas = (int32_t)v;
		err = kube_json_str(status, "status", "selector", &sel, diag);
	}
	if (!err && !(out->selector = ps_strdup(sel ? sel : "")))
		err = ps_diag_set(diag, PS_ENOMEM, "Scale: out of memory");
	cJSON_Delete(root);
	if (err) {
		kube_scale_release(out);
		if (err != PS_ENOMEM)
			ps_diag_prefix(diag, "Scale");
	}
	return err;
}

/* Builds the path of <ref>'s scale subresource into <b>. */
static enum ps_err scale_path(struct ps_buf *b, const struct kube_ref *ref, bool dry_run)
{
	enum ps_err err = kube_path_build(b, ref->group, ref->version, ref->namespace,
	                                  ref->resource, ref->name, "scale");
	if (!err && dry_run)
		err = kube_path_query(b, "dryRun", "All");
	return err;
}

/* Decodes a 2xx response body into <out> (may be NULL), naming the request on failure. */
static enum ps_err decode(const char *method, const struct kube_client *c, const char *body,
                          size_t len, struct kube_scale *out, struct ps_diag *diag)
{
	struct kube_scale tmp;
	enum ps_err err = kube_scale_parse(body, len, out ? out : &tmp, diag);
	if (!err && !out)
		kube_scale_release(&tmp);
	if (err)
		ps_diag_prefix(diag, "%s %s: response", method, kube_client_last_url(c));
	return err;
}

enum ps_err kube_scale_get(struct kube_client *c, const struct kube_ref *ref,
                           struct kube_scale *out, struct ps_diag *diag)
{
	memset(out, 0, sizeof(*out));
	enum ps_err err = kube_ref_validate(ref, diag);
	if (err)
		return err;
	struct ps_buf path;
	ps_buf_init(&path, 4096);
	err = scale_path(&path, ref, false);
	if (err) {
		ps_buf_release(&path);
		return ps_diag_set(diag, err, "scale of %s/%s: cannot build the path: %s",
		                   ref->namespace, ref->name, ps_strerror(err));
	}
	struct kube_req req = {.method = "GET", .path = ps_buf_cstr(&path), .idempotent = true};
	const char *body;
	size_t len;
	err = kube_do(c, &req, &body, &len, diag);
	if (!err)
		err = decode("GET", c, body, len, out, diag);
	ps_buf_release(&path);
	return err;
}

enum ps_err kube_scale_patch_body(struct ps_buf *b, int32_t replicas)
{
	return ps_buf_appendf(b, "{\"spec\":{\"replicas\":%d}}", (int)replicas);
}

enum ps_err kube_scale_patch(struct kube_client *c, const struct kube_ref *ref, int32_t replicas,
                             bool dry_run, struct kube_scale *out, struct ps_diag *diag)
{
	if (out)
		memset(out, 0, sizeof(*out));
	enum ps_err err = kube_ref_validate(ref, diag);
	if (err)
		return err;
	if (replicas < 0)
		return ps_diag_set(diag, PS_EINVAL, "scale of %s/%s: replicas %d is negative",
		                   ref->namespace, ref->name, (int)replicas);
	struct ps_buf path, body;
	ps_buf_init(&path, 4096);
	ps_buf_init(&body, 64);
	err = scale_path(&path, ref, dry_run);
	if (!err)
		err = kube_scale_patch_body(&body, replicas);
	if (err) {
		ps_buf_release(&path);
		ps_buf_release(&body);
		return ps_diag_set(diag, err, "scale of %s/%s: cannot build the request: %s",
		                   ref->namespace, ref->name, ps_strerror(err));
	}
	/* A merge patch of a fixed value: applying it twice is applying it once. */
	struct kube_req req = {
	    .method = "PATCH",
	    .path = ps_buf_cstr(&path),
	    .content_type = "application/merge-patch+json",
	    .body = body.data,
	    .body_len = body.len,
	    .idempotent = true,
	};
	const char *resp;
	size_t len;
	err = kube_do(c, &req, &resp, &len, diag);
	if (!err)
		err = decode("PATCH", c, resp, len, out, diag);
	ps_buf_release(&path);
	ps_buf_release(&body);
	return err;
}
