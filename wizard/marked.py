"""Blocks of lines the wizard adds to NUT's files, marked so that --remove takes out exactly them.

A block is a blank line, a marker comment and the lines it adds; the marker names the UPS and
how many lines follow (``# enphase-setup <ups>: why; `enphase-setup --remove <ups>` takes out
the 2 lines below``). The blank line is always added (at the very start of a file there is
none), so removing a block and the one blank line before it gives the file back byte for byte,
whether or not the file ended with a blank line, and whatever follows the block. A line that
the editor owning the file does not recognise as its own (a MONITOR line, a LISTEN line, one
user's section) ends the block early: what a user wrote there is never removed.
"""

from __future__ import annotations

import re
from collections.abc import Callable

from .nutconf import split_words

Accept = Callable[[list[str], bool], bool]  # (the line's words, first line of the block)

MARK = "# enphase-setup {ups}: "
_COUNT = re.compile(r"takes out the (\d{1,3}) lines? below\s*$")


def eol_of(lines: list[str]) -> str:
    """The file's line ending: CRLF when any line has one, else LF."""
    return "\r\n" if any(line.endswith("\r\n") for line in lines) else "\n"


def is_mark(line: str, ups: str) -> bool:
    """The line is the marker of a block added for UPS `ups`."""
    return line.startswith(MARK.format(ups=ups))


def marked_by(line: str) -> str | None:
    """The UPS a marker line names (None: not a marker)."""
    prefix = MARK.split("{", 1)[0]
    if not line.startswith(prefix) or ": " not in line:
        return None
    return line[len(prefix):].split(": ", 1)[0] or None


def insert(text: str, block: list[str], ups: str, why: str, after: int | None = None) -> str:
    """`text` with a marked block inserted after line index `after` (None: at the end).

    Args:
        text: the file (decoded with surrogateescape: every byte is kept).
        block: the lines to add, without line endings.
        ups: the UPS the block belongs to (named in the marker).
        why: the rest of the marker comment (one line).
        after: index of the line the block follows.
    """
    lines = text.splitlines(keepends=True)
    eol = eol_of(lines)
    at = len(lines) if after is None else after + 1
    bare = at == len(lines) and bool(lines) and not lines[-1].endswith("\n")
    if bare:  # the file has no final line end: the block ends the file without one, too
        lines[-1] += eol
    count = f"the {len(block)} line{'s' if len(block) != 1 else ''} below"
    mark = f"{MARK.format(ups=ups)}{why}; `enphase-setup --remove {ups}` takes out {count}"
    new = [f"{mark}{eol}", *(f"{line}{eol}" for line in block)]
    if bare:
        new[-1] = new[-1][: -len(eol)]
    lines[at:at] = [eol, *new] if at > 0 else new
    return "".join(lines)


def _body(line: str, first: bool, accept: Accept) -> bool:
    stripped = line.strip()
    if not stripped or stripped.startswith("#"):
        return False
    return accept(split_words(line), first)


def spans(lines: list[str], ups: str, accept: Accept,
          section: bool = False) -> list[tuple[int, int]]:
    """(start, end) line ranges of the blocks of `ups`, the blank line before each included.

    Args:
        section: the block is a `[section]`: settings added to it later belong to it too
            (left behind, they would fall into the section above).
    """
    found: list[tuple[int, int]] = []
    index = 0
    while index < len(lines):
        if not is_mark(lines[index], ups):
            index += 1
            continue
        count = _COUNT.search(lines[index].rstrip("\r\n"))
        last = index + 1 + (int(count.group(1)) if count else 0)
        end = index + 1
        while end < min(last, len(lines)) and _body(lines[end], end == index + 1, accept):
            end += 1
        while section and end == last and last < len(lines) and _body(lines[end], False, accept):
            end, last = end + 1, last + 1
        start = index - 1 if index > 0 and not lines[index - 1].strip() else index
        found.append((start, end))
        index = end
    return found


def remove(text: str, ups: str, accept: Accept, section: bool = False) -> str:
    """`text` without the blocks added for `ups` (unchanged when there are none)."""
    lines = text.splitlines(keepends=True)
    for start, end in reversed(spans(lines, ups, accept, section)):
        bare = end == len(lines) and not lines[-1].endswith("\n")
        del lines[start:end]
        if bare and start > 0:  # `insert` gave a file without a final line end one: undo it
            lines[start - 1] = lines[start - 1].rstrip("\r\n")
    return "".join(lines)


def block_lines(text: str, ups: str, accept: Accept, section: bool = False) -> list[str]:
    """The lines of the blocks of `ups` (markers and blank lines left out)."""
    lines = text.splitlines(keepends=True)
    out: list[str] = []
    for start, end in spans(lines, ups, accept, section):
        out.extend(line for line in lines[start:end]
                   if line.strip() and not is_mark(line, ups))
    return out
