/* SPDX-License-Identifier: GPL-2.0-or-later */
/* heartbeat/links.c: the heartbeat links: one UDP socket per link (unicast
 * or a multicast group), keepalives out on a fixed grid, keepalives in with
 * their checks (cheap ones before the HMAC), drop counters, and the two
 * silences that matter: of one link, and of the peer on every link.
 *
 * fo_links_open() runs on the main thread, so a reload that cannot get a
 * socket is refused before the engine sees it; everything else runs on
 * the heartbeat thread (see the DOC block in engine.c). */
#include "config.h"
#include "heartbeat/engine.h"
#include "heartbeat/vip.h"
#include "lib/util.h"

#include <errno.h>
#include <inttypes.h>
#include <net/if.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

static void on_packet(struct ev_loop *loop, ev_io *w, int revents);

static int open_link(const struct fo_conf *c, size_t i, char **err)
{
	const struct dd_link *l = &c->links[i];
	char a[DD_ADDR_STRLEN];
	int fam = l->local.family;
	int fd = socket(fam, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		dd_seterr(err, "heartbeat link %zu: socket: %s", i, strerror(errno));
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
		dd_seterr(err, "heartbeat link %zu: bind to device %s: %s", i, l->ifname,
			 strerror(errno));
		close(fd);
		return -1;
	}
	struct sockaddr_storage ss;
	socklen_t sl = dd_addr_to_sockaddr(c->mcast.family ? &c->mcast : &l->local, c->port, &ss);
	if (bind(fd, (struct sockaddr *)&ss, sl) < 0) {
		dd_seterr(err, "heartbeat link %zu: bind %s: %s", i,
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
			dd_seterr(err, "heartbeat link %zu: join multicast group: %s", i, strerror(errno));
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
			dd_seterr(err, "heartbeat link %zu: join multicast group: %s", i, strerror(errno));
			close(fd);
			return -1;
		}
		setsockopt(fd, IPPROTO_IPV6, IPV6_MULTICAST_LOOP, &zero, sizeof zero);
		setsockopt(fd, IPPROTO_IPV6, IPV6_MULTICAST_HOPS, &hops, sizeof hops);
	}
	return fd;
}

int fo_links_open(const struct fo_conf *c, struct link_socks *s, char **err)
{
	s->n = 0;
	for (size_t i = 0; i < c->n_links; i++) {
		int fd = open_link(c, i, err);
		if (fd < 0) {
			fo_links_close_socks(s);
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

size_t fo_links_up(const struct dd_failover *fo)
{
	size_t n = 0;
	for (size_t i = 0; i < fo->n_links; i++)
		n += fo->links[i].up;
	return n;
}

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
		 fo_links_up(fo), fo->n_links);
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
		 " unknown sender, %" PRIu64 " unproven; %u lines suppressed)",
		 as, link, why, d->malformed, d->bad_version, d->bad_auth, d->replayed,
		 d->unknown_sender, d->unproven, suppressed);
}

const char *dd_peer_problem_name(enum dd_peer_problem p)
{
	switch (p) {
	case DD_PEER_OK: return "ok";
	case DD_PEER_BAD_AUTH: return "auth";
	case DD_PEER_BAD_VERSION: return "version";
	case DD_PEER_WRONG_NODE: return "node-name";
	case DD_PEER_TIMERS: return "timers";
	}
	return "?";
}

/* Links on which the peer's address sent something we could not believe
 * within the last dead time. */
static size_t links_rejecting(const struct dd_failover *fo, uint64_t now)
{
	size_t n = 0;
	for (size_t i = 0; i < fo->n_links; i++)
		n += fo->links[i].last_rejected && now - fo->links[i].last_rejected <= fo->conf->dead_ms;
	return n;
}

/* A peer that is heard but not believed looks, to the state machine,
 * exactly like a dead one: both directors go active. That must never be
 * silent: the first such packet while the peer is not alive raises an
 * alert naming the cause (a forger's packets while the real peer is
 * alive are counted as drops, not raised). Values only; the words are
 * written once, here. */
