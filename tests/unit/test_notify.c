/* SPDX-License-Identifier: GPL-2.0-or-later */
/* tests/unit/test_notify.c: the notify command runner on a private libev
 * loop: environment, exit status, and the timeout that kills the whole
 * process group. Real /bin/sh children, no stand-ins. */
#include "config.h"
#include "directord/notify.h"
#include "lib/util.h"

#include <check.h>
#include "tests/unit/ck_run.h"
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static char dir[64];

static void setup(void)
{
	strcpy(dir, "/tmp/test_notify.XXXXXX");
	ck_assert_ptr_nonnull(mkdtemp(dir));
}

static void teardown(void)
{
	char cmd[128];
	snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
	ck_assert_int_eq(system(cmd), 0);
}

/* Runs the loop until no command is left or the deadline passes. */
static void drain(struct ev_loop *loop, struct dd_notify *n, double secs)
{
	double end = mono_now() + secs;
	while (dd_notify_running(n) && mono_now() < end)
		ev_run(loop, EVRUN_ONCE | EVRUN_NOWAIT), usleep(1000);
}

START_TEST(env_is_passed)
{
	struct ev_loop *loop = ev_loop_new(EVFLAG_AUTO);
	struct dd_notify *n = dd_notify_new(loop);
	char cmd[256], path[128], buf[1024];
	char *err = NULL;
	snprintf(path, sizeof path, "%s/env", dir);
	snprintf(cmd, sizeof cmd, "env | grep ^DIRECTORD_ | sort > %s", path);
	setenv("DIRECTORD_ROLE", "stale-from-parent", 1);
	struct dd_notify_event ev = { .cluster = "web", .role = "active", .old_role = "standby",
				      .reason = "peer lb1 silent for 312 ms on 2/2 links", .why = "peer-silent",
				      .node = "lb2" };
	ck_assert_int_eq(dd_notify_run(n, cmd, NULL, 5000, &ev, &err), 0);
	ck_assert_uint_eq(dd_notify_running(n), 1);
	drain(loop, n, 10);
	ck_assert_uint_eq(dd_notify_running(n), 0);
	ck_assert_int_ge(read_small_file(path, buf, sizeof buf), 0);
	ck_assert_str_eq(buf, "DIRECTORD_CLUSTER=web\n"
			      "DIRECTORD_NODE=lb2\n"
			      "DIRECTORD_OLD_ROLE=standby\n"
			      "DIRECTORD_REASON=peer lb1 silent for 312 ms on 2/2 links\n"
			      "DIRECTORD_REASON_CODE=peer-silent\n"
			      "DIRECTORD_ROLE=active\n");
	unsetenv("DIRECTORD_ROLE");
	dd_notify_free(n);
	ev_loop_destroy(loop);
}
END_TEST

START_TEST(returns_at_once_and_timeout_kills_group)
{
	struct ev_loop *loop = ev_loop_new(EVFLAG_AUTO);
	struct dd_notify *n = dd_notify_new(loop);
	char cmd[256], path[128], buf[64];
	char *err = NULL;
	snprintf(path, sizeof path, "%s/grandchild", dir);
	/* The shell starts a grandchild that would outlive a plain kill of
	 * the shell; its pid is recorded so we can check it died too. */
	snprintf(cmd, sizeof cmd, "sleep 30 & echo $! > %s; wait", path);
	struct dd_notify_event ev = { .cluster = "web", .role = "active", .old_role = "standby",
				      .reason = "test", .node = "lb1" };
	double t0 = mono_now();
	ck_assert_int_eq(dd_notify_run(n, cmd, NULL, 300, &ev, &err), 0);
	ck_assert(mono_now() - t0 < 0.2); /* spawning does not wait for the command */
	drain(loop, n, 10);
	ck_assert_uint_eq(dd_notify_running(n), 0);
	ck_assert_int_gt(read_small_file(path, buf, sizeof buf), 0);
	pid_t gc = (pid_t)atoi(buf);
	ck_assert_int_gt(gc, 0);
	/* Killed with its group; it was reparented, so poll until it is gone. */
	double end = mono_now() + 5;
	while (kill(gc, 0) == 0 && mono_now() < end)
		usleep(5000);
	ck_assert_int_eq(kill(gc, 0), -1);
	ck_assert_int_eq(errno, ESRCH);
	dd_notify_free(n);
	ev_loop_destroy(loop);
}
END_TEST

START_TEST(free_kills_running)
{
	struct ev_loop *loop = ev_loop_new(EVFLAG_AUTO);
	struct dd_notify *n = dd_notify_new(loop);
	char *err = NULL;
	struct dd_notify_event ev = { .cluster = "web", .role = "fault", .old_role = "active",
				      .reason = "x", .node = "lb1" };
	ck_assert_int_eq(dd_notify_run(n, "sleep 30", NULL, 60000, &ev, &err), 0);
	ck_assert_int_eq(dd_notify_run(n, "exit 3", NULL, 60000, &ev, &err), 0);
	ck_assert_uint_eq(dd_notify_running(n), 2);
	double t0 = mono_now();
	dd_notify_free(n);
	ck_assert(mono_now() - t0 < 5);
	ev_loop_destroy(loop);
}
END_TEST

/* The daemon's loop is libev's default loop, whose SIGCHLD handler reaps
 * every child: the exit status must still reach the notify code, every
 * time (it used to be lost about one run in ten). */
START_TEST(status_survives_the_default_loop)
{
	struct ev_loop *loop = ev_default_loop(0);
	struct dd_notify *n = dd_notify_new(loop);
	char *err = NULL;
	struct dd_notify_event ev = { .cluster = "web", .role = "active", .old_role = "standby",
				      .reason = "x", .node = "lb1" };
	for (int i = 0; i < 20; i++)
		ck_assert_int_eq(dd_notify_run(n, i % 2 ? "exit 3" : "true", NULL, 10000, &ev, &err), 0);
	drain(loop, n, 20);
	struct dd_notify_stats st;
	dd_notify_get_stats(n, &st);
	ck_assert_uint_eq(st.failed, 10);
	ck_assert_uint_eq(st.succeeded, 10);
	ck_assert_uint_eq(st.timed_out, 0);
	dd_notify_free(n);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("notify");
	TCase *tc = tcase_create("core");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, env_is_passed);
	tcase_add_test(tc, returns_at_once_and_timeout_kills_group);
	tcase_add_test(tc, free_kills_running);
	tcase_add_test(tc, status_survives_the_default_loop);
	suite_add_tcase(s, tc);
	return dd_ck_run(s);
}
