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

from .config import Config
from .errors import AuthError, GatewayError, MonitorError
from .gateway import INFO, LIVEDATA, RELAY, REPORTS, SECCTRL
from .monitor import Monitor, State
from .nutvars import GENERATED
from .portfile import parse_line
from .textsafe import escape

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
    RELAY: "the grid state comes only from this endpoint: it needs an IQ System Controller",
    LIVEDATA: "battery charge comes from this endpoint",
    SECCTRL: "without it the restart SOC defaults to 10 and capacity comes from live data",
    REPORTS: "without CT reports power values come from live data (or set DISABLE_METERS=1)",
    INFO: "without it ups.firmware is left out",
}


def diagnose(config: Config, out: TextIO) -> int:
    """Print the report; returns 0 when nothing is wrong, 1 otherwise."""
    rep = Report(out)
    rep.line(f"enphase-monitor diagnostics for UPS '{config.ups}'")
    rep.head("Config")
    for key, value in config.shown():
        rep.row(key, value)
    rep.row("config file", _file_facts(config.path))
    for key in config.unknown_keys:
        rep.problem(f"unknown config key {key}: check its spelling (it is ignored)")

    monitor = Monitor(config)
    clients = monitor.clients
    try:
        rep.head("Token")
        try:
            clients.tokens.token()
            rep.row("token", clients.tokens.describe())
        except (AuthError, MonitorError) as exc:
            rep.row("token", f"NONE: {exc}")
            rep.problem(f"no token: {exc}")

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
        probes = (RELAY, LIVEDATA, SECCTRL) + (() if config.disable_meters else (REPORTS,))
        for path in probes:
            with contextlib.suppress(GatewayError, AuthError):
                clients.gateway.get_json(path)
        for path in (INFO, *probes):
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

        rep.head(f"Port file {config.port_file}")
        ok = monitor.cycle()
        where = monitor.port.path if not monitor.port.hidden else monitor.port.nocomms_path
        rep.row("file", f"{where} ({_file_facts(where)})")
        rep.row("state", monitor.state.value)
        if not ok:
            rep.problem(f"poll failed: {monitor.last_error}")
        snap = monitor.last_snapshot
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
    finally:
        clients.close()

    rep.head("Result")
    if not rep.problems:
        rep.line("everything works", "  ")
        return 0
    for text in rep.problems:
        rep.line(text, "  - ")
    return 1
