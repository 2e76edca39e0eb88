#!/usr/bin/python3
# SPDX-License-Identifier: GPL-2.0-or-later
"""bench/chaos/run.py: the long chaos run on the host kernel (issue #12,
section 3): the seeded fault schedule of tests/chaos/chaos.py against a
directord pair (or, with --daemon keepalived, a keepalived 2.2.7 pair in the
same lab) for --minutes, checked against the same invariants. Writes the
JSON report (faults by kind, violations, the whole fault log) to --out and
prints a summary. Exit status 0 without violations, 1 with.

  bench/chaos/run.py --minutes 30 --seed S [--out FILE]
  bench/chaos/run.py --minutes 10 --seed S --daemon keepalived [--nopreempt]
  bench/chaos/run.py --faults 40 --seed S --kinds wrong_key,link_both   # narrow a failure down
  bench/chaos/run.py --render REPORT.json    # violations grouped, as a Markdown table

Uses $DIRECTORD (a plain build is fine: build/rel). Needs root.
"""
import argparse
import json
import os
import re
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "tests", "chaos"))
import chaos  # noqa: E402


def groups(rep):
    """Violations grouped by invariant and by what they say, numbers and
    MACs masked: [(count, invariant, pattern)], most frequent first."""
    n = {}
    for v in rep["violation_list"]:
        w = re.sub(r"([0-9a-f]{2}:){5}[0-9a-f]{2}", "MAC", v["what"])
        w = re.sub(r"#\d+", "#N", w)
        w = re.sub(r"\d+(\.\d+)?( ?s|%| role changes)", r"N\2", w)
        w = re.sub(r"pid \d+", "pid N", w)
        w = w.split(": lb")[0].split(": [")[0]
        n[(v["invariant"], w)] = n.get((v["invariant"], w), 0) + 1
    return sorted(((c, i, w) for (i, w), c in n.items()), key=lambda x: (-x[0], x[1]))


def render(path):
    with open(path) as f:
        rep = json.load(f)
    print(chaos.summary(rep).split("\n  invariant")[0])
    print("| count | invariant | violation |\n|---|---|---|")
    for c, i, w in groups(rep):
        print(f"| {c} | {i} | {w} |")


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--seed", type=int)
    ap.add_argument("--render", metavar="REPORT", help="print a report's violations grouped (Markdown) and exit")
    ap.add_argument("--minutes", type=float)
    ap.add_argument("--faults", type=int, help="stop after this many faults instead")
    ap.add_argument("--daemon", choices=("directord", "keepalived"), default="directord")
    ap.add_argument("--kinds", help="comma-separated fault kinds to draw from (default: all)")
    ap.add_argument("--nopreempt", action="store_true",
                    help="keepalived: nopreempt (no failback, like directord's default)")
    ap.add_argument("--out", help="JSON report")
    ap.add_argument("-q", "--quiet", action="store_true", help="no line per fault")
    a = ap.parse_args()
    if a.render:
        render(a.render)
        return 0
    if a.seed is None:
        ap.error("give --seed")
    if not a.minutes and not a.faults:
        ap.error("give --minutes or --faults")
    kinds = a.kinds.split(",") if a.kinds else None
    rep = chaos.host_run(a.seed, minutes=a.minutes, n_faults=a.faults, daemon=a.daemon, kinds=kinds,
                         log=None if a.quiet else (lambda s: print(s, flush=True)), out=a.out,
                         nopreempt=a.nopreempt)
    print(chaos.summary(rep))
    return 1 if rep["violations"] else 0


if __name__ == "__main__":
    sys.exit(main())
