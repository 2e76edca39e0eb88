# SPDX-License-Identifier: GPL-2.0-or-later
"""The sorry-server path with the real daemon and real IPVS (in the QEMU
guest): a standalone directord (no peer: it holds the VIP that lab.nat_site
already put on the director) runs one NAT service with two real servers,
quorum 1, removal "remove" and a sorry server. As the real servers stop and
start, ipvsadm -Ln shows each change and client traffic reaches only the
live servers: rs1+rs2, then rs2 alone, then only the sorry server, then rs1
again with the sorry server gone.

Runs inside the guest (pytest process), one Lab per test."""
import os

import nslab as labmod
from nslab import poll

VIP = "192.0.2.100"
RS = ["198.51.100.11", "198.51.100.12"]
SORRY, SORRY_PORT = "203.0.113.50", 8080
KEY = f"TCP {VIP}:80"

CONF = """
node = "lb1";
pid_file = "{dir}/directord.pid";
heartbeat = {{ key_file = "{dir}/hb.key"; state_file = "{dir}/generation"; }};
clusters = (
  {{ name = "web";
     vips = ( {{ address = "{vip}/24"; interface = "eth0"; }} );
     services = (
       {{ name = "http"; protocol = "tcp"; address = "{vip}"; port = 80;
          scheduler = "rr"; forward = "nat";
          quorum = 1;
          removal = "remove";
          sorry_server = {{ address = "{sorry}"; port = {sorry_port}; }};
          check = {{ type = "tcp"; interval_ms = 500; timeout_ms = 300; rise = 1; fall = 2; }};
          real_servers = ( {{ address = "{rs1}"; port = 80; }},
                           {{ address = "{rs2}"; port = 80; }} ); }}
     );
  }}
);
"""


def write_conf(lab):
    key = os.path.join(lab.dir, "hb.key")
    with open(key, "w") as f:
        f.write("0123456789abcdef0123456789abcdef\n")
    os.chmod(key, 0o600)
    path = os.path.join(lab.dir, "directord.conf")
    with open(path, "w") as f:
        f.write(CONF.format(dir=lab.dir, vip=VIP, rs1=RS[0], rs2=RS[1],
                            sorry=SORRY, sorry_port=SORRY_PORT))
    return path


def dests(d):
    """{"addr:port": IpvsDest} of the service, or None while it is absent."""
    svc = labmod.ipvs_service(d, KEY)
    return None if svc is None else {x.key: x for x in svc.dests}


def wait_dests(d, daemon, want, what):
    """Poll ipvsadm -Ln until the service has exactly the destinations `want`."""
    try:
        return poll(lambda: dests(d), timeout=30, what=what,
                    until=lambda got: got is not None and sorted(got) == sorted(want))
    except TimeoutError as e:
        raise AssertionError(f"{e}\nipvsadm -Ln:\n{d.ipvsadm('-Ln')}\n"
                             f"directord log:\n{daemon.log()}")


def traffic(cli, allowed, must_see, n=6):
    """n HTTP requests to the VIP: every answer comes from `allowed`; every
    name in `must_see` answers at least once (rr over the live servers)."""
    seen = []
    for _ in range(n):
        body = cli.http_get(f"http://{VIP}/").strip()
        assert body in allowed, f"answer {body!r} not from {sorted(allowed)} (so far {seen})"
        seen.append(body)
    assert set(must_see) <= set(seen), f"answers {seen}, expected all of {sorted(must_see)}"
    return seen


def test_sorry_server_takes_over_below_quorum_and_hands_back(lab, ipvs_modules):
    cli, d, rs = labmod.nat_site(lab)
    # The sorry server sits on its own segment behind the director.
    sorry = lab.netns("sorry")
    lab.veth(d, sorry, "eth2", "eth0", addr_a="203.0.113.1/24", addr_b=f"{SORRY}/24")
    sorry.route_add("default", "203.0.113.1")
    sorry_httpd = lab.http_server(sorry, SORRY, SORRY_PORT, body="sorry\n")
    httpd = [lab.http_server(r, RS[i], 80, body=f"rs{i + 1}\n") for i, r in enumerate(rs)]

    conf = write_conf(lab)
    daemon = d.spawn(os.path.join(labmod.build_dir(), "directord/directord"),
                     "-n", "-l", "stderr", "-f", conf, name="directord")

    rs1, rs2, sry = f"{RS[0]}:80", f"{RS[1]}:80", f"{SORRY}:{SORRY_PORT}"

    # 1. Both real servers up: both in IPVS, the sorry server not.
    got = wait_dests(d, daemon, [rs1, rs2], "both real servers in IPVS, no sorry server")
    assert all(x.forward == "Masq" and x.weight == 1 for x in got.values()), got
    traffic(cli, {"rs1", "rs2"}, {"rs1", "rs2"})

    # 2. rs1 stops: removed (removal = "remove"), rs2 alone, still no sorry server.
    httpd[0].stop()
    got = wait_dests(d, daemon, [rs2], "rs1 removed, rs2 alone")
    assert got[rs2].weight == 1, got
    traffic(cli, {"rs2"}, {"rs2"}, n=4)

    # 3. rs2 stops too: below quorum, only the sorry server, weight 1.
    httpd[1].stop()
    got = wait_dests(d, daemon, [sry], "only the sorry server")
    assert got[sry].weight == 1 and got[sry].forward == "Masq", got
    traffic(cli, {"sorry"}, {"sorry"}, n=4)
    assert "GET / from 192.0.2.10" in sorry_httpd.log(), sorry_httpd.log()

    # 4. rs1 comes back: quorum again, the sorry server goes, rs1 takes the traffic.
    lab.http_server(rs[0], RS[0], 80, body="rs1\n")
    got = wait_dests(d, daemon, [rs1], "rs1 back, sorry server gone")
    assert got[rs1].weight == 1 and got[rs1].forward == "Masq", got
    traffic(cli, {"rs1"}, {"rs1"}, n=4)

    assert daemon.alive(), daemon.log()

