"""One rule for the daemon's files: the daemon, the wizard's prefill, its set-up and its
--remove find the same port file, nocomms name, token cache and state directory for a
seed-style config (PORT_FILE relative, no STATE_DIR), on a fake root."""

from __future__ import annotations

from pathlib import Path, PurePosixPath

import pytest

from enphase_monitor.config import Config, parse_config
from enphase_monitor.paths import DaemonPaths, config_dir, driver_port, nocomms_file
from enphase_setup.changes import Change, DeleteFile, RunCommand, WriteFile
from enphase_setup.facts import detect_host
from enphase_setup.planner import build_setup
from enphase_setup.planner.secret import token_path
from enphase_setup.session import REMOVE, SETUP, Session
from enphase_setup.system import System

from .conftest import DEBIAN_UPS_CONF, SERIAL, make_root, recorder, token_info

SEED_CONFIG = f"""\
# the seed's config: PORT_FILE relative to STATE_DIR, which defaults to /var/lib/ups
USERNAME=owner@example.com
PASSWORD='pw'
SERIAL={SERIAL}
PORT_FILE=ups.dev
"""
SECTION = "\n[ups]\n\tdriver = dummy-ups\n\tport = /var/lib/ups/ups.dev\n\tmode = dummy-once\n"


def seed_root(tmp_path: Path, env: dict[str, str], config: str = SEED_CONFIG,
              section: str = SECTION) -> tuple[Path, Path]:
    """A fake root set up by hand as the seed says; returns it and the state directory."""
    root = make_root(tmp_path, ups_conf=DEBIAN_UPS_CONF + section)
    (root / "etc/nut/enphase-ups.conf").write_text(config)
    state = root / str(DaemonPaths.of({}, "ups", env).state_dir).lstrip("/")
    state.mkdir(parents=True, exist_ok=True)
    (state / "ups.dev").write_text("battery.charge.low: 30\nups.status: OL\n")
    (state / "enphase-ups.token").write_text(token_info().token)
    return root, state


def daemon_config(root: Path, env: dict[str, str], text: str | None = None) -> Config:
    """The daemon's reading of the config in the fake root (its paths are logical)."""
    path = root / "etc/nut/enphase-ups.conf"
    return parse_config(text if text is not None else path.read_text(), path, "ups", env)


def deleted(changes: list[Change]) -> set[PurePosixPath]:
    """The files a plan deletes."""
    return {c.path for c in changes if isinstance(c, DeleteFile)}


@pytest.mark.parametrize("env", [{}, {"NUT_LOCALSTATE": "/srv/nutstate"}])
def test_seed_config_paths_agree_everywhere(tmp_path: Path, env: dict[str, str]) -> None:
    section = SECTION.replace("/var/lib/ups", str(DaemonPaths.of({}, "ups", env).state_dir))
    root, _ = seed_root(tmp_path, env, section=section)
    daemon = daemon_config(root, env)
    state = daemon.state_dir
    assert state == (Path(env["NUT_LOCALSTATE"]) if env else Path("/var/lib/ups"))
    assert daemon.port_file == state / "ups.dev"
    assert daemon.token_file == state / "enphase-ups.token"

    system = System(root, env=env, runner=recorder())
    prefilled = Session.start(system, detect_host(system), "ups", SETUP)
    ans, existing = prefilled.answers, prefilled.existing
    assert existing.port_text is not None and "charge.low: 30" in existing.port_text
    assert ans.charge_low == 30
    assert Path(ans.port_path) == daemon.port_file
    assert Path(ans.state_dir) == daemon.state_dir
    assert existing.token_file is not None and Path(existing.token_file) == daemon.token_file
    assert Path(token_path(ans, prefilled.context)) == daemon.token_file

    # the set-up edits the config in place: the daemon then reads the same files
    plan = build_setup(ans, prefilled.context, token_info())
    written = {c.path: c for c in plan.changes if isinstance(c, WriteFile)}
    config = written[PurePosixPath("/etc/nut/enphase-ups.conf")]
    after = daemon_config(root, env, config.text)
    assert (after.port_file, after.state_dir, after.token_file) == (
        daemon.port_file, daemon.state_dir, daemon.token_file)
    assert not any(str(path).startswith("/var/lib/enphase-monitor") for path in written)

    removing = Session.start(System(root, env=env, runner=recorder()),
                             detect_host(system), "ups", REMOVE)
    gone = deleted(removing.build_plan(delete_port=True, delete_config=True).changes)
    for path in (daemon.port_file, nocomms_file(daemon.port_file), daemon.token_file):
        assert PurePosixPath(path) in gone, path


