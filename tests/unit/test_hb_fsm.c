/* SPDX-License-Identifier: GPL-2.0-or-later */
/* tests/unit/test_hb_fsm.c: the per-cluster role state machine, driven
 * through its inputs (peer view, fault, clock) without any sockets. */
#include "config.h"
#include "heartbeat/fsm.h"

#include <check.h>
#include "tests/unit/ck_run.h"
#include <string.h>

static struct dd_fsm_peer peer(bool alive, enum dd_role role, uint8_t prio, uint8_t flags)
{
	struct dd_fsm_peer p = { .name = "lb2", .alive = alive, .has_cluster = true,
				 .role = role, .priority = prio, .flags = flags,
				 .silence = "silent for 201 ms on 2/2 links" };
	return p;
}

/* Steps until stable; returns the number of role changes, keeps the last. */
static int run(struct dd_fsm *f, const struct dd_fsm_peer *p, uint64_t now, struct dd_fsm_out *last)
{
	int n = 0;
	struct dd_fsm_out o;
	for (int i = 0; i < 5; i++) {
		dd_fsm_step(f, p, now, &o);
		if (o.changed || o.note || o.reannounce)
			*last = o;
		if (!o.changed)
			break;
		n++;
	}
	return n;
}

static void mk(struct dd_fsm *f, uint8_t prio, bool failback)
{
	dd_fsm_init(f, "web", "lb1", prio, failback, 1000, 200, 500, 1000);
	dd_fsm_set_fault(f, false, "");
}

/* Two directors of one cluster, lb1 and lb2, monitors settled, at t=0. */
static void mk_pair(struct dd_fsm *a, uint32_t prio_a, struct dd_fsm *b, uint32_t prio_b)
{
	dd_fsm_init(a, "web", "lb1", (uint8_t)prio_a, false, 0, 200, 500, 0);
	dd_fsm_init(b, "web", "lb2", (uint8_t)prio_b, false, 0, 200, 500, 0);
	dd_fsm_set_fault(a, false, "");
	dd_fsm_set_fault(b, false, "");
}

/* What `f` looks like from the other side, in the given role. */
static struct dd_fsm_peer view_of(const struct dd_fsm *f, enum dd_role role)
{
	struct dd_fsm_peer p = { .name = f->self, .alive = true, .has_cluster = true,
				 .role = role, .priority = f->priority };
	return p;
}

START_TEST(init_waits_then_active)
{
	struct dd_fsm f;
	struct dd_fsm_out o;
	dd_fsm_init(&f, "web", "lb1", 100, false, 0, 200, 500, 1000);
	struct dd_fsm_peer p = peer(false, DD_ROLE_INIT, 0, 0);
	/* Monitors not settled: INIT holds even past the wait. */
	ck_assert_int_eq(run(&f, &p, 1300, &o), 0);
	ck_assert_uint_eq(dd_fsm_deadline(&f), UINT64_MAX);
	dd_fsm_set_fault(&f, false, "");
	ck_assert_int_eq(run(&f, &p, 1100, &o), 0);
	ck_assert_uint_eq(dd_fsm_deadline(&f), 1200);
	ck_assert_int_eq(run(&f, &p, 1200, &o), 1);
	ck_assert_int_eq(f.role, DD_ROLE_ACTIVE);
	ck_assert_str_eq(o.reason, "peer lb2 silent for 201 ms on 2/2 links since start");
}
END_TEST

START_TEST(init_sees_active_peer)
{
	struct dd_fsm f;
	struct dd_fsm_out o;
	mk(&f, 200, false); /* higher priority, but failback is off */
	struct dd_fsm_peer p = peer(true, DD_ROLE_ACTIVE, 100, 0);
	ck_assert_int_eq(run(&f, &p, 1010, &o), 1);
	ck_assert_int_eq(f.role, DD_ROLE_STANDBY);
	ck_assert_str_eq(o.reason, "peer lb2 is active");
	/* ... and stays standby: a recovered director does not preempt. */
	ck_assert_int_eq(run(&f, &p, 100000, &o), 0);
	ck_assert_int_eq(f.role, DD_ROLE_STANDBY);
	ck_assert_uint_eq(dd_fsm_flags(&f), 0);
}
END_TEST

