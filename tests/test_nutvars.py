"""nutvars.py: the NUT values derived from real captures (golden files) and the formulas' edges.

Golden files: tests/golden/<case>.txt, the port file rendered from a real capture (see
tests/fixture_snapshots.py for how readings become reports and how livedata is built).
Regenerate with UPDATE_GOLDEN=1, then read every changed file by hand.

Checked by hand against the formulas in docs/behaviour.md, digit by digit, from the capture's raw
numbers (the seed's LiFePO4 cell curve in nutvars.py: 3.60 V at 100 %, so battery.voltage = cell *
battery.voltage.high / 3.60):

split_battery_8.2.4286 (Max_energy 25000 Wh, soc 46, restart 10; net 1749.504 W over 2 legs,
production 7131.017 W, storage -7083.656 W at 247.392 V; split-phase):
  battery.voltage 78.7 = (3.25 + 0.6 * 0.05) * 86.4 / 3.60 = 3.28 * 24 = 78.72
  battery.runtime 3648 = (46 - 10) % of 25000 Wh = 9000 Wh * 3600 / 8880.521 W = 3648.4
  ups.load 46.3 = 8880.521 / (768 * 25 kWh) * 100 = 46.25
  battery.capacity 325.5 = 25000 / 76.8;  battery.current -28.63 = -7083.656 / 247.392
  input.*: 1749.5 W, 2826.5 VA (1438.017 + 1388.484), 247.2 V, pf 0.62 (0.618), 60.0 Hz,
    current 7.08 = 1749.504 / 247.172
  output.*: 8880.5 W = 1749.504 + 7131.017, 10063.9 VA = 2826.501 + 7237.365,
    pf 0.88 = 8880.521 / 10063.866, current 35.93 = 8880.521 / 247.172
  no input.phases and no L1..L3 (split-phase); ups.status OL (46 >= 20)
user_file_8.2.4286_ob (same capture; relay "open synchronizing"; the user's file sets
  battery.charge.low 50 and battery.voltage.high 57.6): ups.status "OB LB" (46 < 50);
  battery.voltage 52.5 = 3.28 * 57.6 / 3.60; runtime/load as above; ups.mfr "ACME Solar" as the
  user's device.mfr; input.L1.realpower: "" (no longer computable); comment,
  ups.delay.shutdown, x.custom.note kept verbatim in place; only the missing defaults appended.
three_phase_7.6.175 (no battery: soc 0, Max_energy 0, no soc_recovery_exit -> restart 10):
  "OL LB" (0 < 20); battery.voltage 60.0 = 2.50 * 24; no capacity, runtime or ups.load;
  input.phases/output.phases 3; input.current -0.15 = -36.162 / 235.201; input.L1-N.voltage
  235.2, L2-N 3.0 (2.981), L3-N 4.6 (4.635); input.L2.realpower 0.0 and input.L2.current 0.00
  from -0.0 W (never "-0.0"); input.L3.current -0.10 = -0.451 / 4.635;
  output.L1.realpower 452.8 = 488.925 - 36.162, output.L1.current 1.93 = 452.763 / 235.201;
  output.L3.realpower -1.5 = -1.044 - 0.451, output.L3.powerfactor 0.40 = -1.495 / -3.730,
  output.L3.current -0.32 = -1.495 / 4.635
three_phase_battery_8.3.5167 (Max_energy 10000, soc 100, restart 10): battery.voltage 86.4;
  battery.capacity 130.2 = 10000 / 76.8; output.realpower 323.4 = 5235.674 - 4912.241;
  battery.runtime 100175 = 9000 Wh * 3600 / 323.433 W = 100175.3 (under the 172800 cap);
  ups.load 4.2 = 323.433 / 7680 * 100; input.current -7.07 = -4912.241 / 694.708;
  input.L1.current -12.11 = -2879.825 / 237.755; input.L2.current -3.81 = -877.472 / 230.121;
  output.L2.realpower 284.8 = 1162.315 - 877.472, output.L2.current 1.24 = 284.843 / 230.121;
  output.L3.current 0.01 = 2.889 / 226.831
no_battery_8.3.5169 (the real /ivp/meters/reports): input 173.4 W, 55.6 VA, 248.4 V, pf 1.00,
  current 0.70 = 173.416 / 248.42; output 3069.4 W, 3730.6 VA, pf 0.82, current 12.36 =
  3069.39 / 248.42; "OL LB", no capacity/runtime/load
tot_is_net_cons_8.3.5433 (the real relay: closed -> OL; "OL LB" as soc is 0, though the daemon
  refuses this battery-less capture at start-up: these are the NUT values only): that firmware
  reports one CT under both names (786.513 W and 20055053.325 Wh lifetime in both), so
  total-consumption is repaired as pyenphase does, total = net + production:
  input.* (net): 786.5 W, 889.9 VA (491.153 + 398.723), current 3.24 = 786.513 / 242.801, the
  gateway's own powerfactor 1.77 (it adds the legs' power factors) clamped to 1.00 for NUT;
  output.*: 1139.3 W = 786.513 + 352.751, 1354.1 VA = 889.876 + 464.183 (231.924 + 232.259),
  pf 0.84 = 1139.264 / 1354.059, current 4.69 = 1139.264 / 242.801, voltage and frequency
  the net CT's (242.8 V, 60.0 Hz).

The apparent powers of derived totals are signed the way the real reports sign them (see
fixture_snapshots._meter); the port file gets their magnitude (NUT's VA is never negative).
"""

