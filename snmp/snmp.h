/* SPDX-License-Identifier: GPL-2.0-or-later */
/* snmp/snmp.h: the SNMP AgentX subagent (DIRECTORD-MIB, doc/DIRECTORD-MIB.txt)
 * on the daemon's main libev loop: answers the system snmpd's AgentX
 * requests from a cached copy of the status model, sends the MIB's
 * notifications from events the main loop already sees, and reconnects
 * to a master agent that went away.
 *
 * Everything here is called on the main loop. The subagent never calls
 * into the heartbeat thread except through dd_failover_status() (the
 * same snapshot `directorctl status` takes), once a second while traps
 * are on and a peer is configured, to see a peer that fails
 * authentication.
 *
 * Built only with configure --enable-snmp (DD_HAVE_SNMP); without it the
 * functions below are empty inlines, so the daemon core calls them
 * unconditionally.
 */
#ifndef DD_SNMP_SNMP_H
#define DD_SNMP_SNMP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "conf/model.h"
#include "heartbeat/failover.h"
#include "lib/addr.h"

struct ev_loop;
struct dd_status;
struct dd_snmp;

/* What the subagent reads the director from. snapshot fills a status
 * model (dd_status_fill) and release frees it: the subagent copies what
 * the MIB shows and releases the model at once, so that no borrowed
 * pointer outlives the request. */
struct dd_snmp_src {
	void *ctx;
	void (*snapshot)(void *ctx, struct dd_status *st);
	void (*release)(void *ctx, struct dd_status *st);
	struct dd_failover **fo;          /* peer problems (auth traps); may point at NULL */
};

/* The subagent's own state, for `directorctl status` and metrics. */
struct dd_snmp_state {
	bool enabled;
	bool connected;                   /* registered with the master agent */
	char socket[108];
	uint64_t requests;                /* variables answered */
	uint64_t traps;                   /* notifications handed to the master */
	uint64_t snapshots;               /* status models taken for requests */
	uint64_t copy_us_total, copy_us_max; /* main-loop time spent on them */
	unsigned reconnects;
};

#ifdef DD_HAVE_SNMP

/* NULL when cfg->snmp.enabled is false. Never fails for a missing master
 * agent: it connects when the master appears. */
struct dd_snmp *dd_snmp_new(struct ev_loop *loop, const struct dd_config *cfg, const struct dd_snmp_src *src);
/* After a reload: the new config (the old one may be freed after this).
 * A changed socket or enabled flag restarts the subagent; returns the
 * (possibly new, possibly NULL) subagent. */
struct dd_snmp *dd_snmp_reconfigure(struct dd_snmp *s, struct ev_loop *loop, const struct dd_config *cfg,
				    const struct dd_snmp_src *src);
void dd_snmp_free(struct dd_snmp *s);

/* Events, as values. Each sends its notification if traps are on and the
 * master agent is connected (a notification while it is not is dropped
 * and counted in the log: SNMP notifications are not queued). */
void dd_snmp_role_changed(struct dd_snmp *s, const struct dd_role_change *ev);
void dd_snmp_rs_changed(struct dd_snmp *s, const char *service, const struct dd_addr *addr, uint16_t port,
			bool up, const char *reason, size_t n_up, size_t n_total);
void dd_snmp_quorum_changed(struct dd_snmp *s, const char *service, bool lost, size_t n_up, size_t n_total);

void dd_snmp_get_state(const struct dd_snmp *s, struct dd_snmp_state *out);

#else

static inline struct dd_snmp *dd_snmp_new(struct ev_loop *loop, const struct dd_config *cfg,
					  const struct dd_snmp_src *src)
{
	(void)loop; (void)cfg; (void)src;
	return NULL;
}
static inline struct dd_snmp *dd_snmp_reconfigure(struct dd_snmp *s, struct ev_loop *loop,
						  const struct dd_config *cfg, const struct dd_snmp_src *src)
{
	(void)s; (void)loop; (void)cfg; (void)src;
	return NULL;
}
static inline void dd_snmp_free(struct dd_snmp *s) { (void)s; }
static inline void dd_snmp_role_changed(struct dd_snmp *s, const struct dd_role_change *ev) { (void)s; (void)ev; }
static inline void dd_snmp_rs_changed(struct dd_snmp *s, const char *service, const struct dd_addr *addr,
				      uint16_t port, bool up, const char *reason, size_t n_up, size_t n_total)
{
	(void)s; (void)service; (void)addr; (void)port; (void)up; (void)reason; (void)n_up; (void)n_total;
}
static inline void dd_snmp_quorum_changed(struct dd_snmp *s, const char *service, bool lost, size_t n_up,
					  size_t n_total)
{
	(void)s; (void)service; (void)lost; (void)n_up; (void)n_total;
}
static inline void dd_snmp_get_state(const struct dd_snmp *s, struct dd_snmp_state *out)
{
	(void)s;
	*out = (struct dd_snmp_state){ 0 };
}

#endif
#endif
