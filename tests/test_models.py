"""models.py: every real capture parses; the constructors tolerate what gateways really send."""

from __future__ import annotations

import contextlib
import json
import math
import re
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from enphase_monitor.errors import GatewayDataError, GatewayImplausible
from enphase_monitor.models import (
    GatewayInfo,
    Grid,
    LiveData,
    Meter,
    MeterReports,
    Relay,
    SecCtrl,
    Snapshot,
    grid_from_state,
    num,
)
from tests.fixture_snapshots import FIXTURES, livedata, load_json, reports_from_readings

DIRS = sorted(p for p in FIXTURES.iterdir() if p.is_dir())
# captures that hold an error page instead of JSON (the gateway layer rejects those)
NOT_JSON = {"7.3.130_no_consumption/ivp_ensemble_secctrl", "3.8.10/ivp_meters"}


def _json_or_none(directory: Path, name: str) -> Any | None:
    try:
        return load_json(directory, name)
    except json.JSONDecodeError:
        assert f"{directory.name}/{name}" in NOT_JSON, f"{directory.name}/{name} is not JSON"
        return None


# ---------------------------------------------------------------- every capture parses


def test_fixture_set_is_complete() -> None:
    assert len(DIRS) >= 38
    assert (FIXTURES / "8.3.5433_tot_is_net_cons" / "ivp_ensemble_relay").exists()


@pytest.mark.parametrize("directory", DIRS, ids=[d.name for d in DIRS])
def test_every_capture_parses(directory: Path) -> None:
    text = (directory / "info").read_text()
    info = GatewayInfo.from_xml(text)
    sn = re.search(r"<sn>\s*(\S+?)\s*</sn>", text)
    software = re.search(r"<software>\s*(\S+?)\s*</software>", text)
    assert sn is not None and software is not None
    assert info.serial == sn.group(1)
    assert info.firmware == software.group(1)
    assert info.firmware is not None and info.firmware[0] in "DRM"

    secctrl = _json_or_none(directory, "ivp_ensemble_secctrl")
    if secctrl is not None:
        parsed = SecCtrl.from_api(secctrl)
        assert parsed.max_energy_wh == num(secctrl.get("Max_energy"))
        # 8.1.41 names the restart SOC Recovery_threshold_soc (docs/behaviour.md)
        restart = secctrl.get("soc_recovery_exit", secctrl.get("Recovery_threshold_soc"))
        assert parsed.soc_recovery_exit == num(restart)

    relay = _json_or_none(directory, "ivp_ensemble_relay")
    if relay is not None:
        assert Relay.from_api(relay).grid is Grid.ON

    reports = _json_or_none(directory, "ivp_meters_reports")
    if reports is not None:
        parsed_reports = MeterReports.from_api(reports)
        assert set(parsed_reports.reports) == {r["reportType"] for r in reports}

    readings = _json_or_none(directory, "ivp_meters_readings")
    meters = _json_or_none(directory, "ivp_meters")
    if isinstance(readings, list) and isinstance(meters, list):  # 3.9.36_bad_auth: 404 objects
        built = MeterReports.from_api(reports_from_readings(readings, meters))
        enabled = {m["measurementType"] for m in meters if m["state"] == "enabled"}
        assert enabled <= set(built.reports)


def test_real_captures_values() -> None:
    split = FIXTURES / "8.2.4286_with_3cts_and_battery_split"
    sec = SecCtrl.from_api(load_json(split, "ivp_ensemble_secctrl"))
    assert (sec.max_energy_wh, sec.soc, sec.soc_recovery_exit) == (25000, 46, 10)
    gen = MeterReports.from_api(
        load_json(FIXTURES / "8.3.5169_with_generator", "ivp_meters_reports"))
    total = gen.get("total-consumption")
    assert total is not None
    assert total.total.realpower == 3069.39
    assert total.total.voltage == 248.42
    assert total.total.powerfactor == 0.82
    assert total.total.frequency == 60.0
    assert [line.realpower for line in total.lines] == [1152.46, 1916.93]
    relay = Relay.from_api(load_json(FIXTURES / "8.3.5433_tot_is_net_cons", "ivp_ensemble_relay"))
    assert (relay.oper_state, relay.admin_state) == ("closed", "closed")
    assert relay.grid is Grid.ON and not relay.commanded_off_grid
    info = GatewayInfo.from_xml((FIXTURES / "8.3.5169_with_generator" / "info").read_text())
    assert info == GatewayInfo(serial="202439990001", firmware="D8.3.5169",
                               part_number=info.part_number)
    assert info.part_number and info.part_number.startswith("800-")


