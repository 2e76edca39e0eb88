#!/usr/bin/python3
# SPDX-License-Identifier: GPL-2.0-or-later
"""bench/keepalive/run.py: do SNMP walks (also against a stopped snmpd) and
status/metrics scrapes delay the active director's keepalives? (project
brief: "slow work never delays a keepalive ... SNMP, status scrapes: prove
it with a measurement"; bench/reload does the same for reloads.)

Host kernel, as root, from the top build folder (a non-sanitizer build
with --enable-snmp):

    /usr/bin/python3 ../../bench/keepalive/run.py [--phase 30] [--json FILE]

The heartbeat pair of tests/net/hbnet.py (lb1 active, priority 150; lb2
standby; interval_ms 50, dead_ms 200, two links: eth0 front, eth1 hb2),
each with a private snmpd (AgentX master) and snmptrapd (nslab.Snmpd).
lb1 has one service with --rs-addrs x --rs-ports real servers (20 x 250 =
5000) on a namespace "rs" of the front segment (bench/health/rs_server,
TCP accept and close), TCP-checked every --check-ms (1000) through
DIRECTORD_TEST_IPVS=model (the in-memory IPVS table: the host has no
IPVS), so that status, metrics and the MIB's real-server table are large.

At lb2 (the standby), tcpdump captures lb1's keepalives on both links
(kernel time stamps, pcap), and on eth1 also lb2's own (the control: lb2
does none of the work, so a late lb2 at the same moment is the machine).
Phases of --phase seconds each, in this order:
  quiet    nothing but the checks;
  walk     snmpbulkwalk of the whole DIRECTORD-MIB against lb1's snmpd, in
           a loop (one walk after the other);
  stopped  lb1's snmpd SIGSTOPped for the first 2/3 of the phase while
           walks with a 1 s timeout keep trying (the subagent's thread
           blocks in net-snmp on the master that never answers), then
           SIGCONT and walks until the phase ends;
  scrape   `directorctl status --json` and GET /metrics alternately, one
           after the other, at most --scrapes of each;
  all      walk + scrape loops together, snmpd SIGSTOPped for the middle
           third of the phase.
Per phase and link: keepalive intervals (count, median, p99, max, number
over 100 ms = 2 x interval), sequence gaps (keepalives lost, not late),
role changes of either director (must be 0), lb1's "heartbeat thread ran N
ms late" notices; the main loop's side: the checks' timer slip as the real
servers see it (rs_server, p50/p99/max), the scrapes' and walks' round
trips. Writes the raw keepalive times (CSV) and the result (JSON) with
--out DIR.
"""
import argparse
import json
import os
import re
import signal
import struct
import subprocess
import sys
import threading
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "tests", "net"))
import hbnet  # noqa: E402
from hbnet import ctl, nslab, wait_for  # noqa: E402

INTERVAL_MS, DEAD_MS = 50, 200
HB_PORT = 7694
METRICS = "127.0.0.1:9469"
RS_BASE, RS_PORT = 201, 20000     # real servers 192.0.2.201.. : 20000..
ROLE = re.compile(r"cluster web: \S+ -> \S+")
LATE = re.compile(r"heartbeat thread ran (\d+) ms late")
PHASES = ("quiet", "walk", "stopped", "scrape", "all")


def services(n_addrs, n_ports, check_ms):
    rss = ",\n".join(f'{{ address = "192.0.2.{RS_BASE + a}"; port = {RS_PORT + p}; }}'
                     for a in range(n_addrs) for p in range(n_ports))
    return f"""services = ( {{
    name = "bench"; protocol = "tcp"; address = "{hbnet.VIP4}"; port = 80; forward = "dr";
    check = {{ type = "tcp"; interval_ms = {check_ms}; timeout_ms = {check_ms * 9 // 10};
              rise = 1; fall = 3; initial = "up"; }};
    real_servers = ( {rss} );
  }} );"""


# ---- pcap of the keepalives -------------------------------------------------

