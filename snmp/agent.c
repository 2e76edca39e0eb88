/* SPDX-License-Identifier: GPL-2.0-or-later */
/* snmp/agent.c: the AgentX subagent of DIRECTORD-MIB (doc/DIRECTORD-MIB.txt).
 *
 * DOC: threads
 *
 * net-snmp's AgentX subagent is synchronous where it talks to the master:
 * opening the session, each registration and each ping wait for the
 * answer with the library's default timeout and retries (seconds). An
 * snmpd that is stopped, swapping or wedged would thus hold whatever loop
 * runs the subagent for seconds at a time. So it gets its own thread with
 * its own libev loop, and the daemon's main loop only hands it values:
 *
 * Main thread (the daemon's default loop):
 *   dd_snmp_new/_free/_reconfigure   start and stop the thread
 *   dd_snmp_role_changed ...         queue a notification (values, with
 *                                    the MIB indexes already worked out)
 *   on_want_snap (ev_async)          fills the status model, copies what
 *                                    the MIB shows into a struct snap,
 *                                    releases the model, hands the copy over
 *   on_peer_tick (1 s)               dd_failover_status(): a peer that
 *                                    starts failing authentication queues
 *                                    ddPeerAuthFailure
 * SNMP thread (s->loop; owns every net-snmp call and its state):
 *   net-snmp's sockets and timeouts on ev_io/ev_timer, re-read from
 *   snmp_select_info2() before each wait (ev_prepare)
 *   handler()       GET/GETNEXT from the latest snap; a snap older than
 *                   SNAP_MAX_AGE_MS is renewed first (asks main, waits at
 *                   most SNAP_WAIT_MS, else answers from the old one), so a
 *                   walk of 10,000 real servers costs main one model, not
 *                   one per variable
 *   on_events       sends the queued notifications
 *   reconnection    net-snmp's AgentX ping (1 s): a master that went away
 *                   is re-opened every second until it answers again
 *
 * What crosses: struct snap (owned by whoever holds the pointer; swapped
 * under s->mu), struct sn_event values in a bounded ring under s->mu, and
 * the counters of struct dd_snmp_state (under s->mu).
 *
 * net-snmp keeps its state in process globals; it is initialised once per
 * process (a restart of the subagent after a reload that turns it off and
 * on again reuses it), and only this thread ever touches it.
 */
#include "config.h"

#include <net-snmp/net-snmp-config.h>
#include <net-snmp/net-snmp-includes.h>
#include <net-snmp/agent/net-snmp-agent-includes.h>
#include <net-snmp/agent/agent_callbacks.h>
#include <net-snmp/library/large_fd_set.h>

#include "snmp/snmp.h"
#include "directord/status.h"
#include "heartbeat/failover.h"
#include "heartbeat/fsm.h"
#include "lib/log.h"
#include "lib/util.h"

#include <errno.h>
#include <ev.h>
#include <inttypes.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define SUB "snmp"
#define SNAP_MAX_AGE_MS 1000
#define SNAP_WAIT_MS 250
#define PING_INTERVAL_S 1
#define QUEUE_MAX 1024
#define MAX_FDS 16
#define MAX_WAIT_S 0.5          /* the SNMP thread runs net-snmp's alarms at least this often */

/* ---- the copy the MIB is answered from ------------------------------------ */

struct sn_link {
	char local[DD_ADDR_STRLEN], remote[DD_ADDR_STRLEN], ifname[16];
	bool up;
	int64_t last_rx_ms;
	uint64_t rx, tx, tx_errors;
};

struct sn_cluster {
	char name[DD_NAME_MAX];
	int role;                /* MIB value: enum dd_role + 1 */
	uint32_t priority, peer_priority;
	uint64_t in_role_ms;
	int why;                 /* MIB value: enum dd_fsm_why + 1 */
	char reason[DD_FSM_REASON_MAX];
	int peer_role;           /* 0 unknown, else enum dd_role + 1 */
	bool vips_up;
	uint32_t vips_missing, changes;
};

struct sn_service {
	char name[DD_NAME_MAX];
	uint32_t cluster;        /* ddClusterIndex */
	char proto[8], addr[DD_ADDR_STRLEN + 16], sched[16];
	bool in_kernel;
	uint32_t total, up, quorum;
	int qstate;              /* 1 unknown, 2 met, 3 lost */
	uint64_t conns, inpkts, outpkts, inbytes, outbytes;
	size_t rs0, n_rs;        /* its real servers in snap.rs */
};

struct sn_rs {
	char addr[DD_ADDR_STRLEN];
	uint32_t port;
	int state;               /* 1 up, 2 down, 3 unknown, 4 drained */
	uint32_t weight, cfg_weight, active, inact, persist;
	uint64_t conns, checks, failed;
	char reason[96];
};

struct snap {
	uint64_t taken_ms;
	char node[DD_NAME_MAX];
	uint64_t uptime_ms;
	uint32_t reloads, reload_failures, n_clusters_cfg, n_services_cfg, n_rs_cfg;
	/* peer */
	char peer[DD_NAME_MAX];
	bool peer_alive;
	int64_t peer_last_ms;
	uint32_t interval_ms, dead_ms;
	int problem;             /* MIB value: enum dd_peer_problem + 1 */
	char problem_text[200];
	uint64_t rx, tx, bad_auth, bad_version, malformed, replayed, unknown_sender;
	size_t n_links;
	struct sn_link links[DD_ST_MAX_LINKS];
	char version[16];
	/* counters; the subagent's own are filled in by its thread */
	uint64_t ctl_requests, fwd_passes, fwd_ops, fwd_ops_failed, checks_started;
	uint64_t snmp_requests, snmp_traps;
	uint32_t snmp_reconnects;
	struct sn_cluster *clusters;
	size_t n_clusters;
	struct sn_service *services;
	size_t n_services;
	struct sn_rs *rs;
	size_t n_rs;
};

static void snap_free(struct snap *p)
{
	if (!p)
		return;
	free(p->clusters);
	free(p->services);
	free(p->rs);
	free(p);
}

/* ---- notifications, as values -------------------------------------------- */

enum sn_kind { EV_ROLE, EV_RS, EV_QUORUM, EV_AUTH };

struct sn_event {
	enum sn_kind kind;
	char node[DD_NAME_MAX];  /* this director, as the config said when it happened */
	uint32_t ix, ix2;        /* cluster or service index; rs index */
	char name[DD_NAME_MAX];  /* cluster, service or peer */
	int role, old_role, why; /* MIB values */
	uint32_t priority;
	char text[DD_FSM_REASON_MAX]; /* reason, peer problem */
	char addr[DD_ADDR_STRLEN];
	uint32_t port;
	bool up;                 /* EV_RS: up; EV_QUORUM: regained */
	uint32_t n_up, n_total, quorum;
	uint64_t count;          /* EV_AUTH: bad_auth drops */
};

