/* ps_text.h -- quoting input for messages, and locating a byte offset as line:column. Shared by
 * every parser that reports errors in text (quantities, traces, JSON snapshots). */
#ifndef PS_TEXT_H
#define PS_TEXT_H

#include <stddef.h>

#include "ps_diag.h"

/* Size of an output buffer for ps_text_quote() with a cut after <max> input bytes. */
#define PS_QUOTE_BUF(max) ((max)*4 + 8)

/* Writes the first <n> bytes of <s> (borrowed) into <out> in double quotes: quotes and
 * backslashes escaped, control bytes (NUL included) as \xNN, cut with "..." after <max> input
 * bytes. <out_size> must be at least PS_QUOTE_BUF(max). Returns <out>. */
const char *ps_text_quote(char *out, size_t out_size, const char *s, size_t n, size_t max);

/* The 1-based line and column of byte <off> of <text>; columns count characters, not UTF-8
 * continuation bytes. */
void ps_text_locate(const char *text, size_t len, size_t off, size_t *line, size_t *col);

/* Records "<source>:<line>:<col>: <what> near '<excerpt>'" in <d> for an error at byte <off>
 * ("at end of line" when the line ends there; no excerpt when <off> is the end of the input).
 * Returns PS_EPARSE. */
enum ps_err ps_text_syntax_error(struct ps_diag *d, const char *source, const char *text,
                                 size_t len, size_t off, const char *what);

#endif
