"""The config file (seed-compatible KEY=VALUE), environment, defaults, validation, permissions."""

from __future__ import annotations

import logging
import os
import re
import stat
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from .errors import ConfigError, InsecureFileError, UnsafeFileError
from .fileutil import FileMeta, meta_of, read_regular
from .shellvars import one_line, parse_assignments

log = logging.getLogger(__name__)

DEFAULT_LOGIN_URL = "https://enlighten.enphaseenergy.com/login/login.json?"
DEFAULT_TOKENS_URL = "https://entrez.enphaseenergy.com/tokens"
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
    "CLOUD_CA_FILE", "PASSWORD_KEYRING", "PASSWORD_CREDENTIAL", "TOKEN_CREDENTIAL",
)
KNOWN_KEYS = frozenset(_INT_KEYS) | frozenset(_STRING_KEYS) | frozenset(TEST_KEYS)
SECRET_KEYS = frozenset({"PASSWORD", "TOKEN", "TEST_TOKEN", "TEST_SESS"})
_FINGERPRINT = re.compile(r"(?:[0-9a-fA-F]{2}:?){32}")
_HOST = re.compile(r"[A-Za-z0-9.\-]+(?::\d{1,5})?|\[[0-9A-Fa-f:.]+\](?::\d{1,5})?")
_UPS = re.compile(r"[A-Za-z0-9_.\-]+")
_TRUE = {"1", "yes", "true", "on"}
CONFIG_MAX = 64 * 1024  # the seed's config is ~2 KiB; anything near this is not a config


@dataclass(frozen=True)
class Config:
    """Everything the daemon reads from its config file and environment."""

    path: Path
    ups: str
    username: str
    password: str = field(repr=False)
    serial: str
    port_file: Path
    state_dir: Path
    token_file: Path
    envoy_host: str = "envoy.local"
    disable_meters: bool = False
    pollfreq: int = 60
    pollfreqalert: int = 20
    loadkwh: int = 768
    login_timeout: int = 10
    api_timeout: int = 10
    nocomms_after: int = 2
    relay_check: int = 5
    confirm_delay: int = 3
    token_warn_days: int = 14
    debug: int = 0
    login_url: str = DEFAULT_LOGIN_URL
    tokens_url: str = DEFAULT_TOKENS_URL
    token: str = field(default="", repr=False)
    gateway_fingerprint: str = ""
    cloud_ca_file: str = ""
    password_keyring: bool = False
    password_credential: str = "enphase-password"
    token_credential: str = "enphase-token"
    test: bool = False
    test_values: Mapping[str, str] = field(default_factory=dict, repr=False)
    unknown_keys: tuple[str, ...] = ()

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
            f"UPS name '{one_line(name)}' may hold only letters, digits, '_', '-' and '.'"
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


def _int_value(key: str, raw: str | None) -> int:
    default, low, high = _INT_KEYS[key]
    if raw is None or raw.strip() == "":
        return default
    text = raw.strip()
    try:
        value = int(text, 10)
    except ValueError:
        raise ConfigError(f"{key} must be a whole number (got '{one_line(text)}')") from None
    if value < low:
        log.warning("%s=%d is below the minimum, using %d", key, value, low)
        return low
    if value > high:
        raise ConfigError(f"{key}={value} is too large (at most {high})")
    return value


def _fingerprint(raw: str) -> str:
    text = raw.strip().replace(" ", "")
    if text.lower().startswith("sha256:"):
        text = text[7:]
    if not text:
        return ""
    if not _FINGERPRINT.fullmatch(text):
        raise ConfigError(
            "GATEWAY_FINGERPRINT must be the SHA-256 of the gateway certificate:"
            " 64 hex digits, colons allowed"
        )
    return text.replace(":", "").lower()


def _resolve(base: Path, value: str) -> Path:
    path = Path(value).expanduser()
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
        require_credentials: whether missing USERNAME/PASSWORD is an error.

    Raises:
        ConfigError: a value is missing or invalid; the message names the key.
    """
    env = os.environ if env is None else env
    raw = parse_assignments(text, env)
    unknown = tuple(k for k in raw if k not in KNOWN_KEYS)

    name = ups or raw.get("UPS") or env.get("UPS") or ""
    if not name:
        raise ConfigError(f"UPS must be set: give <ups> on the command line or UPS= in {path}")
    _check_ups_name(name)

    ints = {key: _int_value(key, raw.get(key)) for key in _INT_KEYS}
    state_dir = Path(raw.get("STATE_DIR") or default_state_dir(env))
    host = (raw.get("ENVOY_HOST") or "envoy.local").strip()
    if host.startswith(("http://", "https://")):
        host = host.split("://", 1)[1].rstrip("/")
    if not _HOST.fullmatch(host):
        raise ConfigError(
            f"ENVOY_HOST '{one_line(host)}' must be a host name or IP, optionally with :port"
        )

    test = bool(raw.get("TEST"))
    keyring = raw.get("PASSWORD_KEYRING", "").strip().lower() in _TRUE
    creds_possible = bool(
        raw.get("PASSWORD") or raw.get("TOKEN") or keyring
        or env.get("CREDENTIALS_DIRECTORY") or test
    )
    required = ["SERIAL", "PORT_FILE"]
    if require_credentials and not creds_possible:
        required.append("PASSWORD")
    if require_credentials and not raw.get("TOKEN"):
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
        username=raw.get("USERNAME", ""),
        password=raw.get("PASSWORD", ""),
        serial=raw.get("SERIAL", "").strip(),
        port_file=_resolve(state_dir, raw.get("PORT_FILE", "")),
        state_dir=state_dir,
        token_file=_resolve(state_dir, token_file),
        envoy_host=host,
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
        login_url=raw.get("ENPHASE_LOGIN") or DEFAULT_LOGIN_URL,
        tokens_url=raw.get("ENPHASE_TOKENS") or DEFAULT_TOKENS_URL,
        token=raw.get("TOKEN", "").strip(),
        gateway_fingerprint=_fingerprint(raw.get("GATEWAY_FINGERPRINT", "")),
        cloud_ca_file=raw.get("CLOUD_CA_FILE", ""),
        password_keyring=keyring,
        password_credential=raw.get("PASSWORD_CREDENTIAL") or "enphase-password",
        token_credential=raw.get("TOKEN_CREDENTIAL") or "enphase-token",
        test=test,
        test_values={k: raw.get(k, "") for k in TEST_KEYS},
        unknown_keys=unknown,
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