struct dd_snmp {
	struct ev_loop *main_loop;
	const struct dd_config *cfg;  /* main thread only */
	struct dd_snmp_src src;
	bool traps;
	char node[DD_NAME_MAX];       /* main thread only */
	char socket[108];             /* set before the thread starts */
	/* main side */
	ev_async want_snap;           /* thread -> main: a fresh snap, please */
	ev_timer peer_tick;
	enum dd_peer_problem last_problem;
	char reasons[DD_MAX_CLUSTERS][DD_FSM_REASON_MAX]; /* last role change's words, by cluster index */
	/* thread side */
	pthread_t thread;
	bool thread_started;
	struct ev_loop *loop;
	ev_async wake;                /* main -> thread: events queued, or stop */
	ev_prepare prep;
	ev_timer tmo;
	ev_io io[MAX_FDS];
	int n_io;
	struct snap *snap;            /* thread's current copy */
	/* shared, under mu */
	pthread_mutex_t mu;
	pthread_cond_t cv;
	bool stop;
	bool snap_wanted;
	bool snap_stale;              /* an event came since the copy was taken */
	struct snap *fresh;           /* handed over by main */
	struct sn_event *q;
	size_t q_head, q_n;
	uint64_t q_dropped;
	struct dd_snmp_state st;
	bool ever_connected;
};

/* ---- main side: the copy ---------------------------------------------------- */

static int role_val(enum dd_role r)
{
	return (int)r + 1;
}

static void copy_str(char *dst, size_t n, const char *src)
{
	snprintf(dst, n, "%s", src ? src : "");
}

static struct snap *snap_build(struct dd_snmp *s)
{
	uint64_t t0 = mono_us();
	struct dd_status st;
	s->src.snapshot(s->src.ctx, &st);
	struct snap *p = xcalloc(1, sizeof *p);
	p->taken_ms = mono_ms();
	copy_str(p->node, sizeof p->node, st.node);
	copy_str(p->version, sizeof p->version, PACKAGE_VERSION);
	p->uptime_ms = st.uptime_ms;
	p->reloads = st.reloads;
	p->reload_failures = st.reload_failures;
	p->n_clusters_cfg = (uint32_t)st.n_clusters_cfg;
	p->n_services_cfg = (uint32_t)st.n_services_cfg;
	p->n_rs_cfg = (uint32_t)st.n_rs_cfg;
	const struct dd_st_peer *pe = &st.peer;
	p->problem = 1;
	p->peer_last_ms = -1;
	if (st.have_failover) {
		copy_str(p->peer, sizeof p->peer, pe->name);
		p->peer_alive = pe->alive;
		p->peer_last_ms = pe->last_heartbeat_age_ms;
		p->interval_ms = pe->interval_ms;
		p->dead_ms = pe->dead_ms;
		p->problem = (int)pe->problem + 1;
		copy_str(p->problem_text, sizeof p->problem_text, pe->problem_text);
		p->rx = pe->rx;
		p->tx = pe->tx;
		p->bad_auth = pe->bad_auth;
		p->bad_version = pe->bad_version;
		p->malformed = pe->malformed;
		p->replayed = pe->replayed;
		p->unknown_sender = pe->unknown_sender;
		p->n_links = pe->n_links;
		for (size_t i = 0; i < pe->n_links; i++) {
			const struct dd_st_link *l = &pe->links[i];
			struct sn_link *m = &p->links[i];
			copy_str(m->local, sizeof m->local, l->local);
			copy_str(m->remote, sizeof m->remote, l->remote);
			copy_str(m->ifname, sizeof m->ifname, l->ifname);
			m->up = l->up;
			m->last_rx_ms = l->last_rx_age_ms;
			m->rx = l->rx;
			m->tx = l->tx;
			m->tx_errors = l->tx_errors;
		}
	}
	if (st.have_ctl)
		p->ctl_requests = st.ctl.requests;
	if (st.have_fwd) {
		p->fwd_passes = st.fwd.passes;
		p->fwd_ops = st.fwd.ops;
		p->fwd_ops_failed = st.fwd.ops_failed;
	}
	if (st.have_health)
		p->checks_started = st.health.started;

	size_t n_svc = 0, n_rs = 0;
	for (size_t c = 0; c < st.n_clusters; c++) {
		n_svc += st.clusters[c].n_services;
		for (size_t v = 0; v < st.clusters[c].n_services; v++)
			n_rs += st.clusters[c].services[v].n_rs;
	}
	p->clusters = xcalloc(st.n_clusters ? st.n_clusters : 1, sizeof *p->clusters);
	p->services = xcalloc(n_svc ? n_svc : 1, sizeof *p->services);
	p->rs = xcalloc(n_rs ? n_rs : 1, sizeof *p->rs);
	for (size_t c = 0; c < st.n_clusters; c++) {
		const struct dd_st_cluster *m = &st.clusters[c];
		struct sn_cluster *k = &p->clusters[p->n_clusters++];
		copy_str(k->name, sizeof k->name, m->cfg->name);
		k->role = m->have_role ? role_val(m->role) : role_val(DD_ROLE_INIT);
		k->priority = m->have_role ? m->priority : m->cfg->priority;
		k->in_role_ms = m->in_role_ms;
		k->why = m->have_role ? (int)m->why + 1 : 1;
		if (c < DD_MAX_CLUSTERS)
			copy_str(k->reason, sizeof k->reason, s->reasons[c]);
		k->peer_role = m->peer_known ? role_val(m->peer_role) : 0;
		k->peer_priority = m->peer_known ? m->peer_priority : 0;
		k->vips_up = m->vips_up;
		k->vips_missing = (uint32_t)m->vips_missing;
		for (size_t r = 0; r < st.n_roles; r++)
			if (strcmp(st.roles[r].cluster, m->cfg->name) == 0)
				k->changes = (uint32_t)st.roles[r].changes;
		for (size_t v = 0; v < m->n_services; v++) {
			const struct dd_st_service *sv = &m->services[v];
			const struct dd_service *sc = sv->cfg;
			struct sn_service *o = &p->services[p->n_services++];
			copy_str(o->name, sizeof o->name, sc->name);
			o->cluster = (uint32_t)c + 1;
			char a[DD_ADDR_STRLEN + 8];
			if (sc->fwmark) {
				copy_str(o->proto, sizeof o->proto, "fwmark");
				snprintf(o->addr, sizeof o->addr, "fwmark %" PRIu32, sc->fwmark);
			} else {
				copy_str(o->proto, sizeof o->proto, dd_proto_name(sc->proto));
				copy_str(o->addr, sizeof o->addr, dd_addr_port_str(&sc->vip, sc->port, a, sizeof a));
			}
			copy_str(o->sched, sizeof o->sched, sv->in_kernel ? sv->sched : sc->scheduler);
			o->in_kernel = sv->in_kernel;
			o->total = (uint32_t)sv->n_rs;
			o->quorum = sc->quorum;
			o->qstate = !sv->sorry_known ? 1 : sv->sorry_serving ? 3 : 2;
			if (sv->have_counters) {
				o->conns = sv->stats.conns;
				o->inpkts = sv->stats.inpkts;
				o->outpkts = sv->stats.outpkts;
				o->inbytes = sv->stats.inbytes;
				o->outbytes = sv->stats.outbytes;
			}
			o->rs0 = p->n_rs;
			o->n_rs = sv->n_rs;
			for (size_t r = 0; r < sv->n_rs; r++) {
				const struct dd_st_rs *x = &sv->rs[r];
				struct sn_rs *y = &p->rs[p->n_rs++];
				dd_addr_str(&x->cfg->addr, y->addr, sizeof y->addr);
				y->port = x->cfg->port;
				if (x->drained)
					y->state = 4;
				else if (x->cfg->check.type == DD_CHECK_NONE)
					y->state = 1;
				else if (x->health.known)
					y->state = x->health.up ? 1 : 2;
				else
					y->state = 3;
				if (y->state == 1)
					o->up++;
				y->cfg_weight = x->cfg->weight;
				y->weight = x->kernel.present ? x->kernel.weight : 0;
				if (x->kernel.have_counters) {
					y->active = x->kernel.active_conns;
					y->inact = x->kernel.inact_conns;
					y->persist = x->kernel.persist_conns;
					y->conns = x->kernel.stats.conns;
				}
				if (x->health.known) {
					copy_str(y->reason, sizeof y->reason, x->health.reason);
					y->checks = x->health.checks;
					y->failed = x->health.failed;
				}
			}
		}
	}
	s->src.release(s->src.ctx, &st);
	uint64_t us = mono_us() - t0;
	pthread_mutex_lock(&s->mu);
	s->st.copy_us_total += us;
	if (us > s->st.copy_us_max)
		s->st.copy_us_max = us;
	pthread_mutex_unlock(&s->mu);
	log_debug(SUB, "status copy for the subagent: %zu real servers in %" PRIu64 " us", p->n_rs, us);
	return p;
}

