# SPDX-License-Identifier: GPL-2.0-or-later
"""directorctl against a directord that programs real IPVS (in the QEMU
guest): status shows kernel weights, connections and health; drain and
enable change the kernel weight, and maintenance survives a reload; plan
lists the exact IPVS operations of a new config and changes nothing until
the reload; metrics carry the IPVS counters.

Runs inside the guest (pytest process), one Lab per test: a standalone
director (no peer) in a NAT site built by lab.nat_site."""
import json
import os
import re
import subprocess

import nslab as labmod
from nslab import poll

VIP = "192.0.2.100"
RS = ["198.51.100.11", "198.51.100.12"]

CONF = """
node = "lb1";
pid_file = "{dir}/directord.pid";
control = {{ socket = "{dir}/ctl.sock"; }};
heartbeat = {{ key_file = "{dir}/hb.key"; state_file = "{dir}/generation"; }};
clusters = (
  {{ name = "web";
     vips = ( {{ address = "{vip}/24"; interface = "eth0"; }} );
     services = (
       {{ name = "http"; protocol = "tcp"; address = "{vip}"; port = 80;
          scheduler = "rr"; forward = "nat";
          check = {{ type = "tcp"; interval_ms = 300; timeout_ms = 250; rise = 1; fall = 2; }};
          real_servers = ( {{ address = "{rs1}"; port = 80; }},
                           {{ address = "{rs2}"; port = 80; weight = {w2}; }} ); }}
       {extra}
     );
  }}
);
"""

EXTRA = """,
       { name = "alt"; protocol = "tcp"; address = "192.0.2.100"; port = 8080;
         scheduler = "wlc"; forward = "nat"; check = { type = "none"; };
         real_servers = ( { address = "198.51.100.11"; port = 80; } ); }"""


def write_conf(lab, name="directord.conf", w2=1, extra=""):
    key = os.path.join(lab.dir, "hb.key")
    if not os.path.exists(key):
        with open(key, "w") as f:
            f.write("0123456789abcdef0123456789abcdef\n")
        os.chmod(key, 0o600)
    path = os.path.join(lab.dir, name)
    with open(path, "w") as f:
        f.write(CONF.format(dir=lab.dir, vip=VIP, rs1=RS[0], rs2=RS[1], w2=w2, extra=extra))
    return path


def ctl(lab, *args):
    return subprocess.run([os.path.join(labmod.build_dir(), "directord/directorctl"),
                           "-s", os.path.join(lab.dir, "ctl.sock"), *args],
                          capture_output=True, text=True, timeout=60)


def status(lab):
    r = ctl(lab, "status", "--json")
    assert r.returncode == 0, r.stderr
    return json.loads(r.stdout)


def rs_status(lab, addr):
    for s in status(lab)["clusters"][0]["services"]:
        if s["name"] == "http":
            for rs in s["real_servers"]:
                if rs["address"] == addr:
                    return rs
    return None


def kweight(d, addr):
    svc = next(s for s in d.ipvs() if s.key == f"TCP {VIP}:80")
    return svc.dest(addr, 80).weight


def start(lab, d):
    conf = write_conf(lab)
    p = d.spawn(os.path.join(labmod.build_dir(), "directord/directord"), "-n", "-f", conf,
                name="directord")
    try:
        poll(lambda: ctl(lab, "version").returncode == 0, 60, what="control socket")
    except TimeoutError:
        raise AssertionError(f"no control socket; directord log:\n{p.log()}")
    poll(lambda: all(rs_status(lab, a)["ipvs"] and rs_status(lab, a)["ipvs"]["weight"] == 1
                     for a in RS), 60, what="both real servers UP in IPVS")
    return p, conf


def site(lab):
    cli, d, rs = labmod.nat_site(lab)
    for i, r in enumerate(rs):
        lab.http_server(r, RS[i], 80, body=f"rs{i + 1}\n")
    return cli, d


def test_status_shows_kernel_health_and_traffic(lab, ipvs_modules):
    cli, d = site(lab)
    p, _ = start(lab, d)
    s = status(lab)
    assert s["available"] == {"failover": True, "forwarding": True, "health": True}
    rs1 = rs_status(lab, RS[0])
    assert rs1["health"]["up"] is True and rs1["health"]["reason"] == "ok"
    assert rs1["admin"] == "enabled" and rs1["ipvs"]["forwarding"] == "nat"
    for _ in range(4):
        cli.http_get(f"http://{VIP}/")
    poll(lambda: sum(rs_status(lab, a)["ipvs"]["conns"] for a in RS) >= 4, 30,
         what="connection counters")
    text = ctl(lab, "status").stdout
    assert re.search(r"198\.51\.100\.11:80\s+UP\s+\(tcp ok\) weight 1/1 active \d+ inactive \d+", text), text
    m = ctl(lab, "metrics").stdout
    total = sum(int(v) for v in re.findall(
        r'directord_ipvs_real_server_connections_total\{service="http",server="[^"]+"\} (\d+)', m))
    assert total >= 4, m
    assert re.search(r'directord_real_server_up\{service="http",server="198\.51\.100\.11:80"\} 1\n', m)
    assert re.search(r'directord_ipvs_operations_total \d+', m)
    assert p.stop() == 0, p.log()


