# SPDX-License-Identifier: GPL-2.0-or-later
"""tests/lab/nslab.py: the one lab library of every namespace test suite, on
the host kernel (tests/net/, tests/ctl/, tests/daemon/, bench/failover/) and
in the QEMU guest (tests/vm/guest/, tests/lab/pairlab.py, demo.sh, bench/):
namespaces, bridges, veths, addresses, processes in namespaces, directord
with a generated config and its log, a private rsyslogd, polling with a
deadline (wait_for/poll, hold), directorctl, roles, notify records, ARP/NA
captures, and a parser for ipvsadm's listings.

Runs in the test process (pytest or a plain script, one thread). Everything a Lab creates --
namespaces, bridges, veths, processes, files -- carries the Lab's unique
prefix and is removed by Lab.close(), even after a failed test, so that
concurrent runs on one machine never collide and nothing leaks.

Only the documentation ranges may be used as addresses: 192.0.2.0/24,
198.51.100.0/24, 203.0.113.0/24 and 2001:db8::/32. Lab refuses others.

See tests/vm/README.md for a walk-through. The topologies built on it live
with their users: tests/net/hbnet.py (the heartbeat pair on the host) and
tests/lab/pairlab.py (the IPVS director pair).
"""

import contextlib
import dataclasses
import ipaddress
import os
import re
import secrets
import shlex
import shutil
import signal
import subprocess
import tempfile
import time

__all__ = [
    "Lab", "Netns", "Proc", "poll", "LabError", "in_guest", "build_dir", "src_dir",
    "modprobe", "IpvsService", "IpvsDest", "IpvsStats", "IpvsConn",
    "parse_ipvsadm", "parse_ipvsadm_stats", "parse_ipvsadm_conns",
    "ipvs_services", "ipvs_service", "ipvs_conns", "DOC_NETS", "nat_site",
    "wait_for", "WaitTimeout", "hold", "run", "sh", "ip_batch", "directord_bin", "directorctl_bin",
    "directord_argv", "start_directord", "daemon_dir", "directorctl", "start_rsyslog", "roles", "notify_records",
    "NOTIFY_CMD", "write_key", "terminate", "mac", "neigh", "capture", "announced",
    "Snmpd", "have_snmp_tools", "directord_has_snmp",
    "Bird", "route_nexthops",
]

DOC_NETS = [ipaddress.ip_network(n) for n in
            ("192.0.2.0/24", "198.51.100.0/24", "203.0.113.0/24", "2001:db8::/32")]
IFNAMSIZ = 15


class LabError(Exception):
    """A lab command failed; the message has the command and its output."""


def in_guest():
    """True inside the QEMU guest started by tests/vm/run-in-guest."""
    return os.environ.get("DD_VM_GUEST") == "1"


def build_dir():
    """Top build folder (DD_BUILDDIR, set by ipvs-suite.test), else cwd."""
    return os.environ.get("DD_BUILDDIR") or os.getcwd()


def src_dir():
    """Top source folder (DD_SRCDIR, set by ipvs-suite.test)."""
    if os.environ.get("DD_SRCDIR"):
        return os.environ["DD_SRCDIR"]
    return os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))


def _check_addr(addr):
    """Refuse any address outside the documentation ranges."""
    ip = ipaddress.ip_interface(addr).ip
    if not any(ip in n for n in DOC_NETS):
        raise LabError(f"{addr} is not in a documentation range (192.0.2.0/24, "
                       "198.51.100.0/24, 203.0.113.0/24, 2001:db8::/32)")


def run(argv, check=True, timeout=60, input=None):
    r = subprocess.run(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                       text=True, timeout=timeout, input=input)
    if check and r.returncode != 0:
        raise LabError(f"command failed (exit {r.returncode}): {shlex.join(argv)}\n"
                       f"stdout: {r.stdout.strip()}\nstderr: {r.stderr.strip()}")
    return r


def ip_batch(ns, lines):
    """Run several `ip` commands (without the leading "ip") in one process."""
    argv = ["ip"] + (["-n", ns.name] if ns else []) + ["-batch", "-"]
    return run(argv, input="".join(line + "\n" for line in lines))


def modprobe(*modules):
    """Load kernel modules (in the guest; the host kernel has no modules)."""
    for m in modules:
        run(["modprobe", m])


class WaitTimeout(AssertionError, TimeoutError):
    """A wait_for()/poll() deadline passed. Both an AssertionError (a test
    failure) and a TimeoutError (what callers of poll() catch)."""


def wait_for(pred, timeout=10.0, what=None, interval=0.02, until=bool):
    """Call pred() until until(value) is true, and return that value.

    By default any truthy value ends the wait. Exceptions from pred count as
    "not yet". Raises WaitTimeout after `timeout` seconds, naming `what`
    and pred's last value (or last exception). The only way tests wait: no
    fixed sleeps. The guest is slow (TCG): give generous deadlines; they
    cost nothing when the condition comes true.
    """
    deadline = time.monotonic() + timeout
    last, last_exc = None, None
    while True:
        try:
            last = pred()
            last_exc = None
            if until(last):
                return last
        except Exception as e:  # the condition may raise until ready
            last_exc = e
        if time.monotonic() >= deadline:
            desc = what or getattr(pred, "__name__", "condition")
            detail = f"last exception: {last_exc!r}" if last_exc else f"last value: {last!r}"
            raise WaitTimeout(f"timed out after {timeout:.1f}s waiting for {desc}; {detail}")
        time.sleep(interval)


def poll(fn, timeout=10.0, interval=0.05, what=None, until=bool):
    """wait_for() with the guest tests' argument order and a 50 ms pace."""
    return wait_for(fn, timeout, what, interval=interval, until=until)