static void on_want_snap(struct ev_loop *loop, ev_async *w, int revents)
{
	struct dd_snmp *s = w->data;
	pthread_mutex_lock(&s->mu);
	bool want = s->snap_wanted;
	pthread_mutex_unlock(&s->mu);
	if (!want)
		return;
	struct snap *p = snap_build(s);
	pthread_mutex_lock(&s->mu);
	snap_free(s->fresh);
	s->fresh = p;
	s->snap_wanted = false;
	s->st.snapshots++;
	pthread_cond_broadcast(&s->cv);
	pthread_mutex_unlock(&s->mu);
}

/* ---- main side: events ------------------------------------------------------ */

/* Every event also makes the copy stale: a walk right after a role change
 * must not show the old role for up to SNAP_MAX_AGE_MS. */
static void queue_event(struct dd_snmp *s, const struct sn_event *ev)
{
	struct sn_event e = *ev;
	copy_str(e.node, sizeof e.node, s->node);
	pthread_mutex_lock(&s->mu);
	s->snap_stale = true;
	if (!s->traps) {
		pthread_mutex_unlock(&s->mu);
		return;
	}
	if (s->q_n == QUEUE_MAX) {
		s->q_dropped++;
	} else {
		s->q[(s->q_head + s->q_n) % QUEUE_MAX] = e;
		s->q_n++;
	}
	pthread_mutex_unlock(&s->mu);
	ev_async_send(s->loop, &s->wake);
}

static int cluster_index(const struct dd_config *cfg, const char *name)
{
	for (size_t i = 0; i < cfg->n_clusters; i++)
		if (strcmp(cfg->clusters[i].name, name) == 0)
			return (int)i;
	return -1;
}

/* Service index (config order, all clusters) from 1; 0: none. */
static uint32_t service_index(const struct dd_config *cfg, const char *name, const struct dd_service **out)
{
	uint32_t k = 0;
	for (size_t c = 0; c < cfg->n_clusters; c++)
		for (size_t v = 0; v < cfg->clusters[c].n_services; v++) {
			k++;
			if (strcmp(cfg->clusters[c].services[v].name, name) == 0) {
				*out = &cfg->clusters[c].services[v];
				return k;
			}
		}
	return 0;
}

void dd_snmp_role_changed(struct dd_snmp *s, const struct dd_role_change *ev)
{
	if (!s)
		return;
	int c = cluster_index(s->cfg, ev->cluster);
	if (c < 0)
		return;
	if (c < DD_MAX_CLUSTERS)
		copy_str(s->reasons[c], sizeof s->reasons[c], ev->reason);
	struct sn_event e = { .kind = EV_ROLE, .ix = (uint32_t)c + 1, .role = role_val(ev->new_role),
			      .old_role = role_val(ev->old_role), .why = (int)ev->why + 1,
			      .priority = s->cfg->clusters[c].priority };
	copy_str(e.name, sizeof e.name, ev->cluster);
	copy_str(e.text, sizeof e.text, ev->reason);
	queue_event(s, &e);
}

void dd_snmp_rs_changed(struct dd_snmp *s, const char *service, const struct dd_addr *addr, uint16_t port,
			bool up, const char *reason, size_t n_up, size_t n_total)
{
	if (!s)
		return;
	const struct dd_service *sv = NULL;
	uint32_t k = service_index(s->cfg, service, &sv);
	if (!k)
		return;
	uint32_t r = 0;
	for (size_t i = 0; i < sv->n_rs; i++)
		if (sv->rs[i].port == port && dd_addr_eq(&sv->rs[i].addr, addr))
			r = (uint32_t)i + 1;
	if (!r)
		return;
	struct sn_event e = { .kind = EV_RS, .ix = k, .ix2 = r, .port = port, .up = up,
			      .n_up = (uint32_t)n_up, .n_total = (uint32_t)n_total };
	copy_str(e.name, sizeof e.name, service);
	copy_str(e.text, sizeof e.text, reason);
	dd_addr_str(addr, e.addr, sizeof e.addr);
	queue_event(s, &e);
}

void dd_snmp_quorum_changed(struct dd_snmp *s, const char *service, bool lost, size_t n_up, size_t n_total)
{
	if (!s)
		return;
	const struct dd_service *sv = NULL;
	uint32_t k = service_index(s->cfg, service, &sv);
	if (!k)
		return;
	struct sn_event e = { .kind = EV_QUORUM, .ix = k, .up = !lost, .n_up = (uint32_t)n_up,
			      .n_total = (uint32_t)n_total, .quorum = sv->quorum };
	copy_str(e.name, sizeof e.name, service);
	queue_event(s, &e);
}

/* The peer's problem is a state the heartbeat thread keeps; its rising
 * edge to badAuth is the notification. */
static void on_peer_tick(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct dd_snmp *s = w->data;
	struct dd_failover *fo = s->src.fo ? *s->src.fo : NULL;
	if (!fo)
		return;
	struct dd_failover_status *f = xmalloc(sizeof *f);
	if (dd_failover_status(fo, f) == 0) {
		if (f->peer_problem == DD_PEER_BAD_AUTH && s->last_problem != DD_PEER_BAD_AUTH) {
			struct sn_event e = { .kind = EV_AUTH, .count = f->drops.bad_auth };
			copy_str(e.name, sizeof e.name, f->peer);
			copy_str(e.text, sizeof e.text, f->peer_problem_text);
			queue_event(s, &e);
		}
		s->last_problem = f->peer_problem;
	}
	free(f);
}

/* ---- SNMP thread: the OID tree ---------------------------------------------- */

/* directordMIB: netSnmpPlaypen.4 (see the MIB's DESCRIPTION). */
static const oid mib_root[] = { 1, 3, 6, 1, 4, 1, 8072, 9999, 9999, 4 };
#define ROOT_LEN OID_LENGTH(mib_root)
static const oid trap_oid_oid[] = { 1, 3, 6, 1, 6, 3, 1, 1, 4, 1, 0 };

/* Under ddObjects (root.1): groups. */
enum { G_DIRECTOR = 1, G_PEER = 2, G_LINK = 3, G_CLUSTER = 4, G_SERVICE = 5, G_RS = 6, G_COUNTERS = 7 };

struct val {
	u_char type;
	long l;
	struct counter64 c64;
	const char *str;
};

