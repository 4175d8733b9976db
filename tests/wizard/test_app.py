"""The terminal UI driven by Textual's Pilot, against the simulator and a fake root."""

from __future__ import annotations

from pathlib import Path

from textual.pilot import Pilot
from textual.widgets import Button, Checkbox, Input, Static

from enphase_monitor.config import load_config
from enphase_setup import validate
from enphase_setup.answers import SecretStore
from enphase_setup.app import WizardApp
from enphase_setup.runner import RecordingRunner
from enphase_setup.session import REAUTH, Session
from enphase_sim import Simulator

from .conftest import recorder, sim_session, sync
from .test_plan import tree

SIZE = (100, 30)


async def settle(pilot: Pilot[int]) -> None:
    """Let workers finish and the screen catch up."""
    for _ in range(3):
        await pilot.app.workers.wait_for_complete()
        await pilot.pause()


def screen_name(app: WizardApp) -> str:
    return type(app.screen).__name__


def text_of(app: WizardApp, selector: str) -> str:
    return str(app.screen.query_one(selector, Static).render())


async def next_step(pilot: Pilot[int]) -> None:
    await pilot.click("#next")
    await settle(pilot)


async def log_in(pilot: Pilot[int], app: WizardApp, user: str, password: str) -> None:
    app.screen.query_one("#username", Input).value = user
    app.screen.query_one("#password", Input).value = password
    await next_step(pilot)


@sync
async def test_whole_flow_writes_the_files(root: Path, sim: Simulator) -> None:
    session = sim_session(root, sim)
    app = WizardApp(session)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        assert screen_name(app) == "GatewayScreen"
        assert app.screen.query_one("#host", Input).value == sim.gateway_host
        assert app.screen.query_one("#serial", Input).value == sim.state.serial
        assert f"IQ Gateway {sim.state.serial}, firmware {sim.state.firmware}" in \
            text_of(app, "#probe")
        await next_step(pilot)
        assert screen_name(app) == "CredentialsScreen"
        app.screen.query_one("#pin", Checkbox).value = True
        await log_in(pilot, app, sim.state.username, sim.state.password)
        assert screen_name(app) == "NutScreen"
        app.screen.query_one("#charge-low", Input).value = "25"
        await next_step(pilot)
        assert screen_name(app) == "SecretScreen"
        await next_step(pilot)
        assert screen_name(app) == "ProtectStep"  # upsmon is not installed in the fake root
        await next_step(pilot)
        assert screen_name(app) == "ReviewScreen"
        assert session.plan is not None and len(session.plan.changes) >= 10
        assert tree(root)  # nothing written yet: the fake root is as made
        assert not (root / "etc/nut/enphase-ups.conf").exists()
        await pilot.press("ctrl+n")
        await settle(pilot)
        assert screen_name(app) == "ApplyScreen"
        assert "changes applied" in text_of(app, "#result")
        await pilot.press("enter")
        await settle(pilot)
        assert screen_name(app) == "DoneScreen"
        assert "ups.status: OL" in text_of(app, "#upsc")
        await next_step(pilot)
    assert app.return_code == 0
    assert "is set up" in app.result_text
    conf = root / "etc/nut/enphase-ups.conf"
    assert conf.stat().st_mode & 0o777 == 0o640
    (root / "creds").mkdir()
    (root / "creds/enphase-password").write_text(sim.state.password)
    loaded = load_config(conf, env={"CREDENTIALS_DIRECTORY": str(root / "creds")})
    assert loaded.gateway_fingerprint == sim.cert_sha256
    assert loaded.envoy_host == sim.gateway_host
    assert "battery.charge.low: 25" in (root / "var/lib/enphase-monitor/ups.dev").read_text()
    runner = session.system.runner
    assert isinstance(runner, RecordingRunner)
    assert "systemctl enable --now enphase-monitor@ups.service nut-driver@ups.service" in \
        runner.changes
    encrypt = next(c for c, change in runner.calls if change and c.argv[0] == "systemd-creds")
    assert encrypt.stdin == sim.state.password


@sync
async def test_rerun_prefills_every_answer(root: Path, sim: Simulator) -> None:
    first = sim_session(root, sim)
    first.answers.serial, first.answers.envoy_host = sim.state.serial, sim.gateway_host
    first.answers.username, first.answers.password = sim.state.username, sim.state.password
    first.answers.charge_low, first.answers.pollfreq = 35, 30
    first.answers.secret_store = SecretStore.CONFIG
    first.checked = validate.check_credentials(first.answers)
    assert first.checked.ok and first.build_plan().apply(first.system).ok

    runner = recorder(**{"systemctl is-enabled": "enabled\n"})
    session = sim_session(root, sim, runner)
    app = WizardApp(session)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        assert app.screen.query_one("#host", Input).value == sim.gateway_host
        assert app.screen.query_one("#serial", Input).value == sim.state.serial
        await next_step(pilot)
        assert app.screen.query_one("#username", Input).value == sim.state.username
        assert app.screen.query_one("#password", Input).value == sim.state.password
        await next_step(pilot)
        assert screen_name(app) == "NutScreen"
        assert app.screen.query_one("#charge-low", Input).value == "35"
        assert app.screen.query_one("#pollfreq", Input).value == "30"
        await next_step(pilot)
        assert session.answers.secret_store is SecretStore.CONFIG
        await next_step(pilot)  # Protect
        await next_step(pilot)
        assert screen_name(app) == "ReviewScreen"
        plan = session.plan
        assert plan is not None
        # the same answers: nothing to write, nothing to restart (the token cache the first
        # run left is still good, so the token the live check just got is not written)
        assert plan.changes == [], plan.describe()
        assert "Nothing to change" in text_of(app, "#body Static.ok")


