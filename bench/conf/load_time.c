/* SPDX-License-Identifier: GPL-2.0-or-later */
/* bench/conf/load_time.c: how long dd_config_load() takes on a file, the
 * call a reload makes on the main loop (so its time is how long the loop
 * is blocked). Best of N runs, wall clock. Built by bench/conf/run.sh
 * against a build tree; single-threaded. */
#include "config.h"
#include "conf/model.h"
#include "lib/util.h"

#include <stdio.h>
#include <stdlib.h>

int main(int argc, char **argv)
{
	if (argc < 2) {
		fprintf(stderr, "usage: load_time FILE [RUNS]\n");
		return 2;
	}
	int runs = argc > 2 ? atoi(argv[2]) : 3;
	double best = 1e9;
	for (int i = 0; i < runs; i++) {
		struct dd_conf_errors e = { 0 };
		double t0 = mono_now();
		struct dd_config *c = dd_config_load(argv[1], &e);
		double t = mono_now() - t0;
		if (!c) {
			dd_conf_errors_print(&e, stderr);
			return 1;
		}
		dd_config_free(c);
		dd_conf_errors_free(&e);
		if (t < best)
			best = t;
	}
	printf("%s: dd_config_load best of %d: %.3f s\n", argv[1], runs, best);
	return 0;
}
