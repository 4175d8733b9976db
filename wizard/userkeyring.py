"""The daemon user's keyring: whether Python's keyring has a working backend for that user,
and the little scripts that store and delete the password as that user."""

from __future__ import annotations

import sys
from dataclasses import dataclass

from enphase_monitor.facts import KEYRING_SERVICE

from .system import System

PROBE_SCRIPT = (
    "import keyring\n"
    "k = keyring.get_keyring()\n"
    "print(type(k).__module__ + '.' + type(k).__name__, getattr(k, 'priority', 0))\n"
)
SET_SCRIPT = (
    "import sys, keyring\n"
    "keyring.set_password(sys.argv[1], sys.argv[2], sys.stdin.read())\n"
)
DELETE_SCRIPT = (
    "import sys, keyring\n"
    "keyring.delete_password(sys.argv[1], sys.argv[2])\n"
)
_NO_BACKEND = ("keyring.backends.fail.", "keyring.backends.null.", "keyring.backends.chainer.")

__all__ = ["DELETE_SCRIPT", "KEYRING_SERVICE", "SET_SCRIPT", "KeyringStatus", "as_user",
           "detect_keyring", "keyring_argv"]


@dataclass(frozen=True)
class KeyringStatus:
    """Whether the daemon's user has a keyring backend that works, and what to say about it."""

    usable: bool
    backend: str
    note: str


def as_user(user: str, *argv: str) -> tuple[str, ...]:
    """argv run as another user (the daemon's keyring is that user's, not root's)."""
    return ("runuser", "-u", user, "--", *argv)


def keyring_argv(user: str, script: str, *args: str) -> tuple[str, ...]:
    """A keyring script run by this Python as `user`."""
    return as_user(user, sys.executable, "-c", script, *args)


def detect_keyring(system: System, user: str) -> KeyringStatus:
    """Ask Python's keyring, as the daemon's user, which backend it would use.

    On a server without a desktop session there is normally none: say so.
    """
    answer = system.query(*keyring_argv(user, PROBE_SCRIPT), timeout=20.0)
    if not answer.ok:
        why = answer.reason()
        if "No module named" in why:
            why = "the Python keyring module is not installed"
        return KeyringStatus(False, "", f"cannot use the keyring as user {user}: {why}")
    backend, _, priority = answer.stdout.strip().partition(" ")
    if backend.startswith(_NO_BACKEND) or priority in ("0", "0.0"):
        return KeyringStatus(
            False, backend,
            f"keyring has no working backend for user {user} ({backend}): usual on a server"
            " without a desktop session; use a systemd credential instead",
        )
    if "PlaintextKeyring" in backend:
        return KeyringStatus(True, backend,
                             "keyrings.alt PlaintextKeyring: base64 only, no safer than a 0600"
                             " file")
    return KeyringStatus(True, backend, f"{backend} for user {user}")
