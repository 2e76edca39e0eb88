/* SPDX-License-Identifier: GPL-2.0-or-later */
/* tests/unit/test_reconcile.c: the desired-table rules (desired.c) and the
 * reconciler's diff (reconcile.c) as pure functions: configs come from the
 * real loader, "kernel" tables are plain values. No kernel is touched; the
 * in-guest tests prove the netlink side. Single-threaded. */
#include "config.h"

#include <arpa/inet.h>
#include <check.h>
#include "tests/unit/ck_run.h"
#include <linux/ip_vs.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "conf/model.h"
#include "directord/desired.h"
#include "directord/reconcile.h"
#include "lib/util.h"

static const char *CFG_BASE =
	"clusters = ( {\n"
	"  name = \"web\";\n"
	"  vips = ( { address = \"203.0.113.10\"; interface = \"eth0\"; } );\n"
	"  services = (\n"
	"   { name = \"http\"; protocol = \"tcp\"; address = \"203.0.113.10\"; port = 80;\n"
	"     scheduler = \"wrr\"; forward = \"nat\"; drain_ms = 5000;\n"
	"     check = { type = \"tcp\"; initial = \"up\"; };\n"
	"     real_servers = ( { address = \"198.51.100.21\"; port = 80; weight = 2; },\n"
	"                      { address = \"198.51.100.22\"; port = 80; },\n"
	"                      { address = \"198.51.100.23\"; port = 80; } ); },\n"
	"   { name = \"dns\"; protocol = \"udp\"; address = \"2001:db8::10\"; port = 53;\n"
	"     scheduler = \"rr\"; check = { type = \"none\"; };\n"
	"     real_servers = ( { address = \"2001:db8::21\"; port = 53; } ); },\n"
	"   { name = \"mark\"; fwmark = 7; scheduler = \"sh\"; sched_flags = [ \"sh-port\" ];\n"
	"     persistence_timeout_s = 300; persistence_netmask = \"255.255.255.0\";\n"
	"     check = { type = \"none\"; };\n"
	"     real_servers = ( { address = \"198.51.100.31\"; forward = \"tun\"; } ); }\n"
	"  );\n"
	"} );\n";

static struct dd_config *load(const char *text)
{
	struct dd_conf_errors errs = { 0 };
	struct dd_config *c = dd_config_load_string(text, "test.conf", &errs);
	dd_conf_errors_print(&errs, stderr);
	ck_assert_msg(c != NULL, "test config must load");
	dd_conf_errors_free(&errs);
	return c;
}

/* A config with `old` replaced by `new` (first occurrence). */
static struct dd_config *load_edit(const char *old, const char *new)
{
	const char *p = strstr(CFG_BASE, old);
	ck_assert_ptr_nonnull(p);
	size_t n = strlen(CFG_BASE) - strlen(old) + strlen(new) + 1;
	char *t = xmalloc(n);
	snprintf(t, n, "%.*s%s%s", (int)(p - CFG_BASE), CFG_BASE, new, p + strlen(old));
	struct dd_config *c = load(t);
	free(t);
	return c;
}

struct world {
	struct dd_config *cfg;
	struct ds_svc_state *st;
	size_t n;
};

static void world_init(struct world *w, struct dd_config *cfg)
{
	w->cfg = cfg;
	w->n = 0;
	for (size_t c = 0; c < cfg->n_clusters; c++)
		w->n += cfg->clusters[c].n_services;
	w->st = xcalloc(w->n, sizeof(*w->st));
	size_t k = 0;
	for (size_t c = 0; c < cfg->n_clusters; c++)
		for (size_t i = 0; i < cfg->clusters[c].n_services; i++, k++)
			w->st[k].rs = xcalloc(cfg->clusters[c].services[i].n_rs + 1, sizeof(struct ds_rs_state));
}

static void world_free(struct world *w)
{
	for (size_t i = 0; i < w->n; i++)
		free(w->st[i].rs);
	free(w->st);
	dd_config_free(w->cfg);
}

static void build(struct world *w, uint64_t now, struct ipvs_table *out)
{
	uint64_t next;
	ds_build(w->cfg, w->st, now, out, &next);
}

/* Runs one pass; current := expected (as if every op succeeded). */
static void pass(struct rc_state *st, const struct ipvs_table *desired, struct ipvs_table *cur, uint64_t now,
		 struct rc_result *res)
{
	memset(res, 0, sizeof(*res));
	rc_diff(st, desired, cur, now, NULL, NULL, res);
}

static void adopt(struct ipvs_table *cur, struct rc_result *res)
{
	ipvs_table_free(cur);
	*cur = res->expected;
	res->expected = (struct ipvs_table){ 0 };
}

static void copy_table(struct ipvs_table *dst, const struct ipvs_table *src)
{
	memset(dst, 0, sizeof(*dst));
	for (size_t i = 0; i < src->n; i++) {
		struct ipvs_service *s = ipvs_table_add(dst);
		ipvs_service_copy(s, &src->svc[i]);
		s->name[0] = '\0'; /* the kernel knows no names */
		for (size_t j = 0; j < s->n_dests; j++)
			s->dests[j].reason = NULL;
	}
}

static void finish(struct world *w, struct ipvs_table *d, struct ipvs_table *cur, struct rc_state *st)
{
	rc_state_free(st);
	ipvs_table_free(cur);
	ipvs_table_free(d);
	world_free(w);
}

