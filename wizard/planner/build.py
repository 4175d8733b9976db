"""The plans of a set-up (or an edit) and of a re-authentication."""

from __future__ import annotations

from enphase_monitor.tokeninfo import TokenInfo

from .. import daemonconf, shown
from ..answermodel import Answers
from ..changes import RunCommand
from ..facts import DRIVER_UNIT, MONITOR_UNIT
from ..plan import Plan
from ..runner import cmd
from .context import Context, dir_change, file_change, under
from .nut import nut_problem, nutconf_mode_change, port_change, port_label, upsconf_change
from .secret import SECRET_STORE_KEYS, config_values, secret_changes, token_change
from .units import (
    DRIVER_DROPIN,
    daemon_reload,
    dropin_changes,
    monitor_dropin_changes,
    service_changes,
    unit_notes,
    upsd_changes,
)


def next_steps(ups: str) -> list[str]:
    """What to do once the UPS is up."""
    return [
        f"Check it: upsc {ups}@localhost   and   enphase-monitor -v -s {ups}",
        f"On this host, upsmon.conf: MONITOR {ups}@localhost 1 <upsmon-user> <password> primary",
        f"On other hosts: MONITOR {ups}@<this host> 1 <upsmon-user> <password> secondary"
        " (upsd.conf needs LISTEN on the network, upsd.users the user with upsmon secondary)",
        "Synology and other NAS: UPS name 'ups', user monuser, password secret (their defaults)",
    ]


def _files(plan: Plan, ans: Answers, ctx: Context, token: TokenInfo | None) -> None:
    """The state directory, port file, token cache, SELinux label, secret and config."""
    label, selinux = port_label(ans, ctx)
    if not under(ans.state_dir, ctx.nut.confdir):
        plan.add(dir_change(ctx, ans.state_dir, 0o750, ctx.daemon,
                            "the daemon's state: port file and token cache", label))
    plan.add(port_change(ans, ctx, label))
    plan.add(token_change(ans, ctx, token))
    semanage = any(isinstance(c, RunCommand) and "semanage" in c.command.argv for c in selinux)
    if plan.changes or semanage:
        for change in selinux:
            plan.add(change)
    for change in secret_changes(ans, ctx):
        plan.add(change)
    config = ctx.nut.config_file(ans.ups)
    text = daemonconf.render(ans.ups, config_values(ans), ctx.system.read_text(config))
    owner, mode = ctx.config_owner
    written = file_change(ctx, config, text, mode=mode, owner=owner, masked=True,
                         purpose="enphase-monitor config")
    plan.add(written)
    config_note(plan, ctx, written is not None, owner, mode)


def config_note(plan: Plan, ctx: Context, rewritten: bool, owner: tuple[str, str],
                mode: int) -> None:
    """Say when the daemon refuses the current config (its one line, never its contents),
    and whether this plan's rewrite fixes it."""
    problem = ctx.existing.config_problem
    if problem is None:
        return
    config = ctx.nut.config_file(ctx.existing.ups)
    if rewritten and problem.fixed_by_rewrite:
        fix = f"this plan rewrites it {mode:04o} {owner[0]}:{owner[1]}, which fixes that"
    else:
        fix = "this plan does not fix that: do it first"
    plan.notes.append(f"the daemon refuses its config {config} as it is now ({problem.line});"
                      f" {fix}")


def build_setup(ans: Answers, ctx: Context, token: TokenInfo | None = None) -> Plan:
    """Everything to set up (or edit) one UPS.

    Args:
        ans: the checked answers.
        ctx: the host.
        token: the token the live check fetched (saved as the token cache).
    """
    verb = "Edit" if ctx.existing.configured else "Set up"
    plan = Plan(f"{verb} UPS '{ans.ups}' (Enphase gateway {shown.short(ans.serial)} at"
                f" {ans.envoy_host})")
    problem = nut_problem(ctx.facts)
    if problem:
        plan.notes.append(problem)
    if not ctx.system.is_root and not ctx.system.fake_root:
        plan.notes.append("not running as root: this is a dry run only")
    _files(plan, ans, ctx, token)
    conf_change = upsconf_change(ans, ctx)
    plan.add(conf_change)
    mode_change = nutconf_mode_change(ctx, ans.ups)
    plan.add(mode_change)
    if ctx.systemctl:
        for change in monitor_dropin_changes(ans, ctx):
            plan.add(change)
        for change in dropin_changes(ctx, DRIVER_UNIT.format(ups=ans.ups), DRIVER_DROPIN,
                                     "restart dummy-ups sooner after nocomms"):
            plan.add(change)
        plan.add(daemon_reload(ctx, plan.changes))
        plan.notes.extend(unit_notes(ctx, [MONITOR_UNIT.format(ups=ans.ups),
                                           DRIVER_UNIT.format(ups=ans.ups)]))
        for change in service_changes(ctx, ans.ups, bool(plan.changes)):
            plan.add(change)
        for change in upsd_changes(ctx, mode_change is not None, conf_change is not None):
            plan.add(change)
    plan.next_steps = next_steps(ans.ups)
    return plan


def build_reauth(ans: Answers, ctx: Context, token: TokenInfo | None = None) -> Plan:
    """Only the credentials: the secret, the config's secret keys, the token cache."""
    plan = Plan(f"Renew the credentials of UPS '{ans.ups}'")
    for change in secret_changes(ans, ctx):
        plan.add(change)
    config = ctx.nut.config_file(ans.ups)
    old = ctx.system.read_text(config)
    keys = {k: v for k, v in config_values(ans).items() if k in (*SECRET_STORE_KEYS, "USERNAME")}
    owner, mode = ctx.config_owner
    written = file_change(ctx, config, daemonconf.render(ans.ups, keys, old), mode=mode,
                         owner=owner, masked=True, purpose="enphase-monitor config")
    plan.add(written)
    config_note(plan, ctx, written is not None, owner, mode)
    plan.add(token_change(ans, ctx, token))
    if ctx.systemctl:
        for change in monitor_dropin_changes(ans, ctx):
            plan.add(change)
        plan.add(daemon_reload(ctx, plan.changes))
        if ctx.live and plan.changes:
            unit = MONITOR_UNIT.format(ups=ans.ups)
            plan.add(RunCommand(cmd("systemctl", "try-restart", unit),
                                why="the daemon reads the new credentials",
                                name=f"Restart {unit}"))
    plan.next_steps = [f"Check it: enphase-monitor -v -s {ans.ups}"]
    return plan
