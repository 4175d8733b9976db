"""Tokens: JWT parsing, the cloud client against the real simulator, the renewal policy.

The TokenManager runs on a fake clock (the simulator's clock is moved with it), so a year of
token life or an hour of back-off takes no real time.
"""

from __future__ import annotations

import base64
import dataclasses
import logging
import os
import stat
import subprocess
import sys
import time
import types
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from enphase_monitor import credentials
from enphase_monitor.config import Config, load_config
from enphase_monitor.enlighten import EnlightenClient
from enphase_monitor.errors import (
    AuthError,
    BackoffActive,
    CloudError,
    ConfigError,
    GatewayUnauthorized,
    LoginError,
    MfaRequiredError,
    TokenError,
)
from enphase_monitor.facts import RELAY
from enphase_monitor.gateway import GatewayClient
from enphase_monitor.monitor import Monitor, State
from enphase_monitor.sdnotify import Notifier
from enphase_monitor.tokeninfo import DAY, TokenInfo
from enphase_monitor.tokens import Origin, TokenManager
from enphase_monitor.transport import HttpsTransport, Reply
from enphase_monitor.wiring import build_clients
from enphase_sim import Simulator, make_jwt
from tests.conftest import ROOT, write_setup

HOUR = 3600.0
YEAR = 365 * DAY


@pytest.fixture(autouse=True)
def _logs(caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch) -> None:
    """Capture the package's logs even if an earlier test set up the CLI's logging."""
    monkeypatch.setattr(logging.getLogger("enphase_monitor"), "propagate", True)
    caplog.set_level(logging.DEBUG, logger="enphase_monitor")


def warnings_of(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]


class Clock:
    """Settable clocks: the wall clock (called) and a monotonic one (`monotonic`).

    `advance` is time passing: both clocks move, and the simulator's (the cloud's) with them.
    `jump` is this host's wall clock set wrong: only it moves.
    """

    def __init__(self, sim: Simulator) -> None:
        self.sim = sim
        self.t = time.time()
        self.offset = 0.0  # this host's wall clock minus the true time
        self.m = 1000.0

    def __call__(self) -> float:
        return self.t + self.offset

    def monotonic(self) -> float:
        return self.m

    def advance(self, seconds: float) -> None:
        self.t += seconds
        self.m += seconds
        self.sim.update(clock_offset_s=self.t - time.time())

    def jump(self, seconds: float) -> None:
        self.offset += seconds


@pytest.fixture
def clock(sim: Simulator) -> Clock:
    return Clock(sim)


@pytest.fixture
def transports() -> Iterator[list[HttpsTransport]]:
    made: list[HttpsTransport] = []
    yield made
    for transport in made:
        transport.close()


@pytest.fixture
def make_config(tmp_path: Path, sim: Simulator) -> Callable[..., Config]:
    count = iter(range(1000))

    def make(extra: str = "", directory: Path | None = None) -> Config:
        where = directory or tmp_path / f"state{next(count)}"
        return load_config(write_setup(where, sim, extra=extra))

    return make


@pytest.fixture
def client(sim: Simulator, transports: list[HttpsTransport]) -> EnlightenClient:
    transport = HttpsTransport(verify=str(sim.ca_file))
    transports.append(transport)
    return EnlightenClient(transport, sim.login_url, sim.tokens_url, timeout=5)


@pytest.fixture
def manager(client: EnlightenClient, clock: Clock,
            make_config: Callable[..., Config]) -> Callable[..., TokenManager]:
    def make(config: Config | None = None, extra: str = "") -> TokenManager:
        return TokenManager(config or make_config(extra), client, clock=clock,
                            monotonic=clock.monotonic)

    return make


def logins(sim: Simulator) -> int:
    return int(sim.stats()["logins"])


def jwt(serial: str, exp: float, iat: float | None = None, user: str = "owner") -> str:
    payload: dict[str, object] = {"aud": serial, "exp": int(exp), "enphaseUser": user,
                                  "username": "demo@example.com", "iss": "Entrez"}
    if iat is not None:
        payload["iat"] = int(iat)
    return make_jwt(payload)


# ----------------------------------------------------------------- TokenInfo

