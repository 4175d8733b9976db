"""Protect this host through the plan and `-n --answers`: what is written, what is run, what
is skipped, and that rollback and --remove give NUT's files back byte for byte."""

from __future__ import annotations

import re
import shutil
import stat
from pathlib import Path

import pytest

from enphase_setup import upsdusers, upsmonconf
from enphase_setup.facts import detect_host, nut_mode
from enphase_setup.protect import ProtectAnswers, watched
from enphase_setup.protectplan import extend_setup
from enphase_setup.runner import RecordingRunner
from enphase_setup.system import System
from enphase_sim import Simulator

from .conftest import make_root, recorder
from .test_batch import answers_file, run
from .test_plan import session_for, tree

DEBIAN = Path(__file__).resolve().parents[1] / "fixtures" / "nut-debian"
NUT_FILES = ("upsd.users", "upsmon.conf", "upsd.conf")


@pytest.fixture
def host(tmp_path: Path) -> Path:
    """A fake Debian root with NUT's shipped upsd.users, upsmon.conf, upsd.conf and upsmon."""
    root = make_root(tmp_path)
    for name in NUT_FILES:
        shutil.copy(DEBIAN / name, root / "etc/nut" / name)
        (root / "etc/nut" / name).chmod(0o640)
    (root / "lib/nut/upsmon").write_text("")
    return root


def nut(root: Path, name: str) -> str:
    return (root / "etc/nut" / name).read_text()


def test_protect_by_default(host: Path, sim: Simulator, tmp_path: Path,
                            capsys: pytest.CaptureFixture[str]) -> None:
    runner = recorder()
    assert run(host, sim, ["-n", "--answers", str(answers_file(tmp_path / "a", sim))],
               runner) == 0
    out = capsys.readouterr().out
    [user] = [u for u in upsdusers.users(nut(host, "upsd.users")).values()]
    assert (user.name, user.role, user.added_for) == ("upsmon-ups", "primary", "ups")
    assert user.password and len(user.password) >= 24
    [line] = upsmonconf.monitors(nut(host, "upsmon.conf"))
    assert (line.ups, line.host, line.user, line.password, line.role) == (
        "ups", "localhost", "upsmon-ups", user.password, "primary")
    assert user.password not in out  # the review and the log show <hidden>
    assert "password = <hidden>" in out and "upsmon-ups <hidden> primary" in out
    assert nut(host, "upsd.conf") == (DEBIAN / "upsd.conf").read_text()  # no LAN: untouched
    for name in ("upsd.users", "upsmon.conf"):
        assert stat.S_IMODE((host / "etc/nut" / name).stat().st_mode) == 0o640
    assert "systemctl reload-or-restart nut-server.service" in runner.changes
    assert "systemctl enable --now nut-monitor.service" in runner.changes
    assert runner.changes.index("systemctl reload-or-restart nut-server.service") < \
        runner.changes.index("systemctl enable --now nut-monitor.service")
    assert "next: This host is protected: upsmon watches ups@localhost" in out
    assert "On this host, upsmon.conf: MONITOR" not in out


def test_rerun_plans_nothing_and_says_so(host: Path, sim: Simulator, tmp_path: Path,
                                         capsys: pytest.CaptureFixture[str]) -> None:
    answers = answers_file(tmp_path / "a", sim, NAS_LISTEN="192.168.1.10")
    assert run(host, sim, ["-n", "--answers", str(answers)]) == 0
    before = tree(host)
    capsys.readouterr()
    assert run(host, sim, ["-n", "--answers", str(answers)]) == 0
    out = capsys.readouterr().out
    assert "note: already protected: upsmon.conf has MONITOR ups@localhost as user" in out
    planned = [line for line in out.splitlines() if re.match(r"\[\d+\] ", line)]
    assert not [line for line in planned if "/etc/nut/" in line or "nut-monitor" in line]
    for name in NUT_FILES:
        assert tree(host)[f"etc/nut/{name}"] == before[f"etc/nut/{name}"]


