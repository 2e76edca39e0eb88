/* lib/spawn.h: run a shell command the way directord runs every command
 * (notify commands, exec checks). Called from the main loop. */
#ifndef DD_LIB_SPAWN_H
#define DD_LIB_SPAWN_H

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

#endif
