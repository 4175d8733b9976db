"""Answers -> a Plan: set up, re-authenticate, or remove one UPS.

Every builder only reads the host (through `Context`); the returned Plan's changes do the
writing. Files whose content, mode and owner are already right produce no change, so a re-run
with the same answers plans nothing.
"""

from __future__ import annotations

import stat
import sys
import time
from dataclasses import dataclass
from pathlib import PurePosixPath

from enphase_monitor.enlighten import TokenInfo
from enphase_monitor.nutvars import RUNTIME_LOW

from . import daemonconf
from .answers import (
    CHARGE_LOW,
    Answers,
    Existing,
    SecretStore,
    credential_path,
    existing_upses,
)
from .changes import Change, DeleteFile, MakeDir, Plan, RunCommand, WriteFile
from .nutconf import UpsConf
from .system import (
    CREDSTORE,
    DRIVER_UNIT,
    KEYRING_DELETE,
    KEYRING_SERVICE,
    KEYRING_SET,
    MONITOR_UNIT,
    PASSWORD_CREDENTIAL,
    STATE_DIR,
    TOKEN_CREDENTIAL,
    UNIT_DIR,
    UPSD_UNIT,
    Facts,
    NutLayout,
    System,
    as_user,
    cmd,
    unit_active,
    unit_enabled,
)

DROPIN = "enphase-monitor.conf"  # the name packaging/systemd/nut-driver-restart.conf suggests
UNIT_PATHS = ("/etc/systemd/system", "/usr/lib/systemd/system", "/lib/systemd/system")
SECTION_COMMENT = "enphase-monitor: Enphase IQ Gateway {serial} (set up by enphase-setup)"
PORT_HEADER = (
    "# dummy-ups port file of UPS {ups}: enphase-monitor@{ups} keeps it up to date.\n"
    "# Other lines are kept; battery.charge.low is the low-battery threshold in %.\n"
)
SECRET_KEYS = ("PASSWORD", "TOKEN", "PASSWORD_KEYRING", "PASSWORD_CREDENTIAL", "TOKEN_CREDENTIAL")


@dataclass
class Context:
    """The host as the builders see it."""

    system: System
    facts: Facts
    existing: Existing

    @property
    def nut(self) -> NutLayout:
        """NUT's layout."""
        return self.facts.nut

    @property
    def daemon(self) -> tuple[str, str]:
        """The daemon's user and group (User=nut in the unit)."""
        return self.nut.user, self.nut.group

    @property
    def config_owner(self) -> tuple[tuple[str, str], int]:
        """Owner and mode of the config: readable by the daemon's user only.

        root:nut 0640 where nut is a private group (Debian); where the daemon's group is
        shared (Fedora's dialout) the file is the daemon user's own, 0600.
        """
        user, group = self.daemon
        if group == user:
            return ("root", group), 0o640
        return (user, group), 0o600

    @property
    def systemctl(self) -> bool:
        """systemd is here (units can be enabled)."""
        return self.facts.systemd.present

    @property
    def live(self) -> bool:
        """systemd runs as PID 1 (units can be started and reloaded)."""
        return self.facts.systemd.present and self.facts.systemd.running


# --------------------------------------------------------------------------- small helpers

def _meta_ok(ctx: Context, path: PurePosixPath, mode: int | None,
             owner: tuple[str, str] | None) -> bool:
    """The file already has this mode and (when we are root) owner."""
    if mode is None:
        return True
    try:
        st = ctx.system.path(path).stat()
    except OSError:
        return False
    if stat.S_IMODE(st.st_mode) != mode:
        return False
    if owner is None or not ctx.system.is_root:
        return True
    account, gid = ctx.system.user(owner[0]), ctx.system.group(owner[1])
    return account is not None and (st.st_uid, st.st_gid) == (account.uid, gid)


