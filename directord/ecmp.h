/* SPDX-License-Identifier: GPL-2.0-or-later */
/* directord/ecmp.h: the daemon's side of ECMP mode (issue 14), on the main
 * loop: it tells the failover engine which VIPs have quorum (values, from
 * the forwarding plane after each reconcile pass), and runs
 * drain-director / undrain-director and the SIGTERM withdrawal, which wait
 * for IPVS to show no connections. What is announced is decided on the
 * heartbeat thread (heartbeat/announce.c). */
#ifndef DD_DIRECTORD_ECMP_H
#define DD_DIRECTORD_ECMP_H

#include <stdbool.h>
#include <stdint.h>

#include "conf/model.h"

struct ev_loop;
struct dd_fwdplane;
struct dd_failover;
struct dd_ecmpctl;

enum dd_ecmp_drain { DD_ECMP_SERVING = 0, DD_ECMP_DRAINING, DD_ECMP_DRAINED_DONE };
const char *dd_ecmp_drain_name(enum dd_ecmp_drain d); /* "serving", "draining", "drained" */

/* The daemon's fields, read at each use (a part may come or go). */
struct dd_ecmpctl *dd_ecmp_new(struct ev_loop *loop, struct dd_config **cfg, struct dd_fwdplane **fwd,
			    struct dd_failover **fo);
void dd_ecmp_free(struct dd_ecmpctl *e);

/* Sends the quorum of every ECMP VIP to the engine if it changed (or was
 * never sent). Cheap when nothing changed: call after every pass and
 * every reload. */
void dd_ecmp_sync(struct dd_ecmpctl *e);

/* drain-director (true) / undrain-director (false). 0, or -1 with *err. */
int dd_ecmp_drain(struct dd_ecmpctl *e, bool drain, char **err);

/* SIGTERM: withdraws everything, then calls done(ctx) once IPVS shows no
 * connection for the ECMP services or ecmp.stop_wait_ms passed. false
 * (done not called) when no cluster is ECMP: stop at once. */
bool dd_ecmp_stop(struct dd_ecmpctl *e, void (*done)(void *ctx), void *ctx);

struct dd_ecmp_view {
	bool present;            /* some cluster is ECMP */
	enum dd_ecmp_drain drain;
	uint64_t drain_ms;       /* since drain-director */
	uint64_t conns;          /* active connections at the last look */
	bool stopping;
};
void dd_ecmp_view(const struct dd_ecmpctl *e, struct dd_ecmp_view *v);

#endif
