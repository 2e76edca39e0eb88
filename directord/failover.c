/* directord/failover.c: the failover engine.
 *
 * Two threads meet here. The heartbeat thread runs its own libev loop and
 * does everything time-critical: sending and receiving keepalives, the role
 * state machines (heartbeat/fsm.c), local fault monitors, VIP add/remove on
 * its own rtnetlink socket and gratuitous ARP. The main thread only calls
 * the public functions, which post a command and wait for the heartbeat
 * thread to take it, and receives role changes through an ev_async in the
 * main loop. Shared data: the command slot and the event queue, both under
 * fo->mu, and the heartbeat thread's log lines, which go through a
 * lock-free queue (lib/log.h) for the main loop to write: a log write that
 * waits for a disk under I/O load held keepalives back by 15-35 ms here.
 * Everything else belongs to the heartbeat thread once it runs.
 *
 * A director with no peer (standalone) runs the same engine with zero
 * links: no sockets, no key, no keepalives; its clusters go active unless
 * a monitor says fault, like a single keepalived node.
 */
#include "config.h"
#include "directord/failover.h"
#include "directord/vip.h"
#include "heartbeat/fsm.h"
#include "heartbeat/garp.h"
#include "heartbeat/monitor.h"
#include "heartbeat/proto.h"
#include "lib/log.h"
#include "lib/util.h"

#include <errno.h>
#include <inttypes.h>
#include <net/if.h>
#include <netinet/in.h>
#include <pthread.h>
#include <sched.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <unistd.h>

#define SUB "failover"

/* ---- configuration copies ------------------------------------------- */

struct fo_conf {
	char node[DD_NAME_MAX];
	char peer[DD_NAME_MAX];         /* "": standalone, and n_links is 0 */
	struct dd_hb_key key;
	uint16_t port;
	uint32_t interval_ms, dead_ms;
	struct dd_addr mcast;
	uint8_t dscp;
	struct dd_link links[DD_FO_MAX_LINKS];
	size_t n_links;
	struct dd_cluster *clusters; /* deep copies without services */
	size_t n_clusters;
};

static void conf_free(struct fo_conf *c)
{
	if (!c)
		return;
	for (size_t i = 0; i < c->n_clusters; i++)
		dd_cluster_free(&c->clusters[i]);
	free(c->clusters);
	memset(&c->key, 0, sizeof c->key);
	free(c);
}

static bool wire_name_ok(const char *s)
{
	return dd_hb_name_ok(s, strlen(s));
}

/* The peer, its links and the key. Not called for a standalone director,
 * which has nobody to send to. */
static int peer_copy(struct fo_conf *c, const struct dd_config *cfg, char **err)
{
	const struct dd_heartbeat *hb = &cfg->hb;
	const struct dd_peer *p = &hb->peers[0];
	if (strcmp(cfg->node_name, p->name) == 0) {
		dd_seterr(err, "heartbeat: peer has this director's own name %s", p->name);
		return -1;
	}
	if (p->n_links < 1 || p->n_links > DD_FO_MAX_LINKS) {
		dd_seterr(err, "heartbeat: peer %s needs 1..%d links, has %zu", p->name, DD_FO_MAX_LINKS,
		       p->n_links);
		return -1;
	}
	snprintf(c->peer, sizeof c->peer, "%s", p->name);
	if (dd_hb_key_load(hb->key_file, &c->key, err) < 0)
		return -1;
	c->n_links = p->n_links;
	for (size_t i = 0; i < p->n_links; i++) {
		c->links[i] = p->links[i];
		if (!c->links[i].local.family ||
		    (!c->mcast.family && !c->links[i].remote.family) ||
		    (c->links[i].remote.family && c->links[i].remote.family != c->links[i].local.family) ||
		    (c->mcast.family && c->mcast.family != c->links[i].local.family)) {
			dd_seterr(err, "heartbeat: link %zu to %s needs a local and a remote address of one family",
			       i, p->name);
			return -1;
		}
	}
	return 0;
}

static struct fo_conf *conf_copy(const struct dd_config *cfg, char **err)
{
	const struct dd_heartbeat *hb = &cfg->hb;
	if (hb->n_peers > 1) {
		dd_seterr(err, "heartbeat: at most one peer, %zu configured", hb->n_peers);
		return NULL;
	}
	if (!wire_name_ok(cfg->node_name) || (hb->n_peers && !wire_name_ok(hb->peers[0].name))) {
		dd_seterr(err, "heartbeat: node names must be 1..63 printable characters without spaces");
		return NULL;
	}
	if (hb->interval_ms == 0 || hb->dead_ms <= hb->interval_ms) {
		dd_seterr(err, "heartbeat: dead time (%u ms) must exceed the interval (%u ms)",
		       hb->dead_ms, hb->interval_ms);
		return NULL;
	}
	if (cfg->n_clusters > DD_HB_MAX_CLUSTERS) {
		dd_seterr(err, "heartbeat: at most %d clusters, %zu configured", DD_HB_MAX_CLUSTERS,
		       cfg->n_clusters);
		return NULL;
	}
	struct fo_conf *c = xcalloc(1, sizeof *c);
	snprintf(c->node, sizeof c->node, "%s", cfg->node_name);
	c->port = hb->port ? hb->port : 7694;
	c->interval_ms = hb->interval_ms;
	c->dead_ms = hb->dead_ms;
	c->mcast = hb->mcast_group;
	c->dscp = hb->dscp;
	if (hb->n_peers && peer_copy(c, cfg, err) < 0) {
		conf_free(c);
		return NULL;
	}
	c->n_clusters = cfg->n_clusters;
	c->clusters = xcalloc(c->n_clusters, sizeof *c->clusters);
	for (size_t i = 0; i < cfg->n_clusters; i++) {
		const struct dd_cluster *s = &cfg->clusters[i];
		struct dd_cluster *d = &c->clusters[i];
		*d = *s;
		d->services = NULL;
		d->n_services = 0;
		d->vips = xcalloc(s->n_vips, sizeof *d->vips);
		for (size_t j = 0; j < s->n_vips; j++) {
			d->vips[j] = s->vips[j];
			d->vips[j].label = s->vips[j].label ? xstrdup(s->vips[j].label) : NULL;
		}
		d->track_ifs = xcalloc(s->n_track_ifs, sizeof *d->track_ifs);
		if (s->n_track_ifs)
			memcpy(d->track_ifs, s->track_ifs, s->n_track_ifs * sizeof *d->track_ifs);
		d->ping_targets = xcalloc(s->n_ping_targets, sizeof *d->ping_targets);
		if (s->n_ping_targets)
			memcpy(d->ping_targets, s->ping_targets, s->n_ping_targets * sizeof *d->ping_targets);
		if (!wire_name_ok(d->name) || d->priority < 1 || d->priority > 254) {
			dd_seterr(err, "cluster %s: name must be printable without spaces, priority 1..254",
			       d->name);
			conf_free(c);
			return NULL;
		}
		for (size_t j = 0; j < i; j++)
			if (strcmp(c->clusters[j].name, d->name) == 0) {
				dd_seterr(err, "cluster %s: declared twice", d->name);
				conf_free(c);
				return NULL;
			}
	}
	return c;
}

/* ---- engine state ------------------------------------------------------ */

