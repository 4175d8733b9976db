"""Files a root daemon can trust: safe reads (no symlinks, regular files only, bounded) and
atomic replacement that keeps the mode, owner and SELinux label of the file actually read.

The daemon may run as root while a less trusted user (NUT's) can write the directories that hold
the port file and the token cache. Such a user can put a symlink, a FIFO, a hard link or a file
of their own in place of ours at any moment. So: open without following a symlink
(`O_NOFOLLOW`) and without blocking (`O_NONBLOCK`: a FIFO must not hang the daemon), `fstat`
the descriptor actually read and accept only a regular file, bound the bytes read, and take
owner, mode and label from that same descriptor, never from a later look at the path. A new
file is written as a temporary file created exclusively (`O_EXCL | O_NOFOLLOW`) in the same
directory, opened once as a descriptor, then renamed over the old name: a rename replaces a
symlink planted there, it never follows it. setuid, setgid and sticky bits are never copied.
"""

from __future__ import annotations

import contextlib
import errno
import logging
import os
import stat
from dataclasses import dataclass
from pathlib import Path

from .errors import FileTooLarge, MonitorError, PortFileError, UnsafeFileError

log = logging.getLogger(__name__)

_SELINUX_XATTR = "security.selinux"
PERMISSION_BITS = 0o777  # never setuid, setgid or sticky
_READ_FLAGS = os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_NOCTTY | os.O_CLOEXEC
_CREATE_FLAGS = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC
_KINDS = ((stat.S_ISDIR, "a directory"), (stat.S_ISFIFO, "a FIFO (named pipe)"),
          (stat.S_ISSOCK, "a socket"), (stat.S_ISCHR, "a character device"),
          (stat.S_ISBLK, "a block device"))


@dataclass(frozen=True)
class FileMeta:
    """Permission bits (never setuid/setgid/sticky), owner, group and SELinux label of a file."""

    mode: int
    uid: int
    gid: int
    label: bytes | None = None

    @classmethod
    def of(cls, fd: int, st: os.stat_result) -> FileMeta:
        """The metadata of the open file `fd` (whose fstat is `st`)."""
        return cls(st.st_mode & PERMISSION_BITS, st.st_uid, st.st_gid, _label(fd))


@dataclass(frozen=True)
class FileData:
    """What a safe read returns: the bytes and the metadata of the same open file."""

    data: bytes
    meta: FileMeta


def _label(fd: int) -> bytes | None:
    """The SELinux label of an open file (None where there is none)."""
    try:
        return os.getxattr(fd, _SELINUX_XATTR)
    except OSError:
        return None


def _kind(mode: int) -> str:
    return next((name for test, name in _KINDS if test(mode)), "not a regular file")


def open_regular(path: Path, what: str) -> tuple[int, os.stat_result]:
    """Open an existing regular file for reading, never following a symlink, never blocking.

    Returns the descriptor (the caller closes it) and its fstat.

    Raises:
        FileNotFoundError: nothing has that name.
        UnsafeFileError: a symlink, or not a regular file (a FIFO, a directory...).
        OSError: any other failure to open (permission denied...).
    """
    try:
        fd = os.open(path, _READ_FLAGS)
    except OSError as exc:
        if exc.errno == errno.ELOOP and os.path.islink(path):
            raise UnsafeFileError(
                path, f"{what} {path} is a symbolic link, which is never followed: replace it"
                " with the file itself") from None
        raise
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            raise UnsafeFileError(path, f"{what} {path} is {_kind(st.st_mode)}, not a regular"
                                        " file: remove it and put a regular file there")
    except BaseException:
        os.close(fd)
        raise
    return fd, st


def read_regular(path: Path, limit: int, what: str) -> FileData:
    """Read a regular file of at most `limit` bytes safely (see `open_regular`).

    Raises:
        FileNotFoundError: nothing has that name.
        UnsafeFileError: a symlink or not a regular file; FileTooLarge: over `limit` bytes.
        OSError: unreadable.
    """
    fd, st = open_regular(path, what)
    try:
        chunks: list[bytes] = []
        size = st.st_size
        if size <= limit:
            size = 0
            while size <= limit and (chunk := os.read(fd, limit + 1 - size)):
                chunks.append(chunk)
                size += len(chunk)
        if size > limit:
            raise FileTooLarge(path, f"{what} {path} is larger than {limit} bytes: is it the"
                                     " right file?")
        return FileData(b"".join(chunks), FileMeta.of(fd, st))
    finally:
        os.close(fd)


