"""The real daemon (`enphase-monitor -c <config>`, its own process) against each attack.

For every attack: the port file is hidden (`-nocomms`) within a generous bound, the daemon is
still running and said why in one log line per failed poll (no traceback), and the port file is
back with `OL` once the gateway is healthy again. NOCOMMS_AFTER=1 so that each attack costs one
failed poll: the debounce has its own tests (tests/faults/); here the subject is the answer.
The time from attack to hidden file at default settings is measured in benchmarks/attacks.py.
"""

from __future__ import annotations

import signal
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from enphase_sim import Simulator
from tests.conftest import start_daemon, write_setup
from tests.hostile.server import CONNECTION_ATTACKS, INJECTED, HostileGateway, wait_for

BOUND_S = 90.0  # generous: a poll every 5 s, two 2 s attempts per request, a loaded machine
PREFIX = "enphase-monitor"


class Daemon:
    """`enphase-monitor -c config` with its log in a file."""

    def __init__(self, directory: Path, sim: Simulator, server: HostileGateway) -> None:
        config = write_setup(directory, sim, f"ENVOY_HOST={server.host}\n"
                             f"TOKEN={sim.issue_token()}\nNOCOMMS_AFTER=1\n",
                             "ups.delay.shutdown: 30\n")
        self.port = directory / "test.dev"
        self.hidden = directory / "test.dev-nocomms"
        self.log_path = directory / "daemon.log"
        self.proc = start_daemon(["-c", str(config)], self.log_path)

    def status(self) -> str:
        """`OL`/`OB` from the live port file, `hidden`, or `` while neither is settled."""
        try:
            text = self.port.read_text()
        except FileNotFoundError:
            return "hidden" if self.hidden.exists() else ""
        return next((line.split(": ", 1)[1] for line in text.splitlines()
                     if line.startswith("ups.status: ")), "")

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def stop(self) -> int:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        try:
            return self.proc.wait(BOUND_S)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            return self.proc.wait()


@pytest.fixture
def daemon(tmp_path: Path, sim: Simulator, hostile: HostileGateway) -> Iterator[Daemon]:
    proc = Daemon(tmp_path / "s", sim, hostile)
    try:
        assert wait_for(lambda: proc.status() == "OL", BOUND_S), proc.log()
        yield proc
    finally:
        proc.stop()


ATTACK_WORDS = {
    "drip_body": "within 2 s",
    "drip_headers": "within 2 s",
    "stall_answer": "within 2 s",
    "stall_handshake": "within 2 s",
    "stall_after_handshake": "within 2 s",
    "length_short": "closed before the whole answer",
    "length_absurd": "4611686018427387904 bytes (Content-Length)",
    "huge_declared": "200000000 bytes (Content-Length)",
    "huge_body": "larger than the 256 KiB limit",
    "endless_chunks": "more than 4096 chunks",
    "absurd_chunk": "chunk size of 0xffffffffffffffff",
    "deep_json": "more than 10000 objects and arrays",
    "invalid_utf8": "not valid UTF-8",
    "nul_bytes": "not valid JSON",
    "control_chars": "grid state not understood",
    "nan_soc": "/ivp/livedata/status: implausible number: nan",
    "huge_energy": "/ivp/livedata/status: implausible number: an integer of 1326 bits",
    "cookie_flood": "header line longer than",
    "many_headers": "more than 100 header lines",
    "long_status": "status line longer than",
    "escape_status": "malformed HTTP answer",
    "endless_continue": "header lines",
    "redirect": "redirected (HTTP 302)",
}


@pytest.mark.parametrize("attack", sorted(ATTACK_WORDS))
def test_an_attack_hides_the_port_file_and_the_daemon_recovers(
    daemon: Daemon, hostile: HostileGateway, attack: str
) -> None:
    assert attack in CONNECTION_ATTACKS or hostile.attack is None
    hostile.attack = attack
    assert wait_for(lambda: daemon.status() == "hidden", BOUND_S), daemon.log()
    assert daemon.proc.poll() is None, daemon.log()
    hostile.attack = None
    assert wait_for(lambda: daemon.status() == "OL", BOUND_S), daemon.log()
    assert "ups.delay.shutdown: 30" in daemon.port.read_text()
    assert daemon.stop() == 0
    log = daemon.log()
    assert "Traceback" not in log and "\x1b" not in log, log
    failed = [line for line in log.splitlines() if "poll failed" in line]
    assert failed and all(ATTACK_WORDS[attack] in line for line in failed), log
    for line in log.splitlines():  # one line per message: nothing spilled onto a second line
        assert line.startswith(PREFIX), log


def test_a_cookie_flood_within_the_limits_changes_nothing(daemon: Daemon,
                                                          hostile: HostileGateway) -> None:
    hostile.attack = "cookie_churn"  # 40 new 1000-byte cookies in every answer
    start = hostile.counts["attacked"]
    assert wait_for(lambda: hostile.counts["attacked"] >= start + 9, BOUND_S)
    assert daemon.status() == "OL" and daemon.proc.poll() is None
    assert "poll failed" not in daemon.log()
    cookies = [c for c in hostile.cookies_seen[-3:] if c]
    assert cookies and all(len(c) <= 64 * 1024 + 100 * 60 for c in cookies)


def test_the_injected_text_never_reaches_the_log_raw(daemon: Daemon,
                                                     hostile: HostileGateway) -> None:
    hostile.attack = "control_chars"
    assert wait_for(lambda: daemon.status() == "hidden", BOUND_S), daemon.log()
    daemon.stop()
    log = daemon.log()
    assert INJECTED not in log and "\nWATCHDOG=" not in log and "\x1b" not in log, log
