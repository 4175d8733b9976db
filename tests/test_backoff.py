"""The back-off class and the token renewal policy on a fake monotonic clock."""

from __future__ import annotations

import pytest

from enphase_monitor.backoff import Backoff
from enphase_monitor.errors import (
    BackoffActive,
    CloudCancelled,
    CloudError,
    LoginError,
    MfaRequiredError,
    TokenError,
)
from enphase_monitor.renewal import BACKOFF_S, BAD_LOGIN_WAIT_S, Renewal


class Clock:
    def __init__(self) -> None:
        self.t = 500.0

    def __call__(self) -> float:
        return self.t


@pytest.fixture
def clock() -> Clock:
    return Clock()


def test_steps_then_the_last_repeats(clock: Clock) -> None:
    b = Backoff((120, 600, 1800, 3600), clock)
    assert b.ready() and b.remaining() == 0
    waits = []
    for _ in range(6):
        waits.append(b.fail())
        assert not b.ready()
        clock.t += waits[-1] - 1
        assert b.remaining() == 1
        clock.t += 1
        assert b.ready()
    assert waits == [120, 600, 1800, 3600, 3600, 3600]
    assert b.failures == 6


def test_reset_starts_again_at_the_first_step(clock: Clock) -> None:
    b = Backoff((10, 20), clock)
    b.fail()
    b.fail()
    b.reset()
    assert b.ready() and b.failures == 0
    assert b.fail() == 10


def test_clear_allows_an_attempt_but_keeps_the_count(clock: Clock) -> None:
    b = Backoff((10, 20, 30), clock)
    b.fail()
    b.clear()
    assert b.ready()
    assert b.fail() == 20


def test_hold_waits_and_makes_the_next_failure_the_longest(clock: Clock) -> None:
    b = Backoff((10, 20, 30), clock)
    b.hold(3600)
    assert b.remaining() == 3600
    clock.t += 3600
    assert b.ready()
    assert b.fail() == 30


def test_remaining_never_negative_and_bounded_by_the_step(clock: Clock) -> None:
    b = Backoff((60,), clock)
    b.fail()
    clock.t += 10_000
    assert b.remaining() == 0
    b.fail()
    assert 0 < b.remaining() <= 60


@pytest.mark.parametrize("steps", [(), (-1.0,), (5.0, -0.5)])
def test_bad_steps(steps: tuple[float, ...]) -> None:
    with pytest.raises(ValueError, match="at least one step"):
        Backoff(steps)


def test_default_clock_is_monotonic() -> None:
    b = Backoff((30,))
    b.fail()
    assert 29 < b.remaining() <= 30


# ------------------------------------------------------------------ the renewal policy

def test_renewal_backs_off_on_cloud_and_token_failures(clock: Clock) -> None:
    renewal = Renewal(clock)
    renewal.ensure_allowed()
    renewal.failed(CloudError("down"))
    assert not renewal.allowed()
    with pytest.raises(BackoffActive, match=f"in {int(BACKOFF_S[0])} s"):
        renewal.ensure_allowed()
    clock.t += BACKOFF_S[0]
    assert renewal.allowed()
    renewal.failed(TokenError("refused"))
    assert renewal.backoff.remaining() == BACKOFF_S[1]
    clock.t += BACKOFF_S[1]
    renewal.succeeded()
    renewal.failed(CloudError("down"))
    assert renewal.backoff.remaining() == BACKOFF_S[0]  # a success starts the steps again


def test_renewal_after_a_refused_login_waits_an_hour(clock: Clock) -> None:
    renewal = Renewal(clock)
    renewal.failed(LoginError("wrong password"))
    assert renewal.backoff.remaining() == BAD_LOGIN_WAIT_S
    clock.t += BAD_LOGIN_WAIT_S
    renewal.failed(CloudError("down"))
    assert renewal.backoff.remaining() == BACKOFF_S[-1]  # no short step after a bad login


def test_renewal_stops_for_good_after_mfa_and_not_after_a_stop(clock: Clock) -> None:
    renewal = Renewal(clock)
    renewal.failed(CloudCancelled("stopping"))
    assert renewal.allowed()  # SIGTERM cut a request short: no fault, no wait
    mfa = MfaRequiredError("one-time code")
    renewal.failed(mfa)
    clock.t += 10 * BAD_LOGIN_WAIT_S
    assert renewal.ready() and not renewal.allowed()
    with pytest.raises(MfaRequiredError) as raised:
        renewal.ensure_allowed()
    assert raised.value is mfa


def test_renewal_after_a_401_fetches_once_then_backs_off(clock: Clock) -> None:
    renewal = Renewal(clock)
    assert renewal.gateway_refused(can_fetch=True)  # the first 401: a new token at once
    renewal.succeeded()
    assert renewal.allowed()
    assert not renewal.gateway_refused(can_fetch=True)  # refused again: keep it, back off
    assert renewal.backoff.remaining() == BACKOFF_S[0]
    clock.t += BACKOFF_S[0]
    renewal.succeeded()  # still after a 401: the count is kept until the gateway takes one
    renewal.back_off()
    assert renewal.backoff.remaining() == BACKOFF_S[1]
    renewal.gateway_accepted()
    renewal.back_off()
    assert renewal.backoff.remaining() == BACKOFF_S[0]


def test_renewal_without_a_way_to_fetch_keeps_the_token_without_waiting(clock: Clock) -> None:
    renewal = Renewal(clock)
    assert not renewal.gateway_refused(can_fetch=False)
    assert renewal.allowed() and not renewal.retried_401
