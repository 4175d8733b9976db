"""Find the gateway: `envoy.local`, mDNS `_enphase-envoy._tcp`, or a host the user types.

The serial and firmware come from the gateway's unauthenticated ``/info.xml`` (``/info`` on
firmware that has no ``.xml``), the certificate's SHA-256 from the TLS handshake (for pinning).
The mDNS browse uses python-zeroconf (Debian 12 ships 0.47; the calls used here are the same up
to the current release): one gateway is one entry, whatever names and addresses it has.
"""

from __future__ import annotations

import concurrent.futures
import dataclasses
import hashlib
import ipaddress
import re
import socket
import ssl
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from enphase_monitor.errors import GatewayDataError
from enphase_monitor.facts import INFO, INFO_LEGACY
from enphase_monitor.models import GatewayInfo
from enphase_monitor.transport import HttpsTransport, Transport, TransportError

if TYPE_CHECKING:
    from zeroconf import ServiceInfo, Zeroconf

SERVICE = "_enphase-envoy._tcp.local."
DEFAULT_HOST = "envoy.local"
MAX_GATEWAYS = 16  # announcements beyond this are ignored (a hostile LAN cannot flood the list)
_SERIAL = re.compile(r"[0-9A-Za-z]{1,32}")
_VERSION = re.compile(r"[0-9A-Za-z._-]{1,32}")
_HOSTNAME = re.compile(r"[A-Za-z0-9](?:[A-Za-z0-9.-]{0,251}[A-Za-z0-9])?")


@dataclass(frozen=True)
class Found:
    """A gateway seen on the network."""

    host: str
    serial: str | None = None
    firmware: str | None = None
    source: str = ""
    addresses: tuple[str, ...] = ()  # every address it was seen at (for de-duplication)


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
        for path in (INFO, INFO_LEGACY):
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

def _text(props: dict[bytes, bytes | None], key: bytes, pattern: re.Pattern[str]) -> str | None:
    """A TXT value that matches `pattern` (else None: hostile or broken values are dropped)."""
    raw = props.get(key)
    if raw is None or len(raw) > 64:
        return None
    text = raw.decode("ascii", "replace")
    return text if pattern.fullmatch(text) else None


def _usable(address: str) -> bool:
    """An address the daemon can reach: not link-local IPv6 (that needs a zone), not wildcard."""
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return False
    return not (ip.is_unspecified or ip.is_multicast or (ip.version == 6 and ip.is_link_local))


def found_from(info: ServiceInfo) -> Found | None:
    """One gateway from a resolved announcement; None when it gives no way to reach it.

    The announcement's port is not used: gateways announce their HTTP port (80) while the API
    is HTTPS on 443. IPv4 comes first (a gateway announces both, the order varies).
    """
    addresses = sorted((a for a in info.parsed_addresses() if _usable(a)),
                       key=lambda a: (":" in a, a))
    server = (info.server or "").rstrip(".")
    if addresses:
        host = addresses[0] if ":" not in addresses[0] else f"[{addresses[0]}]"
    elif _HOSTNAME.fullmatch(server):
        host = server
    else:
        return None
    props = {k: v for k, v in info.properties.items() if isinstance(k, bytes)}
    return Found(host, _text(props, b"serialnum", _SERIAL), _text(props, b"protovers", _VERSION),
                 "mDNS", tuple(addresses))


def mdns_problem() -> str | None:
    """Why mDNS discovery cannot run here (None: it can)."""
    try:
        import zeroconf  # noqa: F401
    except ImportError:
        return "mDNS discovery needs python3-zeroconf (pip: zeroconf); type the gateway's address"
    return None


class _Names:
    """The service names a browser announces, in order (at most MAX_GATEWAYS), to wait on."""

    def __init__(self) -> None:
        self.names: list[str] = []
        self.changed = threading.Condition()

    def add(self, name: str) -> None:
        with self.changed:
            if len(self.names) < MAX_GATEWAYS and name not in self.names:
                self.names.append(name)
                self.changed.notify_all()

    def after(self, count: int, deadline: float) -> list[str]:
        """The names past the first `count`, waiting for one until `deadline` ([]: none came)."""
        with self.changed:
            self.changed.wait_for(lambda: len(self.names) > count,
                                  max(deadline - time.monotonic(), 0))
            return self.names[count:]


