/* SPDX-License-Identifier: GPL-2.0-or-later */
/* heartbeat/monitor.c: tracked interfaces and ICMP reachability, run in the
 * heartbeat thread's loop. One raw ICMP socket per family serves every
 * target; replies are told apart by identifier and sequence. */
#include "config.h"
#include "heartbeat/monitor.h"
#include "lib/log.h"
#include "lib/util.h"

#include <arpa/inet.h>
#include <errno.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <net/if.h>
#include <netinet/icmp6.h>
#include <netinet/ip.h>
#include <netinet/ip_icmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

struct target {
	struct dd_addr addr;
	bool gateway;
	bool known, up;
	bool outstanding;
	uint16_t seq;
	uint32_t lost;
	uint64_t sent_ms;
};

struct mcluster {
	struct dd_monitor *m;
	char name[DD_NAME_MAX];
	char (*ifs)[16];
	size_t n_ifs;
	bool *if_up;
	bool ifs_known;
	struct target *t;
	size_t n_t;
	uint32_t interval_ms, timeout_ms, fall;
	ev_timer probe;
	/* last verdict, to call back only on changes */
	bool fault, known;
	char reason[256];
};

struct dd_monitor {
	struct ev_loop *loop;
	dd_monitor_cb cb;
	void *ctx;
	int icmp4, icmp6, nl, ioctl_fd;
	ev_io w4, w6, wnl;
	ev_timer ifpoll;
	uint16_t ident;
	struct mcluster **c;
	size_t n_c;
};

static void verdict(const struct mcluster *c, bool *fault, bool *known, char *reason, size_t len)
{
	*fault = false;
	*known = c->ifs_known;
	reason[0] = 0;
	for (size_t i = 0; i < c->n_ifs; i++)
		if (c->ifs_known && !c->if_up[i]) {
			snprintf(reason, len, "interface %s down", c->ifs[i]);
			*fault = *known = true;
			return;
		}
	for (size_t i = 0; i < c->n_t; i++) {
		const struct target *t = &c->t[i];
		if (!t->known) {
			*known = false;
			continue;
		}
		if (!t->up) {
			char a[DD_ADDR_STRLEN];
			snprintf(reason, len, "%s %s unreachable (%u probes lost)",
				 t->gateway ? "gateway" : "ping target",
				 dd_addr_str(&t->addr, a, sizeof a), t->lost);
			*fault = *known = true;
			return;
		}
	}
}

static void reevaluate(struct dd_monitor *m)
{
	bool any = false;
	for (size_t i = 0; i < m->n_c; i++) {
		struct mcluster *c = m->c[i];
		bool fault, known;
		char reason[256];
		verdict(c, &fault, &known, reason, sizeof reason);
		if (fault != c->fault || known != c->known || strcmp(reason, c->reason) != 0) {
			c->fault = fault;
			c->known = known;
			snprintf(c->reason, sizeof c->reason, "%s", reason);
			any = true;
		}
	}
	if (any)
		m->cb(m->ctx);
}

static void check_ifs(struct dd_monitor *m)
{
	for (size_t i = 0; i < m->n_c; i++) {
		struct mcluster *c = m->c[i];
		for (size_t j = 0; j < c->n_ifs; j++) {
			struct ifreq ifr;
			memset(&ifr, 0, sizeof ifr);
			snprintf(ifr.ifr_name, sizeof ifr.ifr_name, "%s", c->ifs[j]);
			bool up = ioctl(m->ioctl_fd, SIOCGIFFLAGS, &ifr) == 0 &&
				  (ifr.ifr_flags & IFF_UP) && (ifr.ifr_flags & IFF_RUNNING);
			c->if_up[j] = up;
		}
		c->ifs_known = true;
	}
	reevaluate(m);
}

static void on_ifpoll(struct ev_loop *loop, ev_timer *w, int revents)
{
	check_ifs(w->data);
}

static void on_netlink(struct ev_loop *loop, ev_io *w, int revents)
{
	struct dd_monitor *m = w->data;
	char buf[8192];
	while (recv(m->nl, buf, sizeof buf, MSG_DONTWAIT) > 0)
		;
	check_ifs(m);
}

static uint16_t icmp_csum(const void *data, size_t len)
{
	const uint8_t *p = data;
	uint32_t sum = 0;
	for (size_t i = 0; i + 1 < len; i += 2)
		sum += (uint32_t)(p[i] << 8 | p[i + 1]);
	if (len & 1)
		sum += (uint32_t)p[len - 1] << 8;
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	return htons((uint16_t)~sum);
}

