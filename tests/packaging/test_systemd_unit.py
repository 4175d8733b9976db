"""The template unit: `systemd-analyze verify` (offline, in a fake root) is silent, the sandbox's
exposure is at most 1.5, and the directives the daemon relies on are there."""

from __future__ import annotations

import gzip
import re
import shutil
from pathlib import Path

import pytest

from .conftest import ROOT, need, run, system_env

UNIT = ROOT / "packaging/systemd/enphase-monitor@.service"
SYSTEM_UNITS = Path("/lib/systemd/system")


@pytest.fixture(scope="module")
def fake_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A root with the distro's unit tree (for the default dependencies), the unit, stub
    executables for ExecStart=/ExecReload= and the man page Documentation= names."""
    need("systemd-analyze")
    if not (SYSTEM_UNITS / "sysinit.target").exists():
        pytest.skip("no systemd unit tree in /lib/systemd/system")
    root = tmp_path_factory.mktemp("unitroot")
    shutil.copytree(SYSTEM_UNITS, root / "lib/systemd/system", symlinks=True)
    shutil.copy(UNIT, root / "lib/systemd/system/")
    for stub in ("usr/bin/enphase-monitor", "bin/kill"):
        (root / stub).parent.mkdir(parents=True, exist_ok=True)
        (root / stub).write_text("#!/bin/sh\n")
        (root / stub).chmod(0o755)
    man = root / "usr/share/man/man8/enphase-monitor.8.gz"
    man.parent.mkdir(parents=True)
    man.write_bytes(gzip.compress((ROOT / "packaging/man/enphase-monitor.8").read_bytes()))
    return root


def verify(root: Path, unit: str) -> tuple[int, str]:
    proc = run(["systemd-analyze", "verify", f"--root={root}", unit], check=False,
               env=system_env(MANPATH=str(root / "usr/share/man")))
    return proc.returncode, (proc.stdout + proc.stderr).strip()


def test_verify_is_silent(fake_root: Path):
    """verify exits 0 even for unknown keys, so its output must be empty (with --man=yes, the
    default, it also checks that man:enphase-monitor(8) resolves)."""
    for unit in ("enphase-monitor@myups.service", "enphase-monitor@my-ups.service"):
        code, output = verify(fake_root, unit)
        assert code == 0 and output == "", output


def test_verify_reports_a_broken_unit(fake_root: Path, tmp_path: Path):
    """The check above can fail: a typo in a directive is reported."""
    broken = UNIT.read_text().replace("Type=notify", "Type=notfy").replace(
        "ProtectSystem=strict", "ProtectSytem=strict")
    root = tmp_path / "root"
    shutil.copytree(fake_root, root, symlinks=True)
    (root / "lib/systemd/system/enphase-monitor@.service").write_text(broken)
    _, output = verify(root, "enphase-monitor@myups.service")
    assert "Failed to parse service type" in output and "Unknown key" in output, output


def test_security_exposure_at_most_1_5(fake_root: Path):
    proc = run(["systemd-analyze", "security", "--offline=yes", f"--root={fake_root}",
                "--threshold=15", "enphase-monitor@myups.service"], check=False)
    match = re.search(r"Overall exposure level for enphase-monitor@myups\.service: "
                      r"(\d+\.\d+) (\w+)", proc.stdout)
    assert match, proc.stdout + proc.stderr
    print(f"exposure {match.group(1)} {match.group(2)}")
    assert float(match.group(1)) <= 1.5, proc.stdout
    assert proc.returncode == 0, proc.stdout + proc.stderr  # --threshold=15 (tenths) holds
    assert "ignoring" not in proc.stderr, proc.stderr  # every directive parsed


def directives() -> dict[str, list[str]]:
    found: dict[str, list[str]] = {}
    for line in UNIT.read_text().splitlines():
        if "=" in line and not line.startswith(("#", "[")):
            key, value = line.split("=", 1)
            found.setdefault(key, []).append(value)
    return found


def test_unit_directives():
    d = directives()
    assert d["Type"] == ["notify"]
    assert d["ExecStart"] == ["/usr/bin/enphase-monitor %i"]
    assert d["PartOf"] == ["nut-driver.target"]
    assert d["Before"] == ["nut-driver@%i.service"]
    assert d["WantedBy"] == ["nut-driver@%i.service"]
    # requests feed the watchdog while they wait, so it need not cover a whole poll: it must
    # cover the longest gap between two requests (~10 s) with room to spare (docs/behaviour.md)
    assert 60 <= int(d["WatchdogSec"][0]) <= 300
    # the first poll at default settings (~125 s) fits; longer ones extend the start
    assert int(d["TimeoutStartSec"][0]) >= 150
    assert d["StateDirectory"] == ["enphase-monitor"]
    assert d["User"] == ["nut"]
    # the daemon hides an earlier run's file before its first poll; READY=1 comes after it
    assert "ExecStartPre" not in d
    # the port file never outlives the daemon; a restart gets the driver back at once
    assert d["ExecStopPost"] == ["/usr/bin/enphase-monitor -x %i"]
    assert d["ExecStartPost"] == [
        "-+/bin/sh -c 'systemctl -q is-active nut-driver@%i.service || exec systemctl"
        " --no-block try-restart nut-driver@%i.service'"]


def test_credentials_are_optional():
    """LoadCredentialEncrypted= uses credential-store names, not absolute paths: systemd 252
    fails the start (243/CREDENTIALS) when an absolute path is missing, but skips a missing
    name, so users with PASSWORD= in the config are not stopped."""
    creds = dict(v.split(":", 1) for v in directives()["LoadCredentialEncrypted"])
    assert creds == {"enphase-password": "enphase-monitor-%i.password",
                     "enphase-token": "enphase-monitor-%i.token"}
    assert "SetCredential" not in directives()
