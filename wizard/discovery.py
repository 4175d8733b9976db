"""Find the gateway: `envoy.local`, mDNS `_enphase-envoy._tcp`, or a host the user types.

The serial and firmware come from the gateway's unauthenticated ``/info.xml`` (``/info`` on
firmware that has no ``.xml``), the certificate's SHA-256 from the TLS handshake (for pinning).
The mDNS browse is one legacy-unicast query (RFC 6762 6.7) with a tiny DNS parser, so no
dependency is needed.
"""

from __future__ import annotations

import concurrent.futures
import hashlib
import socket
import ssl
import struct
from collections.abc import Callable
from dataclasses import dataclass

from enphase_monitor.errors import GatewayDataError
from enphase_monitor.models import GatewayInfo
from enphase_monitor.transport import HttpsTransport, Transport, TransportError

SERVICE = "_enphase-envoy._tcp.local"
MDNS_ADDR = ("224.0.0.251", 5353)
DEFAULT_HOST = "envoy.local"
_PTR, _TXT, _SRV, _A = 12, 16, 33, 1


@dataclass(frozen=True)
class Found:
    """A gateway seen on the network."""

    host: str
    serial: str | None = None
    firmware: str | None = None
    source: str = ""


@dataclass(frozen=True)
class Probe:
    """What the gateway at `host` says about itself (or why it could not be asked)."""

    host: str
    info: GatewayInfo | None = None
    fingerprint: str = ""
    error: str = ""

    @property
    def ok(self) -> bool:
        """/info.xml answered with a serial."""
        return self.info is not None and bool(self.info.serial)


def split_host(host: str, default_port: int = 443) -> tuple[str, int]:
    """('192.0.2.1', 443) from '192.0.2.1', '[fe80::1]:8443', 'envoy.local:443'."""
    host = host.strip()
    if host.startswith("["):
        name, _, rest = host[1:].partition("]")
        return name, int(rest[1:]) if rest.startswith(":") and rest[1:].isdigit() else default_port
    name, colon, port = host.rpartition(":")
    if colon and port.isdigit() and ":" not in name:
        return name, int(port)
    return host, default_port


def certificate_sha256(host: str, timeout: float = 5.0) -> str:
    """The SHA-256 (hex) of the certificate the gateway presents; '' if it cannot be read."""
    name, port = split_host(host)
    try:
        pem = ssl.get_server_certificate((name, port), timeout=timeout)
    except (OSError, ValueError):
        return ""
    return hashlib.sha256(ssl.PEM_cert_to_DER_cert(pem)).hexdigest()


def probe(host: str, timeout: float = 5.0, transport: Transport | None = None,
          fingerprint: str = "") -> Probe:
    """Read /info.xml (then /info) from the gateway, without a token.

    Args:
        host: host name or IP, optionally with :port.
        timeout: seconds per request.
        transport: for tests; defaults to an unverified keep-alive session (self-signed cert).
        fingerprint: when given, the certificate must have this SHA-256.
    """
    own = transport is None
    http: Transport = transport or HttpsTransport(verify=False, fingerprint=fingerprint,
                                                     trust_env=False)
    error = ""
    info = None
    try:
        for path in ("/info.xml", "/info"):
            try:
                reply = http.request("GET", f"https://{host}{path}", timeout=timeout)
            except TransportError as exc:
                error = f"gateway {host} unreachable: {exc}"
                break
            if reply.status != 200:
                error = f"gateway {host} answered HTTP {reply.status} on {path}"
                continue
            try:
                info = GatewayInfo.from_xml(reply.text)
            except GatewayDataError as exc:
                error = f"gateway {host}: {exc}"
                continue
            error = "" if info.serial else f"gateway {host}: {path} has no serial number"
            break
    finally:
        if own:
            http.close()
    cert = certificate_sha256(host, timeout) if info is not None else ""
    return Probe(host, info, cert, error)


# --------------------------------------------------------------------------- name resolution

def resolve(name: str, timeout: float = 2.0) -> list[str]:
    """IPv4 addresses of `name` ([] when unknown or slower than `timeout`)."""
    pool = concurrent.futures.ThreadPoolExecutor(max_workers=1)
    future = pool.submit(socket.getaddrinfo, name, 443, socket.AF_INET, socket.SOCK_STREAM)
    pool.shutdown(wait=False)
    try:
        infos = future.result(timeout=timeout)
    except (OSError, concurrent.futures.TimeoutError, UnicodeError):
        return []
    return sorted({str(info[4][0]) for info in infos})


# --------------------------------------------------------------------------- mDNS

def encode_name(name: str) -> bytes:
    """A DNS name in wire format."""
    out = b""
    for label in name.rstrip(".").split("."):
        raw = label.encode("utf-8")
        out += bytes([len(raw)]) + raw
    return out + b"\x00"


def build_query(name: str = SERVICE, qtype: int = _PTR) -> bytes:
    """One DNS question (id 0, as mDNS wants)."""
    return struct.pack("!6H", 0, 0, 1, 0, 0, 0) + encode_name(name) + struct.pack("!2H", qtype, 1)


