"""Build gateway payloads and Snapshots from the real captures in tests/fixtures/pyenphase.

The captures have /ivp/meters/readings + /ivp/meters but (except 8.3.5169_*) no
/ivp/meters/reports, and none has /ivp/livedata/status. This module turns readings into the
reports shape (a list of `reportType` production / net-consumption / total-consumption /
storage, each with `cumulative` and per-leg `lines` of `currW`, `rmsVoltage`, ...) and writes
a livedata payload consistent with the capture, so the NUT values can be computed from real numbers.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from enphase_monitor.models import (
    GatewayInfo,
    LiveData,
    MeterReports,
    Relay,
    SecCtrl,
    Snapshot,
)

FIXTURES = Path(__file__).resolve().parent / "fixtures" / "pyenphase"

# /ivp/meters/readings field -> /ivp/meters/reports field
READING_FIELDS: Mapping[str, str] = {
    "activePower": "currW",
    "apparentPower": "apprntPwr",
    "voltage": "rmsVoltage",
    "pwrFactor": "pwrFactor",
    "freq": "freqHz",
    "actEnergyDlvd": "whDlvdCum",
}


def fixture_dir(name: str) -> Path:
    return FIXTURES / name


def load_json(directory: Path, name: str) -> Any:
    """The parsed capture, or None when the file is absent."""
    path = directory / name
    if not path.exists():
        return None
    return json.loads(path.read_text())


def _meter(reading: Mapping[str, Any]) -> dict[str, Any]:
    """One reading in the reports' terms. The reports sign the apparent power like the active
    power (readings do not): 8.3.5169's net-consumption leg 1 is -290 W and -948.6 VA there."""
    meter = {dst: reading.get(src) for src, dst in READING_FIELDS.items()}
    apparent, active = meter["apprntPwr"], meter["currW"]
    if isinstance(apparent, int | float) and isinstance(active, int | float):
        meter["apprntPwr"] = math.copysign(abs(apparent), active) if apparent else apparent
    return meter


def _report(kind: str, reading: Mapping[str, Any], count: int) -> dict[str, Any]:
    """A report from a reading and its first `count` channels; the cumulative apparent power is
    the sum of the signed legs, as in the real reports."""
    lines = [_meter(c) for c in (reading.get("channels") or [])[:count]]
    cumulative = _meter(reading)
    if lines:
        cumulative["apprntPwr"] = round(sum(line["apprntPwr"] or 0.0 for line in lines), 3)
    return {"reportType": kind, "cumulative": cumulative, "lines": lines}


def _pf(real: float, apparent: float) -> float:
    """The gateway's computed power factor: real / apparent, clipped, 2 decimals."""
    if not apparent:
        return 0.0
    return round(max(-1.0, min(1.0, real / apparent)), 2)


def _combine(a: Mapping[str, Any], b: Mapping[str, Any], sign: float) -> dict[str, Any]:
    """a + sign*b for the powers; voltage and frequency from a (the consumption CT)."""
    real = (a.get("currW") or 0.0) + sign * (b.get("currW") or 0.0)
    apparent = (a.get("apprntPwr") or 0.0) + sign * (b.get("apprntPwr") or 0.0)
    return {
        "currW": round(real, 3),
        "apprntPwr": round(apparent, 3),
        "rmsVoltage": a.get("rmsVoltage"),
        "pwrFactor": _pf(real, apparent),
        "freqHz": a.get("freqHz"),
    }


def _derived(kind: str, cons: Mapping[str, Any], prod: Mapping[str, Any],
             sign: float) -> dict[str, Any]:
    lines = [_combine(c, p, sign) for c, p in zip(cons["lines"], prod["lines"], strict=False)]
    cumulative = _combine(cons["cumulative"], prod["cumulative"], sign)
    return {"reportType": kind, "cumulative": cumulative, "lines": lines}


