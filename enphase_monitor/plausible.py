"""Plausibility ranges of the numbers that go to NUT: a value outside them is a failed poll.

models.num already refuses what is no number (NaN, infinities, booleans, 1e308); these ranges
catch finite numbers no house has (a 5000 V mains, a 101 % charge, a negative runtime) before
they reach the port file, where upsmon would act on them. The ranges are generous: the real
captures in tests/fixtures/pyenphase stay far inside (docs/behaviour.md, "Hostile numbers").
"""

from __future__ import annotations

import math
from collections.abc import Mapping

from .errors import GatewayImplausible
from .textsafe import escape

# NUT variable -> (lowest, highest) it may be
EXACT: Mapping[str, tuple[float, float]] = {
    "battery.charge": (0.0, 100.0),
    "battery.charge.restart": (0.0, 100.0),
    "battery.runtime": (0.0, 172800.0),  # nutvars.RUNTIME_CAP_S
    "battery.capacity": (0.0, 100_000.0),  # Ah: 7.7 MWh at 76.8 V
    "battery.voltage": (0.0, 1000.0),
    "battery.current": (-100_000.0, 100_000.0),
    "ups.load": (-10_000.0, 10_000_000.0),  # %: LOADKWH is the user's, CT noise can be < 0
}
# input.* / output.* (and their L1..L3 legs) by the last part of the name
BY_FIELD: Mapping[str, tuple[float, float]] = {
    "voltage": (0.0, 1000.0),
    "frequency": (0.0, 100.0),
    "realpower": (-1e6, 1e6),  # W: a house, not a power station
    "power": (0.0, 1e6),
    "current": (-1e6, 1e6),  # realpower / voltage: a CT reading a few volts gives large values
    "powerfactor": (-1.0, 1.0),
}


def limits(name: str) -> tuple[float, float] | None:
    """The range of NUT variable `name`; None for text and variables without one."""
    if name in EXACT:
        return EXACT[name]
    if name.startswith(("input.", "output.")):
        return BY_FIELD.get(name.rsplit(".", 1)[-1])
    return None


def check(values: Mapping[str, str | None]) -> None:
    """Refuse NUT values outside their ranges.

    Raises:
        GatewayImplausible: the first value out of range (its name and value, escaped).
    """
    for name, text in values.items():
        bounds = limits(name)
        if bounds is None or text is None:
            continue
        try:
            value = float(text)
        except ValueError:
            value = math.nan
        low, high = bounds
        if not low <= value <= high:
            raise GatewayImplausible(f"implausible value from the gateway: {name} would be"
                                     f" {escape(text, 40)}, outside {low:g} to {high:g}")
