# SPDX-License-Identifier: GPL-2.0-or-later
"""Failover between two real directord processes in network namespaces on
the host kernel, seen from a client on the same segment.

Covers: kill -9 of the active (VIP moves, client's neighbour entry follows,
GARP and unsolicited NA on the wire, alert in a real rsyslogd, notify
command), planned handover on SIGTERM, one of two heartbeat links cut (no
failover), both cut (both active) and restored (one yields, the survivor
announces again), forged/replayed/wrong-key/unknown packets (no effect,
counted), and a standby that cannot reach its gateway (no takeover).

Needs root. Timing figures are not asserted here (see bench/failover/).
"""
import os
import re
import subprocess
import signal
import socket
import sys
import time

import pytest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import hbnet  # noqa: E402
from hbnet import VIP4, VIP6, hold, roles, wait_for  # noqa: E402

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="needs root for namespaces")


@pytest.fixture
def lab():
    lab = hbnet.Lab()
    yield lab
    lab.close()


def start_pair(lab, **kw):
    lab.start("lb1", 150, **kw)
    wait_for(lambda: lab.has_vip("lb1"), 10, "lb1 to become active")
    lab.start("lb2", 100, **kw)
    wait_for(lambda: ("init", "standby", "peer lb1 is active") in roles(lab.log("lb2")), 10,
             "lb2 to become standby")
    assert not lab.has_vip("lb2")
    assert not lab.has_vip("lb2", VIP6)


def test_kill9_standby_takes_over(lab):
    sock, messages = lab.start_rsyslog()
    lab.start("lb1", 150)
    wait_for(lambda: lab.has_vip("lb1"), 10, "lb1 to become active")
    lab.start("lb2", 100, syslog_sock=sock)
    wait_for(lambda: os.path.exists(messages) and "init -> standby" in open(messages).read(), 10,
             "lb2 standby in syslog")
    # The client knows the VIPs at lb1's MAC.
    assert lab.client_ping(VIP4) and lab.client_ping(VIP6)
    assert lab.client_neigh(VIP4) == lab.mac("lb1")
    assert lab.client_neigh(VIP6) == lab.mac("lb1")
    cap = lab.tcpdump("client", "arp or (icmp6 and ip6[40] == 136)")

    lab.procs["lb1"].kill()  # SIGKILL: no goodbye, the VIP even stays on lb1's eth0
    wait_for(lambda: lab.has_vip("lb2") and lab.has_vip("lb2", VIP6), 10, "lb2 to add the VIPs")
    mac2 = lab.mac("lb2")
    wait_for(lambda: lab.client_neigh(VIP4) == mac2, 10, "client's ARP entry to point at lb2")
    wait_for(lambda: lab.client_neigh(VIP6) == mac2, 10, "client's ND entry to point at lb2")

    wait_for(lambda: lab.announced(cap, mac2), 10, "gratuitous ARP and unsolicited NA from lb2")

    # The alert went through a real syslog daemon at LOG_ALERT.
    def alert_line():
        text = open(messages).read()
        return re.search(r"directord\[\d+\]: failover: cluster web: standby -> active: "
                         r"peer lb1 silent for \d+ ms on 2/2 links", text)
    wait_for(alert_line, 10, "alert line in syslog")
    # The notify command ran with the documented environment.
    wait_for(lambda: any(r.get("DIRECTORD_ROLE") == "active" for r in lab.notify_records("lb2")), 10,
             "notify command for the takeover")
    rec = [r for r in lab.notify_records("lb2") if r.get("DIRECTORD_ROLE") == "active"][0]
    assert rec["DIRECTORD_CLUSTER"] == "web"
    assert rec["DIRECTORD_OLD_ROLE"] == "standby"
    assert rec["DIRECTORD_NODE"] == "lb2"
    assert rec["DIRECTORD_REASON"].startswith("peer lb1 silent for ")
    assert rec["DIRECTORD_REASON_CODE"] == "peer-silent"
    assert lab.stop("lb2") == 0


