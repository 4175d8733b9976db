"""Step 3: NUT: what was found, the UPS name, the low-battery rules, POLLFREQ and the port file."""

from __future__ import annotations

from dataclasses import replace
from pathlib import PurePosixPath

from textual import on
from textual.app import ComposeResult
from textual.widgets import Input, Static

from enphase_monitor.errors import MonitorError

from .. import shown
from ..facts import STATE_DIR
from ..nutconf import UpsConf
from ..planner.context import under
from ..planner.nut import SectionCheck, nut_problem, port_problem, section_check
from ..prefill import load_existing
from ..rules import Rule
from ..steps import NutAnswer
from .base import StepBar, WizardScreen, field_error_line
from .confirm import ConfirmScreen
from .validators import validators_for

FIELDS = ("ups", "charge-low", "runtime-low", "pollfreq", "port")


class SectionRule(Rule):
    """A UPS name whose ups.conf section belongs to another driver will not do."""

    def __init__(self, screen: NutScreen) -> None:
        self.screen = screen

    def failure(self, text: str) -> str | None:
        """The section's problem, if any."""
        return self.screen.section(text.strip()).problem


class PortRule(Rule):
    """A port file another UPS uses will not do (planner/nut.py port_problem)."""

    def __init__(self, screen: NutScreen) -> None:
        self.screen = screen

    def failure(self, text: str) -> str | None:
        """Another UPS's port file, if it is one (a relative path is PortFile's to refuse)."""
        path = text.strip()
        if not path.startswith("/"):
            return None
        session = self.screen.session
        ups = self.screen.query_one("#ups", Input).value.strip() or "ups"
        return port_problem(session.system, session.facts, ups, PurePosixPath(path))


