"""Stale livedata (enphase_monitor/charge.py): its age by the gateway's clock, and the fallback.

Livedata bodies follow the documented shape (meters.last_update, some firmware: timestamp); the
fixtures hold none. The secctrl and info.xml bodies are real captures (tests/fixtures/pyenphase).
"""

from __future__ import annotations

import logging
import re
from pathlib import Path
from typing import Any

import pytest

from enphase_monitor.charge import (
    STALE_AFTER_S,
    ChargeLog,
    ChargeSource,
    LiveAge,
    fresh_live,
    stale_live,
)
from enphase_monitor.errors import GatewayDataError
from enphase_monitor.models import GatewayInfo, LiveData, SecCtrl
from enphase_sim import Simulator
from tests.conftest import FIXTURES, write_setup
from tests.fixture_snapshots import load_json
from tests.test_cli import run

CAPTURE_8_1 = FIXTURES / "8.1.41"  # names the restart SOC Recovery_threshold_soc
CAPTURE_8_2 = FIXTURES / "8.2.4286_with_3cts_and_battery_split"


def livedata(last_update: float | None, soc: float = 86, key: str = "last_update") -> LiveData:
    """A livedata body of the documented shape (docs/behaviour.md), parsed."""
    meters: dict[str, Any] = {
        "soc": soc, "enc_agg_soc": soc, "enc_agg_energy": 8600, "backup_soc": 20,
        "phase_count": 2, "is_split_phase": 1,
        "load": {"agg_p_mw": 1500000}, "grid": {"agg_p_mw": 400000},
        "storage": {"agg_p_mw": 1100000}, "pv": {"agg_p_mw": 0},
    }
    if last_update is not None:
        meters[key] = last_update
    return LiveData.from_api({"connection": {"sc_stream": "disabled"}, "meters": meters})


def secctrl(capture=CAPTURE_8_1) -> SecCtrl:
    return SecCtrl.from_api(load_json(capture, "ivp_ensemble_secctrl"))


# ---------------------------------------------------------------- the captures' names

def test_8_1_41_restart_soc_is_recovery_threshold_soc() -> None:
    sec = secctrl(CAPTURE_8_1)
    assert sec.soc_recovery_exit == 13  # "Recovery_threshold_soc": 13
    assert sec.soc == 92  # "agg_soc": 92, the fallback charge


def test_soc_recovery_exit_wins_over_the_old_name() -> None:
    body = load_json(CAPTURE_8_2, "ivp_ensemble_secctrl")
    assert "soc_recovery_exit" in body
    both = SecCtrl.from_api(body | {"Recovery_threshold_soc": 77})
    assert both.soc_recovery_exit == body["soc_recovery_exit"] != 77
    assert SecCtrl.from_api({"Recovery_threshold_soc": "junk"}).soc_recovery_exit is None


def test_info_xml_gives_the_gateways_clock() -> None:
    info = GatewayInfo.from_xml((CAPTURE_8_1 / "info").read_text())
    assert info.time == 1692386081
    assert info == GatewayInfo(info.serial, info.firmware, info.part_number)  # not identity
    assert GatewayInfo.from_xml("<envoy_info><device/></envoy_info>").time is None


# ---------------------------------------------------------------- age by the gateway's clock

def test_first_last_update_stands_for_the_gateways_clock() -> None:
    age = LiveAge()
    assert age.age(livedata(5000.0), ours=100.0) == 0
    assert age.age(livedata(5000.0), ours=100.0 + STALE_AFTER_S) == STALE_AFTER_S
    assert age.age(livedata(5000.0), ours=161.0) == 61  # not moved for 61 s: stale
    assert age.age(livedata(5061.0), ours=161.0) == 0  # moving again: fresh


def test_the_gateways_info_time_finds_data_stale_at_the_first_poll() -> None:
    age = LiveAge()
    age.set_gateway_time(1_700_003_600.0, ours=10.0)
    assert age.age(livedata(1_700_000_000.0), ours=10.5) == 3600.5


def test_our_wall_clock_is_not_used() -> None:
    """A gateway clock years off ours: only the gateway's own times and our elapsed time count."""
    age = LiveAge()
    age.set_gateway_time(1000.0, ours=50_000.0)
    assert age.age(livedata(990.0), ours=50_005.0) == 15
    age.set_gateway_time(None, ours=60_000.0)  # no <time>: the clock taken before stays
    assert age.clock is not None and age.clock.gateway == 1000.0


def test_a_gateway_clock_ahead_of_the_estimate_moves_it_forward() -> None:
    age = LiveAge()
    age.set_gateway_time(1000.0, ours=0.0)
    assert age.age(livedata(1100.0), ours=10.0) == 0  # the gateway ran 100 s ahead
    assert age.age(livedata(1100.0), ours=40.0) == 30


