/* hpa_conformance.c -- runs the Kubernetes HPA test vectors (JSONL) through the engine.
 *
 * Usage: hpa_conformance [-v] [FILE.jsonl]
 * Without FILE: $PS_SHARED_DIR/hpa/vectors-dev.jsonl when PS_SHARED_DIR is defined at compile
 * time, else ../shared/hpa/vectors-dev.jsonl relative to the current directory.
 * Prints `FAIL <id> <source>: expected <...>, got <...>` for each vector whose results differ
 * (every mismatching field), `ERROR line N: <why>` for a line that cannot be run (bad JSON,
 * unknown kind, missing or malformed field), then `N passed, N failed` as the last line.
 * Exit status 0 only when every vector passed. -v adds a per-kind tally before the last line
 * and the engine's decision record of failing controller vectors on stderr.
 *
 * DESIGN
 * One line is one vector (SEMANTICS.md section 1). KINDS[] maps each `kind` to a handler that
 * reads the vector's inputs into engine structs, makes the call the Kubernetes unit test makes,
 * and compares every expected_* field present in the vector (absent or null: not asserted).
 * Input problems set vec.bad (first message wins) and the vector counts as an ERROR; result
 * differences are collected field by field into vec.exp / vec.got.
 *
 * Time. now = 2 * ENG_TIME_ZERO_AGE_MS. An `*_age_s` of a seconds (integer or float) is the
 * timestamp now - a*1000 ms; null is Go's zero time, now - ENG_TIME_ZERO_AGE_MS, which is older
 * than any window but still ordered (zero < zero + 60 s holds).
 *
 * Integers. cJSON keeps numbers as doubles, exact only below 2^53, and a few vectors use values
 * near 2^63. Before cJSON sees a line, quote_big_ints() rewrites every integer literal of 16 or
 * more digits (outside strings) into the JSON string "i64:<literal>"; json_to_i64() converts
 * such a string with the strict ps_parse_int64(), so those values arrive exact. Literals of at
 * most 15 digits are below 2^53 and exact as doubles.
 *
 * Constants. Fields a vector leaves out take the Kubernetes *test* constants, not production
 * defaults: tolerance 0.1, CPU initialization 120 s, readiness delay 10 s, downscale window
 * 300 s, scale-up factor 8 and minimum 4; gates HPAScaleToZero off, HPAConfigurableTolerance on.
 *
 * Memory. Every allocation of a vector goes through vec_alloc() (ps_calloc) and is freed after
 * the vector; cJSON is routed through ps_malloc/ps_free. getline()'s buffer is libc's by
 * contract and is released with free().
 */
#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cJSON.h"
#include "engine.h"
#include "ps_alloc.h"
#include "ps_compiler.h"
#include "ps_diag.h"
#include "ps_parse.h"

#ifdef PS_SHARED_DIR
#define DEFAULT_VECTORS PS_SHARED_DIR "/hpa/vectors-dev.jsonl"
#else
#define DEFAULT_VECTORS "../shared/hpa/vectors-dev.jsonl"
#endif

#define NOW_MS (2 * ENG_TIME_ZERO_AGE_MS)
#define ZERO_TIME_MS (NOW_MS - ENG_TIME_ZERO_AGE_MS)
#define MAX_AGE_S 1e12    /* larger ages would not fit the clock */
#define BIG_INT_DIGITS 16 /* integer literals this long are quoted (>= 2^53 possible) */
#define BIG_INT_PREFIX "i64:"

#define VEC_MAX_ALLOCS 48
#define VEC_MAX_CHECKED 24
#define TEXT_MAX 4096
#define MAX_CONTAINERS 8
#define HISTORY_MIN_CAP 64

/* The resources a controller pod can carry requests and usage for (<r>_request_milli, ...). */
static const char *const RESOURCES[] = {"cpu", "memory"};
#define N_RESOURCES PS_ARRAY_LEN(RESOURCES)

/* ---- one vector being run ---- */

struct vec {
	const cJSON *root;
	const char *id;
	const char *source;
	size_t line_no;
	bool verbose;
	bool bad; /* an input problem: the vector is an ERROR, not a FAIL */
	char why[512];
	char where[64]; /* path of the object being read ("pods[2]"), "" at the top */
	size_t n_mismatch;
	char exp[TEXT_MAX];
	char got[TEXT_MAX];
	size_t n_checked; /* expected_* keys a handler looked at */
	const char *checked[VEC_MAX_CHECKED];
	size_t n_allocs;
	void *allocs[VEC_MAX_ALLOCS];
};

/* Appends formatted text to the NUL-terminated <buf>, truncating with "..." when full. */
static void appendf(char *buf, size_t size, const char *fmt, ...) PS_PRINTF(3, 4);
static void appendf(char *buf, size_t size, const char *fmt, ...)
{
	size_t len = strlen(buf);
	if (len + 1 >= size)
		return;
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(buf + len, size - len, fmt, ap);
	va_end(ap);
	if (n >= 0 && (size_t)n >= size - len && size >= 4)
		memcpy(buf + size - 4, "...", 4);
}

/* Records the first input problem of the vector; <key> (may be NULL) is named with its path. */
static void input_error(struct vec *v, const char *key, const char *fmt, ...) PS_PRINTF(3, 4);
static void input_error(struct vec *v, const char *key, const char *fmt, ...)
{
	if (v->bad)
		return;
	v->bad = true;
	v->why[0] = '\0';
	if (key)
		appendf(v->why, sizeof(v->why), "field \"%s%s%s\": ", v->where,
		        v->where[0] ? "." : "", key);
	char msg[384];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	appendf(v->why, sizeof(v->why), "%s", msg);
}

/* Sets the path prefix for the fields read next ("pods[2]"); "" for the top level. */
static void set_where(struct vec *v, const char *fmt, ...) PS_PRINTF(2, 3);
static void set_where(struct vec *v, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(v->where, sizeof(v->where), fmt, ap);
	va_end(ap);
}

/* A zeroed array of <n> elements owned by the vector (freed after it). NULL, with the vector
 * marked bad, when out of memory. */
static void *vec_alloc(struct vec *v, size_t n, size_t size)
{
	if (v->n_allocs == VEC_MAX_ALLOCS) {
		input_error(v, NULL, "internal: more than %d allocations", VEC_MAX_ALLOCS);
		return NULL;
	}
	void *p = ps_calloc(n ? n : 1, size);
	if (!p) {
		input_error(v, NULL, "out of memory");
		return NULL;
	}
	v->allocs[v->n_allocs++] = p;
	return p;
}

static void vec_free_all(struct vec *v)
{
	for (size_t i = 0; i < v->n_allocs; i++)
		ps_free(v->allocs[i]);
	v->n_allocs = 0;
}

/* ---- JSON readers ---- */

/* Rewrites the JSON text <in> (<len> bytes) so that each integer literal of BIG_INT_DIGITS or
 * more digits becomes the string "i64:<literal>". Returns an owned NUL-terminated copy (free
 * with ps_free), or NULL when out of memory. */
static char *quote_big_ints(const char *in, size_t len)
{
	/* Each quoted literal has >= 16 digits and grows by 6 bytes. */
	size_t cap = len + 6 * (len / BIG_INT_DIGITS + 1) + 1;
	char *out = ps_malloc(cap);
	if (!out)
		return NULL;
	size_t o = 0;
	bool in_str = false, esc = false;
	for (size_t i = 0; i < len;) {
		char c = in[i];
		if (in_str) {
			out[o++] = c;
			i++;
			if (esc)
				esc = false;
			else if (c == '\\')
				esc = true;
			else if (c == '"')
				in_str = false;
			continue;
		}
		if (c == '"') {
			in_str = true;
			out[o++] = c;
			i++;
			continue;
		}
		if (c != '-' && !isdigit((unsigned char)c)) {
			out[o++] = c;
			i++;
			continue;
		}
		/* A number token (keys are strings, so it is a value). */
		size_t j = i + (c == '-' ? 1 : 0), digits = 0;
		while (j < len && isdigit((unsigned char)in[j])) {
			j++;
			digits++;
		}
		size_t k = j;
		bool integral = true;
		if (k < len && (in[k] == '.' || in[k] == 'e' || in[k] == 'E')) {
			integral = false;
			while (k < len &&
			       (isdigit((unsigned char)in[k]) || in[k] == '.' || in[k] == 'e' ||
			        in[k] == 'E' || in[k] == '+' || in[k] == '-'))
				k++;
		}
		bool quote = integral && digits >= BIG_INT_DIGITS;
		if (quote) {
			memcpy(out + o, "\"" BIG_INT_PREFIX, 5);
			o += 5;
		}
		memcpy(out + o, in + i, k - i);
		o += k - i;
		if (quote)
			out[o++] = '"';
		i = k;
	}
	out[o] = '\0';
	return out;
}

static const cJSON *field(const cJSON *obj, const char *key)
{
	return obj ? cJSON_GetObjectItemCaseSensitive(obj, key) : NULL;
}

static bool absent_or_null(const cJSON *it)
{
	return !it || cJSON_IsNull(it);
}

/* Exact integer value of <it>: a JSON number that is integral and fits int64, or a quoted
 * big literal (see quote_big_ints). */
static bool json_to_i64(const cJSON *it, int64_t *out)
{
	if (cJSON_IsString(it) && it->valuestring &&
	    strncmp(it->valuestring, BIG_INT_PREFIX, strlen(BIG_INT_PREFIX)) == 0)
		return ps_parse_int64(it->valuestring + strlen(BIG_INT_PREFIX), out, NULL) == PS_OK;
	if (!cJSON_IsNumber(it))
		return false;
	double d = it->valuedouble;
	if (!isfinite(d) || d != floor(d) || d < -0x1p63 || d >= 0x1p63)
		return false;
	*out = (int64_t)d;
	return true;
}

static bool json_to_double(const cJSON *it, double *out)
{
	int64_t i;
	if (cJSON_IsNumber(it)) {
		*out = it->valuedouble;
		return isfinite(*out);
	}
	if (json_to_i64(it, &i)) {
		*out = (double)i;
		return true;
	}
	return false;
}

/* opt_*: false when the key is absent or null; an input error when it has the wrong type.
 * req_*: an input error when absent, null or of the wrong type; returns 0/false/NULL then. */
static bool opt_i64(struct vec *v, const cJSON *obj, const char *key, int64_t *out)
{
	const cJSON *it = field(obj, key);
	if (absent_or_null(it))
		return false;
	if (!json_to_i64(it, out)) {
		input_error(v, key, "expected an int64 integer");
		return false;
	}
	return true;
}