/* The base config, built at t=1000 and already in the kernel as is. */
static void converged(struct world *w, struct ipvs_table *d, struct ipvs_table *cur)
{
	world_init(w, load(CFG_BASE));
	build(w, 1000, d);
	copy_table(cur, d);
}

/* ...and a first pass at t=1000 has made the reconciler own it. */
static void owned(struct world *w, struct ipvs_table *d, struct ipvs_table *cur, struct rc_state *st)
{
	converged(w, d, cur);
	struct rc_result r;
	pass(st, d, cur, 1000, &r);
	rc_result_free(&r);
}

static struct ipvs_service *svc_by_name(struct ipvs_table *t, const char *name)
{
	for (size_t i = 0; i < t->n; i++)
		if (!strcmp(t->svc[i].name, name))
			return &t->svc[i];
	return NULL;
}

static struct ipvs_dest *dest_by_addr(struct ipvs_service *s, const char *addr)
{
	struct dd_addr a;
	ck_assert(dd_addr_parse(addr, &a));
	for (size_t i = 0; i < s->n_dests; i++)
		if (dd_addr_eq(&s->dests[i].addr, &a))
			return &s->dests[i];
	return NULL;
}

static void add_foreign(struct ipvs_table *t)
{
	struct ipvs_service *s = ipvs_table_add(t);
	s->key.af = AF_INET;
	s->key.protocol = IPPROTO_TCP;
	dd_addr_parse("192.0.2.99", &s->key.addr);
	s->key.port = 443;
	snprintf(s->sched, sizeof(s->sched), "rr");
	s->netmask = 0xffffffff;
	struct ipvs_dest *d = ipvs_service_add_dest(s);
	dd_addr_parse("192.0.2.100", &d->addr);
	d->port = 443;
	d->weight = 1;
	d->active_conns = 5;
	ipvs_table_sort(t);
}

/* ------------------------------------------------------------------ tests */

START_TEST(test_cold_program_orders_service_before_dests)
{
	struct world w;
	world_init(&w, load(CFG_BASE));
	struct ipvs_table d, cur = { 0 };
	build(&w, 1000, &d);
	struct rc_state st = { 0 };
	struct rc_result r;
	pass(&st, &d, &cur, 1000, &r);
	ck_assert_uint_eq(r.n_ops, 3 + 5); /* 3 services, 5 real servers */
	size_t added_svcs = 0;
	for (size_t i = 0; i < r.n_ops; i++) {
		if (r.ops[i].type == IPVS_OP_ADD_SVC) {
			added_svcs++;
			continue;
		}
		ck_assert_int_eq(r.ops[i].type, IPVS_OP_ADD_DEST);
		/* its service was added earlier in the same batch */
		bool seen = false;
		for (size_t j = 0; j < i; j++)
			seen |= r.ops[j].type == IPVS_OP_ADD_SVC &&
				ipvs_svc_key_cmp(&r.ops[j].svc.key, &r.ops[i].svc.key) == 0;
		ck_assert(seen);
	}
	ck_assert_uint_eq(added_svcs, 3);
	ck_assert_uint_eq(st.n_owned, 3);
	struct ipvs_service *m = svc_by_name(&r.expected, "mark");
	ck_assert_ptr_nonnull(m);
	ck_assert_uint_eq(m->key.fwmark, 7);
	ck_assert_uint_eq(m->flags, IP_VS_SVC_F_PERSISTENT | IP_VS_SVC_F_SCHED2);
	ck_assert_uint_eq(m->timeout, 300);
	ck_assert_uint_eq(m->netmask, htonl(0xffffff00));
	ck_assert_uint_eq(m->dests[0].fwd, IP_VS_CONN_F_TUNNEL);
	struct ipvs_service *dns = svc_by_name(&r.expected, "dns");
	ck_assert_uint_eq(dns->key.af, AF_INET6);
	ck_assert_uint_eq(dns->key.protocol, IPPROTO_UDP);
	ck_assert_uint_eq(dns->netmask, 128);
	rc_result_free(&r);
	rc_state_free(&st);
	ipvs_table_free(&d);
	world_free(&w);
}
END_TEST

START_TEST(test_adopt_without_change)
{
	struct world w;
	world_init(&w, load(CFG_BASE));
	struct ipvs_table d, cur;
	build(&w, 1000, &d);
	copy_table(&cur, &d); /* what a previous run left in the kernel */
	add_foreign(&cur);
	struct rc_state st = { 0 };
	struct rc_result r;
	pass(&st, &d, &cur, 1000, &r);
	ck_assert_uint_eq(r.n_ops, 0);
	ck_assert_uint_eq(r.expected.n, 4); /* the foreign service stays in the model */
	ck_assert_ptr_nonnull(svc_by_name(&r.expected, "http"));
	rc_result_free(&r);
	finish(&w, &d, &cur, &st);
}
END_TEST

START_TEST(test_one_weight_change_is_one_op)
{
	struct world w;
	struct ipvs_table d, cur;
	converged(&w, &d, &cur);
	ipvs_table_free(&d);
	world_free(&w);
	world_init(&w, load_edit("address = \"198.51.100.22\"; port = 80; }",
				 "address = \"198.51.100.22\"; port = 80; weight = 7; }"));
	build(&w, 2000, &d);
	struct rc_state st = { 0 };
	struct rc_result r;
	pass(&st, &d, &cur, 2000, &r);
	ck_assert_uint_eq(r.n_ops, 1);
	ck_assert_int_eq(r.ops[0].type, IPVS_OP_EDIT_DEST);
	ck_assert_uint_eq(r.ops[0].old_weight, 1);
	ck_assert_uint_eq(r.ops[0].dest.weight, 7);
	ck_assert_str_eq(r.ops[0].svc.name, "http");
	rc_result_free(&r);
	finish(&w, &d, &cur, &st);
}
END_TEST

