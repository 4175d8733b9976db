"""What the wizard finds on the host: where NUT lives and whom it runs as, SELinux, systemd.

Also the names and places of the outside world the plan uses (units, credential store, the
daemon's state directory). Everything here only reads.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import PurePosixPath

from enphase_monitor import paths

from .system import System
from .userkeyring import KeyringStatus, detect_keyring

STATE_DIR = PurePosixPath(paths.PACKAGED_STATE_DIR)
CREDSTORE = PurePosixPath("/etc/credstore.encrypted")
UNIT_DIR = PurePosixPath("/etc/systemd/system")
UNIT_PATHS = ("/etc/systemd/system", "/usr/lib/systemd/system", "/lib/systemd/system")
MONITOR_UNIT = "enphase-monitor@{ups}.service"
DRIVER_UNIT = "nut-driver@{ups}.service"
UPSD_UNIT = "nut-server.service"
MIN_SYSTEMD_CREDS = 250  # LoadCredentialEncrypted= and systemd-creds
DUMMY_UPS_PATHS = ("/lib/nut/dummy-ups", "/usr/lib/nut/dummy-ups", "/usr/libexec/nut/dummy-ups",
                   "/usr/sbin/dummy-ups", "/usr/bin/dummy-ups")


# --------------------------------------------------------------------------- NUT

@dataclass(frozen=True)
class NutLayout:
    """Where NUT keeps its config and whom its drivers run as."""

    confdir: PurePosixPath
    user: str
    group: str
    flavour: str  # "Debian", "Fedora" or "NUT_CONFPATH"

    @property
    def ups_conf(self) -> PurePosixPath:
        """ups.conf."""
        return self.confdir / "ups.conf"

    @property
    def nut_conf(self) -> PurePosixPath:
        """nut.conf (MODE=)."""
        return self.confdir / "nut.conf"

    def config_file(self, ups: str) -> PurePosixPath:
        """The daemon's config for one UPS (enphase_monitor.paths' rule)."""
        return self.confdir / paths.config_name(ups)


def detect_nut(system: System) -> NutLayout:
    """NUT_CONFPATH, else Fedora's /etc/ups if present, else Debian's /etc/nut.

    The group is the one files shared with the daemon get: the nut user's primary group when
    the account exists, else the distribution's default (nut on Debian, dialout on Fedora).
    """
    found = paths.config_dir(system.env, system.root)
    confdir = PurePosixPath(found)
    if any(system.env.get(key) for key in paths.CONFIG_DIR_ENV):
        flavour, default_group = "NUT_CONFPATH", "nut"
    elif found == paths.FEDORA_CONFIG_DIR:
        flavour, default_group = "Fedora", "dialout"
    else:
        flavour, default_group = "Debian", "nut"
    account = system.accounts.user("nut")
    group = (system.accounts.group_name(account.gid) if account else None) or default_group
    return NutLayout(confdir, "nut", group, flavour)


def dummy_ups_path(system: System) -> PurePosixPath | None:
    """Where NUT's dummy-ups driver is installed, if it is."""
    for candidate in DUMMY_UPS_PATHS:
        if system.path(candidate).is_file():
            return PurePosixPath(candidate)
    return None


_MODE = re.compile(r"^\s*MODE\s*=\s*[\"']?([A-Za-z]*)[\"']?\s*(?:#.*)?$")


def nut_mode(text: str | None) -> str | None:
    """MODE= from nut.conf (None when unset or no file)."""
    mode = None
    for line in (text or "").splitlines():
        m = _MODE.match(line)
        if m:
            mode = m.group(1)
    return mode


# --------------------------------------------------------------------------- SELinux, systemd

@dataclass(frozen=True)
class SELinux:
    """SELinux on this host and what labels the port file's directory."""

    enabled: bool = False
    enforcing: bool = False
    policy_module: bool = False  # the project's module (labels /var/lib/enphase-monitor)
    fcontexts: str = ""  # `semanage fcontext -l -C`: local customisations

    def has_fcontext(self, pattern: str) -> bool:
        """Whether a local fcontext rule for this pattern exists already."""
        return any(line.split()[:1] == [pattern] for line in self.fcontexts.splitlines())


