/* SPDX-License-Identifier: GPL-2.0-or-later */
/* directord/status.c: fills the status model (status.h) from the running
 * parts, one pass per part, on the daemon's main libev loop.
 *
 * The config gives the shape (clusters, services, real servers); each part
 * then adds what it knows in a single walk over its own data: the failover
 * snapshot, the forwarding plane's services in config order (so its real
 * servers line up by index), the health checker's subscribers (joined to
 * the model by a hash of service, address and port), and one dump of the
 * kernel's counters (joined by binary search in the sorted table). The
 * costs are thus linear in the number of real servers; a search per
 * server is what made a scrape of 10,000 servers take a quarter second.
 */
#include "config.h"
#include "directord/status.h"
#include "directord/ecmp.h"
#include "directord/ctl.h"
#include "directord/desired.h"
#include "directord/fwd.h"
#include "heartbeat/failover.h"
#include "health/health.h"
#include "lib/hash.h"
#include "lib/log.h"
#include "lib/util.h"
#include "snmp/snmp.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

void dd_config_count(const struct dd_config *cfg, size_t *services, size_t *real_servers)
{
	*services = *real_servers = 0;
	for (size_t i = 0; i < cfg->n_clusters; i++) {
		*services += cfg->clusters[i].n_services;
		for (size_t s = 0; s < cfg->clusters[i].n_services; s++)
			*real_servers += cfg->clusters[i].services[s].n_rs;
	}
}

void dd_status_init(struct dd_status *st, const struct dd_config *cfg, const struct dd_cluster *only)
{
	memset(st, 0, sizeof *st);
	st->node = cfg->node_name;
	st->n_clusters_cfg = cfg->n_clusters;
	dd_config_count(cfg, &st->n_services_cfg, &st->n_rs_cfg);
	size_t n_cl = 0, n_svc = 0, n_rs = 0;
	for (size_t i = 0; i < cfg->n_clusters; i++) {
		const struct dd_cluster *cl = &cfg->clusters[i];
		if (only && only != cl)
			continue;
		n_cl++;
		n_svc += cl->n_services;
		for (size_t s = 0; s < cl->n_services; s++)
			n_rs += cl->services[s].n_rs;
	}
	st->clusters = xcalloc(n_cl ? n_cl : 1, sizeof *st->clusters);
	st->svc_store = xcalloc(n_svc ? n_svc : 1, sizeof *st->svc_store);
	st->rs_store = xcalloc(n_rs ? n_rs : 1, sizeof *st->rs_store);
	struct dd_st_service *sv = st->svc_store;
	struct dd_st_rs *rs = st->rs_store;
	for (size_t i = 0; i < cfg->n_clusters; i++) {
		const struct dd_cluster *cl = &cfg->clusters[i];
		if (only && only != cl)
			continue;
		struct dd_st_cluster *c = &st->clusters[st->n_clusters++];
		c->cfg = cl;
		c->services = sv;
		c->n_services = cl->n_services;
		for (size_t s = 0; s < cl->n_services; s++, sv++) {
			sv->cfg = &cl->services[s];
			sv->rs = rs;
			sv->n_rs = sv->cfg->n_rs;
			for (size_t r = 0; r < sv->n_rs; r++, rs++)
				rs->cfg = &sv->cfg->rs[r];
		}
	}
}

/* Copies live in chunks that never move, so a pointer handed out stays
 * good; most reasons are a few bytes and many are the same as the last. */
struct dd_st_strings {
	struct dd_st_strings *next;
	size_t used, cap;
	const char *last;
	char data[];
};
#define DD_ST_CHUNK 65536

const char *dd_status_keep(struct dd_status *st, const char *s)
{
	if (!s)
		return NULL;
	struct dd_st_strings *c = st->strings;
	if (c && c->last && strcmp(c->last, s) == 0)
		return c->last;
	size_t n = strlen(s) + 1;
	if (!c || c->cap - c->used < n) {
		size_t cap = n > DD_ST_CHUNK ? n : DD_ST_CHUNK;
		struct dd_st_strings *nc = xmalloc(sizeof *nc + cap);
		nc->next = c;
		nc->used = 0;
		nc->cap = cap;
		nc->last = NULL;
		st->strings = c = nc;
	}
	char *p = memcpy(c->data + c->used, s, n);
	c->used += n;
	c->last = p;
	return p;
}

