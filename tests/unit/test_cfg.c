/* test_cfg.c -- the configuration: good files against hand-written expectations, every bad
 * file with its exact message, directories, allocation failures, the dump and the reference. */
#include <criterion/criterion.h>
#include <float.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "cfg.h"
#include "cfg_keys.h"
#include "engine.h"
#include "ps_alloc.h"
#include "ps_buf.h"

#if defined(__SANITIZE_ADDRESS__)
#define HAVE_LSAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define HAVE_LSAN 1
#endif
#endif
#ifdef HAVE_LSAN
#include <sanitizer/lsan_interface.h>
#endif

#define CFG_DATA PS_TEST_DATA "/config"

/* ---- helpers ---- */

/* Loads <path>, asserting success. */
static struct cfg *load_ok(const char *path)
{
	struct cfg *c = NULL;
	struct cfg_errors *errs = NULL;
	struct ps_diag d;
	enum ps_err rc = cfg_load(path, &c, &errs, &d);
	cr_assert_eq(rc, PS_OK, "loading %s: %s (%s)", path, ps_diag_msg(&d), ps_err_name(rc));
	cr_assert_not_null(c);
	cr_assert_eq(cfg_errors_count(errs), 0);
	cfg_errors_free(errs);
	return c;
}

static char tmpdir[256];
static int tmp_files;

static void make_tmpdir(void)
{
	const char *base = getenv("TMPDIR");
	snprintf(tmpdir, sizeof(tmpdir), "%s/ps_cfg_test.XXXXXX", base && *base ? base : "/tmp");
	cr_assert_not_null(mkdtemp(tmpdir));
	tmp_files = 0;
}

static void remove_tmpdir(void)
{
	char path[512];
	for (int i = 0; i < tmp_files; i++) {
		snprintf(path, sizeof(path), "%s/%d.yaml", tmpdir, i);
		(void)unlink(path);
	}
	cr_expect_eq(rmdir(tmpdir), 0);
}

/* Writes <text> to a new file in <tmpdir>; its path goes to <path>. */
static void write_tmp(const char *text, char *path, size_t size)
{
	snprintf(path, size, "%s/%d.yaml", tmpdir, tmp_files++);
	FILE *f = fopen(path, "w");
	cr_assert_not_null(f);
	cr_assert_eq(fputs(text, f) >= 0, true);
	cr_assert_eq(fclose(f), 0);
}

/* Loads <text> expecting failure; returns the messages with the file name cut off, joined by
 * newlines, in <out>. */
static void load_text_errors(const char *text, char *out, size_t size)
{
	char path[512];
	write_tmp(text, path, sizeof(path));
	struct cfg *c = NULL;
	struct cfg_errors *errs = NULL;
	struct ps_diag d;
	enum ps_err rc = cfg_load(path, &c, &errs, &d);
	cr_assert_eq(rc, PS_ECONFIG, "expected an error for:\n%s", text);
	cr_assert_null(c);
	size_t o = 0, plen = strlen(path);
	out[0] = '\0';
	for (size_t i = 0; i < cfg_errors_count(errs); i++) {
		const char *m = cfg_errors_at(errs, i);
		cr_assert_eq(strncmp(m, path, plen), 0, "message without the file name: %s", m);
		o += (size_t)snprintf(out + o, size - o, "%s%s", i ? "\n" : "", m + plen);
	}
	cr_assert_str_eq(d.msg, cfg_errors_at(errs, 0), "the diag holds the first message");
	cfg_errors_free(errs);
}

/* Loads <text> expecting success. */
static struct cfg *load_text(const char *text)
{
	char path[512];
	write_tmp(text, path, sizeof(path));
	return load_ok(path);
}

#define HEAD "apiVersion: prescale.dev/v1alpha1\nkind: Autoscaler\n"
#define META "metadata: {name: web, namespace: shop}\n"
#define REF "  scaleTargetRef: {kind: Deployment, name: web}\n"
#define RPS "  metrics:\n    - {name: rps, query: 'sum(rate(r[1m]))', target: {averageValue: 10}}\n"

static bool same_str(const char *a, const char *b)
{
	return (!a && !b) || (a && b && strcmp(a, b) == 0);
}

/* ---- good files ---- */

Test(cfg, a_full_file_loads_every_controller_key_as_written)
{
	struct cfg *c = load_ok(CFG_DATA "/full.yaml");
	const struct cfg_controller *k = cfg_controller(c);
	cr_expect(k->present);
	cr_expect_str_eq(k->name, "prod");
	cr_expect_str_eq(k->prometheus.url, "https://prometheus.monitoring:9090/prom");
	cr_expect_eq(k->prometheus.timeout_ms, 2500);
	cr_expect_null(k->prometheus.bearer_token_file);
	cr_expect(k->prometheus.has_basic_auth);
	cr_expect_str_eq(k->prometheus.basic_auth.username, "prescale");
	cr_expect_str_eq(k->prometheus.basic_auth.password_file, "/etc/prescale/prom-password");
	cr_expect(k->prometheus.has_tls);
	cr_expect_str_eq(k->prometheus.tls.ca_file, "/etc/prescale/ca.pem");
	cr_expect_str_eq(k->prometheus.tls.cert_file, "/etc/prescale/client.pem");
	cr_expect_str_eq(k->prometheus.tls.key_file, "/etc/prescale/client-key.pem");
	cr_expect_not(k->prometheus.tls.insecure_skip_verify);
	cr_assert_eq(k->prometheus.headers.n, 1);
	cr_expect_str_eq(k->prometheus.headers.v[0].name, "X-Scope-OrgID");
	cr_expect_str_eq(k->prometheus.headers.v[0].value, "tenant-a");
	cr_expect_eq(k->kubernetes.qps, 12.5);
	cr_expect_eq(k->kubernetes.burst, 25);
	cr_expect_str_eq(k->listen, "127.0.0.1:9100");
	cr_expect(k->leader_election.enabled);
	cr_expect_str_eq(k->leader_election.namespace, "prescale");
	cr_expect_str_eq(k->leader_election.lease_name, "prescale-lock");
	cr_expect_eq(k->leader_election.lease_duration_ms, 20000);
	cr_expect_eq(k->leader_election.renew_deadline_ms, 12000);
	cr_expect_eq(k->leader_election.retry_period_ms, 3000);
	cr_expect_eq(k->default_interval_ms, 30000);
	cr_expect_eq(k->params.tolerance, 0.05);
	cr_expect_eq(k->params.cpu_init_period_ms, 180000);
	cr_expect_eq(k->params.readiness_delay_ms, 45000);
	cr_expect_eq(k->params.downscale_window_ms, 600000);
	cr_expect(k->params.gate_scale_to_zero);
	cr_expect_not(k->params.gate_configurable_tolerance);
	cr_expect_not(k->params.gate_pod_level_resources);
	/* Not configurable: Kubernetes hard-codes them. */
	cr_expect_eq(k->params.scale_up_limit_factor, 2.0);
	cr_expect_eq(k->params.scale_up_limit_minimum, 4.0);
	cfg_unref(c);
}

