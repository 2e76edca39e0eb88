# SPDX-License-Identifier: GPL-2.0-or-later
"""Real traffic through services directord programmed: NAT and DR from a
client namespace to real servers in namespaces; a reload applies only the
diff (a long-lived TCP connection survives and the service's counters keep
counting); a restart leaves established connections intact; a real server
removed from the config drains before it is deleted.

Runs inside the QEMU guest (pytest process), one Lab per test.
"""
import os
import re

import nslab as labmod
from nslab import poll
from test_ipvs_program import apply, write_conf, TOOL

ECHO_SERVER = r'''
import socket, sys, threading
name, addr, port = sys.argv[1], sys.argv[2], int(sys.argv[3])
s = socket.socket(socket.AF_INET6 if ":" in addr else socket.AF_INET)
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind((addr, port))
s.listen(16)
print("listening", flush=True)
def serve(c, peer):
    print("conn from", peer[0], flush=True)
    f = c.makefile("rwb", buffering=0)
    for line in f:
        f.write(name.encode() + b" " + line)
while True:
    c, peer = s.accept()
    threading.Thread(target=serve, args=(c, peer), daemon=True).start()
'''

# Keeps one TCP connection and exchanges a line every 100 ms; prints
# "ok N SERVER" per answer, or "broken: ..." and exits when it breaks.
LONG_CLIENT = r'''
import socket, sys, time
addr, port = sys.argv[1], int(sys.argv[2])
c = socket.create_connection((addr, port), 5)
c.settimeout(10)
f = c.makefile("rwb", buffering=0)
n = 0
try:
    while True:
        n += 1
        f.write(b"ping %d\n" % n)
        line = f.readline()
        if not line:
            raise EOFError("connection closed")
        srv, _, rest = line.decode().partition(" ")
        if rest.strip() != "ping %d" % n:
            raise ValueError("bad answer %r" % line)
        print("ok", n, srv, flush=True)
        time.sleep(0.1)
except Exception as e:
    print("broken:", repr(e), flush=True)
    sys.exit(1)
'''

ONE_SHOT = r'''
import socket, sys
c = socket.create_connection((sys.argv[1], int(sys.argv[2])), 5)
c.sendall(b"hello\n")
print(c.makefile("rb").readline().decode().split()[0])
'''

VIP = "192.0.2.100"


def script(lab, name, text):
    path = os.path.join(lab.dir, name)
    with open(path, "w") as f:
        f.write(text)
    return path


def nat_site(lab):
    """client -- front -- director (VIP) -- back -- rs1, rs2 (default via director)."""
    front, back = lab.bridge("fr"), lab.bridge("bk")
    cli, d = lab.netns("cli"), lab.netns("dir")
    rs = [lab.netns("rs1"), lab.netns("rs2")]
    lab.connect(cli, front, "192.0.2.10/24")
    lab.connect(d, front, ["192.0.2.1/24", f"{VIP}/24"])
    lab.connect(d, back, "198.51.100.1/24", ifname="eth1")
    d.forwarding()
    for i, r in enumerate(rs):
        lab.connect(r, back, f"198.51.100.{11 + i}/24")
        r.route_add("default", "198.51.100.1")
    return cli, d, rs, ["198.51.100.11", "198.51.100.12"]


def dr_site(lab):
    """client, director and rs1, rs2 on one segment; the real servers hold
    the VIP on lo and neither answer nor announce ARP for it."""
    lan = lab.bridge("lan")
    cli, d = lab.netns("cli"), lab.netns("dir")
    rs = [lab.netns("rs1"), lab.netns("rs2")]
    lab.connect(cli, lan, "192.0.2.10/24")
    lab.connect(d, lan, ["192.0.2.1/24", f"{VIP}/24"])
    for i, r in enumerate(rs):
        r.sysctl("net.ipv4.conf.all.arp_ignore", "1")
        r.sysctl("net.ipv4.conf.all.arp_announce", "2")
        lab.connect(r, lan, f"192.0.2.{11 + i}/24")
        r.addr_add("lo", f"{VIP}/32")
    return cli, d, rs, ["192.0.2.11", "192.0.2.12"]


def service_conf(name, port, fwd, servers, extra="", rs_extra=""):
    rs = ",\n".join(f'{{ address = "{a}"; port = {port}; {rs_extra} }}' for a in servers)
    return (f'{{ name = "{name}"; protocol = "tcp"; address = "{VIP}"; port = {port};\n'
            f'  scheduler = "rr"; forward = "{fwd}"; {extra}\n'
            f'  check = {{ type = "tcp"; initial = "up"; }};\n'
            f'  real_servers = ( {rs} ); }}')


