"""Issue 13, item by item, through Textual's Pilot: what a new user trips over."""

from __future__ import annotations

import json
import threading
from pathlib import Path

import pytest
from textual.widgets import Button, Checkbox, Input, Static

from enphase_setup import draft
from enphase_setup.answers import Answers
from enphase_setup.app import WizardApp
from enphase_setup.discovery import Found
from enphase_setup.runner import NOT_RUN, Result
from enphase_setup.validate import CheckResult, Progress

from .conftest import DEBIAN_UPS_CONF, fixed_app, make_root, screen_text, settle, sync, to_nut

SMALL = (80, 24)
DUMMY_SECTION = DEBIAN_UPS_CONF + "\n[other]\n  driver = dummy-ups\n  port = other.dev\n"
HAND_MADE = DEBIAN_UPS_CONF.replace("[other]", "[apc]") + (
    "\n[other]\n  driver = dummy-ups\n  port = other.dev\n  desc = \"made by hand\"\n")


def name(app: WizardApp) -> str:
    return type(app.screen).__name__


def field(app: WizardApp, widget_id: str) -> Input:
    return app.screen.query_one(f"#{widget_id}", Input)


def visible(app: WizardApp, widget_id: str) -> bool:
    """The widget is displayed and inside the terminal (not below the fold)."""
    widget = app.screen.query_one(f"#{widget_id}")
    region = widget.region
    return (widget.display and region.height > 0 and region.y >= 0
            and region.bottom <= app.size.height)


# --------------------------------------------------------------------------- item 2

@sync
async def test_a_rejected_value_stays_visible_next_to_its_error(root: Path) -> None:
    app = fixed_app(root)
    async with app.run_test(size=SMALL) as pilot:
        await to_nut(pilot)
        assert name(app) == "NutScreen"
        for widget_id, typed in (("pollfreq", "2"), ("charge-low", "abc"),
                                 ("port", "/tmp/ups.dev")):
            field(app, widget_id).value = typed
        await pilot.press("ctrl+n")
        await settle(pilot)
        assert name(app) == "NutScreen"  # refused
        errors = {"charge-low": "a whole number from 0 to 100",
                  "pollfreq": "2 is out of range: a whole number from 5 to 86400",
                  "port": "/tmp is emptied at reboot"}
        for widget_id, message in errors.items():
            assert message in str(app.screen.query_one(f"#{widget_id}-error", Static).render())
        assert app.focused is field(app, "charge-low")  # the first one in the form
        assert visible(app, "charge-low") and visible(app, "charge-low-error")
        line = screen_text(app).splitlines()[field(app, "charge-low").region.y]
        assert "abc" in line  # what was typed is still there, letters too
        assert field(app, "charge-low").region.height == 1


@sync
async def test_an_empty_field_says_so(root: Path) -> None:
    app = fixed_app(root)
    async with app.run_test(size=SMALL) as pilot:
        await to_nut(pilot)
        field(app, "ups").value = ""
        await pilot.press("ctrl+n")
        await settle(pilot)
        assert "needed" in str(app.screen.query_one("#ups-error", Static).render())
        assert visible(app, "ups-error") and app.focused is field(app, "ups")
        field(app, "ups").value = "solar"
        await pilot.pause()
        assert not app.screen.query_one("#ups-error").display  # fixed: the error goes


# --------------------------------------------------------------------------- item 3

@sync
async def test_a_section_not_made_by_the_wizard_is_taken_over_only_when_confirmed(
        tmp_path: Path) -> None:
    root = make_root(tmp_path, ups_conf=HAND_MADE)
    app = fixed_app(root)
    async with app.run_test(size=(100, 30)) as pilot:
        await to_nut(pilot)
        field(app, "ups").value = "other"
        await pilot.pause()
        hint = str(app.screen.query_one("#ups-hint", Static).render())
        assert "enphase-setup did not make" in hint and "port = other.dev" in hint
        assert "free" not in hint
        await pilot.press("ctrl+n")
        await settle(pilot)
        assert name(app) == "ConfirmScreen"
        await pilot.press("n")
        await settle(pilot)
        assert name(app) == "NutScreen" and app.focused is field(app, "ups")
        await pilot.press("ctrl+n")
        await settle(pilot)
        await pilot.press("y")
        await settle(pilot)
        assert name(app) == "SecretScreen"
        assert app.session.answers.adopt_section and app.session.answers.ups == "other"
        assert "other" in screen_text(app).splitlines()[0]  # the step bar follows the name