static int64_t req_i64(struct vec *v, const cJSON *obj, const char *key)
{
	int64_t x = 0;
	if (!opt_i64(v, obj, key, &x))
		input_error(v, key, "required integer is missing");
	return x;
}

static bool opt_i32(struct vec *v, const cJSON *obj, const char *key, int32_t *out)
{
	int64_t x;
	if (!opt_i64(v, obj, key, &x))
		return false;
	if (x < INT32_MIN || x > INT32_MAX) {
		input_error(v, key, "%lld does not fit int32", (long long)x);
		return false;
	}
	*out = (int32_t)x;
	return true;
}

static int32_t req_i32(struct vec *v, const cJSON *obj, const char *key)
{
	int32_t x = 0;
	if (!opt_i32(v, obj, key, &x))
		input_error(v, key, "required int32 is missing");
	return x;
}

static bool opt_f64(struct vec *v, const cJSON *obj, const char *key, double *out)
{
	const cJSON *it = field(obj, key);
	if (absent_or_null(it))
		return false;
	if (!json_to_double(it, out)) {
		input_error(v, key, "expected a number");
		return false;
	}
	return true;
}

static double req_f64(struct vec *v, const cJSON *obj, const char *key)
{
	double x = 0;
	if (!opt_f64(v, obj, key, &x))
		input_error(v, key, "required number is missing");
	return x;
}

static bool opt_bool(struct vec *v, const cJSON *obj, const char *key, bool *out)
{
	const cJSON *it = field(obj, key);
	if (absent_or_null(it))
		return false;
	if (!cJSON_IsBool(it)) {
		input_error(v, key, "expected true or false");
		return false;
	}
	*out = cJSON_IsTrue(it);
	return true;
}

static const char *opt_str(struct vec *v, const cJSON *obj, const char *key)
{
	const cJSON *it = field(obj, key);
	if (absent_or_null(it))
		return NULL;
	if (!cJSON_IsString(it) || !it->valuestring) {
		input_error(v, key, "expected a string");
		return NULL;
	}
	return it->valuestring;
}

static const char *req_str(struct vec *v, const cJSON *obj, const char *key)
{
	const char *s = opt_str(v, obj, key);
	if (!s) {
		input_error(v, key, "required string is missing");
		return "";
	}
	return s;
}

static const cJSON *opt_array(struct vec *v, const cJSON *obj, const char *key)
{
	const cJSON *it = field(obj, key);
	if (absent_or_null(it))
		return NULL;
	if (!cJSON_IsArray(it)) {
		input_error(v, key, "expected an array");
		return NULL;
	}
	return it;
}

static const cJSON *opt_object(struct vec *v, const cJSON *obj, const char *key)
{
	const cJSON *it = field(obj, key);
	if (absent_or_null(it))
		return NULL;
	if (!cJSON_IsObject(it)) {
		input_error(v, key, "expected an object");
		return NULL;
	}
	return it;
}

static const cJSON *req_object(struct vec *v, const cJSON *obj, const char *key)
{
	const cJSON *it = opt_object(v, obj, key);
	if (!it)
		input_error(v, key, "required object is missing");
	return it;
}

static size_t array_len(const cJSON *arr)
{
	int n = arr ? cJSON_GetArraySize(arr) : 0;
	return n > 0 ? (size_t)n : 0;
}

/* The timestamp of an age field: absent -> <dflt>, null -> Go's zero time, a seconds -> now -
 * a*1000 ms (floats allowed). */
static int64_t age_ts(struct vec *v, const cJSON *obj, const char *key, int64_t dflt)
{
	const cJSON *it = field(obj, key);
	if (!it)
		return dflt;
	if (cJSON_IsNull(it))
		return ZERO_TIME_MS;
	double age;
	if (!json_to_double(it, &age) || fabs(age) > MAX_AGE_S) {
		input_error(v, key, "expected an age in seconds or null");
		return dflt;
	}
	return NOW_MS - (int64_t)llround(age * 1000.0);
}

/* A duration in seconds (integer or float) as milliseconds; false when absent or null. */
static bool opt_seconds_ms(struct vec *v, const cJSON *obj, const char *key, int64_t *out_ms)
{
	double s;
	if (!opt_f64(v, obj, key, &s))
		return false;
	if (fabs(s) > MAX_AGE_S) {
		input_error(v, key, "duration out of range");
		return false;
	}
	*out_ms = (int64_t)llround(s * 1000.0);
	return true;
}

/* Copies <s> into the fixed engine name buffer <dst>; an input error when too long. */
static void copy_name(struct vec *v, const char *key, char *dst, size_t size, const char *s)
{
	if (strlen(s) >= size) {
		input_error(v, key, "\"%s\" is longer than %zu bytes", s, size - 1);
		return;
	}
	memcpy(dst, s, strlen(s) + 1);
}

/* ---- expectations ---- */

static void mark_checked(struct vec *v, const char *key)
{
	if (v->n_checked < VEC_MAX_CHECKED)
		v->checked[v->n_checked++] = key;
}

static bool was_checked(const struct vec *v, const char *key)
{
	for (size_t i = 0; i < v->n_checked; i++)
		if (strcmp(v->checked[i], key) == 0)
			return true;
	return false;
}

static void mismatch(struct vec *v, const char *name, const char *exp, const char *got)
{
	v->n_mismatch++;
	appendf(v->exp, sizeof(v->exp), "%s%s=%s", v->exp[0] ? " " : "", name, exp);
	appendf(v->got, sizeof(v->got), "%s%s=%s", v->got[0] ? " " : "", name, got);
}

static void check_i64(struct vec *v, const char *name, int64_t exp, int64_t got)
{
	if (exp == got)
		return;
	char e[32], g[32];
	snprintf(e, sizeof(e), "%lld", (long long)exp);
	snprintf(g, sizeof(g), "%lld", (long long)got);
	mismatch(v, name, e, g);
}

static void check_bool(struct vec *v, const char *name, bool exp, bool got)
{
	if (exp != got)
		mismatch(v, name, exp ? "true" : "false", got ? "true" : "false");
}

static void check_str(struct vec *v, const char *name, const char *exp, const char *got)
{
	if (!got)
		got = "(null)";
	if (strcmp(exp, got) != 0) {
		char e[300], g[300];
		snprintf(e, sizeof(e), "\"%s\"", exp);
		snprintf(g, sizeof(g), "\"%s\"", got);
		mismatch(v, name, e, g);
	}
}

/* expect_*: compares the vector's expected field <key> with <got> when it is present and not
 * null; <name> labels the field in the FAIL line. */
static void expect_i64(struct vec *v, const char *key, const char *name, int64_t got)
{
	int64_t e;
	mark_checked(v, key);
	if (opt_i64(v, v->root, key, &e))
		check_i64(v, name, e, got);
}

static void expect_bool(struct vec *v, const char *key, const char *name, bool got)
{
	bool e;
	mark_checked(v, key);
	if (opt_bool(v, v->root, key, &e))
		check_bool(v, name, e, got);
}

static void expect_str(struct vec *v, const char *key, const char *name, const char *got)
{
	mark_checked(v, key);
	const char *e = opt_str(v, v->root, key);
	if (e)
		check_str(v, name, e, got);
}

/* Compares an engine call's result with expected_error. Returns true when the call succeeded
 * as expected and the caller should compare the results. */
static bool expect_call(struct vec *v, enum ps_err rc, const struct ps_diag *d)
{
	mark_checked(v, "expected_error");
	const char *want = opt_str(v, v->root, "expected_error");
	char e[PS_DIAG_MAX + 16], g[PS_DIAG_MAX + 32];
	snprintf(g, sizeof(g), "%s \"%s\"", ps_err_name(rc), rc == PS_OK ? "" : ps_diag_msg(d));
	if (want) {
		snprintf(e, sizeof(e), "*\"%s\"*", want);
		if (rc == PS_OK)
			mismatch(v, "error", e, "none");
		else if (!strstr(ps_diag_msg(d), want))
			mismatch(v, "error", e, g);
		return false;
	}
	if (rc != PS_OK) {
		mismatch(v, "error", "none", g);
		return false;
	}
	return true;
}

/* ---- parameters ---- */

/* Kubernetes' test constants over the production defaults, then the vector's own fields. */
static void read_params(struct vec *v, struct eng_params *p)
{
	eng_params_default(p);
	p->tolerance = 0.1;
	p->cpu_init_period_ms = 120000;
	p->readiness_delay_ms = 10000;
	p->downscale_window_ms = 300000;
	p->scale_up_limit_factor = 8.0;
	p->scale_up_limit_minimum = 4.0;
	p->gate_scale_to_zero = false;
	p->gate_configurable_tolerance = true;

	const cJSON *tol = field(v->root, "tolerance");
	if (cJSON_IsNumber(tol))
		p->tolerance = tol->valuedouble;
	opt_seconds_ms(v, v->root, "cpu_initialization_period_s", &p->cpu_init_period_ms);
	opt_seconds_ms(v, v->root, "delay_of_initial_readiness_status_s", &p->readiness_delay_ms);
	opt_seconds_ms(v, v->root, "downscale_stabilization_window_s", &p->downscale_window_ms);
	opt_f64(v, v->root, "scale_up_limit_factor", &p->scale_up_limit_factor);
	opt_f64(v, v->root, "scale_up_limit_minimum", &p->scale_up_limit_minimum);

	const cJSON *gates = opt_object(v, v->root, "feature_gates");
	set_where(v, "feature_gates");
	opt_bool(v, gates, "HPAScaleToZero", &p->gate_scale_to_zero);
	opt_bool(v, gates, "HPAConfigurableTolerance", &p->gate_configurable_tolerance);
	opt_bool(v, gates, "PodLevelResources", &p->gate_pod_level_resources);
	/* Other gates (HPAGeneration, ...) do not change a decision. */
	set_where(v, "%s", "");
}

/* Calculator kinds: `tolerance` is {scale_down, scale_up}; a scalar applies to both. */
static struct eng_tolerances read_tolerances(struct vec *v, const struct eng_params *p)
{
	struct eng_tolerances t = {p->tolerance, p->tolerance};
	const cJSON *tol = field(v->root, "tolerance");
	if (cJSON_IsObject(tol)) {
		set_where(v, "tolerance");
		t.scale_down = req_f64(v, tol, "scale_down");
		t.scale_up = req_f64(v, tol, "scale_up");
		set_where(v, "%s", "");
	} else if (!absent_or_null(tol) && !cJSON_IsNumber(tol)) {
		input_error(v, "tolerance", "expected a number or {scale_down, scale_up}");
	}
	return t;
}

