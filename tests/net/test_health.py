# SPDX-License-Identifier: GPL-2.0-or-later
"""tests/net/test_health.py: health checks against real servers in network
namespaces on the host kernel: nginx with and without TLS, a Python HTTP
server, and scripts. The checker runs as bench/health/health_runner in a
"director" namespace; the servers live in a "real server" namespace joined
by a veth pair. Needs root. Every name carries a per-run prefix and
everything is removed at the end.

Run: DD_BUILDDIR=<build dir> /usr/bin/python3 -m pytest tests/net/test_health.py
"""
import os
import re
import secrets
import select
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "lab"))
import nslab  # noqa: E402  (tests/lab/nslab.py, the lab library)
from nslab import sh, wait_for  # noqa: E402

BUILDDIR = Path(os.environ.get("DD_BUILDDIR", HERE.parent.parent))
RUNNER = BUILDDIR / "bench" / "health" / "health_runner"

DIR_IP = "198.51.100.1"
NGINX_IP = "198.51.100.21"
PY_IP = "198.51.100.22"
DIR_IP6 = "2001:db8::1"
NGINX_IP6 = "2001:db8::21"

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="needs root for namespaces")


class Lab(nslab.Lab):
    """A director namespace and a real-server namespace joined by a veth
    pair; spawn() returns bare Popens (the tests read their pipes)."""

    def __init__(self):
        super().__init__("dh" + secrets.token_hex(3))
        self.tmp = Path(self.dir)
        self.sanitizer_report = None

    def setup(self):
        d, r = self.netns("d"), self.netns("r")
        self.d, self.r = d, r
        self.ns_dir, self.ns_rs = d.name, r.name
        self.if_dir = self._ifname("a")
        self.veth(d, r, self.if_dir, self._ifname("b"), [DIR_IP + "/24", DIR_IP6 + "/64"],
                  [NGINX_IP + "/24", PY_IP + "/24", NGINX_IP6 + "/64"])
        # Reachability before any test relies on it.
        wait_for(lambda: d.run("ping", "-c1", "-W1", NGINX_IP, check=False).returncode == 0, 10,
                 "veth link up")

    def spawn(self, ns, argv, **kw):
        return self.popen(["ip", "netns", "exec", ns] + argv, **kw)

    def stop(self, p):
        nslab.terminate(p)

    def cleanup(self):
        for p in self.bg:
            self.stop(p)
        # A sanitizer report from the checker fails the test that ran it.
        for log in self.tmp.glob("*.log"):
            text = log.read_text(errors="replace")
            for bad in ("AddressSanitizer", "LeakSanitizer", "runtime error:"):
                if bad in text:
                    self.sanitizer_report = text
        self.close()


@pytest.fixture
def lab():
    if not RUNNER.exists():
        pytest.fail(f"{RUNNER} not built")
    lab = Lab()
    try:
        lab.setup()
        yield lab
    finally:
        lab.cleanup()
    assert lab.sanitizer_report is None, lab.sanitizer_report


class Nginx:
    """nginx in the real-server namespace: port 80 plain, 443 TLS."""

    def __init__(self, lab):
        self.lab = lab
        d = lab.tmp / "nginx"
        self.dir = d
        for sub in ("logs", "tmp", "html"):
            (d / sub).mkdir(parents=True, exist_ok=True)
        (d / "html" / "health").write_text("healthy\n")
        self.key, self.cert = d / "key.pem", d / "cert.pem"
        sh("openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
           "-keyout", str(self.key), "-out", str(self.cert), "-subj", "/CN=www.example.com",
           "-addext", "subjectAltName=DNS:www.example.com")
        (d / "nginx.conf").write_text(f"""
daemon off;
master_process off;
worker_processes 1;
user root;
pid {d}/nginx.pid;
error_log {d}/logs/error.log;
events {{ worker_connections 256; }}
http {{
  access_log off;
  client_body_temp_path {d}/tmp; proxy_temp_path {d}/tmp; fastcgi_temp_path {d}/tmp;
  uwsgi_temp_path {d}/tmp; scgi_temp_path {d}/tmp;
  server {{
    listen {NGINX_IP}:80;
    listen {NGINX_IP}:443 ssl;
    listen [{NGINX_IP6}]:80;
    ssl_certificate {self.cert};
    ssl_certificate_key {self.key};
    root {d}/html;
    location = /down {{ return 503; }}
  }}
}}
""")
        self.proc = None

    def start(self):
        self.proc = self.lab.spawn(self.lab.ns_rs, ["nginx", "-p", str(self.dir), "-c",
                                                    str(self.dir / "nginx.conf")])
        wait_for(lambda: subprocess.run(
            ["ip", "netns", "exec", self.lab.ns_dir, "curl", "-s", "-o", "/dev/null",
             f"http://{NGINX_IP}/health"], capture_output=True).returncode == 0, 10, "nginx up")

    def stop(self):
        self.lab.stop(self.proc)


