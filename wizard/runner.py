"""Commands: what the wizard runs, the runner for this host, and a recording test double.

Every command goes through a `Runner`: `HostRunner` runs it here; `RecordingRunner` runs
nothing, records it and answers from canned results (the tests, and ``--root``).
"""

from __future__ import annotations

import shlex
import subprocess
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Protocol

from enphase_monitor.textsafe import escape

NOT_RUN = "not run (recorded only)"
MAX_REASON = 400  # characters of a failed command's output in its error message
MAX_LINES = 100  # lines of a command's output shown (upsc prints ~40)


@dataclass(frozen=True)
class Command:
    """One command line; `stdin` carries a secret and is never shown or logged."""

    argv: tuple[str, ...]
    stdin: str | None = field(default=None, repr=False)

    def shown(self) -> str:
        """The command as a shell line (secret input replaced by a note)."""
        text = shlex.join(self.argv)
        return f"{text}  < (secret on stdin)" if self.stdin is not None else text


def cmd(*argv: str, stdin: str | None = None) -> Command:
    """Shorthand for Command((argv...), stdin)."""
    return Command(tuple(argv), stdin)


@dataclass(frozen=True)
class Result:
    """What a command did."""

    returncode: int
    stdout: str = ""
    stderr: str = ""

    @property
    def ok(self) -> bool:
        """Exit status 0."""
        return self.returncode == 0

    def shown(self) -> str:
        """Its output to print: each line of stdout escaped (`textsafe.escape`, so a terminal
        escape in, say, upsc's answer never reaches the terminal), at most MAX_LINES lines of
        MAX_REASON characters; for a failure, `reason()`."""
        if not self.ok:
            return self.reason()
        lines = self.stdout[: MAX_LINES * MAX_REASON].strip().splitlines()
        shown = [escape(line.rstrip(), MAX_REASON) for line in lines[:MAX_LINES]]
        if len(lines) > MAX_LINES:
            shown.append(f"... ({len(lines) - MAX_LINES} more lines)")
        return "\n".join(shown)

    def reason(self) -> str:
        """Why it failed: the exit status and its error output (stderr, else stdout).

        The output's lines are joined with " | ", escaped (`textsafe.escape`: a command's
        output is outside text) and cut to MAX_REASON characters.
        """
        status = f"exit status {self.returncode}"
        for text in (self.stderr, self.stdout):
            lines = [line.strip() for line in text[: MAX_REASON * 4].splitlines()
                     if line.strip()]
            if lines:
                return f"{status}: {escape(' | '.join(lines), MAX_REASON)}"
        return status


class Runner(Protocol):
    """Runs commands; `change` says whether the command changes the system."""

    records_only: bool
    """Commands are recorded, not run (``--root``, tests): the plan says "would run"."""

    def run(self, command: Command, *, change: bool, timeout: float) -> Result: ...


class HostRunner:
    """Runs commands on this host."""

    records_only = False

    def run(self, command: Command, *, change: bool, timeout: float) -> Result:
        """Run `command`; a missing program is exit status 127, a timeout 124."""
        try:
            done = subprocess.run(
                command.argv, input=command.stdin, capture_output=True, text=True,
                timeout=timeout, check=False,
            )
        except FileNotFoundError:
            return Result(127, "", f"{command.argv[0]}: command not found")
        except subprocess.TimeoutExpired:
            return Result(124, "", f"{command.argv[0]}: no answer within {timeout:g} s")
        except OSError as exc:
            return Result(126, "", f"{command.argv[0]}: {exc.strerror}")
        return Result(done.returncode, done.stdout, done.stderr)


Effect = Callable[[Command], None]


class RecordingRunner:
    """Runs nothing: records every command and answers from canned results.

    The tests use it instead of `HostRunner`, and so does ``--root`` (commands are listed,
    not run). Keys of `answers`, `fail` and `effects` are prefixes of the shell line.

    Args:
        answers: prefix -> Result (or stdout text) for queries and changes.
        fail: prefixes of commands that fail (exit status 1), to test rollback.
        effects: prefix -> a function run when the command runs (to fake what it writes).
    """

    records_only = True

    def __init__(
        self,
        answers: Mapping[str, Result | str] | None = None,
        fail: Iterable[str] = (),
        effects: Mapping[str, Effect] | None = None,
    ) -> None:
        self.answers = {k: Result(0, v) if isinstance(v, str) else v
                        for k, v in (answers or {}).items()}
        self.fail = list(fail)
        self.effects = dict(effects or {})
        self.calls: list[tuple[Command, bool]] = []

    @property
    def changes(self) -> list[str]:
        """The shell lines of the commands that would change the system, in order."""
        return [c.shown() for c, change in self.calls if change]

    @staticmethod
    def _match(line: str, keys: Iterable[str]) -> str | None:
        found = [k for k in keys if line.startswith(k)]
        return max(found, key=len) if found else None

    def run(self, command: Command, *, change: bool, timeout: float) -> Result:
        """Record `command`; fail it, fake its effect, or answer it as told."""
        self.calls.append((command, change))
        line = shlex.join(command.argv)
        if self._match(line, self.fail) is not None:
            return Result(1, "", f"simulated failure of: {line}")
        effect = self._match(line, self.effects)
        if effect is not None:
            self.effects[effect](command)
        answer = self._match(line, self.answers)
        if answer is not None:
            return self.answers[answer]
        return Result(0) if change else Result(127, "", NOT_RUN)
