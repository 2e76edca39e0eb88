/* SPDX-License-Identifier: GPL-2.0-or-later */
/* tests/unit/test_conf.c: the config loader, validator and printer.
 *
 * Every validation rule has one bad snippet here, asserting the exact
 * "FILE:LINE: message" lines. The golden files under tests/conf/ and the
 * examples under conf/examples/ are loaded and round-tripped (load, print,
 * load, print: same text). Key files are created in a temp dir with the
 * mode each test needs, since git does not keep file modes.
 * Single-threaded; no network.
 */
#include "config.h"
#include "conf/conf_int.h"

#include <check.h>
#include "lib/util.h"
#include "tests/unit/ck_run.h"
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <syslog.h>
#include <unistd.h>

#ifndef DD_SRCDIR
#define DD_SRCDIR "."
#endif

/* ---- helpers --------------------------------------------------------- */

static char tmpdir[256];
static char keypath[300];

static void write_file(const char *path, const char *text, mode_t mode)
{
	unlink(path);
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, mode);
	ck_assert_int_ge(fd, 0);
	size_t n = strlen(text);
	ck_assert_int_eq(write(fd, text, n), (ssize_t)n);
	ck_assert_int_eq(fchmod(fd, mode), 0);
	close(fd);
}

static void setup(void)
{
	snprintf(tmpdir, sizeof tmpdir, "/tmp/test_conf.XXXXXX");
	ck_assert_ptr_nonnull(mkdtemp(tmpdir));
	snprintf(keypath, sizeof keypath, "%s/hb.key", tmpdir);
	write_file(keypath, "0123456789abcdef0123456789abcdef", 0600);
}

static void rm_rf(const char *dir)
{
	DIR *d = opendir(dir);
	if (!d)
		return;
	struct dirent *e;
	while ((e = readdir(d))) {
		if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
			continue;
		char p[600];
		snprintf(p, sizeof p, "%s/%s", dir, e->d_name);
		struct stat st;
		if (lstat(p, &st) == 0 && S_ISDIR(st.st_mode))
			rm_rf(p);
		else
			unlink(p);
	}
	closedir(d);
	rmdir(dir);
}

static void teardown(void)
{
	rm_rf(tmpdir);
}

static char *fmt(const char *f, ...) __attribute__((format(printf, 1, 2)));
static char *fmt(const char *f, ...)
{
	va_list ap;
	char *s;
	va_start(ap, f);
	ck_assert_int_ge(vasprintf(&s, f, ap), 0);
	va_end(ap);
	return s;
}

/* All errors as "FILE:LINE: msg\n" lines, as every program shows them. */
static char *errs_text(const struct dd_conf_errors *e)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);
	dd_conf_errors_print(e, f);
	fclose(f);
	return buf;
}

static struct dd_config *load_ok(const char *text)
{
	struct dd_conf_errors e = { 0 };
	struct dd_config *c = dd_config_load_string(text, "directord.conf", &e);
	if (!c) {
		char *t = errs_text(&e);
		ck_abort_msg("config did not load:\n%s\n--- text:\n%s", t, text);
	}
	ck_assert_uint_eq(e.n, 0);
	return c;
}

/* The load must fail with exactly `want` (newline-separated lines). */
static void expect_errors(const char *text, const char *want)
{
	struct dd_conf_errors e = { 0 };
	struct dd_config *c = dd_config_load_string(text, "directord.conf", &e);
	char *got = errs_text(&e);
	ck_assert_msg(c == NULL, "config loaded but should fail with:\n%s", want);
	ck_assert_msg(strcmp(got, want) == 0, "errors differ\n--- want:\n%s--- got:\n%s--- text:\n%s",
		      want, got, text);
	free(got);
	dd_conf_errors_free(&e);
}

/* Line 4: service keys; line 6: real-server keys (with a default address
 * unless they set one). */
static char *svc_cfg(const char *svc_extra, const char *rs_extra)
{
	return fmt("node = \"lb1\";\n"
		   "clusters = ( { name = \"web\"; vips = ( { address = \"203.0.113.10/24\"; interface = \"eth0\"; } );\n"
		   "  services = ( { protocol = \"tcp\"; address = \"203.0.113.10\"; port = 80;\n"
		   "    %s\n"
		   "    real_servers = ( {\n"
		   "      %s%s\n"
		   "    } ); } ); } );\n", svc_extra,
		   strstr(rs_extra, "address") ? "" : "address = \"198.51.100.21\"; ", rs_extra);
}

/* Line 3: cluster keys. */
static char *cl_cfg(const char *cl_extra)
{
	return fmt("node = \"lb1\";\n"
		   "clusters = ( { name = \"web\";\n"
		   "  %s\n"
		   "} );\n", cl_extra);
}

/* Line 2: top-level keys. */
static char *top_cfg(const char *extra)
{
	return fmt("node = \"lb1\";\n%s\nclusters = ( );\n", extra);
}

static void expect_svc(const char *svc_extra, const char *rs_extra, const char *want)
{
	char *t = svc_cfg(svc_extra, rs_extra);
	expect_errors(t, want);
	free(t);
}

static void expect_cl(const char *extra, const char *want)
{
	char *t = cl_cfg(extra);
	expect_errors(t, want);
	free(t);
}

static void expect_top(const char *extra, const char *want)
{
	char *t = top_cfg(extra);
	expect_errors(t, want);
	free(t);
}

static char *roundtrip(const char *text, const char *name)
{
	struct dd_conf_errors e = { 0 };
	struct dd_config *c = dd_config_load_string(text, name, &e);
	if (!c) {
		char *t = errs_text(&e);
		ck_abort_msg("%s did not load:\n%s", name, t);
	}
	char *p1 = dd_config_print(c);
	dd_config_free(c);
	c = dd_config_load_string(p1, name, &e);
	if (!c) {
		char *t = errs_text(&e);
		ck_abort_msg("printed %s did not load:\n%s\n%s", name, t, p1);
	}
	char *p2 = dd_config_print(c);
	dd_config_free(c);
	ck_assert_msg(strcmp(p1, p2) == 0, "%s: print is not a fixed point:\n%s\n---\n%s", name, p1, p2);
	free(p2);
	return p1;
}

static char *slurp(const char *path)
{
	FILE *f = fopen(path, "r");
	ck_assert_msg(f != NULL, "cannot open %s: %s", path, strerror(errno));
	char *buf = NULL;
	size_t len = 0;
	FILE *m = open_memstream(&buf, &len);
	char chunk[4096];
	size_t n;
	while ((n = fread(chunk, 1, sizeof chunk, f)) > 0)
		fwrite(chunk, 1, n, m);
	fclose(f);
	fclose(m);
	return buf;
}

/* Copy a config into the temp dir next to a 0600 key file named as the
 * example names it, so relative key_file paths resolve there. */
static char *stage(const char *src, const char **out_name)
{
	char *text = slurp(src);
	const char *base = strrchr(src, '/') ? strrchr(src, '/') + 1 : src;
	static char name[600];
	snprintf(name, sizeof name, "%s/%s", tmpdir, base);
	write_file(name, text, 0644);
	const char *k = strstr(text, "key_file");
	if (k) {
		const char *q = strchr(k, '"');
		const char *q2 = q ? strchr(q + 1, '"') : NULL;
		if (q2 && q2 > q + 1) {
			char rel[256];
			snprintf(rel, sizeof rel, "%.*s", (int)(q2 - q - 1), q + 1);
			char kp[900];
			snprintf(kp, sizeof kp, "%s/%s", tmpdir, rel);
			if (rel[0] != '/')
				write_file(kp, "0123456789abcdef0123456789abcdef", 0600);
		}
	}
	*out_name = name;
	return text;
}

/* ---- defaults and merging -------------------------------------------- */

START_TEST(defaults)
{
	struct dd_config *c = load_ok(
		"clusters = ( { name = \"web\";\n"
		"  vips = ( { address = \"203.0.113.10\"; interface = \"eth0\"; } );\n"
		"  services = ( { protocol = \"tcp\"; address = \"203.0.113.10\"; port = 80;\n"
		"    real_servers = ( { address = \"198.51.100.21\"; } ); } ); } );\n");
	char host[256] = "";
	gethostname(host, sizeof host - 1);
	ck_assert_str_eq(c->node_name, host);
	ck_assert_str_eq(c->path, "directord.conf");
	ck_assert_int_eq(c->alert.syslog_facility, LOG_DAEMON);
	ck_assert_int_eq(c->alert.log_level, LOG_INFO);
	ck_assert_ptr_null(c->alert.notify);
	ck_assert_uint_eq(c->alert.notify_timeout_ms, 10000);
	ck_assert_uint_eq(c->control.mode, 0660);
	ck_assert_ptr_null(c->control.group);
	ck_assert_ptr_null(c->control.metrics_listen);
	ck_assert_uint_eq(c->control.max_clients, 32);
	ck_assert_uint_eq(c->control.max_clients_per_uid, 8);
	ck_assert_uint_eq(c->control.metrics_max_clients, 16);
	ck_assert_ptr_nonnull(strstr(c->control.socket_path, "directord.sock"));
	ck_assert_ptr_nonnull(strstr(c->pid_file, "directord.pid"));
	ck_assert_uint_eq(c->hb.port, 7694);
	ck_assert_uint_eq(c->hb.interval_ms, 50);
	ck_assert_uint_eq(c->hb.dead_ms, 200);
	ck_assert_uint_eq(c->hb.dscp, 48);
	ck_assert_uint_eq(c->hb.n_peers, 0);
	ck_assert_ptr_null(c->hb.key_file);
	ck_assert_int_eq(c->hb.mcast_group.family, 0);
	ck_assert_ptr_nonnull(strstr(c->hb.state_file, "lib/directord/generation"));
	ck_assert(!c->sync.enabled);
	ck_assert_uint_eq(c->n_clusters, 1);
	struct dd_cluster *cl = &c->clusters[0];
	ck_assert_uint_eq(cl->priority, 100);
	ck_assert(!cl->failback);
	ck_assert_uint_eq(cl->ping_interval_ms, 1000);
	ck_assert_uint_eq(cl->ping_timeout_ms, 1000);
	ck_assert_uint_eq(cl->ping_fall, 3);
	ck_assert_uint_eq(cl->garp.count, 5);
	ck_assert_uint_eq(cl->garp.interval_ms, 200);
	ck_assert_int_eq(cl->garp.mode, DD_GARP_REQUEST);
	ck_assert_uint_eq(cl->garp.refresh_ms, 0);
	ck_assert_int_eq(cl->gateway.family, 0);
	ck_assert_uint_eq(cl->n_vips, 1);
	ck_assert_int_eq(cl->vips[0].prefix, 32);
	ck_assert_str_eq(cl->vips[0].ifname, "eth0");
	ck_assert_int_eq(cl->vips[0].line, 2);
	struct dd_service *s = &cl->services[0];
	ck_assert_str_eq(s->name, "tcp/203.0.113.10:80");
	ck_assert_int_eq(s->proto, DD_PROTO_TCP);
	ck_assert_str_eq(s->scheduler, "wlc");
	ck_assert_int_eq(s->fwd, DD_FWD_DR);
	ck_assert_uint_eq(s->persistence_timeout_s, 0);
	ck_assert_int_eq(s->persistence_prefix, 32);
	ck_assert_uint_eq(s->quorum, 1);
	ck_assert_int_eq(s->removal, DD_REMOVAL_DRAIN);
	ck_assert_uint_eq(s->drain_ms, 30000);
	ck_assert(!s->has_sorry);
	ck_assert_int_eq(s->line, 3);
	ck_assert_int_eq(s->check.type, DD_CHECK_TCP);
	ck_assert_uint_eq(s->check.interval_ms, 2000);
	ck_assert_uint_eq(s->check.timeout_ms, 1000);
	ck_assert_uint_eq(s->check.rise, 2);
	ck_assert_uint_eq(s->check.fall, 3);
	ck_assert_int_eq(s->check.initial, DD_INITIAL_DOWN);
	ck_assert_str_eq(s->check.method, "GET");
	ck_assert_str_eq(s->check.path, "/");
	ck_assert_uint_eq(s->check.n_status, 1);
	ck_assert_uint_eq(s->check.status[0], 200);
	ck_assert_uint_eq(s->n_rs, 1);
	struct dd_real_server *rs = &s->rs[0];
	ck_assert_uint_eq(rs->port, 80);
	ck_assert_uint_eq(rs->weight, 1);
	ck_assert_int_eq(rs->fwd, DD_FWD_DR);
	ck_assert_int_eq(rs->check.type, DD_CHECK_TCP);
	ck_assert_int_eq(rs->line, 4);
	dd_config_free(c);
}
END_TEST