static void v_int(struct val *v, long x) { v->type = ASN_INTEGER; v->l = x; }
static void v_uns(struct val *v, uint64_t x) { v->type = ASN_UNSIGNED; v->l = (long)(x > 0xffffffffu ? 0xffffffffu : x); }
static void v_gauge(struct val *v, uint64_t x) { v_uns(v, x); v->type = ASN_GAUGE; }
static void v_c32(struct val *v, uint64_t x) { v->type = ASN_COUNTER; v->l = (long)(x & 0xffffffffu); }
static void v_ticks(struct val *v, uint64_t ms) { v->type = ASN_TIMETICKS; v->l = (long)((ms / 10) & 0xffffffffu); }
static void v_bool(struct val *v, bool b) { v_int(v, b ? 1 : 2); }
static void v_str(struct val *v, const char *s) { v->type = ASN_OCTET_STR; v->str = s; }
static void v_c64(struct val *v, uint64_t x)
{
	v->type = ASN_COUNTER64;
	v->c64.high = (u_long)(x >> 32);
	v->c64.low = (u_long)(x & 0xffffffffu);
}

/* The MIB's columns (and scalars) as fields of the copy: which C type a
 * field has and which SMI type it is shown as. */
enum kind { K_STR, K_INT, K_MS, K_U32, K_G32, K_C32, K_TICKS, K_BOOL, K_C64 };
struct col {
	oid c;
	enum kind kind;
	size_t off;
};
#define COL(c, k, type, field) { c, k, offsetof(type, field) }
#define N_ELEM(a) (sizeof(a) / sizeof((a)[0]))

static const struct col director_cols[] = {
	COL(1, K_STR, struct snap, node), COL(2, K_STR, struct snap, version),
	COL(3, K_TICKS, struct snap, uptime_ms), COL(4, K_C32, struct snap, reloads),
	COL(5, K_C32, struct snap, reload_failures), COL(6, K_G32, struct snap, n_clusters_cfg),
	COL(7, K_G32, struct snap, n_services_cfg), COL(8, K_G32, struct snap, n_rs_cfg),
};
static const struct col peer_cols[] = {
	COL(1, K_STR, struct snap, peer), COL(2, K_BOOL, struct snap, peer_alive),
	COL(3, K_MS, struct snap, peer_last_ms), COL(4, K_U32, struct snap, interval_ms),
	COL(5, K_U32, struct snap, dead_ms), COL(6, K_INT, struct snap, problem),
	COL(7, K_STR, struct snap, problem_text), COL(8, K_C64, struct snap, rx),
	COL(9, K_C64, struct snap, tx), COL(10, K_C64, struct snap, bad_auth),
	COL(11, K_C64, struct snap, bad_version), COL(12, K_C64, struct snap, malformed),
	COL(13, K_C64, struct snap, replayed), COL(14, K_C64, struct snap, unknown_sender),
};
static const struct col counter_cols[] = {
	COL(1, K_C64, struct snap, ctl_requests), COL(2, K_C64, struct snap, fwd_passes),
	COL(3, K_C64, struct snap, fwd_ops), COL(4, K_C64, struct snap, fwd_ops_failed),
	COL(5, K_C64, struct snap, checks_started), COL(6, K_C64, struct snap, snmp_requests),
	COL(7, K_C64, struct snap, snmp_traps), COL(8, K_C32, struct snap, snmp_reconnects),
};
static const struct col link_cols[] = {
	COL(2, K_STR, struct sn_link, local), COL(3, K_STR, struct sn_link, remote),
	COL(4, K_STR, struct sn_link, ifname), COL(5, K_BOOL, struct sn_link, up),
	COL(6, K_MS, struct sn_link, last_rx_ms), COL(7, K_C64, struct sn_link, rx),
	COL(8, K_C64, struct sn_link, tx), COL(9, K_C64, struct sn_link, tx_errors),
};
static const struct col cluster_cols[] = {
	COL(2, K_STR, struct sn_cluster, name), COL(3, K_INT, struct sn_cluster, role),
	COL(4, K_U32, struct sn_cluster, priority), COL(5, K_TICKS, struct sn_cluster, in_role_ms),
	COL(6, K_INT, struct sn_cluster, why), COL(7, K_STR, struct sn_cluster, reason),
	COL(8, K_INT, struct sn_cluster, peer_role), COL(9, K_U32, struct sn_cluster, peer_priority),
	COL(10, K_BOOL, struct sn_cluster, vips_up), COL(11, K_G32, struct sn_cluster, vips_missing),
	COL(12, K_C32, struct sn_cluster, changes),
};
static const struct col service_cols[] = {
	COL(2, K_STR, struct sn_service, name), COL(3, K_U32, struct sn_service, cluster),
	COL(4, K_STR, struct sn_service, proto), COL(5, K_STR, struct sn_service, addr),
	COL(6, K_STR, struct sn_service, sched), COL(7, K_BOOL, struct sn_service, in_kernel),
	COL(8, K_G32, struct sn_service, total), COL(9, K_G32, struct sn_service, up),
	COL(10, K_U32, struct sn_service, quorum), COL(11, K_INT, struct sn_service, qstate),
	COL(12, K_C64, struct sn_service, conns), COL(13, K_C64, struct sn_service, inpkts),
	COL(14, K_C64, struct sn_service, outpkts), COL(15, K_C64, struct sn_service, inbytes),
	COL(16, K_C64, struct sn_service, outbytes),
};
static const struct col rs_cols[] = {
	COL(2, K_STR, struct sn_rs, addr), COL(3, K_U32, struct sn_rs, port),
	COL(4, K_INT, struct sn_rs, state), COL(5, K_U32, struct sn_rs, weight),
	COL(6, K_U32, struct sn_rs, cfg_weight), COL(7, K_G32, struct sn_rs, active),
	COL(8, K_G32, struct sn_rs, inact), COL(9, K_G32, struct sn_rs, persist),
	COL(10, K_C64, struct sn_rs, conns), COL(11, K_STR, struct sn_rs, reason),
	COL(12, K_C64, struct sn_rs, checks), COL(13, K_C64, struct sn_rs, failed),
};

struct group {
	const struct col *cols;
	size_t n;
};
/* by group number; columns are contiguous from cols[0].c */
static const struct group groups[] = {
	[G_DIRECTOR] = { director_cols, N_ELEM(director_cols) },
	[G_PEER] = { peer_cols, N_ELEM(peer_cols) },
	[G_LINK] = { link_cols, N_ELEM(link_cols) },
	[G_CLUSTER] = { cluster_cols, N_ELEM(cluster_cols) },
	[G_SERVICE] = { service_cols, N_ELEM(service_cols) },
	[G_RS] = { rs_cols, N_ELEM(rs_cols) },
	[G_COUNTERS] = { counter_cols, N_ELEM(counter_cols) },
};

