"""Read, merge and atomically write the dummy-ups port file; the nocomms rename and its reverse."""

from __future__ import annotations

import logging
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from .errors import PortFileError, PortFileMissing
from .fileutil import atomic_write, fsync_dir
from .nutvars import GENERATED, USER_DEFAULTS

log = logging.getLogger(__name__)

NOCOMMS_SUFFIX = "-nocomms"
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
    """The port file as read: its raw lines and the values they set."""

    text: str = ""
    lines: list[str] = field(default_factory=list)
    values: dict[str, str] = field(default_factory=dict)

    @classmethod
    def parse(cls, text: str) -> PortContent:
        # only "\n" ends a line for dummy-ups; splitlines() would also split on \f, \x1c, U+2028...
        lines = text.split("\n")
        if lines[-1] == "":
            lines.pop()
        values: dict[str, str] = {}
        for raw in lines:
            name, value = parse_line(raw)
            if name is not None:
                values[name] = value or ""
        return cls(text, lines, values)


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
        self.nocomms_path = path.with_name(path.name + NOCOMMS_SUFFIX)

    def locate(self) -> Path:
        """The name the file has now.

        Raises:
            PortFileError: neither name exists (the monitor never creates the port file).
        """
        if self.path.exists():
            return self.path
        if self.nocomms_path.exists():
            return self.nocomms_path
        raise PortFileMissing(
            f"port file '{self.path}' missing: create it (touch, then chown to NUT's user) so"
            " that it matches the port of this UPS in ups.conf"
        )

    @property
    def hidden(self) -> bool:
        """True while only the `-nocomms` name exists."""
        return not self.path.exists() and self.nocomms_path.exists()

    def read(self) -> PortContent:
        """Read the file under whichever name it has.

        Raises:
            PortFileError: missing or unreadable.
        """
        where = self.locate()
        try:
            return PortContent.parse(where.read_text(**_ENCODING))
        except FileNotFoundError as exc:
            raise PortFileMissing(f"port file '{where}' vanished while reading") from exc
        except OSError as exc:
            raise PortFileError(f"port file '{where}' unreadable: {exc.strerror}") from exc

    def write(self, text: str) -> None:
        """Write the live file; if it is hidden, this restores it with the new content."""
        if self.hidden:
            atomic_write(self.path, text.encode(**_ENCODING), like=self.nocomms_path)
            try:
                self.nocomms_path.unlink()
            except FileNotFoundError:
                pass
            except OSError as exc:
                raise PortFileError(f"cannot remove {self.nocomms_path}: {exc.strerror}") from exc
            return
        atomic_write(self.path, text.encode(**_ENCODING), like=self.path)

    def hide(self) -> bool:
        """Rename the file to `<file>-nocomms` (dummy-ups then loses it). True if renamed.

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
