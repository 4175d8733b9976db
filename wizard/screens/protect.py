"""The last question: protect this host (upsmon), and optionally serve NAS clients on the LAN.

A screen in Textual's idiom: it takes a `ProtectPrefill` and `dismiss()`es the chosen
`ProtectAnswers`, or None for Back. It changes nothing itself; the app puts the answers into the
session, and the plan (``protectplan.py``) shows every change in the review.
"""

from __future__ import annotations

from dataclasses import replace
from typing import ClassVar

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, VerticalScroll
from textual.screen import Screen
from textual.validation import Function
from textual.widgets import Button, Checkbox, Footer, Input, Static

from ..answermodel import AnswerError
from ..protect import (
    SYNOLOGY_PASSWORD,
    SYNOLOGY_USER,
    ProtectAnswers,
    ProtectPrefill,
    address_problem,
)

SYNOLOGY_WARNING = (f"Synology's client logs in as {SYNOLOGY_USER} with the password"
                    f" '{SYNOLOGY_PASSWORD}', and nothing else: that password is public. Anyone"
                    " on your LAN can then log in to upsd and read the UPS (not change it).")


class ProtectScreen(Screen[ProtectAnswers | None]):
    """Protect this host; serve NAS clients (optional); Synology's public login (on request)."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "back", "Back"),
        Binding("ctrl+n", "next", "Next"),
    ]

    def __init__(self, prefill: ProtectPrefill) -> None:
        super().__init__()
        self.prefill = prefill

    def compose(self) -> ComposeResult:
        pre, ans = self.prefill, self.prefill.answers
        yield Static("Protect this host", id="title")
        with VerticalScroll(id="body"):
            yield Static(self._status(), id="status", classes="hint", markup=False)
            can_protect = pre.upsmon and pre.watched.monitor is None
            yield Checkbox("Protect this host (upsmon shuts it down on low battery)",
                           ans.protect and can_protect, id="protect", disabled=not can_protect)
            yield Static(f"upsmon watches UPS '{pre.ups}': a upsmon user in upsd.users, a"
                         " MONITOR line in upsmon.conf", classes="hint", markup=False)
            yield Checkbox("Serve NAS clients on the LAN", ans.serve, id="serve")
            yield Static("upsd listens on an address of this host (MODE=netserver) with a"
                         " secondary user for the NAS", classes="hint", markup=False)
            yield Static("Address upsd listens on for the LAN" + (
                f" (this host: {', '.join(pre.addresses)})" if pre.addresses else ""),
                classes="label", id="listen-label")
            rule = Function(lambda v: address_problem(v) is None,
                            "an IP address of this host, not loopback")
            yield Input(ans.nas_listen or (pre.addresses[0] if pre.addresses else ""),
                        id="listen", validators=[rule], compact=True,
                        placeholder="e.g. 192.168.1.10")
            yield Static("", id="listen-problem", classes="message")
            yield Checkbox(f"The NAS is a Synology (user {SYNOLOGY_USER}, password"
                           f" '{SYNOLOGY_PASSWORD}')", ans.nas_synology, id="synology")
            yield Static(SYNOLOGY_WARNING, id="synology-warning", classes="message warn",
                         markup=False)
            yield Static("", id="problem", classes="message")
        with Horizontal(id="nav"):
            yield Button("Back \\[Esc]", id="back", compact=True)
            yield Button("Next \\[^N]", id="next", variant="primary", compact=True)
        yield Footer()

    def _status(self) -> str:
        pre = self.prefill
        if not pre.upsmon:
            return ("upsmon is not installed (nut-client): this host cannot be protected here;"
                    " install nut-client and run enphase-setup again")
        return pre.watched.describe()

    def on_mount(self) -> None:
        self._sync()
        first = self.query_one("#protect", Checkbox)
        (first if not first.disabled else self.query_one("#serve", Checkbox)).focus()

    @on(Checkbox.Changed)
    def _sync(self) -> None:
        """Show the LAN fields only when serving the LAN; the warning with Synology."""
        serve = self.query_one("#serve", Checkbox).value
        for selector in ("#listen-label", "#listen", "#listen-problem", "#synology"):
            self.query_one(selector).display = serve
        synology = self.query_one("#synology", Checkbox).value
        self.query_one("#synology-warning").display = serve and synology

    @on(Input.Submitted, "#listen")
    def action_next(self) -> None:
        """Check the answers; dismiss with them, or show what to fix next to the field."""
        answers = self.result()
        problem = address_problem(answers.nas_listen) if answers.serve else None
        self._say("listen-problem", f"✗ {problem}" if problem else "")
        if problem:
            self.query_one("#listen", Input).focus()
            return
        try:
            answers.check(self.prefill.ups)
        except AnswerError as exc:
            self._say("problem", f"✗ {exc}")
            return
        self.dismiss(answers)

    def action_back(self) -> None:
        """Back: no answers."""
        self.dismiss(None)

    def result(self) -> ProtectAnswers:
        """The answers as the widgets show them now."""
        serve = self.query_one("#serve", Checkbox).value
        return replace(
            self.prefill.answers,
            protect=self.query_one("#protect", Checkbox).value,
            nas_listen=self.query_one("#listen", Input).value.strip() if serve else "",
            nas_synology=serve and self.query_one("#synology", Checkbox).value)

    def _say(self, widget_id: str, text: str) -> None:
        widget = self.query_one(f"#{widget_id}", Static)
        widget.update(Text(text))
        widget.set_classes("message error" if text else "message")

    def on_button_pressed(self, event: Button.Pressed) -> None:
        event.stop()
        if event.button.id == "back":
            self.action_back()
        elif event.button.id == "next":
            self.action_next()