START_TEST(election_by_priority_then_name)
{
	struct dd_fsm a, b;
	struct dd_fsm_out o;
	mk_pair(&a, 100, &b, 150);
	struct dd_fsm_peer pa = view_of(&b, DD_ROLE_INIT), pb = view_of(&a, DD_ROLE_INIT);
	run(&a, &pa, 10, &o);
	run(&b, &pb, 10, &o);
	ck_assert_int_eq(a.role, DD_ROLE_STANDBY);
	ck_assert_int_eq(b.role, DD_ROLE_ACTIVE);
	ck_assert_str_eq(o.reason, "no active director, priority 150 beats peer lb1 (100)");
	ck_assert(dd_fsm_wins(100, "lb1", 100, "lb2"));
	ck_assert(!dd_fsm_wins(100, "lb2", 100, "lb1"));
	ck_assert(dd_fsm_wins(101, "lb2", 100, "lb1"));
}
END_TEST

START_TEST(standby_takes_over_on_silence_and_fault)
{
	struct dd_fsm f;
	struct dd_fsm_out o;
	mk(&f, 100, false);
	struct dd_fsm_peer p = peer(true, DD_ROLE_ACTIVE, 150, 0);
	run(&f, &p, 1010, &o);
	ck_assert_int_eq(f.role, DD_ROLE_STANDBY);
	p.alive = false;
	ck_assert_int_eq(run(&f, &p, 1500, &o), 1);
	ck_assert_int_eq(o.old_role, DD_ROLE_STANDBY);
	ck_assert_int_eq(o.new_role, DD_ROLE_ACTIVE);
	ck_assert_str_eq(o.reason, "peer lb2 silent for 201 ms on 2/2 links");

	mk(&f, 100, false);
	p = peer(true, DD_ROLE_ACTIVE, 150, 0);
	run(&f, &p, 1010, &o);
	p.role = DD_ROLE_FAULT;
	ck_assert_int_eq(run(&f, &p, 1020, &o), 1);
	ck_assert_str_eq(o.reason, "peer lb2 is in fault");
	ck_assert_int_eq(f.role, DD_ROLE_ACTIVE);
}
END_TEST

START_TEST(local_fault_blocks_takeover)
{
	struct dd_fsm f;
	struct dd_fsm_out o;
	mk(&f, 100, false);
	struct dd_fsm_peer p = peer(true, DD_ROLE_ACTIVE, 150, 0);
	run(&f, &p, 1010, &o);
	dd_fsm_set_fault(&f, true, "gateway 192.0.2.1 unreachable (3 probes lost)");
	ck_assert_int_eq(run(&f, &p, 1020, &o), 1);
	ck_assert_int_eq(f.role, DD_ROLE_FAULT);
	ck_assert_str_eq(o.reason, "gateway 192.0.2.1 unreachable (3 probes lost)");
	p.alive = false;
	ck_assert_int_eq(run(&f, &p, 5000, &o), 0);
	ck_assert_int_eq(f.role, DD_ROLE_FAULT);
	/* Fault cleared with the peer still gone: standby, then active. */
	dd_fsm_set_fault(&f, false, "");
	ck_assert_int_eq(run(&f, &p, 6000, &o), 2);
	ck_assert_int_eq(f.role, DD_ROLE_ACTIVE);
}
END_TEST

/* A track script's fault: the role change carries its own reason code, and
 * a monitor's fault after it carries the monitors' again. */
START_TEST(track_script_fault_has_its_reason_code)
{
	struct dd_fsm f;
	struct dd_fsm_out o;
	mk(&f, 150, false);
	struct dd_fsm_peer p = peer(true, DD_ROLE_STANDBY, 100, 0);
	run(&f, &p, 1010, &o);
	ck_assert_int_eq(f.role, DD_ROLE_ACTIVE);
	dd_fsm_set_fault_why(&f, true, DD_WHY_TRACK_SCRIPT, "track script chk failed: exit status 1");
	ck_assert_int_eq(run(&f, &p, 1020, &o), 1);
	ck_assert_int_eq(f.role, DD_ROLE_FAULT);
	ck_assert_int_eq(o.why, DD_WHY_TRACK_SCRIPT);
	ck_assert_str_eq(dd_fsm_why_name(o.why), "track-script");
	ck_assert_str_eq(o.reason, "track script chk failed: exit status 1");
	dd_fsm_set_fault(&f, false, "");
	ck_assert_int_eq(run(&f, &p, 1030, &o), 2);
	dd_fsm_set_fault(&f, true, "interface eth0 down");
	ck_assert_int_eq(run(&f, &p, 1040, &o), 1);
	ck_assert_int_eq(o.why, DD_WHY_FAULT);
}
END_TEST

