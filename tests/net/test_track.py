# SPDX-License-Identifier: GPL-2.0-or-later
"""Track scripts (keepalived's vrrp_script / track_script) and the notify
commands' keepalived arguments, with two real directord processes in
network namespaces on the host kernel (tests/net/hbnet.py).

Covers: a failing script of weight 0 puts the cluster in fault and hands it
to the peer, recovery brings it back (with failback); a negative weight
lowers the priority the keepalives carry, so the peer takes over by
failback and gives it back; a script that hangs is killed at its timeout
with its process group and counts as a failure; runs never overlap; a
script runs as its configured user; the cluster's notify gets exactly
keepalived's $1..$4 and the DIRECTORD_* environment, and notify_active /
notify_standby / notify_fault / notify_stop run on their roles.

Needs root. Every wait polls with a deadline.
"""
import json
import os
import pwd
import stat
import sys

import pytest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import hbnet  # noqa: E402
from hbnet import ctl, hold, roles, wait_for  # noqa: E402

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="needs root for namespaces")


@pytest.fixture
def lab():
    lab = hbnet.Lab()
    yield lab
    lab.close()


def flag(lab, node):
    return os.path.join(lab.dir, f"{node}.ok")


def set_flag(lab, node, ok):
    path = flag(lab, node)
    if ok:
        open(path, "w").close()
    elif os.path.exists(path):
        os.unlink(path)


def track(lab, node, weight=0, command=None, interval=500, timeout=400, user=""):
    """The top-level track_scripts of `node`: one script "chk", OK while
    the node's flag file exists. The timeout is generous: a loaded host
    (and ASan) can take tens of ms to start a shell."""
    command = command or f"test -e {flag(lab, node)}"
    return (f'track_scripts = ( {{ name = "chk"; command = "{command}"; interval_ms = {interval}; '
            f'timeout_ms = {timeout}; rise = 1; fall = 1; weight = {weight}; user = "{user}"; }} );')


def write_script(path, text):
    with open(path, "w") as f:
        f.write("#!/bin/sh\n" + text)
    os.chmod(path, 0o755)


def status(lab, node):
    r = ctl(lab, node, "--json", "status")
    assert r.returncode == 0, r.stderr
    return json.loads(r.stdout)


def cluster(lab, node):
    return status(lab, node)["clusters"][0]


def start_pair(lab, w1=0, w2=0, extra="failback = true; track_scripts = [ \"chk\" ];", **kw):
    set_flag(lab, "lb1", True)
    set_flag(lab, "lb2", True)
    lab.start("lb1", 150, extra=extra, top=track(lab, "lb1", w1), **kw)
    wait_for(lambda: lab.has_vip("lb1"), 10, "lb1 to become active")
    lab.start("lb2", 100, extra=extra, top=track(lab, "lb2", w2), **kw)
    wait_for(lambda: ("init", "standby", "peer lb1 is active") in roles(lab.log("lb2")), 10,
             "lb2 to become standby")


def test_failing_script_faults_and_hands_over(lab):
    start_pair(lab)
    set_flag(lab, "lb1", False)
    wait_for(lambda: ("active", "fault", "track script chk failed: exit status 1") in roles(lab.log("lb1")),
             10, "lb1 in fault for its track script")
    wait_for(lambda: lab.has_vip("lb2"), 10, "lb2 to take the VIPs")
    assert not lab.has_vip("lb1")
    wait_for(lambda: ("standby", "active", "peer lb1 is in fault") in roles(lab.log("lb2")), 10,
             "lb2's takeover line")
    # The reason code says it was a track script.
    rec = wait_for(lambda: [r for r in lab.notify_records("lb1") if r.get("DIRECTORD_ROLE") == "fault"],
                   10, "lb1's notify for the fault")[0]
    assert rec["DIRECTORD_REASON_CODE"] == "track-script"
    assert rec["DIRECTORD_REASON"] == "track script chk failed: exit status 1"
    assert cluster(lab, "lb1")["why"] == "track-script"

    # Recovery: fault cleared, and with failback the cluster comes back.
    set_flag(lab, "lb1", True)
    wait_for(lambda: ("fault", "standby", "fault cleared") in roles(lab.log("lb1")), 10, "fault cleared")
    wait_for(lambda: lab.has_vip("lb1") and not lab.has_vip("lb2"), 10, "the VIPs back on lb1")


