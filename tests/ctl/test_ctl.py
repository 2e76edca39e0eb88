# SPDX-License-Identifier: GPL-2.0-or-later
"""directorctl and the control socket, against the real daemon.

The daemon runs in a private network namespace (a config with no peers
makes a standalone director, which puts its VIPs on that namespace's lo);
its control socket lives in a temp dir, so the client runs in the host
namespace, as root or as `nobody` (setpriv). Covers every command, the
privilege rules (SO_PEERCRED, control.group via the primary and the
supplementary group), malformed requests, reload, plan, check and the
metrics listener."""
import json
import os
import re
import signal
import socket
import subprocess
import tempfile
import sys
import time

import pytest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lab"))
from nslab import daemon_dir, wait_for  # noqa: E402  (tests/lab/nslab.py, the lab library)

BUILD = os.environ.get("DD_BUILDDIR", ".")
DIRECTORD = os.environ.get("DIRECTORD", os.path.join(BUILD, "directord/directord"))
DIRECTORCTL = os.environ.get("DIRECTORCTL", os.path.join(BUILD, "directord/directorctl"))

CONF = """
node = "lb1";
pid_file = "{dir}/directord.pid";
control = {{ socket = "{dir}/ctl.sock"; group = "adm"; mode = "0666";
             metrics_listen = "127.0.0.1:9469"; }};
heartbeat = {{ key_file = "{dir}/hb.key"; state_file = "{dir}/generation"; }};
clusters = (
  {{ name = "web"; priority = {prio};
     vips = ( {{ address = "203.0.113.10/24"; interface = "lo"; }} {extra_vip} );
     {services}
  }},
  {{ name = "mail"; priority = 50;
     vips = ( {{ address = "203.0.113.25/24"; interface = "lo"; }} );
  }}
);
"""

# The running config has no services: on the host kernel (no IPVS) the
# daemon refuses to start with services. Files for check and plan have them;
# status with IPVS is tested in the guest (tests/vm/guest/test_ctl_ipvs.py).
SERVICES = """services = (
       { name = "http"; protocol = "tcp"; address = "203.0.113.10"; port = 80;
         check = { type = "none"; };
         real_servers = ( { address = "198.51.100.21"; port = 80; weight = 3; },
                          { address = "198.51.100.22"; port = 80; } ); }
     );"""

EX_OK, EX_FAILED, EX_USAGE, EX_NOCONN, EX_DENIED, EX_UNAVAIL = 0, 1, 2, 3, 4, 5


def conf_text(d, prio=100, extra_vip="", services=""):
    return CONF.format(dir=d, prio=prio, extra_vip=extra_vip, services=services)


def write_conf(d, prio=100, extra_vip="", text=None, name="directord.conf", services=""):
    path = os.path.join(d, name)
    with open(path, "w") as f:
        f.write(text if text is not None else conf_text(d, prio, extra_vip, services))
    return path


class Daemon:
    def __init__(self, d, conf):
        self.dir = d
        self.sock = os.path.join(d, "ctl.sock")
        self.log = tempfile.TemporaryFile(mode="w+")
        # lo must be up for the metrics listener on 127.0.0.1; exec keeps
        # the pid, so signals and nsenter reach the daemon itself.
        self.p = subprocess.Popen(
            ["unshare", "--net", "sh", "-c", 'ip link set lo up && exec "$0" -n -f "$1"',
             DIRECTORD, conf], stdout=self.log, stderr=subprocess.STDOUT)
        wait_for(lambda: self.p.poll() is not None or self.ctl("version").returncode == 0,
                 what="control socket")
        assert self.p.poll() is None, self.output()

    def output(self):
        self.log.seek(0)
        return self.log.read()

    def ctl(self, *args, user=None, groups=None, timeout=30):
        cmd = [DIRECTORCTL, "-s", self.sock, *args]
        if user:
            gid = groups[0] if groups else "nogroup"
            pre = ["setpriv", f"--reuid={user}", f"--regid={gid}"]
            pre += [f"--groups={','.join(groups[1:])}"] if groups and len(groups) > 1 else ["--clear-groups"]
            cmd = pre + cmd
        return subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)

    def ctl_json(self, *args, **kw):
        r = self.ctl(*args, "--json", **kw)
        return r, json.loads(r.stdout)

    def raw(self, data, shut=True, timeout=10):
        """Sends raw bytes; returns (status word, body)."""
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s.settimeout(timeout)
        s.connect(self.sock)
        s.sendall(data)
        if shut:
            s.shutdown(socket.SHUT_WR)
        out = b""
        while True:
            b = s.recv(65536)
            if not b:
                break
            out += b
        s.close()
        word, _, body = out.decode(errors="replace").partition("\n")
        return word, body

    def http(self, *curl_args):
        return subprocess.run(["nsenter", "-t", str(self.p.pid), "-n", "curl", "-s", "-m", "10",
                               *curl_args], capture_output=True, text=True, timeout=30)

    def stop(self):
        if self.p.poll() is None:
            self.p.send_signal(signal.SIGTERM)
            self.p.wait(timeout=15)
        return self.p.returncode


