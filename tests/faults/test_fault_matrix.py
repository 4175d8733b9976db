"""The fault matrix (docs/faults.md): each fault, the state NUT is left in, the port file intact.

The monitor runs in-process against the real HTTPS simulator. What NUT shows follows from the
port file, as the end-to-end tests prove with real dummy-ups + upsd: a live file with
`ups.status: X` is `X` in upsc; a hidden file (`-nocomms`) is `Driver not connected`.
"""

from __future__ import annotations

import errno
import logging
import os
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from enphase_monitor import fileutil
from enphase_monitor.config import load_config
from enphase_monitor.errors import ConfigError
from enphase_monitor.monitor import Monitor
from enphase_monitor.portfile import PortContent
from enphase_sim import Simulator
from tests.conftest import make_monitor, write_setup

USER = "# kept\nups.delay.shutdown: 30\n"
LOGIN = "/login/login.json"


def monitor(tmp_path: Path, sim: Simulator, extra: str = "", directory: Path | None = None
            ) -> Monitor:
    config = write_setup(directory or tmp_path / "s", sim, extra, USER)
    return make_monitor(load_config(config))


def nut_view(mon: Monitor) -> str:
    """What upsc would show, and the port file checked to be complete and to keep user lines."""
    path = mon.port.nocomms_path if mon.port.hidden else mon.config.port_file
    content = PortContent.parse(path.read_text())
    assert content.values.get("ups.delay.shutdown") == "30", path.read_text()
    assert content.text.endswith("\n")
    assert "ups.status" in content.values and "battery.charge" in content.values
    return "Driver not connected" if mon.port.hidden else content.values["ups.status"]


def polls(mon: Monitor, n: int) -> list[bool]:
    return [mon.cycle() for _ in range(n)]


def logins(sim: Simulator) -> int:
    return int(sim.stats()["requests"].get(LOGIN, 0))


@pytest.mark.parametrize("kind, value", [
    ("timeout", 3.0), ("reset", None), ("tls", None), ("status", 500.0), ("status", 503.0),
    ("garbage", None), ("empty", None), ("truncated", None),
])
def test_gateway_failure_goes_nocomms_after_debounce_and_back(
    tmp_path: Path, sim: Simulator, kind: str, value: float | None
) -> None:
    mon = monitor(tmp_path, sim)
    assert mon.cycle() and nut_view(mon) == "OL"
    sim.inject("*", kind, value=value)
    if kind == "tls":  # a TLS fault hits new connections: end the kept-alive one
        sim.inject("*", "reset", count=1)
    assert mon.cycle() is False
    assert nut_view(mon) == "OL"  # one failed poll is not nocomms
    assert mon.cycle() is False
    assert nut_view(mon) == "Driver not connected"
    sim.clear_faults()
    assert mon.cycle() and nut_view(mon) == "OL"


def test_401_then_a_valid_login_changes_nothing(tmp_path: Path, sim: Simulator) -> None:
    mon = monitor(tmp_path, sim)
    assert mon.cycle()
    before = logins(sim)
    sim.revoke_tokens()
    assert mon.cycle() and nut_view(mon) == "OL"
    assert logins(sim) == before + 1


def test_401_forever_backs_off_without_a_login_storm(tmp_path: Path, sim: Simulator) -> None:
    mon = monitor(tmp_path, sim)
    assert mon.cycle()
    sim.inject("*", "401")
    results = polls(mon, 10)
    assert not any(results)
    assert nut_view(mon) == "Driver not connected"
    assert logins(sim) <= 3, "one login at start, one after the first 401, then back-off"


def test_wrong_types_are_read(tmp_path: Path, sim: Simulator) -> None:
    mon = monitor(tmp_path, sim)
    sim.inject("*", "wrong_types")
    assert mon.cycle() and nut_view(mon) == "OL"
    assert PortContent.parse(mon.config.port_file.read_text()).values["battery.charge"] == "80"


@pytest.mark.parametrize("path", ["/ivp/meters/reports", "/ivp/ensemble/secctrl"])
def test_missing_optional_endpoint_degrades_values_only(
    tmp_path: Path, sim: Simulator, path: str
) -> None:
    mon = monitor(tmp_path, sim)
    sim.update(grid="open")
    sim.inject(path, "status", value=404)
    assert polls(mon, 2) == [True, True]
    assert nut_view(mon) == "OB"


def test_slow_gateway_near_api_timeout_still_works(tmp_path: Path, sim: Simulator) -> None:
    # 2 s to spare below the deadline: a loaded machine's TLS handshake and scheduling fit
    mon = monitor(tmp_path, sim, "API_TIMEOUT=6\n")
    sim.inject("/ivp/ensemble/relay", "slow", value=4.0)
    assert mon.cycle() and nut_view(mon) == "OL"


