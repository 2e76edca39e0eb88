/* SPDX-License-Identifier: GPL-2.0-or-later */
/* directord/json.c: see json.h. No shared state; any thread. */
#include "config.h"
#include "directord/json.h"
#include "lib/util.h"

#include <math.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void dd_buf_grow(struct dd_buf *b, size_t extra)
{
	if (b->len + extra + 1 <= b->cap)
		return;
	size_t cap = b->cap ? b->cap : 256;
	while (cap < b->len + extra + 1)
		cap *= 2;
	b->p = xrealloc(b->p, cap);
	b->cap = cap;
}

void dd_buf_puts(struct dd_buf *b, const char *s)
{
	dd_buf_add(b, s, strlen(s));
}

void dd_buf_vprintf(struct dd_buf *b, const char *fmt, va_list ap)
{
	va_list ap2;
	va_copy(ap2, ap);
	char small[256];
	int n = vsnprintf(small, sizeof small, fmt, ap);
	if (n < 0) {
		va_end(ap2);
		return;
	}
	if ((size_t)n < sizeof small) {
		dd_buf_add(b, small, (size_t)n);
	} else {
		dd_buf_grow(b, (size_t)n);
		vsnprintf(b->p + b->len, (size_t)n + 1, fmt, ap2);
		b->len += (size_t)n;
	}
	va_end(ap2);
}

void dd_buf_printf(struct dd_buf *b, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	dd_buf_vprintf(b, fmt, ap);
	va_end(ap);
}

/* Scrapes of ten thousand servers print a hundred thousand numbers:
 * without printf's format parsing that is a third of the time. */
void dd_buf_u64(struct dd_buf *b, uint64_t v)
{
	char tmp[20];
	size_t n = 0;
	do {
		tmp[sizeof tmp - ++n] = (char)('0' + v % 10);
		v /= 10;
	} while (v);
	dd_buf_add(b, tmp + sizeof tmp - n, n);
}

void dd_buf_i64(struct dd_buf *b, int64_t v)
{
	if (v < 0) {
		dd_buf_add(b, "-", 1);
		dd_buf_u64(b, (uint64_t)0 - (uint64_t)v);
	} else {
		dd_buf_u64(b, (uint64_t)v);
	}
}

char *dd_buf_take(struct dd_buf *b)
{
	char *p = b->p ? b->p : xstrdup("");
	b->p = NULL;
	b->len = b->cap = 0;
	return p;
}

void dd_buf_free(struct dd_buf *b)
{
	free(b->p);
	b->p = NULL;
	b->len = b->cap = 0;
}

/* Length of the valid UTF-8 sequence at s (1..4), or 0 if the bytes there
 * are not one (overlong forms, surrogates and values past U+10FFFF
 * included): RFC 3629. */
static size_t utf8_len(const unsigned char *s)
{
	unsigned char c = s[0];
	if (c < 0x80)
		return 1;
	size_t n = c >= 0xc2 && c <= 0xdf ? 2 : c >= 0xe0 && c <= 0xef ? 3 : c >= 0xf0 && c <= 0xf4 ? 4 : 0;
	if (!n)
		return 0;
	for (size_t i = 1; i < n; i++)
		if ((s[i] & 0xc0) != 0x80)
			return 0;
	if ((c == 0xe0 && s[1] < 0xa0) || (c == 0xed && s[1] > 0x9f) || (c == 0xf0 && s[1] < 0x90) ||
	    (c == 0xf4 && s[1] > 0x8f))
		return 0;
	return n;
}

/* Bytes that can go out as they are: printable ASCII but the quote and
 * the backslash. Everything else takes the slow path below. */
static bool plain(unsigned char c)
{
	return c >= 0x20 && c < 0x7f && c != '"' && c != '\\';
}

/* A string from the config or a peer may hold any byte: what is not valid
 * UTF-8 goes out as \u00XX (the byte's value), so the document always
 * parses, in jq and Python alike. Runs of plain bytes (nearly all of a
 * status answer) are copied whole. */