Test(cfg, a_full_file_loads_each_metric_with_its_source_and_target)
{
	struct cfg *c = load_ok(CFG_DATA "/full.yaml");
	cr_assert_eq(cfg_target_count(c), 2);
	const struct cfg_target *t = cfg_target_at(c, 0);
	cr_expect_str_eq(t->key, "shop/Deployment/web");
	cr_expect_str_eq(t->name, "web");
	cr_expect_str_eq(t->namespace, "shop");
	cr_expect_str_eq(t->origin, CFG_DATA "/full.yaml:41:1");
	cr_expect_str_eq(t->ref.api_version, "apps/v1");
	cr_expect_str_eq(t->ref.kind, "Deployment");
	cr_expect_str_eq(t->ref.name, "web");
	cr_expect_eq(t->interval_ms, 15000);
	cr_expect(t->interval_set);
	cr_expect_not(t->paused);
	cr_assert_eq(t->n_metrics, 4);

	const struct cfg_metric *m = &t->metrics[0];
	cr_expect_str_eq(m->name, "rps");
	cr_expect_str_eq(m->query,
	                 "sum(rate(http_requests_total{namespace=\"shop\",service=\"web\"}[1m]))");
	cr_expect_not(m->per_pod);
	cr_expect_not(m->type_set);
	cr_expect_eq(m->source, ENG_SRC_EXTERNAL);
	cr_expect_eq(m->target.type, ENG_TARGET_AVERAGE_VALUE);
	cr_expect(m->target.has_average_value);
	cr_expect_eq(m->target.average_value_milli, 100000);
	cr_expect_not(m->target.has_value);
	cr_expect_not(m->target.has_average_utilization);

	m = &t->metrics[1];
	cr_expect_str_eq(m->name, "cpu");
	cr_expect(m->per_pod);
	cr_expect_str_eq(m->pod.pod_label, "pod");
	cr_expect_str_eq(m->pod.resource, "cpu");
	cr_expect_eq(m->source, ENG_SRC_RESOURCE);
	cr_expect_eq(m->target.type, ENG_TARGET_UTILIZATION);
	cr_expect(m->target.has_average_utilization);
	cr_expect_eq(m->target.average_utilization, 70);

	m = &t->metrics[2];
	cr_expect_str_eq(m->name, "app-memory");
	/* A literal block keeps its final newline. */
	cr_expect_str_eq(
	    m->query,
	    "sum by (pod) "
	    "(container_memory_working_set_bytes{namespace=\"shop\",container=\"app\"})\n");
	cr_expect(m->type_set);
	cr_expect_eq(m->source, ENG_SRC_CONTAINER_RESOURCE);
	cr_expect_str_eq(m->container, "app");
	cr_expect_str_eq(m->pod.pod_label, "kubernetes_pod_name");
	cr_expect_str_eq(m->pod.resource, "memory");
	cr_expect_eq(m->target.type, ENG_TARGET_AVERAGE_VALUE);
	cr_expect_eq(m->target.average_value_milli, 512LL * 1024 * 1024 * 1000);

	m = &t->metrics[3];
	cr_expect_str_eq(m->name, "queue_depth");
	cr_expect_eq(m->source, ENG_SRC_OBJECT);
	cr_expect_eq(m->target.type, ENG_TARGET_VALUE);
	cr_expect(m->target.has_value);
	cr_expect_eq(m->target.value_milli, 1500000);
	cfg_unref(c);
}

Test(cfg, a_full_file_loads_behavior_forecast_and_fallback_with_hpa_defaults_filled)
{
	struct cfg *c = load_ok(CFG_DATA "/full.yaml");
	const struct cfg_target *t = cfg_target_at(c, 0);
	const struct eng_spec *s = &t->spec;
	cr_expect(s->has_min_replicas);
	cr_expect_eq(s->min_replicas, 2);
	cr_expect_eq(s->max_replicas, 50);
	cr_assert(s->has_behavior);

	const struct eng_rules *up = &s->behavior.scale_up;
	cr_expect(s->behavior.has_scale_up);
	cr_expect(up->has_window);
	cr_expect_eq(up->window_s, 0);
	cr_expect(up->has_select);
	cr_expect_eq(up->select, ENG_SELECT_MIN);
	cr_expect(up->has_policies);
	cr_assert_eq(up->n_policies, 2);
	cr_expect_eq(up->policies[0].type, ENG_POLICY_PODS);
	cr_expect_eq(up->policies[0].value, 4);
	cr_expect_eq(up->policies[0].period_s, 15);
	cr_expect_eq(up->policies[1].type, ENG_POLICY_PERCENT);
	cr_expect_eq(up->policies[1].value, 100);
	cr_expect_eq(up->policies[1].period_s, 15);
	cr_expect(up->has_tolerance);
	cr_expect_eq(up->tolerance, 0.05);

	const struct eng_rules *down = &s->behavior.scale_down;
	cr_expect(s->behavior.has_scale_down);
	cr_expect(down->has_window);
	cr_expect_eq(down->window_s, 600);
	cr_expect_eq(down->select, ENG_SELECT_MAX);
	cr_assert_eq(down->n_policies, 2);
	cr_expect_eq(down->policies[0].type, ENG_POLICY_PODS);
	cr_expect_eq(down->policies[0].value, 2);
	cr_expect_eq(down->policies[0].period_s, 60);
	cr_expect_eq(down->policies[1].type, ENG_POLICY_PERCENT);
	cr_expect_eq(down->policies[1].value, 10);
	cr_expect_eq(down->policies[1].period_s, 120);
	cr_expect(down->has_tolerance);
	cr_expect_eq(down->tolerance, 0.2);

	cr_expect(t->forecast.enabled);
	cr_expect_eq(t->forecast.model, CFG_MODEL_HOLT_WINTERS_ADDITIVE);
	cr_expect_eq(t->forecast.season_ms, 86400000LL);
	cr_expect_eq(t->forecast.history_ms, 14 * 86400000LL);
	cr_expect_eq(t->forecast.quantile, 0.95);
	cr_expect_eq(t->forecast.mode, CFG_FORECAST_OBSERVE);
	cr_expect_eq(t->forecast.pod_startup_ms, 90000);
	cr_expect_eq(t->forecast.metric_lag_ms, 45000);
	cr_expect(t->fallback.enabled);
	cr_expect_eq(t->fallback.failure_threshold, 5);
	cr_expect(t->fallback.has_replicas);
	cr_expect_eq(t->fallback.replicas, 6);
	/* The target carries the controller's parameters. */
	cr_expect_eq(t->params.tolerance, 0.05);
	cr_expect_eq(t->params.downscale_window_ms, 600000);
	cr_expect(t->params.gate_scale_to_zero);
	cfg_unref(c);
}