static void peer_problem(struct dd_failover *fo, struct fo_link *l, enum dd_peer_problem what,
			 const char *detail)
{
	uint64_t now = mono_ms();
	if (what != DD_PEER_TIMERS) {
		l->last_rejected = now;
		if (fo_peer_alive(fo)) {
			/* A forger's, or the peer's own after its key changed: which,
			 * only the peer's silence will tell (fo_on_peer_timeout). */
			fo->peer.suspect = what;
			snprintf(fo->peer.suspect_detail, sizeof fo->peer.suspect_detail, "%s",
				 detail ? detail : "");
			return;
		}
	}
	fo->peer.problem_last = now;
	if (fo->peer.problem == what)
		return;
	char *t = fo->peer.problem_text;
	size_t tl = sizeof fo->peer.problem_text;
	const char *peer = fo->conf->peer;
	size_t heard = links_rejecting(fo, now);
	switch (what) {
	case DD_PEER_BAD_AUTH:
		snprintf(t, tl, "peer %s heard on %zu/%zu links but its keepalives fail authentication: "
			 "check key_file", peer, heard, fo->n_links);
		break;
	case DD_PEER_BAD_VERSION:
		snprintf(t, tl, "peer %s heard on %zu/%zu links but speaks another heartbeat protocol "
			 "version: run the same directord version on both", peer, heard, fo->n_links);
		break;
	case DD_PEER_WRONG_NODE:
		snprintf(t, tl, "peer %s expected but keepalives on %zu/%zu links come from node %s: "
			 "check node and heartbeat.peers.name on both", peer, heard, fo->n_links, detail);
		break;
	case DD_PEER_TIMERS:
		snprintf(t, tl, "peer %s %s, this director interval %u ms and dead time %u ms: set the "
			 "same heartbeat timers on both", peer, detail, fo->conf->interval_ms,
			 fo->conf->dead_ms);
		break;
	case DD_PEER_OK:
		break;
	}
	fo->peer.problem = what;
	log_alert(SUB, "%s", t);
}

static void peer_problem_clear(struct dd_failover *fo, const char *why)
{
	if (fo->peer.problem == DD_PEER_OK)
		return;
	log_notice(SUB, "peer %s: %s problem cleared: %s", fo->conf->peer,
		   dd_peer_problem_name(fo->peer.problem), why);
	fo->peer.problem = DD_PEER_OK;
	fo->peer.problem_text[0] = '\0';
}

void fo_on_peer_timeout(struct ev_loop *loop, ev_timer *w, int revents)
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
	/* Silent, yet its address kept sending what we could not believe:
	 * that is the reason, and it must be known before the role changes. */
	now = mono_ms();
	for (size_t i = 0; fo->peer.suspect != DD_PEER_OK && i < fo->n_links; i++)
		if (fo->links[i].last_rejected && now - fo->links[i].last_rejected <= fo->conf->dead_ms) {
			peer_problem(fo, &fo->links[i], fo->peer.suspect, fo->peer.suspect_detail);
			break;
		}
	fo->peer.suspect = DD_PEER_OK;
	/* The peer's last word is the newest on any link, so every link is at
	 * least this silent: say so before the role change names the count. */
	for (size_t i = 0; i < fo->n_links; i++)
		if (fo->links[i].up)
			on_link_silence(loop, &fo->links[i].silence, 0);
	fo_evaluate(fo);
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
			if (v == DD_HB_BAD_AUTH || v == DD_HB_BAD_VERSION)
				peer_problem(fo, l, v == DD_HB_BAD_AUTH ? DD_PEER_BAD_AUTH : DD_PEER_BAD_VERSION,
					     NULL);
			continue;
		}
		if (strcmp(m.node, fo->conf->peer) != 0) {
			char why[128];
			snprintf(why, sizeof why, "node %s is not our peer", m.node);
			drop(fo, &fo->drops.unknown_sender, (size_t)l->idx, &from, why);
			peer_problem(fo, l, DD_PEER_WRONG_NODE, m.node);
			continue;
		}
		uint64_t echo_before = fo->peer.replay.seen ? fo->peer.replay.generation : 0;
		enum dd_hb_replay_verdict rv = dd_hb_replay_check(&fo->peer.replay, m.generation, m.seq);
		if (rv == DD_HB_REPLAYED || rv == DD_HB_OLD_GENERATION) {
			drop(fo, &fo->drops.replayed, (size_t)l->idx, &from,
			     rv == DD_HB_REPLAYED ? "replayed sequence number" : "generation from before the peer's restart");
			continue;
		}
		/* A peer generation we had not seen: tell it ours at once, so
		 * that its next keepalive can prove it is live (below). */
		if (fo->peer.replay.generation != echo_before)
			fo_send(fo);
		/* The window above lives in memory only, so after our own start
		 * it would take a recording of the peer's old keepalives as new.
		 * Believed is only what echoes this run's generation, which no
		 * recording made before this run can hold. Not a warning: every
		 * start sees one round trip of these. */
		if (m.echo != fo->generation) {
			fo->drops.unproven++;
			if (!fo->peer.unproven_said) {
				fo->peer.unproven_said = true;
				log_notice(SUB, "peer %s heard on link %d (generation %" PRIu64 ") but it does "
					   "not echo this director's generation yet: not believed until it does",
					   m.node, l->idx, m.generation);
			}
			continue;
		}
		fo->peer.unproven_said = false;
		if (fo->peer.announced_gen != m.generation) {
			if (fo->peer.announced_gen)
				log_notice(SUB, "peer %s restarted (generation %" PRIu64 ")", m.node, m.generation);
			fo->peer.announced_gen = m.generation;
		}
		uint64_t now = mono_ms();
		fo->rx++;
		l->rx++;
		l->last_rx = now;
		bool heard_before = l->heard;
		l->heard = true;
		bool was_alive = fo_peer_alive(fo);
		fo->peer.heard = true;
		fo->peer.timed_out = false;
		fo->peer.grace = false;
		fo->peer.last_rx = now;
		fo->peer.interval_ms = m.interval_ms;
		fo->peer.dead_ms = m.dead_ms > 60000 ? 60000 : m.dead_ms;
		/* Every link carries the same state, numbered from one counter:
		 * a keepalive older than the newest we have (it came the slower
		 * way) proves the peer is alive but says nothing new about its
		 * roles, and must not undo what a newer one said. */
		if (!was_alive || m.generation != fo->peer.last.generation || m.seq > fo->peer.last.seq)
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
		bool link_back = !l->up;
		if (!l->up) {
			char s[160];
			l->up = true;
			log_notice(SUB, "heartbeat %s up: hearing peer %s; %zu/%zu links up",
				   link_str(fo, (size_t)l->idx, s, sizeof s), m.node, fo_links_up(fo), fo->n_links);
			/* The peer hears us only once our side of the link has
			 * resolved it again: at once, not at the next probe. */
			char *err = NULL;
			if (heard_before && lc->ifname[0] && !fo->conf->mcast.family &&
			    dd_neigh_forget(fo->vipctl, &lc->remote, lc->ifname, &err) < 0) {
				log_info(SUB, "heartbeat %s: %s", link_str(fo, (size_t)l->idx, s, sizeof s), err);
				free(err);
			}
		}
		if (!was_alive)
			log_notice(SUB, "peer %s alive (generation %" PRIu64 ", interval %u ms, dead time %u ms)",
				   m.node, m.generation, m.interval_ms, m.dead_ms);
		if (m.interval_ms != fo->conf->interval_ms || m.dead_ms != fo->conf->dead_ms) {
			char t[96];
			snprintf(t, sizeof t, "sends interval %u ms and dead time %u ms", m.interval_ms,
				 m.dead_ms);
			peer_problem(fo, l, DD_PEER_TIMERS, t);
		} else {
			peer_problem_clear(fo, "its keepalives are accepted");
		}
		fo->peer.suspect = DD_PEER_OK;
		fo_evaluate(fo);
		if (link_back)
			fo_send(fo); /* resolves the peer now, and tells it our roles */
		/* Back from silence, it may have held our VIPs meanwhile (its
		 * keepalives were lost, or not believed) and may have yielded
		 * before we heard it say active: clients may still point at
		 * it, so whoever is active now announces again. */
		if (!was_alive)
			fo_vips_peer_back(fo);
	}
}

