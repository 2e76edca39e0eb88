/* SPDX-License-Identifier: GPL-2.0-or-later */
/* health/reply.c: see reply.h. The input is whatever a real server (or an
 * attacker posing as one) sent, so every length is checked against the
 * buffer before use. No state; any thread.
 */
#include "config.h"
#include "health/reply.h"

#include <ctype.h>
#include <string.h>
#include <strings.h>

/* Next line within [p, end): returns the start of the following line and
 * sets *eol to the end of this one (without CR/LF), or NULL if no LF yet. */
static const char *next_line(const char *p, const char *end, const char **eol)
{
	const char *lf = memchr(p, '\n', (size_t)(end - p));
	if (!lf)
		return NULL;
	*eol = (lf > p && lf[-1] == '\r') ? lf - 1 : lf;
	return lf + 1;
}

static bool parse_status_line(const char *p, const char *eol, int *status)
{
	/* HTTP/d.d SP ddd [SP reason] */
	if (eol - p < 12 || memcmp(p, "HTTP/", 5) != 0 || !isdigit((unsigned char)p[5]) ||
	    p[6] != '.' || !isdigit((unsigned char)p[7]) || p[8] != ' ')
		return false;
	int s = 0;
	for (int i = 9; i < 12; i++) {
		if (!isdigit((unsigned char)p[i]))
			return false;
		s = s * 10 + (p[i] - '0');
	}
	if (s < 100 || (eol - p > 12 && p[12] != ' '))
		return false;
	*status = s;
	return true;
}

static bool header_is(const char *p, const char *colon, const char *name)
{
	size_t n = strlen(name);
	return (size_t)(colon - p) == n && strncasecmp(p, name, n) == 0;
}

static bool parse_content_length(const char *v, const char *eol, long long *out)
{
	while (v < eol && (*v == ' ' || *v == '\t'))
		v++;
	if (v == eol)
		return false;
	long long n = 0;
	for (; v < eol && isdigit((unsigned char)*v); v++) {
		if (n > (1LL << 50))
			return false;
		n = n * 10 + (*v - '0');
	}
	while (v < eol && (*v == ' ' || *v == '\t'))
		v++;
	if (v != eol)
		return false;
	*out = n;
	return true;
}

static bool contains_token_ci(const char *v, const char *eol, const char *tok)
{
	size_t n = strlen(tok);
	for (; v + n <= eol; v++)
		if (strncasecmp(v, tok, n) == 0)
			return true;
	return false;
}

enum dd_http_res dd_http_parse_head(const char *buf, size_t len, bool head_request,
				    struct dd_http_head *h)
{
	memset(h, 0, sizeof *h);
	h->content_length = -1;
	/* Reject early: a wrong protocol should not wait for a timeout. */
	size_t pre = len < 5 ? len : 5;
	if (memcmp(buf, "HTTP/", pre) != 0)
		return DD_HTTP_BAD;
	const char *end = buf + (len < DD_HTTP_HEAD_MAX ? len : DD_HTTP_HEAD_MAX);
	const char *eol;
	const char *p = next_line(buf, end, &eol);
	if (!p)
		return len >= DD_HTTP_HEAD_MAX ? DD_HTTP_BAD : DD_HTTP_MORE;
	if (!parse_status_line(buf, eol, &h->status))
		return DD_HTTP_BAD;
	for (;;) {
		const char *line = p;
		p = next_line(line, end, &eol);
		if (!p)
			return len >= DD_HTTP_HEAD_MAX ? DD_HTTP_BAD : DD_HTTP_MORE;
		if (eol == line)
			break;
		const char *colon = memchr(line, ':', (size_t)(eol - line));
		if (!colon)
			continue; /* obsolete folding or junk: carries nothing we use */
		if (header_is(line, colon, "Content-Length")) {
			long long cl;
			if (!parse_content_length(colon + 1, eol, &cl))
				return DD_HTTP_BAD;
			if (h->content_length >= 0 && h->content_length != cl)
				return DD_HTTP_BAD;
			h->content_length = cl;
		} else if (header_is(line, colon, "Transfer-Encoding")) {
			if (contains_token_ci(colon + 1, eol, "chunked"))
				h->chunked = true;
		}
	}
	h->head_len = (size_t)(p - buf);
	h->no_body = head_request || h->status < 200 || h->status == 204 || h->status == 304;
	return DD_HTTP_DONE;
}

static void append(char *out, size_t outsz, size_t *outlen, const char *p, size_t n)
{
	if (*outlen >= outsz)
		return;
	if (n > outsz - *outlen)
		n = outsz - *outlen;
	memcpy(out + *outlen, p, n);
	*outlen += n;
}

static int hexval(int c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	c = tolower(c);
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	return -1;
}

