"""What the user answers: defaults, prefill from the current files, and the answers file.

The answers file (``--answers FILE``) uses the config file's syntax (``KEY=VALUE``, quotes,
comments), or JSON when it starts with ``{``. Its keys are the fields' names in upper case
(ANSWER_KEYS); secrets may come from files (PASSWORD_FILE, TOKEN_FILE) so that they stay out
of playbooks.
"""

from __future__ import annotations

import contextlib
import enum
import json
from dataclasses import dataclass, field, fields, replace
from pathlib import Path, PurePosixPath

from enphase_monitor import paths
from enphase_monitor.config import check_dir_perms, check_secret
from enphase_monitor.configkeys import default_int
from enphase_monitor.errors import ConfigError, MonitorError
from enphase_monitor.facts import ENVOY_HOST, LOGIN_URL, TOKENS_URL, credstore_file, is_true
from enphase_monitor.fileutil import FileMeta, read_regular
from enphase_monitor.nutvars import RUNTIME_LOW
from enphase_monitor.portfile import PortContent
from enphase_monitor.shellvars import parse_assignments
from enphase_monitor.textsafe import escape

from . import daemonconf
from .facts import CREDSTORE, STATE_DIR, Facts
from .nutconf import UpsConf
from .rules import answer_problem
from .system import System

CHARGE_LOW = "battery.charge.low"


class SecretStore(enum.StrEnum):
    """Where the Enlighten password (or a manual token) goes."""

    CREDENTIAL = "systemd-creds"
    KEYRING = "keyring"
    CONFIG = "config"


class AnswerError(ValueError):
    """An answer is missing or invalid; the message names it."""


@dataclass
class Answers:
    """Every answer of the flow; field names double as answers-file keys (upper case)."""

    ups: str = "ups"
    envoy_host: str = ENVOY_HOST
    serial: str = ""
    firmware: str = ""
    username: str = ""
    password: str = field(default="", repr=False)
    token: str = field(default="", repr=False)  # a manual token (MFA accounts)
    use_token: bool = False
    pin_certificate: bool = False
    gateway_fingerprint: str = ""
    charge_low: int = 20
    runtime_low: int = 0  # battery.runtime.low in seconds; 0: not used
    pollfreq: int = default_int("POLLFREQ")
    port_file: str = ""
    desc: str = ""
    secret_store: SecretStore = SecretStore.CONFIG
    keep_secret: bool = False  # re-run: the stored secret (credential, keyring) stays
    adopt_section: bool = False  # take over a ups.conf section enphase-setup did not make
    enphase_login: str = ""  # the cloud URLs: only for tests and the simulator
    enphase_tokens: str = ""
    cloud_ca_file: str = ""

    @property
    def port_path(self) -> PurePosixPath:
        """The port file (default: STATE_DIR/<ups>.dev)."""
        return PurePosixPath(self.port_file or str(STATE_DIR / f"{self.ups}.dev"))

    @property
    def state_dir(self) -> PurePosixPath:
        """STATE_DIR: the port file's directory (the token file goes there too)."""
        return self.port_path.parent

    @property
    def description(self) -> str:
        """`desc` for ups.conf."""
        return self.desc or f"Enphase IQ Gateway {self.serial}".strip()

    @property
    def login_url(self) -> str:
        """Enlighten's login URL (or the simulator's)."""
        return self.enphase_login or LOGIN_URL

    @property
    def tokens_url(self) -> str:
        """Entrez's token URL (or the simulator's)."""
        return self.enphase_tokens or TOKENS_URL

    def secret(self) -> str:
        """The secret that gets stored: the token on the manual path, else the password."""
        return self.token if self.use_token else self.password

    def check(self) -> None:
        """Validate the answers the plan needs: each by its rules, then what the flow needs.

        Raises:
            AnswerError: the first problem found, naming the answer.
        """
        for item in fields(self):
            value = getattr(self, item.name)
            problem = answer_problem(item.name, value if isinstance(value, str) else str(value))
            if problem:
                raise AnswerError(problem)
        missing = [
            (not self.serial.strip(), "SERIAL is needed (the gateway's serial number)"),
            (not self.use_token and not self.username, "USERNAME (Enlighten e-mail) is needed"),
            (not self.secret() and not self.keep_secret,
             "TOKEN is needed" if self.use_token else "PASSWORD is needed"),
        ]
        for bad, message in missing:
            if bad:
                raise AnswerError(message)


ANSWER_KEYS = tuple(f.name.upper() for f in fields(Answers))
FILE_KEYS = ("PASSWORD_FILE", "TOKEN_FILE")
SECRET_ANSWERS = ("PASSWORD", "TOKEN", "NAS_PASSWORD")
INPUT_LIMIT = 64 * 1024  # an answers file is a few hundred bytes
BOOL_ANSWERS = ("use_token", "pin_certificate", "keep_secret", "adopt_section")
INT_ANSWERS = ("charge_low", "runtime_low", "pollfreq")


def _store(text: str) -> SecretStore:
    try:
        return SecretStore(text.strip().lower())
    except ValueError:
        choices = ", ".join(s.value for s in SecretStore)
        raise AnswerError(f"SECRET_STORE must be one of {choices}"
                          f" (got '{escape(text, 40)}')") from None


