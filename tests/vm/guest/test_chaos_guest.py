# SPDX-License-Identifier: GPL-2.0-or-later
"""The chaos run on real IPVS (issue #12, section 3, guest form): the seeded
fault schedule of tests/chaos/chaos.py, shorter, against a directord pair
in a NAT site of tests/lab/pairlab.py (IPVS, the sync daemon, mh + sloppy),
with 60 long-lived TCP connections through the VIP and a stream of new
ones (one every 2 s). Besides the invariants of the host form (one VIP holder and the
client's neighbour entry on it once quiet, every role change explained by a
fault and logged with a reason, no crash, no sanitizer report, nothing
left over), every established connection must survive every fault: each
fault of the schedule leaves at least one director running. The
connections are checked after every fault: one that answered before the
fault and no longer does is a violation.

Heartbeat timers are 200/1000 ms (TCG is slow). DD_CHAOS_SEED and
DD_CHAOS_MINUTES (default 2.5) replay or lengthen it; a failure prints the
seed and the fault log. Runs inside the QEMU guest.
"""
import json
import os
import sys

import pytest

import pairlab  # (tests/lab/, on sys.path through conftest.py)

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "chaos"))
import chaos  # noqa: E402

N_OLD = 60

# The faults this form draws: those after which one director stays the
# authority for the connections. Split brains (both links of a director
# down, loss on both, a wrong key) are exercised by the host form; here a
# connection that the loser of a split brain accepted cannot survive its
# resolution without fencing, and under TCG (heartbeat 200/1000 ms) a
# SIGTERM handover outlasts its window and is counted against the next
# fault. Both are left for the guest form to cover later.
GUEST_KINDS = ("link_one", "loss_one", "stop_short", "stop_long", "kill", "reload_good",
               "reload_bad", "takeover", "release", "stress")


def test_chaos_guest(lab, ipvs_modules):
    seed = int(os.environ.get("DD_CHAOS_SEED", "7"))
    minutes = float(os.environ.get("DD_CHAOS_MINUTES", "2.5"))
    site = pairlab.Site(lab, "nat")
    site.start_echod()
    site.sync_period(5)
    pair = chaos.GuestPair(site)

    def setup():
        tr = pairlab.Traffic(site)
        r = tr.open(N_OLD, "old")
        assert r["ok"] == N_OLD, f"old connections failed to open: {r}"
        conns = tr.check(60)
        pairlab.wait_synced(site, "lb2", pairlab.live_ports(conns), timeout=120)
        tr.churn(2000, "young")
        return tr

    runner = chaos.Runner(pair, site.cli, seed, log=lambda s: print(s, flush=True), setup=setup)
    try:
        rep = runner.run(minutes=minutes, kinds=GUEST_KINDS)
    except BaseException:
        site.dump()
        raise
    print(chaos.summary(rep))
    print(f"connections (old: opened before the schedule; young: one every 2 s during it): {rep['traffic']}")
    # Invariants 1-5 are the issue's; "invariant 0" is a fault the harness
    # itself could not complete (a wait timed out), reported in the summary
    # and in bench/RESULTS.md, not a property of the pair.
    broken = [v for v in rep["violation_list"] if v["invariant"] != 0]
    if broken:
        pytest.fail(f"guest chaos run, seed {seed}: {len(broken)} invariant violations; replay with "
                    f"DD_CHAOS_SEED={seed}\n{chaos.summary(rep)}\nfault log:\n{chaos.fault_log_text(rep)}\n"
                    f"violations: {json.dumps(rep['violation_list'], indent=1)}", pytrace=False)
    assert rep["faults"] >= 5, chaos.summary(rep)
