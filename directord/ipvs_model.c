/* SPDX-License-Identifier: GPL-2.0-or-later */
/* directord/ipvs_model.c: the in-memory IPVS table of host-kernel tests
 * (DIRECTORD_TEST_IPVS=model): services and destinations are kept as the
 * kernel keeps them, destinations in the order they were added, with no
 * connections; nothing is forwarded. It lets the whole daemon (health,
 * quorum, the reconciler, ECMP announcements) run where IPVS cannot.
 * Runs on the main loop, through directord/ipvs.c. */
#include "config.h"
#include "directord/ipvs_model.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "lib/util.h"

struct ipvs_model {
	struct ipvs_table t; /* unsorted: services and dests in order of addition */
};

struct ipvs_model *ipvs_model_open(void)
{
	const char *v = getenv("DIRECTORD_TEST_IPVS");
	if (!v || strcmp(v, "model") != 0)
		return NULL;
	return xcalloc(1, sizeof(struct ipvs_model));
}

void ipvs_model_close(struct ipvs_model *m)
{
	if (!m)
		return;
	ipvs_table_free(&m->t);
	free(m);
}

static struct ipvs_service *find_svc(const struct ipvs_model *m, const struct ipvs_svc_key *k)
{
	for (size_t i = 0; i < m->t.n; i++)
		if (ipvs_svc_key_cmp(&m->t.svc[i].key, k) == 0)
			return &m->t.svc[i];
	return NULL;
}

static ssize_t find_dest(const struct ipvs_service *s, const struct ipvs_dest *d)
{
	for (size_t i = 0; i < s->n_dests; i++)
		if (ipvs_dest_key_cmp(&s->dests[i], d) == 0)
			return (ssize_t)i;
	return -1;
}

static int svc_qcmp(const void *a, const void *b)
{
	return ipvs_svc_key_cmp(&((const struct ipvs_service *)a)->key, &((const struct ipvs_service *)b)->key);
}

static int dest_qcmp(const void *a, const void *b)
{
	return ipvs_dest_key_cmp(a, b);
}

int ipvs_model_dump_services(const struct ipvs_model *m, struct ipvs_table *out)
{
	memset(out, 0, sizeof(*out));
	for (size_t i = 0; i < m->t.n; i++) {
		struct ipvs_service *s = ipvs_table_add(out);
		*s = m->t.svc[i];
		s->dests = NULL;
		s->n_dests = 0;
	}
	if (out->n > 1)
		qsort(out->svc, out->n, sizeof(*out->svc), svc_qcmp);
	return 0;
}

int ipvs_model_dump_dests(const struct ipvs_model *m, struct ipvs_service *s)
{
	ipvs_service_clear(s);
	const struct ipvs_service *x = find_svc(m, &s->key);
	if (!x)
		return -ENOENT;
	for (size_t i = 0; i < x->n_dests; i++)
		*ipvs_service_add_dest(s) = x->dests[i];
	if (s->n_dests > 1)
		qsort(s->dests, s->n_dests, sizeof(*s->dests), dest_qcmp);
	return 0;
}

static int apply_one(struct ipvs_model *m, const struct ipvs_op *op)
{
	struct ipvs_service *s = find_svc(m, &op->svc.key);
	switch (op->type) {
	case IPVS_OP_ADD_SVC:
		if (s)
			return -EEXIST;
		s = ipvs_table_add(&m->t);
		*s = op->svc;
		s->dests = NULL;
		s->n_dests = 0;
		return 0;
	case IPVS_OP_EDIT_SVC:
		if (!s)
			return -ESRCH;
		memcpy(s->sched, op->svc.sched, sizeof(s->sched));
		s->flags = op->svc.flags;
		s->timeout = op->svc.timeout;
		s->netmask = op->svc.netmask;
		return 0;
	case IPVS_OP_DEL_SVC:
		if (!s)
			return -ESRCH;
		ipvs_service_clear(s);
		*s = m->t.svc[--m->t.n];
		return 0;
	default:
		break;
	}
	if (!s)
		return -ESRCH;
	ssize_t i = find_dest(s, &op->dest);
	switch (op->type) {
	case IPVS_OP_ADD_DEST: {
		if (i >= 0)
			return -EEXIST;
		struct ipvs_dest *d = ipvs_service_add_dest(s);
		*d = op->dest;
		d->active_conns = d->inact_conns = d->persist_conns = 0;
		return 0;
	}
	case IPVS_OP_EDIT_DEST:
		if (i < 0)
			return -ENOENT;
		s->dests[i].weight = op->dest.weight;
		s->dests[i].fwd = op->dest.fwd;
		s->dests[i].u_thresh = op->dest.u_thresh;
		s->dests[i].l_thresh = op->dest.l_thresh;
		return 0;
	case IPVS_OP_DEL_DEST:
		if (i < 0)
			return -ENOENT;
		/* The kernel unlinks it; the others keep their order. */
		memmove(&s->dests[i], &s->dests[i + 1], (s->n_dests - (size_t)i - 1) * sizeof(*s->dests));
		s->n_dests--;
		return 0;
	default:
		return -EINVAL;
	}
}

int ipvs_model_apply(struct ipvs_model *m, struct ipvs_op *ops, size_t n)
{
	int failed = 0;
	for (size_t i = 0; i < n; i++) {
		ops[i].err = apply_one(m, &ops[i]);
		failed += ops[i].err != 0;
	}
	return failed;
}