def hold(pred, duration, what="condition", interval=0.02):
    """Asserts pred() stays true for the whole observation window."""
    deadline = time.monotonic() + duration
    while time.monotonic() < deadline:
        assert pred(), f"{what} stopped holding"
        time.sleep(interval)


def sh(*argv, check=True, timeout=60, input=None):
    """run() with the argv spread out: sh("ip", "-n", ns, "link")."""
    return run(list(argv), check=check, timeout=timeout, input=input)


class Proc:
    """A background process started by Netns.spawn(); output goes to a log file."""

    def __init__(self, popen, name, log_path):
        self.popen = popen
        self.name = name
        self.log_path = log_path

    @property
    def pid(self):
        return self.popen.pid

    def alive(self):
        return self.popen.poll() is None

    def log(self):
        """Everything the process wrote so far (stdout and stderr merged)."""
        try:
            with open(self.log_path, errors="replace") as f:
                return f.read()
        except FileNotFoundError:
            return ""

    def wait_log(self, pattern, timeout=20.0):
        """Poll until regex `pattern` appears in the log; return the match."""
        rx = re.compile(pattern)
        return poll(lambda: rx.search(self.log()), timeout=timeout,
                    what=f"{self.name} to log {pattern!r}")

    def signal(self, sig):
        if self.alive():
            self.popen.send_signal(sig)

    def stop(self, timeout=5.0):
        """SIGTERM, then SIGKILL after `timeout`; returns the exit status."""
        if self.alive():
            self.popen.terminate()
            try:
                self.popen.wait(timeout)
            except subprocess.TimeoutExpired:
                self.popen.kill()
                self.popen.wait()
        return self.popen.returncode

    def kill(self):
        """SIGKILL (a crash, for failover tests); returns the exit status."""
        if self.alive():
            self.popen.kill()
        return self.popen.wait()


class Netns:
    """One network namespace created by Lab.netns()."""

    def __init__(self, lab, name):
        self.lab = lab
        self.name = name

    def __repr__(self):
        return f"Netns({self.name})"

    def argv(self, argv):
        """The argv that runs `argv` inside this namespace."""
        return ["ip", "netns", "exec", self.name] + list(argv)

    def run(self, *argv, check=True, timeout=60, input=None):
        """Run a command in the namespace; returns CompletedProcess (text).

        Raises LabError on a non-zero exit unless check=False.
        """
        return run(self.argv(argv), check=check, timeout=timeout, input=input)

    def sh(self, script, check=True, timeout=60):
        """Run a shell snippet in the namespace; returns its stdout."""
        return self.run("sh", "-c", script, check=check, timeout=timeout).stdout

    def ip(self, *args, check=True):
        return run(["ip", "-n", self.name] + list(args), check=check)

    def spawn(self, *argv, name=None, env=None, cwd=None, log=None):
        """Start a long-running process in the namespace.

        The Lab stops it (SIGTERM, then SIGKILL) at close(). Its output is in
        proc.log() (appended to the file `log` if given, which outlives the
        process: a restarted daemon's log continues there); a process that
        must not daemonise should be told so (e.g. keepalived -n).
        """
        return self.lab._spawn(self.argv(argv), name or os.path.basename(argv[0]), env, cwd, log)

    def popen(self, *argv, **kw):
        """A bare subprocess.Popen in the namespace (pipes of your own);
        killed at Lab.close() (see Lab.bg)."""
        return self.lab.popen(self.argv(argv), **kw)

    def addr_add(self, ifname, addr):
        _check_addr(addr)
        self.ip("addr", "add", addr, "dev", ifname)

    def addr_del(self, ifname, addr):
        self.ip("addr", "del", addr, "dev", ifname)

    def addrs(self, ifname=None):
        """Addresses (without prefix length) configured in the namespace."""
        args = ["-o", "addr", "show"] + (["dev", ifname] if ifname else [])
        out = self.ip(*args).stdout
        return [m.group(1) for m in re.finditer(r"\binet6? ([0-9a-f.:]+)/", out)]

    def route_add(self, dest, via):
        _check_addr(via)
        self.ip("route", "add", dest, "via", via)

    def sysctl(self, key, value):
        self.run("sysctl", "-qw", f"{key}={value}")

    def forwarding(self, on=True):
        """Enable IPv4 and IPv6 forwarding (a director or a router)."""
        v = "1" if on else "0"
        self.run("sysctl", "-qw", f"net.ipv4.ip_forward={v}", f"net.ipv6.conf.all.forwarding={v}")

    def link_up(self, ifname, up=True):
        self.ip("link", "set", ifname, "up" if up else "down")

    def ipvsadm(self, *args, check=True):
        """Run ipvsadm in this namespace (IPVS tables are per namespace)."""
        return self.run("ipvsadm", *args, check=check)

    def ipvs(self, stats=False):
        """This namespace's IPVS table, parsed (see ipvs_services)."""
        return ipvs_services(self, stats=stats)

    def tcp_listening(self, port, addr=None):
        """True when something listens on TCP `port` in the namespace."""
        out = self.run("ss", "-Htln", check=False).stdout
        for line in out.splitlines():
            local = line.split()[3] if len(line.split()) > 3 else ""
            host, _, p = local.rpartition(":")
            if p == str(port) and (addr is None or host.strip("[]") in (addr, "*", "0.0.0.0", "::")):
                return True
        return False

    def http_get(self, url, timeout=10):
        """GET `url` with curl from this namespace; returns the body (str).

        Raises LabError on a connection error or an HTTP status >= 400.
        """
        return self.run("curl", "-sS", "--fail", "--max-time", str(timeout), "--noproxy", "*",
                        url, timeout=timeout + 10).stdout


