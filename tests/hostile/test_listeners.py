# SPDX-License-Identifier: GPL-2.0-or-later
"""Clients of the control socket and of the metrics port must not be able to
take the daemon's file descriptors, its CPU, its log or its control socket
away from root (issue #13), nor steer where the socket's mode goes.

Each case starts the real daemon standalone in a network namespace of its
own (its VIP 203.0.113.10 on that namespace's lo, the metrics listener on
its 127.0.0.1), with the control socket in a temp dir the test process and
`nobody` (setpriv) reach from the host namespace. Metrics clients are
opened inside the daemon's namespace with setns(2)."""
import contextlib
import ctypes
import errno
import json
import os
import signal
import socket
import subprocess
import sys
import time

import pytest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lab"))
import nslab  # noqa: E402  (tests/lab/nslab.py, the lab library)

DIRECTORD = nslab.directord_bin()
DIRECTORCTL = nslab.directorctl_bin()
NOBODY = 65534
VIP = "203.0.113.10/24"
METRICS = ("127.0.0.1", 9469)
# Well below what the daemon would serve (32 control, 16 metrics clients)
# on top of the ~16 fds it holds anyway: the limit is reached for sure.
NOFILE = 40

# A standalone director (no peers): its cluster goes active at once.
CONF = """node = "lb1"; pid_file = "{dir}/directord.pid";
control = {{ socket = "{sock}"; group = "adm"; mode = "0666"; metrics_listen = "{m[0]}:{m[1]}"; }};
heartbeat = {{ key_file = "{dir}/hb.key"; state_file = "{dir}/generation"; }};
clusters = ( {{ name = "web"; vips = ( {{ address = "{vip}"; interface = "lo"; }} ); }} );
"""

CLONE_NEWNET = 0x40000000
libc = ctypes.CDLL(None, use_errno=True)


@contextlib.contextmanager
def in_netns(pid):
    """Sockets made inside stay in the daemon's namespace afterwards."""
    own = os.open("/proc/self/ns/net", os.O_RDONLY)
    theirs = os.open(f"/proc/{pid}/ns/net", os.O_RDONLY)
    try:
        if libc.setns(theirs, CLONE_NEWNET) != 0:
            raise OSError(ctypes.get_errno(), "setns")
        yield
    finally:
        libc.setns(own, CLONE_NEWNET)
        os.close(own)
        os.close(theirs)


class Daemon:
    def __init__(self, d, sock=None, nofile=None):
        self.dir = d
        self.sock = sock or os.path.join(d, "ctl.sock")
        self.conf = os.path.join(d, "directord.conf")
        self.write_conf()
        self.log_path = os.path.join(d, "directord.log")
        limit = f'prlimit --nofile={nofile}:{nofile} ' if nofile else ""
        with open(self.log_path, "wb") as log:
            self.p = subprocess.Popen(
                ["unshare", "-n", "sh", "-c",
                 f'ip link set lo up && exec {limit}"$0" -n -l stderr -f "$1"', DIRECTORD, self.conf],
                stdout=log, stderr=subprocess.STDOUT, start_new_session=True)

    def write_conf(self, mode="0666"):
        with open(self.conf, "w") as f:
            f.write(CONF.format(dir=self.dir, sock=self.sock, m=METRICS, vip=VIP)
                    .replace('mode = "0666"', f'mode = "{mode}"'))

    def ready(self):
        nslab.wait_for(lambda: self.p.poll() is not None or "core: directord" in self.log(),
                       20, "the daemon to start")
        assert self.p.poll() is None, self.log()
        nslab.wait_for(lambda: self.ctl("status").returncode == 0, 20, "the control socket")
        return self

    def log(self):
        with open(self.log_path, "rb") as f:
            return f.read().decode(errors="replace")

    def log_lines(self):
        n = 0
        with open(self.log_path, "rb") as f:
            for chunk in iter(lambda: f.read(1 << 20), b""):
                n += chunk.count(b"\n")
        return n

    def ctl(self, *args, user=None, timeout=30):
        cmd = [DIRECTORCTL, "-s", self.sock, *args]
        if user:
            cmd = ["setpriv", f"--reuid={user}", "--regid=nogroup", "--clear-groups"] + cmd
        return subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)

    def cpu_ticks(self):
        with open(f"/proc/{self.p.pid}/stat") as f:
            fields = f.read().rpartition(")")[2].split()
        return int(fields[11]) + int(fields[12])  # utime, stime

    def has_vip(self):
        out = subprocess.run(["nsenter", "-t", str(self.p.pid), "-n", "ip", "-o", "addr", "show", "dev", "lo"],
                             capture_output=True, text=True).stdout
        return VIP in out

    def scrape(self):
        return subprocess.run(["nsenter", "-t", str(self.p.pid), "-n", "curl", "-s", "-m", "5",
                               "-o", "/dev/null", "-w", "%{http_code}",
                               f"http://{METRICS[0]}:{METRICS[1]}/metrics"],
                              capture_output=True, text=True, timeout=20).stdout

    def stop(self):
        if self.p.poll() is None:
            self.p.send_signal(signal.SIGTERM)
            try:
                self.p.wait(timeout=15)
            except subprocess.TimeoutExpired:
                os.killpg(self.p.pid, signal.SIGKILL)
                self.p.wait()
        return self.p.returncode


