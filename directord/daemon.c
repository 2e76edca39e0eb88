/* SPDX-License-Identifier: GPL-2.0-or-later */
/* directord/daemon.c: the daemon core's life cycle. Loads the config, takes
 * the pid file, starts the parts, and turns signals into actions: SIGHUP
 * reloads (a bad file keeps the running config), SIGTERM/SIGINT shut down.
 * Everything here runs in the main libev loop. */
#include "config.h"
#include "directord/daemon.h"
#include "directord/ecmp.h"
#include "conf/model.h"
#include "directord/ctlops.h"
#include "directord/json.h"
#include "directord/fwd.h"
#include "heartbeat/failover.h"
#include "health/health.h"
#include "directord/notify.h"
#include "directord/status.h"
#include "snmp/snmp.h"
#include "directord/track.h"
#include "lib/log.h"
#include "lib/util.h"

#include <errno.h>
#include <ev.h>
#include <fcntl.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

struct dd_daemon {
	struct ev_loop *loop;
	const struct dd_daemon_opts *opts;
	struct dd_config *cfg;
	char *pid_path;         /* copied: a reload may free the config it came from */
	int pid_fd, pid_dirfd;  /* the locked pid file, and its directory */
	ev_signal sig_term, sig_int, sig_hup, sig_quit, sig_usr1, sig_usr2;
	struct {
		ev_timer tick;
		uint64_t pulse;         /* the heartbeat thread's, at its last advance */
		uint64_t advanced_ms;   /* when it last advanced */
		bool stalled;           /* said so in the log */
	} wd;
	unsigned reloads, reload_failures;
	struct dd_ctlops *ctl;  /* control socket + metrics listener; NULL if it failed */
	struct dd_failover *fo;  /* also without a peer: it holds the VIPs then */
	struct dd_notify *notify;
	struct dd_fwdplane *fwd; /* NULL while no service and no sync is configured */
	struct dd_health *health;
	struct dd_snmp *snmp;    /* NULL: snmp.enabled is false, or a build without SNMP */
	struct dd_ecmpctl *ecmp;    /* ECMP mode: quorum to the engine, drain, SIGTERM wait */
	bool ecmp_stopping;      /* SIGTERM: withdrawn, waiting for connections */
	struct dd_track *track;  /* track scripts; their states go to fo */
};

static void log_errors(const struct dd_conf_errors *errs)
{
	char b[DD_CONF_ERROR_STRLEN];
	for (size_t i = 0; i < errs->n; i++)
		log_err("config", "%s", dd_conf_error_str(&errs->v[i], b, sizeof b));
}

/* The state file's directory (a fresh string); whether it exists, and if
 * not, whether it can be made: its nearest existing ancestor is a
 * directory. */
static char *state_dir(const struct dd_config *cfg, bool *exists, bool *creatable)
{
	const char *sf = cfg->hb.state_file;
	const char *slash = strrchr(sf, '/');
	char *dir = slash ? xstrdup(sf) : xstrdup(".");
	if (slash)
		dir[slash == sf ? 1 : slash - sf] = '\0';
	struct stat st;
	*exists = stat(dir, &st) == 0 && S_ISDIR(st.st_mode);
	*creatable = false;
	if (*exists)
		return dir;
	char *up = xstrdup(dir);
	for (;;) {
		char *ps = strrchr(up, '/');
		if (!ps)
			break;
		ps[ps == up ? 1 : 0] = '\0';
		if (stat(up, &st) == 0) {
			*creatable = S_ISDIR(st.st_mode);
			break;
		}
		if (ps == up)
			break;
	}
	free(up);
	return dir;
}

static bool needs_state(const struct dd_config *cfg)
{
	return cfg->hb.n_peers && cfg->hb.state_file && *cfg->hb.state_file;
}

/* The generation counter is written at start-up, so a state directory that
 * cannot be had would only surface then, as a failed start on both
 * directors: -t says so first. One that is merely missing is made at start
 * (prepare_state_dir), as make install and the package make it, so a pair
 * also starts outside systemd. Here and not in the loader: the loader
 * reads files that are not about this machine (tests, `directorctl plan`). */