class TestTokenInfo:
    def test_valid(self) -> None:
        token = make_jwt({"aud": "123", "exp": 2_000_000_000, "iat": 1_990_000_000,
                          "enphaseUser": "installer", "username": "u@x", "iss": "Entrez"})
        info = TokenInfo.parse(token + "\n")
        assert info.token == token
        assert (info.expires, info.issued) == (2_000_000_000.0, 1_990_000_000.0)
        assert (info.user_type, info.serial, info.username) == ("installer", "123", "u@x")
        assert info.remaining(1_999_999_000) == 1000
        assert token not in repr(info)

    def test_numeric_aud_and_missing_optional_fields(self) -> None:
        info = TokenInfo.parse(make_jwt({"exp": 5, "aud": 1234}))
        assert (info.serial, info.user_type, info.issued, info.username) == ("1234", None,
                                                                            None, None)

    @pytest.mark.parametrize("token", ["", "abc", "a.b", "a.b.c.d", ".b.c", "a..c"])
    def test_not_a_jwt(self, token: str) -> None:
        with pytest.raises(TokenError, match="not a JWT"):
            TokenInfo.parse(token)

    @pytest.mark.parametrize("payload", ["a", "bm90IGpzb24", "_-_-_-"])
    def test_bad_base64_or_not_json(self, payload: str) -> None:
        with pytest.raises(TokenError, match="base64url JSON"):
            TokenInfo.parse(f"eyJhbGciOiJFUzI1NiJ9.{payload}.sig")

    def test_payload_not_an_object(self) -> None:
        part = base64.urlsafe_b64encode(b"[1,2]").decode().rstrip("=")
        with pytest.raises(TokenError, match="not a JSON object"):
            TokenInfo.parse(f"h.{part}.s")

    @pytest.mark.parametrize("payload", [{}, {"exp": "2000000000"}, {"exp": True},
                                         {"exp": None}, {"iat": 5}])
    def test_no_exp(self, payload: dict[str, object]) -> None:
        with pytest.raises(TokenError, match="no expiry"):
            TokenInfo.parse(make_jwt(payload))

    def test_renew_margin_owner_year_token_is_30_days(self) -> None:
        now = 1_700_000_000
        info = TokenInfo.parse(jwt("1", now + YEAR, now))
        assert info.renew_margin == 30 * DAY

    def test_renew_margin_installer_12h_token_is_3_hours(self) -> None:
        now = 1_700_000_000
        info = TokenInfo.parse(jwt("1", now + 12 * HOUR, now, user="installer"))
        assert info.renew_margin == 3 * HOUR

    def test_renew_margin_without_iat(self) -> None:
        assert TokenInfo.parse(jwt("1", 2e9)).renew_margin == 30 * DAY
        assert TokenInfo.parse(jwt("1", 2e9, user="installer")).renew_margin == HOUR

    def test_renew_margin_short_token_at_least_an_hour(self) -> None:
        assert TokenInfo.parse(jwt("1", 1000 + 2 * HOUR, 1000)).renew_margin == HOUR

    def test_describe_has_no_secret(self) -> None:
        token = jwt("1", 1000 + 10 * DAY, 1000)
        text = TokenInfo.parse(token).describe(1000)
        assert text == "owner token, expires in 10.0 days"
        assert TokenInfo.parse(token).describe(1000 + 12 * DAY).endswith("expired 2.0 days ago")


# ----------------------------------------------------------------- EnlightenClient

class TestEnlightenClient:
    def test_login_and_token(self, sim: Simulator, client: EnlightenClient) -> None:
        st = sim.state
        session = client.login(st.username, st.password)
        assert isinstance(session, str) and session
        info = TokenInfo.parse(client.fetch_token(session, st.serial, st.username))
        assert (info.serial, info.user_type) == (st.serial, "owner")
        assert sim.stats()["logins"] == sim.stats()["token_requests"] == 1

    def test_bad_password(self, sim: Simulator, client: EnlightenClient) -> None:
        with pytest.raises(LoginError) as info:
            client.login(sim.state.username, "wrong-Passw0rd")
        assert sim.state.username in str(info.value)
        assert "PASSWORD" in str(info.value)
        assert "wrong-Passw0rd" not in str(info.value)

    def test_mfa_account(self, sim: Simulator, client: EnlightenClient) -> None:
        sim.update(mfa=True)
        with pytest.raises(MfaRequiredError) as info:
            client.login(sim.state.username, sim.state.password)
        message = str(info.value)
        assert "multi-factor" in message
        assert "TOKEN=" in message
        assert "\n" not in message

    def test_wrong_serial(self, sim: Simulator, client: EnlightenClient) -> None:
        session = client.login(sim.state.username, sim.state.password)
        with pytest.raises(TokenError, match="serial 999999999999") as info:
            client.fetch_token(session, "999999999999", sim.state.username)
        assert not isinstance(info.value, CloudError)

    @pytest.mark.parametrize(("target", "kind", "status"), [
        ("login", "down", None), ("login", "status", 500), ("login", "status", 503),
        ("login", "garbage", None), ("login", "empty", None), ("login", "reset", None),
    ])
    def test_login_cloud_failures(self, sim: Simulator, client: EnlightenClient, target: str,
                                  kind: str, status: int | None) -> None:
        sim.inject(target, kind, value=status)
        with pytest.raises(CloudError) as info:
            client.login(sim.state.username, sim.state.password)
        assert info.value.status == status
        assert sim.state.password not in str(info.value)

    @pytest.mark.parametrize("kind", ["down", "status"])
    def test_token_cloud_failures(self, sim: Simulator, client: EnlightenClient,
                                  kind: str) -> None:
        session = client.login(sim.state.username, sim.state.password)
        sim.inject("tokens", kind)
        with pytest.raises(CloudError):
            client.fetch_token(session, sim.state.serial, sim.state.username)

    def test_cloud_tls_failure(self, sim: Simulator, client: EnlightenClient) -> None:
        sim.inject("login", "tls")
        with pytest.raises(CloudError, match="TLS"):
            client.login(sim.state.username, sim.state.password)

    def test_untrusted_cloud_certificate(self, sim: Simulator,
                                         transports: list[HttpsTransport]) -> None:
        transport = HttpsTransport(verify=True)  # the system CAs do not know the simulator
        transports.append(transport)
        cloud = EnlightenClient(transport, sim.login_url, sim.tokens_url, timeout=5)
        with pytest.raises(CloudError, match="TLS"):
            cloud.login(sim.state.username, sim.state.password)
        assert logins(sim) == 0


# ----------------------------------------------------------------- TokenManager

