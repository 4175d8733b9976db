"""A second UPS set up with `-n` on a host where one is set up already: it gets its own port
file and ups.conf description, never the first one's (two daemons writing one port file would
show one gateway's state under the other UPS's name, and hide it when either goes nocomms)."""

from __future__ import annotations

from pathlib import Path

import pytest
from textual.widgets import Input, Static

from enphase_monitor.config import load_config
from enphase_setup.nutconf import UpsConf
from enphase_sim import Simulator

from .conftest import DEBIAN_UPS_CONF, fixed_app, make_root, settle, sync, to_nut
from .test_batch import answers_file, run
from .test_remove_exact import diff, nut_host, snapshot

STATE = Path("/var/lib/enphase-monitor")


def setting(root: Path, ups: str, key: str) -> str:
    """`key` of section [ups] in the fake root's ups.conf."""
    section = UpsConf((root / "etc/nut/ups.conf").read_text()).section(ups)
    assert section is not None, f"no section [{ups}]"
    return section.settings[key]


def test_a_second_ups_gets_its_own_port_file(tmp_path: Path, sim: Simulator) -> None:
    root = nut_host(tmp_path, "MODE=none\n")
    first = answers_file(tmp_path / "a", sim, UPS="a", PROTECT="no", DESC="rack A")
    assert run(root, sim, ["-n", "--answers", str(first)]) == 0
    second = answers_file(tmp_path / "b", sim, UPS="b", PROTECT="no")  # no PORT_FILE, no DESC
    assert run(root, sim, ["-n", "--answers", str(second)]) == 0
    ports = {ups: setting(root, ups, "port") for ups in ("a", "b")}
    assert ports == {"a": str(STATE / "a.dev"), "b": str(STATE / "b.dev")}
    assert setting(root, "a", "desc") == "rack A" and setting(root, "b", "desc") != "rack A"
    config = load_config(root / "etc/nut/enphase-b.conf", env={})
    assert str(config.port_file) == str(STATE / "b.dev")
    assert (root / "var/lib/enphase-monitor/b.dev").exists()
    assert run(root, sim, ["-n", "--remove", "b", "--delete-files"]) == 0
    assert (root / "var/lib/enphase-monitor/a.dev").exists()  # a's port file is a's
    assert str(load_config(root / "etc/nut/enphase-a.conf", env={}).port_file) == \
        str(STATE / "a.dev")


def test_an_explicit_port_file_still_wins(tmp_path: Path, sim: Simulator) -> None:
    root = nut_host(tmp_path, "MODE=none\n")
    first = answers_file(tmp_path / "a", sim, UPS="a", PROTECT="no")
    assert run(root, sim, ["-n", "--answers", str(first)]) == 0
    second = answers_file(tmp_path / "b", sim, UPS="b", PROTECT="no",
                          PORT_FILE="/var/lib/enphase-monitor/solar.dev")
    assert run(root, sim, ["-n", "--answers", str(second)]) == 0
    assert setting(root, "b", "port") == str(STATE / "solar.dev")


@pytest.mark.parametrize("port", ["/var/lib/enphase-monitor/a.dev", "/srv/user.dev"])
def test_a_port_file_another_ups_uses_is_refused(tmp_path: Path, sim: Simulator, port: str,
                                                 capsys: pytest.CaptureFixture[str]) -> None:
    """PORT_FILE of another UPS (the wizard's `a`, or the user's own section's port): refused
    with one line naming that UPS, nothing written."""
    root = nut_host(tmp_path, "MODE=none\n")
    first = answers_file(tmp_path / "a", sim, UPS="a", PROTECT="no")
    assert run(root, sim, ["-n", "--answers", str(first)]) == 0
    conf = root / "etc/nut/ups.conf"
    conf.write_text(conf.read_text() + "\n[mine]\n\tdriver = dummy-ups\n\tport = /srv/user.dev\n")
    before = snapshot(root)
    capsys.readouterr()
    second = answers_file(tmp_path / "b", sim, UPS="b", PROTECT="no", PORT_FILE=port)
    assert run(root, sim, ["-n", "--answers", str(second)]) == 2
    owner = "a" if port.endswith("a.dev") else "mine"
    said = capsys.readouterr()
    assert f"{port} is already the port file of UPS {owner}" in said.out + said.err
    assert diff(before, snapshot(root)) == []
    again = answers_file(tmp_path / "a2", sim, UPS="a", PROTECT="no",
                         PORT_FILE=str(STATE / "a.dev"))
    assert run(root, sim, ["-n", "--answers", str(again)]) == 0  # a's own: an edit


