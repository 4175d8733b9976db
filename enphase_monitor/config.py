"""The config file (seed-compatible KEY=VALUE), environment, defaults, validation, permissions."""

from __future__ import annotations

import logging
import os
import re
import stat
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from .cafile import check_ca_file
from .configvalues import Values
from .errors import ConfigError, InsecureFileError, UnsafeFileError
from .fileutil import FileMeta, meta_of, read_regular
from .grid import GridSignal
from .shellvars import parse_lines
from .textsafe import escape

log = logging.getLogger(__name__)

DEFAULT_LOGIN_URL = "https://enlighten.enphaseenergy.com/login/login.json?"
DEFAULT_TOKENS_URL = "https://entrez.enphaseenergy.com/tokens"
DEFAULT_ENVOY_HOST = "envoy.local"
DEFAULT_PASSWORD_CREDENTIAL = "enphase-password"
DEFAULT_TOKEN_CREDENTIAL = "enphase-token"
TEST_KEYS = (
    "TEST_SESS", "TEST_TOKEN", "TEST_RELAY", "TEST_LIVE", "TEST_REPORTS", "TEST_SECCTRL",
    "TEST_INFO",
)

# key -> (default, minimum, maximum); values below the minimum are raised to it, as the seed does
_INT_KEYS: dict[str, tuple[int, int, int]] = {
    "POLLFREQ": (60, 5, 86400),
    "POLLFREQALERT": (20, 5, 86400),
    "LOADKWH": (768, 0, 100000),
    "LOGIN_TIMEOUT": (10, 5, 300),
    "API_TIMEOUT": (5, 2, 120),
    "NOCOMMS_AFTER": (2, 1, 100),
    "RELAY_CHECK": (5, 0, 3600),
    "CONFIRM_DELAY": (3, 1, 60),
    "TOKEN_WARN_DAYS": (14, 0, 365),
    "DEBUG": (0, 0, 9),
}
_STRING_KEYS = (
    "USERNAME", "PASSWORD", "SERIAL", "PORT_FILE", "DISABLE_METERS", "ENVOY_HOST", "STATE_DIR",
    "TOKEN_FILE", "UPS", "TEST", "ENPHASE_LOGIN", "ENPHASE_TOKENS", "TOKEN", "GATEWAY_FINGERPRINT",
    "CLOUD_CA_FILE", "PASSWORD_KEYRING", "PASSWORD_CREDENTIAL", "TOKEN_CREDENTIAL", "GRID_SIGNAL",
)
KNOWN_KEYS = frozenset(_INT_KEYS) | frozenset(_STRING_KEYS) | frozenset(TEST_KEYS)
SECRET_KEYS = frozenset({"PASSWORD", "TOKEN", "TEST_TOKEN", "TEST_SESS"})
TOKEN_KEYS = ("TOKEN", "TEST_TOKEN")
# JSON / XML documents of the TEST mode: line breaks and tabs are only whitespace there
_DOCUMENT_KEYS = frozenset(TEST_KEYS) - {"TEST_TOKEN"}
_UPS = re.compile(r"[A-Za-z0-9_.\-]+")
_TRUE = {"1", "yes", "true", "on"}
GRID_SIGNAL_AUTO = "auto"
CONFIG_MAX = 64 * 1024  # the seed's config is ~2 KiB; anything near this is not a config


