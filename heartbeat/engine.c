/* SPDX-License-Identifier: GPL-2.0-or-later */
/* heartbeat/engine.c: the failover engine: its thread and loop, the
 * command/event channel between that thread and the main loop, driving
 * the role state machines (heartbeat/fsm.c), reload, status and stop; and
 * the public dd_failover_* API (heartbeat/failover.h).
 *
 * DOC: threads
 *
 * Main thread (the daemon's default loop):
 *   dd_failover_new()      copies the config, takes the generation, opens
 *                          the link sockets, the VIP and announcement
 *                          sockets, the ECMP tun device (if any cluster
 *                          is ECMP) and the monitors, removes stale VIPs,
 *                          then starts the heartbeat thread
 *   dd_failover_reload()   copies the config and opens its link sockets
 *                          (and a new tun device, if the name changed),
 *   dd_failover_takeover() then posts a command and waits until the
 *   dd_failover_release()  heartbeat thread has taken it (post_cmd); no
 *   dd_failover_status()   command waits for anything but that thread
 *   dd_failover_ecmp_health()  (quorum verdicts, as values)
 *   dd_failover_ecmp_drain()
 *   dd_failover_track()    (a track script's state, from directord/track.c)
 *   dd_failover_stop()
 *   dd_failover_pulse()    reads the thread's progress counter (atomic)
 *   on_main_async()        writes the heartbeat thread's queued log lines
 *                          and delivers role changes to the hook
 *
 * Heartbeat thread (fo->loop, SCHED_FIFO when allowed; never writes a log
 * line itself, never forks, never waits on a lock the main thread holds
 * for long):
 *   on_cmd()               runs a command: do_reload(), fill_status(),
 *                          takeover/release, do_stop()
 *   links.c                keepalives out and in, silences
 *   fo_evaluate()          monitors' verdicts, track scripts (track.c:
 *                          fault, effective priority) + peer view -> state
 *                          machines
 *   takeover.c             VIPs on/off, announcements, refresh
 *   announce.c             ECMP clusters: VIPs on/off the tun device
 *                          that the routing daemon exports
 *
 * What crosses, and how:
 *   main -> heartbeat      struct fo_cmd under fo->mu: a command, with the
 *                          new fo_conf and its sockets already made; ECMP
 *                          quorum as struct dd_ecmp_vip_health values (a
 *                          copy the thread takes); a track script's
 *                          struct dd_track_state (values: its name, OK or
 *                          not, how its run ended); a tun device a reload
 *                          replaced comes back in the command, and the
 *                          main thread closes it
 *   heartbeat -> main      struct fo_event (struct dd_role_change: enums
 *                          for roles and reason, plus the reason's words)
 *                          queued under fo->mu, woken by main_async; log
 *                          lines through the lock-free dlog_queue (a log
 *                          write that waits for a disk under I/O load held
 *                          keepalives back by 15-35 ms here)
 *   status                 filled by the heartbeat thread into the
 *                          caller's struct dd_failover_status
 * Everything else belongs to the heartbeat thread once it runs.
 *
 * A director with no peer (standalone) runs the same engine with zero
 * links: no sockets, no key, no keepalives; its clusters go active unless
 * a monitor says fault, like a single keepalived node.
 *
 * The config comes from conf/, whose loader has checked every rule the
 * engine relies on (names, link families, timers, limits): nothing here
 * validates it again. What can still fail is a resource.
 */
#include "config.h"
#include "heartbeat/engine.h"
#include "heartbeat/garp.h"
#include "heartbeat/monitor.h"
#include "heartbeat/vip.h"
#include "lib/util.h"

#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

/* ---- the engine's copy of the config ------------------------------------ */

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


