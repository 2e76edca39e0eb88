/* SPDX-License-Identifier: GPL-2.0-or-later */
/* directord/reconcile.c: the diff between the desired IPVS table and the
 * kernel's. Both tables are sorted by key, so one merge walk over services,
 * and one per service over destinations, finds every difference in
 * O(n + m). Pure computation; fwd.c runs it on the main loop. */
#include "config.h"
#include "directord/reconcile.h"

#include <stdlib.h>
#include <string.h>

#include "lib/util.h"

static struct ipvs_op *push_op(struct rc_result *r, enum ipvs_op_type t, const struct ipvs_service *svc,
			       const char *reason)
{
	if (r->n_ops == r->cap_ops) {
		r->cap_ops = r->cap_ops ? r->cap_ops * 2 : 64;
		r->ops = xrealloc(r->ops, r->cap_ops * sizeof(*r->ops));
	}
	struct ipvs_op *op = &r->ops[r->n_ops++];
	memset(op, 0, sizeof(*op));
	op->type = t;
	op->svc = *svc;
	op->svc.dests = NULL;
	op->svc.n_dests = 0;
	op->reason = reason;
	return op;
}

static void push_dest_op(struct rc_result *r, enum ipvs_op_type t, const struct ipvs_service *svc,
			 const struct ipvs_dest *d, uint32_t old_weight, const char *reason)
{
	struct ipvs_op *op = push_op(r, t, svc, reason);
	op->dest = *d;
	op->old_weight = old_weight;
}

static int drain_cmp(const struct rc_drain *a, const struct ipvs_svc_key *k, const struct ipvs_dest *d)
{
	int c = ipvs_svc_key_cmp(&a->svc, k);
	if (c)
		return c;
	c = dd_addr_cmp(&a->addr, &d->addr);
	return c ? c : (a->port > d->port) - (a->port < d->port);
}

