# SPDX-License-Identifier: GPL-2.0-or-later
"""keepalived's notify_up / notify_down with the real daemon and real IPVS
(in the QEMU guest: a director with services needs IPVS): a real server
that comes up or goes down runs its command with DIRECTORD_SERVICE,
DIRECTORD_REAL_SERVER, DIRECTORD_STATE, DIRECTORD_REASON, DIRECTORD_UP and
DIRECTORD_TOTAL; a real server's own command overrides its service's, and
"" turns it off.

A standalone directord (no peer) with one NAT service and two real
servers, as in test_drain_removal.py. Runs inside the guest (pytest
process)."""
import os

import nslab as labmod
from nslab import poll

VIP = "192.0.2.100"
RS = ["198.51.100.11", "198.51.100.12"]

CONF = """
node = "lb1";
pid_file = "{dir}/directord.pid";
scripts = {{ user = "root"; }};
heartbeat = {{ state_file = "{dir}/generation"; }};
clusters = (
  {{ name = "web";
     vips = ( {{ address = "{vip}/24"; interface = "eth0"; }} );
     services = (
       {{ name = "http"; protocol = "tcp"; address = "{vip}"; port = 80;
          scheduler = "rr"; forward = "nat";
          check = {{ type = "tcp"; interval_ms = 500; timeout_ms = 300; rise = 1; fall = 1; }};
          notify_up = "{rec} svc-up"; notify_down = "{rec} svc-down";
          real_servers = ( {{ address = "{rs1}"; port = 80; }},
                           {{ address = "{rs2}"; port = 80; notify_up = "{rec} rs2-up"; notify_down = ""; }} ); }}
     );
  }}
);
"""

RECORDER = """#!/bin/sh
echo "$1 $DIRECTORD_SERVICE $DIRECTORD_REAL_SERVER $DIRECTORD_STATE $DIRECTORD_UP/$DIRECTORD_TOTAL $DIRECTORD_REASON" >> {out}
"""


def test_notify_up_and_down(lab, ipvs_modules):
    cli, d, rs = labmod.nat_site(lab)
    out = os.path.join(lab.dir, "notify.out")
    rec = os.path.join(lab.dir, "rec.sh")
    with open(rec, "w") as f:
        f.write(RECORDER.format(out=out))
    os.chmod(rec, 0o755)
    conf = os.path.join(lab.dir, "directord.conf")
    with open(conf, "w") as f:
        f.write(CONF.format(dir=lab.dir, vip=VIP, rs1=RS[0], rs2=RS[1], rec=rec))
    httpd = [lab.http_server(r, RS[i], 80, body=f"rs{i + 1}\n") for i, r in enumerate(rs)]
    daemon = d.spawn(os.path.join(labmod.build_dir(), "directord/directord"),
                     "-n", "-l", "stderr", "-f", conf, name="directord")

    def records():
        try:
            with open(out) as f:
                return f.read().splitlines()
        except FileNotFoundError:
            return []

    def wait_records(n, what):
        try:
            return poll(lambda: records(), timeout=60, what=what, until=lambda r: len(r) >= n)
        except TimeoutError as e:
            raise AssertionError(f"{e}\nrecords: {records()}\ndirectord log:\n{daemon.log()}")

    # Both come up (initial "down"): each runs its own or the service's
    # notify_up; the counts are after the change, in whichever order.
    got = wait_records(2, "two notify_up runs")
    assert sorted(r.split(" ", 4)[:4] for r in got) == [
        ["rs2-up", "http", f"{RS[1]}:80", "up"], ["svc-up", "http", f"{RS[0]}:80", "up"]], got
    assert sorted(r.split()[4] for r in got) == ["1/2", "2/2"], got
    assert all(r.endswith(" ok") for r in got), got

    # rs1 goes down: the service's notify_down, with the check's reason.
    httpd[0].stop()
    got = wait_records(3, "notify_down for rs1")
    assert got[2].startswith(f"svc-down http {RS[0]}:80 down 1/2 "), got
    assert len(got[2].split(" ", 5)[5]) > 0, got

    # rs2 goes down: its notify_down is "" (none).
    httpd[1].stop()
    poll(lambda: f"real server {RS[1]}:80 DOWN" in daemon.log(), timeout=60, what="rs2 DOWN in the log")
    httpd[0] = lab.http_server(rs[0], RS[0], 80, body="rs1\n")
    got = wait_records(4, "notify_up for rs1 again")
    assert got[3] == f"svc-up http {RS[0]}:80 up 1/2 ok", got
    assert len(records()) == 4, records()
    assert daemon.alive(), daemon.log()
