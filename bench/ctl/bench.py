#!/usr/bin/python3
# SPDX-License-Identifier: GPL-2.0-or-later
"""bench/ctl: how long directorctl status, status --json and metrics take,
and how big their answers are, for a standalone director with many
services (no IPVS on the host: configuration-side cost only; in the guest
add the kernel dump). Runs the real daemon in a private network namespace.

Usage: bench/ctl/bench.py [BUILD_DIR] [N_SERVICES] [N_RS] [RUNS]
Prints one line per command: median and max wall time, reply size."""
import os
import statistics
import subprocess
import sys
import tempfile
import time

build = sys.argv[1] if len(sys.argv) > 1 else "."
n_svc = int(sys.argv[2]) if len(sys.argv) > 2 else 1000
n_rs = int(sys.argv[3]) if len(sys.argv) > 3 else 4
runs = int(sys.argv[4]) if len(sys.argv) > 4 else 20

with tempfile.TemporaryDirectory(prefix="dd-bench-ctl-") as d:
    key = os.path.join(d, "hb.key")
    with open(key, "w") as f:
        f.write("0123456789abcdef0123456789abcdef\n")
    os.chmod(key, 0o600)
    svcs = []
    for i in range(n_svc):
        rs = ", ".join(f'{{ address = "198.51.100.{1 + j}"; port = {1024 + i}; }}' for j in range(n_rs))
        svcs.append(f'{{ name = "s{i}"; protocol = "tcp"; address = "203.0.113.{1 + i % 250}"; '
                    f'port = {1024 + i}; check = {{ type = "none"; }}; real_servers = ( {rs} ); }}')
    conf = os.path.join(d, "d.conf")
    with open(conf, "w") as f:
        f.write(f'node = "lb1"; pid_file = "{d}/pid"; control = {{ socket = "{d}/ctl.sock"; }};\n'
                f'heartbeat = {{ key_file = "{key}"; state_file = "{d}/gen"; }};\n'
                f'clusters = ( {{ name = "web"; services = ( {", ".join(svcs)} ); }} );\n')
    p = subprocess.Popen(["unshare", "--net", os.path.join(build, "directord/directord"), "-n",
                          "-f", conf], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    ctl = [os.path.join(build, "directord/directorctl"), "-s", os.path.join(d, "ctl.sock")]
    deadline = time.monotonic() + 60
    while subprocess.run(ctl + ["version"], capture_output=True).returncode != 0:
        assert time.monotonic() < deadline, "daemon did not start"
        time.sleep(0.05)
    print(f"# {n_svc} services x {n_rs} real servers, {runs} runs each")
    for args in (["version"], ["status"], ["status", "--json"], ["metrics"]):
        times, size = [], 0
        for _ in range(runs):
            t0 = time.monotonic()
            r = subprocess.run(ctl + args, capture_output=True)
            times.append((time.monotonic() - t0) * 1000)
            assert r.returncode == 0
            size = len(r.stdout)
        print(f"{' '.join(args):16s} median {statistics.median(times):7.1f} ms  "
              f"max {max(times):7.1f} ms  {size / 1024:8.1f} KiB")
    p.terminate()
    p.wait(timeout=30)