static const struct rc_drain *find_drain(const struct rc_drain *v, size_t n, const struct ipvs_svc_key *k,
					 const struct ipvs_dest *d)
{
	size_t lo = 0, hi = n;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		int c = drain_cmp(&v[mid], k, d);
		if (c == 0)
			return &v[mid];
		if (c < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return NULL;
}

/* Per-pass context: the old drain list is read, the new one written. */
struct pass {
	const struct rc_drain *old_drains;
	size_t n_old_drains;
	struct rc_drain *drains;
	size_t n_drains, cap_drains;
	uint64_t now;
	struct rc_result *out;
};

static bool dest_attrs_equal(const struct ipvs_dest *a, const struct ipvs_dest *b)
{
	return a->fwd == b->fwd && a->weight == b->weight && a->u_thresh == b->u_thresh &&
	       a->l_thresh == b->l_thresh;
}

static bool svc_attrs_equal(const struct ipvs_service *a, const struct ipvs_service *b)
{
	return strcmp(a->sched, b->sched) == 0 && (a->flags & IPVS_USER_FLAGS) == (b->flags & IPVS_USER_FLAGS) &&
	       a->timeout == b->timeout && a->netmask == b->netmask;
}

/* A destination in the kernel that the config no longer has. */
static void drain_dest(struct pass *p, const struct ipvs_service *hdr, const struct ipvs_dest *c,
		       uint32_t drain_ms, struct ipvs_service *exp)
{
	const struct rc_drain *old = find_drain(p->old_drains, p->n_old_drains, &hdr->key, c);
	uint64_t since = old ? old->since_ms : p->now;
	if (c->active_conns == 0) {
		push_dest_op(p->out, IPVS_OP_DEL_DEST, hdr, c, c->weight, "removed from config, no active connections");
		return;
	}
	if (p->now - since >= drain_ms) {
		push_dest_op(p->out, IPVS_OP_DEL_DEST, hdr, c, c->weight, "removed from config, drain period over");
		return;
	}
	struct ipvs_dest z = *c;
	z.weight = 0;
	if (c->weight != 0)
		push_dest_op(p->out, IPVS_OP_EDIT_DEST, hdr, &z, c->weight, "removed from config, draining");
	*ipvs_service_add_dest(exp) = z;
	if (p->n_drains == p->cap_drains) {
		p->cap_drains = p->cap_drains ? p->cap_drains * 2 : 16;
		p->drains = xrealloc(p->drains, p->cap_drains * sizeof(*p->drains));
	}
	p->drains[p->n_drains++] = (struct rc_drain){ .svc = hdr->key, .addr = c->addr, .port = c->port,
						      .since_ms = since };
	uint64_t due = since + drain_ms;
	if (!p->out->next_ms || due < p->out->next_ms)
		p->out->next_ms = due;
	p->out->poll_conns = true;
}

static bool has_removed_dests(const struct ipvs_service *d, const struct ipvs_service *c)
{
	size_t i = 0, j = 0, nd = d ? d->n_dests : 0;
	while (j < c->n_dests) {
		int cmp = i < nd ? ipvs_dest_key_cmp(&d->dests[i], &c->dests[j]) : 1;
		if (cmp < 0)
			i++;
		else if (cmp > 0)
			return true;
		else
			i++, j++;
	}
	return false;
}

/* The walk below goes by key; an ECMP service's new destinations must
 * reach the kernel in config order (dest.order), because mh builds its
 * lookup table from the kernel's list in the order it was added, and
 * every director must build the same one. Reorders the ADD_DEST ops from
 * `from` on among their own slots. */
static void order_adds(struct rc_result *r, size_t from)
{
	for (size_t i = from; i < r->n_ops; i++) {
		if (r->ops[i].type != IPVS_OP_ADD_DEST || !r->ops[i].dest.order)
			continue;
		/* insertion sort over the ADD_DEST slots before i */
		struct ipvs_op x = r->ops[i];
		size_t j = i;
		for (size_t k = i; k-- > from;) {
			if (r->ops[k].type != IPVS_OP_ADD_DEST)
				continue;
			if (r->ops[k].dest.order <= x.dest.order)
				break;
			r->ops[j] = r->ops[k];
			j = k;
		}
		r->ops[j] = x;
	}
}

/* Walks one service's destinations; `d` NULL means the service left the
 * config. Appends the surviving destinations to `exp`. */
static void diff_dests(struct pass *p, const struct ipvs_service *hdr, const struct ipvs_service *d,
		       const struct ipvs_service *c, uint32_t drain_ms, struct ipvs_service *exp)
{
	size_t i = 0, j = 0, nd = d ? d->n_dests : 0, nc = c ? c->n_dests : 0;
	while (i < nd || j < nc) {
		int cmp = i >= nd ? 1 : j >= nc ? -1 : ipvs_dest_key_cmp(&d->dests[i], &c->dests[j]);
		if (cmp < 0) {
			const struct ipvs_dest *x = &d->dests[i++];
			if (x->absent)
				continue;
			push_dest_op(p->out, IPVS_OP_ADD_DEST, hdr, x, 0, x->reason);
			*ipvs_service_add_dest(exp) = *x;
		} else if (cmp > 0) {
			drain_dest(p, hdr, &c->dests[j++], drain_ms, exp);
		} else {
			const struct ipvs_dest *x = &d->dests[i++], *y = &c->dests[j++];
			if (x->absent) {
				push_dest_op(p->out, IPVS_OP_DEL_DEST, hdr, y, y->weight, x->reason);
				continue;
			}
			if (!dest_attrs_equal(x, y))
				push_dest_op(p->out, IPVS_OP_EDIT_DEST, hdr, x, y->weight, x->reason);
			struct ipvs_dest *e = ipvs_service_add_dest(exp);
			*e = *y;
			e->fwd = x->fwd;
			e->weight = x->weight;
			e->u_thresh = x->u_thresh;
			e->l_thresh = x->l_thresh;
			e->reason = x->reason;
		}
	}
}

const struct rc_owned *rc_find_owned(const struct rc_state *st, const struct ipvs_svc_key *k)
{
	size_t lo = 0, hi = st->n_owned;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		int c = ipvs_svc_key_cmp(&st->owned[mid].key, k);
		if (c == 0)
			return &st->owned[mid];
		if (c < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return NULL;
}

bool rc_is_owned(const struct rc_state *st, const struct ipvs_svc_key *k)
{
	return rc_find_owned(st, k) != NULL;
}

/* owned := desired ∪ (owned ∩ (current ∪ desired)): forget a service once it
 * is gone from both the config and the kernel. */
static void update_owned(struct rc_state *st, const struct ipvs_table *desired, const struct ipvs_table *current)
{
	size_t cap = st->n_owned + desired->n;
	struct rc_owned *nv = xmalloc((cap ? cap : 1) * sizeof(*nv));
	size_t n = 0, i = 0, j = 0;
	while (i < desired->n || j < st->n_owned) {
		int cmp = i >= desired->n ? 1 : j >= st->n_owned ? -1
			: ipvs_svc_key_cmp(&desired->svc[i].key, &st->owned[j].key);
		if (cmp <= 0) {
			const struct ipvs_service *s = &desired->svc[i++];
			struct rc_owned *o = &nv[n++];
			o->key = s->key;
			memcpy(o->name, s->name, sizeof(o->name));
			o->drain_ms = s->drain_ms;
			if (cmp == 0)
				j++;
		} else {
			const struct rc_owned *o = &st->owned[j++];
			if (ipvs_table_find(current, &o->key))
				nv[n++] = *o;
		}
	}
	free(st->owned);
	st->owned = nv;
	st->n_owned = n;
	st->cap_owned = cap;
}

void rc_diff(struct rc_state *st, const struct ipvs_table *desired, struct ipvs_table *current,
	     uint64_t now_ms, rc_refresh_fn refresh, void *ctx, struct rc_result *out)
{
	update_owned(st, desired, current);
	struct pass p = { .old_drains = st->drains, .n_old_drains = st->n_drains, .now = now_ms, .out = out };
	struct ipvs_table *exp = &out->expected;
	size_t i = 0, j = 0;
	while (i < desired->n || j < current->n) {
		int cmp = i >= desired->n ? 1 : j >= current->n ? -1
			: ipvs_svc_key_cmp(&desired->svc[i].key, &current->svc[j].key);
		if (cmp < 0) {
			const struct ipvs_service *d = &desired->svc[i++];
			push_op(out, IPVS_OP_ADD_SVC, d, "config");
			struct ipvs_service *e = ipvs_table_add(exp);
			*e = *d;
			e->dests = NULL;
			e->n_dests = 0;
			size_t from = out->n_ops;
			diff_dests(&p, d, d, NULL, d->drain_ms, e);
			order_adds(out, from);
		} else if (cmp == 0) {
			const struct ipvs_service *d = &desired->svc[i++];
			struct ipvs_service *c = &current->svc[j++];
			if (!svc_attrs_equal(d, c))
				push_op(out, IPVS_OP_EDIT_SVC, d, "config");
			if (refresh && has_removed_dests(d, c))
				refresh(ctx, c);
			struct ipvs_service *e = ipvs_table_add(exp);
			*e = *d;
			e->stats = c->stats;
			e->dests = NULL;
			e->n_dests = 0;
			size_t from = out->n_ops;
			diff_dests(&p, d, d, c, d->drain_ms, e);
			order_adds(out, from);
		} else {
			struct ipvs_service *c = &current->svc[j++];
			const struct rc_owned *o = rc_find_owned(st, &c->key);
			struct ipvs_service *e = ipvs_table_add(exp);
			if (!o) {
				ipvs_service_copy(e, c); /* foreign: not ours to touch */
				continue;
			}
			if (refresh && c->n_dests)
				refresh(ctx, c);
			*e = *c;
			memcpy(e->name, o->name, sizeof(e->name));
			e->dests = NULL;
			e->n_dests = 0;
			diff_dests(&p, e, NULL, c, o->drain_ms, e);
			if (e->n_dests == 0) {
				push_op(out, IPVS_OP_DEL_SVC, e, "removed from config");
				ipvs_service_clear(e);
				exp->n--;
			}
		}
	}
	free(st->drains);
	st->drains = p.drains;
	st->n_drains = p.n_drains;
	st->cap_drains = p.cap_drains;
}

void rc_result_free(struct rc_result *r)
{
	free(r->ops);
	ipvs_table_free(&r->expected);
	memset(r, 0, sizeof(*r));
}

void rc_state_free(struct rc_state *st)
{
	free(st->owned);
	free(st->drains);
	memset(st, 0, sizeof(*st));
}
