"""HTTPS simulator of an Enphase IQ Gateway and of the Enphase cloud (login + tokens) on 127.0.0.1.

Used by the demo, the tests and the benchmarks: real TLS (a self-signed certificate made at start),
real HTTP/1.1 keep-alive, token checks, live state that tests can change, and injectable faults.
Run ``python -m enphase_monitor.simulator --help`` for the command line.
"""

from __future__ import annotations

import argparse
import base64
import contextlib
import dataclasses
import hashlib
import json
import logging
import os
import secrets
import shutil
import signal
import socket
import ssl
import struct
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import FrameType, TracebackType
from typing import Any, Self
from urllib.parse import parse_qs, urlsplit

from enphase_monitor import simdata, simtopology
from enphase_monitor.facts import DATA_ENDPOINTS as GATEWAY_PATHS
from enphase_monitor.facts import INVENTORY
from enphase_monitor.jwtpayload import jwt_payload as decode_jwt_payload
from enphase_monitor.simdata import SimState

__all__ = [
    "FAULT_KINDS",
    "SimState",
    "Simulator",
    "decode_jwt_payload",
    "generate_certificate",
    "main",
    "make_jwt",
]

log = logging.getLogger(__name__)

FAULT_KINDS = frozenset({
    "timeout", "reset", "tls", "status", "401", "garbage", "empty", "truncated", "slow",
    "wrong_types", "down",
})
OWNER_LIFETIME_S = 365 * 24 * 3600.0
INSTALLER_LIFETIME_S = 12 * 3600.0
CLOUD_TARGETS = {"login": "/login/login.json", "tokens": "/tokens"}
_FIXTURE_FILES = {"/ivp/ensemble/secctrl": "ivp_ensemble_secctrl",
                  "/ivp/meters/reports": "ivp_meters_reports", "/ivp/meters": "ivp_meters",
                  "/ivp/ensemble/relay": "ivp_ensemble_relay", INVENTORY: "ivp_ensemble_inventory"}


# --------------------------------------------------------------------------- certificate & JWT

def generate_certificate(directory: Path, *, prefer_openssl: bool = False) -> tuple[Path, Path]:
    """Make a self-signed certificate for localhost / 127.0.0.1, valid one year.

    Args:
        directory: where to write ``sim-cert.pem`` and ``sim-key.pem``.
        prefer_openssl: use the ``openssl`` command even if ``cryptography`` is importable.

    Returns:
        (certificate path, private key path).
    """
    cert, key = directory / "sim-cert.pem", directory / "sim-key.pem"
    if not prefer_openssl:
        try:
            _cert_with_cryptography(cert, key)
            return cert, key
        except ImportError:
            pass
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "365",
         "-subj", "/CN=localhost", "-addext", "subjectAltName=DNS:localhost,IP:127.0.0.1",
         "-keyout", str(key), "-out", str(cert)],
        check=True, capture_output=True, timeout=60,
    )
    key.chmod(0o600)
    return cert, key


def _cert_with_cryptography(cert_path: Path, key_path: Path) -> None:
    import datetime
    import ipaddress

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")])
    now = datetime.datetime.now(datetime.UTC)
    ski = x509.SubjectKeyIdentifier.from_public_key(key.public_key())
    cert = (
        x509.CertificateBuilder()
        .subject_name(name).issuer_name(name).public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=365))
        .add_extension(x509.SubjectAlternativeName([
            x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
            critical=False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(x509.KeyUsage(
            digital_signature=True, content_commitment=False, key_encipherment=False,
            data_encipherment=False, key_agreement=False, key_cert_sign=True, crl_sign=False,
            encipher_only=False, decipher_only=False), critical=True)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .add_extension(ski, critical=False)
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_subject_key_identifier(ski),
                       critical=False)
        .sign(key, hashes.SHA256())
    )
    key_path.write_bytes(key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption()))
    key_path.chmod(0o600)
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def make_jwt(payload: dict[str, object]) -> str:
    """Encode a JWT like Entrez's (ES256 header, random signature; base64url without padding)."""
    header = {"kid": "sim", "typ": "JWT", "alg": "ES256"}
    parts = [json.dumps(header, separators=(",", ":")).encode(),
             json.dumps(payload, separators=(",", ":")).encode(), secrets.token_bytes(64)]
    return ".".join(_b64url(p) for p in parts)


