# SPDX-License-Identifier: GPL-2.0-or-later
"""pytest options of the chaos run (tests/chaos/): --seed replays a schedule,
--chaos-minutes sets its length, --chaos-skip leaves kinds out. Also DD_CHAOS_SEED / DD_CHAOS_MINUTES / DD_CHAOS_SKIP in
the environment (for make check)."""
import os


def pytest_addoption(parser):
    parser.addoption("--seed", type=int, default=int(os.environ.get("DD_CHAOS_SEED", "12")),
                     help="seed of the fault schedule (replays a run)")
    parser.addoption("--chaos-minutes", type=float, default=float(os.environ.get("DD_CHAOS_MINUTES", "1.75")),
                     help="how long the schedule runs")
    parser.addoption("--chaos-skip", default=os.environ.get("DD_CHAOS_SKIP", ""),
                     help="comma-separated fault kinds left out of the draw (to narrow a failure down)")
