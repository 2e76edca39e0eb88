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
"""
import hashlib
import hmac
import os
import re
import secrets
import shutil
import signal
import struct
import subprocess
import tempfile
import time

DIRECTORD = os.environ.get("DIRECTORD", "directord/directord")
DIRECTORCTL = os.environ.get("DIRECTORCTL", os.path.join(os.path.dirname(DIRECTORD), "directorctl"))
KEY = b"0123456789abcdef0123456789abcdef"
VIP4 = "192.0.2.100"
VIP6 = "2001:db8::100"
ADDR = {"lb1": ("192.0.2.1", "198.51.100.1", "2001:db8::1"),
        "lb2": ("192.0.2.2", "198.51.100.2", "2001:db8::2")}
CLIENT4, CLIENT6 = "192.0.2.50", "2001:db8::50"


def sh(*args, check=True, **kw):
    return subprocess.run(list(args), check=check, capture_output=True, text=True, **kw)


def wait_for(pred, timeout=10.0, what="condition"):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        v = pred()
        if v:
            return v
        time.sleep(0.02)
    raise AssertionError(f"timed out after {timeout}s waiting for {what}")


ROLE_LINE = re.compile(r"cluster web: (\w+) -> (\w+): (.*)")


def roles(text):
    """(old, new, reason) of every role change of "web" in a log."""
    return [m.groups() for m in ROLE_LINE.finditer(text)]


def ctl(lab, node, *args):
    """directorctl against one of the lab's directors."""
    return subprocess.run([DIRECTORCTL, "-s", os.path.join(lab.dir, f"{node}.sock"), *args],
                          capture_output=True, text=True, timeout=30)


def hold(pred, duration, what="condition"):
    """Asserts pred() stays true for the whole observation window."""
    deadline = time.monotonic() + duration
    while time.monotonic() < deadline:
        assert pred(), f"{what} stopped holding"
        time.sleep(0.02)