Test(cfg, the_engine_spec_mirrors_the_metrics_of_the_configuration)
{
	struct cfg *c = load_ok(CFG_DATA "/full.yaml");
	const struct eng_spec *s = &cfg_target_at(c, 0)->spec;
	cr_assert_eq(s->n_metrics, 4);
	cr_expect_eq(s->metrics[0].source, ENG_SRC_EXTERNAL);
	cr_expect_str_eq(s->metrics[0].name, "rps");
	cr_expect_str_eq(s->metrics[0].resource, "");
	cr_expect_eq(s->metrics[0].target.average_value_milli, 100000);
	cr_expect_eq(s->metrics[1].source, ENG_SRC_RESOURCE);
	cr_expect_str_eq(s->metrics[1].resource, "cpu");
	cr_expect_eq(s->metrics[1].target.type, ENG_TARGET_UTILIZATION);
	cr_expect_eq(s->metrics[1].target.average_utilization, 70);
	cr_expect_eq(s->metrics[2].source, ENG_SRC_CONTAINER_RESOURCE);
	cr_expect_str_eq(s->metrics[2].resource, "memory");
	cr_expect_str_eq(s->metrics[2].container, "app");
	cr_expect_eq(s->metrics[3].source, ENG_SRC_OBJECT);
	cr_expect_eq(s->metrics[3].target.type, ENG_TARGET_VALUE);
	cr_expect_eq(s->metrics[3].target.value_milli, 1500000);
	cfg_unref(c);
}

Test(cfg, an_autoscaler_without_interval_or_behavior_takes_the_controller_defaults)
{
	struct cfg *c = load_ok(CFG_DATA "/full.yaml");
	const struct cfg_target *t = cfg_target_at(c, 1);
	cr_expect_str_eq(t->key, "default/StatefulSet/worker");
	cr_expect_str_eq(t->namespace, "default");
	cr_expect_str_eq(t->ref.api_version, "apps/v1");
	cr_expect_not(t->interval_set);
	cr_expect_eq(t->interval_ms, 30000);
	cr_expect(t->paused);
	cr_expect_eq(t->spec.min_replicas, 0);
	cr_expect_eq(t->spec.max_replicas, 10);
	cr_expect_not(t->spec.has_behavior);
	cr_expect_not(t->forecast.enabled);
	cr_expect_not(t->fallback.enabled);
	cr_assert_eq(t->n_metrics, 2);
	cr_expect_eq(t->metrics[0].source, ENG_SRC_EXTERNAL);
	cr_expect_eq(t->metrics[0].target.type, ENG_TARGET_VALUE);
	cr_expect_eq(t->metrics[0].target.value_milli, 20000);
	cr_expect_eq(t->metrics[1].source, ENG_SRC_PODS);
	cr_expect(t->metrics[1].per_pod);
	cr_expect_str_eq(t->metrics[1].pod.pod_label, "pod");
	cr_expect_null(t->metrics[1].pod.resource);
	cr_expect_eq(t->metrics[1].target.type, ENG_TARGET_AVERAGE_VALUE);
	cr_expect_eq(t->metrics[1].target.average_value_milli, 800);
	cfg_unref(c);
}

Test(cfg, a_minimal_autoscaler_gets_every_default)
{
	struct cfg *c = load_ok(CFG_DATA "/minimal.yaml");
	const struct cfg_controller *k = cfg_controller(c);
	cr_expect_not(k->present);
	cr_expect_null(k->name);
	cr_expect_str_eq(k->prometheus.url, "http://localhost:9090");
	cr_expect_eq(k->prometheus.timeout_ms, 5000);
	cr_expect_null(k->prometheus.bearer_token_file);
	cr_expect_not(k->prometheus.has_basic_auth);
	cr_expect_not(k->prometheus.has_tls);
	cr_expect_eq(k->prometheus.headers.n, 0);
	cr_expect_eq(k->kubernetes.qps, 20.0);
	cr_expect_eq(k->kubernetes.burst, 30);
	cr_expect_str_eq(k->listen, ":8080");
	cr_expect_not(k->leader_election.enabled);
	cr_expect_null(k->leader_election.namespace);
	cr_expect_str_eq(k->leader_election.lease_name, "prescale");
	cr_expect_eq(k->leader_election.lease_duration_ms, 15000);
	cr_expect_eq(k->leader_election.renew_deadline_ms, 10000);
	cr_expect_eq(k->leader_election.retry_period_ms, 2000);
	cr_expect_eq(k->default_interval_ms, 15000);

	cr_assert_eq(cfg_target_count(c), 1);
	const struct cfg_target *t = cfg_target_at(c, 0);
	cr_expect_str_eq(t->key, "default/Deployment/api");
	cr_expect_eq(t->spec.min_replicas, 1);
	cr_expect(t->spec.has_min_replicas);
	cr_expect_eq(t->spec.max_replicas, 5);
	cr_expect_eq(t->interval_ms, 15000);
	cr_expect_not(t->paused);
	cr_expect_not(t->spec.has_behavior);
	cr_expect_not(t->forecast.enabled);
	cr_expect_not(t->fallback.enabled);
	cr_assert_eq(t->n_metrics, 1);
	cr_expect_eq(t->metrics[0].source, ENG_SRC_RESOURCE);
	cr_expect_str_eq(t->metrics[0].pod.pod_label, "pod");
	cr_expect_eq(t->metrics[0].target.type, ENG_TARGET_UTILIZATION);
	cr_expect_eq(t->metrics[0].target.average_utilization, 80);
	cfg_unref(c);
}

/* The table writes the hpa defaults as text; Kubernetes' values live in the engine. */
Test(cfg, the_hpa_defaults_of_the_table_equal_the_engine_defaults)
{
	struct cfg *c = load_ok(CFG_DATA "/minimal.yaml");
	struct eng_params want;
	eng_params_default(&want);
	const struct eng_params *got = &cfg_controller(c)->params;
	cr_expect_eq(got->tolerance, want.tolerance);
	cr_expect_eq(got->cpu_init_period_ms, want.cpu_init_period_ms);
	cr_expect_eq(got->readiness_delay_ms, want.readiness_delay_ms);
	cr_expect_eq(got->downscale_window_ms, want.downscale_window_ms);
	cr_expect_eq(got->scale_up_limit_factor, want.scale_up_limit_factor);
	cr_expect_eq(got->scale_up_limit_minimum, want.scale_up_limit_minimum);
	cr_expect_eq(got->gate_scale_to_zero, want.gate_scale_to_zero);
	cr_expect_eq(got->gate_configurable_tolerance, want.gate_configurable_tolerance);
	cr_expect_eq(got->gate_pod_level_resources, want.gate_pod_level_resources);
	/* And Kubernetes' production values, from SEMANTICS.md section 2. */
	cr_expect_eq(got->tolerance, 0.1);
	cr_expect_eq(got->cpu_init_period_ms, 300000);
	cr_expect_eq(got->readiness_delay_ms, 30000);
	cr_expect_eq(got->downscale_window_ms, 300000);
	cfg_unref(c);
}

