/* SPDX-License-Identifier: GPL-2.0-or-later */
/* directord/status.h: one model of the running director, the answers built
 * from it, and the writers that render them.
 *
 * ctlops.c fills a struct dd_status once per request (status, metrics)
 * from the running parts, one pass per part; the writers (status_text.c,
 * status_json.c, status_prom.c) render it without asking any part again.
 * A new field goes into the model, into dd_status_fill, and into each
 * writer once. Plans and admin (drain/enable) answers are structures too,
 * rendered by the text and JSON writers.
 *
 * The model is filled on the daemon's main libev loop and may be rendered
 * in another thread (directord/render.h). So it owns copies of everything
 * the parts lend for the moment of the call (a checker's reason, the role
 * counts; dd_status_keep), and borrows only from the config, which the
 * daemon keeps alive until every render of it is done. A new field that
 * points anywhere else must be a copy.
 */
#ifndef DD_DIRECTORD_STATUS_H
#define DD_DIRECTORD_STATUS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "conf/model.h"
#include "directord/ipvs.h"
#include "directord/json.h"
#include "directord/track.h"
#include "heartbeat/failover.h"
#include "heartbeat/proto.h"
#include "lib/addr.h"

#define DD_ST_MAX_LINKS 8

struct dd_st_link {
	char local[DD_ADDR_STRLEN], remote[DD_ADDR_STRLEN];
	char ifname[16];         /* "": not bound to a device */
	bool up;
	int64_t last_rx_age_ms;  /* -1: never */
	uint64_t rx, tx, tx_errors;
};

struct dd_st_peer {
	char name[DD_NAME_MAX];  /* "": no peer configured (standalone) */
	bool alive;
	int64_t last_heartbeat_age_ms; /* -1: never */
	uint64_t generation, peer_generation;
	uint32_t interval_ms, dead_ms;
	uint64_t rx, tx;
	uint64_t malformed, bad_version, bad_auth, replayed, unknown_sender, unproven; /* drops */
	enum dd_peer_problem problem;  /* heard but not believed, or out of step */
	char problem_text[200];        /* its words; "" when DD_PEER_OK */
	size_t n_links;
	struct dd_st_link links[DD_ST_MAX_LINKS];
};

/* The IPVS side of a real server: the reconciler's model (weight,
 * forwarding) and, when the dump worked, the kernel's counters. */
struct dd_st_kernel_rs {
	bool present;            /* in the model of the kernel table */
	uint32_t weight, fwd;    /* fwd: IP_VS_CONN_F_* */
	bool have_counters;
	uint32_t active_conns, inact_conns, persist_conns;
	struct ipvs_stats stats;
};

struct dd_st_health {
	bool known;              /* the checker has this server */
	bool up;
	const char *reason;      /* "" before the first result; owned (dd_status_keep) */
	double in_state_s;
	uint64_t checks, ok, failed, transitions;
};

struct dd_st_rs {
	const struct dd_real_server *cfg; /* address, port, weight, check */
	bool have_admin;         /* the forwarding plane knows it */
	bool drained;            /* directorctl drain */
	struct dd_st_health health;
	struct dd_st_kernel_rs kernel;
};

struct dd_st_service {
	const struct dd_service *cfg;
	bool in_kernel;          /* in the model of the kernel table */
	char sched[IPVS_SCHED_MAX];
	bool have_counters;
	struct ipvs_stats stats;
	bool sorry_known;        /* forwarding plane running */
	bool sorry_serving;      /* quorum lost: the sorry server takes the traffic */
	struct dd_st_rs *rs;     /* parallel to cfg->rs */
	size_t n_rs;
};

struct dd_st_cluster {
	const struct dd_cluster *cfg;
	bool have_role;          /* failover running and knows this cluster */
	enum dd_role role;
	uint64_t in_role_ms;
	bool peer_known;         /* the peer listed this cluster */
	enum dd_role peer_role;
	uint8_t peer_priority;
	bool vips_up;
	size_t vips_missing;     /* active, but these VIPs could not be added (retried) */
	/* ECMP cluster (cfg->mode), with have_role: what is announced */
	size_t ecmp_announced;   /* VIPs on the ecmp device */
	enum dd_ecmp_why ecmp_why; /* ANNOUNCED: all of them; else why the first is not */
	char ecmp_service[DD_NAME_MAX]; /* NO_QUORUM: which service */
	uint8_t priority;        /* effective: moved by track scripts' weights */
	enum dd_fsm_why why;     /* of the last role change */
	struct dd_st_service *services;
	size_t n_services;
};

/* Role changes seen through the failover hook, by cluster name. */
struct dd_st_role_count {
	const char *cluster;
	uint64_t changes, to_active;
};

struct dd_st_fwd_stats {
	uint64_t passes, ops, ops_failed;
	size_t n_draining;
};

struct dd_st_health_stats {
	size_t n_probes, n_subscribers;
	unsigned in_flight;
	uint64_t started, skipped;   /* since start */
	double slip_p50_ms, slip_p99_ms, slip_max_ms;
};

/* The SNMP AgentX subagent (snmp/snmp.h). */
struct dd_st_snmp {
	bool built;              /* configure --enable-snmp */
	bool enabled;            /* running (snmp.enabled) */
	bool connected;          /* registered with the master agent */
	char socket[108];
	uint64_t requests, traps;
	unsigned reconnects;
};

struct dd_st_ctl_stats {
	unsigned long long requests, denied, malformed, too_long, busy;
};