def test_reload_touches_only_what_changed(lab):
    """An unchanged reload adds no VIP and announces nothing; a restart after
    kill -9 says that it removed the VIPs the dead process left behind."""
    # One announcement, at once: the takeover's own is over before we listen.
    start_pair(lab, garp="count = 1; interval_ms = 0;")
    mac1 = lab.mac("lb1")
    cap = lab.tcpdump("client", "arp or (icmp6 and ip6[40] == 136)")
    before = lab.log("lb1")
    lab.procs["lb1"].signal(signal.SIGHUP)
    wait_for(lambda: lab.log("lb1").count("reload applied") > before.count("reload applied"), 10,
             "the reload")
    after = lab.log("lb1")[len(before):]
    assert "VIP" not in after, after
    hold(lambda: not lab.announced(cap, mac1), 0.5, "no announcement for unchanged VIPs")

    lab.procs["lb1"].kill()  # the VIPs stay on lb1's eth0
    lab.start("lb1", 150)
    wait_for(lambda: "left over from an earlier run" in lab.log("lb1"), 10, "the cleanup said")
    assert f"cluster web: VIP {VIP4}/24 on eth0 removed: left over from an earlier run" in lab.log("lb1")


def test_alert_is_at_log_alert_priority(lab):
    """The syslog priority itself, not just the text: rsyslog writes it."""
    # The lab's rsyslogd has a second output that only takes alert and
    # above: "<messages>.alert".
    sock, messages = lab.start_rsyslog()
    lab.start("lb1", 150, syslog_sock=sock)
    wait_for(lambda: os.path.exists(messages + ".alert") and
             "cluster web: init -> active" in open(messages + ".alert").read(), 10,
             "the role change in the alert-only file")
    assert "heartbeat to peer" not in open(messages + ".alert").read()  # notice stays out
    assert lab.stop("lb1") == 0


def test_sigterm_hands_over(lab):
    start_pair(lab)
    assert lab.stop("lb1", signal.SIGTERM) == 0
    # By the time lb1 has exited, lb2 holds the VIPs: a handover, not a timeout.
    assert lab.has_vip("lb2") and lab.has_vip("lb2", VIP6)
    assert not lab.has_vip("lb1") and not lab.has_vip("lb1", VIP6)
    r2 = roles(lab.log("lb2"))
    assert ("standby", "active", "peer lb1 is standing down") in r2, r2
    r1 = roles(lab.log("lb1"))
    assert ("active", "standby", "directord is stopping; peer lb2 took over") in r1, r1
    wait_for(lambda: lab.client_neigh(VIP4) == lab.mac("lb2") or lab.client_ping(VIP4), 10, "client reaches VIP")
    assert lab.client_neigh(VIP4) == lab.mac("lb2")


def test_one_link_cut_no_failover(lab):
    start_pair(lab)
    lab.link("b1", False)  # lb2's heartbeat link 1 (hb2 segment)
    wait_for(lambda: "heartbeat link 1 (198.51.100.2 -> 198.51.100.1 dev eth1) down" in lab.log("lb2"), 10,
             "lb2 to notice link 1 down")
    n1, n2 = len(roles(lab.log("lb1"))), len(roles(lab.log("lb2")))
    # Ten dead times on one link: no role change anywhere.
    hold(lambda: lab.has_vip("lb1") and not lab.has_vip("lb2"), 2.0, "lb1 active, lb2 standby")
    assert len(roles(lab.log("lb1"))) == n1 and len(roles(lab.log("lb2"))) == n2
    lab.link("b1", True)
    wait_for(lambda: "heartbeat link 1 (198.51.100.2 -> 198.51.100.1 dev eth1) up" in
             lab.log("lb2").split("link 1 (198.51.100.2 -> 198.51.100.1 dev eth1) down")[-1], 10, "link 1 back")


