"""systemd's side of the plan: drop-ins, enabling and restarting the units, upsd."""

from __future__ import annotations

from pathlib import PurePosixPath

from enphase_monitor.facts import PASSWORD_CREDENTIAL, TOKEN_CREDENTIAL, credstore_file

from ..answermodel import Answers, SecretStore
from ..changes import Change, DeleteFile, RunCommand, WriteFile
from ..facts import (
    DRIVER_UNIT,
    MONITOR_UNIT,
    UNIT_DIR,
    UNIT_PATHS,
    UPSD_UNIT,
    unit_enabled,
)
from ..runner import cmd
from .context import Context, dir_change, file_change, under

ENUMERATOR_UNIT = "nut-driver-enumerator.service"
DROPIN = "enphase-monitor.conf"  # the name packaging/systemd/nut-driver-restart.conf suggests
DRIVER_DROPIN = (
    "# Written by enphase-setup (as packaging/systemd/nut-driver-restart.conf): when the gateway\n"
    "# cannot be reached, enphase-monitor renames the port file away and dummy-ups exits;\n"
    "# restart it every 3 s instead of 15 s, so NUT sees the gateway again ~5 s after it is back.\n"
    "[Service]\n"
    "RestartSec=3s\n"
)


def dropin_changes(ctx: Context, unit: str, text: str, purpose: str) -> list[Change]:
    """The directory and file of a drop-in for one unit instance."""
    directory = UNIT_DIR / f"{unit}.d"
    return [c for c in (
        dir_change(ctx, directory, 0o755, ("root", "root"), "systemd drop-in directory"),
        file_change(ctx, directory / DROPIN, text, mode=0o644, owner=("root", "root"),
                    purpose=purpose),
    ) if c is not None]


def unit_text(ctx: Context, template: str) -> str | None:
    """The template unit that systemd uses (/etc first), None when none is installed."""
    for directory in UNIT_PATHS:
        # root's own unit directories: a unit may be a symlink (an alias), so it is followed
        text = ctx.system.read_text(PurePosixPath(directory) / template, follow=True)
        if text is not None:
            return text
    return None


def unit_installed(ctx: Context, template: str) -> bool:
    """The template unit file exists in one of systemd's unit directories."""
    return any(ctx.system.exists(PurePosixPath(d) / template) for d in UNIT_PATHS)


def monitor_dropin(ans: Answers, ctx: Context) -> str | None:
    """A drop-in for enphase-monitor@<ups> only when its unit does not load the credential.

    The packaged unit loads `enphase-password` and `enphase-token` by credential-store name
    (`enphase-monitor-%i.password` in /etc/credstore.encrypted), which a missing file does not
    stop; a unit written by hand may not. The drop-in uses the same name form, never an
    absolute path (a missing absolute one fails the start with status 243/CREDENTIALS).
    """
    if ans.secret_store is not SecretStore.CREDENTIAL:
        return None
    kind, name = ("token", TOKEN_CREDENTIAL) if ans.use_token else ("password",
                                                                    PASSWORD_CREDENTIAL)
    unit = unit_text(ctx, "enphase-monitor@.service")
    if unit is None or f"LoadCredentialEncrypted={name}:" in unit:
        return None
    return (f"# Written by enphase-setup: the unit does not load the {kind} credential itself.\n"
            f"[Service]\nLoadCredentialEncrypted={name}:{credstore_file('%i', kind)}\n")


def monitor_dropin_changes(ans: Answers, ctx: Context) -> list[Change]:
    """The monitor's drop-in, when one is needed."""
    text = monitor_dropin(ans, ctx)
    if text is None:
        return []
    return dropin_changes(ctx, MONITOR_UNIT.format(ups=ans.ups), text,
                          f"load the {'token' if ans.use_token else 'password'} credential")