static struct fo_conf *conf_copy(const struct dd_config *cfg, char **err)
{
	const struct dd_heartbeat *hb = &cfg->hb;
	struct fo_conf *c = xcalloc(1, sizeof *c);
	snprintf(c->node, sizeof c->node, "%s", cfg->node_name);
	c->port = hb->port ? hb->port : 7694;
	c->interval_ms = hb->interval_ms;
	c->dead_ms = hb->dead_ms;
	c->mcast = hb->mcast_group;
	c->dscp = hb->dscp;
	if (hb->n_peers) {
		const struct dd_peer *p = &hb->peers[0];
		snprintf(c->peer, sizeof c->peer, "%s", p->name);
		if (dd_hb_key_load(hb->key_file, &c->key, err) < 0) {
			conf_free(c);
			return NULL;
		}
		c->n_links = p->n_links;
		memcpy(c->links, p->links, p->n_links * sizeof *p->links);
	}
	c->n_clusters = cfg->n_clusters;
	c->clusters = xcalloc(c->n_clusters ? c->n_clusters : 1, sizeof *c->clusters);
	for (size_t i = 0; i < cfg->n_clusters; i++) {
		const struct dd_cluster *s = &cfg->clusters[i];
		struct dd_cluster *d = &c->clusters[i];
		*d = *s;
		d->services = NULL;
		d->n_services = 0;
		memset(&d->notify, 0, sizeof d->notify); /* the main loop's business */
		d->vips = xcalloc(s->n_vips ? s->n_vips : 1, sizeof *d->vips);
		for (size_t j = 0; j < s->n_vips; j++) {
			d->vips[j] = s->vips[j];
			d->vips[j].label = s->vips[j].label ? xstrdup(s->vips[j].label) : NULL;
		}
		d->track_ifs = xcalloc(s->n_track_ifs ? s->n_track_ifs : 1, sizeof *d->track_ifs);
		if (s->n_track_ifs)
			memcpy(d->track_ifs, s->track_ifs, s->n_track_ifs * sizeof *d->track_ifs);
		d->ping_targets = xcalloc(s->n_ping_targets ? s->n_ping_targets : 1, sizeof *d->ping_targets);
		if (s->n_ping_targets)
			memcpy(d->ping_targets, s->ping_targets, s->n_ping_targets * sizeof *d->ping_targets);
	}
	return c;
}

/* ---- role changes ---------------------------------------------------------- */

static void post_event(const struct fo_cluster *c, enum dd_role old_role, enum dd_role new_role,
		       enum dd_fsm_why why, const char *reason)
{
	struct dd_failover *fo = c->fo;
	struct fo_event *e = xcalloc(1, sizeof *e);
	snprintf(e->ev.cluster, sizeof e->ev.cluster, "%s", c->cfg->name);
	e->ev.old_role = old_role;
	e->ev.new_role = new_role;
	e->ev.why = why;
	snprintf(e->ev.reason, sizeof e->ev.reason, "%s", reason);
	e->ev.priority = c->fsm.priority;
	pthread_mutex_lock(&fo->mu);
	*fo->events_tail = e;
	fo->events_tail = &e->next;
	pthread_mutex_unlock(&fo->mu);
	ev_async_send(fo->main_loop, &fo->main_async);
}

static void role_changed(struct fo_cluster *c, const struct dd_fsm_out *o)
{
	if (o->new_role == DD_ROLE_ACTIVE)
		fo_vips_up(c);
	else if (c->vips_on)
		fo_vips_down(c, false);
	/* VIPs first, then the alert: the line is the record that it happened. */
	dlog(LOG_ALERT, SUB, "cluster %s: %s -> %s: %s", c->cfg->name, dd_role_name(o->old_role),
	     dd_role_name(o->new_role), o->reason);
	post_event(c, o->old_role, o->new_role, o->why, o->reason);
}

