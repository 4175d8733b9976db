"""A check that runs while the keyboard is held: keys typed meanwhile are refused (a bell),
never sent to a field they were not aimed at (issue: a password typed ahead during the live
check landed in the e-mail field, in clear text)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Generic, TypeVar

from rich.text import Text
from textual import events, work
from textual.app import ComposeResult
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import LoadingIndicator, Static
from textual.worker import Worker, WorkerState

from .. import shown

ResultT = TypeVar("ResultT")
Progress = Callable[[str], None]


class BusyScreen(ModalScreen[ResultT], Generic[ResultT]):
    """Runs `job(progress)` in a thread over the current screen; dismisses with its result.

    Args:
        title: what is being done ("Checking the credentials").
        job: the work; it calls `progress` with each step as it starts (from its thread).
        on_step: also told each step (in the UI thread), e.g. to keep a list below.
    """

    def __init__(self, title: str, job: Callable[[Progress], ResultT],
                 on_step: Progress | None = None) -> None:
        super().__init__()
        self.title_text, self.job, self.on_step = title, job, on_step
        self.steps: list[str] = []

    def compose(self) -> ComposeResult:
        with Vertical(id="busy-dialog"):
            yield Static(self.title_text, id="busy-title", markup=False)
            yield LoadingIndicator()
            yield Static("", id="busy-steps", markup=False)
            yield Static("Typing is paused until this is done.", id="busy-note",
                         classes="hint", markup=False)

    def on_mount(self) -> None:
        self.run_job()

    @work(thread=True, exclusive=True, group="busy")
    def run_job(self) -> ResultT:
        """The job (a thread: network)."""
        return self.job(lambda step: self.app.call_from_thread(self.step, step))

    def on_worker_state_changed(self, event: Worker.StateChanged) -> None:
        """The job is over: hand its result back."""
        if event.state is WorkerState.SUCCESS:
            self.dismiss(event.worker.result)

    def step(self, text: str) -> None:
        """Show the step now running; the ones before it are done."""
        self.steps.append(text)
        lines = [f"✓ {shown.message(s)}" for s in self.steps[:-1]]
        lines.append(f"… {shown.message(self.steps[-1])}")
        self.query_one("#busy-steps", Static).update(Text("\n".join(lines)))
        if self.on_step is not None:
            self.on_step(text)

    def on_key(self, event: events.Key) -> None:
        """Refuse every key (Ctrl+Q still quits: it is the app's priority binding)."""
        event.stop()
        event.prevent_default()
        self.app.bell()
