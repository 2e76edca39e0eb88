#!/usr/bin/python3
# SPDX-License-Identifier: GPL-2.0-or-later
"""bench/ecmp/bench.py: ECMP withdrawal time (issue 14) as the router sees
it, directord + BIRD 2 against ExaBGP 4.2 with its bundled healthcheck, in
the same run on the same router (host kernel, namespaces; the ECMP site of
tests/lab/ecmplab.py).

Three directord directors (lb1..lb3: directord in ECMP mode, its tun device,
BIRD 2 exporting the VIP over BGP with BFD) and three ExaBGP directors
(ex1..ex3: `python3 -m exabgp healthcheck --withdraw-on-down`, no BFD:
ExaBGP has none) announce the same VIP 192.0.2.100/32 to one router BIRD,
which installs one ECMP route with six next hops. For every fault the time
is from the fault to the kernel route event (rtnetlink, RTM_NEWROUTE /
RTM_DELROUTE, read by a thread of this process in the router's namespace,
one clock) after which the victim's next hop is no longer in the route:

  kill    the director's daemon gets SIGKILL (directord alone, its BIRD
          stays; ExaBGP with its healthcheck)
  link    the director's switch port goes down (BFD 3 x interval for
          directord's BIRD; the BGP hold time for ExaBGP)
  rs      all three real servers die at once (SIGKILL of their server; a
          connect then gets RST): every director of both kinds sees it, so
          each event gives six samples (check interval x fall)
  drain   `directorctl drain-director` against the ExaBGP healthcheck's
          `--disable FILE` (touched), its documented maintenance switch

Faults alternate between the two kinds, victims rotate, and every fault
waits first until all six next hops are in the route (and the victim's BFD
session is up). The host kernel has no IPVS: directord runs with
DIRECTORD_TEST_IPVS=model (its in-memory IPVS table, directord/ipvs_model.c;
health checks, quorum and announcements are the real ones).

    bench.py [--reps 10] [--bfd-ms 20] [--check-ms 200] [--fall 3]
             [--faults kill,link,rs,drain] [--out results.json]

Run as root. Uses $DIRECTORD and $DIRECTORCTL (a build without sanitizers
for figures; bench/ecmp/run.sh sets them).
"""
import argparse
import ctypes
import json
import os
import signal
import socket
import statistics
import struct
import subprocess
import sys
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "..", "tests", "lab"))
import ecmplab  # noqa: E402
import nslab as labmod  # noqa: E402
from ecmplab import VIP, PORT, RS, ROUTER, ROUTER_AS, DIRECTOR_AS  # noqa: E402
from nslab import poll  # noqa: E402

LB = ["lb1", "lb2", "lb3"]
EX = ["ex1", "ex2", "ex3"]

# ---------------------------------------------------------------- netlink --

RTMGRP_IPV4_ROUTE = 0x40
RTM_NEWROUTE, RTM_DELROUTE = 24, 25
RTA_DST, RTA_GATEWAY, RTA_MULTIPATH = 1, 5, 9
CLONE_NEWNET = 0x40000000


def socket_in_netns(netns, *args):
    """A socket created inside `netns` (it stays there); this thread returns
    to its own namespace."""
    libc = ctypes.CDLL(None, use_errno=True)
    cur = os.open("/proc/self/ns/net", os.O_RDONLY)
    tgt = os.open(f"/run/netns/{netns}", os.O_RDONLY)
    try:
        if libc.setns(tgt, CLONE_NEWNET) != 0:
            raise OSError(ctypes.get_errno(), f"setns {netns}")
        return socket.socket(*args)
    finally:
        libc.setns(cur, CLONE_NEWNET)
        os.close(cur)
        os.close(tgt)


def _attrs(buf):
    off = 0
    while off + 4 <= len(buf):
        ln, ty = struct.unpack_from("HH", buf, off)
        if ln < 4:
            break
        yield ty, buf[off + 4:off + ln]
        off += (ln + 3) & ~3


