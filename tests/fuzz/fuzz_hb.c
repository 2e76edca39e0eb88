/* SPDX-License-Identifier: GPL-2.0-or-later */
/* tests/fuzz/fuzz_hb.c: libFuzzer target for the heartbeat parser. Each
 * input is tried twice: as a raw datagram (header checks, HMAC refusal) and
 * with a valid HMAC appended, so the fuzzer also reaches the body parser,
 * which must stay safe even against a peer that holds the key. */
#include "config.h"
#include "heartbeat/proto.h"

#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <stdint.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const struct dd_hb_key key = { .bytes = "fuzz-key-0123456789", .len = 19 };
	struct dd_hb_msg m;
	(void)dd_hb_decode(data, size, &key, &m);

	uint8_t buf[DD_HB_MAX_PKT];
	size_t len = size + DD_HB_MAC_LEN;
	if (size < 8 || len > sizeof buf)
		return 0;
	memcpy(buf, data, size);
	/* Fix the length field so the packet gets past the framing checks. */
	buf[6] = (uint8_t)(len >> 8);
	buf[7] = (uint8_t)len;
	unsigned int olen = DD_HB_MAC_LEN;
	HMAC(EVP_sha256(), key.bytes, (int)key.len, buf, size, buf + size, &olen);
	if (dd_hb_decode(buf, len, &key, &m) == DD_HB_OK) {
		uint8_t out[DD_HB_MAX_PKT];
		struct dd_hb_msg m2;
		int n = dd_hb_encode(&m, &key, out, sizeof out);
		/* A message we accept must survive a round trip unchanged. */
		if (n < 0 || dd_hb_decode(out, (size_t)n, &key, &m2) != DD_HB_OK ||
		    m2.seq != m.seq || m2.n_clusters != m.n_clusters)
			__builtin_trap();
	}
	return 0;
}
