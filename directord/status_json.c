/* SPDX-License-Identifier: GPL-2.0-or-later */
/* directord/status_json.c: the JSON writer (`directorctl --json`): status,
 * plan, drain/enable and config errors, from the structures of status.h,
 * through the streaming emitter of json.h. A part that is not running
 * shows as null, never as made-up zeros. Pure formatting on the daemon's
 * main libev loop (and in the unit tests). */
#include "config.h"
#include "directord/status.h"

#include <stdio.h>

static void json_age(struct dd_json *j, const char *key, int64_t ms)
{
	dd_json_kint(j, key, ms < 0 ? -1 : ms);
}

static void json_nulls(struct dd_json *j, const char *const *keys, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		dd_json_key(j, keys[i]);
		dd_json_null(j);
	}
}

static const char *const stat_keys[] = { "conns", "inpkts", "outpkts", "inbytes", "outbytes",
					 "cps", "inpps", "outpps", "inbps", "outbps" };

/* Counters, or null for each when the dump failed. */
static void json_stats(struct dd_json *j, bool have, const struct ipvs_stats *s)
{
	if (!have) {
		json_nulls(j, stat_keys, sizeof stat_keys / sizeof *stat_keys);
		return;
	}
	const uint64_t v[] = { s->conns, s->inpkts, s->outpkts, s->inbytes, s->outbytes,
			       s->cps, s->inpps, s->outpps, s->inbps, s->outbps };
	for (size_t i = 0; i < sizeof v / sizeof *v; i++)
		dd_json_kuint(j, stat_keys[i], v[i]);
}

static void json_rs(const struct dd_status *st, const struct dd_st_rs *x, struct dd_json *j)
{
	char a[DD_ADDR_STRLEN];
	const struct dd_real_server *rs = x->cfg;
	dd_json_obj_begin(j);
	dd_json_kstr(j, "address", dd_addr_str(&rs->addr, a, sizeof a));
	dd_json_kuint(j, "port", rs->port);
	dd_json_kuint(j, "weight", rs->weight);
	dd_json_kstr(j, "forwarding", dd_fwd_name(rs->fwd));
	dd_json_kstr(j, "check", dd_check_type_name(rs->check.type));
	dd_json_kstr(j, "admin", !x->have_admin ? NULL : x->drained ? "drained" : "enabled");
	dd_json_key(j, "health");
	if (x->health.known) {
		dd_json_obj_begin(j);
		dd_json_kbool(j, "up", x->health.up);
		dd_json_kstr(j, "reason", x->health.reason ? x->health.reason : "");
		dd_json_kuint(j, "in_state_ms", (uint64_t)(x->health.in_state_s * 1000));
		dd_json_kuint(j, "checks", x->health.checks);
		dd_json_kuint(j, "failed", x->health.failed);
		dd_json_kuint(j, "transitions", x->health.transitions);
		dd_json_obj_end(j);
	} else {
		dd_json_null(j);
	}
	const struct dd_st_kernel_rs *k = &x->kernel;
	dd_json_key(j, "ipvs");
	if (k->present) {
		dd_json_obj_begin(j);
		dd_json_kuint(j, "weight", k->weight);
		dd_json_kstr(j, "forwarding", ipvs_fwd_name(k->fwd));
		static const char *const conn_keys[] = { "active_conns", "inactive_conns", "persistent_conns" };
		if (k->have_counters) {
			dd_json_kuint(j, conn_keys[0], k->active_conns);
			dd_json_kuint(j, conn_keys[1], k->inact_conns);
			dd_json_kuint(j, conn_keys[2], k->persist_conns);
		} else {
			json_nulls(j, conn_keys, 3);
		}
		json_stats(j, k->have_counters, &k->stats);
		dd_json_obj_end(j);
	} else {
		dd_json_null(j);
	}
	dd_json_obj_end(j);
}

