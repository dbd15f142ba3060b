/* ps_parse.h -- strict parsers for the values users write: Kubernetes quantities, durations,
 * integers and floats. Each rejects anything but the whole string in its grammar and says why.
 */
#ifndef PS_PARSE_H
#define PS_PARSE_H

#include <stddef.h>
#include <stdint.h>

#include "ps_compiler.h"
#include "ps_diag.h"

/* Parses a resource.Quantity ("500m", "1.5", "2k", "10Mi", "1e3", "-2", "+3.5Gi") into
 * milli-units, rounding up to the next milli like Quantity.MilliValue(). Returns PS_OK,
 * PS_EPARSE (not in the grammar) or PS_ERANGE (does not fit int64 milli), with <diag>
 * quoting the input. */
PS_MUST_CHECK enum ps_err ps_parse_quantity_milli(const char *s, int64_t *out_milli,
						  struct ps_diag *diag);
/* Writes <milli> in canonical short form ("500m", "2", "1500m") into <buf>. Returns <buf>. */
char *ps_format_quantity_milli(int64_t milli, char *buf, size_t size);

/* Parses a duration made of <number><unit> parts, units ms, s, m, h, d ("15s", "1m30s", "7d",
 * "250ms"); a bare "0" is zero. Non-negative only. Returns PS_OK, PS_EPARSE or PS_ERANGE. */
PS_MUST_CHECK enum ps_err ps_parse_duration_ms(const char *s, int64_t *out_ms,
					       struct ps_diag *diag);
/* Writes <ms> as the shortest duration string ("1m30s", "7d", "250ms", "0s"). Returns <buf>. */
char *ps_format_duration_ms(int64_t ms, char *buf, size_t size);

/* Whole-string strict integer and float parsing (strtoll/strtod with end checks, no NaN/Inf
 * for floats). */
PS_MUST_CHECK enum ps_err ps_parse_int64(const char *s, int64_t *out, struct ps_diag *diag);
PS_MUST_CHECK enum ps_err ps_parse_double(const char *s, double *out, struct ps_diag *diag);

#endif
