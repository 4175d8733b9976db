"""NUT's side of the plan: the port file, its SELinux label, the ups.conf section, nut.conf."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from enphase_monitor import paths
from enphase_monitor.errors import MonitorError
from enphase_monitor.nutvars import RUNTIME_LOW
from enphase_monitor.portfile import parse_line

from .. import shown
from ..answermodel import CHARGE_LOW, Answers
from ..changes import Change, RunCommand, WriteFile
from ..facts import STATE_DIR, Facts
from ..nutconf import SECTION_MARK, UpsConf
from ..nutmode import set_mode
from ..prefill import existing_upses, load_existing
from ..runner import cmd
from ..system import System
from ..undo import AdoptSection
from .context import Context, file_change, under

SECTION_COMMENT = "enphase-monitor: Enphase IQ Gateway {serial} " + SECTION_MARK
PORT_HEADER = (
    "# dummy-ups port file of UPS {ups}: enphase-monitor@{ups} keeps it up to date.\n"
    "# Other lines are kept; battery.charge.low is the low-battery threshold in %.\n"
)


def port_text(old: str | None, ups: str, charge_low: int, runtime_low: int = 0) -> str:
    """The port file: a new one, or the old one with its low-battery lines set.

    battery.charge.low is always written; battery.runtime.low (seconds) only when above 0, and
    an old one is removed when 0 (the user turned the rule off).
    """
    text = PORT_HEADER.format(ups=ups) if old is None else old
    text = _port_line(text, CHARGE_LOW, str(charge_low))
    return _port_line(text, RUNTIME_LOW, str(runtime_low) if runtime_low > 0 else None)


def _port_line(text: str, name: str, value: str | None) -> str:
    """`text` with variable `name` set to `value` (None: removed), else appended.

    Lines are read as dummy-ups reads them (`enphase_monitor.portfile.parse_line`: only "\n"
    ends a line, `name: value`, `name:value` and `name value` alike); the last line of `name`
    is the one that counts, so it is replaced and earlier ones are removed.
    """
    lines = text.split("\n")
    ends = ["\n"] * (len(lines) - 1) + [""]
    found = [i for i, line in enumerate(lines) if parse_line(line)[0] == name]
    if not found and value is None:
        return text
    if found:
        last = found[-1]
        cr = "\r" if lines[last].endswith("\r") else ""
        lines[last] = f"{name}: {value}{cr}" if value is not None else ""
        ends[last] = "\n"  # the file's last line too: a port file ends with a line end
        drop = set(found[:-1]) | ({last} if value is None else set())
        return "".join(line + end for i, (line, end) in enumerate(zip(lines, ends, strict=True))
                       if i not in drop)
    body = "".join(line + end for line, end in zip(lines, ends, strict=True))
    if body and not body.endswith("\n"):
        body += "\n"
    return body + f"{name}: {value}\n"


def port_label(ans: Answers, ctx: Context) -> tuple[str, list[Change]]:
    """The SELinux label the port file's directory gets, and the commands that give it.

    NUT's drivers run as nut_upsdrvctl_t, which may read nut_conf_t but not var_lib_t: the
    directory is labelled by the project's policy module when installed, else with
    `semanage fcontext` + `restorecon` (persistent: survives relabels and reboots).
    """
    se = ctx.facts.selinux
    directory = ans.state_dir
    if not se.enabled:
        return "", []
    if under(directory, ctx.nut.confdir):
        return "nut_conf_t, inherited from the NUT config directory", []
    restorecon = RunCommand(cmd("restorecon", "-R", "-v", str(directory)),
                            why="apply the SELinux label to the directory and its files",
                            name=f"Label {directory} for SELinux")
    if se.policy_module and directory == STATE_DIR:
        return ("system_u:object_r:enphase_monitor_var_lib_t:s0 (the enphase_monitor policy"
                " module; restorecon)", [restorecon])
    pattern = f"{directory}(/.*)?"
    steps: list[Change] = []
    if not se.has_fcontext(pattern):
        steps.append(RunCommand(
            cmd("semanage", "fcontext", "-a", "-t", "nut_conf_t", pattern),
            why="let NUT's drivers (nut_upsdrvctl_t) read the port file",
            undo=cmd("semanage", "fcontext", "-d", pattern),
            name=f"Add the SELinux file context {pattern}"))
    steps.append(restorecon)
    return "system_u:object_r:nut_conf_t:s0 (semanage fcontext + restorecon)", steps


def port_change(ans: Answers, ctx: Context, label: str) -> WriteFile | None:
    """The port file: created with a header, or its battery.charge.low line set."""
    old = ctx.system.read_text(ans.port_path)
    return file_change(ctx, ans.port_path,
                       port_text(old, ans.ups, ans.charge_low, ans.runtime_low),
                       mode=None if old is not None else 0o640,
                       owner=None if old is not None else ctx.daemon,
                       purpose="dummy-ups port file", label=label)


def upsconf_change(ans: Answers, ctx: Context) -> WriteFile | None:
    """The UPS's section in ups.conf (edited in place; the rest stays byte-identical)."""
    old = ctx.system.read_text(ctx.nut.ups_conf)
    conf = UpsConf(old or "")
    values = {"driver": "dummy-ups", "port": str(ans.port_path), "mode": "dummy-loop",
              "desc": ans.description}
    new = conf.with_section(ans.ups, values, SECTION_COMMENT.format(serial=ans.serial)).text()
    change = file_change(ctx, ctx.nut.ups_conf, new, mode=None if old is not None else 0o640,
                         owner=None if old is not None else ("root", ctx.nut.group),
                         purpose=f"NUT section [{ans.ups}]")
    configured = ctx.existing.owns_section and ctx.existing.ups == ans.ups
    original = conf.section_text(ans.ups)
    if change is None or original is None or not section_check(ans.ups, conf,
                                                               configured).takeover:
        return change
    return AdoptSection(change.path, change.text, change.old, mode=change.mode,
                        owner=change.owner, purpose=f"take over NUT section [{ans.ups}]; your"
                        " section as it is now is recorded, and --remove puts it back byte"
                        " for byte", system=ctx.system, original=original)