def test_both_links_cut_then_restored(lab):
    start_pair(lab)
    lab.link("b0", False)
    lab.link("b1", False)
    wait_for(lambda: ("standby", "active") in [r[:2] for r in roles(lab.log("lb2"))], 10, "lb2 active")
    assert any(r[2].endswith("on 2/2 links") for r in roles(lab.log("lb2")))
    assert lab.has_vip("lb1") and lab.has_vip("lb2")  # split brain, as designed
    cap = lab.tcpdump("client", "arp")
    mac1 = lab.mac("lb1")
    # Say the client followed lb2 while the segment was split: only a fresh
    # announcement from the survivor brings it back.
    hbnet.sh("ip", "-n", lab.ns["client"], "neigh", "replace", VIP4, "lladdr", lab.mac("lb2"),
             "dev", "eth0", "nud", "stale")
    lab.link("b0", True)
    lab.link("b1", True)
    # Priority decides: lb2 (100) yields, lb1 (150) keeps it and announces again.
    wait_for(lambda: any(r[:2] == ("active", "standby") and r[2].startswith("split brain: peer lb1 is active too")
                         for r in roles(lab.log("lb2"))), 10, "lb2 to yield")
    wait_for(lambda: not lab.has_vip("lb2"), 10, "lb2 to drop the VIP")
    assert lab.has_vip("lb1")
    # lb1 announces again: it saw lb2 active too, or (when lb2 yielded on
    # the first keepalive it heard, before lb1 heard it say active) it
    # heard its peer again after the silence.
    wait_for(lambda: "split brain: peer lb2 is active too; we have precedence" in lab.log("lb1") or
             "peer lb2 heard again: announcing the VIPs again" in lab.log("lb1"), 10,
             "lb1 to announce again")
    wait_for(lambda: re.search(rf"^\S+ {mac1} > ff:ff:ff:ff:ff:ff.*Request who-has {VIP4} tell {VIP4}",
                               open(cap).read(), re.M), 10, "lb1's GARP after the links came back")
    wait_for(lambda: lab.client_neigh(VIP4) == mac1, 10, "client back on lb1")
    # And it stays settled.
    hold(lambda: lab.has_vip("lb1") and not lab.has_vip("lb2"), 1.0, "settled roles")
    # One episode, one burst of garp.count (3 here), however many links
    # came back and however many keepalives said "active" meanwhile.
    garps = re.findall(rf"^\S+ {mac1} > ff:ff:ff:ff:ff:ff.*Request who-has {VIP4} tell {VIP4}",
                       open(cap).read(), re.M)
    assert 1 <= len(garps) <= 3, garps
    assert lab.log("lb1").count("we have precedence") <= 1, lab.log("lb1")


def send_from_client(lab, payload, src, dst="192.0.2.2", sport=7694):
    """Spoofed UDP datagram from the client namespace (same segment)."""
    code = ("import sys\nfrom scapy.all import IP, UDP, Raw, send, conf\nconf.verb = 0\n"
            f"send(IP(src='{src}', dst='{dst}')/UDP(sport={sport}, dport=7694)/Raw(bytes.fromhex(sys.argv[1])), iface='eth0')\n")
    hbnet.sh("ip", "netns", "exec", lab.ns["client"], "/usr/bin/python3", "-c", code, payload.hex())


def capture_heartbeat(lab):
    """One real heartbeat from lb1, as received in lb2's namespace."""
    code = ("from scapy.all import sniff, UDP, IP, conf\nconf.verb = 0\n"
            "p = sniff(iface='eth0', filter='udp and src host 192.0.2.1 and dst port 7694', count=1, timeout=10)\n"
            "print(bytes(p[0][UDP].payload).hex())\n")
    r = hbnet.sh("ip", "netns", "exec", lab.ns["lb2"], "/usr/bin/python3", "-c", code)
    return bytes.fromhex(r.stdout.strip())


def record_heartbeats(lab, count):
    """`count` of lb1's keepalives on link 0 as lb2 receives them: [(t, bytes)]."""
    code = ("from scapy.all import sniff, UDP, conf\nconf.verb = 0\n"
            f"p = sniff(iface='eth0', filter='udp and src host 192.0.2.1 and dst port 7694', count={count}, timeout=20)\n"
            "for x in p: print(repr(float(x.time)), bytes(x[UDP].payload).hex())\n")
    r = hbnet.sh("ip", "netns", "exec", lab.ns["lb2"], "/usr/bin/python3", "-c", code, timeout=30)
    return [(float(t), bytes.fromhex(h)) for t, h in (l.split() for l in r.stdout.splitlines())]


