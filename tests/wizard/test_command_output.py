"""What commands print is outside text: a failed command's error says its stderr, escaped and
bounded; `upsc` and command output are escaped before `-n` and the Done screen show them."""

from __future__ import annotations

from pathlib import Path

from enphase_setup.changes import RunCommand
from enphase_setup.runner import MAX_REASON, Result, cmd

from .conftest import recorder
from .test_plan import session_for

HOSTILE = "Failed to enable unit:\x1b[2J\x1b]0;pwned\x07 unit file\r\nis masked.\n" + "x" * 5000


def test_a_failed_command_says_its_stderr_escaped_and_bounded(root: Path) -> None:
    runner = recorder(**{"systemctl enable": Result(1, "ignored stdout\n", HOSTILE)})
    session = session_for(root, runner)
    plan = session.build_plan()
    outcome = plan.apply(session.system)
    assert not outcome.ok
    error = outcome.error
    assert "systemctl enable --now enphase-monitor@ups.service" in error
    assert "exit status 1: Failed to enable unit:\\x1b[2J\\x1b]0;pwned\\x07 unit file | is masked."\
        in error
    assert "\x1b" not in error and "\n" not in error and "\r" not in error
    assert len(error) < 200 + MAX_REASON and error.endswith("...")
    assert "ignored stdout" not in error


def test_the_exit_status_stays_when_there_is_no_output() -> None:
    assert Result(3).reason() == "exit status 3"
    assert Result(1, "only\nstdout\n").reason() == "exit status 1: only | stdout"


def test_a_commands_own_output_is_escaped_in_the_progress(root: Path) -> None:
    runner = recorder(**{"restorecon": "\x1b[31mRelabeled\x1b[0m /var/lib/x\n"})
    runner.records_only = False  # as on a real host: the output is shown
    session = session_for(root, runner)
    step = RunCommand(cmd("restorecon", "-R", "-v", "/var/lib/x"), name="Label")
    assert step.apply(session.system) == "exit status 0: \\x1b[31mRelabeled\\x1b[0m /var/lib/x"
