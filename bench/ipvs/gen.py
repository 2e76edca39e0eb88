#!/usr/bin/python3
# SPDX-License-Identifier: GPL-2.0-or-later
"""bench/ipvs/gen.py: write the same IPVS table in three forms.

Usage: gen.py OUTDIR [SERVICES] [REAL_SERVERS_PER_SERVICE]

OUTDIR/directord.conf   directord config (check none: every server is up)
OUTDIR/directord-1.conf the same with one real server's weight changed
OUTDIR/ipvsadm.rules    input for ipvsadm-restore
OUTDIR/keepalived.conf  virtual_server blocks, real servers without checks
Services are TCP on 203.0.113.1-250, ports 10000 up; real servers are on
198.51.100.0/24 on the service's port (direct routing keeps it), direct routing, scheduler wlc.
"""
import os
import sys


def table(n_svc, n_rs):
    for i in range(n_svc):
        vip = f"203.0.113.{1 + i % 250}"
        port = 10000 + i // 250
        rs = [f"198.51.100.{1 + (i + k) % 250}" for k in range(n_rs)]
        yield i, vip, port, rs


def main():
    out = sys.argv[1]
    n_svc = int(sys.argv[2]) if len(sys.argv) > 2 else 10000
    n_rs = int(sys.argv[3]) if len(sys.argv) > 3 else 5
    os.makedirs(out, exist_ok=True)
    last = n_svc // 2  # the service whose first real server changes weight

    def dd_conf(changed):
        lines = ['clusters = ( { name = "bench";',
                 '  vips = ( { address = "203.0.113.1"; interface = "eth0"; } );',
                 '  services = (']
        svcs = []
        for i, vip, port, rs in table(n_svc, n_rs):
            rsl = ", ".join(
                f'{{ address = "{a}"; port = {port}; weight = {7 if changed and i == last and k == 0 else 1}; }}'
                for k, a in enumerate(rs))
            svcs.append(f'    {{ name = "s{i}"; protocol = "tcp"; address = "{vip}"; port = {port}; '
                        f'scheduler = "wlc"; forward = "dr"; check = {{ type = "none"; }}; '
                        f'real_servers = ( {rsl} ); }}')
        lines.append(",\n".join(svcs))
        lines.append('  ); } );')
        return "\n".join(lines) + "\n"

    with open(os.path.join(out, "directord.conf"), "w") as f:
        f.write(dd_conf(False))
    with open(os.path.join(out, "directord-1.conf"), "w") as f:
        f.write(dd_conf(True))
    with open(os.path.join(out, "ipvsadm.rules"), "w") as f:
        for i, vip, port, rs in table(n_svc, n_rs):
            f.write(f"-A -t {vip}:{port} -s wlc\n")
            for a in rs:
                f.write(f"-a -t {vip}:{port} -r {a}:{port} -g -w 1\n")
    for name, changed in (("keepalived.conf", False), ("keepalived-1.conf", True)):
        with open(os.path.join(out, name), "w") as f:
            f.write("global_defs {\n    router_id dd_bench\n}\n")
            for i, vip, port, rs in table(n_svc, n_rs):
                f.write(f"virtual_server {vip} {port} {{\n    lb_algo wlc\n    lb_kind DR\n    protocol TCP\n")
                for k, a in enumerate(rs):
                    w = 7 if changed and i == last and k == 0 else 1
                    f.write(f"    real_server {a} {port} {{\n        weight {w}\n    }}\n")
                f.write("}\n")
    rows = list(table(n_svc, n_rs))
    _, vip, port, rs = rows[-1]
    with open(os.path.join(out, "last"), "w") as f:
        f.write(f"{vip}:{port} {len(rs)}\n")
    _, vip, port, rs = rows[last]
    with open(os.path.join(out, "changed"), "w") as f:
        f.write(f"{vip}:{port} {rs[0]}:{port}\n")


if __name__ == "__main__":
    main()
