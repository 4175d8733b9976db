"""The poll loop against the real HTTPS simulator: states, debounce, confirmation, signals."""

from __future__ import annotations

import contextlib
import logging
import os
import signal
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from enphase_monitor import fileutil
from enphase_monitor.config import Config, load_config
from enphase_monitor.loop import Daemon
from enphase_monitor.monitor import Monitor, State
from enphase_monitor.pause import Pause
from enphase_monitor.portfile import PortContent
from enphase_monitor.schedule import Due, Schedule
from enphase_monitor.sdnotify import Notifier
from enphase_sim import Simulator, make_jwt
from tests.conftest import make_daemon, make_monitor, port_values, wait_until, write_setup

RELAY = "/ivp/ensemble/relay"


def values(config: Config) -> dict[str, str]:
    """The live port file's values; none while it is hidden (the daemon hides it at start)."""
    return port_values(config.port_file)


def make(tmp_path: Path, sim: Simulator, extra: str = "", port_text: str = "") -> Monitor:
    return make_monitor(load_config(write_setup(tmp_path / "state", sim, extra, port_text)))


def make_running(tmp_path: Path, sim: Simulator, extra: str = "", port_text: str = "") -> Daemon:
    return make_daemon(load_config(write_setup(tmp_path / "state", sim, extra, port_text)))


def relay_requests(sim: Simulator) -> int:
    return int(sim.stats()["requests"].get(RELAY, 0))


@contextlib.contextmanager
def restored_signals() -> Iterator[None]:
    """Put back the signal handlers Daemon.run() installs."""
    previous = {sig: signal.getsignal(sig) for sig in (signal.SIGTERM, signal.SIGINT,
                                                       signal.SIGHUP)}
    try:
        yield
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def test_nocomms_only_after_consecutive_failures_and_back(tmp_path: Path, sim: Simulator) -> None:
    mon = make(tmp_path, sim, port_text="ups.delay.shutdown: 30\n")
    port, hidden = mon.config.port_file, mon.port.nocomms_path
    assert mon.cycle()
    sim.inject("*", "reset")
    assert not mon.cycle()
    assert port.exists() and not hidden.exists(), "one failed poll must not be nocomms"
    assert not mon.cycle()
    assert hidden.exists() and not port.exists()
    assert mon.state is State.NOCOMMS
    sim.clear_faults()
    assert mon.cycle()
    assert port.exists() and not hidden.exists()
    assert values(mon.config)["ups.status"] == "OL"
    assert values(mon.config)["ups.delay.shutdown"] == "30"


def test_nocomms_after_one_is_the_seed_behaviour(tmp_path: Path, sim: Simulator) -> None:
    mon = make(tmp_path, sim, extra="NOCOMMS_AFTER=1\n")
    assert mon.cycle()
    sim.inject("*", "status", value=503)
    assert not mon.cycle()
    assert mon.port.hidden


def test_first_poll_off_grid_needs_a_confirming_read(tmp_path: Path, sim: Simulator) -> None:
    sim.update(grid="open")
    mon = make(tmp_path, sim)
    assert mon.cycle()
    assert values(mon.config)["ups.status"] == "OB"
    assert relay_requests(sim) == 2


def test_unconfirmed_off_grid_on_first_poll_is_ignored(
    tmp_path: Path, sim: Simulator, caplog: pytest.LogCaptureFixture
) -> None:
    sim.update(grid="open")
    mon = make(tmp_path, sim)
    threading.Timer(0.3, lambda: sim.update(grid="closed")).start()
    with caplog.at_level(logging.INFO, logger="enphase_monitor"):
        assert mon.cycle()
    assert values(mon.config)["ups.status"] == "OL"
    assert "not confirmed" in caplog.text


def test_later_grid_loss_switches_at_once(tmp_path: Path, sim: Simulator) -> None:
    mon = make(tmp_path, sim)
    assert mon.cycle()
    before = relay_requests(sim)
    sim.update(grid="open synchronizing")
    assert mon.cycle()
    assert values(mon.config)["ups.status"] == "OB"
    assert relay_requests(sim) == before + 1


def test_first_poll_after_reconnect_is_confirmed_again(tmp_path: Path, sim: Simulator) -> None:
    mon = make(tmp_path, sim, extra="NOCOMMS_AFTER=1\n")
    assert mon.cycle()
    sim.inject("*", "reset", count=2)  # the request and its one retry
    assert not mon.cycle()
    sim.update(grid="open")
    before = relay_requests(sim)
    assert mon.cycle()
    assert relay_requests(sim) == before + 2
    assert values(mon.config)["ups.status"] == "OB"