@sync
async def test_the_step_bar_and_the_name_agree_after_back(root: Path) -> None:
    app = fixed_app(root)
    async with app.run_test(size=(100, 30)) as pilot:
        await to_nut(pilot)
        field(app, "ups").value = "solar"
        await pilot.pause()
        assert "solar" in screen_text(app).splitlines()[0]
        await pilot.press("ctrl+n")
        await settle(pilot)
        await pilot.press("escape")
        await settle(pilot)
        assert name(app) == "NutScreen"
        assert field(app, "ups").value == "solar"
        assert "· solar" in screen_text(app).splitlines()[0]


# --------------------------------------------------------------------------- item 4

@sync
async def test_typing_lands_in_the_first_field_of_every_screen(root: Path) -> None:
    app = fixed_app(root)
    async with app.run_test(size=(100, 30)) as pilot:
        await settle(pilot)
        field(app, "host").value = ""
        await pilot.press(*"192.168.1.50")
        assert field(app, "host").value == "192.168.1.50"
        await pilot.press("ctrl+n")
        await settle(pilot)
        assert app.focused is field(app, "username")
        await pilot.press(*"owner@example.com", "tab", *"secret", "enter")
        await settle(pilot)
        assert name(app) == "NutScreen" and app.focused is field(app, "ups")
        await pilot.press("ctrl+n")
        await settle(pilot)
        assert name(app) == "SecretScreen" and app.focused is app.screen.query_one("#store")


@sync
async def test_after_back_the_field_that_was_left_has_the_focus(root: Path) -> None:
    app = fixed_app(root)
    async with app.run_test(size=(100, 30)) as pilot:
        await settle(pilot)
        await pilot.press("ctrl+n")
        await settle(pilot)
        await pilot.press(*"owner@example.com", "tab", *"secret", "enter")  # left in password
        await settle(pilot)
        field(app, "pollfreq").focus()
        await pilot.press("ctrl+n")
        await settle(pilot)
        await pilot.press("escape")
        await settle(pilot)
        assert app.focused is field(app, "pollfreq")
        await pilot.press("escape")
        await settle(pilot)
        assert name(app) == "CredentialsScreen" and app.focused is field(app, "password")


@sync
async def test_enter_on_done_quits(root: Path) -> None:
    app = fixed_app(root)
    async with app.run_test(size=(100, 30)) as pilot:
        await to_nut(pilot)
        for _ in range(5):  # NUT, Secret, Protect, Review (apply), Apply
            await pilot.press("ctrl+n")
            await settle(pilot)
        assert name(app) == "DoneScreen"
        assert app.focused is app.screen.query_one("#next", Button)
        await pilot.press("enter")
        await settle(pilot)
    assert app.return_code == 0 and "is set up" in app.result_text


# --------------------------------------------------------------------------- item 9

@sync
async def test_mfa_mode_hides_the_password_label(root: Path) -> None:
    app = fixed_app(root)
    async with app.run_test(size=(100, 30)) as pilot:
        await settle(pilot)
        await pilot.press("ctrl+n")
        await settle(pilot)
        assert "Enlighten password" in screen_text(app)
        await pilot.click("#use-token")
        await settle(pilot)
        assert "Enlighten password" not in screen_text(app)
        assert "Token from Enphase" in screen_text(app)


@sync
async def test_the_port_file_hint_follows_the_path(root: Path) -> None:
    app = fixed_app(root)
    async with app.run_test(size=(100, 30)) as pilot:
        await to_nut(pilot)
        hint = app.screen.query_one("#port-hint", Static)
        assert "/var/lib/enphase-monitor is the daemon's StateDirectory" in str(hint.render())
        field(app, "port").value = "/srv/ups/solar.dev"
        await pilot.pause()
        text = str(hint.render())
        assert "StateDirectory" not in text and text.startswith("/srv/ups:")


# --------------------------------------------------------------------------- item 5

def root_like_the_cli(tmp_path: Path) -> Path:
    """A fake root as `--root` sees it: no command answers, so systemd's version is unknown."""
    root = make_root(tmp_path)
    (root / "usr/bin/systemctl").write_text("")
    return root


