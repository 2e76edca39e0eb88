# SPDX-License-Identifier: GPL-2.0-or-later
"""Shared scaffolding for the heartbeat/failover namespace tests.

Builds, per test, a private lab from network namespaces whose names carry a
per-run random prefix:

    sw      a "switch" namespace holding two bridges (front, hb2)
    lb1     eth0 192.0.2.1/24 + 2001:db8::1/64 (front), eth1 198.51.100.1/24 (hb2)
    lb2     eth0 192.0.2.2/24 + 2001:db8::2/64 (front), eth1 198.51.100.2/24 (hb2)
    client  eth0 192.0.2.50/24 + 2001:db8::50/64 (front)

Heartbeat link 0 runs over the front segment, link 1 over hb2. The cluster
"web" owns 192.0.2.100/24 and 2001:db8::100/64 on eth0. A director may
also run standalone (no peer, no key: `standalone=True`). Runs the real
directord binary with real config files; everything is torn down at the end.
Built on the lab library, tests/lab/nslab.py: this file only adds the
pair's topology, its config and the heartbeat packet format.
"""
import hashlib
import hmac
import json
import os
import secrets
import signal
import struct
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lab"))
import nslab  # noqa: E402  (tests/lab/nslab.py, the lab library)
from nslab import hold, roles, sh, wait_for  # noqa: E402,F401  (re-exported for the tests)

DIRECTORD = nslab.directord_bin()
DIRECTORCTL = nslab.directorctl_bin()
KEY = b"0123456789abcdef0123456789abcdef"
VIP4 = "192.0.2.100"
VIP6 = "2001:db8::100"
ADDR = {"lb1": ("192.0.2.1", "198.51.100.1", "2001:db8::1"),
        "lb2": ("192.0.2.2", "198.51.100.2", "2001:db8::2")}
CLIENT4, CLIENT6 = "192.0.2.50", "2001:db8::50"


def ctl(lab, node, *args):
    """directorctl against one of the lab's directors."""
    return nslab.directorctl(os.path.join(lab.dir, f"{node}.sock"), *args)


CONF = """
node = "{node}";
pid_file = "{dir}/{node}.pid";
control = {{ socket = "{dir}/{node}.sock";{control} }};
logging = {{ level = "info"; notify = "{notify}"; notify_timeout_ms = 5000; }};
# The notify records go to the lab directory, which only root can enter.
scripts = {{ user = "root"; }};
heartbeat = {{
  {peers}state_file = "{dir}/{node}.generation";
  interval_ms = {interval}; dead_ms = {dead};
}};
{top}
clusters = (
  {{ name = "web"; priority = {prio};
     {extra}
     garp = {{ {garp} }};
     vips = ( {{ address = "{vip4}/24"; interface = "eth0"; }},
              {{ address = "{vip6}/64"; interface = "eth0"; }} );
  }}
);
"""

# The peer and the key it needs; a standalone director has neither.
PEERS = """key_file = "{key}";
  peers = ( {{ name = "{peer}";
              links = ( {{ local = "{l0}"; remote = "{r0}"; interface = "eth0"; }},
                        {{ local = "{l1}"; remote = "{r1}"; interface = "eth1"; }} ); }} );
  """

# Switch ports in "sw": (host, its interface, bridge, port name).
PORTS = [("lb1", "eth0", "front", "a0"), ("lb1", "eth1", "hb2", "a1"),
         ("lb2", "eth0", "front", "b0"), ("lb2", "eth1", "hb2", "b1"),
         ("client", "eth0", "front", "c0")]


