"""nut.conf's MODE line: set it with a marker saying what it was, and put it back from that marker.

The one way the wizard changes MODE (the set-up's `standalone` and step 5's `netserver`): the
marker line (``# enphase-setup <ups>: MODE was none; `enphase-setup --remove <ups>` puts it
back``) goes right above the MODE line it changed. A second change for the same UPS keeps the
first marker, so the MODE put back is the one found before the wizard ever touched the file.
"""

from __future__ import annotations

from . import daemonconf, marked
from .facts import nut_mode

MODE_MARK = "MODE was {mode}; `enphase-setup --remove {ups}` puts it back"
UNSET = "unset"


def _marker_at(lines: list[str], ups: str) -> int | None:
    """Index of `ups`'s MODE marker that stands right above a MODE line (None: none)."""
    for index, line in enumerate(lines[:-1]):
        if (marked.is_mark(line, ups) and "MODE was " in line
                and nut_mode(lines[index + 1]) is not None):
            return index
    return None


def set_mode(text: str, ups: str, mode: str) -> str:
    """nut.conf with MODE=`mode`, and a marker above it saying what it was."""
    was = nut_mode(text)
    if was == mode:
        return text
    eol = marked.eol_of(text.splitlines(keepends=True))
    lines = daemonconf.edit(text, {"MODE": mode}).splitlines(keepends=True)
    index = max(i for i, line in enumerate(lines) if nut_mode(line) is not None)
    if lines[index].endswith("\n"):  # the file's own line ending (CRLF stays CRLF)
        bare = index == len(lines) - 1 and bool(text) and not text.endswith("\n")
        lines[index] = lines[index].rstrip("\r\n") + ("" if bare else eol)
        if bare and was is None and index > 0:  # appended after the old last line
            lines[index - 1] = lines[index - 1].rstrip("\r\n") + eol
    if _marker_at(lines, ups) is not None:
        return "".join(lines)  # the first marker keeps what MODE was before the wizard
    mark = marked.MARK.format(ups=ups) + MODE_MARK.format(mode=was or UNSET, ups=ups)
    lines.insert(index, mark + eol)
    return "".join(lines)


def restore_mode(text: str, ups: str) -> str:
    """nut.conf with MODE as it was before `set_mode` (unchanged without its marker)."""
    lines = text.splitlines(keepends=True)
    index = _marker_at(lines, ups)
    if index is None:
        return text
    was = lines[index].split("MODE was ", 1)[1].split(";", 1)[0].strip()
    following = lines[index + 1]
    ending = following[len(following.rstrip("\r\n")):]
    lines[index:index + 2] = [] if was == UNSET else [f"MODE={was}{ending}"]
    if was == UNSET and not ending and index == len(lines) and index > 0:
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