struct fo_link {
	struct dd_failover *fo;
	int idx;
	int fd;
	ev_io w;
	ev_timer silence;       /* fires when the peer is silent on this link */
	struct sockaddr_storage to;
	socklen_t tolen;
	bool up;
	bool heard;
	uint64_t last_rx;
	uint64_t rx, tx, tx_err;
};

struct fo_cluster {
	struct dd_failover *fo;
	const struct dd_cluster *cfg;  /* points into fo->conf */
	struct dd_fsm fsm;
	int mon;
	bool vips_on;
	uint32_t garp_left;
	ev_timer garp;
	ev_timer refresh;
};

struct fo_event {
	struct fo_event *next;
	char cluster[DD_NAME_MAX];
	char old_role[16], new_role[16];
	char reason[DD_FSM_REASON_MAX];
};

enum cmd_kind { CMD_RELOAD = 1, CMD_TAKEOVER, CMD_RELEASE, CMD_STATUS, CMD_STOP };

struct fo_cmd {
	enum cmd_kind kind;
	const char *cluster;
	struct fo_conf *conf;
	struct link_socks *socks;
	uint64_t generation;    /* 0, or the first one: a standalone director got a peer */
	struct dd_failover_status *st;
	bool handover;
	int result;
	char err[256];
	bool done;
};

struct link_socks {
	int fd[DD_FO_MAX_LINKS];
	size_t n;
};

struct dd_failover {
	/* main thread side */
	struct ev_loop *main_loop;
	ev_async main_async;
	struct dlog_queue *logq; /* the heartbeat thread's log lines */
	struct dd_failover_hooks hooks;
	pthread_t thread;
	bool thread_started;

	/* shared, under mu */
	pthread_mutex_t mu;
	pthread_cond_t cv;
	struct fo_cmd *cmd;
	struct fo_event *events, **events_tail;

	/* heartbeat thread side */
	struct ev_loop *loop;
	ev_async cmd_async;
	ev_timer send_timer;
	ev_timer peer_timer;
	ev_timer fsm_timer;
	ev_timer stop_timer;
	struct fo_conf *conf;
	struct dd_vipctl *vipctl;
	struct dd_garp *garp;
	struct dd_monitor *mon;
	struct fo_link links[DD_FO_MAX_LINKS];
	size_t n_links;
	struct fo_cluster *clusters;
	size_t n_clusters;
	uint64_t generation;
	uint64_t seq;
	bool ready;
	bool stopping;

	struct {
		bool heard;
		bool timed_out;
		bool grace;             /* the one extra interval after our own stall */
		uint64_t last_rx;
		uint32_t interval_ms, dead_ms;
		struct dd_hb_replay replay;
		struct dd_hb_msg last;
	} peer;

	struct dd_failover_drops drops;
	uint64_t rx, tx;
	struct dlog_ratelimit drop_rl;
	struct dlog_ratelimit tx_rl;
	struct dlog_ratelimit stall_rl;
};

static void evaluate(struct dd_failover *fo);
static void send_heartbeat(struct dd_failover *fo);

/* ---- sockets ------------------------------------------------------------ */

static int open_link(const struct fo_conf *c, size_t i, char *err, size_t errlen)
{
	const struct dd_link *l = &c->links[i];
	char a[DD_ADDR_STRLEN];
	int fam = l->local.family;
	int fd = socket(fam, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		snprintf(err, errlen, "heartbeat link %zu: socket: %s", i, strerror(errno));
		return -1;
	}
	int one = 1, tos = c->dscp << 2;
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
	/* The local address may be on an interface that is still down at
	 * start; the link comes up by itself when it appears. */
	if (fam == AF_INET) {
		setsockopt(fd, IPPROTO_IP, IP_FREEBIND, &one, sizeof one);
		setsockopt(fd, IPPROTO_IP, IP_TOS, &tos, sizeof tos);
	} else {
		setsockopt(fd, IPPROTO_IPV6, IPV6_FREEBIND, &one, sizeof one);
		setsockopt(fd, IPPROTO_IPV6, IPV6_TCLASS, &tos, sizeof tos);
		setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof one);
	}
	if (l->ifname[0] &&
	    setsockopt(fd, SOL_SOCKET, SO_BINDTODEVICE, l->ifname, (socklen_t)strlen(l->ifname)) < 0) {
		snprintf(err, errlen, "heartbeat link %zu: bind to device %s: %s", i, l->ifname,
			 strerror(errno));
		close(fd);
		return -1;
	}
	struct sockaddr_storage ss;
	socklen_t sl = dd_addr_to_sockaddr(c->mcast.family ? &c->mcast : &l->local, c->port, &ss);
	if (bind(fd, (struct sockaddr *)&ss, sl) < 0) {
		snprintf(err, errlen, "heartbeat link %zu: bind %s: %s", i,
			 dd_addr_port_str(c->mcast.family ? &c->mcast : &l->local, c->port, a, sizeof a),
			 strerror(errno));
		close(fd);
		return -1;
	}
	if (c->mcast.family == AF_INET) {
		struct ip_mreqn mr = { .imr_multiaddr = c->mcast.u.v4, .imr_address = l->local.u.v4,
				       .imr_ifindex = l->ifname[0] ? (int)if_nametoindex(l->ifname) : 0 };
		int zero = 0, ttl = 1;
		if (setsockopt(fd, IPPROTO_IP, IP_ADD_MEMBERSHIP, &mr, sizeof mr) < 0 ||
		    setsockopt(fd, IPPROTO_IP, IP_MULTICAST_IF, &mr, sizeof mr) < 0) {
			snprintf(err, errlen, "heartbeat link %zu: join multicast group: %s", i, strerror(errno));
			close(fd);
			return -1;
		}
		setsockopt(fd, IPPROTO_IP, IP_MULTICAST_LOOP, &zero, sizeof zero);
		setsockopt(fd, IPPROTO_IP, IP_MULTICAST_TTL, &ttl, sizeof ttl);
	} else if (c->mcast.family == AF_INET6) {
		unsigned ifindex = l->ifname[0] ? if_nametoindex(l->ifname) : 0;
		struct ipv6_mreq mr = { .ipv6mr_multiaddr = c->mcast.u.v6, .ipv6mr_interface = ifindex };
		int zero = 0, hops = 1;
		if (setsockopt(fd, IPPROTO_IPV6, IPV6_ADD_MEMBERSHIP, &mr, sizeof mr) < 0 ||
		    setsockopt(fd, IPPROTO_IPV6, IPV6_MULTICAST_IF, &ifindex, sizeof ifindex) < 0) {
			snprintf(err, errlen, "heartbeat link %zu: join multicast group: %s", i, strerror(errno));
			close(fd);
			return -1;
		}
		setsockopt(fd, IPPROTO_IPV6, IPV6_MULTICAST_LOOP, &zero, sizeof zero);
		setsockopt(fd, IPPROTO_IPV6, IPV6_MULTICAST_HOPS, &hops, sizeof hops);
	}
	return fd;
}

static int open_links(const struct fo_conf *c, struct link_socks *s, char **err)
{
	char e[256];
	s->n = 0;
	for (size_t i = 0; i < c->n_links; i++) {
		int fd = open_link(c, i, e, sizeof e);
		if (fd < 0) {
			for (size_t j = 0; j < s->n; j++)
				close(s->fd[j]);
			dd_seterr(err, "%s", e);
			return -1;
		}
		s->fd[s->n++] = fd;
	}
	return 0;
}

