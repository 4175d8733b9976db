"""The Textual app: the order of the screens for each mode, and how the run ends.

Only this module and ``screens/`` import Textual; everything they change goes through
`Session` and the plan (``plan.py``, ``changes.py``).
"""

from __future__ import annotations

import sys
from typing import ClassVar

from textual.app import App
from textual.binding import Binding, BindingType
from textual.screen import Screen

from .session import REAUTH, Session

SETUP_STEPS = ("gateway", "credentials", "nut", "secret", "review", "apply", "done")
REAUTH_STEPS = ("credentials", "secret", "review", "apply", "done")
STEP_NAMES = {"gateway": "Gateway", "credentials": "Credentials", "nut": "NUT",
              "secret": "Secret", "review": "Review", "apply": "Apply", "done": "Done"}

CSS = """
Screen { background: $surface; }
#steps { height: 1; padding: 0 1; background: $panel; color: $text-muted; }
#banner { height: auto; padding: 0 1; background: $warning 30%; color: $text; }
#title { height: auto; padding: 1 1 0 1; text-style: bold; color: $accent; }
#body { padding: 0 1; }
#nav { height: 1; align-horizontal: right; padding: 0 1; margin-top: 1; }
#nav Button { margin-left: 2; min-width: 12; }
.label { margin-top: 1; color: $text; text-style: bold; }
.hint { color: $text-muted; }
.message { height: auto; margin-top: 1; }
.error { color: $error; text-style: bold; }
.ok { color: $success; }
.warn { color: $warning; }
.facts { height: auto; margin-top: 1; padding: 0 1; border: round $panel-lighten-2; }
Input { width: 100%; background: $boost; }
Input:focus { background: $primary 25%; }
Input.-invalid { border: tall $error; }
.row { height: auto; }
.row Input { width: 1fr; }
.row Button { width: auto; margin-left: 1; }
#failed { margin-top: 1; }
Checkbox { margin-top: 1; }
OptionList { height: auto; max-height: 6; }
.step { height: 1; }
.preview { height: auto; padding: 0 1; background: $boost; }
.details { color: $text-muted; }
Collapsible { height: auto; padding: 0; margin: 0 0 1 0; border: none; background: $surface; }
Collapsible > Contents { padding: 0 0 0 2; height: auto; }
CollapsibleTitle { padding: 0; }
LoadingIndicator { height: 1; }
RadioSet { width: 100%; }
"""


class WizardApp(App[int]):
    """enphase-setup's terminal UI."""

    TITLE = "enphase-setup"
    CSS = CSS
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("ctrl+q", "quit_wizard", "Quit", priority=True),
    ]

    def __init__(self, session: Session) -> None:
        super().__init__()
        self.session = session
        self.steps = REAUTH_STEPS if session.mode == REAUTH else SETUP_STEPS
        self.applied = False
        self.result_text = ""

    def step_bar(self, current: str) -> str:
        """`enphase-setup  1 Gateway > 2 Credentials > ...` with the current step marked."""
        parts = []
        for number, step in enumerate(self.steps, 1):
            name = f"{number} {STEP_NAMES[step]}"
            parts.append(f"[b reverse] {name} [/]" if step == current else name)
        ups = self.session.answers.ups
        return f"[b]enphase-setup[/b] · {ups}  " + " › ".join(parts)

    def dry_run_text(self) -> str:
        """Why nothing will be written."""
        why = "" if self.session.system.is_root else ": not running as root"
        return (f"DRY RUN{why}. Every step works, but Apply only shows the plan; nothing"
                " is written.")

    def make_screen(self, step: str) -> Screen[None]:
        """The screen of one step."""
        from .screens import SCREENS

        return SCREENS[step]()

    def on_mount(self) -> None:
        self.push_screen(self.make_screen(self.steps[0]))

    def advance(self, current: str) -> None:
        """Go to the step after `current`."""
        index = self.steps.index(current)
        if index + 1 < len(self.steps):
            self.push_screen(self.make_screen(self.steps[index + 1]))

    def back(self) -> None:
        """Back to the previous step."""
        if len(self.screen_stack) > 2:
            self.pop_screen()

    def action_quit_wizard(self) -> None:
        """Ctrl+Q."""
        self.quit_wizard()

    def quit_wizard(self) -> None:
        """Leave; say whether anything was changed."""
        if not self.applied:
            self.result_text = "Cancelled: no changes were made."
        self.exit(0)

    def finish(self, code: int, text: str = "") -> None:
        """End the run with an exit status and a text printed after the UI closes."""
        self.result_text = text
        self.exit(code, return_code=code)


def run_app(session: Session) -> int:
    """Run the terminal UI; returns the exit status."""
    app = WizardApp(session)
    code = app.run()
    if app.result_text:
        print(app.result_text, file=sys.stdout)
    return code if isinstance(code, int) else 0