/* ---- pods ---- */

struct pod_set {
	size_t n;
	struct eng_pod *pods;
	const cJSON **json;               /* pods[i]'s object in the vector */
	struct eng_container *containers; /* MAX_CONTAINERS per pod */
	struct eng_request *requests;     /* MAX_CONTAINERS * N_RESOURCES per pod */
};

static const struct {
	const char *name;
	enum eng_phase phase;
} PHASES[] = {
    {"Pending", ENG_PHASE_PENDING},     {"Running", ENG_PHASE_RUNNING},
    {"Succeeded", ENG_PHASE_SUCCEEDED}, {"Failed", ENG_PHASE_FAILED},
    {"Unknown", ENG_PHASE_UNKNOWN},
};

/* Name, phase, deletion, PodReady and start time. Readiness is either `ready` (+
 * ready_transition_age_s; the calculator and controller shapes, where every pod has the
 * condition) or `ready_condition` {status, transition_age_s} / null (the group_pods shape). */
static void read_pod_status(struct vec *v, const cJSON *o, struct eng_pod *pod)
{
	pod->name = req_str(v, o, "name");
	const char *phase = req_str(v, o, "phase");
	size_t i;
	for (i = 0; i < PS_ARRAY_LEN(PHASES); i++)
		if (strcmp(phase, PHASES[i].name) == 0)
			break;
	if (i == PS_ARRAY_LEN(PHASES))
		input_error(v, "phase", "unknown phase \"%s\"", phase);
	else
		pod->phase = PHASES[i].phase;
	pod->deleted = false;
	opt_bool(v, o, "deleted", &pod->deleted);

	const cJSON *rc = field(o, "ready_condition");
	if (rc) {
		pod->has_ready_condition = !cJSON_IsNull(rc);
		if (pod->has_ready_condition) {
			if (!cJSON_IsObject(rc)) {
				input_error(v, "ready_condition", "expected an object or null");
				return;
			}
			const cJSON *st = field(rc, "status");
			if (cJSON_IsBool(st))
				pod->ready = cJSON_IsTrue(st);
			else if (cJSON_IsString(st) && st->valuestring)
				pod->ready = strcmp(st->valuestring, "True") == 0;
			else
				input_error(v, "ready_condition.status", "expected a bool");
			pod->ready_transition_ms = age_ts(v, rc, "transition_age_s", ZERO_TIME_MS);
		}
	} else {
		pod->has_ready_condition = opt_bool(v, o, "ready", &pod->ready);
		pod->ready_transition_ms = age_ts(v, o, "ready_transition_age_s", ZERO_TIME_MS);
	}
	pod->has_start_time = true;
	opt_bool(v, o, "has_start_time", &pod->has_start_time);
	pod->start_time_ms = age_ts(v, o, "start_age_s", ZERO_TIME_MS);
}

/* Calculator shape: one container (named <container>, else "container1") with a request for
 * <resource> unless request_milli is null or absent. */
static void read_calc_containers(struct vec *v, struct pod_set *ps, size_t i, const char *resource,
                                 const char *container)
{
	struct eng_container *c = &ps->containers[i * MAX_CONTAINERS];
	struct eng_request *r = &ps->requests[i * MAX_CONTAINERS * N_RESOURCES];
	c->name = container ? container : "container1";
	c->requests = r;
	if (opt_i64(v, ps->json[i], "request_milli", &r->milli)) {
		r->resource = resource;
		c->n_requests = 1;
	}
	ps->pods[i].containers = c;
	ps->pods[i].n_containers = 1;
}

/* Controller shape: the containers are the keys of container_<r>_request_milli (the first of
 * RESOURCES that has the map), each with its request per resource (null: none); without any
 * map, one container "container1" with <r>_request_milli. */
static void read_controller_containers(struct vec *v, struct pod_set *ps, size_t i)
{
	const cJSON *o = ps->json[i];
	const cJSON *maps[N_RESOURCES] = {NULL};
	const cJSON *names = NULL;
	char key[64];
	for (size_t r = 0; r < N_RESOURCES; r++) {
		snprintf(key, sizeof(key), "container_%s_request_milli", RESOURCES[r]);
		maps[r] = opt_object(v, o, key);
		if (maps[r] && !names)
			names = maps[r];
	}
	struct eng_container *cs = &ps->containers[i * MAX_CONTAINERS];
	struct eng_request *rq = &ps->requests[i * MAX_CONTAINERS * N_RESOURCES];
	size_t n = 0;
	const cJSON *child = names ? names->child : NULL;
	do {
		if (n == MAX_CONTAINERS) {
			input_error(v, "container_cpu_request_milli", "more than %d containers",
			            MAX_CONTAINERS);
			return;
		}
		struct eng_container *c = &cs[n];
		c->name = child ? child->string : "container1";
		c->requests = &rq[n * N_RESOURCES];
		for (size_t r = 0; r < N_RESOURCES; r++) {
			struct eng_request *req = &rq[n * N_RESOURCES + c->n_requests];
			bool has;
			if (maps[r]) {
				has = opt_i64(v, maps[r], c->name, &req->milli);
			} else if (!names) {
				snprintf(key, sizeof(key), "%s_request_milli", RESOURCES[r]);
				has = opt_i64(v, o, key, &req->milli);
			} else {
				has = false;
			}
			if (has) {
				req->resource = RESOURCES[r];
				c->n_requests++;
			}
		}
		n++;
		child = child ? child->next : NULL;
	} while (child);
	ps->pods[i].containers = cs;
	ps->pods[i].n_containers = n;
}

enum pod_shape { SHAPE_CALC, SHAPE_GROUP, SHAPE_CONTROLLER };

/* Reads the array at <key> (null or absent: no pods). <resource>/<container> only matter for
 * the calculator shape's requests. */
static void read_pods(struct vec *v, const char *key, enum pod_shape shape, const char *resource,
                      const char *container, struct pod_set *ps)
{
	memset(ps, 0, sizeof(*ps));
	const cJSON *arr = opt_array(v, v->root, key);
	ps->n = array_len(arr);
	ps->pods = vec_alloc(v, ps->n, sizeof(*ps->pods));
	ps->json = vec_alloc(v, ps->n, sizeof(*ps->json));
	ps->containers = vec_alloc(v, ps->n * MAX_CONTAINERS, sizeof(*ps->containers));
	ps->requests = vec_alloc(v, ps->n * MAX_CONTAINERS * N_RESOURCES, sizeof(*ps->requests));
	if (!ps->pods || !ps->json || !ps->containers || !ps->requests) {
		ps->n = 0;
		return;
	}
	size_t i = 0;
	const cJSON *o;
	cJSON_ArrayForEach(o, arr)
	{
		set_where(v, "%s[%zu]", key, i);
		if (!cJSON_IsObject(o)) {
			input_error(v, NULL, "%s[%zu] is not an object", key, i);
			break;
		}
		ps->json[i] = o;
		read_pod_status(v, o, &ps->pods[i]);
		if (shape == SHAPE_CALC)
			read_calc_containers(v, ps, i, resource, container);
		else if (shape == SHAPE_CONTROLLER)
			read_controller_containers(v, ps, i);
		i++;
	}
	set_where(v, "%s", "");
}

/* The vector-level sample time and window (metric_sample_age_s, metric_window_s). */
struct sample_clock {
	int64_t ts_ms;
	int64_t window_ms;
};

static struct sample_clock read_sample_clock(struct vec *v, int64_t dflt_ts)
{
	struct sample_clock sc = {age_ts(v, v->root, "metric_sample_age_s", dflt_ts), 60000};
	opt_seconds_ms(v, v->root, "metric_window_s", &sc.window_ms);
	return sc;
}

static struct eng_sample make_sample(int64_t value, struct sample_clock sc)
{
	struct eng_sample s = {true, value, sc.ts_ms, sc.window_ms};
	return s;
}

/* ---- history ---- */

static size_t max_size(size_t a, size_t b)
{
	return a > b ? a : b;
}

/* eng_history_init with room for <need> entries per list and headroom; false (vector bad) on
 * failure, <h> then needs no release. */
static bool history_init(struct vec *v, struct eng_history *h, size_t need)
{
	memset(h, 0, sizeof(*h));
	if (eng_history_init(h, max_size(HISTORY_MIN_CAP, need + 8)) != PS_OK) {
		input_error(v, NULL, "eng_history_init failed");
		return false;
	}
	return true;
}

/* Fills <l> from an array of {replica_change, age_s, outdated?}. */
static void read_events(struct vec *v, const cJSON *arr, const char *what, struct eng_event_list *l)
{
	l->n = 0;
	size_t i = 0;
	const cJSON *o;
	cJSON_ArrayForEach(o, arr)
	{
		set_where(v, "%s[%zu]", what, i++);
		if (l->n == l->cap) {
			input_error(v, NULL, "more events than the history holds");
			break;
		}
		struct eng_event *e = &l->v[l->n++];
		e->replica_change = req_i32(v, o, "replica_change");
		if (!field(o, "age_s"))
			input_error(v, "age_s", "required age is missing");
		e->ts_ms = age_ts(v, o, "age_s", NOW_MS);
		e->outdated = false;
		opt_bool(v, o, "outdated", &e->outdated);
	}
	set_where(v, "%s", "");
}

/* Fills the recommendations from an array of {replicas, age_s}; recs_set = true. */
static void read_recs(struct vec *v, const cJSON *arr, struct eng_history *h)
{
	h->recs_set = true;
	h->n_recs = 0;
	size_t i = 0;
	const cJSON *o;
	cJSON_ArrayForEach(o, arr)
	{
		set_where(v, "recommendations[%zu]", i++);
		if (h->n_recs == h->cap_recs) {
			input_error(v, NULL, "more recommendations than the history holds");
			break;
		}
		struct eng_rec *r = &h->recs[h->n_recs++];
		r->replicas = req_i32(v, o, "replicas");
		if (!field(o, "age_s"))
			input_error(v, "age_s", "required age is missing");
		r->ts_ms = age_ts(v, o, "age_s", NOW_MS);
	}
	set_where(v, "%s", "");
}

