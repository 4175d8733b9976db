"""The daemon's config file (docs/config.md): written new, or edited key by key on a re-run.

Keys the wizard does not manage, comments and their order stay as they are. Values are
written in single quotes when they need quoting, which enphase_monitor.config reads (and bash
too). Secrets are masked in every preview.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, replace
from pathlib import Path, PurePosixPath

from enphase_monitor.config import check_dir_perms, check_secret
from enphase_monitor.configkeys import SECRET_KEYS
from enphase_monitor.errors import ConfigError, InsecureFileError
from enphase_monitor.fileutil import FileMeta
from enphase_monitor.shellvars import parse_assignments
from enphase_monitor.textsafe import has_control

from . import configscan
from .configscan import Statement, Word

MASK = "<hidden>"
_SAFE = re.compile(r"[A-Za-z0-9_./:@%+,-]*")
HEADER = (
    "# enphase-monitor configuration for UPS {ups} (see enphase-monitor(8)).\n"
    "# Written by enphase-setup; re-run `enphase-setup` to change it, or edit by hand.\n"
)


def quote(value: str) -> str:
    """A value as a shell word: bare when safe, else single-quoted.

    Raises:
        ValueError: a control character (the answers' rules refuse them first).
    """
    if has_control(value):
        raise ValueError("a config value may not hold control characters")
    if value and _SAFE.fullmatch(value):
        return value
    return "'" + value.replace("'", "'\\''") + "'"


def _cut(text: str, statement: Statement, word: Word, others: int) -> tuple[int, int]:
    """The span to delete to take out one assignment: the word (and the blank after it) when
    its statement sets `others` other keys too, else the statement, or its whole lines."""
    if others:
        end = word.end
        while end < statement.end and text[end] in " \t":
            end += 1
        return word.start, end
    if statement.alone(text):
        return statement.line_start, statement.end
    end = statement.end  # after `A=1; ` the line end stays
    while end > statement.start and text[end - 1] in "\r\n":
        end -= 1
    return statement.start, end


def edit(text: str, values: Mapping[str, str | None]) -> str:
    """Set (or, for None, remove) keys in config text; everything else stays.

    Every line form the daemon reads (configscan.py: `export KEY=v`, `"KEY"=v`, `A=1 B=2`,
    ...) is edited where it stands: only the assignment's word is replaced, its prefix,
    indentation, comment and neighbours stay. The last assignment of a key is the one that
    counts, so that is the one replaced; earlier ones are removed so that the file says one
    thing.
    """
    where = configscan.assignments(text)
    now = read_values(text)
    last = {key: places[-1][1] for key, places in where.items()}

    def stays(key: str, word: Word) -> bool:
        return word is last[key] and (key not in values or values[key] is not None)

    cuts: list[tuple[int, int, str]] = []
    appended: list[str] = []
    for key, value in values.items():
        places = where.get(key, [])
        if not places and value is not None:
            appended.append(f"{key}={quote(value)}\n")
        for statement, word in places:
            if stays(key, word):
                if value is not None and now.get(key) != value:
                    cuts.append((word.start, word.end, f"{key}={quote(value)}"))
                continue
            others = sum(stays(k, w) for k, w in statement.assignments() if w is not word)
            cuts.append((*_cut(text, statement, word, others), ""))
    for start, end, piece in sorted(set(cuts), reverse=True):
        text = text[:start] + piece + text[end:]
    if appended:
        if text and not text.endswith("\n"):
            text += "\n"
        text += "".join(appended)
    return text


def render(ups: str, values: Mapping[str, str | None], old: str | None = None) -> str:
    """The config text: `old` edited, or a new file with a header comment."""
    base = old if old is not None else HEADER.format(ups=ups)
    return edit(base, values)


def mask(text: str, old: str | None = None) -> str:
    """Secrets replaced by <hidden> (<hidden, changed> where they differ from `old`): from
    the value to the end of its statement (a secret's tail there is hidden too)."""
    before = read_values(old) if old is not None else {}
    now = read_values(text)
    where = configscan.assignments(text)
    ends: dict[int, int] = {}
    first: dict[int, tuple[int, str]] = {}  # statement start -> its first secret's value
    for key in SECRET_KEYS:
        for statement, word in where.get(key, []):
            changed = old is not None and before.get(key) != now.get(key)
            shown = "<hidden, changed>" if changed else MASK
            start = word.value_start if word.value_start >= 0 else word.end
            if statement.start not in first or start < first[statement.start][0]:
                first[statement.start] = (start, shown)
                ends[statement.start] = statement.end
    cuts = [(start, ends[key], f"{shown}\n") for key, (start, shown) in first.items()]
    for start, end, new in sorted(cuts, reverse=True):
        text = text[:start] + new + text[end:]
    return text


def read_values(text: str | None) -> dict[str, str]:
    """The assignments of a config file (no expansion from this process's environment).

    A file the daemon's parser refuses gives {} (the wizard then starts from its defaults).
    """
    if not text:
        return {}
    try:
        return parse_assignments(text, {})
    except ConfigError:
        return {}


@dataclass(frozen=True)
class Problem:
    """Why the daemon refuses its config as it is now (the daemon's one line), and whether
    rewriting the file with the wizard's mode and owner fixes it (not a directory's)."""

    line: str
    fixed_by_rewrite: bool


def file_problem(path: PurePosixPath, meta: FileMeta, directory: Path,
                 daemon_uid: int | None) -> Problem | None:
    """The daemon's check of its config (`enphase_monitor.config`: check_secret,
    check_dir_perms) on the file as read; never says what the file holds.

    Args:
        path: the config (for the message).
        meta: the mode and owner of the very file read.
        directory: its directory on this host (a fake root's real one).
        daemon_uid: the daemon's user: a file it owns is its own (as Fedora's 0600 nut).
    """
    if daemon_uid is not None and meta.uid == daemon_uid:
        meta = replace(meta, uid=0)
    try:
        check_secret("config", Path(path), meta)
    except ConfigError as exc:
        return Problem(str(exc), True)
    try:
        check_dir_perms("config", directory)
    except InsecureFileError as exc:
        return Problem(str(exc), False)
    except ConfigError:
        return None  # the directory cannot be examined: reading the file said enough
    return None
