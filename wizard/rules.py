"""The rules an answer must follow, shared by the screens and ``--non-interactive``.

Each rule checks the text of one answer and carries its own failure text, as Textual's
validators do; the screens wrap them as validators (``screens/validators.py``), the answers
file and the flags go through `answer_problem`. Rules are plain data (a range, a pattern, a
message), so a table of the config's keys can produce them. Where the daemon's config defines
a range or a pattern, it is imported from there.
"""

from __future__ import annotations

import abc
import re
from dataclasses import dataclass
from pathlib import PurePosixPath

from enphase_monitor.cafile import check_ca_file
from enphase_monitor.configkeys import BY_NAME
from enphase_monitor.configvalues import FINGERPRINT as FINGERPRINT_PATTERN
from enphase_monitor.errors import ConfigError
from enphase_monitor.facts import UPS_NAME as UPS_NAME_PATTERN
from enphase_monitor.facts import UPS_NAME_RULE
from enphase_monitor.netloc import HostError, normal_host
from enphase_monitor.nutvars import RUNTIME_CAP_S
from enphase_monitor.textsafe import has_control

VOLATILE_DIRS = (PurePosixPath("/run"), PurePosixPath("/tmp"), PurePosixPath("/var/run"),
                 PurePosixPath("/dev/shm"))


class Rule(abc.ABC):
    """A check of one answer's text; `failure` says what is wrong, in words for the user."""

    @abc.abstractmethod
    def failure(self, text: str) -> str | None:
        """Why `text` will not do, without echoing it when it may be a secret (None: fine)."""


@dataclass(frozen=True)
class OneLine(Rule):
    """No newline or other control character (a newline in ups.conf starts a new line)."""

    def failure(self, text: str) -> str | None:
        """Refuse control characters (never echoes the text: it may be a secret)."""
        if has_control(text):
            return "must be one line, without control characters"
        return None


@dataclass(frozen=True)
class Needed(Rule):
    """Not empty."""

    def failure(self, text: str) -> str | None:
        """Refuse an empty answer."""
        return None if text.strip() else "needed: it is empty"


@dataclass(frozen=True)
class WholeNumber(Rule):
    """A whole number in a range."""

    low: int
    high: int

    def failure(self, text: str) -> str | None:
        """Refuse what is not a whole number from `low` to `high`."""
        wanted = f"a whole number from {self.low} to {self.high}"
        value = text.strip()
        if not re.fullmatch(r"[0-9]{1,9}", value):
            return wanted
        if not self.low <= int(value) <= self.high:
            return f"{int(value)} is out of range: {wanted}"
        return None


@dataclass(frozen=True)
class Matches(Rule):
    """The whole text matches a pattern (empty text is left to `Needed`)."""

    pattern: re.Pattern[str]
    what: str

    def failure(self, text: str) -> str | None:
        """Refuse text that does not match."""
        value = text.strip()
        return None if not value or self.pattern.fullmatch(value) else self.what


@dataclass(frozen=True)
class Host(Rule):
    """A host name or IP address with an optional :port, as the daemon's config takes it."""

    def failure(self, text: str) -> str | None:
        """Refuse what the daemon's ENVOY_HOST check refuses (empty is left to `Needed`)."""
        if not text.strip():
            return None
        try:
            normal_host(text.strip())
        except HostError as exc:
            return f"a host name or IP address, optionally with :port ({exc})"
        return None


@dataclass(frozen=True)
class PortFile(Rule):
    """An absolute path that survives a reboot (empty: the default in the state directory)."""

    def failure(self, text: str) -> str | None:
        """Refuse a relative path or one in a directory emptied at reboot."""
        if not text.strip():
            return None
        path = PurePosixPath(text.strip())
        if not path.is_absolute():
            return "an absolute path is needed"
        if any(path == d or d in path.parents for d in VOLATILE_DIRS):
            return (f"{path.parent} is emptied at reboot and the monitor never creates the port"
                    " file: choose a persistent directory")
        return None


@dataclass(frozen=True)
class CaFile(Rule):
    """A CLOUD_CA_FILE the daemon will accept (enphase_monitor/cafile.py: owner and write)."""

    def failure(self, text: str) -> str | None:
        """The daemon's one line for a CA file it refuses at start (empty: the system's CAs)."""
        if not text.strip():
            return None
        try:
            check_ca_file(text.strip())
        except ConfigError as exc:
            return str(exc)
        return None


def key_range(name: str) -> WholeNumber:
    """The range of an integer config key, from the daemon's table (configkeys.py)."""
    spec = BY_NAME[name]
    return WholeNumber(spec.low, spec.high)


UPS_NAME = Matches(UPS_NAME_PATTERN, UPS_NAME_RULE)
FINGERPRINT = Matches(FINGERPRINT_PATTERN, "the SHA-256 of the gateway certificate: 64 hex digits")
CHARGE_LOW = WholeNumber(0, 100)
RUNTIME_LOW = WholeNumber(0, RUNTIME_CAP_S)  # seconds; 0: the rule is off
POLLFREQ = key_range("POLLFREQ")

# answer (Answers field) -> its rules, after OneLine, which every answer has
RULES: dict[str, tuple[Rule, ...]] = {
    "ups": (Needed(), UPS_NAME),
    "envoy_host": (Needed(), Host()),
    "charge_low": (CHARGE_LOW,),
    "runtime_low": (RUNTIME_LOW,),
    "pollfreq": (POLLFREQ,),
    "port_file": (PortFile(),),
    "gateway_fingerprint": (FINGERPRINT,),
    "cloud_ca_file": (CaFile(),),
}


def rules_for(name: str) -> tuple[Rule, ...]:
    """Every rule of one answer (Answers field name), OneLine first."""
    return (OneLine(), *RULES.get(name, ()))


def answer_problem(name: str, text: str) -> str | None:
    """The first failure of an answer's text, as ``KEY: what is wrong`` (None: fine)."""
    for rule in rules_for(name):
        failure = rule.failure(text)
        if failure is not None:
            # the daemon's own lines name the key already (CLOUD_CA_FILE file ...)
            return failure if name.upper() in failure else f"{name.upper()}: {failure}"
    return None