class Runner:
    """bench/health/health_runner in the director namespace."""

    def __init__(self, lab, spec, name="checks", real_config=False):
        self.lab = lab
        self.path = lab.tmp / (name + ".conf")
        self.path.write_text(spec)
        self.errpath = lab.tmp / (name + ".log")
        self.err = open(self.errpath, "w")
        args = ["-C"] if real_config else []
        self.proc = lab.spawn(lab.ns_dir, [str(RUNNER)] + args + [str(self.path)],
                              stdout=subprocess.PIPE, stderr=self.err)
        self.lines = []
        self.partial = b""
        self.expect(r"^READY$", 10)

    def _read(self, timeout):
        # Raw reads: a buffered reader would hide lines from select().
        fd = self.proc.stdout.fileno()
        r, _, _ = select.select([fd], [], [], timeout)
        if not r:
            return False
        data = os.read(fd, 65536)
        if not data:
            time.sleep(timeout)
            return False
        *full, self.partial = (self.partial + data).split(b"\n")
        self.lines.extend(l.decode() for l in full)
        return True

    def expect(self, pattern, timeout, start=0):
        """Waits for a stdout line matching pattern, among lines from `start` on."""
        rx = re.compile(pattern)
        end = time.monotonic() + timeout
        i = start
        while True:
            while i < len(self.lines):
                m = rx.search(self.lines[i])
                if m:
                    return i, m
                i += 1
            left = end - time.monotonic()
            if left <= 0:
                raise AssertionError(f"no line matching {pattern!r} in {timeout} s; got {self.lines}")
            self._read(min(left, 0.2))

    def log(self):
        self.err.flush()
        return self.errpath.read_text()

    def status(self):
        mark = len(self.lines)
        os.kill(self.proc.pid, signal.SIGUSR1)  # ip netns exec execs the runner
        self.expect(r"^STATUS END$", 5, mark)
        return [l for l in self.lines[mark:] if l.startswith("STATUS ") and l != "STATUS END"]


def test_nginx_http_down_and_up(lab):
    nginx = Nginx(lab)
    nginx.start()
    interval, timeout, rise, fall = 0.2, 0.3, 2, 3
    r = Runner(lab, f"""
service web
check type=http interval=200 timeout=300 rise=2 fall=3 initial=down path=/health status=200 body=healthy
rs {NGINX_IP} 80
""")
    i, _ = r.expect(rf"^CHANGE web {NGINX_IP} 80 UP ok$", 5)

    t0 = time.monotonic()
    nginx.stop()
    i, _ = r.expect(rf"^CHANGE web {NGINX_IP} 80 DOWN connection refused$",
                    interval * fall + timeout + 1.0, i + 1)
    took = time.monotonic() - t0
    # The deadline above is the contract; the figure is for the record.
    print(f"nginx stop -> DOWN in {took:.2f} s (bound {interval * fall + timeout:.2f} s + 1 s slack)")
    assert re.search(rf"health: service web: real server {NGINX_IP}:80 DOWN after \d+\.\d s UP: "
                     rf"connection refused \(3/3\)", r.log())

    nginx.start()
    i, _ = r.expect(rf"^CHANGE web {NGINX_IP} 80 UP ok$", interval * rise + timeout + 1.0, i + 1)
    assert re.search(rf"real server {NGINX_IP}:80 UP after \d+\.\d s DOWN: check succeeded \(2/2\)",
                     r.log())
    st = [s for s in r.status() if s.startswith(f"STATUS web {NGINX_IP} 80 UP")]
    assert st, r.lines

    # A path that answers 503: the reason names the status.
    r2 = Runner(lab, f"""
service down
check type=http interval=100 timeout=1000 rise=1 fall=1 initial=up path=/down
rs {NGINX_IP} 80
""", name="down")
    r2.expect(rf"^CHANGE down {NGINX_IP} 80 DOWN HTTP status 503$", 5)


