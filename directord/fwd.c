/* SPDX-License-Identifier: GPL-2.0-or-later */
/* directord/fwd.c: the forwarding plane on the daemon's main libev loop.
 *
 * Keeps what the kernel table should be (desired.c), a model of what it is
 * (the last dump, updated by every successful batch), and runs the
 * reconciler between the two. The model avoids dumping 10,000 services on
 * every health flap: a pass costs work in proportion to the change. Any
 * failed operation means the model may be wrong, so the next pass starts
 * from a fresh dump.
 */
#include "config.h"
#include "directord/fwd.h"

#include <errno.h>
#include <ev.h>
#include <fcntl.h>
#include <linux/ip_vs.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "directord/desired.h"
#include "directord/reconcile.h"
#include "lib/log.h"
#include "lib/util.h"

#define SUB "ipvs"
#define KICK_DELAY_MS 10     /* coalesces a burst of verdicts into one pass */
#define CONN_POLL_MS 1000    /* drains waiting for ActiveConn to reach 0 */
#define RETRY_MS 5000        /* after failed operations; doubles while they keep failing */
#define RETRY_MAX_MS 300000

struct name_ix {
	const char *name;
	size_t ix;
};

struct cluster_role {
	char name[DD_NAME_MAX];
	bool known, active;
};

struct dd_fwdplane {
	struct ev_loop *loop;
	struct ipvs *h;
	const struct dd_config *cfg;
	const struct dd_service **svcs; /* flat, config order */
	struct ds_svc_state *st;        /* parallel to svcs */
	struct name_ix *names;          /* sorted by name */
	size_t n_svcs;
	struct ipvs_table cur;          /* model of the kernel table */
	bool need_resync;
	struct rc_state rc;
	ev_timer tm;
	uint64_t due_ms;                /* when tm fires; 0: idle */
	struct dd_fwd_stats stats;
	struct cluster_role *roles;
	size_t n_roles;
	uint32_t timeouts[3];           /* last applied tcp, tcpfin, udp */
	uint64_t retry_ms;              /* next retry delay after a failed pass */
	dd_fwd_quorum_fn quorum_fn;
	void *quorum_ctx;
	void (*pass_hook)(void *ctx);   /* after every pass (ECMP: quorum to the engine) */
	void *pass_ctx;
};

/* ------------------------------------------------------------ lookups */

static int name_cmp(const void *a, const void *b)
{
	return strcmp(((const struct name_ix *)a)->name, ((const struct name_ix *)b)->name);
}

static const struct dd_service *find_service(const struct dd_fwdplane *f, const char *name, size_t *ix)
{
	struct name_ix key = { .name = name };
	const struct name_ix *r = bsearch(&key, f->names, f->n_svcs, sizeof(key), name_cmp);
	if (!r)
		return NULL;
	*ix = r->ix;
	return f->svcs[r->ix];
}

static ssize_t find_rs(const struct dd_service *s, const struct dd_addr *a, uint16_t port)
{
	for (size_t i = 0; i < s->n_rs; i++)
		if (s->rs[i].port == port && dd_addr_eq(&s->rs[i].addr, a))
			return (ssize_t)i;
	return -1;
}

static void free_states(struct ds_svc_state *st, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(st[i].rs);
	free(st);
}

/* Indexes a new config and carries runtime state over by (service name,
 * real server address, port). With `adopt`, servers already in the kernel
 * with weight > 0 count as up until their first verdict. */
