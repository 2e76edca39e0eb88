# SPDX-License-Identifier: GPL-2.0-or-later
"""The connection-sync daemon follows the cluster role (master while active,
backup while standby), with the configured interface and syncid; the
protocol timeouts and, in sloppy mode, sloppy_tcp/sloppy_sctp are set.

Runs inside the QEMU guest (pytest process).
"""
import re

from test_ipvs_program import apply, write_conf

SYNC_CONF = """
sync = { enabled = true; interface = "eth0"; syncid = 42; sloppy = true;
         tcp_timeout_s = 900; tcpfin_timeout_s = 30; udp_timeout_s = 60; };
clusters = ( {
  name = "lab";
  vips = ( { address = "192.0.2.100"; interface = "eth0"; } );
  services = (
    { name = "web"; protocol = "tcp"; address = "192.0.2.100"; port = 80;
      check = { type = "none"; };
      real_servers = ( { address = "198.51.100.11"; port = 80; } ); } );
} );
"""


def daemons(ns):
    out = ns.ipvsadm("-L", "--daemon").stdout
    return sorted(re.findall(r"(master|backup) sync daemon \(mcast=(\S+), syncid=(\d+)", out))


def test_sync_daemon_follows_role(lab, ipvs_modules):
    d = lab.netns("dir")
    peer = lab.netns("peer")
    lab.veth(d, peer, addr_a="192.0.2.1/24", addr_b="192.0.2.2/24")
    conf = write_conf(lab, "sync.conf", SYNC_CONF)
    assert daemons(d) == []

    steps, err = apply(d, conf, "role", "lab", "active")
    assert daemons(d) == [("master", "eth0", "42")], err
    assert "sync daemon started as master on eth0, syncid 42" in err, err
    out = d.ipvsadm("-L", "--timeout").stdout
    assert re.search(r"Timeout \(tcp tcpfin udp\): 900 30 60", out), out
    assert d.run("cat", "/proc/sys/net/ipv4/vs/sloppy_tcp").stdout.strip() == "1"
    assert d.run("cat", "/proc/sys/net/ipv4/vs/sloppy_sctp").stdout.strip() == "1"

    # a restart in the same role leaves the running daemon alone
    steps, err = apply(d, conf, "role", "lab", "active")
    assert daemons(d) == [("master", "eth0", "42")]
    assert "sync daemon" not in err, err

    steps, err = apply(d, conf, "role", "lab", "standby")
    assert daemons(d) == [("backup", "eth0", "42")], err
    assert "sync daemon master stopped (role changed)" in err, err

    # a changed syncid restarts it with the new one
    steps, err = apply(d, write_conf(lab, "sync2.conf", SYNC_CONF.replace("syncid = 42", "syncid = 43")),
                       "role", "lab", "standby")
    assert daemons(d) == [("backup", "eth0", "43")], err


ECMP_SYNC_CONF = """
sync = { enabled = true; interface = "eth0"; syncid = 7; };
ecmp = { device = "dd-ecmp"; };
clusters = ( {
  name = "anycast"; mode = "ecmp";
  vips = ( { address = "192.0.2.100/32"; interface = "lo"; } );
  services = (
    { name = "web"; protocol = "tcp"; address = "192.0.2.100"; port = 80;
      scheduler = "mh"; sched_flags = [ "mh-fallback" ];
      check = { type = "none"; };
      real_servers = ( { address = "198.51.100.11"; port = 80; } ); } );
} );
"""


def test_ecmp_sync_sends_and_receives(lab, ipvs_modules):
    """In ECMP mode every director is active and takes flows that another
    one began: it runs the master (sends its connections) and the backup
    (hears the others') at once."""
    d = lab.netns("ecmpdir")
    peer = lab.netns("ecmppeer")
    lab.veth(d, peer, addr_a="192.0.2.1/24", addr_b="192.0.2.2/24")
    conf = write_conf(lab, "ecmp-sync.conf", ECMP_SYNC_CONF)
    steps, err = apply(d, conf, "role", "anycast", "active")
    assert daemons(d) == [("backup", "eth0", "7"), ("master", "eth0", "7")], err