static void json_service(const struct dd_status *st, const struct dd_st_service *m, struct dd_json *j)
{
	char a[DD_ADDR_STRLEN];
	const struct dd_service *s = m->cfg;
	dd_json_obj_begin(j);
	dd_json_kstr(j, "name", s->name);
	dd_json_kstr(j, "protocol", dd_proto_name(s->proto));
	if (s->proto == DD_PROTO_FWMARK) {
		dd_json_key(j, "vip");
		dd_json_null(j);
		dd_json_kuint(j, "fwmark", s->fwmark);
	} else {
		dd_json_kstr(j, "vip", dd_addr_str(&s->vip, a, sizeof a));
		dd_json_kuint(j, "port", s->port);
	}
	dd_json_kstr(j, "scheduler", s->scheduler);
	dd_json_kstr(j, "forwarding", dd_fwd_name(s->fwd));
	dd_json_key(j, "ipvs");
	if (m->in_kernel) {
		dd_json_obj_begin(j);
		dd_json_kstr(j, "scheduler", m->sched);
		json_stats(j, m->have_counters, &m->stats);
		dd_json_obj_end(j);
	} else {
		dd_json_null(j);
	}
	dd_json_key(j, "sorry_server");
	if (s->has_sorry) {
		dd_json_obj_begin(j);
		dd_json_kstr(j, "address", dd_addr_str(&s->sorry_addr, a, sizeof a));
		dd_json_kuint(j, "port", s->sorry_port);
		dd_json_key(j, "serving");
		if (m->sorry_known)
			dd_json_bool(j, m->sorry_serving);
		else
			dd_json_null(j);
		dd_json_obj_end(j);
	} else {
		dd_json_null(j);
	}
	dd_json_key(j, "real_servers");
	dd_json_arr_begin(j);
	for (size_t i = 0; i < m->n_rs; i++)
		json_rs(st, &m->rs[i], j);
	dd_json_arr_end(j);
	dd_json_obj_end(j);
}

/* Track scripts: "state" is "ok", "failed" or "unknown" (no result yet). */
static void json_track(const struct dd_status *st, struct dd_json *j)
{
	dd_json_key(j, "track_scripts");
	dd_json_arr_begin(j);
	for (size_t i = 0; i < st->n_track; i++) {
		const struct dd_track_script_status *t = &st->track[i];
		dd_json_obj_begin(j);
		dd_json_kstr(j, "name", t->name);
		dd_json_kstr(j, "state", !t->known ? "unknown" : t->ok ? "ok" : "failed");
		dd_json_kint(j, "weight", t->weight);
		dd_json_kbool(j, "running", t->running);
		dd_json_kuint(j, "consecutive", t->consecutive);
		dd_json_kuint(j, "runs", t->runs);
		dd_json_kuint(j, "failures", t->failures);
		dd_json_kuint(j, "timeouts", t->timeouts);
		dd_json_kstr(j, "last_result", t->runs ? t->last_result : NULL);
		dd_json_key(j, "last_run_age_ms");
		if (t->last_run_age_ms >= 0)
			dd_json_int(j, t->last_run_age_ms);
		else
			dd_json_null(j);
		dd_json_obj_end(j);
	}
	dd_json_arr_end(j);
}

static void json_cluster(const struct dd_status *st, const struct dd_st_cluster *c, struct dd_json *j)
{
	char a[DD_ADDR_STRLEN];
	const struct dd_cluster *cl = c->cfg;
	dd_json_obj_begin(j);
	dd_json_kstr(j, "name", cl->name);
	dd_json_kstr(j, "mode", dd_mode_name(cl->mode));
	dd_json_kuint(j, "priority", cl->priority);
	dd_json_key(j, "ecmp");
	if (cl->mode == DD_MODE_ECMP && c->have_role) {
		dd_json_obj_begin(j);
		dd_json_kbool(j, "announced", c->ecmp_why == DD_ECMP_ANNOUNCED);
		dd_json_kuint(j, "vips_announced", c->ecmp_announced);
		dd_json_kstr(j, "why", dd_ecmp_why_name(c->ecmp_why));
		dd_json_kstr(j, "service", c->ecmp_service[0] ? c->ecmp_service : NULL);
		dd_json_obj_end(j);
	} else {
		dd_json_null(j);
	}
	if (c->have_role) {
		dd_json_kstr(j, "role", dd_role_name(c->role));
		dd_json_kuint(j, "in_role_ms", c->in_role_ms);
		dd_json_kstr(j, "peer_role", !st->peer.name[0] || cl->mode == DD_MODE_ECMP ? NULL :
			     c->peer_known ? dd_role_name(c->peer_role) : "unknown");
		dd_json_kuint(j, "peer_priority", c->peer_priority);
		dd_json_kbool(j, "vips_up", c->vips_up);
		dd_json_kuint(j, "vips_missing", c->vips_missing);
		dd_json_kuint(j, "effective_priority", c->priority);
		dd_json_kstr(j, "why", dd_fsm_why_name(c->why));
	} else {
		static const char *const unknown[] = { "role", "in_role_ms", "peer_role", "peer_priority", "vips_up",
						       "vips_missing", "effective_priority", "why" };
		json_nulls(j, unknown, sizeof unknown / sizeof *unknown);
	}
	dd_json_key(j, "vips");
	dd_json_arr_begin(j);
	for (size_t i = 0; i < cl->n_vips; i++) {
		dd_json_obj_begin(j);
		dd_json_kstr(j, "address", dd_addr_str(&cl->vips[i].addr, a, sizeof a));
		dd_json_kint(j, "prefix", cl->vips[i].prefix);
		dd_json_kstr(j, "interface", cl->vips[i].ifname);
		dd_json_obj_end(j);
	}
	dd_json_arr_end(j);
	dd_json_key(j, "services");
	dd_json_arr_begin(j);
	for (size_t i = 0; i < c->n_services; i++)
		json_service(st, &c->services[i], j);
	dd_json_arr_end(j);
	dd_json_obj_end(j);
}

