/* SPDX-License-Identifier: GPL-2.0-or-later */
/* directord/fwd.h: the forwarding plane. Owns the IPVS genl socket, the
 * runtime state of every real server (health, admin drain, slow start), the
 * reconciler's memory and the sync daemon.
 *
 * Everything runs on the libev loop passed to dd_fwd_new (the daemon's main
 * loop). Changes are coalesced: a burst of health verdicts becomes one
 * reconcile pass, one batch of netlink messages.
 */
#ifndef DD_DIRECTORD_FWD_H
#define DD_DIRECTORD_FWD_H

#include <stdbool.h>
#include <stdint.h>

#include "conf/model.h"
#include "directord/ipvs.h"
#include "lib/addr.h"

struct ev_loop;
/* Not `struct dd_fwd`: conf/model.h has `enum dd_fwd` (the forwarding
 * method), and C puts struct and enum tags in one namespace. */
struct dd_fwdplane;

/* Checks IPVS, dumps the kernel table, adopts matching entries, programs the
 * config. `cfg` must stay alive until the next dd_fwd_apply_config or
 * dd_fwd_free. Returns NULL with *err (malloc'd) when IPVS is missing or
 * netlink fails. Operations the kernel refuses (each logged) do not stop
 * the start; they are retried with backoff, and counted in
 * dd_fwd_get_stats().ops_failed. */
struct dd_fwdplane *dd_fwd_new(struct ev_loop *loop, const struct dd_config *cfg, char **err);

/* Applies a new config as a minimal diff (reload). Same lifetime rule for
 * `cfg`; the previous config must still be alive during this call (runtime
 * state is carried over from it by service name and server address). 0, or -1 with *err (malloc'd) when some operation failed; those are
 * retried in the background. */
int dd_fwd_apply_config(struct dd_fwdplane *f, const struct dd_config *cfg, char **err);

/* Health verdict for one real server of one service (by service name).
 * Triggers a coalesced reconcile. Unknown service or server: ignored. */
void dd_fwd_set_rs_health(struct dd_fwdplane *f, const char *service, const struct dd_addr *rs,
			  uint16_t port, bool up);

/* Administrative drain on/off; survives reloads. -1 if no such server. */
int dd_fwd_set_rs_admin_drain(struct dd_fwdplane *f, const char *service, const struct dd_addr *rs,
			      uint16_t port, bool drain);

/* Role of a cluster: the sync daemon runs as master while any cluster is
 * active and as backup while any is standby; with sync.sloppy the
 * sloppy_tcp/sloppy_sctp sysctls are set. */
void dd_fwd_set_cluster_role(struct dd_fwdplane *f, const char *cluster, bool active);

/* The kernel's counters for the services directord owns: one dump of the
 * services, then one of the destinations of each owned service (IPVS has
 * no dump of every destination at once); foreign services' destinations
 * are not asked for. Sorted, with config names. Weights and attributes are
 * better read from dd_fwd_foreach_service (the reconciler's model, no
 * kernel round trip). Free with ipvs_table_free. 0, or -1 with *err
 * (malloc'd). */
int dd_fwd_counters(struct dd_fwdplane *f, struct ipvs_table *out, char **err);

/* ECMP (issue 14): called on the main loop after every reconcile pass, so
 * that quorum changes reach the failover engine. */
void dd_fwd_set_pass_hook(struct dd_fwdplane *f, void (*fn)(void *ctx), void *ctx);
/* 1: the service (by name) has quorum, 0: it has lost it, -1: unknown
 * service or not decided yet. */
int dd_fwd_quorum(const struct dd_fwdplane *f, const char *service);

/* Counters of the reconciler, for metrics and benchmarks. */
struct dd_fwd_stats {
	uint64_t passes;        /* reconcile passes run */
	uint64_t ops;           /* netlink operations sent, all passes */
	uint64_t ops_failed;
	uint64_t last_ops;      /* operations of the last pass */
	uint64_t last_pass_us;  /* duration of the last pass */
	size_t n_owned;         /* services directord owns */
	size_t n_draining;      /* real servers draining after leaving the config */
};
void dd_fwd_get_stats(const struct dd_fwdplane *f, struct dd_fwd_stats *out);

/* Runs a reconcile pass now (tests, tools); 0 or -1 if ops failed. */
int dd_fwd_reconcile_now(struct dd_fwdplane *f);

/* Dry run of dd_fwd_apply_config(cfg) (directorctl plan): the operations
 * its first pass would send now, computed like a reload, with no state
 * changed and nothing sent. The previous config must be alive. Free *ops
 * with free(). 0, or -1 with *err (malloc'd). */
int dd_fwd_plan(struct dd_fwdplane *f, const struct dd_config *cfg, struct ipvs_op **ops, size_t *n_ops,
		char **err);

/* Runtime state of one configured real server (directorctl status). */
struct dd_fwd_rs_view {
	bool admin_drain;       /* maintenance (directorctl drain) */
	int health;             /* 1 up, 0 down, -1 no verdict yet */
	bool up;                /* counted as up (health, check none, or adopted) */
	const char *reason;     /* last event that touched it; static, may be NULL */
	/* The reconciler's model of its kernel entry (what the kernel holds
	 * once the last pass succeeded); NULL: not in the table. */
	const struct ipvs_dest *kernel;
};

/* Every configured service, in config order (clusters, then services), in
 * one pass: its model kernel entry (NULL: not in the table; no counters
 * beyond those of the last dump), whether its sorry server is serving,
 * and rs[], parallel to s->rs. Everything passed is valid during the call
 * only. */
typedef void (*dd_fwd_service_fn)(void *arg, const struct dd_service *s,
				  const struct ipvs_service *kernel, bool sorry,
				  const struct dd_fwd_rs_view *rs);
void dd_fwd_foreach_service(struct dd_fwdplane *f, dd_fwd_service_fn fn, void *arg);

/* Real servers of one service counted as up (health, check none, or
 * adopted) and configured; -1 if there is no such service. */
int dd_fwd_service_counts(struct dd_fwdplane *f, const char *service, size_t *up, size_t *total);

/* Called on the loop at the end of a reconcile pass for each service
 * whose quorum the pass found lost or regained (not for its first
 * decision at start): SNMP notifications. NULL fn: none. */
typedef void (*dd_fwd_quorum_fn)(void *ctx, const struct dd_service *s, bool lost, size_t up, size_t total);
void dd_fwd_set_quorum_hook(struct dd_fwdplane *f, dd_fwd_quorum_fn fn, void *ctx);

/* Leaves the kernel table as it is: a restart must not disrupt. */
void dd_fwd_free(struct dd_fwdplane *f);

#endif