Test(cfg, a_directory_loads_its_yaml_files_in_name_order_and_skips_everything_else)
{
	struct cfg *c = load_ok(CFG_DATA "/dir");
	/* 20-web.yml, 30-more.yaml, 90-controller.yaml; not .hidden.yaml, notes.txt, sub.yaml/. */
	cr_expect_eq(cfg_file_count(c), 3);
	cr_expect_str_eq(cfg_path(c), CFG_DATA "/dir");
	cr_expect(cfg_controller(c)->present);
	cr_assert_eq(cfg_target_count(c), 3);
	cr_expect_str_eq(cfg_target_at(c, 0)->key, "team-a/Deployment/web");
	cr_expect_str_eq(cfg_target_at(c, 0)->origin, CFG_DATA "/dir/20-web.yml:1:1");
	cr_expect_str_eq(cfg_target_at(c, 1)->key, "team-a/Deployment/api");
	cr_expect_str_eq(cfg_target_at(c, 1)->origin, CFG_DATA "/dir/30-more.yaml:3:1");
	cr_expect_str_eq(cfg_target_at(c, 2)->key, "team-a/Deployment/batch");
	/* The ControllerConfig comes last in name order, and still gives the default. */
	cr_expect_eq(cfg_target_at(c, 0)->interval_ms, 20000);
	cr_expect_eq(cfg_target_at(c, 1)->interval_ms, 20000);
	cr_expect_eq(cfg_target_at(c, 2)->interval_ms, 60000);
	cr_expect_eq(cfg_target_find(c, "team-a/Deployment/api"), cfg_target_at(c, 1));
	cr_expect_eq(cfg_target_find(c, "team-a/Deployment/batch"), cfg_target_at(c, 2));
	cr_expect_null(cfg_target_find(c, "team-a/Deployment/nope"));
	cfg_unref(c);
}

Test(cfg, a_configmap_volume_is_read_once_through_its_symlinks)
{
	struct cfg *c = load_ok(CFG_DATA "/configmap");
	cr_expect_eq(cfg_file_count(c), 1);
	cr_assert_eq(cfg_target_count(c), 1);
	cr_expect_str_eq(cfg_target_at(c, 0)->key, "ops/Deployment/cm");
	cr_expect_str_eq(cfg_target_at(c, 0)->origin, CFG_DATA "/configmap/autoscalers.yaml:2:1");
	cfg_unref(c);
}

/* ---- bad files: each with its exact message ---- */

struct bad_case {
	const char *file;
	enum ps_err rc;
	const char *msg; /* after "<path>:" */
};

static const struct bad_case bad_cases[] = {
    {"bad-unknown-key.yaml", PS_ECONFIG,
     "10:3: unknown key \"minReplica\" in Autoscaler spec (did you mean \"minReplicas\"?)"},
    {"bad-type.yaml", PS_ECONFIG, "10:16: spec.maxReplicas: expected an integer, got \"ten\""},
    {"bad-range.yaml", PS_ECONFIG,
     "17:35: spec.behavior.scaleDown.stabilizationWindowSeconds: 4000 is out of range "
     "(0..3600)"},
    {"bad-duration.yaml", PS_ECONFIG,
     "11:13: spec.interval: invalid duration \"15 seconds\" (expected a number and a unit: ms, "
     "s, m, h or d, e.g. \"1m30s\")"},
    {"bad-quantity.yaml", PS_ECONFIG,
     "15:23: spec.metrics[0].target.averageValue: invalid quantity \"100 rps\" (expected e.g. "
     "\"100\", \"500m\", \"1.5k\" or \"2Gi\")"},
    {"bad-duplicate.yaml", PS_ECONFIG,
     "15:19: duplicate target \"shop/Deployment/web\" (first defined at " CFG_DATA
     "/bad-duplicate.yaml:6:19)"},
    {"bad-yaml.yaml", PS_ECONFIG,
     "7:14: malformed YAML: did not find expected ',' or '}' (while parsing a flow mapping at "
     "line 6, column 19)"},
    {"bad-max-below-min.yaml", PS_ECONFIG,
     "11:16: spec.maxReplicas: 2 is less than minReplicas (5)"},
    {"bad-kind.yaml", PS_ECONFIG,
     "2:7: unknown kind \"Autoscalr\" (expected ControllerConfig or Autoscaler) (did you mean "
     "\"Autoscaler\"?)"},
    {"bad-api-version.yaml", PS_ECONFIG,
     "1:13: unsupported apiVersion \"prescale.dev/v1\" (expected \"prescale.dev/v1alpha1\")"},
    {"bad-missing.yaml", PS_ECONFIG,
     "7:3: missing required key \"maxReplicas\" in Autoscaler spec"},
    {"bad-enum.yaml", PS_ECONFIG,
     "16:29: spec.behavior.scaleUp.selectPolicy: invalid value \"max\" (expected Max, Min or "
     "Disabled) (did you mean \"Max\"?)"},
    {"bad-target-type.yaml", PS_ECONFIG,
     "15:22: spec.metrics[0].target: type Utilization is not allowed for Pods metrics"},
    {"bad-scale-to-zero.yaml", PS_ECONFIG,
     "10:16: spec.minReplicas: 0 needs hpa.scaleToZero: true in the ControllerConfig"},
};

Test(cfg, each_bad_file_gives_its_exact_message)
{
	for (size_t i = 0; i < PS_ARRAY_LEN(bad_cases); i++) {
		const struct bad_case *b = &bad_cases[i];
		char path[512], want[1024];
		snprintf(path, sizeof(path), "%s/%s", CFG_DATA, b->file);
		snprintf(want, sizeof(want), "%s:%s", path, b->msg);
		struct cfg *c = (struct cfg *)1;
		struct cfg_errors *errs = NULL;
		struct ps_diag d;
		enum ps_err rc = cfg_load(path, &c, &errs, &d);
		cr_expect_eq(rc, b->rc, "%s: %s", b->file, ps_err_name(rc));
		cr_expect_null(c, "%s", b->file);
		cr_expect_eq(d.err, b->rc, "%s", b->file);
		cr_expect_str_eq(d.msg, want, "%s", b->file);
		cr_expect_eq(cfg_errors_count(errs), 1, "%s: %zu errors", b->file,
		             cfg_errors_count(errs));
		if (cfg_errors_count(errs) > 0)
			cr_expect_str_eq(cfg_errors_at(errs, 0), want);
		cfg_errors_free(errs);
	}
}

Test(cfg, every_error_of_a_document_is_collected_in_file_order)
{
	static const char *const want[] = {
	    "5:9: metadata.name: invalid value \"Web_1\" (expected a DNS-1123 subdomain)",
	    "10:16: spec.maxReplicas: expected an integer, got the string \"10\"",
	    "11:11: spec.paused: expected true or false, got \"yes\"",
	    "15:30: spec.metrics[0].target.averageValue: -5 is out of range (> 0)",
	    "16:7: missing required key \"query\" in Autoscaler spec.metrics[1]",
	    "16:13: spec.metrics[1].name: \"rps\" is already used by spec.metrics[0]",
	    "17:7: unknown key \"querry\" in Autoscaler spec.metrics[1] (did you mean \"query\"?)",
	    "20:15: spec.forecast.quantile: 1 is out of range (> 0, < 1)",
	    ("21:12: spec.forecast.model: invalid value \"holt-winter\" (expected auto, "
	     "seasonal-naive, holt, holt-winters-additive, holt-winters-multiplicative or linear)"),
	};
	const char *path = CFG_DATA "/bad-many.yaml";
	struct cfg *c;
	struct cfg_errors *errs;
	cr_assert_eq(cfg_load(path, &c, &errs, NULL), PS_ECONFIG);
	cr_assert_eq(cfg_errors_count(errs), PS_ARRAY_LEN(want));
	cr_expect_not(cfg_errors_truncated(errs));
	for (size_t i = 0; i < PS_ARRAY_LEN(want); i++) {
		char w[512];
		snprintf(w, sizeof(w), "%s:%s", path, want[i]);
		cr_expect_str_eq(cfg_errors_at(errs, i), w);
	}
	cfg_errors_free(errs);
}

