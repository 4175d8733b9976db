"""Each topology through the monitor against the real HTTPS simulator, grid on and off.

What NUT shows follows from the port file (tests/e2e prove it with real dummy-ups + upsd for
the Collar and the refusal): a live file with `ups.status: X` is X in upsc, a hidden file is
`Driver not connected`.
"""

from __future__ import annotations

import json
import logging
import shutil
import ssl
import urllib.request
from pathlib import Path
from typing import Any

import pytest

from enphase_monitor.config import load_config
from enphase_monitor.ensemble import Inventory
from enphase_monitor.errors import UnsupportedHardware
from enphase_monitor.facts import INVENTORY, RELAY
from enphase_monitor.monitor import Monitor, State
from enphase_monitor.portfile import PortContent
from enphase_monitor.sdnotify import Notifier
from enphase_monitor.topology import Kind, Topology
from enphase_monitor.wiring import build_clients
from enphase_sim import Simulator
from enphase_sim import topology as simtopology
from enphase_sim.state import TOPOLOGIES
from tests.conftest import fixture_dirs, make_monitor, write_setup
from tests.fixture_snapshots import FIXTURES, load_json
from tests.test_topology import EXPECTED

USER = "ups.delay.shutdown: 30\n"


def make(tmp_path: Path, sim: Simulator, extra: str = "") -> Monitor:
    config = load_config(write_setup(tmp_path / "state", sim, extra, USER))
    return make_monitor(config)


def status(mon: Monitor) -> str:
    """What upsc would show."""
    if mon.port.hidden:
        return "Driver not connected"
    return PortContent.parse(mon.config.port_file.read_text()).values["ups.status"]


def requests(sim: Simulator, path: str) -> int:
    return int(sim.stats()["requests"].get(path, 0))


# ---------------------------------------------------------------- the simulated payloads

CAPTURE = {"system-controller": "8.2.4286_with_3cts_and_battery_split",
           "generator": "8.2.127_with_generator_running", "collar": "8.3.1598_collar",
           "no-backup": "7.6.185_with_cts_and_battery_3t", "no-battery": "7.6.175_with_cts"}


def _shape(payload: list[dict[str, Any]]) -> dict[str, list[set[str]]]:
    return {group["type"]: [set(device) for device in group["devices"][:1]]
            for group in payload}


@pytest.mark.parametrize("topology", TOPOLOGIES)
def test_simulated_inventory_has_its_captures_shape(sim: Simulator, topology: str) -> None:
    state = sim.update(topology=topology)
    capture = load_json(FIXTURES / CAPTURE[topology], "ivp_ensemble_inventory")
    built = simtopology.inventory(state, sim.now())
    assert [g["type"] for g in built] == [g["type"] for g in capture]
    if topology != "no-backup":  # the 3T capture is older; the simulator uses the 8.2 shape
        assert _shape(built) == _shape(capture)
    kinds = {"system-controller": Kind.SYSTEM_CONTROLLER, "generator": Kind.SYSTEM_CONTROLLER,
             "collar": Kind.COLLAR, "no-backup": Kind.NO_BACKUP, "no-battery": Kind.NO_BATTERY}
    assert Topology.detect(Inventory.from_api(built), None).kind is kinds[topology]


def test_simulated_generator_matches_the_generator_capture_off_grid(sim: Simulator) -> None:
    state = sim.update(topology="generator", grid="open")
    capture = load_json(FIXTURES / CAPTURE["generator"], "ivp_ensemble_inventory")
    fields = ("admin_state_str", "mains_admin_state", "mains_oper_state", "Enchg_grid_mode",
              "Enpwr_curr_state_id")
    real = capture[1]["devices"][0]
    built = simtopology.inventory(state, sim.now())[1]["devices"][0]
    assert {k: built[k] for k in fields} == {k: real[k] for k in fields}
    relay = simtopology.relay(state)
    status_relay = load_json(FIXTURES / CAPTURE["generator"], "ivp_ensemble_status")["relay"]
    assert {k: relay[k] for k in ("mains_admin_state", "mains_oper_state", "Enchg_grid_mode")} \
        == {k: status_relay[k] for k in ("mains_admin_state", "mains_oper_state",
                                         "Enchg_grid_mode")}


