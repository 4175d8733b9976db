"""Backup hardware topology: what the gateway has, which grid signal shows an outage, or why none.

`choose_signal()` is the one place of the rules; the daemon, `-v -s` and the wizard call it:

- no IQ Battery and no AC Battery: refused (a PV-only gateway is not a UPS);
- an IQ System Controller: the relay (/ivp/ensemble/relay `mains_oper_state`);
- an IQ Meter Collar: the Collar in /ivp/ensemble/inventory (`admin_state_str`/`mid_state`);
- neither: refused (the batteries cannot island; the relay says `closed` through outages);
- GRID_SIGNAL=relay or GRID_SIGNAL=collar: that signal, whatever was found.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

from .ensemble import DeviceType, Inventory
from .grid import GridSignal
from .models import SecCtrl


class Kind(enum.StrEnum):
    """The kinds of system, by what can tell an outage."""

    SYSTEM_CONTROLLER = "system-controller"
    COLLAR = "collar"
    NO_BACKUP = "no-backup"
    NO_BATTERY = "no-battery"


KIND_NAMES = {
    Kind.SYSTEM_CONTROLLER: "IQ System Controller with batteries",
    Kind.COLLAR: "IQ Meter Collar with batteries",
    Kind.NO_BACKUP: "batteries without a System Controller or Collar: no backup",
    Kind.NO_BATTERY: "no batteries (PV only)",
}
SIGNAL_NAMES = {
    GridSignal.RELAY: "the IQ System Controller's relay (/ivp/ensemble/relay mains_oper_state)",
    GridSignal.COLLAR: "the IQ Meter Collar (/ivp/ensemble/inventory COLLAR"
                       " admin_state_str and mid_state)",
}
OVERRIDE = ("if this is wrong, set GRID_SIGNAL=relay or GRID_SIGNAL=collar in the config"
            " to use that signal anyway")


@dataclass(frozen=True)
class Topology:
    """What the inventory (and secctrl) say the system has."""

    system_controllers: int = 0
    collars: int = 0
    iq_batteries: int = 0
    ac_batteries: bool = False
    capacity_wh: float | None = None
    combiners: int = 0

    @classmethod
    def detect(cls, inventory: Inventory, secctrl: SecCtrl | None) -> Topology:
        """The topology from the inventory, and secctrl for AC Batteries and capacity.

        AC Batteries are not in /ivp/ensemble/inventory (the captures of ACB systems list none
        there): secctrl's ACB charge and energy, or a Max_energy above the IQ Batteries'
        commissioned capacity, tell them.
        """
        return cls(
            system_controllers=inventory.count(DeviceType.ENPOWER),
            collars=inventory.count(DeviceType.COLLAR),
            iq_batteries=inventory.count(DeviceType.ENCHARGE),
            ac_batteries=secctrl is not None and secctrl.has_acb,
            capacity_wh=secctrl.max_energy_wh if secctrl is not None else None,
            combiners=inventory.count(DeviceType.C6_COMBINER),
        )

    @property
    def has_battery(self) -> bool:
        """IQ Batteries or AC Batteries, or battery capacity reported."""
        return bool(self.iq_batteries or self.ac_batteries or (self.capacity_wh or 0) > 0)

    @property
    def kind(self) -> Kind:
        """No battery first (whatever else is there), then the System Controller, the Collar."""
        if not self.has_battery:
            return Kind.NO_BATTERY
        if self.system_controllers:
            return Kind.SYSTEM_CONTROLLER
        if self.collars:
            return Kind.COLLAR
        return Kind.NO_BACKUP

    def found(self) -> str:
        """What was found, for a message: `IQ System Controller, 5 IQ Batteries`."""
        counts = ((self.system_controllers, "IQ System Controller", "IQ System Controllers"),
                  (self.collars, "IQ Meter Collar", "IQ Meter Collars"),
                  (self.combiners, "IQ Combiner 6C", "IQ Combiners 6C"),
                  (self.iq_batteries, "IQ Battery", "IQ Batteries"))
        parts = [f"{n} {one if n == 1 else many}" for n, one, many in counts if n]
        if self.ac_batteries:
            parts.append("AC Batteries")
        if not self.iq_batteries and not self.ac_batteries and self.capacity_wh:
            parts.append(f"{self.capacity_wh:g} Wh of battery capacity")
        return ", ".join(parts) or "no IQ System Controller, Collar or battery"


@dataclass(frozen=True)
class Refusal:
    """Why this hardware cannot act as a UPS (with GRID_SIGNAL=auto)."""

    topology: Topology
    why: str

    def __str__(self) -> str:
        return (f"this gateway cannot act as a UPS: found {self.topology.found()};"
                f" {self.why}; {OVERRIDE}")


_WHY = {
    Kind.NO_BATTERY: "without IQ Batteries or AC Batteries there is nothing to run on when the"
                     " grid fails",
    Kind.NO_BACKUP: "without an IQ System Controller or IQ Meter Collar the batteries cannot"
                    " island, so the grid state never changes (the relay says closed through"
                    " outages)",
}


def choose_signal(topology: Topology, setting: GridSignal | None = None
                  ) -> GridSignal | Refusal:
    """The grid signal for this topology, or why there is none.

    Args:
        topology: what the gateway has.
        setting: GRID_SIGNAL; None is `auto`. An explicit signal is used whatever was found.

    Returns:
        The signal to read, or a Refusal that names what was found and why it cannot work.
    """
    if setting is not None:
        return setting
    kind = topology.kind
    if kind is Kind.SYSTEM_CONTROLLER:
        return GridSignal.RELAY
    if kind is Kind.COLLAR:
        return GridSignal.COLLAR
    return Refusal(topology, _WHY[kind])
