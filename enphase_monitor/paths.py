"""Where the daemon's files are: config directory, state directory, port file, token cache.

One rule for each, used by the daemon (config.py) and the wizard (prefill, set-up, --remove),
as the seed has them (docs/config.md): the config is `<config dir>/enphase-<ups>.conf`; a
relative PORT_FILE or TOKEN_FILE is taken relative to STATE_DIR, whose default is
$NUT_LOCALSTATE, $NUT_STATEPATH, else /var/lib/ups. The record of the port file a daemon under
systemd serves (for `-x`, served.py) is `$STATE_DIRECTORY/enphase-<ups>.served`. The wizard works
on logical paths under an optional fake root (``--root``): only what is looked up on disk takes
`root`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path, PurePath

from .errors import ConfigError
from .facts import UPS_NAME
from .textsafe import escape

CONFIG_DIR_ENV = ("NUT_SYSCONFIG", "NUT_CONFPATH")
STATE_DIR_ENV = ("NUT_LOCALSTATE", "NUT_STATEPATH")
FEDORA_CONFIG_DIR = Path("/etc/ups")  # the seed's default, used when it exists
DEBIAN_CONFIG_DIR = Path("/etc/nut")
SEED_STATE_DIR = Path("/var/lib/ups")  # STATE_DIR when neither it nor the environment says
PACKAGED_STATE_DIR = Path("/var/lib/enphase-monitor")  # the unit's StateDirectory=
NOCOMMS_SUFFIX = "-nocomms"
SYSTEMD_STATE_ENV = "STATE_DIRECTORY"  # set by systemd for a unit with StateDirectory=
SERVED_SUFFIX = ".served"
CONFIG_PREFIX, CONFIG_SUFFIX = "enphase-", ".conf"


def on_root(path: PurePath | str, root: Path | None) -> Path:
    """The real path of a logical one under a fake root (`root` None: the path itself)."""
    if root is None:
        return Path(path)
    rel = str(path).lstrip("/")
    return root / rel if rel else root


def config_dir(env: Mapping[str, str], root: Path | None = None) -> Path:
    """$NUT_SYSCONFIG, then $NUT_CONFPATH, then /etc/ups if it is a directory, else /etc/nut.

    Args:
        env: the environment.
        root: a fake root to look for /etc/ups under (None: this host).
    """
    for key in CONFIG_DIR_ENV:
        if env.get(key):
            return Path(env[key])
    return FEDORA_CONFIG_DIR if on_root(FEDORA_CONFIG_DIR, root).is_dir() else DEBIAN_CONFIG_DIR


def config_name(ups: str) -> str:
    """The file name of one UPS's config: `enphase-<ups>.conf`."""
    return f"{CONFIG_PREFIX}{ups}{CONFIG_SUFFIX}"


def ups_of_config(name: str) -> str | None:
    """The UPS whose config a file `name` is (None: not a config's name)."""
    if name.startswith(CONFIG_PREFIX) and name.endswith(CONFIG_SUFFIX):
        return name[len(CONFIG_PREFIX):-len(CONFIG_SUFFIX)] or None
    return None


def config_file(ups: str, env: Mapping[str, str], root: Path | None = None) -> Path:
    """The default config of one UPS: `<config dir>/enphase-<ups>.conf`."""
    return config_dir(env, root) / config_name(ups)


def default_state_dir(env: Mapping[str, str]) -> Path:
    """$NUT_LOCALSTATE, then $NUT_STATEPATH, else /var/lib/ups (the seed's default)."""
    for key in STATE_DIR_ENV:
        if env.get(key):
            return Path(env[key])
    return SEED_STATE_DIR


def state_dir(value: str, env: Mapping[str, str]) -> Path:
    """STATE_DIR as the config gives it (`value`), else its default from the environment."""
    return Path(value) if value else default_state_dir(env)


def resolve(base: Path, value: str, key: str) -> Path:
    """`value` with `~` expanded, relative to `base` unless absolute.

    Raises:
        ConfigError: `~name` of a user without a home directory.
    """
    try:
        path = Path(value).expanduser()
    except RuntimeError:
        raise ConfigError(f"{key} '{escape(value, 60)}': no such user's home directory for"
                          " '~'") from None
    return path if path.is_absolute() else base / path


def nocomms_file(port: Path) -> Path:
    """The port file's name while the daemon has no fresh reading: `<port>-nocomms`."""
    return port.with_name(port.name + NOCOMMS_SUFFIX)


def served_record(ups: str, env: Mapping[str, str]) -> Path | None:
    """Where the daemon records the port file it serves, for `-x`: `enphase-<ups>.served` in
    systemd's `$STATE_DIRECTORY` (its first directory). None without one (a daemon run by hand:
    no record) or when `ups` is not a valid UPS name."""
    first = env.get(SYSTEMD_STATE_ENV, "").split(":", 1)[0]
    if not first.startswith("/") or not UPS_NAME.fullmatch(ups):
        return None
    return Path(first) / f"{CONFIG_PREFIX}{ups}{SERVED_SUFFIX}"


def default_token_name(ups: str) -> str:
    """TOKEN_FILE's default: `enphase-<ups>.token` (in STATE_DIR)."""
    return f"enphase-{ups}.token"


def token_file(value: str, ups: str, state: Path) -> Path:
    """The token cache: TOKEN_FILE (`value`, default `enphase-<ups>.token`) under `state`.

    Raises:
        ConfigError: see `resolve`.
    """
    return resolve(state, value or default_token_name(ups), "TOKEN_FILE")


def driver_port(port: str, confdir: Path) -> Path:
    """Where dummy-ups reads a ups.conf `port`: absolute as given, else under NUT's config dir."""
    path = Path(port)
    return path if path.is_absolute() else confdir / path


@dataclass(frozen=True)
class DaemonPaths:
    """Every file the daemon writes for one config; `port_file` None when PORT_FILE is unset,
    `served_record` None outside systemd (no `$STATE_DIRECTORY`)."""

    state_dir: Path
    port_file: Path | None
    token_file: Path
    served_record: Path | None

    @property
    def nocomms_file(self) -> Path | None:
        """The port file's name while the daemon has no fresh reading."""
        return None if self.port_file is None else nocomms_file(self.port_file)

    @classmethod
    def of(cls, values: Mapping[str, str], ups: str, env: Mapping[str, str]) -> DaemonPaths:
        """The paths of a config's values (STATE_DIR, PORT_FILE, TOKEN_FILE) for `ups`, and
        its served record (from `env`).

        Raises:
            ConfigError: a `~name` without a home directory.
        """
        state = state_dir(values.get("STATE_DIR", ""), env)
        port = values.get("PORT_FILE", "")
        return cls(
            state_dir=state,
            port_file=resolve(state, port, "PORT_FILE") if port else None,
            token_file=token_file(values.get("TOKEN_FILE", ""), ups, state),
            served_record=served_record(ups, env),
        )
