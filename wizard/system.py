"""The host: paths (under an optional fake root), users, NUT layout, SELinux, systemd, secret
stores, and the one object every command goes through.

Nothing here imports Textual. Paths are *logical* (``/etc/nut/ups.conf``) everywhere in the
wizard; ``System.path`` maps them under ``--root`` when one is given.
"""

from __future__ import annotations

import grp
import os
import pwd
import re
import shlex
import shutil
import subprocess
import sys
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Protocol

STATE_DIR = PurePosixPath("/var/lib/enphase-monitor")
CREDSTORE = PurePosixPath("/etc/credstore.encrypted")
UNIT_DIR = PurePosixPath("/etc/systemd/system")
MONITOR_UNIT = "enphase-monitor@{ups}.service"
DRIVER_UNIT = "nut-driver@{ups}.service"
UPSD_UNIT = "nut-server.service"
PASSWORD_CREDENTIAL = "enphase-password"
TOKEN_CREDENTIAL = "enphase-token"
KEYRING_SERVICE = "enphase-monitor"  # as enphase_monitor.credentials
MIN_SYSTEMD_CREDS = 250  # LoadCredentialEncrypted= and systemd-creds (packaging.md 6)
DUMMY_UPS_PATHS = ("/lib/nut/dummy-ups", "/usr/lib/nut/dummy-ups", "/usr/libexec/nut/dummy-ups",
                   "/usr/sbin/dummy-ups", "/usr/bin/dummy-ups")
_BIN_DIRS = ("/usr/local/sbin", "/usr/local/bin", "/usr/sbin", "/usr/bin", "/sbin", "/bin")


# --------------------------------------------------------------------------- commands

@dataclass(frozen=True)
class Command:
    """One command line; `stdin` carries a secret and is never shown or logged."""

    argv: tuple[str, ...]
    stdin: str | None = field(default=None, repr=False)

    def shown(self) -> str:
        """The command as a shell line (secret input replaced by a note)."""
        text = shlex.join(self.argv)
        return f"{text}  < (secret on stdin)" if self.stdin is not None else text


def cmd(*argv: str, stdin: str | None = None) -> Command:
    """Shorthand for Command((argv...), stdin)."""
    return Command(tuple(argv), stdin)


@dataclass(frozen=True)
class Result:
    """What a command did."""

    returncode: int
    stdout: str = ""
    stderr: str = ""

    @property
    def ok(self) -> bool:
        """Exit status 0."""
        return self.returncode == 0

    def reason(self) -> str:
        """The first line of the error output, else the exit status."""
        for text in (self.stderr, self.stdout):
            for line in text.splitlines():
                if line.strip():
                    return line.strip()
        return f"exit status {self.returncode}"


class Runner(Protocol):
    """Runs commands; `change` says whether the command changes the system."""

    def run(self, command: Command, *, change: bool, timeout: float) -> Result: ...


class HostRunner:
    """Runs commands on this host."""

    def run(self, command: Command, *, change: bool, timeout: float) -> Result:
        try:
            done = subprocess.run(
                command.argv, input=command.stdin, capture_output=True, text=True,
                timeout=timeout, check=False,
            )
        except FileNotFoundError:
            return Result(127, "", f"{command.argv[0]}: command not found")
        except subprocess.TimeoutExpired:
            return Result(124, "", f"{command.argv[0]}: no answer within {timeout:g} s")
        except OSError as exc:
            return Result(126, "", f"{command.argv[0]}: {exc.strerror}")
        return Result(done.returncode, done.stdout, done.stderr)


Effect = Callable[[Command], None]


class RecordingRunner:
    """Runs nothing: records every command and answers from canned results.

    The tests use it instead of `HostRunner`, and so does ``--root`` (commands are listed,
    not run). Keys of `answers`, `fail` and `effects` are prefixes of the shell line.

    Args:
        answers: prefix -> Result (or stdout text) for queries and changes.
        fail: prefixes of commands that fail (exit status 1), to test rollback.
        effects: prefix -> a function run when the command runs (to fake what it writes).
    """

    def __init__(
        self,
        answers: Mapping[str, Result | str] | None = None,
        fail: Iterable[str] = (),
        effects: Mapping[str, Effect] | None = None,
    ) -> None:
        self.answers = {k: Result(0, v) if isinstance(v, str) else v
                        for k, v in (answers or {}).items()}
        self.fail = list(fail)
        self.effects = dict(effects or {})
        self.calls: list[tuple[Command, bool]] = []

    @property
    def changes(self) -> list[str]:
        """The shell lines of the commands that would change the system, in order."""
        return [c.shown() for c, change in self.calls if change]

    def _match(self, line: str, keys: Iterable[str]) -> str | None:
        found = [k for k in keys if line.startswith(k)]
        return max(found, key=len) if found else None

    def run(self, command: Command, *, change: bool, timeout: float) -> Result:
        self.calls.append((command, change))
        line = shlex.join(command.argv)
        if self._match(line, self.fail) is not None:
            return Result(1, "", f"simulated failure of: {line}")
        effect = self._match(line, self.effects)
        if effect is not None:
            self.effects[effect](command)
        answer = self._match(line, self.answers)
        if answer is not None:
            return self.answers[answer]
        return Result(0) if change else Result(127, "", "not run (recorded only)")