START_TEST(check_merge)
{
	char *t = svc_cfg("forward = \"nat\"; check = { type = \"http\"; interval_ms = 5000; timeout_ms = 700; "
			  "rise = 4; path = \"/health\"; host = \"www.example.com\"; status = [ 200, 204 ]; };",
			  "forward = \"dr\"; check = { path = \"/other\"; fall = 7; };");
	struct dd_config *c = load_ok(t);
	free(t);
	struct dd_service *s = &c->clusters[0].services[0];
	struct dd_check *k = &s->rs[0].check;
	ck_assert_int_eq(s->fwd, DD_FWD_NAT);
	ck_assert_int_eq(s->rs[0].fwd, DD_FWD_DR);
	ck_assert_int_eq(k->type, DD_CHECK_HTTP);
	ck_assert_uint_eq(k->interval_ms, 5000);
	ck_assert_uint_eq(k->timeout_ms, 700);
	ck_assert_uint_eq(k->rise, 4);
	ck_assert_uint_eq(k->fall, 7);
	ck_assert_str_eq(k->path, "/other");
	ck_assert_str_eq(k->host, "www.example.com");
	ck_assert_str_eq(k->method, "GET");
	ck_assert_uint_eq(k->n_status, 2);
	ck_assert_uint_eq(k->status[1], 204);
	/* the service's own check keeps its values */
	ck_assert_str_eq(s->check.path, "/health");
	ck_assert_uint_eq(s->check.fall, 3);
	/* separate copies: freeing one must not free the other (ASan) */
	ck_assert_ptr_ne(k->host, s->check.host);
	dd_config_free(c);

	/* a real server may switch type; inherited http keys are unused */
	t = svc_cfg("check = { type = \"http\"; path = \"/h\"; };",
		    "check = { type = \"exec\"; command = \"/bin/true\"; };");
	c = load_ok(t);
	free(t);
	ck_assert_int_eq(c->clusters[0].services[0].rs[0].check.type, DD_CHECK_EXEC);
	ck_assert_str_eq(c->clusters[0].services[0].rs[0].check.command, "/bin/true");
	dd_config_free(c);
}
END_TEST

START_TEST(all_keys_parse)
{
	char *t = fmt(
		"node = \"lb1\"; pid_file = \"/run/x.pid\";\n"
		"logging = { facility = \"local3\"; level = \"debug\"; notify = \"/bin/n\"; notify_timeout_ms = 500; };\n"
		"control = { socket = \"/run/x.sock\"; group = \"root\"; mode = \"0600\"; metrics_listen = \"[::1]:9469\";\n"
		"  max_clients = 64; max_clients_per_uid = 2; metrics_max_clients = 4; };\n"
		"heartbeat = { key_file = \"%s\"; port = 7000; interval_ms = 20; dead_ms = 100; dscp = 46;\n"
		"  state_file = \"gen\"; multicast_group = \"239.255.77.77\";\n"
		"  peers = ( { name = \"lb2\"; links = ( { local = \"192.0.2.1\"; interface = \"eth1\"; } ); } ); };\n"
		"sync = { enabled = true; interface = \"eth1\"; syncid = 7; tcp_timeout_s = 900; tcpfin_timeout_s = 120; udp_timeout_s = 300; sloppy = true; };\n"
		"clusters = ( { name = \"web\"; priority = 150; failback = true; failback_delay_ms = 5000;\n"
		"  track_interfaces = [ \"eth0\", \"eth1\" ]; ping_targets = [ \"203.0.113.254\", \"2001:db8::fe\" ];\n"
		"  gateway = \"203.0.113.1\"; ping_interval_ms = 500; ping_timeout_ms = 400; ping_fall = 4;\n"
		"  garp = { count = 3; interval_ms = 100; mode = \"reply\"; refresh_ms = 60000; };\n"
		"  vips = ( { address = \"203.0.113.10/24\"; interface = \"eth0\"; label = \"eth0:web\"; } );\n"
		"  services = ( { name = \"dns\"; protocol = \"udp\"; address = \"203.0.113.10\"; port = 53;\n"
		"    scheduler = \"mh\"; forward = \"tun\"; persistence_timeout_s = 300; persistence_netmask = \"255.255.255.0\";\n"
		"    ops = true; sched_flags = [ \"mh-port\" ]; quorum = 2; quorum_hysteresis = 1;\n"
		"    sorry_server = { address = \"198.51.100.99\"; }; removal = \"remove\"; drain_ms = 0;\n"
		"    check = { type = \"dns\"; dns_query = \"example.com\"; initial = \"up\"; port = 5353; };\n"
		"    real_servers = ( { address = \"198.51.100.21\"; weight = 0; upper_threshold = 100; lower_threshold = 50; slow_start_ms = 2000; },\n"
		"                     { address = \"2001:db8::21\"; port = 5300; check = { type = \"udp\"; send = \"ping\"; expect = \"pong\"; }; } ); } ); } );\n",
		keypath);
	struct dd_config *c = load_ok(t);
	free(t);
	ck_assert_str_eq(c->pid_file, "/run/x.pid");
	ck_assert_int_eq(c->alert.syslog_facility, LOG_LOCAL3);
	ck_assert_int_eq(c->alert.log_level, LOG_DEBUG);
	ck_assert_str_eq(c->alert.notify, "/bin/n");
	ck_assert_uint_eq(c->alert.notify_timeout_ms, 500);
	ck_assert_str_eq(c->control.group, "root");
	ck_assert_uint_eq(c->control.mode, 0600);
	ck_assert_str_eq(c->control.metrics_listen, "[::1]:9469");
	ck_assert_uint_eq(c->control.max_clients, 64);
	ck_assert_uint_eq(c->control.max_clients_per_uid, 2);
	ck_assert_uint_eq(c->control.metrics_max_clients, 4);
	ck_assert_str_eq(c->hb.key_file, keypath);
	ck_assert_uint_eq(c->hb.port, 7000);
	ck_assert_uint_eq(c->hb.dscp, 46);
	char *gen = fmt("%s/gen", getcwd((char[512]){ 0 }, 512));
	ck_assert_str_eq(c->hb.state_file, gen); /* relative: against the file's dir (cwd here) */
	free(gen);
	ck_assert_int_eq(c->hb.mcast_group.family, AF_INET);
	ck_assert_uint_eq(c->hb.n_peers, 1);
	ck_assert_int_eq(c->hb.peers[0].links[0].remote.family, 0);
	ck_assert_str_eq(c->hb.peers[0].links[0].ifname, "eth1");
	ck_assert(c->sync.enabled && c->sync.sloppy);
	ck_assert_uint_eq(c->sync.syncid, 7);
	struct dd_cluster *cl = &c->clusters[0];
	ck_assert(cl->failback);
	ck_assert_uint_eq(cl->n_track_ifs, 2);
	ck_assert_str_eq(cl->track_ifs[1], "eth1");
	ck_assert_uint_eq(cl->n_ping_targets, 2);
	ck_assert_int_eq(cl->ping_targets[1].family, AF_INET6);
	ck_assert_int_eq(cl->garp.mode, DD_GARP_REPLY);
	ck_assert_str_eq(cl->vips[0].label, "eth0:web");
	ck_assert_int_eq(cl->vips[0].prefix, 24);
	struct dd_service *s = &cl->services[0];
	ck_assert_int_eq(s->proto, DD_PROTO_UDP);
	ck_assert_int_eq(s->persistence_prefix, 24);
	ck_assert(s->ops && s->sched_flags.port && !s->sched_flags.fallback);
	ck_assert(s->has_sorry);
	ck_assert_uint_eq(s->sorry_port, 53);
	ck_assert_int_eq(s->removal, DD_REMOVAL_REMOVE);
	ck_assert_int_eq(s->check.initial, DD_INITIAL_UP);
	ck_assert_uint_eq(s->rs[0].weight, 0);
	ck_assert_uint_eq(s->rs[0].upper_threshold, 100);
	/* IPv6 real server behind an IPv4 service: allowed with tun */
	ck_assert_int_eq(s->rs[1].addr.family, AF_INET6);
	ck_assert_int_eq(s->rs[1].check.type, DD_CHECK_UDP);
	ck_assert_str_eq(s->rs[1].check.send, "ping");
	ck_assert_str_eq(s->rs[1].check.dns_query, "example.com"); /* merged, unused */
	char *p0 = dd_config_print(c);
	char *p = roundtrip(p0, "directord.conf");
	free(p0);
	free(p);
	dd_config_free(c);
}
END_TEST

START_TEST(ipv6_and_fwmark)
{
	struct dd_config *c = load_ok(
		"node = \"lb1\";\n"
		"clusters = ( { name = \"v6\";\n"
		"  vips = ( { address = \"2001:db8::10/64\"; interface = \"eth0\"; } );\n"
		"  services = ( { protocol = \"tcp\"; address = \"2001:db8::10\"; port = 443; persistence_netmask = 64;\n"
		"      real_servers = ( { address = \"2001:db8:1::21\"; } ); },\n"
		"    { fwmark = 1; family = \"inet6\"; check = { port = 80; };\n"
		"      real_servers = ( { address = \"2001:db8:1::21\"; }, { address = \"2001:db8:1::22\"; port = 8080; } ); },\n"
		"    { fwmark = 1; real_servers = ( { address = \"198.51.100.21\"; check = { port = 80; }; } ); },\n"
		"    { fwmark = 4000000000L; check = { type = \"exec\"; command = \"true\"; };\n"
		"      real_servers = ( { address = \"198.51.100.21\"; } ); } ); } );\n");
	struct dd_cluster *cl = &c->clusters[0];
	ck_assert_int_eq(cl->vips[0].addr.family, AF_INET6);
	ck_assert_int_eq(cl->vips[0].prefix, 64);
	ck_assert_str_eq(cl->services[0].name, "tcp/[2001:db8::10]:443");
	ck_assert_int_eq(cl->services[0].persistence_prefix, 64);
	struct dd_service *f = &cl->services[1];
	ck_assert_int_eq(f->proto, DD_PROTO_FWMARK);
	ck_assert_str_eq(f->name, "fwmark/1/inet6");
	ck_assert_int_eq(f->af, AF_INET6);
	ck_assert_uint_eq(f->fwmark, 1);
	ck_assert_int_eq(f->persistence_prefix, 128);
	ck_assert_uint_eq(f->rs[0].port, 0);
	ck_assert_uint_eq(f->rs[1].port, 8080);
	ck_assert_str_eq(cl->services[2].name, "fwmark/1");
	ck_assert_int_eq(cl->services[2].af, AF_INET);
	ck_assert_uint_eq(cl->services[3].fwmark, 4000000000u);
	char *p0 = dd_config_print(c);
	char *p = roundtrip(p0, "directord.conf");
	free(p0);
	ck_assert_ptr_nonnull(strstr(p, "fwmark = 4000000000L;"));
	free(p);
	dd_config_free(c);
}
END_TEST

