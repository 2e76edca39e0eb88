/* SPDX-License-Identifier: GPL-2.0-or-later */
/* lib/hash.h: FNV-1a hashing and a small open-addressing index from a
 * 64-bit hash to caller-owned items, for the lookups by (service, address,
 * port) that the health checker and the status model make over ten
 * thousand real servers: a linear search there costs seconds per scrape.
 *
 * Plain data, no locks: each index belongs to one thread (in directord, the
 * main loop). The index stores pointers only; the items' lifetime is the
 * caller's.
 */
#ifndef DD_LIB_HASH_H
#define DD_LIB_HASH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "lib/addr.h"

#define DD_HASH_INIT 14695981039346656037ULL

uint64_t dd_hash_bytes(uint64_t h, const void *p, size_t n);
/* The terminating NUL is hashed, so "ab"+"c" and "a"+"bc" differ; NULL
 * hashes like no string at all would. */
uint64_t dd_hash_str(uint64_t h, const char *s);
/* The key every per-server lookup uses: service name, address, port. */
uint64_t dd_hash_rs(const char *service, const struct dd_addr *a, uint16_t port);

struct dd_index {
	void **item;
	uint64_t *hash;
	size_t mask, n;
};

/* Sized for n items; it grows past half full. */
void dd_index_init(struct dd_index *ix, size_t n);
void dd_index_put(struct dd_index *ix, uint64_t hash, void *item);
/* Candidates with this hash, in turn: start with *pos = 0; NULL when there
 * are no more. The caller compares the real key. */
void *dd_index_next(const struct dd_index *ix, uint64_t hash, size_t *pos);
void dd_index_free(struct dd_index *ix);

#endif