# --------------------------------------------------------------------------- HTTP plumbing

@dataclass
class _Fault:
    target: str
    kind: str
    count: int | None
    value: float | None


@dataclass
class _Response:
    status: int
    body: bytes
    content_type: str = "application/json"
    headers: list[tuple[str, str]] = dataclasses.field(default_factory=list)


def _json(obj: object, status: int = 200) -> _Response:
    return _Response(status, json.dumps(obj).encode())


def _text(text: str, status: int) -> _Response:
    return _Response(status, text.encode(), "text/plain")


class _Server(ThreadingHTTPServer):
    """A threading HTTPS server that does the TLS handshake in the connection's thread."""

    daemon_threads = True
    block_on_close = False

    def __init__(self, port: int, sim: Simulator, name: str, ctx: ssl.SSLContext) -> None:
        self.sim, self.name, self.ctx = sim, name, ctx
        self.conns: set[socket.socket] = set()
        self.conns_lock = threading.Lock()
        super().__init__(("127.0.0.1", port), _Handler)

    def process_request_thread(self, request: Any, client_address: Any) -> None:
        """Handshake (or break it, for a tls fault), then serve the connection."""
        raw: socket.socket = request
        if self.sim._take_tls_fault(self.name):
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
        self.sim._count_handshake(self.name)
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
    server: _Server

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
        sim = self.server.sim
        path = urlsplit(self.path).path
        if self.server.name == "gateway" and path.startswith("/__sim/"):
            self._send(sim._control(method, path, body))
            return
        fault = sim._begin_request(self.server.name, path)
        if fault is not None and self._pre_fault(fault):
            return
        if self.server.name == "gateway":
            resp = sim._gateway(method, path, self.headers.get("Authorization", ""),
                                self.headers.get("Cookie", ""))
        else:
            resp = sim._cloud(method, path, body)
        if fault is not None:
            resp = _post_fault(fault, resp)
        if resp.status == 401:
            sim._count("unauthorized")
        self._send(resp)

    def _pre_fault(self, fault: _Fault) -> bool:
        """Apply a fault that replaces the answer; True when the request is done."""
        stop = self.server.sim._stop_event
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
            self._send(_text(f"simulated HTTP {code}", code))
        elif kind == "401":
            self.server.sim._count("unauthorized")
            self._send(_json({"status": 401, "error": "", "info": "Not authorized (fault)",
                              "moreInfo": ""}, 401))
        elif kind == "garbage":
            self._send(_Response(200, b"<html>\x00\xff\xfe not json }{", "application/json"))
        elif kind == "empty":
            self._send(_Response(200, b""))
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

    def _send(self, resp: _Response) -> None:
        self.send_response(resp.status)
        self.send_header("Content-Type", resp.content_type)
        self.send_header("Content-Length", str(len(resp.body)))
        for name, value in resp.headers:
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(resp.body)
        self.wfile.flush()