@pytest.fixture
def tmpdir_root():
    with nslab.daemon_dir("dd-listeners-") as d:  # nobody must reach the socket
        yield d


def open_clients(family, addr, n):
    """Up to n connections that send nothing; stops where the kernel does
    not take more (a full UNIX backlog). Returns the sockets."""
    socks = []
    for _ in range(n):
        s = socket.socket(family, socket.SOCK_STREAM)
        s.setblocking(False)
        e = s.connect_ex(addr)
        if e not in (0, errno.EINPROGRESS):
            s.close()
            break
        socks.append(s)
    return socks


def test_fd_exhaustion_neither_spins_nor_floods_the_log(tmpdir_root):
    """At its fd limit, the daemon stops accepting (no busy loop, a few log
    lines), keeps its VIP, and serves directorctl once the clients leave."""
    d = Daemon(tmpdir_root, nofile=NOFILE).ready()
    clients = []
    try:
        before = d.log_lines()
        with in_netns(d.p.pid):
            clients += open_clients(socket.AF_INET, METRICS, 100)
        clients += open_clients(socket.AF_UNIX, d.sock, 100)
        nslab.wait_for(lambda: "accept failed: Too many open files" in d.log(), 10,
                       "the daemon to run out of file descriptors")
        t0, c0 = time.monotonic(), d.cpu_ticks()
        nslab.hold(lambda: d.p.poll() is None, 1.0, "the daemon running")
        cpu = (d.cpu_ticks() - c0) / os.sysconf("SC_CLK_TCK") / (time.monotonic() - t0)
        assert cpu < 0.3, f"the daemon used {cpu:.0%} of a core while out of fds"
        grown = d.log_lines() - before
        assert grown < 100, f"{grown} log lines while out of fds:\n{d.log()[-2000:]}"
        assert d.has_vip()
    finally:
        for s in clients:
            s.close()
    try:
        nslab.wait_for(lambda: d.ctl("status").returncode == 0, 15, "directorctl status again")
        nslab.wait_for(lambda: d.scrape() == "200", 15, "a metrics scrape again")
        assert d.has_vip()
        assert d.log_lines() - before < 150
    finally:
        assert d.stop() == 0, d.log()[-2000:]


