# SPDX-License-Identifier: GPL-2.0-or-later
"""tests/lab/pairlab.py: the director-pair lab, shared by the in-guest tests
(tests/vm/guest/test_pair_*.py), the README demo (demo.sh) and the
benchmark (bench/pair/). Runs in the caller's Python process (pytest in the
guest, or a plain script on a host kernel that has IPVS).

A site is a client namespace, two director namespaces (lb1, lb2) and three
real servers, in NAT or DR:

  NAT  cli 192.0.2.10 --front-- lb1 .1, lb2 .2, VIP 192.0.2.100
       lb1 198.51.100.2, lb2 .3 --back-- rs1..3 198.51.100.11-13
       the real servers' gateway 198.51.100.1 is the cluster's second VIP
  DR   cli 192.0.2.10, lb1 .1, lb2 .2, rs1..3 .11-.13 --front--, VIP .100
       (the real servers hold the VIP on lo, arp_ignore/arp_announce set)
       lb1 198.51.100.2, lb2 .3 --back-- (second heartbeat link, sync)

The directors run directord (or keepalived, for the benchmark) with the
IPVS sync daemon on eth1. The real servers run tests/lab/echod.py; the
client runs ONE tests/lab/traffic.py for all its connections.
"""
import json
import os
import select
import signal
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import nslab as labmod  # noqa: E402  (tests/lab/nslab.py, the lab library)
from nslab import poll  # noqa: E402,F401  (re-exported for the pair tests)

VIP = "192.0.2.100"
GW_VIP = "198.51.100.1"
PORT = 7000
CLIENT = "192.0.2.10"
LB_FRONT = {"lb1": "192.0.2.1", "lb2": "192.0.2.2"}
LB_BACK = {"lb1": "198.51.100.2", "lb2": "198.51.100.3"}
RS_NAT = ["198.51.100.11", "198.51.100.12", "198.51.100.13"]
RS_DR = ["192.0.2.11", "192.0.2.12", "192.0.2.13"]
KEY = b"pairlab-0123456789abcdef01234567"
SYNCID = 7


