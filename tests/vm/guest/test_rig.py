# SPDX-License-Identifier: GPL-2.0-or-later
"""Proves the real-kernel rig itself: IPVS modules load in the guest, the
ipvsadm parser reads back what ipvsadm programmed, and real TCP traffic
from a client namespace goes through a NAT service to both real servers.

Runs inside the QEMU guest (pytest process), one Lab per test.
"""
import re

import nslab as labmod
from nslab import poll, ipvs_services


def test_ipvs_modules_and_tables(ipvs_modules):
    with open("/proc/modules") as f:
        loaded = {line.split()[0] for line in f}
    for m in ("ip_vs", "ip_vs_rr", "ip_vs_wrr", "ip_vs_wlc", "ip_vs_sh", "ip_vs_mh",
              "nf_conntrack", "veth", "bridge"):
        assert m in loaded, f"{m} not loaded"
    with open("/proc/net/ip_vs") as f:
        assert f.readline().startswith("IP Virtual Server version")


def test_ipvsadm_roundtrip(lab, ipvs_modules):
    d = lab.netns("dir")
    d.ipvsadm("-A", "-t", "192.0.2.100:80", "-s", "rr")
    d.ipvsadm("-a", "-t", "192.0.2.100:80", "-r", "198.51.100.11:80", "-m", "-w", "1")
    d.ipvsadm("-a", "-t", "192.0.2.100:80", "-r", "198.51.100.12:8080", "-m", "-w", "2")
    d.ipvsadm("-A", "-u", "192.0.2.100:53", "-s", "sh", "-b", "sh-fallback,sh-port",
              "-p", "300", "-M", "255.255.255.0")
    d.ipvsadm("-a", "-u", "192.0.2.100:53", "-r", "198.51.100.13:53", "-g")
    d.ipvsadm("-A", "-f", "7", "-s", "wlc", "-o")
    d.ipvsadm("-A", "-t", "[2001:db8::100]:443", "-s", "mh", "-b", "mh-port")
    d.ipvsadm("-a", "-t", "[2001:db8::100]:443", "-r", "[2001:db8:1::5]:443", "-i", "-w", "0")

    svcs = {s.key: s for s in d.ipvs()}
    assert set(svcs) == {"TCP 192.0.2.100:80", "UDP 192.0.2.100:53", "FWM 7",
                         "TCP [2001:db8::100]:443"}

    web = svcs["TCP 192.0.2.100:80"]
    assert web.scheduler == "rr" and web.persistent is None
    assert [(x.addr, x.port, x.forward, x.weight) for x in web.dests] == [
        ("198.51.100.11", 80, "Masq", 1), ("198.51.100.12", 8080, "Masq", 2)]

    dns = svcs["UDP 192.0.2.100:53"]
    assert dns.scheduler == "sh"
    assert dns.flags == ["sh-fallback", "sh-port"]
    assert dns.persistent == 300 and dns.netmask == "255.255.255.0"
    assert dns.dest("198.51.100.13", 53).forward == "Route"

    fwm = svcs["FWM 7"]
    assert fwm.scheduler == "wlc" and "ops" in fwm.flags and fwm.dests == []

    v6 = svcs["TCP [2001:db8::100]:443"]
    assert v6.addr == "2001:db8::100" and v6.flags == ["mh-port"]
    assert v6.dests[0].forward == "Tunnel" and v6.dests[0].weight == 0

    # Edits show up in the next read.
    d.ipvsadm("-e", "-t", "192.0.2.100:80", "-r", "198.51.100.12:8080", "-m", "-w", "5")
    d.ipvsadm("-d", "-t", "192.0.2.100:80", "-r", "198.51.100.11:80")
    web = labmod.ipvs_service(d, "TCP 192.0.2.100:80")
    assert [(x.key, x.weight) for x in web.dests] == [("198.51.100.12:8080", 5)]

    # Stats listing: every service and real server has counters.
    for s in d.ipvs(stats=True):
        assert s.stats is not None and s.stats.conns == 0
        assert all(x.stats is not None for x in s.dests)

    # IPVS is per namespace: a fresh namespace has an empty table.
    other = lab.netns("oth")
    assert other.ipvs() == []


def test_parser_rejects_garbage():
    try:
        labmod.parse_ipvsadm("TCP  192.0.2.1:80 rr\n  -> nonsense\n")
    except ValueError:
        pass
    else:
        raise AssertionError("parser accepted a malformed real-server line")


def test_nat_rr_traffic(lab, ipvs_modules):
    cli, d, rs = labmod.nat_site(lab)
    servers = [lab.http_server(r, f"198.51.100.{11 + i}", 80, body=f"rs{i + 1}\n")
               for i, r in enumerate(rs)]

    d.ipvsadm("-A", "-t", "192.0.2.100:80", "-s", "rr")
    for i in range(2):
        d.ipvsadm("-a", "-t", "192.0.2.100:80", "-r", f"198.51.100.{11 + i}:80", "-m")

    answers = [cli.http_get("http://192.0.2.100/hello").strip() for _ in range(6)]
    # Round robin over two equal servers alternates strictly.
    assert sorted(answers) == ["rs1"] * 3 + ["rs2"] * 3, answers
    assert all(a != b for a, b in zip(answers, answers[1:])), answers

    # Each real server saw requests from the client's own address (NAT keeps
    # the source), which proves the traffic really crossed IPVS to it.
    for s in servers:
        hits = poll(lambda s=s: re.findall(r"GET /hello from 192\.0\.2\.10\b", s.log()),
                    timeout=10, what=f"requests in {s.name}'s log")
        assert len(hits) == 3, s.log()

    # The kernel folds its per-CPU counters into what ipvsadm reads every
    # 2 s (the rate estimator), so poll for the totals.
    def totals():
        svc = {s.key: s for s in d.ipvs(stats=True)}["TCP 192.0.2.100:80"]
        return (svc.stats.conns, [x.stats.conns for x in svc.dests])
    poll(totals, until=lambda t: t == (6, [3, 3]), timeout=15, interval=0.5,
         what="IPVS counters 6 = 3 + 3")
    svc = labmod.ipvs_service(d, "TCP 192.0.2.100:80")
    assert [x.active + x.inactive for x in svc.dests] == [3, 3]
    conns = labmod.ipvs_conns(d)
    assert {c.dest for c in conns} == {"198.51.100.11:80", "198.51.100.12:80"}
    assert all(c.virtual == "192.0.2.100:80" and c.source.startswith("192.0.2.10:") for c in conns)
