"""CLOUD_CA_FILE is a trust anchor: whoever can change it can read the Enlighten password (by
making the daemon trust their server), so it gets the owner and write checks of the config.

Unlike the config it may be world-readable (certificates are public) and may be a symlink
(distributions link their CA bundles, e.g. /etc/pki/tls/cert.pem): the link's directory and the
file it ends at are checked.
"""

from __future__ import annotations

import os
from pathlib import Path

from .errors import ConfigError
from .ownership import check_not_group_writable, check_owner

KIND = "CLOUD_CA_FILE"


def _check(what: str, path: Path, daemon_uid: int | None) -> None:
    try:
        info = path.stat()
    except OSError as exc:
        raise ConfigError(f"cannot examine {KIND} {what} {path}: {exc.strerror}") from None
    check_owner(f"{KIND} {what}", path, info.st_uid, daemon_uid)
    # a sticky /tmp included
    check_not_group_writable(f"{KIND} {what}", path, info.st_mode, "" if what == "file" else
                             "keep the CA file in a directory that only root (or this"
                             " daemon's user) can write")


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
    _check("file", real, daemon_uid)
    for directory in dict.fromkeys((given.absolute().parent, real.parent)):
        _check("directory", directory, daemon_uid)
