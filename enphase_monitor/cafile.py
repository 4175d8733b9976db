"""CLOUD_CA_FILE is a trust anchor: whoever can change it can read the Enlighten password (by
making the daemon trust their server), so it gets the owner and write checks of the config.

Unlike the config it may be world-readable (certificates are public) and may be a symlink
(distributions link their CA bundles, e.g. /etc/pki/tls/cert.pem): the link's directory and the
file it ends at are checked.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

from .errors import ConfigError, InsecureFileError

KIND = "CLOUD_CA_FILE"


def _check(what: str, path: Path, euid: int) -> None:
    try:
        info = path.stat()
    except OSError as exc:
        raise ConfigError(f"cannot examine {KIND} {what} {path}: {exc.strerror}") from None
    if info.st_uid not in (0, euid):
        also = "" if euid == 0 else f" or this daemon's uid {euid}"
        raise InsecureFileError(f"{KIND} {what}", str(path),
                                f"owner uid {info.st_uid} (must be root{also})",
                                f"run 'chown root {path}'")
    if info.st_mode & (stat.S_IWGRP | stat.S_IWOTH):  # a sticky /tmp included
        fix = f"run 'chmod go-w {path}'" if what == "file" else "keep the CA file in a" \
            " directory that only root (or this daemon's user) can write"
        raise InsecureFileError(f"{KIND} {what}", str(path), "group or world write permission",
                                fix)


def check_ca_file(name: str, *, daemon_uid: int | None = None) -> None:
    """Refuse a CA file, or a directory on its way, that another user could change.

    Args:
        name: the CA file.
        daemon_uid: the user the daemon runs as (default: this process's); the setup wizard
            runs as root and judges the file as the daemon (User= of its unit) will.

    Raises:
        InsecureFileError: owned by another user, or writable by group or others (one line
            naming the fix); ConfigError: it cannot be examined.
    """
    given = Path(name)
    real = Path(os.path.realpath(given))
    euid = os.geteuid() if daemon_uid is None else daemon_uid
    _check("file", real, euid)
    for directory in dict.fromkeys((given.absolute().parent, real.parent)):
        _check("directory", directory, euid)
