"""Finding the gateway: /info.xml, the certificate, and mDNS.

mDNS is tested against a real responder: python-zeroconf registers `_enphase-envoy._tcp` on
127.0.0.1 (multicast on loopback works on Linux without the MULTICAST flag on lo), and the
wizard browses on 127.0.0.1. Instance names and serials are unique per test, so runs in
parallel on the same machine do not see each other's gateways as theirs.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from zeroconf import ServiceInfo, Zeroconf

from enphase_setup import discovery
from enphase_setup.discovery import SERVICE, Found
from enphase_sim import Simulator
from tests.wizard.conftest import ROOT


def test_probe_reads_serial_firmware_and_certificate(sim: Simulator) -> None:
    found = discovery.probe(sim.gateway_host)
    assert found.ok, found.error
    assert found.info is not None
    assert (found.info.serial, found.info.firmware) == (sim.state.serial, sim.state.firmware)
    assert found.fingerprint == sim.cert_sha256


def test_probe_unreachable(sim: Simulator) -> None:
    sim.inject("/info.xml", "down")
    sim.inject("/info", "down")
    found = discovery.probe(sim.gateway_host, timeout=2)
    assert not found.ok and "unreachable" in found.error


def test_probe_falls_back_to_info(sim: Simulator) -> None:
    sim.inject("/info.xml", "status", value=404)
    found = discovery.probe(sim.gateway_host)
    assert found.ok and found.info is not None and found.info.serial == sim.state.serial


@pytest.mark.parametrize(("host", "split"), [
    ("envoy.local", ("envoy.local", 443)), ("192.0.2.1:8443", ("192.0.2.1", 8443)),
    ("[fe80::1]:444", ("fe80::1", 444)), ("[fe80::1]", ("fe80::1", 443)),
])
def test_split_host(host: str, split: tuple[str, int]) -> None:
    assert discovery.split_host(host) == split


LOOPBACK = ["127.0.0.1"]


def gateway(serial: str, address: str = "127.0.0.1", port: int = 80,
            props: dict[str, str] | None = None) -> ServiceInfo:
    """What an IQ Gateway announces: `envoy._enphase-envoy._tcp.local.` at `envoy.local:80`,
    with its serial and firmware in TXT (the names are made unique here)."""
    unique = f"envoy-{uuid.uuid4().hex[:8]}"
    name = f"{unique}.{SERVICE}"
    txt = {"serialnum": serial, "protovers": "8.2.4264", "txtvers": "1"}
    txt.update(props or {})
    return ServiceInfo(SERVICE, name, port=port, properties=txt, server=f"{unique}.local.",
                       addresses=[socket.inet_aton(address)])


@pytest.fixture
def responder() -> Iterator[Zeroconf]:
    """A real mDNS responder on loopback (python-zeroconf)."""
    zc = Zeroconf(interfaces=LOOPBACK)
    yield zc
    zc.unregister_all_services()
    zc.close()


def serial() -> str:
    return str(uuid.uuid4().int)[:12]


def mine(found: list[Found], *serials: str) -> list[Found]:
    return [f for f in found if f.serial in serials]


WAIT = 60.0  # an upper bound only: each browse ends as soon as what was announced is found


def browse(*serials: str, addresses: int = 0, hosts: tuple[str, ...] = ()) -> list[Found]:
    """Browse on loopback until the gateways with `serials` (and `addresses` addresses in
    all, and entries for `hosts`) are found: a wait on the responder, never on a time."""
    def enough(found: list[Found]) -> bool:
        ours = mine(found, *serials)
        return ({f.serial for f in ours} == set(serials)
                and sum(len(f.addresses) for f in ours) >= addresses
                and set(hosts) <= {f.host for f in found})
    return discovery.mdns_browse(WAIT, LOOPBACK, enough)


def test_browse_finds_a_gateway_on_loopback(responder: Zeroconf) -> None:
    sn = serial()
    responder.register_service(gateway(sn))
    found = mine(browse(sn), sn)
    # port 80 in the announcement is the gateway's HTTP port: the API is HTTPS on 443
    assert found == [Found("127.0.0.1", sn, "8.2.4264", "mDNS", ("127.0.0.1",))]


def test_one_gateway_announced_twice_is_listed_once(responder: Zeroconf) -> None:
    sn, other = serial(), serial()
    responder.register_service(gateway(sn, "127.0.0.1"))
    responder.register_service(gateway(sn, "127.0.0.2"))
    responder.register_service(gateway(other, "127.0.0.3"))
    found = mine(browse(sn, other, addresses=3), sn, other)
    # the order in which the two announcements of `sn` resolve varies: compare as sets
    assert sorted((f.serial, sorted(f.addresses)) for f in found) == sorted([
        (sn, ["127.0.0.1", "127.0.0.2"]), (other, ["127.0.0.3"])])


def test_hostile_txt_values_are_dropped(responder: Zeroconf) -> None:
    sn = serial()
    responder.register_service(gateway(sn, "127.0.0.4", props={"protovers": "8\x1b[2J" + "9" * 80}))
    bad = serial() + "\n"
    responder.register_service(gateway(bad, "127.0.0.5"))
    found = browse(sn, hosts=("127.0.0.4", "127.0.0.5"))
    ours = {f.addresses: f for f in found if f.host in ("127.0.0.4", "127.0.0.5")}
    assert ours[("127.0.0.4",)].serial == sn and ours[("127.0.0.4",)].firmware is None
    assert ours[("127.0.0.5",)].serial is None


def test_discover_lists_envoy_local_and_mdns_once(responder: Zeroconf) -> None:
    """envoy.local resolving to the address mDNS found is the same gateway: one entry."""
    sn = serial()
    responder.register_service(gateway(sn, "127.0.0.6"))
    found = discovery.discover(
        timeout=WAIT, browse=lambda _t: mine(browse(sn), sn),
        lookup=lambda _n, _t: ["127.0.0.6"])
    assert found == [Found("127.0.0.6", sn, "8.2.4264", "mDNS + envoy.local", ("127.0.0.6",))]


def test_discover_keeps_envoy_local_when_it_is_another_gateway() -> None:
    found = discovery.discover(
        timeout=0.5, browse=lambda _t: [Found("192.0.2.50", "1", "8", "mDNS", ("192.0.2.50",))],
        lookup=lambda _n, _t: ["192.0.2.51"])
    assert [f.host for f in found] == ["envoy.local", "192.0.2.50"]
    nothing = discovery.discover(timeout=0.5, browse=lambda _t: [], lookup=lambda _n, _t: [])
    assert nothing == []


def test_without_zeroconf_discovery_says_why(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "zeroconf", None)
    assert discovery.mdns_problem() is not None and "zeroconf" in str(discovery.mdns_problem())
    assert discovery.mdns_browse(0.1, LOOPBACK) == []


SYSTEM_PYTHON = "/usr/bin/python3"
DEBIAN_CHECK = """
import json, socket, sys
import zeroconf
from zeroconf import ServiceInfo, Zeroconf
from enphase_setup import discovery
serial = sys.argv[1]
zc = Zeroconf(interfaces=["127.0.0.1"])
zc.register_service(ServiceInfo(discovery.SERVICE, f"envoy-{serial}." + discovery.SERVICE,
    port=80, properties={"serialnum": serial, "protovers": "7.6.175"}, server="envoy.local.",
    addresses=[socket.inet_aton("127.0.0.7")]))