START_TEST(collects_all_errors)
{
	expect_errors("node = \"lb1\";\n"
		      "bogus = 1;\n"
		      "heartbeat = { port = 0; dscp = 99; };\n"
		      "clusters = ( { name = \"web\"; priority = 0; } );\n",
		      "directord.conf:2: unknown key 'bogus' at top level\n"
		      "directord.conf:3: port 0 is out of range (1..65535)\n"
		      "directord.conf:3: dscp 99 is out of range (0..63)\n"
		      "directord.conf:4: priority 0 is out of range (1..254)\n");
}
END_TEST

/* ---- syntax ---------------------------------------------------------- */

START_TEST(syntax_errors)
{
	expect_errors("node = \"a\";\nclusters = ( { name = \"x\" ;\n",
		      "directord.conf:3: syntax error\n");
	expect_errors("node = \"a\";\n\nx = { ;\n", "directord.conf:3: syntax error\n");
	expect_errors("a = 1;\na = 2;\n", "directord.conf:2: duplicate setting name\n");
	expect_errors("node = \"a\";\n\"b\";\n", "directord.conf:2: syntax error\n");
	/* libconfig would wrap these to 80 and -1 */
	expect_errors("heartbeat = {\n port = 4294967376; dscp = 0xFFFFFFFF; };\n",
		      "directord.conf:2: integer 4294967376 is too large for libconfig (at most 2147483647, or add L)\n"
		      "directord.conf:2: integer 0xFFFFFFFF is too large for libconfig (at most 2147483647, or add L)\n");
	/* libconfig leaks on this one, so the loader catches it first */
	expect_errors("node = \"a\";\nclusters = ( { name = \"web;\n } );\n",
		      "directord.conf:2: string is not closed (missing \")\n");
	expect_errors("node = \"a\";\n@include \"/etc/passwd\"\n",
		      "directord.conf:2: @include is not allowed here\n");
}
END_TEST

/* ---- unknown keys, types, ranges ------------------------------------- */

START_TEST(unknown_keys)
{
	expect_svc("", "wieght = 2;", "directord.conf:6: unknown key 'wieght' in real server\n");
	expect_svc("schedular = \"rr\";", "", "directord.conf:4: unknown key 'schedular' in service\n");
	expect_svc("check = { typ = \"tcp\"; };", "", "directord.conf:4: unknown key 'typ' in check\n");
	expect_svc("sorry_server = { address = \"198.51.100.9\"; prt = 1; };", "",
		   "directord.conf:4: unknown key 'prt' in sorry_server\n");
	expect_cl("vips = ( { address = \"203.0.113.10\"; interface = \"eth0\"; lable = \"x\"; } );",
		  "directord.conf:3: unknown key 'lable' in vip\n");
	expect_cl("garp = { cnt = 1; };", "directord.conf:3: unknown key 'cnt' in garp\n");
	expect_cl("advert_int = 1;", "directord.conf:3: unknown key 'advert_int' in cluster\n");
	expect_top("logging = { facilty = \"daemon\"; };", "directord.conf:2: unknown key 'facilty' in logging\n");
	expect_top("control = { sock = \"/x\"; };", "directord.conf:2: unknown key 'sock' in control\n");
	expect_top("sync = { enable = true; };", "directord.conf:2: unknown key 'enable' in sync\n");
	expect_top("heartbeat = { interval = 5; };", "directord.conf:2: unknown key 'interval' in heartbeat\n");
	expect_top("heartbeat = { peers = ( { name = \"lb2\"; link = 1; links = ( { local = \"192.0.2.1\"; remote = \"192.0.2.2\"; peer = 1; } ); } ); };",
		   "directord.conf:2: unknown key 'link' in peer\n"
		   "directord.conf:2: unknown key 'peer' in link\n"
		   "directord.conf:2: heartbeat needs key_file when peers are configured\n");
}
END_TEST

START_TEST(wrong_types)
{
	expect_svc("", "port = \"80\";", "directord.conf:6: port must be an integer\n");
	expect_svc("ops = 1;", "", "directord.conf:4: ops must be true or false\n");
	expect_svc("scheduler = 5;", "", "directord.conf:4: scheduler must be a string\n");
	expect_svc("check = 5;", "", "directord.conf:4: check must be a group { ... }\n");
	expect_svc("", "weight = 1.5;", "directord.conf:6: weight must be an integer\n");
	expect_cl("vips = { address = \"203.0.113.10\"; };", "directord.conf:3: vips must be a list ( { ... }, ... )\n");
	expect_cl("vips = ( \"203.0.113.10\" );", "directord.conf:3: vip must be a group { ... }\n");
	expect_cl("track_interfaces = \"eth0\";", "directord.conf:3: track_interfaces must be a list [ ... ]\n");
	expect_top("control = { mode = 660; };",
		   "directord.conf:2: mode must be an octal string such as \"0660\"\n");
	expect_top("logging = \"daemon\";", "directord.conf:2: logging must be a group { ... }\n");
	expect_svc("", "address = \"198.51.100.\\n21\";", "directord.conf:6: address contains a control character\n");
}
END_TEST

START_TEST(ranges)
{
	expect_svc("", "port = 70000;", "directord.conf:6: port 70000 is out of range (1..65535)\n");
	expect_svc("", "port = 0;", "directord.conf:6: port 0 is out of range (1..65535)\n");
	expect_svc("", "weight = 65536;", "directord.conf:6: weight 65536 is out of range (0..65535)\n");
	expect_svc("", "weight = -1;", "directord.conf:6: weight -1 is out of range (0..65535)\n");
	expect_svc("check = { rise = 0; };", "", "directord.conf:4: rise 0 is out of range (1..1000)\n");
	expect_svc("", "check = { fall = 0; };", "directord.conf:6: fall 0 is out of range (1..1000)\n");
	expect_svc("check = { interval_ms = 1000; timeout_ms = 1000; };", "",
		   "directord.conf:4: timeout_ms 1000 must be less than interval_ms 1000\n");
	expect_svc("check = { interval_ms = 1000; timeout_ms = 500; };", "check = { interval_ms = 400; };",
		   "directord.conf:6: timeout_ms 500 must be less than interval_ms 400\n");
	expect_svc("", "upper_threshold = 10; lower_threshold = 10;",
		   "directord.conf:6: lower_threshold 10 must be less than upper_threshold 10\n");
	expect_svc("persistence_netmask = 33;", "", "directord.conf:4: persistence_netmask 33 is out of range (0..32)\n");
	expect_svc("persistence_netmask = \"255.0.255.0\";", "",
		   "directord.conf:4: persistence_netmask '255.0.255.0' is not contiguous\n");
	expect_svc("quorum = 2;", "", "directord.conf:4: quorum 2 exceeds the number of real servers (1)\n");
	expect_svc("quorum_hysteresis = 2;", "", "directord.conf:4: quorum_hysteresis 2 must not exceed quorum 1\n");
	expect_svc("check = { status = [ 200, 700 ]; type = \"http\"; };", "",
		   "directord.conf:4: status must list HTTP status codes (100..599)\n");
	expect_cl("priority = 255;", "directord.conf:3: priority 255 is out of range (1..254)\n");
	expect_cl("ping_fall = 0;", "directord.conf:3: ping_fall 0 is out of range (1..1000)\n");
	expect_top("heartbeat = { dscp = 64; };", "directord.conf:2: dscp 64 is out of range (0..63)\n");
	expect_top("heartbeat = { interval_ms = 100;\n dead_ms = 100; };",
		   "directord.conf:3: dead_ms 100 must be greater than interval_ms 100\n");
	expect_top("heartbeat = { interval_ms = 300; };",
		   "directord.conf:2: dead_ms 200 must be greater than interval_ms 300\n");
	expect_top("heartbeat = { port = 65536; };", "directord.conf:2: port 65536 is out of range (1..65535)\n");
	expect_top("sync = { syncid = 256; };", "directord.conf:2: syncid 256 is out of range (0..255)\n");
	expect_top("control = { mode = \"0999\"; };", "directord.conf:2: mode '0999' is not an octal mode (0000..0777)\n");
	expect_top("control = { max_clients = 7; };", "directord.conf:2: max_clients 7 is out of range (8..1024)\n");
	expect_top("control = { max_clients_per_uid = 0; };",
		   "directord.conf:2: max_clients_per_uid 0 is out of range (1..1024)\n");
	expect_top("control = { metrics_max_clients = 5000; };",
		   "directord.conf:2: metrics_max_clients 5000 is out of range (1..1024)\n");
	expect_top("logging = { notify_timeout_ms = 0; };",
		   "directord.conf:2: notify_timeout_ms 0 is out of range (100..3600000)\n");
}
END_TEST

START_TEST(addresses)
{
	expect_svc("", "address = \"198.51.100.300\";",
		   "directord.conf:6: address '198.51.100.300' is not an IP address\n");
	expect_cl("vips = ( { address = \"203.0.113.10/33\"; interface = \"eth0\"; } );",
		  "directord.conf:3: address '203.0.113.10/33' is not an IP address or address/prefix\n");
	expect_cl("vips = ( { address = \"2001:db8::1/129\"; interface = \"eth0\"; } );",
		  "directord.conf:3: address '2001:db8::1/129' is not an IP address or address/prefix\n");
	expect_cl("ping_targets = [ \"203.0.113.1\", \"gw\" ];",
		  "directord.conf:3: ping_targets entry 'gw' is not an IP address\n");
	expect_cl("gateway = \"203.0.113\";", "directord.conf:3: gateway '203.0.113' is not an IP address\n");
	expect_cl("track_interfaces = [ \"a/b\" ];",
		  "directord.conf:3: track_interfaces entry 'a/b' is not an interface name\n");
	expect_top("control = { metrics_listen = \"9469\"; };",
		   "directord.conf:2: metrics_listen '9469' is not IP:PORT or [IPv6]:PORT\n");
	expect_top("heartbeat = { multicast_group = \"192.0.2.1\"; };",
		   "directord.conf:2: multicast_group 192.0.2.1 is not a multicast address\n");
	expect_top("heartbeat = { key_file = \"/nonexistent/k\";\n peers = ( { name = \"lb2\"; links = ( { local = \"192.0.2.1\"; remote = \"2001:db8::2\"; } ); } ); };",
		   "directord.conf:2: key file /nonexistent/k does not exist\n"
		   "directord.conf:3: remote address family differs from local\n");
}
END_TEST

