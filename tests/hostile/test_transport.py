"""The transport against the hostile gateway: every bound, the deadline, cancellation."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from enphase_monitor.config import load_config
from enphase_monitor.errors import (
    BackoffActive,
    CloudCancelled,
    Failure,
    GatewayCancelled,
    GatewayDataError,
    GatewayHTTPError,
    GatewayUnreachable,
    TransportError,
)
from enphase_monitor.models import Grid
from enphase_monitor.tokens import TokenManager
from enphase_monitor.transport import HttpsTransport, Reply, Target
from enphase_monitor.wiring import Clients, build_clients
from enphase_sim import Simulator
from tests.conftest import write_setup
from tests.hostile.server import HostileGateway

RELAY = "/ivp/ensemble/relay"
HANG_S = 60.0  # a request still running after this long is a hang: the test fails


@pytest.fixture
def transport() -> Iterator[HttpsTransport]:
    http = HttpsTransport(verify=False, trust_env=False)
    yield http
    http.close()


def get(http: HttpsTransport, server: HostileGateway, sim: Simulator, timeout: float = 2.0,
        path: str = RELAY) -> Reply:
    return http.request("GET", f"https://{server.host}{path}", timeout=timeout,
                        headers={"Authorization": f"Bearer {sim.issue_token()}"})


def failure(call: Callable[[], object]) -> TransportError:
    """Run call() in a thread; its TransportError. Fails (instead of hanging) after HANG_S."""
    caught: list[BaseException] = []

    def run() -> None:
        try:
            call()
        except BaseException as exc:  # handed to the test
            caught.append(exc)

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    thread.join(HANG_S)
    assert not thread.is_alive(), f"the request still ran after {HANG_S} s"
    assert caught, "the request succeeded"
    assert isinstance(caught[0], TransportError), repr(caught[0])
    return caught[0]


def test_healthy_answers_share_one_connection(hostile: HostileGateway, sim: Simulator,
                                              transport: HttpsTransport) -> None:
    for _ in range(5):
        reply = get(transport, hostile, sim)
        assert reply.status == 200 and "mains_oper_state" in reply.text
    assert hostile.counts["connections"] == 1


@pytest.mark.parametrize("attack, kind, words", [
    ("length_absurd", Failure.LIMIT, "4611686018427387904 bytes (Content-Length)"),
    ("huge_declared", Failure.LIMIT, "200000000 bytes (Content-Length)"),
    ("huge_body", Failure.LIMIT, "larger than the 256 KiB limit"),
    ("endless_chunks", Failure.LIMIT, "more than 4096 chunks"),
    ("absurd_chunk", Failure.LIMIT, "chunk size of 0xffffffffffffffff"),
    ("cookie_flood", Failure.LIMIT, "header line longer than"),
    ("many_headers", Failure.LIMIT, "more than 100 header lines"),
    ("long_status", Failure.LIMIT, "status line longer than 1024"),
    ("endless_continue", Failure.LIMIT, "header lines"),
    ("length_short", Failure.CONNECTION, "closed before the whole answer"),
    ("redirect", Failure.REDIRECT, "redirected (HTTP 302) to https://evil.example/\\x1b[2J"),
    ("escape_status", Failure.PROTOCOL, "\\x1b[2J"),
])
def test_each_bound_is_a_clean_failed_request(
    hostile: HostileGateway, sim: Simulator, transport: HttpsTransport, attack: str,
    kind: Failure, words: str
) -> None:
    get(transport, hostile, sim)
    hostile.attack = attack
    exc = failure(lambda: get(transport, hostile, sim))
    assert exc.kind is kind and words in str(exc), str(exc)
    assert "\n" not in str(exc) and "\x1b" not in str(exc)
    hostile.attack = None
    assert get(transport, hostile, sim).status == 200  # a new connection, all well again


@pytest.mark.parametrize("attack", [
    "drip_body", "drip_headers", "stall_answer", "stall_handshake", "stall_after_handshake",
])
def test_a_dripping_or_stalled_gateway_fails_at_the_deadline(
    hostile: HostileGateway, sim: Simulator, transport: HttpsTransport, attack: str
) -> None:
    hostile.attack = attack
    exc = failure(lambda: get(transport, hostile, sim, timeout=1.0))
    assert exc.kind is Failure.TIMEOUT and "within 1 s" in str(exc)


@pytest.mark.parametrize("attack", ["drip_body", "drip_headers", "stall_handshake"])
def test_stop_cancels_the_request_in_flight_and_every_later_one(
    hostile: HostileGateway, sim: Simulator, attack: str
) -> None:
    stop = threading.Event()
    http = HttpsTransport(verify=False, trust_env=False, stop=stop)
    hostile.attack = attack
    timer = threading.Timer(0.5, stop.set)
    timer.start()
    exc = failure(lambda: get(http, hostile, sim, timeout=HANG_S * 2))
    assert exc.kind is Failure.CANCELLED, str(exc)
    connections = hostile.counts["connections"]
    hostile.attack = None
    assert failure(lambda: get(http, hostile, sim)).kind is Failure.CANCELLED
    assert hostile.counts["connections"] == connections  # failed at once: not even a connect


def clients_for(tmp_path: Path, sim: Simulator, server: HostileGateway,
                stop: threading.Event | None = None, extra: str = "") -> Clients:
    config = write_setup(tmp_path / "s", sim, f"ENVOY_HOST={server.host}\n{extra}")
    return build_clients(load_config(config), stop=stop)


def test_the_retry_has_its_own_deadline(tmp_path: Path, hostile: HostileGateway,
                                        sim: Simulator) -> None:
    clients = clients_for(tmp_path, sim, hostile)
    try:
        clients.gateway.relay()
        before = hostile.counts["requests"]
        hostile.attack = "drip_body"
        with pytest.raises(GatewayUnreachable, match="within 2 s"):
            clients.gateway.relay()
        # the first attempt used up its deadline; the retry still reached the server
        assert hostile.counts["requests"] - before == 2
    finally:
        clients.close()


def stop_once(stop: threading.Event, check: Callable[[], bool]) -> None:
    """Set `stop` (what SIGTERM does) from a thread as soon as check() is true (after HANG_S
    anyway: the test then fails instead of hanging)."""
    def watch() -> None:
        end = time.monotonic() + HANG_S
        while not check() and time.monotonic() < end:
            time.sleep(0.01)
        stop.set()

    threading.Thread(target=watch, daemon=True).start()


def test_a_cancelled_gateway_request_is_not_retried(tmp_path: Path, hostile: HostileGateway,
                                                    sim: Simulator) -> None:
    stop = threading.Event()
    clients = clients_for(tmp_path, sim, hostile, stop)
    try:
        clients.gateway.relay()
        before = hostile.counts["requests"]
        hostile.attack = "drip_body"
        # the stop comes once the request is at the server (a timer could beat it there, or
        # fire after its 2 s deadline, and then the retry would be counted)
        stop_once(stop, lambda: hostile.counts["requests"] > before)
        with pytest.raises(GatewayCancelled):
            clients.gateway.relay()
        assert hostile.counts["requests"] - before == 1
    finally:
        clients.close()


def test_a_cancelled_cloud_request_starts_no_back_off(tmp_path: Path, hostile: HostileGateway,
                                                      sim: Simulator) -> None:
    stop = threading.Event()
    clients = clients_for(tmp_path, sim, hostile, stop)
    tokens: TokenManager = clients.tokens
    try:
        sim.inject("login", "slow", value=HANG_S)
        threading.Timer(0.5, stop.set).start()
        with pytest.raises(CloudCancelled):
            tokens.token()
        sim.clear_faults()
        stop.clear()
        try:
            assert tokens.token()  # logs in at once: the cancel was not counted as a failure
        except BackoffActive as exc:
            pytest.fail(f"a cancelled login started a back-off: {exc}")
        assert clients.gateway.relay().oper_state == "closed"
    finally:
        clients.close()


@pytest.mark.parametrize("attack, words", [
    ("deep_json", "more than 10000 objects and arrays"),
    ("invalid_utf8", "not valid UTF-8"),
    ("nul_bytes", "not valid JSON"),
    ("wide_json", "more than 10000 objects and arrays"),
    ("many_strings", None),  # decodes within the bounds; not a relay answer
])
def test_bad_json_is_a_data_error(tmp_path: Path, hostile: HostileGateway, sim: Simulator,
                                  attack: str, words: str | None) -> None:
    clients = clients_for(tmp_path, sim, hostile)
    try:
        clients.gateway.relay()
        hostile.attack = attack
        with pytest.raises(GatewayDataError, match=words):
            clients.gateway.relay()
    finally:
        clients.close()


def test_a_redirect_is_a_failed_request_not_followed(tmp_path: Path, hostile: HostileGateway,
                                                     sim: Simulator) -> None:
    clients = clients_for(tmp_path, sim, hostile)
    try:
        hostile.attack = "redirect"
        with pytest.raises(GatewayHTTPError, match="redirects are not followed") as info:
            clients.gateway.relay()
        assert info.value.status == 302
        assert hostile.counts["requests"] == 2  # check_jwt and the relay: nothing followed
    finally:
        clients.close()


@pytest.mark.parametrize("url", ["http://127.0.0.1:1/x", "ftp://host/x", "HTTP://h/",
                                 "https://[::1/x", "https://h:99999/"])
def test_anything_but_a_well_formed_https_url_is_refused(transport: HttpsTransport,
                                                         url: str) -> None:
    with pytest.raises(TransportError) as info:
        transport.request("GET", url, timeout=2)
    assert info.value.kind is Failure.REQUEST
    assert "\n" not in str(info.value)


def test_a_header_value_with_a_line_break_is_not_sent(hostile: HostileGateway,
                                                      transport: HttpsTransport) -> None:
    secret = "eyJ.secret-token\r\nX-Injected: 1"
    with pytest.raises(TransportError) as info:
        transport.request("GET", f"https://{hostile.host}{RELAY}", timeout=2,
                          headers={"Authorization": f"Bearer {secret}"})
    assert info.value.kind is Failure.REQUEST and "Authorization" in str(info.value)
    assert "secret-token" not in str(info.value)
    assert hostile.counts["requests"] == 0


@pytest.mark.parametrize("url, host, port", [
    ("https://[::1]:8443/x", "::1", 8443),
    ("https://[fe80::1]/ivp", "fe80::1", 443),
    ("https://[fe80::1%25eth0]:8443/", "fe80::1%eth0", 8443),
    ("https://[fe80::1%eth0]:8443/", "fe80::1%eth0", 8443),  # as config's ENVOY_HOST gives it
    ("https://Envoy.Local/info.xml?x=1", "envoy.local", 443),
])
def test_urls_are_taken_apart_properly(url: str, host: str, port: int) -> None:
    target = Target.parse(url)
    assert (target.host, target.port) == (host, port)


def _ipv6_loopback() -> bool:
    try:
        with socket.socket(socket.AF_INET6) as sock:
            sock.bind(("::1", 0))
        return True
    except OSError:
        return False


@pytest.mark.skipif(not _ipv6_loopback(), reason="this machine has no IPv6 loopback (::1)")
def test_an_ipv6_gateway_is_reached(tmp_path: Path, sim: Simulator) -> None:
    with HostileGateway(sim, tmp_path / "v6", host="::1") as server:
        assert server.host.startswith("[::1]:")
        clients = clients_for(tmp_path, sim, server)
        try:
            assert clients.poller.poll().grid is Grid.ON
            assert server.counts["connections"] == 1
        finally:
            clients.close()


def test_cookies_are_kept_per_origin_and_bounded(tmp_path: Path, hostile: HostileGateway,
                                                 sim: Simulator, transport: HttpsTransport
                                                 ) -> None:
    with HostileGateway(sim, tmp_path / "other") as other:
        get(transport, hostile, sim, path="/auth/check_jwt")  # sets sessionId
        hostile.attack = "cookie_churn"  # 40 new 1000-byte cookies in every answer
        for _ in range(10):
            assert get(transport, hostile, sim).status == 200
        kept = transport.cookies.cookies(("https", "127.0.0.1", hostile.port))
        assert 0 < len(kept) <= 50 and sum(c.size for c in kept) <= 64 * 1024
        get(transport, other, sim)
        assert other.cookies_seen == [""]  # nothing of the first origin's cookies