found = [f for f in discovery.mdns_browse(60.0, ["127.0.0.1"],
          lambda found: any(f.serial == serial for f in found)) if f.serial == serial]
zc.unregister_all_services(); zc.close()
print(json.dumps({"version": zeroconf.__version__, "zeroconf": zeroconf.__file__,
                  "found": [[f.host, f.serial, f.firmware] for f in found]}))
"""


def test_debian_python3_zeroconf(tmp_path: Path) -> None:
    """The distribution's python3-zeroconf (0.47 on Debian 12), as the packaged wizard uses it.

    scripts/test installs python3-zeroconf; the system interpreter imports it from
    dist-packages, the way /usr/bin/enphase-setup does (Textual comes from the vendor
    directory, zeroconf never does).
    """
    probe = subprocess.run([SYSTEM_PYTHON, "-c", "import zeroconf"], capture_output=True,
                           check=False)
    if probe.returncode != 0:
        pytest.skip("python3-zeroconf is not installed (./scripts/test installs it)")
    site = tmp_path / "site"
    site.mkdir()
    (site / "enphase_setup").symlink_to(ROOT / "wizard", target_is_directory=True)
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "PYTHONPATH": f"{site}:{ROOT}",
           "ENPHASE_SETUP_VENDOR_DIR": str(tmp_path / "no-vendor")}
    sn = serial()
    out = subprocess.run([SYSTEM_PYTHON, "-c", DEBIAN_CHECK, sn], capture_output=True,
                         text=True, env=env, timeout=120, check=False)
    assert out.returncode == 0, out.stderr
    result = json.loads(out.stdout)
    assert result["zeroconf"].startswith("/usr/lib/python3/dist-packages/")
    vendored = (ROOT / "packaging/wizard-vendor.txt").read_text().lower()
    assert "zeroconf" not in vendored and "ifaddr" not in vendored
    assert result["found"] == [["127.0.0.7", sn, "7.6.175"]], result