@pytest.fixture
def confdir():
    with daemon_dir("dd-ctl-") as d:  # nobody must reach the socket
        yield d


@pytest.fixture
def daemon(confdir):
    d = Daemon(confdir, write_conf(confdir))
    yield d
    rc = d.stop()
    assert rc == 0, d.output()
    assert not os.path.exists(d.sock), "control socket left behind"


def test_version(daemon):
    r = daemon.ctl("version")
    assert r.returncode == EX_OK, r.stderr
    assert f"pid {daemon.p.pid}" in r.stdout
    r, j = daemon.ctl_json("version")
    assert j["pid"] == daemon.p.pid and j["privileged"] is True


def test_status_text_and_json(daemon):
    r = daemon.ctl("status")
    assert r.returncode == EX_OK, r.stderr
    assert "cluster web" in r.stdout and "cluster mail" in r.stdout
    r, j = daemon.ctl_json("status")
    assert r.returncode == EX_OK
    assert j["node"] == "lb1" and j["pid"] == daemon.p.pid
    assert [c["name"] for c in j["clusters"]] == ["web", "mail"]
    web = j["clusters"][0]
    assert web["priority"] == 100
    assert web["vips"] == [{"address": "203.0.113.10", "prefix": 24, "interface": "lo"}]
    assert web["services"] == []
    for key in ("config", "available", "peer", "uptime_ms", "version"):
        assert key in j
    # The daemon sends status compact; directorctl indents it like every
    # other JSON answer, and both parse to the same document.
    assert r.stdout.startswith('{\n  "node": "lb1",\n  "version": '), r.stdout[:80]
    w, body = daemon.raw(b"status --json\n")
    assert w == "ok" and "\n" not in body.strip()
    raw = json.loads(body)
    assert [c["name"] for c in raw["clusters"]] == ["web", "mail"] and raw["node"] == "lb1"


def test_status_one_cluster(daemon):
    r, j = daemon.ctl_json("status", "mail")
    assert r.returncode == EX_OK
    assert [c["name"] for c in j["clusters"]] == ["mail"]
    r = daemon.ctl("status", "nosuch")
    assert r.returncode == EX_FAILED
    assert "no cluster named 'nosuch'" in r.stderr
    r, j = daemon.ctl_json("status", "nosuch")
    assert r.returncode == EX_FAILED and j["error"] == "failed"


def test_status_allowed_to_anyone_who_can_connect(daemon):
    r = daemon.ctl("status", user="nobody")
    assert r.returncode == EX_OK, r.stderr
    r, j = daemon.ctl_json("version", user="nobody")
    assert j["privileged"] is False


@pytest.mark.parametrize("args", [["reload"], ["takeover", "web"], ["release", "web"],
                                  ["drain", "198.51.100.21"], ["enable", "http", "198.51.100.21:80"],
                                  ["check", "/etc/shadow"], ["plan", "/etc/shadow"]])
def test_unprivileged_peer_cannot_change(daemon, args):
    before = daemon.ctl_json("status")[1]["config"]["reloads"]
    r = daemon.ctl(*args, user="nobody")
    assert r.returncode == EX_DENIED, (r.stdout, r.stderr)
    assert "permission denied" in r.stderr
    assert "root:" not in r.stdout + r.stderr  # nothing of the file leaks
    r, j = daemon.ctl_json(*args, user="nobody")
    assert r.returncode == EX_DENIED and j["error"] == "denied"
    assert daemon.ctl_json("status")[1]["config"]["reloads"] == before
    assert "refused to uid 65534" in daemon.output()


