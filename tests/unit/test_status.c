/* SPDX-License-Identifier: GPL-2.0-or-later */
/* tests/unit/test_status.c: one status model, built by hand (a cluster, a
 * service with two real servers and a sorry server, a peer with two
 * links), rendered by the text, JSON and Prometheus writers: each must show
 * the same facts. Also a model with no part running, and the plan, admin
 * and short (check, reload, handover) answers. The JSON is handed to python3's json module to prove it
 * parses. Single-threaded; no network, no daemon. */
#include "config.h"
#include "directord/status.h"

#include <check.h>
#include "tests/unit/ck_run.h"
#include <linux/ip_vs.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct fixture {
	struct dd_config cfg;
	struct dd_cluster cl;
	struct dd_vip vip;
	struct dd_service svc;
	struct dd_real_server rs[2];
	struct dd_st_role_count roles[1];
};

static void addr(struct dd_addr *a, const char *s)
{
	ck_assert(dd_addr_parse(s, a));
}

static void build_config(struct fixture *f)
{
	memset(f, 0, sizeof *f);
	snprintf(f->cfg.node_name, sizeof f->cfg.node_name, "lb1");
	f->cfg.clusters = &f->cl;
	f->cfg.n_clusters = 1;
	snprintf(f->cl.name, sizeof f->cl.name, "web");
	f->cl.priority = 150;
	addr(&f->vip.addr, "203.0.113.10");
	f->vip.prefix = 24;
	snprintf(f->vip.ifname, sizeof f->vip.ifname, "eth0");
	f->cl.vips = &f->vip;
	f->cl.n_vips = 1;
	f->cl.services = &f->svc;
	f->cl.n_services = 1;
	snprintf(f->svc.name, sizeof f->svc.name, "http");
	f->svc.proto = DD_PROTO_TCP;
	addr(&f->svc.vip, "203.0.113.10");
	f->svc.port = 80;
	snprintf(f->svc.scheduler, sizeof f->svc.scheduler, "rr");
	f->svc.fwd = DD_FWD_NAT;
	f->svc.has_sorry = true;
	addr(&f->svc.sorry_addr, "198.51.100.99");
	f->svc.sorry_port = 80;
	f->svc.rs = f->rs;
	f->svc.n_rs = 2;
	const char *ips[] = { "198.51.100.11", "198.51.100.12" };
	for (int i = 0; i < 2; i++) {
		addr(&f->rs[i].addr, ips[i]);
		f->rs[i].port = 80;
		f->rs[i].weight = (uint32_t)i + 1;
		f->rs[i].fwd = DD_FWD_NAT;
		f->rs[i].check.type = i ? DD_CHECK_HTTP : DD_CHECK_TCP;
	}
	f->roles[0] = (struct dd_st_role_count){ "web", 2, 1 };
}

