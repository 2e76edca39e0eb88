#!/usr/bin/python3
# SPDX-License-Identifier: GPL-2.0-or-later
"""bench/hbflood/run.py: what a flood of packets that fail authentication
costs the standby, directord against keepalived, same lab, same run.

The pair of tests/net/hbnet.py (lb1 active, lb2 standby, a client on the
heartbeat link 0 segment). From the client, bench/hbflood/flood.c sends,
spoofed from lb1's address, for SECONDS at each RATE:
  - to directord's lb2: keepalives with a valid header and a wrong HMAC
    (the receiver pays the HMAC for each: the worst case; strangers'
    addresses are dropped before it);
  - to keepalived's lb2: VRRPv2 adverts for its VRID with a wrong password,
    to the VRRP group as real adverts are.
Measured on lb2: the CPU of the thread that receives them (directord's
heartbeat thread, keepalived's VRRP process), genuine keepalives from lb1
lost on link 0 (directord: lb1's tx against lb2's rx on that link), drops
counted, and role changes (a false takeover is the failure).

    bench/hbflood/run.py [--rates 50000,100000,200000] [--seconds 10] [--out F]

Run as root; uses $DIRECTORD (a build without sanitizers for figures)."""
import argparse
import json
import os
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "failover"))
sys.path.insert(0, os.path.join(HERE, "..", "..", "tests", "net"))
import bench as fbench  # noqa: E402  (bench/failover/bench.py: keepalived pair)
import hbnet  # noqa: E402
from hbnet import VIP4, roles, wait_for  # noqa: E402

TICK = os.sysconf("SC_CLK_TCK")


def flood_binary():
    out = os.path.join(HERE, "results", "flood")
    src = os.path.join(HERE, "flood.c")
    if not os.path.exists(out) or os.path.getmtime(out) < os.path.getmtime(src):
        os.makedirs(os.path.dirname(out), exist_ok=True)
        subprocess.run(["cc", "-O2", "-Wall", "-o", out, src], check=True)
    return out


def cpu_s(pid, tid=None):
    path = f"/proc/{pid}/task/{tid}/stat" if tid else f"/proc/{pid}/stat"
    f = open(path).read().rsplit(")", 1)[1].split()
    return (int(f[11]) + int(f[12])) / TICK  # utime + stime


def heartbeat_tid(pid):
    for tid in os.listdir(f"/proc/{pid}/task"):
        if open(f"/proc/{pid}/task/{tid}/comm").read().strip() == "dd-heartbeat":
            return int(tid)
    raise RuntimeError("no dd-heartbeat thread")


def status(lab, node):
    r = hbnet.ctl(lab, node, "--json", "status")
    return json.loads(r.stdout)["peer"]


def flood(lab, kind, rate, seconds, dst="192.0.2.2"):
    r = subprocess.run(["ip", "netns", "exec", lab.ns["client"], flood_binary(), kind, "192.0.2.1",
                        dst, str(rate), str(seconds), VIP4],
                       capture_output=True, text=True, timeout=seconds + 30, check=True)
    return int(r.stdout.split()[1])


def run_directord(rate, seconds):
    lab = hbnet.Lab()
    try:
        fbench.start_pair(lab, "directord", dict(interval=50, dead=200))
        pid = lab.procs["lb2"].pid
        tid = heartbeat_tid(pid)
        n_roles = len(roles(lab.log("lb2")))
        a0, b0 = status(lab, "lb1")["links"][0], status(lab, "lb2")
        c0 = cpu_s(pid, tid)
        sent = flood(lab, "dd", rate, seconds)
        c1 = cpu_s(pid, tid)
        a1, b1 = status(lab, "lb1")["links"][0], status(lab, "lb2")
        tx = a1["tx"] - a0["tx"]
        rx = b1["links"][0]["rx"] - b0["links"][0]["rx"]
        return {"rate": rate, "sent": sent, "thread_cpu_pct": round(100 * (c1 - c0) / seconds, 1),
                "auth_drops": b1["dropped"]["bad_auth"] - b0["dropped"]["bad_auth"],
                "genuine_sent": tx, "genuine_lost": max(0, tx - rx),
                "role_changes": len(roles(lab.log("lb2"))) - n_roles,
                "still_standby": not lab.has_vip("lb2")}
    finally:
        lab.close()


def run_keepalived(rate, seconds):
    lab = hbnet.Lab()
    try:
        fbench.start_pair(lab, "keepalived", dict(advert="1", version=""))
        vrrp_pid = int(open(os.path.join(lab.dir, "ka-lb2-vrrp.pid")).read())
        before = lab.log("lb2").count("Entering MASTER STATE")
        c0 = cpu_s(vrrp_pid)
        # VRRP adverts go to its group, as keepalived's own do (it ignores
        # adverts sent to its unicast address when it runs multicast).
        lab.hosts["client"].run("ip", "route", "replace", "224.0.0.0/4", "dev", "eth0")
        sent = flood(lab, "vrrp", rate, seconds, dst="224.0.0.18")
        c1 = cpu_s(vrrp_pid)
        time.sleep(0.2)  # let its log lines for the flood's end arrive (reporting only)
        return {"rate": rate, "sent": sent, "vrrp_cpu_pct": round(100 * (c1 - c0) / seconds, 1),
                "false_takeovers": lab.log("lb2").count("Entering MASTER STATE") - before,
                "still_backup": not lab.has_vip("lb2")}
    finally:
        lab.close()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--rates", default="50000,100000,200000")
    ap.add_argument("--seconds", type=int, default=10)
    ap.add_argument("--out")
    args = ap.parse_args()
    out = {"directord": [], "keepalived": []}
    for rate in (int(x) for x in args.rates.split(",")):
        d = run_directord(rate, args.seconds)
        print("directord", json.dumps(d), flush=True)
        out["directord"].append(d)
        k = run_keepalived(rate, args.seconds)
        print("keepalived", json.dumps(k), flush=True)
        out["keepalived"].append(k)
    if args.out:
        with open(args.out, "w") as f:
            json.dump(out, f, indent=1)


if __name__ == "__main__":
    main()
