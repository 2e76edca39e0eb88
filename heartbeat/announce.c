/* SPDX-License-Identifier: GPL-2.0-or-later */
/* heartbeat/announce.c: ECMP mode (issue 14): which VIPs this director
 * announces to the routers, and the device that carries the announcement.
 *
 * directord does not speak BGP. It owns a tun device (ecmp.device) made
 * without TUNSETPERSIST, whose descriptor is close-on-exec: the device
 * lives exactly as long as this process. Each VIP that is announced is a
 * host address on it; the routing daemon (BIRD's `protocol direct {
 * interface "dd-ecmp"; }`, or FRR's redistribute connected) exports what
 * it sees there. So a kill -9 takes the device, the addresses and the
 * routes with it, with no help from directord. The VIP itself, for local
 * delivery, is on its own interface (lo) like any VIP (takeover.c).
 *
 * A VIP is on the device only while its cluster is active (an ECMP
 * cluster ignores the peer, so active means: no monitor says fault), the
 * VIP is on its interface, the director is not drained, and the main
 * loop's latest verdict says every service on the VIP has quorum. Every
 * input change ends in fo_ecmp_update(), which makes the device hold
 * exactly that set: idempotent, so a reload needs no bookkeeping.
 *
 * Threads: fo_ecmp_prepare() runs on the main thread (a reload's device is
 * made before the command, so a reload that cannot have it is refused);
 * fo_ecmp_install() and fo_ecmp_close() on the main thread only while the
 * heartbeat thread does not run (start, stop) or inside a command; the
 * rest on the heartbeat thread. A device left over by a reload is closed
 * by the main thread, after the command (closing a tun device waits for
 * the kernel's RTNL lock). */
#include "config.h"
#include "heartbeat/engine.h"
#include "heartbeat/vip.h"
#include "lib/util.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/if_tun.h>
#include <net/if.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#define ESUB "ecmp"

static const char *const why_names[DD_ECMP_WHY_COUNT] = {
	[DD_ECMP_ANNOUNCED] = "announced",
	[DD_ECMP_FAULT] = "fault",
	[DD_ECMP_INACTIVE] = "inactive",
	[DD_ECMP_VIP_MISSING] = "vip-missing",
	[DD_ECMP_DRAINED] = "drained",
	[DD_ECMP_NO_QUORUM] = "no-quorum",
	[DD_ECMP_HEALTH_UNKNOWN] = "health-unknown",
	[DD_ECMP_NO_DEVICE] = "no-device",
	[DD_ECMP_STOPPING] = "stopping",
};

const char *dd_ecmp_why_name(enum dd_ecmp_why w)
{
	return (unsigned)w < DD_ECMP_WHY_COUNT ? why_names[w] : "?";
}

/* ---- the device (main thread) ------------------------------------------ */

static int tun_open(const char *name, char **err)
{
	/* TUNSETIFF would attach to an existing tun device, and a persistent
	 * one would then outlive us with our routes: refuse it. */
	if (if_nametoindex(name)) {
		dd_seterr(err, "ecmp device %s exists already (another directord, or a persistent "
			  "device: ip link del %s)", name, name);
		return -1;
	}
	int fd = open("/dev/net/tun", O_RDWR | O_CLOEXEC | O_NONBLOCK);
	if (fd < 0) {
		dd_seterr(err, "ecmp device %s: /dev/net/tun: %s", name, strerror(errno));
		return -1;
	}
	struct ifreq ifr;
	memset(&ifr, 0, sizeof ifr);
	ifr.ifr_flags = IFF_TUN | IFF_NO_PI;
	snprintf(ifr.ifr_name, sizeof ifr.ifr_name, "%s", name);
	if (ioctl(fd, TUNSETIFF, &ifr) < 0) {
		dd_seterr(err, "ecmp device %s: TUNSETIFF: %s", name, strerror(errno));
		close(fd);
		return -1;
	}
	/* Up, or the routing daemon ignores its addresses. */
	int s = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	memset(&ifr, 0, sizeof ifr);
	snprintf(ifr.ifr_name, sizeof ifr.ifr_name, "%s", name);
	if (s < 0 || ioctl(s, SIOCGIFFLAGS, &ifr) < 0 ||
	    (ifr.ifr_flags |= IFF_UP, ioctl(s, SIOCSIFFLAGS, &ifr) < 0)) {
		dd_seterr(err, "ecmp device %s: set up: %s", name, strerror(errno));
		if (s >= 0)
			close(s);
		close(fd);
		return -1;
	}
	close(s);
	return fd;
}