from __future__ import annotations

import dataclasses
import os
import re
from pathlib import Path
from typing import Any

import pytest

from enphase_monitor.models import (
    GatewayInfo,
    Grid,
    LiveData,
    MeterReports,
    Relay,
    SecCtrl,
    Snapshot,
)
from enphase_monitor.nutvars import (
    GENERATED,
    RUNTIME_CAP_S,
    USER_DEFAULTS,
    VARIABLES,
    Inputs,
    Refs,
    compute,
    fmt,
    fmt_pct,
    lfp_voltage,
    sanitize,
    status_text,
)
from enphase_monitor.portfile import PortContent, parse_line, render
from tests.conftest import fixture_dirs
from tests.fixture_snapshots import (
    FIXTURES,
    derive_total,
    fixture_snapshot,
    load_json,
    reports_from_readings,
)

GOLDEN = Path(__file__).resolve().parent / "golden"
HEADER = "# dummy-ups port file for UPS 'enphase' (dummy-loop), kept by enphase-monitor\n"
USER_FILE = (
    "# dummy-ups port file for UPS 'enphase'\n"
    "ups.delay.shutdown: 120\n"
    "battery.charge.low: 50\n"
    "battery.voltage.high: 57.6\n"
    "device.mfr: ACME Solar\n"
    "ups.status: OL\n"
    "battery.charge: 80\n"
    "input.L1.realpower: 5.0\n"
    "x.custom.note: \"keep  me\"\n"
)

CASES: dict[str, dict[str, Any]] = {
    "split_battery_8.2.4286": {"name": "8.2.4286_with_3cts_and_battery_split", "soc": 46,
                               "energy_wh": 11600},
    "user_file_8.2.4286_ob": {"name": "8.2.4286_with_3cts_and_battery_split", "soc": 46,
                              "energy_wh": 11600, "text": USER_FILE,
                              "relay": {"mains_admin_state": "closed",
                                        "mains_oper_state": "open synchronizing"}},
    "three_phase_7.6.175": {"name": "7.6.175_with_cts_3phase", "soc": 0, "energy_wh": 0},
    "three_phase_battery_8.3.5167": {"name": "8.3.5167_3rd-pv", "soc": 100, "energy_wh": 10000},
    "no_battery_8.3.5169": {"name": "8.3.5169_with_generator", "soc": 0, "energy_wh": 0,
                            "use_real_reports": True},
    "tot_is_net_cons_8.3.5433": {"name": "8.3.5433_tot_is_net_cons", "soc": 0, "energy_wh": 0,
                                 "net_equals_total": True},
}


def render_case(case: dict[str, Any]) -> tuple[str, Snapshot]:
    """What the monitor would write for that capture: status from the relay (no relay: OL)."""
    snap = fixture_snapshot(case["name"], case["soc"], case["energy_wh"],
                            net_equals_total=case.get("net_equals_total", False),
                            use_real_reports=case.get("use_real_reports", False))
    if "relay" in case:
        snap = dataclasses.replace(snap, reading=Relay.from_api(case["relay"]).reading())
    content = PortContent.parse(case.get("text", HEADER))
    refs = Refs.from_values(content.values)
    assert snap.live is not None and snap.info is not None
    status = status_text(snap.grid is not Grid.OFF, snap.live.soc, refs.charge_low)
    inputs = Inputs(status=status, snapshot=snap, refs=refs, serial=snap.info.serial or "",
                    firmware=snap.info.firmware)
    return render(content, compute(inputs)), snap