START_TEST(test_scheduler_change_edits_in_place)
{
	struct world w;
	struct ipvs_table d, cur;
	converged(&w, &d, &cur);
	ipvs_table_free(&d);
	world_free(&w);
	world_init(&w, load_edit("scheduler = \"wrr\";", "scheduler = \"lc\";"));
	build(&w, 2000, &d);
	struct rc_state st = { 0 };
	struct rc_result r;
	pass(&st, &d, &cur, 2000, &r);
	ck_assert_uint_eq(r.n_ops, 1);
	ck_assert_int_eq(r.ops[0].type, IPVS_OP_EDIT_SVC); /* never delete + add */
	ck_assert_str_eq(r.ops[0].svc.sched, "lc");
	rc_result_free(&r);
	finish(&w, &d, &cur, &st);
}
END_TEST

START_TEST(test_drain_then_delete)
{
	struct world w;
	struct ipvs_table d, cur;
	struct rc_state st = { 0 };
	owned(&w, &d, &cur, &st);
	struct rc_result r;
	ipvs_table_free(&d);
	world_free(&w);
	/* 198.51.100.23 has two active connections and leaves the config */
	for (size_t i = 0; i < cur.n; i++) {
		struct ipvs_dest *x = dest_by_addr(&cur.svc[i], "198.51.100.23");
		if (x)
			x->active_conns = 2;
	}
	world_init(&w, load_edit(",\n                      { address = \"198.51.100.23\"; port = 80; }", ""));
	build(&w, 2000, &d);
	pass(&st, &d, &cur, 2000, &r);
	ck_assert_uint_eq(r.n_ops, 1);
	ck_assert_int_eq(r.ops[0].type, IPVS_OP_EDIT_DEST);
	ck_assert_uint_eq(r.ops[0].dest.weight, 0);
	ck_assert_uint_eq(r.ops[0].old_weight, 1);
	ck_assert_uint_eq(r.next_ms, 2000 + 5000);
	ck_assert(r.poll_conns);
	ck_assert_uint_eq(st.n_drains, 1);
	adopt(&cur, &r);
	rc_result_free(&r);
	/* still busy, drain period not over: nothing to do */
	pass(&st, &d, &cur, 4000, &r);
	ck_assert_uint_eq(r.n_ops, 0);
	adopt(&cur, &r);
	rc_result_free(&r);
	/* drain period over: deleted, though connections remain */
	pass(&st, &d, &cur, 7000, &r);
	ck_assert_uint_eq(r.n_ops, 1);
	ck_assert_int_eq(r.ops[0].type, IPVS_OP_DEL_DEST);
	ck_assert_str_eq(r.ops[0].reason, "removed from config, drain period over");
	ck_assert_uint_eq(st.n_drains, 0);
	adopt(&cur, &r);
	rc_result_free(&r);
	pass(&st, &d, &cur, 8000, &r);
	ck_assert_uint_eq(r.n_ops, 0);
	rc_result_free(&r);
	finish(&w, &d, &cur, &st);
}
END_TEST

START_TEST(test_drain_ends_when_connections_end)
{
	struct world w;
	struct ipvs_table d, cur;
	struct rc_state st = { 0 };
	owned(&w, &d, &cur, &st);
	struct rc_result r;
	ipvs_table_free(&d);
	world_free(&w);
	struct ipvs_dest *x = NULL;
	for (size_t i = 0; i < cur.n && !x; i++)
		x = dest_by_addr(&cur.svc[i], "198.51.100.23");
	x->active_conns = 1;
	world_init(&w, load_edit(",\n                      { address = \"198.51.100.23\"; port = 80; }", ""));
	build(&w, 2000, &d);
	pass(&st, &d, &cur, 2000, &r);
	ck_assert_uint_eq(r.n_ops, 1);
	ck_assert_int_eq(r.ops[0].type, IPVS_OP_EDIT_DEST);
	adopt(&cur, &r);
	rc_result_free(&r);
	x = NULL;
	for (size_t i = 0; i < cur.n && !x; i++)
		x = dest_by_addr(&cur.svc[i], "198.51.100.23");
	ck_assert_ptr_nonnull(x);
	ck_assert_uint_eq(x->weight, 0);
	x->active_conns = 0; /* the last client left */
	pass(&st, &d, &cur, 2500, &r);
	ck_assert_uint_eq(r.n_ops, 1);
	ck_assert_int_eq(r.ops[0].type, IPVS_OP_DEL_DEST);
	ck_assert_str_eq(r.ops[0].reason, "removed from config, no active connections");
	rc_result_free(&r);
	finish(&w, &d, &cur, &st);
}
END_TEST

