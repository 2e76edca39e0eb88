# SPDX-License-Identifier: GPL-2.0-or-later
"""systemd integration and signals of the real daemon: READY=1, RELOADING=1
around a reload, STOPPING=1, the watchdog, which is fed only while both the
main loop and the heartbeat thread make progress, and the signals operators
send by habit (USR1/USR2 dump, PIPE ignored, QUIT/INT stop cleanly).

The daemon runs in a network namespace of its own (a standalone director
with a VIP on its lo). A real AF_UNIX datagram socket plays systemd's
notify socket. The heartbeat thread alone is stopped with ptrace
(PTRACE_SEIZE + PTRACE_INTERRUPT act on one thread, not the process), so
the main loop goes on while the thread is wedged, which is the case the
watchdog exists for."""
import ctypes
import os
import signal
import socket
import subprocess
import sys
import tempfile

import pytest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lab"))
from nslab import hold, wait_for  # noqa: E402  (tests/lab/nslab.py, the lab library)

DIRECTORD = os.environ.get("DIRECTORD", "directord/directord")

CONF = """
node = "lb1";
pid_file = "{dir}/directord.pid";
control = {{ socket = "{dir}/directord.sock"; }};
heartbeat = {{ state_file = "{dir}/generation"; }};
clusters = (
  {{ name = "web";
     vips = ( {{ address = "203.0.113.10/24"; interface = "lo"; }} );
  }}
);
"""

PTRACE_DETACH = 17
PTRACE_SEIZE = 0x4206
PTRACE_INTERRUPT = 0x4207
WALL = 0x40000000

libc = ctypes.CDLL(None, use_errno=True)
libc.ptrace.argtypes = [ctypes.c_long, ctypes.c_long, ctypes.c_void_p, ctypes.c_void_p]
libc.ptrace.restype = ctypes.c_long


def ptrace(req, tid):
    if libc.ptrace(req, tid, None, None) != 0:
        e = ctypes.get_errno()
        raise OSError(e, f"ptrace({req}, {tid}): {os.strerror(e)}")


class Notify:
    """The notify socket, and every datagram the daemon sent to it."""

    def __init__(self, path):
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.sock.bind(path)
        self.sock.setblocking(False)
        self.msgs = []

    def read(self):
        while True:
            try:
                self.msgs.append(self.sock.recv(4096).decode())
            except BlockingIOError:
                return self.msgs

    def count(self, prefix):
        return sum(1 for m in self.read() if m.startswith(prefix))


@pytest.fixture
def daemon():
    with tempfile.TemporaryDirectory(prefix="dd-watchdog-") as d:
        conf = os.path.join(d, "directord.conf")
        with open(conf, "w") as f:
            f.write(CONF.format(dir=d))
        notify = Notify(os.path.join(d, "notify.sock"))
        env = dict(os.environ, NOTIFY_SOCKET=notify.sock.getsockname(), WATCHDOG_USEC="400000")
        log = open(os.path.join(d, "log"), "w+")
        p = subprocess.Popen(
            ["unshare", "-n", "sh", "-c", 'ip link set lo up && exec "$0" -n -l stderr -f "$1"',
             DIRECTORD, conf], env=env, stdout=log, stderr=subprocess.STDOUT)
        try:
            wait_for(lambda: notify.count("READY=1"), what="READY=1")
            p.dir = d
            yield p, notify, lambda: open(log.name).read()
        finally:
            if p.poll() is None:
                p.kill()
            p.wait(timeout=10)


def heartbeat_tid(pid):
    for tid in os.listdir(f"/proc/{pid}/task"):
        with open(f"/proc/{pid}/task/{tid}/comm") as f:
            if f.read().strip() == "dd-heartbeat":
                return int(tid)
    raise AssertionError("no dd-heartbeat thread")


def test_watchdog_follows_the_heartbeat_thread(daemon):
    p, notify, log = daemon
    fed = notify.count("WATCHDOG=1")
    wait_for(lambda: notify.count("WATCHDOG=1") >= fed + 3, what="watchdog feeds")

    tid = heartbeat_tid(p.pid)
    ptrace(PTRACE_SEIZE, tid)
    try:
        ptrace(PTRACE_INTERRUPT, tid)
        os.waitpid(tid, WALL)
        wait_for(lambda: "heartbeat thread made no progress" in log(), what="the stall logged")
        # From the stall on, nothing feeds systemd (checked over a whole
        # watchdog period: a single feed would be the failure).
        fed = notify.count("WATCHDOG=1")
        hold(lambda: notify.count("WATCHDOG=1") == fed, 0.4,
             "no watchdog feed while the heartbeat thread is stopped")
        assert p.poll() is None
    finally:
        ptrace(PTRACE_DETACH, tid)
    wait_for(lambda: "heartbeat thread progressing again" in log(), what="recovery logged")
    wait_for(lambda: notify.count("WATCHDOG=1") >= fed + 2, what="feeds after recovery")


def test_reload_is_framed_and_quit_stops_cleanly(daemon):
    p, notify, log = daemon
    p.send_signal(signal.SIGHUP)
    wait_for(lambda: "reload applied" in log(), what="reload")
    msgs = notify.read()
    rel = [i for i, m in enumerate(msgs) if m.startswith("RELOADING=1")]
    assert rel, msgs
    assert "MONOTONIC_USEC=" in msgs[rel[-1]]
    assert any(m == "READY=1" for m in msgs[rel[-1] + 1:]), msgs

    # keepalived users send QUIT too: a clean stop, VIPs removed, exit 0.
    p.send_signal(signal.SIGQUIT)
    assert p.wait(timeout=15) == 0, log()
    assert "Quit received, shutting down" in log()
    assert "active -> stopped" in log()
    assert notify.count("STOPPING=1") == 1


def test_usr1_usr2_dump_and_never_kill(daemon):
    """keepalived's USR1/USR2 habits: a dump each, the daemon and its VIP stay."""
    p, notify, log = daemon
    status = os.path.join(p.dir, "directord.status")
    stats = os.path.join(p.dir, "directord.stats")
    # One at a time: a signal sent twice before it is handled counts once.
    for sig, n in ((signal.SIGUSR1, 1), (signal.SIGUSR2, 1), (signal.SIGPIPE, 1), (signal.SIGUSR1, 2)):
        p.send_signal(sig)
        if sig != signal.SIGPIPE:
            word = "status" if sig == signal.SIGUSR1 else "counters"
            wait_for(lambda: log().count(f"{word} written to") == n, 10, f"{word} dump {n}")
    text = open(status).read()
    assert "cluster web: active" in text, text
    assert "directord_cluster_role{" in open(stats).read()
    assert oct(os.stat(status).st_mode & 0o777) == "0o600"
    assert p.poll() is None
    p.send_signal(signal.SIGINT)
    assert p.wait(timeout=15) == 0, log()
    assert "active -> stopped" in log()
