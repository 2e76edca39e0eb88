#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-or-later
# run-tests.sh: the whole test suite, from a fresh Debian 12 machine.
# Installs what it needs, builds with -Werror, ASan and UBSan and the SNMP
# subagent (--enable-snmp) in build/check,
# runs `make check` (unit tests, namespace tests on this kernel, and the IPVS
# tests in a QEMU guest running Debian's kernel), builds the fuzz targets with
# clang and replays their corpora, builds the Debian package and installs it
# into a fresh root (tests/pkg/package.test), and ends with 'N passed, N failed'.
set -u
here=$(cd "$(dirname "$0")" && pwd)
cd "$here"
if [ "$(id -u)" != 0 ]; then
	echo "run-tests.sh: the tests create network namespaces and boot a VM; run as root (sudo)" >&2
	exit 1
fi
tests/deps.sh || exit 1
[ -x configure ] || autoreconf -fi || exit 1

jobs=${DD_JOBS:-2}
status=0
mkdir -p build/check
( cd build/check &&
  { [ -f Makefile ] || ../../configure -q --enable-werror --enable-sanitizers --enable-snmp; } &&
  make -s -j"$jobs" ) || { echo "0 passed, 1 failed"; exit 1; }
( cd build/check && make -s -j"$jobs" check ) || status=1

# Fuzz targets: built with clang/libFuzzer, each replays its seed corpus and
# then fuzzes for a bounded time, so a parser regression fails the run.
mkdir -p build/fuzz
( cd build/fuzz &&
  { [ -f Makefile ] || ../../configure -q CC=clang --enable-fuzzer; } &&
  make -s -j"$jobs" fuzz-check ) || status=1

# The Debian package, built from a clean copy, checked by lintian, installed
# into a fresh Debian root and purged. Outside `make check`, which would
# build the tree a third time inside distcheck; recorded like an automake
# test so that summary.py counts it.
mkdir -p build/pkg
if tests/pkg/package.test "$here" > build/pkg/package.log 2>&1; then r=PASS; else r=FAIL; status=1; tail -40 build/pkg/package.log; fi
printf ':test-result: %s\n' "$r" > build/pkg/package.trs
echo "$r: tests/pkg/package.test"

/usr/bin/python3 tests/summary.py build
exit $status
