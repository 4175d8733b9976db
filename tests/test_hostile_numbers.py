"""Hostile numbers (docs/behaviour.md, "Hostile numbers"): a value no real gateway sends is a
failed poll with one escaped log line, never a port file that says OL with a garbage value.

The payloads are the real captures of tests/fixtures/pyenphase (8.2.4286: three CTs and IQ
Batteries; livedata built to match them, tests/fixture_snapshots.py), each with one value made
hostile. They are served in place of the simulator's answer on the wire level (raw bytes, so
JSON's NaN and 1e400 literals are decoded by the daemon's own decoder) to the real daemon
state machine, polling the real HTTPS simulator for everything else.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from enphase_monitor import plausible
from enphase_monitor.config import load_config
from enphase_monitor.gateway import INFO, LIVEDATA, REPORTS, SECCTRL, GatewayClient
from enphase_monitor.monitor import Monitor
from enphase_monitor.nutvars import Inputs, Refs, compute
from enphase_monitor.transport import Reply
from enphase_sim import Simulator
from tests.conftest import make_monitor, write_setup
from tests.fixture_snapshots import (
    FIXTURES,
    fixture_dir,
    fixture_snapshot,
    livedata,
    load_json,
    reports_from_readings,
)

CAPTURE = "8.2.4286_with_3cts_and_battery_split"
USER = "ups.delay.shutdown: 30\n"
Mutate = Callable[[Any], Any]


def captured(path: str) -> Any:
    """The capture's payload for `path` (info.xml as text)."""
    directory = fixture_dir(CAPTURE)
    if path == INFO:
        return (directory / "info").read_text()
    if path == SECCTRL:
        return load_json(directory, "ivp_ensemble_secctrl")
    if path == REPORTS:
        return reports_from_readings(load_json(directory, "ivp_meters_readings"),
                                     load_json(directory, "ivp_meters"), False)
    live = livedata(62, 6200, phase_count=2, split_phase=True, load_w=1234.5, grid_w=-80.0)
    # as fresh as the simulator's clock: older than 60 s, its soc would not be read at all
    # (stale livedata: enphase_monitor/charge.py)
    live["meters"]["last_update"] = int(time.time())
    return live


def meters(key: str, value: object) -> Mutate:
    def change(data: Any) -> Any:
        data["meters"][key] = value
        return data
    return change


def load_mw(value: object) -> Mutate:
    def change(data: Any) -> Any:
        data["meters"]["load"]["agg_p_mw"] = value
        return data
    return change


def top(key: str, value: object) -> Mutate:
    def change(data: Any) -> Any:
        data[key] = value
        return data
    return change


def cumulative(kind: str, key: str, value: object) -> Mutate:
    def change(data: Any) -> Any:
        for report in data:
            if report["reportType"] == kind:
                report["cumulative"][key] = value
        return data
    return change


def firmware(value: str) -> Mutate:
    def change(text: Any) -> Any:
        return text.replace("D8.2.4286", value)
    return change


# (endpoint, change to the capture, words of the failed poll's one line: the raw value, escaped)
CASES: dict[str, tuple[str, Mutate, str]] = {
    "soc NaN": (LIVEDATA, meters("soc", float("nan")), "livedata/status: implausible number: nan"),
    "soc Infinity": (LIVEDATA, meters("soc", float("inf")), "implausible number: inf"),
    "soc 1e308": (LIVEDATA, meters("soc", 1e308), "implausible number: 1e+308"),
    "soc true": (LIVEDATA, meters("soc", True), "implausible number: a boolean (True)"),
    "soc 101": (LIVEDATA, meters("soc", 101), "no valid battery state of charge"),
    "energy huge string": (LIVEDATA, meters("enc_agg_energy", "9" * 400),
                           "implausible number: '99999999999999999999"),
    "energy huge integer": (LIVEDATA, meters("enc_agg_energy", 10**400),
                            "implausible number: an integer of 1329 bits (out of range)"),
    "phase count negative": (LIVEDATA, meters("phase_count", -3),
                             "implausible count: -3 (not a whole number from 0 to 3)"),
    "split phase bool": (LIVEDATA, meters("is_split_phase", False),
                         "implausible number: a boolean (False)"),
    "load 1e308": (LIVEDATA, load_mw(1e308), "implausible number: 1e+308"),
    "load beyond a house": (REPORTS, cumulative("total-consumption", "currW", 5e11),
                            "implausible value from the gateway: ups.load would be 6458746693"),
    "capacity Infinity": (SECCTRL, top("Max_energy", float("inf")), "ensemble/secctrl: impl"),
    "restart soc 150": (SECCTRL, top("soc_recovery_exit", 150),
                        "battery.charge.restart would be 150, outside 0 to 100"),
    "capacity beyond a house": (SECCTRL, top("Max_energy", 1e14),
                                "battery.capacity would be 1302083333333.3"),
    "voltage 5000": (REPORTS, cumulative("net-consumption", "rmsVoltage", 5000),
                     "input.voltage would be 5000.0, outside 0 to 1000"),
    "frequency NaN": (REPORTS, cumulative("net-consumption", "freqHz", float("nan")),
                      "meters/reports: implausible number: nan"),
    "power string inf": (REPORTS, cumulative("total-consumption", "currW", "-Infinity"),
                         "implausible number: '-Infinity'"),
    "firmware huge integer": (INFO, firmware("D8." + "1" * 40),
                              "info.xml: implausible firmware version D8.1111"),
}