def conf(*services):
    return ('clusters = ( { name = "lab";\n'
            f'  vips = ( {{ address = "{VIP}"; interface = "eth0"; }} );\n'
            '  services = (\n' + ",\n".join(services) + '\n  ); } );\n')


def start_echo(lab, rs, addrs, port, bind=None):
    path = script(lab, "echo.py", ECHO_SERVER)
    procs = []
    for i, r in enumerate(rs):
        p = r.spawn("/usr/bin/python3", "-u", path, f"rs{i + 1}", bind or addrs[i], str(port),
                    name=f"echo-{i + 1}-{port}")
        p.wait_log("listening", timeout=30)
        procs.append(p)
    return procs


def start_client(lab, cli, port):
    path = script(lab, "client.py", LONG_CLIENT)
    c = cli.spawn("/usr/bin/python3", "-u", path, VIP, str(port), name=f"client-{port}")
    c.wait_log(r"ok 3 ", timeout=30)
    return c


def answers(c):
    return re.findall(r"^ok (\d+) (\S+)$", c.log(), re.M)


def assert_alive_and_counting(c, more=10):
    """The long-lived connection keeps exchanging lines with the same server."""
    n0 = len(answers(c))
    poll(lambda: len(answers(c)) >= n0 + more or not c.alive(), timeout=60,
         what=f"{more} more answers on the long-lived connection")
    assert c.alive() and "broken" not in c.log(), c.log()
    assert len({srv for _, srv in answers(c)}) == 1, c.log()


def svc_stats(d, port):
    svc = {s.key: s for s in d.ipvs(stats=True)}[f"TCP {VIP}:{port}"]
    return svc.stats


def test_nat_traffic_and_health(lab, ipvs_modules):
    cli, d, rs, addrs = nat_site(lab)
    for i, r in enumerate(rs):
        lab.http_server(r, addrs[i], 80, body=f"rs{i + 1}\n")
    path = write_conf(lab, "nat.conf", conf(service_conf("http", 80, "nat", addrs)))
    steps, err = apply(d, path)
    got = {cli.http_get(f"http://{VIP}/").strip() for _ in range(4)}
    assert got == {"rs1", "rs2"}, got
    # rs2 fails its check: weight 0, all new traffic goes to rs1
    steps, err = apply(d, path, "down", "http", addrs[1], "80")
    assert int(steps[0]["ops"]) == 0 and int(steps[1]["ops"]) == 1, (steps, err)
    assert (f"service http (tcp {VIP}:80): real server {addrs[1]}:80 weight 1 -> 0 (health DOWN)") in err, err
    svc = labmod.ipvs_service(d, f"TCP {VIP}:80")
    assert [(x.addr, x.weight) for x in svc.dests] == [(addrs[0], 1), (addrs[1], 0)]
    got = [cli.http_get(f"http://{VIP}/").strip() for _ in range(4)]
    assert got == ["rs1"] * 4, got


def test_dr_traffic(lab, ipvs_modules):
    cli, d, rs, addrs = dr_site(lab)
    servers = [lab.http_server(r, VIP, 80, body=f"rs{i + 1}\n") for i, r in enumerate(rs)]
    path = write_conf(lab, "dr.conf", conf(service_conf("http", 80, "dr", addrs)))
    apply(d, path)
    svc = labmod.ipvs_service(d, f"TCP {VIP}:80")
    assert {(x.addr, x.forward) for x in svc.dests} == {(addrs[0], "Route"), (addrs[1], "Route")}
    got = [cli.http_get(f"http://{VIP}/").strip() for _ in range(4)]
    assert sorted(got) == ["rs1", "rs1", "rs2", "rs2"], got
    # each real server answered the client itself, from the VIP it holds
    for s in servers:
        assert re.search(r"GET / from 192\.0\.2\.10\b", s.log()), s.log()


