/* lib/spawn.h: run a shell command the way directord runs every command
 * (notify commands, exec checks), and learn how it ended. Called from the
 * loop that watches the child (the main loop in the daemon). */
#ifndef DD_LIB_SPAWN_H
#define DD_LIB_SPAWN_H

#include <ev.h>
#include <stdbool.h>
#include <sys/types.h>

/* Starts `/bin/sh -c command` with posix_spawn in a process group of its
 * own (so that a timeout can kill the command and everything it started),
 * with default signal handling and an empty signal mask, stdin from
 * /dev/null, and stdout and stderr to /dev/null when `quiet`. The
 * environment is the daemon's minus every variable whose name starts with
 * `drop_prefix`, plus `extra` ("NAME=value" strings, NULL-terminated).
 * Returns 0 and sets *pid, or returns an errno value. */
int dd_spawn_shell(const char *command, const char *drop_prefix, char *const extra[], bool quiet,
		   pid_t *pid);

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
