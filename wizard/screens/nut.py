"""Step 3: NUT: what was found, the UPS name, the low-battery rules, POLLFREQ and the port file."""

from __future__ import annotations

from pathlib import PurePosixPath

from textual import on
from textual.app import ComposeResult
from textual.validation import Function, Integer, Regex
from textual.widgets import Input, Static

from enphase_monitor.nutvars import RUNTIME_CAP_S

from ..answers import UPS_NAME
from ..nutconf import UpsConf
from ..plan import section_problem
from ..system import STATE_DIR
from .base import WizardScreen

VOLATILE = (PurePosixPath("/run"), PurePosixPath("/tmp"), PurePosixPath("/var/run"),
            PurePosixPath("/dev/shm"))


def port_problem(text: str) -> str | None:
    """Why a port-file path will not do (None: fine)."""
    path = PurePosixPath(text)
    if not path.is_absolute():
        return "the port file needs an absolute path"
    if any(path == d or d in path.parents for d in VOLATILE):
        return f"{path.parent} is emptied at reboot; the monitor never creates the port file"
    return None


class NutScreen(WizardScreen):
    """The NUT side of the set-up."""

    STEP = "nut"
    TITLE_TEXT = "NUT: the UPS that NUT will show"

    def body(self) -> ComposeResult:
        ans, facts = self.session.answers, self.session.facts
        found = "\n".join(f"{what:<15} {value}" for what, value in facts.summary())
        conf = UpsConf(self.session.system.read_text(facts.nut.ups_conf) or "")
        sections = ", ".join(
            f"[{s.name}] ({s.settings.get('driver', '?')})" for s in conf.sections) or "none"
        yield Static(f"{found}\n{'ups.conf':<15} {facts.nut.ups_conf}: sections {sections}",
                     classes="facts", markup=False)
        yield Static("UPS name (the ups.conf section; upsc <name>@localhost)", classes="label")
        name_rule = Regex(UPS_NAME.pattern, failure_description="letters, digits, '_', '-', '.'")
        yield Input(ans.ups, id="ups", validators=[name_rule], compact=True)
        hint = ("'ups' is free: Synology and other NAS clients expect that name."
                if conf.section("ups") is None else
                "There is a section [ups] already; its name is what Synology expects.")
        yield Static(hint, classes="hint", id="ups-hint", markup=False)
        yield Static("battery.charge.low: NUT says LB (low battery) below this charge, in %",
                     classes="label")
        yield Input(str(ans.charge_low), id="charge-low", type="integer", compact=True,
                    validators=[Integer(0, 100, failure_description="0 to 100")])
        yield Static("battery.runtime.low: also LB when fewer seconds than this are left at the"
                     " present load (0: off)", classes="label")
        yield Input(str(ans.runtime_low), id="runtime-low", type="integer", compact=True,
                    validators=[Integer(0, RUNTIME_CAP_S,
                                        failure_description=f"0 to {RUNTIME_CAP_S}")])
        yield Static("POLLFREQ: seconds between full polls on grid (the relay is checked"
                     " every 5 s in between)", classes="label")
        yield Input(str(ans.pollfreq), id="pollfreq", type="integer", compact=True,
                    validators=[Integer(5, 86400, failure_description="5 to 86400")])
        yield Static("Port file (dummy-ups reads it, enphase-monitor writes it)", classes="label")
        port_rule = Function(lambda v: port_problem(v) is None, "absolute, persistent path")
        yield Input(str(ans.port_path), id="port", validators=[port_rule], compact=True)
        yield Static(f"{STATE_DIR} is the daemon's StateDirectory: it survives reboots, user"
                     " nut may write it, and under SELinux it is labelled so that NUT's drivers"
                     " may read it.", classes="hint")
        yield Static("", id="problem", classes="message")

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

    def go_next(self) -> None:
        ups = self.query_one("#ups", Input).value.strip()
        low = self.query_one("#charge-low", Input).value.strip()
        runtime = self.query_one("#runtime-low", Input).value.strip() or "0"
        poll = self.query_one("#pollfreq", Input).value.strip()
        port = self.query_one("#port", Input).value.strip()
        problems = []
        if not UPS_NAME.fullmatch(ups):
            problems.append("UPS name: letters, digits, '_', '-' and '.' only")
        if not low.isdigit() or not 0 <= int(low) <= 100:
            problems.append("battery.charge.low: a whole number from 0 to 100")
        if not runtime.isdigit() or not 0 <= int(runtime) <= RUNTIME_CAP_S:
            problems.append(f"battery.runtime.low: a whole number from 0 to {RUNTIME_CAP_S}")
        if not poll.isdigit() or not 5 <= int(poll) <= 86400:
            problems.append("POLLFREQ: a whole number from 5 to 86400")
        if port_problem(port):
            problems.append(f"port file: {port_problem(port)}")
        if not problems:
            self.session.reload(ups)
            ans = self.session.answers
            ans.ups, ans.charge_low, ans.pollfreq, ans.port_file = ups, int(low), int(poll), port
            ans.runtime_low = int(runtime)
            conf = UpsConf(self.session.system.read_text(self.session.facts.nut.ups_conf) or "")
            problem = section_problem(ans, conf)
            if problem:
                problems.append(problem)
        if problems:
            self.set_message("problem", "\n".join(f"✗ {p}" for p in problems), "error")
            return
        super().go_next()
