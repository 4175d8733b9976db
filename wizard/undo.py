"""What a set-up did that the files alone cannot tell: the units it enabled, the directories and
files it created. Recorded when the plan is applied, replayed by ``--remove``.

The record is `<NUT dir>/enphase-<ups>.undo` (JSON, 0600 root), written by the last change of a
set-up plan from what the changes before it actually did, merged with the record of earlier
runs. ``--remove`` disables only the units in it, deletes a file it lists once the removal
leaves it empty (nut.conf, ups.conf, upsd.users, ... that were absent before), and removes the
directories it lists when they are empty, puts back a ups.conf section the set-up took over
(its exact text is in the record); then the record itself. nut.conf's MODE has its own
record, the marker above the MODE line (``nutmode.py``).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

from enphase_monitor import paths
from enphase_monitor.errors import ConfigError, MonitorError

from . import daemonconf
from .changes import Change, DeleteFile, MakeDir, RemoveDir, RunCommand, WriteFile
from .facts import NutLayout
from .nutconf import UpsConf
from .plan import Plan
from .system import System

MAX_ENTRIES = 64  # a record is short; a longer one is not ours
MAX_BYTES = 64 * 1024
MAX_SECTION = 16 * 1024  # a ups.conf section is a few lines


def record_path(nut: NutLayout, ups: str) -> PurePosixPath:
    """Where the undo record of `ups` is."""
    return nut.confdir / f"enphase-{ups}.undo"


@dataclass
class UndoRecord:
    """Units enabled, directories (parents first), files and SELinux file contexts created
    by the wizard."""

    units: list[str] = field(default_factory=list)
    dirs: list[str] = field(default_factory=list)
    files: list[str] = field(default_factory=list)
    fcontexts: list[str] = field(default_factory=list)  # SELinux patterns `semanage -a` added
    found: bool = False  # read from a record file (False: none, as before records existed)
    partial: bool = False  # begun on a set-up older than records: the first apply is not in it
    section: str = ""  # the exact text of a ups.conf section the set-up took over ("": none)

    @classmethod
    def from_json(cls, text: str) -> UndoRecord:
        """The record in `text`; an invalid one is an empty record (nothing is undone blind)."""
        try:
            data = json.loads(text)
        except ValueError:
            return cls(found=True)
        if not isinstance(data, dict):
            return cls(found=True)

        def strings(key: str, absolute: bool) -> list[str]:
            items = data.get(key)
            if not isinstance(items, list):
                return []
            return [i for i in items[:MAX_ENTRIES] if isinstance(i, str) and i
                    and "\n" not in i and (i.startswith("/") if absolute else "/" not in i)]

        section = data.get("section")
        if not isinstance(section, str) or len(section) > MAX_SECTION:
            section = ""
        return cls(strings("units", False), strings("dirs", True), strings("files", True),
                   strings("fcontexts", True), True, data.get("partial") is True, section)

    def to_json(self) -> str:
        """The record as the file holds it."""
        return json.dumps({"units": self.units, "dirs": self.dirs, "files": self.files,
                           "fcontexts": self.fcontexts, "partial": self.partial,
                           "section": self.section},
                          indent=1) + "\n"

    def merged(self, other: UndoRecord) -> UndoRecord:
        """This record and what `other` adds (an earlier run's entries first)."""
        def union(a: list[str], b: list[str]) -> list[str]:
            return a + [x for x in b if x not in a]
        return UndoRecord(union(self.units, other.units), union(self.dirs, other.dirs),
                          union(self.files, other.files),
                          union(self.fcontexts, other.fcontexts), self.found,
                          self.partial or other.partial, self.section or other.section)

    @property
    def complete(self) -> bool:
        """A record of everything the set-up did (else --remove also goes by what is there)."""
        return self.found and not self.partial

    def empty(self) -> bool:
        """Nothing to undo."""
        return not (self.units or self.dirs or self.files or self.fcontexts or self.section)


def managed_upses(system: System, nut: NutLayout) -> list[str]:
    """The UPSes enphase-setup set up and has not removed: a section in ups.conf, and an undo
    record (or, for a set-up older than records, the comment it puts under a section it makes,
    or a section it took over: `reads_its_port_file`).

    A config kept by --remove does not count: its section is gone, or it is the user's own
    again (it reads its own port), so nothing of the host (nut.conf's MODE, upsd, upsmon) may
    be handed over to it.
    """
    conf = UpsConf(system.read_text(nut.ups_conf) or "")
    names = dict.fromkeys(section.name for section in conf.sections)
    return [ups for ups in names if conf.marked(ups) or system.exists(record_path(nut, ups))
            or reads_its_port_file(system, nut, conf, ups)]


def reads_its_port_file(system: System, nut: NutLayout, conf: UpsConf, ups: str) -> bool:
    """Section `ups` is a `dummy-ups` one whose port is exactly the PORT_FILE its
    enphase-<ups>.conf names (the wizard always writes PORT_FILE): what a set-up older than
    records leaves when it took the section over (it added no comment then)."""
    section = conf.section(ups)
    given = section.settings.get("port", "") if section is not None else ""
    if section is None or section.settings.get("driver") != "dummy-ups" or not given:
        return False
    try:
        values = daemonconf.read_values(system.read_text(nut.config_file(ups)))
        found = paths.DaemonPaths.of(values, ups, system.env).port_file  # None: no PORT_FILE
    except (MonitorError, ConfigError):  # a symlinked config; a `~user` without a home
        return False
    return found is not None and found == paths.driver_port(given, Path(nut.confdir))


def load(system: System, path: PurePosixPath) -> UndoRecord:
    """The record at `path` (empty, `found` False, when there is none)."""
    try:
        text = system.read_text(path)
    except MonitorError:
        return UndoRecord(found=True)  # a symlink or a FIFO there: not ours, undo nothing
    if text is None:
        return UndoRecord()
    return UndoRecord.from_json(text[:MAX_BYTES])


def enabled_units(command: RunCommand) -> list[str]:
    """The units a `systemctl enable` command enables ([] for any other command)."""
    argv = command.command.argv
    if list(argv[:2]) != ["systemctl", "enable"]:
        return []
    return [a for a in argv[2:] if not a.startswith("-")]


@dataclass
class AdoptSection(WriteFile):
    """The ups.conf edit that takes over a section enphase-setup did not make.

    Args:
        original: the section's exact text before (its header through its last setting),
            recorded so that --remove puts it back byte for byte.
    """

    original: str = ""


def done_by(changes: list[Change], predict: bool = False) -> UndoRecord:
    """What `changes` did (after their apply), or (`predict`) will do, that needs recording."""
    record = UndoRecord()
    for change in changes:
        if isinstance(change, AdoptSection) and not record.section:
            record.section = change.original
        if isinstance(change, MakeDir):
            made = [change.path] if predict else change.created
            record.dirs.extend(str(p) for p in made if str(p) not in record.dirs)
        elif isinstance(change, WriteFile) and (change.old is None if predict else change.created):
            record.files.append(str(change.path))
        elif isinstance(change, RunCommand):
            record.units.extend(u for u in enabled_units(change) if u not in record.units)
            argv = list(change.command.argv)
            if argv[:3] == ["semanage", "fcontext", "-a"] and argv[-1] not in record.fcontexts:
                record.fcontexts.append(argv[-1])
    return record


@dataclass
class RecordUndo(WriteFile):
    """The last step of a set-up: record what the steps before it did, for --remove.

    Args:
        previous: the record of earlier runs (merged).
        steps: the plan's changes before this one.
    """

    previous: UndoRecord = field(default_factory=UndoRecord)
    steps: list[Change] = field(default_factory=list, repr=False)

    def __post_init__(self) -> None:
        self.title = f"Record what to undo in {self.path} (read by --remove)"
        self.kind = "file"

    def preview(self) -> str:
        return self.previous.merged(done_by(self.steps, predict=True)).to_json()

    def details(self) -> str:
        return "mode 0600, owner root"

    def apply(self, system: System) -> str:
        self.text = self.previous.merged(done_by(self.steps)).to_json()
        super().apply(system)
        record = UndoRecord.from_json(self.text)
        return (f"{len(record.units)} units, {len(record.dirs)} directories,"
                f" {len(record.files)} files")


def record_setup(plan: Plan, nut: NutLayout, ups: str, system: System,
                 configured: bool) -> None:
    """End a set-up plan with its undo record, when it creates or enables something new.

    Args:
        configured: the UPS was set up already; without a record, that set-up predates
            records, and the new record says it is partial.
    """
    path = record_path(nut, ups)
    previous = load(system, path)
    if not previous.found and configured:
        previous.partial = True
    steps = list(plan.changes)
    predicted = done_by(steps, predict=True)
    if predicted.empty() or (previous.found and previous.merged(predicted) == previous):
        return
    old = system.read_text(path)
    plan.add(RecordUndo(path, "", old, mode=0o600, owner=("root", "root"), previous=previous,
                        steps=steps, system=system))


def finish_remove(plan: Plan, nut: NutLayout, ups: str, system: System) -> None:
    """Replay the record at the end of a remove plan: files it created that the removal
    empties are deleted, the directories it created removed when empty, then the record."""
    path = record_path(nut, ups)
    record = load(system, path)
    for index, change in enumerate(plan.changes):
        if (isinstance(change, WriteFile) and str(change.path) in record.files
                and not change.text.strip()):
            plan.changes[index] = DeleteFile(change.path, "created by enphase-setup, now empty")
    for directory in sorted(record.dirs, key=lambda d: d.count("/"), reverse=True):
        plan.add(RemoveDir(PurePosixPath(directory), "created by enphase-setup"))
    if system.exists(path):
        plan.add(DeleteFile(path, "the record of what to undo"))


def hand_over_units(system: System, nut: NutLayout, to_ups: str,
                    units: list[str]) -> WriteFile | None:
    """Pass `units`, which a removed UPS's set-up enabled and another UPS still needs, to the
    record of `to_ups`, so that its --remove disables them (None: the record has them).

    A UPS without a record (an older set-up) gets one, marked partial.
    """
    path = record_path(nut, to_ups)
    record = load(system, path)
    missing = [u for u in units if u not in record.units]
    if not missing:
        return None
    new = UndoRecord(record.units + missing, record.dirs, record.files, record.fcontexts,
                     True, record.partial or not record.found, record.section)
    return WriteFile(path, new.to_json(), system.read_text(path), mode=0o600,
                     owner=("root", "root"), purpose=f"UPS {to_ups} now needs {', '.join(missing)}",
                     system=system)
