"""The config file (seed-compatible KEY=VALUE), environment, defaults, validation, permissions."""

from __future__ import annotations

import logging
import os
import stat
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from . import paths
from .cafile import check_ca_file
from .configkeys import (
    BY_NAME,
    DOCUMENT_KEYS,
    FIELD_KEYS,
    GRID_SIGNAL_AUTO,
    KNOWN_KEYS,
    PATH_KEYS,
    SECRET_KEYS,
    TEST_KEYS,
    Kind,
    default_int,
)
from .configvalues import Values
from .errors import ConfigError, InsecureFileError, UnsafeFileError
from .facts import (
    ENVOY_HOST,
    LOGIN_URL,
    PASSWORD_CREDENTIAL,
    TOKEN_CREDENTIAL,
    TOKENS_URL,
    UPS_NAME,
    UPS_NAME_RULE,
)
from .fileutil import FileData, FileMeta, meta_of, read_regular
from .grid import GridSignal
from .ownership import check_not_group_writable, check_owner
from .shellvars import parse_lines
from .textsafe import escape

log = logging.getLogger(__name__)

# read before the check for missing keys (what decides which keys are needed); the rest after
_EARLY = frozenset({Kind.INT, Kind.TOKEN, Kind.TEXT, Kind.WORD, Kind.FLAG, Kind.YES})
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
    served_record: Path | None = None  # where the port file served is recorded, for -x
    envoy_host: str = ENVOY_HOST
    disable_meters: bool = False
    pollfreq: int = default_int("POLLFREQ")
    pollfreqalert: int = default_int("POLLFREQALERT")
    loadkwh: int = default_int("LOADKWH")
    login_timeout: int = default_int("LOGIN_TIMEOUT")
    api_timeout: int = default_int("API_TIMEOUT")
    nocomms_after: int = default_int("NOCOMMS_AFTER")
    relay_check: int = default_int("RELAY_CHECK")
    confirm_delay: int = default_int("CONFIRM_DELAY")
    token_warn_days: int = default_int("TOKEN_WARN_DAYS")
    debug: int = default_int("DEBUG")
    login_url: str = LOGIN_URL
    tokens_url: str = TOKENS_URL
    token: str = field(default="", repr=False)
    gateway_fingerprint: str = ""
    cloud_ca_file: str = ""
    password_keyring: bool = False
    password_credential: str = PASSWORD_CREDENTIAL
    token_credential: str = TOKEN_CREDENTIAL
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
    return paths.config_file(name, env)


def _check_ups_name(name: str) -> None:
    if not UPS_NAME.fullmatch(name):
        raise ConfigError(f"UPS name '{escape(name, 40)}': {UPS_NAME_RULE}")


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


def check_secret(kind: str, path: Path, meta: FileMeta, *, daemon_uid: int | None = None) -> None:
    """Refuse a file holding secrets that another user could read or change.

    `meta` comes from the descriptor actually read (fileutil), never from a later stat. The
    owner must be root or the user running the daemon (`daemon_uid`, default this process's:
    the setup wizard judges the daemon's file as the daemon's user will); no world read, no
    group or world write.

    Raises:
        InsecureFileError: the message names the problem and the command that fixes it.
    """
    check_owner(kind, path, meta.uid, daemon_uid)
    if meta.mode & stat.S_IROTH:
        raise InsecureFileError(kind, str(path), "world read permission",
                                f"run 'chmod o-rwx {path}'")
    check_not_group_writable(kind, path, meta.mode)


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


def parse_config(
    text: str,
    path: Path,
    ups: str | None = None,
    env: Mapping[str, str] | None = None,
) -> Config:
    """Turn config text into a validated Config.

    Args:
        text: the config file's contents.
        path: where it came from (for messages and relative paths).
        ups: the UPS name from the command line, if any.
        env: the environment (defaults and expansions).

    Raises:
        ConfigError: a value is missing or invalid; the message names the key (and its line)
            and never shows a secret.
    """
    env = os.environ if env is None else env
    raw = Values(parse_lines(text, env, KNOWN_KEYS, SECRET_KEYS), SECRET_KEYS)
    raw.check_characters(KNOWN_KEYS, documents=DOCUMENT_KEYS)
    name = ups or raw.get("UPS") or env.get("UPS") or ""
    if not name:
        raise ConfigError(f"UPS must be set: give <ups> on the command line or UPS= in {path}")
    _check_ups_name(name)
    early = [k for k in FIELD_KEYS if k.kind in _EARLY]
    values: dict[str, Any] = {k.field: raw.read(k) for k in early}
    _check_required(raw, values, path, env)
    values.update({k.field: raw.read(k) for k in FIELD_KEYS if k.kind not in _EARLY})
    where = paths.DaemonPaths.of({k: raw.get(k) for k in PATH_KEYS}, name, env)
    if where.port_file is None:  # PORT_FILE is required: refused above
        raise ConfigError(f"config {path} requires values for PORT_FILE")
    if values["test"] and not raw.get("NOCOMMS_AFTER"):
        values["nocomms_after"] = 1  # the seed's TEST mode hides the port file at once
    if not values["test"] and values["api_timeout"] >= values["pollfreq"]:
        log.warning("API_TIMEOUT (%d) is not shorter than POLLFREQ (%d)",
                    values["api_timeout"], values["pollfreq"])
    return Config(
        path=path, ups=name, port_file=where.port_file, state_dir=where.state_dir,
        token_file=where.token_file, served_record=where.served_record,
        unknown_keys=raw.unknown(KNOWN_KEYS),
        test_values={k: str(raw.read(BY_NAME[k])) for k in TEST_KEYS}, **values,
    )


def _check_required(raw: Values, values: Mapping[str, Any], path: Path,
                    env: Mapping[str, str]) -> None:
    """Refuse a config without SERIAL, PORT_FILE, USERNAME (unless TOKEN) or a way to get a
    token.

    Raises:
        ConfigError: naming every missing key.
    """
    creds_possible = bool(values["password"] or values["token"] or values["password_keyring"]
                          or env.get("CREDENTIALS_DIRECTORY") or values["test"])
    required = ["SERIAL", "PORT_FILE"]
    if not creds_possible:
        required.append("PASSWORD")
    if not values["token"]:
        required.insert(0, "USERNAME")
    missing = [k for k in required if not raw.get(k)]
    if missing:
        raise ConfigError(f"config {path} requires values for {' '.join(missing)}")


def read_config_file(path: Path) -> FileData:
    """The config file's bytes and metadata, read without following a symlink.

    Raises:
        ConfigError: not a regular file, too large, or unreadable; one line.
    """
    try:
        return read_regular(path, CONFIG_MAX, "config")
    except UnsafeFileError as exc:
        raise ConfigError(str(exc)) from None
    except OSError as exc:
        raise ConfigError(f"unable to read config '{path}': {exc.strerror}") from exc


def load_config(
    path: Path,
    ups: str | None = None,
    env: Mapping[str, str] | None = None,
) -> Config:
    """Read, check and parse the config file (`-x` has its own reader: nocomms.py).

    Raises:
        ConfigError: unreadable, insecure (world-readable) or invalid config.
    """
    found = read_config_file(path)
    check_secret("config", path, found.meta)
    check_dir_perms("config", path.parent)
    try:
        text = found.data.decode("utf-8")
    except UnicodeDecodeError:
        raise ConfigError(f"config '{path}' is not UTF-8 text") from None
    try:
        config = parse_config(text, path, ups, env)
    except ConfigError as exc:
        msg = str(exc)
        raise ConfigError(msg if str(path) in msg else f"config {path}: {msg}") from None
    if config.cloud_ca_file:
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
