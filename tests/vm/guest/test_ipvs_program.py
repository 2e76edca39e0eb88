# SPDX-License-Identifier: GPL-2.0-or-later
"""directord programs IPVS exactly as configured, adopts what is already
there without a single change, and never touches services it does not own.

Runs inside the QEMU guest (pytest process). The forwarding plane is driven
by tests/dd-ipvs-apply: the real config loader, IPVS backend and reconciler,
as the daemon runs them.
"""
import os
import re

from nslab import build_dir, LabError

TOOL = os.path.join(build_dir(), "tests", "dd-ipvs-apply")

EXACT_CONF = """
clusters = ( {
  name = "lab";
  vips = ( { address = "203.0.113.10"; interface = "eth0"; } );
  services = (
    { name = "web"; protocol = "tcp"; address = "203.0.113.10"; port = 80;
      scheduler = "wrr"; forward = "nat"; check = { type = "none"; };
      real_servers = ( { address = "198.51.100.21"; port = 8080; weight = 2;
                         upper_threshold = 100; lower_threshold = 10; },
                       { address = "198.51.100.22"; port = 8080; } ); },
    { name = "dns"; protocol = "udp"; address = "203.0.113.10"; port = 53;
      scheduler = "rr"; forward = "dr"; ops = true; check = { type = "none"; };
      real_servers = ( { address = "198.51.100.23"; port = 53; } ); },
    { name = "diameter"; protocol = "sctp"; address = "203.0.113.11"; port = 3868;
      scheduler = "lc"; forward = "tun"; check = { type = "none"; };
      real_servers = ( { address = "198.51.100.24"; port = 3868; weight = 4; } ); },
    { name = "marked"; fwmark = 7; scheduler = "sh"; sched_flags = [ "sh-port" ];
      persistence_timeout_s = 300; persistence_netmask = "255.255.255.0";
      check = { type = "none"; };
      real_servers = ( { address = "198.51.100.25"; } ); },
    { name = "marked6"; fwmark = 8; family = "inet6"; scheduler = "wlc";
      check = { type = "none"; };
      real_servers = ( { address = "2001:db8:1::7"; forward = "nat"; } ); },
    { name = "web6"; protocol = "tcp"; address = "2001:db8::10"; port = 443;
      scheduler = "mh"; sched_flags = [ "mh-fallback" ]; forward = "tun";
      persistence_timeout_s = 60; persistence_netmask = 64;
      check = { type = "none"; };
      real_servers = ( { address = "2001:db8:1::5"; port = 443; weight = 3; },
                       { address = "2001:db8:1::6"; port = 443; forward = "dr"; } ); },
    { name = "late"; protocol = "tcp"; address = "203.0.113.12"; port = 25;
      scheduler = "sed"; check = { type = "tcp"; initial = "down"; };
      real_servers = ( { address = "198.51.100.26"; port = 25; } ); }
  );
} );
"""

# What `ipvsadm -Ln` must show: (key, scheduler, flags, persistent, netmask,
# [(dest, forward, weight)]); thresholds are checked separately.
EXPECTED = {
    "TCP 203.0.113.10:80": ("wrr", [], None, None,
                            [("198.51.100.21:8080", "Masq", 2), ("198.51.100.22:8080", "Masq", 1)]),
    "UDP 203.0.113.10:53": ("rr", ["ops"], None, None, [("198.51.100.23:53", "Route", 1)]),
    "SCTP 203.0.113.11:3868": ("lc", [], None, None, [("198.51.100.24:3868", "Tunnel", 4)]),
    "FWM 7": ("sh", ["sh-port"], 300, "255.255.255.0", [("198.51.100.25:0", "Route", 1)]),
    "FWM 8": ("wlc", ["IPv6"], None, None, [("[2001:db8:1::7]:0", "Masq", 1)]),
    "TCP [2001:db8::10]:443": ("mh", ["mh-fallback"], 60, "64",
                               [("[2001:db8:1::5]:443", "Tunnel", 3), ("[2001:db8:1::6]:443", "Route", 1)]),
    # check tcp with initial down: configured, but idle until it earns traffic
    "TCP 203.0.113.12:25": ("sed", [], None, None, [("198.51.100.26:25", "Route", 0)]),
}


def write_conf(lab, name, text):
    path = os.path.join(lab.dir, name)
    with open(path, "w") as f:
        f.write(text)
    return path


