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
when it is drained, SIGTERMed or SIGKILLed, or when its link to the router
is cut (link down, or every packet dropped by nftables, which only BFD
notices before the 9 s hold time); and it comes back when healthy again.
The times from each fault to the route change are printed (pytest -s),
for the record; the deadlines are generous on purpose (bench/ measures).

Needs root, bird (Debian bird2) and nft."""
import ipaddress
import os
import shutil
import signal
import sys
import time

import pytest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lab"))
import nslab  # noqa: E402
from nslab import Bird, route_nexthops, wait_for  # noqa: E402

pytestmark = [
    pytest.mark.skipif(os.geteuid() != 0, reason="needs root for namespaces"),
    pytest.mark.skipif(not shutil.which("bird") or not shutil.which("birdc"), reason="needs bird2"),
    pytest.mark.skipif(not shutil.which("nft"), reason="needs nftables"),
]

VIP = "203.0.113.10"
VIP6 = "2001:db8:2::10"
RS = ["192.0.2.21", "192.0.2.22"]
RS6 = ["2001:db8:3::21", "2001:db8:3::22"]
ROUTER_AS, DIRECTOR_AS = 65000, 65001
N = 3
HOLD_S = 9   # BGP hold time: anything detected well before it was BFD


def link_addrs(i):
    """(router side, director side) of the /30 to director i."""
    return f"198.51.100.{4 * i + 1}", f"198.51.100.{4 * i + 2}"


def link_addrs6(i):
    """(router side, director side) of the /64 to director i."""
    return (str(ipaddress.ip_address(f"2001:db8:1:{i}::1")),
            str(ipaddress.ip_address(f"2001:db8:1:{i}::2")))


# One BGP session's common part: BFD, and timers short enough for a test
# (the hold time stays long, so that only BFD detects a black hole fast).
BGP_COMMON = """  bfd on;
  hold time %d;
  connect retry time 1;
  error wait time 1, 2;
