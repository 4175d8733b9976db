"""Atomic file replacement that keeps mode, owner and SELinux label."""

from __future__ import annotations

import contextlib
import errno
import logging
import os
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
