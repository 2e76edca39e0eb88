/* SPDX-License-Identifier: GPL-2.0-or-later */
/* bench/health/health_runner.c: runs the health checker alone, for the
 * namespace tests (tests/net/test_health.py) and the benchmark
 * (bench/health/run.sh). Owns its default libev loop: it is a program of its
 * own, not part of the daemon.
 *
 * The checks come from a small line file, so that tests and benchmarks do
 * not depend on the config loader:
 *   service NAME
 *   check type=http interval=1000 timeout=500 rise=2 fall=3 initial=down
 *         [port=N] [method=GET] [path=/] [host=H] [status=200,301] [body=S]
 *         [sni=H] [verify=1] [ca=FILE] [send=S] [expect=S] [query=NAME]
 *         [command=REST OF LINE]
 *   rs ADDR PORT
 *   rs_grid ADDR N_ADDRS PORT N_PORTS   (N_ADDRS consecutive IPv4 addresses
 *                                        x N_PORTS consecutive ports)
 * A `check` line applies to the `rs` lines after it in the same service.
 * With -C, FILE is a directord.conf read by the real loader instead.
 *
 * Output: every verdict change as "CHANGE service addr port UP|DOWN reason"
 * on stdout; with --stats N a "STATS ..." line every N seconds; SIGUSR1
 * prints "STATUS ..." lines; SIGHUP reloads the file; SIGTERM/SIGINT stop.
 */
#include "config.h"
#include "conf/conf_int.h" /* dd_check_copy, dd_check_free */
#include "conf/model.h"
#include "health/health.h"
#include "lib/log.h"
#include "lib/util.h"

#include <arpa/inet.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>

#include <ev.h>

struct runner {
	const char *path;
	bool real_config;        /* -C: a directord.conf, through the loader */
	struct dd_health *h;
	struct dd_config *cfg;
	double stats_every;
	struct rusage ru_last;
	double t_last;
};

static enum dd_check_type type_from(const char *s)
{
	enum dd_check_type t;
	if (dd_check_type_parse(s, &t))
		return t;
	fprintf(stderr, "unknown check type %s\n", s);
	exit(2);
}

static void parse_check(char *line, struct dd_check *c)
{
	dd_check_free(c);
	memset(c, 0, sizeof *c);
	c->interval_ms = 2000, c->timeout_ms = 1000, c->rise = 2, c->fall = 3;
	char *save = NULL;
	for (char *tok = strtok_r(line, " \t\n", &save); tok; tok = strtok_r(NULL, " \t\n", &save)) {
		char *eq = strchr(tok, '=');
		if (!eq)
			continue;
		*eq = '\0';
		char *k = tok, *v = eq + 1;
		if (strcmp(k, "command") == 0) {
			/* The rest of the line, spaces included. */
			char *rest = save ? save : v + strlen(v);
			size_t n = strlen(v) + 1 + strlen(rest) + 1;
			c->command = xmalloc(n);
			snprintf(c->command, n, "%s%s%s", v, *rest ? " " : "", rest);
			c->command[strcspn(c->command, "\n")] = '\0';
			break;
		}
		if (strcmp(k, "type") == 0) c->type = type_from(v);
		else if (strcmp(k, "interval") == 0) c->interval_ms = (uint32_t)atoi(v);
		else if (strcmp(k, "timeout") == 0) c->timeout_ms = (uint32_t)atoi(v);
		else if (strcmp(k, "rise") == 0) c->rise = (uint32_t)atoi(v);
		else if (strcmp(k, "fall") == 0) c->fall = (uint32_t)atoi(v);
		else if (strcmp(k, "initial") == 0) c->initial = strcmp(v, "up") == 0 ? DD_INITIAL_UP : DD_INITIAL_DOWN;
		else if (strcmp(k, "port") == 0) c->port = (uint16_t)atoi(v);
		else if (strcmp(k, "method") == 0) c->method = xstrdup(v);
		else if (strcmp(k, "path") == 0) c->path = xstrdup(v);
		else if (strcmp(k, "host") == 0) c->host = xstrdup(v);
		else if (strcmp(k, "body") == 0) c->body_match = xstrdup(v);
		else if (strcmp(k, "sni") == 0) c->sni = xstrdup(v);
		else if (strcmp(k, "verify") == 0) c->verify_tls = atoi(v) != 0;
		else if (strcmp(k, "ca") == 0) c->ca_file = xstrdup(v);
		else if (strcmp(k, "send") == 0) c->send = xstrdup(v);
		else if (strcmp(k, "expect") == 0) c->expect = xstrdup(v);
		else if (strcmp(k, "query") == 0) c->dns_query = xstrdup(v);
		else if (strcmp(k, "status") == 0) {
			for (char *s2 = NULL, *t = strtok_r(v, ",", &s2); t; t = strtok_r(NULL, ",", &s2)) {
				c->status = xrealloc(c->status, (c->n_status + 1) * sizeof *c->status);
				c->status[c->n_status++] = (uint16_t)atoi(t);
			}
		} else {
			fprintf(stderr, "unknown check key %s\n", k);
			exit(2);
		}
	}
}

