/* SPDX-License-Identifier: GPL-2.0-or-later */
/* directord/ctlops.h: the daemon's side of the control socket and of the
 * metrics listener: fills struct dd_ctl_ops from the running parts (config,
 * forwarding plane, failover engine, health checker); answers are filled
 * into the status model and rendered by its writers (status.h).
 *
 * daemon.c owns the parts; it hands this module pointers to its own
 * fields, so a part created, replaced or freed later is seen at the next
 * request. Runs on the daemon's main libev loop; status and metrics
 * answers are rendered in a thread of their own (directord/render.h).
 */
#ifndef DD_DIRECTORD_CTLOPS_H
#define DD_DIRECTORD_CTLOPS_H

#include <stdbool.h>
#include <stdint.h>

#include "conf/model.h"
#include "heartbeat/proto.h"

struct ev_loop;
struct dd_fwdplane;
struct dd_failover;
struct dd_health;
struct dd_ecmpctl;

struct dd_ctlops_src {
	struct dd_config **cfg;           /* the running config */
	const char *conf_path;            /* what `reload`, `plan` and `check` read */
	/* The parts; any may point at NULL (not started, or not in this build). */
	struct dd_fwdplane **fwd;
	struct dd_failover **fo;
	struct dd_health **health;
	struct dd_snmp **snmp;            /* may be NULL */
	struct dd_ecmpctl **ecmp;            /* ECMP mode (directord/ecmp.h) */
	struct dd_track **track;
	const unsigned *reloads, *reload_failures;
	/* Reloads like SIGHUP. 0; -1 with *why (malloc'd): the errors, nothing
	 * changed; 1 with *why: applied, but that part did not take. */
	int (*reload)(void *daemon, char **why);
	void *daemon;
};

struct dd_ctlops;
struct dd_snmp;
struct dd_status;

/* Opens the control socket and, if configured, the metrics listener.
 * NULL with *err (malloc'd) if the control socket cannot be opened. A
 * metrics listener that cannot bind is logged and skipped: metrics are not
 * worth failing a director for. */
struct dd_ctlops *dd_ctlops_start(struct ev_loop *loop, const struct dd_ctlops_src *src, char **err);
/* From the failover engine's role_changed hook: counts role changes and
 * failovers (becoming active) per cluster for the metrics. */
void dd_ctlops_role_changed(struct dd_ctlops *o, const char *cluster, enum dd_role old_role,
			    enum dd_role new_role);
/* What `directorctl status` (counters: `directorctl metrics`) would say
 * now, for the SIGUSR1/SIGUSR2 dumps. */
struct dd_buf;
void dd_ctlops_dump(struct dd_ctlops *o, bool counters, struct dd_buf *out);
/* The model of this moment, all clusters (the SNMP subagent's copy is
 * made from it); free with dd_status_free(). */
void dd_ctlops_fill(struct dd_ctlops *o, struct dd_status *st);
/* Returns once no status or metrics answer is being rendered: call it
 * before freeing a config that answers may still point into. */
void dd_ctlops_quiesce(struct dd_ctlops *o);
/* After a reload: control group/mode, metrics listener address. */
void dd_ctlops_reconfigure(struct dd_ctlops *o);
void dd_ctlops_stop(struct dd_ctlops *o);

#endif