def meta_of(path: Path, what: str) -> FileMeta:
    """The metadata of the regular file at `path` (not following a symlink).

    Raises:
        FileNotFoundError, UnsafeFileError, OSError: as `open_regular`.
    """
    fd, st = open_regular(path, what)
    try:
        return FileMeta.of(fd, st)
    finally:
        os.close(fd)


def fsync_dir(directory: Path) -> None:
    """Make a rename in `directory` durable (best effort)."""
    try:
        dfd = os.open(directory, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    except OSError:
        return
    try:
        os.fsync(dfd)
    except OSError:
        pass
    finally:
        os.close(dfd)


def _create_temp(dfd: int, name: str) -> tuple[int, str]:
    """A new, empty, private file `.<name>.<random>.tmp` in the directory `dfd`."""
    for _ in range(100):
        tmp = f".{name}.{os.urandom(6).hex()}.tmp"
        try:
            return os.open(tmp, _CREATE_FLAGS, 0o600, dir_fd=dfd), tmp
        except FileExistsError:
            continue
    raise FileExistsError(errno.EEXIST, "no free temporary file name")


def _apply_meta(fd: int, meta: FileMeta) -> None:
    os.fchmod(fd, meta.mode)
    if (meta.uid, meta.gid) != (os.geteuid(), os.getegid()):
        try:
            os.fchown(fd, meta.uid, meta.gid)
        except PermissionError:
            log.debug("cannot give the new file the owner %d:%d", meta.uid, meta.gid)
    if meta.label is not None:
        try:
            os.setxattr(fd, _SELINUX_XATTR, meta.label)
        except OSError as exc:
            if exc.errno not in (errno.ENOTSUP, errno.EPERM, errno.EACCES):
                log.debug("could not copy the SELinux label: %s", exc)


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view):]


def atomic_write(
    path: Path,
    data: bytes,
    like: Path | None = None,
    mode: int | None = None,
    error: type[MonitorError] = PortFileError,
    meta: FileMeta | None = None,
) -> None:
    """Replace `path` with `data` atomically (temp file in the same dir, fsync, rename).

    The new file gets `meta` (mode, owner, group, label) when given; else that of the regular
    file `like` (opened without following a symlink); else `mode` (default 0600). Special bits
    are never set. A reader sees the old file or the new one, never a mix; on any error the old
    file stays as it was and no temporary file is left.

    Raises:
        error: the file cannot be written (the message says why).
    """
    if meta is None and like is not None:
        try:
            meta = meta_of(like, "file")
        except UnsafeFileError as exc:
            raise error(str(exc)) from None
        except OSError as exc:
            raise error(f"'{like}' missing: {exc.strerror}") from exc
    if meta is None:
        meta = FileMeta(PERMISSION_BITS & (0o600 if mode is None else mode), os.geteuid(),
                        os.getegid())
    try:
        dfd = os.open(path.parent, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    except OSError as exc:
        raise error(f"cannot open the directory {path.parent}: {exc.strerror}") from exc
    try:
        _replace_in(dfd, path, data, meta, error)
    finally:
        os.close(dfd)


def _replace_in(dfd: int, path: Path, data: bytes, meta: FileMeta,
                error: type[MonitorError]) -> None:
    """The body of atomic_write, in the directory opened as `dfd`."""
    try:
        fd, tmp = _create_temp(dfd, path.name)
    except OSError as exc:
        raise error(
            f"cannot create a temporary file in {path.parent}: {exc.strerror}"
            " (write access to the directory is needed)"
        ) from exc
    try:
        try:
            _write_all(fd, data)
            _apply_meta(fd, meta)
            os.fsync(fd)
        finally:
            os.close(fd)
        os.replace(tmp, path.name, src_dir_fd=dfd, dst_dir_fd=dfd)
    except BaseException as exc:
        with contextlib.suppress(OSError):
            os.unlink(tmp, dir_fd=dfd)
        if isinstance(exc, OSError):
            raise error(f"unable to update {path}: {exc.strerror}") from exc
        raise
    with contextlib.suppress(OSError):
        os.fsync(dfd)


def open_dir_nofollow(path: Path, what: str) -> int:
    """Open a directory for fchmod/fchown, never following a symlink at its last component
    (the caller closes the descriptor).

    Raises:
        FileNotFoundError: nothing has that name.
        UnsafeFileError: a symlink, or not a directory.
        OSError: any other failure to open.
    """
    try:
        return os.open(path, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC)
    except OSError as exc:
        if exc.errno not in (errno.ELOOP, errno.ENOTDIR) or not os.path.lexists(path):
            raise
        mode = os.lstat(path).st_mode
        kind = "a symbolic link, which is never followed" if stat.S_ISLNK(mode) else (
            "not a directory")
        raise UnsafeFileError(path, f"{what} {path} is {kind}: put a directory there") from None