class Lab(nslab.Lab):
    """The pair's lab: self.ns maps "sw", "lb1", "lb2", "client" to
    namespace names, self.hosts to their nslab.Netns; self.procs[node] is
    the node's daemon (an nslab.Proc)."""

    def __init__(self):
        super().__init__("hb" + secrets.token_hex(3))
        self.procs = {}
        nslab.write_key(self, KEY)
        try:
            self._build()
        except Exception:
            self.close()
            raise

    def _build(self):
        self.hosts = {n: self.netns(n) for n in ("sw", "lb1", "lb2", "client")}
        self.ns = {n: h.name for n, h in self.hosts.items()}
        sw = self.hosts["sw"]
        bridges = self.bridges = {br: self.bridge(br, ns=sw) for br in ("front", "hb2")}
        addrs = {"client": {"eth0": [f"{CLIENT4}/24", f"{CLIENT6}/64"]}}
        for host, (a0, a1, a6) in ADDR.items():
            addrs[host] = {"eth0": [f"{a0}/24", f"{a6}/64"], "eth1": [f"{a1}/24"]}
        for host in ("lb1", "lb2", "client"):
            self.hosts[host].run("sysctl", "-qw", "net.ipv6.conf.all.accept_dad=0",
                                 "net.ipv6.conf.default.accept_dad=0")
        for host, ifname, br, port in PORTS:
            self.connect(self.hosts[host], bridges[br], addrs[host][ifname], ifname=ifname,
                         bridge_ns=sw, port=port)

    # ---- daemons ----------------------------------------------------------
    def conf(self, node, prio, interval=50, dead=200, extra="", garp="count = 3; interval_ms = 100;",
             link0_v6=False, standalone=False, key=None, top="", control=""):
        """The node's config file; `key` is its key file (default: the
        lab's shared hb.key); `extra` goes into the cluster (services),
        `top` at top level (track_scripts, snmp), `control` into the
        control group (metrics_listen)."""
        peer = "lb2" if node == "lb1" else "lb1"
        a0 = 2 if link0_v6 else 0
        peers = "" if standalone else PEERS.format(key=key or os.path.join(self.dir, "hb.key"), peer=peer,
                                                   l0=ADDR[node][a0], r0=ADDR[peer][a0],
                                                   l1=ADDR[node][1], r1=ADDR[peer][1])
        notify = nslab.NOTIFY_CMD.format(path=os.path.join(self.dir, f"{node}.notify"))
        path = os.path.join(self.dir, f"{node}.conf")
        with open(path, "w") as f:
            f.write(CONF.format(node=node, dir=self.dir, prio=prio, peers=peers, notify=notify,
                                interval=interval, dead=dead, extra=extra, garp=garp,
                                vip4=VIP4, vip6=VIP6, top=top, control=control))
        return path

    def log_path(self, node):
        return os.path.join(self.dir, f"{node}.log")

    def log(self, node):
        """Everything node's daemons wrote, across restarts."""
        try:
            with open(self.log_path(node)) as f:
                return f.read()
        except FileNotFoundError:
            return ""

    def start(self, node, prio, syslog_sock=None, snmp=None, env=None, **kw):
        """node's daemon on a fresh config (see conf()); `snmp` (an
        nslab.Snmpd, see snmpd()) adds the snmp group that points at it,
        `env` adds to the daemon's environment."""
        if snmp:
            kw["top"] = kw.get("top", "") + snmp.snmp_conf()
        conf = self.conf(node, prio, **kw)
        p = nslab.start_directord(self, self.hosts[node], node, conf, syslog_sock, log=self.log_path(node),
                                  env=env)
        self.procs[node] = p
        return p

    def stop(self, node, sig=signal.SIGTERM, timeout=10):
        """Sends `sig` to node's daemon and returns its exit status."""
        p = self.procs.get(node)
        if not p or not p.alive():
            return p.popen.returncode if p else None
        p.signal(sig)
        return p.popen.wait(timeout=timeout)

    def snmpd(self, node):
        """A private snmpd (AgentX master) and snmptrapd in node's
        namespace (nslab.Snmpd); pass it to start(snmp=...)."""
        return nslab.Snmpd(self, self.hosts[node], node)

    def status(self, node):
        """node's `directorctl status --json`, parsed."""
        r = ctl(self, node, "status", "--json")
        assert r.returncode == 0, r.stderr
        return json.loads(r.stdout)

    def snmp_connected(self, node):
        """Whether node's AgentX subagent says it is connected to snmpd."""
        try:
            return self.status(node)["snmp"]["connected"]
        except (AssertionError, KeyError, json.JSONDecodeError):
            return False

    def start_rsyslog(self):
        return nslab.start_rsyslog(self)

    # ---- observation -----------------------------------------------------
    def has_vip(self, node, vip=VIP4):
        return vip in self.hosts[node].addrs("eth0")

    def mac(self, node, ifname="eth0"):
        return nslab.mac(self.hosts[node], ifname)

    def client_neigh(self, addr):
        return nslab.neigh(self.hosts["client"], addr)

    def client_ping(self, addr):
        return self.hosts["client"].run("ping", "-c1", "-W1", addr, check=False).returncode == 0

    def link(self, port, up):
        """Cuts or restores a switch port: a0/a1 (lb1), b0/b1 (lb2), c0 (client)."""
        self.hosts["sw"].link_up(port, up)

    def notify_records(self, node):
        """One dict of DIRECTORD_* variables per notify command run."""
        return nslab.notify_records(os.path.join(self.dir, f"{node}.notify"))

    @staticmethod
    def announced(cap, mac, start=0):
        """A gratuitous ARP request and an unsolicited NA for the VIPs from
        `mac` in a client capture (lab.tcpdump), after byte `start`."""
        return nslab.announced(cap, mac, VIP4, VIP6, start)

    def tcpdump(self, node, filt):
        return nslab.capture(self, self.hosts[node], filt)


# ---- heartbeat packets, written from doc/heartbeat-protocol.md -------------
ROLES = {"init": 0, "standby": 1, "active": 2, "fault": 3}


def hb_packet(node, clusters, key=KEY, generation=1, seq=1, interval=50, dead=200, link=0,
              version=2, echo=0):
    """clusters: [(name, role, priority, flags)]; echo: the receiver's
    generation as the sender claims to have heard it."""
    body = b"".join(struct.pack("B", len(n)) + n.encode() + struct.pack("BBBB", ROLES[r], p, fl, 0)
                    for n, r, p, fl in clusters)
    total = 44 + len(node) + len(body) + 32
    hdr = b"DDHB" + struct.pack(">BBHQQIIBBBBQ", version, 1, total, generation, seq, interval, dead,
                                link, len(clusters), len(node), 0, echo)
    msg = hdr + node.encode() + body
    return msg + hmac.new(key, msg, hashlib.sha256).digest()
