# SPDX-License-Identifier: GPL-2.0-or-later
"""ECMP mode (issue 14) on the host kernel: three real directord, each with
its own BIRD 2, announce an IPv4 and an IPv6 VIP by BGP (with BFD) to a router
running BIRD 2, which installs each as one multipath route in its kernel
table.

    rs1 192.0.2.21, rs2 192.0.2.22 (tiny HTTP servers on :8080)
         |  back bridge 192.0.2.0/24
    d1 .1        d2 .2        d3 .3      directord + BIRD each; VIP
    198.51.100.2 .6           .10        203.0.113.10/32 on lo, and on
         \\        |           /          dd-ecmp while healthy
          .1      .5         .9
                 router                  BIRD 2: merge paths on

The host has no IPVS: directord runs with DIRECTORD_TEST_IPVS=model (an
in-memory table in place of the kernel's); everything else is real: the
health checks, quorum, the failover engine, the tun device, BIRD, BGP,
BFD and the router's kernel route. Proven from the router (ip route and
birdc): all three next hops are there; a director leaves the route when
its service loses quorum (its checks fail; or every real server stops),
when a track script fails, when it is drained, SIGTERMed or SIGKILLed, or
when its link to the router is cut (link down, or every packet dropped by
nftables, which only BFD notices before the 9 s hold time); and it comes
back when healthy again. After a kill -9 the tun device is gone although a
process directord started (a notify command's sleep) lives on. Reloads add
and remove announced VIPs.
The times from each fault to the route change are printed (pytest -s),
for the record; the deadlines are generous on purpose (bench/ measures).

Needs root, bird (Debian bird2) and nft."""
import os
import shutil
import signal
import sys
import time

import pytest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import ecmpnet  # noqa: E402  (tests/net/ecmpnet.py, the topology)
from ecmpnet import HOLD_S, N, VIP, VIP6, all_hops, expect_hops, expect_hops6, without  # noqa: E402
import nslab  # noqa: E402
from nslab import route_nexthops, wait_for  # noqa: E402

pytestmark = [
    pytest.mark.skipif(os.geteuid() != 0, reason="needs root for namespaces"),
    pytest.mark.skipif(not shutil.which("bird") or not shutil.which("birdc"), reason="needs bird2"),
    pytest.mark.skipif(not shutil.which("nft"), reason="needs nftables"),
]


@pytest.fixture(scope="module")
def ecmp():
    lab = ecmpnet.EcmpLab()
    yield lab
    lab.close()


def report(what, secs):
    print(f"\nECMP {what}: {secs * 1000:.0f} ms", flush=True)


def test_all_three_next_hops(ecmp):
    expect_hops(ecmp, all_hops(ecmp), 60, "every director healthy")
    expect_hops6(ecmp, ecmp.gw6, 60, "every director healthy (IPv6)")
    for i in range(N):
        assert ecmp.rbird.protocol_state(f"d{i + 1}") == "Established"
        assert ecmp.rbird.protocol_state(f"d{i + 1}v6") == "Established"
    bfd = ecmp.rbird.birdc("show", "bfd", "sessions")
    assert bfd.count(" Up ") == 2 * N, bfd
    # What each director says about itself.
    j = __import__("json").loads(ecmp.ctl(0, "--json", "status").stdout)
    c = j["clusters"][0]
    assert (c["mode"], c["role"], c["ecmp"]["announced"], c["ecmp"]["why"]) == \
        ("ecmp", "active", True, "announced")
    assert j["ecmp"]["device"] == "dd-ecmp" and j["ecmp"]["director"] == "serving"
    assert 'directord_ecmp_announced{cluster="anycast"} 1' in ecmp.ctl(0, "metrics").stdout
    # The VIP lives on lo for local delivery; dd-ecmp carries the route.
    assert VIP in ecmp.d[0].addrs("lo") and ecmp.announced(0)


def test_quorum_lost_on_one_director(ecmp):
    expect_hops(ecmp, all_hops(ecmp), 60, "healthy at start")
    # d2's IPv4 checks fail (its view of those real servers is gone): the
    # IPv4 service loses quorum.
    d = ecmp.d[1]
    d.run("nft", "-f", "-", input="table inet ddtest { chain out { type filter hook output priority 0; "
          "ip daddr { 192.0.2.21, 192.0.2.22 } tcp dport 8080 reject with tcp reset; }; }")
    report("quorum lost -> withdrawn", expect_hops(ecmp, without(ecmp, 1), 20, "d2 without quorum"))
    # Quorum is per VIP: the IPv6 service still has its servers.
    expect_hops6(ecmp, ecmp.gw6, 5, "d2's IPv6 VIP still announced")
    wait_for(lambda: "VIP 203.0.113.10 withdrawn from dd-ecmp: service web has no quorum" in ecmp.log(1),
             10, "the withdrawal logged with its reason")
    out = ecmp.ctl(1, "status").stdout
    assert "ecmp: partly announced (1 of 2 VIPs announced): no-quorum, service web\n" in out, out
    d.run("nft", "delete", "table", "inet", "ddtest")
    report("quorum regained -> announced", expect_hops(ecmp, all_hops(ecmp), 20, "d2 healthy again"))