static void send_probe(struct dd_monitor *m, struct target *t)
{
	uint8_t pkt[16];
	memset(pkt, 0, sizeof pkt);
	t->seq++;
	bool v6 = t->addr.family == AF_INET6;
	pkt[0] = v6 ? ICMP6_ECHO_REQUEST : ICMP_ECHO;
	uint16_t id = htons(m->ident), seq = htons(t->seq);
	memcpy(pkt + 4, &id, 2);
	memcpy(pkt + 6, &seq, 2);
	memcpy(pkt + 8, "ddmon\0\0\0", 8);
	if (!v6) {
		uint16_t cs = icmp_csum(pkt, sizeof pkt);
		memcpy(pkt + 2, &cs, 2);
	}
	struct sockaddr_storage ss;
	socklen_t sl = dd_addr_to_sockaddr(&t->addr, 0, &ss);
	t->outstanding = true;
	t->sent_ms = mono_ms();
	/* A send error (no route) simply counts as a lost probe. */
	(void)sendto(v6 ? m->icmp6 : m->icmp4, pkt, sizeof pkt, 0, (struct sockaddr *)&ss, sl);
}

static void on_probe(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct mcluster *c = w->data;
	uint64_t now = mono_ms();
	for (size_t i = 0; i < c->n_t; i++) {
		struct target *t = &c->t[i];
		if (t->outstanding) {
			if (now - t->sent_ms < c->timeout_ms)
				continue;
			t->outstanding = false;
			t->lost++;
			if (t->lost >= c->fall) {
				t->up = false;
				t->known = true;
			}
		}
		send_probe(c->m, t);
	}
	reevaluate(c->m);
}

static void got_reply(struct dd_monitor *m, const struct dd_addr *from, uint16_t id, uint16_t seq)
{
	if (id != m->ident)
		return;
	for (size_t i = 0; i < m->n_c; i++)
		for (size_t j = 0; j < m->c[i]->n_t; j++) {
			struct target *t = &m->c[i]->t[j];
			if (!t->outstanding || t->seq != seq || !dd_addr_eq(&t->addr, from))
				continue;
			t->outstanding = false;
			t->lost = 0;
			t->up = t->known = true;
		}
	reevaluate(m);
}

static void on_icmp(struct ev_loop *loop, ev_io *w, int revents)
{
	struct dd_monitor *m = w->data;
	bool v6 = w->fd == m->icmp6;
	for (;;) {
		uint8_t buf[1500];
		struct sockaddr_storage ss;
		socklen_t sl = sizeof ss;
		ssize_t n = recvfrom(w->fd, buf, sizeof buf, MSG_DONTWAIT, (struct sockaddr *)&ss, &sl);
		if (n <= 0)
			return;
		const uint8_t *p = buf;
		if (!v6) {
			size_t hl = (size_t)(buf[0] & 0xf) * 4;
			if ((size_t)n < hl + 8)
				continue;
			p += hl;
			n -= (ssize_t)hl;
			if (p[0] != ICMP_ECHOREPLY)
				continue;
		} else if (n < 8 || p[0] != ICMP6_ECHO_REPLY) {
			continue;
		}
		struct dd_addr from;
		if (!dd_addr_from_sockaddr((struct sockaddr *)&ss, &from, NULL))
			continue;
		got_reply(m, &from, (uint16_t)(p[4] << 8 | p[5]), (uint16_t)(p[6] << 8 | p[7]));
	}
}

struct dd_monitor *dd_monitor_new(struct ev_loop *loop, dd_monitor_cb cb, void *ctx,
				  char **err)
{
	struct dd_monitor *m = xcalloc(1, sizeof *m);
	m->loop = loop;
	m->cb = cb;
	m->ctx = ctx;
	m->icmp4 = m->icmp6 = m->nl = -1;
	m->ident = (uint16_t)(getpid() ^ (mono_us() & 0xffff));
	m->ioctl_fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	m->nl = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC | SOCK_NONBLOCK, NETLINK_ROUTE);
	if (m->ioctl_fd < 0 || m->nl < 0) {
		dd_seterr(err, "monitor sockets: %s", strerror(errno));
		dd_monitor_free(m);
		return NULL;
	}
	struct sockaddr_nl sa = { .nl_family = AF_NETLINK, .nl_groups = RTMGRP_LINK };
	if (bind(m->nl, (struct sockaddr *)&sa, sizeof sa) < 0) {
		dd_seterr(err, "rtnetlink link events: %s", strerror(errno));
		dd_monitor_free(m);
		return NULL;
	}
	ev_io_init(&m->wnl, on_netlink, m->nl, EV_READ);
	m->wnl.data = m;
	ev_io_start(loop, &m->wnl);
	ev_timer_init(&m->ifpoll, on_ifpoll, 0., 1.0);
	m->ifpoll.data = m;
	ev_timer_again(loop, &m->ifpoll);
	return m;
}

