/* SPDX-License-Identifier: GPL-2.0-or-later */
/* conf/model.h: the in-memory configuration, as plain C values.
 *
 * This is the only view of the config the rest of directord sees; libconfig
 * types never leave conf/. A struct dd_config is immutable once loaded: a
 * reload builds a new one and the daemon swaps it in, so any thread may read
 * the one it was handed without locks. Times are milliseconds, unless the
 * field name says otherwise.
 */
#ifndef DD_CONF_MODEL_H
#define DD_CONF_MODEL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "lib/addr.h"

/* Limits the loader enforces, so that every part can size its arrays by
 * them. Names (node, peer, cluster, service) are 1..DD_NAME_MAX-1
 * printable ASCII characters without blanks, quotes or backslashes: they
 * go on the heartbeat wire, into logs and into metrics labels. A
 * keepalive carries every cluster, so the cluster limit is the wire's. */
#define DD_NAME_MAX 64
#define DD_MAX_LINKS 8          /* heartbeat links to the peer */
#define DD_CONTROL_ROOT_SLOTS 4 /* of control.max_clients, only for uid 0 */
#define DD_MAX_CLUSTERS 16      /* clusters in the file, and in one keepalive */
#define DD_MAX_TRACK_SCRIPTS 64 /* track scripts in the file */
#define DD_CLUSTER_TRACK_MAX 16 /* track scripts one cluster follows */

enum dd_proto { DD_PROTO_TCP, DD_PROTO_UDP, DD_PROTO_SCTP, DD_PROTO_FWMARK };
enum dd_fwd { DD_FWD_NAT, DD_FWD_DR, DD_FWD_TUN };
enum dd_check_type { DD_CHECK_NONE, DD_CHECK_TCP, DD_CHECK_HTTP, DD_CHECK_HTTPS,
		     DD_CHECK_EXEC, DD_CHECK_UDP, DD_CHECK_DNS };
enum dd_removal { DD_REMOVAL_DRAIN, DD_REMOVAL_REMOVE }; /* what DOWN does */
enum dd_garp_mode { DD_GARP_REQUEST, DD_GARP_REPLY };
enum dd_initial { DD_INITIAL_DOWN, DD_INITIAL_UP };
/* How a cluster's VIPs are held: by one director of a heartbeat pair, or by
 * every healthy director at once, announced to routers (issue 14). */
enum dd_mode { DD_MODE_PAIR, DD_MODE_ECMP };
/* What a cluster's notify command says in $1 (keepalived's vrrp_instance
 * notify says INSTANCE, a vrrp_sync_group's says GROUP). */
enum dd_notify_type { DD_NOTIFY_INSTANCE, DD_NOTIFY_GROUP };

/* A health check. A service's check is the default for its real servers; a
 * real server may override any field (the loader merges, so every real
 * server ends up with a complete struct). */
struct dd_check {
	enum dd_check_type type;
	uint32_t interval_ms;   /* default 2000 */
	uint32_t timeout_ms;    /* default 1000 */
	uint32_t rise;          /* default 2 */
	uint32_t fall;          /* default 3 */
	enum dd_initial initial; /* default down: a server earns its traffic */
	uint16_t port;          /* 0: the real server's port */
	/* tcp, http, https, udp, dns: where probes leave from, like
	 * keepalived's bindto and bind_if */
	struct dd_addr source;  /* unset: the kernel chooses (never a VIP, see vip.c) */
	char interface[16];     /* SO_BINDTODEVICE; "": none */
	/* http / https */
	char *method;           /* default "GET" */
	char *path;             /* default "/" */
	char *host;             /* Host header; default the server address */
	uint16_t *status;       /* expected status codes; default {200} */
	size_t n_status;
	char *body_match;       /* substring the body must contain; NULL: none */
	char *sni;              /* https: server name; default host */
	bool verify_tls;        /* https: verify the certificate; default false */
	char *ca_file;          /* https: CA bundle when verifying */
	/* exec */
	char *command;          /* run with /bin/sh -c; env carries the target */
	uint32_t script_uid;    /* who runs it: scripts.user/group, set by the */
	uint32_t script_gid;    /* loader (0/0, root, in a check built by hand) */
	/* udp / dns */
	char *send;             /* udp: payload to send */
	char *expect;           /* udp: substring expected in the reply */
	char *dns_query;        /* dns: name to ask for (type A) */
};

