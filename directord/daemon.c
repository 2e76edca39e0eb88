/* directord/daemon.c: the daemon core's life cycle. Loads the config, takes
 * the pid file, starts the parts, and turns signals into actions: SIGHUP
 * reloads (a bad file keeps the running config), SIGTERM/SIGINT shut down.
 * Everything here runs in the main libev loop. */
#include "config.h"
#include "directord/daemon.h"
#include "conf/model.h"
#include "directord/ctlops.h"
#include "directord/json.h"
#include "directord/failover.h"
#include "directord/fwd.h"
#include "health/health.h"
#include "directord/notify.h"
#include "lib/log.h"
#include "lib/util.h"

#include <errno.h>
#include <ev.h>
#include <fcntl.h>
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
	int pid_fd;
	ev_signal sig_term, sig_int, sig_hup;
	unsigned reloads, reload_failures;
	struct dd_ctlops *ctl;  /* control socket + metrics listener; NULL if it failed */
	struct dd_failover *fo;  /* also without a peer: it holds the VIPs then */
	struct dd_notify *notify;
	struct dd_fwdplane *fwd; /* NULL while no service and no sync is configured */
	struct dd_health *health;
};

static void print_errors(const struct dd_conf_errors *errs, FILE *out)
{
	for (size_t i = 0; i < errs->n; i++) {
		if (errs->v[i].line > 0)
			fprintf(out, "%s:%d: %s\n", errs->v[i].file, errs->v[i].line, errs->v[i].msg);
		else
			fprintf(out, "%s: %s\n", errs->v[i].file, errs->v[i].msg);
	}
}

static void log_errors(const struct dd_conf_errors *errs)
{
	for (size_t i = 0; i < errs->n; i++) {
		if (errs->v[i].line > 0)
			log_err("config", "%s:%d: %s", errs->v[i].file, errs->v[i].line, errs->v[i].msg);
		else
			log_err("config", "%s: %s", errs->v[i].file, errs->v[i].msg);
	}
}