def nutconf_mode_change(ctx: Context, ups: str) -> WriteFile | None:
    """MODE=standalone in nut.conf when NUT is off (MODE=none or unset), marked with what it
    was so that --remove puts it back (``nutmode.py``)."""
    if ctx.facts.nut_mode not in (None, "", "none"):
        return None
    old = ctx.system.read_text(ctx.nut.nut_conf)
    new = set_mode(old or "", ups, "standalone")
    return file_change(ctx, ctx.nut.nut_conf, new, mode=None if old is not None else 0o640,
                       owner=None if old is not None else ("root", ctx.nut.group),
                       purpose="start upsd: MODE=standalone")


def nut_problem(facts: Facts) -> str | None:
    """Why NUT cannot serve the UPS on this host (None: it can)."""
    if facts.dummy_ups is None:
        return ("NUT's dummy-ups driver is not installed: install nut-server (Debian) or nut"
                " (Fedora), then run enphase-setup again")
    if facts.nut_mode == "netclient":
        return (f"{facts.nut.nut_conf} says MODE=netclient (this host only watches another"
                " host's upsd): a dummy-ups driver needs MODE=standalone or netserver; change"
                " MODE there (and enable nut-server), or run enphase-setup on the upsd host")
    return None


@dataclass(frozen=True)
class SectionCheck:
    """What using a UPS name does to ups.conf: a note, a refusal, or a takeover to confirm."""

    note: str
    problem: str | None = None  # the name cannot be used
    takeover: str | None = None  # a section enphase-setup did not make: ask before using it


def section_check(ups: str, conf: UpsConf, configured: bool) -> SectionCheck:
    """What ups.conf says about the name `ups`.

    Args:
        ups: the UPS name (the section).
        conf: ups.conf as it is.
        configured: an enphase-monitor config of this section's set-up exists for this name
            (Existing.owns_section: the set-up is ours).
    """
    section = conf.section(ups)
    if section is None:
        if ups == "ups":
            return SectionCheck("'ups' is free: Synology and other NAS clients expect that name.")
        return SectionCheck(f"[{ups}] is new: it is added at the end of ups.conf.")
    driver = section.settings.get("driver", "")
    if driver and driver != "dummy-ups":
        problem = (f"ups.conf already has a section [{ups}] for driver {shown.raw(driver)}: choose"
                   " another name (or remove that section first)")
        return SectionCheck(problem, problem=problem)
    ours = configured or conf.marked(ups)
    if ours:
        return SectionCheck(f"[{ups}] was set up by enphase-setup: it is updated in place.")
    port = shown.raw(section.settings.get("port", "?"))
    takeover = (f"ups.conf has a section [{ups}] (driver dummy-ups, port = {port}) that"
                " enphase-setup did not make: using this name takes it over (its port, mode"
                " and desc are replaced)")
    return SectionCheck(takeover + ".", takeover=takeover)


def port_owner(system: System, facts: Facts, ups: str, port: PurePosixPath) -> str | None:
    """Another UPS that uses the file `port`: a ups.conf section whose driver reads it, or an
    enphase-<name>.conf whose daemon writes it (None: no other UPS does)."""
    confdir = Path(facts.nut.confdir)
    for section in UpsConf(system.read_text(facts.nut.ups_conf) or "").sections:
        given = section.settings.get("port", "")
        if section.name != ups and given and \
                PurePosixPath(paths.driver_port(given, confdir)) == port:
            return section.name
    for name in existing_upses(system, facts):
        try:
            if name != ups and load_existing(system, facts, name).port_file == port:
                return name
        except MonitorError:  # its config is not a file the wizard reads: not counted
            continue
    return None


def port_problem(system: System, facts: Facts, ups: str, port: PurePosixPath) -> str | None:
    """Why UPS `ups` cannot use the port file `port`: another UPS uses it (None: fine).

    Two daemons writing one file would show one gateway's state under the other's name.
    """
    owner = port_owner(system, facts, ups, port)
    if owner is None:
        return None
    return (f"{port} is already the port file of UPS {shown.raw(owner)}: each UPS needs its"
            " own (choose another)")
