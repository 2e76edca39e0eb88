/* SPDX-License-Identifier: GPL-2.0-or-later */
/* directord/ipvs.h: the kernel IPVS table over generic netlink (family "IPVS").
 *
 * Plain values for services and destinations (struct ipvs_table), a dump of
 * the kernel table with stats, and a batch sender: many requests go out in
 * few sendmsg(2) calls and their ACKs are collected afterwards, so that
 * programming 10,000 services is not 60,000 blocking round trips. Also the
 * connection-sync daemon and the protocol timeouts.
 *
 * Synchronous calls on a blocking socket; the daemon runs them from its main
 * libev loop (directord/fwd.c). Not thread-safe: one struct ipvs per thread.
 */
#ifndef DD_DIRECTORD_IPVS_H
#define DD_DIRECTORD_IPVS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "lib/addr.h"

#define IPVS_SCHED_MAX 16
#define IPVS_SVC_NAME_MAX 64

struct ipvs_stats {
	uint64_t conns, inpkts, outpkts, inbytes, outbytes;
	uint64_t cps, inpps, outpps, inbps, outbps;
};

/* A service is identified by (af, protocol, addr, port) or (af, fwmark). */
struct ipvs_svc_key {
	uint16_t af;            /* AF_INET / AF_INET6 */
	uint16_t protocol;      /* IPPROTO_TCP/UDP/SCTP; 0 for fwmark services */
	struct dd_addr addr;    /* unset (family 0) for fwmark services */
	uint16_t port;          /* host order */
	uint32_t fwmark;
};

struct ipvs_dest {
	struct dd_addr addr;
	uint16_t port;          /* host order */
	uint32_t fwd;           /* IP_VS_CONN_F_MASQ / _DROUTE / _TUNNEL */
	uint32_t weight;
	uint32_t u_thresh, l_thresh;
	/* read from the kernel, not programmed */
	uint32_t active_conns, inact_conns, persist_conns;
	struct ipvs_stats stats;
	/* desired-table annotations (desired.c), not programmed */
	bool absent;            /* must not be in the kernel: delete at once */
	uint32_t order;         /* ECMP service: 1 + config index; destinations
				 * are added in this order (mh's table depends
				 * on it); 0: any order */
	const char *reason;     /* static string: why it has this weight */
};

struct ipvs_service {
	struct ipvs_svc_key key;
	char sched[IPVS_SCHED_MAX];
	uint32_t flags;         /* IP_VS_SVC_F_* that a user sets */
	uint32_t timeout;       /* persistence, seconds */
	uint32_t netmask;       /* IPv4: mask in network order; IPv6: prefix */
	struct ipvs_stats stats;
	struct ipvs_dest *dests;
	size_t n_dests;
	/* directord's annotations, not programmed */
	char name[IPVS_SVC_NAME_MAX]; /* config name; "" for foreign entries */
	uint32_t drain_ms;      /* how long a removed real server is drained */
};

struct ipvs_table {
	struct ipvs_service *svc;
	size_t n, cap;
};

/* The flags directord programs and compares; the kernel adds HASHED itself. */
#define IPVS_USER_FLAGS 0x3d

int ipvs_svc_key_cmp(const struct ipvs_svc_key *a, const struct ipvs_svc_key *b);
int ipvs_dest_key_cmp(const struct ipvs_dest *a, const struct ipvs_dest *b);
/* "tcp 203.0.113.10:80", "fwmark 7 (ipv6)" */
const char *ipvs_svc_key_str(const struct ipvs_svc_key *k, char *buf, size_t len);
const char *ipvs_fwd_name(uint32_t fwd);

struct ipvs_service *ipvs_table_add(struct ipvs_table *t); /* zeroed, appended */
struct ipvs_dest *ipvs_service_add_dest(struct ipvs_service *s); /* zeroed */
void ipvs_service_clear(struct ipvs_service *s);
void ipvs_table_free(struct ipvs_table *t);
/* Sort services by key and each service's destinations by key. */
void ipvs_table_sort(struct ipvs_table *t);
/* Binary search in a sorted table; NULL if absent. */
struct ipvs_service *ipvs_table_find(const struct ipvs_table *t, const struct ipvs_svc_key *k);
/* Binary search in a service's sorted destinations; NULL if absent. */
const struct ipvs_dest *ipvs_service_find_dest(const struct ipvs_service *s, const struct dd_addr *a,
					       uint16_t port);
/* Deep copy of one service (with its destinations). */
void ipvs_service_copy(struct ipvs_service *dst, const struct ipvs_service *src);

/* One change to the kernel table. `svc` carries the service identity and,
 * for ADD/EDIT_SVC, its attributes (svc.dests is NULL). */
enum ipvs_op_type {
	IPVS_OP_ADD_SVC, IPVS_OP_EDIT_SVC, IPVS_OP_DEL_SVC,
	IPVS_OP_ADD_DEST, IPVS_OP_EDIT_DEST, IPVS_OP_DEL_DEST,
};
struct ipvs_op {
	enum ipvs_op_type type;
	struct ipvs_service svc;
	struct ipvs_dest dest;
	uint32_t old_weight;    /* EDIT_DEST: for the log line */
	const char *reason;     /* static string for the log line */
	int err;                /* filled by ipvs_apply: 0 or -errno */
};

struct ipvs;
/* Opens the genl socket, resolves the family, reads the version. NULL and
 * *err (malloc'd) if IPVS is missing. */
struct ipvs *ipvs_open(char **err);
void ipvs_close(struct ipvs *h);
uint32_t ipvs_version(const struct ipvs *h); /* e.g. 0x010201 for 1.2.1 */

/* Dump every service with its destinations and stats, sorted. 0 or -errno. */
int ipvs_dump(struct ipvs *h, struct ipvs_table *out);
/* The services alone (attributes and stats, no destinations), sorted. */
int ipvs_dump_services(struct ipvs *h, struct ipvs_table *out);
/* Refresh one service's destinations (conns, stats) from the kernel. */
int ipvs_dump_dests(struct ipvs *h, struct ipvs_service *s);

/* Send all ops in batches and collect every ACK; each op's err is set.
 * Returns the number of failed ops, or -errno if the socket failed. */
int ipvs_apply(struct ipvs *h, struct ipvs_op *ops, size_t n);

/* Connection-sync daemon. state: IP_VS_STATE_MASTER or IP_VS_STATE_BACKUP. */
struct ipvs_daemon {
	uint32_t state;
	char ifname[16];
	uint32_t syncid;
};
int ipvs_daemon_start(struct ipvs *h, const struct ipvs_daemon *d);
int ipvs_daemon_stop(struct ipvs *h, uint32_t state);
/* Fills up to 2 running daemons; returns how many, or -errno. */
int ipvs_daemon_list(struct ipvs *h, struct ipvs_daemon out[2]);

/* The handle is the in-memory model (DIRECTORD_TEST_IPVS=model), not the
 * kernel: there are no sysctls to set either. */
bool ipvs_is_model(const struct ipvs *h);

/* 0 leaves a timeout as it is. */
int ipvs_set_timeouts(struct ipvs *h, uint32_t tcp_s, uint32_t tcpfin_s, uint32_t udp_s);

#endif
