"""What commands print is outside text: a failed command's error says its stderr, escaped and
bounded; `upsc` and command output are escaped before `-n` and the Done screen show them."""

from __future__ import annotations

from pathlib import Path

import pytest
from textual.widgets import Static

from enphase_setup.changes import RunCommand
from enphase_setup.runner import MAX_LINES, MAX_REASON, Result, cmd
from enphase_sim import Simulator

from .conftest import fixed_app, recorder, settle, sync, to_nut
from .test_batch import answers_file, run
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


UPSC_HOSTILE = ("battery.charge: 80\n"
                "device.mfr: \x1b]8;;http://evil\x07click\x1b]8;;\x07\x1b[2J\n"
                "ups.status: OL\r\n")


def test_batch_prints_upsc_escaped(root: Path, sim: Simulator, tmp_path: Path,
                                   capsys: pytest.CaptureFixture[str]) -> None:
    runner = recorder(**{"upsc ups@localhost": UPSC_HOSTILE})
    answers = answers_file(tmp_path / "answers", sim)
    assert run(root, sim, ["-n", "--answers", str(answers)], runner) == 0
    out = capsys.readouterr().out
    assert "\x1b" not in out and "\x07" not in out and "\r" not in out
    assert "device.mfr: \\x1b]8;;http://evil\\x07click\\x1b]8;;\\x07\\x1b[2J\n" in out
    assert "battery.charge: 80\n" in out and "ups.status: OL\n" in out


def test_long_output_is_bounded() -> None:
    shown = Result(0, "".join(f"line {n}\n" for n in range(500)) + "y" * 9000).shown()
    lines = shown.splitlines()
    assert len(lines) == MAX_LINES + 1 and lines[-1] == "... (401 more lines)"


@sync
async def test_the_done_screen_shows_upsc_escaped(root: Path) -> None:
    app = fixed_app(root)
    app.session.system.runner.answers["upsc ups@localhost"] = Result(0, UPSC_HOSTILE)  # type: ignore[attr-defined]
    async with app.run_test(size=(120, 40)) as pilot:
        await to_nut(pilot)
        for _ in range(4):  # NUT, Secret, Protect, Review: Apply
            await pilot.press("ctrl+n")
            await settle(pilot)
        assert type(app.screen).__name__ == "ApplyScreen"
        await pilot.press("enter")
        await settle(pilot)
        assert type(app.screen).__name__ == "DoneScreen"
        text = str(app.screen.query_one("#upsc", Static).render())  # settle: upsc answered
    assert "\x1b" not in text and "\x07" not in text
    assert "device.mfr: \\x1b]8;;http://evil\\x07click" in text
