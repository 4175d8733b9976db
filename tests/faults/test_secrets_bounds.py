"""Secrets that could block or betray the daemon: a hung OS keyring is bounded and fails the
poll in one line; CLOUD_CA_FILE, a trust anchor, gets the config's owner and write checks."""

from __future__ import annotations

import logging
import os
import sys
import threading
import time
import types
from collections.abc import Iterator
from pathlib import Path

import pytest

from enphase_monitor import credentials, keyringlookup
from enphase_monitor.config import load_config
from enphase_monitor.enlighten import EnlightenClient
from enphase_monitor.errors import CloudCancelled, InsecureFileError
from enphase_monitor.keyringlookup import KeyringTimeout
from enphase_monitor.nocomms import port_file_of
from enphase_monitor.tokeninfo import DAY
from enphase_monitor.tokens import TokenManager
from enphase_monitor.transport import HttpsTransport
from enphase_sim import Simulator, make_jwt
from tests.conftest import make_monitor, write_setup

HANG_S = 60.0


class HungKeyring:
    """A `keyring` module whose get_password blocks until released (a hung D-Bus)."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.release = threading.Event()
        self.calls = 0
        module = types.ModuleType("keyring")
        errors = types.ModuleType("keyring.errors")
        errors.KeyringError = type("KeyringError", (Exception,), {})  # type: ignore[attr-defined]

        def get_password(service: str, username: str) -> str | None:
            self.calls += 1
            self.release.wait(HANG_S)
            return "from-the-keyring"

        module.errors = errors  # type: ignore[attr-defined]
        module.get_password = get_password  # type: ignore[attr-defined]
        monkeypatch.setitem(sys.modules, "keyring", module)
        monkeypatch.setitem(sys.modules, "keyring.errors", errors)


@pytest.fixture
def hung(monkeypatch: pytest.MonkeyPatch) -> Iterator[HungKeyring]:
    monkeypatch.setattr(keyringlookup, "KEYRING_TIMEOUT_S", 0.3)
    monkeypatch.setattr(keyringlookup, "_stop", None)  # no stopped Monitor of another test
    keyring = HungKeyring(monkeypatch)
    yield keyring
    keyring.release.set()
    pending = keyringlookup._pending
    if pending is not None:
        pending.join(HANG_S)


def test_a_hung_keyring_is_bounded_and_piles_up_no_threads(
    tmp_path: Path, sim: Simulator, hung: HungKeyring
) -> None:
    config = load_config(write_setup(tmp_path / "s", sim, "PASSWORD_KEYRING=1\nPASSWORD=\n"))
    with pytest.raises(KeyringTimeout, match=r"did not answer within 0\.3 s"):
        credentials.password(config)
    with pytest.raises(KeyringTimeout, match="still not answered an earlier look-up"):
        credentials.password(config)
    assert hung.calls == 1  # the second call started no second thread
    hung.release.set()
    assert keyringlookup._pending is not None
    keyringlookup._pending.join(HANG_S)
    secret = credentials.password(config)  # the keyring works again: so does the look-up
    assert secret is not None and secret.source == "system keyring"


def test_a_stop_ends_the_wait_for_a_hung_keyring(
    tmp_path: Path, sim: Simulator, hung: HungKeyring, monkeypatch: pytest.MonkeyPatch
) -> None:
    """SIGTERM (the daemon's stop event) during a look-up: cancelled, not waited out. The
    bound is HANG_S here, so only the cancellation gives CloudCancelled."""
    monkeypatch.setattr(keyringlookup, "KEYRING_TIMEOUT_S", HANG_S)
    stop = threading.Event()
    keyringlookup.stop_on(stop)
    config = load_config(write_setup(tmp_path / "s", sim, "PASSWORD_KEYRING=1\nPASSWORD=\n"))
    timer = threading.Timer(0.3, stop.set)
    timer.start()
    with pytest.raises(CloudCancelled, match="keyring look-up cancelled"):
        credentials.password(config)
    timer.join()


def test_a_hung_keyring_is_a_failed_poll_with_one_line(
    tmp_path: Path, sim: Simulator, hung: HungKeyring, caplog: pytest.LogCaptureFixture
) -> None:
    config = load_config(write_setup(tmp_path / "s", sim, "PASSWORD_KEYRING=1\nPASSWORD=\n"))
    mon = make_monitor(config)
    with caplog.at_level(logging.INFO, logger="enphase_monitor"):
        assert mon.cycle() is False
    failed = [r for r in caplog.records if r.levelno >= logging.WARNING]
    assert len(failed) == 1, caplog.text
    line = failed[0].getMessage()
    assert "poll failed (1 of 2" in line and "keyring did not answer within 0.3 s" in line
    assert failed[0].exc_info is None
    hung.release.set()


def test_a_hung_keyring_never_drops_a_token_that_is_still_valid(
    tmp_path: Path, sim: Simulator, hung: HungKeyring, caplog: pytest.LogCaptureFixture
) -> None:
    """A cached token due for renewal (1 day left of 11) is still sent: the failed renewal is
    one warning, the poll goes on."""
    config = load_config(write_setup(tmp_path / "s", sim, "PASSWORD_KEYRING=1\nPASSWORD=\n"))
    now = time.time()
    token = make_jwt({"aud": config.serial, "exp": int(now + DAY), "iat": int(now - 10 * DAY),
                      "enphaseUser": "owner"})
    config.token_file.write_text(token)
    config.token_file.chmod(0o600)
    cloud = EnlightenClient(HttpsTransport(), config.login_url, config.tokens_url, 5)
    with caplog.at_level(logging.INFO, logger="enphase_monitor"):
        assert TokenManager(config, cloud).token() == token
    warned = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warned) == 1 and warned[0].startswith(
        "token renewal failed, still using the current one: the system keyring did not answer")
    hung.release.set()


def ca_setup(tmp_path: Path, sim: Simulator, ca: Path) -> Path:
    return write_setup(tmp_path / "s", sim, f"CLOUD_CA_FILE={ca}\n")


def private_copy(sim: Simulator, directory: Path) -> Path:
    directory.mkdir(mode=0o755, exist_ok=True)
    ca = directory / "ca.pem"
    ca.write_bytes(Path(sim.ca_file).read_bytes())
    ca.chmod(0o644)  # world-readable is fine: certificates are public
    return ca


def test_a_private_ca_file_and_a_symlink_to_one_are_accepted(tmp_path: Path,
                                                             sim: Simulator) -> None:
    ca = private_copy(sim, tmp_path / "ca")
    assert load_config(ca_setup(tmp_path, sim, ca)).cloud_ca_file == str(ca)
    link = tmp_path / "ca" / "cert.pem"
    link.symlink_to(ca.name)
    assert load_config(ca_setup(tmp_path, sim, link)).cloud_ca_file == str(link)


def test_a_group_writable_ca_file_is_refused_in_one_line(tmp_path: Path,
                                                         sim: Simulator) -> None:
    ca = private_copy(sim, tmp_path / "ca")
    ca.chmod(0o664)
    config = ca_setup(tmp_path, sim, ca)
    with pytest.raises(InsecureFileError) as caught:
        load_config(config)
    assert str(caught.value) == (f"group or world write permission on CLOUD_CA_FILE file {ca}:"
                                 f" run 'chmod go-w {ca}'")
    # -x (and the daemon refusing it) still finds the port file: it must be hidden
    assert port_file_of(config)[1] == config.parent / "test.dev"


def test_a_ca_file_in_a_world_writable_directory_is_refused(tmp_path: Path,
                                                            sim: Simulator) -> None:
    shared = tmp_path / "shared"
    ca = private_copy(sim, shared)
    shared.chmod(0o1777)  # as /tmp
    with pytest.raises(InsecureFileError, match="on CLOUD_CA_FILE directory"):
        load_config(ca_setup(tmp_path, sim, ca))


@pytest.mark.skipif(os.geteuid() != 0, reason="needs root to give the file to another user")
def test_a_ca_file_owned_by_another_user_is_refused(tmp_path: Path, sim: Simulator) -> None:
    ca = private_copy(sim, tmp_path / "ca")
    os.chown(ca, 4242, 4242)
    with pytest.raises(InsecureFileError) as caught:
        load_config(ca_setup(tmp_path, sim, ca))
    assert str(caught.value) == (f"owner uid 4242 (must be root) on CLOUD_CA_FILE file {ca}:"
                                 f" run 'chown root {ca}'")
