#!/usr/bin/python3
# SPDX-License-Identifier: GPL-2.0-or-later
"""tests/summary.py: count test cases across `make check` logs.

automake counts a test program as one test; directord's programs hold many
cases (Check suites, pytest files). This reads each test's .log/.trs pair and
counts the cases inside, then prints the closing line CI reads:
'N passed, N failed'. A program that crashed or produced no case summary
counts by its automake verdict, so a crash can never vanish from the count.
"""
import os
import re
import sys

CHECK_RE = re.compile(r"^\d+%: Checks: (\d+), Failures: (\d+), Errors: (\d+)", re.M)
PYTEST_RE = re.compile(r"^=*\s*(.*?\d+ (?:passed|failed|error|errors|skipped).*?) in [\d.]+s", re.M)


def count_pytest(summary):
    counts = {}
    for n, word in re.findall(r"(\d+) (passed|failed|errors?|skipped|xfailed|xpassed)", summary):
        counts[word] = counts.get(word, 0) + int(n)
    passed = counts.get("passed", 0) + counts.get("xfailed", 0)
    failed = counts.get("failed", 0) + counts.get("error", 0) + counts.get("errors", 0) + counts.get("xpassed", 0)
    return passed, failed, counts.get("skipped", 0)


def main(root):
    tot_p = tot_f = tot_s = 0
    for dirpath, _, files in os.walk(root):
        for name in sorted(files):
            if not name.endswith(".trs"):
                continue
            trs = os.path.join(dirpath, name)
            log = trs[:-4] + ".log"
            verdict = "FAIL"
            with open(trs, errors="replace") as f:
                m = re.search(r"^:test-result: (\w+)", f.read(), re.M)
                if m:
                    verdict = m.group(1)
            text = ""
            if os.path.exists(log):
                with open(log, errors="replace") as f:
                    text = f.read()
            p = fl = s = 0
            m = CHECK_RE.search(text)
            pm = PYTEST_RE.findall(text)
            if m:
                n, fails, errs = map(int, m.groups())
                p, fl = n - fails - errs, fails + errs
            elif pm:
                p, fl, s = count_pytest(pm[-1])
            if p + fl + s == 0:
                if verdict in ("PASS", "XFAIL"):
                    p = 1
                elif verdict == "SKIP":
                    s = 1
                else:
                    fl = 1
            # A program whose cases all passed but which still failed (a
            # sanitizer report at exit, a crash after the summary) is a failure.
            if verdict in ("FAIL", "ERROR", "XPASS") and fl == 0:
                fl = 1
            rel = os.path.relpath(log, root)
            print(f"  {verdict:5} {rel}: {p} passed, {fl} failed" + (f", {s} skipped" if s else ""))
            tot_p, tot_f, tot_s = tot_p + p, tot_f + fl, tot_s + s
    line = f"{tot_p} passed, {tot_f} failed"
    if tot_s:
        line += f", {tot_s} skipped"
    print(line)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1] if len(sys.argv) > 1 else "."))
