"""Step 1: find the gateway (envoy.local, mDNS, or a typed host) and read its serial."""

from __future__ import annotations

from textual import on, work
from textual.app import ComposeResult
from textual.containers import Horizontal
from textual.widgets import Button, Input, LoadingIndicator, OptionList, Static
from textual.widgets.option_list import Option

from .. import shown
from ..discovery import Found, Probe
from ..rules import Needed
from ..steps import GatewayAnswer
from .base import WizardScreen, field_error_line
from .validators import validators_for


class GatewayScreen(WizardScreen[GatewayAnswer]):
    """Discovery, then /info.xml of the chosen host."""

    TITLE_TEXT = "Find the IQ Gateway"
    CAN_GO_BACK = False
    FIRST_FIELD = "host"

    def body(self) -> ComposeResult:
        ans = self.session.answers
        yield Static("Looking on the network: envoy.local and mDNS (_enphase-envoy._tcp)...",
                     id="searching", classes="hint")
        yield LoadingIndicator(id="spinner")
        yield OptionList(id="found", markup=False, compact=True)
        yield Static("Gateway host name or IP (optionally :port)", classes="label")
        with Horizontal(classes="row"):
            yield Input(ans.envoy_host, placeholder="envoy.local", id="host", compact=True,
                        validators=validators_for("envoy_host"), validate_on=["blur"])
            yield Button("Check", id="check", compact=True)
        yield field_error_line("host")
        yield Static("", id="probe", classes="message")
        yield Static("Serial number (read from the gateway's /info.xml; tokens are per serial)",
                     classes="label")
        yield Input(ans.serial, placeholder="e.g. 122312345678", id="serial", compact=True,
                    validators=validators_for("serial", Needed()), validate_on=["blur"])
        yield field_error_line("serial")

    def on_mount(self) -> None:
        self.query_one("#found", OptionList).display = False
        self.host_at_start = self.query_one("#host", Input).value
        self.serial_at_probe = ""
        self.discover()

    @work(thread=True, exclusive=True, group="discover")
    def discover(self) -> None:
        """Look for gateways (a thread: DNS and mDNS block)."""
        found = self.session.services.discover()
        self.app.call_from_thread(self.show_found, found)

    def show_found(self, found: list[Found]) -> None:
        """List what discovery found, then check the most likely host."""
        self.session.found = found
        self.query_one("#spinner", LoadingIndicator).display = False
        options = self.query_one("#found", OptionList)
        options.clear_options()
        for number, item in enumerate(found):
            details = ", ".join(x for x in (
                f"serial {shown.short(item.serial)}" if item.serial else "",
                f"firmware {shown.short(item.firmware)}" if item.firmware else "",
                f"via {item.source}") if x)
            options.add_option(Option(f"{shown.message(item.host)}  ({details})",
                                      id=str(number)))
        options.display = bool(found)
        count = len(found)
        text = (f"Found {count} gateway{'s' if count != 1 else ''}: pick one, or type a host."
                if found else "No gateway found on the network: type its host name or IP.")
        self.query_one("#searching", Static).update(text)
        host = self.query_one("#host", Input)
        if host.value != self.host_at_start:
            return  # the user is typing a host: leave it alone
        if found and not self.session.existing.configured and host.value in ("", "envoy.local"):
            host.value = found[0].host
        if host.value:
            self.check_host(host.value)

    @on(OptionList.OptionSelected, "#found")
    def picked(self, event: OptionList.OptionSelected) -> None:
        item = self.session.found[int(event.option.id or 0)]
        self.query_one("#host", Input).value = item.host
        self.check_host(item.host)

    @on(Button.Pressed, "#check")
    @on(Input.Submitted, "#host")
    def check_clicked(self) -> None:
        self.check_host(self.query_one("#host", Input).value.strip())

    def check_host(self, host: str) -> None:
        """Read /info.xml from `host` in the background."""
        if self.check_field("host"):
            return
        self.set_message("probe", f"Asking {host} for /info.xml...", "hint")
        self.serial_at_probe = self.query_one("#serial", Input).value
        self.probe(host)

    @work(thread=True, exclusive=True, group="probe")
    def probe(self, host: str) -> None:
        """The /info.xml request (a thread)."""
        result = self.session.services.probe(host, "")
        self.app.call_from_thread(self.show_probe, result)

    def show_probe(self, result: Probe) -> None:
        """Say what the gateway is, and prefill SERIAL."""
        self.session.probe = result
        if not result.ok or result.info is None:
            self.set_message("probe", f"✗ {shown.message(result.error)}", "error")
            return
        info = result.info
        serial = self.query_one("#serial", Input)
        old = serial.value.strip()
        typed = serial.value != self.serial_at_probe  # typed while the gateway was asked
        if not typed:
            serial.value = info.serial or old
        text = (f"✓ IQ Gateway {shown.short(info.serial)},"
                f" firmware {shown.short(info.firmware) or 'unknown'}")
        if info.part_number:
            text += f", part {shown.short(info.part_number)}"
        text += f", at {result.host}"
        if old and info.serial and old != info.serial:
            text += (f"\n  (the serial typed, {shown.short(old)}, is kept)" if typed else
                     f"\n  (the config said SERIAL {shown.short(old)}: the gateway's own"
                     " serial is used)")
        self.set_message("probe", text, "ok")
        searching = self.query_one("#searching", Static)
        if not self.session.found:
            searching.update(f"Not found by discovery, but {result.host} answered.")

    @on(Input.Submitted, "#serial")
    def serial_submitted(self) -> None:
        self.action_next()

    def submit(self) -> None:
        if not self.check_fields("host", "serial"):
            return
        host = self.query_one("#host", Input).value.strip()
        serial = self.query_one("#serial", Input).value.strip()
        probe = self.session.probe
        self.dismiss(GatewayAnswer(host, serial, probe if probe and probe.host == host else None))
