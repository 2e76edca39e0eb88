# SPDX-License-Identifier: GPL-2.0-or-later
"""The SNMP AgentX subagent (snmp/, configure --enable-snmp) against the
system's net-snmp: a private snmpd (master agentx on a socket in the lab
directory, UDP on 127.0.0.1 of the director's namespace) per director and
a private snmptrapd that logs every notification to a file. On the
heartbeat pair of tests/net/hbnet.py (no IPVS needed for roles):

- snmpwalk shows the director, the cluster with its role, the peer and
  both links (DIRECTORD-MIB, read with the stub base modules of
  tests/snmp/mibs where the system has none);
- killing the active director sends ddClusterRoleChange from the standby
  with the new role and the reason, as snmptrapd receives it;
- a peer with another key causes ddPeerAuthFailure;
- snmpd killed and restarted: the subagent reconnects (a walk works again
  within a deadline) and directord's main loop answers directorctl all
  along; status says whether the subagent is connected.

The real-server table and its up/down and quorum notifications need IPVS
(the forwarding plane), which this kernel lacks: not covered here.
Needs root."""
import os
import re
import signal
import sys
import time

import pytest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import hbnet  # noqa: E402
from hbnet import ctl, nslab, wait_for  # noqa: E402

pytestmark = [
    pytest.mark.skipif(os.geteuid() != 0, reason="needs root for namespaces"),
    pytest.mark.skipif(not nslab.directord_has_snmp(), reason="directord built without --enable-snmp"),
    pytest.mark.skipif(not nslab.have_snmp_tools(),
                       reason="needs snmpd, snmptrapd, snmpwalk and snmpget (Debian: snmpd snmptrapd snmp)"),
]



def Snmp(lab, node):
    """snmpd and snmptrapd for one director, in its namespace."""
    return lab.snmpd(node)


def start(lab, node, prio, snmp, **kw):
    return lab.start(node, prio, snmp=snmp, **kw)


def status(lab, node):
    return lab.status(node)


def connected(lab, node):
    return lab.snmp_connected(node)


@pytest.fixture
def lab():
    lab = hbnet.Lab()
    yield lab
    lab.close()


def start_pair(lab):
    s1, s2 = Snmp(lab, "lb1"), Snmp(lab, "lb2")
    start(lab, "lb1", 150, s1)
    wait_for(lambda: lab.has_vip("lb1"), 10, "lb1 to become active")
    start(lab, "lb2", 100, s2)
    wait_for(lambda: connected(lab, "lb1") and connected(lab, "lb2"), 15, "both subagents connected")
    wait_for(lambda: "ddClusterRole.1 = INTEGER: standby(2)" in s2.walk(), 10, "lb2 standby in the MIB")
    return s1, s2


def test_walk_shows_director_clusters_peer_links(lab):
    s1, s2 = start_pair(lab)
    w = s1.walk()
    assert 'ddDirectorNode.0 = STRING: lb1' in w, w
    assert 'ddClusterName.1 = STRING: web' in w
    assert 'ddClusterRole.1 = INTEGER: active(3)' in w
    assert 'ddClusterPriority.1 = Gauge32: 150' in w or 'ddClusterPriority.1 = Unsigned32: 150' in w, w
    assert re.search(r'ddClusterPeerRole\.1 = INTEGER: standby\(2\)', w), w
    assert 'ddPeerName.0 = STRING: lb2' in w
    assert 'ddPeerAlive.0 = INTEGER: true(1)' in w
    assert 'ddLinkLocal.1 = STRING: 192.0.2.1' in w and 'ddLinkRemote.2 = STRING: 198.51.100.2' in w
    assert 'ddLinkUp.2 = INTEGER: true(1)' in w
    assert 'ddLinkInterface.1 = STRING: eth0' in w
    # the reason of the role: lb1 won the election or found no peer at first
    assert re.search(r'ddClusterReason\.1 = INTEGER: (peerSilent|priority)\(', w), w
    # GET of single instances, and a missing one
    r = s1.get("DIRECTORD-MIB::ddClusterName.1", "DIRECTORD-MIB::ddClusterName.2")
    assert 'ddClusterName.1 = STRING: web' in r, r
    assert 'ddClusterName.2 = No Such Instance' in r, r
    st = ctl(lab, "lb1", "status")
    assert re.search(r"snmp: AgentX subagent connected to \S+agentx.sock", st.stdout), st.stdout


