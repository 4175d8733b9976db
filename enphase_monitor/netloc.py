"""Host names, addresses, ports and cloud URLs as the config may give them, checked once.

A host is kept in one form everywhere (`Config.envoy_host`, the URLs built from it): `name`,
`name:port`, `192.0.2.1[:port]` or `[IPv6][:port]` (brackets always, so a port can never be
mistaken for part of the address). `urllib.parse.urlsplit("https://" + netloc)` splits that
form back into `.hostname` and `.port`.
"""

from __future__ import annotations

import ipaddress
import re
from urllib.parse import urlsplit

MAX_HOST_CHARS = 253  # DNS: a name is at most 253 characters
_LABEL = re.compile(r"[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?")
_PORT = re.compile(r"[0-9]{1,5}")
_ZONE = re.compile(r"[A-Za-z0-9_.\-]{1,32}")  # an IPv6 zone (interface) such as eth0
# what may follow the host in a cloud URL: printable ASCII without spaces or quotes
_URL_REST = re.compile(r"[!#$%&()*+,\-./0-9:;=?@A-Z\[\]_a-z~]*")


class HostError(ValueError):
    """A host, port or URL the daemon cannot use; the message says what is wrong."""


def _port(text: str) -> int:
    if not _PORT.fullmatch(text) or not 1 <= int(text) <= 65535:
        raise HostError("the port must be a number from 1 to 65535")
    return int(text)


def _ipv6(text: str) -> str:
    """`text` as an IPv6 address (with an optional %zone), or HostError."""
    address, pct, zone = text.partition("%")
    if pct and not _ZONE.fullmatch(zone):
        raise HostError("the IPv6 zone after '%' must be an interface name")
    try:
        ipaddress.IPv6Address(address)
    except ValueError:
        raise HostError("not a valid IPv6 address") from None
    return text


def _name_or_ipv4(text: str) -> str:
    if len(text) > MAX_HOST_CHARS:
        raise HostError(f"a host name has at most {MAX_HOST_CHARS} characters")
    labels = text[:-1].split(".") if text.endswith(".") else text.split(".")
    if all(label.isdigit() for label in labels):  # all digits: it has to be an IPv4 address
        try:
            ipaddress.IPv4Address(text)
        except ValueError:
            raise HostError("not a valid IPv4 address") from None
        return text
    for label in labels:
        if not _LABEL.fullmatch(label):
            raise HostError(
                "each dot-separated part of a host name must be 1-63 letters, digits or"
                " hyphens, not starting or ending with a hyphen"
            )
    return text


def split_host(text: str) -> tuple[str, int | None]:
    """Split and check `host[:port]`: a DNS name, IPv4, `[IPv6]`, or a bare IPv6 (no port).

    Returns:
        (host, port): the host without brackets; port None when not given.

    Raises:
        HostError: not a usable host or port.
    """
    if not text:
        raise HostError("the host is empty")
    if text.startswith("["):
        inside, bracket, rest = text[1:].partition("]")
        if not bracket:
            raise HostError("a '[' without its ']'")
        if rest and not rest.startswith(":"):
            raise HostError("only ':port' may follow ']'")
        return _ipv6(inside), _port(rest[1:]) if rest else None
    if text.count(":") > 1:  # a bare IPv6 address: all of it is the address, no port
        return _ipv6(text), None
    host, colon, port = text.partition(":")
    return _name_or_ipv4(host), _port(port) if colon else None


def join_host(host: str, port: int | None) -> str:
    """The one form of a host: IPv6 in brackets, `:port` when given."""
    shown = f"[{host}]" if ":" in host else host
    return shown if port is None else f"{shown}:{port}"


def normal_host(text: str) -> str:
    """`text` (a host with an optional port) checked and in the one form.

    Raises:
        HostError: not a usable host or port.
    """
    return join_host(*split_host(text))


def https_url(text: str) -> str:
    """A cloud URL, checked: `https://`, a valid host (no user:password@), a clean path.

    Raises:
        HostError: another scheme, a bad host or port, or unsafe characters.
    """
    scheme, sep, rest = text.partition("://")
    if not sep or scheme.lower() != "https":
        raise HostError("must start with https:// (the cloud is only reached over TLS)")
    netloc = re.split(r"[/?#]", rest, maxsplit=1)[0]
    if "@" in netloc:
        raise HostError("must not hold a user name or password (user:password@host)")
    normal_host(netloc)
    if not _URL_REST.fullmatch(rest[len(netloc):]):
        raise HostError("holds spaces, quotes or other characters a URL cannot hold")
    try:
        urlsplit(text)
    except ValueError as exc:
        raise HostError(f"is not a valid URL ({exc})") from None
    return text
