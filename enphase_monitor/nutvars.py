"""Snapshot + reference values -> NUT variables, as a declarative table of descriptors."""

from __future__ import annotations

import logging
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from functools import cached_property

from . import plausible
from .errors import GatewayImplausible
from .facts import CtKind
from .models import Meter, MeterReport, MeterReports, Snapshot, num

log = logging.getLogger(__name__)

RUNTIME_CAP_S = 172800  # two days, as the seed
DEFAULT_RESTART_SOC = 10.0
# LiFePO4 cell volts at 0, 10, ..., 110 % SOC (above 100 % while charging), from the seed
LFP_CURVE = (2.50, 2.90, 3.10, 3.20, 3.25, 3.30, 3.35, 3.40, 3.45, 3.50, 3.60, 3.65)

# User-settable values: kept as the user wrote them, written with these defaults when absent.
USER_DEFAULTS: Mapping[str, str] = {
    "battery.charge.low": "20",
    "battery.voltage.high": "86.4",
    "battery.voltage.nominal": "76.8",
    "battery.voltage.low": "68.5",
    "device.mfr": "Enphase Energy",
    "device.model": "IQ Gateway",
}

RUNTIME_LOW = "battery.runtime.low"  # user-set (s); absent: only battery.charge.low makes LB
_UNSAFE = re.compile(r'[^\x20-\x7e]|["#\\]')
MAX_VALUE_LEN = 127


def sanitize(value: str) -> str:
    """Make a value safe for dummy-ups and upsd: printable ASCII, no `"#\\`, <= 127 chars.

    Whitespace runs become one space; other unsafe characters are dropped, as dummy-ups drops
    UTF-8 bytes (`Müller` -> `Mller`), so the value written is the value published.
    """
    cleaned = " ".join(_UNSAFE.sub("", " ".join(value.split())).split())
    return cleaned[:MAX_VALUE_LEN].rstrip()


def fmt(value: float | None, decimals: int) -> str | None:
    """Fixed-point text, never `-0.0`."""
    if value is None:
        return None
    text = f"{value:.{decimals}f}"
    return text[1:] if text.startswith("-") and float(text) == 0 else text


def fmt_pct(value: float | None) -> str | None:
    """A percentage as the gateway gives it: `85`, or `85.5` when not whole."""
    if value is None:
        return None
    return str(int(value)) if float(value).is_integer() else fmt(value, 1)


@dataclass(frozen=True)
class Refs:
    """User values read back from the port file (or their defaults)."""

    charge_low: float = 20.0
    voltage_high: float = 86.4
    voltage_nominal: float = 76.8
    mfr: str = "Enphase Energy"
    model: str = "IQ Gateway"
    runtime_low: float | None = None  # battery.runtime.low (s): no rule when absent

    @classmethod
    def from_values(cls, values: Mapping[str, str]) -> Refs:
        """Read the references from port-file values; a bad number falls back to the default."""
        def number(name: str, default: float | None) -> float | None:
            raw = values.get(name)
            if raw is None or raw == "":
                return default
            try:
                value = num(raw)
            except GatewayImplausible:
                value = None
            if value is None or value < 0:
                log.warning("port file: %s '%s' is not a number, using %s", name, raw, default)
                return default
            return value

        def required(name: str, default: float) -> float:
            value = number(name, default)
            return default if value is None else value

        return cls(
            charge_low=required("battery.charge.low", 20.0),
            voltage_high=required("battery.voltage.high", 86.4),
            voltage_nominal=required("battery.voltage.nominal", 76.8),
            mfr=sanitize(values.get("device.mfr") or "") or "Enphase Energy",
            model=sanitize(values.get("device.model") or "") or "IQ Gateway",
            runtime_low=number(RUNTIME_LOW, None),
        )


