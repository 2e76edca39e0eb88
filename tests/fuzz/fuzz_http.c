/* SPDX-License-Identifier: GPL-2.0-or-later */
/* tests/fuzz/fuzz_http.c: libFuzzer target for the HTTP reply parser that
 * health checks run on whatever a real server sends. Single-threaded. */
#include "config.h"
#include "health/reply.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	/* Exact-size copy so ASan catches any read past the reply. */
	char *buf = malloc(size ? size : 1);
	memcpy(buf, data, size);
	for (int head_req = 0; head_req < 2; head_req++) {
		/* Every prefix length a reader could see, capped to keep runs fast. */
		size_t step = size > 64 ? size / 16 : 1;
		for (size_t len = 0; len <= size; len += step) {
			struct dd_http_head h;
			if (dd_http_parse_head(buf, len, head_req, &h) != DD_HTTP_DONE)
				continue;
			if (h.head_len > len || h.status < 100 || h.status > 999)
				abort();
			char out[256];
			size_t outlen = 0;
			for (int eof = 0; eof < 2; eof++) {
				dd_http_body(buf, len, eof, &h, out, sizeof out, &outlen);
				if (outlen > sizeof out)
					abort();
				dd_http_body(buf, len, eof, &h, NULL, 0, &outlen);
				if (outlen != 0)
					abort();
			}
		}
	}
	free(buf);
	return 0;
}
