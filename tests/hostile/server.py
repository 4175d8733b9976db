"""A hostile IQ Gateway: a real TLS server on 127.0.0.1 that answers like the simulator until told
to misbehave.

Healthy answers are the simulator's own (each request is forwarded to a running Simulator's
gateway and its answer relayed), so the daemon reads whatever endpoints it reads today. An
attack (`server.attack = "drip_body"`, see ATTACKS) replaces or mangles the answer on the wire.
"""

from __future__ import annotations

import contextlib
import http.client
import itertools
import json
import socket
import ssl
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import Self

from enphase_sim import Simulator, generate_certificate

HUGE = 200 * 1000 * 1000  # a 200 MB answer
DRIP_S = 0.5  # seconds between dripped bytes
_ANSWERS = itertools.count()  # new cookie names in every answer


@dataclass
class Request:
    """What the client asked."""

    method: str
    path: str
    headers: dict[str, str]


@dataclass
class Answer:
    """A healthy answer from the simulator, to send as it is or to mangle."""

    status: int
    body: bytes
    headers: list[tuple[str, str]] = field(default_factory=list)

    def head(self, extra: list[tuple[str, str]] | None = None, length: int | None = None,
             status_line: bytes | None = None) -> bytes:
        lines = [status_line or f"HTTP/1.1 {self.status} X".encode()]
        for name, value in [*self.headers, *(extra or [])]:
            lines.append(f"{name}: {value}".encode("latin-1"))
        if length is not None:
            lines.append(f"Content-Length: {length}".encode())
        return b"\r\n".join(lines) + b"\r\n\r\n"


class Conn:
    """One client connection: its TLS socket and the server's stop event."""

    def __init__(self, sock: ssl.SSLSocket, stop: threading.Event) -> None:
        self.sock, self.stop = sock, stop

    def send(self, data: bytes) -> None:
        self.sock.sendall(data)

    def drip(self, data: bytes) -> None:
        """One byte every DRIP_S until done, the client leaves or the server stops."""
        for i in range(len(data)):
            if self.stop.wait(DRIP_S):
                return
            self.sock.sendall(data[i:i + 1])

    def stall(self) -> None:
        self.stop.wait(600)

    def stream(self, total: int, piece: bytes = b"x" * 65536) -> None:
        """Send `total` bytes as fast as the client reads them."""
        sent = 0
        while sent < total and not self.stop.is_set():
            chunk = piece[: total - sent]
            self.sock.sendall(chunk)
            sent += len(chunk)


def _drip_body(c: Conn, a: Answer) -> bool:
    c.send(a.head(length=len(a.body)))
    c.drip(a.body)
    return False


def _drip_headers(c: Conn, a: Answer) -> bool:
    c.drip(a.head(length=len(a.body)) + a.body)
    return False


def _stall_answer(c: Conn, a: Answer) -> bool:
    c.stall()
    return False


def _length_short(c: Conn, a: Answer) -> bool:
    c.send(a.head(length=len(a.body) + 1000) + a.body)  # then close: 1000 bytes never come
    return False


def _length_absurd(c: Conn, a: Answer) -> bool:
    c.send(a.head(length=4611686018427387904) + a.body)
    c.stream(HUGE)
    return False


def _huge_declared(c: Conn, a: Answer) -> bool:
    c.send(a.head(length=HUGE))
    c.stream(HUGE)
    return False


def _huge_body(c: Conn, a: Answer) -> bool:
    c.send(a.head([("Connection", "close")]))  # no length: the body ends when we close
    c.stream(HUGE)
    return False


def _endless_chunks(c: Conn, a: Answer) -> bool:
    c.send(a.head([("Transfer-Encoding", "chunked")]))
    while not c.stop.is_set():
        c.send(b"1\r\nx\r\n" * 1000)
    return False


def _absurd_chunk(c: Conn, a: Answer) -> bool:
    c.send(a.head([("Transfer-Encoding", "chunked")]) + b"ffffffffffffffff\r\n")
    c.stream(HUGE)
    return False


def _body(make: Callable[[Answer], bytes]) -> Callable[[Conn, Answer], bool]:
    def send(c: Conn, a: Answer) -> bool:
        body = make(a)
        c.send(a.head(length=len(body)) + body)
        return True
    return send