class Lab:
    """Namespaces, bridges, veths and processes for one test, with cleanup.

    lab = Lab()                       # or the `lab` pytest fixture
    cli = lab.netns("cli")            # namespace "<prefix>-cli"
    br = lab.bridge("front")          # bridge in the current namespace
    lab.connect(cli, br, "192.0.2.10/24")   # veth: cli:eth0 <-> br
    ...
    lab.close()                       # kills processes, deletes everything
    """

    def __init__(self, prefix=None):
        # 5 characters leave room for IFNAMSIZ: "<prefix><tag><n>" <= 15.
        self.prefix = prefix or ("d" + secrets.token_hex(2))
        self.dir = tempfile.mkdtemp(prefix=f"lab-{self.prefix}-")
        self._netns = []
        self._links = []      # (netns or None, ifname) deleted at close
        self._procs = []
        self.bg = []          # bare Popens, SIGKILLed at close
        self._n = 0

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def _ifname(self, tag):
        self._n += 1
        name = f"{self.prefix}{tag}{self._n}"
        if len(name) > IFNAMSIZ:
            raise LabError(f"interface name {name} longer than {IFNAMSIZ}; use a shorter tag")
        return name

    def netns(self, tag):
        """Create namespace "<prefix>-<tag>" with lo up; returns a Netns."""
        name = f"{self.prefix}-{tag}"
        run(["ip", "netns", "add", name])
        ns = Netns(self, name)
        self._netns.append(ns)
        ns.ip("link", "set", "lo", "up")
        return ns

    def bridge(self, tag, ns=None):
        """Create an up bridge (in `ns`, else the current namespace); returns its name."""
        name = self._ifname(tag[:6])
        # No STP, no forwarding delay: ports forward at once.
        ip_batch(ns, [f"link add {name} type bridge forward_delay 0 stp_state 0",
                       f"link set {name} up"])
        self._links.append((ns, name))
        return name

    def veth(self, ns_a, ns_b, ifname_a="eth0", ifname_b="eth0", addr_a=None, addr_b=None):
        """A veth pair between two namespaces (None = current one), both ends up.

        Returns (ifname_a, ifname_b). Addresses such as "192.0.2.1/24" (a
        string or a list) are optional.
        """
        tmp_a, tmp_b = self._ifname("a"), self._ifname("b")
        run(["ip", "link", "add", tmp_a, "type", "veth", "peer", "name", tmp_b])
        self._links.append((None, tmp_a))
        for ns, tmp, final, addr in ((ns_a, tmp_a, ifname_a, addr_a), (ns_b, tmp_b, ifname_b, addr_b)):
            if ns is not None:
                run(["ip", "link", "set", tmp, "netns", ns.name])
            ipcmd = ["ip"] + (["-n", ns.name] if ns else [])
            if final != tmp:
                run(ipcmd + ["link", "set", tmp, "name", final])
            if tmp == tmp_a:
                self._links[-1] = (ns, final)
            for a in ([addr] if isinstance(addr, str) else (addr or [])):
                _check_addr(a)
                run(ipcmd + ["addr", "add", a, "dev", final] + (["nodad"] if ":" in a else []))
            run(ipcmd + ["link", "set", final, "up"])
        return ifname_a, ifname_b

    def connect(self, ns, bridge, addr=None, ifname="eth0", bridge_ns=None, port=None):
        """Plug namespace `ns` into `bridge` with a veth named `ifname` in ns.

        `addr` ("192.0.2.10/24", or a list) is added to ifname. Returns the
        bridge-side port name (`port`, else a unique one).
        """
        addrs = [addr] if isinstance(addr, str) else list(addr or [])
        for a in addrs:
            _check_addr(a)
        port = port or self._ifname("p")
        # Two `ip -batch` runs instead of one process per step: every exec
        # costs a lot under TCG.
        ip_batch(bridge_ns, [
            f"link add {port} type veth peer name {ifname} netns {ns.name}",
            f"link set {port} master {bridge}",
            f"link set {port} up",
        ])
        self._links.append((bridge_ns, port))
        ip_batch(ns, [f"addr add {a} dev {ifname}" + (" nodad" if ":" in a else "") for a in addrs]
                  + [f"link set {ifname} up"])
        return port

    def _spawn(self, argv, name, env, cwd, log=None):
        log_path = log or os.path.join(self.dir, f"{name}-{len(self._procs)}.log")
        logf = open(log_path, "ab" if log else "wb")
        full_env = dict(os.environ)
        full_env.update(env or {})
        p = subprocess.Popen(argv, stdout=logf, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                             env=full_env, cwd=cwd, start_new_session=True)
        logf.close()
        proc = Proc(p, name, log_path)
        self._procs.append(proc)
        return proc

    def spawn(self, *argv, name=None, env=None, cwd=None, log=None):
        """Start a process in the current namespace (see Netns.spawn)."""
        return self._spawn(list(argv), name or os.path.basename(argv[0]), env, cwd, log)

    def popen(self, argv, **kw):
        """subprocess.Popen(argv, **kw), in its own session, in self.bg:
        close() kills it (a caller may also put Popens of its own in bg)."""
        p = subprocess.Popen(argv, start_new_session=True, **kw)
        self.bg.append(p)
        return p

    def http_server(self, ns, addr, port=80, body=None):
        """Start a tiny HTTP server in `ns` that answers every GET with `body`.

        It listens on addr:port, logs each request as "GET <path> from
        <client>" and is ready when this returns. Returns the Proc.
        """
        _check_addr(addr)
        body = body if body is not None else f"{ns.name} {addr}:{port}\n"
        script = os.path.join(self.dir, f"httpd-{secrets.token_hex(3)}.py")
        with open(script, "w") as f:
            f.write(_HTTPD)
        family = "6" if ":" in addr else "4"
        proc = ns.spawn("/usr/bin/python3", "-u", script, family, addr, str(port), body,
                        name=f"httpd-{ns.name}-{port}")
        poll(lambda: "listening" in proc.log() or not proc.alive(), timeout=30,
             what=f"http server {addr}:{port} in {ns.name}")
        if not proc.alive():
            raise LabError(f"http server {addr}:{port} in {ns.name} died:\n{proc.log()}")
        return proc

    def close(self):
        """Stop processes and delete links and namespaces. Safe to call twice."""
        errors = []
        for p in reversed(self._procs):
            try:
                terminate(p.popen)
            except Exception as e:
                errors.append(f"stop {p.name}: {e}")
        self._procs.clear()
        for p in reversed(self.bg):
            if p.poll() is None:
                try:
                    # A group of its own (popen()) goes whole; else the process.
                    if os.getpgid(p.pid) == p.pid:
                        os.killpg(p.pid, signal.SIGKILL)
                    else:
                        p.kill()
                except ProcessLookupError:
                    pass
            try:
                p.wait(10)
            except subprocess.TimeoutExpired:
                errors.append(f"pid {p.pid} survived SIGKILL")
        self.bg.clear()
        by_ns = {}
        for ns, name in reversed(self._links):
            by_ns.setdefault(ns.name if ns else None, []).append(f"link del {name}")
        for nsname, lines in by_ns.items():
            # -force: go on past links already gone with their peer.
            argv = ["ip"] + (["-n", nsname] if nsname else []) + ["-force", "-batch", "-"]
            run(argv, check=False, input="".join(line + "\n" for line in lines))
        self._links.clear()
        for ns in reversed(self._netns):
            # Kill anything left in the namespace (e.g. a daemon that forked).
            r = run(["ip", "netns", "pids", ns.name], check=False)
            for pid in r.stdout.split():
                try:
                    os.kill(int(pid), signal.SIGKILL)
                except (ProcessLookupError, ValueError):
                    pass
            r = run(["ip", "netns", "del", ns.name], check=False)
            if r.returncode != 0:
                errors.append(f"ip netns del {ns.name}: {r.stderr.strip()}")
        self._netns.clear()
        if os.environ.get("DD_LAB_KEEP_DIR") != "1":
            shutil.rmtree(self.dir, ignore_errors=True)
        if errors:
            raise LabError("lab cleanup: " + "; ".join(errors))


