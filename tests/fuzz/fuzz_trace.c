/* fuzz_trace.c -- fuzz target: the `prescale simulate` input readers, trace_from_csv_text() and
 * trace_from_query_range_text(), on every input. Checks the rules of trace.h: a loaded trace has
 * at least 2 samples, strictly increasing times on one regular step (gaps whole multiples of it,
 * counted in n_missing), finite values and its source name; CSV never skips samples; a failure
 * has a message that starts with the source name and leaves nothing to free. */
#include <math.h>
#include <string.h>

#include "fuzz.h"
#include "trace.h"

static void check_trace(const struct trace *t, const char *source, int csv)
{
	FUZZ_CHECK(t->n >= 2 && t->ts_ms && t->value);
	FUZZ_CHECK(t->step_ms > 0);
	FUZZ_CHECK(strcmp(t->source, source) == 0);
	if (csv)
		FUZZ_CHECK(t->n_skipped == 0);
	size_t missing = 0;
	for (size_t i = 0; i < t->n; i++) {
		FUZZ_CHECK(isfinite(t->value[i]));
		if (i == 0)
			continue;
		FUZZ_CHECK(t->ts_ms[i] > t->ts_ms[i - 1]);
		int64_t diff = t->ts_ms[i] - t->ts_ms[i - 1];
		FUZZ_CHECK(diff % t->step_ms == 0);
		missing += (size_t)(diff / t->step_ms - 1);
	}
	FUZZ_CHECK(t->n_missing == missing);
}

static void check_failure(enum ps_err err, const struct ps_diag *d, const struct trace *t,
                          const char *source)
{
	FUZZ_CHECK(err == PS_EPARSE || err == PS_ERANGE || err == PS_ETOOBIG);
	FUZZ_CHECK(strncmp(ps_diag_msg(d), source, strlen(source)) == 0);
	FUZZ_CHECK(t->n == 0 && t->ts_ms == NULL && t->value == NULL);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *text = (const char *)data;
	struct trace t;
	struct ps_diag d;

	memset(&t, 0xa5, sizeof(t)); /* the reader must set every field itself */
	enum ps_err err = trace_from_csv_text(text, size, "fuzz.csv", &t, &d);
	if (err == PS_OK)
		check_trace(&t, "fuzz.csv", 1);
	else
		check_failure(err, &d, &t, "fuzz.csv");
	trace_release(&t);

	memset(&t, 0xa5, sizeof(t));
	err = trace_from_query_range_text(text, size, "fuzz.json", &t, &d);
	if (err == PS_OK)
		check_trace(&t, "fuzz.json", 0);
	else
		check_failure(err, &d, &t, "fuzz.json");
	trace_release(&t);
	return 0;
}
