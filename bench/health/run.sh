#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
# bench/health/run.sh: 10,000 real servers checked every second by directord's
# checker and by keepalived 2.2.7 at the same time, against the same servers,
# once with TCP checks and once with HTTP checks. Prints CPU, RSS and timer
# slip for both. Run as root from the build directory after `make`:
#   bench/health/run.sh [SECONDS_PER_PHASE] [N_ADDRS] [N_PORTS]
# (from another build directory: BUILD=/path/to/build bench/health/run.sh ...)
# Knobs: WARM=seconds of warm-up (10), NICENESS=-10 (all three processes), NOKA=1 runs directord alone,
# NODD=1 keepalived alone, SEQ=1 each alone in turn (directord then keepalived, per check type),
# COLLECT_MS=n sets libev's I/O collect interval in directord's loop,
# KEEP=dir keeps configs and outputs, PERF=dir records a perf profile of
# directord's checker during each measured period, NAPI=1 moves the real
# servers' side of the network onto kernel threads (below).
#
# Where the kernel's packet work is billed: a veth hands a packet to its
# peer inline, so by default the real servers' TCP work (SYN-ACK, the
# accepted socket, the RST) runs inside the checker's own system calls and
# is billed to the checker, as if the servers' kernels were part of it. On a
# real network that work happens on other machines. NAPI=1 turns on GRO and
# threaded NAPI on the servers' switch ports, so packets towards the servers
# (and everything they cause) are processed by napi/* kernel threads; each
# checker then pays for its own system calls and its own side of TCP only.
# The napi threads' CPU is reported too.
#
# Layout (all in namespaces made here, names with a per-run prefix):
#   S: the real servers: 40 addresses 198.51.100.101-140 on a bridge, one
#      epoll server (rs_server) listening on 250 ports of the wildcard address.
#   D: directord's checker (bench/health/health_runner), 198.51.100.1
#   K: keepalived -C (checker only), 198.51.100.2. The host kernel has no
#      IPVS, so keepalived runs with fake_ipvs.so preloaded, which answers its
#      IPVS socket options as an empty IPVS would (see fake_ipvs.c).
# Slip is measured twice: directord reports its own loop's timer slip, and
# rs_server measures for both checkers how far the gap between two checks
# of the same real server is from 1 s.
set -euo pipefail

DUR=${1:-60}
NA=${2:-40}
NP=${3:-250}
WARM=${WARM:-10}
# The host is shared: the same raised priority for the servers and both
# checkers keeps unrelated load from deciding the result.
NICE="nice -n ${NICENESS:--10}"
BASE_PORT=20000
B=${BUILD:-$(cd "$(dirname "$0")/../.." && pwd)}  # build dir (BUILD= for a VPATH build)
SRC=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd) # bench/health sources
P=dhb$(head -c2 /dev/urandom | od -An -tx1 | tr -d ' \n')
S=${P}s D=${P}d K=${P}k
T=$(mktemp -d /tmp/${P}.XXXX)
PIDS=()

cleanup() {
	for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
	sleep 0.5
	for p in "${PIDS[@]}"; do kill -9 "$p" 2>/dev/null || true; done
	for ns in $S $D $K; do ip netns del $ns 2>/dev/null || true; done
	rm -rf "$T"
}
trap cleanup EXIT

[ "$(id -u)" = 0 ] || { echo "needs root" >&2; exit 77; }
gcc -O2 -shared -fPIC -o "$T/fake_ipvs.so" "$SRC/fake_ipvs.c" -ldl

ip netns add $S; ip netns add $D; ip netns add $K
ip -n $S link add br0 type bridge
ip -n $S link set br0 up
for x in d k; do
	ns=$([ $x = d ] && echo $D || echo $K)
	ip link add ${P}$x netns $ns type veth peer name ${P}${x}s netns $S
	ip -n $S link set ${P}${x}s master br0 up
	if [ -n "${NAPI:-}" ]; then
		# veth takes the NAPI path only for packets its sender could not
		# have segmented: TSO off on the checker's end.
		ip netns exec $S ethtool -K ${P}${x}s gro on >/dev/null
		echo 1 | ip netns exec $S tee /sys/class/net/${P}${x}s/threaded >/dev/null
		ip netns exec $ns ethtool -K ${P}$x tso off >/dev/null
	fi
	ip -n $ns link set ${P}$x up
	ip -n $ns link set lo up
	# Enough source ports for 10,000 connections a second.
	ip netns exec $ns sysctl -qw net.ipv4.ip_local_port_range="10000 65000" net.ipv4.tcp_tw_reuse=1
