"""Typed snapshot of /ivp/ensemble/inventory: which backup devices exist, and the Collar's state.

Wire names stay inside the from_api constructors. The constructors are tolerant like those of
models.py (missing keys give None, unknown device types are counted but not used); a payload of
the wrong shape raises GatewayDataError.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from .errors import GatewayDataError
from .grid import Grid, GridReading, GridSignal, Raw


class DeviceType(enum.StrEnum):
    """`type` of an inventory group (values seen in the captures)."""

    ENCHARGE = "ENCHARGE"  # IQ Battery
    ENPOWER = "ENPOWER"  # IQ System Controller
    COLLAR = "COLLAR"  # IQ Meter Collar
    C6_COMBINER = "C6 COMBINER CONTROLLER"  # IQ Combiner 6C
    C6_RGM = "C6 RGM"


class CollarMode(enum.StrEnum):
    """The Collar's `admin_state_str` (Home Assistant maps these two)."""

    ON_GRID = "ENCMN_MDE_ON_GRID"
    OFF_GRID = "ENCMN_MDE_OFF_GRID"


class MidState(enum.StrEnum):
    """The Collar's `mid_state`: its microgrid interconnect relay."""

    CLOSE = "close"
    OPEN = "open"


_OFF_GRID_MARK = "OFF_GRID"  # any admin state containing it is off grid


def _text(value: object) -> str | None:
    return value.strip() if isinstance(value, str) else None


# Data source: /ivp/ensemble/inventory, the device of type COLLAR
@dataclass(frozen=True, slots=True)
class Collar:
    """The IQ Meter Collar: the grid signal of systems without an IQ System Controller."""

    admin_state: str | None
    mid_state: str | None
    communicating: bool | None
    serial: str | None = None
    raw: Raw = field(default=(), compare=False)

    @classmethod
    def from_api(cls, device: Mapping[str, Any]) -> Collar:
        names = ("admin_state_str", "mid_state", "communicating", "grid_state")
        raw = tuple((name, device.get(name)) for name in names)
        talking = device.get("communicating")
        return cls(_text(device.get("admin_state_str")), _text(device.get("mid_state")),
                   talking if isinstance(talking, bool) else None,
                   _text(device.get("serial_num")), raw)

    @property
    def grid(self) -> Grid:
        """ON_GRID with the relay closed is on grid; OFF_GRID or the relay open is off grid.

        `grid_state` is not used: Home Assistant found in the field that it does not follow the
        real connection. A Collar that is not communicating, or any other combination, is
        UNKNOWN (a failed poll).
        """
        if self.communicating is False:
            return Grid.UNKNOWN
        mode, mid = self.admin_state or "", (self.mid_state or "").lower()
        if _OFF_GRID_MARK in mode.upper() or mid == MidState.OPEN:
            return Grid.OFF
        if mode == CollarMode.ON_GRID and mid == MidState.CLOSE:
            return Grid.ON
        return Grid.UNKNOWN

    def reading(self) -> GridReading:
        """The grid state as the daemon uses it."""
        return GridReading(GridSignal.COLLAR, self.grid, raw=self.raw)


# Data source: /ivp/ensemble/inventory
@dataclass(frozen=True, slots=True)
class Inventory:
    """Backup devices by type; `devices` counts every type seen (unknown ones too)."""

    devices: Mapping[str, int] = field(default_factory=dict)
    collar: Collar | None = None
    enpower_grid_mode: str | None = None  # the System Controller's Enchg_grid_mode

    @classmethod
    def from_api(cls, payload: object) -> Inventory:
        """Parse the list of device groups; `{"error": ...}` (firmware before 7) is empty.

        Raises:
            GatewayDataError: neither a list nor an error object.
        """
        if isinstance(payload, Mapping) and "error" in payload:
            return cls()
        if not isinstance(payload, list):
            raise GatewayDataError("ensemble inventory: expected a JSON list")
        devices: dict[str, int] = {}
        collar: Collar | None = None
        mode: str | None = None
        for group in payload:
            if not isinstance(group, Mapping):
                continue
            kind, members = _text(group.get("type")), group.get("devices")
            found = [m for m in members if isinstance(m, Mapping)] \
                if isinstance(members, list) else []
            if not kind:
                continue
            devices[kind] = devices.get(kind, 0) + len(found)
            if kind == DeviceType.COLLAR and found and collar is None:
                collar = Collar.from_api(found[0])  # one Collar per site
            if kind == DeviceType.ENPOWER and found:
                mode = _text(found[0].get("Enchg_grid_mode"))
        return cls(devices, collar, mode)

    def count(self, kind: DeviceType) -> int:
        """How many devices of that type the inventory lists."""
        return self.devices.get(kind, 0)
