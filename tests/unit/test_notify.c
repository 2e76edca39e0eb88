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
	ck_assert_int_eq(dd_notify_run(n, cmd, NULL, NULL, 5000, &ev, &err), 0);
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
	ck_assert_int_eq(dd_notify_run(n, cmd, NULL, NULL, 300, &ev, &err), 0);
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
	ck_assert_int_eq(dd_notify_run(n, "sleep 30", NULL, NULL, 60000, &ev, &err), 0);
	ck_assert_int_eq(dd_notify_run(n, "exit 3", NULL, NULL, 60000, &ev, &err), 0);
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
		ck_assert_int_eq(dd_notify_run(n, i % 2 ? "exit 3" : "true", NULL, NULL, 10000, &ev, &err), 0);
	drain(loop, n, 20);
	struct dd_notify_stats st;
	dd_notify_get_stats(n, &st);
	ck_assert_uint_eq(st.failed, 10);
	ck_assert_uint_eq(st.succeeded, 10);
	ck_assert_uint_eq(st.timed_out, 0);
	dd_notify_free(n);
}
END_TEST

/* A recording script: one line per run, "$@" joined by '|', then the
 * variables it is asked for. */
static void write_recorder(char *path, size_t len)
{
	snprintf(path, len, "%s/rec", dir);
	FILE *f = fopen(path, "w");
	ck_assert_ptr_nonnull(f);
	/* One write per run: runs may be concurrent. */
	fprintf(f, "#!/bin/sh\nl=\"$#\"\nfor a in \"$@\"; do l=\"$l|$a\"; done\n"
		   "echo \"$l $DIRECTORD_CLUSTER$DIRECTORD_SERVICE/$DIRECTORD_ROLE$DIRECTORD_STATE/$DIRECTORD_REAL_SERVER/$DIRECTORD_UP/$DIRECTORD_TOTAL/$DIRECTORD_REASON\" >> %s/out\n",
		dir);
	fclose(f);
	ck_assert_int_eq(chmod(path, 0755), 0);
}

static struct dd_config *load(const char *text)
{
	struct dd_conf_errors e = { 0 };
	struct dd_config *c = dd_config_load_string(text, "/tmp/t.conf", &e);
	if (!c) {
		dd_conf_errors_print(&e, stderr);
		ck_abort_msg("config did not load");
	}
	return c;
}

/* keepalived's notify arguments ($1 INSTANCE|GROUP, $2 name, $3 state, $4
 * priority) follow the command's own words; notify_<state> gets none; a
 * cluster without commands of its own runs logging.notify with them. */
