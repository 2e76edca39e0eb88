/* SPDX-License-Identifier: GPL-2.0-or-later */
/* tests/unit/test_ctl.c: the pure pieces of the control socket and the
 * metrics listener: the JSON writer, the control request parser, the
 * Prometheus writer and the HTTP request router. The socket server itself
 * is tested against the real daemon in tests/ctl/test_ctl.py.
 * Single-threaded; no network. */
#include "config.h"
#include "directord/ctl.h"
#include "directord/json.h"
#include "directord/metrics.h"

#include <check.h>
#include "tests/unit/ck_run.h"
#include <math.h>
#include <stdlib.h>
#include <string.h>

START_TEST(json_nesting_and_commas)
{
	struct dd_buf b = { 0 };
	struct dd_json j;
	dd_json_init(&j, &b, false);
	dd_json_obj_begin(&j);
	dd_json_kstr(&j, "a", "x");
	dd_json_key(&j, "list");
	dd_json_arr_begin(&j);
	dd_json_int(&j, -1);
	dd_json_uint(&j, 18446744073709551615ull);
	dd_json_bool(&j, true);
	dd_json_null(&j);
	dd_json_obj_begin(&j);
	dd_json_obj_end(&j);
	dd_json_arr_begin(&j);
	dd_json_arr_end(&j);
	dd_json_arr_end(&j);
	dd_json_kdouble(&j, "d", 0.5);
	dd_json_kdouble(&j, "nan", NAN);
	dd_json_kstr(&j, "n", NULL);
	dd_json_obj_end(&j);
	ck_assert_str_eq(b.p, "{\"a\":\"x\",\"list\":[-1,18446744073709551615,true,null,{},[]],"
			      "\"d\":0.5,\"nan\":null,\"n\":null}");
	dd_buf_free(&b);
}
END_TEST

START_TEST(json_pretty)
{
	struct dd_buf b = { 0 };
	struct dd_json j;
	dd_json_init(&j, &b, true);
	dd_json_obj_begin(&j);
	dd_json_kint(&j, "a", 1);
	dd_json_key(&j, "b");
	dd_json_arr_begin(&j);
	dd_json_int(&j, 2);
	dd_json_arr_end(&j);
	dd_json_key(&j, "e");
	dd_json_arr_begin(&j);
	dd_json_arr_end(&j);
	dd_json_obj_end(&j);
	ck_assert_str_eq(b.p, "{\n  \"a\": 1,\n  \"b\": [\n    2\n  ],\n  \"e\": []\n}\n");
	dd_buf_free(&b);
}
END_TEST

START_TEST(json_escape)
{
	struct dd_buf b = { 0 };
	dd_json_escape(&b, "q\"b\\n\nt\tc\x01\x1f\x7f" "\xc3\xa9");
	ck_assert_str_eq(b.p, "\"q\\\"b\\\\n\\nt\\tc\\u0001\\u001f\\u007f\xc3\xa9\"");
	dd_buf_free(&b);
	/* Bytes that are not UTF-8 (a lone 0xff, a cut sequence, an overlong
	 * form, a surrogate) become \u00XX; a valid 4-byte one stays. */
	struct dd_buf c = { 0 };
	dd_json_escape(&c, "a\xff" "b\xc3" "c\xc0\xaf" "d\xed\xa0\x80" "e\xf0\x9f\x98\x80" "f\xc3");
	ck_assert_str_eq(c.p, "\"a\\u00ffb\\u00c3c\\u00c0\\u00afd\\u00ed\\u00a0\\u0080e\xf0\x9f\x98\x80" "f\\u00c3\"");
	dd_buf_free(&c);
}
END_TEST

START_TEST(buf_printf_long)
{
	struct dd_buf b = { 0 };
	char big[1000];
	memset(big, 'x', sizeof big - 1);
	big[sizeof big - 1] = '\0';
	dd_buf_printf(&b, "<%s>", big);
	ck_assert_uint_eq(b.len, 1001);
	ck_assert_int_eq(b.p[1000], '>');
	char *t = dd_buf_take(&b);
	ck_assert_ptr_null(b.p);
	free(t);
}
END_TEST

static struct dd_ctl_req req;
static char err[256];

static int parse(const char *s)
{
	err[0] = '\0';
	return dd_ctl_parse(s, strlen(s), &req, err, sizeof err);
}

