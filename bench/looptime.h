/* SPDX-License-Identifier: GPL-2.0-or-later */
/* bench/looptime.h: how long each iteration of a benchmark runner's libev
 * loop kept it busy, from the return of the poll to the next poll, printed
 * as "BUSY <CLOCK_MONOTONIC s at start> <ms>" for every iteration of at
 * least threshold_s. Shared by bench/scrape/scrape_runner.c and
 * bench/snmp/snmp_runner.c; header-only and included by a relative path,
 * so that a runner still builds against an older tree's libraries. Runs
 * on the loop it is started on. */
#ifndef DD_BENCH_LOOPTIME_H
#define DD_BENCH_LOOPTIME_H

#include <stdio.h>
#include <time.h>

#include <ev.h>

struct looptime {
	double busy_from;       /* the loop woke up at; 0: polling */
	double threshold_s;
	ev_prepare prep;
	ev_check chk;
};

static inline double looptime_now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* The iteration ends where the next poll starts. */
static void looptime_prepare(struct ev_loop *loop, ev_prepare *w, int revents)
{
	struct looptime *t = w->data;
	if (t->busy_from == 0)
		return;
	double busy = looptime_now() - t->busy_from;
	if (busy >= t->threshold_s)
		printf("BUSY %.6f %.3f\n", t->busy_from, busy * 1000);
	t->busy_from = 0;
}

static void looptime_check(struct ev_loop *loop, ev_check *w, int revents)
{
	((struct looptime *)w->data)->busy_from = looptime_now();
}

static inline void looptime_start(struct ev_loop *loop, struct looptime *t, double threshold_s)
{
	t->busy_from = 0;
	t->threshold_s = threshold_s;
	ev_prepare_init(&t->prep, looptime_prepare);
	t->prep.data = t;
	ev_prepare_start(loop, &t->prep);
	ev_check_init(&t->chk, looptime_check);
	/* First of the iteration: libev queues check watchers with the
	 * iteration's other callbacks, and those must fall inside the time. */
	ev_set_priority(&t->chk, EV_MAXPRI);
	t->chk.data = t;
	ev_check_start(loop, &t->chk);
}

#endif
