/* SPDX-License-Identifier: GPL-2.0-or-later */
/* tests/unit/test_health_reply.c: the HTTP and DNS reply parsers of the
 * health checks (health/reply.c). Single-threaded, no I/O. */
#include "config.h"
#include "health/reply.h"

#include <check.h>
#include "tests/unit/ck_run.h"
#include <stdlib.h>
#include <string.h>

static enum dd_http_res head(const char *s, struct dd_http_head *h)
{
	return dd_http_parse_head(s, strlen(s), false, h);
}

START_TEST(test_status_line)
{
	struct dd_http_head h;
	ck_assert_int_eq(head("HTTP/1.1 200 OK\r\n\r\n", &h), DD_HTTP_DONE);
	ck_assert_int_eq(h.status, 200);
	ck_assert_int_eq(head("HTTP/1.0 503 Service Unavailable\r\nServer: x\r\n\r\n", &h), DD_HTTP_DONE);
	ck_assert_int_eq(h.status, 503);
	ck_assert_int_eq(head("HTTP/1.1 204\r\n\r\n", &h), DD_HTTP_DONE);
	ck_assert_int_eq(h.status, 204);
	ck_assert(h.no_body);
	/* bare LF line ends, as some embedded servers send */
	ck_assert_int_eq(head("HTTP/1.1 301 Moved\nLocation: /x\n\n", &h), DD_HTTP_DONE);
	ck_assert_int_eq(h.status, 301);
}
END_TEST

START_TEST(test_incomplete_and_bad)
{
	struct dd_http_head h;
	ck_assert_int_eq(head("", &h), DD_HTTP_MORE);
	ck_assert_int_eq(head("HTT", &h), DD_HTTP_MORE);
	ck_assert_int_eq(head("HTTP/1.1 200 OK\r\nContent-", &h), DD_HTTP_MORE);
	ck_assert_int_eq(head("SSH-2.0-OpenSSH\r\n", &h), DD_HTTP_BAD);
	ck_assert_int_eq(head("<html>", &h), DD_HTTP_BAD);
	ck_assert_int_eq(head("HTTP/1.1 2x0 OK\r\n\r\n", &h), DD_HTTP_BAD);
	ck_assert_int_eq(head("HTTP/1.1 099 OK\r\n\r\n", &h), DD_HTTP_BAD);
	ck_assert_int_eq(head("HTTP/1.1 2000 OK\r\n\r\n", &h), DD_HTTP_BAD);
	ck_assert_int_eq(head("HTTP/1.1 200 OK\r\nContent-Length: 1x\r\n\r\n", &h), DD_HTTP_BAD);
	ck_assert_int_eq(head("HTTP/1.1 200 OK\r\nContent-Length: 3\r\nContent-Length: 4\r\n\r\n", &h),
			 DD_HTTP_BAD);
	/* A head that never ends is cut off, not buffered forever. */
	size_t n = DD_HTTP_HEAD_MAX + 10;
	char *big = malloc(n + 1);
	memset(big, 'a', n);
	memcpy(big, "HTTP/1.1 200 OK\r\nX: ", 20);
	big[n] = '\0';
	ck_assert_int_eq(head(big, &h), DD_HTTP_BAD);
	free(big);
}
END_TEST

static enum dd_http_res body(const char *s, bool eof, char *out, size_t outsz, size_t *outlen)
{
	struct dd_http_head h;
	ck_assert_int_eq(dd_http_parse_head(s, strlen(s), false, &h), DD_HTTP_DONE);
	return dd_http_body(s, strlen(s), eof, &h, out, outsz, outlen);
}

