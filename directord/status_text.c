/* SPDX-License-Identifier: GPL-2.0-or-later */
/* directord/status_text.c: the text writer: `directorctl status`, `plan`,
 * `drain`/`enable` and config errors, rendered from the structures of
 * status.h. Pure formatting on the daemon's main libev loop (and in the
 * unit tests); it asks no part for anything. */
#include "config.h"
#include "directord/status.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

static const char *duration(uint64_t ms, char *buf, size_t len)
{
	uint64_t s = ms / 1000;
	if (s < 60)
		snprintf(buf, len, "%" PRIu64 ".%01" PRIu64 "s", s, (ms % 1000) / 100);
	else if (s < 3600)
		snprintf(buf, len, "%" PRIu64 "m%02" PRIu64 "s", s / 60, s % 60);
	else if (s < 86400)
		snprintf(buf, len, "%" PRIu64 "h%02" PRIu64 "m", s / 3600, (s % 3600) / 60);
	else
		snprintf(buf, len, "%" PRIu64 "d%02" PRIu64 "h", s / 86400, (s % 86400) / 3600);
	return buf;
}

/* "tcp 203.0.113.10:80" or "fwmark 7" */
static const char *service_key(const struct dd_service *s, char *buf, size_t len)
{
	char a[DD_ADDR_STRLEN];
	if (s->proto == DD_PROTO_FWMARK)
		snprintf(buf, len, "fwmark %" PRIu32 "%s", s->fwmark, s->af == AF_INET6 ? " (ipv6)" : "");
	else
		snprintf(buf, len, "%s %s", dd_proto_name(s->proto), dd_addr_port_str(&s->vip, s->port, a, sizeof a));
	return buf;
}

static void text_peer(const struct dd_status *st, struct dd_buf *out)
{
	char d[32];
	if (!st->have_failover) {
		dd_buf_puts(out, "failover: not running\n");
		return;
	}
	const struct dd_st_peer *p = &st->peer;
	if (!p->name[0]) {
		dd_buf_puts(out, "peer: none configured (standalone: clusters are active unless in fault)\n");
		return;
	}
	if (p->last_heartbeat_age_ms < 0)
		dd_buf_printf(out, "peer %s: %s, never heard\n", p->name, p->alive ? "alive" : "dead");
	else
		dd_buf_printf(out, "peer %s: %s, last heartbeat %s ago\n", p->name, p->alive ? "alive" : "dead",
			      duration((uint64_t)p->last_heartbeat_age_ms, d, sizeof d));
	if (p->problem != DD_PEER_OK)
		dd_buf_printf(out, "  PROBLEM (%s): %s\n", dd_peer_problem_name(p->problem),
			      p->problem_text[0] ? p->problem_text : "no details");
	for (size_t i = 0; i < p->n_links; i++) {
		const struct dd_st_link *l = &p->links[i];
		dd_buf_printf(out, "  link %zu %s -> %s%s%s: %s, ", i, l->local, l->remote,
			      l->ifname[0] ? " on " : "", l->ifname, l->up ? "up" : "DOWN");
		if (l->last_rx_age_ms < 0)
			dd_buf_puts(out, "never heard");
		else
			dd_buf_printf(out, "last heard %s ago", duration((uint64_t)l->last_rx_age_ms, d, sizeof d));
		dd_buf_printf(out, ", rx %" PRIu64 " tx %" PRIu64 " errors %" PRIu64 "\n", l->rx, l->tx,
			      l->tx_errors);
	}
}

static void text_rs(const struct dd_status *st, const struct dd_st_rs *x, int width, struct dd_buf *out)
{
	char a[DD_ADDR_STRLEN];
	const struct dd_real_server *rs = x->cfg;
	dd_buf_printf(out, "    %-*s", width, dd_addr_port_str(&rs->addr, rs->port, a, sizeof a));
	if (rs->check.type == DD_CHECK_NONE)
		dd_buf_puts(out, " unchecked");
	else if (x->health.known)
		dd_buf_printf(out, " %-4s (%s %s)", x->health.up ? "UP" : "DOWN", dd_check_type_name(rs->check.type),
			      x->health.reason && x->health.reason[0] ? x->health.reason : "no result yet");
	else
		dd_buf_printf(out, " health unknown (%s)", dd_check_type_name(rs->check.type));
	if (x->have_admin && x->drained)
		dd_buf_puts(out, " DRAINED (maintenance)");
	const struct dd_st_kernel_rs *k = &x->kernel;
	if (k->present && k->have_counters)
		dd_buf_printf(out, " weight %" PRIu32 "/%" PRIu32 " active %" PRIu32 " inactive %" PRIu32
			      " cps %" PRIu64 " in %" PRIu64 " B/s out %" PRIu64 " B/s\n",
			      k->weight, rs->weight, k->active_conns, k->inact_conns, k->stats.cps,
			      k->stats.inbps, k->stats.outbps);
	else if (k->present)
		dd_buf_printf(out, " weight %" PRIu32 "/%" PRIu32 " (no counters)\n", k->weight, rs->weight);
	else
		dd_buf_printf(out, " weight -/%" PRIu32 "%s\n", rs->weight, st->have_fwd ? " (not in IPVS)" : "");
}

