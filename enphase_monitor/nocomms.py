"""`-x`: find the port file from the fewest config keys, tolerantly, and hide it.

The unit's `ExecStopPost=` runs `-x` for exits the daemon cannot see (SIGKILL, the OOM killer,
the watchdog, a config that fails to load). So that a bad POLLFREQ, a missing credential or a
world-readable config never leaves a stale OL, `-x` reads only STATE_DIR, PORT_FILE and UPS,
through the daemon's own rules (paths.py), and never looks at any other key
(docs/behaviour.md). What it trusts is still checked: the config is read without following a
symlink and must not be writable by anyone but its owner (root or this user), nor sit in a
world-writable directory, since its PORT_FILE names the file renamed. Under systemd it also hides
the file the daemon recorded as served (served.py), which differs after an edit of PORT_FILE
that was never reloaded, and is hidden even when the config cannot be read.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping
from pathlib import Path

from . import paths
from .config import check_dir_perms, read_config_file
from .configkeys import KNOWN_KEYS, PATH_KEYS, SECRET_KEYS
from .configvalues import Values
from .errors import ConfigError, PortFileMissing, describe
from .facts import UPS_NAME
from .ownership import check_not_group_writable, check_owner
from .portfile import PortFile
from .served import recorded
from .shellvars import parse_lines
from .textsafe import escape

log = logging.getLogger(__name__)


def port_file_of(path: Path, ups: str | None = None,
                 env: Mapping[str, str] | None = None) -> tuple[str, Path]:
    """The UPS name ("" if not a valid one) and port file of the config at `path`, from UPS,
    STATE_DIR and PORT_FILE; no other key is read, so no other key can stop `-x`.

    Args:
        path: the config file (from `-c`, $CONFIG_FILE or the UPS name).
        ups: the UPS name from the command line, if any.
        env: the environment (STATE_DIR's default, `$NAME` expansions).

    Raises:
        ConfigError: the config cannot be read or trusted, or does not say where the port
            file is; one line naming what to fix.
    """
    env = os.environ if env is None else env
    found = read_config_file(path)
    # a config that someone other than root or this user could change names no file to trust
    check_owner("config", path, found.meta.uid)
    check_not_group_writable("config", path, found.meta.mode)
    check_dir_perms("config", path.parent)
    try:
        raw = Values(parse_lines(found.data.decode("utf-8"), env, KNOWN_KEYS, SECRET_KEYS),
                     SECRET_KEYS)
        raw.check_characters(PATH_KEYS, documents=())
    except UnicodeDecodeError:
        raise ConfigError(f"config '{path}' is not UTF-8 text") from None
    except ConfigError as exc:
        raise ConfigError(f"config {path}: {exc}") from None
    name = ups or raw.get("UPS") or env.get("UPS") or ""
    if not UPS_NAME.fullmatch(name):
        name = ""  # only for messages: a bad name must not keep the file visible
    port = raw.get("PORT_FILE")
    if not port:
        raise ConfigError(f"config {path} requires values for PORT_FILE")
    state = paths.state_dir(raw.get("STATE_DIR"), env)
    try:
        return name, paths.resolve(state, port, "PORT_FILE")
    except ConfigError as exc:
        raise ConfigError(f"config {path}: {exc}") from None


def hide_served(ups: str, port: Path | None, env: Mapping[str, str] | None = None) -> None:
    """Hide the port file the daemon of `ups` recorded as served, when it is not `port` (the
    config's; None: the config could not be read). Never raises: problems are logged.

    Args:
        ups: the UPS name (the record's name; "" or an invalid name: no record).
        port: the config's port file, hidden by the caller.
        env: the environment ($STATE_DIRECTORY: where the record is).
    """
    env = os.environ if env is None else env
    served = recorded(paths.served_record(ups, env))
    if served is None or (port is not None and served == port.absolute()):
        return
    shown = escape(str(served), 200)
    why = "the config's PORT_FILE differs" if port else "the config cannot be read"
    try:
        if PortFile(served).hide():
            log.warning("%s: the port file the daemon served, %s, hidden as %s", why, shown,
                        escape(str(paths.nocomms_file(served)), 200))
    except PortFileMissing:
        log.info("%s: the port file the daemon served, %s, is gone", why, shown)
    except Exception as exc:  # the config's file must still be hidden
        log.error("%s: the port file the daemon served, %s, could not be hidden: %s", why, shown,
                  describe(exc))