def read_pcap(path):
    """[(time, src, seq, type)] of every DDHB packet in a tcpdump -w file
    (Ethernet, IPv4, UDP)."""
    out = []
    with open(path, "rb") as f:
        data = f.read()
    if len(data) < 24:
        return out
    magic = struct.unpack("<I", data[:4])[0]
    e = "<" if magic in (0xa1b2c3d4, 0xa1b23c4d) else ">"
    scale = 1e-9 if struct.unpack(e + "I", data[:4])[0] == 0xa1b23c4d else 1e-6
    off = 24
    while off + 16 <= len(data):
        sec, frac, incl, _ = struct.unpack(e + "IIII", data[off:off + 16])
        pkt = data[off + 16:off + 16 + incl]
        off += 16 + incl
        if len(pkt) < 14 + 20 + 8 + 24 or pkt[12:14] != b"\x08\x00":
            continue
        ihl = (pkt[14] & 15) * 4
        src = ".".join(str(b) for b in pkt[26:30])
        udp = pkt[14 + ihl:]
        body = udp[8:]
        if body[:4] != b"DDHB":
            continue
        seq = struct.unpack(">Q", body[16:24])[0]
        out.append((sec + frac * scale, src, seq, body[5]))
    return out


def pct(xs, p):
    xs = sorted(xs)
    if not xs:
        return None
    k = min(len(xs) - 1, max(0, int(round(p / 100.0 * (len(xs) - 1)))))
    return round(xs[k], 2)


def interval_stats(pkts, t0, t1):
    """pkts: [(time, seq)] of one sender on one link, in time order."""
    w = [(t, s) for t, s in pkts if t0 <= t <= t1]
    iv = [(b[0] - a[0]) * 1000.0 for a, b in zip(w, w[1:])]
    return {"keepalives": len(w), "intervals": len(iv), "median_ms": pct(iv, 50), "p99_ms": pct(iv, 99),
            "max_ms": round(max(iv), 2) if iv else None, "min_ms": round(min(iv), 2) if iv else None,
            "over_100ms": sum(1 for x in iv if x > 2 * INTERVAL_MS),
            "late": [[round(a[0], 3), round((b[0] - a[0]) * 1000.0, 1)] for a, b in zip(w, w[1:])
                     if (b[0] - a[0]) * 1000.0 > 2 * INTERVAL_MS]}


# ---- CPU time per thread ------------------------------------------------------

TICK = os.sysconf("SC_CLK_TCK")


def cpu_threads(pid):
    """{tid: (name, CPU seconds)} of every thread of `pid`."""
    out = {}
    try:
        tids = os.listdir(f"/proc/{pid}/task")
    except FileNotFoundError:
        return out
    for tid in tids:
        try:
            with open(f"/proc/{pid}/task/{tid}/stat") as f:
                st = f.read()
        except FileNotFoundError:
            continue
        name = st[st.index("(") + 1:st.rindex(")")]
        fields = st[st.rindex(")") + 2:].split()
        out[int(tid)] = (name, (int(fields[11]) + int(fields[12])) / TICK)
    return out


def cpu_machine():
    """(busy, total) CPU seconds of the whole machine, from /proc/stat."""
    with open("/proc/stat") as f:
        v = [int(x) for x in f.readline().split()[1:]]
    return (sum(v) - v[3] - v[4]) / TICK, sum(v) / TICK


def cpu_snapshot(procs):
    return {"threads": {k: cpu_threads(p) for k, p in procs.items()}, "machine": cpu_machine()}


def cpu_delta(a, b, lb1_pid):
    """CPU seconds spent between two snapshots: lb1 by thread (main = the
    thread whose id is the pid; dd-heartbeat; the others: the SNMP and
    render threads), the other processes in total, the machine's busy share."""
    out = {}
    for k, th in b["threads"].items():
        d = {tid: c - a["threads"].get(k, {}).get(tid, (n, 0.0))[1] for tid, (n, c) in th.items()}
        if k == "lb1":
            out["lb1_main"] = round(d.get(lb1_pid, 0.0), 2)
            out["lb1_heartbeat"] = round(sum(v for t, v in d.items() if th[t][0] == "dd-heartbeat"), 2)
            out["lb1_other_threads"] = round(sum(v for t, v in d.items()
                                                 if t != lb1_pid and th[t][0] != "dd-heartbeat"), 2)
        else:
            out[k] = round(sum(d.values()), 2)
    busy, total = (y - x for x, y in zip(a["machine"], b["machine"]))
    out["machine_busy_pct"] = round(100.0 * busy / total, 1) if total else None
    return out


