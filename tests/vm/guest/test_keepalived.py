# SPDX-License-Identifier: GPL-2.0-or-later
"""Shows that Debian's keepalived runs inside the guest, in a namespace,
with its config in a writable folder: it takes the VIP, programs IPVS, and
traffic from a client reaches both real servers through it. Benchmarks use
the same recipe (see tests/vm/README.md) to compare directord against it.

Runs inside the QEMU guest (pytest process).
"""
import os

from nslab import poll, nat_site

KEEPALIVED_CONF = """
global_defs {
    router_id dd_guest_test
}
vrrp_instance VI_1 {
    state MASTER
    interface eth0
    virtual_router_id 51
    priority 150
    advert_int 1
    virtual_ipaddress {
        192.0.2.100/24 dev eth0
    }
}
virtual_server 192.0.2.100 80 {
    delay_loop 2
    lb_algo rr
    lb_kind NAT
    protocol TCP
    real_server 198.51.100.11 80 {
        weight 1
        TCP_CHECK {
            connect_timeout 3
        }
    }
    real_server 198.51.100.12 80 {
        weight 1
        TCP_CHECK {
            connect_timeout 3
        }
    }
}
"""


def start_keepalived(lab, ns, conf_text):
    """keepalived in the foreground in `ns`, config and pid files in lab.dir."""
    conf = os.path.join(lab.dir, f"keepalived-{ns.name}.conf")
    with open(conf, "w") as f:
        f.write(conf_text)
    pid = os.path.join(lab.dir, f"keepalived-{ns.name}")
    return ns.spawn("keepalived", "--dont-fork", "--log-console", "--log-detail",
                    "--use-file", conf, "--pid", pid + ".pid",
                    "--vrrp_pid", pid + "-vrrp.pid", "--checkers_pid", pid + "-check.pid",
                    name=f"keepalived-{ns.name}")


def test_keepalived_nat_in_guest(lab, ipvs_modules):
    cli, d, rs = nat_site(lab)
    # nat_site gives the director the VIP; here keepalived owns it.
    d.addr_del("eth0", "192.0.2.100/24")
    for i, r in enumerate(rs):
        lab.http_server(r, f"198.51.100.{11 + i}", 80, body=f"rs{i + 1}\n")

    ka = start_keepalived(lab, d, KEEPALIVED_CONF)
    poll(lambda: "192.0.2.100" in d.addrs("eth0") or not ka.alive(), timeout=60,
         what="keepalived to take the VIP")
    assert ka.alive(), ka.log()

    def real_servers():
        svc = [s for s in d.ipvs() if s.key == "TCP 192.0.2.100:80"]
        return sorted(x.key for x in svc[0].dests) if svc else []
    poll(real_servers, until=lambda v: v == ["198.51.100.11:80", "198.51.100.12:80"],
         timeout=60, interval=0.5, what="keepalived to program both real servers")

    answers = {cli.http_get("http://192.0.2.100/").strip() for _ in range(4)}
    assert answers == {"rs1", "rs2"}, answers

    ka.stop()
    # On a clean stop keepalived withdraws the VIP and its IPVS service.
    assert "192.0.2.100" not in d.addrs("eth0")
    assert all(s.key != "TCP 192.0.2.100:80" for s in d.ipvs())