static void index_config(struct dd_fwdplane *f, const struct dd_config *cfg, bool adopt)
{
	size_t n = 0;
	for (size_t c = 0; c < cfg->n_clusters; c++)
		n += cfg->clusters[c].n_services;
	const struct dd_service **svcs = xcalloc(n ? n : 1, sizeof(*svcs));
	struct ds_svc_state *st = xcalloc(n ? n : 1, sizeof(*st));
	struct name_ix *names = xcalloc(n ? n : 1, sizeof(*names));
	size_t k = 0;
	for (size_t c = 0; c < cfg->n_clusters; c++)
		for (size_t i = 0; i < cfg->clusters[c].n_services; i++, k++) {
			svcs[k] = &cfg->clusters[c].services[i];
			names[k] = (struct name_ix){ svcs[k]->name, k };
		}
	qsort(names, n, sizeof(*names), name_cmp);
	for (k = 0; k < n; k++) {
		const struct dd_service *s = svcs[k];
		st[k].rs = xcalloc(s->n_rs ? s->n_rs : 1, sizeof(*st[k].rs));
		size_t oi;
		const struct dd_service *old = f->names ? find_service(f, s->name, &oi) : NULL;
		if (old) {
			st[k].sorry = f->st[oi].sorry;
			st[k].sorry_known = f->st[oi].sorry_known;
		}
		struct ipvs_service kkey;
		ds_service_from_config(s, &kkey);
		const struct ipvs_service *ks = adopt ? ipvs_table_find(&f->cur, &kkey.key) : NULL;
		for (size_t r = 0; r < s->n_rs; r++) {
			ssize_t orr = old ? find_rs(old, &s->rs[r].addr, s->rs[r].port) : -1;
			if (orr >= 0) {
				st[k].rs[r] = f->st[oi].rs[orr];
				continue;
			}
			if (!ks)
				continue;
			struct ipvs_dest dk = { .addr = s->rs[r].addr, .port = s->rs[r].port };
			for (size_t d = 0; d < ks->n_dests; d++)
				if (ipvs_dest_key_cmp(&ks->dests[d], &dk) == 0 && ks->dests[d].weight > 0)
					st[k].rs[r].adopted_up = true;
		}
	}
	free_states(f->st, f->n_svcs);
	free(f->svcs);
	free(f->names);
	f->svcs = svcs;
	f->st = st;
	f->names = names;
	f->n_svcs = n;
	f->cfg = cfg;
}

/* --------------------------------------------------------------- logging */

static const char *svc_label(const struct ipvs_service *s, char *buf, size_t len)
{
	char k[DD_ADDR_STRLEN + 32];
	snprintf(buf, len, "service %s (%s)", s->name[0] ? s->name : "?", ipvs_svc_key_str(&s->key, k, sizeof(k)));
	return buf;
}

static void log_op(const struct ipvs_op *op, size_t n_new_dests, bool quiet)
{
	char sl[IPVS_SVC_NAME_MAX + DD_ADDR_STRLEN + 48], ds[DD_ADDR_STRLEN];
	svc_label(&op->svc, sl, sizeof(sl));
	if (op->type >= IPVS_OP_ADD_DEST)
		dd_addr_port_str(&op->dest.addr, op->dest.port, ds, sizeof(ds));
	static const char *verbs[] = { "add", "update", "delete", "add real server", "update real server",
				       "delete real server" };
	if (op->err) {
		if (op->type >= IPVS_OP_ADD_DEST)
			log_err(SUB, "%s: cannot %s %s: %s", sl, verbs[op->type], ds, strerror(-op->err));
		else
			log_err(SUB, "%s: cannot %s: %s", sl, verbs[op->type], strerror(-op->err));
		return;
	}
	const struct ipvs_dest *d = &op->dest;
	switch (op->type) {
	case IPVS_OP_ADD_SVC:
		log_info(SUB, "%s: added, scheduler %s, %zu real servers (%s)", sl, op->svc.sched, n_new_dests,
			 op->reason);
		break;
	case IPVS_OP_EDIT_SVC:
		log_info(SUB, "%s: updated: scheduler %s, flags 0x%x, persistence %u s (%s)", sl, op->svc.sched,
			 op->svc.flags, op->svc.timeout, op->reason);
		break;
	case IPVS_OP_DEL_SVC:
		log_info(SUB, "%s: deleted (%s)", sl, op->reason);
		break;
	case IPVS_OP_ADD_DEST:
		dlog(quiet ? LOG_DEBUG : LOG_INFO, SUB, "%s: real server %s added, %s, weight %u (%s)", sl, ds,
		     ipvs_fwd_name(d->fwd), d->weight, op->reason);
		break;
	case IPVS_OP_EDIT_DEST:
		if (op->old_weight != d->weight)
			log_info(SUB, "%s: real server %s weight %u -> %u (%s)", sl, ds, op->old_weight, d->weight,
				 op->reason);
		else
			log_info(SUB, "%s: real server %s updated: %s, weight %u, thresholds %u/%u (%s)", sl, ds,
				 ipvs_fwd_name(d->fwd), d->weight, d->u_thresh, d->l_thresh, op->reason);
		break;
	case IPVS_OP_DEL_DEST:
		log_info(SUB, "%s: real server %s deleted (%s)", sl, ds, op->reason);
		break;
	}
}

