/* SPDX-License-Identifier: GPL-2.0-or-later */
/* heartbeat/failover.h: the failover engine's public API: the heartbeat
 * thread (its own libev loop), the per-cluster role state machines, VIP
 * takeover and announcements. The daemon's main loop creates it, hands it
 * new configs and hears about role changes through a hook called in the
 * main loop.
 *
 * Every function here is called from the main thread; the engine's own
 * work happens in its thread (heartbeat/engine.c says who runs what).
 * Roles and reasons cross as values; they are named only for output. */
#ifndef DD_HB_FAILOVER_H
#define DD_HB_FAILOVER_H

#include <ev.h>
#include <stdbool.h>
#include <stdint.h>

#include "conf/model.h"
#include "heartbeat/fsm.h"
#include "heartbeat/proto.h"
#include "lib/addr.h"

struct dd_failover;

/* One role change, as the heartbeat thread saw it. new_role is
 * DD_ROLE_STOPPED when the engine stopped while the cluster was active. */
struct dd_role_change {
	char cluster[DD_NAME_MAX];
	enum dd_role old_role, new_role;
	enum dd_fsm_why why;
	char reason[DD_FSM_REASON_MAX];  /* the same reason in words, for the log */
	uint8_t priority;                /* effective, when it changed (notify's $4) */
};

struct dd_failover_hooks {
	void *ctx;
	/* Called in the MAIN loop after the heartbeat thread changed a role
	 * (VIPs already added/removed). */
	void (*role_changed)(void *ctx, const struct dd_role_change *ev);
};

/* Bumps the generation if there is a peer, removes any VIP left over from
 * an earlier run and starts the thread. Without a peer (standalone)
 * nothing is sent and the clusters go active unless in fault. cfg must
 * come from the loader (conf/), which has validated everything the
 * engine relies on. NULL with *err malloc'd if a resource (key, state
 * file, socket, thread) cannot be had. */
struct dd_failover *dd_failover_new(struct ev_loop *main_loop, const struct dd_config *cfg,
				    const struct dd_failover_hooks *hooks, char **err);

/* Hands a new config to the thread; returns when the thread has taken it.
 * cfg may be freed afterwards: the engine keeps copies. Clusters keep their
 * role across a reload when their name is unchanged; VIPs change only as
 * dd_vip_diff() (conf/diff.h) says. Every resource the new config needs is
 * acquired first: -1 with *err, and the running config untouched, if one
 * cannot be had. */
int dd_failover_reload(struct dd_failover *fo, const struct dd_config *cfg, char **err);

/* Planned handover (directorctl). takeover: asks the active peer to stand
 * down; release: this (active) director stands down once the peer has taken
 * over. Both return at once; the role change follows through the hook. */
int dd_failover_takeover(struct dd_failover *fo, const char *cluster, char **err);
int dd_failover_release(struct dd_failover *fo, const char *cluster, char **err);

/* A track script's state (keepalived's vrrp_script), from its runner on
 * the main loop (directord/track.c), as values. The engine applies it to
 * every cluster that tracks the script by name: weight 0 and failed puts
 * it in fault (reason code DD_WHY_TRACK_SCRIPT), any other weight moves
 * its effective priority, which the keepalives carry and elections
 * compare. Returns when the heartbeat thread has taken it; -1 with *err
 * only if it could not be posted. */
enum dd_track_how {
	DD_TRACK_EXITED,        /* code: exit status */
	DD_TRACK_SIGNALLED,     /* code: the signal */
	DD_TRACK_TIMED_OUT,     /* killed (its process group) at timeout_ms */
	DD_TRACK_NOT_RUN,       /* could not be started (refused, no shell) */
};
struct dd_track_state {
	char name[DD_NAME_MAX];
	bool known;             /* had its first result */
	bool ok;                /* the state after rise/fall */
	enum dd_track_how how;  /* of the run that set the state */
	int code;
	uint32_t timeout_ms;
};
int dd_failover_track(struct dd_failover *fo, const struct dd_track_state *st, char **err);

/* Stops the thread and frees fo. handover=true (SIGTERM): active clusters
 * announce that they stand down and wait (bounded by 4 x dead time, at
 * least 500 ms) for the peer to take over; without a peer there is nobody
 * to wait for. In every case the VIPs are removed before this returns.
 * Pending role changes are delivered to the hook before it returns. */
void dd_failover_stop(struct dd_failover *fo, bool handover);

/* ---- ECMP mode (issue 14; heartbeat/announce.c) ----------------------
 * An ECMP cluster ignores the peer: it is active unless in fault, holds
 * its VIPs on lo, and each VIP is announced (a host address on the tun
 * device ecmp.device, which BIRD exports) only while the cluster is
 * active, every service on the VIP has quorum and the director is not
 * drained. The engine knows faults; the forwarding plane knows quorum and
 * hands it over as values with dd_failover_ecmp_health(). */