""" % HOLD_S

ROUTER_CONF = """
router id 198.51.100.1;
log stderr all;
protocol device { scan time 1; }
protocol kernel {
  ipv4 { import none; export all; };
  merge paths on;        # one multipath route over every equal BGP path
}
protocol kernel {
  ipv6 { import none; export all; };
  merge paths on;
}
protocol bfd {
  interface "*" { min rx interval 50 ms; min tx interval 50 ms; multiplier 3; };
}
""" + "".join(f"""template bgp {name} {{
  local as {ROUTER_AS};
{BGP_COMMON}  {af} {{ import all; export none; }};
}}
""" for name, af in (("director", "ipv4"), ("director6", "ipv6"))) + "%(peers)s\n"

DIRECTOR_BIRD = """
router id %(me)s;
log stderr all;
protocol device { scan time 1; }
protocol direct vips {
  ipv4;
  ipv6;
  interface "dd-ecmp";   # what directord announces, nothing else
}
protocol bfd {
  interface "eth0" { min rx interval 50 ms; min tx interval 50 ms; multiplier 3; };
}
""" + "".join(f"""protocol bgp {name} {{
  local %({me})s as {DIRECTOR_AS};
  neighbor %({rt})s as {ROUTER_AS};
{BGP_COMMON}  {af} {{ import none; export where source = RTS_DEVICE; }};
}}
""" for name, me, rt, af in (("uplink", "me", "rt", "ipv4"), ("uplink6", "me6", "rt6", "ipv6")))

DIRECTORD_CONF = """
node = "d%(i)d";
pid_file = "%(dir)s/d%(i)d.pid";
control = {{ socket = "%(dir)s/d%(i)d.sock"; }};
heartbeat = {{ state_file = "%(dir)s/d%(i)d.generation"; }};
scripts = {{ user = "root"; }};
ecmp = {{ device = "dd-ecmp"; drain_timeout_s = 5; stop_wait_ms = 500; }};
clusters = ( {{
  name = "anycast";
  mode = "ecmp";
  track_interfaces = [ "eth0" ];
  vips = ( {{ address = "%(vip)s/32"; interface = "lo"; }},
           {{ address = "%(vip6)s/128"; interface = "lo"; }} );
  services = ( {{
    name = "web"; protocol = "tcp"; address = "%(vip)s"; port = 80;
    scheduler = "mh"; quorum = 1;
    check = {{ type = "tcp"; interval_ms = 200; timeout_ms = 150; rise = 1; fall = 2; }};
    real_servers = ( {{ address = "%(rs1)s"; port = 8080; }}, {{ address = "%(rs2)s"; port = 8080; }} );
  }}, {{
    name = "web6"; protocol = "tcp"; address = "%(vip6)s"; port = 80;
    scheduler = "mh"; quorum = 1;
    check = {{ type = "tcp"; interval_ms = 200; timeout_ms = 150; rise = 1; fall = 2; }};
    real_servers = ( {{ address = "%(rs61)s"; port = 8080; }}, {{ address = "%(rs62)s"; port = 8080; }} );
  }} );
}} );
""".replace("{{", "{").replace("}}", "}")


class EcmpLab:
    def __init__(self):
        self.lab = nslab.Lab()
        lab = self.lab
        self.dir = lab.dir
        os.chmod(lab.dir, 0o755)
        self.rt = lab.netns("rt")
        back = lab.bridge("back")
        self.rs = [lab.netns(f"rs{k + 1}") for k in range(len(RS))]
        for ns, a, a6 in zip(self.rs, RS, RS6):
            lab.connect(ns, back, [a + "/24", a6 + "/64"])
        self.start_web()
        self.d, self.gw, self.gw6 = [], [], []
        for i in range(N):
            d = lab.netns(f"d{i + 1}")
            rt_a, d_a = link_addrs(i)
            rt6, d6 = link_addrs6(i)
            lab.veth(self.rt, d, f"eth{i + 1}", "eth0", [rt_a + "/30", rt6 + "/64"], [d_a + "/30", d6 + "/64"])
            lab.connect(d, back, [f"192.0.2.{i + 1}/24", f"2001:db8:3::{i + 1}/64"], ifname="eth1")
            self.d.append(d)
            self.gw.append(d_a)
            self.gw6.append(d6)
        peers = "\n".join(f"protocol bgp d{i + 1} from director {{ neighbor {link_addrs(i)[1]} as {DIRECTOR_AS}; }}\n"
                          f"protocol bgp d{i + 1}v6 from director6 {{ neighbor {link_addrs6(i)[1]} as {DIRECTOR_AS}; }}"
                          for i in range(N))
        self.rbird = Bird(lab, self.rt, "rt", ROUTER_CONF % {"peers": peers})
        self.rbird.wait_up()
        self.dbird = []
        for i, d in enumerate(self.d):
            rt_a, d_a = link_addrs(i)
            rt6, d6 = link_addrs6(i)
            b = Bird(lab, d, f"d{i + 1}", DIRECTOR_BIRD % {"me": d_a, "rt": rt_a, "me6": d6, "rt6": rt6})
            b.wait_up()
            self.dbird.append(b)
        self.procs = [None] * N
        for i in range(N):
            self.start(i)

    def start_web(self):
        self.web = [self.lab.http_server(ns, a, 8080, body="ok\n") for ns, a in zip(self.rs, RS)]
        self.web6 = [self.lab.http_server(ns, a, 8080, body="ok\n") for ns, a in zip(self.rs, RS6)]

    def conf(self, i):
        path = os.path.join(self.dir, f"d{i + 1}.conf")
        with open(path, "w") as f:
            f.write(DIRECTORD_CONF % {"i": i + 1, "dir": self.dir, "vip": VIP, "rs1": RS[0], "rs2": RS[1],
                                      "vip6": VIP6, "rs61": RS6[0], "rs62": RS6[1]})
        return path

    def start(self, i):
        self.procs[i] = self.d[i].spawn(nslab.directord_bin(), "-n", "-l", "stderr", "-f", self.conf(i),
                                        name=f"directord-d{i + 1}", env={"DIRECTORD_TEST_IPVS": "model"},
                                        log=os.path.join(self.dir, f"directord-d{i + 1}.log"))

    def log(self, i):
        return self.procs[i].log()

    def ctl(self, i, *args):
        return nslab.directorctl(os.path.join(self.dir, f"d{i + 1}.sock"), *args)

    def kernel_hops(self):
        return route_nexthops(self.rt, VIP + "/32")

    def bird_hops(self):
        return self.rbird.route_gateways(VIP + "/32")

    def kernel_hops6(self):
        return route_nexthops(self.rt, VIP6 + "/128")

    def bird_hops6(self):
        return self.rbird.route_gateways(VIP6 + "/128")

    def announced(self, i):
        return VIP in self.d[i].addrs("dd-ecmp") if self.has_dev(i) else False

    def has_dev(self, i):
        return self.d[i].ip("link", "show", "dd-ecmp", check=False).returncode == 0

    def close(self):
        self.lab.close()


@pytest.fixture(scope="module")
def ecmp():
    lab = EcmpLab()
    yield lab
    lab.close()


def expect_hops(lab, want, timeout, what):
    """Poll until the router's kernel route and BIRD both have exactly the
    next hops `want`; returns how long it took (s)."""
    want = sorted(want)
    t0 = time.monotonic()
    wait_for(lambda: lab.kernel_hops() == want and lab.bird_hops() == want, timeout,
             f"{what}: router next hops {want} (kernel {lab.kernel_hops()}, bird {lab.bird_hops()})")
    return time.monotonic() - t0


def expect_hops6(lab, want, timeout, what):
    want = sorted(want)
    t0 = time.monotonic()
    wait_for(lambda: lab.kernel_hops6() == want and lab.bird_hops6() == want, timeout,
             f"{what}: router IPv6 next hops {want} (kernel {lab.kernel_hops6()}, bird {lab.bird_hops6()})")
    return time.monotonic() - t0


def all_hops(lab):
    return list(lab.gw)


def without(lab, i):
    return [g for k, g in enumerate(lab.gw) if k != i]


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
    assert not ecmp.has_dev(0)
    ecmp.start(0)
    report("restart -> announced", expect_hops(ecmp, all_hops(ecmp), 30, "d1 restarted"))


def test_sigkill_device_goes_with_the_process(ecmp):
    expect_hops(ecmp, all_hops(ecmp), 60, "healthy at start")
    p = ecmp.procs[1]
    t0 = time.monotonic()
    p.kill()
    # Nobody withdrew anything: the tun device went with the process.
    expect_hops(ecmp, without(ecmp, 1), 20, "d2 killed")
    report("SIGKILL -> withdrawn", time.monotonic() - t0)
    expect_hops6(ecmp, [g for k, g in enumerate(ecmp.gw6) if k != 1], 20, "d2 killed (IPv6)")
    assert not ecmp.has_dev(1)
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
