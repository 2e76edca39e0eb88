#!/usr/bin/python3
# SPDX-License-Identifier: GPL-2.0-or-later
"""bench/ipvs/run.py: programming a large IPVS table, directord against
ipvsadm-restore and keepalived, all in one guest boot (the numbers are only
comparable as ratios from the same boot: TCG is slow).

Runs inside the QEMU guest; see bench/ipvs/README.md. Usage:
  run.py TOOL DATADIR [REPEATS]
TOOL is an optimised build of tests/dd-ipvs-apply, DATADIR what gen.py wrote.
Every measurement starts from an empty IPVS table in a fresh namespace.
Prints one line per measurement, then a Markdown table of medians.
"""
import os
import re
import statistics
import subprocess
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "tests", "lab"))
import nslab as labmod  # noqa: E402


def steps_of(out):
    return [dict(kv.split("=", 1) for kv in line.split()) for line in out.splitlines() if line.startswith("step=")]


def count_dests(ns, key):
    r = ns.run("ipvsadm", "-Ln", "-t", key, check=False)
    return r.stdout.count("->") - 1 if r.returncode == 0 else -1


def total_dests(ns):
    return ns.run("ipvsadm", "-Ln").stdout.count("  -> ") - 1


def main():
    tool, data = sys.argv[1], sys.argv[2]
    repeats = int(sys.argv[3]) if len(sys.argv) > 3 else 3
    with open(os.path.join(data, "last")) as f:
        last_key, last_n = f.read().split()
    last_n = int(last_n)
    labmod.modprobe("ip_vs", "ip_vs_wlc")
    dd_conf = os.path.join(data, "directord.conf")
    dd_conf1 = os.path.join(data, "directord-1.conf")
    res = {k: [] for k in ("dd_cold_wall", "dd_cold_pass", "dd_cold_ops", "dd_adopt_wall", "dd_adopt_ops",
                           "dd_change_pass", "dd_change_ops", "dd_change_wall", "restore_wall", "ka_wall",
                           "ka_change_wall")}
    for r in range(repeats):
        with labmod.Lab() as lab:
            # directord: cold programming, then restart (adopt), then one change
            ns = lab.netns("dd")
            t0 = time.monotonic()
            out = ns.run(tool, "-q", dd_conf, timeout=1200).stdout
            wall = time.monotonic() - t0
            st = steps_of(out)[0]
            assert count_dests(ns, last_key) == last_n and int(st["failed"]) == 0, out
            n_total = total_dests(ns)
            res["dd_cold_wall"].append(wall)
            res["dd_cold_pass"].append(int(st["pass_us"]) / 1e6)
            res["dd_cold_ops"].append(int(st["ops"]))
            t0 = time.monotonic()
            out = ns.run(tool, "-q", dd_conf, "reload", dd_conf1, timeout=1200).stdout
            wall = time.monotonic() - t0
            st = steps_of(out)
            res["dd_adopt_wall"].append(int(st[0]["wall_us"]) / 1e6)
            res["dd_adopt_ops"].append(int(st[0]["ops"]))
            res["dd_change_pass"].append(int(st[1]["pass_us"]) / 1e6)
            res["dd_change_wall"].append(int(st[1]["wall_us"]) / 1e6)
            res["dd_change_ops"].append(int(st[1]["ops"]))
            print(f"run {r}: directord cold {res['dd_cold_wall'][-1]:.2f} s wall "
                  f"({res['dd_cold_pass'][-1]:.2f} s programming, {res['dd_cold_ops'][-1]} ops, "
                  f"{n_total} real servers); restart adopt {res['dd_adopt_wall'][-1]:.2f} s "
                  f"({res['dd_adopt_ops'][-1]} ops); one change {res['dd_change_ops'][-1]} ops, "
                  f"{res['dd_change_pass'][-1] * 1000:.1f} ms pass, {res['dd_change_wall'][-1]:.2f} s with config load",
                  flush=True)
        with labmod.Lab() as lab:
            ns = lab.netns("rst")
            with open(os.path.join(data, "ipvsadm.rules")) as f:
                t0 = time.monotonic()
                subprocess.run(ns.argv(["ipvsadm-restore"]), stdin=f, check=True, timeout=1200)
                wall = time.monotonic() - t0
            assert count_dests(ns, last_key) == last_n
            res["restore_wall"].append(wall)
            print(f"run {r}: ipvsadm-restore {wall:.2f} s", flush=True)
        with labmod.Lab() as lab:
            ns = lab.netns("ka")
            conf = os.path.join(lab.dir, "keepalived.conf")
            with open(os.path.join(data, "keepalived.conf")) as src, open(conf, "w") as dst:
                dst.write(src.read())
            pid = os.path.join(lab.dir, "ka")
            t0 = time.monotonic()
            ka = ns.spawn("keepalived", "--dont-fork", "--log-console", "--check", "--use-file", conf,
                          "--pid", pid + ".pid", "--checkers_pid", pid + "-c.pid", name="keepalived")
            labmod.poll(lambda: count_dests(ns, last_key) == last_n or not ka.alive(), timeout=1200,
                        interval=0.1, what="keepalived to program the last service")
            wall = time.monotonic() - t0
            assert ka.alive(), ka.log()[-2000:]
            res["ka_wall"].append(wall)
            # one change: reload with one weight changed (SIGHUP), until seen
            svc_key, rs0 = changed_dest(data)
            with open(os.path.join(data, "keepalived-1.conf")) as src, open(conf, "w") as dst:
                dst.write(src.read())
            t0 = time.monotonic()
            ka.signal(1)
            labmod.poll(lambda: dest_weight(ns, svc_key, rs0) == 7 or not ka.alive(), timeout=1200,
                        interval=0.1, what="keepalived to apply the reload")
            res["ka_change_wall"].append(time.monotonic() - t0)
            print(f"run {r}: keepalived {wall:.2f} s; one-change reload {res['ka_change_wall'][-1]:.2f} s",
                  flush=True)
            ka.stop(timeout=600)
    med = {k: statistics.median(v) for k, v in res.items()}
    print()
    print(f"| measurement ({repeats} runs, median) | directord | ipvsadm-restore | keepalived 2.2.7 |")
    print("|---|---|---|---|")
    print(f"| cold: empty table -> {last_n * 0 + int(med['dd_cold_ops'])} objects, wall | "
          f"{med['dd_cold_wall']:.2f} s | {med['restore_wall']:.2f} s | {med['ka_wall']:.2f} s |")
    print(f"| cold, ratio to directord | 1 | {med['restore_wall'] / med['dd_cold_wall']:.2f}x | "
          f"{med['ka_wall'] / med['dd_cold_wall']:.2f}x |")
    print(f"| cold, netlink programming only (directord) | {med['dd_cold_pass']:.2f} s | | |")
    print(f"| restart on the full table (adopt), wall | {med['dd_adopt_wall']:.2f} s, "
          f"{int(med['dd_adopt_ops'])} ops | | |")
    print(f"| one weight changed: reload, reconcile pass | {med['dd_change_pass'] * 1000:.1f} ms, "
          f"{int(med['dd_change_ops'])} op | | |")
    print(f"| one weight changed: reload incl. config load, wall | {med['dd_change_wall']:.2f} s | | "
          f"{med['ka_change_wall']:.2f} s (SIGHUP until visible) |")
    for k, v in res.items():
        print(f"raw {k}: {' '.join(f'{x:.4f}' if isinstance(x, float) else str(x) for x in v)}")


def changed_dest(data):
    with open(os.path.join(data, "changed")) as f:
        key, rs = f.read().split()
    return key, rs


def dest_weight(ns, key, rs):
    out = ns.run("ipvsadm", "-Ln", "-t", key, check=False).stdout
    m = re.search(re.escape(rs) + r"\s+\S+\s+(\d+)", out)
    return int(m.group(1)) if m else None


if __name__ == "__main__":
    main()