def terminate(popen, timeout=5.0):
    """SIGTERM to the process group of `popen` (a session leader: spawn(),
    popen()), SIGKILL after `timeout`; returns the exit status."""
    if popen.poll() is None:
        try:
            os.killpg(popen.pid, signal.SIGTERM)
            try:
                popen.wait(timeout)
            except subprocess.TimeoutExpired:
                os.killpg(popen.pid, signal.SIGKILL)
                popen.wait()
        except ProcessLookupError:
            pass
    return popen.wait()


def nat_site(lab):
    """A ready NAT site: returns (cli, dir, [rs1, rs2]) namespaces.

    cli 192.0.2.10/24 --[front bridge]-- dir eth0 192.0.2.1/24 + VIP
    192.0.2.100/24; dir eth1 198.51.100.1/24 --[back bridge]-- rs1
    198.51.100.11/24, rs2 198.51.100.12/24 (default route via the
    director, forwarding on). Nothing listens and IPVS is empty: the test
    adds servers (lab.http_server) and services.
    """
    front, back = lab.bridge("fr"), lab.bridge("bk")
    cli, d = lab.netns("cli"), lab.netns("dir")
    rs = [lab.netns("rs1"), lab.netns("rs2")]
    lab.connect(cli, front, "192.0.2.10/24")
    lab.connect(d, front, ["192.0.2.1/24", "192.0.2.100/24"])
    lab.connect(d, back, "198.51.100.1/24", ifname="eth1")
    d.forwarding()
    for i, r in enumerate(rs):
        lab.connect(r, back, f"198.51.100.{11 + i}/24")
        r.route_add("default", "198.51.100.1")
    return cli, d, rs


# ------------------------------------------------------------- directord --

def directord_bin():
    """$DIRECTORD, else <build dir>/directord/directord."""
    return os.environ.get("DIRECTORD") or os.path.join(build_dir(), "directord", "directord")


def directorctl_bin():
    """$DIRECTORCTL, else directorctl next to directord_bin()."""
    return os.environ.get("DIRECTORCTL") or os.path.join(os.path.dirname(directord_bin()), "directorctl")


def write_key(lab, key, name="hb.key"):
    """The heartbeat key file (mode 0600) in lab.dir; returns its path."""
    path = os.path.join(lab.dir, name)
    with open(path, "wb") as f:
        f.write(key + b"\n")
    os.chmod(path, 0o600)
    return path


@contextlib.contextmanager
def daemon_dir(prefix="dd-"):
    """A temp dir for a standalone daemon's files, searchable by others
    (0755, so `nobody` reaches a control socket in it), with a heartbeat
    key hb.key (0600); removed afterwards. Yields its path."""
    with tempfile.TemporaryDirectory(prefix=prefix) as d:
        os.chmod(d, 0o755)
        key = os.path.join(d, "hb.key")
        with open(key, "w") as f:
            f.write("0123456789abcdef0123456789abcdef\n")
        os.chmod(key, 0o600)
        yield d


# Appends the DIRECTORD_* environment of every notify run to a file, one
# block per run, ended by "---" (read back by notify_records()).
NOTIFY_CMD = "env | grep ^DIRECTORD_ | sort >> {path}; echo --- >> {path}"


