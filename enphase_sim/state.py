"""The simulated gateway's state: what every answer is built from, and how changes are checked."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from dataclasses import dataclass, fields
from typing import Any

PHASES = ("split", "three", "single")
USER_TYPES = ("owner", "installer")
TOPOLOGIES = ("system-controller", "collar", "generator", "no-backup", "no-battery")


@dataclass
class SimState:
    """Everything the simulated gateway and cloud answer from; change it through the Simulator."""

    serial: str = "123456789012"
    firmware: str = "D8.2.4264"
    username: str = "demo@example.com"
    password: str = "demo-password"
    user_type: str = "owner"
    token_lifetime_s: float | None = None
    mfa: bool = False
    grid: str = "closed"
    admin: str = "closed"
    soc: float = 80.0
    capacity_wh: int = 10080
    reserve_soc: int = 20
    soc_recovery_exit: int = 10
    phases: str = "split"
    load_w: float = 1500.0
    pv_w: float = 0.0
    has_ct: bool = True
    has_storage_ct: bool = False
    has_relay: bool = True
    clock_offset_s: float = 0.0
    # livedata frozen as it was when this became true (its streaming off: last_update stops)
    live_stale: bool = False
    topology: str = "system-controller"  # see enphase_sim/topology.py


def validate_fields(changes: dict[str, Any]) -> dict[str, Any]:
    """Check and normalise field changes for SimState.

    Args:
        changes: field name -> new value (as decoded from JSON or given as keywords).

    Returns:
        The changes with ints widened to float where the field is a float.

    Raises:
        ValueError: unknown field, wrong type or out-of-range value.
    """
    kinds = {f.name: f.type for f in fields(SimState)}
    out: dict[str, Any] = {}
    for name, value in changes.items():
        if name not in kinds:
            raise ValueError(f"unknown state field: {name}")
        kind = str(kinds[name])
        if kind == "bool":
            ok = isinstance(value, bool)
        elif kind == "str":
            ok = isinstance(value, str)
        elif kind == "int":
            ok = isinstance(value, int) and not isinstance(value, bool)
        else:  # float or float | None
            ok = (value is None and "None" in kind) or (
                isinstance(value, int | float) and not isinstance(value, bool)
            )
            if ok and value is not None:
                value = float(value)
        if not ok:
            raise ValueError(f"bad value for {name} ({kind}): {value!r}")
        out[name] = value
    if "phases" in out and out["phases"] not in PHASES:
        raise ValueError(f"phases must be one of {PHASES}")
    if "user_type" in out and out["user_type"] not in USER_TYPES:
        raise ValueError(f"user_type must be one of {USER_TYPES}")
    if "topology" in out and out["topology"] not in TOPOLOGIES:
        raise ValueError(f"topology must be one of {TOPOLOGIES}")
    return out


def parse_info_xml(text: str) -> tuple[str | None, str | None]:
    """Return (serial, firmware) from an info.xml body, None where absent."""
    root = ET.fromstring(text)
    return root.findtext("device/sn"), root.findtext("device/software")
