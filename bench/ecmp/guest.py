#!/usr/bin/python3
# SPDX-License-Identifier: GPL-2.0-or-later
"""bench/ecmp/guest.py: ECMP connection survival on real IPVS (issue 14),
run inside ONE QEMU guest by bench/ecmp/run.sh --guest. The scenario of
tests/vm/guest/test_ecmp_guest.py (tests/lab/ecmplab.py kill_and_return),
with more connections and repeated: long-lived connections over three
directors (mh + sloppy_tcp, DR), one directord SIGKILLed (its BIRD
withdraws, the router reroutes), then restarted. Prints per run the share
of connections that survived the loss and the return, the connections each
director carries before, during and after, and one JSON line "RESULT {...}".

    guest.py [--runs 2] [--conns 150] [--new 30]
    guest.py --failed-server     new connections while one real server is
                                 down (weight 0), mh-port with and without
                                 mh-fallback
"""
import argparse
import json
import os
import signal
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "..", "tests", "lab"))
import ecmplab  # noqa: E402
import nslab as labmod  # noqa: E402
import pairlab  # noqa: E402


def one(n_old, n_new, victim):
    lab = labmod.Lab()
    site = ecmplab.Site(lab)
    try:
        with ecmplab.running(site) as tr:
            site.start_all(check_ms=1000, fall=3)
            fig = ecmplab.kill_and_return(site, tr, victim, n_old=n_old, n_new=n_new, check_s=90)
        for k in ("lost_after_kill", "lost_after_return", "lost_final"):
            fig[k] = fig[k][:10]
        return fig
    finally:
        lab.close()


def failed_server(n_new=60):
    """With rs2 down (SIGKILL; every directord puts it at weight 0), how
    many of n_new new connections get through, for mh-port alone and with
    mh-fallback."""
    out = {}
    for flags in (("mh-port",), ("mh-port", "mh-fallback")):
        lab = labmod.Lab()
        site = ecmplab.Site(lab)
        try:
            with ecmplab.running(site) as tr:
                site.start_all(check_ms=500, fall=2, sched_flags=flags)
                os.killpg(site.echod[1].pid, signal.SIGKILL)
                for n in site.lb:
                    labmod.poll(lambda: site.weights(n).get(ecmplab.RS[1]), timeout=60, until=lambda w: w == 0,
                                what=f"{n} to put rs2 at weight 0")
                r = tr.open(n_new, "new")
        finally:
            lab.close()
        out[",".join(flags)] = r
        print(f"sched_flags {list(flags)}, rs2 down: {r['ok']}/{n_new} new connections opened, "
              f"by server {r['by_rs']}, failures {r['why']}", flush=True)
    return out


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=2)
    ap.add_argument("--conns", type=int, default=150)
    ap.add_argument("--new", type=int, default=30)
    ap.add_argument("--failed-server", action="store_true")
    args = ap.parse_args()
    labmod.modprobe("ip_vs", "ip_vs_mh", "tun", "nf_tables", "veth", "bridge")
    if args.failed_server:
        print("RESULT " + json.dumps({"failed_server": failed_server()}), flush=True)
        return
    runs = []
    for r in range(args.runs):
        fig = one(args.conns, args.new, f"lb{1 + r % 3}")
        print(f"run {r + 1}: victim {fig['victim']}: survived the loss {pairlab.fmt_share(fig['after_kill'])}"
              f" (through the victim {pairlab.fmt_share(fig['via_victim'])}), the return "
              f"{pairlab.fmt_share(fig['after_return'])}; new while lost {pairlab.fmt_share(fig['new_killed'])},"
              f" after return {pairlab.fmt_share(fig['new_returned'])}; carried before {fig['before']}, "
              f"during {fig['during']}, after {fig['after']}; withdrawn after {fig['withdrawn_after_s']} s",
              flush=True)
        runs.append(fig)
    print("RESULT " + json.dumps({"params": vars(args), "runs": runs}), flush=True)


if __name__ == "__main__":
    main()