static void peer_view(struct dd_failover *fo, const struct fo_cluster *c, struct dd_fsm_peer *p,
		      char *silence, size_t slen)
{
	memset(p, 0, sizeof *p);
	p->name = fo->conf->peer;
	/* An ECMP cluster is held by every healthy director: the peer, even
	 * one that lists the cluster, is not part of it. */
	if (c->cfg->mode == DD_MODE_ECMP) {
		p->none = true;
		p->none_why = "ECMP mode: every healthy director is active";
		snprintf(silence, slen, "no peer in ECMP mode");
		p->silence = silence;
		return;
	}
	p->none = !fo->conf->peer[0];
	p->alive = fo_peer_alive(fo);
	uint64_t now = mono_ms();
	const char *unbelieved = fo_peer_unbelieved(fo);
	p->unbelieved = !p->alive && unbelieved;
	if (p->unbelieved)
		/* The true reason: it is there, but cannot be trusted. */
		snprintf(silence, slen, "heard but not believed: %s", unbelieved);
	else if (!fo->peer.heard)
		snprintf(silence, slen, "not heard for %" PRIu64 " ms on %zu/%zu links",
			 now - c->fsm.start_ms, fo->n_links, fo->n_links);
	else
		snprintf(silence, slen, "silent for %" PRIu64 " ms on %zu/%zu links",
			 now - fo->peer.last_rx, fo->n_links - fo_links_up(fo), fo->n_links);
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

void fo_evaluate(struct dd_failover *fo)
{
	if (!fo->ready)
		return;
	bool changed = false;
	uint64_t deadline = UINT64_MAX;
	for (size_t i = 0; i < fo->n_clusters; i++) {
		struct fo_cluster *c = &fo->clusters[i];
		char silence[96];
		fo_cluster_inputs(fo, c, &changed);
		uint8_t flags = dd_fsm_flags(&c->fsm);
		for (int step = 0; step < 4; step++) {
			struct dd_fsm_peer p;
			struct dd_fsm_out o;
			peer_view(fo, c, &p, silence, sizeof silence);
			dd_fsm_step(&c->fsm, &p, mono_ms(), &o);
			if (o.note)
				log_notice(SUB, "cluster %s: %s", c->cfg->name, o.note_text);
			if (o.reannounce && c->vips_on) {
				fo_vips_announce_again(c);
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
	fo_ecmp_update(fo);
	/* Tell the peer now, not at the next tick: a handover or a split-brain
	 * resolution should not wait an interval. */
	if (changed)
		fo_send(fo);
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
	fo_evaluate(w->data);
}

static void on_monitor(void *ctx)
{
	fo_evaluate(ctx);
}

/* ---- clusters and monitors ----------------------------------------------- */

static uint32_t handover_wait(const struct fo_conf *c)
{
	uint32_t w = c->dead_ms * 4;
	return w < 500 ? 500 : w;
}

/* The new clusters take the role of the old ones of the same name. mon is
 * the new config's monitor set, made before anything changed. */
static void setup_clusters(struct dd_failover *fo, struct dd_monitor *mon, struct fo_cluster *old,
			   size_t n_old)
{
	fo->mon = mon;
	fo->n_clusters = fo->conf->n_clusters;
	fo->clusters = xcalloc(fo->n_clusters ? fo->n_clusters : 1, sizeof *fo->clusters);
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
		fo_cluster_timers_init(c);
		c->mon = dd_monitor_add(fo->mon, cfg);
	}
}

static struct dd_monitor *monitor_new(struct dd_failover *fo, char **err)
{
	return dd_monitor_new(fo->loop, on_monitor, fo, err);
}

static void free_clusters(struct fo_cluster *v, size_t n)
{
	for (size_t i = 0; i < n; i++)
		fo_cluster_free(&v[i]);
	free(v);
}

/* ---- commands from the main thread ------------------------------------------ */

static struct fo_cluster *find_cluster(struct dd_failover *fo, const char *name)
{
	for (size_t i = 0; i < fo->n_clusters; i++)
		if (strcmp(fo->clusters[i].cfg->name, name) == 0)
			return &fo->clusters[i];
	return NULL;
}

static void do_reload(struct dd_failover *fo, struct fo_cmd *cmd)
{
	/* Everything that can fail comes first: a monitor set that cannot be
	 * had refuses the reload and leaves the running one as it was. */
	char *err = NULL;
	struct dd_monitor *mon = monitor_new(fo, &err);
	if (!mon) {
		snprintf(cmd->err, sizeof cmd->err, "%s", err ? err : "monitors");
		free(err);
		cmd->result = -1;
		fo_links_close_socks(cmd->socks);
		conf_free(cmd->conf);
		return;
	}
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
	fo_links_install(fo, cmd->socks);
	fo_ecmp_install(fo, &cmd->ecmp);
	dd_monitor_free(fo->mon);
	fo->ready = false;
	setup_clusters(fo, mon, old, n_old);
	fo_track_prune(fo);
	fo_vips_reload(fo, old, n_old, oldconf);
	free_clusters(old, n_old);
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
	fo_evaluate(fo);
}

static void fill_status(struct dd_failover *fo, struct dd_failover_status *st)
{
	uint64_t now = mono_ms();
	memset(st, 0, sizeof *st);
	snprintf(st->node, sizeof st->node, "%s", fo->conf->node);
	snprintf(st->peer, sizeof st->peer, "%s", fo->conf->peer);
	st->generation = fo->generation;
	st->peer_generation = fo->peer.replay.generation;
	st->peer_alive = fo_peer_alive(fo);
	st->peer_problem = fo->peer.problem;
	snprintf(st->peer_problem_text, sizeof st->peer_problem_text, "%s", fo->peer.problem_text);
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
		cs->role = c->fsm.role;
		cs->why = c->fsm.why;
		cs->in_role_ms = now - c->fsm.since_ms;
		cs->priority = c->fsm.priority;
		/* A dead peer's last word is history, not its role now. */
		cs->peer_known = !p.none && p.alive && p.has_cluster;
		cs->peer_role = p.role;
		cs->peer_priority = p.priority;
		cs->vips_up = c->vips_on && !fo_vips_missing(c);
		cs->vips_missing = fo_vips_missing(c);
		fo_ecmp_status(fo, c, cs);
	}
	snprintf(st->ecmp_device, sizeof st->ecmp_device, "%s", fo->ecmp.dev);
	st->ecmp_drained = fo->ecmp.drained;
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
			if (c->cfg->mode == DD_MODE_ECMP)
				snprintf(why, sizeof why, "directord is stopping (ECMP: its routes were withdrawn)");
			else if (fo->n_links)
				snprintf(why, sizeof why, "directord is stopping and peer %s did not take over",
					 fo->conf->peer);
			else
				snprintf(why, sizeof why, "directord is stopping; no peer configured");
			log_alert(SUB, "cluster %s: active -> stopped: %s", c->cfg->name, why);
			post_event(c, DD_ROLE_ACTIVE, DD_ROLE_STOPPED, DD_WHY_STOPPING, why);
		}
		if (c->vips_on)
			fo_vips_down(c, false);
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
	fo_send(fo);
	fo_evaluate(fo);
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
				fo_send(fo);
				fo_evaluate(fo);
			}
		}
		break;
	case CMD_STATUS:
		fill_status(fo, cmd->st);
		break;
	case CMD_TRACK:
		fo_track_set(fo, cmd->track);
		fo_evaluate(fo);
		break;
	case CMD_STOP:
		stop = true;
		handover = cmd->handover;
		break;
	case CMD_ECMP_HEALTH:
	case CMD_ECMP_DRAIN:
		fo_ecmp_cmd(fo, cmd);
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
			fo->hooks.role_changed(fo->hooks.ctx, &e->ev);
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