static void log_ops(const struct ipvs_op *ops, size_t n)
{
	const struct ipvs_op *added = NULL; /* last service added by this batch */
	for (size_t i = 0; i < n; i++) {
		const struct ipvs_op *op = &ops[i];
		size_t nd = 0;
		if (op->type == IPVS_OP_ADD_SVC) {
			added = op->err ? NULL : op;
			for (size_t j = i + 1; j < n && ops[j].type == IPVS_OP_ADD_DEST &&
			     ipvs_svc_key_cmp(&ops[j].svc.key, &op->svc.key) == 0; j++)
				nd++;
		} else if (op->type != IPVS_OP_ADD_DEST) {
			added = NULL;
		}
		/* a new service's servers are summed up in its own line */
		bool quiet = op->type == IPVS_OP_ADD_DEST && added &&
			     ipvs_svc_key_cmp(&added->svc.key, &op->svc.key) == 0;
		log_op(op, nd, quiet);
	}
}

/* ------------------------------------------------------------- reconcile */

static void schedule(struct dd_fwdplane *f, uint64_t at_ms)
{
	if (!at_ms)
		return;
	if (f->due_ms && f->due_ms <= at_ms && ev_is_active(&f->tm))
		return;
	uint64_t now = mono_ms();
	ev_timer_stop(f->loop, &f->tm);
	ev_timer_set(&f->tm, at_ms > now ? (double)(at_ms - now) / 1000.0 : 0.0, 0.0);
	ev_timer_start(f->loop, &f->tm);
	f->due_ms = at_ms;
}

static void refresh_cb(void *ctx, struct ipvs_service *cur)
{
	struct dd_fwdplane *f = ctx;
	int r = ipvs_dump_dests(f->h, cur);
	if (r)
		log_debug(SUB, "cannot refresh connection counts: %s", strerror(-r));
}

/* One pass: desired vs model, ops in batches, model := expected. Returns the
 * number of failed ops, or -1 if the socket failed. */
