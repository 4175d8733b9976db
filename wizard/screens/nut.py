"""Step 3: NUT: what was found, the UPS name, battery.charge.low, POLLFREQ and the port file."""

from __future__ import annotations

from textual import on
from textual.app import ComposeResult
from textual.widgets import Input, Static

from ..facts import STATE_DIR
from ..nutconf import UpsConf
from ..planner.nut import SectionCheck, section_check
from ..rules import Rule
from ..steps import NutAnswer
from .base import WizardScreen
from .validators import first_failure, validators_for

# field id -> (Answers field, label)
FIELDS = {"ups": ("ups", "UPS name"), "charge-low": ("charge_low", "battery.charge.low"),
          "pollfreq": ("pollfreq", "POLLFREQ"), "port": ("port_file", "Port file")}


class SectionRule(Rule):
    """A UPS name whose ups.conf section belongs to another driver will not do."""

    def __init__(self, screen: NutScreen) -> None:
        self.screen = screen

    def failure(self, text: str) -> str | None:
        """The section's problem, if any."""
        return self.screen.section(text.strip()).problem


class NutScreen(WizardScreen[NutAnswer]):
    """The NUT side of the set-up."""

    TITLE_TEXT = "NUT: the UPS that NUT will show"
    FIRST_FIELD = "ups"

    def body(self) -> ComposeResult:
        ans, facts = self.session.answers, self.session.facts
        found = "\n".join(f"{what:<15} {value}" for what, value in facts.summary())
        conf = self.conf()
        sections = ", ".join(
            f"[{s.name}] ({s.settings.get('driver', '?')})" for s in conf.sections) or "none"
        yield Static(f"{found}\n{'ups.conf':<15} {facts.nut.ups_conf}: sections {sections}",
                     classes="facts", markup=False)
        yield Static("UPS name (the ups.conf section; upsc <name>@localhost)", classes="label")
        yield Input(ans.ups, id="ups", compact=True,
                    validators=validators_for("ups", SectionRule(self)))
        yield Static(self.section(ans.ups).note, classes="hint", id="ups-hint", markup=False)
        yield Static("battery.charge.low: NUT says LB (low battery) below this charge, in %",
                     classes="label")
        yield Input(str(ans.charge_low), id="charge-low", type="integer", compact=True,
                    validators=validators_for("charge_low"))
        yield Static("POLLFREQ: seconds between full polls on grid (the relay is checked"
                     " every 5 s in between)", classes="label")
        yield Input(str(ans.pollfreq), id="pollfreq", type="integer", compact=True,
                    validators=validators_for("pollfreq"))
        yield Static("Port file (dummy-ups reads it, enphase-monitor writes it)", classes="label")
        yield Input(str(ans.port_path), id="port", compact=True,
                    validators=validators_for("port_file"))
        yield Static(f"{STATE_DIR} is the daemon's StateDirectory: it survives reboots, user"
                     " nut may write it, and under SELinux it is labelled so that NUT's drivers"
                     " may read it.", classes="hint")
        yield Static("", id="problem", classes="message")

    def conf(self) -> UpsConf:
        """ups.conf as it is now."""
        return UpsConf(self.session.system.read_text(self.session.facts.nut.ups_conf) or "")

    def section(self, ups: str) -> SectionCheck:
        """What ups.conf says about the name `ups`."""
        configured = self.session.system.exists(self.session.facts.nut.config_file(ups))
        return section_check(ups, self.conf(), configured)

    @on(Input.Changed, "#ups")
    def ups_changed(self, event: Input.Changed) -> None:
        port = self.query_one("#port", Input)
        default = str(STATE_DIR / f"{self.session.answers.ups}.dev")
        if port.value == default or port.value.startswith(f"{STATE_DIR}/"):
            name = event.value.strip() or "ups"
            port.value = str(STATE_DIR / f"{name}.dev")

    @on(Input.Submitted)
    def submitted(self) -> None:
        self.action_next()

    def submit(self) -> None:
        problems, first = [], ""
        for widget_id, (_, label) in FIELDS.items():
            widget = self.query_one(f"#{widget_id}", Input)
            failure = first_failure(widget.validate(widget.value))
            if failure:
                problems.append(f"{label}: {failure}")
                first = first or widget_id
        if problems:
            self.set_message("problem", "\n".join(f"✗ {p}" for p in problems), "error")
            self.focus_field(first)
            return
        value = {wid: self.query_one(f"#{wid}", Input).value.strip() for wid in FIELDS}
        self.dismiss(NutAnswer(value["ups"], int(value["charge-low"]), int(value["pollfreq"]),
                               value["port"]))
