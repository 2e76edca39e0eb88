/* SPDX-License-Identifier: GPL-2.0-or-later */
/* tests/unit/test_spawn.c: how lib/spawn.c starts notify commands and exec
 * checks: as the script user with its gid as the only group, with PATH and
 * the given variables as the whole environment, and never a script that
 * another user can change (the file, a directory above it, a symlink's
 * directory); and that an exec check's probe passes the loader's script
 * user through. Real /bin/sh and setpriv children; runs as root (it chowns
 * files to nobody). Single-threaded: the spawner cases wait for each child
 * with waitpid, the probe cases run a private libev loop to a deadline. */
#include "config.h"
#include "health/probe.h"
#include "lib/spawn.h"
#include "lib/util.h"

#include <check.h>
#include "tests/unit/ck_run.h"
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#define NOBODY 65534

static char dir[64];

static void setup(void)
{
	strcpy(dir, "/tmp/test_spawn.XXXXXX");
	ck_assert_ptr_nonnull(mkdtemp(dir));
}

static void teardown(void)
{
	char cmd[128];
	snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
	ck_assert_int_eq(system(cmd), 0);
}

static void put(const char *path, const char *text, mode_t mode)
{
	FILE *f = fopen(path, "w");
	ck_assert_ptr_nonnull(f);
	fputs(text, f);
	fclose(f);
	ck_assert_int_eq(chmod(path, mode), 0);
}

/* Runs `cmd` as `as` and returns its exit status. */
static int run(const char *cmd, const struct dd_run_as *as, char *const env[])
{
	pid_t pid;
	char *err = NULL;
	ck_assert_msg(dd_spawn_script(cmd, as, env, true, &pid, &err) == 0, "%s", err);
	int st;
	while (waitpid(pid, &st, 0) < 0)
		ck_assert_int_eq(errno, EINTR);
	return st;
}

/* What a command saw: its ids, and the environment it was started with
 * (the shell's own /proc environ, before sh adds PWD). */
#define REPORT "{ id -u; id -g; id -G; grep -E '^(Uid|Gid):' /proc/self/status; " \
	       "tr '\\0' '\\n' < /proc/$$/environ | sort; } > %s"

static char *report(const struct dd_run_as *as, char *const env[])
{
	char out[128], cmd[512];
	snprintf(out, sizeof out, "%s/out", dir);
	snprintf(cmd, sizeof cmd, REPORT, out);
	unlink(out);
	int st = run(cmd, as, env);
	ck_assert_msg(WIFEXITED(st) && WEXITSTATUS(st) == 0, "status %d", st);
	static char buf[4096];
	ck_assert_int_ge(read_small_file(out, buf, sizeof buf), 0);
	return buf;
}

START_TEST(runs_as_script_user_with_clean_env)
{
	ck_assert_int_eq(geteuid(), 0);
	/* nobody must be able to write the report */
	ck_assert_int_eq(chown(dir, NOBODY, NOBODY), 0);
	setenv("SECRET_TOKEN", "from-the-daemon", 1);
	setenv("DIRECTORD_ROLE", "stale", 1);
	char *env[] = { (char *)"DIRECTORD_ROLE=active", (char *)"DD_RS_PORT=80", NULL };
	struct dd_run_as nobody = { NOBODY, NOBODY };
	ck_assert_str_eq(report(&nobody, env),
			 "65534\n65534\n65534\n"
			 "Uid:\t65534\t65534\t65534\t65534\n"
			 "Gid:\t65534\t65534\t65534\t65534\n"
			 "DD_RS_PORT=80\n"
			 "DIRECTORD_ROLE=active\n"
			 "PATH=/usr/sbin:/usr/bin:/sbin:/bin\n");
	/* root only when asked for, and still with the clean environment */
	struct dd_run_as root = { 0, 0 };
	ck_assert_str_eq(report(&root, NULL),
			 "0\n0\n0\n"
			 "Uid:\t0\t0\t0\t0\n"
			 "Gid:\t0\t0\t0\t0\n"
			 "PATH=/usr/sbin:/usr/bin:/sbin:/bin\n");
	unsetenv("SECRET_TOKEN");
	unsetenv("DIRECTORD_ROLE");
}
END_TEST

static void expect_refused(const char *cmd, uint32_t uid, const char *msg)
{
	char *err = NULL;
	ck_assert_msg(dd_script_check(cmd, uid, &err) == -1, "%s passed", cmd);
	ck_assert_msg(strcmp(err, msg) == 0, "want: %s\ngot:  %s", msg, err);
	free(err);
	/* and the spawner does not start it */
	pid_t pid = 0;
	struct dd_run_as as = { uid, uid };
	ck_assert_int_eq(dd_spawn_script(cmd, &as, NULL, true, &pid, &err), -1);
	ck_assert_int_eq(pid, 0);
	ck_assert_str_eq(err, msg);
	free(err);
}