CONF = """
node = "{node}";
pid_file = "{dir}/{node}.pid";
control = {{ socket = "{dir}/{node}.sock"; }};
logging = {{ level = "info"; notify = "env | grep ^DIRECTORD_ | sort >> {dir}/{node}.notify; echo --- >> {dir}/{node}.notify"; notify_timeout_ms = 5000; }};
heartbeat = {{
  {peers}state_file = "{dir}/{node}.generation";
  interval_ms = {interval}; dead_ms = {dead};
}};
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
PEERS = """key_file = "{dir}/hb.key";
  peers = ( {{ name = "{peer}";
              links = ( {{ local = "{l0}"; remote = "{r0}"; interface = "eth0"; }},
                        {{ local = "{l1}"; remote = "{r1}"; interface = "eth1"; }} ); }} );
  """


class Lab:
    def __init__(self):
        self.prefix = "hb" + secrets.token_hex(3)
        self.ns = {n: f"{self.prefix}-{n}" for n in ("sw", "lb1", "lb2", "client")}
        self.dir = tempfile.mkdtemp(prefix=f"dd-{self.prefix}-")
        self.procs = {}
        self.bg = []
        with open(os.path.join(self.dir, "hb.key"), "wb") as f:
            f.write(KEY + b"\n")
        os.chmod(os.path.join(self.dir, "hb.key"), 0o600)
        try:
            self._build()
        except Exception:
            self.close()
            raise

    def _build(self):
        for n in self.ns.values():
            sh("ip", "netns", "add", n)
        sw = self.ns["sw"]
        for br in ("front", "hb2"):
            sh("ip", "-n", sw, "link", "add", br, "type", "bridge", "forward_delay", "0")
            sh("ip", "-n", sw, "link", "set", br, "up")
        ports = [("lb1", "eth0", "front", "a0"), ("lb1", "eth1", "hb2", "a1"),
                 ("lb2", "eth0", "front", "b0"), ("lb2", "eth1", "hb2", "b1"),
                 ("client", "eth0", "front", "c0")]
        for host, ifname, br, port in ports:
            sh("ip", "-n", sw, "link", "add", port, "type", "veth", "peer", "name", ifname,
               "netns", self.ns[host])
            sh("ip", "-n", sw, "link", "set", port, "master", br, "up")
        for host in ("lb1", "lb2", "client"):
            ns = self.ns[host]
            sh("ip", "netns", "exec", ns, "sysctl", "-qw", "net.ipv6.conf.all.accept_dad=0")
            sh("ip", "netns", "exec", ns, "sysctl", "-qw", "net.ipv6.conf.default.accept_dad=0")
            sh("ip", "-n", ns, "link", "set", "lo", "up")
        for host, (a0, a1, a6) in ADDR.items():
            ns = self.ns[host]
            sh("ip", "-n", ns, "addr", "add", f"{a0}/24", "dev", "eth0")
            sh("ip", "-n", ns, "addr", "add", f"{a6}/64", "dev", "eth0", "nodad")
            sh("ip", "-n", ns, "addr", "add", f"{a1}/24", "dev", "eth1")
            sh("ip", "-n", ns, "link", "set", "eth0", "up")
            sh("ip", "-n", ns, "link", "set", "eth1", "up")
        c = self.ns["client"]
        sh("ip", "-n", c, "addr", "add", f"{CLIENT4}/24", "dev", "eth0")
        sh("ip", "-n", c, "addr", "add", f"{CLIENT6}/64", "dev", "eth0", "nodad")
        sh("ip", "-n", c, "link", "set", "eth0", "up")

    # ---- daemons ----------------------------------------------------------
    def conf(self, node, prio, interval=50, dead=200, extra="", garp="count = 3; interval_ms = 100;",
             link0_v6=False, standalone=False):
        peer = "lb2" if node == "lb1" else "lb1"
        a0 = 2 if link0_v6 else 0
        peers = "" if standalone else PEERS.format(dir=self.dir, peer=peer,
                                                   l0=ADDR[node][a0], r0=ADDR[peer][a0],
                                                   l1=ADDR[node][1], r1=ADDR[peer][1])
        path = os.path.join(self.dir, f"{node}.conf")
        with open(path, "w") as f:
            f.write(CONF.format(node=node, dir=self.dir, prio=prio, peers=peers,
                                interval=interval, dead=dead, extra=extra, garp=garp,
                                vip4=VIP4, vip6=VIP6))
        return path

    def log(self, node):
        try:
            with open(os.path.join(self.dir, f"{node}.log")) as f:
                return f.read()
        except FileNotFoundError:
            return ""

    def start(self, node, prio, syslog_sock=None, **kw):
        conf = self.conf(node, prio, **kw)
        logf = open(os.path.join(self.dir, f"{node}.log"), "a")
        cmd = [DIRECTORD, "-n", "-l", "stderr", "-f", conf]
        if syslog_sock:
            # syslog(3) always writes to /dev/log: give this daemon a private
            # /dev (in its own mount namespace) whose log is our rsyslogd.
            dev = os.path.join(self.dir, f"dev-{node}")
            script = (f"set -e; mount --make-rprivate /; mkdir -p {dev}; mount -t tmpfs none {dev}; "
                      f"for f in null zero urandom random; do touch {dev}/$f; mount --bind /dev/$f {dev}/$f; done; "
                      f"ln -s {syslog_sock} {dev}/log; mount --bind {dev} /dev; "
                      f"exec {DIRECTORD} -n -l syslog -f {conf}")
            cmd = ["unshare", "-m", "sh", "-c", script]
        p = subprocess.Popen(["ip", "netns", "exec", self.ns[node], *cmd],
                             stdout=logf, stderr=subprocess.STDOUT)
        logf.close()
        self.procs[node] = p
        return p

    def stop(self, node, sig=signal.SIGTERM, timeout=10):
        p = self.procs.get(node)
        if not p or p.poll() is not None:
            return p.returncode if p else None
        p.send_signal(sig)
        return p.wait(timeout=timeout)

    def start_rsyslog(self):
        sock = os.path.join(self.dir, "syslog.sock")
        out = os.path.join(self.dir, "syslog.messages")
        conf = os.path.join(self.dir, "rsyslog.conf")
        with open(conf, "w") as f:
            f.write(f'global(workDirectory="{self.dir}")\n'
                    f'module(load="imuxsock" SysSock.Use="off")\n'
                    f'input(type="imuxsock" Socket="{sock}")\n'
                    f'*.* action(type="omfile" file="{out}" '
                    f'template="RSYSLOG_TraditionalFileFormat")\n')
        p = subprocess.Popen(["rsyslogd", "-n", "-f", conf, "-i", os.path.join(self.dir, "rsyslog.pid")],
                             stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        self.bg.append(p)
        wait_for(lambda: os.path.exists(sock), 10, "rsyslogd socket")
        return sock, out

    # ---- observation -----------------------------------------------------
    def has_vip(self, node, vip=VIP4):
        r = sh("ip", "-n", self.ns[node], "-o", "addr", "show", "dev", "eth0", check=False)
        return re.search(rf"inet6? {re.escape(vip)}/", r.stdout) is not None

    def mac(self, node, ifname="eth0"):
        r = sh("ip", "-n", self.ns[node], "-o", "link", "show", "dev", ifname)
        return re.search(r"link/ether ([0-9a-f:]{17})", r.stdout).group(1)

    def client_neigh(self, addr):
        r = sh("ip", "-n", self.ns["client"], "neigh", "show", addr, "dev", "eth0", check=False)
        m = re.search(r"lladdr ([0-9a-f:]{17})", r.stdout)
        return m.group(1) if m else None

    def client_ping(self, addr):
        return sh("ip", "netns", "exec", self.ns["client"], "ping", "-c1", "-W1", addr,
                  check=False).returncode == 0

    def link(self, port, up):
        """Cuts or restores a switch port: a0/a1 (lb1), b0/b1 (lb2), c0 (client)."""
        sh("ip", "-n", self.ns["sw"], "link", "set", port, "up" if up else "down")

    def notify_records(self, node):
        """One dict of DIRECTORD_* variables per notify command run."""
        try:
            text = open(os.path.join(self.dir, f"{node}.notify")).read()
        except FileNotFoundError:
            return []
        recs = []
        for block in text.split("---\n"):
            kv = dict(l.split("=", 1) for l in block.splitlines() if "=" in l)
            if kv:
                recs.append(kv)
        return recs

    @staticmethod
    def announced(cap, mac, start=0):
        """A gratuitous ARP request and an unsolicited NA for the VIPs from
        `mac` in a client capture (lab.tcpdump), after byte `start`."""
        text = open(cap).read()[start:]
        arp = re.search(rf"^\S+ {mac} > ff:ff:ff:ff:ff:ff.*Request who-has {VIP4} tell {VIP4}", text, re.M)
        na = re.search(rf"^\S+ {mac} > 33:33:00:00:00:01.*{VIP6} > ff02::1.*neighbor advertisement.*tgt is {VIP6}",
                       text, re.M)
        return bool(arp and na)

    def tcpdump(self, node, filt):
        out = os.path.join(self.dir, f"tcpdump-{node}-{len(self.bg)}.txt")
        f = open(out, "w")
        p = subprocess.Popen(["ip", "netns", "exec", self.ns[node], "tcpdump", "-i", "eth0", "-n",
                              "-e", "-l", "-U", filt], stdout=f, stderr=subprocess.PIPE, text=True)
        f.close()
        self.bg.append(p)
        # tcpdump says "listening on" once the capture is armed.
        wait_for(lambda: "listening" in (p.stderr.readline() or ""), 10, "tcpdump to start")
        return out

    def close(self):
        for p in list(self.procs.values()) + self.bg:
            if p.poll() is None:
                p.kill()
                try:
                    p.wait(timeout=10)
                except subprocess.TimeoutExpired:
                    pass
        for n in self.ns.values():
            subprocess.run(["ip", "netns", "del", n], capture_output=True)
        if os.environ.get("DD_KEEP_TEST_DIR"):
            print("kept", self.dir)
        else:
            shutil.rmtree(self.dir, ignore_errors=True)


# ---- heartbeat packets, written from doc/heartbeat-protocol.md -------------
ROLES = {"init": 0, "standby": 1, "active": 2, "fault": 3}


def hb_packet(node, clusters, key=KEY, generation=1, seq=1, interval=50, dead=200, link=0,
              version=1):
    """clusters: [(name, role, priority, flags)]"""
    body = b"".join(struct.pack("B", len(n)) + n.encode() + struct.pack("BBBB", ROLES[r], p, fl, 0)
                    for n, r, p, fl in clusters)
    total = 36 + len(node) + len(body) + 32
    hdr = b"DDHB" + struct.pack(">BBHQQIIBBBB", version, 1, total, generation, seq, interval, dead,
                                link, len(clusters), len(node), 0)
    msg = hdr + node.encode() + body
    return msg + hmac.new(key, msg, hashlib.sha256).digest()
