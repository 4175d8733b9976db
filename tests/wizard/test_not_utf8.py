"""A ups.conf that is not UTF-8 (Latin-1, as many hand-edited files are): the review shows the
undecodable bytes escaped (`\\xe9`), every sink's text encodes as UTF-8, and apply and
--remove keep the user's bytes byte for byte outside the wizard's own section."""

from __future__ import annotations

import io
from pathlib import Path

import pytest
from rich.console import Console
from textual.widgets import Static

from enphase_setup.app import WizardApp
from enphase_setup.changes import WriteFile
from enphase_setup.facts import detect_host
from enphase_setup.protect import watched
from enphase_setup.screens.preview import Preview
from enphase_setup.system import System
from enphase_sim import Simulator

from .conftest import make_root, screen_text, sim_session, sync
from .test_app import SIZE, log_in, next_step, screen_name, settle
from .test_batch import answers_file, run
from .test_remove_exact import diff, snapshot

LATIN1 = (
    b"# Network UPS Tools: ups.conf, caf\xe9 du serveur\n"
    b"maxretry = 3\n"
    b"\n"
    b"[salle-\xe9]\n"
    b"\tdriver = usbhid-ups\n"
    b"\tport = /dev/caf\xe9\n"
    b"\n"
    b"[other]\n"
    b"\tdriver = usbhid-ups\n"
    b"\tport = auto\n"
    b'\tdesc = "Salle \xe9t\xe9 \x1b[31mred"   # \xff the big one\n'
)


def latin1_root(tmp_path: Path) -> Path:
    root = make_root(tmp_path, ups_conf=None)
    conf = root / "etc/nut/ups.conf"
    conf.write_bytes(LATIN1)
    conf.chmod(0o640)
    return root


def rendered(preview: Preview) -> str:
    """The preview as a terminal of 100 columns shows it."""
    out = io.StringIO()
    Console(file=out, width=100, color_system=None, legacy_windows=False).print(preview)
    return out.getvalue()


def assert_shown_safely(text: str) -> None:
    """Encodes as UTF-8, the undecodable bytes escaped, no terminal escape left."""
    text.encode("utf-8")  # a lone surrogate raises here (and in a real terminal's write)
    assert "Salle \\xe9t\\xe9" in text and "\\xff the big one" in text
    assert "\x1b" not in text and "\\x1b[31mred" in text


@sync
async def test_review_apply_and_remove_keep_a_latin1_ups_conf(
        tmp_path: Path, sim: Simulator) -> None:
    root = latin1_root(tmp_path)
    before = snapshot(root)
    session = sim_session(root, sim)
    app = WizardApp(session)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await next_step(pilot)
        await log_in(pilot, app, sim.state.username, sim.state.password)
        assert screen_name(app) == "NutScreen"  # it lists ups.conf's sections
        listed = screen_text(app)
        listed.encode("utf-8")
        assert "[salle-\\xe9] (usbhid-ups)" in listed
        for _ in range(3):  # NUT, Secret, Protect: Review
            await next_step(pilot)
        assert screen_name(app) == "ReviewScreen"
        assert session.plan is not None
        edits = [n for n, c in enumerate(session.plan.changes, 1)
                 if isinstance(c, WriteFile) and str(c.path) == "/etc/nut/ups.conf"]
        assert len(edits) == 1
        number = edits[0]
        shown = app.screen.query_one(f"#preview-{number}", Static).content
        assert isinstance(shown, Preview)
        assert_shown_safely(rendered(shown))
        assert_shown_safely(session.plan.describe())  # what --dry-run prints
        await pilot.press("ctrl+n")
        await settle(pilot)
        assert screen_name(app) == "ApplyScreen"
        assert "changes applied" in str(app.screen.query_one("#result", Static).render())
        await pilot.press("enter")
    conf = (root / "etc/nut/ups.conf").read_bytes()
    assert conf.startswith(LATIN1) and b"[ups]" in conf[len(LATIN1):]
    assert run(root, sim, ["-n", "--remove", "ups", "--delete-files"]) == 0
    assert (root / "etc/nut/ups.conf").read_bytes() == LATIN1
    assert diff(before, snapshot(root)) == []


def test_dry_run_and_adopt_print_a_latin1_ups_conf_escaped(
        tmp_path: Path, sim: Simulator, capsysbinary: pytest.CaptureFixture[bytes]) -> None:
    """--dry-run prints the plan, a taken-over section's diff too, as UTF-8 with the bytes
    escaped; apply and --remove give the file back byte for byte."""
    root = latin1_root(tmp_path)
    mine = LATIN1.replace(b"\tdriver = usbhid-ups\n\tport = auto",
                          b"\tdriver = dummy-ups\n\tport = /srv/caf\xe9.dev")
    (root / "etc/nut/ups.conf").write_bytes(mine)
    before = snapshot(root)
    refused = answers_file(tmp_path / "r", sim, UPS="other", PROTECT="no")
    assert run(root, sim, ["-n", "--answers", str(refused)]) != 0  # not taken over unasked
    said = capsysbinary.readouterr()
    assert b"port = /srv/caf\\xe9.dev) that enphase-setup did not make" in said.err + said.out
    answers = answers_file(tmp_path / "a", sim, UPS="other", ADOPT_SECTION="yes", PROTECT="no")
    assert run(root, sim, ["-n", "--dry-run", "--answers", str(answers)]) == 0
    assert_shown_safely(capsysbinary.readouterr().out.decode("utf-8"))
    assert run(root, sim, ["-n", "--answers", str(answers)]) == 0
    conf = (root / "etc/nut/ups.conf").read_bytes()
    assert conf.startswith(mine.split(b"[other]")[0])  # the bytes before the section
    capsysbinary.readouterr()
    assert run(root, sim, ["-n", "--remove", "other", "--delete-files"]) == 0
    assert diff(before, snapshot(root)) == []


def test_a_latin1_monitor_line_is_described_escaped(tmp_path: Path) -> None:
    """upsmon.conf's MONITOR line for this UPS, with a user name that is not UTF-8: the step's
    line (screen, review, -n) shows the byte as \\xe9 and encodes as UTF-8."""
    root = latin1_root(tmp_path)
    (root / "etc/nut/upsmon.conf").write_bytes(
        b"# caf\xe9\nMONITOR ups@localhost 1 us\xe9r s3cret primary\n")
    (root / "etc/nut/upsd.users").write_bytes(b"[admin]\n  password = x\n")
    system = System(root, env={})
    line = watched(system, detect_host(system), "ups").describe()
    line.encode("utf-8")
    assert line == ("upsmon.conf has MONITOR ups@localhost as user us\\xe9r (primary), but"
                    " upsd.users has no user us\\xe9r: fix it by hand")
