"""What the gateway and the cloud say reaches the terminal escaped (enphase_monitor/textsafe.py):
a serial, firmware or live-check message with terminal escape sequences or a bidi override is
shown as `\\x1b...`, never sent to the terminal as is, by `-n` and by the screens."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest
from textual.widgets import Input

from enphase_monitor.models import GatewayInfo
from enphase_setup.cli import main
from enphase_setup.discovery import Found, Probe
from enphase_setup.session import Services
from enphase_setup.system import System
from enphase_setup.validate import CheckResult

from .conftest import (
    FINGERPRINT,
    SERIAL,
    fixed_app,
    fixed_services,
    recorder,
    screen_text,
    settle,
    sync,
)

HOSTILE = "\x1b]0;owned\x07\x1b[2J\u202e"
SHOWN = "\\x1b]0;owned\\x07\\x1b[2J\\u202e"


def hostile_services(serial: str = SERIAL, firmware: str = "D8.2" + HOSTILE) -> Services:
    """A gateway whose /info.xml and mDNS answers, and a cloud whose refusal, carry escapes."""

    def probe(host: str, _pin: str) -> Probe:
        return Probe(host, GatewayInfo(serial, firmware, "800" + HOSTILE), FINGERPRINT)

    def check(_answers: object, progress: object) -> CheckResult:
        progress(f"Getting a token for gateway {serial}")  # type: ignore[operator]
        return CheckResult(False, "Enlighten said: " + HOSTILE)

    return replace(fixed_services(), probe=probe, check=check,
                   discover=lambda: [Found("192.168.1.50", SERIAL, "8" + HOSTILE, "mDNS")])


def run(root: Path, tmp_path: Path, services: Services) -> int:
    answers = tmp_path / "answers"
    answers.write_text("ENVOY_HOST=192.168.1.50\nUSERNAME=me@example.com\n"
                       "PASSWORD=secret\nSECRET_STORE=config\n")
    answers.chmod(0o600)
    system = System(root, env={}, runner=recorder())
    return main(["-n", "--answers", str(answers)], system=system, services=services)


def test_non_interactive_escapes_the_firmware(
        root: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert run(root, tmp_path, hostile_services()) == 2  # FIRMWARE refused: not one line
    out = capsys.readouterr()
    text = out.out + out.err
    assert "\x1b" not in text and "\u202e" not in text
    assert f"firmware D8.2{SHOWN}" in text


def test_non_interactive_escapes_the_check_message(
        root: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert run(root, tmp_path, hostile_services(firmware="D8.2.4264")) == 1
    out = capsys.readouterr()
    text = out.out + out.err
    assert "\x1b" not in text and "\u202e" not in text
    assert f"error: Enlighten said: {SHOWN}" in text


def test_non_interactive_escapes_a_hostile_serial(
        root: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert run(root, tmp_path, hostile_services("1223" + HOSTILE)) == 2  # SERIAL refused
    out = capsys.readouterr()
    text = out.out + out.err
    assert "\x1b" not in text and "\u202e" not in text
    assert f"serial 1223{SHOWN}" in text


@sync
async def test_the_screens_escape_the_gateway_and_the_check(root: Path) -> None:
    app = fixed_app(root)
    app.session.services = hostile_services()
    async with app.run_test(size=(140, 40)) as pilot:
        await settle(pilot)
        shown = screen_text(app)
        assert "\x1b" not in shown and "\u202e" not in shown
        assert f"firmware D8.2{SHOWN}"[:40] in shown.replace("\n", "")
        await pilot.press("ctrl+n")
        await settle(pilot)
        assert f"firmware D8.2{SHOWN}"[:30] in screen_text(app).replace("\n", "")
        app.screen.query_one("#username", Input).value = "owner@example.com"
        app.screen.query_one("#password", Input).value = "secret"
        await pilot.press("ctrl+n")
        await settle(pilot)
        shown = screen_text(app)
        assert "\x1b" not in shown and "\u202e" not in shown
        assert "Enlighten said: \\x1b]0;owned" in shown