def apply(ns, *args, check=True):
    """Runs dd-ipvs-apply in `ns`; returns (stdout steps as dicts, stderr)."""
    r = ns.run(TOOL, *args, check=False, timeout=300)
    if check and r.returncode != 0:
        raise LabError(f"dd-ipvs-apply failed ({r.returncode}):\n{r.stdout}\n{r.stderr}")
    steps = []
    for line in r.stdout.splitlines():
        if line.startswith("step="):
            steps.append(dict(kv.split("=", 1) for kv in line.split()))
    return steps, r.stderr


def table(ns):
    out = {}
    for s in ns.ipvs():
        flags = sorted(s.flags)
        out[s.key] = (s.scheduler, flags, s.persistent, s.netmask,
                      sorted((d.key, d.forward, d.weight) for d in s.dests))
    return out


def add_foreign(ns):
    """Entries an operator added by hand for other VIPs."""
    ns.ipvsadm("-A", "-t", "192.0.2.200:80", "-s", "rr")
    ns.ipvsadm("-a", "-t", "192.0.2.200:80", "-r", "192.0.2.201:80", "-m", "-w", "3")
    ns.ipvsadm("-A", "-f", "99", "-s", "lc")


FOREIGN = {
    "TCP 192.0.2.200:80": ("rr", [], None, None, [("192.0.2.201:80", "Masq", 3)]),
    "FWM 99": ("lc", [], None, None, []),
}


def test_exact_programming_and_adoption(lab, ipvs_modules):
    d = lab.netns("dir")
    conf = write_conf(lab, "exact.conf", EXACT_CONF)
    steps, err = apply(d, conf)
    assert steps[0]["step"] == "start"
    assert int(steps[0]["ops"]) == 7 + 9, (steps, err)  # 7 services, 9 real servers
    assert int(steps[0]["failed"]) == 0, err
    want = {k: (v[0], sorted(v[1]), v[2], v[3], sorted(v[4])) for k, v in EXPECTED.items()}
    assert table(d) == want

    # thresholds: ipvsadm shows them with --thresholds
    out = d.ipvsadm("-Ln", "--thresholds", "-t", "203.0.113.10:80").stdout
    assert re.search(r"198\.51\.100\.21:8080\s+100\s+10\b", out), out
    assert re.search(r"198\.51\.100\.22:8080\s+0\s+0\b", out), out

    # One log line per service added, with its real-server count.
    assert "service web (tcp 203.0.113.10:80): added, scheduler wrr, 2 real servers (config)" in err, err

    # A second run (a daemon restart) adopts everything: zero operations.
    steps, err = apply(d, conf)
    assert int(steps[0]["ops"]) == 0, (steps, err)
    assert table(d) == want


def test_foreign_entries_untouched(lab, ipvs_modules):
    d = lab.netns("dir")
    add_foreign(d)
    before = d.ipvsadm("-Ln").stdout
    conf = write_conf(lab, "exact.conf", EXACT_CONF)
    # Program everything, then reload into a config with only one service:
    # ours go (their servers have no connections, so without a drain wait),
    # the foreign ones stay exactly as they were.
    small = write_conf(lab, "small.conf", EXACT_CONF.split("    { name = \"dns\"")[0].rstrip().rstrip(",")
                       + "\n  );\n} );\n")
    steps, err = apply(d, conf, "reload", small, "settle", "60")
    assert int(steps[0]["failed"]) == 0, err
    reload = steps[1]
    # 6 services and their 7 real servers deleted, nothing else
    assert int(reload["ops"]) == 6 + 7, (steps, err)
    got = table(d)
    want = dict(FOREIGN)
    want["TCP 203.0.113.10:80"] = EXPECTED["TCP 203.0.113.10:80"]
    assert got == {k: (v[0], sorted(v[1]), v[2], v[3], sorted(v[4])) for k, v in want.items()}
    # and byte for byte the same listing lines for the foreign entries
    after = d.ipvsadm("-Ln").stdout
    for line in before.splitlines()[3:]:
        assert line in after, (before, after)
    assert "192.0.2.200" not in err and "fwmark 99" not in err, err


def test_unknown_service_config_error_is_clear(lab, ipvs_modules):
    """A scheduler module the kernel lacks fails with the kernel's reason."""
    d = lab.netns("dir")
    conf = write_conf(lab, "bad.conf", EXACT_CONF.replace('scheduler = "lc"', 'scheduler = "twos"'))
    # twos exists only in kernels newer than Debian 12's 6.1: the add fails,
    # the rest is still programmed, and the error names the service.
    steps, err = apply(d, conf, check=False)
    assert re.search(r"service diameter \(sctp 203\.0\.113\.11:3868\): cannot add: ", err), err
    keys = {s.key for s in d.ipvs()}
    assert "TCP 203.0.113.10:80" in keys and "SCTP 203.0.113.11:3868" not in keys
