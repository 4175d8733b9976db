"""Step 5: every change shown before anything is written; confirm, or go back."""

from __future__ import annotations

from rich.syntax import Syntax
from rich.text import Text
from textual.app import ComposeResult
from textual.markup import escape
from textual.widgets import Collapsible, Static

from ..changes import Change, RunCommand, WriteFile
from ..plan import Plan
from ..session import Session
from ..steps import ReviewAnswer
from .base import Frame, WizardScreen


def _lexer(change: Change) -> str:
    if isinstance(change, RunCommand):
        return "bash"
    if isinstance(change, WriteFile) and change.old is not None:
        return "diff"
    return "ini"


def preview(change: Change) -> Syntax:
    """A change's preview, highlighted (diffs as diffs, files as ini, commands as shell)."""
    return Syntax(change.preview().rstrip("\n"), _lexer(change), theme="ansi_dark",
                  word_wrap=True, background_color="default")


class ReviewScreen(WizardScreen[ReviewAnswer]):
    """The plan, change by change; Apply (or, in a dry run, leave with the plan printed)."""

    TITLE_TEXT = "Review: nothing has been written yet"
    FIRST_FIELD = "body"  # the arrow keys scroll the plan; Apply is Ctrl+N

    def __init__(self, session: Session, frame: Frame, focus: str | None = None) -> None:
        super().__init__(session, frame, focus)
        self.plan: Plan = session.build_plan()

    def next_label(self) -> str:
        return "Exit and print the plan" if self.session.dry_run else "Apply \\[^N]"

    def body(self) -> ComposeResult:
        plan = self.plan
        yield Static(plan.title, classes="hint", markup=False)
        for note in plan.notes:
            yield Static(f"! {note}", classes="message warn", markup=False)
        if not plan.changes:
            yield Static("Nothing to change: everything is already as asked.",
                         classes="message ok")
        for number, change in enumerate(plan.changes, 1):
            with Collapsible(title=escape(f"{number}. {plan.title_of(change)}"),
                             collapsed=False):
                if change.details():
                    yield Static(Text(change.details()), classes="details")
                yield Static(preview(change), classes="preview")

    def submit(self) -> None:
        self.dismiss(ReviewAnswer(self.plan))