START_TEST(keepalived_arguments)
{
	struct ev_loop *loop = ev_loop_new(EVFLAG_AUTO);
	struct dd_notify *n = dd_notify_new(loop);
	char rec[128], text[2048], out[128], buf[2048];
	write_recorder(rec, sizeof rec);
	snprintf(out, sizeof out, "%s/out", dir);
	snprintf(text, sizeof text,
		 "scripts = { user = \"root\"; };\n"
		 "logging = { notify = \"%s\"; };\n"
		 "clusters = ( { name = \"web\"; notify = \"%s extra words\"; notify_active = \"%s\"; },\n"
		 "  { name = \"db\"; notify = \"%s\"; notify_type = \"group\"; },\n"
		 "  { name = \"plain\"; },\n"
		 "  { name = \"sh\"; notify = \"echo \\\"$# $4 $3\\\" >> %s/out\"; } );\n", rec, rec, rec, rec, dir);
	struct dd_config *cfg = load(text);
	struct dd_role_change rc = { .cluster = "web", .old_role = DD_ROLE_STANDBY,
				     .new_role = DD_ROLE_ACTIVE, .why = DD_WHY_PEER_SILENT,
				     .reason = "peer silent", .priority = 150 };
	dd_notify_role_change(n, cfg, &rc);
	drain(loop, n, 10);
	rc.new_role = DD_ROLE_FAULT;
	rc.why = DD_WHY_TRACK_SCRIPT;
	dd_notify_role_change(n, cfg, &rc);
	drain(loop, n, 10);
	snprintf(rc.cluster, sizeof rc.cluster, "db");
	rc.new_role = DD_ROLE_STANDBY;
	dd_notify_role_change(n, cfg, &rc);
	drain(loop, n, 10);
	snprintf(rc.cluster, sizeof rc.cluster, "plain");
	rc.new_role = DD_ROLE_STOPPED;
	rc.priority = 90;
	dd_notify_role_change(n, cfg, &rc);
	drain(loop, n, 10);
	/* Shell syntax: the arguments are $1..$4, not appended. */
	snprintf(rc.cluster, sizeof rc.cluster, "sh");
	dd_notify_role_change(n, cfg, &rc);
	drain(loop, n, 10);
	ck_assert_int_ge(read_small_file(out, buf, sizeof buf), 0);
	/* The specific command runs first; the order of two concurrent runs
	 * is not fixed, so the web/active pair is compared as a set. */
	const char *a1 = "0 web/active////peer silent\n";
	const char *a2 = "6|extra|words|INSTANCE|web|MASTER|150 web/active////peer silent\n";
	size_t l1 = strlen(a1), l2 = strlen(a2);
	ck_assert_msg((strncmp(buf, a1, l1) == 0 && strncmp(buf + l1, a2, l2) == 0) ||
		      (strncmp(buf, a2, l2) == 0 && strncmp(buf + l2, a1, l1) == 0), "got:\n%s", buf);
	ck_assert_str_eq(buf + l1 + l2,
			 "6|extra|words|INSTANCE|web|FAULT|150 web/fault////peer silent\n"
			 "4|GROUP|db|BACKUP|0 db/standby////peer silent\n"
			 "4|INSTANCE|plain|STOP|90 plain/stopped////peer silent\n"
			 "4 90 STOP\n");
	dd_config_free(cfg);
	dd_notify_free(n);
	ev_loop_destroy(loop);
}
END_TEST

/* notify_up / notify_down: the real server's own, else its service's. */
START_TEST(real_server_notify)
{
	struct ev_loop *loop = ev_loop_new(EVFLAG_AUTO);
	struct dd_notify *n = dd_notify_new(loop);
	char rec[128], text[2048], out[128], buf[2048];
	write_recorder(rec, sizeof rec);
	snprintf(out, sizeof out, "%s/out", dir);
	snprintf(text, sizeof text,
		 "scripts = { user = \"root\"; };\n"
		 "clusters = ( { name = \"web\"; services = ( { name = \"www\"; protocol = \"tcp\";\n"
		 "  address = \"203.0.113.10\"; port = 80; notify_up = \"%s up\"; notify_down = \"%s down\";\n"
		 "  real_servers = ( { address = \"198.51.100.21\"; },\n"
		 "    { address = \"198.51.100.22\"; notify_down = \"\"; } ); } ); } );\n", rec, rec);
	struct dd_config *cfg = load(text);
	const struct dd_service *svc = &cfg->clusters[0].services[0];
	struct dd_notify_rs_event ev = { .svc = svc, .rs = &svc->rs[0], .up = false,
					 .reason = "connect timeout after 500 ms", .n_up = 1, .n_total = 2 };
	dd_notify_rs_change(n, cfg, &ev);
	drain(loop, n, 10);
	ev.rs = &svc->rs[1];
	dd_notify_rs_change(n, cfg, &ev);       /* "": none */
	ev.up = true;
	ev.reason = "ok";
	ev.n_up = 2;
	dd_notify_rs_change(n, cfg, &ev);
	drain(loop, n, 10);
	ck_assert_int_ge(read_small_file(out, buf, sizeof buf), 0);
	ck_assert_str_eq(buf, "1|down www/down/198.51.100.21:80/1/2/connect timeout after 500 ms\n"
			      "1|up www/up/198.51.100.22:80/2/2/ok\n");
	dd_config_free(cfg);
	dd_notify_free(n);
	ev_loop_destroy(loop);
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
	tcase_add_test(tc, keepalived_arguments);
	tcase_add_test(tc, real_server_notify);
	suite_add_tcase(s, tc);
	return dd_ck_run(s);
}
