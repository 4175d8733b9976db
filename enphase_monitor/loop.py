"""The daemon's loop around the state machine (`Monitor`): when to poll, signals, reload, and
the last guards that hide the port file however the loop ends.

`Loop` is a mixin of `Monitor`: it schedules (schedule.py) full polls and relay checks, sleeps
waking for signals, and turns every end of the loop (SIGTERM, a fatal error, a bug) into a
hidden port file before the process exits.
"""

from __future__ import annotations

import logging
import signal
import threading
from collections.abc import Callable
from types import FrameType
from typing import TYPE_CHECKING

from .config import Config, load_config
from .errors import ConfigError, describe
from .portfile import PortFile
from .schedule import Due, Schedule
from .sdnotify import Notifier

if TYPE_CHECKING:
    from .monitor import Clients

log = logging.getLogger(__name__)


class Loop:
    """The loop of a `Monitor` (which provides the attributes and methods declared here)."""

    config: Config
    clients: Clients
    port: PortFile
    notifier: Notifier
    clock: Callable[[], float]
    stop: threading.Event  # set by SIGTERM/SIGINT; the transports end a request in progress
    wake: threading.Event  # set by every signal: ends a sleep early
    reload_requested: bool
    first_poll: bool

    # provided by Monitor: one poll, the relay check and the delays of its states
    def cycle(self) -> bool:
        raise NotImplementedError

    def relay_check(self) -> bool:
        raise NotImplementedError

    def delay(self) -> int:
        raise NotImplementedError

    def relay_every(self) -> int:
        raise NotImplementedError

    def _configure(self, config: Config, clients: Clients | None) -> None:
        raise NotImplementedError

    @property
    def stop_requested(self) -> bool:
        return self.stop.is_set()

    def request_stop(self) -> None:
        """What SIGTERM does: end the loop (and any request in progress) soon."""
        self.stop.set()
        self.wake.set()

    def _sleep(self, seconds: float) -> None:
        """Sleep, waking early for a signal and pinging the watchdog meanwhile."""
        end = self.clock() + seconds
        while not self.stop_requested:
            left = end - self.clock()
            if left <= 0:
                return
            interval = self.notifier.watchdog_interval
            self.wake.wait(min(left, interval) if interval else left)
            self.wake.clear()
            self.notifier.watchdog()
            if self.reload_requested:
                self.reload()

    def run(self) -> int:
        """Poll until SIGTERM/SIGINT, then hide the port file. Returns the exit status (0).

        Raises:
            MonitorError: a fatal error; Exception: a bug. The port file is hidden first.
        """
        self._install_signals()
        self.notifier.status("starting, no reading yet")
        try:
            self._loop()
        except BaseException as exc:
            self._shutdown(f"stopping on an error ({describe(exc)})")
            raise
        self._shutdown("stopped")
        return 0

    def _loop(self) -> None:
        schedule = Schedule()
        self._full_poll(schedule)
        while not self.stop_requested:
            now = self.clock()
            due = schedule.due(now)
            if due is Due.NOTHING:
                self._sleep(schedule.wake_at() - now)
            elif due is Due.RELAY and not self.relay_check():
                schedule.checked(self.clock())
            elif not self.stop_requested:
                self._full_poll(schedule)

    def _full_poll(self, schedule: Schedule) -> None:
        if self.reload_requested:
            self.reload()
        self.cycle()
        self.notifier.watchdog()
        schedule.polled(self.clock(), self.delay(), self.relay_every())

    def once(self) -> bool:
        """One poll for `-s`: written as by the loop and left so (as the seed). True if the
        gateway answered. On an error the daemon did not choose, the file is hidden first."""
        try:
            return self.cycle()
        except BaseException as exc:
            self.hide_on_exit(f"stopping on an error ({describe(exc)})")
            raise
        finally:
            self.clients.close()

    def _shutdown(self, why: str) -> None:
        self.hide_on_exit(why)
        self.notifier.stopping()
        try:
            self.clients.close()
        except Exception as exc:  # never hide the reason for stopping
            log.debug("closing the connections failed: %s", describe(exc))

    def hide_on_exit(self, why: str) -> None:
        """Hide the port file as the daemon stops: NUT must not keep showing the last reading
        while nobody watches the gateway. Never raises."""
        try:
            hidden = self.port.hide()
        except Exception as exc:  # the last guard must not fail
            log.error("%s: the port file could not be hidden: %s", why, describe(exc))
            return
        if hidden:
            log.warning("%s: port file hidden as %s (NUT: driver not connected) until the"
                        " monitor runs again", why, self.port.nocomms_path)
        else:
            log.info("%s", why)

    def _install_signals(self) -> None:
        def stop(signum: int, frame: FrameType | None) -> None:
            self.request_stop()

        def hup(signum: int, frame: FrameType | None) -> None:
            self.reload_requested = True
            self.wake.set()

        signal.signal(signal.SIGTERM, stop)
        signal.signal(signal.SIGINT, stop)
        signal.signal(signal.SIGHUP, hup)

    def reload(self) -> None:
        """SIGHUP: read the config again; keep the old one if the new one is broken."""
        self.reload_requested = False
        try:
            config = load_config(self.config.path, self.config.ups)
        except ConfigError as exc:
            log.error("config not reloaded, keeping the old one: %s", exc)
            return
        log.warning("config reloaded from %s", config.path)
        self.notifier.send("RELOADING=1")
        old = self.clients
        try:
            self._configure(config, None)
        finally:
            old.close()
        self.first_poll = True
        self.notifier.send("READY=1")