@pytest.mark.parametrize("case", sorted(CASES))
def test_golden(case: str) -> None:
    text, _ = render_case(CASES[case])
    path = GOLDEN / f"{case}.txt"
    if os.environ.get("UPDATE_GOLDEN") == "1":
        GOLDEN.mkdir(exist_ok=True)
        path.write_text(text)
    assert text == path.read_text(), f"{path} differs (UPDATE_GOLDEN=1, then review by hand)"


def _values(case: str) -> dict[str, str]:
    return PortContent.parse((GOLDEN / f"{case}.txt").read_text()).values


def test_golden_shapes() -> None:
    """Structural facts of the goldens, so a bad regeneration cannot pass unnoticed."""
    split = _values("split_battery_8.2.4286")
    assert split["ups.status"] == "OL"
    assert split["battery.runtime"] == "3648"
    assert split["ups.load"] == "46.3"
    assert not any(".L1" in name or name.endswith(".phases") for name in split)
    user = _values("user_file_8.2.4286_ob")
    assert user["ups.status"] == "OB LB"
    assert user["ups.mfr"] == user["device.mfr"] == "ACME Solar"
    assert user["input.L1.realpower"] == ""
    assert user["battery.voltage"] == "52.5"
    for case in ("three_phase_7.6.175", "three_phase_battery_8.3.5167"):
        three = _values(case)
        assert three["input.phases"] == three["output.phases"] == "3"
        for group in ("input", "output"):
            for line in ("L1", "L2", "L3"):
                assert f"{group}.{line}-N.voltage" in three
                assert f"{group}.{line}.voltage" not in three
                assert f"{group}.{line}.realpower" in three
    for case in ("no_battery_8.3.5169", "tot_is_net_cons_8.3.5433", "three_phase_7.6.175"):
        none = _values(case)
        assert none["ups.status"] == "OL LB"
        assert {"battery.runtime", "ups.load", "battery.capacity"}.isdisjoint(none)
    net = _values("tot_is_net_cons_8.3.5433")
    assert net["input.realpower"] == "786.5"  # the grid exchange
    assert net["output.realpower"] == "1139.3"  # the house: net + production, repaired


def test_golden_number_formats() -> None:
    """Current and power factor with 2 decimals, the other meter values with 1."""
    for path in GOLDEN.glob("*.txt"):
        for name, value in PortContent.parse(path.read_text()).values.items():
            if not value or not name.startswith(("input.", "output.")) or name.endswith("phases"):
                continue
            decimals = 2 if name.endswith((".current", ".powerfactor")) else 1
            _, _, frac = value.partition(".")
            assert len(frac) == decimals, f"{path.name}: {name}: {value}"
            assert not value.startswith("-0.") or float(value) != 0, f"{path.name}: {name}"


def test_reports_helper_matches_the_gateway() -> None:
    """The helper's total = net + production agrees with 8.3.5169's real total-consumption."""
    real = load_json(FIXTURES / "8.3.5169_with_generator", "ivp_meters_reports")
    kept = [r for r in real if r["reportType"] in ("production", "net-consumption")]
    derived = {r["reportType"]: r for r in derive_total(kept)}["total-consumption"]
    expected = {r["reportType"]: r for r in real}["total-consumption"]
    for mine, theirs in [(derived["cumulative"], expected["cumulative"]),
                         *zip(derived["lines"], expected["lines"], strict=True)]:
        assert mine["currW"] == pytest.approx(theirs["currW"], abs=0.01)
        assert mine["apprntPwr"] == pytest.approx(theirs["apprntPwr"], rel=2e-3)
        assert mine["rmsVoltage"] == theirs["rmsVoltage"]
        assert mine["pwrFactor"] == pytest.approx(theirs["pwrFactor"], abs=0.011)
        assert mine["freqHz"] == theirs["freqHz"]


def test_reports_helper_maps_readings() -> None:
    directory = FIXTURES / "8.2.4286_with_3cts_and_battery_split"
    reports = {r["reportType"]: r for r in reports_from_readings(
        load_json(directory, "ivp_meters_readings"), load_json(directory, "ivp_meters"))}
    assert set(reports) == {"production", "net-consumption", "storage", "total-consumption"}
    net = reports["net-consumption"]
    assert len(net["lines"]) == 2       # phaseCount 2: the third (junk) channel is dropped
    assert net["cumulative"]["currW"] == 1749.504
    assert net["cumulative"]["rmsVoltage"] == 247.172
    assert net["lines"][1] == {"currW": 939.597, "apprntPwr": 1388.484, "rmsVoltage": 123.69,
                               "pwrFactor": 0.674, "freqHz": 60.0, "whDlvdCum": 3038284.97}


