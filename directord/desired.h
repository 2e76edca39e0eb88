/* SPDX-License-Identifier: GPL-2.0-or-later */
/* directord/desired.h: the IPVS table directord wants, from the config, the
 * health verdicts, administrative drains and the clock.
 *
 * Pure computation over plain values (no kernel, no loop): directord/fwd.c
 * calls it from the main loop before each reconcile; unit tests call it
 * directly.
 */
#ifndef DD_DIRECTORD_DESIRED_H
#define DD_DIRECTORD_DESIRED_H

#include <stdbool.h>
#include <stdint.h>

#include "conf/model.h"
#include "directord/ipvs.h"

enum ds_health { DS_HEALTH_UNKNOWN, DS_HEALTH_UP, DS_HEALTH_DOWN };

/* Runtime state of one configured real server. */
struct ds_rs_state {
	enum ds_health health;  /* UNKNOWN until the first verdict */
	bool admin_drain;       /* maintenance: weight 0, survives reloads */
	bool adopted_up;        /* was in the kernel with weight > 0 at start */
	uint64_t up_since_ms;   /* slow start ramps from here; 0: no ramp */
	/* removal "drain": when it stopped counting as up (set by ds_build,
	 * whose clock decides when drain_ms is over); 0 while it is up */
	uint64_t down_since_ms;
	const char *reason;     /* last event that touched it (static string) */
	/* The same event while the kernel may not have its change yet: the
	 * cause the next change of this server is logged with. NULL once a
	 * pass has succeeded (ds_settled), so that a later reload's change is
	 * logged as "config", not as this stale event. */
	const char *why;
};

/* Runtime state of one configured service; rs[] parallels dd_service.rs[]. */
struct ds_svc_state {
	struct ds_rs_state *rs;
	bool sorry;             /* quorum lost: the sorry server is serving */
	bool sorry_known;       /* `sorry` has been decided once */
	const char *quorum_why; /* "quorum lost"/"quorum regained" until settled */
};

/* The service's kernel identity and attributes (no destinations). */
void ds_service_from_config(const struct dd_service *s, struct ipvs_service *out);
uint32_t ds_fwd_to_kernel(enum dd_fwd f);
/* Is this real server counted as up (health, or check none, or adopted)? */
bool ds_rs_is_up(const struct dd_real_server *rs, const struct ds_rs_state *st);

/* Builds the desired table, sorted. `st` has one entry per service, in
 * config order (clusters, then services). Updates each service's quorum
 * state (hysteresis needs memory), ends finished slow-start ramps and
 * starts the drain clock of servers that stopped counting as up. A server
 * that is not up has weight 0 with removal "drain", and is absent once
 * drain_ms has passed since it went down; absent at once with "remove".
 * Each destination's `reason` is the cause of a change to it: the pending
 * event, a quorum change, slow start, the drain timeout, else "config".
 * *next_ms gets the next time a ramp step or a drain timeout is due (0:
 * none). */
void ds_build(const struct dd_config *cfg, struct ds_svc_state *st, uint64_t now_ms,
	      struct ipvs_table *out, uint64_t *next_ms);

/* Every change of the last ds_build is in the kernel: forget the pending
 * causes (`why`, `quorum_why`). Same `st` layout as ds_build. */
void ds_settled(const struct dd_config *cfg, struct ds_svc_state *st);

#endif
