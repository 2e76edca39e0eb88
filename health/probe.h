/* SPDX-License-Identifier: GPL-2.0-or-later */
/* health/probe.h: one check attempt against one real server (tcp, http,
 * https, udp, dns, exec), non-blocking on the libev loop it is given. The
 * scheduling, rise/fall and sharing live in health.c; a probe only says
 * "ok" or why not. Runs on the checker's loop (the daemon's main loop).
 */
#ifndef DD_HEALTH_PROBE_H
#define DD_HEALTH_PROBE_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include <ev.h>

#include "lib/spawn.h"

#include "conf/model.h"
#include "lib/addr.h"

struct ssl_ctx_st;
struct ssl_st;
struct ssl_session_st;

struct dd_probe;

/* Probes with the same timeout, in start order, hence in deadline order:
 * one ev_timer for the oldest instead of one per probe (at 10,000 probes a
 * second, starting and stopping a timer each was 4 % of the checker's CPU). */
struct dd_probe_deadlines {
	unsigned timeout_ms;
	struct dd_probe *head, *tail;
	ev_timer w;
	struct dd_probe_deadlines *next;
};

/* Shared by every probe of one checker: the loop and TLS contexts. */
struct dd_probe_ctx {
	struct ev_loop *loop;
	struct dd_probe_deadlines *deadlines;
	struct ssl_ctx_st *tls_default;  /* system CA store; verify per probe */
	struct tls_ca {
		char *ca_file;
		struct ssl_ctx_st *ctx;
		struct tls_ca *next;
	} *tls_by_ca;
	unsigned in_flight;
	uint32_t rand_state;             /* DNS query ids */
};

#define DD_PROBE_REASON_MAX 160

struct dd_probe {
	/* Set by the owner before dd_probe_start(). */
	struct dd_probe_ctx *ctx;
	const struct dd_check *chk;
	struct dd_addr addr;
	uint16_t port;
	void (*done)(struct dd_probe *p, bool ok, const char *reason);
	/* Exec checks, when done runs: the command's wait status, or -1 if it
	 * never ran; and whether it was killed at its timeout. */
	int exec_status;
	bool killed;

	/* Private. */
	bool running;
	int phase;
	int fd;
	ev_io io;
	ev_timer timeout;        /* exec checks and failures found at start */
	struct dd_probe_deadlines *dlq; /* network probes: queued here instead */
	struct dd_probe *dl_prev, *dl_next;
	ev_tstamp deadline;
	struct dd_child child;   /* exec checks: lib/spawn.h */
	pid_t pid;               /* of the exec check's process group while it runs */
	struct ssl_st *ssl;
	struct ssl_session_st *tls_session; /* resumed next time: spares the server a full handshake */
	uint64_t tls_resumed;               /* handshakes that resumed a session */
	char *buf;
	size_t len, cap;
	char *req;
	size_t req_len, sent;
	uint16_t dns_id;
	char reason[DD_PROBE_REASON_MAX];
};

void dd_probe_ctx_init(struct dd_probe_ctx *c, struct ev_loop *loop);
void dd_probe_ctx_cleanup(struct dd_probe_ctx *c);

/* Starts one attempt; p->done is called exactly once, later, from the loop
 * (never from inside dd_probe_start). Must not be running. */
void dd_probe_start(struct dd_probe *p);
/* Stops an attempt without calling done. An exec check's process group is
 * killed. Safe on a probe that is not running. */
void dd_probe_abort(struct dd_probe *p);
/* Frees what a probe keeps between attempts (a TLS session). */
void dd_probe_cleanup(struct dd_probe *p);

#endif