class Site:
    """One NAT or DR site built in `lab` (a tests/lab/nslab.py Lab)."""

    def __init__(self, lab, mode):
        assert mode in ("nat", "dr")
        self.lab, self.mode = lab, mode
        self.rs_addrs = RS_NAT if mode == "nat" else RS_DR
        front, back = lab.bridge("fr"), lab.bridge("bk")
        self.cli = lab.netns("cli")
        self.lb = {n: lab.netns(n) for n in ("lb1", "lb2")}
        self.rs = [lab.netns(f"rs{i + 1}") for i in range(3)]
        lab.connect(self.cli, front, f"{CLIENT}/24")
        for n, ns in self.lb.items():
            lab.connect(ns, front, f"{LB_FRONT[n]}/24")
            lab.connect(ns, back, f"{LB_BACK[n]}/24", ifname="eth1")
            ns.forwarding()
        for ns, addr in zip(self.rs, self.rs_addrs):
            if mode == "nat":
                lab.connect(ns, back, f"{addr}/24")
                ns.route_add("default", GW_VIP)
            else:
                lab.connect(ns, front, f"{addr}/24")
                ns.sh(f"ip addr add {VIP}/32 dev lo && sysctl -qw net.ipv4.conf.all.arp_ignore=1 "
                      "net.ipv4.conf.all.arp_announce=2 net.ipv4.conf.eth0.arp_ignore=1 "
                      "net.ipv4.conf.eth0.arp_announce=2")
        self.daemons = {}
        self.echod = {}
        labmod.write_key(lab, KEY)

    # ---- real servers ----------------------------------------------------
    def start_echod(self):
        for i, ns in enumerate(self.rs):
            self.start_one_echod(i)

    def start_one_echod(self, i):
        p = labmod.start_echod(self.rs[i], f"rs{i + 1}", PORT)
        self.echod[i] = p
        return p

    # ---- directord -------------------------------------------------------
    def directord_conf(self, node, prio, sloppy=False, scheduler=None, failback=True,
                       failback_delay_ms=0, interval_ms=200, dead_ms=2000, check_ms=1000, key_file=None,
                       prio_text=None):
        """The node's config file. key_file: its own key (default: the
        lab's shared hb.key); prio_text replaces the priority's value (a
        config with an error, for a bad reload)."""
        peer = "lb2" if node == "lb1" else "lb1"
        d = self.lab.dir
        sched = scheduler or ("mh" if sloppy else "wlc")
        flags = 'sched_flags = [ "mh-port" ];' if sched == "mh" else ""
        vips = f'{{ address = "{VIP}/24"; interface = "eth0"; }}'
        if self.mode == "nat":
            vips += f', {{ address = "{GW_VIP}/24"; interface = "eth1"; }}'
        rss = ", ".join(f'{{ address = "{a}"; }}' for a in self.rs_addrs)
        text = f"""
node = "{node}";
pid_file = "{d}/{node}.pid";
control = {{ socket = "{d}/{node}.sock"; }};
logging = {{ level = "info"; }};
heartbeat = {{
  key_file = "{key_file or d + '/hb.key'}"; state_file = "{d}/{node}.generation";
  interval_ms = {interval_ms}; dead_ms = {dead_ms};
  peers = ( {{ name = "{peer}";
     links = ( {{ local = "{LB_FRONT[node]}"; remote = "{LB_FRONT[peer]}"; interface = "eth0"; }},
               {{ local = "{LB_BACK[node]}"; remote = "{LB_BACK[peer]}"; interface = "eth1"; }} ); }} );
}};
sync = {{ enabled = true; interface = "eth1"; syncid = {SYNCID}; sloppy = {"true" if sloppy else "false"}; }};
clusters = ( {{
  name = "web"; priority = {prio_text or prio}; failback = {"true" if failback else "false"};
  failback_delay_ms = {failback_delay_ms};
  garp = {{ count = 3; interval_ms = 100; }};
  vips = ( {vips} );
  services = ( {{
    name = "echo"; protocol = "tcp"; address = "{VIP}"; port = {PORT};
    scheduler = "{sched}"; {flags} forward = "{self.mode}"; removal = "remove";
    check = {{ type = "tcp"; interval_ms = {check_ms}; timeout_ms = {min(check_ms, 1000) * 3 // 4};
              rise = 1; fall = 2; initial = "up"; }};
    real_servers = ( {rss} );
  }} );
}} );
"""
        path = os.path.join(d, f"{node}.conf")
        with open(path, "w") as f:
            f.write(text)
        return path

    def start_directord(self, node, syslog_sock=None, **kw):
        prio = 150 if node == "lb1" else 100
        conf = self.directord_conf(node, prio, **kw)
        p = labmod.start_directord(self.lab, self.lb[node], node, conf, syslog_sock)
        self.daemons[node] = p
        return p

    def wait_pair(self, active="lb1", standby="lb2", timeout=30):
        """Polls until both directors programmed the service with every
        real server and the sync daemons run as master (active) and backup
        (standby)."""
        want = sorted(self.rs_addrs)
        for n in (active, standby):
            poll(lambda: self.dests(n), timeout=timeout, until=lambda d: d == want,
                 what=f"{n} to program IPVS")
        for n, role in ((active, "master"), (standby, "backup")):
            poll(lambda: self.sync_daemons(n), timeout=timeout, until=lambda s: s == [role],
                 what=f"{n}'s sync daemon as {role}")

    def start_pair(self, **opts):
        """directord on lb1 first (it becomes active), then on lb2 (it joins
        as standby); returns both Procs once wait_pair() holds."""
        lb1 = self.start_directord("lb1", **opts)
        self.wait_active("lb1")
        lb2 = self.start_directord("lb2", **opts)
        self.wait_pair()
        return lb1, lb2

    # ---- keepalived (benchmark) -------------------------------------------
    def keepalived_conf(self, node, prio, sloppy=False, advert_int=1.0, check_ms=1000):
        peer = "lb2" if node == "lb1" else "lb1"
        sched = "mh" if sloppy else "wlc"
        flags = "    mh-port\n" if sloppy else ""
        vips = f"        {VIP}/24 dev eth0\n"
        if self.mode == "nat":
            vips += f"        {GW_VIP}/24 dev eth1\n"
        rss = "".join(f"""    real_server {a} {PORT} {{
        weight 1
        TCP_CHECK {{
            connect_timeout {max(1, check_ms * 3 // 4000)}
            retry 1
            delay_before_retry 0
        }}
    }}
""" for a in self.rs_addrs)
        text = f"""global_defs {{
    router_id {node}
    lvs_sync_daemon eth1 VI_1 id {SYNCID}
    vrrp_garp_master_repeat 3
    vrrp_garp_interval 0.1
}}
vrrp_instance VI_1 {{
    state BACKUP
    interface eth1
    virtual_router_id 51
    version 3
    priority {prio}
    advert_int {advert_int}
    unicast_src_ip {LB_BACK[node]}
    unicast_peer {{
        {LB_BACK[peer]}
    }}
    virtual_ipaddress {{
{vips}    }}
}}
virtual_server {VIP} {PORT} {{
    delay_loop {max(1, check_ms // 1000)}
    lvs_sched {sched}
{flags}    lvs_method {self.mode.upper()}
    protocol TCP
{rss}}}
"""
        path = os.path.join(self.lab.dir, f"keepalived-{node}.conf")
        with open(path, "w") as f:
            f.write(text)
        return path

    def start_keepalived(self, node, sloppy=False, **kw):
        prio = 150 if node == "lb1" else 100
        conf = self.keepalived_conf(node, prio, sloppy=sloppy, **kw)
        ns = self.lb[node]
        if sloppy:
            # keepalived has no knob for it: set by hand on both, as an
            # operator would.
            ns.sh("sysctl -qw net.ipv4.vs.sloppy_tcp=1")
        pid = os.path.join(self.lab.dir, f"ka-{node}")
        p = ns.spawn("keepalived", "--dont-fork", "--log-console", "--log-detail", "--use-file", conf,
                     "--pid", pid + ".pid", "--vrrp_pid", pid + "-vrrp.pid",
                     "--checkers_pid", pid + "-check.pid", name=f"keepalived-{node}")
        self.daemons[node] = p
        return p

    def dump(self, out=sys.stdout):
        """Every daemon's log so far (for a failing test's report)."""
        for name, p in self.daemons.items():
            out.write(f"---- {p.name} ({name}) log:\n{p.log()}\n")
            if p.alive():
                out.write(task_stacks(p.pid))
        out.flush()

    # ---- observation -------------------------------------------------------
    def has_vip(self, node):
        return VIP in self.lb[node].addrs("eth0")

    def active(self):
        """The node holding the VIP, if exactly one does."""
        held = [n for n in self.lb if self.has_vip(n)]
        return held[0] if len(held) == 1 else None

    def ctl(self, node, *args):
        """directorctl against `node`'s control socket, in its namespace."""
        return labmod.directorctl(os.path.join(self.lab.dir, f"{node}.sock"), *args, ns=self.lb[node],
                                  timeout=60)

    def wait_active(self, node, timeout=30):
        return poll(lambda: self.active() == node, timeout=timeout,
                    what=f"{node} to hold the VIP alone")

    def dests(self, node):
        svc = labmod.ipvs_service(self.lb[node], f"TCP {VIP}:{PORT}")
        return sorted(d.addr for d in svc.dests) if svc else None

    def sync_daemons(self, node):
        out = self.lb[node].ipvsadm("-L", "--daemon").stdout
        return sorted(w for w in ("master", "backup") if f"{w} sync daemon" in out)

    def synced_conns(self, node):
        """Connections to the VIP in node's IPVS table."""
        return [c for c in labmod.ipvs_conns(self.lb[node]) if c.virtual == f"{VIP}:{PORT}"]

    def sync_period(self, period):
        """Re-sync every `period` packets (net.ipv4.vs.sync_threshold "3
        period", 50 by default) on both directors: a connection reaches a
        peer that was away only when it is re-sent."""
        for ns in self.lb.values():
            ns.sh(f'sysctl -qw net.ipv4.vs.sync_threshold="3 {period}"')

    # ---- faults -----------------------------------------------------------
    def arm_kill(self, node):
        """Starts the `ip` that will take node's links down, so that the kill
        itself costs no process start (0.1-0.6 s under TCG)."""
        k = subprocess.Popen(self.lb[node].argv(["ip", "-force", "-batch", "-"]), stdin=subprocess.PIPE,
                             stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
        # Ready once it answers: the first command then runs at once.
        k.stdin.write("link show dev lo\n")
        k.stdin.flush()
        k.stdout.readline()
        self._killer = k
        return k

    def die(self, node):
        """The director dies as a machine would: its links go down (it stops
        forwarding and heartbeating at once) and its daemon is SIGKILLed.
        Returns the monotonic time just before. arm_kill(node) first makes
        it quicker."""
        killer = getattr(self, "_killer", None) or self.arm_kill(node)
        self._killer = None
        t = time.monotonic()
        killer.stdin.write("link set eth0 down\nlink set eth1 down\n")
        killer.stdin.flush()
        p = self.daemons.get(node)
        if p and p.alive():
            p.kill()
        killer.stdin.close()
        killer.stdout.read()
        killer.wait(30)
        return t

    def revive(self, node):
        """The dead director's machine comes back: no VIPs (a reboot would
        not keep them), links up. The daemon is started by the caller.
        (The kernel's IPVS connection table of the namespace survived: a
        namespace has no reboot.)"""
        ns = self.lb[node]
        lines = [f"addr del {VIP}/24 dev eth0"]
        if self.mode == "nat":
            lines.append(f"addr del {GW_VIP}/24 dev eth1")
        labmod.run(ns.argv(["ip", "-force", "-batch", "-"]), check=False,
                   input="".join(x + "\n" for x in lines))
        labmod.ip_batch(ns, ["link set eth0 up", "link set eth1 up"])


def run_scene(lab, mode, scene):
    """Runs scene(site) on a fresh Site; on any failure the directors' logs
    and tables are dumped before the error goes up."""
    site = Site(lab, mode)
    try:
        scene(site)
    except BaseException:
        site.dump()
        raise


def task_stacks(pid):
    """Where each thread of a live process waits (kernel stacks): tells a
    hung netlink call from a busy loop."""
    import glob
    out = []
    for t in sorted(glob.glob(f"/proc/{pid}/task/*")):
        try:
            comm = open(t + "/comm").read().strip()
            st = open(t + "/stack").read()
        except OSError as e:
            comm, st = "?", str(e)
        out.append(f"  task {t.rsplit('/', 1)[1]} ({comm}):\n" + "".join("    " + x + "\n" for x in st.splitlines()))
    return "".join(out)


class Traffic:
    """Client for one tests/lab/traffic.py running in the client namespace."""

    def __init__(self, site, ping_ms=1000):
        argv = site.cli.argv(["/usr/bin/python3", "-u", os.path.join(HERE, "traffic.py"), VIP,
                              str(PORT), str(ping_ms)])
        self.p = subprocess.Popen(argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                  stderr=subprocess.PIPE, text=True, start_new_session=True)

    def cmd(self, line, timeout=120):
        self.p.stdin.write(line + "\n")
        self.p.stdin.flush()
        r, _, _ = select.select([self.p.stdout], [], [], timeout)
        if not r:
            raise TimeoutError(f"traffic generator: no answer to {line!r} in {timeout} s")
        out = self.p.stdout.readline()
        if not out:
            raise RuntimeError(f"traffic generator died: {self.p.stderr.read()}")
        return json.loads(out)

    def open(self, n, tag):
        return self.cmd(f"open {n} {tag}")

    def churn(self, ms, tag="young"):
        return self.cmd(f"churn {ms} {tag}")

    def check(self, seconds):
        return self.cmd(f"check {seconds}", timeout=seconds + 60)["conns"]

    def gap(self, t0, t1):
        return self.cmd(f"gap {t0} {t1}")

    def stats(self):
        return self.cmd("stats")

    def next_young(self):
        return self.cmd("next")["t_open"]

    def kill_on_next_young(self, site, node):
        """The generator itself kills `node` (links down + SIGKILL) right
        after the next young connection opens; returns (t_kill, t_open)."""
        p = site.daemons[node]
        self.cmd(f"arm {site.lb[node].name} {p.pid}")
        r = self.cmd("fire")
        p.popen.wait(30)
        return r["t_kill"], r["t_open"]

    def close(self):
        if self.p.poll() is None:
            try:
                self.p.stdin.write("quit\n")
                self.p.stdin.flush()
                self.p.wait(10)
            except (OSError, subprocess.TimeoutExpired):
                os.killpg(self.p.pid, signal.SIGKILL)
                self.p.wait()


def survival(conns, tags=None, opened_from=None, opened_to=None):
    """(survived, total) among check() results matching tags / open time."""
    sel = [c for c in conns if (tags is None or c[0] in tags)
           and (opened_from is None or (c[1] is not None and c[1] >= opened_from))
           and (opened_to is None or (c[1] is not None and c[1] <= opened_to))]
    return sum(1 for c in sel if c[2] == "ok"), len(sel)


def failures(conns, tags=None):
    return [c for c in conns if (tags is None or c[0] in tags) and c[2] != "ok"]


# ---- the scenario, shared by the tests, the demo and the benchmark --------

def live_ports(conns):
    return {c[4] for c in conns if c[2] == "ok" and c[4]}


def wait_synced(site, node, ports, timeout=60):
    """Polls until node's IPVS table has a connection from every client
    port in `ports` (the sync daemon copied them)."""
    def missing():
        have = {int(c.source.rsplit(":", 1)[1]) for c in site.synced_conns(node)
                if c.source.startswith(CLIENT + ":")}
        return sorted(set(ports) - have)
    poll(missing, timeout=timeout, until=lambda m: not m,
         what=f"{node}'s IPVS table to hold every live connection (sync daemon)")


def kill_active(site, tr, victim, survivor, n_old=200, churn_ms=20, young_window=0.1,
                check_s=30, wait_sync=True):
    """Opens n_old long-lived connections, waits until the standby has them
    all (sync), keeps opening young ones every churn_ms, kills the active
    director (links down + SIGKILL), waits for the survivor to take over,
    proves new connections work, and asks every connection for a reply.

    Returns a dict of figures: old/young survival, gap, takeover time."""
    r = tr.open(n_old, "old")
    assert r["ok"] == n_old, f"old connections failed to open: {r}"
    fig = {"old_by_rs": r["by_rs"]}
    if wait_sync:
        conns = tr.check(check_s)
        assert len(live_ports(conns)) == n_old, failures(conns)
        wait_synced(site, survivor, live_ports(conns))
    tr.churn(churn_ms, "young")
    # Churn for a while before the kill, so that the last 100 ms hold
    # young connections at every stage of their life.
    poll(lambda: tr.stats()["by_tag"].get("young", 0), timeout=60, interval=0.2,
         until=lambda n: n >= max(10, int(1500 / churn_ms)), what="young connections to open")
    t_kill, t_next = tr.kill_on_next_young(site, victim)
    t_vip = poll(lambda: site.has_vip(survivor) and time.monotonic(), timeout=60, interval=0.02,
                 what=f"{survivor} to take the VIP")
    after = tr.open(20, "after")
    tr.churn(0)
    conns = tr.check(check_s)
    g = tr.gap(t_kill - 2.0, time.monotonic())
    old = survival(conns, ["old"])
    young_w = survival(conns, ["young"], t_kill - young_window, t_kill)
    young_all = survival(conns, ["young"], None, t_kill)
    # Under TCG the generator and the test may stall for more than 100 ms,
    # leaving that window empty: the 5 youngest before the kill are the
    # robust set.
    before = sorted((c for c in conns if c[0] == "young" and c[1] is not None and c[1] <= t_kill),
                    key=lambda c: c[1])[-5:]
    young5 = (sum(1 for c in before if c[2] == "ok"), len(before))
    fig.update({
        "old": old, "young_window": young_w, "young_before_kill": young_all, "young_last5": young5,
        "young_last5_age_ms": [round((t_kill - c[1]) * 1000) for c in before],
        "young_lost_why": sorted({c[2] for c in conns if c[0] == "young" and c[2] != "ok"}),
        "kill_latency_ms": round((t_kill - t_next) * 1000) if t_next else None,
        "after_ok": after["ok"], "after_total": 20,
        "gap_ms": g["gap_ms"], "gap_from": g["from"] - t_kill, "takeover_s": t_vip - t_kill,
        "t_kill": t_kill, "conns": conns,
    })
    return fig


def fmt_share(pair):
    ok, n = pair
    return f"{ok}/{n}" + (f" ({100.0 * ok / n:.0f}%)" if n else "")
