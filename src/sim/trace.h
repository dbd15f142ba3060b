/* trace.h -- a recorded series for `prescale simulate`, read from a CSV file or a saved Prometheus
 * query_range response.
 *
 * Both inputs end as the same struct trace: strictly increasing timestamps in milliseconds,
 * finite values, and one regular step. What is accepted:
 *
 * CSV. An optional header `timestamp,value` (names case-insensitive; a first line that does not
 * start like a number is taken as a header, and any other names are refused), then one row
 * `<seconds>,<value>` per sample. Seconds are Unix or relative, integer or decimal
 * (`[+-]digits[.digits]`, rounded to the nearest millisecond); values are plain decimal numbers
 * (ps_parse_double: no NaN, no Inf, no hex). Fields may be surrounded by spaces or tabs and may
 * be double-quoted as in RFC 4180 (`"12,5"` is one field). CRLF line ends, a leading UTF-8 BOM
 * and blank lines at the end are tolerated; blank lines elsewhere and `#` comments are not. A
 * missing sample is a missing row: NaN is refused so that a gap is never read as a value.
 *
 * query_range. The body of a Prometheus /api/v1/query_range response, read by the Prometheus
 * client's parser (prom_parse_response(), src/prom) so that a saved file and a live answer
 * (trace_from_prom_result()) obey the same rules: `status` "success", `data.resultType`
 * "matrix", exactly one series in `data.result`, and its `values` as [<unix seconds>,
 * "<value>"] pairs. Values "NaN", "+Inf" and "-Inf" are Prometheus' "no data" (DESIGN.md
 * section 4): those samples are skipped and counted in n_skipped, so they become gaps. An error
 * envelope (`"status":"error"`) fails with its errorType and error text. Unknown fields
 * (warnings, stats) are ignored.
 *
 * The step is the most common difference between consecutive timestamps (on a tie, the
 * smaller); for query_range the skipped samples' timestamps count too, since they sit on the
 * query's step. Every difference must be a whole multiple of the step: a larger multiple is a
 * gap of missing samples (counted in n_missing), anything else is refused with the line (CSV)
 * or the JSON path (query_range) of the sample that breaks the rhythm. At least 2 samples with
 * data are needed.
 *
 * Messages name the input and the place: `trace.csv:17: value "12,5" is not a number`,
 * `resp.json:3:14: invalid JSON near '...'`, `resp.json: data.result[0].values[4]: ...`.
 * Nothing here prints, logs or keeps global state (src/prom installs the cJSON allocation hooks
 * once per process).
 */
#ifndef TRACE_H
#define TRACE_H

#include <stddef.h>
#include <stdint.h>

#include "prom.h"
#include "ps_compiler.h"
#include "ps_diag.h"
#include "ps_err.h"

/* The largest input file read (256 MiB): a month of one-second samples fits many times over. */
#define TRACE_MAX_BYTES ((size_t)256 << 20)
/* Room for the input's name in struct trace, NUL included; longer names are cut. */
#define TRACE_SOURCE_MAX 256
/* A timestamp of this many seconds or more (about the year 5138) is refused: it is almost
 * certainly in milliseconds. It also keeps every millisecond value far inside int64_t. */
#define TRACE_MAX_ABS_SECONDS ((int64_t)100000000000LL)

struct trace {
	size_t n;         /* samples; at least 2 after a successful load */
	int64_t *ts_ms;   /* owned; n strictly increasing times in ms (Unix or relative) */
	double *value;    /* owned; n finite values */
	int64_t step_ms;  /* the regular step, > 0 */
	size_t n_missing; /* steps from first to last timestamp with no sample (gaps) */
	size_t n_skipped; /* query_range samples skipped as no data (NaN, +Inf, -Inf); 0 for CSV */
	char source[TRACE_SOURCE_MAX]; /* the file name or the caller's name for text input */
};

/* Reads the CSV file at <path> (borrowed) into <out>. Returns PS_OK with <out> holding owned
 * arrays (free with trace_release()). On failure <out> holds nothing (releasing it is harmless)
 * and <diag> (may be NULL) says what is wrong: PS_EPARSE for bad content, as
 * `<path>:<line>: message` or `<path>: message` for the file as a whole; PS_ERANGE for a number
 * out of range; PS_ENOENT / PS_EIO when the file cannot be read; PS_ETOOBIG above
 * TRACE_MAX_BYTES; PS_ENOMEM. Blocks on file I/O; safe from any thread. */
PS_MUST_CHECK enum ps_err trace_load_csv(const char *path, struct trace *out, struct ps_diag *diag);

/* Reads the file at <path> (borrowed) holding a Prometheus query_range response body. Returns
 * and ownership as trace_load_csv(); PS_EPARSE also for an error envelope of any errorType (the
 * message carries `<errorType>: <error>`), for text that is not JSON or JSON syntax
 * (`<path>:<line>:<col>: ...`) and for a response that is not one matrix series (`<path>: <JSON
 * path>: ...`); PS_ERANGE for a value or timestamp out of range. Safe from any thread: the
 * cJSON hooks are src/prom's, installed once per process. */
PS_MUST_CHECK enum ps_err trace_load_query_range(const char *path, struct trace *out,
                                                 struct ps_diag *diag);

/* Reads the file at <path> (borrowed) as a query_range response when its first byte that is
 * not white space (after an optional UTF-8 BOM) is '{' or its name ends in ".json" (any case),
 * and as CSV otherwise. Returns, ownership and threading as the two loaders above. */
PS_MUST_CHECK enum ps_err trace_load(const char *path, struct trace *out, struct ps_diag *diag);

/* Parse <len> bytes of CSV text at <text> (borrowed, need not be NUL-terminated). <source>
 * (borrowed; NULL means "trace") names the input in messages and in out->source. Returns and
 * ownership as trace_load_csv(), minus the file errors. Does no I/O. */
PS_MUST_CHECK enum ps_err trace_from_csv_text(const char *text, size_t len, const char *source,
                                              struct trace *out, struct ps_diag *diag);

/* Parse <len> bytes of a query_range response body at <text> (borrowed). As
 * trace_from_csv_text() for <source> and ownership; returns and threading as
 * trace_load_query_range(), minus the file errors. */
PS_MUST_CHECK enum ps_err trace_from_query_range_text(const char *text, size_t len,
                                                      const char *source, struct trace *out,
                                                      struct ps_diag *diag);

/* Turns the one series of <res> (borrowed: a result of prom_parse_response() or
 * prom_client_query()) into <out>, with the rules above: a matrix of exactly one series, the
 * step rule, no-data points skipped and counted, at least 2 samples with data. <source>
 * (borrowed; NULL means "trace") names the input in messages and in out->source: a file name, or
 * for a live query the server and the query. Returns PS_OK with <out> holding owned arrays, or
 * PS_EPARSE with <diag> (may be NULL) saying `<source>: data.resultType is "vector", not
 * "matrix": ...`, `<source>: data.result: no series (...)`, `<source>: data.result: <N> series;
 * simulate takes one: narrow the query (...)`, `<source>: data.result[0].values: ...` (too few
 * samples) or `<source>: data.result[0].values[<k>]: ...` (off the step); PS_ERANGE for a
 * timestamp beyond TRACE_MAX_ABS_SECONDS; PS_ENOMEM. On failure <out> holds nothing. No I/O. */
PS_MUST_CHECK enum ps_err trace_from_prom_result(const struct prom_result *res, const char *source,
                                                 struct trace *out, struct ps_diag *diag);

/* Frees the arrays of <t> and zeroes it. NULL and a zeroed or failed trace are allowed. */
void trace_release(struct trace *t);

#endif
