"""Topology detection and the grid-signal rules: every capture, the Collar's states, refusals.

The expected kind of each capture is written out by hand from its files (inventory device
types, secctrl capacity and AC Battery values), so a change in detection shows up here.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from enphase_monitor.ensemble import Collar, DeviceType, Inventory
from enphase_monitor.errors import GatewayDataError
from enphase_monitor.grid import Grid, GridSignal, wire, wire_pairs
from enphase_monitor.models import Relay, SecCtrl
from enphase_monitor.topology import Kind, Refusal, Topology, choose_signal
from tests.conftest import fixture_dirs
from tests.fixture_snapshots import FIXTURES, load_json

SC, COLLAR, NO_BACKUP, NO_BATTERY = (Kind.SYSTEM_CONTROLLER, Kind.COLLAR, Kind.NO_BACKUP,
                                     Kind.NO_BATTERY)
# every capture: (kind, System Controllers, Collars, IQ Batteries, AC Batteries)
EXPECTED: dict[str, tuple[Kind, int, int, int, bool]] = {
    "3.17.3": (NO_BATTERY, 0, 0, 0, False),  # inventory: {"error": "404 - Not Found"}
    "3.7.0": (NO_BATTERY, 0, 0, 0, False),
    "3.8.10": (NO_BATTERY, 0, 0, 0, False),
    "3.9.36": (NO_BATTERY, 0, 0, 0, False),
    "3.9.36_bad_auth": (NO_BATTERY, 0, 0, 0, False),
    "4.10.35": (NO_BATTERY, 0, 0, 0, False),
    "4.2.27": (NO_BATTERY, 0, 0, 0, False),  # no inventory captured: the endpoint 404s
    "4.2.33": (NO_BATTERY, 0, 0, 0, False),
    "5.0.49": (NO_BATTERY, 0, 0, 0, False),
    "5.0.62": (NO_BATTERY, 0, 0, 0, False),
    "7.3.130": (NO_BATTERY, 0, 0, 0, False),  # inventory: []
    "7.3.130_no_consumption": (NO_BATTERY, 0, 0, 0, False),  # secctrl: a 401 page
    "7.3.466_metered_disabled_cts": (NO_BATTERY, 0, 0, 0, False),
    "7.3.466_with_cts_3phase": (NO_BATTERY, 0, 0, 0, False),
    "7.3.517": (SC, 1, 0, 3, False),
    "7.3.517_legacy_savings_mode": (SC, 1, 0, 3, False),
    "7.3.517_system_2": (SC, 1, 0, 3, False),
    "7.6.114_without_cts": (NO_BATTERY, 0, 0, 0, False),
    "7.6.175": (NO_BATTERY, 0, 0, 0, False),
    "7.6.175_standard": (NO_BATTERY, 0, 0, 0, False),
    "7.6.175_total": (NO_BATTERY, 0, 0, 0, False),
    "7.6.175_with_cts": (NO_BATTERY, 0, 0, 0, False),
    "7.6.175_with_cts_3phase": (NO_BATTERY, 0, 0, 0, False),
    "7.6.185_with_cts_and_battery_3t": (NO_BACKUP, 0, 0, 1, False),  # IQ Battery 3T alone
    "8.1.41": (SC, 1, 0, 2, False),
    "8.2.127_with_3cts_and_battery_split": (SC, 1, 0, 5, False),
    "8.2.127_with_generator_running": (SC, 1, 0, 1, False),
    "8.2.4264_metered_noct": (NO_BATTERY, 0, 0, 0, False),
    "8.2.4286_with_3cts_and_battery_split": (SC, 1, 0, 5, False),
    "8.2.4345_with_device_data": (NO_BATTERY, 1, 0, 0, False),  # ENCHARGE group, no device
    "8.2.4382_ACB": (NO_BACKUP, 0, 0, 1, True),  # Max_energy 7220 > 3500 of IQ Battery
    "8.2.4382_ACB_2": (NO_BACKUP, 0, 0, 0, True),  # AC Batteries only (not in the inventory)
    "8.3.1598_collar": (COLLAR, 0, 1, 2, False),
    "8.3.5167_3rd-pv": (SC, 1, 0, 2, False),
    "8.3.5169_ACB_inventory": (NO_BACKUP, 0, 0, 0, True),
    "8.3.5169_with_generator": (NO_BATTERY, 1, 0, 0, False),  # System Controller, no battery
    "8.3.5289_modGone": (NO_BATTERY, 0, 0, 0, False),
    "8.3.5433_tot_is_net_cons": (NO_BATTERY, 0, 0, 0, False),
}


def capture_topology(directory: Path) -> Topology:
    """Detection as the daemon does it: a missing inventory is a 404 (none), secctrl if JSON."""
    raw = load_json(directory, "ivp_ensemble_inventory")
    inventory = Inventory() if raw is None else Inventory.from_api(raw)
    try:
        secctrl_raw = load_json(directory, "ivp_ensemble_secctrl")
    except json.JSONDecodeError:  # an HTML error page: the gateway layer rejects it
        secctrl_raw = None
    secctrl = SecCtrl.from_api(secctrl_raw) if isinstance(secctrl_raw, dict) else None
    return Topology.detect(inventory, secctrl)


def test_every_capture_has_an_expected_topology() -> None:
    assert sorted(EXPECTED) == sorted(d.name for d in fixture_dirs())


@pytest.mark.parametrize("directory", fixture_dirs(), ids=lambda d: d.name)
def test_topology_of_every_capture(directory: Path) -> None:
    kind, controllers, collars, batteries, acb = EXPECTED[directory.name]
    topology = capture_topology(directory)
    assert (topology.kind, topology.system_controllers, topology.collars,
            topology.iq_batteries, topology.ac_batteries) == (kind, controllers, collars,
                                                              batteries, acb)
    choice = choose_signal(topology)
    if kind is SC:
        assert choice is GridSignal.RELAY
    elif kind is COLLAR:
        assert choice is GridSignal.COLLAR
    else:
        assert isinstance(choice, Refusal)
        assert choice.topology == topology
    for explicit in GridSignal:  # GRID_SIGNAL names a signal: used, whatever was found
        assert choose_signal(topology, explicit) is explicit


def test_the_collar_capture_is_on_grid_and_its_combiner_counted() -> None:
    inventory = Inventory.from_api(load_json(FIXTURES / "8.3.1598_collar",
                                             "ivp_ensemble_inventory"))
    assert inventory.collar is not None
    assert inventory.collar.reading().grid is Grid.ON
    assert inventory.collar.serial == "482520020939"
    assert inventory.count(DeviceType.C6_COMBINER) == inventory.count(DeviceType.C6_RGM) == 1
    assert capture_topology(FIXTURES / "8.3.1598_collar").found() == (
        "1 IQ Meter Collar, 1 IQ Combiner 6C, 2 IQ Batteries")


def test_generator_capture_reads_off_grid_on_generator() -> None:
    """8.2.127_with_generator_running: the relay data of its ensemble status (the same fields
    as /ivp/ensemble/relay) and its System Controller in the inventory."""
    directory = FIXTURES / "8.2.127_with_generator_running"
    reading = Relay.from_api(load_json(directory, "ivp_ensemble_status")["relay"]).reading()
    assert (reading.signal, reading.grid, reading.generator, reading.commanded) == (
        GridSignal.RELAY, Grid.OFF, True, False)
    inventory = Inventory.from_api(load_json(directory, "ivp_ensemble_inventory"))
    assert inventory.enpower_grid_mode == "multimode-generator"


@pytest.mark.parametrize(("relay", "generator", "commanded"), [
    ({"mains_admin_state": "closed", "mains_oper_state": "open",
      "Enchg_grid_mode": "multimode-offgrid"}, False, False),
    ({"mains_admin_state": "open", "mains_oper_state": "open"}, False, True),
    ({"mains_admin_state": "closed", "mains_oper_state": "open synchronizing",
      "Enchg_grid_mode": "multimode-generator"}, True, False),
])
def test_relay_outage_kinds(relay: dict[str, str], generator: bool, commanded: bool) -> None:
    reading = Relay.from_api(relay).reading()
    assert (reading.grid, reading.generator, reading.commanded) == (Grid.OFF, generator,
                                                                    commanded)


def test_generator_mode_on_grid_is_not_off_grid() -> None:
    reading = Relay.from_api({"mains_oper_state": "closed",
                              "Enchg_grid_mode": "multimode-generator"}).reading()
    assert (reading.grid, reading.generator) == (Grid.ON, False)


# ---------------------------------------------------------------- the Collar's rules

@pytest.mark.parametrize(("admin", "mid", "communicating", "grid"), [
    ("ENCMN_MDE_ON_GRID", "close", True, Grid.ON),
    ("ENCMN_MDE_ON_GRID", "close", None, Grid.ON),  # the flag missing: not a reason to fail
    ("ENCMN_MDE_OFF_GRID", "open", True, Grid.OFF),
    ("ENCMN_MDE_OFF_GRID", "close", True, Grid.OFF),  # a state containing OFF_GRID
    ("ENCMN_MDE_OFF_GRID_SYNC", None, True, Grid.OFF),
    ("encmn_mde_off_grid", "close", True, Grid.OFF),
    ("ENCMN_MDE_ON_GRID", "open", True, Grid.OFF),  # its relay open
    ("ENCMN_MDE_ON_GRID", None, True, Grid.UNKNOWN),
    ("ENCMN_MDE_ON_GRID", "closed", True, Grid.UNKNOWN),  # not the Collar's word
    ("ENCMN_MDE_TRANSITION", "close", True, Grid.UNKNOWN),
    (None, "close", True, Grid.UNKNOWN),
    ("ENCMN_MDE_ON_GRID", "close", False, Grid.UNKNOWN),  # not communicating: stale
    ("ENCMN_MDE_OFF_GRID", "open", False, Grid.UNKNOWN),
])
def test_collar_grid_rules(admin: str | None, mid: str | None, communicating: bool | None,
                           grid: Grid) -> None:
    device: dict[str, Any] = {"admin_state_str": admin, "mid_state": mid, "grid_state": "on_grid"}
    if communicating is not None:
        device["communicating"] = communicating
    assert Collar.from_api(device).grid is grid


def test_collar_grid_state_is_not_used() -> None:
    """Home Assistant found `grid_state` stuck at on_grid in the field: it decides nothing."""
    off = {"admin_state_str": "ENCMN_MDE_OFF_GRID", "mid_state": "open", "grid_state": "on_grid"}
    on = {"admin_state_str": "ENCMN_MDE_ON_GRID", "mid_state": "close", "grid_state": "off_grid"}
    assert Collar.from_api(off).grid is Grid.OFF
    assert Collar.from_api(on).grid is Grid.ON


def test_unknown_values_are_kept_raw_and_shown_escaped() -> None:
    collar = Collar.from_api({"admin_state_str": "X\x1b[31m\n", "mid_state": 7,
                              "communicating": True})
    shown = wire_pairs(collar.reading().raw)
    assert shown == ("admin_state_str='X\\x1b[31m\\n', mid_state=7, communicating=True,"
                     " grid_state=missing")
    assert "\x1b" not in shown and "\n" not in shown
    assert wire("A" * 100).endswith("...") and len(wire("A" * 100)) < 80
    assert wire("\u202egnp.exe") == "'\\u202egnp.exe'"  # a bidi override is escaped too
    assert wire({"a": 1}) == "<dict>"


# ---------------------------------------------------------------- the inventory's shapes

def test_inventory_tolerates_junk_and_counts_unknown_types() -> None:
    inventory = Inventory.from_api([
        "junk", {"type": None}, {"type": "ENCHARGE", "devices": [{"serial_num": "1"}, 7]},
        {"type": "ENCHARGE", "devices": "many"}, {"type": "NEW THING", "devices": [{}]},
        {"type": "COLLAR", "devices": []}, {"type": "ENPOWER"},
    ])
    assert inventory.count(DeviceType.ENCHARGE) == 1
    assert inventory.devices["NEW THING"] == 1
    assert inventory.collar is None and inventory.count(DeviceType.COLLAR) == 0
    assert Inventory.from_api({"error": "404 - Not Found"}) == Inventory()


@pytest.mark.parametrize("payload", [{}, {"type": "ENCHARGE"}, "[]", 3, None])
def test_inventory_rejects_wrong_shapes(payload: object) -> None:
    with pytest.raises(GatewayDataError):
        Inventory.from_api(payload)


_JSON = st.recursive(st.none() | st.booleans() | st.integers() | st.floats() | st.text(),
                     lambda children: st.lists(children, max_size=4)
                     | st.dictionaries(st.text(max_size=20), children, max_size=4),
                     max_leaves=30)
_GROUP = st.fixed_dictionaries({"type": st.sampled_from(list(DeviceType)) | st.text(),
                                "devices": st.lists(st.dictionaries(
                                    st.sampled_from(["admin_state_str", "mid_state",
                                                     "communicating", "serial_num",
                                                     "Enchg_grid_mode"]), _JSON), max_size=3)})


@settings(max_examples=300, deadline=None)
@given(st.lists(_GROUP | _JSON, max_size=5) | _JSON)
def test_inventory_only_raises_gateway_data_error(payload: object) -> None:
    try:
        inventory = Inventory.from_api(payload)
    except GatewayDataError:
        return
    if inventory.collar is not None:
        assert inventory.collar.grid in Grid
        wire_pairs(inventory.collar.raw)
    Topology.detect(inventory, None).found()


# ---------------------------------------------------------------- the rules and the messages

@pytest.mark.parametrize(("topology", "kind"), [
    (Topology(system_controllers=1, iq_batteries=3), SC),
    (Topology(collars=1, iq_batteries=2), COLLAR),
    (Topology(system_controllers=1, collars=1, iq_batteries=2), SC),  # the relay is proven
    (Topology(iq_batteries=4), NO_BACKUP),
    (Topology(ac_batteries=True), NO_BACKUP),
    (Topology(capacity_wh=2480.0), NO_BACKUP),  # AC Batteries at 0 %: capacity still shows
    (Topology(system_controllers=1), NO_BATTERY),
    (Topology(collars=1), NO_BATTERY),
    (Topology(), NO_BATTERY),
])
def test_kinds(topology: Topology, kind: Kind) -> None:
    assert topology.kind is kind


def test_refusals_name_what_was_found_and_why() -> None:
    no_backup = choose_signal(Topology(iq_batteries=4))
    assert isinstance(no_backup, Refusal)
    assert str(no_backup).startswith("this gateway cannot act as a UPS: found 4 IQ Batteries;")
    assert "cannot island" in str(no_backup) and "GRID_SIGNAL=relay" in str(no_backup)
    pv_only = choose_signal(Topology())
    assert isinstance(pv_only, Refusal)
    assert "found no IQ System Controller, Collar or battery" in str(pv_only)
    assert "nothing to run on" in str(pv_only)
    controller_only = choose_signal(Topology(system_controllers=1))
    assert isinstance(controller_only, Refusal)
    assert "found 1 IQ System Controller;" in str(controller_only)
    acb = Topology.detect(Inventory(), SecCtrl.from_api({"ACB_agg_soc": 18,
                                                         "ACB_agg_energy": 446}))
    assert "found AC Batteries;" in str(choose_signal(acb))


@pytest.mark.parametrize(("secctrl", "acb"), [
    ({"Max_energy": 2480, "Enc_commissioned_capacity": 0, "ACB_agg_soc": 0,
      "ACB_agg_energy": 0}, True),  # AC Batteries empty: only the capacity tells them
    ({"Max_energy": 10080, "Enc_commissioned_capacity": 10080, "ACB_agg_soc": 0,
      "ACB_agg_energy": 0}, False),
    ({"ACB_agg_soc": "18"}, True),
    ({"ACB_agg_energy": 24}, True),
    ({}, False),
])
def test_ac_batteries_from_secctrl(secctrl: dict[str, Any], acb: bool) -> None:
    assert SecCtrl.from_api(secctrl).has_acb is acb
