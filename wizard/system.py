"""The machine the wizard changes, under an optional fake root (``--root``).

Paths are *logical* (``/etc/nut/ups.conf``) everywhere in the wizard; `System.path` maps them
under the fake root when there is one. Every command goes through the system's runner, every
file access through its methods. Nothing here imports Textual.
"""

from __future__ import annotations

import errno
import os
import shutil
import stat
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from enphase_monitor.errors import MonitorError
from enphase_monitor.fileutil import (
    NotARegularFileError,
    open_dir_nofollow,
    read_regular_nofollow,
    replace_with_new_file,
    selinux_label,
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


class UnsafeFileError(MonitorError):
    """A path where a regular file is expected is a symlink, FIFO, directory or device: root
    does not follow or open it (it may have been put there by a user who can write the
    directory)."""

    def __init__(self, path: Path, kind: str) -> None:
        super().__init__(f"{path} is {kind}: enphase-setup runs as root and touches only"
                         " regular files, never through a link; replace it with a regular"
                         " file (or point the setting at the real one)")
        self.path = path


@dataclass(frozen=True)
class FileState:
    """A file as read: its bytes, and the mode, owner and label of that very file."""

    data: bytes
    mode: int
    uid: int
    gid: int
    label: bytes | None = None


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

    def read_file(self, logical: PurePosixPath | str) -> FileState | None:
        """A regular file as read (bytes, mode, owner, label); None if absent.

        Never follows a symlink at the last component, never opens a FIFO or a device.

        Raises:
            UnsafeFileError: a symlink or not a regular file.
            HostAccessError: it cannot be read (not root on a NUT install).
        """
        path = self.path(logical)
        try:
            data, st = read_regular_nofollow(path, READ_LIMIT)
        except (FileNotFoundError, NotADirectoryError):
            return None
        except NotARegularFileError as exc:
            raise UnsafeFileError(path, exc.kind) from None
        except OSError as exc:
            raise HostAccessError(path, exc) from None
        return FileState(data, stat.S_IMODE(st.st_mode), st.st_uid, st.st_gid, selinux_label(path))

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
        state = self.read_file(logical)
        return None if state is None else state.data.decode("utf-8", "surrogateescape")

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
        """Replace a file with a new one: mode (no special bits), owner and label are set
        before it is renamed into place; a symlink there is replaced, never followed.

        Raises:
            OSError: it cannot be written (the old file is then as it was).
        """
        replace_with_new_file(self.path(logical), data, mode, owner, label)

    def delete(self, logical: PurePosixPath | str) -> None:
        """Remove a file (a symlink itself, never its target); absent is fine."""
        self.path(logical).unlink(missing_ok=True)

    def dir_meta(self, logical: PurePosixPath | str) -> tuple[int, int, int] | None:
        """(mode, uid, gid) of a directory; None when absent.

        Raises:
            UnsafeFileError: it is a symlink or not a directory.
        """
        path = self.path(logical)
        try:
            fd = open_dir_nofollow(path)
        except FileNotFoundError:
            return None
        except NotARegularFileError as exc:
            raise UnsafeFileError(path, exc.kind) from None
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
        path = self.path(logical)
        try:
            fd = open_dir_nofollow(path)
        except NotARegularFileError as exc:
            raise UnsafeFileError(path, exc.kind) from None
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
        path = self.path(logical)
        try:
            fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC)
        except OSError as exc:
            if exc.errno == errno.ELOOP:
                raise UnsafeFileError(path, "a symbolic link") from None
            raise
        try:
            st = os.fstat(fd)
            if not stat.S_ISREG(st.st_mode):
                raise UnsafeFileError(path, "not a regular file")
            os.fchmod(fd, mode & 0o777)
        finally:
            os.close(fd)

