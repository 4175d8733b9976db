"""Logging: levels for -d, -d -d and -d -d -d, syslog prefixes under systemd, secret redaction.

Every record is one line: the Formatter escapes control characters in the final text (from
the gateway, the cloud, the config or the environment), so nothing can start a new log line,
fake a journald priority or drive the terminal.
"""

from __future__ import annotations

import logging
import os
import sys
from typing import TextIO

from .textsafe import escape

SECRETS = 9  # -d -d: the token may be shown
TRACE = 8  # -d -d -d: raw payloads
_LEVELS = {0: logging.WARNING, 1: logging.DEBUG, 2: SECRETS}
_SYSLOG = {logging.CRITICAL: 2, logging.ERROR: 3, logging.WARNING: 4, logging.INFO: 6}
logging.addLevelName(SECRETS, "DEBUG")
logging.addLevelName(TRACE, "DEBUG")
MAX_LINE_CHARS = 8192  # one record at most; journald splits longer lines anyway
BAD_ARGUMENTS = "(bad log arguments)"


def level_for(debug: int, verbose: bool) -> int:
    """The logging level for `-d` repeated `debug` times, and `-v`."""
    if debug >= 3:
        return TRACE
    if debug:
        return _LEVELS[debug]
    return logging.INFO if verbose else logging.WARNING


def under_journald(stream: TextIO) -> bool:
    """True when stderr is connected to the journal (systemd sets JOURNAL_STREAM)."""
    value = os.environ.get("JOURNAL_STREAM", "")
    if ":" not in value:
        return False
    try:
        st = os.fstat(stream.fileno())
    except (OSError, ValueError):
        return False
    return value == f"{st.st_dev}:{st.st_ino}"


def message(record: logging.LogRecord) -> str:
    """The record's message; for a bad format, the format string alone, never the arguments.

    A logging call such as `log.info("%d", secret)` fails to format: the standard handler
    would then print the arguments (which may hold a secret) with a traceback.
    """
    try:
        return record.getMessage()
    except Exception:  # any error of a caller's format or of its arguments
        pass
    try:
        return f"{record.msg} {BAD_ARGUMENTS}"
    except Exception:  # a message object whose str() fails
        return f"<unprintable message> {BAD_ARGUMENTS}"


class Redactor(logging.Filter):
    """Replaces secrets in every record; the token only below -d -d."""

    def __init__(self) -> None:
        super().__init__()
        self.always: set[str] = set()
        self.tokens: set[str] = set()
        self.show_tokens = False

    def add(self, secret: str, token: bool = False) -> None:
        """Never log `secret` (a token: only hidden below -d -d)."""
        if len(secret) >= 4:
            (self.tokens if token else self.always).add(secret)

    def filter(self, record: logging.LogRecord) -> bool:
        """Scrub the message; a bad format is replaced by its format string alone."""
        hidden = self.always if self.show_tokens else self.always | self.tokens
        try:
            text = record.getMessage()
        except Exception:  # a caller's bad format: never let the handler show the arguments
            record.msg, record.args = self.scrub(message(record)), None
            return True
        if hidden:
            record.msg, record.args = self.scrub(text), None
        return True

    def scrub(self, text: str) -> str:
        """`text` with every secret that must stay hidden replaced."""
        hidden = self.always if self.show_tokens else self.always | self.tokens
        for secret in sorted(hidden, key=len, reverse=True):  # longest first
            if secret in text:
                text = text.replace(secret, "<hidden>")
        return text


class Formatter(logging.Formatter):
    """`<4>message` for journald, else `warning: message` (info plain, like the seed)."""

    def __init__(self, journald: bool, prefix: str) -> None:
        super().__init__()
        self.journald = journald
        self.prefix = prefix

    def format(self, record: logging.LogRecord) -> str:
        text = message(record)
        if record.exc_info and record.levelno <= logging.DEBUG:
            text += "\n" + REDACTOR.scrub(self.formatException(record.exc_info))
        text = escape(text, MAX_LINE_CHARS)
        if self.journald:
            return f"<{_SYSLOG.get(record.levelno, 7)}>{text}"
        if record.levelno >= logging.WARNING:
            return f"{self.prefix}{record.levelname.lower()}: {text}"
        if record.levelno < logging.INFO:
            return f"DEBUG: {text}"
        return text


REDACTOR = Redactor()


def fatal(message: str, stream: TextIO | None = None) -> None:
    """Print a fatal one-line error (with the error priority under journald)."""
    stream = stream or sys.stderr
    line = escape(REDACTOR.scrub(message), MAX_LINE_CHARS)
    print(f"<3>{line}" if under_journald(stream) else line, file=stream)


def setup(debug: int, verbose: bool, prefix: str = "", stream: TextIO | None = None) -> None:
    """Configure the package's logger on stderr."""
    stream = stream or sys.stderr
    root = logging.getLogger("enphase_monitor")
    for handler in list(root.handlers):
        root.removeHandler(handler)
    handler = logging.StreamHandler(stream)
    handler.setFormatter(Formatter(under_journald(stream), prefix))
    handler.addFilter(REDACTOR)
    root.addHandler(handler)
    root.setLevel(level_for(debug, verbose))
    root.propagate = False
    REDACTOR.show_tokens = debug >= 2