def test_every_real_server_stopped(ecmp):
    expect_hops(ecmp, all_hops(ecmp), 60, "healthy at start")
    for w in ecmp.web + ecmp.web6:
        w.stop()
    report("all real servers down -> route gone", expect_hops(ecmp, [], 20, "no director has quorum"))
    expect_hops6(ecmp, [], 20, "no director has IPv6 quorum")
    ecmp.start_web()
    report("real servers back -> all announced", expect_hops(ecmp, all_hops(ecmp), 20, "quorum everywhere"))
    expect_hops6(ecmp, ecmp.gw6, 20, "IPv6 quorum everywhere")


def test_drain_and_undrain(ecmp):
    expect_hops(ecmp, all_hops(ecmp), 60, "healthy at start")
    r = ecmp.ctl(2, "drain-director")
    assert r.returncode == 0 and "director drained" in r.stdout, r.stdout + r.stderr
    report("drain-director -> withdrawn", expect_hops(ecmp, without(ecmp, 2), 20, "d3 drained"))
    # Still serving: the VIP stays on lo for established connections.
    assert VIP in ecmp.d[2].addrs("lo")
    # No connections in the model: the drain completes at once.
    wait_for(lambda: "director drained: no connection left" in ecmp.log(2), 10, "drain complete")
    assert "director drained" in ecmp.ctl(2, "status").stdout
    r = ecmp.ctl(2, "undrain-director")
    assert r.returncode == 0, r.stdout + r.stderr
    report("undrain-director -> announced", expect_hops(ecmp, all_hops(ecmp), 20, "d3 undrained"))
    # A pair-only command set elsewhere is untouched; ECMP commands need ECMP.
    assert ecmp.ctl(2, "--json", "status").returncode == 0


def test_sigterm_withdraws_first(ecmp):
    expect_hops(ecmp, all_hops(ecmp), 60, "healthy at start")
    p = ecmp.procs[0]
    t0 = time.monotonic()
    p.signal(signal.SIGTERM)
    expect_hops(ecmp, without(ecmp, 0), 20, "d1 stopping")
    report("SIGTERM -> withdrawn", time.monotonic() - t0)
    p.popen.wait(20)
    log = ecmp.log(0)
    # The route went before the process did, and the VIP after the route.
    i_w = log.index("ecmp: stopping: routes withdrawn first")
    i_stop = log.index("core: stopped")
    assert i_w < i_stop
    # Withdrawn by directord itself, not only by the device going away.
    assert "VIP 203.0.113.10 withdrawn from dd-ecmp: directord is stopping" in log
    assert not ecmp.has_dev(0)
    ecmp.start(0)
    report("restart -> announced", expect_hops(ecmp, all_hops(ecmp), 30, "d1 restarted"))


def test_sigkill_device_goes_with_the_process(ecmp):
    expect_hops(ecmp, all_hops(ecmp), 60, "healthy at start")
    p = ecmp.procs[1]
    t0 = time.monotonic()
    p.kill()
    # Nobody withdrew anything: the tun device went with the process,
    # though a child of it (the notify command's sleep) lives on.
    expect_hops(ecmp, without(ecmp, 1), 20, "d2 killed")
    report("SIGKILL -> withdrawn", time.monotonic() - t0)
    expect_hops6(ecmp, [g for k, g in enumerate(ecmp.gw6) if k != 1], 20, "d2 killed (IPv6)")
    assert not ecmp.has_dev(1)
    pids = nslab.run(["ip", "netns", "pids", ecmp.d[1].name]).stdout.split()
    cmds = [open(f"/proc/{p}/cmdline").read().replace("\0", " ") for p in pids
            if os.path.exists(f"/proc/{p}/cmdline")]
    assert any(c.startswith("sleep 300") for c in cmds), cmds
    ecmp.start(1)
    report("restart after kill -> announced", expect_hops(ecmp, all_hops(ecmp), 30, "d2 restarted"))
    expect_hops6(ecmp, ecmp.gw6, 30, "d2 restarted (IPv6)")


