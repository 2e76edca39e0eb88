/* SPDX-License-Identifier: GPL-2.0-or-later */
/* directord/desired.c: config + health + admin drains + clock -> the IPVS
 * table directord wants. No I/O; called from the main loop by fwd.c. */
#include "config.h"
#include "directord/desired.h"

#include <arpa/inet.h>
#include <linux/ip_vs.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>

#define RAMP_MIN_STEP_MS 200

uint32_t ds_fwd_to_kernel(enum dd_fwd f)
{
	switch (f) {
	case DD_FWD_NAT: return IP_VS_CONN_F_MASQ;
	case DD_FWD_TUN: return IP_VS_CONN_F_TUNNEL;
	case DD_FWD_DR: break;
	}
	return IP_VS_CONN_F_DROUTE;
}

void ds_service_from_config(const struct dd_service *s, struct ipvs_service *out)
{
	memset(out, 0, sizeof(*out));
	struct ipvs_svc_key *k = &out->key;
	switch (s->proto) {
	case DD_PROTO_TCP: k->protocol = IPPROTO_TCP; break;
	case DD_PROTO_UDP: k->protocol = IPPROTO_UDP; break;
	case DD_PROTO_SCTP: k->protocol = IPPROTO_SCTP; break;
	case DD_PROTO_FWMARK: k->protocol = 0; break;
	}
	if (s->proto == DD_PROTO_FWMARK) {
		k->af = (uint16_t)(s->af ? s->af : AF_INET);
		k->fwmark = s->fwmark;
	} else {
		k->af = (uint16_t)s->vip.family;
		k->addr = s->vip;
		k->port = s->port;
	}
	snprintf(out->sched, sizeof(out->sched), "%s", s->scheduler[0] ? s->scheduler : "wlc");
	if (s->persistence_timeout_s)
		out->flags |= IP_VS_SVC_F_PERSISTENT;
	if (s->ops)
		out->flags |= IP_VS_SVC_F_ONEPACKET;
	/* sh and mh share the meaning of flag-1 (fallback) and flag-2 (port) */
	if (s->sched_flags.fallback)
		out->flags |= IP_VS_SVC_F_SCHED1;
	if (s->sched_flags.port)
		out->flags |= IP_VS_SVC_F_SCHED2;
	out->timeout = s->persistence_timeout_s;
	int maxp = k->af == AF_INET6 ? 128 : 32;
	int p = s->persistence_prefix;
	if (p < 0 || p > maxp)
		p = maxp;
	if (k->af == AF_INET6)
		out->netmask = (uint32_t)p;
	else
		out->netmask = htonl(p == 0 ? 0 : p == 32 ? 0xffffffffu : ~(0xffffffffu >> p));
	snprintf(out->name, sizeof(out->name), "%s", s->name);
	out->drain_ms = s->drain_ms;
}

bool ds_rs_is_up(const struct dd_real_server *rs, const struct ds_rs_state *st)
{
	if (rs->check.type == DD_CHECK_NONE)
		return true;
	switch (st->health) {
	case DS_HEALTH_UP: return true;
	case DS_HEALTH_DOWN: return false;
	case DS_HEALTH_UNKNOWN: break;
	}
	/* a restart must not take traffic away from servers that had it */
	return st->adopted_up || rs->check.initial == DD_INITIAL_UP;
}

/* Returns the cause of a change of the sorry state, or NULL if none. */
static const char *update_quorum(const struct dd_service *s, struct ds_svc_state *st, uint32_t up)
{
	uint32_t q = s->quorum, h = s->quorum_hysteresis;
	bool was = st->sorry_known && st->sorry;
	if (!st->sorry_known) {
		st->sorry = up < q;
		st->sorry_known = true;
	} else if (!st->sorry && q > h && up < q - h) {
		st->sorry = true;
	} else if (st->sorry && up >= q + h) {
		st->sorry = false;
	}
	if (st->sorry == was)
		return NULL;
	return st->sorry ? "quorum lost" : "quorum regained";
}

/* `*ramping` says the weight came from slow start, including the step
 * that ends it at the full weight. */
static uint32_t ramp_weight(uint32_t w, const struct dd_real_server *rs, struct ds_rs_state *rst,
			    uint64_t now, uint64_t *next_ms, bool *ramping)
{
	*ramping = false;
	if (!rst->up_since_ms || !rs->slow_start_ms || w == 0)
		return w;
	*ramping = true;
	uint64_t el = now > rst->up_since_ms ? now - rst->up_since_ms : 0;
	if (el >= rs->slow_start_ms) {
		rst->up_since_ms = 0;
		return w;
	}
	uint64_t rw = (uint64_t)w * el / rs->slow_start_ms;
	if (rw < 1)
		rw = 1;
	uint64_t step = rs->slow_start_ms / 10;
	if (step < RAMP_MIN_STEP_MS)
		step = RAMP_MIN_STEP_MS;
	uint64_t nx = now + step;
	if (nx > rst->up_since_ms + rs->slow_start_ms)
		nx = rst->up_since_ms + rs->slow_start_ms;
	if (!*next_ms || nx < *next_ms)
		*next_ms = nx;
	return (uint32_t)rw;
}

static void next_due(uint64_t *next_ms, uint64_t at)
{
	if (!*next_ms || at < *next_ms)
		*next_ms = at;
}

/* A server that does not count as up. With removal "drain" it keeps weight
 * 0 so that its established and persistent connections finish, but only
 * for drain_ms: a dead server left in the table forever would keep
 * persistence templates pointing at it and show up as configured. */
