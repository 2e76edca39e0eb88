/* SPDX-License-Identifier: GPL-2.0-or-later */
/* directord/notify.c: notify command runner. Everything here runs in the
 * loop passed to dd_notify_new() (the main loop). posix_spawn is used
 * rather than fork so that the multi-threaded daemon never runs code in a
 * child between fork and exec; how the command ended comes from
 * dd_child_watch() (lib/spawn.h), which on the default loop takes the
 * status from libev's own reaping, so it is never lost. */
#include "config.h"
#include "directord/notify.h"
#include "lib/log.h"
#include "lib/spawn.h"
#include "lib/util.h"

#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

struct child {
	struct dd_notify *n;
	struct child *next;
	struct dd_child watch;
	ev_timer timeout;
	bool killed;
	uint64_t start_ms;
	char cluster[64];
	char role[16];
};

struct dd_notify {
	struct ev_loop *loop;
	struct child *children;
	unsigned running;
	struct dd_notify_stats stats;
};

struct dd_notify *dd_notify_new(struct ev_loop *loop)
{
	struct dd_notify *n = xcalloc(1, sizeof *n);
	n->loop = loop;
	return n;
}

unsigned dd_notify_running(const struct dd_notify *n)
{
	return n->running;
}

void dd_notify_get_stats(const struct dd_notify *n, struct dd_notify_stats *out)
{
	*out = n->stats;
}

static void child_done(struct child *c)
{
	struct dd_notify *n = c->n;
	ev_timer_stop(n->loop, &c->timeout);
	for (struct child **pp = &n->children; *pp; pp = &(*pp)->next)
		if (*pp == c) {
			*pp = c->next;
			break;
		}
	n->running--;
	free(c);
}

static void on_exit_status(struct dd_child *w, int st)
{
	struct child *c = w->data;
	uint64_t ms = mono_ms() - c->start_ms;
	struct dd_notify_stats *ns = &c->n->stats;
	if (c->killed)
		ns->timed_out++;
	else if (WIFEXITED(st) && WEXITSTATUS(st) == 0)
		ns->succeeded++;
	else
		ns->failed++;
	if (c->killed)
		log_warn("notify", "notify command for cluster %s (%s) killed after %llu ms: timeout",
			 c->cluster, c->role, (unsigned long long)ms);
	else if (WIFEXITED(st) && WEXITSTATUS(st) == 0)
		log_info("notify", "notify command for cluster %s (%s) succeeded in %llu ms",
			 c->cluster, c->role, (unsigned long long)ms);
	else if (WIFEXITED(st))
		log_warn("notify", "notify command for cluster %s (%s) failed: exit status %d",
			 c->cluster, c->role, WEXITSTATUS(st));
	else
		log_warn("notify", "notify command for cluster %s (%s) failed: killed by signal %d",
			 c->cluster, c->role, WTERMSIG(st));
	child_done(c);
}

static void on_timeout(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct child *c = w->data;
	/* The shell may have started children of its own: kill the group. */
	kill(-c->watch.pid, SIGKILL);
	c->killed = true;
}

static char *envvar(const char *name, const char *val)
{
	char *s;
	if (asprintf(&s, "%s=%s", name, val ? val : "") < 0)
		return NULL;
	return s;
}

int dd_notify_run(struct dd_notify *n, const char *command, const struct dd_run_as *as,
		  uint32_t timeout_ms, const struct dd_notify_event *ev, char **err)
{
	if (!command || !*command)
		return 0;
	char *mine[7] = {
		envvar("DIRECTORD_CLUSTER", ev->cluster), envvar("DIRECTORD_ROLE", ev->role),
		envvar("DIRECTORD_OLD_ROLE", ev->old_role), envvar("DIRECTORD_REASON", ev->reason),
		envvar("DIRECTORD_NODE", ev->node),
		envvar("DIRECTORD_REASON_CODE", ev->why), NULL,
	};
	/* Unset ones are NULL: close the gaps so the list ends at the first NULL. */
	size_t k = 0;
	for (size_t j = 0; j < ARRAY_SIZE(mine) - 1; j++)
		if (mine[j])
			mine[k++] = mine[j];
	mine[k] = NULL;
	pid_t pid;
	char *serr = NULL;
	int r = dd_spawn_script(command, as, mine, false, &pid, &serr);
	for (size_t j = 0; j < k; j++)
		free(mine[j]);
	if (r != 0) {
		dd_seterr(err, "notify command: %s", serr);
		free(serr);
		return -1;
	}
	struct child *c = xcalloc(1, sizeof *c);
	char *werr = NULL;
	if (dd_child_watch(&c->watch, n->loop, pid, on_exit_status, c, &werr) < 0) {
		dd_seterr(err, "notify command: %s", werr);
		free(werr);
		free(c);
		return -1;
	}
	c->n = n;
	c->start_ms = mono_ms();
	snprintf(c->cluster, sizeof c->cluster, "%s", ev->cluster ? ev->cluster : "");
	snprintf(c->role, sizeof c->role, "%s", ev->role ? ev->role : "");
	ev_timer_init(&c->timeout, on_timeout, timeout_ms / 1000.0, 0.);
	c->timeout.data = c;
	if (timeout_ms)
		ev_timer_start(n->loop, &c->timeout);
	c->next = n->children;
	n->children = c;
	n->running++;
	return 0;
}

void dd_notify_free(struct dd_notify *n)
{
	if (!n)
		return;
	while (n->children) {
		struct child *c = n->children;
		dd_child_abandon(&c->watch);
		child_done(c);
	}
	free(n);
}
