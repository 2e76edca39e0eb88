/* SPDX-License-Identifier: GPL-2.0-or-later */
/* bench/scrape/scrape_runner.c: the daemon's main loop without IPVS, for the
 * scrape benchmark (bench/scrape/run.sh). The host kernel has no IPVS and
 * directord refuses to start with services there, so this program runs
 * what the main loop runs minus the forwarding plane and the failover
 * engine: the real config loader, the health checker and the control side
 * (dd_ctlops_start: the control socket and the metrics listener, the same
 * handlers the daemon uses), all on its own default libev loop, the only
 * loop and thread it has.
 *
 * It measures the loop: how long each iteration kept the loop busy
 * (from the return of the poll to the next poll), printed as
 *   BUSY <CLOCK_MONOTONIC seconds at start> <ms>
 * for every iteration longer than -b ms (default 1), so that a scraper
 * that logs its requests' times on the same clock can tell how long its
 * request held the loop. SIGUSR1 prints the checkers' timer slip since the
 * previous SIGUSR1 ("STATS ...") and starts afresh; SIGTERM/SIGINT stop.
 *
 * It uses only the daemon's public entry points (conf/model.h,
 * health/health.h, directord/ctlops.h), so the same file builds against an
 * older tree for the before/after comparison.
 *
 *   scrape_runner [-b busy_ms] directord.conf
 */
#include "config.h"
#include "conf/model.h"
#include "directord/ctlops.h"
#include "health/health.h"
#include "lib/log.h"
#include "lib/util.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include <ev.h>

#include "../looptime.h"

extern void dd_heap_tune(void) __attribute__((weak));

struct runner {
	struct dd_config *cfg;
	struct dd_health *h;
	struct dd_fwdplane *fwd;   /* stays NULL: no IPVS here */
	struct dd_failover *fo;    /* stays NULL */
	unsigned reloads, reload_failures;
	struct looptime lt;
};

static int no_reload(void *daemon, char **why)
{
	*why = xstrdup("the benchmark runner does not reload");
	return -1;
}

static void sig_cb(struct ev_loop *loop, ev_signal *w, int revents)
{
	struct runner *r = w->data;
	if (w->signum != SIGUSR1) {
		ev_break(loop, EVBREAK_ALL);
		return;
	}
	struct dd_health_stats st;
	dd_health_get_stats(r->h, &st);
	printf("STATS t=%.6f probes=%zu started=%llu skipped=%llu slip_samples=%llu slip_p50_ms=%.1f "
	       "slip_p99_ms=%.1f slip_max_ms=%.1f\n", mono_now(), st.n_probes,
	       (unsigned long long)st.started, (unsigned long long)st.skipped,
	       (unsigned long long)st.slip_samples, st.slip_p50_ms, st.slip_p99_ms, st.slip_max_ms);
	fflush(stdout);
	dd_health_reset_stats(r->h);
}

int main(int argc, char **argv)
{
	struct runner r = { 0 };
	double threshold_s = 0.001;
	int opt;
	while ((opt = getopt(argc, argv, "b:")) != -1) {
		if (opt == 'b') {
			threshold_s = atof(optarg) / 1000;
		} else {
			fprintf(stderr, "usage: %s [-b busy_ms] directord.conf\n", argv[0]);
			return 2;
		}
	}
	if (optind != argc - 1) {
		fprintf(stderr, "usage: %s [-b busy_ms] directord.conf\n", argv[0]);
		return 2;
	}
	/* As the daemon does at start; weak, so that the runner still builds
	 * against a tree from before dd_heap_tune existed. */
	if (dd_heap_tune)
		dd_heap_tune();
	dlog_set_level(LOG_NOTICE);
	struct dd_conf_errors errs = { 0 };
	r.cfg = dd_config_load(argv[optind], &errs);
	for (size_t i = 0; i < errs.n; i++)
		fprintf(stderr, "%s:%d: %s\n", errs.v[i].file, errs.v[i].line, errs.v[i].msg);
	dd_conf_errors_free(&errs);
	if (!r.cfg)
		return 1;
	struct ev_loop *loop = ev_default_loop(EVFLAG_AUTO);
	r.h = dd_health_new(loop, r.cfg, NULL);
	struct dd_ctlops_src src = {
		.cfg = &r.cfg, .conf_path = argv[optind], .fwd = &r.fwd, .fo = &r.fo, .health = &r.h,
		.reloads = &r.reloads, .reload_failures = &r.reload_failures, .reload = no_reload, .daemon = &r,
	};
	char *err = NULL;
	struct dd_ctlops *ops = dd_ctlops_start(loop, &src, &err);
	if (!ops) {
		fprintf(stderr, "control socket: %s\n", err ? err : "?");
		return 1;
	}
	looptime_start(loop, &r.lt, threshold_s);
	ev_signal sigs[3];
	const int signums[] = { SIGUSR1, SIGTERM, SIGINT };
	for (int i = 0; i < 3; i++) {
		ev_signal_init(&sigs[i], sig_cb, signums[i]);
		sigs[i].data = &r;
		ev_signal_start(loop, &sigs[i]);
	}
	printf("READY\n");
	fflush(stdout);
	ev_run(loop, 0);
	dd_ctlops_stop(ops);
	dd_health_free(r.h);
	dd_config_free(r.cfg);
	ev_loop_destroy(loop);
	return 0;
}