def test_control_group_may_change(daemon):
    # adm as the primary group (SO_PEERCRED's gid) ...
    r = daemon.ctl("reload", user="nobody", groups=["adm"])
    assert r.returncode == EX_OK, r.stderr
    # ... and as a supplementary group only (SO_PEERGROUPS).
    r = daemon.ctl("reload", user="nobody", groups=["nogroup", "adm"])
    assert r.returncode == EX_OK, r.stderr
    r, j = daemon.ctl_json("version", user="nobody", groups=["nogroup", "adm"])
    assert j["privileged"] is True
    assert daemon.ctl_json("status")[1]["config"]["reloads"] == 2


def test_socket_mode_and_group(daemon):
    st = os.stat(daemon.sock)
    assert st.st_mode & 0o7777 == 0o666
    assert st.st_gid == 4  # adm


def test_socket_mode_keeps_out_others(confdir):
    conf = write_conf(confdir, text=conf_text(confdir, 100)
                      .replace('mode = "0666"', 'mode = "0660"'))
    d = Daemon(confdir, conf)
    try:
        assert os.stat(d.sock).st_mode & 0o7777 == 0o660
        r = d.ctl("status", user="nobody")
        assert r.returncode == EX_DENIED and "Permission denied" in r.stderr, r
        assert "is directord running" not in r.stderr
        r = d.ctl("status", user="nobody", groups=["adm"])
        assert r.returncode == EX_OK, r.stderr
    finally:
        assert d.stop() == 0


def test_malformed_requests(daemon):
    assert daemon.raw(b"frobnicate\n") == ("usage", "unknown command 'frobnicate'\n")
    w, body = daemon.raw(b"\n")
    assert w == "usage" and "empty request" in body
    w, body = daemon.raw(b"status\x00\xff\x01garbage\n")
    assert w == "usage" and "control byte" in body
    w, body = daemon.raw(b"\xde\xad\xbe\xef" * 8 + b"\n")
    assert w == "usage" and "unknown command" in body
    w, body = daemon.raw(b"status --frob\n")
    assert w == "usage" and "unknown option" in body
    w, body = daemon.raw(b"status a b\n")
    assert w == "usage" and "usage: status [CLUSTER]" in body
    w, body = daemon.raw(b"takeover\n")
    assert w == "usage" and "usage: takeover CLUSTER" in body
    w, body = daemon.raw(b"check " + b" x" * 20 + b"\n")
    assert w == "usage" and "more than 8 arguments" in body
    w, body = daemon.raw(b"metrics --json\n")
    assert w == "usage" and "no --json" in body
    w, body = daemon.raw(b"status")  # EOF before the newline
    assert w == "usage" and "no newline" in body
    w, body = daemon.raw(b"frobnicate --json\n")
    assert w == "usage" and json.loads(body) == {"error": "usage",
                                                 "message": "unknown command 'frobnicate'"}
    # The daemon is unharmed and counted them.
    assert daemon.ctl("status").returncode == EX_OK
    m = daemon.ctl("metrics").stdout
    assert int(re.search(r'directord_control_rejected_total\{reason="malformed"\} (\d+)', m)[1]) >= 10


def test_oversized_request(daemon):
    w, body = daemon.raw(b"status " + b"x" * 10000 + b"\n")
    assert w == "usage" and "longer than 4096 bytes" in body
    # Without a newline and without closing: the limit still ends it.
    w, body = daemon.raw(b"y" * 100000, shut=False)
    assert w == "usage" and "longer than 4096 bytes" in body
    # Exactly at the limit is fine.
    line = b"status " + b"z" * (4096 - len(b"status ") - 1) + b"\n"
    assert len(line) == 4096
    w, body = daemon.raw(line)
    assert w == "failed" and body.startswith("no cluster named 'zzz"), (w, body[:80])
    m = daemon.ctl("metrics").stdout
    assert re.search(r'directord_control_rejected_total\{reason="too_long"\} 2\b', m), m


def test_silent_client_is_timed_out(daemon):
    t0 = time.monotonic()
    w, body = daemon.raw(b"stat", shut=False, timeout=20)
    assert w == "usage" and "no complete line" in body
    assert time.monotonic() - t0 < 15
    # Meanwhile and afterwards the daemon serves others.
    assert daemon.ctl("status").returncode == EX_OK


