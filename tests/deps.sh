#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-or-later
# tests/deps.sh: install everything directord needs to build, test and run
# its labs on a fresh Debian 12 machine. Idempotent; needs root.
set -e
PKGS="build-essential autoconf automake libtool pkg-config
 libev-dev libconfig-dev libssl-dev libnl-3-dev libnl-genl-3-dev libnl-route-3-dev check
 clang libfuzzer-14-dev libclang-rt-14-dev
 iproute2 iputils-ping arping psmisc procps curl openssl
 python3 python3-pytest python3-pyroute2 python3-scapy
 tcpdump nginx rsyslog stress-ng ethtool nftables
 keepalived ipvsadm bird2 exabgp
 snmpd snmptrapd snmp libsnmp-dev smitools
 qemu-system-x86 busybox-static cpio kmod
 groff-base man-db
 debhelper dpkg-dev lintian mmdebstrap"
missing=""
for p in $PKGS; do
	dpkg-query -W -f='${Status}\n' "$p" 2>/dev/null | grep -q '^install ok installed' || missing="$missing $p"
done
[ -z "$missing" ] && exit 0
if [ "$(id -u)" != 0 ]; then
	echo "tests/deps.sh: missing packages:$missing; run as root to install them" >&2
	exit 1
fi
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
# shellcheck disable=SC2086
apt-get install -y -qq --no-install-recommends $missing >/dev/null
# Debian starts these on install; directord's tests run their own instances.
for s in nginx keepalived rsyslog bird snmpd snmptrapd; do
	systemctl stop "$s" 2>/dev/null || service "$s" stop 2>/dev/null || true
done