static int reconcile(struct dd_fwdplane *f)
{
	uint64_t t0 = mono_us();
	if (f->need_resync) {
		struct ipvs_table fresh;
		int r = ipvs_dump(f->h, &fresh);
		if (r) {
			log_err(SUB, "cannot dump the IPVS table: %s", strerror(-r));
			schedule(f, mono_ms() + RETRY_MS);
			return -1;
		}
		ipvs_table_free(&f->cur);
		f->cur = fresh;
		f->need_resync = false;
	}
	uint64_t now = mono_ms(), build_next = 0;
	struct ipvs_table desired;
	/* quorum before the pass: a change is told to the hook after it */
	uint8_t *was = NULL;
	if (f->quorum_fn) {
		was = xcalloc(f->n_svcs ? f->n_svcs : 1, 1);
		for (size_t k = 0; k < f->n_svcs; k++)
			was[k] = f->st[k].sorry_known ? (f->st[k].sorry ? 2 : 1) : 0;
	}
	ds_build(f->cfg, f->st, now, &desired, &build_next);
	struct rc_result res = { 0 };
	rc_diff(&f->rc, &desired, &f->cur, now, refresh_cb, f, &res);
	ipvs_table_free(&desired);
	int failed = 0;
	if (res.n_ops) {
		failed = ipvs_apply(f->h, res.ops, res.n_ops);
		if (failed < 0) {
			log_err(SUB, "IPVS netlink batch failed: %s", strerror(-failed));
			f->need_resync = true;
		} else {
			log_ops(res.ops, res.n_ops);
			if (failed)
				f->need_resync = true;
		}
	}
	/* The events are in the kernel now; a failed op keeps them pending,
	 * so that its retry is still logged with its cause. */
	if (!f->need_resync)
		ds_settled(f->cfg, f->st);
	ipvs_table_free(&f->cur);
	f->cur = res.expected;
	res.expected = (struct ipvs_table){ 0 };
	f->stats.passes++;
	f->stats.ops += res.n_ops;
	f->stats.ops_failed += failed > 0 ? (uint64_t)failed : failed < 0 ? res.n_ops : 0;
	f->stats.last_ops = res.n_ops;
	f->stats.n_owned = f->rc.n_owned;
	f->stats.n_draining = f->rc.n_drains;
	f->stats.last_pass_us = mono_us() - t0;
	uint64_t next = build_next;
	if (res.next_ms && (!next || res.next_ms < next))
		next = res.next_ms;
	if (res.poll_conns && (!next || now + CONN_POLL_MS < next))
		next = now + CONN_POLL_MS;
	if (f->need_resync) {
		/* a permanent failure (say a scheduler module the kernel lacks)
		 * must not fill the log every few seconds */
		f->retry_ms = f->retry_ms ? f->retry_ms * 2 : RETRY_MS;
		if (f->retry_ms > RETRY_MAX_MS)
			f->retry_ms = RETRY_MAX_MS;
		if (!next || now + f->retry_ms < next)
			next = now + f->retry_ms;
	} else {
		f->retry_ms = 0;
	}
	f->due_ms = 0;
	schedule(f, next);
	rc_result_free(&res);
	for (size_t k = 0; was && k < f->n_svcs; k++) {
		if (!was[k] || !f->st[k].sorry_known || (was[k] == 2) == f->st[k].sorry)
			continue;
		size_t up = 0;
		for (size_t r = 0; r < f->svcs[k]->n_rs; r++)
			up += ds_rs_is_up(&f->svcs[k]->rs[r], &f->st[k].rs[r]);
		f->quorum_fn(f->quorum_ctx, f->svcs[k], f->st[k].sorry, up, f->svcs[k]->n_rs);
	}
	free(was);
	if (f->pass_hook)
		f->pass_hook(f->pass_ctx);
	return failed < 0 ? -1 : failed;
}

void dd_fwd_set_pass_hook(struct dd_fwdplane *f, void (*fn)(void *ctx), void *ctx)
{
	f->pass_hook = fn;
	f->pass_ctx = ctx;
}

int dd_fwd_quorum(const struct dd_fwdplane *f, const char *service)
{
	size_t ix;
	if (!find_service(f, service, &ix) || !f->st[ix].sorry_known)
		return -1;
	return !f->st[ix].sorry;
}

static void write_sysctl(const char *path, const char *val);

/* ECMP: a flow that the routers move to another director (a next hop
 * came or went) arrives there in mid-stream; sloppy mode lets IPVS take
 * it up instead of dropping it. */
static void ecmp_sloppy(struct dd_fwdplane *f, const struct dd_config *cfg)
{
	if (!dd_config_has_ecmp(cfg) || ipvs_is_model(f->h))
		return;
	write_sysctl("/proc/sys/net/ipv4/vs/sloppy_tcp", "1");
	write_sysctl("/proc/sys/net/ipv4/vs/sloppy_sctp", "1");
}

static void timer_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct dd_fwdplane *f = w->data;
	f->due_ms = 0;
	reconcile(f);
}

static void kick(struct dd_fwdplane *f)
{
	schedule(f, mono_ms() + KICK_DELAY_MS);
}

