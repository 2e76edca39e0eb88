/* SPDX-License-Identifier: GPL-2.0-or-later */
/* bench/snmp/snmp_runner.c: the daemon's main loop without IPVS, with the
 * SNMP subagent, for bench/snmp/run.sh. Like bench/scrape/scrape_runner.c
 * (whose loop measurement it shares): the real config loader and the
 * control side (dd_ctlops_start) on the default libev loop, plus the
 * AgentX subagent (dd_snmp_new, its own thread) fed from dd_ctlops_fill,
 * as directord/daemon.c wires it. No forwarding plane, no failover
 * engine: the host kernel has no IPVS, and the real-server rows come from
 * the config alone (state, weight from the config).
 *
 * Prints "BUSY <start s> <ms>" for every main-loop iteration longer than
 * -b ms (default 1), and at SIGTERM one line
 *   SNMP snapshots=N copy_us_total=N copy_us_max=N requests=N
 * with the subagent's own counts.
 *
 *   snmp_runner [-b busy_ms] directord.conf
 */
#include "config.h"
#include "conf/model.h"
#include "directord/ctlops.h"
#include "directord/status.h"
#include "lib/log.h"
#include "lib/util.h"
#include "snmp/snmp.h"

#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include <ev.h>

#include "../looptime.h"

struct runner {
	struct dd_config *cfg;
	struct dd_health *h;       /* NULL: the bench has no checks */
	struct dd_fwdplane *fwd;   /* NULL: no IPVS here */
	struct dd_failover *fo;    /* NULL */
	struct dd_snmp *snmp;
	struct dd_ctlops *ops;
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
	ev_break(loop, EVBREAK_ALL);
}

static void snapshot(void *ctx, struct dd_status *st)
{
	dd_ctlops_fill(((struct runner *)ctx)->ops, st);
}

static void release(void *ctx, struct dd_status *st)
{
	dd_status_free(st);
}

int main(int argc, char **argv)
{
	struct runner r = { 0 };
	double threshold_s = 0.001;
	int opt;
	while ((opt = getopt(argc, argv, "b:")) != -1) {
		if (opt != 'b') {
			fprintf(stderr, "usage: %s [-b busy_ms] directord.conf\n", argv[0]);
			return 2;
		}
		threshold_s = atof(optarg) / 1000;
	}
	if (optind != argc - 1) {
		fprintf(stderr, "usage: %s [-b busy_ms] directord.conf\n", argv[0]);
		return 2;
	}
	setvbuf(stdout, NULL, _IOLBF, 0);   /* run.sh reads BUSY lines as they come */
	dlog_set_level(LOG_NOTICE);
	struct dd_conf_errors errs = { 0 };
	r.cfg = dd_config_load(argv[optind], &errs);
	dd_conf_errors_print(&errs, stderr);
	dd_conf_errors_free(&errs);
	if (!r.cfg)
		return 1;
	struct ev_loop *loop = ev_default_loop(EVFLAG_AUTO);
	struct dd_ctlops_src src = {
		.cfg = &r.cfg, .conf_path = argv[optind], .fwd = &r.fwd, .fo = &r.fo, .health = &r.h,
		.snmp = &r.snmp, .reloads = &r.reloads, .reload_failures = &r.reload_failures,
		.reload = no_reload, .daemon = &r,
	};
	char *err = NULL;
	r.ops = dd_ctlops_start(loop, &src, &err);
	if (!r.ops) {
		fprintf(stderr, "control socket: %s\n", err ? err : "?");
		return 1;
	}
	struct dd_snmp_src ss = { .ctx = &r, .snapshot = snapshot, .release = release, .fo = &r.fo };
	r.snmp = dd_snmp_new(loop, r.cfg, &ss);
	looptime_start(loop, &r.lt, threshold_s);
	ev_signal sigs[2];
	const int signums[] = { SIGTERM, SIGINT };
	for (int i = 0; i < 2; i++) {
		ev_signal_init(&sigs[i], sig_cb, signums[i]);
		sigs[i].data = &r;
		ev_signal_start(loop, &sigs[i]);
	}
	printf("READY\n");
	fflush(stdout);
	ev_run(loop, 0);
	struct dd_snmp_state st;
	dd_snmp_get_state(r.snmp, &st);
	printf("SNMP snapshots=%" PRIu64 " copy_us_total=%" PRIu64 " copy_us_max=%" PRIu64 " requests=%" PRIu64 "\n",
	       st.snapshots, st.copy_us_total, st.copy_us_max, st.requests);
	dd_snmp_free(r.snmp);
	dd_ctlops_stop(r.ops);
	dd_config_free(r.cfg);
	ev_loop_destroy(loop);
	return 0;
}
