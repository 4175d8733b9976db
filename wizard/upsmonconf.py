"""upsmon.conf: which UPSes upsmon watches (MONITOR lines); the wizard adds one, marked.

``MONITOR <ups>@<host>[:<port>] <powervalue> <user> <password> primary|secondary`` (upsmon(8),
upsmon.conf(5); ``master``/``slave`` before NUT 2.8). The keyword is case-sensitive, as upsmon
reads it. Every other byte stays as it was.
"""

from __future__ import annotations

from dataclasses import dataclass

from . import marked
from .nutconf import quote, split_words

FILE = "upsmon.conf"
KEYWORD = "MONITOR"
HIDDEN = "<hidden>"


@dataclass(frozen=True)
class Monitor:
    """One MONITOR line."""

    index: int  # line index in the file
    ups: str
    host: str  # without the port; IPv6 without brackets
    port: int | None
    power: str
    user: str
    password: str
    role: str


def split_system(system: str) -> tuple[str, str, int | None]:
    """'ups@[::1]:3493' -> ('ups', '::1', 3493); 'ups' alone means ups@localhost."""
    ups, _, where = system.partition("@")
    where = where or "localhost"
    if where.startswith("["):
        host, _, rest = where[1:].partition("]")
        port = rest[1:] if rest.startswith(":") else ""
    elif where.count(":") == 1:
        host, _, port = where.partition(":")
    else:
        host, port = where, ""
    return ups, host, int(port) if port.isdigit() else None


def monitors(text: str | None) -> list[Monitor]:
    """The MONITOR lines (comments and malformed lines left out)."""
    found: list[Monitor] = []
    for index, line in enumerate((text or "").splitlines()):
        words = split_words(line)
        if len(words) >= 6 and words[0] == KEYWORD:
            ups, host, port = split_system(words[1])
            found.append(Monitor(index, ups, host, port, words[2], words[3], words[4],
                                 words[5].lower()))
    return found


def accept(words: list[str], first: bool) -> bool:
    """A line of one of the wizard's blocks: a MONITOR line."""
    return bool(words) and words[0] == KEYWORD


def with_monitor(text: str | None, ups: str, system: str, user: str, password: str,
                 role: str, why: str) -> str:
    """upsmon.conf with a marked MONITOR line, after the last MONITOR line (else at the end)."""
    existing = monitors(text)
    after = existing[-1].index if existing else None
    line = f"{KEYWORD} {system} 1 {quote(user)} {quote(password)} {role}"
    return marked.insert(text or "", [line], ups, why, after)


def without_monitors(text: str, ups: str) -> str:
    """upsmon.conf without the MONITOR lines the wizard added for `ups`."""
    return marked.remove(text, ups, accept)


def mask(text: str) -> str:
    """The passwords of MONITOR lines shown as <hidden> (for previews)."""
    lines = text.splitlines(keepends=True)
    for item in monitors(text):
        line = lines[item.index]
        ending = line[len(line.rstrip("\r\n")):]
        words = split_words(line)
        lines[item.index] = " ".join([*words[:4], HIDDEN, *words[5:]]) + ending
    return "".join(lines)
