/* SPDX-License-Identifier: GPL-2.0-or-later */
/* directord/status_prom.c: the Prometheus writer: the metrics exposition
 * (`directorctl metrics` and the HTTP listener) from the status model,
 * through the low-level emitter of metrics.h. Series of a part that is not
 * running are absent, not zero. Pure formatting on the daemon's main libev
 * loop (and in the unit tests). */
#include "config.h"
#include "directord/status.h"
#include "directord/metrics.h"
#include "lib/util.h"

#include <stdio.h>
#include <stdlib.h>

static void prom_failover(const struct dd_status *st, struct dd_prom *p)
{
	if (!st->have_failover)
		return;
	dd_prom_family(p, "directord_cluster_role", "gauge",
		       "1 for the role this director has for a cluster, 0 for the others.");
	for (size_t i = 0; i < st->n_clusters; i++)
		for (int r = 0; st->clusters[i].have_role && r <= DD_ROLE_MAX; r++)
			dd_prom_sample(p, "directord_cluster_role", st->clusters[i].role == (enum dd_role)r,
				       "cluster", st->clusters[i].cfg->name, "role", dd_role_name((enum dd_role)r), NULL);
	dd_prom_family(p, "directord_cluster_role_seconds", "gauge", "Seconds in the current role.");
	for (size_t i = 0; i < st->n_clusters; i++)
		if (st->clusters[i].have_role)
			dd_prom_sample(p, "directord_cluster_role_seconds", (double)st->clusters[i].in_role_ms / 1000,
				       "cluster", st->clusters[i].cfg->name, NULL);
	dd_prom_family(p, "directord_cluster_priority", "gauge",
		       "Effective priority: the configured one moved by track scripts' weights.");
	for (size_t i = 0; i < st->n_clusters; i++)
		if (st->clusters[i].have_role)
			dd_prom_sample_u64(p, "directord_cluster_priority", st->clusters[i].priority,
					   "cluster", st->clusters[i].cfg->name, NULL);
	dd_prom_family(p, "directord_cluster_vips_up", "gauge", "1 if this director holds the cluster's VIPs.");
	for (size_t i = 0; i < st->n_clusters; i++)
		if (st->clusters[i].have_role)
			dd_prom_sample(p, "directord_cluster_vips_up", st->clusters[i].vips_up,
				       "cluster", st->clusters[i].cfg->name, NULL);
	dd_prom_family(p, "directord_cluster_vips_missing", "gauge",
		       "VIPs an active director could not add (retried every second).");
	for (size_t i = 0; i < st->n_clusters; i++)
		if (st->clusters[i].have_role)
			dd_prom_sample_u64(p, "directord_cluster_vips_missing", st->clusters[i].vips_missing,
					   "cluster", st->clusters[i].cfg->name, NULL);
	dd_prom_family(p, "directord_ecmp_announced", "gauge",
		       "ECMP cluster: 1 if every VIP is announced to the routers (on the ecmp device).");
	for (size_t i = 0; i < st->n_clusters; i++)
		if (st->clusters[i].have_role && st->clusters[i].cfg->mode == DD_MODE_ECMP)
			dd_prom_sample(p, "directord_ecmp_announced", st->clusters[i].ecmp_why == DD_ECMP_ANNOUNCED,
				       "cluster", st->clusters[i].cfg->name, NULL);
	dd_prom_family(p, "directord_ecmp_reason", "gauge",
		       "ECMP cluster: 1 for why its VIPs are not all announced (announced: they are).");
	for (size_t i = 0; i < st->n_clusters; i++)
		for (int k = 0; st->clusters[i].have_role && st->clusters[i].cfg->mode == DD_MODE_ECMP &&
				k < DD_ECMP_WHY_COUNT; k++)
			dd_prom_sample(p, "directord_ecmp_reason", st->clusters[i].ecmp_why == (enum dd_ecmp_why)k,
				       "cluster", st->clusters[i].cfg->name, "reason",
				       dd_ecmp_why_name((enum dd_ecmp_why)k), NULL);
	dd_prom_family(p, "directord_ecmp_drained", "gauge",
		       "1 while the director is drained (drain-director, or stopping).");
	if (st->ecmp.present)
		dd_prom_sample(p, "directord_ecmp_drained",
			       st->ecmp.stopping || strcmp(st->ecmp.drain, "serving") != 0, NULL);
	const struct dd_st_peer *f = &st->peer;
	dd_prom_family(p, "directord_peer_up", "gauge", "1 if the peer was heard within its dead time.");
	if (f->name[0])
		dd_prom_sample(p, "directord_peer_up", f->alive, "peer", f->name, NULL);
	dd_prom_family(p, "directord_peer_problem", "gauge",
		       "1 for the reason the peer is heard but not believed or out of step (ok: none).");
	for (int k = 0; f->name[0] && k < DD_PEER_PROBLEM_COUNT; k++)
		dd_prom_sample(p, "directord_peer_problem", f->problem == (enum dd_peer_problem)k, "peer", f->name,
			       "problem", dd_peer_problem_name((enum dd_peer_problem)k), NULL);
	dd_prom_family(p, "directord_heartbeat_last_seconds", "gauge",
		       "Seconds since the last valid heartbeat from the peer (absent: never).");
	if (f->last_heartbeat_age_ms >= 0)
		dd_prom_sample(p, "directord_heartbeat_last_seconds", (double)f->last_heartbeat_age_ms / 1000,
			       "peer", f->name, NULL);
	dd_prom_family(p, "directord_heartbeat_dropped_total", "counter", "Heartbeat packets dropped, by reason.");
	const struct { const char *why; uint64_t n; } drops[] = {
		{ "malformed", f->malformed }, { "bad_version", f->bad_version },
		{ "bad_auth", f->bad_auth }, { "replayed", f->replayed },
		{ "unknown_sender", f->unknown_sender }, { "unproven", f->unproven },
	};
	for (size_t i = 0; i < ARRAY_SIZE(drops); i++)
		dd_prom_sample_u64(p, "directord_heartbeat_dropped_total", drops[i].n, "reason", drops[i].why, NULL);

	/* Per link; "link" is its index in the config, stable across reloads
	 * that keep the list. */
	static const struct { const char *name, *type, *help; } lf[] = {
		{ "directord_link_up", "gauge", "1 if the peer was heard on this link within its dead time." },
		{ "directord_link_last_rx_seconds", "gauge", "Seconds since the last heartbeat on this link (absent: never)." },
		{ "directord_link_rx_total", "counter", "Valid heartbeats received on this link." },
		{ "directord_link_tx_total", "counter", "Heartbeats sent on this link." },
		{ "directord_link_tx_errors_total", "counter", "Heartbeats that could not be sent on this link." },
	};
	for (size_t k = 0; k < ARRAY_SIZE(lf); k++) {
		dd_prom_family(p, lf[k].name, lf[k].type, lf[k].help);
		for (size_t i = 0; i < f->n_links; i++) {
			const struct dd_st_link *l = &f->links[i];
			char idx[24];
			snprintf(idx, sizeof idx, "%zu", i);
			double v;
			switch (k) {
			case 0: v = l->up; break;
			case 1:
				if (l->last_rx_age_ms < 0)
					continue;
				v = (double)l->last_rx_age_ms / 1000;
				break;
			case 2: v = (double)l->rx; break;
			case 3: v = (double)l->tx; break;
			default: v = (double)l->tx_errors; break;
			}
			dd_prom_sample(p, lf[k].name, v, "peer", f->name, "link", idx, "local", l->local,
				       "remote", l->remote, NULL);
		}
	}
}

