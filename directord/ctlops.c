/* directord/ctlops.c: the daemon's answers to directorctl and to metrics
 * scrapes, built from the running parts' status APIs (see ctlops.h). A part
 * that is not in this build or not running shows as null in JSON, is left
 * out of the text and the metrics, and its commands answer "unavailable".
 * Runs on the daemon's main libev loop. */
#include "config.h"
#include "directord/ctlops.h"
#include "conf/diff.h"
#include "directord/ctl.h"
#include "heartbeat/failover.h"
#include "directord/fwd.h"
#include "health/health.h"
#include "directord/json.h"
#include "directord/metrics.h"
#include "lib/addr.h"
#include "lib/log.h"
#include "lib/util.h"

#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* Role changes seen through the failover hook, for the failover counter. */
struct role_count {
	char cluster[DD_NAME_MAX];
	uint64_t changes, to_active;
};

struct dd_ctlops {
	struct ev_loop *loop;
	struct dd_ctlops_src src;
	struct dd_ctl *ctl;
	struct dd_metrics_http *http;
	double started;
	struct role_count *roles;
	size_t n_roles;
};

static const struct dd_config *cfg_of(const struct dd_ctlops *o)
{
	return *o->src.cfg;
}

/* One consistent view of the parts for one answer. */
struct snap {
	bool have_fo;
	struct dd_failover_status fo;
	struct dd_fwdplane *fwd;        /* NULL: no forwarding plane */
	bool have_ipvs;                 /* the dump below worked */
	struct ipvs_table ipvs;         /* services directord owns, with counters */
	struct dd_health *health;
};

static void snap_take(struct dd_ctlops *o, struct snap *sn)
{
	memset(sn, 0, sizeof *sn);
	if (o->src.fo && *o->src.fo)
		sn->have_fo = dd_failover_status(*o->src.fo, &sn->fo) == 0;
	sn->fwd = o->src.fwd ? *o->src.fwd : NULL;
	if (sn->fwd) {
		char *err = NULL;
		sn->have_ipvs = dd_fwd_dump(sn->fwd, &sn->ipvs, &err) == 0;
		if (!sn->have_ipvs) {
			log_warn("ctl", "status without IPVS counters: %s", err ? err : "?");
			free(err);
		}
	}
	sn->health = o->src.health ? *o->src.health : NULL;
}

static void snap_free(struct snap *sn)
{
	if (sn->have_ipvs)
		ipvs_table_free(&sn->ipvs);
	free(sn);
}

static struct snap *snap_new(struct dd_ctlops *o)
{
	struct snap *sn = xmalloc(sizeof *sn);
	snap_take(o, sn);
	return sn;
}

/* The kernel's entry for a configured real server, by service name. */
static const struct ipvs_dest *ipvs_rs(const struct snap *sn, const struct dd_service *s,
				       const struct dd_real_server *rs, const struct ipvs_service **svc)
{
	*svc = NULL;
	if (!sn->have_ipvs)
		return NULL;
	for (size_t i = 0; i < sn->ipvs.n; i++) {
		if (strcmp(sn->ipvs.svc[i].name, s->name) != 0)
			continue;
		*svc = &sn->ipvs.svc[i];
		if (!rs)
			return NULL;
		for (size_t d = 0; d < sn->ipvs.svc[i].n_dests; d++) {
			const struct ipvs_dest *dst = &sn->ipvs.svc[i].dests[d];
			if (dst->port == rs->port && dd_addr_eq(&dst->addr, &rs->addr))
				return dst;
		}
		return NULL;
	}
	return NULL;
}

static void json_ipvs_stats(struct dd_json *j, const struct ipvs_stats *st)
{
	dd_json_kuint(j, "conns", st->conns);
	dd_json_kuint(j, "inpkts", st->inpkts);
	dd_json_kuint(j, "outpkts", st->outpkts);
	dd_json_kuint(j, "inbytes", st->inbytes);
	dd_json_kuint(j, "outbytes", st->outbytes);
	dd_json_kuint(j, "cps", st->cps);
	dd_json_kuint(j, "inpps", st->inpps);
	dd_json_kuint(j, "outpps", st->outpps);
	dd_json_kuint(j, "inbps", st->inbps);
	dd_json_kuint(j, "outbps", st->outbps);
}

static const struct dd_failover_cluster_status *fo_cluster(const struct snap *sn, const char *name)
{
	if (!sn->have_fo)
		return NULL;
	for (size_t i = 0; i < sn->fo.n_clusters; i++)
		if (strcmp(sn->fo.clusters[i].name, name) == 0)
			return &sn->fo.clusters[i];
	return NULL;
}

/* The peer's role as status shows it: NULL without a peer, "unknown"
 * while the peer has not listed the cluster. */
static const char *peer_role_name(const struct snap *sn, const struct dd_failover_cluster_status *fc)
{
	if (!sn->fo.peer[0])
		return NULL;
	return fc->peer_known ? dd_role_name(fc->peer_role) : "unknown";
}

static void json_age(struct dd_json *j, const char *key, int64_t ms)
{
	dd_json_kint(j, key, ms < 0 ? -1 : ms);
}

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

static const char *rs_str(const struct dd_real_server *rs, char *buf, size_t len)
{
	return dd_addr_port_str(&rs->addr, rs->port, buf, len);
}

static const struct dd_cluster *find_cluster(const struct dd_config *c, const char *name)
{
	for (size_t i = 0; i < c->n_clusters; i++)
		if (strcmp(c->clusters[i].name, name) == 0)
			return &c->clusters[i];
	return NULL;
}

/* ---- status ------------------------------------------------------------ */

static void status_json_vip(struct dd_json *j, const struct dd_vip *v)
{
	char a[DD_ADDR_STRLEN];
	dd_json_obj_begin(j);
	dd_json_kstr(j, "address", dd_addr_str(&v->addr, a, sizeof a));
	dd_json_kint(j, "prefix", v->prefix);
	dd_json_kstr(j, "interface", v->ifname);
	dd_json_obj_end(j);
}

