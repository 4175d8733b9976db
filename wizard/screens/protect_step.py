"""The "protect this host" screen (``protect.py``, h-protect's) as a step of the run: with the
step bar and the dry-run banner, made from the session, its result turned into a step result."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.widgets import Static

from ..protect import ProtectAnswers, make_prefill
from ..session import Session
from ..steps import BACK, Back, ProtectAnswer
from .base import Frame, StepBar
from .protect import ProtectScreen


class ProtectStep(ProtectScreen):
    """ProtectScreen, prefilled from the session, under the step bar."""

    def __init__(self, session: Session, frame: Frame, focus: str | None = None) -> None:
        prefill = make_prefill(session.system, session.facts, session.answers.ups,
                               session.protect)
        super().__init__(prefill)
        self.frame = frame
        self.last_field = focus or ""

    def compose(self) -> ComposeResult:
        yield StepBar(self.frame)
        if self.frame.banner:
            yield Static(self.frame.banner, id="banner", markup=False)
        yield from super().compose()


def protect_result(result: ProtectAnswers | None) -> ProtectAnswer | Back:
    """None (Back) or the answers, as the app's steps take them."""
    return BACK if result is None else ProtectAnswer(result)