# ---------------------------------------------------------------- building blocks


def make_inputs(soc: float | None = 60, load: float | None = 1000.0, max_energy: float = 10000,
                restart: float | None = 10, status: str = "OL", loadkwh: int = 768,
                disable_meters: bool = False, values: dict[str, str] | None = None,
                live: dict[str, Any] | None = None, reports: list[Any] | None = None) -> Inputs:
    """A snapshot with a total-consumption CT reading `load` W at 240 V (None: no reports)."""
    if reports is None and load is not None:
        reports = [
            {"reportType": "net-consumption", "cumulative": {
                "currW": load / 2, "apprntPwr": load / 2, "rmsVoltage": 240.0, "pwrFactor": 1.0,
                "freqHz": 60.0}},
            {"reportType": "total-consumption", "cumulative": {
                "currW": load, "apprntPwr": load * 1.25, "rmsVoltage": 240.0, "pwrFactor": 0.8,
                "freqHz": 60.0}},
        ]
    meters = {"soc": soc, **(live or {})}
    snap = Snapshot(
        live=LiveData.from_api({"meters": meters}),
        secctrl=SecCtrl.from_api({"Max_energy": max_energy, "soc_recovery_exit": restart}),
        reports=MeterReports.from_api(reports) if reports is not None else None,
        info=GatewayInfo(serial="122", firmware="D8.2.4286"),
    )
    return Inputs(status=status, snapshot=snap, refs=Refs.from_values(values or {}),
                  serial="122", loadkwh=loadkwh, disable_meters=disable_meters,
                  firmware="D8.2.4286")


@pytest.mark.parametrize(("soc", "volts"), [
    (0, 60.0),          # 2.50 / 3.60 * 86.4
    (50, 79.2),         # 3.30 * 24
    (100, 86.4),        # the curve is scaled so that 100 % is battery.voltage.high
    (110, 87.6),        # 3.65 * 24
    (46, 78.72),        # between points: 3.25 + 0.6 * (3.30 - 3.25)
    (95, 85.2),         # 3.55 * 24
    (5, 64.8),          # 2.70 * 24
    (-5, 60.0),         # clamped
    (150, 87.6),        # clamped
])
def test_lfp_voltage(soc: float, volts: float) -> None:
    assert lfp_voltage(soc, 86.4) == pytest.approx(volts)


def test_lfp_voltage_scales_to_voltage_high() -> None:
    assert lfp_voltage(100, 57.6) == pytest.approx(57.6)
    assert lfp_voltage(0, 57.6) == pytest.approx(40.0)
    out = compute(make_inputs(soc=100, values={"battery.voltage.high": "57.6"}))
    assert out["battery.voltage"] == "57.6"
    assert compute(make_inputs(soc=50))["battery.voltage"] == "79.2"


def test_runtime_formula() -> None:
    # (60 - 10) % of 10000 Wh = 5000 Wh at 1000 W = 5 h
    assert compute(make_inputs(soc=60, load=1000))["battery.runtime"] == "18000"
    # the restart SOC comes from secctrl soc_recovery_exit
    assert compute(make_inputs(soc=60, load=1000, restart=20))["battery.runtime"] == "14400"
    out = compute(make_inputs(soc=60, load=1000, restart=None))
    assert out["battery.runtime"] == "18000" and out["battery.charge.restart"] == "10"


@pytest.mark.parametrize(("soc", "load", "restart", "expected"), [
    (60, 0, 10, RUNTIME_CAP_S),          # no load
    (60, -500, 10, RUNTIME_CAP_S),       # exporting: no load either
    (100, 10, 10, RUNTIME_CAP_S),        # 9000 Wh at 10 W: capped at 2 days
    (10, 1000, 10, 0),                   # at the restart SOC
    (5, 1000, 10, 0),                    # below it
    (5, 0, 10, 0),                       # below it, even without load
    (25, 1000, 30, 0),
    (10.5, 1000, 10, 180),               # 0.5 % of 10000 Wh = 50 Wh at 1000 W
])
def test_runtime_edges(soc: float, load: float, restart: float, expected: int) -> None:
    out = compute(make_inputs(soc=soc, load=load, restart=restart))
    assert out["battery.runtime"] == str(expected)


