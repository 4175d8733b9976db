"""The simulated gateway's answers: IQ Gateway response bodies built from a SimState."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

from .state import SimState

JSONDict = dict[str, Any]

_LEG_NAMES = ("a", "b", "c")
_SOURCES = ("pv", "storage", "grid", "load", "generator")
_NULL_KEYS = frozenset(
    {"enc_agg_energy", "ENC_agg_avail_energy", "pwrFactor", "rmsCurrent", "der1_state"}
)
_SOC_KEYS = frozenset({"soc", "agg_soc", "ENC_agg_soc", "enc_agg_soc", "percentFull"})


def _legs(state: SimState) -> int:
    return {"split": 2, "three": 3}.get(state.phases, 1)


def _soc(state: SimState) -> int:
    return round(max(0.0, min(100.0, state.soc)))


def off_grid(state: SimState) -> bool:
    """True when the simulated relay is open (any value starting with "open")."""
    return state.grid.startswith("open")


@dataclass(frozen=True)
class Flows:
    """Power flows in W: load = pv + storage + grid (storage > 0 discharging, grid > 0 import)."""

    pv: float
    storage: float
    grid: float
    load: float


def flows(state: SimState) -> Flows:
    """Balance the simulated power flows for the current grid state."""
    load = max(0.0, state.load_w)
    pv = max(0.0, state.pv_w)
    soc = state.soc
    if off_grid(state):
        if pv > load and soc >= 100.0:
            pv = load  # PV is curtailed when the battery is full and nothing can take it
        return Flows(pv=pv, storage=load - pv, grid=0.0, load=load)
    storage = 0.0
    if soc < 100.0 and pv > load:
        storage = -min(pv - load, state.capacity_wh * 0.762)
    return Flows(pv=pv, storage=storage, grid=load - pv - storage, load=load)


def info_xml(state: SimState, now: float) -> bytes:
    """Build the /info.xml body."""
    fw = state.firmware.lstrip("DR")
    parts = fw.split(".")
    app = ".".join(p.zfill(2) for p in parts[:2]) + ("." + ".".join(parts[2:]) if parts[2:] else "")
    return (
        '<?xml version="1.0" encoding="UTF-8"?>\n<envoy_info>\n'
        f"\t<time>{int(now)}</time>\n\t<device>\n"
        f"\t\t<sn>{state.serial}</sn>\n\t\t<pn>800-00555-r03</pn>\n"
        f"\t\t<software>{state.firmware}</software>\n\t\t<euaid>4c8675</euaid>\n"
        "\t\t<seqnum>0</seqnum>\n\t\t<apiver>1</apiver>\n\t\t<imeter>true</imeter>\n"
        "\t</device>\n\t<web-tokens>true</web-tokens>\n"
        '\t<package name="app">\n\t\t<pn>500-00002-r01</pn>\n'
        f"\t\t<version>{app}</version>\n\t\t<build>513fe4</build>\n\t</package>\n"
        "</envoy_info>\n"
    ).encode()


def relay(state: SimState) -> JSONDict:
    """Build the /ivp/ensemble/relay body."""
    mode = "multimode-offgrid" if off_grid(state) else "multimode-ongrid"
    return {
        "mains_admin_state": state.admin,
        "mains_oper_state": state.grid,
        "der1_state": 0,
        "der2_state": 0,
        "der3_state": 0,
        "Enchg_grid_mode": mode,
        "Solar_grid_mode": mode,
    }


def _source(power_w: float, legs: int) -> JSONDict:
    p_mw = round(power_w * 1000)
    s_mva = round(abs(power_w) * 1020)
    out: JSONDict = {"agg_p_mw": p_mw, "agg_s_mva": s_mva}
    for i, leg in enumerate(_LEG_NAMES):
        out[f"agg_p_ph_{leg}_mw"] = p_mw // legs if i < legs else 0
    for i, leg in enumerate(_LEG_NAMES):
        out[f"agg_s_ph_{leg}_mva"] = s_mva // legs if i < legs else 0
    return out


def livedata(state: SimState, now: float) -> JSONDict:
    """Build the /ivp/livedata/status body."""
    f = flows(state)
    legs = _legs(state)
    soc = _soc(state)
    powers = {"pv": f.pv, "storage": f.storage, "grid": f.grid, "load": f.load, "generator": 0.0}
    meters: JSONDict = {
        "last_update": int(now),
        "soc": soc,
        "main_relay_state": 1,
        "gen_relay_state": 5,
        "backup_bat_mode": 1,
        "backup_soc": state.reserve_soc,
        "is_split_phase": 1 if state.phases == "split" else 0,
        "phase_count": legs,
        "enc_agg_soc": soc,
        "enc_agg_energy": int(state.capacity_wh * state.soc / 100),
        "acb_agg_soc": 0,
        "acb_agg_energy": 0,
    }
    for name in _SOURCES:
        meters[name] = _source(powers[name], legs)
    return {
        "connection": {
            "mqtt_state": "connected",
            "prov_state": "configured",
            "auth_state": "ok",
            "sc_stream": "disabled",
            "sc_debug": "disabled",
        },
        "meters": meters,
        "tasks": {"task_id": 1060396226, "timestamp": int(now) - 3600},
        "counters": {"main_CfgLoad": 1, "main_taskUpdate": 3, "rest_Status": 7},
        "dry_contacts": {
            "": {
                "dry_contact_id": "",
                "dry_contact_type": "",
                "dry_contact_load_name": "",
                "dry_contact_status": 3050996,
            }
        },
    }


def secctrl(state: SimState) -> JSONDict:
    """Build a synthesized /ivp/ensemble/secctrl body with live soc values."""
    soc = _soc(state)
    cap = state.capacity_wh
    return {
        "shutdown": False,
        "freq_bias_hz": 0.0,
        "voltage_bias_v": 0.0,
        "freq_bias_hz_q8": 0,
        "voltage_bias_v_q5": 0,
        "configured_backup_soc": state.reserve_soc,
        "adjusted_backup_soc": state.reserve_soc,
        "agg_soc": soc,
        "Max_energy": cap,
        "ENC_agg_soc": soc,
        "ENC_agg_soh": 100,
        "ENC_agg_backup_energy": int(cap * state.reserve_soc / 100),
        "ENC_agg_avail_energy": int(cap * state.soc / 100),
        "Enc_commissioned_capacity": cap,
        "Enc_max_available_capacity": cap,
        "ACB_agg_soc": 0,
        "ACB_agg_energy": 0,
        "VLS_Limit": state.soc_recovery_exit,
        "soc_rec_enabled": soc <= state.soc_recovery_exit,
        "soc_recovery_entry": 0,
        "soc_recovery_exit": state.soc_recovery_exit,
        "Commission_in_progress": False,
        "ESS_in_progress": False,
    }


_EIDS = {"production": 704643328, "net-consumption": 704643584, "storage": 704643840}


def meters(state: SimState) -> list[JSONDict]:
    """Build the /ivp/meters body (CT configuration)."""
    mode = state.phases
    enabled = {"production": True, "net-consumption": state.has_ct,
               "storage": state.has_storage_ct}
    return [
        {
            "eid": eid,
            "state": "enabled" if enabled[kind] else "disabled",
            "measurementType": kind,
            "phaseMode": mode,
            "phaseCount": _legs(state),
            "meteringStatus": "normal",
            "statusFlags": [],
        }
        for kind, eid in _EIDS.items()
    ]


@dataclass
class EnergyCounters:
    """Cumulative Wh per report type, advanced on each meters/reports request."""

    last: float | None = None
    delivered: dict[str, float] = field(default_factory=dict)
    received: dict[str, float] = field(default_factory=dict)

    def advance(self, now: float, powers: dict[str, float]) -> None:
        """Integrate the given powers (W) from the last call to now."""
        dt = 0.0 if self.last is None else max(0.0, now - self.last)
        self.last = now
        for kind, watts in powers.items():
            base = 1_000_000.0 if kind != "storage" else 50_000.0
            self.delivered.setdefault(kind, base)
            self.received.setdefault(kind, base / 100)
            self.delivered[kind] += max(watts, 0.0) * dt / 3600
            self.received[kind] += max(-watts, 0.0) * dt / 3600


def _meter(power: float, volts: float, freq: float, wh_in: float, wh_out: float,
           current: float | None = None) -> JSONDict:
    pf = 1.0 if power >= 0 else -1.0
    if abs(power) > 0:
        pf *= 0.98
    apparent = abs(power) / 0.98
    amps = abs(power) / volts if current is None else current
    reactive = 0.0 - math.sqrt(max(apparent**2 - power**2, 0.0))
    return {
        "currW": round(power, 3),
        "actPower": round(power, 3),
        "apprntPwr": round(apparent, 3),
        "reactPwr": round(reactive, 3),
        "whDlvdCum": round(wh_in, 3),
        "whRcvdCum": round(wh_out, 3),
        "varhLagCum": round(wh_in * 0.05, 3),
        "varhLeadCum": round(wh_out * 0.05, 3),
        "vahCum": round((wh_in + wh_out) * 1.02, 3),
        "rmsVoltage": round(volts, 3),
        "rmsCurrent": round(amps, 3),
        "pwrFactor": round(pf, 2),
        "freqHz": round(freq, 2),
    }


def meters_reports(state: SimState, now: float, energy: EnergyCounters) -> list[JSONDict]:
    """Build the /ivp/meters/reports body; advances the energy counters.

    Args:
        state: the simulated state.
        now: the simulator clock (epoch seconds).
        energy: cumulative counters kept by the simulator between calls.

    Returns:
        production, then (with has_ct) net- and total-consumption, then (with has_storage_ct)
        storage reports, each with cumulative and per-leg lines.
    """
    f = flows(state)
    powers = {"production": f.pv}
    if state.has_ct:
        powers["net-consumption"] = f.grid
        powers["total-consumption"] = f.load
    if state.has_storage_ct:
        powers["storage"] = f.storage
    energy.advance(now, powers)
    legs = _legs(state)
    islanded = off_grid(state)
    if state.phases == "split":
        leg_v, freq = 120.4, 60.0
    else:
        leg_v, freq = 230.2, 50.0
    if islanded:
        leg_v, freq = leg_v * 0.995, freq - 0.03
    reports: list[JSONDict] = []
    for kind, watts in powers.items():
        wh_in, wh_out = energy.delivered[kind], energy.received[kind]
        lines = [
            _meter(watts / legs, leg_v + 0.3 * i, freq, wh_in / legs, wh_out / legs)
            for i in range(legs)
        ]
        volts = sum(ln["rmsVoltage"] for ln in lines)
        if state.phases != "split":
            volts /= legs
        amps = sum(ln["rmsCurrent"] for ln in lines)
        reports.append({
            "createdAt": int(now),
            "reportType": kind,
            "cumulative": _meter(watts, volts, freq, wh_in, wh_out, current=amps),
            "lines": lines,
        })
    return reports


def wrong_types(obj: Any) -> Any:
    """Turn every number into a string (soc fields as "85"-style ints), some fields into null."""
    if isinstance(obj, dict):
        out: JSONDict = {}
        for key, value in obj.items():
            if key in _NULL_KEYS:
                out[key] = None
            elif key in _SOC_KEYS and isinstance(value, int | float) and not isinstance(
                value, bool
            ):
                out[key] = str(round(value))
            else:
                out[key] = wrong_types(value)
        return out
    if isinstance(obj, list):
        return [wrong_types(v) for v in obj]
    if isinstance(obj, bool) or obj is None:
        return obj
    if isinstance(obj, int | float):
        return str(obj)
    return obj