def parse_route(msg_type, body):
    """(dst, prefix length, gateways) of an rtnetlink route message."""
    family, dst_len = body[0], body[1]
    dst, gws = None, set()
    for ty, val in _attrs(body[12:]):
        if ty == RTA_DST and family == socket.AF_INET:
            dst = socket.inet_ntoa(val)
        elif ty == RTA_GATEWAY and family == socket.AF_INET:
            gws.add(socket.inet_ntoa(val))
        elif ty == RTA_MULTIPATH:
            off = 0
            while off + 8 <= len(val):
                ln = struct.unpack_from("H", val, off)[0]
                for t2, v2 in _attrs(val[off + 8:off + ln]):
                    if t2 == RTA_GATEWAY:
                        gws.add(socket.inet_ntoa(v2))
                off += (ln + 3) & ~3
                if ln < 8:
                    break
    return dst, dst_len, gws


class RouteWatch:
    """Every change of the router's kernel route to the VIP, timestamped
    (time.monotonic) as this thread receives it: [(t, set of gateways)]."""

    def __init__(self, netns):
        self.sock = socket_in_netns(netns, socket.AF_NETLINK, socket.SOCK_RAW, socket.NETLINK_ROUTE)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4 << 20)
        self.sock.bind((0, RTMGRP_IPV4_ROUTE))
        self.events = []
        self.lock = threading.Lock()
        self.stop = False
        self.th = threading.Thread(target=self.loop, daemon=True)
        self.th.start()

    def loop(self):
        self.sock.settimeout(0.5)
        while not self.stop:
            try:
                data = self.sock.recv(1 << 16)
            except socket.timeout:
                continue
            t = time.monotonic()
            off = 0
            while off + 16 <= len(data):
                ln, ty = struct.unpack_from("IH", data, off)
                if ln < 16:
                    break
                if ty in (RTM_NEWROUTE, RTM_DELROUTE):
                    dst, plen, gws = parse_route(ty, data[off + 16:off + ln])
                    if dst == VIP and plen == 32:
                        with self.lock:
                            self.events.append((t, set() if ty == RTM_DELROUTE else gws))
                off += (ln + 3) & ~3

    def gone_at(self, addr, t0):
        """Time of the first route event after t0 without `addr`, or None."""
        with self.lock:
            for t, gws in self.events:
                if t >= t0 and addr not in gws:
                    return t
        return None

    def close(self):
        self.stop = True
        self.th.join(2)
        self.sock.close()


# ----------------------------------------------------------------- ExaBGP --

EXA_CONF = """process hc {{
  run {python} -m exabgp healthcheck --no-syslog --name {name} --cmd {check} --interval {interval} --fast-interval {interval} --rise 1 --fall {fall} --timeout 1 --disable {disable} --ip {vip}/32 --no-ip-setup --withdraw-on-down --up-metric 0;
  encoder text;
}}
neighbor {router} {{
  router-id {addr};
  local-address {addr};
  local-as {las};
  peer-as {ras};
  hold-time {hold};
  api services {{ processes [ hc ]; }}
}}
"""

# Succeeds when any real server accepts a TCP connection: the ExaBGP
# counterpart of directord's quorum of 1 over per-server TCP checks.
CHECK_SH = """#!/bin/bash
for a in {rs}; do (exec 3<>/dev/tcp/$a/{port}) 2>/dev/null && exit 0; done
exit 1
"""


