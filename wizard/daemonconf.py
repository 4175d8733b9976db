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

MASK = "<hidden>"
_SAFE = re.compile(r"[A-Za-z0-9_./:@%+,-]*")
_ASSIGN = re.compile(r"^[ \t]*(?:(?:export|declare)[ \t]+)?([A-Za-z_][A-Za-z0-9_]*)=", re.M)
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


def _value_end(text: str, start: int) -> int:
    """Index after the value that starts at `start` (quotes may span lines)."""
    i, quote_char = start, ""
    while i < len(text):
        ch = text[i]
        if quote_char == "'":
            if ch == "'":
                quote_char = ""
        elif quote_char == '"':
            if ch == "\\":
                i += 1
            elif ch == '"':
                quote_char = ""
        elif ch in "'\"":
            quote_char = ch
        elif ch == "\\":
            i += 1
        elif ch == "\n":
            return i + 1
        i += 1
    return len(text)


def spans(text: str) -> dict[str, list[tuple[int, int, int]]]:
    """key -> [(line start, value start, end incl. newline)] of each assignment line."""
    found: dict[str, list[tuple[int, int, int]]] = {}
    for m in _ASSIGN.finditer(text):
        found.setdefault(m.group(1), []).append((m.start(), m.end(), _value_end(text, m.end())))
    return found


def edit(text: str, values: Mapping[str, str | None]) -> str:
    """Set (or, for None, remove) keys in config text; everything else stays.

    The last assignment of a key is the one that counts, so that is the one replaced; earlier
    ones of the same key are removed so that the file says one thing.
    """
    where = spans(text)
    cuts: list[tuple[int, int, str]] = []
    appended: list[str] = []
    for key, value in values.items():
        places = where.get(key, [])
        line = "" if value is None else f"{key}={quote(value)}\n"
        if not places:
            if line:
                appended.append(line)
            continue
        for start, _, end in places[:-1]:
            cuts.append((start, end, ""))
        start, vstart, end = places[-1]
        prefix = text[start:vstart - len(key) - 1]
        if value is not None and read_values(text[start:end]).get(key) == value:
            continue  # already so: the line (and its comment) stays as written
        cuts.append((start, end, prefix + line if line else ""))
    for start, end, new in sorted(cuts, reverse=True):
        text = text[:start] + new + text[end:]
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
    """Secrets replaced by <hidden> (<hidden, changed> where they differ from `old`)."""
    before = read_values(old) if old is not None else {}
    now = read_values(text)
    where = spans(text)
    cuts: list[tuple[int, int, str]] = []
    for key in SECRET_KEYS:
        for _, vstart, end in where.get(key, []):
            changed = old is not None and before.get(key) != now.get(key)
            shown = "<hidden, changed>" if changed else MASK
            cuts.append((vstart, end, f"{shown}\n"))
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