def test_many_idle_clients_do_not_block(daemon):
    socks = []
    try:
        for _ in range(40):
            s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            s.connect(daemon.sock)
            socks.append(s)
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s.settimeout(10)
        s.connect(daemon.sock)
        assert s.recv(100).startswith(b"busy\n")
        s.close()
    finally:
        for s in socks:
            s.close()
    wait_for(lambda: daemon.ctl("status").returncode == EX_OK, what="server free again")


def test_parts_not_running_say_so(daemon):
    """Commands whose part is not in this build or not running (no IPVS on
    the host kernel) answer 'unavailable' with the reason, never fake data."""
    for args, why in ((["drain", "198.51.100.21"], "drain: the IPVS forwarding plane is not running"),
                      (["enable", "http", "198.51.100.21:80"],
                       "enable: the IPVS forwarding plane is not running")):
        r = daemon.ctl(*args)
        assert r.returncode == EX_UNAVAIL, (args, r.stdout, r.stderr)
        assert why in r.stderr, r.stderr
    r, j = daemon.ctl_json("status")
    assert j["available"]["forwarding"] is False
    r, j = daemon.ctl_json("plan")
    assert j["ipvs"] is None
    assert "ipvs: the forwarding plane is not running" in daemon.ctl("plan").stdout


def test_standalone_failover(daemon):
    """Without a peer the failover engine still runs: every cluster active
    with its VIPs, no peer in the status, nobody to hand over to."""
    wait_for(lambda: all(c["role"] == "active" for c in daemon.ctl_json("status")[1]["clusters"]),
             what="clusters active")
    r, j = daemon.ctl_json("status")
    assert j["available"]["failover"] is True and j["peer"] is None
    assert [(c["role"], c["vips_up"], c["peer_role"]) for c in j["clusters"]] == [("active", True, None)] * 2
    text = daemon.ctl("status").stdout
    assert "peer: none configured" in text and "cluster web: active for " in text, text
    assert re.search(r"cluster web: active for .*, priority 100; no peer$", text, re.M), text
    addrs = subprocess.run(["nsenter", "-t", str(daemon.p.pid), "-n", "ip", "-o", "addr", "show", "dev", "lo"],
                           capture_output=True, text=True).stdout
    assert "203.0.113.10/24" in addrs and "203.0.113.25/24" in addrs, addrs
    r = daemon.ctl("release", "web")
    assert r.returncode == EX_FAILED and "cluster web has no peer to hand over to" in r.stderr, r.stderr
    r = daemon.ctl("takeover", "web")
    assert r.returncode == EX_FAILED and "cluster web is already active" in r.stderr, r.stderr
    m = daemon.ctl("metrics").stdout
    assert 'directord_cluster_vips_up{cluster="web"} 1' in m, m
    assert not re.search(r"^directord_peer_up\{", m, re.M), m
    assert "failover: cluster web: init -> active: no peer configured" in daemon.output()


def test_reload_good_and_bad(daemon, confdir):
    write_conf(confdir, prio=120)
    r = daemon.ctl("reload")
    assert r.returncode == EX_OK, r.stderr
    r, j = daemon.ctl_json("status", "web")
    assert j["clusters"][0]["priority"] == 120 and j["config"]["reloads"] == 1

    write_conf(confdir, text=conf_text(confdir, 130)
               .replace("priority = 130", "priorty = 130"))
    r = daemon.ctl("reload")
    assert r.returncode == EX_FAILED
    assert "priorty" in r.stderr and "running configuration kept" in r.stderr
    r, j = daemon.ctl_json("status", "web")
    assert j["clusters"][0]["priority"] == 120
    assert j["config"]["reload_failures"] == 1
    assert "reload rejected" in daemon.output()

    # SIGHUP goes the same way and is counted the same way.
    write_conf(confdir, prio=140)
    daemon.p.send_signal(signal.SIGHUP)
    wait_for(lambda: daemon.ctl_json("status")[1]["config"]["reloads"] == 2, what="SIGHUP reload")


