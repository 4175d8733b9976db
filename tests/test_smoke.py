"""A full cycle against the simulator writes a complete port file."""

from __future__ import annotations

from enphase_monitor.config import Config
from enphase_monitor.monitor import State
from enphase_monitor.portfile import PortContent
from tests.conftest import make_monitor


def test_one_cycle_writes_status_and_values(setup: Config) -> None:
    monitor = make_monitor(setup)
    assert monitor.cycle()
    values = PortContent.parse(setup.port_file.read_text()).values
    assert monitor.state is State.ONLINE
    assert values["ups.status"] == "OL"
    assert values["battery.charge"] == "80"
    assert values["ups.mfr"] == values["device.mfr"] == "Enphase Energy"