static void add_rs(struct dd_service *s, const struct dd_addr *a, uint16_t port)
{
	s->rs = xrealloc(s->rs, (s->n_rs + 1) * sizeof *s->rs);
	struct dd_real_server *rs = &s->rs[s->n_rs++];
	memset(rs, 0, sizeof *rs);
	rs->addr = *a;
	rs->port = port;
	rs->weight = 1;
	dd_check_copy(&rs->check, &s->check);
}

/* Built with the malloc family like the loader's, so dd_config_free() frees it. */
static struct dd_config *load(const char *path)
{
	FILE *f = fopen(path, "r");
	if (!f) {
		perror(path);
		return NULL;
	}
	struct dd_config *cfg = xcalloc(1, sizeof *cfg);
	cfg->clusters = xcalloc(1, sizeof *cfg->clusters);
	cfg->n_clusters = 1;
	struct dd_cluster *cl = &cfg->clusters[0];
	struct dd_service *s = NULL;
	char line[4096];
	while (fgets(line, sizeof line, f)) {
		char w[32];
		if (sscanf(line, "%31s", w) != 1 || w[0] == '#')
			continue;
		if (strcmp(w, "service") == 0) {
			cl->services = xrealloc(cl->services, (cl->n_services + 1) * sizeof *cl->services);
			s = &cl->services[cl->n_services++];
			memset(s, 0, sizeof *s);
			sscanf(line, "%*s %63s", s->name);
		} else if (s && strcmp(w, "check") == 0) {
			parse_check(line + 5, &s->check);
		} else if (s && strcmp(w, "rs") == 0) {
			char as[64];
			unsigned port;
			struct dd_addr a;
			if (sscanf(line, "%*s %63s %u", as, &port) != 2 || !dd_addr_parse(as, &a)) {
				fprintf(stderr, "bad line: %s", line);
				exit(2);
			}
			add_rs(s, &a, (uint16_t)port);
		} else if (s && strcmp(w, "rs_grid") == 0) {
			char as[64];
			unsigned na, port, np;
			struct dd_addr a;
			if (sscanf(line, "%*s %63s %u %u %u", as, &na, &port, &np) != 4 ||
			    !dd_addr_parse(as, &a) || a.family != AF_INET) {
				fprintf(stderr, "bad line: %s", line);
				exit(2);
			}
			uint32_t base = ntohl(a.u.v4.s_addr);
			for (unsigned i = 0; i < na; i++)
				for (unsigned j = 0; j < np; j++) {
					struct dd_addr b = a;
					b.u.v4.s_addr = htonl(base + i);
					add_rs(s, &b, (uint16_t)(port + j));
				}
		} else {
			fprintf(stderr, "bad line: %s", line);
			exit(2);
		}
	}
	fclose(f);
	return cfg;
}

static struct dd_config *load_any(const struct runner *r)
{
	if (!r->real_config)
		return load(r->path);
	struct dd_conf_errors errs = { 0 };
	struct dd_config *cfg = dd_config_load(r->path, &errs);
	dd_conf_errors_print(&errs, stderr);
	dd_conf_errors_free(&errs);
	return cfg;
}

static void changed(void *ctx, const char *service, const struct dd_addr *rs, uint16_t port,
		    bool up, const char *reason)
{
	char a[64];
	printf("CHANGE %s %s %u %s %s\n", service, dd_addr_str(rs, a, sizeof a), port,
	       up ? "UP" : "DOWN", reason);
	fflush(stdout);
}

static void print_status(void *arg, const struct dd_health_rs_status *st)
{
	char a[64];
	printf("STATUS %s %s %u %s checks=%llu ok=%llu failed=%llu streak=%u/%u in_state=%.1f tls_resumed=%llu reason=%s\n",
	       st->service, dd_addr_str(&st->addr, a, sizeof a), st->port, st->up ? "UP" : "DOWN",
	       (unsigned long long)st->n_checks, (unsigned long long)st->n_ok,
	       (unsigned long long)st->n_failed, st->streak, st->needed, st->in_state_s,
	       (unsigned long long)st->n_tls_resumed, st->reason);
}