static void down_dest(const struct dd_service *s, struct ds_rs_state *rst, uint64_t now,
		      struct ipvs_dest *d, uint64_t *next_ms, bool ecmp)
{
	d->weight = 0;
	/* ECMP: every director's mh table must list the same servers in
	 * the same order, so a dead one stays, at weight 0, for good. */
	if (ecmp)
		return;
	if (s->removal == DD_REMOVAL_REMOVE) {
		d->absent = true;
		return;
	}
	if (!rst->down_since_ms)
		rst->down_since_ms = now ? now : 1;
	uint64_t due = rst->down_since_ms + s->drain_ms;
	if (now >= due) {
		d->absent = true;
		d->reason = "drain timeout";
	} else {
		next_due(next_ms, due);
	}
}

static void build_service(const struct dd_service *s, struct ds_svc_state *st, uint64_t now,
			  struct ipvs_service *out, uint64_t *next_ms, bool ecmp)
{
	uint32_t up = 0;
	for (size_t i = 0; i < s->n_rs; i++)
		if (!st->rs[i].admin_drain && ds_rs_is_up(&s->rs[i], &st->rs[i]))
			up++;
	const char *qwhy = update_quorum(s, st, up);
	if (qwhy)
		st->quorum_why = qwhy;
	bool sorry = s->has_sorry && st->sorry;

	for (size_t i = 0; i < s->n_rs; i++) {
		const struct dd_real_server *rs = &s->rs[i];
		struct ds_rs_state *rst = &st->rs[i];
		bool is_up = ds_rs_is_up(rs, rst);
		/* an event of this server first: it is what changed it */
		const char *cause = rst->why ? rst->why : st->quorum_why ? st->quorum_why : "config";
		struct ipvs_dest d = {
			.addr = rs->addr, .port = rs->port, .fwd = ds_fwd_to_kernel(rs->fwd),
			.u_thresh = rs->upper_threshold, .l_thresh = rs->lower_threshold,
			.reason = rst->why ? rst->why : "config",
			.order = ecmp ? (uint32_t)i + 1 : 0,
		};
		if (is_up)
			rst->down_since_ms = 0;
		if (rst->admin_drain) {
			d.weight = 0;
		} else if (!is_up) {
			down_dest(s, rst, now, &d, next_ms, ecmp);
		} else if (sorry) {
			d.weight = 0;
			d.reason = st->quorum_why ? st->quorum_why : d.reason;
		} else {
			bool ramping;
			d.weight = ramp_weight(rs->weight, rs, rst, now, next_ms, &ramping);
			d.reason = !rst->why && ramping ? "slow start" : cause;
		}
		*ipvs_service_add_dest(out) = d;
	}
	if (s->has_sorry) {
		struct ipvs_dest key = { .addr = s->sorry_addr, .port = s->sorry_port ? s->sorry_port : s->port };
		struct ipvs_dest *d = NULL;
		for (size_t i = 0; i < out->n_dests; i++)
			if (ipvs_dest_key_cmp(&out->dests[i], &key) == 0)
				d = &out->dests[i];
		if (!d) {
			d = ipvs_service_add_dest(out);
			*d = key;
			d->fwd = ds_fwd_to_kernel(s->fwd);
			d->absent = true;
			d->reason = st->quorum_why ? st->quorum_why : "config";
		}
		if (sorry) {
			d->weight = 1;
			d->absent = false;
			d->reason = st->quorum_why ? "quorum lost: sorry server" : "config";
		}
	}
}

static void dedupe_dests(struct ipvs_service *s)
{
	size_t w = 0;
	for (size_t r = 0; r < s->n_dests; r++) {
		if (w > 0 && ipvs_dest_key_cmp(&s->dests[w - 1], &s->dests[r]) == 0)
			continue; /* the loader rejects duplicates; keep one, never send both */
		s->dests[w++] = s->dests[r];
	}
	s->n_dests = w;
}

void ds_build(const struct dd_config *cfg, struct ds_svc_state *st, uint64_t now_ms,
	      struct ipvs_table *out, uint64_t *next_ms)
{
	memset(out, 0, sizeof(*out));
	*next_ms = 0;
	size_t k = 0;
	for (size_t c = 0; c < cfg->n_clusters; c++) {
		const struct dd_cluster *cl = &cfg->clusters[c];
		for (size_t i = 0; i < cl->n_services; i++, k++) {
			struct ipvs_service *s = ipvs_table_add(out);
			ds_service_from_config(&cl->services[i], s);
			build_service(&cl->services[i], &st[k], now_ms, s, next_ms,
				      cl->mode == DD_MODE_ECMP);
		}
	}
	ipvs_table_sort(out);
	size_t w = 0;
	for (size_t r = 0; r < out->n; r++) {
		if (w > 0 && ipvs_svc_key_cmp(&out->svc[w - 1].key, &out->svc[r].key) == 0) {
			ipvs_service_clear(&out->svc[r]);
			continue;
		}
		out->svc[w++] = out->svc[r];
	}
	out->n = w;
	for (size_t i = 0; i < out->n; i++)
		dedupe_dests(&out->svc[i]);
}

void ds_settled(const struct dd_config *cfg, struct ds_svc_state *st)
{
	size_t k = 0;
	for (size_t c = 0; c < cfg->n_clusters; c++) {
		const struct dd_cluster *cl = &cfg->clusters[c];
		for (size_t i = 0; i < cl->n_services; i++, k++) {
			st[k].quorum_why = NULL;
			for (size_t r = 0; r < cl->services[i].n_rs; r++)
				st[k].rs[r].why = NULL;
		}
	}
}
