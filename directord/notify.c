/* SPDX-License-Identifier: GPL-2.0-or-later */
/* directord/notify.c: notify command runner: a role change's commands
 * (the cluster's, or logging.notify) with keepalived's arguments and the
 * DIRECTORD_* environment, and a real server's notify_up/notify_down.
 * Everything here runs in the
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
	char cluster[DD_NAME_MAX + 8]; /* "cluster web", or "service http" */
	char role[16];          /* or "notify_up" / "notify_down" */
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
		log_warn("notify", "notify command for %s (%s) killed after %llu ms: timeout",
			 c->cluster, c->role, (unsigned long long)ms);
	else if (WIFEXITED(st) && WEXITSTATUS(st) == 0)
		log_info("notify", "notify command for %s (%s) succeeded in %llu ms",
			 c->cluster, c->role, (unsigned long long)ms);
	else if (WIFEXITED(st))
		log_warn("notify", "notify command for %s (%s) failed: exit status %d",
			 c->cluster, c->role, WEXITSTATUS(st));
	else
		log_warn("notify", "notify command for %s (%s) failed: killed by signal %d",
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

/* Spawns and watches one command; `env` is freed here; `what_kind` and
 * `label` ("cluster web") and `what` ("active") name it in the log lines
 * about how it ended. */
static int start(struct dd_notify *n, const char *command, const char *const args[],
		 const struct dd_run_as *as, uint32_t timeout_ms, char **env, size_t n_env,
		 const char *what_kind, const char *label, const char *what, char **err)
{
	/* Unset ones are NULL: close the gaps so the list ends at the first NULL. */
	size_t k = 0;
	for (size_t j = 0; j < n_env; j++)
		if (env[j])
			env[k++] = env[j];
	env[k] = NULL;
	pid_t pid;
	char *serr = NULL;
	int r = dd_spawn_script_args(command, args, as, env, false, &pid, &serr);
	for (size_t j = 0; j < k; j++)
		free(env[j]);
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
	snprintf(c->cluster, sizeof c->cluster, "%s %s", what_kind, label ? label : "");
	snprintf(c->role, sizeof c->role, "%s", what ? what : "");
	ev_timer_init(&c->timeout, on_timeout, timeout_ms / 1000.0, 0.);
	c->timeout.data = c;
	if (timeout_ms)
		ev_timer_start(n->loop, &c->timeout);
	c->next = n->children;
	n->children = c;
	n->running++;
	return 0;
}

int dd_notify_run(struct dd_notify *n, const char *command, const char *const args[],
		  const struct dd_run_as *as, uint32_t timeout_ms,
		  const struct dd_notify_event *ev, char **err)
{
	if (!command || !*command)
		return 0;
	char *mine[7] = {
		envvar("DIRECTORD_CLUSTER", ev->cluster), envvar("DIRECTORD_ROLE", ev->role),
		envvar("DIRECTORD_OLD_ROLE", ev->old_role), envvar("DIRECTORD_REASON", ev->reason),
		envvar("DIRECTORD_NODE", ev->node),
		envvar("DIRECTORD_REASON_CODE", ev->why), NULL,
	};
	return start(n, command, args, as, timeout_ms, mine, ARRAY_SIZE(mine) - 1, "cluster",
		     ev->cluster, ev->role, err);
}

const char *dd_notify_state_word(enum dd_role r)
{
	switch (r) {
	case DD_ROLE_ACTIVE: return "MASTER";
	case DD_ROLE_STANDBY: return "BACKUP";
	case DD_ROLE_FAULT: return "FAULT";
	case DD_ROLE_STOPPED: return "STOP";
	default: return NULL;
	}
}

static void run_logged(struct dd_notify *n, const char *command, const char *const args[],
		       const struct dd_config *cfg, const struct dd_notify_event *ev)
{
	char *err = NULL;
	struct dd_run_as as = { cfg->scripts.uid, cfg->scripts.gid };
	if (dd_notify_run(n, command, args, &as, cfg->alert.notify_timeout_ms, ev, &err) < 0) {
		log_err("notify", "cluster %s: %s", ev->cluster, err);
		free(err);
	}
}

void dd_notify_role_change(struct dd_notify *n, const struct dd_config *cfg,
			   const struct dd_role_change *rc)
{
	const struct dd_cluster *cl = NULL;
	for (size_t i = 0; i < cfg->n_clusters; i++)
		if (strcmp(cfg->clusters[i].name, rc->cluster) == 0)
			cl = &cfg->clusters[i];
	struct dd_notify_event ev = { .cluster = rc->cluster, .role = dd_role_name(rc->new_role),
				      .old_role = dd_role_name(rc->old_role), .reason = rc->reason,
				      .why = dd_fsm_why_name(rc->why), .node = cfg->node_name };
	const char *state = dd_notify_state_word(rc->new_role);
	bool group = cl && cl->notify.type == DD_NOTIFY_GROUP;
	char prio[8];
	/* keepalived: a sync group's notify gets priority 0. */
	snprintf(prio, sizeof prio, "%u", group ? 0u : (unsigned)rc->priority);
	const char *args[] = { group ? "GROUP" : "INSTANCE", rc->cluster, state ? state : "UNKNOWN",
			       prio, NULL };
	bool own = cl && (cl->notify.all || cl->notify.active || cl->notify.standby ||
			  cl->notify.fault || cl->notify.stop);
	if (!own) {
		run_logged(n, cfg->alert.notify, args, cfg, &ev);
		return;
	}
	/* keepalived runs the notify_<state> one first, then the generic one. */
	const char *specific = rc->new_role == DD_ROLE_ACTIVE ? cl->notify.active
			     : rc->new_role == DD_ROLE_STANDBY ? cl->notify.standby
			     : rc->new_role == DD_ROLE_FAULT ? cl->notify.fault
			     : rc->new_role == DD_ROLE_STOPPED ? cl->notify.stop : NULL;
	run_logged(n, specific, NULL, cfg, &ev);
	run_logged(n, cl->notify.all, args, cfg, &ev);
}

void dd_notify_rs_change(struct dd_notify *n, const struct dd_config *cfg,
			 const struct dd_notify_rs_event *ev)
{
	const char *command = ev->up ? ev->rs->notify_up : ev->rs->notify_down;
	if (!command)
		return;
	char ap[DD_ADDR_STRLEN], up[16], total[16];
	dd_addr_port_str(&ev->rs->addr, ev->rs->port, ap, sizeof ap);
	snprintf(up, sizeof up, "%u", ev->n_up);
	snprintf(total, sizeof total, "%u", ev->n_total);
	char *env[7] = {
		envvar("DIRECTORD_SERVICE", ev->svc->name), envvar("DIRECTORD_REAL_SERVER", ap),
		envvar("DIRECTORD_STATE", ev->up ? "up" : "down"), envvar("DIRECTORD_REASON", ev->reason),
		envvar("DIRECTORD_UP", up), envvar("DIRECTORD_TOTAL", total), NULL,
	};
	char *err = NULL;
	struct dd_run_as as = { cfg->scripts.uid, cfg->scripts.gid };
	if (start(n, command, NULL, &as, cfg->alert.notify_timeout_ms, env, ARRAY_SIZE(env) - 1,
		  "service", ev->svc->name, ev->up ? "notify_up" : "notify_down", &err) < 0) {
		log_err("notify", "service %s, real server %s: %s", ev->svc->name, ap, err);
		free(err);
	}
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
