"""The HTTP layer: HTTPS over one kept-alive connection, behind a small protocol.

The gateway is polled every few seconds for the life of the daemon, so this is the hot path.
It uses the standard library's `http.client`: one TLS connection serves many polls, and it
costs a fraction of the import time, memory and CPU of `requests` (measured in benchmarks/).
Around it: one deadline per request (deadline.py), limits on every answer (httplimits.py), a
bounded cookie jar per origin (cookies.py) and the environment's proxy (proxy.py).
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
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Protocol
from urllib.parse import unquote, urlencode, urlsplit

from .cookies import CookieJar
from .deadline import Deadline, DeadlineSocket, DeadlineSSLSocket, KeepAlive, open_tcp
from .errors import Failure, TransportError
from .httplimits import BoundedResponse, read_body
from .proxy import Proxy, bracket, proxy_for
from .textsafe import escape, has_control

__all__ = ["HttpsTransport", "Reply", "Transport", "TransportError", "tls_context"]


@dataclass(frozen=True)
class Reply:
    """An HTTP answer; `body` holds the bytes as received (None when only text is known)."""

    status: int
    text: str
    elapsed: float
    headers: Mapping[str, str] = field(default_factory=dict)
    body: bytes | None = field(default=None, repr=False)

    @property
    def data(self) -> bytes:
        """The body's bytes (TEST-mode answers: the text, UTF-8 encoded)."""
        return self.body if self.body is not None else self.text.encode()


class Transport(Protocol):
    """Sends one HTTP request and returns the answer.

    Raises TransportError when there is no usable answer; its kind is "cancelled" once the
    transport's stop event is set (then at once for every new request).
    """

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


@dataclass(frozen=True)
class Target:
    """Where one request goes: an https URL taken apart."""

    host: str
    port: int
    path: str

    @classmethod
    def parse(cls, url: str) -> Target:
        """Raises TransportError (kind request) for anything but a well-formed https:// URL."""
        try:
            parts = urlsplit(url)
            port = parts.port or 443
        except ValueError:
            raise TransportError(Failure.REQUEST,
                                 f"malformed URL {escape(url.split('?')[0], 80)}") from None
        if parts.scheme.lower() != "https":
            raise TransportError(Failure.REQUEST, f"refusing the {escape(parts.scheme, 10)}://"
                                 " URL: only https:// is used (check the URL in the config)")
        host = unquote(parts.hostname or "")  # an IPv6 zone arrives as %25eth0
        if not host or has_control(host):
            raise TransportError(Failure.REQUEST, f"no valid host in URL {escape(url, 80)}")
        path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
        return cls(host, port, path)

    @property
    def origin(self) -> tuple[str, str, int]:
        return ("https", self.host, self.port)


class _Connection(http.client.HTTPConnection):
    """http.client's connection with our own connect: deadline, proxy tunnel, TLS."""

    default_port = 443
    response_class = BoundedResponse

    def __init__(self, target: Target, ctx: ssl.SSLContext, proxy: Proxy | None) -> None:
        super().__init__(target.host, target.port)
        self.ctx, self.proxy = ctx, proxy
        self.deadline = Deadline(0)

    def use(self, deadline: Deadline) -> None:
        """Make every socket call of the next request obey `deadline`."""
        self.deadline = deadline
        if isinstance(self.sock, DeadlineSSLSocket):
            self.sock.deadline = deadline

    def connect(self) -> None:
        where = (self.proxy.host, self.proxy.port) if self.proxy else (self.host, self.port)
        raw = open_tcp(*where, self.deadline)
        raw.deadline = self.deadline
        try:
            if self.proxy is not None:
                _tunnel(raw, self.host, self.port, self.proxy)
            sock = self.ctx.wrap_socket(raw, server_hostname=self.host.split("%")[0],
                                        do_handshake_on_connect=False)
        finally:
            raw.close()  # detached by wrap_socket; closes it only if wrapping failed
        assert isinstance(sock, DeadlineSSLSocket)
        self.sock = sock
        sock.deadline = self.deadline
        sock.handshake()


def _tunnel(sock: DeadlineSocket, host: str, port: int, proxy: Proxy) -> None:
    """CONNECT host:port through the proxy (with Proxy-Authorization when it has credentials)."""
    target = f"{bracket(host)}:{port}"
    lines = [f"CONNECT {target} HTTP/1.1", f"Host: {target}"]
    if proxy.authorization:
        lines.append(f"Proxy-Authorization: {proxy.authorization}")
    sock.sendall(("\r\n".join(lines) + "\r\n\r\n").encode("idna"))
    resp = BoundedResponse(sock, method="CONNECT")
    try:
        resp.begin()
    finally:
        resp.close()
    if resp.status != 200:
        hint = ": put user:password@ in https_proxy" if resp.status == 407 else ""
        raise TransportError(Failure.CONNECTION, f"proxy {proxy} refused to connect to {target}"
                             f" (HTTP {resp.status}){hint}", resp.status)