/* Why a VIP of an ECMP cluster is not announced (or that it is). */
enum dd_ecmp_why {
	DD_ECMP_ANNOUNCED = 0,
	DD_ECMP_FAULT,          /* the cluster is in fault (a monitor) */
	DD_ECMP_INACTIVE,       /* not active yet (starting) or stopping */
	DD_ECMP_VIP_MISSING,    /* the VIP could not be added to its interface */
	DD_ECMP_DRAINED,        /* directorctl drain-director, or SIGTERM */
	DD_ECMP_NO_QUORUM,      /* a service on the VIP lacks quorum */
	DD_ECMP_HEALTH_UNKNOWN, /* no quorum verdict from the forwarding plane yet */
	DD_ECMP_NO_DEVICE,      /* the tun device is missing */
	DD_ECMP_STOPPING,       /* SIGTERM: withdrawn before directord stops */
};
#define DD_ECMP_WHY_COUNT (DD_ECMP_STOPPING + 1)
/* "announced", "fault", "inactive", "vip-missing", "drained", "no-quorum",
 * "health-unknown", "no-device", "stopping" */
const char *dd_ecmp_why_name(enum dd_ecmp_why w);

/* The quorum verdict for one VIP of an ECMP cluster: every service on it
 * (and every fwmark service of its cluster) has quorum. */
struct dd_ecmp_vip_health {
	struct dd_addr vip;
	bool quorum;
	char service[DD_NAME_MAX]; /* without quorum: the first such service */
};
/* Replaces the whole verdict (copied; v may be freed afterwards). VIPs not
 * listed are not announced. 0, or -1 with *err. */
int dd_failover_ecmp_health(struct dd_failover *fo, const struct dd_ecmp_vip_health *v, size_t n,
			    char **err);
/* Drained: nothing is announced, whatever the health (directorctl
 * drain-director; stopping: SIGTERM, for good). 0, or -1 with *err when no
 * cluster is ECMP. */
int dd_failover_ecmp_drain(struct dd_failover *fo, bool drained, bool stopping, char **err);

#define DD_FO_MAX_LINKS DD_MAX_LINKS

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
	enum dd_role role;
	uint64_t in_role_ms;
	uint8_t priority;
	enum dd_fsm_why why;     /* of the last role change */
	bool peer_known;         /* the peer is alive and its last keepalive listed this cluster */
	enum dd_role peer_role;  /* meaningful only when peer_known */
	uint8_t peer_priority;
	bool vips_up;            /* active and every VIP on this host */
	size_t vips_missing;     /* active, but these could not be added (retried) */
	bool ecmp;               /* mode ecmp: the fields below apply */
	size_t ecmp_announced;   /* VIPs announced on the ecmp device */
	enum dd_ecmp_why ecmp_why; /* of the first VIP not announced; ANNOUNCED: all are */
	char ecmp_service[DD_NAME_MAX]; /* with NO_QUORUM: which service */
};

/* Why a peer that is heard is not believed, or not in step. Raised as an
 * alert at once, shown in status and metrics, cleared by itself. */
enum dd_peer_problem {
	DD_PEER_OK = 0,
	DD_PEER_BAD_AUTH,      /* its keepalives fail the HMAC: another key */
	DD_PEER_BAD_VERSION,   /* another protocol version */
	DD_PEER_WRONG_NODE,    /* authenticated, but from another node name */
	DD_PEER_TIMERS,        /* believed, but with other heartbeat timers */
};
#define DD_PEER_PROBLEM_COUNT (DD_PEER_TIMERS + 1)
const char *dd_peer_problem_name(enum dd_peer_problem p); /* "auth", "version", ... */

struct dd_failover_drops {
	uint64_t malformed, bad_version, bad_auth, replayed, unknown_sender;
	uint64_t unproven;      /* authentic, but not echoing our generation:
				 * recorded before our start, or the peer has
				 * not heard us yet (one round trip at start) */
};

struct dd_failover_status {
	char node[DD_NAME_MAX];
	char peer[DD_NAME_MAX];         /* "": no peer configured */
	uint64_t generation, peer_generation;
	bool peer_alive;
	int64_t last_heartbeat_age_ms; /* -1: never */
	enum dd_peer_problem peer_problem;
	char peer_problem_text[200];   /* the alert's words; "" when OK */
	uint32_t interval_ms, dead_ms;
	size_t n_links;
	struct dd_failover_link_status links[DD_FO_MAX_LINKS];
	size_t n_clusters;
	struct dd_failover_cluster_status clusters[DD_HB_MAX_CLUSTERS];
	struct dd_failover_drops drops;
	uint64_t rx, tx;
	char ecmp_device[16];    /* "": no ECMP cluster */
	bool ecmp_drained;
};

/* A counter the heartbeat thread's loop advances every DD_FO_PULSE_MS while
 * it runs: the watchdog feeds systemd only while it moves. Lock-free, any
 * thread. */
#define DD_FO_PULSE_MS 100
uint64_t dd_failover_pulse(const struct dd_failover *fo);

/* A consistent snapshot, taken by the heartbeat thread. */
int dd_failover_status(struct dd_failover *fo, struct dd_failover_status *st);

#endif