START_TEST(parse_ok)
{
	ck_assert_int_eq(parse("status\n"), 0);
	ck_assert_str_eq(req.cmd, "status");
	ck_assert_int_eq(req.argc, 0);
	ck_assert(!req.json);
	ck_assert_int_eq(parse("  drain \t http  198.51.100.21:80 --json\r\n"), 0);
	ck_assert_str_eq(req.cmd, "drain");
	ck_assert_int_eq(req.argc, 2);
	ck_assert_str_eq(req.argv[0], "http");
	ck_assert_str_eq(req.argv[1], "198.51.100.21:80");
	ck_assert(req.json);
	ck_assert_int_eq(parse("--json status web"), 0);
	ck_assert_str_eq(req.cmd, "status");
	ck_assert_str_eq(req.argv[0], "web");
	ck_assert(req.json);
}
END_TEST

START_TEST(parse_rejects)
{
	ck_assert_int_eq(parse("\n"), -1);
	ck_assert_str_eq(err, "empty request");
	ck_assert_int_eq(parse("--json\n"), -1);
	ck_assert_str_eq(err, "empty request");
	ck_assert_int_eq(parse("status --yaml\n"), -1);
	ck_assert_str_eq(err, "unknown option '--yaml'");
	ck_assert_int_eq(parse("check 1 2 3 4 5 6 7 8 9\n"), -1);
	ck_assert_str_eq(err, "more than 8 arguments");
	ck_assert_int_eq(dd_ctl_parse("sta\0tus\n", 8, &req, err, sizeof err), -1);
	ck_assert_str_eq(err, "request has a control byte 0x00 at offset 3; send one line of text");
	ck_assert_int_eq(parse("status\nreload\n"), -1); /* one line per connection */
	ck_assert_int_eq(parse("status\x1b[2J\n"), -1);
	char big[DD_CTL_REQ_MAX + 2];
	memset(big, 'a', sizeof big);
	big[sizeof big - 1] = '\0';
	ck_assert_int_eq(parse(big), -1);
	ck_assert_str_eq(err, "request longer than 4096 bytes");
}
END_TEST

START_TEST(status_words)
{
	for (int s = DD_CTL_OK; s <= DD_CTL_BUSY; s++) {
		const char *w = dd_ctl_status_word(s);
		ck_assert_int_eq(dd_ctl_status_from_word(w, strlen(w)), s);
	}
	ck_assert_int_eq(dd_ctl_status_from_word("okay", 4), -1);
}
END_TEST

START_TEST(error_bodies)
{
	struct dd_ctl_resp r = { .json = false };
	dd_ctl_error(&r, DD_CTL_DENIED, "no %s", "way");
	ck_assert_int_eq(r.status, DD_CTL_DENIED);
	ck_assert_str_eq(r.body.p, "no way\n");
	r.json = true;
	dd_ctl_error(&r, DD_CTL_UNAVAILABLE, "x \"y\"");
	ck_assert_str_eq(r.body.p, "{\n  \"error\": \"unavailable\",\n  \"message\": \"x \\\"y\\\"\"\n}\n");
	dd_buf_free(&r.body);
}
END_TEST

START_TEST(prom_writer)
{
	struct dd_buf b = { 0 };
	struct dd_prom p;
	dd_prom_init(&p, &b);
	dd_prom_family(&p, "x_total", "counter", "Things.");
	dd_prom_sample_u64(&p, "x_total", 7, NULL);
	dd_prom_family(&p, "x_total", "counter", "Things."); /* once per family */
	dd_prom_sample_u64(&p, "x_total", 8, "a", "q\"\\\nz", "b", "", NULL);
	dd_prom_family(&p, "y", "gauge", "Y.");
	dd_prom_sample(&p, "y", 0.25, NULL);
	dd_prom_sample(&p, "y", INFINITY, NULL);
	dd_prom_sample(&p, "y", NAN, NULL);
	ck_assert_str_eq(b.p, "# HELP x_total Things.\n# TYPE x_total counter\nx_total 7\n"
			      "x_total{a=\"q\\\"\\\\\\nz\",b=\"\"} 8\n"
			      "# HELP y Y.\n# TYPE y gauge\ny 0.25\ny +Inf\ny NaN\n");
	dd_buf_free(&b);
}
END_TEST

static enum dd_http_verdict route(const char *s, int *head)
{
	return dd_http_route(s, strlen(s), head);
}