def write(ctx: Context, path: PurePosixPath, text: str, *, mode: int | None,
          owner: tuple[str, str] | None, purpose: str, label: str = "",
          secret: bool = False, masked: bool = False) -> WriteFile | None:
    """A WriteFile, or None when the file is already exactly so.

    Args:
        secret: the whole content is secret (a token): previews show a placeholder.
        masked: the content is a config file: previews mask its secret keys.
    """
    old = ctx.system.read_text(path)
    if old == text and _meta_ok(ctx, path, mode, owner):
        return None
    shown = old_shown = None
    if secret:
        shown, old_shown = "<hidden: the new token>\n", "<hidden: the old token>\n"
    elif masked:
        shown = daemonconf.mask(text, old)
        old_shown = daemonconf.mask(old) if old is not None else None
    if mode is None and old is None:
        mode = 0o640
    return WriteFile(path, text, old, mode=mode, owner=owner, shown=shown, old_shown=old_shown,
                     label=label, purpose=purpose, system=ctx.system)


def ensure_dir(ctx: Context, path: PurePosixPath, mode: int, owner: tuple[str, str],
               purpose: str, label: str = "") -> MakeDir | None:
    """A MakeDir, or None when the directory is already so."""
    if ctx.system.path(path).is_dir() and _meta_ok(ctx, path, mode, owner):
        return None
    return MakeDir(path, mode, owner, label=label, purpose=purpose, system=ctx.system)


def _under(path: PurePosixPath, directory: PurePosixPath) -> bool:
    return path == directory or directory in path.parents


# --------------------------------------------------------------------------- the port file

def port_text(old: str | None, ups: str, charge_low: int, runtime_low: int = 0) -> str:
    """The port file: a new one, or the old one with its low-battery lines set.

    battery.charge.low is always written; battery.runtime.low (seconds) only when above 0, and
    an old one is removed when 0 (the user turned the rule off).
    """
    text = PORT_HEADER.format(ups=ups) if old is None else old
    text = _port_line(text, CHARGE_LOW, str(charge_low))
    return _port_line(text, RUNTIME_LOW, str(runtime_low) if runtime_low > 0 else None)


def _port_line(text: str, name: str, value: str | None) -> str:
    """`text` with the line of variable `name` set to `value` (None: removed), else appended."""
    lines = text.splitlines(keepends=True)
    for index, current in enumerate(lines):
        var, colon, _ = current.partition(":")
        if colon and var.strip() == name:
            ending = current[len(current.rstrip("\r\n")):] or "\n"
            lines[index] = "" if value is None else f"{name}: {value}{ending}"
            return "".join(lines)
    if value is None:
        return text
    if lines and not lines[-1].endswith("\n"):
        lines[-1] += "\n"
    return "".join(lines) + f"{name}: {value}\n"


def port_label(ans: Answers, ctx: Context) -> tuple[str, list[Change]]:
    """The SELinux label the port file's directory gets, and the commands that give it.

    NUT's drivers run as nut_upsdrvctl_t, which may read nut_conf_t but not var_lib_t
    (nut.md 6): the directory is labelled by the project's policy module when installed,
    else with `semanage fcontext` + `restorecon` (persistent: survives relabels and reboots).
    """
    se = ctx.facts.selinux
    directory = ans.state_dir
    if not se.enabled:
        return "", []
    if _under(directory, ctx.nut.confdir):
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


# --------------------------------------------------------------------------- secrets

def config_values(ans: Answers) -> dict[str, str | None]:
    """The config keys the wizard manages (None: the key is removed)."""
    store = ans.secret_store
    values: dict[str, str | None] = {
        "UPS": ans.ups,
        "USERNAME": ans.username or None,
        "SERIAL": ans.serial,
        "ENVOY_HOST": ans.envoy_host,
        "STATE_DIR": str(ans.state_dir),
        "PORT_FILE": str(ans.port_path),
        "POLLFREQ": str(ans.pollfreq),
        "GATEWAY_FINGERPRINT": ans.gateway_fingerprint if ans.pin_certificate else None,
        "ENPHASE_LOGIN": ans.enphase_login or None,
        "ENPHASE_TOKENS": ans.enphase_tokens or None,
        "CLOUD_CA_FILE": ans.cloud_ca_file or None,
    }
    values.update(secret_values(ans))
    if ans.keep_secret:
        for key in ("PASSWORD", "TOKEN"):
            values.pop(key, None)
    if store is SecretStore.CREDENTIAL and not ans.username:
        values.pop("USERNAME")
    return values


