/* fuzz_prom.c -- fuzz target: prom_parse_response() over any body, as a saved file (status 0)
 * and as HTTP answers (200, 400, 503, with another key label), then the accessors of a parsed
 * result. Checks the properties prom.h documents: an error has a "prometheus: " message and
 * leaves nothing to free; a result's counts, no-data flags and keys agree with its points and
 * labels; vector samples have one point; matrix points are in strictly increasing time order. */
#include <math.h>
#include <string.h>

#include "fuzz.h"
#include "prom.h"

static void check_result(const struct prom_result *r, long status, const char *key_label)
{
	FUZZ_CHECK(r->http_status == status);
	size_t with_data = 0;
	switch (r->type) {
	case PROM_RESULT_SCALAR:
		FUZZ_CHECK(r->n_series == 0);
		FUZZ_CHECK(r->scalar.no_data == !isfinite(r->scalar.value));
		FUZZ_CHECK(r->no_data == r->scalar.no_data);
		with_data = r->scalar.no_data ? 0 : 1;
		break;
	case PROM_RESULT_STRING:
		FUZZ_CHECK(r->string != NULL);
		FUZZ_CHECK(r->n_series == 0);
		break;
	case PROM_RESULT_VECTOR:
	case PROM_RESULT_MATRIX:
		FUZZ_CHECK(r->n_series == 0 || r->series != NULL);
		for (size_t i = 0; i < r->n_series; i++) {
			const struct prom_series *s = &r->series[i];
			if (r->type == PROM_RESULT_VECTOR)
				FUZZ_CHECK(s->n_points == 1);
			for (size_t k = 0; k < s->n_points; k++) {
				const struct prom_point *p = &s->points[k];
				FUZZ_CHECK(p->no_data == !isfinite(p->value));
				if (!p->no_data)
					with_data++;
				if (k > 0)
					FUZZ_CHECK(p->ts_ms > s->points[k - 1].ts_ms);
			}
			for (size_t k = 0; k < s->n_labels; k++)
				FUZZ_CHECK(s->labels[k].name && s->labels[k].value);
			/* The key is the value of the key label, as the accessor finds it. */
			FUZZ_CHECK(s->key == prom_series_label(s, key_label));
			if (s->key)
				FUZZ_CHECK(prom_result_find(r, s->key) != NULL);
		}
		FUZZ_CHECK(r->no_data == (with_data == 0));
		break;
	default:
		fprintf(stderr, "unknown result type %d\n", (int)r->type);
		abort();
	}
	FUZZ_CHECK(r->n_points_with_data == with_data);
	for (size_t i = 0; i < r->n_warnings; i++)
		FUZZ_CHECK(r->warnings[i] != NULL);

	double v = 0;
	struct ps_diag d;
	enum ps_err err = prom_result_value(r, &v, &d);
	if (err == PS_OK)
		FUZZ_CHECK(isfinite(v));
	else
		FUZZ_CHECK(err == PS_ENODATA || err == PS_EMETRIC);
	if (err == PS_ENODATA)
		FUZZ_CHECK(isnan(v) || isinf(v));
}

static void parse_as(const uint8_t *data, size_t size, long status, const char *key_label)
{
	struct prom_parse_opts o = {
	    .source = status ? "GET http://fuzz/api/v1/query" : "fuzz.json",
	    .http_status = status,
	    .content_type = status ? "application/json" : NULL,
	    .key_label = key_label,
	};
	struct prom_result r;
	struct ps_diag d;
	memset(&r, 0xa5, sizeof(r)); /* the parser must set every field itself */
	enum ps_err err = prom_parse_response((const char *)data, size, &o, &r, &d);
	if (err == PS_OK) {
		check_result(&r, status, key_label ? key_label : PROM_DEFAULT_KEY_LABEL);
	} else {
		FUZZ_CHECK(strncmp(ps_diag_msg(&d), "prometheus: ", 12) == 0);
		/* "On failure <out> holds nothing": releasing it must be harmless. */
		FUZZ_CHECK(r.mem == NULL && r.n_series == 0 && r.n_warnings == 0);
	}
	prom_result_release(&r);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	parse_as(data, size, 0, NULL);
	parse_as(data, size, 200, NULL);
	parse_as(data, size, 400, "instance");
	parse_as(data, size, 503, NULL);
	return 0;
}