static struct dd_config *state_dir_check(struct dd_config *cfg, struct dd_conf_errors *errs)
{
	if (!needs_state(cfg))
		return cfg;
	bool exists, creatable;
	char *dir = state_dir(cfg, &exists, &creatable);
	if (exists || creatable) {
		free(dir);
		return cfg;
	}
	const char *sf = cfg->hb.state_file;
	errs->v = xcalloc(1, sizeof *errs->v);
	errs->v[0].file = xstrdup(cfg->path);
	errs->v[0].line = cfg->hb.line;
	size_t n = strlen(sf) + strlen(dir) + 128;
	errs->v[0].msg = xmalloc(n);
	snprintf(errs->v[0].msg, n, "state_file %s: directory %s does not exist and cannot be "
		 "made (a part of the path is not a directory)", sf, dir);
	errs->n = 1;
	free(dir);
	dd_config_free(cfg);
	return NULL;
}

/* mkdir -p, the last level root's only. */
static void prepare_state_dir(const struct dd_config *cfg)
{
	if (!needs_state(cfg))
		return;
	bool exists, creatable;
	char *dir = state_dir(cfg, &exists, &creatable);
	if (!creatable) {
		free(dir);
		return;
	}
	for (char *p = dir + 1; *p; p++) {
		if (*p != '/')
			continue;
		*p = '\0';
		if (mkdir(dir, 0755) < 0 && errno != EEXIST)
			break;
		*p = '/';
	}
	if (mkdir(dir, 0750) == 0)
		log_notice("core", "created state directory %s", dir);
	else if (errno != EEXIST)
		log_err("core", "cannot create state directory %s: %s", dir, strerror(errno));
	free(dir);
}

int dd_config_test(const char *path, bool print)
{
	struct dd_conf_errors errs = { 0 };
	struct dd_config *cfg = dd_config_load(path, &errs);
	if (cfg)
		cfg = state_dir_check(cfg, &errs);
	if (!cfg) {
		dd_conf_errors_print(&errs, stderr);
		fprintf(stderr, "%s: %zu error%s\n", path, errs.n, errs.n == 1 ? "" : "s");
		dd_conf_errors_free(&errs);
		return 1;
	}
	if (print) {
		char *text = dd_config_print(cfg);
		fputs(text, stdout);
		free(text);
	} else {
		printf("configuration OK\n");
	}
	dd_config_free(cfg);
	return 0;
}

/* The pid file doubles as the single-instance lock: a second directord with
 * the same pid file refuses to start instead of fighting over IPVS. Root
 * writes it, so nobody else may steer it: it is opened through its
 * directory (which others may not write unless it is sticky), never through
 * a symlink, and only if it is ours. */
static int pidfile_take(struct dd_daemon *d)
{
	const char *base;
	bool shared;
	char *err = NULL;
	int dfd = dd_dir_open(d->pid_path, &base, &shared, &err);
	if (dfd < 0) {
		log_err("core", "pid file %s: %s", d->pid_path, err);
		free(err);
		return -1;
	}
	/* Checked by name first for a clear reason; O_NOFOLLOW and the fstat
	 * below close the window between the check and the open. */
	if (dd_file_ours(dfd, d->pid_path, base, &err) < 0) {
		log_err("core", "cannot use pid file: %s", err);
		free(err);
		close(dfd);
		return -1;
	}
	int fd = openat(dfd, base, O_RDWR | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0644);
	struct stat st;
	if (fd < 0 || fstat(fd, &st) < 0 || !S_ISREG(st.st_mode) || st.st_uid != geteuid()) {
		log_err("core", "cannot use pid file %s: %s", d->pid_path,
			fd < 0 && errno == ELOOP ? "it is a symbolic link" :
			fd < 0 ? strerror(errno) : "not a regular file of ours");
		if (fd >= 0)
			close(fd);
		close(dfd);
		return -1;
	}
	if (flock(fd, LOCK_EX | LOCK_NB) < 0) {
		char buf[32] = "";
		ssize_t r = pread(fd, buf, sizeof buf - 1, 0);
		if (r > 0)
			buf[r] = '\0';
		buf[strcspn(buf, "\n")] = '\0';
		log_err("core", "another directord (pid %s) holds %s; not starting",
			buf[0] ? buf : "?", d->pid_path);
		close(fd);
		close(dfd);
		return -1;
	}
	char buf[32];
	int n = snprintf(buf, sizeof buf, "%ld\n", (long)getpid());
	if (ftruncate(fd, 0) < 0 || pwrite(fd, buf, (size_t)n, 0) != n) {
		log_err("core", "cannot write pid file %s: %s", d->pid_path, strerror(errno));
		close(fd);
		close(dfd);
		return -1;
	}
	d->pid_fd = fd;
	d->pid_dirfd = dfd;
	return 0;
}