done
ip -n $D addr add 198.51.100.1/24 dev ${P}d
ip -n $K addr add 198.51.100.2/24 dev ${P}k
ip -n $S link set lo up
for i in $(seq 0 $((NA - 1))); do
	echo "addr add 198.51.100.$((101 + i))/24 dev br0"
done | ip -n $S -batch -
ip netns exec $S sysctl -qw net.core.somaxconn=4096 net.ipv4.tcp_max_syn_backlog=8192

N=$((NA * NP))
# The napi threads do the servers' kernel work: the same priority as the
# three processes, or they starve behind them.
[ -n "${NAPI:-}" ] && for p in $(pgrep "^napi/${P}"); do
	renice -n "${NICENESS:--10}" -p $p >/dev/null
	[ -n "${PIN:-}" ] && taskset -pc 1 $p >/dev/null
done
# PIN=1 (with NAPI=1): the checkers on CPU 0, the servers and their napi
# threads on CPU 1, like servers on other machines: a checker is then
# never preempted by the kernel work its own packets cause for the servers.
CHK_PIN="" SRV_PIN=""
[ -n "${PIN:-}" ] && CHK_PIN="taskset -c 0" SRV_PIN="taskset -c 1"
ip netns exec $S $NICE $SRV_PIN "$B/bench/health/rs_server" 198.51.100.101 $NA $BASE_PORT $NP 1000 > "$T/rs.out" &
RS=$!; PIDS+=($RS)
for _ in $(seq 100); do grep -q "RS READY" "$T/rs.out" && break; sleep 0.1; done

cpu_ticks() { awk '{print $14 + $15}' /proc/$1/stat; }
# All napi kernel threads of this run's switch ports, summed.
napi_ticks() {
	local t=0 p
	for p in $(pgrep "^napi/${P}" || true); do t=$((t + $(cpu_ticks $p))); done
	echo $t
}
sys_ticks() { awk '{print $15}' /proc/$1/stat; }
rss_kb() { awk '/VmRSS/ {print $2}' /proc/$1/status; }
HZ=$(getconf CLK_TCK)

