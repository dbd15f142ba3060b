/* record.h -- the decision record (DESIGN.md section 1) written as JSON or as a readable table.
 *
 * The record answers "why N replicas?": current and desired counts, whether the scale is
 * written, the rule that bound the result, the HPA reason and conditions, and one row per
 * metric of the spec. Both writers borrow their arguments and only write to <out>.
 */
#ifndef RECORD_H
#define RECORD_H

#include <stdio.h>

#include "engine_types.h"
#include "ps_compiler.h"
#include "ps_err.h"

/* Writes <d> (decided for <spec>) to <out> as one JSON object with a stable key order and a
 * 2-space indent, followed by a newline. Returns PS_OK, or PS_EIO when writing failed. */
PS_MUST_CHECK enum ps_err record_write_json(FILE *out, const struct eng_spec *spec,
					    const struct eng_decision *d);

/* Writes <d> to <out> as an aligned text block: target replicas, reason, the binding rule,
 * the metric table, the conditions. Returns PS_OK, PS_ENOMEM, or PS_EIO when writing failed. */
PS_MUST_CHECK enum ps_err record_write_table(FILE *out, const struct eng_spec *spec,
					     const struct eng_decision *d);

#endif
