/* SPDX-License-Identifier: GPL-2.0-or-later */
/* lib/hash.c: FNV-1a and the open-addressing index of lib/hash.h (linear
 * probing; the hash is kept next to each item so that growing never calls
 * back into the caller). Runs on whichever thread owns the index. */
#include "config.h"
#include "lib/hash.h"
#include "lib/util.h"

#include <stdlib.h>
#include <string.h>

uint64_t dd_hash_bytes(uint64_t h, const void *p, size_t n)
{
	const unsigned char *b = p;
	for (size_t i = 0; i < n; i++)
		h = (h ^ b[i]) * 1099511628211ULL;
	return h;
}

uint64_t dd_hash_str(uint64_t h, const char *s)
{
	return s ? dd_hash_bytes(h, s, strlen(s) + 1) : dd_hash_bytes(h, "\xff", 1);
}

uint64_t dd_hash_rs(const char *service, const struct dd_addr *a, uint16_t port)
{
	uint64_t h = dd_hash_str(DD_HASH_INIT, service);
	h = dd_hash_bytes(h, &a->family, sizeof a->family);
	h = dd_hash_bytes(h, &a->u, dd_addr_len(a));
	return dd_hash_bytes(h, &port, sizeof port);
}

static void alloc_slots(struct dd_index *ix, size_t n)
{
	size_t sz = 16;
	while (sz < n * 2)
		sz <<= 1;
	ix->item = xcalloc(sz, sizeof *ix->item);
	ix->hash = xcalloc(sz, sizeof *ix->hash);
	ix->mask = sz - 1;
}

void dd_index_init(struct dd_index *ix, size_t n)
{
	ix->n = 0;
	alloc_slots(ix, n);
}

static void place(struct dd_index *ix, uint64_t hash, void *item)
{
	size_t i = hash & ix->mask;
	while (ix->item[i])
		i = (i + 1) & ix->mask;
	ix->item[i] = item;
	ix->hash[i] = hash;
}

void dd_index_put(struct dd_index *ix, uint64_t hash, void *item)
{
	if ((ix->n + 1) * 2 > ix->mask + 1) {
		struct dd_index old = *ix;
		alloc_slots(ix, ix->n + 1);
		for (size_t i = 0; i <= old.mask; i++)
			if (old.item[i])
				place(ix, old.hash[i], old.item[i]);
		free(old.item);
		free(old.hash);
	}
	place(ix, hash, item);
	ix->n++;
}

void *dd_index_next(const struct dd_index *ix, uint64_t hash, size_t *pos)
{
	/* *pos counts probes from the home slot; the table is never full, so
	 * an empty slot ends every chain */
	for (size_t i = (hash + *pos) & ix->mask; ix->item[i]; i = (i + 1) & ix->mask) {
		(*pos)++;
		if (ix->hash[i] == hash)
			return ix->item[i];
	}
	return NULL;
}

void dd_index_free(struct dd_index *ix)
{
	free(ix->item);
	free(ix->hash);
	memset(ix, 0, sizeof *ix);
}