/* "[8 6 7(outdated) 5]" */
static void format_events(const struct eng_event_list *l, char *buf, size_t size)
{
	buf[0] = '\0';
	appendf(buf, size, "[");
	for (size_t i = 0; i < l->n; i++)
		appendf(buf, size, "%s%d%s", i ? " " : "", l->v[i].replica_change,
		        l->v[i].outdated ? "(outdated)" : "");
	appendf(buf, size, "]");
}

/* ---- behavior ---- */

static const struct {
	const char *name;
	enum eng_select select;
} SELECTS[] = {{"Max", ENG_SELECT_MAX}, {"Min", ENG_SELECT_MIN}, {"Disabled", ENG_SELECT_DISABLED}};

static const struct {
	const char *name;
	enum eng_policy_type type;
} POLICY_TYPES[] = {{"Pods", ENG_POLICY_PODS}, {"Percent", ENG_POLICY_PERCENT}};

/* A rule's tolerance: a number, or a Quantity string ("900m", "0.9"). */
static void read_rule_tolerance(struct vec *v, const cJSON *o, struct eng_rules *r)
{
	const cJSON *it = field(o, "tolerance");
	if (absent_or_null(it))
		return;
	r->has_tolerance = true;
	int64_t milli;
	if (cJSON_IsString(it) && it->valuestring &&
	    ps_parse_quantity_milli(it->valuestring, &milli, NULL) == PS_OK)
		r->tolerance = (double)milli / 1000.0;
	else if (!json_to_double(it, &r->tolerance))
		input_error(v, "tolerance", "expected a number or a quantity");
}

/* HPAScalingRules with only the given (non-null) fields set; defaulting comes later. */
static void read_rules(struct vec *v, const cJSON *o, struct eng_rules *r)
{
	memset(r, 0, sizeof(*r));
	r->has_window = opt_i32(v, o, "stabilization_window_seconds", &r->window_s);
	const char *sel = opt_str(v, o, "select_policy");
	if (sel) {
		size_t i;
		for (i = 0; i < PS_ARRAY_LEN(SELECTS); i++)
			if (strcmp(sel, SELECTS[i].name) == 0)
				break;
		if (i == PS_ARRAY_LEN(SELECTS)) {
			input_error(v, "select_policy", "unknown policy \"%s\"", sel);
		} else {
			r->has_select = true;
			r->select = SELECTS[i].select;
		}
	}
	const cJSON *pols = opt_array(v, o, "policies");
	if (pols) {
		r->has_policies = true;
		const cJSON *p;
		cJSON_ArrayForEach(p, pols)
		{
			if (r->n_policies == ENG_MAX_POLICIES) {
				input_error(v, "policies", "more than %d policies",
				            ENG_MAX_POLICIES);
				break;
			}
			struct eng_policy *pol = &r->policies[r->n_policies++];
			const char *type = req_str(v, p, "type");
			size_t i;
			for (i = 0; i < PS_ARRAY_LEN(POLICY_TYPES); i++)
				if (strcmp(type, POLICY_TYPES[i].name) == 0)
					break;
			if (i == PS_ARRAY_LEN(POLICY_TYPES))
				input_error(v, "policies.type", "unknown type \"%s\"", type);
			else
				pol->type = POLICY_TYPES[i].type;
			pol->value = req_i32(v, p, "value");
			pol->period_s = req_i32(v, p, "period_seconds");
		}
	}
	read_rule_tolerance(v, o, r);
}

/* One direction of a behavior: null/absent leaves it unset (defaulting fills it). */
static void read_direction(struct vec *v, const cJSON *b, const char *key, bool *has,
                           struct eng_rules *r)
{
	const cJSON *o = opt_object(v, b, key);
	*has = o != NULL;
	if (o) {
		set_where(v, "behavior.%s", key);
		read_rules(v, o, r);
		set_where(v, "%s", "");
	}
}

/* spec.behavior from the object <b> (non-NULL), with API defaulting applied. Keys other than
 * scaleUp/scaleDown (notes, *_was_defaulted) are ignored. */
static void read_behavior(struct vec *v, const cJSON *b, struct eng_behavior *out)
{
	memset(out, 0, sizeof(*out));
	read_direction(v, b, "scaleUp", &out->has_scale_up, &out->scale_up);
	read_direction(v, b, "scaleDown", &out->has_scale_down, &out->scale_down);
	eng_behavior_default(out);
}

/* A behavior whose one direction is <rules> (raw; NULL: unset), defaulted like the API does. */
static void behavior_with(const struct eng_rules *rules, bool up, struct eng_behavior *out)
{
	memset(out, 0, sizeof(*out));
	if (rules && up) {
		out->has_scale_up = true;
		out->scale_up = *rules;
	} else if (rules) {
		out->has_scale_down = true;
		out->scale_down = *rules;
	}
	eng_behavior_default(out);
}

/* `direction`: "up" or "down". */
static bool read_direction_flag(struct vec *v)
{
	const char *d = req_str(v, v->root, "direction");
	if (strcmp(d, "up") != 0 && strcmp(d, "down") != 0 && !v->bad)
		input_error(v, "direction", "expected \"up\" or \"down\", not \"%s\"", d);
	return strcmp(d, "up") == 0;
}

/* ---- calculator kinds ---- */

/* Samples of the calculator shape: pods[i].metric_milli (null: missing), unless
 * metrics_api_returned_no_items; extra_metric_samples[] give samples of non-existent pods. */
struct calc_samples {
	struct eng_sample *pod;
	size_t n_extra;
	struct eng_sample *extra;
};

static void read_calc_samples(struct vec *v, const struct pod_set *ps, struct calc_samples *cs)
{
	struct sample_clock sc = read_sample_clock(v, ZERO_TIME_MS);
	bool no_items = false;
	opt_bool(v, v->root, "metrics_api_returned_no_items", &no_items);
	const cJSON *extra = opt_array(v, v->root, "extra_metric_samples");
	cs->pod = vec_alloc(v, ps->n, sizeof(*cs->pod));
	cs->extra = vec_alloc(v, array_len(extra), sizeof(*cs->extra));
	cs->n_extra = 0;
	if (!cs->pod || !cs->extra || no_items)
		return;
	for (size_t i = 0; i < ps->n; i++) {
		int64_t x;
		set_where(v, "pods[%zu]", i);
		if (opt_i64(v, ps->json[i], "metric_milli", &x))
			cs->pod[i] = make_sample(x, sc);
	}
	size_t i = 0;
	const cJSON *o;
	cJSON_ArrayForEach(o, extra)
	{
		int64_t x;
		set_where(v, "extra_metric_samples[%zu]", i++);
		if (opt_i64(v, o, "metric_milli", &x) || opt_i64(v, o, "value_milli", &x))
			cs->extra[cs->n_extra++] = make_sample(x, sc);
	}
	set_where(v, "%s", "");
}

/* resource_utilization (GetResourceReplicas, or calcPlainMetricReplicas for an AverageValue
 * target) and pods (GetMetricReplicas: calcPlainMetricReplicas with resource ""). */
static void run_per_pod_metric(struct vec *v, bool pods_metric)
{
	struct eng_params p;
	read_params(v, &p);
	struct eng_tolerances tol = read_tolerances(v, &p);
	const char *resource = pods_metric ? "" : opt_str(v, v->root, "resource");
	const char *container = pods_metric ? NULL : opt_str(v, v->root, "container");
	if (!resource)
		resource = "cpu";
	int32_t current = req_i32(v, v->root, "current_replicas");
	const cJSON *target = req_object(v, v->root, "target");
	struct pod_set ps;
	read_pods(v, "pods", SHAPE_CALC, resource[0] ? resource : "cpu", container, &ps);
	struct calc_samples cs;
	read_calc_samples(v, &ps, &cs);

	int64_t avg_value = 0;
	int32_t avg_util = 0;
	set_where(v, "target");
	bool plain = pods_metric || opt_i64(v, target, "average_value_milli", &avg_value);
	if (pods_metric)
		avg_value = req_i64(v, target, "average_value_milli");
	else if (!plain)
		avg_util = req_i32(v, target, "average_utilization");
	set_where(v, "%s", "");
	if (v->bad)
		return;

	struct eng_scratch s;
	memset(&s, 0, sizeof(s));
	if (eng_scratch_reserve(&s, ps.n + cs.n_extra + 8) != PS_OK) {
		input_error(v, NULL, "eng_scratch_reserve failed");
		eng_scratch_release(&s);
		return;
	}
	struct eng_pod_metric m = {resource, container,  ps.pods, ps.n,
	                           cs.pod,   cs.n_extra, cs.extra};
	struct eng_calc calc;
	memset(&calc, 0, sizeof(calc));
	struct ps_diag d;
	ps_diag_clear(&d);
	enum ps_err rc;
	if (plain)
		rc = eng_calc_plain(&p, tol, current, avg_value, &m, NOW_MS, &s, &calc, &d);
	else
		rc = eng_calc_resource_utilization(&p, tol, current, avg_util, &m, NOW_MS, &s,
		                                   &calc, &d);
	eng_scratch_release(&s);
	if (!expect_call(v, rc, &d))
		return;
	expect_i64(v, "expected_replicas", "replicas", calc.replicas);
	expect_i64(v, "expected_utilization", "utilization", calc.utilization);
	expect_i64(v, "expected_raw_value_milli", "raw_value_milli", calc.usage_milli);
	expect_i64(v, "expected_usage_milli", "usage_milli", calc.usage_milli);
}

static void run_resource_utilization(struct vec *v)
{
	run_per_pod_metric(v, false);
}

static void run_pods(struct vec *v)
{
	run_per_pod_metric(v, true);
}

/* Compares a replica calculation of the object/external kinds. */
static void expect_calc(struct vec *v, enum ps_err rc, const struct ps_diag *d,
                        const struct eng_calc *calc)
{
	if (!expect_call(v, rc, d))
		return;
	expect_i64(v, "expected_replicas", "replicas", calc->replicas);
	expect_i64(v, "expected_usage_milli", "usage_milli", calc->usage_milli);
}

/* Reads `metric_values_milli` (null or absent: empty). */
static int64_t *read_values(struct vec *v, const char *key, size_t *n)
{
	const cJSON *arr = opt_array(v, v->root, key);
	*n = array_len(arr);
	int64_t *vals = vec_alloc(v, *n, sizeof(*vals));
	if (!vals)
		return NULL;
	size_t i = 0;
	const cJSON *it;
	cJSON_ArrayForEach(it, arr)
	{
		if (!json_to_i64(it, &vals[i++]))
			input_error(v, key, "element %zu is not an int64 integer", i - 1);
	}
	return vals;
}

