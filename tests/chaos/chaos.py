# SPDX-License-Identifier: GPL-2.0-or-later
"""tests/chaos/chaos.py: the chaos run (issue #12, section 3). A seeded,
reproducible, randomized schedule of faults against a running director pair,
checked continuously against invariants.

Runs in the caller's Python process (pytest, or bench/chaos/run.py): the
fault schedule and the injectors on the calling thread, the invariant
monitor on a thread of its own that samples every 20 ms (which director
holds the VIP, the client's neighbour entry for it, the daemons' logs and
whether they still run) through netlink sockets opened once in each
namespace, so a sample costs no process start.

The pieces:
  schedule(seed)      the faults, a pure function of the seed: kind, node,
                      link, loss percentage, how long it lasts, how long to
                      wait before it (FAULT_KINDS says what each may cause)
  DirectordPair       two directord in the heartbeat lab of tests/net/hbnet.py
                      (host kernel, VIP-only cluster, real rsyslogd)
  KeepalivedPair      keepalived 2.2.7 in the same lab, for comparison
  GuestPair           directord in the IPVS pair lab of tests/lab/pairlab.py
                      (QEMU guest, NAT, traffic through the VIP)
  Monitor             the invariant checker
  run(pair, seed,...) applies the schedule for a duration (or a number of
                      faults) and returns the report (a dict, JSON-ready)

Invariants (numbers as in issue #12):
  1 once no fault has been active for two dead times, exactly one director
    holds the VIP and the client's neighbour entry for it is its MAC;
  2 every role change falls in the window of a fault that may cause one,
    and no fault causes more than its kind's budget (no flapping);
  3 every role change has a log line (an alert line with a reason for
    directord) and every VIP move the monitor saw has one;
  4 no unexpected exit, no sanitizer report, no process left over in the
    lab's namespaces after teardown;
  5 (guest) established connections survive every fault (each fault here
    leaves at least one director running).

Addresses: the lab's documentation ranges only. Every loop is bounded in
count and time; waits poll with deadlines (the waits between faults are
drawn from the seeded RNG).
"""
import dataclasses
import json
import os
import random
import re
import signal as sigs
import socket
import subprocess
import sys
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "lab"))
sys.path.insert(0, os.path.join(HERE, "..", "net"))
import nslab  # noqa: E402  (tests/lab/nslab.py, the lab library)
from nslab import wait_for  # noqa: E402

SAMPLE_S = 0.02
SANITIZER = re.compile(r"ERROR: (AddressSanitizer|LeakSanitizer)|runtime error:")


# ------------------------------------------------------------- schedule --

@dataclasses.dataclass(frozen=True)
class Kind:
    """A fault kind: its weight in the draw, how many role changes (both
    directors together) it may cause at most, and a word on why."""
    weight: int
    budget: int
    why: str


FAULT_KINDS = {
    "link_one": Kind(12, 0, "one of two heartbeat links down: the other carries the keepalives"),
    "link_both": Kind(8, 3, "both links of one director down: the peer goes active (split brain), "
                            "the loser of the election yields when they come back"),
    "loss_one": Kind(10, 0, "10-100 % loss on one link: the other link is clean"),
    "loss_both": Kind(5, 3, "5-40 % loss on both links of one director: a dead time without a "
                            "packet is unlikely but possible (a split brain episode)"),
    "stop_short": Kind(8, 0, "SIGSTOP for at most 0.4 dead times: no silence long enough"),
    "stop_long": Kind(8, 4, "SIGSTOP for 1.5-5 dead times: the peer takes over; on SIGCONT the "
                            "election settles it"),
    "kill": Kind(8, 4, "SIGKILL and restart: the peer takes over; the restarted one joins"),
    "term": Kind(6, 4, "SIGTERM (handover) and restart"),
    "reload_good": Kind(8, 0, "SIGHUP after writing a valid config (garp count changed)"),
    "reload_bad": Kind(6, 0, "SIGHUP after writing a config with an error: rejected"),
    "takeover": Kind(5, 2, "directorctl takeover on the standby: the roles swap"),
    "release": Kind(5, 2, "directorctl release on the active: the roles swap"),
    "wrong_key": Kind(4, 3, "one director reloads with a wrong key for a while: both go active "
                            "(heard but not believed), then one yields"),
    "stress": Kind(3, 0, "stress-ng --cpu 2 for 1-4 s: the keepalives run at real-time priority"),
}


@dataclasses.dataclass
class Fault:
    """One fault of the schedule (the drawn part) and what happened."""
    idx: int
    kind: str
    node: str
    wait_s: float          # pause before it
    hold_s: float          # how long it lasts (down time, stop time, ...)
    link: int = 0
    pct: int = 0
    # filled in by run():
    t_start: float = None
    t_end: float = None
    skipped: str = ""
    note: str = ""
    role_changes: list = dataclasses.field(default_factory=list)

    def describe(self):
        s = f"#{self.idx} {self.kind} {self.node}"
        if self.kind in ("link_one", "loss_one"):
            s += f" link {self.link}"
        if self.kind.startswith("loss"):
            s += f" {self.pct}%"
        return s + f" for {self.hold_s:.3f} s after {self.wait_s:.3f} s"


