"""Protect this host as plan changes: upsd.users, upsmon.conf, upsd.conf, nut.conf and services.

`extend_setup` adds the step to a set-up plan (after the UPS's own changes); `extend_remove` puts
the undoing of exactly those lines at the front of a remove plan, so that upsmon stops watching
the UPS before its driver goes away. Files are edited (marked blocks, ``marked.py``), never
rewritten; previews hide every password.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import PurePosixPath

from . import upsdconf, upsdusers, upsmonconf
from .answers import existing_upses
from .changes import Change, RunCommand, WriteFile
from .facts import UPSD_UNIT, nut_mode, unit_enabled
from .nutmode import hand_over, restore_mode, set_mode
from .plan import Plan
from .planner import Context
from .planner.remove import upsd_goes
from .protect import (
    UPSMON_UNIT,
    ProtectAnswers,
    conf_path,
    upsmon_installed,
    watched,
)
from .runner import cmd
from .undo import hand_over_units, load, record_path

WHY_PRIMARY = "upsmon on this host watches UPS {ups} and shuts the host down on low battery"
WHY_SECONDARY = "NAS clients on the LAN log in with this user to watch UPS {ups}"
WHY_LISTEN = "upsd serves UPS {ups} to NAS clients on the LAN"
HAND_STEPS = ("On this host, upsmon.conf:",)  # plan.next_steps that this step does instead
HAND_NAS_STEPS = ("On other hosts:", "Synology and other NAS:")


# --------------------------------------------------------------------------- file changes

def _owned(ctx: Context, path: PurePosixPath, old: str | None,
           tighten: bool) -> tuple[int | None, tuple[str, str] | None]:
    """Mode and owner to set: 0640 root:<nut group> for a new file, or a world-readable one that
    gets passwords (`tighten`); else None (kept as they are)."""
    if old is not None and not tighten:
        return None, None
    if old is not None:
        state = ctx.system.read_file(path)  # root-safe: the mode of the file read
        mode = state.meta.mode if state is not None else 0o640
        if not mode & 0o007:
            return None, None
    return 0o640, ("root", ctx.nut.group)


def edit(ctx: Context, path: PurePosixPath, old: str | None, new: str, purpose: str,
         mask: Callable[[str], str] | None = None, keep_mode: bool = False) -> WriteFile | None:
    """A WriteFile for an edited NUT file (None: unchanged).

    Args:
        mask: hides the passwords in previews; a file with passwords is also made 0640
            root:<nut group> when others could read it.
    """
    if old is not None and new == old:
        return None
    secret = mask is not None and new != mask(new) and not keep_mode
    mode, owner = _owned(ctx, path, old, tighten=secret)
    mask = mask or (lambda text: text)
    return WriteFile(path, new, old, mode=mode, owner=owner, shown=mask(new),
                     old_shown=mask(old) if old is not None else None, purpose=purpose,
                     system=ctx.system)


def monitor_system(ups: str, upsd_text: str | None) -> str:
    """`<ups>@localhost` (with the port when upsd does not use 3493 on loopback)."""
    port = upsdconf.local_port(upsd_text)
    if port is None:  # upsd listens on given addresses only: use the first
        first = upsdconf.listens(upsd_text)[0]
        host = f"[{first.address}]" if ":" in first.address else first.address
        return f"{ups}@{host}" + (f":{first.port}" if first.port != upsdconf.PORT else "")
    return f"{ups}@localhost" + (f":{port}" if port != upsdconf.PORT else "")


def conflict(prot: ProtectAnswers, ctx: Context, ups: str) -> str | None:
    """A user name already in upsd.users that the wizard did not add (None: no clash)."""
    accounts = upsdusers.users(ctx.system.read_text(conf_path(ctx.facts, upsdusers.FILE)))
    names = []
    if prot.protect:
        names.append((prot.primary_user(ups), prot.password, "PROTECT_USER"))
    if prot.serve:
        names.append((*prot.secondary(ups), "NAS_USER"))
    for name, password, key in names:
        account = accounts.get(name)
        if account is None or account.added_for == ups or account.password == password:
            continue
        return (f"upsd.users already has a user {name} that enphase-setup did not add:"
                f" choose another name ({key})")
    return None


def _add_user(text: str, ups: str, name: str, password: str, role: str,
              why: str) -> tuple[str, str]:
    """upsd.users with the user (unless there), and the password the user has."""
    account = upsdusers.users(text).get(name)
    if account is not None and account.password:
        return text, account.password
    return upsdusers.with_user(text, ups, name, password, role, why.format(ups=ups)), password


# --------------------------------------------------------------------------- the builders

def _nut_conf_change(plan: Plan, ctx: Context, ups: str) -> None:
    """MODE=netserver, merged into the set-up's own nut.conf change when it has one."""
    path = ctx.nut.nut_conf
    pending = next((c for c in plan.changes if isinstance(c, WriteFile) and c.path == path),
                   None)
    old = pending.old if pending is not None else ctx.system.read_text(path)
    base = pending.text if pending is not None else old or ""
    change = edit(ctx, path, old, set_mode(base, ups, "netserver"),
                  "upsd serves the LAN: MODE=netserver")
    if pending is not None:
        plan.changes[plan.changes.index(pending)] = change or pending
    else:
        plan.add(change)


