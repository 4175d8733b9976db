"""The changes a plan is made of: each previews itself, applies itself, and undoes itself.

`plan.Plan` runs them in order. The screens, ``--non-interactive`` and ``--dry-run`` all use
these same objects.
"""

from __future__ import annotations

import abc
import contextlib
import difflib
import errno
from dataclasses import dataclass, field
from pathlib import PurePosixPath

from enphase_monitor.errors import MonitorError
from enphase_monitor.textsafe import escape

from . import shown
from .runner import MAX_REASON, Command
from .system import FileData, System


class ApplyError(MonitorError):
    """A change could not be applied or undone; the message says what and why."""


def _bytes(text: str) -> bytes:
    return text.encode("utf-8", "surrogateescape")


def _mode_text(mode: int) -> str:
    return f"{mode:04o}"


def _reason(exc: Exception) -> str:
    """Why a file operation failed, in a few words."""
    return exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)


def _backup(system: System, logical: PurePosixPath) -> FileData | None:
    """The file as it is now, to put back on rollback (None: it does not exist).

    Raises:
        ApplyError: it cannot be read, or it is a symlink or not a regular file.
    """
    try:
        return system.read_file(logical)
    except MonitorError as exc:
        raise ApplyError(str(exc)) from exc


def _restore(system: System, logical: PurePosixPath, before: FileData | None) -> None:
    """Put a file back as it was (its bytes, mode, owner and label), or remove it if it was
    not there.

    Raises:
        ApplyError: it cannot be restored.
    """
    try:
        if before is None:
            system.delete(logical)
        else:
            meta = before.meta
            owner = (meta.uid, meta.gid) if system.is_root else None
            system.write_file(logical, before.data, meta.mode, owner, meta.label)
    except (OSError, MonitorError) as exc:
        raise ApplyError(f"cannot restore {logical}: {_reason(exc)}") from exc


# --------------------------------------------------------------------------- changes

class Change(abc.ABC):
    """One step: a title, a preview, and apply/rollback."""

    title: str = ""
    kind: str = ""

    @abc.abstractmethod
    def preview(self) -> str:
        """What this step will do, as text (a diff, the file, the command); no secrets."""

    def details(self) -> str:
        """Owner, mode and SELinux label (for files), or why a command runs."""
        return ""

    @abc.abstractmethod
    def apply(self, system: System) -> str:
        """Do it; returns what was done, in a few words, for the progress list.

        Raises:
            ApplyError: it failed; whatever it did itself is already undone.
        """

    @abc.abstractmethod
    def rollback(self, system: System) -> None:
        """Undo it (after a successful apply).

        Raises:
            ApplyError: it could not be undone.
        """


def _owner_note(owner: tuple[str, str] | None, system: System) -> str:
    if owner is None:
        return ""
    note = f"owner {owner[0]}:{owner[1]}"
    return note if system.is_root else f"{note} (set only when run as root)"


