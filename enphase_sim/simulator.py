"""HTTPS simulator of an Enphase IQ Gateway and of the Enphase cloud (login + tokens) on 127.0.0.1.

Used by the demo, the tests and the benchmarks: real TLS (a self-signed certificate made at start),
real HTTP/1.1 keep-alive, token checks, live state that tests can change, and injectable faults.
Run ``enphase-sim --help`` (or ``python -m enphase_sim --help``) for the command line.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import shutil
import ssl
import tempfile
import threading
import time
from pathlib import Path
from types import TracebackType
from typing import Any, Self

from . import control, faults
from .cloud import Cloud
from .faults import CLOUD_TARGETS, Fault
from .gateway import Gateway
from .replies import Response
from .server import Server
from .state import SimState, parse_info_xml, validate_fields
from .tls import generate_certificate
from .tokens import TokenBook


class Simulator:
    """An HTTPS IQ Gateway plus the Enphase cloud's login and token endpoints, on 127.0.0.1.

    Use as a context manager, or call start() and stop().
    """

    def __init__(self, workdir: Path | None = None, gateway_port: int = 0, cloud_port: int = 0,
                 fixture_dir: Path | None = None, state: SimState | None = None) -> None:
        self._own_workdir = workdir is None
        self.workdir = Path(tempfile.mkdtemp(prefix="enphase-sim-")) if workdir is None \
            else Path(workdir)
        self._ports = {"gateway": gateway_port, "cloud": cloud_port}
        self.fixture_dir = None if fixture_dir is None else Path(fixture_dir)
        self._state = dataclasses.replace(state) if state is not None else SimState()
        self._lock = threading.RLock()
        self._stop_event = threading.Event()
        self._faults: list[Fault] = []
        self._tokens = TokenBook()
        self._gateway = Gateway(self._tokens, self.fixture_dir)
        self._cloud = Cloud(self._tokens, lambda user, kind: self._issue(user, kind, None))
        self._stats: dict[str, Any] = {}
        self.reset_stats()
        self._servers: dict[str, Server] = {}
        self._threads: list[threading.Thread] = []
        self.ca_file = Path()
        self.key_file = Path()
        self.cert_sha256 = ""
        if self.fixture_dir is not None and (self.fixture_dir / "info").is_file():
            serial, firmware = parse_info_xml((self.fixture_dir / "info").read_text())
            self._state.serial = serial or self._state.serial
            self._state.firmware = firmware or self._state.firmware

    # ---- lifecycle
    def start(self) -> Self:
        """Make the certificate and start both servers; returns self."""
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.ca_file, self.key_file = generate_certificate(self.workdir)
        der = ssl.PEM_cert_to_DER_cert(self.ca_file.read_text())
        self.cert_sha256 = hashlib.sha256(der).hexdigest()
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(self.ca_file, self.key_file)
        for name in ("gateway", "cloud"):
            server = Server(self._ports[name], self, name, ctx)
            self._servers[name] = server
            self._ports[name] = server.server_address[1]
            thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.1},
                                      name=f"sim-{name}", daemon=True)
            thread.start()
            self._threads.append(thread)
        return self

    def stop(self) -> None:
        """Stop both servers and close open connections (returns within about 2 s)."""
        self._stop_event.set()
        for server in self._servers.values():
            server.shutdown()
            server.server_close()
            server.close_connections()
        for thread in self._threads:
            thread.join(timeout=1.0)
        self._servers.clear()
        self._threads.clear()
        if self._own_workdir:
            shutil.rmtree(self.workdir, ignore_errors=True)

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.stop()

    # ---- addresses
    @property
    def gateway_port(self) -> int:
        """The gateway's TCP port."""
        return self._ports["gateway"]

    @property
    def cloud_port(self) -> int:
        """The cloud's TCP port."""
        return self._ports["cloud"]

    @property
    def gateway_host(self) -> str:
        """``127.0.0.1:PORT`` of the gateway."""
        return f"127.0.0.1:{self.gateway_port}"

    @property
    def gateway_url(self) -> str:
        """``https://127.0.0.1:PORT`` of the gateway."""
        return f"https://{self.gateway_host}"

    @property
    def login_url(self) -> str:
        """The cloud login URL (Enlighten's, with its trailing ``?``)."""
        return f"https://127.0.0.1:{self.cloud_port}{CLOUD_TARGETS['login']}?"

    @property
    def tokens_url(self) -> str:
        """The cloud token URL (Entrez's)."""
        return f"https://127.0.0.1:{self.cloud_port}{CLOUD_TARGETS['tokens']}"

    def info(self) -> dict[str, Any]:
        """The facts another process needs to use this simulator."""
        st = self.state
        return {"gateway_host": self.gateway_host, "gateway_url": self.gateway_url,
                "login_url": self.login_url, "tokens_url": self.tokens_url,
                "ca_file": str(self.ca_file), "cert_sha256": self.cert_sha256,
                "serial": st.serial, "username": st.username, "password": st.password,
                "pid": os.getpid()}

    # ---- state, faults, stats, tokens
    @property
    def state(self) -> SimState:
        """A copy of the current state."""
        with self._lock:
            return dataclasses.replace(self._state)

    def update(self, **fields: Any) -> SimState:
        """Change state fields (validated; ValueError if bad); returns the new state."""
        changes = validate_fields(fields)
        with self._lock:
            was_stale = self._state.live_stale
            self._state = dataclasses.replace(self._state, **changes)
            if self._state.live_stale and not was_stale:
                self._gateway.freeze_live(self._state, self.now())
            return dataclasses.replace(self._state)

    def now(self) -> float:
        """The simulator's clock: time.time() plus clock_offset_s."""
        with self._lock:
            return time.time() + self._state.clock_offset_s

    def inject(self, target: str, kind: str, count: int | None = None,
               value: float | None = None) -> None:
        """Add a fault.

        Args:
            target: a gateway path ("/ivp/ensemble/relay"), "*" (every gateway path but /__sim),
                "login" or "tokens" (cloud). For tls: "*"/"gateway"/a path = the gateway server,
                "login"/"tokens"/"cloud" = the cloud server.
            kind: one of FAULT_KINDS.
            count: how many requests (connections for tls) it affects; None = until cleared.
            value: seconds for timeout/slow, HTTP code for status.

        Raises:
            ValueError: an unknown kind or a bad count.
        """
        faults.check(kind, count)
        seconds = None if value is None else float(value)
        with self._lock:
            self._faults.append(Fault(target, kind, count, seconds))

    def clear_faults(self, target: str | None = None) -> None:
        """Remove all faults, or those for one target."""
        with self._lock:
            self._faults = [f for f in self._faults if target is not None and f.target != target]

    def stats(self) -> dict[str, Any]:
        """Counters (a copy).

        Returns:
            ``{"handshakes": {"gateway": n, "cloud": n}, "requests": {path: n},
            "logins": n, "token_requests": n, "unauthorized": n, "tls_faults": n}``;
            /__sim/ requests are not counted.
        """
        with self._lock:
            return json.loads(json.dumps(self._stats))  # type: ignore[no-any-return]

    def reset_stats(self) -> None:
        """Zero every counter."""
        with self._lock:
            self._stats = {"handshakes": {"gateway": 0, "cloud": 0}, "requests": {},
                           "logins": 0, "token_requests": 0, "unauthorized": 0,
                           "tls_faults": 0}

    def issue_token(self, user_type: str = "owner", lifetime_s: float | None = None) -> str:
        """Issue a token the gateway accepts, without going through login."""
        return self._issue(self.state.username, user_type, lifetime_s)

    def revoke_tokens(self) -> None:
        """Make every issued token (and session cookie) invalid: the gateway answers 401."""
        self._tokens.revoke()

    def _issue(self, username: str, user_type: str, lifetime_s: float | None) -> str:
        st = self.state
        return self._tokens.issue(
            serial=st.serial, username=username, user_type=user_type, now=self.now(),
            lifetime_s=st.token_lifetime_s if lifetime_s is None else lifetime_s)

    # ---- what the servers ask (server.Backend)
    @property
    def stop_event(self) -> threading.Event:
        """Set when the simulator stops."""
        return self._stop_event

    def count(self, key: str, server: str | None = None) -> None:
        """Add one to a counter (`handshakes` per server)."""
        with self._lock:
            if server is None:
                self._stats[key] += 1
            else:
                self._stats[key][server] += 1

    def take_tls_fault(self, server: str) -> bool:
        """Consume a tls fault for a new connection to this server, if one applies."""
        with self._lock:
            for fault in self._faults:
                if fault.kind == "tls" and fault.hits_server(server):
                    self._consume(fault)
                    self._stats["tls_faults"] += 1
                    return True
        return False

    def begin_request(self, server: str, path: str) -> Fault | None:
        """Count a request and consume the first request-level fault matching it."""
        with self._lock:
            reqs = self._stats["requests"]
            reqs[path] = reqs.get(path, 0) + 1
            if path == CLOUD_TARGETS["login"]:
                self._stats["logins"] += 1
            elif path == CLOUD_TARGETS["tokens"]:
                self._stats["token_requests"] += 1
            for fault in self._faults:
                if fault.kind != "tls" and fault.hits_request(server, path):
                    self._consume(fault)
                    return dataclasses.replace(fault)
        return None

    def answer(self, server: str, method: str, path: str, headers: dict[str, str],
               body: bytes) -> Response:
        """The real answer of the gateway or the cloud."""
        if server == "gateway":
            return self._gateway.answer(method, path, headers, self.state, self.now())
        return self._cloud.answer(method, path, body, self.state)

    def control(self, method: str, path: str, body: bytes) -> Response:
        """Answer a /__sim/ control request (see enphase_sim/control.py)."""
        return control.answer(self, method, path, body)

    def _consume(self, fault: Fault) -> None:
        if fault.count is not None:
            fault.count -= 1
            if fault.count <= 0:
                self._faults.remove(fault)