def secret_values(ans: Answers) -> dict[str, str | None]:
    """The config keys that say where the secret is."""
    store, token = ans.secret_store, ans.use_token
    in_config = store is SecretStore.CONFIG or (store is SecretStore.KEYRING and token)
    return {
        "PASSWORD": ans.password if in_config and not token else None,
        "TOKEN": ans.token if in_config and token else None,
        "PASSWORD_KEYRING": "yes" if store is SecretStore.KEYRING and not token else None,
        "PASSWORD_CREDENTIAL": PASSWORD_CREDENTIAL
        if store is SecretStore.CREDENTIAL and not token else None,
        "TOKEN_CREDENTIAL": TOKEN_CREDENTIAL if store is SecretStore.CREDENTIAL and token else None,
    }


def secret_changes(ans: Answers, ctx: Context) -> list[Change]:
    """Store the secret: systemd-creds encrypt, or the daemon user's keyring (config: none)."""
    changes: list[Change | None] = []
    kinds = {"password": PASSWORD_CREDENTIAL, "token": TOKEN_CREDENTIAL}
    kind = "token" if ans.use_token else "password"
    for other, _ in kinds.items():
        stale = credential_path(ans.ups, other)
        leaving = ans.secret_store is not SecretStore.CREDENTIAL or other != kind
        if leaving and ctx.system.exists(stale):
            changes.append(DeleteFile(stale, "credential no longer used"))
    if ans.keep_secret:
        return [c for c in changes if c is not None]
    if ans.secret_store is SecretStore.CREDENTIAL:
        path = credential_path(ans.ups, kind)
        changes.append(ensure_dir(ctx, CREDSTORE, 0o700, ("root", "root"),
                                  "systemd's encrypted credential store"))
        changes.append(RunCommand(
            cmd("systemd-creds", "encrypt", f"--name={kinds[kind]}", "-", str(path),
                stdin=ans.secret()),
            why=f"encrypt the {kind} for this host; the unit loads it from the credential"
                f" store (LoadCredentialEncrypted={kinds[kind]}:enphase-monitor-%i.{kind})",
            writes=path, mode=0o600, name=f"Encrypt the {kind} with systemd-creds"))
    elif ans.secret_store is SecretStore.KEYRING and not ans.use_token:
        user = ctx.nut.user
        changes.append(RunCommand(
            cmd(*as_user(user, sys.executable, "-c", KEYRING_SET, KEYRING_SERVICE,
                         ans.username), stdin=ans.password),
            why=f"store the password in user {user}'s keyring (service {KEYRING_SERVICE})",
            undo=cmd(*as_user(user, sys.executable, "-c", KEYRING_DELETE, KEYRING_SERVICE,
                              ans.username)),
            name=f"Store the password in {user}'s keyring"))
    return [c for c in changes if c is not None]


def token_change(ans: Answers, ctx: Context, token: TokenInfo | None) -> Change | None:
    """Save the token the live check fetched, so the daemon starts without a cloud login."""
    if token is None or ans.use_token:
        return None
    path = ans.state_dir / f"enphase-{ans.ups}.token"
    change = write(ctx, path, token.token, mode=0o600, owner=ctx.daemon, secret=True,
                   purpose=f"token cache: {token.describe(time.time())}")
    return change


# --------------------------------------------------------------------------- systemd

def dropin_changes(ctx: Context, unit: str, text: str, purpose: str) -> list[Change]:
    """The directory and file of a drop-in for one unit instance."""
    directory = UNIT_DIR / f"{unit}.d"
    return [c for c in (
        ensure_dir(ctx, directory, 0o755, ("root", "root"), "systemd drop-in directory"),
        write(ctx, directory / DROPIN, text, mode=0o644, owner=("root", "root"), purpose=purpose),
    ) if c is not None]


def unit_text(ctx: Context, template: str) -> str | None:
    """The template unit that systemd uses (/etc first), None when none is installed."""
    for directory in UNIT_PATHS:
        text = ctx.system.read_text(PurePosixPath(directory) / template)
        if text is not None:
            return text
    return None


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
            f"[Service]\nLoadCredentialEncrypted={name}:enphase-monitor-%i.{kind}\n")


def monitor_dropin_changes(ans: Answers, ctx: Context) -> list[Change]:
    """The monitor's drop-in, when one is needed."""
    text = monitor_dropin(ans, ctx)
    if text is None:
        return []
    return dropin_changes(ctx, MONITOR_UNIT.format(ups=ans.ups), text,
                          f"load the {'token' if ans.use_token else 'password'} credential")


