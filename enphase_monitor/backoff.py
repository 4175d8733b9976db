"""Back-off after consecutive failures, timed on the monotonic clock."""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence


class Backoff:
    """Waits `steps[n]` seconds after the (n+1)-th consecutive failure; the last step repeats.

    Timed on a monotonic clock: a wall-clock jump (NTP after a dead RTC battery, a restored
    VM snapshot, a hand-set date) neither cuts a wait short nor stretches it to a year.

    Args:
        steps: seconds to wait after the first, second, ... failure (at least one step).
        clock: a monotonic clock in seconds (tests and the soak benchmark pass their own).

    Raises:
        ValueError: no steps, or a negative one.
    """

    def __init__(self, steps: Sequence[float],
                 clock: Callable[[], float] = time.monotonic) -> None:
        if not steps or min(steps) < 0:
            raise ValueError("a back-off needs at least one step, none negative")
        self.steps = tuple(float(step) for step in steps)
        self.clock = clock
        self.failures = 0
        self._until: float | None = None

    def remaining(self) -> float:
        """Seconds until the next attempt is allowed (0 when it is allowed now)."""
        if self._until is None:
            return 0.0
        return max(0.0, self._until - self.clock())

    def ready(self) -> bool:
        """True when an attempt is allowed now."""
        return self.remaining() <= 0

    def fail(self) -> float:
        """Count a failure; returns the seconds to wait before the next attempt."""
        delay = self.steps[min(self.failures, len(self.steps) - 1)]
        self.failures += 1
        self._until = self.clock() + delay
        return delay

    def hold(self, seconds: float) -> None:
        """Wait `seconds` now, and treat any further failure as the last step."""
        self.failures = max(self.failures, len(self.steps) - 1)
        self._until = self.clock() + seconds

    def clear(self) -> None:
        """Allow the next attempt now, keeping the count of failures."""
        self._until = None

    def reset(self) -> None:
        """A success: no wait, and the next failure starts again at the first step."""
        self.failures = 0
        self._until = None
