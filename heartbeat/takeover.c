/* SPDX-License-Identifier: GPL-2.0-or-later */
/* heartbeat/takeover.c: what a role change does to the network: a
 * cluster's VIPs go on or off (heartbeat/vip.c, on the engine's own
 * rtnetlink socket), and each VIP that goes on is announced in a burst of
 * gratuitous ARPs / unsolicited NAs (heartbeat/garp.c), plus an optional
 * periodic refresh while active. On reload, only the VIPs that
 * dd_vip_diff() (conf/diff.h) names are touched, and only those are
 * announced.
 *
 * A VIP that cannot be added (its interface is missing, the kernel says
 * no) is an alert, is never announced, shows as missing in status, and is
 * retried every second for as long as the cluster is active.
 *
 * Runs on the heartbeat thread; dd_failover_new() and dd_failover_stop()
 * call in from the main thread only while that thread does not run. */
#include "config.h"
#include "conf/diff.h"
#include "heartbeat/engine.h"
#include "heartbeat/garp.h"
#include "heartbeat/vip.h"
#include "lib/util.h"

#include <stdlib.h>
#include <string.h>

static void announce(struct fo_cluster *c, bool burst_only)
{
	for (size_t i = 0; i < c->cfg->n_vips; i++) {
		const struct dd_vip *v = &c->cfg->vips[i];
		char *err = NULL;
		if ((burst_only && !c->burst[i]) || !c->held[i])
			continue; /* never announce an address we do not hold */
		if (dd_garp_send(c->fo->garp, &v->addr, v->ifname, c->cfg->garp.mode, &err) < 0) {
			log_err(SUB, "cluster %s: %s", c->cfg->name, err);
			free(err);
		}
	}
}

static void on_garp(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct fo_cluster *c = w->data;
	announce(c, true);
	if (--c->garp_left == 0)
		ev_timer_stop(loop, w);
}

static void on_refresh(struct ev_loop *loop, ev_timer *w, int revents)
{
	announce(w->data, false);
}

static void on_retry(struct ev_loop *loop, ev_timer *w, int revents);

void fo_cluster_timers_init(struct fo_cluster *c)
{
	ev_timer_init(&c->garp, on_garp, 0., 0.);
	c->garp.data = c;
	ev_timer_init(&c->refresh, on_refresh, 0., 0.);
	c->refresh.data = c;
	ev_timer_init(&c->retry, on_retry, 1., 1.);
	c->retry.data = c;
	c->burst = xcalloc(c->cfg->n_vips ? c->cfg->n_vips : 1, sizeof *c->burst);
	c->held = xcalloc(c->cfg->n_vips ? c->cfg->n_vips : 1, sizeof *c->held);
}

void fo_cluster_free(struct fo_cluster *c)
{
	fo_cluster_timers_stop(c);
	free(c->burst);
	free(c->held);
	c->burst = c->held = NULL;
}

void fo_cluster_timers_stop(struct fo_cluster *c)
{
	ev_timer_stop(c->fo->loop, &c->garp);
	ev_timer_stop(c->fo->loop, &c->refresh);
	ev_timer_stop(c->fo->loop, &c->retry);
}

size_t fo_vips_missing(const struct fo_cluster *c)
{
	size_t n = 0;
	for (size_t i = 0; c->vips_on && i < c->cfg->n_vips; i++)
		n += !c->held[i];
	return n;
}

/* The first announcement now, the rest of garp.count on the timer, for the
 * VIPs marked in c->burst. */
static void burst(struct fo_cluster *c, uint32_t count)
{
	struct ev_loop *loop = c->fo->loop;
	ev_timer_stop(loop, &c->garp);
	c->garp_left = 0;
	if (count == 0)
		return;
	announce(c, true);
	c->garp_left = count - 1;
	if (c->cfg->garp.interval_ms == 0) {
		for (; c->garp_left; c->garp_left--)
			announce(c, true);
		return;
	}
	if (c->garp_left) {
		double iv = c->cfg->garp.interval_ms / 1000.0;
		ev_timer_set(&c->garp, iv, iv);
		ev_timer_start(loop, &c->garp);
	}
}

