"""Issue 9 item 11: answers files with a secret are private, control characters never reach a
file, and every file the wizard touches is handled root-safely (no symlink followed, regular
files only, no setuid/setgid/sticky bit copied)."""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path

import pytest

from enphase_monitor.config import load_config
from enphase_monitor.errors import ConfigError
from enphase_setup.cli import main
from enphase_setup.planner import build_setup
from enphase_setup.system import System, UnsafeFileError
from enphase_sim import Simulator

from .conftest import recorder, sim_services, token_info
from .test_batch import answers_file
from .test_plan import session_for, tree

ROOT_USER = os.geteuid() == 0
STATE = "var/lib/enphase-monitor"


def run(root: Path, sim: Simulator, *args: str) -> int:
    system = System(root, env={}, runner=recorder())
    return main(list(args), system=system, services=sim_services(sim))


# --------------------------------------------------------------------------- answers

def daemon_says(path: Path, kind: str) -> str:
    """The one line the daemon says about its config at `path`, with `kind` for "config"."""
    try:
        load_config(path, env={})
    except ConfigError as exc:
        return str(exc).replace(" on config ", f" on {kind} ")
    raise AssertionError("the daemon accepted it")


@pytest.mark.parametrize("mode", [0o644, 0o604, 0o660, 0o666], ids=lambda m: f"{m:04o}")
def test_an_answers_file_with_a_secret_must_be_private(
        root: Path, sim: Simulator, tmp_path: Path, mode: int,
        capsys: pytest.CaptureFixture[str]) -> None:
    """The wizard says what the daemon says of its config: the same rule, the same line."""
    answers = answers_file(tmp_path / "answers", sim)
    answers.chmod(mode)
    before = tree(root)
    assert run(root, sim, "-n", "--answers", str(answers)) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1
    assert err == f"enphase-setup: {daemon_says(answers, 'answers file')}\n"
    assert sim.state.password not in err
    assert tree(root) == before


