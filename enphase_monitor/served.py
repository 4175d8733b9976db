"""The served record: which port file the long-running daemon answers for, kept for `-x`.

`-x` (the unit's `ExecStopPost=`) finds the port file through the config. After an edit of
PORT_FILE that was never reloaded, that is not the file the killed daemon served, whose last
OL/OB would stay for ever. So under systemd (`$STATE_DIRECTORY`, paths.served_record) the daemon
writes the absolute path of its port file to a record at start-up and after a reload that moves
it, and `-x` hides that file too (docs/behaviour.md). The record is written like the port file
(temporary file + rename, never following a symlink); when read it is hostile input: a file of
another user, writable by others, too large or not one absolute path is ignored with one warning.
"""

from __future__ import annotations

import logging
import os
import stat
from pathlib import Path

from .errors import FileTooLarge, MonitorError, UnsafeFileError, describe
from .fileutil import FileData, atomic_write, read_regular
from .textsafe import escape, has_control

log = logging.getLogger(__name__)

RECORD_MAX = 4096 + 1  # PATH_MAX and the newline
RECORD_MODE = 0o600
WHAT = "served record"


class Recorder:
    """Writes the record (`record` None: no record, e.g. a daemon run by hand); a failure is
    logged once and never stops the daemon."""

    def __init__(self, record: Path | None) -> None:
        self.record = record
        self.problem = ""  # the last failure logged

    def note(self, port: Path) -> None:
        """Record `port` (made absolute) as the file this daemon now answers for."""
        if self.record is None:
            return
        data = os.fsencode(port.absolute()) + b"\n"
        try:
            atomic_write(self.record, data, mode=RECORD_MODE, error=MonitorError)
        except Exception as exc:  # the record only helps -x: never a reason to stop
            problem = describe(exc)
            if problem != self.problem:
                log.warning("cannot record the port file served in %s: %s (after a kill, -x"
                            " then hides only the config's PORT_FILE)",
                            escape(str(self.record), 200), problem)
            self.problem = problem
            return
        self.problem = ""


def _problem(found: FileData) -> tuple[str, Path | None]:
    """What makes a record's content untrustworthy ("" if nothing), and the path it names."""
    if found.meta.uid != os.geteuid():
        return f"owned by uid {found.meta.uid}, not this user", None
    if found.meta.mode & (stat.S_IWGRP | stat.S_IWOTH):
        return "writable by group or others", None
    text = os.fsdecode(found.data.removesuffix(b"\n"))
    if has_control(text):
        return "control characters (not one line of text)", None
    if not text.startswith("/"):
        return "not an absolute path", None
    return "", Path(text)


def recorded(record: Path | None) -> Path | None:
    """The port file the record names; None when there is none or it cannot be trusted (then
    one warning line says why). Never raises."""
    if record is None:
        return None
    shown = escape(str(record), 200)
    try:
        found = read_regular(record, RECORD_MAX, WHAT)
    except FileNotFoundError:
        return None
    except FileTooLarge:
        problem = f"larger than {RECORD_MAX} bytes"
    except UnsafeFileError:
        problem = "a symbolic link or not a regular file"
    except OSError as exc:
        problem = f"unreadable: {escape(exc.strerror or str(exc), 100)}"
    except Exception as exc:  # -x must never fail because of the record
        problem = describe(exc)
    else:
        problem, port = _problem(found)
        if not problem:
            return port
    log.warning("%s %s ignored: %s; only the config's PORT_FILE is hidden (remove the record:"
                " the daemon writes it again when it starts)", WHAT, shown, problem)
    return None