static void text_service(const struct dd_status *st, const struct dd_st_service *m, struct dd_buf *out)
{
	char k[96], a[DD_ADDR_STRLEN];
	const struct dd_service *sv = m->cfg;
	dd_buf_printf(out, "  service %s: %s, %s, %s\n", sv->name, service_key(sv, k, sizeof k), sv->scheduler,
		      dd_fwd_name(sv->fwd));
	/* One column for the addresses of a service, as wide as its longest
	 * (IPv6 ones do not fit the IPv4 width). */
	int width = 22;
	for (size_t r = 0; r < m->n_rs; r++) {
		int n = (int)strlen(dd_addr_port_str(&m->rs[r].cfg->addr, m->rs[r].cfg->port, a, sizeof a));
		if (n > width)
			width = n;
	}
	for (size_t r = 0; r < m->n_rs; r++)
		text_rs(st, &m->rs[r], width, out);
	if (sv->has_sorry)
		dd_buf_printf(out, "    sorry server %s: %s\n",
			      dd_addr_port_str(&sv->sorry_addr, sv->sorry_port, a, sizeof a),
			      !m->sorry_known ? "state unknown" :
			      m->sorry_serving ? "SERVING (quorum lost)" : "standby");
}

void dd_status_text(const struct dd_status *st, struct dd_buf *out)
{
	char d[32], a[DD_ADDR_STRLEN];
	dd_buf_printf(out, "node %s: %s, pid %ld, up %s\n", st->node, PACKAGE_STRING, st->pid,
		      duration(st->uptime_ms, d, sizeof d));
	dd_buf_printf(out, "config %s: %u reload%s, %u rejected\n", st->conf_path, st->reloads,
		      st->reloads == 1 ? "" : "s", st->reload_failures);
	if (st->snmp.built && !st->snmp.enabled)
		dd_buf_printf(out, "snmp: disabled\n");
	else if (st->snmp.built)
		dd_buf_printf(out, "snmp: AgentX subagent %s %s, %" PRIu64 " variables answered, %" PRIu64
			      " notifications sent, %u reconnect%s\n",
			      st->snmp.connected ? "connected to" : "NOT connected (retrying every second) to",
			      st->snmp.socket, st->snmp.requests, st->snmp.traps, st->snmp.reconnects,
			      st->snmp.reconnects == 1 ? "" : "s");
	if (st->have_fwd)
		dd_buf_printf(out, "ipvs: %" PRIu64 " reconcile passes, %" PRIu64 " operations (%" PRIu64
			      " failed), %zu real servers draining\n",
			      st->fwd.passes, st->fwd.ops, st->fwd.ops_failed, st->fwd.n_draining);
	if (st->have_health)
		dd_buf_printf(out, "health: %zu checks for %zu real servers, %u in flight, timer slip p50 %.1f ms,"
			      " p99 %.1f ms, max %.1f ms\n",
			      st->health.n_probes, st->health.n_subscribers, st->health.in_flight,
			      st->health.slip_p50_ms, st->health.slip_p99_ms, st->health.slip_max_ms);
	if (st->ecmp.present) {
		dd_buf_printf(out, "ecmp: device %s, director %s", st->ecmp.device[0] ? st->ecmp.device : "?",
			      st->ecmp.stopping ? "stopping" : st->ecmp.drain);
		if (strcmp(st->ecmp.drain, "serving") != 0 || st->ecmp.stopping)
			dd_buf_printf(out, " for %s, %" PRIu64 " connection%s at the last look",
				      duration(st->ecmp.drain_ms, d, sizeof d), st->ecmp.conns,
				      st->ecmp.conns == 1 ? "" : "s");
		dd_buf_puts(out, "\n");
	}
	text_peer(st, out);
	for (size_t i = 0; i < st->n_track; i++) {
		const struct dd_track_script_status *t = &st->track[i];
		dd_buf_printf(out, "track script %s: %s", t->name,
			      !t->known ? "no result yet" : t->ok ? "OK" : "FAILED");
		if (t->known)
			dd_buf_printf(out, " (%u in a row)", t->consecutive);
		dd_buf_printf(out, ", weight %d, %" PRIu64 " runs, %" PRIu64 " failed, %" PRIu64 " timed out",
			      (int)t->weight, t->runs, t->failures, t->timeouts);
		if (t->runs)
			dd_buf_printf(out, "; last: %s, %s ago", t->last_result,
				      duration((uint64_t)t->last_run_age_ms, d, sizeof d));
		dd_buf_puts(out, t->running ? "; running\n" : "\n");
	}
	for (size_t i = 0; i < st->n_clusters; i++) {
		const struct dd_st_cluster *c = &st->clusters[i];
		const struct dd_cluster *cl = c->cfg;
		if (c->have_role) {
			dd_buf_printf(out, "\ncluster %s: %s for %s, priority %u", cl->name,
				      dd_role_name(c->role), duration(c->in_role_ms, d, sizeof d),
				      (unsigned)c->priority);
			if (c->priority != cl->priority)
				dd_buf_printf(out, " (configured %" PRIu32 ")", cl->priority);
			dd_buf_puts(out, "; ");
			if (cl->mode == DD_MODE_ECMP)
				dd_buf_puts(out, "ECMP mode, no peer\n"); /* every healthy director is active */
			else if (st->peer.name[0] && c->peer_known)
				dd_buf_printf(out, "peer %s, priority %u\n", dd_role_name(c->peer_role),
					      (unsigned)c->peer_priority);
			else if (st->peer.name[0])
				dd_buf_puts(out, "peer unknown\n"); /* dead, or not running it */
			else
				dd_buf_puts(out, "no peer\n");
		} else {
			dd_buf_printf(out, "\ncluster %s: role unknown, priority %" PRIu32 "\n", cl->name,
				      cl->priority);
		}
		if (c->have_role && cl->mode == DD_MODE_ECMP && c->ecmp_why == DD_ECMP_ANNOUNCED)
			dd_buf_printf(out, "  ecmp: announced (%zu VIP%s on %s)\n", c->ecmp_announced,
				      c->ecmp_announced == 1 ? "" : "s", st->ecmp.device);
		else if (c->have_role && cl->mode == DD_MODE_ECMP)
			dd_buf_printf(out, "  ecmp: %s (%zu of %zu VIPs announced): %s%s%s\n",
				      c->ecmp_announced ? "partly announced" : "withdrawn", c->ecmp_announced,
				      cl->n_vips, dd_ecmp_why_name(c->ecmp_why),
				      c->ecmp_service[0] ? ", service " : "", c->ecmp_service);
		if (c->have_role && c->vips_missing)
			dd_buf_printf(out, "  %zu VIP%s MISSING: could not be added, retried every second\n",
				      c->vips_missing, c->vips_missing == 1 ? "" : "s");
		for (size_t v = 0; v < cl->n_vips; v++)
			dd_buf_printf(out, "  vip %s/%d on %s\n", dd_addr_str(&cl->vips[v].addr, a, sizeof a),
				      cl->vips[v].prefix, cl->vips[v].ifname);
		for (size_t s = 0; s < c->n_services; s++)
			text_service(st, &c->services[s], out);
	}
}

