"""The live check against the simulator: each failure is told apart and names the answer to fix."""

from __future__ import annotations

import pytest

from enphase_setup.answers import Answers
from enphase_setup.validate import Failure
from enphase_setup.validate import check_credentials as check
from enphase_sim import Simulator


def answers_for(sim: Simulator, **changes: object) -> Answers:
    state = sim.state
    ans = Answers(envoy_host=sim.gateway_host, serial=state.serial, username=state.username,
                  password=state.password, enphase_login=sim.login_url,
                  enphase_tokens=sim.tokens_url, cloud_ca_file=str(sim.ca_file))
    for key, value in changes.items():
        setattr(ans, key, value)
    return ans


def test_good_credentials(sim: Simulator) -> None:
    steps: list[str] = []
    result = check(answers_for(sim), steps.append)
    assert result.ok, result.message
    assert result.token is not None and result.token.serial == sim.state.serial
    assert steps == ["Logging in to Enlighten", f"Getting a token for gateway {sim.state.serial}",
                     f"Asking the gateway at {sim.gateway_host} with the token",
                     "Reading the gateway's backup hardware"]
    assert sim.stats()["requests"].get("/ivp/livedata/status") == 1
    assert "IQ System Controller" in result.message and "relay" in result.message


def test_collar_system_is_accepted(sim: Simulator) -> None:
    sim.update(topology="collar")
    result = check(answers_for(sim))
    assert result.ok, result.message
    assert "IQ Meter Collar" in result.message


@pytest.mark.parametrize(("topology", "why"), [
    ("no-backup", "cannot island"), ("no-battery", "nothing to run on")])
def test_hardware_that_cannot_be_a_ups_is_refused_with_the_reason(
    sim: Simulator, topology: str, why: str
) -> None:
    sim.update(topology=topology)
    result = check(answers_for(sim))
    assert not result.ok and result.failure is Failure.HARDWARE
    assert result.message.startswith("This gateway cannot act as a UPS: found")
    assert why in result.message and "does not set up this gateway" in result.message


def test_bad_password(sim: Simulator) -> None:
    result = check(answers_for(sim, password="wrong"))
    assert (result.failure, result.field) == (Failure.BAD_LOGIN, "password")
    assert "refused the login" in result.message


def test_mfa_account_offers_the_token_path(sim: Simulator) -> None:
    sim.update(mfa=True)
    result = check(answers_for(sim))
    assert (result.failure, result.field) == (Failure.MFA, "token")
    assert "multi-factor" in result.message and "token" in result.message


def test_serial_not_on_the_account(sim: Simulator) -> None:
    result = check(answers_for(sim, serial="999999999999"))
    assert (result.failure, result.field) == (Failure.SERIAL, "serial")
    assert "999999999999" in result.message


def test_gateway_unreachable(sim: Simulator) -> None:
    sim.inject("*", "down")
    result = check(answers_for(sim))
    assert (result.failure, result.field) == (Failure.GATEWAY_UNREACHABLE, "host")


def test_gateway_refuses_the_token(sim: Simulator) -> None:
    sim.inject("/ivp/livedata/status", "401")
    result = check(answers_for(sim))
    assert result.failure is Failure.GATEWAY_REFUSED


def test_cloud_down(sim: Simulator) -> None:
    sim.inject("login", "status", value=503)
    result = check(answers_for(sim))
    assert result.failure is Failure.CLOUD


def test_manual_token(sim: Simulator) -> None:
    token = sim.issue_token()
    result = check(answers_for(sim, use_token=True, token=token, password=""))
    assert result.ok, result.message
    assert sim.stats()["logins"] == 0


def test_expired_or_foreign_token(sim: Simulator) -> None:
    expired = sim.issue_token(lifetime_s=-10)
    assert check(answers_for(sim, use_token=True, token=expired)).failure is Failure.TOKEN
    foreign = check(answers_for(sim, use_token=True, token=sim.issue_token(), serial="1"))
    assert foreign.failure is Failure.TOKEN and "not 1" in foreign.message
    assert check(answers_for(sim, use_token=True, token="junk")).failure is Failure.TOKEN


def test_pinned_certificate(sim: Simulator) -> None:
    good = check(answers_for(sim, pin_certificate=True, gateway_fingerprint=sim.cert_sha256))
    assert good.ok, good.message
    bad = check(answers_for(sim, pin_certificate=True, gateway_fingerprint="00" * 32))
    assert bad.failure is Failure.GATEWAY_UNREACHABLE
