/* SPDX-License-Identifier: GPL-2.0-or-later */
/* bench/scrape/get_pass.c: one pass of dd_health_get over every real
 * server, for 1,000, 5,000 and 10,000 servers in one service: the lookup
 * a status request or a scrape used to make per server. Builds against any
 * tree (it uses only health/health.h and conf/model.h), so the figures of
 * an older build and of this one come from the same program:
 *   gcc -O2 -std=gnu11 -I$SRC -I$BUILD bench/scrape/get_pass.c $BUILD/lib*.a ... (see README.md)
 * No checks run: its libev loop (the default one, its only loop) is never
 * started, so the probes stay armed and the network is not touched. */
#include "config.h"
#include "conf/model.h"
#include "health/health.h"
#include "lib/log.h"
#include "lib/util.h"
#include <arpa/inet.h>
#include <ev.h>
#include <stdio.h>
#include <stdlib.h>
int main(void)
{
	dlog_set_level(LOG_WARNING);
	int ns[] = { 1000, 5000, 10000 };
	struct ev_loop *loop = ev_default_loop(0);
	for (int k = 0; k < 3; k++) {
		int n = ns[k];
		struct dd_config cfg = {0};
		struct dd_cluster cl = {0};
		struct dd_service svc = {0};
		cfg.clusters = &cl; cfg.n_clusters = 1;
		cl.services = &svc; cl.n_services = 1;
		snprintf(svc.name, sizeof svc.name, "bench");
		svc.rs = calloc(n, sizeof *svc.rs); svc.n_rs = n;
		for (int i = 0; i < n; i++) {
			dd_addr_parse("198.51.100.101", &svc.rs[i].addr);
			svc.rs[i].addr.u.v4.s_addr = htonl(ntohl(svc.rs[i].addr.u.v4.s_addr) + i / 250);
			svc.rs[i].port = 20000 + i % 250;
			svc.rs[i].check = (struct dd_check){ .type = DD_CHECK_TCP, .interval_ms = 1000, .timeout_ms = 900, .rise = 1, .fall = 3 };
		}
		struct dd_health *h = dd_health_new(loop, &cfg, NULL);
		double best = 1e9;
		for (int round = 0; round < 3; round++) {
			double t0 = mono_now();
			int found = 0;
			for (int i = 0; i < n; i++) {
				struct dd_health_rs_status st;
				found += dd_health_get(h, "bench", &svc.rs[i].addr, svc.rs[i].port, &st);
			}
			double t = (mono_now() - t0) * 1000;
			if (t < best) best = t;
			if (found != n) printf("found %d of %d!\n", found, n);
		}
		printf("%d servers: one dd_health_get pass %.2f ms (best of 3)\n", n, best);
		dd_health_free(h);
		free(svc.rs);
	}
	return 0;
}
