/* SPDX-License-Identifier: GPL-2.0-or-later */
/* directord/ctlops.c: the daemon's command handlers for directorctl and
 * the metrics scrapes, and the life cycle of the control socket and the
 * metrics listener (see ctlops.h). Answers are built as structures
 * (status.h: the status model, plans, admin results) and rendered by the
 * text, JSON and Prometheus writers; nothing here formats an answer twice.
 * A part that is not in this build or not running shows as null in JSON,
 * is left out of the text and the metrics, and its commands answer
 * "unavailable". Runs on the daemon's main libev loop, except the
 * render_* functions, which the render thread runs (directord/render.h):
 * status and metrics are filled here and rendered there, so that a 4 MB
 * exposition does not hold the loop that times the health checks. */
#include "config.h"
#include "directord/ctlops.h"
#include "conf/diff.h"
#include "directord/ctl.h"
#include "directord/ecmp.h"
#include "heartbeat/failover.h"
#include "directord/fwd.h"
#include "directord/json.h"
#include "directord/metrics.h"
#include "directord/oneshot.h"
#include "directord/render.h"
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
	struct dd_render *render; /* NULL: rendered on the loop (no thread) */
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
		.ecmp = o->src.ecmp ? *o->src.ecmp : NULL,
		.track = o->src.track ? *o->src.track : NULL,
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

/* A status or metrics answer in the making: what to render and where it
 * goes. Lives from submit to done. */
struct pending {
	bool json, http, head_only;
	struct dd_ctl_later *ctl;
	struct dd_oneshot_ticket *ticket;
};

static void render_status(void *arg, const struct dd_status *st, struct dd_buf *out)
{
	const struct pending *p = arg;
	dd_ctl_reply_head(out, DD_CTL_OK);
	(p->json ? dd_status_json : dd_status_text)(st, out);
}

static void render_metrics(void *arg, const struct dd_status *st, struct dd_buf *out)
{
	const struct pending *p = arg;
	if (!p->http) {
		dd_ctl_reply_head(out, DD_CTL_OK);
		dd_status_prom(st, out);
		return;
	}
	struct dd_buf body = { 0 };
	dd_status_prom(st, &body);
	dd_metrics_http_ok(out, &body, p->head_only);
	dd_buf_free(&body);
}

static void rendered(void *arg, struct dd_buf *out)
{
	struct pending *p = arg;
	if (p->http)
		dd_oneshot_finish(p->ticket, out);
	else
		dd_ctl_finish(p->ctl, out);
	free(p);
}

/* Fills now; renders on the render thread, or here if there is none. */
static void answer(struct dd_ctlops *o, const struct dd_cluster *only, dd_render_fn fn,
		   struct pending *p)
{
	struct dd_status st;
	fill(o, &st, only);
	if (o->render) {
		dd_render_submit(o->render, &st, fn, rendered, p);
		return;
	}
	struct dd_buf out = { 0 };
	fn(p, &st, &out);
	dd_status_free(&st);
	rendered(p, &out);
}

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
	struct pending *p = xcalloc(1, sizeof *p);
	p->json = req->json;
	p->ctl = dd_ctl_defer(r);
	answer(o, only, render_status, p);
}

static void http_metrics(void *ctx, bool head_only, struct dd_oneshot_ticket *t)
{
	struct pending *p = xcalloc(1, sizeof *p);
	p->http = true;
	p->head_only = head_only;
	p->ticket = t;
	answer(ctx, NULL, render_metrics, p);
}

static void op_metrics(void *ctx, const struct dd_ctl_req *req, struct dd_ctl_resp *r)
{
	struct pending *p = xcalloc(1, sizeof *p);
	p->ctl = dd_ctl_defer(r);
	answer(ctx, NULL, render_metrics, p);
}

void dd_ctlops_dump(struct dd_ctlops *o, bool counters, struct dd_buf *out)
{
	/* An operator's signal, rare: rendered here, into a file. */
	struct dd_status st;
	fill(o, &st, NULL);
	(counters ? dd_status_prom : dd_status_text)(&st, out);
	dd_status_free(&st);
}

void dd_ctlops_quiesce(struct dd_ctlops *o)
{
	if (o)
		dd_render_quiesce(o->render);
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

/* ---- drain-director, undrain-director (ECMP) --------------------------------- */

static void director_drain(struct dd_ctlops *o, const struct dd_ctl_req *req, struct dd_ctl_resp *r,
			   bool drain)
{
	const char *what = drain ? "drain-director" : "undrain-director";
	struct dd_ecmpctl *e = o->src.ecmp ? *o->src.ecmp : NULL;
	if (!e || !dd_config_has_ecmp(cfg_of(o))) {
		dd_ctl_error(r, DD_CTL_FAILED, "%s: no cluster is in ECMP mode", what);
		return;
	}
	char *err = NULL;
	if (dd_ecmp_drain(e, drain, &err) < 0) {
		log_warn("ctl", "%s refused: %s", what, err ? err : "?");
		dd_ctl_error(r, DD_CTL_FAILED, "%s: %s", what, err ? err : "refused");
		free(err);
		return;
	}
	log_notice("ctl", "director %s by directorctl", drain ? "drained" : "undrained");
	struct dd_ack a = { .kind = DD_ACK_DRAIN_DIRECTOR, .drain = drain,
			    .drain_timeout_s = cfg_of(o)->ecmp.drain_timeout_s };
	(req->json ? dd_ack_json : dd_ack_text)(&a, &r->body);
}

static void op_drain_director(void *ctx, const struct dd_ctl_req *req, struct dd_ctl_resp *r)
{
	director_drain(ctx, req, r, true);
}

static void op_undrain_director(void *ctx, const struct dd_ctl_req *req, struct dd_ctl_resp *r)
{
	director_drain(ctx, req, r, false);
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
	o->http = dd_metrics_http_new(o->loop, want, ctl->metrics_max_clients, http_metrics, o, &err);
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
		.drain_director = op_drain_director,
		.undrain_director = op_undrain_director,
	};
	o->ctl = dd_ctl_new(loop, &cfg_of(o)->control, &ops, err);
	if (!o->ctl) {
		free(o);
		return NULL;
	}
	char *rerr = NULL;
	o->render = dd_render_new(loop, &rerr);
	if (!o->render) {
		log_warn("ctl", "%s; status and metrics are rendered on the main loop", rerr);
		free(rerr);
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
	/* Answers still rendering are delivered first, to connections that
	 * the two frees below then close. */
	dd_render_free(o->render);
	dd_metrics_http_free(o->http);
	dd_ctl_free(o->ctl);
	for (size_t i = 0; i < o->n_roles; i++)
		free((char *)o->roles[i].cluster);
	free(o->roles);
	free(o);
}