def schedule(seed, dead_s, n, kinds=None):
    """The first `n` faults drawn from `seed`: a pure function of its
    arguments, so a seed replays the same schedule. `kinds` restricts the
    draw (the default is every kind of FAULT_KINDS)."""
    rng = random.Random(seed)
    names = sorted(kinds or FAULT_KINDS)
    weights = [FAULT_KINDS[k].weight for k in names]
    out = []
    for i in range(n):
        kind = rng.choices(names, weights)[0]
        node = rng.choice(("lb1", "lb2"))
        # Long enough between faults for invariant 1 to be sampled: two
        # dead times of quiet plus a few samples.
        wait = dead_s * rng.uniform(2.5, 5.0)
        link, pct = rng.randrange(2), 0
        if kind in ("link_one", "link_both"):
            hold = dead_s * rng.uniform(1.5, 6.0)
        elif kind == "loss_one":
            hold, pct = dead_s * rng.uniform(3.0, 10.0), rng.randint(10, 100)
        elif kind == "loss_both":
            hold, pct = dead_s * rng.uniform(3.0, 10.0), rng.randint(5, 40)
        elif kind == "stop_short":
            hold = dead_s * rng.uniform(0.1, 0.4)
        elif kind == "stop_long":
            hold = dead_s * rng.uniform(1.5, 5.0)
        elif kind in ("kill", "term"):
            hold = dead_s * rng.uniform(0.5, 5.0)    # down time before the restart
        elif kind == "wrong_key":
            hold = dead_s * rng.uniform(3.0, 10.0)
        elif kind == "stress":
            hold = float(rng.randint(1, 4))
        else:
            hold = 0.0
        out.append(Fault(i, kind, node, round(wait, 3), round(hold, 3), link, pct))
    return out


# ----------------------------------------------------------- log tails --

class LogTail:
    """Lines appended to a file since the last poll(), each stamped with
    the monotonic time it was first seen (every 20 ms by the monitor)."""

    def __init__(self, path):
        self.path = path
        self.off = 0
        self.part = b""
        self.lines = []    # (t, text)
        self.lock = threading.RLock()

    def poll(self, now=None):
        with self.lock:
            return self._poll(now)

    def _poll(self, now):
        try:
            with open(self.path, "rb") as f:
                f.seek(self.off)
                data = f.read(1 << 20)
        except FileNotFoundError:
            return []
        if not data:
            return []
        self.off += len(data)
        data = self.part + data
        chunks = data.split(b"\n")
        self.part = chunks.pop()
        t = now if now is not None else time.monotonic()
        new = [(t, c.decode(errors="replace")) for c in chunks]
        self.lines.extend(new)
        return new

    def fresh(self, t0, rx=None):
        """poll(), then since(t0, rx): for waits on the calling thread."""
        self.poll()
        return self.since(t0, rx)

    def since(self, t0, rx=None):
        """Lines seen at or after t0 (matching regex rx)."""
        with self.lock:
            sel = [x for x in self.lines if x[0] >= t0]
        if rx is not None:
            r = re.compile(rx)
            sel = [x for x in sel if r.search(x[1])]
        return sel


# ------------------------------------------------------------ netlink --

class NsView:
    """Netlink socket (pyroute2) opened once inside a namespace: the
    addresses and neighbours there without starting a process."""

    def __init__(self, nsname):
        from pyroute2 import IPRoute, netns
        netns.pushns(nsname)
        try:
            self.ipr = IPRoute()
        finally:
            netns.popns()

    def has_addr(self, addr):
        fam = socket.AF_INET6 if ":" in addr else socket.AF_INET
        return any(a.get_attr("IFA_ADDRESS") == addr for a in self.ipr.get_addr(family=fam))

    def neigh(self, addr):
        """The lladdr of a usable neighbour entry for addr, else None."""
        for n in self.ipr.get_neighbours():
            if n.get_attr("NDA_DST") == addr:
                # NUD_INCOMPLETE 0x01, NUD_FAILED 0x20: no usable address.
                if n["state"] & 0x21:
                    return None
                return n.get_attr("NDA_LLADDR")
        return None

    def close(self):
        self.ipr.close()


# ---------------------------------------------------------------- pairs --

class PairBase:
    """What the runner needs of a director pair. Subclasses start the
    daemons and know their logs; this holds the common faults."""

    nodes = ("lb1", "lb2")
    daemon = "?"
    supported = set(FAULT_KINDS)
    vip = None

    def __init__(self, lab, dead_s):
        self.lab = lab
        self.dead_s = dead_s
        self.procs = {}          # node -> nslab.Proc (the current one)
        self.expect_alive = {}   # node -> bool
        self.all_procs = []      # (node, Proc) ever started
        self.variant = {"lb1": 0, "lb2": 0}   # reload_good flips it: a real change
        self.keys = {}                        # node -> its key file (wrong_key)
        self.good_key = None

    # -- daemons
    def start(self, node):
        p = self._start(node)
        self.procs[node] = p
        self.expect_alive[node] = True
        self.all_procs.append((node, p))
        return p

    def alive(self, node):
        p = self.procs.get(node)
        return bool(p and p.alive())

    def signal(self, node, sig):
        """`sig` to node's process group (keepalived forks children)."""
        p = self.procs[node]
        try:
            os.killpg(p.pid, sig)
        except ProcessLookupError:
            pass

    def stop(self, node, sig=sigs.SIGTERM, timeout=15):
        """Sends `sig` and waits for the exit; returns the exit status."""
        self.expect_alive[node] = False
        p = self.procs[node]
        if p.alive():
            self.signal(node, sig)
        try:
            return p.popen.wait(timeout)
        except subprocess.TimeoutExpired:
            self.signal(node, sigs.SIGKILL)
            p.popen.wait(10)
            return f"hung after {sig!r}: SIGKILLed"

    def write_key(self, node, key):
        """node's key file, replaced atomically (mode 0600)."""
        tmp = self.keys[node] + ".tmp"
        with open(tmp, "wb") as f:
            f.write(key + b"\n")
        os.chmod(tmp, 0o600)
        os.rename(tmp, self.keys[node])

    # -- network faults
    def port(self, node, link):
        """(netns or None, switch-side port) of node's heartbeat link."""
        raise NotImplementedError

    def link(self, node, link, up):
        ns, port = self.port(node, link)
        nslab.ip_batch(ns, [f"link set {port} {'up' if up else 'down'}"])

    def ifname(self, link):
        return f"eth{link}"

    def loss(self, node, links, pct):
        """Drops pct % of the packets in and out of node's links (nftables
        numgen; the host has no netem); pct None removes the rule."""
        ns = self.host(node)
        ns.run("nft", "delete", "table", "inet", "chaos", check=False)
        if pct is None:
            return
        # "mod 100 < 100" is out of nft's range: 100 % is a plain drop.
        cond = "" if pct >= 100 else f"numgen random mod 100 < {pct} "
        rules = "".join(f'    iifname "{self.ifname(i)}" {cond}drop\n' for i in links)
        orules = "".join(f'    oifname "{self.ifname(i)}" {cond}drop\n' for i in links)
        ns.run("nft", "-f", "-", input=f"table inet chaos {{\n  chain in {{\n"
               f"    type filter hook input priority -10; policy accept;\n{rules}  }}\n"
               f"  chain out {{\n    type filter hook output priority -10; policy accept;\n{orules}  }}\n}}\n")

    def host(self, node):
        raise NotImplementedError

    # -- to be provided
    def role_lines(self):
        """[(t, node, old, new, reason)] of every role change logged."""
        raise NotImplementedError

    def logs(self):
        """{name: text} of every daemon log, for sanitizer scans and reports."""
        out = {}
        for node, p in self.all_procs:     # restarts append to one file
            out.setdefault(os.path.basename(p.log_path), p.log())
        return out

    def poll_logs(self, now):
        pass

    def start_all(self):
        raise NotImplementedError