int dd_fwd_reconcile_now(struct dd_fwdplane *f)
{
	return reconcile(f) == 0 ? 0 : -1;
}

/* ------------------------------------------------------------ config */

static void apply_timeouts(struct dd_fwdplane *f, const struct dd_config *cfg)
{
	uint32_t t[3] = { cfg->sync.tcp_timeout_s, cfg->sync.tcpfin_timeout_s, cfg->sync.udp_timeout_s };
	if (!memcmp(t, f->timeouts, sizeof(t)))
		return;
	int r = ipvs_set_timeouts(f->h, t[0], t[1], t[2]);
	if (r)
		log_err(SUB, "cannot set IPVS timeouts tcp %u tcpfin %u udp %u: %s", t[0], t[1], t[2], strerror(-r));
	else {
		if (t[0] || t[1] || t[2])
			log_info(SUB, "timeouts set: tcp %u s, tcpfin %u s, udp %u s (0: unchanged)", t[0], t[1], t[2]);
		memcpy(f->timeouts, t, sizeof(t));
	}
}

static void first_failure(const struct dd_fwdplane *f, int failed, char **err)
{
	dd_seterr(err, "%d IPVS operation%s failed (see the log); retrying in %llu s", failed,
		  failed == 1 ? "" : "s", (unsigned long long)(f->retry_ms / 1000));
}

struct dd_fwdplane *dd_fwd_new(struct ev_loop *loop, const struct dd_config *cfg, char **err)
{
	struct dd_fwdplane *f = xcalloc(1, sizeof(*f));
	f->loop = loop;
	f->h = ipvs_open(err);
	if (!f->h) {
		free(f);
		return NULL;
	}
	uint32_t v = ipvs_version(f->h);
	int r = ipvs_dump(f->h, &f->cur);
	if (r) {
		dd_seterr(err, "cannot dump the IPVS table: %s", strerror(-r));
		ipvs_close(f->h);
		free(f);
		return NULL;
	}
	log_info(SUB, "IPVS %u.%u.%u, %zu services in the kernel table", v >> 16, (v >> 8) & 0xff, v & 0xff,
		 f->cur.n);
	ev_timer_init(&f->tm, timer_cb, 0.0, 0.0);
	f->tm.data = f;
	index_config(f, cfg, true);
	apply_timeouts(f, cfg);
	ecmp_sloppy(f, cfg);
	/* Failed operations (logged one by one) do not stop the start: a
	 * director that programs 9,999 of 10,000 services still serves them
	 * and takes part in failover; the rest is retried. */
	int failed = reconcile(f);
	if (failed < 0) {
		dd_seterr(err, "cannot program IPVS: the netlink socket failed (see the log)");
		dd_fwd_free(f);
		return NULL;
	}
	if (failed > 0) {
		char *m = NULL;
		first_failure(f, failed, &m);
		log_err(SUB, "%s", m ? m : "IPVS operations failed");
		free(m);
	}
	return f;
}

int dd_fwd_apply_config(struct dd_fwdplane *f, const struct dd_config *cfg, char **err)
{
	index_config(f, cfg, false);
	apply_timeouts(f, cfg);
	ecmp_sloppy(f, cfg);
	int failed = reconcile(f);
	if (failed) {
		if (failed < 0)
			dd_seterr(err, "cannot program IPVS (see the log)");
		else
			first_failure(f, failed, err);
		return -1;
	}
	return 0;
}

/* ------------------------------------------------------------- events */

static struct ds_rs_state *rs_state(struct dd_fwdplane *f, const char *service, const struct dd_addr *rs,
				    uint16_t port, const struct dd_real_server **rsc)
{
	size_t ix;
	const struct dd_service *s = find_service(f, service, &ix);
	if (!s)
		return NULL;
	ssize_t r = find_rs(s, rs, port);
	if (r < 0)
		return NULL;
	*rsc = &s->rs[r];
	return &f->st[ix].rs[r];
}