/* Everything a running pair would report. */
static void build_model(struct fixture *f, struct dd_status *st)
{
	build_config(f);
	dd_status_init(st, &f->cfg, NULL);
	st->conf_path = "/etc/directord/directord.conf";
	st->pid = 4242;
	st->uptime_ms = 3723000;
	st->reloads = 1;
	st->roles = f->roles;
	st->n_roles = 1;

	st->have_failover = true;
	struct dd_st_peer *p = &st->peer;
	snprintf(p->name, sizeof p->name, "lb2");
	p->alive = true;
	p->last_heartbeat_age_ms = 20;
	p->interval_ms = 50;
	p->dead_ms = 200;
	p->bad_auth = 3;
	p->unproven = 2;
	p->problem = DD_PEER_TIMERS;
	snprintf(p->problem_text, sizeof p->problem_text, "peer lb2 sends every 100 ms, dead after 400 ms");
	p->n_links = 2;
	const char *loc[] = { "192.0.2.1", "198.51.100.1" }, *rem[] = { "192.0.2.2", "198.51.100.2" };
	for (int i = 0; i < 2; i++) {
		snprintf(p->links[i].local, sizeof p->links[i].local, "%s", loc[i]);
		snprintf(p->links[i].remote, sizeof p->links[i].remote, "%s", rem[i]);
		snprintf(p->links[i].ifname, sizeof p->links[i].ifname, "eth%d", i);
		p->links[i].up = i == 0;
		p->links[i].last_rx_age_ms = i == 0 ? 20 : -1;
		p->links[i].rx = 100;
		p->links[i].tx = 101;
	}
	struct dd_st_cluster *c = &st->clusters[0];
	c->have_role = true;
	c->role = DD_ROLE_ACTIVE;
	c->in_role_ms = 65000;
	c->peer_known = true;
	c->peer_role = DD_ROLE_STANDBY;
	c->peer_priority = 100;
	c->priority = 150;
	c->vips_up = true;
	c->vips_missing = 1;

	st->have_fwd = st->have_counters = true;
	st->fwd = (struct dd_st_fwd_stats){ .passes = 5, .ops = 12 };
	struct dd_st_service *s = &c->services[0];
	s->in_kernel = s->have_counters = true;
	snprintf(s->sched, sizeof s->sched, "rr");
	s->stats.conns = 9;
	s->sorry_known = true;
	struct dd_st_rs *r1 = &s->rs[0], *r2 = &s->rs[1];
	r1->have_admin = r2->have_admin = true;
	r2->drained = true;
	r1->kernel = (struct dd_st_kernel_rs){ .present = true, .weight = 1, .fwd = IP_VS_CONN_F_MASQ,
					       .have_counters = true, .active_conns = 3, .inact_conns = 4,
					       .stats = { .conns = 7 } };
	r2->kernel = (struct dd_st_kernel_rs){ .present = true, .weight = 0, .fwd = IP_VS_CONN_F_MASQ,
					       .have_counters = true, .stats = { .conns = 2 } };
	st->have_health = true;
	st->health = (struct dd_st_health_stats){ .n_probes = 2, .n_subscribers = 2, .slip_p99_ms = 1.5 };
	r1->health = (struct dd_st_health){ .known = true, .up = true, .reason = "ok", .checks = 10, .ok = 10 };
	r2->health = (struct dd_st_health){ .known = true, .up = false, .reason = "connection refused",
					    .checks = 10, .ok = 4, .failed = 6, .transitions = 1 };
	c->why = DD_WHY_TRACK_SCRIPT;
	st->n_track = 2;
	st->track = calloc(2, sizeof *st->track);
	st->track[0] = (struct dd_track_script_status){ .name = "chk", .known = true, .ok = false,
		.weight = -20, .consecutive = 2, .runs = 7, .failures = 3, .timeouts = 1,
		.last_run_age_ms = 1500, .last_result = "timeout after 500 ms" };
	st->track[1] = (struct dd_track_script_status){ .name = "new", .running = true,
		.last_run_age_ms = -1 };
}

static void has(const char *text, const char *want)
{
	ck_assert_msg(strstr(text, want), "missing \"%s\" in:\n%s", want, text);
}

static void lacks(const char *text, const char *unwanted)
{
	ck_assert_msg(!strstr(text, unwanted), "unexpected \"%s\" in:\n%s", unwanted, text);
}

/* python3's json module is the judge of well-formed JSON. */
static void parses(const char *json)
{
	FILE *py = popen("python3 -c 'import json, sys; json.load(sys.stdin)'", "w");
	ck_assert(py);
	fputs(json, py);
	ck_assert_int_eq(pclose(py), 0);
}