def test_nas_clients_on_the_lan(host: Path, sim: Simulator, tmp_path: Path,
                                capsys: pytest.CaptureFixture[str]) -> None:
    runner = recorder()
    answers = answers_file(tmp_path / "a", sim, NAS_LISTEN="192.168.1.10")
    assert run(host, sim, ["-n", "--answers", str(answers)], runner) == 0
    out = capsys.readouterr().out
    accounts = upsdusers.users(nut(host, "upsd.users"))
    assert accounts["nas-ups"].role == "secondary" and accounts["nas-ups"].password
    assert accounts["nas-ups"].password not in out
    assert "LISTEN 192.168.1.10\nLISTEN ::1\nLISTEN 127.0.0.1\n" in nut(host, "upsd.conf")
    assert nut_mode(nut(host, "nut.conf")) == "netserver"
    planned = [line for line in out.splitlines() if re.match(r"\[\d+\] Edit /etc/nut/nut", line)]
    assert len(planned) == 1, planned  # one change, none -> netserver (set-up's merged in)
    assert "systemctl restart nut-server.service" in runner.changes
    assert "next: On the NAS: UPS server 192.168.1.10, port 3493, UPS name ups, user nas-ups," \
           " password in /etc/nut/upsd.users (section [nas-ups])" in out
    assert "secret" not in out.split("next:", 1)[1]


