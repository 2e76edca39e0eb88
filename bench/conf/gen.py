#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-or-later
"""bench/conf/gen.py: write a directord config with N real servers, in one
service or spread over S services, for timing `directord -t` (and the
loader) against the number of real servers. See bench/conf/run.sh.

    gen.py N [S] > big.conf

Real servers are 198.51.100.0/24 x ports, so N may go well past 254;
addresses are only written to a file, never configured anywhere.
"""
import sys


def main():
    n = int(sys.argv[1])
    s = int(sys.argv[2]) if len(sys.argv) > 2 else 1
    out = sys.stdout
    out.write('node = "lb1";\npid_file = "/tmp/bench-conf.pid";\n')
    out.write('clusters = ( { name = "big";\n'
              '  vips = ( { address = "192.0.2.10/24"; interface = "eth0"; } );\n'
              '  services = (\n')
    per = (n + s - 1) // s
    k = 0
    for si in range(s):
        out.write(f'  {{ name = "s{si}"; protocol = "tcp"; address = "192.0.2.10"; '
                  f'port = {1 + si}; check = {{ type = "none"; }};\n    real_servers = (\n')
        rows = []
        for _ in range(min(per, n - k)):
            rows.append(f'      {{ address = "198.51.100.{1 + k % 254}"; port = {1024 + k // 254}; }}')
            k += 1
        out.write(",\n".join(rows))
        out.write("\n    ); }" + ("," if si + 1 < s else "") + "\n")
    out.write("  ); } );\n")


if __name__ == "__main__":
    main()
