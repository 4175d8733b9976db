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

from enphase_monitor.errors import MonitorError

from .accounts import Accounts
from .runner import Command, HostRunner, RecordingRunner, Result, Runner

ROOT_HINT = ("run enphase-setup as root (sudo enphase-setup): NUT's files are readable by root"
             " and group nut only, and even --dry-run reads them")
BIN_DIRS = ("/usr/local/sbin", "/usr/local/bin", "/usr/sbin", "/usr/bin", "/sbin", "/bin")


class HostAccessError(MonitorError):
    """A file of the host cannot be read or examined; the message says what to do."""

    def __init__(self, path: Path, exc: OSError) -> None:
        denied = isinstance(exc, PermissionError)
        hint = ROOT_HINT if denied else "check the file"
        super().__init__(f"cannot read {path}: {exc.strerror or exc}: {hint}")
        self.path = path


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
        """Whether a logical path is a directory (not following a symlink)."""
        path = self.path(logical)
        try:
            return stat.S_ISDIR(path.lstat().st_mode)
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

    def read_text(self, logical: PurePosixPath | str) -> str | None:
        """A text file's contents (bytes kept through surrogateescape), None if absent.

        Raises:
            HostAccessError: it exists but cannot be read (not root on a NUT install).
        """
        path = self.path(logical)
        try:
            return path.read_bytes().decode("utf-8", "surrogateescape")
        except (FileNotFoundError, NotADirectoryError, IsADirectoryError):
            return None
        except OSError as exc:
            raise HostAccessError(path, exc) from None

    def chown(self, logical: PurePosixPath | str, user: str, group: str) -> None:
        """Give a path to user:group; does nothing unless running as root.

        Raises:
            OSError: the user or group does not exist, or chown failed.
        """
        if not self.is_root:
            return
        try:
            uid, gid = self.accounts.ids(user, group)
        except LookupError as exc:
            raise OSError(str(exc)) from None
        os.chown(self.path(logical), uid, gid, follow_symlinks=False)