struct dd_status {
	const char *node, *conf_path;
	long pid;
	uint64_t uptime_ms;
	unsigned reloads, reload_failures;
	/* Config totals (every cluster, also when only one is shown). */
	size_t n_clusters_cfg, n_services_cfg, n_rs_cfg;

	bool have_failover, have_fwd, have_health, have_counters, have_ctl;
	/* ECMP mode: some cluster is ECMP (ecmp.present) */
	struct {
		bool present;
		char device[16];     /* "" before the engine said */
		const char *drain;   /* "serving", "draining", "drained" */
		uint64_t drain_ms;   /* since drain-director */
		uint64_t conns;      /* active connections at the last look */
		bool stopping;       /* SIGTERM: withdrawn, waiting */
	} ecmp;
	struct dd_st_peer peer;           /* have_failover */
	struct dd_st_cluster *clusters;   /* shown: all, or the one asked for */
	size_t n_clusters;
	const struct dd_st_role_count *roles; /* owned copies */
	size_t n_roles;
	struct dd_st_fwd_stats fwd;       /* have_fwd */
	struct dd_st_health_stats health; /* have_health */
	struct dd_st_ctl_stats ctl;       /* have_ctl */
	struct dd_st_snmp snmp;           /* always */
	struct dd_track_script_status *track; /* every track script, config order (owned) */
	size_t n_track;

	/* storage, owned */
	struct dd_st_service *svc_store;
	struct dd_st_rs *rs_store;
	struct dd_st_role_count *roles_store;
	struct dd_st_strings *strings;    /* dd_status_keep's copies */
};

/* A copy of s owned by the model (freed with it); NULL stays NULL. */
const char *dd_status_keep(struct dd_status *st, const char *s);

/* What the model is filled from. Any part may be NULL. */
struct dd_fwdplane;
struct dd_failover;
struct dd_health;
struct dd_ecmpctl;
struct dd_ctl;
struct dd_snmp;
struct dd_track;
struct dd_status_src {
	const struct dd_config *cfg;
	const char *conf_path;
	double started;                   /* mono_now() at start */
	unsigned reloads, reload_failures;
	struct dd_fwdplane *fwd;
	struct dd_failover *fo;
	struct dd_health *health;
	const struct dd_ecmpctl *ecmp;
	const struct dd_track *track;
	const struct dd_ctl *ctl;
	const struct dd_snmp *snmp;
	const struct dd_st_role_count *roles;
	size_t n_roles;
};

/* Shapes the model for cfg: clusters, services and real servers with
 * their config, nothing known yet. `only`: one cluster, or NULL for all. */
void dd_status_init(struct dd_status *st, const struct dd_config *cfg, const struct dd_cluster *only);
/* init + one pass over each running part. */
void dd_status_fill(struct dd_status *st, const struct dd_status_src *src, const struct dd_cluster *only);
void dd_status_free(struct dd_status *st);

/* Writers. */
void dd_status_text(const struct dd_status *st, struct dd_buf *out);
void dd_status_json(const struct dd_status *st, struct dd_buf *out);
void dd_status_prom(const struct dd_status *st, struct dd_buf *out);

/* `directorctl plan`: what a new config would change. */
struct dd_plan_vip {
	const char *cluster;
	const struct dd_vip *vip;
	bool add;
	int now;                  /* 1: the cluster is active (applies now), 0: at takeover, -1: unknown */
};
struct dd_plan {
	const char *file;
	struct dd_plan_vip *vips;
	size_t n_vips;
	bool have_ipvs;           /* the forwarding plane is running */
	const struct ipvs_op *ops;
	size_t n_ops;
};
void dd_plan_text(const struct dd_plan *p, struct dd_buf *out);
void dd_plan_json(const struct dd_plan *p, struct dd_buf *out);

/* `directorctl drain|enable`: the real servers changed. */
struct dd_admin_rs {
	const char *service;
	const struct dd_real_server *rs;
};
struct dd_admin_result {
	bool drain;
	struct dd_admin_rs *v;
	size_t n;
};
void dd_admin_text(const struct dd_admin_result *a, struct dd_buf *out);
void dd_admin_json(const struct dd_admin_result *a, struct dd_buf *out);

/* The short answers: check (a config that loads), reload, takeover and
 * release. */
enum dd_ack_kind { DD_ACK_CHECK, DD_ACK_RELOAD, DD_ACK_HANDOVER, DD_ACK_DRAIN_DIRECTOR };
struct dd_ack {
	enum dd_ack_kind kind;
	const char *file;         /* check, reload */
	size_t clusters, services, real_servers; /* check */
	unsigned reloads;         /* reload */
	const char *cluster;      /* handover */
	bool takeover;            /* handover: takeover, or release */
	bool drain;               /* drain-director, or undrain-director */
	uint32_t drain_timeout_s; /* drain-director */
};
void dd_ack_text(const struct dd_ack *a, struct dd_buf *out);
void dd_ack_json(const struct dd_ack *a, struct dd_buf *out);
/* Services and real servers of a config, all clusters. */
void dd_config_count(const struct dd_config *cfg, size_t *services, size_t *real_servers);

/* A config that does not load: every error, then the count. */
void dd_conf_errors_text(const struct dd_conf_errors *errs, const char *path, struct dd_buf *out);
void dd_conf_errors_json(const struct dd_conf_errors *errs, const char *path, struct dd_buf *out);

#endif
