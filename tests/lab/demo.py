#!/usr/bin/python3
# SPDX-License-Identifier: GPL-2.0-or-later
"""tests/lab/demo.py: the README demo's lab (run by demo.sh, on a kernel
with IPVS: the host's, or the QEMU guest's). One Python process: builds a
NAT site (tests/lab/pairlab.py), starts a private rsyslogd and two
directord directors logging to it, opens long-lived connections through the
VIP and keeps opening new ones, kills the active director, and prints a
timeline. Removes everything on the way out, also on errors.
"""
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import pairlab  # noqa: E402
from pairlab import fmt_share, labmod, poll  # noqa: E402

N_OLD = int(os.environ.get("DD_DEMO_CONNS", "200"))
T0 = time.monotonic()


def say(msg):
    print(f"[{time.monotonic() - T0:6.2f} s] {msg}", flush=True)


def main():
    for m in ("ip_vs", "ip_vs_mh", "veth", "bridge"):
        labmod.run(["modprobe", m], check=False)
    lab = labmod.Lab()
    tr = None
    try:
        site = pairlab.Site(lab, "nat")
        say(f"lab: client {pairlab.CLIENT}, directors lb1 (priority 150) and lb2 (100), "
            f"real servers {', '.join(pairlab.RS_NAT)} (NAT; their gateway {pairlab.GW_VIP} is a VIP)")
        sock, messages = labmod.start_rsyslog(lab)
        site.start_echod()
        opts = dict(sloppy=True, failback=True)
        if not labmod.in_guest():
            # A real kernel keeps time: directord's default keepalive.
            opts.update(interval_ms=50, dead_ms=200)
        site.start_pair(syslog_sock=sock, **opts)
        say(f"lb1 active (holds VIP {pairlab.VIP}), lb2 standby; both have the IPVS service "
            f"(mh, sloppy mode), sync daemon master on lb1, backup on lb2")
        print(site.lb["lb1"].ipvsadm("-Ln").stdout.rstrip(), flush=True)

        tr = pairlab.Traffic(site)
        say(f"opening {N_OLD} long-lived connections to {pairlab.VIP}:{pairlab.PORT}, "
            f"then a new one every 20 ms; each does a round trip about every second")
        fig = pairlab.kill_active(site, tr, "lb1", "lb2", n_old=N_OLD)
        by_rs = ", ".join(f"{k} {v}" for k, v in sorted(fig["old_by_rs"].items()))
        say(f"balanced over the real servers: {by_rs}")
        say(f"killed lb1 (SIGKILL, links down) at t={fig['t_kill'] - T0:.2f} s; "
            f"lb2 held the VIP {fig['takeover_s'] * 1000:.0f} ms later (as polled)")
        print("\nTimeline", flush=True)
        print(f"  gap (longest silence the client saw around the kill): {fig['gap_ms']:.0f} ms, "
              f"starting {fig['gap_from'] * 1000:+.0f} ms from the kill")
        print(f"  long-lived connections that survived:      {fmt_share(fig['old'])}")
        print(f"  young, opened in the 100 ms before the kill: {fmt_share(fig['young_window'])}")
        print(f"  young, opened any time before the kill:     {fmt_share(fig['young_before_kill'])}")
        print(f"  new connections after the gap:              {fig['after_ok']}/{fig['after_total']}")
        alerts = messages + ".alert"
        poll(lambda: open(alerts).read(), timeout=10, until=lambda t: "standby -> active" in t,
             what="the takeover alert in syslog")
        pids = ", ".join(f"directord[{p.pid}] is {n}" for n, p in sorted(site.daemons.items()))
        print(f"\nsyslog alerts (LOG_ALERT, from a private rsyslogd; {pids}):")
        with open(alerts) as f:
            for x in f:
                print("  " + x.rstrip())
        ok = fig["old"][0] == fig["old"][1] and fig["after_ok"] == fig["after_total"]
        print("\n" + ("demo OK" if ok else "demo: connections were lost (see above)"), flush=True)
        return 0 if ok else 1
    finally:
        if tr:
            tr.close()
        lab.close()


if __name__ == "__main__":
    sys.exit(main())
