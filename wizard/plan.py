"""A plan: the changes of one run, in order, with notes; applied step by step, rolled back.

`Plan.apply` runs the changes in order and stops at the first failure; `Plan.rollback` undoes
the ones that were done, last first. The builders that make plans are in ``planner/``.
"""

from __future__ import annotations

import enum
from collections.abc import Callable
from dataclasses import dataclass, field

from .changes import ApplyError, Change, RunCommand
from .system import System


class StepState(enum.StrEnum):
    """Where one change is while a plan is applied or rolled back."""

    RUNNING = "running"
    DONE = "done"
    FAILED = "failed"
    UNDOING = "undoing"
    UNDONE = "undone"
    UNDO_FAILED = "undo failed"


OnStep = Callable[[int, Change, StepState, str], None]


def _quiet(index: int, change: Change, state: StepState, message: str) -> None:
    """The default progress callback: says nothing."""


@dataclass
class Outcome:
    """How applying went: the steps done, and the one that failed (if any)."""

    done: list[Change] = field(default_factory=list)
    failed: Change | None = None
    error: str = ""

    @property
    def ok(self) -> bool:
        """Every step succeeded."""
        return self.failed is None


@dataclass
class Plan:
    """The changes for one run of the wizard, with notes for the review and the summary."""

    title: str
    changes: list[Change] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)  # warnings for the review
    next_steps: list[str] = field(default_factory=list)
    commands_recorded: bool = False  # --root: commands are listed, not run

    def add(self, change: Change | None) -> None:
        """Append a change (None: nothing to do)."""
        if change is not None:
            self.changes.append(change)

    def record_commands_only(self) -> None:
        """Under --root: mark each command "would run", and list them for the real host."""
        self.commands_recorded = True
        commands = [c.command.shown() for c in self.changes if isinstance(c, RunCommand)]
        if commands:
            self.notes.append("--root: commands are listed, not run (each is marked 'would"
                              " run'); on the real host they run in this order")
            self.next_steps[:0] = [f"Would run on the real host: {line}" for line in commands]

    def title_of(self, change: Change) -> str:
        """A change's title as the review shows it ("would run" under --root)."""
        if self.commands_recorded and isinstance(change, RunCommand):
            return f"{change.title} (would run)"
        return change.title

    def describe(self) -> str:
        """The whole review as plain text (what --dry-run prints)."""
        out = [f"{self.title}\n"]
        for note in self.notes:
            out.append(f"note: {note}\n")
        if not self.changes:
            out.append("\nNothing to change: everything is already as asked.\n")
        for number, change in enumerate(self.changes, 1):
            out.append(f"\n[{number}] {self.title_of(change)}\n")
            if change.details():
                out.append(f"    {change.details()}\n")
            out.extend(f"    {line}\n" for line in change.preview().splitlines())
        return "".join(out)

    def apply(self, system: System, on_step: OnStep = _quiet) -> Outcome:
        """Apply the changes in order; stop at the first failure."""
        outcome = Outcome()
        for index, change in enumerate(self.changes):
            on_step(index, change, StepState.RUNNING, "")
            try:
                result = change.apply(system)
            except (ApplyError, OSError) as exc:
                outcome.failed, outcome.error = change, str(exc)
                on_step(index, change, StepState.FAILED, str(exc))
                return outcome
            outcome.done.append(change)
            on_step(index, change, StepState.DONE, result)
        return outcome

    def rollback(self, system: System, outcome: Outcome, on_step: OnStep = _quiet) -> list[str]:
        """Undo the steps done, last first.

        Returns:
            The errors of steps that could not be undone (empty: all undone).
        """
        errors: list[str] = []
        for change in reversed(outcome.done):
            index = self.changes.index(change)
            on_step(index, change, StepState.UNDOING, "")
            try:
                change.rollback(system)
            except (ApplyError, OSError) as exc:
                errors.append(f"{change.title}: {exc}")
                on_step(index, change, StepState.UNDO_FAILED, str(exc))
                continue
            on_step(index, change, StepState.UNDONE, "")
        return errors