def unit_notes(ctx: Context, units: list[str]) -> list[str]:
    """What the review should say about systemd before enabling `units`."""
    notes = []
    if not ctx.live:
        notes.append("systemd is not running here: the units are enabled, not started;"
                     f" start them with: systemctl start {' '.join(units)}")
    if not unit_installed(ctx, "enphase-monitor@.service"):
        notes.append("enphase-monitor@.service is not installed: install the package's"
                     " systemd unit first, or enabling it fails")
    if not unit_installed(ctx, "nut-driver@.service"):
        notes.append("nut-driver@.service is not installed (NUT without its systemd"
                     " units?): enabling it fails; install nut-server")
    return notes


def service_changes(ctx: Context, ups: str, changed: bool) -> list[Change]:
    """Enable (and start) the monitor and the driver, or restart them after an edit."""
    units = [MONITOR_UNIT.format(ups=ups), DRIVER_UNIT.format(ups=ups)]
    off = [u for u in units if not unit_enabled(ctx.system, u)]  # only these are enabled
    now = ["--now"] if ctx.live else []
    if off:
        verb = "Enable and start" if now else "Enable"
        restart = [u for u in units if u not in off]
        return [*enumerator_wait(ctx),
                RunCommand(cmd("systemctl", "enable", *now, *off),
                           why="the monitor starts first (ordered before the driver)",
                           undo=cmd("systemctl", "disable", *now, *off),
                           name=f"{verb} {' and '.join(off)}"),
                *([RunCommand(cmd("systemctl", "restart", *restart), why="use the new settings",
                              name=f"Restart {' and '.join(restart)}")]
                  if restart and changed and ctx.live else [])]
    if changed and ctx.live:
        return [*enumerator_wait(ctx),
                RunCommand(cmd("systemctl", "restart", *units),
                           why="use the new settings", name=f"Restart {' and '.join(units)}")]
    return []


def enumerator_wait(ctx: Context) -> list[Change]:
    """Let NUT's enumerator finish with the edited ups.conf before the driver is started.

    Its .path unit starts it on every ups.conf change; for a changed section it disables and
    re-adds the driver instance, which cancels a start of that driver running at the same
    time (seen on Debian 13's NUT 2.8.1: `systemctl enable --now` failed, the apply rolled
    back). `systemctl start` of the oneshot waits for a run already under way.
    """
    if not ctx.live or not unit_installed(ctx, ENUMERATOR_UNIT):
        return []
    return [RunCommand(cmd("systemctl", "start", ENUMERATOR_UNIT),
                       why="NUT's enumerator applies the new ups.conf first (it re-adds the"
                           " driver instance)", name=f"Wait for {ENUMERATOR_UNIT}")]


def upsd_changes(ctx: Context, mode_changed: bool, conf_changed: bool) -> list[Change]:
    """Make upsd know the UPS: enable (and start) it when its unit is not enabled (MODE was
    none, or MODE=standalone with nut-server disabled, as Fedora ships it), else reload it."""
    if not ctx.systemctl:
        return []
    if not unit_enabled(ctx.system, UPSD_UNIT):
        now = ["--now"] if ctx.live else []
        why = ("upsd was off (MODE=none)" if mode_changed else
               f"nut.conf says MODE={ctx.facts.nut_mode} but {UPSD_UNIT} is not enabled")
        return [RunCommand(cmd("systemctl", "enable", *now, UPSD_UNIT),
                           why=f"{why}; it serves the UPS to upsc and upsmon",
                           undo=cmd("systemctl", "disable", *now, UPSD_UNIT),
                           name=f"{'Enable and start' if now else 'Enable'} upsd ({UPSD_UNIT})")]
    if (conf_changed or mode_changed) and ctx.live:
        return [RunCommand(cmd("systemctl", "try-reload-or-restart", UPSD_UNIT),
                           why="upsd reads the new ups.conf section",
                           name=f"Reload upsd ({UPSD_UNIT})")]
    return []


def daemon_reload(ctx: Context, changes: list[Change]) -> Change | None:
    """`systemctl daemon-reload` when a unit drop-in changed."""
    touched = any(isinstance(c, WriteFile | DeleteFile) and under(c.path, UNIT_DIR)
                  for c in changes)
    if touched and ctx.live:
        return RunCommand(cmd("systemctl", "daemon-reload"), why="systemd reads the drop-ins",
                          name="Reload systemd")
    return None
