"""The token file in STATE_DIR: the last token from the cloud, kept across restarts."""

from __future__ import annotations

import logging
from pathlib import Path

from .config import check_dir_perms, check_secret
from .errors import (
    AuthError,
    ConfigError,
    FileTooLarge,
    MonitorError,
    TokenError,
    UnsafeFileError,
)
from .fileutil import atomic_write, read_regular
from .tokeninfo import TokenInfo

log = logging.getLogger(__name__)

TOKEN_FILE_MAX = 16 * 1024  # a gateway JWT is ~1 KiB


class TokenCache:
    """The token file in STATE_DIR (0600, written atomically)."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def load(self) -> TokenInfo | None:
        """The cached token, or None if absent or unusable.

        Raises:
            InsecureFileError: another user could read or change the file (as the seed: refuse
                to go on); ConfigError: a symlink or not a regular file.
        """
        try:
            found = read_regular(self.path, TOKEN_FILE_MAX, "token file")
        except FileNotFoundError:
            return None
        except FileTooLarge as exc:
            log.warning("%s: getting a new token", exc)
            return None
        except UnsafeFileError as exc:
            raise ConfigError(str(exc)) from None
        except OSError as exc:
            log.warning("token file %s unreadable (%s): getting a new token", self.path,
                        exc.strerror)
            return None
        check_secret("token file", self.path, found.meta)
        check_dir_perms("token file", self.path.parent)
        try:
            text = found.data.decode("utf-8").strip()
        except UnicodeDecodeError:
            log.warning("token file %s is not text: getting a new token", self.path)
            return None
        if not text:
            return None
        try:
            return TokenInfo.parse(text)
        except TokenError as exc:
            log.warning("token file %s is corrupt (%s): getting a new token", self.path, exc)
            return None

    def save(self, info: TokenInfo) -> None:
        """Store a new token; a failure is logged, the token is still used."""
        try:
            check_dir_perms("token", self.path.parent)
            atomic_write(self.path, info.token.encode(), mode=0o600, error=AuthError)
            log.info("saved new token to %s", self.path)
        except MonitorError as exc:
            log.warning("token not cached: %s", exc)
