"""The daemon's guards (docs/faults.md): no exception ends in a traceback or a stale port file.

Any exception inside a poll is a failed poll with one log line; one that escapes the loop (a
bug) hides the port file and exits 1 with one line; a stop (SIGTERM) hides it and exits 0; a
dead gateway hides it within seconds even at POLLFREQ=60. The daemon runs in-process against
the real HTTPS simulator, or as a subprocess where exit status and stderr are the point.
"""

from __future__ import annotations

import logging
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from enphase_monitor import monitor as monitor_module
from enphase_monitor.config import load_config
from enphase_monitor.errors import GatewayUnreachable
from enphase_monitor.facts import LIVEDATA
from enphase_monitor.gateway import GatewayClient
from enphase_monitor.loop import Daemon
from enphase_monitor.monitor import Monitor
from enphase_monitor.wiring import build_clients
from enphase_sim import Simulator
from tests.conftest import (
    ROOT,
    daemon_thread,
    make_daemon,
    make_monitor,
    port_values,
    wait_until,
    write_setup,
)

USER = "# kept\nups.delay.shutdown: 30\n"
ODD = [
    MemoryError("out of memory"),
    OverflowError("cannot fit 'int' into an index-sized integer"),
    RecursionError("maximum recursion depth exceeded while decoding a JSON object"),
    UnicodeDecodeError("utf-8", b"\xff", 0, 1, "invalid start byte"),
    KeyError("meters"),
    TypeError("'NoneType' object is not subscriptable\nWATCHDOG=trigger\x1b[31m"),
]


def make(tmp_path: Path, sim: Simulator, extra: str = "") -> Monitor:
    return make_monitor(load_config(write_setup(tmp_path / "s", sim, extra, USER)))


def warnings(caplog: pytest.LogCaptureFixture) -> list[logging.LogRecord]:
    return [r for r in caplog.records if r.levelno >= logging.WARNING]


@pytest.mark.parametrize("error", ODD, ids=lambda e: type(e).__name__)
def test_any_exception_in_a_poll_is_a_failed_poll_with_one_line(
    tmp_path: Path, sim: Simulator, monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture, error: Exception
) -> None:
    mon = make(tmp_path, sim)
    assert mon.cycle()
    real = GatewayClient.get_json

    def odd(self: GatewayClient, path: str) -> object:
        if path == LIVEDATA:
            raise error
        return real(self, path)

    monkeypatch.setattr(GatewayClient, "get_json", odd)
    with caplog.at_level(logging.INFO, logger="enphase_monitor"):
        assert mon.cycle() is False
    (record,) = warnings(caplog)
    line = record.getMessage()
    assert f"{type(error).__name__}: " in line and "1 of 2 before nocomms" in line
    assert "\n" not in line and "\x1b" not in line  # escaped
    assert record.exc_info is None  # the traceback only at -d (debug)
    assert mon.config.port_file.exists()  # one failed poll is not nocomms
    assert mon.cycle() is False and mon.port.hidden
    monkeypatch.undo()
    assert mon.cycle() and not mon.port.hidden


