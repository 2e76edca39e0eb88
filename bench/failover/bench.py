#!/usr/bin/python3
# SPDX-License-Identifier: GPL-2.0-or-later
"""bench/failover/bench.py: client-visible failover gap, directord against
keepalived, same machine, same run, same namespace lab (tests/net/hbnet.py,
on the lab library tests/lab/nslab.py).

A client in its own namespace sends an ICMP echo to the VIP every 1 ms
(bench/failover/probe.c, a fixed pace even while replies are missing);
the active director is SIGKILLed and its switch ports are set down (a dead
machine: its kernel no longer answers for the VIP); the gap is the time from
the last reply from the old owner's MAC to the first from the new owner's,
as captured on the client.

    bench.py gap [--runs 5] [--out results.json]
        (a) directord defaults       vs keepalived defaults (VRRPv2, advert_int 1)
        (b) directord tuned (5/15)   vs keepalived VRRPv3 advert_int 0.01
            (keepalived's fastest; directord's 5 ms interval is below what
            VRRPv3's centisecond field can express)
    bench.py jitter [--seconds 60] [--checks 20x250]
        heartbeat send intervals (kernel capture timestamps) idle and under
        stress-ng CPU+I/O load plus 5,000 health checks a second: p50, p99,
        max deviation from the interval
    bench.py soak [--seconds 600] [--profiles 50/200,5/15] [--checks 20x250]
        pairs under stress-ng CPU+I/O plus 5,000 health checks a second on
        the same machine: role changes

Run as root. Uses $DIRECTORD (build without sanitizers for figures).
"""
import argparse
import json
import os
import re
import signal
import statistics
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "..", "tests", "net"))
import hbnet  # noqa: E402
from hbnet import VIP4, wait_for  # noqa: E402

KA_CONF = """
global_defs {{
  router_id {node}
  enable_script_security
}}
vrrp_instance web {{
  state BACKUP
  interface eth0
  virtual_router_id 51
  priority {prio}
  {version}
  advert_int {advert}
  virtual_ipaddress {{
    {vip}/24 dev eth0
  }}
}}
"""

CONFIGS = {
    "directord-defaults": ("directord", dict(interval=50, dead=200)),
    "keepalived-defaults": ("keepalived", dict(advert="1", version="")),
    "directord-tuned": ("directord", dict(interval=5, dead=15)),
    "keepalived-v3-0.01": ("keepalived", dict(advert="0.01", version="version 3")),
}


def start_keepalived(lab, node, prio, advert, version):
    conf = os.path.join(lab.dir, f"ka-{node}.conf")
    with open(conf, "w") as f:
        f.write(KA_CONF.format(node=node, prio=prio, advert=advert, version=version, vip=VIP4))
    lab.procs[node] = lab.hosts[node].spawn("keepalived", "-n", "-l", "-P", "-f", conf,
                                            "-p", os.path.join(lab.dir, f"ka-{node}.pid"),
                                            "-r", os.path.join(lab.dir, f"ka-{node}-vrrp.pid"),
                                            name=f"keepalived-{node}", log=lab.log_path(node))


def start_pair(lab, kind, params):
    if kind == "directord":
        lab.start("lb1", 150, **params)
        wait_for(lambda: lab.has_vip("lb1"), 15, "lb1 active")
        lab.start("lb2", 100, **params)
        wait_for(lambda: "-> standby" in lab.log("lb2"), 15, "lb2 standby")
    else:
        start_keepalived(lab, "lb1", 150, **params)
        wait_for(lambda: lab.has_vip("lb1"), 30, "lb1 master")
        start_keepalived(lab, "lb2", 100, **params)
        wait_for(lambda: "Entering BACKUP STATE" in lab.log("lb2"), 30, "lb2 backup")


def kill_active(lab, node="lb1"):
    """A dead machine: both of its switch ports go down in one ip -batch
    (from then on it neither hears nor answers anything), then every
    process in its namespace gets SIGKILL (keepalived forks a VRRP child).

    The ports go down one after the other, and taking a port down waits for
    an RCU grace period (several ms here), so they cannot stop at the same
    instant. a1 (heartbeat link 1 only) goes first and a0 last: the client's
    path and heartbeat link 0 share a0, so the client's last reply and the
    last heartbeat the standby can hear stop together, as when a machine
    dies. (The other order kept link 1 alive for a grace period after the
    client's last reply, which added up to that much to directord's gap;
    keepalived's VRRP uses eth0 alone.)"""
    subprocess.run(["ip", "-n", lab.ns["sw"], "-batch", "-"], input="link set a1 down\nlink set a0 down\n",
                   text=True, check=True)
    for pid in hbnet.sh("ip", "netns", "pids", lab.ns[node]).stdout.split():
        try:
            os.kill(int(pid), signal.SIGKILL)
        except ProcessLookupError:
            pass


