"""`--remove` leaves the host as the set-up found it: every change the apply made has its undo
recorded at apply time (the units it enabled, the files and directories it created, nut.conf's
MODE marker) and replayed, so the fake root comes back byte for byte, directories included."""

from __future__ import annotations

import shutil
import stat
from pathlib import Path

import pytest

from enphase_setup.facts import nut_mode
from enphase_setup.nutmode import hand_over, has_marker, restore_mode, set_mode
from enphase_sim import Simulator

from .conftest import make_root, recorder
from .test_batch import answers_file, run

DEBIAN = Path(__file__).resolve().parents[1] / "fixtures" / "nut-debian"


def snapshot(root: Path) -> dict[str, tuple[str, bytes]]:
    """Every file and directory under root: its type and mode, and a file's bytes."""
    out: dict[str, tuple[str, bytes]] = {}
    for path in sorted(root.rglob("*")):
        mode = stat.S_IMODE(path.lstat().st_mode)
        if path.is_dir():
            out[str(path.relative_to(root))] = (f"dir {mode:o}", b"")
        else:
            out[str(path.relative_to(root))] = (f"file {mode:o}", path.read_bytes())
    return out


def nut_host(tmp_path: Path, nut_conf: str | None) -> Path:
    root = make_root(tmp_path)
    for name in ("upsd.users", "upsmon.conf", "upsd.conf"):
        shutil.copy(DEBIAN / name, root / "etc/nut" / name)
        (root / "etc/nut" / name).chmod(0o640)
    (root / "lib/nut/upsmon").write_text("")
    if nut_conf is None:
        (root / "etc/nut/nut.conf").unlink()
    else:
        (root / "etc/nut/nut.conf").write_text(nut_conf)
    return root


def diff(before: dict[str, tuple[str, bytes]], after: dict[str, tuple[str, bytes]]) -> list[str]:
    return sorted(k for k in before.keys() | after.keys() if before.get(k) != after.get(k))


@pytest.mark.parametrize("nut_conf", [None, "# nut.conf\nMODE=none\n", "MODE=standalone\n"],
                         ids=["no-nut.conf", "mode-none", "mode-standalone"])
@pytest.mark.parametrize("nas", [False, True], ids=["protect", "protect+nas"])
def test_apply_then_remove_gives_the_tree_back(tmp_path: Path, sim: Simulator,
                                               nut_conf: str | None, nas: bool) -> None:
    root = nut_host(tmp_path, nut_conf)
    before = snapshot(root)
    extra = {"NAS_LISTEN": "192.168.1.10"} if nas else {}
    answers = answers_file(tmp_path / "a", sim, **extra)
    setup = recorder()
    assert run(root, sim, ["-n", "--answers", str(answers)], setup) == 0
    assert (root / "etc/nut/enphase-ups.undo").exists()
    assert diff(before, snapshot(root))  # something was set up
    remover = recorder()
    assert run(root, sim, ["-n", "--remove", "ups", "--delete-files"], remover) == 0
    assert diff(before, snapshot(root)) == []
    enabled = [c for c in setup.changes if c.startswith("systemctl enable")]
    disabled = [c for c in remover.changes if c.startswith("systemctl disable")]
    assert sorted(c.replace("enable", "disable", 1) for c in enabled) == sorted(disabled)


def test_units_already_enabled_are_neither_enabled_nor_disabled(
        tmp_path: Path, sim: Simulator) -> None:
    root = nut_host(tmp_path, "MODE=standalone\n")
    before = snapshot(root)
    already = recorder(**{"systemctl is-enabled enphase-monitor@ups.service": "enabled\n",
                          "systemctl is-enabled nut-server.service": "enabled\n",
                          "systemctl is-enabled nut-monitor.service": "enabled\n"})
    answers = answers_file(tmp_path / "a", sim)
    assert run(root, sim, ["-n", "--answers", str(answers)], already) == 0
    enabled = [c for c in already.changes if c.startswith("systemctl enable")]
    assert enabled == ["systemctl enable --now nut-driver@ups.service"]
    remover = recorder(**{"systemctl is-enabled": "enabled\n"})
    assert run(root, sim, ["-n", "--remove", "ups", "--delete-files"], remover) == 0
    disabled = [c for c in remover.changes if c.startswith("systemctl disable")]
    assert disabled == ["systemctl disable --now nut-driver@ups.service"]
    assert diff(before, snapshot(root)) == []


def test_directories_that_are_not_empty_stay(tmp_path: Path, sim: Simulator) -> None:
    root = nut_host(tmp_path, "MODE=none\n")
    answers = answers_file(tmp_path / "a", sim)
    assert run(root, sim, ["-n", "--answers", str(answers)]) == 0
    (root / "var/lib/enphase-monitor/mine").write_text("a file of the user's\n")
    assert run(root, sim, ["-n", "--remove", "ups", "--delete-files"]) == 0
    assert (root / "var/lib/enphase-monitor/mine").exists()
    assert not (root / "etc/credstore.encrypted").exists()


@pytest.mark.parametrize("before", [
    "", "MODE=none\n", "# c\r\nMODE=standalone\r\n", "MODE=none\n# after\n", "x", "MODE=none",
    'MODE = "none"  # off; see `man nut.conf`\n', "  MODE=none\r\n",
    "MODE=none\nMODE = none # 2\n"])