def _headers(extra: Callable[[int], list[tuple[str, str]]]) -> Callable[[Conn, Answer], bool]:
    def send(c: Conn, a: Answer) -> bool:
        c.send(a.head(extra(next(_ANSWERS)), length=len(a.body)) + a.body)
        return True
    return send


def _head_bytes(head: bytes) -> Callable[[Conn, Answer], bool]:
    def send(c: Conn, a: Answer) -> bool:
        c.send(head)
        return False
    return send


def _relay_state(value: str) -> Callable[[Answer], bytes]:
    def make(a: Answer) -> bytes:
        data = json.loads(a.body or b"{}")
        if isinstance(data, dict) and "mains_oper_state" in data:
            data["mains_oper_state"] = value
            return json.dumps(data).encode()  # JSON escapes the control characters: valid
        return a.body
    return make


def _live_value(key: str, literal: bytes) -> Callable[[Answer], bytes]:
    """Livedata with meters[key] replaced by a raw JSON token (`NaN`, `1e400`, `true`)."""
    def make(a: Answer) -> bytes:
        data = json.loads(a.body or b"{}")
        if isinstance(data, dict) and isinstance(data.get("meters"), dict):
            data["meters"][key] = "@@"
            return json.dumps(data).encode().replace(b'"@@"', literal)
        return a.body
    return make


def _cookies(count: int, size: int) -> Callable[[int], list[tuple[str, str]]]:
    def make(seed: int) -> list[tuple[str, str]]:
        return [("Set-Cookie", f"c{seed}_{i}={'v' * size}; Path=/") for i in range(count)]
    return make


INJECTED = "x\n\x1b[31mWATCHDOG=trigger\nSTATUS=pwned"
ATTACKS: dict[str, Callable[[Conn, Answer], bool]] = {
    "drip_body": _drip_body,
    "drip_headers": _drip_headers,
    "stall_answer": _stall_answer,
    "length_short": _length_short,
    "length_absurd": _length_absurd,
    "huge_declared": _huge_declared,
    "huge_body": _huge_body,
    "endless_chunks": _endless_chunks,
    "absurd_chunk": _absurd_chunk,
    "deep_json": _body(lambda a: b"[" * 100_000 + b"]" * 100_000),
    "wide_json": _body(lambda a: b"[" + b"{}," * 87_000 + b"{}]"),  # most objects per byte
    "many_strings": _body(lambda a: b"[" + b'"ab",' * 52_000 + b'"ab"]'),  # the most left
    "invalid_utf8": _body(lambda a: a.body.replace(b"}", b' , "x": "\xff\xfe"}', 1)),
    "nul_bytes": _body(lambda a: a.body + b"\x00" * 16),
    "control_chars": _body(_relay_state(INJECTED)),
    "nan_soc": _body(_live_value("soc", b"NaN")),  # valid for Python's json, not for JSON
    "huge_energy": _body(_live_value("enc_agg_energy", b"1" * 400)),
    "cookie_flood": _headers(_cookies(90, 60_000)),
    "cookie_churn": _headers(_cookies(40, 1000)),  # within the header limits: must work
    "many_headers": _headers(lambda seed: [(f"X-{i}", "y") for i in range(500)]),
    "long_status": _head_bytes(b"HTTP/1.1 200 " + b"O" * 100_000 + b"\r\n\r\n"),
    "escape_status": _head_bytes(b"HTTP/1.1 2\x1b[2J00 \x1b]0;pwned\x07\r\n\r\n"),
    "endless_continue": _head_bytes(b"HTTP/1.1 100 Continue\r\n\r\n" * 100_000),
    "redirect": _head_bytes(b"HTTP/1.1 302 Found\r\nLocation: https://evil.example/\x1b[2J"
                            b"\r\nContent-Length: 0\r\n\r\n"),
}
CONNECTION_ATTACKS = frozenset({"stall_handshake", "stall_after_handshake"})