def directord_argv(lab, node, conf, syslog_sock=None):
    """directord in the foreground on `conf`: logging to stderr, or with
    syslog_sock to syslog(3) through that socket (see start_rsyslog)."""
    if not syslog_sock:
        return [directord_bin(), "-n", "-l", "stderr", "-f", conf]
    # syslog(3) always writes to /dev/log: give this daemon a private /dev
    # (in its own mount namespace) whose log is the lab's rsyslogd. sh
    # execs, so the pid stays the daemon's.
    dev = os.path.join(lab.dir, f"dev-{node}")
    script = (f"set -e; mount --make-rprivate /; mkdir -p {dev}; mount -t tmpfs none {dev}; "
              f"for f in null zero urandom random; do touch {dev}/$f; mount --bind /dev/$f {dev}/$f; done; "
              f"ln -s {syslog_sock} {dev}/log; mount --bind {dev} /dev; "
              f"exec {directord_bin()} -n -l syslog -f {conf}")
    return ["unshare", "-m", "sh", "-c", script]


def start_directord(lab, ns, node, conf, syslog_sock=None, log=None, env=None):
    """directord for `node` in namespace `ns` (a Netns); returns its Proc.
    With `log`, its output is appended to that file (kept across restarts);
    `env` adds to its environment (e.g. DIRECTORD_TEST_IPVS=model)."""
    return ns.spawn(*directord_argv(lab, node, conf, syslog_sock), name=f"directord-{node}", log=log, env=env)


def directorctl(sock, *args, ns=None, timeout=30):
    """directorctl -s sock ARGS (in `ns` if given); CompletedProcess, not checked."""
    argv = [directorctl_bin(), "-s", sock, *args]
    return run(ns.argv(argv) if ns else argv, check=False, timeout=timeout)


# ---- net-snmp: a private snmpd (AgentX master) and snmptrapd -------------

def have_snmp_tools():
    return all(shutil.which(t) for t in ("snmpd", "snmptrapd", "snmpwalk", "snmpget"))


def directord_has_snmp():
    """Whether this build has the AgentX subagent (configure --enable-snmp):
    only such a build accepts snmp.enabled = true."""
    with tempfile.NamedTemporaryFile("w", suffix=".conf") as f:
        f.write('node = "x";\nsnmp = { enabled = true; };\nclusters = ();\n')
        f.flush()
        return run([directord_bin(), "-t", "-f", f.name], check=False).returncode == 0


def snmp_mibdirs():
    """MIB path: the system's IETF modules if any, net-snmp's
    (NET-SNMP-MIB), the stubs of tests/snmp/mibs, and doc/ (DIRECTORD-MIB)."""
    return ":".join(["/usr/share/snmp/mibs/ietf", "/usr/share/snmp/mibs/iana", "/usr/share/snmp/mibs",
                     os.path.join(src_dir(), "tests", "snmp", "mibs"), os.path.join(src_dir(), "doc")])


# DIRECTORD-MIB's root (doc/DIRECTORD-MIB.txt), numeric: a walk of it is
# a walk of everything the subagent serves.
DIRECTORD_MIB_OID = ".1.3.6.1.4.1.8072.9999.9999.4"

SNMPD_CONF = """master agentx
agentXSocket {sock}
agentXPerms 0600 0700
rocommunity public 127.0.0.1
trap2sink 127.0.0.1:{trap} public
"""


class Snmpd:
    """snmpd (master agentx on <lab>/snmp-<tag>/agentx.sock, SNMP on
    udp:127.0.0.1:port) and snmptrapd (on port + 1, every notification
    logged to self.traplog with numeric OIDs) in namespace `ns`."""

    def __init__(self, lab, ns, tag, port=10161):
        self.lab, self.ns, self.tag, self.port = lab, ns, tag, port
        self.dir = os.path.join(lab.dir, f"snmp-{tag}")
        os.makedirs(self.dir, exist_ok=True)
        self.sock = os.path.join(self.dir, "agentx.sock")
        self.conf = os.path.join(self.dir, "snmpd.conf")
        with open(self.conf, "w") as f:
            f.write(SNMPD_CONF.format(sock=self.sock, trap=port + 1))
        self.trapconf = os.path.join(self.dir, "snmptrapd.conf")
        with open(self.trapconf, "w") as f:
            f.write("disableAuthorization yes\n")
        self.traplog = os.path.join(self.dir, "traps.log")
        self.mibdirs = snmp_mibdirs()
        self.mibopts = ["-M", self.mibdirs, "-m", "DIRECTORD-MIB"]
        # snmpd keeps its persistent state in a file named like its config:
        # a folder of its own, or it overwrites snmpd.conf
        persist = os.path.join(self.dir, "persist")
        os.makedirs(persist, exist_ok=True)
        self.env = {"SNMP_PERSISTENT_DIR": persist, "MIBS": "", "MIBDIRS": self.mibdirs}
        self.snmpd = None
        self.trapd = ns.spawn("snmptrapd", "-f", "-Lf", self.traplog, "-C", "-c", self.trapconf,
                              *self.mibopts, "-On", "-p", os.path.join(self.dir, "snmptrapd.pid"),
                              f"udp:127.0.0.1:{port + 1}", name=f"snmptrapd-{tag}", env=self.env)
        self.start_snmpd()

    def start_snmpd(self, timeout=10):
        if os.path.exists(self.sock):
            os.unlink(self.sock)
        self.snmpd = self.ns.spawn("snmpd", "-f", "-Lo", "-C", "-c", self.conf, "-M", self.mibdirs, "-m", "",
                                   "-p", os.path.join(self.dir, "snmpd.pid"),
                                   "-x", f"unix:{self.sock}", f"udp:127.0.0.1:{self.port}",
                                   name=f"snmpd-{self.tag}", env=self.env)
        wait_for(lambda: os.path.exists(self.sock), timeout, f"snmpd {self.tag} to open its AgentX socket")

    def kill_snmpd(self):
        self.snmpd.signal(signal.SIGKILL)
        self.snmpd.popen.wait(timeout=10)

    def snmp_conf(self, traps=True):
        """The directord config group that points at this snmpd."""
        return (f'snmp = {{ enabled = true; agentx_socket = "{self.sock}"; '
                f'traps = {"true" if traps else "false"}; }};\n')

    def bulkwalk_argv(self, oid=DIRECTORD_MIB_OID, timeout=1, repeaters=50):
        """The argv of one snmpbulkwalk (numeric OIDs, no retry) of `oid`
        against this snmpd, run in its namespace: for load loops."""
        return self.ns.argv(["snmpbulkwalk", "-v2c", "-c", "public", f"-Cr{repeaters}", "-On",
                             "-t", str(timeout), "-r", "0", f"udp:127.0.0.1:{self.port}", oid])

    def walk(self, oid="DIRECTORD-MIB::ddObjects", timeout=3):
        """snmpwalk output with MIB names; "" if the walk failed. 3 s per
        request: on a loaded machine 1 s was seen to run out."""
        r = self.ns.run("snmpwalk", "-v2c", "-c", "public", "-t", str(timeout), "-r", "0", *self.mibopts,
                        f"udp:127.0.0.1:{self.port}", oid, check=False, timeout=60)
        return r.stdout if r.returncode == 0 else ""

    def get(self, *oids):
        r = self.ns.run("snmpget", "-v2c", "-c", "public", *self.mibopts, f"udp:127.0.0.1:{self.port}",
                        *oids, check=False, timeout=60)
        return r.stdout

    def traps(self):
        try:
            with open(self.traplog) as f:
                return f.read()
        except FileNotFoundError:
            return ""