static void status_json_rs(struct dd_ctlops *o, const struct snap *sn, struct dd_json *j,
			   const struct dd_service *s, const struct dd_real_server *rs)
{
	char a[DD_ADDR_STRLEN];
	dd_json_obj_begin(j);
	dd_json_kstr(j, "address", dd_addr_str(&rs->addr, a, sizeof a));
	dd_json_kuint(j, "port", rs->port);
	dd_json_kuint(j, "weight", rs->weight);
	dd_json_kstr(j, "forwarding", dd_fwd_name(rs->fwd));
	dd_json_kstr(j, "check", dd_check_type_name(rs->check.type));
	struct dd_fwd_rs_view v;
	bool have_v = sn->fwd && dd_fwd_rs_view(sn->fwd, s->name, &rs->addr, rs->port, &v);
	dd_json_key(j, "admin");
	if (have_v)
		dd_json_str(j, v.admin_drain ? "drained" : "enabled");
	else
		dd_json_null(j);
	struct dd_health_rs_status hs;
	dd_json_key(j, "health");
	if (sn->health && dd_health_get(sn->health, s->name, &rs->addr, rs->port, &hs)) {
		dd_json_obj_begin(j);
		dd_json_kbool(j, "up", hs.up);
		dd_json_kstr(j, "reason", hs.reason);
		dd_json_kuint(j, "in_state_ms", (uint64_t)(hs.in_state_s * 1000));
		dd_json_kuint(j, "checks", hs.n_checks);
		dd_json_kuint(j, "failed", hs.n_failed);
		dd_json_kuint(j, "transitions", hs.n_transitions);
		dd_json_obj_end(j);
	} else {
		dd_json_null(j);
	}
	const struct ipvs_service *ks;
	const struct ipvs_dest *kd = ipvs_rs(sn, s, rs, &ks);
	dd_json_key(j, "ipvs");
	if (kd) {
		dd_json_obj_begin(j);
		dd_json_kuint(j, "weight", kd->weight);
		dd_json_kstr(j, "forwarding", ipvs_fwd_name(kd->fwd));
		dd_json_kuint(j, "active_conns", kd->active_conns);
		dd_json_kuint(j, "inactive_conns", kd->inact_conns);
		dd_json_kuint(j, "persistent_conns", kd->persist_conns);
		json_ipvs_stats(j, &kd->stats);
		dd_json_obj_end(j);
	} else {
		dd_json_null(j);
	}
	dd_json_obj_end(j);
}

static void status_json_service(struct dd_ctlops *o, const struct snap *sn, struct dd_json *j,
				const struct dd_service *s)
{
	char a[DD_ADDR_STRLEN];
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
	const struct ipvs_service *ks;
	ipvs_rs(sn, s, NULL, &ks);
	dd_json_key(j, "ipvs");
	if (ks) {
		dd_json_obj_begin(j);
		dd_json_kstr(j, "scheduler", ks->sched);
		json_ipvs_stats(j, &ks->stats);
		dd_json_obj_end(j);
	} else {
		dd_json_null(j);
	}
	dd_json_key(j, "real_servers");
	dd_json_arr_begin(j);
	for (size_t i = 0; i < s->n_rs; i++)
		status_json_rs(o, sn, j, s, &s->rs[i]);
	dd_json_arr_end(j);
	dd_json_obj_end(j);
}

static void status_json_cluster(struct dd_ctlops *o, const struct snap *sn, struct dd_json *j,
				const struct dd_cluster *cl)
{
	const struct dd_failover_cluster_status *fc = fo_cluster(sn, cl->name);
	dd_json_obj_begin(j);
	dd_json_kstr(j, "name", cl->name);
	dd_json_kuint(j, "priority", cl->priority);
	if (fc) {
		dd_json_kstr(j, "role", dd_role_name(fc->role));
		dd_json_kuint(j, "in_role_ms", fc->in_role_ms);
		dd_json_kstr(j, "peer_role", peer_role_name(sn, fc));
		dd_json_kuint(j, "peer_priority", fc->peer_priority);
		dd_json_kbool(j, "vips_up", fc->vips_up);
	} else {
		static const char *const unknown[] = { "role", "in_role_ms", "peer_role",
						       "peer_priority", "vips_up" };
		for (size_t i = 0; i < ARRAY_SIZE(unknown); i++) {
			dd_json_key(j, unknown[i]);
			dd_json_null(j);
		}
	}
	dd_json_key(j, "vips");
	dd_json_arr_begin(j);
	for (size_t i = 0; i < cl->n_vips; i++)
		status_json_vip(j, &cl->vips[i]);
	dd_json_arr_end(j);
	dd_json_key(j, "services");
	dd_json_arr_begin(j);
	for (size_t i = 0; i < cl->n_services; i++)
		status_json_service(o, sn, j, &cl->services[i]);
	dd_json_arr_end(j);
	dd_json_obj_end(j);
}