struct dd_real_server {
	struct dd_addr addr;
	uint16_t port;          /* 0 for fwmark services that keep the port */
	uint32_t weight;        /* default 1; 0 keeps it configured but idle */
	uint32_t upper_threshold; /* 0: none */
	uint32_t lower_threshold; /* 0: none */
	enum dd_fwd fwd;        /* default: the service's */
	struct dd_check check;  /* fully merged from the service's */
	uint32_t slow_start_ms; /* weight ramp after coming UP; 0: none */
	char *notify_up;        /* run when it comes UP; default the service's */
	char *notify_down;      /* run when it goes DOWN; default the service's */
	int line;               /* where it was declared, for messages */
};

struct dd_service {
	char name[DD_NAME_MAX]; /* unique in the file; default "PROTO/VIP:PORT" */
	enum dd_proto proto;
	struct dd_addr vip;     /* unset for fwmark services */
	uint16_t port;
	uint32_t fwmark;        /* fwmark services only */
	int af;                 /* fwmark services: AF_INET or AF_INET6 */
	char scheduler[16];     /* default "wlc" */
	enum dd_fwd fwd;        /* default DD_FWD_DR */
	uint32_t persistence_timeout_s; /* 0: not persistent */
	int persistence_prefix; /* netmask as prefix length; default host */
	bool ops;               /* one-packet scheduling (udp) */
	struct {
		bool hashed;    /* sh/mh scheduler flags */
		bool fallback;
		bool port;
	} sched_flags;
	bool has_sorry;
	struct dd_addr sorry_addr;
	uint16_t sorry_port;
	uint32_t quorum;        /* live servers needed; default 1 */
	uint32_t quorum_hysteresis;
	enum dd_removal removal; /* default drain */
	uint32_t drain_ms;      /* how long a drained server stays; default 30000 */
	struct dd_check check;
	char *notify_up;        /* keepalived's notify_up/notify_down: the */
	char *notify_down;      /* real servers' default; NULL: none */
	struct dd_real_server *rs;
	size_t n_rs;
	int line;
};

struct dd_vip {
	struct dd_addr addr;
	int prefix;
	char ifname[16];        /* required: a VIP without an interface is an error */
	char *label;            /* optional address label */
	int line;
};

struct dd_cluster {
	char name[DD_NAME_MAX];
	enum dd_mode mode;      /* default pair */
	uint32_t priority;      /* 1..254, higher wins; default 100 */
	bool failback;          /* default false */
	uint32_t failback_delay_ms;
	struct dd_vip *vips;
	size_t n_vips;
	char (*track_ifs)[16];  /* interfaces whose loss means fault */
	size_t n_track_ifs;
	struct dd_addr *ping_targets; /* must answer ICMP echo, else fault */
	size_t n_ping_targets;
	uint32_t ping_interval_ms; /* default 1000 */
	uint32_t ping_timeout_ms;  /* default 1000: fault after this silence x fall */
	uint32_t ping_fall;        /* default 3 */
	struct dd_addr gateway;    /* unset: none; checked like a ping target */
	struct {
		uint32_t count;        /* default 5 */
		uint32_t interval_ms;  /* default 200 */
		enum dd_garp_mode mode;
		uint32_t refresh_ms;   /* 0: no periodic refresh while active */
	} garp;
	/* Track scripts (keepalived's track_script): names from
	 * dd_config.track_scripts with each script's weight copied, as values,
	 * so the failover engine's copy of a cluster carries all it needs. */
	struct dd_cluster_track {
		char name[DD_NAME_MAX];
		int32_t weight;
	} track[DD_CLUSTER_TRACK_MAX];
	size_t n_track;
	/* Commands run on its role changes (keepalived's notify,
	 * notify_master, notify_backup, notify_fault, notify_stop). NULL:
	 * none; with every one NULL, logging.notify runs instead. The
	 * failover engine's copies do not carry them. */
	struct {
		char *all;              /* gets $1..$4 as keepalived's notify */
		enum dd_notify_type type;
		char *active, *standby, *fault, *stop;
	} notify;
	struct dd_service *services;
	size_t n_services;
	int line;
};