static enum dd_http_res dechunk(const char *p, const char *end, bool eof,
				char *out, size_t outsz, size_t *outlen)
{
	for (;;) {
		const char *eol;
		const char *data = next_line(p, end, &eol);
		if (!data)
			return eof ? DD_HTTP_DONE : DD_HTTP_MORE;
		unsigned long long size = 0;
		const char *q = p;
		int digits = 0;
		for (; q < eol && hexval((unsigned char)*q) >= 0; q++, digits++) {
			if (size > (1ULL << 40))
				return DD_HTTP_BAD;
			size = size * 16 + (unsigned)hexval((unsigned char)*q);
		}
		while (q < eol && (*q == ' ' || *q == '\t'))
			q++;
		if (digits == 0 || (q < eol && *q != ';'))
			return DD_HTTP_BAD;
		if (size == 0)
			return DD_HTTP_DONE; /* trailers carry nothing a check needs */
		size_t avail = (size_t)(end - data);
		if (avail < size) {
			append(out, outsz, outlen, data, avail);
			return eof ? DD_HTTP_DONE : DD_HTTP_MORE;
		}
		append(out, outsz, outlen, data, (size_t)size);
		p = data + size;
		/* The CRLF after the data. */
		if (end - p < 2)
			return eof ? DD_HTTP_DONE : DD_HTTP_MORE;
		if (p[0] == '\r' && p[1] == '\n')
			p += 2;
		else if (p[0] == '\n')
			p += 1;
		else
			return DD_HTTP_BAD;
	}
}

enum dd_http_res dd_http_body(const char *buf, size_t len, bool eof,
			      const struct dd_http_head *h,
			      char *out, size_t outsz, size_t *outlen)
{
	*outlen = 0;
	if (h->head_len > len)
		return DD_HTTP_BAD;
	if (h->no_body)
		return DD_HTTP_DONE;
	const char *p = buf + h->head_len, *end = buf + len;
	size_t avail = (size_t)(end - p);
	if (h->chunked)
		return dechunk(p, end, eof, out, outsz, outlen);
	if (h->content_length >= 0) {
		size_t want = (unsigned long long)h->content_length < avail ?
			      (size_t)h->content_length : avail;
		append(out, outsz, outlen, p, want);
		return (want == (unsigned long long)h->content_length || eof) ?
		       DD_HTTP_DONE : DD_HTTP_MORE;
	}
	append(out, outsz, outlen, p, avail);
	return eof ? DD_HTTP_DONE : DD_HTTP_MORE;
}

size_t dd_dns_build_query(uint16_t id, const char *name, uint8_t *buf, size_t bufsz)
{
	size_t nlen = strlen(name);
	if (nlen && name[nlen - 1] == '.')
		nlen--;
	/* header + labels + root + type + class */
	if (nlen == 0 || nlen > 253 || bufsz < 12 + nlen + 2 + 4)
		return 0;
	memset(buf, 0, 12);
	buf[0] = (uint8_t)(id >> 8);
	buf[1] = (uint8_t)id;
	buf[2] = 0x01; /* RD */
	buf[5] = 1;    /* QDCOUNT */
	size_t o = 12;
	const char *p = name, *end = name + nlen;
	while (p < end) {
		const char *dot = memchr(p, '.', (size_t)(end - p));
		size_t l = (size_t)((dot ? dot : end) - p);
		if (l == 0 || l > 63)
			return 0;
		buf[o++] = (uint8_t)l;
		memcpy(buf + o, p, l);
		o += l;
		p += l + (dot ? 1 : 0);
		if (dot && p == end)
			return 0; /* "a..": empty last label */
	}
	buf[o++] = 0;
	buf[o++] = 0, buf[o++] = 1; /* A */
	buf[o++] = 0, buf[o++] = 1; /* IN */
	return o;
}

int dd_dns_check_reply(const uint8_t *buf, size_t len, uint16_t id, unsigned *answers)
{
	if (len < 12)
		return -1;
	if (((unsigned)buf[0] << 8 | buf[1]) != id)
		return -1;
	if (!(buf[2] & 0x80) || (buf[2] & 0x78) != 0) /* QR set, opcode QUERY */
		return -1;
	if (buf[4] != 0 || buf[5] != 1)
		return -1;
	/* Walk the question name so a truncated datagram is not taken as an answer. */
	size_t o = 12;
	for (int labels = 0;; labels++) {
		if (o >= len || labels > 127)
			return -1;
		uint8_t l = buf[o];
		if (l == 0) {
			o++;
			break;
		}
		if ((l & 0xc0) == 0xc0) {
			o += 2;
			break;
		}
		if (l & 0xc0)
			return -1;
		o += 1u + l;
	}
	if (o + 4 > len)
		return -1;
	*answers = (unsigned)buf[6] << 8 | buf[7];
	return buf[3] & 0x0f;
}