def mdns_browse(timeout: float = 1.5, interfaces: Sequence[str] | None = None,
                enough: Callable[[list[Found]], bool] | None = None) -> list[Found]:
    """Browse for `_enphase-envoy._tcp` for `timeout` s; one entry per gateway.

    Each announced name is resolved as it comes (within the time left, plus 1 s).

    Args:
        timeout: how long to listen for announcements.
        interfaces: addresses to browse on (tests: ["127.0.0.1"]); default all.
        enough: stop as soon as this says the gateways found are all there are to find
            (tests wait on what their responder announced, not on a time).

    Returns:
        The gateways found; [] when mDNS cannot run here (see mdns_problem()).
    """
    if mdns_problem() is not None:
        return []
    from zeroconf import InterfaceChoice, ServiceBrowser, ServiceStateChange, Zeroconf

    try:
        zc = Zeroconf(interfaces=list(interfaces) if interfaces else InterfaceChoice.All)
    except OSError:
        return []
    names, seen = _Names(), 0
    found: list[Found] = []

    def on_change(zeroconf: Zeroconf, service_type: str, name: str,
                  state_change: ServiceStateChange) -> None:
        if state_change is ServiceStateChange.Added:
            names.add(name)

    deadline = time.monotonic() + timeout
    try:
        browser = ServiceBrowser(zc, SERVICE, handlers=[on_change])
        try:
            while time.monotonic() < deadline and not (enough is not None and enough(found)):
                for name in names.after(seen, deadline):
                    seen += 1
                    left = int(max(deadline + 1.0 - time.monotonic(), 0.05) * 1000)
                    info = zc.get_service_info(SERVICE, name, timeout=left)
                    item = found_from(info) if info is not None else None
                    if item is not None:
                        found = merge(found, item)
        finally:
            browser.cancel()
    except OSError:
        pass
    finally:
        zc.close()
    return found


def _same(a: Found, b: Found) -> bool:
    """The same gateway: the same serial, or an address (or host) in common."""
    if a.serial and b.serial:
        return a.serial == b.serial
    return bool({a.host, *a.addresses} & {b.host, *b.addresses})


def merge(found: list[Found], item: Found) -> list[Found]:
    """`found` with `item` added, or folded into the entry of the same gateway."""
    for index, known in enumerate(found):
        if _same(known, item):
            addresses = tuple(dict.fromkeys((*known.addresses, *item.addresses)))
            sources = " + ".join(dict.fromkeys((*known.source.split(" + "), item.source)))
            found[index] = dataclasses.replace(
                known, serial=known.serial or item.serial,
                firmware=known.firmware or item.firmware, source=sources, addresses=addresses)
            return found
    return [*found, item]


def discover(timeout: float = 2.0,
             browse: Callable[[float], list[Found]] = mdns_browse,
             lookup: Callable[[str, float], list[str]] = resolve) -> list[Found]:
    """`envoy.local` and mDNS at the same time; one entry per gateway.

    A gateway that mDNS found and `envoy.local` resolves to is listed once, by the address
    mDNS gave (the daemon then does not depend on name resolution); otherwise `envoy.local`
    is listed by name when it resolves.
    """
    with concurrent.futures.ThreadPoolExecutor(max_workers=2) as pool:
        names = pool.submit(lookup, DEFAULT_HOST, timeout)
        seen = pool.submit(browse, timeout)
        results: list[Found] = []
        for item in seen.result():
            results = merge(results, item)
        addresses = names.result()
    if addresses:
        local = Found(DEFAULT_HOST, source=DEFAULT_HOST, addresses=tuple(addresses))
        if any(_same(r, local) for r in results):
            return merge(results, local)
        results.insert(0, local)
    return results
