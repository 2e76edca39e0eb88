/* SPDX-License-Identifier: GPL-2.0-or-later */
/* tests/unit/test_health.c: the checker (health/health.c, health/probe.c)
 * driving real probes: exec checks running real commands, and tcp/http
 * checks against a real server on this test's own libev loop, inside a
 * network namespace each test makes for itself (unshare; needs root, as
 * make check runs here). Each test runs in its own forked process (Check's
 * default), which owns the default loop.
 */
#include "config.h"
#include "health/health.h"
#include "lib/log.h"
#include "lib/util.h"

#include <check.h>
#include "tests/unit/ck_run.h"
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <ev.h>

/* ---- building configs in C -------------------------------------------- */

struct cfgb {
	struct dd_config cfg;
	struct dd_cluster cl;
	struct dd_service svc[4];
	struct dd_real_server rs[4][4];
};

static struct dd_check mkcheck(enum dd_check_type t, uint32_t interval, uint32_t timeout,
			       uint32_t rise, uint32_t fall, enum dd_initial init)
{
	struct dd_check c = { .type = t, .interval_ms = interval, .timeout_ms = timeout,
			      .rise = rise, .fall = fall, .initial = init };
	return c;
}

/* One service per call; returns its index. */
static int add_service(struct cfgb *b, const char *name, const char *addr, uint16_t port,
		       const struct dd_check *chk)
{
	int i = (int)b->cl.n_services++;
	struct dd_service *s = &b->svc[i];
	memset(s, 0, sizeof *s);
	snprintf(s->name, sizeof s->name, "%s", name);
	s->check = *chk;
	s->rs = b->rs[i];
	s->n_rs = 1;
	memset(&b->rs[i][0], 0, sizeof b->rs[i][0]);
	ck_assert(dd_addr_parse(addr, &b->rs[i][0].addr));
	b->rs[i][0].port = port;
	b->rs[i][0].check = *chk;
	b->cfg.clusters = &b->cl;
	b->cfg.n_clusters = 1;
	b->cl.services = b->svc;
	return i;
}

/* ---- recording hooks --------------------------------------------------- */

struct event {
	char service[DD_NAME_MAX];
	bool up;
	char reason[160];
};

struct rec {
	struct event ev[64];
	int n;
};

static void on_changed(void *ctx, const char *service, const struct dd_addr *rs, uint16_t port,
		       bool up, const char *reason)
{
	struct rec *r = ctx;
	if (r->n >= 64)
		return;
	struct event *e = &r->ev[r->n++];
	snprintf(e->service, sizeof e->service, "%s", service);
	e->up = up;
	snprintf(e->reason, sizeof e->reason, "%s", reason);
}

static int count_events(const struct rec *r, const char *service, bool up)
{
	int n = 0;
	for (int i = 0; i < r->n; i++)
		n += strcmp(r->ev[i].service, service) == 0 && r->ev[i].up == up;
	return n;
}

/* Runs the loop until pred() or the deadline; returns pred(). */
static void wake_cb(struct ev_loop *loop, ev_timer *w, int revents) { }
static bool run_until(struct ev_loop *loop, double secs, bool (*pred)(void *), void *arg)
{
	ev_timer wake;
	ev_timer_init(&wake, wake_cb, 0.02, 0.02);
	ev_timer_start(loop, &wake);
	double end = mono_now() + secs;
	bool ok;
	while (!(ok = pred(arg)) && mono_now() < end)
		ev_run(loop, EVRUN_ONCE);
	ev_timer_stop(loop, &wake);
	return ok;
}

struct want {
	struct rec *r;
	const char *service;
	bool up;
	int n;
};
static bool have_events(void *arg)
{
	struct want *w = arg;
	return count_events(w->r, w->service, w->up) >= w->n;
}

static char tmpdir[64];
static void mktmp(void)
{
	snprintf(tmpdir, sizeof tmpdir, "/tmp/dd-health-test.XXXXXX");
	ck_assert_ptr_nonnull(mkdtemp(tmpdir));
}
static void rmtmp(void)
{
	char cmd[128];
	snprintf(cmd, sizeof cmd, "rm -rf %s", tmpdir);
	ck_assert_int_eq(system(cmd), 0);
}