int fo_ecmp_prepare(const struct fo_ecmp *cur, const struct dd_config *cfg, struct fo_ecmp_dev *out,
		    char **err)
{
	memset(out, 0, sizeof *out);
	out->fd = -1;
	if (!dd_config_has_ecmp(cfg))
		return 0;
	snprintf(out->dev, sizeof out->dev, "%s", cfg->ecmp.device);
	if (cur && cur->fd >= 0 && strcmp(cur->dev, cfg->ecmp.device) == 0) {
		out->keep = true;
		return 0;
	}
	out->fd = tun_open(cfg->ecmp.device, err);
	return out->fd < 0 ? -1 : 0;
}

/* Swaps the device in; d->fd gets the one to close (or -1). */
void fo_ecmp_install(struct dd_failover *fo, struct fo_ecmp_dev *d)
{
	struct fo_ecmp *e = &fo->ecmp;
	if (!e->err_rl.per_sec)
		dlog_ratelimit_init(&e->err_rl, 5, 1.0);
	if (d->keep) {
		d->fd = -1;
		return;
	}
	int old = e->fd;
	if (old >= 0 || d->fd >= 0)
		/* The old device's addresses go with it. */
		e->n_on = 0;
	e->fd = d->fd;
	snprintf(e->dev, sizeof e->dev, "%s", d->fd >= 0 ? d->dev : "");
	if (d->fd >= 0)
		log_notice(ESUB, "announcing on tun device %s (it lives as long as this process)", e->dev);
	d->fd = old;
}

void fo_ecmp_close(struct dd_failover *fo)
{
	struct fo_ecmp *e = &fo->ecmp;
	if (e->fd >= 0)
		close(e->fd);
	e->fd = -1;
	free(e->health);
	free(e->on);
	e->health = NULL;
	e->on = NULL;
	e->n_health = e->n_on = e->cap_on = 0;
}

/* ---- what is announced (heartbeat thread) ---------------------------------- */

static const struct dd_ecmp_vip_health *health_of(const struct fo_ecmp *e, const struct dd_addr *a)
{
	for (size_t i = 0; i < e->n_health; i++)
		if (dd_addr_eq(&e->health[i].vip, a))
			return &e->health[i];
	return NULL;
}

/* In the order an operator would fix them. */
static enum dd_ecmp_why vip_why(const struct dd_failover *fo, const struct fo_cluster *c, size_t i,
				const char **service)
{
	const struct fo_ecmp *e = &fo->ecmp;
	*service = NULL;
	if (e->fd < 0)
		return DD_ECMP_NO_DEVICE;
	if (c->fsm.role == DD_ROLE_FAULT)
		return DD_ECMP_FAULT;
	if (c->fsm.role != DD_ROLE_ACTIVE || !c->vips_on || fo->stopping)
		return DD_ECMP_INACTIVE;
	if (!c->held[i])
		return DD_ECMP_VIP_MISSING;
	if (e->stopping)
		return DD_ECMP_STOPPING;
	if (e->drained)
		return DD_ECMP_DRAINED;
	if (!e->health_known)
		return DD_ECMP_HEALTH_UNKNOWN;
	const struct dd_ecmp_vip_health *h = health_of(e, &c->cfg->vips[i].addr);
	if (!h)
		return DD_ECMP_HEALTH_UNKNOWN;
	if (!h->quorum) {
		*service = h->service;
		return DD_ECMP_NO_QUORUM;
	}
	return DD_ECMP_ANNOUNCED;
}

