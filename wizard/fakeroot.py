"""``--root DIR``: the wizard on a fake root (tests, chroots, image builds).

Files are read and written under DIR; commands are recorded, not run (the plan marks them
"would run"), and `systemd-creds encrypt` writes a stand-in file. `NEEDS` is what the wizard
looks for in a fake root: ``--help`` and docs/wizard.md list it from here.
"""

from __future__ import annotations

import base64
import textwrap
from pathlib import Path

from .runner import Command, RecordingRunner
from .system import System

# (path in the fake root, what the wizard takes from it); the first two are required
NEEDS: tuple[tuple[str, str], ...] = (
    ("etc/nut/", "required: NUT's config directory (etc/ups/ for Fedora's layout, or"
                 " $NUT_CONFPATH); nut.conf and ups.conf in it are read when there"),
    ("lib/nut/dummy-ups", "required: NUT's driver (or usr/lib/nut/, usr/libexec/nut/,"
                          " usr/sbin/); without it the set-up is refused"),
    ("etc/passwd, etc/group", "user nut and its group (else this host's accounts; as root,"
                              " files are given to nut, who must exist)"),
    ("lib/systemd/system/", "systemd is there (or usr/lib/systemd/system/, etc/systemd/system/,"
                            " usr/bin/systemctl): drop-ins and units are planned"),
    ("lib/systemd/system/enphase-monitor@.service, nut-driver@.service",
     "the units (else the plan notes they are missing)"),
    ("run/systemd/system/", "systemd runs: units are enabled and started (--now)"),
    ("usr/bin/systemd-creds", "the systemd credential store is offered (version not checked)"),
    ("sys/fs/selinux/enforce", "SELinux: the port file's directory gets labelled"),
)


def needs_text(width: int = 88) -> str:
    """NEEDS as wrapped lines for --help."""
    return "\n".join(textwrap.fill(f"{path}: {why}", width, initial_indent="  ",
                                   subsequent_indent="      ") for path, why in NEEDS)


def fake_creds_effect(system: System) -> RecordingRunner:
    """Record commands; `systemd-creds encrypt` writes a stand-in blob."""

    def encrypt(command: Command) -> None:
        target = system.path(command.argv[-1])
        target.parent.mkdir(parents=True, exist_ok=True)
        blob = base64.b64encode(f"fake credential {command.argv[2]}".encode()).decode()
        target.write_text(blob + "\n")

    return RecordingRunner(effects={"systemd-creds encrypt": encrypt})


def fake_root_system(root: Path) -> System:
    """The System of a fake root: its files, a recording runner."""
    system = System(root)
    system.runner = fake_creds_effect(system)
    return system
