"""A gateway that sends control characters, through the real daemon (CLI as a subprocess).

The hostile strings come from the real HTTPS simulator (tests/conftest.py); what is checked is
what systemd, the journal, a terminal and NUT would receive: the STATUS= datagrams on a real
unix datagram socket, stderr, the `-v -s` report and the port file.
"""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from enphase_sim import Simulator
from tests.conftest import ROOT, write_setup

# a relay state that tries to add lines to the datagram, fake a log line and clear the screen
# (short enough to be shown whole: gateway values are cut at 64 characters)
HOSTILE_STATE = "x\nWATCHDOG=trigger\nREADY=1\x1b[2J\x1b]0;pwned\x07\n<3>fake\u2028\u202e end"
SHOWN_STATE = ("'x\\nWATCHDOG=trigger\\nREADY=1\\x1b[2J\\x1b]0;pwned\\x07\\n<3>fake\\u2028"
               "\\u202e end'")
# info.xml holds it as XML text: XML 1.0 allows C1 characters and line breaks, not ESC
HOSTILE_FIRMWARE = 'D8.2.4264\x9b2J\u202e"#\\\nfake:\u2028 1'
NOTIFY_KEYS = {"READY", "STATUS", "WATCHDOG", "STOPPING", "RELOADING", "EXTEND_TIMEOUT_USEC"}


def safe(line: str) -> bool:
    return all(c == " " or c.isprintable() for c in line)


def clean_env(extra: dict[str, str] | None = None) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items()
           if k not in ("NOTIFY_SOCKET", "UPS", "CONFIG_FILE", "JOURNAL_STREAM",
                        "CREDENTIALS_DIRECTORY", "WATCHDOG_USEC", "WATCHDOG_PID")}
    env["PYTHONPATH"] = str(ROOT)
    env.update(extra or {})
    return env


def run(config: Path, *flags: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "enphase_monitor.cli", *flags, "-c",
                           str(config)], cwd=config.parent, env=clean_env(),
                          capture_output=True, text=True, timeout=60)


@pytest.fixture
def notify_socket(tmp_path: Path) -> Iterator[tuple[socket.socket, str]]:
    address = str(tmp_path / "notify.sock")
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    sock.bind(address)
    sock.settimeout(20)
    yield sock, address
    sock.close()


def test_status_datagrams_stay_clean(tmp_path: Path, sim: Simulator,
                                     notify_socket: tuple[socket.socket, str]) -> None:
    sim.update(grid=HOSTILE_STATE)
    config = write_setup(tmp_path / "s", sim)
    sock, address = notify_socket
    proc = subprocess.Popen([sys.executable, "-m", "enphase_monitor.cli", "-c", str(config)],
                            cwd=config.parent, env=clean_env({"NOTIFY_SOCKET": address}),
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    datagrams: list[str] = []
    try:
        deadline = time.monotonic() + 40
        # the first failed poll sends READY=1; the second hides the port file: nocomms
        while not any("STATUS=nocomms: " in d for d in datagrams):
            assert time.monotonic() < deadline, datagrams
            datagrams.append(sock.recv(65536).decode())
        proc.send_signal(signal.SIGTERM)
        while "STOPPING=1" not in datagrams:
            datagrams.append(sock.recv(65536).decode())
        assert proc.wait(20) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
        _, stderr = proc.communicate()
    statuses = []
    for data in datagrams:
        lines = data.split("\n")
        keys = [line.split("=", 1)[0] for line in lines]
        assert set(keys) <= NOTIFY_KEYS and len(keys) == len(set(keys)), data
        assert all(safe(line) for line in lines), data
        assert "WATCHDOG=trigger" not in lines and keys.count("READY") <= 1
        statuses += [line for line in lines if line.startswith("STATUS=")]
    assert any(s.startswith("STATUS=nocomms: ") for s in statuses), statuses
    # the log: the gateway's value, escaped, on one line per record
    assert stderr.strip()
    for line in stderr.splitlines():
        assert safe(line), line
        assert re.match(r"enphase-monitor: (warning|error): ", line), line
    assert f"mains_oper_state={SHOWN_STATE}" in stderr


def test_report_and_port_file_stay_clean(tmp_path: Path, sim: Simulator) -> None:
    sim.update(firmware=HOSTILE_FIRMWARE)
    config = write_setup(tmp_path / "s", sim)
    done = run(config, "-s")
    assert done.returncode == 0, done.stderr
    port = (tmp_path / "s" / "test.dev").read_bytes()
    for raw in port.split(b"\n")[:-1]:
        assert re.fullmatch(rb"[\x20-\x7e]*", raw), raw  # NUT reads printable ASCII only
    assert b"ups.firmware: D8.2.42642J fake: 1\n" in port  # no `"`, `#`, `\` for dummy-ups

    sim.update(grid=HOSTILE_STATE)
    report = run(config, "-v", "-s")
    assert report.returncode == 1
    for line in (report.stdout + report.stderr).splitlines():
        assert safe(line), line
    rows = [line for line in report.stdout.splitlines() if line.strip().startswith("firmware")]
    assert rows == [f"  {'firmware':<22} D8.2.4264\\x9b2J\\u202e\"#\\\\nfake:\\u2028 1"]
    raw = [line for line in report.stdout.splitlines() if line.startswith("  raw values ")]
    assert len(raw) == 1 and f"mains_oper_state={SHOWN_STATE}," in raw[0]
    assert not any(line.startswith(("WATCHDOG", "READY", "<3>"))
                   for line in report.stdout.splitlines())