def apply_values(base: Answers, values: dict[str, str]) -> Answers:
    """`base` with the answers-file values applied.

    Raises:
        AnswerError: an unknown key or a bad value.
    """
    changes: dict[str, object] = {}
    for key, raw in values.items():
        upper = key.upper()
        if upper in FILE_KEYS:
            text, meta = read_input(Path(raw), upper)
            problem = private_problem(Path(raw), meta, upper)
            if problem:
                raise AnswerError(problem)
            secret = text.strip()
            name = "password" if upper == "PASSWORD_FILE" else "token"
            problem = answer_problem(name, secret)
            if problem:
                raise AnswerError(f"{upper} {raw}: {problem}")
            changes[name] = secret
            if upper == "TOKEN_FILE":
                changes["use_token"] = True
            continue
        if upper not in ANSWER_KEYS:
            raise AnswerError(f"unknown answer {escape(key, 40)} (known: {', '.join(ANSWER_KEYS)})")
        name = upper.lower()
        problem = answer_problem(name, raw)
        if problem:
            raise AnswerError(problem)
        if name in BOOL_ANSWERS:
            changes[name] = is_true(raw)
        elif name in INT_ANSWERS:
            changes[name] = int(raw.strip())
        elif name == "secret_store":
            changes[name] = _store(raw)
        else:
            changes[name] = raw.strip() if name not in ("password", "token") else raw
    if "token" in changes and changes["token"] and "use_token" not in changes:
        changes["use_token"] = True
    answers = replace(base)
    for name, value in changes.items():
        setattr(answers, name, value)
    return answers


def read_input(path: Path, what: str) -> tuple[str, FileMeta]:
    """The text of an answers or secret file, and the mode and owner of the very file read (a
    symlink the user named is followed to its end, the file itself is read without following
    one).

    Raises:
        AnswerError: unreadable, not a regular file, larger than 64 KiB, or not UTF-8.
    """
    try:
        found = read_regular(path.resolve(), INPUT_LIMIT, what)
        return found.data.decode("utf-8"), found.meta
    except MonitorError as exc:
        raise AnswerError(str(exc)) from None
    except OSError as exc:
        raise AnswerError(f"cannot read {what} {path}: {exc.strerror or exc}") from None
    except UnicodeDecodeError:
        raise AnswerError(f"{what} {path} is not UTF-8 text") from None


def private_problem(path: Path, meta: FileMeta, what: str) -> str | None:
    """Why a file holding a secret is too open: the daemon's own rule for its config
    (`enphase_monitor.config.check_secret`, `check_dir_perms`), in the same one line."""
    try:
        check_secret(what, path, meta)
        check_dir_perms(what, path.resolve().parent)
    except ConfigError as exc:
        return str(exc)
    return None


def read_answers_file(path: Path) -> dict[str, str]:
    """KEY=VALUE (config syntax) or JSON answers.

    Raises:
        AnswerError: unreadable or malformed, or it holds PASSWORD or TOKEN and others may
            read or change it.
    """
    text, meta = read_input(path, "answers file")
    values = _parse_answers(path, text)
    secret = any(values.get(key) for key in SECRET_ANSWERS)
    problem = private_problem(path, meta, "answers file") if secret else None
    if problem:
        raise AnswerError(problem)
    return values


def _parse_answers(path: Path, text: str) -> dict[str, str]:
    """JSON (when it starts with '{') or the config's KEY=VALUE syntax."""
    if text.lstrip().startswith("{"):
        try:
            data = json.loads(text)
        except ValueError as exc:
            raise AnswerError(f"answers file {path}: not valid JSON ({exc})") from None
        if not isinstance(data, dict):
            raise AnswerError(f"answers file {path}: a JSON object is expected")
        return {str(k): v if isinstance(v, str) else json.dumps(v) for k, v in data.items()}
    try:
        return parse_assignments(text, {})
    except ConfigError as exc:
        raise AnswerError(f"answers file {path}: {exc}") from None


# --------------------------------------------------------------------------- prefill

@dataclass(frozen=True)
class Existing:
    """What is already set up for one UPS (empty when nothing)."""

    ups: str
    config_text: str | None = None
    section: dict[str, str] = field(default_factory=dict)
    port_text: str | None = None
    daemon: paths.DaemonPaths | None = None  # the files the daemon writes for this config
    config_problem: daemonconf.Problem | None = None  # the daemon refuses the config as it is

    @property
    def port_file(self) -> PurePosixPath | None:
        """The port file the daemon writes (None: not known)."""
        found = self.daemon.port_file if self.daemon is not None else None
        return None if found is None else PurePosixPath(found)

    @property
    def token_file(self) -> PurePosixPath | None:
        """The token cache the daemon keeps (None: not known)."""
        return None if self.daemon is None else PurePosixPath(self.daemon.token_file)

    @property
    def configured(self) -> bool:
        """A config file exists for this UPS."""
        return self.config_text is not None

    @property
    def values(self) -> dict[str, str]:
        """The config's assignments."""
        return daemonconf.read_values(self.config_text)