START_TEST(active_fault_drops)
{
	struct dd_fsm f;
	struct dd_fsm_out o;
	mk(&f, 150, false);
	struct dd_fsm_peer p = peer(true, DD_ROLE_STANDBY, 100, 0);
	run(&f, &p, 1010, &o);
	ck_assert_int_eq(f.role, DD_ROLE_ACTIVE);
	dd_fsm_set_fault(&f, true, "interface eth0 down");
	ck_assert_int_eq(run(&f, &p, 1020, &o), 1);
	ck_assert_int_eq(o.old_role, DD_ROLE_ACTIVE);
	ck_assert_int_eq(o.new_role, DD_ROLE_FAULT);
}
END_TEST

START_TEST(planned_handover)
{
	struct dd_fsm a, b;
	struct dd_fsm_out o;
	char why[128];
	mk_pair(&a, 150, &b, 100);
	struct dd_fsm_peer pa = view_of(&b, DD_ROLE_STANDBY), pb = view_of(&a, DD_ROLE_ACTIVE);
	run(&a, &pa, 10, &o);
	run(&b, &pb, 10, &o);
	ck_assert_int_eq(a.role, DD_ROLE_ACTIVE);
	ck_assert_int_eq(b.role, DD_ROLE_STANDBY);

	ck_assert_int_eq(dd_fsm_release(&a, &pa, 20, "shutting down (SIGTERM)", why, sizeof why), 0);
	ck_assert_uint_eq(dd_fsm_flags(&a), DD_HB_CF_STANDING_DOWN);
	ck_assert_int_eq(run(&a, &pa, 21, &o), 0);
	ck_assert_int_eq(a.role, DD_ROLE_ACTIVE); /* keeps the VIPs until the peer has them */
	pb.flags = dd_fsm_flags(&a);
	ck_assert_int_eq(run(&b, &pb, 22, &o), 1);
	ck_assert_int_eq(b.role, DD_ROLE_ACTIVE);
	ck_assert_str_eq(o.reason, "peer lb1 is standing down");
	pa.role = DD_ROLE_ACTIVE;
	ck_assert_int_eq(run(&a, &pa, 23, &o), 1);
	ck_assert_int_eq(a.role, DD_ROLE_STANDBY);
	ck_assert_str_eq(o.reason, "shutting down (SIGTERM); peer lb2 took over");
	/* No failback: lb1 stays standby though it has the higher priority. */
	pb.role = DD_ROLE_STANDBY;
	pb.flags = 0;
	ck_assert_int_eq(run(&b, &pb, 100000, &o), 0);
	ck_assert_int_eq(run(&a, &pa, 100000, &o), 0);
	ck_assert_int_eq(a.role, DD_ROLE_STANDBY);
}
END_TEST

START_TEST(release_refused_and_cancelled)
{
	struct dd_fsm f;
	struct dd_fsm_out o;
	char why[128];
	mk(&f, 150, false);
	struct dd_fsm_peer p = peer(true, DD_ROLE_STANDBY, 100, 0);
	run(&f, &p, 1010, &o);
	p.role = DD_ROLE_FAULT;
	ck_assert_int_eq(dd_fsm_release(&f, &p, 1020, "operator", why, sizeof why), -1);
	ck_assert_str_eq(why, "peer lb2 cannot take over cluster web (fault)");
	p.role = DD_ROLE_STANDBY;
	ck_assert_int_eq(dd_fsm_release(&f, &p, 1020, "operator", why, sizeof why), 0);
	ck_assert_uint_eq(dd_fsm_deadline(&f), 1520);
	ck_assert_int_eq(run(&f, &p, 1520, &o), 0);
	ck_assert(o.note);
	ck_assert_str_eq(o.note_text, "handover cancelled: peer lb2 did not take over within 500 ms");
	ck_assert_int_eq(f.role, DD_ROLE_ACTIVE);
	ck_assert_uint_eq(dd_fsm_flags(&f), 0);
}
END_TEST

