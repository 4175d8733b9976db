"""The poll loop: states, adaptive delay, debounce, relay checks, sd_notify, signals."""

from __future__ import annotations

import enum
import logging
import signal
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from types import FrameType

from .config import Config, load_config
from .enlighten import EnlightenClient, TokenManager
from .errors import (
    AuthError,
    ConfigError,
    GatewayError,
    MfaRequiredError,
    PortFileError,
    PortFileMissing,
    UnsupportedHardware,
)
from .gateway import GatewayClient
from .grid import Grid, GridSignal
from .logsetup import REDACTOR
from .models import Snapshot
from .nutvars import Inputs, Refs, compute, status_text
from .poller import Poller
from .portfile import PortContent, PortFile, render
from .sdnotify import Notifier
from .testmode import TestCycle, TestTransport, random_expiry
from .transport import HttpsTransport, Transport

log = logging.getLogger(__name__)


class State(enum.Enum):
    """What NUT is told."""

    UNKNOWN = "unknown"
    ONLINE = "online"
    ONBATT = "onbatt"
    NOCOMMS = "nocomms"


@dataclass
class Clients:
    """The pieces that talk to the network, built from a Config."""

    tokens: TokenManager
    gateway: GatewayClient
    poller: Poller
    test_cycle: TestCycle | None = None

    def close(self) -> None:
        self.gateway.close()
        self.tokens.cloud.transport.close()