/* A track script (keepalived's vrrp_script): a command run every interval,
 * exit status 0 meaning OK. rise successes in a row make it OK, fall
 * failures in a row make it failed; its first result decides at once. */
struct dd_track_script {
	char name[DD_NAME_MAX];  /* unique in the file */
	char *command;           /* run by /bin/sh -c; required */
	uint32_t interval_ms;    /* default 1000 */
	uint32_t timeout_ms;     /* default 500; less than interval_ms */
	uint32_t rise, fall;     /* default 1, 1 */
	int32_t weight;          /* -253..253; 0: failing puts the cluster in
				  * fault; < 0: failing lowers the priority by
				  * -weight; > 0: OK raises it by weight */
	char *user;              /* NULL: scripts.user */
	uint32_t uid, gid;       /* who runs it, set by the loader */
	int line;
};

struct dd_link {
	struct dd_addr local;
	struct dd_addr remote;  /* unset with multicast */
	char ifname[16];        /* optional: bind to this device */
	int line;
};

struct dd_peer {
	char name[DD_NAME_MAX];
	struct dd_link *links;
	size_t n_links;
	int line;
};

struct dd_heartbeat {
	char *key_file;         /* required; mode must be 0600 or 0400 */
	uint16_t port;          /* default 7694 */
	uint32_t interval_ms;   /* default 50 */
	uint32_t dead_ms;       /* default 200 */
	char *state_file;       /* generation counter; default LOCALSTATEDIR/lib/directord/generation */
	struct dd_addr mcast_group; /* unset: unicast */
	struct dd_peer *peers;
	size_t n_peers;
	uint8_t dscp;           /* default 48 (CS6, network control) */
	int line;
};

struct dd_sync {
	bool enabled;           /* default false */
	char ifname[16];
	uint32_t syncid;        /* 0..255 */
	uint32_t tcp_timeout_s; /* 0: leave the kernel's */
	uint32_t tcpfin_timeout_s;
	uint32_t udp_timeout_s;
	bool sloppy;            /* set sloppy_tcp/sloppy_sctp on the standby */
	int line;
};

/* ECMP mode (issue 14): the announcement device and the drain. Only set
 * (line != 0) when the file has an ecmp group; required when a cluster
 * has mode "ecmp". */
struct dd_ecmp {
	char device[16];        /* tun device without TUNSETPERSIST; default "dd-ecmp" */
	uint32_t drain_timeout_s; /* drain-director: serve established connections
				   * at most this long; default 60 */
	uint32_t stop_wait_ms;  /* SIGTERM: after withdrawing, wait at most this
				 * long for connections to end; default 2000 */
	int line;
};

struct dd_alerting {
	int syslog_facility;    /* default LOG_DAEMON */
	int log_level;          /* default LOG_INFO */
	char *notify;           /* command run on role changes; NULL: none */
	uint32_t notify_timeout_ms; /* default 10000 */
};

/* Who runs notify commands and exec checks (keepalived's script_user). */
struct dd_scripts {
	char *user;             /* default "nobody" when it exists */
	char *group;            /* default "nogroup" with nobody, else the user's group */
	uint32_t uid, gid;
	int line;               /* of the scripts group; 0: defaults */
};

/* The SNMP AgentX subagent (snmp/, built with --enable-snmp). The loader
 * accepts the group in every build; enabled = true in a build without
 * SNMP is its error. */
struct dd_snmp_conf {
	bool enabled;           /* default false */
	char *agentx_socket;    /* default "/var/agentx/master" (net-snmp's) */
	bool traps;             /* default true */
	int line;               /* of the group; 0: defaults */
};

struct dd_control {
	char *socket_path;      /* default RUNSTATEDIR/directord.sock */
	char *group;            /* may change things besides root; NULL: root only */
	uint32_t mode;          /* default 0660 */
	char *metrics_listen;   /* "127.0.0.1:9469"; NULL: no HTTP listener */
	/* Connections served at once. Of max_clients, DD_CONTROL_ROOT_SLOTS
	 * only root may take, so no local user can lock root out. */
	uint32_t max_clients;           /* default 32, DD_CONTROL_ROOT_SLOTS*2..1024 */
	uint32_t max_clients_per_uid;   /* default 8, for any uid but 0 */
	uint32_t metrics_max_clients;   /* default 16, 1..1024 */
};