static int open_icmp(struct dd_monitor *m, bool v6)
{
	int *fd = v6 ? &m->icmp6 : &m->icmp4;
	if (*fd >= 0)
		return 0;
	*fd = socket(v6 ? AF_INET6 : AF_INET, SOCK_RAW | SOCK_CLOEXEC | SOCK_NONBLOCK,
		     v6 ? IPPROTO_ICMPV6 : IPPROTO_ICMP);
	if (*fd < 0)
		return -1;
	if (v6) {
		struct icmp6_filter f;
		ICMP6_FILTER_SETBLOCKALL(&f);
		ICMP6_FILTER_SETPASS(ICMP6_ECHO_REPLY, &f);
		setsockopt(*fd, IPPROTO_ICMPV6, ICMP6_FILTER, &f, sizeof f);
	}
	ev_io *w = v6 ? &m->w6 : &m->w4;
	ev_io_init(w, on_icmp, *fd, EV_READ);
	w->data = m;
	ev_io_start(m->loop, w);
	return 0;
}

int dd_monitor_add(struct dd_monitor *m, const struct dd_cluster *cl)
{
	struct mcluster *c = xcalloc(1, sizeof *c);
	c->m = m;
	snprintf(c->name, sizeof c->name, "%s", cl->name);
	c->n_ifs = cl->n_track_ifs;
	c->ifs = xcalloc(c->n_ifs, sizeof *c->ifs);
	if (c->n_ifs)
		memcpy(c->ifs, cl->track_ifs, c->n_ifs * sizeof *c->ifs);
	c->if_up = xcalloc(c->n_ifs, sizeof *c->if_up);
	c->n_t = cl->n_ping_targets + (cl->gateway.family ? 1 : 0);
	c->t = xcalloc(c->n_t, sizeof *c->t);
	for (size_t i = 0; i < cl->n_ping_targets; i++)
		c->t[i].addr = cl->ping_targets[i];
	if (cl->gateway.family) {
		c->t[c->n_t - 1].addr = cl->gateway;
		c->t[c->n_t - 1].gateway = true;
	}
	c->interval_ms = cl->ping_interval_ms ? cl->ping_interval_ms : 1000;
	c->timeout_ms = cl->ping_timeout_ms ? cl->ping_timeout_ms : 1000;
	c->fall = cl->ping_fall ? cl->ping_fall : 3;
	for (size_t i = 0; i < c->n_t; i++)
		if (open_icmp(m, c->t[i].addr.family == AF_INET6) < 0)
			log_err("monitor", "cluster %s: raw ICMP socket: %s; ping checks will fail",
				c->name, strerror(errno));
	c->known = false;
	c->reason[0] = 0;
	m->c = xrealloc(m->c, (m->n_c + 1) * sizeof *m->c);
	m->c[m->n_c++] = c;
	if (c->n_t) {
		ev_timer_init(&c->probe, on_probe, 0., c->interval_ms / 1000.0);
		c->probe.data = c;
		ev_timer_again(m->loop, &c->probe);
		on_probe(m->loop, &c->probe, 0);
	}
	check_ifs(m);
	return (int)m->n_c - 1;
}

bool dd_monitor_fault(const struct dd_monitor *m, int idx, bool *known, char *reason, size_t len)
{
	const struct mcluster *c = m->c[idx];
	*known = c->known;
	snprintf(reason, len, "%s", c->reason);
	return c->fault;
}

void dd_monitor_free(struct dd_monitor *m)
{
	if (!m)
		return;
	for (size_t i = 0; i < m->n_c; i++) {
		struct mcluster *c = m->c[i];
		ev_timer_stop(m->loop, &c->probe);
		free(c->ifs);
		free(c->if_up);
		free(c->t);
		free(c);
	}
	free(m->c);
	if (m->icmp4 >= 0) {
		ev_io_stop(m->loop, &m->w4);
		close(m->icmp4);
	}
	if (m->icmp6 >= 0) {
		ev_io_stop(m->loop, &m->w6);
		close(m->icmp6);
	}
	if (m->nl >= 0) {
		ev_io_stop(m->loop, &m->wnl);
		close(m->nl);
	}
	ev_timer_stop(m->loop, &m->ifpoll);
	if (m->ioctl_fd >= 0)
		close(m->ioctl_fd);
	free(m);
}