def test_cloud_down_with_a_valid_cached_token_has_no_effect(tmp_path: Path, sim: Simulator
                                                            ) -> None:
    mon = monitor(tmp_path, sim)
    assert mon.cycle()
    sim.inject("login", "down")
    sim.inject("tokens", "down")
    fresh = monitor(tmp_path, sim, directory=tmp_path / "s")  # a restart: token from the file
    assert polls(fresh, 3) == [True, True, True]
    assert nut_view(fresh) == "OL"


def test_cloud_down_with_an_expired_token_goes_nocomms_and_backs_off(
    tmp_path: Path, sim: Simulator
) -> None:
    mon = monitor(tmp_path, sim)
    mon.config.token_file.write_text(sim.issue_token(lifetime_s=-60))
    mon.config.token_file.chmod(0o600)
    sim.inject("login", "down")
    assert polls(mon, 6) == [False] * 6
    assert mon.port.hidden
    assert logins(sim) == 1, "after a failed login the next try waits minutes"


def test_mfa_account_gets_a_clear_message_and_one_attempt(
    tmp_path: Path, sim: Simulator, caplog: pytest.LogCaptureFixture
) -> None:
    sim.update(mfa=True)
    mon = monitor(tmp_path, sim)
    with caplog.at_level(logging.ERROR, logger="enphase_monitor"):
        assert polls(mon, 3) == [False] * 3
    assert "multi-factor" in caplog.text and "TOKEN=" in caplog.text
    assert logins(sim) == 1
    assert mon.port.hidden  # never polled: the user's file is hidden as it was
    assert mon.port.nocomms_path.read_text() == USER


def test_corrupt_token_file_is_replaced(tmp_path: Path, sim: Simulator) -> None:
    mon = monitor(tmp_path, sim)
    mon.config.token_file.write_text("not a token")
    mon.config.token_file.chmod(0o600)
    assert mon.cycle() and nut_view(mon) == "OL"
    assert mon.config.token_file.read_text().count(".") == 2


def test_world_readable_token_file_is_refused(tmp_path: Path, sim: Simulator) -> None:
    mon = monitor(tmp_path, sim)
    mon.config.token_file.write_text(sim.issue_token())
    mon.config.token_file.chmod(0o644)
    with pytest.raises(ConfigError, match="world read permission"):
        mon.cycle()


def test_port_file_deleted_while_running_is_logged_and_recovered(
    tmp_path: Path, sim: Simulator, caplog: pytest.LogCaptureFixture
) -> None:
    mon = monitor(tmp_path, sim)
    assert mon.cycle()
    mon.config.port_file.unlink()
    sim.update(soc=50.0)
    with caplog.at_level(logging.ERROR, logger="enphase_monitor"):
        assert mon.cycle() and mon.cycle()  # the gateway answers; the daemon stays up
    errors = [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR]
    assert len(errors) == 1 and "create it" in errors[0], errors  # one line, not one a poll
    assert not mon.port.hidden and not mon.config.port_file.exists()  # never created by us
    mon.config.port_file.write_text(USER)  # the user puts it back
    assert mon.cycle() and nut_view(mon) == "OL"
    assert "battery.charge: 50" in mon.config.port_file.read_text()


@pytest.fixture
def small_tmpfs(tmp_path: Path) -> Iterator[Path]:
    """A 256 KiB tmpfs (root only): a real disk that can fill up or turn read-only."""
    mnt = tmp_path / "mnt"
    mnt.mkdir()
    if os.geteuid() != 0 or subprocess.run(
            ["mount", "-t", "tmpfs", "-o", "size=256k,nr_inodes=64,mode=0700", "tmpfs", str(mnt)],
            capture_output=True).returncode != 0:
        pytest.skip("needs root and mount to make a small tmpfs")
    try:
        yield mnt
    finally:
        subprocess.run(["umount", "-l", str(mnt)], check=False)


def fill(directory: Path) -> Path:
    """Fill the file system of `directory` to the last byte; returns the filler file."""
    filler = directory / "filler"
    try:
        with open(filler, "wb") as handle:
            while True:
                handle.write(b"\0" * 4096)
                handle.flush()
    except OSError as exc:
        assert exc.errno == errno.ENOSPC
    return filler


