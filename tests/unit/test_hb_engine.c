/* SPDX-License-Identifier: GPL-2.0-or-later */
/* tests/unit/test_hb_engine.c: two complete failover engines (each with its
 * heartbeat thread) in one process, talking UDP over loopback inside a
 * private network namespace that the test creates. Drives the public API
 * the daemon uses: new, status, release, takeover, reload, stop; and one
 * engine without a peer (standalone). Needs root
 * (unshare(CLONE_NEWNET)). The test's own loop stands in for the daemon's
 * main loop. */
#include "config.h"
#include "heartbeat/failover.h"
#include "lib/util.h"

#include <check.h>
#include "tests/unit/ck_run.h"
#include <ifaddrs.h>
#include <net/if.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define MAX_EV 32

struct rec {
	int n;
	char ev[MAX_EV][400];
};

static void on_role(void *ctx, const struct dd_role_change *ev)
{
	struct rec *r = ctx;
	if (r->n < MAX_EV)
		snprintf(r->ev[r->n++], sizeof r->ev[0], "%s: %s -> %s: %s", ev->cluster,
			 dd_role_name(ev->old_role), dd_role_name(ev->new_role), ev->reason);
}

static bool has(const struct rec *r, const char *line)
{
	for (int i = 0; i < r->n; i++)
		if (strcmp(r->ev[i], line) == 0)
			return true;
	return false;
}

static char dir[64];
static struct ev_loop *loop;

/* Runs the main loop until `line` was reported, or fails after 10 s. */
static void wait_event(const struct rec *r, const char *line)
{
	double end = mono_now() + 10;
	while (!has(r, line) && mono_now() < end) {
		ev_run(loop, EVRUN_NOWAIT);
		usleep(1000);
	}
	if (!has(r, line)) {
		for (int i = 0; i < r->n; i++)
			fprintf(stderr, "  seen: %s\n", r->ev[i]);
		ck_abort_msg("no event \"%s\"", line);
	}
}

static bool has_prefix(const struct rec *r, const char *prefix)
{
	for (int i = 0; i < r->n; i++)
		if (strncmp(r->ev[i], prefix, strlen(prefix)) == 0)
			return true;
	return false;
}

static void wait_prefix(const struct rec *r, const char *prefix)
{
	double end = mono_now() + 10;
	while (!has_prefix(r, prefix) && mono_now() < end) {
		ev_run(loop, EVRUN_NOWAIT);
		usleep(1000);
	}
	ck_assert_msg(has_prefix(r, prefix), "no event starting \"%s\"", prefix);
}

/* Is `ip` on interface `ifname` (NULL: on any)? */
static bool addr_on(const char *ifname, const char *ip)
{
	struct ifaddrs *ifa, *p;
	bool found = false;
	ck_assert_int_eq(getifaddrs(&ifa), 0);
	for (p = ifa; p; p = p->ifa_next) {
		struct dd_addr a;
		char s[DD_ADDR_STRLEN];
		if (p->ifa_addr && (!ifname || strcmp(p->ifa_name, ifname) == 0) &&
		    dd_addr_from_sockaddr(p->ifa_addr, &a, NULL) && strcmp(dd_addr_str(&a, s, sizeof s), ip) == 0)
			found = true;
	}
	freeifaddrs(ifa);
	return found;
}

static bool addr_present(const char *ip)
{
	return addr_on(NULL, ip);
}

struct node {
	struct dd_config cfg;
	struct dd_peer peer;
	struct dd_link link;
	struct dd_cluster cl[2];
	struct dd_vip vip, vip2;
	char key[128], state[128];
};

static void mknode(struct node *n, const char *self, const char *other, const char *local,
		   const char *remote, const char *vip, uint32_t prio)
{
	memset(n, 0, sizeof *n);
	snprintf(n->cfg.node_name, sizeof n->cfg.node_name, "%s", self);
	snprintf(n->key, sizeof n->key, "%s/key", dir);
	snprintf(n->state, sizeof n->state, "%s/%s.gen", dir, self);
	n->cfg.hb.key_file = n->key;
	n->cfg.hb.state_file = n->state;
	n->cfg.hb.port = 7694;
	n->cfg.hb.interval_ms = 20;
	n->cfg.hb.dead_ms = 100;
	snprintf(n->peer.name, sizeof n->peer.name, "%s", other);
	ck_assert(dd_addr_parse(local, &n->link.local));
	ck_assert(dd_addr_parse(remote, &n->link.remote));
	n->peer.links = &n->link;
	n->peer.n_links = 1;
	n->cfg.hb.peers = &n->peer;
	n->cfg.hb.n_peers = 1;
	ck_assert(dd_addr_parse(vip, &n->vip.addr));
	n->vip.prefix = 32;
	strcpy(n->vip.ifname, "lo");
	strcpy(n->cl[0].name, "web");
	n->cl[0].priority = prio;
	n->cl[0].vips = &n->vip;
	n->cl[0].n_vips = 1;
	n->cl[0].garp.count = 1;
	n->cfg.clusters = n->cl;
	n->cfg.n_clusters = 1;
}

