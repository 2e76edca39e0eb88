/* SPDX-License-Identifier: GPL-2.0-or-later */
/* directord/notify.h: run the operator's notify command on a role change.
 * Runs in the loop it is given (the daemon's main loop): the command is
 * spawned, watched through a pidfd and killed (its whole process group) if
 * it outlives its timeout, so it can never block anything. */
#ifndef DD_NOTIFY_H
#define DD_NOTIFY_H

#include <ev.h>
#include <stddef.h>
#include <stdint.h>

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
 * (exit status, timeout) is logged when it is known. */
int dd_notify_run(struct dd_notify *n, const char *command, const struct dd_run_as *as,
		  uint32_t timeout_ms, const struct dd_notify_event *ev, char **err);

/* Commands still running (tests, status). */
unsigned dd_notify_running(const struct dd_notify *n);

/* How the finished commands ended (status, metrics). */
struct dd_notify_stats {
	uint64_t succeeded, failed, timed_out;
};
void dd_notify_get_stats(const struct dd_notify *n, struct dd_notify_stats *out);

#endif