@pytest.mark.skipif(not ROOT_USER, reason="needs root to give the file to another owner")
def test_a_secret_file_of_another_user_is_refused_as_the_daemon_does(
        root: Path, sim: Simulator, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    answers = answers_file(tmp_path / "answers", sim, PASSWORD=None)
    password = tmp_path / "pw"
    password.write_text(sim.state.password)
    password.chmod(0o600)
    os.chown(password, 1234, 0)
    assert run(root, sim, "-n", "--answers", str(answers), "--password-file",
               str(password)) == 2
    err = capsys.readouterr().err
    assert err == f"enphase-setup: {daemon_says(password, 'PASSWORD_FILE')}\n"
    assert "owner uid 1234 (must be root)" in err


def test_a_private_or_secretless_answers_file_is_fine(root: Path, sim: Simulator,
                                                      tmp_path: Path) -> None:
    answers = answers_file(tmp_path / "answers", sim)
    answers.chmod(0o640)
    assert run(root, sim, "-n", "--dry-run", "--answers", str(answers)) == 0
    public = answers_file(tmp_path / "public", sim, PASSWORD=None)
    public.chmod(0o644)
    password = tmp_path / "pw"
    password.write_text(sim.state.password)
    password.chmod(0o600)
    assert run(root, sim, "-n", "--dry-run", "--answers", str(public), "--password-file",
               str(password)) == 0


def test_a_password_file_must_be_private(root: Path, sim: Simulator, tmp_path: Path,
                                         capsys: pytest.CaptureFixture[str]) -> None:
    answers = answers_file(tmp_path / "answers", sim, PASSWORD=None)
    password = tmp_path / "pw"
    password.write_text(sim.state.password)
    password.chmod(0o644)
    assert run(root, sim, "-n", "--answers", str(answers), "--password-file",
               str(password)) == 2
    assert "PASSWORD_FILE" in capsys.readouterr().err


@pytest.mark.parametrize(("key", "value"), [
    ("DESC", "solar\n[evil]\ndriver = dummy-ups"),
    ("PORT_FILE", "/var/lib/enphase-monitor/ups.dev\n[evil]"),
    ("USERNAME", "me@example.com\r\nX"),
    ("UPS", "ups\x1b[2J"),
])
def test_control_characters_in_an_answer_are_refused(
        root: Path, sim: Simulator, tmp_path: Path, key: str, value: str,
        capsys: pytest.CaptureFixture[str]) -> None:
    answers = tmp_path / "answers.json"
    data = {"ENVOY_HOST": sim.gateway_host, "USERNAME": "u@example.com",
            "SECRET_STORE": "config", key: value}
    answers.write_text(json.dumps(data))
    before = tree(root)
    assert run(root, sim, "-n", "--no-validate", "--answers", str(answers)) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1
    assert f"{key}: must be one line, without control characters" in err
    assert "[evil]" not in err and tree(root) == before
    assert "[evil]" not in (root / "etc/nut/ups.conf").read_text()


# --------------------------------------------------------------------------- files

def secret_target(root: Path) -> Path:
    """A root-only setuid file of another user's making: the thing never to copy."""
    target = root / "etc/shadow-like"
    target.write_text("root:$6$secret-hash:19000:0:99999:7:::\n")
    target.chmod(0o4755)
    return target


def test_a_symlinked_port_file_is_refused_not_followed(root: Path, sim: Simulator,
                                                       tmp_path: Path,
                                                       capsys: pytest.CaptureFixture[str]
                                                       ) -> None:
    target = secret_target(root)
    (root / STATE).mkdir(parents=True)
    (root / STATE / "ups.dev").symlink_to(target)
    answers = answers_file(tmp_path / "answers", sim)
    assert run(root, sim, "-n", "--answers", str(answers)) == 1
    err = capsys.readouterr().err
    assert "ups.dev is a symbolic link, which is never followed" in err
    assert "(enphase-setup runs as root and touches only regular files" in err
    assert err.count("\n") == 1
    assert (root / STATE / "ups.dev").is_symlink()
    assert target.stat().st_mode & 0o7777 == 0o4755  # untouched
    leaked = [p for p in root.rglob("*") if p.is_file() and not p.is_symlink()
              and p != target and "secret-hash" in p.read_text(errors="replace")]
    assert leaked == []


def test_a_fifo_port_file_is_refused_without_hanging(root: Path, sim: Simulator,
                                                     tmp_path: Path,
                                                     capsys: pytest.CaptureFixture[str]) -> None:
    (root / STATE).mkdir(parents=True)
    os.mkfifo(root / STATE / "ups.dev")
    answers = answers_file(tmp_path / "answers", sim)
    assert run(root, sim, "-n", "--answers", str(answers)) == 1
    assert "ups.dev is a FIFO" in capsys.readouterr().err


def test_a_symlinked_token_cache_is_refused(root: Path) -> None:
    (root / STATE).mkdir(parents=True)
    (root / STATE / "enphase-ups.token").symlink_to(secret_target(root))
    session = session_for(root)
    with pytest.raises(UnsafeFileError, match=r"enphase-ups\.token is a symbolic link"):
        build_setup(session.answers, session.context, token_info())


def test_a_symlinked_state_directory_is_refused(root: Path) -> None:
    elsewhere = root / "srv/elsewhere"
    elsewhere.mkdir(parents=True)
    (root / "var/lib/enphase-monitor").symlink_to(elsewhere)
    session = session_for(root)
    with pytest.raises(UnsafeFileError, match="enphase-monitor is a symbolic link"):
        session.build_plan()


def test_special_bits_are_never_kept(root: Path) -> None:
    conf = root / "etc/nut/ups.conf"
    conf.chmod(0o6640)
    session = session_for(root)
    outcome = session.build_plan().apply(session.system)
    assert outcome.ok, outcome.error
    assert stat.S_IMODE(conf.stat().st_mode) == 0o640  # the mode kept, setgid/setuid not
    for path in root.rglob("*"):
        if not path.is_symlink():
            assert not path.stat().st_mode & (stat.S_ISUID | stat.S_ISGID | stat.S_ISVTX), path


def test_a_symlink_swapped_in_before_apply_is_replaced_not_followed(root: Path) -> None:
    session = session_for(root)
    plan = session.build_plan()
    target = secret_target(root)
    (root / STATE).mkdir(parents=True)
    (root / STATE / "ups.dev").symlink_to(target)  # after the review, before the apply
    outcome = plan.apply(session.system)
    assert not outcome.ok and "ups.dev is a symbolic link" in outcome.error
    assert target.read_text().startswith("root:$6$") and target.stat().st_mode & 0o7777 == 0o4755
