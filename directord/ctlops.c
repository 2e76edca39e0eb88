/* SPDX-License-Identifier: GPL-2.0-or-later */
/* directord/ctlops.c: the daemon's command handlers for directorctl and
 * the metrics scrapes, and the life cycle of the control socket and the
 * metrics listener (see ctlops.h). Answers are built as structures
 * (status.h: the status model, plans, admin results) and rendered by the
 * text, JSON and Prometheus writers; nothing here formats an answer twice.
 * A part that is not in this build or not running shows as null in JSON,
 * is left out of the text and the metrics, and its commands answer
 * "unavailable". Runs on the daemon's main libev loop. */
#include "config.h"
#include "directord/ctlops.h"
#include "conf/diff.h"
#include "directord/ctl.h"
#include "heartbeat/failover.h"
#include "directord/fwd.h"
#include "directord/json.h"
#include "directord/metrics.h"
#include "directord/status.h"
#include "health/health.h"
#include "lib/addr.h"
#include "lib/log.h"
#include "lib/util.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct dd_ctlops {
	struct ev_loop *loop;
	struct dd_ctlops_src src;
	struct dd_ctl *ctl;
	struct dd_metrics_http *http;
	double started;
	/* Role changes seen through the failover hook, for the metrics;
	 * cluster names are malloc'd. */
	struct dd_st_role_count *roles;
	size_t n_roles;
};

static const struct dd_config *cfg_of(const struct dd_ctlops *o)
{
	return *o->src.cfg;
}

static struct dd_fwdplane *fwd_of(const struct dd_ctlops *o)
{
	return o->src.fwd ? *o->src.fwd : NULL;
}

static struct dd_failover *fo_of(const struct dd_ctlops *o)
{
	return o->src.fo ? *o->src.fo : NULL;
}

/* The model of this moment: one pass over each running part. */
static void fill(struct dd_ctlops *o, struct dd_status *st, const struct dd_cluster *only)
{
	struct dd_status_src src = {
		.cfg = cfg_of(o),
		.conf_path = o->src.conf_path,
		.started = o->started,
		.reloads = *o->src.reloads,
		.reload_failures = *o->src.reload_failures,
		.fwd = fwd_of(o),
		.fo = fo_of(o),
		.health = o->src.health ? *o->src.health : NULL,
		.ctl = o->ctl,
		.snmp = o->src.snmp ? *o->src.snmp : NULL,
		.roles = o->roles,
		.n_roles = o->n_roles,
	};
	dd_status_fill(st, &src, only);
}

void dd_ctlops_fill(struct dd_ctlops *o, struct dd_status *st)
{
	fill(o, st, NULL);
}

/* ---- status, metrics ------------------------------------------------------ */

static void op_status(void *ctx, const struct dd_ctl_req *req, struct dd_ctl_resp *r)
{
	struct dd_ctlops *o = ctx;
	const struct dd_cluster *only = NULL;
	if (req->argc == 1) {
		only = dd_cluster_find(cfg_of(o)->clusters, cfg_of(o)->n_clusters, req->argv[0]);
		if (!only) {
			dd_ctl_error(r, DD_CTL_FAILED, "no cluster named '%s'", req->argv[0]);
			return;
		}
	}
	struct dd_status st;
	fill(o, &st, only);
	(req->json ? dd_status_json : dd_status_text)(&st, &r->body);
	dd_status_free(&st);
}

static void build_metrics(void *ctx, struct dd_buf *out)
{
	struct dd_status st;
	fill(ctx, &st, NULL);
	dd_status_prom(&st, out);
	dd_status_free(&st);
}

static void op_metrics(void *ctx, const struct dd_ctl_req *req, struct dd_ctl_resp *r)
{
	build_metrics(ctx, &r->body);
}

void dd_ctlops_dump(struct dd_ctlops *o, bool counters, struct dd_buf *out)
{
	if (counters) {
		build_metrics(o, out);
		return;
	}
	struct dd_status st;
	fill(o, &st, NULL);
	dd_status_text(&st, out);
	dd_status_free(&st);
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
	struct dd_ack a = { .kind = DD_ACK_HANDOVER, .cluster = cl, .takeover = takeover };
	(req->json ? dd_ack_json : dd_ack_text)(&a, &r->body);
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
	struct dd_fwdplane *fwd = fwd_of(o);
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
	struct dd_admin_result res = { .drain = drain };
	size_t cap = 0;
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
				log_notice("ctl", "real server %s of service %s %s by directorctl",
					   dd_addr_port_str(&rs->addr, rs->port, buf, sizeof buf), s->name,
					   drain ? "drained (maintenance)" : "enabled");
				if (res.n == cap) {
					cap = cap ? cap * 2 : 4;
					res.v = xrealloc(res.v, cap * sizeof *res.v);
				}
				res.v[res.n++] = (struct dd_admin_rs){ s->name, rs };
			}
		}
	if (svc_name && !svc_found)
		dd_ctl_error(r, DD_CTL_FAILED, "no service named '%s'", svc_name);
	else if (res.n == 0)
		dd_ctl_error(r, DD_CTL_FAILED, "no real server %s in %s%s", server,
			     svc_name ? "service " : "any service", svc_name ? svc_name : "");
	else
		(req->json ? dd_admin_json : dd_admin_text)(&res, &r->body);
	free(res.v);
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
	(r->json ? dd_conf_errors_json : dd_conf_errors_text)(errs, path, &r->body);
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
	struct dd_ack a = { .kind = DD_ACK_CHECK, .file = path, .clusters = c->n_clusters };
	dd_config_count(c, &a.services, &a.real_servers);
	(req->json ? dd_ack_json : dd_ack_text)(&a, &r->body);
	dd_config_free(c);
}

