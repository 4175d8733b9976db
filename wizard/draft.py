"""A draft of the answers given so far, so that a run cut short (Ctrl+Q, a dropped SSH
session) can be resumed: saved after each step in the user's state directory (platformdirs),
offered on the next run, dropped once applied. Never a secret: it is an answers file (JSON)
without PASSWORD and TOKEN, and the "protect this host" answers without their passwords.
"""

from __future__ import annotations

import contextlib
import json
import time
from dataclasses import dataclass, fields
from pathlib import Path

from enphase_monitor.errors import MonitorError
from enphase_monitor.fileutil import atomic_write, read_regular

from . import protect
from .answermodel import AnswerError, Answers
from .answersfile import apply_values
from .protect import ProtectAnswers

APP_NAME = "enphase-setup"
DRAFT_FILE = "draft.json"
DRAFT_LIMIT = 64 * 1024  # a draft is a few hundred bytes
NEVER_SAVED = ("password", "token", "keep_secret")


def default_path() -> Path:
    """<user state dir>/enphase-setup/draft.json (~/.local/state/... on Linux)."""
    import platformdirs  # only the terminal UI keeps drafts: -n does not need it

    return platformdirs.user_state_path(APP_NAME) / DRAFT_FILE


def draft_values(answers: Answers) -> dict[str, str]:
    """The answers as an answers file's values, secrets left out."""
    values: dict[str, str] = {}
    for item in fields(answers):
        if item.name in NEVER_SAVED:
            continue
        value = getattr(answers, item.name)
        values[item.name.upper()] = ("yes" if value else "no") if isinstance(value, bool) \
            else str(value)
    return values


@dataclass(frozen=True)
class Saved:
    """A draft read back: the answers (validated as an answers file), the step reached."""

    answers: Answers
    step: str
    saved: float
    protect: ProtectAnswers | None = None  # the "protect this host" answers, when given

    def describe(self) -> str:
        """`UPS 'ups', gateway envoy.local, saved 2025-01-02 10:11`."""
        when = time.strftime("%Y-%m-%d %H:%M", time.localtime(self.saved))
        ans = self.answers
        return f"UPS '{ans.ups}', gateway {ans.envoy_host or '?'}, saved {when}"


class Draft:
    """The draft file of one root and mode (a draft for another --root is not offered).

    Args:
        path: the file (default: in the user's state directory).
        root: the root the answers are for.
    """

    def __init__(self, path: Path, root: Path) -> None:
        self.path = path
        self.root = str(root)

    def save(self, answers: Answers, step: str, protected: ProtectAnswers | None = None) -> None:
        """Write the draft (0600 in a 0700 directory); a failure only loses the draft.

        Args:
            protected: the "protect this host" answers, once given (their passwords never).
        """
        data: dict[str, object] = {"version": 1, "root": self.root, "step": step,
                                   "saved": time.time(), "answers": draft_values(answers)}
        if protected is not None:
            data["protect"] = protect.draft_values(protected)
        with contextlib.suppress(OSError, MonitorError):
            self.path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
            atomic_write(self.path, json.dumps(data, indent=1).encode(), mode=0o600)

    def load(self, base: Answers) -> Saved | None:
        """The draft for this root, applied over `base`; None when there is none (or it is
        unreadable, too big, for another root, or invalid)."""
        try:
            raw = read_regular(self.path, DRAFT_LIMIT, "draft").data
        except (OSError, MonitorError):
            return None
        try:
            data = json.loads(raw.decode("utf-8"))
            if not isinstance(data, dict) or data.get("root") != self.root:
                return None
            values = {str(k): str(v) for k, v in dict(data["answers"]).items()}
            answers = apply_values(base, values)
            kept = data.get("protect")
            protected = (protect.from_draft({str(k): str(v) for k, v in dict(kept).items()})
                         if kept is not None else None)
            return Saved(answers, str(data.get("step", "")), float(data.get("saved", 0)),
                         protected)
        except (ValueError, KeyError, TypeError, AnswerError):
            return None

    def drop(self) -> None:
        """Delete the draft (once applied, or when the user starts over)."""
        with contextlib.suppress(OSError):
            self.path.unlink()
