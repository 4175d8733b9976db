"""The config's values checked one by one; every error is one line naming the key and line.

An error shows the value only for keys that cannot hold a secret (and then escaped and cut);
for PASSWORD, TOKEN and the like it names the key and the line, never any part of the value.
"""

from __future__ import annotations

import logging
import re
import ssl
from collections.abc import Callable, Collection, Mapping

from .configkeys import GRID_SIGNAL_AUTO, Key, Kind
from .errors import ConfigError
from .facts import is_true
from .grid import GridSignal
from .netloc import HostError, https_url, normal_host
from .shellvars import Assignment
from .textsafe import JWT_CHARACTERS, escape, has_control, is_jwt_text

log = logging.getLogger(__name__)

SHOWN_VALUE_CHARS = 60
FINGERPRINT = re.compile(r"(?:[0-9a-fA-F]{2}:?){32}")
# JSON / XML documents (the TEST mode's answers): line breaks and tabs are whitespace there
_DOCUMENT_SPACE = str.maketrans("", "", "\t\n\r")


class Values:
    """The assignments of one config file, read key by key with their checks.

    Args:
        found: key -> assignment, as `shellvars.parse_lines` returns them.
        secret: keys whose values are never shown in a message.
    """

    def __init__(self, found: Mapping[str, Assignment], secret: Collection[str]) -> None:
        self.found = found
        self.secret = secret

    def get(self, key: str, default: str = "") -> str:
        """The value of `key` as written (after expansion), or `default` if unset."""
        found = self.found.get(key)
        return default if found is None else found.value

    def __contains__(self, key: str) -> bool:
        return key in self.found

    def error(self, key: str, what: str) -> ConfigError:
        """`line N: KEY what` (without the line when the key is not in the file)."""
        found = self.found.get(key)
        return ConfigError(f"{key} {what}" if found is None else f"line {found.line}: {key} {what}")

    def shown(self, key: str, value: str) -> str:
        """`value` for a message: escaped and cut, or nothing at all for a secret key."""
        return "<hidden>" if key in self.secret else escape(value, SHOWN_VALUE_CHARS)

    def check_characters(self, keys: Collection[str], documents: Collection[str]) -> None:
        """Refuse a control character in any of `keys` (line breaks allowed in `documents`).

        Raises:
            ConfigError: naming the key and the line, never the value.
        """
        for key, found in self.found.items():
            if key not in keys:
                continue  # unknown keys are not used; what they expand to is checked
            value = found.value.translate(_DOCUMENT_SPACE) if key in documents else found.value
            if has_control(value):
                raise self.error(key, "holds a control character (a line break, tab or"
                                 " escape character): remove it")

    def integer(self, key: str, default: int, low: int, high: int) -> int:
        """A whole number; below `low` it is raised to `low` with a warning, as the seed does.

        Raises:
            ConfigError: not a whole number, or above `high`.
        """
        text = self.get(key).strip()
        if not text:
            return default
        try:
            value = int(text, 10)
        except ValueError:
            raise self.error(
                key, f"must be a whole number (got '{self.shown(key, text)}')") from None
        if value < low:
            log.warning("%s=%d is below the minimum, using %d", key, value, low)
            return low
        if value > high:
            raise self.error(key, f"is too large ({value}; at most {high})")
        return value

    def token(self, key: str) -> str:
        """A token given in the config: empty, or the shape and alphabet of a JWT.

        Raises:
            ConfigError: naming the key and the line (never the token).
        """
        text = self.get(key).strip()
        if text and not is_jwt_text(text):
            raise self.error(key, f"is not a token: a token holds only {JWT_CHARACTERS}"
                             " (copy it again, all on one line)")
        return text

    def host(self, key: str, default: str) -> str:
        """A host with an optional port (a leading `https://` and a trailing `/` ignored).

        Raises:
            ConfigError: not a DNS name, IPv4, [IPv6] or bare IPv6, or a bad port.
        """
        text = self.get(key).strip() or default
        bare = text
        if bare.lower().startswith(("http://", "https://")):
            bare = bare.split("://", 1)[1].rstrip("/")
        try:
            return normal_host(bare)
        except HostError as exc:
            raise self.error(key, f"'{self.shown(key, text)}' is not a host name or IP address"
                             f" with an optional :port: {exc}") from None

    def url(self, key: str, default: str) -> str:
        """A cloud URL (https:// only).

        Raises:
            ConfigError: another scheme, a bad host, credentials in the URL, bad characters.
        """
        text = self.get(key).strip()
        if not text:
            return default
        try:
            return https_url(text)
        except HostError as exc:
            raise self.error(key, f"'{self.shown(key, text)}' {exc}") from None

    def fingerprint(self, key: str) -> str:
        """A SHA-256 certificate fingerprint as 64 lower-case hex digits, or empty.

        Raises:
            ConfigError: not 32 hex pairs (colons and a `sha256:` prefix allowed).
        """
        text = self.get(key).strip().replace(" ", "")
        if text.lower().startswith("sha256:"):
            text = text[7:]
        if not text:
            return ""
        if not FINGERPRINT.fullmatch(text):
            raise self.error(key, "must be the SHA-256 of the gateway certificate:"
                             " 64 hex digits, colons allowed")
        return text.replace(":", "").lower()

    def ca_file(self, key: str) -> str:
        """A CA bundle file that loads, or empty for the system's CAs.

        Raises:
            ConfigError: missing, unreadable or not PEM certificates.
        """
        path = self.get(key).strip()
        if not path:
            return ""
        try:
            ssl.create_default_context(cafile=path)
        except ssl.SSLError:  # before OSError: SSLError is one
            raise self.error(key, f"'{self.shown(key, path)}' holds no PEM CA"
                             " certificates") from None
        except OSError as exc:
            raise self.error(key, f"'{self.shown(key, path)}' cannot be read:"
                             f" {exc.strerror or exc}") from None
        return path

    def grid_signal(self, key: str) -> GridSignal | None:
        """A grid signal (GridSignal), or None for `auto` or unset.

        Raises:
            ConfigError: another word.
        """
        text = self.get(key).strip().lower()
        if text in ("", GRID_SIGNAL_AUTO):
            return None
        try:
            return GridSignal(text)
        except ValueError:
            choices = " or ".join((GRID_SIGNAL_AUTO, *GridSignal))
            raise self.error(key, f"must be {choices} (got '{self.shown(key, text)}')") from None

    def read(self, spec: Key) -> object:
        """The value of a key of configkeys.KEYS, read and checked as its kind says (a
        CLOUD_CA_FILE is loaded).

        Raises:
            ConfigError: as the kind's reader says.
        """
        if spec.kind is Kind.CA_FILE:
            return self.ca_file(spec.name)
        return _READERS[spec.kind](self, spec)

    def unknown(self, known: Collection[str]) -> tuple[str, ...]:
        """Unknown keys, each named only when it cannot be the tail of a secret.

        `PASSWORD=ab cd=ef` sets a key `cd` (bash does the same): its name is part of what
        the user meant as the password, so it is reported by its line only.
        """
        return tuple(
            key if found.named else f"on line {found.line} (after another key: a value that"
            " holds spaces needs quotes)"
            for key, found in self.found.items() if key not in known
        )


