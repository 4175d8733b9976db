"""`--remove` of a UPS whose ups.conf section the set-up took over puts the user's section
back byte for byte (the undo record holds its exact text); nothing the user had is lost."""

from __future__ import annotations

from pathlib import Path, PurePosixPath

import pytest

from enphase_setup.facts import NutLayout
from enphase_setup.system import System
from enphase_setup.undo import managed_upses
from enphase_sim import Simulator

from .conftest import make_root, recorder
from .test_batch import answers_file, run
from .test_remove_exact import diff, nut_host, snapshot

DEBIAN_NUT = NutLayout(PurePosixPath("/etc/nut"), "nut", "nut", "Debian")

USER_SECTION = (
    "# my own dummy UPS\r\n"
    "[other]\r\n"
    "  driver = dummy-ups\r\n"
    "  port = /srv/other.dev   # a test port\r\n"
    '  desc = "caf\xe9 UPS"\r\n'
    "\r\n"
    "# the end\r\n"
)


def test_remove_puts_a_taken_over_section_back_byte_for_byte(
        tmp_path: Path, sim: Simulator, capsys: pytest.CaptureFixture[str]) -> None:
    root = make_root(tmp_path, ups_conf=None)
    conf = root / "etc/nut/ups.conf"
    conf.write_bytes(USER_SECTION.encode("latin-1"))  # not UTF-8: every byte must survive
    conf.chmod(0o640)
    before = snapshot(root)
    answers = answers_file(tmp_path / "a", sim, UPS="other", ADOPT_SECTION="yes", PROTECT="no")
    driver = "nut-driver@other.service"  # the user's section had its driver enabled
    runner = recorder(**{"upsc other@localhost": "ups.status: OL\n",
                         f"systemctl is-enabled {driver}": "enabled\n"})
    assert run(root, sim, ["-n", "--answers", str(answers)], runner) == 0
    assert conf.read_bytes() != before["etc/nut/ups.conf"][1]  # taken over
    capsys.readouterr()
    remover = recorder(**{f"systemctl is-enabled {driver}": "enabled\n"})
    assert run(root, sim, ["-n", "--remove", "other", "--delete-files"], remover) == 0
    assert not [c for c in remover.changes if "disable" in c and driver in c]
    assert "put back your section [other] byte for byte" in capsys.readouterr().out
    assert conf.read_bytes() == before["etc/nut/ups.conf"][1]
    assert diff(before, snapshot(root)) == []


def test_a_ups_removed_with_its_config_kept_is_not_handed_the_host(
        tmp_path: Path, sim: Simulator) -> None:
    root = nut_host(tmp_path, "MODE=none\n")
    before = snapshot(root)
    for ups in ("a", "b"):
        answers = answers_file(tmp_path / ups, sim, UPS=ups, PROTECT="no")
        assert run(root, sim, ["-n", "--answers", str(answers)]) == 0
    assert managed(root) == ["a", "b"]
    assert run(root, sim, ["-n", "--remove", "b"]) == 0  # its config (and port file) stay
    assert (root / "etc/nut/enphase-b.conf").exists()
    remover = recorder()
    assert run(root, sim, ["-n", "--remove", "a", "--delete-files"], remover) == 0
    assert (root / "etc/nut/nut.conf").read_bytes() == before["etc/nut/nut.conf"][1]
    assert "systemctl disable --now nut-server.service" in remover.changes
    assert not (root / "etc/nut/enphase-b.undo").exists()  # upsd was not passed to b
    assert managed(root) == []


def managed(root: Path) -> list[str]:
    return managed_upses(System(root, env={}), DEBIAN_NUT)


def test_a_section_put_back_with_the_config_kept_is_taken_over_again_only_when_asked(
        tmp_path: Path, sim: Simulator) -> None:
    root = make_root(tmp_path, ups_conf=None)
    conf = root / "etc/nut/ups.conf"
    conf.write_bytes(USER_SECTION.encode("latin-1"))
    conf.chmod(0o640)
    original = conf.read_bytes()
    answers = answers_file(tmp_path / "a", sim, UPS="other", ADOPT_SECTION="yes", PROTECT="no")
    runner = recorder(**{"upsc other@localhost": "ups.status: OL\n"})
    assert run(root, sim, ["-n", "--answers", str(answers)], runner) == 0
    assert run(root, sim, ["-n", "--remove", "other"]) == 0  # the config stays
    assert conf.read_bytes() == original
    assert (root / "etc/nut/enphase-other.conf").exists()
    plain = answers_file(tmp_path / "b", sim, UPS="other", PROTECT="no")
    assert run(root, sim, ["-n", "--answers", str(plain)], runner) == 2  # the user's again
    assert conf.read_bytes() == original
    assert run(root, sim, ["-n", "--answers", str(answers)], runner) == 0
    assert run(root, sim, ["-n", "--remove", "other", "--delete-files"]) == 0
    assert conf.read_bytes() == original


