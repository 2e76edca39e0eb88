#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-or-later
# bench/snmp/run.sh: what an SNMP walk of the real-server table costs the
# daemon's main loop. snmp_runner (the main loop without IPVS, with the
# AgentX subagent) serves a config of SERVICES x PER real servers (check
# none: the rows come from the config); a private snmpd in a namespace of
# its own is its master agent; snmpbulkwalk walks DIRECTORD-MIB's
# ddRealServerTable. Prints the walk's time and size, the main loop's
# busy iterations (> 1 ms) during it, and the subagent's status copies.
#   bench/snmp/run.sh [SERVICES [PER]]      (as root, from the top build dir)
set -eu
services=${1:-40}
per=${2:-250}
build=$(pwd)
src=$(cd "$(dirname "$0")/../.." && pwd)
dir=$(mktemp -d /tmp/ddsnmp-bench.XXXXXX)
ns=ddsnmpb$$
cleanup() {
	[ -n "${runner:-}" ] && kill "$runner" 2>/dev/null || :
	ip netns pids "$ns" 2>/dev/null | xargs -r kill -9 2>/dev/null || :
	n=0
	while [ -n "$(ip netns pids "$ns" 2>/dev/null)" ] && [ $n -lt 50 ]; do n=$((n + 1)); sleep 0.1; done
	ip netns del "$ns" 2>/dev/null || :
	rm -rf "$dir"
}
trap cleanup EXIT
ip netns add "$ns"
ip -n "$ns" link set lo up

python3 - "$dir" "$services" "$per" > "$dir/directord.conf" <<'PY'
import sys
d, n, per = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
svcs = []
for s in range(n):
    rs = ", ".join(f'{{ address = "198.51.100.{1 + r % 250}"; port = {80 + r // 250}; }}' for r in range(per))
    svcs.append(f'{{ name = "s{s}"; protocol = "tcp"; address = "203.0.113.10"; port = {1000 + s};'
                f' check = {{ type = "none"; }}; real_servers = ( {rs} ); }}')
print(f'''node = "lb1";
control = {{ socket = "{d}/ctl.sock"; }};
snmp = {{ enabled = true; agentx_socket = "{d}/agentx.sock"; }};
clusters = ( {{ name = "web"; vips = ( {{ address = "203.0.113.10/24"; interface = "eth0"; }} );
  services = ( {", ".join(svcs)} ); }} );''')
PY
mkdir -p "$dir/persist"
printf 'master agentx\nagentXSocket %s/agentx.sock\nrocommunity public 127.0.0.1\n' "$dir" > "$dir/snmpd.conf"
SNMP_PERSISTENT_DIR=$dir/persist ip netns exec "$ns" snmpd -f -Lf "$dir/snmpd.log" -C -c "$dir/snmpd.conf" \
	-M /usr/share/snmp/mibs -m "" -x "unix:$dir/agentx.sock" udp:127.0.0.1:10161 &
"$build/bench/snmp/snmp_runner" -b 1 "$dir/directord.conf" > "$dir/runner.out" 2>&1 &
runner=$!
i=0
until grep -q READY "$dir/runner.out" && \
      ip netns exec "$ns" snmpget -v2c -c public -t 1 -r 0 udp:127.0.0.1:10161 \
	.1.3.6.1.4.1.8072.9999.9999.4.1.1.8.0 2>/dev/null | grep -q Gauge; do
	i=$((i + 1)); [ $i -lt 300 ] || { echo "subagent not answering"; cat "$dir/runner.out"; exit 1; }
	sleep 0.1   # bounded poll for the start-up, not a measurement
done
n0=$(wc -l < "$dir/runner.out")
t0=$(date +%s.%N)
rows=$(ip netns exec "$ns" snmpbulkwalk -v2c -c public -Cr50 -t 10 udp:127.0.0.1:10161 \
	.1.3.6.1.4.1.8072.9999.9999.4.1.6 | wc -l)
t1=$(date +%s.%N)
n1=$(wc -l < "$dir/runner.out")
kill -TERM "$runner"; wait "$runner" || :
runner=
echo "real servers: $((services * per)); ddRealServerTable varbinds walked: $rows"
awk -v a="$t0" -v b="$t1" 'BEGIN { printf "walk (snmpbulkwalk -Cr50): %.2f s\n", b - a }'
awk -v a="$n0" -v b="$n1" 'NR > a && NR <= b && $1 == "BUSY" { n++; s += $3; if ($3 > m) m = $3 }
	END { printf "main loop busy iterations > 1 ms during the walk: %d, total %.1f ms, longest %.1f ms\n", n, s, m }' "$dir/runner.out"
grep '^SNMP' "$dir/runner.out"