/* Target value or average value: target.<key>. */
static int64_t read_target_milli(struct vec *v, const char *key)
{
	const cJSON *t = req_object(v, v->root, "target");
	set_where(v, "target");
	int64_t x = req_i64(v, t, key);
	set_where(v, "%s", "");
	return x;
}

static void run_object(struct vec *v)
{
	struct eng_params p;
	read_params(v, &p);
	struct eng_tolerances tol = read_tolerances(v, &p);
	int32_t current = req_i32(v, v->root, "current_replicas");
	int64_t usage = req_i64(v, v->root, "metric_value_milli");
	int64_t target = read_target_milli(v, "value_milli");
	struct pod_set ps;
	read_pods(v, "pods", SHAPE_CALC, "cpu", NULL, &ps);
	if (v->bad)
		return;
	struct eng_calc calc;
	memset(&calc, 0, sizeof(calc));
	struct ps_diag d;
	ps_diag_clear(&d);
	enum ps_err rc = eng_calc_object(tol, current, usage, target, ps.pods, ps.n, &calc, &d);
	expect_calc(v, rc, &d, &calc);
}

static void run_object_per_pod(struct vec *v)
{
	struct eng_params p;
	read_params(v, &p);
	struct eng_tolerances tol = read_tolerances(v, &p);
	int32_t status_replicas = req_i32(v, v->root, "current_replicas");
	int64_t usage = req_i64(v, v->root, "metric_value_milli");
	int64_t target = read_target_milli(v, "average_value_milli");
	if (v->bad)
		return;
	struct eng_calc calc;
	memset(&calc, 0, sizeof(calc));
	struct ps_diag d;
	ps_diag_clear(&d);
	enum ps_err rc = eng_calc_object_per_pod(tol, status_replicas, usage, target, &calc, &d);
	expect_calc(v, rc, &d, &calc);
}

static void run_external(struct vec *v)
{
	struct eng_params p;
	read_params(v, &p);
	struct eng_tolerances tol = read_tolerances(v, &p);
	int32_t current = req_i32(v, v->root, "current_replicas");
	size_t n;
	int64_t *vals = read_values(v, "metric_values_milli", &n);
	int64_t target = read_target_milli(v, "value_milli");
	struct pod_set ps;
	read_pods(v, "pods", SHAPE_CALC, "cpu", NULL, &ps);
	if (v->bad)
		return;
	struct eng_calc calc;
	memset(&calc, 0, sizeof(calc));
	struct ps_diag d;
	ps_diag_clear(&d);
	enum ps_err rc = eng_calc_external(tol, current, vals, n, target, ps.pods, ps.n, &calc, &d);
	expect_calc(v, rc, &d, &calc);
}

static void run_external_per_pod(struct vec *v)
{
	struct eng_params p;
	read_params(v, &p);
	struct eng_tolerances tol = read_tolerances(v, &p);
	int32_t status_replicas = req_i32(v, v->root, "current_replicas");
	size_t n;
	int64_t *vals = read_values(v, "metric_values_milli", &n);
	int64_t target = read_target_milli(v, "average_value_milli");
	if (v->bad)
		return;
	struct eng_calc calc;
	memset(&calc, 0, sizeof(calc));
	struct ps_diag d;
	ps_diag_clear(&d);
	enum ps_err rc =
	    eng_calc_external_per_pod(tol, status_replicas, vals, n, target, &calc, &d);
	expect_calc(v, rc, &d, &calc);
}

/* ---- group_pods ---- */

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* Compares the expected name list <key> with the pods of class <cls> as sets (groupPods
 * returns sets); both are shown sorted on a mismatch. */
static void expect_name_set(struct vec *v, const char *key, const char *name,
                            const struct pod_set *ps, const unsigned char *classes,
                            enum eng_pod_class cls)
{
	mark_checked(v, key);
	const cJSON *arr = opt_array(v, v->root, key);
	if (!arr)
		return;
	size_t n_exp = array_len(arr), n_got = 0;
	const char **exp = vec_alloc(v, n_exp, sizeof(*exp));
	const char **got = vec_alloc(v, ps->n, sizeof(*got));
	if (!exp || !got)
		return;
	size_t i = 0;
	const cJSON *it;
	cJSON_ArrayForEach(it, arr)
	{
		if (!cJSON_IsString(it) || !it->valuestring) {
			input_error(v, key, "expected a list of pod names");
			return;
		}
		exp[i++] = it->valuestring;
	}
	for (i = 0; i < ps->n; i++)
		if (classes[i] == (unsigned char)cls)
			got[n_got++] = ps->pods[i].name;
	qsort(exp, n_exp, sizeof(*exp), cmp_str);
	qsort(got, n_got, sizeof(*got), cmp_str);
	bool same = n_exp == n_got;
	for (i = 0; same && i < n_exp; i++)
		same = strcmp(exp[i], got[i]) == 0;
	if (same)
		return;
	char e[1024] = "", g[1024] = "";
	appendf(e, sizeof(e), "[");
	for (i = 0; i < n_exp; i++)
		appendf(e, sizeof(e), "%s%s", i ? "," : "", exp[i]);
	appendf(e, sizeof(e), "]");
	appendf(g, sizeof(g), "[");
	for (i = 0; i < n_got; i++)
		appendf(g, sizeof(g), "%s%s", i ? "," : "", got[i]);
	appendf(g, sizeof(g), "]");
	mismatch(v, name, e, g);
}

/* groupPods: metric_samples[] are matched to pods by name (first match; samples of unknown
 * names are irrelevant, groupPods walks the pods). */
static void run_group_pods(struct vec *v)
{
	struct eng_params p;
	read_params(v, &p);
	const char *resource = opt_str(v, v->root, "resource");
	struct pod_set ps;
	read_pods(v, "pods", SHAPE_GROUP, NULL, NULL, &ps);
	struct eng_sample *samples = vec_alloc(v, ps.n, sizeof(*samples));
	unsigned char *classes = vec_alloc(v, ps.n, 1);
	const cJSON *arr = opt_array(v, v->root, "metric_samples");
	if (!samples || !classes || v->bad)
		return;
	size_t j = 0;
	const cJSON *o;
	cJSON_ArrayForEach(o, arr)
	{
		set_where(v, "metric_samples[%zu]", j++);
		const char *name = req_str(v, o, "name");
		struct eng_sample s = {true, 0, 0, 0};
		opt_i64(v, o, "value_milli", &s.value_milli);
		s.timestamp_ms = age_ts(v, o, "sample_age_s", ZERO_TIME_MS);
		s.window_ms = 60000;
		opt_seconds_ms(v, o, "window_s", &s.window_ms);
		for (size_t i = 0; i < ps.n; i++) {
			if (strcmp(ps.pods[i].name, name) == 0 && !samples[i].present) {
				samples[i] = s;
				break;
			}
		}
	}
	set_where(v, "%s", "");
	if (v->bad)
		return;
	int32_t ready =
	    eng_group_pods(&p, resource ? resource : "", NOW_MS, ps.pods, ps.n, samples, classes);
	expect_i64(v, "expected_ready_pod_count", "ready_pod_count", ready);
	expect_name_set(v, "expected_unready_pods", "unready_pods", &ps, classes, ENG_POD_UNREADY);
	expect_name_set(v, "expected_missing_pods", "missing_pods", &ps, classes, ENG_POD_MISSING);
	expect_name_set(v, "expected_ignored_pods", "ignored_pods", &ps, classes, ENG_POD_IGNORED);
}

/* ---- normalization kinds ---- */

/* The history of the behavior kinds: history.scale_up_events / scale_down_events. */
static bool read_scale_history(struct vec *v, struct eng_history *h)
{
	const cJSON *hist = opt_object(v, v->root, "history");
	set_where(v, "history");
	const cJSON *up = opt_array(v, hist, "scale_up_events");
	const cJSON *down = opt_array(v, hist, "scale_down_events");
	set_where(v, "%s", "");
	if (v->bad || !history_init(v, h, max_size(array_len(up), array_len(down))))
		return false;
	read_events(v, up, "history.scale_up_events", &h->up);
	read_events(v, down, "history.scale_down_events", &h->down);
	return true;
}

/* convertDesiredReplicasWithBehaviorRate. */
static void run_behavior(struct vec *v)
{
	int32_t current = req_i32(v, v->root, "current_replicas");
	int32_t desired = req_i32(v, v->root, "prenormalized_desired_replicas");
	int32_t min = req_i32(v, v->root, "min");
	int32_t max = req_i32(v, v->root, "max");
	const cJSON *bj = req_object(v, v->root, "behavior");
	struct eng_behavior b;
	if (bj)
		read_behavior(v, bj, &b);
	struct eng_history h;
	if (v->bad || !read_scale_history(v, &h))
		return;
	if (!v->bad) {
		const char *reason = NULL;
		int32_t got =
		    eng_behavior_rate(&b, &h, current, desired, min, max, NOW_MS, &reason);
		expect_i64(v, "expected_replicas", "replicas", got);
		expect_str(v, "expected_condition_reason", "reason", reason);
	}
	eng_history_release(&h);
}

/* calculateScaleUpLimitWithScalingRules / calculateScaleDownLimitWithBehaviors. */
static void run_behavior_limit(struct vec *v)
{
	bool up = read_direction_flag(v);
	int32_t current = req_i32(v, v->root, "current_replicas");
	const cJSON *rj = req_object(v, v->root, "rules");
	struct eng_rules raw;
	memset(&raw, 0, sizeof(raw));
	set_where(v, "rules");
	if (rj)
		read_rules(v, rj, &raw);
	set_where(v, "%s", "");
	struct eng_behavior b;
	behavior_with(&raw, up, &b);
	struct eng_history h;
	if (v->bad || !read_scale_history(v, &h))
		return;
	if (!v->bad) {
		int32_t got =
		    up ? eng_scale_up_limit(current, &h.up, &h.down, &b.scale_up, NOW_MS)
		       : eng_scale_down_limit(current, &h.up, &h.down, &b.scale_down, NOW_MS);
		expect_i64(v, "expected_limit", "limit", got);
	}
	eng_history_release(&h);
}