/* A second cluster, "any", in ECMP mode, announcing `vip` on tun device `dev`. */
static void add_ecmp(struct node *n, const char *vip, const char *dev)
{
	ck_assert(dd_addr_parse(vip, &n->vip2.addr));
	n->vip2.prefix = 32;
	strcpy(n->vip2.ifname, "lo");
	strcpy(n->cl[1].name, "any");
	n->cl[1].mode = DD_MODE_ECMP;
	n->cl[1].priority = 100;
	n->cl[1].vips = &n->vip2;
	n->cl[1].n_vips = 1;
	n->cfg.n_clusters = 2;
	snprintf(n->cfg.ecmp.device, sizeof n->cfg.ecmp.device, "%s", dev);
	n->cfg.ecmp.line = 1;
}

/* Polls a's status until cluster 1's ECMP reason is `why`. */
static void wait_ecmp(struct dd_failover *a, enum dd_ecmp_why why, struct dd_failover_status *st)
{
	double end = mono_now() + 10;
	do {
		ck_assert_int_eq(dd_failover_status(a, st), 0);
		ev_run(loop, EVRUN_NOWAIT);
		if (st->clusters[1].ecmp_why == why)
			return;
		usleep(1000);
	} while (mono_now() < end);
	ck_abort_msg("ecmp reason %s, not %s", dd_ecmp_why_name(st->clusters[1].ecmp_why), dd_ecmp_why_name(why));
}

static void setup(void)
{
	/* A network of our own: lo with the documentation addresses on it. */
	ck_assert_msg(unshare(CLONE_NEWNET) == 0, "unshare(CLONE_NEWNET) needs root");
	ck_assert_int_eq(system("ip link set lo up && ip addr add 192.0.2.1/32 dev lo && "
				"ip addr add 192.0.2.2/32 dev lo"), 0);
	strcpy(dir, "/tmp/test_hb_engine.XXXXXX");
	ck_assert_ptr_nonnull(mkdtemp(dir));
	char path[128];
	snprintf(path, sizeof path, "%s/key", dir);
	FILE *f = fopen(path, "w");
	fputs("engine-test-key-0123456789\n", f);
	fclose(f);
	chmod(path, 0600);
	loop = ev_loop_new(EVFLAG_AUTO);
}

static void teardown(void)
{
	char cmd[128];
	snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
	ck_assert_int_eq(system(cmd), 0);
	ev_loop_destroy(loop);
}

/* a (priority 150) active with 203.0.113.1, b (100) its standby. */
static void start_pair(struct node *na, struct node *nb, struct rec *ra, struct rec *rb,
		       struct dd_failover **a, struct dd_failover **b)
{
	char *err = NULL;
	mknode(na, "a", "b", "192.0.2.1", "192.0.2.2", "203.0.113.1", 150);
	mknode(nb, "b", "a", "192.0.2.2", "192.0.2.1", "203.0.113.2", 100);
	struct dd_failover_hooks ha = { .ctx = ra, .role_changed = on_role };
	struct dd_failover_hooks hb = { .ctx = rb, .role_changed = on_role };
	*a = dd_failover_new(loop, &na->cfg, &ha, &err);
	ck_assert_msg(*a, "%s", err ? err : "");
	/* Alone, a waits one dead time for its peer, then takes the cluster. */
	wait_prefix(ra, "web: init -> active: peer b not heard for ");
	*b = dd_failover_new(loop, &nb->cfg, &hb, &err);
	ck_assert_msg(*b, "%s", err ? err : "");
	wait_event(rb, "web: init -> standby: peer a is active");
}