class DirectordPair(PairBase):
    """directord on the host: the lab of tests/net/hbnet.py (lb1, lb2, a
    client on the front segment, heartbeat link 0 there and link 1 on a
    segment of its own), a VIP-only cluster, alerts through the lab's real
    rsyslogd. Each director has its own key file (the wrong_key fault
    rewrites one)."""

    daemon = "directord"

    def __init__(self, lab, interval_ms=50, dead_ms=200, syslog=True):
        super().__init__(lab, dead_ms / 1000.0)
        import hbnet
        self.hbnet = hbnet
        self.vip = hbnet.VIP4
        self.interval_ms, self.dead_ms = interval_ms, dead_ms
        self.sock = self.messages = None
        if syslog:
            self.sock, self.messages = lab.start_rsyslog()
        self.alert_tail = LogTail((self.messages + ".alert") if syslog else None)
        self.msg_tail = LogTail(self.messages) if syslog else None
        self.pid_node = {}
        self.good_key = hbnet.KEY
        for n in self.nodes:
            self.keys[n] = os.path.join(lab.dir, f"{n}.key")
            self.write_key(n, hbnet.KEY)

    def host(self, node):
        return self.lab.hosts[node]

    def client(self):
        return self.lab.hosts["client"]

    def port(self, node, link):
        return self.lab.hosts["sw"], {"lb1": "a", "lb2": "b"}[node] + str(link)

    def conf(self, node, bad=False):
        prio = 150 if node == "lb1" else 100
        path = self.lab.conf(node, prio, interval=self.interval_ms, dead=self.dead_ms,
                             garp=f"count = {3 - self.variant[node]}; interval_ms = 100;", key=self.keys[node])
        if bad:
            with open(path) as f:
                text = f.read()
            with open(path, "w") as f:
                f.write(text.replace(f"priority = {prio};", "priority = 300;"))
        return path

    def _start(self, node):
        p = self.lab.start(node, 150 if node == "lb1" else 100, syslog_sock=self.sock,
                           interval=self.interval_ms, dead=self.dead_ms, key=self.keys[node],
                           garp=f"count = {3 - self.variant[node]}; interval_ms = 100;")
        self.pid_node[p.pid] = node
        return p

    def start_all(self, timeout=30):
        """lb1 first (it goes active), then lb2 (it joins as standby)."""
        self.start("lb1")
        wait_for(lambda: self.has_vip("lb1"), timeout, "lb1 to hold the VIP")
        t = time.monotonic()
        self.start("lb2")
        self.wait_role("lb2", t, timeout)

    def has_vip(self, node):
        return self.vip in self.host(node).addrs("eth0")

    def poll_logs(self, now):
        if self.msg_tail:
            self.msg_tail.poll(now)
            self.alert_tail.poll(now)

    def _lines(self, tail, rx):
        out = []
        for t, text in tail.since(0, rx):
            m = re.search(r"directord\[(\d+)\]: (.*)$", text)
            if m:
                out.append((t, self.pid_node.get(int(m.group(1)), "?"), m.group(2)))
        return out

    def role_lines(self):
        self.poll_logs(None)
        out = []
        for t, node, text in self._lines(self.alert_tail, r"failover: cluster web: "):
            m = re.match(r"failover: cluster web: (\w+) -> (\w+): ?(.*)$", text)
            if m:
                out.append((t, node) + m.groups())
        return out

    def wait_line(self, node, rx, t0, timeout):
        """Polls until node logged a line matching rx after t0 (syslog)."""
        def seen():
            self.poll_logs(None)
            return [x for x in self._lines(self.msg_tail, rx) if x[1] == node and x[0] >= t0]
        return wait_for(seen, timeout, f"{node} to log {rx!r}")

    def wait_role(self, node, t0, timeout):
        return wait_for(lambda: [r for r in self.role_lines() if r[1] == node and r[0] >= t0],
                        timeout, f"{node} to log a role change")

    def reload(self, node, bad=False):
        t0 = time.monotonic()
        self.conf(node, bad=bad)
        self.signal(node, sigs.SIGHUP)
        self.wait_line(node, r"reload rejected" if bad else r"reload applied", t0, 10 + 20 * self.dead_s)
        if bad:
            self.conf(node)      # the file is good again for the next restart

    def set_key(self, node, wrong):
        self.write_key(node, b"chaos-wrong-key-0123456789abcdef" if wrong else self.good_key)
        self.reload(node)

    def ctl(self, node, *args):
        return nslab.directorctl(os.path.join(self.lab.dir, f"{node}.sock"), *args)


