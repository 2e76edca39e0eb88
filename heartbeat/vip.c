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

static struct rtnl_addr *build(const struct dd_vip *v, char **err)
{
	char s[96];
	unsigned ifindex = if_nametoindex(v->ifname);
	if (!ifindex) {
		dd_seterr(err, "VIP %s: interface: %s", dd_vip_str(v, s, sizeof s), strerror(errno));
		return NULL;
	}
	struct rtnl_addr *ra = rtnl_addr_alloc();
	struct nl_addr *na = nl_addr_build(v->addr.family, v->addr.u.bytes, dd_addr_len(&v->addr));
	if (!ra || !na) {
		dd_seterr(err, "VIP %s: out of memory", dd_vip_str(v, s, sizeof s));
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
	struct rtnl_addr *ra = build(v, err);
	if (!ra)
		return -1;
	/* IPv6: replace, so that a VIP left by an older directord, still
	 * preferred, becomes deprecated too */
	int r = rtnl_addr_add(c->sk, ra, v->addr.family == AF_INET6 ? NLM_F_REPLACE : 0);
	rtnl_addr_put(ra);
	if (r < 0 && r != -NLE_EXIST) {
		char s[96];
		dd_seterr(err, "VIP %s: add: %s", dd_vip_str(v, s, sizeof s), nl_geterror(r));
		return -1;
	}
	return 0;
}

int dd_vip_del(struct dd_vipctl *c, const struct dd_vip *v, char **err)
{
	struct rtnl_addr *ra = build(v, err);
	if (!ra)
		return -1;
	int r = rtnl_addr_delete(c->sk, ra, 0);
	rtnl_addr_put(ra);
	if (r == -NLE_NOADDR || r == -NLE_OBJ_NOTFOUND)
		return 0;
	if (r < 0) {
		char s[96];
		dd_seterr(err, "VIP %s: remove: %s", dd_vip_str(v, s, sizeof s), nl_geterror(r));
		return -1;
	}
	return 1;
}