START_TEST(one_model_three_writers)
{
	struct fixture f;
	struct dd_status st;
	build_model(&f, &st);
	struct dd_buf text = { 0 }, json = { 0 }, prom = { 0 };
	dd_status_text(&st, &text);
	dd_status_json(&st, &json);
	dd_status_prom(&st, &prom);

	has(text.p, "node lb1: ");
	has(text.p, ", pid 4242, up 1h02m\n");
	has(text.p, "config /etc/directord/directord.conf: 1 reload, 0 rejected\n");
	has(text.p, "peer lb2: alive, last heartbeat 0.0s ago\n");
	has(text.p, "  link 0 192.0.2.1 -> 192.0.2.2 on eth0: up, last heard 0.0s ago, rx 100 tx 101 errors 0\n");
	has(text.p, "  link 1 198.51.100.1 -> 198.51.100.2 on eth1: DOWN, never heard");
	has(text.p, "\ncluster web: active for 1m05s, priority 150; peer standby, priority 100\n");
	has(text.p, "  vip 203.0.113.10/24 on eth0\n");
	has(text.p, "track script chk: FAILED (2 in a row), weight -20, 7 runs, 3 failed, 1 timed out; "
		    "last: timeout after 500 ms, 1.5s ago\n");
	has(text.p, "track script new: no result yet, weight 0, 0 runs, 0 failed, 0 timed out; running\n");
	has(json.p, "\"track_scripts\":[{\"name\":\"chk\",\"state\":\"failed\",\"weight\":-20,\"running\":false,"
		    "\"consecutive\":2,\"runs\":7,\"failures\":3,\"timeouts\":1,"
		    "\"last_result\":\"timeout after 500 ms\",\"last_run_age_ms\":1500}");
	has(json.p, "\"state\":\"unknown\"");
	has(json.p, "\"effective_priority\":150,\"why\":\"track-script\"");
	has(prom.p, "directord_track_script_up{script=\"chk\"} 0\n");
	lacks(prom.p, "directord_track_script_up{script=\"new\"}");
	has(prom.p, "directord_track_script_timeouts_total{script=\"chk\"} 1\n");
	has(prom.p, "directord_cluster_priority{cluster=\"web\"} 150\n");
	has(text.p, "  PROBLEM (timers): peer lb2 sends every 100 ms, dead after 400 ms\n");
	has(text.p, "  1 VIP MISSING: could not be added, retried every second\n");
	has(text.p, "  service http: tcp 203.0.113.10:80, rr, nat\n");
	has(text.p, "    198.51.100.11:80       UP   (tcp ok) weight 1/1 active 3 inactive 4 cps 0");
	has(text.p, "    198.51.100.12:80       DOWN (http connection refused) DRAINED (maintenance) weight 0/2");
	has(text.p, "    sorry server 198.51.100.99:80: standby\n");

	parses(json.p);
	ck_assert(!strchr(json.p, '\n')); /* compact: directorctl indents it */
	has(json.p, "\"node\":\"lb1\"");
	has(json.p, "\"role\":\"active\"");
	has(json.p, "\"peer_role\":\"standby\"");
	has(json.p, "\"bad_auth\":3");
	has(json.p, "\"unproven\":2");
	has(json.p, "\"problem\":{\"kind\":\"timers\",\"message\":\"peer lb2 sends every 100 ms");
	has(json.p, "\"vips_missing\":1");
	has(json.p, "\"interface\":\"eth1\"");
	has(json.p, "\"admin\":\"drained\"");
	has(json.p, "\"reason\":\"connection refused\"");
	has(json.p, "\"active_conns\":3");
	has(json.p, "\"serving\":false");
	has(json.p, "\"slip_p99_ms\":1.5");

	has(prom.p, "directord_cluster_role{cluster=\"web\",role=\"active\"} 1\n");
	has(prom.p, "directord_cluster_role{cluster=\"web\",role=\"standby\"} 0\n");
	has(prom.p, "directord_peer_up{peer=\"lb2\"} 1\n");
	has(prom.p, "directord_link_up{peer=\"lb2\",link=\"1\",local=\"198.51.100.1\",remote=\"198.51.100.2\"} 0\n");
	has(prom.p, "directord_heartbeat_dropped_total{reason=\"bad_auth\"} 3\n");
	has(prom.p, "directord_heartbeat_dropped_total{reason=\"unproven\"} 2\n");
	has(prom.p, "directord_peer_problem{peer=\"lb2\",problem=\"timers\"} 1\n");
	has(prom.p, "directord_peer_problem{peer=\"lb2\",problem=\"ok\"} 0\n");
	has(prom.p, "directord_cluster_vips_missing{cluster=\"web\"} 1\n");
	has(prom.p, "directord_real_server_up{service=\"http\",server=\"198.51.100.12:80\"} 0\n");
	has(prom.p, "directord_checks_total{service=\"http\",server=\"198.51.100.12:80\",result=\"failed\"} 6\n");
	has(prom.p, "directord_real_server_maintenance{service=\"http\",server=\"198.51.100.12:80\"} 1\n");
	has(prom.p, "directord_real_server_config_weight{service=\"http\",server=\"198.51.100.12:80\"} 2\n");
	has(prom.p, "directord_ipvs_real_server_weight{service=\"http\",server=\"198.51.100.12:80\"} 0\n");
	has(prom.p, "directord_ipvs_real_server_connections_total{service=\"http\",server=\"198.51.100.11:80\"} 7\n");
	has(prom.p, "directord_service_sorry_active{service=\"http\"} 0\n");
	has(prom.p, "directord_failovers_total{cluster=\"web\"} 1\n");
	has(prom.p, "directord_role_changes_total{cluster=\"web\"} 2\n");
	has(prom.p, "directord_health_timer_slip_seconds{quantile=\"0.99\"} 0.0015\n");
	has(prom.p, "directord_config_real_servers 2\n");

	dd_buf_free(&text);
	dd_buf_free(&json);
	dd_buf_free(&prom);
	dd_status_free(&st);
}
END_TEST

/* The shape from the config alone: every part unknown, said as such. */
START_TEST(nothing_running)
{
	struct fixture f;
	build_config(&f);
	struct dd_status st;
	dd_status_init(&st, &f.cfg, NULL);
	st.conf_path = "x.conf";
	struct dd_buf text = { 0 }, json = { 0 }, prom = { 0 };
	dd_status_text(&st, &text);
	dd_status_json(&st, &json);
	dd_status_prom(&st, &prom);
	has(text.p, "failover: not running\n");
	has(text.p, "\ncluster web: role unknown, priority 150\n");
	has(text.p, "    198.51.100.11:80       health unknown (tcp) weight -/1\n");
	has(text.p, "    sorry server 198.51.100.99:80: state unknown\n");
	parses(json.p);
	has(json.p, "\"role\":null");
	has(json.p, "\"peer\":null");
	has(json.p, "\"health\":null");
	has(json.p, "\"ipvs\":null");
	has(json.p, "\"forwarding_plane\":null");
	has(prom.p, "directord_real_server_config_weight{service=\"http\",server=\"198.51.100.11:80\"} 1\n");
	lacks(prom.p, "directord_real_server_up");
	lacks(prom.p, "directord_cluster_role");
	lacks(prom.p, "directord_ipvs_");
	dd_buf_free(&text);
	dd_buf_free(&json);
	dd_buf_free(&prom);
	dd_status_free(&st);
}
END_TEST

