/* lib/spawn.c: shell commands for notify and exec checks. posix_spawn
 * rather than fork: the daemon has threads, and a forked child must not
 * run their code (locks held by another thread) between fork and exec. */
#include "config.h"
#include "lib/spawn.h"
#include "lib/util.h"

#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <stdlib.h>
#include <string.h>
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
