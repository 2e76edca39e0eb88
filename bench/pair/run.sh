#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-or-later
# bench/pair/run.sh: boots ONE QEMU guest (tests/vm/run-in-guest) and runs
# bench/pair/run.py in it: directord against keepalived, same lab, same boot.
# Run from the top build folder after `make`; arguments go to run.py
# (e.g. --runs 3). Prints the Markdown table for bench/RESULTS.md.
here=$(cd "$(dirname "$0")/../.." && pwd)
DD_SRCDIR=$here
DD_BUILDDIR=${DD_BUILDDIR:-$(pwd)}
PYTHONDONTWRITEBYTECODE=1
export DD_SRCDIR DD_BUILDDIR PYTHONDONTWRITEBYTECODE
exec "$here/tests/vm/run-in-guest" --timeout "${DD_VM_TIMEOUT:-1800}" --keep "$here" --keep "$DD_BUILDDIR" -- \
	/usr/bin/python3 "$here/bench/pair/run.py" "$@"
