# SPDX-License-Identifier: GPL-2.0-or-later
"""directord-import against the real kernel: for each corpus file that can
run (tests/import/corpus/guest-*.conf), keepalived programs IPVS from the
original file, the table is read (`ipvsadm -Ln`, normalised: services and
their real servers sorted, connection counters dropped), keepalived stops
and the table is flushed; then directord runs the converted file and must
program the same table.

Runs inside the QEMU guest (pytest process), one namespace per file.
"""
import os
import subprocess

import pytest

import nslab as labmod
from nslab import poll

CORPUS = os.path.join(labmod.src_dir(), "tests", "import", "corpus")

# file -> (the services keepalived programs, what it must show once
# settled: real server -> weight, for those that change after the start).
FILES = {
    "guest-nat.conf": (["TCP 192.0.2.100:443", "TCP 192.0.2.100:80", "UDP 192.0.2.100:53"], {}),
    "guest-fwmark-v6.conf": (["FWM 5", "FWM 6", "TCP [2001:db8:10::10]:80"], {}),
    # 198.51.100.51 is unreachable: its TCP check fails and
    # inhibit_on_failure keeps it at weight 0 (two addresses, one mark).
    "guest-group-inhibit.conf": (["FWM 9", "TCP 203.0.113.40:80", "TCP 203.0.113.41:80"],
                                 {"198.51.100.51:80": 0, "198.51.100.52:80": 2}),
}


def table(ns):
    """The IPVS table as comparable values, sorted."""
    out = []
    for s in ns.ipvs():
        dests = sorted((d.key, d.forward, d.weight) for d in s.dests)
        out.append((s.key, s.scheduler, tuple(sorted(s.flags)), s.persistent, s.netmask,
                    tuple(dests)))
    return sorted(out)


def settled(tab, services, weights):
    if sorted(svc[0] for svc in tab) != sorted(services):
        return False
    for svc in tab:
        for key, _fwd, weight in svc[5]:
            if key in weights and weights[key] != weight:
                return False
    return True


def convert(lab, name):
    """directord-import NAME, made runnable in a lab: its key, and state,
    pid and control paths in lab.dir (the guest's / is read-only)."""
    key = os.path.join(lab.dir, "hb.key")
    if not os.path.exists(key):
        labmod.run([labmod.directord_bin(), "--genkey", key])
    imp = os.path.join(labmod.build_dir(), "import", "directord-import")
    r = subprocess.run([imp, "-i", "lb1", "--key-file", key, name], cwd=CORPUS,
                       capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stderr
    text = r.stdout.replace(f'key_file = "{key}";',
                            f'key_file = "{key}"; state_file = "{lab.dir}/generation";')
    head = (f'pid_file = "{lab.dir}/directord.pid";\n'
            f'control = {{ socket = "{lab.dir}/directord.sock"; }};\n')
    conf = os.path.join(lab.dir, name.replace(".conf", ".dd.conf"))
    with open(conf, "w") as f:
        f.write(head + text)
    labmod.run([labmod.directord_bin(), "-t", "-f", conf])
    return conf


@pytest.mark.parametrize("name", sorted(FILES))
def test_same_ipvs_table(lab, ipvs_modules, name):
    services, weights = FILES[name]
    d = lab.netns("imp")
    # The interfaces the files name, up, with the heartbeat's local address.
    d.ip("link", "add", "eth0", "type", "veth", "peer", "name", "eth1")
    d.link_up("eth0")
    d.link_up("eth1")
    d.addr_add("eth0", "192.0.2.1/24")
    d.addr_add("eth0", "2001:db8::1/64")
    conf = convert(lab, name)

    pid = os.path.join(lab.dir, "ka")
    ka = d.spawn("keepalived", "--dont-fork", "--log-console", "--log-detail",
                 "-i", "lb1", "--use-file", os.path.join(CORPUS, name),
                 "--pid", pid + ".pid", "--vrrp_pid", pid + "-vrrp.pid",
                 "--checkers_pid", pid + "-check.pid", name="keepalived")
    want = poll(lambda: table(d), timeout=60, interval=0.5,
                until=lambda t: settled(t, services, weights) or not ka.alive(),
                what=f"keepalived to program {name}")
    assert ka.alive(), ka.log()
    # Settled means it stays so (a check result could still be on its way).
    labmod.hold(lambda: table(d) == want, 2, what="keepalived's table to stay")
    ka.stop()
    d.ipvsadm("-C")
    assert table(d) == []

    dd = labmod.start_directord(lab, d, "lb1", conf)
    try:
        got = poll(lambda: table(d), timeout=60, interval=0.5,
                   until=lambda t: t == want or not dd.alive(),
                   what=f"directord to program the table keepalived programmed from {name}")
    except AssertionError:
        print(dd.log())
        raise
    assert dd.alive(), dd.log()
    assert got == want
    print(f"{name}: same table, {len(got)} services:", *got, sep="\n  ")
    assert all(svc[5] for svc in got), got    # every service has its real servers
    dd.stop()
