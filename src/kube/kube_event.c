/* kube_event.c -- events.k8s.io/v1 Events about scale targets: names, bodies, create. */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include <cjson/cJSON.h>

#include "kube.h"
#include "ps_alloc.h"
#include "ps_text.h"

#define EVENT_GROUP "events.k8s.io"
#define EVENT_API_VERSION "events.k8s.io/v1"
#define EVENT_SUFFIX_LEN 17 /* "." and 16 hex digits */

char *kube_event_name(char *buf, size_t size, const char *object, uint64_t unique)
{
	size_t n = strlen(object);
	if (n > KUBE_NAME_MAX - EVENT_SUFFIX_LEN)
		n = KUBE_NAME_MAX - EVENT_SUFFIX_LEN;
	/* A cut may leave a '-' or '.' at the end of a label: not allowed before the '.'. */
	while (n > 0 && (object[n - 1] == '-' || object[n - 1] == '.'))
		n--;
	snprintf(buf, size, "%.*s.%016" PRIx64, (int)n, object, unique);
	return buf;
}

/* Checks that <s> holds 1..<max> bytes; PS_EINVAL naming <what> otherwise. */
static enum ps_err check_len(const char *what, const char *s, size_t max, struct ps_diag *diag)
{
	if (!s || !*s)
		return ps_diag_set(diag, PS_EINVAL, "Event: %s must not be empty", what);
	size_t n = strlen(s);
	if (n > max)
		return ps_diag_set(diag, PS_EINVAL, "Event: %s is %zu bytes, more than %zu", what,
		                   n, max);
	return PS_OK;
}

/* The length of at most <max> bytes of <s> that ends on a UTF-8 character boundary. */
static size_t utf8_cut(const char *s, size_t max)
{
	size_t n = strlen(s);
	if (n <= max)
		return n;
	n = max;
	while (n > 0 && ((unsigned char)s[n] & 0xC0) == 0x80)
		n--;
	return n;
}

static bool add_str(cJSON *obj, const char *key, const char *val)
{
	return cJSON_AddStringToObject(obj, key, val) != NULL;
}

enum ps_err kube_event_body(struct ps_buf *b, const struct kube_event *ev, const char *name,
                            struct ps_diag *diag)
{
	const struct kube_ref *r = ev->regarding;
	if (!r)
		return ps_diag_set(diag, PS_EINVAL, "Event: no regarding object");
	enum ps_err err = kube_ref_validate(r, diag);
	if (!err)
		err = kube_validate_name("Event name", name, diag);
	if (!err && (!ev->type || (strcmp(ev->type, "Normal") && strcmp(ev->type, "Warning")))) {
		char q[PS_QUOTE_BUF(32)];
		const char *t = ev->type ? ev->type : "";
		err = ps_diag_set(diag, PS_EINVAL, "Event: type %s is neither Normal nor Warning",
		                  ps_text_quote(q, sizeof(q), t, strlen(t), 32));
	}
	if (!err)
		err = check_len("reason", ev->reason, KUBE_REASON_MAX, diag);
	if (!err)
		err = check_len("action", ev->action, KUBE_REASON_MAX, diag);
	const char *instance = ev->reporting_instance ? ev->reporting_instance : "prescale";
	if (!err)
		err = check_len("reportingInstance", instance, KUBE_REASON_MAX, diag);
	if (err)
		return err;

	const char *note = ev->note ? ev->note : "";
	char *cut = ps_strndup(note, utf8_cut(note, KUBE_NOTE_MAX));
	if (!cut)
		return ps_diag_set(diag, PS_ENOMEM, "Event about %s/%s: %s", r->namespace, r->name,
		                   ps_strerror(PS_ENOMEM));
	char when[32];
	int64_t t_ms = ev->event_time_ms ? ev->event_time_ms : ps_clock_wall_ms(ps_clock_real());
	kube_format_microtime(t_ms, when, sizeof(when));
	char api_version[KUBE_NAME_MAX + KUBE_LABEL_MAX + 2];
	snprintf(api_version, sizeof(api_version), "%s%s%s", r->group, r->group[0] ? "/" : "",
	         r->version);

	kube_json_hooks();
	cJSON *root = cJSON_CreateObject();
	bool ok = root && add_str(root, "apiVersion", EVENT_API_VERSION) &&
	          add_str(root, "kind", "Event");
	cJSON *meta = ok ? cJSON_AddObjectToObject(root, "metadata") : NULL;
	ok = meta && add_str(meta, "name", name) && add_str(meta, "namespace", r->namespace) &&
	     add_str(root, "eventTime", when) &&
	     add_str(root, "reportingController", KUBE_REPORTING_CONTROLLER) &&
	     add_str(root, "reportingInstance", instance) && add_str(root, "action", ev->action) &&
	     add_str(root, "reason", ev->reason);
	cJSON *reg = ok ? cJSON_AddObjectToObject(root, "regarding") : NULL;
	ok = reg && add_str(reg, "apiVersion", api_version) &&
	     (!r->kind[0] || add_str(reg, "kind", r->kind)) && add_str(reg, "name", r->name) &&
	     add_str(reg, "namespace", r->namespace) &&
	     (!ev->regarding_uid || add_str(reg, "uid", ev->regarding_uid)) &&
	     add_str(root, "note", cut) && add_str(root, "type", ev->type);
	err = ok ? kube_json_append(b, root) : PS_ENOMEM;
	cJSON_Delete(root);
	ps_free(cut);
	if (err)
		return ps_diag_set(diag, err, "Event about %s/%s: %s", r->namespace, r->name,
		                   ps_strerror(err));
	return PS_OK;
}

enum ps_err kube_event_create(struct kube_client *c, const struct kube_event *ev, char *name_out,
                              struct ps_diag *diag)
{
	if (name_out)
		name_out[0] = '\0';
	if (!ev->regarding)
		return ps_diag_set(diag, PS_EINVAL, "Event: no regarding object");
	enum ps_err err = kube_ref_validate(ev->regarding, diag);
	if (err)
		return err;
	/* client-go names events <object>.<UnixNano in hex>; the low bits come from the PRNG
	 * so that two threads writing in the same microsecond do not collide. */
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	uint64_t ns = (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
	uint64_t unique = (ns & ~UINT64_C(0xffff)) | (kube_client_next_random(c) & 0xffff);
	char name[KUBE_NAME_MAX + 1];
	kube_event_name(name, sizeof(name), ev->regarding->name, unique);

	struct ps_buf path, body;
	ps_buf_init(&path, 2048);
	ps_buf_init(&body, 16384);
	err = kube_path_build(&path, EVENT_GROUP, "v1", ev->regarding->namespace, "events", NULL,
	                      NULL);
	if (err) {
		err = ps_diag_set(diag, err, "Event about %s/%s: cannot build the path: %s",
		                  ev->regarding->namespace, ev->regarding->name, ps_strerror(err));
		goto out;
	}
	err = kube_event_body(&body, ev, name, diag);
	if (err)
		goto out;
	struct kube_req req = {
	    .method = "POST",
	    .path = ps_buf_cstr(&path),
	    .content_type = "application/json",
	    .body = body.data,
	    .body_len = body.len,
	    .idempotent = false,
	};
	err = kube_do(c, &req, NULL, NULL, diag);
	if (!err && name_out)
		memcpy(name_out, name, strlen(name) + 1);
out:
	ps_buf_release(&path);
	ps_buf_release(&body);
	return err;
}
