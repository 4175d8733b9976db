"""Refuse early and clearly: one line, never a traceback (issue 13 item 1 and "What to build")."""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from enphase_setup.app import run_app
from enphase_setup.cli import main
from enphase_setup.facts import detect_host
from enphase_setup.session import Services, Session
from enphase_setup.system import System

from .conftest import ROOT, fixed_services, make_root, recorder

NOBODY = 65534
MODES = ([], ["--dry-run"], ["-n", "--dry-run"], ["-n"], ["--remove", "ups"],
         ["--reauth", "ups"], ["-n", "--remove", "ups", "--dry-run"])


def as_unprivileged() -> list[str]:
    """The command prefix that runs a program as an unprivileged user ([] when we are one)."""
    if os.geteuid() != 0:
        return []
    return ["setpriv", f"--reuid={NOBODY}", f"--regid={NOBODY}", "--clear-groups"]


@pytest.fixture
def world_readable_tmp() -> Iterator[Path]:
    """A directory an unprivileged user may enter (pytest's tmp_path is root's own)."""
    base = Path(tempfile.mkdtemp(prefix="enphase-setup-unpriv-"))
    base.chmod(0o755)
    try:
        yield base
    finally:
        subprocess.run(["rm", "-rf", str(base)], check=False)


def python_for(prefix: list[str]) -> str:
    """A Python the unprivileged user can run (a venv under /root may be out of reach)."""
    for python in (sys.executable, "/usr/bin/python3"):
        done = subprocess.run([*prefix, python, "-c", "pass"], capture_output=True, check=False)
        if done.returncode == 0:
            return python
    pytest.skip("no Python that an unprivileged user may run")


def root_only_nut(base: Path) -> Path:
    """A Debian-like fake root whose /etc/nut files are 0640 root (as NUT's package makes them)."""
    root = make_root(base)
    for path in (root / "etc").rglob("*"):
        path.chmod(0o755 if path.is_dir() else 0o644)
    for name in ("nut.conf", "ups.conf"):
        (root / "etc/nut" / name).chmod(0o640 if os.geteuid() == 0 else 0o000)
    return root


@pytest.mark.parametrize("mode", MODES, ids=lambda m: " ".join(m) or "tui")
def test_not_root_on_a_debian_nut_install_is_one_line(world_readable_tmp: Path,
                                                       mode: list[str]) -> None:
    root = root_only_nut(world_readable_tmp)
    shim = world_readable_tmp / "path"
    shim.mkdir()
    (shim / "enphase_setup").symlink_to(ROOT / "wizard", target_is_directory=True)
    prefix = as_unprivileged()
    env = {"PATH": "/usr/bin:/bin", "PYTHONPATH": f"{shim}:{ROOT}", "HOME": "/nonexistent",
           "TERM": "dumb"}
    done = subprocess.run([*prefix, python_for(prefix), "-m", "enphase_setup", "--root",
                           str(root), *mode], capture_output=True, text=True, env=env,
                          stdin=subprocess.DEVNULL, timeout=60, check=False, cwd="/")
    assert done.returncode == 1, done.stdout + done.stderr
    lines = done.stderr.splitlines()
    assert len(lines) == 1, done.stderr
    assert lines[0].startswith(f"enphase-setup: cannot read {root}/etc/nut/"), lines[0]
    assert "run enphase-setup as root" in lines[0] and "Traceback" not in done.stderr


def test_an_unexpected_error_is_one_line_with_a_hint(root: Path, tmp_path: Path,
                                                     capsys: pytest.CaptureFixture[str]) -> None:
    def broken(*_args: object) -> object:
        raise RuntimeError("boom\nsecond line")

    answers = tmp_path / "answers"
    answers.write_text("ENVOY_HOST=envoy.local\nUSERNAME=u\nPASSWORD=p\nSECRET_STORE=config\n")
    answers.chmod(0o600)
    services = Services(discover=list, probe=broken, check=broken)  # type: ignore[arg-type]
    system = System(root, env={}, runner=recorder())
    assert main(["-n", "--answers", str(answers)], system=system, services=services) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "Traceback" not in err
    assert "unexpected error (RuntimeError: boom\\nsecond line)" in err
    assert "please report it" in err


def test_an_unexpected_error_in_the_ui_is_one_line(root: Path,
                                                   capsys: pytest.CaptureFixture[str]) -> None:
    def broken() -> list[object]:
        raise RuntimeError("discovery broke")

    system = System(root, env={}, runner=recorder())
    services = fixed_services()
    services.discover = broken  # type: ignore[assignment]
    session = Session.start(system, detect_host(system), services=services)
    assert run_app(session, headless=True) == 1
    captured = capsys.readouterr()
    assert captured.err.strip().splitlines() == [
        "enphase-setup: unexpected error (RuntimeError: discovery broke); this is a bug in"
        " enphase-setup: please report it, with the command you ran and the output of"
        " enphase-setup --version"]
    assert "Traceback" not in captured.out + captured.err