static void op_reload(void *ctx, const struct dd_ctl_req *req, struct dd_ctl_resp *r)
{
	struct dd_ctlops *o = ctx;
	char *why = NULL;
	int rr = o->src.reload(o->src.daemon, &why);
	if (rr < 0) {
		dd_ctl_error(r, DD_CTL_FAILED, "reload rejected, running configuration kept:\n%s",
			     why ? why : "");
		free(why);
		return;
	}
	if (rr > 0) {
		dd_ctl_error(r, DD_CTL_FAILED, "reload applied from %s, but not all of it: %s",
			     o->src.conf_path, why ? why : "");
		free(why);
		return;
	}
	free(why);
	struct dd_ack a = { .kind = DD_ACK_RELOAD, .file = o->src.conf_path, .reloads = *o->src.reloads };
	(req->json ? dd_ack_json : dd_ack_text)(&a, &r->body);
}

/* Whether each VIP change applies now: only an active director holds VIPs. */
static void plan_roles(struct dd_ctlops *o, struct dd_plan_vip *vc, size_t n)
{
	struct dd_failover *fo = fo_of(o);
	struct dd_failover_status *f = fo ? xmalloc(sizeof *f) : NULL;
	if (f && dd_failover_status(fo, f) != 0) {
		free(f);
		f = NULL;
	}
	for (size_t i = 0; f && i < n; i++)
		for (size_t k = 0; k < f->n_clusters; k++)
			if (strcmp(f->clusters[k].name, vc[i].cluster) == 0)
				vc[i].now = f->clusters[k].role == DD_ROLE_ACTIVE;
	free(f);
}

static void op_plan(void *ctx, const struct dd_ctl_req *req, struct dd_ctl_resp *r)
{
	struct dd_ctlops *o = ctx;
	const char *path;
	struct dd_config *next = load_for(o, req, r, &path);
	if (!next)
		return;
	/* The config's diff, the same one a reload applies (conf/diff.h). */
	struct dd_vip_change *vc;
	const struct dd_config *cur = cfg_of(o);
	struct dd_plan p = { .file = path };
	p.n_vips = dd_vip_diff(cur->clusters, cur->n_clusters, next->clusters, next->n_clusters, NULL, NULL, &vc);
	p.vips = xcalloc(p.n_vips ? p.n_vips : 1, sizeof *p.vips);
	for (size_t i = 0; i < p.n_vips; i++)
		p.vips[i] = (struct dd_plan_vip){ vc[i].cluster->name, vc[i].vip, vc[i].add, -1 };
	free(vc);
	plan_roles(o, p.vips, p.n_vips);
	struct dd_fwdplane *fwd = fwd_of(o);
	struct ipvs_op *ops = NULL;
	char *perr = NULL;
	p.have_ipvs = fwd && dd_fwd_plan(fwd, next, &ops, &p.n_ops, &perr) == 0;
	p.ops = ops;
	if (fwd && !p.have_ipvs) {
		dd_ctl_error(r, DD_CTL_FAILED, "plan: %s", perr ? perr : "IPVS dry run failed");
		free(perr);
	} else {
		(req->json ? dd_plan_json : dd_plan_text)(&p, &r->body);
	}
	free(ops);
	free(p.vips);
	dd_config_free(next);
}

/* ---- life cycle --------------------------------------------------------- */

static void open_http(struct dd_ctlops *o)
{
	const struct dd_control *ctl = &cfg_of(o)->control;
	const char *want = ctl->metrics_listen;
	if (o->http && want && strcmp(dd_metrics_http_listen(o->http), want) == 0) {
		dd_metrics_http_set_limits(o->http, ctl->metrics_max_clients);
		return;
	}
	dd_metrics_http_free(o->http);
	o->http = NULL;
	if (!want)
		return;
	char *err = NULL;
	o->http = dd_metrics_http_new(o->loop, want, ctl->metrics_max_clients, build_metrics, o, &err);
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
	struct dd_st_role_count *rc = NULL;
	for (size_t i = 0; i < o->n_roles && !rc; i++)
		if (strcmp(o->roles[i].cluster, cluster) == 0)
			rc = &o->roles[i];
	if (!rc) {
		o->roles = xrealloc(o->roles, (o->n_roles + 1) * sizeof *o->roles);
		rc = &o->roles[o->n_roles++];
		*rc = (struct dd_st_role_count){ .cluster = xstrdup(cluster) };
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
	for (size_t i = 0; i < o->n_roles; i++)
		free((char *)o->roles[i].cluster);
	free(o->roles);
	free(o);
}
