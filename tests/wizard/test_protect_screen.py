"""The "protect this host" screen alone, pushed in a small app and driven by Textual's Pilot."""

from __future__ import annotations

from pathlib import Path

from textual.app import App
from textual.widgets import Checkbox, Input, Static

from enphase_setup import upsmonconf
from enphase_setup.facts import detect_host
from enphase_setup.protect import ProtectAnswers, ProtectPrefill, Watched, make_prefill
from enphase_setup.screens.protect import ProtectScreen
from enphase_setup.system import System

from .conftest import recorder, sync

NOTHING_YET = Watched()
SIZE = (100, 34)


class Host(App[None]):
    """Pushes the screen and keeps what it dismisses."""

    def __init__(self, prefill: ProtectPrefill) -> None:
        super().__init__()
        self.prefill = prefill
        self.results: list[ProtectAnswers | None] = []

    def on_mount(self) -> None:
        self.push_screen(ProtectScreen(self.prefill), self.results.append)


def prefill(**changes: object) -> ProtectPrefill:
    values: dict[str, object] = {"ups": "ups", "answers": ProtectAnswers(),
                                 "watched": NOTHING_YET, "upsmon": True,
                                 "addresses": ("192.168.1.10", "fd00::10")}
    values.update(changes)
    return ProtectPrefill(**values)  # type: ignore[arg-type]


def shown(app: Host, selector: str) -> bool:
    return bool(app.screen.query_one(selector).display)


@sync
async def test_protect_is_offered_and_chosen_by_default() -> None:
    app = Host(prefill())
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        box = app.screen.query_one("#protect", Checkbox)
        assert box.value and not box.disabled and box.has_focus
        assert not shown(app, "#listen") and not shown(app, "#synology-warning")
        await pilot.press("ctrl+n")
        await pilot.pause()
    [result] = app.results
    assert result is not None and result.protect and not result.serve


@sync
async def test_nas_needs_an_address_of_this_host() -> None:
    app = Host(prefill())
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        await pilot.click("#serve")
        await pilot.pause()
        field = app.screen.query_one("#listen", Input)
        assert shown(app, "#listen") and field.value == "192.168.1.10"  # offered
        assert "192.168.1.10, fd00::10" in str(app.screen.query_one("#listen-label",
                                                                     Static).render())
        field.value = "127.0.0.1"
        await pilot.click("#next")
        await pilot.pause()
        assert app.results == []  # refused, and the typed value stays next to its error
        assert field.value == "127.0.0.1"
        assert "loopback" in str(app.screen.query_one("#listen-problem", Static).render())
        field.value = "192.168.1.10"
        field.focus()
        await pilot.press("enter")
        await pilot.pause()
    [result] = app.results
    assert result is not None and result.nas_listen == "192.168.1.10"
    assert not result.nas_synology and result.secondary("ups")[0] == "nas-ups"


@sync
async def test_synology_only_on_request_with_the_public_password_said() -> None:
    app = Host(prefill())
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        assert not shown(app, "#synology")
        await pilot.click("#serve")
        await pilot.pause()
        assert shown(app, "#synology") and not shown(app, "#synology-warning")
        await pilot.click("#synology")
        await pilot.pause()
        warning = str(app.screen.query_one("#synology-warning", Static).render())
        assert shown(app, "#synology-warning") and "public" in warning and "secret" in warning
        await pilot.click("#next")
        await pilot.pause()
    [result] = app.results
    assert result is not None and result.secondary("ups") == ("monuser", "secret")


@sync
async def test_back_dismisses_nothing() -> None:
    app = Host(prefill())
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        await pilot.press("escape")
        await pilot.pause()
    assert app.results == [None]


@sync
async def test_already_protected_is_said_and_not_offered(tmp_path: Path) -> None:
    root = tmp_path / "root"
    (root / "etc/nut").mkdir(parents=True)
    (root / "lib/nut").mkdir(parents=True)
    (root / "lib/nut/upsmon").write_text("")
    (root / "etc/nut/upsd.users").write_text("[me]\n\tpassword = pw\n\tupsmon primary\n")
    (root / "etc/nut/upsmon.conf").write_text("MONITOR ups@localhost 1 me pw primary\n")
    system = System(root, env={}, runner=recorder(**{
        "ip -o addr show scope global": "2: eth0    inet 192.168.1.10/24 brd 192.168.1.255"
                                        " scope global eth0\n"}))
    pre = make_prefill(system, detect_host(system), "ups")
    assert pre.watched.working and pre.addresses == ("192.168.1.10",)
    assert upsmonconf.monitors((root / "etc/nut/upsmon.conf").read_text())[0].user == "me"
    app = Host(pre)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        box = app.screen.query_one("#protect", Checkbox)
        assert box.disabled and not box.value
        assert app.screen.query_one("#serve", Checkbox).has_focus
        assert "already protected" in str(app.screen.query_one("#status", Static).render())
        await pilot.click("#next")
        await pilot.pause()
    [result] = app.results
    assert result is not None and not result.protect and not result.serve


@sync
async def test_without_upsmon_it_says_what_to_install() -> None:
    app = Host(prefill(upsmon=False))
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        assert app.screen.query_one("#protect", Checkbox).disabled
        assert "install nut-client" in str(app.screen.query_one("#status", Static).render())
