/* SPDX-License-Identifier: GPL-2.0-or-later */
/* heartbeat/engine.h: the failover engine's inside, shared by its three
 * files and by nothing else:
 *   engine.c    thread, loop, command/event channel, driving the state
 *               machines, reload, status, stop; the public dd_failover_*
 *   links.c     heartbeat sockets, keepalive send/receive, drop counters,
 *               peer and link silence
 *   takeover.c  VIPs on and off, announcement bursts and refresh, the VIP
 *               side of a reload
 * Which thread runs what is in the DOC block of engine.c. */
#ifndef DD_HB_ENGINE_H
#define DD_HB_ENGINE_H

#include <ev.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/socket.h>

#include "conf/model.h"
#include "heartbeat/failover.h"
#include "heartbeat/fsm.h"
#include "heartbeat/proto.h"
#include "lib/log.h"

#define SUB "failover"

/* The engine's own copy of what it uses from a config. */
struct fo_conf {
	char node[DD_NAME_MAX];
	char peer[DD_NAME_MAX];         /* "": standalone, and n_links is 0 */
	struct dd_hb_key key;
	uint16_t port;
	uint32_t interval_ms, dead_ms;
	struct dd_addr mcast;
	uint8_t dscp;
	struct dd_link links[DD_FO_MAX_LINKS];
	size_t n_links;
	struct dd_cluster *clusters; /* deep copies without services */
	size_t n_clusters;
};

struct fo_link {
	struct dd_failover *fo;
	int idx;
	int fd;
	ev_io w;
	ev_timer silence;       /* fires when the peer is silent on this link */
	struct sockaddr_storage to;
	socklen_t tolen;
	bool up;
	bool heard;
	uint64_t last_rx;
	uint64_t last_rejected;  /* a keepalive from the peer's address we could not believe */
	uint64_t rx, tx, tx_err;
};

struct fo_cluster {
	struct dd_failover *fo;
	const struct dd_cluster *cfg;  /* points into fo->conf */
	struct dd_fsm fsm;
	int mon;
	bool vips_on;                  /* active: its VIPs should be on */
	bool *held;                    /* per VIP: on this host now */
	bool *burst;                   /* per VIP: in the current announcement burst */
	uint32_t garp_left;
	ev_timer garp;
	ev_timer refresh;
	ev_timer retry;                /* VIPs that could not be added, until they are */
};

/* Sockets opened on the main thread before a command hands them over, so
 * a reload that cannot get one is refused before anything changes. */
struct link_socks {
	int fd[DD_FO_MAX_LINKS];
	size_t n;
};

struct fo_event {
	struct fo_event *next;
	struct dd_role_change ev;
};

enum cmd_kind { CMD_RELOAD = 1, CMD_TAKEOVER, CMD_RELEASE, CMD_STATUS, CMD_STOP, CMD_TRACK,
		CMD_ECMP_HEALTH, CMD_ECMP_DRAIN };

/* The ECMP side of the engine (announce.c): the tun device, what is on it,
 * and the inputs that decide it. Heartbeat thread once it runs. */
struct fo_ecmp {
	int fd;                 /* the tun device; -1: none (no ECMP cluster) */
	char dev[16];
	bool drained;
	bool stopping;          /* SIGTERM: drained until the end */
	bool health_known;      /* a verdict came from the main loop */
	struct dd_ecmp_vip_health *health;
	size_t n_health;
	struct dd_addr *on;     /* addresses on the device now */
	size_t n_on, cap_on;
	/* An address the kernel refuses is tried again at every evaluation;
	 * its error is said at most a few times a second. */
	struct dlog_ratelimit err_rl;
};

/* Made on the main thread for a command: the device a reload needs. */
struct fo_ecmp_dev {
	int fd;                 /* -1: none */
	char dev[16];
	bool keep;              /* the running device serves the new config */
};

struct fo_cmd {
	enum cmd_kind kind;
	const char *cluster;
	struct fo_conf *conf;
	struct link_socks *socks;
	uint64_t generation;    /* 0, or the first one: a standalone director got a peer */
	struct dd_failover_status *st;
	const struct dd_track_state *track;
	bool handover;
	struct dd_ecmp_vip_health *health; /* CMD_ECMP_HEALTH: taken by the thread */
	size_t n_health;
	bool drain, stopping;   /* CMD_ECMP_DRAIN */
	struct fo_ecmp_dev ecmp; /* CMD_RELOAD: new device; back: the old fd to close */
	int result;
	char err[256];
	bool done;
};

struct dd_failover {
	/* main thread side */
	struct ev_loop *main_loop;
	ev_async main_async;
	struct dlog_queue *logq; /* the heartbeat thread's log lines */
	struct dd_failover_hooks hooks;
	pthread_t thread;
	bool thread_started;

	/* shared, under mu */
	pthread_mutex_t mu;
	pthread_cond_t cv;
	struct fo_cmd *cmd;
	struct fo_event *events, **events_tail;