/* Column c of the row at `row` (a struct snap, sn_link ... as the group says). */
static bool cell(const void *row, oid g, oid c, struct val *v)
{
	const struct group *gr = &groups[g];
	if (c < gr->cols[0].c || c >= gr->cols[0].c + gr->n)
		return false;
	const struct col *k = &gr->cols[c - gr->cols[0].c];
	const char *f = (const char *)row + k->off;
	uint32_t u32;
	uint64_t u64;
	int64_t i64;
	int i;
	bool b;
	switch (k->kind) {
	case K_STR: v_str(v, f); break;
	case K_INT: memcpy(&i, f, sizeof i); v_int(v, i); break;
	case K_MS:
		memcpy(&i64, f, sizeof i64);
		v_int(v, i64 < 0 ? -1 : i64 > 0x7fffffff ? 0x7fffffff : (long)i64);
		break;
	case K_U32: memcpy(&u32, f, sizeof u32); v_uns(v, u32); break;
	case K_G32: memcpy(&u32, f, sizeof u32); v_gauge(v, u32); break;
	case K_C32: memcpy(&u32, f, sizeof u32); v_c32(v, u32); break;
	case K_TICKS: memcpy(&u64, f, sizeof u64); v_ticks(v, u64); break;
	case K_BOOL: memcpy(&b, f, sizeof b); v_bool(v, b); break;
	case K_C64: memcpy(&u64, f, sizeof u64); v_c64(v, u64); break;
	}
	return true;
}

static const void *table_row(const struct snap *p, oid g, oid i, oid j)
{
	if (i < 1)
		return NULL;
	switch (g) {
	case G_LINK: return i <= p->n_links ? (const void *)&p->links[i - 1] : NULL;
	case G_CLUSTER: return i <= p->n_clusters ? (const void *)&p->clusters[i - 1] : NULL;
	case G_SERVICE: return i <= p->n_services ? (const void *)&p->services[i - 1] : NULL;
	case G_RS:
		if (i > p->n_services || j < 1 || j > p->services[i - 1].n_rs)
			return NULL;
		return &p->rs[p->services[i - 1].rs0 + j - 1];
	}
	return NULL;
}

/* The value at t[0..n) (relative to ddObjects), exactly. */
static bool value_at(const struct snap *p, const oid *t, size_t n, struct val *v)
{
	if (n < 3 || t[0] < G_DIRECTOR || t[0] > G_COUNTERS)
		return false;
	if (t[0] == G_DIRECTOR || t[0] == G_PEER || t[0] == G_COUNTERS)
		return n == 3 && t[2] == 0 && cell(p, t[0], t[1], v);
	size_t want = t[0] == G_RS ? 5 : 4;
	const void *row = n == want && t[1] == 1 ? table_row(p, t[0], t[3], n == 5 ? t[4] : 0) : NULL;
	return row && cell(row, t[0], t[2], v);
}

static int oid_cmp(const oid *a, size_t na, const oid *b, size_t nb)
{
	return snmp_oid_compare(a, na, b, nb);
}

/* Rows of a table in index order: the first row index tuple strictly
 * after `tail` (n entries, may be 0). 1-level tables have `rows` rows;
 * the real-server table has 2 levels (service, real server). */
static bool next_row1(size_t rows, const oid *tail, size_t n, oid *out)
{
	oid r = n == 0 ? 1 : tail[0] + 1;
	if (n > 0 && tail[0] == 0)
		r = 1;
	if (n > 0 && tail[0] >= rows)
		return false;
	if (r < 1 || r > rows)
		return false;
	out[0] = r;
	return true;
}

static bool next_row2(const struct snap *p, const oid *tail, size_t n, oid *out)
{
	size_t a = 1;
	oid b = 1;
	if (n > 0) {
		if (tail[0] > p->n_services)
			return false;
		if (tail[0] >= 1) {
			a = tail[0];
			b = n == 1 ? 1 : tail[1] + 1;
			if (n >= 2 && tail[1] == 0)
				b = 1;
		}
	}
	for (; a <= p->n_services; a++, b = 1)
		if (b <= p->services[a - 1].n_rs) {
			out[0] = a;
			out[1] = b;
			return true;
		}
	return false;
}

/* The first instance strictly after t[0..n), relative to ddObjects. */
static bool next_of(const struct snap *p, const oid *t, size_t n, oid *out, size_t *outn)
{
	for (oid g = 1; g <= G_COUNTERS; g++) {
		int c0 = (int)groups[g].cols[0].c, c1 = c0 + (int)groups[g].n - 1;
		if (g == G_DIRECTOR || g == G_PEER || g == G_COUNTERS) {
			for (int c = c0; c <= c1; c++) {
				oid cand[3] = { g, (oid)c, 0 };
				if (oid_cmp(cand, 3, t, n) > 0) {
					memcpy(out, cand, sizeof cand);
					*outn = 3;
					return true;
				}
			}
			continue;
		}
		size_t rows = g == G_LINK ? p->n_links : g == G_CLUSTER ? p->n_clusters : p->n_services;
		for (int c = c0; c <= c1; c++) {
			oid col[3] = { g, 1, (oid)c };
			const oid *tail = NULL;
			size_t tn = 0;
			int cmp = oid_cmp(col, 3, t, n < 3 ? n : 3);
			if (cmp < 0)
				continue;              /* t is past this column's prefix */
			if (cmp == 0 && n >= 3) {      /* t is inside this column */
				tail = t + 3;
				tn = n - 3;
			}
			/* cmp > 0, or t is a prefix of col (n < 3): the column's first row */
			oid idx[2];
			bool ok = g == G_RS ? next_row2(p, tail, tn, idx) : next_row1(rows, tail, tn, idx);
			if (!ok)
				continue;
			memcpy(out, col, sizeof col);
			out[3] = idx[0];
			*outn = 4;
			if (g == G_RS) {
				out[4] = idx[1];
				*outn = 5;
			}
			return true;
		}
	}
	return false;
}

static void set_val(netsnmp_variable_list *vb, const struct val *v)
{
	switch (v->type) {
	case ASN_OCTET_STR:
		snmp_set_var_typed_value(vb, ASN_OCTET_STR, v->str, strlen(v->str));
		break;
	case ASN_COUNTER64:
		snmp_set_var_typed_value(vb, ASN_COUNTER64, &v->c64, sizeof v->c64);
		break;
	default:
		snmp_set_var_typed_value(vb, v->type, &v->l, sizeof v->l);
		break;
	}
}

/* ---- SNMP thread: the copy ------------------------------------------------ */

/* A snap no older than SNAP_MAX_AGE_MS, asked from main if need be; main
 * gets SNAP_WAIT_MS to answer, after which the old copy serves. */
static struct snap *current_snap(struct dd_snmp *s)
{
	uint64_t now = mono_ms();
	pthread_mutex_lock(&s->mu);
	if (s->fresh) {
		snap_free(s->snap);
		s->snap = s->fresh;
		s->fresh = NULL;
	}
	if (!s->snap || s->snap_stale || now - s->snap->taken_ms > SNAP_MAX_AGE_MS) {
		s->snap_wanted = true;
		s->snap_stale = false;
		ev_async_send(s->main_loop, &s->want_snap);
		struct timespec until;
		clock_gettime(CLOCK_REALTIME, &until);
		until.tv_nsec += (long)SNAP_WAIT_MS * 1000000L;
		until.tv_sec += until.tv_nsec / 1000000000L;
		until.tv_nsec %= 1000000000L;
		while (!s->fresh && !s->stop)
			if (pthread_cond_timedwait(&s->cv, &s->mu, &until) == ETIMEDOUT)
				break;
		if (s->fresh) {
			snap_free(s->snap);
			s->snap = s->fresh;
			s->fresh = NULL;
		}
	}
	pthread_mutex_unlock(&s->mu);
	return s->snap;
}