void fo_send(struct dd_failover *fo)
{
	if (!fo->n_links)
		return; /* standalone: no peer to tell, and the send timer stays off */
	/* A problem nobody shows any more (the peer stopped sending) is over;
	 * checked here because this timer runs on a fixed grid anyway. */
	if (fo->peer.problem != DD_PEER_OK && fo->peer.problem != DD_PEER_TIMERS &&
	    mono_ms() - fo->peer.problem_last > 2 * (uint64_t)fo->conf->dead_ms)
		peer_problem_clear(fo, "nothing heard from its address any more");
	struct dd_hb_msg m;
	memset(&m, 0, sizeof m);
	m.version = DD_HB_VERSION;
	m.type = DD_HB_TYPE_KEEPALIVE;
	m.generation = fo->generation;
	m.echo = fo->peer.replay.seen ? fo->peer.replay.generation : 0;
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

void fo_on_send(struct ev_loop *loop, ev_timer *w, int revents)
{
	fo_send(w->data);
}


void fo_links_install(struct dd_failover *fo, struct link_socks *s)
{
	fo_links_close(fo);
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


void fo_links_close_socks(struct link_socks *s)
{
	for (size_t i = 0; i < s->n; i++)
		close(s->fd[i]);
	s->n = 0;
}

void fo_links_close(struct dd_failover *fo)
{
	for (size_t i = 0; i < fo->n_links; i++) {
		ev_io_stop(fo->loop, &fo->links[i].w);
		ev_timer_stop(fo->loop, &fo->links[i].silence);
		close(fo->links[i].fd);
	}
}

const char *fo_peer_unbelieved(const struct dd_failover *fo)
{
	switch (fo->peer.problem) {
	case DD_PEER_BAD_AUTH: return "its keepalives fail authentication";
	case DD_PEER_BAD_VERSION: return "it speaks another protocol version";
	case DD_PEER_WRONG_NODE: return "its keepalives carry another node name";
	case DD_PEER_OK:
	case DD_PEER_TIMERS:
		break;
	}
	return NULL;
}

bool fo_peer_alive(const struct dd_failover *fo)
{
	return fo->peer.heard && !fo->peer.timed_out;
}