static void refresh_start(struct fo_cluster *c)
{
	ev_timer_stop(c->fo->loop, &c->refresh);
	if (c->cfg->garp.refresh_ms) {
		double r = c->cfg->garp.refresh_ms / 1000.0;
		ev_timer_set(&c->refresh, r, r);
		ev_timer_start(c->fo->loop, &c->refresh);
	}
}

/* quiet: a retry, whose failure was already raised. */
static int vip_add(struct fo_cluster *c, size_t i, const char *why, bool quiet)
{
	const struct dd_vip *v = &c->cfg->vips[i];
	char *err = NULL, s[96];
	if (dd_vip_add(c->fo->vipctl, v, &err) < 0) {
		if (!quiet)
			log_alert(SUB, "cluster %s: active without VIP %s: %s; retrying every second",
				  c->cfg->name, dd_vip_str(v, s, sizeof s), err);
		free(err);
		c->held[i] = false;
		if (!ev_is_active(&c->retry))
			ev_timer_again(c->fo->loop, &c->retry);
		return -1;
	}
	c->held[i] = true;
	log_info(SUB, "cluster %s: VIP %s added%s", c->cfg->name, dd_vip_str(v, s, sizeof s), why);
	return 0;
}

static void on_retry(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct fo_cluster *c = w->data;
	bool missing = false;
	for (size_t i = 0; c->vips_on && i < c->cfg->n_vips; i++) {
		if (c->held[i])
			continue;
		if (vip_add(c, i, " on retry", true) == 0) {
			c->burst[i] = true;
			burst(c, c->cfg->garp.count);
		} else {
			missing = true;
		}
	}
	if (!missing)
		ev_timer_stop(loop, w);
	fo_ecmp_update(c->fo);
}

static void vip_del(struct dd_failover *fo, const struct dd_cluster *cl, const struct dd_vip *v,
		    const char *why, bool quiet)
{
	char *err = NULL, s[96];
	int r = dd_vip_del(fo->vipctl, v, &err);
	if (r < 0) {
		log_err(SUB, "cluster %s: VIP %s: %s", cl->name, dd_vip_str(v, s, sizeof s), err);
		free(err);
	} else if (r > 0 && !quiet) {
		log_info(SUB, "cluster %s: VIP %s removed%s", cl->name, dd_vip_str(v, s, sizeof s), why);
	}
}

void fo_vips_up(struct fo_cluster *c)
{
	c->vips_on = true;
	for (size_t i = 0; i < c->cfg->n_vips; i++) {
		vip_add(c, i, "", false);
		c->burst[i] = true;
	}
	burst(c, c->cfg->garp.count);
	refresh_start(c);
}

/* A split brain's survivor announces again. A burst already under way
 * covers every request that comes while it runs: keepalives from the loser
 * on each link that comes back would otherwise start one burst apiece. */
void fo_vips_announce_again(struct fo_cluster *c)
{
	if (c->garp_left)
		return;
	for (size_t i = 0; i < c->cfg->n_vips; i++)
		c->burst[i] = true;
	burst(c, c->cfg->garp.count);
}

void fo_vips_peer_back(struct dd_failover *fo)
{
	for (size_t i = 0; i < fo->n_clusters; i++) {
		struct fo_cluster *c = &fo->clusters[i];
		if (!c->vips_on || c->garp_left)
			continue;
		log_info(SUB, "cluster %s: peer %s heard again: announcing the VIPs again", c->cfg->name,
			 fo->conf->peer);
		fo_vips_announce_again(c);
	}
}

void fo_vips_down(struct fo_cluster *c, bool quiet)
{
	/* The route first: traffic must stop coming before the VIP goes. */
	fo_ecmp_withdraw(c);
	fo_cluster_timers_stop(c);
	c->garp_left = 0;
	for (size_t i = 0; i < c->cfg->n_vips; i++)
		vip_del(c->fo, c->cfg, &c->cfg->vips[i], "", quiet);
	c->vips_on = false;
	memset(c->burst, 0, c->cfg->n_vips * sizeof *c->burst);
	memset(c->held, 0, c->cfg->n_vips * sizeof *c->held);
}

/* A VIP present at start is a leftover (crash, kill -9): this director is
 * not active until the state machine says so. Said in the log, since it
 * changes what the host holds. */
