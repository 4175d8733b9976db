"""Simulated backup hardware: the ensemble inventory and relay of each topology, grid on and off.

The device records have the shapes of the real captures (tests/fixtures/pyenphase:
8.2.4286_with_3cts_and_battery_split for the IQ System Controller, 8.2.127_with_generator_running
for a generator, 8.3.1598_collar for the IQ Meter Collar, 7.6.185_with_cts_and_battery_3t for
batteries without backup, 7.6.175_with_cts for PV only), with the simulator's own serials and the
state's values. Off-grid strings that no capture shows (the Collar's) follow docs/hardware.md.

Topologies (SimState.topology):
    system-controller  relay and ENPOWER follow the grid (as the simulator always did)
    generator          the same; off grid, a generator runs (admin closed, oper open,
                       Enchg_grid_mode multimode-generator), as in the generator capture
    collar             the COLLAR device follows the grid; the relay says closed for ever
    no-backup          batteries only: nothing follows the grid; the relay says closed
    no-battery         PV only: empty inventory, SOC and capacity 0, the relay says closed
"""

from __future__ import annotations

import dataclasses
import math

from . import payloads
from .payloads import JSONDict
from .state import SimState

_READY = ["envoy.global.ok", "prop.done"]


def _times(now: float) -> JSONDict:
    start = int(now) - 86400
    return {"installed": start, "created_date": start, "img_load_date": start,
            "last_rpt_date": int(now) - 30}


def _encharge(state: SimState, index: int, count: int, now: float, collar: bool) -> JSONDict:
    """One IQ Battery; on a Collar system the admin states have the ENCMN names."""
    cap = round(state.capacity_wh / count)
    return {
        "part_num": "836-01250-r00" if collar else "836-01826-r76",
        "serial_num": f"4925{state.serial[-6:]}{index:02d}",
        **_times(now),
        "device_status": _READY,
        "admin_state": 63 if collar else 6,
        "admin_state_str": "ENCMN_MDE_ENCHARGE_READY" if collar else "ENCHG_STATE_READY",
        "img_pnum_running": "4.5.35" if collar else "3.0.7545_rel/31.33",
        "bmu_fw_version": "4.5.35" if collar else "3.8.63",
        "communicating": True,
        "sleep_enabled": False,
        "percentFull": round(max(0.0, min(100.0, state.soc))),
        "temperature": 24,
        "maxCellTemp": 25,
        "reported_enc_grid_state": "grid-tied",
        "comm_level_sub_ghz": 4,
        "comm_level_2_4_ghz": 4,
        "led_status": 12,
        "dc_switch_off": False,
        "encharge_rev": 4 if collar else 3,
        "encharge_capacity": cap,
        "phase": "ph-a",
        "der_index": 2,
    }


def _enpower(state: SimState, now: float) -> JSONDict:
    """The IQ System Controller; with a generator running its admin state says GEN_CLOSE."""
    generator = state.topology == "generator" and payloads.off_grid(state)
    return {
        "part_num": "865-00378-r27",
        "serial_num": f"4823{state.serial[-6:]}01",
        **_times(now),
        "device_status": _READY,
        "admin_state": 30 if generator else 24,
        "admin_state_str": "ENPWR_STATE_OPER_GEN_CLOSE" if generator else
                           "ENPWR_STATE_OPER_CLOSED",
        "img_pnum_running": "3.0.6297_rel/31.33",
        "communicating": True,
        "temperature": 40,
        "comm_level_sub_ghz": 4,
        "comm_level_2_4_ghz": 4,
        **{k: v for k, v in relay(state).items() if k.startswith(("mains_", "Enchg"))},
        "Enpwr_grid_mode": "multimode-ongrid",
        "Enpwr_relay_state_bm": 16124 if generator else 15868,
        "Enpwr_curr_state_id": 128 if generator else 16,
    }


def _collar(state: SimState, now: float) -> JSONDict:
    """The IQ Meter Collar. `grid_state` stays on_grid, as it did in the field (see
    docs/hardware.md); the admin state and the relay (mid_state) follow the grid."""
    off = payloads.off_grid(state)
    return {
        "part_num": "865-00400-r22",
        "serial_num": f"4825{state.serial[-6:]}01",
        **_times(now),
        "device_status": _READY,
        "admin_state": 88,  # the capture's number for ON_GRID; no capture shows OFF_GRID's
        "admin_state_str": "ENCMN_MDE_OFF_GRID" if off else "ENCMN_MDE_ON_GRID",
        "img_pnum_running": "3.0.6-D0",
        "communicating": True,
        "temperature": 42,
        "mid_state": "open" if off else "close",
        "grid_state": "on_grid",
        "control_error": 0,
        "collar_state": "Installed",
    }


def _combiner(state: SimState, now: float) -> list[JSONDict]:
    """The IQ Combiner 6C's two inventory groups."""
    times = _times(now)
    return [
        {"type": "C6 COMBINER CONTROLLER", "devices": [{
            "part_num": "800-02403-r08", "serial_num": f"4825{state.serial[-6:]}49",
            "installed": times["installed"], "last_rpt_date": times["last_rpt_date"],
            "admin_state": 82, "admin_state_str": "ENCMN_C6_CC_READY",
            "created_date": times["created_date"], "img_load_date": times["img_load_date"],
            "fw_version": "0.1.20-D1", "dmir_version": "0.1.20-D1", "communicating": True}]},
        {"type": "C6 RGM", "devices": [{
            "part_num": "800-02403-r08", "serial_num": f"4825{state.serial[-6:]}50",
            "installed": times["installed"], "FW Version": "2.2.1-D4119",
            "Device State": 80}]},
    ]


def inventory(state: SimState, now: float) -> list[JSONDict]:
    """Build the /ivp/ensemble/inventory body for the state's topology."""
    kind = state.topology
    if kind == "no-battery":
        return []
    collar = kind == "collar"
    count = 2 if collar else 1 if kind == "no-backup" else max(1, math.ceil(
        state.capacity_wh / 5000))
    batteries = [_encharge(state, i, count, now, collar) for i in range(count)]
    groups: list[JSONDict] = [{"type": "ENCHARGE", "devices": batteries}]
    if kind in ("system-controller", "generator"):
        groups.append({"type": "ENPOWER", "devices": [_enpower(state, now)]})
    if collar:
        groups.append({"type": "COLLAR", "devices": [_collar(state, now)]})
        groups.extend(_combiner(state, now))
    return groups


def relay(state: SimState) -> JSONDict:
    """Build the /ivp/ensemble/relay body: only a System Controller's relay follows the grid."""
    if state.topology in ("system-controller", "generator"):
        body = payloads.relay(state)
        if state.topology == "generator" and payloads.off_grid(state):
            body.update(mains_admin_state="closed", Enchg_grid_mode="multimode-generator",
                        Solar_grid_mode="multimode-generator")
        return body
    mode = "unknown" if state.topology == "no-battery" else "grid-tied"
    return payloads.relay(dataclasses.replace(state, grid="closed", admin="closed")) | {
        "Enchg_grid_mode": mode, "Solar_grid_mode": "unknown"}


def battery_view(state: SimState) -> SimState:
    """The state the battery endpoints answer from: no charge and no capacity without batteries."""
    if state.topology == "no-battery":
        return dataclasses.replace(state, soc=0.0, capacity_wh=0)
    return state