# Run as nobody: opens N connections to the socket and sends nothing; says
# how many it has, waits for a line on stdin, then says which got `busy`
# and how long the others took to be closed by the daemon.
HOLDER = r"""
import json, select, socket, sys, time
path, n = sys.argv[1], int(sys.argv[2])
socks = []
for _ in range(n):
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.connect(path)
    socks.append((s, time.monotonic()))
print(json.dumps({"connected": len(socks)}), flush=True)
sys.stdin.readline()
busy, held, closed_after = 0, 0, []
for s, t in socks:
    s.setblocking(False)
    try:
        data = s.recv(100)
    except BlockingIOError:
        data = None
    if data and data.startswith(b"busy\n"):
        busy += 1
    else:
        held += 1
        s.setblocking(True)
        s.settimeout(15)
        try:
            while s.recv(4096):
                pass
        except OSError:
            pass
        closed_after.append(time.monotonic() - t)
print(json.dumps({"busy": busy, "held": held, "closed_after": closed_after}), flush=True)
"""


def test_one_user_cannot_lock_out_root_or_other_users(tmpdir_root):
    """nobody's idle connections take at most max_clients_per_uid (8) slots:
    root and another user still get answers, nobody's ninth gets busy, and
    the held ones are closed after the 2 s idle timeout."""
    d = Daemon(tmpdir_root).ready()
    h = subprocess.Popen(["setpriv", f"--reuid={NOBODY}", "--regid=nogroup", "--clear-groups",
                          sys.executable, "-c", HOLDER, d.sock, "40"],
                         stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        assert json.loads(h.stdout.readline()) == {"connected": 40}
        r = d.ctl("status")
        assert r.returncode == 0, r.stderr
        r = d.ctl("status", user="daemon")
        assert r.returncode == 0, r.stderr
        h.stdin.write("go\n")
        h.stdin.flush()
        res = json.loads(h.stdout.readline())
        assert res["held"] <= 8 and res["busy"] >= 32, res
        assert max(res["closed_after"]) < 4.0, res
        assert h.wait(timeout=10) == 0
    finally:
        if h.poll() is None:
            h.kill()
            h.wait()
        assert d.stop() == 0, d.log()[-2000:]


def test_check_and_plan_of_a_file_are_denied_to_others(tmpdir_root):
    """Reading a file as root on someone's behalf is a privileged act."""
    d = Daemon(tmpdir_root).ready()
    try:
        for cmd in ("check", "plan"):
            r = d.ctl(cmd, "/etc/shadow", user="nobody")
            assert r.returncode == 4 and "permission denied" in r.stderr, (cmd, r)
            r = d.ctl(cmd, user="nobody")
            assert r.returncode == 0, (cmd, r)
    finally:
        assert d.stop() == 0


def test_reload_does_not_chmod_through_a_symlink(tmpdir_root):
    """Between start and reload the socket's name is replaced by a symlink
    to a root-owned file: the reload must not change that file's mode or
    group, and says why."""
    victim = os.path.join(tmpdir_root, "victim")
    with open(victim, "w") as f:
        f.write("precious\n")
    os.chmod(victim, 0o600)
    d = Daemon(tmpdir_root).ready()
    try:
        os.unlink(d.sock)
        os.symlink(victim, d.sock)
        os.lchown(d.sock, NOBODY, NOBODY)
        d.write_conf(mode="0660")
        d.p.send_signal(signal.SIGHUP)
        nslab.wait_for(lambda: "reload applied" in d.log(), 10, "the reload")
        st = os.stat(victim)
        assert (st.st_mode & 0o7777, st.st_uid, st.st_gid) == (0o600, 0, 0)
        assert open(victim).read() == "precious\n"
        assert (f"control socket {d.sock} is a symbolic link: refusing to change its mode or group"
                in d.log()), d.log()
    finally:
        assert d.stop() == 0
    assert os.path.islink(d.sock) and open(victim).read() == "precious\n"


def test_socket_in_a_world_writable_dir_is_refused(tmpdir_root):
    shared = os.path.join(tmpdir_root, "shared")
    os.mkdir(shared)
    os.chmod(shared, 0o777)
    sock = os.path.join(shared, "ctl.sock")
    d = Daemon(tmpdir_root, sock=sock)
    try:
        nslab.wait_for(lambda: d.p.poll() is not None or "can be written by other users and is not sticky"
                       in d.log(), 20, "the refusal")
        assert not os.path.exists(sock) and os.listdir(shared) == []
    finally:
        d.stop()