# --------------------------------------------------------------------------- the host

@dataclass(frozen=True)
class Account:
    """A user: name, uid and primary gid."""

    name: str
    uid: int
    gid: int


def _read_db(path: Path) -> list[list[str]]:
    try:
        lines = path.read_text(encoding="utf-8", errors="replace").splitlines()
    except OSError:
        return []
    return [line.split(":") for line in lines if line and not line.startswith("#")]


class System:
    """The machine the wizard changes: a root directory, the environment and a runner.

    Args:
        root: the root directory (``/``, or a fake root for tests and ``--root``).
        env: the environment (NUT_CONFPATH and friends).
        runner: what runs commands; defaults to the host, or a recorder under a fake root.
        euid: the effective uid (for tests); defaults to os.geteuid().
    """

    def __init__(
        self,
        root: Path = Path("/"),
        env: Mapping[str, str] | None = None,
        runner: Runner | None = None,
        euid: int | None = None,
    ) -> None:
        self.root = Path(root)
        self.env: Mapping[str, str] = dict(os.environ if env is None else env)
        self.fake_root = self.root.resolve() != Path("/")
        self.runner: Runner = runner or (RecordingRunner() if self.fake_root else HostRunner())
        self.euid = os.geteuid() if euid is None else euid

    @property
    def is_root(self) -> bool:
        """Running as root (needed to change /etc and run systemctl)."""
        return self.euid == 0

    def path(self, logical: PurePosixPath | str) -> Path:
        """The real path of a logical one (under the fake root if any)."""
        rel = str(logical).lstrip("/")
        return self.root / rel if rel else self.root

    def query(self, *argv: str, timeout: float = 10.0) -> Result:
        """Run a command that only reads (allowed in a dry run)."""
        return self.runner.run(Command(argv), change=False, timeout=timeout)

    def run(self, command: Command, timeout: float = 120.0) -> Result:
        """Run a command that changes the system."""
        return self.runner.run(command, change=True, timeout=timeout)

    def which(self, name: str) -> PurePosixPath | None:
        """Where a program is (under the root)."""
        if not self.fake_root:
            found = shutil.which(name, path=os.pathsep.join(
                [*self.env.get("PATH", "").split(os.pathsep), *_BIN_DIRS]))
            return PurePosixPath(found) if found else None
        for directory in _BIN_DIRS:
            candidate = PurePosixPath(directory) / name
            if self.path(candidate).is_file():
                return candidate
        return None

    def exists(self, logical: PurePosixPath | str) -> bool:
        """Whether a logical path exists."""
        return self.path(logical).exists()

    def read_text(self, logical: PurePosixPath | str) -> str | None:
        """A text file's contents (bytes kept through surrogateescape), None if absent."""
        try:
            return self.path(logical).read_bytes().decode("utf-8", "surrogateescape")
        except (FileNotFoundError, NotADirectoryError, IsADirectoryError):
            return None

    def user(self, name: str) -> Account | None:
        """A user account (from the fake root's /etc/passwd when there is one)."""
        if self.fake_root and self.path("/etc/passwd").is_file():
            for row in _read_db(self.path("/etc/passwd")):
                if len(row) >= 4 and row[0] == name and row[2].isdigit() and row[3].isdigit():
                    return Account(name, int(row[2]), int(row[3]))
            return None
        try:
            entry = pwd.getpwnam(name)
        except KeyError:
            return None
        return Account(name, entry.pw_uid, entry.pw_gid)

    def group(self, name: str) -> int | None:
        """A group's gid."""
        if self.fake_root and self.path("/etc/group").is_file():
            for row in _read_db(self.path("/etc/group")):
                if len(row) >= 3 and row[0] == name and row[2].isdigit():
                    return int(row[2])
            return None
        try:
            return grp.getgrnam(name).gr_gid
        except KeyError:
            return None

    def group_name(self, gid: int) -> str | None:
        """A gid's name."""
        if self.fake_root and self.path("/etc/group").is_file():
            for row in _read_db(self.path("/etc/group")):
                if len(row) >= 3 and row[2] == str(gid):
                    return row[0]
            return None
        try:
            return grp.getgrgid(gid).gr_name
        except KeyError:
            return None

    def chown(self, logical: PurePosixPath | str, user: str, group: str) -> None:
        """Give a path to user:group; does nothing unless running as root.

        Raises:
            OSError: the user or group does not exist, or chown failed.
        """
        if not self.is_root:
            return
        account = self.user(user)
        gid = self.group(group)
        if account is None or gid is None:
            raise OSError(f"no user {user} or group {group} on this system")
        os.chown(self.path(logical), account.uid, gid, follow_symlinks=False)


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
        """The daemon's config for one UPS (enphase_monitor.config's default)."""
        return self.confdir / f"enphase-{ups}.conf"


