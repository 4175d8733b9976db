"""The gateway client over real HTTPS: keep-alive, retry, timeouts, pinning, degraded endpoints."""

from __future__ import annotations

from pathlib import Path

import pytest

from enphase_monitor.config import load_config
from enphase_monitor.errors import GatewayDataError, GatewayUnreachable
from enphase_monitor.portfile import PortContent
from enphase_monitor.wiring import build_clients
from enphase_sim import Simulator
from tests.conftest import make_monitor, write_setup

LIVE = "/ivp/livedata/status"


def clients_for(tmp_path: Path, sim: Simulator, extra: str = ""):  # type: ignore[no-untyped-def]
    return build_clients(load_config(write_setup(tmp_path / "s", sim, extra)))


def test_many_polls_share_one_tls_handshake(tmp_path: Path, sim: Simulator) -> None:
    clients = clients_for(tmp_path, sim)
    try:
        for _ in range(10):
            clients.poller.poll()
    finally:
        clients.close()
    assert sim.stats()["handshakes"]["gateway"] == 1
    assert sim.stats()["logins"] == 1


def test_one_retry_hides_a_single_reset(tmp_path: Path, sim: Simulator) -> None:
    clients = clients_for(tmp_path, sim)
    try:
        clients.gateway.relay()
        sim.inject(LIVE, "reset", count=1)
        assert clients.gateway.livedata().soc == 80
        sim.inject(LIVE, "reset", count=2)
        with pytest.raises(GatewayUnreachable):
            clients.gateway.livedata()
    finally:
        clients.close()


def test_timeout_is_api_timeout(tmp_path: Path, sim: Simulator) -> None:
    clients = clients_for(tmp_path, sim)
    try:
        sim.inject(LIVE, "timeout", value=4)
        with pytest.raises(GatewayUnreachable, match="within 2 s"):
            clients.gateway.livedata()
        sim.clear_faults()
        sim.inject(LIVE, "slow", value=1)
        assert clients.gateway.livedata().soc == 80  # slow but within API_TIMEOUT
    finally:
        clients.close()


@pytest.mark.parametrize("kind", ["garbage", "empty", "truncated"])
def test_bad_bodies_are_data_errors(tmp_path: Path, sim: Simulator, kind: str) -> None:
    clients = clients_for(tmp_path, sim)
    try:
        sim.inject(LIVE, kind)
        with pytest.raises(GatewayDataError):
            clients.gateway.livedata()
    finally:
        clients.close()


def test_string_typed_numbers_are_read(tmp_path: Path, sim: Simulator) -> None:
    clients = clients_for(tmp_path, sim)
    try:
        sim.inject(LIVE, "wrong_types")
        assert clients.gateway.livedata().soc == 80
    finally:
        clients.close()


def test_pinned_fingerprint_is_enforced(tmp_path: Path, sim: Simulator) -> None:
    good = clients_for(tmp_path / "a", sim, f"GATEWAY_FINGERPRINT={sim.cert_sha256}\n")
    try:
        assert good.gateway.relay().oper_state == "closed"
    finally:
        good.close()
    wrong = "ab" * 32
    bad = clients_for(tmp_path / "b", sim, f"GATEWAY_FINGERPRINT={wrong}\n")
    try:
        with pytest.raises(GatewayUnreachable, match="TLS"):
            bad.gateway.info()
    finally:
        bad.close()


def test_missing_optional_endpoints_degrade_values_not_status(
    tmp_path: Path, sim: Simulator
) -> None:
    config = load_config(write_setup(tmp_path / "s", sim))
    mon = make_monitor(config)
    sim.inject("/ivp/meters/reports", "status", value=404)
    sim.inject("/ivp/ensemble/secctrl", "status", value=404)
    assert mon.cycle()
    values = PortContent.parse(config.port_file.read_text()).values
    assert values["ups.status"] == "OL"
    assert values["output.realpower"] == "1500.0"  # from livedata
    assert values["battery.charge.restart"] == "10"  # the seed's default
    assert "input.voltage" not in values
    assert set(mon.last_snapshot.errors) == {  # type: ignore[union-attr]
        "/ivp/meters/reports", "/ivp/ensemble/secctrl"}
