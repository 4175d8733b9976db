"""Which characters text from outside may hold, and how any text is shown safely.

Every sink that a person or another program reads (the log, systemd's `STATUS=`, the `-v -s`
report, error messages) shows outside text through `escape()`: one line, no terminal escape
sequences, nothing a reader would take for a separator. Values written to the port file are
cleaned further by `nutvars.sanitize` (NUT's own, narrower rule).
"""

from __future__ import annotations

import re

# C0, DEL, C1 and the Unicode line/paragraph separators: never inside a config value or a token
_CONTROL = re.compile("[\x00-\x1f\x7f-\x9f\u2028\u2029]")
_SHORT = {"\n": "\\n", "\r": "\\r", "\t": "\\t"}
# a JWT (RFC 7515 compact form): three base64url parts, the signature may be empty
_JWT = re.compile(r"[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*")
JWT_CHARACTERS = "letters, digits, '-', '_' and two dots"
MAX_TOKEN_CHARS = 8192  # real gateway tokens are under 1 kB


def _escaped(char: str) -> str:
    code = ord(char)
    if char in _SHORT:
        return _SHORT[char]
    if code < 0x100:
        return f"\\x{code:02x}"
    return f"\\u{code:04x}" if code < 0x10000 else f"\\U{code:08x}"


def escape(text: str, limit: int | None = None) -> str:
    """`text` made safe to show: every non-printable character as a Python-style escape.

    Control characters (newlines, ESC, C1), format characters (bidi overrides, zero-width
    marks), line separators, lone surrogates and unassigned or odd spaces become `\\n`,
    `\\x1b`, `\\u202e`...; the plain space stays. The result is one line that encodes as UTF-8.

    Args:
        text: any text, e.g. from the gateway, the cloud, the config or the environment.
        limit: cut the escaped text to this many characters (ending in `...`), if given.
    """
    if limit is not None:
        text = text[: limit + 1]  # each character shows as one or more: the rest is cut anyway
    if not text.isprintable():
        text = "".join(c if c.isprintable() else _escaped(c) for c in text)
    if limit is not None and len(text) > limit:
        return text[: max(limit - 3, 0)] + "..."
    return text


def has_control(text: str) -> bool:
    """True if `text` holds a control character or a line/paragraph separator."""
    return _CONTROL.search(text) is not None


def is_jwt_text(text: str) -> bool:
    """True if `text` has a JWT's shape and alphabet (and a sane length); nothing else."""
    return len(text) <= MAX_TOKEN_CHARS and _JWT.fullmatch(text) is not None