void dd_fwd_set_rs_health(struct dd_fwdplane *f, const char *service, const struct dd_addr *rs, uint16_t port,
			  bool up)
{
	const struct dd_real_server *rsc;
	struct ds_rs_state *st = rs_state(f, service, rs, port, &rsc);
	if (!st)
		return;
	bool was_up = ds_rs_is_up(rsc, st);
	st->health = up ? DS_HEALTH_UP : DS_HEALTH_DOWN;
	st->adopted_up = false;
	if (was_up == up)
		return;
	st->reason = st->why = up ? "health UP" : "health DOWN";
	st->up_since_ms = up && rsc->slow_start_ms ? mono_ms() : 0;
	kick(f);
}

int dd_fwd_service_counts(struct dd_fwdplane *f, const char *service, size_t *up, size_t *total)
{
	size_t ix;
	const struct dd_service *s = find_service(f, service, &ix);
	if (!s)
		return -1;
	*up = 0;
	*total = s->n_rs;
	for (size_t r = 0; r < s->n_rs; r++)
		*up += ds_rs_is_up(&s->rs[r], &f->st[ix].rs[r]);
	return 0;
}

void dd_fwd_set_quorum_hook(struct dd_fwdplane *f, dd_fwd_quorum_fn fn, void *ctx)
{
	f->quorum_fn = fn;
	f->quorum_ctx = ctx;
}

int dd_fwd_set_rs_admin_drain(struct dd_fwdplane *f, const char *service, const struct dd_addr *rs, uint16_t port,
			      bool drain)
{
	const struct dd_real_server *rsc;
	struct ds_rs_state *st = rs_state(f, service, rs, port, &rsc);
	if (!st)
		return -1;
	if (st->admin_drain != drain) {
		st->admin_drain = drain;
		st->reason = st->why = drain ? "admin drain" : "admin drain off";
		kick(f);
	}
	return 0;
}

static void write_sysctl(const char *path, const char *val)
{
	int fd = open(path, O_WRONLY | O_CLOEXEC);
	if (fd < 0 || write(fd, val, strlen(val)) < 0)
		log_err(SUB, "cannot set %s to %s: %s", path, val, strerror(errno));
	if (fd >= 0)
		close(fd);
}

static void sync_daemons(struct dd_fwdplane *f)
{
	const struct dd_sync *sy = &f->cfg->sync;
	bool want[3] = { false, false, false }; /* indexed by IP_VS_STATE_* */
	for (size_t i = 0; i < f->n_roles; i++)
		if (f->roles[i].known)
			want[f->roles[i].active ? IP_VS_STATE_MASTER : IP_VS_STATE_BACKUP] = true;
	/* In ECMP mode every director is active and takes flows that another
	 * one started, so each sends its connections and hears the others':
	 * master and backup at once. Survival does not depend on it (mh and
	 * sloppy do that); sync only carries the connection state along. */
	if (dd_config_has_ecmp(f->cfg))
		want[IP_VS_STATE_MASTER] = want[IP_VS_STATE_BACKUP] = true;
	if (!sy->enabled)
		want[1] = want[2] = false;
	struct ipvs_daemon run[2];
	int n = ipvs_daemon_list(f->h, run);
	if (n < 0) {
		log_err(SUB, "cannot list IPVS sync daemons: %s", strerror(-n));
		return;
	}
	bool running[3] = { false, false, false };
	for (int i = 0; i < n; i++) {
		uint32_t s = run[i].state;
		if (s != IP_VS_STATE_MASTER && s != IP_VS_STATE_BACKUP)
			continue;
		bool same = want[s] && !strcmp(run[i].ifname, sy->ifname) && run[i].syncid == sy->syncid;
		if (same) {
			running[s] = true;
			continue;
		}
		int r = ipvs_daemon_stop(f->h, s);
		if (r)
			log_err(SUB, "cannot stop the sync daemon (%s): %s", s == 1 ? "master" : "backup", strerror(-r));
		else
			log_notice(SUB, "sync daemon %s stopped (%s)", s == 1 ? "master" : "backup",
				   want[s] ? "settings changed" : "role changed");
	}
	for (uint32_t s = IP_VS_STATE_MASTER; s <= IP_VS_STATE_BACKUP; s++) {
		if (!want[s] || running[s])
			continue;
		struct ipvs_daemon d = { .state = s, .syncid = sy->syncid };
		snprintf(d.ifname, sizeof(d.ifname), "%s", sy->ifname);
		int r = ipvs_daemon_start(f->h, &d);
		if (r)
			log_err(SUB, "cannot start the sync daemon as %s on %s, syncid %u: %s",
				s == 1 ? "master" : "backup", d.ifname, d.syncid, strerror(-r));
		else
			log_notice(SUB, "sync daemon started as %s on %s, syncid %u", s == 1 ? "master" : "backup",
				   d.ifname, d.syncid);
	}
	/* sloppy mode lets the standby's table, once it takes over, pick up
	 * connections the sync missed; it stays on as active for the same
	 * reason */
	if (sy->sloppy && (want[1] || want[2])) {
		write_sysctl("/proc/sys/net/ipv4/vs/sloppy_tcp", "1");
		write_sysctl("/proc/sys/net/ipv4/vs/sloppy_sctp", "1");
	}
}

