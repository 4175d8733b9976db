"""Step 5: every change shown before anything is written; confirm, or go back."""

from __future__ import annotations

from rich.text import Text
from textual.app import ComposeResult
from textual.widgets import Static

from ..changes import Change, WriteFile
from ..plan import Plan
from ..session import Session
from ..steps import ReviewAnswer
from .base import Frame, WizardScreen
from .preview import Preview


def preview(change: Change) -> Preview:
    """A change's preview, wrapped to the width (a diff keeps its +/- on every row)."""
    return Preview(change.preview(), isinstance(change, WriteFile) and change.old is not None)


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
            yield Static(f"{number}. {plan.title_of(change)}", classes="change-title",
                         id=f"change-{number}", markup=False)
            if change.details():
                yield Static(Text(change.details()), classes="details")
            yield Static(preview(change), classes="preview", id=f"preview-{number}")

    def submit(self) -> None:
        self.dismiss(ReviewAnswer(self.plan))
