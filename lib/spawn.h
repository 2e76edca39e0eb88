/* SPDX-License-Identifier: GPL-2.0-or-later */
/* lib/spawn.h: run a shell command the way directord runs every command
 * (notify commands, exec checks), as the configured script user, and learn
 * how it ended. Called from the loop that watches the child (the main
 * loop in the daemon). */
#ifndef DD_LIB_SPAWN_H
#define DD_LIB_SPAWN_H

#include <ev.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

/* The one PATH a command gets, whatever the daemon's environment holds. */
#define DD_SCRIPT_PATH "/usr/sbin:/usr/bin:/sbin:/bin"

/* Who runs a command (the config's scripts.user and scripts.group). */
struct dd_run_as {
	uint32_t uid, gid;
};

/* keepalived's enable_script_security, always on: when the command's first
 * word is a file (a path, or a name found in DD_SCRIPT_PATH), that file
 * and every directory above it must be owned by root or by `uid` and not
 * be writable by group or others (a sticky directory, /tmp, may be),
 * otherwise whoever can change it runs code as `uid`, or as root. Symlinks
 * are followed, and the directories holding them checked too. A first
 * word that is no file (a shell builtin, a missing command) passes: the
 * shell reports it. Returns 0, or -1 with *err "script PATH refused: ...". */
int dd_script_check(const char *command, uint32_t uid, char **err);

/* Checks the command (dd_script_check), then starts `/bin/sh -c command`
 * with posix_spawn as `as` (NULL: as this process), in a process group of
 * its own (so that a timeout can kill the command and everything it
 * started), with default signal handling and an empty signal mask, stdin
 * from /dev/null, and stdout and stderr to /dev/null when `quiet`. The
 * environment is PATH=DD_SCRIPT_PATH plus `env` ("NAME=value" strings,
 * NULL-terminated), nothing of the daemon's. Returns 0 and sets *pid, or
 * -1 with *err. */
int dd_spawn_script(const char *command, const struct dd_run_as *as, char *const env[],
		    bool quiet, pid_t *pid, char **err);
/* The same with arguments, as keepalived passes its notify arguments:
 * `/bin/sh -c 'command "$@"' sh args...`, so "script" and "script extra"
 * both get them after their own words. A command that is not simple (has
 * shell syntax: ; & | < > ( ) ` $ # newline, globs, braces, ~; keepalived
 * would not run it at all) gets them only as $1... of its shell, so that
 * "a; b" does not hand them to b. args is NULL-terminated; NULL: none. */
bool dd_command_is_simple(const char *command);
int dd_spawn_script_args(const char *command, const char *const args[], const struct dd_run_as *as,
			 char *const env[], bool quiet, pid_t *pid, char **err);

/* Watches a child until it exits and calls done(c, wait status) once, in
 * `loop`. On libev's default loop the child is watched with ev_child:
 * that loop's SIGCHLD handler reaps every child (waitpid(-1)), so a
 * waitpid of our own would race it and lose the status. On any other loop
 * nothing reaps behind our back, and a pidfd says when to waitpid. So: in
 * a process with a default loop, watch children on it. Returns 0, or -1
 * with *err (malloc'd), having killed and reaped the child. */
struct dd_child {
	struct ev_loop *loop;
	pid_t pid;
	int pidfd;              /* -1 on the default loop */
	ev_child child;
	ev_io io;
	void (*done)(struct dd_child *c, int status);
	void *data;
};
int dd_child_watch(struct dd_child *c, struct ev_loop *loop, pid_t pid,
		   void (*done)(struct dd_child *c, int status), void *data, char **err);
/* Gives up on a child still running: SIGKILL to its process group, then it
 * is reaped (by libev on the default loop, here otherwise); done is not
 * called. */
void dd_child_abandon(struct dd_child *c);

#endif