class HostileGateway:
    """The server. `attack` is None (healthy), a key of ATTACKS, or one of CONNECTION_ATTACKS."""

    def __init__(self, upstream: Simulator, workdir: Path, host: str = "127.0.0.1") -> None:
        self.upstream = upstream
        self.workdir = workdir
        self.bind_host = host
        self.attack: str | None = None
        self.counts: dict[str, int] = {"connections": 0, "requests": 0, "attacked": 0}
        self.cookies_seen: list[str] = []  # the Cookie header of each request (last 100)
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._conns: set[socket.socket] = set()
        self._listener: socket.socket | None = None

    @property
    def port(self) -> int:
        assert self._listener is not None
        return int(self._listener.getsockname()[1])

    @property
    def host(self) -> str:
        """host:port for ENVOY_HOST (IPv6 in brackets)."""
        shown = f"[{self.bind_host}]" if ":" in self.bind_host else self.bind_host
        return f"{shown}:{self.port}"

    def start(self) -> Self:
        self.workdir.mkdir(parents=True, exist_ok=True)
        cert, key = generate_certificate(self.workdir)
        self.ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        self.ctx.load_cert_chain(cert, key)
        family = socket.AF_INET6 if ":" in self.bind_host else socket.AF_INET
        self._listener = socket.socket(family, socket.SOCK_STREAM)
        self._listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._listener.bind((self.bind_host, 0))
        self._listener.listen(32)
        threading.Thread(target=self._accept, daemon=True, name="hostile-accept").start()
        return self

    def stop(self) -> None:
        self._stop.set()
        if self._listener is not None:
            self._listener.close()
        with self._lock:
            for conn in list(self._conns):
                with contextlib.suppress(OSError):
                    conn.shutdown(socket.SHUT_RDWR)
                conn.close()

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.stop()

    def _accept(self) -> None:
        assert self._listener is not None
        while not self._stop.is_set():
            try:
                raw, _ = self._listener.accept()
            except OSError:
                return
            with self._lock:
                self.counts["connections"] += 1
                self._conns.add(raw)
            threading.Thread(target=self._serve, args=(raw,), daemon=True).start()

    def _serve(self, raw: socket.socket) -> None:
        try:
            if self.attack == "stall_handshake":
                self._stop.wait(600)
                return
            raw.settimeout(30)
            tls = self.ctx.wrap_socket(raw, server_side=True)
            conn = Conn(tls, self._stop)
            while not self._stop.is_set():
                req = _read_request(tls)
                if req is None:
                    return
                if not self._answer(conn, req):
                    return
        except (OSError, ValueError):
            return
        finally:
            with self._lock:
                self._conns.discard(raw)
            with contextlib.suppress(OSError):
                raw.close()

    def _answer(self, conn: Conn, req: Request) -> bool:
        """Answer one request; False when the connection must end."""
        attack = self.attack
        with self._lock:
            self.counts["requests"] += 1
            self.cookies_seen = [*self.cookies_seen[-99:], req.headers.get("Cookie", "")]
        if attack == "stall_after_handshake":
            conn.stall()
            return False
        if attack == "stall_handshake":  # as after a reboot: this connection ends, new ones hang
            return False
        answer = self._healthy(req)
        if attack is None or attack not in ATTACKS:
            conn.send(answer.head(length=len(answer.body)) + answer.body)
            return True
        with self._lock:
            self.counts["attacked"] += 1
        return ATTACKS[attack](conn, answer)

    def _healthy(self, req: Request) -> Answer:
        """The simulator's answer to the same request."""
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        ctx.check_hostname, ctx.verify_mode = False, ssl.CERT_NONE
        up = http.client.HTTPSConnection("127.0.0.1", self.upstream.gateway_port, context=ctx,
                                         timeout=10)
        try:
            keep = {k: v for k, v in req.headers.items()
                    if k.lower() in ("authorization", "cookie", "accept")}
            up.request(req.method, req.path, headers=keep)
            resp = up.getresponse()
            body = resp.read()
            headers = [(k, v) for k, v in resp.getheaders()
                       if k.lower() in ("content-type", "set-cookie")]
            return Answer(resp.status, body, headers)
        finally:
            up.close()


def _read_request(sock: ssl.SSLSocket) -> Request | None:
    """Read one request head (bounded); None when the client is gone."""
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = sock.recv(4096)
        if not chunk or len(data) > 65536:
            return None
        data += chunk
    head = data.split(b"\r\n\r\n", 1)[0].decode("latin-1").split("\r\n")
    method, path, _ = head[0].split(" ", 2)
    headers = {}
    for line in head[1:]:
        name, _, value = line.partition(":")
        headers[name.strip()] = value.strip()
    return Request(method, path, headers)


def wait_for(check: Callable[[], bool], timeout: float, step: float = 0.1) -> bool:
    """True as soon as check() is, False after `timeout` seconds."""
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if check():
            return True
        time.sleep(step)
    return check()