static void expect_ok(const char *cmd, uint32_t uid)
{
	char *err = NULL;
	ck_assert_msg(dd_script_check(cmd, uid, &err) == 0, "%s: %s", cmd, err);
}

START_TEST(writable_scripts_refused)
{
	char p[128], d[128], q[128], m[1024];
	snprintf(p, sizeof p, "%s/ok.sh", dir);
	put(p, "#!/bin/sh\nexit 0\n", 0755);
	expect_ok(p, NOBODY);
	snprintf(m, sizeof m, "%s -v --flag", p);
	expect_ok(m, NOBODY);
	snprintf(m, sizeof m, "  \"%s\" arg", p);
	expect_ok(m, NOBODY);
	/* builtins, PATH names, missing files, expansions: the shell's business */
	expect_ok("exit 3", NOBODY);
	expect_ok("true && false", NOBODY);
	expect_ok("/nonexistent/script.sh", NOBODY);
	expect_ok("$HOME/x.sh", NOBODY);

	/* the file itself */
	chmod(p, 0775);
	snprintf(m, sizeof m, "script %s refused: %s is writable by group or others (mode 0775)", p, p);
	expect_refused(p, NOBODY, m);
	chmod(p, 0757);
	snprintf(m, sizeof m, "script %s refused: %s is writable by group or others (mode 0757)", p, p);
	expect_refused(p, NOBODY, m);
	chmod(p, 0755);
	ck_assert_int_eq(chown(p, 1234, 1234), 0);
	snprintf(m, sizeof m, "script %s refused: %s belongs to uid 1234, not root or the script user (uid 65534)", p, p);
	expect_refused(p, NOBODY, m);
	/* the script user's own file is fine: it runs as that user anyway */
	ck_assert_int_eq(chown(p, NOBODY, NOBODY), 0);
	expect_ok(p, NOBODY);
	snprintf(m, sizeof m, "script %s refused: %s belongs to uid 65534, not root or the script user (uid 0)", p, p);
	expect_refused(p, 0, m);
	ck_assert_int_eq(chown(p, 0, 0), 0);

	/* a directory above it */
	snprintf(d, sizeof d, "%s/sub", dir);
	ck_assert_int_eq(mkdir(d, 0755), 0);
	snprintf(q, sizeof q, "%s/sub/check.sh", dir);
	put(q, "#!/bin/sh\nexit 0\n", 0700);
	expect_ok(q, NOBODY);
	chmod(d, 0777);
	snprintf(m, sizeof m, "script %s refused: %s is writable by group or others (mode 0777)", q, d);
	expect_refused(q, NOBODY, m);
	/* sticky, like /tmp: others cannot replace what is ours */
	chmod(d, 01777);
	expect_ok(q, NOBODY);
	chmod(d, 0755);
	ck_assert_int_eq(chown(dir, 1234, 0), 0);
	snprintf(m, sizeof m, "script %s refused: %s belongs to uid 1234, not root or the script user (uid 65534)", q, dir);
	expect_refused(q, NOBODY, m);
	ck_assert_int_eq(chown(dir, 0, 0), 0);

	/* a good script through a symlink in a directory others can write */
	char w[128], l[128];
	snprintf(w, sizeof w, "%s/open", dir);
	ck_assert_int_eq(mkdir(w, 0777), 0);
	chmod(w, 0777);
	snprintf(l, sizeof l, "%s/open/link.sh", dir);
	ck_assert_int_eq(symlink(q, l), 0);
	snprintf(m, sizeof m, "script %s refused: %s is writable by group or others (mode 0777)", l, w);
	expect_refused(l, NOBODY, m);
	/* and a symlink in a safe place to a script in an unsafe one */
	snprintf(p, sizeof p, "%s/open/bad.sh", dir);
	put(p, "#!/bin/sh\nexit 0\n", 0755);
	snprintf(l, sizeof l, "%s/bad-link.sh", dir);
	ck_assert_int_eq(symlink(p, l), 0);
	snprintf(m, sizeof m, "script %s refused: %s is writable by group or others (mode 0777)", l, w);
	expect_refused(l, NOBODY, m);
}
END_TEST

/* ---- exec checks: health/probe.c spawns as the check's script user ---- */

struct probed {
	struct dd_probe p;      /* first: done() gets its address */
	bool done, ok;
	char reason[DD_PROBE_REASON_MAX];
};

static void probe_done(struct dd_probe *p, bool ok, const char *reason)
{
	struct probed *r = (struct probed *)p;
	r->done = true;
	r->ok = ok;
	snprintf(r->reason, sizeof r->reason, "%s", reason);
}