def detect_selinux(system: System) -> SELinux:
    """Read /sys/fs/selinux and ask semodule/semanage (read-only)."""
    enforce = system.path("/sys/fs/selinux/enforce")
    if not enforce.exists():
        return SELinux()
    try:
        enforcing = enforce.read_text().strip() == "1"
    except OSError:
        enforcing = False
    modules = system.query("semodule", "-l")
    module = modules.ok and any(line.split()[:1] and line.split()[0].startswith("enphase")
                                for line in modules.stdout.splitlines())
    local = system.query("semanage", "fcontext", "-l", "-C")
    return SELinux(True, enforcing, module, local.stdout if local.ok else "")


@dataclass(frozen=True)
class Systemd:
    """systemd on this host (under --root: in the fake root, its version unknown)."""

    version: int | None = None
    running: bool = False  # PID 1 (else: enable only, no --now)
    creds_tool: bool = False
    present: bool = False  # systemctl answered, or (--root) the fake root has systemd

    @property
    def encrypted_credentials(self) -> bool:
        """LoadCredentialEncrypted= and systemd-creds are available (>= 250; assumed when
        the version cannot be asked, as under --root)."""
        if self.version is None:
            return self.creds_tool and self.present
        return self.creds_tool and self.version >= MIN_SYSTEMD_CREDS


def detect_systemd(system: System) -> Systemd:
    """`systemctl --version`, /run/systemd/system and systemd-creds.

    Under a fake root no command runs: systemd is there when the root has systemctl or a
    unit directory, and its version is unknown.
    """
    answer = system.query("systemctl", "--version")
    m = re.match(r"systemd (\d+)", answer.stdout) if answer.ok else None
    version = int(m.group(1)) if m else None
    present = version is not None or (system.fake_root and (
        system.which("systemctl") is not None or any(system.is_dir(d) for d in UNIT_PATHS)))
    return Systemd(
        version=version,
        running=system.is_dir("/run/systemd/system"),
        creds_tool=system.which("systemd-creds") is not None,
        present=present,
    )


def unit_enabled(system: System, unit: str) -> bool:
    """`systemctl is-enabled` says enabled (or an alias of it)."""
    answer = system.query("systemctl", "is-enabled", unit)
    return answer.ok and answer.stdout.strip() in ("enabled", "enabled-runtime", "alias")


def unit_active(system: System, unit: str) -> bool:
    """`systemctl is-active` says active."""
    answer = system.query("systemctl", "is-active", unit)
    return answer.ok and answer.stdout.strip() == "active"


# --------------------------------------------------------------------------- all facts

@dataclass
class Facts:
    """What the wizard found on the host (detected once; the keyring on demand)."""

    system: System
    nut: NutLayout
    dummy_ups: PurePosixPath | None
    nut_mode: str | None
    selinux: SELinux
    systemd: Systemd
    _keyring: KeyringStatus | None = None

    def keyring(self) -> KeyringStatus:
        """The keyring's status for the daemon's user (asked once)."""
        if self._keyring is None:
            self._keyring = detect_keyring(self.system, self.nut.user)
        return self._keyring

    def summary(self) -> list[tuple[str, str]]:
        """(what, found) pairs for the screens and the dry-run output."""
        sd = self.systemd
        if not sd.present:
            systemd = "not found"
        else:
            version = f"{sd.version}" if sd.version else "version unknown (--root)"
            systemd = version + ("" if sd.running else " (not running: enable only)")
        se = self.selinux
        if not se.enabled:
            selinux = "not enabled"
        else:
            selinux = ("enforcing" if se.enforcing else "permissive") + (
                ", enphase-monitor policy module installed" if se.policy_module else "")
        return [
            ("NUT config", f"{self.nut.confdir} ({self.nut.flavour})"),
            ("NUT user/group", f"{self.nut.user}/{self.nut.group}"),
            ("dummy-ups", str(self.dummy_ups or "not installed (install nut-server)")),
            ("nut.conf MODE", (self.nut_mode or "unset") + (
                ": upsd is off, will be set to standalone"
                if self.nut_mode in (None, "", "none") else "")),
            ("systemd", systemd),
            ("SELinux", selinux),
        ]


def detect_host(system: System) -> Facts:
    """Look at the host (read-only)."""
    layout = detect_nut(system)
    return Facts(
        system=system,
        nut=layout,
        dummy_ups=dummy_ups_path(system),
        nut_mode=nut_mode(system.read_text(layout.nut_conf)),
        selinux=detect_selinux(system),
        systemd=detect_systemd(system),
    )
