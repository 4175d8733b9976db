"""The state machine: one poll, the states, debounce, the port-file write, sd_notify status.

Truth under failure: any exception while polling is a failed poll; a port file that cannot be
written is hidden. When to poll, signals, reload and the guards that hide the port file however
the daemon stops are the loop's (loop.py); building the clients is the wiring's (wiring.py).
"""

from __future__ import annotations

import enum
import logging

from .config import Config
from .errors import (
    ConfigError,
    MfaRequiredError,
    MonitorError,
    PortFileError,
    UnsupportedHardware,
    describe,
)
from .grid import Grid
from .models import Snapshot
from .nutvars import Inputs, Refs, compute, status_text
from .pause import Pause
from .portfile import PortContent, PortFile, render
from .sdnotify import Notifier
from .served import Recorder
from .wiring import Clients

log = logging.getLogger(__name__)


class State(enum.StrEnum):
    """What NUT is told."""

    UNKNOWN = "unknown"
    ONLINE = "online"
    ONBATT = "onbatt"
    NOCOMMS = "nocomms"


def _state_from_file(port: PortFile, content: PortContent) -> State:
    if port.hidden:
        return State.NOCOMMS
    status = content.values.get("ups.status", "")
    if status.startswith("OL"):
        return State.ONLINE
    if status.startswith("OB"):
        return State.ONBATT
    return State.UNKNOWN