void dd_fwd_set_cluster_role(struct dd_fwdplane *f, const char *cluster, bool active)
{
	struct cluster_role *r = NULL;
	for (size_t i = 0; i < f->n_roles; i++)
		if (!strcmp(f->roles[i].name, cluster))
			r = &f->roles[i];
	if (!r) {
		f->roles = xrealloc(f->roles, (f->n_roles + 1) * sizeof(*f->roles));
		r = &f->roles[f->n_roles++];
		memset(r, 0, sizeof(*r));
		snprintf(r->name, sizeof(r->name), "%s", cluster);
	}
	r->known = true;
	r->active = active;
	sync_daemons(f);
}

/* ---------------------------------------------------------------- views */

int dd_fwd_counters(struct dd_fwdplane *f, struct ipvs_table *out, char **err)
{
	struct ipvs_table all;
	int r = ipvs_dump_services(f->h, &all);
	memset(out, 0, sizeof(*out));
	for (size_t i = 0; r == 0 && i < all.n; i++) {
		const struct rc_owned *o = rc_find_owned(&f->rc, &all.svc[i].key);
		if (!o)
			continue;
		struct ipvs_service *s = ipvs_table_add(out);
		*s = all.svc[i];
		memcpy(s->name, o->name, sizeof(s->name));
		s->drain_ms = o->drain_ms;
		r = ipvs_dump_dests(f->h, s);
	}
	free(all.svc); /* services only: no destinations to free */
	if (r) {
		ipvs_table_free(out);
		dd_seterr(err, "cannot dump the IPVS counters: %s", strerror(-r));
		return -1;
	}
	return 0;
}

void dd_fwd_get_stats(const struct dd_fwdplane *f, struct dd_fwd_stats *out)
{
	*out = f->stats;
}

void dd_fwd_free(struct dd_fwdplane *f)
{
	if (!f)
		return;
	ev_timer_stop(f->loop, &f->tm);
	ipvs_close(f->h);
	ipvs_table_free(&f->cur);
	rc_state_free(&f->rc);
	free_states(f->st, f->n_svcs);
	free(f->svcs);
	free(f->names);
	free(f->roles);
	free(f);
}

/* ----------------------------------------------------- dry run, views */
/* Added for directorctl (plan, status): they reuse index_config, ds_build
 * and rc_diff on copies, so a plan is exactly the reload's first pass. */