@dataclass(frozen=True)
class Config:
    """Everything the daemon reads from its config file and environment, validated.

    `envoy_host` is `host` or `host:port` with an IPv6 address always in brackets
    (`[fe80::1]:443`), so `urlsplit("https://" + envoy_host)` gives `.hostname` and `.port`.
    `login_url` and `tokens_url` are https:// URLs with a valid host; `token` is empty or JWT
    text. No value taken from the file holds a control character (the TEST mode's JSON
    documents may hold line breaks and tabs); paths from the environment are not checked, so
    show every value through `textsafe.escape` (the log, STATUS= and the report do).
    """

    path: Path
    ups: str
    username: str
    password: str = field(repr=False)
    serial: str
    port_file: Path
    state_dir: Path
    token_file: Path
    envoy_host: str = DEFAULT_ENVOY_HOST
    disable_meters: bool = False
    pollfreq: int = _INT_KEYS["POLLFREQ"][0]
    pollfreqalert: int = _INT_KEYS["POLLFREQALERT"][0]
    loadkwh: int = _INT_KEYS["LOADKWH"][0]
    login_timeout: int = _INT_KEYS["LOGIN_TIMEOUT"][0]
    api_timeout: int = _INT_KEYS["API_TIMEOUT"][0]
    nocomms_after: int = _INT_KEYS["NOCOMMS_AFTER"][0]
    relay_check: int = _INT_KEYS["RELAY_CHECK"][0]
    confirm_delay: int = _INT_KEYS["CONFIRM_DELAY"][0]
    token_warn_days: int = _INT_KEYS["TOKEN_WARN_DAYS"][0]
    debug: int = _INT_KEYS["DEBUG"][0]
    login_url: str = DEFAULT_LOGIN_URL
    tokens_url: str = DEFAULT_TOKENS_URL
    token: str = field(default="", repr=False)
    gateway_fingerprint: str = ""
    cloud_ca_file: str = ""
    password_keyring: bool = False
    password_credential: str = DEFAULT_PASSWORD_CREDENTIAL
    token_credential: str = DEFAULT_TOKEN_CREDENTIAL
    test: bool = False
    test_values: Mapping[str, str] = field(default_factory=dict, repr=False)
    unknown_keys: tuple[str, ...] = ()
    grid_signal: GridSignal | None = None  # GRID_SIGNAL; None: auto (by topology)

    def shown(self) -> list[tuple[str, str]]:
        """Return (key, value) pairs for display, secrets hidden."""
        def hide(v: str) -> str:
            return "<hidden>" if v else "<unset>"

        return [
            ("config", str(self.path)),
            ("UPS", self.ups),
            ("USERNAME", self.username or "<unset>"),
            ("PASSWORD", hide(self.password)),
            ("TOKEN", hide(self.token)),
            ("SERIAL", self.serial or "<unset>"),
            ("ENVOY_HOST", self.envoy_host),
            ("STATE_DIR", str(self.state_dir)),
            ("PORT_FILE", str(self.port_file)),
            ("TOKEN_FILE", str(self.token_file)),
            ("POLLFREQ", str(self.pollfreq)),
            ("POLLFREQALERT", str(self.pollfreqalert)),
            ("RELAY_CHECK", str(self.relay_check) if self.relay_check else "off"),
            ("NOCOMMS_AFTER", str(self.nocomms_after)),
            ("API_TIMEOUT", str(self.api_timeout)),
            ("LOGIN_TIMEOUT", str(self.login_timeout)),
            ("LOADKWH", str(self.loadkwh)),
            ("DISABLE_METERS", "yes" if self.disable_meters else "no"),
            ("GRID_SIGNAL", self.grid_signal or GRID_SIGNAL_AUTO),
            ("GATEWAY_FINGERPRINT", self.gateway_fingerprint or "<not pinned>"),
        ]


def default_config_dir(env: Mapping[str, str]) -> Path:
    """NUT_SYSCONFIG, then NUT_CONFPATH, then /etc/ups if present, else /etc/nut."""
    for key in ("NUT_SYSCONFIG", "NUT_CONFPATH"):
        if env.get(key):
            return Path(env[key])
    return Path("/etc/ups") if Path("/etc/ups").is_dir() else Path("/etc/nut")


def default_state_dir(env: Mapping[str, str]) -> Path:
    """NUT_LOCALSTATE, then NUT_STATEPATH, else /var/lib/ups (the seed's default)."""
    for key in ("NUT_LOCALSTATE", "NUT_STATEPATH"):
        if env.get(key):
            return Path(env[key])
    return Path("/var/lib/ups")


def config_path_for(ups: str | None, config: str | None, env: Mapping[str, str]) -> Path:
    """Find the config file from `-c`, $CONFIG_FILE, or the UPS name.

    Raises:
        ConfigError: neither a config file nor a UPS name is given.
    """
    chosen = config or env.get("CONFIG_FILE")
    if chosen:
        return Path(chosen)
    name = ups or env.get("UPS")
    if not name:
        raise ConfigError("no config: give -c <config> or a <ups> name (or set CONFIG_FILE/UPS)")
    _check_ups_name(name)
    return default_config_dir(env) / f"enphase-{name}.conf"


def _check_ups_name(name: str) -> None:
    if not _UPS.fullmatch(name):
        raise ConfigError(
            f"UPS name '{escape(name, 40)}' may hold only letters, digits, '_', '-' and '.'"
        )


def check_dir_perms(kind: str, directory: Path) -> None:
    """Refuse a world-writable directory holding secrets, as the seed does.

    Raises:
        InsecureFileError: the directory is world-writable.
        ConfigError: the directory cannot be examined.
    """
    try:
        mode = directory.stat().st_mode
    except OSError as exc:
        raise ConfigError(f"cannot stat {kind} directory {directory}: {exc.strerror}") from exc
    if mode & stat.S_IWOTH:
        raise InsecureFileError(
            f"{kind} directory", str(directory), "world write permission",
            f"run 'chmod o-w {directory}' or move the file to a private directory",
        )