@sync
async def test_under_root_the_whole_plan_is_shown_and_marked_would_run(tmp_path: Path) -> None:
    root = root_like_the_cli(tmp_path)
    app = fixed_app(root, **{"systemctl --version": Result(127, "", NOT_RUN)})
    async with app.run_test(size=(120, 40)) as pilot:
        await to_nut(pilot)
        await pilot.press("ctrl+n")
        await settle(pilot)
        creds = app.screen.query_one("#systemd-creds")
        assert not creds.disabled  # the same rule as -n: systemd-creds is there
        for _ in range(2):  # Secret, Protect
            await pilot.press("ctrl+n")
            await settle(pilot)
        assert name(app) == "ReviewScreen"
        plan = app.session.plan
        titles = [plan.title_of(c) for c in plan.changes]
        assert ("Enable and start enphase-monitor@ups.service and nut-driver@ups.service"
                " (would run)") in titles
        assert any("nut-driver@ups.service.d/enphase-monitor.conf" in t for t in titles)
        assert any(t.startswith("Encrypt the password") and t.endswith("(would run)")
                   for t in titles)
        assert any("would run" in note for note in plan.notes)
        await pilot.press("ctrl+n")
        await settle(pilot)
        await pilot.press("enter")
        await settle(pilot)
        assert name(app) == "DoneScreen"
        assert ("Would run on the real host: systemctl enable --now enphase-monitor@ups.service"
                " nut-driver@ups.service") in screen_text(app)


# --------------------------------------------------------------------------- item 7

@sync
async def test_apply_stays_until_seen_with_each_steps_result(root: Path) -> None:
    app = fixed_app(root)
    async with app.run_test(size=(120, 40)) as pilot:
        await to_nut(pilot)
        for _ in range(4):  # NUT, Secret, Protect, Review: Apply
            await pilot.press("ctrl+n")
            await settle(pilot)
        assert name(app) == "ApplyScreen"
        count = len(app.session.plan.changes)
        result = str(app.screen.query_one("#result", Static).render())
        assert f"✓ {count} changes applied" in result
        text = screen_text(app)
        assert "✓ Create /etc/nut/enphase-ups.conf (enphase-monitor config): wrote" in text
        assert "✓ Enable and start enphase-monitor@ups.service and nut-driver@ups.service" \
            in text
        assert app.focused is app.screen.query_one("#next", Button)
        await pilot.press("enter")
        await settle(pilot)
        assert name(app) == "DoneScreen"


# --------------------------------------------------------------------------- item 8

@sync
async def test_80_columns_step_bar_shows_every_step_and_the_current_one(root: Path) -> None:
    app = fixed_app(root)
    async with app.run_test(size=SMALL) as pilot:
        await to_nut(pilot)
        for _ in range(5):
            await pilot.press("ctrl+n")
            await settle(pilot)
        assert name(app) == "DoneScreen"
        bar = screen_text(app).splitlines()[0]
        assert "8 Done" in bar and all(f"{n} ›" in bar for n in range(1, 8)), bar


LONG_DESC = "the solar battery in the garage, behind the inverter, next to the bike"


@sync
async def test_80_columns_review_titles_whole_and_wrapped_diff_rows_keep_their_marker(
        tmp_path: Path) -> None:
    section = (f"\n[ups]\n\t# Enphase (set up by enphase-setup)\n\tdriver = dummy-ups\n"
               f"\tport = /var/lib/enphase-monitor/ups.dev\n\tdesc = \"{LONG_DESC}\"\n")
    root = make_root(tmp_path, ups_conf=DEBIAN_UPS_CONF + section)
    app = fixed_app(root)
    app.session.answers.desc = LONG_DESC.upper()
    async with app.run_test(size=SMALL) as pilot:
        await to_nut(pilot)
        for _ in range(3):
            await pilot.press("ctrl+n")
            await settle(pilot)
        assert name(app) == "ReviewScreen"
        body = app.screen.query_one("#body")
        titles = list(app.screen.query(".change-title").results(Static))
        for title in titles:
            body.scroll_to_widget(title, animate=False, top=True)
            await pilot.pause()
            shown = " ".join(" ".join(screen_text(app).split()).split())
            assert " ".join(str(title.render()).split()) in shown
        number = next(n for n, c in enumerate(app.session.plan.changes, 1)
                      if "NUT section [ups]" in c.title)
        diff = app.screen.query_one(f"#preview-{number}", Static)
        body.scroll_to_widget(diff, animate=False, top=True)
        await pilot.pause()
        rows = screen_text(app).splitlines()[diff.region.y:diff.region.bottom]
        added = [r[diff.region.x + 1:] for r in rows if "GARAGE" in r or "BIKE" in r]
        removed = [r[diff.region.x + 1:] for r in rows if "garage" in r or "bike" in r]
        assert len(added) >= 2 and len(removed) >= 2  # the long lines wrapped
        assert all(r.startswith("+") for r in added), added
        assert all(r.startswith("-") for r in removed), removed


