/* SPDX-License-Identifier: GPL-2.0-or-later */
/* health/reply.h: parsers for what real servers answer to a check (HTTP
 * replies, DNS replies). Pure functions over a byte buffer, no state, no I/O:
 * the probes in health/probe.c feed them whatever has arrived so far, and the
 * fuzzers in tests/fuzz/ feed them anything at all. Any thread.
 */
#ifndef DD_HEALTH_REPLY_H
#define DD_HEALTH_REPLY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Longest reply head (status line + headers) a check accepts. */
#define DD_HTTP_HEAD_MAX 16384

enum dd_http_res {
	DD_HTTP_MORE,   /* need more bytes */
	DD_HTTP_DONE,   /* the part asked for is complete */
	DD_HTTP_BAD,    /* not an HTTP/1.x reply */
};

struct dd_http_head {
	int status;              /* 100..999 */
	size_t head_len;         /* bytes up to and including the blank line */
	long long content_length; /* -1: not given */
	bool chunked;
	bool no_body;            /* 1xx, 204, 304, or a reply to HEAD */
};

/* Parse the status line and headers at the start of buf. `head_request`
 * says the request was HEAD (no body follows whatever the headers say). */
enum dd_http_res dd_http_parse_head(const char *buf, size_t len, bool head_request,
				    struct dd_http_head *h);

/* Decode the body that follows a parsed head: buf/len is the whole reply
 * so far, eof whether the peer has closed. The decoded body (dechunked) is
 * copied into out (at most outsz bytes, the rest is cut), its length put in
 * *outlen. Returns DONE when the body is complete (or eof ends a body
 * without a length), MORE when more may come, BAD on broken chunking. */
enum dd_http_res dd_http_body(const char *buf, size_t len, bool eof,
			      const struct dd_http_head *h,
			      char *out, size_t outsz, size_t *outlen);

/* DNS: build a query for `name` (type A, class IN, RD set) into buf.
 * Returns its length, or 0 when the name does not fit or is malformed. */
size_t dd_dns_build_query(uint16_t id, const char *name, uint8_t *buf, size_t bufsz);

/* Check a reply to a query built above: the ID matches, it is a response,
 * it echoes one question. Returns the RCODE (0 = NOERROR) or -1 when the
 * datagram is not a valid reply to our query. *answers gets ANCOUNT. */
int dd_dns_check_reply(const uint8_t *buf, size_t len, uint16_t id, unsigned *answers);

#endif