def test_synology_only_on_request_and_said_to_be_public(
        host: Path, sim: Simulator, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    answers = answers_file(tmp_path / "a", sim, NAS_LISTEN="192.168.1.10", NAS_SYNOLOGY="yes")
    assert run(host, sim, ["-n", "--answers", str(answers)]) == 0
    out = capsys.readouterr().out
    assert "monuser with password 'secret' is public knowledge" in out
    account = upsdusers.users(nut(host, "upsd.users"))["monuser"]
    assert (account.password, account.role) == ("secret", "secondary")


def test_protect_no(host: Path, sim: Simulator, tmp_path: Path) -> None:
    before = tree(host)
    answers = answers_file(tmp_path / "a", sim, PROTECT="no")
    assert run(host, sim, ["-n", "--answers", str(answers)]) == 0
    for name in NUT_FILES:
        assert tree(host)[f"etc/nut/{name}"] == before[f"etc/nut/{name}"]


@pytest.mark.parametrize(("users", "problem"), [
    ("[upsmon]\n\tpassword = pw\n\tupsmon primary\n", ""),
    ("[upsmon]\n\tpassword = other\n\tupsmon primary\n", "its password is not the one"),
    ("", "upsd.users has no user upsmon"),
    ("[upsmon]\n\tpassword = pw\n", "has no 'upsmon' line"),
])
def test_an_existing_upsmon_setup_is_left_alone(host: Path, sim: Simulator, tmp_path: Path,
                                                capsys: pytest.CaptureFixture[str],
                                                users: str, problem: str) -> None:
    (host / "etc/nut/upsd.users").write_text(users)
    (host / "etc/nut/upsmon.conf").write_text("MONITOR ups@127.0.0.1 1 upsmon pw primary\n")
    before = tree(host)
    assert run(host, sim, ["-n", "--answers", str(answers_file(tmp_path / "a", sim))]) == 0
    out = capsys.readouterr().out
    system = System(host, env={}, runner=recorder())
    assert watched(system, detect_host(system), "ups").working == (not problem)
    expected = "already protected" if not problem else f"{problem}"
    assert expected in out and ("fix it by hand" in out) == bool(problem)
    for name in ("upsd.users", "upsmon.conf"):
        assert tree(host)[f"etc/nut/{name}"] == before[f"etc/nut/{name}"]


def test_a_user_of_the_same_name_is_refused(host: Path, sim: Simulator, tmp_path: Path,
                                            capsys: pytest.CaptureFixture[str]) -> None:
    (host / "etc/nut/upsd.users").write_text("[upsmon-ups]\n\tpassword = mine\n")
    before = tree(host)
    assert run(host, sim, ["-n", "--answers", str(answers_file(tmp_path / "a", sim))]) == 2
    assert "upsd.users already has a user upsmon-ups that enphase-setup did not add" in \
        capsys.readouterr().out
    assert tree(host) == before


@pytest.mark.parametrize(("key", "value", "message"), [
    ("NAS_LISTEN", "127.0.0.1", "loopback"), ("NAS_LISTEN", "nas.example", "not an IP"),
    ("NAS_USER", "has space", "NAS_USER"), ("PROTECT", "maybe", "yes or no"),
    ("NAS_PASSWORD", "two words", "NAS_PASSWORD"),
])
def test_bad_answers_are_named(host: Path, sim: Simulator, tmp_path: Path,
                               capsys: pytest.CaptureFixture[str], key: str, value: str,
                               message: str) -> None:
    extra = {key: value}
    if key.startswith("NAS_") and key != "NAS_LISTEN":
        extra["NAS_LISTEN"] = "192.168.1.10"
    answers = answers_file(tmp_path / "a", sim, **extra)
    assert run(host, sim, ["-n", "--answers", str(answers)]) == 2
    captured = capsys.readouterr()
    assert message in captured.out + captured.err


def test_without_upsmon_the_host_is_not_protected(host: Path, sim: Simulator, tmp_path: Path,
                                                   capsys: pytest.CaptureFixture[str]) -> None:
    (host / "lib/nut/upsmon").unlink()
    assert run(host, sim, ["-n", "--answers", str(answers_file(tmp_path / "a", sim))]) == 0
    out = capsys.readouterr().out
    assert "upsmon is not installed (nut-client)" in out
    assert "next: On this host, upsmon.conf: MONITOR" in out  # the manual way stays


def test_failure_rolls_back_nut_files_byte_for_byte(host: Path, sim: Simulator,
                                                   tmp_path: Path) -> None:
    before = tree(host)
    runner = recorder()
    runner.fail.append("systemctl enable --now nut-monitor.service")
    answers = answers_file(tmp_path / "a", sim, NAS_LISTEN="192.168.1.10")
    assert run(host, sim, ["-n", "--answers", str(answers)], runner) == 1
    assert tree(host) == before


def test_remove_takes_out_exactly_what_was_added(host: Path, sim: Simulator,
                                                 tmp_path: Path) -> None:
    (host / "etc/nut/nut.conf").write_text("MODE=standalone\n")
    before = tree(host)
    runner = recorder()
    answers = answers_file(tmp_path / "a", sim, NAS_LISTEN="192.168.1.10")
    assert run(host, sim, ["-n", "--answers", str(answers)], runner) == 0
    assert nut_mode(nut(host, "nut.conf")) == "netserver"
    remover = recorder(**{"systemctl is-enabled": "enabled\n"})
    assert run(host, sim, ["-n", "--remove", "ups", "--delete-files"], remover) == 0
    for name in (*NUT_FILES, "nut.conf", "ups.conf"):
        assert tree(host)[f"etc/nut/{name}"] == before[f"etc/nut/{name}"], name
    # upsmon lets go of the UPS before its driver is stopped
    assert remover.changes.index("systemctl disable --now nut-monitor.service") < \
        remover.changes.index("systemctl disable --now enphase-monitor@ups.service"
                              " nut-driver@ups.service")


def test_previews_hide_passwords_on_both_sides(host: Path) -> None:
    (host / "etc/nut/upsd.users").write_text("[admin]\n\tpassword = adminpw\n")
    session = session_for(host)
    prot = ProtectAnswers(nas_listen="10.0.0.5")
    plan = session.build_plan()
    extend_setup(plan, prot, "ups", session.context)
    text = plan.describe()
    for secret in ("adminpw", prot.password, prot.nas_password):
        assert secret not in text
    assert "Enable and start upsmon (nut-monitor.service)" in text


def test_world_readable_files_are_tightened(host: Path) -> None:
    (host / "etc/nut/upsmon.conf").chmod(0o644)
    session = session_for(host)
    plan = session.build_plan()
    extend_setup(plan, ProtectAnswers(), "ups", session.context)
    [change] = [c for c in plan.changes if str(getattr(c, "path", "")).endswith("upsmon.conf")]
    assert "mode 0640" in change.details()


def test_a_non_default_port_goes_into_the_monitor_line(host: Path) -> None:
    (host / "etc/nut/upsd.conf").write_text("LISTEN 127.0.0.1 3494\n")
    session = session_for(host, RecordingRunner())
    plan = session.build_plan()
    extend_setup(plan, ProtectAnswers(), "ups", session.context)
    assert "+MONITOR ups@localhost:3494 1 upsmon-ups <hidden> primary" in plan.describe()