START_TEST(test_foreign_services_untouched)
{
	struct ipvs_table empty = { 0 }, cur = { 0 };
	add_foreign(&cur);
	struct rc_state st = { 0 };
	struct rc_result r;
	pass(&st, &empty, &cur, 1000, &r);
	ck_assert_uint_eq(r.n_ops, 0);
	ck_assert_uint_eq(r.expected.n, 1);
	ck_assert_uint_eq(r.expected.svc[0].n_dests, 1);
	ck_assert_uint_eq(st.n_owned, 0);
	rc_result_free(&r);
	/* even next to a config of ours that changes */
	struct world w;
	world_init(&w, load(CFG_BASE));
	struct ipvs_table d;
	build(&w, 1000, &d);
	pass(&st, &d, &cur, 1000, &r);
	for (size_t i = 0; i < r.n_ops; i++) {
		struct dd_addr foreign;
		dd_addr_parse("192.0.2.99", &foreign);
		ck_assert(!dd_addr_eq(&r.ops[i].svc.key.addr, &foreign));
	}
	ck_assert_ptr_nonnull(ipvs_table_find(&r.expected, &cur.svc[0].key));
	rc_result_free(&r);
	finish(&w, &d, &cur, &st);
}
END_TEST

START_TEST(test_removed_service_drained_then_deleted)
{
	struct world w;
	struct ipvs_table d, cur;
	struct rc_state st = { 0 };
	owned(&w, &d, &cur, &st);
	struct rc_result r;
	ipvs_table_free(&d);
	struct ipvs_service *dns = NULL;
	for (size_t i = 0; i < cur.n; i++)
		if (cur.svc[i].key.protocol == IPPROTO_UDP)
			dns = &cur.svc[i];
	dns->dests[0].active_conns = 3;
	struct ipvs_svc_key dns_key = dns->key;
	/* the config loses every service: ours are drained, then deleted */
	struct ipvs_table none = { 0 };
	pass(&st, &none, &cur, 2000, &r);
	size_t dels = 0, zero = 0, del_svc = 0;
	for (size_t i = 0; i < r.n_ops; i++) {
		dels += r.ops[i].type == IPVS_OP_DEL_DEST;
		zero += r.ops[i].type == IPVS_OP_EDIT_DEST && r.ops[i].dest.weight == 0;
		del_svc += r.ops[i].type == IPVS_OP_DEL_SVC;
	}
	ck_assert_uint_eq(dels, 4);  /* idle servers go at once */
	ck_assert_uint_eq(zero, 1);  /* the busy one drains */
	ck_assert_uint_eq(del_svc, 2);
	ck_assert_ptr_nonnull(ipvs_table_find(&r.expected, &dns_key));
	adopt(&cur, &r);
	rc_result_free(&r);
	/* dns has no drain_ms in the config: the default 30 s applies */
	pass(&st, &none, &cur, 2000 + 30000, &r);
	ck_assert_uint_eq(r.n_ops, 2);
	ck_assert_int_eq(r.ops[0].type, IPVS_OP_DEL_DEST);
	ck_assert_int_eq(r.ops[1].type, IPVS_OP_DEL_SVC);
	adopt(&cur, &r);
	rc_result_free(&r);
	ck_assert_uint_eq(cur.n, 0);
	pass(&st, &none, &cur, 40000, &r);
	ck_assert_uint_eq(st.n_owned, 0); /* forgotten once gone */
	rc_result_free(&r);
	rc_state_free(&st);
	ipvs_table_free(&cur);
	world_free(&w);
}
END_TEST

/* ---- desired-table rules */

static struct ipvs_dest *desired_dest(struct world *w, uint64_t now, struct ipvs_table *d, const char *svc,
				      const char *addr)
{
	build(w, now, d);
	struct ipvs_service *s = svc_by_name(d, svc);
	ck_assert_ptr_nonnull(s);
	return dest_by_addr(s, addr);
}

/* ECMP (issue 14): every director must build the same mh table, which the
 * kernel derives from its destination list in the order of addition. So
 * the real servers go in in config order (here the reverse of key order),
 * and a failed one stays at weight 0 past any drain time, never deleted. */
static const char CFG_ECMP[] =
	"node = \"lb1\";\n"
	"ecmp = { device = \"dd-ecmp\"; };\n"
	"clusters = ( { name = \"any\"; mode = \"ecmp\";\n"
	"  vips = ( { address = \"203.0.113.10/32\"; interface = \"lo\"; } );\n"
	"  services = ( { name = \"web\"; protocol = \"tcp\"; address = \"203.0.113.10\"; port = 80;\n"
	"    scheduler = \"mh\"; sched_flags = [ \"mh-fallback\" ]; drain_ms = 100; check = { type = \"tcp\"; };\n"
	"    real_servers = ( { address = \"198.51.100.23\"; }, { address = \"198.51.100.21\"; },\n"
	"                     { address = \"198.51.100.22\"; } ); } ); } );\n";

