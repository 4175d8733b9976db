"""The wizard in a real terminal: tmux at 100x30, first screen complete and legible.

How fast it appears is measured by benchmarks/wizard_startup.py, not asserted here.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

from .conftest import ROOT, make_root

pytestmark = pytest.mark.skipif(shutil.which("tmux") is None, reason="tmux not installed")
FIRST_SCREEN = ("enphase-setup", "1 Gateway", "Find the IQ Gateway",
                "Gateway host name or IP", "Serial number", "Next")


def tmux(socket: str, *args: str) -> str:
    done = subprocess.run(["tmux", "-L", socket, *args], capture_output=True, text=True,
                          timeout=WAIT, check=False)
    return done.stdout


WAIT = 120.0  # an upper bound only (2 cores shared by many): the waits end on what is shown


def wait_for(socket: str, texts: tuple[str, ...]) -> str:
    """The pane once it shows every one of `texts` (polled; WAIT at most)."""
    deadline = time.monotonic() + WAIT
    screen = ""
    while time.monotonic() < deadline:
        screen = tmux(socket, "capture-pane", "-p", "-t", "wiz")
        if all(text in screen for text in texts):
            return screen
        time.sleep(0.05)
    raise AssertionError(f"never shown: {texts}\n{screen}")


def test_first_screen_is_complete_and_legible(tmp_path: Path) -> None:
    root = make_root(tmp_path)
    socket = f"enphase-setup-test-{os.getpid()}"
    env = {**os.environ, "TERM": "xterm-256color", "COLORTERM": "truecolor",
           "XDG_STATE_HOME": str(tmp_path / "state"),  # a draft never goes to the real home
           "PYTHONPATH": os.environ.get("PYTHONPATH", str(ROOT))}
    command = f"{sys.executable} -m enphase_setup --root {root}"
    subprocess.run(["tmux", "-L", socket, "-f", "/dev/null", "new-session", "-d", "-s", "wiz",
                    "-x", "100", "-y", "30", command, ";", "set-option", "-t", "wiz",
                    "remain-on-exit", "on"], env=env, cwd=ROOT, check=True, timeout=WAIT)
    try:
        screen = wait_for(socket, FIRST_SCREEN)
        lines = screen.splitlines()
        assert len(lines) <= 30 and max(len(line) for line in lines) <= 100
        assert "Found" in screen or "Looking on the network" in screen or "No gateway" in screen
        tmux(socket, "send-keys", "-t", "wiz", "C-q")
        wait_for(socket, ("Cancelled: no changes were made.",))
    finally:
        tmux(socket, "kill-server")
