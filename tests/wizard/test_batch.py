"""The command line without the UI: --non-interactive, --dry-run, --reauth, --remove, root check."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from enphase_monitor.config import load_config
from enphase_setup.cli import main
from enphase_setup.runner import RecordingRunner
from enphase_setup.system import System
from enphase_sim import Simulator

from .conftest import DEBIAN_UPS_CONF, ROOT, make_root, recorder, sim_services
from .test_plan import tree


def answers_file(path: Path, sim: Simulator, **extra: str | None) -> Path:
    state = sim.state
    values: dict[str, str | None] = {"ENVOY_HOST": sim.gateway_host, "USERNAME": state.username,
              "PASSWORD": state.password, "ENPHASE_LOGIN": sim.login_url,
              "ENPHASE_TOKENS": sim.tokens_url, "CLOUD_CA_FILE": str(sim.ca_file),
              "SECRET_STORE": "config"}
    values.update(extra)
    path.write_text("".join(f"{k}='{v}'\n" for k, v in values.items() if v is not None))
    path.chmod(0o600)
    return path


def run(root: Path, sim: Simulator, args: list[str], runner: RecordingRunner | None = None,
        euid: int | None = None) -> int:
    system = System(root, env={}, runner=runner or recorder(), euid=euid)
    return main(args, system=system, services=sim_services(sim))


def test_non_interactive_setup(root: Path, sim: Simulator, tmp_path: Path,
                               capsys: pytest.CaptureFixture[str]) -> None:
    answers = answers_file(tmp_path / "answers", sim)
    assert run(root, sim, ["-n", "--answers", str(answers), "--charge-low", "30",
                           "--pin-certificate"]) == 0
    out = capsys.readouterr().out
    assert f"serial {sim.state.serial}" in out
    assert "credentials ok" in out and "done:" in out
    assert "battery.charge: 80" in out  # upsc once the driver is up
    assert "next: On this host, upsmon.conf: MONITOR ups@localhost" in out
    assert sim.state.password not in out
    config = load_config(root / "etc/nut/enphase-ups.conf", env={})
    assert config.serial == sim.state.serial and config.password == sim.state.password
    assert config.gateway_fingerprint == sim.cert_sha256
    assert "battery.charge.low: 30" in (root / "var/lib/enphase-monitor/ups.dev").read_text()
    token = (root / "var/lib/enphase-monitor/enphase-ups.token").read_text()
    assert token.count(".") == 2


def test_json_answers_and_flags(root: Path, sim: Simulator, tmp_path: Path) -> None:
    state = sim.state
    password = tmp_path / "pw"
    password.write_text(state.password + "\n")
    password.chmod(0o600)
    answers = tmp_path / "answers.json"
    answers.write_text(json.dumps({
        "ups": "solar", "envoy_host": sim.gateway_host, "username": state.username,
        "enphase_login": sim.login_url, "enphase_tokens": sim.tokens_url,
        "cloud_ca_file": str(sim.ca_file), "pollfreq": 30, "secret_store": "config"}))
    assert run(root, sim, ["-n", "--answers", str(answers), "--password-file",
                           str(password)]) == 0
    config = load_config(root / "etc/nut/enphase-solar.conf", env={})
    assert (config.ups, config.pollfreq, config.password) == ("solar", 30, state.password)


def test_dry_run_changes_nothing(root: Path, sim: Simulator, tmp_path: Path,
                                 capsys: pytest.CaptureFixture[str]) -> None:
    before = tree(root)
    runner = recorder()
    answers = answers_file(tmp_path / "answers", sim)
    assert run(root, sim, ["-n", "--dry-run", "--answers", str(answers)], runner) == 0
    out = capsys.readouterr().out
    assert tree(root) == before
    assert runner.changes == []
    assert "[1] Create directory /var/lib/enphase-monitor" in out
    assert "+[ups]" in out and "dry run: nothing was changed" in out
    assert "PASSWORD=<hidden>" in out and sim.state.password not in out


def test_hardware_that_cannot_be_a_ups_is_not_set_up(root: Path, sim: Simulator, tmp_path: Path,
                                                     capsys: pytest.CaptureFixture[str]) -> None:
    sim.update(topology="no-backup")
    before = tree(root)
    runner = recorder()
    answers = answers_file(tmp_path / "answers", sim)
    assert run(root, sim, ["-n", "--answers", str(answers)], runner) == 1
    out = capsys.readouterr().out
    assert "error: This gateway cannot act as a UPS: found 1 IQ Battery" in out
    assert "cannot island" in out
    assert tree(root) == before and runner.changes == []


def test_missing_answer_is_named(root: Path, sim: Simulator, tmp_path: Path,
                                 capsys: pytest.CaptureFixture[str]) -> None:
    answers = answers_file(tmp_path / "answers", sim, USERNAME=None)
    assert run(root, sim, ["-n", "--answers", str(answers)]) == 2
    assert "USERNAME (Enlighten e-mail) is needed" in capsys.readouterr().out


def test_unknown_answer_key(root: Path, sim: Simulator, tmp_path: Path,
                            capsys: pytest.CaptureFixture[str]) -> None:
    answers = answers_file(tmp_path / "answers", sim, COLOUR="blue")
    assert run(root, sim, ["-n", "--answers", str(answers)]) == 2
    assert "unknown answer COLOUR" in capsys.readouterr().err


def test_bad_password_writes_nothing(root: Path, sim: Simulator, tmp_path: Path,
                                     capsys: pytest.CaptureFixture[str]) -> None:
    before = tree(root)
    answers = answers_file(tmp_path / "answers", sim, PASSWORD="wrong")
    assert run(root, sim, ["-n", "--answers", str(answers)]) == 1
    assert "refused the login" in capsys.readouterr().out
    assert tree(root) == before


def test_section_of_another_driver_is_refused(root: Path, sim: Simulator, tmp_path: Path,
                                              capsys: pytest.CaptureFixture[str]) -> None:
    answers = answers_file(tmp_path / "answers", sim, UPS="other")
    assert run(root, sim, ["-n", "--answers", str(answers)]) == 2
    assert "section [other] for driver usbhid-ups" in capsys.readouterr().out


def test_failed_step_rolls_back(root: Path, sim: Simulator, tmp_path: Path,
                                capsys: pytest.CaptureFixture[str]) -> None:
    before = tree(root)
    runner = recorder()
    runner.fail.append("systemctl enable --now enphase-monitor@ups")
    answers = answers_file(tmp_path / "answers", sim)
    assert run(root, sim, ["-n", "--answers", str(answers)], runner) == 1
    out = capsys.readouterr().out
    assert "FAILED: Enable and start enphase-monitor@ups.service" in out
    assert "already done: Create directory /var/lib/enphase-monitor" in out
    assert "rolled back" in out
    assert tree(root) == before


def test_no_rollback_keeps_what_was_done(root: Path, sim: Simulator, tmp_path: Path) -> None:
    runner = recorder()
    runner.fail.append("systemctl enable --now enphase-monitor@ups")
    answers = answers_file(tmp_path / "answers", sim)
    assert run(root, sim, ["-n", "--no-rollback", "--answers", str(answers)], runner) == 1
    assert (root / "etc/nut/enphase-ups.conf").exists()


def test_no_validate_when_offline(root: Path, sim: Simulator, tmp_path: Path,
                                  capsys: pytest.CaptureFixture[str]) -> None:
    answers = answers_file(tmp_path / "answers", sim, ENVOY_HOST="127.0.0.1:9",
                           SERIAL="122302045678")
    assert run(root, sim, ["-n", "--no-validate", "--answers", str(answers)]) == 0
    out = capsys.readouterr().out
    assert "warning: gateway 127.0.0.1:9 unreachable" in out
    assert load_config(root / "etc/nut/enphase-ups.conf", env={}).serial == "122302045678"


def test_reauth_non_interactive(root: Path, sim: Simulator, tmp_path: Path) -> None:
    answers = answers_file(tmp_path / "answers", sim)
    assert run(root, sim, ["-n", "--answers", str(answers)]) == 0
    sim.update(password="new-password")
    new = tmp_path / "pw"
    new.write_text("new-password")
    new.chmod(0o640)
    assert run(root, sim, ["-n", "--reauth", "ups", "--password-file", str(new)]) == 0
    assert load_config(root / "etc/nut/enphase-ups.conf", env={}).password == "new-password"


def test_reauth_of_an_unknown_ups(root: Path, sim: Simulator,
                                  capsys: pytest.CaptureFixture[str]) -> None:
    assert run(root, sim, ["-n", "--reauth", "nosuch"]) == 2
    assert "no UPS 'nosuch' set up here" in capsys.readouterr().err


def test_remove_non_interactive(root: Path, sim: Simulator, tmp_path: Path) -> None:
    original = (root / "etc/nut/ups.conf").read_bytes()
    answers = answers_file(tmp_path / "answers", sim)
    assert run(root, sim, ["-n", "--answers", str(answers)]) == 0
    assert run(root, sim, ["-n", "--remove", "ups", "--delete-files"]) == 0
    assert (root / "etc/nut/ups.conf").read_bytes() == original
    assert not (root / "etc/nut/enphase-ups.conf").exists()
    assert not (root / "var/lib/enphase-monitor/ups.dev").exists()


def test_remove_asks_before_deleting(root: Path, sim: Simulator, tmp_path: Path,
                                     monkeypatch: pytest.MonkeyPatch) -> None:
    answers = answers_file(tmp_path / "answers", sim)
    assert run(root, sim, ["-n", "--answers", str(answers)]) == 0
    replies = iter(["n", "y", "y"])  # port file? config? apply?
    asked: list[str] = []

    def fake_input(prompt: str) -> str:
        asked.append(prompt)
        return next(replies)

    monkeypatch.setattr("builtins.input", fake_input)
    assert run(root, sim, ["--remove", "ups"]) == 0
    assert len(asked) == 3
    assert asked[0].startswith("Delete the port file /var/lib/enphase-monitor/ups.dev too")
    assert asked[1].startswith("Delete the config /etc/nut/enphase-ups.conf too? It holds the"
                               " Enlighten password (or token) in clear text")
    assert (root / "var/lib/enphase-monitor/ups.dev").exists()
    assert not (root / "etc/nut/enphase-ups.conf").exists()


def test_remove_says_what_stays(root: Path, sim: Simulator, tmp_path: Path,
                                capsys: pytest.CaptureFixture[str]) -> None:
    (root / "etc/nut/nut.conf").write_text("MODE=standalone\n")  # set before: it stays
    answers = answers_file(tmp_path / "answers", sim)
    assert run(root, sim, ["-n", "--answers", str(answers)]) == 0
    capsys.readouterr()
    assert run(root, sim, ["-n", "--remove", "ups", "--dry-run"]) == 0
    out = capsys.readouterr().out
    assert "note: the config /etc/nut/enphase-ups.conf is kept (re-running the wizard reuses" \
        " it): it holds the Enlighten password (or token) in clear text" in out
    assert "note: nut.conf keeps MODE=standalone: upsd stays on" in out


def test_without_dummy_ups_nothing_is_applied(root: Path, sim: Simulator, tmp_path: Path,
                                              capsys: pytest.CaptureFixture[str]) -> None:
    (root / "lib/nut/dummy-ups").unlink()
    before = tree(root)
    answers = answers_file(tmp_path / "answers", sim)
    assert run(root, sim, ["-n", "--answers", str(answers)]) == 2
    assert "error: NUT's dummy-ups driver is not installed: install nut-server" in \
        capsys.readouterr().out
    assert tree(root) == before


def test_netclient_is_refused_in_one_line(root: Path, sim: Simulator, tmp_path: Path,
                                         capsys: pytest.CaptureFixture[str]) -> None:
    """MODE=netclient: this host only watches another upsd, which cannot serve a dummy-ups."""
    (root / "etc/nut/nut.conf").write_text("MODE=netclient\n")
    before = tree(root)
    answers = answers_file(tmp_path / "answers", sim)
    assert run(root, sim, ["-n", "--answers", str(answers)]) == 2
    [line] = [x for x in capsys.readouterr().out.splitlines() if x.startswith("error:")]
    assert line == ("error: /etc/nut/nut.conf says MODE=netclient (this host only watches"
                    " another host's upsd): a dummy-ups driver needs MODE=standalone or"
                    " netserver; change MODE there (and enable nut-server), or run"
                    " enphase-setup on the upsd host")
    assert tree(root) == before


def test_not_root_refuses_unless_dry_run(sim: Simulator, tmp_path: Path,
                                         capsys: pytest.CaptureFixture[str]) -> None:
    answers = answers_file(tmp_path / "answers", sim)
    real = System(Path("/"), env={}, runner=recorder(), euid=1000)
    assert main(["-n", "--ups", "wiztest", "--answers", str(answers)], system=real,
                services=sim_services(sim)) == 1
    assert "run it as root" in capsys.readouterr().err
    runner = recorder()
    real = System(Path("/"), env={}, runner=runner, euid=1000)
    assert main(["-n", "--dry-run", "--ups", "wiztest", "--answers", str(answers)], system=real,
                services=sim_services(sim)) == 0
    assert runner.changes == []
    assert "dry run: nothing was changed" in capsys.readouterr().out


def test_cli_dry_run_in_a_subprocess_is_fast_and_never_imports_textual(
        root: Path, sim: Simulator, tmp_path: Path) -> None:
    answers = answers_file(tmp_path / "answers", sim)
    code = ("import sys; from enphase_setup.cli import main; rc = main(sys.argv[1:]);"
            " print('TEXTUAL' if 'textual' in sys.modules else 'NO-TEXTUAL'); sys.exit(rc)")
    env = dict(os.environ, PYTHONPATH=os.environ.get("PYTHONPATH", str(ROOT)))
    done = subprocess.run(
        [sys.executable, "-c", code, "--root", str(root), "-n", "--dry-run",
         "--answers", str(answers)],
        capture_output=True, text=True, timeout=60, env=env, cwd=ROOT, check=False)
    assert done.returncode == 0, done.stderr
    assert done.stdout.rstrip().endswith("NO-TEXTUAL")
    assert "Set up UPS 'ups'" in done.stdout


def test_root_option_records_commands_and_fakes_the_credential(
        root: Path, sim: Simulator, tmp_path: Path) -> None:
    """--root from the command line: the systemd-creds blob lands in the fake root."""
    answers = answers_file(tmp_path / "answers", sim, SECRET_STORE="systemd-creds")
    (root / "usr/bin/systemctl").write_text("")
    env = dict(os.environ, PYTHONPATH=os.environ.get("PYTHONPATH", str(ROOT)))
    done = subprocess.run(
        [sys.executable, "-m", "enphase_setup", "--root", str(root), "-n",
         "--answers", str(answers)],
        capture_output=True, text=True, timeout=60, env=env, cwd=ROOT, check=False)
    # nothing answers `systemctl --version` under --root: systemd is the fake root's, version
    # unknown; the TUI and -n take the same rule and both accept systemd-creds
    assert done.returncode == 0, done.stdout + done.stderr
    assert (root / "etc/nut/enphase-ups.conf").exists()
    assert "Enable and start enphase-monitor@ups.service and nut-driver@ups.service (would" \
        " run)" in done.stdout
    assert "/etc/systemd/system/nut-driver@ups.service.d/enphase-monitor.conf" in done.stdout
    assert "next: Would run on the real host: systemctl enable --now" in done.stdout
    blob = root / "etc/credstore.encrypted/enphase-monitor-ups.password"
    assert blob.exists() and "PASSWORD_CREDENTIAL=enphase-password" in \
        (root / "etc/nut/enphase-ups.conf").read_text()


def test_runtime_low_flag(root: Path, sim: Simulator, tmp_path: Path,
                          capsys: pytest.CaptureFixture[str]) -> None:
    answers = answers_file(tmp_path / "answers", sim)
    assert run(root, sim, ["-n", "--answers", str(answers), "--runtime-low", "999999"]) == 2
    assert "RUNTIME_LOW: 999999 is out of range: a whole number from 0 to 172800" in \
        capsys.readouterr().err
    assert run(root, sim, ["-n", "--answers", str(answers), "--runtime-low", "900"]) == 0
    port = (root / "var/lib/enphase-monitor/ups.dev").read_text()
    assert port.endswith("battery.charge.low: 20\nbattery.runtime.low: 900\n")


def test_a_section_not_made_by_the_wizard_needs_adopt_section(
        tmp_path: Path, sim: Simulator, capsys: pytest.CaptureFixture[str]) -> None:
    root = make_root(tmp_path, ups_conf=DEBIAN_UPS_CONF.replace("[other]", "[apc]")
                     + "\n[other]\n  driver = dummy-ups\n  port = other.dev\n")
    before = tree(root)
    answers = answers_file(tmp_path / "answers", sim, UPS="other")
    assert run(root, sim, ["-n", "--answers", str(answers)]) == 2
    out = capsys.readouterr().out
    assert "that enphase-setup did not make" in out and "set ADOPT_SECTION=yes" in out
    assert tree(root) == before
    adopt = answers_file(tmp_path / "adopt", sim, UPS="other", ADOPT_SECTION="yes")
    assert run(root, sim, ["-n", "--answers", str(adopt)]) == 0
    assert "port = /var/lib/enphase-monitor/other.dev" in (root / "etc/nut/ups.conf").read_text()