REPLAYER = """
import sys, time
from scapy.all import IP, UDP, Raw, send, conf
conf.verb = 0
rec = [(float(t), bytes.fromhex(h)) for t, h in (l.split() for l in open(sys.argv[1]))]
pkts = [IP(src='192.0.2.1', dst='192.0.2.2')/UDP(sport=7694, dport=7694)/Raw(p) for _, p in rec]
print('sending', flush=True)
t0, r0 = time.monotonic(), rec[0][0]
for (t, _), pkt in zip(rec, pkts):
    time.sleep(max(0.0, (t - r0) - (time.monotonic() - t0)))
    send(pkt, iface='eth0')
"""


def drops(log):
    m = re.findall(r"dropped so far: (\d+) malformed, (\d+) version, (\d+) auth, (\d+) replay, (\d+) unknown sender",
                   log)
    return tuple(map(int, m[-1])) if m else (0, 0, 0, 0, 0)


def test_forged_replayed_wrong_key_change_nothing(lab):
    start_pair(lab)
    real = capture_heartbeat(lab)
    assert real[:4] == b"DDHB"
    n2 = len(roles(lab.log("lb2")))
    standing_down = [("web", "active", 150, 1)]
    # 1. Wrong key, claiming lb1 stands down (would make lb2 take over).
    send_from_client(lab, hbnet.hb_packet("lb1", standing_down, key=b"not-the-key-0123456789",
                                          generation=2**62, seq=1), "192.0.2.1")
    wait_for(lambda: drops(lab.log("lb2"))[2] == 1, 10, "auth drop counted")
    # 2. Replay of a real packet from lb1.
    send_from_client(lab, real, "192.0.2.1")
    wait_for(lambda: drops(lab.log("lb2"))[3] == 1, 10, "replay drop counted")
    # 3. Right key, unknown node name.
    send_from_client(lab, hbnet.hb_packet("lb9", standing_down, generation=2**62), "192.0.2.1")
    wait_for(lambda: drops(lab.log("lb2"))[4] == 1, 10, "unknown node counted")
    # 4. Right key, but from an address that is not lb1's link address.
    send_from_client(lab, hbnet.hb_packet("lb1", standing_down, generation=2**62), "192.0.2.66")
    wait_for(lambda: drops(lab.log("lb2"))[4] == 2, 10, "unknown address counted")
    # 5. Garbage, and 6. another protocol version.
    send_from_client(lab, b"DDHB" + os.urandom(40), "192.0.2.1")
    wait_for(lambda: drops(lab.log("lb2"))[0] == 1, 10, "malformed counted")
    send_from_client(lab, hbnet.hb_packet("lb1", standing_down, version=9), "192.0.2.1")
    wait_for(lambda: drops(lab.log("lb2"))[1] == 1, 10, "version counted")
    assert drops(lab.log("lb2")) == (1, 1, 1, 1, 2)
    # Nothing changed hands.
    hold(lambda: lab.has_vip("lb1") and not lab.has_vip("lb2"), 0.5, "roles unchanged")
    assert len(roles(lab.log("lb2"))) == n2
    assert "peer lb1 restarted" not in lab.log("lb2")