START_TEST(pair_lifecycle)
{
	static struct node na, nb;
	struct rec ra = { 0 }, rb = { 0 };
	char *err = NULL;
	struct dd_failover *a, *b;
	start_pair(&na, &nb, &ra, &rb, &a, &b);
	ck_assert(addr_present("203.0.113.1"));
	ck_assert(!addr_present("203.0.113.2"));

	struct dd_failover_status st;
	ck_assert_int_eq(dd_failover_status(b, &st), 0);
	ck_assert_str_eq(st.node, "b");
	ck_assert_str_eq(st.peer, "a");
	ck_assert(st.peer_alive);
	ck_assert_int_ge(st.last_heartbeat_age_ms, 0);
	ck_assert_int_lt(st.last_heartbeat_age_ms, 100);
	ck_assert_uint_eq(st.n_links, 1);
	ck_assert(st.links[0].up);
	ck_assert_str_eq(st.links[0].remote, "192.0.2.1");
	ck_assert_uint_gt(st.links[0].rx, 0);
	ck_assert_uint_eq(st.n_clusters, 1);
	ck_assert_int_eq(st.clusters[0].role, DD_ROLE_STANDBY);
	ck_assert(st.clusters[0].peer_known);
	ck_assert_int_eq(st.clusters[0].peer_role, DD_ROLE_ACTIVE);
	ck_assert_uint_eq(st.clusters[0].peer_priority, 150);
	ck_assert(!st.clusters[0].vips_up);
	ck_assert_uint_eq(st.drops.bad_auth + st.drops.malformed + st.drops.replayed +
			  st.drops.unknown_sender + st.drops.bad_version, 0);
	ck_assert_uint_gt(st.generation, 0);

	/* Operator requests that cannot work say why. */
	ck_assert_int_eq(dd_failover_release(a, "nope", &err), -1);
	ck_assert_str_eq(err, "no cluster named nope");
	free(err);
	ck_assert_int_eq(dd_failover_takeover(a, "web", &err), -1);
	ck_assert_str_eq(err, "cluster web is already active");
	free(err);
	ck_assert_int_eq(dd_failover_release(b, "web", &err), -1);
	ck_assert_str_eq(err, "cluster web is standby, not active");
	free(err);

	/* Planned handover both ways. */
	ck_assert_int_eq(dd_failover_release(a, "web", &err), 0);
	wait_event(&rb, "web: standby -> active: peer a is standing down");
	wait_event(&ra, "web: active -> standby: operator requested handover; peer b took over");
	ck_assert(!addr_present("203.0.113.1"));
	ck_assert(addr_present("203.0.113.2"));
	ck_assert_int_eq(dd_failover_takeover(a, "web", &err), 0);
	wait_event(&ra, "web: standby -> active: peer b is standing down");
	wait_event(&rb, "web: active -> standby: peer a requested takeover; peer a took over");
	ck_assert(addr_present("203.0.113.1"));
	ck_assert(!addr_present("203.0.113.2"));

	/* Reload: web keeps its role (no event), a new cluster starts. */
	int before = ra.n;
	na.cl[0].priority = 200;
	strcpy(na.cl[1].name, "dns");
	na.cl[1].priority = 100;
	na.cfg.n_clusters = 2;
	ck_assert_int_eq(dd_failover_reload(a, &na.cfg, &err), 0);
	wait_event(&ra, "dns: init -> active: peer b does not run this cluster since start");
	for (int i = before; i < ra.n; i++)
		ck_assert_msg(strncmp(ra.ev[i], "web:", 4) != 0, "web changed on reload: %s", ra.ev[i]);
	ck_assert_int_eq(dd_failover_status(a, &st), 0);
	ck_assert_uint_eq(st.n_clusters, 2);
	ck_assert_int_eq(st.clusters[0].role, DD_ROLE_ACTIVE);
	ck_assert_uint_eq(st.clusters[0].priority, 200);
	ck_assert_int_eq(st.clusters[1].role, DD_ROLE_ACTIVE);
	ck_assert(!st.clusters[1].peer_known);
	ck_assert(addr_present("203.0.113.1"));

	/* A reload that cannot get its resources (here: a link bound to an
	 * interface that does not exist) is refused and changes nothing. */
	strcpy(na.link.ifname, "dd-nosuchif");
	ck_assert_int_eq(dd_failover_reload(a, &na.cfg, &err), -1);
	ck_assert_ptr_nonnull(strstr(err, "bind to device dd-nosuchif"));
	free(err);
	na.link.ifname[0] = '\0';
	ck_assert_int_eq(dd_failover_status(a, &st), 0);
	ck_assert_uint_eq(st.n_clusters, 2);
	ck_assert_int_eq(st.clusters[0].role, DD_ROLE_ACTIVE);
	ck_assert_str_eq(st.links[0].ifname, "");

	/* SIGTERM path: web is handed over before stop returns. */
	dd_failover_stop(a, true);
	ck_assert(has(&ra, "web: active -> standby: directord is stopping; peer b took over"));
	ck_assert(has(&ra, "dns: active -> stopped: directord is stopping and peer b did not take over"));
	ck_assert(!addr_present("203.0.113.1"));
	wait_event(&rb, "web: standby -> active: peer a is standing down");
	ck_assert(addr_present("203.0.113.2"));
	dd_failover_stop(b, false);
	ck_assert(has(&rb, "web: active -> stopped: directord is stopping and peer a did not take over"));
	ck_assert(!addr_present("203.0.113.2"));
}
END_TEST

/* Resources, not rules: the loader (conf/) checks the rules, the engine
 * refuses what it cannot have: a key file with loose modes, a state file
 * it cannot keep. */