START_TEST(takeover_request)
{
	struct dd_fsm a, b;
	struct dd_fsm_out o;
	char why[128];
	mk_pair(&a, 150, &b, 100);
	struct dd_fsm_peer pa = view_of(&b, DD_ROLE_STANDBY), pb = view_of(&a, DD_ROLE_ACTIVE);
	run(&a, &pa, 10, &o);
	run(&b, &pb, 10, &o);
	ck_assert_int_eq(dd_fsm_takeover(&a, &pa, 11, why, sizeof why), -1);
	ck_assert_str_eq(why, "cluster web is already active");
	ck_assert_int_eq(dd_fsm_takeover(&b, &pb, 11, why, sizeof why), 0);
	pa.flags = dd_fsm_flags(&b);
	ck_assert_uint_eq(pa.flags, DD_HB_CF_WANT_TAKEOVER);
	run(&a, &pa, 12, &o);
	ck_assert(o.note);
	ck_assert_uint_eq(dd_fsm_flags(&a), DD_HB_CF_STANDING_DOWN);
	pb.flags = dd_fsm_flags(&a);
	ck_assert_int_eq(run(&b, &pb, 13, &o), 1);
	ck_assert_int_eq(b.role, DD_ROLE_ACTIVE);
	pa.role = DD_ROLE_ACTIVE;
	pa.flags = 0;
	ck_assert_int_eq(run(&a, &pa, 14, &o), 1);
	ck_assert_int_eq(a.role, DD_ROLE_STANDBY);
	ck_assert_str_eq(o.reason, "peer lb2 requested takeover; peer lb2 took over");
}
END_TEST

START_TEST(split_brain)
{
	struct dd_fsm a, b;
	struct dd_fsm_out o;
	mk_pair(&a, 100, &b, 100);
	struct dd_fsm_peer gone = { .name = "lb2", .alive = false, .silence = "silent" };
	run(&a, &gone, 300, &o);
	gone.name = "lb1";
	run(&b, &gone, 300, &o);
	ck_assert_int_eq(a.role, DD_ROLE_ACTIVE);
	ck_assert_int_eq(b.role, DD_ROLE_ACTIVE);
	/* Links back: equal priority, the smaller name keeps it, both sides agree. */
	struct dd_fsm_peer pa = view_of(&b, DD_ROLE_ACTIVE), pb = view_of(&a, DD_ROLE_ACTIVE);
	ck_assert_int_eq(run(&a, &pa, 400, &o), 0);
	ck_assert(o.reannounce);
	ck_assert_int_eq(a.role, DD_ROLE_ACTIVE);
	/* Reannounced once per episode, not on every heartbeat. */
	dd_fsm_step(&a, &pa, 401, &o);
	ck_assert(!o.reannounce);
	ck_assert_int_eq(run(&b, &pb, 400, &o), 1);
	ck_assert_int_eq(b.role, DD_ROLE_STANDBY);
	ck_assert_str_eq(o.reason, "split brain: peer lb1 is active too and has precedence (priority 100, ours 100)");
	/* Priority beats the name. */
	dd_fsm_init(&b, "web", "lb2", 200, false, 0, 200, 500, 0);
	dd_fsm_set_fault(&b, false, "");
	run(&b, &gone, 300, &o);
	pb.priority = 100;
	ck_assert_int_eq(run(&b, &pb, 400, &o), 0);
	ck_assert(o.reannounce);
	ck_assert_int_eq(b.role, DD_ROLE_ACTIVE);
	pa.priority = 200;
	ck_assert_int_eq(run(&a, &pa, 402, &o), 1);
	ck_assert_int_eq(a.role, DD_ROLE_STANDBY);
}
END_TEST

START_TEST(failback_with_delay)
{
	struct dd_fsm f;
	struct dd_fsm_out o;
	mk(&f, 100, true); /* failback on, 1000 ms delay */
	struct dd_fsm_peer p = peer(false, DD_ROLE_INIT, 0, 0);
	run(&f, &p, 1200, &o);
	ck_assert_int_eq(f.role, DD_ROLE_ACTIVE);
	/* The higher-priority former active returns as standby. */
	p = peer(true, DD_ROLE_STANDBY, 150, 0);
	run(&f, &p, 2000, &o);
	ck_assert_uint_eq(dd_fsm_flags(&f), 0);
	ck_assert_uint_eq(dd_fsm_deadline(&f), 3000);
	run(&f, &p, 2999, &o);
	ck_assert_uint_eq(dd_fsm_flags(&f), 0);
	run(&f, &p, 3000, &o);
	ck_assert_uint_eq(dd_fsm_flags(&f), DD_HB_CF_STANDING_DOWN);
	ck_assert_str_eq(o.note_text, "standing down: failback to peer lb2 (priority 150, ours 100)");

	/* Without failback the lower-priority active keeps the role. */
	mk(&f, 100, false);
	p = peer(false, DD_ROLE_INIT, 0, 0);
	run(&f, &p, 1200, &o);
	p = peer(true, DD_ROLE_STANDBY, 150, 0);
	run(&f, &p, 100000, &o);
	ck_assert_uint_eq(dd_fsm_flags(&f), 0);
	ck_assert_int_eq(f.role, DD_ROLE_ACTIVE);
}
END_TEST

