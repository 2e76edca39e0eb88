/* SPDX-License-Identifier: GPL-2.0-or-later */
/* lib/spawn.c: shell commands for notify and exec checks, run as the
 * script user with a clean environment, and watching them until they
 * exit. Runs in the caller's loop (the daemon's main loop).
 *
 * posix_spawn rather than fork: the daemon has threads, and a forked child
 * must not run their code (locks held by another thread) between fork and
 * exec. posix_spawn has no attribute for the uid and groups, so a command
 * that runs as another user is started through util-linux's setpriv(1)
 * (Essential on Debian), which exists to do exactly setgroups, setresgid
 * and setresuid and then exec. The alternatives were worse: fork + setuid
 * copies a large process for every exec check and, in a threaded
 * process, glibc's setuid() signals every thread of the parent image;
 * vfork with raw syscalls is what posix_spawn already does, rewritten by
 * hand and fragile under ASan. setpriv costs one more exec per command,
 * about 1.3 ms (bench/RESULTS.md). */
#include "config.h"
#include "lib/spawn.h"
#include "lib/util.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#ifndef DD_SETPRIV
#define DD_SETPRIV "/usr/bin/setpriv"
#endif

/* The first word of a shell command, if it can name a file: unquoted
 * or in one pair of quotes, without expansions or assignments. */
static bool first_word(const char *cmd, char *out, size_t sz)
{
	cmd += strspn(cmd, " \t");
	size_t n;
	if (*cmd == '"' || *cmd == '\'') {
		const char *end = strchr(cmd + 1, *cmd);
		if (!end)
			return false;
		n = (size_t)(end - cmd - 1);
		cmd++;
	} else {
		n = strcspn(cmd, " \t\n;&|<>()");
	}
	if (n == 0 || n >= sz)
		return false;
	memcpy(out, cmd, n);
	out[n] = '\0';
	/* "$X/bin/y", "~/y", "V=1 y", globs: the shell decides, not us. */
	return !strpbrk(out, "$`\\*?[~=");
}

static int refused(char **err, const char *script, const char *what, const struct stat *st,
		   uint32_t uid)
{
	if (st->st_uid != 0 && st->st_uid != uid)
		dd_seterr(err, "script %s refused: %s belongs to uid %u, not root or the script user (uid %u)",
			  script, what, (unsigned)st->st_uid, (unsigned)uid);
	else
		dd_seterr(err, "script %s refused: %s is writable by group or others (mode %04o)",
			  script, what, (unsigned)(st->st_mode & 07777));
	return -1;
}

/* `real` (a resolved path: the script, or with `dir` a directory) and
 * every directory above it. */
static int check_chain(const char *script, const char *real, bool dir, uint32_t uid, char **err)
{
	char p[PATH_MAX];
	snprintf(p, sizeof p, "%s", real);
	bool leaf = !dir;
	for (;;) {
		struct stat st;
		if (lstat(p, &st) < 0) {
			dd_seterr(err, "script %s refused: %s: %s", script, p, strerror(errno));
			return -1;
		}
		if (leaf && !S_ISREG(st.st_mode)) {
			dd_seterr(err, "script %s refused: %s is not a regular file", script, p);
			return -1;
		}
		bool shared_ok = !leaf && S_ISDIR(st.st_mode) && (st.st_mode & S_ISVTX);
		if ((st.st_uid != 0 && st.st_uid != uid) || ((st.st_mode & 022) && !shared_ok))
			return refused(err, script, p, &st, uid);
		if (strcmp(p, "/") == 0)
			return 0;
		char *slash = strrchr(p, '/');
		if (slash == p)
			slash[1] = '\0';
		else
			*slash = '\0';
		leaf = false;
	}
}