@sync
async def test_a_successful_check_replaces_no_gateway_found(root: Path) -> None:
    app = fixed_app(root)
    app.session.services.discover = list  # nothing found on the network
    async with app.run_test(size=(100, 30)) as pilot:
        await settle(pilot)
        assert "IQ Gateway 122302045678" in str(app.screen.query_one("#probe", Static).render())
        searching = str(app.screen.query_one("#searching", Static).render())
        assert "No gateway found" not in searching and "envoy.local answered" in searching


@sync
async def test_without_dummy_ups_the_nut_step_refuses(tmp_path: Path) -> None:
    root = make_root(tmp_path)
    (root / "lib/nut/dummy-ups").unlink()
    app = fixed_app(root)
    async with app.run_test(size=(100, 30)) as pilot:
        await to_nut(pilot)
        problem = str(app.screen.query_one("#nut-problem", Static).render())
        assert "dummy-ups driver is not installed: install nut-server" in problem
        await pilot.press("ctrl+n")
        await settle(pilot)
        assert name(app) == "NutScreen"


@sync
async def test_netclient_the_nut_step_refuses(tmp_path: Path) -> None:
    root = make_root(tmp_path, mode="netclient")
    app = fixed_app(root)
    async with app.run_test(size=(100, 30)) as pilot:
        await to_nut(pilot)
        problem = str(app.screen.query_one("#nut-problem", Static).render())
        assert "says MODE=netclient" in problem and "needs MODE=standalone or netserver" in problem
        await pilot.press("ctrl+n")
        await settle(pilot)
        assert name(app) == "NutScreen"


# --------------------------------------------------------------------------- item 11

@sync
async def test_keys_typed_during_the_live_check_are_refused_not_misplaced(root: Path) -> None:
    app = fixed_app(root)
    release = threading.Event()
    check = app.session.services.check

    def slow_check(answers: Answers, progress: Progress) -> CheckResult:
        progress("Logging in to Enlighten")
        release.wait(10)
        return check(answers, progress)

    app.session.services.check = slow_check
    async with app.run_test(size=(100, 30)) as pilot:
        await settle(pilot)
        await pilot.press("ctrl+n")
        await settle(pilot)
        await pilot.press(*"owner@example.com", "tab", *"secret", "enter")
        for _ in range(5):
            await pilot.pause()
        assert name(app) == "BusyScreen"
        # typed ahead, as if the next screen were there already
        await pilot.press(*"me@example.com", "tab", *"hunter2", "tab", "enter")
        await pilot.pause()
        assert name(app) == "BusyScreen"
        release.set()
        await settle(pilot)
        await settle(pilot)
        assert name(app) == "NutScreen"
        assert field(app, "ups").value == "ups" and field(app, "pollfreq").value == "60"
        assert app.session.answers.username == "owner@example.com"
        assert app.session.answers.password == "secret"
        assert "hunter2" not in screen_text(app)


@sync
async def test_a_host_typed_during_discovery_is_kept(root: Path) -> None:
    app = fixed_app(root)
    release = threading.Event()
    discover = app.session.services.discover

    def slow_discover() -> list[Found]:
        release.wait(10)
        return discover()

    app.session.services.discover = slow_discover
    async with app.run_test(size=(100, 30)) as pilot:
        for _ in range(3):
            await pilot.pause()
        field(app, "host").value = ""
        await pilot.press(*"192.168.1.50")
        field(app, "serial").focus()
        await pilot.press(*"1234")
        release.set()
        await settle(pilot)
        assert field(app, "host").value == "192.168.1.50"
        assert field(app, "serial").value == "1234"


# --------------------------------------------------------------------------- item 13

@sync
async def test_answers_are_kept_in_a_draft_resumed_and_dropped_once_applied(
        root: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "state"))
    path = draft.default_path()
    assert path == tmp_path / "state/enphase-setup/draft.json"
    app = fixed_app(root)
    app.session.draft = draft.Draft(path, root)
    async with app.run_test(size=(100, 30)) as pilot:
        await to_nut(pilot)
        field(app, "pollfreq").value = "30"
        field(app, "ups").value = "solar"
        await pilot.press("ctrl+n")
        await settle(pilot)
        await pilot.press("ctrl+q")  # or a dropped SSH session: the draft is already there
        await pilot.pause()
    assert "kept in" in app.result_text and str(path) in app.result_text
    saved = json.loads(path.read_text())["answers"]
    assert "secret" not in saved.values() and not {"PASSWORD", "TOKEN"} & set(saved)
    assert saved["POLLFREQ"] == "30" and saved["UPS"] == "solar"
    assert path.stat().st_mode & 0o777 == 0o600
    assert path.parent.stat().st_mode & 0o777 == 0o700

    again = fixed_app(root)
    again.session.draft = draft.Draft(path, root)
    async with again.run_test(size=(100, 30)) as pilot:
        await settle(pilot)
        assert name(again) == "ConfirmScreen"
        question = str(again.screen.query_one("#question", Static).render())
        assert "UPS 'solar', gateway envoy.local" in question
        await pilot.press("enter")  # Resume is the default
        await settle(pilot)
        assert name(again) == "CredentialsScreen"  # the password is never saved
        assert field(again, "username").value == "owner@example.com"
        assert field(again, "password").value == ""
        field(again, "password").value = "secret"
        await pilot.press("ctrl+n")
        await settle(pilot)
        assert name(again) == "NutScreen"
        assert (field(again, "ups").value, field(again, "pollfreq").value) == ("solar", "30")
        for _ in range(4):  # NUT, Secret, Protect, Review: Apply
            await pilot.press("ctrl+n")
            await settle(pilot)
        assert name(again) == "ApplyScreen"
    assert not path.exists()  # applied: the draft is gone