# ---- load generators ---------------------------------------------------------

class Loop(threading.Thread):
    """Runs `once()` again and again until stopped or `limit` runs; keeps
    (start, seconds, ok, size) of each."""

    def __init__(self, once, limit=None):
        super().__init__(daemon=True)
        self.once, self.limit, self.stop_ev, self.runs = once, limit, threading.Event(), []

    def run(self):
        while not self.stop_ev.is_set() and (self.limit is None or len(self.runs) < self.limit):
            t0 = time.time()
            ok, size = self.once()
            self.runs.append((t0, time.time() - t0, ok, size))

    def stop(self):
        self.stop_ev.set()
        self.join(timeout=60)

    def summary(self, kind=None):
        rs = self.runs
        d = [r[1] * 1000.0 for r in rs if r[2]]
        return {"runs": len(rs), "ok": len(d), "failed": len(rs) - len(d),
                "ms_median": pct(d, 50), "ms_p99": pct(d, 99), "ms_max": round(max(d), 1) if d else None,
                "size_last": next((r[3] for r in reversed(rs) if r[2]), None)}


def walker(snmp, timeout):
    argv = snmp.bulkwalk_argv(timeout=timeout)

    def once():
        r = subprocess.run(argv, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, timeout=120)
        n = r.stdout.count(b"\n")
        return r.returncode == 0 and n > 0, n
    return once


def scraper(lab, lb1):
    turn = [0]
    curl = lb1.argv(["curl", "-s", "-f", "-o", "-", f"http://{METRICS}/metrics"])

    def once():
        turn[0] += 1
        if turn[0] % 2:
            r = ctl(lab, "lb1", "status", "--json")
            return r.returncode == 0, len(r.stdout)
        r = subprocess.run(curl, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, timeout=30)
        return r.returncode == 0, len(r.stdout)
    return once


def split(loop):
    """Status and metrics runs of a scraper loop, apart."""
    st, me = Loop(None), Loop(None)
    for i, r in enumerate(loop.runs):
        (st if i % 2 == 0 else me).runs.append(r)
    return {"status_json": st.summary(), "metrics": me.summary()}


# ---- the run -------------------------------------------------------------------