class TestCache:
    def test_cached_0600_and_reused_without_login(self, sim: Simulator, clock: Clock,
                                                  manager: Callable[..., TokenManager],
                                                  setup: Config) -> None:
        first = manager(setup)
        token = first.token()
        assert logins(sim) == 1
        assert first.origin is Origin.CLOUD and first.source == "Enlighten login"
        assert setup.token_file.read_text() == token
        assert stat.S_IMODE(setup.token_file.stat().st_mode) == 0o600
        assert first.token() == token  # the same process keeps it
        clock.advance(100 * DAY)
        again = manager(setup)  # a restart
        assert again.token() == token
        assert again.origin is Origin.CACHE and again.source.startswith("token file")
        assert logins(sim) == 1

    def test_corrupt_token_file_replaced_after_a_warning(
            self, sim: Simulator, manager: Callable[..., TokenManager], setup: Config,
            caplog: pytest.LogCaptureFixture) -> None:
        setup.token_file.write_text("this is not a token\n")
        setup.token_file.chmod(0o600)
        token = manager(setup).token()
        assert any("corrupt" in w for w in warnings_of(caplog))
        assert logins(sim) == 1
        assert setup.token_file.read_text() == token
        assert TokenInfo.parse(setup.token_file.read_text()).serial == sim.state.serial

    def test_expired_cached_token_replaced(self, sim: Simulator, clock: Clock,
                                           manager: Callable[..., TokenManager],
                                           setup: Config) -> None:
        old = jwt(sim.state.serial, clock() - 60, clock() - YEAR)
        setup.token_file.write_text(old)
        setup.token_file.chmod(0o600)
        assert manager(setup).token() != old
        assert logins(sim) == 1

    def test_cached_token_for_another_serial_not_used(
            self, sim: Simulator, clock: Clock, manager: Callable[..., TokenManager],
            setup: Config, caplog: pytest.LogCaptureFixture) -> None:
        other = jwt("999999999999", clock() + YEAR, clock())
        setup.token_file.write_text(other)
        setup.token_file.chmod(0o600)
        token = manager(setup).token()
        assert token != other
        assert TokenInfo.parse(token).serial == sim.state.serial
        assert logins(sim) == 1
        assert any("999999999999" in w and "not using it" in w for w in warnings_of(caplog))


class TestRenewal:
    def test_renews_days_before_expiry_not_one_hour(self, sim: Simulator, clock: Clock,
                                                    manager: Callable[..., TokenManager],
                                                    setup: Config) -> None:
        tm = manager(setup)
        first = tm.token()
        clock.advance(YEAR - 31 * DAY)
        assert tm.token() == first
        assert logins(sim) == 1
        clock.advance(2 * DAY)  # 29 days left: less than the 30-day margin
        second = tm.token()
        assert second != first
        assert logins(sim) == 2
        assert setup.token_file.read_text() == second
        assert TokenInfo.parse(second).remaining(clock()) > 300 * DAY

    def test_renewed_at_restart_too(self, sim: Simulator, clock: Clock,
                                    manager: Callable[..., TokenManager], setup: Config) -> None:
        first = manager(setup).token()
        clock.advance(YEAR - 10 * DAY)
        assert manager(setup).token() != first
        assert logins(sim) == 2

    def test_keeps_old_token_when_the_cloud_fails(
            self, sim: Simulator, clock: Clock, manager: Callable[..., TokenManager],
            setup: Config, caplog: pytest.LogCaptureFixture) -> None:
        tm = manager(setup)
        first = tm.token()
        clock.advance(YEAR - 20 * DAY)
        sim.inject("login", "down")
        assert tm.token() == first
        assert logins(sim) == 2
        assert any("still using the current one" in w for w in warnings_of(caplog))
        for _ in range(3):  # the next polls do not hit the cloud again at once
            clock.advance(30)
            assert tm.token() == first
        assert logins(sim) == 2
        sim.clear_faults()
        clock.advance(HOUR)
        renewed = tm.token()
        assert renewed != first
        assert logins(sim) == 3

    def test_keeps_old_token_across_a_restart_when_the_cloud_fails(
            self, sim: Simulator, clock: Clock, manager: Callable[..., TokenManager],
            setup: Config) -> None:
        first = manager(setup).token()
        clock.advance(YEAR - 5 * DAY)
        sim.inject("tokens", "status", value=502)
        assert manager(setup).token() == first
        assert setup.token_file.read_text() == first

    def test_installer_tokens_renewed(self, sim: Simulator, clock: Clock,
                                      manager: Callable[..., TokenManager],
                                      setup: Config) -> None:
        sim.update(user_type="installer")
        tm = manager(setup)
        first = tm.token()
        info = TokenInfo.parse(first)
        assert info.user_type == "installer"
        assert info.remaining(clock()) == pytest.approx(12 * HOUR, abs=60)
        clock.advance(8 * HOUR)
        assert tm.token() == first
        clock.advance(1.5 * HOUR)  # 2.5 h left: inside the 3 h margin
        second = tm.token()
        assert second != first
        assert logins(sim) == 2
        clock.advance(8 * HOUR)
        assert tm.token() == second
        clock.advance(2 * HOUR)
        assert tm.token() != second
        assert logins(sim) == 3

    def test_an_expired_token_is_never_handed_out(self, sim: Simulator, clock: Clock,
                                                  manager: Callable[..., TokenManager],
                                                  setup: Config) -> None:
        sim.update(user_type="installer")
        tm = manager(setup)
        tm.token()
        sim.inject("login", "down")
        clock.advance(13 * HOUR)
        with pytest.raises(CloudError):
            tm.token()


