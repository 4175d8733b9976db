"""The HTTPS proxy from the environment (`https_proxy`, `no_proxy`), for the cloud only.

Written here rather than taken from urllib.request: its `proxy_bypass_environment` splits an
IPv6 host at its first colon, and its proxy URLs keep `user:password@` in the host part.
"""

from __future__ import annotations

import base64
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from urllib.parse import unquote, urlsplit

from .errors import Failure, TransportError

DEFAULT_PORT = 80  # an http:// proxy without a port, as curl and requests assume for http://


def bracket(host: str) -> str:
    """`host` as it is written before `:port` (IPv6 literals in brackets)."""
    return f"[{host}]" if ":" in host else host


@dataclass(frozen=True)
class Proxy:
    """An HTTP proxy that tunnels HTTPS with CONNECT; `authorization` is never shown."""

    host: str
    port: int
    authorization: str = field(default="", repr=False)

    def __str__(self) -> str:
        return f"{bracket(self.host)}:{self.port}"


def parse_proxy(url: str) -> Proxy:
    """`http://[user:password@]host[:port]` (the scheme may be left out).

    Raises:
        TransportError: another scheme, or no host, or a bad port (credentials never echoed).
    """
    parts = urlsplit(url.strip() if "://" in url else f"http://{url.strip()}")
    shown = f"{parts.scheme}://{parts.hostname or '?'}"
    if parts.scheme.lower() != "http":
        raise TransportError(Failure.REQUEST, f"https_proxy {shown}: only http:// proxies"
                             " (which tunnel HTTPS with CONNECT) are supported")
    try:
        port = parts.port or DEFAULT_PORT
    except ValueError:
        raise TransportError(Failure.REQUEST, f"https_proxy {shown}: the port is not"
                             " a number from 1 to 65535") from None
    if not parts.hostname:
        raise TransportError(Failure.REQUEST, "https_proxy has no host name")
    auth = ""
    if parts.username is not None:
        pair = f"{unquote(parts.username)}:{unquote(parts.password or '')}"
        auth = "Basic " + base64.b64encode(pair.encode()).decode("ascii")
    return Proxy(parts.hostname, port, auth)


def bypassed(host: str, port: int, no_proxy: str) -> bool:
    """True when `no_proxy` names host (or host:port): `*`, exact names or domain suffixes."""
    host = host.lower().strip("[]")
    for entry in (e.strip().lower() for e in no_proxy.split(",")):
        if entry == "*":
            return True
        if not entry:
            continue
        name, want = entry, ""
        if entry.startswith("["):
            name, _, rest = entry[1:].partition("]")
            want = rest.lstrip(":")
        elif entry.count(":") == 1:
            name, want = entry.split(":")
        if want and want != str(port):
            continue
        name = name.lstrip(".")
        if host == name or host.endswith("." + name):
            return True
    return False


def proxy_for(host: str, port: int, env: Mapping[str, str] | None = None) -> Proxy | None:
    """The proxy for host:port from `https_proxy` / `HTTPS_PROXY`, unless `no_proxy` says not.

    Raises:
        TransportError: the proxy setting is unusable (see parse_proxy).
    """
    env = os.environ if env is None else env
    url = env.get("https_proxy") or env.get("HTTPS_PROXY") or ""
    if not url.strip():
        return None
    if bypassed(host, port, env.get("no_proxy") or env.get("NO_PROXY") or ""):
        return None
    return parse_proxy(url)