def test_an_exception_while_computing_values_is_a_failed_poll(
    tmp_path: Path, sim: Simulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    mon = make(tmp_path, sim)
    assert mon.cycle()
    before = mon.config.port_file.read_text()

    def broken(inputs: object) -> dict[str, str]:
        raise KeyError("battery.charge")

    monkeypatch.setattr(monitor_module, "compute", broken)
    sim.update(soc=50.0)
    assert mon.cycle() is False
    assert mon.config.port_file.read_text() == before
    assert "KeyError" in mon.last_error
    assert mon.cycle() is False and mon.port.hidden


def test_an_exception_in_a_relay_check_asks_for_a_full_poll(
    tmp_path: Path, sim: Simulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    mon = make(tmp_path, sim)
    assert mon.cycle()
    assert mon.needs_full_poll() is False  # grid unchanged: nothing to do

    def deep() -> None:
        raise RecursionError("maximum recursion depth exceeded")

    monkeypatch.setattr(mon.clients.poller, "grid_check", deep)
    assert mon.needs_full_poll() is True


def test_a_cancelled_request_is_not_a_failed_poll(
    tmp_path: Path, sim: Simulator, monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture
) -> None:
    mon = make(tmp_path, sim)
    assert mon.cycle()

    def cancelled() -> None:
        mon.pause.request_stop()  # SIGTERM arrives; the transport ends the request
        raise GatewayUnreachable("/ivp/ensemble/relay: request cancelled")

    monkeypatch.setattr(mon.clients.poller, "poll", cancelled)
    with caplog.at_level(logging.WARNING, logger="enphase_monitor"):
        assert mon.cycle() is False
    assert mon.failures == 0 and not warnings(caplog)


def test_the_transports_get_the_stop_event(tmp_path: Path, sim: Simulator) -> None:
    daemon = make_daemon(load_config(write_setup(tmp_path / "s", sim, "", USER)))
    clients, stop = daemon.monitor.clients, daemon.pause.stop
    assert getattr(clients.gateway.transport, "stop", None) is stop
    assert getattr(clients.tokens.cloud.transport, "stop", None) is stop
    event = threading.Event()
    clients = build_clients(daemon.monitor.config, stop=event)
    assert getattr(clients.gateway.transport, "stop", None) is event


@pytest.fixture
def running(tmp_path: Path, sim: Simulator, request: pytest.FixtureRequest) -> Iterator[Daemon]:
    """The daemon's loop in a thread (signal handlers are the main thread's: not installed)."""
    marker = request.node.get_closest_marker("config")
    extra = marker.args[0] if marker else ""
    with daemon_thread(make_daemon(load_config(write_setup(tmp_path / "s", sim, extra,
                                                           USER)))) as daemon:
        yield daemon


def live_ol(mon: Monitor) -> bool:
    """The port file is visible (not hidden) and says OL."""
    return port_values(mon.config.port_file).get("ups.status") == "OL"


@pytest.mark.config("POLLFREQ=60\nPOLLFREQALERT=20\nRELAY_CHECK=5\n")
def test_a_dead_gateway_is_nocomms_within_seconds_at_default_polling(
    running: Daemon, sim: Simulator
) -> None:
    """A failed relay check polls at once, so with POLLFREQ=60 a dead gateway hides the file
    after about two relay checks (~10 s), not after two full polls (~2 minutes)."""
    mon = running.monitor
    wait_until(lambda: live_ol(mon), 30)  # hidden at start, written by the first good poll
    sim.inject("*", "reset")
    print(f"hidden after {wait_until(lambda: mon.port.hidden, 30):.1f} s")
    sim.clear_faults()


@pytest.mark.config("POLLFREQ=60\nRELAY_CHECK=5\n")
def test_the_loop_stops_and_hides_the_file(running: Daemon) -> None:
    mon = running.monitor
    wait_until(lambda: live_ol(mon), 30)  # hidden at start, written by the first good poll
    running.request_stop()
    wait_until(lambda: mon.port.hidden, 5)


# ------------------------------------------------------------------ the process: exit paths

BOOT = """\
import sys
from enphase_monitor import cli, monitor
{patch}
sys.exit(cli.main(sys.argv[1:]))
"""


def daemon(config: Path, *args: str, patch: str = "") -> subprocess.Popen[str]:
    """The daemon as a process; `patch` is Python run first (to plant a bug)."""
    env = {k: v for k, v in os.environ.items() if k != "REQUESTS_CA_BUNDLE"}
    return subprocess.Popen([sys.executable, "-c", BOOT.format(patch=patch), *args, "-c",
                             str(config)], cwd=ROOT, env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)


def test_sigterm_hides_the_file_and_exits_zero(tmp_path: Path, sim: Simulator) -> None:
    config = write_setup(tmp_path / "s", sim, "", USER)
    port = tmp_path / "s" / "test.dev"
    proc = daemon(config)
    try:
        wait_until(lambda: port_values(port).get("ups.status") == "OL", 20)
        proc.send_signal(signal.SIGTERM)
        _, err = proc.communicate(timeout=10)
    finally:
        proc.kill()
    assert proc.returncode == 0, err
    assert not port.exists() and "ups.status: OL" in (tmp_path / "s/test.dev-nocomms").read_text()
    assert "stopped: port file hidden" in err


def test_sigterm_while_confirming_off_grid_stops_at_once(tmp_path: Path, sim: Simulator
                                                         ) -> None:
    """The CONFIRM_DELAY wait (here 60 s) wakes for SIGTERM."""
    sim.update(grid="open")
    config = write_setup(tmp_path / "s", sim, "CONFIRM_DELAY=60\n", USER)
    proc = daemon(config, "-v")
    assert proc.stderr is not None
    try:
        for line in proc.stderr:
            if "confirming in 60 s" in line:
                break
        started = time.monotonic()
        proc.send_signal(signal.SIGTERM)
        proc.communicate(timeout=10)
        print(f"stopped {time.monotonic() - started:.2f} s after SIGTERM")
    finally:
        proc.kill()
    assert proc.returncode == 0
    assert (tmp_path / "s/test.dev-nocomms").read_text() == USER  # never said OB


BUG = "monitor.Monitor.relay_every = lambda self: 1 / 0"


def test_a_bug_in_the_loop_hides_the_file_and_exits_one_with_one_line(
    tmp_path: Path, sim: Simulator
) -> None:
    config = write_setup(tmp_path / "s", sim, "", USER)
    proc = daemon(config, patch=BUG)
    _, err = proc.communicate(timeout=30)
    assert proc.returncode == 1
    assert not (tmp_path / "s/test.dev").exists()
    assert "ups.status: OL" in (tmp_path / "s/test.dev-nocomms").read_text()
    last = err.strip().splitlines()[-1]
    assert last == ("enphase-monitor test: internal error, stopping: ZeroDivisionError: division"
                    " by zero (run with -d for the traceback)"), err
    assert "Traceback" not in err


def test_with_d_the_traceback_is_shown(tmp_path: Path, sim: Simulator) -> None:
    config = write_setup(tmp_path / "s", sim, "", USER)
    proc = daemon(config, "-d", patch=BUG)
    _, err = proc.communicate(timeout=30)
    assert proc.returncode == 1
    assert "Traceback" in err and "ZeroDivisionError" in err


def test_s_keeps_writing_but_a_bug_hides_the_file(tmp_path: Path, sim: Simulator) -> None:
    config = write_setup(tmp_path / "s", sim, "", USER)
    port = tmp_path / "s" / "test.dev"
    proc = daemon(config, "-s")
    proc.communicate(timeout=30)
    assert proc.returncode == 0 and "ups.status: OL" in port.read_text()  # left as written
    boom = "monitor.Monitor.cycle = lambda self: [][0]"
    proc = daemon(config, "-s", patch=boom)
    _, err = proc.communicate(timeout=30)
    assert proc.returncode == 1 and not port.exists()
    assert err.strip().splitlines()[-1].endswith(
        "IndexError: list index out of range (run with -d for the traceback)"), err