# how each kind of key is read (a CA file is loaded only when asked: see Values.read)
_READERS: dict[Kind, Callable[[Values, Key], object]] = {
    Kind.TEXT: lambda raw, spec: raw.get(spec.name),
    Kind.WORD: lambda raw, spec: raw.get(spec.name).strip() or str(spec.default),
    Kind.INT: lambda raw, spec: raw.integer(spec.name, spec.int_default, spec.low, spec.high),
    Kind.FLAG: lambda raw, spec: bool(raw.get(spec.name)),
    Kind.YES: lambda raw, spec: is_true(raw.get(spec.name)),
    Kind.HOST: lambda raw, spec: raw.host(spec.name, str(spec.default)),
    Kind.URL: lambda raw, spec: raw.url(spec.name, str(spec.default)),
    Kind.TOKEN: lambda raw, spec: raw.token(spec.name),
    Kind.FINGERPRINT: lambda raw, spec: raw.fingerprint(spec.name),
    Kind.CA_FILE: lambda raw, spec: raw.get(spec.name).strip(),
    Kind.GRID_SIGNAL: lambda raw, spec: raw.grid_signal(spec.name),
    Kind.PATH: lambda raw, spec: raw.get(spec.name),
    Kind.DOCUMENT: lambda raw, spec: raw.get(spec.name),
}