enum { RS_UP, RS_DRAIN, CHK_OK, CHK_TRANS, W_CONF, W_KERN, ACT, INACT, CONNS,
       INP, OUTP, INB, OUTB, N_RS_FAM };

static const struct { const char *name, *type, *help; } rs_fam[N_RS_FAM] = {
	[RS_UP] = { "directord_real_server_up", "gauge", "1 if the health check says UP." },
	[RS_DRAIN] = { "directord_real_server_maintenance", "gauge", "1 if drained by directorctl." },
	[CHK_OK] = { "directord_checks_total", "counter", "Health checks run, by result." },
	[CHK_TRANS] = { "directord_check_transitions_total", "counter", "UP/DOWN changes." },
	[W_CONF] = { "directord_real_server_config_weight", "gauge", "Weight in the configuration." },
	[W_KERN] = { "directord_ipvs_real_server_weight", "gauge", "Weight in the kernel IPVS table." },
	[ACT] = { "directord_ipvs_real_server_active_connections", "gauge", "IPVS ActiveConn." },
	[INACT] = { "directord_ipvs_real_server_inactive_connections", "gauge", "IPVS InActConn." },
	[CONNS] = { "directord_ipvs_real_server_connections_total", "counter", "Connections scheduled." },
	[INP] = { "directord_ipvs_real_server_in_packets_total", "counter", "Packets in." },
	[OUTP] = { "directord_ipvs_real_server_out_packets_total", "counter", "Packets out." },
	[INB] = { "directord_ipvs_real_server_in_bytes_total", "counter", "Bytes in." },
	[OUTB] = { "directord_ipvs_real_server_out_bytes_total", "counter", "Bytes out." },
};

