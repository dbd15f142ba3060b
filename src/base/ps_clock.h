/* ps_clock.h -- time sources (real and virtual) and RFC 3339 timestamps.
 *
 * Everything that needs "now" takes a struct ps_clock *, so the simulator and the tests can run
 * on a virtual clock they move by hand. Time is int64_t milliseconds: <mono> for intervals and
 * deadlines (never goes back), <wall> for timestamps (Unix epoch, UTC; may be stepped).
 */
#ifndef PS_CLOCK_H
#define PS_CLOCK_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#include "ps_compiler.h"
#include "ps_diag.h"
#include "ps_err.h"

/* Length of ps_clock_format_rfc3339's output, "2026-11-26T12:00:00.000Z", without the NUL. */
#define PS_RFC3339_MS_LEN 24

struct ps_clock {
	int64_t (*mono_ms)(struct ps_clock *c);
	int64_t (*wall_ms)(struct ps_clock *c);
	/* Virtual clocks only; atomic, so any thread may read or move them. */
	_Atomic int64_t virt_mono;
	_Atomic int64_t virt_wall;
};

/* Returns the process-wide real clock (CLOCK_MONOTONIC, CLOCK_REALTIME), borrowed: never
 * freed, safe from any thread. */
struct ps_clock *ps_clock_real(void);

/* Initialises <c> (not NULL) as a real clock, same readings as ps_clock_real(). */
void ps_clock_real_init(struct ps_clock *c);

/* Initialises <c> (not NULL) as a virtual clock standing at wall time <start_wall_ms>; its
 * monotonic reading starts at the same number. It moves only when told to. */
void ps_clock_virtual_init(struct ps_clock *c, int64_t start_wall_ms);

/* Moves virtual clock <c> forward by <ms> (>= 0): both readings advance. Safe from any thread;
 * a concurrent reader may see the monotonic reading moved before the wall reading. */
void ps_clock_virtual_advance(struct ps_clock *c, int64_t ms);

/* Steps the wall reading of virtual clock <c> to <wall_ms>, forward or back, like an NTP step;
 * the monotonic reading is unchanged. Safe from any thread. */
void ps_clock_virtual_set(struct ps_clock *c, int64_t wall_ms);

/* Reads <c> (not NULL). Safe from any thread for the real and virtual clocks. */
int64_t ps_clock_mono_ms(struct ps_clock *c);
int64_t ps_clock_wall_ms(struct ps_clock *c);

/* Writes <wall_ms> as RFC 3339 UTC with milliseconds, "2026-11-26T12:00:00.000Z" (always
 * PS_RFC3339_MS_LEN characters; times outside years 0000..9999 are clamped to that range) into
 * <buf> (borrowed, truncated to <size>). Returns <buf>. */
char *ps_clock_format_rfc3339(int64_t wall_ms, char *buf, size_t size);

/* Parses an RFC 3339 timestamp "YYYY-MM-DDTHH:MM:SS[.frac](Z|+HH:MM|-HH:MM)" ('t' and 'z'
 * also accepted, as RFC 3339 allows; no leap second 60) into Unix milliseconds, truncating
 * digits past the millisecond. Returns PS_OK or PS_EPARSE with <diag> (may be NULL) quoting the
 * input. */
PS_MUST_CHECK enum ps_err ps_clock_parse_rfc3339(const char *s, int64_t *out_wall_ms,
						 struct ps_diag *diag);

#endif