static void on_pulse(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct dd_failover *fo = w->data;
	atomic_fetch_add_explicit(&fo->pulse, 1, memory_order_relaxed);
}

uint64_t dd_failover_pulse(const struct dd_failover *fo)
{
	return atomic_load_explicit(&fo->pulse, memory_order_relaxed);
}

static void *thread_main(void *arg)
{
	struct dd_failover *fo = arg;
	/* The name lets operators (and tests) find this thread in ps and /proc. */
	pthread_setname_np(pthread_self(), "dd-heartbeat");
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
	struct link_socks socks = { .n = 0 };
	struct dd_vipctl *vipctl = NULL;
	struct dd_garp *garp = NULL;
	struct fo_ecmp_dev ecmp = { .fd = -1 };
	if (take_generation(conf, cfg, false, &gen, err) < 0 || fo_links_open(conf, &socks, err) < 0 ||
	    !(vipctl = dd_vipctl_new(err)) || !(garp = dd_garp_open(err)) ||
	    fo_ecmp_prepare(NULL, cfg, &ecmp, err) < 0) {
		dd_garp_close(garp);
		dd_vipctl_free(vipctl);
		fo_links_close_socks(&socks);
		conf_free(conf);
		return NULL;
	}
	struct dd_failover *fo = xcalloc(1, sizeof *fo);
	fo->ecmp.fd = -1;
	fo_ecmp_install(fo, &ecmp);
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
	ev_init(&fo->send_timer, fo_on_send);
	fo->send_timer.repeat = conf->interval_ms / 1000.0;
	fo->send_timer.data = fo;
	ev_init(&fo->peer_timer, fo_on_peer_timeout);
	fo->peer_timer.data = fo;
	ev_init(&fo->fsm_timer, on_fsm_timer);
	fo->fsm_timer.data = fo;
	ev_init(&fo->stop_timer, on_stop_timeout);
	fo->stop_timer.data = fo;
	ev_timer_init(&fo->pulse_timer, on_pulse, DD_FO_PULSE_MS / 1000.0, DD_FO_PULSE_MS / 1000.0);
	fo->pulse_timer.data = fo;
	ev_timer_start(fo->loop, &fo->pulse_timer);
	fo_links_install(fo, &socks);
	struct dd_monitor *mon = monitor_new(fo, err);
	if (!mon) {
		dd_failover_stop(fo, false);
		return NULL;
	}

	fo_vips_remove_stale(fo);
	setup_clusters(fo, mon, NULL, 0);
	fo->ready = true;
	if (conf->n_links)
		log_notice(SUB, "heartbeat to peer %s on %zu links: generation %" PRIu64 ", interval %u ms, dead time %u ms",
			   conf->peer, conf->n_links, gen, conf->interval_ms, conf->dead_ms);
	else
		log_notice(SUB, "no peer configured: standalone, clusters go active unless in fault");
	fo_send(fo);
	fo_evaluate(fo);
	lock_memory();
	int r = pthread_create(&fo->thread, NULL, thread_main, fo);
	if (r != 0) {
		dd_seterr(err, "heartbeat thread: %s", strerror(r));
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
	    fo_links_open(conf, &socks, err) < 0) {
		conf_free(conf);
		return -1;
	}
	/* fo->ecmp is written on the heartbeat thread only inside commands. */
	struct fo_ecmp_dev ecmp;
	if (fo_ecmp_prepare(&fo->ecmp, cfg, &ecmp, err) < 0) {
		fo_links_close_socks(&socks);
		conf_free(conf);
		return -1;
	}
	struct fo_cmd cmd = { .kind = CMD_RELOAD, .conf = conf, .socks = &socks, .generation = gen,
			      .ecmp = ecmp };
	int r = post_cmd(fo, &cmd);
	/* The device the reload replaced, or the one it could not use. */
	if (cmd.ecmp.fd >= 0)
		close(cmd.ecmp.fd);
	if (r < 0) {
		dd_seterr(err, "%s", cmd.err);
		return -1;
	}
	return 0;
}