static void json_peer(const struct dd_status *st, struct dd_json *j)
{
	dd_json_key(j, "peer");
	const struct dd_st_peer *p = &st->peer;
	if (!st->have_failover || !p->name[0]) { /* no failover, or standalone */
		dd_json_null(j);
		return;
	}
	dd_json_obj_begin(j);
	dd_json_kstr(j, "name", p->name);
	dd_json_kbool(j, "alive", p->alive);
	json_age(j, "last_heartbeat_age_ms", p->last_heartbeat_age_ms);
	dd_json_kuint(j, "generation", p->generation);
	dd_json_kuint(j, "peer_generation", p->peer_generation);
	dd_json_kuint(j, "interval_ms", p->interval_ms);
	dd_json_kuint(j, "dead_ms", p->dead_ms);
	dd_json_kuint(j, "rx", p->rx);
	dd_json_kuint(j, "tx", p->tx);
	dd_json_key(j, "dropped");
	dd_json_obj_begin(j);
	dd_json_kuint(j, "malformed", p->malformed);
	dd_json_kuint(j, "bad_version", p->bad_version);
	dd_json_kuint(j, "bad_auth", p->bad_auth);
	dd_json_kuint(j, "replayed", p->replayed);
	dd_json_kuint(j, "unknown_sender", p->unknown_sender);
	dd_json_kuint(j, "unproven", p->unproven);
	dd_json_obj_end(j);
	dd_json_key(j, "problem");
	if (p->problem != DD_PEER_OK) {
		dd_json_obj_begin(j);
		dd_json_kstr(j, "kind", dd_peer_problem_name(p->problem));
		dd_json_kstr(j, "message", p->problem_text);
		dd_json_obj_end(j);
	} else {
		dd_json_null(j);
	}
	dd_json_key(j, "links");
	dd_json_arr_begin(j);
	for (size_t i = 0; i < p->n_links; i++) {
		const struct dd_st_link *l = &p->links[i];
		dd_json_obj_begin(j);
		dd_json_kstr(j, "local", l->local);
		dd_json_kstr(j, "remote", l->remote);
		dd_json_kstr(j, "interface", l->ifname[0] ? l->ifname : NULL);
		dd_json_kbool(j, "up", l->up);
		json_age(j, "last_rx_age_ms", l->last_rx_age_ms);
		dd_json_kuint(j, "rx", l->rx);
		dd_json_kuint(j, "tx", l->tx);
		dd_json_kuint(j, "tx_errors", l->tx_errors);
		dd_json_obj_end(j);
	}
	dd_json_arr_end(j);
	dd_json_obj_end(j);
}