def test_reload_missing_file(daemon, confdir):
    # An error without a line reads "PATH: message", not "PATH:0: message".
    path = os.path.join(confdir, "directord.conf")
    os.rename(path, path + ".away")
    r = daemon.ctl("reload")
    assert r.returncode == EX_FAILED
    assert f"{path}: cannot open: No such file or directory" in r.stderr, r.stderr
    assert f"{path}:0:" not in r.stderr, r.stderr
    assert f"{path}:0:" not in daemon.output()
    r, j = daemon.ctl_json("status")
    assert j["config"]["reload_failures"] == 1


def test_check(daemon, confdir):
    r = daemon.ctl("check")
    assert r.returncode == EX_OK, r.stderr
    assert "configuration OK (2 clusters, 0 services, 0 real servers)" in r.stdout
    bad = write_conf(confdir, name="bad.conf", text=conf_text(confdir, 100)
                     .replace("priority = 100", "priority = 900"))
    r = daemon.ctl("check", bad)
    assert r.returncode == EX_FAILED
    assert re.search(r"bad\.conf:\d+: .*priority", r.stderr), r.stderr
    r, j = daemon.ctl_json("check", bad)
    assert r.returncode == EX_FAILED and j["valid"] is False
    assert j["errors"][0]["line"] > 0 and "priority" in j["errors"][0]["message"]
    # A relative path is resolved by the client, not in the daemon's "/".
    good = write_conf(confdir, name="good.conf", services=SERVICES)
    r, j = subprocess.run([DIRECTORCTL, "-s", daemon.sock, "--json", "check", "good.conf"],
                          capture_output=True, text=True, cwd=confdir), None
    assert r.returncode == EX_OK, r.stderr
    assert json.loads(r.stdout) == {"file": good, "valid": True, "clusters": 2,
                                    "services": 1, "real_servers": 2}
    r = daemon.ctl("check", os.path.join(confdir, "missing.conf"))
    assert r.returncode == EX_FAILED


def test_plan_shows_vip_changes_without_applying(daemon, confdir):
    new = write_conf(confdir, name="new.conf",
                     text=conf_text(confdir, 100, services=SERVICES,
                                    extra_vip=', { address = "203.0.113.11/24"; interface = "lo"; }')
                     .replace('address = "203.0.113.25/24"', 'address = "203.0.113.26/24"'))
    r = daemon.ctl("plan", new)
    assert r.returncode == EX_OK, r.stderr
    # Both clusters are active (no peer): the VIP changes would apply now.
    assert "vip add 203.0.113.11/24 on lo (cluster web, active: now)" in r.stdout
    assert "vip remove 203.0.113.25/24 on lo (cluster mail, active: now)" in r.stdout
    assert "vip add 203.0.113.26/24 on lo (cluster mail, active: now)" in r.stdout
    r, j = daemon.ctl_json("plan", new)
    got = sorted((v["action"], v["cluster"], v["address"]) for v in j["vips"])
    assert got == [("add", "mail", "203.0.113.26"), ("add", "web", "203.0.113.11"),
                   ("remove", "mail", "203.0.113.25")]
    # Nothing applied.
    r, j = daemon.ctl_json("status")
    assert [v["address"] for v in j["clusters"][0]["vips"]] == ["203.0.113.10"]
    assert j["config"]["reloads"] == 0
    # Without a file: the daemon's own file, unchanged: no VIP changes.
    r, j = daemon.ctl_json("plan")
    assert r.returncode == EX_OK and j["vips"] == []
    # An invalid file is reported like check does.
    bad = write_conf(confdir, name="bad.conf", text="clusters = (")
    r = daemon.ctl("plan", bad)
    assert r.returncode == EX_FAILED and "bad.conf" in r.stderr


def test_metrics_ctl_and_http(daemon):
    r = daemon.ctl("metrics")
    assert r.returncode == EX_OK, r.stderr
    text = r.stdout
    assert 'directord_build_info{version="' in text
    assert "directord_config_real_servers 0" in text
    # Every sample belongs to a family declared with HELP and TYPE.
    families = set(re.findall(r"^# TYPE (\S+) (?:counter|gauge)$", text, re.M))
    for line in text.splitlines():
        if line and not line.startswith("#"):
            assert re.match(r"^[a-z_]+(\{[^}]*\})? \S+$", line), line
            assert line.split("{")[0].split(" ")[0] in families, line
    h = daemon.http("-i", "http://127.0.0.1:9469/metrics")
    assert h.returncode == 0, h.stderr
    assert h.stdout.startswith("HTTP/1.0 200 OK")
    assert "text/plain; version=0.0.4" in h.stdout
    assert "directord_config_real_servers 0" in h.stdout
    assert daemon.http("-o", "/dev/null", "-w", "%{http_code}", "http://127.0.0.1:9469/nope").stdout == "404"
    assert daemon.http("-o", "/dev/null", "-w", "%{http_code}", "-X", "POST",
                       "http://127.0.0.1:9469/metrics").stdout == "405"