static long count_lines(const char *path)
{
	FILE *f = fopen(path, "r");
	if (!f)
		return 0;
	long n = 0;
	int c;
	while ((c = fgetc(f)) != EOF)
		n += c == '\n';
	fclose(f);
	return n;
}

/* ---- exec: fall, rise, sharing ----------------------------------------- */

START_TEST(test_exec_fall_rise_shared)
{
	mktmp();
	char flag[128], count[128], cmd[512];
	snprintf(flag, sizeof flag, "%s/flag", tmpdir);
	snprintf(count, sizeof count, "%s/count", tmpdir);
	ck_assert_int_eq(close(open(flag, O_CREAT | O_WRONLY, 0600)), 0);
	snprintf(cmd, sizeof cmd, "echo \"$DD_RS_ADDR $DD_RS_PORT\" >> %s; test -e %s", count, flag);

	struct ev_loop *loop = ev_default_loop(0);
	struct cfgb b = { 0 };
	struct dd_check c = mkcheck(DD_CHECK_EXEC, 50, 2000, 2, 3, DD_INITIAL_UP);
	c.command = cmd;
	add_service(&b, "web", "198.51.100.21", 80, &c);
	add_service(&b, "web-alt", "198.51.100.21", 80, &c);
	struct rec r = { 0 };
	struct dd_health_hooks hooks = { .ctx = &r, .changed = on_changed };
	struct dd_health *h = dd_health_new(loop, &b.cfg, &hooks);

	struct dd_health_stats st;
	dd_health_get_stats(h, &st);
	ck_assert_uint_eq(st.n_probes, 1);      /* identical checks: one probe */
	ck_assert_uint_eq(st.n_subscribers, 2);

	struct dd_health_rs_status s;
	struct dd_addr a;
	dd_addr_parse("198.51.100.21", &a);
	/* Passing checks keep it UP without a call. */
	bool got;
	do {
		ev_run(loop, EVRUN_ONCE);
		ck_assert(dd_health_get(h, "web", &a, 80, &s));
		got = s.n_checks >= 3;
	} while (!got);
	ck_assert(s.up);
	ck_assert_int_eq(r.n, 0);

	unlink(flag);
	struct want w = { &r, "web", false, 1 };
	ck_assert(run_until(loop, 5, have_events, &w));
	w.service = "web-alt";
	ck_assert(run_until(loop, 1, have_events, &w));
	ck_assert_str_eq(r.ev[0].reason, "exit code 1");
	ck_assert(dd_health_get(h, "web-alt", &a, 80, &s));
	ck_assert(!s.up);
	ck_assert_uint_ge(s.n_failed, 3);
	ck_assert_uint_eq(s.n_shared, 2);

	ck_assert_int_eq(close(open(flag, O_CREAT | O_WRONLY, 0600)), 0);
	w = (struct want){ &r, "web", true, 1 };
	ck_assert(run_until(loop, 5, have_events, &w));
	w.service = "web-alt";
	ck_assert(run_until(loop, 1, have_events, &w));
	ck_assert_int_eq(r.n, 4);

	/* The command ran once per probe, not once per service. */
	ck_assert(dd_health_get(h, "web", &a, 80, &s));
	uint64_t checks = s.n_checks;
	long lines = count_lines(count);
	ck_assert_msg(lines == (long)checks || lines == (long)checks + 1,
		      "command ran %ld times for %llu checks", lines, (unsigned long long)checks);
	FILE *f = fopen(count, "r");
	char line[128];
	ck_assert_ptr_nonnull(fgets(line, sizeof line, f));
	fclose(f);
	ck_assert_str_eq(line, "198.51.100.21 80\n");

	dd_health_free(h);
	rmtmp();
}
END_TEST

/* ---- exec: a hung command is killed with its whole group ------------- */

