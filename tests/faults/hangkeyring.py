"""A keyring backend that hangs, as the Secret Service does behind a stuck D-Bus, for the real
daemon process (`PYTHON_KEYRING_BACKEND=tests.faults.hangkeyring.HangingKeyring`).

`get_password` appends a line to `$HANGKEYRING_DIR/calls`, then waits (up to HANG_S, far past
the daemon's 5 s bound) until the file `$HANGKEYRING_DIR/answer` exists, and returns its text:
the test releases the keyring by writing the password there. Never imported by pytest itself.
"""

from __future__ import annotations

import os
import time
from pathlib import Path

from keyring.backend import KeyringBackend
from keyring.errors import PasswordDeleteError, PasswordSetError

HANG_S = 600.0  # against a test that never releases it; the daemon gives up after 5 s
SLICE_S = 0.05


class HangingKeyring(KeyringBackend):
    """Read-only; every look-up hangs until the test writes the answer file."""

    priority = 0.1  # chosen by PYTHON_KEYRING_BACKEND only

    def get_password(self, service: str, username: str) -> str | None:
        """The answer file's text once it exists (the hang ends); None after HANG_S."""
        directory = Path(os.environ["HANGKEYRING_DIR"])
        with (directory / "calls").open("a") as calls:
            calls.write(f"{service} {username}\n")
        answer = directory / "answer"
        end = time.monotonic() + HANG_S
        while time.monotonic() < end:
            if answer.exists():
                return answer.read_text()
            time.sleep(SLICE_S)
        return None

    def set_password(self, service: str, username: str, password: str) -> None:
        raise PasswordSetError("the hanging test keyring is read-only")

    def delete_password(self, service: str, username: str) -> None:
        raise PasswordDeleteError("the hanging test keyring is read-only")