START_TEST(enums)
{
	char *t = fmt("clusters = ( { name = \"web\";\n"
		      "  services = ( { protocol = \"tpc\"; address = \"203.0.113.10\"; port = 80; } ); } );\n");
	expect_errors(t, "directord.conf:2: protocol 'tpc' is not one of tcp, udp, sctp\n");
	free(t);
	expect_svc("forward = \"dsr\";", "", "directord.conf:4: forward 'dsr' is not one of nat, dr, tun\n");
	expect_svc("", "forward = \"gate\";", "directord.conf:6: forward 'gate' is not one of nat, dr, tun\n");
	expect_svc("removal = \"delete\";", "", "directord.conf:4: removal 'delete' is not one of drain, remove\n");
	expect_svc("check = { type = \"ping\"; };", "",
		   "directord.conf:4: type 'ping' is not one of none, tcp, http, https, exec, udp, dns\n");
	expect_svc("check = { initial = \"alive\"; };", "", "directord.conf:4: initial 'alive' is not one of down, up\n");
	expect_cl("garp = { mode = \"both\"; };", "directord.conf:3: mode 'both' is not one of request, reply\n");
	expect_top("logging = { facility = \"kern\"; };",
		   "directord.conf:2: facility 'kern' is not one of daemon, user, local0, local1, local2, local3, local4, local5, local6, local7\n");
	expect_top("logging = { level = \"verbose\"; };",
		   "directord.conf:2: level 'verbose' is not one of emerg, alert, crit, err, warning, notice, info, debug\n");
	expect_svc("scheduler = \"fastest\";", "",
		   "directord.conf:4: scheduler 'fastest' is not an IPVS scheduler (rr, wrr, lc, wlc, lblc, lblcr, dh, sh, sed, nq, mh, fo, ovf, twos)\n");
	expect_svc("scheduler = \"wlc\"; sched_flags = [ \"sh-port\" ];", "",
		   "directord.conf:4: sched_flags 'sh-port' needs scheduler 'sh'\n");
	expect_svc("scheduler = \"sh\"; sched_flags = [ \"port\" ];", "",
		   "directord.conf:4: sched_flags entry 'port' is not one of sh-fallback, sh-port, mh-fallback, mh-port\n");
	expect_svc("family = \"inet6\";", "",
		   "directord.conf:4: family applies to fwmark services only (the address gives it)\n");
}
END_TEST

/* Each enum's one table: every value has a name, parse() inverts name(),
 * and the protocol key still refuses the fwmark pseudo-protocol. */
#define ROUNDTRIP(fn, type, last)                                              \
	for (int v = 0; v <= (int)(last) + 1; v++) {                           \
		type x;                                                        \
		const char *n = dd_##fn##_name((type)v);                       \
		ck_assert_msg(v > (int)(last) ? !strcmp(n, "?") : dd_##fn##_parse(n, &x) && (int)x == v, \
			      #fn " %d is '%s'", v, n);                        \
	}
START_TEST(enum_names)
{
	ROUNDTRIP(proto, enum dd_proto, DD_PROTO_FWMARK);
	ROUNDTRIP(fwd, enum dd_fwd, DD_FWD_TUN);
	ROUNDTRIP(check_type, enum dd_check_type, DD_CHECK_DNS);
	ROUNDTRIP(removal, enum dd_removal, DD_REMOVAL_REMOVE);
	ROUNDTRIP(garp_mode, enum dd_garp_mode, DD_GARP_REPLY);
	ROUNDTRIP(initial, enum dd_initial, DD_INITIAL_UP);
	enum dd_fwd f = DD_FWD_TUN;
	ck_assert(!dd_fwd_parse("NAT", &f) && f == DD_FWD_TUN);
	int af = 0;
	ck_assert(dd_family_parse("inet6", &af) && af == AF_INET6);
	ck_assert_str_eq(dd_family_name(AF_INET), "inet");
	ck_assert(!dd_family_parse("ipv6", &af) && af == AF_INET6);
	expect_errors("clusters = ( { name = \"web\";\n"
		      "  services = ( { protocol = \"fwmark\"; address = \"203.0.113.10\"; port = 80; } ); } );\n",
		      "directord.conf:2: protocol 'fwmark' is not one of tcp, udp, sctp\n");
}
END_TEST
#undef ROUNDTRIP

START_TEST(valid_schedulers)
{
	for (const char *const *s = dd_schedulers; *s; s++) {
		char *x = fmt("scheduler = \"%s\";", *s);
		char *t = svc_cfg(x, "");
		struct dd_config *c = load_ok(t);
		ck_assert_str_eq(c->clusters[0].services[0].scheduler, *s);
		dd_config_free(c);
		free(t);
		free(x);
	}
	ck_assert_uint_eq(sizeof((const char *[]){ "rr", "wrr", "lc", "wlc", "lblc", "lblcr", "dh",
						   "sh", "sed", "nq", "mh", "fo", "ovf", "twos" }) / sizeof(char *),
			  14);
}
END_TEST

/* ---- uniqueness ------------------------------------------------------ */

START_TEST(duplicates)
{
	expect_errors("clusters = ( { name = \"web\"; },\n"
		      "  { name = \"web\"; } );\n",
		      "directord.conf:2: duplicate cluster name 'web' (first at line 1)\n");
	expect_errors("clusters = ( { name = \"a\"; services = (\n"
		      "  { name = \"s\"; protocol = \"tcp\"; address = \"203.0.113.10\"; port = 80; } ); },\n"
		      "  { name = \"b\"; services = (\n"
		      "  { name = \"s\"; protocol = \"tcp\"; address = \"203.0.113.10\"; port = 80; } ); } );\n",
		      "directord.conf:4: duplicate service name 's' (first at line 2)\n"
		      "directord.conf:4: duplicate service s (first at line 2)\n");
	expect_errors("clusters = ( { name = \"a\"; services = (\n"
		      "  { protocol = \"tcp\"; address = \"203.0.113.10\"; port = 80; },\n"
		      "  { protocol = \"udp\"; address = \"203.0.113.10\"; port = 80; },\n"
		      "  { name = \"x\"; protocol = \"tcp\"; address = \"203.0.113.10\"; port = 80; } ); } );\n",
		      "directord.conf:4: duplicate service x (first at line 2)\n");
	expect_errors("clusters = ( { name = \"a\"; services = (\n"
		      "  { fwmark = 1; check = { type = \"none\"; }; },\n"
		      "  { fwmark = 1; family = \"inet6\"; check = { type = \"none\"; }; },\n"
		      "  { name = \"m\"; fwmark = 1; check = { type = \"none\"; }; } ); } );\n",
		      "directord.conf:4: duplicate service m (first at line 2)\n");
	expect_svc("", "address = \"198.51.100.21\"; },\n { address = \"198.51.100.21\"; port = 80;",
		   "directord.conf:7: real server 198.51.100.21:80 listed twice (first at line 5)\n");
	expect_errors("clusters = ( { name = \"a\"; vips = ( { address = \"203.0.113.10/24\"; interface = \"eth0\"; } ); },\n"
		      " { name = \"b\"; vips = ( { address = \"203.0.113.10/32\"; interface = \"eth1\"; } ); } );\n",
		      "directord.conf:2: vip 203.0.113.10 listed twice (first at line 1)\n");
	expect_top("heartbeat = { key_file = \"/nonexistent\"; peers = (\n"
		   "  { name = \"lb2\"; links = ( { local = \"192.0.2.1\"; remote = \"192.0.2.2\"; } ); },\n"
		   "  { name = \"lb2\"; links = ( { local = \"192.0.2.1\"; remote = \"192.0.2.3\"; } ); },\n"
		   "  { name = \"lb1\"; links = ( { local = \"192.0.2.1\"; remote = \"192.0.2.4\"; } ); } ); };",
		   "directord.conf:2: key file /nonexistent does not exist\n"
		   "directord.conf:4: only one peer is supported (a director pair); 'lb2' is a second one\n"
		   "directord.conf:4: duplicate peer name 'lb2' (first at line 3)\n"
		   "directord.conf:5: peer name 'lb1' is this node's name\n");
}
END_TEST

/* 50,000 real servers in one service, the last one a duplicate of the
 * first: found, with its line, in well under the bound. Comparing each
 * server with every earlier one took 7 s here without sanitizers (200,000:
 * minutes), and a reload does this on the main loop; hashed, it is 0.15 s.
 * The bound is loose enough for a loaded machine under ASan, and far below
 * what the quadratic search took there. */
START_TEST(many_real_servers)
{
	enum { N = 50000 };
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);
	fprintf(f, "clusters = ( { name = \"big\"; services = (\n"
		   "{ protocol = \"tcp\"; address = \"192.0.2.10\"; port = 80;\n"
		   "  check = { type = \"none\"; }; real_servers = (\n");
	for (int i = 0; i < N; i++)
		fprintf(f, "{ address = \"198.51.100.%d\"; port = %d; },\n", 1 + i % 254, 1024 + i / 254);
	fprintf(f, "{ address = \"198.51.100.1\"; port = 1024; } ); } ); } );\n");
	fclose(f);
	double t0 = mono_now();
	struct dd_conf_errors e = { 0 };
	ck_assert_ptr_null(dd_config_load_string(buf, "directord.conf", &e));
	double took = mono_now() - t0;
	char *got = errs_text(&e);
	char *want = fmt("directord.conf:%d: real server 198.51.100.1:1024 listed twice (first at line 4)\n",
			 4 + N);
	ck_assert_str_eq(got, want);
	ck_assert_msg(took < 5.0, "50,000 real servers took %.2f s to validate", took);
	free(want);
	free(got);
	dd_conf_errors_free(&e);
	free(buf);
}
END_TEST

/* A \x00 escape used to vanish from the value (libconfig drops it), so
 * the command or path run was not the one written; bytes that are not
 * UTF-8 went into directorctl's JSON, which then did not parse. */
START_TEST(strings_nul_utf8)
{
	expect_top("logging = { notify = \"/bin/true\\x00; rm -rf /\"; };",
		   "directord.conf:2: string contains \\x00: a NUL byte cannot be part of a value\n");
	expect_top("pid_file = \"/run/a\\X00b.pid\";",
		   "directord.conf:2: string contains \\x00: a NUL byte cannot be part of a value\n");
	/* an escaped backslash is not an escape */
	struct dd_config *c = load_ok("logging = { notify = \"echo \\\\x00\"; };");
	ck_assert_str_eq(c->alert.notify, "echo \\x00");
	dd_config_free(c);
	/* raw bytes and escapes alike; overlong forms and surrogates too */
	expect_top("logging = { notify = \"echo \xff\"; };",
		   "directord.conf:2: notify is not valid UTF-8\n");
	expect_top("logging = { notify = \"echo \\xC3\\x28\"; };",
		   "directord.conf:2: notify is not valid UTF-8\n");
	expect_top("logging = { notify = \"echo \\xC0\\xAF\"; };",
		   "directord.conf:2: notify is not valid UTF-8\n");
	expect_top("logging = { notify = \"echo \\xED\\xA0\\x80\"; };",
		   "directord.conf:2: notify is not valid UTF-8\n");
	expect_top("logging = { notify = \"echo \\xF4\\x90\\x80\\x80\"; };",
		   "directord.conf:2: notify is not valid UTF-8\n");
	c = load_ok("logging = { notify = \"echo \\xC3\\xA9 \xe2\x82\xac \xf0\x9f\x98\x80\"; };");
	ck_assert_str_eq(c->alert.notify, "echo \xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80");
	dd_config_free(c);
	/* names stay printable ASCII; labels must be UTF-8 */
	expect_errors("node = \"lb\\xff\";\n", "directord.conf:1: node is not valid UTF-8\n");
	expect_cl("vips = ( { address = \"203.0.113.1\"; interface = \"eth0\"; label = \"eth0:\\xe9\"; } );",
		  "directord.conf:3: label is not valid UTF-8\n");
	expect_cl("services = ( { name = \"w\\xe9b\"; protocol = \"tcp\"; address = \"203.0.113.10\"; port = 80; } );",
		  "directord.conf:3: name is not valid UTF-8\n");
	expect_errors("clusters = ( { name = \"w\\xc3\\xa9b\"; } );\n",
		      "directord.conf:1: name 'w\xc3\xa9"
		      "b' must be printable ASCII without blanks, quotes or backslashes\n");
}
END_TEST