static int handler(netsnmp_mib_handler *h, netsnmp_handler_registration *reg, netsnmp_agent_request_info *ri,
		   netsnmp_request_info *requests)
{
	struct dd_snmp *s = h->myvoid;
	if (ri->mode != MODE_GET && ri->mode != MODE_GETNEXT)
		return SNMP_ERR_NOERROR;
	struct snap *p = current_snap(s);
	uint64_t answered = 0;
	if (p) {
		pthread_mutex_lock(&s->mu);
		p->snmp_requests = s->st.requests;
		p->snmp_traps = s->st.traps;
		p->snmp_reconnects = s->st.reconnects;
		pthread_mutex_unlock(&s->mu);
	}
	for (netsnmp_request_info *rq = requests; rq; rq = rq->next) {
		if (rq->processed)
			continue;
		netsnmp_variable_list *vb = rq->requestvb;
		const oid *name = vb->name;
		size_t len = vb->name_length;
		oid base[ROOT_LEN + 1];
		memcpy(base, mib_root, sizeof mib_root);
		base[ROOT_LEN] = 1;
		struct val v = { 0 };
		if (!p) {
			if (ri->mode == MODE_GET)
				netsnmp_set_request_error(ri, rq, SNMP_NOSUCHINSTANCE);
			continue;
		}
		/* relative to ddObjects */
		const oid *t = NULL;
		size_t n = 0;
		int pre = snmp_oidtree_compare(base, ROOT_LEN + 1, name, len);
		if (len > ROOT_LEN + 1 && pre == 0) {
			t = name + ROOT_LEN + 1;
			n = len - ROOT_LEN - 1;
		}
		if (ri->mode == MODE_GET) {
			if (!t || !value_at(p, t, n, &v)) {
				netsnmp_set_request_error(ri, rq, SNMP_NOSUCHINSTANCE);
				continue;
			}
			set_val(vb, &v);
			answered++;
			continue;
		}
		/* GETNEXT: before our subtree means its first instance. */
		oid nx[8];
		size_t nn = 0;
		bool found;
		if (t)
			found = next_of(p, t, n, nx, &nn);
		else if (snmp_oid_compare(name, len, base, ROOT_LEN + 1) <= 0)
			found = next_of(p, NULL, 0, nx, &nn);
		else
			found = false;
		if (!found || !value_at(p, nx, nn, &v))
			continue;      /* past the end: the agent asks the next subtree */
		oid full[ROOT_LEN + 1 + 8];
		memcpy(full, base, sizeof base);
		memcpy(full + ROOT_LEN + 1, nx, nn * sizeof(oid));
		snmp_set_var_objid(vb, full, ROOT_LEN + 1 + nn);
		set_val(vb, &v);
		answered++;
	}
	pthread_mutex_lock(&s->mu);
	s->st.requests += answered;
	pthread_mutex_unlock(&s->mu);
	return SNMP_ERR_NOERROR;
}

/* ---- SNMP thread: notifications -------------------------------------------- */

static void add_var(netsnmp_variable_list **vars, oid g, oid c, const oid *idx, size_t ni, const struct val *v)
{
	oid name[ROOT_LEN + 8];
	memcpy(name, mib_root, sizeof mib_root);
	size_t n = ROOT_LEN;
	name[n++] = 1;
	name[n++] = g;
	if (g == G_DIRECTOR || g == G_PEER || g == G_COUNTERS) {
		name[n++] = c;
		name[n++] = 0;
	} else {
		name[n++] = 1;
		name[n++] = c;
		for (size_t i = 0; i < ni; i++)
			name[n++] = idx[i];
	}
	if (v->type == ASN_OCTET_STR)
		snmp_varlist_add_variable(vars, name, n, ASN_OCTET_STR, v->str, strlen(v->str));
	else if (v->type == ASN_COUNTER64)
		snmp_varlist_add_variable(vars, name, n, ASN_COUNTER64, &v->c64, sizeof v->c64);
	else
		snmp_varlist_add_variable(vars, name, n, v->type, &v->l, sizeof v->l);
}

static void send_event(struct dd_snmp *s, const struct sn_event *e)
{
	netsnmp_variable_list *vars = NULL;
	oid trap[ROOT_LEN + 2];
	memcpy(trap, mib_root, sizeof mib_root);
	trap[ROOT_LEN] = 0;
	struct val v = { 0 };
	oid ix[2] = { e->ix, e->ix2 };
	const char *what = "?";
	switch (e->kind) {
	case EV_ROLE:
		trap[ROOT_LEN + 1] = 1;
		what = "ddClusterRoleChange";
		break;
	case EV_RS:
		trap[ROOT_LEN + 1] = 2;
		what = "ddRealServerStateChange";
		break;
	case EV_QUORUM:
		trap[ROOT_LEN + 1] = e->up ? 4 : 3;
		what = e->up ? "ddQuorumRegained" : "ddQuorumLost";
		break;
	case EV_AUTH:
		trap[ROOT_LEN + 1] = 5;
		what = "ddPeerAuthFailure";
		break;
	}
	if (!s->st.connected) {
		log_warn(SUB, "%s for %s not sent: not connected to the master agent at %s", what, e->name,
			 s->socket);
		return;
	}
	snmp_varlist_add_variable(&vars, trap_oid_oid, OID_LENGTH(trap_oid_oid), ASN_OBJECT_ID, trap,
				  sizeof trap);
	v_str(&v, e->node);
	add_var(&vars, G_DIRECTOR, 1, NULL, 0, &v);
	switch (e->kind) {
	case EV_ROLE:
		v_str(&v, e->name);
		add_var(&vars, G_CLUSTER, 2, ix, 1, &v);
		v_int(&v, e->role);
		add_var(&vars, G_CLUSTER, 3, ix, 1, &v);
		v_int(&v, e->old_role);
		add_var(&vars, G_CLUSTER, 13, ix, 1, &v);
		v_int(&v, e->why);
		add_var(&vars, G_CLUSTER, 6, ix, 1, &v);
		v_str(&v, e->text);
		add_var(&vars, G_CLUSTER, 7, ix, 1, &v);
		v_uns(&v, e->priority);
		add_var(&vars, G_CLUSTER, 4, ix, 1, &v);
		break;
	case EV_RS:
		v_str(&v, e->name);
		add_var(&vars, G_SERVICE, 2, ix, 1, &v);
		v_str(&v, e->addr);
		add_var(&vars, G_RS, 2, ix, 2, &v);
		v_uns(&v, e->port);
		add_var(&vars, G_RS, 3, ix, 2, &v);
		v_int(&v, e->up ? 1 : 2);
		add_var(&vars, G_RS, 4, ix, 2, &v);
		v_str(&v, e->text);
		add_var(&vars, G_RS, 11, ix, 2, &v);
		v_gauge(&v, e->n_up);
		add_var(&vars, G_SERVICE, 9, ix, 1, &v);
		v_gauge(&v, e->n_total);
		add_var(&vars, G_SERVICE, 8, ix, 1, &v);
		break;
	case EV_QUORUM:
		v_str(&v, e->name);
		add_var(&vars, G_SERVICE, 2, ix, 1, &v);
		v_uns(&v, e->quorum);
		add_var(&vars, G_SERVICE, 10, ix, 1, &v);
		v_gauge(&v, e->n_up);
		add_var(&vars, G_SERVICE, 9, ix, 1, &v);
		v_gauge(&v, e->n_total);
		add_var(&vars, G_SERVICE, 8, ix, 1, &v);
		break;
	case EV_AUTH:
		v_str(&v, e->name);
		add_var(&vars, G_PEER, 1, NULL, 0, &v);
		v_c64(&v, e->count);
		add_var(&vars, G_PEER, 10, NULL, 0, &v);
		v_str(&v, e->text);
		add_var(&vars, G_PEER, 7, NULL, 0, &v);
		break;
	}
	send_v2trap(vars);
	snmp_free_varbind(vars);
	pthread_mutex_lock(&s->mu);
	s->st.traps++;
	pthread_mutex_unlock(&s->mu);
	log_info(SUB, "%s sent for %s", what, e->name);
}