void dd_status_free(struct dd_status *st)
{
	free(st->clusters);
	free(st->svc_store);
	free(st->rs_store);
	free(st->track);
	if (st->roles_store)
		for (size_t i = 0; i < st->n_roles; i++)
			free((char *)st->roles_store[i].cluster);
	free(st->roles_store);
	for (struct dd_st_strings *c = st->strings, *n; c; c = n) {
		n = c->next;
		free(c);
	}
	memset(st, 0, sizeof *st);
}

/* ---- failover ------------------------------------------------------------ */

static void fill_failover(struct dd_status *st, struct dd_failover *fo)
{
	struct dd_failover_status *f = xmalloc(sizeof *f); /* ~20 KB: not on the stack */
	if (dd_failover_status(fo, f) != 0) {
		free(f);
		return;
	}
	st->have_failover = true;
	memcpy(st->ecmp.device, f->ecmp_device, sizeof st->ecmp.device);
	struct dd_st_peer *p = &st->peer;
	snprintf(p->name, sizeof p->name, "%s", f->peer);
	p->alive = f->peer_alive;
	p->last_heartbeat_age_ms = f->last_heartbeat_age_ms;
	p->generation = f->generation;
	p->peer_generation = f->peer_generation;
	p->interval_ms = f->interval_ms;
	p->dead_ms = f->dead_ms;
	p->rx = f->rx;
	p->tx = f->tx;
	p->malformed = f->drops.malformed;
	p->bad_version = f->drops.bad_version;
	p->bad_auth = f->drops.bad_auth;
	p->replayed = f->drops.replayed;
	p->unknown_sender = f->drops.unknown_sender;
	p->unproven = f->drops.unproven;
	p->problem = f->peer_problem;
	memcpy(p->problem_text, f->peer_problem_text, sizeof p->problem_text);
	p->problem_text[sizeof p->problem_text - 1] = '\0';
	p->n_links = f->n_links < DD_ST_MAX_LINKS ? f->n_links : DD_ST_MAX_LINKS;
	for (size_t i = 0; i < p->n_links; i++) {
		const struct dd_failover_link_status *l = &f->links[i];
		struct dd_st_link *m = &p->links[i];
		memcpy(m->local, l->local, sizeof m->local);
		memcpy(m->remote, l->remote, sizeof m->remote);
		memcpy(m->ifname, l->ifname, sizeof m->ifname);
		m->up = l->up;
		m->last_rx_age_ms = l->last_rx_age_ms;
		m->rx = l->rx;
		m->tx = l->tx;
		m->tx_errors = l->tx_errors;
	}
	/* a handful of clusters: a search per cluster is fine */
	for (size_t c = 0; c < st->n_clusters; c++) {
		struct dd_st_cluster *m = &st->clusters[c];
		for (size_t i = 0; i < f->n_clusters; i++) {
			const struct dd_failover_cluster_status *fc = &f->clusters[i];
			if (strcmp(fc->name, m->cfg->name) != 0)
				continue;
			m->have_role = true;
			m->role = fc->role;
			m->in_role_ms = fc->in_role_ms;
			m->peer_known = fc->peer_known;
			m->peer_role = fc->peer_role;
			m->peer_priority = fc->peer_priority;
			m->vips_up = fc->vips_up;
			m->vips_missing = fc->vips_missing;
			m->ecmp_announced = fc->ecmp_announced;
			m->ecmp_why = fc->ecmp_why;
			memcpy(m->ecmp_service, fc->ecmp_service, sizeof m->ecmp_service);
			m->priority = fc->priority;
			m->why = fc->why;
			break;
		}
	}
	free(f);
}

/* ---- forwarding plane ------------------------------------------------------ */

/* The model's entry for a service of the running config: found by where
 * it sits in its cluster's array, so no name is compared (the forwarding
 * plane walks the same config). NULL: not shown, or another config. */
static struct dd_st_service *model_service(struct dd_status *st, const struct dd_service *s)
{
	uintptr_t p = (uintptr_t)s;
	for (size_t c = 0; c < st->n_clusters; c++) {
		struct dd_st_cluster *m = &st->clusters[c];
		uintptr_t lo = (uintptr_t)m->cfg->services;
		if (m->n_services && p >= lo && p < lo + m->n_services * sizeof *s)
			return &m->services[(p - lo) / sizeof *s];
	}
	return NULL;
}

