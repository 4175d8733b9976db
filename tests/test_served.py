"""The served record: the daemon under systemd records the port file it serves, and `-x` hides
that file too (an edit of PORT_FILE that was never reloaded, then a kill), trusting the record
only when it is this user's, private, small and one absolute path."""

from __future__ import annotations

import logging
import os
import signal
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from enphase_monitor import paths
from enphase_monitor.config import load_config
from enphase_monitor.served import RECORD_MAX, Recorder
from enphase_sim import Simulator
from tests.conftest import (
    ROOT,
    daemon_thread,
    make_daemon,
    make_monitor,
    port_values,
    start_daemon,
    wait_until,
    write_setup,
)

OL = "ups.delay.shutdown: 30\nups.status: OL\n"


def run_x(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    """`enphase-monitor -x <args>` as the unit's ExecStopPost runs it, with `env` added."""
    full = {k: v for k, v in os.environ.items() if k not in ("NOTIFY_SOCKET", "REQUESTS_CA_BUNDLE")}
    full.update(env)
    return subprocess.run([sys.executable, "-m", "enphase_monitor.cli", "-x", *args], cwd=ROOT,
                          env=full, capture_output=True, text=True, timeout=30)


def hidden(port: Path) -> bool:
    """Only the `-nocomms` name exists."""
    return not port.exists() and paths.nocomms_file(port).exists()


def move_port_file(config: Path, new: str) -> None:
    """Edit PORT_FILE in `config` (no reload)."""
    lines = [f"PORT_FILE={new}" if line.startswith("PORT_FILE=") else line
             for line in config.read_text().splitlines()]
    config.write_text("\n".join(lines) + "\n")


@pytest.fixture
def etc(tmp_path: Path, sim: Simulator) -> Path:
    """A config dir holding enphase-test.conf and test.dev (saying OL), as the unit finds it."""
    write_setup(tmp_path / "etc", sim, port_text=OL)
    return tmp_path / "etc"


@pytest.fixture
def unit_env(tmp_path: Path, etc: Path) -> dict[str, str]:
    """What systemd gives the unit: $STATE_DIRECTORY (private, 0750) and the config dir."""
    state = tmp_path / "var-lib-enphase-monitor"
    state.mkdir(mode=0o750)
    return {"STATE_DIRECTORY": str(state), "NUT_SYSCONFIG": str(etc)}


def record_of(env: dict[str, str]) -> Path:
    record = paths.served_record("test", env)
    assert record is not None
    return record


# -- the name rule ----------------------------------------------------------------------------
def test_the_record_lives_in_systemds_state_directory_only() -> None:
    assert paths.served_record("ups1", {}) is None  # a daemon run by hand: no record
    assert paths.served_record("ups1", {"STATE_DIRECTORY": "relative"}) is None
    assert paths.served_record("a/b", {"STATE_DIRECTORY": "/s"}) is None
    assert paths.served_record("ups1", {"STATE_DIRECTORY": "/s:/t"}) == Path(
        "/s/enphase-ups1.served")


# -- the daemon writes it ---------------------------------------------------------------------
def test_the_daemon_records_its_port_file_at_start_and_after_a_reload_moves_it(
        tmp_path: Path, sim: Simulator, unit_env: dict[str, str],
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("STATE_DIRECTORY", unit_env["STATE_DIRECTORY"])
    config = load_config(write_setup(tmp_path / "state", sim))
    record = record_of(unit_env)
    new = config.port_file.with_name("moved.dev")
    new.write_text("")
    with daemon_thread(make_daemon(config)) as daemon:
        wait_until(lambda: port_values(config.port_file).get("ups.status") == "OL")
        assert record.read_text() == f"{config.port_file}\n"
        assert record.stat().st_mode & 0o777 == 0o600
        move_port_file(config.path, new.name)
        daemon.pause.request_reload()
        wait_until(lambda: port_values(new).get("ups.status") == "OL")
        assert record.read_text() == f"{new}\n"
    assert hidden(config.port_file) and hidden(new)


def test_without_a_state_directory_nothing_is_recorded(setup: object) -> None:
    from enphase_monitor.config import Config

    assert isinstance(setup, Config)
    assert make_monitor(setup).served.record is None


def test_a_record_that_cannot_be_written_is_logged_once_and_changes_nothing(
        tmp_path: Path, sim: Simulator, monkeypatch: pytest.MonkeyPatch,
        caplog: pytest.LogCaptureFixture) -> None:
    monkeypatch.setenv("STATE_DIRECTORY", str(tmp_path / "missing\x1b[2J"))
    mon = make_monitor(load_config(write_setup(tmp_path / "state", sim, port_text=OL)))
    with caplog.at_level(logging.WARNING, logger="enphase_monitor"):
        mon.hide_until_fresh()
        mon.served.note(mon.port.path)
        assert mon.cycle()
    problems = [r for r in caplog.records if "cannot record" in r.getMessage()]
    assert len(problems) == 1 and "\x1b" not in problems[0].getMessage()
    assert port_values(mon.port.path)["ups.status"] == "OL"


# -- -x reads it ------------------------------------------------------------------------------
def _served_then_moved(etc: Path, env: dict[str, str], new: str) -> Path:
    """The daemon served etc/test.dev (recorded); PORT_FILE now says `new`. Returns test.dev."""
    Recorder(record_of(env)).note(etc / "test.dev")
    move_port_file(etc / "enphase-test.conf", new)
    return etc / "test.dev"


def test_x_hides_the_served_file_after_an_unreloaded_edit(etc: Path,
                                                        unit_env: dict[str, str]) -> None:
    served = _served_then_moved(etc, unit_env, "new.dev")
    (etc / "new.dev").write_text("")
    out = run_x(unit_env, "test")
    assert out.returncode == 0, out.stderr
    assert hidden(served) and hidden(etc / "new.dev")
    assert "the port file the daemon served" in out.stderr and out.stderr.count("\n") == 1


def test_x_hides_the_served_file_when_the_new_one_is_missing(etc: Path,
                                                           unit_env: dict[str, str]) -> None:
    """The config's file is missing: that is still the error (exit 1, one line to fix it)."""
    served = _served_then_moved(etc, unit_env, "new.dev")
    out = run_x(unit_env, "test")
    assert out.returncode == 1 and "new.dev' missing" in out.stderr
    assert hidden(served)


def test_x_hides_the_served_file_when_the_config_cannot_be_read(
        etc: Path, unit_env: dict[str, str]) -> None:
    """Better than nothing: the config's error is still the exit status."""
    served = _served_then_moved(etc, unit_env, "new.dev")
    (etc / "enphase-test.conf").chmod(0o666)
    out = run_x(unit_env, "test")
    assert out.returncode == 1 and "chmod go-w" in out.stderr
    assert hidden(served)


def test_x_with_the_record_naming_the_configs_file_hides_it_once(
        etc: Path, unit_env: dict[str, str]) -> None:
    Recorder(record_of(unit_env)).note(etc / "test.dev")
    out = run_x(unit_env, "test")
    assert out.returncode == 0 and out.stderr == ""
    assert hidden(etc / "test.dev")
    again = run_x(unit_env, "test")  # hidden already: fine
    assert again.returncode == 0 and again.stderr == ""


def test_x_with_a_record_of_a_file_gone_is_fine(etc: Path, unit_env: dict[str, str]) -> None:
    Recorder(record_of(unit_env)).note(etc / "gone.dev")
    out = run_x(unit_env, "test")
    assert out.returncode == 0 and out.stderr == ""
    assert hidden(etc / "test.dev")


def _symlink(record: Path, victim: Path) -> None:
    good = record.with_name("elsewhere")
    Recorder(good).note(victim)
    record.symlink_to(good)


def _write(content: bytes, mode: int = 0o600,
           owner: int | None = None) -> Callable[[Path, Path], None]:
    def make(record: Path, victim: Path) -> None:
        record.write_bytes(content.replace(b"VICTIM", os.fsencode(victim)))
        record.chmod(mode)
        if owner is not None:
            if os.geteuid() != 0:
                pytest.skip("needs root to give the record another owner")
            os.chown(record, owner, -1)
    return make


HOSTILE = {
    "symlink": (_symlink, "a symbolic link"),
    "huge": (_write(b"VICTIM" + b"/" * RECORD_MAX), "larger than"),
    "relative": (_write(b"victim.dev\n"), "not an absolute path"),
    "control": (_write(b"VICTIM\x1b[2J\n"), "control characters"),
    "two lines": (_write(b"VICTIM\nVICTIM\n"), "control characters"),
    "empty": (_write(b""), "not an absolute path"),
    "group-writable": (_write(b"VICTIM\n", mode=0o620), "writable by group or others"),
    "other owner": (_write(b"VICTIM\n", owner=12345), "owned by uid 12345"),
}


@pytest.mark.parametrize("kind", HOSTILE)
def test_x_ignores_a_hostile_record_with_one_warning(etc: Path, unit_env: dict[str, str],
                                                     kind: str) -> None:
    make, said = HOSTILE[kind]
    victim = etc.parent / "victim.dev"
    victim.write_text(OL)
    make(record_of(unit_env), victim)
    out = run_x(unit_env, "test")
    assert out.returncode == 0, out.stderr
    assert hidden(etc / "test.dev")  # the config's file, as always
    assert victim.exists(), out.stderr  # not the one the record names
    lines = out.stderr.splitlines()
    assert len(lines) == 1 and "served record" in lines[0] and said in lines[0], out.stderr
    assert "\x1b" not in out.stderr and "ignored" in lines[0]


# -- the real daemon, killed --------------------------------------------------------------------
def test_x_after_sigkill_hides_the_file_the_killed_daemon_served(
        tmp_path: Path, etc: Path, unit_env: dict[str, str]) -> None:
    """As systemd runs it: `enphase-monitor test` with $STATE_DIRECTORY; PORT_FILE edited
    without a reload; SIGKILL (the OOM killer); ExecStopPost's `enphase-monitor -x test`."""
    port = etc / "test.dev"
    log_path = tmp_path / "daemon.log"
    proc = start_daemon(["test"], log_path, unit_env)
    try:
        # written by this daemon (the OL left in the file has no battery.charge)
        wait_until(lambda: "battery.charge" in port_values(port), 30)
        assert port_values(port)["ups.status"] == "OL"
        move_port_file(etc / "enphase-test.conf", "other.dev")
        (etc / "other.dev").write_text("")  # made ready for a reload that never came
        proc.send_signal(signal.SIGKILL)
        assert proc.wait(30) == -signal.SIGKILL
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert port_values(port).get("ups.status") == "OL"  # left visible by the kill
    out = run_x(unit_env, "test")
    assert out.returncode == 0, out.stderr + log_path.read_text()
    assert hidden(port), out.stderr
    assert "OL" in paths.nocomms_file(port).read_text()
    assert hidden(etc / "other.dev")