START_TEST(test_ecmp_config_order_and_no_deletion)
{
	struct world w;
	world_init(&w, load(CFG_ECMP));
	for (size_t i = 0; i < 3; i++)
		w.st[0].rs[i].health = DS_HEALTH_UP;
	struct ipvs_table d, cur = { 0 };
	build(&w, 1000, &d);
	struct rc_state st = { 0 };
	struct rc_result r;
	pass(&st, &d, &cur, 1000, &r);
	static const char *const want[] = { "198.51.100.23", "198.51.100.21", "198.51.100.22" };
	size_t k = 0;
	for (size_t i = 0; i < r.n_ops; i++) {
		if (r.ops[i].type != IPVS_OP_ADD_DEST)
			continue;
		char b[DD_ADDR_STRLEN];
		ck_assert_uint_lt(k, 3);
		ck_assert_str_eq(dd_addr_str(&r.ops[i].dest.addr, b, sizeof b), want[k]);
		k++;
	}
	ck_assert_uint_eq(k, 3);
	adopt(&cur, &r);
	rc_result_free(&r);
	/* The second server fails: weight 0, and still there long after
	 * drain_ms (100 ms) would have deleted it in pair mode. */
	w.st[0].rs[1].health = DS_HEALTH_DOWN;
	w.st[0].rs[1].reason = w.st[0].rs[1].why = "health DOWN";
	ipvs_table_free(&d);
	build(&w, 2000, &d);
	pass(&st, &d, &cur, 2000, &r);
	ck_assert_uint_eq(r.n_ops, 1);
	ck_assert_int_eq(r.ops[0].type, IPVS_OP_EDIT_DEST);
	ck_assert_uint_eq(r.ops[0].dest.weight, 0);
	adopt(&cur, &r);
	rc_result_free(&r);
	for (uint64_t t = 3000; t <= 600000; t += 100000) {
		ipvs_table_free(&d);
		build(&w, t, &d);
		pass(&st, &d, &cur, t, &r);
		ck_assert_uint_eq(r.n_ops, 0);
		adopt(&cur, &r);
		rc_result_free(&r);
	}
	ck_assert_ptr_nonnull(dest_by_addr(&cur.svc[0], "198.51.100.21"));
	finish(&w, &d, &cur, &st);
}
END_TEST

START_TEST(test_desired_health_down_drain_or_remove)
{
	struct world w;
	world_init(&w, load(CFG_BASE));
	w.st[0].rs[0].health = DS_HEALTH_DOWN;
	w.st[0].rs[0].reason = w.st[0].rs[0].why = "health DOWN";
	struct ipvs_table d;
	struct ipvs_dest *x = desired_dest(&w, 1000, &d, "http", "198.51.100.21");
	ck_assert_uint_eq(x->weight, 0);
	ck_assert(!x->absent);
	ck_assert_str_eq(x->reason, "health DOWN");
	ipvs_table_free(&d);
	world_free(&w);

	world_init(&w, load_edit("drain_ms = 5000;", "drain_ms = 5000; removal = \"remove\";"));
	w.st[0].rs[0].health = DS_HEALTH_DOWN;
	x = desired_dest(&w, 1000, &d, "http", "198.51.100.21");
	ck_assert(x->absent);
	/* and the reconciler deletes it at once */
	struct ipvs_table cur;
	copy_table(&cur, &d);
	for (size_t i = 0; i < cur.n; i++)
		for (size_t j = 0; j < cur.svc[i].n_dests; j++)
			cur.svc[i].dests[j].absent = false;
	struct ipvs_dest *k = dest_by_addr(&cur.svc[0], "198.51.100.21");
	if (!k)
		for (size_t i = 0; i < cur.n && !k; i++)
			k = dest_by_addr(&cur.svc[i], "198.51.100.21");
	k->weight = 2;
	k->active_conns = 9;
	struct rc_state st = { 0 };
	struct rc_result r;
	pass(&st, &d, &cur, 1000, &r);
	ck_assert_uint_eq(r.n_ops, 1);
	ck_assert_int_eq(r.ops[0].type, IPVS_OP_DEL_DEST);
	rc_result_free(&r);
	finish(&w, &d, &cur, &st);
}
END_TEST

START_TEST(test_desired_initial_and_adopted)
{
	struct world w;
	world_init(&w, load_edit("initial = \"up\";", "initial = \"down\";"));
	struct ipvs_table d;
	struct ipvs_dest *x = desired_dest(&w, 1000, &d, "http", "198.51.100.22");
	ck_assert_uint_eq(x->weight, 0); /* a server earns its traffic */
	ipvs_table_free(&d);
	w.st[0].rs[1].adopted_up = true; /* but a restart keeps what ran */
	x = desired_dest(&w, 1000, &d, "http", "198.51.100.22");
	ck_assert_uint_eq(x->weight, 1);
	ipvs_table_free(&d);
	world_free(&w);
}
END_TEST

START_TEST(test_desired_admin_drain)
{
	struct world w;
	world_init(&w, load(CFG_BASE));
	w.st[0].rs[0].admin_drain = true;
	w.st[0].rs[0].why = "admin drain"; /* as dd_fwd_set_rs_admin_drain */
	struct ipvs_table d;
	struct ipvs_dest *x = desired_dest(&w, 1000, &d, "http", "198.51.100.21");
	ck_assert_uint_eq(x->weight, 0);
	ck_assert_str_eq(x->reason, "admin drain");
	ipvs_table_free(&d);
	world_free(&w);
}
END_TEST

START_TEST(test_desired_slow_start_ramp)
{
	struct world w;
	world_init(&w, load_edit("weight = 2; }", "weight = 10; slow_start_ms = 10000; }"));
	w.st[0].rs[0].health = DS_HEALTH_UP;
	w.st[0].rs[0].up_since_ms = 1000;
	struct ipvs_table d;
	uint64_t next;
	ds_build(w.cfg, w.st, 1000, &d, &next);
	struct ipvs_dest *x = dest_by_addr(svc_by_name(&d, "http"), "198.51.100.21");
	ck_assert_uint_eq(x->weight, 1);
	ck_assert_str_eq(x->reason, "slow start");
	ck_assert_uint_eq(next, 2000);
	ipvs_table_free(&d);
	ds_build(w.cfg, w.st, 6000, &d, &next);
	x = dest_by_addr(svc_by_name(&d, "http"), "198.51.100.21");
	ck_assert_uint_eq(x->weight, 5);
	ipvs_table_free(&d);
	ds_build(w.cfg, w.st, 11000, &d, &next);
	x = dest_by_addr(svc_by_name(&d, "http"), "198.51.100.21");
	ck_assert_uint_eq(x->weight, 10);
	ck_assert_uint_eq(next, 0);
	ck_assert_uint_eq(w.st[0].rs[0].up_since_ms, 0);
	ipvs_table_free(&d);
	world_free(&w);
}
END_TEST

