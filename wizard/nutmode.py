"""nut.conf's MODE line: set it with a marker saying what it was, and put it back from that marker.

The one way the wizard changes MODE (the set-up's `standalone` and step 5's `netserver`): the
marker line (``# enphase-setup <ups>: MODE was none; `enphase-setup --remove <ups>` puts it
back``) goes right above the MODE line it changed. A second change for the same UPS keeps the
first marker, so the MODE put back is the one found before the wizard ever touched the file.
"""

from __future__ import annotations

import contextlib
import json

from enphase_monitor.textsafe import has_control

from . import marked
from .facts import nut_mode

MODE_MARK = "MODE was {mode}; `enphase-setup --remove {ups}` puts it back"
UNSET = "unset"
LINE = "(the line "  # what follows is the old MODE line as JSON, when it was not MODE=<value>


def _marker_at(lines: list[str], ups: str) -> int | None:
    """Index of `ups`'s MODE marker that stands right above a MODE line (None: none)."""
    for index, line in enumerate(lines[:-1]):
        if (marked.is_mark(line, ups) and "MODE was " in line
                and nut_mode(lines[index + 1]) is not None):
            return index
    return None


def _with_mode(text: str, mode: str) -> tuple[list[str], int]:
    """nut.conf's lines with its (last) MODE line, the one `nut_mode` reads, replaced by
    MODE=`mode` (its line end kept), or MODE=`mode` appended; and that line's index.

    Appended to a file without a final line end, the MODE line ends the file without one.
    """
    lines = text.splitlines(keepends=True)
    found = [i for i, line in enumerate(lines) if nut_mode(line) is not None]
    if found:
        index = found[-1]
        old = lines[index]
        ending = old[len(old.rstrip("\r\n")):]
        lines[index] = f"MODE={mode}{ending}"
        return lines, index
    eol = marked.eol_of(lines)
    bare = bool(lines) and not lines[-1].endswith("\n")
    if bare:
        lines[-1] += eol
    lines.append(f"MODE={mode}" + ("" if bare else eol))
    return lines, len(lines) - 1


def set_mode(text: str, ups: str, mode: str) -> str:
    """nut.conf with MODE=`mode`, and a marker above it saying what it was."""
    was = nut_mode(text)
    if was == mode:
        return text
    lines, index = _with_mode(text, mode)
    if _marker_at(lines, ups) is not None:
        return "".join(lines)  # the first marker keeps what MODE was before the wizard
    mark = marked.MARK.format(ups=ups) + MODE_MARK.format(mode=_was(text, was), ups=ups)
    lines.insert(index, mark + marked.eol_of(lines))
    return "".join(lines)


def _was(text: str, was: str | None) -> str:
    """What the marker says MODE was: the value, and the line itself (as JSON) when it is not
    written `MODE=<value>`, so that it comes back byte for byte."""
    if was is None:
        return UNSET
    line = [x for x in text.splitlines() if nut_mode(x) is not None][-1]
    return was if line == f"MODE={was}" else f"{was} {LINE}{json.dumps(line)})"


def _old_line(marker: str) -> str | None:
    """The MODE line a marker names (None: MODE was unset)."""
    rest = marker.split("MODE was ", 1)[1]
    was = rest.split(";", 1)[0].split(" ", 1)[0].strip()
    if was == UNSET:
        return None
    at = rest.find(LINE)
    if at >= 0:
        with contextlib.suppress(ValueError):
            line, _ = json.JSONDecoder().raw_decode(rest, at + len(LINE))
            if isinstance(line, str) and nut_mode(line) == was and not has_control(line):
                return line
    return f"MODE={was}"


def restore_mode(text: str, ups: str) -> str:
    """nut.conf with MODE as it was before `set_mode` (unchanged without its marker)."""
    lines = text.splitlines(keepends=True)
    index = _marker_at(lines, ups)
    if index is None:
        return text
    old = _old_line(lines[index])
    following = lines[index + 1]
    ending = following[len(following.rstrip("\r\n")):]
    lines[index:index + 2] = [] if old is None else [f"{old}{ending}"]
    if old is None and not ending and index == len(lines) and index > 0:
        lines[index - 1] = lines[index - 1].rstrip("\r\n")  # the file had no final line end
    return "".join(lines)


def has_marker(text: str | None, ups: str) -> bool:
    """nut.conf has `ups`'s MODE marker (so --remove puts MODE back)."""
    return _marker_at((text or "").splitlines(keepends=True), ups) is not None


def hand_over(text: str, ups: str, other: str) -> str:
    """nut.conf with `ups`'s MODE marker given to UPS `other` (which still needs upsd), so
    that removing `other` puts MODE back."""
    lines = text.splitlines(keepends=True)
    index = _marker_at(lines, ups)
    if index is None or _marker_at(lines, other) is not None:
        return text
    rest = lines[index][len(marked.MARK.format(ups=ups)):]
    rest = rest.replace(f"--remove {ups}`", f"--remove {other}`")
    lines[index] = marked.MARK.format(ups=other) + rest
    return "".join(lines)
