#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
# bench/scrape/run.sh: what a metrics scrape and a status request cost the
# daemon's main loop with 10,000 real servers health-checked every second.
# Run as root:
#   BUILD=/path/to/build [SRC=/path/to/its/source] bench/scrape/run.sh [SECONDS] [N_ADDRS] [N_PORTS] [LABEL]
# SECONDS per phase (60), 40 x 250 = 10,000 real servers, LABEL names the
# result lines (the build under test). Knobs: WARM=seconds (15), KEEP=dir
# keeps the config and the raw outputs, NICENESS=-10, RT=1 (SCHED_FIFO 20
# instead of nice), BUSY_MS=0.5 (shortest loop iteration logged).
#
# Phases, on one running checker: a quiet phase of SECONDS (checks only),
# then SECONDS with scrape.py asking for /metrics and `status --json` once
# a second. Printed: the main-loop time each request took (the longest
# loop iteration inside the request, from scrape_runner's BUSY lines),
# the client's round trip, the answer's size, and the checkers' timer slip
# (own loop, and as the real servers see it) in each phase.
#
# The host kernel has no IPVS, and directord refuses to start with services
# there, so the checker and the control side run in scrape_runner
# (bench/scrape/scrape_runner.c: the real loader, health checker and
# dd_ctlops on one libev loop, no forwarding plane, no failover). It is
# compiled here against BUILD's libraries, so an older build (before) and
# this one (after) are measured by the same program.
#
# Layout (namespaces made here, names with a per-run prefix):
#   S: the real servers: 40 addresses 198.51.100.101-140 on a bridge, one
#      epoll server (bench/health/rs_server) on 250 ports.
#   D: scrape_runner and the scraper, 198.51.100.1; metrics on 127.0.0.1.
set -euo pipefail

DUR=${1:-60}
NA=${2:-40}
NP=${3:-250}
LABEL=${4:-build}
WARM=${WARM:-15}
NICE="nice -n ${NICENESS:--10}"
# RT=1: the three processes at SCHED_FIFO 20 instead, so that other jobs on
# a shared machine do not decide the figures (bounded: the phases end).
[ -n "${RT:-}" ] && NICE="chrt -f 20"
BASE_PORT=20000
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
SRC=${SRC:-$(cd "$HERE/../.." && pwd)}
B=${BUILD:?BUILD=build directory}
P=dsc$(head -c2 /dev/urandom | od -An -tx1 | tr -d ' \n')
S=${P}s D=${P}d
T=$(mktemp -d /tmp/${P}.XXXX)
PIDS=()

cleanup() {
	for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
	sleep 0.5
	for p in "${PIDS[@]}"; do kill -9 "$p" 2>/dev/null || true; done
	for ns in $S $D; do ip netns del $ns 2>/dev/null || true; done
	rm -rf "$T"
}
trap cleanup EXIT

[ "$(id -u)" = 0 ] || { echo "needs root" >&2; exit 77; }

# shellcheck disable=SC2046
gcc -O2 -std=gnu11 -I"$SRC" -I"$B" $(pkg-config --cflags libnl-3.0) -o "$T/scrape_runner" \
	"$HERE/scrape_runner.c" "$B/libddcore.a" "$B/libddhealth.a" "$B/libddhb.a" "$B/libddconf.a" \
	"$B/libddutil.a" $(pkg-config --libs libnl-route-3.0 libnl-genl-3.0 libnl-3.0 openssl libconfig) \
	-lev -lpthread -lm

ip netns add $S; ip netns add $D
ip -n $S link add br0 type bridge
ip -n $S link set br0 up
ip link add ${P}d netns $D type veth peer name ${P}ds netns $S
ip -n $S link set ${P}ds master br0 up
ip -n $D link set ${P}d up
ip -n $D link set lo up
ip -n $S link set lo up
ip netns exec $D sysctl -qw net.ipv4.ip_local_port_range="10000 65000" net.ipv4.tcp_tw_reuse=1
ip -n $D addr add 198.51.100.1/24 dev ${P}d
for i in $(seq 0 $((NA - 1))); do
	echo "addr add 198.51.100.$((101 + i))/24 dev br0"
done | ip -n $S -batch -
ip netns exec $S sysctl -qw net.core.somaxconn=4096 net.ipv4.tcp_max_syn_backlog=8192