def test_replay_after_restart_is_not_believed(lab):
    """A recording of the active's keepalives, replayed in order to a
    standby that restarted while the active is dead, must not keep it
    passive: the anti-replay window died with the old process, but only a
    keepalive echoing the new generation is believed."""
    start_pair(lab)
    rec = record_heartbeats(lab, 60)  # 3 s of keepalives at 50 ms
    assert len(rec) == 60
    path = os.path.join(lab.dir, "recording")
    with open(path, "w") as f:
        f.writelines(f"{t!r} {p.hex()}\n" for t, p in rec)
    lab.stop("lb2")
    lab.procs["lb1"].kill()
    lab.link("a1", False)
    replayer = subprocess.Popen(["ip", "netns", "exec", lab.ns["client"], "/usr/bin/python3", "-c",
                                 REPLAYER, path], stdout=subprocess.PIPE, text=True)
    try:
        assert replayer.stdout.readline().strip() == "sending"
        lab.start("lb2", 100)
        wait_for(lambda: lab.has_vip("lb2"), 10, "lb2 to take over despite the replay")
        assert replayer.poll() is None, "lb2 took over only after the replay ended"
    finally:
        replayer.kill()
        replayer.wait()
    log = lab.log("lb2")
    since_restart = log[log.rindex("started as node lb2"):]
    assert "does not echo this director's generation yet" in since_restart
    assert "peer lb1 alive" not in since_restart
    r = roles(log)
    assert r[-1][:2] == ("init", "active"), r


def test_peer_with_another_key_is_raised(lab):
    """Both go active (neither can believe the other), but at once and
    loudly: an alert naming the cause, status and metrics say it."""
    lab.start("lb1", 150)
    wait_for(lambda: lab.has_vip("lb1"), 10, "lb1 active")
    nslab = hbnet.nslab
    nslab.write_key(lab, b"another-key-0123456789abcdef", name="other.key")
    path = lab.conf("lb2", 100)
    with open(path) as f:
        text = f.read().replace("/hb.key", "/other.key")
    with open(path, "w") as f:
        f.write(text)
    lab.procs["lb2"] = nslab.start_directord(lab, lab.hosts["lb2"], "lb2", path, None,
                                             log=lab.log_path("lb2"))
    wait_for(lambda: "keepalives fail authentication: check key_file" in lab.log("lb2"), 10, "the alert")
    assert "alert" in next(l for l in lab.log("lb2").splitlines() if "fail authentication" in l)
    wait_for(lambda: lab.has_vip("lb2"), 10, "lb2 active too")
    r = roles(lab.log("lb2"))
    assert r[-1][:2] == ("init", "active") and "heard but not believed" in r[-1][2], r
    st = hbnet.ctl(lab, "lb2", "status").stdout
    assert "PROBLEM (auth)" in st, st
    m = hbnet.ctl(lab, "lb2", "metrics").stdout
    assert 'directord_peer_problem{peer="lb1",problem="auth"} 1' in m, m


def test_key_changed_on_the_standby(lab):
    """The standby's key changes while the pair runs (what the chaos run
    found): its role change gives the true reason, and once the key is
    right again the pair settles with the client back on the winner, who
    never saw the loser say active (the loser yields on the first keepalive
    it believes)."""
    start_pair(lab)
    mac1, mac2 = lab.mac("lb1"), lab.mac("lb2")
    assert lab.client_ping(VIP4) and lab.client_neigh(VIP4) == mac1
    nslab = hbnet.nslab
    nslab.write_key(lab, b"another-key-0123456789abcdef", name="other.key")
    path = lab.conf("lb2", 100)
    good = open(path).read()
    with open(path, "w") as f:
        f.write(good.replace("/hb.key", "/other.key"))
    lab.procs["lb2"].signal(signal.SIGHUP)
    wait_for(lambda: lab.has_vip("lb2"), 10, "lb2 active on the wrong key")
    r = roles(lab.log("lb2"))
    assert r[-1][:2] == ("standby", "active"), r
    assert r[-1][2] == "peer lb1 heard but not believed: its keepalives fail authentication", r
    wait_for(lambda: lab.client_neigh(VIP4) == mac2, 10, "client on lb2 (it announced)")
    with open(path, "w") as f:
        f.write(good)
    lab.procs["lb2"].signal(signal.SIGHUP)
    wait_for(lambda: not lab.has_vip("lb2"), 10, "lb2 to yield")
    assert lab.has_vip("lb1")
    wait_for(lambda: lab.client_neigh(VIP4) == mac1, 10, "client back on lb1")
    assert "peer lb2 heard again: announcing the VIPs again" in lab.log("lb1")