def test_a_moving_last_update_follows_the_gateways_clock_stepped_back() -> None:
    """NTP steps the gateway's clock back 300 s: live data that moves stays fresh."""
    age = LiveAge()
    age.set_gateway_time(1000.0, ours=0.0)
    assert age.age(livedata(1000.0), ours=0.0) == 0
    assert age.age(livedata(1030.0), ours=30.0) == 0
    assert age.age(livedata(735.0), ours=35.0) == 0  # went back: the clock now
    assert age.age(livedata(735.0), ours=100.0) == 65  # then frozen: stale


def test_a_frozen_value_never_moves_the_clock() -> None:
    age = LiveAge()
    age.set_gateway_time(10_000.0, ours=0.0)
    assert [age.age(livedata(6400.0), ours=t) for t in (0.0, 5.0, 10.0)] == [3600, 3605, 3610]


def test_a_value_that_moved_and_froze_ages_from_its_own_time() -> None:
    """Polled every 50 s: the last change is judged by its own time, not by when it was seen."""
    age = LiveAge()
    age.set_gateway_time(1000.0, ours=0.0)
    assert age.age(livedata(1000.0), ours=0.0) == 0
    assert age.age(livedata(1010.0), ours=50.0) == 40  # changed at 1010, then froze
    assert age.age(livedata(1010.0), ours=100.0) == 90  # stale at this poll, not 50 s later


def test_forget_takes_the_clock_again() -> None:
    age = LiveAge()
    age.age(livedata(1000.0), ours=0.0)
    age.forget()
    assert age.clock is None
    assert age.age(livedata(900.0), ours=500.0) == 0


def test_timestamp_is_the_other_firmwares_last_update() -> None:
    age = LiveAge()
    age.set_gateway_time(2000.0, ours=0.0)
    assert age.age(livedata(1900.0, key="timestamp"), ours=0.0) == 100


def test_without_last_update_the_age_is_unknown() -> None:
    assert LiveAge().age(livedata(None), ours=0.0) is None


# ---------------------------------------------------------------- which charge

def test_fresh_live_needs_a_valid_soc() -> None:
    assert fresh_live(livedata(1.0, soc=0)).soc == 0
    for bad in (-1, 101):
        with pytest.raises(GatewayDataError, match=r"meters\.soc"):
            fresh_live(livedata(1.0, soc=bad))


def test_stale_live_takes_secctrls_charge_and_drops_frozen_values() -> None:
    live = stale_live(livedata(1.0, soc=86), secctrl(CAPTURE_8_1), age=120.0)
    assert live.soc == 92
    assert (live.load_w, live.grid_w) == (None, None)
    assert live.full_capacity_wh is None  # frozen energy and charge are not mixed with fresh
    assert (live.phase_count, live.split_phase) == (2, True)


@pytest.mark.parametrize("sec, why", [
    (None, "could not be read"),
    (SecCtrl(), "has no valid agg_soc"),
    (SecCtrl(soc=101.0), "has no valid agg_soc"),
])
def test_stale_live_without_a_secctrl_charge_fails_the_poll(sec: SecCtrl | None, why: str
                                                              ) -> None:
    with pytest.raises(GatewayDataError, match=f"livedata is stale .*120 s old.*{why}"):
        stale_live(livedata(1.0), sec, age=120.4)


def test_the_source_change_is_logged_once_each_way(caplog: pytest.LogCaptureFixture) -> None:
    charge_log = ChargeLog()
    with caplog.at_level(logging.INFO, logger="enphase_monitor.charge"):
        charge_log.note(ChargeSource.LIVEDATA, 1.0)
        charge_log.note(ChargeSource.SECCTRL, 75.0)
        charge_log.note(ChargeSource.SECCTRL, 80.0)
        charge_log.note(ChargeSource.LIVEDATA, 0.0)
    messages = [r.getMessage() for r in caplog.records]
    assert len(messages) == 2, messages
    assert "75 s old" in messages[0] and "secctrl agg_soc" in messages[0]
    assert "fresh again" in messages[1]


def test_diagnostics_say_where_the_charge_comes_from(tmp_path: Path, sim: Simulator) -> None:
    sim.update(live_stale=True)
    sim.update(clock_offset_s=600.0)
    out = run("-v", "-s", "-c", str(write_setup(tmp_path / "s", sim)))
    assert out.returncode == 0, out.stdout + out.stderr
    assert re.search(r"battery\.charge +from /ivp/ensemble/secctrl agg_soc: /ivp/livedata/status"
                     r" is stale \(last_update 60\d s old", out.stdout), out.stdout
    assert "battery.charge: 80" in out.stdout
