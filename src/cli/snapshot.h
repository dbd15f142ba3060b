/* snapshot.h -- a JSON snapshot of one scale target (spec, scale, pods, metric readings, history,
 * controller flags) mapped onto the engine's inputs, for `prescale recommend`.
 *
 * The format is documented in README.md ("The snapshot format"). Parsing is strict: an unknown
 * field, a value of the wrong JSON type, a bad quantity, duration or time, or a value the
 * Kubernetes API would reject fails with a message that names the field path, e.g.
 * `snapshot: spec.metrics[1].external.target.averageValue: invalid quantity "3O": ...`.
 */
#ifndef SNAPSHOT_H
#define SNAPSHOT_H

#include <stddef.h>

#include "engine_types.h"
#include "ps_compiler.h"
#include "ps_diag.h"
#include "ps_err.h"

/* The largest snapshot `prescale recommend` reads. */
#define SNAPSHOT_MAX_BYTES ((size_t)16 * 1024 * 1024)

struct cJSON;

/* The engine inputs of one decision. <obs> and <history> point into storage owned by the
 * snapshot (the parsed JSON tree and the arrays behind <owned>); they live until
 * snapshot_release(). <spec> and <params> are plain data. */
struct snapshot {
	struct eng_spec spec;          /* behavior already API-defaulted */
	struct eng_params params;      /* Kubernetes defaults overridden by "controller" */
	struct eng_observation obs;
	struct eng_history history;    /* sized with room for the decision's own entries */
	/* private */
	struct cJSON *json;            /* names and messages in <obs> borrow from it */
	size_t n_owned, cap_owned;
	void **owned;                  /* every array behind <obs> */
};

/* Parses the JSON text <text> of <len> bytes (not NUL-terminated necessarily) into <out>.
 * <source> names the input in messages ("snapshot" when NULL; a file name otherwise) and is
 * borrowed for the call only. On success <out> holds owned storage: release it with
 * snapshot_release(). On failure <out> holds nothing (releasing it is harmless) and <diag>
 * (may be NULL) says what is wrong: PS_EPARSE for bad JSON ("<source>:<line>:<col>: ...") or a
 * bad field ("<source>: <field path>: ..."), PS_ERANGE for a number out of range, PS_ETOOBIG
 * for more than the engine's limits (metrics, policies), PS_ENOMEM. */
PS_MUST_CHECK enum ps_err snapshot_parse(const char *text, size_t len, const char *source,
					 struct snapshot *out, struct ps_diag *diag);

/* Frees everything <s> owns and zeroes it. NULL and a zeroed snapshot are allowed. */
void snapshot_release(struct snapshot *s);

#endif
