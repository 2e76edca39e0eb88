#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-or-later
# bench/conf/run.sh BUILDDIR [SIZES]: time `directord -t` and dd_config_load()
# on configs of N real servers in one service (and 50,000 over 100
# services), from bench/conf/gen.py. Use a build without sanitizers:
#   mkdir -p build/rel && cd build/rel && ../../configure -q CFLAGS="-O2 -g" && make -j2
#   sh bench/conf/run.sh build/rel
set -e
here=$(cd "$(dirname "$0")" && pwd)
src=$(cd "$here/../.." && pwd)
build=$(cd "${1:?usage: run.sh BUILDDIR [SIZES]}" && pwd)
sizes=${2:-"10000 50000 200000"}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
cc -O2 -I"$src" -I"$build" -o "$tmp/load_time" "$here/load_time.c" \
   "$build/libddconf.a" "$build/libddutil.a" $(pkg-config --libs libconfig libcrypto) -lev
for n in $sizes; do
	python3 "$here/gen.py" "$n" > "$tmp/rs$n.conf"
	/usr/bin/time -f "directord -t, $n real servers in 1 service: %e s, %M KB max RSS" \
		"$build/directord/directord" -t -f "$tmp/rs$n.conf" > /dev/null
	"$tmp/load_time" "$tmp/rs$n.conf" 3
done
python3 "$here/gen.py" 50000 100 > "$tmp/rs50000x100.conf"
/usr/bin/time -f "directord -t, 50000 real servers in 100 services: %e s, %M KB max RSS" \
	"$build/directord/directord" -t -f "$tmp/rs50000x100.conf" > /dev/null
"$tmp/load_time" "$tmp/rs50000x100.conf" 3