/* Who runs notify commands and exec checks: nobody/nogroup unless the file
 * says otherwise, root only when written; every check carries the ids. */
START_TEST(scripts_user)
{
	char *t = svc_cfg("check = { type = \"exec\"; command = \"exit 0\"; };", "");
	struct dd_config *c = load_ok(t);
	free(t);
	ck_assert_str_eq(c->scripts.user, "nobody");
	ck_assert_str_eq(c->scripts.group, "nogroup");
	ck_assert_uint_eq(c->scripts.uid, 65534);
	ck_assert_uint_eq(c->scripts.gid, 65534);
	const struct dd_service *s = &c->clusters[0].services[0];
	ck_assert_uint_eq(s->check.script_uid, 65534);
	ck_assert_uint_eq(s->rs[0].check.script_uid, 65534);
	ck_assert_uint_eq(s->rs[0].check.script_gid, 65534);
	dd_config_free(c);

	c = load_ok("scripts = { user = \"root\"; };\nclusters = (\n"
		    "{ name = \"web\"; services = ( { protocol = \"tcp\"; address = \"203.0.113.10\"; port = 80;\n"
		    "  check = { type = \"exec\"; command = \"exit 0\"; }; real_servers = ( { address = \"198.51.100.1\"; } ); } ); } );");
	ck_assert_str_eq(c->scripts.user, "root");
	ck_assert_str_eq(c->scripts.group, "root");   /* the user's own group */
	ck_assert_uint_eq(c->scripts.uid, 0);
	ck_assert_uint_eq(c->clusters[0].services[0].rs[0].check.script_uid, 0);
	char *p = dd_config_print(c);
	ck_assert_ptr_nonnull(strstr(p, "scripts = {\n  user = \"root\";\n  group = \"root\";\n};\n"));
	free(p);
	dd_config_free(c);

	c = load_ok("scripts = { user = \"nobody\"; group = \"root\"; };");
	ck_assert_uint_eq(c->scripts.uid, 65534);
	ck_assert_uint_eq(c->scripts.gid, 0);
	dd_config_free(c);

	expect_top("scripts = { user = \"no-such-user-dd\"; group = \"no-such-group-dd\"; colour = 1; };",
		   "directord.conf:2: unknown key 'colour' in scripts\n"
		   "directord.conf:2: user 'no-such-user-dd' does not exist\n");
	expect_top("scripts = { user = \"root\"; group = \"no-such-group-dd\"; };",
		   "directord.conf:2: group 'no-such-group-dd' does not exist\n");
	expect_top("scripts = ( );", "directord.conf:2: scripts must be a group { ... }\n");
}
END_TEST

/* keepalived's enable_script_security, always on and checked at load:
 * a notify command or exec check whose script another user can change
 * fails -t and a reload, at its line, when the file is there. */
START_TEST(scripts_refused)
{
	char *d = fmt("%s/scripts", tmpdir);
	ck_assert_int_eq(mkdir(d, 0755), 0);
	char *sh = fmt("%s/notify.sh", d);
	write_file(sh, "#!/bin/sh\n", 0755);
	char *t = fmt("logging = { notify = \"%s --cluster\"; };", sh);
	dd_config_free(load_ok(t));
	chmod(sh, 0777);
	char *want = fmt("directord.conf:2: script %s refused: %s is writable by group or others (mode 0777)\n",
			 sh, sh);
	expect_top(t, want);
	free(want);
	chmod(sh, 0755);
	chmod(d, 0775);
	want = fmt("directord.conf:2: script %s refused: %s is writable by group or others (mode 0775)\n",
		   sh, d);
	expect_top(t, want);
	free(want);
	free(t);
	/* exec checks: the service's and a real server's own (owners need root) */
	chmod(d, 0755);
	if (geteuid() != 0) {
		free(sh);
		free(d);
		return;
	}
	ck_assert_int_eq(chown(sh, 1234, 1234), 0);
	char *svc = fmt("check = { type = \"exec\"; command = \"%s\"; };", sh);
	char *rs = fmt("check = { command = \"'%s' x\"; };", sh);
	want = fmt("directord.conf:4: script %s refused: %s belongs to uid 1234, not root or the script user (uid 65534)\n",
		   sh, sh);
	expect_svc(svc, "", want);
	free(want);
	want = fmt("directord.conf:6: script %s refused: %s belongs to uid 1234, not root or the script user (uid 65534)\n",
		   sh, sh);
	expect_svc("check = { type = \"exec\"; command = \"exit 0\"; };", rs, want);
	free(want);
	/* the script user's own script is fine */
	ck_assert_int_eq(chown(sh, 65534, 65534), 0);
	t = svc_cfg(svc, rs);
	dd_config_free(load_ok(t));
	free(t);
	/* not there yet: checked again when it runs */
	unlink(sh);
	t = svc_cfg(svc, rs);
	dd_config_free(load_ok(t));
	free(t);
	free(svc);
	free(rs);
	free(sh);
	free(d);
}
END_TEST

/* ---- what the failover engine relies on ------------------------------
 * One case per rule that the engine used to re-check without a line
 * number; the loader is where they live now. The second peer and a
 * cluster declared twice are in `duplicates`. */

/* Line 2: heartbeat keys (the key file exists); line 3: the peer's keys. */
static char *hb_cfg(const char *hb_extra, const char *peer)
{
	return fmt("node = \"lb1\";\n"
		   "heartbeat = { key_file = \"%s\"; %s\n"
		   "  peers = ( { %s } ); };\n", keypath, hb_extra, peer);
}

static void expect_hb(const char *hb_extra, const char *peer, const char *want)
{
	char *t = hb_cfg(hb_extra, peer);
	if (want)
		expect_errors(t, want);
	else
		dd_config_free(load_ok(t));
	free(t);
}

#define LINK4 "{ local = \"192.0.2.1\"; remote = \"192.0.2.2\"; }"

/* n links, each on line 3. */
static char *n_links(int n)
{
	char *peer = fmt("name = \"lb2\"; links = ( ");
	for (int i = 0; i < n; i++) {
		char *p = fmt("%s%s" LINK4, peer, i ? ", " : "");
		free(peer);
		peer = p;
	}
	char *p = fmt("%s );", peer);
	free(peer);
	return p;
}

START_TEST(engine_rules)
{
	char long_name[DD_NAME_MAX + 1];
	memset(long_name, 'a', DD_NAME_MAX);
	long_name[DD_NAME_MAX] = '\0';
	char *t, *want;

	/* node name: 1..63 printable ASCII, no blanks */
	expect_errors("node = \"lb 1\";\n", "directord.conf:1: node 'lb 1' must be printable ASCII without blanks, quotes or backslashes\n");
	expect_errors("node = \"lb\xc3\xa9\";\n", "directord.conf:1: node 'lb\xc3\xa9' must be printable ASCII without blanks, quotes or backslashes\n");
	t = fmt("node = \"%s\";\n", long_name);
	want = fmt("directord.conf:1: node '%s' is too long (at most 63 characters)\n", long_name);
	expect_errors(t, want);
	free(want);
	free(t);
	t = fmt("node = \"%.63s\";\n", long_name);
	dd_config_free(load_ok(t));
	free(t);

	/* peer name: the same rule, and not this director's own */
	expect_hb("", "name = \"lb\t2\"; links = ( " LINK4 " );",
		  "directord.conf:3: name contains a control character\n");
	expect_hb("", "name = \"lb 2\"; links = ( " LINK4 " );",
		  "directord.conf:3: name 'lb 2' must be printable ASCII without blanks, quotes or backslashes\n");
	t = fmt("name = \"%s\"; links = ( " LINK4 " );", long_name);
	want = fmt("directord.conf:3: name '%s' is too long (at most 63 characters)\n", long_name);
	expect_hb("", t, want);
	free(want);
	free(t);
	expect_hb("", "name = \"lb1\"; links = ( " LINK4 " );",
		  "directord.conf:3: peer name 'lb1' is this node's name\n");

	/* 1..DD_MAX_LINKS links */
	expect_hb("", "name = \"lb2\"; links = ( );", "directord.conf:3: peer needs at least one link\n");
	t = n_links(DD_MAX_LINKS);
	expect_hb("", t, NULL);
	free(t);
	t = n_links(DD_MAX_LINKS + 1);
	expect_hb("", t, "directord.conf:3: peer has 9 links; at most 8 are supported\n");
	free(t);

	/* each link: a local address, a remote one unless multicast, one family */
	expect_hb("", "name = \"lb2\"; links = ( { remote = \"192.0.2.2\"; } );",
		  "directord.conf:3: link needs a local address\n");
	expect_hb("", "name = \"lb2\"; links = ( { local = \"192.0.2.1\"; } );",
		  "directord.conf:3: link needs a remote address (or set heartbeat.multicast_group)\n");
	expect_hb("", "name = \"lb2\"; links = ( { local = \"192.0.2.1\"; remote = \"\"; } );",
		  "directord.conf:3: link needs a remote address (or set heartbeat.multicast_group)\n");
	expect_hb("", "name = \"lb2\"; links = ( { local = \"2001:db8::1\"; remote = \"192.0.2.2\"; } );",
		  "directord.conf:3: remote address family differs from local\n");
	expect_hb("multicast_group = \"239.255.77.77\";", "name = \"lb2\"; links = ( { local = \"192.0.2.1\"; } );",
		  NULL);
	expect_hb("multicast_group = \"ff02::12\";", "name = \"lb2\"; links = ( " LINK4 " );",
		  "directord.conf:3: link address family differs from multicast_group\n");

	/* dead time longer than the interval */
	expect_hb("interval_ms = 100; dead_ms = 100;", "name = \"lb2\"; links = ( " LINK4 " );",
		  "directord.conf:2: dead_ms 100 must be greater than interval_ms 100\n");

	/* at most DD_MAX_CLUSTERS clusters, one per line from line 3 */
	char *cls = fmt("node = \"lb1\";\nclusters = (");
	for (int i = 1; i <= DD_MAX_CLUSTERS + 1; i++) {
		char *n = fmt("%s%s\n { name = \"c%d\"; }", cls, i > 1 ? "," : "", i);
		free(cls);
		cls = n;
		if (i == DD_MAX_CLUSTERS) {
			char *ok = fmt("%s );\n", cls);
			dd_config_free(load_ok(ok));
			free(ok);
		}
	}
	t = fmt("%s );\n", cls);
	expect_errors(t, "directord.conf:19: cluster 'c17' is one too many: at most 16 are supported "
		      "(one keepalive carries them all)\n");
	free(t);
	free(cls);

	/* cluster name: the node name rule; priority 1..254 */
	expect_errors("clusters = ( { name = \"w eb\"; } );\n",
		      "directord.conf:1: name 'w eb' must be printable ASCII without blanks, quotes or backslashes\n");
	expect_errors("clusters = ( { name = \"\"; } );\n", "directord.conf:1: name must not be empty\n");
	expect_cl("priority = 0;", "directord.conf:3: priority 0 is out of range (1..254)\n");
}
END_TEST
#undef LINK4