static void why_text(const struct fo_cluster *c, enum dd_ecmp_why w, const char *service, char *buf,
		     size_t len)
{
	switch (w) {
	case DD_ECMP_ANNOUNCED: snprintf(buf, len, "healthy"); break;
	case DD_ECMP_FAULT:
		snprintf(buf, len, "cluster in fault%s%s", c->fsm.fault_reason[0] ? ": " : "",
			 c->fsm.fault_reason);
		break;
	case DD_ECMP_INACTIVE: snprintf(buf, len, "cluster not active"); break;
	case DD_ECMP_VIP_MISSING: snprintf(buf, len, "VIP not on its interface"); break;
	case DD_ECMP_DRAINED: snprintf(buf, len, "director drained"); break;
	case DD_ECMP_NO_QUORUM:
		snprintf(buf, len, "service %s has no quorum", service && *service ? service : "?");
		break;
	case DD_ECMP_HEALTH_UNKNOWN: snprintf(buf, len, "quorum not known yet"); break;
	case DD_ECMP_NO_DEVICE: snprintf(buf, len, "no ecmp device"); break;
	case DD_ECMP_STOPPING: snprintf(buf, len, "directord is stopping"); break;
	}
}

static ssize_t on_index(const struct fo_ecmp *e, const struct dd_addr *a)
{
	for (size_t i = 0; i < e->n_on; i++)
		if (dd_addr_eq(&e->on[i], a))
			return (ssize_t)i;
	return -1;
}

static struct dd_vip dev_vip(const struct fo_ecmp *e, const struct dd_addr *a)
{
	struct dd_vip v = { .addr = *a, .prefix = a->family == AF_INET6 ? 128 : 32 };
	snprintf(v.ifname, sizeof v.ifname, "%s", e->dev);
	return v;
}

static void announce(struct dd_failover *fo, const struct fo_cluster *c, const struct dd_addr *a)
{
	struct fo_ecmp *e = &fo->ecmp;
	struct dd_vip v = dev_vip(e, a);
	char *err = NULL, b[DD_ADDR_STRLEN];
	unsigned suppressed;
	if (dd_vip_add(fo->vipctl, &v, &err) < 0) {
		if (dlog_ratelimit_ok(&e->err_rl, &suppressed))
			log_err(ESUB, "cluster %s: cannot announce VIP %s on %s: %s; retried%s", c->cfg->name,
				dd_addr_str(a, b, sizeof b), e->dev, err,
				suppressed ? " (more such errors not logged)" : "");
		free(err);
		return;
	}
	if (e->n_on == e->cap_on) {
		e->cap_on = e->cap_on ? e->cap_on * 2 : 8;
		e->on = xrealloc(e->on, e->cap_on * sizeof *e->on);
	}
	e->on[e->n_on++] = *a;
	log_notice(ESUB, "cluster %s: VIP %s announced on %s", c->cfg->name, dd_addr_str(a, b, sizeof b),
		   e->dev);
}

static void withdraw(struct dd_failover *fo, size_t k, const char *cluster, const char *why)
{
	struct fo_ecmp *e = &fo->ecmp;
	struct dd_vip v = dev_vip(e, &e->on[k]);
	char *err = NULL, b[DD_ADDR_STRLEN];
	dd_addr_str(&e->on[k], b, sizeof b);
	/* Gone from the set either way: a failed delete is retried by the
	 * next update only if it was still listed, and an address we cannot
	 * delete we cannot keep announcing honestly. */
	e->on[k] = e->on[--e->n_on];
	if (dd_vip_del(fo->vipctl, &v, &err) < 0) {
		log_err(ESUB, "cluster %s: cannot withdraw VIP %s from %s: %s", cluster, b, e->dev, err);
		free(err);
		return;
	}
	log_notice(ESUB, "cluster %s: VIP %s withdrawn from %s: %s", cluster, b, e->dev, why);
}

static bool is_ecmp(const struct fo_cluster *c)
{
	return c->cfg->mode == DD_MODE_ECMP;
}

void fo_ecmp_withdraw(struct fo_cluster *c)
{
	struct dd_failover *fo = c->fo;
	if (!is_ecmp(c) || fo->ecmp.fd < 0)
		return;
	for (size_t i = 0; i < c->cfg->n_vips; i++) {
		ssize_t k = on_index(&fo->ecmp, &c->cfg->vips[i].addr);
		if (k < 0)
			continue;
		const char *svc;
		char why[DD_FSM_REASON_MAX + 32];
		enum dd_ecmp_why w = vip_why(fo, c, i, &svc);
		why_text(c, w == DD_ECMP_ANNOUNCED ? DD_ECMP_INACTIVE : w, svc, why, sizeof why);
		withdraw(fo, (size_t)k, c->cfg->name, why);
	}
}

