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
