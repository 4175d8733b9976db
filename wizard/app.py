"""The Textual app: the order of the screens for each mode, and how the run ends.

The app owns the sequence: it pushes a step's screen with a callback, the screen
`dismiss()`es its result, the result updates the session (`steps.py`), and the app shows the
next screen, the previous one (Back), or ends the run. Only this module and ``screens/``
import Textual.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from typing import Any, ClassVar

from textual.app import App
from textual.binding import Binding, BindingType
from textual.screen import Screen
from textual.worker import WorkerFailed

from .crash import crash_line
from .screens import (
    ApplyScreen,
    CredentialsScreen,
    DoneScreen,
    Frame,
    GatewayScreen,
    NutScreen,
    ReviewScreen,
    SecretScreen,
)
from .screens.confirm import ConfirmScreen
from .screens.protect_step import ProtectStep, protect_result
from .session import REAUTH, SETUP, Session
from .steps import Back, Finish, StepResult


def _same(result: Any) -> Any:
    """A screen that returns a step result (or BACK) itself."""
    return result


@dataclass(frozen=True)
class Step:
    """One step of a run: its name in the step bar, how its screen is made (session, frame,
    the field to focus after Back), and how the screen's result becomes a step result."""

    label: str
    make: Callable[[Session, Frame, str | None], Screen[Any]]
    result: Callable[[Any], StepResult | Back | None] = _same


STEPS: dict[str, Step] = {
    "gateway": Step("Gateway", GatewayScreen),
    "credentials": Step("Credentials", CredentialsScreen),
    "nut": Step("NUT", NutScreen),
    "secret": Step("Secret", SecretScreen),
    "protect": Step("Protect", ProtectStep, protect_result),
    "review": Step("Review", ReviewScreen),
    "apply": Step("Apply", ApplyScreen),
    "done": Step("Done", DoneScreen),
}
# Steps that ask something go before "review": nothing is written before it.
SETUP_STEPS = ("gateway", "credentials", "nut", "secret", "protect", "review", "apply", "done")
REAUTH_STEPS = ("credentials", "secret", "review", "apply", "done")

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
.row { height: auto; }
.row Input { width: 1fr; }
.row Button { width: auto; margin-left: 1; }
#failed { margin-top: 1; }
Checkbox { margin-top: 1; }
OptionList { height: auto; max-height: 6; }
.step { height: auto; }
.change-title { height: auto; margin-top: 1; text-style: bold; }
.preview { height: auto; padding: 0 1; margin-left: 2; background: $boost; }
.details { height: auto; margin-left: 2; color: $text-muted; }
LoadingIndicator { height: 1; }
RadioSet { width: 100%; }
.field-error { height: auto; color: $error; text-style: bold; }
ConfirmScreen { align: center middle; }
#dialog { width: 70; max-width: 95%; height: auto; padding: 1 2; border: thick $warning;
          background: $surface; }
#answers { height: auto; margin-top: 1; align-horizontal: right; }
#answers Button { margin-left: 2; }
BusyScreen { align: center middle; }
#busy-dialog { width: 70; max-width: 95%; height: auto; padding: 1 2; border: thick $primary;
               background: $surface; }
"""


class WizardApp(App[int]):
    """enphase-setup's terminal UI."""

    TITLE = "enphase-setup"
    CSS = CSS
    AUTO_FOCUS = None  # each screen focuses its own first field
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("ctrl+q", "quit_wizard", "Quit", priority=True),
    ]

    def __init__(self, session: Session) -> None:
        super().__init__()
        self.session = session
        self.steps = REAUTH_STEPS if session.mode == REAUTH else SETUP_STEPS
        self.left_field: dict[str, str] = {}  # step -> the field focused when it was left
        self.applied = False
        self.result_text = ""
        self.crash_text = ""
        self.draft_saved = False

    def dry_run_text(self) -> str:
        """Why nothing will be written ("" when it will)."""
        if not self.session.dry_run:
            return ""
        why = "" if self.session.system.is_root else ": not running as root"
        return (f"DRY RUN{why}. Every step works, but Apply only shows the plan; nothing"
                " is written.")

    def on_mount(self) -> None:
        draft = self.session.draft
        saved = draft.load(self.session.answers) if draft and self.session.mode == SETUP else None
        if saved is None:
            self.show(0)
            return

        def resume(yes: bool | None) -> None:
            if not yes:
                assert draft is not None
                draft.drop()
                self.show(0)
                return
            self.session.resume(saved.answers, saved.protect)
            # the secret is never saved: past the gateway, resume at the credentials
            self.show(self.steps.index("credentials") if saved.step not in ("", "gateway")
                      else 0)

        self.push_screen(ConfirmScreen(
            f"Resume the answers given last time? ({saved.describe()})\n\nThe password is"
            " never saved: you type it again.", "Resume", "Start over", default=True), resume)

    def show(self, index: int, back: bool = False) -> None:
        """Push the screen of step `index`; after Back, focus the field that was left."""
        name = self.steps[index]
        frame = Frame(tuple(STEPS[s].label for s in self.steps), index,
                      self.session.answers.ups, self.dry_run_text())
        screen = STEPS[name].make(self.session, frame,
                                  self.left_field.get(name) if back else None)
        if name == "apply":
            self.applied = True
        self.push_screen(screen, callback=partial(self.step_done, index, screen))

    def step_done(self, index: int, screen: Screen[Any], returned: Any) -> None:
        """A screen was dismissed: go back, go on, or end the run."""
        last_field = getattr(screen, "last_field", "")
        if last_field:
            self.left_field[self.steps[index]] = last_field
        result = STEPS[self.steps[index]].result(returned)
        if result is None:
            return
        if isinstance(result, Back):
            self.show(max(index - 1, 0), back=True)
            return
        finish = result.take(self.session)
        self.keep_draft(index)
        if finish is not None:
            self.finish(finish)
        elif index + 1 < len(self.steps):
            self.show(index + 1)

    def keep_draft(self, index: int) -> None:
        """Save the answers after each question (the apply drops them)."""
        draft = self.session.draft
        if draft is None or self.session.mode != SETUP:
            return
        if self.steps.index("review") > index:
            draft.save(self.session.answers, self.steps[index + 1], self.session.protect)
            self.draft_saved = True

    def _handle_exception(self, error: Exception) -> None:
        """An exception nobody caught: remember one line for the end (Textual still exits)."""
        cause = error.error if isinstance(error, WorkerFailed) else error
        self.crash_text = crash_line(cause)
        super()._handle_exception(error)

    def _print_error_renderables(self) -> None:
        """One line instead of Textual's traceback (run_app prints it)."""
        self._exit_renderables.clear()

    def action_quit_wizard(self) -> None:
        """Ctrl+Q: leave; say whether anything was changed."""
        if not self.applied:
            self.result_text = "Cancelled: no changes were made."
            if self.draft_saved and self.session.draft is not None:
                self.result_text += (" The answers given so far (never the password) are kept"
                                     f" in {self.session.draft.path}: run enphase-setup again"
                                     " to resume.")
        self.exit(0)

    def finish(self, finish: Finish) -> None:
        """End the run with an exit status and a text printed after the UI closes."""
        self.result_text = finish.text
        self.exit(finish.code, return_code=finish.code)


def run_app(session: Session, headless: bool = False) -> int:
    """Run the terminal UI; returns the exit status (1 after an unexpected error)."""
    app = WizardApp(session)
    code = app.run(headless=headless)
    if app.crash_text:
        print(app.crash_text, file=sys.stderr)
        return 1
    if app.result_text:
        print(app.result_text, file=sys.stdout)
    return code if isinstance(code, int) else 0