static void pidfile_release(struct dd_daemon *d)
{
	if (d->pid_fd < 0)
		return;
	unlinkat(d->pid_dirfd, strrchr(d->pid_path, '/') ? strrchr(d->pid_path, '/') + 1 : d->pid_path, 0);
	close(d->pid_fd);
	close(d->pid_dirfd);
	d->pid_fd = d->pid_dirfd = -1;
}

/* systemd Type=notify readiness, written by hand: it is one datagram and not
 * worth a libsystemd dependency. */
static void sd_notify_send(const char *msg)
{
	const char *path = getenv("NOTIFY_SOCKET");
	if (!path || (path[0] != '/' && path[0] != '@'))
		return;
	struct sockaddr_un sun = { .sun_family = AF_UNIX };
	size_t len = strlen(path);
	if (len >= sizeof sun.sun_path)
		return;
	memcpy(sun.sun_path, path, len);
	if (sun.sun_path[0] == '@')
		sun.sun_path[0] = '\0';
	int fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return;
	socklen_t sl = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + len);
	if (sendto(fd, msg, strlen(msg), MSG_NOSIGNAL, (struct sockaddr *)&sun, sl) < 0)
		log_warn("core", "systemd notify failed: %s", strerror(errno));
	close(fd);
}

/* systemd's watchdog (WatchdogSec= in the unit) is fed only while both
 * loops make progress: this timer runs on the main loop, and the heartbeat
 * thread's pulse (dd_failover_pulse) must have moved recently. A wedged
 * heartbeat thread sends no keepalives, so the peer takes over; systemd
 * then kills and restarts this process, which comes back as standby. */
static void on_watchdog(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct dd_daemon *d = w->data;
	uint64_t now = mono_ms(), pulse = d->fo ? dd_failover_pulse(d->fo) : 0;
	if (pulse != d->wd.pulse) {
		d->wd.pulse = pulse;
		d->wd.advanced_ms = now;
	}
	/* A few pulses of slack: the thread is real-time but not alone. */
	uint64_t silent = now - d->wd.advanced_ms;
	if (d->fo && silent > 3 * DD_FO_PULSE_MS) {
		if (!d->wd.stalled)
			log_crit("core", "heartbeat thread made no progress for %" PRIu64 " ms: "
				 "not feeding the systemd watchdog", silent);
		d->wd.stalled = true;
		return;
	}
	if (d->wd.stalled)
		log_notice("core", "heartbeat thread progressing again: feeding the systemd watchdog");
	d->wd.stalled = false;
	sd_notify_send("WATCHDOG=1");
}

static void watchdog_start(struct dd_daemon *d)
{
	const char *usec = getenv("WATCHDOG_USEC"), *pid = getenv("WATCHDOG_PID");
	char *end;
	unsigned long long us = usec ? strtoull(usec, &end, 10) : 0;
	if (!us || *end || (pid && strtol(pid, NULL, 10) != (long)getpid()))
		return;
	/* Four feeds per period: one late tick never costs the process. */
	double every = (double)us / 4e6;
	d->wd.advanced_ms = mono_ms();
	ev_timer_init(&d->wd.tick, on_watchdog, every, every);
	d->wd.tick.data = d;
	ev_timer_start(d->loop, &d->wd.tick);
	log_info("core", "feeding the systemd watchdog every %.0f ms while both loops run", every * 1000);
}