static bool pid_gone(pid_t pid)
{
	if (kill(pid, 0) < 0 && errno == ESRCH)
		return true;
	/* A zombie waiting for an init that does not reap is gone too. */
	char path[64], buf[256];
	snprintf(path, sizeof path, "/proc/%d/stat", (int)pid);
	FILE *f = fopen(path, "r");
	if (!f)
		return true;
	bool zombie = fgets(buf, sizeof buf, f) && strstr(buf, ") Z ");
	fclose(f);
	return zombie;
}

struct pidfile {
	const char *path;
	pid_t pids[64];
	int n;
};
static void read_pids(struct pidfile *p)
{
	p->n = 0;
	FILE *f = fopen(p->path, "r");
	if (!f)
		return;
	int v;
	while (p->n < 64 && fscanf(f, "%d", &v) == 1)
		p->pids[p->n++] = v;
	fclose(f);
}
static bool all_gone(void *arg)
{
	struct pidfile *p = arg;
	for (int i = 0; i < p->n; i++)
		if (!pid_gone(p->pids[i]))
			return false;
	return true;
}

static bool four_pids(void *arg)
{
	struct pidfile *p = arg;
	read_pids(p);
	return p->n >= 4;
}

struct hstat { struct dd_health *h; const char *svc; struct dd_addr a; uint16_t port; uint64_t n; };
static bool checks_done(void *arg)
{
	struct hstat *x = arg;
	struct dd_health_rs_status s;
	return dd_health_get(x->h, x->svc, &x->a, x->port, &s) && s.n_checks >= x->n;
}

START_TEST(test_exec_timeout_kills_group)
{
	mktmp();
	char pids[128], cmd[512];
	snprintf(pids, sizeof pids, "%s/pids", tmpdir);
	/* A grandchild that would outlive a plain kill of the shell. */
	snprintf(cmd, sizeof cmd, "sleep 1000 & echo $! >> %s; echo $$ >> %s; sleep 1000", pids, pids);
	struct ev_loop *loop = ev_default_loop(0);
	struct cfgb b = { 0 };
	/* interval < timeout: ticks while it hangs must not start a second one */
	struct dd_check c = mkcheck(DD_CHECK_EXEC, 100, 300, 1, 1, DD_INITIAL_UP);
	c.command = cmd;
	add_service(&b, "app", "198.51.100.30", 8080, &c);
	struct rec r = { 0 };
	struct dd_health_hooks hooks = { .ctx = &r, .changed = on_changed };
	struct dd_health *h = dd_health_new(loop, &b.cfg, &hooks);
	struct want w = { &r, "app", false, 1 };
	ck_assert(run_until(loop, 5, have_events, &w));
	ck_assert_str_eq(r.ev[0].reason, "timeout after 300 ms");

	struct hstat x = { h, "app", { 0 }, 8080, 2 };
	dd_addr_parse("198.51.100.30", &x.a);
	ck_assert(run_until(loop, 5, checks_done, &x));
	struct dd_health_stats st;
	dd_health_get_stats(h, &st);
	ck_assert_uint_gt(st.skipped, 0);
	ck_assert_uint_le(st.in_flight, 1);

	/* Everything the finished runs started is gone. */
	struct pidfile pf = { .path = pids };
	/* A run killed before its shell wrote anything leaves no pids: wait
	 * for two runs that did. */
	ck_assert(run_until(loop, 10, four_pids, &pf));
	pf.n -= pf.n % 2; /* a run in progress may have written half its pids */
	struct pidfile done = pf;
	done.n = 4;
	ck_assert(run_until(loop, 3, all_gone, &done));

	/* Freeing the checker kills the run in flight, group and all. */
	dd_health_free(h);
	read_pids(&pf);
	ck_assert(run_until(loop, 3, all_gone, &pf));
	rmtmp();
}
END_TEST

/* ---- reload -------------------------------------------------------------- */