def test_role_change_trap_with_reason(lab):
    s1, s2 = start_pair(lab)
    lab.procs["lb1"].kill()
    wait_for(lambda: lab.has_vip("lb2"), 10, "lb2 to take over")
    # .1.3.6.1.4.1.8072.9999.9999.4.0.1 = ddClusterRoleChange; role active(3),
    # reason peerSilent(5), previous role standby(2), and the reason's words
    # (snmptrapd prints the enums' labels too: "active(3)")
    pat = re.compile(r"9999\.9999\.4\.0\.1\s.*?9999\.4\.1\.4\.1\.3\.1 = INTEGER: \w*\(?3\b.*?"
                     r"9999\.4\.1\.4\.1\.13\.1 = INTEGER: \w*\(?2\b.*?"
                     r"9999\.4\.1\.4\.1\.6\.1 = INTEGER: \w*\(?5\b.*?"
                     r"9999\.4\.1\.4\.1\.7\.1 = STRING: \"?([^\t\n\"]*)", re.S)
    m = wait_for(lambda: pat.search(s2.traps()), 10, "the role-change trap at lb2's snmptrapd")
    assert "silent" in m.group(1), m.group(1)
    w = s2.walk()
    assert 'ddClusterRole.1 = INTEGER: active(3)' in w
    assert 'ddClusterReason.1 = INTEGER: peerSilent(5)' in w
    assert re.search(r'ddClusterReasonText\.1 = STRING: .*silent', w), w
    assert re.search(r'ddClusterRoleChanges\.1 = Counter32: [1-9]', w), w
    # stopping the active director: its last notification says stopped(5), reason stopping(14)
    assert lab.stop("lb2") == 0
    stop = re.compile(r"9999\.9999\.4\.0\.1\s.*?9999\.4\.1\.4\.1\.3\.1 = INTEGER: \w*\(?5\b.*?"
                      r"9999\.4\.1\.4\.1\.13\.1 = INTEGER: \w*\(?3\b.*?"
                      r"9999\.4\.1\.4\.1\.6\.1 = INTEGER: \w*\(?14\b", re.S)
    wait_for(lambda: stop.search(s2.traps()), 10, "the role-change trap to stopped at lb2's snmptrapd")


def test_peer_with_wrong_key_sends_auth_trap(lab):
    s1, s2 = Snmp(lab, "lb1"), Snmp(lab, "lb2")
    other = nslab.write_key(lab, b"fedcba9876543210fedcba9876543210", name="other.key")
    start(lab, "lb1", 150, s1)
    wait_for(lambda: connected(lab, "lb1"), 15, "lb1's subagent connected")
    start(lab, "lb2", 100, s2, key=other)
    # ddPeerAuthFailure = ...4.0.5, with ddPeerName and the problem text
    pat = re.compile(r"9999\.9999\.4\.0\.5\s.*?9999\.4\.1\.2\.1\.0 = STRING: \"?lb2\b.*?"
                     r"9999\.4\.1\.2\.7\.0 = STRING: \"?[^\t\n]*fail authentication", re.S)
    wait_for(lambda: pat.search(s1.traps()), 15, "ddPeerAuthFailure at lb1's snmptrapd")
    w = s1.walk("DIRECTORD-MIB::ddPeer")
    assert 'ddPeerProblem.0 = INTEGER: badAuth(2)' in w, w
    assert re.search(r'ddPeerBadAuth\.0 = Counter64: [1-9]', w), w


def test_snmpd_restart_reconnects_without_blocking(lab):
    s1, s2 = start_pair(lab)
    assert "ddClusterName.1" in s1.walk()
    for _ in range(2):
        s1.kill_snmpd()
        wait_for(lambda: not connected(lab, "lb1"), 10, "lb1 to see the master agent gone")
        st = ctl(lab, "lb1", "status")
        assert "NOT connected" in st.stdout, st.stdout
        # the main loop answers at once while the master is away
        t0 = time.monotonic()
        assert ctl(lab, "lb1", "status", "--json").returncode == 0
        assert time.monotonic() - t0 < 1.0
        s1.start_snmpd()
        # AgentX ping and reopen every second (net-snmp's default is 15 s)
        wait_for(lambda: "ddClusterName.1 = STRING: web" in s1.walk(), 5,
                 "a walk to work again after snmpd restarted")
    w = s1.walk("DIRECTORD-MIB::ddCounters")
    assert re.search(r'ddSnmpReconnects\.0 = Counter32: 2', w), w
    # failover kept running: the pair is as it was
    assert lab.has_vip("lb1") and not lab.has_vip("lb2")
    assert "ddClusterRole.1 = INTEGER: standby(2)" in s2.walk()


def test_stopped_snmpd_does_not_block_main_loop(lab):
    """A master agent that accepts but never answers (SIGSTOP): net-snmp's
    AgentX calls wait for it, but on the subagent's thread; directorctl
    and the heartbeat keep going."""
    s1, s2 = start_pair(lab)
    s1.snmpd.signal(signal.SIGSTOP)
    try:
        deadline = time.monotonic() + 4
        worst = 0.0
        while time.monotonic() < deadline:
            t0 = time.monotonic()
            assert ctl(lab, "lb1", "status", "--json").returncode == 0
            worst = max(worst, time.monotonic() - t0)
        assert worst < 1.0, f"directorctl status took {worst:.3f} s while snmpd was stopped"
        assert lab.has_vip("lb1") and not lab.has_vip("lb2")
    finally:
        s1.snmpd.signal(signal.SIGCONT)
    wait_for(lambda: "ddClusterName.1 = STRING: web" in s1.walk(), 20, "a walk after SIGCONT")