static void apply_logging(const struct dd_daemon *d, const struct dd_config *cfg)
{
	dlog_open("directord", d->opts->log_stderr ? DLOG_STDERR : DLOG_SYSLOG,
		  cfg->alert.syslog_facility);
	dlog_set_level(d->opts->log_level >= 0 ? d->opts->log_level : cfg->alert.log_level);
}

/* Failover hook, in the main loop: the alert itself was logged by the
 * heartbeat thread; here the operator's notify command runs. */
static void on_role_changed(void *ctx, const struct dd_role_change *ev)
{
	struct dd_daemon *d = ctx;
	dd_ctlops_role_changed(d->ctl, ev->cluster, ev->old_role, ev->new_role);
	dd_snmp_role_changed(d->snmp, ev);
	/* Both directors keep IPVS programmed; a role change only moves the
	 * sync daemon between master and backup. INIT says nothing yet. */
	if (d->fwd && ev->new_role != DD_ROLE_INIT)
		dd_fwd_set_cluster_role(d->fwd, ev->cluster, ev->new_role == DD_ROLE_ACTIVE);
	dd_notify_role_change(d->notify, d->cfg, ev);
}

static bool needs_fwd(const struct dd_config *cfg)
{
	if (cfg->sync.enabled)
		return true;
	for (size_t i = 0; i < cfg->n_clusters; i++)
		if (cfg->clusters[i].n_services)
			return true;
	return false;
}

/* Track script hook, in the main loop: the runner logged the change; the
 * engine decides what it does to the clusters. */
static void on_track(void *ctx, const struct dd_track_state *st)
{
	struct dd_daemon *d = ctx;
	char *err = NULL;
	if (d->fo && dd_failover_track(d->fo, st, &err) < 0) {
		log_err("track", "track script %s: %s", st->name, err);
		free(err);
	}
}

/* keepalived's notify_up / notify_down of the real server. */
static void notify_rs(struct dd_daemon *d, const char *service, const struct dd_addr *addr,
		      uint16_t port, bool up, const char *reason)
{
	const struct dd_service *svc = NULL;
	const struct dd_real_server *rs = NULL;
	for (size_t i = 0; !svc && i < d->cfg->n_clusters; i++)
		for (size_t k = 0; !svc && k < d->cfg->clusters[i].n_services; k++)
			if (strcmp(d->cfg->clusters[i].services[k].name, service) == 0)
				svc = &d->cfg->clusters[i].services[k];
	for (size_t r = 0; svc && !rs && r < svc->n_rs; r++)
		if (svc->rs[r].port == port && dd_addr_eq(&svc->rs[r].addr, addr))
			rs = &svc->rs[r];
	if (!rs || !(up ? rs->notify_up : rs->notify_down))
		return;
	size_t n_up = up, n_total = svc->n_rs;
	if (d->fwd)
		dd_fwd_service_counts(d->fwd, service, &n_up, &n_total);
	struct dd_notify_rs_event ev = { .svc = svc, .rs = rs, .up = up, .reason = reason,
					 .n_up = (unsigned)n_up, .n_total = (unsigned)n_total };
	dd_notify_rs_change(d->notify, d->cfg, &ev);
}

/* Health hook, in the main loop: the checker already logged the verdict. */
static void on_health(void *ctx, const char *service, const struct dd_addr *rs, uint16_t port,
		      bool up, const char *reason)
{
	struct dd_daemon *d = ctx;
	if (d->fwd)
		dd_fwd_set_rs_health(d->fwd, service, rs, port, up);
	notify_rs(d, service, rs, port, up, reason);
	size_t n_up, n_total;
	if (d->snmp && d->fwd && dd_fwd_service_counts(d->fwd, service, &n_up, &n_total) == 0)
		dd_snmp_rs_changed(d->snmp, service, rs, port, up, reason, n_up, n_total);
}

