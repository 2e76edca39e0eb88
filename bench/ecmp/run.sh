#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-or-later
# bench/ecmp/run.sh: the ECMP withdrawal benchmark of issue 14 (see
# bench/ecmp/bench.py), directord + BIRD 2 against ExaBGP 4.2, on the host
# kernel; then, with --guest, the connection-survival figures in ONE QEMU
# guest (bench/ecmp/guest.py: real IPVS, 1 of 3 directors lost and back).
# Run as root from the top build folder of a build WITHOUT sanitizers
# (`../../configure && make`); arguments go to bench.py (e.g. --reps 5).
# Raw outputs go to bench/ecmp/results/ (RESULTS_DIR to change).
set -eu
here=$(cd "$(dirname "$0")/../.." && pwd)
build=$(pwd)
out=${RESULTS_DIR:-$here/bench/ecmp/results}
mkdir -p "$out"
stamp=$(date -u +%Y%m%dT%H%M%SZ)
guest=0
if [ "${1:-}" = "--guest" ]; then guest=1; shift; fi
DIRECTORD=$build/directord/directord
DIRECTORCTL=$build/directord/directorctl
[ -x "$DIRECTORD" ] || { echo "run.sh: no $DIRECTORD (run from a build folder after make)" >&2; exit 1; }
PYTHONDONTWRITEBYTECODE=1
export DIRECTORD DIRECTORCTL PYTHONDONTWRITEBYTECODE
/usr/bin/python3 "$here/bench/ecmp/bench.py" --out "$out/withdrawal-$stamp.json" "$@" 2>&1 |
	tee "$out/withdrawal-$stamp.txt"
if [ $guest = 1 ]; then
	DD_SRCDIR=$here DD_BUILDDIR=$build
	export DD_SRCDIR DD_BUILDDIR
	"$here/tests/vm/run-in-guest" --timeout "${DD_VM_TIMEOUT:-1800}" --keep "$here" --keep "$build" -- \
		/usr/bin/python3 "$here/bench/ecmp/guest.py" 2>&1 | tee "$out/guest-$stamp.txt"
fi