static void status_json_peer(const struct snap *sn, struct dd_json *j)
{
	dd_json_key(j, "peer");
	if (!sn->have_fo || !sn->fo.peer[0]) { /* no failover, or standalone */
		dd_json_null(j);
		return;
	}
	const struct dd_failover_status *f = &sn->fo;
	dd_json_obj_begin(j);
	dd_json_kstr(j, "name", f->peer);
	dd_json_kbool(j, "alive", f->peer_alive);
	json_age(j, "last_heartbeat_age_ms", f->last_heartbeat_age_ms);
	dd_json_kuint(j, "generation", f->generation);
	dd_json_kuint(j, "peer_generation", f->peer_generation);
	dd_json_kuint(j, "interval_ms", f->interval_ms);
	dd_json_kuint(j, "dead_ms", f->dead_ms);
	dd_json_kuint(j, "rx", f->rx);
	dd_json_kuint(j, "tx", f->tx);
	dd_json_key(j, "dropped");
	dd_json_obj_begin(j);
	dd_json_kuint(j, "malformed", f->drops.malformed);
	dd_json_kuint(j, "bad_version", f->drops.bad_version);
	dd_json_kuint(j, "bad_auth", f->drops.bad_auth);
	dd_json_kuint(j, "replayed", f->drops.replayed);
	dd_json_kuint(j, "unknown_sender", f->drops.unknown_sender);
	dd_json_obj_end(j);
	dd_json_key(j, "links");
	dd_json_arr_begin(j);
	for (size_t i = 0; i < f->n_links; i++) {
		const struct dd_failover_link_status *l = &f->links[i];
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

static void status_json(struct dd_ctlops *o, const struct snap *sn, const struct dd_cluster *only,
			struct dd_buf *out)
{
	const struct dd_config *c = cfg_of(o);
	struct dd_json j;
	dd_json_init(&j, out, true);
	dd_json_obj_begin(&j);
	dd_json_kstr(&j, "node", c->node_name);
	dd_json_kstr(&j, "version", PACKAGE_VERSION);
	dd_json_kint(&j, "pid", (int64_t)getpid());
	dd_json_kuint(&j, "uptime_ms", (uint64_t)((mono_now() - o->started) * 1000));
	dd_json_key(&j, "config");
	dd_json_obj_begin(&j);
	dd_json_kstr(&j, "path", o->src.conf_path);
	dd_json_kuint(&j, "reloads", *o->src.reloads);
	dd_json_kuint(&j, "reload_failures", *o->src.reload_failures);
	dd_json_obj_end(&j);
	dd_json_key(&j, "available");
	dd_json_obj_begin(&j);
	dd_json_kbool(&j, "failover", sn->have_fo);
	dd_json_kbool(&j, "forwarding", sn->fwd != NULL);
	dd_json_kbool(&j, "health", sn->health != NULL);
	dd_json_obj_end(&j);
	status_json_peer(sn, &j);
	dd_json_key(&j, "clusters");
	dd_json_arr_begin(&j);
	for (size_t i = 0; i < c->n_clusters; i++)
		if (!only || only == &c->clusters[i])
			status_json_cluster(o, sn, &j, &c->clusters[i]);
	dd_json_arr_end(&j);
	dd_json_obj_end(&j);
}

static void status_text_peer(const struct snap *sn, struct dd_buf *out)
{
	char d[32];
	if (!sn->have_fo) {
		dd_buf_puts(out, "failover: not running\n");
		return;
	}
	const struct dd_failover_status *f = &sn->fo;
	if (!f->peer[0]) {
		dd_buf_puts(out, "peer: none configured (standalone: clusters are active unless in fault)\n");
		return;
	}
	if (f->last_heartbeat_age_ms < 0)
		dd_buf_printf(out, "peer %s: %s, never heard\n", f->peer, f->peer_alive ? "alive" : "dead");
	else
		dd_buf_printf(out, "peer %s: %s, last heartbeat %s ago\n", f->peer,
			      f->peer_alive ? "alive" : "dead",
			      duration((uint64_t)f->last_heartbeat_age_ms, d, sizeof d));
	for (size_t i = 0; i < f->n_links; i++) {
		const struct dd_failover_link_status *l = &f->links[i];
		dd_buf_printf(out, "  link %zu %s -> %s%s%s: %s, ", i, l->local, l->remote,
			      l->ifname[0] ? " on " : "", l->ifname, l->up ? "up" : "DOWN");
		if (l->last_rx_age_ms < 0)
			dd_buf_puts(out, "never heard");
		else
			dd_buf_printf(out, "last heard %s ago",
				      duration((uint64_t)l->last_rx_age_ms, d, sizeof d));
		dd_buf_printf(out, ", rx %" PRIu64 " tx %" PRIu64 " errors %" PRIu64 "\n",
			      l->rx, l->tx, l->tx_errors);
	}
}

static void status_text_rs(const struct snap *sn, const struct dd_service *s,
			   const struct dd_real_server *rs, struct dd_buf *out)
{
	char a[DD_ADDR_STRLEN];
	dd_buf_printf(out, "    %-22s", rs_str(rs, a, sizeof a));
	struct dd_health_rs_status hs;
	if (rs->check.type == DD_CHECK_NONE)
		dd_buf_puts(out, " unchecked");
	else if (sn->health && dd_health_get(sn->health, s->name, &rs->addr, rs->port, &hs))
		dd_buf_printf(out, " %-4s (%s %s)", hs.up ? "UP" : "DOWN",
			      dd_check_type_name(rs->check.type), hs.reason[0] ? hs.reason : "no result yet");
	else
		dd_buf_printf(out, " health unknown (%s)", dd_check_type_name(rs->check.type));
	struct dd_fwd_rs_view v;
	if (sn->fwd && dd_fwd_rs_view(sn->fwd, s->name, &rs->addr, rs->port, &v) && v.admin_drain)
		dd_buf_puts(out, " DRAINED (maintenance)");
	const struct ipvs_service *ks;
	const struct ipvs_dest *kd = ipvs_rs(sn, s, rs, &ks);
	if (kd)
		dd_buf_printf(out, " weight %" PRIu32 "/%" PRIu32 " active %" PRIu32 " inactive %" PRIu32
			      " cps %" PRIu64 " in %" PRIu64 " B/s out %" PRIu64 " B/s\n",
			      kd->weight, rs->weight, kd->active_conns, kd->inact_conns,
			      kd->stats.cps, kd->stats.inbps, kd->stats.outbps);
	else
		dd_buf_printf(out, " weight -/%" PRIu32 "%s\n", rs->weight,
			      sn->have_ipvs ? " (not in IPVS)" : "");
}

static void status_text(struct dd_ctlops *o, const struct snap *sn, const struct dd_cluster *only,
			struct dd_buf *out)
{
	const struct dd_config *c = cfg_of(o);
	char d[32], k[96], a[DD_ADDR_STRLEN];
	dd_buf_printf(out, "node %s: %s, pid %ld, up %s\n", c->node_name, PACKAGE_STRING,
		      (long)getpid(), duration((uint64_t)((mono_now() - o->started) * 1000), d, sizeof d));
	dd_buf_printf(out, "config %s: %u reload%s, %u rejected\n", o->src.conf_path,
		      *o->src.reloads, *o->src.reloads == 1 ? "" : "s", *o->src.reload_failures);
	status_text_peer(sn, out);
	for (size_t i = 0; i < c->n_clusters; i++) {
		const struct dd_cluster *cl = &c->clusters[i];
		if (only && only != cl)
			continue;
		const struct dd_failover_cluster_status *fc = fo_cluster(sn, cl->name);
		if (fc) {
			dd_buf_printf(out, "\ncluster %s: %s for %s, priority %" PRIu32 "; ",
				      cl->name, dd_role_name(fc->role), duration(fc->in_role_ms, d, sizeof d),
				      cl->priority);
			if (peer_role_name(sn, fc))
				dd_buf_printf(out, "peer %s, priority %u\n", peer_role_name(sn, fc),
					      (unsigned)fc->peer_priority);
			else
				dd_buf_puts(out, "no peer\n");
		} else
			dd_buf_printf(out, "\ncluster %s: role unknown, priority %" PRIu32 "\n", cl->name,
				      cl->priority);
		for (size_t v = 0; v < cl->n_vips; v++)
			dd_buf_printf(out, "  vip %s/%d on %s\n", dd_addr_str(&cl->vips[v].addr, a, sizeof a),
				      cl->vips[v].prefix, cl->vips[v].ifname);
		for (size_t s = 0; s < cl->n_services; s++) {
			const struct dd_service *sv = &cl->services[s];
			dd_buf_printf(out, "  service %s: %s, %s, %s\n", sv->name,
				      service_key(sv, k, sizeof k), sv->scheduler, dd_fwd_name(sv->fwd));
			for (size_t r = 0; r < sv->n_rs; r++)
				status_text_rs(sn, sv, &sv->rs[r], out);
		}
	}
}

static void op_status(void *ctx, const struct dd_ctl_req *req, struct dd_ctl_resp *r)
{
	struct dd_ctlops *o = ctx;
	const struct dd_cluster *only = NULL;
	if (req->argc == 1) {
		only = find_cluster(cfg_of(o), req->argv[0]);
		if (!only) {
			dd_ctl_error(r, DD_CTL_FAILED, "no cluster named '%s'", req->argv[0]);
			return;
		}
	}
	struct snap *sn = snap_new(o);
	if (req->json)
		status_json(o, sn, only, &r->body);
	else
		status_text(o, sn, only, &r->body);
	snap_free(sn);
}

/* ---- metrics ----------------------------------------------------------- */

static void metrics_failover(const struct snap *sn, struct dd_prom *p)
{
	if (!sn->have_fo)
		return;
	const struct dd_failover_status *f = &sn->fo;
	dd_prom_family(p, "directord_cluster_role", "gauge",
		       "1 for the role this director has for a cluster, 0 for the others.");
	for (size_t i = 0; i < f->n_clusters; i++)
		for (enum dd_role r = DD_ROLE_INIT; r <= DD_ROLE_MAX; r++)
			dd_prom_sample(p, "directord_cluster_role", f->clusters[i].role == r, "cluster",
				       f->clusters[i].name, "role", dd_role_name(r), NULL);
	dd_prom_family(p, "directord_cluster_role_seconds", "gauge", "Seconds in the current role.");
	for (size_t i = 0; i < f->n_clusters; i++)
		dd_prom_sample(p, "directord_cluster_role_seconds", (double)f->clusters[i].in_role_ms / 1000,
			       "cluster", f->clusters[i].name, NULL);
	dd_prom_family(p, "directord_cluster_vips_up", "gauge", "1 if this director holds the cluster's VIPs.");
	for (size_t i = 0; i < f->n_clusters; i++)
		dd_prom_sample(p, "directord_cluster_vips_up", f->clusters[i].vips_up,
			       "cluster", f->clusters[i].name, NULL);
	dd_prom_family(p, "directord_peer_up", "gauge", "1 if the peer was heard within its dead time.");
	if (f->peer[0])
		dd_prom_sample(p, "directord_peer_up", f->peer_alive, "peer", f->peer, NULL);
	dd_prom_family(p, "directord_heartbeat_last_seconds", "gauge",
		       "Seconds since the last valid heartbeat from the peer (absent: never).");
	if (f->last_heartbeat_age_ms >= 0)
		dd_prom_sample(p, "directord_heartbeat_last_seconds",
			       (double)f->last_heartbeat_age_ms / 1000, "peer", f->peer, NULL);
	dd_prom_family(p, "directord_heartbeat_dropped_total", "counter",
		       "Heartbeat packets dropped, by reason.");
	const struct { const char *why; uint64_t n; } drops[] = {
		{ "malformed", f->drops.malformed }, { "bad_version", f->drops.bad_version },
		{ "bad_auth", f->drops.bad_auth }, { "replayed", f->drops.replayed },
		{ "unknown_sender", f->drops.unknown_sender },
	};
	for (size_t i = 0; i < ARRAY_SIZE(drops); i++)
		dd_prom_sample_u64(p, "directord_heartbeat_dropped_total", drops[i].n,
				   "reason", drops[i].why, NULL);

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
			const struct dd_failover_link_status *l = &f->links[i];
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
			dd_prom_sample(p, lf[k].name, v, "peer", f->peer, "link", idx, "local", l->local,
				       "remote", l->remote, NULL);
		}
	}
}