def test_commanded_off_grid_is_logged_as_such(
    tmp_path: Path, sim: Simulator, caplog: pytest.LogCaptureFixture
) -> None:
    mon = make(tmp_path, sim)
    assert mon.cycle()
    sim.update(grid="open", admin="open")
    with caplog.at_level(logging.INFO, logger="enphase_monitor"):
        assert mon.cycle()
    assert "by command" in caplog.text
    assert values(mon.config)["ups.status"] == "OB"


def test_unknown_relay_state_is_a_failed_poll_logged_once_escaped(
    tmp_path: Path, sim: Simulator, caplog: pytest.LogCaptureFixture
) -> None:
    mon = make(tmp_path, sim)
    sim.update(grid="weird\x1b[2J\nstate")
    with caplog.at_level(logging.WARNING, logger="enphase_monitor"):
        assert not mon.cycle()
        assert not mon.cycle()
    assert "not understood" in mon.last_error
    raw = [r.getMessage() for r in caplog.records if "mains_oper_state=" in r.getMessage()]
    assert len(raw) == 1, caplog.text  # the raw values once, not at every poll
    assert "mains_oper_state='weird\\x1b[2J\\nstate'" in raw[0]
    assert "\x1b" not in caplog.text and "\nstate" not in caplog.text
    assert mon.port.hidden  # two failed polls: nocomms, never a guess


def test_low_battery_uses_the_users_threshold(tmp_path: Path, sim: Simulator) -> None:
    mon = make(tmp_path, sim, port_text="battery.charge.low: 10\n")
    assert mon.cycle()
    sim.update(grid="open", soc=15.0)
    assert mon.cycle()
    assert values(mon.config)["ups.status"] == "OB"
    sim.update(soc=9.0)
    assert mon.cycle()
    assert values(mon.config)["ups.status"] == "OB LB"
    assert values(mon.config)["battery.charge.low"] == "10"


def test_rewritten_only_when_a_value_changed(tmp_path: Path, sim: Simulator) -> None:
    mon = make(tmp_path, sim)
    assert mon.cycle()
    inode = os.stat(mon.config.port_file).st_ino
    assert mon.cycle()
    assert mon.writes == 1
    assert os.stat(mon.config.port_file).st_ino == inode
    sim.update(soc=55.0)
    assert mon.cycle()
    assert mon.writes == 2


def test_value_that_cannot_be_computed_is_cleared(tmp_path: Path, sim: Simulator) -> None:
    mon = make(tmp_path, sim)
    assert mon.cycle()
    assert values(mon.config)["input.voltage"] != ""
    sim.update(has_ct=False)
    assert mon.cycle()
    text = mon.config.port_file.read_text()
    assert 'input.voltage: ""' in text
    assert "output.realpower: 1500.0" in text  # from livedata without CTs


def test_gateway_401_gets_one_new_token(tmp_path: Path, sim: Simulator) -> None:
    mon = make(tmp_path, sim)
    assert mon.cycle()
    logins = sim.stats()["logins"]
    sim.revoke_tokens()
    assert mon.cycle()
    assert sim.stats()["logins"] == logins + 1


def test_test_mode_cycle_is_the_seeds(tmp_path: Path) -> None:
    token = make_jwt({"exp": int(time.time()) + 86400 * 300, "iat": int(time.time()),
                      "aud": "1234", "enphaseUser": "owner"})
    state = tmp_path / "state"
    state.mkdir(mode=0o700)
    port = state / "test.dev"
    port.write_text("battery.charge.low: 20\n")
    config = state / "test.conf"
    config.write_text(
        "UPS=test\nTEST=1\nSTATE_DIR=" + str(state) + "\nPORT_FILE=test.dev\nSERIAL=1234\n"
        "USERNAME=u\nPASSWORD=p\n"
        "TEST_SESS='{\"session_id\":\"abc\"}'\n"
        f"TEST_TOKEN={token}\n"
        "TEST_RELAY='{\"mains_oper_state\":\"@RELAY_STATE@\"}'\n"
        "TEST_LIVE='{\"meters\": {\"soc\": \"@BATT_SOC@\", \"enc_agg_energy\": 5000}}'\n"
        "TEST_SECCTRL='{\"soc_recovery_exit\":10}'\n"
        "TEST_REPORTS=\n"
        "TEST_INFO='<envoy_info><device><sn>1234</sn><software>D8.2.1</software></device>"
        "</envoy_info>'\n"
    )
    config.chmod(0o600)
    mon = make_monitor(load_config(config))
    seen = []
    for _ in range(6):
        mon.cycle()
        seen.append("nocomms" if mon.port.hidden else values(mon.config)["ups.status"])
    assert seen == ["OL", "nocomms", "OL", "OB", "OB LB", "OL"]
    assert values(mon.config)["ups.firmware"] == "D8.2.1"