static void on_quorum(void *ctx, const struct dd_service *s, bool lost, size_t up, size_t total)
{
	struct dd_daemon *d = ctx;
	dd_snmp_quorum_changed(d->snmp, s->name, lost, up, total);
}

/* The SNMP subagent's copy of the status model is made from the model
 * directorctl gets (snmp/snmp.h). */
static void snmp_snapshot(void *ctx, struct dd_status *st)
{
	struct dd_daemon *d = ctx;
	if (d->ctl) {
		dd_ctlops_fill(d->ctl, st);
		return;
	}
	struct dd_status_src src = { .cfg = d->cfg, .conf_path = d->opts->conf_path, .fwd = d->fwd,
				     .fo = d->fo, .health = d->health, .snmp = d->snmp,
				     .reloads = d->reloads, .reload_failures = d->reload_failures };
	dd_status_fill(st, &src, NULL);
}

static void snmp_release(void *ctx, struct dd_status *st)
{
	dd_status_free(st);
}

static struct dd_snmp_src snmp_src(struct dd_daemon *d)
{
	return (struct dd_snmp_src){ .ctx = d, .snapshot = snmp_snapshot, .release = snmp_release, .fo = &d->fo };
}

/* After every reconcile pass: quorum may have changed (ECMP). */
static void on_fwd_pass(void *ctx)
{
	struct dd_daemon *d = ctx;
	dd_ecmp_sync(d->ecmp);
}

/* The IPVS plane is started or handed the new config. -1 with *err on a
 * fatal error (no IPVS); 1 with *err when operations the kernel refused
 * are left to the background retry (the reload is in force, the kernel
 * not yet all of it); 0 when all of it is in the kernel. */
static int fwd_apply(struct dd_daemon *d, const struct dd_config *cfg, char **err)
{
	if (!d->fwd) {
		if (!needs_fwd(cfg))
			return 0;
		d->fwd = dd_fwd_new(d->loop, cfg, err);
		if (d->fwd) {
			dd_fwd_set_quorum_hook(d->fwd, on_quorum, d);
			dd_fwd_set_pass_hook(d->fwd, on_fwd_pass, d);
		}
		return d->fwd ? 0 : -1;
	}
	char *e = NULL;
	if (dd_fwd_apply_config(d->fwd, cfg, &e) < 0) {
		log_err("ipvs", "reload: %s", e ? e : "IPVS operations failed");
		dd_seterr(err, "IPVS: %s; retried in the background", e ? e : "operations failed");
		free(e);
		return 1;
	}
	return 0;
}

/* 0: applied; -1: rejected, the running config kept; 1: applied, but a
 * part did not take (IPVS). `why`, if given, gets the errors or what did
 * not take (malloc'd), for directorctl reload. */
static int reload_apply(struct dd_daemon *d, char **why);

/* systemd hears RELOADING=1 before and READY=1 after, whatever the
 * outcome: a refused reload still leaves a running, ready daemon. */
static int reload(struct dd_daemon *d, char **why)
{
	char msg[64];
	snprintf(msg, sizeof msg, "RELOADING=1\nMONOTONIC_USEC=%" PRIu64, mono_us());
	sd_notify_send(msg);
	int r = reload_apply(d, why);
	sd_notify_send("READY=1");
	return r;
}