def older_adopted_setup(tmp_path: Path, sim: Simulator, port: str | None = None) -> Path:
    """UPS `a` set up by the wizard (it turned upsd on), then a `dummy-ups` section [old] taken
    over by a wizard older than undo records: no record, no marker comment under it."""
    root = nut_host(tmp_path, "MODE=none\n")
    answers = answers_file(tmp_path / "a", sim, UPS="a", PROTECT="no")
    assert run(root, sim, ["-n", "--answers", str(answers)]) == 0
    conf = root / "etc/nut/ups.conf"
    conf.write_text(conf.read_text() + "\n[old]\n\tdriver = dummy-ups\n\tport = old.dev\n")
    adopt = answers_file(tmp_path / "old", sim, UPS="old", ADOPT_SECTION="yes", PROTECT="no",
                         PORT_FILE="/var/lib/enphase-monitor/old.dev")
    assert run(root, sim, ["-n", "--answers", str(adopt)]) == 0
    (root / "etc/nut/enphase-old.undo").unlink()  # as an older enphase-setup left it
    assert "set up by enphase-setup" not in conf.read_text().partition("[old]")[2]
    if port is not None:
        conf.write_text(conf.read_text().replace(
            "port = /var/lib/enphase-monitor/old.dev", f"port = {port}"))
    return root


def test_a_section_taken_over_before_records_is_the_wizards_by_its_port(
        tmp_path: Path, sim: Simulator, capsys: pytest.CaptureFixture[str]) -> None:
    """driver dummy-ups reading exactly the port file its enphase-<ups>.conf names: removing
    another UPS keeps upsd and MODE for it, and hands them to it."""
    root = older_adopted_setup(tmp_path, sim)
    assert managed(root) == ["a", "old"]
    capsys.readouterr()
    remover = recorder()
    assert run(root, sim, ["-n", "--remove", "a", "--delete-files"], remover) == 0
    assert "nut.conf keeps MODE=standalone: UPS old (set up by enphase-setup too) needs" \
        " upsd" in capsys.readouterr().out
    assert "MODE=standalone" in (root / "etc/nut/nut.conf").read_text()
    assert not [c for c in remover.changes if "disable" in c and "nut-server" in c]
    assert '"partial": true' in (root / "etc/nut/enphase-old.undo").read_text()


@pytest.mark.parametrize("port", ["/srv/mine.dev", "/var/lib/enphase-monitor/old.dev.bak",
                                  "enphase-monitor/old.dev"])
def test_a_dummy_ups_section_reading_another_port_is_not_the_wizards(
        tmp_path: Path, sim: Simulator, port: str) -> None:
    """Same set-up, but the section reads another file (or a relative port under NUT's dir):
    it is the user's section, the config only a left-over."""
    root = older_adopted_setup(tmp_path, sim, port)
    assert managed(root) == ["a"]


def test_the_port_rule_needs_driver_dummy_ups_and_a_port_file_in_the_config(
        tmp_path: Path, sim: Simulator) -> None:
    root = older_adopted_setup(tmp_path, sim)
    conf = root / "etc/nut/ups.conf"
    text = conf.read_text()
    head, _, section = text.partition("[old]")
    conf.write_text(head + "[old]" + section.replace("driver = dummy-ups", "driver = nutdrv_qx"))
    assert managed(root) == ["a"]
    conf.write_text(text)
    config = root / "etc/nut/enphase-old.conf"
    config.write_text("".join(line for line in config.read_text().splitlines(keepends=True)
                              if not line.startswith("PORT_FILE=")))
    assert managed(root) == ["a"]  # the daemon then reads the section's port: no evidence