	/* heartbeat thread side */
	struct ev_loop *loop;
	ev_async cmd_async;
	ev_timer send_timer;
	ev_timer peer_timer;
	ev_timer fsm_timer;
	ev_timer stop_timer;
	ev_timer pulse_timer;
	_Atomic uint64_t pulse;  /* counted by the heartbeat loop; read by the main thread */
	struct fo_conf *conf;
	struct dd_vipctl *vipctl;
	struct dd_garp *garp;
	struct dd_monitor *mon;
	struct fo_ecmp ecmp;
	struct fo_link links[DD_FO_MAX_LINKS];
	size_t n_links;
	struct fo_cluster *clusters;
	size_t n_clusters;
	uint64_t generation;
	uint64_t seq;
	bool ready;
	bool stopping;

	struct {
		bool heard;
		bool timed_out;
		bool grace;             /* the one extra interval after our own stall */
		uint64_t last_rx;
		uint32_t interval_ms, dead_ms;
		struct dd_hb_replay replay;
		struct dd_hb_msg last;
		bool unproven_said;     /* logged that it does not echo us yet */
		uint64_t announced_gen; /* the peer generation we logged as believed */
		enum dd_peer_problem problem;
		enum dd_peer_problem suspect; /* rejected while it seemed alive */
		char suspect_detail[DD_NAME_MAX];
		uint64_t problem_last;  /* newest packet showing it */
		char problem_text[200];
	} peer;

	/* Track scripts' states by name (track.c), heartbeat thread. */
	struct dd_track_state track[DD_MAX_TRACK_SCRIPTS];
	size_t n_track;

	struct dd_failover_drops drops;
	uint64_t rx, tx;
	struct dlog_ratelimit drop_rl;
	struct dlog_ratelimit tx_rl;
	struct dlog_ratelimit stall_rl;
};

/* engine.c, heartbeat thread: re-runs every state machine after an input
 * changed (a keepalive, a silence, a monitor verdict, a command). */
void fo_evaluate(struct dd_failover *fo);

/* track.c, heartbeat thread: a track script's new state; forgetting the
 * scripts no cluster tracks after a reload; and every input of a cluster's
 * state machine that is not the peer's (the monitors' verdict, the track
 * scripts' fault and effective priority). *changed is set when what the
 * keepalives carry changed. */
void fo_track_set(struct dd_failover *fo, const struct dd_track_state *st);
void fo_track_prune(struct dd_failover *fo);
void fo_cluster_inputs(struct dd_failover *fo, struct fo_cluster *c, bool *changed);

/* links.c. open runs on the main thread (before a command), the rest on
 * the heartbeat thread once it runs. */
int fo_links_open(const struct fo_conf *c, struct link_socks *s, char **err);
void fo_links_close_socks(struct link_socks *s);
void fo_links_install(struct dd_failover *fo, struct link_socks *s);
void fo_links_close(struct dd_failover *fo);
void fo_on_peer_timeout(struct ev_loop *loop, ev_timer *w, int revents);
void fo_send(struct dd_failover *fo);
void fo_on_send(struct ev_loop *loop, ev_timer *w, int revents);
size_t fo_links_up(const struct dd_failover *fo);
bool fo_peer_alive(const struct dd_failover *fo);
/* NULL, or why the peer's address sends keepalives we cannot believe
 * ("its keepalives fail authentication"). */
const char *fo_peer_unbelieved(const struct dd_failover *fo);

/* takeover.c, heartbeat thread (and the main thread in dd_failover_new
 * and dd_failover_stop, before the thread starts or after it ended). */
void fo_cluster_timers_init(struct fo_cluster *c);
void fo_cluster_timers_stop(struct fo_cluster *c);
void fo_cluster_free(struct fo_cluster *c);
void fo_vips_up(struct fo_cluster *c);
void fo_vips_down(struct fo_cluster *c, bool quiet);
void fo_vips_announce_again(struct fo_cluster *c);
/* The peer is heard again after a silence: every cluster we hold is
 * announced again, once. */
void fo_vips_peer_back(struct dd_failover *fo);
void fo_vips_remove_stale(struct dd_failover *fo);
/* VIPs an active cluster should hold but does not (an add failed and is
 * being retried). */
size_t fo_vips_missing(const struct fo_cluster *c);
void fo_vips_reload(struct dd_failover *fo, struct fo_cluster *old, size_t n_old,
		    const struct fo_conf *oldconf);

/* announce.c: the ECMP announcements. open/prepare/close run on the main
 * thread (before the heartbeat thread starts, before a command, after the
 * thread ended); the rest on the heartbeat thread. */
int fo_ecmp_prepare(const struct fo_ecmp *cur, const struct dd_config *cfg, struct fo_ecmp_dev *out,
		    char **err);
void fo_ecmp_install(struct dd_failover *fo, struct fo_ecmp_dev *d);
void fo_ecmp_close(struct dd_failover *fo);
/* Puts on the device exactly the VIPs that should be announced now. */
void fo_ecmp_update(struct dd_failover *fo);
/* Withdraws a cluster's VIPs at once (before they leave their interface). */
void fo_ecmp_withdraw(struct fo_cluster *c);
void fo_ecmp_cmd(struct dd_failover *fo, struct fo_cmd *cmd);
void fo_ecmp_status(const struct dd_failover *fo, const struct fo_cluster *c,
		    struct dd_failover_cluster_status *cs);

#endif