class TestUnauthorized:
    def test_one_new_login_then_backoff(self, sim: Simulator, clock: Clock,
                                        manager: Callable[..., TokenManager],
                                        setup: Config) -> None:
        tm = manager(setup)
        first = tm.token()
        assert logins(sim) == 1
        tm.unauthorized()
        second = tm.token()  # a new token at once
        assert second != first
        assert logins(sim) == 2
        tm.unauthorized()  # refused again: keep sending it, but leave the cloud alone
        waited = 0.0
        while waited < 110:
            assert tm.token() == second
            tm.unauthorized()
            clock.advance(10)
            waited += 10
        assert logins(sim) == 2
        clock.advance(20)  # past the first back-off step (120 s)
        third = tm.token()
        assert third not in (first, second)
        assert logins(sim) == 3

    def test_a_refused_token_that_is_accepted_again_needs_no_login(
            self, sim: Simulator, clock: Clock, manager: Callable[..., TokenManager],
            setup: Config) -> None:
        tm = manager(setup)
        tm.token()
        tm.unauthorized()
        second = tm.token()
        tm.unauthorized()  # e.g. the gateway is booting
        assert tm.token() == second
        tm.accepted()  # it is back
        clock.advance(600)
        assert tm.token() == second
        assert logins(sim) == 2

    def test_refused_token_is_not_reloaded_from_the_file(self, sim: Simulator, clock: Clock,
                                                         manager: Callable[..., TokenManager],
                                                         setup: Config) -> None:
        tm = manager(setup)
        first = tm.token()
        tm.unauthorized()
        assert tm.token() != first
        assert setup.token_file.read_text() != first

    def test_accepted_resets_the_retry(self, sim: Simulator, clock: Clock,
                                       manager: Callable[..., TokenManager],
                                       setup: Config) -> None:
        tm = manager(setup)
        tm.token()
        tm.unauthorized()
        tm.token()
        tm.accepted()
        clock.advance(DAY)
        tm.unauthorized()  # a later, single 401 again gets one new token at once
        tm.token()
        assert logins(sim) == 3

    def test_a_gateway_that_always_refuses_does_not_hammer_the_cloud(
            self, sim: Simulator, clock: Clock, manager: Callable[..., TokenManager],
            setup: Config) -> None:
        tm = manager(setup)
        per_hour = []
        for _hour in range(3):
            before = logins(sim)
            for _ in range(120):  # a poll every 30 s, each answered 401
                try:
                    tm.token()
                except BackoffActive:
                    pass
                else:
                    tm.unauthorized()
                clock.advance(30)
            per_hour.append(logins(sim) - before)
        assert per_hour[0] <= 5  # the first login, one retry, then back-off
        assert per_hour[1] <= 2
        assert per_hour[2] <= 2

    def test_with_the_real_gateway(self, sim: Simulator, clock: Clock,
                                   manager: Callable[..., TokenManager], setup: Config,
                                   transports: list[HttpsTransport]) -> None:
        tm = manager(setup)
        transport = HttpsTransport(verify=False, trust_env=False)
        transports.append(transport)
        gateway = GatewayClient(setup.envoy_host, 5, transport, tm)
        assert gateway.get_json(RELAY)
        assert logins(sim) == 1
        sim.revoke_tokens()  # e.g. after a firmware update: 401 for the old token
        assert gateway.get_json(RELAY)
        assert logins(sim) == 2
        sim.inject("*", "401")
        with pytest.raises((GatewayUnauthorized, BackoffActive)):
            gateway.get_json(RELAY)
        for _ in range(3):
            clock.advance(30)
            with pytest.raises((AuthError, GatewayUnauthorized)):
                gateway.get_json(RELAY)
        assert logins(sim) <= 3


class TestCloudFailures:
    @pytest.mark.parametrize(("target", "kind"), [
        ("login", "down"), ("login", "status"), ("tokens", "status"), ("tokens", "reset"),
    ])
    def test_at_most_four_attempts_an_hour(self, sim: Simulator, clock: Clock,
                                           manager: Callable[..., TokenManager],
                                           setup: Config, target: str, kind: str) -> None:
        sim.inject(target, kind)
        tm = manager(setup)
        counter = "logins" if target == "login" else "token_requests"
        for _ in range(120):
            with pytest.raises(AuthError):
                tm.token()
            clock.advance(30)
        attempts = sim.stats()[counter]
        assert 1 <= attempts <= 4
        for _ in range(120):  # the next hour: at most one more
            with pytest.raises(AuthError):
                tm.token()
            clock.advance(30)
        assert sim.stats()[counter] - attempts <= 2
        sim.clear_faults()
        clock.advance(2 * HOUR)
        assert tm.token()

    def test_bad_password_waits_an_hour(self, sim: Simulator, clock: Clock,
                                        manager: Callable[..., TokenManager],
                                        setup: Config) -> None:
        sim.update(password="changed-on-the-website")
        tm = manager(setup)
        with pytest.raises(LoginError):
            tm.token()
        for _ in range(110):
            clock.advance(30)
            with pytest.raises(BackoffActive):
                tm.token()
        assert logins(sim) == 1

    def test_mfa_stops_further_logins(self, sim: Simulator, clock: Clock,
                                      manager: Callable[..., TokenManager],
                                      setup: Config) -> None:
        sim.update(mfa=True)
        tm = manager(setup)
        for _ in range(5):
            with pytest.raises(MfaRequiredError, match="multi-factor"):
                tm.token()
            clock.advance(DAY)
        assert logins(sim) == 1

    def test_wrong_serial_backs_off(self, sim: Simulator, clock: Clock,
                                    manager: Callable[..., TokenManager]) -> None:
        tm = manager(extra="SERIAL=999999999999\n")
        with pytest.raises(TokenError, match="999999999999"):
            tm.token()
        clock.advance(30)
        with pytest.raises(BackoffActive):
            tm.token()
        assert logins(sim) == 1