struct dd_config {
	char *path;             /* file it came from */
	char node_name[DD_NAME_MAX]; /* this director; default: hostname */
	char *pid_file;         /* default RUNSTATEDIR/directord.pid */
	struct dd_heartbeat hb;
	struct dd_sync sync;
	struct dd_ecmp ecmp;
	struct dd_alerting alert;
	struct dd_scripts scripts;
	struct dd_control control;
	struct dd_snmp_conf snmp;
	struct dd_cluster *clusters;
	size_t n_clusters;
	struct dd_track_script *track_scripts;
	size_t n_track_scripts;
};

/* Enum values as the config file spells them, from one table per enum
 * (conf/keys.c) that the loader, the printer and everyone else use.
 * name() of a value outside the enum is "?"; parse() takes the exact
 * name, and leaves *out alone and returns false for anything else. */
const char *dd_proto_name(enum dd_proto p);
bool dd_proto_parse(const char *s, enum dd_proto *out);
const char *dd_fwd_name(enum dd_fwd f);
bool dd_fwd_parse(const char *s, enum dd_fwd *out);
const char *dd_check_type_name(enum dd_check_type t);
bool dd_check_type_parse(const char *s, enum dd_check_type *out);
const char *dd_removal_name(enum dd_removal r);
bool dd_removal_parse(const char *s, enum dd_removal *out);
const char *dd_garp_mode_name(enum dd_garp_mode m);
bool dd_garp_mode_parse(const char *s, enum dd_garp_mode *out);
const char *dd_initial_name(enum dd_initial i);
bool dd_initial_parse(const char *s, enum dd_initial *out);
const char *dd_mode_name(enum dd_mode m);
bool dd_mode_parse(const char *s, enum dd_mode *out);
/* Whether any cluster of c has mode ecmp. */
bool dd_config_has_ecmp(const struct dd_config *c);
const char *dd_notify_type_name(enum dd_notify_type t);
bool dd_notify_type_parse(const char *s, enum dd_notify_type *out);
/* A fwmark service's family: "inet" or "inet6". */
const char *dd_family_name(int af);
bool dd_family_parse(const char *s, int *af);

/* Errors are collected, not stopped at: `directord -t` prints them all. */
struct dd_conf_error {
	char *file;
	int line;               /* 0 when no line applies */
	char *msg;
};
struct dd_conf_errors {
	struct dd_conf_error *v;
	size_t n;
};
void dd_conf_errors_free(struct dd_conf_errors *e);
/* The one form a config error is shown in, on a terminal, in the log and
 * to directorctl: "FILE:LINE: msg", or "FILE: msg" when no line applies
 * (a file that cannot be opened). Truncates to `len`; returns `buf`. */
#define DD_CONF_ERROR_STRLEN 4608 /* a PATH_MAX file name and a message */
const char *dd_conf_error_str(const struct dd_conf_error *e, char *buf, size_t len);
/* Every error in that form, one a line (`directord -t`, tools, tests). */
void dd_conf_errors_print(const struct dd_conf_errors *e, FILE *out);

/* Load and validate. Returns NULL and fills `errs` on any error. */
struct dd_config *dd_config_load(const char *path, struct dd_conf_errors *errs);
/* Same, from a string (tests, fuzzers); `name` is used in messages. */
struct dd_config *dd_config_load_string(const char *text, const char *name,
					struct dd_conf_errors *errs);
void dd_config_free(struct dd_config *c);
/* Deep copy and release of one check (the health part keeps its own copies
 * so that a reload can free the config a probe was built from). */
void dd_check_copy(struct dd_check *dst, const struct dd_check *src);
void dd_check_free(struct dd_check *c);
/* Frees what a cluster owns (not the struct itself); the failover engine's
 * copies, which carry no services, are freed with it too. */
void dd_cluster_free(struct dd_cluster *cl);
/* The canonical form: every key, defaults made explicit, fixed order. */
char *dd_config_print(const struct dd_config *c); /* malloc'd */

#endif