Test(cfg, errors_stop_at_the_cap_and_the_list_says_it_was_cut, .init = make_tmpdir,
     .fini = remove_tmpdir)
{
	char text[8192] = HEAD META "spec:\n" REF "  maxReplicas: 3\n" RPS;
	for (int i = 0; i < 30; i++)
		snprintf(text + strlen(text), sizeof(text) - strlen(text), "  bogus%d: 1\n", i);
	char path[512];
	write_tmp(text, path, sizeof(path));
	struct cfg *c;
	struct cfg_errors *errs;
	cr_assert_eq(cfg_load(path, &c, &errs, NULL), PS_ECONFIG);
	cr_expect_eq(cfg_errors_count(errs), CFG_MAX_ERRORS);
	cr_expect(cfg_errors_truncated(errs));
	cfg_errors_free(errs);
}

Test(cfg, a_missing_path_is_not_found_and_names_the_path)
{
	struct cfg *c;
	struct cfg_errors *errs;
	struct ps_diag d;
	cr_expect_eq(cfg_load(CFG_DATA "/no-such.yaml", &c, &errs, &d), PS_ENOENT);
	cr_expect_null(c);
	cr_expect_str_eq(d.msg,
	                 "cannot read \"" CFG_DATA "/no-such.yaml\": No such file or directory");
	cr_expect_eq(cfg_errors_count(errs), 1);
	cfg_errors_free(errs);
}

/* Cross-field rules and structural errors, on small inline documents. */
Test(cfg, cross_field_rules_give_their_messages, .init = make_tmpdir, .fini = remove_tmpdir)
{
	static const struct {
		const char *yaml, *msg;
	} cases[] = {
	    {HEAD META "spec:\n" REF "  minReplicas: 0\n  maxReplicas: 3\n"
	               "  metrics:\n    - {name: cpu, query: q, perPod: {resource: cpu}, "
	               "target: {averageUtilization: 50}}\n"
	               "---\napiVersion: prescale.dev/v1alpha1\nkind: ControllerConfig\n"
	               "hpa: {scaleToZero: true}\n",
	     ":6:16: spec.minReplicas: 0 needs an Object or External metric"},
	    {HEAD META "spec:\n" REF "  maxReplicas: 3\n"
	               "  metrics:\n    - {name: cpu, query: q, type: Resource, perPod: {}, "
	               "target: {averageUtilization: 50}}\n",
	     ":8:35: spec.metrics[0].type: Resource metrics need perPod.resource"},
	    {HEAD META
	     "spec:\n" REF "  maxReplicas: 3\n"
	     "  metrics:\n    - {name: cpu, query: q, type: Resource, container: app, perPod: "
	     "{resource: cpu}, target: {averageUtilization: 50}}\n",
	     ":8:56: spec.metrics[0].container: only used by ContainerResource metrics"},
	    {HEAD META "spec:\n" REF "  maxReplicas: 3\n"
	               "  metrics:\n    - {name: q, query: q, perPod: {}, type: External, "
	               "target: {value: 5}}\n",
	     ":8:35: spec.metrics[0].perPod: not used by External metrics (their query gives one "
	     "value)"},
	    {HEAD META
	     "spec:\n" REF "  maxReplicas: 3\n"
	     "  metrics:\n    - {name: q, query: q, target: {value: 5, averageValue: 3}}\n",
	     ":8:35: spec.metrics[0].target: set exactly one of averageUtilization, averageValue "
	     "or value, or a type"},
	    {HEAD META
	     "spec:\n" REF "  maxReplicas: 3\n"
	     "  metrics:\n    - {name: q, query: q, target: {type: Value, averageValue: 3}}\n",
	     ":8:42: spec.metrics[0].target.type: Value needs value"},
	    {HEAD META "spec:\n" REF "  maxReplicas: 3\n" RPS "  fallback: {replicas: 9}\n",
	     ":9:24: spec.fallback.replicas: 9 is outside minReplicas..maxReplicas (1..3)"},
	    {HEAD META "spec:\n" REF "  maxReplicas: 3\n" RPS
	               "  forecast: {season: 7d, history: 1d}\n",
	     ":9:35: spec.forecast.history: must cover at least one season"},
	    {"apiVersion: prescale.dev/v1alpha1\nkind: ControllerConfig\n"
	     "leaderElection: {leaseDuration: 10s, renewDeadline: 10s}\n",
	     ":3:33: leaderElection.leaseDuration: must be greater than renewDeadline"},
	    {"apiVersion: prescale.dev/v1alpha1\nkind: ControllerConfig\n"
	     "prometheus: {url: 'http://p:9090', tls: {caFile: /ca.pem}}\n",
	     ":3:41: prometheus.tls: needs an https:// url"},
	    {"apiVersion: prescale.dev/v1alpha1\nkind: ControllerConfig\n"
	     "prometheus: {bearerTokenFile: /t, basicAuth: {username: u, passwordFile: /p}}\n",
	     ":3:31: prometheus.bearerTokenFile: cannot be combined with basicAuth"},
	    {"apiVersion: prescale.dev/v1alpha1\nkind: ControllerConfig\n"
	     "prometheus: {headers: {X-Tenant: \"a\\r\\nHost: evil\"}}\n",
	     ":3:34: prometheus.headers.X-Tenant: must not contain control characters"},
	    {"apiVersion: prescale.dev/v1alpha1\nkind: ControllerConfig\n"
	     "prometheus: {params: {query: x}}\n",
	     ":3:23: prometheus.params: invalid name \"query\" (expected a query parameter name "
	     "other than query, time, start, end, step, timeout)"},
	    {"apiVersion: prescale.dev/v1alpha1\nkind: ControllerConfig\nlisten: ':99999'\n",
	     ":3:9: listen: invalid value \":99999\" (expected a [host]:port)"},
	    {"apiVersion: prescale.dev/v1alpha1\nkind: ControllerConfig\n---\n"
	     "apiVersion: prescale.dev/v1alpha1\nkind: ControllerConfig\n",
	     ":4:1: more than one ControllerConfig (the first is at "},
	    {HEAD META "spec:\n" REF "  maxReplicas: 3\n" RPS "---\n" HEAD META "spec:\n"
	               "  scaleTargetRef: {kind: Deployment, name: other}\n  maxReplicas: 3\n" RPS,
	     ":12:18: duplicate Autoscaler \"shop/web\" (first defined at "},
	    {HEAD META "spec:\n" REF "  maxReplicas: 3\n  maxReplicas: 4\n" RPS,
	     ":7:3: duplicate key \"maxReplicas\" in Autoscaler spec (first at line 6)"},
	    {HEAD META "spec:\n" REF "  maxReplicas:\n" RPS,
	     ":6:3: missing value for required key \"maxReplicas\" in Autoscaler spec"},
	    {HEAD META "spec:\n" REF "  maxReplicas: 3\n  metrics: []\n",
	     ":7:12: spec.metrics: must not be empty"},
	    {HEAD META "spec: [1, 2]\n", ":4:7: spec: expected a mapping, got a sequence"},
	    {HEAD META "spec:\n" REF "  maxReplicas: 2147483648\n" RPS,
	     ":6:16: spec.maxReplicas: 2147483648 is too large (at most 2147483647)"},
	    {HEAD META "spec:\n" REF "  maxReplicas: 99999999999999999999\n" RPS,
	     ":6:16: spec.maxReplicas: \"99999999999999999999\" is too large"},
	    {"apiVersion: prescale.dev/v1alpha1\nkind: ControllerConfig\nkubernetes: {qps: "
	     "1e999}\n",
	     ":3:19: kubernetes.qps: \"1e999\" is out of range"},
	    {"- just a list\n",
	     ":1:1: expected a mapping at the top of the document, got a sequence"},
	    {"kind: Autoscaler\n",
	     ":1:1: missing required key \"apiVersion\" (expected \"prescale.dev/v1alpha1\")"},
	    {HEAD META "spec:\n" REF "  maxReplicas: 3\n" RPS "  behavior:\n    scaleUp:\n"
	               "      policies:\n        - {type: Pods, value: 0, periodSeconds: 2000}\n",
	     ":12:31: spec.behavior.scaleUp.policies[0].value: 0 is out of range (>= 1)\n"
	     ":12:49: spec.behavior.scaleUp.policies[0].periodSeconds: 2000 is out of range "
	     "(1..1800)"},
	};
	for (size_t i = 0; i < PS_ARRAY_LEN(cases); i++) {
		char got[4096];
		load_text_errors(cases[i].yaml, got, sizeof(got));
		cr_expect_eq(strncmp(got, cases[i].msg, strlen(cases[i].msg)), 0,
		             "case %zu:\n got: %s\nwant: %s", i, got, cases[i].msg);
	}
}