def test_relay_check_sees_grid_loss_between_full_polls(tmp_path: Path, sim: Simulator) -> None:
    daemon = make_running(tmp_path, sim, extra="POLLFREQ=60\nRELAY_CHECK=1\n")
    config = daemon.monitor.config
    # only the main thread may install signal handlers
    runner = threading.Thread(target=daemon.run, kwargs={"handle_signals": False})
    runner.start()
    try:
        wait_until(lambda: values(config).get("ups.status") == "OL")
        sim.update(grid="open")
        # a full poll is 60 s away: only the relay check can switch within the wait
        wait_until(lambda: values(config).get("ups.status") == "OB", timeout=10)
    finally:
        daemon.request_stop()
        runner.join(10)
    assert not runner.is_alive()


def test_sigterm_during_a_write_finishes_it_then_hides_and_exits_zero(
    tmp_path: Path, sim: Simulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    daemon = make_running(tmp_path, sim, port_text="user.line: kept\n")
    mon = daemon.monitor
    real_fsync = os.fsync
    sent = []

    def fsync_with_sigterm(fd: int) -> None:
        # only the port file's own write: a SIGTERM while the token cache is saved stops the
        # poll before it writes anything (its requests are cancelled)
        target = os.readlink(f"/proc/self/fd/{fd}")
        if not sent and f".{mon.config.port_file.name}." in target:
            sent.append(True)
            os.kill(os.getpid(), signal.SIGTERM)
        real_fsync(fd)

    monkeypatch.setattr(fileutil.os, "fsync", fsync_with_sigterm)
    with restored_signals():
        assert daemon.run() == 0
    assert sent
    assert mon.port.hidden  # the daemon stopped: NUT must not keep its last reading
    got = PortContent.parse(mon.port.nocomms_path.read_text()).values
    assert got["ups.status"] == "OL" and got["user.line"] == "kept"  # the write completed
    assert not [p for p in mon.config.port_file.parent.iterdir() if p.name.endswith(".tmp")]


def test_sighup_with_a_broken_config_keeps_the_old_one(
    tmp_path: Path, sim: Simulator, caplog: pytest.LogCaptureFixture
) -> None:
    daemon = make_running(tmp_path, sim)
    path = daemon.monitor.config.path
    good = path.read_text()

    def signals() -> None:
        """SIGHUP with a broken config, then with a good one, then SIGTERM (each once the
        daemon has acted on the one before)."""
        try:
            wait_until(lambda: daemon.monitor.writes > 0)
            path.write_text(good + "POLLFREQ=soon\n")
            os.kill(os.getpid(), signal.SIGHUP)
            wait_until(lambda: "config not reloaded" in caplog.text)
            path.write_text(good.replace("POLLFREQ=5", "POLLFREQ=7"))
            os.kill(os.getpid(), signal.SIGHUP)
            wait_until(lambda: daemon.monitor.config.pollfreq == 7)
        finally:
            os.kill(os.getpid(), signal.SIGTERM)

    sender = threading.Thread(target=signals)
    with restored_signals(), caplog.at_level(logging.INFO, logger="enphase_monitor"):
        sender.start()
        assert daemon.run() == 0
    sender.join(10)
    assert "config not reloaded" in caplog.text and "POLLFREQ" in caplog.text
    assert daemon.monitor.config.pollfreq == 7
    assert "config reloaded from" in caplog.text


def test_schedule_full_polls_and_relay_checks() -> None:
    schedule = Schedule()
    schedule.polled(100.0, delay=60, relay_every=5)
    assert schedule.due(104.9) is Due.NOTHING and schedule.wake_at() == 105.0
    assert schedule.due(105.0) is Due.RELAY
    schedule.checked(105.2)
    assert schedule.wake_at() == 110.2
    assert schedule.due(160.0) is Due.POLL  # a full poll wins over a relay check
    schedule.polled(160.0, delay=20, relay_every=0)  # no relay checks (nocomms)
    assert schedule.relay_at is None and schedule.wake_at() == 180.0


def test_after_a_failed_poll_the_next_comes_at_pollfreqalert(tmp_path: Path,
                                                             sim: Simulator) -> None:
    mon = make(tmp_path, sim, extra="POLLFREQ=60\nPOLLFREQALERT=20\nRELAY_CHECK=5\n")
    assert mon.cycle() and (mon.delay(), mon.relay_every()) == (60, 5)
    sim.inject("*", "reset")
    assert not mon.cycle()
    assert (mon.delay(), mon.relay_every()) == (20, 5)  # still relay checks in between
    assert not mon.cycle() and mon.port.hidden
    assert (mon.delay(), mon.relay_every()) == (20, 0)  # nocomms: full polls only


def test_a_reload_ends_the_sleep_between_polls_but_not_a_poll_s_wait() -> None:
    """SIGHUP wakes the loop's sleep at once; the CONFIRM_DELAY wait goes on to its end (the
    reload waits for the poll), while SIGTERM ends both."""
    # the clock, read at: each sleep's start, each wait's start, and after each wake
    readings = [0.0, 0.0, 0.0, 10.0, 20.0]
    pause = Pause(Notifier({}), clock=lambda: readings.pop(0))
    pause.request_reload()
    pause.sleep(10, until_reload=True)
    assert len(readings) == 4  # returned without waiting
    pause.sleep(10)  # woken by the reload request at once, it sleeps on until the clock says 10
    assert readings == [20.0] and pause.reload_requested
    pause.request_stop()
    pause.sleep(3600)  # would hang the test if the stop did not end it
    assert pause.stop_requested


def _reload_to(daemon: Daemon, new_port: str, done: Callable[[], bool]) -> None:
    """Edit PORT_FILE in the daemon's config, SIGHUP, run until `done`, then SIGTERM."""
    path = daemon.monitor.config.path
    old_port = daemon.monitor.config.port_file

    def signals() -> None:
        try:
            wait_until(lambda: values(daemon.monitor.config).get("ups.status") == "OL")
            path.write_text(path.read_text().replace(f"PORT_FILE={old_port.name}\n",
                                                     f"PORT_FILE={new_port}\n"))
            os.kill(os.getpid(), signal.SIGHUP)
            wait_until(done)
        finally:
            os.kill(os.getpid(), signal.SIGTERM)

    sender = threading.Thread(target=signals)
    with restored_signals():
        sender.start()
        assert daemon.run() == 0
    sender.join(10)


def test_sighup_moving_the_port_file_hides_the_old_one(tmp_path: Path, sim: Simulator) -> None:
    """The old file would keep its last OL for ever: it is hidden; the new one is polled into
    at once (POLLFREQ=60 is far away) and then kept up to date."""
    daemon = make_running(tmp_path, sim, extra="POLLFREQ=60\nRELAY_CHECK=1\n")
    old = daemon.monitor.config.port_file
    new = old.with_name("moved.dev")
    new.write_text("ups.status: OB\nuser.line: kept\n")  # not this run's: replaced by a poll
    seen: list[str] = []

    def moved_and_fresh() -> bool:
        got = port_values(new)
        if got.get("ups.status") == "OL" and "battery.charge" in got and not seen:
            seen.append("OL")
            sim.update(grid="open")  # the new file follows the gateway
        return bool(seen) and got.get("ups.status", "").startswith("OB") and "battery.charge" in got

    _reload_to(daemon, new.name, moved_and_fresh)
    assert daemon.monitor.config.port_file == new
    old_hidden = old.with_name(old.name + "-nocomms")
    assert not old.exists() and old_hidden.exists()
    assert PortContent.parse(old_hidden.read_text()).values["ups.status"] == "OL"
    assert seen == ["OL"]


@pytest.mark.parametrize(("new_port", "said"), [
    ("absent.dev", ["absent.dev", "create it"]),  # a missing file: the driver would find none
    ("gone/x.dev", ["port file directory"]),
])
def test_sighup_to_a_missing_port_file_keeps_the_old_one(
    tmp_path: Path, sim: Simulator, caplog: pytest.LogCaptureFixture, new_port: str,
    said: list[str]
) -> None:
    daemon = make_running(tmp_path, sim)
    old = daemon.monitor.config.port_file
    with caplog.at_level(logging.INFO, logger="enphase_monitor"):
        _reload_to(daemon, new_port, lambda: "config not reloaded" in caplog.text)
    assert all(words in caplog.text for words in said), caplog.text
    assert daemon.monitor.config.port_file == old
    assert not (old.parent / new_port).exists()
