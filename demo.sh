#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-or-later
# demo.sh: the README's first command. On a fresh Debian 12 machine, as
# root: installs what directord needs (tests/deps.sh), builds it (in
# build/demo, or in place if the tree is configured there), and runs a director pair in a lab of network namespaces
# (tests/lab/demo.py): a client, two directors running directord, three
# real servers behind IPVS NAT, a private rsyslogd. It shows the traffic
# being balanced, kills the active director, and prints a timeline: the
# gap the client saw, how many connections survived, the syslog alerts.
#
# The lab needs IPVS. If this kernel has it (/proc/net/ip_vs, or
# `modprobe ip_vs` works), the lab runs here; otherwise in a QEMU guest
# booting Debian's own kernel (tests/vm/, about 70 MB downloaded once).
# Finishes on its own in a few minutes and removes everything it set up.
set -u
here=$(cd "$(dirname "$0")" && pwd)
cd "$here" || exit 1
if [ "$(id -u)" != 0 ]; then
	echo "demo.sh: the lab creates network namespaces and programs IPVS; run it as root" >&2
	exit 1
fi
echo "== installing dependencies (tests/deps.sh)"
tests/deps.sh || exit 1
[ -x configure ] || autoreconf -fi >/dev/null 2>&1 || { echo "demo.sh: autoreconf failed" >&2; exit 1; }
if [ -f config.status ]; then
	# A developer's tree, configured in place: build there.
	build=$here
else
	build=$here/build/demo
	mkdir -p "$build"
	( cd "$build" && { [ -f Makefile ] || ../../configure -q; } ) ||
		{ echo "demo.sh: configure failed" >&2; exit 1; }
fi
echo "== building directord in $build"
( cd "$build" && make -s -j"$(nproc)" directord/directord ) || { echo "demo.sh: build failed" >&2; exit 1; }

DD_SRCDIR=$here
DD_BUILDDIR=$build
PYTHONDONTWRITEBYTECODE=1
export DD_SRCDIR DD_BUILDDIR PYTHONDONTWRITEBYTECODE
if [ -e /proc/net/ip_vs ] || modprobe ip_vs 2>/dev/null; then
	echo "== this kernel has IPVS: running the lab here"
	exec timeout -k 10 600 /usr/bin/python3 tests/lab/demo.py
fi
echo "== this kernel has no IPVS: running the lab in a QEMU guest with Debian's kernel"
exec tests/vm/run-in-guest --timeout 900 -- /usr/bin/python3 tests/lab/demo.py