head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n' > "$T/hb.key"; chmod 600 "$T/hb.key"
{
	echo "node = \"bench\";"
	echo "control = { socket = \"$T/ctl.sock\"; metrics_listen = \"127.0.0.1:9469\"; };"
	echo "heartbeat = { key_file = \"$T/hb.key\"; state_file = \"$T/generation\"; };"
	echo "clusters = ( { name = \"web\"; vips = ( { address = \"203.0.113.10/24\"; interface = \"lo\"; } );"
	echo "  services = ( { name = \"bench\"; protocol = \"tcp\"; address = \"203.0.113.10\"; port = 80;"
	echo "    forward = \"nat\"; check = { type = \"tcp\"; interval_ms = 1000; timeout_ms = 900; rise = 1; fall = 3; initial = \"up\"; };"
	echo "    real_servers = ("
	sep=""
	for i in $(seq 0 $((NA - 1))); do
		for j in $(seq 0 $((NP - 1))); do
			printf '%s{ address = "198.51.100.%d"; port = %d; }' "$sep" $((101 + i)) $((BASE_PORT + j))
			sep=$',\n'
		done
	done
	echo " ); } ); } );"
} > "$T/dd.conf"
[ -n "${KEEP:-}" ] && cp "$T/dd.conf" "$KEEP/"

ip netns exec $S $NICE "$B/bench/health/rs_server" 198.51.100.101 $NA $BASE_PORT $NP 1000 > "$T/rs.out" &
RS=$!; PIDS+=($RS)
for _ in $(seq 100); do grep -q "RS READY" "$T/rs.out" && break; sleep 0.1; done
ip netns exec $D $NICE "$T/scrape_runner" -b "${BUSY_MS:-0.5}" "$T/dd.conf" > "$T/runner.out" 2> "$T/runner.err" &
RUN=$!; PIDS+=($RUN)
for _ in $(seq 300); do grep -q READY "$T/runner.out" && break; sleep 0.1; done
grep -q READY "$T/runner.out" || { echo "scrape_runner did not start" >&2; cat "$T/runner.err" >&2; exit 1; }

rs_mark() { kill -USR1 $RS; sleep 0.3; }
sleep "$WARM"
kill -USR1 $RUN; rs_mark                        # warm-up figures dropped
sleep "$DUR"
kill -USR1 $RUN; rs_mark                        # quiet phase
ip netns exec $D $NICE python3 "$HERE/scrape.py" "$T/ctl.sock" 127.0.0.1:9469 "$DUR" > "$T/scrape.out"
kill -USR1 $RUN; rs_mark                        # scrape phase
kill -TERM $RUN; wait $RUN || true
[ -n "${KEEP:-}" ] && cp "$T/runner.out" "$T/runner.err" "$T/rs.out" "$T/scrape.out" "$KEEP/"

python3 - "$T/runner.out" "$T/scrape.out" "$T/rs.out" "$LABEL" "$((NA * NP))" <<'PY'
import sys
runner, scrape, rs, label, n = sys.argv[1:6]
busy = [(float(t), float(ms)) for w, t, ms in (l.split() for l in open(runner) if l.startswith("BUSY "))]
stats = [dict(kv.split("=") for kv in l.split()[1:]) for l in open(runner) if l.startswith("STATS ")]
rsph = []  # per phase: the line for our checker (peer 198.51.100.1)
cur = None
for l in open(rs):
    if l.startswith("RS peer=198.51.100.1 "):
        cur = dict(kv.split("=") for kv in l.split()[1:])
    elif l.startswith("RS END"):
        rsph.append(cur); cur = None
def q(v, p):
    v = sorted(v)
    return v[min(len(v) - 1, int(round(p * (len(v) - 1))))] if v else float("nan")
res = {}
for l in open(scrape):
    _, what, t0, t1, size, ok = l.split()
    t0, t1 = float(t0), float(t1)
    held = [ms for t, ms in busy if t0 <= t <= t1]
    res.setdefault(what, []).append((max(held) if held else 0.0, sum(held), (t1 - t0) * 1000, int(size), int(ok)))
print(f"== {label}: {n} real servers, tcp checks every 1000 ms")
for what, v in res.items():
    loop = [x[0] for x in v]; tot = [x[1] for x in v]; rtt = [x[2] for x in v]
    print(f"{label} {what}: {len(v)} requests, {sum(x[4] for x in v)} ok, {v[0][3]} bytes; "
          f"main loop per request (longest iteration) median {q(loop, .5):.1f} ms p99 {q(loop, .99):.1f} ms max {max(loop):.1f} ms; "
          f"all iterations > 1 ms inside the request median {q(tot, .5):.1f} ms; round trip median {q(rtt, .5):.1f} ms p99 {q(rtt, .99):.1f} ms")
for name, i in (("quiet", 1), ("scraping", 2)):
    st = stats[i] if i < len(stats) else {}
    r = rsph[i] if i < len(rsph) and rsph[i] else {}
    print(f"{label} {name}: checks started {st.get('started')}, skipped {st.get('skipped')}; slip own loop p50 {st.get('slip_p50_ms')} "
          f"p99 {st.get('slip_p99_ms')} max {st.get('slip_max_ms')} ms; at the servers p50 {r.get('slip_p50_ms')} "
          f"p99 {r.get('slip_p99_ms')} max {r.get('slip_max_ms')} ms")
PY