Test(cfg, null_values_count_as_absent_keys, .init = make_tmpdir, .fini = remove_tmpdir)
{
	struct cfg *c = load_text(HEAD META "spec:\n" REF "  minReplicas: ~\n  interval: null\n"
	                                    "  maxReplicas: 3\n  behavior:\n" RPS);
	const struct cfg_target *t = cfg_target_at(c, 0);
	cr_expect_eq(t->spec.min_replicas, 1);
	cr_expect_not(t->interval_set);
	cr_expect_eq(t->interval_ms, 15000);
	cr_expect_not(t->spec.has_behavior);
	cfg_unref(c);
}

Test(cfg, suggestions_are_offered_only_for_close_names)
{
	const char *const keys[] = {"minReplicas", "maxReplicas", "metrics", "interval"};
	cr_expect_str_eq(cfg_suggest("minReplica", keys, 4), "minReplicas");
	cr_expect_str_eq(cfg_suggest("MaxReplicas", keys, 4), "maxReplicas");
	cr_expect_str_eq(cfg_suggest("metircs", keys, 4), "metrics");
	cr_expect_str_eq(cfg_suggest("intreval", keys, 4), "interval");
	cr_expect_null(cfg_suggest("replicas", keys, 4));
	cr_expect_null(cfg_suggest("x", keys, 4));
}

/* ---- allocation failures ---- */

/* Leaks are found by LeakSanitizer in the sanitizer build (-DPS_SANITIZE=ON); glibc's own
 * counters cannot tell a leak from a chunk its per-thread cache keeps. */
static void expect_no_leak(void)
{
#ifdef HAVE_LSAN
	cr_expect_eq(__lsan_do_recoverable_leak_check(), 0, "LeakSanitizer found a leak");
#endif
}

Test(cfg, every_allocation_failure_while_loading_gives_enomem_and_leaks_nothing)
{
	static const char *const paths[] = {CFG_DATA "/full.yaml", CFG_DATA "/dir",
	                                    CFG_DATA "/bad-many.yaml"};
	for (size_t p = 0; p < PS_ARRAY_LEN(paths); p++) {
		/* Warm up stdio and libyaml once, so the heap baseline is stable. */
		struct cfg *c;
		struct cfg_errors *errs;
		enum ps_err ok_rc = cfg_load(paths[p], &c, &errs, NULL);
		cfg_unref(c);
		cfg_errors_free(errs);
		uint64_t n;
		for (n = 1; n < 100000; n++) {
			struct ps_diag d;
			ps_alloc_fail_at(n);
			enum ps_err rc = cfg_load(paths[p], &c, &errs, &d);
			bool injected = ps_alloc_injected();
			ps_alloc_fail_at(0);
			if (!injected) {
				cr_expect_eq(rc, ok_rc, "%s n=%llu: %s", paths[p],
				             (unsigned long long)n, ps_err_name(rc));
				cfg_unref(c);
				cfg_errors_free(errs);
				break;
			}
			cr_expect_eq(rc, PS_ENOMEM, "%s n=%llu: %s", paths[p],
			             (unsigned long long)n, ps_err_name(rc));
			cr_expect_null(c);
			cr_expect_null(errs);
			cr_expect_eq(d.err, PS_ENOMEM);
			if (rc != PS_ENOMEM) {
				cfg_unref(c);
				cfg_errors_free(errs);
			}
		}
		cr_expect_gt(n, 20, "%s: the load made only %llu allocations", paths[p],
		             (unsigned long long)n);
		expect_no_leak();
	}
}

Test(cfg, every_allocation_failure_while_rendering_gives_enomem)
{
	struct cfg *c = load_ok(CFG_DATA "/full.yaml");
	char *text;
	cr_assert_eq(cfg_dump(c, &text), PS_OK);
	ps_free(text);
	for (uint64_t n = 1;; n++) {
		ps_alloc_fail_at(n);
		enum ps_err rc = cfg_dump(c, &text);
		bool injected = ps_alloc_injected();
		ps_alloc_fail_at(0);
		if (!injected) {
			cr_expect_eq(rc, PS_OK);
			ps_free(text);
			break;
		}
		cr_expect_eq(rc, PS_ENOMEM);
		cr_expect_null(text);
	}
	for (uint64_t n = 1;; n++) {
		ps_alloc_fail_at(n);
		text = cfg_reference_markdown();
		bool injected = ps_alloc_injected();
		ps_alloc_fail_at(0);
		if (!injected) {
			cr_expect_not_null(text);
			ps_free(text);
			break;
		}
		cr_expect_null(text);
	}
	expect_no_leak();
	cfg_unref(c);
}

/* ---- snapshots and reloads ---- */

static void *ref_unref_many(void *arg)
{
	struct cfg *c = arg;
	for (int i = 0; i < 100000; i++) {
		struct cfg *r = cfg_ref(c);
		cr_assert_str_eq(cfg_target_at(r, 0)->key, "default/Deployment/api");
		cfg_unref(r);
	}
	return NULL;
}

