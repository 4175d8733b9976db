"""The machine the wizard changes, under an optional fake root (``--root``).

Paths are *logical* (``/etc/nut/ups.conf``) everywhere in the wizard; `System.path` maps them
under the fake root when there is one. Every command goes through the system's runner, every
file access through its methods. Nothing here imports Textual.
"""

from __future__ import annotations

import os
import shutil
import stat
from collections.abc import Mapping
from pathlib import Path, PurePosixPath

from enphase_monitor.errors import MonitorError, UnsafeFileError
from enphase_monitor.fileutil import (
    FileData,
    FileMeta,
    atomic_write,
    open_dir_nofollow,
    open_regular,
    read_regular,
)

from .accounts import Accounts
from .runner import Command, HostRunner, RecordingRunner, Result, Runner

ROOT_HINT = ("run enphase-setup as root (sudo enphase-setup): NUT's files are readable by root"
             " and group nut only, and even --dry-run reads them")
READ_LIMIT = 4 << 20  # no file the wizard reads is near this
BIN_DIRS = ("/usr/local/sbin", "/usr/local/bin", "/usr/sbin", "/usr/bin", "/sbin", "/bin")


class HostAccessError(MonitorError):
    """A file of the host cannot be read or examined; the message says what to do."""

    def __init__(self, path: Path, exc: OSError) -> None:
        denied = isinstance(exc, PermissionError)
        hint = ROOT_HINT if denied else "check the file"
        super().__init__(f"cannot read {path}: {exc.strerror or exc}: {hint}")
        self.path = path


class HostWriteError(MonitorError):
    """A file of the host cannot be written; the message says which and why."""


UNSAFE = "(enphase-setup runs as root and touches only regular files, never through a link)"

__all__ = ["FileData", "FileMeta", "HostAccessError", "HostWriteError", "System",
           "UnsafeFileError"]


