"""The daemon's own command line and life cycle: -t, -t -p, pid file,
single instance, SIGHUP reload (good and bad), SIGTERM.

Runs the real binary with a real config in a temp dir; needs no network."""
import os
import signal
import subprocess
import sys
import tempfile

import pytest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lab"))
from nslab import wait_for  # noqa: E402  (tests/lab/nslab.py, the lab library)

DIRECTORD = os.environ.get("DIRECTORD", "directord/directord")

CONF = """
node = "lb1";
pid_file = "{dir}/directord.pid";
control = {{ socket = "{dir}/directord.sock"; }};
heartbeat = {{ key_file = "hb.key"; state_file = "{dir}/generation"; }};
clusters = (
  {{ name = "web"; priority = {prio};
     vips = ( {{ address = "203.0.113.10/24"; interface = "lo"; }} );
  }}
);
"""


@pytest.fixture
def confdir():
    with tempfile.TemporaryDirectory(prefix="dd-daemon-") as d:
        key = os.path.join(d, "hb.key")
        with open(key, "w") as f:
            f.write("0123456789abcdef0123456789abcdef\n")
        os.chmod(key, 0o600)
        yield d


def write_conf(d, prio=100, text=None):
    path = os.path.join(d, "directord.conf")
    with open(path, "w") as f:
        f.write(text if text is not None else CONF.format(dir=d, prio=prio))
    return path


def run(*args):
    return subprocess.run([DIRECTORD, *args], capture_output=True, text=True, timeout=30)


def test_check_ok(confdir):
    r = run("-t", "-f", write_conf(confdir))
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == "configuration OK"


def test_check_reports_every_error_with_line(confdir):
    bad = CONF.format(dir=confdir, prio=100).replace(
        'priority = 100;', 'priority = 100; prority = 3;').replace(
        'interface = "lo";', '')
    path = write_conf(confdir, text=bad)
    r = run("-t", "-f", path)
    assert r.returncode == 1
    lines = r.stderr.splitlines()
    assert lines[-1] == f"{path}: 2 errors", r.stderr
    lines = lines[:-1]
    assert any("prority" in l for l in lines), r.stderr
    assert any("interface" in l for l in lines), r.stderr
    for l in lines:
        assert l.split(":")[1].isdigit(), l  # FILE:LINE: message


def test_print_round_trips(confdir):
    r = run("-t", "-p", "-f", write_conf(confdir))
    assert r.returncode == 0, r.stderr
    again = write_conf(confdir, text=r.stdout)
    r2 = run("-t", "-p", "-f", again)
    assert r2.returncode == 0, r2.stderr
    assert r2.stdout == r.stdout


def test_usage_errors():
    assert run("-p").returncode == 2
    assert run("-x").returncode == 2
    assert run("-f", "/nonexistent/directord.conf", "-t").returncode == 1


class Daemon:
    def __init__(self, conf, *extra):
        self.log = tempfile.TemporaryFile(mode="w+")
        # A private network namespace: the daemon may add its VIPs, and
        # they must never land on the host. unshare execs, so the pid stays.
        self.p = subprocess.Popen(["unshare", "--net", DIRECTORD, "-n", "-f", conf, *extra],
                                  stdout=self.log, stderr=subprocess.STDOUT)

    def output(self):
        self.log.seek(0)
        return self.log.read()

    def stop(self):
        if self.p.poll() is None:
            self.p.send_signal(signal.SIGTERM)
            self.p.wait(timeout=15)
        return self.p.returncode


def test_lifecycle_pidfile_reload_term(confdir):
    conf = write_conf(confdir)
    pidfile = os.path.join(confdir, "directord.pid")
    d = Daemon(conf)
    try:
        wait_for(lambda: "started" in d.output(), what="start line")
        pid = int(wait_for(lambda: os.path.exists(pidfile) and open(pidfile).read().strip(),
                           what="pid file"))
        assert pid == d.p.pid

        # A second instance with the same pid file refuses to start.
        r = subprocess.run(["unshare", "--net", DIRECTORD, "-n", "-f", conf], capture_output=True,
                           text=True, timeout=15)
        assert r.returncode == 1
        assert "another directord" in r.stderr

        # A bad reload keeps the running config and says why.
        write_conf(confdir, text=CONF.format(dir=confdir, prio=100).replace("priority", "priorty"))
        d.p.send_signal(signal.SIGHUP)
        wait_for(lambda: "reload rejected" in d.output(), what="reload rejected")
        assert "priorty" in d.output()
        assert d.p.poll() is None

        # A good one is applied.
        write_conf(confdir, prio=120)
        d.p.send_signal(signal.SIGHUP)
        wait_for(lambda: "reload applied" in d.output(), what="reload applied")
        assert d.p.poll() is None
    finally:
        rc = d.stop()
    assert rc == 0, d.output()
    assert not os.path.exists(pidfile)