Test(cfg, a_snapshot_lives_until_its_last_reference_is_dropped_from_any_thread)
{
	struct cfg *c = load_ok(CFG_DATA "/minimal.yaml");
	pthread_t th[4];
	for (size_t i = 0; i < PS_ARRAY_LEN(th); i++)
		cr_assert_eq(pthread_create(&th[i], NULL, ref_unref_many, c), 0);
	for (size_t i = 0; i < PS_ARRAY_LEN(th); i++)
		cr_assert_eq(pthread_join(th[i], NULL), 0);
	struct cfg *extra = cfg_ref(c);
	cfg_unref(c);
	/* Still alive through <extra> (ASan would catch a use after free). */
	cr_expect_str_eq(cfg_target_at(extra, 0)->key, "default/Deployment/api");
	cfg_unref(extra);
	cfg_unref(NULL);
}

/* Replaces the first <from> in the file at <src> with <to>, into a temporary file. */
static struct cfg *load_edited(const char *src, const char *from, const char *to)
{
	struct ps_buf b;
	ps_buf_init(&b, 1 << 20);
	cr_assert_eq(ps_buf_read_file(&b, src, NULL), PS_OK);
	const char *text = ps_buf_cstr(&b);
	const char *at = strstr(text, from);
	cr_assert_not_null(at, "%s not in %s", from, src);
	char *edited = malloc(b.len + strlen(to) + 1);
	cr_assert_not_null(edited);
	size_t pre = (size_t)(at - text);
	memcpy(edited, text, pre);
	strcpy(edited + pre, to);
	strcat(edited, at + strlen(from));
	struct cfg *c = load_text(edited);
	free(edited);
	ps_buf_release(&b);
	return c;
}

Test(cfg, a_reload_is_refused_only_when_a_static_key_changed, .init = make_tmpdir,
     .fini = remove_tmpdir)
{
	struct cfg *cur = load_ok(CFG_DATA "/full.yaml");
	struct cfg *same = load_edited(CFG_DATA "/full.yaml", "timeout: 2500ms", "timeout: 3s");
	struct cfg *listen = load_edited(CFG_DATA "/full.yaml", "127.0.0.1:9100", "0.0.0.0:9100");
	struct cfg *qps = load_edited(CFG_DATA "/full.yaml", "qps: 12.5", "qps: 13");
	struct ps_diag d;
	cr_expect_eq(cfg_check_reload(cur, same, &d), PS_OK);
	cr_expect_eq(cfg_check_reload(cur, listen, &d), PS_ECONFIG);
	cr_expect(strstr(d.msg, "ControllerConfig key listen changed") != NULL, "%s", d.msg);
	cr_expect_eq(cfg_check_reload(cur, qps, &d), PS_ECONFIG);
	cr_expect(strstr(d.msg, "key kubernetes.qps changed") != NULL, "%s", d.msg);
	cfg_unref(cur);
	cfg_unref(same);
	cfg_unref(listen);
	cfg_unref(qps);
}

Test(cfg, target_comparison_tells_a_changed_spec_from_a_changed_query, .init = make_tmpdir,
     .fini = remove_tmpdir)
{
	struct cfg *a = load_ok(CFG_DATA "/full.yaml");
	struct cfg *b = load_ok(CFG_DATA "/full.yaml");
	struct cfg *max = load_edited(CFG_DATA "/full.yaml", "maxReplicas: 50", "maxReplicas: 60");
	struct cfg *query =
	    load_edited(CFG_DATA "/full.yaml", "max(queue_depth", "min(queue_depth");
	struct cfg *hpa = load_edited(CFG_DATA "/full.yaml", "tolerance: 0.05", "tolerance: 0.06");
	const struct cfg_target *ta = cfg_target_at(a, 0);
	cr_expect(cfg_target_equal(ta, cfg_target_at(b, 0)));
	cr_expect_not(cfg_target_equal(ta, cfg_target_at(a, 1)));
	cr_expect_not(cfg_target_equal(ta, cfg_target_at(max, 0)));
	cr_expect(cfg_target_same_queries(ta, cfg_target_at(max, 0)));
	cr_expect_not(cfg_target_equal(ta, cfg_target_at(query, 0)));
	cr_expect_not(cfg_target_same_queries(ta, cfg_target_at(query, 0)));
	/* The controller's parameters are part of what a worker must be handed. */
	cr_expect_not(cfg_target_equal(ta, cfg_target_at(hpa, 0)));
	cr_expect(cfg_target_same_queries(ta, cfg_target_at(hpa, 0)));
	cfg_unref(a);
	cfg_unref(b);
	cfg_unref(max);
	cfg_unref(query);
	cfg_unref(hpa);
}

/* ---- the dump ---- */

/* <text> without the lines that start with "# " in column 1 (they name files). */
static void strip_file_comments(const char *text, char *out, size_t size)
{
	size_t o = 0;
	for (const char *p = text; *p;) {
		const char *nl = strchr(p, '\n');
		size_t len = nl ? (size_t)(nl - p) + 1 : strlen(p);
		if (strncmp(p, "# ", 2) != 0 && o + len < size) {
			memcpy(out + o, p, len);
			o += len;
		}
		p += len;
	}
	out[o] = '\0';
}

Test(cfg, the_dump_loads_back_to_the_same_configuration, .init = make_tmpdir, .fini = remove_tmpdir)
{
	static const char *const paths[] = {CFG_DATA "/dir", CFG_DATA "/minimal.yaml"};
	for (size_t i = 0; i < PS_ARRAY_LEN(paths); i++) {
		struct cfg *c = load_ok(paths[i]);
		char *one, *two;
		cr_assert_eq(cfg_dump(c, &one), PS_OK);
		struct cfg *back = load_text(one);
		cr_assert_eq(cfg_dump(back, &two), PS_OK);
		static char a[1 << 16], b[1 << 16];
		strip_file_comments(one, a, sizeof(a));
		strip_file_comments(two, b, sizeof(b));
		cr_expect_str_eq(a, b);
		cr_assert_eq(cfg_target_count(back), cfg_target_count(c));
		for (size_t t = 0; t < cfg_target_count(c); t++) {
			const struct cfg_target *x = cfg_target_at(c, t),
			                        *y = cfg_target_at(back, t);
			cr_expect(same_str(x->key, y->key));
			cr_expect_eq(memcmp(&x->spec, &y->spec, sizeof(x->spec)), 0, "%s", x->key);
			cr_expect_eq(x->interval_ms, y->interval_ms);
		}
		ps_free(one);
		ps_free(two);
		cfg_unref(c);
		cfg_unref(back);
	}
}

Test(cfg, the_dump_shows_defaults_and_hides_header_values)
{
	struct cfg *c = load_ok(CFG_DATA "/full.yaml");
	char *text;
	cr_assert_eq(cfg_dump(c, &text), PS_OK);
	cr_expect(strstr(text, "X-Scope-OrgID: \"<hidden>\"\n") != NULL);
	cr_expect(strstr(text, "tenant-a") == NULL);
	/* Defaults filled by the HPA rules and derived types are shown. */
	cr_expect(strstr(text, "    scaleUp:\n      stabilizationWindowSeconds: 0\n"
	                       "      selectPolicy: Min\n      policies:\n        - type: Pods\n"
	                       "          value: 4\n          periodSeconds: 15\n") != NULL,
	          "%s", text);
	cr_expect(strstr(text, "    - name: rps\n      query: \"sum(rate(http_requests_total{"
	                       "namespace=\\\"shop\\\",service=\\\"web\\\"}[1m]))\"\n      type: "
	                       "External\n") != NULL);
	cr_expect(strstr(text, "  # behavior: not set (legacy HPA rules") != NULL);
	ps_free(text);
	cfg_unref(c);
}