/* One real server's sample of one family; false: it has none. */
static bool rs_value(const struct dd_st_rs *x, int f, uint64_t *v)
{
	const struct dd_st_kernel_rs *k = &x->kernel;
	switch (f) {
	case RS_UP: *v = x->health.up; return x->health.known;
	case CHK_TRANS: *v = x->health.transitions; return x->health.known;
	case RS_DRAIN: *v = x->drained; return x->have_admin;
	case W_CONF: *v = x->cfg->weight; return true;
	case W_KERN: *v = k->weight; return k->present;
	case ACT: *v = k->active_conns; break;
	case INACT: *v = k->inact_conns; break;
	case CONNS: *v = k->stats.conns; break;
	case INP: *v = k->stats.inpkts; break;
	case OUTP: *v = k->stats.outpkts; break;
	case INB: *v = k->stats.inbytes; break;
	default: *v = k->stats.outbytes; break;
	}
	return k->present && k->have_counters;
}

static bool fam_shown(const struct dd_status *st, int f)
{
	switch (f) {
	case RS_UP: case CHK_OK: case CHK_TRANS: return st->have_health;
	case RS_DRAIN: case W_KERN: return st->have_fwd;
	case W_CONF: return true;
	default: return st->have_counters;
	}
}

/* Real-server and service series, labelled by config names; a server
 * with no kernel entry has no IPVS series (absent, not zero). */
static void prom_services(const struct dd_status *st, struct dd_prom *p)
{
	/* Each real server's label set, formatted once, not once per family */
	size_t n = 0;
	for (size_t c = 0; c < st->n_clusters; c++)
		for (size_t s = 0; s < st->clusters[c].n_services; s++)
			n += st->clusters[c].services[s].n_rs;
	struct dd_buf pre = { 0 };
	size_t *at = xcalloc(n + 1, sizeof *at);
	for (size_t c = 0, i = 0; c < st->n_clusters; c++)
		for (size_t s = 0; s < st->clusters[c].n_services; s++) {
			const struct dd_st_service *m = &st->clusters[c].services[s];
			for (size_t r = 0; r < m->n_rs; r++, i++) {
				char a[DD_ADDR_STRLEN];
				at[i] = pre.len;
				dd_prom_labels(&pre, "service", m->cfg->name, "server",
					       dd_addr_port_str(&m->rs[r].cfg->addr, m->rs[r].cfg->port, a, sizeof a), NULL);
			}
		}
	at[n] = pre.len;
	for (int f = 0; f < N_RS_FAM; f++) {
		if (!fam_shown(st, f))
			continue;
		dd_prom_family(p, rs_fam[f].name, rs_fam[f].type, rs_fam[f].help);
		for (size_t c = 0, i = 0; c < st->n_clusters; c++)
			for (size_t s = 0; s < st->clusters[c].n_services; s++) {
				const struct dd_st_service *m = &st->clusters[c].services[s];
				for (size_t r = 0; r < m->n_rs; r++, i++) {
					const struct dd_st_rs *x = &m->rs[r];
					const char *l = pre.p + at[i];
					size_t len = at[i + 1] - at[i];
					uint64_t v;
					if (f == CHK_OK) {
						if (!x->health.known)
							continue;
						dd_prom_sample_pre(p, rs_fam[f].name, l, len, ",result=\"ok\"", x->health.ok);
						dd_prom_sample_pre(p, rs_fam[f].name, l, len, ",result=\"failed\"",
								   x->health.failed);
					} else if (rs_value(x, f, &v)) {
						dd_prom_sample_pre(p, rs_fam[f].name, l, len, NULL, v);
					}
				}
			}
	}
	dd_buf_free(&pre);
	free(at);
	if (st->have_fwd) {
		dd_prom_family(p, "directord_service_sorry_active", "gauge",
			       "1 while quorum is lost and the sorry server takes the traffic.");
		for (size_t c = 0; c < st->n_clusters; c++)
			for (size_t s = 0; s < st->clusters[c].n_services; s++) {
				const struct dd_st_service *m = &st->clusters[c].services[s];
				if (m->cfg->has_sorry && m->sorry_known)
					dd_prom_sample(p, "directord_service_sorry_active", m->sorry_serving,
						       "service", m->cfg->name, NULL);
			}
		dd_prom_family(p, "directord_ipvs_reconcile_passes_total", "counter", "Reconciler passes.");
		dd_prom_sample_u64(p, "directord_ipvs_reconcile_passes_total", st->fwd.passes, NULL);
		dd_prom_family(p, "directord_ipvs_operations_total", "counter", "IPVS netlink operations sent.");
		dd_prom_sample_u64(p, "directord_ipvs_operations_total", st->fwd.ops, NULL);
		dd_prom_family(p, "directord_ipvs_operations_failed_total", "counter", "IPVS operations that failed.");
		dd_prom_sample_u64(p, "directord_ipvs_operations_failed_total", st->fwd.ops_failed, NULL);
		dd_prom_family(p, "directord_ipvs_draining_real_servers", "gauge",
			       "Real servers draining after leaving the configuration.");
		dd_prom_sample_u64(p, "directord_ipvs_draining_real_servers", st->fwd.n_draining, NULL);
	}
}

