"""When the loop works next: the full poll and the light relay checks between full polls.

Times are `time.monotonic()` seconds: a wall-clock jump never stretches or skips a wait.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass


class Due(enum.Enum):
    """What the loop should do now."""

    NOTHING = "nothing"
    POLL = "poll"
    RELAY = "relay"


@dataclass
class Schedule:
    """The next full poll, and the next relay check (None: no relay checks now)."""

    poll_at: float = 0.0
    relay_at: float | None = None
    relay_every: float = 0.0

    def polled(self, now: float, delay: float, relay_every: float) -> None:
        """A full poll ended at `now`: the next after `delay`, relay checks every
        `relay_every` seconds until then (0: none)."""
        self.poll_at = now + delay
        self.relay_every = relay_every
        self.relay_at = now + relay_every if relay_every > 0 else None

    def poll_now(self, now: float) -> None:
        """A full poll is due at once (a reload moved the port file)."""
        self.poll_at = now

    def checked(self, now: float) -> None:
        """A relay check ended at `now`."""
        self.relay_at = now + self.relay_every if self.relay_every > 0 else None

    def due(self, now: float) -> Due:
        if now >= self.poll_at:
            return Due.POLL
        if self.relay_at is not None and now >= self.relay_at:
            return Due.RELAY
        return Due.NOTHING

    def wake_at(self) -> float:
        """When something is due next."""
        return self.poll_at if self.relay_at is None else min(self.poll_at, self.relay_at)