static const char *link_str(const struct dd_failover *fo, size_t i, char *buf, size_t len)
{
	const struct dd_link *l = &fo->conf->links[i];
	char a[DD_ADDR_STRLEN], b[DD_ADDR_STRLEN];
	snprintf(buf, len, "link %zu (%s -> %s%s%s)", i, dd_addr_str(&l->local, a, sizeof a),
		 fo->conf->mcast.family ? dd_addr_str(&fo->conf->mcast, b, sizeof b)
					: dd_addr_str(&l->remote, b, sizeof b),
		 l->ifname[0] ? " dev " : "", l->ifname);
	return buf;
}

static size_t links_up(const struct dd_failover *fo)
{
	size_t n = 0;
	for (size_t i = 0; i < fo->n_links; i++)
		n += fo->links[i].up;
	return n;
}

static void on_packet(struct ev_loop *loop, ev_io *w, int revents);

static void on_link_silence(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct fo_link *l = w->data;
	struct dd_failover *fo = l->fo;
	char s[160];
	/* libev runs expired timers before pending reads: a packet already
	 * queued on the socket is not silence. */
	uint64_t rx = l->rx;
	if (revents)
		on_packet(loop, &l->w, EV_READ);
	if (l->rx != rx)
		return;
	ev_timer_stop(loop, w);
	if (!l->up)
		return;
	l->up = false;
	log_warn(SUB, "heartbeat %s down: peer %s silent on it for %" PRIu64 " ms; %zu/%zu links up",
		 link_str(fo, (size_t)l->idx, s, sizeof s), fo->conf->peer, mono_ms() - l->last_rx,
		 links_up(fo), fo->n_links);
}

static void drop(struct dd_failover *fo, uint64_t *counter, size_t link, const struct sockaddr_storage *from,
		 const char *why)
{
	(*counter)++;
	unsigned suppressed;
	if (!dlog_ratelimit_ok(&fo->drop_rl, &suppressed))
		return;
	struct dd_addr a;
	uint16_t port = 0;
	char as[DD_ADDR_STRLEN] = "?";
	if (dd_addr_from_sockaddr((const struct sockaddr *)from, &a, &port))
		dd_addr_port_str(&a, port, as, sizeof as);
	const struct dd_failover_drops *d = &fo->drops;
	log_warn(SUB, "dropped heartbeat from %s on link %zu: %s (dropped so far: %" PRIu64
		 " malformed, %" PRIu64 " version, %" PRIu64 " auth, %" PRIu64 " replay, %" PRIu64
		 " unknown sender; %u lines suppressed)",
		 as, link, why, d->malformed, d->bad_version, d->bad_auth, d->replayed,
		 d->unknown_sender, suppressed);
}

static void on_peer_timeout(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct dd_failover *fo = w->data;
	/* Read what arrived while this thread was not running first: libev
	 * calls expired timers before pending reads. */
	uint64_t rx = fo->rx;
	for (size_t i = 0; i < fo->n_links; i++)
		on_packet(loop, &fo->links[i].w, EV_READ);
	if (fo->rx != rx)
		return;
	/* Expiring late means this thread itself did not run (the whole
	 * machine stalled, as virtual machines do): the peer's silence during
	 * our own stall proves nothing. Once per silence, give it one more
	 * interval from now. A dead peer is still declared dead on time
	 * whenever we were running. */
	uint64_t now = mono_ms();
	uint64_t due = fo->peer.last_rx + fo->peer.dead_ms;
	uint64_t slack = fo->peer.interval_ms / 2 > 2 ? fo->peer.interval_ms / 2 : 2;
	if (now > due + slack && !fo->peer.grace) {
		unsigned suppressed;
		fo->peer.grace = true;
		if (dlog_ratelimit_ok(&fo->stall_rl, &suppressed))
			log_notice(SUB, "heartbeat thread ran %" PRIu64 " ms late; waiting one more interval "
				   "for peer %s before calling it silent (%u lines suppressed)",
				   now - due, fo->conf->peer, suppressed);
		ev_timer_stop(loop, w);
		ev_timer_set(w, (fo->peer.interval_ms + slack) / 1000.0, 0.);
		ev_timer_start(loop, w);
		return;
	}
	ev_timer_stop(loop, w);
	fo->peer.grace = false;
	fo->peer.timed_out = true;
	/* The peer's last word is the newest on any link, so every link is at
	 * least this silent: say so before the role change names the count. */
	for (size_t i = 0; i < fo->n_links; i++)
		if (fo->links[i].up)
			on_link_silence(loop, &fo->links[i].silence, 0);
	evaluate(fo);
}

static void on_packet(struct ev_loop *loop, ev_io *w, int revents)
{
	struct fo_link *l = w->data;
	struct dd_failover *fo = l->fo;
	for (int budget = 0; budget < 64; budget++) {
		uint8_t buf[DD_HB_MAX_PKT + 1];
		struct sockaddr_storage from;
		socklen_t fl = sizeof from;
		ssize_t n = recvfrom(l->fd, buf, sizeof buf, 0, (struct sockaddr *)&from, &fl);
		if (n < 0)
			return;
		struct dd_addr src;
		uint16_t sport;
		const struct dd_link *lc = &fo->conf->links[l->idx];
		/* Cheap checks first: a flood from a stranger costs no HMAC. */
		if (!dd_addr_from_sockaddr((struct sockaddr *)&from, &src, &sport) ||
		    (lc->remote.family && !dd_addr_eq(&src, &lc->remote))) {
			drop(fo, &fo->drops.unknown_sender, (size_t)l->idx, &from, "unknown sender address");
			continue;
		}
		struct dd_hb_msg m;
		enum dd_hb_verdict v = dd_hb_decode(buf, (size_t)n, &fo->conf->key, &m);
		if (v != DD_HB_OK) {
			drop(fo, v == DD_HB_BAD_AUTH ? &fo->drops.bad_auth :
				 v == DD_HB_BAD_VERSION ? &fo->drops.bad_version : &fo->drops.malformed,
			     (size_t)l->idx, &from, dd_hb_verdict_name(v));
			continue;
		}
		if (strcmp(m.node, fo->conf->peer) != 0) {
			char why[128];
			snprintf(why, sizeof why, "node %s is not our peer", m.node);
			drop(fo, &fo->drops.unknown_sender, (size_t)l->idx, &from, why);
			continue;
		}
		enum dd_hb_replay_verdict rv = dd_hb_replay_check(&fo->peer.replay, m.generation, m.seq);
		if (rv == DD_HB_REPLAYED || rv == DD_HB_OLD_GENERATION) {
			drop(fo, &fo->drops.replayed, (size_t)l->idx, &from,
			     rv == DD_HB_REPLAYED ? "replayed sequence number" : "generation from before the peer's restart");
			continue;
		}
		if (rv == DD_HB_NEW_GENERATION)
			log_notice(SUB, "peer %s restarted (generation %" PRIu64 ")", m.node, m.generation);
		uint64_t now = mono_ms();
		fo->rx++;
		l->rx++;
		l->last_rx = now;
		l->heard = true;
		bool was_alive = fo->peer.heard && !fo->peer.timed_out;
		fo->peer.heard = true;
		fo->peer.timed_out = false;
		fo->peer.grace = false;
		fo->peer.last_rx = now;
		fo->peer.interval_ms = m.interval_ms;
		fo->peer.dead_ms = m.dead_ms > 60000 ? 60000 : m.dead_ms;
		fo->peer.last = m;
		/* The peer's own dead time: it says how late it may be. Timers
		 * count from the loop's cached clock, which is stale if this
		 * thread was descheduled since the loop woke: refresh it, or the
		 * timer would expire early. */
		ev_now_update(loop);
		double dead = fo->peer.dead_ms / 1000.0;
		l->silence.repeat = dead;
		ev_timer_again(loop, &l->silence);
		fo->peer_timer.repeat = dead;
		ev_timer_again(loop, &fo->peer_timer);
		if (!l->up) {
			char s[160];
			l->up = true;
			log_notice(SUB, "heartbeat %s up: hearing peer %s; %zu/%zu links up",
				   link_str(fo, (size_t)l->idx, s, sizeof s), m.node, links_up(fo), fo->n_links);
		}
		if (!was_alive)
			log_notice(SUB, "peer %s alive (generation %" PRIu64 ", interval %u ms, dead time %u ms)",
				   m.node, m.generation, m.interval_ms, m.dead_ms);
		evaluate(fo);
	}
}