def test_runtime_and_load_need_a_capacity() -> None:
    out = compute(make_inputs(soc=60, load=1000, max_energy=0))
    assert out["battery.runtime"] is None
    assert out["ups.load"] is None
    assert out["battery.capacity"] is None
    # livedata's stored energy scaled by SOC stands in for Max_energy
    out = compute(make_inputs(soc=50, load=1000, max_energy=0,
                              live={"enc_agg_energy": 5000, "enc_agg_soc": 50}))
    assert out["battery.runtime"] == "14400"      # (50 - 10) % of 10000 Wh at 1000 W
    assert out["battery.capacity"] == "130.2"     # 10000 / 76.8
    assert out["ups.load"] == "13.0"              # 1000 / 7680 * 100


def test_ups_load() -> None:
    assert compute(make_inputs(load=1536))["ups.load"] == "20.0"    # 1536 / (768 * 10) * 100
    assert compute(make_inputs(load=1536, loadkwh=384))["ups.load"] == "40.0"
    assert compute(make_inputs(load=1536, loadkwh=0))["ups.load"] is None
    assert compute(make_inputs(load=0))["ups.load"] == "0.0"


def test_disable_meters_uses_livedata() -> None:
    live = {"load": {"agg_p_mw": 1234500}, "grid": {"agg_p_mw": -250000}}
    out = compute(make_inputs(load=4000, disable_meters=True, live=live))
    assert out["output.realpower"] == "1234.5"
    assert out["input.realpower"] == "-250.0"
    for name in ("output.voltage", "output.current", "output.power", "input.voltage",
                 "battery.current"):
        assert out[name] is None
    assert out["battery.runtime"] == "14580"       # 5000 Wh * 3600 / 1234.5 W = 14580.9
    with_meters = compute(make_inputs(load=4000, live=live))
    assert with_meters["output.realpower"] == "4000.0"
    assert with_meters["output.voltage"] == "240.0"


def test_no_consumption_cts_use_livedata() -> None:
    live = {"load": {"agg_p_mw": 800000}, "grid": {"agg_p_mw": 100000}}
    zero = {"currW": 0, "apprntPwr": 0, "rmsVoltage": 0, "pwrFactor": 0, "freqHz": 0}
    reports = [
        {"reportType": "production", "cumulative": {"currW": 3000, "rmsVoltage": 240}},
        {"reportType": "net-consumption", "cumulative": zero},
        {"reportType": "total-consumption", "cumulative": zero},
    ]
    for payload in (reports, None):
        out = compute(make_inputs(load=None, reports=payload, live=live))
        assert out["output.realpower"] == "800.0"
        assert out["input.realpower"] == "100.0"
        assert out["output.voltage"] is None and out["output.current"] is None
        assert out["battery.runtime"] == "22500"    # 5000 Wh * 3600 / 800 W
    out = compute(make_inputs(load=None, reports=None))
    assert out["output.realpower"] is None and out["battery.runtime"] is None


def test_meter_values_and_nulls() -> None:
    out = compute(make_inputs(load=1000))
    assert out["output.realpower"] == "1000.0"
    assert out["output.power"] == "1250.0"
    assert out["output.powerfactor"] == "0.80"
    assert out["output.frequency"] == "60.0"
    assert out["output.current"] == "4.17"        # 1000 / 240
    assert out["input.current"] == "2.08"         # 500 / 240
    nulls = [{"reportType": "total-consumption", "cumulative": {
        "currW": 100, "apprntPwr": None, "rmsVoltage": 230, "pwrFactor": None, "freqHz": None}}]
    out = compute(make_inputs(load=None, reports=nulls))
    assert out["output.power"] == "0.0"            # null counts as 0, as the seed
    assert out["output.powerfactor"] == "0.00"
    assert out["output.frequency"] == "0.0"
    assert out["output.current"] == "0.43"


def test_battery_current_from_storage_ct() -> None:
    reports = [{"reportType": "storage", "cumulative": {"currW": -2400, "rmsVoltage": 240}}]
    assert compute(make_inputs(load=None, reports=reports))["battery.current"] == "-10.00"
    assert compute(make_inputs(load=1000))["battery.current"] is None


