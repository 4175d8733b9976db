"""The grid state: the signals it can come from, one reading of them, wire values for reports."""

from __future__ import annotations

import enum
from dataclasses import dataclass, field

from .facts import RelayState
from .textsafe import escape


class Grid(enum.Enum):
    """What the grid signal says about the grid."""

    ON = "on"
    OFF = "off"
    UNKNOWN = "unknown"


class GridSignal(enum.StrEnum):
    """Where the grid state comes from (also the values of GRID_SIGNAL besides `auto`)."""

    RELAY = "relay"  # /ivp/ensemble/relay: the IQ System Controller's relay
    COLLAR = "collar"  # /ivp/ensemble/inventory: the IQ Meter Collar


class GridMode(enum.StrEnum):
    """`Enchg_grid_mode`: what the batteries are doing (values seen in the captures)."""

    ON_GRID = "multimode-ongrid"
    OFF_GRID = "multimode-offgrid"
    GENERATOR = "multimode-generator"
    GRID_TIED = "grid-tied"
    UNKNOWN = "unknown"


Raw = tuple[tuple[str, object], ...]  # (wire name, value as sent), for reports only


def wire(value: object, limit: int = 64) -> str:
    """A value from the gateway for a log line or a report: quoted, escaped, cut, never raw."""
    if value is None:
        return "missing"
    if isinstance(value, bool | int | float):
        return repr(value)
    if isinstance(value, str):
        return f"'{escape(value[:limit])}'" + ("..." if len(value) > limit else "")
    return f"<{type(value).__name__}>"


def wire_pairs(raw: Raw) -> str:
    """`name='value', ...` of raw wire values, each escaped (see wire())."""
    return ", ".join(f"{name}={wire(value)}" for name, value in raw)


@dataclass(frozen=True, slots=True)
class GridReading:
    """One reading of the grid signal: the state, and what a log line needs to explain it."""

    signal: GridSignal
    grid: Grid
    generator: bool = False  # the utility is out and a generator feeds the house
    commanded: bool = False  # off-grid because the owner (or a schedule) asked for it
    raw: Raw = field(default=(), compare=False)  # the wire values, for an unknown state


def grid_from_state(state: str | None) -> Grid:
    """`closed` is on-grid; `open` and every `open ...` variant is off-grid."""
    if state is None:
        return Grid.UNKNOWN
    state = state.strip().lower()
    if state == RelayState.CLOSED:
        return Grid.ON
    if state.startswith(RelayState.OPEN):  # every value that starts with `open`
        return Grid.OFF
    return Grid.UNKNOWN