def test_remove_finds_the_port_file_of_a_config_without_a_section(tmp_path: Path) -> None:
    """The ups.conf section is gone (edited by hand): the config still names the files."""
    root, state = seed_root(tmp_path, {}, section="")
    (state / "ups.dev").rename(state / "ups.dev-nocomms")
    daemon = daemon_config(root, {})
    system = System(root, env={}, runner=recorder())
    session = Session.start(system, detect_host(system), "ups", REMOVE)
    gone = deleted(session.build_plan(delete_port=True, delete_config=True).changes)
    assert {PurePosixPath(daemon.port_file), PurePosixPath(nocomms_file(daemon.port_file)),
            PurePosixPath(daemon.token_file)} <= gone


def test_token_file_of_the_config_is_where_the_wizard_saves_the_token(tmp_path: Path) -> None:
    config = SEED_CONFIG + "STATE_DIR=/var/lib/ups\nTOKEN_FILE=tokens/home.jwt\n"
    root, state = seed_root(tmp_path, {}, config=config)
    (state / "tokens").mkdir()
    daemon = daemon_config(root, {})
    assert daemon.token_file == Path("/var/lib/ups/tokens/home.jwt")
    system = System(root, env={}, runner=recorder())
    session = Session.start(system, detect_host(system), "ups", SETUP)
    plan = build_setup(session.answers, session.context, token_info())
    cache = [c for c in plan.changes if isinstance(c, WriteFile) and "token cache" in c.title]
    assert [c.path for c in cache] == [PurePosixPath(daemon.token_file)]


def test_a_relative_port_in_ups_conf_is_under_nuts_config_dir(tmp_path: Path) -> None:
    """Without PORT_FILE the port file is where dummy-ups reads the section's `port`."""
    root = make_root(tmp_path)
    assert config_dir({}, root) == Path("/etc/nut")
    assert driver_port("ups.dev", Path("/etc/nut")) == Path("/etc/nut/ups.dev")
    assert driver_port("/var/lib/ups/ups.dev", Path("/etc/nut")) == Path("/var/lib/ups/ups.dev")
    (root / "etc/ups").mkdir()
    assert config_dir({}, root) == Path("/etc/ups")
    assert config_dir({"NUT_CONFPATH": "/opt/nut"}, root) == Path("/opt/nut")


@pytest.mark.parametrize(("line", "low"), [
    ('battery.charge.low: "25"', 25), ("battery.charge.low: 25 # mine", 25),
    ("battery.charge.low: inf", 20), ("battery.charge.low: nan", 20),
    ("# battery.charge.low: 5", 20),
])
def test_prefill_reads_the_port_file_as_dummy_ups_does(tmp_path: Path, line: str,
                                                        low: int) -> None:
    root, state = seed_root(tmp_path, {})
    (state / "ups.dev").write_text(f"{line}\nups.status: OL\n")
    system = System(root, env={}, runner=recorder())
    assert Session.start(system, detect_host(system), "ups", SETUP).answers.charge_low == low


def test_remove_takes_back_the_selinux_label_of_the_seeds_directory(tmp_path: Path) -> None:
    """The set-up labels the port file's directory (/var/lib/ups for a seed config): --remove
    with the files deletes that rule, not one for a directory the UPS never used."""
    root, _ = seed_root(tmp_path, {})
    (root / "sys/fs/selinux").mkdir(parents=True)
    (root / "sys/fs/selinux/enforce").write_text("1")
    rule = "/var/lib/ups(/.*)?"
    runner = recorder(**{"semanage fcontext -l -C": f"{rule}  all files  nut_conf_t\n"})
    system = System(root, env={}, runner=runner)
    session = Session.start(system, detect_host(system), "ups", REMOVE)
    plan = session.build_plan(delete_port=True, delete_config=True)
    argvs = [c.command.argv for c in plan.changes if isinstance(c, RunCommand)]
    assert ("semanage", "fcontext", "-d", rule) in argvs
