"""A port file left visible by an earlier run (docs/faults.md: "power loss / SIGKILL left an OL
file"): the long-running daemon hides it before its first poll and writes it back, with fresh
values and the user's lines, at the first good poll; `-s` leaves it as the seed does.

The daemon's loop runs in-process (a thread) against the real HTTPS simulator.
"""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from enphase_monitor.config import load_config
from enphase_monitor.loop import Daemon
from enphase_monitor.monitor import State
from enphase_monitor.portfile import PortContent
from enphase_sim import Simulator
from tests.conftest import daemon_thread, make_daemon, wait_until, write_setup

USER = "# kept\nups.delay.shutdown: 30\n"
# what a crashed run left: OL with its values (the simulator says 80 %, not 99)
STALE = USER + "ups.status: OL\nbattery.charge: 99\nups.mfr: Enphase Energy\n"


def make(tmp_path: Path, sim: Simulator, port_text: str = STALE, extra: str = "") -> Daemon:
    return make_daemon(load_config(write_setup(tmp_path / "s", sim, extra, port_text)))


def gateway_requests(sim: Simulator) -> int:
    return sum(int(n) for n in sim.stats()["requests"].values())


def test_hidden_before_the_first_poll_s_outcome_then_fresh(tmp_path: Path, sim: Simulator,
                                                           caplog: pytest.LogCaptureFixture
                                                           ) -> None:
    """A gateway that holds every request: the first poll has no outcome for 2 x API_TIMEOUT
    (10 s here), yet the file is hidden already when its first request arrives."""
    caplog.set_level(logging.INFO, logger="enphase_monitor")
    sim.inject("*", "timeout")  # held until the client gives up, never answered
    daemon = make(tmp_path, sim, extra="API_TIMEOUT=10\nNOCOMMS_AFTER=3\nRELAY_CHECK=0\n")
    mon, port = daemon.monitor, daemon.monitor.port
    assert mon.state is State.ONLINE  # what the earlier run's file says
    with daemon_thread(daemon):
        wait_until(lambda: gateway_requests(sim) > 0, 20)
        # the first request is in flight (held for API_TIMEOUT): the poll has no outcome yet
        assert mon.failures == 0 and mon.last_snapshot is None and not mon.last_error
        assert port.hidden and not port.path.exists()
        assert mon.state is State.NOCOMMS
        assert PortContent.parse(port.nocomms_path.read_text()).values["ups.status"] == "OL"
        sim.clear_faults()
        wait_until(lambda: not port.hidden and mon.last_snapshot is not None, 60)
    values = PortContent.parse(port.nocomms_path.read_text()).values  # hidden again at the stop
    assert values["ups.status"] == "OL" and values["battery.charge"] == "80"
    assert values["ups.delay.shutdown"] == "30"
    assert "# kept" in port.nocomms_path.read_text()
    assert any("port file hidden as" in r.getMessage() and "its OL was left" in r.getMessage()
               for r in caplog.records)


def test_with_a_good_gateway_the_file_is_back_with_fresh_values(tmp_path: Path,
                                                                 sim: Simulator) -> None:
    daemon = make(tmp_path, sim, extra="RELAY_CHECK=0\n")
    port = daemon.monitor.port
    with daemon_thread(daemon):
        # written, not only polled: the poll's snapshot is kept just before the write that
        # brings the file back
        wait_until(lambda: daemon.monitor.writes > 0, 20)
        text = port.path.read_text()
        assert not port.hidden
        values = PortContent.parse(text).values
        assert values["ups.status"] == "OL" and values["battery.charge"] == "80"
        assert text.startswith(USER)
    assert port.hidden  # the stop hides it, as always


def test_a_stale_ob_is_not_taken_as_a_reading(tmp_path: Path, sim: Simulator) -> None:
    """An earlier run's OB is hidden too, and the first off-grid poll is confirmed again."""
    sim.update(grid="open")
    daemon = make(tmp_path, sim, STALE.replace(": OL", ": OB"), "RELAY_CHECK=0\n")
    port = daemon.monitor.port
    assert daemon.monitor.state is State.ONBATT
    sim.inject("*", "reset")
    with daemon_thread(daemon):
        wait_until(lambda: daemon.monitor.failures > 0, 20)
        assert port.hidden and daemon.monitor.state is State.NOCOMMS
        sim.clear_faults()
        wait_until(lambda: not port.hidden, 30)
        assert PortContent.parse(port.path.read_text()).values["ups.status"] == "OB"


def test_an_already_hidden_file_is_left_as_it_is(tmp_path: Path, sim: Simulator,
                                                 caplog: pytest.LogCaptureFixture) -> None:
    """The usual start (the last stop hid it): nothing to do, nothing logged."""
    caplog.set_level(logging.INFO, logger="enphase_monitor")
    daemon = make(tmp_path, sim, extra="RELAY_CHECK=0\n")
    port = daemon.monitor.port
    port.hide()
    daemon.monitor.hide_until_fresh()
    assert port.hidden
    assert not any("earlier run" in r.getMessage() for r in caplog.records)


def test_s_leaves_the_file_as_the_seed(tmp_path: Path, sim: Simulator) -> None:
    """The one-shot `-s` keeps the seed's behaviour: one failed poll changes nothing."""
    sim.inject("*", "reset")
    daemon = make(tmp_path, sim)
    assert not daemon.once()
    assert daemon.monitor.port.path.read_text() == STALE