def test_reload_applies_only_the_diff(lab, ipvs_modules):
    cli, d, rs, addrs = nat_site(lab)
    start_echo(lab, rs[:1], addrs, 7000)
    for i, r in enumerate(rs):
        lab.http_server(r, addrs[i], 80)
    c1 = conf(service_conf("echo", 7000, "nat", addrs[:1]), service_conf("http", 80, "nat", addrs))
    path1 = write_conf(lab, "v1.conf", c1)
    apply(d, path1)
    client = start_client(lab, cli, 7000)
    before = poll(lambda: svc_stats(d, 7000), until=lambda s: s.inpkts > 0, timeout=15, interval=0.5,
                  what="counters of the echo service")
    assert before.conns == 1
    # v2: the echo service changes scheduler (edited in place) and a weight
    # changes in the other service: exactly 2 operations.
    c2 = conf(service_conf("echo", 7000, "nat", addrs[:1]).replace('"rr"', '"wlc"'),
              service_conf("http", 80, "nat", addrs).replace(
                  f'address = "{addrs[1]}"; port = 80; ', f'address = "{addrs[1]}"; port = 80; weight = 5;'))
    path2 = write_conf(lab, "v2.conf", c2)
    steps, err = apply(d, path1, "reload", path2)
    assert [int(s["ops"]) for s in steps] == [0, 2], (steps, err)
    assert "deleted" not in err and "added" not in err, err
    svcs = {s.key: s for s in d.ipvs()}
    assert svcs[f"TCP {VIP}:7000"].scheduler == "wlc"
    assert svcs[f"TCP {VIP}:80"].dest(addrs[1], 80).weight == 5
    assert_alive_and_counting(client)
    # The service was not re-created: its totals kept growing from before
    # (a new service starts from zero).
    after = poll(lambda: svc_stats(d, 7000), until=lambda s: s.inpkts > before.inpkts + 10, timeout=20,
                 interval=0.5, what="counters to keep counting")
    assert after.conns == before.conns == 1


def test_restart_keeps_connections(lab, ipvs_modules):
    cli, d, rs, addrs = nat_site(lab)
    start_echo(lab, rs, addrs, 7000)
    path = write_conf(lab, "echo.conf", conf(service_conf("echo", 7000, "nat", addrs)))
    # a long-running instance, as the daemon would be
    first = d.spawn(TOOL, path, "run", "600", name="fwd-1")
    first.wait_log(r"step=start ops=3 ", timeout=60)
    clients = [start_client(lab, cli, 7000) for _ in range(2)]
    conns_before = {(c.source, c.dest) for c in labmod.ipvs_conns(d)}
    assert len(conns_before) == 2
    before = svc_stats(d, 7000)
    first.kill()  # crash; a clean stop leaves the table the same way
    steps, err = apply(d, path)
    assert int(steps[0]["ops"]) == 0, (steps, err)
    for c in clients:
        assert_alive_and_counting(c)
    assert {(c.source, c.dest) for c in labmod.ipvs_conns(d)} == conns_before
    after = poll(lambda: svc_stats(d, 7000), until=lambda s: s.inpkts > before.inpkts, timeout=20,
                 interval=0.5, what="counters to keep counting")
    assert after.conns == 2


def test_removed_real_server_drains_then_goes(lab, ipvs_modules):
    cli, d, rs, addrs = nat_site(lab)
    start_echo(lab, rs, addrs, 7000)
    c1 = conf(service_conf("echo", 7000, "nat", addrs[:1], extra="drain_ms = 600000;"))
    c2 = conf(service_conf("echo", 7000, "nat", addrs[1:], extra="drain_ms = 600000;"))
    p1, p2 = write_conf(lab, "v1.conf", c1), write_conf(lab, "v2.conf", c2)
    apply(d, p1)
    client = start_client(lab, cli, 7000)
    fwd = d.spawn(TOOL, p1, "reload", p2, "settle", "120", name="fwd")
    fwd.wait_log(r"step=reload ops=2 ", timeout=60)

    def weights():
        return {x.addr: x.weight for x in labmod.ipvs_service(d, f"TCP {VIP}:7000").dests}
    # rs1 left the config but still serves its connection, at weight 0
    assert weights() == {addrs[0]: 0, addrs[1]: 1}
    assert f"real server {addrs[0]}:7000 weight 1 -> 0 (removed from config, draining)" in fwd.log()
    assert_alive_and_counting(client)
    one = script(lab, "one.py", ONE_SHOT)
    assert cli.run("/usr/bin/python3", one, VIP, "7000").stdout.strip() == "rs2"
    # the last connection ends: rs1 is deleted long before drain_ms
    client.stop()
    poll(weights, until=lambda w: w == {addrs[1]: 1}, timeout=60, interval=0.5, what="rs1 to be deleted")
    poll(lambda: not fwd.alive(), timeout=30, what="the settle step to finish")
    assert fwd.popen.returncode == 0, fwd.log()
    assert f"real server {addrs[0]}:7000 deleted (removed from config, no active connections)" in fwd.log()
