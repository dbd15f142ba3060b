/* cfg_keys.c -- the descriptor table: every configuration key, and the cross-field rules.
 *
 * Each array below is one YAML mapping; a row says where the value goes (an offset into the
 * structs of cfg.h, or straight into struct eng_spec), its type, default, bounds, flags and a
 * one-line description. The generic walker (cfg_walk.c) does all parsing; the validate
 * callbacks here only check rules that involve more than one key.
 */
#include <float.h>
#include <limits.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include "cfg_keys.h"
#include "engine.h"

/* The walker stores enums as int. */
_Static_assert(sizeof(enum eng_source) == sizeof(int), "enum size");
_Static_assert(sizeof(enum eng_target_type) == sizeof(int), "enum size");
_Static_assert(sizeof(enum eng_select) == sizeof(int), "enum size");
_Static_assert(sizeof(enum eng_policy_type) == sizeof(int), "enum size");
_Static_assert(sizeof(enum cfg_model) == sizeof(int), "enum size");
_Static_assert(sizeof(enum cfg_forecast_mode) == sizeof(int), "enum size");
_Static_assert(sizeof(enum cfg_on_error) == sizeof(int), "enum size");
/* Metric names land in struct eng_metric_spec's fixed arrays. */
#define NAME_MAX_LEN ((int64_t)ENG_NAME_MAX - 1)

#define OFF(T, f) offsetof(T, f)
#define HAS(T, f) (offsetof(T, f) + 1)
#define MS_S 1000LL
#define MS_M (60 * MS_S)
#define MS_H (60 * MS_M)
#define MS_D (24 * MS_H)

/* ---- string formats ---- */

static bool is_lower_alnum(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
}

