/* SPDX-License-Identifier: GPL-2.0-or-later */
/* directord/track.h: the track scripts' runner (keepalived's vrrp_script):
 * each script of the config runs every interval_ms as an exec check does
 * (health/probe.c: /bin/sh -c through lib/spawn.c as its user, its process
 * group killed at timeout_ms, never two runs at once), and rise/fall turn
 * the results into a state. Runs in the loop it is given (the daemon's
 * main loop), never on the heartbeat thread; a changed state goes to the
 * hook, which hands it to the failover engine (dd_failover_track). */
#ifndef DD_TRACK_H
#define DD_TRACK_H

#include <ev.h>
#include <stdbool.h>
#include <stdint.h>

#include "conf/model.h"
#include "heartbeat/failover.h"

struct dd_track;

typedef void (*dd_track_cb)(void *ctx, const struct dd_track_state *st);

/* Starts every script of cfg (the first runs at once). cb is called in
 * `loop` whenever a script's state changes (its first result included). */
struct dd_track *dd_track_new(struct ev_loop *loop, const struct dd_config *cfg, dd_track_cb cb,
			      void *ctx);
/* The new config's scripts: one of the same name, command, user and
 * timings keeps its state; then cb gets the state of every script that
 * has one, so that the engine, reloaded just before, has them all (a
 * changed script's first result follows when it comes). */
void dd_track_reload(struct dd_track *t, const struct dd_config *cfg);
/* Kills runs in progress (their process groups) and frees t. */
void dd_track_free(struct dd_track *t);

/* Status and metrics. */
struct dd_track_script_status {
	char name[DD_NAME_MAX];
	bool known, ok, running;
	int32_t weight;
	uint32_t consecutive;   /* results in a row that agree with the last one */
	uint64_t runs, failures, timeouts;
	int64_t last_run_age_ms; /* since the last run ended; -1: never */
	char last_result[160];  /* "ok", "exit code 1", "timeout after 500 ms" */
};
size_t dd_track_count(const struct dd_track *t);
/* Fills out[0..min(count, max)); returns how many. */
size_t dd_track_status(const struct dd_track *t, struct dd_track_script_status *out, size_t max);

#endif
