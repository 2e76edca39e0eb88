# SPDX-License-Identifier: GPL-2.0-or-later
"""A standalone director (no peer, no key) in the heartbeat lab
(tests/net/hbnet.py): the real directord holds its cluster's VIPs, as a
lone keepalived node becomes MASTER.

Covers: init -> active at start (alert line, notify command), the VIPs on
eth0 and reachable from the client, whose neighbour entries carry the
director's MAC, gratuitous ARP and unsolicited NA on the wire; no keepalive
sent and no state file written; directorctl status without a peer; the
tracked interface cut (fault, VIPs removed) and restored (active again,
announced again); a gateway unreachable from the start (never active until
it answers); SIGTERM removes the VIPs; reloads to a pair and back, and a
bad one that keeps the running configuration.

Needs root."""
import json
import os
import re
import signal
import sys

import pytest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import hbnet  # noqa: E402
from hbnet import VIP4, VIP6, ctl, hold, roles, wait_for  # noqa: E402

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="needs root for namespaces")

GATEWAY = 'gateway = "192.0.2.50"; ping_interval_ms = 100; ping_timeout_ms = 100; ping_fall = 3;'


@pytest.fixture
def lab():
    lab = hbnet.Lab()
    yield lab
    lab.close()


def has_vips(lab, node):
    return lab.has_vip(node) and lab.has_vip(node, VIP6)


def no_vips(lab, node):
    return not lab.has_vip(node) and not lab.has_vip(node, VIP6)


def test_standalone_holds_vips_and_follows_its_interface(lab):
    cap = lab.tcpdump("client", "arp or (icmp6 and ip6[40] == 136) or udp port 7694")
    lab.start("lb1", 150, standalone=True, extra='track_interfaces = ( "eth0" );')
    wait_for(lambda: has_vips(lab, "lb1"), 10, "lb1 to add the VIPs")
    # The role change is an alert, and the notify command ran for it.
    wait_for(lambda: re.search(r"alert\s+failover: cluster web: init -> active: no peer configured$",
                               lab.log("lb1"), re.M), 10, "the alert line")
    wait_for(lambda: lab.notify_records("lb1"), 10, "notify command")
    rec = lab.notify_records("lb1")[0]
    assert (rec["DIRECTORD_CLUSTER"], rec["DIRECTORD_OLD_ROLE"], rec["DIRECTORD_ROLE"],
            rec["DIRECTORD_REASON"], rec["DIRECTORD_NODE"]) == \
        ("web", "init", "active", "no peer configured", "lb1")

    # The client reaches the VIPs at lb1's MAC, announced on the wire.
    mac1 = lab.mac("lb1")
    wait_for(lambda: lab.announced(cap, mac1), 10, "gratuitous ARP and unsolicited NA from lb1")
    assert lab.client_ping(VIP4) and lab.client_ping(VIP6)
    assert lab.client_neigh(VIP4) == mac1 and lab.client_neigh(VIP6) == mac1

    # Nobody to talk to: no keepalive on the wire, no generation on disk.
    assert not re.search(r"\.7694[: ]", open(cap).read())
    assert not os.path.exists(os.path.join(lab.dir, "lb1.generation"))
    r = ctl(lab, "lb1", "--json", "status")
    assert r.returncode == 0, r.stderr
    j = json.loads(r.stdout)
    web = j["clusters"][0]
    assert j["peer"] is None and j["available"]["failover"] is True
    assert (web["role"], web["vips_up"], web["peer_role"]) == ("active", True, None)
    assert "peer: none configured" in ctl(lab, "lb1", "status").stdout

    # The tracked interface loses its carrier: fault, VIPs gone.
    lab.link("a0", False)
    wait_for(lambda: ("active", "fault", "interface eth0 down") in roles(lab.log("lb1")), 10, "lb1 in fault")
    wait_for(lambda: no_vips(lab, "lb1"), 10, "lb1 to remove the VIPs")
    assert json.loads(ctl(lab, "lb1", "--json", "status").stdout)["clusters"][0]["role"] == "fault"
    # Back: active again at once, and announced again.
    start = len(open(cap).read())
    lab.link("a0", True)
    wait_for(lambda: roles(lab.log("lb1"))[-2:] == [("fault", "standby", "fault cleared"),
                                                    ("standby", "active", "no peer configured")],
             10, "lb1 active again")
    wait_for(lambda: has_vips(lab, "lb1"), 10, "lb1 to add the VIPs again")
    wait_for(lambda: lab.announced(cap, mac1, start), 10, "announcement after the fault")
    wait_for(lambda: lab.client_ping(VIP4), 10, "client reaches the VIP again")

    # SIGTERM: nobody to hand over to, so the VIPs go with the director.
    assert lab.stop("lb1") == 0
    assert no_vips(lab, "lb1")
    assert roles(lab.log("lb1"))[-1] == ("active", "stopped", "directord is stopping; no peer configured")