def check_secret(kind: str, path: Path, meta: FileMeta) -> None:
    """Refuse a file holding secrets that another user could read or change.

    `meta` comes from the descriptor actually read (fileutil), never from a later stat. The
    owner must be root or the user running the daemon; no world read, no group or world write.

    Raises:
        InsecureFileError: the message names the problem and the command that fixes it.
    """
    if meta.uid not in (0, os.geteuid()):
        also = "" if os.geteuid() == 0 else f" or this daemon's uid {os.geteuid()}"
        raise InsecureFileError(kind, str(path), f"owner uid {meta.uid} (must be root{also})",
                                f"run 'chown root {path}'")
    if meta.mode & stat.S_IROTH:
        raise InsecureFileError(kind, str(path), "world read permission",
                                f"run 'chmod o-rwx {path}'")
    if meta.mode & (stat.S_IWGRP | stat.S_IWOTH):
        raise InsecureFileError(kind, str(path), "group or world write permission",
                                f"run 'chmod go-w {path}'")


def check_secret_file(kind: str, path: Path) -> None:
    """`check_secret` for the file at `path` (never following a symlink), then its directory.

    Raises:
        InsecureFileError: the file or its directory is not private enough.
        ConfigError: the file cannot be opened, is a symlink or not a regular file.
    """
    try:
        meta = meta_of(path, kind)
    except UnsafeFileError as exc:
        raise ConfigError(str(exc)) from None
    except OSError as exc:
        raise ConfigError(f"cannot open {kind} {path}: {exc.strerror}") from exc
    check_secret(kind, path, meta)
    check_dir_perms(kind, path.parent)


def _grid_signal(raw: Values) -> GridSignal | None:
    text = raw.get("GRID_SIGNAL").strip().lower()
    if text in ("", GRID_SIGNAL_AUTO):
        return None
    try:
        return GridSignal(text)
    except ValueError:
        choices = " or ".join((GRID_SIGNAL_AUTO, *GridSignal))
        raise raw.error("GRID_SIGNAL", f"must be {choices} (got"
                        f" '{raw.shown('GRID_SIGNAL', text)}')") from None


def _resolve(base: Path, value: str, key: str) -> Path:
    try:
        path = Path(value).expanduser()
    except RuntimeError:  # "~name" of a user without a home directory
        raise ConfigError(f"{key} '{escape(value, 60)}': no such user's home directory for"
                          " '~'") from None
    return path if path.is_absolute() else base / path


