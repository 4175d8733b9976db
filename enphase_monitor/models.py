"""Typed snapshots of the gateway's endpoints; wire names stay inside the from_api constructors.

Every constructor is tolerant: missing keys, nulls, numbers sent as strings and extra fields
give None (or are ignored) instead of an exception. A payload of the wrong shape altogether
(a list where an object belongs, say) raises GatewayDataError; a number no gateway sends (NaN,
an infinity, a boolean, 1e308, a negative count) raises GatewayImplausible, its subclass.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from .errors import GatewayDataError, GatewayImplausible
from .facts import INFO, LIVEDATA, RELAY, REPORTS, SECCTRL, CtKind
from .grid import Grid, GridMode, GridReading, GridSignal, Raw, grid_from_state
from .textsafe import escape
from .wirenum import count as count
from .wirenum import num as num  # re-exported: models.num is the parsers' number


def _obj(payload: object, endpoint: str) -> Mapping[str, Any]:
    if not isinstance(payload, Mapping):
        raise GatewayDataError(f"{endpoint}: expected a JSON object", endpoint)
    return payload


def _sub(payload: Mapping[str, Any], key: str) -> Mapping[str, Any]:
    value = payload.get(key)
    return value if isinstance(value, Mapping) else {}


def _text(value: object) -> str | None:
    if isinstance(value, str):
        return value.strip()
    return None


# Data source: /ivp/ensemble/relay
@dataclass(frozen=True, slots=True)
class Relay:
    """The grid relay of the IQ System Controller."""

    oper_state: str | None
    admin_state: str | None
    grid_mode: str | None = None
    raw: Raw = field(default=(), compare=False)

    @classmethod
    def from_api(cls, payload: object) -> Relay:
        data = _obj(payload, RELAY)
        names = ("mains_oper_state", "mains_admin_state", "Enchg_grid_mode")
        oper, admin, mode = (_text(data.get(name)) for name in names)
        raw = tuple((name, data.get(name)) for name in names)
        return cls(oper, admin, mode, raw)

    @property
    def grid(self) -> Grid:
        """The operational state: what the house is really connected to."""
        return grid_from_state(self.oper_state)

    @property
    def commanded_off_grid(self) -> bool:
        """True when the owner (or the gateway's schedule) asked to island."""
        return grid_from_state(self.admin_state) is Grid.OFF

    @property
    def on_generator(self) -> bool:
        """Islanded with a generator running (`Enchg_grid_mode` multimode-generator)."""
        return self.grid is Grid.OFF and self.grid_mode == GridMode.GENERATOR

    def reading(self) -> GridReading:
        """The grid state as the daemon uses it."""
        return GridReading(GridSignal.RELAY, self.grid, self.on_generator,
                           self.commanded_off_grid, self.raw)


# Data source: /ivp/livedata/status
@dataclass(frozen=True, slots=True)
class LiveData:
    """Battery and power values from live data (milliwatts converted to watts)."""

    soc: float | None = None
    phase_count: int | None = None
    split_phase: bool | None = None
    enc_energy_wh: float | None = None
    enc_soc: float | None = None
    acb_energy_wh: float | None = None
    acb_soc: float | None = None
    load_w: float | None = None
    grid_w: float | None = None
    last_update: float | None = None

    @classmethod
    def from_api(cls, payload: object) -> LiveData:
        data = _obj(payload, LIVEDATA)
        # the seed's TEST_LIVE hint is the bare meters object: {"soc": ...}
        meters = _sub(data, "meters") if "meters" in data else data

        def watts(source: str) -> float | None:
            mw = num(_sub(meters, source).get("agg_p_mw"))
            return None if mw is None else mw / 1000.0

        phases = count(meters.get("phase_count"), 3)
        split = count(meters.get("is_split_phase"), 1)
        return cls(
            soc=num(meters.get("soc")),
            phase_count=phases,
            split_phase=None if split is None else bool(split),
            enc_energy_wh=num(meters.get("enc_agg_energy")),
            enc_soc=num(meters.get("enc_agg_soc")),
            acb_energy_wh=num(meters.get("acb_agg_energy")),
            acb_soc=num(meters.get("acb_agg_soc")),
            load_w=watts("load"),
            grid_w=watts("grid"),
            last_update=num(meters.get("last_update", meters.get("timestamp"))),
        )

    @property
    def full_capacity_wh(self) -> float | None:
        """Full capacity: the energy stored now scaled up by the state of charge."""
        total = 0.0
        for energy, soc in ((self.enc_energy_wh, self.enc_soc or self.soc),
                            (self.acb_energy_wh, self.acb_soc)):
            if energy is not None and soc and soc > 0 and energy > 0:
                total += energy * 100.0 / soc
        return total or None


def _first_num(data: Mapping[str, Any], *names: str) -> float | None:
    """The first of `names` that holds a number (firmware renamed some fields)."""
    for name in names:
        value = num(data.get(name))
        if value is not None:
            return value
    return None


# Data source: /ivp/ensemble/secctrl
# The restart SOC is `soc_recovery_exit` from firmware 8.2; 8.1.41 calls it
# `Recovery_threshold_soc` (tests/fixtures/pyenphase/8.1.41).
@dataclass(frozen=True, slots=True)
class SecCtrl:
    """Battery controller settings: capacity and the SOC the batteries restart at."""

    soc_recovery_exit: float | None = None
    max_energy_wh: float | None = None
    soc: float | None = None
    enc_capacity_wh: float | None = None
    acb_soc: float | None = None
    acb_energy_wh: float | None = None

    @classmethod
    def from_api(cls, payload: object) -> SecCtrl:
        data = _obj(payload, SECCTRL)
        return cls(
            soc_recovery_exit=_first_num(data, "soc_recovery_exit", "Recovery_threshold_soc"),
            max_energy_wh=num(data.get("Max_energy")),
            soc=num(data.get("agg_soc")),
            enc_capacity_wh=num(data.get("Enc_commissioned_capacity")),
            acb_soc=num(data.get("ACB_agg_soc")),
            acb_energy_wh=num(data.get("ACB_agg_energy")),
        )

    @property
    def has_acb(self) -> bool:
        """AC Batteries: ACB charge or energy, or more capacity than the IQ Batteries have."""
        extra = (self.max_energy_wh or 0.0) - (self.enc_capacity_wh or 0.0)
        return bool((self.acb_soc or 0.0) > 0 or (self.acb_energy_wh or 0.0) > 0 or extra > 0)

    @property
    def has_capacity(self) -> bool:
        """Any battery capacity at all (Max_energy > 0)."""
        return (self.max_energy_wh or 0.0) > 0


@dataclass(frozen=True, slots=True)
class Meter:
    """One CT reading: the whole meter, or one phase leg of it."""

    realpower: float | None = None
    power: float | None = None
    voltage: float | None = None
    powerfactor: float | None = None
    frequency: float | None = None
    wh_delivered: float | None = None  # lifetime energy

    @classmethod
    def from_api(cls, payload: object) -> Meter:
        data = payload if isinstance(payload, Mapping) else {}
        return cls(
            realpower=num(data.get("currW")),
            power=num(data.get("apprntPwr")),
            voltage=num(data.get("rmsVoltage")),
            powerfactor=num(data.get("pwrFactor")),
            frequency=num(data.get("freqHz")),
            wh_delivered=num(data.get("whDlvdCum")),
        )

    @property
    def current(self) -> float | None:
        """Current from power and voltage (the gateway's rmsCurrent is not the line current)."""
        if self.voltage is None or not self.voltage:
            return None
        return (self.realpower or 0.0) / self.voltage

    @property
    def present(self) -> bool:
        """False for the all-zero readings of a system without that CT."""
        return bool(self.voltage) or bool(self.realpower)


@dataclass(frozen=True, slots=True)
class MeterReport:
    """One report of /ivp/meters/reports: a meter and its phase legs."""

    kind: str
    total: Meter
    lines: tuple[Meter, ...] = ()


# Data source: /ivp/meters/reports
@dataclass(frozen=True, slots=True)
class MeterReports:
    """The CT reports by type: production, net-consumption, total-consumption, storage."""

    reports: Mapping[str, MeterReport] = field(default_factory=dict)

    @classmethod
    def from_api(cls, payload: object) -> MeterReports:
        if not isinstance(payload, list):
            raise GatewayDataError(f"{REPORTS}: expected a JSON list", REPORTS)
        reports: dict[str, MeterReport] = {}
        for item in payload:
            if not isinstance(item, Mapping):
                continue
            kind = _text(item.get("reportType"))
            if not kind:
                continue
            raw_lines = item.get("lines")
            lines = tuple(map(Meter.from_api, raw_lines)) if isinstance(raw_lines, list) else ()
            reports[kind] = MeterReport(kind, Meter.from_api(item.get("cumulative")), lines)
        return cls(reports)

    def get(self, kind: str) -> MeterReport | None:
        """The report of that type, if the system has that CT and it reads something."""
        report = self.reports.get(kind)
        return report if report is not None and report.total.present else None

    def total_fixed(self, firmware: str | None) -> MeterReports:
        """These reports with total-consumption repaired where the firmware copies net into it.

        From firmware 8.3.5433 a gateway may report its net-consumption values as
        total-consumption too. As pyenphase does: when both report the same lifetime Wh and the
        same power, total = net + production (per phase leg where the legs are equal too).
        """
        version = firmware_version(firmware)
        net, total = self.get(CtKind.NET), self.get(CtKind.TOTAL)
        prod = self.get(CtKind.PRODUCTION)
        if version is None or version < TOTAL_IS_NET_FROM or not (net and total and prod):
            return self
        if not _same(net.total, total.total):
            return self
        lines = tuple(
            _plus(n, p) if _same(n, t) else t
            for n, t, p in zip(net.lines, total.lines, prod.lines, strict=False)
        ) if len(net.lines) == len(total.lines) == len(prod.lines) else total.lines
        fixed = MeterReport(total.kind, _plus(net.total, prod.total), lines)
        return MeterReports({**self.reports, total.kind: fixed})


TOTAL_IS_NET_FROM = (8, 3, 5433)  # pyenphase's PRODUCTION_TOTAL_IS_NET_CONSUMPTION
_VERSION = re.compile(r"[A-Za-z]*(\d+(?:\.\d+)*)")


def firmware_version(text: str | None) -> tuple[int, ...] | None:
    """(8, 3, 5433) from `D8.3.5433`; None when the text is not a version."""
    match = _VERSION.match(text or "")
    return tuple(int(part) for part in match.group(1).split(".")) if match else None


def _same(a: Meter, b: Meter) -> bool:
    """Equal power and lifetime energy, both known: one CT reported under two names."""
    return (a.realpower is not None and a.wh_delivered is not None
            and a.realpower == b.realpower and a.wh_delivered == b.wh_delivered)


def _plus(net: Meter, prod: Meter) -> Meter:
    """net + production: the house's consumption (power factor from the summed powers)."""
    real = (net.realpower or 0.0) + (prod.realpower or 0.0)
    apparent = None if net.power is None else net.power + (prod.power or 0.0)
    pf = max(-1.0, min(1.0, real / apparent)) if apparent else None
    energy = None if net.wh_delivered is None else net.wh_delivered + (prod.wh_delivered or 0.0)
    return Meter(real, apparent, net.voltage, pf, net.frequency, energy)


# Data source: /info.xml (no token needed)
@dataclass(frozen=True, slots=True)
class GatewayInfo:
    """The gateway's identity."""

    serial: str | None = None
    firmware: str | None = None
    part_number: str | None = None
    # the gateway's clock (epoch s, <time>) when it answered: a reading, not part of the identity
    time: float | None = field(default=None, compare=False)

    @classmethod
    def from_xml(cls, text: str) -> GatewayInfo:
        try:
            root = ET.fromstring(text)
        except ET.ParseError as exc:
            raise GatewayDataError(f"{INFO}: not XML ({exc})", INFO) from None
        device = root.find("device")
        if device is None:
            raise GatewayDataError(f"{INFO}: no <device> element", INFO)

        def get(tag: str) -> str | None:
            value = device.findtext(tag)
            return value.strip() if value and value.strip() else None

        firmware = get("software")
        version = _VERSION.match(firmware or "")
        if version and any(len(part) > 9 for part in version.group(1).split(".")):
            assert firmware is not None
            raise GatewayImplausible(f"implausible firmware version {escape(firmware, 40)}")
        return cls(serial=get("sn"), firmware=firmware, part_number=get("pn"),
                   time=num(root.findtext("time")))


@dataclass(frozen=True, slots=True)
class Snapshot:
    """What one poll read from the gateway, and what it could not read."""

    live: LiveData | None = None
    secctrl: SecCtrl | None = None
    reports: MeterReports | None = None
    info: GatewayInfo | None = None
    errors: Mapping[str, str] = field(default_factory=dict)
    reading: GridReading | None = None  # the grid signal chosen by topology

    @property
    def grid(self) -> Grid:
        """The grid state: the chosen signal's reading; UNKNOWN without one."""
        return self.reading.grid if self.reading is not None else Grid.UNKNOWN
