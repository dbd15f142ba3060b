/* ps_log.h -- leveled, structured logging as text or JSON lines, one whole line per record.
 *
 * Only src/ctl and src/cli log; lower layers return errors with a struct ps_diag. A record is a
 * message plus key/value fields:
 *
 *   ps_log(PS_LOG_INFO, "decision", "target", "shop/Deployment/web", "desired", "5", NULL);
 *   PS_LOG_FIELDS(PS_LOG_INFO, "decision", PS_LOG_STR("target", key), PS_LOG_INT("desired", 5));
 *
 * text:  2026-11-26T12:00:00.123Z INFO  decision target=shop/Deployment/web desired=5
 * json:  {"ts":"2026-11-26T12:00:00.123Z","level":"info","msg":"decision","target":"...",...}
 *
 * Text values are quoted (JSON string escapes) when empty or containing a space, quote, '=',
 * backslash, control or non-UTF-8 byte; the text message is unquoted with control bytes
 * escaped. Invalid UTF-8 becomes U+FFFD; valid UTF-8 passes through. A message or value longer
 * than PS_LOG_VALUE_MAX bytes is cut at a character boundary and ends with "...".
 *
 * All functions are thread-safe. Settings are process-wide and meant to be set at start-up.
 */
#ifndef PS_LOG_H
#define PS_LOG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "ps_clock.h"
#include "ps_compiler.h"
#include "ps_diag.h"
#include "ps_err.h"

#define PS_LOG_VALUE_MAX 4096

enum ps_log_level { PS_LOG_DEBUG, PS_LOG_INFO, PS_LOG_WARN, PS_LOG_ERROR };
enum ps_log_format { PS_LOG_TEXT, PS_LOG_JSON };
enum ps_log_field_kind { PS_LOG_FIELD_STR, PS_LOG_FIELD_INT, PS_LOG_FIELD_DBL, PS_LOG_FIELD_BOOL };

/* One typed field. In JSON, INT and DBL are numbers (NaN and infinities become the strings
 * "NaN", "+Inf", "-Inf"), BOOL is true/false, STR is a string (NULL logs as null). */
struct ps_log_field {
	const char *key;
	enum ps_log_field_kind kind;
	union {
		const char *s;
		int64_t i;
		double d;
		bool b;
	};
};

#define PS_LOG_STR(k, v) ((struct ps_log_field){.key = (k), .kind = PS_LOG_FIELD_STR, .s = (v)})
#define PS_LOG_INT(k, v) ((struct ps_log_field){.key = (k), .kind = PS_LOG_FIELD_INT, .i = (v)})
#define PS_LOG_DBL(k, v) ((struct ps_log_field){.key = (k), .kind = PS_LOG_FIELD_DBL, .d = (v)})
#define PS_LOG_BOOL(k, v) ((struct ps_log_field){.key = (k), .kind = PS_LOG_FIELD_BOOL, .b = (v)})

/* Logs <msg> (borrowed; NULL logs as "") at <level> with string fields given as alternating
 * key, value arguments (borrowed) ended by NULL. A NULL value also ends the list: its key is
 * logged with the value null. Does nothing below the threshold. May block on the output. */
void ps_log(enum ps_log_level level, const char *msg, ...) __attribute__((sentinel));

/* Logs <msg> with <n> typed fields (borrowed; <fields> may be NULL when n == 0). */
void ps_log_fields(enum ps_log_level level, const char *msg, const struct ps_log_field *fields,
		   size_t n);

/* ps_log_fields with the fields written inline: PS_LOG_FIELDS(lvl, "msg", PS_LOG_INT("n", 1)). */
#define PS_LOG_FIELDS(level, msg, ...)                                                         \
	ps_log_fields((level), (msg), (const struct ps_log_field[]){__VA_ARGS__},              \
		      sizeof((const struct ps_log_field[]){__VA_ARGS__}) /                     \
			      sizeof(struct ps_log_field))

/* True when a record at <level> would be written (skip costly field formatting otherwise). */
bool ps_log_enabled(enum ps_log_level level);

/* Sets the threshold (default PS_LOG_INFO): records below it are dropped. */
void ps_log_set_level(enum ps_log_level level);
enum ps_log_level ps_log_get_level(void);
/* Sets the format (default PS_LOG_TEXT). */
void ps_log_set_format(enum ps_log_format format);
enum ps_log_format ps_log_get_format(void);
/* Sets the output stream; borrows <f>, which must stay open until replaced. NULL means stderr
 * (the default). Each line is written with one fwrite and flushed. Once this returns, no line
 * is being written to the previous stream, so the caller may close it. */
void ps_log_set_output(FILE *f);
/* Sets the clock the timestamps come from; borrows <c>, which must outlive its use here. NULL
 * means the real clock (the default). */
void ps_log_set_clock(struct ps_clock *c);

/* Number of lines that could not be written completely (short write or flush error). */
uint64_t ps_log_dropped(void);

/* Parses a level name: "debug", "info", "warn" (or "warning"), "error", any case. Returns
 * PS_OK or PS_EINVAL with <diag> (may be NULL) naming the accepted values. */
PS_MUST_CHECK enum ps_err ps_log_level_parse(const char *s, enum ps_log_level *out,
					     struct ps_diag *diag);
/* Parses a format name: "text" or "json", any case. Returns PS_OK or PS_EINVAL. */
PS_MUST_CHECK enum ps_err ps_log_format_parse(const char *s, enum ps_log_format *out,
					      struct ps_diag *diag);
/* Returns the lower-case static name of <level> ("info"); "unknown" outside the enum. */
const char *ps_log_level_name(enum ps_log_level level);

#endif
