"""Root-safe files (docs/faults.md): what a user who can write the port file's or the token's
directory can put there (a symlink, a FIFO, a file of their own) never makes a root daemon copy,
follow, hang or trust it; config and token files another user could change are refused.

The attacks matter when the daemon runs as root (the seed's way) and the tests that need files of
another owner run only as root (CI runs as root); the others run as any user.
"""

from __future__ import annotations

import contextlib
import grp
import logging
import os
import pwd
import stat
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from enphase_monitor import monitor as monitor_module
from enphase_monitor.config import load_config
from enphase_monitor.errors import ConfigError, InsecureFileError, PortFileError
from enphase_monitor.monitor import Monitor
from enphase_sim import Simulator
from tests.conftest import ROOT, make_monitor, write_setup

USER = "# kept\nups.delay.shutdown: 30\n"
SECRET = b"ROOT-ONLY SECRET\n" * 64
AS_ROOT = pytest.mark.skipif(os.geteuid() != 0, reason="needs root: the attack is on a root "
                             "daemon and needs files of another owner (CI runs as root)")


def ids(name: str, fallback: int = 65534) -> tuple[int, int]:
    """uid and gid of `name` (NUT's user where it exists), else nobody's."""
    try:
        user = pwd.getpwnam(name)
        return user.pw_uid, user.pw_gid
    except KeyError:
        return fallback, fallback


NUT_UID, NUT_GID = ids("nut")
NOBODY = 65534


def make(directory: Path, sim: Simulator, extra: str = "") -> Monitor:
    return make_monitor(load_config(write_setup(directory, sim, extra, USER)))


@pytest.fixture
def secret(tmp_path: Path) -> Iterator[Path]:
    """A root-only setuid file: what an attacker would like a copy of."""
    private = tmp_path / "private"
    private.mkdir(mode=0o700)
    path = private / "setuid-binary"
    path.write_bytes(SECRET)
    path.chmod(0o4755)
    yield path
    st = path.lstat()
    assert path.read_bytes() == SECRET, "the root-only file was changed"
    assert stat.S_IMODE(st.st_mode) == 0o4755 and (st.st_uid, st.st_gid) == (0, 0)


def no_copy_of(directory: Path) -> None:
    """No regular file in `directory` holds the secret or has a setuid/setgid bit."""
    for path in directory.iterdir():
        st = path.lstat()
        if stat.S_ISREG(st.st_mode):
            assert b"ROOT-ONLY SECRET" not in path.read_bytes(), path
            assert not st.st_mode & (stat.S_ISUID | stat.S_ISGID | stat.S_ISVTX), path


@pytest.fixture
def attacker_dir(tmp_path: Path, sim: Simulator) -> Monitor:
    """A root daemon whose port file (and token) live in a directory nobody can write."""
    directory = tmp_path / "shared"
    monitor = make(directory, sim)
    os.chown(directory, NOBODY, NOBODY)
    directory.chmod(0o750)
    os.chown(monitor.config.port_file, NOBODY, NOBODY)
    monitor.config.port_file.chmod(0o640)
    return monitor