static void prom_health(const struct dd_status *st, struct dd_prom *p)
{
	if (!st->have_health)
		return;
	const struct dd_st_health_stats *h = &st->health;
	dd_prom_family(p, "directord_health_checks", "gauge", "Distinct health checks (identical ones shared).");
	dd_prom_sample_u64(p, "directord_health_checks", h->n_probes, NULL);
	dd_prom_family(p, "directord_health_checks_in_flight", "gauge", "Health checks running now.");
	dd_prom_sample_u64(p, "directord_health_checks_in_flight", h->in_flight, NULL);
	dd_prom_family(p, "directord_health_checks_started_total", "counter", "Health checks started.");
	dd_prom_sample_u64(p, "directord_health_checks_started_total", h->started, NULL);
	dd_prom_family(p, "directord_health_checks_skipped_total", "counter",
		       "Check ticks skipped because the previous check was still running.");
	dd_prom_sample_u64(p, "directord_health_checks_skipped_total", h->skipped, NULL);
	dd_prom_family(p, "directord_health_timer_slip_seconds", "gauge",
		       "How late checks started against their schedule, since start, by quantile.");
	dd_prom_sample(p, "directord_health_timer_slip_seconds", h->slip_p50_ms / 1000, "quantile", "0.5", NULL);
	dd_prom_sample(p, "directord_health_timer_slip_seconds", h->slip_p99_ms / 1000, "quantile", "0.99", NULL);
	dd_prom_sample(p, "directord_health_timer_slip_seconds", h->slip_max_ms / 1000, "quantile", "1", NULL);
}

static void prom_track(const struct dd_status *st, struct dd_prom *p)
{
	if (!st->n_track)
		return;
	dd_prom_family(p, "directord_track_script_up", "gauge",
		       "1 while a track script is OK, 0 while it is failed (absent: no result yet).");
	for (size_t i = 0; i < st->n_track; i++)
		if (st->track[i].known)
			dd_prom_sample(p, "directord_track_script_up", st->track[i].ok, "script",
				       st->track[i].name, NULL);
	dd_prom_family(p, "directord_track_script_runs_total", "counter", "Track script runs that ended.");
	for (size_t i = 0; i < st->n_track; i++)
		dd_prom_sample_u64(p, "directord_track_script_runs_total", st->track[i].runs, "script",
				   st->track[i].name, NULL);
	dd_prom_family(p, "directord_track_script_failures_total", "counter",
		       "Track script runs that failed (timeouts included).");
	for (size_t i = 0; i < st->n_track; i++)
		dd_prom_sample_u64(p, "directord_track_script_failures_total", st->track[i].failures, "script",
				   st->track[i].name, NULL);
	dd_prom_family(p, "directord_track_script_timeouts_total", "counter",
		       "Track script runs killed at their timeout.");
	for (size_t i = 0; i < st->n_track; i++)
		dd_prom_sample_u64(p, "directord_track_script_timeouts_total", st->track[i].timeouts, "script",
				   st->track[i].name, NULL);
}