START_TEST(missing_resources_refused)
{
	static struct node n;
	char *err = NULL;
	mknode(&n, "a", "b", "192.0.2.1", "192.0.2.2", "203.0.113.1", 100);
	char kp[128];
	snprintf(kp, sizeof kp, "%s/key", dir);
	chmod(kp, 0644);
	ck_assert_ptr_null(dd_failover_new(loop, &n.cfg, NULL, &err));
	ck_assert_msg(strstr(err, "(mode 0644); chmod 600 it"), "%s", err);
	free(err);
	chmod(kp, 0600);
	snprintf(n.state, sizeof n.state, "%s/missing-dir/gen", dir);
	ck_assert_ptr_null(dd_failover_new(loop, &n.cfg, NULL, &err));
	ck_assert_msg(strstr(err, "No such file or directory"), "%s", err);
	free(err);
}
END_TEST

/* The prefix (and the label) is part of a VIP's identity: a reload from
 * /24 to /16 (and /64 to /48) removes the old kernel address and adds the
 * new one, while an unchanged VIP stays untouched. */
static int prefix_of(const char *ip)
{
	struct ifaddrs *ifa, *p;
	int prefix = -1;
	ck_assert_int_eq(getifaddrs(&ifa), 0);
	for (p = ifa; p; p = p->ifa_next) {
		struct dd_addr a, m;
		char s[DD_ADDR_STRLEN];
		if (!p->ifa_addr || !p->ifa_netmask || !dd_addr_from_sockaddr(p->ifa_addr, &a, NULL) ||
		    strcmp(dd_addr_str(&a, s, sizeof s), ip) != 0 ||
		    !dd_addr_from_sockaddr(p->ifa_netmask, &m, NULL))
			continue;
		ck_assert_int_eq(prefix, -1); /* one address object, not two */
		prefix = 0;
		for (size_t i = 0; i < dd_addr_len(&m); i++)
			prefix += __builtin_popcount(m.u.bytes[i]);
	}
	freeifaddrs(ifa);
	return prefix;
}

START_TEST(reload_applies_the_vip_diff)
{
	static struct node n;
	static struct dd_vip vips[3];
	struct rec r = { 0 };
	char *err = NULL;
	mknode(&n, "a", "b", "192.0.2.1", "192.0.2.2", "203.0.113.1", 100);
	n.cfg.hb.n_peers = 0;
	memset(vips, 0, sizeof vips);
	ck_assert(dd_addr_parse("203.0.113.10", &vips[0].addr));
	vips[0].prefix = 24;
	ck_assert(dd_addr_parse("2001:db8::10", &vips[1].addr));
	vips[1].prefix = 64;
	ck_assert(dd_addr_parse("203.0.113.20", &vips[2].addr));
	vips[2].prefix = 32;
	for (int i = 0; i < 3; i++)
		strcpy(vips[i].ifname, "lo");
	n.cl[0].vips = vips;
	n.cl[0].n_vips = 3;
	struct dd_failover_hooks h = { .ctx = &r, .role_changed = on_role };
	struct dd_failover *a = dd_failover_new(loop, &n.cfg, &h, &err);
	ck_assert_msg(a, "%s", err ? err : "");
	wait_event(&r, "web: init -> active: no peer configured");
	ck_assert_int_eq(prefix_of("203.0.113.10"), 24);
	ck_assert_int_eq(prefix_of("2001:db8::10"), 64);
	ck_assert_int_eq(prefix_of("203.0.113.20"), 32);

	vips[0].prefix = 16;
	vips[1].prefix = 48;
	ck_assert_int_eq(dd_failover_reload(a, &n.cfg, &err), 0);
	ck_assert_int_eq(prefix_of("203.0.113.10"), 16);
	ck_assert_int_eq(prefix_of("2001:db8::10"), 48);
	ck_assert_int_eq(prefix_of("203.0.113.20"), 32);

	/* A VIP that leaves the cluster goes; the cluster stays active. */
	n.cl[0].n_vips = 2;
	ck_assert_int_eq(dd_failover_reload(a, &n.cfg, &err), 0);
	ck_assert(!addr_present("203.0.113.20"));
	ck_assert_int_eq(prefix_of("203.0.113.10"), 16);
	ck_assert_int_eq(r.n, 1); /* no role change from any of it */

	dd_failover_stop(a, true);
	ck_assert(!addr_present("203.0.113.10"));
	ck_assert(!addr_present("2001:db8::10"));
}
END_TEST

/* A director without a peer: no key, no state file, no keepalives; web is
 * active at once and its VIP goes on stop. A reload gives it a peer (the
 * state file is needed from then on) and takes it away again. */
static struct dd_track_state tstate(const char *name, bool ok)
{
	struct dd_track_state t = { .known = true, .ok = ok, .how = DD_TRACK_EXITED, .code = ok ? 0 : 3 };
	snprintf(t.name, sizeof t.name, "%s", name);
	return t;
}

/* Track scripts, standalone: INIT waits for every tracked script's first
 * result; weights move the effective priority (clamped to 1..254); a
 * failed script of weight 0 is a fault with the track-script reason code;
 * states of untracked scripts are ignored. */
