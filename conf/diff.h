/* SPDX-License-Identifier: GPL-2.0-or-later */
/* conf/diff.h: what differs between two configurations, decided in one
 * place so that `directorctl plan` shows exactly what a reload does. Pure
 * functions on the model; any thread may call them on configs it owns.
 *
 * A VIP is one kernel address object: address, prefix, interface and
 * label together are its identity. A /24 that becomes a /16 is therefore
 * a removal and an addition, on reload as in the plan. */
#ifndef DD_CONF_DIFF_H
#define DD_CONF_DIFF_H

#include <stdbool.h>
#include <stddef.h>

#include "conf/model.h"

bool dd_vip_same(const struct dd_vip *a, const struct dd_vip *b);

/* The cluster called `name` in an array of clusters, or NULL. */
const struct dd_cluster *dd_cluster_find(const struct dd_cluster *v, size_t n, const char *name);

struct dd_vip_change {
	const struct dd_cluster *cluster; /* the old cluster for a removal, the new one for an addition */
	const struct dd_vip *vip;
	bool add;
};

/* Which VIPs a reload from `cur` to `next` removes and adds, for clusters
 * matched by name. held(arg, name, in_next) says whether this director
 * holds the cluster's VIPs before (in_next false) and after (true) the
 * reload; NULL means "always". Removals come first, in cur's order, then
 * additions in next's. Returns the count; *out is malloc'd (NULL if 0). */
typedef bool (*dd_vip_held_fn)(void *arg, const char *cluster, bool in_next);
size_t dd_vip_diff(const struct dd_cluster *cur, size_t n_cur, const struct dd_cluster *next,
		   size_t n_next, dd_vip_held_fn held, void *arg, struct dd_vip_change **out);

#endif
