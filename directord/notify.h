/* SPDX-License-Identifier: GPL-2.0-or-later */
/* directord/notify.h: run the operator's notify commands on a role change
 * (with keepalived's arguments) and on a real server's state change.
 * Runs in the loop it is given (the daemon's main loop): the command is
 * spawned, watched through a pidfd and killed (its whole process group) if
 * it outlives its timeout, so it can never block anything. */
#ifndef DD_NOTIFY_H
#define DD_NOTIFY_H

#include <ev.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "conf/model.h"
#include "heartbeat/failover.h"
#include "lib/spawn.h"

struct dd_notify;

struct dd_notify_event {
	const char *cluster;
	const char *role;
	const char *old_role;
	const char *reason;
	const char *why;        /* the reason as a stable token: "peer-silent" */
	const char *node;
};

struct dd_notify *dd_notify_new(struct ev_loop *loop);
/* Kills and reaps commands still running. */
void dd_notify_free(struct dd_notify *n);

/* Starts `command` with /bin/sh -c as `as` (the config's script user; NULL:
 * as the daemon) with DIRECTORD_CLUSTER, DIRECTORD_ROLE,
 * DIRECTORD_OLD_ROLE, DIRECTORD_REASON, DIRECTORD_REASON_CODE, DIRECTORD_NODE
 * and PATH as its whole environment (lib/spawn.h, which also refuses a
 * script others can change).
 * Returns at once: 0 if started, -1 with *err (malloc'd). The outcome
 * (exit status, timeout) is logged when it is known. `args` (NULL-
 * terminated; NULL: none) are appended to the command line as
 * lib/spawn.h's dd_spawn_script_args does it. */
int dd_notify_run(struct dd_notify *n, const char *command, const char *const args[],
		  const struct dd_run_as *as, uint32_t timeout_ms,
		  const struct dd_notify_event *ev, char **err);

/* keepalived's word for a role in notify's $3: MASTER, BACKUP, FAULT,
 * STOP; NULL for init. */
const char *dd_notify_state_word(enum dd_role r);

/* Everything a role change runs, as cfg's scripts.user with
 * logging.notify_timeout_ms: the cluster's notify_<role> command (no
 * arguments) and its notify command with keepalived's arguments ($1
 * INSTANCE or GROUP, $2 the cluster, $3 MASTER|BACKUP|FAULT|STOP, $4 the
 * effective priority, 0 for GROUP); a cluster that has none of its own
 * runs logging.notify with the same arguments. Each also gets the
 * environment of dd_notify_run(). Failures to start are logged. */
void dd_notify_role_change(struct dd_notify *n, const struct dd_config *cfg,
			   const struct dd_role_change *rc);

/* A real server came up or went down: its notify_up or notify_down
 * (keepalived's), with DIRECTORD_SERVICE, DIRECTORD_REAL_SERVER
 * (address:port), DIRECTORD_STATE (up|down), DIRECTORD_REASON,
 * DIRECTORD_UP and DIRECTORD_TOTAL (servers up and configured in the
 * service after the change) and PATH as its environment. */
struct dd_notify_rs_event {
	const struct dd_service *svc;
	const struct dd_real_server *rs;
	bool up;
	const char *reason;
	unsigned n_up, n_total;
};
void dd_notify_rs_change(struct dd_notify *n, const struct dd_config *cfg,
			 const struct dd_notify_rs_event *ev);

/* Commands still running (tests, status). */
unsigned dd_notify_running(const struct dd_notify *n);

/* How the finished commands ended (status, metrics). */
struct dd_notify_stats {
	uint64_t succeeded, failed, timed_out;
};
void dd_notify_get_stats(const struct dd_notify *n, struct dd_notify_stats *out);

#endif
