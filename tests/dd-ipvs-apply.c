/* SPDX-License-Identifier: GPL-2.0-or-later */
/* tests/dd-ipvs-apply.c: drive the real forwarding plane (conf loader, IPVS
 * backend, reconciler) without the daemon, for in-guest tests and the
 * benchmark. Runs its own libev loop in the main thread.
 *
 * Usage: dd-ipvs-apply [options] CONFIG [ACTION]...
 *   CONFIG is programmed as the daemon does at start (adopting what the
 *   kernel has); then each ACTION runs in order:
 *     reload FILE                     apply FILE as a reload (minimal diff)
 *     up|down SERVICE ADDR PORT       a health verdict
 *     drain|undrain SERVICE ADDR PORT administrative drain
 *     role CLUSTER active|standby     sync daemon / sloppy
 *     settle SECONDS                  run the loop until no real server is
 *                                     draining (deadline SECONDS)
 *     run SECONDS                     run the loop for SECONDS
 *     wait-file PATH SECONDS          run the loop until PATH exists
 *   After each step one line goes to stdout:
 *     step=NAME ops=N failed=N pass_us=N owned=N draining=N wall_us=N
 * Options: -q (log warnings only).
 * Exit: 0, 1 when a step or an IPVS operation failed, 2 on usage or config
 * errors.
 */
#include "config.h"

#include <ev.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "conf/model.h"
#include "directord/fwd.h"
#include "lib/log.h"
#include "lib/util.h"

static struct dd_config *load(const char *path)
{
	struct dd_conf_errors errs = { 0 };
	struct dd_config *c = dd_config_load(path, &errs);
	dd_conf_errors_print(&errs, stderr);
	dd_conf_errors_free(&errs);
	return c;
}

static void report(struct dd_fwdplane *f, const char *step, uint64_t t0, uint64_t ops_before)
{
	struct dd_fwd_stats s;
	dd_fwd_get_stats(f, &s);
	printf("step=%s ops=%llu failed=%llu pass_us=%llu owned=%zu draining=%zu wall_us=%llu\n", step,
	       (unsigned long long)(s.ops - ops_before), (unsigned long long)s.ops_failed,
	       (unsigned long long)s.last_pass_us, s.n_owned, s.n_draining,
	       (unsigned long long)(mono_us() - t0));
	fflush(stdout);
}

static void tick_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
	ev_break(loop, EVBREAK_ONE);
}

/* Runs the loop for up to `ms`, in 50 ms slices, until done(f) says so. */
static bool run_until(struct ev_loop *loop, struct dd_fwdplane *f, double secs, bool (*done)(struct dd_fwdplane *, const char *),
		      const char *arg)
{
	uint64_t end = mono_ms() + (uint64_t)(secs * 1000);
	ev_timer t;
	ev_timer_init(&t, tick_cb, 0.05, 0.0);
	while (mono_ms() < end) {
		if (done && done(f, arg))
			return true;
		ev_timer_set(&t, 0.05, 0.0);
		ev_timer_start(loop, &t);
		ev_run(loop, 0);
		ev_timer_stop(loop, &t);
	}
	return done ? done(f, arg) : true;
}

static bool no_drains(struct dd_fwdplane *f, const char *arg)
{
	struct dd_fwd_stats s;
	dd_fwd_get_stats(f, &s);
	return s.n_draining == 0;
}

static bool file_exists(struct dd_fwdplane *f, const char *path)
{
	struct stat st;
	return stat(path, &st) == 0;
}

static int usage(void)
{
	fprintf(stderr, "usage: dd-ipvs-apply [-q] CONFIG [reload FILE | up|down|drain|undrain SERVICE ADDR PORT |\n"
			"       role CLUSTER active|standby | settle SECS | run SECS | wait-file PATH SECS]...\n");
	return 2;
}