def _post_fault(fault: _Fault, resp: _Response) -> _Response:
    """Apply a fault that alters the real answer (truncated, wrong_types)."""
    if fault.kind == "truncated":
        return _Response(200, resp.body[: len(resp.body) // 2], resp.content_type)
    if fault.kind == "wrong_types":
        try:
            data = json.loads(resp.body)
        except ValueError:
            return resp
        return _Response(resp.status, json.dumps(simdata.wrong_types(data)).encode(),
                         resp.content_type, resp.headers)
    return resp


# --------------------------------------------------------------------------- the simulator

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
        self._faults: list[_Fault] = []
        self._tokens: dict[str, float] = {}  # token -> exp
        self._cookies: dict[str, str] = {}  # sessionId -> token
        self._sessions: dict[str, str] = {}  # cloud session_id -> username
        self._energy = simdata.EnergyCounters()
        self._stats: dict[str, Any] = {}
        self.reset_stats()
        self._servers: dict[str, _Server] = {}
        self._threads: list[threading.Thread] = []
        self.ca_file = Path()
        self.key_file = Path()
        self.cert_sha256 = ""
        if self.fixture_dir is not None and (self.fixture_dir / "info").is_file():
            serial, firmware = simdata.parse_info_xml((self.fixture_dir / "info").read_text())
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
            server = _Server(self._ports[name], self, name, ctx)
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
        return f"https://127.0.0.1:{self.cloud_port}/login/login.json?"

    @property
    def tokens_url(self) -> str:
        """The cloud token URL (Entrez's)."""
        return f"https://127.0.0.1:{self.cloud_port}/tokens"

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
        changes = simdata.validate_fields(fields)
        with self._lock:
            self._state = dataclasses.replace(self._state, **changes)
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
        """
        if kind not in FAULT_KINDS:
            raise ValueError(f"unknown fault kind {kind!r}; expected one of {sorted(FAULT_KINDS)}")
        if count is not None and (isinstance(count, bool) or int(count) != count or count < 1):
            raise ValueError("count must be an int >= 1 or None")
        seconds = None if value is None else float(value)
        with self._lock:
            self._faults.append(_Fault(target, kind, count, seconds))

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
        with self._lock:
            return self._new_token(self._state.username, user_type, lifetime_s)

    def revoke_tokens(self) -> None:
        """Make every issued token (and session cookie) invalid: the gateway answers 401."""
        with self._lock:
            self._tokens.clear()
            self._cookies.clear()

    def _new_token(self, username: str, user_type: str, lifetime_s: float | None) -> str:
        if lifetime_s is None:
            lifetime_s = self._state.token_lifetime_s
        if lifetime_s is None:
            lifetime_s = INSTALLER_LIFETIME_S if user_type == "installer" else OWNER_LIFETIME_S
        now = int(self.now())
        exp = now + int(lifetime_s)
        token = make_jwt({"aud": self._state.serial, "iss": "Entrez", "enphaseUser": user_type,
                          "exp": exp, "iat": now, "jti": str(uuid.uuid4()),
                          "username": username})
        self._tokens[token] = exp
        return token

    def _token_ok(self, token: str) -> bool:
        with self._lock:
            exp = self._tokens.get(token)
            return exp is not None and exp > self.now()

    def _count(self, key: str) -> None:
        with self._lock:
            self._stats[key] += 1

    def _count_handshake(self, server: str) -> None:
        with self._lock:
            self._stats["handshakes"][server] += 1

    def _take_tls_fault(self, server: str) -> bool:
        """Consume a tls fault for a new connection to this server, if one applies."""
        with self._lock:
            for fault in self._faults:
                if fault.kind != "tls":
                    continue
                cloud = fault.target in CLOUD_TARGETS or fault.target == "cloud"
                if (server == "cloud") == cloud:
                    self._consume(fault)
                    self._stats["tls_faults"] += 1
                    return True
        return False

    def _consume(self, fault: _Fault) -> None:
        if fault.count is not None:
            fault.count -= 1
            if fault.count <= 0:
                self._faults.remove(fault)

    def _begin_request(self, server: str, path: str) -> _Fault | None:
        """Count a request and consume the first request-level fault matching it."""
        with self._lock:
            reqs = self._stats["requests"]
            reqs[path] = reqs.get(path, 0) + 1
            if path == CLOUD_TARGETS["login"]:
                self._stats["logins"] += 1
            elif path == CLOUD_TARGETS["tokens"]:
                self._stats["token_requests"] += 1
            for fault in self._faults:
                if fault.kind == "tls":
                    continue
                if server == "cloud":
                    hit = CLOUD_TARGETS.get(fault.target) == path or fault.target == "cloud"
                else:
                    hit = fault.target in ("*", "gateway", path)
                if hit:
                    self._consume(fault)
                    return dataclasses.replace(fault)
        return None

    # ---- the gateway
    def _authorized(self, authorization: str, cookie_header: str) -> bool:
        bearer = authorization.lower().startswith("bearer ")
        if bearer and self._token_ok(authorization[7:].strip()):
            return True
        for part in cookie_header.split(";"):
            name, _, value = part.strip().partition("=")
            if name == "sessionId":
                with self._lock:
                    token = self._cookies.get(value)
                if token is not None and self._token_ok(token):
                    return True
        return False

    def _fixture(self, path: str) -> bytes | None:
        name = "info" if path in ("/info", "/info.xml") else _FIXTURE_FILES.get(path)
        if self.fixture_dir is None or name is None:
            return None
        file = self.fixture_dir / name
        return file.read_bytes() if file.is_file() else None

    def _gateway(self, method: str, path: str, authorization: str, cookies: str) -> _Response:
        """Answer a gateway request (after faults)."""
        known = ("/info", "/info.xml", "/auth/check_jwt", *GATEWAY_PATHS)
        if path not in known:
            return _text("Not Found", 404)
        if method != "GET":
            return _text("Method Not Allowed", 405)
        state, now = self.state, self.now()
        if path in ("/info", "/info.xml"):
            body = self._fixture(path) or simdata.info_xml(state, now)
            return _Response(200, body, "text/xml")
        unauthorized = _json({"status": 401, "error": "", "info": "Not authorized",
                              "moreInfo": ""}, 401)
        if path == "/auth/check_jwt":
            token = authorization[7:].strip() if authorization.lower().startswith("bearer ") \
                else ""
            if not self._token_ok(token):
                return unauthorized
            session = secrets.token_hex(16)
            with self._lock:
                self._cookies[session] = token
            return _Response(200, b"<!DOCTYPE html><h2>Valid token.</h2>", "text/html",
                             [("Set-Cookie", f"sessionId={session}; Secure; HttpOnly; Path=/")])
        if not self._authorized(authorization, cookies):
            return unauthorized
        if path == "/ivp/ensemble/relay" and not state.has_relay:
            return _text("Not Found", 404)
        fixture = self._fixture(path)
        if fixture is not None:
            return _Response(200, fixture)
        battery = simtopology.battery_view(state)
        builders: dict[str, Callable[[], object]] = {
            "/ivp/ensemble/relay": lambda: simtopology.relay(state),
            "/ivp/livedata/status": lambda: simdata.livedata(battery, now),
            "/ivp/ensemble/secctrl": lambda: simdata.secctrl(battery),
            "/ivp/meters": lambda: simdata.meters(state),
            INVENTORY: lambda: simtopology.inventory(state, now),
        }
        if path == "/ivp/meters/reports":
            with self._lock:
                return _json(simdata.meters_reports(state, now, self._energy))
        return _json(builders[path]())

    # ---- the cloud
    def _cloud(self, method: str, path: str, body: bytes) -> _Response:
        """Answer a cloud request (after faults)."""
        if path not in CLOUD_TARGETS.values():
            return _text("Not Found", 404)
        if method != "POST":
            return _text("Method Not Allowed", 405)
        state = self.state
        if path == CLOUD_TARGETS["login"]:
            form = parse_qs(body.decode("utf-8", "replace"))
            email = (form.get("user[email]") or [""])[0]
            password = (form.get("user[password]") or [""])[0]
            if email != state.username or password != state.password:
                return _json({"message": "Invalid email or password"}, 401)
            if state.mfa:
                nonce = secrets.token_hex(16)
                return _Response(200, json.dumps({"success": True, "isBlocked": False}).encode(),
                                 headers=[("Set-Cookie", f"login_otp_nonce={nonce}; Path=/")])
            session_id = secrets.token_hex(16)
            with self._lock:
                self._sessions[session_id] = email
            return _json({"session_id": session_id, "manager_token": secrets.token_hex(24),
                          "is_consumer": True, "user_id": 1, "user_name": email.split("@")[0]})
        try:
            req = json.loads(body or b"{}")
        except ValueError:
            return _text("bad request: JSON expected", 400)
        if not isinstance(req, dict):
            return _text("bad request: JSON object expected", 400)
        with self._lock:
            user = self._sessions.get(str(req.get("session_id")))
            if user is None or user != req.get("username"):
                return _text("Unauthorized: unknown or expired session", 401)
            if req.get("serial_num") != state.serial:
                return _text("serial not found on this account", 403)
            return _Response(200, self._new_token(user, state.user_type, None).encode(),
                             "text/plain")

    # ---- the control API (/__sim/ on the gateway)
    def _control(self, method: str, path: str, body: bytes) -> _Response:
        """Answer a /__sim/ control request."""
        try:
            req = json.loads(body) if body.strip() else {}
            if not isinstance(req, dict):
                raise TypeError("JSON object expected")
            action = (method, path)
            if action == ("GET", "/__sim/state"):
                return _json(dataclasses.asdict(self.state))
            if action == ("POST", "/__sim/state"):
                return _json(dataclasses.asdict(self.update(**req)))
            if action == ("POST", "/__sim/fault"):
                self.inject(str(req["target"]), str(req["kind"]), req.get("count"),
                            req.get("value"))
                return _json({"ok": True})
            if action == ("POST", "/__sim/clear"):
                self.clear_faults(req.get("target"))
                return _json({"ok": True})
            if action == ("GET", "/__sim/stats"):
                return _json(self.stats())
            if action == ("POST", "/__sim/reset_stats"):
                self.reset_stats()
                return _json({"ok": True})
            if action == ("POST", "/__sim/token"):
                return _text(self.issue_token(str(req.get("user_type", "owner")),
                                              req.get("lifetime_s")), 200)
            if action == ("POST", "/__sim/revoke"):
                self.revoke_tokens()
                return _json({"ok": True})
            if action == ("GET", "/__sim/info"):
                return _json(self.info())
        except (ValueError, KeyError, TypeError) as exc:
            return _json({"error": str(exc)}, 400)
        return _json({"error": f"unknown control request {method} {path}"}, 404)


# --------------------------------------------------------------------------- command line

def main(argv: list[str] | None = None) -> int:
    """Run the simulator until SIGTERM/SIGINT; prints its URLs then ``ready``."""
    parser = argparse.ArgumentParser(prog="python -m enphase_monitor.simulator",
                                     description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--gateway-port", type=int, default=0)
    parser.add_argument("--cloud-port", type=int, default=0)
    parser.add_argument("--fixture", type=Path, help="serve this pyenphase fixture directory")
    parser.add_argument("--workdir", type=Path, help="certificate and simulator.json directory")
    parser.add_argument("--grid", default="closed", help="relay state: open, closed, ...")
    parser.add_argument("--soc", type=float, default=80.0)
    parser.add_argument("--phases", choices=simdata.PHASES, default="split")
    parser.add_argument("--load", type=float, default=1500.0, help="house load in W")
    parser.add_argument("--mfa", action="store_true", help="the account needs MFA")
    parser.add_argument("--topology", choices=simdata.TOPOLOGIES, default="system-controller",
                        help="the backup hardware (grid on and off for each: --grid, or"
                        " POST /__sim/state {\"grid\": \"open\"})")
    args = parser.parse_args(argv)
    state = SimState(grid=args.grid, soc=args.soc, phases=args.phases, load_w=args.load,
                     mfa=args.mfa, topology=args.topology)
    done = threading.Event()

    def _on_signal(signum: int, frame: FrameType | None) -> None:
        done.set()

    signal.signal(signal.SIGTERM, _on_signal)
    signal.signal(signal.SIGINT, _on_signal)
    sim = Simulator(workdir=args.workdir, gateway_port=args.gateway_port,
                    cloud_port=args.cloud_port, fixture_dir=args.fixture, state=state)
    with sim:
        info = sim.info()
        (sim.workdir / "simulator.json").write_text(json.dumps(info, indent=2) + "\n")
        for key in ("gateway_url", "gateway_host", "login_url", "tokens_url", "ca_file",
                    "cert_sha256", "serial", "username", "password"):
            print(f"{key}={info[key]}")
        print("ready", flush=True)
        while not done.wait(0.5):
            pass
    return 0


if __name__ == "__main__":
    sys.exit(main())