DRIVER_DROPIN = (
    "# Written by enphase-setup (as packaging/systemd/nut-driver-restart.conf): when the gateway\n"
    "# cannot be reached, enphase-monitor renames the port file away and dummy-ups exits;\n"
    "# restart it every 3 s instead of 15 s, so NUT sees the gateway again ~5 s after it is back.\n"
    "[Service]\n"
    "RestartSec=3s\n"
)


def unit_installed(ctx: Context, template: str) -> bool:
    """The template unit file exists in one of systemd's unit directories."""
    return any(ctx.system.exists(PurePosixPath(d) / template) for d in UNIT_PATHS)


def service_changes(ctx: Context, ups: str, changed: bool, plan: Plan) -> list[Change]:
    """Enable (and start) the monitor and the driver, or restart them after an edit."""
    units = [MONITOR_UNIT.format(ups=ups), DRIVER_UNIT.format(ups=ups)]
    enabled = all(unit_enabled(ctx.system, u) for u in units)
    now = ["--now"] if ctx.live else []
    if not ctx.live:
        plan.notes.append("systemd is not running here: the units are enabled, not started;"
                          f" start them with: systemctl start {' '.join(units)}")
    if not unit_installed(ctx, "enphase-monitor@.service"):
        plan.notes.append("enphase-monitor@.service is not installed: install the package's"
                          " systemd unit first, or enabling it fails")
    if not unit_installed(ctx, "nut-driver@.service"):
        plan.notes.append("nut-driver@.service is not installed (NUT without its systemd"
                          " units?): enabling it fails; install nut-server")
    if not enabled:
        verb = "Enable and start" if now else "Enable"
        return [RunCommand(cmd("systemctl", "enable", *now, *units),
                           why="the monitor starts first (ordered before the driver)",
                           undo=cmd("systemctl", "disable", *now, *units),
                           name=f"{verb} {' and '.join(units)}")]
    if changed and ctx.live:
        return [RunCommand(cmd("systemctl", "restart", *units),
                           why="use the new settings", name=f"Restart {' and '.join(units)}")]
    return []


def upsd_changes(ctx: Context, mode_changed: bool, conf_changed: bool) -> list[Change]:
    """Make upsd know the UPS: start it if MODE was none, else reload it."""
    if not ctx.systemctl:
        return []
    if mode_changed:
        now = ["--now"] if ctx.live else []
        return [RunCommand(cmd("systemctl", "enable", *now, UPSD_UNIT),
                           why="upsd was off (MODE=none); it serves the UPS to upsc and upsmon",
                           undo=cmd("systemctl", "disable", *now, UPSD_UNIT),
                           name=f"{'Enable and start' if now else 'Enable'} upsd ({UPSD_UNIT})")]
    if conf_changed and ctx.live:
        return [RunCommand(cmd("systemctl", "try-reload-or-restart", UPSD_UNIT),
                           why="upsd reads the new ups.conf section",
                           name=f"Reload upsd ({UPSD_UNIT})")]
    return []


def daemon_reload(ctx: Context, changes: list[Change]) -> Change | None:
    """`systemctl daemon-reload` when a unit drop-in changed."""
    touched = any(isinstance(c, WriteFile | DeleteFile) and _under(c.path, UNIT_DIR)
                  for c in changes)
    if touched and ctx.live:
        return RunCommand(cmd("systemctl", "daemon-reload"), why="systemd reads the drop-ins",
                          name="Reload systemd")
    return None


# --------------------------------------------------------------------------- NUT files

def upsconf_change(ans: Answers, ctx: Context) -> WriteFile | None:
    """The UPS's section in ups.conf (edited in place; the rest stays byte-identical)."""
    old = ctx.system.read_text(ctx.nut.ups_conf)
    conf = UpsConf(old or "")
    values = {"driver": "dummy-ups", "port": str(ans.port_path), "mode": "dummy-loop",
              "desc": ans.description}
    new = conf.with_section(ans.ups, values, SECTION_COMMENT.format(serial=ans.serial)).text()
    return write(ctx, ctx.nut.ups_conf, new, mode=None if old is not None else 0o640,
                 owner=None if old is not None else ("root", ctx.nut.group),
                 purpose=f"NUT section [{ans.ups}]")