class KeepalivedPair(DirectordPair):
    """keepalived 2.2.7 (`keepalived -n -l -D -f CONF -p PID -r VRRPPID`) in
    the same lab: one VRRPv3 instance, advert_int 0.05 (master down after
    about 3 adverts, close to directord's 200 ms dead time), multicast on
    eth0, the same VIP. keepalived has one VRRP path, so link 1 carries
    nothing of it; it has no takeover/release command and its only
    authentication is VRRPv2 PASS, so those faults are skipped."""

    daemon = "keepalived"
    supported = set(FAULT_KINDS) - {"takeover", "release", "wrong_key"}

    CONF = """global_defs {{
  router_id {node}
  enable_script_security
  vrrp_garp_master_repeat {garp}
}}
vrrp_instance web {{
  state BACKUP
  interface eth0
  virtual_router_id 51
  version 3
  priority {prio}
  {preempt}
  advert_int 0.05
  virtual_ipaddress {{
    {vip}/24 dev eth0
  }}
}}
"""

    def __init__(self, lab, nopreempt=False):
        PairBase.__init__(self, lab, 0.2)
        # nopreempt: a recovered higher priority stays backup, as directord
        # does by default (failback = false).
        self.preempt = "nopreempt" if nopreempt else ""
        import hbnet
        self.hbnet = hbnet
        self.vip = hbnet.VIP4
        self.tails = {}

    def conf(self, node, bad=False):
        prio = 150 if node == "lb1" else 100
        path = os.path.join(self.lab.dir, f"ka-{node}.conf")
        with open(path, "w") as f:
            f.write(self.CONF.format(node=node, prio=300 if bad else prio, vip=self.vip, preempt=self.preempt,
                                     garp=3 - self.variant[node]))
        return path

    def _start(self, node):
        conf = self.conf(node)
        log = self.lab.log_path(node)
        if node not in self.tails:
            self.tails[node] = LogTail(log)
        # This machine's pid 1 reaps orphans late: a SIGKILLed VRRP child
        # stays a zombie for a while, and keepalived takes a pid file naming
        # a zombie for a running daemon. A supervisor would remove them.
        for suffix in ("", "-vrrp"):
            try:
                os.unlink(os.path.join(self.lab.dir, f"ka-{node}{suffix}.pid"))
            except FileNotFoundError:
                pass
        return self.host(node).spawn("keepalived", "-n", "-l", "-D", "-f", conf,
                                     "-p", os.path.join(self.lab.dir, f"ka-{node}.pid"),
                                     "-r", os.path.join(self.lab.dir, f"ka-{node}-vrrp.pid"),
                                     name=f"keepalived-{node}", log=log)

    def poll_logs(self, now):
        for tail in self.tails.values():
            tail.poll(now)

    def role_lines(self):
        self.poll_logs(None)
        out = []
        for node, tail in self.tails.items():
            state = "init"
            for t, text in tail.since(0, r"\(web\) Entering \w+ STATE|Starting VRRP child"):
                if "Starting VRRP child" in text:
                    state = "init"
                    continue
                new = re.search(r"Entering (\w+) STATE", text).group(1).lower()
                new = {"master": "active", "backup": "standby"}.get(new, new)
                # keepalived states no reason: the reason field stays empty.
                out.append((t, node, state, new, ""))
                state = new
        out.sort()
        return out

    def wait_role(self, node, t0, timeout):
        return wait_for(lambda: [r for r in self.role_lines() if r[1] == node and r[0] >= t0],
                        timeout, f"{node} to log a state change")

    def reload(self, node, bad=False):
        t0 = time.monotonic()
        self.conf(node, bad=bad)
        self.signal_parent(node, sigs.SIGHUP)
        # keepalived logs "Reloading" and then re-reads its config; it has
        # no "rejected": wait for the reload to start, then its log to say
        # it read the file.
        tail = self.tails[node]
        wait_for(lambda: tail.fresh(t0, r"Reloading|Got SIGHUP"), 10,
                 f"{node} keepalived to reload")
        if bad:
            self.conf(node)

    def pids(self, node):
        """Every keepalived process in node's namespace: the VRRP child is
        not in the parent's process group, so killpg would miss it."""
        out = []
        for pid in nslab.run(["ip", "netns", "pids", self.host(node).name], check=False).stdout.split():
            try:
                with open(f"/proc/{pid}/comm") as f:
                    if f.read().strip() == "keepalived":
                        out.append(int(pid))
            except OSError:
                pass
        return out

    def signal(self, node, sig):
        for pid in self.pids(node):
            try:
                os.kill(pid, sig)
            except ProcessLookupError:
                pass

    def stop(self, node, sig=sigs.SIGTERM, timeout=15):
        st = super().stop(node, sig, timeout)
        if sig == sigs.SIGKILL:
            self.signal(node, sigs.SIGKILL)   # a child the first round missed
        try:
            wait_for(lambda: not self.pids(node), timeout, f"every keepalived process of {node} to exit")
        except AssertionError:
            self.signal(node, sigs.SIGKILL)
            return f"{st}, children hung: SIGKILLed"
        return st

    def signal_parent(self, node, sig):
        p = self.procs[node]
        if p.alive():
            p.popen.send_signal(sig)