/* ---- required keys and combinations ---------------------------------- */

START_TEST(required)
{
	expect_cl("vips = ( { address = \"203.0.113.10/24\"; } );", "directord.conf:3: vip needs an interface\n");
	expect_cl("vips = ( { interface = \"eth0\"; } );", "directord.conf:3: vip needs an address\n");
	expect_cl("vips = ( { address = \"2001:db8::1\"; interface = \"eth0\"; label = \"eth0:x\"; } );",
		  "directord.conf:3: label applies to IPv4 addresses only\n");
	expect_cl("vips = ( { address = \"203.0.113.1\"; interface = \"eth0\"; label = \"web\"; } );",
		  "directord.conf:3: label 'web' must start with the interface name and be at most 15 characters\n");
	expect_errors("clusters = ( { priority = 5; } );\n", "directord.conf:1: cluster needs a name\n");
	expect_svc("", "address = \"\";", "directord.conf:6: address '' is not an IP address\n");
	expect_errors("clusters = ( { name = \"a\"; services = (\n"
		      "  { port = 80; } ); } );\n",
		      "directord.conf:2: service needs a protocol (tcp, udp, sctp) or a fwmark\n"
		      "directord.conf:2: tcp service needs an address\n");
	expect_errors("clusters = ( { name = \"a\"; services = (\n"
		      "  { protocol = \"tcp\"; address = \"203.0.113.10\";\n"
		      "    real_servers = ( { port = 80; } ); } ); } );\n",
		      "directord.conf:2: tcp service needs a port\n"
		      "directord.conf:3: real server needs an address\n");
	expect_errors("clusters = ( { name = \"a\"; services = (\n"
		      "  { fwmark = 3; protocol = \"tcp\"; address = \"203.0.113.10\"; port = 80; } ); } );\n",
		      "directord.conf:2: protocol and fwmark are exclusive\n"
		      "directord.conf:2: fwmark service takes no address\n"
		      "directord.conf:2: fwmark service takes no port\n");
	expect_top("sync = { enabled = true; };", "directord.conf:2: sync is enabled but has no interface\n");
	expect_top("heartbeat = { peers = ( { name = \"lb2\"; links = ( ); } ); };",
		   "directord.conf:2: peer needs at least one link\n"
		   "directord.conf:2: heartbeat needs key_file when peers are configured\n");
	expect_top("heartbeat = { key_file = \"/nonexistent\"; peers = ( { links = ( { local = \"192.0.2.1\"; } ); } ); };",
		   "directord.conf:2: key file /nonexistent does not exist\n"
		   "directord.conf:2: peer needs a name\n"
		   "directord.conf:2: link needs a remote address (or set heartbeat.multicast_group)\n");
	/* An empty peer list is a standalone director: it needs no key. */
	char *t = top_cfg("heartbeat = { peers = ( ); };");
	struct dd_config *c = load_ok(t);
	ck_assert_uint_eq(c->hb.n_peers, 0);
	ck_assert_ptr_null(c->hb.key_file);
	dd_config_free(c);
	free(t);
}
END_TEST

START_TEST(check_type_keys)
{
	expect_svc("check = { type = \"exec\"; };", "", "directord.conf:4: exec check needs a command\n");
	expect_svc("check = { type = \"dns\"; };", "", "directord.conf:4: dns check needs dns_query\n");
	expect_svc("check = { type = \"http\";\n sni = \"www.example.com\"; };", "",
		   "directord.conf:5: sni applies to https checks, not http\n");
	expect_svc("check = { type = \"http\"; verify_tls = true; ca_file = \"/ca.pem\"; };", "",
		   "directord.conf:4: verify_tls applies to https checks, not http\n"
		   "directord.conf:4: ca_file applies to https checks, not http\n");
	expect_svc("check = { path = \"/x\"; };", "", "directord.conf:4: path applies to http or https checks, not tcp\n");
	expect_svc("", "check = { command = \"/bin/true\"; };", "directord.conf:6: command applies to exec checks, not tcp\n");
	expect_svc("check = { type = \"tcp\"; send = \"x\"; };", "", "directord.conf:4: send applies to udp checks, not tcp\n");
	expect_svc("check = { type = \"https\"; path = \"health\"; };", "",
		   "directord.conf:4: path 'health' must start with / and contain no blanks\n");
	expect_svc("check = { type = \"http\"; method = \"get\"; };", "",
		   "directord.conf:4: method 'get' is not an HTTP method (GET, HEAD, ...)\n");
	/* the service's check is broken: reported once, not once per server */
	expect_svc("check = { type = \"exec\"; };", "check = { fall = 2; };",
		   "directord.conf:4: exec check needs a command\n");
	expect_svc("check = { type = \"exec\"; };", "check = { fal = 2; };",
		   "directord.conf:4: exec check needs a command\n"
		   "directord.conf:6: unknown key 'fal' in check\n");
	char *t = svc_cfg("check = { type = \"https\"; sni = \"a.example\"; verify_tls = true; ca_file = \"ca.pem\"; };", "");
	struct dd_config *c = load_ok(t);
	ck_assert(c->clusters[0].services[0].rs[0].check.verify_tls);
	ck_assert_ptr_nonnull(strstr(c->clusters[0].services[0].check.ca_file, "/ca.pem"));
	dd_config_free(c);
	free(t);
}
END_TEST

START_TEST(check_source)
{
	/* the service's source and interface are the default of its servers */
	char *t = svc_cfg("check = { type = \"http\"; source = \"198.51.100.1\"; interface = \"eth1\"; };",
			  "");
	struct dd_config *c = load_ok(t);
	free(t);
	const struct dd_check *k = &c->clusters[0].services[0].rs[0].check;
	char b[DD_ADDR_STRLEN];
	ck_assert_str_eq(dd_addr_str(&k->source, b, sizeof b), "198.51.100.1");
	ck_assert_str_eq(k->interface, "eth1");
	dd_config_free(c);
	/* "" in a server's check lets the kernel choose again */
	t = svc_cfg("check = { source = \"198.51.100.1\"; interface = \"eth1\"; };",
		    "check = { source = \"\"; interface = \"\"; };");
	c = load_ok(t);
	free(t);
	k = &c->clusters[0].services[0].rs[0].check;
	ck_assert_int_eq(k->source.family, 0);
	ck_assert_str_eq(k->interface, "");
	dd_config_free(c);
	expect_svc("check = { source = \"2001:db8::1\"; };", "",
		   "directord.conf:6: check source 2001:db8::1 and real server 198.51.100.21 differ in address family\n");
	expect_svc("", "check = {\n source = \"2001:db8::1\"; };",
		   "directord.conf:7: check source 2001:db8::1 and real server 198.51.100.21 differ in address family\n");
	expect_svc("check = { source = \"lb1\"; };", "", "directord.conf:4: source 'lb1' is not an IP address\n");
	expect_svc("check = { interface = \"eth0/1\"; };", "",
		   "directord.conf:4: interface 'eth0/1' is not an interface name\n");
	expect_svc("check = { type = \"exec\"; command = \"/bin/true\"; source = \"198.51.100.1\"; };", "",
		   "directord.conf:4: source applies to tcp, http, https, udp or dns checks, not exec\n");
	/* a VIP: absent on the standby, and the other director's in a split brain */
	expect_svc("check = { source = \"203.0.113.10\"; };", "",
		   "directord.conf:3: check source 203.0.113.10 is a VIP (cluster 'web', line 2): "
		   "use an address of this director\n");
	expect_svc("", "check = { source = \"203.0.113.10\"; };",
		   "directord.conf:5: check source 203.0.113.10 is a VIP (cluster 'web', line 2): "
		   "use an address of this director\n");
}
END_TEST

START_TEST(families)
{
	expect_svc("", "address = \"2001:db8::21\";",
		   "directord.conf:6: real server address family differs from the service's (only forward = \"tun\" may mix)\n");
	char *t = svc_cfg("", "address = \"2001:db8::21\"; forward = \"tun\";");
	dd_config_free(load_ok(t));
	free(t);
	expect_svc("sorry_server = { address = \"2001:db8::99\"; };", "",
		   "directord.conf:4: sorry_server address family differs from the service's\n");
	expect_svc("sorry_server = { port = 80; };", "", "directord.conf:4: sorry_server needs an address\n");
	expect_errors("clusters = ( { name = \"a\"; services = (\n"
		      "  { fwmark = 2; family = \"inet6\"; check = { port = 80; };\n"
		      "    real_servers = ( { address = \"198.51.100.21\"; } ); } ); } );\n",
		      "directord.conf:3: real server address family differs from the service's (only forward = \"tun\" may mix)\n");
	expect_errors("clusters = ( { name = \"a\"; services = (\n"
		      "  { protocol = \"tcp\"; address = \"2001:db8::10\"; port = 80;\n"
		      "    persistence_netmask = \"255.255.255.0\"; } ); } );\n",
		      "directord.conf:3: persistence_netmask of an IPv6 service must be a prefix length\n");
	expect_errors("clusters = ( { name = \"a\"; services = (\n"
		      "  { protocol = \"tcp\"; address = \"203.0.113.10\"; port = 80; ops = true; } ); } );\n",
		      "directord.conf:2: ops (one-packet scheduling) needs protocol udp\n");
	expect_errors("clusters = ( { name = \"a\"; services = (\n"
		      "  { fwmark = 2; real_servers = ( { address = \"198.51.100.21\";\n"
		      "     check = { fall = 2; }; } ); } ); } );\n",
		      "directord.conf:3: check needs a port: the real server has none (fwmark service)\n");
	expect_top("heartbeat = { key_file = \"/nonexistent\"; multicast_group = \"ff02::12\";\n"
		   "  peers = ( { name = \"lb2\"; links = ( { local = \"192.0.2.1\"; } ); } ); };",
		   "directord.conf:2: key file /nonexistent does not exist\n"
		   "directord.conf:3: link address family differs from multicast_group\n");
}
END_TEST

/* ---- the heartbeat key file ------------------------------------------ */

static void expect_key(const char *path, const char *msg)
{
	char *t = fmt("node = \"lb1\";\nheartbeat = { key_file = \"%s\";\n"
		      "  peers = ( { name = \"lb2\"; links = ( { local = \"192.0.2.1\"; remote = \"192.0.2.2\"; } ); } ); };\n",
		      path);
	if (!msg) {
		dd_config_free(load_ok(t));
	} else {
		char *want = fmt("directord.conf:2: %s\n", msg);
		expect_errors(t, want);
		free(want);
	}
	free(t);
}

