"""An OL port file left by a "crashed" run, through real NUT (upsc): the daemon as a process.

A power loss or SIGKILL without ExecStopPost leaves the file saying OL. With the gateway not
answering, NUT must say "Driver not connected" (never OL) from the daemon's start until its
first good poll, though NOCOMMS_AFTER polls have not failed yet; then OL with fresh values.
The rig is test_nut_e2e.py's; docs/faults.md "power loss / SIGKILL left an OL file".
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from enphase_sim import Simulator
from tests.conftest import ROOT, write_setup
from tests.e2e.nut import AVAILABLE, NutSandbox, stop_process

pytestmark = pytest.mark.skipif(not AVAILABLE, reason="NUT (nut-server, nut-client) not installed:"
                                " ./scripts/test installs it")
# left by the earlier run: OL, 99 % (the simulator says 80 %)
STALE = "# user values\nups.delay.shutdown: 30\nups.status: OL\nbattery.charge: 99\n" \
        "ups.mfr: Enphase Energy\n"
# the old behaviour would keep the file for NOCOMMS_AFTER x POLLFREQALERT = 90 s and more
SLOW_NOCOMMS = "NOCOMMS_AFTER=3\nPOLLFREQALERT=30\nAPI_TIMEOUT=5\nRELAY_CHECK=0\n"
HIDDEN_WITHIN_S = 15  # the daemon's start (~1 s) + dummy-ups noticing (~2 s), with margin


@contextmanager
def daemon(tmp: Path, config: Path, notify: str | None = None
           ) -> Iterator[subprocess.Popen[bytes]]:
    """The daemon as a process (stopped with SIGTERM at the end); its log in tmp/daemon.log."""
    env = {k: v for k, v in os.environ.items() if k != "REQUESTS_CA_BUNDLE"}
    if notify:
        env["NOTIFY_SOCKET"] = notify
    with open(tmp / "daemon.log", "wb") as log:
        proc = subprocess.Popen([sys.executable, "-m", "enphase_monitor.cli", "-v", "-c",
                                 str(config)], cwd=ROOT, env=env, stdout=log,
                                stderr=subprocess.STDOUT)
        try:
            yield proc
        finally:
            stop_process(proc)


def statuses_until(nut: NutSandbox, done: object, timeout: float) -> list[str | None]:
    """`ups.status` as upsc says it (None: an error) every 0.2 s until done() or `timeout`."""
    seen: list[str | None] = []
    end = time.monotonic() + timeout
    while not done() and time.monotonic() < end:  # type: ignore[operator]
        seen.append(nut.get("ups.status"))
        time.sleep(0.2)
    return seen


def failed_polls(tmp: Path) -> int:
    return (tmp / "daemon.log").read_text(errors="replace").count("poll failed")


def test_nut_running_on_a_stale_ol_loses_it_at_start(tmp_path: Path, sim: Simulator) -> None:
    """A daemon killed by hand: NUT still serves its OL when the new daemon starts."""
    config = write_setup(tmp_path / "s", sim, SLOW_NOCOMMS, STALE)
    port = tmp_path / "s" / "test.dev"
    nut = NutSandbox(tmp_path / "nut", port)
    nut.start()
    try:
        assert nut.get("ups.status") == "OL"  # what NUT believed before the daemon started
        sim.inject("*", "timeout")  # every request held: the first poll takes 2 x API_TIMEOUT+
        with daemon(tmp_path, config):
            assert nut.wait(lambda: "Driver not connected" in nut.error()
                            or "stale" in nut.error().lower(), HIDDEN_WITHIN_S), nut.logs()
            assert failed_polls(tmp_path) == 0, "hidden only after a failed poll"
            assert (tmp_path / "s/test.dev-nocomms").exists() and not port.exists()
            # from here to the first failed poll and past it: never OL
            seen = statuses_until(nut, lambda: failed_polls(tmp_path) >= 1, 60)
            seen += statuses_until(nut, lambda: False, 2)
            assert failed_polls(tmp_path) >= 1
            assert set(seen) == {None}, seen
            sim.clear_faults()
            assert nut.wait(port.exists, 30 + 15), (tmp_path / "daemon.log").read_text()
            nut.start_driver()  # what systemd's Restart=always does for nut-driver@
            assert nut.wait(lambda: nut.get("ups.status") == "OL", 15), nut.logs()
            values = nut.all()
            assert values["battery.charge"] == "80"  # fresh, not the 99 left behind
            assert values["ups.delay.shutdown"] == "30"
    finally:
        nut.stop()


def test_the_driver_started_after_ready_never_sees_the_stale_ol(tmp_path: Path,
                                                                 sim: Simulator) -> None:
    """The boot order: nut-driver@ starts after the monitor's READY=1 (the end of its first
    poll, here a failed one) and finds the file hidden."""
    config = write_setup(tmp_path / "s", sim, SLOW_NOCOMMS.replace("POLLFREQALERT=30",
                                                                   "POLLFREQALERT=5"), STALE)
    port = tmp_path / "s" / "test.dev"
    address = str(tmp_path / "notify.sock")
    sim.inject("*", "reset")
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as sock:
        sock.bind(address)
        sock.settimeout(30)
        with daemon(tmp_path, config, address):
            while "READY=1" not in sock.recv(4096).decode():
                pass
            assert failed_polls(tmp_path) == 1  # one failed poll: not nocomms by the debounce
            nut = NutSandbox(tmp_path / "nut", port)
            nut.start(wait=False)
            try:
                driver = nut.driver
                assert driver is not None
                # dummy-ups finds no file to serve and exits (it would serve a visible one)
                seen = statuses_until(nut, lambda: driver.poll() is not None, 20)
                assert driver.poll() is not None, nut.logs()
                seen += statuses_until(nut, lambda: False, 3)
                assert "Driver not connected" in nut.error(), nut.logs()
                assert "OL" not in seen, seen
                sim.clear_faults()
                assert nut.wait(port.exists, 5 + 15), (tmp_path / "daemon.log").read_text()
                nut.start_driver()
                assert nut.wait(lambda: nut.get("ups.status") == "OL", 15), nut.logs()
                assert nut.get("battery.charge") == "80"
            finally:
                nut.stop()
