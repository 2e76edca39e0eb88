/* SPDX-License-Identifier: GPL-2.0-or-later */
/* directord/ecmp.c: ECMP mode on the daemon's main loop (see ecmp.h).
 *
 * Quorum lives in the forwarding plane; the engine decides announcements
 * on its own thread. This file is the bridge: after every reconcile pass
 * it reduces the quorum of the services to one verdict per ECMP VIP and
 * posts it to the engine only when it changed, so the heartbeat thread
 * sees a command per change, not per pass. The drain and the SIGTERM wait
 * poll IPVS's connection counters on a timer here; the withdrawal itself
 * is one command to the engine. Main loop only. */
#include "config.h"
#include "directord/ecmp.h"
#include "directord/fwd.h"
#include "heartbeat/failover.h"
#include "lib/log.h"
#include "lib/util.h"

#include <ev.h>
#include <stdlib.h>
#include <string.h>

#define SUB "ecmp"
#define POLL_MS 200

struct dd_ecmpctl {
	struct ev_loop *loop;
	struct dd_config **cfg;
	struct dd_fwdplane **fwd;
	struct dd_failover **fo;
	struct dd_ecmp_vip_health *sent;
	size_t n_sent;
	bool have_sent;
	enum dd_ecmp_drain drain;
	uint64_t drain_since;
	uint64_t conns;
	ev_timer poll;
	bool stopping;
	uint64_t stop_deadline;
	void (*done)(void *ctx);
	void *done_ctx;
};

const char *dd_ecmp_drain_name(enum dd_ecmp_drain d)
{
	switch (d) {
	case DD_ECMP_SERVING: return "serving";
	case DD_ECMP_DRAINING: return "draining";
	case DD_ECMP_DRAINED_DONE: return "drained";
	}
	return "?";
}

static bool svc_on_vip(const struct dd_service *s, const struct dd_addr *vip)
{
	/* A fwmark service has no VIP of its own: it counts for every VIP of
	 * its cluster. */
	return s->proto == DD_PROTO_FWMARK || dd_addr_eq(&s->vip, vip);
}

void dd_ecmp_sync(struct dd_ecmpctl *e)
{
	const struct dd_config *c = e ? *e->cfg : NULL;
	struct dd_failover *fo = e ? *e->fo : NULL;
	if (!fo || !dd_config_has_ecmp(c))
		return;
	struct dd_fwdplane *fwd = *e->fwd;
	size_t n = 0, cap = 0;
	struct dd_ecmp_vip_health *v = NULL;
	for (size_t i = 0; i < c->n_clusters; i++) {
		const struct dd_cluster *cl = &c->clusters[i];
		for (size_t j = 0; cl->mode == DD_MODE_ECMP && j < cl->n_vips; j++) {
			if (n == cap) {
				cap = cap ? cap * 2 : 8;
				v = xrealloc(v, cap * sizeof *v);
			}
			struct dd_ecmp_vip_health *h = &v[n++];
			memset(h, 0, sizeof *h);
			h->vip = cl->vips[j].addr;
			h->quorum = true;
			for (size_t k = 0; h->quorum && k < cl->n_services; k++) {
				const struct dd_service *s = &cl->services[k];
				if (!svc_on_vip(s, &h->vip))
					continue;
				if ((fwd ? dd_fwd_quorum(fwd, s->name) : -1) != 1) {
					h->quorum = false;
					snprintf(h->service, sizeof h->service, "%s", s->name);
				}
			}
		}
	}
	if (e->have_sent && n == e->n_sent && (!n || memcmp(v, e->sent, n * sizeof *v) == 0)) {
		free(v);
		return;
	}
	char *err = NULL;
	if (dd_failover_ecmp_health(fo, v, n, &err) < 0) {
		log_err(SUB, "cannot hand the quorum to the failover engine: %s", err ? err : "?");
		free(err);
		free(v);
		return;
	}
	free(e->sent);
	e->sent = v;
	e->n_sent = n;
	e->have_sent = true;
}

/* Active connections of the ECMP services, from the kernel's counters. */
static uint64_t ecmp_conns(struct dd_ecmpctl *e)
{
	const struct dd_config *c = *e->cfg;
	struct dd_fwdplane *fwd = *e->fwd;
	if (!fwd)
		return 0;
	struct ipvs_table t;
	char *err = NULL;
	if (dd_fwd_counters(fwd, &t, &err) < 0) {
		log_warn(SUB, "cannot read the IPVS connection counters: %s", err ? err : "?");
		free(err);
		return 0;
	}
	uint64_t n = 0;
	for (size_t i = 0; i < t.n; i++)
		for (size_t ci = 0; ci < c->n_clusters; ci++)
			for (size_t k = 0; c->clusters[ci].mode == DD_MODE_ECMP && k < c->clusters[ci].n_services; k++)
				if (strcmp(c->clusters[ci].services[k].name, t.svc[i].name) == 0)
					for (size_t d = 0; d < t.svc[i].n_dests; d++)
						n += t.svc[i].dests[d].active_conns;
	ipvs_table_free(&t);
	return n;
}

