"""`enphase-setup`: time from launch to a complete first screen in a real terminal (tmux 100x30).

Usage: python benchmarks/wizard_startup.py [--runs 10]
Runs the wizard against a fake root (as its tests do) and polls tmux's screen every 20 ms until
every element of the first screen is drawn. Goals: <= 1 s (benchmarks), <= 2 s (the wizard issue).
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from common import ROOT

from tests.wizard.conftest import make_root
from tests.wizard.test_terminal import FIRST_SCREEN


def one_run(index: int) -> float:
    with tempfile.TemporaryDirectory() as tmp:
        root = make_root(Path(tmp))
        socket = f"enphase-setup-bench-{os.getpid()}-{index}"
        shim = Path(tmp) / "path"  # enphase_setup importable without an install
        shim.mkdir()
        (shim / "enphase_setup").symlink_to(ROOT / "wizard")
        env = {**os.environ, "TERM": "xterm-256color", "PYTHONPATH": f"{shim}:{ROOT}"}
        command = f"{sys.executable} -m enphase_setup --root {root}"
        start = time.monotonic()
        subprocess.run(["tmux", "-L", socket, "-f", "/dev/null", "new-session", "-d", "-s", "w",
                        "-x", "100", "-y", "30", command], env=env, cwd=ROOT, check=True)
        try:
            while time.monotonic() - start < 20:
                screen = subprocess.run(["tmux", "-L", socket, "capture-pane", "-p", "-t", "w"],
                                        capture_output=True, text=True).stdout
                if all(text in screen for text in FIRST_SCREEN):
                    return time.monotonic() - start
                time.sleep(0.02)
            raise RuntimeError("first screen never complete")
        finally:
            subprocess.run(["tmux", "-L", socket, "kill-server"], capture_output=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=10)
    args = parser.parse_args()
    times = [one_run(i) for i in range(args.runs)]
    print(f"enphase-setup first screen: median {statistics.median(times):.2f} s,"
          f" min {min(times):.2f} s, max {max(times):.2f} s over {args.runs} runs")


if __name__ == "__main__":
    main()