START_TEST(test_desired_quorum_sorry_server)
{
	struct world w;
	world_init(&w, load_edit("drain_ms = 5000;",
				 "drain_ms = 5000; quorum = 2; quorum_hysteresis = 1;\n"
				 " sorry_server = { address = \"198.51.100.99\"; port = 8080; };"));
	struct ipvs_table d;
	struct ipvs_dest *s = desired_dest(&w, 1000, &d, "http", "198.51.100.99");
	ck_assert(s->absent); /* 3 up >= 2: no sorry server */
	ipvs_table_free(&d);
	/* 1 up: not below quorum - hysteresis (1) yet */
	w.st[0].rs[0].health = DS_HEALTH_DOWN;
	w.st[0].rs[1].health = DS_HEALTH_DOWN;
	s = desired_dest(&w, 1000, &d, "http", "198.51.100.99");
	ck_assert(s->absent);
	ipvs_table_free(&d);
	/* 0 up: quorum lost, sorry server in with weight 1, the rest zeroed */
	w.st[0].rs[2].health = DS_HEALTH_DOWN;
	s = desired_dest(&w, 1000, &d, "http", "198.51.100.99");
	ck_assert(!s->absent);
	ck_assert_uint_eq(s->weight, 1);
	ck_assert_uint_eq(s->port, 8080);
	ipvs_table_free(&d);
	/* 2 up: still < quorum + hysteresis (3), sorry stays; those up stay at 0 */
	w.st[0].rs[0].health = DS_HEALTH_UP;
	w.st[0].rs[1].health = DS_HEALTH_UP;
	s = desired_dest(&w, 1000, &d, "http", "198.51.100.99");
	ck_assert(!s->absent);
	ck_assert_uint_eq(dest_by_addr(svc_by_name(&d, "http"), "198.51.100.21")->weight, 0);
	ipvs_table_free(&d);
	/* 3 up: regained, sorry server goes */
	w.st[0].rs[2].health = DS_HEALTH_UP;
	s = desired_dest(&w, 1000, &d, "http", "198.51.100.99");
	ck_assert(s->absent);
	ck_assert_uint_eq(dest_by_addr(svc_by_name(&d, "http"), "198.51.100.21")->weight, 2);
	ipvs_table_free(&d);
	world_free(&w);
}
END_TEST

/* ---- removal "drain": weight 0, then deleted after drain_ms */

/* One pass over `w` at `now` against `cur` (which becomes the result), as
 * fwd.c runs it: every op succeeds, so the pending causes are settled. */
static void step(struct world *w, struct rc_state *st, struct ipvs_table *cur, uint64_t now,
		 struct rc_result *r)
{
	struct ipvs_table d;
	build(w, now, &d);
	pass(st, &d, cur, now, r);
	ipvs_table_free(&d);
	ds_settled(w->cfg, w->st);
}

static struct ipvs_dest *cur_dest(struct ipvs_table *cur, const char *svc_addr, const char *addr)
{
	for (size_t i = 0; i < cur->n; i++) {
		struct dd_addr a;
		ck_assert(dd_addr_parse(svc_addr, &a));
		if (dd_addr_eq(&cur->svc[i].key.addr, &a))
			return dest_by_addr(&cur->svc[i], addr);
	}
	return NULL;
}

/* The reason of the one op on real server `addr` ("" if none). */
static const char *op_reason(const struct rc_result *r, const char *addr)
{
	struct dd_addr a;
	ck_assert(dd_addr_parse(addr, &a));
	for (size_t i = 0; i < r->n_ops; i++)
		if (r->ops[i].type >= IPVS_OP_ADD_DEST && dd_addr_eq(&r->ops[i].dest.addr, &a))
			return r->ops[i].reason;
	return "";
}

static void health(struct world *w, size_t svc, size_t rs, bool up)
{
	/* what dd_fwd_set_rs_health does */
	w->st[svc].rs[rs].health = up ? DS_HEALTH_UP : DS_HEALTH_DOWN;
	w->st[svc].rs[rs].reason = w->st[svc].rs[rs].why = up ? "health UP" : "health DOWN";
}