void fo_vips_remove_stale(struct dd_failover *fo)
{
	for (size_t i = 0; i < fo->conf->n_clusters; i++)
		for (size_t j = 0; j < fo->conf->clusters[i].n_vips; j++) {
			const struct dd_vip *v = &fo->conf->clusters[i].vips[j];
			char *err = NULL, s[96];
			int r = dd_vip_del(fo->vipctl, v, &err);
			if (r < 0) {
				log_warn(SUB, "cluster %s: VIP %s: %s", fo->conf->clusters[i].name,
					 dd_vip_str(v, s, sizeof s), err);
				free(err);
			} else if (r > 0) {
				log_notice(SUB, "cluster %s: VIP %s removed: left over from an earlier run, "
					   "not active yet", fo->conf->clusters[i].name, dd_vip_str(v, s, sizeof s));
			}
		}
}

struct held_arg {
	struct fo_cluster *old, *cur;
	size_t n_old, n_cur;
};

static struct fo_cluster *by_name(struct fo_cluster *v, size_t n, const char *name)
{
	for (size_t i = 0; i < n; i++)
		if (strcmp(v[i].cfg->name, name) == 0)
			return &v[i];
	return NULL;
}

static bool held(void *arg, const char *cluster, bool in_next)
{
	struct held_arg *h = arg;
	struct fo_cluster *c = in_next ? by_name(h->cur, h->n_cur, cluster) : by_name(h->old, h->n_old, cluster);
	return c && c->vips_on;
}

static size_t vip_index(const struct dd_cluster *cl, const struct dd_vip *v)
{
	return (size_t)(v - cl->vips);
}

/* After the new clusters inherited vips_on from the old ones of the same
 * name: remove and add exactly what the diff says, carry an announcement
 * burst that was under way over to the new cluster, announce only the
 * VIPs added, and restart the refresh with the new period. */
void fo_vips_reload(struct dd_failover *fo, struct fo_cluster *old, size_t n_old,
		    const struct fo_conf *oldconf)
{
	struct held_arg h = { old, fo->clusters, n_old, fo->n_clusters };
	struct dd_vip_change *ch;
	size_t n = dd_vip_diff(oldconf->clusters, oldconf->n_clusters, fo->conf->clusters,
			       fo->conf->n_clusters, held, &h, &ch);
	for (size_t j = 0; j < n_old; j++) {
		struct fo_cluster *o = &old[j];
		struct fo_cluster *c = by_name(fo->clusters, fo->n_clusters, o->cfg->name);
		for (size_t k = 0; c && c->vips_on && k < c->cfg->n_vips; k++)
			for (size_t m = 0; m < o->cfg->n_vips; m++)
				if (dd_vip_same(&o->cfg->vips[m], &c->cfg->vips[k])) {
					c->held[k] = o->held[m];
					c->burst[k] = o->garp_left && o->burst[m];
				}
		if (c)
			c->garp_left = o->garp_left;
		fo_cluster_timers_stop(o);
	}
	for (size_t i = 0; i < n; i++) {
		if (ch[i].add)
			continue;
		vip_del(fo, ch[i].cluster, ch[i].vip, " by reload", false);
	}
	bool *added = xcalloc(fo->n_clusters ? fo->n_clusters : 1, sizeof *added);
	for (size_t i = 0; i < n; i++) {
		if (!ch[i].add)
			continue;
		struct fo_cluster *c = by_name(fo->clusters, fo->n_clusters, ch[i].cluster->name);
		size_t k = vip_index(c->cfg, ch[i].vip);
		if (vip_add(c, k, " by reload", false) == 0) {
			c->burst[k] = true;
			added[c - fo->clusters] = true;
		}
	}
	free(ch);
	for (size_t i = 0; i < fo->n_clusters; i++) {
		struct fo_cluster *c = &fo->clusters[i];
		if (!c->vips_on)
			continue;
		/* A new VIP gets the whole burst; one under way goes on. */
		if (added[i] || c->garp_left)
			burst(c, added[i] ? c->cfg->garp.count : c->garp_left);
		refresh_start(c);
		if (fo_vips_missing(c) && !ev_is_active(&c->retry))
			ev_timer_again(fo->loop, &c->retry);
	}
	free(added);
	for (size_t j = 0; j < n_old; j++)
		if (!by_name(fo->clusters, fo->n_clusters, old[j].cfg->name))
			log_notice(SUB, "cluster %s removed by reload%s", old[j].cfg->name,
				   old[j].vips_on ? "; its VIPs were released" : "");
}
