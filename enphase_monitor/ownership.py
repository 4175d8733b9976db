"""Who may change a file the daemon trusts: root or the daemon's own user, nobody else.

One rule for the config, the token file and the secret files (config.py), CLOUD_CA_FILE
(cafile.py) and `-x`'s reading of the config (nocomms.py); each error is one line naming the
fix.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

from .errors import InsecureFileError


def check_owner(kind: str, path: Path, uid: int, daemon_uid: int | None = None) -> None:
    """Refuse a file (or directory) owned by anyone but root or the daemon's user.

    Args:
        kind: what it is, for the message (e.g. "config", "CLOUD_CA_FILE directory").
        path: where it is.
        uid: its owner.
        daemon_uid: the user the daemon runs as (default: this process's); the setup wizard
            runs as root and judges the file as the daemon (User= of its unit) will.

    Raises:
        InsecureFileError: naming the owner and the command that fixes it.
    """
    euid = os.geteuid() if daemon_uid is None else daemon_uid
    if uid not in (0, euid):
        also = "" if euid == 0 else f" or this daemon's uid {euid}"
        raise InsecureFileError(kind, str(path), f"owner uid {uid} (must be root{also})",
                                f"run 'chown root {path}'")


def check_not_group_writable(kind: str, path: Path, mode: int, fix: str = "") -> None:
    """Refuse a file (or directory) that group or others may write.

    Raises:
        InsecureFileError: naming the fix (`fix`, default `chmod go-w`).
    """
    if mode & (stat.S_IWGRP | stat.S_IWOTH):
        raise InsecureFileError(kind, str(path), "group or world write permission",
                                fix or f"run 'chmod go-w {path}'")
