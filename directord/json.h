/* SPDX-License-Identifier: GPL-2.0-or-later */
/* directord/json.h: a growable text buffer and a small streaming JSON writer
 * on top of it, for directorctl's --json output and the metrics text.
 *
 * No state beyond the caller's struct; any thread, one writer per struct.
 * The writer tracks nesting so commas and colons are never the caller's
 * concern; strings are escaped per RFC 8259 (control characters as \u00XX,
 * bytes >= 0x80 passed through, so UTF-8 stays UTF-8).
 */
#ifndef DD_DIRECTORD_JSON_H
#define DD_DIRECTORD_JSON_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

struct dd_buf {
	char *p;        /* NUL-terminated while len > 0 */
	size_t len, cap;
};

/* Makes room for n more bytes and the NUL (out of line: rare). */
void dd_buf_grow(struct dd_buf *b, size_t n);
/* Inline: the writers call it for every token of a 5 MB answer. */
static inline void dd_buf_add(struct dd_buf *b, const void *data, size_t n)
{
	if (b->len + n + 1 > b->cap)
		dd_buf_grow(b, n);
	memcpy(b->p + b->len, data, n);
	b->len += n;
	b->p[b->len] = '\0';
}
void dd_buf_puts(struct dd_buf *b, const char *s);
void dd_buf_printf(struct dd_buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void dd_buf_vprintf(struct dd_buf *b, const char *fmt, va_list ap) __attribute__((format(printf, 2, 0)));
/* Decimal, without printf. */
void dd_buf_u64(struct dd_buf *b, uint64_t v);
void dd_buf_i64(struct dd_buf *b, int64_t v);
/* Hands the text over (malloc'd, never NULL) and empties the buffer. */
char *dd_buf_take(struct dd_buf *b);
void dd_buf_free(struct dd_buf *b);

#define DD_JSON_DEPTH 32

struct dd_json {
	struct dd_buf *out;
	int depth;
	bool first[DD_JSON_DEPTH]; /* no member written yet at this level */
	bool after_key;            /* a key was written; its value comes next */
	bool pretty;               /* two-space indent, one member per line */
};

void dd_json_init(struct dd_json *j, struct dd_buf *out, bool pretty);
void dd_json_obj_begin(struct dd_json *j);
void dd_json_obj_end(struct dd_json *j);
void dd_json_arr_begin(struct dd_json *j);
void dd_json_arr_end(struct dd_json *j);
/* key: one of the program's own names (plain ASCII, never from a config
 * or a peer), so it is written without escaping. */
void dd_json_key(struct dd_json *j, const char *key);
void dd_json_str(struct dd_json *j, const char *s);   /* NULL writes null */
void dd_json_int(struct dd_json *j, int64_t v);
void dd_json_uint(struct dd_json *j, uint64_t v);
void dd_json_double(struct dd_json *j, double v);     /* NaN/inf write null */
void dd_json_bool(struct dd_json *j, bool v);
void dd_json_null(struct dd_json *j);

/* key + value in one call, for the common object members */
void dd_json_kstr(struct dd_json *j, const char *key, const char *s);
void dd_json_kint(struct dd_json *j, const char *key, int64_t v);
void dd_json_kuint(struct dd_json *j, const char *key, uint64_t v);
void dd_json_kdouble(struct dd_json *j, const char *key, double v);
void dd_json_kbool(struct dd_json *j, const char *key, bool v);

/* Appends s as a JSON string literal, quotes included. */
void dd_json_escape(struct dd_buf *b, const char *s);

#endif
