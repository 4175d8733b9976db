"""Read, merge and atomically write the dummy-ups port file; the nocomms rename and its reverse."""

from __future__ import annotations

import logging
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from .errors import PortFileError, PortFileMissing, UnsafeFileError
from .fileutil import FileMeta, atomic_write, fsync_dir, read_regular
from .nutvars import GENERATED, USER_DEFAULTS
from .paths import nocomms_file

log = logging.getLogger(__name__)

# a port file is ~50 short lines; 64 KiB leaves room for any user lines, and refuses a binary
# or a log planted in its place
PORT_FILE_MAX = 64 * 1024
_NO_SPACE = re.compile(r"^(\s*[^\s:#]+):(?=[^\s])")
_LINE = re.compile(r"([^\s:]+):?\s*(.*)$")
_ENCODING = {"encoding": "utf-8", "errors": "surrogateescape"}


def parse_line(raw: str) -> tuple[str | None, str | None]:
    """Split a port-file line into (name, value) the way dummy-ups reads it.

    Returns (None, None) for blank and comment lines; value is None when the line has none.
    """
    text = raw.strip()
    if not text or text.startswith("#"):
        return None, None
    match = _LINE.match(text)
    if match is None:
        return None, None
    name, rest = match.group(1), match.group(2).strip()
    if rest.startswith('"'):
        end = rest.find('"', 1)
        value = rest[1:end] if end > 0 else rest[1:]
    else:
        value = rest.split("#", 1)[0].strip()
    return name, value if rest else None


@dataclass
class PortContent:
    """The port file as read: its raw lines, the values they set, and the file's metadata."""

    text: str = ""
    lines: list[str] = field(default_factory=list)
    values: dict[str, str] = field(default_factory=dict)
    meta: FileMeta | None = None

    @classmethod
    def parse(cls, text: str, meta: FileMeta | None = None) -> PortContent:
        # only "\n" ends a line for dummy-ups; splitlines() would also split on \f, \x1c, U+2028...
        lines = text.split("\n")
        if lines[-1] == "":
            lines.pop()
        values: dict[str, str] = {}
        for raw in lines:
            name, value = parse_line(raw)
            if name is not None:
                values[name] = value or ""
        return cls(text, lines, values, meta)


def render(content: PortContent, generated: Mapping[str, str | None]) -> str:
    """Merge generated values into the file, keeping every other line.

    Generated lines are replaced where they stand; a generated variable that can no longer be
    computed becomes `name: ""` (which makes dummy-ups delete it) if the file had it; user
    values (`battery.charge.low` and friends) are kept and only added with their defaults when
    absent; new generated lines are appended.
    """
    out: list[str] = []
    done: set[str] = set()
    for raw in content.lines:
        name, _ = parse_line(raw)
        if name is None or name not in GENERATED:
            # dummy-ups gives `name:value` the previous line's value: add the missing space
            out.append(_NO_SPACE.sub(r"\1: ", raw) if name else raw)
            continue
        if name in done:
            continue  # a duplicate of a generated line
        done.add(name)
        value = generated.get(name)
        out.append(f"{name}: {value}" if value else f'{name}: ""')
    for name, default in USER_DEFAULTS.items():
        if name not in content.values:
            out.append(f"{name}: {default}")
    out.extend(f"{name}: {value}" for name, value in generated.items()
               if value and name not in done)
    return "\n".join(out) + "\n"


class PortFile:
    """The port file and its `-nocomms` twin."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.nocomms_path = nocomms_file(path)

    def locate(self) -> Path:
        """The name the file has now (a symlink there counts: reading it is refused).

        Raises:
            PortFileMissing: neither name exists (the monitor never creates the port file).
        """
        for where in (self.path, self.nocomms_path):
            if os.path.lexists(where):
                return where
        raise self._missing()

    def _missing(self) -> PortFileMissing:
        return PortFileMissing(
            f"port file '{self.path}' missing: create it (touch, then chown to NUT's user) so"
            " that it matches the port of this UPS in ups.conf"
        )

    @property
    def hidden(self) -> bool:
        """True while only the `-nocomms` name exists."""
        return not os.path.lexists(self.path) and os.path.lexists(self.nocomms_path)

    def read(self) -> PortContent:
        """Read the file under whichever name it has, safely (fileutil.read_regular).

        Raises:
            PortFileMissing: neither name exists.
            PortFileError: unreadable, a symlink, not a regular file or too large.
        """
        for where in (self.path, self.nocomms_path):
            try:
                found = read_regular(where, PORT_FILE_MAX, "port file")
            except FileNotFoundError:
                continue
            except UnsafeFileError as exc:
                raise PortFileError(str(exc)) from None
            except OSError as exc:
                raise PortFileError(f"port file '{where}' unreadable: {exc.strerror}") from exc
            return PortContent.parse(found.data.decode(**_ENCODING), found.meta)
        raise self._missing()

    def write(self, text: str, meta: FileMeta | None = None) -> None:
        """Write the live file; if it is hidden, this restores it with the new content.

        The new file gets `meta` (from `read()`: the file actually read), else the metadata of
        the file there now.

        Raises:
            PortFileMissing: neither name exists.
            PortFileError: the file cannot be written.
        """
        hidden = self.hidden
        source = self.nocomms_path if hidden else self.path
        if not os.path.lexists(source):
            raise self._missing()
        atomic_write(self.path, text.encode(**_ENCODING), like=None if meta else source,
                     meta=meta)
        if hidden:
            try:
                self.nocomms_path.unlink()
            except FileNotFoundError:
                pass
            except OSError as exc:
                raise PortFileError(f"cannot remove {self.nocomms_path}: {exc.strerror}") from exc

    def hide(self) -> bool:
        """Rename the file to `<file>-nocomms` (dummy-ups then loses it). True if renamed.

        A rename needs no free space, so this works on a full disk. A symlink or a FIFO in
        place of the file is renamed too (never followed).

        Raises:
            PortFileError: the rename failed, or neither name exists.
        """
        if self.hidden:
            return False
        self.locate()
        try:
            os.replace(self.path, self.nocomms_path)
        except OSError as exc:
            raise PortFileError(f"unable to disable port file {self.path}: {exc.strerror}") from exc
        fsync_dir(self.path.parent)
        return True