def probe_binary():
    """bench/failover/probe.c, built once next to the results: a fixed 1 ms
    ICMP pace (iputils ping slows down while replies are missing, which is
    exactly the failover, and quantised the gap to ~10 ms)."""
    out = os.path.join(HERE, "results", "probe")
    src = os.path.join(HERE, "probe.c")
    if not os.path.exists(out) or os.path.getmtime(out) < os.path.getmtime(src):
        os.makedirs(os.path.dirname(out), exist_ok=True)
        subprocess.run(["cc", "-O2", "-Wall", "-o", out, src], check=True)
    return out


def measure_gap(lab, kind, params, settle=1.0):
    """The client-visible gap: from the last echo reply sent by the old
    owner's MAC to the first one from the new owner's MAC, both stamped by
    the kernel on the client (tcpdump -tt), so a stall of any user-space
    process after the failover does not count."""
    start_pair(lab, kind, params)
    mac1, mac2 = lab.mac("lb1"), lab.mac("lb2")
    cap = os.path.join(lab.dir, "gap.pcap.txt")
    f = open(cap, "w")
    dump = subprocess.Popen(["ip", "netns", "exec", lab.ns["client"], "tcpdump", "-i", "eth0", "-n", "-e", "-tt",
                             "-l", "-U", f"(icmp[icmptype] == icmp-echoreply and src host {VIP4}) or arp"],
                            stdout=f, stderr=subprocess.PIPE, text=True)
    f.close()
    lab.bg.append(dump)
    wait_for(lambda: "listening" in (dump.stderr.readline() or ""), 10, "tcpdump to start")
    # The prober runs at real-time priority so that its own scheduling
    # delays on this shared machine do not count as failover time.
    ping = subprocess.Popen(["ip", "netns", "exec", lab.ns["client"], "chrt", "-f", "50",
                             probe_binary(), VIP4, "120"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    lab.bg.append(ping)
    time.sleep(settle)  # steady probing before the kill (not a wait for a condition)
    t_kill = time.time()
    kill_active(lab)
    wait_for(lambda: lab.has_vip("lb2"), 30, "lb2 to take over")

    def replies():
        out = []
        for line in open(cap):
            m = re.match(r"(\d+\.\d+) ([0-9a-f:]{17}) >", line)
            if m and "ICMP echo reply" in line:
                out.append((float(m.group(1)), m.group(2)))
        return out
    wait_for(lambda: any(mac == mac2 for _, mac in replies()), 30, "replies from the new owner")
    ping.send_signal(signal.SIGINT)
    ping.wait(timeout=10)
    r = replies()
    # Replies from the standby before the kill: the pair flapped on its own
    # (no failure yet); the run measures nothing and is reported as such.
    if any(mac == mac2 for t, mac in r if t < t_kill):
        return None, None
    last_old = max(t for t, mac in r if mac == mac1)
    first_new = min(t for t, mac in r if mac == mac2)
    # The director's own part: from the old owner's last reply to the new
    # owner's first gratuitous ARP on the client's wire.
    garps = []
    for line in open(cap):
        m = re.match(rf"(\d+\.\d+) {mac2} > ff:ff:ff:ff:ff:ff.*Request who-has {re.escape(VIP4)} (?:\(\S+\) )?tell {re.escape(VIP4)}",
                     line)
        if m and float(m.group(1)) > last_old:
            garps.append(float(m.group(1)))
    announce = round((min(garps) - last_old) * 1000.0, 1) if garps else None
    return round((first_new - last_old) * 1000.0, 1), announce


def cmd_gap(args):
    for prof in (args.extra.split(",") if args.extra else []):
        interval, dead = (int(x) for x in prof.split("/"))
        CONFIGS[f"directord-{interval}-{dead}"] = ("directord", dict(interval=interval, dead=dead))
    results = {name: [] for name in CONFIGS}
    announces = {name: [] for name in CONFIGS}
    for run in range(args.runs):
        # Interleave the configurations so drift in machine load hits all alike.
        for name, (kind, params) in CONFIGS.items():
            lab = hbnet.Lab()
            try:
                g, a = measure_gap(lab, kind, params)
            finally:
                lab.close()
            results[name].append(g)
            announces[name].append(a)
            print(f"run {run + 1}/{args.runs} {name}: gap {g} ms, first GARP after {a} ms", flush=True)
    summary = {n: {"runs_ms": v, "median_ms": statistics.median([x for x in v if x is not None] or [0]),
                   "flapped_before_kill": sum(1 for x in v if x is None),
                   "garp_runs_ms": announces[n],
                   "garp_median_ms": statistics.median([x for x in announces[n] if x is not None] or [0])}
               for n, v in results.items()}
    s = summary
    summary["ratio_defaults"] = round(s["keepalived-defaults"]["median_ms"] / s["directord-defaults"]["median_ms"], 1)
    summary["ratio_tuned"] = round(s["keepalived-v3-0.01"]["median_ms"] / s["directord-tuned"]["median_ms"], 2)
    print(json.dumps(summary, indent=1))
    if args.out:
        with open(args.out, "w") as f:
            json.dump(summary, f, indent=1)


def stress(seconds):
    return subprocess.Popen(["stress-ng", "--cpu", "2", "--io", "2", "--timeout", f"{int(seconds)}s", "--quiet"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def send_intervals(lab, seconds, interval):
    """Kernel timestamps of lb1's heartbeats on link 1, captured in lb1."""
    p = subprocess.Popen(["ip", "netns", "exec", lab.ns["lb1"], "tcpdump", "-i", "eth1", "-n", "-tt", "-l",
                          "-U", "udp and dst port 7694 and src host 198.51.100.1"],
                         stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    time.sleep(0.5)
    end = time.monotonic() + seconds
    ts = []
    while time.monotonic() < end:
        line = p.stdout.readline()
        m = re.match(r"(\d+\.\d+) IP", line)
        if m:
            ts.append(float(m.group(1)))
    p.terminate()
    p.wait()
    dev = sorted(abs((b - a) * 1000.0 - interval) for a, b in zip(ts, ts[1:]))
    q = lambda f: round(dev[min(len(dev) - 1, int(f * len(dev)))], 3)
    return {"samples": len(dev), "p50_ms": q(0.50), "p99_ms": q(0.99), "max_ms": round(dev[-1], 3)}


def cmd_jitter(args):
    out = {}
    for name, params in (("defaults", dict(interval=50, dead=200)), ("tuned", dict(interval=5, dead=15))):
        lab = hbnet.Lab()
        try:
            start_pair(lab, "directord", params)
            out[f"{name}-idle"] = send_intervals(lab, args.seconds, params["interval"])
            st = stress(args.seconds + 5)
            load = CheckerLoad(*(int(x) for x in args.checks.split("x"))) if args.checks else None
            try:
                time.sleep(1)
                out[f"{name}-stress"] = send_intervals(lab, args.seconds, params["interval"])
                if load:
                    out[f"{name}-stress-health-probes-per-s"] = load.probes_per_s()
            finally:
                st.terminate()
                st.wait()
                if load:
                    load.close()
            out[f"{name}-role-changes"] = len(re.findall(r"cluster web: \w+ -> ", lab.log("lb1") + lab.log("lb2"))) - 2
        finally:
            lab.close()
        print(name, json.dumps({k: v for k, v in out.items() if k.startswith(name)}), flush=True)
    print(json.dumps(out, indent=1))
    if args.out:
        with open(args.out, "w") as f:
            json.dump(out, f, indent=1)


class CheckerLoad:
    """directord's health checker (bench/health/health_runner, the daemon's
    libddhealth) checking N_ADDRS x N_PORTS real servers every second, tcp,
    against bench/health/rs_server, both in a namespace of their own
    (203.0.113.0/24 on one end of a veth pair; the kernel has no dummy). The host has no IPVS, so the
    directors in the lab cannot run checks themselves (a director with
    services refuses to start without IPVS); this is the same checker code
    loading the same machine. bench/reload measures checks inside the
    director, on real IPVS in the guest."""

    def __init__(self, n_addrs, n_ports):
        self.lab = hbnet.nslab.Lab("hl" + os.urandom(3).hex())
        self.dir = self.lab.dir
        try:
            self._start(n_addrs, n_ports)
        except Exception:
            self.close()
            raise

    def _start(self, n_addrs, n_ports):
        build = os.path.dirname(os.path.dirname(os.path.abspath(hbnet.DIRECTORD)))
        ns = self.lab.netns("load")
        hbnet.nslab.ip_batch(ns, ["link add d0 type veth peer name d1", "link set d1 up", "link set d0 up"]
                             + [f"addr add 203.0.113.{101 + i}/24 dev d0" for i in range(n_addrs)])
        ns.run("sysctl", "-qw", "net.ipv4.ip_local_port_range=10000 65000", "net.core.somaxconn=4096")
        rs = ns.spawn(os.path.join(build, "bench/health/rs_server"),
                      "203.0.113.101", str(n_addrs), "20000", str(n_ports), "1000", name="rs_server")
        wait_for(lambda: "RS READY" in rs.log(), 10, "rs_server")
        conf = os.path.join(self.dir, "checks.conf")
        with open(conf, "w") as f:
            f.write("service load\ncheck type=tcp interval=1000 timeout=900 rise=1 fall=3 initial=up\n"
                    f"rs_grid 203.0.113.101 {n_addrs} 20000 {n_ports}\n")
        self.out = os.path.join(self.dir, "checker.out")
        with open(self.out, "w") as f:
            ns.popen(os.path.join(build, "bench/health/health_runner"), "-q", "-s", "10", conf,
                     stdout=f, stderr=subprocess.DEVNULL)
        self.n = n_addrs * n_ports

    def probes_per_s(self):
        """Probes started per second over the run, from the checker's STATS
        lines (one per 10 s window, each counting its own window)."""
        started = [int(m) for m in re.findall(r"started=(\d+)", open(self.out).read())]
        return round(statistics.mean(started) / 10.0) if started else 0

    def close(self):
        self.lab.close()


def cmd_soak(args):
    labs = {}
    load = None
    try:
        for prof in args.profiles.split(","):
            interval, dead = (int(x) for x in prof.split("/"))
            name = f"{interval}/{dead}"
            labs[name] = hbnet.Lab()
            start_pair(labs[name], "directord", dict(interval=interval, dead=dead))
        base = {n: len(re.findall(r"cluster web: \w+ -> ", l.log("lb1") + l.log("lb2"))) for n, l in labs.items()}
        if args.checks:
            load = CheckerLoad(*(int(x) for x in args.checks.split("x")))
        st = stress(args.seconds)
        t0 = time.monotonic()
        try:
            st.wait()
        finally:
            if st.poll() is None:
                st.terminate()
                st.wait()
        elapsed = time.monotonic() - t0
        out = {"seconds": round(elapsed), "stress": "stress-ng --cpu 2 --io 2"}
        if load:
            out["health-checks"] = f"{load.n} tcp checks every second"
            out["health-probes-per-s"] = load.probes_per_s()
        for n, l in labs.items():
            text = l.log("lb1") + l.log("lb2")
            out[f"{n}-role-changes"] = len(re.findall(r"cluster web: \w+ -> ", text)) - base[n]
            out[f"{n}-link-down-warnings"] = len(re.findall(r"heartbeat link \d .* down", text))
            out[f"{n}-still-lb1-active"] = l.has_vip("lb1") and not l.has_vip("lb2")
    finally:
        if load:
            load.close()
        for l in labs.values():
            l.close()
    print(json.dumps(out, indent=1))
    if args.out:
        with open(args.out, "w") as f:
            json.dump(out, f, indent=1)


def main():
    ap = argparse.ArgumentParser()
    sub = ap.add_subparsers(dest="cmd", required=True)
    g = sub.add_parser("gap")
    g.add_argument("--runs", type=int, default=5)
    g.add_argument("--out")
    g.add_argument("--extra", help="more directord profiles, interval/dead, comma-separated")
    j = sub.add_parser("jitter")
    j.add_argument("--seconds", type=int, default=60)
    j.add_argument("--checks", default="20x250", help="health-check load with the stress, ADDRSxPORTS ('' for none)")
    j.add_argument("--out")
    s = sub.add_parser("soak")
    s.add_argument("--seconds", type=int, default=600)
    s.add_argument("--profiles", default="50/200,5/15", help="interval/dead pairs, comma-separated")
    s.add_argument("--checks", default="20x250", help="health-check load during the soak, ADDRSxPORTS ('' for none)")
    s.add_argument("--out")
    args = ap.parse_args()
    {"gap": cmd_gap, "jitter": cmd_jitter, "soak": cmd_soak}[args.cmd](args)


if __name__ == "__main__":
    main()
