/* ps_text.c -- quoting and line:column location for error messages. */
#include "ps_text.h"

#include <string.h>

const char *ps_text_quote(char *out, size_t out_size, const char *s, size_t n, size_t max)
{
	static const char hex[] = "0123456789abcdef";
	PS_ASSERT(out_size >= PS_QUOTE_BUF(max));
	size_t o = 0, i = 0;
	out[o++] = '"';
	for (; i < n && i < max; i++) {
		unsigned char c = (unsigned char)s[i];
		if (c == '"' || c == '\\') {
			out[o++] = '\\';
			out[o++] = (char)c;
		} else if (c < 0x20 || c == 0x7f) {
			out[o++] = '\\';
			out[o++] = 'x';
			out[o++] = hex[c >> 4];
			out[o++] = hex[c & 15];
		} else {
			out[o++] = (char)c;
		}
	}
	if (i < n) {
		memcpy(out + o, "...", 3);
		o += 3;
	}
	out[o++] = '"';
	out[o] = '\0';
	return out;
}

void ps_text_locate(const char *text, size_t len, size_t off, size_t *line, size_t *col)
{
	size_t l = 1, c = 1;
	for (size_t i = 0; i < off && i < len; i++) {
		unsigned char ch = (unsigned char)text[i];
		if (ch == '\n') {
			l++;
			c = 1;
		} else if ((ch & 0xC0) != 0x80) {
			c++;
		}
	}
	*line = l;
	*col = c;
}

enum ps_err ps_text_syntax_error(struct ps_diag *d, const char *source, const char *text,
                                 size_t len, size_t off, const char *what)
{
	size_t line, col;
	ps_text_locate(text, len, off, &line, &col);
	/* A short excerpt in single quotes, unescaped, so the input reads as written. */
	char near[24];
	size_t k = 0;
	for (size_t i = off; i < len && k + 1 < sizeof(near); i++) {
		unsigned char ch = (unsigned char)text[i];
		if (ch == '\n' || ch == '\r')
			break;
		near[k++] = ch < 0x20 || ch == 0x7f ? '?' : (char)ch;
	}
	near[k] = '\0';
	if (off >= len)
		return ps_diag_set(d, PS_EPARSE, "%s:%zu:%zu: %s", source, line, col, what);
	if (k == 0)
		return ps_diag_set(d, PS_EPARSE, "%s:%zu:%zu: %s at end of line", source, line, col,
		                   what);
	return ps_diag_set(d, PS_EPARSE, "%s:%zu:%zu: %s near '%s'", source, line, col, what, near);
}