START_TEST(test_reload_keeps_state)
{
	struct ev_loop *loop = ev_default_loop(0);
	struct cfgb b = { 0 };
	struct dd_check c = mkcheck(DD_CHECK_EXEC, 50, 2000, 1, 1, DD_INITIAL_DOWN);
	c.command = (char *)"true";
	add_service(&b, "one", "203.0.113.5", 443, &c);
	struct rec r = { 0 };
	struct dd_health_hooks hooks = { .ctx = &r, .changed = on_changed };
	struct dd_health *h = dd_health_new(loop, &b.cfg, &hooks);
	struct want w = { &r, "one", true, 1 };
	ck_assert(run_until(loop, 5, have_events, &w));
	struct dd_addr a;
	dd_addr_parse("203.0.113.5", &a);
	struct dd_health_rs_status s;
	ck_assert(dd_health_get(h, "one", &a, 443, &s));
	uint64_t before = s.n_checks;

	/* Same check plus a second service sharing it: state kept, and the
	 * newcomer (initially DOWN) is told at once that it is UP. */
	add_service(&b, "two", "203.0.113.5", 443, &c);
	ck_assert_int_eq(dd_health_reload(h, &b.cfg), 0);
	ck_assert_int_eq(count_events(&r, "two", true), 1);
	ck_assert(dd_health_get(h, "one", &a, 443, &s));
	ck_assert(s.up);
	ck_assert_uint_ge(s.n_checks, before);
	ck_assert_uint_eq(s.n_shared, 2);
	ck_assert(dd_health_get(h, "two", &a, 443, &s));
	ck_assert(s.up);

	/* A changed check on the same server is a new probe (counters from
	 * zero) but keeps the server's verdict: no bounce on reload. */
	struct dd_check c2 = c;
	c2.command = (char *)"exit 1";
	b.rs[1][0].check = c2;
	int events = r.n;
	ck_assert_int_eq(dd_health_reload(h, &b.cfg), 0);
	ck_assert_int_eq(r.n, events);
	ck_assert(dd_health_get(h, "two", &a, 443, &s));
	ck_assert(s.up);
	ck_assert_uint_eq(s.n_checks, 0);
	ck_assert_uint_eq(s.n_shared, 1);
	ck_assert(dd_health_get(h, "one", &a, 443, &s));
	ck_assert(s.up);
	ck_assert_uint_eq(s.n_shared, 1);
	/* ...and then judges by its own results. */
	w = (struct want){ &r, "two", false, 1 };
	ck_assert(run_until(loop, 5, have_events, &w));
	ck_assert(dd_health_get(h, "one", &a, 443, &s));
	ck_assert(s.up);

	/* A check on a server not checked before starts from `initial`. */
	struct dd_check c3 = c;
	c3.command = (char *)"sleep 5";
	b.rs[1][0].check = c3;
	ck_assert(dd_addr_parse("203.0.113.6", &b.rs[1][0].addr));
	ck_assert_int_eq(dd_health_reload(h, &b.cfg), 0);
	struct dd_addr a6;
	dd_addr_parse("203.0.113.6", &a6);
	ck_assert(dd_health_get(h, "two", &a6, 443, &s));
	ck_assert(!s.up);
	ck_assert(!dd_health_get(h, "two", &a, 443, &s));

	/* Dropped real servers stop being checked. */
	b.svc[0].n_rs = 0;
	b.svc[1].n_rs = 0;
	ck_assert_int_eq(dd_health_reload(h, &b.cfg), 0);
	struct dd_health_stats st;
	dd_health_get_stats(h, &st);
	ck_assert_uint_eq(st.n_probes, 0);
	ck_assert(!dd_health_get(h, "one", &a, 443, &s));
	dd_health_free(h);
}
END_TEST

/* ---- tcp and http against a real server in a private namespace ---------- */

static void netns_setup(void)
{
	ck_assert_msg(geteuid() == 0, "needs root for a network namespace");
	ck_assert_int_eq(unshare(CLONE_NEWNET), 0);
	ck_assert_int_eq(system("ip link set lo up && ip addr add 198.51.100.1/32 dev lo"), 0);
}

/* A small HTTP server on the test's loop: reads the request head, sends
 * `reply` (or nothing when NULL), closes. */
