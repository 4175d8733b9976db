"""The plan that undoes what the wizard set up for one UPS (``--remove``)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from enphase_monitor.facts import is_true
from enphase_monitor.paths import SYSTEMD_STATE_ENV, nocomms_file, served_record

from ..answermodel import credential_path
from ..changes import DeleteFile, RunCommand, WriteFile
from ..facts import (
    DRIVER_UNIT,
    MONITOR_UNIT,
    STATE_DIR,
    UNIT_DIR,
    UPSD_UNIT,
    unit_active,
    unit_enabled,
)
from ..nutconf import UpsConf
from ..nutmode import has_marker
from ..plan import Plan
from ..runner import cmd
from ..undo import UndoRecord, managed_upses, record_path
from ..undo import load as load_record
from ..userkeyring import DELETE_SCRIPT, KEYRING_SERVICE, keyring_argv
from .context import Context, file_change
from .units import DROPIN, daemon_reload


def _units(plan: Plan, ctx: Context, ups: str, record: UndoRecord, restored: bool) -> None:
    """Disable the units the set-up enabled; leave the others as the set-up found them.

    The driver instance serves only the section that goes, so it is stopped (and disabled)
    in any case; when the section is put back (`restored`: one the set-up took over) it is
    left as found, and restarted to read the section again. A monitor the user had enabled
    stays enabled and running, and the plan says so. Without a complete record (a set-up
    older than records) every enabled one is disabled.
    """
    if not ctx.systemctl:
        return
    now = ["--now"] if ctx.live else []
    monitor, driver = MONITOR_UNIT.format(ups=ups), DRIVER_UNIT.format(ups=ups)
    enabled = {u: unit_enabled(ctx.system, u) for u in (monitor, driver)}
    active = {u: ctx.live and unit_active(ctx.system, u) for u in (monitor, driver)}
    ours = [u for u in (monitor, driver) if u in record.units or (
        (not record.complete or (u == driver and not restored)) and enabled[u])]
    if ours:
        plan.add(RunCommand(cmd("systemctl", "disable", *now, *ours),
                            why="enabled by enphase-setup (the driver's section goes too)",
                            undo=cmd("systemctl", "enable", *now, *ours),
                            name=f"Disable {' and '.join(ours)}"))
    if driver not in ours and active[driver] and restored:
        plan.add(RunCommand(cmd("systemctl", "try-restart", driver),
                            why="it reads its ups.conf section, put back as it was",
                            name=f"Restart {driver}"))
    elif driver not in ours and active[driver]:
        plan.add(RunCommand(cmd("systemctl", "stop", driver),
                            why="its ups.conf section goes, so the driver has nothing to run",
                            undo=cmd("systemctl", "start", driver), name=f"Stop {driver}"))
    if monitor not in ours and (enabled[monitor] or active[monitor]):
        state = " and ".join(w for w, on in (("enabled", enabled[monitor]),
                                            ("running", active[monitor])) if on)
        plan.notes.append(f"{monitor} is {state}, and enphase-setup did not enable it: it"
                          f" stays so (it starts with {driver}, which goes); stop it with:"
                          f" systemctl disable --now {monitor}")


def adopted_section(record: UndoRecord, ups: str) -> str | None:
    """The section `[ups]` the set-up took over, as the record has it (None: it made the
    section, or the record's text is not exactly one section of that name)."""
    if not record.section:
        return None
    conf = UpsConf(record.section)
    if [s.name for s in conf.sections] != [ups] or conf.section_text(ups) != record.section:
        return None
    return record.section


@dataclass
class SectionChange(WriteFile):
    """The ups.conf edit of a remove plan; `restores`: it puts a taken-over section back."""

    restores: bool = False


def _section_change(ctx: Context, ups: str, record: UndoRecord,
                    old: str | None) -> SectionChange | None:
    """Remove section [ups], or put back the user's section the set-up took over."""
    if old is None or UpsConf(old).section(ups) is None:
        return None
    original = adopted_section(record, ups)
    if original is not None:
        new = UpsConf(old).with_section_text(ups, original).text()
        purpose = (f"put back your section [{ups}] byte for byte, as it was before"
                   " enphase-setup took it over")
    else:
        new, purpose = UpsConf(old).without_section(ups).text(), f"remove section [{ups}]"
    change = file_change(ctx, ctx.nut.ups_conf, new, mode=None, owner=None, purpose=purpose)
    if change is None:
        return None
    return SectionChange(change.path, change.text, change.old, mode=None, owner=None,
                         purpose=purpose, system=ctx.system, restores=original is not None)


def upsd_goes(ctx: Context, ups: str) -> bool:
    """The remove plan disables upsd: the set-up of `ups` enabled it and no other UPS that
    enphase-setup set up remains (upsd is then handed over to that one)."""
    record = load_record(ctx.system, record_path(ctx.nut, ups))
    others = [u for u in managed_upses(ctx.system, ctx.nut) if u != ups]
    return ctx.systemctl and UPSD_UNIT in record.units and not others


def _secrets(plan: Plan, ctx: Context, ups: str) -> None:
    for kind in ("password", "token"):
        if ctx.system.exists(credential_path(ups, kind)):
            plan.add(DeleteFile(credential_path(ups, kind), f"encrypted {kind}"))
    values = ctx.existing.values
    if is_true(values.get("PASSWORD_KEYRING", "")):
        user = ctx.nut.user
        plan.add(RunCommand(
            cmd(*keyring_argv(user, DELETE_SCRIPT, KEYRING_SERVICE, values.get("USERNAME", ""))),
            why=f"delete the password from user {user}'s keyring (cannot be undone)",
            name=f"Delete the password from {user}'s keyring"))


def holds_secret(ctx: Context) -> bool:
    """The UPS's config holds the password or a token in clear text."""
    return any(ctx.existing.values.get(key) for key in ("PASSWORD", "TOKEN"))


def port_path(ctx: Context) -> PurePosixPath | None:
    """The port file the UPS's daemon writes (its config's PORT_FILE, else the section's)."""
    return ctx.existing.port_file


def build_remove(ctx: Context, delete_port: bool, delete_config: bool) -> Plan:
    """Undo what the wizard set up for `ctx.existing.ups`.

    Args:
        ctx: the host, with the UPS's current files in `existing`.
        delete_port: also delete the port file (asked first: it may hold your own lines).
        delete_config: also delete the config file (asked first).
    """
    ups = ctx.existing.ups
    plan = Plan(f"Remove UPS '{ups}' (enphase-monitor)")
    units = [MONITOR_UNIT.format(ups=ups), DRIVER_UNIT.format(ups=ups)]
    record = load_record(ctx.system, record_path(ctx.nut, ups))
    old = ctx.system.read_text(ctx.nut.ups_conf)
    section = _section_change(ctx, ups, record, old)
    _units(plan, ctx, ups, record, restored=section is not None and section.restores)
    plan.add(section)
    for unit in units:
        dropin = UNIT_DIR / f"{unit}.d" / DROPIN
        if ctx.system.exists(dropin):
            plan.add(DeleteFile(dropin, "the wizard's drop-in"))
    _secrets(plan, ctx, ups)
    token_path = ctx.existing.token_file
    if token_path is not None and ctx.system.exists(token_path):
        plan.add(DeleteFile(token_path, "token cache"))
    served = served_record(ups, {SYSTEMD_STATE_ENV: str(STATE_DIR)})  # the unit's StateDirectory
    if served is not None and ctx.system.exists(PurePosixPath(served)):
        plan.add(DeleteFile(PurePosixPath(served), "the port file the daemon served, for -x"))
    port = port_path(ctx)
    names = (port, PurePosixPath(nocomms_file(Path(port)))) if port is not None else ()
    if delete_port and any(ctx.system.exists(path) for path in names):
        # both names: stopping the monitor (above) hides the port file as <port>-nocomms
        for path in names:
            plan.add(DeleteFile(path, "port file" if path == port else
                                "port file as the stopped monitor hides it"))
    config = ctx.nut.config_file(ups)
    if delete_config and ctx.system.exists(config):
        plan.add(DeleteFile(config, "enphase-monitor config"))
    others = [u for u in managed_upses(ctx.system, ctx.nut) if u != ups]
    # the label the set-up gave the port file's directory (planner/nut.py port_label)
    pattern = f"{port.parent if port is not None else STATE_DIR}(/.*)?"
    ours = pattern in record.fcontexts or not record.complete  # one the user added stays
    if delete_port and not others and ours and ctx.facts.selinux.has_fcontext(pattern):
        plan.add(RunCommand(cmd("semanage", "fcontext", "-d", pattern),
                            why="no UPS uses the directory any more",
                            undo=cmd("semanage", "fcontext", "-a", "-t", "nut_conf_t", pattern),
                            name=f"Remove the SELinux file context {pattern}"))
    if ctx.systemctl:
        plan.add(daemon_reload(ctx, plan.changes))
        if upsd_goes(ctx, ups):
            now = ["--now"] if ctx.live else []
            plan.add(RunCommand(cmd("systemctl", "disable", *now, UPSD_UNIT),
                                why="enphase-setup enabled upsd; it was off before",
                                undo=cmd("systemctl", "enable", *now, UPSD_UNIT),
                                name=f"Disable upsd ({UPSD_UNIT})"))
        elif ctx.live and old is not None:
            plan.add(RunCommand(cmd("systemctl", "try-reload-or-restart", UPSD_UNIT),
                                why="upsd forgets the UPS", name=f"Reload upsd ({UPSD_UNIT})"))
    _notes(plan, ctx, delete_port, delete_config)
    return plan


def _notes(plan: Plan, ctx: Context, delete_port: bool, delete_config: bool) -> None:
    """What stays: the port file, the config (and its secret), nut.conf's MODE."""
    port, config = port_path(ctx), ctx.nut.config_file(ctx.existing.ups)
    if not delete_port and port is not None and ctx.system.exists(port):
        plan.notes.append(f"the port file {port} is kept")
    if not delete_config and ctx.system.exists(config):
        secret = (": it holds the Enlighten password (or token) in clear text, readable by"
                  " root and the daemon's group" if holds_secret(ctx) else "")
        plan.notes.append(f"the config {config} is kept (re-running the wizard reuses it)"
                          + secret)
    put_back = has_marker(ctx.system.read_text(ctx.nut.nut_conf), ctx.existing.ups)
    others = [u for u in managed_upses(ctx.system, ctx.nut) if u != ctx.existing.ups]
    if put_back and others:
        plan.notes.append(f"nut.conf keeps MODE={ctx.facts.nut_mode}: UPS {others[0]} (set up"
                          " by enphase-setup too) needs upsd; its --remove puts MODE back")
    if ctx.facts.nut_mode not in (None, "", "none") and not put_back:
        plan.notes.append(f"nut.conf keeps MODE={ctx.facts.nut_mode}: upsd stays on for other"
                          " UPSes and clients; set MODE=none by hand if nothing uses it")