def parse_config(
    text: str,
    path: Path,
    ups: str | None = None,
    env: Mapping[str, str] | None = None,
    *,
    require_credentials: bool = True,
) -> Config:
    """Turn config text into a validated Config.

    Args:
        text: the config file's contents.
        path: where it came from (for messages and relative paths).
        ups: the UPS name from the command line, if any.
        env: the environment (defaults and expansions).
        require_credentials: whether missing USERNAME/PASSWORD (or an unusable
            CLOUD_CA_FILE) is an error; False for `-x`, which needs no network.

    Raises:
        ConfigError: a value is missing or invalid; the message names the key (and its line)
            and never shows a secret.
    """
    env = os.environ if env is None else env
    raw = Values(parse_lines(text, env, KNOWN_KEYS, SECRET_KEYS), SECRET_KEYS)
    raw.check_characters(KNOWN_KEYS, documents=_DOCUMENT_KEYS)

    name = ups or raw.get("UPS") or env.get("UPS") or ""
    if not name:
        raise ConfigError(f"UPS must be set: give <ups> on the command line or UPS= in {path}")
    _check_ups_name(name)

    ints = {key: raw.integer(key, *spec) for key, spec in _INT_KEYS.items()}
    state_dir = Path(raw.get("STATE_DIR") or default_state_dir(env))
    tokens = {key: raw.token(key) for key in TOKEN_KEYS}

    test = bool(raw.get("TEST"))
    keyring = raw.get("PASSWORD_KEYRING").strip().lower() in _TRUE
    creds_possible = bool(
        raw.get("PASSWORD") or tokens["TOKEN"] or keyring
        or env.get("CREDENTIALS_DIRECTORY") or test
    )
    required = ["SERIAL", "PORT_FILE"]
    if require_credentials and not creds_possible:
        required.append("PASSWORD")
    if require_credentials and not tokens["TOKEN"]:
        required.insert(0, "USERNAME")
    missing = [k for k in required if not raw.get(k)]
    if missing:
        raise ConfigError(f"config {path} requires values for {' '.join(missing)}")

    token_file = raw.get("TOKEN_FILE") or f"enphase-{name}.token"
    if not test and ints["API_TIMEOUT"] >= ints["POLLFREQ"]:
        log.warning("API_TIMEOUT (%d) is not shorter than POLLFREQ (%d)",
                    ints["API_TIMEOUT"], ints["POLLFREQ"])
    return Config(
        path=path,
        ups=name,
        username=raw.get("USERNAME"),
        password=raw.get("PASSWORD"),
        serial=raw.get("SERIAL").strip(),
        port_file=_resolve(state_dir, raw.get("PORT_FILE"), "PORT_FILE"),
        state_dir=state_dir,
        token_file=_resolve(state_dir, token_file, "TOKEN_FILE"),
        envoy_host=raw.host("ENVOY_HOST", DEFAULT_ENVOY_HOST),
        disable_meters=bool(raw.get("DISABLE_METERS")),
        pollfreq=ints["POLLFREQ"],
        pollfreqalert=ints["POLLFREQALERT"],
        loadkwh=ints["LOADKWH"],
        login_timeout=ints["LOGIN_TIMEOUT"],
        api_timeout=ints["API_TIMEOUT"],
        nocomms_after=ints["NOCOMMS_AFTER"] if raw.get("NOCOMMS_AFTER") or not test else 1,
        relay_check=ints["RELAY_CHECK"],
        confirm_delay=ints["CONFIRM_DELAY"],
        token_warn_days=ints["TOKEN_WARN_DAYS"],
        debug=ints["DEBUG"],
        login_url=raw.url("ENPHASE_LOGIN", DEFAULT_LOGIN_URL),
        tokens_url=raw.url("ENPHASE_TOKENS", DEFAULT_TOKENS_URL),
        token=tokens["TOKEN"],
        gateway_fingerprint=raw.fingerprint("GATEWAY_FINGERPRINT"),
        # `-x` (no credentials needed) must hide the port file even with a broken CA file
        cloud_ca_file=raw.ca_file("CLOUD_CA_FILE") if require_credentials
        else raw.get("CLOUD_CA_FILE").strip(),
        password_keyring=keyring,
        password_credential=raw.get("PASSWORD_CREDENTIAL") or DEFAULT_PASSWORD_CREDENTIAL,
        token_credential=raw.get("TOKEN_CREDENTIAL") or DEFAULT_TOKEN_CREDENTIAL,
        test=test,
        test_values={k: tokens.get(k, raw.get(k)) for k in TEST_KEYS},
        unknown_keys=raw.unknown(KNOWN_KEYS),
        grid_signal=_grid_signal(raw),
    )


def load_config(
    path: Path,
    ups: str | None = None,
    env: Mapping[str, str] | None = None,
    *,
    require_credentials: bool = True,
) -> Config:
    """Read, check and parse the config file (credentials may be left out for `-x`).

    Raises:
        ConfigError: unreadable, insecure (world-readable) or invalid config.
    """
    try:
        found = read_regular(path, CONFIG_MAX, "config")
    except UnsafeFileError as exc:
        raise ConfigError(str(exc)) from None
    except OSError as exc:
        raise ConfigError(f"unable to read config '{path}': {exc.strerror}") from exc
    check_secret("config", path, found.meta)
    check_dir_perms("config", path.parent)
    try:
        text = found.data.decode("utf-8")
    except UnicodeDecodeError:
        raise ConfigError(f"config '{path}' is not UTF-8 text") from None
    try:
        config = parse_config(text, path, ups, env, require_credentials=require_credentials)
    except ConfigError as exc:
        msg = str(exc)
        raise ConfigError(msg if str(path) in msg else f"config {path}: {msg}") from None
    if config.cloud_ca_file and require_credentials:
        check_ca_file(config.cloud_ca_file)  # a trust anchor: as safe as the config
    for key in config.unknown_keys:
        log.warning("config %s: unknown key %s ignored", path, key)
    return config


def check_state_dir(config: Config) -> None:
    """Check STATE_DIR and the port file's directory as the seed does.

    Raises:
        ConfigError: a directory is missing, not writable or world-writable.
    """
    state = config.state_dir
    if not state.is_dir() or not os.access(state, os.W_OK):
        raise ConfigError(f"STATE_DIR '{state}' not writable: create it or fix its owner")
    check_dir_perms("state", state)
    portdir = config.port_file.parent
    if not portdir.is_dir() or not os.access(portdir, os.W_OK):
        raise ConfigError(
            f"port file directory '{portdir}' not writable: the monitor replaces the port file"
            " atomically, so it needs write access to its directory"
        )
    check_dir_perms("port file", portdir)