class Bench:
    def __init__(self, lab, args):
        self.lab, self.args = lab, args
        self.rs_log = []
        self.site = ecmplab.Site(lab, directors=LB + EX, bfd=(args.bfd_ms, 3), hold_s=args.hold_s)
        s = self.site
        s.start_all_echod()
        s.start_router([(n, s.addr[n], n in LB) for n in LB + EX])
        self.check = os.path.join(lab.dir, "check.sh")
        with open(self.check, "w") as f:
            f.write(CHECK_SH.format(rs=" ".join(RS), port=PORT))
        os.chmod(self.check, 0o755)
        for n in LB:
            s.start_director_bird(n)
            self.start_directord(n)
        for n in EX:
            self.start_exabgp(n)
        self.watch = RouteWatch(s.router.name)
        self.all_up(timeout=120)

    # ---- daemons -----------------------------------------------------------
    def start_directord(self, n):
        env = {"DIRECTORD_TEST_IPVS": "model"}
        s = self.site
        conf = s.directord_conf(n, check_ms=self.args.check_ms, fall=self.args.fall,
                                timeout_ms=self.args.check_ms // 2)
        p = s.lb[n].spawn(*labmod.directord_argv(self.lab, n, conf), name=f"directord-{n}", env=env,
                          log=os.path.join(self.lab.dir, f"directord-{n}.log"))
        s.daemons[n] = p
        return p

    def start_exabgp(self, n):
        s = self.site
        conf = os.path.join(self.lab.dir, f"exabgp-{n}.conf")
        with open(conf, "w") as f:
            f.write(EXA_CONF.format(python="/usr/bin/python3", name=n, check=self.check,
                                    interval=self.args.check_ms / 1000.0, fall=self.args.fall,
                                    disable=self.disable_file(n), vip=VIP, router=ROUTER, addr=s.addr[n],
                                    las=DIRECTOR_AS, ras=ROUTER_AS, hold=self.args.hold_s))
        env = {"exabgp.daemon.user": "root", "exabgp.daemon.daemonize": "false",
               "exabgp.daemon.drop": "false", "exabgp.log.destination": "stdout",
               "exabgp.api.cli": "false", "exabgp.tcp.bind": "", "exabgp.tcp.connections": "0",
               "exabgp.daemon.pid": os.path.join(self.lab.dir, f"exabgp-{n}.pid")}
        p = s.lb[n].spawn("/usr/sbin/exabgp", conf, name=f"exabgp-{n}", env=env,
                          log=os.path.join(self.lab.dir, f"exabgp-{n}.log"))
        s.daemons[n] = p
        return p

    def disable_file(self, n):
        return os.path.join(self.lab.dir, f"exabgp-{n}.disabled")

    # ---- state -------------------------------------------------------------
    def all_up(self, timeout=60, bfd_for=None):
        self.site.wait_nexthops(LB + EX, timeout)
        if bfd_for in LB:
            addr = self.site.addr[bfd_for]
            poll(lambda: any(addr in ln and " Up " in ln
                             for ln in self.site.birdc("rt", "show", "bfd", "sessions").splitlines()),
                 timeout=timeout, what=f"the router's BFD session to {bfd_for}")

    def measure(self, victims, t0, timeout=30):
        """ms from t0 until each victim's next hop left the route."""
        out = {}
        for n in victims:
            addr = self.site.addr[n]
            t = poll(lambda: self.watch.gone_at(addr, t0), timeout=timeout, interval=0.01,
                     what=f"{n}'s next hop to leave the router's route")
            out[n] = round((t - t0) * 1000.0, 1)
        return out

    # ---- faults ------------------------------------------------------------
    def fault_kill(self, n):
        p = self.site.daemons[n]
        t0 = time.monotonic()
        os.killpg(p.pid, signal.SIGKILL)
        r = self.measure([n], t0)
        p.popen.wait(10)
        (self.start_directord if n in LB else self.start_exabgp)(n)
        return r

    def fault_link(self, n):
        port = self.site.ports[n]
        t0 = time.monotonic()
        labmod.run(["ip", "link", "set", port, "down"])
        try:
            r = self.measure([n], t0, timeout=60)
        finally:
            labmod.run(["ip", "link", "set", port, "up"])
        return r

    def fault_rs(self):
        procs = list(self.site.echod.values())
        t0 = time.monotonic()
        for p in procs:
            os.killpg(p.pid, signal.SIGKILL)
        wall = time.time()
        r = self.measure(LB + EX, t0)
        for p in procs:
            p.popen.wait(10)
        # What each directord's checker said in the 2 s before the fault
        # and since (an early withdrawal means failures before the fault).
        self.rs_log.append({"wall": wall, "lines": {n: self.health_lines(n, wall - 2.0) for n in LB}})
        self.site.start_all_echod()
        return r

    def health_lines(self, n, since):
        day = time.strftime("%Y-%m-%d ", time.localtime(since))
        out = []
        for line in self.site.daemons[n].log().splitlines()[-200:]:
            try:
                t = time.mktime(time.strptime(day + line[:8], "%Y-%m-%d %H:%M:%S")) + float(line[8:12])
            except ValueError:
                continue
            if t >= since and ("real server" in line or "quorum" in line or "ecmp" in line):
                out.append(line)
        return out

    def fault_drain(self, n):
        if n in LB:
            sock = os.path.join(self.lab.dir, f"{n}.sock")
            argv = self.site.lb[n].argv([labmod.directorctl_bin(), "-s", sock, "drain-director"])
            t0 = time.monotonic()
            p = subprocess.run(argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
            r = self.measure([n], t0)
            assert p.returncode == 0, p.stdout
            r2 = self.site.ctl(n, "undrain-director")
            assert r2.returncode == 0, r2.stdout + r2.stderr
        else:
            t0 = time.monotonic()
            open(self.disable_file(n), "w").close()
            r = self.measure([n], t0)
            os.unlink(self.disable_file(n))
        return r

    def run(self, faults, reps):
        samples = {f: {"directord": [], "exabgp": []} for f in faults}
        log = []
        for rep in range(reps):
            for f in faults:
                if f == "rs":
                    self.all_up()
                    r = self.fault_rs()
                    log.append({"rep": rep, "fault": f, "ms": r})
                    for n, ms in r.items():
                        samples[f]["directord" if n in LB else "exabgp"].append(ms)
                    print(f"rep {rep + 1}/{reps} rs: {r}", flush=True)
                    continue
                for kind, names in (("directord", LB), ("exabgp", EX)):
                    n = names[rep % 3]
                    self.all_up(bfd_for=n if f == "link" else None)
                    r = getattr(self, f"fault_{f}")(n)
                    log.append({"rep": rep, "fault": f, "ms": r})
                    samples[f][kind].append(r[n])
                    print(f"rep {rep + 1}/{reps} {f} {n}: {r[n]} ms", flush=True)
        return samples, log


def summarise(samples):
    out = {}
    for f, by in samples.items():
        row = {}
        for kind, v in by.items():
            row[kind] = {"n": len(v), "median_ms": statistics.median(v) if v else None,
                         "min_ms": min(v) if v else None, "max_ms": max(v) if v else None, "runs_ms": v}
        d, e = row["directord"]["median_ms"], row["exabgp"]["median_ms"]
        row["ratio"] = round(d / e, 4) if d is not None and e else None
        out[f] = row
    return out


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--reps", type=int, default=10)
    ap.add_argument("--bfd-ms", type=int, default=20)
    ap.add_argument("--hold-s", type=int, default=3)
    ap.add_argument("--check-ms", type=int, default=200)
    ap.add_argument("--fall", type=int, default=3)
    ap.add_argument("--faults", default="kill,link,rs,drain")
    ap.add_argument("--out")
    args = ap.parse_args()
    faults = args.faults.split(",")
    lab = labmod.Lab()
    b = None
    try:
        b = Bench(lab, args)
        samples, log = b.run(faults, args.reps)
    except BaseException:
        if b:
            b.site.dump(sys.stderr)
        raise
    finally:
        if b:
            b.watch.close()
        lab.close()
    res = {"params": vars(args), "summary": summarise(samples), "log": log, "rs_health_log": b.rs_log,
           "load": open("/proc/loadavg").read().split()[:3], "time": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())}
    for f, row in res["summary"].items():
        d, e = row["directord"], row["exabgp"]
        print(f"{f:6s} directord median {d['median_ms']} ms (n={d['n']})  exabgp median {e['median_ms']} ms "
              f"(n={e['n']})  ratio {row['ratio']}", flush=True)
    if args.out:
        with open(args.out, "w") as f:
            json.dump(res, f, indent=1)


if __name__ == "__main__":
    main()
