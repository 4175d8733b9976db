"""Where the password and a manual token come from: systemd credential, keyring, config."""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from . import keyringlookup
from .config import Config
from .facts import KEYRING_SERVICE
from .logsetup import REDACTOR

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Secret:
    """A secret and where it came from (the source is safe to log, the value never)."""

    value: str = field(repr=False)
    source: str


def _credential(name: str, env: Mapping[str, str]) -> Secret | None:
    directory = env.get("CREDENTIALS_DIRECTORY")
    if not directory or not name:
        return None
    path = Path(directory) / name
    try:
        value = path.read_text(encoding="utf-8").strip()
    except FileNotFoundError:
        return None
    except (OSError, UnicodeDecodeError) as exc:
        log.warning("systemd credential %s unreadable: %s", name, exc)
        return None
    return Secret(value, f"systemd credential {name}") if value else None


def _keyring(username: str) -> Secret | None:
    """Raises KeyringTimeout (an AuthError): the keyring hangs (keyringlookup.py)."""
    try:
        value = keyringlookup.lookup(KEYRING_SERVICE, username)
    except keyringlookup.KeyringMissing:
        log.warning("PASSWORD_KEYRING is set but the Python keyring module is not installed")
        return None
    except keyringlookup.KeyringBroken as exc:
        log.warning("keyring has no working backend here (%s)", exc)
        return None
    return Secret(value, "system keyring") if value else None


def password(config: Config, env: Mapping[str, str] | None = None) -> Secret | None:
    """The Enlighten password: systemd credential, then keyring (if asked for), then config.

    Raises:
        KeyringTimeout: PASSWORD_KEYRING is set and the keyring does not answer in time.
    """
    env = os.environ if env is None else env
    found = _credential(config.password_credential, env)
    if found is None and config.password_keyring:
        found = _keyring(config.username)
    if found is None and config.password:
        found = Secret(config.password, f"PASSWORD in {config.path}")
    if found is not None:
        REDACTOR.add(found.value)  # wherever it came from, never log it
    return found


def manual_token(config: Config, env: Mapping[str, str] | None = None) -> Secret | None:
    """A token the user obtained by hand: systemd credential, then TOKEN in the config."""
    env = os.environ if env is None else env
    found = _credential(config.token_credential, env)
    if found is None and config.token:
        found = Secret(config.token, f"TOKEN in {config.path}")
    if found is not None:
        REDACTOR.add(found.value, token=True)
    return found
