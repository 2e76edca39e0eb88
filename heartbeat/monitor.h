/* SPDX-License-Identifier: GPL-2.0-or-later */
/* heartbeat/monitor.h: local fault detection for the clusters: tracked
 * interfaces (rtnetlink link events plus a periodic check) and ICMP echo to
 * ping targets and the gateway. Runs in the heartbeat thread's loop, so a
 * busy main loop never delays a fault verdict. */
#ifndef DD_HB_MONITOR_H
#define DD_HB_MONITOR_H

#include <ev.h>
#include <stdbool.h>
#include <stddef.h>

#include "conf/model.h"

struct dd_monitor;

/* Called (in the monitor's loop) whenever some cluster's verdict changes. */
typedef void (*dd_monitor_cb)(void *ctx);

struct dd_monitor *dd_monitor_new(struct ev_loop *loop, dd_monitor_cb cb, void *ctx,
				  char **err);
void dd_monitor_free(struct dd_monitor *m);

/* Registers a cluster's checks (copied); returns its handle index. */
int dd_monitor_add(struct dd_monitor *m, const struct dd_cluster *c);

/* known: every check has an answer, or some check already failed.
 * Returns true if the cluster is in fault; reason says which check. */
bool dd_monitor_fault(const struct dd_monitor *m, int idx, bool *known, char *reason, size_t len);

#endif