class GuestPair(DirectordPair):
    """directord in the IPVS pair lab of tests/lab/pairlab.py (a NAT site in
    the QEMU guest: client, lb1/lb2 with the sync daemon, three real
    servers behind them, traffic through the VIP). Logs to stderr (no
    syslog in the guest): the alert lines are read from there. The
    heartbeat links are eth0 (front) and eth1 (back, also sync); a link
    fault takes the bridge-side port down."""

    def __init__(self, site, interval_ms=200, dead_ms=1000):
        PairBase.__init__(self, site.lab, dead_ms / 1000.0)
        import pairlab
        self.site = site
        self.vip = pairlab.VIP
        self.interval_ms, self.dead_ms = interval_ms, dead_ms
        self.good_key = pairlab.KEY
        self.tails = {}
        self.ports = {}
        for n in self.nodes:
            self.keys[n] = os.path.join(self.lab.dir, f"{n}.key")
            self.write_key(n, pairlab.KEY)

    def host(self, node):
        return self.site.lb[node]

    def client(self):
        return self.site.cli

    def port(self, node, link):
        """The root namespace's end of node's eth<link> (bridge port)."""
        if (node, link) not in self.ports:
            out = self.host(node).ip("-o", "link", "show", "dev", f"eth{link}").stdout
            peer = int(re.search(r"@if(\d+)", out).group(1))
            mine = nslab.run(["ip", "-o", "link", "show"]).stdout
            self.ports[(node, link)] = re.search(rf"^{peer}: ([^:@]+)[@:]", mine, re.M).group(1)
        return None, self.ports[(node, link)]

    def conf(self, node, bad=False):
        return self.site.directord_conf(node, 150 if node == "lb1" else 100, sloppy=True, failback=False,
                                        interval_ms=self.interval_ms, dead_ms=self.dead_ms,
                                        check_ms=1000 + 500 * self.variant[node], key_file=self.keys[node],
                                        prio_text="300" if bad else None)

    def _start(self, node):
        log = os.path.join(self.lab.dir, f"{node}.log")
        self.tails.setdefault(node, LogTail(log))
        p = nslab.start_directord(self.lab, self.host(node), node, self.conf(node), log=log)
        self.site.daemons[node] = p
        return p

    def start_all(self, timeout=120):
        super().start_all(timeout)
        self.site.wait_pair(timeout=timeout)

    def poll_logs(self, now):
        for tail in list(self.tails.values()):
            tail.poll(now)

    def role_lines(self):
        self.poll_logs(None)
        out = []
        for node, tail in self.tails.items():
            for t, text in tail.since(0, r"failover: cluster web: \w+ -> "):
                m = re.search(r"failover: cluster web: (\w+) -> (\w+): ?(.*)$", text)
                out.append((t, node) + m.groups())
        out.sort()
        return out

    def wait_line(self, node, rx, t0, timeout):
        tail = self.tails[node]
        return wait_for(lambda: tail.fresh(t0, rx), timeout, f"{node} to log {rx!r}")


# ------------------------------------------------------------- monitor --

class Monitor(threading.Thread):
    """Samples the pair every 20 ms on its own thread: VIP holders, the
    client's neighbour entry, daemons alive, new log lines. Checks
    invariant 1 and the crash part of 4 as it goes; run() checks the rest
    from what it recorded."""

    def __init__(self, pair, client_ns, macs, max_s):
        super().__init__(daemon=True)
        self.pair = pair
        self.views = {n: NsView(pair.host(n).name) for n in pair.nodes}
        self.client = NsView(client_ns.name)
        self.macs = macs
        self.max_s = max_s
        self.stop_ev = threading.Event()
        self.lock = threading.Lock()
        self.in_fault = True
        self.quiet_since = time.monotonic()
        self.samples = 0
        self.checked = 0
        self.holder_changes = []   # (t, frozenset of holders)
        self.neigh_changes = []    # (t, mac)
        self.violations = []
        self._bad = None           # open invariant-1 episode
        self._dead_seen = set()
        self.errors = []

    def fault_begin(self):
        with self.lock:
            self.in_fault = True
            self._close_bad(time.monotonic())

    def fault_end(self):
        with self.lock:
            self.in_fault = False
            self.quiet_since = time.monotonic()

    def violate(self, inv, what, t=None, **kw):
        with self.lock:
            self.violations.append(dict(invariant=inv, t=t if t is not None else time.monotonic(), what=what, **kw))

    def _close_bad(self, now):
        if self._bad:
            b = self._bad
            self.violations.append(dict(invariant=1, t=b["t"], what=b["what"],
                                        lasted_s=round(now - b["t"], 3)))
            self._bad = None

    def sample(self):
        now = time.monotonic()
        holders = frozenset(n for n, v in self.views.items() if v.has_addr(self.pair.vip))
        mac = self.client.neigh(self.pair.vip)
        self.pair.poll_logs(now)
        self.samples += 1
        if not self.holder_changes or self.holder_changes[-1][1] != holders:
            self.holder_changes.append((now, holders))
        if not self.neigh_changes or self.neigh_changes[-1][1] != mac:
            self.neigh_changes.append((now, mac))
        for node, p in list(self.pair.procs.items()):
            if self.pair.expect_alive.get(node) and not p.alive() and p.pid not in self._dead_seen:
                self._dead_seen.add(p.pid)
                self.violate(4, f"{node} ({self.pair.daemon}, pid {p.pid}) exited unexpectedly, "
                                f"status {p.popen.returncode}", now)
        with self.lock:
            if self.in_fault or now - self.quiet_since < 2 * self.pair.dead_s:
                return
            self.checked += 1
            ok = len(holders) == 1 and mac == self.macs[next(iter(holders))]
            if ok:
                self._close_bad(now)
            elif not self._bad:
                who = sorted(holders)
                self._bad = dict(t=now, what=f"{len(who)} holders {who}, client's neighbour entry {mac} "
                                             f"({self.mac_owner(mac)}) after {now - self.quiet_since:.3f} s of quiet")

    def mac_owner(self, mac):
        return next((n for n, m in self.macs.items() if m == mac), "nobody")

    def run(self):
        deadline = time.monotonic() + self.max_s
        while not self.stop_ev.is_set() and time.monotonic() < deadline:
            t = time.monotonic()
            try:
                self.sample()
            except Exception as e:  # a netlink hiccup must not end the watch
                if len(self.errors) < 20:
                    self.errors.append(repr(e))
            self.stop_ev.wait(max(0.0, SAMPLE_S - (time.monotonic() - t)))
        with self.lock:
            self._close_bad(time.monotonic())

    def finish(self):
        self.stop_ev.set()
        self.join(10)
        for v in list(self.views.values()) + [self.client]:
            v.close()


