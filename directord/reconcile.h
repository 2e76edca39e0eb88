/* SPDX-License-Identifier: GPL-2.0-or-later */
/* directord/reconcile.h: desired table vs kernel table -> the minimal list
 * of IPVS operations.
 *
 * Never flushes. Entries that match are adopted as they are; attributes that
 * differ are edited in place (a service is never deleted and re-created for
 * a change, so its connections survive). Services directord does not own are
 * left alone. A real server that leaves the config is drained: weight 0,
 * then deleted once it has no active connections or its drain period is
 * over. Pure computation over plain values; fwd.c runs it on the main loop.
 */
#ifndef DD_DIRECTORD_RECONCILE_H
#define DD_DIRECTORD_RECONCILE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "directord/ipvs.h"

/* A service directord owns: in its config now or earlier in this process. */
struct rc_owned {
	struct ipvs_svc_key key;
	char name[IPVS_SVC_NAME_MAX];
	uint32_t drain_ms;      /* from the last config that had it */
};

/* A real server being drained because it left the config. */
struct rc_drain {
	struct ipvs_svc_key svc;
	struct dd_addr addr;
	uint16_t port;
	uint64_t since_ms;
};

/* Memory the reconciler keeps between passes. Zero-initialise. */
struct rc_state {
	struct rc_owned *owned; /* sorted by key */
	size_t n_owned, cap_owned;
	struct rc_drain *drains;
	size_t n_drains, cap_drains;
};

struct rc_result {
	struct ipvs_op *ops;
	size_t n_ops, cap_ops;
	/* what the kernel table is once every op has succeeded */
	struct ipvs_table expected;
	/* when a drain deadline falls due (0: none) */
	uint64_t next_ms;
	/* drains wait for ActiveConn to reach 0: run again soon with fresh counts */
	bool poll_conns;
};

/* Called before deciding the drains of a service, so that its ActiveConn
 * counts are fresh; it may replace `cur`'s destinations. May be NULL. */
typedef void (*rc_refresh_fn)(void *ctx, struct ipvs_service *cur);

/* Compares; fills `out` (zero it first). `desired` and `current` must be
 * sorted (ipvs_table_sort). Desired services become owned. */
void rc_diff(struct rc_state *st, const struct ipvs_table *desired, struct ipvs_table *current,
	     uint64_t now_ms, rc_refresh_fn refresh, void *ctx, struct rc_result *out);

void rc_result_free(struct rc_result *r);
void rc_state_free(struct rc_state *st);
bool rc_is_owned(const struct rc_state *st, const struct ipvs_svc_key *k);
const struct rc_owned *rc_find_owned(const struct rc_state *st, const struct ipvs_svc_key *k);

#endif
