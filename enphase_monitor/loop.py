"""The daemon's loop around the state machine (monitor.py): when to poll, signals, reload, and
the last guards that hide the port file however the loop ends.

`Daemon` schedules (schedule.py) full polls and relay checks, sleeps waking for signals
(pause.py), and turns every end of the loop (SIGTERM, a fatal error, a bug) into a hidden port
file before the process exits.
"""

from __future__ import annotations

import logging
import signal
from collections.abc import Callable
from types import FrameType

from .config import Config, check_state_dir, load_config
from .errors import ConfigError, PortFileError, describe
from .monitor import Monitor
from .pause import Pause
from .schedule import Due, Schedule
from .sdnotify import Notifier
from .wiring import Clients, build_clients

log = logging.getLogger(__name__)


class Daemon:
    """Runs a `Monitor` until SIGTERM/SIGINT, reloading its config on SIGHUP.

    Args:
        monitor: the state machine; its `pause` is the loop's too (signals end its waits).
        rebuild: the clients for a reloaded config (wiring.build_clients, with the stop flag).
    """

    def __init__(self, monitor: Monitor, rebuild: Callable[[Config], Clients]) -> None:
        self.monitor = monitor
        self.pause = monitor.pause
        self.notifier = monitor.notifier
        self.rebuild = rebuild

    @classmethod
    def from_config(cls, config: Config, notifier: Notifier | None = None) -> Daemon:
        """The daemon for `config`: its clients, state machine and loop, sharing one Pause.

        Raises:
            PortFileError: the port file cannot be read.
        """
        notifier = notifier or Notifier()
        pause = Pause(notifier)
        clients = build_clients(config, pause.stop, notifier.keepalive)
        monitor = Monitor(config, clients, notifier, pause)
        return cls(monitor, lambda new: build_clients(new, pause.stop, notifier.keepalive))

    def request_stop(self) -> None:
        """What SIGTERM does: end the loop (and any request in progress) soon."""
        self.pause.request_stop()

    def run(self, *, handle_signals: bool = True) -> int:
        """Hide the port file until the first good poll, poll until SIGTERM/SIGINT, then hide
        it again. Returns the exit status (0).

        Args:
            handle_signals: install the SIGTERM/SIGINT/SIGHUP handlers; False when run in a
                thread other than the main one (only it may), where `request_stop()` ends it.

        Raises:
            MonitorError: a fatal error; Exception: a bug. The port file is hidden first.
        """
        if handle_signals:
            self._install_signals()
        self.notifier.status("starting, no reading yet")
        try:
            self.monitor.hide_until_fresh()
            self._loop()
        except BaseException as exc:
            self._shutdown(f"stopping on an error ({describe(exc)})")
            raise
        self._shutdown("stopped")
        return 0

    def _loop(self) -> None:
        pause, monitor, clock = self.pause, self.monitor, self.pause.clock
        schedule = Schedule()
        self._full_poll(schedule)
        while not pause.stop_requested:
            if pause.reload_requested and self.reload():
                schedule.poll_now(clock())  # the moved port file waits for a poll
            now = clock()
            due = schedule.due(now)
            if due is Due.NOTHING:
                pause.sleep(schedule.wake_at() - now, until_reload=True)
            elif due is Due.RELAY and not monitor.needs_full_poll():
                schedule.checked(clock())
            elif not pause.stop_requested:
                self._full_poll(schedule)

    def _full_poll(self, schedule: Schedule) -> None:
        if self.pause.reload_requested:
            self.reload()
        self.monitor.cycle()
        self.notifier.watchdog()
        schedule.polled(self.pause.clock(), self.monitor.delay(), self.monitor.relay_every())

    def once(self) -> bool:
        """One poll for `-s`: written as by the loop and left so (as the seed). True if the
        gateway answered. On an error the daemon did not choose, the file is hidden first."""
        try:
            return self.monitor.cycle()
        except BaseException as exc:
            self._hide_on_exit(f"stopping on an error ({describe(exc)})")
            raise
        finally:
            self.monitor.clients.close()

    def _shutdown(self, why: str) -> None:
        self._hide_on_exit(why)
        self.notifier.stopping()
        try:
            self.monitor.clients.close()
        except Exception as exc:  # never hide the reason for stopping
            log.debug("closing the connections failed: %s", describe(exc))

    def _hide_on_exit(self, why: str) -> None:
        """Hide the port file as the daemon stops: NUT must not keep showing the last reading
        while nobody watches the gateway. Never raises."""
        port = self.monitor.port
        try:
            hidden = port.hide()
        except Exception as exc:  # the last guard must not fail
            log.error("%s: the port file could not be hidden: %s", why, describe(exc))
            return
        if hidden:
            log.warning("%s: port file hidden as %s (NUT: driver not connected) until the"
                        " monitor runs again", why, port.nocomms_path)
        else:
            log.info("%s", why)

    def _install_signals(self) -> None:
        def stop(signum: int, frame: FrameType | None) -> None:
            self.pause.request_stop()

        def hup(signum: int, frame: FrameType | None) -> None:
            self.pause.request_reload()

        signal.signal(signal.SIGTERM, stop)
        signal.signal(signal.SIGINT, stop)
        signal.signal(signal.SIGHUP, hup)

    def reload(self) -> bool:
        """SIGHUP: read the config again; keep the old one if the new one is broken (or its
        port file cannot be read). True if the port file moved (Monitor.reconfigure)."""
        self.pause.reload_requested = False
        old = self.monitor.config
        try:
            config = load_config(old.path, old.ups)
            check_state_dir(config)  # as at start-up: a moved port file's directory too
        except ConfigError as exc:
            log.error("config not reloaded, keeping the old one: %s", exc)
            return False
        self.notifier.send("RELOADING=1")
        clients, new = self.monitor.clients, self.rebuild(config)
        try:
            moved = self.monitor.reconfigure(config, new)
        except PortFileError as exc:
            new.close()
            log.error("config not reloaded, keeping the old one: %s", describe(exc))
            moved = False
        else:
            clients.close()
            log.warning("config reloaded from %s", config.path)
        self.notifier.send("READY=1")
        return moved