def _services(ctx: Context, upsd_restart: bool, upsd_reload: bool,
              upsmon: bool) -> list[Change]:
    """Make upsd read its new users/addresses and upsmon its MONITOR line."""
    out: list[Change] = []
    if ctx.live and (upsd_restart or upsd_reload):
        verb = "restart" if upsd_restart else "reload-or-restart"
        why = "upsd reads LISTEN at start only" if upsd_restart else "upsd reads upsd.users"
        out.append(RunCommand(cmd("systemctl", verb, UPSD_UNIT), why=why,
                              name=f"{verb.capitalize()} upsd ({UPSD_UNIT})"))
    if upsmon and not unit_enabled(ctx.system, UPSMON_UNIT):
        now = ["--now"] if ctx.live else []
        out.append(RunCommand(cmd("systemctl", "enable", *now, UPSMON_UNIT),
                              why="upsmon watches the UPS and shuts this host down on low"
                                  " battery",
                              undo=cmd("systemctl", "disable", *now, UPSMON_UNIT),
                              name=f"{'Enable and start' if now else 'Enable'} upsmon"
                                   f" ({UPSMON_UNIT})"))
    elif upsmon and ctx.live:
        out.append(RunCommand(cmd("systemctl", "reload-or-restart", UPSMON_UNIT),
                              why="upsmon reads the new MONITOR line",
                              name=f"Reload upsmon ({UPSMON_UNIT})"))
    return out


def _next_steps(plan: Plan, prot: ProtectAnswers, ups: str, ctx: Context, primary: str,
                protected: bool) -> None:
    served = prot.serve
    done = (HAND_STEPS if protected else ()) + (HAND_NAS_STEPS if served else ())
    steps = [s for s in plan.next_steps if not s.startswith(done)] if done else plan.next_steps
    if primary:
        steps.append(f"This host is protected: upsmon watches {ups}@localhost as {primary}"
                     " (primary) and shuts it down when the battery runs low")
    if served:
        user, _ = prot.secondary(ups)
        where = (f"user {user}, password secret (Synology's fixed one: public)"
                 if prot.nas_synology else
                 f"user {user}, password in {conf_path(ctx.facts, upsdusers.FILE)}"
                 f" (section [{user}])")
        steps.append(f"On the NAS: UPS server {prot.nas_listen}, port {upsdconf.PORT},"
                     f" UPS name {ups}, {where}, as a secondary")
    plan.next_steps = steps


def extend_setup(plan: Plan, prot: ProtectAnswers, ups: str, ctx: Context) -> None:
    """Add "protect this host" (and serving the LAN) to a set-up plan."""
    if not prot.protect and not prot.serve:
        return
    system, facts = ctx.system, ctx.facts
    paths = {name: conf_path(facts, name)
             for name in (upsdusers.FILE, upsmonconf.FILE, upsdconf.FILE)}
    old = {name: system.read_text(path) for name, path in paths.items()}
    new = {name: text or "" for name, text in old.items()}
    problem = conflict(prot, ctx, ups)
    if problem:
        plan.notes.append(f"{problem}: this host was not protected")
        return
    if prot.serve:
        user, password = prot.secondary(ups)
        new[upsdusers.FILE], _ = _add_user(new[upsdusers.FILE], ups, user, password,
                                           "secondary", WHY_SECONDARY)
        new[upsdconf.FILE] = upsdconf.with_listen(new[upsdconf.FILE], ups, prot.nas_listen,
                                                  WHY_LISTEN.format(ups=ups))
        if prot.nas_synology:
            plan.notes.append(f"Synology: user {user} with password 'secret' is public"
                              " knowledge; anyone on the LAN can log in to upsd with it and"
                              " read the UPS (not change it)")
    primary = ""
    watch = watched(system, facts, ups)
    if prot.protect and watch.monitor is not None:
        plan.notes.append(watch.describe())
    elif prot.protect and not upsmon_installed(system):
        plan.notes.append("upsmon is not installed (nut-client): this host is not protected;"
                          " install nut-client and run enphase-setup again")
    elif prot.protect:
        primary = prot.primary_user(ups)
        new[upsdusers.FILE], password = _add_user(new[upsdusers.FILE], ups, primary,
                                                  prot.password, "primary", WHY_PRIMARY)
        new[upsmonconf.FILE] = upsmonconf.with_monitor(
            old[upsmonconf.FILE], ups, monitor_system(ups, new[upsdconf.FILE]), primary,
            password, "primary", WHY_PRIMARY.format(ups=ups))
    changes = {
        upsdusers.FILE: edit(ctx, paths[upsdusers.FILE], old[upsdusers.FILE],
                             new[upsdusers.FILE], "upsd users", upsdusers.mask),
        upsdconf.FILE: edit(ctx, paths[upsdconf.FILE], old[upsdconf.FILE],
                            new[upsdconf.FILE], "upsd listens on the LAN"),
        upsmonconf.FILE: edit(ctx, paths[upsmonconf.FILE], old[upsmonconf.FILE],
                              new[upsmonconf.FILE], "upsmon watches the UPS",
                              upsmonconf.mask),
    }
    for change in changes.values():
        plan.add(change)
    if prot.serve:
        _nut_conf_change(plan, ctx, ups)
    if ctx.systemctl:
        for step in _services(ctx, changes[upsdconf.FILE] is not None,
                              changes[upsdusers.FILE] is not None,
                              changes[upsmonconf.FILE] is not None):
            plan.add(step)
    elif any(changes.values()):
        plan.notes.append("systemd is not here: (re)start upsd and upsmon yourself")
    _next_steps(plan, prot, ups, ctx, primary, bool(primary) or watch.working)


