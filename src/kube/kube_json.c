/* kube_json.c -- cJSON with the project's allocator, and typed field readers that name the
 * field they reject. Shared by the parsers and body builders of src/kube. */
#include <cjson/cJSON.h>
#include <math.h>
#include <pthread.h>
#include <string.h>

#include "kube.h"
#include "ps_alloc.h"
#include "ps_text.h"

static pthread_once_t hooks_once = PTHREAD_ONCE_INIT;

static void hooks_install(void)
{
	static cJSON_Hooks hooks = {ps_malloc_noted, ps_free};
	cJSON_InitHooks(&hooks);
}

void kube_json_hooks(void)
{
	(void)pthread_once(&hooks_once, hooks_install);
}

enum ps_err kube_json_parse(const char *text, size_t len, const char *what, struct cJSON **out,
                            struct ps_diag *diag)
{
	kube_json_hooks();
	*out = NULL;
	if (!text || len == 0)
		return ps_diag_set(diag, PS_EPARSE, "%s: empty body (expected JSON)", what);
	ps_alloc_note_reset();
	const char *end = NULL;
	cJSON *root = cJSON_ParseWithLengthOpts(text, len, &end, false);
	if (!root) {
		if (ps_alloc_note_failed())
			return ps_diag_set(diag, PS_ENOMEM, "%s: out of memory", what);
		size_t off = end && end >= text && end <= text + len ? (size_t)(end - text) : 0;
		char q[PS_QUOTE_BUF(40)];
		ps_text_quote(q, sizeof(q), text + off, len - off, 40);
		return ps_diag_set(diag, PS_EPARSE, "%s: invalid JSON at byte %zu near %s", what,
		                   off, q);
	}
	*out = root;
	return PS_OK;
}

const struct cJSON *kube_json_get(const struct cJSON *obj, const char *key)
{
	if (!obj || !cJSON_IsObject(obj))
		return NULL;
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, key);
	return v && !cJSON_IsNull(v) ? v : NULL;
}

static enum ps_err wrong_type(struct ps_diag *diag, const char *path, const char *key,
                              const char *expected)
{
	return ps_diag_set(diag, PS_EPARSE, "%s%s%s: expected %s", path ? path : "",
	                   path && *path ? "." : "", key, expected);
}

enum ps_err kube_json_str(const struct cJSON *obj, const char *path, const char *key,
                          const char **out, struct ps_diag *diag)
{
	*out = NULL;
	const cJSON *v = kube_json_get(obj, key);
	if (!v)
		return PS_OK;
	if (!cJSON_IsString(v) || !v->valuestring)
		return wrong_type(diag, path, key, "a string");
	*out = v->valuestring;
	return PS_OK;
}

enum ps_err kube_json_copy(const struct cJSON *obj, const char *path, const char *key, char *dst,
                           size_t size, struct ps_diag *diag)
{
	const char *s;
	dst[0] = '\0';
	enum ps_err err = kube_json_str(obj, path, key, &s, diag);
	if (err || !s)
		return err;
	size_t n = strlen(s);
	if (n >= size)
		return ps_diag_set(diag, PS_ERANGE, "%s%s%s: longer than %zu bytes",
		                   path ? path : "", path && *path ? "." : "", key, size - 1);
	memcpy(dst, s, n + 1);
	return PS_OK;
}

enum ps_err kube_json_int(const struct cJSON *obj, const char *path, const char *key, int64_t min,
                          int64_t max, int64_t dflt, int64_t *out, struct ps_diag *diag)
{
	*out = dflt;
	const cJSON *v = kube_json_get(obj, key);
	if (!v)
		return PS_OK;
	if (!cJSON_IsNumber(v))
		return wrong_type(diag, path, key, "a number");
	double d = v->valuedouble;
	/* Every bound used here is far inside the doubles' exact integer range. */
	if (!isfinite(d) || d < (double)min || d > (double)max || (double)(int64_t)d != d)
		return ps_diag_set(diag, PS_EPARSE, "%s%s%s: expected an integer in [%lld, %lld]",
		                   path ? path : "", path && *path ? "." : "", key, (long long)min,
		                   (long long)max);
	*out = (int64_t)d;
	return PS_OK;
}

enum ps_err kube_json_time(const struct cJSON *obj, const char *path, const char *key, int64_t *out,
                           bool *present, struct ps_diag *diag)
{
	*present = false;
	const char *s;
	enum ps_err err = kube_json_str(obj, path, key, &s, diag);
	if (err || !s)
		return err;
	struct ps_diag d;
	ps_diag_clear(&d);
	if (ps_clock_parse_rfc3339(s, out, &d) != PS_OK)
		return ps_diag_set(diag, PS_EPARSE, "%s%s%s: %s", path ? path : "",
		                   path && *path ? "." : "", key, ps_diag_msg(&d));
	*present = true;
	return PS_OK;
}

enum ps_err kube_json_append(struct ps_buf *b, const struct cJSON *root)
{
	kube_json_hooks();
	char *s = cJSON_PrintUnformatted(root);
	if (!s)
		return PS_ENOMEM;
	enum ps_err err = ps_buf_append_str(b, s);
	ps_free(s);
	return err;
}
