"""Shared test helpers: fixture captures, a running simulator, config + port file set-up."""

from __future__ import annotations

import io
import logging
import os
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path

import pytest

from enphase_monitor import keyringlookup, logsetup
from enphase_monitor.config import Config, load_config
from enphase_monitor.loop import Daemon
from enphase_monitor.monitor import Monitor
from enphase_monitor.portfile import PortContent
from enphase_monitor.sdnotify import Notifier
from enphase_monitor.wiring import build_clients
from enphase_sim import Simulator, monitorconf

ROOT = Path(__file__).resolve().parent.parent
FIXTURES = ROOT / "tests" / "fixtures" / "pyenphase"


def fixture_dirs() -> list[Path]:
    """Every firmware capture directory."""
    return sorted(p for p in FIXTURES.iterdir() if p.is_dir())


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """Tests never see the host's NUT, systemd or CA-bundle variables."""
    for key in ("CONFIG_FILE", "UPS", "NUT_SYSCONFIG", "NUT_CONFPATH", "NUT_LOCALSTATE",
                "NUT_STATEPATH", "CREDENTIALS_DIRECTORY", "NOTIFY_SOCKET", "WATCHDOG_USEC",
                "WATCHDOG_PID", "JOURNAL_STREAM", "REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE",
                "STATE_DIRECTORY"):
        monkeypatch.delenv(key, raising=False)


@pytest.fixture(autouse=True)
def _no_stop_of_an_earlier_daemon(monkeypatch: pytest.MonkeyPatch) -> None:
    """A keyring look-up never sees the stop event of another test's daemon (build_clients
    makes it process-wide; that daemon stopped): a look-up thread not scheduled within 0.1 s
    would be cancelled."""
    monkeypatch.setattr(keyringlookup, "_stop", None)


@pytest.fixture
def sim(tmp_path: Path) -> Iterator[Simulator]:
    """A fresh simulator (gateway + cloud) for one test."""
    with Simulator(workdir=tmp_path / "sim") as simulator:
        yield simulator


def write_setup(directory: Path, sim: Simulator, extra: str = "", port_text: str = "",
                ups: str = "test") -> Path:
    """The tests' config for `sim` (fast polls, short timeouts) in a private directory."""
    directory.mkdir(parents=True, exist_ok=True)
    os.chmod(directory, 0o700)
    return monitorconf.write_setup(directory, sim, "POLLFREQ=5\nPOLLFREQALERT=5\nAPI_TIMEOUT=2\n"
                                   f"CONFIRM_DELAY=1\n{extra}", port_text, ups)


def wait_until(check: Callable[[], bool], timeout: float = 15.0) -> float:
    """Seconds until check() is true; fails the test after `timeout`."""
    start = time.monotonic()
    while not check():
        assert time.monotonic() - start < timeout, f"not within {timeout} s"
        time.sleep(0.05)
    return time.monotonic() - start


def port_values(path: Path) -> dict[str, str]:
    """A port file's values; none while it is absent, including when a running daemon renames
    it away (hides it) between a look and the read."""
    try:
        return PortContent.parse(path.read_text()).values
    except FileNotFoundError:
        return {}


DAEMON = (sys.executable, "-m", "enphase_monitor.cli")


def start_daemon(args: Sequence[str], log_path: Path, env: Mapping[str, str] | None = None,
                 command: Sequence[str] = DAEMON, cwd: Path = ROOT) -> subprocess.Popen[bytes]:
    """The real daemon as a process (`command` + `args`), its output in `log_path`: the test's
    environment (the host's NUT/systemd variables removed by _clean_env), the project
    importable, `env` on top."""
    full = {**os.environ, "PYTHONPATH": str(ROOT), **(env or {})}
    with log_path.open("w") as log:
        return subprocess.Popen([*command, *args], cwd=cwd, env=full, stdout=log,
                                stderr=subprocess.STDOUT)


def make_monitor(config: Config) -> Monitor:
    """The state machine for `config` with its real clients and no systemd notifications."""
    return Monitor(config, build_clients(config), Notifier({}))


def make_daemon(config: Config) -> Daemon:
    """The whole daemon for `config` (loop, state machine, clients), no systemd notifications."""
    return Daemon.from_config(config, Notifier({}))


@contextmanager
def daemon_thread(daemon: Daemon) -> Iterator[Daemon]:
    """The daemon's loop in a thread (signal handlers are the main thread's: not installed);
    stopped, and checked to have ended, on the way out. What ended the loop early (a bug, a
    fatal error) fails the test here: left in the thread it would only be a warning."""
    ended: list[BaseException] = []

    def run() -> None:
        try:
            daemon.run(handle_signals=False)
        except BaseException as exc:  # raised again in the test's thread
            ended.append(exc)

    runner = threading.Thread(target=run)
    runner.start()
    try:
        yield daemon
    finally:
        daemon.request_stop()
        runner.join(15)
        assert not runner.is_alive()
    if ended:
        raise ended[0]


@pytest.fixture
def setup(tmp_path: Path, sim: Simulator) -> Config:
    """A loaded Config for `sim` with an empty port file in tmp_path/state."""
    return load_config(write_setup(tmp_path / "state", sim))


@pytest.fixture
def package_logging() -> Iterator[io.StringIO]:
    """logsetup.setup on a StringIO; the package logger and REDACTOR restored afterwards."""
    logger = logging.getLogger("enphase_monitor")
    saved = (list(logger.handlers), logger.level, logger.propagate,
             set(logsetup.REDACTOR.always), set(logsetup.REDACTOR.tokens),
             logsetup.REDACTOR.show_tokens)
    stream = io.StringIO()
    yield stream
    for handler in list(logger.handlers):
        logger.removeHandler(handler)
    for handler in saved[0]:
        logger.addHandler(handler)
    logger.setLevel(saved[1])
    logger.propagate = saved[2]
    logsetup.REDACTOR.always, logsetup.REDACTOR.tokens = saved[3], saved[4]
    logsetup.REDACTOR.show_tokens = saved[5]