int dd_failover_ecmp_health(struct dd_failover *fo, const struct dd_ecmp_vip_health *v, size_t n,
			    char **err)
{
	struct fo_cmd cmd = { .kind = CMD_ECMP_HEALTH, .n_health = n };
	cmd.health = xcalloc(n ? n : 1, sizeof *cmd.health);
	if (n)
		memcpy(cmd.health, v, n * sizeof *v);
	int r = post_cmd(fo, &cmd);
	free(cmd.health); /* NULL once the thread took it */
	if (r < 0)
		dd_seterr(err, "%s", cmd.err);
	return r;
}

int dd_failover_ecmp_drain(struct dd_failover *fo, bool drained, bool stopping, char **err)
{
	struct fo_cmd cmd = { .kind = CMD_ECMP_DRAIN, .drain = drained || stopping, .stopping = stopping };
	if (post_cmd(fo, &cmd) < 0) {
		dd_seterr(err, "%s", cmd.err);
		return -1;
	}
	return 0;
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

int dd_failover_track(struct dd_failover *fo, const struct dd_track_state *st, char **err)
{
	struct fo_cmd cmd = { .kind = CMD_TRACK, .track = st };
	if (post_cmd(fo, &cmd) < 0) {
		dd_seterr(err, "%s", cmd.err);
		return -1;
	}
	return 0;
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
			fo_vips_down(&fo->clusters[i], true);
	}
	fo_links_close(fo);
	free_clusters(fo->clusters, fo->n_clusters);
	dd_monitor_free(fo->mon);
	ev_timer_stop(fo->loop, &fo->send_timer);
	ev_timer_stop(fo->loop, &fo->peer_timer);
	ev_timer_stop(fo->loop, &fo->fsm_timer);
	ev_timer_stop(fo->loop, &fo->stop_timer);
	ev_timer_stop(fo->loop, &fo->pulse_timer);
	ev_async_stop(fo->loop, &fo->cmd_async);
	ev_loop_destroy(fo->loop);
	ev_async_stop(fo->main_loop, &fo->main_async);
	dlog_queue_free(fo->logq);
	deliver_events(fo);
	fo_ecmp_close(fo);
	dd_vipctl_free(fo->vipctl);
	dd_garp_close(fo->garp);
	conf_free(fo->conf);
	pthread_mutex_destroy(&fo->mu);
	pthread_cond_destroy(&fo->cv);
	free(fo);
}
