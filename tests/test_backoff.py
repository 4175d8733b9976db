"""The back-off class on a fake monotonic clock."""

from __future__ import annotations

import pytest

from enphase_monitor.backoff import Backoff


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
