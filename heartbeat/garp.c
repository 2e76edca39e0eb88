/* SPDX-License-Identifier: GPL-2.0-or-later */
/* heartbeat/garp.c: one gratuitous ARP / unsolicited NA per call, on a
 * long-lived send-only AF_PACKET socket. Runs in the failover engine's
 * heartbeat thread (heartbeat/engine.c). */
#include "config.h"
#include "heartbeat/garp.h"
#include "lib/util.h"

#include <arpa/inet.h>
#include <errno.h>
#include <net/if.h>
#include <netinet/icmp6.h>
#include <netinet/ip6.h>
#include <netpacket/packet.h>
#include <net/ethernet.h>
#include <net/if_arp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

static int hwaddr(int fd, const char *ifname, uint8_t mac[6], int *ifindex, char **err)
{
	struct ifreq ifr;
	memset(&ifr, 0, sizeof ifr);
	snprintf(ifr.ifr_name, sizeof ifr.ifr_name, "%s", ifname);
	if (ioctl(fd, SIOCGIFINDEX, &ifr) < 0) {
		dd_seterr(err, "interface %s: %s", ifname, strerror(errno));
		return -1;
	}
	*ifindex = ifr.ifr_ifindex;
	if (ioctl(fd, SIOCGIFHWADDR, &ifr) < 0) {
		dd_seterr(err, "interface %s: no hardware address: %s", ifname, strerror(errno));
		return -1;
	}
	if (ifr.ifr_hwaddr.sa_family != ARPHRD_ETHER)
		return 1; /* loopback, tunnels: no neighbours to tell */
	memcpy(mac, ifr.ifr_hwaddr.sa_data, 6);
	return 0;
}

static uint16_t csum_add(uint32_t sum, const void *data, size_t len)
{
	const uint8_t *p = data;
	for (size_t i = 0; i + 1 < len; i += 2)
		sum += (uint32_t)(p[i] << 8 | p[i + 1]);
	if (len & 1)
		sum += (uint32_t)p[len - 1] << 8;
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	return (uint16_t)sum;
}

struct arp_pkt {
	uint16_t htype, ptype;
	uint8_t hlen, plen;
	uint16_t op;
	uint8_t sha[6], spa[4], tha[6], tpa[4];
} __attribute__((packed));

struct na_pkt {
	struct ip6_hdr ip;
	struct nd_neighbor_advert na;
	uint8_t opt_type, opt_len, opt_mac[6];
} __attribute__((packed));

struct dd_garp {
	int fd;
};

struct dd_garp *dd_garp_open(char **err)
{
	int fd = socket(AF_PACKET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		dd_seterr(err, "AF_PACKET socket: %s", strerror(errno));
		return NULL;
	}
	struct dd_garp *g = malloc(sizeof *g);
	if (!g) {
		close(fd);
		dd_seterr(err, "out of memory");
		return NULL;
	}
	g->fd = fd;
	return g;
}

void dd_garp_close(struct dd_garp *g)
{
	if (!g)
		return;
	close(g->fd);
	free(g);
}

int dd_garp_send(struct dd_garp *g, const struct dd_addr *vip, const char *ifname,
		 enum dd_garp_mode mode, char **err)
{
	bool v6 = vip->family == AF_INET6;
	int proto = v6 ? ETH_P_IPV6 : ETH_P_ARP;
	int fd = g->fd;
	uint8_t mac[6];
	int ifindex;
	int r = hwaddr(fd, ifname, mac, &ifindex, err);
	if (r != 0)
		return r;
	struct sockaddr_ll to;
	memset(&to, 0, sizeof to);
	to.sll_family = AF_PACKET;
	to.sll_protocol = htons(proto);
	to.sll_ifindex = ifindex;
	to.sll_halen = 6;
	ssize_t w;
	if (!v6) {
		struct arp_pkt a;
		a.htype = htons(ARPHRD_ETHER);
		a.ptype = htons(ETH_P_IP);
		a.hlen = 6;
		a.plen = 4;
		a.op = htons(mode == DD_GARP_REPLY ? ARPOP_REPLY : ARPOP_REQUEST);
		memcpy(a.sha, mac, 6);
		memcpy(a.spa, &vip->u.v4, 4);
		/* Request: target hardware unknown (zero); reply: ourselves. */
		if (mode == DD_GARP_REPLY)
			memcpy(a.tha, mac, 6);
		else
			memset(a.tha, 0, 6);
		memcpy(a.tpa, &vip->u.v4, 4);
		memset(to.sll_addr, 0xff, 6);
		w = sendto(fd, &a, sizeof a, 0, (struct sockaddr *)&to, sizeof to);
	} else {
		struct na_pkt n;
		memset(&n, 0, sizeof n);
		n.ip.ip6_flow = htonl(6u << 28);
		n.ip.ip6_plen = htons(sizeof n - sizeof n.ip);
		n.ip.ip6_nxt = IPPROTO_ICMPV6;
		n.ip.ip6_hlim = 255;
		n.ip.ip6_src = vip->u.v6;
		inet_pton(AF_INET6, "ff02::1", &n.ip.ip6_dst);
		n.na.nd_na_type = ND_NEIGHBOR_ADVERT;
		n.na.nd_na_code = 0;
		n.na.nd_na_flags_reserved = ND_NA_FLAG_OVERRIDE;
		n.na.nd_na_target = vip->u.v6;
		n.opt_type = ND_OPT_TARGET_LINKADDR;
		n.opt_len = 1;
		memcpy(n.opt_mac, mac, 6);
		uint32_t plen = htonl(sizeof n - sizeof n.ip);
		uint8_t nxt[4] = { 0, 0, 0, IPPROTO_ICMPV6 };
		uint32_t sum = 0;
		sum = csum_add(sum, &n.ip.ip6_src, 16);
		sum = csum_add(sum, &n.ip.ip6_dst, 16);
		sum = csum_add(sum, &plen, 4);
		sum = csum_add(sum, nxt, 4);
		sum = csum_add(sum, &n.na, sizeof n - sizeof n.ip);
		n.na.nd_na_cksum = htons((uint16_t)~sum);
		static const uint8_t all_nodes[6] = { 0x33, 0x33, 0, 0, 0, 1 };
		memcpy(to.sll_addr, all_nodes, 6);
		w = sendto(fd, &n, sizeof n, 0, (struct sockaddr *)&to, sizeof to);
	}
	if (w < 0) {
		dd_seterr(err, "%s on %s: %s", v6 ? "unsolicited NA" : "gratuitous ARP",
			 ifname, strerror(errno));
		return -1;
	}
	return 0;
}
