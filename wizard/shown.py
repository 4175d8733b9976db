"""Text from outside as the wizard shows it: what the gateway's /info.xml, mDNS and the cloud
say and the live check's errors (escaped by the daemon's own rule, enphase_monitor/textsafe.py,
one line, bounded), and the user's NUT files (read with surrogateescape, so a byte that is not
UTF-8 shows as `\\xNN`). The values themselves stay as read: the answers' rules judge those."""

from __future__ import annotations

import re

from enphase_monitor.textsafe import escape

SHORT = 64  # a serial, firmware or part number is under 20 characters
VALUE = 200  # a ups.conf section name or value (a port file's path)
LONG = 600  # a live check's message: one sentence and the reason it quotes
_UNDECODED = re.compile("[\udc80-\udcff]")  # a byte surrogateescape kept: not UTF-8
_LINE_END = re.compile(r"(\r?\n)")


def short(text: str | None) -> str:
    """A serial, firmware version or part number as shown ('' for None)."""
    return escape(text or "", SHORT)


def message(text: str) -> str:
    """A message that may quote what a gateway or the cloud said, as shown."""
    return escape(text, LONG)


def _byte(match: re.Match[str]) -> str:
    return f"\\x{ord(match.group()) - 0xDC00:02x}"


def raw(text: str, limit: int | None = VALUE) -> str:
    """Text read from a file with surrogateescape, as shown: a byte that is not UTF-8 as
    `\\xNN` (the byte the file has), the rest by textsafe's escape(); one line."""
    return escape(_UNDECODED.sub(_byte, text), limit)


def file_text(text: str) -> str:
    """A file's text, or a diff of it, as a preview shows it: each line through `raw()`
    (unbounded), its tabs and line ends kept; the result encodes as UTF-8."""
    parts = _LINE_END.split(text)
    return "".join(part if index % 2 else "\t".join(raw(p, None) for p in part.split("\t"))
                   for index, part in enumerate(parts))
