# SPDX-License-Identifier: GPL-2.0-or-later
"""directorctl against a real director pair (two directord processes in
network namespaces, heartbeats over two links): status shows roles, the
peer, every link and heartbeat ages; takeover and release hand a cluster
over and back; metrics carry roles, failovers and per-link state.
Reuses the heartbeat tests' lab (tests/net/hbnet.py, on tests/lab/nslab.py). Needs root."""
import json
import os
import re
import sys

import pytest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "net"))
import hbnet  # noqa: E402
from hbnet import VIP4, ctl, wait_for  # noqa: E402

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="needs root for namespaces")


@pytest.fixture
def lab():
    lab = hbnet.Lab()
    yield lab
    lab.close()


def status(lab, node):
    r = ctl(lab, node, "status", "--json")
    assert r.returncode == 0, r.stderr
    return json.loads(r.stdout)


def role(lab, node):
    return status(lab, node)["clusters"][0]["role"]


def start_pair(lab):
    lab.start("lb1", 150)
    wait_for(lambda: lab.has_vip("lb1"), 10, "lb1 to become active")
    lab.start("lb2", 100)
    wait_for(lambda: os.path.exists(os.path.join(lab.dir, "lb2.sock")) and
             ctl(lab, "lb2", "version").returncode == 0, 10, "lb2 control socket")
    wait_for(lambda: role(lab, "lb2") == "standby", 10, "lb2 standby")


def test_status_shows_roles_peer_and_links(lab):
    start_pair(lab)
    s1 = status(lab, "lb1")
    assert s1["available"]["failover"] is True
    web = s1["clusters"][0]
    assert (web["name"], web["role"], web["peer_role"], web["vips_up"]) == ("web", "active", "standby", True)
    assert web["in_role_ms"] > 0
    peer = s1["peer"]
    assert peer["name"] == "lb2" and peer["alive"] is True
    assert 0 <= peer["last_heartbeat_age_ms"] < 1000
    assert [(l["local"], l["remote"], l["interface"], l["up"]) for l in peer["links"]] == [
        ("192.0.2.1", "192.0.2.2", "eth0", True), ("198.51.100.1", "198.51.100.2", "eth1", True)]
    for l in peer["links"]:
        assert l["rx"] > 0 and l["tx"] > 0 and 0 <= l["last_rx_age_ms"] < 1000
    s2 = status(lab, "lb2")
    assert s2["clusters"][0]["role"] == "standby" and s2["clusters"][0]["peer_role"] == "active"
    text = ctl(lab, "lb1", "status").stdout
    assert "cluster web: active for" in text and "peer standby" in text
    assert re.search(r"link 0 192\.0\.2\.1 -> 192\.0\.2\.2 on eth0: up, last heard", text), text


def test_link_down_shows_in_status_and_metrics(lab):
    start_pair(lab)
    lab.link("b1", False)  # lb2's eth1 port on the hb2 bridge
    wait_for(lambda: [l["up"] for l in status(lab, "lb1")["peer"]["links"]] == [True, False], 10,
             "link 1 down in lb1's status")
    assert role(lab, "lb1") == "active" and role(lab, "lb2") == "standby"
    m = ctl(lab, "lb1", "metrics").stdout
    assert re.search(r'directord_link_up\{peer="lb2",link="1",local="198\.51\.100\.1",'
                     r'remote="198\.51\.100\.2"\} 0\n', m), m
    assert re.search(r'directord_link_up\{peer="lb2",link="0",[^}]*\} 1\n', m)
    lab.link("b1", True)
    wait_for(lambda: all(l["up"] for l in status(lab, "lb1")["peer"]["links"]), 10, "link 1 back")


def test_takeover_and_release(lab):
    start_pair(lab)
    r = ctl(lab, "lb2", "takeover", "web")
    assert r.returncode == 0, r.stderr
    wait_for(lambda: role(lab, "lb2") == "active" and lab.has_vip("lb2"), 10, "lb2 active")
    wait_for(lambda: role(lab, "lb1") == "standby" and not lab.has_vip("lb1"), 10, "lb1 standby")

    r = ctl(lab, "lb2", "release", "web", "--json")
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout) == {"cluster": "web", "requested": "release"}
    wait_for(lambda: role(lab, "lb1") == "active" and lab.has_vip("lb1"), 10, "lb1 active again")
    wait_for(lambda: role(lab, "lb2") == "standby" and not lab.has_vip("lb2"), 10, "lb2 standby again")

    m = ctl(lab, "lb2", "metrics").stdout
    assert re.search(r'directord_failovers_total\{cluster="web"\} 1\n', m), m
    assert re.search(r'directord_cluster_role\{cluster="web",role="standby"\} 1\n', m), m
    assert re.search(r'directord_cluster_role\{cluster="web",role="active"\} 0\n', m), m
    assert "takeover web requested by uid 0" in lab.log("lb2")


def test_handover_refusals(lab):
    start_pair(lab)
    r = ctl(lab, "lb1", "takeover", "nosuch")
    assert r.returncode == 1 and "no cluster named nosuch" in r.stderr
    r = ctl(lab, "lb2", "release", "web")  # a standby has nothing to release
    assert r.returncode == 1, (r.stdout, r.stderr)
    r = ctl(lab, "lb2", "release", "web", "--json")
    assert r.returncode == 1 and json.loads(r.stdout)["error"] == "failed"
    assert role(lab, "lb1") == "active" and role(lab, "lb2") == "standby"


def test_plan_tells_now_from_at_takeover(lab):
    start_pair(lab)
    for node, prio in (("lb1", 150), ("lb2", 100)):
        text = open(lab.conf(node, prio)).read().replace(
            'vips = (', 'vips = ( { address = "192.0.2.101/24"; interface = "eth0"; },')
        with open(os.path.join(lab.dir, f"{node}-new.conf"), "w") as f:
            f.write(text)
    r = ctl(lab, "lb1", "plan", os.path.join(lab.dir, "lb1-new.conf"))
    assert "vip add 192.0.2.101/24 on eth0 (cluster web, active: now)" in r.stdout, r.stdout
    r = ctl(lab, "lb2", "plan", os.path.join(lab.dir, "lb2-new.conf"), "--json")
    assert [v["now"] for v in json.loads(r.stdout)["vips"]] == [False]