static int reload_apply(struct dd_daemon *d, char **why)
{
	struct dd_conf_errors errs = { 0 };
	log_notice("config", "reloading %s", d->opts->conf_path);
	struct dd_config *next = dd_config_load(d->opts->conf_path, &errs);
	if (!next) {
		log_errors(&errs);
		if (why) {
			struct dd_buf b = { 0 };
			char e[DD_CONF_ERROR_STRLEN];
			for (size_t i = 0; i < errs.n; i++)
				dd_buf_printf(&b, "%s\n", dd_conf_error_str(&errs.v[i], e, sizeof e));
			*why = dd_buf_take(&b);
		}
		log_err("config", "reload rejected: %zu error%s in %s; keeping the running configuration",
			errs.n, errs.n == 1 ? "" : "s", d->opts->conf_path);
		dd_conf_errors_free(&errs);
		d->reload_failures++;
		return -1;
	}
	char *ferr = NULL;
	prepare_state_dir(next);
	if (dd_failover_reload(d->fo, next, &ferr) < 0) {
		log_err("config", "reload rejected: %s; keeping the running configuration",
			ferr ? ferr : "failover");
		if (why)
			*why = ferr;
		else
			free(ferr);
		dd_config_free(next);
		d->reload_failures++;
		return -1;
	}
	/* What did not apply is said to the one who asked (directorctl
	 * reload exits 1 with it), not only logged. */
	int partial = 0;
	int fr = fwd_apply(d, next, &ferr);
	if (fr != 0) {
		/* -1 only when services appear in a config that had none and
		 * IPVS is missing: the failover part is already reloaded, so say
		 * it loudly but keep going with the old services (none). */
		char *w = NULL;
		dd_seterr(&w, "services not applied: %s", ferr ? ferr : "IPVS");
		log_err("config", "reload: %s", w);
		if (why)
			*why = w;
		else
			free(w);
		free(ferr);
		ferr = NULL;
		partial = 1;
	}
	if (d->health)
		dd_health_reload(d->health, next);
	dd_track_reload(d->track, next);
	apply_logging(d, next);
	struct dd_snmp_src ss = snmp_src(d);
	d->snmp = dd_snmp_reconfigure(d->snmp, d->loop, next, &ss);
	dd_ctlops_quiesce(d->ctl);
	dd_config_free(d->cfg);
	d->cfg = next;
	d->reloads++;
	if (d->ctl)
		dd_ctlops_reconfigure(d->ctl);
	dd_ecmp_sync(d->ecmp);
	log_notice("config", "reload applied from %s%s", d->opts->conf_path,
		   partial ? ", but not all of it is in the kernel" : "");
	return partial;
}

static int ctl_reload(void *daemon, char **why)
{
	return reload(daemon, why);
}

/* The control socket and metrics listener see the daemon's fields through
 * pointers, so parts started or replaced later need no call here. */
static void ctl_start(struct dd_daemon *d)
{
	struct dd_ctlops_src src = {
		.cfg = &d->cfg,
		.fo = &d->fo,
		.fwd = &d->fwd,
		.health = &d->health,
		.snmp = &d->snmp,
		.ecmp = &d->ecmp,
		.track = &d->track,
		.conf_path = d->opts->conf_path,
		.reloads = &d->reloads,
		.reload_failures = &d->reload_failures,
		.reload = ctl_reload,
		.daemon = d,
	};
	char *err = NULL;
	d->ctl = dd_ctlops_start(d->loop, &src, &err);
	if (!d->ctl) {
		/* A director without directorctl still forwards and fails over. */
		log_err("ctl", "%s; running without a control socket", err);
		free(err);
	}
}

/* keepalived users send USR1 and USR2 by habit (its data and stats
 * dumps); their default action would kill the daemon with its VIPs up.
 * Here they write what `directorctl status` and `directorctl metrics` say
 * to directord.status and directord.stats beside the pid file, whose
 * directory was already checked to be safe for root to write in. */
static void dump(struct dd_daemon *d, bool counters)
{
	const char *name = counters ? "directord.stats" : "directord.status";
	if (!d->ctl) {
		log_warn("core", "cannot write %s: the control side is not running", name);
		return;
	}
	struct dd_buf b = { 0 };
	dd_ctlops_dump(d->ctl, counters, &b);
	const char *slash = strrchr(d->pid_path, '/');
	char path[4096];
	snprintf(path, sizeof path, "%.*s%s", slash ? (int)(slash - d->pid_path + 1) : 0, d->pid_path, name);
	char *err = NULL;
	char *text = dd_buf_take(&b);
	if (write_file_atomic(path, text, strlen(text), &err) < 0) {
		log_err("core", "cannot write %s: %s", name, err);
		free(err);
	} else {
		log_notice("core", "%s written to %s", counters ? "counters" : "status", path);
	}
	free(text);
}

