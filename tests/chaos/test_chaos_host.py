# SPDX-License-Identifier: GPL-2.0-or-later
"""The short chaos run on the host kernel: two real directord (the
sanitizer build of make check) in the heartbeat lab of tests/net/hbnet.py,
a client on the front segment, a real rsyslogd, and a seeded schedule of
faults (links, loss, SIGSTOP/SIGCONT, SIGKILL/SIGTERM and restart, good and
bad reloads, takeover/release, a wrong key, CPU starvation) for about two
minutes, checked against the invariants of tests/chaos/chaos.py.

A failure prints the seed and the fault log; replay with
  pytest tests/chaos/test_chaos_host.py --seed S
or the long form, bench/chaos/run.py --seed S. Needs root.
"""
import json
import os
import sys

import pytest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import chaos  # noqa: E402

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="needs root for namespaces")


def test_chaos_host(request, tmp_path):
    seed = request.config.getoption("--seed")
    minutes = request.config.getoption("--chaos-minutes")
    skip = {k for k in request.config.getoption("--chaos-skip").split(",") if k}
    kinds = sorted(set(chaos.FAULT_KINDS) - skip)
    out = tmp_path / "chaos.json"
    rep = chaos.host_run(seed, minutes=minutes, kinds=kinds, log=lambda s: print(s, flush=True), out=str(out))
    print(chaos.summary(rep))
    # Invariants 1-5 are the issue's; "invariant 0" is a fault the harness
    # itself could not complete (a wait timed out), reported in the summary
    # and in bench/RESULTS.md, not a property of the pair.
    broken = [v for v in rep["violation_list"] if v["invariant"] != 0]
    if broken:
        pytest.fail(f"chaos run, seed {seed}: {len(broken)} invariant violations; replay with "
                    f"--seed {seed}\n{chaos.summary(rep)}\nfault log:\n{chaos.fault_log_text(rep)}\n"
                    f"violations: {json.dumps(rep['violation_list'], indent=1)}", pytrace=False)
    assert rep["faults"] >= 30, chaos.summary(rep)
    assert len(rep["faults_by_kind"]) >= min(10, len(kinds)), chaos.summary(rep)
    assert rep["invariant1_samples_checked"] > 0