def lfp_voltage(soc: float, voltage_high: float) -> float:
    """Battery voltage from SOC on the LiFePO4 curve, scaled so 100 % equals voltage_high."""
    soc = min(max(soc, 0.0), 110.0)
    index = min(int(soc // 10), 10)
    low, high = LFP_CURVE[index], LFP_CURVE[index + 1]
    cell = low + (high - low) * (soc - index * 10) / 10
    return cell * voltage_high / LFP_CURVE[10]


def status_text(online: bool, soc: float | None, charge_low: float) -> str:
    """`OL` or `OB`, plus ` LB` when the charge is below battery.charge.low."""
    status = "OL" if online else "OB"
    if soc is not None and soc < charge_low:
        status += " LB"
    return status


def with_runtime_low(status: str, runtime_s: int | None, runtime_low: float | None) -> str:
    """` LB` added also when battery.runtime is below battery.runtime.low (when both known)."""
    if runtime_s is None or runtime_low is None or runtime_s >= runtime_low:
        return status
    return status if status.endswith(" LB") else status + " LB"


@dataclass(frozen=True)
class Inputs:
    """Everything a poll cycle knows, from which the NUT values are derived."""

    status: str
    snapshot: Snapshot
    refs: Refs
    serial: str
    loadkwh: int = 768
    disable_meters: bool = False
    firmware: str | None = None


class Ctx:
    """Derived values, each computed once per cycle."""

    def __init__(self, inputs: Inputs) -> None:
        self.i = inputs
        self.snap = inputs.snapshot

    @cached_property
    def soc(self) -> float | None:
        return self.snap.live.soc if self.snap.live else None

    @cached_property
    def restart_soc(self) -> float:
        value = self.snap.secctrl.soc_recovery_exit if self.snap.secctrl else None
        return DEFAULT_RESTART_SOC if value is None else value

    @cached_property
    def capacity_wh(self) -> float | None:
        """Full battery energy: secctrl Max_energy, else livedata energy scaled by SOC."""
        sec = self.snap.secctrl
        if sec and sec.max_energy_wh and sec.max_energy_wh > 0:
            return sec.max_energy_wh
        return self.snap.live.full_capacity_wh if self.snap.live else None

    @cached_property
    def reports(self) -> MeterReports | None:
        """The CT reports, total-consumption repaired on firmware that copies net into it."""
        if self.i.disable_meters or self.snap.reports is None:
            return None
        return self.snap.reports.total_fixed(self.i.firmware)

    def report(self, kind: str) -> MeterReport | None:
        return None if self.reports is None else self.reports.get(kind)

    @cached_property
    def three_phase(self) -> bool:
        live = self.snap.live
        if live and live.phase_count is not None:
            return live.phase_count == 3 and not live.split_phase
        report = self.report(CtKind.NET) or self.report(CtKind.TOTAL)
        return report is not None and len(report.lines) == 3

    @cached_property
    def load_w(self) -> float | None:
        """House consumption: the total-consumption CT, else livedata's load."""
        report = self.report(CtKind.TOTAL)
        if report is not None:
            return report.total.realpower or 0.0
        return self.snap.live.load_w if self.snap.live else None

    @cached_property
    def grid_w(self) -> float | None:
        report = self.report(CtKind.NET)
        if report is not None:
            return report.total.realpower or 0.0
        return self.snap.live.grid_w if self.snap.live else None

    def meter(self, kind: str, phase: int) -> Meter | None:
        report = self.report(kind)
        if report is None:
            return None
        if phase == 0:
            return report.total
        if not self.three_phase or len(report.lines) < phase:
            return None
        return report.lines[phase - 1]

    @cached_property
    def runtime_s(self) -> int | None:
        """Seconds until the SOC reaches the restart SOC at the present load."""
        soc, cap, load = self.soc, self.capacity_wh, self.load_w
        if soc is None or cap is None or load is None:
            return None
        if soc < self.restart_soc:
            return 0  # the batteries stop at the restart SOC, whatever the load
        if load <= 0:
            return RUNTIME_CAP_S
        seconds = (soc - self.restart_soc) / 100.0 * cap * 3600.0 / load
        return min(int(seconds), RUNTIME_CAP_S)

    @cached_property
    def load_pct(self) -> float | None:
        cap, load = self.capacity_wh, self.load_w
        if not self.i.loadkwh or cap is None or load is None:
            return None
        return load / (self.i.loadkwh * cap / 1000.0) * 100.0


@dataclass(frozen=True)
class Var:
    """One generated NUT variable and how to compute it (None: cannot be computed now)."""

    name: str
    value: Callable[[Ctx], str | None]


def _clamp_pf(value: float | None) -> float | None:
    return None if value is None else max(-1.0, min(1.0, value))


def _meter_vars(group: str, kind: str) -> list[Var]:
    """input.* / output.* and their per-phase L1..L3 variants from one CT report."""
    fields: list[tuple[str, Callable[[Meter], float | None], int]] = [
        ("realpower", lambda m: m.realpower, 1),
        # NUT wants VA >= 0 and |pf| <= 1; the gateway signs VA with the flow and has sent 1.77
        ("power", lambda m: None if m.power is None else abs(m.power), 1),
        ("voltage", lambda m: m.voltage, 1),
        ("powerfactor", lambda m: _clamp_pf(m.powerfactor), 2),
        ("frequency", lambda m: m.frequency, 1),
        ("current", lambda m: m.current, 2),
    ]
    rows: list[Var] = []
    for phase in range(4):
        prefix = group if phase == 0 else f"{group}.L{phase}"
        for field, get, decimals in fields:
            name = f"{prefix}-N.{field}" if phase and field == "voltage" else f"{prefix}.{field}"

            def value(c: Ctx, p: int = phase, g: Callable[[Meter], float | None] = get,
                      d: int = decimals, f: str = field) -> str | None:
                meter = c.meter(kind, p)
                if meter is None:
                    if p == 0 and f == "realpower":  # no CT: livedata still knows the power
                        return fmt(c.load_w if group == "output" else c.grid_w, 1)
                    return None
                return fmt(g(meter) or 0.0, d)  # a null reading counts as 0, as the seed

            rows.append(Var(name, value))
    return rows


def _battery_current(c: Ctx) -> str | None:
    meter = c.meter(CtKind.STORAGE, 0)
    return fmt(meter.current, 2) if meter is not None and meter.current is not None else None


def _battery_voltage(c: Ctx) -> str | None:
    return None if c.soc is None else fmt(lfp_voltage(c.soc, c.i.refs.voltage_high), 1)


def _capacity_ah(c: Ctx) -> str | None:
    cap, nominal = c.capacity_wh, c.i.refs.voltage_nominal
    return fmt(cap / nominal, 1) if cap and nominal > 0 else None


VARIABLES: tuple[Var, ...] = (
    Var("ups.status", lambda c: with_runtime_low(c.i.status, c.runtime_s, c.i.refs.runtime_low)),
    Var("battery.charge", lambda c: fmt_pct(c.soc)),
    Var("battery.charge.restart", lambda c: fmt_pct(c.restart_soc)),
    Var("battery.capacity", _capacity_ah),
    Var("battery.type", lambda c: "LFP"),
    Var("battery.voltage", _battery_voltage),
    Var("battery.runtime", lambda c: None if c.runtime_s is None else str(c.runtime_s)),
    Var("battery.current", _battery_current),
    Var("ups.load", lambda c: fmt(c.load_pct, 1)),
    Var("device.type", lambda c: "ups"),
    Var("device.serial", lambda c: c.i.serial or None),
    Var("ups.serial", lambda c: c.i.serial or None),
    Var("ups.firmware", lambda c: c.i.firmware),
    Var("ups.mfr", lambda c: c.i.refs.mfr),
    Var("ups.model", lambda c: c.i.refs.model),
    Var("input.phases", lambda c: "3" if c.three_phase else None),
    Var("output.phases", lambda c: "3" if c.three_phase else None),
    *_meter_vars("input", CtKind.NET),
    *_meter_vars("output", CtKind.TOTAL),
)
GENERATED: frozenset[str] = frozenset(v.name for v in VARIABLES)


def compute(inputs: Inputs) -> dict[str, str | None]:
    """Compute every generated variable, in table order; None where it cannot be computed.

    Raises:
        GatewayImplausible: a value outside its plausible range (plausible.py).
    """
    ctx = Ctx(inputs)
    out: dict[str, str | None] = {}
    for var in VARIABLES:
        value = var.value(ctx)
        out[var.name] = None if value is None else sanitize(value)
    plausible.check(out)
    return out
