"""Start-up faults of the real daemon process that must end with the port file hidden, never
with the `OL` an earlier run left visible (docs/faults.md): a hung OS keyring, and a
CLOUD_CA_FILE the daemon refuses.

The daemon runs as `python -m enphase_monitor.cli -c CONFIG` against the real HTTPS simulator.
The hung keyring is a real `keyring` backend (tests/faults/hangkeyring.py, chosen with
PYTHON_KEYRING_BACKEND) whose look-up hangs until the test releases it.
"""

from __future__ import annotations

import signal
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from enphase_monitor.configvalues import SHOWN_VALUE_CHARS
from enphase_monitor.portfile import PortContent
from enphase_monitor.textsafe import escape
from enphase_sim import Simulator
from tests.conftest import ROOT, port_values, start_daemon, wait_until, write_setup

HANG_S = 60.0  # against hangs only
USER = "# kept\nups.delay.shutdown: 30\n"
# what a crashed run left visible: OL with its values (the simulator says 80 %, not 99)
STALE = USER + "ups.status: OL\nbattery.charge: 99\nups.mfr: Enphase Energy\n"
KEYRING = "PASSWORD_KEYRING=yes\nPASSWORD=\nRELAY_CHECK=0\n"


class Daemon:
    """The daemon as a process on the config in `etc`; its output goes to `log_path`."""

    def __init__(self, etc: Path, env: dict[str, str] | None = None) -> None:
        self.port, self.hidden = etc / "test.dev", etc / "test.dev-nocomms"
        self.log_path = etc.parent / "daemon.log"
        self.proc = start_daemon(["-c", str(etc / "enphase-test.conf")], self.log_path, env)

    def log(self) -> str:
        return self.log_path.read_text()

    def stop(self) -> int:
        """SIGTERM, then the exit status."""
        self.proc.send_signal(signal.SIGTERM)
        return self.wait()

    def wait(self) -> int:
        return self.proc.wait(HANG_S)

    def kill(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()

    def is_hidden(self) -> bool:
        """Hidden: the -nocomms name exists and the port file does not."""
        return self.hidden.exists() and not self.port.exists()


def hidden_status(daemon: Daemon) -> str:
    """ups.status of the hidden file (what a later start or `-x` keeps)."""
    return PortContent.parse(daemon.hidden.read_text()).values.get("ups.status", "")


def one_line_with(log: str, text: str) -> str:
    """The one log line holding `text`."""
    (line,) = [line for line in log.splitlines() if text in line]
    return line


# ------------------------------------------------------------------- a hung OS keyring

class HungKeyring:
    """The state directory of tests/faults/hangkeyring.py: calls made, the answer to release."""

    def __init__(self, directory: Path, password: str) -> None:
        directory.mkdir()
        self.directory, self.password = directory, password
        self.env = {"PYTHON_KEYRING_BACKEND": "tests.faults.hangkeyring.HangingKeyring",
                    "HANGKEYRING_DIR": str(directory)}

    def calls(self) -> list[str]:
        try:
            return (self.directory / "calls").read_text().splitlines()
        except FileNotFoundError:
            return []

    def release(self) -> None:
        """The keyring answers again (the look-up in progress returns, later ones at once)."""
        temp = self.directory / "answer.tmp"
        temp.write_text(self.password)
        temp.replace(self.directory / "answer")


@pytest.fixture
def keyring_daemon(tmp_path: Path, sim: Simulator) -> Iterator[tuple[Daemon, HungKeyring]]:
    """The daemon with PASSWORD_KEYRING=yes, no token and a hung keyring, over a stale OL."""
    pytest.importorskip("keyring", reason="needs the keyring package (pip install -e '.[test]')")
    hung = HungKeyring(tmp_path / "keyring", sim.state.password)
    write_setup(tmp_path / "etc", sim, KEYRING, STALE)
    daemon = Daemon(tmp_path / "etc", hung.env)
    try:
        yield daemon, hung
    finally:
        daemon.kill()
        hung.release()  # ends the backend's wait in a daemon that was killed mid-look-up


def test_a_hung_keyring_hides_the_stale_ol_and_a_fresh_ol_comes_back(
    keyring_daemon: tuple[Daemon, HungKeyring], sim: Simulator
) -> None:
    daemon, hung = keyring_daemon
    wait_until(lambda: len(hung.calls()) == 1, HANG_S)  # the look-up hangs now
    assert hung.calls() == [f"enphase-monitor {sim.state.username}"]
    assert daemon.is_hidden() and hidden_status(daemon) == "OL", daemon.log()
    wait_until(lambda: "did not answer" in daemon.log(), HANG_S)  # the 5 s bound
    log = daemon.log()
    line = one_line_with(log, "did not answer")
    assert line.endswith("poll failed (1 of 2 before nocomms): the system keyring did not"
                         " answer within 5 s (is the Secret Service or D-Bus hung?)"), log
    assert daemon.is_hidden() and daemon.proc.poll() is None, log  # still hidden, running
    assert sim.stats()["logins"] == 0
    hung.release()
    wait_until(lambda: port_values(daemon.port).get("ups.status") == "OL", HANG_S)
    values = port_values(daemon.port)
    assert values["battery.charge"] == "80" and values["ups.delay.shutdown"] == "30"
    assert sim.stats()["logins"] == 1  # the keyring's password logged in
    assert daemon.stop() == 0
    log = daemon.log()
    assert daemon.is_hidden() and "stopped: port file hidden as" in log, log
    assert "Traceback" not in log and sim.state.password not in log, log


def test_sigterm_while_the_keyring_hangs_exits_and_leaves_the_file_hidden(
    keyring_daemon: tuple[Daemon, HungKeyring], sim: Simulator
) -> None:
    """The look-up hangs for up to 10 minutes: the daemon can only exit by not waiting."""
    daemon, hung = keyring_daemon
    wait_until(lambda: len(hung.calls()) == 1, HANG_S)
    assert daemon.is_hidden(), daemon.log()
    assert daemon.stop() == 0, daemon.log()
    log = daemon.log()
    assert daemon.is_hidden() and hidden_status(daemon) == "OL", log
    assert not (hung.directory / "answer").exists()  # it was hanging all along
    assert "Traceback" not in log and sim.state.password not in log, log
    assert sim.stats()["logins"] == 0


def run_to_exit(etc: Path) -> tuple[Daemon, int, str]:
    """Start the daemon on the config in `etc` and wait for its exit: it, its code, its log."""
    daemon = Daemon(etc)
    try:
        code = daemon.wait()
    finally:
        daemon.kill()
    return daemon, code, daemon.log()


# --------------------------------------------------------- a CLOUD_CA_FILE refused at start
# Each makes the CA file refused and returns what the one line starts with (after the UPS
# name) and ends with: the key or the CA file, and the fix (a config value is shown cut).

def world_writable(ca: Path, sim: Simulator) -> tuple[str, str]:
    ca.write_bytes(Path(sim.ca_file).read_bytes())
    ca.chmod(0o646)
    return "group or world write permission on CLOUD_CA_FILE file ", f": run 'chmod go-w {ca}'"


def missing(ca: Path, sim: Simulator) -> tuple[str, str]:
    return "config ", (f"CLOUD_CA_FILE '{escape(str(ca), SHOWN_VALUE_CHARS)}' cannot be read:"
                       " No such file or directory")


def not_pem(ca: Path, sim: Simulator) -> tuple[str, str]:
    ca.write_text("not a certificate\n")
    return "config ", (f"CLOUD_CA_FILE '{escape(str(ca), SHOWN_VALUE_CHARS)}' holds no PEM CA"
                       " certificates")


@pytest.mark.parametrize("refusal", [world_writable, missing, not_pem],
                         ids=lambda f: f.__name__)
def test_a_refused_ca_file_at_start_hides_the_stale_ol_and_exits_1(
    tmp_path: Path, sim: Simulator, refusal: Callable[[Path, Simulator], tuple[str, str]]
) -> None:
    """The config itself is sound and names the port file: it is hidden before the exit, as
    for a refused token file; the one line names the CA file and what to fix."""
    ca = tmp_path / "ca" / "cloud-ca.pem"
    ca.parent.mkdir(mode=0o755)
    head, tail = refusal(ca, sim)
    write_setup(tmp_path / "etc", sim, f"CLOUD_CA_FILE={ca}\n", STALE)
    daemon, code, log = run_to_exit(tmp_path / "etc")
    assert code == 1, log
    assert daemon.is_hidden() and daemon.hidden.read_text() == STALE, log  # renamed, as it was
    *before, last = log.strip().splitlines()
    assert len(before) == 1 and before[0].endswith(
        f"warning: stopping on an error: port file hidden as {daemon.hidden}"), log
    assert last.startswith(f"enphase-monitor test: {head}"), log
    assert last.endswith(tail), log
    assert "Traceback" not in log and sim.state.password not in log, log
    assert sim.stats()["logins"] == 0 and not sim.stats()["requests"]


def test_with_s_a_refused_ca_file_leaves_the_file_as_the_seed(tmp_path: Path,
                                                              sim: Simulator) -> None:
    """`-s` (one check, as the seed) leaves the port file as it is, as it does a stale one."""
    etc = tmp_path / "etc"
    write_setup(etc, sim, "CLOUD_CA_FILE=/nonexistent/ca.pem\n", STALE)
    done = subprocess.run([sys.executable, "-m", "enphase_monitor.cli", "-s", "-c",
                           str(etc / "enphase-test.conf")], cwd=ROOT, capture_output=True,
                          text=True, timeout=HANG_S)
    assert done.returncode == 1 and len(done.stderr.splitlines()) == 1, done.stderr
    assert (etc / "test.dev").read_text() == STALE


@pytest.mark.parametrize(("extra", "said"), [
    ("POLLFREQ=abc\n", "POLLFREQ must be"),
    ("ENVOY_HOST=a..b\n", "ENVOY_HOST"),
])
def test_a_config_refused_for_any_key_hides_the_stale_ol_and_exits_1(
    tmp_path: Path, sim: Simulator, extra: str, said: str
) -> None:
    """Where the port file is (UPS, STATE_DIR, PORT_FILE) is read as `-x` reads it, so a
    refused value elsewhere still takes an earlier run's OL down before the exit."""
    write_setup(tmp_path / "etc", sim, extra, STALE)
    daemon, code, log = run_to_exit(tmp_path / "etc")
    assert code == 1 and said in log.strip().splitlines()[-1], log
    assert daemon.is_hidden() and daemon.hidden.read_text() == STALE, log
    assert "Traceback" not in log and sim.stats()["logins"] == 0, log


def test_a_config_others_can_write_is_refused_and_names_no_file_to_hide(
    tmp_path: Path, sim: Simulator
) -> None:
    """Its PORT_FILE is not trusted (`-x` refuses it as well): nothing is renamed on its word;
    the one line says what to fix."""
    config = write_setup(tmp_path / "etc", sim, "", STALE)
    config.chmod(0o622)
    daemon, code, log = run_to_exit(tmp_path / "etc")
    assert code == 1 and "chmod" in log.strip().splitlines()[-1], log
    assert not daemon.is_hidden() and (tmp_path / "etc" / "test.dev").read_text() == STALE