def test_negative_weight_lowers_priority(lab):
    start_pair(lab, w1=-60)
    assert cluster(lab, "lb1")["effective_priority"] == 150
    set_flag(lab, "lb1", False)
    wait_for(lambda: lab.has_vip("lb2") and not lab.has_vip("lb1"), 10, "lb2 to take over by failback")
    wait_for(lambda: "effective priority 150 -> 90" in lab.log("lb1"), 10, "lb1's priority line")
    changes = wait_for(lambda: (lambda c: c if any(n == "standby" for _, n, _ in c) else None)(
        roles(lab.log("lb1"))), 10, "lb1's handover line")
    assert not any(new == "fault" for _, new, _ in changes), changes
    assert any(old == "active" and new == "standby" and "failback to peer lb2 (priority 100, ours 90)" in why
               for old, new, why in changes), changes
    # The keepalives carry the effective priority.
    c2 = wait_for(lambda: (lambda c: c if c.get("peer_priority") == 90 else None)(cluster(lab, "lb2")), 10,
                  "lb2 to see priority 90")
    assert c2["role"] == "active"
    assert cluster(lab, "lb1")["effective_priority"] == 90

    set_flag(lab, "lb1", True)
    wait_for(lambda: lab.has_vip("lb1") and not lab.has_vip("lb2"), 10, "the VIPs back on lb1")
    wait_for(lambda: "effective priority 90 -> 150" in lab.log("lb1"), 10, "lb1's priority line")


def test_hanging_script_is_killed_and_never_overlaps(lab):
    runs = os.path.join(lab.dir, "runs")
    hang = os.path.join(lab.dir, "hang.sh")
    # Each run checks that the previous one is gone (a zombie waiting for
    # its reaper is gone), then leaves a child in its process group and
    # hangs.
    write_script(hang, f"""last=$(cat {runs}.last 2>/dev/null)
state=$(awk '{{print $3}}' /proc/$last/stat 2>/dev/null)
if [ -n "$last" ] && [ -n "$state" ] && [ "$state" != Z ]; then echo "OVERLAP $last $state" >> {runs}; fi
echo $$ > {runs}.last
sleep 60 &
echo "$$ $!" >> {runs}
wait
""")
    lab.start("lb1", 150, standalone=True, extra='track_scripts = [ "chk" ];',
              top=track(lab, "lb1", command=hang, interval=600, timeout=300))
    wait_for(lambda: ("init", "fault", "track script chk failed: timeout after 300 ms") in roles(lab.log("lb1")),
             10, "fault from the hanging script")
    assert not lab.has_vip("lb1")

    def lines():
        with open(runs) as f:
            return f.read().splitlines()
    wait_for(lambda: len(lines()) >= 4, 20, "four runs")
    assert not [ln for ln in lines() if ln.startswith("OVERLAP")], lines()
    # Every finished run's group is gone: the shell and its sleep child.
    done = [ln.split() for ln in lines()[:-1]]

    def alive(pid):
        try:
            with open(f"/proc/{pid}/stat") as f:
                return f.read().split()[2] != "Z"
        except FileNotFoundError:
            return False
    wait_for(lambda: not any(alive(p) for pair in done for p in pair), 5, "killed process groups")
    st = wait_for(lambda: [t for t in status(lab, "lb1").get("track_scripts", []) if t["name"] == "chk"],
                  5, "chk in status")[0]
    assert st["state"] == "failed"
    assert st["timeouts"] >= 3
    assert lab.stop("lb1") == 0


def test_script_runs_as_its_user(lab):
    nobody = pwd.getpwnam("nobody")
    # The script user must be able to reach the script: a root-owned
    # directory chain nobody can traverse but not write.
    os.chmod(lab.dir, 0o755)
    sdir = os.path.join(lab.dir, "scripts")
    out = os.path.join(lab.dir, "out")
    os.mkdir(sdir, 0o755)
    os.mkdir(out, 0o755)
    os.chown(out, nobody.pw_uid, nobody.pw_gid)
    chk = os.path.join(sdir, "whoami.sh")
    write_script(chk, f"echo \"$(id -u) $(id -g) $(id -G)\" > {out}/id; exit 0\n")
    assert not os.stat(chk).st_mode & (stat.S_IWGRP | stat.S_IWOTH)
    lab.start("lb1", 150, standalone=True, extra='track_scripts = [ "chk" ];',
              top=track(lab, "lb1", command=chk, user="nobody"))
    wait_for(lambda: lab.has_vip("lb1"), 10, "active once the script said OK")
    got = wait_for(lambda: open(os.path.join(out, "id")).read().split(), 10, "the script's ids")
    assert got == [str(nobody.pw_uid), str(nobody.pw_gid), str(nobody.pw_gid)], got


RECORDER = """l="$#"
for a in "$@"; do l="$l|$a"; done
echo "{tag} $l $DIRECTORD_CLUSTER/$DIRECTORD_ROLE/$DIRECTORD_OLD_ROLE/$DIRECTORD_REASON_CODE/$DIRECTORD_NODE" >> {out}
"""