/* ---- plan, admin, errors ------------------------------------------------ */

static void text_op(const struct ipvs_op *op, struct dd_buf *out)
{
	char k[DD_ADDR_STRLEN + 32], a[DD_ADDR_STRLEN];
	const char *name = op->svc.name[0] ? op->svc.name : "?";
	ipvs_svc_key_str(&op->svc.key, k, sizeof k);
	dd_addr_port_str(&op->dest.addr, op->dest.port, a, sizeof a);
	switch (op->type) {
	case IPVS_OP_ADD_SVC:
		dd_buf_printf(out, "  ipvs add service %s (%s), scheduler %s", name, k, op->svc.sched);
		break;
	case IPVS_OP_EDIT_SVC:
		dd_buf_printf(out, "  ipvs update service %s (%s), scheduler %s", name, k, op->svc.sched);
		break;
	case IPVS_OP_DEL_SVC:
		dd_buf_printf(out, "  ipvs delete service %s (%s)", name, k);
		break;
	case IPVS_OP_ADD_DEST:
		dd_buf_printf(out, "  ipvs add real server %s to %s, %s, weight %" PRIu32, a, name,
			      ipvs_fwd_name(op->dest.fwd), op->dest.weight);
		break;
	case IPVS_OP_EDIT_DEST:
		dd_buf_printf(out, "  ipvs update real server %s in %s, %s, weight %" PRIu32 " -> %" PRIu32, a,
			      name, ipvs_fwd_name(op->dest.fwd), op->old_weight, op->dest.weight);
		break;
	case IPVS_OP_DEL_DEST:
		dd_buf_printf(out, "  ipvs delete real server %s from %s", a, name);
		break;
	}
	dd_buf_printf(out, " (%s)\n", op->reason ? op->reason : "");
}

