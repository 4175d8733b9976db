"""Atomic file replacement that keeps mode, owner and SELinux label."""

from __future__ import annotations

import contextlib
import errno
import logging
import os
import stat
import tempfile
from pathlib import Path

from .errors import MonitorError, PortFileError

log = logging.getLogger(__name__)

_SELINUX_XATTR = "security.selinux"


def _copy_label(src: Path, fd: int) -> None:
    """Give the new file the old one's SELinux label (a no-op where there is none)."""
    try:
        label = os.getxattr(src, _SELINUX_XATTR)
        os.setxattr(fd, _SELINUX_XATTR, label)
    except OSError as exc:
        if exc.errno not in (errno.ENODATA, errno.ENOTSUP, errno.EPERM, errno.EACCES, errno.ENOENT):
            log.debug("could not copy the SELinux label of %s: %s", src, exc)


def fsync_dir(directory: Path) -> None:
    """Make a rename in `directory` durable (best effort)."""
    try:
        dfd = os.open(directory, os.O_RDONLY | os.O_DIRECTORY)
    except OSError:
        return
    try:
        os.fsync(dfd)
    except OSError:
        pass
    finally:
        os.close(dfd)


def atomic_write(
    path: Path,
    data: bytes,
    like: Path | None = None,
    mode: int | None = None,
    error: type[MonitorError] = PortFileError,
) -> None:
    """Replace `path` with `data` atomically (temp file in the same dir, fsync, rename).

    With `like`, the new file keeps that file's mode, owner, group and SELinux label; without
    it, the file gets `mode` (default 0600). A reader sees the old file or the new one, never a
    mix; on any error the old file stays as it was.

    Raises:
        error: the file cannot be written (the message says why).
    """
    st = None
    if like is not None:
        try:
            st = like.stat()
        except OSError as exc:
            raise error(f"'{like}' missing: {exc.strerror}") from exc
    try:
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    except OSError as exc:
        raise error(
            f"cannot create a temporary file in {path.parent}: {exc.strerror}"
            " (write access to the directory is needed)"
        ) from exc
    try:
        try:
            view = memoryview(data)
            while view:
                view = view[os.write(fd, view):]
            if st is None:
                os.fchmod(fd, 0o600 if mode is None else mode)
            else:
                os.fchmod(fd, st.st_mode & 0o7777)
                if (st.st_uid, st.st_gid) != (os.geteuid(), os.getegid()):
                    try:
                        os.fchown(fd, st.st_uid, st.st_gid)
                    except PermissionError:
                        log.debug("cannot keep owner %d:%d of %s", st.st_uid, st.st_gid, like)
                assert like is not None
                _copy_label(like, fd)
            os.fsync(fd)
        finally:
            os.close(fd)
        os.replace(tmp, path)
    except BaseException as exc:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        if isinstance(exc, OSError):
            raise error(f"unable to update {path}: {exc.strerror}") from exc
        raise
    fsync_dir(path.parent)


# --------------------------------------------------------------------------- root-safe files
# Generic helpers for a root process working in directories other users may write (the
# wizard in the daemon's state directory): never follow a symlink at the last component,
# accept only regular files, take mode and owner from the file actually read, never give a
# file setuid/setgid/sticky bits, and set owner and mode on the new inode before it is renamed
# into place (a chown by name afterwards could be redirected by a swapped-in hard link).


class NotARegularFileError(OSError):
    """A path is a symbolic link, a FIFO, a directory or a device, where a regular file is
    expected; `kind` says which."""

    def __init__(self, path: Path, kind: str) -> None:
        super().__init__(errno.EINVAL, f"is {kind}", str(path))
        self.kind = kind


_KINDS = ((stat.S_ISLNK, "a symbolic link"), (stat.S_ISDIR, "a directory"),
          (stat.S_ISFIFO, "a FIFO"), (stat.S_ISSOCK, "a socket"),
          (stat.S_ISCHR, "a character device"), (stat.S_ISBLK, "a block device"))


def _kind(mode: int) -> str:
    return next((name for test, name in _KINDS if test(mode)), "not a regular file")


def read_regular_nofollow(path: Path, limit: int) -> tuple[bytes, os.stat_result]:
    """A regular file's bytes (at most `limit`) and the fstat of the descriptor read.

    The last component is not followed (O_NOFOLLOW), a FIFO cannot block (O_NONBLOCK), and a
    non-regular file is refused before and after opening it.

    Raises:
        FileNotFoundError: no such file.
        NotARegularFileError: a symlink, FIFO, directory or device.
        OSError: it cannot be read, or it is larger than `limit` (EFBIG).
    """
    before = os.lstat(path)
    if not stat.S_ISREG(before.st_mode):
        raise NotARegularFileError(path, _kind(before.st_mode))
    flags = os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC
    try:
        fd = os.open(path, flags)
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            raise NotARegularFileError(path, "a symbolic link") from None
        raise
    with os.fdopen(fd, "rb") as handle:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            raise NotARegularFileError(path, _kind(st.st_mode))
        data = handle.read(limit + 1)
    if len(data) > limit:
        raise OSError(errno.EFBIG, f"larger than {limit} bytes", str(path))
    return data, st


def selinux_label(target: int | Path) -> bytes | None:
    """The SELinux label of an open file or of a path, a symlink not followed (None where
    there is none)."""
    try:
        if isinstance(target, int):
            return os.getxattr(target, _SELINUX_XATTR)
        return os.getxattr(target, _SELINUX_XATTR, follow_symlinks=False)
    except OSError:
        return None


def replace_with_new_file(path: Path, data: bytes, mode: int, owner: tuple[int, int] | None = None,
                          label: bytes | None = None) -> None:
    """Put a new regular file with `data` at `path`: a temporary file in the same directory
    gets the data, `mode` (without setuid/setgid/sticky), `owner` and `label` through its
    descriptor, then replaces `path` by rename (a symlink there is replaced, not followed).

    Raises:
        OSError: the file cannot be written; `path` is then as it was.
    """
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        try:
            view = memoryview(data)
            while view:
                view = view[os.write(fd, view):]
            if owner is not None:
                os.fchown(fd, *owner)
            os.fchmod(fd, mode & 0o777)
            if label:
                with contextlib.suppress(OSError):
                    os.setxattr(fd, _SELINUX_XATTR, label)
            os.fsync(fd)
        finally:
            os.close(fd)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
    fsync_dir(path.parent)


def open_dir_nofollow(path: Path) -> int:
    """A descriptor of a directory, the last component not followed (for fchmod/fchown).

    Raises:
        NotARegularFileError: it is a symlink or not a directory (kind says which).
        OSError: it cannot be opened.
    """
    try:
        fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC)
    except OSError as exc:
        if exc.errno in (errno.ELOOP, errno.ENOTDIR):
            kind = _kind(os.lstat(path).st_mode)
            raise NotARegularFileError(path, kind) from None
        raise
    return fd
