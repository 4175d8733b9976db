"""upsd.users: the accounts upsd knows; the wizard adds its upsmon users as marked blocks.

The file is NUT's section format (as ups.conf): ``[name]`` then ``password = ...``,
``upsmon primary|secondary`` (``master``/``slave`` before NUT 2.8), ``actions``, ``instcmds``.
Only the wizard's own blocks are ever added or removed; every other byte stays as it was.
"""

from __future__ import annotations

from dataclasses import dataclass

from . import marked
from .nutconf import UpsConf, quote, split_words

FILE = "upsd.users"
PRIMARY_ROLES = ("primary", "master")
SECONDARY_ROLES = ("secondary", "slave")
SETTINGS = ("password", "upsmon", "actions", "instcmds")
HIDDEN = "<hidden>"


@dataclass(frozen=True)
class User:
    """One account: its password and upsmon role (None when it has none)."""

    name: str
    password: str | None
    role: str | None
    added_for: str | None  # the UPS whose marked block added it (None: not the wizard's)


def _role(words: list[str]) -> str | None:
    """`upsmon primary` or `upsmon = primary` -> "primary"."""
    if words and words[0].lower() == "upsmon" and len(words) >= 2:
        return words[-1].lower()
    return None


def users(text: str | None) -> dict[str, User]:
    """The accounts in upsd.users, by name (the first section of a name counts)."""
    conf = UpsConf(text or "")
    found: dict[str, User] = {}
    for section in conf.sections:
        role = None
        for line in conf.lines[section.start + 1:section.end]:
            role = _role(split_words(line)) or role
        before = conf.lines[section.start - 1] if section.start > 0 else ""
        found.setdefault(section.name, User(section.name, section.settings.get("password"),
                                            role, marked.marked_by(before)))
    return found


def accept(words: list[str], first: bool) -> bool:
    """A line of one of the wizard's blocks: the `[user]` header, then that user's settings."""
    if first:
        return len(words) == 1 and words[0].startswith("[")
    return bool(words) and words[0].lower() in SETTINGS


def _indent(conf: UpsConf) -> str:
    for section in conf.sections:
        for index in section.key_lines.values():
            line = conf.lines[index]
            return line[: len(line) - len(line.lstrip(" \t"))] or "\t"
    return "\t"


def with_user(text: str | None, ups: str, name: str, password: str, role: str,
              why: str) -> str:
    """upsd.users with a marked section for user `name` added at the end."""
    conf = UpsConf(text or "")
    indent = _indent(conf)
    block = [f"[{name}]", f"{indent}password = {quote(password)}", f"{indent}upsmon {role}"]
    return marked.insert(text or "", block, ups, why)


def without_users(text: str, ups: str) -> str:
    """upsd.users without the sections the wizard added for `ups`."""
    return marked.remove(text, ups, accept, section=True)


def mask(text: str) -> str:
    """Every password shown as <hidden> (for previews)."""
    lines = text.splitlines(keepends=True)
    for index, line in enumerate(lines):
        words = split_words(line)
        if words and words[0].lower() == "password":
            lead = line[: len(line) - len(line.lstrip(" \t"))]
            ending = line[len(line.rstrip("\r\n")):]
            lines[index] = f"{lead}password = {HIDDEN}{ending}"
    return "".join(lines)