void dd_status_json(const struct dd_status *st, struct dd_buf *out)
{
	struct dd_json j;
	dd_json_init(&j, out, false); /* directorctl indents it */
	dd_json_obj_begin(&j);
	dd_json_kstr(&j, "node", st->node);
	dd_json_kstr(&j, "version", PACKAGE_VERSION);
	dd_json_kint(&j, "pid", st->pid);
	dd_json_kuint(&j, "uptime_ms", st->uptime_ms);
	dd_json_key(&j, "config");
	dd_json_obj_begin(&j);
	dd_json_kstr(&j, "path", st->conf_path);
	dd_json_kuint(&j, "reloads", st->reloads);
	dd_json_kuint(&j, "reload_failures", st->reload_failures);
	dd_json_obj_end(&j);
	dd_json_key(&j, "available");
	dd_json_obj_begin(&j);
	dd_json_kbool(&j, "failover", st->have_failover);
	dd_json_kbool(&j, "forwarding", st->have_fwd);
	dd_json_kbool(&j, "health", st->have_health);
	dd_json_obj_end(&j);
	if (st->snmp.built) {
		dd_json_key(&j, "snmp");
		dd_json_obj_begin(&j);
		dd_json_kbool(&j, "enabled", st->snmp.enabled);
		dd_json_kbool(&j, "connected", st->snmp.connected);
		dd_json_kstr(&j, "agentx_socket", st->snmp.enabled ? st->snmp.socket : NULL);
		dd_json_kuint(&j, "requests", st->snmp.requests);
		dd_json_kuint(&j, "notifications", st->snmp.traps);
		dd_json_kuint(&j, "reconnects", st->snmp.reconnects);
		dd_json_obj_end(&j);
	}
	dd_json_key(&j, "forwarding_plane");
	if (st->have_fwd) {
		dd_json_obj_begin(&j);
		dd_json_kuint(&j, "reconcile_passes", st->fwd.passes);
		dd_json_kuint(&j, "operations", st->fwd.ops);
		dd_json_kuint(&j, "operations_failed", st->fwd.ops_failed);
		dd_json_kuint(&j, "draining", st->fwd.n_draining);
		dd_json_kbool(&j, "counters", st->have_counters);
		dd_json_obj_end(&j);
	} else {
		dd_json_null(&j);
	}
	dd_json_key(&j, "health_checker");
	if (st->have_health) {
		dd_json_obj_begin(&j);
		dd_json_kuint(&j, "checks", st->health.n_probes);
		dd_json_kuint(&j, "real_servers", st->health.n_subscribers);
		dd_json_kuint(&j, "in_flight", st->health.in_flight);
		dd_json_kuint(&j, "started", st->health.started);
		dd_json_kuint(&j, "skipped", st->health.skipped);
		dd_json_kdouble(&j, "slip_p50_ms", st->health.slip_p50_ms);
		dd_json_kdouble(&j, "slip_p99_ms", st->health.slip_p99_ms);
		dd_json_kdouble(&j, "slip_max_ms", st->health.slip_max_ms);
		dd_json_obj_end(&j);
	} else {
		dd_json_null(&j);
	}
	dd_json_key(&j, "ecmp");
	if (st->ecmp.present) {
		dd_json_obj_begin(&j);
		dd_json_kstr(&j, "device", st->ecmp.device);
		dd_json_kstr(&j, "director", st->ecmp.stopping ? "stopping" : st->ecmp.drain);
		dd_json_kuint(&j, "drain_ms", st->ecmp.drain_ms);
		dd_json_kuint(&j, "connections", st->ecmp.conns);
		dd_json_obj_end(&j);
	} else {
		dd_json_null(&j);
	}
	json_peer(st, &j);
	json_track(st, &j);
	dd_json_key(&j, "clusters");
	dd_json_arr_begin(&j);
	for (size_t i = 0; i < st->n_clusters; i++)
		json_cluster(st, &st->clusters[i], &j);
	dd_json_arr_end(&j);
	dd_json_obj_end(&j);
}

/* ---- plan, admin, errors ------------------------------------------------ */

static const char *const op_names[] = {
	[IPVS_OP_ADD_SVC] = "add_service", [IPVS_OP_EDIT_SVC] = "edit_service",
	[IPVS_OP_DEL_SVC] = "delete_service", [IPVS_OP_ADD_DEST] = "add_server",
	[IPVS_OP_EDIT_DEST] = "edit_server", [IPVS_OP_DEL_DEST] = "delete_server",
};

static void json_op(const struct ipvs_op *op, struct dd_json *j)
{
	char k[DD_ADDR_STRLEN + 32], a[DD_ADDR_STRLEN];
	dd_json_obj_begin(j);
	dd_json_kstr(j, "op", op_names[op->type]);
	dd_json_kstr(j, "service", op->svc.name[0] ? op->svc.name : NULL);
	dd_json_kstr(j, "key", ipvs_svc_key_str(&op->svc.key, k, sizeof k));
	if (op->type >= IPVS_OP_ADD_DEST) {
		dd_json_kstr(j, "server", dd_addr_port_str(&op->dest.addr, op->dest.port, a, sizeof a));
		dd_json_kstr(j, "forwarding", ipvs_fwd_name(op->dest.fwd));
		dd_json_kuint(j, "weight", op->dest.weight);
		if (op->type == IPVS_OP_EDIT_DEST)
			dd_json_kuint(j, "old_weight", op->old_weight);
	} else if (op->type != IPVS_OP_DEL_SVC) {
		dd_json_kstr(j, "scheduler", op->svc.sched);
	}
	dd_json_kstr(j, "reason", op->reason);
	dd_json_obj_end(j);
}