static long rss_kb(void)
{
	FILE *f = fopen("/proc/self/status", "r");
	char line[256];
	long kb = -1;
	while (f && fgets(line, sizeof line, f))
		if (sscanf(line, "VmRSS: %ld", &kb) == 1)
			break;
	if (f)
		fclose(f);
	return kb;
}

static double tv(struct timeval t)
{
	return (double)t.tv_sec + (double)t.tv_usec / 1e6;
}

static void stats_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct runner *r = w->data;
	struct dd_health_stats st;
	dd_health_get_stats(r->h, &st);
	struct rusage ru;
	getrusage(RUSAGE_SELF, &ru);
	double now = mono_now();
	double cpu = tv(ru.ru_utime) + tv(ru.ru_stime) - tv(r->ru_last.ru_utime) - tv(r->ru_last.ru_stime);
	printf("STATS probes=%zu started=%llu skipped=%llu in_flight=%u slip_samples=%llu "
	       "slip_p50_ms=%.1f slip_p99_ms=%.1f slip_max_ms=%.1f cpu_pct=%.1f rss_kb=%ld\n",
	       st.n_probes, (unsigned long long)st.started, (unsigned long long)st.skipped,
	       st.in_flight, (unsigned long long)st.slip_samples, st.slip_p50_ms,
	       st.slip_p99_ms, st.slip_max_ms, 100.0 * cpu / (now - r->t_last), rss_kb());
	fflush(stdout);
	r->ru_last = ru;
	r->t_last = now;
	dd_health_reset_stats(r->h);
}

static void sig_cb(struct ev_loop *loop, ev_signal *w, int revents)
{
	struct runner *r = w->data;
	if (w->signum == SIGUSR1) {
		dd_health_foreach(r->h, print_status, NULL);
		printf("STATUS END\n");
		fflush(stdout);
	} else if (w->signum == SIGHUP) {
		struct dd_config *cfg = load_any(r);
		if (cfg) {
			dd_health_reload(r->h, cfg);
			dd_config_free(r->cfg);
			r->cfg = cfg;
		}
	} else {
		ev_break(loop, EVBREAK_ALL);
	}
}

static void usage(const char *argv0)
{
	fprintf(stderr, "usage: %s [-s stats_secs] [-d duration_secs] [-c io_collect_ms] [-q] [-C] FILE\n",
		argv0);
}

static void stop_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
	ev_break(loop, EVBREAK_ALL);
}

int main(int argc, char **argv)
{
	struct runner r = { 0 };
	double duration = 0;
	int opt;
	double collect = 0;
	while ((opt = getopt(argc, argv, "s:d:qc:C")) != -1) {
		switch (opt) {
		case 'C': r.real_config = true; break;
		case 'c': collect = atof(optarg) / 1000.0; break;
		case 's': r.stats_every = atof(optarg); break;
		case 'd': duration = atof(optarg); break;
		case 'q': dlog_set_level(LOG_NOTICE); break;
		default:
			usage(argv[0]);
			return 2;
		}
	}
	if (optind != argc - 1) {
		usage(argv[0]);
		return 2;
	}
	r.path = argv[optind];
	signal(SIGPIPE, SIG_IGN);
	struct ev_loop *loop = ev_default_loop(EVFLAG_AUTO);
	if (collect > 0) /* batch I/O wakeups: fewer context switches */
		ev_set_io_collect_interval(loop, collect);
	r.cfg = load_any(&r);
	if (!r.cfg)
		return 1;
	struct dd_health_hooks hooks = { .ctx = &r, .changed = changed };
	r.h = dd_health_new(loop, r.cfg, &hooks);
	printf("READY\n");
	fflush(stdout);

	ev_signal sigs[4];
	int signums[] = { SIGUSR1, SIGHUP, SIGTERM, SIGINT };
	for (int i = 0; i < 4; i++) {
		ev_signal_init(&sigs[i], sig_cb, signums[i]);
		sigs[i].data = &r;
		ev_signal_start(loop, &sigs[i]);
	}
	ev_timer stats, stop;
	if (r.stats_every > 0) {
		getrusage(RUSAGE_SELF, &r.ru_last);
		r.t_last = mono_now();
		ev_timer_init(&stats, stats_cb, r.stats_every, r.stats_every);
		stats.data = &r;
		ev_timer_start(loop, &stats);
	}
	if (duration > 0) {
		ev_timer_init(&stop, stop_cb, duration, 0);
		ev_timer_start(loop, &stop);
	}
	ev_run(loop, 0);
	dd_health_free(r.h);
	dd_config_free(r.cfg);
	ev_loop_destroy(loop);
	return 0;
}
