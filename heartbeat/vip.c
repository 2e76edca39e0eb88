/* SPDX-License-Identifier: GPL-2.0-or-later */
/* heartbeat/vip.c: VIP add/remove over rtnetlink. A handle belongs to one
 * thread (in practice the heartbeat thread). */
#include "config.h"
#include "heartbeat/vip.h"
#include "lib/util.h"

#include <errno.h>
#include <linux/if_addr.h>
#include <net/if.h>
#include <stdio.h>
#include <string.h>

#include <netlink/addr.h>
#include <netlink/errno.h>
#include <netlink/netlink.h>
#include <netlink/route/addr.h>
#include <netlink/route/link.h>
#include <netlink/route/neighbour.h>

struct dd_vipctl {
	struct nl_sock *sk;
};

struct dd_vipctl *dd_vipctl_new(char **err)
{
	struct dd_vipctl *c = xcalloc(1, sizeof *c);
	c->sk = nl_socket_alloc();
	if (!c->sk) {
		dd_seterr(err, "netlink: cannot allocate socket");
		free(c);
		return NULL;
	}
	int r = nl_connect(c->sk, NETLINK_ROUTE);
	if (r < 0) {
		dd_seterr(err, "netlink: connect: %s", nl_geterror(r));
		nl_socket_free(c->sk);
		free(c);
		return NULL;
	}
	return c;
}

void dd_vipctl_free(struct dd_vipctl *c)
{
	if (!c)
		return;
	nl_socket_free(c->sk);
	free(c);
}

const char *dd_vip_str(const struct dd_vip *v, char *buf, size_t len)
{
	char a[DD_ADDR_STRLEN];
	snprintf(buf, len, "%s/%d on %s", dd_addr_str(&v->addr, a, sizeof a), v->prefix, v->ifname);
	return buf;
}

/* The interface's index, asked over the handle's own netlink socket:
 * if_nametoindex() opens a socket per call, and a takeover must not need a
 * new descriptor (a process at its fd limit would take over without its
 * VIPs). */
static int ifindex_of(struct dd_vipctl *c, const struct dd_vip *v, char **err)
{
	struct rtnl_link *link = NULL;
	int r = rtnl_link_get_kernel(c->sk, 0, v->ifname, &link);
	if (r < 0) {
		dd_seterr(err, "interface %s: %s", v->ifname,
			  r == -NLE_OBJ_NOTFOUND || r == -NLE_NODEV ? "no such device" : nl_geterror(r));
		return -1;
	}
	int ifindex = rtnl_link_get_ifindex(link);
	rtnl_link_put(link);
	return ifindex;
}

static struct rtnl_addr *build(struct dd_vipctl *c, const struct dd_vip *v, char **err)
{
	int ifindex = ifindex_of(c, v, err);
	if (ifindex < 0)
		return NULL;
	struct rtnl_addr *ra = rtnl_addr_alloc();
	struct nl_addr *na = nl_addr_build(v->addr.family, v->addr.u.bytes, dd_addr_len(&v->addr));
	if (!ra || !na) {
		dd_seterr(err, "out of memory");
		rtnl_addr_put(ra);
		nl_addr_put(na);
		return NULL;
	}
	nl_addr_set_prefixlen(na, v->prefix);
	rtnl_addr_set_ifindex(ra, (int)ifindex);
	rtnl_addr_set_family(ra, v->addr.family);
	rtnl_addr_set_local(ra, na);
	rtnl_addr_set_prefixlen(ra, v->prefix);
	nl_addr_put(na);
	if (v->addr.family == AF_INET6) {
		/* The address moves between directors: duplicate detection
		 * would only keep it unusable for a second after takeover. */
		rtnl_addr_set_flags(ra, IFA_F_NODAD);
		/* Deprecated (preferred lifetime 0, valid forever): source
		 * address selection never picks it over the director's own
		 * address (RFC 6724 rule 3), though it still receives traffic
		 * and can be bound. Otherwise a VIP with a longer common prefix
		 * with a real server becomes the source of the health checks,
		 * and in a split brain their replies go to the other director.
		 * IPv4 has no such rule: a VIP in the subnet of the
		 * interface's own address is a secondary and never chosen; one
		 * in a subnet of its own is the source for that subnet
		 * (directord.conf(5), VIPS). */
		rtnl_addr_set_preferred_lifetime(ra, 0);
		rtnl_addr_set_valid_lifetime(ra, 0xffffffffu);
	} else if (v->label && *v->label)
		rtnl_addr_set_label(ra, v->label);
	return ra;
}

int dd_vip_add(struct dd_vipctl *c, const struct dd_vip *v, char **err)
{
	struct rtnl_addr *ra = build(c, v, err);
	if (!ra)
		return -1;
	/* IPv6: replace, so that a VIP left by an older directord, still
	 * preferred, becomes deprecated too */
	int r = rtnl_addr_add(c->sk, ra, v->addr.family == AF_INET6 ? NLM_F_REPLACE : 0);
	rtnl_addr_put(ra);
	if (r < 0 && r != -NLE_EXIST) {
		dd_seterr(err, "add: %s", nl_geterror(r));
		return -1;
	}
	return 0;
}

int dd_vip_del(struct dd_vipctl *c, const struct dd_vip *v, char **err)
{
	struct rtnl_addr *ra = build(c, v, err);
	if (!ra)
		return -1;
	int r = rtnl_addr_delete(c->sk, ra, 0);
	rtnl_addr_put(ra);
	if (r == -NLE_NOADDR || r == -NLE_OBJ_NOTFOUND)
		return 0;
	if (r < 0) {
		dd_seterr(err, "remove: %s", nl_geterror(r));
		return -1;
	}
	return 1;
}

int dd_neigh_forget(struct dd_vipctl *c, const struct dd_addr *a, const char *ifname, char **err)
{
	struct dd_vip v = { .addr = *a };
	snprintf(v.ifname, sizeof v.ifname, "%s", ifname);
	int ifindex = ifindex_of(c, &v, err);
	if (ifindex < 0)
		return -1;
	struct rtnl_neigh *n = rtnl_neigh_alloc();
	struct nl_addr *na = nl_addr_build(a->family, a->u.bytes, dd_addr_len(a));
	if (!n || !na) {
		dd_seterr(err, "out of memory");
		rtnl_neigh_put(n);
		nl_addr_put(na);
		return -1;
	}
	rtnl_neigh_set_ifindex(n, ifindex);
	rtnl_neigh_set_family(n, a->family);
	rtnl_neigh_set_dst(n, na);
	nl_addr_put(na);
	int r = rtnl_neigh_delete(c->sk, n, 0);
	rtnl_neigh_put(n);
	if (r < 0 && r != -NLE_OBJ_NOTFOUND && r != -NLE_NOADDR) {
		dd_seterr(err, "neighbour %s: %s", ifname, nl_geterror(r));
		return -1;
	}
	return 0;
}