/* history.recommendations into a fresh history. */
static bool read_rec_history(struct vec *v, struct eng_history *h)
{
	const cJSON *hist = opt_object(v, v->root, "history");
	set_where(v, "history");
	const cJSON *recs = opt_array(v, hist, "recommendations");
	set_where(v, "%s", "");
	if (v->bad || !history_init(v, h, array_len(recs)))
		return false;
	read_recs(v, recs, h);
	return true;
}

/* stabilizeRecommendationWithBehaviors. A null scale-down window is the controller flag
 * (downscale_stabilization_window_s, 300 s); a null scale-up window the default 0. */
static void run_stabilization(struct vec *v)
{
	struct eng_params p;
	read_params(v, &p);
	int32_t current = req_i32(v, v->root, "current_replicas");
	int32_t desired = req_i32(v, v->root, "prenormalized_desired_replicas");
	int32_t up_w = 0, down_w = (int32_t)(p.downscale_window_ms / 1000);
	opt_i32(v, v->root, "scale_up_stabilization_window_s", &up_w);
	opt_i32(v, v->root, "scale_down_stabilization_window_s", &down_w);
	struct eng_history h;
	if (v->bad || !read_rec_history(v, &h))
		return;
	if (!v->bad) {
		const char *reason = NULL;
		int32_t got = eng_stabilize(&h, current, desired, up_w, down_w, NOW_MS, &reason);
		expect_i64(v, "expected_replicas", "replicas", got);
		mark_checked(v, "expected_recommendations_after");
		const cJSON *after = opt_array(v, v->root, "expected_recommendations_after");
		if (after) {
			char e[1024] = "[", g[1024] = "[";
			bool same = array_len(after) == h.n_recs;
			size_t i = 0;
			const cJSON *it;
			cJSON_ArrayForEach(it, after)
			{
				int64_t x = 0;
				if (!json_to_i64(it, &x))
					input_error(v, "expected_recommendations_after",
					            "expected integers");
				same = same && i < h.n_recs && h.recs[i].replicas == x;
				appendf(e, sizeof(e), "%s%lld", i++ ? " " : "", (long long)x);
			}
			for (i = 0; i < h.n_recs; i++)
				appendf(g, sizeof(g), "%s%d", i ? " " : "", h.recs[i].replicas);
			appendf(e, sizeof(e), "]");
			appendf(g, sizeof(g), "]");
			if (!same)
				mismatch(v, "recommendations_after", e, g);
		}
	}
	eng_history_release(&h);
}

/* stabilizeRecommendation (no behavior). */
static void run_stabilization_legacy(struct vec *v)
{
	struct eng_params p;
	read_params(v, &p);
	int32_t desired = req_i32(v, v->root, "prenormalized_desired_replicas");
	struct eng_history h;
	if (v->bad || !read_rec_history(v, &h))
		return;
	if (!v->bad) {
		int32_t got = eng_stabilize_legacy(&h, p.downscale_window_ms, desired, NOW_MS);
		expect_i64(v, "expected_replicas", "replicas", got);
		expect_i64(v, "expected_recommendation_log_length", "recommendation_log_length",
		           (int64_t)h.n_recs);
	}
	eng_history_release(&h);
}

/* convertDesiredReplicasWithRules. */
static void run_legacy_rules(struct vec *v)
{
	struct eng_params p;
	read_params(v, &p);
	int32_t current = req_i32(v, v->root, "current_replicas");
	int32_t desired = req_i32(v, v->root, "prenormalized_desired_replicas");
	int32_t min = req_i32(v, v->root, "min");
	int32_t max = req_i32(v, v->root, "max");
	if (v->bad)
		return;
	const char *reason = NULL;
	int32_t got = eng_legacy_rules(current, desired, min, max, p.scale_up_limit_factor,
	                               p.scale_up_limit_minimum, &reason);
	expect_i64(v, "expected_replicas", "replicas", got);
	expect_str(v, "expected_condition_reason", "reason", reason);
}

/* storeScaleEvent + getReplicasChangePerPeriod(60), run as the Go table is: once as a
 * scale-up (the events are the up list, prev -> prev + change) and once as a scale-down (the
 * down list, prev -> prev - change), with the same expectations. */
static void run_scale_events(struct vec *v)
{
	int32_t prev = req_i32(v, v->root, "prev_replicas");
	int32_t change = req_i32(v, v->root, "replica_change");
	const cJSON *rj = field(v->root, "rules");
	struct eng_rules raw;
	memset(&raw, 0, sizeof(raw));
	bool has_rules = !absent_or_null(rj);
	if (has_rules) {
		set_where(v, "rules");
		if (cJSON_IsObject(rj))
			read_rules(v, rj, &raw);
		else
			input_error(v, NULL, "expected an object or null");
		set_where(v, "%s", "");
	}
	const cJSON *hist = opt_object(v, v->root, "history");
	set_where(v, "history");
	const cJSON *events = opt_array(v, hist, "events");
	set_where(v, "%s", "");
	mark_checked(v, "expected_events_after_store");
	const cJSON *exp_after = opt_array(v, v->root, "expected_events_after_store");
	struct eng_history h;
	if (v->bad || !history_init(v, &h, array_len(events) + 1))
		return;
	for (int dir = 0; dir < 2 && !v->bad; dir++) {
		bool up = dir == 0;
		struct eng_event_list *l = up ? &h.up : &h.down;
		h.up.n = h.down.n = 0;
		read_events(v, events, "history.events", l);
		if (v->bad)
			break;
		char name[64];
		int32_t before = eng_change_in_period(60, l, NOW_MS);
		snprintf(name, sizeof(name), "%s.change_in_last_60s_before_store",
		         up ? "up" : "down");
		expect_i64(v, "expected_change_in_last_60s_before_store", name, before);

		struct eng_behavior b;
		behavior_with(&raw, up, &b);
		eng_store_scale_event(has_rules ? &b : NULL, &h, prev,
		                      up ? prev + change : prev - change, NOW_MS);
		if (!exp_after)
			continue;
		struct eng_event_list want;
		struct eng_event buf[ENG_MAX_POLICIES * 8];
		want.v = buf;
		want.cap = PS_ARRAY_LEN(buf);
		want.n = 0;
		size_t i = 0;
		const cJSON *o;
		cJSON_ArrayForEach(o, exp_after)
		{
			set_where(v, "expected_events_after_store[%zu]", i++);
			if (want.n == want.cap) {
				input_error(v, NULL, "too many events");
				break;
			}
			struct eng_event *e = &want.v[want.n++];
			e->replica_change = req_i32(v, o, "replica_change");
			e->outdated = false;
			opt_bool(v, o, "outdated", &e->outdated);
		}
		set_where(v, "%s", "");
		bool same = want.n == l->n;
		for (i = 0; same && i < want.n; i++)
			same = want.v[i].replica_change == l->v[i].replica_change &&
			       want.v[i].outdated == l->v[i].outdated;
		if (!same) {
			char e[1024], g[1024];
			format_events(&want, e, sizeof(e));
			format_events(l, g, sizeof(g));
			snprintf(name, sizeof(name), "%s.events_after_store", up ? "up" : "down");
			mismatch(v, name, e, g);
		}
	}
	eng_history_release(&h);
}

/* ---- controller and multi_metric ---- */

static const struct {
	const char *name;
	enum eng_source source;
} SOURCES[] = {
    {"Resource", ENG_SRC_RESOURCE}, {"ContainerResource", ENG_SRC_CONTAINER_RESOURCE},
    {"Pods", ENG_SRC_PODS},         {"Object", ENG_SRC_OBJECT},
    {"External", ENG_SRC_EXTERNAL},
};

static const struct {
	const char *name;
	enum eng_target_type type;
} TARGET_TYPES[] = {
    {"Utilization", ENG_TARGET_UTILIZATION},
    {"AverageValue", ENG_TARGET_AVERAGE_VALUE},
    {"Value", ENG_TARGET_VALUE},
};

static const struct {
	const char *name;
	enum eng_cond_type type;
} COND_TYPES[] = {
    {"AbleToScale", ENG_COND_ABLE_TO_SCALE},
    {"ScalingActive", ENG_COND_SCALING_ACTIVE},
    {"ScalingLimited", ENG_COND_SCALING_LIMITED},
    {"ScaledToZero", ENG_COND_SCALED_TO_ZERO},
};

/* A MetricTarget: the type (unknown: unset) and whichever values are given. */
static void read_target(struct vec *v, const cJSON *t, struct eng_target *out)
{
	memset(out, 0, sizeof(*out));
	if (!t)
		return;
	const char *type = opt_str(v, t, "type");
	for (size_t i = 0; type && i < PS_ARRAY_LEN(TARGET_TYPES); i++)
		if (strcmp(type, TARGET_TYPES[i].name) == 0)
			out->type = TARGET_TYPES[i].type;
	out->has_average_utilization =
	    opt_i32(v, t, "average_utilization", &out->average_utilization);
	out->has_average_value = opt_i64(v, t, "average_value_milli", &out->average_value_milli);
	out->has_value = opt_i64(v, t, "value_milli", &out->value_milli);
}

/* One entry of metrics[]. An unknown `type` becomes ENG_SRC_UNKNOWN with the type as name. */
static void read_metric(struct vec *v, const cJSON *o, struct eng_metric_spec *m)
{
	memset(m, 0, sizeof(*m));
	const char *type = req_str(v, o, "type");
	m->source = ENG_SRC_UNKNOWN;
	for (size_t i = 0; i < PS_ARRAY_LEN(SOURCES); i++)
		if (strcmp(type, SOURCES[i].name) == 0)
			m->source = SOURCES[i].source;
	const char *name = opt_str(v, o, "metric");
	if (!name)
		name = opt_str(v, o, "name");
	if (m->source == ENG_SRC_UNKNOWN)
		name = type;
	if (name)
		copy_name(v, "metric", m->name, sizeof(m->name), name);
	const char *resource = opt_str(v, o, "resource");
	if (m->source == ENG_SRC_RESOURCE || m->source == ENG_SRC_CONTAINER_RESOURCE) {
		if (!resource)
			input_error(v, "resource", "required for a %s metric", type);
		const char *container = opt_str(v, o, "container");
		if (m->source == ENG_SRC_CONTAINER_RESOURCE && !container)
			input_error(v, "container", "required for a ContainerResource metric");
		if (container)
			copy_name(v, "container", m->container, sizeof(m->container), container);
	}
	if (resource)
		copy_name(v, "resource", m->resource, sizeof(m->resource), resource);
	/* described_object is "apiVersion Kind name". */
	const char *desc = opt_str(v, o, "described_object");
	if (desc) {
		const char *k = strchr(desc, ' ');
		char kind[ENG_NAME_MAX] = "";
		if (k) {
			k++;
			size_t len = strcspn(k, " ");
			if (len < sizeof(kind)) {
				memcpy(kind, k, len);
				kind[len] = '\0';
			}
		}
		copy_name(v, "described_object", m->object_kind, sizeof(m->object_kind), kind);
	}
	read_target(v, opt_object(v, o, "target"), &m->target);
}

