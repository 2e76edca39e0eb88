/* SPDX-License-Identifier: GPL-2.0-or-later */
/* conf/diff.c: VIP identity and the VIP diff of a reload (see diff.h).
 * No state, no I/O: called on the main loop by `plan` and on the heartbeat
 * thread by the failover engine's reload. */
#include "config.h"
#include "conf/diff.h"
#include "lib/util.h"

#include <string.h>

bool dd_vip_same(const struct dd_vip *a, const struct dd_vip *b)
{
	const char *la = a->label ? a->label : "", *lb = b->label ? b->label : "";
	return dd_addr_eq(&a->addr, &b->addr) && a->prefix == b->prefix &&
	       strcmp(a->ifname, b->ifname) == 0 && strcmp(la, lb) == 0;
}

const struct dd_cluster *dd_cluster_find(const struct dd_cluster *v, size_t n, const char *name)
{
	for (size_t i = 0; i < n; i++)
		if (strcmp(v[i].name, name) == 0)
			return &v[i];
	return NULL;
}

static bool has_vip(const struct dd_cluster *cl, const struct dd_vip *v)
{
	for (size_t i = 0; cl && i < cl->n_vips; i++)
		if (dd_vip_same(&cl->vips[i], v))
			return true;
	return false;
}

size_t dd_vip_diff(const struct dd_cluster *cur, size_t n_cur, const struct dd_cluster *next,
		   size_t n_next, dd_vip_held_fn held, void *arg, struct dd_vip_change **out)
{
	size_t n = 0, cap = 0;
	*out = NULL;
	for (int add = 0; add < 2; add++) {
		const struct dd_cluster *from = add ? next : cur, *to = add ? cur : next;
		size_t n_from = add ? n_next : n_cur, n_to = add ? n_cur : n_next;
		for (size_t i = 0; i < n_from; i++) {
			const struct dd_cluster *cl = &from[i];
			/* A VIP changes in the kernel only where it is held on
			 * that side; the other side counts only if held too. */
			if (held && !held(arg, cl->name, add))
				continue;
			const struct dd_cluster *other = dd_cluster_find(to, n_to, cl->name);
			if (other && held && !held(arg, cl->name, !add))
				other = NULL;
			for (size_t v = 0; v < cl->n_vips; v++) {
				if (has_vip(other, &cl->vips[v]))
					continue;
				if (n == cap) {
					cap = cap ? cap * 2 : 8;
					*out = xrealloc(*out, cap * sizeof **out);
				}
				(*out)[n++] = (struct dd_vip_change){ cl, &cl->vips[v], add == 1 };
			}
		}
	}
	return n;
}