START_TEST(http_parse)
{
	int head;
	const char *g = "GET /metrics HTTP/1.1\r\nHost: a\r\n\r\nextra";
	ck_assert_uint_eq(dd_http_head_complete(g, strlen(g)), strlen(g) - 5);
	ck_assert_uint_eq(dd_http_head_complete("GET / HTTP/1.0\n\n", 16), 16);
	ck_assert_uint_eq(dd_http_head_complete("GET / HTTP/1.0\r\n", 16), 0);
	ck_assert_int_eq(route(g, &head), DD_HTTP_METRICS);
	ck_assert_int_eq(head, 0);
	ck_assert_int_eq(route("HEAD /metrics?x=1 HTTP/1.0\r\n\r\n", &head), DD_HTTP_METRICS);
	ck_assert_int_eq(head, 1);
	ck_assert_int_eq(route("GET / HTTP/1.0\n\n", &head), DD_HTTP_INDEX);
	ck_assert_int_eq(route("GET /metricsx HTTP/1.0\n\n", &head), DD_HTTP_NOT_FOUND);
	ck_assert_int_eq(route("POST /metrics HTTP/1.0\n\n", &head), DD_HTTP_BAD_METHOD);
	ck_assert_int_eq(route("GET /metrics\n\n", &head), DD_HTTP_BAD_REQUEST);
	ck_assert_int_eq(route("GET  HTTP/1.0\n\n", &head), DD_HTTP_BAD_REQUEST);
	ck_assert_int_eq(route("GET /metrics SPDY/3\n\n", &head), DD_HTTP_BAD_REQUEST);
	ck_assert_int_eq(route("GET /metrics HTTP/1.0", &head), DD_HTTP_BAD_REQUEST);
}
END_TEST

START_TEST(hostport)
{
	struct dd_addr a;
	uint16_t port;
	char buf[DD_ADDR_STRLEN];
	ck_assert(dd_ctl_parse_hostport("198.51.100.21", &a, &port));
	ck_assert_uint_eq(port, 0);
	ck_assert(dd_ctl_parse_hostport("198.51.100.21:80", &a, &port));
	ck_assert_str_eq(dd_addr_port_str(&a, port, buf, sizeof buf), "198.51.100.21:80");
	ck_assert(dd_ctl_parse_hostport("2001:db8::1", &a, &port));
	ck_assert_uint_eq(port, 0);
	ck_assert(dd_ctl_parse_hostport("[2001:db8::1]:443", &a, &port));
	ck_assert_str_eq(dd_addr_port_str(&a, port, buf, sizeof buf), "[2001:db8::1]:443");
	ck_assert(!dd_ctl_parse_hostport("198.51.100.21:", &a, &port));
	ck_assert(!dd_ctl_parse_hostport("198.51.100.21:0", &a, &port));
	ck_assert(!dd_ctl_parse_hostport("198.51.100.21:65536", &a, &port));
	ck_assert(!dd_ctl_parse_hostport("198.51.100.21:8x", &a, &port));
	ck_assert(!dd_ctl_parse_hostport("web:80", &a, &port));
	ck_assert(!dd_ctl_parse_hostport("", &a, &port));
	/* the hand-made IPv4 formatting at its edges */
	const char *v4[] = { "0.0.0.0", "255.255.255.255", "10.0.100.9", "203.0.113.210" };
	for (size_t i = 0; i < sizeof v4 / sizeof *v4; i++) {
		ck_assert(dd_addr_parse(v4[i], &a));
		ck_assert_str_eq(dd_addr_str(&a, buf, sizeof buf), v4[i]);
	}
	ck_assert_str_eq(dd_addr_port_str(&a, 65535, buf, sizeof buf), "203.0.113.210:65535");
	ck_assert_str_eq(dd_addr_port_str(&a, 0, buf, sizeof buf), "203.0.113.210:0");
	char tiny[8];
	ck_assert_str_eq(dd_addr_port_str(&a, 80, tiny, sizeof tiny), "203.0.1"); /* truncated like snprintf */
}
END_TEST

int main(void)
{
	Suite *s = suite_create("ctl");
	TCase *tc = tcase_create("pure");
	tcase_add_test(tc, json_nesting_and_commas);
	tcase_add_test(tc, json_pretty);
	tcase_add_test(tc, json_escape);
	tcase_add_test(tc, buf_printf_long);
	tcase_add_test(tc, parse_ok);
	tcase_add_test(tc, parse_rejects);
	tcase_add_test(tc, status_words);
	tcase_add_test(tc, error_bodies);
	tcase_add_test(tc, prom_writer);
	tcase_add_test(tc, http_parse);
	tcase_add_test(tc, hostport);
	suite_add_tcase(s, tc);
	return dd_ck_run(s);
}
