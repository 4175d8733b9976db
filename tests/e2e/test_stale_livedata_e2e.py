"""Stale livedata through real NUT (upsc): the daemon as a process, its real clocks.

Without a fallback (secctrl failing), livedata frozen for more than 60 s ends with the driver
not connected; with secctrl's agg_soc, battery.charge stays true while livedata is frozen.
The rig is test_nut_e2e.py's.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from enphase_monitor.facts import SECCTRL
from enphase_sim import Simulator
from tests.e2e.nut import AVAILABLE
from tests.e2e.test_nut_e2e import FOLLOWS_S, Rig

pytestmark = pytest.mark.skipif(not AVAILABLE, reason="NUT (nut-server, nut-client) not installed:"
                                " ./scripts/test installs it")
STALE_AFTER_S = 60  # docs/behaviour.md; the test waits for it in real time


def test_frozen_livedata_without_a_fallback_ends_hidden(tmp_path: Path, sim: Simulator) -> None:
    rig = Rig(tmp_path, sim, "RELAY_CHECK=0\n")
    try:
        rig.until("ups.status", "OL", 10)
        sim.inject(SECCTRL, "status", value=500)
        sim.update(live_stale=True)
        sim.update(soc=30.0)  # the frozen livedata still says 80
        assert rig.nut.get("battery.charge") == "80"
        # POLLFREQ 5, NOCOMMS_AFTER 2: hidden at most about 60 + 2 x 5 s after the freeze
        assert rig.nut.wait(lambda: "Driver not connected" in rig.nut.error(),
                            STALE_AFTER_S + 2 * 5 + 15), rig.nut.logs()
        assert (rig.port.parent / "test.dev-nocomms").exists()
        assert "livedata is stale" in (tmp_path / "daemon.log").read_text()
    finally:
        rig.close()


def test_frozen_livedata_with_secctrl_keeps_a_true_charge(tmp_path: Path, sim: Simulator) -> None:
    """Frozen an hour before the daemon starts: the gateway's clock says so at the first poll."""
    sim.update(live_stale=True)
    sim.update(clock_offset_s=3600.0)
    rig = Rig(tmp_path, sim, "RELAY_CHECK=0\n")
    try:
        rig.until("ups.status", "OL", 10)
        assert rig.nut.get("battery.charge") == "80"
        sim.update(soc=55.0)  # secctrl follows, livedata stays at 80
        rig.until("battery.charge", "55", FOLLOWS_S)
        sim.update(grid="open", soc=12.0)
        rig.until("ups.status", "OB LB", FOLLOWS_S)
        assert rig.nut.get("battery.charge") == "12"
        # 3600 s plus the daemon's start-up
        assert re.search(r"last_update 36\d\d s old", (tmp_path / "daemon.log").read_text())
    finally:
        rig.close()