static void on_ecmp_withdrawn(void *ctx)
{
	struct dd_daemon *d = ctx;
	ev_break(d->loop, EVBREAK_ALL);
}

static void on_signal(struct ev_loop *loop, ev_signal *w, int revents)
{
	struct dd_daemon *d = w->data;
	switch (w->signum) {
	case SIGHUP:
		reload(d, NULL);
		break;
	case SIGUSR1:
	case SIGUSR2:
		dump(d, w->signum == SIGUSR2);
		break;
	case SIGTERM:
	case SIGINT:
	case SIGQUIT:
		if (d->ecmp_stopping) {
			log_notice("core", "%s received again: stopping now", strsignal(w->signum));
			ev_break(loop, EVBREAK_ALL);
			break;
		}
		log_notice("core", "%s received, shutting down", strsignal(w->signum));
		/* ECMP: the routes go first, and established connections get
		 * a bounded moment; on_ecmp_withdrawn stops then. */
		if (dd_ecmp_stop(d->ecmp, on_ecmp_withdrawn, d)) {
			d->ecmp_stopping = true;
			break;
		}
		ev_break(loop, EVBREAK_ALL);
		break;
	}
}

static int daemonize(void)
{
	pid_t pid = fork();
	if (pid < 0)
		return -1;
	if (pid > 0)
		_exit(0);
	if (setsid() < 0)
		return -1;
	pid = fork();
	if (pid < 0)
		return -1;
	if (pid > 0)
		_exit(0);
	if (chdir("/") < 0)
		return -1;
	int fd = open("/dev/null", O_RDWR);
	if (fd < 0)
		return -1;
	dup2(fd, STDIN_FILENO);
	dup2(fd, STDOUT_FILENO);
	dup2(fd, STDERR_FILENO);
	if (fd > STDERR_FILENO)
		close(fd);
	return 0;
}