def test_standby_without_gateway_does_not_take_over(lab):
    extra = 'gateway = "192.0.2.50"; ping_interval_ms = 100; ping_timeout_ms = 100; ping_fall = 3;'
    lab.start("lb1", 150, extra=extra)
    wait_for(lambda: lab.has_vip("lb1"), 10, "lb1 active")
    lab.start("lb2", 100, extra=extra)
    wait_for(lambda: ("init", "standby", "peer lb1 is active") in roles(lab.log("lb2")), 10, "lb2 standby")
    # lb2 loses its way to the gateway (and only lb2).
    hbnet.sh("ip", "-n", lab.ns["lb2"], "route", "add", "blackhole", "192.0.2.50/32")
    wait_for(lambda: ("standby", "fault", "gateway 192.0.2.50 unreachable (3 probes lost)") in roles(lab.log("lb2")),
             10, "lb2 in fault")
    lab.procs["lb1"].kill()
    lab.link("a0", False)
    lab.link("a1", False)
    wait_for(lambda: "peer lb1" in lab.log("lb2") and "0/2 links up" in lab.log("lb2"), 10, "lb2 to lose lb1")
    hold(lambda: not lab.has_vip("lb2"), 1.0, "lb2 without the VIP")
    # Gateway back: fault clears, and with lb1 gone lb2 now takes over.
    hbnet.sh("ip", "-n", lab.ns["lb2"], "route", "del", "blackhole", "192.0.2.50/32")
    wait_for(lambda: lab.has_vip("lb2"), 10, "lb2 active once the gateway answers")
    r = roles(lab.log("lb2"))
    assert ("fault", "standby", "fault cleared") in r, r
    assert r[-1][:2] == ("standby", "active"), r


def test_garp_reply_mode_and_refresh(lab):
    """garp.mode = "reply", one announcement at takeover, then a refresh
    every 200 ms while active; none from the standby."""
    garp = 'count = 1; interval_ms = 100; mode = "reply"; refresh_ms = 200;'
    cap = lab.tcpdump("client", "arp")
    lab.start("lb1", 150, garp=garp)
    wait_for(lambda: lab.has_vip("lb1"), 10, "lb1 active")
    lab.start("lb2", 100, garp=garp)
    wait_for(lambda: ("init", "standby", "peer lb1 is active") in roles(lab.log("lb2")), 10, "lb2 standby")
    mac1, mac2 = lab.mac("lb1"), lab.mac("lb2")
    pat = re.compile(rf"^\S+ {mac1} > ff:ff:ff:ff:ff:ff.*Reply {re.escape(VIP4)} is-at {mac1}", re.M)
    wait_for(lambda: len(pat.findall(open(cap).read())) >= 4, 10, "takeover announcement plus refreshes")
    assert "Request who-has 192.0.2.100 tell 192.0.2.100" not in open(cap).read()
    assert not re.search(rf"^\S+ {mac2} > .*{re.escape(VIP4)} is-at", open(cap).read(), re.M)


def test_ipv6_heartbeat_link(lab):
    """Link 0 over IPv6 (2001:db8::1 <-> ::2), link 1 over IPv4: both carry
    heartbeats, and losing the peer is seen on both."""
    start_pair(lab, link0_v6=True)
    # start_pair returns once lb2 is standby, which one link is enough for:
    # the other link's first heartbeat may still be on its way.
    for line in ("heartbeat link 0 (2001:db8::2 -> 2001:db8::1 dev eth0) up",
                 "heartbeat link 1 (198.51.100.2 -> 198.51.100.1 dev eth1) up"):
        wait_for(lambda: line in lab.log("lb2"), 10, line)
    lab.procs["lb1"].kill()
    wait_for(lambda: lab.has_vip("lb2"), 10, "lb2 to take over")
    assert any(r[:2] == ("standby", "active") and r[2].endswith("on 2/2 links") for r in roles(lab.log("lb2")))