def detect_nut(system: System) -> NutLayout:
    """NUT_CONFPATH, else Fedora's /etc/ups if present, else Debian's /etc/nut (nut.md 4.4).

    The group is the one files shared with the daemon get: the nut user's primary group when
    the account exists, else the distribution's default (nut on Debian, dialout on Fedora).
    """
    conf = system.env.get("NUT_SYSCONFIG") or system.env.get("NUT_CONFPATH")
    if conf:
        confdir, flavour, default_group = PurePosixPath(conf), "NUT_CONFPATH", "nut"
    elif system.path("/etc/ups").is_dir():
        confdir, flavour, default_group = PurePosixPath("/etc/ups"), "Fedora", "dialout"
    else:
        confdir, flavour, default_group = PurePosixPath("/etc/nut"), "Debian", "nut"
    account = system.user("nut")
    group = (system.group_name(account.gid) if account else None) or default_group
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
    """systemd on this host."""

    version: int | None = None
    running: bool = False  # PID 1 (else: enable only, no --now)
    creds_tool: bool = False

    @property
    def present(self) -> bool:
        """systemctl answered."""
        return self.version is not None

    @property
    def encrypted_credentials(self) -> bool:
        """LoadCredentialEncrypted= and systemd-creds are available (>= 250)."""
        return self.creds_tool and (self.version or 0) >= MIN_SYSTEMD_CREDS


def detect_systemd(system: System) -> Systemd:
    """`systemctl --version`, /run/systemd/system and systemd-creds."""
    answer = system.query("systemctl", "--version")
    m = re.match(r"systemd (\d+)", answer.stdout) if answer.ok else None
    return Systemd(
        version=int(m.group(1)) if m else None,
        running=system.path("/run/systemd/system").is_dir(),
        creds_tool=system.which("systemd-creds") is not None,
    )


def unit_enabled(system: System, unit: str) -> bool:
    """`systemctl is-enabled` says enabled (or an alias of it)."""
    answer = system.query("systemctl", "is-enabled", unit)
    return answer.ok and answer.stdout.strip() in ("enabled", "enabled-runtime", "alias")


def unit_active(system: System, unit: str) -> bool:
    """`systemctl is-active` says active."""
    answer = system.query("systemctl", "is-active", unit)
    return answer.ok and answer.stdout.strip() == "active"


# --------------------------------------------------------------------------- keyring

KEYRING_PROBE = (
    "import keyring\n"
    "k = keyring.get_keyring()\n"
    "print(type(k).__module__ + '.' + type(k).__name__, getattr(k, 'priority', 0))\n"
)
KEYRING_SET = (
    "import sys, keyring\n"
    "keyring.set_password(sys.argv[1], sys.argv[2], sys.stdin.read())\n"
)
KEYRING_DELETE = (
    "import sys, keyring\n"
    "keyring.delete_password(sys.argv[1], sys.argv[2])\n"
)
_NO_BACKEND = ("keyring.backends.fail.", "keyring.backends.null.", "keyring.backends.chainer.")


@dataclass(frozen=True)
class KeyringStatus:
    """Whether the daemon's user has a keyring backend that works, and what to say about it."""

    usable: bool
    backend: str
    note: str


def as_user(user: str, *argv: str) -> tuple[str, ...]:
    """argv run as another user (the daemon's keyring is that user's, not root's)."""
    return ("runuser", "-u", user, "--", *argv)


def detect_keyring(system: System, user: str) -> KeyringStatus:
    """Ask Python's keyring, as the daemon's user, which backend it would use.

    On a server without a desktop session there is normally none (packaging.md 6): say so.
    """
    answer = system.query(*as_user(user, sys.executable, "-c", KEYRING_PROBE), timeout=20.0)
    if not answer.ok:
        why = answer.reason()
        if "No module named" in why:
            why = "the Python keyring module is not installed"
        return KeyringStatus(False, "", f"cannot use the keyring as user {user}: {why}")
    backend, _, priority = answer.stdout.strip().partition(" ")
    if backend.startswith(_NO_BACKEND) or priority in ("0", "0.0"):
        return KeyringStatus(
            False, backend,
            f"keyring has no working backend for user {user} ({backend}): usual on a server"
            " without a desktop session; use a systemd credential instead",
        )
    if "PlaintextKeyring" in backend:
        return KeyringStatus(True, backend,
                             "keyrings.alt PlaintextKeyring: base64 only, no safer than a 0600"
                             " file")
    return KeyringStatus(True, backend, f"{backend} for user {user}")


# --------------------------------------------------------------------------- all facts

@dataclass
class Facts:
    """What the wizard found on the host (probed once; the keyring on demand)."""

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
            systemd = f"{sd.version}" + ("" if sd.running else " (not running: enable only)")
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


def probe(system: System) -> Facts:
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
