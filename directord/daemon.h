/* SPDX-License-Identifier: GPL-2.0-or-later */
/* directord/daemon.h: the daemon core's life cycle: start the parts, handle
 * signals, reload, shut down. Runs in the main libev loop. */
#ifndef DD_DAEMON_H
#define DD_DAEMON_H

#include <stdbool.h>

struct ev_loop;

struct dd_daemon_opts {
	const char *conf_path;
	bool foreground;        /* -n: don't fork */
	bool log_stderr;        /* log to stderr instead of syslog */
	int log_level;          /* -1: from the config */
	const char *pid_file;   /* NULL: from the config */
};

/* Runs until SIGTERM/SIGINT. Returns the process exit status. */
int dd_daemon_run(struct ev_loop *loop, const struct dd_daemon_opts *opts);

/* `directord -t`: load, print errors or "configuration OK"; with `print`,
 * the canonical config. Returns the exit status. */
int dd_config_test(const char *path, bool print);

#endif