static void send_heartbeat(struct dd_failover *fo)
{
	if (!fo->n_links)
		return; /* standalone: no peer to tell, and the send timer stays off */
	struct dd_hb_msg m;
	memset(&m, 0, sizeof m);
	m.version = DD_HB_VERSION;
	m.type = DD_HB_TYPE_KEEPALIVE;
	m.generation = fo->generation;
	m.interval_ms = fo->conf->interval_ms;
	m.dead_ms = fo->conf->dead_ms;
	snprintf(m.node, sizeof m.node, "%s", fo->conf->node);
	m.n_clusters = fo->n_clusters;
	for (size_t i = 0; i < fo->n_clusters; i++) {
		struct fo_cluster *c = &fo->clusters[i];
		snprintf(m.clusters[i].name, sizeof m.clusters[i].name, "%s", c->cfg->name);
		m.clusters[i].role = (uint8_t)c->fsm.role;
		m.clusters[i].priority = c->fsm.priority;
		m.clusters[i].flags = dd_fsm_flags(&c->fsm);
	}
	for (size_t i = 0; i < fo->n_links; i++) {
		struct fo_link *l = &fo->links[i];
		uint8_t buf[DD_HB_MAX_PKT];
		m.seq = ++fo->seq;
		m.link = (uint8_t)i;
		int n = dd_hb_encode(&m, &fo->conf->key, buf, sizeof buf);
		if (n < 0)
			continue;
		if (sendto(l->fd, buf, (size_t)n, 0, (struct sockaddr *)&l->to, l->tolen) < 0) {
			l->tx_err++;
			unsigned suppressed;
			char s[160];
			if (dlog_ratelimit_ok(&fo->tx_rl, &suppressed))
				log_warn(SUB, "heartbeat %s: send failed: %s (%u lines suppressed)",
					 link_str(fo, i, s, sizeof s), strerror(errno), suppressed);
		} else {
			l->tx++;
			fo->tx++;
		}
	}
	/* Started once; from then on libev repeats it on a fixed grid. A
	 * restart here (ev_timer_again) would count each interval from this
	 * callback's start and lose the wake-up latency every time: 2 % fewer
	 * keepalives at 10 ms. */
	if (!ev_is_active(&fo->send_timer))
		ev_timer_again(fo->loop, &fo->send_timer);
}

static void on_send(struct ev_loop *loop, ev_timer *w, int revents)
{
	send_heartbeat(w->data);
}

/* ---- VIPs and announcements --------------------------------------------- */

static void announce(struct fo_cluster *c)
{
	char err[256];
	for (size_t i = 0; i < c->cfg->n_vips; i++) {
		const struct dd_vip *v = &c->cfg->vips[i];
		if (dd_garp_send(c->fo->garp, &v->addr, v->ifname, c->cfg->garp.mode, err, sizeof err) < 0)
			log_err(SUB, "cluster %s: %s", c->cfg->name, err);
	}
}

static void on_garp(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct fo_cluster *c = w->data;
	announce(c);
	if (--c->garp_left == 0)
		ev_timer_stop(loop, w);
}

static void on_refresh(struct ev_loop *loop, ev_timer *w, int revents)
{
	announce(w->data);
}

static void garp_burst(struct fo_cluster *c)
{
	struct ev_loop *loop = c->fo->loop;
	ev_timer_stop(loop, &c->garp);
	if (c->cfg->garp.count == 0)
		return;
	announce(c);
	c->garp_left = c->cfg->garp.count - 1;
	if (c->cfg->garp.interval_ms == 0) {
		for (; c->garp_left; c->garp_left--)
			announce(c);
		return;
	}
	if (c->garp_left) {
		ev_timer_set(&c->garp, c->cfg->garp.interval_ms / 1000.0, c->cfg->garp.interval_ms / 1000.0);
		ev_timer_start(loop, &c->garp);
	}
}

static void vips_up(struct fo_cluster *c)
{
	char err[256], s[96];
	for (size_t i = 0; i < c->cfg->n_vips; i++)
		if (dd_vip_add(c->fo->vipctl, &c->cfg->vips[i], err, sizeof err) < 0)
			log_err(SUB, "cluster %s: %s", c->cfg->name, err);
		else
			log_info(SUB, "cluster %s: VIP %s added", c->cfg->name,
				 dd_vip_str(&c->cfg->vips[i], s, sizeof s));
	c->vips_on = true;
	garp_burst(c);
	ev_timer_stop(c->fo->loop, &c->refresh);
	if (c->cfg->garp.refresh_ms) {
		double r = c->cfg->garp.refresh_ms / 1000.0;
		ev_timer_set(&c->refresh, r, r);
		ev_timer_start(c->fo->loop, &c->refresh);
	}
}

static void vips_down(struct fo_cluster *c, bool quiet)
{
	char err[256], s[96];
	ev_timer_stop(c->fo->loop, &c->garp);
	ev_timer_stop(c->fo->loop, &c->refresh);
	for (size_t i = 0; i < c->cfg->n_vips; i++)
		if (dd_vip_del(c->fo->vipctl, &c->cfg->vips[i], err, sizeof err) < 0)
			log_err(SUB, "cluster %s: %s", c->cfg->name, err);
		else if (!quiet)
			log_info(SUB, "cluster %s: VIP %s removed", c->cfg->name,
				 dd_vip_str(&c->cfg->vips[i], s, sizeof s));
	c->vips_on = false;
}

/* ---- role changes -------------------------------------------------------- */

static void post_event(struct dd_failover *fo, const char *cluster, const char *old_role,
		       const char *new_role, const char *reason)
{
	struct fo_event *e = xcalloc(1, sizeof *e);
	snprintf(e->cluster, sizeof e->cluster, "%s", cluster);
	snprintf(e->old_role, sizeof e->old_role, "%s", old_role);
	snprintf(e->new_role, sizeof e->new_role, "%s", new_role);
	snprintf(e->reason, sizeof e->reason, "%s", reason);
	pthread_mutex_lock(&fo->mu);
	*fo->events_tail = e;
	fo->events_tail = &e->next;
	pthread_mutex_unlock(&fo->mu);
	ev_async_send(fo->main_loop, &fo->main_async);
}

