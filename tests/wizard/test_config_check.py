"""The config a re-run prefills from passes the daemon's own check first (check_secret,
check_dir_perms, as answers files do): one that fails is named in the plan in the daemon's one
line, never its contents, and the plan's rewrite with the wizard's mode and owner fixes it."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest

from enphase_monitor.config import load_config
from enphase_setup.answers import load_existing
from enphase_setup.facts import detect_host
from enphase_setup.system import System
from enphase_sim import Simulator

from .conftest import recorder
from .test_batch import answers_file, run


def set_up(root: Path, sim: Simulator, tmp_path: Path) -> Path:
    answers = answers_file(tmp_path / "answers", sim)
    assert run(root, sim, ["-n", "--answers", str(answers)]) == 0
    return answers


def test_a_world_readable_config_is_named_and_the_rewrite_fixes_it(
        root: Path, sim: Simulator, tmp_path: Path,
        capsys: pytest.CaptureFixture[str]) -> None:
    answers = set_up(root, sim, tmp_path)
    config = root / "etc/nut/enphase-ups.conf"
    config.chmod(0o644)
    capsys.readouterr()
    assert run(root, sim, ["-n", "--answers", str(answers)]) == 0
    out = capsys.readouterr().out
    line = ("world read permission on config /etc/nut/enphase-ups.conf: run 'chmod o-rwx"
            " /etc/nut/enphase-ups.conf'")
    assert f"note: the daemon refuses its config /etc/nut/enphase-ups.conf as it is now ({line})"\
           "; this plan rewrites it 0640 root:nut, which fixes that" in out
    assert sim.state.password not in out
    assert stat.S_IMODE(config.stat().st_mode) == 0o640
    assert load_config(config, env={}).password == sim.state.password  # the daemon takes it


def test_a_good_config_has_no_problem_and_a_directory_problem_is_not_claimed_fixed(
        root: Path, sim: Simulator, tmp_path: Path,
        capsys: pytest.CaptureFixture[str]) -> None:
    answers = set_up(root, sim, tmp_path)
    system = System(root, env={}, runner=recorder())
    facts = detect_host(system)
    assert load_existing(system, facts, "ups").config_problem is None
    (root / "etc/nut").chmod(0o757)
    try:
        problem = load_existing(system, facts, "ups").config_problem
        assert problem is not None and not problem.fixed_by_rewrite
        assert problem.line.startswith("world write permission on config directory")
        (root / "etc/nut/enphase-ups.conf").chmod(0o600)  # something to rewrite
        capsys.readouterr()
        assert run(root, sim, ["-n", "--answers", str(answers)]) == 0
        assert "this plan does not fix that: do it first" in capsys.readouterr().out
    finally:
        (root / "etc/nut").chmod(0o755)
