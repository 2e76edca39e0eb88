# SPDX-License-Identifier: GPL-2.0-or-later
"""The whole pair on real IPVS, NAT: two directord directors, three real
servers whose gateway is one of the cluster's VIPs, the IPVS sync daemon
(master on the active, backup on the standby), the `mh` scheduler with
identical real-server sets on both and `sync.sloppy`, failback on (after
12 s, so that the returning director has received the connections opened
while it was away: the lab re-syncs every 5 packets, see
pairlab.Site.sync_period).

One scene, in order: traffic is balanced; the active is killed (links down
+ SIGKILL) with 200 long-lived connections open and young ones being opened
every 20 ms: every connection survives, the young ones of the last 100 ms
before the kill included, and new connections work after the gap; the old
active comes back and takes over again (failback) without losing any; a
real server dies and is removed on both directors.

Runs inside the QEMU guest (pytest process); the lab is tests/lab/.
"""

import pairlab  # (tests/lab/, on sys.path through conftest.py)
from pairlab import fmt_share, poll

N_OLD = 200


def test_pair_nat_kill_failback_rs_loss(lab, ipvs_modules):
    pairlab.run_scene(lab, "nat", scene)


def scene(site):
    site.start_echod()
    site.sync_period(5)
    opts = dict(sloppy=True, failback=True, failback_delay_ms=12000)
    lb1, _ = site.start_pair(**opts)
    want = sorted(pairlab.RS_NAT)
    for n in ("lb1", "lb2"):
        assert site.lb[n].run("cat", "/proc/sys/net/ipv4/vs/sloppy_tcp").stdout.strip() == "1"
    assert "sync daemon started as master on eth1" in lb1.log()

    tr = pairlab.Traffic(site)
    try:
        fig = pairlab.kill_active(site, tr, "lb1", "lb2", n_old=N_OLD)
        print(f"\nNAT kill -9: old {fmt_share(fig['old'])}, young in the last 100 ms "
              f"{fmt_share(fig['young_window'])}, young before the kill "
              f"{fmt_share(fig['young_before_kill'])}, new after {fig['after_ok']}/20, "
              f"gap {fig['gap_ms']} ms (from {fig['gap_from']:+.2f} s), takeover seen after {fig['takeover_s']:.2f} s; "
              f"5 youngest {fmt_share(fig['young_last5'])} aged {fig['young_last5_age_ms']} ms; "
              f"young lost: {fig['young_lost_why']}; kill {fig['kill_latency_ms']} ms after a young one opened; "
              f"young around the kill: {sorted(round((c[1] - fig['t_kill']) * 1000) for c in fig['conns'] if c[0] == 'young' and c[1] and abs(c[1] - fig['t_kill']) < 0.5)}")
        assert fig["young_last5"][1] == 5, fig["young_last5"]
        # balanced: every real server holds a fair share of the old ones
        assert len(fig["old_by_rs"]) == 3 and min(fig["old_by_rs"].values()) >= N_OLD // 6, fig["old_by_rs"]
        assert fig["old"] == (N_OLD, N_OLD), pairlab.failures(fig["conns"], ["old"])
        assert fig["young_window"][1] > 0, "no young connection opened in the last 100 ms"
        assert fig["young_window"][0] == fig["young_window"][1], pairlab.failures(fig["conns"], ["young"])
        assert fig["young_last5"][0] == 5, pairlab.failures(fig["conns"], ["young"])
        assert fig["young_before_kill"][0] == fig["young_before_kill"][1], \
            pairlab.failures(fig["conns"], ["young"])
        assert fig["after_ok"] == 20
        poll(lambda: site.sync_daemons("lb2"), timeout=20, until=lambda s: s == ["master"],
             what="lb2's sync daemon to become master")

        # The old active comes back; failback = true: it takes over again.
        # Connections opened while lb1 was away reach it only on a re-sync;
        # the failback delay gives the sync daemon that time.
        live = pairlab.live_ports(tr.check(30))
        site.revive("lb1")
        lb1 = site.start_directord("lb1", **opts)
        lb1.wait_log(r"cluster web: \w+ -> standby", timeout=60)
        pairlab.wait_synced(site, "lb1", live, timeout=30)
        assert site.active() == "lb2", "lb1 took over before its failback delay"
        site.wait_active("lb1", timeout=60)
        poll(lambda: site.sync_daemons("lb1"), timeout=20, until=lambda s: s == ["master"],
             what="lb1's sync daemon as master again")
        poll(lambda: site.sync_daemons("lb2"), timeout=20, until=lambda s: s == ["backup"],
             what="lb2's sync daemon as backup again")
        conns = tr.check(30)
        lost = [c for c in pairlab.failures(conns) if c[4] in live]
        assert not lost, f"{len(lost)} connections lost in the failback: {lost[:10]}"
        print(f"NAT failback: {len(live)}/{len(live)} connections kept")
        live = pairlab.live_ports(conns)

        # A real server dies: removed on both directors; the others' connections live on.
        site.echod[2].kill()
        for n in ("lb1", "lb2"):
            poll(lambda: site.dests(n), timeout=30, until=lambda d: d == want[:2],
                 what=f"{n} to remove the dead real server")
        conns = tr.check(30)
        lost = [c for c in pairlab.failures(conns) if c[3] != "rs3" and c[4] in live]
        assert not lost, f"connections to live real servers lost: {lost[:10]}"
        r = tr.open(30, "late")
        assert r["ok"] == 30 and set(r["by_rs"]) == {"rs1", "rs2"}, r
    finally:
        tr.close()
    for n, p in site.daemons.items():
        assert "AddressSanitizer" not in p.log() and "runtime error" not in p.log(), p.log()