def test_nginx_https(lab):
    nginx = Nginx(lab)
    nginx.start()
    r = Runner(lab, f"""
service tls-verified
check type=https interval=200 timeout=1000 rise=1 fall=2 initial=down path=/health sni=www.example.com verify=1 ca={nginx.cert} body=healthy
rs {NGINX_IP} 443
service tls-plain
check type=https interval=200 timeout=1000 rise=1 fall=2 initial=down path=/health
rs {NGINX_IP} 443
service tls-wrong-name
check type=https interval=200 timeout=1000 rise=1 fall=1 initial=up path=/health sni=other.example.org verify=1 ca={nginx.cert}
rs {NGINX_IP} 443
service tls-on-plain-port
check type=https interval=200 timeout=1000 rise=1 fall=1 initial=up
rs {NGINX_IP} 80
""")
    r.expect(rf"^CHANGE tls-verified {NGINX_IP} 443 UP ok$", 10)
    r.expect(rf"^CHANGE tls-plain {NGINX_IP} 443 UP ok$", 10)
    r.expect(rf"^CHANGE tls-wrong-name {NGINX_IP} 443 DOWN TLS handshake failed: "
             rf"hostname mismatch$", 10)
    r.expect(rf"^CHANGE tls-on-plain-port {NGINX_IP} 80 DOWN TLS handshake failed: ", 10)

    # Later handshakes resume the session instead of a full handshake.
    def resumed():
        st = r.status()
        got = {s.split()[1]: int(re.search(r"tls_resumed=(\d+)", s).group(1)) for s in st}
        return got["tls-verified"] > 0 and got["tls-plain"] > 0
    wait_for(resumed, 5, "resumed TLS sessions")
    i = len(r.lines)
    nginx.stop()
    r.expect(rf"^CHANGE tls-verified {NGINX_IP} 443 DOWN connection refused$", 0.2 * 2 + 1 + 1, i)


