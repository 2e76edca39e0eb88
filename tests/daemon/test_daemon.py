# SPDX-License-Identifier: GPL-2.0-or-later
"""The daemon's own command line and life cycle: -t, -t -p, pid file,
single instance, SIGHUP reload (good and bad), SIGTERM; --genkey, --help,
--version; every shipped example passes -t where it lies.

Runs the real binary with a real config in a temp dir; needs no network."""
import glob
import os
import re
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
    assert run("--force").returncode == 2
    assert run("--genkey").returncode == 2


def test_state_dir_missing_is_created_or_refused(confdir):
    """-t refuses a state directory that cannot be had (a part of its path
    is a file); one that is only missing is made at start."""
    # Only a director with a peer writes the state file, so give it one.
    text = CONF.format(dir=confdir, prio=100).replace(
        f'state_file = "{confdir}/generation"',
        f'state_file = "{confdir}/no/deeper/generation"; peers = ( {{ name = "lb2"; '
        'links = ( { local = "192.0.2.1"; remote = "192.0.2.2"; } ); } )')
    path = write_conf(confdir, text=text)
    with open(os.path.join(confdir, "no"), "w") as f:
        f.write("a file where a directory should be\n")
    r = run("-t", "-f", path)
    assert r.returncode == 1
    assert re.search(rf"^{re.escape(path)}:\d+: state_file {re.escape(confdir)}/no/deeper/generation: "
                     rf"directory {re.escape(confdir)}/no/deeper does not exist and cannot be made",
                     r.stderr, re.M), r.stderr
    os.unlink(os.path.join(confdir, "no"))
    r = run("-t", "-f", path)
    assert r.returncode == 0, r.stderr
    p = subprocess.Popen(["unshare", "-n", "sh", "-c", 'ip link set lo up && exec "$0" -n -l stderr -f "$1"',
                          DIRECTORD, path], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                         start_new_session=True)
    try:
        wait_for(lambda: os.path.exists(os.path.join(confdir, "no", "deeper", "generation")), 10,
                 "the state file in the directory the daemon made")
        assert oct(os.stat(os.path.join(confdir, "no", "deeper")).st_mode & 0o777) == "0o750"
    finally:
        os.killpg(p.pid, signal.SIGTERM)
        p.wait(timeout=15)


EXAMPLES = sorted(glob.glob(os.path.join(os.environ.get("DD_SRCDIR", "."), "conf/examples/*.conf")))


@pytest.mark.parametrize("example", EXAMPLES, ids=os.path.basename)
def test_example_passes_check_in_place(example):
    """In place, with the public example key beside it, on any machine."""
    r = run("-t", "-f", example)
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == "configuration OK"


def test_examples_found():
    assert len(EXAMPLES) >= 6


DIRECTORCTL = os.path.join(os.path.dirname(DIRECTORD), "directorctl")


@pytest.mark.parametrize("prog", [DIRECTORD, DIRECTORCTL])
def test_help_and_version(prog):
    for flag in ("-h", "--help"):
        r = subprocess.run([prog, flag], capture_output=True, text=True, timeout=30)
        assert r.returncode == 0 and r.stdout.startswith("usage: "), (flag, r.stderr)
        assert "--version" in r.stdout
    for flag in ("-V", "--version"):
        r = subprocess.run([prog, flag], capture_output=True, text=True, timeout=30)
        assert r.returncode == 0 and "directord 0" in r.stdout, (flag, r.stdout, r.stderr)


def test_genkey_mode_refusal_force_and_use(confdir):
    key = os.path.join(confdir, "new.key")
    os.umask(0o022)
    r = run("--genkey", key)
    assert r.returncode == 0, r.stderr
    assert "PEER" in r.stdout and key in r.stdout  # says how to copy it over
    st = os.stat(key)
    assert st.st_mode & 0o777 == 0o600
    first = open(key).read()
    assert len(first) == 65 and first.endswith("\n")
    int(first, 16)  # hex: survives copy and paste between the directors

    r = run("--genkey", key)
    assert r.returncode == 1 and "--force" in r.stderr
    assert open(key).read() == first

    # --force replaces it and never inherits a loose mode from the old file.
    os.chmod(key, 0o644)
    r = run("--genkey", key, "--force")
    assert r.returncode == 0, r.stderr
    assert os.stat(key).st_mode & 0o777 == 0o600
    assert open(key).read() != first
    assert sorted(os.listdir(confdir)) == ["hb.key", "new.key"]

    # A symlink in the way is refused, never followed.
    link = os.path.join(confdir, "link.key")
    os.symlink(os.path.join(confdir, "elsewhere"), link)
    assert run("--genkey", link).returncode == 1
    assert not os.path.exists(os.path.join(confdir, "elsewhere"))

    conf = write_conf(confdir, text=CONF.format(dir=confdir, prio=100).replace("hb.key", "new.key"))
    r = run("-t", "-f", conf)
    assert r.returncode == 0, r.stderr


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