def test_metrics_listener_follows_reload(daemon, confdir):
    write_conf(confdir, text=conf_text(confdir, 100)
               .replace("127.0.0.1:9469", "127.0.0.1:9470"))
    assert daemon.ctl("reload").returncode == EX_OK
    assert daemon.http("-o", "/dev/null", "-w", "%{http_code}",
                       "http://127.0.0.1:9470/metrics").stdout == "200"
    assert daemon.http("http://127.0.0.1:9469/metrics").returncode != 0


def test_no_daemon():
    r = subprocess.run([DIRECTORCTL, "-s", "/nonexistent/ctl.sock", "status"],
                       capture_output=True, text=True)
    assert r.returncode == EX_NOCONN and "is directord running" in r.stderr


def test_client_usage():
    r = subprocess.run([DIRECTORCTL], capture_output=True, text=True)
    assert r.returncode == EX_USAGE and "usage:" in r.stderr
    r = subprocess.run([DIRECTORCTL, "-T", "0", "status"], capture_output=True, text=True)
    assert r.returncode == EX_USAGE
    r = subprocess.run([DIRECTORCTL, "-s", "/x", "check", "/a b"], capture_output=True, text=True)
    assert r.returncode == EX_USAGE and "white space" in r.stderr
    r = subprocess.run([DIRECTORCTL, "-s", "/x", "check", "no/such/file"], capture_output=True, text=True)
    assert r.returncode == EX_FAILED and "No such file" in r.stderr


def test_stale_socket_replaced_live_one_kept(confdir):
    conf = write_conf(confdir)
    sock = os.path.join(confdir, "ctl.sock")
    # A stale socket file from a crashed daemon is replaced.
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.bind(sock)
    s.close()
    d = Daemon(confdir, conf)
    try:
        assert d.ctl("status").returncode == EX_OK
    finally:
        assert d.stop() == 0
    # A regular file is never deleted: the daemon runs without a socket.
    with open(sock, "w") as f:
        f.write("precious\n")
    p = subprocess.Popen(["unshare", "--net", DIRECTORD, "-n", "-f", conf],
                         stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        wait_for(lambda: os.path.exists(os.path.join(confdir, "directord.pid")), what="start")
    finally:
        p.send_signal(signal.SIGTERM)
        out = p.communicate(timeout=15)[0]
    assert "is not a socket; not replacing it" in out
    assert open(sock).read() == "precious\n"


def test_rendered_answers_survive_clients_leaving_and_reloads(daemon, confdir):
    """Status and metrics are filled on the main loop and rendered in a
    thread of their own (directord/render.c); the reply reaches the
    connection later. Clients that leave before it arrives, reloads that
    free the config those answers were filled from, and HEAD scrapes must
    all leave the daemon answering."""
    for i in range(30):
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s.connect(daemon.sock)
        s.sendall(b"status --json\n" if i % 2 else b"metrics\n")
        s.close()  # gone before the answer
        if i % 10 == 9:
            assert daemon.ctl("reload").returncode == EX_OK
    word, body = daemon.raw(b"status --json\n")
    assert word == "ok" and json.loads(body)["node"] == "lb1"
    head = daemon.http("-I", "http://127.0.0.1:9469/metrics")
    assert head.returncode == 0 and head.stdout.startswith("HTTP/1.0 200 OK"), head.stdout
    length = int(re.search(r"Content-Length: (\d+)", head.stdout).group(1))
    full = daemon.http("-s", "http://127.0.0.1:9469/metrics")
    assert length > 0 and abs(len(full.stdout.encode()) - length) < 200  # uptime digits may differ
    assert daemon.p.poll() is None, daemon.output()