# ---------------------------------------------------------------- num


@pytest.mark.parametrize(("raw", "expected"), [
    (85, 85.0),
    (85.5, 85.5),
    (-3, -3.0),
    ("85", 85.0),
    (" 85.5 ", 85.5),
    ("8,5", 8.5),
    ("-0", 0.0),
    ("1e3", 1000.0),
    (None, None),
    ("", None),
    ("abc", None),
    ("85%", None),
    ([85], None),
    ({"v": 85}, None),
    (1e15, 1e15),
])
def test_num(raw: object, expected: float | None) -> None:
    result = num(raw)
    assert result == expected
    assert result is None or (type(result) is float and math.isfinite(result))


@pytest.mark.parametrize("raw", [
    True, False, float("nan"), float("inf"), float("-inf"), "nan", "inf", "1e999", 1e308,
    -1.1e15, "1" * 400,
    pytest.param(10**400, id="huge-int"),   # JSON integers have no range limit
    pytest.param(-10**400, id="huge-negative-int"),
])
def test_num_refuses_what_no_gateway_sends(raw: object) -> None:
    """Present but no usable number: the poll fails (tests/test_hostile_numbers.py)."""
    with pytest.raises(GatewayImplausible, match=r"^implausible number: "):
        num(raw)


# ---------------------------------------------------------------- tolerance


def test_secctrl_tolerates_missing_null_strings_and_extras() -> None:
    assert SecCtrl.from_api({}) == SecCtrl()
    sec = SecCtrl.from_api({
        "Max_energy": "10000", "soc_recovery_exit": None, "agg_soc": "85", "ENC_agg_soh": "",
        "VLS_Limit": "n/a", "configured_backup_soc": [], "new_field": {"x": 1},
        "ENC_agg_avail_energy": 8500,
    })
    assert sec == SecCtrl(max_energy_wh=10000.0, soc=85.0)


def test_relay_tolerates_missing_and_non_strings() -> None:
    assert Relay.from_api({}) == Relay(None, None)
    assert Relay.from_api({}).grid is Grid.UNKNOWN
    relay = Relay.from_api({"mains_oper_state": 1, "mains_admin_state": " open ", "x": None})
    assert relay == Relay(None, "open")
    assert relay.grid is Grid.UNKNOWN
    assert relay.commanded_off_grid


def test_relay_outage_and_commanded_island() -> None:
    outage = Relay.from_api({"mains_admin_state": "closed", "mains_oper_state": "open"})
    assert outage.grid is Grid.OFF and not outage.commanded_off_grid
    island = Relay.from_api({"mains_admin_state": "open", "mains_oper_state": "open"})
    assert island.grid is Grid.OFF and island.commanded_off_grid


def test_livedata_bare_meters_object_from_test_live() -> None:
    live = LiveData.from_api({"soc": "85"})
    assert live == LiveData(soc=85.0)
    assert live.full_capacity_wh is None


def test_livedata_full_payload() -> None:
    live = LiveData.from_api(livedata(86, 8600, phase_count=3, split_phase=False, load_w=1500,
                                      grid_w=-250.5, storage_w=1200, pv_w=-0.001))
    assert live.soc == 86.0 and live.enc_soc == 86.0
    assert live.enc_energy_wh == 8600.0
    assert live.phase_count == 3 and live.split_phase is False
    assert (live.load_w, live.grid_w) == (1500.0, -250.5)
    assert live.last_update == 1722967007.0
    assert live.full_capacity_wh == 10000.0