/* The HPA spec: min (absent or null: unset), max, metrics (empty: see below), behavior (null:
 * none; else defaulted). <types> gets each metric's type string for failing_metric_sources. */
static void read_spec(struct vec *v, struct eng_spec *spec, const char **types)
{
	memset(spec, 0, sizeof(*spec));
	spec->has_min_replicas = opt_i32(v, v->root, "min", &spec->min_replicas);
	spec->max_replicas = req_i32(v, v->root, "max");
	const cJSON *metrics = opt_array(v, v->root, "metrics");
	size_t i = 0;
	const cJSON *o;
	cJSON_ArrayForEach(o, metrics)
	{
		set_where(v, "metrics[%zu]", i);
		if (i == ENG_MAX_METRICS) {
			input_error(v, NULL, "more than %d metrics", ENG_MAX_METRICS);
			break;
		}
		types[i] = req_str(v, o, "type");
		read_metric(v, o, &spec->metrics[i++]);
	}
	set_where(v, "%s", "");
	spec->n_metrics = i;
	if (spec->n_metrics == 0) {
		/* What horizontal_test.go's fake HPA lister does with no metrics ("manually add in
		 * the defaulting logic"): a CPU Resource metric with an empty target. It only
		 * matters on the short-circuit paths, which never read metrics. */
		struct eng_metric_spec *m = &spec->metrics[spec->n_metrics++];
		m->source = ENG_SRC_RESOURCE;
		memcpy(m->resource, "cpu", 4);
		types[0] = "Resource";
	}
	const cJSON *b = opt_object(v, v->root, "behavior");
	spec->has_behavior = b != NULL;
	if (b)
		read_behavior(v, b, &spec->behavior);
}

/* A pod's (or extra sample's) value for metric <m>: <r>_usage_milli for Resource,
 * container_<r>_usage_milli[container] for ContainerResource, pods_metric_milli for Pods.
 * False when absent or null (no sample). */
static bool metric_value(struct vec *v, const cJSON *o, const struct eng_metric_spec *m,
                         int64_t *out)
{
	char key[ENG_NAME_MAX + 32];
	switch (m->source) {
	case ENG_SRC_RESOURCE:
		snprintf(key, sizeof(key), "%s_usage_milli", m->resource);
		return opt_i64(v, o, key, out);
	case ENG_SRC_CONTAINER_RESOURCE:
		snprintf(key, sizeof(key), "container_%s_usage_milli", m->resource);
		return opt_i64(v, opt_object(v, o, key), m->container, out);
	case ENG_SRC_PODS:
		return opt_i64(v, o, "pods_metric_milli", out);
	case ENG_SRC_OBJECT:
	case ENG_SRC_EXTERNAL:
	case ENG_SRC_UNKNOWN:
		break;
	}
	return false;
}

static bool listed(const cJSON *arr, const char *s)
{
	const cJSON *it;
	cJSON_ArrayForEach(it, arr)
	{
		if (cJSON_IsString(it) && it->valuestring && strcmp(it->valuestring, s) == 0)
			return true;
	}
	return false;
}

/* One eng_reading per spec metric. */
static struct eng_reading *read_readings(struct vec *v, const struct eng_spec *spec,
                                         const char **types, const struct pod_set *ps)
{
	struct eng_reading *rd = vec_alloc(v, spec->n_metrics, sizeof(*rd));
	struct eng_sample *samples = vec_alloc(v, spec->n_metrics * ps->n, sizeof(*samples));
	const cJSON *extra = opt_array(v, v->root, "extra_metric_samples");
	size_t n_extra = array_len(extra);
	struct eng_sample *extras = vec_alloc(v, spec->n_metrics * n_extra, sizeof(*extras));
	size_t n_values;
	int64_t *values = read_values(v, "external_metric_values_milli", &n_values);
	const cJSON *failing = opt_array(v, v->root, "failing_metric_sources");
	bool no_items = false;
	opt_bool(v, v->root, "metrics_api_returned_no_items", &no_items);
	struct sample_clock sc = read_sample_clock(v, NOW_MS);
	if (!rd || !samples || !extras || !values)
		return NULL;
	for (size_t k = 0; k < spec->n_metrics; k++) {
		const struct eng_metric_spec *m = &spec->metrics[k];
		struct eng_reading *r = &rd[k];
		r->pod_samples = &samples[k * ps->n];
		r->extra_samples = &extras[k * n_extra];
		if (listed(failing, types[k])) {
			r->failed = true;
			r->error = "the metrics API returned an error (failing_metric_sources)";
			continue;
		}
		if (m->source == ENG_SRC_OBJECT) {
			r->value_milli = req_i64(v, v->root, "object_metric_value_milli");
			continue;
		}
		if (m->source == ENG_SRC_EXTERNAL) {
			r->n_values = n_values;
			r->values_milli = values;
			continue;
		}
		if (no_items)
			continue;
		for (size_t i = 0; i < ps->n; i++) {
			int64_t x;
			set_where(v, "pods[%zu]", i);
			if (metric_value(v, ps->json[i], m, &x))
				samples[k * ps->n + i] = make_sample(x, sc);
		}
		size_t i = 0;
		const cJSON *o;
		cJSON_ArrayForEach(o, extra)
		{
			int64_t x;
			set_where(v, "extra_metric_samples[%zu]", i++);
			if (metric_value(v, o, m, &x))
				extras[k * n_extra + r->n_extra++] = make_sample(x, sc);
		}
		set_where(v, "%s", "");
	}
	return rd;
}

/* initial_conditions: [[type, status, reason(, message)], ...] or [{type, status, reason}]. */
static struct eng_condition *read_conditions(struct vec *v, size_t *n)
{
	const cJSON *arr = opt_array(v, v->root, "initial_conditions");
	*n = array_len(arr);
	struct eng_condition *cs = vec_alloc(v, *n, sizeof(*cs));
	if (!cs)
		return NULL;
	size_t i = 0;
	const cJSON *o;
	cJSON_ArrayForEach(o, arr)
	{
		struct eng_condition *c = &cs[i];
		set_where(v, "initial_conditions[%zu]", i++);
		bool is_arr = cJSON_IsArray(o);
		const cJSON *t = is_arr ? cJSON_GetArrayItem(o, 0) : field(o, "type");
		const cJSON *st = is_arr ? cJSON_GetArrayItem(o, 1) : field(o, "status");
		const cJSON *rs = is_arr ? cJSON_GetArrayItem(o, 2) : field(o, "reason");
		const cJSON *msg = is_arr ? cJSON_GetArrayItem(o, 3) : field(o, "message");
		if (!cJSON_IsString(t) || !cJSON_IsString(rs) ||
		    !(cJSON_IsString(st) || cJSON_IsBool(st))) {
			input_error(v, NULL, "expected [type, status, reason]");
			break;
		}
		size_t j;
		for (j = 0; j < PS_ARRAY_LEN(COND_TYPES); j++)
			if (strcmp(t->valuestring, COND_TYPES[j].name) == 0)
				break;
		if (j == PS_ARRAY_LEN(COND_TYPES)) {
			input_error(v, NULL, "unknown condition type \"%s\"", t->valuestring);
			break;
		}
		c->type = COND_TYPES[j].type;
		c->status =
		    cJSON_IsBool(st) ? cJSON_IsTrue(st) : strcmp(st->valuestring, "True") == 0;
		snprintf(c->reason, sizeof(c->reason), "%s", rs->valuestring);
		if (cJSON_IsString(msg))
			snprintf(c->message, sizeof(c->message), "%s", msg->valuestring);
	}
	set_where(v, "%s", "");
	return cs;
}

/* "[AbleToScale True SucceededRescale, ...]" */
static void format_conditions(const struct eng_condition *c, size_t n, char *buf, size_t size)
{
	buf[0] = '\0';
	appendf(buf, size, "[");
	for (size_t i = 0; i < n; i++)
		appendf(buf, size, "%s%s %s %s", i ? ", " : "", eng_cond_type_name(c[i].type),
		        c[i].status ? "True" : "False", c[i].reason);
	appendf(buf, size, "]");
}

/* expected_conditions: the whole list, in status order, messages ignored. */
static void expect_conditions(struct vec *v, const struct eng_decision *out)
{
	mark_checked(v, "expected_conditions");
	const cJSON *arr = opt_array(v, v->root, "expected_conditions");
	if (!arr)
		return;
	char e[1024] = "[", g[1024];
	bool same = array_len(arr) == out->n_conditions;
	size_t i = 0;
	const cJSON *o;
	cJSON_ArrayForEach(o, arr)
	{
		const cJSON *t = cJSON_GetArrayItem(o, 0), *st = cJSON_GetArrayItem(o, 1),
		            *rs = cJSON_GetArrayItem(o, 2);
		if (!cJSON_IsArray(o) || !cJSON_IsString(t) || !cJSON_IsString(st) ||
		    !cJSON_IsString(rs)) {
			input_error(v, "expected_conditions", "expected [type, status, reason]");
			return;
		}
		appendf(e, sizeof(e), "%s%s %s %s", i ? ", " : "", t->valuestring, st->valuestring,
		        rs->valuestring);
		if (same && i < out->n_conditions) {
			const struct eng_condition *c = &out->conditions[i];
			const char *reason = c->reason;
			same = strcmp(t->valuestring, eng_cond_type_name(c->type)) == 0 &&
			       strcmp(st->valuestring, c->status ? "True" : "False") == 0 &&
			       strcmp(rs->valuestring, reason) == 0;
		}
		i++;
	}
	appendf(e, sizeof(e), "]");
	if (!same) {
		format_conditions(out->conditions, out->n_conditions, g, sizeof(g));
		mismatch(v, "conditions", e, g);
	}
}