def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--phase", type=float, default=30.0, help="seconds per phase")
    ap.add_argument("--rs-addrs", type=int, default=20)
    ap.add_argument("--rs-ports", type=int, default=250)
    ap.add_argument("--check-ms", type=int, default=1000)
    ap.add_argument("--scrapes", type=int, default=5000, help="at most this many of each per phase")
    ap.add_argument("--settle", type=float, default=10.0)
    ap.add_argument("--out", help="folder for the raw keepalive times and the JSON")
    ap.add_argument("--label", default="run")
    a = ap.parse_args()
    n_rs = a.rs_addrs * a.rs_ports
    t_start = time.monotonic()
    lab = hbnet.Lab()
    try:
        rs = lab.netns("rs")
        lab.connect(rs, lab.bridges["front"], [f"192.0.2.{RS_BASE + i}/24" for i in range(a.rs_addrs)],
                    bridge_ns=lab.hosts["sw"])
        rs.run("sysctl", "-qw", "net.core.somaxconn=4096", "net.ipv4.tcp_max_syn_backlog=8192")
        lab.hosts["lb1"].run("sysctl", "-qw", "net.ipv4.ip_local_port_range=10000 65000",
                             "net.ipv4.tcp_tw_reuse=1")
        rss = rs.spawn(os.path.join(nslab.build_dir(), "bench", "health", "rs_server"),
                       f"192.0.2.{RS_BASE}", str(a.rs_addrs), str(RS_PORT), str(a.rs_ports),
                       str(a.check_ms), name="rs_server")
        wait_for(lambda: "RS READY" in rss.log(), 10, "rs_server to listen")
        s1, s2 = lab.snmpd("lb1"), lab.snmpd("lb2")
        env = {"DIRECTORD_TEST_IPVS": "model"}
        lb1 = lab.start("lb1", 150, snmp=s1, env=env, extra=services(a.rs_addrs, a.rs_ports, a.check_ms),
                        control=f' metrics_listen = "{METRICS}";')
        wait_for(lambda: lab.has_vip("lb1"), 30, "lb1 to become active")
        lb2 = lab.start("lb2", 100, snmp=s2, env=env)
        wait_for(lambda: lab.snmp_connected("lb1") and lab.snmp_connected("lb2"), 30, "both subagents")
        wait_for(lambda: "ddClusterRole.1 = INTEGER: standby(2)" in s2.walk(), 15, "lb2 standby")
        h1 = lab.hosts["lb1"]
        wait_for(lambda: h1.run("curl", "-s", "-f", "-o", "/dev/null", f"http://{METRICS}/metrics",
                                check=False).returncode == 0, 15, "lb1's metrics listener")
        print(f"# pair up with {n_rs} real servers after {time.monotonic() - t_start:.1f} s", flush=True)
        time.sleep(a.settle)   # first rounds of checks; not a wait for a condition

        h2 = lab.hosts["lb2"]
        caps = {}
        for ifname, filt in (("eth0", f"udp and dst port {HB_PORT} and src {hbnet.ADDR['lb1'][0]}"),
                             ("eth1", f"udp and dst port {HB_PORT}")):
            path = os.path.join(lab.dir, f"ka-{ifname}.pcap")
            p = h2.popen("tcpdump", "-i", ifname, "-n", "-U", "-s", "256", "-w", path, filt,
                         stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
            wait_for(lambda: "listening" in (p.stderr.readline() or ""), 10, "tcpdump to start")
            caps[ifname] = (p, path)
        log_off = {n: len(lab.log(n)) for n in ("lb1", "lb2")}
        rss.signal(signal.SIGUSR1)   # the real servers' figures start here
        time.sleep(0.5)

        # (fraction of the phase, signal to lb1's snmpd)
        events = {"stopped": [(0.0, signal.SIGSTOP), (2 / 3, signal.SIGCONT)],
                  "all": [(1 / 3, signal.SIGSTOP), (2 / 3, signal.SIGCONT)]}
        hb_policy = [int(open(f"/proc/{lb1.pid}/task/{t}/stat").read().rsplit(")", 1)[1].split()[38])
                     for t, (n, _) in cpu_threads(lb1.pid).items() if n == "dd-heartbeat"]
        cpu_procs = {"lb1": lb1.pid, "lb1_snmpd": s1.snmpd.pid, "rs_server": rss.pid, "lb2": lb2.pid}
        phases, rs_lines = {}, 1   # report 1: the reset before the phases
        for name in PHASES:
            print(f"# phase {name} ({a.phase:.0f} s)", flush=True)
            ph = {"t0": time.time(), "signals": []}
            cpu0 = cpu_snapshot(cpu_procs)
            loops = {}
            if name in ("walk", "stopped", "all"):
                loops["walks"] = Loop(walker(s1, 1 if name in ("stopped", "all") else 5))
            if name in ("scrape", "all"):
                loops["scrapes"] = Loop(scraper(lab, h1), limit=2 * a.scrapes)
            for lp in loops.values():
                lp.start()
            for frac, sig in events.get(name, []):
                time.sleep(max(0.0, ph["t0"] + frac * a.phase - time.time()))
                s1.snmpd.signal(sig)
                ph["signals"].append([signal.Signals(sig).name, round(time.time() - ph["t0"], 2)])
            time.sleep(max(0.0, ph["t0"] + a.phase - time.time()))
            ph["t1"] = time.time()
            ph["cpu_s"] = cpu_delta(cpu0, cpu_snapshot(cpu_procs), lb1.pid)
            for lp in loops.values():
                lp.stop()
            if "walks" in loops:
                ph["walks"] = loops["walks"].summary()
                cont = [x[1] for x in ph["signals"] if x[0] == "SIGCONT"]
                if cont:
                    tc = ph["t0"] + cont[0]
                    first = next((r for r in loops["walks"].runs if r[0] >= tc and r[2]), None)
                    ph["first_full_walk_after_sigcont_s"] = round(first[0] + first[1] - tc, 2) if first else None
            if "scrapes" in loops:
                ph.update(split(loops["scrapes"]))
            rss.signal(signal.SIGUSR1)
            st = lab.status("lb1")
            ph["lb1_snmp"] = st.get("snmp")
            ph["lb1_health_checker"] = st.get("health_checker")
            ph["rs"] = wait_for(lambda: rs_report(rss.log(), rs_lines + 1), 10, "rs_server's report")
            rs_lines += 1
            phases[name] = ph
            time.sleep(0.5)
        time.sleep(0.5)
        for p, _ in caps.values():
            p.terminate()
            p.wait(timeout=10)

        # ---- analysis ----
        pk = {ifname: read_pcap(path) for ifname, (_, path) in caps.items()}
        src = {"eth0": hbnet.ADDR["lb1"][0], "eth1": hbnet.ADDR["lb1"][1]}
        series = {f"lb1_{ifname}": [(t, q) for t, s, q, ty in pk[ifname] if s == src[ifname] and ty == 1]
                  for ifname in ("eth0", "eth1")}
        series["lb2_eth1_control"] = [(t, q) for t, s, q, ty in pk["eth1"] if s == hbnet.ADDR["lb2"][1] and ty == 1]
        logs = {n: lab.log(n)[log_off[n]:] for n in ("lb1", "lb2")}
        res = {"label": a.label, "real_servers": n_rs, "check_ms": a.check_ms, "interval_ms": INTERVAL_MS,
               "dead_ms": DEAD_MS, "phase_s": a.phase, "phases": {},
               "role_changes": {n: ROLE.findall(t) for n, t in logs.items()},
               "lb1_late_notices": [int(x) for x in LATE.findall(logs["lb1"])],
               "lb2_late_notices": [int(x) for x in LATE.findall(logs["lb2"])],
               "active_at_end": [n for n in ("lb1", "lb2") if lab.has_vip(n)],
               "lb1_heartbeat_sched_policy": {1: "SCHED_FIFO", 0: "SCHED_OTHER"}.get(
                   hb_policy[0], hb_policy[0]) if hb_policy else None,
               "loadavg_end": open("/proc/loadavg").read().split()[:3]}
        for name, ph in phases.items():
            ph = dict(ph)
            ph["keepalives"] = {k: interval_stats(v, ph["t0"], ph["t1"]) for k, v in series.items()}
            # lb1 numbers its keepalives across both links: a number seen on
            # neither link is a keepalive lost (or never sent), not late
            seqs = {q for k in ("lb1_eth0", "lb1_eth1") for t, q in series[k] if ph["t0"] <= t <= ph["t1"]}
            ph["lb1_seq_missing"] = (max(seqs) - min(seqs) + 1 - len(seqs)) if seqs else None
            ph["seconds"] = round(ph.pop("t1") - ph["t0"], 1)
            ph["t0"] = round(ph["t0"], 3)
            res["phases"][name] = ph
        res["wall_s"] = round(time.monotonic() - t_start, 1)
        report(res)
        if a.out:
            os.makedirs(a.out, exist_ok=True)
            with open(os.path.join(a.out, f"{a.label}.json"), "w") as f:
                json.dump(res, f, indent=1)
            with open(os.path.join(a.out, f"{a.label}-keepalives.csv"), "w") as f:
                f.write("series,time,seq\n")
                for k, v in series.items():
                    for t, q in v:
                        f.write(f"{k},{t:.6f},{q}\n")
    except Exception:
        for n in ("lb1", "lb2"):
            sys.stderr.write(f"--- {n} log (tail)\n" + lab.log(n)[-3000:] + "\n")
        raise
    finally:
        lab.close()


RS_LINE = re.compile(r"RS peer=(\S+) conns=(\d+) http=\d+ gaps=(\d+) slip_p50_ms=([\d.]+) "
                     r"slip_p99_ms=([\d.]+) slip_max_ms=([\d.]+)")


def rs_report(log, n):
    """The n-th report (1-based, each ended by "RS END") rs_server printed
    for lb1's checks, or None while it has not printed it."""
    blocks = log.split("RS END\n")
    if len(blocks) <= n:
        return None
    m = RS_LINE.search(blocks[n - 1])
    if not m:
        return {"checks": 0}
    return {"checks": int(m.group(2)), "slip_p50_ms": float(m.group(4)), "slip_p99_ms": float(m.group(5)),
            "slip_max_ms": float(m.group(6))}


def report(res):
    print(json.dumps(res, indent=1), flush=True)
    print(f"\n{res['label']}: {res['real_servers']} real servers checked every {res['check_ms']} ms; "
          f"keepalive every {INTERVAL_MS} ms, dead after {DEAD_MS} ms; load at the end {res['loadavg_end']}")
    print("\n| phase | series | intervals | median | p99 | max | > 100 ms |")
    print("|---|---|---|---|---|---|---|")
    for name, ph in res["phases"].items():
        for k, s in ph["keepalives"].items():
            print(f"| {name} | {k} | {s['intervals']} | {s['median_ms']} | {s['p99_ms']} | {s['max_ms']} | "
                  f"{s['over_100ms']} |")
    print("\nlb1 keepalive numbers missing on both links, per phase:",
          {n: ph["lb1_seq_missing"] for n, ph in res["phases"].items()})
    print("\n| phase | walks ok/failed, median / max s | status --json n, median / p99 / max ms | "
          "/metrics n, median / p99 / max ms | check slip at the servers p50 / p99 / max ms |")
    print("|---|---|---|---|---|")
    for name, ph in res["phases"].items():
        w = ph.get("walks")
        ws = (f"{w['ok']}/{w['failed']}, {w['ms_median'] and w['ms_median'] / 1000:.2f} / "
              f"{w['ms_max'] and w['ms_max'] / 1000:.2f}" if w and w["ok"] else (f"0/{w['failed']}" if w else "-"))
        cells = []
        for k in ("status_json", "metrics"):
            s = ph.get(k)
            cells.append(f"{s['ok']}, {s['ms_median']} / {s['ms_p99']} / {s['ms_max']}" if s else "-")
        r = ph["rs"]
        print(f"| {name} | {ws} | {cells[0]} | {cells[1]} | {r.get('slip_p50_ms')} / {r.get('slip_p99_ms')} / "
              f"{r.get('slip_max_ms')} ({r['checks']} checks) |")
    print("\nCPU seconds in each phase (lb1 by thread; main = the main loop; other = SNMP + render threads):")
    print("\n| phase | lb1 main | lb1 heartbeat | lb1 other threads | lb1's snmpd | rs_server | lb2 | machine busy |")
    print("|---|---|---|---|---|---|---|---|")
    for name, ph in res["phases"].items():
        c = ph["cpu_s"]
        print(f"| {name} | {c['lb1_main']} | {c['lb1_heartbeat']} | {c['lb1_other_threads']} | {c['lb1_snmpd']} | "
              f"{c['rs_server']} | {c['lb2']} | {c['machine_busy_pct']} % |")
    rc = {n: len(v) for n, v in res["role_changes"].items()}
    over = sum(s["over_100ms"] for ph in res["phases"].values()
               for k, s in ph["keepalives"].items() if k.startswith("lb1"))
    print(f"\nrole changes after the pair formed: {rc}; active at the end: {res['active_at_end']}; "
          f"lb1 'heartbeat thread ran late' notices: {res['lb1_late_notices']}; "
          f"lb1's heartbeat thread: {res['lb1_heartbeat_sched_policy']}")
    ok = over == 0 and sum(rc.values()) == 0 and res["active_at_end"] == ["lb1"]
    print("criterion (no lb1 keepalive interval > 100 ms on either link, no role change):",
          "MET" if ok else "NOT MET")


if __name__ == "__main__":
    main()