def _failure(exc: BaseException) -> TransportError:
    """The TransportError for what http.client, ssl or the socket raised."""
    text = escape(str(exc) or type(exc).__name__, 160)
    if isinstance(exc, ssl.SSLError):
        return TransportError(Failure.TLS, f"TLS failure: {escape(exc.reason or text, 160)}")
    if isinstance(exc, http.client.IncompleteRead):
        return TransportError(Failure.CONNECTION, "the connection closed before the whole answer"
                              f" ({len(exc.partial)} bytes read)")
    if isinstance(exc, OSError | http.client.RemoteDisconnected):
        return TransportError(Failure.CONNECTION, f"connection failed: {text or 'reset'}")
    return TransportError(Failure.PROTOCOL, f"malformed HTTP answer: {text}")


def _redirect(resp: http.client.HTTPResponse) -> TransportError:
    where = escape(resp.getheader("Location") or "nowhere", 120)
    return TransportError(Failure.REDIRECT, f"redirected (HTTP {resp.status}) to {where}:"
                          " redirects are not followed; check the host or URL", resp.status)


class HttpsTransport:
    """A Transport over one kept-alive HTTPS connection, reopened when the peer drops it.

    Args:
        verify: True (system CAs), a CA file, or False (no checks: the gateway).
        fingerprint: SHA-256 (hex) the peer certificate must have; refused otherwise.
        trust_env: use an HTTPS proxy from the environment (https_proxy / no_proxy).
        stop: once set, the request in flight ends within about SLICE_S and every new one
            fails at once, both with kind "cancelled".
        keepalive: called every SLICE_S while a request waits (the daemon's watchdog ping).
    """

    def __init__(self, verify: bool | str = True, fingerprint: str = "",
                 trust_env: bool = True, stop: threading.Event | None = None,
                 keepalive: KeepAlive | None = None) -> None:
        self.fingerprint = fingerprint.lower().replace(":", "")
        self.trust_env = trust_env
        self.stop = stop
        self.keepalive = keepalive
        self._ctx = tls_context(verify)
        self._ctx.sslsocket_class = DeadlineSSLSocket
        self._conn: _Connection | None = None
        self._target: Target | None = None
        self.cookies = CookieJar()

    def _open(self, target: Target, deadline: Deadline) -> _Connection:
        proxy = proxy_for(target.host, target.port) if self.trust_env else None
        conn = _Connection(target, self._ctx, proxy)
        conn.use(deadline)
        try:
            conn.connect()
            if self.fingerprint:
                self._check_pin(conn)
        except BaseException:
            conn.close()
            raise
        return conn

    def _check_pin(self, conn: _Connection) -> None:
        der = conn.sock.getpeercert(binary_form=True) \
            if isinstance(conn.sock, ssl.SSLSocket) else None
        seen = hashlib.sha256(der or b"").hexdigest()
        if seen != self.fingerprint:
            raise TransportError(
                Failure.TLS, f"TLS failure: the certificate's SHA-256 is {seen}, not the pinned"
                " GATEWAY_FINGERPRINT (a different device, or a new certificate)")

    def _connect(self, target: Target, deadline: Deadline) -> _Connection:
        conn = self._conn
        if conn is not None and conn.sock is not None and self._target is not None \
                and self._target.origin == target.origin:
            # an idle kept-alive connection with something to read has been closed by the peer
            idle = select.poll()
            idle.register(conn.sock, select.POLLIN)
            if not idle.poll(0):
                conn.use(deadline)
                return conn
        self.close()
        self._conn, self._target = self._open(target, deadline), target
        return self._conn

    def _headers(self, target: Target, headers: Mapping[str, str] | None,
                 data: Mapping[str, str] | None, json_body: object) -> tuple[dict[str, str],
                                                                            bytes | None]:
        send = {"User-Agent": "enphase-monitor", **(headers or {})}
        body: bytes | None = None
        if json_body is not None:
            body, send["Content-Type"] = json.dumps(json_body).encode(), "application/json"
        elif data is not None:
            body = urlencode(data).encode()
            send["Content-Type"] = "application/x-www-form-urlencoded"
        cookie = self.cookies.header(target.origin, target.path.split("?")[0])
        if cookie:
            send["Cookie"] = cookie
        for name, value in send.items():
            if has_control(value) or has_control(name):
                raise TransportError(Failure.REQUEST, f"the {escape(name, 40)} header holds"
                                     " a control character: not sent (value not shown)")
        return send, body

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
        deadline = Deadline(timeout, self.stop, self.keepalive)
        deadline.check()
        target = Target.parse(url)
        send, body = self._headers(target, headers, data, json_body)
        start = time.monotonic()
        try:
            conn = self._connect(target, deadline)
            conn.request(method, target.path, body=body, headers=send)
            resp = conn.getresponse()
            if 300 <= resp.status < 400:
                raise _redirect(resp)
            raw = read_body(resp)
        except TransportError:
            self.close()
            raise
        except (OSError, http.client.HTTPException, ValueError, UnicodeError,
                OverflowError) as exc:
            self.close()
            raise _failure(exc) from None
        if resp.will_close:
            self.close()
        self.cookies.store(target.origin, target.path.split("?")[0],
                           resp.headers.get_all("Set-Cookie") or ())
        return Reply(resp.status, raw.decode("utf-8", "replace"), time.monotonic() - start,
                     dict(resp.headers.items()), raw)

    def close(self) -> None:
        if self._conn is not None:
            self._conn.close()
        self._conn = None