@sync
async def test_bad_password_is_fixed_in_place(root: Path, sim: Simulator) -> None:
    session = sim_session(root, sim)
    app = WizardApp(session)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await next_step(pilot)
        await log_in(pilot, app, sim.state.username, "wrong")
        assert screen_name(app) == "CredentialsScreen"
        assert "refused the login" in text_of(app, "#result")
        assert app.focused is app.screen.query_one("#password", Input)
        assert "✗ Logging in to Enlighten" in text_of(app, "#steps-done")
        await log_in(pilot, app, sim.state.username, sim.state.password)
        assert screen_name(app) == "NutScreen"


@sync
async def test_mfa_account_switches_to_the_token_path(root: Path, sim: Simulator) -> None:
    sim.update(mfa=True)
    session = sim_session(root, sim)
    app = WizardApp(session)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await next_step(pilot)
        await log_in(pilot, app, sim.state.username, sim.state.password)
        assert "multi-factor" in text_of(app, "#result")
        assert app.screen.query_one("#use-token", Checkbox).value
        token = app.screen.query_one("#token", Input)
        assert token.display and app.focused is token
        token.value = sim.issue_token()
        await next_step(pilot)
        assert screen_name(app) == "NutScreen"
    assert session.answers.use_token


@sync
async def test_wrong_serial_says_so(root: Path, sim: Simulator) -> None:
    session = sim_session(root, sim)
    app = WizardApp(session)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        app.screen.query_one("#serial", Input).value = "999999999999"
        await next_step(pilot)
        await log_in(pilot, app, sim.state.username, sim.state.password)
        message = text_of(app, "#result")
        assert "not on the account" in message and "Back" in message
        await pilot.press("escape")
        await settle(pilot)
        assert screen_name(app) == "GatewayScreen"


@sync
async def test_unreachable_host_is_reported(root: Path, sim: Simulator) -> None:
    session = sim_session(root, sim)
    app = WizardApp(session)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        app.screen.query_one("#host", Input).value = "127.0.0.1:9"
        await pilot.click("#check")
        await settle(pilot)
        assert "unreachable" in text_of(app, "#probe")


@sync
async def test_failed_step_offers_rollback(root: Path, sim: Simulator) -> None:
    before = tree(root)
    runner = recorder()
    runner.fail.append("systemctl enable --now enphase-monitor@ups")
    session = sim_session(root, sim, runner)
    app = WizardApp(session)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await next_step(pilot)
        await log_in(pilot, app, sim.state.username, sim.state.password)
        for _ in range(4):  # NUT, Secret, Protect, Review: Apply
            await next_step(pilot)
        assert screen_name(app) == "ApplyScreen"
        result = text_of(app, "#result")
        assert "Enable and start enphase-monitor@ups.service" in result
        assert "step(s) were done (marked ✓ above)" in result
        assert tree(root) != before
        await pilot.click("#rollback")
        await settle(pilot)
        assert "Rolled back" in text_of(app, "#result")
        assert tree(root) == before
        await next_step(pilot)
    assert app.return_code == 1


@sync
async def test_not_root_is_a_dry_run(root: Path, sim: Simulator) -> None:
    session = sim_session(root, sim, euid=1000)
    session.dry_run = True
    before = tree(root)
    app = WizardApp(session)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        assert "not running as root" in text_of(app, "#banner")
        await next_step(pilot)
        await log_in(pilot, app, sim.state.username, sim.state.password)
        for _ in range(3):  # NUT, Secret, Protect: Review
            await next_step(pilot)
        assert str(app.screen.query_one("#next", Button).label) == "Exit and print the plan"
        await next_step(pilot)
    assert app.return_code == 0
    assert "dry run: nothing was changed" in app.result_text
    assert "[1] Create directory /var/lib/enphase-monitor" in app.result_text
    assert tree(root) == before


@sync
async def test_quit_before_apply_changes_nothing(root: Path, sim: Simulator) -> None:
    before = tree(root)
    app = WizardApp(sim_session(root, sim))
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await pilot.press("ctrl+q")
        await pilot.pause()
    assert app.result_text == "Cancelled: no changes were made."
    assert tree(root) == before


@sync
async def test_reauth_flow(root: Path, sim: Simulator) -> None:
    setup = sim_session(root, sim)
    ans = setup.answers
    ans.serial, ans.envoy_host = sim.state.serial, sim.gateway_host
    ans.username, ans.password = sim.state.username, sim.state.password
    ans.secret_store = SecretStore.CONFIG
    assert setup.build_plan().apply(setup.system).ok
    sim.update(password="changed-password")
    session = sim_session(root, sim, recorder(**{"systemctl is-enabled": "enabled\n"}),
                          ups="ups", mode=REAUTH)
    assert isinstance(session, Session)
    app = WizardApp(session)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        assert screen_name(app) == "CredentialsScreen"
        await log_in(pilot, app, sim.state.username, "changed-password")
        assert screen_name(app) == "SecretScreen"
        await next_step(pilot)
        assert screen_name(app) == "ReviewScreen"
        assert session.plan is not None
        titles = [c.title for c in session.plan.changes]
        assert titles[0] == "Edit /etc/nut/enphase-ups.conf (enphase-monitor config)"
        assert all("ups.conf" not in t.replace("enphase-ups.conf", "") for t in titles)
        await next_step(pilot)
        assert screen_name(app) == "ApplyScreen"
        await next_step(pilot)
        assert screen_name(app) == "DoneScreen"
        await next_step(pilot)
    config = load_config(root / "etc/nut/enphase-ups.conf", env={})
    assert config.password == "changed-password"