class TestManualToken:
    def test_used_without_login(self, sim: Simulator, clock: Clock,
                                manager: Callable[..., TokenManager],
                                caplog: pytest.LogCaptureFixture) -> None:
        token = sim.issue_token("owner", YEAR)
        tm = manager(extra=f"TOKEN={token}\nPASSWORD=\n")
        assert tm.token() == token
        assert tm.source.startswith("TOKEN in ")
        assert logins(sim) == 0
        assert not any("expires in" in w for w in warnings_of(caplog))

    def test_used_without_login_even_with_a_password(self, sim: Simulator,
                                                     manager: Callable[..., TokenManager]) -> None:
        token = sim.issue_token("owner", YEAR)
        tm = manager(extra=f"TOKEN='{token}'\n")
        assert tm.token() == token
        assert logins(sim) == 0

    def test_warns_when_it_expires_within_token_warn_days(
            self, sim: Simulator, clock: Clock, manager: Callable[..., TokenManager],
            caplog: pytest.LogCaptureFixture) -> None:
        token = sim.issue_token("owner", 10 * DAY)
        tm = manager(extra=f"TOKEN={token}\nPASSWORD=\n")
        assert tm.token() == token
        assert logins(sim) == 0
        assert any("expires in 10.0 days" in w for w in warnings_of(caplog))
        assert all(token not in w for w in warnings_of(caplog))

    def test_warning_days_configurable(self, sim: Simulator, clock: Clock,
                                       manager: Callable[..., TokenManager],
                                       caplog: pytest.LogCaptureFixture) -> None:
        token = sim.issue_token("owner", 10 * DAY)
        tm = manager(extra=f"TOKEN={token}\nPASSWORD=\nTOKEN_WARN_DAYS=5\n")
        assert tm.token() == token
        assert not any("expires in" in w for w in warnings_of(caplog))
        clock.advance(6 * DAY)
        assert tm.token() == token
        assert any("expires in 4.0 days" in w for w in warnings_of(caplog))
        assert logins(sim) == 0

    def test_year_token_warns_late_in_life(self, sim: Simulator, clock: Clock,
                                           manager: Callable[..., TokenManager],
                                           caplog: pytest.LogCaptureFixture) -> None:
        token = sim.issue_token("owner", YEAR)
        tm = manager(extra=f"TOKEN={token}\nPASSWORD=\nTOKEN_WARN_DAYS=45\n")
        tm.token()
        clock.advance(YEAR - 40 * DAY)  # before the 30-day renewal margin
        assert tm.token() == token
        assert any("expires in 40.0 days" in w for w in warnings_of(caplog))

    def test_expired_without_password(self, sim: Simulator, clock: Clock,
                                      manager: Callable[..., TokenManager]) -> None:
        token = jwt(sim.state.serial, clock() - 2 * DAY, clock() - YEAR)
        tm = manager(extra=f"TOKEN={token}\nPASSWORD=\n")
        with pytest.raises(TokenError, match=r"expired 2\.0 days ago") as info:
            tm.token()
        assert "get a new token" in str(info.value)
        assert token not in str(info.value)
        assert logins(sim) == 0

    def test_expired_with_password_logs_in(self, sim: Simulator, clock: Clock,
                                           manager: Callable[..., TokenManager]) -> None:
        token = jwt(sim.state.serial, clock() - 2 * DAY, clock() - YEAR)
        tm = manager(extra=f"TOKEN={token}\n")
        assert tm.token() != token
        assert logins(sim) == 1

    def test_not_a_jwt_refused_with_the_config(self, make_config: Callable[..., Config]) -> None:
        expected = r"^config .*: line \d+: TOKEN is not a token"
        with pytest.raises(ConfigError, match=expected) as info:
            make_config("TOKEN=not-a-token\nPASSWORD=\n")
        assert "not-a-token" not in str(info.value)

    def test_not_a_jwt_from_a_credential(self, manager: Callable[..., TokenManager],
                                         tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
        creds = tmp_path / "creds"
        creds.mkdir(mode=0o700)
        (creds / "enphase-token").write_text("not-a-token\n")
        monkeypatch.setenv("CREDENTIALS_DIRECTORY", str(creds))
        tm = manager(extra="PASSWORD=\n")
        with pytest.raises(TokenError, match=r"^systemd credential enphase-token: .*not a JWT"):
            tm.token()

    def test_for_another_serial_not_used(self, sim: Simulator, clock: Clock,
                                         manager: Callable[..., TokenManager],
                                         caplog: pytest.LogCaptureFixture) -> None:
        other = jwt("999999999999", clock() + YEAR, clock())
        tm = manager(extra=f"TOKEN={other}\nPASSWORD=\n")
        with pytest.raises(TokenError):
            tm.token()
        assert any("not using it" in w for w in warnings_of(caplog))
        tm = manager(extra=f"TOKEN={other}\n")  # with a password: a fresh one instead
        token = tm.token()
        assert token != other
        assert logins(sim) == 1

    def test_mfa_account_with_manual_token(self, sim: Simulator,
                                           manager: Callable[..., TokenManager]) -> None:
        sim.update(mfa=True)
        token = sim.issue_token("owner", YEAR)
        assert manager(extra=f"TOKEN={token}\n").token() == token
        assert logins(sim) == 0


# ----------------------------------------------------------------- credentials

@pytest.fixture
def creds_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    directory = tmp_path / "credentials"
    directory.mkdir(mode=0o700)
    monkeypatch.setenv("CREDENTIALS_DIRECTORY", str(directory))
    return directory


class TestSystemdCredentials:
    def test_password_credential_beats_config(self, creds_dir: Path, setup: Config) -> None:
        (creds_dir / "enphase-password").write_text("from-systemd\n")
        secret = credentials.password(setup)
        assert secret is not None
        assert secret.value == "from-systemd"
        assert secret.source == "systemd credential enphase-password"
        assert "from-systemd" not in repr(secret)

    def test_explicit_env(self, tmp_path: Path, setup: Config) -> None:
        (tmp_path / "enphase-password").write_text("x-pass")
        secret = credentials.password(setup, {"CREDENTIALS_DIRECTORY": str(tmp_path)})
        assert secret is not None and secret.value == "x-pass"
        secret = credentials.password(setup, {})
        assert secret is not None and secret.value == setup.password

    def test_empty_or_absent_credential_falls_back(self, creds_dir: Path,
                                                   setup: Config) -> None:
        secret = credentials.password(setup)
        assert secret is not None and secret.source.startswith("PASSWORD in ")
        (creds_dir / "enphase-password").write_text("\n")
        secret = credentials.password(setup)
        assert secret is not None and secret.value == setup.password

    def test_custom_credential_names(self, creds_dir: Path,
                                     make_config: Callable[..., Config]) -> None:
        config = make_config("PASSWORD_CREDENTIAL=pw\nTOKEN_CREDENTIAL=tok\nTOKEN=a.b.c\n")
        (creds_dir / "enphase-password").write_text("wrong-name")
        (creds_dir / "pw").write_text("right-name")
        (creds_dir / "tok").write_text("t.o.k")
        pw = credentials.password(config)
        tok = credentials.manual_token(config)
        assert pw is not None and pw.value == "right-name"
        assert tok is not None and (tok.value, tok.source) == ("t.o.k", "systemd credential tok")

    def test_token_credential_beats_config(self, creds_dir: Path,
                                           make_config: Callable[..., Config]) -> None:
        config = make_config("TOKEN=config.token.value\n")
        secret = credentials.manual_token(config)
        assert secret is not None and secret.value == "config.token.value"
        (creds_dir / "enphase-token").write_text("cred.token.value\n")
        secret = credentials.manual_token(config)
        assert secret is not None and secret.value == "cred.token.value"
        assert credentials.manual_token(make_config()) is not None  # the credential alone

    def test_login_uses_the_credential(self, sim: Simulator, creds_dir: Path,
                                       manager: Callable[..., TokenManager],
                                       setup: Config) -> None:
        sim.update(password="only-systemd-knows")
        (creds_dir / "enphase-password").write_text("only-systemd-knows")
        assert manager(setup).token()
        assert logins(sim) == 1

    def test_token_credential_used_without_login(self, sim: Simulator, creds_dir: Path,
                                                 manager: Callable[..., TokenManager],
                                                 setup: Config) -> None:
        token = sim.issue_token("owner", YEAR)
        (creds_dir / "enphase-token").write_text(token + "\n")
        tm = manager(setup)
        assert tm.token() == token
        assert tm.source == "systemd credential enphase-token"
        assert logins(sim) == 0


class FakeKeyring:
    """Stands in for the `keyring` package (a module object in sys.modules)."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.calls: list[tuple[str, str]] = []
        self.value: str | None = "from-keyring"
        self.fail = False
        module = types.ModuleType("keyring")
        errors = types.ModuleType("keyring.errors")

        class KeyringError(Exception):
            pass

        def get_password(service: str, username: str) -> str | None:
            self.calls.append((service, username))
            if self.fail:
                raise KeyringError("no backend")
            return self.value

        setattr(errors, "KeyringError", KeyringError)  # noqa: B010
        setattr(module, "errors", errors)  # noqa: B010
        setattr(module, "get_password", get_password)  # noqa: B010
        monkeypatch.setitem(sys.modules, "keyring", module)
        monkeypatch.setitem(sys.modules, "keyring.errors", errors)


class TestKeyring:
    def test_not_used_unless_asked(self, monkeypatch: pytest.MonkeyPatch,
                                   setup: Config) -> None:
        fake = FakeKeyring(monkeypatch)
        secret = credentials.password(setup)
        assert secret is not None and secret.value == setup.password
        assert fake.calls == []

    def test_used_when_asked(self, monkeypatch: pytest.MonkeyPatch,
                             make_config: Callable[..., Config]) -> None:
        fake = FakeKeyring(monkeypatch)
        config = make_config("PASSWORD_KEYRING=1\n")
        secret = credentials.password(config)
        assert secret is not None
        assert (secret.value, secret.source) == ("from-keyring", "system keyring")
        assert fake.calls == [("enphase-monitor", config.username)]

    def test_no_entry_or_broken_backend_falls_back(
            self, monkeypatch: pytest.MonkeyPatch, make_config: Callable[..., Config],
            caplog: pytest.LogCaptureFixture) -> None:
        fake = FakeKeyring(monkeypatch)
        config = make_config("PASSWORD_KEYRING=yes\n")
        fake.value = None
        secret = credentials.password(config)
        assert secret is not None and secret.value == config.password
        fake.fail = True
        secret = credentials.password(config)
        assert secret is not None and secret.value == config.password
        assert any("keyring" in w for w in warnings_of(caplog))
        assert len(fake.calls) == 2

    def test_module_missing(self, monkeypatch: pytest.MonkeyPatch,
                            make_config: Callable[..., Config],
                            caplog: pytest.LogCaptureFixture) -> None:
        monkeypatch.setitem(sys.modules, "keyring", None)  # import keyring -> ImportError
        config = make_config("PASSWORD_KEYRING=1\nPASSWORD=\n")
        assert credentials.password(config) is None
        assert any("not installed" in w for w in warnings_of(caplog))

    def test_credential_beats_keyring(self, monkeypatch: pytest.MonkeyPatch, creds_dir: Path,
                                      make_config: Callable[..., Config]) -> None:
        fake = FakeKeyring(monkeypatch)
        (creds_dir / "enphase-password").write_text("from-systemd")
        secret = credentials.password(make_config("PASSWORD_KEYRING=1\n"))
        assert secret is not None and secret.value == "from-systemd"
        assert fake.calls == []

    def test_login_with_keyring_password(self, sim: Simulator, monkeypatch: pytest.MonkeyPatch,
                                         manager: Callable[..., TokenManager]) -> None:
        fake = FakeKeyring(monkeypatch)
        fake.value = "kept-in-the-keyring"
        sim.update(password="kept-in-the-keyring")
        assert manager(extra="PASSWORD_KEYRING=1\nPASSWORD=\n").token()
        assert logins(sim) == 1


def test_no_password_anywhere(sim: Simulator, clock: Clock,
                              manager: Callable[..., TokenManager]) -> None:
    tm = manager(extra="PASSWORD=\nTOKEN_FILE=none.token\nDEBUG=0\n"
                 + "TOKEN=" + jwt(sim.state.serial, clock() + DAY, clock() - DAY) + "\n")
    clock.advance(2 * DAY)
    with pytest.raises(TokenError):
        tm.token()
    assert logins(sim) == 0


def test_describe(sim: Simulator, manager: Callable[..., TokenManager], setup: Config) -> None:
    tm = manager(setup)
    assert tm.describe() == "no token yet"
    token = tm.token()
    text = tm.describe()
    assert text.startswith("owner token, expires in 365.0 days")
    assert "Enlighten login" in text
    assert token not in text


# ----------------------------------------------------------------- the wall clock jumps

class TestWallClockJumps:
    """This host's wall clock set 400 days wrong and back (a dead RTC battery, then NTP)."""

    JUMP = 400 * DAY

    def test_ahead_and_back_without_a_cached_token(self, sim: Simulator, clock: Clock,
                                                   manager: Callable[..., TokenManager],
                                                   setup: Config) -> None:
        tm = manager(setup)
        clock.jump(self.JUMP)
        with pytest.raises(TokenError, match="clock is 400 days ahead") as info:
            tm.token()  # the cloud's fresh token looks expired by this clock
        assert "\n" not in str(info.value)
        assert logins(sim) == 1
        clock.jump(-self.JUMP)
        with pytest.raises(BackoffActive) as held:
            tm.token()
        assert 0 < held.value.retry_in <= 120  # not 400 days
        assert "next cloud attempt in 120 s" in str(held.value)
        clock.advance(120)
        assert TokenInfo.parse(tm.token()).remaining(clock()) > 300 * DAY
        assert logins(sim) == 2

    def test_back_after_a_failed_renewal_ahead(self, sim: Simulator, clock: Clock,
                                               manager: Callable[..., TokenManager],
                                               setup: Config) -> None:
        tm = manager(setup)
        first = tm.token()
        clock.jump(self.JUMP)
        for _ in range(3):
            with pytest.raises(AuthError):
                tm.token()
            clock.advance(30)
        clock.jump(-self.JUMP)
        assert tm.token() == first  # the cached token is valid again: at once, no login
        assert logins(sim) == 2
        assert setup.token_file.read_text() == first

    def test_back_then_ahead_again(self, sim: Simulator, clock: Clock,
                                   manager: Callable[..., TokenManager], setup: Config) -> None:
        tm = manager(setup)
        first = tm.token()
        clock.jump(-self.JUMP)
        assert tm.token() == first
        assert "expires in 765" in tm.describe()
        clock.jump(self.JUMP)
        assert tm.token() == first
        assert logins(sim) == 1

    def test_the_daemon_is_not_stuck_in_nocomms(self, sim: Simulator, clock: Clock,
                                                setup: Config) -> None:
        """The poll loop's view: hidden while the clock is wrong, OL again soon after."""
        clients = build_clients(setup, clock=clock.monotonic, wall_clock=clock)
        mon = Monitor(setup, clients, Notifier({}))
        clock.jump(self.JUMP)  # a fresh install on a host whose clock is 400 days ahead
        try:
            assert not mon.cycle()
            assert "clock is 400 days ahead" in mon.last_error
            clock.advance(30)
            assert not mon.cycle()
            assert mon.state is State.NOCOMMS and not setup.port_file.exists()
            clock.jump(-self.JUMP)  # NTP sets it right
            clock.advance(30)
            assert not mon.cycle()
            assert "next cloud attempt in 60 s" in mon.last_error  # not in 34560060 s
            clock.advance(60)
            assert mon.cycle()
            assert mon.summary().startswith("OL") and setup.port_file.exists()
        finally:
            mon.clients.close()

    def test_a_backoff_is_not_cut_short_by_a_jump_ahead(self, sim: Simulator, clock: Clock,
                                                        manager: Callable[..., TokenManager],
                                                        setup: Config) -> None:
        sim.inject("login", "down")
        tm = manager(setup)
        with pytest.raises(CloudError):
            tm.token()
        before = sim.stats()
        clock.jump(self.JUMP)
        with pytest.raises(BackoffActive):
            tm.token()
        assert sim.stats() == before  # no new cloud request


# ----------------------------------------------------------------- tokens with bad text

def broken(token: str, insert: str = "\r\n") -> str:
    head, payload, sig = token.split(".")
    return f"{head}.{payload[:10]}{insert}{payload[10:]}.{sig}"


class TamperingTransport(HttpsTransport):
    """The real cloud, but the token service's answer gets `insert` in the middle."""

    insert = "\r\n"

    def request(self, method: str, url: str, **kw: Any) -> Reply:
        reply = super().request(method, url, **kw)
        if url.endswith("/tokens") and reply.status == 200:
            return Reply(200, broken(reply.text, self.insert), reply.elapsed, reply.headers)
        return reply


class TestBadTokenText:
    @pytest.mark.parametrize("insert", ["\r\n", "\n", " ", "\x1b", "%", "é"])
    def test_cached_token_discarded_with_a_warning(
            self, sim: Simulator, manager: Callable[..., TokenManager], setup: Config,
            caplog: pytest.LogCaptureFixture, insert: str) -> None:
        good = sim.issue_token("owner", YEAR)
        setup.token_file.write_text(broken(good, insert) + "\n")
        setup.token_file.chmod(0o600)
        token = manager(setup).token()
        assert token != good and "\r" not in token and "\n" not in token
        assert any("corrupt" in w and "not a JWT" in w for w in warnings_of(caplog))
        text = caplog.text
        assert good.split(".")[1][:10] not in text and good.split(".")[1][10:] not in text
        assert logins(sim) == 1
        assert setup.token_file.read_text() == token  # replaced

    @pytest.mark.parametrize("insert", ["\r\n", " ", "\x00"])
    def test_cloud_answer_refused_and_backed_off(
            self, sim: Simulator, clock: Clock, setup: Config,
            transports: list[HttpsTransport], caplog: pytest.LogCaptureFixture,
            insert: str) -> None:
        transport = TamperingTransport(verify=str(sim.ca_file))
        transport.insert = insert
        transports.append(transport)
        cloud = EnlightenClient(transport, sim.login_url, sim.tokens_url, timeout=5)
        tm = TokenManager(setup, cloud, clock=clock, monotonic=clock.monotonic)
        with pytest.raises(TokenError, match="not a JWT") as info:
            tm.token()
        assert "eyJ" not in str(info.value) and "eyJ" not in caplog.text
        assert not setup.token_file.exists()
        clock.advance(30)
        with pytest.raises(BackoffActive):
            tm.token()
        assert logins(sim) == 1

    def test_token_credential_with_a_line_break(self, sim: Simulator, creds_dir: Path,
                                                manager: Callable[..., TokenManager],
                                                setup: Config) -> None:
        good = sim.issue_token("owner", YEAR)
        (creds_dir / "enphase-token").write_text(broken(good) + "\n")
        tm = manager(make_config_without_password(setup))
        with pytest.raises(TokenError) as info:
            tm.token()
        assert str(info.value).startswith("systemd credential enphase-token: token is not a JWT")
        assert good.split(".")[1][:10] not in str(info.value)


def make_config_without_password(config: Config) -> Config:
    return dataclasses.replace(config, password="")


def test_cli_with_a_broken_token_credential(tmp_path: Path, sim: Simulator) -> None:
    """The real daemon: one line per failed poll, no traceback, no part of the token."""
    config = write_setup(tmp_path / "s", sim)
    config.write_text(config.read_text().replace(f"PASSWORD='{sim.state.password}'\n", ""))
    creds = tmp_path / "creds"
    creds.mkdir(mode=0o700)
    good = sim.issue_token("owner", YEAR)
    (creds / "enphase-token").write_text(broken(good) + "\n")
    env = {k: v for k, v in os.environ.items() if k not in ("NOTIFY_SOCKET", "JOURNAL_STREAM")}
    env.update(PYTHONPATH=str(ROOT), CREDENTIALS_DIRECTORY=str(creds))
    done = subprocess.run([sys.executable, "-m", "enphase_monitor.cli", "-s", "-c",
                           str(config)], cwd=tmp_path, env=env, capture_output=True, text=True,
                          timeout=60)
    assert done.returncode == 1
    assert "Traceback" not in done.stderr
    lines = done.stderr.splitlines()
    assert len(lines) == 1 and "systemd credential enphase-token: token is not a JWT" in lines[0]
    for part in (good.split(".")[1][:10], good.split(".")[1][10:], good.split(".")[2]):
        assert part not in done.stderr
    assert sim.stats()["logins"] == 0


def test_cli_with_a_broken_cached_token(tmp_path: Path, sim: Simulator) -> None:
    config = write_setup(tmp_path / "s", sim)
    token_file = tmp_path / "s" / "enphase-test.token"
    good = sim.issue_token("owner", YEAR)
    token_file.write_text(broken(good) + "\n")
    token_file.chmod(0o600)
    env = {k: v for k, v in os.environ.items() if k not in ("NOTIFY_SOCKET", "JOURNAL_STREAM")}
    env["PYTHONPATH"] = str(ROOT)
    for _ in range(2):  # a restart after it: no crash either time
        done = subprocess.run([sys.executable, "-m", "enphase_monitor.cli", "-s", "-c",
                               str(config)], cwd=tmp_path, env=env, capture_output=True,
                              text=True, timeout=60)
        assert done.returncode == 0, done.stderr
        assert "Traceback" not in done.stderr
        assert good.split(".")[1][10:] not in done.stderr
    assert token_file.read_text() != broken(good) + "\n"
    assert sim.stats()["logins"] == 1
