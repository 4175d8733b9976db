"""`enphase-monitor -v -s`: one readable report of what works, what does not, and what to do.

Every line goes through `Report.line`, which escapes control characters: gateway strings,
error texts and config values cannot break a line or reach the terminal as escape sequences.
"""

from __future__ import annotations

import contextlib
import os
import stat
from dataclasses import dataclass, field
from typing import TextIO

from .charge import ChargeSource
from .config import Config
from .configkeys import GRID_SIGNAL_AUTO
from .errors import AuthError, GatewayError, MonitorError, UnsupportedHardware
from .facts import INFO, INVENTORY, LIVEDATA, RELAY, REPORTS, SECCTRL, CtKind
from .grid import Grid, GridSignal, wire_pairs
from .models import Snapshot
from .monitor import Monitor, State
from .nutvars import GENERATED, RUNTIME_LOW
from .poller import Poller
from .portfile import parse_line
from .sdnotify import Notifier
from .textsafe import escape
from .topology import KIND_NAMES, SIGNAL_NAMES, Refusal, choose_signal
from .wiring import Clients, build_clients

MAX_VALUE_CHARS = 400  # one value of the report
MAX_LINE_CHARS = 1000  # one line (a problem and what to do about it)


@dataclass
class Report:
    """Lines of the report and the problems found, each with what to do."""

    out: TextIO
    problems: list[str] = field(default_factory=list)

    def line(self, text: str, indent: str = "") -> None:
        """Write one line, escaped (the only way text reaches the report)."""
        self.out.write(f"{indent}{escape(text, MAX_LINE_CHARS)}\n")

    def head(self, title: str) -> None:
        self.out.write("\n")
        self.line(title)

    def row(self, key: str, value: str) -> None:
        self.line(f"{escape(key, 22):<22} {escape(value, MAX_VALUE_CHARS)}", "  ")

    def problem(self, text: str) -> None:
        self.problems.append(text)


def _file_facts(path: os.PathLike[str]) -> str:
    try:
        st = os.stat(path)
    except OSError as exc:
        return f"missing ({exc.strerror})"
    return f"mode {stat.S_IMODE(st.st_mode):04o}, owner {st.st_uid}:{st.st_gid}"


_ADVICE = {
    RELAY: "the grid state comes from this endpoint on systems with an IQ System Controller",
    INVENTORY: "the hardware (and on IQ Meter Collar systems the grid state) comes from it",
    LIVEDATA: "battery charge comes from this endpoint",
    SECCTRL: "without it the restart SOC defaults to 10 and capacity comes from live data",
    REPORTS: "without CT reports power values come from live data (or set DISABLE_METERS=1)",
    INFO: "without it ups.firmware is left out",
}


def diagnose(config: Config, out: TextIO) -> int:
    """Print the report; returns 0 when nothing is wrong, 1 otherwise."""
    rep = Report(out)
    rep.line(f"enphase-monitor diagnostics for UPS '{config.ups}'")
    _config(rep, config)
    clients = build_clients(config)
    monitor = Monitor(config, clients, Notifier())
    try:
        _token(rep, clients)
        _gateway(rep, config, clients)
        _endpoints(rep, config, clients, _hardware(rep, config, clients.poller))
        _port_file(rep, config, monitor)
    finally:
        clients.close()
    rep.head("Result")
    if not rep.problems:
        rep.line("everything works", "  ")
        return 0
    for text in rep.problems:
        rep.line(text, "  - ")
    return 1


def _config(rep: Report, config: Config) -> None:
    rep.head("Config")
    for key, value in config.shown():
        rep.row(key, value)
    rep.row("config file", _file_facts(config.path))
    for key in config.unknown_keys:
        rep.problem(f"unknown config key {key}: check its spelling (it is ignored)")


def _token(rep: Report, clients: Clients) -> None:
    rep.head("Token")
    try:
        clients.tokens.token()
        rep.row("token", clients.tokens.describe())
    except (AuthError, MonitorError) as exc:
        rep.row("token", f"NONE: {exc}")
        rep.problem(f"no token: {exc}")


def _gateway(rep: Report, config: Config, clients: Clients) -> None:
    rep.head(f"Gateway https://{config.envoy_host}")
    try:
        info = clients.gateway.info()
        rep.row("serial", info.serial or "?")
        rep.row("firmware", info.firmware or "?")
        if info.serial and config.serial and info.serial != config.serial:
            rep.problem(f"gateway serial is {info.serial} but SERIAL={config.serial}:"
                        " fix SERIAL (the token is issued for one serial)")
    except GatewayError as exc:
        rep.row("info.xml", f"FAILED: {exc}")