def _read_name(data: bytes, pos: int, depth: int = 0) -> tuple[str, int]:
    """(name, position after it), following compression pointers.

    Raises:
        ValueError: a malformed name.
    """
    labels: list[str] = []
    while True:
        if pos >= len(data) or depth > 20:
            raise ValueError("truncated name")
        length = data[pos]
        if length & 0xC0 == 0xC0:
            if pos + 1 >= len(data):
                raise ValueError("truncated pointer")
            target = ((length & 0x3F) << 8) | data[pos + 1]
            rest, _ = _read_name(data, target, depth + 1)
            labels.extend(rest.split(".") if rest else [])
            return ".".join(labels), pos + 2
        pos += 1
        if length == 0:
            return ".".join(labels), pos
        labels.append(data[pos:pos + length].decode("utf-8", "replace"))
        pos += length


@dataclass(frozen=True)
class Record:
    """One resource record: name, type and decoded data."""

    name: str
    rtype: int
    data: object


def _rdata(data: bytes, rtype: int, start: int, length: int) -> object:
    body = data[start:start + length]
    if rtype == _A and length == 4:
        return socket.inet_ntoa(body)
    if rtype == _PTR:
        return _read_name(data, start)[0]
    if rtype == _SRV and length >= 7:
        port = struct.unpack("!H", body[4:6])[0]
        return (_read_name(data, start + 6)[0], port)
    if rtype == _TXT:
        items: dict[str, str] = {}
        i = 0
        while i < len(body):
            n = body[i]
            key, _, value = body[i + 1:i + 1 + n].decode("utf-8", "replace").partition("=")
            items[key.lower()] = value
            i += 1 + n
        return items
    return body


def parse_response(data: bytes) -> list[Record]:
    """The records of a DNS message (answers, authority and additional sections).

    Raises:
        ValueError: the message is malformed.
    """
    if len(data) < 12:
        raise ValueError("short DNS message")
    _, _, qd, an, ns, ar = struct.unpack("!6H", data[:12])
    pos = 12
    for _ in range(qd):
        pos = _read_name(data, pos)[1] + 4
    records: list[Record] = []
    for _ in range(an + ns + ar):
        name, pos = _read_name(data, pos)
        if pos + 10 > len(data):
            raise ValueError("truncated record")
        rtype, _, _, length = struct.unpack("!HHIH", data[pos:pos + 10])
        pos += 10
        if pos + length > len(data):
            raise ValueError("truncated record data")
        records.append(Record(name.lower(), rtype, _rdata(data, rtype, pos, length)))
        pos += length
    return records


def envoys_from(records: list[Record]) -> list[Found]:
    """Gateways announced in these records (PTR -> SRV/TXT -> A)."""
    by_name: dict[tuple[str, int], object] = {(r.name, r.rtype): r.data for r in records}
    found: list[Found] = []
    for record in records:
        if record.rtype != _PTR or record.name != SERVICE.lower():
            continue
        instance = str(record.data).lower()
        srv = by_name.get((instance, _SRV))
        txt = by_name.get((instance, _TXT))
        props = txt if isinstance(txt, dict) else {}
        host = ""
        if isinstance(srv, tuple):
            target, port = srv
            address = by_name.get((str(target).lower(), _A))
            host = str(address) if address else str(target)
            if port not in (0, 443):
                host = f"{host}:{port}"
        if host:
            found.append(Found(host, props.get("serialnum") or None,
                               props.get("protovers") or None, "mDNS"))
    return found


def mdns_browse(timeout: float = 1.5, target: tuple[str, int] = MDNS_ADDR) -> list[Found]:
    """Ask the network once for `_enphase-envoy._tcp` and collect answers for `timeout` s."""
    try:
        sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    except OSError:
        return []
    found: dict[str, Found] = {}
    try:
        sock.setsockopt(socket.IPPROTO_IP, socket.IP_MULTICAST_TTL, 255)
        sock.settimeout(timeout)
        sock.sendto(build_query(), target)
        deadline = _now() + timeout
        while (left := deadline - _now()) > 0:
            sock.settimeout(left)
            try:
                data, _ = sock.recvfrom(9000)
            except TimeoutError:
                break
            try:
                for item in envoys_from(parse_response(data)):
                    found.setdefault(item.host, item)
            except ValueError:
                continue
    except OSError:
        pass
    finally:
        sock.close()
    return list(found.values())


def _now() -> float:
    import time

    return time.monotonic()


def discover(timeout: float = 2.0,
             browse: Callable[[float], list[Found]] = mdns_browse,
             lookup: Callable[[str, float], list[str]] = resolve) -> list[Found]:
    """`envoy.local` and mDNS at the same time; one entry per gateway."""
    with concurrent.futures.ThreadPoolExecutor(max_workers=2) as pool:
        names = pool.submit(lookup, DEFAULT_HOST, timeout)
        seen = pool.submit(browse, timeout)
        results = [Found(DEFAULT_HOST, source=DEFAULT_HOST)] if names.result() else []
        for item in seen.result():
            duplicate = any(item.host == r.host or (item.serial and item.serial == r.serial)
                            for r in results)
            if not duplicate:
                results.append(item)
    return results