void dd_plan_json(const struct dd_plan *p, struct dd_buf *out)
{
	char a[DD_ADDR_STRLEN];
	struct dd_json j;
	dd_json_init(&j, out, true);
	dd_json_obj_begin(&j);
	dd_json_kstr(&j, "file", p->file);
	dd_json_key(&j, "vips");
	dd_json_arr_begin(&j);
	for (size_t i = 0; i < p->n_vips; i++) {
		const struct dd_plan_vip *v = &p->vips[i];
		dd_json_obj_begin(&j);
		dd_json_kstr(&j, "action", v->add ? "add" : "remove");
		dd_json_kstr(&j, "cluster", v->cluster);
		dd_json_kstr(&j, "address", dd_addr_str(&v->vip->addr, a, sizeof a));
		dd_json_kint(&j, "prefix", v->vip->prefix);
		dd_json_kstr(&j, "interface", v->vip->ifname);
		dd_json_key(&j, "now");
		if (v->now < 0)
			dd_json_null(&j);
		else
			dd_json_bool(&j, v->now);
		dd_json_obj_end(&j);
	}
	dd_json_arr_end(&j);
	dd_json_key(&j, "ipvs");
	if (p->have_ipvs) {
		dd_json_arr_begin(&j);
		for (size_t i = 0; i < p->n_ops; i++)
			json_op(&p->ops[i], &j);
		dd_json_arr_end(&j);
	} else {
		dd_json_null(&j);
	}
	dd_json_obj_end(&j);
}

void dd_admin_json(const struct dd_admin_result *r, struct dd_buf *out)
{
	char a[DD_ADDR_STRLEN];
	struct dd_json j;
	dd_json_init(&j, out, true);
	dd_json_obj_begin(&j);
	dd_json_kstr(&j, "action", r->drain ? "drain" : "enable");
	dd_json_key(&j, "real_servers");
	dd_json_arr_begin(&j);
	for (size_t i = 0; i < r->n; i++) {
		dd_json_obj_begin(&j);
		dd_json_kstr(&j, "service", r->v[i].service);
		dd_json_kstr(&j, "address", dd_addr_str(&r->v[i].rs->addr, a, sizeof a));
		dd_json_kuint(&j, "port", r->v[i].rs->port);
		dd_json_obj_end(&j);
	}
	dd_json_arr_end(&j);
	dd_json_obj_end(&j);
}

void dd_ack_json(const struct dd_ack *a, struct dd_buf *out)
{
	struct dd_json j;
	dd_json_init(&j, out, true);
	dd_json_obj_begin(&j);
	switch (a->kind) {
	case DD_ACK_CHECK:
		dd_json_kstr(&j, "file", a->file);
		dd_json_kbool(&j, "valid", true);
		dd_json_kuint(&j, "clusters", a->clusters);
		dd_json_kuint(&j, "services", a->services);
		dd_json_kuint(&j, "real_servers", a->real_servers);
		break;
	case DD_ACK_RELOAD:
		dd_json_kstr(&j, "file", a->file);
		dd_json_kbool(&j, "reloaded", true);
		dd_json_kuint(&j, "reloads", a->reloads);
		break;
	case DD_ACK_HANDOVER:
		dd_json_kstr(&j, "cluster", a->cluster);
		dd_json_kstr(&j, "requested", a->takeover ? "takeover" : "release");
		break;
	case DD_ACK_DRAIN_DIRECTOR:
		dd_json_kbool(&j, "drained", a->drain);
		dd_json_kuint(&j, "drain_timeout_s", a->drain_timeout_s);
		break;
	}
	dd_json_obj_end(&j);
}

void dd_conf_errors_json(const struct dd_conf_errors *errs, const char *path, struct dd_buf *out)
{
	struct dd_json j;
	dd_json_init(&j, out, true);
	dd_json_obj_begin(&j);
	dd_json_kstr(&j, "error", "failed");
	dd_json_kstr(&j, "file", path);
	dd_json_kbool(&j, "valid", false);
	dd_json_key(&j, "errors");
	dd_json_arr_begin(&j);
	for (size_t i = 0; i < errs->n; i++) {
		dd_json_obj_begin(&j);
		dd_json_kstr(&j, "file", errs->v[i].file);
		dd_json_kint(&j, "line", errs->v[i].line);
		dd_json_kstr(&j, "message", errs->v[i].msg);
		dd_json_obj_end(&j);
	}
	dd_json_arr_end(&j);
	dd_json_obj_end(&j);
}