static void fwd_service(void *arg, const struct dd_service *s, const struct ipvs_service *kernel,
			bool sorry, const struct dd_fwd_rs_view *rs)
{
	struct dd_st_service *m = model_service(arg, s);
	if (!m)
		return;
	m->sorry_known = true;
	m->sorry_serving = sorry;
	if (kernel) {
		m->in_kernel = true;
		snprintf(m->sched, sizeof m->sched, "%s", kernel->sched);
	}
	for (size_t r = 0; r < m->n_rs; r++) {
		struct dd_st_rs *x = &m->rs[r];
		x->have_admin = true;
		x->drained = rs[r].admin_drain;
		if (rs[r].kernel) {
			x->kernel.present = true;
			x->kernel.weight = rs[r].kernel->weight;
			x->kernel.fwd = rs[r].kernel->fwd;
		}
	}
}

/* Kernel counters, joined to the model's entries by key. */
static void fill_counters(struct dd_status *st, struct dd_fwdplane *fwd)
{
	struct ipvs_table t;
	char *err = NULL;
	if (dd_fwd_counters(fwd, &t, &err) != 0) {
		log_warn("ctl", "status without IPVS counters: %s", err ? err : "?");
		free(err);
		return;
	}
	st->have_counters = true;
	for (size_t c = 0; c < st->n_clusters; c++)
		for (size_t s = 0; s < st->clusters[c].n_services; s++) {
			struct dd_st_service *m = &st->clusters[c].services[s];
			if (!m->in_kernel)
				continue;
			struct ipvs_service key;
			ds_service_from_config(m->cfg, &key);
			const struct ipvs_service *ks = ipvs_table_find(&t, &key.key);
			if (!ks)
				continue;
			m->have_counters = true;
			m->stats = ks->stats;
			for (size_t r = 0; r < m->n_rs; r++) {
				struct dd_st_kernel_rs *k = &m->rs[r].kernel;
				const struct ipvs_dest *d = k->present ?
					ipvs_service_find_dest(ks, &m->rs[r].cfg->addr, m->rs[r].cfg->port) : NULL;
				if (!d)
					continue;
				k->have_counters = true;
				k->active_conns = d->active_conns;
				k->inact_conns = d->inact_conns;
				k->persist_conns = d->persist_conns;
				k->stats = d->stats;
			}
		}
	ipvs_table_free(&t);
}

static void fill_fwd(struct dd_status *st, struct dd_fwdplane *fwd)
{
	st->have_fwd = true;
	dd_fwd_foreach_service(fwd, fwd_service, st);
	fill_counters(st, fwd);
	struct dd_fwd_stats fs;
	dd_fwd_get_stats(fwd, &fs);
	st->fwd = (struct dd_st_fwd_stats){ fs.passes, fs.ops, fs.ops_failed, fs.n_draining };
}

/* ---- health ------------------------------------------------------------- */

struct health_walk {
	struct dd_index ix;     /* dd_hash_rs(service, addr, port) -> struct dd_st_rs */
	const struct dd_st_service **svc_of; /* parallel to rs_store */
	const struct dd_st_rs *base;
	struct dd_status *st;
};

static void health_rs(void *arg, const struct dd_health_rs_status *hs)
{
	struct health_walk *w = arg;
	size_t pos = 0;
	for (struct dd_st_rs *x; (x = dd_index_next(&w->ix, dd_hash_rs(hs->service, &hs->addr, hs->port), &pos));) {
		if (x->cfg->port != hs->port || !dd_addr_eq(&x->cfg->addr, &hs->addr) ||
		    strcmp(w->svc_of[x - w->base]->cfg->name, hs->service) != 0)
			continue;
		x->health = (struct dd_st_health){
			.known = true, .up = hs->up, .reason = dd_status_keep(w->st, hs->reason),
			.in_state_s = hs->in_state_s,
			.checks = hs->n_checks, .ok = hs->n_ok, .failed = hs->n_failed,
			.transitions = hs->n_transitions,
		};
		return;
	}
}