void dd_plan_text(const struct dd_plan *p, struct dd_buf *out)
{
	char a[DD_ADDR_STRLEN];
	dd_buf_printf(out, "plan for %s:\n", p->file);
	for (size_t i = 0; i < p->n_vips; i++) {
		const struct dd_plan_vip *v = &p->vips[i];
		dd_buf_printf(out, "  vip %s %s/%d on %s (cluster %s%s)\n", v->add ? "add" : "remove",
			      dd_addr_str(&v->vip->addr, a, sizeof a), v->vip->prefix, v->vip->ifname, v->cluster,
			      v->now < 0 ? "" : v->now ? ", active: now" : ", not active: at takeover");
	}
	if (p->n_vips == 0)
		dd_buf_puts(out, "  no VIP changes\n");
	if (!p->have_ipvs)
		dd_buf_puts(out, "  ipvs: the forwarding plane is not running\n");
	else if (p->n_ops == 0)
		dd_buf_puts(out, "  no IPVS changes\n");
	for (size_t i = 0; p->have_ipvs && i < p->n_ops; i++)
		text_op(&p->ops[i], out);
}

void dd_admin_text(const struct dd_admin_result *r, struct dd_buf *out)
{
	char a[DD_ADDR_STRLEN];
	for (size_t i = 0; i < r->n; i++)
		dd_buf_printf(out, "%s %s in service %s\n", r->drain ? "drained" : "enabled",
			      dd_addr_port_str(&r->v[i].rs->addr, r->v[i].rs->port, a, sizeof a), r->v[i].service);
}

void dd_ack_text(const struct dd_ack *a, struct dd_buf *out)
{
	switch (a->kind) {
	case DD_ACK_CHECK:
		dd_buf_printf(out, "%s: configuration OK (%zu cluster%s, %zu service%s, %zu real server%s)\n",
			      a->file, a->clusters, a->clusters == 1 ? "" : "s", a->services,
			      a->services == 1 ? "" : "s", a->real_servers, a->real_servers == 1 ? "" : "s");
		break;
	case DD_ACK_RELOAD:
		dd_buf_printf(out, "reloaded %s\n", a->file);
		break;
	case DD_ACK_HANDOVER:
		dd_buf_printf(out, "%s of cluster %s requested; the role change follows (see status)\n",
			      a->takeover ? "takeover" : "release", a->cluster);
		break;
	case DD_ACK_DRAIN_DIRECTOR:
		if (a->drain)
			dd_buf_printf(out, "director drained: every ECMP VIP withdrawn; established connections "
				      "are served for at most %" PRIu32 " s (see status)\n", a->drain_timeout_s);
		else
			dd_buf_puts(out, "director undrained: the healthy ECMP VIPs are announced again\n");
		break;
	}
}

void dd_conf_errors_text(const struct dd_conf_errors *errs, const char *path, struct dd_buf *out)
{
	for (size_t i = 0; i < errs->n; i++) {
		if (errs->v[i].line > 0)
			dd_buf_printf(out, "%s:%d: %s\n", errs->v[i].file, errs->v[i].line, errs->v[i].msg);
		else
			dd_buf_printf(out, "%s: %s\n", errs->v[i].file, errs->v[i].msg);
	}
	dd_buf_printf(out, "%s: %zu error%s\n", path, errs->n, errs->n == 1 ? "" : "s");
}
