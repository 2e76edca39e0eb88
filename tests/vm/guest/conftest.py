# SPDX-License-Identifier: GPL-2.0-or-later
"""pytest glue for the in-guest test suite (tests/vm/guest/*.py).

Runs in the pytest process inside the QEMU guest (ipvs-suite.test boots one
guest and runs every test file here in it). Provides the `lab` fixture and
turns skips into failures: the suite proves things on a real kernel, and a
skipped proof is a missing proof.
"""
import os
import sys

import pytest

# The lab library (tests/lab/nslab.py) and the pair lab (tests/lab/pairlab.py).
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "lab"))
import nslab as labmod  # noqa: E402

# The SNMP subagent exists only in a build with configure --enable-snmp
# (run-tests.sh makes one); in another build its test is not collected
# rather than failed as a skip.
collect_ignore = [] if labmod.directord_has_snmp() else ["test_snmp_ipvs.py"]


def pytest_configure(config):
    if not labmod.in_guest() and os.environ.get("DD_VM_ALLOW_HOST") != "1":
        raise pytest.UsageError(
            "these tests need the QEMU guest: run them with tests/vm/run-in-guest "
            "(see tests/vm/README.md), or set DD_VM_ALLOW_HOST=1 for tests that do not need IPVS")


@pytest.fixture
def lab():
    """A fresh labmod.Lab, closed (everything removed) after the test."""
    lb = labmod.Lab()
    try:
        yield lb
    finally:
        lb.close()


@pytest.fixture(scope="session")
def ipvs_modules():
    """Load ip_vs and the usual schedulers once per guest boot."""
    labmod.modprobe("ip_vs", "ip_vs_rr", "ip_vs_wrr", "ip_vs_wlc", "ip_vs_sh", "ip_vs_mh",
                    "nf_conntrack", "veth", "bridge")


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    rep = outcome.get_result()
    if rep.skipped and not hasattr(rep, "wasxfail"):
        reason = rep.longrepr[2] if isinstance(rep.longrepr, tuple) else str(rep.longrepr)
        rep.outcome = "failed"
        rep.longrepr = f"skip is not allowed in the guest suite (it must prove, not skip): {reason}"