static void probe_once(const char *command, uint32_t uid, struct probed *r)
{
	struct ev_loop *loop = ev_loop_new(EVFLAG_AUTO);
	struct dd_probe_ctx ctx;
	dd_probe_ctx_init(&ctx, loop);
	struct dd_check chk = { .type = DD_CHECK_EXEC, .interval_ms = 2000, .timeout_ms = 5000,
				.rise = 1, .fall = 1, .command = (char *)command,
				.script_uid = uid, .script_gid = uid };
	memset(r, 0, sizeof *r);
	r->p.ctx = &ctx;
	r->p.chk = &chk;
	ck_assert(dd_addr_parse("198.51.100.21", &r->p.addr));
	r->p.port = 80;
	r->p.done = probe_done;
	dd_probe_start(&r->p);
	double end = mono_now() + 10;
	while (!r->done && mono_now() < end)
		ev_run(loop, EVRUN_ONCE);
	ck_assert_msg(r->done, "probe did not finish");
	dd_probe_cleanup(&r->p);
	dd_probe_ctx_cleanup(&ctx);
	ev_loop_destroy(loop);
}

/* keepalived's notify arguments: appended to a simple command, after its
 * own words, even ones that look like shell; a command line with shell
 * syntax gets them as $1.. only, never as text the shell parses. */
START_TEST(arguments_appended_to_simple_commands)
{
	char script[128], out[128], cmd[512], buf[1024];
	snprintf(script, sizeof script, "%s/args.sh", dir);
	snprintf(out, sizeof out, "%s/out", dir);
	snprintf(cmd, sizeof cmd, "#!/bin/sh\nl=\"$#\"\nfor a in \"$@\"; do l=\"$l|$a\"; done\necho \"$l\" >> %s\n", out);
	put(script, cmd, 0755);
	const char *args[] = { "INSTANCE", "web", "MASTER", "$(touch /tmp/x)", NULL };
	struct { const char *tail; bool simple; } cases[] = {
		{ "", true }, { " 'one word' two", true }, { "; true", false },
	};
	for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
		snprintf(cmd, sizeof cmd, "%s%s", script, cases[i].tail);
		ck_assert_int_eq(dd_command_is_simple(cmd), cases[i].simple);
		pid_t pid;
		char *err = NULL;
		ck_assert_msg(dd_spawn_script_args(cmd, args, NULL, NULL, true, &pid, &err) == 0, "%s", err);
		int st;
		while (waitpid(pid, &st, 0) < 0)
			ck_assert_int_eq(errno, EINTR);
		ck_assert(WIFEXITED(st) && WEXITSTATUS(st) == 0);
	}
	ck_assert_int_ge(read_small_file(out, buf, sizeof buf), 0);
	ck_assert_str_eq(buf, "4|INSTANCE|web|MASTER|$(touch /tmp/x)\n"
			      "6|one word|two|INSTANCE|web|MASTER|$(touch /tmp/x)\n"
			      "0\n");
	ck_assert(!dd_command_is_simple("echo $1 > /tmp/f"));
	ck_assert(!dd_command_is_simple("a && b"));
	ck_assert(!dd_command_is_simple("a\nb"));
}
END_TEST

START_TEST(exec_check_runs_as_script_user)
{
	ck_assert_int_eq(chown(dir, NOBODY, NOBODY), 0);
	char out[128], cmd[512], buf[256];
	snprintf(out, sizeof out, "%s/probe", dir);
	snprintf(cmd, sizeof cmd, "{ id -u; echo \"$DD_RS_ADDR:$DD_RS_PORT\"; } > %s", out);
	struct probed r;
	probe_once(cmd, NOBODY, &r);
	ck_assert_msg(r.ok, "%s", r.reason);
	ck_assert_int_ge(read_small_file(out, buf, sizeof buf), 0);
	ck_assert_str_eq(buf, "65534\n198.51.100.21:80\n");
	/* a script others can change: the check fails, saying why */
	char sh[48];
	snprintf(sh, sizeof sh, "%.32s/check.sh", dir);
	put(sh, "#!/bin/sh\nexit 0\n", 0777);
	ck_assert_int_eq(chown(sh, 0, 0), 0);
	probe_once(sh, NOBODY, &r);
	ck_assert(!r.ok);
	char want[DD_PROBE_REASON_MAX];
	snprintf(want, sizeof want, "script %s refused: %s is writable by group or others (mode 0777)",
		 sh, sh);
	ck_assert_str_eq(r.reason, want);
	chmod(sh, 0755);
	probe_once(sh, NOBODY, &r);
	ck_assert_msg(r.ok, "%s", r.reason);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("spawn");
	TCase *tc = tcase_create("core");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, runs_as_script_user_with_clean_env);
	tcase_add_test(tc, writable_scripts_refused);
	tcase_add_test(tc, exec_check_runs_as_script_user);
	tcase_add_test(tc, arguments_appended_to_simple_commands);
	suite_add_tcase(s, tc);
	return dd_ck_run(s);
}
