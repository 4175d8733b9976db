"""Topologies through real NUT: the daemon against the simulator, read back with upsc.

The Collar's grid loss and return, a generator, battery.runtime.low, and the refusal of hardware
that cannot tell an outage (a stale `OL` taken down, one line, exit 1).
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from enphase_monitor.facts import INVENTORY, RELAY
from enphase_sim import Simulator
from tests.conftest import ROOT, write_setup
from tests.e2e.nut import AVAILABLE, NutSandbox
from tests.e2e.test_nut_e2e import FOLLOWS_S, Rig

pytestmark = pytest.mark.skipif(not AVAILABLE, reason="NUT (nut-server, nut-client) not installed:"
                                " ./scripts/test installs it")


def requests(sim: Simulator, path: str) -> int:
    return int(sim.stats()["requests"].get(path, 0))


def test_collar_grid_loss_and_return_in_upsc(tmp_path: Path, sim: Simulator) -> None:
    sim.update(topology="collar")
    rig = Rig(tmp_path, sim, "RELAY_CHECK=1\n")
    try:
        rig.until("ups.status", "OL", 10)
        rig.sim.update(grid="open")  # the Collar opens; the relay endpoint still says closed
        rig.until("ups.status", "OB", FOLLOWS_S)
        rig.sim.update(grid="closed")
        rig.until("ups.status", "OL", FOLLOWS_S)
        assert requests(sim, RELAY) == 0 and requests(sim, INVENTORY) > 3
    finally:
        rig.close()
    log = (tmp_path / "daemon.log").read_text()
    assert "grid signal: the IQ Meter Collar" in log and "grid lost (outage)" in log


def test_generator_is_on_battery_in_upsc_and_named_in_the_log(tmp_path: Path,
                                                             sim: Simulator) -> None:
    sim.update(topology="generator")
    rig = Rig(tmp_path, sim, "RELAY_CHECK=1\n")
    try:
        rig.until("ups.status", "OL", 10)
        rig.sim.update(grid="open")
        rig.until("ups.status", "OB", FOLLOWS_S)
    finally:
        rig.close()
    assert "on generator: on battery" in (tmp_path / "daemon.log").read_text()


def test_runtime_low_sets_lb_in_upsc(tmp_path: Path, sim: Simulator) -> None:
    # 1500 W from 80 % of 10080 Wh down to the 10 % restart SOC: 16934 s, below 20000
    rig = Rig(tmp_path, sim, "RELAY_CHECK=0\n")
    try:
        text = rig.port.read_text() + "battery.runtime.low: 20000\n"
        rig.port.write_text(text)
        rig.until("ups.status", "OL LB", FOLLOWS_S)
        assert rig.nut.get("battery.runtime.low") == "20000"
        rig.sim.update(load_w=500.0)  # 50803 s left
        rig.until("ups.status", "OL", FOLLOWS_S)
        rig.sim.update(grid="open", load_w=3000.0)  # 8467 s left
        rig.until("ups.status", "OB LB", FOLLOWS_S)
        assert rig.nut.get("battery.charge") == "80"  # well above battery.charge.low
    finally:
        rig.close()


@pytest.mark.parametrize(("topology", "found"), [
    ("no-backup", "found 1 IQ Battery;"),
    ("no-battery", "found no IQ System Controller, Collar or battery;"),
])
def test_refused_hardware_takes_a_stale_ol_down(tmp_path: Path, sim: Simulator, topology: str,
                                                found: str) -> None:
    sim.update(topology=topology)
    config = write_setup(tmp_path / "s", sim, port_text=(
        "ups.delay.shutdown: 30\nups.status: OL\nbattery.charge: 80\n"))  # left by a past run
    port = tmp_path / "s" / "test.dev"
    nut = NutSandbox(tmp_path / "nut", port)
    nut.start()
    try:
        assert nut.get("ups.status") == "OL"  # what NUT believed before the daemon started
        env = {k: v for k, v in os.environ.items() if k != "REQUESTS_CA_BUNDLE"}
        out = subprocess.run([sys.executable, "-m", "enphase_monitor.cli", "-c", str(config)],
                             cwd=ROOT, env=env, capture_output=True, text=True, timeout=60)
        assert out.returncode == 1
        # the start-up hide of the earlier run's OL (docs/behaviour.md "Start-up"), then the
        # refusal in one line
        hid, last = out.stderr.strip().splitlines()
        assert "port file hidden" in hid and "left by an earlier run" in hid, hid
        assert last.startswith("enphase-monitor test: this gateway cannot act as a UPS: " + found)
        assert "GRID_SIGNAL=relay" in last
        assert (tmp_path / "s" / "test.dev-nocomms").exists() and not port.exists()
        assert nut.wait(lambda: "Driver not connected" in nut.error(), 10), nut.logs()
    finally:
        nut.stop()