START_TEST(track_scripts_fault_and_priority)
{
	static struct node n;
	struct rec r = { 0 };
	char *err = NULL;
	struct dd_failover_status st;
	mknode(&n, "a", "b", "192.0.2.1", "192.0.2.2", "203.0.113.1", 100);
	n.cfg.hb.n_peers = 0;
	n.cfg.hb.key_file = NULL;
	struct dd_cluster *cl = &n.cl[0];
	cl->n_track = 3;
	strcpy(cl->track[0].name, "up");
	cl->track[0].weight = 200;
	strcpy(cl->track[1].name, "down");
	cl->track[1].weight = -250;
	strcpy(cl->track[2].name, "hard");
	cl->track[2].weight = 0;
	struct dd_failover_hooks h = { .ctx = &r, .role_changed = on_role };
	struct dd_failover *a = dd_failover_new(loop, &n.cfg, &h, &err);
	ck_assert_msg(a, "%s", err ? err : "");
	struct dd_track_state t = tstate("up", true);
	ck_assert_int_eq(dd_failover_track(a, &t, &err), 0);
	t = tstate("down", true);
	ck_assert_int_eq(dd_failover_track(a, &t, &err), 0);
	t = tstate("other", false);             /* no cluster tracks it */
	ck_assert_int_eq(dd_failover_track(a, &t, &err), 0);
	ck_assert_int_eq(dd_failover_status(a, &st), 0);
	ck_assert_int_eq(st.clusters[0].role, DD_ROLE_INIT);   /* "hard" has no result yet */
	ck_assert_uint_eq(st.clusters[0].priority, 254);       /* 100 + 200, clamped */
	t = tstate("hard", true);
	ck_assert_int_eq(dd_failover_track(a, &t, &err), 0);
	wait_event(&r, "web: init -> active: no peer configured");
	t = tstate("down", false);
	ck_assert_int_eq(dd_failover_track(a, &t, &err), 0);
	ck_assert_int_eq(dd_failover_status(a, &st), 0);
	ck_assert_uint_eq(st.clusters[0].priority, 50);        /* 100 + 200 - 250 */
	t = tstate("up", false);
	ck_assert_int_eq(dd_failover_track(a, &t, &err), 0);
	ck_assert_int_eq(dd_failover_status(a, &st), 0);
	ck_assert_uint_eq(st.clusters[0].priority, 1);         /* 100 - 250, clamped */
	ck_assert_int_eq(st.clusters[0].role, DD_ROLE_ACTIVE); /* no peer to lose to */
	t = tstate("hard", false);
	t.how = DD_TRACK_TIMED_OUT;
	t.timeout_ms = 500;
	ck_assert_int_eq(dd_failover_track(a, &t, &err), 0);
	wait_event(&r, "web: active -> fault: track script hard failed: timeout after 500 ms");
	ck_assert_int_eq(dd_failover_status(a, &st), 0);
	ck_assert_int_eq(st.clusters[0].why, DD_WHY_TRACK_SCRIPT);
	ck_assert(!addr_present("203.0.113.1"));
	t = tstate("hard", true);
	ck_assert_int_eq(dd_failover_track(a, &t, &err), 0);
	wait_event(&r, "web: standby -> active: no peer configured");
	dd_failover_stop(a, false);
}
END_TEST