def serve(mon: Monitor, monkeypatch: pytest.MonkeyPatch, path: str, mutate: Mutate) -> None:
    """Answer `path` with the mutated capture, as raw bytes; everything else from the sim."""
    real = GatewayClient.get

    def get(self: GatewayClient, asked: str, auth: bool = True) -> Reply:
        reply = real(self, asked, auth)
        if asked != path:
            return reply
        changed = mutate(captured(path))
        body = (changed if isinstance(changed, str) else json.dumps(changed)).encode()
        return Reply(200, body.decode(), reply.elapsed, reply.headers, body)

    monkeypatch.setattr(GatewayClient, "get", get)
    mon.clients.poller.forget()  # info and secctrl are read again


@pytest.mark.parametrize("case", sorted(CASES))
def test_a_hostile_number_is_a_failed_poll_with_one_line(
    tmp_path: Path, sim: Simulator, monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture, case: str
) -> None:
    path, mutate, words = CASES[case]
    config = load_config(write_setup(tmp_path / "s", sim, "NOCOMMS_AFTER=1\n", USER))
    mon = make_monitor(config)
    assert mon.cycle()
    serve(mon, monkeypatch, path, lambda payload: payload)  # the capture as it is: fine
    assert mon.cycle(), mon.last_error
    good = config.port_file.read_text()
    assert "ups.status: OL" in good
    serve(mon, monkeypatch, path, mutate)
    caplog.clear()
    with caplog.at_level(logging.INFO, logger="enphase_monitor"):
        assert mon.cycle() is False
    failed = [r for r in caplog.records if r.levelno >= logging.WARNING
              and "poll failed" in r.getMessage()]
    assert len(failed) == 1, caplog.text
    line = failed[0].getMessage()
    assert words in line, line
    assert failed[0].exc_info is None and "\n" not in line
    assert mon.port.hidden and not config.port_file.exists()  # never OL with garbage
    assert (tmp_path / "s/test.dev-nocomms").read_text() == good
    monkeypatch.undo()
    assert mon.cycle() and "ups.status: OL" in config.port_file.read_text()


@pytest.mark.parametrize("name", sorted(d.name for d in FIXTURES.iterdir() if d.is_dir()))
def test_every_real_capture_is_plausible(name: str) -> None:
    """The ranges can fail (below) but never fail a real gateway's values."""
    for real_reports in (False, True):
        if real_reports and load_json(fixture_dir(name), "ivp_meters_reports") is None:
            continue
        try:
            snap = fixture_snapshot(name, 55.0, 5000.0, use_real_reports=real_reports)
        except (ValueError, KeyError, TypeError, AttributeError):  # no meter data (an error page)
            pytest.skip(f"{name} has no meter readings to build values from")
        for loadkwh in (1, 768):
            compute(Inputs("OL", snap, Refs(), "1", loadkwh=loadkwh,
                           firmware=snap.info.firmware if snap.info else None))


@pytest.mark.parametrize(("name", "value"), [
    ("battery.charge", "100.1"), ("battery.charge", "-1"), ("battery.runtime", "-5"),
    ("battery.runtime", "172801"), ("input.voltage", "1000.1"), ("output.L2.power", "-1"),
    ("input.L1-N.voltage", "nan"), ("output.frequency", "inf"), ("ups.load", "-10001"),
])
def test_a_value_out_of_range_is_refused(name: str, value: str) -> None:
    with pytest.raises(plausible.GatewayImplausible, match=name.replace(".", r"\.")):
        plausible.check({name: value, "battery.type": "LFP"})
    plausible.check({name: None, "ups.firmware": value})  # absent, or text: no range
