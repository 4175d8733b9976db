"""Protect this host: the answers of the last step, their answers-file keys, and what is there.

"Protect this host" adds a upsmon ``primary`` user to upsd.users and the matching MONITOR line to
upsmon.conf, so that upsmon shuts this host down when the battery runs low. As an option upsd
also serves NAS clients on the LAN: ``MODE=netserver``, a LISTEN address, a ``secondary`` user
(Synology's fixed ``monuser``/``secret`` only when asked for: that password is public).
The step is skipped when upsmon.conf already watches this UPS on this host.
"""

from __future__ import annotations

import ipaddress
import re
import secrets
from dataclasses import dataclass, field, replace
from pathlib import Path, PurePosixPath

from enphase_monitor.facts import FALSE_WORDS, TRUE_WORDS

from . import shown, upsdusers, upsmonconf
from .answermodel import AnswerError
from .answersfile import private_problem, read_input
from .facts import Facts
from .system import System

UPSMON_UNIT = "nut-monitor.service"
SYNOLOGY_USER, SYNOLOGY_PASSWORD = "monuser", "secret"  # what Synology DSM's client sends
LOCAL_HOSTS = ("localhost", "localhost.localdomain", "::1")
USER_NAME = re.compile(r"[A-Za-z0-9_.@-]{1,64}")
PASSWORD = re.compile(r"[!-~]{1,128}")  # printable ASCII, no spaces (a NUT word)
KEYS = ("PROTECT", "PROTECT_USER", "NAS_LISTEN", "NAS_USER", "NAS_PASSWORD",
        "NAS_PASSWORD_FILE", "NAS_SYNOLOGY")


def new_password() -> str:
    """A random password for a upsd user (24 URL-safe characters, 144 bits)."""
    return secrets.token_urlsafe(18)


@dataclass
class ProtectAnswers:
    """The answers of the "protect this host" step (answers-file keys: KEYS)."""

    protect: bool = True  # PROTECT: a upsmon primary on this host
    user: str = ""  # PROTECT_USER (default upsmon-<ups>)
    password: str = field(default_factory=new_password, repr=False)
    nas_listen: str = ""  # NAS_LISTEN: the address upsd listens on for the LAN ("": none)
    nas_user: str = ""  # NAS_USER (default nas-<ups>)
    nas_password: str = field(default_factory=new_password, repr=False)  # NAS_PASSWORD(_FILE)
    nas_synology: bool = False  # NAS_SYNOLOGY: monuser/secret, a public password

    @property
    def serve(self) -> bool:
        """NAS clients on the LAN are served."""
        return bool(self.nas_listen)

    def primary_user(self, ups: str) -> str:
        """The upsmon primary user of this host."""
        return self.user or f"upsmon-{ups}"

    def secondary(self, ups: str) -> tuple[str, str]:
        """(user, password) of the NAS clients."""
        if self.nas_synology:
            return SYNOLOGY_USER, SYNOLOGY_PASSWORD
        return self.nas_user or f"nas-{ups}", self.nas_password

    def check(self, ups: str) -> None:
        """Validate the answers.

        Raises:
            AnswerError: the first problem, naming the answer.
        """
        user, password = self.secondary(ups)
        problems = [
            (not USER_NAME.fullmatch(self.primary_user(ups)),
             "PROTECT_USER: letters, digits, '_', '.', '@' and '-' only (at most 64)"),
            (not PASSWORD.fullmatch(self.password), "the upsmon password must be printable"),
            (self.serve and not USER_NAME.fullmatch(user),
             "NAS_USER: letters, digits, '_', '.', '@' and '-' only (at most 64)"),
            (self.serve and not PASSWORD.fullmatch(password),
             "NAS_PASSWORD: 1 to 128 printable characters, no spaces"),
            (self.serve and user == self.primary_user(ups),
             "NAS_USER must differ from the upsmon user of this host"),
        ]
        for bad, message in problems:
            if bad:
                raise AnswerError(message)
        if self.serve:
            problem = address_problem(self.nas_listen)
            if problem:
                raise AnswerError(f"NAS_LISTEN: {problem}")


def address_problem(text: str) -> str | None:
    """Why upsd cannot be told to listen on `text` for the LAN (None: fine)."""
    try:
        address = ipaddress.ip_address(text.strip())
    except ValueError:
        return f"'{text}' is not an IP address of this host (e.g. 192.168.1.10)"
    if address.is_loopback:
        return "a loopback address serves this host only (upsd does that already)"
    if address.is_multicast or (address.version == 6 and address.is_link_local):
        return f"{address} cannot be listened on (multicast, or IPv6 link-local)"
    return None


def _flag(key: str, text: str) -> bool:
    value = text.strip().lower()
    if value in TRUE_WORDS:
        return True
    if value in FALSE_WORDS:
        return False
    raise AnswerError(f"{key} must be yes or no (got '{text}')")


DRAFT_KEYS = ("PROTECT", "PROTECT_USER", "NAS_LISTEN", "NAS_USER", "NAS_SYNOLOGY")  # no password


def draft_values(answers: ProtectAnswers) -> dict[str, str]:
    """This step's answers as answers-file values for the draft: never a password."""
    return {"PROTECT": "yes" if answers.protect else "no", "PROTECT_USER": answers.user,
            "NAS_LISTEN": answers.nas_listen, "NAS_USER": answers.nas_user,
            "NAS_SYNOLOGY": "yes" if answers.nas_synology else "no"}


def from_draft(values: dict[str, str]) -> ProtectAnswers:
    """The answers a draft kept (only DRAFT_KEYS are read: a draft never names a file).

    Raises:
        AnswerError: a value that is not an answer.
    """
    kept = {k: v for k, v in values.items() if k.upper() in DRAFT_KEYS}
    return apply_values(ProtectAnswers(), kept)