# ---------------------------------------------------------------- grid on and off for each

@pytest.mark.parametrize(("topology", "grid", "expected"), [
    ("system-controller", "closed", "OL"), ("system-controller", "open", "OB"),
    ("generator", "closed", "OL"), ("generator", "open", "OB"),
    ("collar", "closed", "OL"), ("collar", "open", "OB"),
])
def test_topologies_that_can_tell_an_outage(tmp_path: Path, sim: Simulator, topology: str,
                                             grid: str, expected: str) -> None:
    sim.update(topology=topology, grid=grid)
    mon = make(tmp_path, sim)
    assert mon.cycle(), mon.last_error
    assert status(mon) == expected
    sim.update(grid="open" if grid == "closed" else "closed")
    assert mon.cycle()
    assert status(mon) == ("OB" if expected == "OL" else "OL")
    if topology == "collar":  # the relay says closed for ever there: it is never asked
        assert requests(sim, RELAY) == 0


@pytest.mark.parametrize("topology", ["no-backup", "no-battery"])
@pytest.mark.parametrize("grid", ["closed", "open"])
def test_hardware_that_cannot_tell_an_outage_is_refused_at_start(
    tmp_path: Path, sim: Simulator, topology: str, grid: str
) -> None:
    sim.update(topology=topology, grid=grid)
    mon = make(tmp_path, sim)
    mon.config.port_file.write_text(USER + "ups.status: OL\n")  # a stale OL from a past run
    with pytest.raises(UnsupportedHardware) as caught:
        mon.cycle()
    assert caught.value.at_start
    assert str(caught.value).startswith("this gateway cannot act as a UPS: found")
    assert status(mon) == "Driver not connected" and mon.state is State.NOCOMMS
    assert requests(sim, "/ivp/livedata/status") == 0


def test_generator_is_named_in_the_log_and_status(
    tmp_path: Path, sim: Simulator, caplog: pytest.LogCaptureFixture
) -> None:
    sim.update(topology="generator")
    mon = make(tmp_path, sim)
    assert mon.cycle()
    sim.update(grid="open")
    with caplog.at_level(logging.WARNING, logger="enphase_monitor"):
        assert mon.cycle()
    assert status(mon) == "OB"
    assert "grid lost (outage), on generator: on battery" in caplog.text
    assert "(on generator)" in mon.summary()


def test_collar_relay_check_reads_the_inventory(tmp_path: Path, sim: Simulator) -> None:
    sim.update(topology="collar")
    mon = make(tmp_path, sim)
    assert mon.cycle()
    before = requests(sim, INVENTORY)
    sim.update(grid="open")
    # the light check between full polls asks for a full poll at once on a change
    assert mon.needs_full_poll() is True and mon.cycle()
    assert status(mon) == "OB"
    assert requests(sim, INVENTORY) == before + 2  # the check, then the poll's grid read


def test_topology_is_read_again_every_ten_minutes(tmp_path: Path, sim: Simulator) -> None:
    now = [1000.0]
    config = load_config(write_setup(tmp_path / "state", sim, "", USER))
    mon = Monitor(config, build_clients(config, clock=lambda: now[0]), Notifier({}))
    assert mon.cycle() and requests(sim, INVENTORY) == 1
    now[0] += 599
    assert mon.cycle() and requests(sim, INVENTORY) == 1
    now[0] += 1
    assert mon.cycle() and requests(sim, INVENTORY) == 2


def test_refusal_after_a_usable_topology_is_a_failed_poll_then_recovers(
    tmp_path: Path, sim: Simulator
) -> None:
    """A gateway that lists nothing for a while (rebooting, say) must not end the daemon."""
    sim.update(topology="collar")
    mon = make(tmp_path, sim)
    assert mon.cycle() and status(mon) == "OL"
    sim.update(topology="no-battery")
    mon.clients.poller.forget()  # as after a reconnect: the next poll reads the topology
    assert not mon.cycle()
    assert "cannot act as a UPS" in mon.last_error
    assert not mon.cycle()
    assert status(mon) == "Driver not connected"  # never a stale OL
    sim.update(topology="collar")
    assert mon.cycle() and status(mon) == "OL"