def test_disk_full_hides_the_file_and_recovers(tmp_path: Path, sim: Simulator,
                                               small_tmpfs: Path) -> None:
    mon = monitor(tmp_path, sim, directory=small_tmpfs)
    assert mon.cycle()
    filler = fill(small_tmpfs)
    sim.update(soc=40.0)
    assert mon.cycle()  # the poll worked; the write did not
    assert nut_view(mon) == "Driver not connected"  # a rename needs no space
    assert "No space" in mon.last_error
    assert not [p for p in small_tmpfs.iterdir() if p.name.endswith(".tmp")]
    assert mon.cycle() and mon.port.hidden  # still full: still hidden
    filler.unlink()
    assert mon.cycle() and nut_view(mon) == "OL"
    assert "battery.charge: 40" in mon.config.port_file.read_text()


def test_grid_loss_while_the_disk_is_full_never_leaves_ol(tmp_path: Path, sim: Simulator,
                                                          small_tmpfs: Path) -> None:
    mon = monitor(tmp_path, sim, directory=small_tmpfs)
    assert mon.cycle() and nut_view(mon) == "OL"
    filler = fill(small_tmpfs)
    sim.update(grid="open")
    assert mon.cycle()
    assert nut_view(mon) == "Driver not connected"  # not OL: NUT loses the UPS instead
    filler.unlink()
    assert mon.cycle() and nut_view(mon) == "OB"  # confirmed off-grid, written


def test_read_only_file_system_keeps_trying(tmp_path: Path, sim: Simulator,
                                            small_tmpfs: Path) -> None:
    """Neither a write nor a rename works on a read-only file system: the error is logged and
    both are tried again at each poll; the file is written once the file system is writable."""
    mon = monitor(tmp_path, sim, directory=small_tmpfs)
    mon.config.token_file.parent.mkdir(exist_ok=True)
    assert mon.cycle()
    before = mon.config.port_file.read_text()
    subprocess.run(["mount", "-o", "remount,ro", str(small_tmpfs)], check=True)
    try:
        sim.update(soc=41.0)
        assert mon.cycle()
        assert mon.config.port_file.read_text() == before
        assert "Read-only" in mon.last_error
    finally:
        subprocess.run(["mount", "-o", "remount,rw", str(small_tmpfs)], check=True)
    assert mon.cycle()
    assert "battery.charge: 41" in mon.config.port_file.read_text()


@pytest.mark.parametrize("call, err", [("write", errno.ENOSPC), ("fsync", errno.EIO)])
def test_injected_write_errors_hide_the_file_and_recover(
    tmp_path: Path, sim: Simulator, monkeypatch: pytest.MonkeyPatch, call: str, err: int
) -> None:
    """ENOSPC half-way through the write, EIO at fsync (where mount is not allowed)."""
    mon = monitor(tmp_path, sim)
    assert mon.cycle()

    def broken(fd: int, *args: object) -> int:
        raise OSError(err, os.strerror(err))

    with monkeypatch.context() as patch:
        patch.setattr(fileutil.os, call, broken)
        sim.update(soc=42.0)
        assert mon.cycle()
        assert nut_view(mon) == "Driver not connected"
        assert os.strerror(err) in mon.last_error
        assert mon.cycle() and mon.port.hidden
    assert not [p for p in mon.port.path.parent.iterdir() if p.name.endswith(".tmp")]
    assert mon.cycle() and nut_view(mon) == "OL"
    assert "battery.charge: 42" in mon.config.port_file.read_text()


@pytest.mark.parametrize("soc", ["null", "-5", "150", "\"high\""])
def test_invalid_state_of_charge_is_a_failed_poll(tmp_path: Path, soc: str) -> None:
    """Through TEST mode, which feeds any payload through the whole daemon."""
    from enphase_sim import make_jwt

    state = tmp_path / "s"
    state.mkdir(mode=0o700)
    (state / "t.dev").write_text(USER)
    token = make_jwt({"exp": int(time.time()) + 9e6, "aud": "1"})
    config = state / "t.conf"
    config.write_text(
        f"UPS=t\nTEST=1\nNOCOMMS_AFTER=2\nSTATE_DIR={state}\nPORT_FILE=t.dev\nSERIAL=1\n"
        f"USERNAME=u\nPASSWORD=p\nTEST_SESS='{{\"session_id\":\"s\"}}'\nTEST_TOKEN={token}\n"
        "TEST_RELAY='{\"mains_oper_state\":\"closed\"}'\n"
        f"TEST_LIVE='{{\"meters\":{{\"soc\":{soc}}}}}'\n"
    )
    config.chmod(0o600)
    mon = make_monitor(load_config(config))
    assert mon.cycle() is False
    assert "state of charge" in mon.last_error