async def to_protect(pilot: object, app: WizardApp) -> None:
    for _ in range(2):  # NUT, Secret: Protect
        await pilot.press("ctrl+n")  # type: ignore[attr-defined]
        await settle(pilot)  # type: ignore[arg-type]
    assert name(app) == "ProtectStep"


@sync
async def test_the_draft_keeps_the_protect_answers_without_passwords(
        root: Path, tmp_path: Path) -> None:
    (root / "lib/nut/upsmon").write_text("")  # nut-client: the host can be protected
    path = tmp_path / "draft.json"
    app = fixed_app(root)
    app.session.draft = draft.Draft(path, root)
    async with app.run_test(size=(100, 34)) as pilot:
        await to_nut(pilot)
        await to_protect(pilot, app)
        app.screen.query_one("#protect", Checkbox).value = False
        app.screen.query_one("#serve", Checkbox).value = True
        await settle(pilot)
        field(app, "listen").value = "192.168.1.77"
        app.screen.query_one("#synology", Checkbox).value = True
        await pilot.press("ctrl+n")
        await settle(pilot)
        assert name(app) == "ReviewScreen"
        given = app.session.protect
        await pilot.press("ctrl+q")
        await pilot.pause()
    assert given is not None
    saved = json.loads(path.read_text())
    assert saved["protect"] == {"PROTECT": "no", "PROTECT_USER": "", "NAS_LISTEN": "192.168.1.77",
                                "NAS_USER": "", "NAS_SYNOLOGY": "yes"}
    for secret in (given.password, given.nas_password):
        assert secret not in path.read_text()

    again = fixed_app(root)
    again.session.draft = draft.Draft(path, root)
    async with again.run_test(size=(100, 34)) as pilot:
        await settle(pilot)
        await pilot.press("enter")  # resume
        await settle(pilot)
        field(again, "password").value = "secret"
        await pilot.press("ctrl+n")
        await settle(pilot)
        await to_protect(pilot, again)
        screen = again.screen
        assert not screen.query_one("#protect", Checkbox).value
        assert screen.query_one("#serve", Checkbox).value
        assert field(again, "listen").value == "192.168.1.77"
        assert screen.query_one("#synology", Checkbox).value


def test_a_draft_never_names_a_file_to_read(root: Path, tmp_path: Path) -> None:
    """A draft is read back as answers: a NAS_PASSWORD_FILE in it is not followed."""
    path = tmp_path / "draft.json"
    app = fixed_app(root)
    draft.Draft(path, root).save(app.session.answers, "review")
    data = json.loads(path.read_text())
    data["protect"] = {"NAS_LISTEN": "192.168.1.5", "NAS_PASSWORD_FILE": "/etc/shadow",
                       "NAS_PASSWORD": "planted"}
    path.write_text(json.dumps(data))
    saved = draft.Draft(path, root).load(app.session.answers)
    assert saved is not None and saved.protect is not None
    assert saved.protect.nas_listen == "192.168.1.5"
    assert saved.protect.nas_password != "planted"


@sync
async def test_start_over_drops_the_draft(root: Path, tmp_path: Path) -> None:
    path = tmp_path / "draft.json"
    first = fixed_app(root)
    first.session.answers.pollfreq = 45
    draft.Draft(path, root).save(first.session.answers, "nut")
    app = fixed_app(root)
    app.session.draft = draft.Draft(path, root)
    async with app.run_test(size=(100, 30)) as pilot:
        await settle(pilot)
        await pilot.press("n")
        await settle(pilot)
        assert name(app) == "GatewayScreen"
    assert not path.exists()
    assert draft.Draft(path, tmp_path / "elsewhere").load(app.session.answers) is None
