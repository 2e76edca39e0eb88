# SPDX-License-Identifier: GPL-2.0-or-later
"""The whole pair on real IPVS, DR, sync daemon only (scheduler wlc, no
sloppy mode), failback off.

One scene, in order: the active is killed (links down + SIGKILL) with 200
long-lived connections open and young ones being opened every 20 ms: every
old connection survives (the sync daemon copied them), the young ones'
share is reported (the sync daemon sends after a connection's third packet,
in batches, so the youngest are not on the standby yet), and new
connections work after the gap. The old active comes back and, failback
being off, stays standby. A planned handover (`directorctl release web` on
the active) back to it then loses no connection: the sync ran in both
directions. (SIGTERM's handover is the same message; tests/net covers it.)

The lab sets net.ipv4.vs.sync_threshold to "3 5" on both directors: a
connection the new active inherited, or opened while its peer was away,
reaches the returning peer only on a re-sync, every `period` packets (50
by default, for keepalived too).

Runs inside the QEMU guest (pytest process); the lab is tests/lab/.
"""
import re
import signal

import pairlab  # (tests/lab/, on sys.path through conftest.py)
from pairlab import fmt_share, poll

N_OLD = 200


def test_pair_dr_kill_nofailback_handover(lab, ipvs_modules):
    pairlab.run_scene(lab, "dr", scene)


def scene(site):
    site.start_echod()
    site.sync_period(5)
    opts = dict(sloppy=False, failback=False)
    _, lb2 = site.start_pair(**opts)
    assert site.lb["lb2"].run("cat", "/proc/sys/net/ipv4/vs/sloppy_tcp").stdout.strip() == "0"

    tr = pairlab.Traffic(site)
    try:
        fig = pairlab.kill_active(site, tr, "lb1", "lb2", n_old=N_OLD)
        print(f"\nDR kill -9 (sync only): old {fmt_share(fig['old'])}, young in the last 100 ms "
              f"{fmt_share(fig['young_window'])}, young before the kill "
              f"{fmt_share(fig['young_before_kill'])}, new after {fig['after_ok']}/20, "
              f"gap {fig['gap_ms']} ms (from {fig['gap_from']:+.2f} s), takeover seen after {fig['takeover_s']:.2f} s; "
              f"5 youngest {fmt_share(fig['young_last5'])} aged {fig['young_last5_age_ms']} ms; "
              f"young lost: {fig['young_lost_why']}")
        assert fig["young_last5"][1] == 5, fig["young_last5"]
        assert len(fig["old_by_rs"]) == 3, fig["old_by_rs"]
        assert fig["old"] == (N_OLD, N_OLD), pairlab.failures(fig["conns"], ["old"])
        assert fig["young_window"][1] > 0, "no young connection opened in the last 100 ms"
        assert fig["after_ok"] == 20

        # The old active comes back; failback = false: it stays standby.
        site.revive("lb1")
        lb1 = site.start_directord("lb1", **opts)
        lb1.wait_log(r"cluster web: \w+ -> standby", timeout=60)
        poll(lambda: site.sync_daemons("lb1"), timeout=20, until=lambda s: s == ["backup"],
             what="lb1's sync daemon as backup")
        assert site.active() == "lb2", "lb1 took the VIP back although failback is off"

        # Planned handover to lb1 once its table holds every live connection.
        conns = tr.check(30)
        lost_before = pairlab.failures(conns)
        live = pairlab.live_ports(conns)
        pairlab.wait_synced(site, "lb1", live, timeout=120)
        r = site.ctl("lb2", "release", "web")
        assert r.returncode == 0, (r.stdout, r.stderr)
        site.wait_active("lb1", timeout=30)
        lb2.wait_log(r"cluster web: active -> standby", timeout=30)
        conns = tr.check(30)
        lost = [c for c in pairlab.failures(conns) if c[4] in live]
        assert not lost, f"{len(lost)} of {len(live)} connections lost in the planned handover: {lost[:10]}"
        print(f"DR planned handover: {len(live)}/{len(live)} connections kept "
              f"({len(lost_before)} young ones had died in the kill)")
        r = tr.open(20, "late")
        assert r["ok"] == 20, r
        assert re.search(r"sync daemon started as master", lb1.log()), lb1.log()
        lb2.signal(signal.SIGTERM)
        assert lb2.popen.wait(30) == 0, lb2.log()
    finally:
        tr.close()
