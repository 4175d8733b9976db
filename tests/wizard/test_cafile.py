"""CLOUD_CA_FILE goes through the daemon's own check (enphase_monitor/cafile.py) in the wizard:
a CA file the daemon would refuse at start is refused before the live check logs in with it,
in the daemon's one line, by `-n` and by the check the screens run."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from enphase_monitor.cafile import check_ca_file
from enphase_monitor.errors import InsecureFileError
from enphase_setup.answers import Answers
from enphase_setup.validate import Failure, check_credentials
from enphase_sim import Simulator

from .test_batch import answers_file, run


def writable_ca(tmp_path: Path, sim: Simulator) -> tuple[Path, str]:
    """A copy of the simulator's CA that its group may write, and the daemon's line for it."""
    ca = tmp_path / "ca" / "ca.pem"
    ca.parent.mkdir()
    shutil.copy(sim.ca_file, ca)
    ca.chmod(0o664)
    with pytest.raises(InsecureFileError) as refused:
        check_ca_file(str(ca))
    return ca, str(refused.value)


def test_non_interactive_refuses_a_ca_file_the_daemon_refuses(
        root: Path, sim: Simulator, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    ca, line = writable_ca(tmp_path, sim)
    answers = answers_file(tmp_path / "answers", sim, CLOUD_CA_FILE=str(ca))
    assert run(root, sim, ["-n", "--answers", str(answers)]) == 2
    captured = capsys.readouterr()
    assert line in captured.err + captured.out
    assert "group or world write permission" in line and "chmod go-w" in line
    assert not (root / "etc/nut/enphase-ups.conf").exists()


def test_the_live_check_refuses_it_before_logging_in(sim: Simulator, tmp_path: Path) -> None:
    ca, line = writable_ca(tmp_path, sim)
    steps: list[str] = []
    answers = Answers(envoy_host=sim.gateway_host, serial=sim.state.serial,
                      username=sim.state.username, password=sim.state.password,
                      enphase_login=sim.login_url, enphase_tokens=sim.tokens_url,
                      cloud_ca_file=str(ca))
    result = check_credentials(answers, steps.append)
    assert not result.ok and result.message == line and result.failure is Failure.CLOUD
    assert steps == []  # nothing was sent with a trust anchor someone else may change
    ca.chmod(0o644)
    assert check_credentials(answers, steps.append).ok