START_TEST(test_drain_removal_deletes_after_drain_ms)
{
	struct world w;
	struct ipvs_table d, cur;
	struct rc_state st = { 0 };
	owned(&w, &d, &cur, &st); /* removal drain (the default), drain_ms 5000 */
	ipvs_table_free(&d);
	struct rc_result r;
	health(&w, 0, 0, false); /* 198.51.100.21 fails its check at t=1000 */
	uint64_t next;
	ds_build(w.cfg, w.st, 1000, &d, &next);
	ck_assert_uint_eq(next, 1000 + 5000); /* fwd.c wakes up for the deadline */
	ipvs_table_free(&d);
	step(&w, &st, &cur, 1000, &r);
	ck_assert_uint_eq(r.n_ops, 1);
	ck_assert_int_eq(r.ops[0].type, IPVS_OP_EDIT_DEST);
	ck_assert_uint_eq(r.ops[0].old_weight, 2);
	ck_assert_uint_eq(r.ops[0].dest.weight, 0);
	ck_assert_str_eq(r.ops[0].reason, "health DOWN");
	adopt(&cur, &r);
	rc_result_free(&r);
	step(&w, &st, &cur, 5999, &r); /* still draining */
	ck_assert_uint_eq(r.n_ops, 0);
	adopt(&cur, &r);
	rc_result_free(&r);
	step(&w, &st, &cur, 6000, &r); /* drain_ms over: deleted */
	ck_assert_uint_eq(r.n_ops, 1);
	ck_assert_int_eq(r.ops[0].type, IPVS_OP_DEL_DEST);
	ck_assert_str_eq(r.ops[0].reason, "drain timeout");
	adopt(&cur, &r);
	rc_result_free(&r);
	ck_assert_ptr_null(cur_dest(&cur, "203.0.113.10", "198.51.100.21"));
	step(&w, &st, &cur, 7000, &r); /* and stays deleted */
	ck_assert_uint_eq(r.n_ops, 0);
	adopt(&cur, &r);
	rc_result_free(&r);
	health(&w, 0, 0, true); /* back: added again with its weight */
	step(&w, &st, &cur, 8000, &r);
	ck_assert_uint_eq(r.n_ops, 1);
	ck_assert_int_eq(r.ops[0].type, IPVS_OP_ADD_DEST);
	ck_assert_uint_eq(r.ops[0].dest.weight, 2);
	ck_assert_str_eq(r.ops[0].reason, "health UP");
	adopt(&cur, &r);
	rc_result_free(&r);
	ck_assert_uint_eq(cur_dest(&cur, "203.0.113.10", "198.51.100.21")->weight, 2);
	/* down again: a recovery before the deadline keeps it, and the next
	 * failure starts a new drain period */
	health(&w, 0, 0, false);
	step(&w, &st, &cur, 9000, &r);
	adopt(&cur, &r);
	rc_result_free(&r);
	health(&w, 0, 0, true);
	step(&w, &st, &cur, 10000, &r);
	adopt(&cur, &r);
	rc_result_free(&r);
	health(&w, 0, 0, false);
	step(&w, &st, &cur, 13000, &r);
	ck_assert_uint_eq(r.n_ops, 1);
	ck_assert_int_eq(r.ops[0].type, IPVS_OP_EDIT_DEST);
	adopt(&cur, &r);
	rc_result_free(&r);
	step(&w, &st, &cur, 9000 + 5000, &r); /* the first period would be over */
	ck_assert_uint_eq(r.n_ops, 0);
	adopt(&cur, &r);
	rc_result_free(&r);
	step(&w, &st, &cur, 13000 + 5000, &r);
	ck_assert_uint_eq(r.n_ops, 1);
	ck_assert_int_eq(r.ops[0].type, IPVS_OP_DEL_DEST);
	adopt(&cur, &r);
	rc_result_free(&r);
	/* an administrative drain is the operator's: it never times out */
	struct world w2;
	world_init(&w2, load(CFG_BASE));
	w2.st[0].rs[1].admin_drain = true;
	struct ipvs_dest *x = desired_dest(&w2, 1000, &d, "http", "198.51.100.22");
	ipvs_table_free(&d);
	x = desired_dest(&w2, 1000 + 600000, &d, "http", "198.51.100.22");
	ck_assert(!x->absent);
	ck_assert_uint_eq(x->weight, 0);
	ipvs_table_free(&d);
	world_free(&w2);
	finish(&w, &d, &cur, &st);
}
END_TEST

/* ---- every change is logged with its own cause */