def existing_upses(system: System, facts: Facts) -> list[str]:
    """UPS names that have an enphase-<ups>.conf in the NUT config dir."""
    names = (paths.ups_of_config(name) for name in system.list_dir(facts.nut.confdir))
    return [ups for ups in names if ups is not None]


def daemon_paths(values: dict[str, str], section: dict[str, str], ups: str,
                 system: System, facts: Facts) -> paths.DaemonPaths | None:
    """The daemon's files for a config's `values` (enphase_monitor.paths: the daemon's rules).

    Without PORT_FILE the port is the ups.conf section's, as dummy-ups reads it. None when
    there is neither a config nor a section, or a path names a `~user` without a home.
    """
    if not values and not section:
        return None
    try:
        found = paths.DaemonPaths.of(values, ups, system.env)
    except ConfigError:
        return None
    port = section.get("port", "")
    if found.port_file is None and port:
        found = replace(found, port_file=paths.driver_port(port, Path(facts.nut.confdir)))
    return found


def load_existing(system: System, facts: Facts, ups: str) -> Existing:
    """Read the current files for `ups` (config, ups.conf section, port file)."""
    config_path = facts.nut.config_file(ups)
    found_config = system.read_file(config_path)
    config = None if found_config is None else found_config.data.decode("utf-8",
                                                                         "surrogateescape")
    daemon_user = system.accounts.user(facts.nut.user)
    problem = None if found_config is None else daemonconf.file_problem(
        config_path, found_config.meta, system.path(config_path.parent),
        None if daemon_user is None else daemon_user.uid)
    conf = UpsConf(system.read_text(facts.nut.ups_conf) or "")
    found = conf.section(ups)
    section = dict(found.settings) if found else {}
    daemon = daemon_paths(daemonconf.read_values(config), section, ups, system, facts)
    existing = Existing(ups, config, section, None, daemon, problem)
    port = existing.port_file
    port_text = system.read_text(port) if port else None
    if port and port_text is None:
        port_text = system.read_text(PurePosixPath(paths.nocomms_file(Path(port))))
    return replace(existing, port_text=port_text)


def _port_number(port_text: str | None, variable: str) -> int | None:
    """A whole number from the port file's `variable` line (the last one, as dummy-ups reads
    the file: enphase_monitor.portfile), None when absent or not a number."""
    value = PortContent.parse(port_text or "").values.get(variable)
    if not value:
        return None
    try:
        return int(float(value))
    except (ValueError, OverflowError):  # not a number, nan, inf
        return None


def prefill(existing: Existing, facts: Facts, base: Answers | None = None) -> Answers:
    """Answers taken from the current files (a re-run is an edit)."""
    ans = replace(base) if base is not None else Answers()
    ans.ups = existing.ups
    if not existing.configured and not existing.section:
        return ans
    v = existing.values
    ans.envoy_host = v.get("ENVOY_HOST") or ans.envoy_host
    ans.serial = v.get("SERIAL") or ans.serial
    ans.username = v.get("USERNAME") or ans.username
    ans.password = v.get("PASSWORD") or ans.password
    ans.token = v.get("TOKEN") or ans.token
    ans.use_token = bool(v.get("TOKEN")) and not v.get("USERNAME")
    ans.gateway_fingerprint = v.get("GATEWAY_FINGERPRINT") or ""
    ans.pin_certificate = bool(ans.gateway_fingerprint)
    with contextlib.suppress(ValueError):
        ans.pollfreq = int(v.get("POLLFREQ") or ans.pollfreq)
    ans.enphase_login = v.get("ENPHASE_LOGIN", "")
    ans.enphase_tokens = v.get("ENPHASE_TOKENS", "")
    ans.cloud_ca_file = v.get("CLOUD_CA_FILE", "")
    if existing.port_file is not None:
        ans.port_file = str(existing.port_file)
    ans.desc = existing.section.get("desc", "")
    low = _port_number(existing.port_text, CHARGE_LOW)
    ans.charge_low = ans.charge_low if low is None else low
    ans.runtime_low = _port_number(existing.port_text, RUNTIME_LOW) or 0
    stored = [credential_path(existing.ups, kind) for kind in ("password", "token")]
    if facts.system.exists(stored[1]) and not v.get("PASSWORD"):
        ans.use_token = True
    if any(facts.system.exists(path) for path in stored):
        ans.secret_store = SecretStore.CREDENTIAL
    elif is_true(v.get("PASSWORD_KEYRING", "")):
        ans.secret_store = SecretStore.KEYRING
    else:
        ans.secret_store = SecretStore.CONFIG
    ans.keep_secret = not ans.secret() and ans.secret_store is not SecretStore.CONFIG
    return ans


def credential_path(ups: str, kind: str) -> PurePosixPath:
    """/etc/credstore.encrypted/enphase-monitor-<ups>.<kind> (kind: password or token)."""
    return CREDSTORE / credstore_file(ups, kind)


def default_store(facts: Facts) -> SecretStore:
    """A systemd credential where possible, else the config file."""
    return SecretStore.CREDENTIAL if facts.systemd.encrypted_credentials else SecretStore.CONFIG