void fo_ecmp_update(struct dd_failover *fo)
{
	struct fo_ecmp *e = &fo->ecmp;
	if (e->fd < 0)
		return;
	/* Withdrawals first: a route that must go should not wait behind
	 * one that comes. */
	for (size_t k = e->n_on; k-- > 0;) {
		const struct fo_cluster *owner = NULL;
		size_t vi = 0;
		for (size_t i = 0; !owner && i < fo->n_clusters; i++)
			for (size_t j = 0; is_ecmp(&fo->clusters[i]) && j < fo->clusters[i].cfg->n_vips; j++)
				if (dd_addr_eq(&fo->clusters[i].cfg->vips[j].addr, &e->on[k])) {
					owner = &fo->clusters[i];
					vi = j;
					break;
				}
		const char *svc = NULL;
		enum dd_ecmp_why w = owner ? vip_why(fo, owner, vi, &svc) : DD_ECMP_INACTIVE;
		if (w == DD_ECMP_ANNOUNCED)
			continue;
		char why[DD_FSM_REASON_MAX + 32];
		if (owner)
			why_text(owner, w, svc, why, sizeof why);
		else
			snprintf(why, sizeof why, "no longer an ECMP VIP (reload)");
		withdraw(fo, k, owner ? owner->cfg->name : "-", why);
	}
	for (size_t i = 0; i < fo->n_clusters; i++) {
		const struct fo_cluster *c = &fo->clusters[i];
		for (size_t j = 0; is_ecmp(c) && j < c->cfg->n_vips; j++) {
			const char *svc;
			if (vip_why(fo, c, j, &svc) == DD_ECMP_ANNOUNCED &&
			    on_index(e, &c->cfg->vips[j].addr) < 0)
				announce(fo, c, &c->cfg->vips[j].addr);
		}
	}
}

void fo_ecmp_cmd(struct dd_failover *fo, struct fo_cmd *cmd)
{
	struct fo_ecmp *e = &fo->ecmp;
	if (cmd->kind == CMD_ECMP_HEALTH) {
		free(e->health);
		e->health = cmd->health;
		e->n_health = cmd->n_health;
		cmd->health = NULL;
		e->health_known = true;
		fo_ecmp_update(fo);
		return;
	}
	if (e->fd < 0) {
		snprintf(cmd->err, sizeof cmd->err, "no cluster is in ECMP mode");
		cmd->result = -1;
		return;
	}
	if (cmd->stopping)
		log_notice(ESUB, "directord is stopping: withdrawing every ECMP VIP from %s", e->dev);
	else if (cmd->drain && !e->drained)
		log_notice(ESUB, "director drained: withdrawing every ECMP VIP from %s", e->dev);
	else if (!cmd->drain && e->drained)
		log_notice(ESUB, "director undrained: announcing the healthy ECMP VIPs again");
	e->drained = cmd->drain;
	e->stopping |= cmd->stopping;
	fo_ecmp_update(fo);
}

void fo_ecmp_status(const struct dd_failover *fo, const struct fo_cluster *c,
		    struct dd_failover_cluster_status *cs)
{
	cs->ecmp = is_ecmp(c);
	if (!cs->ecmp)
		return;
	cs->ecmp_why = DD_ECMP_ANNOUNCED;
	for (size_t i = 0; i < c->cfg->n_vips; i++) {
		const char *svc;
		enum dd_ecmp_why w = vip_why(fo, c, i, &svc);
		bool on = on_index(&fo->ecmp, &c->cfg->vips[i].addr) >= 0;
		cs->ecmp_announced += on;
		if (cs->ecmp_why == DD_ECMP_ANNOUNCED && (w != DD_ECMP_ANNOUNCED || !on)) {
			cs->ecmp_why = w != DD_ECMP_ANNOUNCED ? w : DD_ECMP_NO_DEVICE;
			snprintf(cs->ecmp_service, sizeof cs->ecmp_service, "%s", svc ? svc : "");
		}
	}
}
