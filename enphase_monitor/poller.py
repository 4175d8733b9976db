"""One poll of the gateway: the endpoints that must answer, and those that may fail."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable

from .errors import GatewayDataError, GatewayError
from .gateway import INFO, LIVEDATA, REPORTS, SECCTRL, GatewayClient
from .models import GatewayInfo, Grid, LiveData, Relay, SecCtrl, Snapshot

log = logging.getLogger(__name__)

SECCTRL_REFRESH_S = 600.0  # capacity and restart SOC change rarely


def checked_relay(relay: Relay) -> Relay:
    """The relay, if its state is one we understand.

    Raises:
        GatewayDataError: mains_oper_state is missing or unknown (a failed poll, as the seed).
    """
    if relay.grid is Grid.UNKNOWN:
        state = relay.oper_state
        what = "has no mains_oper_state" if state is None else f"says mains_oper_state '{state}'"
        raise GatewayDataError(f"relay {what}, which is neither closed nor open")
    return relay


def checked_live(live: LiveData) -> LiveData:
    """Live data, if it has a usable state of charge (the LB decision rests on it).

    Raises:
        GatewayDataError: soc is missing, not a number, or outside 0..100.
    """
    if live.soc is None or not 0 <= live.soc <= 100:
        raise GatewayDataError("livedata has no valid battery state of charge (meters.soc);"
                               " a gateway without IQ Batteries cannot act as a UPS", LIVEDATA)
    return live


class Poller:
    """Reads a Snapshot; keeps info and secctrl, which change rarely, between polls."""

    def __init__(self, client: GatewayClient, meters: bool,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.client = client
        self.meters = meters
        self.clock = clock
        self.info: GatewayInfo | None = None
        self.secctrl: SecCtrl | None = None
        self._secctrl_at = -SECCTRL_REFRESH_S

    def forget(self) -> None:
        """Read info and secctrl again at the next poll (after a reconnect or a 401)."""
        self.info = None
        self._secctrl_at = -SECCTRL_REFRESH_S

    def relay(self) -> Relay:
        """Only the relay: the light grid check.

        Raises:
            GatewayError, AuthError: the relay could not be read or understood.
        """
        return checked_relay(self.client.relay())

    def poll(self) -> Snapshot:
        """Read everything. The relay and live data must answer; the rest may fail.

        Raises:
            GatewayError, AuthError: a required endpoint failed.
        """
        relay = self.relay()
        live = checked_live(self.client.livedata())
        errors: dict[str, str] = {}
        if self.info is None:
            try:
                self.info = self.client.info()
            except GatewayError as exc:
                errors[INFO] = str(exc)
        now = self.clock()
        if now - self._secctrl_at >= SECCTRL_REFRESH_S:
            try:
                self.secctrl = self.client.secctrl()
                self._secctrl_at = now
            except GatewayError as exc:
                errors[SECCTRL] = str(exc)
        reports = None
        if self.meters:
            try:
                reports = self.client.meter_reports()
            except GatewayError as exc:
                errors[REPORTS] = str(exc)
        for path, why in errors.items():
            log.info("%s unavailable, its values are left out: %s", path, why)
        return Snapshot(relay, live, self.secctrl, reports, self.info, errors)