/* ---- the descriptor table and the reference ---- */

/* Checks every row under <obj>: documented, within the walker's limits, defaults that parse
 * and lie within the bounds, and a path in the reference. */
static void check_rows(const struct cfg_object *obj, const char *prefix, const char *reference)
{
	cr_assert_leq(obj->n_keys, CFG_MAX_KEYS);
	for (size_t i = 0; i < obj->n_keys; i++) {
		const struct cfg_key *k = &obj->keys[i];
		char path[256], cell[300];
		snprintf(path, sizeof(path), "%s%s%s", prefix, prefix[0] ? "." : "", k->name);
		cr_expect(k->doc && k->doc[0], "%s has no description", path);
		snprintf(cell, sizeof(cell), "| `%s` |", path);
		cr_expect(strstr(reference, cell) != NULL, "%s is not in the reference", path);
		if (k->def) {
			union {
				char *s;
				int64_t i;
				double d;
			} v = {0};
			char why[256];
			cr_expect_eq(
			    cfg_key_convert(k, k->def, strlen(k->def), true, &v, why, sizeof(why)),
			    PS_OK, "%s: default %s: %s", path, k->def, why);
			if (k->type == CFG_T_STRING)
				ps_free(v.s);
		}
		if (k->type == CFG_T_OBJECT) {
			check_rows(k->child, path, reference);
		} else if (k->type == CFG_T_LIST) {
			cr_expect_gt(k->hi, 0, "%s: a list needs a capacity", path);
			cr_expect_gt(k->child->size, 0, "%s: a list needs an item size", path);
			strcat(path, "[]");
			check_rows(k->child, path, reference);
		}
	}
}

Test(cfg, every_key_is_documented_in_the_reference_and_its_default_is_valid)
{
	char *ref = cfg_reference_markdown();
	cr_assert_not_null(ref);
	check_rows(&cfg_controller_object, "", ref);
	check_rows(&cfg_autoscaler_object, "", ref);
	ps_free(ref);
}

static char *read_text(const char *path)
{
	struct ps_buf b;
	ps_buf_init(&b, 1 << 20);
	struct ps_diag d;
	enum ps_err rc = ps_buf_read_file(&b, path, &d);
	cr_assert_eq(rc, PS_OK, "%s", ps_diag_msg(&d));
	char *s = ps_buf_detach(&b);
	cr_assert_not_null(s);
	return s;
}

Test(cfg, the_reference_file_in_the_test_data_is_the_generated_table)
{
	char *want = cfg_reference_markdown();
	char *got = read_text(CFG_DATA "/reference.md");
	cr_expect_str_eq(
	    got, want,
	    "regenerate it: prescale check --reference > tests/data/config/reference.md");
	ps_free(want);
	ps_free(got);
}

/* README.md holds the output of `prescale check --reference` between the marker lines. */
Test(cfg, the_readme_configuration_reference_is_the_generated_table)
{
	static const char begin[] = "<!-- config-reference:begin -->\n";
	static const char end[] = "<!-- config-reference:end -->";
	char *readme = read_text(PS_SOURCE_DIR "/README.md");
	char *b = strstr(readme, begin);
	cr_assert_not_null(b, "README.md has no line %s", begin);
	b += strlen(begin);
	char *e = strstr(b, end);
	cr_assert_not_null(e, "README.md has no %s after the begin marker", end);
	*e = '\0';
	char *want = cfg_reference_markdown();
	cr_expect_str_eq(b, want,
	                 "README.md's configuration reference differs from `prescale check "
	                 "--reference`: paste its output between the markers");
	ps_free(want);
	ps_free(readme);
}

/* ---- prescale check ---- */

/* Runs the prescale binary with <args>; returns the exit status, stdout and stderr. */
static int run_check(const char *args, char *out, size_t out_size, char *err, size_t err_size)
{
	char cmd[1024], errpath[] = "/tmp/ps_cfg_stderr.XXXXXX";
	int fd = mkstemp(errpath);
	cr_assert_geq(fd, 0);
	close(fd);
	snprintf(cmd, sizeof(cmd), "'%s' check %s 2>'%s'", PS_BINARY, args, errpath);
	FILE *p = popen(cmd, "r");
	cr_assert_not_null(p);
	size_t n = fread(out, 1, out_size - 1, p);
	out[n] = '\0';
	int status = pclose(p);
	FILE *f = fopen(errpath, "r");
	cr_assert_not_null(f);
	n = fread(err, 1, err_size - 1, f);
	err[n] = '\0';
	fclose(f);
	unlink(errpath);
	cr_assert(WIFEXITED(status));
	return WEXITSTATUS(status);
}

Test(cfg, check_prints_the_resolved_configuration_and_exits_0)
{
	static char out[1 << 16], err[4096];
	cr_expect_eq(run_check("-c " CFG_DATA "/minimal.yaml", out, sizeof(out), err, sizeof(err)),
	             0);
	cr_expect_str_eq(err, "");
	cr_expect(strncmp(out,
	                  "# " CFG_DATA "/minimal.yaml: valid; 1 file, no ControllerConfig, "
	                  "1 target\n",
	                  strlen("# " CFG_DATA "/minimal.yaml: valid; 1 file, no ControllerConfig, "
	                         "1 target\n")) == 0,
	          "%s", out);
	cr_expect(strstr(out, "  minReplicas: 1\n  maxReplicas: 5\n  interval: 15s\n") != NULL,
	          "%s", out);
}

Test(cfg, check_prints_every_error_on_stderr_and_exits_2)
{
	static char out[4096], err[1 << 14];
	cr_expect_eq(run_check("-c " CFG_DATA "/bad-many.yaml", out, sizeof(out), err, sizeof(err)),
	             2);
	cr_expect_str_eq(out, "");
	size_t lines = 0;
	for (const char *p = err; (p = strchr(p, '\n')) != NULL; p++)
		lines++;
	cr_expect_eq(lines, 9, "%s", err);
	cr_expect(strncmp(err, CFG_DATA "/bad-many.yaml:5:9: metadata.name: ", 10) == 0, "%s", err);
}

Test(cfg, check_usage_errors_exit_2_and_the_reference_exits_0)
{
	static char out[1 << 16], err[4096];
	cr_expect_eq(run_check("", out, sizeof(out), err, sizeof(err)), 2);
	cr_expect(strstr(err, "missing -c FILE|DIR") != NULL, "%s", err);
	cr_expect_eq(run_check("--bogus", out, sizeof(out), err, sizeof(err)), 2);
	cr_expect_eq(run_check("-c", out, sizeof(out), err, sizeof(err)), 2);
	cr_expect_eq(run_check("--reference", out, sizeof(out), err, sizeof(err)), 0);
	char *want = cfg_reference_markdown();
	cr_expect_str_eq(out, want);
	ps_free(want);
}