/* The decision record on stderr (-v), to read a failure. */
static void dump_decision(const struct vec *v, const struct eng_decision *out)
{
	fprintf(stderr,
	        "  %s: current=%d desired=%d write=%d computed=%d metric_replicas=%d "
	        "stabilized=%d rule=%s error=%d \"%s\" reason=\"%s\"\n",
	        v->id, out->current_replicas, out->desired_replicas, out->write, out->computed,
	        out->metric_replicas, out->stabilized_replicas, eng_rule_name(out->rule),
	        out->error, out->error_msg, out->reason);
	for (size_t i = 0; i < out->n_rows; i++) {
		const struct eng_metric_row *r = &out->rows[i];
		fprintf(stderr,
		        "    row %zu: ok=%d %s proposal=%d current=%lld util=%d ratio=%.6f "
		        "ready=%d unready=%d missing=%d ignored=%d err=\"%s\" %s\n",
		        i, r->ok, r->label, r->proposal, (long long)r->current_milli,
		        r->utilization, r->ratio, r->ready_pods, r->unready_pods, r->missing_pods,
		        r->ignored_pods, r->error, r->failure_reason ? r->failure_reason : "");
	}
}

/* One reconcile: eng_decide, then eng_rescaled when the scale would be written. */
static void run_controller(struct vec *v)
{
	struct eng_params p;
	read_params(v, &p);
	struct eng_spec spec;
	const char *types[ENG_MAX_METRICS] = {NULL};
	read_spec(v, &spec, types);
	struct pod_set ps;
	read_pods(v, "pods", SHAPE_CONTROLLER, NULL, NULL, &ps);
	struct eng_observation obs;
	memset(&obs, 0, sizeof(obs));
	obs.now_ms = NOW_MS;
	obs.spec_replicas = req_i32(v, v->root, "spec_replicas");
	obs.status_replicas = obs.spec_replicas;
	opt_i32(v, v->root, "status_replicas", &obs.status_replicas);
	obs.selector = ENG_SELECTOR_OK;
	obs.n_pods = ps.n;
	obs.pods = ps.pods;
	if (!v->bad)
		obs.readings = read_readings(v, &spec, types, &ps);
	obs.conditions = read_conditions(v, &obs.n_conditions);
	const cJSON *recs = opt_array(v, v->root, "recommendations");
	size_t n_extra = array_len(field(v->root, "extra_metric_samples"));
	struct eng_history h;
	if (v->bad || !history_init(v, &h, array_len(recs)))
		return;
	if (recs)
		read_recs(v, recs, &h); /* null: recs_set stays false, the engine seeds it */
	struct eng_scratch s;
	memset(&s, 0, sizeof(s));
	if (eng_scratch_reserve(&s, ps.n + n_extra + 8) != PS_OK)
		input_error(v, NULL, "eng_scratch_reserve failed");
	if (!v->bad) {
		struct eng_decision out;
		memset(&out, 0, sizeof(out));
		struct ps_diag d;
		ps_diag_clear(&d);
		enum ps_err rc = eng_decide(&spec, &p, &obs, &h, &s, &out, &d);
		if (expect_call(v, rc, &d)) {
			if (out.write)
				eng_rescaled(&spec, &p, &h, &out, NOW_MS);
			expect_i64(v, "expected_replicas", "replicas", out.desired_replicas);
			expect_bool(v, "expected_scale_updated", "scale_updated", out.write);
			expect_bool(v, "expected_reconcile_error", "reconcile_error", out.error);
			expect_conditions(v, &out);
			if (v->verbose && v->n_mismatch)
				dump_decision(v, &out);
		}
	}
	eng_scratch_release(&s);
	eng_history_release(&h);
}

/* ---- dispatch ---- */

static const struct kind {
	const char *name;
	void (*run)(struct vec *v);
} KINDS[] = {
    {"resource_utilization", run_resource_utilization},
    {"pods", run_pods},
    {"object", run_object},
    {"object_per_pod", run_object_per_pod},
    {"external", run_external},
    {"external_per_pod", run_external_per_pod},
    {"group_pods", run_group_pods},
    {"behavior", run_behavior},
    {"behavior_limit", run_behavior_limit},
    {"stabilization", run_stabilization},
    {"stabilization_legacy", run_stabilization_legacy},
    {"legacy_rules", run_legacy_rules},
    {"scale_events", run_scale_events},
    {"controller", run_controller},
    {"multi_metric", run_controller},
};
#define N_KINDS PS_ARRAY_LEN(KINDS)

struct tally {
	size_t passed, failed;
	size_t kind_passed[N_KINDS], kind_failed[N_KINDS];
	size_t unrunnable; /* lines without a known kind */
};

static bool has_expectation(const cJSON *root)
{
	for (const cJSON *it = root->child; it; it = it->next)
		if (it->string && strncmp(it->string, "expected_", 9) == 0)
			return true;
	return false;
}

/* Warns (stderr) about expected_* fields no handler compared: a new field needs code here. */
static void warn_unchecked(const struct vec *v)
{
	for (const cJSON *it = v->root->child; it; it = it->next)
		if (it->string && strncmp(it->string, "expected_", 9) == 0 &&
		    !was_checked(v, it->string))
			fprintf(stderr, "WARN line %zu: %s: field \"%s\" is not compared\n",
			        v->line_no, v->id, it->string);
}

/* Runs one non-empty line; counts it in <t> and prints its FAIL or ERROR line. */
static void run_line(const char *line, size_t len, size_t line_no, bool verbose, struct tally *t)
{
	char *text = quote_big_ints(line, len);
	cJSON *root = text ? cJSON_ParseWithLength(text, strlen(text)) : NULL;
	const char *kind_name = NULL;
	size_t k = N_KINDS;
	struct vec *v = NULL;
	if (!text) {
		printf("ERROR line %zu: out of memory\n", line_no);
		goto unrunnable;
	}
	if (!root) {
		const char *at = cJSON_GetErrorPtr();
		size_t off =
		    at && at >= text && at <= text + strlen(text) ? (size_t)(at - text) : 0;
		printf("ERROR line %zu: invalid JSON at byte %zu\n", line_no, off);
		goto unrunnable;
	}
	if (!cJSON_IsObject(root)) {
		printf("ERROR line %zu: not a JSON object\n", line_no);
		goto unrunnable;
	}
	const cJSON *id = field(root, "id"), *source = field(root, "source"),
	            *kind = field(root, "kind");
	if (!cJSON_IsString(id) || !cJSON_IsString(source) || !cJSON_IsString(kind)) {
		printf("ERROR line %zu: missing string field \"id\", \"source\" or \"kind\"\n",
		       line_no);
		goto unrunnable;
	}
	kind_name = kind->valuestring;
	for (k = 0; k < N_KINDS; k++)
		if (strcmp(KINDS[k].name, kind_name) == 0)
			break;
	if (k == N_KINDS) {
		printf("ERROR line %zu: %s: unknown kind \"%s\"\n", line_no, id->valuestring,
		       kind_name);
		goto unrunnable;
	}
	if (!has_expectation(root)) {
		printf("ERROR line %zu: %s: no expected_* field\n", line_no, id->valuestring);
		goto failed;
	}
	v = ps_calloc(1, sizeof(*v));
	if (!v) {
		printf("ERROR line %zu: out of memory\n", line_no);
		goto failed;
	}
	v->root = root;
	v->id = id->valuestring;
	v->source = source->valuestring;
	v->line_no = line_no;
	v->verbose = verbose;
	KINDS[k].run(v);
	vec_free_all(v);
	if (v->bad) {
		printf("ERROR line %zu: %s: %s\n", line_no, v->id, v->why);
		goto failed;
	}
	warn_unchecked(v);
	if (v->n_mismatch) {
		printf("FAIL %s %s: expected %s, got %s\n", v->id, v->source, v->exp, v->got);
		goto failed;
	}
	t->passed++;
	t->kind_passed[k]++;
	goto out;

unrunnable:
	t->unrunnable++;
failed:
	t->failed++;
	if (k < N_KINDS)
		t->kind_failed[k]++;
out:
	ps_free(v);
	cJSON_Delete(root);
	ps_free(text);
}

static void usage(FILE *f)
{
	fprintf(f,
	        "usage: hpa_conformance [-v] [FILE.jsonl]\n"
	        "  default FILE: %s\n",
	        DEFAULT_VECTORS);
}

int main(int argc, char **argv)
{
	bool verbose = false;
	const char *path = NULL;
	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "-v") == 0) {
			verbose = true;
		} else if (strcmp(argv[i], "-h") == 0 || strcmp(argv[i], "--help") == 0) {
			usage(stdout);
			return 0;
		} else if (!path && argv[i][0] != '-') {
			path = argv[i];
		} else {
			usage(stderr);
			return 2;
		}
	}
	if (!path)
		path = DEFAULT_VECTORS;

	cJSON_Hooks hooks = {.malloc_fn = ps_malloc, .free_fn = ps_free};
	cJSON_InitHooks(&hooks);

	struct tally t;
	memset(&t, 0, sizeof(t));
	FILE *f = fopen(path, "r");
	if (!f) {
		printf("ERROR line 0: cannot open %s: %s\n", path, strerror(errno));
		printf("0 passed, 1 failed\n");
		return 1;
	}
	char *line = NULL; /* getline's buffer: libc-allocated by contract, freed with free() */
	size_t cap = 0, line_no = 0;
	ssize_t n;
	while ((n = getline(&line, &cap, f)) != -1) {
		line_no++;
		size_t len = (size_t)n;
		while (len > 0 && isspace((unsigned char)line[len - 1]))
			len--;
		size_t start = 0;
		while (start < len && isspace((unsigned char)line[start]))
			start++;
		if (start == len)
			continue;
		run_line(line + start, len - start, line_no, verbose, &t);
	}
	bool read_error = ferror(f) != 0;
	free(line);
	fclose(f);
	if (read_error) {
		printf("ERROR line %zu: read error in %s\n", line_no + 1, path);
		t.failed++;
	}
	if (t.passed + t.failed == 0) {
		printf("ERROR line 0: no vectors in %s\n", path);
		t.failed++;
	}
	if (verbose) {
		for (size_t k = 0; k < N_KINDS; k++)
			if (t.kind_passed[k] + t.kind_failed[k])
				printf("kind %-22s %3zu passed, %3zu failed\n", KINDS[k].name,
				       t.kind_passed[k], t.kind_failed[k]);
		if (t.unrunnable)
			printf("kind %-22s %3d passed, %3zu failed\n", "(unrunnable)", 0,
			       t.unrunnable);
	}
	printf("%zu passed, %zu failed\n", t.passed, t.failed);
	return t.failed ? 1 : 0;
}