int dd_script_check(const char *command, uint32_t uid, char **err)
{
	char word[PATH_MAX], path[PATH_MAX], real[PATH_MAX];
	if (!command || !first_word(command, word, sizeof word))
		return 0;
	if (strchr(word, '/')) {
		snprintf(path, sizeof path, "%s", word);
	} else {
		/* The shell searches the same PATH the command gets. */
		bool found = false;
		for (const char *d = DD_SCRIPT_PATH; *d && !found;) {
			size_t n = strcspn(d, ":");
			int w = snprintf(path, sizeof path, "%.*s/%.*s", (int)n, d,
					 (int)(sizeof path - n - 2), word);
			found = w > 0 && (size_t)w < sizeof path && access(path, F_OK) == 0;
			d += n + (d[n] == ':');
		}
		if (!found)
			return 0;
	}
	if (!realpath(path, real)) {
		if (errno == ENOENT)
			return 0;       /* not there yet: the shell will say so */
		dd_seterr(err, "script %s refused: %s", word, strerror(errno));
		return -1;
	}
	if (check_chain(word, real, false, uid, err) < 0)
		return -1;
	/* A symlink on the way can be replaced by whoever writes the
	 * directory that holds it. */
	size_t len = strlen(path);
	for (size_t i = 1; i <= len; i++) {
		if (path[i] != '/' && path[i] != '\0')
			continue;
		char pre[PATH_MAX], dreal[PATH_MAX];
		memcpy(pre, path, i);
		pre[i] = '\0';
		struct stat st;
		if (lstat(pre, &st) < 0 || !S_ISLNK(st.st_mode))
			continue;
		char *slash = strrchr(pre, '/');
		const char *dir = !slash ? "." : slash == pre ? "/" : (*slash = '\0', pre);
		if (realpath(dir, dreal) && check_chain(word, dreal, true, uid, err) < 0)
			return -1;
	}
	return 0;
}

bool dd_command_is_simple(const char *command)
{
	return !strpbrk(command, ";&|<>()`$#\n*?[{}~");
}

int dd_spawn_script(const char *command, const struct dd_run_as *as, char *const env[],
		    bool quiet, pid_t *pid, char **err)
{
	return dd_spawn_script_args(command, NULL, as, env, quiet, pid, err);
}

int dd_spawn_script_args(const char *command, const char *const args[], const struct dd_run_as *as,
			 char *const env[], bool quiet, pid_t *pid, char **err)
{
	uint32_t uid = as ? as->uid : (uint32_t)geteuid();
	if (dd_script_check(command, uid, err) < 0)
		return -1;
	size_t n_env = 0;
	while (env && env[n_env])
		n_env++;
	char **envp = xcalloc(n_env + 2, sizeof *envp);
	envp[0] = (char *)"PATH=" DD_SCRIPT_PATH;
	for (size_t i = 0; i < n_env; i++)
		envp[i + 1] = env[i];

	posix_spawnattr_t attr;
	posix_spawn_file_actions_t fa;
	posix_spawnattr_init(&attr);
	posix_spawn_file_actions_init(&fa);
	sigset_t none, all;
	sigemptyset(&none);
	sigfillset(&all);
	posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETPGROUP | POSIX_SPAWN_SETSIGMASK |
				 POSIX_SPAWN_SETSIGDEF);
	posix_spawnattr_setpgroup(&attr, 0);
	posix_spawnattr_setsigmask(&attr, &none);
	posix_spawnattr_setsigdefault(&attr, &all);
	posix_spawn_file_actions_addopen(&fa, STDIN_FILENO, "/dev/null", O_RDONLY, 0);
	if (quiet) {
		posix_spawn_file_actions_addopen(&fa, STDOUT_FILENO, "/dev/null", O_WRONLY, 0);
		posix_spawn_file_actions_adddup2(&fa, STDOUT_FILENO, STDERR_FILENO);
	}
	/* Already who it should be (root running root's scripts, tests): no
	 * setpriv needed. */
	bool switch_user = as && (as->uid != (uint32_t)geteuid() || as->gid != (uint32_t)getegid());
	char ruid[32], rgid[32];
	snprintf(ruid, sizeof ruid, "--reuid=%u", uid);
	snprintf(rgid, sizeof rgid, "--regid=%u", as ? as->gid : 0);
	/* With arguments, the shell gets them as $1... ($0 is "sh"), so they
	 * are never parsed as shell text; a simple command (a program and its
	 * words, what keepalived runs) gets them appended too ("$@"). */
	size_t n_args = 0;
	while (args && args[n_args])
		n_args++;
	char *line = NULL;
	if (args && dd_command_is_simple(command)) {
		size_t len = strlen(command) + sizeof " \"$@\"";
		line = xmalloc(len);
		snprintf(line, len, "%s \"$@\"", command);
	}
	/* setpriv's words, then the shell's, then the arguments. --clear-groups:
	 * the script user's groups are its gid alone, as keepalived does it,
	 * never root's supplementary groups. */
	char **argv = xcalloc(n_args + 11, sizeof *argv);
	size_t k = 0;
	if (switch_user) {
		argv[k++] = (char *)DD_SETPRIV;
		argv[k++] = ruid;
		argv[k++] = rgid;
		argv[k++] = (char *)"--clear-groups";
		argv[k++] = (char *)"--";
	}
	argv[k++] = (char *)"/bin/sh";
	argv[k++] = (char *)"-c";
	argv[k++] = line ? line : (char *)command;
	if (args) {
		argv[k++] = (char *)"sh";
		for (size_t i = 0; i < n_args; i++)
			argv[k++] = (char *)args[i];
	}
	argv[k] = NULL;
	int rc = posix_spawn(pid, argv[0], &fa, &attr, argv, envp);
	const char *prog = argv[0];
	free(argv);
	free(line);
	posix_spawn_file_actions_destroy(&fa);
	posix_spawnattr_destroy(&attr);
	free(envp);
	if (rc != 0) {
		dd_seterr(err, "cannot run %s: %s", prog, strerror(rc));
		return -1;
	}
	return 0;
}