static void role_changed(struct fo_cluster *c, const struct dd_fsm_out *o)
{
	if (o->new_role == DD_ROLE_ACTIVE)
		vips_up(c);
	else if (c->vips_on)
		vips_down(c, false);
	/* VIPs first, then the alert: the line is the record that it happened. */
	dlog(LOG_ALERT, SUB, "cluster %s: %s -> %s: %s", c->cfg->name, dd_role_name(o->old_role),
	     dd_role_name(o->new_role), o->reason);
	post_event(c->fo, c->cfg->name, dd_role_name(o->old_role), dd_role_name(o->new_role), o->reason);
}

static void peer_view(struct dd_failover *fo, const struct fo_cluster *c, struct dd_fsm_peer *p,
		      char *silence, size_t slen)
{
	memset(p, 0, sizeof *p);
	p->name = fo->conf->peer;
	p->none = !fo->conf->peer[0];
	p->alive = fo->peer.heard && !fo->peer.timed_out;
	uint64_t now = mono_ms();
	if (!fo->peer.heard)
		snprintf(silence, slen, "not heard for %" PRIu64 " ms on %zu/%zu links",
			 now - c->fsm.start_ms, fo->n_links, fo->n_links);
	else
		snprintf(silence, slen, "silent for %" PRIu64 " ms on %zu/%zu links",
			 now - fo->peer.last_rx, fo->n_links - links_up(fo), fo->n_links);
	p->silence = silence;
	if (!fo->peer.heard)
		return;
	for (size_t i = 0; i < fo->peer.last.n_clusters; i++) {
		const struct dd_hb_cluster *pc = &fo->peer.last.clusters[i];
		if (strcmp(pc->name, c->cfg->name) == 0) {
			p->has_cluster = true;
			p->role = (enum dd_role)pc->role;
			p->priority = pc->priority;
			p->flags = pc->flags;
		}
	}
}

static void finish_stop(struct dd_failover *fo);

static void evaluate(struct dd_failover *fo)
{
	if (!fo->ready)
		return;
	bool changed = false;
	uint64_t deadline = UINT64_MAX;
	for (size_t i = 0; i < fo->n_clusters; i++) {
		struct fo_cluster *c = &fo->clusters[i];
		bool known;
		char reason[256], silence[96];
		bool fault = dd_monitor_fault(fo->mon, c->mon, &known, reason, sizeof reason);
		if (known)
			dd_fsm_set_fault(&c->fsm, fault, reason);
		uint8_t flags = dd_fsm_flags(&c->fsm);
		for (int step = 0; step < 4; step++) {
			struct dd_fsm_peer p;
			struct dd_fsm_out o;
			peer_view(fo, c, &p, silence, sizeof silence);
			dd_fsm_step(&c->fsm, &p, mono_ms(), &o);
			if (o.note)
				log_notice(SUB, "cluster %s: %s", c->cfg->name, o.note_text);
			if (o.reannounce && c->vips_on) {
				vips_up(c);
				changed = true;
			}
			if (!o.changed)
				break;
			role_changed(c, &o);
			changed = true;
		}
		if (flags != dd_fsm_flags(&c->fsm))
			changed = true;
		uint64_t d = dd_fsm_deadline(&c->fsm);
		if (d < deadline)
			deadline = d;
	}
	/* Tell the peer now, not at the next tick: a handover or a split-brain
	 * resolution should not wait an interval. */
	if (changed)
		send_heartbeat(fo);
	ev_timer_stop(fo->loop, &fo->fsm_timer);
	if (deadline != UINT64_MAX) {
		uint64_t now = mono_ms();
		/* Never 0: a deadline that changes nothing must not spin the
		 * (real-time) heartbeat thread. */
		ev_timer_set(&fo->fsm_timer, deadline > now ? (deadline - now) / 1000.0 : 0.001, 0.);
		ev_timer_start(fo->loop, &fo->fsm_timer);
	}
	if (fo->stopping) {
		bool waiting = false;
		for (size_t i = 0; i < fo->n_clusters; i++)
			if (fo->clusters[i].fsm.role == DD_ROLE_ACTIVE && fo->clusters[i].fsm.releasing)
				waiting = true;
		if (!waiting)
			finish_stop(fo);
	}
}

static void on_fsm_timer(struct ev_loop *loop, ev_timer *w, int revents)
{
	evaluate(w->data);
}

static void on_monitor(void *ctx)
{
	evaluate(ctx);
}

/* ---- clusters and monitors ----------------------------------------------- */

static uint32_t handover_wait(const struct fo_conf *c)
{
	uint32_t w = c->dead_ms * 4;
	return w < 500 ? 500 : w;
}

static void setup_clusters(struct dd_failover *fo, struct fo_cluster *old, size_t n_old)
{
	char err[256];
	fo->n_clusters = fo->conf->n_clusters;
	fo->clusters = xcalloc(fo->n_clusters ? fo->n_clusters : 1, sizeof *fo->clusters);
	fo->mon = dd_monitor_new(fo->loop, on_monitor, fo, err, sizeof err);
	if (!fo->mon) {
		log_crit(SUB, "%s", err);
		abort(); /* checked in dd_failover_new; a reload cannot newly fail here */
	}
	uint64_t now = mono_ms();
	for (size_t i = 0; i < fo->n_clusters; i++) {
		struct fo_cluster *c = &fo->clusters[i];
		const struct dd_cluster *cfg = &fo->conf->clusters[i];
		c->fo = fo;
		c->cfg = cfg;
		struct fo_cluster *prev = NULL;
		for (size_t j = 0; j < n_old; j++)
			if (old[j].cfg && strcmp(old[j].cfg->name, cfg->name) == 0)
				prev = &old[j];
		if (prev) {
			c->fsm = prev->fsm;
			c->fsm.priority = (uint8_t)cfg->priority;
			c->fsm.failback = cfg->failback;
			c->fsm.failback_delay_ms = cfg->failback_delay_ms;
			c->fsm.init_wait_ms = fo->conf->dead_ms;
			c->fsm.handover_wait_ms = handover_wait(fo->conf);
			c->vips_on = prev->vips_on;
		} else {
			dd_fsm_init(&c->fsm, cfg->name, fo->conf->node, (uint8_t)cfg->priority, cfg->failback,
				    cfg->failback_delay_ms, fo->conf->dead_ms, handover_wait(fo->conf), now);
		}
		ev_timer_init(&c->garp, on_garp, 0., 0.);
		c->garp.data = c;
		ev_timer_init(&c->refresh, on_refresh, 0., 0.);
		c->refresh.data = c;
		c->mon = dd_monitor_add(fo->mon, cfg);
	}
}

/* ---- commands from the main thread ---------------------------------------- */

static struct fo_cluster *find_cluster(struct dd_failover *fo, const char *name)
{
	for (size_t i = 0; i < fo->n_clusters; i++)
		if (strcmp(fo->clusters[i].cfg->name, name) == 0)
			return &fo->clusters[i];
	return NULL;
}