static bool is_alpha(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

static bool is_digit(char c)
{
	return c >= '0' && c <= '9';
}

/* RFC 1123 label: lowercase alphanumerics and '-', alphanumeric at both ends, at most 63. */
static bool label_ok(const char *s, size_t n)
{
	if (n == 0 || n > 63 || !is_lower_alnum(s[0]) || !is_lower_alnum(s[n - 1]))
		return false;
	for (size_t i = 0; i < n; i++)
		if (!is_lower_alnum(s[i]) && s[i] != '-')
			return false;
	return true;
}

static bool dns_label_ok(const char *s)
{
	return label_ok(s, strlen(s));
}

/* RFC 1123 subdomain: labels joined by '.', at most 253 (Kubernetes object names). */
static bool dns_subdomain_ok(const char *s)
{
	size_t n = strlen(s);
	if (n == 0 || n > 253)
		return false;
	for (const char *p = s;;) {
		const char *dot = strchr(p, '.');
		size_t len = dot ? (size_t)(dot - p) : strlen(p);
		if (!label_ok(p, len))
			return false;
		if (!dot)
			return true;
		p = dot + 1;
	}
}

/* A Kubernetes kind: CamelCase letters and digits. */
static bool kind_ok(const char *s)
{
	if (!(s[0] >= 'A' && s[0] <= 'Z'))
		return false;
	for (const char *p = s; *p; p++)
		if (!is_alpha(*p) && !is_digit(*p))
			return false;
	return true;
}

/* A Prometheus label name. */
static bool label_name_ok(const char *s)
{
	if (!is_alpha(s[0]) && s[0] != '_')
		return false;
	for (const char *p = s; *p; p++)
		if (!is_alpha(*p) && !is_digit(*p) && *p != '_')
			return false;
	return true;
}

/* A metric or resource name: letters, digits and "_.-/" (nvidia.com/gpu). */
static bool metric_name_ok(const char *s)
{
	if (!is_alpha(s[0]) && !is_digit(s[0]))
		return false;
	for (const char *p = s; *p; p++)
		if (!is_alpha(*p) && !is_digit(*p) && !strchr("_.-/", *p))
			return false;
	return true;
}

/* An HTTP header name (RFC 9110 token). */
static bool token_ok(const char *s)
{
	if (!*s)
		return false;
	for (const char *p = s; *p; p++)
		if (!is_alpha(*p) && !is_digit(*p) && !strchr("!#$%&'*+-.^_`|~", *p))
			return false;
	return true;
}

static bool url_ok(const char *s)
{
	const char *rest;
	if (strncmp(s, "http://", 7) == 0)
		rest = s + 7;
	else if (strncmp(s, "https://", 8) == 0)
		rest = s + 8;
	else
		return false;
	if (*rest == '\0' || *rest == '/' || *rest == ':')
		return false;
	for (const char *p = s; *p; p++)
		if ((unsigned char)*p <= ' ' || *p == 0x7f)
			return false;
	return true;
}

/* "[host]:port" with a port 1..65535. */
static bool listen_ok(const char *s)
{
	const char *colon = strrchr(s, ':');
	if (!colon || colon[1] == '\0')
		return false;
	long port = 0;
	for (const char *p = colon + 1; *p; p++) {
		if (!is_digit(*p) || port > 65535)
			return false;
		port = port * 10 + (*p - '0');
	}
	if (port < 1 || port > 65535)
		return false;
	for (const char *p = s; p < colon; p++)
		if ((unsigned char)*p <= ' ' || *p == '/')
			return false;
	return true;
}

/* An extra query parameter's name: printable, not one prescale sets itself. */
static bool param_name_ok(const char *s)
{
	static const char *const reserved[] = {"query", "time", "start", "end", "step", "timeout"};
	if (!*s)
		return false;
	for (const char *p = s; *p; p++)
		if ((unsigned char)*p <= ' ' || *p == '&' || *p == '=' || *p == '#')
			return false;
	for (size_t i = 0; i < PS_ARRAY_LEN(reserved); i++)
		if (strcmp(s, reserved[i]) == 0)
			return false;
	return true;
}

static const struct cfg_check chk_label = {"DNS-1123 label", dns_label_ok};
static const struct cfg_check chk_param = {"query parameter name other than query, time, start, "
                                           "end, step, timeout",
                                           param_name_ok};
static const struct cfg_check chk_subdomain = {"DNS-1123 subdomain", dns_subdomain_ok};
static const struct cfg_check chk_kind = {"Kubernetes kind", kind_ok};
static const struct cfg_check chk_label_name = {"Prometheus label name", label_name_ok};
static const struct cfg_check chk_metric_name = {"name of letters, digits and _.-/",
                                                 metric_name_ok};
static const struct cfg_check chk_token = {"HTTP header name", token_ok};
static const struct cfg_check chk_url = {"http:// or https:// URL", url_ok};
static const struct cfg_check chk_listen = {"[host]:port", listen_ok};

/* ---- enums ---- */

static const struct cfg_enum_val api_versions[] = {{CFG_API_VERSION, 0}, {NULL, 0}};
static const struct cfg_enum_val kind_controller[] = {{"ControllerConfig", 0}, {NULL, 0}};
static const struct cfg_enum_val kind_autoscaler[] = {{"Autoscaler", 0}, {NULL, 0}};

static const struct cfg_enum_val sources[] = {
    {"Resource", ENG_SRC_RESOURCE}, {"ContainerResource", ENG_SRC_CONTAINER_RESOURCE},
    {"Pods", ENG_SRC_PODS},         {"Object", ENG_SRC_OBJECT},
    {"External", ENG_SRC_EXTERNAL}, {NULL, 0},
};

static const struct cfg_enum_val target_types[] = {
    {"Utilization", ENG_TARGET_UTILIZATION},
    {"AverageValue", ENG_TARGET_AVERAGE_VALUE},
    {"Value", ENG_TARGET_VALUE},
    {NULL, 0},
};

static const struct cfg_enum_val selects[] = {
    {"Max", ENG_SELECT_MAX},
    {"Min", ENG_SELECT_MIN},
    {"Disabled", ENG_SELECT_DISABLED},
    {NULL, 0},
};

static const struct cfg_enum_val policy_types[] = {
    {"Pods", ENG_POLICY_PODS},
    {"Percent", ENG_POLICY_PERCENT},
    {NULL, 0},
};

static const struct cfg_enum_val models[] = {
    {"auto", CFG_MODEL_AUTO},
    {"seasonal-naive", CFG_MODEL_SEASONAL_NAIVE},
    {"holt", CFG_MODEL_HOLT},
    {"holt-winters-additive", CFG_MODEL_HOLT_WINTERS_ADDITIVE},
    {"holt-winters-multiplicative", CFG_MODEL_HOLT_WINTERS_MULTIPLICATIVE},
    {"linear", CFG_MODEL_LINEAR},
    {NULL, 0},
};

static const struct cfg_enum_val modes[] = {
    {"scale", CFG_FORECAST_SCALE},
    {"observe", CFG_FORECAST_OBSERVE},
    {NULL, 0},
};

static const struct cfg_enum_val on_errors[] = {
    {"hold", CFG_ON_ERROR_HOLD},
    {"ignore", CFG_ON_ERROR_IGNORE},
    {NULL, 0},
};

static const char *enum_name(const struct cfg_enum_val *v, int value)
{
	for (; v->name; v++)
		if (v->value == value)
			return v->name;
	return "?";
}

const char *cfg_model_name(enum cfg_model m)
{
	return enum_name(models, (int)m);
}

enum fc_kind cfg_model_kind(enum cfg_model m)
{
	switch (m) {
	case CFG_MODEL_AUTO:
		return FC_AUTO;
	case CFG_MODEL_SEASONAL_NAIVE:
		return FC_SNAIVE;
	case CFG_MODEL_HOLT:
		return FC_HOLT;
	case CFG_MODEL_HOLT_WINTERS_ADDITIVE:
		return FC_HW_ADD;
	case CFG_MODEL_HOLT_WINTERS_MULTIPLICATIVE:
		return FC_HW_MUL;
	case CFG_MODEL_LINEAR:
		return FC_LINREG;
	}
	return FC_AUTO;
}

const char *cfg_forecast_mode_name(enum cfg_forecast_mode m)
{
	return enum_name(modes, (int)m);
}

const char *cfg_on_error_name(enum cfg_on_error e)
{
	return enum_name(on_errors, (int)e);
}

/* The tables are laid out by hand, one row per key. */
/* clang-format off */
#define OBJECT(name, keys, validate_fn) \
	static const struct cfg_object name = {keys, PS_ARRAY_LEN(keys), 0, NULL, validate_fn}

/* ============================== ControllerConfig ============================== */

static void prometheus_validate(struct cfg_ctx *c);
static void tls_validate(struct cfg_ctx *c);
static void leader_validate(struct cfg_ctx *c);

static const struct cfg_key controller_metadata_keys[] = {
	{.name = "name", .type = CFG_T_STRING, .off = OFF(struct cfg_controller, name),
	 .check = &chk_subdomain, .doc = "name of this configuration (informational)"},
};
OBJECT(controller_metadata_object, controller_metadata_keys, NULL);

static const struct cfg_key basic_auth_keys[] = {
	{.name = "username", .type = CFG_T_STRING, .flags = CFG_F_REQUIRED,
	 .off = OFF(struct cfg_basic_auth, username), .lo = 1,
	 .doc = "user name for HTTP basic authentication"},
	{.name = "passwordFile", .type = CFG_T_STRING, .flags = CFG_F_REQUIRED,
	 .off = OFF(struct cfg_basic_auth, password_file), .lo = 1,
	 .doc = "file holding the basic-authentication password"},
};
OBJECT(basic_auth_object, basic_auth_keys, NULL);

static const struct cfg_key tls_keys[] = {
	{.name = "caFile", .type = CFG_T_STRING, .off = OFF(struct cfg_tls, ca_file), .lo = 1,
	 .def_doc = "system CA bundle", .doc = "CA certificates that verify the server"},
	{.name = "certFile", .type = CFG_T_STRING, .off = OFF(struct cfg_tls, cert_file), .lo = 1,
	 .doc = "client certificate (PEM), with keyFile"},
	{.name = "keyFile", .type = CFG_T_STRING, .off = OFF(struct cfg_tls, key_file), .lo = 1,
	 .doc = "private key of certFile (PEM)"},
	{.name = "insecureSkipVerify", .type = CFG_T_BOOL,
	 .off = OFF(struct cfg_tls, insecure_skip_verify), .def = "false",
	 .doc = "do not verify the server certificate (testing only)"},
};
OBJECT(tls_object, tls_keys, tls_validate);

static const struct cfg_key prometheus_keys[] = {
	{.name = "url", .type = CFG_T_STRING, .off = OFF(struct cfg_prometheus, url),
	 .def = "http://localhost:9090", .check = &chk_url,
	 .doc = "base URL of the Prometheus HTTP API"},
	{.name = "timeout", .type = CFG_T_DURATION, .off = OFF(struct cfg_prometheus, timeout_ms),
	 .def = "5s", .lo = 100, .hi = 5 * MS_M, .doc = "total timeout of one query"},
	{.name = "bearerTokenFile", .type = CFG_T_STRING,
	 .off = OFF(struct cfg_prometheus, bearer_token_file), .lo = 1,
	 .doc = "file holding a bearer token, re-read when it changes"},
	{.name = "basicAuth", .type = CFG_T_OBJECT, .off = OFF(struct cfg_prometheus, basic_auth),
	 .has_off = HAS(struct cfg_prometheus, has_basic_auth), .child = &basic_auth_object,
	 .doc = "HTTP basic authentication"},
	{.name = "tls", .type = CFG_T_OBJECT, .off = OFF(struct cfg_prometheus, tls),
	 .has_off = HAS(struct cfg_prometheus, has_tls), .child = &tls_object,
	 .doc = "TLS settings for https:// URLs"},
	{.name = "headers", .type = CFG_T_MAP, .flags = CFG_F_SECRET,
	 .off = OFF(struct cfg_prometheus, headers), .hi = CFG_MAX_HEADERS, .check = &chk_token,
	 .doc = "extra request headers (a tenant header, ...); values are never printed"},
	{.name = "params", .type = CFG_T_MAP, .off = OFF(struct cfg_prometheus, params),
	 .hi = CFG_MAX_HEADERS, .check = &chk_param,
	 .doc = "extra query parameters on every request (a tenant or dedup parameter, ...)"},
};
OBJECT(prometheus_object, prometheus_keys, prometheus_validate);

static const struct cfg_key kubernetes_keys[] = {
	{.name = "qps", .type = CFG_T_DOUBLE, .off = OFF(struct cfg_kubernetes, qps), .def = "20",
	 .dlo = 0, .dhi = 10000, .flags = CFG_F_LO_EXCL,
	 .doc = "sustained rate of Kubernetes API calls (process-wide token bucket)"},
	{.name = "burst", .type = CFG_T_INT32, .off = OFF(struct cfg_kubernetes, burst),
	 .def = "30", .lo = 1, .hi = 100000, .doc = "burst of Kubernetes API calls"},
};
OBJECT(kubernetes_object, kubernetes_keys, NULL);

static const struct cfg_key leader_keys[] = {
	{.name = "enabled", .type = CFG_T_BOOL, .off = OFF(struct cfg_leader_election, enabled),
	 .def = "false", .doc = "run workers only while holding the Lease"},
	{.name = "namespace", .type = CFG_T_STRING,
	 .off = OFF(struct cfg_leader_election, namespace), .check = &chk_label,
	 .def_doc = "the controller's namespace", .doc = "namespace of the Lease"},
	{.name = "leaseName", .type = CFG_T_STRING,
	 .off = OFF(struct cfg_leader_election, lease_name), .def = "prescale",
	 .check = &chk_subdomain, .doc = "name of the coordination.k8s.io Lease"},
	{.name = "leaseDuration", .type = CFG_T_DURATION,
	 .off = OFF(struct cfg_leader_election, lease_duration_ms), .def = "15s", .lo = MS_S,
	 .hi = 10 * MS_M, .doc = "how long a lease holds without renewal"},
	{.name = "renewDeadline", .type = CFG_T_DURATION,
	 .off = OFF(struct cfg_leader_election, renew_deadline_ms), .def = "10s", .lo = MS_S,
	 .hi = 10 * MS_M, .doc = "the holder gives up leading when it cannot renew within this"},
	{.name = "retryPeriod", .type = CFG_T_DURATION,
	 .off = OFF(struct cfg_leader_election, retry_period_ms), .def = "2s", .lo = 100,
	 .hi = 10 * MS_M, .doc = "wait between attempts to acquire or renew"},
};
OBJECT(leader_object, leader_keys, leader_validate);

static const struct cfg_key defaults_keys[] = {
	{.name = "interval", .type = CFG_T_DURATION,
	 .off = OFF(struct cfg_controller, default_interval_ms), .def = "15s", .lo = MS_S,
	 .hi = MS_H, .doc = "tick interval of Autoscalers that set none"},
};
OBJECT(defaults_object, defaults_keys, NULL);

static const struct cfg_key hpa_keys[] = {
	{.name = "tolerance", .type = CFG_T_DOUBLE, .off = OFF(struct eng_params, tolerance),
	 .def = "0.1", .dlo = 0, .dhi = 1,
	 .doc = "no scaling while the usage ratio is within 1 +- tolerance"},
	{.name = "cpuInitializationPeriod", .type = CFG_T_DURATION,
	 .off = OFF(struct eng_params, cpu_init_period_ms), .def = "5m", .lo = 0, .hi = MS_H,
	 .doc = "CPU samples of pods younger than this are not trusted"},
	{.name = "initialReadinessDelay", .type = CFG_T_DURATION,
	 .off = OFF(struct eng_params, readiness_delay_ms), .def = "30s", .lo = 0, .hi = MS_H,
	 .doc = "a pod that became ready within this of starting counts as never unready"},
	{.name = "downscaleStabilization", .type = CFG_T_DURATION,
	 .off = OFF(struct eng_params, downscale_window_ms), .def = "5m", .lo = 0, .hi = MS_H,
	 .doc = "scale-down window when behavior sets none"},
	{.name = "scaleToZero", .type = CFG_T_BOOL, .off = OFF(struct eng_params, gate_scale_to_zero),
	 .def = "false", .doc = "allow minReplicas 0 (HPAScaleToZero)"},
	{.name = "configurableTolerance", .type = CFG_T_BOOL,
	 .off = OFF(struct eng_params, gate_configurable_tolerance), .def = "true",
	 .doc = "honour behavior tolerances (HPAConfigurableTolerance)"},
	{.name = "podLevelResources", .type = CFG_T_BOOL,
	 .off = OFF(struct eng_params, gate_pod_level_resources), .def = "true",
	 .doc = "use pod-level resource requests when set (PodLevelResources)"},
};
OBJECT(hpa_object, hpa_keys, NULL);

static const struct cfg_key controller_keys[] = {
	{.name = "apiVersion", .type = CFG_T_ENUM, .flags = CFG_F_REQUIRED | CFG_F_NOSTORE,
	 .values = api_versions, .doc = "version of the configuration format"},
	{.name = "kind", .type = CFG_T_ENUM, .flags = CFG_F_REQUIRED | CFG_F_NOSTORE,
	 .values = kind_controller, .doc = "at most one ControllerConfig per configuration"},
	{.name = "metadata", .type = CFG_T_OBJECT, .child = &controller_metadata_object,
	 .doc = "object metadata"},
	{.name = "prometheus", .type = CFG_T_OBJECT, .off = OFF(struct cfg_controller, prometheus),
	 .child = &prometheus_object, .doc = "the Prometheus server the queries go to"},
	{.name = "kubernetes", .type = CFG_T_OBJECT, .flags = CFG_F_STATIC,
	 .off = OFF(struct cfg_controller, kubernetes), .child = &kubernetes_object,
	 .doc = "Kubernetes API client limits (kubeconfig or in-cluster is chosen at run time)"},
	{.name = "listen", .type = CFG_T_STRING, .flags = CFG_F_STATIC,
	 .off = OFF(struct cfg_controller, listen), .def = ":8080", .check = &chk_listen,
	 .doc = "address of /metrics, /healthz, /readyz and /debug"},
	{.name = "leaderElection", .type = CFG_T_OBJECT, .flags = CFG_F_STATIC,
	 .off = OFF(struct cfg_controller, leader_election), .child = &leader_object,
	 .doc = "run several replicas, one active"},
	{.name = "workers", .type = CFG_T_INT32, .flags = CFG_F_STATIC,
	 .off = OFF(struct cfg_controller, workers), .def = "16", .lo = 1, .hi = 1024,
	 .doc = "threads that run the targets' ticks, one tick each at a time; raise it when "
	        "prescale_tick_lateness_seconds grows"},
	{.name = "defaults", .type = CFG_T_OBJECT, .child = &defaults_object,
	 .doc = "defaults for Autoscalers"},
	{.name = "hpa", .type = CFG_T_OBJECT, .off = OFF(struct cfg_controller, params),
	 .child = &hpa_object,
	 .doc = "HPA controller parameters (kube-controller-manager flags and feature gates)"},
};
const struct cfg_object cfg_controller_object = {controller_keys, PS_ARRAY_LEN(controller_keys),
						 0, NULL, NULL};

/* ================================= Autoscaler ================================= */

static void spec_validate(struct cfg_ctx *c);
static void metric_validate(struct cfg_ctx *c);
static void forecast_validate(struct cfg_ctx *c);

static const struct cfg_key metadata_keys[] = {
	{.name = "name", .type = CFG_T_STRING, .flags = CFG_F_REQUIRED,
	 .off = OFF(struct cfg_target, name), .check = &chk_subdomain,
	 .doc = "name of the Autoscaler"},
	{.name = "namespace", .type = CFG_T_STRING, .off = OFF(struct cfg_target, namespace),
	 .def = "default", .check = &chk_label,
	 .doc = "namespace of the Autoscaler and of its scale target"},
};
OBJECT(metadata_object, metadata_keys, NULL);

static const struct cfg_key ref_keys[] = {
	{.name = "apiVersion", .type = CFG_T_STRING, .off = OFF(struct cfg_scale_ref, api_version),
	 .def = "apps/v1", .lo = 1, .hi = 253, .doc = "API group/version of the scaled object"},
	{.name = "kind", .type = CFG_T_STRING, .flags = CFG_F_REQUIRED,
	 .off = OFF(struct cfg_scale_ref, kind), .check = &chk_kind, .hi = 63,
	 .doc = "kind of the scaled object (Deployment, StatefulSet, ...)"},
	{.name = "name", .type = CFG_T_STRING, .flags = CFG_F_REQUIRED,
	 .off = OFF(struct cfg_scale_ref, name), .check = &chk_subdomain,
	 .doc = "name of the scaled object, which has a scale subresource"},
};
OBJECT(ref_object, ref_keys, NULL);

static const struct cfg_key per_pod_keys[] = {
	{.name = "podLabel", .type = CFG_T_STRING, .off = OFF(struct cfg_per_pod, pod_label),
	 .def = "pod", .check = &chk_label_name, .hi = 128,
	 .doc = "label of the query's series that names the pod"},
	{.name = "resource", .type = CFG_T_STRING, .off = OFF(struct cfg_per_pod, resource),
	 .check = &chk_metric_name, .hi = NAME_MAX_LEN,
	 .doc = "resource whose requests the values relate to (cpu, memory): Resource metrics"},
};
OBJECT(per_pod_object, per_pod_keys, NULL);

static const struct cfg_key target_keys[] = {
	{.name = "type", .type = CFG_T_ENUM, .off = OFF(struct eng_target, type),
	 .values = target_types, .def_doc = "derived from the value given",
	 .doc = "what the value is compared with"},
	{.name = "averageUtilization", .type = CFG_T_INT32,
	 .off = OFF(struct eng_target, average_utilization),
	 .has_off = HAS(struct eng_target, has_average_utilization), .lo = 1,
	 .doc = "percent of the pods' requests (Utilization)"},
	{.name = "averageValue", .type = CFG_T_QUANTITY,
	 .off = OFF(struct eng_target, average_value_milli),
	 .has_off = HAS(struct eng_target, has_average_value), .lo = 1,
	 .doc = "value per pod (AverageValue)"},
	{.name = "value", .type = CFG_T_QUANTITY, .off = OFF(struct eng_target, value_milli),
	 .has_off = HAS(struct eng_target, has_value), .lo = 1,
	 .doc = "value of the whole query (Value)"},
};
OBJECT(target_object, target_keys, NULL);

static const struct cfg_key metric_keys[] = {
	{.name = "name", .type = CFG_T_STRING, .flags = CFG_F_REQUIRED,
	 .off = OFF(struct cfg_metric, name), .check = &chk_metric_name, .hi = NAME_MAX_LEN,
	 .doc = "name of the metric, unique in the Autoscaler"},
	{.name = "query", .type = CFG_T_STRING, .flags = CFG_F_REQUIRED,
	 .off = OFF(struct cfg_metric, query), .lo = 1, .hi = 65536,
	 .doc = "PromQL instant query; changing it resets the target's history"},
	{.name = "perPod", .type = CFG_T_OBJECT, .off = OFF(struct cfg_metric, pod),
	 .has_off = HAS(struct cfg_metric, per_pod), .child = &per_pod_object,
	 .doc = "the query returns one series per pod"},
	{.name = "type", .type = CFG_T_ENUM, .flags = CFG_F_DERIVED,
	 .off = OFF(struct cfg_metric, source),
	 .has_off = HAS(struct cfg_metric, type_set), .values = sources,
	 .def_doc = "Resource with perPod.resource, Pods with perPod, else External",
	 .doc = "HPA metric source type, which selects the replica calculation"},
	{.name = "container", .type = CFG_T_STRING, .off = OFF(struct cfg_metric, container),
	 .check = &chk_label, .doc = "container whose requests count (ContainerResource)"},
	{.name = "target", .type = CFG_T_OBJECT, .flags = CFG_F_REQUIRED,
	 .off = OFF(struct cfg_metric, target), .child = &target_object,
	 .doc = "the target value of the metric"},
	{.name = "onError", .type = CFG_T_ENUM, .off = OFF(struct cfg_metric, on_error),
	 .def = "hold", .values = on_errors,
	 .doc = "a failed or empty query: hold (no scale-down, counts towards fallback) or "
	        "ignore (left out; a scale-down is still held that tick)"},
	{.name = "activationValue", .type = CFG_T_QUANTITY,
	 .off = OFF(struct cfg_metric, activation_milli),
	 .has_off = HAS(struct cfg_metric, has_activation), .lo = 0,
	 .def_doc = "`0`", .unset_doc = "0",
	 .doc = "minReplicas 0: the query's value (per-pod: the mean) above this wakes the "
	        "target; at or below on every metric for spec.cooldown scales it to zero"},
};
static const struct cfg_object metric_object = {metric_keys, PS_ARRAY_LEN(metric_keys),
						 sizeof(struct cfg_metric), "name", metric_validate};

static const struct cfg_key policy_keys[] = {
	{.name = "type", .type = CFG_T_ENUM, .flags = CFG_F_REQUIRED,
	 .off = OFF(struct eng_policy, type), .values = policy_types,
	 .doc = "change counted in pods or in percent of the current count"},
	{.name = "value", .type = CFG_T_INT32, .flags = CFG_F_REQUIRED,
	 .off = OFF(struct eng_policy, value), .lo = 1, .doc = "the change allowed per period"},
	{.name = "periodSeconds", .type = CFG_T_INT32, .flags = CFG_F_REQUIRED,
	 .off = OFF(struct eng_policy, period_s), .lo = 1, .hi = 1800,
	 .doc = "the period the change is counted over"},
};
static const struct cfg_object policy_object = {policy_keys, PS_ARRAY_LEN(policy_keys),
						 sizeof(struct eng_policy), NULL, NULL};

/* HPAScalingRules; the two directions differ in their documented defaults only. */
#define RULES_KEYS(window_def, policies_def)                                                   \
	{                                                                                      \
		{.name = "stabilizationWindowSeconds", .type = CFG_T_INT32,                    \
		 .off = OFF(struct eng_rules, window_s),                                       \
		 .has_off = HAS(struct eng_rules, has_window), .lo = 0, .hi = 3600,            \
		 .def_doc = window_def, .unset_doc = "hpa.downscaleStabilization applies",     \
		 .doc = "the most extreme recommendation of this window is used"},             \
		{.name = "selectPolicy", .type = CFG_T_ENUM,                                   \
		 .off = OFF(struct eng_rules, select),                                         \
		 .has_off = HAS(struct eng_rules, has_select), .values = selects,              \
		 .def_doc = "`Max`", .doc = "which policy wins when several apply"},           \
		{.name = "policies", .type = CFG_T_LIST,                                       \
		 .off = OFF(struct eng_rules, policies),                                       \
		 .has_off = HAS(struct eng_rules, has_policies),                               \
		 .count_off = OFF(struct eng_rules, n_policies), .lo = 1,                      \
		 .hi = ENG_MAX_POLICIES, .child = &policy_object, .def_doc = policies_def,     \
		 .doc = "rate limits; given policies replace the defaults"},                   \
		{.name = "tolerance", .type = CFG_T_QUANTITY_REAL,                             \
		 .off = OFF(struct eng_rules, tolerance),                                      \
		 .has_off = HAS(struct eng_rules, has_tolerance), .dlo = 0, .dhi = DBL_MAX,    \
		 .def_doc = "`hpa.tolerance`",                                                 \
		 .doc = "tolerance of this direction (with hpa.configurableTolerance)"},       \
	}

static const struct cfg_key scale_up_keys[] =
	RULES_KEYS("`0`", "Pods 4 per 15s, Percent 100 per 15s");
static const struct cfg_key scale_down_keys[] =
	RULES_KEYS("`hpa.downscaleStabilization`", "Percent 100 per 15s");
OBJECT(scale_up_object, scale_up_keys, NULL);
OBJECT(scale_down_object, scale_down_keys, NULL);

static const struct cfg_key behavior_keys[] = {
	{.name = "scaleUp", .type = CFG_T_OBJECT, .off = OFF(struct eng_behavior, scale_up),
	 .has_off = HAS(struct eng_behavior, has_scale_up), .child = &scale_up_object,
	 .doc = "rules for scaling up"},
	{.name = "scaleDown", .type = CFG_T_OBJECT, .off = OFF(struct eng_behavior, scale_down),
	 .has_off = HAS(struct eng_behavior, has_scale_down), .child = &scale_down_object,
	 .doc = "rules for scaling down"},
};
OBJECT(behavior_object, behavior_keys, NULL);

static const struct cfg_key forecast_keys[] = {
	{.name = "model", .type = CFG_T_ENUM, .off = OFF(struct cfg_forecast, model), .def = "auto",
	 .values = models, .doc = "forecasting model; auto picks by out-of-sample error"},
	{.name = "season", .type = CFG_T_DURATION, .off = OFF(struct cfg_forecast, season_ms),
	 .def = "1d", .lo = MS_M, .hi = 28 * MS_D, .doc = "season length of the seasonal models"},
	{.name = "history", .type = CFG_T_DURATION, .off = OFF(struct cfg_forecast, history_ms),
	 .def = "7d", .lo = MS_M, .hi = 90 * MS_D,
	 .doc = "history read from Prometheus to fit the model at start"},
	{.name = "quantile", .type = CFG_T_DOUBLE, .off = OFF(struct cfg_forecast, quantile),
	 .def = "0.8", .dlo = 0, .dhi = 1, .flags = CFG_F_LO_EXCL | CFG_F_HI_EXCL,
	 .doc = "quantile of past forecast errors at the horizon added to the forecast peak"},
	{.name = "mode", .type = CFG_T_ENUM, .off = OFF(struct cfg_forecast, mode), .def = "scale",
	 .values = modes, .doc = "scale: the forecast can add replicas; observe: report only"},
	{.name = "podStartup", .type = CFG_T_DURATION,
	 .off = OFF(struct cfg_forecast, pod_startup_ms), .def = "1m", .lo = 0, .hi = MS_H,
	 .doc = "time a new pod takes to serve (part of the forecast horizon)"},
	{.name = "metricLag", .type = CFG_T_DURATION,
	 .off = OFF(struct cfg_forecast, metric_lag_ms), .def = "30s", .lo = 0, .hi = MS_H,
	 .doc = "delay of the metric behind demand (part of the forecast horizon)"},
};
OBJECT(forecast_object, forecast_keys, forecast_validate);

static const struct cfg_key fallback_keys[] = {
	{.name = "failureThreshold", .type = CFG_T_INT32,
	 .off = OFF(struct cfg_fallback, failure_threshold), .def = "3", .lo = 1, .hi = 1000,
	 .doc = "consecutive failed ticks before the fallback applies"},
	{.name = "replicas", .type = CFG_T_INT32, .off = OFF(struct cfg_fallback, replicas),
	 .has_off = HAS(struct cfg_fallback, has_replicas), .lo = 0,
	 .unset_doc = "hold the current count", .def_doc = "hold the current count",
	 .doc = "replica count to set after the failures"},
};
OBJECT(fallback_object, fallback_keys, NULL);

static const struct cfg_key spec_keys[] = {
	{.name = "scaleTargetRef", .type = CFG_T_OBJECT, .flags = CFG_F_REQUIRED,
	 .off = OFF(struct cfg_target, ref), .child = &ref_object,
	 .doc = "the object to scale"},
	{.name = "minReplicas", .type = CFG_T_INT32,
	 .off = OFF(struct cfg_target, spec.min_replicas), .def = "1", .lo = 0,
	 .doc = "lower limit; 0 needs hpa.scaleToZero and an Object or External metric"},
	{.name = "maxReplicas", .type = CFG_T_INT32, .flags = CFG_F_REQUIRED,
	 .off = OFF(struct cfg_target, spec.max_replicas), .lo = 1,
	 .doc = "upper limit, at least minReplicas"},
	{.name = "interval", .type = CFG_T_DURATION, .flags = CFG_F_DERIVED,
	 .off = OFF(struct cfg_target, interval_ms),
	 .has_off = HAS(struct cfg_target, interval_set), .lo = MS_S, .hi = MS_H,
	 .def_doc = "`defaults.interval`", .doc = "time between two decisions"},
	{.name = "paused", .type = CFG_T_BOOL, .off = OFF(struct cfg_target, paused), .def = "false",
	 .doc = "decide and report, but never write the scale"},
	{.name = "staleness", .type = CFG_T_DURATION, .off = OFF(struct cfg_target, staleness_ms),
	 .def = "0s", .lo = 0, .hi = MS_H,
	 .doc = "a failed or empty query reuses the metric's last good reading if younger than "
	        "this; 0s: off"},
	{.name = "cooldown", .type = CFG_T_DURATION, .off = OFF(struct cfg_target, cooldown_ms),
	 .def = "5m", .lo = 0, .hi = 24 * MS_H,
	 .doc = "minReplicas 0: how long every metric must stay at or below its activationValue "
	        "before the target is scaled to zero"},
	{.name = "metrics", .type = CFG_T_LIST, .flags = CFG_F_REQUIRED,
	 .off = OFF(struct cfg_target, metrics), .count_off = OFF(struct cfg_target, n_metrics),
	 .lo = 1, .hi = ENG_MAX_METRICS, .child = &metric_object,
	 .doc = "the metrics; the largest proposal wins"},
	{.name = "behavior", .type = CFG_T_OBJECT, .off = OFF(struct cfg_target, spec.behavior),
	 .has_off = HAS(struct cfg_target, spec.has_behavior), .child = &behavior_object,
	 .unset_doc = "legacy HPA rules: scale-up limit max(2x, 4), hpa.downscaleStabilization",
	 .doc = "HPA v2 scaling behavior; unset fields get the HPA defaults"},
	{.name = "forecast", .type = CFG_T_OBJECT, .off = OFF(struct cfg_target, forecast),
	 .has_off = HAS(struct cfg_target, forecast.enabled), .child = &forecast_object,
	 .unset_doc = "reactive only", .doc = "predictive scaling; absent: reactive only"},
	{.name = "fallback", .type = CFG_T_OBJECT, .off = OFF(struct cfg_target, fallback),
	 .has_off = HAS(struct cfg_target, fallback.enabled), .child = &fallback_object,
	 .unset_doc = "hold the current count while metrics fail",
	 .doc = "what to do after consecutive failures; absent: hold"},
};
OBJECT(spec_object, spec_keys, spec_validate);

static const struct cfg_key autoscaler_keys[] = {
	{.name = "apiVersion", .type = CFG_T_ENUM, .flags = CFG_F_REQUIRED | CFG_F_NOSTORE,
	 .values = api_versions, .doc = "version of the configuration format"},
	{.name = "kind", .type = CFG_T_ENUM, .flags = CFG_F_REQUIRED | CFG_F_NOSTORE,
	 .values = kind_autoscaler, .doc = "one scale target per Autoscaler"},
	{.name = "metadata", .type = CFG_T_OBJECT, .flags = CFG_F_REQUIRED,
	 .child = &metadata_object, .doc = "object metadata"},
	{.name = "spec", .type = CFG_T_OBJECT, .flags = CFG_F_REQUIRED, .child = &spec_object,
	 .doc = "the desired behaviour, shaped like an HPA v2 spec"},
};
const struct cfg_object cfg_autoscaler_object = {autoscaler_keys, PS_ARRAY_LEN(autoscaler_keys),
						 0, NULL, NULL};

/* clang-format on */

/* =============================== cross-field rules =============================== */

static void prometheus_validate(struct cfg_ctx *c)
{
	const struct cfg_prometheus *p = c->base;
	if (p->has_basic_auth && p->bearer_token_file)
		cfg_ctx_error(c, "bearerTokenFile", "cannot be combined with basicAuth");
	if (strncmp(p->url, "https://", 8) != 0 && p->has_tls)
		cfg_ctx_error(c, "tls", "needs an https:// url");
}

static void tls_validate(struct cfg_ctx *c)
{
	const struct cfg_tls *t = c->base;
	if (t->cert_file && !t->key_file)
		cfg_ctx_error(c, "certFile", "needs keyFile");
	if (t->key_file && !t->cert_file)
		cfg_ctx_error(c, "keyFile", "needs certFile");
}

/* client-go's LeaderElectionConfig rules (JitterFactor 1.2). */
static void leader_validate(struct cfg_ctx *c)
{
	const struct cfg_leader_election *l = c->base;
	if (l->lease_duration_ms <= l->renew_deadline_ms)
		cfg_ctx_error(c, "leaseDuration", "must be greater than renewDeadline");
	else if ((double)l->renew_deadline_ms <= 1.2 * (double)l->retry_period_ms)
		cfg_ctx_error(c, "renewDeadline", "must be greater than 1.2 x retryPeriod");
}

static void forecast_validate(struct cfg_ctx *c)
{
	const struct cfg_forecast *f = c->base;
	if (f->history_ms < f->season_ms)
		cfg_ctx_error(c, "history", "must cover at least one season");
}

static bool source_has_pods(enum eng_source s)
{
	return s == ENG_SRC_RESOURCE || s == ENG_SRC_CONTAINER_RESOURCE || s == ENG_SRC_PODS;
}

static bool target_allowed(enum eng_source s, enum eng_target_type t)
{
	switch (t) {
	case ENG_TARGET_UTILIZATION:
		return s == ENG_SRC_RESOURCE || s == ENG_SRC_CONTAINER_RESOURCE;
	case ENG_TARGET_AVERAGE_VALUE:
		return true;
	case ENG_TARGET_VALUE:
		return s == ENG_SRC_OBJECT || s == ENG_SRC_EXTERNAL;
	case ENG_TARGET_UNSET:
		break;
	}
	return false;
}

/* Derives the target type from the one value given, then checks that the value matches the
 * type and that the type suits the metric source. */
static void check_target(struct cfg_ctx *c, struct cfg_metric *m)
{
	static const struct {
		enum eng_target_type type;
		const char *key;
	} field[] = {
	    {ENG_TARGET_UTILIZATION, "averageUtilization"},
	    {ENG_TARGET_AVERAGE_VALUE, "averageValue"},
	    {ENG_TARGET_VALUE, "value"},
	};
	struct eng_target *t = &m->target;
	bool set[3] = {t->has_average_utilization, t->has_average_value, t->has_value};
	yaml_node_t *tnode = cfg_ctx_node(c, "target", true);
	yaml_node_t *type_node = cfg_node_get(c->w, tnode, "type", true);
	size_t n_set = (size_t)set[0] + (size_t)set[1] + (size_t)set[2];

	if (t->type == ENG_TARGET_UNSET) {
		if (n_set != 1) {
			cfg_walk_error(c->w, tnode,
			               "%s.target: set exactly one of averageUtilization, "
			               "averageValue or value, or a type",
			               c->path);
			return;
		}
		for (size_t i = 0; i < 3; i++)
			if (set[i]) {
				t->type = field[i].type;
				type_node = cfg_node_get(c->w, tnode, field[i].key, true);
			}
	}
	const char *tname = enum_name(target_types, (int)t->type);
	for (size_t i = 0; i < 3; i++) {
		if (field[i].type == t->type && !set[i]) {
			cfg_walk_error(c->w, type_node, "%s.target.type: %s needs %s", c->path,
			               tname, field[i].key);
			return;
		}
	}
	for (size_t i = 0; i < 3; i++) {
		if (field[i].type != t->type && set[i]) {
			cfg_walk_error(c->w, cfg_node_get(c->w, tnode, field[i].key, true),
			               "%s.target.%s: not used with type %s", c->path, field[i].key,
			               tname);
			return;
		}
	}
	if (!target_allowed(m->source, t->type)) {
		const char *sname = enum_name(sources, (int)m->source);
		cfg_walk_error(c->w, type_node, "%s.target: type %s is not allowed for %s metrics",
		               c->path, tname, sname);
	}
}

static void metric_validate(struct cfg_ctx *c)
{
	struct cfg_metric *m = c->base;
	const char *tkey = m->type_set ? "type" : NULL;
	size_t before = cfg_errors_count(c->w->errs);

	if (!m->type_set) {
		if (!m->per_pod)
			m->source = ENG_SRC_EXTERNAL;
		else if (!m->pod.resource)
			m->source = ENG_SRC_PODS;
		else
			m->source = m->container ? ENG_SRC_CONTAINER_RESOURCE : ENG_SRC_RESOURCE;
	}
	const char *sname = enum_name(sources, (int)m->source);
	if (source_has_pods(m->source) && !m->per_pod)
		cfg_ctx_error(c, tkey, "%s metrics need perPod (a query with one series per pod)",
		              sname);
	else if (!source_has_pods(m->source) && m->per_pod)
		cfg_ctx_error(c, "perPod", "not used by %s metrics (their query gives one value)",
		              sname);
	else if ((m->source == ENG_SRC_RESOURCE || m->source == ENG_SRC_CONTAINER_RESOURCE) &&
	         !m->pod.resource)
		cfg_ctx_error(c, tkey, "%s metrics need perPod.resource", sname);
	else if (m->source == ENG_SRC_PODS && m->pod.resource)
		cfg_ctx_error(c, "perPod", "%s",
		              "resource is only used by Resource and ContainerResource metrics");
	if (m->source == ENG_SRC_CONTAINER_RESOURCE && !m->container)
		cfg_ctx_error(c, tkey, "ContainerResource metrics need container");
	else if (m->source != ENG_SRC_CONTAINER_RESOURCE && m->container)
		cfg_ctx_error(c, "container", "only used by ContainerResource metrics");
	if (cfg_errors_count(c->w->errs) == before)
		check_target(c, m);
}

static bool has_object_or_external(const struct cfg_target *t)
{
	for (size_t i = 0; i < t->n_metrics; i++)
		if (t->metrics[i].source == ENG_SRC_OBJECT ||
		    t->metrics[i].source == ENG_SRC_EXTERNAL)
			return true;
	return false;
}

static void spec_validate(struct cfg_ctx *c)
{
	struct cfg_target *t = c->base;
	struct eng_spec *s = &t->spec;

	if (s->max_replicas < s->min_replicas)
		cfg_ctx_error(c, "maxReplicas", "%d is less than minReplicas (%d)",
		              (int)s->max_replicas, (int)s->min_replicas);
	/* KEP-2021: minReplicas 0 needs the HPAScaleToZero gate and an Object or External
	 * metric, the only sources that can bring a workload back from zero. */
	if (s->min_replicas == 0 && !c->w->ctl->params.gate_scale_to_zero)
		cfg_ctx_error(c, "minReplicas",
		              "0 needs hpa.scaleToZero: true in the ControllerConfig");
	else if (s->min_replicas == 0 && !has_object_or_external(t))
		cfg_ctx_error(c, "minReplicas", "0 needs an Object or External metric");
	if (t->fallback.enabled && t->fallback.has_replicas &&
	    (t->fallback.replicas < s->min_replicas || t->fallback.replicas > s->max_replicas))
		cfg_walk_error(
		    c->w, cfg_node_get(c->w, cfg_ctx_node(c, "fallback", true), "replicas", true),
		    "%s.fallback.replicas: %d is outside minReplicas..maxReplicas (%d..%d)",
		    c->path, (int)t->fallback.replicas, (int)s->min_replicas, (int)s->max_replicas);

	/* Defaults that depend on other documents or on the engine. */
	if (!t->interval_set)
		t->interval_ms = c->w->ctl->default_interval_ms;
	s->has_min_replicas = true;
	if (s->has_behavior)
		eng_behavior_default(&s->behavior);
}
