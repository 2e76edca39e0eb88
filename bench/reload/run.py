#!/usr/bin/python3
# SPDX-License-Identifier: GPL-2.0-or-later
"""bench/reload/run.py: do keepalives keep flowing while the active director
reloads a large configuration? (issue 6: "slow work must never delay a
keepalive; prove it with a measurement").

Runs inside the QEMU guest (IPVS needed):

    tests/vm/run-in-guest --timeout 480 -- /usr/bin/python3 bench/reload/run.py

A DR pair from tests/lab/pairlab.py (lb1 active, lb2 standby), heartbeat
every 200 ms, peer dead after 2000 ms. Both configs are made large: besides
the lab's "echo" service, 1000 services on ports 10000..10999 of the VIP,
each with the 3 real servers and a TCP check every 1000 ms (to the real
servers' echod on port 7000), i.e. 4000 IPVS objects and 3000 checks a
second on each director.

lb1's keepalives on its back link (eth1, UDP to port 7694) are captured with
tcpdump -tt in lb1's namespace (kernel time stamps) during
  baseline  ~20 s of steady state;
  reloads   SIGHUP to lb1 every 2 s, 10 times, the config alternating
            between two versions that differ in the weights of 100
            services (300 real servers), so every reload parses the whole
            file and applies a real diff.
Prints, for each period, the intervals between consecutive keepalives and
their deviation from 200 ms (p50/p99/max), the same for lb2's keepalives
on that link (the control: lb2 does no reload, so a late lb2 at the same
moment means the whole guest stalled), every late interval of lb1, the number of reloads applied
("reload applied" in lb1's log) and the role changes of either director
after the pair formed ("cluster web: X -> Y"), which must be 0.
Criterion: no interval above 2x the configured one (no keepalive missed),
no role change.

Options: --services N (1000), --reloads N (10), --baseline S (20),
--every S (2), --json FILE.
"""
import argparse
import json
import os
import re
import signal
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "tests", "lab"))
import pairlab  # noqa: E402
from pairlab import labmod, poll  # noqa: E402

INTERVAL_MS = 200
DEAD_MS = 2000
BASE_PORT = 10000
CHANGED = 100          # services whose weights differ between the two configs
HB_PORT = 7694

PKT = re.compile(r"^(\d+\.\d+) IP (\S+)\.\d+ > (\S+)\.(\d+): UDP")
ROLE = re.compile(r"cluster web: \S+ -> ")


def big_services(site, n, variant):
    out = []
    for i in range(n):
        w = 2 if (variant and i < CHANGED) else 1
        rss = ", ".join(f'{{ address = "{a}"; weight = {w}; }}' for a in site.rs_addrs)
        out.append(f"""{{
    name = "s{BASE_PORT + i}"; protocol = "tcp"; address = "{pairlab.VIP}"; port = {BASE_PORT + i};
    scheduler = "wlc"; forward = "dr"; removal = "remove";
    check = {{ type = "tcp"; port = {pairlab.PORT}; interval_ms = 1000; timeout_ms = 750;
              rise = 1; fall = 2; initial = "up"; }};
    real_servers = ( {rss} );
  }}""")
    return ", ".join(out)


def enlarge(text, extra):
    """Appends `extra` services to the single-service list of a pairlab
    config."""
    tail = "\n  } );\n} );\n"
    assert text.endswith(tail), text[-200:]
    return text[: -len(tail)] + "\n  }, " + extra + " );\n} );\n"


def write_atomic(path, text):
    tmp = path + ".new"
    with open(tmp, "w") as f:
        f.write(text)
    os.rename(tmp, path)


def pct(xs, p):
    xs = sorted(xs)
    if not xs:
        return float("nan")
    k = min(len(xs) - 1, max(0, int(round(p / 100.0 * (len(xs) - 1)))))
    return xs[k]


