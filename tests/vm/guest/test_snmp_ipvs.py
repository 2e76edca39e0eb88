# SPDX-License-Identifier: GPL-2.0-or-later
"""The SNMP subagent's forwarding-plane side with real IPVS (in the QEMU
guest): the service and real-server tables show state, kernel weight and
connections; a real server going down and up again sends
ddRealServerStateChange with the service's servers up and in total, and
the quorum (2 of 2) lost and regained sends ddQuorumLost and
ddQuorumRegained, as a private snmptrapd receives them.

Runs inside the guest (pytest process): a standalone director (no peer) in
the NAT site of nslab.nat_site, with a private snmpd and snmptrapd in its
namespace (nslab.Snmpd; the host's net-snmp binaries, through the shared
root). Needs a build with configure --enable-snmp."""
import os
import re
import subprocess

import pytest

import nslab as labmod
from nslab import poll

VIP = "192.0.2.100"
RS = ["198.51.100.11", "198.51.100.12"]
# DIRECTORD-MIB notifications (netSnmpPlaypen.4.0.N) and objects (.4.1...)
MIB = r"\.1\.3\.6\.1\.4\.1\.8072\.9999\.9999\.4"

CONF = """
node = "lb1";
pid_file = "{dir}/directord.pid";
control = {{ socket = "{dir}/ctl.sock"; }};
heartbeat = {{ key_file = "{dir}/hb.key"; state_file = "{dir}/generation"; }};
{snmp}
clusters = (
  {{ name = "web";
     vips = ( {{ address = "{vip}/24"; interface = "eth0"; }} );
     services = (
       {{ name = "http"; protocol = "tcp"; address = "{vip}"; port = 80;
          scheduler = "rr"; forward = "nat"; quorum = 2;
          check = {{ type = "tcp"; interval_ms = 300; timeout_ms = 250; rise = 1; fall = 1; }};
          real_servers = ( {{ address = "{rs1}"; port = 80; weight = 3; }},
                           {{ address = "{rs2}"; port = 80; }} ); }}
     );
  }}
);
"""

pytestmark = pytest.mark.skipif(not labmod.directord_has_snmp() or not labmod.have_snmp_tools(),
                                reason="needs a build with --enable-snmp and net-snmp's tools")


def ctl(lab, *args):
    return subprocess.run([os.path.join(labmod.build_dir(), "directord/directorctl"),
                           "-s", os.path.join(lab.dir, "ctl.sock"), *args],
                          capture_output=True, text=True, timeout=60)


def test_real_server_tables_and_traps(lab, ipvs_modules):
    cli, d, rs = labmod.nat_site(lab)
    httpd = [lab.http_server(r, RS[i], 80, body=f"rs{i + 1}\n") for i, r in enumerate(rs)]
    snmp = labmod.Snmpd(lab, d, "lb1")
    key = labmod.write_key(lab, b"0123456789abcdef0123456789abcdef")
    assert key
    conf = os.path.join(lab.dir, "directord.conf")
    with open(conf, "w") as f:
        f.write(CONF.format(dir=lab.dir, vip=VIP, rs1=RS[0], rs2=RS[1], snmp=snmp.snmp_conf()))
    p = d.spawn(os.path.join(labmod.build_dir(), "directord/directord"), "-n", "-f", conf, name="directord")
    try:
        poll(lambda: ctl(lab, "version").returncode == 0, 60, what="control socket")
    except TimeoutError:
        raise AssertionError(f"no control socket; directord log:\n{p.log()}")

    def walk():
        return snmp.walk("DIRECTORD-MIB::ddObjects", timeout=5)

    w = poll(lambda: (lambda t: t if "ddRealServerState.1.2 = INTEGER: up(1)" in t and
                      "ddRealServerState.1.1 = INTEGER: up(1)" in t and
                      "ddRealServerWeight.1.1 = Gauge32: 3" in t else None)(walk()),
             90, what="both real servers up with their weights in the MIB")
    assert "ddServiceName.1 = STRING: http" in w, w
    assert "ddServiceAddress.1 = STRING: 192.0.2.100:80" in w
    assert "ddServiceInKernel.1 = INTEGER: true(1)" in w
    assert "ddServiceScheduler.1 = STRING: rr" in w
    assert "ddServiceRealServersUp.1 = Gauge32: 2" in w and "ddServiceRealServersTotal.1 = Gauge32: 2" in w
    assert "ddServiceQuorumState.1 = INTEGER: met(2)" in w
    assert "ddRealServerAddress.1.1 = STRING: 198.51.100.11" in w and "ddRealServerPort.1.2 = Gauge32: 80" in w
    assert "ddRealServerConfigWeight.1.1 = Gauge32: 3" in w

    # connections show up in the real-server table
    for _ in range(4):
        cli.http_get(f"http://{VIP}/")
    poll(lambda: sum(int(n) for n in re.findall(r"ddRealServerConnections\.1\.\d = Counter64: (\d+)",
                                                walk())) >= 4, 60, what="connections counted in the MIB")

    # rs1 down: ddRealServerStateChange (down, 1 up of 2), then ddQuorumLost
    httpd[0].stop()
    down = re.compile(MIB + r"\.0\.2\s.*?" + MIB + r"\.1\.6\.1\.2\.1\.1 = STRING: \"?198\.51\.100\.11.*?" +
                      MIB + r"\.1\.6\.1\.4\.1\.1 = INTEGER: \w*\(?2\b.*?" +
                      MIB + r"\.1\.5\.1\.9\.1 = Gauge32: 1\s.*?" + MIB + r"\.1\.5\.1\.8\.1 = Gauge32: 2\b", re.S)
    poll(lambda: down.search(snmp.traps()), 60, what="ddRealServerStateChange (down, 1/2)")
    lost = re.compile(MIB + r"\.0\.3\s.*?" + MIB + r"\.1\.5\.1\.2\.1 = STRING: \"?http.*?" +
                      MIB + r"\.1\.5\.1\.10\.1 = Gauge32: 2\s.*?" + MIB + r"\.1\.5\.1\.9\.1 = Gauge32: 1\s", re.S)
    poll(lambda: lost.search(snmp.traps()), 60, what="ddQuorumLost")
    w = poll(lambda: (lambda t: t if "ddRealServerState.1.1 = INTEGER: down(2)" in t else None)(walk()),
             60, what="rs1 down in the MIB")
    assert "ddRealServerWeight.1.1 = Gauge32: 0" in w, w
    assert "ddServiceQuorumState.1 = INTEGER: lost(3)" in w

    # rs1 back: up (2/2), quorum regained
    httpd[0] = lab.http_server(rs[0], RS[0], 80, body="rs1\n")
    up = re.compile(MIB + r"\.0\.2\s.*?" + MIB + r"\.1\.6\.1\.4\.1\.1 = INTEGER: \w*\(?1\b.*?" +
                    MIB + r"\.1\.5\.1\.9\.1 = Gauge32: 2\s", re.S)
    poll(lambda: up.search(snmp.traps()), 60, what="ddRealServerStateChange (up, 2/2)")
    poll(lambda: re.search(MIB + r"\.0\.4\s", snmp.traps()), 60, what="ddQuorumRegained")
    assert p.stop() == 0, p.log()