@dataclass
class WriteFile(Change):
    """Create or replace a file atomically, with its mode, owner and label.

    Args:
        path: logical path.
        text: the new content.
        old: the content when the plan was made (None: new file).
        mode: the mode; None keeps the existing file's mode, owner and label.
        owner: (user, group), set when running as root.
        shown: the new content as previews show it (secrets masked); None: `text`.
        old_shown: the old content as previews show it.
        label: the SELinux label the file will have, for the review.
        purpose: one line saying what the file is for.
    """

    path: PurePosixPath
    text: str
    old: str | None
    mode: int | None = 0o640
    owner: tuple[str, str] | None = None
    shown: str | None = None
    old_shown: str | None = None
    label: str = ""
    purpose: str = ""
    system: System | None = field(default=None, repr=False)
    _before: FileData | None = field(default=None, repr=False)

    def __post_init__(self) -> None:
        verb = "Create" if self.old is None else "Edit"
        self.title = f"{verb} {self.path}" + (f" ({self.purpose})" if self.purpose else "")
        self.kind = "file"

    def preview(self) -> str:
        """The new file, or a diff with the old one; a byte that is not UTF-8 shows as `\\xNN`."""
        new = self.text if self.shown is None else self.shown
        if self.old is None:
            return shown.file_text(new)
        old = self.old if self.old_shown is None else self.old_shown
        diff = difflib.unified_diff(
            old.splitlines(keepends=True), new.splitlines(keepends=True),
            fromfile=f"{self.path} (now)", tofile=f"{self.path} (new)",
        )
        text = "".join(line if line.endswith("\n") else line + "\n" for line in diff)
        return shown.file_text(text) if text else "(content unchanged)\n"

    def details(self) -> str:
        parts = []
        if self.mode is not None:
            parts.append(f"mode {_mode_text(self.mode)}")
            if self.system is not None:
                parts.append(_owner_note(self.owner, self.system))
        else:
            parts.append("mode, owner and label kept")
        if self.label:
            parts.append(f"SELinux: {self.label}")
        return ", ".join(p for p in parts if p)

    def apply(self, system: System) -> str:
        self._before = before = _backup(system, self.path)
        data = _bytes(self.text)
        keep = self.mode is None and before is not None
        try:
            if keep and before is not None:  # the file's own mode, owner and label
                meta = before.meta
                owner = (meta.uid, meta.gid) if system.is_root else None
                system.write_file(self.path, data, meta.mode, owner, meta.label)
            else:
                owner = system.owner_ids(*self.owner) if self.owner is not None else None
                mode = 0o640 if self.mode is None else self.mode
                system.write_file(self.path, data, mode, owner)
        except (OSError, MonitorError) as exc:
            raise ApplyError(f"cannot write {self.path}: {_reason(exc)}") from exc
        return f"wrote {len(data)} bytes" + (f", {self.details()}" if self.details() else "")

    def rollback(self, system: System) -> None:
        _restore(system, self.path, self._before)

    @property
    def created(self) -> bool:
        """The apply made the file: it was not there before."""
        return self._before is None


@dataclass
class DeleteFile(Change):
    """Delete a file (kept in memory so that a rollback can restore it)."""

    path: PurePosixPath
    purpose: str = ""
    _before: FileData | None = field(default=None, repr=False)

    def __post_init__(self) -> None:
        self.title = f"Delete {self.path}" + (f" ({self.purpose})" if self.purpose else "")
        self.kind = "file"

    def preview(self) -> str:
        return f"rm {self.path}\n"

    def apply(self, system: System) -> str:
        self._before = _backup(system, self.path)
        try:
            system.delete(self.path)
        except OSError as exc:
            raise ApplyError(f"cannot delete {self.path}: {exc.strerror}") from exc
        return "deleted" if self._before is not None else "already gone"

    def rollback(self, system: System) -> None:
        if self._before is not None:
            _restore(system, self.path, self._before)


@dataclass
class MakeDir(Change):
    """Create a directory (and missing parents) with a mode and owner."""

    path: PurePosixPath
    mode: int
    owner: tuple[str, str] | None = None
    label: str = ""
    purpose: str = ""
    system: System | None = field(default=None, repr=False)
    _created: list[PurePosixPath] = field(default_factory=list, repr=False)
    _before: tuple[int, int, int] | None = field(default=None, repr=False)

    def __post_init__(self) -> None:
        self.title = f"Create directory {self.path}" + (
            f" ({self.purpose})" if self.purpose else "")
        self.kind = "dir"

    def preview(self) -> str:
        return f"install -d -m {_mode_text(self.mode)} {self.path}\n"

    def details(self) -> str:
        parts = [f"mode {_mode_text(self.mode)}"]
        if self.system is not None:
            parts.append(_owner_note(self.owner, self.system))
        if self.label:
            parts.append(f"SELinux: {self.label}")
        return ", ".join(p for p in parts if p)

    def apply(self, system: System) -> str:
        self._created = []
        try:
            self._before = system.dir_meta(self.path)
            missing = [p for p in [self.path, *self.path.parents] if not system.exists(p)]
            for directory in reversed(missing):
                system.path(directory).mkdir()
                self._created.append(directory)
            owner = system.owner_ids(*self.owner) if self.owner is not None else None
            system.set_dir_meta(self.path, self.mode, owner)
        except (OSError, MonitorError) as exc:
            with contextlib.suppress(ApplyError):
                self.rollback(system)
            raise ApplyError(f"cannot create {self.path}: {_reason(exc)}") from exc
        return ("created, " if self._created else "") + self.details()

    @property
    def created(self) -> list[PurePosixPath]:
        """The directories the apply made (parents first)."""
        return list(self._created)

    def rollback(self, system: System) -> None:
        for directory in reversed(self._created):
            with contextlib.suppress(OSError):
                system.path(directory).rmdir()
        if self._before is not None and not self._created:
            mode, uid, gid = self._before
            try:
                system.set_dir_meta(self.path, mode, (uid, gid) if system.is_root else None)
            except (OSError, MonitorError) as exc:
                raise ApplyError(f"cannot restore {self.path}: {exc}") from exc