def derive_total(reports: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Add total-consumption = net-consumption + production when only net exists (what the
    gateway computes for a "load with solar" CT)."""
    by_kind = {r["reportType"]: r for r in reports}
    net, prod = by_kind.get("net-consumption"), by_kind.get("production")
    if net is None or prod is None or "total-consumption" in by_kind:
        return reports
    return [*reports, _derived("total-consumption", net, prod, 1.0)]


def reports_from_readings(readings: list[Mapping[str, Any]], meters: list[Mapping[str, Any]],
                          net_equals_total: bool = False) -> list[dict[str, Any]]:
    """An /ivp/meters/reports list from /ivp/meters/readings and the CT list of /ivp/meters.

    Each reading's eid gives its measurementType (disabled CTs are left out); `channels` become
    `lines` (apparent power signed, see _meter), cut to the CT's phaseCount (readings always
    carry 3 channels, the unused ones zero; the real reports of 8.3.5169 have only the used
    legs). total-consumption is added as
    net-consumption + production when only net exists. With `net_equals_total` (firmware
    8.3.5433, `tot_is_net_cons`) a lone total-consumption CT is reported under both names with
    the same values, as that firmware does.
    """
    kinds = {m.get("eid"): m for m in meters if m.get("state") == "enabled"}
    reports: list[dict[str, Any]] = []
    for reading in readings:
        meter = kinds.get(reading.get("eid"))
        if meter is None:
            continue
        count = meter.get("phaseCount") or len(reading.get("channels") or [])
        reports.append(_report(meter["measurementType"], reading, count))
    by_kind = {r["reportType"]: r for r in reports}
    if net_equals_total and "total-consumption" in by_kind and "net-consumption" not in by_kind:
        reports.append({**by_kind["total-consumption"], "reportType": "net-consumption"})
    return derive_total(reports)


def livedata(soc: float, energy_wh: float, phase_count: int, split_phase: bool,
             load_w: float | None = None, grid_w: float | None = None,
             storage_w: float | None = None, pv_w: float | None = None) -> dict[str, Any]:
    """An /ivp/livedata/status payload (powers in mW, as the gateway sends them)."""
    def source(watts: float | None) -> dict[str, Any]:
        mw = 0 if watts is None else round(watts * 1000)
        return {"agg_p_mw": mw, "agg_s_mva": abs(mw), "agg_p_ph_a_mw": 0, "agg_p_ph_b_mw": 0,
                "agg_p_ph_c_mw": 0}

    return {
        "connection": {"mqtt_state": "connected", "prov_state": "configured"},
        "meters": {
            "last_update": 1722967007,
            "soc": soc,
            "main_relay_state": 1,
            "gen_relay_state": 5,
            "backup_bat_mode": 1,
            "backup_soc": 0,
            "is_split_phase": 1 if split_phase else 0,
            "phase_count": phase_count,
            "enc_agg_soc": soc,
            "enc_agg_energy": energy_wh,
            "acb_agg_soc": 0,
            "acb_agg_energy": 0,
            "pv": source(pv_w),
            "storage": source(storage_w),
            "grid": source(grid_w),
            "load": source(load_w),
            "generator": source(0),
        },
        "tasks": {"task_id": 0, "timestamp": 1722967007},
        "counters": {},
        "dry_contacts": {},
    }


def fixture_snapshot(name: str, soc: float, energy_wh: float, net_equals_total: bool = False,
                     use_real_reports: bool = False) -> Snapshot:
    """A Snapshot from the capture `name`, with livedata at `soc` % and `energy_wh` stored.

    The livedata powers (load, grid, storage, pv) and phase data are taken from the reports so
    that both sources agree.
    """
    directory = fixture_dir(name)
    meters = load_json(directory, "ivp_meters") or []
    if use_real_reports:
        raw_reports = load_json(directory, "ivp_meters_reports")
        assert isinstance(raw_reports, list)
    else:
        raw_reports = reports_from_readings(load_json(directory, "ivp_meters_readings") or [],
                                            meters, net_equals_total)
    power = {r["reportType"]: r["cumulative"].get("currW") for r in raw_reports}
    modes = {m.get("phaseMode") for m in meters if m.get("state") == "enabled"}
    counts = [m.get("phaseCount") or 0 for m in meters if m.get("state") == "enabled"]
    split = "split" in modes
    live = livedata(soc, energy_wh, phase_count=max(counts, default=0), split_phase=split,
                    load_w=power.get("total-consumption"), grid_w=power.get("net-consumption"),
                    storage_w=power.get("storage"), pv_w=power.get("production"))
    secctrl = load_json(directory, "ivp_ensemble_secctrl")
    relay = load_json(directory, "ivp_ensemble_relay")
    return Snapshot(
        reading=Relay.from_api(relay).reading() if relay is not None else None,
        live=LiveData.from_api(live),
        secctrl=SecCtrl.from_api(secctrl) if secctrl is not None else None,
        reports=MeterReports.from_api(raw_reports),
        info=GatewayInfo.from_xml((directory / "info").read_text()),
    )