# ------------------------------------------------------------ routing --

class Bird:
    """BIRD 2 in namespace `ns`, with its own config, control socket and
    pid file in lab.dir (never the system instance, never /run/bird); in
    the foreground, logging to its Proc's log. Stopped by Lab.close().

    bird = Bird(lab, rt, "rt", conf_text)   # conf_text: a bird.conf
    bird.wait_up()
    bird.birdc("show", "route")             # stdout of birdc -s SOCK ...
    """

    def __init__(self, lab, ns, name, conf_text):
        self.lab, self.ns, self.name = lab, ns, name
        self.conf = os.path.join(lab.dir, f"bird-{name}.conf")
        self.sock = os.path.join(lab.dir, f"bird-{name}.ctl")
        self.pid_file = os.path.join(lab.dir, f"bird-{name}.pid")
        with open(self.conf, "w") as f:
            f.write(conf_text)
        run(["bird", "-p", "-c", self.conf])   # parse only: a bad config fails here, with its message
        self.proc = ns.spawn("bird", "-f", "-c", self.conf, "-s", self.sock, "-P", self.pid_file,
                             name=f"bird-{name}")

    def birdc(self, *args, check=True):
        """birdc -s SOCK ARGS; returns its stdout."""
        return run(["birdc", "-s", self.sock, *args], check=check).stdout

    def wait_up(self, timeout=20.0):
        poll(lambda: not self.proc.alive() or "Daemon is up and running" in
             self.birdc("show", "status", check=False), timeout=timeout, what=f"bird {self.name} up")
        if not self.proc.alive():
            raise LabError(f"bird {self.name} died:\n{self.proc.log()}")

    def protocol_state(self, proto):
        """BGP state of protocol `proto` ("Established", "Active", ...), or ""."""
        out = self.birdc("show", "protocols", proto, check=False)
        m = re.search(rf"^{re.escape(proto)}\s+\S+\s+\S+\s+\S+\s+\S+\s+(\S+)", out, re.M)
        return m.group(1) if m else ""

    def route_gateways(self, prefix):
        """The next hops BIRD itself has for `prefix` (birdc show route for)."""
        out = self.birdc("show", "route", "for", prefix, "all", check=False)
        return sorted(set(re.findall(r"\bvia ([0-9a-f.:]+)", out)))


def route_nexthops(ns, prefix):
    """The gateways of the kernel route for `prefix` in `ns` (a multipath
    route lists several), sorted; [] when there is no such route."""
    import json
    fam = "-6" if ":" in prefix else "-4"
    out = ns.ip("-j", fam, "route", "show", prefix, check=False).stdout.strip()
    gws = []
    for r in json.loads(out or "[]"):
        if r.get("gateway"):
            gws.append(r["gateway"])
        for nh in r.get("nexthops", []):
            if nh.get("gateway"):
                gws.append(nh["gateway"])
    return sorted(gws)


def start_rsyslog(lab):
    """A real rsyslogd with a private config and socket in lab.dir; returns
    (socket path, messages file). LOG_ALERT and above also go to
    "<messages file>.alert"."""
    sock = os.path.join(lab.dir, "syslog.sock")
    out = os.path.join(lab.dir, "syslog.messages")
    conf = os.path.join(lab.dir, "rsyslog.conf")
    with open(conf, "w") as f:
        f.write(f'global(workDirectory="{lab.dir}")\n'
                f'module(load="imuxsock" SysSock.Use="off")\n'
                f'input(type="imuxsock" Socket="{sock}")\n'
                f'*.* action(type="omfile" file="{out}" template="RSYSLOG_TraditionalFileFormat")\n'
                f'*.alert action(type="omfile" file="{out}.alert" template="RSYSLOG_TraditionalFileFormat")\n')
    lab.spawn("rsyslogd", "-n", "-f", conf, "-i", os.path.join(lab.dir, "rsyslog.pid"), name="rsyslogd")
    wait_for(lambda: os.path.exists(sock), 20, "rsyslogd socket")
    return sock, out


def roles(text, cluster="web"):
    """(old, new, reason) of every role change of `cluster` in a log."""
    rx = re.compile(rf"cluster {re.escape(cluster)}: (\w+) -> (\w+): (.*)")
    return [m.groups() for m in rx.finditer(text)]


def notify_records(path):
    """One dict of DIRECTORD_* variables per notify run (see NOTIFY_CMD)."""
    try:
        with open(path) as f:
            text = f.read()
    except FileNotFoundError:
        return []
    recs = []
    for block in text.split("---\n"):
        kv = dict(x.split("=", 1) for x in block.splitlines() if "=" in x)
        if kv:
            recs.append(kv)
    return recs