int dd_config_test(const char *path, bool print)
{
	struct dd_conf_errors errs = { 0 };
	struct dd_config *cfg = dd_config_load(path, &errs);
	if (!cfg) {
		print_errors(&errs, stderr);
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
 * the same pid file refuses to start instead of fighting over IPVS. */
static int pidfile_take(struct dd_daemon *d)
{
	int fd = open(d->pid_path, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
	if (fd < 0) {
		log_err("core", "cannot open pid file %s: %s", d->pid_path, strerror(errno));
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
		return -1;
	}
	char buf[32];
	int n = snprintf(buf, sizeof buf, "%ld\n", (long)getpid());
	if (ftruncate(fd, 0) < 0 || pwrite(fd, buf, (size_t)n, 0) != n) {
		log_err("core", "cannot write pid file %s: %s", d->pid_path, strerror(errno));
		close(fd);
		return -1;
	}
	d->pid_fd = fd;
	return 0;
}

static void pidfile_release(struct dd_daemon *d)
{
	if (d->pid_fd < 0)
		return;
	unlink(d->pid_path);
	close(d->pid_fd);
	d->pid_fd = -1;
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

static void apply_logging(const struct dd_daemon *d, const struct dd_config *cfg)
{
	dlog_open("directord", d->opts->log_stderr ? DLOG_STDERR : DLOG_SYSLOG,
		  cfg->alert.syslog_facility);
	dlog_set_level(d->opts->log_level >= 0 ? d->opts->log_level : cfg->alert.log_level);
}

/* The hook names roles; the control side counts them as enum dd_role.
 * "stopped" (the engine stopping while active) is no role and is counted
 * as a change only. */
static enum dd_role role_enum(const char *name)
{
	for (int r = 0; r <= DD_ROLE_MAX; r++)
		if (strcmp(name, dd_role_name((enum dd_role)r)) == 0)
			return (enum dd_role)r;
	return DD_ROLE_INIT;
}

/* Failover hook, in the main loop: the alert itself was logged by the
 * heartbeat thread; here the operator's notify command runs. */
static void on_role_changed(void *ctx, const char *cluster, const char *old_role,
			    const char *new_role, const char *reason)
{
	struct dd_daemon *d = ctx;
	dd_ctlops_role_changed(d->ctl, cluster, role_enum(old_role), role_enum(new_role));
	/* Both directors keep IPVS programmed; a role change only moves the
	 * sync daemon between master and backup. "init" says nothing yet. */
	if (d->fwd && strcmp(new_role, "init"))
		dd_fwd_set_cluster_role(d->fwd, cluster, !strcmp(new_role, "active"));
	struct dd_notify_event ev = { .cluster = cluster, .role = new_role, .old_role = old_role,
				      .reason = reason, .node = d->cfg->node_name };
	char err[256];
	if (d->cfg->alert.notify &&
	    dd_notify_run(d->notify, d->cfg->alert.notify, d->cfg->alert.notify_timeout_ms, &ev,
			  err, sizeof err) < 0)
		log_err("notify", "cluster %s: %s", cluster, err);
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

/* Health hook, in the main loop: the checker already logged the verdict. */
static void on_health(void *ctx, const char *service, const struct dd_addr *rs, uint16_t port,
		      bool up, const char *reason)
{
	(void)reason;
	struct dd_daemon *d = ctx;
	if (d->fwd)
		dd_fwd_set_rs_health(d->fwd, service, rs, port, up);
}

/* The IPVS plane is started or handed the new config; *err set on a fatal
 * error (no IPVS). Refused operations are retried in the background and do
 * not count as failure. */
static int fwd_apply(struct dd_daemon *d, const struct dd_config *cfg, char **err)
{
	if (!d->fwd) {
		if (!needs_fwd(cfg))
			return 0;
		d->fwd = dd_fwd_new(d->loop, cfg, err);
		return d->fwd ? 0 : -1;
	}
	char *e = NULL;
	if (dd_fwd_apply_config(d->fwd, cfg, &e) < 0) {
		log_err("ipvs", "reload: %s", e ? e : "IPVS operations failed");
		free(e);
	}
	return 0;
}

/* `why`, if given, gets the errors of a rejected file (malloc'd), for
 * directorctl reload. */
static int reload(struct dd_daemon *d, char **why)
{
	struct dd_conf_errors errs = { 0 };
	log_notice("config", "reloading %s", d->opts->conf_path);
	struct dd_config *next = dd_config_load(d->opts->conf_path, &errs);
	if (!next) {
		log_errors(&errs);
		if (why) {
			struct dd_buf b = { 0 };
			for (size_t i = 0; i < errs.n; i++)
				dd_buf_printf(&b, "%s:%d: %s\n", errs.v[i].file, errs.v[i].line, errs.v[i].msg);
			*why = dd_buf_take(&b);
		}
		log_err("config", "reload rejected: %zu error%s in %s; keeping the running configuration",
			errs.n, errs.n == 1 ? "" : "s", d->opts->conf_path);
		dd_conf_errors_free(&errs);
		d->reload_failures++;
		return -1;
	}
	char *ferr = NULL;
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
	if (fwd_apply(d, next, &ferr) < 0) {
		/* Only reached when services appear in a config that had none
		 * and IPVS is missing: the failover part is already reloaded,
		 * so say it loudly but keep going with the old services (none). */
		log_err("config", "reload: services not applied: %s", ferr ? ferr : "IPVS");
		free(ferr);
		ferr = NULL;
	}
	if (d->health)
		dd_health_reload(d->health, next);
	apply_logging(d, next);
	dd_config_free(d->cfg);
	d->cfg = next;
	d->reloads++;
	if (d->ctl)
		dd_ctlops_reconfigure(d->ctl);
	log_notice("config", "reload applied from %s", d->opts->conf_path);
	return 0;
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

static void on_signal(struct ev_loop *loop, ev_signal *w, int revents)
{
	struct dd_daemon *d = w->data;
	switch (w->signum) {
	case SIGHUP:
		reload(d, NULL);
		break;
	case SIGTERM:
	case SIGINT:
		log_notice("core", "%s received, shutting down", strsignal(w->signum));
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
	struct dd_daemon d = { .loop = loop, .opts = opts, .pid_fd = -1 };
	struct dd_conf_errors errs = { 0 };

	dlog_open("directord", opts->log_stderr ? DLOG_STDERR : DLOG_SYSLOG, LOG_DAEMON);
	d.cfg = dd_config_load(opts->conf_path, &errs);
	if (!d.cfg) {
		/* Before the daemon detaches, the operator is still watching the
		 * terminal: say it there too. */
		print_errors(&errs, stderr);
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
	d.sig_term.data = d.sig_int.data = d.sig_hup.data = &d;
	ev_signal_start(loop, &d.sig_term);
	ev_signal_start(loop, &d.sig_int);
	ev_signal_start(loop, &d.sig_hup);

	d.notify = dd_notify_new(loop);
	char *ferr = NULL;
	/* IPVS first: a director that cannot forward must not take the VIPs
	 * from a peer that can. */
	if (fwd_apply(&d, d.cfg, &ferr) < 0) {
		log_crit("core", "not starting: %s", ferr ? ferr : "IPVS");
		free(ferr);
		dd_ctlops_stop(d.ctl);
		dd_notify_free(d.notify);
		pidfile_release(&d);
		free(d.pid_path);
		dd_config_free(d.cfg);
		return 1;
	}
	struct dd_health_hooks hh = { .ctx = &d, .changed = on_health };
	d.health = dd_health_new(loop, d.cfg, &hh);
	struct dd_failover_hooks hooks = { .ctx = &d, .role_changed = on_role_changed };
	d.fo = dd_failover_new(loop, d.cfg, &hooks, &ferr);
	if (!d.fo) {
		log_crit("core", "not starting: %s", ferr ? ferr : "failover");
		free(ferr);
		dd_ctlops_stop(d.ctl);
		dd_health_free(d.health);
		dd_fwd_free(d.fwd);
		dd_notify_free(d.notify);
		pidfile_release(&d);
		free(d.pid_path);
		dd_config_free(d.cfg);
		return 1;
	}

	log_notice("core", "%s started as node %s with %zu cluster%s from %s",
		   PACKAGE_STRING, d.cfg->node_name, d.cfg->n_clusters,
		   d.cfg->n_clusters == 1 ? "" : "s", opts->conf_path);
	sd_notify_send("READY=1");

	ev_run(loop, 0);

	sd_notify_send("STOPPING=1");
	/* First: it reads the parts freed below. NULL, because the failover
	 * hook still runs during dd_failover_stop. */
	dd_ctlops_stop(d.ctl);
	d.ctl = NULL;
	/* Hand the VIPs to the peer before going away (without a peer they
	 * are removed, as keepalived does on stop); then let the notify
	 * commands of that last role change finish (each is bounded by its
	 * timeout). */
	dd_failover_stop(d.fo, true);
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
