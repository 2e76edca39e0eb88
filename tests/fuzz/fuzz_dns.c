/* SPDX-License-Identifier: GPL-2.0-or-later */
/* tests/fuzz/fuzz_dns.c: libFuzzer target for the DNS reply check and the
 * query builder used by dns health checks. Single-threaded. */
#include "config.h"
#include "health/reply.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	uint8_t *buf = malloc(size ? size : 1);
	memcpy(buf, data, size);
	uint16_t id = size >= 2 ? (uint16_t)(data[0] << 8 | data[1]) : 0;
	unsigned answers = 0;
	int rc = dd_dns_check_reply(buf, size, id, &answers);
	if (rc > 15)
		abort();
	/* The same bytes as a name to ask for. */
	char *name = malloc(size + 1);
	memcpy(name, data, size);
	name[size] = '\0';
	uint8_t q[300];
	size_t n = dd_dns_build_query(id, name, q, sizeof q);
	if (n > sizeof q)
		abort();
	free(name);
	free(buf);
	return 0;
}
