/* SPDX-License-Identifier: GPL-2.0-or-later */
/* conf/seen.c: the loader's "listed twice?" sets. A config may have
 * 200,000 real servers in one service and thousands of services and VIPs;
 * comparing each with every earlier one made `directord -t` (and a reload,
 * on the main loop) take minutes, so each uniqueness rule looks its key up
 * in a hash set instead. No state beyond the set the caller owns; any
 * thread (the loader's). */
#include "config.h"
#include "conf/conf_int.h"

#include <stdlib.h>

#include "lib/util.h"

uint64_t dd_seen_hash(uint64_t h, const void *p, size_t n)
{
	const unsigned char *b = p;
	for (size_t i = 0; i < n; i++) {
		h ^= b[i];
		h *= 1099511628211ULL;
	}
	return h;
}

static void put(struct dd_seen *s, uint64_t h, const void *item)
{
	size_t i = (size_t)h & s->mask;
	while (s->slot[i].item)
		i = (i + 1) & s->mask;
	s->slot[i].h = h;
	s->slot[i].item = item;
	s->n++;
}

const void *dd_seen_find(const struct dd_seen *s, uint64_t h, const void *item,
			 bool (*eq)(const void *a, const void *b))
{
	if (!s->slot)
		return NULL;
	for (size_t i = (size_t)h & s->mask; s->slot[i].item; i = (i + 1) & s->mask)
		if (s->slot[i].h == h && eq(s->slot[i].item, item))
			return s->slot[i].item;
	return NULL;
}

const void *dd_seen_add(struct dd_seen *s, uint64_t h, const void *item,
			bool (*eq)(const void *a, const void *b))
{
	const void *first = dd_seen_find(s, h, item, eq);
	if (first)
		return first;
	/* At most half full, so that probe runs stay short. */
	if (2 * (s->n + 1) > s->mask + 1 || !s->slot) {
		struct dd_seen old = *s;
		size_t sz = s->slot ? 2 * (s->mask + 1) : 64;
		s->slot = xcalloc(sz, sizeof *s->slot);
		s->mask = sz - 1;
		s->n = 0;
		for (size_t i = 0; old.slot && i <= old.mask; i++)
			if (old.slot[i].item)
				put(s, old.slot[i].h, old.slot[i].item);
		free(old.slot);
	}
	put(s, h, item);
	return NULL;
}

void dd_seen_free(struct dd_seen *s)
{
	free(s->slot);
	s->slot = NULL;
	s->mask = s->n = 0;
}