class Monitor:
    """Keeps the port file true to the gateway, one `cycle()` (a full poll) at a time.

    Args:
        config: the daemon's config.
        clients: what talks to the gateway and the cloud (wiring.build_clients).
        notifier: told READY=1 and STATUS= (sd_notify).
        pause: the CONFIRM_DELAY wait and the stop flag; shared with the loop, whose signals
            end the wait (default: a Pause of its own, on the monotonic clock).

    Raises:
        PortFileError: the port file cannot be read (a FIFO, a symlink, too large...).
    """

    def __init__(self, config: Config, clients: Clients, notifier: Notifier,
                 pause: Pause | None = None) -> None:
        self.notifier = notifier
        self.pause = pause or Pause(notifier)
        self.config, self.clients = config, clients
        self.port = PortFile(config.port_file)
        self.served = Recorder(config.served_record)
        content = self.port.read()
        self.refs = Refs.from_values(content.values)
        self.state = _state_from_file(self.port, content)
        self.failures = 0
        self.first_poll = True
        self.last_error = ""
        self.file_error = ""  # the last port-file problem logged (each is logged once)
        self.last_exception: BaseException | None = None
        self.last_snapshot: Snapshot | None = None
        self.writes = 0
        log.debug("initial status: %s", self.state.value)

    def reconfigure(self, config: Config, clients: Clients) -> bool:
        """A reloaded config and its clients; the next poll is a first poll (confirmed).

        When PORT_FILE moved, the old file is hidden (nothing updates it any more: its OL/OB
        would stay), and the new one too until the next good poll writes it.

        Returns:
            True if the port file moved (the loop then polls at once).

        Raises:
            PortFileError: the new port file cannot be read; nothing was changed.
        """
        moved = config.port_file != self.port.path
        if moved:
            new = PortFile(config.port_file)
            content = new.read()  # before any change: a missing file keeps the old config
            self._hide_moved()
            self.port, self.refs = new, Refs.from_values(content.values)
            self.state = _state_from_file(new, content)
            self.file_error = ""
        self.config, self.clients = config, clients
        self.first_poll = True
        if moved:
            self.hide_until_fresh("PORT_FILE changed")
        return moved

    def _hide_moved(self) -> None:
        """Hide the port file a reload leaves behind (NUT must not keep its last state)."""
        try:
            hidden = self.port.hide()
        except PortFileError as exc:
            log.error("PORT_FILE changed: the old port file could not be hidden: %s (NUT may"
                      " still show its old state)", describe(exc))
            return
        if hidden:
            log.warning("PORT_FILE changed: old port file hidden as %s", self.port.nocomms_path)

    def hide_until_fresh(self, why: str = "starting") -> None:
        """Start-up of the long-running daemon (or a reload that moved the port file): hide a
        visible port file until the first good poll. Its OL/OB is an earlier process's (a power
        loss, SIGKILL without ExecStopPost, a daemon run by hand and killed), not a reading of
        this one (docs/behaviour.md). First the file is recorded as this daemon's (for `-x`)."""
        self.served.note(self.port.path)
        if self.port.hidden:
            return
        try:
            self.port.hide()
        except PortFileError as exc:
            self._file_problem(f"{describe(exc)} (NUT may show an earlier run's state until the"
                               " first good poll)")
            return
        if self.state in (State.ONLINE, State.ONBATT):
            log.warning("%s: port file hidden as %s until the first good poll (its %s was"
                        " left by an earlier run)", why, self.port.nocomms_path,
                        "OL" if self.state is State.ONLINE else "OB")
        else:
            log.info("%s: port file hidden as %s until the first good poll", why,
                     self.port.nocomms_path)
        self.state = State.NOCOMMS
        self.first_poll = True

    # -- one full poll ------------------------------------------------------------------
    def cycle(self) -> bool:
        """Poll, decide the state, write the port file. True if the gateway answered.

        Any exception while polling or turning the answer into NUT values is a failed poll;
        a port file that cannot be read or written is hidden (and tried again next time).

        Raises:
            ConfigError: something only the user can fix (e.g. an insecure token file).
        """
        self.clients.poll_starting(self.refs.charge_low)
        try:
            found = self._poll_gateway()
        except ConfigError:
            raise
        except UnsupportedHardware as exc:
            self._unsupported(exc)
            return False
        except Exception as exc:  # every failure of a poll is a failed poll
            self._poll_failed(exc)
            return False
        if found is None:
            return False
        snap, state = found
        try:
            content = self.port.read()
        except PortFileError as exc:
            self._write_failed(exc)
            return True
        try:
            text, status = self._render(content, snap, state)
        except Exception as exc:  # a value NUT cannot be given: a failed poll
            self._poll_failed(exc)
            return False
        self._answered(snap, state)
        self._write(content, text, status)
        return True

    def _poll_gateway(self) -> tuple[Snapshot, State] | None:
        """The snapshot and the state it means; None when stopped while confirming."""
        snap = self.clients.poller.poll()
        grid = snap.grid
        if grid is Grid.OFF and self.state is not State.ONBATT and self.first_poll:
            grid = self._confirm_off_grid()
        if grid is Grid.UNKNOWN:
            return None
        return snap, State.ONLINE if grid is Grid.ON else State.ONBATT

    def _confirm_off_grid(self) -> Grid:
        """A first poll never switches to OB alone: read the relay again a little later."""
        log.info("grid signal says off-grid on the first poll: confirming in %d s",
                 self.config.confirm_delay)
        self.pause.sleep(self.config.confirm_delay)
        if self.pause.stop_requested:
            return Grid.UNKNOWN
        grid = self.clients.poller.grid_check().grid
        if grid is not Grid.OFF:
            log.warning("off-grid reading not confirmed (now %s): ignoring it", grid.value)
        return grid

    def _render(self, content: PortContent, snap: Snapshot, state: State) -> tuple[str, str]:
        """The new port-file text and its ups.status."""
        self.refs = Refs.from_values(content.values)
        soc = snap.live.soc if snap.live else None
        inputs = Inputs(
            status=status_text(state is State.ONLINE, soc, self.refs.charge_low),
            snapshot=snap,
            refs=self.refs,
            serial=self.config.serial,
            loadkwh=self.config.loadkwh,
            disable_meters=self.config.disable_meters,
            firmware=snap.info.firmware if snap.info else None,
        )
        return render(content, compute(inputs)), inputs.status

    def _answered(self, snap: Snapshot, state: State) -> None:
        """A good poll: reset the failure count and log a change of state."""
        if self.state is State.NOCOMMS and self.failures:
            log.warning("communication restored")
        self.failures, self.first_poll, self.last_error = 0, False, ""
        self.last_exception = None
        self._log_transition(state, snap)
        self.state, self.last_snapshot = state, snap

    def _log_transition(self, new: State, snap: Snapshot) -> None:
        reading, last = snap.reading, self.last_snapshot
        generator = reading is not None and reading.generator
        was_generator = last is not None and last.reading is not None and last.reading.generator
        if new is self.state:
            if new is State.ONBATT and generator != was_generator:
                log.warning("%s", "generator running: the utility is still out, on battery"
                            if generator else "generator stopped: on battery")
            return
        if self.state in (State.UNKNOWN, State.NOCOMMS):
            log.info("grid %s", "up: on line" if new is State.ONLINE else
                     "down: on generator, on battery" if generator else "down: on battery")
        elif new is State.ONLINE:
            log.warning("grid is back: on line")
        elif generator:
            log.warning("grid lost (outage), on generator: on battery")
        elif reading is not None and reading.commanded:
            log.warning("off-grid by command (mains_admin_state open): on battery")
        else:
            log.warning("grid lost (outage): on battery")

    def _unsupported(self, exc: UnsupportedHardware) -> None:
        """Hardware that cannot tell an outage: at start-up the port file is hidden and the
        daemon exits (the error goes up); later (a gateway that lists nothing while it boots,
        say) it is a failed poll.

        Raises:
            UnsupportedHardware: `exc`, at start-up.
        """
        if not exc.at_start:
            self._failed(exc)
            return
        self.port.hide()
        self.state = State.NOCOMMS
        raise exc

    def _poll_failed(self, exc: BaseException) -> None:
        if self.pause.stop_requested:  # a request cancelled by SIGTERM: not the gateway's fault
            log.debug("poll cancelled: stopping (%s)", describe(exc))
            return
        if not isinstance(exc, MonitorError):
            log.debug("the failed poll's traceback:", exc_info=exc)
        self._failed(exc)

    def _failed(self, exc: BaseException) -> None:
        self.failures += 1
        self.last_error, self.last_exception = describe(exc), exc
        level = logging.ERROR if isinstance(exc, MfaRequiredError) else logging.WARNING
        log.log(level, "poll failed (%d of %d before nocomms): %s", self.failures,
                self.config.nocomms_after, self.last_error)
        if self.failures >= self.config.nocomms_after and not self.port.hidden:
            self._set_nocomms()
        self.notifier.notify_ready(self.summary())  # the first poll is over: start-up is too
        self._report()

    def _set_nocomms(self) -> None:
        """Hide the port file (dummy-ups then stops: NUT says the driver is not connected)."""
        try:
            if self.port.hide():
                log.warning("communication lost, hiding port file as %s", self.port.nocomms_path)
        except PortFileError as exc:
            self._file_problem(f"{describe(exc)} (NUT may still show the old state)")
        self._enter_nocomms()

    def _enter_nocomms(self) -> None:
        self.state = State.NOCOMMS
        self.first_poll = True
        self.clients.poller.forget()
        self.notifier.notify_ready(self.summary())

    def _write(self, content: PortContent, text: str, status: str) -> None:
        """Write the new text if it changed (or to bring a hidden file back)."""
        if text != content.text or self.port.hidden:
            try:
                self.port.write(text, content.meta)
            except Exception as exc:  # disk full, EIO, read-only... or anything: hide
                self._write_failed(exc)
                return
            self.writes += 1
            if content.values.get("ups.status") != status:
                log.info("ups.status now %s", status)
            log.debug("updated %s", self.port.path)
        if self.file_error:
            log.warning("port file %s is written again", self.port.path)
            self.file_error = ""
        self.notifier.notify_ready(self.summary())
        self._report()

    def _write_failed(self, exc: Exception) -> None:
        """The new state cannot be written: hide the old one; the next poll tries again."""
        if not isinstance(exc, MonitorError):
            log.debug("the failed write's traceback:", exc_info=exc)
        self.last_error = describe(exc)
        try:
            hidden = self.port.hide()
        except PortFileError as again:
            self._file_problem(f"{self.last_error}; hiding it failed too: {describe(again)}"
                               " (NUT may still show the old state); trying again at each poll")
        else:
            done = f"port file hidden as {self.port.nocomms_path}" if hidden else "still hidden"
            self._file_problem(f"{self.last_error}: {done} (NUT must not keep an old state);"
                               " trying again at each poll")
        self._enter_nocomms()
        self._report()

    def _file_problem(self, message: str) -> None:
        """Log a port-file problem once (then at debug level while it lasts)."""
        log.log(logging.DEBUG if message == self.file_error else logging.ERROR, "%s", message)
        self.file_error = message

    def summary(self) -> str:
        """One line for systemd's STATUS=."""
        if self.last_snapshot is None and not self.last_error:
            return "starting, no reading yet"
        if self.state is State.NOCOMMS:
            return f"nocomms: {self.last_error or 'gateway not reachable'}"
        snap = self.last_snapshot
        if snap is None:  # the port file may still hold an earlier process's reading
            return f"starting, no reading yet (last poll failed: {self.last_error})"
        soc = snap.live.soc if snap and snap.live else None
        status = "OL" if self.state is State.ONLINE else "OB"
        if snap and snap.reading and snap.reading.generator:
            status += " (on generator)"
        text = f"{status}, battery {soc:g}%" if soc is not None else status
        if self.last_error:
            text += f" (last poll failed: {self.last_error})"
        return text

    def _report(self) -> None:
        self.notifier.status(self.summary())

    # -- between full polls ---------------------------------------------------------------
    def needs_full_poll(self) -> bool:
        """The light check between full polls (RELAY_CHECK): only the grid signal is read.
        True when a full poll is needed at once: the grid changed, or the read failed (the full
        poll then counts toward nocomms)."""
        signal_name = self.clients.poller.signal
        try:
            grid = self.clients.poller.grid_check().grid
        except ConfigError:
            raise
        except Exception as exc:  # any failure: let a full poll decide
            if not self.pause.stop_requested:
                log.info("%s check failed (%s): polling at once", signal_name, describe(exc))
            return not self.pause.stop_requested
        if (grid is Grid.OFF) != (self.state is State.ONBATT):
            log.info("%s check: grid now %s, polling at once", signal_name, grid.value)
            return True
        return False

    def delay(self) -> int:
        """POLLFREQ on line; POLLFREQALERT on battery, without contact, or after a failed poll."""
        if self.state is State.ONLINE and self.failures == 0:
            return self.config.pollfreq
        return self.config.pollfreqalert

    def relay_every(self) -> int:
        """RELAY_CHECK while it is shorter than the delay and the gateway answers; else 0."""
        check = self.config.relay_check
        return check if 0 < check < self.delay() and self.state is not State.NOCOMMS else 0