phase() {
	local type=$1
	# directord: one service, N real servers on the grid.
	{
		echo "service bench-$type"
		if [ $type = tcp ]; then
			echo "check type=tcp interval=1000 timeout=900 rise=1 fall=3 initial=up"
		else
			echo "check type=http interval=1000 timeout=900 rise=1 fall=3 initial=up path=/ status=200"
		fi
		echo "rs_grid 198.51.100.101 $NA $BASE_PORT $NP"
	} > "$T/dd.conf"
	# keepalived: one virtual server per port, NA real servers each (NAT, so
	# the real server port may differ), the same check every second.
	{
		echo "global_defs { router_id bench; max_auto_priority -1 }"
		for j in $(seq 0 $((NP - 1))); do
			port=$((BASE_PORT + j))
			echo "virtual_server 192.0.2.1 $port {"
			echo "  delay_loop 1"
			echo "  lb_kind NAT"
			echo "  protocol TCP"
			for i in $(seq 0 $((NA - 1))); do
				if [ $type = tcp ]; then
					echo "  real_server 198.51.100.$((101 + i)) $port { TCP_CHECK { connect_timeout 1 retry 3 } }"
				else
					echo "  real_server 198.51.100.$((101 + i)) $port { HTTP_GET { url { path / status_code 200 } connect_timeout 1 retry 3 } }"
				fi
			done
			echo "}"
		done
	} > "$T/ka.conf"

	local dd
	if [ -z "${NODD:-}" ]; then
		ip netns exec $D $NICE $CHK_PIN "$B/bench/health/health_runner" -q -s 5 ${COLLECT_MS:+-c $COLLECT_MS} "$T/dd.conf" > "$T/dd.out" 2> "$T/dd.err" &
		dd=$!; PIDS+=($dd)
	else
		dd=$$ # placeholder: keepalived alone in this phase
		: > "$T/dd.out"; : > "$T/dd.err"
	fi
	[ -n "${KEEP:-}" ] && cp "$T/dd.conf" "$T/ka.conf" "$KEEP/"
	local ka="" kc=""
	if [ -z "${NOKA:-}" ]; then
		ip netns exec $K $NICE $CHK_PIN env LD_PRELOAD="$T/fake_ipvs.so" keepalived -n -l -C -f "$T/ka.conf" \
			-p "$T/ka.pid" -c "$T/ka-check.pid" -r "$T/ka-vrrp.pid" > "$T/ka.out" 2>&1 &
		ka=$!; PIDS+=($ka)
		for _ in $(seq 100); do
			[ -s "$T/ka-check.pid" ] && kc=$(cat "$T/ka-check.pid") && [ -d /proc/$kc ] && break
			sleep 0.1
		done
		[ -n "$kc" ] || { echo "keepalived checker did not start" >&2; tail "$T/ka.out" >&2; exit 1; }
	else
		kc=$$ # placeholder: figures for keepalived are meaningless in this mode
		: > "$T/ka.out"
	fi

	sleep "$WARM"
	kill -USR1 $RS   # drop the warm-up figures
	local dd0 kc0 rs0 t0 t1 dd1 kc1 rs1 nt0 nt1
	dd0=$(cpu_ticks $dd); kc0=$(cpu_ticks $kc); rs0=$(cpu_ticks $RS); nt0=$(napi_ticks); t0=$(date +%s.%N)
	local dds0 kcs0 dds1 kcs1
	dds0=$(sys_ticks $dd); kcs0=$(sys_ticks $kc)
	local mark
	mark=$(wc -l < "$T/dd.out")
	if [ -n "${PERF:-}" ]; then
		perf record -q -g -o "$PERF/perf-$type.data" -p $dd -- sleep "$DUR" >/dev/null 2>&1
	else
		sleep "$DUR"
	fi
	dd1=$(cpu_ticks $dd); kc1=$(cpu_ticks $kc); rs1=$(cpu_ticks $RS); nt1=$(napi_ticks); t1=$(date +%s.%N)
	dds1=$(sys_ticks $dd); kcs1=$(sys_ticks $kc)
	local ddrss karss
	ddrss=$(rss_kb $dd); karss=$(rss_kb $kc)
	local rsmark
	rsmark=$(grep -c "RS END" "$T/rs.out" || true)
	kill -USR1 $RS
	for _ in $(seq 50); do [ "$(grep -c 'RS END' "$T/rs.out")" -gt "$rsmark" ] && break; sleep 0.1; done

	local el
	el=$(echo "$t1 - $t0" | bc -l)
	local ddcpu kacpu
	ddcpu=$(echo "100 * ($dd1 - $dd0) / $HZ / $el" | bc -l)
	kacpu=$(echo "100 * ($kc1 - $kc0) / $HZ / $el" | bc -l)
	# directord's own slip: worst 5 s window in the measured period.
	local ddslip
	ddslip=$(tail -n +"$((mark + 1))" "$T/dd.out" | awk -F'slip_p99_ms=' '/^STATS/ {split($2, a, " "); if (a[1] > m) m = a[1]} END {print m + 0}')
	local ddmax
	ddmax=$(tail -n +"$((mark + 1))" "$T/dd.out" | awk -F'slip_max_ms=' '/^STATS/ {split($2, a, " "); if (a[1] > m) m = a[1]} END {print m + 0}')
	local ddline kaline
	ddline=$(awk -v n="$rsmark" '/RS END/ {c++} c == n && /peer=198.51.100.1 / {print}' "$T/rs.out")
	kaline=$(awk -v n="$rsmark" '/RS END/ {c++} c == n && /peer=198.51.100.2 / {print}' "$T/rs.out")
	local downs
	downs=$(grep -c "DOWN" "$T/dd.err" || true)
	local kadown
	kadown=$(grep -c "failed" "$T/ka.out" || true)
	local rscpu
	rscpu=$(echo "100 * ($rs1 - $rs0) / $HZ / $el" | bc -l)
	local ntcpu
	ntcpu=$(echo "100 * ($nt1 - $nt0) / $HZ / $el" | bc -l)
	printf '%s checks, %d real servers, %.0f s measured after %d s warm-up; load average %s; real servers used %.0f %% CPU, napi threads %.0f %%\n' \
		"$type" $N "$el" "$WARM" "$(cut -d' ' -f1-3 /proc/loadavg)" "$rscpu" "$ntcpu"
	local ddsys kasys
	ddsys=$(echo "100 * ($dds1 - $dds0) / $HZ / $el" | bc -l)
	kasys=$(echo "100 * ($kcs1 - $kcs0) / $HZ / $el" | bc -l)
	[ -z "${NODD:-}" ] && printf '  directord : CPU %5.1f %% (sys %4.1f)  RSS %6.1f MB  own loop slip p99 (worst 5 s window) %.1f ms, max %.1f ms; DOWN lines: %s\n' \
		"$ddcpu" "$ddsys" "$(echo "$ddrss / 1024" | bc -l)" "$ddslip" "$ddmax" "$downs"
	[ -z "${NOKA:-}" ] && printf '  keepalived: CPU %5.1f %% (sys %4.1f)  RSS %6.1f MB  (checker process); failure lines: %s\n' \
		"$kacpu" "$kasys" "$(echo "$karss / 1024" | bc -l)" "$kadown"
	# CPU per check: what each checker spent over the connections the
	# real servers saw from it (a checker that falls behind does fewer).
	local ddconns kaconns
	ddconns=$(echo "$ddline" | sed -n 's/.*conns=\([0-9]*\).*/\1/p'); ddconns=${ddconns:-0}
	kaconns=$(echo "$kaline" | sed -n 's/.*conns=\([0-9]*\).*/\1/p'); kaconns=${kaconns:-0}
	printf '  checks/s: directord %.0f, keepalived %.0f; CPU per check: directord %.1f us, keepalived %.1f us\n' \
		"$(echo "$ddconns / $el" | bc -l)" "$(echo "$kaconns / $el" | bc -l)" \
		"$(echo "if ($ddconns > 0) ($dd1 - $dd0) / $HZ * 1000000 / $ddconns else 0" | bc -l)" \
		"$(echo "if ($kaconns > 0) ($kc1 - $kc0) / $HZ * 1000000 / $kaconns else 0" | bc -l)"
	echo "  seen by the real servers (gap between checks of one server, minus 1 s):"
	[ -z "${NODD:-}" ] && echo "    directord : ${ddline#RS }"
	[ -z "${NOKA:-}" ] && echo "    keepalived: ${kaline#RS }"
	[ -n "${KEEP:-}" ] && cp "$T/dd.out" "$T/dd.err" "$T/ka.out" "$T/rs.out" "$KEEP/" || true
	[ -z "${NODD:-}" ] && kill $dd 2>/dev/null || true
	[ -n "$ka" ] && kill $ka 2>/dev/null || true
	[ -z "${NODD:-}" ] && wait $dd 2>/dev/null || true
	[ -n "$ka" ] && wait $ka 2>/dev/null || true
	rm -f "$T/ka.pid" "$T/ka-check.pid" "$T/ka-vrrp.pid"
}

echo "== health checker benchmark: $(date -u +%FT%TZ), $(nproc) CPUs, $(uname -r), load average $(cut -d' ' -f1-3 /proc/loadavg), server side $([ -n "${NAPI:-}" ] && echo "on napi threads" || echo inline)"
if [ -n "${SEQ:-}" ]; then
	# One checker at a time against the same servers: on a 2-CPU host two
	# checkers at 10,000 checks/s each (plus the servers) compete for the
	# CPUs and each one's slip measures the other. Same servers, same run,
	# the phases back to back.
	for type in tcp http; do
		NOKA=1 phase $type
		NODD=1 phase $type
	done
else
	phase tcp
	phase http
fi