START_TEST(standalone_lifecycle)
{
	static struct node n;
	struct rec r = { 0 };
	char *err = NULL;
	struct dd_failover_status st;
	mknode(&n, "a", "b", "192.0.2.1", "192.0.2.2", "203.0.113.1", 100);
	n.cfg.hb.n_peers = 0;
	n.cfg.hb.key_file = NULL;
	snprintf(n.state, sizeof n.state, "%s/missing-dir/gen", dir);
	struct dd_failover_hooks h = { .ctx = &r, .role_changed = on_role };
	struct dd_failover *a = dd_failover_new(loop, &n.cfg, &h, &err);
	ck_assert_msg(a, "%s", err ? err : "");
	wait_event(&r, "web: init -> active: no peer configured");
	ck_assert(addr_present("203.0.113.1"));
	ck_assert_int_eq(dd_failover_status(a, &st), 0);
	ck_assert_str_eq(st.peer, "");
	ck_assert_uint_eq(st.n_links, 0);
	ck_assert_uint_eq(st.tx, 0);
	ck_assert_uint_eq(st.generation, 0);
	ck_assert_int_eq(st.clusters[0].role, DD_ROLE_ACTIVE);
	ck_assert(!st.clusters[0].peer_known);
	ck_assert_str_eq(st.peer, "");
	ck_assert(st.clusters[0].vips_up);
	ck_assert_int_eq(dd_failover_release(a, "web", &err), -1);
	ck_assert_str_eq(err, "cluster web has no peer to hand over to");
	free(err);

	/* To a pair: refused while the state file cannot be written ... */
	n.cfg.hb.n_peers = 1;
	n.cfg.hb.key_file = n.key;
	ck_assert_int_eq(dd_failover_reload(a, &n.cfg, &err), -1);
	ck_assert_msg(strstr(err, "No such file or directory"), "%s", err);
	free(err);
	ck_assert_int_eq(dd_failover_status(a, &st), 0);
	ck_assert_uint_eq(st.n_links, 0);
	/* ... then taken: keepalives go out, web stays active (b is silent). */
	snprintf(n.state, sizeof n.state, "%s/a.gen", dir);
	ck_assert_int_eq(dd_failover_reload(a, &n.cfg, &err), 0);
	double end = mono_now() + 10;
	do {
		ck_assert_int_eq(dd_failover_status(a, &st), 0);
		ev_run(loop, EVRUN_NOWAIT);
		usleep(1000);
	} while (st.tx < 2 && mono_now() < end);
	ck_assert_uint_ge(st.tx, 2);
	ck_assert_str_eq(st.peer, "b");
	ck_assert_uint_gt(st.generation, 0);
	ck_assert_int_eq(st.clusters[0].role, DD_ROLE_ACTIVE);
	ck_assert(!st.clusters[0].peer_known);

	/* Back to standalone: the sending stops. */
	n.cfg.hb.n_peers = 0;
	ck_assert_int_eq(dd_failover_reload(a, &n.cfg, &err), 0);
	ck_assert_int_eq(dd_failover_status(a, &st), 0);
	uint64_t tx = st.tx;
	ck_assert_uint_eq(st.n_links, 0);
	usleep(100 * 1000); /* five intervals: nothing may be sent in them */
	ck_assert_int_eq(dd_failover_status(a, &st), 0);
	ck_assert_uint_eq(st.tx, tx);
	ck_assert_int_eq(r.n, 1);

	dd_failover_stop(a, true);
	ck_assert(has(&r, "web: active -> stopped: directord is stopping; no peer configured"));
	ck_assert(!addr_present("203.0.113.1"));
}
END_TEST

/* The standby of a pair loses its peer by reload (it takes over at once)
 * and gets it back (split brain, decided by priority as usual). */
START_TEST(standby_reloaded_to_standalone_and_back)
{
	static struct node na, nb;
	struct rec ra = { 0 }, rb = { 0 };
	char *err = NULL;
	struct dd_failover *a, *b;
	start_pair(&na, &nb, &ra, &rb, &a, &b);

	nb.cfg.hb.n_peers = 0;
	ck_assert_int_eq(dd_failover_reload(b, &nb.cfg, &err), 0);
	wait_event(&rb, "web: standby -> active: no peer configured");
	ck_assert(addr_present("203.0.113.2"));

	nb.cfg.hb.n_peers = 1;
	ck_assert_int_eq(dd_failover_reload(b, &nb.cfg, &err), 0);
	wait_event(&rb, "web: active -> standby: split brain: peer a is active too and has precedence "
		   "(priority 150, ours 100)");
	ck_assert(!addr_present("203.0.113.2"));
	ck_assert(addr_present("203.0.113.1"));
	dd_failover_stop(b, false);
	dd_failover_stop(a, false);
}
END_TEST

/* A peer heard with another key is not believed (both go active, since
 * neither can trust the other), but it is never silent: status names the
 * cause at once, and the right key clears it and ends the split brain. */
static bool problem_is(struct dd_failover *fo, enum dd_peer_problem p, struct dd_failover_status *st)
{
	double end = mono_now() + 10;
	do {
		ev_run(loop, EVRUN_NOWAIT);
		ck_assert_int_eq(dd_failover_status(fo, st), 0);
		if (st->peer_problem == p)
			return true;
		usleep(1000);
	} while (mono_now() < end);
	return false;
}