def test_link_down_on_the_director_side(ecmp):
    expect_hops(ecmp, all_hops(ecmp), 60, "healthy at start")
    t0 = time.monotonic()
    ecmp.d[2].ip("link", "set", "eth0", "down")
    expect_hops(ecmp, without(ecmp, 2), 20, "d3 link down")
    report("link down -> withdrawn", time.monotonic() - t0)
    # directord saw it too: the tracked interface puts the cluster in fault.
    wait_for(lambda: "withdrawn from dd-ecmp: cluster in fault" in ecmp.log(2), 10, "d3 in fault")
    ecmp.d[2].ip("link", "set", "eth0", "up")
    report("link up -> announced", expect_hops(ecmp, all_hops(ecmp), 30, "d3 link up"))


def test_link_black_hole_bfd(ecmp):
    """Every packet between the router and d1 dropped, the link up: nothing
    but BFD notices before the BGP hold time."""
    expect_hops(ecmp, all_hops(ecmp), 60, "healthy at start")
    d = ecmp.d[0]
    t0 = time.monotonic()
    d.run("nft", "-f", "-", input="table inet ddcut { "
          "chain in { type filter hook input priority -10; iifname \"eth0\" drop; }; "
          "chain out { type filter hook output priority -10; oifname \"eth0\" drop; }; }")
    expect_hops(ecmp, without(ecmp, 0), HOLD_S - 3, "d1 black-holed (BFD)")
    took = time.monotonic() - t0
    report("black hole -> withdrawn (BFD)", took)
    assert took < HOLD_S - 3, f"{took:.1f} s: that was the hold timer, not BFD"
    assert "Down" in ecmp.rbird.birdc("show", "bfd", "sessions")
    # directord itself still announces: it is the path that failed.
    assert ecmp.announced(0)
    d.run("nft", "delete", "table", "inet", "ddcut")
    report("black hole lifted -> announced", expect_hops(ecmp, all_hops(ecmp), 30, "d1 reachable again"))


def test_reload_adds_and_removes_a_vip(ecmp):
    """A reload that adds a VIP (no service on it: nothing lacks quorum)
    announces it on the running device; reloading back withdraws it."""
    expect_hops(ecmp, all_hops(ecmp), 60, "healthy at start")
    vip2 = "203.0.113.11"
    path = ecmp.conf(0)
    with open(path) as f:
        text = f.read()
    one = f'{{ address = "{VIP6}/128"; interface = "lo"; }} );'
    assert one in text
    with open(path, "w") as f:
        f.write(text.replace(one, one[:-3] + f', {{ address = "{vip2}/32"; interface = "lo"; }} );'))
    r = ecmp.ctl(0, "reload")
    assert r.returncode == 0, r.stdout + r.stderr
    wait_for(lambda: route_nexthops(ecmp.rt, vip2 + "/32") == [ecmp.gw[0]], 20, "the new VIP routed to d1")
    expect_hops(ecmp, all_hops(ecmp), 10, "the first VIP untouched")
    ecmp.conf(0)
    r = ecmp.ctl(0, "reload")
    assert r.returncode == 0, r.stdout + r.stderr
    wait_for(lambda: route_nexthops(ecmp.rt, vip2 + "/32") == [], 20, "the VIP withdrawn by reload")
    assert "VIP 203.0.113.11 withdrawn from dd-ecmp: no longer an ECMP VIP (reload)" in ecmp.log(0)
    expect_hops(ecmp, all_hops(ecmp), 10, "the first VIP still there")


def test_track_script_fault_withdraws(ecmp):
    """Fault from any monitor withdraws: here a track script (weight 0) of
    d2, added by reload, fails while a flag file exists."""
    expect_hops(ecmp, all_hops(ecmp), 60, "healthy at start")
    flag = os.path.join(ecmp.dir, "d2.down")
    path = ecmp.conf(1)
    with open(path) as f:
        text = f.read()
    track = (f'track_scripts = ( {{ name = "chk"; command = "test ! -e {flag}"; '
             'interval_ms = 100; timeout_ms = 80; } );\nclusters = (')
    text = text.replace("clusters = (", track, 1).replace(
        'mode = "ecmp";', 'mode = "ecmp";\n  track_scripts = [ "chk" ];', 1)
    with open(path, "w") as f:
        f.write(text)
    r = ecmp.ctl(1, "reload")
    assert r.returncode == 0, r.stdout + r.stderr
    expect_hops(ecmp, all_hops(ecmp), 20, "the script says OK")
    open(flag, "w").close()
    report("track script failed -> withdrawn", expect_hops(ecmp, without(ecmp, 1), 20, "d2's script fails"))
    wait_for(lambda: "withdrawn from dd-ecmp: cluster in fault: track script chk failed" in ecmp.log(1), 10,
             "the withdrawal names the script")
    os.unlink(flag)
    report("track script OK -> announced", expect_hops(ecmp, all_hops(ecmp), 20, "d2's script OK again"))
    ecmp.conf(1)
    assert ecmp.ctl(1, "reload").returncode == 0
