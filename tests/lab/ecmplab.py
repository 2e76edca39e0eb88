# SPDX-License-Identifier: GPL-2.0-or-later
"""tests/lab/ecmplab.py: the ECMP site (issue 14), shared by the in-guest
data-plane test (tests/vm/guest/test_ecmp_guest.py) and the withdrawal
benchmark (bench/ecmp/). Runs in the caller's Python process (pytest in the
guest, or bench/ecmp/bench.py on the host kernel), on the lab library
tests/lab/nslab.py.

  cli 203.0.113.10 --veth-- router eth0 203.0.113.1
  router eth1 198.51.100.1 --mid bridge-- directors lb1..lbN 198.51.100.2..
                              mid bridge-- real servers rs1..3 198.51.100.11..13
  VIP 192.0.2.100/32, TCP 7000: every director announces it over eBGP
  (router AS 65000, directors AS 65001) and the router's BIRD installs one
  ECMP route with a next hop per announcing director, hashed on L4
  (fib_multipath_hash_policy=1). Directors forward in DR (IPVS mh +
  sloppy_tcp); the real servers hold the VIP on lo (arp_ignore) and answer
  the client directly through the router.

A director is either directord in ECMP mode with its own BIRD (`protocol
direct` on directord's tun device, exported over BGP), or ExaBGP with its
healthcheck (the benchmark's anchor).
"""
import contextlib
import math
import os
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import nslab as labmod  # noqa: E402
from nslab import poll  # noqa: E402

VIP = "192.0.2.100"
PORT = 7000
CLIENT = "203.0.113.10"
ROUTER_FRONT = "203.0.113.1"
ROUTER = "198.51.100.1"
RS = ["198.51.100.11", "198.51.100.12", "198.51.100.13"]
ROUTER_AS, DIRECTOR_AS = 65000, 65001
TUN = "dd-ecmp"


def director_addr(i):
    """Address of the i-th director (0-based) on the mid segment."""
    return f"198.51.100.{2 + i}"