void dd_status_prom(const struct dd_status *st, struct dd_buf *out)
{
	struct dd_prom p;
	dd_prom_init(&p, out);
	dd_prom_family(&p, "directord_build_info", "gauge", "Version of the running directord.");
	dd_prom_sample(&p, "directord_build_info", 1, "version", PACKAGE_VERSION, "node", st->node, NULL);
	dd_prom_family(&p, "directord_uptime_seconds", "gauge", "Seconds since directord started.");
	dd_prom_sample(&p, "directord_uptime_seconds", (double)st->uptime_ms / 1000, NULL);
	dd_prom_family(&p, "directord_config_reloads_total", "counter", "Configuration reloads applied.");
	dd_prom_sample_u64(&p, "directord_config_reloads_total", st->reloads, NULL);
	dd_prom_family(&p, "directord_config_reload_failures_total", "counter",
		       "Configuration reloads rejected (the running configuration was kept).");
	dd_prom_sample_u64(&p, "directord_config_reload_failures_total", st->reload_failures, NULL);
	dd_prom_family(&p, "directord_config_clusters", "gauge", "Clusters in the running configuration.");
	dd_prom_sample_u64(&p, "directord_config_clusters", st->n_clusters_cfg, NULL);
	dd_prom_family(&p, "directord_config_services", "gauge", "Virtual services in the running configuration.");
	dd_prom_sample_u64(&p, "directord_config_services", st->n_services_cfg, NULL);
	dd_prom_family(&p, "directord_config_real_servers", "gauge",
		       "Real servers in the running configuration (per service).");
	dd_prom_sample_u64(&p, "directord_config_real_servers", st->n_rs_cfg, NULL);

	dd_prom_family(&p, "directord_role_changes_total", "counter", "Role changes of a cluster.");
	for (size_t i = 0; i < st->n_roles; i++)
		dd_prom_sample_u64(&p, "directord_role_changes_total", st->roles[i].changes,
				   "cluster", st->roles[i].cluster, NULL);
	dd_prom_family(&p, "directord_failovers_total", "counter", "Times this director became active for a cluster.");
	for (size_t i = 0; i < st->n_roles; i++)
		dd_prom_sample_u64(&p, "directord_failovers_total", st->roles[i].to_active,
				   "cluster", st->roles[i].cluster, NULL);

	prom_failover(st, &p);
	prom_services(st, &p);
	prom_health(st, &p);
	prom_track(st, &p);

	if (st->snmp.enabled) {
		dd_prom_family(&p, "directord_snmp_connected", "gauge",
			       "1 while the AgentX subagent is registered with the master agent.");
		dd_prom_sample(&p, "directord_snmp_connected", st->snmp.connected ? 1 : 0, NULL);
		dd_prom_family(&p, "directord_snmp_notifications_total", "counter",
			       "SNMP notifications handed to the master agent.");
		dd_prom_sample_u64(&p, "directord_snmp_notifications_total", st->snmp.traps, NULL);
		dd_prom_family(&p, "directord_snmp_reconnects_total", "counter",
			       "Times the AgentX subagent reconnected after losing the master agent.");
		dd_prom_sample_u64(&p, "directord_snmp_reconnects_total", st->snmp.reconnects, NULL);
	}
	if (st->have_ctl) {
		const struct dd_st_ctl_stats *cs = &st->ctl;
		dd_prom_family(&p, "directord_control_requests_total", "counter",
			       "Requests received on the control socket.");
		dd_prom_sample_u64(&p, "directord_control_requests_total", cs->requests, NULL);
		dd_prom_family(&p, "directord_control_rejected_total", "counter", "Control requests refused, by reason.");
		dd_prom_sample_u64(&p, "directord_control_rejected_total", cs->denied, "reason", "denied", NULL);
		dd_prom_sample_u64(&p, "directord_control_rejected_total", cs->malformed, "reason", "malformed", NULL);
		dd_prom_sample_u64(&p, "directord_control_rejected_total", cs->too_long, "reason", "too_long", NULL);
		dd_prom_sample_u64(&p, "directord_control_rejected_total", cs->busy, "reason", "busy", NULL);
	}
}