static void install_links(struct dd_failover *fo, struct link_socks *s)
{
	for (size_t i = 0; i < fo->n_links; i++) {
		ev_io_stop(fo->loop, &fo->links[i].w);
		ev_timer_stop(fo->loop, &fo->links[i].silence);
		close(fo->links[i].fd);
	}
	struct fo_link old[DD_FO_MAX_LINKS];
	size_t n_old = fo->n_links;
	memcpy(old, fo->links, sizeof old);
	fo->n_links = s->n;
	for (size_t i = 0; i < s->n; i++) {
		struct fo_link *l = &fo->links[i];
		const struct dd_link *lc = &fo->conf->links[i];
		memset(l, 0, sizeof *l);
		l->fo = fo;
		l->idx = (int)i;
		l->fd = s->fd[i];
		l->tolen = dd_addr_to_sockaddr(fo->conf->mcast.family ? &fo->conf->mcast : &lc->remote,
					       fo->conf->port, &l->to);
		/* Same link as before: keep its state, so a reload is no blip. */
		if (i < n_old) {
			l->up = old[i].up;
			l->heard = old[i].heard;
			l->last_rx = old[i].last_rx;
			l->rx = old[i].rx;
			l->tx = old[i].tx;
			l->tx_err = old[i].tx_err;
		}
		ev_io_init(&l->w, on_packet, l->fd, EV_READ);
		l->w.data = l;
		ev_io_start(fo->loop, &l->w);
		ev_init(&l->silence, on_link_silence);
		l->silence.data = l;
		l->silence.repeat = (fo->peer.dead_ms ? fo->peer.dead_ms : fo->conf->dead_ms) / 1000.0;
		if (l->up)
			ev_timer_again(fo->loop, &l->silence);
	}
}

static void do_reload(struct dd_failover *fo, struct fo_cmd *cmd)
{
	struct fo_conf *oldconf = fo->conf;
	struct fo_cluster *old = fo->clusters;
	size_t n_old = fo->n_clusters;
	if (cmd->generation)
		fo->generation = cmd->generation;
	if (strcmp(oldconf->peer, cmd->conf->peer) != 0) {
		memset(&fo->peer, 0, sizeof fo->peer);
		ev_timer_stop(fo->loop, &fo->peer_timer);
	}
	fo->conf = cmd->conf;
	install_links(fo, cmd->socks);
	dd_monitor_free(fo->mon);
	fo->ready = false;
	setup_clusters(fo, old, n_old);
	/* Clusters that went away, and VIPs that left a cluster still active. */
	for (size_t j = 0; j < n_old; j++) {
		struct fo_cluster *o = &old[j];
		ev_timer_stop(fo->loop, &o->garp);
		ev_timer_stop(fo->loop, &o->refresh);
		struct fo_cluster *n = find_cluster(fo, o->cfg->name);
		for (size_t k = 0; o->vips_on && k < o->cfg->n_vips; k++) {
			bool kept = false;
			for (size_t m = 0; n && n->vips_on && m < n->cfg->n_vips; m++)
				if (dd_addr_eq(&n->cfg->vips[m].addr, &o->cfg->vips[k].addr) &&
				    strcmp(n->cfg->vips[m].ifname, o->cfg->vips[k].ifname) == 0)
					kept = true;
			char err[256];
			if (!kept && dd_vip_del(fo->vipctl, &o->cfg->vips[k], err, sizeof err) < 0)
				log_err(SUB, "cluster %s: %s", o->cfg->name, err);
		}
		if (!n)
			log_notice(SUB, "cluster %s removed by reload%s", o->cfg->name,
				   o->vips_on ? "; its VIPs were released" : "");
	}
	for (size_t i = 0; i < fo->n_clusters; i++)
		if (fo->clusters[i].vips_on)
			vips_up(&fo->clusters[i]); /* new VIPs added, all announced again */
	free(old);
	conf_free(oldconf);
	/* Repeat 0 stops it: a reload to standalone sends nothing more. */
	fo->send_timer.repeat = fo->n_links ? fo->conf->interval_ms / 1000.0 : 0.;
	ev_timer_again(fo->loop, &fo->send_timer);
	fo->ready = true;
	if (fo->n_links)
		log_notice(SUB, "configuration reloaded: %zu clusters, %zu links to peer %s", fo->n_clusters,
			   fo->n_links, fo->conf->peer);
	else
		log_notice(SUB, "configuration reloaded: %zu clusters, no peer (standalone)", fo->n_clusters);
	evaluate(fo);
}

static void fill_status(struct dd_failover *fo, struct dd_failover_status *st)
{
	uint64_t now = mono_ms();
	memset(st, 0, sizeof *st);
	snprintf(st->node, sizeof st->node, "%s", fo->conf->node);
	snprintf(st->peer, sizeof st->peer, "%s", fo->conf->peer);
	st->generation = fo->generation;
	st->peer_generation = fo->peer.replay.generation;
	st->peer_alive = fo->peer.heard && !fo->peer.timed_out;
	st->last_heartbeat_age_ms = fo->peer.heard ? (int64_t)(now - fo->peer.last_rx) : -1;
	st->interval_ms = fo->conf->interval_ms;
	st->dead_ms = fo->conf->dead_ms;
	st->n_links = fo->n_links;
	for (size_t i = 0; i < fo->n_links; i++) {
		struct dd_failover_link_status *ls = &st->links[i];
		const struct dd_link *lc = &fo->conf->links[i];
		dd_addr_str(&lc->local, ls->local, sizeof ls->local);
		dd_addr_str(fo->conf->mcast.family ? &fo->conf->mcast : &lc->remote, ls->remote,
			    sizeof ls->remote);
		snprintf(ls->ifname, sizeof ls->ifname, "%s", lc->ifname);
		ls->up = fo->links[i].up;
		ls->last_rx_age_ms = fo->links[i].heard ? (int64_t)(now - fo->links[i].last_rx) : -1;
		ls->rx = fo->links[i].rx;
		ls->tx = fo->links[i].tx;
		ls->tx_errors = fo->links[i].tx_err;
	}
	st->n_clusters = fo->n_clusters;
	for (size_t i = 0; i < fo->n_clusters; i++) {
		struct fo_cluster *c = &fo->clusters[i];
		struct dd_failover_cluster_status *cs = &st->clusters[i];
		struct dd_fsm_peer p;
		char silence[96];
		peer_view(fo, c, &p, silence, sizeof silence);
		snprintf(cs->name, sizeof cs->name, "%s", c->cfg->name);
		cs->role = dd_role_name(c->fsm.role);
		cs->in_role_ms = now - c->fsm.since_ms;
		cs->priority = c->fsm.priority;
		cs->peer_role = p.none ? NULL : p.has_cluster ? dd_role_name(p.role) : "unknown";
		cs->peer_priority = p.priority;
		cs->vips_up = c->vips_on;
	}
	st->drops = fo->drops;
	st->rx = fo->rx;
	st->tx = fo->tx;
}

static void finish_stop(struct dd_failover *fo)
{
	fo->stopping = false;
	ev_timer_stop(fo->loop, &fo->stop_timer);
	for (size_t i = 0; i < fo->n_clusters; i++) {
		struct fo_cluster *c = &fo->clusters[i];
		if (c->fsm.role == DD_ROLE_ACTIVE) {
			/* Standalone, nobody to hand over to: the VIPs go, as
			 * keepalived's do. */
			char why[160];
			if (fo->n_links)
				snprintf(why, sizeof why, "directord is stopping and peer %s did not take over",
					 fo->conf->peer);
			else
				snprintf(why, sizeof why, "directord is stopping; no peer configured");
			log_alert(SUB, "cluster %s: active -> stopped: %s", c->cfg->name, why);
			post_event(fo, c->cfg->name, "active", "stopped", why);
		}
		if (c->vips_on)
			vips_down(c, false);
	}
	ev_break(fo->loop, EVBREAK_ALL);
}

