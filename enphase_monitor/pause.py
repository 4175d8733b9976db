"""The daemon's waits: they end early for SIGTERM, and ping the watchdog meanwhile.

Times are `time.monotonic()` seconds: a wall-clock jump never stretches or skips a wait.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

from .sdnotify import Notifier


class Pause:
    """The stop flag, the reload flag and the sleeps of one daemon.

    Args:
        notifier: pinged (WATCHDOG=1) while a sleep lasts.
        clock: a monotonic clock in seconds (tests pass their own).
    """

    def __init__(self, notifier: Notifier,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.notifier = notifier
        self.clock = clock
        self.stop = threading.Event()  # set by SIGTERM/SIGINT; the transports end a request
        self.wake = threading.Event()  # set by every signal: ends a wait early
        self.reload_requested = False

    @property
    def stop_requested(self) -> bool:
        return self.stop.is_set()

    def request_stop(self) -> None:
        """What SIGTERM does: end the loop (and any request in progress) soon."""
        self.stop.set()
        self.wake.set()

    def request_reload(self) -> None:
        """What SIGHUP does: read the config again once the poll in progress is done."""
        self.reload_requested = True
        self.wake.set()

    def sleep(self, seconds: float, *, until_reload: bool = False) -> None:
        """Sleep `seconds`, pinging the watchdog; end early on a stop request, and with
        `until_reload` on a reload request too."""
        end = self.clock() + seconds
        while not self.stop_requested and not (until_reload and self.reload_requested):
            left = end - self.clock()
            if left <= 0:
                return
            interval = self.notifier.watchdog_interval
            self.wake.wait(min(left, interval) if interval else left)
            self.wake.clear()
            self.notifier.watchdog()
