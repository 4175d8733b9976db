"""The daemon in its normal loop against the simulator, read back through real NUT (upsc)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from enphase_sim import Simulator
from tests.conftest import ROOT, port_values, write_setup
from tests.e2e.nut import AVAILABLE, NutSandbox

pytestmark = pytest.mark.skipif(not AVAILABLE, reason="NUT (nut-server, nut-client) not installed:"
                                " ./scripts/test installs it")


class Rig:
    """Simulator + daemon + NUT, wired together."""

    def __init__(self, tmp: Path, sim: Simulator, extra: str) -> None:
        self.sim = sim
        self.config = write_setup(tmp / "s", sim, extra=extra,
                                  port_text="# user values\nups.delay.shutdown: 30\n")
        self.port = tmp / "s" / "test.dev"
        env = {k: v for k, v in os.environ.items() if k != "REQUESTS_CA_BUNDLE"}
        self.log = open(tmp / "daemon.log", "w")  # noqa: SIM115
        self.daemon = subprocess.Popen(
            [sys.executable, "-m", "enphase_monitor.cli", "-v", "-c", str(self.config)],
            cwd=ROOT, env=env, stdout=self.log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 20
        while "ups.status" not in port_values(self.port):  # hidden at start, then written
            assert time.monotonic() < deadline, (tmp / "daemon.log").read_text()
            time.sleep(0.1)
        self.nut = NutSandbox(tmp / "nut", self.port)
        self.nut.start()

    def until(self, var: str, value: str, timeout: float) -> float:
        """Seconds until upsc shows `var` = `value`; fails the test after `timeout`."""
        start = time.monotonic()
        ok = self.nut.wait(lambda: self.nut.get(var) == value, timeout)
        assert ok, f"{var} is {self.nut.get(var)!r}, not {value!r}\n{self.nut.logs()}"
        return time.monotonic() - start

    def close(self) -> None:
        self.daemon.terminate()
        try:
            assert self.daemon.wait(15) == 0
        finally:
            self.nut.stop()
            self.log.close()


@pytest.fixture
def rig(tmp_path: Path, sim: Simulator, request: pytest.FixtureRequest) -> Iterator[Rig]:
    marker = request.node.get_closest_marker("config")
    r = Rig(tmp_path, sim, marker.args[0] if marker else "RELAY_CHECK=0\n")
    yield r
    r.close()


def test_on_grid_values_and_user_lines(rig: Rig) -> None:
    rig.until("ups.status", "OL", 10)
    values = rig.nut.all()
    assert values["battery.charge"] == "80"
    assert values["ups.delay.shutdown"] == "30"
    assert values["device.mfr"] == values["ups.mfr"] == "Enphase Energy"
    assert values["input.voltage"].startswith("24")  # split phase: ~240 V
    assert float(values["battery.runtime"]) > 0
    assert float(values["ups.load"]) > 0


def test_grid_loss_low_battery_and_return(rig: Rig) -> None:
    rig.until("ups.status", "OL", 10)
    rig.sim.update(grid="open")
    rig.until("ups.status", "OB", 5 + 3)  # POLLFREQ (5 in the test config) + 3 s
    rig.sim.update(soc=12.0)
    rig.until("ups.status", "OB LB", 5 + 3)
    rig.sim.update(grid="closed", soc=50.0)
    rig.until("ups.status", "OL", 5 + 3)


@pytest.mark.config("POLLFREQ=60\nRELAY_CHECK=1\n")
def test_relay_check_reports_grid_loss_within_seconds(rig: Rig) -> None:
    rig.until("ups.status", "OL", 10)
    rig.sim.update(grid="open")
    rig.until("ups.status", "OB", 1 + 3)


def test_nocomms_stops_the_driver_and_recovery_brings_it_back(rig: Rig) -> None:
    rig.until("ups.status", "OL", 10)
    rig.sim.inject("*", "reset")
    assert rig.nut.wait(lambda: "Driver not connected" in rig.nut.error(), 5 * 2 + 10), (
        rig.nut.logs())
    assert (rig.port.parent / "test.dev-nocomms").exists()
    rig.sim.clear_faults()
    assert rig.nut.wait(rig.port.exists, 15)
    rig.nut.start_driver()  # what systemd's Restart=always does for nut-driver@
    rig.until("ups.status", "OL", 10)
    assert rig.nut.get("ups.delay.shutdown") == "30"


def test_a_value_that_disappears_is_removed_from_nut(rig: Rig) -> None:
    rig.until("ups.status", "OL", 10)
    assert rig.nut.get("input.voltage")
    rig.sim.update(has_ct=False)
    assert rig.nut.wait(lambda: rig.nut.get("input.voltage") is None, 5 + 4), rig.nut.all()


@pytest.mark.config("RELAY_CHECK=0\n")
def test_three_phase_values_per_line(rig: Rig) -> None:
    rig.sim.update(phases="three")
    assert rig.nut.wait(lambda: rig.nut.get("input.phases") == "3", 5 + 4), rig.nut.all()
    values = rig.nut.all()
    assert values["output.phases"] == "3"
    for group in ("input", "output"):
        for line in ("L1", "L2", "L3"):
            assert float(values[f"{group}.{line}-N.voltage"]) > 200
            assert f"{group}.{line}.realpower" in values
            assert f"{group}.{line}.current" in values


def test_a_secondary_upsmon_sees_the_same_transitions(rig: Rig, tmp_path: Path) -> None:
    """upsmon as a secondary on the same upsd, as a NAS or another host would run it."""
    upsmon = "/lib/nut/upsmon"
    if not os.access(upsmon, os.X_OK):
        pytest.skip("upsmon not installed")
    events = tmp_path / "events.log"
    notify = tmp_path / "notify.sh"
    notify.write_text(f'#!/bin/sh\necho "$NOTIFYTYPE" >> {events}\n')
    notify.chmod(0o755)
    etc = rig.nut.etc
    (etc / "upsd.users").write_text("[monuser]\n  password = secret\n  upsmon secondary\n")
    (etc / "upsmon.conf").write_text(
        f"MONITOR test@127.0.0.1:{rig.nut.tcp} 1 monuser secret secondary\nMINSUPPLIES 1\n"
        'SHUTDOWNCMD "/bin/true"\n'
        f"NOTIFYCMD {notify}\nNOTIFYFLAG ONLINE EXEC\nNOTIFYFLAG ONBATT EXEC\n"
        f"POLLFREQ 1\nPOLLFREQALERT 1\nPOWERDOWNFLAG {tmp_path}/killpower\n"
        + ("RUN_AS_USER root\n" if os.geteuid() == 0 else ""))
    (etc / "upsmon.conf").chmod(0o600)
    os.kill(rig.nut.upsd.pid, signal.SIGHUP)  # upsd re-reads upsd.users
    args = [upsmon, "-F"] + (["-u", "root"] if os.geteuid() == 0 else [])
    with open(tmp_path / "upsmon.log", "w") as log:
        mon = subprocess.Popen(args, env=rig.nut.env, stdout=log, stderr=subprocess.STDOUT,
                               start_new_session=True)  # upsmon forks: stop the whole group
    try:
        rig.until("ups.status", "OL", 10)
        time.sleep(2)  # upsmon's first polls see OL
        rig.sim.update(grid="open")
        assert rig.nut.wait(lambda: "ONBATT" in _read(events), 5 + 6), (
            (tmp_path / "upsmon.log").read_text())
        rig.sim.update(grid="closed")
        assert rig.nut.wait(lambda: "ONLINE" in _read(events), 5 + 6), (
            (tmp_path / "upsmon.log").read_text())
    finally:
        os.killpg(mon.pid, signal.SIGTERM)
        mon.wait(10)
    assert _read(events).split() == ["ONBATT", "ONLINE"]


def _read(path: Path) -> str:
    return path.read_text() if path.exists() else ""