static void stop_watch(struct dd_child *c)
{
	if (c->pidfd < 0) {
		ev_child_stop(c->loop, &c->child);
	} else {
		ev_io_stop(c->loop, &c->io);
		close(c->pidfd);
		c->pidfd = -1;
	}
	c->pid = 0;
}

static void on_child(struct ev_loop *loop, ev_child *w, int revents)
{
	struct dd_child *c = w->data;
	if (WIFSTOPPED(w->rstatus) || WIFCONTINUED(w->rstatus))
		return;
	stop_watch(c);
	c->done(c, w->rstatus);
}

static void on_pidfd(struct ev_loop *loop, ev_io *w, int revents)
{
	struct dd_child *c = w->data;
	int status = 0;
	pid_t r;
	do
		r = waitpid(c->pid, &status, WNOHANG);
	while (r < 0 && errno == EINTR);
	if (r == 0)
		return;
	stop_watch(c);
	c->done(c, status);
}

int dd_child_watch(struct dd_child *c, struct ev_loop *loop, pid_t pid,
		   void (*done)(struct dd_child *c, int status), void *data, char **err)
{
	c->loop = loop;
	c->pid = pid;
	c->done = done;
	c->data = data;
	c->pidfd = -1;
	if (ev_is_default_loop(loop)) {
		ev_child_init(&c->child, on_child, pid, 0);
		c->child.data = c;
		ev_child_start(loop, &c->child);
		return 0;
	}
	int fd = (int)syscall(SYS_pidfd_open, pid, 0);
	if (fd < 0) {
		dd_seterr(err, "pidfd_open: %s", strerror(errno));
		kill(-pid, SIGKILL);
		while (waitpid(pid, NULL, 0) < 0 && errno == EINTR)
			;
		c->pid = 0;
		return -1;
	}
	fcntl(fd, F_SETFD, FD_CLOEXEC);
	c->pidfd = fd;
	ev_io_init(&c->io, on_pidfd, fd, EV_READ);
	c->io.data = c;
	ev_io_start(loop, &c->io);
	return 0;
}

void dd_child_abandon(struct dd_child *c)
{
	if (c->pid <= 0)
		return;
	pid_t pid = c->pid;
	bool reap = c->pidfd >= 0;
	kill(-pid, SIGKILL);
	stop_watch(c);
	/* On the default loop, its SIGCHLD handler reaps it. */
	while (reap && waitpid(pid, NULL, 0) < 0 && errno == EINTR)
		;
}
