"""SVG snapshots of every screen (pytest-textual-snapshot), with fixed network answers.

Update after an intended change with ``pytest tests/wizard/test_snapshots.py --snapshot-update``
and look at the SVGs in ``__snapshots__/`` before committing them.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from textual.pilot import Pilot
from textual.widgets import Input

from enphase_setup.app import WizardApp
from enphase_setup.facts import detect_host
from enphase_setup.session import Session
from enphase_setup.system import System
from enphase_setup.validate import CheckResult, Failure

from .conftest import fixed_services, make_root, recorder

SIZE = (100, 30)
Steps = Callable[[Pilot[int]], Awaitable[None]]


def app_for(tmp_path: Path, check: CheckResult | None = None, **runner: Any) -> WizardApp:
    root = make_root(tmp_path)
    runner.setdefault("runuser -u nut --", "keyring.backends.fail.Keyring 0\n")
    system = System(root, env={}, runner=recorder(**runner))
    session = Session.start(system, detect_host(system), services=fixed_services(check))
    return WizardApp(session)


async def settle(pilot: Pilot[int]) -> None:
    for _ in range(3):
        await pilot.app.workers.wait_for_complete()
        await pilot.pause()


async def to_credentials(pilot: Pilot[int]) -> None:
    await settle(pilot)
    await pilot.click("#next")
    await settle(pilot)


async def logged_in(pilot: Pilot[int]) -> None:
    await to_credentials(pilot)
    pilot.app.screen.query_one("#username", Input).value = "owner@example.com"
    pilot.app.screen.query_one("#password", Input).value = "secret"
    await pilot.click("#next")
    await settle(pilot)


def then_next(before: Steps, times: int = 1) -> Steps:
    async def steps(pilot: Pilot[int]) -> None:
        await before(pilot)
        for _ in range(times):
            await pilot.click("#next")
            await settle(pilot)
    return steps


def test_gateway_screen(snap_compare: Any, tmp_path: Path) -> None:
    assert snap_compare(app_for(tmp_path), terminal_size=SIZE, run_before=settle)


def test_credentials_screen(snap_compare: Any, tmp_path: Path) -> None:
    assert snap_compare(app_for(tmp_path), terminal_size=SIZE, run_before=to_credentials)


def test_credentials_screen_mfa_error(snap_compare: Any, tmp_path: Path) -> None:
    mfa = CheckResult(False, "This Enlighten account uses multi-factor authentication: no"
                      " token can be fetched automatically. Get a token on Enphase's token"
                      " page (entrez.enphaseenergy.com) and use it instead.", Failure.MFA)
    assert snap_compare(app_for(tmp_path, mfa), terminal_size=SIZE, run_before=logged_in)


def test_nut_screen(snap_compare: Any, tmp_path: Path) -> None:
    assert snap_compare(app_for(tmp_path), terminal_size=SIZE, run_before=logged_in)


def test_secret_screen(snap_compare: Any, tmp_path: Path) -> None:
    assert snap_compare(app_for(tmp_path), terminal_size=SIZE,
                        run_before=then_next(logged_in))


def test_review_screen(snap_compare: Any, tmp_path: Path) -> None:
    assert snap_compare(app_for(tmp_path), terminal_size=SIZE,
                        run_before=then_next(logged_in, 2))


def test_review_screen_ups_conf_diff(snap_compare: Any, tmp_path: Path) -> None:
    async def steps(pilot: Pilot[int]) -> None:
        await then_next(logged_in, 2)(pilot)
        target = next(c for c in pilot.app.screen.query(".change-title")
                      if "ups.conf (NUT section" in str(c.render()))
        pilot.app.screen.query_one("#body").scroll_to_widget(target, animate=False, top=True)
        await pilot.pause()

    assert snap_compare(app_for(tmp_path), terminal_size=SIZE, run_before=steps)


def test_apply_screen_failed(snap_compare: Any, tmp_path: Path) -> None:
    app = app_for(tmp_path)
    runner = app.session.system.runner
    runner.fail.append("systemctl enable --now nut-server")  # type: ignore[attr-defined]
    assert snap_compare(app, terminal_size=SIZE, run_before=then_next(logged_in, 3))


def test_done_screen(snap_compare: Any, tmp_path: Path) -> None:
    assert snap_compare(app_for(tmp_path), terminal_size=SIZE,
                        run_before=then_next(logged_in, 3))


def test_dry_run_banner(snap_compare: Any, tmp_path: Path) -> None:
    app = app_for(tmp_path)
    app.session.dry_run = True
    app.session.system.euid = 1000
    assert snap_compare(app, terminal_size=SIZE, run_before=settle)