START_TEST(peer_with_wrong_key_is_raised)
{
	static struct node na, nb;
	struct rec ra = { 0 }, rb = { 0 };
	char *err = NULL;
	struct dd_failover_status st;
	mknode(&na, "a", "b", "192.0.2.1", "192.0.2.2", "203.0.113.1", 150);
	mknode(&nb, "b", "a", "192.0.2.2", "192.0.2.1", "203.0.113.2", 100);
	snprintf(nb.key, sizeof nb.key, "%s/other-key", dir);
	FILE *f = fopen(nb.key, "w");
	fputs("not-the-same-key-0123456789\n", f);
	fclose(f);
	chmod(nb.key, 0600);
	struct dd_failover_hooks ha = { .ctx = &ra, .role_changed = on_role };
	struct dd_failover_hooks hb = { .ctx = &rb, .role_changed = on_role };
	struct dd_failover *a = dd_failover_new(loop, &na.cfg, &ha, &err);
	ck_assert_msg(a, "%s", err ? err : "");
	struct dd_failover *b = dd_failover_new(loop, &nb.cfg, &hb, &err);
	ck_assert_msg(b, "%s", err ? err : "");
	ck_assert(problem_is(a, DD_PEER_BAD_AUTH, &st));
	ck_assert_msg(strstr(st.peer_problem_text, "peer b heard on 1/1 links but its keepalives fail "
				 "authentication: check key_file"), "%s", st.peer_problem_text);
	ck_assert(!st.peer_alive);
	wait_event(&rb, "web: init -> active: peer a heard but not believed: its keepalives fail "
			"authentication since start");
	ck_assert(problem_is(b, DD_PEER_BAD_AUTH, &st));

	snprintf(nb.key, sizeof nb.key, "%s/key", dir);
	ck_assert_int_eq(dd_failover_reload(b, &nb.cfg, &err), 0);
	ck_assert(problem_is(a, DD_PEER_OK, &st));
	ck_assert(st.peer_alive);
	ck_assert_str_eq(st.peer_problem_text, "");
	wait_event(&rb, "web: active -> standby: split brain: peer a is active too and has precedence "
			"(priority 150, ours 100)");

	/* Other timers: believed, but raised until they match. */
	nb.cfg.hb.interval_ms = 25;
	ck_assert_int_eq(dd_failover_reload(b, &nb.cfg, &err), 0);
	ck_assert(problem_is(a, DD_PEER_TIMERS, &st));
	ck_assert(st.peer_alive);
	ck_assert_msg(strstr(st.peer_problem_text, "peer b sends interval 25 ms and dead time 100 ms, "
				 "this director interval 20 ms"), "%s", st.peer_problem_text);
	nb.cfg.hb.interval_ms = 20;
	ck_assert_int_eq(dd_failover_reload(b, &nb.cfg, &err), 0);
	ck_assert(problem_is(a, DD_PEER_OK, &st));
	dd_failover_stop(b, false);
	dd_failover_stop(a, false);
}
END_TEST

/* A VIP whose interface is missing: the cluster is active, the VIP is
 * reported missing (never announced), and is added once the interface
 * appears. */
START_TEST(vip_that_cannot_be_added_is_retried)
{
	static struct node n;
	struct rec r = { 0 };
	char *err = NULL;
	struct dd_failover_status st;
	mknode(&n, "a", "b", "192.0.2.1", "192.0.2.2", "203.0.113.30", 100);
	n.cfg.hb.n_peers = 0;
	strcpy(n.vip.ifname, "dd-late0");
	struct dd_failover_hooks h = { .ctx = &r, .role_changed = on_role };
	struct dd_failover *a = dd_failover_new(loop, &n.cfg, &h, &err);
	ck_assert_msg(a, "%s", err ? err : "");
	wait_event(&r, "web: init -> active: no peer configured");
	ck_assert_int_eq(dd_failover_status(a, &st), 0);
	ck_assert_int_eq(st.clusters[0].role, DD_ROLE_ACTIVE);
	ck_assert(!st.clusters[0].vips_up);
	ck_assert_uint_eq(st.clusters[0].vips_missing, 1);
	ck_assert_int_eq(system("ip link add dd-late0 type veth peer name dd-late1 && "
				"ip link set dd-late0 up"), 0);
	double end = mono_now() + 10;
	while (!addr_present("203.0.113.30") && mono_now() < end)
		usleep(10000);
	ck_assert(addr_present("203.0.113.30"));
	ck_assert_int_eq(dd_failover_status(a, &st), 0);
	ck_assert(st.clusters[0].vips_up);
	ck_assert_uint_eq(st.clusters[0].vips_missing, 0);
	dd_failover_stop(a, true);
	ck_assert(!addr_present("203.0.113.30"));
}
END_TEST

/* A dead peer's last keepalive is history: status must not show its
 * roles beside "peer dead". */
/* ECMP (issue 14): a pair reloaded with an ECMP cluster each. The ECMP
 * cluster is active on both at once (the peer does not count), and its VIP
 * is on the tun device only with quorum and while not drained; the pair
 * cluster keeps its roles; the device goes with the engine. */