def nutconf_mode_change(ctx: Context) -> WriteFile | None:
    """MODE=standalone in nut.conf when NUT is off (MODE=none or unset)."""
    if ctx.facts.nut_mode not in (None, "", "none"):
        return None
    old = ctx.system.read_text(ctx.nut.nut_conf)
    new = daemonconf.edit(old or "", {"MODE": "standalone"})
    return write(ctx, ctx.nut.nut_conf, new, mode=None if old is not None else 0o640,
                 owner=None if old is not None else ("root", ctx.nut.group),
                 purpose="start upsd: MODE=standalone")


def section_problem(ans: Answers, conf: UpsConf) -> str | None:
    """Why this UPS name cannot be used (a section for another driver), or None."""
    section = conf.section(ans.ups)
    if section is None:
        return None
    driver = section.settings.get("driver", "")
    if driver and driver != "dummy-ups":
        return (f"ups.conf already has a section [{ans.ups}] for driver {driver}: choose"
                " another name (or remove that section first)")
    return None


def next_steps(ups: str) -> list[str]:
    """What to do once the UPS is up."""
    return [
        f"Check it: upsc {ups}@localhost   and   enphase-monitor -v -s {ups}",
        f"On this host, upsmon.conf: MONITOR {ups}@localhost 1 <upsmon-user> <password> primary",
        f"On other hosts: MONITOR {ups}@<this host> 1 <upsmon-user> <password> secondary"
        " (upsd.conf needs LISTEN on the network, upsd.users the user with upsmon secondary)",
        "Synology and other NAS: UPS name 'ups', user monuser, password secret (their defaults)",
    ]


# --------------------------------------------------------------------------- the builders

