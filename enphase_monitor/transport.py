"""The HTTP layer: HTTPS over one kept-alive connection, behind a small protocol.

The gateway is polled every few seconds for the life of the daemon, so this is the hot path.
It uses the standard library's `http.client`: one TLS connection serves many polls, and it
costs a fraction of the import time, memory and CPU of `requests` (measured in benchmarks/).
TEST mode swaps in its own Transport, so the cloud and gateway clients run unchanged.
"""

from __future__ import annotations

import hashlib
import http.client
import json
import select
import ssl
import threading
import time
import urllib.request
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Protocol
from urllib.parse import urlencode, urlsplit

from .errors import MonitorError


class TransportError(MonitorError):
    """No HTTP answer: `kind` is timeout, connection or tls."""

    def __init__(self, kind: str, message: str) -> None:
        super().__init__(message)
        self.kind = kind


@dataclass(frozen=True)
class Reply:
    """An HTTP answer."""

    status: int
    text: str
    elapsed: float
    headers: Mapping[str, str] = field(default_factory=dict)


class Transport(Protocol):
    """Sends one HTTP request and returns the answer, or raises TransportError."""

    def request(
        self,
        method: str,
        url: str,
        *,
        timeout: float,
        headers: Mapping[str, str] | None = None,
        data: Mapping[str, str] | None = None,
        json_body: object = None,
    ) -> Reply: ...

    def close(self) -> None: ...


def tls_context(verify: bool | str) -> ssl.SSLContext:
    """Verified TLS (system CAs, or a CA file), or none at all for the self-signed gateway."""
    if verify is False:
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
        ctx.set_ciphers("DEFAULT:@SECLEVEL=1")  # older gateways have small or SHA-1 certificates
        return ctx
    return ssl.create_default_context(cafile=verify if isinstance(verify, str) else None)


class HttpsTransport:
    """A Transport over one kept-alive HTTPS connection, reopened when the peer drops it.

    Args:
        verify: True (system CAs), a CA file, or False (no checks: the gateway).
        fingerprint: SHA-256 (hex) the peer certificate must have; refused otherwise.
        trust_env: use an HTTPS proxy from the environment (https_proxy / no_proxy).
    """

    def __init__(self, verify: bool | str = True, fingerprint: str = "",
                 trust_env: bool = True, stop: threading.Event | None = None) -> None:
        self.stop = stop  # set on SIGTERM: a request in progress ends (h-transport wires it)
        self.fingerprint = fingerprint.lower().replace(":", "")
        self.trust_env = trust_env
        self._ctx = tls_context(verify)
        self._conn: http.client.HTTPSConnection | None = None
        self._host = ""
        self.cookies: dict[str, str] = {}

    def _open(self, host: str, timeout: float) -> http.client.HTTPSConnection:
        proxy = urllib.request.getproxies().get("https") if self.trust_env else None
        if proxy and not urllib.request.proxy_bypass(host.split(":")[0]):
            conn = http.client.HTTPSConnection(urlsplit(proxy).netloc or proxy,
                                               timeout=timeout, context=self._ctx)
            conn.set_tunnel(host)
        else:
            conn = http.client.HTTPSConnection(host, timeout=timeout, context=self._ctx)
        try:
            conn.connect()
        except BaseException:
            conn.close()
            raise
        if self.fingerprint:
            der = conn.sock.getpeercert(binary_form=True) if conn.sock else None
            seen = hashlib.sha256(der or b"").hexdigest()
            if seen != self.fingerprint:
                conn.close()
                raise TransportError(
                    "tls", f"TLS failure: the certificate's SHA-256 is {seen}, not the pinned"
                    " GATEWAY_FINGERPRINT (a different device, or a new certificate)")
        return conn

    def _connect(self, host: str, timeout: float) -> http.client.HTTPSConnection:
        conn = self._conn
        # an idle kept-alive connection with something to read has been closed by the peer
        alive = conn is not None and conn.sock is not None and self._host == host \
            and not select.select([conn.sock], [], [], 0)[0]
        if alive and conn is not None and conn.sock is not None:
            conn.sock.settimeout(timeout)
            return conn
        self.close()
        self._conn, self._host = self._open(host, timeout), host
        return self._conn

    def request(
        self,
        method: str,
        url: str,
        *,
        timeout: float,
        headers: Mapping[str, str] | None = None,
        data: Mapping[str, str] | None = None,
        json_body: object = None,
    ) -> Reply:
        parts = urlsplit(url)
        path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
        send = {"User-Agent": "enphase-monitor", **(headers or {})}
        body: bytes | None = None
        if json_body is not None:
            body, send["Content-Type"] = json.dumps(json_body).encode(), "application/json"
        elif data is not None:
            body = urlencode(data).encode()
            send["Content-Type"] = "application/x-www-form-urlencoded"
        if self.cookies:
            send["Cookie"] = "; ".join(f"{k}={v}" for k, v in self.cookies.items())
        start = time.monotonic()
        try:
            conn = self._connect(parts.netloc, timeout)
            conn.request(method, path, body=body, headers=send)
            resp = conn.getresponse()
            raw = resp.read()
        except TransportError:
            raise
        except TimeoutError:
            self.close()
            raise TransportError("timeout", f"no answer within {timeout:g} s") from None
        except ssl.SSLError as exc:
            self.close()
            raise TransportError("tls", f"TLS failure: {exc.reason or exc}") from None
        except (OSError, http.client.HTTPException) as exc:
            self.close()
            raise TransportError("connection", f"connection failed: {exc or 'reset'}") from None
        if resp.will_close:
            self.close()
        for value in resp.headers.get_all("Set-Cookie") or ():
            name, eq, rest = value.partition("=")
            if eq and name.strip():
                self.cookies[name.strip()] = rest.split(";", 1)[0].strip()
        return Reply(resp.status, raw.decode("utf-8", "replace"), time.monotonic() - start,
                     dict(resp.headers.items()))

    def close(self) -> None:
        if self._conn is not None:
            self._conn.close()
        self._conn = None