def stats(times):
    iv = [(b - a) * 1000.0 for a, b in zip(times, times[1:])]
    dev = [abs(x - INTERVAL_MS) for x in iv]
    return {
        "packets": len(times), "intervals": len(iv),
        "dev_p50_ms": round(pct(dev, 50), 1), "dev_p99_ms": round(pct(dev, 99), 1),
        "dev_max_ms": round(max(dev), 1) if dev else None,
        "interval_min_ms": round(min(iv), 1) if iv else None,
        "interval_max_ms": round(max(iv), 1) if iv else None,
        "over_2x": sum(1 for x in iv if x > 2 * INTERVAL_MS),
    }


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--services", type=int, default=1000)
    ap.add_argument("--reloads", type=int, default=10)
    ap.add_argument("--baseline", type=float, default=20.0)
    ap.add_argument("--every", type=float, default=2.0)
    ap.add_argument("--json")
    a = ap.parse_args()
    for m in ("ip_vs", "ip_vs_wlc", "veth", "bridge"):
        labmod.run(["modprobe", m], check=False)

    t_start = time.monotonic()
    lab = labmod.Lab()
    site = None
    try:
        site = pairlab.Site(lab, "dr")
        site.start_echod()
        extra = {v: big_services(site, a.services, v) for v in (0, 1)}
        texts = {}
        orig_conf = site.directord_conf

        def conf(node, prio, **kw):
            path = orig_conf(node, prio, **kw)
            with open(path) as f:
                base = f.read()
            texts[node] = {v: enlarge(base, extra[v]) for v in (0, 1)}
            write_atomic(path, texts[node][0])
            return path

        site.directord_conf = conf
        lb1, lb2 = site.start_pair(interval_ms=INTERVAL_MS, dead_ms=DEAD_MS, check_ms=1000)
        conf1 = os.path.join(lab.dir, "lb1.conf")
        print(f"# config: {len(texts['lb1'][0])} bytes, {a.services + 1} services; "
              f"pair up after {time.monotonic() - t_start:.1f} s", flush=True)
        n_svc = poll(lambda: len(labmod.ipvs_services(site.lb["lb1"])), timeout=120, interval=1.0,
                     until=lambda n: n == a.services + 1, what="lb1 to program every service")
        print(f"# lb1 IPVS: {n_svc} services", flush=True)

        # Let the start-up settle (first checks, sync daemon) before measuring.
        time.sleep(5)
        log_off = {n: len(p.log()) for n, p in site.daemons.items()}
        reloads_before = lb1.log().count("reload applied")

        td = site.lb["lb1"].spawn("tcpdump", "-tt", "-n", "-l", "-i", "eth1",
                                  f"udp and dst port {HB_PORT}",
                                  name="tcpdump-lb1")
        poll(lambda: "listening on" in td.log(), timeout=30, what="tcpdump to start")
        time.sleep(1.0)

        t_base0 = time.time()
        time.sleep(a.baseline)
        t_base1 = time.time()

        t_rel0 = time.time()
        sent = []
        for i in range(a.reloads):
            t_next = t_rel0 + i * a.every
            time.sleep(max(0.0, t_next - time.time()))
            write_atomic(conf1, texts["lb1"][1 if i % 2 == 0 else 0])
            lb1.signal(signal.SIGHUP)
            sent.append(time.time())
        # The last reload's work falls within the window: wait one more period
        # and until every reload was applied.
        time.sleep(a.every)
        try:
            poll(lambda: lb1.log().count("reload applied") - reloads_before, timeout=60, interval=0.5,
                 until=lambda n: n >= a.reloads, what="every reload to be applied")
        except TimeoutError as e:
            print(f"# WARNING: {e}", flush=True)
        t_rel1 = time.time()
        time.sleep(1.0)
        td.stop()

        times, peer = [], []
        for line in td.log().splitlines():
            m = PKT.match(line)
            if m and int(m.group(4)) == HB_PORT:
                if m.group(2) == pairlab.LB_BACK["lb1"]:
                    times.append(float(m.group(1)))
                elif m.group(2) == pairlab.LB_BACK["lb2"]:
                    peer.append(float(m.group(1)))
        base = [t for t in times if t_base0 <= t <= t_base1]
        rel = [t for t in times if t_rel0 <= t <= t_rel1]
        # Every late keepalive, with what the peer (lb2, another process on
        # the same guest) did meanwhile: if lb2 fell silent too, the whole
        # guest stalled (TCG on a loaded host), not lb1's main loop.
        late = []
        for t0, t1 in zip(times, times[1:]):
            if t1 - t0 > 2 * INTERVAL_MS / 1000.0 and t_base0 <= t1 and t0 <= t_rel1:
                pw = [t for t in peer if t0 - 1 <= t <= t1 + 1]
                pg = max(((b - a) * 1000 for a, b in zip(pw, pw[1:])), default=None)
                hms = time.strftime("%H:%M:%S", time.gmtime(t0)) + f".{int(t0 * 1000) % 1000:03d}"
                late.append({"at": hms, "period": "baseline" if t1 <= t_base1 else "reloads",
                             "interval_ms": round((t1 - t0) * 1000, 1),
                             "lb2_longest_interval_around_ms": round(pg, 1) if pg else None,
                             "lb2_packets_in_gap": sum(1 for t in peer if t0 < t < t1)})
        applied = lb1.log().count("reload applied") - reloads_before
        roles = {n: ROLE.findall(p.log()[log_off[n]:]) for n, p in site.daemons.items()}
        res = {
            "services": a.services + 1, "config_bytes": len(texts["lb1"][0]),
            "interval_ms": INTERVAL_MS, "dead_ms": DEAD_MS,
            "baseline": dict(stats(base), seconds=round(t_base1 - t_base0, 1)),
            "reloads": dict(stats(rel), seconds=round(t_rel1 - t_rel0, 1)),
            "lb2_baseline": stats([t for t in peer if t_base0 <= t <= t_base1]),
            "lb2_reloads": stats([t for t in peer if t_rel0 <= t <= t_rel1]),
            "late": late,
            "sighup_sent": len(sent), "reloads_applied": applied,
            "role_changes": {n: len(v) for n, v in roles.items()},
            "active_at_end": site.active(),
            "wall_s": round(time.monotonic() - t_start, 1),
        }
        # Reload durations, as directord logs them (for the reading).
        res["lb1_reload_lines"] = [x for x in lb1.log()[log_off["lb1"]:].splitlines()
                                   if re.search(r"reloading|reloaded|reload applied|late|warn|err", x)][:60]
        res["lb2_notes"] = [x for x in lb2.log()[log_off["lb2"]:].splitlines()
                            if re.search(r"late|warn|err|peer", x)][:20]
        print(json.dumps(res, indent=1), flush=True)
        print("\n| period | keepalives | interval min / max | deviation from 200 ms p50 / p99 / max | "
              "intervals > 400 ms |")
        print("|---|---|---|---|---|")
        for k in ("baseline", "reloads", "lb2_baseline", "lb2_reloads"):
            s = res[k]
            print(f"| {k} ({s.get('seconds', '')} s) | {s['packets']} | {s['interval_min_ms']} / {s['interval_max_ms']} ms | "
                  f"{s['dev_p50_ms']} / {s['dev_p99_ms']} / {s['dev_max_ms']} ms | {s['over_2x']} |")
        print(f"\nreloads: {len(sent)} SIGHUP sent, {applied} applied; role changes after start: "
              f"{res['role_changes']}; active at the end: {res['active_at_end']}")
        ok = (res["reloads"]["over_2x"] == 0 and res["baseline"]["over_2x"] == 0
              and sum(res["role_changes"].values()) == 0 and applied == a.reloads)
        print("criterion (no interval > 2x, no role change, every reload applied):", "MET" if ok else "NOT MET")
        if a.json:
            with open(a.json, "w") as f:
                json.dump(res, f, indent=1)
    except Exception:
        if site:
            site.dump(sys.stderr)
        raise
    finally:
        lab.close()


if __name__ == "__main__":
    main()