@dataclass
class RemoveDir(Change):
    """Remove a directory the wizard created, when it is empty (else it stays, said so)."""

    path: PurePosixPath
    purpose: str = ""
    _before: tuple[int, int, int] | None = field(default=None, repr=False)

    def __post_init__(self) -> None:
        self.title = f"Remove directory {self.path} if empty" + (
            f" ({self.purpose})" if self.purpose else "")
        self.kind = "dir"

    def preview(self) -> str:
        return f"rmdir {self.path}\n"

    def apply(self, system: System) -> str:
        self._before = None
        try:
            meta = system.dir_meta(self.path)
        except MonitorError as exc:  # a symlink or not a directory: never followed
            raise ApplyError(str(exc)) from exc
        if meta is None:
            return "already gone"
        try:
            system.path(self.path).rmdir()
        except OSError as exc:
            if exc.errno in (errno.ENOTEMPTY, errno.EEXIST):
                return "kept: not empty"
            raise ApplyError(f"cannot remove {self.path}: {_reason(exc)}") from exc
        self._before = meta
        return "removed"

    def rollback(self, system: System) -> None:
        if self._before is None:
            return
        mode, uid, gid = self._before
        try:
            system.path(self.path).mkdir()
            system.set_dir_meta(self.path, mode, (uid, gid) if system.is_root else None)
        except (OSError, MonitorError) as exc:
            raise ApplyError(f"cannot restore {self.path}: {_reason(exc)}") from exc


@dataclass
class RunCommand(Change):
    """Run a command; undo it with another, and/or restore the file it writes.

    Args:
        command: what to run (a secret goes on stdin, never on the command line).
        why: one line for the review.
        name: the step's title (default: "Run <program> <first argument>").
        undo: the command that reverses it, if any.
        writes: a file the command creates or replaces (restored on rollback).
        mode: the mode `writes` gets afterwards.
    """

    command: Command
    why: str = ""
    undo: Command | None = None
    writes: PurePosixPath | None = None
    mode: int | None = None
    name: str = ""
    _before: FileData | None = field(default=None, repr=False)

    def __post_init__(self) -> None:
        self.title = self.name or "Run " + " ".join(self.command.argv[:2])
        self.kind = "command"

    def preview(self) -> str:
        text = self.command.shown() + "\n"
        if self.undo is not None:
            text += f"# undone by: {self.undo.shown()}\n"
        return text

    def details(self) -> str:
        return self.why

    def apply(self, system: System) -> str:
        if self.writes is not None:
            self._before = _backup(system, self.writes)
        result = system.run(self.command)
        if not result.ok:
            self._restore(system)
            raise ApplyError(f"{self.command.shown()} failed: {result.reason()}")
        if self.writes is not None and self.mode is not None:
            try:
                system.set_file_mode(self.writes, self.mode)
            except FileNotFoundError:
                pass
            except (OSError, MonitorError) as exc:
                raise ApplyError(f"cannot set the mode of {self.writes}: {exc}") from exc
        if system.runner.records_only:
            return "recorded, not run"
        output = next((line.strip() for line in (result.stdout + result.stderr).splitlines()
                       if line.strip()), "")
        return "exit status 0" + (f": {escape(output, MAX_REASON)}" if output else "")

    def _restore(self, system: System) -> None:
        if self.writes is not None:
            _restore(system, self.writes, self._before)

    def rollback(self, system: System) -> None:
        if self.undo is not None:
            result = system.run(self.undo)
            if not result.ok:
                raise ApplyError(f"{self.undo.shown()} failed: {result.reason()}")
        self._restore(system)