int main(int argc, char **argv)
{
	int a = 1;
	dlog_open("dd-ipvs-apply", DLOG_STDERR, LOG_DAEMON);
	if (a < argc && !strcmp(argv[a], "-q")) {
		dlog_set_level(LOG_WARNING);
		a++;
	}
	if (a >= argc)
		return usage();
	struct ev_loop *loop = ev_loop_new(EVFLAG_AUTO);
	struct dd_config *cfgs[64];
	size_t n_cfgs = 0;
	uint64_t t0 = mono_us();
	cfgs[n_cfgs] = load(argv[a++]);
	if (!cfgs[n_cfgs]) {
		ev_loop_destroy(loop);
		return 2;
	}
	n_cfgs++;
	char *err = NULL;
	struct dd_fwdplane *f = dd_fwd_new(loop, cfgs[0], &err);
	if (!f) {
		fprintf(stderr, "dd-ipvs-apply: %s\n", err);
		free(err);
		dd_config_free(cfgs[0]);
		ev_loop_destroy(loop);
		return 1;
	}
	report(f, "start", t0, 0);
	struct dd_fwd_stats s0;
	dd_fwd_get_stats(f, &s0);
	int rc = s0.ops_failed ? 1 : 0;
	while (a < argc && rc == 0) {
		const char *act = argv[a++];
		struct dd_fwd_stats s;
		dd_fwd_get_stats(f, &s);
		t0 = mono_us();
		if (!strcmp(act, "reload") && a < argc && n_cfgs < ARRAY_SIZE(cfgs)) {
			struct dd_config *c = load(argv[a++]);
			if (!c) {
				rc = 2;
				break;
			}
			cfgs[n_cfgs++] = c;
			if (dd_fwd_apply_config(f, c, &err)) {
				fprintf(stderr, "dd-ipvs-apply: reload: %s\n", err);
				free(err);
				rc = 1;
			}
		} else if ((!strcmp(act, "up") || !strcmp(act, "down") || !strcmp(act, "drain") ||
			    !strcmp(act, "undrain")) && a + 2 < argc) {
			struct dd_addr addr;
			if (!dd_addr_parse(argv[a + 1], &addr)) {
				fprintf(stderr, "dd-ipvs-apply: bad address %s\n", argv[a + 1]);
				rc = 2;
				break;
			}
			uint16_t port = (uint16_t)atoi(argv[a + 2]);
			if (act[0] == 'u' && act[1] == 'p')
				dd_fwd_set_rs_health(f, argv[a], &addr, port, true);
			else if (act[0] == 'd' && act[1] == 'o')
				dd_fwd_set_rs_health(f, argv[a], &addr, port, false);
			else if (dd_fwd_set_rs_admin_drain(f, argv[a], &addr, port, act[0] == 'd')) {
				fprintf(stderr, "dd-ipvs-apply: no real server %s %s:%u\n", argv[a], argv[a + 1], port);
				rc = 1;
			}
			a += 3;
			if (!rc)
				dd_fwd_reconcile_now(f);
		} else if (!strcmp(act, "role") && a + 1 < argc) {
			dd_fwd_set_cluster_role(f, argv[a], !strcmp(argv[a + 1], "active"));
			a += 2;
		} else if (!strcmp(act, "settle") && a < argc) {
			if (!run_until(loop, f, atof(argv[a++]), no_drains, NULL)) {
				fprintf(stderr, "dd-ipvs-apply: real servers still draining at the deadline\n");
				rc = 1;
			}
		} else if (!strcmp(act, "run") && a < argc) {
			run_until(loop, f, atof(argv[a++]), NULL, NULL);
		} else if (!strcmp(act, "wait-file") && a + 1 < argc) {
			const char *path = argv[a];
			if (!run_until(loop, f, atof(argv[a + 1]), file_exists, path)) {
				fprintf(stderr, "dd-ipvs-apply: %s did not appear\n", path);
				rc = 1;
			}
			a += 2;
		} else {
			rc = usage();
			break;
		}
		report(f, act, t0, s.ops);
	}
	dd_fwd_free(f);
	for (size_t i = 0; i < n_cfgs; i++)
		dd_config_free(cfgs[i]);
	ev_loop_destroy(loop);
	return rc;
}