# ----------------------------------------------------------- observation --

def mac(ns, ifname="eth0"):
    """The MAC address of `ifname` in `ns`."""
    out = ns.ip("-o", "link", "show", "dev", ifname).stdout
    return re.search(r"link/ether ([0-9a-f:]{17})", out).group(1)


def neigh(ns, addr, ifname="eth0"):
    """The MAC `ns` has in its neighbour table for `addr`, or None."""
    out = ns.ip("neigh", "show", addr, "dev", ifname, check=False).stdout
    m = re.search(r"lladdr ([0-9a-f:]{17})", out)
    return m.group(1) if m else None


def capture(lab, ns, filt, ifname="eth0"):
    """tcpdump -e of `filt` on `ns`'s `ifname` into a file of lab.dir, armed
    when this returns; returns the file's path (read it, see announced())."""
    out = os.path.join(lab.dir, f"tcpdump-{ns.name}-{len(lab.bg)}.txt")
    with open(out, "w") as f:
        p = ns.popen("tcpdump", "-i", ifname, "-n", "-e", "-l", "-U", filt, stdout=f,
                     stderr=subprocess.PIPE, text=True)
    # tcpdump says "listening on" once the capture is armed.
    wait_for(lambda: "listening" in (p.stderr.readline() or ""), 10, "tcpdump to start")
    return out


def announced(cap, mac, vip4, vip6, start=0):
    """A gratuitous ARP request for vip4 and an unsolicited NA for vip6 from
    `mac` in a capture (capture()), after byte `start`."""
    with open(cap) as f:
        text = f.read()[start:]
    arp = re.search(rf"^\S+ {mac} > ff:ff:ff:ff:ff:ff.*Request who-has {vip4} tell {vip4}", text, re.M)
    na = re.search(rf"^\S+ {mac} > 33:33:00:00:00:01.*{vip6} > ff02::1.*neighbor advertisement.*tgt is {vip6}",
                   text, re.M)
    return bool(arp and na)


_HTTPD = r'''
import http.server, socket, sys
family, addr, port, body = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4].encode()
class H(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.0"
    def do_GET(self):
        print(f"GET {self.path} from {self.client_address[0]}", flush=True)
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)
    def log_message(self, *a):
        pass
class S(http.server.HTTPServer):
    address_family = socket.AF_INET6 if family == "6" else socket.AF_INET
    allow_reuse_address = True
s = S((addr, port), H)
print("listening", flush=True)
s.serve_forever()
'''


# ---------------------------------------------------------------- ipvsadm --

@dataclasses.dataclass
class IpvsStats:
    """Counters of `ipvsadm -Ln --stats --exact` (totals since creation)."""
    conns: int
    inpkts: int
    outpkts: int
    inbytes: int
    outbytes: int


@dataclasses.dataclass
class IpvsDest:
    """A real server: forward is "Masq", "Route", "Tunnel" or "Local"."""
    addr: str
    port: int
    forward: str = ""
    weight: int = 0
    active: int = 0
    inactive: int = 0
    stats: IpvsStats = None

    @property
    def key(self):
        return _hostport(self.addr, self.port)


@dataclasses.dataclass
class IpvsService:
    """A virtual service. proto is "TCP", "UDP", "SCTP" or "FWM".

    For FWM services addr is "" and port is the firewall mark. flags holds
    the scheduler flags ("sh-port", ...) and options ("ops", ...);
    persistent is the timeout in seconds or None; netmask the persistence
    mask or None.
    """
    proto: str
    addr: str
    port: int
    scheduler: str = ""
    flags: list = dataclasses.field(default_factory=list)
    persistent: int = None
    netmask: str = None
    dests: list = dataclasses.field(default_factory=list)
    stats: IpvsStats = None

    @property
    def key(self):
        """"TCP 192.0.2.1:80", "UDP [2001:db8::1]:53" or "FWM 7"."""
        if self.proto == "FWM":
            return f"FWM {self.port}"
        return f"{self.proto} {_hostport(self.addr, self.port)}"

    def dest(self, addr, port):
        """The real server addr:port, or None."""
        for d in self.dests:
            if d.addr == addr and d.port == int(port):
                return d
        return None


def _hostport(addr, port):
    return f"[{addr}]:{port}" if ":" in addr else f"{addr}:{port}"


def _split_hostport(s):
    m = re.fullmatch(r"\[([0-9a-fA-F:.]+)\]:(\d+)|([0-9.]+):(\d+)", s)
    if not m:
        raise ValueError(f"bad address:port {s!r}")
    if m.group(1):
        return m.group(1), int(m.group(2))
    return m.group(3), int(m.group(4))


_PROTOS = ("TCP", "UDP", "SCTP", "FWM")


