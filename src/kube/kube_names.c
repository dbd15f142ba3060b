/* kube_names.c -- Kubernetes names (DNS-1123 rules), object references and API paths. */
#include <ctype.h>
#include <stdio.h>
#include <string.h>

#include "http.h"
#include "kube.h"
#include "ps_text.h"

/* apimachinery's messages (k8s.io/apimachinery/pkg/util/validation), without the regex. */
#define SUBDOMAIN_RULE                                                                             \
	"a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' "  \
	"or '.', and must start and end with an alphanumeric character"
#define LABEL_RULE                                                                                 \
	"a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', "   \
	"and must start and end with an alphanumeric character"

static bool is_lower_alnum(char ch)
{
	return (ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9');
}

/* True when <s>[0..n) is one DNS-1123 label: [a-z0-9]([-a-z0-9]*[a-z0-9])?. */
static bool is_label_n(const char *s, size_t n)
{
	if (n == 0 || !is_lower_alnum(s[0]) || !is_lower_alnum(s[n - 1]))
		return false;
	for (size_t i = 1; i + 1 < n; i++)
		if (!is_lower_alnum(s[i]) && s[i] != '-')
			return false;
	return true;
}

bool kube_is_dns1123_label(const char *s)
{
	if (!s)
		return false;
	size_t n = strlen(s);
	return n <= KUBE_LABEL_MAX && is_label_n(s, n);
}

bool kube_is_dns1123_subdomain(const char *s)
{
	if (!s)
		return false;
	size_t n = strlen(s);
	if (n == 0 || n > KUBE_NAME_MAX)
		return false;
	/* Dot-separated labels; apimachinery's regex bounds the whole, not each label. */
	const char *p = s;
	for (;;) {
		const char *dot = strchr(p, '.');
		size_t len = dot ? (size_t)(dot - p) : strlen(p);
		if (len == 0 || !is_lower_alnum(p[0]) || !is_lower_alnum(p[len - 1]))
			return false;
		for (size_t i = 1; i + 1 < len; i++)
			if (!is_lower_alnum(p[i]) && p[i] != '-')
				return false;
		if (!dot)
			return true;
		p = dot + 1;
	}
}

static enum ps_err invalid(struct ps_diag *diag, const char *what, const char *s, const char *why)
{
	char q[PS_QUOTE_BUF(64)];
	ps_text_quote(q, sizeof(q), s, strlen(s), 64);
	return ps_diag_set(diag, PS_EINVAL, "invalid %s %s: %s", what, q, why);
}

enum ps_err kube_validate_name(const char *what, const char *s, struct ps_diag *diag)
{
	if (!s || !*s)
		return ps_diag_set(diag, PS_EINVAL, "%s must not be empty", what);
	if (strlen(s) > KUBE_NAME_MAX)
		return invalid(diag, what, s, "must be no more than 253 characters");
	if (!kube_is_dns1123_subdomain(s))
		return invalid(diag, what, s, SUBDOMAIN_RULE);
	return PS_OK;
}

/* A DNS-1123 label with the name <what> in the message. */
static enum ps_err validate_label(const char *what, const char *s, struct ps_diag *diag)
{
	if (!s || !*s)
		return ps_diag_set(diag, PS_EINVAL, "%s must not be empty", what);
	if (strlen(s) > KUBE_LABEL_MAX)
		return invalid(diag, what, s, "must be no more than 63 characters");
	if (!kube_is_dns1123_label(s))
		return invalid(diag, what, s, LABEL_RULE);
	return PS_OK;
}

enum ps_err kube_validate_namespace(const char *s, struct ps_diag *diag)
{
	return validate_label("namespace", s, diag);
}

enum ps_err kube_ref_validate(const struct kube_ref *ref, struct ps_diag *diag)
{
	enum ps_err err = PS_OK;
	if (ref->group[0])
		err = kube_validate_name("API group", ref->group, diag);
	if (!err)
		err = validate_label("API version", ref->version, diag);
	if (!err)
		err = validate_label("resource", ref->resource, diag);
	if (!err)
		err = kube_validate_namespace(ref->namespace, diag);
	if (!err)
		err = kube_validate_name("name", ref->name, diag);
	return err;
}

/* Kinds with a scale subresource that prescale knows by name. */
static const struct {
	const char *group, *kind, *resource;
} known_kinds[] = {
    {"apps", "Deployment", "deployments"},  {"apps", "StatefulSet", "statefulsets"},
    {"apps", "ReplicaSet", "replicasets"},  {"", "ReplicationController", "replicationcontrollers"},
    {"argoproj.io", "Rollout", "rollouts"},
};

/* Copies <src> into <dst> of <size> bytes; PS_EINVAL naming <what> when it does not fit. */
static enum ps_err copy_part(char *dst, size_t size, const char *src, const char *what,
                             struct ps_diag *diag)
{
	size_t n = src ? strlen(src) : 0;
	if (n >= size)
		return invalid(diag, what, src, "too long");
	memcpy(dst, src ? src : "", n + 1);
	return PS_OK;
}

enum ps_err kube_ref_from_resource(struct kube_ref *out, const char *group, const char *version,
                                   const char *resource, const char *namespace, const char *name,
                                   struct ps_diag *diag)
{
	memset(out, 0, sizeof(*out));
	enum ps_err err = copy_part(out->group, sizeof(out->group), group, "API group", diag);
	if (!err)
		err = copy_part(out->version, sizeof(out->version), version, "API version", diag);
	if (!err)
		err = copy_part(out->resource, sizeof(out->resource), resource, "resource", diag);
	if (!err)
		err =
		    copy_part(out->namespace, sizeof(out->namespace), namespace, "namespace", diag);
	if (!err)
		err = copy_part(out->name, sizeof(out->name), name, "name", diag);
	if (!err)
		err = kube_ref_validate(out, diag);
	if (err)
		return err;
	for (size_t i = 0; i < PS_ARRAY_LEN(known_kinds); i++)
		if (!strcmp(known_kinds[i].group, out->group) &&
		    !strcmp(known_kinds[i].resource, out->resource))
			snprintf(out->kind, sizeof(out->kind), "%s", known_kinds[i].kind);
	return PS_OK;
}

enum ps_err kube_ref_from_kind(struct kube_ref *out, const char *api_version, const char *kind,
                               const char *namespace, const char *name, struct ps_diag *diag)
{
	memset(out, 0, sizeof(*out));
	if (!api_version || !*api_version)
		return ps_diag_set(diag, PS_EINVAL, "apiVersion must not be empty");
	if (!kind || !*kind)
		return ps_diag_set(diag, PS_EINVAL, "kind must not be empty");
	char group[KUBE_NAME_MAX + 1] = "";
	const char *version = api_version;
	const char *slash = strchr(api_version, '/');
	if (slash) {
		size_t glen = (size_t)(slash - api_version);
		if (glen == 0 || glen > KUBE_NAME_MAX || strchr(slash + 1, '/'))
			return invalid(diag, "apiVersion", api_version,
			               "must be <group>/<version> or <version>");
		memcpy(group, api_version, glen);
		group[glen] = '\0';
		version = slash + 1;
	}
	size_t klen = strlen(kind);
	if (klen + 1 >= KUBE_KIND_MAX)
		return invalid(diag, "kind", kind, "too long");
	for (size_t i = 0; i < klen; i++)
		if (!isalnum((unsigned char)kind[i]))
			return invalid(diag, "kind", kind, "must consist of letters and digits");

	char resource[KUBE_KIND_MAX + 2] = "";
	for (size_t i = 0; i < PS_ARRAY_LEN(known_kinds) && !resource[0]; i++)
		if (!strcmp(known_kinds[i].group, group) && !strcmp(known_kinds[i].kind, kind))
			snprintf(resource, sizeof(resource), "%s", known_kinds[i].resource);
	if (!resource[0]) {
		/* meta.UnsafeGuessKindToResource: lower case, then the English plural guess. */
		for (size_t i = 0; i < klen; i++)
			resource[i] = (char)tolower((unsigned char)kind[i]);
		resource[klen] = '\0';
		if (resource[klen - 1] == 's')
			strcat(resource, "es");
		else if (resource[klen - 1] == 'y')
			strcpy(resource + klen - 1, "ies");
		else
			strcat(resource, "s");
	}
	enum ps_err err =
	    kube_ref_from_resource(out, group, version, resource, namespace, name, diag);
	if (!err)
		snprintf(out->kind, sizeof(out->kind), "%s", kind);
	return err;
}

/* Appends "/" and <seg> escaped. */
static enum ps_err add_segment(struct ps_buf *b, const char *seg)
{
	enum ps_err err = ps_buf_append(b, "/", 1);
	if (!err)
		err = http_append_escaped(b, seg);
	return err;
}

enum ps_err kube_path_build(struct ps_buf *b, const char *group, const char *version,
                            const char *namespace, const char *resource, const char *name,
                            const char *subresource)
{
	enum ps_err err;
	if (group && *group) {
		err = ps_buf_append_str(b, "/apis");
		if (!err)
			err = add_segment(b, group);
	} else {
		err = ps_buf_append_str(b, "/api");
	}
	if (!err)
		err = add_segment(b, version);
	if (!err && namespace) {
		err = ps_buf_append_str(b, "/namespaces");
		if (!err)
			err = add_segment(b, namespace);
	}
	if (!err)
		err = add_segment(b, resource);
	if (!err && name)
		err = add_segment(b, name);
	if (!err && subresource)
		err = add_segment(b, subresource);
	return err;
}

enum ps_err kube_path_query(struct ps_buf *b, const char *key, const char *value)
{
	bool first = !b->data || !memchr(b->data, '?', b->len);
	enum ps_err err = ps_buf_append(b, first ? "?" : "&", 1);
	if (!err)
		err = http_append_escaped(b, key);
	if (!err)
		err = ps_buf_append(b, "=", 1);
	if (!err)
		err = http_append_escaped(b, value);
	return err;
}
