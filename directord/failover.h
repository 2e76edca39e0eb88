/* directord/failover.h: the failover engine: the heartbeat thread (its own
 * libev loop), the per-cluster role state machines, VIP takeover and
 * gratuitous ARP. The daemon's main loop creates it, hands it new configs
 * and hears about role changes through hooks called in the main loop.
 *
 * Every function here is called from the main thread; the engine's own
 * work happens in its thread. */
#ifndef DD_FAILOVER_H
#define DD_FAILOVER_H

#include <ev.h>
#include <stdbool.h>
#include <stdint.h>

#include "conf/model.h"
#include "heartbeat/proto.h"
#include "lib/addr.h"

struct dd_failover;

struct dd_failover_hooks {
	void *ctx;
	/* Called in the MAIN loop after the heartbeat thread changed a role
	 * (VIPs already added/removed). Roles: "init", "standby", "active",
	 * "fault", and "stopped" when the engine stops while active. */
	void (*role_changed)(void *ctx, const char *cluster, const char *old_role,
			     const char *new_role, const char *reason);
};

/* Validates the heartbeat part of cfg (at most one peer; with one, 1..8
 * links, key file and state file; clusters), bumps the generation if there
 * is a peer, removes any VIP left over from an earlier run and starts the
 * thread. Without a peer (standalone) nothing is sent and the clusters go
 * active unless in fault. NULL with *err malloc'd on error. */
struct dd_failover *dd_failover_new(struct ev_loop *main_loop, const struct dd_config *cfg,
				    const struct dd_failover_hooks *hooks, char **err);

/* Hands a new config to the thread; returns when the thread has taken it.
 * cfg may be freed afterwards: the engine keeps copies. Clusters keep their
 * role across a reload when their name is unchanged. */
int dd_failover_reload(struct dd_failover *fo, const struct dd_config *cfg, char **err);

/* Planned handover (directorctl). takeover: asks the active peer to stand
 * down; release: this (active) director stands down once the peer has taken
 * over. Both return at once; the role change follows through the hook. */
int dd_failover_takeover(struct dd_failover *fo, const char *cluster, char **err);
int dd_failover_release(struct dd_failover *fo, const char *cluster, char **err);

/* Stops the thread and frees fo. handover=true (SIGTERM): active clusters
 * announce that they stand down and wait (bounded by 4 x dead time, at
 * least 500 ms) for the peer to take over; without a peer there is nobody
 * to wait for. In every case the VIPs are removed before this returns.
 * Pending role changes are delivered to the hook before it returns. */
void dd_failover_stop(struct dd_failover *fo, bool handover);

#define DD_FO_MAX_LINKS 8

struct dd_failover_link_status {
	char local[DD_ADDR_STRLEN];
	char remote[DD_ADDR_STRLEN];
	char ifname[16];
	bool up;                 /* heard the peer within its dead time */
	int64_t last_rx_age_ms;  /* -1: never */
	uint64_t rx, tx, tx_errors;
};

struct dd_failover_cluster_status {
	char name[DD_NAME_MAX];
	const char *role;
	uint64_t in_role_ms;
	uint8_t priority;
	const char *peer_role;   /* "unknown" if the peer never listed it; NULL: no peer */
	uint8_t peer_priority;
	bool vips_up;
};

struct dd_failover_drops {
	uint64_t malformed, bad_version, bad_auth, replayed, unknown_sender;
};

struct dd_failover_status {
	char node[DD_NAME_MAX];
	char peer[DD_NAME_MAX];         /* "": no peer configured */
	uint64_t generation, peer_generation;
	bool peer_alive;
	int64_t last_heartbeat_age_ms; /* -1: never */
	uint32_t interval_ms, dead_ms;
	size_t n_links;
	struct dd_failover_link_status links[DD_FO_MAX_LINKS];
	size_t n_clusters;
	struct dd_failover_cluster_status clusters[DD_HB_MAX_CLUSTERS];
	struct dd_failover_drops drops;
	uint64_t rx, tx;
};

/* A consistent snapshot, taken by the heartbeat thread. */
int dd_failover_status(struct dd_failover *fo, struct dd_failover_status *st);

#endif
