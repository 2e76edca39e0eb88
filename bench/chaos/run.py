#!/usr/bin/python3
"""bench/chaos/run.py: the long chaos run on the host kernel (issue #12,
section 3): the seeded fault schedule of tests/chaos/chaos.py against a
directord pair (or, with --daemon keepalived, a keepalived 2.2.7 pair in the
same lab) for --minutes, checked against the same invariants. Writes the
JSON report (faults by kind, violations, the whole fault log) to --out and
prints a summary. Exit status 0 without violations, 1 with.

  bench/chaos/run.py --minutes 30 --seed S [--out FILE]
  bench/chaos/run.py --minutes 10 --seed S --daemon keepalived [--nopreempt]
  bench/chaos/run.py --faults 40 --seed S --kinds wrong_key,link_both   # narrow a failure down

Uses $DIRECTORD (a plain build is fine: build/rel). Needs root.
"""
import argparse
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "tests", "chaos"))
import chaos  # noqa: E402


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--seed", type=int, required=True)
    ap.add_argument("--minutes", type=float)
    ap.add_argument("--faults", type=int, help="stop after this many faults instead")
    ap.add_argument("--daemon", choices=("directord", "keepalived"), default="directord")
    ap.add_argument("--kinds", help="comma-separated fault kinds to draw from (default: all)")
    ap.add_argument("--nopreempt", action="store_true",
                    help="keepalived: nopreempt (no failback, like directord's default)")
    ap.add_argument("--out", help="JSON report")
    ap.add_argument("-q", "--quiet", action="store_true", help="no line per fault")
    a = ap.parse_args()
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