def _three_phase_reports(lines: int) -> list[dict[str, Any]]:
    line = {"currW": 100.0, "apprntPwr": 110.0, "rmsVoltage": 230.0, "pwrFactor": 0.91,
            "freqHz": 50.0}
    return [{"reportType": kind, "cumulative": {**line, "currW": 300.0},
             "lines": [{**line, "currW": 100.0 * (i + 1)} for i in range(lines)]}
            for kind in ("net-consumption", "total-consumption")]


def test_per_phase_only_on_three_phase() -> None:
    three = compute(make_inputs(load=None, reports=_three_phase_reports(3),
                                live={"phase_count": 3, "is_split_phase": 0}))
    assert three["input.phases"] == three["output.phases"] == "3"
    assert three["output.L2.realpower"] == "200.0"
    assert three["output.L3-N.voltage"] == "230.0"
    assert three["output.L3.current"] == "1.30"     # 300 / 230
    assert three["input.L1.powerfactor"] == "0.91"
    assert "output.L1.voltage" not in three
    # split-phase (2 legs, or phase_count 0 on some firmware): totals only
    for live in ({"phase_count": 2, "is_split_phase": 1}, {"phase_count": 0,
                                                           "is_split_phase": 1}):
        split = compute(make_inputs(load=None, reports=_three_phase_reports(2), live=live))
        assert split["input.phases"] is None
        assert all(split[name] is None for name in GENERATED if ".L" in name)
        assert split["output.realpower"] == "300.0"
    # no livedata phase count: the number of legs decides
    legs = compute(make_inputs(load=None, reports=_three_phase_reports(3)))
    assert legs["output.phases"] == "3"
    # three-phase with a leg missing in the report
    short = compute(make_inputs(load=None, reports=_three_phase_reports(2),
                                live={"phase_count": 3, "is_split_phase": 0}))
    assert short["output.L2.realpower"] == "200.0" and short["output.L3.realpower"] is None


@pytest.mark.parametrize(("online", "soc", "low", "expected"), [
    (True, 50, 20, "OL"),
    (False, 50, 20, "OB"),
    (False, 19.9, 20, "OB LB"),
    (False, 20, 20, "OB"),              # LB only below battery.charge.low
    (True, 10, 20, "OL LB"),
    (False, None, 20, "OB"),
    (False, 45, 50, "OB LB"),
])
def test_status_text(online: bool, soc: float | None, low: float, expected: str) -> None:
    assert status_text(online, soc, low) == expected


def test_status_threshold_from_the_port_file() -> None:
    refs = Refs.from_values(PortContent.parse("battery.charge.low: 30\n").values)
    assert refs.charge_low == 30
    assert status_text(False, 25, refs.charge_low) == "OB LB"
    assert status_text(False, 25, Refs.from_values({}).charge_low) == "OB"
    # a value that is not a number falls back to the default
    assert Refs.from_values({"battery.charge.low": "lots"}).charge_low == 20
    assert Refs.from_values({"battery.charge.low": "-5"}).charge_low == 20
    assert Refs.from_values({"battery.charge.low": ""}).charge_low == 20


@pytest.mark.parametrize(("raw", "clean"), [
    ("Müller °C", "Mller C"),                    # as dummy-ups shows it: UTF-8 dropped
    ('say "hi" #1 \\o/', "say hi 1 o/"),          # never " # \ in a value
    ("a   b\t\tc\n d", "a b c d"),                # whitespace collapsed
    ("  padded  ", "padded"),
    ("x" * 200, "x" * 127),
    ("y" * 126 + " z", "y" * 126),               # cut, then no trailing space
    ("\x00\x7f", ""),
    ("OB LB", "OB LB"),
])
def test_sanitize(raw: str, clean: str) -> None:
    assert sanitize(raw) == clean


def test_sanitized_values_are_safe() -> None:
    out = compute(make_inputs(values={"device.mfr": "Énergie \"#1\"\\ " + "z" * 200,
                                      "device.model": "IQ\tGateway  2"}))
    assert out["ups.mfr"] == "nergie 1 " + "z" * 118
    assert out["ups.model"] == "IQ Gateway 2"
    for value in out.values():
        if value is not None:
            assert len(value) <= 127
            assert all(0x20 <= ord(ch) <= 0x7E and ch not in '"#\\' for ch in value)


def test_fmt() -> None:
    assert fmt(-0.04, 1) == "0.0"
    assert fmt(-0.001, 2) == "0.00"
    assert fmt(-0.06, 1) == "-0.1"
    assert fmt(12.345, 0) == "12"
    assert fmt(None, 1) is None
    assert fmt_pct(85.0) == "85" and fmt_pct(85.5) == "85.5" and fmt_pct(None) is None