static void copy_index(const struct dd_fwdplane *f, struct dd_fwdplane *t)
{
	*t = *f;
	t->svcs = xcalloc(f->n_svcs ? f->n_svcs : 1, sizeof(*t->svcs));
	t->names = xcalloc(f->n_svcs ? f->n_svcs : 1, sizeof(*t->names));
	t->st = xcalloc(f->n_svcs ? f->n_svcs : 1, sizeof(*t->st));
	if (f->n_svcs) {
		memcpy(t->svcs, f->svcs, f->n_svcs * sizeof(*t->svcs));
		memcpy(t->names, f->names, f->n_svcs * sizeof(*t->names));
	}
	for (size_t i = 0; i < f->n_svcs; i++) {
		size_t n = f->svcs[i]->n_rs;
		t->st[i] = f->st[i];
		t->st[i].rs = xcalloc(n ? n : 1, sizeof(*t->st[i].rs));
		if (n)
			memcpy(t->st[i].rs, f->st[i].rs, n * sizeof(*t->st[i].rs));
	}
}

static void copy_rc(const struct rc_state *s, struct rc_state *d)
{
	*d = *s;
	d->owned = xcalloc(s->n_owned ? s->n_owned : 1, sizeof(*d->owned));
	if (s->n_owned)
		memcpy(d->owned, s->owned, s->n_owned * sizeof(*d->owned));
	d->cap_owned = s->n_owned;
	d->drains = xcalloc(s->n_drains ? s->n_drains : 1, sizeof(*d->drains));
	if (s->n_drains)
		memcpy(d->drains, s->drains, s->n_drains * sizeof(*d->drains));
	d->cap_drains = s->n_drains;
}

int dd_fwd_plan(struct dd_fwdplane *f, const struct dd_config *cfg, struct ipvs_op **ops, size_t *n_ops,
		char **err)
{
	*ops = NULL;
	*n_ops = 0;
	struct ipvs_table cur = { 0 };
	if (f->need_resync) {
		int r = ipvs_dump(f->h, &cur);
		if (r) {
			dd_seterr(err, "cannot dump the IPVS table: %s", strerror(-r));
			return -1;
		}
	} else {
		for (size_t i = 0; i < f->cur.n; i++)
			ipvs_service_copy(ipvs_table_add(&cur), &f->cur.svc[i]);
	}
	struct dd_fwdplane t;
	copy_index(f, &t);
	index_config(&t, cfg, false);
	struct rc_state rc;
	copy_rc(&f->rc, &rc);
	uint64_t now = mono_ms(), next = 0;
	struct ipvs_table desired;
	ds_build(cfg, t.st, now, &desired, &next);
	struct rc_result res = { 0 };
	rc_diff(&rc, &desired, &cur, now, refresh_cb, f, &res);
	*ops = res.ops;
	*n_ops = res.n_ops;
	res.ops = NULL;
	rc_result_free(&res);
	ipvs_table_free(&desired);
	ipvs_table_free(&cur);
	rc_state_free(&rc);
	free_states(t.st, t.n_svcs);
	free(t.svcs);
	free(t.names);
	return 0;
}

void dd_fwd_foreach_service(struct dd_fwdplane *f, dd_fwd_service_fn fn, void *arg)
{
	struct dd_fwd_rs_view *v = NULL;
	size_t cap = 0;
	for (size_t k = 0; k < f->n_svcs; k++) {
		const struct dd_service *s = f->svcs[k];
		struct ipvs_service key;
		ds_service_from_config(s, &key);
		const struct ipvs_service *ks = ipvs_table_find(&f->cur, &key.key);
		if (s->n_rs > cap) {
			cap = s->n_rs;
			v = xrealloc(v, cap * sizeof(*v));
		}
		for (size_t r = 0; r < s->n_rs; r++) {
			const struct ds_rs_state *st = &f->st[k].rs[r];
			v[r] = (struct dd_fwd_rs_view){
				.admin_drain = st->admin_drain,
				.health = st->health == DS_HEALTH_UP ? 1 : st->health == DS_HEALTH_DOWN ? 0 : -1,
				.up = ds_rs_is_up(&s->rs[r], st),
				.reason = st->reason,
				.kernel = ks ? ipvs_service_find_dest(ks, &s->rs[r].addr, s->rs[r].port) : NULL,
			};
		}
		fn(arg, s, ks, f->st[k].sorry, v);
	}
	free(v);
}