def build_clients(config: Config, charge_low: Callable[[], float] = lambda: 20.0,
                  stop: threading.Event | None = None) -> Clients:
    """Wire config -> transports -> token manager -> gateway client -> poller.

    `stop`, once set, makes the HTTPS transports end a request in progress (SIGTERM).
    """
    cycle = None
    cloud_http: Transport
    gateway_http: Transport
    if config.test:
        cycle = TestCycle(charge_low)
        cloud_http = gateway_http = TestTransport(config.test_values, config.login_url,
                                                  config.tokens_url, cycle)
    else:
        cloud_http = HttpsTransport(verify=config.cloud_ca_file or True, stop=stop)
        gateway_http = HttpsTransport(verify=False, fingerprint=config.gateway_fingerprint,
                                      trust_env=False, stop=stop)
    cloud = EnlightenClient(cloud_http, config.login_url, config.tokens_url, config.login_timeout)
    tokens = TokenManager(config, cloud, random_expiry=random_expiry() if config.test else None)
    gateway = GatewayClient(config.envoy_host, config.api_timeout, gateway_http, tokens)
    # TEST mode answers the seed's endpoints only: it reads the relay, as the seed does
    signal = config.grid_signal or (GridSignal.RELAY if config.test else None)
    poller = Poller(gateway, meters=not config.disable_meters, grid_signal=signal)
    return Clients(tokens, gateway, poller, cycle)


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
    """Keeps the port file true to the gateway."""

    def __init__(
        self,
        config: Config,
        clients: Clients | None = None,
        notifier: Notifier | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.notifier = notifier or Notifier()
        self.clock = clock
        self.wake = threading.Event()
        self.stop_requested = False
        self.reload_requested = False
        self._configure(config, clients)
        content = self.port.read()
        self.refs = Refs.from_values(content.values)
        self.state = _state_from_file(self.port, content)
        self.failures = 0
        self.first_poll = True
        self.last_error = ""
        self.last_exception: Exception | None = None
        self.last_snapshot: Snapshot | None = None
        self.writes = 0
        log.debug("initial status: %s", self.state.value)

    def _configure(self, config: Config, clients: Clients | None) -> None:
        self.config = config
        self.clients = clients or build_clients(config, lambda: self.refs.charge_low)
        self.port = PortFile(config.port_file)
        REDACTOR.add(config.password)
        REDACTOR.add(config.token, token=True)
        for key in ("TEST_TOKEN", "TEST_SESS"):
            REDACTOR.add(config.test_values.get(key, ""), token=True)

    # -- one full poll ------------------------------------------------------------------
    def cycle(self) -> bool:
        """Poll, decide the state, write the port file. True if the gateway answered.

        Raises:
            PortFileMissing: the port file vanished (fatal: the monitor never creates it).
            ConfigError: something only the user can fix (e.g. an insecure token file).
        """
        if self.clients.test_cycle is not None:
            self.clients.test_cycle.advance()
        try:
            snap = self.clients.poller.poll()
            grid = snap.grid
            if grid is Grid.OFF and self.state is not State.ONBATT and self.first_poll:
                grid = self._confirm_off_grid()
        except ConfigError:
            raise
        except UnsupportedHardware as exc:
            self._unsupported(exc)
            return False
        except (GatewayError, AuthError) as exc:
            self._failed(exc)
            return False
        if grid is Grid.UNKNOWN:
            return False
        if self.state is State.NOCOMMS:
            log.warning("communication restored")
        self.failures, self.first_poll, self.last_error = 0, False, ""
        self.last_exception = None
        self._log_transition(grid, snap)
        self._write(snap, State.ONLINE if grid is Grid.ON else State.ONBATT)
        return True

    def _confirm_off_grid(self) -> Grid:
        """A first poll never switches to OB alone: read the relay again a little later."""
        log.info("grid signal says off-grid on the first poll: confirming in %d s",
                 self.config.confirm_delay)
        self._sleep(self.config.confirm_delay)
        if self.stop_requested:
            return Grid.UNKNOWN
        grid = self.clients.poller.grid_check().grid
        if grid is not Grid.OFF:
            log.warning("off-grid reading not confirmed (now %s): ignoring it", grid.value)
        return grid

    def _log_transition(self, grid: Grid, snap: Snapshot) -> None:
        new = State.ONLINE if grid is Grid.ON else State.ONBATT
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

    def _failed(self, exc: Exception) -> None:
        self.failures += 1
        self.last_error, self.last_exception = str(exc), exc
        level = logging.ERROR if isinstance(exc, MfaRequiredError) else logging.WARNING
        log.log(level, "poll failed (%d of %d before nocomms): %s", self.failures,
                self.config.nocomms_after, exc)
        if self.failures >= self.config.nocomms_after and self.state is not State.NOCOMMS:
            self.set_nocomms()
        self._report()

    def set_nocomms(self) -> None:
        """Hide the port file (dummy-ups then stops: NUT says the driver is not connected)."""
        if self.port.hide():
            log.warning("communication lost, hiding port file as %s", self.port.nocomms_path)
        self.state = State.NOCOMMS
        self.first_poll = True
        self.clients.poller.forget()
        self.notifier.notify_ready(self.summary())

    def _write(self, snap: Snapshot, state: State) -> None:
        content = self.port.read()
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
        values = compute(inputs)
        text = render(content, values)
        old_status = content.values.get("ups.status")
        self.state, self.last_snapshot = state, snap
        if text != content.text or self.port.hidden:
            try:
                self.port.write(text)
            except PortFileMissing:
                raise
            except PortFileError as exc:
                log.error("%s (the old port file is kept; retrying at the next poll)", exc)
                self.last_error = str(exc)
                return
            self.writes += 1
            if old_status != values["ups.status"]:
                log.info("ups.status now %s", values["ups.status"])
            log.debug("updated %s", self.port.path)
        self.notifier.notify_ready(self.summary())
        self._report()

    def summary(self) -> str:
        """One line for systemd's STATUS=."""
        if self.state is State.NOCOMMS:
            return f"nocomms: {self.last_error or 'gateway not reachable'}"
        snap = self.last_snapshot
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

    # -- the loop -----------------------------------------------------------------------
    def relay_check(self) -> None:
        """The light check between full polls: a full poll at once if the grid changed."""
        try:
            grid = self.clients.poller.grid_check().grid
        except (GatewayError, AuthError) as exc:
            log.debug("relay check failed: %s", exc)
            return
        if (grid is Grid.OFF) != (self.state is State.ONBATT):
            log.info("%s check: grid now %s, polling at once", self.clients.poller.signal,
                     grid.value)
            self.cycle()

    def delay(self) -> int:
        """POLLFREQ on line; POLLFREQALERT on battery or without contact."""
        return self.config.pollfreq if self.state is State.ONLINE else self.config.pollfreqalert

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
        """Poll until SIGTERM/SIGINT. Returns the exit status (0)."""
        self._install_signals()
        try:
            self.cycle()
            while not self.stop_requested:
                next_full = self.clock() + self.delay()
                last_relay = self.clock()
                while not self.stop_requested:
                    now = self.clock()
                    if now >= next_full:
                        break
                    wake_at = next_full
                    check = self.config.relay_check
                    relay_on = check and check < self.delay() and self.state is not State.NOCOMMS
                    if relay_on:
                        wake_at = min(wake_at, last_relay + check)
                    self._sleep(wake_at - now)
                    if relay_on and not self.stop_requested and self.clock() >= last_relay + check:
                        last_relay = self.clock()
                        before = self.state
                        self.relay_check()
                        if self.state is not before:
                            next_full = self.clock() + self.delay()
                if self.reload_requested:
                    self.reload()
                if not self.stop_requested:
                    self.notifier.watchdog()
                    self.cycle()
        finally:
            self.notifier.stopping()
            self.clients.close()
        log.info("stopped")
        return 0

    def _install_signals(self) -> None:
        def stop(signum: int, frame: FrameType | None) -> None:
            self.stop_requested = True
            self.wake.set()

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