@sync
async def test_the_nut_step_refuses_another_ups_port_file(tmp_path: Path) -> None:
    root = make_root(tmp_path, ups_conf=DEBIAN_UPS_CONF + "\n[mine]\n  driver = dummy-ups\n"
                     "  port = /srv/user.dev\n")
    app = fixed_app(root)
    async with app.run_test(size=(100, 30)) as pilot:
        await to_nut(pilot)
        app.screen.query_one("#port", Input).value = "/srv/user.dev"
        await pilot.press("ctrl+n")
        await settle(pilot)
        assert type(app.screen).__name__ == "NutScreen"  # refused
        error = str(app.screen.query_one("#port-error", Static).render())
        assert "/srv/user.dev is already the port file of UPS mine" in error
        app.screen.query_one("#port", Input).value = "/srv/ups.dev"
        await pilot.press("ctrl+n")
        await settle(pilot)
        assert type(app.screen).__name__ == "SecretScreen"


def credential_setup(tmp_path: Path, sim: Simulator) -> Path:
    """UPS `a` with its password as a systemd credential (made by hand: the fake root's
    systemd-creds is recorded, not run)."""
    root = nut_host(tmp_path, "MODE=none\n")
    first = answers_file(tmp_path / "a", sim, UPS="a", PROTECT="no", SECRET_STORE="systemd-creds")
    assert run(root, sim, ["-n", "--answers", str(first)]) == 0
    stored = root / "etc/credstore.encrypted/enphase-monitor-a.password"
    stored.parent.mkdir(parents=True, exist_ok=True)
    stored.write_bytes(b"encrypted")
    return root


def test_a_new_ups_does_not_keep_the_other_ups_stored_secret(
        tmp_path: Path, sim: Simulator, capsys: pytest.CaptureFixture[str]) -> None:
    """`a`'s credential is a's: `b` without a PASSWORD is refused (exit 2), not set up with
    PASSWORD_CREDENTIAL and no credential (its daemon could never log in)."""
    root = credential_setup(tmp_path, sim)
    before = snapshot(root)
    capsys.readouterr()
    second = answers_file(tmp_path / "b", sim, UPS="b", PROTECT="no", PASSWORD=None,
                          SECRET_STORE=None)
    assert run(root, sim, ["-n", "--answers", str(second)]) == 2
    assert "PASSWORD is needed" in capsys.readouterr().out
    assert diff(before, snapshot(root)) == []


@sync
async def test_the_secret_step_asks_for_a_new_ups_secret(tmp_path: Path, sim: Simulator) -> None:
    root = credential_setup(tmp_path, sim)
    app = fixed_app(root)
    assert app.session.answers.keep_secret  # a's stored secret
    async with app.run_test(size=(100, 30)) as pilot:
        await settle(pilot)
        for _ in range(2):  # Gateway; Credentials with the password left empty: kept
            await pilot.press("ctrl+n")
            await settle(pilot)
        assert type(app.screen).__name__ == "NutScreen"
        app.screen.query_one("#ups", Input).value = "b"
        await pilot.press("ctrl+n")
        await settle(pilot)
        assert type(app.screen).__name__ == "SecretScreen"
        await pilot.press("ctrl+n")
        await settle(pilot)
        assert type(app.screen).__name__ == "SecretScreen"  # refused: b has no secret
        assert "no stored secret" in str(app.screen.query_one("#problem", Static).render())
        for _ in range(2):  # Back to NUT, Back to Credentials
            await pilot.press("escape")
            await settle(pilot)
        assert type(app.screen).__name__ == "CredentialsScreen"
        app.screen.query_one("#password", Input).value = "secret"
        for name in ("NutScreen", "SecretScreen", "ProtectStep"):
            await pilot.press("ctrl+n")
            await settle(pilot)
            assert type(app.screen).__name__ == name
        assert app.session.answers.ups == "b" and app.session.answers.password == "secret"
        assert not app.session.answers.keep_secret