class System:
    """A root directory, the environment, a command runner and the accounts.

    Args:
        root: the root directory (``/``, or a fake root for tests and ``--root``).
        env: the environment (NUT_CONFPATH and friends).
        runner: what runs commands; defaults to the host, or a recorder under a fake root.
        euid: the effective uid (for tests); defaults to os.geteuid().
    """

    def __init__(
        self,
        root: Path = Path("/"),
        env: Mapping[str, str] | None = None,
        runner: Runner | None = None,
        euid: int | None = None,
    ) -> None:
        self.root = Path(root)
        self.env: Mapping[str, str] = dict(os.environ if env is None else env)
        self.fake_root = self.root.resolve() != Path("/")
        self.runner: Runner = runner or (RecordingRunner() if self.fake_root else HostRunner())
        self.euid = os.geteuid() if euid is None else euid
        self.accounts = Accounts(self.path("/etc") if self.fake_root else None)

    @property
    def is_root(self) -> bool:
        """Running as root (needed to change /etc and run systemctl)."""
        return self.euid == 0

    def path(self, logical: PurePosixPath | str) -> Path:
        """The real path of a logical one (under the fake root if any)."""
        rel = str(logical).lstrip("/")
        return self.root / rel if rel else self.root

    def query(self, *argv: str, timeout: float = 10.0) -> Result:
        """Run a command that only reads (allowed in a dry run)."""
        return self.runner.run(Command(argv), change=False, timeout=timeout)

    def run(self, command: Command, timeout: float = 120.0) -> Result:
        """Run a command that changes the system."""
        return self.runner.run(command, change=True, timeout=timeout)

    def which(self, name: str) -> PurePosixPath | None:
        """Where a program is (under the root)."""
        if not self.fake_root:
            found = shutil.which(name, path=os.pathsep.join(
                [*self.env.get("PATH", "").split(os.pathsep), *BIN_DIRS]))
            return PurePosixPath(found) if found else None
        for directory in BIN_DIRS:
            candidate = PurePosixPath(directory) / name
            if self.path(candidate).is_file():
                return candidate
        return None

    def exists(self, logical: PurePosixPath | str) -> bool:
        """Whether a logical path exists (a dangling symlink counts).

        Raises:
            HostAccessError: a directory on the way cannot be searched.
        """
        path = self.path(logical)
        try:
            path.lstat()
        except (FileNotFoundError, NotADirectoryError):
            return False
        except OSError as exc:
            raise HostAccessError(path, exc) from None
        return True

    def is_dir(self, logical: PurePosixPath | str) -> bool:
        """Whether a logical path is a directory (for detection: a symlink is followed)."""
        path = self.path(logical)
        try:
            return stat.S_ISDIR(path.stat().st_mode)
        except (FileNotFoundError, NotADirectoryError):
            return False
        except OSError as exc:
            raise HostAccessError(path, exc) from None

    def list_dir(self, logical: PurePosixPath | str) -> list[str]:
        """The names in a directory ([] when it does not exist).

        Raises:
            HostAccessError: it cannot be read.
        """
        path = self.path(logical)
        try:
            return sorted(os.listdir(path))
        except (FileNotFoundError, NotADirectoryError):
            return []
        except OSError as exc:
            raise HostAccessError(path, exc) from None

    def read_file(self, logical: PurePosixPath | str) -> FileData | None:
        """A regular file as read: its bytes, and the mode (no special bits), owner and label
        of that very file; None if absent.

        Never follows a symlink at the last component, never opens a FIFO or a device.

        Raises:
            UnsafeFileError: a symlink or not a regular file (or absurdly large).
            HostAccessError: it cannot be read (not root on a NUT install).
        """
        path = self.path(logical)
        try:
            return read_regular(path, READ_LIMIT, "file")
        except (FileNotFoundError, NotADirectoryError):
            return None
        except UnsafeFileError as exc:
            raise UnsafeFileError(exc.path, f"{exc} {UNSAFE}") from None
        except OSError as exc:
            raise HostAccessError(path, exc) from None

    def read_text(self, logical: PurePosixPath | str, *, follow: bool = False) -> str | None:
        """A text file's contents (bytes kept through surrogateescape), None if absent.

        Args:
            follow: follow a symlink (only for files in root's own system directories, such
                as a unit that is an alias); by default a symlink is refused.

        Raises:
            UnsafeFileError: a symlink (unless `follow`) or not a regular file.
            HostAccessError: it exists but cannot be read (not root on a NUT install).
        """
        if follow:
            try:
                return self.path(logical).read_bytes().decode("utf-8", "surrogateescape")
            except (FileNotFoundError, NotADirectoryError, IsADirectoryError):
                return None
            except OSError as exc:
                raise HostAccessError(self.path(logical), exc) from None
        found = self.read_file(logical)
        return None if found is None else found.data.decode("utf-8", "surrogateescape")

    def owner_ids(self, user: str, group: str) -> tuple[int, int] | None:
        """(uid, gid) to give a file, when running as root (else None: files stay ours).

        Raises:
            OSError: the user or the group does not exist.
        """
        if not self.is_root:
            return None
        try:
            return self.accounts.ids(user, group)
        except LookupError as exc:
            raise OSError(str(exc)) from None

    def write_file(self, logical: PurePosixPath | str, data: bytes, mode: int,
                   owner: tuple[int, int] | None = None, label: bytes | None = None) -> None:
        """Replace a file with a new one: mode (no special bits), owner and label are set on it
        before it is renamed into place; a symlink there is replaced, never followed.

        Raises:
            HostWriteError: it cannot be written (the old file is then as it was).
        """
        uid, gid = owner if owner is not None else (os.geteuid(), os.getegid())
        atomic_write(self.path(logical), data, meta=FileMeta(mode, uid, gid, label),
                     error=HostWriteError)

    def delete(self, logical: PurePosixPath | str) -> None:
        """Remove a file (a symlink itself, never its target); absent is fine."""
        self.path(logical).unlink(missing_ok=True)

    def dir_meta(self, logical: PurePosixPath | str) -> tuple[int, int, int] | None:
        """(mode, uid, gid) of a directory; None when absent.

        Raises:
            UnsafeFileError: it is a symlink or not a directory.
        """
        try:
            fd = open_dir_nofollow(self.path(logical), "directory")
        except FileNotFoundError:
            return None
        try:
            st = os.fstat(fd)
        finally:
            os.close(fd)
        return stat.S_IMODE(st.st_mode), st.st_uid, st.st_gid

    def set_dir_meta(self, logical: PurePosixPath | str, mode: int,
                     owner: tuple[int, int] | None) -> None:
        """Mode (no special bits) and owner of a directory, through a descriptor of it.

        Raises:
            UnsafeFileError: it is a symlink or not a directory.
            OSError: chmod or chown failed.
        """
        fd = open_dir_nofollow(self.path(logical), "directory")
        try:
            if owner is not None:
                os.fchown(fd, *owner)
            os.fchmod(fd, mode & 0o777)
        finally:
            os.close(fd)

    def set_file_mode(self, logical: PurePosixPath | str, mode: int) -> None:
        """The mode (no special bits) of a regular file, through a descriptor of it.

        Raises:
            UnsafeFileError: a symlink or not a regular file.
            OSError: it cannot be opened or changed.
        """
        fd, _ = open_regular(self.path(logical), "file")
        try:
            os.fchmod(fd, mode & 0o777)
        finally:
            os.close(fd)