static void on_poll(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct dd_ecmpctl *e = w->data;
	uint64_t now = mono_ms();
	e->conns = ecmp_conns(e);
	if (e->stopping) {
		if (e->conns && now < e->stop_deadline)
			return;
		ev_timer_stop(loop, w);
		log_notice(SUB, "routes withdrawn; stopping with %llu connection%s left",
			   (unsigned long long)e->conns, e->conns == 1 ? "" : "s");
		e->stopping = false;
		if (e->done)
			e->done(e->done_ctx);
		return;
	}
	if (e->drain != DD_ECMP_DRAINING) {
		ev_timer_stop(loop, w);
		return;
	}
	uint64_t limit = (uint64_t)(*e->cfg)->ecmp.drain_timeout_s * 1000;
	if (e->conns && now - e->drain_since < limit)
		return;
	ev_timer_stop(loop, w);
	e->drain = DD_ECMP_DRAINED_DONE;
	if (e->conns)
		log_notice(SUB, "director drained: drain_timeout_s %u passed with %llu connection%s left",
			   (*e->cfg)->ecmp.drain_timeout_s, (unsigned long long)e->conns, e->conns == 1 ? "" : "s");
	else
		log_notice(SUB, "director drained: no connection left after %llu ms",
			   (unsigned long long)(now - e->drain_since));
}

static void poll_now(struct dd_ecmpctl *e)
{
	ev_timer_stop(e->loop, &e->poll);
	ev_timer_set(&e->poll, 0., POLL_MS / 1000.0);
	ev_timer_start(e->loop, &e->poll);
}

struct dd_ecmpctl *dd_ecmp_new(struct ev_loop *loop, struct dd_config **cfg, struct dd_fwdplane **fwd,
			    struct dd_failover **fo)
{
	struct dd_ecmpctl *e = xcalloc(1, sizeof *e);
	e->loop = loop;
	e->cfg = cfg;
	e->fwd = fwd;
	e->fo = fo;
	ev_timer_init(&e->poll, on_poll, 0., POLL_MS / 1000.0);
	e->poll.data = e;
	return e;
}

void dd_ecmp_free(struct dd_ecmpctl *e)
{
	if (!e)
		return;
	ev_timer_stop(e->loop, &e->poll);
	free(e->sent);
	free(e);
}

int dd_ecmp_drain(struct dd_ecmpctl *e, bool drain, char **err)
{
	struct dd_failover *fo = *e->fo;
	if (!fo) {
		dd_seterr(err, "the failover engine is not running");
		return -1;
	}
	if (e->stopping) {
		dd_seterr(err, "directord is stopping");
		return -1;
	}
	if (dd_failover_ecmp_drain(fo, drain, false, err) < 0)
		return -1;
	if (drain && e->drain == DD_ECMP_SERVING) {
		e->drain = DD_ECMP_DRAINING;
		e->drain_since = mono_ms();
		poll_now(e);
	} else if (!drain) {
		e->drain = DD_ECMP_SERVING;
		ev_timer_stop(e->loop, &e->poll);
	}
	return 0;
}

bool dd_ecmp_stop(struct dd_ecmpctl *e, void (*done)(void *ctx), void *ctx)
{
	struct dd_failover *fo = e ? *e->fo : NULL;
	if (!fo || !dd_config_has_ecmp(*e->cfg) || e->stopping)
		return false;
	char *err = NULL;
	if (dd_failover_ecmp_drain(fo, true, true, &err) < 0) {
		log_err(SUB, "cannot withdraw before stopping: %s", err ? err : "?");
		free(err);
		return false;
	}
	log_notice(SUB, "stopping: routes withdrawn first; waiting at most %u ms for connections to end",
		   (*e->cfg)->ecmp.stop_wait_ms);
	e->stopping = true;
	e->stop_deadline = mono_ms() + (*e->cfg)->ecmp.stop_wait_ms;
	e->done = done;
	e->done_ctx = ctx;
	poll_now(e);
	return true;
}

void dd_ecmp_view(const struct dd_ecmpctl *e, struct dd_ecmp_view *v)
{
	memset(v, 0, sizeof *v);
	if (!e || !dd_config_has_ecmp(*e->cfg))
		return;
	v->present = true;
	v->drain = e->drain;
	v->drain_ms = e->drain != DD_ECMP_SERVING ? mono_ms() - e->drain_since : 0;
	v->conns = e->conns;
	v->stopping = e->stopping;
}
