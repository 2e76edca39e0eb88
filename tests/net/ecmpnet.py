# SPDX-License-Identifier: GPL-2.0-or-later
"""tests/net/ecmpnet.py: the ECMP control-plane lab (issue 14) on the host
kernel, for tests/net/test_ecmp_bgp.py (as tests/net/hbnet.py is the
heartbeat pair's). Runs in the caller's Python process, as root.

    rs1 192.0.2.21, rs2 .22 (and 2001:db8:3::21, ::22): HTTP on :8080
         |  back bridge
    d1 .1        d2 .2        d3 .3      directord + BIRD 2 each; VIPs
    198.51.100.2 .6           .10        203.0.113.10/32 and 2001:db8:2::10
         \\        |           /          on lo, and on dd-ecmp while healthy
          .1      .5         .9
                 router                  BIRD 2, merge paths on: one
                                         multipath route per VIP

directord runs with DIRECTORD_TEST_IPVS=model (the host has no IPVS); BIRD
with its own config, control socket and pid file in the lab's folder.
BGP sessions have BFD (100 ms x 3) and a 9 s hold time, so that a black
hole detected well before 9 s was detected by BFD.
"""
import ipaddress
import os
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lab"))
import nslab  # noqa: E402
from nslab import Bird, route_nexthops, wait_for  # noqa: E402

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
  interface "*" { min rx interval 100 ms; min tx interval 100 ms; multiplier 3; };
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
  interface "eth0" { min rx interval 100 ms; min tx interval 100 ms; multiplier 3; };
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
# A notify command that leaves a process behind (it outlives a kill -9 of
# directord): the tun device must not live on in it.
logging = {{ notify = "sleep 300 < /dev/null > /dev/null 2>&1 &"; }};
ecmp = {{ device = "dd-ecmp"; drain_timeout_s = 5; stop_wait_ms = 500; }};
clusters = ( {{
  name = "anycast";
  mode = "ecmp";
  track_interfaces = [ "eth0" ];
  vips = ( {{ address = "%(vip)s/32"; interface = "lo"; }},
           {{ address = "%(vip6)s/128"; interface = "lo"; }} );
  services = ( {{
    name = "web"; protocol = "tcp"; address = "%(vip)s"; port = 80;
    scheduler = "mh"; sched_flags = [ "mh-fallback" ]; quorum = 1;
    check = {{ type = "tcp"; interval_ms = 200; timeout_ms = 150; rise = 1; fall = 2; }};
    real_servers = ( {{ address = "%(rs1)s"; port = 8080; }}, {{ address = "%(rs2)s"; port = 8080; }} );
  }}, {{
    name = "web6"; protocol = "tcp"; address = "%(vip6)s"; port = 80;
    scheduler = "mh"; sched_flags = [ "mh-fallback" ]; quorum = 1;
    check = {{ type = "tcp"; interval_ms = 200; timeout_ms = 150; rise = 1; fall = 2; }};
    real_servers = ( {{ address = "%(rs61)s"; port = 8080; }}, {{ address = "%(rs62)s"; port = 8080; }} );
  }} );
}} );
""".replace("{{", "{").replace("}}", "}")


class EcmpLab:
    """The whole lab, built and running (BGP may still be coming up)."""

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


def expect_hops(lab, want, timeout, what):
    """Poll until the router's kernel route and BIRD both have exactly the
    next hops `want`; returns how long it took (s)."""
    want = sorted(want)
    t0 = time.monotonic()
    wait_for(lambda: lab.kernel_hops() == want and lab.bird_hops() == want, timeout,
             f"{what}: router next hops {want} (kernel {lab.kernel_hops()}, bird {lab.bird_hops()})")
    return time.monotonic() - t0


def expect_hops6(lab, want, timeout, what):
    """The same for the IPv6 VIP."""
    want = sorted(want)
    t0 = time.monotonic()
    wait_for(lambda: lab.kernel_hops6() == want and lab.bird_hops6() == want, timeout,
             f"{what}: router IPv6 next hops {want} (kernel {lab.kernel_hops6()}, bird {lab.bird_hops6()})")
    return time.monotonic() - t0


def all_hops(lab):
    return list(lab.gw)


def without(lab, i):
    return [g for k, g in enumerate(lab.gw) if k != i]
