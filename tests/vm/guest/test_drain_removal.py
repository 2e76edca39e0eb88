# SPDX-License-Identifier: GPL-2.0-or-later
"""removal = "drain" with the real daemon and real IPVS (in the QEMU guest),
read back with ipvsadm -Ln: a real server that fails its check goes to
weight 0, is deleted once drain_ms is over, and is added again with its
weight when it comes back. Every change's log line names its cause, a
reload's weight change included ("config", not the health event that
touched the server last).

A standalone directord (no peer: it holds the VIP lab.nat_site already put
on the director) with one NAT service and two real servers. Runs inside the
guest (pytest process), one Lab per test."""
import os
import re
import signal

import nslab as labmod
from nslab import poll

VIP = "192.0.2.100"
RS = ["198.51.100.11", "198.51.100.12"]
KEY = f"TCP {VIP}:80"

CONF = """
node = "lb1";
pid_file = "{dir}/directord.pid";
heartbeat = {{ state_file = "{dir}/generation"; }};
clusters = (
  {{ name = "web";
     vips = ( {{ address = "{vip}/24"; interface = "eth0"; }} );
     services = (
       {{ name = "http"; protocol = "tcp"; address = "{vip}"; port = 80;
          scheduler = "wrr"; forward = "nat";
          removal = "drain"; drain_ms = {drain_ms};
          check = {{ type = "tcp"; interval_ms = 500; timeout_ms = 300; rise = 1; fall = 2; }};
          real_servers = ( {{ address = "{rs1}"; port = 80; weight = {w1}; }},
                           {{ address = "{rs2}"; port = 80; weight = 1; }} ); }}
     );
  }}
);
"""


def write_conf(lab, drain_ms, w1):
    path = os.path.join(lab.dir, "directord.conf")
    with open(path, "w") as f:
        f.write(CONF.format(dir=lab.dir, vip=VIP, rs1=RS[0], rs2=RS[1], drain_ms=drain_ms, w1=w1))
    return path


def weights(d):
    """{"addr:port": weight} of the service, or None while it is absent."""
    svc = labmod.ipvs_service(d, KEY)
    return None if svc is None else {x.key: x.weight for x in svc.dests}


def wait_weights(d, daemon, want, what):
    """Poll ipvsadm -Ln until the service's destinations and weights are `want`."""
    try:
        return poll(lambda: weights(d), timeout=60, what=what, until=lambda got: got == want)
    except TimeoutError as e:
        raise AssertionError(f"{e}\nipvsadm -Ln:\n{d.ipvsadm('-Ln')}\n"
                             f"directord log:\n{daemon.log()}")


def log_has(daemon, line):
    return re.search(rf"ipvs: service http \(tcp {re.escape(VIP)}:80\): {line}$", daemon.log(), re.M)


def test_failed_server_drains_then_goes_and_comes_back(lab, ipvs_modules):
    cli, d, rs = labmod.nat_site(lab)
    httpd = [lab.http_server(r, RS[i], 80, body=f"rs{i + 1}\n") for i, r in enumerate(rs)]
    conf = write_conf(lab, drain_ms=4000, w1=3)
    daemon = d.spawn(os.path.join(labmod.build_dir(), "directord/directord"),
                     "-n", "-l", "stderr", "-f", conf, name="directord")
    rs1, rs2 = f"{RS[0]}:80", f"{RS[1]}:80"

    # 1. Both checks pass: both servers at their weights.
    wait_weights(d, daemon, {rs1: 3, rs2: 1}, "both real servers at their weights")
    assert cli.http_get(f"http://{VIP}/").strip() in ("rs1", "rs2")

    # 2. rs1 stops: weight 0 first (its connections may finish), then,
    # drain_ms after it went down, deleted.
    httpd[0].stop()
    wait_weights(d, daemon, {rs1: 0, rs2: 1}, "rs1 at weight 0")
    wait_weights(d, daemon, {rs2: 1}, "rs1 deleted once drain_ms is over")
    assert log_has(daemon, rf"real server {RS[0]}:80 weight 3 -> 0 \(health DOWN\)"), daemon.log()
    assert log_has(daemon, rf"real server {RS[0]}:80 deleted \(drain timeout\)"), daemon.log()
    assert cli.http_get(f"http://{VIP}/").strip() == "rs2"

    # 3. rs1 comes back: added again with its configured weight.
    httpd[0] = lab.http_server(rs[0], RS[0], 80, body="rs1\n")
    wait_weights(d, daemon, {rs1: 3, rs2: 1}, "rs1 added back at weight 3")
    assert log_has(daemon, rf"real server {RS[0]}:80 added, nat, weight 3 \(health UP\)"), daemon.log()

    # 4. A reload changes rs1's weight: the cause is the config, although
    # the last event that touched rs1 was its health coming UP.
    write_conf(lab, drain_ms=600000, w1=5)
    daemon.signal(signal.SIGHUP)
    wait_weights(d, daemon, {rs1: 5, rs2: 1}, "rs1 at its new weight after the reload")
    assert log_has(daemon, rf"real server {RS[0]}:80 weight 3 -> 5 \(config\)"), daemon.log()
    assert not log_has(daemon, rf"real server {RS[0]}:80 weight 3 -> 5 \(health UP\)"), daemon.log()

    # 5. With a long drain_ms, a server that recovers in time is never
    # deleted: weight 0, then its weight back.
    httpd[0].stop()
    wait_weights(d, daemon, {rs1: 0, rs2: 1}, "rs1 at weight 0 again")
    httpd[0] = lab.http_server(rs[0], RS[0], 80, body="rs1\n")
    wait_weights(d, daemon, {rs1: 5, rs2: 1}, "rs1 back at weight 5")
    assert log_has(daemon, rf"real server {RS[0]}:80 weight 0 -> 5 \(health UP\)"), daemon.log()
    assert len(re.findall(rf"real server {re.escape(RS[0])}:80 deleted", daemon.log())) == 1, daemon.log()

    assert daemon.alive(), daemon.log()
