"""SVG snapshots of every screen at 80x24 and 120x40 (pytest-textual-snapshot), with fixed
network answers.

Update after an intended change with ``pytest tests/wizard/test_snapshots.py --snapshot-update``
and look at the SVGs in ``__snapshots__/`` before committing them.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest
from textual.pilot import Pilot
from textual.widgets import Input

from enphase_setup.draft import Draft
from enphase_setup.validate import CheckResult, Failure

from .conftest import DEBIAN_UPS_CONF, fixed_app, make_root, settle, to_nut

SIZES = {"80x24": (80, 24), "120x40": (120, 40)}
Steps = Callable[[Pilot[int]], Awaitable[None]]
MFA = CheckResult(False, "This Enlighten account uses multi-factor authentication: no token"
                  " can be fetched automatically. Get a token on Enphase's token page"
                  " (entrez.enphaseenergy.com) and use it instead.", Failure.MFA)
HAND_MADE = DEBIAN_UPS_CONF.replace("[other]", "[apc]") + (
    "\n[other]\n  driver = dummy-ups\n  port = other.dev\n")


async def to_credentials(pilot: Pilot[int]) -> None:
    await settle(pilot)
    await pilot.press("ctrl+n")
    await settle(pilot)


def then_next(before: Steps, times: int = 1) -> Steps:
    async def steps(pilot: Pilot[int]) -> None:
        await before(pilot)
        for _ in range(times):
            await pilot.press("ctrl+n")
            await settle(pilot)
    return steps


async def nut_invalid(pilot: Pilot[int]) -> None:
    await to_nut(pilot)
    pilot.app.screen.query_one("#pollfreq", Input).value = "2"
    pilot.app.screen.query_one("#port", Input).value = "/tmp/ups.dev"
    await pilot.press("ctrl+n")
    await settle(pilot)


async def takeover(pilot: Pilot[int]) -> None:
    await to_nut(pilot)
    pilot.app.screen.query_one("#ups", Input).value = "other"
    await pilot.press("ctrl+n")
    await settle(pilot)


async def ups_conf_diff(pilot: Pilot[int]) -> None:
    await then_next(to_nut, 3)(pilot)
    target = next(c for c in pilot.app.screen.query(".change-title")
                  if "ups.conf (NUT section" in str(c.render()))
    pilot.app.screen.query_one("#body").scroll_to_widget(target, animate=False, top=True)
    await pilot.pause()


SCENARIOS: dict[str, Steps] = {
    "gateway": settle,
    "credentials": to_credentials,
    "nut": to_nut,
    "nut_invalid": nut_invalid,
    "nut_takeover": takeover,
    "secret": then_next(to_nut),
    "protect": then_next(to_nut, 2),
    "review": then_next(to_nut, 3),
    "review_ups_conf_diff": ups_conf_diff,
    "apply": then_next(to_nut, 4),
    "done": then_next(to_nut, 5),
}


@pytest.mark.parametrize("size", SIZES)
@pytest.mark.parametrize("scenario", SCENARIOS)
def test_screen(snap_compare: Any, tmp_path: Path, scenario: str, size: str) -> None:
    root = make_root(tmp_path, ups_conf=HAND_MADE if scenario == "nut_takeover"
                     else DEBIAN_UPS_CONF)
    assert snap_compare(fixed_app(root), terminal_size=SIZES[size],
                        run_before=SCENARIOS[scenario])


@pytest.mark.parametrize("size", SIZES)
def test_credentials_mfa_error(snap_compare: Any, tmp_path: Path, size: str) -> None:
    app = fixed_app(make_root(tmp_path), MFA)
    assert snap_compare(app, terminal_size=SIZES[size], run_before=then_next(to_credentials))


@pytest.mark.parametrize("size", SIZES)
def test_apply_failed(snap_compare: Any, tmp_path: Path, size: str) -> None:
    app = fixed_app(make_root(tmp_path))
    app.session.system.runner.fail.append("systemctl enable --now nut-server")
    assert snap_compare(app, terminal_size=SIZES[size], run_before=then_next(to_nut, 4))


@pytest.mark.parametrize("size", SIZES)
def test_dry_run_banner(snap_compare: Any, tmp_path: Path, size: str) -> None:
    app = fixed_app(make_root(tmp_path))
    app.session.dry_run = True
    app.session.system.euid = 1000
    assert snap_compare(app, terminal_size=SIZES[size], run_before=settle)


@pytest.mark.parametrize("size", SIZES)
def test_resume_offer(snap_compare: Any, tmp_path: Path, size: str,
                      monkeypatch: pytest.MonkeyPatch) -> None:
    root = make_root(tmp_path)
    app = fixed_app(root)
    draft = Draft(tmp_path / "draft.json", root)
    answers = app.session.answers
    answers.ups, answers.pollfreq = "solar", 30
    monkeypatch.setattr("time.time", lambda: 1767261600.0)  # saved 2026-01-01 10:00 UTC
    monkeypatch.setenv("TZ", "UTC")
    time.tzset()
    draft.save(answers, "nut")
    app.session.draft = draft
    assert snap_compare(app, terminal_size=SIZES[size], run_before=settle)
