#!/usr/bin/python3
# SPDX-License-Identifier: GPL-2.0-or-later
"""bench/pair/run.py: the director pair's failover, directord against
keepalived (VRRP + lvs_sync_daemon), in the same guest boot and the same
lab (tests/lab/pairlab.py, NAT: client, two directors, three real servers).

Runs inside the QEMU guest (bench/pair/run.sh boots it), or on any kernel
with IPVS. For each daemon and each mode it builds a fresh site, opens
N long-lived connections, keeps opening young ones every 20 ms, kills the
active director (links down + SIGKILL of its process group, done by the
traffic generator right after a young connection opened) and measures:
  gap          longest silence between two replies seen by the client
  old          long-lived connections that answer after the takeover
  young 100ms  connections opened in the last 100 ms before the kill
  young all    connections opened any time before the kill
  new          20 new connections opened after the takeover
Modes: "sync" (scheduler wlc, sync daemon only) and "sloppy" (scheduler mh
with mh-port on both, sloppy_tcp on; keepalived has no knob for it, so the
sysctl is set by hand as an operator would).

Usage: run.py [--runs N] [--conns N] [--json FILE] [--only directord|keepalived]
Prints a Markdown table (medians over the runs) and the raw runs.
"""
import argparse
import json
import os
import statistics
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "tests", "lab"))
import pairlab  # noqa: E402
from pairlab import labmod, poll  # noqa: E402

# Matched failure detection, long enough not to flap under TCG:
# directord declares the peer dead after 1500 ms of silence (keepalive every
# 250 ms); keepalived's VRRPv3 backup (priority 100) after 3 x 0.5 s +
# skew (256-100)/256 x 0.5 s = 1.8 s.
DD_TIMING = dict(interval_ms=250, dead_ms=1500)
KA_ADVERT = 0.5


def one_run(impl, mode, conns):
    lab = labmod.Lab()
    tr = None
    site = None
    try:
        site = pairlab.Site(lab, "nat")
        site.start_echod()
        sloppy = mode == "sloppy"
        if impl == "directord":
            site.start_pair(sloppy=sloppy, failback=False, **DD_TIMING)
        else:
            site.start_keepalived("lb1", sloppy=sloppy, advert_int=KA_ADVERT)
            site.wait_active("lb1")
            site.start_keepalived("lb2", sloppy=sloppy, advert_int=KA_ADVERT)
            site.wait_pair()
        tr = pairlab.Traffic(site)
        fig = pairlab.kill_active(site, tr, "lb1", "lb2", n_old=conns)
        fig.pop("conns")
        return fig
    except Exception:
        if site:
            site.dump(sys.stderr)
        raise
    finally:
        if tr:
            tr.close()
        lab.close()


def share(pairs):
    ok = sum(p[0] for p in pairs)
    n = sum(p[1] for p in pairs)
    return f"{ok}/{n} ({100.0 * ok / n:.0f}%)" if n else "0/0"


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=1)
    ap.add_argument("--conns", type=int, default=200)
    ap.add_argument("--json")
    ap.add_argument("--only")
    a = ap.parse_args()
    for m in ("ip_vs", "ip_vs_mh", "ip_vs_wlc", "veth", "bridge"):
        labmod.run(["modprobe", m], check=False)
    results = {}
    for mode in ("sync", "sloppy"):
        for impl in ("directord", "keepalived"):
            if a.only and impl != a.only:
                continue
            runs = []
            for i in range(a.runs):
                t0 = time.monotonic()
                fig = one_run(impl, mode, a.conns)
                fig["wall_s"] = round(time.monotonic() - t0, 1)
                print(f"# {impl} {mode} run {i + 1}: {json.dumps({k: v for k, v in fig.items() if k != 't_kill'})}",
                      flush=True)
                runs.append(fig)
            results[(impl, mode)] = runs
    print("\n| mode | daemon | gap (median) | old survived | young, last 100 ms | young, all before the kill | new after |")
    print("|---|---|---|---|---|---|---|")
    for (impl, mode), runs in results.items():
        gap = statistics.median(r["gap_ms"] for r in runs)
        print(f"| {mode} | {impl} | {gap:.0f} ms | {share([r['old'] for r in runs])} | "
              f"{share([r['young_window'] for r in runs])} | {share([r['young_before_kill'] for r in runs])} | "
              f"{sum(r['after_ok'] for r in runs)}/{sum(r['after_total'] for r in runs)} |")
    if a.json:
        with open(a.json, "w") as f:
            json.dump({f"{k[0]} {k[1]}": v for k, v in results.items()}, f, indent=1)


if __name__ == "__main__":
    main()