@AS_ROOT
def test_symlink_swapped_in_between_read_and_write_is_replaced_not_followed(
    attacker_dir: Monitor, secret: Path, sim: Simulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    mon = attacker_dir
    port = mon.config.port_file
    assert mon.cycle()
    real = monitor_module.render

    def render_then_swap(*args: object, **kwargs: object) -> str:
        text = real(*args, **kwargs)  # type: ignore[arg-type]
        port.unlink()  # the attacker, between the daemon's read and its write
        port.symlink_to(secret)
        return text

    monkeypatch.setattr(monitor_module, "render", render_then_swap)
    sim.update(soc=55.0)
    assert mon.cycle()
    st = port.lstat()
    assert stat.S_ISREG(st.st_mode), "the symlink is replaced by the daemon's own file"
    assert (stat.S_IMODE(st.st_mode), st.st_uid, st.st_gid) == (0o640, NOBODY, NOBODY)
    assert "battery.charge: 55" in port.read_text()
    no_copy_of(port.parent)


@AS_ROOT
def test_symlink_at_read_time_is_refused_and_hidden(
    attacker_dir: Monitor, secret: Path, caplog: pytest.LogCaptureFixture
) -> None:
    mon = attacker_dir
    port = mon.config.port_file
    assert mon.cycle()
    port.unlink()
    port.symlink_to(secret)
    with caplog.at_level(logging.ERROR, logger="enphase_monitor"):
        assert mon.cycle()
    assert "is a symbolic link, which is never followed" in caplog.text
    assert mon.port.hidden and mon.port.nocomms_path.is_symlink()  # renamed, never read
    no_copy_of(port.parent)
    mon.port.nocomms_path.unlink()  # the admin cleans up
    port.write_text(USER)
    assert mon.cycle() and "ups.status: OL" in port.read_text()


@AS_ROOT
def test_hard_link_to_a_setuid_file_is_never_copied_with_its_bits(
    attacker_dir: Monitor, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """With fs.protected_hardlinks=0 a user can link a setuid root file into the directory: the
    daemon's new file never has the special bits (and a binary is too large to be read)."""
    mon = attacker_dir
    port = mon.config.port_file
    small = tmp_path / "small-setuid"
    small.write_text(USER)
    small.chmod(0o4750)
    port.unlink()
    os.link(small, port)
    assert mon.cycle()
    st = port.lstat()
    assert stat.S_IMODE(st.st_mode) == 0o750 and st.st_uid == 0
    assert stat.S_IMODE(small.stat().st_mode) == 0o4750  # the linked file itself is untouched


@pytest.fixture
def fifo_port(tmp_path: Path, sim: Simulator) -> Iterator[Monitor]:
    mon = make(tmp_path / "s", sim)
    assert mon.cycle()
    mon.config.port_file.unlink()
    os.mkfifo(mon.config.port_file, 0o640)
    yield mon
    with contextlib.suppress(OSError):  # unblock a reader the test may have left hanging
        os.close(os.open(mon.config.port_file, os.O_WRONLY | os.O_NONBLOCK))


def in_thread(action: object, timeout: float = 10) -> object:
    """action() in a thread; fails the test (instead of hanging it) if it blocks."""
    result: list[object] = []
    worker = threading.Thread(target=lambda: result.append(action()), daemon=True)  # type: ignore[operator]
    worker.start()
    worker.join(timeout)
    assert not worker.is_alive(), "blocked (a FIFO opened without O_NONBLOCK?)"
    return result[0] if result else None


def test_fifo_in_place_of_the_port_file_does_not_hang_and_is_hidden(
    fifo_port: Monitor, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.ERROR, logger="enphase_monitor"):
        assert in_thread(fifo_port.cycle) is True
    assert "is a FIFO (named pipe), not a regular file" in caplog.text
    assert fifo_port.port.hidden
    assert stat.S_ISFIFO(fifo_port.port.nocomms_path.lstat().st_mode)


def test_fifo_at_start_up_is_one_clear_error(fifo_port: Monitor) -> None:
    def start() -> str:
        try:
            make_monitor(fifo_port.config)
        except PortFileError as exc:
            return str(exc)
        return "started"

    assert "is a FIFO (named pipe), not a regular file" in str(in_thread(start))


def test_fifo_at_start_up_stops_the_daemon_with_one_line_and_is_hidden(fifo_port: Monitor
                                                                      ) -> None:
    env = {k: v for k, v in os.environ.items() if k != "REQUESTS_CA_BUNDLE"}
    proc = subprocess.run([sys.executable, "-m", "enphase_monitor.cli", "-c",
                           str(fifo_port.config.path)], cwd=ROOT, env=env, capture_output=True,
                          text=True, timeout=60)
    assert proc.returncode == 1
    assert proc.stderr.strip().splitlines()[-1].endswith(
        "is a FIFO (named pipe), not a regular file: remove it and put a regular file there")
    assert fifo_port.port.hidden  # dummy-ups must not read from it either


def test_a_port_file_too_large_to_be_one_is_refused(tmp_path: Path, sim: Simulator) -> None:
    mon = make(tmp_path / "s", sim)
    assert mon.cycle()
    mon.config.port_file.write_bytes(b"x" * (64 * 1024 + 1))
    assert mon.cycle() and mon.port.hidden
    assert "larger than 65536 bytes" in mon.last_error


# ---------------------------------------------------------------- config and token files

def test_group_writable_config_is_refused(tmp_path: Path, sim: Simulator) -> None:
    config = write_setup(tmp_path / "s", sim)
    config.chmod(0o660)
    with pytest.raises(InsecureFileError) as info:
        load_config(config)
    assert str(info.value) == (f"group or world write permission on config {config}: run "
                               f"'chmod go-w {config}'")


def test_config_symlink_is_refused(tmp_path: Path, sim: Simulator) -> None:
    config = write_setup(tmp_path / "s", sim)
    link = tmp_path / "s" / "link.conf"
    link.symlink_to(config)
    with pytest.raises(ConfigError, match="is a symbolic link, which is never followed"):
        load_config(link)


@AS_ROOT
@pytest.mark.parametrize("owner", [NOBODY, NUT_UID])
def test_config_owned_by_another_user_is_refused(tmp_path: Path, sim: Simulator,
                                                 owner: int) -> None:
    config = write_setup(tmp_path / "s", sim)
    os.chown(config, owner, 0)
    with pytest.raises(InsecureFileError) as info:
        load_config(config)
    assert str(info.value) == (f"owner uid {owner} (must be root) on config {config}: run "
                               f"'chown root {config}'")


@AS_ROOT
def test_token_file_owned_by_another_user_is_refused(tmp_path: Path, sim: Simulator) -> None:
    mon = make(tmp_path / "s", sim)
    mon.config.token_file.write_text(sim.issue_token())
    mon.config.token_file.chmod(0o600)
    os.chown(mon.config.token_file, NUT_UID, NUT_GID)
    with pytest.raises(InsecureFileError, match=r"owner uid \d+ \(must be root\) on token file"):
        mon.cycle()


def test_token_file_symlink_stops_the_daemon_with_one_line_and_hides_the_port_file(
    tmp_path: Path, sim: Simulator
) -> None:
    directory = tmp_path / "s"
    config = write_setup(directory, sim, "", USER)
    elsewhere = tmp_path / "elsewhere.token"
    elsewhere.write_text(sim.issue_token())
    elsewhere.chmod(0o600)
    (directory / "enphase-test.token").symlink_to(elsewhere)
    env = {k: v for k, v in os.environ.items() if k != "REQUESTS_CA_BUNDLE"}
    proc = subprocess.run([sys.executable, "-m", "enphase_monitor.cli", "-c", str(config)],
                          cwd=ROOT, env=env, capture_output=True, text=True, timeout=60)
    assert proc.returncode == 1
    assert proc.stderr.strip().splitlines()[-1] == (
        f"enphase-monitor test: token file {directory}/enphase-test.token is a symbolic link,"
        " which is never followed: replace it with the file itself")
    assert not (directory / "test.dev").exists() and (directory / "test.dev-nocomms").exists()


@AS_ROOT
def test_the_seeds_layout_keeps_working(tmp_path: Path, sim: Simulator) -> None:
    """Root daemon; the port file and token in a directory of NUT's group (/var/lib/nut is
    0770 root:nut on Debian), the port file NUT's; the config 0640 root:nut."""
    nut_gid = grp.getgrnam("nut").gr_gid if NUT_UID != NOBODY else NOBODY
    state = tmp_path / "var-lib-nut"
    config = write_setup(state, sim, "", USER)
    os.chown(state, 0, nut_gid)
    state.chmod(0o770)
    port = state / "test.dev"
    os.chown(port, NUT_UID, NUT_GID)
    port.chmod(0o640)
    etc = tmp_path / "etc-nut"
    etc.mkdir()
    os.chown(etc, 0, nut_gid)
    etc.chmod(0o755)
    moved = etc / config.name
    config.rename(moved)
    os.chown(moved, 0, nut_gid)
    moved.chmod(0o640)
    mon = make_monitor(load_config(moved))
    assert mon.cycle() and "ups.status: OL" in port.read_text()
    st = port.stat()
    assert (stat.S_IMODE(st.st_mode), st.st_uid, st.st_gid) == (0o640, NUT_UID, NUT_GID)
    token = mon.config.token_file.stat()
    assert (stat.S_IMODE(token.st_mode), token.st_uid) == (0o600, 0)
    fresh = make_monitor(load_config(moved))  # a restart reads the token
    assert fresh.cycle()