static void fill_health(struct dd_status *st, struct dd_health *h)
{
	st->have_health = true;
	size_t n = 0;
	for (size_t c = 0; c < st->n_clusters; c++)
		for (size_t s = 0; s < st->clusters[c].n_services; s++)
			n += st->clusters[c].services[s].n_rs;
	struct health_walk w = { .base = st->rs_store, .st = st };
	dd_index_init(&w.ix, n);
	w.svc_of = xcalloc(n ? n : 1, sizeof *w.svc_of);
	for (size_t c = 0; c < st->n_clusters; c++)
		for (size_t s = 0; s < st->clusters[c].n_services; s++) {
			const struct dd_st_service *m = &st->clusters[c].services[s];
			for (size_t r = 0; r < m->n_rs; r++) {
				w.svc_of[&m->rs[r] - st->rs_store] = m;
				if (m->rs[r].cfg->check.type != DD_CHECK_NONE)
					dd_index_put(&w.ix, dd_hash_rs(m->cfg->name, &m->rs[r].cfg->addr,
								      m->rs[r].cfg->port), &m->rs[r]);
			}
		}
	dd_health_foreach(h, health_rs, &w);
	dd_index_free(&w.ix);
	free(w.svc_of);
	struct dd_health_stats hs;
	dd_health_get_stats(h, &hs);
	st->health = (struct dd_st_health_stats){
		.n_probes = hs.n_probes, .n_subscribers = hs.n_subscribers, .in_flight = hs.in_flight,
		.started = hs.started, .skipped = hs.skipped, .slip_p50_ms = hs.slip_p50_ms,
		.slip_p99_ms = hs.slip_p99_ms, .slip_max_ms = hs.slip_max_ms,
	};
}

/* ---- ECMP mode ------------------------------------------------------------- */

static void fill_ecmp(struct dd_status *st, const struct dd_ecmpctl *e)
{
	struct dd_ecmp_view v;
	dd_ecmp_view(e, &v);
	st->ecmp.present = v.present;
	st->ecmp.drain = dd_ecmp_drain_name(v.drain);
	st->ecmp.drain_ms = v.drain_ms;
	st->ecmp.conns = v.conns;
	st->ecmp.stopping = v.stopping;
}

void dd_status_fill(struct dd_status *st, const struct dd_status_src *src, const struct dd_cluster *only)
{
	dd_status_init(st, src->cfg, only);
	st->conf_path = src->conf_path;
	st->pid = (long)getpid();
	st->uptime_ms = (uint64_t)((mono_now() - src->started) * 1000);
	st->reloads = src->reloads;
	st->reload_failures = src->reload_failures;
	if (src->n_roles) {
		st->roles_store = xcalloc(src->n_roles, sizeof *st->roles_store);
		for (size_t i = 0; i < src->n_roles; i++) {
			st->roles_store[i] = src->roles[i];
			st->roles_store[i].cluster = xstrdup(src->roles[i].cluster);
		}
		st->roles = st->roles_store;
		st->n_roles = src->n_roles;
	}
	if (src->fo)
		fill_failover(st, src->fo);
	if (src->fwd)
		fill_fwd(st, src->fwd);
	if (src->health)
		fill_health(st, src->health);
#ifdef DD_HAVE_SNMP
	st->snmp.built = true;
#endif
	if (src->snmp) {
		struct dd_snmp_state ss;
		dd_snmp_get_state(src->snmp, &ss);
		st->snmp.enabled = ss.enabled;
		st->snmp.connected = ss.connected;
		memcpy(st->snmp.socket, ss.socket, sizeof st->snmp.socket);
		st->snmp.requests = ss.requests;
		st->snmp.traps = ss.traps;
		st->snmp.reconnects = ss.reconnects;
	}
	fill_ecmp(st, src->ecmp);
	if (src->track && dd_track_count(src->track)) {
		st->track = xcalloc(dd_track_count(src->track), sizeof *st->track);
		st->n_track = dd_track_status(src->track, st->track, dd_track_count(src->track));
	}
	if (src->ctl) {
		struct dd_ctl_stats cs;
		dd_ctl_get_stats(src->ctl, &cs);
		st->have_ctl = true;
		st->ctl = (struct dd_st_ctl_stats){ cs.requests, cs.denied, cs.malformed, cs.too_long, cs.busy };
	}
}