START_TEST(ecmp_cluster_ignores_the_peer)
{
	static struct node na, nb;
	struct rec ra = { 0 }, rb = { 0 };
	struct dd_failover *a, *b;
	struct dd_failover_status st;
	char *err = NULL;
	start_pair(&na, &nb, &ra, &rb, &a, &b);
	add_ecmp(&na, "203.0.113.11", "dda-ecmp");
	add_ecmp(&nb, "203.0.113.12", "ddb-ecmp");
	ck_assert_int_eq(dd_failover_reload(a, &na.cfg, &err), 0);
	ck_assert_int_eq(dd_failover_reload(b, &nb.cfg, &err), 0);
	wait_event(&ra, "any: init -> active: ECMP mode: every healthy director is active");
	wait_event(&rb, "any: init -> active: ECMP mode: every healthy director is active");
	ck_assert(if_nametoindex("dda-ecmp") && if_nametoindex("ddb-ecmp"));
	ck_assert(addr_present("203.0.113.11") && addr_present("203.0.113.12"));
	/* Nothing announced before the forwarding plane says quorum. */
	wait_ecmp(a, DD_ECMP_HEALTH_UNKNOWN, &st);
	ck_assert(st.clusters[1].ecmp && !st.clusters[0].ecmp);
	ck_assert_str_eq(st.ecmp_device, "dda-ecmp");
	ck_assert(!addr_on("dda-ecmp", "203.0.113.11"));

	struct dd_ecmp_vip_health h = { .vip = na.vip2.addr, .quorum = true };
	ck_assert_int_eq(dd_failover_ecmp_health(a, &h, 1, &err), 0);
	wait_ecmp(a, DD_ECMP_ANNOUNCED, &st);
	ck_assert_uint_eq(st.clusters[1].ecmp_announced, 1);
	ck_assert(addr_on("dda-ecmp", "203.0.113.11"));

	h.quorum = false;
	strcpy(h.service, "web80");
	ck_assert_int_eq(dd_failover_ecmp_health(a, &h, 1, &err), 0);
	wait_ecmp(a, DD_ECMP_NO_QUORUM, &st);
	ck_assert_str_eq(st.clusters[1].ecmp_service, "web80");
	ck_assert(!addr_on("dda-ecmp", "203.0.113.11"));
	ck_assert(addr_on("lo", "203.0.113.11")); /* still held for local delivery */

	h.quorum = true;
	ck_assert_int_eq(dd_failover_ecmp_health(a, &h, 1, &err), 0);
	wait_ecmp(a, DD_ECMP_ANNOUNCED, &st);
	ck_assert_int_eq(dd_failover_ecmp_drain(a, true, false, &err), 0);
	wait_ecmp(a, DD_ECMP_DRAINED, &st);
	ck_assert(st.ecmp_drained && !addr_on("dda-ecmp", "203.0.113.11"));
	ck_assert_int_eq(dd_failover_ecmp_drain(a, false, false, &err), 0);
	wait_ecmp(a, DD_ECMP_ANNOUNCED, &st);

	/* The pair cluster kept its roles all along. */
	ck_assert_int_eq(st.clusters[0].role, DD_ROLE_ACTIVE);
	ck_assert_int_eq(dd_failover_status(b, &st), 0);
	ck_assert_int_eq(st.clusters[0].role, DD_ROLE_STANDBY);
	ck_assert_int_eq(st.clusters[1].role, DD_ROLE_ACTIVE);
	ck_assert_int_eq(dd_failover_release(b, "any", &err), -1);
	free(err);

	/* A reload without ECMP closes the device. */
	nb.cfg.n_clusters = 1;
	ck_assert_int_eq(dd_failover_reload(b, &nb.cfg, &err), 0);
	ck_assert(!if_nametoindex("ddb-ecmp"));
	ck_assert_int_eq(dd_failover_ecmp_drain(b, true, false, &err), -1);
	ck_assert_str_eq(err, "no cluster is in ECMP mode");
	free(err);
	dd_failover_stop(b, false);
	dd_failover_stop(a, false);
	ck_assert(!if_nametoindex("dda-ecmp"));
	ck_assert(!addr_present("203.0.113.11"));
}
END_TEST

START_TEST(dead_peer_has_no_roles)
{
	static struct node na, nb;
	struct rec ra = { 0 }, rb = { 0 };
	struct dd_failover *a, *b;
	struct dd_failover_status st;
	start_pair(&na, &nb, &ra, &rb, &a, &b);
	ck_assert_int_eq(dd_failover_status(b, &st), 0);
	ck_assert(st.clusters[0].peer_known);
	dd_failover_stop(a, false);
	wait_prefix(&rb, "web: standby -> active: peer a silent for ");
	ck_assert_int_eq(dd_failover_status(b, &st), 0);
	ck_assert(!st.peer_alive);
	ck_assert(!st.clusters[0].peer_known);
	dd_failover_stop(b, false);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("hb_engine");
	TCase *tc = tcase_create("core");
	tcase_set_timeout(tc, 60);
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, pair_lifecycle);
	tcase_add_test(tc, missing_resources_refused);
	tcase_add_test(tc, reload_applies_the_vip_diff);
	tcase_add_test(tc, peer_with_wrong_key_is_raised);
	tcase_add_test(tc, vip_that_cannot_be_added_is_retried);
	tcase_add_test(tc, dead_peer_has_no_roles);
	tcase_add_test(tc, standalone_lifecycle);
	tcase_add_test(tc, ecmp_cluster_ignores_the_peer);
	tcase_add_test(tc, track_scripts_fault_and_priority);
	tcase_add_test(tc, standby_reloaded_to_standalone_and_back);
	suite_add_tcase(s, tc);
	return dd_ck_run(s);
}