/* Real-server and service series, labelled by config names; a server
 * with no kernel entry has no IPVS series (absent, not zero). */
static void metrics_services(struct dd_ctlops *o, const struct snap *sn, struct dd_prom *p)
{
	const struct dd_config *c = cfg_of(o);
	char a[DD_ADDR_STRLEN];
	enum { RS_UP, RS_DRAIN, CHK_OK, CHK_FAIL, CHK_TRANS, W_CONF, W_KERN, ACT, INACT, CONNS,
	       INP, OUTP, INB, OUTB, N_RS_FAM };
	static const struct { const char *name, *type, *help; } fam[N_RS_FAM] = {
		[RS_UP] = { "directord_real_server_up", "gauge", "1 if the health check says UP." },
		[RS_DRAIN] = { "directord_real_server_maintenance", "gauge", "1 if drained by directorctl." },
		[CHK_OK] = { "directord_checks_total", "counter", "Health checks run, by result." },
		[CHK_FAIL] = { NULL, NULL, NULL },
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
	for (int f = 0; f < N_RS_FAM; f++) {
		if (!fam[f].name)
			continue;
		if ((f == RS_UP || f == CHK_OK || f == CHK_TRANS) && !sn->health)
			continue;
		if (f == RS_DRAIN && !sn->fwd)
			continue;
		if (f >= W_KERN && !sn->have_ipvs)
			continue;
		dd_prom_family(p, fam[f].name, fam[f].type, fam[f].help);
		for (size_t ci = 0; ci < c->n_clusters; ci++)
			for (size_t si = 0; si < c->clusters[ci].n_services; si++) {
				const struct dd_service *s = &c->clusters[ci].services[si];
				for (size_t k = 0; k < s->n_rs; k++) {
					const struct dd_real_server *rs = &s->rs[k];
					const char *srv = rs_str(rs, a, sizeof a);
					struct dd_health_rs_status hs;
					struct dd_fwd_rs_view v;
					const struct ipvs_service *ks;
					const struct ipvs_dest *kd = NULL;
					if (f >= W_KERN && !(kd = ipvs_rs(sn, s, rs, &ks)))
						continue;
					if (f == RS_UP || f == CHK_OK || f == CHK_TRANS) {
						if (!dd_health_get(sn->health, s->name, &rs->addr, rs->port, &hs))
							continue;
						if (f == RS_UP)
							dd_prom_sample(p, fam[f].name, hs.up, "service", s->name,
								       "server", srv, NULL);
						else if (f == CHK_TRANS)
							dd_prom_sample_u64(p, fam[f].name, hs.n_transitions, "service",
									   s->name, "server", srv, NULL);
						else {
							dd_prom_sample_u64(p, fam[f].name, hs.n_ok, "service", s->name,
									   "server", srv, "result", "ok", NULL);
							dd_prom_sample_u64(p, fam[f].name, hs.n_failed, "service", s->name,
									   "server", srv, "result", "failed", NULL);
						}
						continue;
					}
					uint64_t v64;
					switch (f) {
					case RS_DRAIN:
						if (!dd_fwd_rs_view(sn->fwd, s->name, &rs->addr, rs->port, &v))
							continue;
						v64 = v.admin_drain;
						break;
					case W_CONF: v64 = rs->weight; break;
					case W_KERN: v64 = kd->weight; break;
					case ACT: v64 = kd->active_conns; break;
					case INACT: v64 = kd->inact_conns; break;
					case CONNS: v64 = kd->stats.conns; break;
					case INP: v64 = kd->stats.inpkts; break;
					case OUTP: v64 = kd->stats.outpkts; break;
					case INB: v64 = kd->stats.inbytes; break;
					default: v64 = kd->stats.outbytes; break;
					}
					dd_prom_sample_u64(p, fam[f].name, v64, "service", s->name, "server", srv, NULL);
				}
			}
	}
	if (sn->fwd) {
		struct dd_fwd_stats fs;
		dd_fwd_get_stats(sn->fwd, &fs);
		dd_prom_family(p, "directord_ipvs_reconcile_passes_total", "counter", "Reconciler passes.");
		dd_prom_sample_u64(p, "directord_ipvs_reconcile_passes_total", fs.passes, NULL);
		dd_prom_family(p, "directord_ipvs_operations_total", "counter", "IPVS netlink operations sent.");
		dd_prom_sample_u64(p, "directord_ipvs_operations_total", fs.ops, NULL);
		dd_prom_family(p, "directord_ipvs_operations_failed_total", "counter", "IPVS operations that failed.");
		dd_prom_sample_u64(p, "directord_ipvs_operations_failed_total", fs.ops_failed, NULL);
		dd_prom_family(p, "directord_ipvs_draining_real_servers", "gauge",
			       "Real servers draining after leaving the configuration.");
		dd_prom_sample_u64(p, "directord_ipvs_draining_real_servers", fs.n_draining, NULL);
	}
}

static void build_metrics(void *ctx, struct dd_buf *out)
{
	struct dd_ctlops *o = ctx;
	const struct dd_config *c = cfg_of(o);
	struct dd_prom p;
	dd_prom_init(&p, out);

	dd_prom_family(&p, "directord_build_info", "gauge", "Version of the running directord.");
	dd_prom_sample(&p, "directord_build_info", 1, "version", PACKAGE_VERSION, "node", c->node_name, NULL);
	dd_prom_family(&p, "directord_uptime_seconds", "gauge", "Seconds since directord started.");
	dd_prom_sample(&p, "directord_uptime_seconds", mono_now() - o->started, NULL);
	dd_prom_family(&p, "directord_config_reloads_total", "counter", "Configuration reloads applied.");
	dd_prom_sample_u64(&p, "directord_config_reloads_total", *o->src.reloads, NULL);
	dd_prom_family(&p, "directord_config_reload_failures_total", "counter",
		       "Configuration reloads rejected (the running configuration was kept).");
	dd_prom_sample_u64(&p, "directord_config_reload_failures_total", *o->src.reload_failures, NULL);

	size_t n_svc = 0, n_rs = 0;
	for (size_t i = 0; i < c->n_clusters; i++) {
		n_svc += c->clusters[i].n_services;
		for (size_t s = 0; s < c->clusters[i].n_services; s++)
			n_rs += c->clusters[i].services[s].n_rs;
	}
	dd_prom_family(&p, "directord_config_clusters", "gauge", "Clusters in the running configuration.");
	dd_prom_sample_u64(&p, "directord_config_clusters", c->n_clusters, NULL);
	dd_prom_family(&p, "directord_config_services", "gauge", "Virtual services in the running configuration.");
	dd_prom_sample_u64(&p, "directord_config_services", n_svc, NULL);
	dd_prom_family(&p, "directord_config_real_servers", "gauge",
		       "Real servers in the running configuration (per service).");
	dd_prom_sample_u64(&p, "directord_config_real_servers", n_rs, NULL);

	dd_prom_family(&p, "directord_role_changes_total", "counter", "Role changes of a cluster.");
	for (size_t i = 0; i < o->n_roles; i++)
		dd_prom_sample_u64(&p, "directord_role_changes_total", o->roles[i].changes,
				   "cluster", o->roles[i].cluster, NULL);
	dd_prom_family(&p, "directord_failovers_total", "counter",
		       "Times this director became active for a cluster.");
	for (size_t i = 0; i < o->n_roles; i++)
		dd_prom_sample_u64(&p, "directord_failovers_total", o->roles[i].to_active,
				   "cluster", o->roles[i].cluster, NULL);

	struct snap *sn = snap_new(o);
	metrics_failover(sn, &p);
	metrics_services(o, sn, &p);
	snap_free(sn);

	if (o->ctl) {
		struct dd_ctl_stats cs;
		dd_ctl_get_stats(o->ctl, &cs);
		dd_prom_family(&p, "directord_control_requests_total", "counter",
			       "Requests received on the control socket.");
		dd_prom_sample_u64(&p, "directord_control_requests_total", cs.requests, NULL);
		dd_prom_family(&p, "directord_control_rejected_total", "counter",
			       "Control requests refused, by reason.");
		dd_prom_sample_u64(&p, "directord_control_rejected_total", cs.denied, "reason", "denied", NULL);
		dd_prom_sample_u64(&p, "directord_control_rejected_total", cs.malformed, "reason", "malformed", NULL);
		dd_prom_sample_u64(&p, "directord_control_rejected_total", cs.too_long, "reason", "too_long", NULL);
		dd_prom_sample_u64(&p, "directord_control_rejected_total", cs.busy, "reason", "busy", NULL);
	}
}

static void op_metrics(void *ctx, const struct dd_ctl_req *req, struct dd_ctl_resp *r)
{
	build_metrics(ctx, &r->body);
}

/* ---- takeover, release --------------------------------------------------- */

static void handover(struct dd_ctlops *o, const struct dd_ctl_req *req, struct dd_ctl_resp *r,
		     bool takeover)
{
	const char *what = takeover ? "takeover" : "release";
	struct dd_failover *fo = o->src.fo ? *o->src.fo : NULL;
	if (!fo) {
		dd_ctl_error(r, DD_CTL_UNAVAILABLE, "%s: failover is not running", what);
		return;
	}
	const char *cl = req->argv[0];
	char *err = NULL;
	int rc = takeover ? dd_failover_takeover(fo, cl, &err) : dd_failover_release(fo, cl, &err);
	if (rc < 0) {
		log_warn("ctl", "%s %s refused: %s", what, cl, err ? err : "?");
		dd_ctl_error(r, DD_CTL_FAILED, "%s %s: %s", what, cl, err ? err : "refused");
		free(err);
		return;
	}
	free(err);
	if (req->json) {
		struct dd_json j;
		dd_json_init(&j, &r->body, true);
		dd_json_obj_begin(&j);
		dd_json_kstr(&j, "cluster", cl);
		dd_json_kstr(&j, "requested", what);
		dd_json_obj_end(&j);
	} else {
		dd_buf_printf(&r->body, "%s of cluster %s requested; the role change follows (see status)\n",
			      what, cl);
	}
}

static void op_takeover(void *ctx, const struct dd_ctl_req *req, struct dd_ctl_resp *r)
{
	handover(ctx, req, r, true);
}

static void op_release(void *ctx, const struct dd_ctl_req *req, struct dd_ctl_resp *r)
{
	handover(ctx, req, r, false);
}

/* ---- drain, enable --------------------------------------------------------- */

static void admin(struct dd_ctlops *o, const struct dd_ctl_req *req, struct dd_ctl_resp *r, bool drain)
{
	const char *what = drain ? "drain" : "enable";
	struct dd_fwdplane *fwd = o->src.fwd ? *o->src.fwd : NULL;
	if (!fwd) {
		dd_ctl_error(r, DD_CTL_UNAVAILABLE, "%s: the IPVS forwarding plane is not running", what);
		return;
	}
	const char *svc_name = req->argc == 2 ? req->argv[0] : NULL;
	const char *server = req->argv[req->argc - 1];
	struct dd_addr a;
	uint16_t port;
	if (!dd_ctl_parse_hostport(server, &a, &port)) {
		dd_ctl_error(r, DD_CTL_USAGE, "'%s' is not ADDRESS, ADDRESS:PORT or [IPv6]:PORT", server);
		return;
	}
	const struct dd_config *c = cfg_of(o);
	bool svc_found = false;
	struct dd_buf done = { 0 };
	struct dd_json j;
	if (req->json) {
		dd_json_init(&j, &r->body, true);
		dd_json_obj_begin(&j);
		dd_json_kstr(&j, "action", what);
		dd_json_key(&j, "real_servers");
		dd_json_arr_begin(&j);
	}
	size_t n = 0;
	char buf[DD_ADDR_STRLEN];
	for (size_t ci = 0; ci < c->n_clusters; ci++)
		for (size_t si = 0; si < c->clusters[ci].n_services; si++) {
			const struct dd_service *s = &c->clusters[ci].services[si];
			if (svc_name && strcmp(s->name, svc_name) != 0)
				continue;
			svc_found = true;
			for (size_t k = 0; k < s->n_rs; k++) {
				const struct dd_real_server *rs = &s->rs[k];
				if (!dd_addr_eq(&rs->addr, &a) || (port && rs->port != port))
					continue;
				if (dd_fwd_set_rs_admin_drain(fwd, s->name, &rs->addr, rs->port, drain) < 0)
					continue;
				n++;
				rs_str(rs, buf, sizeof buf);
				log_notice("ctl", "real server %s of service %s %s by directorctl", buf, s->name,
					   drain ? "drained (maintenance)" : "enabled");
				if (req->json) {
					dd_json_obj_begin(&j);
					dd_json_kstr(&j, "service", s->name);
					dd_json_kstr(&j, "address", dd_addr_str(&rs->addr, buf, sizeof buf));
					dd_json_kuint(&j, "port", rs->port);
					dd_json_obj_end(&j);
				} else {
					dd_buf_printf(&done, "%s %s in service %s\n", drain ? "drained" : "enabled",
						      rs_str(rs, buf, sizeof buf), s->name);
				}
			}
		}
	if (req->json) {
		dd_json_arr_end(&j);
		dd_json_obj_end(&j);
	}
	if (svc_name && !svc_found)
		dd_ctl_error(r, DD_CTL_FAILED, "no service named '%s'", svc_name);
	else if (n == 0)
		dd_ctl_error(r, DD_CTL_FAILED, "no real server %s in %s%s", server,
			     svc_name ? "service " : "any service", svc_name ? svc_name : "");
	else if (!req->json)
		dd_buf_add(&r->body, done.p, done.len);
	dd_buf_free(&done);
}

static void op_drain(void *ctx, const struct dd_ctl_req *req, struct dd_ctl_resp *r)
{
	admin(ctx, req, r, true);
}

static void op_enable(void *ctx, const struct dd_ctl_req *req, struct dd_ctl_resp *r)
{
	admin(ctx, req, r, false);
}

/* ---- check, plan, reload ------------------------------------------------ */

static void errors_out(const struct dd_conf_errors *errs, const char *path, struct dd_ctl_resp *r)
{
	r->status = DD_CTL_FAILED;
	if (r->json) {
		struct dd_json j;
		dd_json_init(&j, &r->body, true);
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
		return;
	}
	for (size_t i = 0; i < errs->n; i++) {
		if (errs->v[i].line > 0)
			dd_buf_printf(&r->body, "%s:%d: %s\n", errs->v[i].file, errs->v[i].line, errs->v[i].msg);
		else
			dd_buf_printf(&r->body, "%s: %s\n", errs->v[i].file, errs->v[i].msg);
	}
	dd_buf_printf(&r->body, "%s: %zu error%s\n", path, errs->n, errs->n == 1 ? "" : "s");
}

/* Loads the file a command names, or the daemon's own. NULL: errors are in r. */
static struct dd_config *load_for(struct dd_ctlops *o, const struct dd_ctl_req *req,
				  struct dd_ctl_resp *r, const char **path)
{
	*path = req->argc > 0 ? req->argv[0] : o->src.conf_path;
	struct dd_conf_errors errs = { 0 };
	struct dd_config *c = dd_config_load(*path, &errs);
	if (!c)
		errors_out(&errs, *path, r);
	dd_conf_errors_free(&errs);
	return c;
}

static void op_check(void *ctx, const struct dd_ctl_req *req, struct dd_ctl_resp *r)
{
	struct dd_ctlops *o = ctx;
	const char *path;
	struct dd_config *c = load_for(o, req, r, &path);
	if (!c)
		return;
	size_t n_svc = 0, n_rs = 0;
	for (size_t i = 0; i < c->n_clusters; i++) {
		n_svc += c->clusters[i].n_services;
		for (size_t s = 0; s < c->clusters[i].n_services; s++)
			n_rs += c->clusters[i].services[s].n_rs;
	}
	if (req->json) {
		struct dd_json j;
		dd_json_init(&j, &r->body, true);
		dd_json_obj_begin(&j);
		dd_json_kstr(&j, "file", path);
		dd_json_kbool(&j, "valid", true);
		dd_json_kuint(&j, "clusters", c->n_clusters);
		dd_json_kuint(&j, "services", n_svc);
		dd_json_kuint(&j, "real_servers", n_rs);
		dd_json_obj_end(&j);
	} else {
		dd_buf_printf(&r->body, "%s: configuration OK (%zu cluster%s, %zu service%s, %zu real server%s)\n",
			      path, c->n_clusters, c->n_clusters == 1 ? "" : "s", n_svc, n_svc == 1 ? "" : "s",
			      n_rs, n_rs == 1 ? "" : "s");
	}
	dd_config_free(c);
}

static void op_reload(void *ctx, const struct dd_ctl_req *req, struct dd_ctl_resp *r)
{
	struct dd_ctlops *o = ctx;
	char *why = NULL;
	if (o->src.reload(o->src.daemon, &why) < 0) {
		dd_ctl_error(r, DD_CTL_FAILED, "reload rejected, running configuration kept:\n%s",
			     why ? why : "");
		free(why);
		return;
	}
	free(why);
	if (req->json) {
		struct dd_json j;
		dd_json_init(&j, &r->body, true);
		dd_json_obj_begin(&j);
		dd_json_kstr(&j, "file", o->src.conf_path);
		dd_json_kbool(&j, "reloaded", true);
		dd_json_kuint(&j, "reloads", *o->src.reloads);
		dd_json_obj_end(&j);
	} else {
		dd_buf_printf(&r->body, "reloaded %s\n", o->src.conf_path);
	}
}

static const char *const op_names[] = {
	[IPVS_OP_ADD_SVC] = "add_service", [IPVS_OP_EDIT_SVC] = "edit_service",
	[IPVS_OP_DEL_SVC] = "delete_service", [IPVS_OP_ADD_DEST] = "add_server",
	[IPVS_OP_EDIT_DEST] = "edit_server", [IPVS_OP_DEL_DEST] = "delete_server",
};

static void plan_ipvs_json(const struct ipvs_op *ops, size_t n, struct dd_json *j)
{
	char k[DD_ADDR_STRLEN + 32], a[DD_ADDR_STRLEN];
	dd_json_arr_begin(j);
	for (size_t i = 0; i < n; i++) {
		const struct ipvs_op *op = &ops[i];
		bool dest = op->type >= IPVS_OP_ADD_DEST;
		dd_json_obj_begin(j);
		dd_json_kstr(j, "op", op_names[op->type]);
		dd_json_kstr(j, "service", op->svc.name[0] ? op->svc.name : NULL);
		dd_json_kstr(j, "key", ipvs_svc_key_str(&op->svc.key, k, sizeof k));
		if (dest) {
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
	dd_json_arr_end(j);
}

static void plan_ipvs_text(const struct ipvs_op *ops, size_t n, struct dd_buf *out)
{
	char k[DD_ADDR_STRLEN + 32], a[DD_ADDR_STRLEN];
	if (n == 0)
		dd_buf_puts(out, "  no IPVS changes\n");
	for (size_t i = 0; i < n; i++) {
		const struct ipvs_op *op = &ops[i];
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
			dd_buf_printf(out, "  ipvs update real server %s in %s, %s, weight %" PRIu32 " -> %" PRIu32,
				      a, name, ipvs_fwd_name(op->dest.fwd), op->old_weight, op->dest.weight);
			break;
		case IPVS_OP_DEL_DEST:
			dd_buf_printf(out, "  ipvs delete real server %s from %s", a, name);
			break;
		}
		dd_buf_printf(out, " (%s)\n", op->reason ? op->reason : "");
	}
}

static void op_plan(void *ctx, const struct dd_ctl_req *req, struct dd_ctl_resp *r)
{
	struct dd_ctlops *o = ctx;
	const char *path;
	struct dd_config *next = load_for(o, req, r, &path);
	if (!next)
		return;
	/* The config's diff, the same one a reload applies (conf/diff.h);
	 * each change says whether it touches the kernel now. */
	struct dd_vip_change *vc;
	const struct dd_config *cur = cfg_of(o);
	size_t n = dd_vip_diff(cur->clusters, cur->n_clusters, next->clusters, next->n_clusters, NULL,
			       NULL, &vc);
	struct snap *sn = snap_new(o);
	char a[DD_ADDR_STRLEN];
	struct ipvs_op *ops = NULL;
	size_t n_ops = 0;
	char *perr = NULL;
	bool have_ops = sn->fwd && dd_fwd_plan(sn->fwd, next, &ops, &n_ops, &perr) == 0;
	if (sn->fwd && !have_ops) {
		dd_ctl_error(r, DD_CTL_FAILED, "plan: %s", perr ? perr : "IPVS dry run failed");
		free(perr);
		snap_free(sn);
		free(vc);
		dd_config_free(next);
		return;
	}
	if (req->json) {
		struct dd_json j;
		dd_json_init(&j, &r->body, true);
		dd_json_obj_begin(&j);
		dd_json_kstr(&j, "file", path);
		dd_json_key(&j, "vips");
		dd_json_arr_begin(&j);
		for (size_t i = 0; i < n; i++) {
			dd_json_obj_begin(&j);
			dd_json_kstr(&j, "action", vc[i].add ? "add" : "remove");
			dd_json_kstr(&j, "cluster", vc[i].cluster->name);
			dd_json_kstr(&j, "address", dd_addr_str(&vc[i].vip->addr, a, sizeof a));
			dd_json_kint(&j, "prefix", vc[i].vip->prefix);
			dd_json_kstr(&j, "interface", vc[i].vip->ifname);
			const struct dd_failover_cluster_status *fc = fo_cluster(sn, vc[i].cluster->name);
			dd_json_key(&j, "now");
			if (fc)
				dd_json_bool(&j, fc->role == DD_ROLE_ACTIVE);
			else
				dd_json_null(&j);
			dd_json_obj_end(&j);
		}
		dd_json_arr_end(&j);
		dd_json_key(&j, "ipvs");
		if (have_ops)
			plan_ipvs_json(ops, n_ops, &j);
		else
			dd_json_null(&j);
		dd_json_obj_end(&j);
	} else {
		dd_buf_printf(&r->body, "plan for %s:\n", path);
		for (size_t i = 0; i < n; i++) {
			const struct dd_failover_cluster_status *fc = fo_cluster(sn, vc[i].cluster->name);
			dd_buf_printf(&r->body, "  vip %s %s/%d on %s (cluster %s%s)\n",
				      vc[i].add ? "add" : "remove",
				      dd_addr_str(&vc[i].vip->addr, a, sizeof a), vc[i].vip->prefix,
				      vc[i].vip->ifname, vc[i].cluster->name,
				      !fc ? "" : fc->role == DD_ROLE_ACTIVE ? ", active: now" :
				      ", not active: at takeover");
		}
		if (n == 0)
			dd_buf_puts(&r->body, "  no VIP changes\n");
		if (have_ops)
			plan_ipvs_text(ops, n_ops, &r->body);
		else
			dd_buf_puts(&r->body, "  ipvs: the forwarding plane is not running\n");
	}
	free(ops);
	free(vc);
	snap_free(sn);
	dd_config_free(next);
}

/* ---- life cycle --------------------------------------------------------- */

static void open_http(struct dd_ctlops *o)
{
	const char *want = cfg_of(o)->control.metrics_listen;
	if (o->http && want && strcmp(dd_metrics_http_listen(o->http), want) == 0)
		return;
	dd_metrics_http_free(o->http);
	o->http = NULL;
	if (!want)
		return;
	char *err = NULL;
	o->http = dd_metrics_http_new(o->loop, want, build_metrics, o, &err);
	if (!o->http) {
		log_err("metrics", "%s; metrics stay available through directorctl metrics", err);
		free(err);
	}
}

struct dd_ctlops *dd_ctlops_start(struct ev_loop *loop, const struct dd_ctlops_src *src, char **err)
{
	struct dd_ctlops *o = xcalloc(1, sizeof *o);
	o->loop = loop;
	o->src = *src;
	o->started = mono_now();
	struct dd_ctl_ops ops = {
		.ctx = o,
		.status = op_status,
		.metrics = op_metrics,
		.takeover = op_takeover,
		.release = op_release,
		.drain = op_drain,
		.enable = op_enable,
		.reload = op_reload,
		.plan = op_plan,
		.check = op_check,
	};
	o->ctl = dd_ctl_new(loop, &cfg_of(o)->control, &ops, err);
	if (!o->ctl) {
		free(o);
		return NULL;
	}
	open_http(o);
	return o;
}

void dd_ctlops_role_changed(struct dd_ctlops *o, const char *cluster, enum dd_role old_role,
			    enum dd_role new_role)
{
	if (!o)
		return;
	struct role_count *rc = NULL;
	for (size_t i = 0; i < o->n_roles && !rc; i++)
		if (strcmp(o->roles[i].cluster, cluster) == 0)
			rc = &o->roles[i];
	if (!rc) {
		o->roles = xrealloc(o->roles, (o->n_roles + 1) * sizeof *o->roles);
		rc = &o->roles[o->n_roles++];
		memset(rc, 0, sizeof *rc);
		snprintf(rc->cluster, sizeof rc->cluster, "%s", cluster);
	}
	rc->changes++;
	if (new_role == DD_ROLE_ACTIVE)
		rc->to_active++;
}

void dd_ctlops_reconfigure(struct dd_ctlops *o)
{
	char *err = NULL;
	if (dd_ctl_reconfigure(o->ctl, &cfg_of(o)->control, &err) < 0) {
		log_err("ctl", "%s", err);
		free(err);
	}
	open_http(o);
}

void dd_ctlops_stop(struct dd_ctlops *o)
{
	if (!o)
		return;
	dd_metrics_http_free(o->http);
	dd_ctl_free(o->ctl);
	free(o->roles);
	free(o);
}
