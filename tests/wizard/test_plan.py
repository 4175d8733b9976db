"""Plans on a fake root: the files written (content, mode, owner), the commands, re-runs,
rollback, SELinux, distro layouts, secret stores, reauth and removal."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from enphase_monitor.config import load_config
from enphase_monitor.portfile import PortContent, parse_line
from enphase_setup.answers import SecretStore
from enphase_setup.changes import RunCommand, WriteFile
from enphase_setup.facts import detect_host
from enphase_setup.plan import Plan
from enphase_setup.planner import build_setup
from enphase_setup.planner.nut import port_text
from enphase_setup.runner import Command, RecordingRunner, Result
from enphase_setup.session import REAUTH, REMOVE, Session
from enphase_setup.system import System
from enphase_setup.userkeyring import detect_keyring

from .conftest import DEBIAN_UPS_CONF, NUT_GID, NUT_UID, SERIAL, make_root, recorder, token_info

ROOT_USER = os.geteuid() == 0
PASSWORD = "s3cret 'pa$$'"


def encrypt_effect(root: Path):
    def effect(command: Command) -> None:
        target = root / command.argv[-1].lstrip("/")
        target.write_text(f"blob of {command.argv[2]}\n")
    return effect


def session_for(root: Path, runner: RecordingRunner | None = None, *, ups: str | None = None,
                mode: str = "setup", **answers: object) -> Session:
    runner = runner or recorder()
    runner.effects.setdefault("systemd-creds encrypt", encrypt_effect(root))
    system = System(root, env={}, runner=runner)
    session = Session.start(system, detect_host(system), ups, mode)
    ans = session.answers
    ans.serial, ans.envoy_host = SERIAL, "192.168.1.50"
    ans.username, ans.password = "owner@example.com", PASSWORD
    for key, value in answers.items():
        setattr(ans, key, value)
    if ans.secret():
        ans.keep_secret = False
    return session


def commands(plan: Plan) -> list[str]:
    """The command lines a plan runs, in order."""
    return [c.command.shown() for c in plan.changes if isinstance(c, RunCommand)]


def tree(root: Path) -> dict[str, tuple[bytes, int]]:
    """Every file under root with its mode (to compare before/after)."""
    return {str(p.relative_to(root)): (p.read_bytes(), p.stat().st_mode)
            for p in sorted(root.rglob("*")) if p.is_file()}


def test_setup_writes_every_file(root: Path) -> None:
    session = session_for(root)
    session.checked = None
    plan = build_setup(session.answers, session.context, token_info())
    outcome = plan.apply(session.system)
    assert outcome.ok, outcome.error

    conf = (root / "etc/nut/ups.conf").read_text()
    assert conf.startswith(DEBIAN_UPS_CONF)
    assert conf[len(DEBIAN_UPS_CONF):] == (
        "\n[ups]\n\t# enphase-monitor: Enphase IQ Gateway 122302045678 (set up by enphase-setup)\n"
        "\tdriver = dummy-ups\n\tport = /var/lib/enphase-monitor/ups.dev\n"
        '\tmode = dummy-loop\n\tdesc = "Enphase IQ Gateway 122302045678"\n')
    assert oct((root / "etc/nut/ups.conf").stat().st_mode & 0o777) == "0o640"

    port = root / "var/lib/enphase-monitor/ups.dev"
    assert port.read_text().endswith("battery.charge.low: 20\n")
    assert port.stat().st_mode & 0o777 == 0o640
    assert (root / "var/lib/enphase-monitor").stat().st_mode & 0o777 == 0o750
    token = root / "var/lib/enphase-monitor/enphase-ups.token"
    assert token.stat().st_mode & 0o777 == 0o600
    config = root / "etc/nut/enphase-ups.conf"
    assert config.stat().st_mode & 0o777 == 0o640
    assert PASSWORD not in config.read_text()
    assert "PASSWORD_CREDENTIAL=enphase-password\n" in config.read_text()
    if ROOT_USER:
        assert (port.stat().st_uid, port.stat().st_gid) == (NUT_UID, NUT_GID)
        assert (token.stat().st_uid, token.stat().st_gid) == (NUT_UID, NUT_GID)
        assert (config.stat().st_uid, config.stat().st_gid) == (0, NUT_GID)

    creds = root / "creds"
    creds.mkdir()
    (creds / "enphase-password").write_text(PASSWORD)
    loaded = load_config(config, env={"CREDENTIALS_DIRECTORY": str(creds)})
    assert (loaded.ups, loaded.serial, loaded.envoy_host) == ("ups", SERIAL, "192.168.1.50")
    assert loaded.port_file == Path("/var/lib/enphase-monitor/ups.dev")
    assert loaded.token_file == Path("/var/lib/enphase-monitor/enphase-ups.token")
    assert loaded.password_credential == "enphase-password"

    # the packaged unit loads the credential by name: no drop-in for the monitor
    assert not (root / "etc/systemd/system/enphase-monitor@ups.service.d").exists()
    assert "RestartSec=3s" in (
        root / "etc/systemd/system/nut-driver@ups.service.d/enphase-monitor.conf").read_text()
    assert (root / "etc/nut/nut.conf").read_text() == (
        "# nut.conf\n# enphase-setup ups: MODE was none; `enphase-setup --remove ups` puts it"
        " back\nMODE=standalone\n")
    assert (root / "etc/credstore.encrypted").stat().st_mode & 0o777 == 0o700

    runner = session.system.runner
    assert isinstance(runner, RecordingRunner)
    assert runner.changes == [
        "systemd-creds encrypt --name=enphase-password - "
        "/etc/credstore.encrypted/enphase-monitor-ups.password  < (secret on stdin)",
        "systemctl daemon-reload",
        "systemctl enable --now enphase-monitor@ups.service nut-driver@ups.service",
        "systemctl enable --now nut-server.service",
    ]
    encrypt = next(c for c, change in runner.calls if change and c.argv[0] == "systemd-creds")
    assert encrypt.stdin == PASSWORD
    assert PASSWORD not in plan.describe()


def test_rerun_is_an_edit_prefilled_and_plans_nothing(root: Path) -> None:
    first = session_for(root, pin_certificate=True, gateway_fingerprint="ab" * 32,
                        charge_low=35, pollfreq=30, ups="solar")
    first.answers.ups = "solar"
    assert build_setup(first.answers, first.context, token_info()).apply(first.system).ok

    runner = recorder(**{"systemctl is-enabled": "enabled\n", "systemctl is-active": "active\n"})
    system = System(root, env={}, runner=runner)
    again = Session.start(system, detect_host(system))  # the one UPS set up is found
    ans = again.answers
    assert (ans.ups, ans.serial, ans.envoy_host) == ("solar", SERIAL, "192.168.1.50")
    assert (ans.username, ans.charge_low, ans.pollfreq) == ("owner@example.com", 35, 30)
    assert ans.pin_certificate and ans.gateway_fingerprint == "ab" * 32
    assert ans.secret_store is SecretStore.CREDENTIAL and ans.keep_secret
    assert ans.port_path.as_posix() == "/var/lib/enphase-monitor/solar.dev"
    plan = again.build_plan()
    assert plan.changes == [], plan.describe()

    ans.charge_low = 25
    plan = again.build_plan()
    titles = [c.title for c in plan.changes]
    assert titles == ["Edit /var/lib/enphase-monitor/solar.dev (dummy-ups port file)",
                      "Restart enphase-monitor@solar.service and nut-driver@solar.service"]
    assert "-battery.charge.low: 35\n+battery.charge.low: 25" in plan.changes[0].preview()


def test_runtime_low_is_written_prefilled_and_removed(root: Path) -> None:
    first = session_for(root, runtime_low=1800)
    assert build_setup(first.answers, first.context, token_info()).apply(first.system).ok
    port = root / "var/lib/enphase-monitor/ups.dev"
    assert port.read_text().endswith("battery.charge.low: 20\nbattery.runtime.low: 1800\n")
    system = System(root, env={}, runner=recorder())
    again = Session.start(system, detect_host(system))
    assert again.answers.runtime_low == 1800
    again.answers.runtime_low = 0  # turned off: the line goes
    plan = again.build_plan()
    assert "-battery.runtime.low: 1800" in plan.changes[0].preview()
    assert plan.apply(again.system).ok
    assert "battery.runtime.low" not in port.read_text()


@pytest.mark.parametrize(("old", "expected"), [
    (None, "battery.charge.low: 20\nbattery.runtime.low: 600\n"),
    ("x: 1\nbattery.runtime.low: 5\r\nbattery.charge.low: 9", "x: 1\nbattery.runtime.low: 600\r\n"
     "battery.charge.low: 20\n"),
])
def test_port_text_sets_both_lines_in_place(old: str | None, expected: str) -> None:
    assert port_text(old, "ups", 20, 600).endswith(expected)


def test_failed_step_rolls_back_to_the_exact_previous_state(root: Path) -> None:
    (root / "etc/nut/ups.conf").write_text(DEBIAN_UPS_CONF + "\n[ups]\n\tdriver = dummy-ups\n"
                                           "\tport = /etc/nut/old.dev\n")
    before = tree(root)
    runner = recorder()
    runner.fail.append("systemctl enable --now enphase-monitor@ups.service")
    session = session_for(root, runner)
    plan = session.build_plan()
    outcome = plan.apply(session.system)
    assert not outcome.ok
    assert outcome.failed is not None and "enphase-monitor@ups" in outcome.failed.title
    assert "simulated failure" in outcome.error
    assert len(outcome.done) == len(plan.changes) - 3  # upsd and the undo record: never run
    assert tree(root) != before
    errors = plan.rollback(session.system, outcome)
    assert errors == []
    assert tree(root) == before
    assert not (root / "var/lib/enphase-monitor").exists()
    assert not (root / "etc/credstore.encrypted").exists()
    assert not (root / "etc/systemd/system/nut-driver@ups.service.d").exists()


def test_a_failing_undo_is_reported_and_the_rest_still_undone(root: Path) -> None:
    runner = recorder()
    runner.fail += ["systemctl enable --now nut-server", "systemctl disable --now enphase"]
    session = session_for(root, runner)
    plan = session.build_plan()
    outcome = plan.apply(session.system)
    errors = plan.rollback(session.system, outcome)
    assert len(errors) == 1 and "systemctl disable --now enphase-monitor@ups" in errors[0]
    assert not (root / "etc/nut/enphase-ups.conf").exists()


@pytest.mark.parametrize(("modules", "fcontexts", "expected"), [
    ("", "", ["semanage fcontext -a -t nut_conf_t '/var/lib/enphase-monitor(/.*)?'",
              "restorecon -R -v /var/lib/enphase-monitor"]),
    ("enphase_monitor\t1.0\n", "", ["restorecon -R -v /var/lib/enphase-monitor"]),
    ("", "/var/lib/enphase-monitor(/.*)?    all files    system_u:object_r:nut_conf_t:s0\n",
     ["restorecon -R -v /var/lib/enphase-monitor"]),
])
def test_selinux_label_planned_both_ways(tmp_path: Path, modules: str, fcontexts: str,
                                         expected: list[str]) -> None:
    root = make_root(tmp_path, selinux=True)
    runner = recorder(**{"semodule -l": modules, "semanage fcontext -l -C": fcontexts})
    session = session_for(root, runner)
    plan = session.build_plan()
    selinux = [c for c in commands(plan) if c.startswith(("semanage", "restorecon"))]
    assert selinux == expected
    port = next(c for c in plan.changes if isinstance(c, WriteFile) and c.path.suffix == ".dev")
    assert "SELinux:" in port.details()
    semanage = [c for c in plan.changes if isinstance(c, RunCommand)
                and c.command.argv[0] == "semanage"]
    for change in semanage:
        assert change.undo is not None and change.undo.argv[:3] == ("semanage", "fcontext", "-d")


def test_selinux_not_needed_under_the_nut_config_dir(tmp_path: Path) -> None:
    root = make_root(tmp_path, selinux=True)
    session = session_for(root, recorder(), port_file="/etc/nut/ups.dev")
    plan = session.build_plan()
    assert not [c for c in commands(plan) if c.startswith(("semanage", "restorecon"))]
    assert not any("Create directory /etc/nut" in c.title for c in plan.changes)


def test_fedora_layout(tmp_path: Path) -> None:
    root = make_root(tmp_path, fedora=True)
    session = session_for(root)
    assert session.facts.nut.confdir.as_posix() == "/etc/ups"
    assert session.facts.nut.group == "dialout"
    plan = session.build_plan()
    paths = [c.path.as_posix() for c in plan.changes if isinstance(c, WriteFile)]
    assert "/etc/ups/ups.conf" in paths and "/etc/ups/enphase-ups.conf" in paths
    config = next(c for c in plan.changes if isinstance(c, WriteFile)
                  and c.path.name == "enphase-ups.conf")
    assert (config.owner, config.mode) == (("nut", "dialout"), 0o600)  # dialout is shared


def test_nut_confpath_wins(tmp_path: Path) -> None:
    root = make_root(tmp_path)
    (root / "opt/nut/etc").mkdir(parents=True)
    system = System(root, env={"NUT_CONFPATH": "/opt/nut/etc"}, runner=recorder())
    facts = detect_host(system)
    assert facts.nut.confdir.as_posix() == "/opt/nut/etc"
    assert facts.nut.flavour == "NUT_CONFPATH"


def test_password_in_the_config(root: Path) -> None:
    session = session_for(root, secret_store=SecretStore.CONFIG)
    plan = session.build_plan()
    assert plan.apply(session.system).ok
    config = root / "etc/nut/enphase-ups.conf"
    assert config.stat().st_mode & 0o777 == 0o640
    loaded = load_config(config, env={})
    assert loaded.password == PASSWORD
    text = plan.describe()
    assert PASSWORD not in text and "PASSWORD=<hidden>" in text
    assert not (root / "etc/systemd/system/enphase-monitor@ups.service.d").exists()
    assert not any(c.startswith("systemd-creds") for c in commands(plan))


def test_keyring_runs_as_the_daemons_user(root: Path) -> None:
    session = session_for(root, secret_store=SecretStore.KEYRING)
    plan = session.build_plan()
    assert plan.apply(session.system).ok
    runner = session.system.runner
    assert isinstance(runner, RecordingRunner)
    stored = next(c for c, change in runner.calls if change and c.argv[0] == "runuser")
    assert stored.argv[:4] == ("runuser", "-u", "nut", "--")
    assert stored.argv[-2:] == ("enphase-monitor", "owner@example.com")
    assert stored.stdin == PASSWORD
    values = load_config(root / "etc/nut/enphase-ups.conf", env={})
    assert values.password_keyring and not values.password


def test_manual_token_in_a_credential(root: Path) -> None:
    token = token_info().token
    session = session_for(root, use_token=True, token=token, password="")
    plan = session.build_plan()
    assert plan.apply(session.system).ok
    assert "systemd-creds encrypt --name=enphase-token - " \
           "/etc/credstore.encrypted/enphase-monitor-ups.token  < (secret on stdin)" \
           in commands(plan)
    text = (root / "etc/nut/enphase-ups.conf").read_text()
    assert "TOKEN_CREDENTIAL=enphase-token" in text and token not in text
    assert not (root / "var/lib/enphase-monitor/enphase-ups.token").exists()


def test_hand_written_unit_gets_a_credential_drop_in(root: Path) -> None:
    unit = root / "lib/systemd/system/enphase-monitor@.service"
    unit.write_text("[Service]\nUser=nut\nExecStart=/usr/bin/enphase-monitor %i\n")
    session = session_for(root)
    assert session.build_plan().apply(session.system).ok
    dropin = root / "etc/systemd/system/enphase-monitor@ups.service.d/enphase-monitor.conf"
    assert dropin.read_text().endswith(
        "[Service]\nLoadCredentialEncrypted=enphase-password:enphase-monitor-%i.password\n")


def test_keyring_status_is_honest() -> None:
    def status(answer: Result | str):
        system = System(Path("/nonexistent-root"), env={},
                        runner=RecordingRunner({"runuser -u nut --": answer}))
        return detect_keyring(system, "nut")

    fail = status("keyring.backends.fail.Keyring 0\n")
    assert not fail.usable and "no working backend" in fail.note
    plain = status("keyrings.alt.file.PlaintextKeyring 0.5\n")
    assert plain.usable and "base64" in plain.note
    assert status("keyring.backends.SecretService.Keyring 5\n").usable
    missing = status(Result(1, "", "ModuleNotFoundError: No module named 'keyring'"))
    assert not missing.usable and "not installed" in missing.note


def test_without_systemd(tmp_path: Path) -> None:
    root = make_root(tmp_path, unit=False)
    for directory in ("lib/systemd/system", "run/systemd/system"):
        (root / directory).rmdir()
    runner = recorder(**{"systemctl --version": Result(127, "", "not found")})
    session = session_for(root, runner)
    session.answers.secret_store = SecretStore.CONFIG
    plan = session.build_plan()
    assert commands(plan) == []
    assert not any("systemd" in c.path.as_posix() for c in plan.changes
                   if isinstance(c, WriteFile))


def test_systemd_not_running_enables_only(tmp_path: Path) -> None:
    root = make_root(tmp_path)
    (root / "run/systemd/system").rmdir()
    session = session_for(root)
    plan = session.build_plan()
    assert "systemctl enable enphase-monitor@ups.service nut-driver@ups.service" in commands(plan)
    assert "systemctl daemon-reload" not in commands(plan)
    assert any("not running" in note for note in plan.notes)


def test_upsd_reloaded_when_it_runs_already(tmp_path: Path) -> None:
    root = make_root(tmp_path, mode="standalone")
    session = session_for(root, recorder(**{"systemctl is-enabled nut-server": "enabled\n"}))
    plan = session.build_plan()
    assert "systemctl try-reload-or-restart nut-server.service" in commands(plan)
    assert not any(c.path.name == "nut.conf" for c in plan.changes if isinstance(c, WriteFile))
    assert not [c for c in commands(plan) if "enable" in c and "nut-server" in c]


def test_standalone_with_upsd_disabled_enables_it(tmp_path: Path) -> None:
    """Fedora ships MODE=standalone with nut-server disabled: the plan enables it."""
    root = make_root(tmp_path, mode="standalone")
    session = session_for(root, recorder(**{"systemctl is-enabled nut-server": "disabled\n"}))
    plan = session.build_plan()
    assert "systemctl enable --now nut-server.service" in commands(plan)
    assert "try-reload-or-restart" not in " ".join(commands(plan))
    assert not any(c.path.name == "nut.conf" for c in plan.changes if isinstance(c, WriteFile))


def test_missing_unit_template_is_noted(tmp_path: Path) -> None:
    root = make_root(tmp_path, unit=False)
    plan = session_for(root).build_plan()
    assert any("enphase-monitor@.service is not installed" in n for n in plan.notes)


def test_reauth_touches_only_the_credentials(root: Path) -> None:
    setup = session_for(root, secret_store=SecretStore.CONFIG)
    assert setup.build_plan().apply(setup.system).ok
    before = tree(root)
    runner = recorder(**{"systemctl is-enabled": "enabled\n"})
    session = session_for(root, runner, ups="ups", mode=REAUTH, password="new password")
    session.checked = None
    plan = session.build_plan()
    assert [c.title for c in plan.changes] == [
        "Edit /etc/nut/enphase-ups.conf (enphase-monitor config)",
        "Restart enphase-monitor@ups.service"]
    assert "PASSWORD=<hidden, changed>" in plan.changes[0].preview()
    assert plan.apply(session.system).ok
    after = tree(root)
    changed = [k for k in after if after[k] != before.get(k)]
    assert changed == ["etc/nut/enphase-ups.conf"]
    assert load_config(root / "etc/nut/enphase-ups.conf", env={}).password == "new password"


def test_remove_undoes_the_setup(root: Path) -> None:
    original_conf = (root / "etc/nut/ups.conf").read_text()
    setup = session_for(root)
    assert build_setup(setup.answers, setup.context, token_info()).apply(setup.system).ok
    runner = recorder(**{"systemctl is-enabled": "enabled\n"})
    system = System(root, env={}, runner=runner)
    session = Session.start(system, detect_host(system), "ups", REMOVE)
    plan = session.build_plan(delete_port=True, delete_config=True)
    assert plan.apply(system).ok
    assert (root / "etc/nut/ups.conf").read_text() == original_conf
    for gone in ("etc/nut/enphase-ups.conf", "var/lib/enphase-monitor/ups.dev",
                 "var/lib/enphase-monitor/enphase-ups.token",
                 "etc/credstore.encrypted/enphase-monitor-ups.password",
                 "etc/systemd/system/nut-driver@ups.service.d/enphase-monitor.conf"):
        assert not (root / gone).exists(), gone
    assert "systemctl disable --now enphase-monitor@ups.service nut-driver@ups.service" \
        in runner.changes


def test_remove_deletes_the_port_file_the_stopping_monitor_hides(root: Path) -> None:
    """Stopping enphase-monitor@ (its ExecStopPost) renames the port file to <port>-nocomms
    after the plan was made: --remove --delete-files must delete that name too."""
    setup = session_for(root)
    assert build_setup(setup.answers, setup.context, token_info()).apply(setup.system).ok
    port = root / "var/lib/enphase-monitor/ups.dev"

    def stop_hides(_command: Command) -> None:
        port.rename(f"{port}-nocomms")

    runner = recorder(**{"systemctl is-enabled": "enabled\n"})
    runner.effects["systemctl disable --now enphase-monitor@ups.service"] = stop_hides
    system = System(root, env={}, runner=runner)
    session = Session.start(system, detect_host(system), "ups", REMOVE)
    plan = session.build_plan(delete_port=True, delete_config=True)
    assert plan.apply(system).ok
    assert not port.exists() and not Path(f"{port}-nocomms").exists()


def test_remove_keeps_port_file_and_config_unless_asked(root: Path) -> None:
    setup = session_for(root)
    assert setup.build_plan().apply(setup.system).ok
    system = System(root, env={}, runner=recorder())
    session = Session.start(system, detect_host(system), "ups", REMOVE)
    plan = session.build_plan()
    assert plan.apply(system).ok
    assert (root / "var/lib/enphase-monitor/ups.dev").exists()
    assert (root / "etc/nut/enphase-ups.conf").exists()
    assert any("port file" in n for n in plan.notes)


def test_a_good_token_cache_is_kept_and_a_stale_one_replaced(root: Path) -> None:
    session = session_for(root)
    session.answers.secret_store = SecretStore.CONFIG
    first = token_info()
    assert build_setup(session.answers, session.context, first).apply(session.system).ok
    cache = root / "var/lib/enphase-monitor/enphase-ups.token"
    assert cache.read_text() == first.token
    again = session_for(root, recorder(**{"systemctl is-enabled": "enabled\n"}))
    again.answers.secret_store = SecretStore.CONFIG
    plan = build_setup(again.answers, again.context, token_info())  # a new token, same answers
    assert plan.changes == [], plan.describe()
    cache.write_text(token_info("999999999999").token)  # another gateway's token
    plan = build_setup(again.answers, again.context, first)
    assert next(c.title for c in plan.changes).startswith(
        "Edit /var/lib/enphase-monitor/enphase-ups.token (token cache: owner token")


@pytest.mark.parametrize("line", ["battery.charge.low: 9", "battery.charge.low:9",
                                  "battery.charge.low 9", "  battery.charge.low: 9  # mine",
                                  'battery.charge.low: "9"', "battery.charge.low: 9\r"])
def test_port_text_edits_every_line_form_dummy_ups_reads(line: str) -> None:
    """One parser (enphase_monitor.portfile.parse_line): a form dummy-ups reads is replaced,
    never left beside a new line; only "\\n" ends a line, as for dummy-ups."""
    old = f"# mine\nx: 1\x0cy\n{line}\nz: 2\n"
    assert PortContent.parse(old).values["battery.charge.low"] == "9"  # dummy-ups reads it
    new = port_text(old, "ups", 20)
    values = PortContent.parse(new).values
    assert values["battery.charge.low"] == "20" and values["x"] == "1\x0cy"
    assert sum(parse_line(x)[0] == "battery.charge.low" for x in new.split("\n")) == 1
    assert new.startswith("# mine\nx: 1\x0cy\n") and new.endswith("\nz: 2\n")


def test_port_text_keeps_the_last_of_duplicate_lines() -> None:
    new = port_text("battery.charge.low: 5\nbattery.charge.low 9\nbattery.runtime.low 60\n",
                    "ups", 20)
    assert new == "battery.charge.low: 20\n"


def test_prefill_reads_the_port_file_as_dummy_ups_does() -> None:
    from enphase_setup.prefill import _port_number
    text = "battery.charge.low: 5\nbattery.charge.low 9\n"
    assert _port_number(text, "battery.charge.low") == 9  # the last line counts
    assert _port_number("battery.charge.low: 9\x0c3\n", "battery.charge.low") is None