def test_mfr_and_model_follow_the_port_file() -> None:
    content = PortContent.parse("device.mfr: ACME Solar\ndevice.model: PowerBank 9000\n")
    refs = Refs.from_values(content.values)
    inputs = dataclasses.replace(make_inputs(), refs=refs)
    values = PortContent.parse(render(content, compute(inputs))).values
    assert values["ups.mfr"] == values["device.mfr"] == "ACME Solar"
    assert values["ups.model"] == values["device.model"] == "PowerBank 9000"
    # defaults on an empty file: written to both
    empty = PortContent.parse("")
    values = PortContent.parse(render(empty, compute(make_inputs()))).values
    assert values["ups.mfr"] == values["device.mfr"] == USER_DEFAULTS["device.mfr"]
    assert values["ups.model"] == values["device.model"] == USER_DEFAULTS["device.model"]


def test_value_no_longer_computable() -> None:
    had = PortContent.parse("battery.runtime: 3600\nups.load: 12.0\nbattery.charge: 50\n"
                            "output.voltage: 240.0\n")
    inputs = make_inputs(soc=55, max_energy=0, load=None, reports=None)
    text = render(had, compute(inputs))
    lines = text.splitlines()
    assert lines[:4] == ['battery.runtime: ""', 'ups.load: ""', "battery.charge: 55",
                         'output.voltage: ""']
    assert parse_line('battery.runtime: ""') == ("battery.runtime", "")
    never = render(PortContent.parse(""), compute(inputs))
    names = {parse_line(line)[0] for line in never.splitlines()}
    assert {"battery.runtime", "ups.load", "output.voltage", "battery.capacity"}.isdisjoint(names)
    assert "battery.charge" in names and '""' not in never


def test_compute_covers_the_table() -> None:
    out = compute(make_inputs())
    assert list(out) == [var.name for var in VARIABLES]
    assert set(out) == GENERATED
    assert not set(USER_DEFAULTS) & GENERATED
    assert out["battery.type"] == "LFP" and out["device.type"] == "ups"
    assert out["device.serial"] == out["ups.serial"] == "122"
    assert out["ups.firmware"] == "D8.2.4286"
    assert out["battery.charge"] == "60"
    assert compute(make_inputs(soc=60.5))["battery.charge"] == "60.5"
    assert compute(make_inputs(soc=None))["battery.charge"] is None


_SAFE_LINE = re.compile(r'^[A-Za-z0-9_.\-]+: (?:""|[\x20-\x7e]*)$')


@pytest.mark.parametrize("directory", fixture_dirs(), ids=lambda d: d.name)
def test_every_capture_gives_a_clean_port_file(directory: Path) -> None:
    """All 38 captures: snapshot -> NUT values -> port file that dummy-ups reads safely."""
    minimal = Snapshot(live=LiveData.from_api({"meters": {"soc": 55, "enc_agg_energy": 5500}}),
                       info=GatewayInfo.from_xml((directory / "info").read_text()))
    if not (directory / "ivp_meters_readings").exists() or not (directory / "ivp_meters").exists():
        snap = minimal  # an old capture with only info.xml (and inventory): no CT values
    else:
        try:
            snap = fixture_snapshot(directory.name, soc=55.0, energy_wh=5500.0)
        except (ValueError, AttributeError):  # 3 captures hold error pages, not JSON
            snap = minimal
    refs = Refs()
    inputs = Inputs(status=status_text(True, 55.0, refs.charge_low), snapshot=snap, refs=refs,
                    serial="123", firmware=snap.info.firmware if snap.info else None)
    text = render(PortContent(), compute(inputs))
    values = PortContent.parse(text).values
    assert values["ups.status"] == "OL" and values["battery.charge"] == "55"
    assert values["ups.mfr"] == values["device.mfr"]
    for line in text.splitlines():
        assert _SAFE_LINE.match(line), line
        value = line.split(": ", 1)[1]
        assert len(value) <= 127 and not set(value) & set('#\\') and value.count('"') in (0, 2)


# ---------------------------------------------------------------- tot_is_net_cons, runtime.low


def _meter(watts: float, wh: float | None, va: float | None = None) -> dict[str, Any]:
    return {"currW": watts, "apprntPwr": va if va is not None else watts, "rmsVoltage": 240.0,
            "pwrFactor": 1.0, "freqHz": 60.0, "whDlvdCum": wh}


