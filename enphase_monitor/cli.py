"""Command line: argument parsing, exit codes, logging set-up; nothing else."""

from __future__ import annotations

import argparse
import contextlib
import logging
import os
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from . import __version__, logsetup
from .errors import ConfigError, MonitorError, describe

if TYPE_CHECKING:
    from .config import Config

USAGE = "enphase-monitor [ <options> ] -c <config> | <ups>"
EPILOG = """\
<options> may include:
  -d  increase debug to stderr (-d -d shows the token; the password is never shown)
  -h  show help and exit
  -s  perform one network check and exit (with -v: a diagnostics report)
  -v  verbose output
  -x  set 'nocomms' (hide the port file) and exit; needs no network

Environment: CONFIG_FILE, UPS, NUT_SYSCONFIG (config dir), NUT_LOCALSTATE (STATE_DIR).
Exit status: 0 success, 1 fatal error, 2 bad usage. See enphase-monitor(8).
"""


def parser() -> argparse.ArgumentParser:
    """The seed's flags, plus long forms."""
    p = argparse.ArgumentParser(
        prog="enphase-monitor", usage=USAGE, epilog=EPILOG, add_help=False,
        formatter_class=argparse.RawDescriptionHelpFormatter,
        description="Make an Enphase IQ Gateway with IQ Batteries look like a UPS to NUT.",
    )
    p.add_argument("-c", "--config", metavar="<config>", help="use this config file")
    p.add_argument("-d", "--debug", action="count", default=0, help="more debug output")
    p.add_argument("-h", "--help", action="help", help="show help and exit")
    p.add_argument("-s", "--single", action="store_true", help="one network check, then exit")
    p.add_argument("-v", "--verbose", action="store_true", help="verbose output")
    p.add_argument("-x", "--nocomms", action="store_true", help="set nocomms and exit")
    p.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    p.add_argument("ups", nargs="?", metavar="<ups>", help="the UPS name in ups.conf")
    return p


def main(argv: Sequence[str] | None = None) -> int:
    """Run the daemon; returns the exit status."""
    p = parser()
    args = p.parse_args(argv)
    name = args.ups or os.environ.get("UPS") or ""
    if not (args.config or args.ups or os.environ.get("CONFIG_FILE") or name):
        p.error("give -c <config> or a <ups> name (or set CONFIG_FILE or UPS)")
    logsetup.setup(args.debug, args.verbose, prefix=f"enphase-monitor {name}: ".replace(" :", ":"))
    who = {"ups": name}
    try:
        return _run(args, who)
    except MonitorError as exc:
        logsetup.fatal(f"enphase-monitor {who['ups']}: {exc}".replace(" :", ":", 1))
        return 1
    except KeyboardInterrupt:
        return 0
    except Exception as exc:  # the last guard: one line, never a traceback
        logging.getLogger("enphase_monitor").debug("traceback:", exc_info=exc)
        logsetup.fatal(f"enphase-monitor {who['ups']}: internal error, stopping: "
                       f"{describe(exc)} (run with -d for the traceback)".replace(" :", ":", 1))
        return 1


def _run(args: argparse.Namespace, who: dict[str, str]) -> int:
    """The work of main(); `who["ups"]` is set to the UPS name once it is known."""
    from .config import check_state_dir, config_path_for, load_config

    path = config_path_for(args.ups, args.config, os.environ)
    if args.nocomms:  # reads only where the port file is: any other bad key must not stop it
        return _nocomms(path, args.ups, who)
    who["ups"] = args.ups or _ups_from(path) or who["ups"]
    config = load_config(path, args.ups) if args.single else _load(path, args.ups)
    who["ups"] = config.ups
    if config.debug > args.debug:
        logsetup.setup(config.debug, args.verbose, prefix=f"enphase-monitor {config.ups}: ")
    if args.single and args.verbose:
        from .diagnose import diagnose

        check_state_dir(config)
        return diagnose(config, sys.stdout)
    try:
        check_state_dir(config)
        return _monitor(config, args.single)
    except BaseException:  # a fatal error: NUT must not keep the last reading
        _hide_path(config.port_file)
        raise


def _load(path: Path, ups: str | None) -> Config:
    """The long-running daemon's config. When it is refused, for any key, the port file is
    still hidden as `-x` would hide it (nocomms.py reads only where it is): a daemon that
    cannot start must not leave an earlier run's OL (docs/faults.md).

    Raises:
        ConfigError: as load_config says.
    """
    from .config import load_config

    try:
        return load_config(path, ups)
    except ConfigError:
        with contextlib.suppress(MonitorError):  # -x's reader refuses it too: nothing to hide
            _hide_path(_served_hidden_then_port_of(path, ups)[1])
        raise


def _served_hidden_then_port_of(path: Path, ups: str | None) -> tuple[str, Path]:
    """Hide the port file the daemon recorded as served (nocomms.hide_served), then return the
    UPS name and port file `-x` finds in the config at `path`.

    Raises:
        ConfigError: where the port file is cannot be determined (nocomms.port_file_of); the
            served file is hidden all the same.
    """
    from .nocomms import hide_served, port_file_of

    try:
        name, port = port_file_of(path, ups)
    except MonitorError:
        hide_served(ups or os.environ.get("UPS", ""), None)
        raise
    hide_served(name, port)  # first: the config's file may be missing
    return name, port


def _nocomms(path: Path, ups: str | None, who: dict[str, str]) -> int:
    """`-x`: hide the port file, needing neither the network nor a loadable config; under
    systemd also the one the daemon recorded as served (nocomms.hide_served), even when the
    config cannot be read.

    Raises:
        ConfigError: where the port file is cannot be determined (nocomms.port_file_of).
        PortFileError: the file is missing or the rename fails.
    """
    from .portfile import PortFile

    who["ups"] = ups or _ups_from(path) or who["ups"]
    name, port = _served_hidden_then_port_of(path, ups)
    who["ups"] = name or who["ups"]
    PortFile(port).hide()
    return 0


def _monitor(config: Config, single: bool) -> int:
    """The loop, or one poll for `-s` (which leaves the file written, as the seed)."""
    from .errors import AuthError
    from .loop import Daemon

    daemon = Daemon.from_config(config)
    if single:
        ok = daemon.once()
        # as the seed: an unreachable gateway is not fatal for -s, a token failure is
        return 1 if not ok and isinstance(daemon.monitor.last_exception, AuthError) else 0
    return daemon.run()


def _hide_path(path: Path) -> None:
    """Hide the port file on a fatal error (best effort: the error itself is reported)."""
    from .portfile import PortFile

    port = PortFile(path)
    with contextlib.suppress(Exception):  # missing or unwritable: nothing more to do
        if port.hide():
            logging.getLogger("enphase_monitor").warning(
                "stopping on an error: port file hidden as %s", port.nocomms_path)


def _ups_from(path: os.PathLike[str]) -> str:
    """`name` from a config path `.../enphase-<name>.conf`, for messages before parsing."""
    base = os.path.basename(path)
    if base.startswith("enphase-") and base.endswith(".conf"):
        return base[len("enphase-"):-len(".conf")]
    return ""


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
