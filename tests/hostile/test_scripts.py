# SPDX-License-Identifier: GPL-2.0-or-later
"""Notify commands (and exec checks, tests/unit/test_spawn) must not hand
root to whoever can edit a script, nor the daemon's environment to the
script: they run as scripts.user (default nobody/nogroup) with PATH and
the DIRECTORD_* variables only, and a script another user can change is
refused at load (directord -t, file:line) and, if it changes later, when
it would run.

Each case starts the real daemon, standalone (no peer, so its cluster goes
active at once and the notify command runs; on SIGTERM it runs again with
role "stopped"), in a network namespace of its own."""
import os
import signal
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
pid_file = "{top}/directord.pid";
control = {{ socket = "{top}/directord.sock"; }};
logging = {{ notify = "{script} --from-directord"; }};
{scripts}
heartbeat = {{ state_file = "{top}/generation"; }};
clusters = ( {{ name = "web"; vips = ( {{ address = "203.0.113.10/24"; interface = "lo"; }} ); }} );
"""

# Appends who it ran as and the environment it was started with (its own
# /proc environ; the shell adds PWD to what it passes on), in the blocks
# nslab.notify_records() reads. The ids go in lower case: no variable
# directord passes is spelled so.
SCRIPT = """#!/bin/sh
{{ echo "uid=$(id -u)"; echo "gid=$(id -g)"; echo "groups=$(id -G)"
   tr '\\0' '\\n' < /proc/$$/environ; echo ---; }} >> {out}
"""


@pytest.fixture
def lab():
    with tempfile.TemporaryDirectory(prefix="dd-scripts-") as top:
        os.chmod(top, 0o755)  # nobody must reach the output directory
        out = os.path.join(top, "out")
        os.mkdir(out, 0o755)
        os.chown(out, NOBODY, NOBODY)
        bindir = os.path.join(top, "bin")
        os.mkdir(bindir, 0o755)
        script = os.path.join(bindir, "notify.sh")
        with open(script, "w") as f:
            f.write(SCRIPT.format(out=os.path.join(out, "records")))
        os.chmod(script, 0o755)
        yield top, script, os.path.join(out, "records")


def write_conf(top, script, scripts=""):
    conf = os.path.join(top, "directord.conf")
    with open(conf, "w") as f:
        f.write(CONF.format(top=top, script=script, scripts=scripts))
    return conf


def start(top, conf):
    log = open(os.path.join(top, "directord.log"), "w")
    env = dict(os.environ, DD_SECRET_TOKEN="from-the-daemon", DIRECTORD_ROLE="stale")
    p = subprocess.Popen(
        ["unshare", "-n", "sh", "-c", 'ip link set lo up && exec "$0" -n -l stderr -f "$1"',
         DIRECTORD, conf], stdout=log, stderr=subprocess.STDOUT, env=env)
    log.close()
    return p


def log_text(top):
    with open(os.path.join(top, "directord.log")) as f:
        return f.read()


def records(path):
    """One (ids, env) per run: ids [uid, gid, groups], env a dict."""
    recs = []
    for env in nslab.notify_records(path):
        recs.append(([env.pop("uid"), env.pop("gid"), env.pop("groups")], env))
    return recs


def stop(p):
    p.send_signal(signal.SIGTERM)
    try:
        return p.wait(timeout=20)
    except subprocess.TimeoutExpired:
        p.kill()
        p.wait()
        raise


def test_notify_runs_as_nobody_with_a_clean_environment(lab):
    top, script, out = lab
    p = start(top, write_conf(top, script))
    try:
        recs = nslab.wait_for(lambda: records(out), 15, "notify run")
    finally:
        assert stop(p) == 0, log_text(top)
    ids, env = recs[0]
    assert ids == [str(NOBODY), str(NOBODY), str(NOBODY)], (ids, log_text(top))
    assert env.pop("PWD", None) in (None, "/", os.getcwd())
    assert env["DIRECTORD_ROLE"] == "active" and env["DIRECTORD_CLUSTER"] == "web", env
    assert env["PATH"] == "/usr/sbin:/usr/bin:/sbin:/bin"
    assert set(env) - {"PATH"} == {"DIRECTORD_CLUSTER", "DIRECTORD_ROLE", "DIRECTORD_OLD_ROLE",
                                   "DIRECTORD_REASON", "DIRECTORD_REASON_CODE", "DIRECTORD_NODE"}, env


def test_root_only_when_asked_for(lab):
    top, script, out = lab
    p = start(top, write_conf(top, script, 'scripts = { user = "root"; };'))
    try:
        recs = nslab.wait_for(lambda: records(out), 15, "notify run")
    finally:
        assert stop(p) == 0, log_text(top)
    assert recs[0][0] == ["0", "0", "0"], recs
    assert "DD_SECRET_TOKEN" not in recs[0][1]


NOTIFY_LINE = CONF.splitlines().index('logging = {{ notify = "{script} --from-directord"; }};') + 1


def test_writable_script_refused_by_t(lab):
    top, script, out = lab
    os.chmod(script, 0o777)
    conf = write_conf(top, script)
    r = subprocess.run([DIRECTORD, "-t", "-f", conf], capture_output=True, text=True, timeout=30)
    assert r.returncode == 1, r.stdout + r.stderr
    assert (f"{conf}:{NOTIFY_LINE}: script {script} refused: {script} is writable by group or others "
            "(mode 0777)") in r.stderr, r.stderr
    os.chmod(script, 0o755)
    os.chmod(os.path.dirname(script), 0o777)
    r = subprocess.run([DIRECTORD, "-t", "-f", conf], capture_output=True, text=True, timeout=30)
    assert r.returncode == 1 and f"{os.path.dirname(script)} is writable by group or others" in r.stderr


def test_script_changed_after_start_is_refused_when_it_would_run(lab):
    top, script, out = lab
    conf = write_conf(top, script)
    p = start(top, conf)
    refused = f"script {script} refused: {script} is writable by group or others (mode 0777)"
    try:
        nslab.wait_for(lambda: records(out), 15, "notify run at start")
        # Someone makes the script writable by all: a reload is refused at
        # the notify line, and the stop, which runs it again, refuses it.
        os.chmod(script, 0o777)
        p.send_signal(signal.SIGHUP)
        nslab.wait_for(lambda: "reload rejected" in log_text(top), 15, "reload rejected")
    finally:
        assert stop(p) == 0, log_text(top)
    log = log_text(top)
    assert f"{conf}:{NOTIFY_LINE}: {refused}" in log, log
    assert len(records(out)) == 1, records(out)
    assert f"notify command: {refused}" in log, log