# -------------------------------------------------------------- runner --

class Runner:
    """Applies a schedule to a pair under a Monitor; see run()."""

    def __init__(self, pair, client_ns, seed, log=None, setup=None):
        self.pair = pair
        self.client_ns = client_ns
        self.seed = seed
        self.log = log or (lambda s: None)
        self.setup = setup               # guest form: opens the traffic once the pair runs
        self.traffic = None
        self.faults = []
        self.mon = None
        self.stress = None
        self.t0 = None
        self.ping = None
        self.ok_ports = set()
        self.t_teardown = float("inf")
        self.traffic_last = None

    def rel(self, t):
        return None if t is None else round(t - self.t0, 3)

    # -- the faults
    def standby_and_active(self):
        act = [n for n in self.pair.nodes if self.pair.has_vip(n)]
        if len(act) != 1:
            return None, None
        a = act[0]
        return next(n for n in self.pair.nodes if n != a), a

    def inject(self, f):
        p, d = self.pair, self.pair.dead_s
        if f.kind == "link_one":
            p.link(f.node, f.link, False)
            time.sleep(f.hold_s)
            p.link(f.node, f.link, True)
        elif f.kind == "link_both":
            p.link(f.node, 1, False)
            p.link(f.node, 0, False)
            time.sleep(f.hold_s)
            p.link(f.node, 0, True)
            p.link(f.node, 1, True)
        elif f.kind in ("loss_one", "loss_both"):
            p.loss(f.node, [f.link] if f.kind == "loss_one" else [0, 1], f.pct)
            time.sleep(f.hold_s)
            p.loss(f.node, [], None)
        elif f.kind in ("stop_short", "stop_long"):
            p.signal(f.node, sigs.SIGSTOP)
            time.sleep(f.hold_s)
            p.signal(f.node, sigs.SIGCONT)
        elif f.kind in ("kill", "term"):
            sig = sigs.SIGKILL if f.kind == "kill" else sigs.SIGTERM
            st = p.stop(f.node, sig, timeout=10 + 20 * d)
            want = -sigs.SIGKILL if f.kind == "kill" else 0
            if st != want:
                self.mon.violate(4, f"{f.node} exited with status {st} on {sig.name} (expected {want})",
                                 fault=f.idx)
            f.note = f"exit {st}"
            time.sleep(f.hold_s)
            t = time.monotonic()
            p.start(f.node)
            p.wait_role(f.node, t, 20 + 20 * d)
        elif f.kind in ("reload_good", "reload_bad"):
            if f.kind == "reload_good":
                p.variant[f.node] ^= 1
            p.reload(f.node, bad=f.kind == "reload_bad")
        elif f.kind in ("takeover", "release"):
            standby, active = self.standby_and_active()
            if not active:
                f.skipped = "no single active director"
                return
            node = standby if f.kind == "takeover" else active
            f.node = node
            t = time.monotonic()
            r = p.ctl(node, f.kind, "web")
            f.note = (r.stdout + r.stderr).strip()
            if r.returncode != 0:
                self.mon.violate(2, f"directorctl {f.kind} web on {node} failed: {f.note}", fault=f.idx)
                return
            try:
                wait_for(lambda: p.has_vip(standby) and not p.has_vip(active), 5 + 20 * d,
                         f"the VIP to move to {standby}")
            except AssertionError as e:
                self.mon.violate(2, f"{f.kind} had no effect: {e}", fault=f.idx, t=t)
        elif f.kind == "wrong_key":
            p.set_key(f.node, True)
            time.sleep(f.hold_s)
            p.set_key(f.node, False)
        elif f.kind == "stress":
            # In a namespace of the lab, so the leak check covers it.
            self.stress = p.host(f.node).popen("stress-ng", "--cpu", "2", "--timeout", f"{int(f.hold_s)}s",
                                               "--quiet", stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            try:
                self.stress.wait(f.hold_s + 30)
            except subprocess.TimeoutExpired:
                os.killpg(self.stress.pid, sigs.SIGKILL)
                self.stress.wait(10)
                self.mon.violate(4, "stress-ng outlived its --timeout", fault=f.idx)
        else:
            raise ValueError(f"unknown fault kind {f.kind}")

    def restore(self):
        """Undoes whatever a failed injector may have left behind."""
        p = self.pair
        for n in p.nodes:
            for link in (0, 1):
                try:
                    p.link(n, link, True)
                except Exception:
                    pass
            try:
                p.loss(n, [], None)
            except Exception:
                pass
            if p.procs.get(n) and p.alive(n):
                p.signal(n, sigs.SIGCONT)
            if not p.alive(n):
                p.start(n)
            elif "wrong_key" in p.supported and p.keys:
                # The running daemon may hold the wrong key: reload the
                # good one (a wait that fails again is reported, not fatal).
                p.write_key(n, p.good_key)
                try:
                    p.reload(n)
                except Exception as e:
                    self.mon.violate(0, f"restore: reload of {n} failed: {e}")

    # -- the run
    def run(self, minutes=None, n_faults=None, kinds=None, max_faults=100000):
        p = self.pair
        d = p.dead_s
        n = n_faults if n_faults is not None else max_faults
        sched = schedule(self.seed, d, n, kinds)
        duration = minutes * 60.0 if minutes else None
        macs = {x: nslab.mac(p.host(x), "eth0") for x in p.nodes}
        self.t0 = time.monotonic()
        p.start_all()
        if self.setup:
            self.traffic = self.setup()
            self.traffic_begin()
        # The client keeps its neighbour entry fresh (bounded: -w).
        limit = int((duration or 3600) + 600)
        self.ping = self.client_ns.spawn("ping", "-n", "-q", "-i", "0.1", "-w", str(limit), p.vip, name="client-ping")
        wait_for(lambda: nslab.neigh(self.client_ns, p.vip) == macs["lb1"], 20,
                 "the client's neighbour entry for the VIP to point at lb1")
        self.mon = Monitor(p, self.client_ns, macs, (duration or 3600) + 900)
        self.mon.start()
        self.mon.fault_end()
        t_first_fault = time.monotonic()
        for f in sched:
            if duration and time.monotonic() - t_first_fault >= duration:
                break
            self.faults.append(f)
            if f.kind not in p.supported:
                f.skipped = f"not supported by {p.daemon}"
                continue
            time.sleep(f.wait_s)
            self.mon.fault_begin()
            f.t_start = time.monotonic()
            try:
                self.inject(f)
            except Exception as e:
                self.mon.violate(0, f"injector failed: {type(e).__name__}: {e}", fault=f.idx)
                f.note = f"injector failed: {e}"
                self.restore()
            f.t_end = time.monotonic()
            self.mon.fault_end()
            self.log(f"{self.rel(f.t_start):9.3f} {f.describe()} {f.skipped or f.note}".rstrip())
            if self.traffic:
                self.check_traffic(f)
        # Final: quiet for two dead times (and a few samples checked), then
        # invariant 1 must hold.
        n0 = self.mon.checked
        wait_for(lambda: self.mon.checked >= n0 + 10, 20 + 10 * d, "the final quiet period to be sampled")
        t_final = time.monotonic()
        ok_final = self.final_state_ok(macs)
        self.mon.finish()
        if not ok_final[0]:
            self.mon.violate(1, f"at the end: {ok_final[1]}", t_final)
        return self.teardown()

    def final_state_ok(self, macs):
        p = self.pair
        holders = [n for n in p.nodes if p.has_vip(n)]
        mac = nslab.neigh(self.client_ns, p.vip)
        if len(holders) == 1 and mac == macs[holders[0]]:
            return True, ""
        return False, f"holders {holders}, client's neighbour entry {mac}"

    def check_traffic(self, f):
        """Guest form: every connection that answered at the previous check
        (established before this fault began) answers after it."""
        conns = self.traffic.check(max(30, 10 * self.pair.dead_s))
        self.traffic_last = conns
        lost = [c for c in conns if c[2] != "ok" and c[4] in self.ok_ports]
        self.ok_ports = {c[4] for c in conns if c[2] == "ok"}
        if lost:
            self.mon.violate(5, f"{len(lost)} established connections lost in {f.describe()}: "
                                f"{[(c[0], c[2]) for c in lost][:5]}", fault=f.idx)

    def traffic_begin(self):
        conns = self.traffic.check(max(30, 10 * self.pair.dead_s))
        self.ok_ports = {c[4] for c in conns if c[2] == "ok"}

    def teardown(self):
        p = self.pair
        self.t_teardown = time.monotonic()
        statuses = {}
        for n in p.nodes:
            if p.procs.get(n) and p.alive(n):
                p.signal(n, sigs.SIGCONT)
                statuses[n] = p.stop(n, sigs.SIGTERM)
                if statuses[n] != 0:
                    self.mon.violate(4, f"{n} exited with status {statuses[n]} on the final SIGTERM")
        if self.ping:
            self.ping.stop()
        if self.traffic:
            self.traffic.close()
        # Nothing of ours may be left in the directors' and the client's
        # namespaces (the real servers' echo servers go with the lab).
        for left in [p.host(n).name for n in p.nodes] + [self.client_ns.name]:
            cmds = []
            for pid in nslab.run(["ip", "netns", "pids", left], check=False).stdout.split():
                try:
                    with open(f"/proc/{pid}/cmdline", "rb") as f:
                        cmds.append(f.read().replace(b"\0", b" ").decode(errors="replace").strip())
                except OSError:
                    pass       # it was just exiting
            if cmds:
                self.mon.violate(4, f"processes left in {left} after teardown: {cmds}")
        for name, text in p.logs().items():
            for m in SANITIZER.finditer(text):
                line = text[text.rfind("\n", 0, m.start()) + 1:text.find("\n", m.end())]
                self.mon.violate(4, f"sanitizer report in {name}: {line}")
                break
        return self.report(statuses)

    def attribute(self):
        """Invariants 2 and 3 from the recorded role changes and VIP moves."""
        p, d = self.pair, self.pair.dead_s
        window = max(6 * d, 1.0) + 0.5       # after a fault ends; +0.5 s for syslog delivery
        lines = p.role_lines()
        started = [f for f in self.faults if f.t_start is not None]
        # Start-up and teardown are not faults of the schedule.
        changes = [r for r in lines if self.mon_t_start <= r[0] < self.t_teardown]
        for r in changes:
            t, node, old, new, reason = r
            f = None
            for g in started:
                if g.t_start <= t:
                    f = g
            rec = dict(t=self.rel(t), node=node, old=old, new=new, reason=reason)
            if p.daemon != "keepalived" and not reason.strip():
                self.mon.violate(3, f"role change without a reason: {node} {old} -> {new}", t)
            if f is None or t > f.t_end + window:
                self.mon.violate(2, f"unexplained role change {node} {old} -> {new} ({reason}) at "
                                    f"{self.rel(t)} s" + (f", {t - f.t_end:.3f} s after {f.describe()} ended"
                                                          if f else ", before any fault"), t)
                continue
            f.role_changes.append(rec)
        for f in started:
            k = FAULT_KINDS[f.kind]
            if len(f.role_changes) > k.budget:
                self.mon.violate(2, f"{f.describe()} caused {len(f.role_changes)} role changes, "
                                    f"budget {k.budget}: " +
                                 "; ".join(f"{r['node']} {r['old']}->{r['new']} ({r['reason']})"
                                           for r in f.role_changes[:8]), f.t_start, fault=f.idx)
        # Every VIP move the monitor saw has a role-change line of that node.
        prev = None
        for t, holders in self.mon.holder_changes:
            if prev is not None:
                for node in p.nodes:
                    if (node in holders) == (node in prev):
                        continue
                    gained = node in holders
                    near = [r for r in lines if r[1] == node and abs(r[0] - t) <= 1.5
                            and (r[3] == "active" if gained else r[2] == "active")]
                    if near:
                        continue
                    if not gained and self.restarting(node, t):
                        continue
                    self.mon.violate(3, f"{node} {'gained' if gained else 'lost'} the VIP at {self.rel(t)} s "
                                        "with no role-change line within 1.5 s", t)
            prev = holders
        return changes

    def restarting(self, node, t):
        """True when node's daemon was killed and restarted around t (a
        restart removes the VIPs a SIGKILL left behind, no role change)."""
        return any(f.kind in ("kill", "term") and f.node == node and f.t_start - 0.1 <= t <= f.t_end + 1.5
                   for f in self.faults if f.t_start is not None)

    mon_t_start = 0.0

    def report(self, statuses):
        self.mon_t_start = self.faults[0].t_start - 0.001 if self.faults and self.faults[0].t_start else 0.0
        changes = self.attribute()
        by_kind, skipped = {}, {}
        for f in self.faults:
            if f.skipped:
                skipped[f.kind] = skipped.get(f.kind, 0) + 1
            else:
                by_kind[f.kind] = by_kind.get(f.kind, 0) + 1
        viol = sorted(self.mon.violations, key=lambda v: v["t"])
        for v in viol:
            v["t"] = self.rel(v["t"])
        by_inv = {}
        for v in viol:
            by_inv[str(v["invariant"])] = by_inv.get(str(v["invariant"]), 0) + 1
        return {
            "daemon": self.pair.daemon,
            "seed": self.seed,
            "dead_ms": round(self.pair.dead_s * 1000),
            "duration_s": round(time.monotonic() - self.t0, 1),
            "faults": sum(by_kind.values()),
            "faults_by_kind": dict(sorted(by_kind.items())),
            "skipped_by_kind": dict(sorted(skipped.items())),
            "role_changes": len(changes),
            "samples": self.mon.samples,
            "invariant1_samples_checked": self.mon.checked,
            "monitor_errors": self.mon.errors,
            "violations": len(viol),
            "violations_by_invariant": by_inv,
            "violation_list": viol,
            "final_exit_status": statuses,
            "traffic": None if self.traffic_last is None else {
                tag: {"started": sum(1 for c in self.traffic_last if c[0] == tag),
                      "established": sum(1 for c in self.traffic_last if c[0] == tag and c[1] is not None),
                      "alive_at_last_check": sum(1 for c in self.traffic_last if c[0] == tag and c[2] == "ok"),
                      "never_established": sorted({c[2] for c in self.traffic_last
                                                   if c[0] == tag and c[1] is None})}
                for tag in sorted({c[0] for c in self.traffic_last})},
            "fault_log": [dict(idx=f.idx, kind=f.kind, node=f.node, link=f.link, pct=f.pct, wait_s=f.wait_s,
                               hold_s=f.hold_s, t_start=self.rel(f.t_start), t_end=self.rel(f.t_end),
                               skipped=f.skipped, note=f.note, role_changes=f.role_changes)
                          for f in self.faults],
        }


def host_run(seed, minutes=None, n_faults=None, daemon="directord", kinds=None, log=None, out=None,
             nopreempt=False):
    """One chaos run on the host kernel in a fresh hbnet lab; returns the
    report (and writes it as JSON to `out`)."""
    import hbnet
    lab = hbnet.Lab()
    try:
        pair = KeepalivedPair(lab, nopreempt) if daemon == "keepalived" else DirectordPair(lab)
        r = Runner(pair, lab.hosts["client"], seed, log=log)
        rep = r.run(minutes=minutes, n_faults=n_faults, kinds=kinds)
    finally:
        try:
            lab.close()
        except nslab.LabError as e:
            rep = locals().get("rep") or {}
            rep.setdefault("violation_list", []).append(dict(invariant=4, t=None, what=str(e)))
            rep["violations"] = len(rep["violation_list"])
    rep["nopreempt"] = nopreempt if daemon == "keepalived" else None
    if out:
        with open(out, "w") as f:
            json.dump(rep, f, indent=1)
    return rep


def summary(rep):
    """A few lines for a human: seed, faults by kind, violations."""
    lines = [f"chaos run: {rep['daemon']}, seed {rep['seed']}, {rep['duration_s']} s, {rep['faults']} faults, "
             f"{rep['role_changes']} role changes, {rep['violations']} violations "
             f"{rep['violations_by_invariant']}",
             "faults by kind: " + ", ".join(f"{k} {v}" for k, v in rep["faults_by_kind"].items())]
    if rep.get("skipped_by_kind"):
        lines.append("skipped (not supported): " + ", ".join(f"{k} {v}" for k, v in rep["skipped_by_kind"].items()))
    for v in rep["violation_list"][:50]:
        lines.append(f"  invariant {v['invariant']} at {v['t']} s: {v['what']}")
    return "\n".join(lines)


def fault_log_text(rep):
    out = []
    for f in rep["fault_log"]:
        rc = "; ".join(f"{r['node']} {r['old']}->{r['new']} ({r['reason']})" for r in f["role_changes"])
        out.append(f"#{f['idx']} t={f['t_start']} {f['kind']} {f['node']} link={f['link']} pct={f['pct']} "
                   f"hold={f['hold_s']} wait={f['wait_s']} {f['skipped']} {f['note']} {rc}".rstrip())
    return "\n".join(out)
