/* SPDX-License-Identifier: GPL-2.0-or-later */
/* health/health.h: real-server health checking, the API the daemon core
 * calls. Everything here runs on the libev loop passed to dd_health_new()
 * (the daemon's main loop); no function is thread-safe, and the hooks are
 * called from that loop.
 *
 * The checker reads the config model (conf/model.h) only: every real server
 * carries a complete, merged `check`. Real servers whose checks are the
 * same (same address, check port, type and every parameter) share one
 * probe, and its verdict is delivered to each service using it.
 *
 * Verdicts: `fall` failures in a row take a server DOWN, `rise` successes
 * in a row bring it UP; it starts in `check.initial`. What DOWN means for
 * IPVS (drain, remove, quorum, sorry server) is not decided here. No
 * call is made for the initial state: the caller programs real servers
 * from `check.initial` and then hears only changes.
 *
 * Reasons (stable wording, also in the log lines): "ok", "connection
 * refused", "connect timeout after N ms", "timeout after N ms",
 * "HTTP status N", "body mismatch", "bad HTTP reply", "connection closed",
 * "TLS handshake failed: <reason>", "exit code N", "killed by signal N",
 * "reply mismatch" (udp), "DNS rcode N", "connect failed: <errno text>".
 *
 * Exec checks need the loop to be the default loop (libev reaps children
 * only there) or else a kernel with pidfd_open (5.3+), which is used then.
 */
#ifndef DD_HEALTH_HEALTH_H
#define DD_HEALTH_HEALTH_H

#include <stdbool.h>
#include <stdint.h>

#include <ev.h>

#include "conf/model.h"
#include "lib/addr.h"

struct dd_health;

struct dd_health_hooks {
	void *ctx;
	/* Verdict changed for one real server of one service: called once per
	 * service sharing the check. `rs`/`port` are the real server as the
	 * service lists it (not the check port). `reason` is the last probe's
	 * result ("ok" when going UP). The hook itself may be NULL. */
	void (*changed)(void *ctx, const char *service, const struct dd_addr *rs,
			uint16_t port, bool up, const char *reason);
	/* changed() must not call dd_health_reload() or dd_health_free():
	 * defer those to the loop (an ev_idle or a zero timer). */
};

/* Starts checks for every real server of every service whose check type is
 * not DD_CHECK_NONE. Sets SIGPIPE to ignored if it is at its default (TLS
 * writes use write(2)). First probes are spread over one interval so that
 * thousands of checks do not fire in the same tick. `cfg` is not kept. */
struct dd_health *dd_health_new(struct ev_loop *loop, const struct dd_config *cfg,
				const struct dd_health_hooks *hooks);

/* Apply a new config. Checks that did not change (same key) keep their state,
 * counters, timer phase and any probe in flight. A changed check for a
 * (service, real server) that was checked before starts a new probe but
 * keeps that server's verdict, so tuning a check does not bounce healthy
 * servers; checks of new real servers start in `initial`. Dropped checks
 * stop (an exec check's process group is killed). Each (service, real
 * server) whose verdict now differs from what it last heard (new ones:
 * from their `initial`) gets a changed() call before this returns.
 * Returns 0. */
int dd_health_reload(struct dd_health *h, const struct dd_config *cfg);

/* Stops everything, kills running exec checks, frees. NULL is fine. */
void dd_health_free(struct dd_health *h);

/* Status of one real server of one service (directorctl, metrics). The
 * strings point into the checker and are valid until the next call into it
 * or the next loop iteration. */
struct dd_health_rs_status {
	const char *service;
	struct dd_addr addr;
	uint16_t port;            /* real server port */
	uint16_t check_port;      /* port probed (may differ) */
	enum dd_check_type type;
	bool up;
	bool last_ok;             /* last finished probe succeeded */
	const char *reason;       /* last probe: "ok" or why it failed; "" before any */
	double in_state_s;        /* time since the last transition (or start) */
	uint32_t streak;          /* consecutive results against the current state */
	uint32_t needed;          /* rise (if DOWN) or fall (if UP) */
	uint64_t n_checks, n_ok, n_failed;
	uint64_t n_transitions;
	unsigned n_shared;        /* services fed by this probe */
	uint64_t n_tls_resumed;   /* https: handshakes that resumed a session */
};
typedef void (*dd_health_status_fn)(void *arg, const struct dd_health_rs_status *st);
void dd_health_foreach(struct dd_health *h, dd_health_status_fn fn, void *arg);

/* Find one; returns false if that service has no checked real server there. */
bool dd_health_get(struct dd_health *h, const char *service, const struct dd_addr *rs,
		   uint16_t port, struct dd_health_rs_status *out);

/* Load figures: how late probes started against their schedule. */
struct dd_health_stats {
	size_t n_probes;          /* distinct probes (after sharing) */
	size_t n_subscribers;     /* (service, real server) pairs */
	unsigned in_flight;
	uint64_t started;         /* probes started since the last reset */
	uint64_t skipped;         /* ticks skipped: previous probe still running */
	uint64_t slip_samples;
	double slip_p50_ms, slip_p99_ms, slip_max_ms;
};
void dd_health_get_stats(struct dd_health *h, struct dd_health_stats *out);
void dd_health_reset_stats(struct dd_health *h);

#endif