START_TEST(test_body_length)
{
	char out[64];
	size_t n;
	ck_assert_int_eq(body("HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhel", false, out, sizeof out, &n),
			 DD_HTTP_MORE);
	ck_assert_int_eq(body("HTTP/1.1 200 OK\r\ncontent-length: 5\r\n\r\nhelloEXTRA", false, out, sizeof out, &n),
			 DD_HTTP_DONE);
	ck_assert_int_eq(n, 5);
	ck_assert(memcmp(out, "hello", 5) == 0);
	/* no length: the body ends with the connection */
	ck_assert_int_eq(body("HTTP/1.0 200 OK\r\n\r\nabc", false, out, sizeof out, &n), DD_HTTP_MORE);
	ck_assert_int_eq(body("HTTP/1.0 200 OK\r\n\r\nabc", true, out, sizeof out, &n), DD_HTTP_DONE);
	ck_assert_int_eq(n, 3);
	/* the output is cut at its size */
	ck_assert_int_eq(body("HTTP/1.0 200 OK\r\n\r\nabcdef", true, out, 2, &n), DD_HTTP_DONE);
	ck_assert_int_eq(n, 2);
}
END_TEST

START_TEST(test_body_chunked)
{
	char out[64];
	size_t n;
	const char *r = "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
			"4\r\nheal\r\n3;ext=1\r\nthy\r\n0\r\n\r\n";
	ck_assert_int_eq(body(r, false, out, sizeof out, &n), DD_HTTP_DONE);
	ck_assert_int_eq(n, 7);
	ck_assert(memcmp(out, "healthy", 7) == 0);
	ck_assert_int_eq(body("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n4\r\nhe", false,
			      out, sizeof out, &n), DD_HTTP_MORE);
	ck_assert_int_eq(body("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n", false,
			      out, sizeof out, &n), DD_HTTP_BAD);
	ck_assert_int_eq(body("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nabXX", false,
			      out, sizeof out, &n), DD_HTTP_BAD);
	ck_assert_int_eq(body("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nfffffffffffffffffff\r\n",
			      false, out, sizeof out, &n), DD_HTTP_BAD);
}
END_TEST

START_TEST(test_head_request_has_no_body)
{
	struct dd_http_head h;
	const char *r = "HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n";
	ck_assert_int_eq(dd_http_parse_head(r, strlen(r), true, &h), DD_HTTP_DONE);
	size_t n;
	ck_assert_int_eq(dd_http_body(r, strlen(r), false, &h, NULL, 0, &n), DD_HTTP_DONE);
}
END_TEST

START_TEST(test_dns)
{
	uint8_t q[300];
	size_t n = dd_dns_build_query(0x1234, "www.example.com.", q, sizeof q);
	ck_assert_uint_eq(n, 12 + 17 + 4);
	ck_assert_int_eq(q[12], 3);
	ck_assert(memcmp(q + 13, "www", 3) == 0);
	ck_assert_uint_eq(dd_dns_build_query(1, "a..b", q, sizeof q), 0);
	ck_assert_uint_eq(dd_dns_build_query(1, "", q, sizeof q), 0);
	char label[80];
	memset(label, 'x', 70);
	label[70] = '\0';
	ck_assert_uint_eq(dd_dns_build_query(1, label, q, sizeof q), 0);

	/* turn the query into a reply: QR, RA, NOERROR, one answer */
	ck_assert_uint_eq(dd_dns_build_query(0x1234, "www.example.com", q, sizeof q), n);
	uint8_t r[300];
	memcpy(r, q, n);
	r[2] |= 0x80;
	r[7] = 1;
	unsigned an = 0;
	ck_assert_int_eq(dd_dns_check_reply(r, n, 0x1234, &an), 0);
	ck_assert_uint_eq(an, 1);
	ck_assert_int_eq(dd_dns_check_reply(r, n, 0x1235, &an), -1);  /* wrong id */
	ck_assert_int_eq(dd_dns_check_reply(r, n - 3, 0x1234, &an), -1); /* truncated */
	ck_assert_int_eq(dd_dns_check_reply(q, n, 0x1234, &an), -1);  /* a query, not a reply */
	r[3] = 3; /* NXDOMAIN */
	ck_assert_int_eq(dd_dns_check_reply(r, n, 0x1234, &an), 3);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("health_reply");
	TCase *tc = tcase_create("parsers");
	tcase_add_test(tc, test_status_line);
	tcase_add_test(tc, test_incomplete_and_bad);
	tcase_add_test(tc, test_body_length);
	tcase_add_test(tc, test_body_chunked);
	tcase_add_test(tc, test_head_request_has_no_body);
	tcase_add_test(tc, test_dns);
	suite_add_tcase(s, tc);
	return dd_ck_run(s);
}
