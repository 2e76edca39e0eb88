/* lib/spawn.c: shell commands for notify and exec checks, and watching
 * them until they exit. posix_spawn rather than fork: the daemon has
 * threads, and a forked child must not run their code (locks held by
 * another thread) between fork and exec. Runs in the caller's loop. */
#include "config.h"
#include "lib/spawn.h"
#include "lib/util.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

extern char **environ;

int dd_spawn_shell(const char *command, const char *drop_prefix, char *const extra[], bool quiet,
		   pid_t *pid)
{
	size_t n = 0, n_extra = 0;
	while (environ && environ[n])
		n++;
	while (extra && extra[n_extra])
		n_extra++;
	char **envp = xcalloc(n + n_extra + 1, sizeof *envp);
	size_t k = 0;
	size_t drop = drop_prefix ? strlen(drop_prefix) : 0;
	for (size_t i = 0; i < n; i++)
		if (!drop || strncmp(environ[i], drop_prefix, drop) != 0)
			envp[k++] = environ[i];
	for (size_t i = 0; i < n_extra; i++)
		envp[k++] = extra[i];
	envp[k] = NULL;

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
	char *argv[] = { (char *)"/bin/sh", (char *)"-c", (char *)command, NULL };
	int rc = posix_spawn(pid, "/bin/sh", &fa, &attr, argv, envp);
	posix_spawn_file_actions_destroy(&fa);
	posix_spawnattr_destroy(&attr);
	free(envp);
	return rc;
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
