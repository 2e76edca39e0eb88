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
	const char *reason;     /* last event that touched it (static string) */
};

/* Runtime state of one configured service; rs[] parallels dd_service.rs[]. */
struct ds_svc_state {
	struct ds_rs_state *rs;
	bool sorry;             /* quorum lost: the sorry server is serving */
	bool sorry_known;       /* `sorry` has been decided once */
};

/* The service's kernel identity and attributes (no destinations). */
void ds_service_from_config(const struct dd_service *s, struct ipvs_service *out);
uint32_t ds_fwd_to_kernel(enum dd_fwd f);
/* Is this real server counted as up (health, or check none, or adopted)? */
bool ds_rs_is_up(const struct dd_real_server *rs, const struct ds_rs_state *st);

/* Builds the desired table, sorted. `st` has one entry per service, in
 * config order (clusters, then services). Updates each service's quorum
 * state (hysteresis needs memory) and ends finished slow-start ramps.
 * *next_ms gets the next time a ramp step is due (0: none). */
void ds_build(const struct dd_config *cfg, struct ds_svc_state *st, uint64_t now_ms,
	      struct ipvs_table *out, uint64_t *next_ms);

#endif