@pytest.mark.parametrize(("meters", "expected"), [
    ({"soc": 86, "enc_agg_energy": 8600}, 10000.0),                    # soc used when no enc soc
    ({"soc": 50, "enc_agg_soc": 86, "enc_agg_energy": 8600}, 10000.0),  # enc soc wins
    ({"soc": "100", "enc_agg_energy": "24800"}, 24800.0),
    ({"soc": 0, "enc_agg_energy": 0}, None),                           # no battery
    ({"soc": 50, "enc_agg_energy": 0}, None),
    ({"soc": 0, "enc_agg_energy": 5000}, None),                        # no division by zero
    ({"soc": 50}, None),
    ({"soc": None, "enc_agg_energy": 5000}, None),
    ({"soc": 50, "enc_agg_energy": 5000, "acb_agg_soc": 25, "acb_agg_energy": 250}, 11000.0),
    ({"acb_agg_soc": 25, "acb_agg_energy": 930}, 3720.0),              # AC Batteries only
])
def test_livedata_full_capacity(meters: dict[str, Any], expected: float | None) -> None:
    live = LiveData.from_api({"meters": meters})
    assert live.full_capacity_wh == expected


def test_livedata_tolerates_odd_shapes() -> None:
    assert LiveData.from_api({"meters": []}) == LiveData()
    assert LiveData.from_api({"meters": None}) == LiveData()
    live = LiveData.from_api({"meters": {"soc": 50, "phase_count": "3", "is_split_phase": "0",
                                         "timestamp": "17", "load": [], "grid": {"agg_p_mw": None},
                                         "pv": {"agg_p_mw": "2500"}, "extra": 1}})
    assert live == LiveData(soc=50.0, phase_count=3, split_phase=False, last_update=17.0)
    # last_update wins over the older firmware's timestamp
    assert LiveData.from_api({"last_update": 5, "timestamp": 7}).last_update == 5.0


def test_meter_reports_tolerate_nulls_and_junk() -> None:
    reports = MeterReports.from_api([
        "junk", 3, None, {"cumulative": {"currW": 5}},                # no reportType: skipped
        {"reportType": "net-consumption", "cumulative": {
            "currW": None, "apprntPwr": "120.5", "rmsVoltage": 240, "pwrFactor": None,
            "freqHz": "60", "extra": [1]}, "lines": "not a list"},
        {"reportType": "total-consumption", "cumulative": None, "lines": [None, {"currW": 7}]},
        {"reportType": "storage", "cumulative": {"currW": 0, "rmsVoltage": 0}},
    ])
    assert set(reports.reports) == {"net-consumption", "total-consumption", "storage"}
    net = reports.get("net-consumption")
    assert net is not None
    assert net.total == Meter(realpower=None, power=120.5, voltage=240.0, frequency=60.0)
    assert net.lines == ()
    assert net.total.current == 0.0           # a null power counts as 0
    total = reports.reports["total-consumption"]
    assert total.total == Meter()
    assert total.lines == (Meter(), Meter(realpower=7.0))
    assert reports.get("total-consumption") is None    # reads nothing: no CT
    assert reports.get("storage") is None              # all zeros: no CT
    assert reports.get("production") is None


def test_meter_current_and_presence() -> None:
    assert Meter(realpower=2400, voltage=240).current == 10.0
    assert Meter(realpower=-1200, voltage=240).current == -5.0
    assert Meter(realpower=2400, voltage=0).current is None
    assert Meter(realpower=2400).current is None
    assert Meter(realpower=5).present and Meter(voltage=230).present
    assert not Meter().present and not Meter(realpower=0, voltage=0, power=5).present


@pytest.mark.parametrize("parse", [SecCtrl.from_api, Relay.from_api, LiveData.from_api])
@pytest.mark.parametrize("payload", [[], [{"soc": 5}], "text", 5, None, True])
def test_object_endpoints_reject_wrong_shape(parse: Any, payload: object) -> None:
    with pytest.raises(GatewayDataError) as info:
        parse(payload)
    assert info.value.path.startswith("/ivp/")


@pytest.mark.parametrize("payload", [{}, {"reports": []}, "text", 5, None])
def test_meter_reports_reject_wrong_shape(payload: object) -> None:
    with pytest.raises(GatewayDataError) as info:
        MeterReports.from_api(payload)
    assert info.value.path == "/ivp/meters/reports"


@pytest.mark.parametrize("text", ["", "not xml", "<envoy_info>", "<envoy_info/>",
                                  "<envoy_info><sn>1</sn></envoy_info>", "<a>&undefined;</a>"])
def test_info_rejects_bad_xml(text: str) -> None:
    with pytest.raises(GatewayDataError):
        GatewayInfo.from_xml(text)


def test_info_tolerates_missing_fields() -> None:
    info = GatewayInfo.from_xml("<envoy_info><device><sn> </sn><x/></device></envoy_info>")
    assert info == GatewayInfo()