def split_values(values: dict[str, str]) -> tuple[dict[str, str], dict[str, str]]:
    """(the other answers, this step's answers) from answers-file values."""
    mine = {k: v for k, v in values.items() if k.upper() in KEYS}
    return {k: v for k, v in values.items() if k.upper() not in KEYS}, mine


def apply_values(base: ProtectAnswers, values: dict[str, str]) -> ProtectAnswers:
    """`base` with this step's answers-file values applied (a later key wins, as in a file).

    Raises:
        AnswerError: a bad value, or a password file that cannot be read.
    """
    answers = replace(base)
    for key, raw in values.items():
        upper = key.upper()
        if upper == "PROTECT":
            answers.protect = _flag(upper, raw)
        elif upper == "NAS_SYNOLOGY":
            answers.nas_synology = _flag(upper, raw)
        elif upper == "NAS_PASSWORD_FILE":
            answers.nas_password = _password_file(Path(raw), upper)
        elif upper == "NAS_PASSWORD":
            answers.nas_password = raw
        elif upper == "PROTECT_USER":
            answers.user = raw.strip()
        elif upper == "NAS_LISTEN":
            answers.nas_listen = raw.strip()
        elif upper == "NAS_USER":
            answers.nas_user = raw.strip()
    return answers


def _password_file(path: Path, key: str) -> str:
    """The password in a file only its owner may read.

    Raises:
        AnswerError: unreadable, or others may read or change it.
    """
    text, meta = read_input(path, key)
    problem = private_problem(path, meta, key)
    if problem:
        raise AnswerError(problem)
    return text.strip()


# --------------------------------------------------------------------------- what is there

def conf_path(facts: Facts, name: str) -> PurePosixPath:
    """A file in NUT's config directory (upsd.users, upsmon.conf, upsd.conf)."""
    return facts.nut.confdir / name


def is_local(host: str) -> bool:
    """`host` is this machine (localhost, a loopback address)."""
    if host.lower() in LOCAL_HOSTS:
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


@dataclass(frozen=True)
class Watched:
    """How upsmon on this host watches the UPS now."""

    monitor: upsmonconf.Monitor | None = None  # its MONITOR line, if any
    problem: str = ""  # why that line cannot work ("" when it can)

    @property
    def working(self) -> bool:
        """A MONITOR line whose user and password upsd knows: nothing to do."""
        return self.monitor is not None and not self.problem

    def describe(self) -> str:
        """One line for the screen, the review and the batch output."""
        if self.monitor is None:
            return "upsmon on this host does not watch this UPS yet"
        m = self.monitor  # read from the user's files: shown escaped (a byte not UTF-8: \\xNN)
        where = shown.raw(f"MONITOR {m.ups}@{m.host} as user {m.user} ({m.role})", None)
        if self.working:
            return f"already protected: upsmon.conf has {where}"
        return f"upsmon.conf has {where}, but {shown.raw(self.problem, None)}: fix it by hand"


def watched(system: System, facts: Facts, ups: str) -> Watched:
    """Read upsmon.conf and upsd.users: is this UPS watched from this host, and can it work?"""
    conf = system.read_text(conf_path(facts, upsmonconf.FILE))
    mine = [m for m in upsmonconf.monitors(conf) if m.ups == ups and is_local(m.host)]
    if not mine:
        return Watched()
    line = mine[0]
    accounts = upsdusers.users(system.read_text(conf_path(facts, upsdusers.FILE)))
    account = accounts.get(line.user)
    if account is None:
        return Watched(line, f"upsd.users has no user {line.user}")
    if account.password != line.password:
        return Watched(line, f"its password is not the one upsd.users gives {line.user}")
    if account.role is None:
        return Watched(line, f"user {line.user} has no 'upsmon' line in upsd.users")
    return Watched(line)


def upsmon_installed(system: System) -> bool:
    """upsmon (nut-client) is installed."""
    return system.which("upsmon") is not None or any(
        system.exists(p) for p in ("/lib/nut/upsmon", "/usr/lib/nut/upsmon"))


# --------------------------------------------------------------------------- the screen's prefill

@dataclass(frozen=True)
class ProtectPrefill:
    """What the "protect this host" screen starts from."""

    ups: str
    answers: ProtectAnswers
    watched: Watched
    upsmon: bool  # upsmon (nut-client) is installed
    addresses: tuple[str, ...] = ()  # this host's LAN addresses, to offer for NAS_LISTEN


def host_addresses(system: System) -> tuple[str, ...]:
    """This host's global addresses (`ip -o addr show scope global`; () when unknown)."""
    answer = system.query("ip", "-o", "addr", "show", "scope", "global")
    found: list[str] = []
    for line in answer.stdout.splitlines() if answer.ok else []:
        words = line.split()
        if len(words) >= 4 and words[2] in ("inet", "inet6"):
            address = words[3].split("/", 1)[0]
            if address_problem(address) is None and address not in found:
                found.append(address)
    return tuple(found[:16])


def make_prefill(system: System, facts: Facts, ups: str,
                 answers: ProtectAnswers | None = None) -> ProtectPrefill:
    """The screen's prefill: earlier answers (or the defaults) and what the host has.

    An existing MONITOR line for the UPS unticks "protect" (there is nothing to add).
    """
    watch = watched(system, facts, ups)
    base = answers or ProtectAnswers(protect=watch.monitor is None)
    return ProtectPrefill(ups, base, watch, upsmon_installed(system), host_addresses(system))