def _reports(net: tuple[float, float | None], total: tuple[float, float | None],
             legs: bool = True) -> MeterReports:
    """production 300 W; net and total as given; with legs (net/2 each) when `legs`."""
    def report(kind: str, watts: float, wh: float | None) -> dict[str, Any]:
        lines = [_meter(watts / 2, None if wh is None else wh / 2)] * 2 if legs else []
        return {"reportType": kind, "cumulative": _meter(watts, wh), "lines": lines}

    return MeterReports.from_api([report("production", 300.0, 5000.0),
                                  report("net-consumption", *net),
                                  report("total-consumption", *total)])


@pytest.mark.parametrize(("firmware", "fixed"), [
    ("D8.3.5433", True), ("D8.3.5500", True), ("D8.4.12", True), ("D9.0", True),
    ("D8.3.5432", False), ("D8.2.4382", False), ("D7.6.175", False), (None, False),
    ("junk", False),
])
def test_total_is_repaired_only_from_8_3_5433(firmware: str | None, fixed: bool) -> None:
    reports = _reports((800.0, 20000.0), (800.0, 20000.0))
    total = reports.total_fixed(firmware).get("total-consumption")
    assert total is not None
    if not fixed:
        assert reports.total_fixed(firmware) is reports
        return
    assert (total.total.realpower, total.total.wh_delivered) == (1100.0, 25000.0)
    assert total.total.power == 1100.0 and total.total.powerfactor == 1.0
    assert [line.realpower for line in total.lines] == [550.0, 550.0]
    assert reports.get("net-consumption") == reports.total_fixed(firmware).get("net-consumption")


@pytest.mark.parametrize(("net", "total"), [
    ((800.0, 20000.0), (800.5, 20000.0)),  # a real total CT: the powers differ
    ((800.0, 20000.0), (800.0, 20001.0)),  # ... or the lifetime energies
    ((800.0, None), (800.0, None)),  # no lifetime energy to compare: no repair on a guess
])
def test_total_is_not_repaired_when_the_reports_differ(net: tuple[float, float | None],
                                                       total: tuple[float, float | None]) -> None:
    reports = _reports(net, total)
    assert reports.total_fixed("D8.3.5433") is reports


def test_total_repair_through_the_nut_values_and_meters_off() -> None:
    raw = _reports((800.0, 20000.0), (800.0, 20000.0), legs=False)
    snap = Snapshot(live=LiveData.from_api({"meters": {"soc": 50}}), reports=raw)
    inputs = Inputs(status="OL", snapshot=snap, refs=Refs(), serial="1", firmware="D8.3.5433")
    assert compute(inputs)["output.realpower"] == "1100.0"
    assert compute(dataclasses.replace(inputs, firmware="D8.3.5167"))["output.realpower"] == \
        "800.0"
    off = compute(dataclasses.replace(inputs, disable_meters=True))
    assert off["output.realpower"] is None  # no CT values at all with DISABLE_METERS


@pytest.mark.parametrize(("line", "status", "expected"), [
    (None, "OL", "OL"),  # no battery.runtime.low: the seed's rule only
    ("3599", "OL", "OL"),  # runtime 3600 s is not below 3599
    ("3601", "OL", "OL LB"),
    ("3601", "OB", "OB LB"),
    ("3601", "OB LB", "OB LB"),  # the charge rule said LB already: once
    ("junk", "OB", "OB"),  # not a number: ignored (logged)
    ("-5", "OB", "OB"),
])
def test_runtime_low_adds_lb(line: str | None, status: str, expected: str) -> None:
    # 60 % of 10000 Wh down to the 10 % restart SOC at 5000 W: 5000 Wh / 5000 W = 3600 s
    values = {} if line is None else {"battery.runtime.low": line}
    inputs = make_inputs(soc=60, load=5000.0, status=status, values=values)
    out = compute(inputs)
    assert out["battery.runtime"] == "3600"
    assert out["ups.status"] == expected
    assert "battery.runtime.low" not in GENERATED  # the user's line, kept verbatim


def test_runtime_low_without_a_runtime_changes_nothing() -> None:
    inputs = make_inputs(soc=60, load=None, status="OB", values={"battery.runtime.low": "99999"})
    out = compute(inputs)
    assert out["battery.runtime"] is None and out["ups.status"] == "OB"
