"""The simulator's HTTPS servers: TLS per connection, HTTP/1.1 keep-alive, faults on the wire."""

from __future__ import annotations

import contextlib
import logging
import socket
import ssl
import struct
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Protocol
from urllib.parse import urlsplit

from . import faults
from .faults import Fault
from .replies import Response, text_reply, unauthorized

log = logging.getLogger(__name__)


class Backend(Protocol):
    """What the servers ask the simulator (enphase_sim.simulator.Simulator)."""

    @property
    def stop_event(self) -> threading.Event:
        """Set when the simulator stops: slow and timeout faults end early."""

    def take_tls_fault(self, server: str) -> bool:
        """Consume a tls fault for a new connection to this server, if one applies."""

    def count(self, key: str, server: str | None = None) -> None:
        """Add one to a counter (per server for handshakes)."""

    def begin_request(self, server: str, path: str) -> Fault | None:
        """Count a request and consume the first request-level fault matching it."""

    def answer(self, server: str, method: str, path: str, headers: dict[str, str],
               body: bytes) -> Response:
        """The real answer (after faults that replace it)."""

    def control(self, method: str, path: str, body: bytes) -> Response:
        """Answer a /__sim/ control request."""


class Server(ThreadingHTTPServer):
    """A threading HTTPS server that does the TLS handshake in the connection's thread."""

    daemon_threads = True
    block_on_close = False

    def __init__(self, port: int, sim: Backend, name: str, ctx: ssl.SSLContext) -> None:
        self.sim, self.name, self.ctx = sim, name, ctx
        self.conns: set[socket.socket] = set()
        self.conns_lock = threading.Lock()
        super().__init__(("127.0.0.1", port), _Handler)

    def process_request_thread(self, request: Any, client_address: Any) -> None:
        """Handshake (or break it, for a tls fault), then serve the connection."""
        raw: socket.socket = request
        if self.sim.take_tls_fault(self.name):
            _break_tls(raw)
            return
        try:
            raw.settimeout(10)
            raw.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            conn = self.ctx.wrap_socket(raw, server_side=True, do_handshake_on_connect=False)
            conn.do_handshake()
        except (OSError, ValueError) as exc:
            log.debug("%s: TLS handshake failed: %s", self.name, exc)
            raw.close()
            return
        self.sim.count("handshakes", self.name)
        with self.conns_lock:
            self.conns.add(conn)
        try:
            super().process_request_thread(conn, client_address)
        finally:
            with self.conns_lock:
                self.conns.discard(conn)

    def close_connections(self) -> None:
        """Shut down every open connection so that its thread ends."""
        with self.conns_lock:
            conns = list(self.conns)
        for conn in conns:
            with contextlib.suppress(OSError):
                socket.socket.shutdown(conn, socket.SHUT_RDWR)

    def handle_error(self, request: Any, client_address: Any) -> None:
        """Log handler errors quietly (clients vanish, faults close sockets)."""
        exc = sys.exc_info()[1]
        log.debug("%s: error serving %s: %r", self.name, client_address, exc)


def _break_tls(raw: socket.socket) -> None:
    """Read the ClientHello, answer with bytes that are not TLS, and close."""
    try:
        raw.settimeout(2)
        raw.recv(4096)
        raw.sendall(b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n")
    except OSError:
        pass
    finally:
        raw.close()


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "EnphaseSim/1.0"
    sys_version = ""
    timeout = 300
    server: Server

    def log_message(self, format: str, *args: Any) -> None:
        """Send access logs to the debug logger instead of stderr."""
        log.debug("%s: " + format, self.server.name, *args)

    def do_GET(self) -> None:
        """Serve a GET."""
        self._dispatch("GET")

    def do_POST(self) -> None:
        """Serve a POST."""
        self._dispatch("POST")

    def _dispatch(self, method: str) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length > 0 else b""
        sim, name = self.server.sim, self.server.name
        path = urlsplit(self.path).path
        if name == "gateway" and path.startswith("/__sim/"):
            self._send(sim.control(method, path, body))
            return
        fault = sim.begin_request(name, path)
        if fault is not None and self._pre_fault(fault):
            return
        headers = {"Authorization": self.headers.get("Authorization", ""),
                   "Cookie": self.headers.get("Cookie", "")}
        resp = sim.answer(name, method, path, headers, body)
        if fault is not None:
            resp = faults.alter(fault, resp)
        if resp.status == 401:
            sim.count("unauthorized")
        self._send(resp)

    def _pre_fault(self, fault: Fault) -> bool:
        """Apply a fault that replaces the answer; True when the request is done."""
        stop = self.server.sim.stop_event
        kind = fault.kind
        if kind == "slow":
            stop.wait(5.0 if fault.value is None else fault.value)
            return stop.is_set() and self._drop()
        if kind == "timeout":
            stop.wait(30.0 if fault.value is None else fault.value)
            return self._drop()
        if kind in ("reset", "down"):
            return self._drop(reset=True)
        if kind == "status":
            code = 500 if fault.value is None else int(fault.value)
            self._send(text_reply(f"simulated HTTP {code}", code))
        elif kind == "401":
            self.server.sim.count("unauthorized")
            self._send(unauthorized("Not authorized (fault)"))
        elif kind == "garbage":
            self._send(Response(200, b"<html>\x00\xff\xfe not json }{", "application/json"))
        elif kind == "empty":
            self._send(Response(200, b""))
        else:
            return False
        return True

    def _drop(self, reset: bool = False) -> bool:
        """Close the connection without answering (with a TCP RST if reset)."""
        self.close_connection = True
        conn = self.connection
        try:
            if reset:
                conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            self.rfile.close()
            self.wfile.close()
            conn.close()
        except OSError:
            pass
        return True

    def _send(self, resp: Response) -> None:
        self.send_response(resp.status)
        self.send_header("Content-Type", resp.content_type)
        self.send_header("Content-Length", str(len(resp.body)))
        for name, value in resp.headers:
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(resp.body)
        self.wfile.flush()

