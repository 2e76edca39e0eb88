#!/bin/sh
# tests/net/run_health.sh: make check entry for the health namespace tests.
# Skips (77) without root; otherwise runs pytest on the built runner.
[ "$(id -u)" = 0 ] || exit 77
here=$(cd "$(dirname "$0")" && pwd)
DD_BUILDDIR=${DD_BUILDDIR:-$(pwd)} exec /usr/bin/python3 -m pytest -q -p no:cacheprovider "$here/test_health.py"
