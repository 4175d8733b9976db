"""Step 6: apply the plan step by step; on a failure stop, say what was done, offer a rollback."""

from __future__ import annotations

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.containers import Horizontal, VerticalScroll
from textual.widgets import Button, Static

from ..changes import Change
from ..plan import Outcome, Plan, StepState
from ..steps import ApplyAnswer
from .base import WizardScreen

ICONS = {StepState.RUNNING: "…", StepState.DONE: "✓", StepState.FAILED: "✗",
         StepState.UNDOING: "…", StepState.UNDONE: "↺", StepState.UNDO_FAILED: "✗"}
PENDING = "·"


class ApplyScreen(WizardScreen[ApplyAnswer]):
    """A progress list with each step's result; Continue when done, Roll back / Keep on a
    failure. It stays until the user has seen it."""

    TITLE_TEXT = "Applying the changes"
    NEXT_LABEL = "Continue"
    CAN_GO_BACK = False

    @property
    def plan(self) -> Plan:
        """The plan being applied."""
        assert self.session.plan is not None
        return self.session.plan

    def body(self) -> ComposeResult:
        for index, change in enumerate(self.plan.changes):
            yield Static(f"{PENDING} {self.plan.title_of(change)}", id=f"step-{index}",
                         classes="step", markup=False)
        yield Static("", id="result", classes="message")
        with Horizontal(id="failed", classes="row"):
            yield Button("Roll back what was done", id="rollback", variant="warning",
                         compact=True)
            yield Button("Keep it as it is", id="keep", compact=True)

    def on_mount(self) -> None:
        self.query_one("#failed").display = False
        self.query_one("#next", Button).disabled = True
        self.outcome: Outcome | None = None
        self.apply()

    @work(thread=True, exclusive=True, group="apply")
    def apply(self) -> None:
        """Apply (a thread: files and commands)."""
        outcome = self.plan.apply(self.session.system, self.step_from_thread)
        self.app.call_from_thread(self.finished, outcome)

    def step_from_thread(self, index: int, change: Change, state: StepState,
                         message: str) -> None:
        """Progress callback, called in the worker thread."""
        self.app.call_from_thread(self.show_step, index, change, state, message)

    def show_step(self, index: int, change: Change, state: StepState, message: str) -> None:
        """Update one line of the progress list."""
        line = f"{ICONS.get(state, '?')} {self.plan.title_of(change)}"
        if state is StepState.DONE and message:
            line += f": {message}"
        elif state is StepState.FAILED:
            line += ": failed (see below)"
        elif state in (StepState.UNDONE, StepState.UNDO_FAILED):
            line += f": {state}{': ' + message if message else ''}"
        widget = self.query_one(f"#step-{index}", Static)
        widget.update(Text(line))
        failed = state in (StepState.FAILED, StepState.UNDO_FAILED)
        kind = "error" if failed else "ok" if state is StepState.DONE else ""
        widget.set_classes(f"step {kind}".strip())

    def finished(self, outcome: Outcome) -> None:
        """All done, or stop at the failure and offer the rollback."""
        self.outcome = outcome
        self.session.record_outcome(outcome)
        next_button = self.query_one("#next", Button)
        next_button.disabled = False
        if outcome.ok:
            self.set_message("result", f"✓ {len(outcome.done)} changes applied. Continue"
                             " [Enter] for the summary and the next steps.", "ok")
            next_button.focus()
            return
        assert outcome.failed is not None
        done = (f"{len(outcome.done)} step(s) were done (marked ✓ above): roll them back, or"
                " keep them." if outcome.done else "Nothing was changed.")
        self.set_message("result", f"✗ {outcome.failed.title} failed:\n  {outcome.error}\n"
                         f"{done}", "error")
        self.query_one("#failed").display = bool(outcome.done)
        next_button.label = "Quit"
        if outcome.done:
            self.call_after_refresh(self.offer_rollback)

    def offer_rollback(self) -> None:
        """Bring the rollback offer into view (below the progress list) and focus it."""
        self.query_one("#rollback", Button).focus(scroll_visible=False)
        self.query_one("#body", VerticalScroll).scroll_end(animate=False)

    @on(Button.Pressed, "#rollback")
    def rollback_clicked(self) -> None:
        self.query_one("#failed").display = False
        self.rollback()

    @on(Button.Pressed, "#keep")
    def keep_clicked(self) -> None:
        self.query_one("#failed").display = False
        self.set_message("result", "Kept as it is: re-run enphase-setup to finish or"
                         " enphase-setup --remove to undo.", "warn")

    @work(thread=True, exclusive=True, group="apply")
    def rollback(self) -> None:
        """Undo the steps done (a thread)."""
        assert self.outcome is not None
        errors = self.plan.rollback(self.session.system, self.outcome, self.step_from_thread)
        self.app.call_from_thread(self.rolled_back, errors)

    def rolled_back(self, errors: list[str]) -> None:
        """Say whether everything was undone."""
        if errors:
            self.set_message("result", "✗ Some steps could not be undone:\n"
                             + "\n".join(f"  - {e}" for e in errors), "error")
        else:
            self.set_message("result", "↺ Rolled back: everything is as it was before.", "ok")

    def submit(self) -> None:
        if self.outcome is not None:
            self.dismiss(ApplyAnswer(self.outcome))