def test_notify_gets_keepalived_arguments(lab):
    out = os.path.join(lab.dir, "lb2.args")
    rec = os.path.join(lab.dir, "rec.sh")
    write_script(rec, RECORDER.format(tag="notify", out=out))
    for tag in ("active", "standby", "fault", "stop"):
        write_script(os.path.join(lab.dir, f"{tag}.sh"), RECORDER.format(tag=tag, out=out))
    own = (f'notify = "{rec}"; ' +
           " ".join(f'notify_{t} = "{os.path.join(lab.dir, t)}.sh";' for t in ("active", "standby", "fault", "stop")))

    def records():
        try:
            with open(out) as f:
                return f.read().splitlines()
        except FileNotFoundError:
            return []
    set_flag(lab, "lb2", True)
    lab.start("lb1", 150)
    wait_for(lambda: lab.has_vip("lb1"), 10, "lb1 to become active")
    lab.start("lb2", 100, extra=own + ' track_scripts = [ "chk" ];', top=track(lab, "lb2"))
    wait_for(lambda: len(records()) >= 2, 10, "lb2's standby notifies")
    assert sorted(records()) == sorted([
        "notify 4|INSTANCE|web|BACKUP|100 web/standby/init/peer-active/lb2",
        "standby 0 web/standby/init/peer-active/lb2"]), records()

    lab.procs["lb1"].kill()
    wait_for(lambda: len(records()) >= 4, 10, "lb2's active notifies")
    assert sorted(records()[2:]) == sorted([
        "notify 4|INSTANCE|web|MASTER|100 web/active/standby/peer-silent/lb2",
        "active 0 web/active/standby/peer-silent/lb2"]), records()

    set_flag(lab, "lb2", False)
    wait_for(lambda: len(records()) >= 6, 10, "lb2's fault notifies")
    assert sorted(records()[4:]) == sorted([
        "notify 4|INSTANCE|web|FAULT|100 web/fault/active/track-script/lb2",
        "fault 0 web/fault/active/track-script/lb2"]), records()
    set_flag(lab, "lb2", True)
    wait_for(lambda: len(records()) >= 10, 10, "lb2 back to active")
    assert lab.stop("lb2") == 0
    wait_for(lambda: len(records()) >= 12, 10, "lb2's stop notifies")
    assert sorted(records()[10:]) == sorted([
        "notify 4|INSTANCE|web|STOP|100 web/stopped/active/stopping/lb2",
        "stop 0 web/stopped/active/stopping/lb2"]), records()
    # A cluster with notify commands of its own does not run logging.notify.
    assert lab.notify_records("lb2") == []
    hold(lambda: len(records()) == 12, 0.3, "no further notify")


def test_positive_weight_raises_priority(lab):
    """weight > 0: an OK script adds it, so lb2 (100 + 60) beats lb1 (150)."""
    set_flag(lab, "lb1", True)
    set_flag(lab, "lb2", False)
    extra = "failback = true; track_scripts = [ \"chk\" ];"
    lab.start("lb1", 150, extra=extra, top=track(lab, "lb1", 0))
    wait_for(lambda: lab.has_vip("lb1"), 10, "lb1 to become active")
    lab.start("lb2", 100, extra=extra, top=track(lab, "lb2", 60))
    wait_for(lambda: ("init", "standby", "peer lb1 is active") in roles(lab.log("lb2")), 10,
             "lb2 to become standby")
    assert cluster(lab, "lb2")["effective_priority"] == 100
    set_flag(lab, "lb2", True)
    wait_for(lambda: lab.has_vip("lb2") and not lab.has_vip("lb1"), 10, "lb2 to take over at 160")
    wait_for(lambda: "effective priority 100 -> 160" in lab.log("lb2"), 10, "lb2's priority line")
    assert cluster(lab, "lb1")["peer_priority"] == 160


def test_reload_keeps_state_and_applies_changes(lab):
    """An unchanged reload changes no role; dropping the failing script
    from the cluster clears its fault."""
    set_flag(lab, "lb1", False)
    lab.start("lb1", 150, standalone=True, extra='track_scripts = [ "chk" ];', top=track(lab, "lb1"))
    wait_for(lambda: ("init", "fault", "track script chk failed: exit status 1") in roles(lab.log("lb1")),
             10, "fault from the script")
    before = len(roles(lab.log("lb1")))
    lab.procs["lb1"].signal(hbnet.signal.SIGHUP)
    wait_for(lambda: "reload applied" in lab.log("lb1"), 10, "the reload")
    hold(lambda: len(roles(lab.log("lb1"))) == before and not lab.has_vip("lb1"), 0.5,
         "no role change from an unchanged reload")
    # The same file without the cluster's track_scripts: the fault goes.
    lab.conf("lb1", 150, standalone=True, top=track(lab, "lb1"))
    lab.procs["lb1"].signal(hbnet.signal.SIGHUP)
    wait_for(lambda: ("fault", "standby", "fault cleared") in roles(lab.log("lb1")), 10,
             "the fault cleared once the script no longer counts")
    wait_for(lambda: lab.has_vip("lb1"), 10, "active")