def test_standalone_without_gateway_stays_in_fault(lab):
    hbnet.sh("ip", "-n", lab.ns["lb1"], "route", "add", "blackhole", "192.0.2.50/32")
    lab.start("lb1", 150, standalone=True, extra=GATEWAY)
    wait_for(lambda: ("init", "fault", "gateway 192.0.2.50 unreachable (3 probes lost)") in roles(lab.log("lb1")),
             10, "lb1 in fault from the start")
    hold(lambda: no_vips(lab, "lb1"), 0.5, "lb1 without the VIPs")
    hbnet.sh("ip", "-n", lab.ns["lb1"], "route", "del", "blackhole", "192.0.2.50/32")
    wait_for(lambda: has_vips(lab, "lb1"), 10, "lb1 active once the gateway answers")
    assert roles(lab.log("lb1"))[-2:] == [("fault", "standby", "fault cleared"),
                                          ("standby", "active", "no peer configured")]


def reload(lab, node, what):
    """SIGHUP; returns the log from this reload on, once it is decided."""
    def decided():
        return re.search(r"reload (applied|rejected)", lab.log(node)[start:])
    start = len(lab.log(node))
    lab.procs[node].signal(signal.SIGHUP)
    wait_for(decided, 10, what)
    return lab.log(node)[start:]


def test_reload_to_pair_and_back(lab):
    lab.start("lb1", 150, standalone=True)
    wait_for(lambda: has_vips(lab, "lb1"), 10, "lb1 active")
    # lb2 is configured as lb1's peer but hears nothing from it yet.
    lab.start("lb2", 100)
    wait_for(lambda: has_vips(lab, "lb2"), 10, "lb2 active: lb1 sends nothing")

    # A bad file (the peer's key is missing) is refused as file:line.
    conf = lab.conf("lb1", 150)
    with open(conf) as f:
        text = f.read()
    with open(conf, "w") as f:
        f.write(text.replace("/hb.key", "/missing.key"))
    out = reload(lab, "lb1", "the bad reload")
    assert re.search(rf"{re.escape(conf)}:\d+: key file \S+/missing.key does not exist", out), out
    assert "reload rejected" in out and "configuration reloaded" not in out, out

    # To the pair: lb1 keeps the cluster and lb2 (lower priority) yields.
    lab.conf("lb1", 150)
    out = reload(lab, "lb1", "the reload to a pair")
    assert "reload applied" in out, out
    wait_for(lambda: any(r[:2] == ("active", "standby") and r[2].startswith("split brain: peer lb1 is active too")
                         for r in roles(lab.log("lb2"))), 10, "lb2 to yield to lb1")
    wait_for(lambda: no_vips(lab, "lb2"), 10, "lb2 to remove the VIPs")
    assert has_vips(lab, "lb1")
    assert os.path.exists(os.path.join(lab.dir, "lb1.generation"))

    # Back to standalone: lb1 goes silent and keeps the VIPs; lb2 takes over.
    n1 = len(roles(lab.log("lb1")))
    lab.conf("lb1", 150, standalone=True)
    assert "reload applied" in reload(lab, "lb1", "the reload to standalone")
    wait_for(lambda: "configuration reloaded: 1 clusters, no peer (standalone)" in lab.log("lb1"), 10,
             "the engine's reload line")
    wait_for(lambda: has_vips(lab, "lb2"), 10, "lb2 to take over from the silent lb1")
    assert has_vips(lab, "lb1") and len(roles(lab.log("lb1"))) == n1
    assert lab.stop("lb1") == 0 and lab.stop("lb2") == 0
