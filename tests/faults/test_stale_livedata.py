"""Stale livedata (docs/faults.md): battery.charge from the same poll's secctrl, else nocomms.

The monitor runs in-process against the real HTTPS simulator, its livedata frozen (`live_stale`).
The gateway's clock moves with the simulator's (`clock_offset_s`); where our side must see the
time pass too, the poller's monotonic clock is moved by the same amount.
"""

from __future__ import annotations

import logging
import re
from pathlib import Path

import pytest

from enphase_monitor.facts import SECCTRL
from enphase_monitor.monitor import Monitor
from enphase_monitor.portfile import PortContent
from enphase_sim import Simulator
from tests.faults.test_fault_matrix import monitor, nut_view


def values(mon: Monitor) -> dict[str, str]:
    return dict(PortContent.parse(mon.config.port_file.read_text()).values)


def stale_since_before_start(sim: Simulator, seconds: float = 600.0) -> None:
    """Livedata frozen `seconds` ago by the gateway's clock, before the monitor's first poll."""
    sim.update(live_stale=True)
    sim.update(clock_offset_s=seconds)


def let_time_pass(mon: Monitor, sim: Simulator, seconds: float) -> None:
    """`seconds` pass for the gateway and for the monitor (its monotonic clock)."""
    sim.update(clock_offset_s=sim.state.clock_offset_s + seconds)
    poller = mon.clients.poller
    base = poller.clock
    poller.clock = lambda: base() + seconds


def test_stale_at_start_reads_the_charge_from_secctrl(tmp_path: Path, sim: Simulator,
                                                     caplog: pytest.LogCaptureFixture) -> None:
    stale_since_before_start(sim)
    mon = monitor(tmp_path, sim)
    with caplog.at_level(logging.WARNING, logger="enphase_monitor.charge"):
        assert mon.cycle() and nut_view(mon) == "OL"
    assert values(mon)["battery.charge"] == "80"
    assert re.search(r"last_update 60\d s old", caplog.text)  # 600 s plus the first poll
    sim.update(soc=55.0)  # livedata still says 80
    assert mon.cycle() and values(mon)["battery.charge"] == "55"
    sim.update(grid="open", soc=12.0)
    assert mon.cycle() and nut_view(mon) == "OB LB"
    assert values(mon)["battery.charge"] == "12"


def test_stale_livedatas_frozen_power_is_left_out(tmp_path: Path, sim: Simulator) -> None:
    sim.update(has_ct=False)  # the load comes from livedata alone
    mon = monitor(tmp_path, sim)
    assert mon.cycle() and values(mon)["ups.load"] and values(mon)["battery.runtime"]
    sim.update(live_stale=True)
    let_time_pass(mon, sim, 61.0)
    assert mon.cycle() and nut_view(mon) == "OL"
    # emptied: dummy-ups drops a variable without a value (as any value that disappears)
    assert values(mon)["ups.load"] == values(mon)["battery.runtime"] == ""
    assert values(mon)["battery.charge"] == "80"


def test_frozen_for_60_s_without_secctrl_goes_nocomms(tmp_path: Path, sim: Simulator) -> None:
    mon = monitor(tmp_path, sim)
    assert mon.cycle() and nut_view(mon) == "OL"
    sim.update(live_stale=True)
    sim.inject(SECCTRL, "status", value=500)
    let_time_pass(mon, sim, 58.0)
    assert mon.cycle() and nut_view(mon) == "OL"  # 58 s (+ under 1 s) unchanged: still fresh
    let_time_pass(mon, sim, 61.0)
    assert mon.cycle() is False
    assert nut_view(mon) == "OL"  # one failed poll is not nocomms
    assert mon.cycle() is False
    assert nut_view(mon) == "Driver not connected"
    assert "livedata is stale" in (mon.last_error or "")


def test_a_secctrl_without_agg_soc_is_no_fallback(tmp_path: Path, sim: Simulator) -> None:
    fixture = tmp_path / "capture"
    fixture.mkdir()
    (fixture / "ivp_ensemble_secctrl").write_text('{"Max_energy": 10080, "VLS_Limit": 10}')
    with Simulator(workdir=tmp_path / "sim2", fixture_dir=fixture) as sim2:
        stale_since_before_start(sim2)
        mon = monitor(tmp_path, sim2)
        assert [mon.cycle(), mon.cycle()] == [False, False]
        assert mon.port.hidden
        assert "has no valid agg_soc" in (mon.last_error or "")


def test_fresh_again_reads_livedata_again(tmp_path: Path, sim: Simulator,
                                          caplog: pytest.LogCaptureFixture) -> None:
    stale_since_before_start(sim)
    mon = monitor(tmp_path, sim)
    assert mon.cycle()
    sim.update(soc=50.0)  # secctrl and the new livedata agree; the frozen livedata said 80
    sim.update(live_stale=False)
    with caplog.at_level(logging.WARNING, logger="enphase_monitor.charge"):
        assert mon.cycle() and values(mon)["battery.charge"] == "50"
    assert "fresh again" in caplog.text