def test_python_server_body_and_status(lab):
    www = lab.tmp / "www"
    www.mkdir()
    (www / "health").write_text("status: healthy\n")
    lab.spawn(lab.ns_rs, ["/usr/bin/python3", "-m", "http.server", "--bind", PY_IP,
                          "--directory", str(www), "8000"],
              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    wait_for(lambda: subprocess.run(
        ["ip", "netns", "exec", lab.ns_dir, "curl", "-s", "-o", "/dev/null",
         f"http://{PY_IP}:8000/health"], capture_output=True).returncode == 0, 10, "python server up")
    r = Runner(lab, f"""
service py
check type=http interval=100 timeout=1000 rise=2 fall=2 initial=down path=/health body=healthy
rs {PY_IP} 8000
service py-missing
check type=http interval=100 timeout=1000 rise=1 fall=1 initial=up path=/nope
rs {PY_IP} 8000
""")
    i, _ = r.expect(rf"^CHANGE py {PY_IP} 8000 UP ok$", 10)
    r.expect(rf"^CHANGE py-missing {PY_IP} 8000 DOWN HTTP status 404$", 10)
    (www / "health").write_text("status: sick\n")
    i, _ = r.expect(rf"^CHANGE py {PY_IP} 8000 DOWN body mismatch$", 5, i + 1)
    (www / "health").write_text("status: healthy again\n")
    r.expect(rf"^CHANGE py {PY_IP} 8000 UP ok$", 5, i + 1)


def test_shared_check_runs_once(lab):
    count = lab.tmp / "count"
    flag = lab.tmp / "flag"
    flag.write_text("")
    cmd = f'echo run >> {count}; test -e {flag}'
    r = Runner(lab, f"""
service a
check type=exec interval=100 timeout=1000 rise=1 fall=2 initial=up command={cmd}
rs {NGINX_IP} 80
service b
check type=exec interval=100 timeout=1000 rise=1 fall=2 initial=up command={cmd}
rs {NGINX_IP} 80
""")
    flag.unlink()
    r.expect(rf"^CHANGE a {NGINX_IP} 80 DOWN exit code 1$", 5)
    r.expect(rf"^CHANGE b {NGINX_IP} 80 DOWN exit code 1$", 5)
    assert re.search(rf"services a,b: real server {NGINX_IP}:80 DOWN after", r.log())
    st = r.status()
    checks = [int(re.search(r"checks=(\d+)", s).group(1)) for s in st]
    assert len(checks) == 2 and checks[0] == checks[1], st
    runs = count.read_text().count("run")
    # One run per check, not one per service (a run may be under way).
    assert checks[0] <= runs <= checks[0] + 1, (runs, checks)


def test_exec_hang_kills_process_group(lab):
    pids = lab.tmp / "pids"
    lock = lab.tmp / "lock"
    overlap = lab.tmp / "overlap"
    script = lab.tmp / "hang.sh"
    # fd 9 holds a lock that every process of a run inherits: if a run (or
    # anything it started) outlived its timeout, the next run sees it held.
    script.write_text(f"""#!/bin/sh
exec 9>>{lock}
flock -n 9 || echo overlap >> {overlap}
sleep 1000 &
echo $! >> {pids}
echo $$ >> {pids}
sleep 1000
""")
    script.chmod(0o755)
    r = Runner(lab, f"""
service hang
check type=exec interval=100 timeout=300 rise=1 fall=1 initial=up command={script}
rs {PY_IP} 9000
""")
    r.expect(rf"^CHANGE hang {PY_IP} 9000 DOWN timeout after 300 ms$", 5)

    def alive(pid):
        try:
            stat = Path(f"/proc/{pid}/stat").read_text()
        except FileNotFoundError:
            return False
        return ") Z " not in stat  # a zombie left for init is gone

    def recorded():
        v = [int(x) for x in pids.read_text().split()] if pids.exists() else []
        return v[:len(v) - len(v) % 2]

    wait_for(lambda: len(recorded()) >= 8, 8, "four runs")
    assert not overlap.exists(), "a run started while an earlier one was still alive"
    done = recorded()[:6]
    wait_for(lambda: not any(alive(p) for p in done), 3, "earlier runs' processes gone")
    # Stopping the checker takes the running one with it.
    lab.stop(r.proc)
    every = [int(x) for x in pids.read_text().split()]
    wait_for(lambda: not any(alive(p) for p in every), 3, "all script processes gone")


def test_nginx_ipv6(lab):
    nginx = Nginx(lab)
    nginx.start()
    r = Runner(lab, f"""
service v6
check type=http interval=100 timeout=1000 rise=1 fall=1 initial=down path=/health body=healthy
rs {NGINX_IP6} 80
""")
    i, _ = r.expect(rf"^CHANGE v6 {NGINX_IP6} 80 UP ok$", 10)
    nginx.stop()
    r.expect(rf"^CHANGE v6 {NGINX_IP6} 80 DOWN connection refused$", 5, i + 1)
    assert re.search(rf"real server \[{NGINX_IP6}\]:80 DOWN after", r.log())


UDP_SERVER = r"""
import socket, sys
family = socket.AF_INET
s = socket.socket(family, socket.SOCK_DGRAM)
s.bind((sys.argv[1], int(sys.argv[2])))
open(sys.argv[4], "w").close()  # bound: the test may start checking
while True:
    data, peer = s.recvfrom(4096)
    if sys.argv[3] == "dns":
        # Answer the question with NOERROR (or NXDOMAIN for nx.example.com).
        rcode = 3 if b"\x02nx\x07example" in data else 0
        reply = data[:2] + bytes([0x81, 0x80 | rcode]) + data[4:]
    else:
        reply = b"pong " + data
    s.sendto(reply, peer)
"""


def test_udp_and_dns(lab):
    script = lab.tmp / "udp_server.py"
    script.write_text(UDP_SERVER)
    ready = [lab.tmp / "dns.ready", lab.tmp / "echo.ready"]
    srv = lab.spawn(lab.ns_rs, ["/usr/bin/python3", str(script), PY_IP, "5353", "dns", str(ready[0])])
    echo = lab.spawn(lab.ns_rs, ["/usr/bin/python3", str(script), PY_IP, "7007", "echo", str(ready[1])])
    wait_for(lambda: all(p.exists() for p in ready), 10, "UDP servers bound")
    r = Runner(lab, f"""
service dns
check type=dns interval=100 timeout=1000 rise=2 fall=2 initial=down query=www.example.com
rs {PY_IP} 5353
service dns-nx
check type=dns interval=100 timeout=1000 rise=1 fall=1 initial=up query=nx.example.com
rs {PY_IP} 5353
service echo
check type=udp interval=100 timeout=1000 rise=1 fall=2 initial=down send=ping expect=pong
rs {PY_IP} 7007
service echo-wrong
check type=udp interval=100 timeout=1000 rise=1 fall=1 initial=up send=ping expect=hello
rs {PY_IP} 7007
""")
    i, _ = r.expect(rf"^CHANGE dns {PY_IP} 5353 UP ok$", 10)
    r.expect(rf"^CHANGE dns-nx {PY_IP} 5353 DOWN DNS rcode 3$", 10)
    r.expect(rf"^CHANGE echo {PY_IP} 7007 UP ok$", 10)
    r.expect(rf"^CHANGE echo-wrong {PY_IP} 7007 DOWN reply mismatch$", 10)
    j = len(r.lines)
    lab.stop(srv)
    lab.stop(echo)
    # A closed UDP port answers with ICMP port unreachable, but the kernel
    # rate-limits those per host: a probe that gets none times out.
    gone = r"(connection refused|timeout after 1000 ms)"
    r.expect(rf"^CHANGE dns {PY_IP} 5353 DOWN {gone}$", 5, j)
    r.expect(rf"^CHANGE echo {PY_IP} 7007 DOWN {gone}$", 5, j)
    assert any(l.endswith("connection refused") for l in r.lines[j:]), r.lines


def test_directord_conf_through_the_loader(lab):
    """The same path the daemon takes: directord.conf -> loader -> checker,
    with service defaults merged into real servers and a per-server
    override, and a reload (SIGHUP) that keeps the unchanged check's state."""
    nginx = Nginx(lab)
    nginx.start()
    key = lab.tmp / "hb.key"
    key.write_text("0123456789abcdef0123456789abcdef\n")
    key.chmod(0o600)
    conf = f"""
heartbeat = {{ key_file = "{key}"; }};
clusters = ( {{ name = "web";
  vips = ( {{ address = "203.0.113.10/24"; interface = "lo"; }} );
  services = (
    {{ name = "www"; protocol = "tcp"; address = "203.0.113.10"; port = 80;
      check = {{ type = "http"; path = "/health"; body_match = "healthy";
                interval_ms = 200; timeout_ms = 150; rise = 2; fall = 2; }};
      real_servers = (
        {{ address = "{NGINX_IP}"; port = 80; }},
        {{ address = "{NGINX_IP}"; port = 81; check = {{ port = 80; path = "/down"; }}; }}
      ); }}
  ); }} );
"""
    r = Runner(lab, conf, name="directord", real_config=True)
    i, _ = r.expect(rf"^CHANGE www {NGINX_IP} 80 UP ok$", 10)
    # The override probes port 80 for the real server on 81 and gets a 503
    # (initial state is down: no change to report, the status says why).
    def down_503():
        return any(s.startswith(f"STATUS www {NGINX_IP} 81 DOWN") and "reason=HTTP status 503" in s
                   for s in r.status())
    wait_for(down_503, 5, "503 from the overriding check")
    before = [s for s in r.status() if f" {NGINX_IP} 80 " in s][0]
    checks_before = int(re.search(r"checks=(\d+)", before).group(1))
    os.kill(r.proc.pid, signal.SIGHUP)
    wait_for(lambda: "reload: 2 checks kept, 0 started (0 keep their server's state), 0 stopped" in r.log(), 5, "reload")
    after = [s for s in r.status() if f" {NGINX_IP} 80 " in s][0]
    assert " UP " in after and int(re.search(r"checks=(\d+)", after).group(1)) >= checks_before

    # Tuning the check (a new body match) keeps the server UP: no bounce.
    mark = len(r.lines)
    r.path.write_text(conf.replace('body_match = "healthy"', 'body_match = "heal"'))
    os.kill(r.proc.pid, signal.SIGHUP)
    wait_for(lambda: "2 started (2 keep their server's state)" in r.log(), 5, "second reload")
    def checked_again():
        st = [s for s in r.status() if f" {NGINX_IP} 80 " in s][0]
        return int(re.search(r"checks=(\d+)", st).group(1)) >= 3 and st
    st = wait_for(checked_again, 5, "new check running")
    assert " UP " in st, st
    assert not any(l.startswith("CHANGE www") for l in r.lines[mark:]), r.lines[mark:]


def peers_seen(httpd):
    """Client addresses of the requests an nslab http_server has logged."""
    return re.findall(r"^GET \S+ from (\S+)$", httpd.log(), re.M)


def route_src(ns, dest):
    """The source address the kernel picks for `dest` in `ns`."""
    return re.search(r" src (\S+)", ns.run("ip", "-6", "route", "get", dest).stdout).group(1)


def test_checks_never_come_from_an_ipv6_vip(lab):
    """A back-side VIP that shares a longer prefix with a real server than
    the director's own address would be the kernel's choice of source (RFC
    6724 rule 8): in a split brain the other director, holding the same
    VIP, would get the replies to this one's checks. directord adds IPv6
    VIPs deprecated, so the checks come from the director's own address."""
    vip = "2001:db8::20"  # 127 bits in common with the server, ::1 has 122
    httpd = lab.http_server(lab.r, NGINX_IP6, 8080, body="healthy\n")
    # A standalone director that holds the VIP and has no services: it
    # starts without IPVS (the host has none) and adds the VIP itself.
    conf = lab.tmp / "lb1.conf"
    conf.write_text(f"""
node = "lb1";
pid_file = "{lab.tmp}/lb1.pid";
control = {{ socket = "{lab.tmp}/lb1.sock"; }};
heartbeat = {{ state_file = "{lab.tmp}/lb1.generation"; }};
clusters = ( {{ name = "back"; vips = ( {{ address = "{vip}/64"; interface = "{lab.if_dir}"; }} ); }} );
""")
    nslab.start_directord(lab, lab.d, "lb1", str(conf), log=str(lab.tmp / "lb1.log"))
    wait_for(lambda: vip in lab.d.addrs(lab.if_dir), 10, "directord to add the VIP")

    r = Runner(lab, f"""
service v6
check type=http interval=100 timeout=90 rise=1 fall=1 initial=down path=/health body=healthy
rs {NGINX_IP6} 8080
""")
    r.expect(rf"^CHANGE v6 {NGINX_IP6} 8080 UP ok$", 10)
    wait_for(lambda: len(peers_seen(httpd)) >= 5, 10, "five checks at the server")
    assert set(peers_seen(httpd)) == {DIR_IP6}, peers_seen(httpd)
    # How: the VIP is deprecated, so never the kernel's choice, and it
    # still receives traffic.
    assert "deprecated" in lab.d.run("ip", "-6", "addr", "show", "dev", lab.if_dir).stdout
    assert route_src(lab.d, NGINX_IP6) == DIR_IP6
    wait_for(lambda: lab.r.run("ping", "-c1", "-W1", vip, check=False).returncode == 0, 10,
             "the VIP answers")


def test_check_source_and_interface(lab):
    """check.source and check.interface (keepalived's bindto and bind_if)
    through the real loader: probes leave from the address and the
    interface given, and say so when they cannot."""
    own4, own6 = "198.51.100.2", "2001:db8::2"
    lab.d.addr_add(lab.if_dir, own4 + "/24")
    lab.d.addr_add(lab.if_dir, own6 + "/64")
    web4 = lab.http_server(lab.r, NGINX_IP, 8080, body="healthy\n")
    web6 = lab.http_server(lab.r, NGINX_IP6, 8080, body="healthy\n")
    wait_for(lambda: route_src(lab.d, NGINX_IP6) == DIR_IP6, 10, "own addresses usable")
    conf = f"""
heartbeat = {{ state_file = "{lab.tmp}/gen"; }};
clusters = ( {{ name = "web";
  vips = ( {{ address = "203.0.113.10/24"; interface = "lo"; }} );
  services = (
    {{ name = "v4"; protocol = "tcp"; address = "203.0.113.10"; port = 8080;
      check = {{ type = "http"; interval_ms = 100; timeout_ms = 90; rise = 1; fall = 1;
                source = "{own4}"; interface = "{lab.if_dir}"; }};
      real_servers = ( {{ address = "{NGINX_IP}"; }} ); }},
    {{ name = "v6"; protocol = "tcp"; address = "2001:db8:1::10"; port = 8080;
      check = {{ type = "http"; interval_ms = 100; timeout_ms = 90; rise = 1; fall = 1;
                source = "{own6}"; }};
      real_servers = ( {{ address = "{NGINX_IP6}"; }} ); }},
    {{ name = "wrong-if"; protocol = "tcp"; address = "203.0.113.10"; port = 8081;
      check = {{ type = "tcp"; interval_ms = 100; timeout_ms = 90; rise = 1; fall = 1;
                initial = "up"; interface = "lo"; }};
      real_servers = ( {{ address = "{NGINX_IP}"; port = 8080; }} ); }},
    {{ name = "not-mine"; protocol = "tcp"; address = "203.0.113.10"; port = 8082;
      check = {{ type = "tcp"; interval_ms = 100; timeout_ms = 90; rise = 1; fall = 1;
                initial = "up"; source = "198.51.100.99"; }};
      real_servers = ( {{ address = "{NGINX_IP}"; port = 8080; }} ); }}
  ); }} );
"""
    r = Runner(lab, conf, name="source", real_config=True)
    r.expect(rf"^CHANGE v4 {NGINX_IP} 8080 UP ok$", 10)
    # Out of lo the server is unreachable, though the kernel's own choice works.
    r.expect(rf"^CHANGE wrong-if {NGINX_IP} 8080 DOWN ", 10)
    r.expect(rf"^CHANGE not-mine {NGINX_IP} 8080 DOWN cannot bind source 198.51.100.99: "
             rf"Cannot assign requested address$", 10)
    wait_for(lambda: len(peers_seen(web4)) >= 3, 10, "three http checks at the server")
    assert set(peers_seen(web4)) == {own4}, peers_seen(web4)
    r.expect(rf"^CHANGE v6 {NGINX_IP6} 8080 UP ok$", 10)
    wait_for(lambda: len(peers_seen(web6)) >= 3, 10, "three http checks at the IPv6 server")
    assert set(peers_seen(web6)) == {own6}, peers_seen(web6)