static void drain_events(struct dd_snmp *s)
{
	for (;;) {
		struct sn_event e;
		pthread_mutex_lock(&s->mu);
		uint64_t dropped = s->q_dropped;
		s->q_dropped = 0;
		bool have = s->q_n > 0;
		if (have) {
			e = s->q[s->q_head];
			s->q_head = (s->q_head + 1) % QUEUE_MAX;
			s->q_n--;
		}
		pthread_mutex_unlock(&s->mu);
		if (dropped)
			log_warn(SUB, "%" PRIu64 " notifications dropped: the queue was full", dropped);
		if (!have)
			return;
		send_event(s, &e);
	}
}

/* ---- SNMP thread: net-snmp on libev --------------------------------------- */

static void run_snmp(struct dd_snmp *s, netsnmp_large_fd_set *ready)
{
	if (ready)
		snmp_read2(ready);
	else
		snmp_timeout();
	run_alarms();
	netsnmp_check_outstanding_agent_requests();
}

static void on_io(struct ev_loop *loop, ev_io *w, int revents)
{
	struct dd_snmp *s = w->data;
	netsnmp_large_fd_set fds;
	netsnmp_large_fd_set_init(&fds, FD_SETSIZE);
	NETSNMP_LARGE_FD_SET(w->fd, &fds);
	run_snmp(s, &fds);
	netsnmp_large_fd_set_cleanup(&fds);
}

static void on_tmo(struct ev_loop *loop, ev_timer *w, int revents)
{
	run_snmp(w->data, NULL);
}

/* Before each wait: the sockets and the next timeout net-snmp wants now
 * (the AgentX session comes and goes with the master). */
static void on_prepare(struct ev_loop *loop, ev_prepare *w, int revents)
{
	struct dd_snmp *s = w->data;
	/* as agent_check_and_process() asks: block 0 and a long timeout in,
	 * the earliest of net-snmp's timeouts and alarms out */
	int numfds = 0, block = 0;
	struct timeval tv = { 3600, 0 };
	netsnmp_large_fd_set fds;
	netsnmp_large_fd_set_init(&fds, FD_SETSIZE);
	snmp_select_info2(&numfds, &fds, &tv, &block);
	for (int i = 0; i < s->n_io; i++)
		ev_io_stop(loop, &s->io[i]);
	s->n_io = 0;
	for (int fd = 0; fd < numfds && s->n_io < MAX_FDS; fd++) {
		if (!NETSNMP_LARGE_FD_ISSET(fd, &fds))
			continue;
		ev_io_init(&s->io[s->n_io], on_io, fd, EV_READ);
		s->io[s->n_io].data = s;
		ev_io_start(loop, &s->io[s->n_io]);
		s->n_io++;
	}
	netsnmp_large_fd_set_cleanup(&fds);
	/* At most a second in any case: the AgentX reopen and ping alarms
	 * are how a lost master is found again, and they must not wait for
	 * an unrelated wake-up. */
	double after = block ? MAX_WAIT_S : (double)tv.tv_sec + (double)tv.tv_usec / 1e6;
	ev_timer_stop(loop, &s->tmo);
	ev_timer_set(&s->tmo, after < MAX_WAIT_S ? after : MAX_WAIT_S, 0.0);
	ev_timer_start(loop, &s->tmo);
}

static void on_wake(struct ev_loop *loop, ev_async *w, int revents)
{
	struct dd_snmp *s = w->data;
	pthread_mutex_lock(&s->mu);
	bool stop = s->stop;
	pthread_mutex_unlock(&s->mu);
	/* the last role changes (to stopped) go out before the thread ends */
	drain_events(s);
	if (stop)
		ev_break(loop, EVBREAK_ALL);
}

/* net-snmp's own lines: its per-attempt connection warnings would fill
 * the log every second while snmpd is away, so they go to debug; the
 * transitions are logged by on_session. */
static int on_log(int major, int minor, void *server, void *client)
{
	const struct snmp_log_message *m = server;
	if (m && m->msg) {
		char line[512];
		snprintf(line, sizeof line, "%s", m->msg);
		line[strcspn(line, "\n")] = '\0';
		if (line[0])
			log_debug(SUB, "net-snmp: %s", line);
	}
	return 0;
}

static int on_session(int major, int minor, void *server, void *client)
{
	struct dd_snmp *s = client;
	bool up = minor == SNMPD_CALLBACK_INDEX_START;
	pthread_mutex_lock(&s->mu);
	bool was = s->st.connected;
	s->st.connected = up;
	if (up && !was && s->ever_connected)
		s->st.reconnects++;
	if (up)
		s->ever_connected = true;
	pthread_mutex_unlock(&s->mu);
	if (up && !was)
		log_notice(SUB, "AgentX subagent connected to the master agent at %s", s->socket);
	else if (!up && was)
		log_warn(SUB, "AgentX master agent at %s went away; reconnecting every %d s", s->socket,
			 PING_INTERVAL_S);
	return 0;
}

/* ---- SNMP thread: life ----------------------------------------------------- */

