"""systemd's watchdog and start-up time-out (docs/behaviour.md "Watchdog and start-up").

A request that legitimately waits up to its deadline keeps the watchdog fed (WATCHDOG=1 from
the deadline's wait loop, rate-limited) and, before READY=1, extends the start time-out; READY=1
comes after the first poll whatever its outcome, with a STATUS= that says no reading is held.
Datagrams are read from a real unix datagram socket, the requests go to the hostile gateway.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from enphase_monitor.config import load_config
from enphase_monitor.errors import Failure, TransportError
from enphase_monitor.loop import Daemon
from enphase_monitor.sdnotify import EXTEND_START_S, Notifier
from enphase_monitor.transport import HttpsTransport
from enphase_sim import Simulator
from tests.conftest import ROOT, write_setup
from tests.hostile.server import HostileGateway

HANG_S = 60.0  # only against hangs: nothing here is timed


@pytest.fixture
def notify(tmp_path: Path) -> Iterator[tuple[socket.socket, str]]:
    address = str(tmp_path / "notify.sock")
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    sock.bind(address)
    sock.settimeout(HANG_S)
    yield sock, address
    sock.close()


def drain(sock: socket.socket) -> list[str]:
    """Every datagram waiting on the socket."""
    found = []
    sock.setblocking(False)
    try:
        while True:
            found.append(sock.recv(65536).decode())
    except BlockingIOError:
        return found
    finally:
        sock.settimeout(HANG_S)


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_keepalive_is_rate_limited_and_extends_only_the_start_up(
    notify: tuple[socket.socket, str]
) -> None:
    sock, address = notify
    clock = Clock()
    notifier = Notifier({"NOTIFY_SOCKET": address, "WATCHDOG_USEC": "8000000"}, clock)
    assert notifier.keepalive_every == 2.0  # a quarter of WatchdogSec
    notifier.keepalive()  # too soon after start
    clock.now += 2.0
    notifier.keepalive()
    notifier.keepalive()  # rate-limited
    assert drain(sock) == [f"WATCHDOG=1\nEXTEND_TIMEOUT_USEC={EXTEND_START_S * 1_000_000}"]
    notifier.notify_ready("OL")
    clock.now += 1.0
    notifier.keepalive()
    clock.now += 1.0
    notifier.keepalive()
    assert drain(sock) == ["READY=1\nSTATUS=OL", "WATCHDOG=1"]
    clock.now += 1.9
    notifier.watchdog()  # the loop's own ping restarts the interval
    clock.now += 1.9
    notifier.keepalive()
    assert drain(sock) == ["WATCHDOG=1"]


def test_without_a_watchdog_only_the_start_up_is_extended(
    notify: tuple[socket.socket, str]
) -> None:
    sock, address = notify
    clock = Clock()
    notifier = Notifier({"NOTIFY_SOCKET": address}, clock)
    assert notifier.keepalive_every == EXTEND_START_S / 4
    clock.now += EXTEND_START_S
    notifier.keepalive()
    notifier.notify_ready("x")
    clock.now += EXTEND_START_S
    notifier.keepalive()
    assert drain(sock) == [f"EXTEND_TIMEOUT_USEC={EXTEND_START_S * 1_000_000}",
                           "READY=1\nSTATUS=x"]


def test_a_request_waiting_for_its_deadline_feeds_the_watchdog(
    notify: tuple[socket.socket, str], hostile: HostileGateway, sim: Simulator
) -> None:
    """A gateway dripping its answer: WATCHDOG=1 arrives while the request waits (the loop
    sends none meanwhile), and the request still ends at its deadline."""
    sock, address = notify
    notifier = Notifier({"NOTIFY_SOCKET": address, "WATCHDOG_USEC": "400000"})
    notifier.notify_ready("OL")
    drain(sock)
    http = HttpsTransport(verify=False, trust_env=False, keepalive=notifier.keepalive)
    hostile.attack = "drip_body"
    caught: list[TransportError] = []

    def run() -> None:
        try:
            http.request("GET", f"https://{hostile.host}/ivp/ensemble/relay", timeout=2.0,
                         headers={"Authorization": f"Bearer {sim.issue_token()}"})
        except TransportError as exc:
            caught.append(exc)

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    first = sock.recv(65536).decode()  # while the request is still waiting
    thread.join(HANG_S)
    http.close()
    assert not thread.is_alive()
    assert first == "WATCHDOG=1"
    assert caught and caught[0].kind is Failure.TIMEOUT
    assert hostile.counts["attacked"] >= 1


def test_the_daemon_gives_both_transports_its_keepalive(tmp_path: Path, sim: Simulator) -> None:
    """The gateway's requests and the cloud login's (up to 4 x LOGIN_TIMEOUT in a poll)."""
    notifier = Notifier({})
    daemon = Daemon.from_config(load_config(write_setup(tmp_path / "s", sim)), notifier)
    clients = daemon.monitor.clients
    transports = (clients.gateway.transport, clients.tokens.cloud.transport)
    for transport in transports:
        assert isinstance(transport, HttpsTransport)
        assert transport.keepalive == notifier.keepalive


def test_ready_after_a_failed_first_poll_with_a_true_status(
    tmp_path: Path, sim: Simulator, notify: tuple[socket.socket, str]
) -> None:
    """No gateway at start-up: STATUS says so from the first datagram, READY=1 comes after the
    first (failed) poll, not after NOCOMMS_AFTER of them or never (the unit would be killed by
    TimeoutStartSec), and the daemon stops cleanly."""
    sock, address = notify
    with socket.socket() as probe:  # a port nobody listens on: connection refused
        probe.bind(("127.0.0.1", 0))
        dead = probe.getsockname()[1]
    config = write_setup(tmp_path / "s", sim, f"ENVOY_HOST=127.0.0.1:{dead}\n"
                         f"TOKEN={sim.issue_token()}\nNOCOMMS_AFTER=5\n")
    env = {k: v for k, v in os.environ.items()
           if k not in ("WATCHDOG_USEC", "WATCHDOG_PID", "UPS", "CONFIG_FILE")}
    env.update(NOTIFY_SOCKET=address, PYTHONPATH=str(ROOT))
    proc = subprocess.Popen([sys.executable, "-m", "enphase_monitor.cli", "-c", str(config)],
                            cwd=ROOT, env=env, stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE, text=True)
    try:
        datagrams = [sock.recv(65536).decode()]
        while not datagrams[-1].startswith("READY=1"):
            datagrams.append(sock.recv(65536).decode())
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(HANG_S) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.communicate()
    assert datagrams[0] == "STATUS=starting, no reading yet"
    ready = datagrams[-1].split("\n")
    # the port file left by write_setup was hidden at start-up (docs/behaviour.md "Start-up"),
    # so the first failed poll finds the UPS in nocomms and says why
    assert ready[1].startswith("STATUS=nocomms: "), ready
    assert "cannot connect" in ready[1]
