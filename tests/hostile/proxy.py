"""A small HTTP CONNECT proxy on 127.0.0.1 for the proxy tests (optionally wants Basic auth)."""

from __future__ import annotations

import base64
import contextlib
import select
import socket
import threading
from types import TracebackType
from typing import Self


class ConnectProxy:
    """Tunnels CONNECT host:port; `heads` keeps each CONNECT request's head as received."""

    def __init__(self, user: str = "", password: str = "") -> None:
        self.want = "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode() \
            if user else ""
        self.heads: list[str] = []
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.port = int(self._listener.getsockname()[1])
        self._stop = threading.Event()

    def __enter__(self) -> Self:
        threading.Thread(target=self._accept, daemon=True).start()
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self._stop.set()
        self._listener.close()

    def _accept(self) -> None:
        while not self._stop.is_set():
            try:
                client, _ = self._listener.accept()
            except OSError:
                return
            threading.Thread(target=self._serve, args=(client,), daemon=True).start()

    def _serve(self, client: socket.socket) -> None:
        with contextlib.suppress(OSError), client:
            client.settimeout(10)
            head = b""
            while b"\r\n\r\n" not in head and len(head) < 65536:
                data = client.recv(4096)
                if not data:
                    return
                head += data
            text = head.split(b"\r\n\r\n", 1)[0].decode("latin-1")
            self.heads.append(text)
            lines = text.split("\r\n")
            auth = next((line.split(":", 1)[1].strip() for line in lines[1:]
                         if line.lower().startswith("proxy-authorization:")), "")
            if self.want and auth != self.want:
                client.sendall(b"HTTP/1.1 407 Proxy Authentication Required\r\n"
                               b"Proxy-Authenticate: Basic realm=\"t\"\r\n"
                               b"Content-Length: 0\r\n\r\n")
                return
            target = lines[0].split()[1]
            host, _, port = target.rpartition(":")
            with socket.create_connection((host.strip("[]"), int(port)), timeout=10) as up:
                client.sendall(b"HTTP/1.1 200 Connection established\r\n\r\n")
                self._pipe(client, up)

    def _pipe(self, a: socket.socket, b: socket.socket) -> None:
        while not self._stop.is_set():
            ready, _, _ = select.select([a, b], [], [], 0.5)
            for sock in ready:
                data = sock.recv(65536)
                if not data:
                    return
                (b if sock is a else a).sendall(data)