def test_one_mode_marker_restores_through_two_changes(before: str) -> None:
    standalone = set_mode(before, "ups", "standalone")
    netserver = set_mode(standalone, "ups", "netserver")
    assert has_marker(netserver, "ups")
    assert netserver.count("enphase-setup ups:") == 1
    def mode_lines(text: str) -> int:
        return sum(nut_mode(line) is not None for line in text.splitlines())
    assert nut_mode(netserver) == "netserver"
    assert mode_lines(netserver) == max(mode_lines(before), 1)  # replaced, never added
    assert restore_mode(netserver, "ups") == before


def test_the_marker_is_handed_to_a_ups_that_still_needs_upsd() -> None:
    text = set_mode("MODE=none\n", "a", "standalone")
    kept = hand_over(text, "a", "b")
    assert not has_marker(kept, "a") and has_marker(kept, "b")
    assert "`enphase-setup --remove b`" in kept
    assert restore_mode(kept, "b") == "MODE=none\n"


PATTERN = "/var/lib/enphase-monitor(/.*)?"


@pytest.mark.parametrize("before", [False, True], ids=["added-by-setup", "the-users-own"])
def test_an_selinux_file_context_is_deleted_only_when_the_setup_added_it(
        tmp_path: Path, sim: Simulator, before: bool) -> None:
    root = make_root(tmp_path, selinux=True)
    listed = f"{PATTERN}  all files  system_u:object_r:nut_conf_t:s0\n"
    setup = recorder(**{"semanage fcontext -l -C": listed if before else ""})
    answers = answers_file(tmp_path / "a", sim)
    assert run(root, sim, ["-n", "--answers", str(answers)], setup) == 0
    added = f"semanage fcontext -a -t nut_conf_t '{PATTERN}'"
    assert (added in setup.changes) is not before
    remover = recorder(**{"semanage fcontext -l -C": listed})
    assert run(root, sim, ["-n", "--remove", "ups", "--delete-files"], remover) == 0
    assert (f"semanage fcontext -d '{PATTERN}'" in remover.changes) is not before


def test_a_record_begun_on_an_older_setup_still_removes_its_units(
        tmp_path: Path, sim: Simulator) -> None:
    """A set-up from before records, then an edit that records something: the record is
    partial, so --remove still disables the UPS's enabled units as before."""
    root = nut_host(tmp_path, "MODE=standalone\n")
    answers = answers_file(tmp_path / "a", sim, PROTECT="no")
    assert run(root, sim, ["-n", "--answers", str(answers)]) == 0
    record = root / "etc/nut/enphase-ups.undo"
    record.unlink()  # as an older enphase-setup left it
    shutil.rmtree(root / "etc/systemd/system/nut-driver@ups.service.d")
    assert run(root, sim, ["-n", "--answers", str(answers)]) == 0  # re-creates the drop-in
    assert '"partial": true' in record.read_text()
    remover = recorder(**{"systemctl is-enabled": "enabled\n"})
    assert run(root, sim, ["-n", "--remove", "ups", "--delete-files"], remover) == 0
    assert "systemctl disable --now enphase-monitor@ups.service nut-driver@ups.service" \
        in remover.changes


def test_mode_stays_while_another_ups_of_the_wizard_needs_upsd(
        tmp_path: Path, sim: Simulator, capsys: pytest.CaptureFixture[str]) -> None:
    root = nut_host(tmp_path, "MODE=none\n")
    before = (root / "etc/nut/nut.conf").read_text()
    for ups in ("a", "b"):
        answers = answers_file(tmp_path / ups, sim, UPS=ups, PROTECT="no")
        assert run(root, sim, ["-n", "--answers", str(answers)]) == 0
    capsys.readouterr()
    assert run(root, sim, ["-n", "--remove", "a", "--delete-files"]) == 0
    assert "note: nut.conf keeps MODE=standalone: UPS b (set up by enphase-setup too) needs" \
        " upsd" in capsys.readouterr().out
    assert "MODE=standalone" in (root / "etc/nut/nut.conf").read_text()
    assert run(root, sim, ["-n", "--remove", "b", "--delete-files"]) == 0
    assert (root / "etc/nut/nut.conf").read_text() == before


def test_the_daemons_served_record_goes_with_the_ups(tmp_path: Path, sim: Simulator) -> None:
    """The daemon under systemd leaves `enphase-<ups>.served` in its StateDirectory (a clean
    stop keeps it, docs/behaviour.md): --remove deletes it with the token cache, so the state
    directory the set-up created goes too; another UPS's record stays."""
    root = nut_host(tmp_path, "MODE=none\n")
    before = snapshot(root)
    answers = answers_file(tmp_path / "a", sim)
    assert run(root, sim, ["-n", "--answers", str(answers)]) == 0
    state = root / "var/lib/enphase-monitor"
    (state / "enphase-ups.served").write_text("/var/lib/enphase-monitor/ups.dev\n")
    (state / "enphase-other.served").write_text("/srv/other.dev\n")
    assert run(root, sim, ["-n", "--remove", "ups", "--delete-files"]) == 0
    assert not (state / "enphase-ups.served").exists()
    (state / "enphase-other.served").unlink()  # not the wizard's: it stayed
    assert diff(before, snapshot(root)) == ["var/lib/enphase-monitor"]  # kept: it was not empty