START_TEST(key_file_mode)
{
	expect_key(keypath, NULL);
	chmod(keypath, 0400);
	expect_key(keypath, NULL);
	char *m;
	chmod(keypath, 0644);
	m = fmt("key file %s is readable by group or others (mode 0644); chmod 600 it", keypath);
	expect_key(keypath, m);
	free(m);
	chmod(keypath, 0604);
	m = fmt("key file %s is readable by group or others (mode 0604); chmod 600 it", keypath);
	expect_key(keypath, m);
	free(m);
	chmod(keypath, 0620);
	m = fmt("key file %s is writable by group or others (mode 0620); chmod 600 it", keypath);
	expect_key(keypath, m);
	free(m);
	char *empty = fmt("%s/empty.key", tmpdir);
	write_file(empty, "", 0600);
	m = fmt("key file %s is empty", empty);
	expect_key(empty, m);
	free(m);
	free(empty);
	m = fmt("key file %s is not a regular file", tmpdir);
	expect_key(tmpdir, m);
	free(m);
	char *missing = fmt("%s/missing.key", tmpdir);
	m = fmt("key file %s does not exist", missing);
	expect_key(missing, m);
	free(m);
	free(missing);

	/* What the heartbeat refuses at start, -t refuses too (one rule,
	 * conf/keyfile.c): modes other than 0600/0400 without group or other
	 * bits, a key too short, too long or empty, a file another user owns. */
	static const struct { mode_t mode; const char *msg; } modes[] = {
		{ 0700, "has mode 0700, not 0600 or 0400; chmod 600 it" },
		{ 0200, "has mode 0200, not 0600 or 0400; chmod 600 it" },
		{ 0000, "has mode 0000, not 0600 or 0400; chmod 600 it" },
		{ 0601, "is writable by group or others (mode 0601); chmod 600 it" },
	};
	for (size_t i = 0; i < ARRAY_SIZE(modes); i++) {
		chmod(keypath, modes[i].mode);
		m = fmt("key file %s %s", keypath, modes[i].msg);
		expect_key(keypath, m);
		free(m);
	}
	chmod(keypath, 0600);
	char *k = fmt("%s/k", tmpdir);
	write_file(k, "0123456789abcde\n", 0600);
	m = fmt("key file %s holds 15 bytes; a key needs at least 16", k);
	expect_key(k, m);
	free(m);
	write_file(k, "\n", 0600);
	m = fmt("key file %s is empty", k);
	expect_key(k, m);
	free(m);
	char *big = xmalloc(10 << 20);
	memset(big, 'k', (10 << 20) - 1);
	big[(10 << 20) - 1] = '\0';
	write_file(k, big, 0600);
	free(big);
	m = fmt("key file %s is longer than 256 bytes", k);
	expect_key(k, m);
	free(m);
	char key256[258];
	memset(key256, 'k', 256);
	strcpy(key256 + 256, "\n");
	write_file(k, key256, 0400);
	expect_key(k, NULL);
	if (geteuid() == 0) {
		ck_assert_int_eq(chown(k, 65534, 65534), 0);
		m = fmt("key file %s belongs to uid 65534, not root", k);
		expect_key(k, m);
		free(m);
	}
	free(k);

	/* relative: against the config file's directory */
	chmod(keypath, 0600);
	char *name = fmt("%s/directord.conf", tmpdir);
	struct dd_conf_errors e = { 0 };
	struct dd_config *c = dd_config_load_string(
		"heartbeat = { key_file = \"hb.key\"; peers = ( { name = \"lb2\"; links = ( { local = \"192.0.2.1\"; remote = \"192.0.2.2\"; } ); } ); };",
		name, &e);
	ck_assert_ptr_nonnull(c);
	ck_assert_str_eq(c->hb.key_file, keypath);
	dd_config_free(c);
	/* and dd_config_load reads a file, resolving the same way */
	write_file(name, "heartbeat = { key_file = \"hb.key\"; };\n", 0644);
	c = dd_config_load(name, &e);
	ck_assert_ptr_nonnull(c);
	ck_assert_str_eq(c->hb.key_file, keypath);
	ck_assert_str_eq(c->path, name);
	dd_config_free(c);
	free(name);
}
END_TEST

START_TEST(load_file_errors)
{
	struct dd_conf_errors e = { 0 };
	char *name = fmt("%s/nope.conf", tmpdir);
	ck_assert_ptr_null(dd_config_load(name, &e));
	char *want = fmt("%s: cannot open: No such file or directory\n", name); /* no line */
	char *got = errs_text(&e);
	ck_assert_str_eq(got, want);
	free(got);
	free(want);
	dd_conf_errors_free(&e);
	/* errors in a file carry its path as given */
	write_file(name, "node = \"lb1\";\n\nport = 1;\n", 0644);
	ck_assert_ptr_null(dd_config_load(name, &e));
	want = fmt("%s:3: unknown key 'port' at top level\n", name);
	got = errs_text(&e);
	ck_assert_str_eq(got, want);
	free(got);
	free(want);
	dd_conf_errors_free(&e);

	/* @include: relative to the main file; errors name the included file */
	write_file(name, "node = \"lb1\";\n@include \"part.inc\"\n", 0644);
	char *part = fmt("%s/part.inc", tmpdir);
	write_file(part, "clusters = ( { name = \"a\"; } );\n", 0644);
	struct dd_config *c = dd_config_load(name, &e);
	ck_assert_ptr_nonnull(c);
	ck_assert_str_eq(c->clusters[0].name, "a");
	dd_config_free(c);
	write_file(part, "clusters = ( { name = \"a\";\n  bogus = 1; } );\n", 0644);
	ck_assert_ptr_null(dd_config_load(name, &e));
	want = fmt("%s:2: unknown key 'bogus' in cluster\n", part);
	got = errs_text(&e);
	ck_assert_str_eq(got, want);
	free(got);
	free(want);
	dd_conf_errors_free(&e);
	free(part);
	free(name);
}
END_TEST

/* ---- printer, examples, golden files --------------------------------- */

START_TEST(print_escapes)
{
	char *t = top_cfg("logging = { notify = \"/bin/sh -c \\\"echo \\\\\\\"hi\\\\\\\"\\\"\"; };");
	struct dd_config *c = load_ok(t);
	ck_assert_str_eq(c->alert.notify, "/bin/sh -c \"echo \\\"hi\\\"\"");
	char *p = roundtrip(t, "directord.conf");
	struct dd_config *c2 = load_ok(p);
	ck_assert_str_eq(c2->alert.notify, c->alert.notify);
	dd_config_free(c2);
	dd_config_free(c);
	free(p);
	free(t);
}
END_TEST

static size_t for_each_conf(const char *dir, void (*fn)(const char *path))
{
	DIR *d = opendir(dir);
	ck_assert_msg(d != NULL, "cannot open %s", dir);
	size_t n = 0;
	struct dirent *e;
	char *names[256];
	while ((e = readdir(d)) && n < 256) {
		size_t l = strlen(e->d_name);
		if (l > 5 && strcmp(e->d_name + l - 5, ".conf") == 0)
			names[n++] = fmt("%s/%s", dir, e->d_name);
	}
	closedir(d);
	for (size_t i = 0; i < n; i++) {
		fn(names[i]);
		free(names[i]);
	}
	return n;
}

static void roundtrip_file(const char *path)
{
	const char *name;
	char *text = stage(path, &name);
	free(roundtrip(text, name));
	/* the file loader agrees with the string loader */
	struct dd_conf_errors e = { 0 };
	struct dd_config *c = dd_config_load(name, &e);
	ck_assert_msg(c != NULL, "%s does not load from its file", path);
	dd_config_free(c);
	free(text);
}

START_TEST(examples_roundtrip)
{
	ck_assert_uint_ge(for_each_conf(DD_SRCDIR "/conf/examples", roundtrip_file), 6);
}
END_TEST

START_TEST(good_roundtrip)
{
	ck_assert_uint_ge(for_each_conf(DD_SRCDIR "/tests/conf/good", roundtrip_file), 3);
}
END_TEST

/* The snmp group loads in every build; enabled = true only where the
 * subagent is built in (configure --enable-snmp), else an error at its line. */
START_TEST(snmp_group)
{
	struct dd_config *c = load_ok("node = \"lb1\";\nclusters = ();\n");
	ck_assert(!c->snmp.enabled && c->snmp.traps);
	ck_assert_str_eq(c->snmp.agentx_socket, "/var/agentx/master");
	dd_config_free(c);
	c = load_ok("node = \"lb1\";\nsnmp = { enabled = false; agentx_socket = \"tcp:localhost:705\"; traps = false; };\n"
		    "clusters = ();\n");
	ck_assert(!c->snmp.traps);
	ck_assert_str_eq(c->snmp.agentx_socket, "tcp:localhost:705");
	dd_config_free(c);
	const char *on = "node = \"lb1\";\nsnmp = {\n  enabled = true;\n};\nclusters = ();\n";
#ifdef DD_HAVE_SNMP
	c = load_ok(on);
	ck_assert(c->snmp.enabled);
	dd_config_free(c);
#else
	expect_errors(on, "directord.conf:3: snmp is enabled, but this directord was built without SNMP "
		      "(configure --enable-snmp, net-snmp's agent library)\n");
#endif
	expect_errors("node = \"lb1\";\nsnmp = { agentx_socket = \"\"; bogus = 1; };\nclusters = ();\n",
		      "directord.conf:2: unknown key 'bogus' in snmp\n"
		      "directord.conf:2: agentx_socket must not be empty\n");
}
END_TEST

/* A good file with a NAME.expected next to it prints exactly that. */
START_TEST(golden_print)
{
	const char *path = DD_SRCDIR "/tests/conf/good/canonical.conf";
	const char *name;
	char *text = stage(path, &name);
	struct dd_conf_errors e = { 0 };
	struct dd_config *c = dd_config_load_string(text, name, &e);
	ck_assert_ptr_nonnull(c);
	char *p = dd_config_print(c);
	char *want = slurp(DD_SRCDIR "/tests/conf/good/canonical.expected");
	ck_assert_msg(strcmp(p, want) == 0, "print differs from canonical.expected:\n%s", p);
	free(want);
	free(p);
	dd_config_free(c);
	free(text);
}
END_TEST

/* Bad files list their expected errors in "# expect: LINE: message"
 * comments; the loader must report exactly those, in that order. */
static void bad_file(const char *path)
{
	const char *name;
	char *text = stage(path, &name);
	char *want = NULL;
	size_t len = 0;
	FILE *w = open_memstream(&want, &len);
	for (const char *p = text; (p = strstr(p, "# expect: ")); p++) {
		const char *eol = strchr(p, '\n');
		int n = eol ? (int)(eol - p - 10) : (int)strlen(p + 10);
		fprintf(w, "%s:%.*s\n", name, n, p + 10);
	}
	fclose(w);
	ck_assert_msg(len > 0, "%s has no '# expect:' lines", path);
	struct dd_conf_errors e = { 0 };
	struct dd_config *c = dd_config_load(name, &e);
	char *got = errs_text(&e);
	ck_assert_msg(c == NULL, "%s loaded", path);
	ck_assert_msg(strcmp(got, want) == 0, "%s:\n--- want:\n%s--- got:\n%s", path, want, got);
	free(got);
	free(want);
	dd_conf_errors_free(&e);
	free(text);
}