def build_setup(ans: Answers, ctx: Context, token: TokenInfo | None = None) -> Plan:
    """Everything to set up (or edit) one UPS.

    Args:
        ans: the checked answers.
        ctx: the host.
        token: the token the live check fetched (saved as the token cache).
    """
    verb = "Edit" if ctx.existing.configured else "Set up"
    plan = Plan(f"{verb} UPS '{ans.ups}' (Enphase gateway {ans.serial} at {ans.envoy_host})")
    owner = ctx.daemon
    label, selinux = port_label(ans, ctx)
    if ctx.facts.dummy_ups is None:
        plan.notes.append("NUT's dummy-ups driver is not installed: install nut-server")
    if not ctx.system.is_root and not ctx.system.fake_root:
        plan.notes.append("not running as root: this is a dry run only")
    if not _under(ans.state_dir, ctx.nut.confdir):
        plan.add(ensure_dir(ctx, ans.state_dir, 0o750, owner,
                            "the daemon's state: port file and token cache", label))
    port_old = ctx.system.read_text(ans.port_path)
    port_new = port_text(port_old, ans.ups, ans.charge_low, ans.runtime_low)
    plan.add(write(ctx, ans.port_path, port_new,
                   mode=None if port_old is not None else 0o640,
                   owner=None if port_old is not None else owner,
                   purpose="dummy-ups port file", label=label))
    plan.add(token_change(ans, ctx, token))
    semanage = any(isinstance(c, RunCommand) and "semanage" in c.command.argv for c in selinux)
    if plan.changes or semanage:
        for change in selinux:
            plan.add(change)
    for change in secret_changes(ans, ctx):
        plan.add(change)
    config = ctx.nut.config_file(ans.ups)
    old = ctx.system.read_text(config)
    text = daemonconf.render(ans.ups, config_values(ans), old)
    owner_group, mode = ctx.config_owner
    plan.add(write(ctx, config, text, mode=mode, owner=owner_group, masked=True,
                   purpose="enphase-monitor config"))
    conf_change = upsconf_change(ans, ctx)
    plan.add(conf_change)
    mode_change = nutconf_mode_change(ctx)
    plan.add(mode_change)
    if ctx.systemctl:
        for change in monitor_dropin_changes(ans, ctx):
            plan.add(change)
        for change in dropin_changes(ctx, DRIVER_UNIT.format(ups=ans.ups), DRIVER_DROPIN,
                                     "restart dummy-ups sooner after nocomms"):
            plan.add(change)
        plan.add(daemon_reload(ctx, plan.changes))
        for change in service_changes(ctx, ans.ups, bool(plan.changes), plan):
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
    keys = {k: v for k, v in config_values(ans).items() if k in (*SECRET_KEYS, "USERNAME")}
    owner_group, mode = ctx.config_owner
    plan.add(write(ctx, config, daemonconf.render(ans.ups, keys, old), mode=mode,
                   owner=owner_group, masked=True, purpose="enphase-monitor config"))
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
    if ctx.systemctl and any(unit_enabled(ctx.system, u) or unit_active(ctx.system, u)
                             for u in units):
        now = ["--now"] if ctx.live else []
        plan.add(RunCommand(cmd("systemctl", "disable", *now, *units),
                            why="stop the monitor and the driver",
                            undo=cmd("systemctl", "enable", *now, *units),
                            name=f"Disable {' and '.join(units)}"))
    old = ctx.system.read_text(ctx.nut.ups_conf)
    if old is not None and UpsConf(old).section(ups) is not None:
        plan.add(write(ctx, ctx.nut.ups_conf, UpsConf(old).without_section(ups).text(),
                       mode=None, owner=None, purpose=f"remove section [{ups}]"))
    for unit in units:
        dropin = UNIT_DIR / f"{unit}.d" / DROPIN
        if ctx.system.exists(dropin):
            plan.add(DeleteFile(dropin, "the wizard's drop-in"))
    for kind in ("password", "token"):
        if ctx.system.exists(credential_path(ups, kind)):
            plan.add(DeleteFile(credential_path(ups, kind), f"encrypted {kind}"))
    values = ctx.existing.values
    if values.get("PASSWORD_KEYRING", "").lower() in ("yes", "1", "true", "on"):
        user = ctx.nut.user
        plan.add(RunCommand(
            cmd(*as_user(user, sys.executable, "-c", KEYRING_DELETE, KEYRING_SERVICE,
                         values.get("USERNAME", ""))),
            why=f"delete the password from user {user}'s keyring (cannot be undone)",
            name=f"Delete the password from {user}'s keyring"))
    state = PurePosixPath(values.get("STATE_DIR") or str(STATE_DIR))
    token_file = values.get("TOKEN_FILE") or f"enphase-{ups}.token"
    token_path = PurePosixPath(token_file) if token_file.startswith("/") else state / token_file
    if ctx.system.exists(token_path):
        plan.add(DeleteFile(token_path, "token cache"))
    port = ctx.existing.section.get("port") or values.get("PORT_FILE", "")
    port_path = PurePosixPath(port) if port.startswith("/") else state / port if port else None
    if delete_port and port_path is not None:
        for path in (port_path, PurePosixPath(f"{port_path}-nocomms")):
            if ctx.system.exists(path):
                plan.add(DeleteFile(path, "port file"))
    config = ctx.nut.config_file(ups)
    if delete_config and ctx.system.exists(config):
        plan.add(DeleteFile(config, "enphase-monitor config"))
    others = [u for u in existing_upses(ctx.system, ctx.facts) if u != ups]
    pattern = f"{STATE_DIR}(/.*)?"
    if delete_port and not others and ctx.facts.selinux.has_fcontext(pattern):
        plan.add(RunCommand(cmd("semanage", "fcontext", "-d", pattern),
                            why="no UPS uses the directory any more",
                            undo=cmd("semanage", "fcontext", "-a", "-t", "nut_conf_t", pattern),
                            name=f"Remove the SELinux file context {pattern}"))
    if ctx.systemctl:
        plan.add(daemon_reload(ctx, plan.changes))
        if ctx.live and old is not None:
            plan.add(RunCommand(cmd("systemctl", "try-reload-or-restart", UPSD_UNIT),
                                why="upsd forgets the UPS", name=f"Reload upsd ({UPSD_UNIT})"))
    if not delete_port and port_path is not None and ctx.system.exists(port_path):
        plan.notes.append(f"the port file {port_path} is kept")
    if not delete_config and ctx.system.exists(config):
        plan.notes.append(f"the config {config} is kept (re-running the wizard reuses it)")
    return plan