# ---------------------------------------------------------------- grid state


@pytest.mark.parametrize(("state", "grid"), [
    ("closed", Grid.ON),
    (" Closed ", Grid.ON),
    ("open", Grid.OFF),
    ("OPEN", Grid.OFF),
    ("open synchronizing", Grid.OFF),
    ("open synchronized", Grid.OFF),
    ("open_synchronizing", Grid.OFF),      # "every value that starts with open"
    ("closing", Grid.UNKNOWN),
    ("closed open", Grid.UNKNOWN),
    ("reopen", Grid.UNKNOWN),
    ("half open", Grid.UNKNOWN),
    ("unknown", Grid.UNKNOWN),
    ("", Grid.UNKNOWN),
    ("\x00garbage", Grid.UNKNOWN),
    (None, Grid.UNKNOWN),
])
def test_grid_from_state(state: str | None, grid: Grid) -> None:
    assert grid_from_state(state) is grid
    assert Relay(state, "closed").grid is grid


def test_snapshot_grid_without_a_reading_is_unknown() -> None:
    assert Snapshot().grid is Grid.UNKNOWN
    assert Snapshot(reading=Relay("open synchronized", "closed").reading()).grid is Grid.OFF


# ---------------------------------------------------------------- property: only GatewayDataError

_LEAVES = (st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=8)
           | st.sampled_from([10**400, -10**400, "85", "nan", "1e999", " 3 ", "open", "closed"]))
_KNOWN = st.sampled_from([
    "meters", "soc", "enc_agg_energy", "enc_agg_soc", "acb_agg_energy", "acb_agg_soc",
    "phase_count", "is_split_phase", "load", "grid", "storage", "pv", "agg_p_mw", "last_update",
    "timestamp", "backup_soc", "Max_energy", "soc_recovery_exit", "ENC_agg_avail_energy",
    "agg_soc", "ENC_agg_soh", "VLS_Limit", "configured_backup_soc", "mains_oper_state",
    "mains_admin_state", "reportType", "cumulative", "lines", "currW", "apprntPwr",
    "rmsVoltage", "pwrFactor", "freqHz",
])
JSON = st.recursive(_LEAVES, lambda children: st.lists(children, max_size=4)
                    | st.dictionaries(_KNOWN | st.text(max_size=6), children, max_size=6),
                    max_leaves=20)
# the shapes the endpoints have, with the field names they read, reach the parsers more often
FIELDS = st.dictionaries(_KNOWN, _LEAVES | JSON, max_size=10)
SOURCE = st.fixed_dictionaries({}, optional={"agg_p_mw": _LEAVES})
METERS = st.fixed_dictionaries({}, optional={k: SOURCE | JSON for k in ("load", "grid", "pv")})
REPORT = st.fixed_dictionaries(
    {"reportType": st.sampled_from(["net-consumption", "total-consumption", "storage"])
     | _LEAVES},
    optional={"cumulative": FIELDS | JSON, "lines": st.lists(FIELDS | JSON, max_size=3) | JSON})
PAYLOAD = (JSON | FIELDS | st.builds(lambda m, f: {"meters": {**m, **f}}, METERS, FIELDS)
           | st.lists(REPORT | JSON, max_size=4))


@settings(max_examples=300, deadline=None)
@given(PAYLOAD)
def test_from_api_only_raises_gateway_data_error(payload: object) -> None:
    for parse in (SecCtrl.from_api, Relay.from_api, LiveData.from_api, MeterReports.from_api):
        try:
            result = parse(payload)
        except GatewayDataError:
            continue
        if isinstance(result, LiveData):
            capacity = result.full_capacity_wh
            assert capacity is None or (math.isfinite(capacity) and capacity > 0)
        if isinstance(result, MeterReports):
            for report in result.reports.values():
                _ = report.total.current, [line.current for line in report.lines]
        if isinstance(result, Relay):
            assert result.grid in Grid


@settings(max_examples=150, deadline=None)
@given(st.text(max_size=60) | st.builds(
    "<envoy_info><device><sn>{}</sn><software>{}</software></device></envoy_info>".format,
    st.text(max_size=10), st.text(max_size=10)))
def test_info_only_raises_gateway_data_error(text: str) -> None:
    with contextlib.suppress(GatewayDataError):
        GatewayInfo.from_xml(text)