START_TEST(peer_without_cluster)
{
	struct dd_fsm f;
	struct dd_fsm_out o;
	mk(&f, 100, false);
	struct dd_fsm_peer p = peer(true, DD_ROLE_INIT, 0, 0);
	p.has_cluster = false;
	run(&f, &p, 1200, &o);
	ck_assert_int_eq(f.role, DD_ROLE_ACTIVE);
	ck_assert_str_eq(o.reason, "peer lb2 does not run this cluster since start");
}
END_TEST

/* No peer configured (standalone): active as soon as the monitors answer,
 * without waiting a dead time; fault and recovery as in a pair. */
START_TEST(standalone)
{
	struct dd_fsm f;
	struct dd_fsm_out o;
	char why[128];
	struct dd_fsm_peer p = { .name = "", .none = true };
	dd_fsm_init(&f, "web", "lb1", 100, false, 0, 200, 500, 1000);
	ck_assert_int_eq(run(&f, &p, 1000, &o), 0); /* monitors not settled */
	ck_assert_int_eq(f.role, DD_ROLE_INIT);
	dd_fsm_set_fault(&f, false, "");
	ck_assert_int_eq(run(&f, &p, 1001, &o), 1);
	ck_assert_int_eq(o.old_role, DD_ROLE_INIT);
	ck_assert_int_eq(o.new_role, DD_ROLE_ACTIVE);
	ck_assert_str_eq(o.reason, "no peer configured");
	ck_assert_uint_eq(dd_fsm_deadline(&f), UINT64_MAX);
	ck_assert_int_eq(dd_fsm_release(&f, &p, 1002, "operator", why, sizeof why), -1);
	ck_assert_str_eq(why, "cluster web has no peer to hand over to");
	ck_assert_int_eq(dd_fsm_takeover(&f, &p, 1002, why, sizeof why), -1);
	ck_assert_str_eq(why, "cluster web is already active");

	dd_fsm_set_fault(&f, true, "interface eth0 down");
	ck_assert_int_eq(run(&f, &p, 2000, &o), 1);
	ck_assert_int_eq(f.role, DD_ROLE_FAULT);
	ck_assert_str_eq(o.reason, "interface eth0 down");
	ck_assert_int_eq(run(&f, &p, 9000, &o), 0);
	/* Recovery: standby, then active at once, as a pair whose peer is gone. */
	dd_fsm_set_fault(&f, false, "");
	ck_assert_int_eq(run(&f, &p, 9001, &o), 2);
	ck_assert_int_eq(f.role, DD_ROLE_ACTIVE);
	ck_assert_int_eq(o.old_role, DD_ROLE_STANDBY);
	ck_assert_str_eq(o.reason, "no peer configured");

	/* In fault from the start: never active until it clears. */
	dd_fsm_init(&f, "web", "lb1", 100, false, 0, 200, 500, 1000);
	dd_fsm_set_fault(&f, true, "gateway 192.0.2.1 unreachable (3 probes lost)");
	ck_assert_int_eq(run(&f, &p, 5000, &o), 1);
	ck_assert_int_eq(o.old_role, DD_ROLE_INIT);
	ck_assert_int_eq(f.role, DD_ROLE_FAULT);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("hb_fsm");
	TCase *tc = tcase_create("core");
	tcase_add_test(tc, init_waits_then_active);
	tcase_add_test(tc, track_script_fault_has_its_reason_code);
	tcase_add_test(tc, init_sees_active_peer);
	tcase_add_test(tc, election_by_priority_then_name);
	tcase_add_test(tc, standby_takes_over_on_silence_and_fault);
	tcase_add_test(tc, local_fault_blocks_takeover);
	tcase_add_test(tc, active_fault_drops);
	tcase_add_test(tc, planned_handover);
	tcase_add_test(tc, release_refused_and_cancelled);
	tcase_add_test(tc, takeover_request);
	tcase_add_test(tc, split_brain);
	tcase_add_test(tc, failback_with_delay);
	tcase_add_test(tc, peer_without_cluster);
	tcase_add_test(tc, standalone);
	suite_add_tcase(s, tc);
	return dd_ck_run(s);
}