START_TEST(bad_files)
{
	ck_assert_uint_ge(for_each_conf(DD_SRCDIR "/tests/conf/bad", bad_file), 5);
}
END_TEST

/* Every key the loader accepts is printed (full.conf uses them all), is
 * written in full.conf, and is documented in the man page. */
START_TEST(keys_documented)
{
	const char *name;
	char *full = stage(DD_SRCDIR "/conf/examples/full.conf", &name);
	char *man = slurp(DD_SRCDIR "/man/directord.conf.5");
	struct dd_conf_errors e = { 0 };
	struct dd_config *c = dd_config_load_string(full, name, &e);
	ck_assert_ptr_nonnull(c);
	char *p = dd_config_print(c);
	for (const char *const *const *l = dd_key_lists; *l; l++)
		for (const char *const *k = *l; *k; k++) {
			char *as_key = fmt("\n%*s%s = ", 0, "", *k);
			char *in_print = fmt(" %s = ", *k);
			char *in_man = fmt(".B %s\n", *k);
			char *man_escaped = fmt(".B %s", *k);
			ck_assert_msg(strstr(p, in_print) || strstr(p, as_key),
				      "key '%s' is not printed", *k);
			ck_assert_msg(strstr(full, in_print) || strstr(full, as_key),
				      "key '%s' is not in conf/examples/full.conf", *k);
			/* man: ".TP\n.B key" (underscores need no escape in roff) */
			ck_assert_msg(strstr(man, in_man) || strstr(man, man_escaped),
				      "key '%s' is not documented in directord.conf(5)", *k);
			free(as_key);
			free(in_print);
			free(in_man);
			free(man_escaped);
		}
	for (const char *const *s = dd_schedulers; *s; s++)
		ck_assert_msg(strstr(man, *s), "scheduler %s not in the man page", *s);
	free(p);
	dd_config_free(c);
	free(man);
	free(full);
}
END_TEST

/* Track scripts (keepalived's vrrp_script / track_script): every rule with
 * its line, and the cluster's copy of indices and weights. */
START_TEST(track_scripts)
{
	struct dd_config *c = load_ok(
		"track_scripts = ( { name = \"a\"; command = \"true\"; },\n"
		"  { name = \"b\"; command = \"false\"; interval_ms = 300; timeout_ms = 200;\n"
		"    rise = 3; fall = 2; weight = -20; user = \"root\"; } );\n"
		"clusters = ( { name = \"web\"; track_scripts = [ \"b\", \"a\" ]; } );\n");
	ck_assert_uint_eq(c->n_track_scripts, 2);
	const struct dd_track_script *a = &c->track_scripts[0], *b = &c->track_scripts[1];
	ck_assert_str_eq(a->name, "a");
	ck_assert_uint_eq(a->interval_ms, 1000);
	ck_assert_uint_eq(a->timeout_ms, 500);
	ck_assert_uint_eq(a->rise, 1);
	ck_assert_uint_eq(a->fall, 1);
	ck_assert_int_eq(a->weight, 0);
	ck_assert_ptr_null(a->user);
	ck_assert_uint_eq(a->uid, c->scripts.uid);
	ck_assert_uint_eq(b->timeout_ms, 200);
	ck_assert_uint_eq(b->rise, 3);
	ck_assert_int_eq(b->weight, -20);
	ck_assert_uint_eq(b->uid, 0);
	ck_assert_uint_eq(c->clusters[0].n_track, 2);
	ck_assert_str_eq(c->clusters[0].track[0].name, "b");
	ck_assert_int_eq(c->clusters[0].track[0].weight, -20);
	ck_assert_str_eq(c->clusters[0].track[1].name, "a");
	ck_assert_int_eq(c->clusters[0].track[1].weight, 0);
	dd_config_free(c);

	expect_errors("track_scripts = ( { name = \"a\"; command = \"true\"; },\n"
		      "  { name = \"a\"; command = \"true\"; },\n"
		      "  { command = \"true\"; },\n"
		      "  { name = \"c\"; } );\n",
		      "directord.conf:2: duplicate track script name 'a' (first at line 1)\n"
		      "directord.conf:3: track script needs a name\n"
		      "directord.conf:4: track script needs a command\n");
	expect_errors("track_scripts = ( { name = \"a\"; command = \"true\";\n"
		      "  interval_ms = 1000;\n"
		      "  timeout_ms = 1000; },\n"
		      "  { name = \"b\"; command = \"true\"; interval_ms = 400; },\n"
		      "  { name = \"c\"; command = \"true\";\n"
		      "    weight = 254; },\n"
		      "  { name = \"d\"; command = \"true\";\n"
		      "    weight = -254; },\n"
		      "  { name = \"e\"; command = \"true\";\n"
		      "    user = \"no-such-user-dd\"; rise = 0; foo = 1; } );\n",
		      "directord.conf:3: timeout_ms 1000 must be less than interval_ms 1000 (a run never overlaps the next)\n"
		      "directord.conf:4: timeout_ms 500 must be less than interval_ms 400 (a run never overlaps the next)\n"
		      "directord.conf:6: weight 254 is out of range (-253..253)\n"
		      "directord.conf:8: weight -254 is out of range (-253..253)\n"
		      "directord.conf:10: unknown key 'foo' in track script\n"
		      "directord.conf:10: rise 0 is out of range (1..1000)\n"
		      "directord.conf:10: user 'no-such-user-dd' does not exist\n");
	expect_errors("track_scripts = ( { name = \"a\"; command = \"true\"; } );\n"
		      "clusters = ( { name = \"web\";\n"
		      "  track_scripts = [ \"a\", \"nope\", \"a\" ]; } );\n",
		      "directord.conf:3: unknown track script 'nope' (not in the top-level track_scripts)\n"
		      "directord.conf:3: track script 'a' listed twice in cluster\n");
	expect_errors("clusters = ( { name = \"web\";\n"
		      "  track_scripts = [ 1 ]; } );\n",
		      "directord.conf:2: track_scripts entries must be names of track scripts (strings)\n");
	/* A script others may change is refused for its own user too. */
	char dir[400], script[500], text[1200];
	snprintf(dir, sizeof dir, "%s/w", tmpdir);
	ck_assert_int_eq(mkdir(dir, 0777), 0);
	ck_assert_int_eq(chmod(dir, 0777), 0);
	snprintf(script, sizeof script, "%s/chk", dir);
	write_file(script, "#!/bin/sh\nexit 0\n", 0755);
	snprintf(text, sizeof text, "track_scripts = ( { name = \"a\";\n  command = \"%s\"; user = \"root\"; } );\n",
		 script);
	struct dd_conf_errors e = { 0 };
	ck_assert_ptr_null(dd_config_load_string(text, "directord.conf", &e));
	ck_assert_uint_eq(e.n, 1);
	ck_assert_int_eq(e.v[0].line, 2);
	ck_assert_ptr_nonnull(strstr(e.v[0].msg, "is writable by group or others"));
	dd_conf_errors_free(&e);
}
END_TEST

/* Per-cluster notify commands and the real servers' notify_up/down, which
 * a real server inherits from its service unless it sets its own. */
START_TEST(notify_keys)
{
	struct dd_config *c = load_ok(
		"clusters = ( { name = \"web\"; notify = \"/bin/echo x\"; notify_type = \"group\";\n"
		"  notify_active = \"true a\"; notify_standby = \"true s\"; notify_fault = \"true f\";\n"
		"  notify_stop = \"true t\";\n"
		"  services = ( { protocol = \"tcp\"; address = \"203.0.113.10\"; port = 80;\n"
		"    notify_up = \"true up\"; notify_down = \"true down\";\n"
		"    real_servers = ( { address = \"198.51.100.21\"; },\n"
		"      { address = \"198.51.100.22\"; notify_up = \"true 22\"; notify_down = \"\"; } ); } ); } );\n");
	const struct dd_cluster *cl = &c->clusters[0];
	ck_assert_str_eq(cl->notify.all, "/bin/echo x");
	ck_assert_int_eq(cl->notify.type, DD_NOTIFY_GROUP);
	ck_assert_str_eq(cl->notify.active, "true a");
	ck_assert_str_eq(cl->notify.standby, "true s");
	ck_assert_str_eq(cl->notify.fault, "true f");
	ck_assert_str_eq(cl->notify.stop, "true t");
	const struct dd_service *s = &cl->services[0];
	ck_assert_str_eq(s->notify_up, "true up");
	ck_assert_str_eq(s->rs[0].notify_up, "true up");
	ck_assert_str_eq(s->rs[0].notify_down, "true down");
	ck_assert_str_eq(s->rs[1].notify_up, "true 22");
	ck_assert_ptr_null(s->rs[1].notify_down);
	dd_config_free(c);
	c = load_ok("clusters = ( { name = \"web\"; } );\n");
	ck_assert_ptr_null(c->clusters[0].notify.all);
	ck_assert_int_eq(c->clusters[0].notify.type, DD_NOTIFY_INSTANCE);
	dd_config_free(c);
	expect_errors("clusters = ( { name = \"web\";\n"
		      "  notify_type = \"vrrp\"; } );\n",
		      "directord.conf:2: notify_type 'vrrp' is not one of instance, group\n");
}
END_TEST

static Suite *conf_suite(void)
{
	Suite *s = suite_create("conf");
	TCase *tc = tcase_create("load");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, defaults);
	tcase_add_test(tc, track_scripts);
	tcase_add_test(tc, notify_keys);
	tcase_add_test(tc, check_merge);
	tcase_add_test(tc, all_keys_parse);
	tcase_add_test(tc, ipv6_and_fwmark);
	tcase_add_test(tc, collects_all_errors);
	tcase_add_test(tc, snmp_group);
	tcase_add_test(tc, syntax_errors);
	tcase_add_test(tc, unknown_keys);
	tcase_add_test(tc, wrong_types);
	tcase_add_test(tc, ranges);
	tcase_add_test(tc, addresses);
	tcase_add_test(tc, enums);
	tcase_add_test(tc, enum_names);
	tcase_add_test(tc, valid_schedulers);
	tcase_add_test(tc, duplicates);
	tcase_add_test(tc, many_real_servers);
	tcase_add_test(tc, strings_nul_utf8);
	tcase_add_test(tc, scripts_user);
	tcase_add_test(tc, scripts_refused);
	tcase_add_test(tc, engine_rules);
	tcase_add_test(tc, required);
	tcase_add_test(tc, check_type_keys);
	tcase_add_test(tc, families);
	tcase_add_test(tc, check_source);
	tcase_add_test(tc, key_file_mode);
	tcase_add_test(tc, load_file_errors);
	suite_add_tcase(s, tc);
	TCase *g = tcase_create("golden");
	tcase_add_checked_fixture(g, setup, teardown);
	tcase_add_test(g, print_escapes);
	tcase_add_test(g, examples_roundtrip);
	tcase_add_test(g, good_roundtrip);
	tcase_add_test(g, golden_print);
	tcase_add_test(g, bad_files);
	tcase_add_test(g, keys_documented);
	suite_add_tcase(s, g);
	return s;
}

int main(void)
{
	return dd_ck_run(conf_suite());
}