static void on_stop_timeout(struct ev_loop *loop, ev_timer *w, int revents)
{
	finish_stop(w->data);
}

static void do_stop(struct dd_failover *fo, bool handover)
{
	if (!handover) {
		finish_stop(fo);
		return;
	}
	uint64_t now = mono_ms();
	for (size_t i = 0; i < fo->n_clusters; i++) {
		struct fo_cluster *c = &fo->clusters[i];
		struct dd_fsm_peer p;
		char silence[96], why[256];
		peer_view(fo, c, &p, silence, sizeof silence);
		if (c->fsm.role == DD_ROLE_ACTIVE &&
		    dd_fsm_release(&c->fsm, &p, now, "directord is stopping", why, sizeof why) == 0)
			log_notice(SUB, "cluster %s: standing down: directord is stopping", c->cfg->name);
	}
	fo->stopping = true;
	ev_timer_set(&fo->stop_timer, handover_wait(fo->conf) / 1000.0, 0.);
	ev_timer_start(fo->loop, &fo->stop_timer);
	send_heartbeat(fo);
	evaluate(fo);
}

static void on_cmd(struct ev_loop *loop, ev_async *w, int revents)
{
	struct dd_failover *fo = w->data;
	pthread_mutex_lock(&fo->mu);
	struct fo_cmd *cmd = fo->cmd;
	pthread_mutex_unlock(&fo->mu);
	if (!cmd || cmd->done)
		return;
	cmd->result = 0;
	struct fo_cluster *c = NULL;
	if (cmd->kind == CMD_TAKEOVER || cmd->kind == CMD_RELEASE) {
		c = find_cluster(fo, cmd->cluster);
		if (!c) {
			snprintf(cmd->err, sizeof cmd->err, "no cluster named %s", cmd->cluster);
			cmd->result = -1;
		}
	}
	bool stop = false, handover = false;
	switch (cmd->kind) {
	case CMD_RELOAD:
		do_reload(fo, cmd);
		break;
	case CMD_TAKEOVER:
	case CMD_RELEASE:
		if (c) {
			struct dd_fsm_peer p;
			char silence[96];
			peer_view(fo, c, &p, silence, sizeof silence);
			if (cmd->kind == CMD_TAKEOVER)
				cmd->result = dd_fsm_takeover(&c->fsm, &p, mono_ms(), cmd->err, sizeof cmd->err);
			else
				cmd->result = dd_fsm_release(&c->fsm, &p, mono_ms(), "operator requested handover",
							     cmd->err, sizeof cmd->err);
			if (cmd->result == 0) {
				log_notice(SUB, "cluster %s: operator requested %s", c->cfg->name,
					   cmd->kind == CMD_TAKEOVER ? "takeover" : "handover to the peer");
				send_heartbeat(fo);
				evaluate(fo);
			}
		}
		break;
	case CMD_STATUS:
		fill_status(fo, cmd->st);
		break;
	case CMD_STOP:
		stop = true;
		handover = cmd->handover;
		break;
	}
	pthread_mutex_lock(&fo->mu);
	cmd->done = true;
	pthread_cond_broadcast(&fo->cv);
	pthread_mutex_unlock(&fo->mu);
	/* cmd belongs to the caller again from here on. */
	if (stop)
		do_stop(fo, handover);
}

static int post_cmd(struct dd_failover *fo, struct fo_cmd *cmd)
{
	pthread_mutex_lock(&fo->mu);
	while (fo->cmd)
		pthread_cond_wait(&fo->cv, &fo->mu);
	fo->cmd = cmd;
	pthread_mutex_unlock(&fo->mu);
	ev_async_send(fo->loop, &fo->cmd_async);
	pthread_mutex_lock(&fo->mu);
	while (!cmd->done)
		pthread_cond_wait(&fo->cv, &fo->mu);
	fo->cmd = NULL;
	pthread_cond_broadcast(&fo->cv);
	pthread_mutex_unlock(&fo->mu);
	return cmd->result;
}

/* ---- main loop side -------------------------------------------------------- */

static void deliver_events(struct dd_failover *fo)
{
	pthread_mutex_lock(&fo->mu);
	struct fo_event *e = fo->events;
	fo->events = NULL;
	fo->events_tail = &fo->events;
	pthread_mutex_unlock(&fo->mu);
	while (e) {
		struct fo_event *next = e->next;
		if (fo->hooks.role_changed)
			fo->hooks.role_changed(fo->hooks.ctx, e->cluster, e->old_role, e->new_role, e->reason);
		free(e);
		e = next;
	}
}

static void on_main_async(struct ev_loop *loop, ev_async *w, int revents)
{
	struct dd_failover *fo = w->data;
	/* Lines first: a role change's alert line precedes its notify run. */
	dlog_queue_drain(fo->logq);
	deliver_events(fo);
}

static void wake_main(void *arg)
{
	struct dd_failover *fo = arg;
	ev_async_send(fo->main_loop, &fo->main_async);
}

/* A keepalive thread that page-faults on code the kernel evicted is late
 * by a disk read, whatever its priority: under I/O load that was measured
 * at 200-450 ms here. So the process is locked in memory (keepalived's
 * vrrp_no_swap does the same). Not under AddressSanitizer, whose shadow
 * mappings are terabytes of address space. */
#if defined(__SANITIZE_ADDRESS__)
#define DD_HAVE_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define DD_HAVE_ASAN 1
#endif
#endif

static void lock_memory(void)
{
#ifndef DD_HAVE_ASAN
	if (mlockall(MCL_CURRENT | MCL_FUTURE) < 0)
		log_warn(SUB, "cannot lock memory: %s; heartbeats may be late under memory or I/O pressure",
			 strerror(errno));
#endif
}

static void *thread_main(void *arg)
{
	struct dd_failover *fo = arg;
	/* Keepalives must go out on time even when every core is busy:
	 * real-time priority if we may, plain scheduling otherwise. */
	struct sched_param sp = { .sched_priority = 10 };
	int r = pthread_setschedparam(pthread_self(), SCHED_FIFO, &sp);
	if (r != 0)
		log_info(SUB, "heartbeat thread runs without real-time priority: %s", strerror(r));
	dlog_defer_thread(fo->logq);
	ev_run(fo->loop, 0);
	dlog_defer_thread(NULL);
	return NULL;
}

/* The generation puts this run's keepalives after every earlier run's. Only
 * a director with a peer takes one: a standalone director writes no state
 * file until a reload gives it a peer. */
static int take_generation(const struct fo_conf *c, const struct dd_config *cfg, bool have,
			   uint64_t *gen, char **err)
{
	*gen = 0;
	if (!c->n_links || have)
		return 0;
	return dd_hb_generation_next(cfg->hb.state_file, gen, err);
}

