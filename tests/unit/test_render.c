/* SPDX-License-Identifier: GPL-2.0-or-later */
/* tests/unit/test_render.c: the render thread (directord/render.c). Jobs
 * come back in order, rendered from models that own their strings (the
 * lender's copy is gone before the render runs); dd_render_quiesce returns
 * only once no job is left; dd_render_free delivers every job still queued.
 * The test's own default loop stands for the daemon's main loop. */
#include "config.h"
#include "directord/render.h"
#include "lib/util.h"

#include <check.h>
#include "tests/unit/ck_run.h"
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <ev.h>

#define N 40

struct result {
	int order[N];
	int n;
	char text[N][64];
	atomic_int rendered;
	int slow_ms;
};

struct arg {
	struct result *res;
	int id;
};

static void fn(void *a, const struct dd_status *st, struct dd_buf *out)
{
	struct arg *x = a;
	if (x->res->slow_ms) {
		struct timespec ts = { 0, x->res->slow_ms * 1000000L };
		nanosleep(&ts, NULL); /* stands for a long render */
	}
	dd_buf_printf(out, "%d %s", x->id, st->roles ? st->roles[0].cluster : "-");
	atomic_fetch_add(&x->res->rendered, 1);
}

static void done(void *a, struct dd_buf *out)
{
	struct arg *x = a;
	struct result *r = x->res;
	r->order[r->n] = x->id;
	snprintf(r->text[r->n], sizeof r->text[0], "%s", out->p ? out->p : "");
	r->n++;
	free(x);
}

/* A model with one role count whose name the model must own. */
static void submit(struct dd_render *rd, struct result *res, int id)
{
	struct dd_config cfg = { 0 };
	char *lent = xstrdup("web");
	struct dd_st_role_count rc = { .cluster = lent, .changes = 1 };
	struct dd_status_src src = { .cfg = &cfg, .roles = &rc, .n_roles = 1 };
	struct dd_status st;
	dd_status_fill(&st, &src, NULL);
	memset(lent, 'X', 3); /* the lender reuses its memory at once */
	free(lent);
	struct arg *a = xcalloc(1, sizeof *a);
	a->res = res;
	a->id = id;
	dd_render_submit(rd, &st, fn, done, a);
}

static void on_deadline(struct ev_loop *loop, ev_timer *w, int revents)
{
	ev_break(loop, EVBREAK_ALL);
}

static void on_poll(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct result *r = w->data;
	if (r->n == N)
		ev_break(loop, EVBREAK_ALL);
}

START_TEST(jobs_come_back_in_order)
{
	struct ev_loop *loop = ev_default_loop(0);
	char *err = NULL;
	struct dd_render *rd = dd_render_new(loop, &err);
	ck_assert_msg(rd, "%s", err ? err : "?");
	struct result *res = xcalloc(1, sizeof *res);
	for (int i = 0; i < N; i++)
		submit(rd, res, i);
	ev_timer deadline, poll;
	ev_timer_init(&deadline, on_deadline, 10., 0.);
	ev_timer_start(loop, &deadline);
	ev_timer_init(&poll, on_poll, 0.001, 0.001);
	poll.data = res;
	ev_timer_start(loop, &poll);
	ev_run(loop, 0);
	ev_timer_stop(loop, &deadline);
	ev_timer_stop(loop, &poll);
	ck_assert_int_eq(res->n, N);
	for (int i = 0; i < N; i++) {
		char want[64];
		snprintf(want, sizeof want, "%d web", i);
		ck_assert_int_eq(res->order[i], i);
		ck_assert_str_eq(res->text[i], want);
	}
	struct dd_render_stats rs;
	dd_render_get_stats(rd, &rs);
	ck_assert_uint_eq(rs.jobs, N);
	dd_render_free(rd);
	free(res);
}
END_TEST

START_TEST(quiesce_waits_for_the_last_job)
{
	struct ev_loop *loop = ev_default_loop(0);
	struct dd_render *rd = dd_render_new(loop, NULL);
	ck_assert_ptr_nonnull(rd);
	struct result *res = xcalloc(1, sizeof *res);
	res->slow_ms = 20;
	for (int i = 0; i < 5; i++)
		submit(rd, res, i);
	dd_render_quiesce(rd);
	ck_assert_int_eq(atomic_load(&res->rendered), 5);
	ck_assert_int_eq(res->n, 0); /* delivered only on the loop */
	dd_render_free(rd);
	ck_assert_int_eq(res->n, 5);
	free(res);
}
END_TEST

START_TEST(free_delivers_what_is_queued)
{
	struct ev_loop *loop = ev_default_loop(0);
	struct dd_render *rd = dd_render_new(loop, NULL);
	struct result *res = xcalloc(1, sizeof *res);
	res->slow_ms = 5;
	for (int i = 0; i < 10; i++)
		submit(rd, res, i);
	dd_render_free(rd);
	ck_assert_int_eq(res->n, 10);
	for (int i = 0; i < 10; i++)
		ck_assert_int_eq(res->order[i], i);
	free(res);
}
END_TEST

START_TEST(keep_copies_and_repeats)
{
	struct dd_status st = { 0 };
	char buf[8] = "ok";
	const char *a = dd_status_keep(&st, buf);
	const char *b = dd_status_keep(&st, buf);
	ck_assert_ptr_eq(a, b); /* the same as the last: one copy */
	buf[0] = 'n';
	ck_assert_str_eq(a, "ok");
	char big[100000];
	memset(big, 'x', sizeof big - 1);
	big[sizeof big - 1] = '\0';
	const char *c = dd_status_keep(&st, big);
	ck_assert_uint_eq(strlen(c), sizeof big - 1);
	ck_assert_str_eq(a, "ok"); /* earlier copies do not move */
	ck_assert_ptr_null(dd_status_keep(&st, NULL));
	dd_status_free(&st);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("render");
	TCase *tc = tcase_create("render");
	tcase_set_timeout(tc, 30);
	tcase_add_test(tc, jobs_come_back_in_order);
	tcase_add_test(tc, quiesce_waits_for_the_last_job);
	tcase_add_test(tc, free_delivers_what_is_queued);
	tcase_add_test(tc, keep_copies_and_repeats);
	suite_add_tcase(s, tc);
	return dd_ck_run(s);
}
