# SPDX-License-Identifier: GPL-2.0-or-later
"""Files root keeps at run time must not be steered by another user: the
pid file and the heartbeat state file in a directory others can write.

Each case plants what a local user could (a symlink to a root-owned file,
a file of their own) and starts the real daemon in a network namespace of
its own; it must refuse with the reason, and the victim must be unchanged."""
import os
import subprocess
import sys
import tempfile

import pytest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lab"))
import nslab  # noqa: E402  (tests/lab/nslab.py, the lab library)

DIRECTORD = nslab.directord_bin()
NOBODY = 65534

CONF = """
node = "lb1";
pid_file = "{pid}";
control = {{ socket = "{safe}/directord.sock"; }};
heartbeat = {{ key_file = "{safe}/hb.key"; state_file = "{state}";
  peers = ( {{ name = "lb2"; links = ( {{ local = "192.0.2.1"; remote = "192.0.2.2"; }} ); }} ); }};
clusters = ( {{ name = "web"; vips = ( {{ address = "203.0.113.10/24"; interface = "lo"; }} ); }} );
"""


@pytest.fixture
def dirs():
    with tempfile.TemporaryDirectory(prefix="dd-paths-") as top:
        safe = os.path.join(top, "safe")
        shared = os.path.join(top, "shared")
        os.mkdir(safe, 0o700)
        os.mkdir(shared)
        os.chmod(shared, 0o1777)  # like /tmp
        with open(os.path.join(safe, "hb.key"), "w") as f:
            f.write("0123456789abcdef0123456789abcdef\n")
        os.chmod(os.path.join(safe, "hb.key"), 0o600)
        victim = os.path.join(safe, "victim")
        with open(victim, "w") as f:
            f.write("precious\n")
        yield safe, shared, victim


def plant_symlink(path, target):
    os.symlink(target, path)
    os.lchown(path, NOBODY, NOBODY)


def start(safe, pid, state):
    conf = os.path.join(safe, "directord.conf")
    with open(conf, "w") as f:
        f.write(CONF.format(pid=pid, safe=safe, state=state))
    return subprocess.run(
        ["unshare", "-n", "sh", "-c", 'ip link set lo up && ip addr add 192.0.2.1/32 dev lo && '
         'exec "$0" -n -l stderr -f "$1"', DIRECTORD, conf],
        capture_output=True, text=True, timeout=30)


def test_pid_file_symlink_in_shared_dir_is_refused(dirs):
    safe, shared, victim = dirs
    pid = os.path.join(shared, "directord.pid")
    plant_symlink(pid, victim)
    r = start(safe, pid, os.path.join(safe, "generation"))
    assert r.returncode == 1, r.stderr
    assert f"cannot use pid file: {pid} is a symbolic link: refusing to use it" in r.stderr
    assert open(victim).read() == "precious\n"


def test_pid_file_of_another_user_is_refused(dirs):
    safe, shared, victim = dirs
    pid = os.path.join(shared, "directord.pid")
    with open(pid, "w") as f:
        f.write("theirs\n")
    os.chown(pid, NOBODY, NOBODY)
    r = start(safe, pid, os.path.join(safe, "generation"))
    assert r.returncode == 1, r.stderr
    assert f"cannot use pid file: {pid} is owned by another user" in r.stderr
    assert open(pid).read() == "theirs\n"


def test_world_writable_dir_that_is_not_sticky_is_refused(dirs):
    safe, shared, victim = dirs
    os.chmod(shared, 0o777)
    r = start(safe, os.path.join(shared, "directord.pid"), os.path.join(safe, "generation"))
    assert r.returncode == 1, r.stderr
    assert "can be written by other users and is not sticky" in r.stderr


def test_state_file_symlink_is_refused(dirs):
    safe, shared, victim = dirs
    state = os.path.join(shared, "generation")
    plant_symlink(state, victim)
    r = start(safe, os.path.join(safe, "directord.pid"), state)
    assert r.returncode == 1, r.stderr
    assert "symbolic link" in r.stderr and "state file" in r.stderr, r.stderr
    assert open(victim).read() == "precious\n"


def test_own_files_in_a_sticky_dir_are_fine(dirs):
    """The shared directory itself is allowed (like /tmp): the daemon starts,
    and its state file there is an ordinary file of root's."""
    safe, shared, victim = dirs
    state = os.path.join(shared, "generation")
    conf = os.path.join(safe, "directord.conf")
    with open(conf, "w") as f:
        f.write(CONF.format(pid=os.path.join(shared, "directord.pid"), safe=safe, state=state))
    p = subprocess.Popen(
        ["unshare", "-n", "sh", "-c", 'ip link set lo up && ip addr add 192.0.2.1/32 dev lo && '
         'exec "$0" -n -l stderr -f "$1"', DIRECTORD, conf],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    try:
        nslab.wait_for(lambda: os.path.exists(state), 10, "the state file")
        st = os.lstat(state)
        assert st.st_uid == 0 and oct(st.st_mode & 0o777) == "0o600"
    finally:
        nslab.terminate(p)