struct dd_failover *dd_failover_new(struct ev_loop *main_loop, const struct dd_config *cfg,
				    const struct dd_failover_hooks *hooks, char **err)
{
	struct fo_conf *conf = conf_copy(cfg, err);
	if (!conf)
		return NULL;
	uint64_t gen;
	if (take_generation(conf, cfg, false, &gen, err) < 0) {
		conf_free(conf);
		return NULL;
	}
	struct link_socks socks;
	if (open_links(conf, &socks, err) < 0) {
		conf_free(conf);
		return NULL;
	}
	char e[256];
	struct dd_vipctl *vipctl = dd_vipctl_new(e, sizeof e);
	if (!vipctl) {
		dd_seterr(err, "%s", e);
		for (size_t i = 0; i < socks.n; i++)
			close(socks.fd[i]);
		conf_free(conf);
		return NULL;
	}
	struct dd_garp *garp = dd_garp_open(e, sizeof e);
	if (!garp) {
		dd_seterr(err, "%s", e);
		dd_vipctl_free(vipctl);
		for (size_t i = 0; i < socks.n; i++)
			close(socks.fd[i]);
		conf_free(conf);
		return NULL;
	}
	struct dd_failover *fo = xcalloc(1, sizeof *fo);
	fo->main_loop = main_loop;
	fo->garp = garp;
	if (hooks)
		fo->hooks = *hooks;
	pthread_mutex_init(&fo->mu, NULL);
	pthread_cond_init(&fo->cv, NULL);
	fo->events_tail = &fo->events;
	fo->conf = conf;
	fo->vipctl = vipctl;
	fo->generation = gen;
	dlog_ratelimit_init(&fo->drop_rl, 5, 1.0);
	dlog_ratelimit_init(&fo->tx_rl, 5, 1.0);
	dlog_ratelimit_init(&fo->stall_rl, 5, 0.1);
	fo->loop = ev_loop_new(EVFLAG_AUTO);
	ev_async_init(&fo->main_async, on_main_async);
	fo->main_async.data = fo;
	ev_async_start(main_loop, &fo->main_async);
	fo->logq = dlog_queue_new(256, wake_main, fo);
	ev_async_init(&fo->cmd_async, on_cmd);
	fo->cmd_async.data = fo;
	ev_async_start(fo->loop, &fo->cmd_async);
	ev_init(&fo->send_timer, on_send);
	fo->send_timer.repeat = conf->interval_ms / 1000.0;
	fo->send_timer.data = fo;
	ev_init(&fo->peer_timer, on_peer_timeout);
	fo->peer_timer.data = fo;
	ev_init(&fo->fsm_timer, on_fsm_timer);
	fo->fsm_timer.data = fo;
	ev_init(&fo->stop_timer, on_stop_timeout);
	fo->stop_timer.data = fo;
	install_links(fo, &socks);

	/* A VIP present now is a leftover (crash, kill -9): this director is
	 * not active until the state machine says so. */
	for (size_t i = 0; i < conf->n_clusters; i++)
		for (size_t j = 0; j < conf->clusters[i].n_vips; j++)
			if (dd_vip_del(vipctl, &conf->clusters[i].vips[j], e, sizeof e) < 0)
				log_warn(SUB, "cluster %s: %s", conf->clusters[i].name, e);
	setup_clusters(fo, NULL, 0);
	fo->ready = true;
	if (conf->n_links)
		log_notice(SUB, "heartbeat to peer %s on %zu links: generation %" PRIu64 ", interval %u ms, dead time %u ms",
			   conf->peer, conf->n_links, gen, conf->interval_ms, conf->dead_ms);
	else
		log_notice(SUB, "no peer configured: standalone, clusters go active unless in fault");
	send_heartbeat(fo);
	evaluate(fo);
	lock_memory();
	int r = pthread_create(&fo->thread, NULL, thread_main, fo);
	if (r != 0) {
		dd_seterr(err, "heartbeat thread: %s", strerror(r));
		fo->thread_started = false;
		dd_failover_stop(fo, false);
		return NULL;
	}
	fo->thread_started = true;
	return fo;
}

int dd_failover_reload(struct dd_failover *fo, const struct dd_config *cfg, char **err)
{
	struct fo_conf *conf = conf_copy(cfg, err);
	if (!conf)
		return -1;
	uint64_t gen;
	struct link_socks socks;
	/* fo->generation is written on the heartbeat thread only while this
	 * thread waits in post_cmd(), so it can be read here. */
	if (take_generation(conf, cfg, fo->generation != 0, &gen, err) < 0 ||
	    open_links(conf, &socks, err) < 0) {
		conf_free(conf);
		return -1;
	}
	struct fo_cmd cmd = { .kind = CMD_RELOAD, .conf = conf, .socks = &socks, .generation = gen };
	return post_cmd(fo, &cmd);
}

static int cluster_cmd(struct dd_failover *fo, enum cmd_kind kind, const char *cluster, char **err)
{
	struct fo_cmd cmd = { .kind = kind, .cluster = cluster };
	if (post_cmd(fo, &cmd) < 0) {
		dd_seterr(err, "%s", cmd.err);
		return -1;
	}
	return 0;
}

int dd_failover_takeover(struct dd_failover *fo, const char *cluster, char **err)
{
	return cluster_cmd(fo, CMD_TAKEOVER, cluster, err);
}

int dd_failover_release(struct dd_failover *fo, const char *cluster, char **err)
{
	return cluster_cmd(fo, CMD_RELEASE, cluster, err);
}

int dd_failover_status(struct dd_failover *fo, struct dd_failover_status *st)
{
	struct fo_cmd cmd = { .kind = CMD_STATUS, .st = st };
	return post_cmd(fo, &cmd);
}

void dd_failover_stop(struct dd_failover *fo, bool handover)
{
	if (!fo)
		return;
	if (fo->thread_started) {
		struct fo_cmd cmd = { .kind = CMD_STOP, .handover = handover };
		post_cmd(fo, &cmd);
		pthread_join(fo->thread, NULL);
	} else {
		for (size_t i = 0; i < fo->n_clusters; i++)
			vips_down(&fo->clusters[i], true);
	}
	for (size_t i = 0; i < fo->n_links; i++) {
		ev_io_stop(fo->loop, &fo->links[i].w);
		ev_timer_stop(fo->loop, &fo->links[i].silence);
		close(fo->links[i].fd);
	}
	for (size_t i = 0; i < fo->n_clusters; i++) {
		ev_timer_stop(fo->loop, &fo->clusters[i].garp);
		ev_timer_stop(fo->loop, &fo->clusters[i].refresh);
	}
	dd_monitor_free(fo->mon);
	ev_timer_stop(fo->loop, &fo->send_timer);
	ev_timer_stop(fo->loop, &fo->peer_timer);
	ev_timer_stop(fo->loop, &fo->fsm_timer);
	ev_timer_stop(fo->loop, &fo->stop_timer);
	ev_async_stop(fo->loop, &fo->cmd_async);
	ev_loop_destroy(fo->loop);
	ev_async_stop(fo->main_loop, &fo->main_async);
	dlog_queue_free(fo->logq);
	deliver_events(fo);
	dd_vipctl_free(fo->vipctl);
	dd_garp_close(fo->garp);
	free(fo->clusters);
	conf_free(fo->conf);
	pthread_mutex_destroy(&fo->mu);
	pthread_cond_destroy(&fo->cv);
	free(fo);
}
