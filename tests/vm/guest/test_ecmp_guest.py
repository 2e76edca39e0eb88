# SPDX-License-Identifier: GPL-2.0-or-later
"""ECMP mode on a real kernel (issue 14): the data plane. Runs in the QEMU
guest (pytest, one process), on tests/lab/ecmplab.py.

A client reaches the VIP through a router whose BIRD learns it over BGP
from three directors and installs one ECMP route (L4 hash). Each director
runs directord in ECMP mode (IPVS mh + sloppy_tcp, DR to three real
servers) and its own BIRD, which exports the VIP while it is on directord's
tun device. Long-lived connections spread over all three directors; one
directord is SIGKILLed: its tun device goes, its BIRD withdraws, the router
reroutes, and every connection -- those through the killed director too --
keeps talking to the same real server, because the surviving directors' mh
tables pick the same server and sloppy_tcp takes the flow up mid-stream.
New connections work. Then the director comes back: nothing breaks either.
Last, another director is drained (directorctl drain-director: withdrawn,
the router moves its flows) and undrained: every connection survives both.
"""

import time

import ecmplab
import nslab as labmod

N_OLD, N_NEW = 60, 20


def test_ecmp_director_killed_and_drained(lab, ipvs_modules):
    t0 = time.monotonic()
    labmod.modprobe("tun", "nf_tables")
    site = ecmplab.Site(lab)
    with ecmplab.running(site) as tr:
        t_site = time.monotonic() - t0
        site.start_all(check_ms=1000, fall=3)
        print(f"site built in {t_site:.1f} s, every director announcing after {time.monotonic() - t0:.1f} s")
        for n, ns in site.lb.items():
            svc = labmod.ipvs_service(ns, f"TCP {ecmplab.VIP}:{ecmplab.PORT}")
            assert svc and svc.scheduler == "mh", f"{n}: {svc}"
            assert [d.addr for d in svc.dests] and sorted(d.addr for d in svc.dests) == sorted(ecmplab.RS)
            assert all(d.forward == "Route" for d in svc.dests), svc
            assert ns.run("sysctl", "-n", "net.ipv4.vs.sloppy_tcp").stdout.strip() == "1", n
        fig = ecmplab.kill_and_return(site, tr, "lb1", n_old=N_OLD, n_new=N_NEW)
        print("figures:", {k: v for k, v in fig.items() if not k.startswith("lost")})
        assert fig["old_open"]["ok"] == N_OLD, fig["old_open"]
        assert fig["old_before"] == (N_OLD, N_OLD)
        # Every director carried some of them (ipvsadm -Lnc in each).
        assert all(fig["before"][n] > 0 for n in site.lb), fig["before"]
        assert fig["tun_gone"], "the killed directord's tun device is still there"
        assert fig["after_kill"] == (N_OLD, N_OLD), fig["lost_after_kill"]
        assert fig["via_victim"][0] == fig["via_victim"][1] > 0, fig["via_victim"]
        assert fig["during"]["lb1"] == 0, fig["during"]
        assert fig["new_killed"] == (N_NEW, N_NEW)
        assert fig["after_return"] == (N_OLD + N_NEW, N_OLD + N_NEW), fig["lost_after_return"]
        assert fig["new_returned"] == (N_NEW, N_NEW)
        assert fig["final"] == (N_OLD + 2 * N_NEW, N_OLD + 2 * N_NEW), fig["lost_final"]
        # The returned director takes flows again.
        assert fig["after"]["lb1"] > 0, fig["after"]
        total = N_OLD + 2 * N_NEW
        dr = ecmplab.drain_and_return(site, tr, "lb2")
        print("drain:", {k: v for k, v in dr.items() if not k.startswith("lost")})
        assert dr["drain_rc"][0] == 0 and dr["undrain_rc"][0] == 0, dr
        assert not dr["announced_while_drained"], dr
        assert dr["after_drain"] == (total, total), dr["lost_after_drain"]
        assert dr["after_undrain"] == (total, total), dr["lost_after_undrain"]
