"""Finding the gateway: /info.xml, the certificate, and mDNS (a responder on loopback)."""

from __future__ import annotations

import socket
import struct
import threading
from collections.abc import Iterator

import pytest

from enphase_monitor.simulator import Simulator
from enphase_setup import discovery
from enphase_setup.discovery import Found, encode_name


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


def rr(name: str, rtype: int, data: bytes) -> bytes:
    return encode_name(name) + struct.pack("!HHIH", rtype, 0x8001, 120, len(data)) + data


def announcement(serial: str = "122302045678", port: int = 443) -> bytes:
    """What an IQ Gateway answers to a PTR query (answer + additional records)."""
    service = "_enphase-envoy._tcp.local"
    instance = f"envoy.{service}"
    txt = b"".join(bytes([len(t)]) + t for t in
                   (f"serialnum={serial}".encode(), b"protovers=8.2.4264"))
    header = struct.pack("!6H", 0, 0x8400, 0, 1, 0, 3)
    srv = struct.pack("!3H", 0, 0, port) + encode_name("envoy.local")
    return (header + rr(service, 12, encode_name(instance)) + rr(instance, 33, srv)
            + rr(instance, 16, txt) + rr("envoy.local", 1, socket.inet_aton("192.0.2.50")))


def test_parse_an_announcement() -> None:
    found = discovery.envoys_from(discovery.parse_response(announcement()))
    assert found == [Found("192.0.2.50", "122302045678", "8.2.4264", "mDNS")]


def test_compressed_names_and_other_port() -> None:
    data = announcement(port=8443)
    found = discovery.envoys_from(discovery.parse_response(data))
    assert found[0].host == "192.0.2.50:8443"


def test_malformed_packets_raise_valueerror() -> None:
    with pytest.raises(ValueError):
        discovery.parse_response(b"\x00\x01")
    with pytest.raises(ValueError):
        discovery.parse_response(announcement()[:40])


@pytest.fixture
def responder() -> Iterator[tuple[str, int]]:
    """A UDP 'gateway' on loopback answering mDNS queries (legacy unicast)."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.bind(("127.0.0.1", 0))
    sock.settimeout(5)
    queries: list[bytes] = []

    def serve() -> None:
        try:
            data, peer = sock.recvfrom(9000)
        except OSError:
            return
        queries.append(data)
        sock.sendto(b"garbage", peer)
        sock.sendto(announcement(), peer)

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    yield sock.getsockname()
    thread.join(timeout=5)
    sock.close()
    assert queries and queries[0] == discovery.build_query()


def test_browse_collects_answers(responder: tuple[str, int]) -> None:
    found = discovery.mdns_browse(timeout=1.0, target=responder)
    assert found == [Found("192.0.2.50", "122302045678", "8.2.4264", "mDNS")]


def test_discover_merges_envoy_local_and_mdns() -> None:
    found = discovery.discover(
        timeout=0.5, browse=lambda _t: [Found("192.0.2.50", "1", "8", "mDNS")],
        lookup=lambda _n, _t: ["192.0.2.50"])
    assert [f.host for f in found] == ["envoy.local", "192.0.2.50"]
    nothing = discovery.discover(timeout=0.5, browse=lambda _t: [], lookup=lambda _n, _t: [])
    assert nothing == []