def test_drain_enable_survive_reload(lab, ipvs_modules):
    cli, d = site(lab)
    p, conf = start(lab, d)
    r = ctl(lab, "drain", "http", f"{RS[0]}:80")
    assert r.returncode == 0, r.stderr
    assert r.stdout == f"drained {RS[0]}:80 in service http\n"
    poll(lambda: kweight(d, RS[0]) == 0, 30, what="rs1 weight 0 in the kernel")
    assert rs_status(lab, RS[0])["admin"] == "drained"
    assert "DRAINED (maintenance)" in ctl(lab, "status").stdout
    # New connections all go to rs2.
    assert {cli.http_get(f"http://{VIP}/").strip() for _ in range(4)} == {"rs2"}

    # Maintenance survives a reload (and a health flap would not undo it).
    assert ctl(lab, "reload").returncode == 0
    assert kweight(d, RS[0]) == 0 and rs_status(lab, RS[0])["admin"] == "drained"

    r = ctl(lab, "enable", RS[0], "--json")  # every service, any port
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout)["real_servers"] == [{"service": "http", "address": RS[0], "port": 80}]
    poll(lambda: kweight(d, RS[0]) == 1, 30, what="rs1 weight back to 1")

    r = ctl(lab, "drain", "http", "198.51.100.99")
    assert r.returncode == 1 and "no real server 198.51.100.99 in service http" in r.stderr
    r = ctl(lab, "drain", "nosuch", RS[0])
    assert r.returncode == 1 and "no service named 'nosuch'" in r.stderr
    r = ctl(lab, "drain", "not-an-address")
    assert r.returncode == 2
    assert p.stop() == 0, p.log()


def test_plan_lists_ipvs_ops_then_reload_applies_them(lab, ipvs_modules):
    cli, d = site(lab)
    p, conf = start(lab, d)
    before = [(s.key, [(x.key, x.weight) for x in s.dests]) for s in d.ipvs()]
    new = write_conf(lab, "new.conf", w2=5, extra=EXTRA)
    r = ctl(lab, "plan", new, "--json")
    assert r.returncode == 0, r.stderr + p.log()
    ops = [(o["op"], o["service"], o.get("server"), o.get("weight"), o.get("old_weight"))
           for o in json.loads(r.stdout)["ipvs"]]
    assert ("edit_server", "http", f"{RS[1]}:80", 5, 1) in ops, ops
    assert ("add_service", "alt", None, None, None) in ops, ops
    assert ("add_server", "alt", f"{RS[0]}:80", 1, None) in ops, ops
    assert len(ops) == 3, ops
    text = ctl(lab, "plan", new).stdout
    assert f"ipvs update real server {RS[1]}:80 in http, nat, weight 1 -> 5" in text, text
    # Nothing changed in the kernel.
    assert [(s.key, [(x.key, x.weight) for x in s.dests]) for s in d.ipvs()] == before
    # The daemon's own file is unchanged: an empty plan.
    r = ctl(lab, "plan", "--json")
    assert json.loads(r.stdout)["ipvs"] == [] and json.loads(r.stdout)["vips"] == []
    # Applying it does what the plan said.
    os.replace(new, conf)
    assert ctl(lab, "reload").returncode == 0
    poll(lambda: kweight(d, RS[1]) == 5, 30, what="rs2 weight 5")
    assert any(s.key == f"TCP {VIP}:8080" for s in d.ipvs())
    assert p.stop() == 0, p.log()


def test_reload_says_what_the_kernel_refused(lab, ipvs_modules):
    """A reload the kernel takes only in part (a scheduler this kernel has
    no module for) is applied, but `directorctl reload` says what did not
    take, and exits 1 (it used to answer ok)."""
    cli, d = site(lab)
    p, conf = start(lab, d)
    refused = EXTRA.replace('scheduler = "wlc"', 'scheduler = "twos"')  # Linux 6.2+, not 6.1
    os.replace(write_conf(lab, "new.conf", w2=5, extra=refused), conf)
    r = ctl(lab, "reload")
    assert r.returncode == 1, (r.stdout, r.stderr)
    out = r.stdout + r.stderr
    assert "reload applied from" in out and "but not all of it: services not applied: IPVS" in out, out
    poll(lambda: kweight(d, RS[1]) == 5, 30, what="the rest of the reload in the kernel")
    assert not any(s.key == f"TCP {VIP}:8080" for s in d.ipvs())
    assert "but not all of it is in the kernel" in p.log()
    assert p.stop() == 0, p.log()