int dd_daemon_run(struct ev_loop *loop, const struct dd_daemon_opts *opts)
{
	struct dd_daemon d = { .loop = loop, .opts = opts, .pid_fd = -1, .pid_dirfd = -1 };
	struct dd_conf_errors errs = { 0 };

	dd_heap_tune();
	dlog_open("directord", opts->log_stderr ? DLOG_STDERR : DLOG_SYSLOG, LOG_DAEMON);
	d.cfg = dd_config_load(opts->conf_path, &errs);
	if (!d.cfg) {
		/* Before the daemon detaches, the operator is still watching the
		 * terminal: say it there too. */
		dd_conf_errors_print(&errs, stderr);
		log_errors(&errs);
		log_crit("core", "not starting: %zu error%s in %s", errs.n,
			 errs.n == 1 ? "" : "s", opts->conf_path);
		dd_conf_errors_free(&errs);
		return 1;
	}
	apply_logging(&d, d.cfg);
	d.pid_path = xstrdup(opts->pid_file ? opts->pid_file : d.cfg->pid_file);

	if (!opts->foreground && daemonize() < 0) {
		log_crit("core", "cannot detach: %s", strerror(errno));
		free(d.pid_path);
		dd_config_free(d.cfg);
		return 1;
	}
	if (pidfile_take(&d) < 0) {
		free(d.pid_path);
		dd_config_free(d.cfg);
		return 1;
	}
	signal(SIGPIPE, SIG_IGN);
	ctl_start(&d);

	ev_signal_init(&d.sig_term, on_signal, SIGTERM);
	ev_signal_init(&d.sig_int, on_signal, SIGINT);
	ev_signal_init(&d.sig_hup, on_signal, SIGHUP);
	/* QUIT would dump core and leave the VIPs up: stop cleanly instead. */
	ev_signal_init(&d.sig_quit, on_signal, SIGQUIT);
	ev_signal_init(&d.sig_usr1, on_signal, SIGUSR1);
	ev_signal_init(&d.sig_usr2, on_signal, SIGUSR2);
	d.sig_term.data = d.sig_int.data = d.sig_hup.data = d.sig_quit.data = &d;
	d.sig_usr1.data = d.sig_usr2.data = &d;
	ev_signal_start(loop, &d.sig_term);
	ev_signal_start(loop, &d.sig_int);
	ev_signal_start(loop, &d.sig_hup);
	ev_signal_start(loop, &d.sig_quit);
	ev_signal_start(loop, &d.sig_usr1);
	ev_signal_start(loop, &d.sig_usr2);

	d.notify = dd_notify_new(loop);
	d.ecmp = dd_ecmp_new(loop, &d.cfg, &d.fwd, &d.fo);
	char *ferr = NULL;
	/* IPVS first: a director that cannot forward must not take the VIPs
	 * from a peer that can. */
	if (fwd_apply(&d, d.cfg, &ferr) < 0) {
		log_crit("core", "not starting: %s", ferr ? ferr : "IPVS");
		free(ferr);
		dd_ctlops_stop(d.ctl);
		dd_notify_free(d.notify);
		dd_ecmp_free(d.ecmp);
		pidfile_release(&d);
		free(d.pid_path);
		dd_config_free(d.cfg);
		return 1;
	}
	struct dd_health_hooks hh = { .ctx = &d, .changed = on_health };
	d.health = dd_health_new(loop, d.cfg, &hh);
	struct dd_failover_hooks hooks = { .ctx = &d, .role_changed = on_role_changed };
	prepare_state_dir(d.cfg);
	d.fo = dd_failover_new(loop, d.cfg, &hooks, &ferr);
	if (!d.fo) {
		log_crit("core", "not starting: %s", ferr ? ferr : "failover");
		free(ferr);
		dd_ctlops_stop(d.ctl);
		dd_health_free(d.health);
		dd_fwd_free(d.fwd);
		dd_notify_free(d.notify);
		dd_ecmp_free(d.ecmp);
		pidfile_release(&d);
		free(d.pid_path);
		dd_config_free(d.cfg);
		return 1;
	}

	d.track = dd_track_new(loop, d.cfg, on_track, &d);
	dd_ecmp_sync(d.ecmp);
	struct dd_snmp_src ss = snmp_src(&d);
	d.snmp = dd_snmp_new(loop, d.cfg, &ss);

	log_notice("core", "%s started as node %s with %zu cluster%s from %s",
		   PACKAGE_STRING, d.cfg->node_name, d.cfg->n_clusters,
		   d.cfg->n_clusters == 1 ? "" : "s", opts->conf_path);
	sd_notify_send("READY=1");
	watchdog_start(&d);

	ev_run(loop, 0);

	sd_notify_send("STOPPING=1");
	ev_timer_stop(loop, &d.wd.tick);
	/* First: it reads the parts freed below. NULL, because the failover
	 * hook still runs during dd_failover_stop. */
	dd_ctlops_stop(d.ctl);
	d.ctl = NULL;
	dd_track_free(d.track);
	d.track = NULL;
	/* Hand the VIPs to the peer before going away (without a peer they
	 * are removed, as keepalived does on stop); then let the notify
	 * commands of that last role change finish (each is bounded by its
	 * timeout). */
	dd_failover_stop(d.fo, true);
	d.fo = NULL;
	dd_ecmp_free(d.ecmp);
	d.ecmp = NULL;
	/* After the handover: its notifications go out first, and a master
	 * agent that hangs cannot delay the peer's takeover. */
	dd_snmp_free(d.snmp);
	d.snmp = NULL;
	/* The kernel table stays as it is: a restarted director adopts it,
	 * and the peer's connections keep their entries. */
	dd_health_free(d.health);
	dd_fwd_free(d.fwd);
	while (dd_notify_running(d.notify))
		ev_run(loop, EVRUN_ONCE);
	dd_notify_free(d.notify);
	log_notice("core", "stopped");
	pidfile_release(&d);
	free(d.pid_path);
	dd_config_free(d.cfg);
	return 0;
}