void dd_json_escape(struct dd_buf *b, const char *s)
{
	dd_buf_add(b, "\"", 1);
	const char *run = s;
	while (*s) {
		unsigned char c = (unsigned char)*s;
		if (plain(c)) {
			s++;
			continue;
		}
		const char *esc = NULL;
		char u[8];
		size_t n = 1;
		switch (c) {
		case '"': esc = "\\\""; break;
		case '\\': esc = "\\\\"; break;
		case '\n': esc = "\\n"; break;
		case '\r': esc = "\\r"; break;
		case '\t': esc = "\\t"; break;
		default:
			if (c < 0x80 || !(n = utf8_len((const unsigned char *)s))) {
				snprintf(u, sizeof u, "\\u%04x", c);
				esc = u;
				n = 1;
			}
		}
		if (esc) {
			dd_buf_add(b, run, (size_t)(s - run));
			dd_buf_puts(b, esc);
			run = s + n;
		}
		s += n;
	}
	dd_buf_add(b, run, (size_t)(s - run));
	dd_buf_add(b, "\"", 1);
}

void dd_json_init(struct dd_json *j, struct dd_buf *out, bool pretty)
{
	memset(j, 0, sizeof *j);
	j->out = out;
	j->pretty = pretty;
	j->first[0] = true;
}

static void newline(struct dd_json *j)
{
	static const char indent[] = "\n                                                                ";
	_Static_assert(sizeof indent - 1 >= 1 + 2 * DD_JSON_DEPTH, "indent covers every depth");
	if (j->pretty)
		dd_buf_add(j->out, indent, 1 + 2 * (size_t)j->depth);
}

/* Separator before a value or a key at the current level. */
static void before_item(struct dd_json *j)
{
	if (j->after_key) {
		j->after_key = false;
		return;
	}
	if (j->depth > 0) {
		if (!j->first[j->depth])
			dd_buf_add(j->out, ",", 1);
		newline(j);
	}
	j->first[j->depth] = false;
}

static void open_level(struct dd_json *j, char c)
{
	before_item(j);
	dd_buf_add(j->out, &c, 1);
	if (j->depth + 1 < DD_JSON_DEPTH)
		j->depth++;
	j->first[j->depth] = true;
}

static void close_level(struct dd_json *j, char c)
{
	bool empty = j->first[j->depth];
	if (j->depth > 0)
		j->depth--;
	if (!empty)
		newline(j);
	dd_buf_add(j->out, &c, 1);
	if (j->depth == 0 && j->pretty)
		dd_buf_add(j->out, "\n", 1);
}

void dd_json_obj_begin(struct dd_json *j) { open_level(j, '{'); }
void dd_json_obj_end(struct dd_json *j) { close_level(j, '}'); }
void dd_json_arr_begin(struct dd_json *j) { open_level(j, '['); }
void dd_json_arr_end(struct dd_json *j) { close_level(j, ']'); }

/* Keys are the program's own names, plain ASCII (json.h): no escaping. */
void dd_json_key(struct dd_json *j, const char *key)
{
	before_item(j);
	size_t n = strlen(key);
	dd_buf_add(j->out, "\"", 1);
	dd_buf_add(j->out, key, n);
	dd_buf_add(j->out, j->pretty ? "\": " : "\":", j->pretty ? 3 : 2);
	j->after_key = true;
}

void dd_json_str(struct dd_json *j, const char *s)
{
	before_item(j);
	if (s)
		dd_json_escape(j->out, s);
	else
		dd_buf_puts(j->out, "null");
}

void dd_json_int(struct dd_json *j, int64_t v)
{
	before_item(j);
	dd_buf_i64(j->out, v);
}

void dd_json_uint(struct dd_json *j, uint64_t v)
{
	before_item(j);
	dd_buf_u64(j->out, v);
}

void dd_json_double(struct dd_json *j, double v)
{
	before_item(j);
	if (!isfinite(v))
		dd_buf_puts(j->out, "null");
	else
		dd_buf_printf(j->out, "%.17g", v);
}

void dd_json_bool(struct dd_json *j, bool v)
{
	before_item(j);
	dd_buf_puts(j->out, v ? "true" : "false");
}

void dd_json_null(struct dd_json *j)
{
	before_item(j);
	dd_buf_puts(j->out, "null");
}

void dd_json_kstr(struct dd_json *j, const char *key, const char *s) { dd_json_key(j, key); dd_json_str(j, s); }
void dd_json_kint(struct dd_json *j, const char *key, int64_t v) { dd_json_key(j, key); dd_json_int(j, v); }
void dd_json_kuint(struct dd_json *j, const char *key, uint64_t v) { dd_json_key(j, key); dd_json_uint(j, v); }
void dd_json_kdouble(struct dd_json *j, const char *key, double v) { dd_json_key(j, key); dd_json_double(j, v); }
void dd_json_kbool(struct dd_json *j, const char *key, bool v) { dd_json_key(j, key); dd_json_bool(j, v); }