def _endpoints(rep: Report, config: Config, clients: Clients, signal: GridSignal | None
               ) -> None:
    """Each endpoint the daemon reads: its HTTP status and latency, and advice if it failed."""
    grid_path = RELAY if signal is GridSignal.RELAY else INVENTORY
    endpoints = tuple(dict.fromkeys((INVENTORY, grid_path, LIVEDATA, SECCTRL) + (
        () if config.disable_meters else (REPORTS,))))
    rep.head("Endpoints")
    for path in endpoints:
        with contextlib.suppress(GatewayError, AuthError):
            clients.gateway.get_json(path)
    for path in (INFO, *endpoints):
        stat_ = clients.gateway.stats.get(path)
        if stat_ is None:
            rep.row(path, "not tried")
            continue
        status = "no answer" if stat_.status is None else f"HTTP {stat_.status}"
        latency = f"{stat_.latency:.3f} s" if stat_.latency is not None else "-"
        ok = stat_.status == 200
        rep.row(path, f"{status:<10} {latency:<9} {'ok' if ok else stat_.error or ''}")
        if not ok:
            why = stat_.error or status
            rep.problem(f"{path} failed ({why}): {_ADVICE[path]};"
                        f" check ENVOY_HOST={config.envoy_host} and API_TIMEOUT")


def _port_file(rep: Report, config: Config, monitor: Monitor) -> None:
    """One poll written as the daemon writes it (`-s`), and the values it wrote."""
    rep.head(f"Port file {config.port_file}")
    try:
        ok = monitor.cycle()
    except UnsupportedHardware:
        ok = False  # reported under Hardware; the daemon would hide the file and exit
    where = monitor.port.path if not monitor.port.hidden else monitor.port.nocomms_path
    rep.row("file", f"{where} ({_file_facts(where)})")
    rep.row("state", monitor.state.value)
    if not ok and monitor.last_error:
        rep.problem(f"poll failed: {monitor.last_error}")
    charge = monitor.clients.poller.charge_log
    if ok and charge.source is ChargeSource.SECCTRL:
        rep.row("battery.charge", f"from {SECCTRL} agg_soc: {LIVEDATA} is stale (last_update"
                f" {charge.age or 0:.0f} s old by the gateway's clock; its streaming is off)")
    snap = monitor.last_snapshot
    if ok and snap is not None:
        _values(rep, snap, monitor.refs.runtime_low)
    if ok and snap is not None and snap.live is not None and not snap.live.full_capacity_wh \
            and not (snap.secctrl and snap.secctrl.max_energy_wh):
        rep.problem("no IQ Battery energy reported (battery.charge 0, no capacity): without"
                    " batteries this gateway cannot act as a UPS; check the batteries in"
                    " the Enphase app")
    if monitor.state is not State.NOCOMMS:
        for raw in monitor.port.read().lines:
            name, _ = parse_line(raw)
            if name in GENERATED:
                rep.line(raw, "    ")


def _hardware(rep: Report, config: Config, poller: Poller) -> GridSignal | None:
    """The topology found, the grid signal chosen (or why none) and what it says now."""
    rep.head("Hardware")
    setting = config.grid_signal
    try:
        topology = poller.detect()
    except (GatewayError, AuthError) as exc:
        rep.row("topology", f"NOT READ: {exc}")
        rep.problem(f"the hardware could not be read ({exc}): check ENVOY_HOST and the token")
        return setting
    rep.row("found", topology.found())
    rep.row("topology", f"{topology.kind} ({KIND_NAMES[topology.kind]})")
    choice = choose_signal(topology, setting)
    auto = choose_signal(topology)
    if isinstance(choice, Refusal):
        rep.row("grid signal", "NONE: this hardware cannot act as a UPS")
        rep.problem(str(choice))
        return None
    how = f"GRID_SIGNAL={setting}" if setting else f"GRID_SIGNAL={GRID_SIGNAL_AUTO}"
    rep.row("grid signal", f"{choice}: {SIGNAL_NAMES[choice]} ({how})")
    if isinstance(auto, Refusal):
        rep.row("note", f"detection alone would refuse: {auto.why}")
    poller.signal = choice
    try:
        reading = poller.grid_check()
    except (GatewayError, AuthError) as exc:
        unknown = poller.unknown
        rep.row("grid state", f"NOT READ: {exc}")
        if unknown is not None:
            rep.row("raw values", wire_pairs(unknown.raw))
        rep.problem(f"the grid state could not be read from the {choice} signal: {exc}")
        return choice
    state = "on grid" if reading.grid is Grid.ON else "off grid"
    if reading.generator:
        state += ", on generator (the utility is out)"
    elif reading.commanded:
        state += " by command"
    rep.row("grid state", f"{state} ({wire_pairs(reading.raw)})")
    return choice


def _values(rep: Report, snap: Snapshot, runtime_low: float | None) -> None:
    """How the LB decision is made, and the CT repair where the firmware needs it."""
    rule = "battery.charge.low"
    if runtime_low is not None:
        rule += f" or {RUNTIME_LOW} ({runtime_low:g} s)"
    rep.row("LB when below", rule)
    firmware = snap.info.firmware if snap.info else None
    if snap.reports is not None and snap.reports.total_fixed(firmware) is not snap.reports:
        rep.row(CtKind.TOTAL, f"repaired: firmware {firmware} reports net-consumption"
                " as total-consumption, so output.* = net + production")