def test_grid_signal_relay_overrides_the_refusal(tmp_path: Path, sim: Simulator) -> None:
    sim.update(topology="no-backup")
    mon = make(tmp_path, sim, "GRID_SIGNAL=relay\n")
    assert mon.cycle() and status(mon) == "OL"
    assert requests(sim, INVENTORY) == 0  # an explicit signal needs no detection


def test_grid_signal_collar_without_a_collar_is_a_failed_poll(tmp_path: Path,
                                                              sim: Simulator) -> None:
    mon = make(tmp_path, sim, "GRID_SIGNAL=collar\n")
    assert not mon.cycle()
    assert "lists no IQ Meter Collar" in mon.last_error


def test_grid_signal_collar_on_a_collar_system(tmp_path: Path, sim: Simulator) -> None:
    sim.update(topology="collar", grid="open")
    mon = make(tmp_path, sim, "GRID_SIGNAL=Collar\n")
    assert mon.cycle() and status(mon) == "OB"


def test_unknown_collar_state_from_a_real_capture_is_a_failed_poll(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    capture = tmp_path / "capture"
    shutil.copytree(FIXTURES / "8.3.1598_collar", capture)
    inventory = json.loads((capture / "ivp_ensemble_inventory").read_text())
    inventory[1]["devices"][0]["admin_state_str"] = "ENCMN_MDE_NEW\u001b]0;x\u0007"
    (capture / "ivp_ensemble_inventory").write_text(json.dumps(inventory))
    with Simulator(workdir=tmp_path / "sim", fixture_dir=capture) as sim, \
            caplog.at_level(logging.WARNING, logger="enphase_monitor"):
        mon = make(tmp_path, sim)
        assert not mon.cycle()
        assert not mon.cycle()
        assert status(mon) == "Driver not connected"
    raw = [r.getMessage() for r in caplog.records if "admin_state_str=" in r.getMessage()]
    assert raw == [raw[0]] and "'ENCMN_MDE_NEW\\x1b]0;x\\x07'" in raw[0]
    assert "\x1b" not in caplog.text


@pytest.mark.parametrize("directory", [d for d in fixture_dirs()
                                       if (d / "ivp_ensemble_inventory").exists()],
                         ids=lambda d: d.name)
def test_every_capture_served_over_https(tmp_path: Path, directory: Path) -> None:
    """The monitor against each capture's own inventory and secctrl, as a gateway serves them."""
    kind = EXPECTED[directory.name][0]
    with Simulator(workdir=tmp_path / "sim", fixture_dir=directory) as sim:
        mon = make(tmp_path, sim)
        if kind in (Kind.SYSTEM_CONTROLLER, Kind.COLLAR):
            assert mon.cycle(), mon.last_error
            assert status(mon) == "OL"
        elif directory.name == "7.3.130_no_consumption":
            # its secctrl is a 401 page: with no IQ Battery in the inventory the tool cannot
            # tell whether AC Batteries exist, so it waits (a failed poll), never guesses
            assert not mon.cycle() and "not valid JSON" in mon.last_error
        else:
            with pytest.raises(UnsupportedHardware):
                mon.cycle()
            assert status(mon) == "Driver not connected"


def test_simulator_topology_is_validated_and_set_over_http(sim: Simulator) -> None:
    with pytest.raises(ValueError, match="topology must be one of"):
        sim.update(topology="ups")
    ctx = ssl.create_default_context(cafile=str(sim.ca_file))
    request = urllib.request.Request(f"{sim.gateway_url}/__sim/state", method="POST",
                                     data=json.dumps({"topology": "collar"}).encode())
    with urllib.request.urlopen(request, context=ctx, timeout=10) as reply:
        assert json.loads(reply.read())["topology"] == "collar"
    assert sim.state.topology == "collar"