def remove_changes(ctx: Context, ups: str) -> list[Change]:
    """Take out what `extend_setup` added for `ups`, and tell upsd and upsmon."""
    system, facts = ctx.system, ctx.facts
    edits = [(upsmonconf.FILE, upsmonconf.without_monitors, upsmonconf.mask),
             (upsdusers.FILE, upsdusers.without_users, upsdusers.mask),
             (upsdconf.FILE, upsdconf.without_listens, None)]
    changes: dict[str, Change | None] = {}
    left: list[upsmonconf.Monitor] = []
    for name, without, mask in edits:
        path = conf_path(facts, name)
        old = system.read_text(path)
        new = without(old, ups) if old is not None else None
        changes[name] = edit(ctx, path, old, new, f"remove what enphase-setup added for {ups}",
                             mask, keep_mode=True) if new is not None else None
        if name == upsmonconf.FILE:
            left = upsmonconf.monitors(new)
    others = [u for u in existing_upses(system, facts) if u != ups]
    old_nut = system.read_text(ctx.nut.nut_conf)
    mode_changed = False
    if old_nut is not None:
        new_nut, why = ((hand_over(old_nut, ups, others[0]), f"MODE stays for UPS {others[0]}")
                        if others else (restore_mode(old_nut, ups), "MODE as it was"))
        changes["nut.conf"] = edit(ctx, ctx.nut.nut_conf, old_nut, new_nut, why)
        mode_changed = nut_mode(old_nut) != nut_mode(new_nut)  # not just the marker
    out = [c for c in changes.values() if c is not None]
    record = load(system, record_path(ctx.nut, ups))
    enabled_by_us = UPSMON_UNIT in record.units
    staying = [u for u in (UPSD_UNIT, UPSMON_UNIT) if u in record.units
               and (u == UPSD_UNIT or left)]
    passed = hand_over_units(system, ctx.nut, others[0], staying) if others else None
    if passed is not None:
        out.append(passed)
    if ctx.systemctl and enabled_by_us and not left:
        now = ["--now"] if ctx.live else []
        out.insert(1, RunCommand(cmd("systemctl", "disable", *now, UPSMON_UNIT),
                                 why="enphase-setup enabled upsmon; it has nothing left to watch",
                                 undo=cmd("systemctl", "enable", *now, UPSMON_UNIT),
                                 name=f"Disable upsmon ({UPSMON_UNIT})"))
    if not ctx.live:
        return out
    if changes[upsmonconf.FILE] is not None and not (enabled_by_us and not left):
        if not left:
            out.insert(1, RunCommand(cmd("systemctl", "stop", UPSMON_UNIT),
                                     why="upsmon has nothing left to watch",
                                     undo=cmd("systemctl", "start", UPSMON_UNIT),
                                     name=f"Stop upsmon ({UPSMON_UNIT})"))
        else:
            out.insert(1, RunCommand(cmd("systemctl", "try-reload-or-restart", UPSMON_UNIT),
                                     why="upsmon forgets the UPS",
                                     name=f"Reload upsmon ({UPSMON_UNIT})"))
    if upsd_goes(ctx, ups):
        pass  # the plan disables upsd at its end: no restart before that
    elif changes[upsdconf.FILE] is not None or mode_changed:
        out.append(RunCommand(cmd("systemctl", "try-restart", UPSD_UNIT),
                              why="upsd stops listening on the LAN",
                              name=f"Restart upsd ({UPSD_UNIT})"))
    elif changes[upsdusers.FILE] is not None:
        out.append(RunCommand(cmd("systemctl", "try-reload-or-restart", UPSD_UNIT),
                              why="upsd forgets the users", name=f"Reload upsd ({UPSD_UNIT})"))
    return out


def extend_remove(plan: Plan, ctx: Context, ups: str) -> None:
    """Put the undoing of "protect this host" at the front of a remove plan."""
    plan.changes[0:0] = remove_changes(ctx, ups)
