/* SPDX-License-Identifier: GPL-2.0-or-later */
/* tests/fuzz/fuzz_ctl.c: libFuzzer target for what untrusted local and
 * network clients send: the control request parser (dd_ctl_parse), the
 * metrics listener's HTTP head parser (dd_http_head_complete,
 * dd_http_route) and the host:port parser. Also checks the JSON escaper on
 * the same bytes: its output must hold no raw control byte.
 * Single-threaded. */
#include "config.h"
#include "directord/ctl.h"
#include "directord/json.h"
#include "directord/metrics.h"

#include <stdint.h>
#include <sys/socket.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size > 65536)
		return 0;
	const char *buf = (const char *)data;
	static struct dd_ctl_req req;
	char err[256];
	if (dd_ctl_parse(buf, size, &req, err, sizeof err) == 0) {
		if (!req.cmd || !req.cmd[0] || req.argc < 0 || req.argc > DD_CTL_ARGS_MAX)
			abort();
		for (int i = 0; i < req.argc; i++)
			if (!req.argv[i][0] || strpbrk(req.argv[i], " \t\n"))
				abort();    /* tokens are never empty and never split */
	} else if (!err[0]) {
		abort();            /* a rejection always says why */
	}

	size_t head = dd_http_head_complete(buf, size);
	if (head > size)
		abort();
	int head_only;
	enum dd_http_verdict v = dd_http_route(buf, head ? head : size, &head_only);
	if (v > DD_HTTP_BAD_REQUEST)
		abort();

	char *s = malloc(size + 1);
	memcpy(s, data, size);
	s[size] = '\0';
	struct dd_addr a;
	uint16_t port;
	if (dd_ctl_parse_hostport(s, &a, &port) && a.family != AF_INET && a.family != AF_INET6)
		abort();
	struct dd_buf b = { 0 };
	dd_json_escape(&b, s);
	for (size_t i = 0; i < b.len; i++)
		if ((unsigned char)b.p[i] < 0x20)
			abort();
	dd_buf_free(&b);
	free(s);
	return 0;
}