def parse_ipvsadm(text):
    """Parse `ipvsadm -Ln` output into a list of IpvsService (in listed order).

    Raises ValueError on a line it does not understand, so a format change
    fails the test instead of silently hiding services.
    """
    services = []
    for line in text.splitlines():
        if not line.strip() or line.startswith(("IP Virtual Server", "Prot ")) or \
                line.lstrip().startswith("-> RemoteAddress"):
            continue
        tok = line.split()
        if tok[0] == "->":
            if not services:
                raise ValueError(f"real server before any service: {line!r}")
            addr, port = _split_hostport(tok[1])
            if len(tok) != 6:
                raise ValueError(f"bad real server line: {line!r}")
            services[-1].dests.append(IpvsDest(addr, port, tok[2], int(tok[3]), int(tok[4]), int(tok[5])))
            continue
        if tok[0] not in _PROTOS:
            raise ValueError(f"unexpected ipvsadm line: {line!r}")
        if tok[0] == "FWM":
            svc = IpvsService("FWM", "", int(tok[1]))
        else:
            addr, port = _split_hostport(tok[1])
            svc = IpvsService(tok[0], addr, port)
        rest = tok[2:]
        if rest and rest[0] == "IPv6":  # FWM services of family inet6
            svc.flags.append("IPv6")
            rest = rest[1:]
        if rest:
            svc.scheduler = rest[0]
            rest = rest[1:]
        i = 0
        while i < len(rest):
            t = rest[i]
            if t.startswith("(") and t.endswith(")"):
                svc.flags.extend(f for f in t[1:-1].split(",") if f)
            elif t == "persistent" and i + 1 < len(rest):
                svc.persistent = int(rest[i + 1])
                i += 1
            elif t == "mask" and i + 1 < len(rest):
                svc.netmask = rest[i + 1]
                i += 1
            elif t == "pe" and i + 1 < len(rest):
                svc.flags.append(f"pe={rest[i + 1]}")
                i += 1
            else:
                svc.flags.append(t)
            i += 1
        services.append(svc)
    return services


def parse_ipvsadm_stats(text):
    """Parse `ipvsadm -Ln --stats --exact` into a list of IpvsService.

    Each service and real server carries .stats (IpvsStats); scheduler and
    weights are not in this listing (merge with parse_ipvsadm if needed).
    """
    services = []
    for line in text.splitlines():
        if not line.strip() or line.startswith(("IP Virtual Server", "Prot ")) or \
                line.strip() == "-> RemoteAddress:Port":
            continue
        tok = line.split()
        if tok[0] == "->":
            addr, port = _split_hostport(tok[1])
            nums = tok[2:]
            target = IpvsDest(addr, port)
        elif tok[0] in _PROTOS:
            if tok[0] == "FWM":
                target = IpvsService("FWM", "", int(tok[1]))
            else:
                addr, port = _split_hostport(tok[1])
                target = IpvsService(tok[0], addr, port)
            nums = [t for t in tok[2:] if t != "IPv6"]
        else:
            raise ValueError(f"unexpected ipvsadm --stats line: {line!r}")
        if len(nums) != 5 or not all(n.isdigit() for n in nums):
            raise ValueError(f"bad counters (use --exact): {line!r}")
        target.stats = IpvsStats(*map(int, nums))
        if isinstance(target, IpvsDest):
            if not services:
                raise ValueError(f"real server before any service: {line!r}")
            services[-1].dests.append(target)
        else:
            services.append(target)
    return services


@dataclasses.dataclass
class IpvsConn:
    """One entry of `ipvsadm -Lnc`."""
    proto: str
    expire: str
    state: str
    source: str
    virtual: str
    dest: str


def parse_ipvsadm_conns(text):
    """Parse `ipvsadm -Lnc` (connection table) into a list of IpvsConn."""
    conns = []
    for line in text.splitlines():
        tok = line.split()
        if not tok or tok[0] in ("IPVS", "pro"):
            continue
        if len(tok) != 6:
            raise ValueError(f"bad ipvsadm -Lnc line: {line!r}")
        conns.append(IpvsConn(*tok))
    return conns


def _ipvsadm(ns, *args):
    argv = ["ipvsadm"] + list(args)
    return (ns.run(*argv) if ns else run(argv)).stdout


def ipvs_services(ns=None, stats=False):
    """The IPVS table of `ns` (a Netns; None = current namespace).

    Returns a list of IpvsService with their dests. With stats=True every
    service and dest also has .stats, read right after the listing (two
    ipvsadm calls, so not one atomic snapshot).
    """
    services = parse_ipvsadm(_ipvsadm(ns, "-Ln"))
    if stats:
        counted = {s.key: s for s in parse_ipvsadm_stats(_ipvsadm(ns, "-Ln", "--stats", "--exact"))}
        for s in services:
            c = counted.get(s.key)
            if c is None:
                continue
            s.stats = c.stats
            for d in s.dests:
                cd = c.dest(d.addr, d.port)
                d.stats = cd.stats if cd else None
    return services


def ipvs_service(ns, key):
    """The service whose key is e.g. "TCP 192.0.2.100:80", or None."""
    for s in ipvs_services(ns):
        if s.key == key:
            return s
    return None


def ipvs_conns(ns=None):
    """The IPVS connection table of `ns` (list of IpvsConn)."""
    return parse_ipvsadm_conns(_ipvsadm(ns, "-Lnc"))


def wait_tcp(ns, addr, port, timeout=20.0):
    """Poll until a TCP connect to addr:port from `ns` succeeds."""
    _check_addr(addr)
    prog = ("import socket,sys;s=socket.create_connection((sys.argv[1],int(sys.argv[2])),2);s.close()")
    poll(lambda: ns.run("/usr/bin/python3", "-c", prog, addr, str(port), check=False).returncode == 0,
         timeout=timeout, interval=0.2, what=f"TCP {addr}:{port} from {ns.name}")


def start_echod(ns, name, port, wait=True):
    """tests/lab/echod.py in `ns` (answers every line with `name`), ready
    when this returns (wait=False: call wait_echod(proc) later); returns
    its Proc."""
    p = ns.spawn("/usr/bin/python3", "-u", os.path.join(os.path.dirname(os.path.abspath(__file__)), "echod.py"),
                 name, str(port), name=f"echod-{name}")
    return wait_echod(p) if wait else p


def wait_echod(p):
    """Polls until the echod of start_echod(wait=False) listens; returns its Proc."""
    name = p.name[len("echod-"):]
    poll(lambda: "listening" in p.log() or not p.alive(), timeout=30, what=f"echod {name}")
    if not p.alive():
        raise LabError(f"echod {name} died:\n{p.log()}")
    return p


__all__.append("wait_tcp")
__all__ += ["start_echod", "wait_echod"]