struct srv {
	struct ev_loop *loop;
	int lfd;
	ev_io lw;
	const char *reply;
	char req[2048];
	size_t req_len;
	unsigned served;
};
struct conn {
	struct srv *s;
	ev_io w;
	char buf[2048];
	size_t len;
};

static void conn_cb(struct ev_loop *loop, ev_io *w, int revents)
{
	struct conn *c = w->data;
	ssize_t n = read(w->fd, c->buf + c->len, sizeof c->buf - 1 - c->len);
	if (n > 0) {
		c->len += (size_t)n;
		c->buf[c->len] = '\0';
		if (!strstr(c->buf, "\r\n\r\n"))
			return;
		memcpy(c->s->req, c->buf, c->len + 1);
		c->s->req_len = c->len;
		if (!c->s->reply)
			return; /* hang: keep the connection, answer nothing */
		ssize_t wr = write(w->fd, c->s->reply, strlen(c->s->reply));
		(void)wr;
		c->s->served++;
	}
	ev_io_stop(loop, w);
	close(w->fd);
	free(c);
}

static void accept_cb(struct ev_loop *loop, ev_io *w, int revents)
{
	struct srv *s = w->data;
	int fd = accept4(s->lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
	if (fd < 0)
		return;
	struct conn *c = xcalloc(1, sizeof *c);
	c->s = s;
	ev_io_init(&c->w, conn_cb, fd, EV_READ);
	c->w.data = c;
	ev_io_start(loop, &c->w);
}

static void srv_listen(struct srv *s, struct ev_loop *loop, uint16_t port)
{
	s->loop = loop;
	s->lfd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	int one = 1;
	setsockopt(s->lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
	struct dd_addr a;
	dd_addr_parse("198.51.100.1", &a);
	struct sockaddr_storage ss;
	socklen_t sl = dd_addr_to_sockaddr(&a, port, &ss);
	ck_assert_int_eq(bind(s->lfd, (struct sockaddr *)&ss, sl), 0);
	ck_assert_int_eq(listen(s->lfd, 64), 0);
	ev_io_init(&s->lw, accept_cb, s->lfd, EV_READ);
	s->lw.data = s;
	ev_io_start(loop, &s->lw);
}

static void srv_close(struct srv *s)
{
	ev_io_stop(s->loop, &s->lw);
	close(s->lfd);
}

START_TEST(test_tcp_refused_then_up)
{
	netns_setup();
	struct ev_loop *loop = ev_default_loop(0);
	struct srv s = { 0 };
	srv_listen(&s, loop, 8080);
	struct cfgb b = { 0 };
	struct dd_check c = mkcheck(DD_CHECK_TCP, 50, 500, 2, 2, DD_INITIAL_DOWN);
	add_service(&b, "tcp", "198.51.100.1", 8080, &c);
	struct rec r = { 0 };
	struct dd_health_hooks hooks = { .ctx = &r, .changed = on_changed };
	struct dd_health *h = dd_health_new(loop, &b.cfg, &hooks);
	struct want w = { &r, "tcp", true, 1 };
	ck_assert(run_until(loop, 5, have_events, &w));
	ck_assert_str_eq(r.ev[0].reason, "ok");
	srv_close(&s);
	w = (struct want){ &r, "tcp", false, 1 };
	ck_assert(run_until(loop, 5, have_events, &w));
	ck_assert_str_eq(r.ev[1].reason, "connection refused");
	dd_health_free(h);
}
END_TEST

START_TEST(test_http_status_body_timeout)
{
	netns_setup();
	struct ev_loop *loop = ev_default_loop(0);
	struct srv s = { 0 };
	s.reply = "HTTP/1.1 503 Service Unavailable\r\nContent-Length: 0\r\n\r\n";
	srv_listen(&s, loop, 80);
	struct cfgb b = { 0 };
	struct dd_check c = mkcheck(DD_CHECK_HTTP, 50, 1000, 1, 1, DD_INITIAL_UP);
	c.path = (char *)"/health";
	c.host = (char *)"www.example.com";
	c.body_match = (char *)"healthy";
	uint16_t codes[] = { 200, 204 };
	c.status = codes;
	c.n_status = 2;
	add_service(&b, "web", "198.51.100.1", 80, &c);
	struct rec r = { 0 };
	struct dd_health_hooks hooks = { .ctx = &r, .changed = on_changed };
	struct dd_health *h = dd_health_new(loop, &b.cfg, &hooks);

	struct want w = { &r, "web", false, 1 };
	ck_assert(run_until(loop, 5, have_events, &w));
	ck_assert_str_eq(r.ev[0].reason, "HTTP status 503");
	ck_assert_msg(strncmp(s.req, "GET /health HTTP/1.1\r\n", 22) == 0, "request: %s", s.req);
	ck_assert_ptr_nonnull(strstr(s.req, "\r\nHost: www.example.com\r\n"));

	s.reply = "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
		  "5\r\nI am \r\n7\r\nhealthy\r\n0\r\n\r\n";
	w = (struct want){ &r, "web", true, 1 };
	ck_assert(run_until(loop, 5, have_events, &w));

	s.reply = "HTTP/1.1 200 OK\r\nContent-Length: 4\r\n\r\nsick";
	w = (struct want){ &r, "web", false, 2 };
	ck_assert(run_until(loop, 5, have_events, &w));
	ck_assert_str_eq(r.ev[2].reason, "body mismatch");

	s.reply = "HTTP/1.1 204 No Content\r\n\r\n"; /* no body, no match possible */
	s.reply = "HTTP/1.0 200 OK\r\n\r\nhealthy, no length";
	w = (struct want){ &r, "web", true, 2 };
	ck_assert(run_until(loop, 5, have_events, &w));

	s.reply = NULL; /* accepts, never answers */
	w = (struct want){ &r, "web", false, 3 };
	ck_assert(run_until(loop, 5, have_events, &w));
	ck_assert_str_eq(r.ev[4].reason, "timeout after 1000 ms");
	dd_health_free(h);
}
END_TEST

START_TEST(test_spread_start)
{
	/* 1000 checks with a 1 s interval start spread over that second, not
	 * in one tick. In a fresh namespace without routes every connect fails
	 * at once, so the probes themselves cost nothing. */
	netns_setup();
	struct ev_loop *loop = ev_default_loop(0);
	static struct dd_real_server rs[1000];
	struct dd_check c = mkcheck(DD_CHECK_TCP, 1000, 500, 1, 1, DD_INITIAL_UP);
	for (int i = 0; i < 1000; i++) {
		memset(&rs[i], 0, sizeof rs[i]);
		dd_addr_parse("192.0.2.10", &rs[i].addr);
		rs[i].port = (uint16_t)(1000 + i);
		rs[i].check = c;
	}
	struct dd_service svc = { .name = "many", .rs = rs, .n_rs = 1000, .check = c };
	struct dd_cluster cl = { .services = &svc, .n_services = 1 };
	struct dd_config cfg = { .clusters = &cl, .n_clusters = 1 };
	double t0 = mono_now();
	struct dd_health *h = dd_health_new(loop, &cfg, NULL);
	struct dd_health_stats st;
	ev_run(loop, EVRUN_ONCE | EVRUN_NOWAIT);
	dd_health_get_stats(h, &st);
	/* Started so far: about 1000 per second elapsed, plus one 4 ms slot;
	 * a burst would start them all at once. */
	double el = mono_now() - t0;
	ck_assert_msg(st.started <= (uint64_t)(1000 * el) + 20, "%llu started after %.3f s",
		      (unsigned long long)st.started, el);
	double end = mono_now() + 5;
	do {
		ev_run(loop, EVRUN_ONCE);
		dd_health_get_stats(h, &st);
	} while (st.started < 1000 && mono_now() < end);
	ck_assert_uint_ge(st.started, 1000);
	struct dd_addr a;
	dd_addr_parse("192.0.2.10", &a);
	struct dd_health_rs_status rst;
	ck_assert(dd_health_get(h, "many", &a, 1000, &rst));
	ck_assert_msg(strncmp(rst.reason, "connect failed: ", 16) == 0, "reason %s", rst.reason);
	dd_health_free(h);
}
END_TEST

/* ---- the real config loader feeding the checker ---------------------- */

START_TEST(test_loaded_config_shares_checks)
{
	mktmp();
	char key[128], text[2048];
	snprintf(key, sizeof key, "%s/hb.key", tmpdir);
	FILE *f = fopen(key, "w");
	fputs("0123456789abcdef0123456789abcdef\n", f);
	fclose(f);
	chmod(key, 0600);
	snprintf(text, sizeof text,
		 "heartbeat = { key_file = \"%s\"; };\n"
		 "clusters = ( { name = \"web\";\n"
		 "  vips = ( { address = \"203.0.113.10/24\"; interface = \"lo\"; } );\n"
		 "  services = (\n"
		 "    { name = \"a\"; protocol = \"tcp\"; address = \"203.0.113.10\"; port = 80;\n"
		 "      check = { type = \"exec\"; command = \"true\"; interval_ms = 50; timeout_ms = 40;\n"
		 "                rise = 1; initial = \"down\"; };\n"
		 "      real_servers = ( { address = \"198.51.100.21\"; port = 80; } ); },\n"
		 "    { name = \"b\"; protocol = \"tcp\"; address = \"203.0.113.10\"; port = 8080;\n"
		 "      check = { type = \"exec\"; command = \"true\"; interval_ms = 50; timeout_ms = 40;\n"
		 "                rise = 1; initial = \"down\"; };\n"
		 "      real_servers = ( { address = \"198.51.100.21\"; port = 80; },\n"
		 "                       { address = \"198.51.100.22\"; port = 80;\n"
		 "                         check = { command = \"exit 3\"; }; } ); }\n"
		 "  ); } );\n", key);
	struct dd_conf_errors errs = { 0 };
	struct dd_config *cfg = dd_config_load_string(text, "test.conf", &errs);
	dd_conf_errors_print(&errs, stderr);
	ck_assert_ptr_nonnull(cfg);
	struct ev_loop *loop = ev_default_loop(0);
	struct rec r = { 0 };
	struct dd_health_hooks hooks = { .ctx = &r, .changed = on_changed };
	struct dd_health *h = dd_health_new(loop, cfg, &hooks);
	struct dd_health_stats st;
	dd_health_get_stats(h, &st);
	ck_assert_uint_eq(st.n_probes, 2);       /* .21 shared by a and b; .22 its own */
	ck_assert_uint_eq(st.n_subscribers, 3);
	struct want w = { &r, "a", true, 1 };
	ck_assert(run_until(loop, 5, have_events, &w));
	w.service = "b";
	ck_assert(run_until(loop, 5, have_events, &w));
	struct dd_addr a22;
	dd_addr_parse("198.51.100.22", &a22);
	struct dd_health_rs_status rs;
	struct hstat x = { h, "b", a22, 80, 3 };
	ck_assert(run_until(loop, 5, checks_done, &x));
	ck_assert(dd_health_get(h, "b", &a22, 80, &rs));
	ck_assert(!rs.up);
	ck_assert_str_eq(rs.reason, "exit code 3");
	dd_health_free(h);
	dd_config_free(cfg);
	dd_conf_errors_free(&errs);
	rmtmp();
}
END_TEST

int main(void)
{
	dlog_set_level(LOG_NOTICE);
	Suite *s = suite_create("health");
	TCase *tc = tcase_create("exec");
	tcase_set_timeout(tc, 30);
	tcase_add_test(tc, test_exec_fall_rise_shared);
	tcase_add_test(tc, test_exec_timeout_kills_group);
	tcase_add_test(tc, test_reload_keeps_state);
	tcase_add_test(tc, test_loaded_config_shares_checks);
	suite_add_tcase(s, tc);
	TCase *tn = tcase_create("netns");
	tcase_set_timeout(tn, 30);
	tcase_add_test(tn, test_tcp_refused_then_up);
	tcase_add_test(tn, test_http_status_body_timeout);
	tcase_add_test(tn, test_spread_start);
	suite_add_tcase(s, tn);
	return dd_ck_run(s);
}