START_TEST(one_cluster_shown)
{
	struct fixture f;
	build_config(&f);
	struct dd_status st;
	dd_status_init(&st, &f.cfg, &f.cl);
	ck_assert_uint_eq(st.n_clusters, 1);
	ck_assert_ptr_eq(st.clusters[0].services[0].rs[1].cfg, &f.rs[1]);
	dd_status_free(&st);
}
END_TEST

START_TEST(plan_and_admin)
{
	struct fixture f;
	build_config(&f);
	struct dd_plan_vip v = { "web", &f.vip, true, 0 };
	struct ipvs_op op = { .type = IPVS_OP_EDIT_DEST, .old_weight = 1, .reason = "config" };
	snprintf(op.svc.name, sizeof op.svc.name, "http");
	op.dest.addr = f.rs[1].addr;
	op.dest.port = 80;
	op.dest.weight = 5;
	op.dest.fwd = IP_VS_CONN_F_MASQ;
	struct dd_plan p = { .file = "new.conf", .vips = &v, .n_vips = 1, .have_ipvs = true, .ops = &op, .n_ops = 1 };
	struct dd_buf text = { 0 }, json = { 0 };
	dd_plan_text(&p, &text);
	dd_plan_json(&p, &json);
	has(text.p, "plan for new.conf:\n  vip add 203.0.113.10/24 on eth0 (cluster web, not active: at takeover)\n");
	has(text.p, "  ipvs update real server 198.51.100.12:80 in http, nat, weight 1 -> 5 (config)\n");
	parses(json.p);
	has(json.p, "\"now\": false");
	has(json.p, "\"op\": \"edit_server\"");
	has(json.p, "\"old_weight\": 1");
	dd_buf_free(&text);
	dd_buf_free(&json);

	struct dd_admin_rs a[] = { { "http", &f.rs[0] } };
	struct dd_admin_result r = { .drain = true, .v = a, .n = 1 };
	dd_admin_text(&r, &text);
	dd_admin_json(&r, &json);
	ck_assert_str_eq(text.p, "drained 198.51.100.11:80 in service http\n");
	parses(json.p);
	has(json.p, "\"action\": \"drain\"");
	has(json.p, "\"port\": 80");
	dd_buf_free(&text);
	dd_buf_free(&json);
}
END_TEST

START_TEST(acks)
{
	struct dd_ack a[] = {
		{ .kind = DD_ACK_CHECK, .file = "a.conf", .clusters = 1, .services = 2, .real_servers = 1 },
		{ .kind = DD_ACK_RELOAD, .file = "a.conf", .reloads = 3 },
		{ .kind = DD_ACK_HANDOVER, .cluster = "web", .takeover = false },
	};
	const char *text[] = { "a.conf: configuration OK (1 cluster, 2 services, 1 real server)\n",
			       "reloaded a.conf\n",
			       "release of cluster web requested; the role change follows (see status)\n" };
	const char *json[] = { "{\n  \"file\": \"a.conf\",\n  \"valid\": true,\n  \"clusters\": 1,\n"
			       "  \"services\": 2,\n  \"real_servers\": 1\n}\n",
			       "{\n  \"file\": \"a.conf\",\n  \"reloaded\": true,\n  \"reloads\": 3\n}\n",
			       "{\n  \"cluster\": \"web\",\n  \"requested\": \"release\"\n}\n" };
	for (size_t i = 0; i < 3; i++) {
		struct dd_buf t = { 0 }, j = { 0 };
		dd_ack_text(&a[i], &t);
		dd_ack_json(&a[i], &j);
		ck_assert_str_eq(t.p, text[i]);
		ck_assert_str_eq(j.p, json[i]);
		dd_buf_free(&t);
		dd_buf_free(&j);
	}
}
END_TEST

int main(void)
{
	Suite *s = suite_create("status");
	TCase *tc = tcase_create("writers");
	tcase_add_test(tc, one_model_three_writers);
	tcase_add_test(tc, nothing_running);
	tcase_add_test(tc, one_cluster_shown);
	tcase_add_test(tc, plan_and_admin);
	tcase_add_test(tc, acks);
	suite_add_tcase(s, tc);
	return dd_ck_run(s);
}