class NutScreen(WizardScreen[NutAnswer]):
    """The NUT side of the set-up."""

    TITLE_TEXT = "NUT: the UPS that NUT will show"
    FIRST_FIELD = "ups"

    def body(self) -> ComposeResult:
        ans, facts = self.session.answers, self.session.facts
        self.ups_conf = UpsConf(self.session.system.read_text(facts.nut.ups_conf) or "")
        found = "\n".join(f"{what:<15} {value}" for what, value in facts.summary())
        sections = ", ".join(f"[{shown.raw(s.name)}] ({shown.raw(s.settings.get('driver', '?'))})"
                             for s in self.ups_conf.sections) or "none"
        yield Static(f"{found}\n{'ups.conf':<15} {facts.nut.ups_conf}: sections {sections}",
                     classes="facts", markup=False)
        problem = nut_problem(facts)
        if problem:
            note = "" if not self.session.dry_run else " (a dry run goes on)"
            yield Static(f"✗ {problem}{note}", id="nut-problem", classes="message error",
                         markup=False)
        yield Static("UPS name (the ups.conf section; upsc <name>@localhost)", classes="label")
        yield Input(ans.ups, id="ups", compact=True,
                    validators=validators_for("ups", SectionRule(self)), validate_on=["blur"])
        yield field_error_line("ups")
        yield Static("", classes="hint", id="ups-hint", markup=False)
        yield Static("battery.charge.low: NUT says LB (low battery) below this charge, in %",
                     classes="label")
        yield Input(str(ans.charge_low), id="charge-low", compact=True,
                    validators=validators_for("charge_low"), validate_on=["blur"])
        yield field_error_line("charge-low")
        yield Static("battery.runtime.low: also LB when fewer seconds than this are left at the"
                     " present load (0: off)", classes="label")
        yield Input(str(ans.runtime_low), id="runtime-low", compact=True,
                    validators=validators_for("runtime_low"), validate_on=["blur"])
        yield field_error_line("runtime-low")
        yield Static("POLLFREQ: seconds between full polls on grid (the relay is checked"
                     " every 5 s in between)", classes="label")
        yield Input(str(ans.pollfreq), id="pollfreq", compact=True,
                    validators=validators_for("pollfreq"), validate_on=["blur"])
        yield field_error_line("pollfreq")
        yield Static("Port file (dummy-ups reads it, enphase-monitor writes it)", classes="label")
        yield Input(str(ans.port_path), id="port", compact=True,
                    validators=validators_for("port_file", PortRule(self)), validate_on=["blur"])
        yield field_error_line("port")
        yield Static("", classes="hint", id="port-hint", markup=False)

    def on_mount(self) -> None:
        self.show_section(self.query_one("#ups", Input).value.strip())
        self.show_port_hint(self.query_one("#port", Input).value.strip())

    def section(self, ups: str) -> SectionCheck:
        """What ups.conf says about the name `ups`."""
        session = self.session
        try:
            existing = session.existing if ups == session.existing.ups else \
                load_existing(session.system, session.facts, ups)
            ours = existing.owns_section
        except MonitorError:  # its config is not a file the wizard reads: not ours
            ours = False
        return section_check(ups, self.ups_conf, ours)

    def show_section(self, ups: str) -> None:
        """The hint under the name says what this name does to ups.conf."""
        check = self.section(ups)
        kind = "error" if check.problem else "warn" if check.takeover else ""
        hint = self.query_one("#ups-hint", Static)
        hint.update(check.note)
        hint.set_classes(f"hint {kind}".strip())

    def show_port_hint(self, text: str) -> None:
        """What the directory of the port file typed means for NUT and the daemon."""
        name = self.query_one("#ups", Input).value.strip() or "ups"
        path = PurePosixPath(text) if text.startswith("/") else STATE_DIR / f"{name}.dev"
        nut = self.session.facts.nut
        if path.parent == STATE_DIR:
            hint = (f"{STATE_DIR} is the daemon's StateDirectory: it survives reboots, user"
                    " nut may write it, and under SELinux it is labelled so that NUT's drivers"
                    " may read it.")
        elif under(path.parent, nut.confdir):
            hint = (f"{path.parent} is in NUT's config directory: NUT's drivers may read it"
                    " (SELinux: nut_conf_t); the port file is made writable for user"
                    f" {nut.user}.")
        else:
            hint = (f"{path.parent}: created (0750 {nut.user}:{nut.group}) when missing; under"
                    " SELinux it is labelled nut_conf_t so that NUT's drivers may read it. It"
                    " must survive reboots.")
        self.query_one("#port-hint", Static).update(hint)

    @on(Input.Changed, "#ups")
    def ups_changed(self, event: Input.Changed) -> None:
        name = event.value.strip()
        self.query_one(StepBar).show_ups(name)
        self.show_section(name)
        port = self.query_one("#port", Input)
        if port.value.startswith(f"{STATE_DIR}/") and port.value.endswith(".dev"):
            port.value = str(STATE_DIR / f"{name or 'ups'}.dev")

    @on(Input.Changed, "#port")
    def port_changed(self, event: Input.Changed) -> None:
        self.show_port_hint(event.value.strip())

    @on(Input.Submitted)
    def submitted(self) -> None:
        self.action_next()

    def submit(self) -> None:
        if not self.check_fields(*FIELDS):
            return
        if nut_problem(self.session.facts) and not self.session.dry_run:
            self.query_one("#nut-problem").scroll_visible(animate=False)
            return
        value = {field: self.query_one(f"#{field}", Input).value.strip() for field in FIELDS}
        answer = NutAnswer(value["ups"], int(value["charge-low"]), int(value["runtime-low"]),
                           int(value["pollfreq"]), value["port"])
        check = self.section(answer.ups)
        ans = self.session.answers
        if not check.takeover or (ans.adopt_section and ans.ups == answer.ups):
            self.dismiss(answer)
            return

        def confirmed(yes: bool | None) -> None:
            if yes:
                self.dismiss(replace(answer, adopt_section=True))
            else:
                self.focus_field("ups")

        self.app.push_screen(ConfirmScreen(f"{check.takeover}.\n\nTake over [{answer.ups}]?",
                                           "Take it over", "Choose another name"), confirmed)
