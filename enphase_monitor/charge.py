"""Where battery.charge comes from: livedata while it is fresh, else the same poll's secctrl.

The gateway's /ivp/livedata/status goes stale when its streaming is off: `meters.last_update`
stops moving and every value in it is frozen (docs/behaviour.md, "Stale live data"). Its age is
judged against the gateway's own clock, not ours: the clock is taken from /info.xml `<time>` on
the first poll (and the first after nocomms) and carried forward with our monotonic clock; a
`last_update` ahead of that estimate, or one that went back, is the gateway's clock from then on.
Live data older than STALE_AFTER_S is not fresh: the charge then comes from
/ivp/ensemble/secctrl `agg_soc`, read in the same poll, and livedata's other measurements are
left out; without that, the poll fails.
"""

from __future__ import annotations

import dataclasses
import logging
from dataclasses import dataclass
from enum import StrEnum

from .errors import GatewayDataError
from .facts import LIVEDATA, SECCTRL
from .models import LiveData, SecCtrl

log = logging.getLogger(__name__)

STALE_AFTER_S = 60.0


class ChargeSource(StrEnum):
    """Which endpoint battery.charge was read from."""

    LIVEDATA = "livedata"
    SECCTRL = "secctrl"


@dataclass(frozen=True, slots=True)
class GatewayClock:
    """The gateway's clock as seen from ours: a gateway time and our monotonic time then."""

    gateway: float
    ours: float

    def now(self, ours: float) -> float:
        """The gateway's time when our monotonic clock reads `ours`."""
        return self.gateway + (ours - self.ours)


class LiveAge:
    """How old livedata is, by the gateway's clock (taken once, then carried by ours)."""

    def __init__(self) -> None:
        self.clock: GatewayClock | None = None
        self.last_update: float | None = None  # the previous poll's

    def forget(self) -> None:
        """Take the gateway's clock again at the next poll (after nocomms)."""
        self.clock = None
        self.last_update = None

    def set_gateway_time(self, gateway: float | None, ours: float) -> None:
        """The gateway's clock as /info.xml said it (None: not known; keep what we have)."""
        if gateway is not None:
            self.clock = GatewayClock(gateway, ours)

    def age(self, live: LiveData, ours: float) -> float | None:
        """Seconds since livedata's `last_update` by the gateway's clock; None without one.

        A `last_update` ahead of the estimate, or one that went back since the previous poll
        (NTP stepped the gateway's clock back), is the gateway's clock from then on; without a
        gateway time yet, the first one seen stands for it.
        """
        updated = live.last_update
        if updated is None:
            return None
        went_back = self.last_update is not None and updated < self.last_update
        self.last_update = updated
        if self.clock is None or went_back or updated > self.clock.now(ours):
            self.clock = GatewayClock(updated, ours)
        return self.clock.now(ours) - updated


def valid_soc(value: float | None) -> bool:
    """A state of charge the LB decision can rest on: a number in 0..100."""
    return value is not None and 0 <= value <= 100


def fresh_live(live: LiveData) -> LiveData:
    """Fresh live data, if it has a usable state of charge (the LB decision rests on it).

    Raises:
        GatewayDataError: soc is missing, not a number, or outside 0..100.
    """
    if not valid_soc(live.soc):
        raise GatewayDataError("livedata has no valid battery state of charge (meters.soc);"
                               " a gateway without IQ Batteries cannot act as a UPS", LIVEDATA)
    return live


def stale_live(live: LiveData, secctrl: SecCtrl | None, age: float) -> LiveData:
    """Stale live data with its charge from secctrl and its frozen measurements left out.

    Only the wiring facts (phase count, split phase) are kept; the charge is secctrl's
    `agg_soc`, read in the same poll.

    Raises:
        GatewayDataError: secctrl was not read or has no valid `agg_soc`.
    """
    soc = secctrl.soc if secctrl is not None else None
    if not valid_soc(soc):
        why = "could not be read" if secctrl is None else "has no valid agg_soc"
        raise GatewayDataError(
            f"livedata is stale (meters.last_update {age:.0f} s old by the gateway's clock; is"
            f" its streaming off?) and {SECCTRL} {why}: no fresh battery charge", LIVEDATA)
    return dataclasses.replace(
        live, soc=soc, enc_energy_wh=None, enc_soc=None, acb_energy_wh=None, acb_soc=None,
        load_w=None, grid_w=None)


class ChargeLog:
    """Logs the changes of the charge's source (once each, not every poll)."""

    def __init__(self) -> None:
        self.source = ChargeSource.LIVEDATA
        self.age: float | None = None  # livedata's, at the last poll that read a charge

    def note(self, source: ChargeSource, age: float | None) -> None:
        """Record this poll's source; log when it changed."""
        self.age = age
        if source is self.source:
            return
        self.source = source
        if source is ChargeSource.SECCTRL:
            log.warning("livedata is stale (meters.last_update %.0f s old by the gateway's"
                        " clock): battery.charge from %s agg_soc, livedata's power values left"
                        " out", age or 0.0, SECCTRL)
        else:
            log.warning("livedata is fresh again: battery.charge from livedata")
