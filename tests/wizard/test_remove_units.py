"""`--remove` leaves the units it did not enable as it found them: a monitor the user had
enabled and running stays so, upsd stays on (reloaded, and passed to another UPS of the
wizard's that needs it), the driver of the removed section goes, and upsd is not restarted
just before the plan disables it."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from enphase_sim import Simulator

from .conftest import recorder
from .test_batch import answers_file, run
from .test_remove_exact import nut_host

UPSD = "nut-server.service"


def units_of(changes: list[str], unit: str) -> list[str]:
    """The recorded commands that name `unit`."""
    return [c for c in changes if c.startswith("systemctl") and unit in c.split()]


def test_a_monitor_enabled_and_running_before_the_setup_stays_so(
        tmp_path: Path, sim: Simulator, capsys: pytest.CaptureFixture[str]) -> None:
    root = nut_host(tmp_path, "MODE=standalone\n")
    before = {"systemctl is-enabled enphase-monitor@ups.service": "enabled\n",
              "systemctl is-enabled nut-server.service": "enabled\n",
              "systemctl is-enabled nut-monitor.service": "enabled\n"}
    answers = answers_file(tmp_path / "a", sim)
    assert run(root, sim, ["-n", "--answers", str(answers)], recorder(**before)) == 0
    remover = recorder(**before, **{"systemctl is-enabled nut-driver@ups.service": "enabled\n",
                                    "systemctl is-active": "active\n"})
    capsys.readouterr()
    assert run(root, sim, ["-n", "--remove", "ups", "--delete-files"], remover) == 0
    assert units_of(remover.changes, "enphase-monitor@ups.service") == []
    assert units_of(remover.changes, "nut-driver@ups.service") == [
        "systemctl disable --now nut-driver@ups.service"]
    assert units_of(remover.changes, UPSD)[-1] == f"systemctl try-reload-or-restart {UPSD}"
    assert not any(c.startswith(("systemctl disable", "systemctl stop")) and UPSD in c
                   for c in remover.changes)
    assert ("enphase-monitor@ups.service is enabled and running, and enphase-setup did not"
            " enable it: it stays so (it starts with nut-driver@ups.service, which goes)"
            ) in capsys.readouterr().out


def test_a_driver_enabled_before_the_setup_goes_with_its_section(
        tmp_path: Path, sim: Simulator) -> None:
    root = nut_host(tmp_path, "MODE=standalone\n")
    enabled = {"systemctl is-enabled nut-driver@ups.service": "enabled\n",
               "systemctl is-enabled nut-server.service": "enabled\n"}
    answers = answers_file(tmp_path / "a", sim, PROTECT="no")
    assert run(root, sim, ["-n", "--answers", str(answers)], recorder(**enabled)) == 0
    record = json.loads((root / "etc/nut/enphase-ups.undo").read_text())
    assert "nut-driver@ups.service" not in record["units"]
    remover = recorder(**enabled, **{"systemctl is-active": "active\n"})
    assert run(root, sim, ["-n", "--remove", "ups", "--delete-files"], remover) == 0
    assert "systemctl disable --now enphase-monitor@ups.service nut-driver@ups.service" \
        in remover.changes
    assert not any(c.startswith("systemctl stop") for c in remover.changes)


def test_upsd_is_not_restarted_just_before_it_is_disabled(tmp_path: Path,
                                                          sim: Simulator) -> None:
    root = nut_host(tmp_path, "MODE=none\n")
    answers = answers_file(tmp_path / "a", sim, NAS_LISTEN="192.168.1.10")
    setup = recorder()
    assert run(root, sim, ["-n", "--answers", str(answers)], setup) == 0
    assert f"systemctl enable --now {UPSD}" in setup.changes
    remover = recorder(**{"systemctl is-active": "active\n"})
    assert run(root, sim, ["-n", "--remove", "ups", "--delete-files"], remover) == 0
    assert units_of(remover.changes, UPSD) == [f"systemctl disable --now {UPSD}"]


def test_upsd_enabled_by_one_ups_passes_to_the_one_that_remains(
        tmp_path: Path, sim: Simulator) -> None:
    """A's set-up enabled upsd; B's found it enabled. Removing A keeps upsd on for B (and
    hands it to B's record); removing B then disables it, as it was before A."""
    root = nut_host(tmp_path, "MODE=none\n")
    upsd_on = {f"systemctl is-enabled {UPSD}": "enabled\n"}
    first = recorder()
    assert run(root, sim, ["-n", "--answers", str(answers_file(tmp_path / "a", sim, UPS="a",
                                                               PROTECT="no"))], first) == 0
    assert f"systemctl enable --now {UPSD}" in first.changes
    assert run(root, sim, ["-n", "--answers", str(answers_file(tmp_path / "b", sim, UPS="b",
                                                               PROTECT="no"))],
               recorder(**upsd_on)) == 0
    record_b = root / "etc/nut/enphase-b.undo"
    assert UPSD not in json.loads(record_b.read_text())["units"]
    remove_a = recorder(**upsd_on)
    assert run(root, sim, ["-n", "--remove", "a", "--delete-files"], remove_a) == 0
    assert units_of(remove_a.changes, UPSD) == [f"systemctl try-reload-or-restart {UPSD}"]
    assert UPSD in json.loads(record_b.read_text())["units"]
    remove_b = recorder(**upsd_on)
    assert run(root, sim, ["-n", "--remove", "b", "--delete-files"], remove_b) == 0
    assert units_of(remove_b.changes, UPSD) == [f"systemctl disable --now {UPSD}"]
