"""One poll of the gateway: the endpoints that must answer, and those that may fail."""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Callable

from .charge import STALE_AFTER_S, ChargeLog, ChargeSource, LiveAge, fresh_live, stale_live
from .ensemble import Inventory
from .errors import (
    GatewayDataError,
    GatewayError,
    GatewayHTTPError,
    GatewayImplausible,
    UnsupportedHardware,
)
from .facts import INFO, INVENTORY, RELAY, REPORTS, SECCTRL
from .gateway import GatewayClient
from .grid import Grid, GridReading, GridSignal, wire_pairs
from .models import GatewayInfo, LiveData, SecCtrl, Snapshot
from .topology import SIGNAL_NAMES, Refusal, Topology, choose_signal

log = logging.getLogger(__name__)

SECCTRL_REFRESH_S = 600.0  # capacity and restart SOC change rarely
TOPOLOGY_REFRESH_S = 600.0  # the hardware is read again every 10 minutes
_SIGNAL_PATHS = {GridSignal.RELAY: RELAY, GridSignal.COLLAR: INVENTORY}
_MAX_LOGGED = 32  # distinct unknown readings logged (each once); bounds the memory


class Poller:
    """Reads a Snapshot; keeps info, secctrl and the topology, which change rarely."""

    def __init__(self, client: GatewayClient, meters: bool, grid_signal: GridSignal | None = None,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.client = client
        self.meters = meters
        self.clock = clock
        self.setting = grid_signal  # GRID_SIGNAL; None: auto
        self.signal = grid_signal  # the signal in use; None until the topology is known
        self.topology: Topology | None = None
        self.refusal: Refusal | None = None
        self.ever_usable = grid_signal is not None
        self.unknown: GridReading | None = None  # the last reading that was not understood
        self.info: GatewayInfo | None = None
        self.secctrl: SecCtrl | None = None
        self._secctrl_at = -math.inf
        self._topology_at = -math.inf
        self._logged: set[str] = set()
        self.live_age = LiveAge()
        self.charge_log = ChargeLog()

    def forget(self) -> None:
        """Read info, secctrl, the topology and the gateway's clock again at the next poll."""
        self.info = None
        self._secctrl_at = self._topology_at = -math.inf
        self.live_age.forget()

    # -- topology ---------------------------------------------------------------------
    def detect(self) -> Topology:
        """Read the inventory and secctrl and say what the system has.

        A 404 for either is "none" (firmware before the ensemble endpoints).

        Raises:
            GatewayError, AuthError: the inventory failed, or secctrl failed while the
                inventory alone cannot tell whether batteries exist.
        """
        try:
            inventory = self.client.inventory()
        except GatewayHTTPError as exc:
            if exc.status != 404:
                raise
            inventory = Inventory()
        try:
            self.secctrl, self._secctrl_at = self.client.secctrl(), self.clock()
        except GatewayImplausible:
            raise
        except GatewayError as exc:
            gone = isinstance(exc, GatewayHTTPError) and exc.status == 404
            if not gone and not Topology.detect(inventory, None).has_battery:
                raise
            self.secctrl = None
        return Topology.detect(inventory, self.secctrl)

    def refresh_topology(self) -> None:
        """With GRID_SIGNAL=auto: detect the topology when due, and choose the grid signal.

        Raises:
            UnsupportedHardware: this hardware cannot act as a UPS.
            GatewayError, AuthError: the topology could not be read.
        """
        now = self.clock()
        if self.setting is not None or (
                self.signal is not None and now - self._topology_at < TOPOLOGY_REFRESH_S):
            return
        self.topology = self.detect()
        self._topology_at = now
        choice = choose_signal(self.topology, self.setting)
        if isinstance(choice, Refusal):
            self.signal, self.refusal = None, choice
            raise UnsupportedHardware(str(choice), at_start=not self.ever_usable)
        if choice is not self.signal:
            log.log(logging.WARNING if self.signal else logging.INFO, "grid signal: %s (found %s)",
                    SIGNAL_NAMES[choice], self.topology.found())
        self.signal, self.refusal, self.ever_usable = choice, None, True

    # -- the grid signal --------------------------------------------------------------
    def grid_check(self) -> GridReading:
        """Only the grid signal: the light check between full polls.

        Raises:
            GatewayError, AuthError: the signal could not be read or understood.
        """
        signal = self.signal
        if signal is None:
            raise GatewayError("no grid signal yet: the hardware has not been read")
        if signal is GridSignal.RELAY:
            return self._understood(self.client.relay().reading())
        collar = self.client.inventory().collar
        if collar is None:
            raise GatewayDataError("the ensemble inventory lists no IQ Meter Collar, the grid"
                                   " signal (GRID_SIGNAL=collar or a Collar seen before)",
                                   INVENTORY)
        return self._understood(collar.reading())

    def _understood(self, reading: GridReading) -> GridReading:
        """The reading if its state is known; else a failed poll, its raw values logged once.

        Raises:
            GatewayDataError: the state is missing or not one the tool knows.
        """
        if reading.grid is not Grid.UNKNOWN:
            return reading
        self.unknown = reading
        shown = wire_pairs(reading.raw)
        if shown not in self._logged and len(self._logged) < _MAX_LOGGED:
            self._logged.add(shown)
            log.warning("grid state not understood from %s: %s (logged once; please report"
                        " these values)", SIGNAL_NAMES[reading.signal], shown)
        raise GatewayDataError(f"grid state not understood from the {reading.signal} signal"
                               " (values logged once; enphase-monitor -v -s shows them)",
                               _SIGNAL_PATHS[reading.signal])

    # -- the full poll ----------------------------------------------------------------
    def poll(self) -> Snapshot:
        """Read everything. The topology, grid signal and live data must answer; the rest may fail.

        Raises:
            UnsupportedHardware: this hardware cannot act as a UPS.
            GatewayError, AuthError: a required endpoint failed.
        """
        self.refresh_topology()
        reading = self.grid_check()
        live = self.client.livedata()
        errors: dict[str, str] = {}
        if self.info is None:
            try:
                self.info = self.client.info()
                self.live_age.set_gateway_time(self.info.time, self.clock())
            except GatewayImplausible:  # garbage is a failed poll, not a gap
                raise
            except GatewayError as exc:
                errors[INFO] = str(exc)
        live = self._charged(live)
        now = self.clock()
        if now - self._secctrl_at >= SECCTRL_REFRESH_S:
            try:
                self.secctrl = self.client.secctrl()
                self._secctrl_at = now
            except GatewayImplausible:  # garbage is a failed poll, not a gap
                raise
            except GatewayError as exc:
                errors[SECCTRL] = str(exc)
        reports = None
        if self.meters:
            try:
                reports = self.client.meter_reports()
            except GatewayImplausible:  # garbage is a failed poll, not a gap
                raise
            except GatewayError as exc:
                errors[REPORTS] = str(exc)
        for path, why in errors.items():
            log.info("%s unavailable, its values are left out: %s", path, why)
        return Snapshot(live=live, secctrl=self.secctrl, reports=reports, info=self.info,
                        errors=errors, reading=reading)

    def _charged(self, live: LiveData) -> LiveData:
        """Live data with a fresh charge: its own, or when it is stale the secctrl of this poll.

        Raises:
            GatewayDataError: no fresh, valid state of charge (enphase_monitor/charge.py).
            AuthError: secctrl answered 401.
        """
        age = self.live_age.age(live, self.clock())
        if age is None or age <= STALE_AFTER_S:
            live = fresh_live(live)
            self.charge_log.note(ChargeSource.LIVEDATA, age)
            return live
        secctrl = None
        try:
            secctrl = self.client.secctrl()
            self.secctrl, self._secctrl_at = secctrl, self.clock()
        except GatewayImplausible:  # garbage is a failed poll, not a gap
            raise
        except GatewayError as exc:
            log.info("%s unavailable while livedata is stale: %s", SECCTRL, exc)
        live = stale_live(live, secctrl, age)
        self.charge_log.note(ChargeSource.SECCTRL, age)
        return live