class Site:
    """The ECMP site in `lab`. directors: names ("lb1", ...); real servers
    rs1..3 run tests/lab/echod.py (each answers with its name). bfd: None,
    or (interval_ms, multiplier) for BFD on every BGP session that has
    bfd=True in the router's neighbour list. hold_s: BGP hold time."""

    def __init__(self, lab, directors=("lb1", "lb2", "lb3"), bfd=None, hold_s=9, n_rs=3):
        self.lab = lab
        self.bfd, self.hold_s = bfd, hold_s
        self.mid = lab.bridge("mid")
        self.cli, self.router = lab.netns("cli"), lab.netns("rt")
        lab.veth(self.cli, self.router, "eth0", "eth0", f"{CLIENT}/24", f"{ROUTER_FRONT}/24")
        self.ports = {}
        self.ports["rt"] = lab.connect(self.router, self.mid, f"{ROUTER}/24", ifname="eth1")
        self.cli.route_add("default", ROUTER_FRONT)
        # Flows spread over the next hops by ports too (L4 hash), and the
        # real servers' replies come back on another interface. (One
        # process per namespace where it can: each costs up to a second
        # under TCG.)
        self.router.run("sysctl", "-qw", "net.ipv4.ip_forward=1", "net.ipv4.fib_multipath_hash_policy=1",
                        "net.ipv4.conf.all.rp_filter=0", "net.ipv4.conf.default.rp_filter=0",
                        "net.ipv4.conf.eth1.rp_filter=0", "net.ipv4.conf.eth0.rp_filter=0")
        self.lb = {}
        self.addr = {}
        for i, n in enumerate(directors):
            self.add_director(n, director_addr(i))
        self.rs = []
        for i in range(n_rs):
            ns = lab.netns(f"rs{i + 1}")
            self.ports[f"rs{i + 1}"] = lab.connect(ns, self.mid, f"{RS[i]}/24")
            ns.sh(f"ip route add default via {ROUTER} && ip addr add {VIP}/32 dev lo && "
                  "sysctl -qw net.ipv4.conf.all.arp_ignore=1 "
                  "net.ipv4.conf.all.arp_announce=2 net.ipv4.conf.eth0.arp_ignore=1 "
                  "net.ipv4.conf.eth0.arp_announce=2")
            self.rs.append(ns)
        self.birds = {}
        self.daemons = {}
        self.echod = {}

    def add_director(self, name, addr):
        ns = self.lab.netns(name)
        self.ports[name] = self.lab.connect(ns, self.mid, f"{addr}/24")
        ns.sh(f"ip route add default via {ROUTER} && sysctl -qw net.ipv4.ip_forward=1 "
              "net.ipv4.conf.all.rp_filter=0 net.ipv4.conf.default.rp_filter=0 net.ipv4.conf.eth0.rp_filter=0")
        self.lb[name], self.addr[name] = ns, addr
        return ns

    # ---- real servers ----------------------------------------------------
    def start_all_echod(self):
        """tests/lab/echod.py on every real server, started together."""
        for i, ns in enumerate(self.rs):
            self.echod[i] = labmod.start_echod(ns, f"rs{i + 1}", PORT, wait=False)
        for p in self.echod.values():
            labmod.wait_echod(p)

    # ---- BIRD --------------------------------------------------------------
    def _bfd_block(self, ifname):
        if not self.bfd:
            return ""
        ms, mult = self.bfd
        return (f"protocol bfd {{\n  interface \"{ifname}\" {{ min rx interval {ms} ms; "
                f"min tx interval {ms} ms; idle tx interval {max(ms, 100)} ms; multiplier {mult}; }};\n}}\n")

    def _timers(self):
        return (f"hold time {self.hold_s}; keepalive time {max(1, self.hold_s // 3)}; "
                "connect retry time 1; connect delay time 1; error wait time 1, 3; error forget time 10;")

    def router_bird_conf(self, neighbours):
        """neighbours: [(name, addr, bfd)]."""
        d = self.lab.dir
        nb = "".join(
            f"protocol bgp {name} from dirs {{ neighbor {addr} as {DIRECTOR_AS}; "
            f"bfd {'on' if bfd and self.bfd else 'off'}; }}\n" for name, addr, bfd in neighbours)
        return f"""log "{d}/bird-rt.log" all;
router id {ROUTER};
protocol device {{ scan time 60; }}
protocol kernel {{
  ipv4 {{ import none; export all; }};
  merge paths on;
}}
{self._bfd_block("eth1")}
template bgp dirs {{
  local {ROUTER} as {ROUTER_AS};
  passive on;
  {self._timers()}
  ipv4 {{ import all; export none; }};
}}
{nb}"""

    def director_bird_conf(self, name):
        d, addr = self.lab.dir, self.addr[name]
        bfd = "bfd on;" if self.bfd else ""
        return f"""log "{d}/bird-{name}.log" all;
router id {addr};
protocol device {{ scan time 60; }}
protocol direct vip {{
  ipv4;
  interface "{TUN}";
}}
{self._bfd_block("eth0")}
protocol bgp up {{
  local {addr} as {DIRECTOR_AS};
  neighbor {ROUTER} as {ROUTER_AS};
  {self._timers()}
  {bfd}
  ipv4 {{ import none; export where proto = "vip"; next hop self; }};
}}
"""

    def start_bird(self, name, conf_text, wait=True):
        """BIRD (nslab.Bird) in the router ("rt") or a director."""
        ns = self.router if name == "rt" else self.lb[name]
        b = labmod.Bird(self.lab, ns, name, conf_text)
        self.birds[name] = b
        if wait:
            b.wait_up(timeout=60)
        return b

    def start_router(self, neighbours=None, wait=True):
        """The router's BIRD, with a passive session to every director (or
        to `neighbours`: [(name, addr, bfd)])."""
        if neighbours is None:
            neighbours = [(n, a, True) for n, a in self.addr.items()]
        return self.start_bird("rt", self.router_bird_conf(neighbours), wait)

    def start_director_bird(self, name, wait=True):
        return self.start_bird(name, self.director_bird_conf(name), wait)

    def birdc(self, name, *args):
        return self.birds[name].birdc(*args, check=False)

    # ---- directord -----------------------------------------------------------
    def directord_conf(self, name, check_ms=1000, fall=2, rise=1, drain_timeout_s=10, timeout_ms=None,
                       sched_flags=("mh-port", "mh-fallback"), initial="up"):
        d = self.lab.dir
        rss = ", ".join(f'{{ address = "{a}"; }}' for a in RS[:len(self.rs)])
        flags = ", ".join(f'"{x}"' for x in sched_flags)
        to = timeout_ms if timeout_ms is not None else min(check_ms * 3 // 4, 1000)
        text = f"""
node = "{name}";
pid_file = "{d}/{name}.pid";
control = {{ socket = "{d}/{name}.sock"; }};
logging = {{ level = "info"; }};
ecmp = {{ device = "{TUN}"; drain_timeout_s = {drain_timeout_s}; }};
clusters = ( {{
  name = "web"; mode = "ecmp";
  vips = ( {{ address = "{VIP}/32"; interface = "lo"; }} );
  services = ( {{
    name = "echo"; protocol = "tcp"; address = "{VIP}"; port = {PORT};
    scheduler = "mh"; sched_flags = [ {flags} ]; forward = "dr";
    check = {{ type = "tcp"; interval_ms = {check_ms}; timeout_ms = {to};
              rise = {rise}; fall = {fall}; initial = "{initial}"; }};
    real_servers = ( {rss} );
  }} );
}} );
"""
        path = os.path.join(d, f"{name}.conf")
        with open(path, "w") as f:
            f.write(text)
        return path

    def start_directord(self, name, log=None, **kw):
        conf = self.directord_conf(name, **kw)
        log = log or os.path.join(self.lab.dir, f"directord-{name}.log")
        p = labmod.start_directord(self.lab, self.lb[name], name, conf, log=log)
        self.daemons[name] = p
        return p

    def start_all(self, timeout=120, **kw):
        """Real servers, the router's BIRD, each director's BIRD and
        directord (kw: directord_conf's); returns once the router's route
        has every director."""
        # The real servers first (a check that fails while they start would
        # take one out of IPVS for a while), then every daemon at once:
        # under TCG each start takes seconds.
        self.start_all_echod()
        self.start_router(wait=False)
        for n in self.lb:
            self.start_director_bird(n, wait=False)
            self.start_directord(n, **kw)
        for b in self.birds.values():
            b.wait_up(timeout=60)
        self.wait_nexthops(list(self.lb), timeout=timeout)
        self.wait_all_weights(timeout)

    def weights(self, name):
        """{real server: IPVS weight} of the VIP's service in director `name`."""
        svc = labmod.ipvs_service(self.lb[name], f"TCP {VIP}:{PORT}")
        return {d.addr: d.weight for d in svc.dests} if svc else {}

    def wait_all_weights(self, timeout=60):
        """Polls until every director has every real server at weight > 0."""
        for n in self.lb:
            poll(lambda: self.weights(n), timeout=timeout, interval=0.2,
                 until=lambda w: len(w) == len(self.rs) and all(x > 0 for x in w.values()),
                 what=f"{n}'s IPVS to have every real server up")

    def ctl(self, name, *args):
        return labmod.directorctl(os.path.join(self.lab.dir, f"{name}.sock"), *args, ns=self.lb[name],
                                  timeout=60)

    def announced(self, name):
        """The VIP is on the director's tun device (what BIRD exports)."""
        r = self.lb[name].ip("-o", "addr", "show", "dev", TUN, check=False)
        return r.returncode == 0 and f" {VIP}/32 " in r.stdout

    # ---- the router's view -------------------------------------------------
    def nexthops(self):
        """Gateways of the router's kernel route to the VIP (a set)."""
        return set(labmod.route_nexthops(self.router, f"{VIP}/32"))

    def wait_nexthops(self, names, timeout=60):
        want = {self.addr[n] for n in names}
        return poll(self.nexthops, timeout=timeout, interval=0.1, until=lambda g: g == want,
                    what=f"the router's route to {VIP} via exactly {sorted(want)}")

    # ---- observation -------------------------------------------------------
    def conns(self, name):
        """IPVS connections to the VIP in director `name`."""
        return [c for c in labmod.ipvs_conns(self.lb[name]) if c.virtual == f"{VIP}:{PORT}"]

    def dump(self, out=sys.stdout):
        for name, p in list(self.daemons.items()) + [(n, b.proc) for n, b in self.birds.items()]:
            out.write(f"---- {p.name} ({name}) log:\n{p.log()[-6000:]}\n")
        for name in ["rt"] + list(self.lb):
            path = os.path.join(self.lab.dir, f"bird-{name}.log")
            if os.path.exists(path):
                with open(path, errors="replace") as f:
                    out.write(f"---- bird-{name}.log:\n{f.read()[-4000:]}\n")
        try:
            out.write(f"---- router route: {self.router.ip('route').stdout}\n")
        except Exception as e:  # the dump must not hide the failure
            out.write(f"---- router route: {e}\n")
        out.flush()


# ---- the scenario, shared by the guest test and the guest benchmark --------

TCP_ESTABLISHED_S = 900     # IPVS's default established timeout


def carriers(site, since=None, fresh_s=4):
    """{director: set of client ports} of the connections each director
    carries now: IPVS entries refreshed (a packet seen) in the last
    `fresh_s` seconds, or since monotonic time `since` (plus the second
    ipvsadm rounds to). Entries left behind by a flow the router moved
    elsewhere age, and drop out. Call right after Traffic.check()."""
    out = {}
    for name in site.lb:
        ports = set()
        conns = site.conns(name)
        window = math.ceil(time.monotonic() - since) + 1 if since is not None else fresh_s
        for c in conns:
            if c.state != "ESTABLISHED" or not c.source.startswith(CLIENT + ":"):
                continue
            m, sec = c.expire.split(":")
            if int(m) * 60 + int(sec) >= TCP_ESTABLISHED_S - window:
                ports.add(int(c.source.rsplit(":", 1)[1]))
        out[name] = ports
    return out


def settled_carriers(site, tr, check_s=60, timeout=60):
    """carriers() once every live connection is counted at exactly one
    director: a flow the router just moved still looks fresh at its old
    director for a few seconds."""
    def counted():
        t = time.monotonic()
        live = {c[4] for c in tr.check(check_s) if c[2] == "ok"}
        return live, carriers(site, since=t)
    def settled(lc):
        live, c = lc
        return sum(map(len, c.values())) == len(live) and set().union(*c.values()) == live
    return poll(counted, timeout=timeout, interval=0.5, until=settled,
                what="each live connection to be carried by exactly one director")[1]


def data_plane_dead(site, name, dead=True):
    """After a director's route is withdrawn, its data plane is taken away
    as well (nftables drops everything for the VIP on arrival): the IPVS
    table a killed directord leaves in the kernel would otherwise go on
    forwarding any flow the router still sent there, and the test could not
    tell that the surviving directors carry them."""
    ns = site.lb[name]
    if dead:
        ns.run("nft", "-f", "-", input=(f"table ip ecmpdead {{\n chain pre {{\n  type filter hook prerouting "
                                         f"priority -300;\n  ip daddr {VIP} drop\n }}\n}}\n"))
    else:
        ns.run("nft", "delete", "table", "ip", "ecmpdead", check=False)


@contextlib.contextmanager
def running(site, ping_ms=1000):
    """Yields a tests/lab/traffic.py client (pairlab.Traffic) in the
    client namespace; on any failure the daemons' logs and the router's
    table are dumped first; the client is closed afterwards."""
    import pairlab
    tr = None
    try:
        tr = pairlab.Traffic(site, ping_ms=ping_ms)
        yield tr
    except BaseException:
        site.dump()
        raise
    finally:
        if tr:
            tr.close()


def kill_and_return(site, tr, victim, n_old=60, n_new=20, check_s=60, timeout=60):
    """Long-lived connections over every director, SIGKILL of `victim`'s
    directord (its tun device goes, its BIRD withdraws, the router reroutes),
    then its return (directord restarted). Returns the figures; asserts
    nothing but what the scenario needs to go on (the caller judges)."""
    import pairlab
    names = list(site.lb)
    fig = {"directors": names, "victim": victim, "t": {}}
    t_start = time.monotonic()

    def mark(what):
        fig["t"][what] = round(time.monotonic() - t_start, 1)
    r = tr.open(n_old, "old")
    fig["old_open"] = r
    t = time.monotonic()
    conns = tr.check(check_s)
    before = carriers(site, since=t)
    mark("opened")
    fig["before"] = {n: len(p) for n, p in before.items()}
    fig["old_before"] = pairlab.survival(conns, ["old"])
    via_victim = before[victim]
    # The kill.
    t = time.monotonic()
    site.daemons[victim].kill()
    site.wait_nexthops([n for n in names if n != victim], timeout)
    fig["withdrawn_after_s"] = round(time.monotonic() - t, 3)
    fig["tun_gone"] = not site.announced(victim) and \
        site.lb[victim].ip("link", "show", TUN, check=False).returncode != 0
    mark("withdrawn")
    data_plane_dead(site, victim)
    conns = tr.check(check_s)
    fig["after_kill"] = pairlab.survival(conns, ["old"])
    ok_ports = {c[4] for c in conns if c[2] == "ok"}
    fig["via_victim"] = (len(via_victim & ok_ports), len(via_victim))
    fig["lost_after_kill"] = pairlab.failures(conns)
    fig["during"] = {n: len(p) for n, p in settled_carriers(site, tr, check_s).items()}
    a = tr.open(n_new, "new_killed")
    fig["new_killed"] = (a["ok"], n_new)
    mark("checked_after_kill")
    # The return.
    data_plane_dead(site, victim, dead=False)
    site.start_directord(victim)
    site.wait_nexthops(names, timeout)
    mark("returned")
    conns = tr.check(check_s)
    fig["after_return"] = pairlab.survival(conns, ["old", "new_killed"])
    fig["lost_after_return"] = pairlab.failures(conns)
    fig["after"] = {n: len(p) for n, p in
                    settled_carriers(site, tr, check_s).items()}
    a = tr.open(n_new, "new_returned")
    fig["new_returned"] = (a["ok"], n_new)
    conns = tr.check(check_s)
    fig["final"] = pairlab.survival(conns)
    fig["lost_final"] = pairlab.failures(conns)
    mark("done")
    return fig


def drain_and_return(site, tr, victim, check_s=60, timeout=60):
    """`directorctl drain-director` on `victim` (its route goes, the router
    moves its flows to the others), then undrain-director (it comes back).
    Returns the figures: survival after each step (pairlab.survival)."""
    import pairlab
    names = list(site.lb)
    fig = {"victim": victim}
    r = site.ctl(victim, "drain-director")
    fig["drain_rc"] = (r.returncode, r.stdout + r.stderr)
    site.wait_nexthops([n for n in names if n != victim], timeout)
    fig["announced_while_drained"] = site.announced(victim)
    conns = tr.check(check_s)
    fig["after_drain"] = pairlab.survival(conns)
    fig["lost_after_drain"] = pairlab.failures(conns)
    r = site.ctl(victim, "undrain-director")
    fig["undrain_rc"] = (r.returncode, r.stdout + r.stderr)
    site.wait_nexthops(names, timeout)
    conns = tr.check(check_s)
    fig["after_undrain"] = pairlab.survival(conns)
    fig["lost_after_undrain"] = pairlab.failures(conns)
    return fig