static void *thread_main(void *arg)
{
	struct dd_snmp *s = arg;
	sigset_t all;
	sigfillset(&all);
	pthread_sigmask(SIG_BLOCK, &all, NULL);

	/* A subagent, quiet about each failed connection attempt, with no
	 * persistent files, no config files and no MIB parsing of its own;
	 * alarms from the select timeout, never SIGALRM. */
	netsnmp_ds_set_boolean(NETSNMP_DS_APPLICATION_ID, NETSNMP_DS_AGENT_ROLE, 1);
	netsnmp_ds_set_string(NETSNMP_DS_APPLICATION_ID, NETSNMP_DS_AGENT_X_SOCKET, s->socket);
	netsnmp_ds_set_boolean(NETSNMP_DS_APPLICATION_ID, NETSNMP_DS_AGENT_NO_CONNECTION_WARNINGS, 1);
	netsnmp_ds_set_boolean(NETSNMP_DS_LIBRARY_ID, NETSNMP_DS_LIB_ALARM_DONT_USE_SIG, 1);
	netsnmp_ds_set_boolean(NETSNMP_DS_LIBRARY_ID, NETSNMP_DS_LIB_DONT_PERSIST_STATE, 1);
	netsnmp_ds_set_boolean(NETSNMP_DS_LIBRARY_ID, NETSNMP_DS_LIB_DISABLE_PERSISTENT_LOAD, 1);
	netsnmp_ds_set_boolean(NETSNMP_DS_LIBRARY_ID, NETSNMP_DS_LIB_DISABLE_PERSISTENT_SAVE, 1);
	netsnmp_ds_set_boolean(NETSNMP_DS_LIBRARY_ID, NETSNMP_DS_LIB_DONT_READ_CONFIGS, 1);
	netsnmp_ds_set_string(NETSNMP_DS_LIBRARY_ID, NETSNMP_DS_LIB_MIBDIRS, "/nonexistent");
	snmp_disable_log();
	snmp_enable_calllog();
	snmp_register_callback(SNMP_CALLBACK_LIBRARY, SNMP_CALLBACK_LOGGING, on_log, s);
	snmp_register_callback(SNMP_CALLBACK_APPLICATION, SNMPD_CALLBACK_INDEX_START, on_session, s);
	snmp_register_callback(SNMP_CALLBACK_APPLICATION, SNMPD_CALLBACK_INDEX_STOP, on_session, s);
	init_agent("directord");
	/* after init_agent(), which sets net-snmp's default of 15 s: a lost
	 * master would be looked for only every 15 s */
	netsnmp_ds_set_int(NETSNMP_DS_APPLICATION_ID, NETSNMP_DS_AGENT_AGENTX_PING_INTERVAL, PING_INTERVAL_S);

	netsnmp_handler_registration *reg;
	oid objects[ROOT_LEN + 1];
	memcpy(objects, mib_root, sizeof mib_root);
	objects[ROOT_LEN] = 1;
	reg = netsnmp_create_handler_registration("directord", handler, objects, ROOT_LEN + 1,
						  HANDLER_CAN_RONLY);
	reg->handler->myvoid = s;
	if (netsnmp_register_handler(reg) != MIB_REGISTERED_OK)
		log_err(SUB, "cannot register DIRECTORD-MIB with net-snmp");
	init_snmp("directord");
	if (!s->st.connected)
		log_notice(SUB, "AgentX master agent at %s not there yet; trying every %d s", s->socket,
			   PING_INTERVAL_S);

	ev_run(s->loop, 0);

	/* net-snmp frees a callback's argument when it clears it: take ours back first */
	snmp_unregister_callback(SNMP_CALLBACK_LIBRARY, SNMP_CALLBACK_LOGGING, on_log, s, 1);
	snmp_unregister_callback(SNMP_CALLBACK_APPLICATION, SNMPD_CALLBACK_INDEX_START, on_session, s, 1);
	snmp_unregister_callback(SNMP_CALLBACK_APPLICATION, SNMPD_CALLBACK_INDEX_STOP, on_session, s, 1);
	snmp_shutdown("directord");
	return NULL;
}

/* net-snmp's state is the process's: it is set up once and cannot be set
 * up again after snmp_shutdown(), so a subagent stopped by a reload comes
 * back only with a restart of the daemon. */
static atomic_bool netsnmp_used;

struct dd_snmp *dd_snmp_new(struct ev_loop *loop, const struct dd_config *cfg, const struct dd_snmp_src *src)
{
	if (!cfg->snmp.enabled)
		return NULL;
	if (atomic_exchange(&netsnmp_used, true)) {
		log_warn(SUB, "the AgentX subagent was stopped earlier in this process and net-snmp cannot be "
			 "started twice: restart directord to enable SNMP again");
		return NULL;
	}
	struct dd_snmp *s = xcalloc(1, sizeof *s);
	s->main_loop = loop;
	s->cfg = cfg;
	s->src = *src;
	s->traps = cfg->snmp.traps;
	copy_str(s->node, sizeof s->node, cfg->node_name);
	copy_str(s->socket, sizeof s->socket, cfg->snmp.agentx_socket);
	s->st.enabled = true;
	copy_str(s->st.socket, sizeof s->st.socket, s->socket);
	s->q = xcalloc(QUEUE_MAX, sizeof *s->q);
	pthread_mutex_init(&s->mu, NULL);
	pthread_condattr_t ca;
	pthread_condattr_init(&ca);
	pthread_cond_init(&s->cv, &ca);
	pthread_condattr_destroy(&ca);

	ev_async_init(&s->want_snap, on_want_snap);
	s->want_snap.data = s;
	ev_async_start(loop, &s->want_snap);
	ev_timer_init(&s->peer_tick, on_peer_tick, 1.0, 1.0);
	s->peer_tick.data = s;
	if (s->traps && cfg->hb.n_peers)
		ev_timer_start(loop, &s->peer_tick);

	s->loop = ev_loop_new(EVFLAG_AUTO | EVFLAG_NOSIGMASK);
	ev_async_init(&s->wake, on_wake);
	s->wake.data = s;
	ev_async_start(s->loop, &s->wake);
	ev_prepare_init(&s->prep, on_prepare);
	s->prep.data = s;
	ev_prepare_start(s->loop, &s->prep);
	ev_init(&s->tmo, on_tmo);
	s->tmo.data = s;
	int r = pthread_create(&s->thread, NULL, thread_main, s);
	if (r != 0) {
		log_err(SUB, "cannot start the SNMP thread: %s; running without SNMP", strerror(r));
		dd_snmp_free(s);
		return NULL;
	}
	s->thread_started = true;
	log_info(SUB, "AgentX subagent started for %s (traps %s)", s->socket, s->traps ? "on" : "off");
	return s;
}

void dd_snmp_free(struct dd_snmp *s)
{
	if (!s)
		return;
	if (s->thread_started) {
		pthread_mutex_lock(&s->mu);
		s->stop = true;
		pthread_cond_broadcast(&s->cv);
		pthread_mutex_unlock(&s->mu);
		ev_async_send(s->loop, &s->wake);
		pthread_join(s->thread, NULL);
	}
	ev_async_stop(s->main_loop, &s->want_snap);
	ev_timer_stop(s->main_loop, &s->peer_tick);
	ev_loop_destroy(s->loop);
	snap_free(s->snap);
	snap_free(s->fresh);
	free(s->q);
	pthread_cond_destroy(&s->cv);
	pthread_mutex_destroy(&s->mu);
	free(s);
}

struct dd_snmp *dd_snmp_reconfigure(struct dd_snmp *s, struct ev_loop *loop, const struct dd_config *cfg,
				    const struct dd_snmp_src *src)
{
	if (!s)
		return dd_snmp_new(loop, cfg, src);
	if (!cfg->snmp.enabled) {
		log_notice(SUB, "snmp disabled by the reload: AgentX subagent stopped");
		dd_snmp_free(s);
		return NULL;
	}
	if (strcmp(s->socket, cfg->snmp.agentx_socket) != 0)
		log_warn(SUB, "snmp.agentx_socket changed to %s: takes effect when directord restarts "
			 "(still using %s)", cfg->snmp.agentx_socket, s->socket);
	/* Cluster names may have moved: the reasons go by index. */
	for (size_t i = 0; i < DD_MAX_CLUSTERS; i++)
		s->reasons[i][0] = '\0';
	s->cfg = cfg;
	s->traps = cfg->snmp.traps;
	copy_str(s->node, sizeof s->node, cfg->node_name);
	ev_timer_stop(loop, &s->peer_tick);
	if (s->traps && cfg->hb.n_peers)
		ev_timer_start(loop, &s->peer_tick);
	/* the next request takes a fresh copy of the new config */
	pthread_mutex_lock(&s->mu);
	snap_free(s->fresh);
	s->fresh = NULL;
	s->snap_stale = true;
	pthread_mutex_unlock(&s->mu);
	return s;
}

void dd_snmp_get_state(const struct dd_snmp *s, struct dd_snmp_state *out)
{
	if (!s) {
		*out = (struct dd_snmp_state){ 0 };
		return;
	}
	pthread_mutex_lock((pthread_mutex_t *)&s->mu);
	*out = s->st;
	pthread_mutex_unlock((pthread_mutex_t *)&s->mu);
}