START_TEST(test_reasons_name_the_cause)
{
	struct world w;
	struct ipvs_table d, cur;
	struct rc_state st = { 0 };
	owned(&w, &d, &cur, &st);
	ipvs_table_free(&d);
	struct rc_result r;
	/* .22 went DOWN and UP again earlier: those passes are done */
	health(&w, 0, 1, false);
	step(&w, &st, &cur, 1000, &r);
	ck_assert_uint_eq(r.n_ops, 1);
	ck_assert_str_eq(r.ops[0].reason, "health DOWN");
	adopt(&cur, &r);
	rc_result_free(&r);
	health(&w, 0, 1, true);
	step(&w, &st, &cur, 1100, &r);
	ck_assert_uint_eq(r.n_ops, 1);
	ck_assert_str_eq(r.ops[0].reason, "health UP");
	adopt(&cur, &r);
	rc_result_free(&r);
	/* a reload changes its weight: the cause is the config, not the
	 * health event that last touched it (fwd.c carries the state over) */
	struct ds_rs_state kept = w.st[0].rs[1];
	ck_assert_str_eq(kept.reason, "health UP"); /* still shown by status */
	world_free(&w);
	world_init(&w, load_edit("address = \"198.51.100.22\"; port = 80; }",
				 "address = \"198.51.100.22\"; port = 80; weight = 7; }"));
	w.st[0].rs[1] = kept;
	step(&w, &st, &cur, 2000, &r);
	ck_assert_uint_eq(r.n_ops, 1);
	ck_assert_int_eq(r.ops[0].type, IPVS_OP_EDIT_DEST);
	ck_assert_uint_eq(r.ops[0].dest.weight, 7);
	ck_assert_str_eq(r.ops[0].reason, "config");
	adopt(&cur, &r);
	rc_result_free(&r);
	/* admin drain and its end */
	w.st[0].rs[1].admin_drain = true;
	w.st[0].rs[1].reason = w.st[0].rs[1].why = "admin drain";
	step(&w, &st, &cur, 2100, &r);
	ck_assert_uint_eq(r.n_ops, 1);
	ck_assert_str_eq(r.ops[0].reason, "admin drain");
	adopt(&cur, &r);
	rc_result_free(&r);
	w.st[0].rs[1].admin_drain = false;
	w.st[0].rs[1].reason = w.st[0].rs[1].why = "admin drain off";
	step(&w, &st, &cur, 2200, &r);
	ck_assert_uint_eq(r.n_ops, 1);
	ck_assert_uint_eq(r.ops[0].dest.weight, 7);
	ck_assert_str_eq(r.ops[0].reason, "admin drain off");
	adopt(&cur, &r);
	rc_result_free(&r);
	finish(&w, &d, &cur, &st);

	/* slow start: every step, the last one (to the full weight) included */
	world_init(&w, load_edit("weight = 2; }", "weight = 10; slow_start_ms = 10000; }"));
	build(&w, 1000, &d);
	copy_table(&cur, &d);
	ipvs_table_free(&d);
	st = (struct rc_state){ 0 };
	health(&w, 0, 0, false);
	step(&w, &st, &cur, 1000, &r);
	adopt(&cur, &r);
	rc_result_free(&r);
	health(&w, 0, 0, true);
	w.st[0].rs[0].up_since_ms = 2000;
	step(&w, &st, &cur, 2000, &r);
	ck_assert_uint_eq(r.n_ops, 1);
	ck_assert_uint_eq(r.ops[0].dest.weight, 1);
	ck_assert_str_eq(r.ops[0].reason, "health UP");
	adopt(&cur, &r);
	rc_result_free(&r);
	step(&w, &st, &cur, 7000, &r);
	ck_assert_uint_eq(r.n_ops, 1);
	ck_assert_uint_eq(r.ops[0].dest.weight, 5);
	ck_assert_str_eq(r.ops[0].reason, "slow start");
	adopt(&cur, &r);
	rc_result_free(&r);
	step(&w, &st, &cur, 12000, &r);
	ck_assert_uint_eq(r.n_ops, 1);
	ck_assert_uint_eq(r.ops[0].dest.weight, 10);
	ck_assert_str_eq(r.ops[0].reason, "slow start");
	adopt(&cur, &r);
	rc_result_free(&r);
	finish(&w, &d, &cur, &st);

	/* quorum: the servers that did not change themselves say why */
	world_init(&w, load_edit("drain_ms = 5000;",
				 "drain_ms = 5000; quorum = 2;\n"
				 " sorry_server = { address = \"198.51.100.99\"; port = 8080; };"));
	build(&w, 1000, &d);
	copy_table(&cur, &d);
	ipvs_table_free(&d);
	st = (struct rc_state){ 0 };
	health(&w, 0, 0, false);
	health(&w, 0, 1, false);
	step(&w, &st, &cur, 1000, &r);
	ck_assert_uint_eq(r.n_ops, 4);
	ck_assert_str_eq(op_reason(&r, "198.51.100.21"), "health DOWN");
	ck_assert_str_eq(op_reason(&r, "198.51.100.22"), "health DOWN");
	ck_assert_str_eq(op_reason(&r, "198.51.100.23"), "quorum lost");
	ck_assert_str_eq(op_reason(&r, "198.51.100.99"), "quorum lost: sorry server");
	adopt(&cur, &r);
	rc_result_free(&r);
	health(&w, 0, 0, true);
	step(&w, &st, &cur, 2000, &r);
	ck_assert_uint_eq(r.n_ops, 3);
	ck_assert_str_eq(op_reason(&r, "198.51.100.21"), "health UP");
	ck_assert_str_eq(op_reason(&r, "198.51.100.23"), "quorum regained");
	ck_assert_str_eq(op_reason(&r, "198.51.100.99"), "quorum regained");
	adopt(&cur, &r);
	rc_result_free(&r);
	finish(&w, &d, &cur, &st);
}
END_TEST

static Suite *suite(void)
{
	Suite *s = suite_create("reconcile");
	TCase *tc = tcase_create("diff");
	tcase_add_test(tc, test_cold_program_orders_service_before_dests);
	tcase_add_test(tc, test_adopt_without_change);
	tcase_add_test(tc, test_one_weight_change_is_one_op);
	tcase_add_test(tc, test_scheduler_change_edits_in_place);
	tcase_add_test(tc, test_drain_then_delete);
	tcase_add_test(tc, test_drain_ends_when_connections_end);
	tcase_add_test(tc, test_foreign_services_untouched);
	tcase_add_test(tc, test_removed_service_drained_then_deleted);
	suite_add_tcase(s, tc);
	tc = tcase_create("desired");
	tcase_add_test(tc, test_desired_health_down_drain_or_remove);
	tcase_add_test(tc, test_desired_initial_and_adopted);
	tcase_add_test(tc, test_desired_admin_drain);
	tcase_add_test(tc, test_desired_slow_start_ramp);
	tcase_add_test(tc, test_desired_quorum_sorry_server);
	tcase_add_test(tc, test_drain_removal_deletes_after_drain_ms);
	tcase_add_test(tc, test_reasons_name_the_cause);
	tcase_add_test(tc, test_ecmp_config_order_and_no_deletion);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return dd_ck_run(suite());
}
