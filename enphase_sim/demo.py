"""`enphase-sim demo`: the daemon against the simulator, grid drop and low battery included."""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import threading
import time
from collections.abc import Sequence
from pathlib import Path

from enphase_monitor import logsetup
from enphase_monitor.config import load_config
from enphase_monitor.loop import Daemon

from .monitorconf import write_setup
from .simulator import Simulator

SHOWN = ("ups.status", "battery.charge", "battery.runtime", "ups.load", "output.realpower",
         "input.realpower", "ups.delay.shutdown")
SCRIPT: tuple[tuple[float, str, dict[str, object]], ...] = (
    (8.0, "the grid goes down", {"grid": "open", "soc": 60.0}),
    (16.0, "the battery runs low", {"soc": 15.0}),
    (24.0, "the grid comes back", {"grid": "closed", "soc": 40.0}),
)


# what the port file says as SCRIPT plays (the README promises it)
EXPECTED = ["OL", "OB", "OB LB", "OL"]
LATE_S = 60.0  # how long past its time the demo waits for a state that does not come

def _read(port: Path) -> str:
    """The port file's text, "" while it is hidden (it may be renamed between two looks)."""
    try:
        return port.read_text()
    except FileNotFoundError:
        return ""


def _show(port: Path, started: float) -> None:
    try:
        lines = port.read_text().splitlines()
    except FileNotFoundError:
        print(f"[{time.monotonic() - started:5.1f} s] port file hidden (nocomms)", flush=True)
        return
    shown = [line for line in lines if line.split(":", 1)[0] in SHOWN]
    print(f"[{time.monotonic() - started:5.1f} s] {port.name}: " + "; ".join(shown), flush=True)


def _status(text: str) -> str:
    """ups.status in a port file's text ("" if none)."""
    return next((line.split(": ", 1)[1] for line in text.splitlines()
                 if line.startswith("ups.status: ")), "")


def _watch(sim: Simulator, daemon: Daemon, port: Path, seconds: float,
           seen: list[str]) -> None:
    """Play SCRIPT on the simulator, print each port file change, stop the daemon at the end.

    A step plays at its time once NUT's view shows what the step before it caused (a loaded
    machine may be late, never out of order); the demo stops after `seconds` once the last
    state is seen, or LATE_S after that if it never is.
    """
    started = time.monotonic()
    last = ""
    steps = list(SCRIPT)
    while not daemon.pause.stop_requested:
        now = time.monotonic() - started
        played = len(SCRIPT) - len(steps)
        if steps and now >= steps[0][0] and seen[-1:] == EXPECTED[played:played + 1]:
            _, what, change = steps.pop(0)
            print(f"[{now:5.1f} s] simulator: {what}", flush=True)
            sim.update(**change)
        text = _read(port)
        if text != last:
            last = text
            _show(port, started)
            status = _status(text)
            if status and (not seen or seen[-1] != status):
                seen.append(status)
        if now >= seconds + LATE_S or (now >= seconds and not steps and seen[-1:] == EXPECTED[-1:]):
            daemon.request_stop()
        time.sleep(0.2)


def run(seconds: float = 32.0) -> int:
    """Run the demo for about `seconds`; returns 0 when NUT's view went as EXPECTED, else 1."""
    logsetup.setup(0, True, prefix="enphase-monitor demo: ")
    with tempfile.TemporaryDirectory(prefix="enphase-demo-") as tmp:
        directory = Path(tmp)
        os.chmod(directory, 0o700)
        with Simulator(workdir=directory / "sim") as sim:
            config = load_config(write_setup(
                directory, sim, "POLLFREQ=5\nPOLLFREQALERT=5\nRELAY_CHECK=1\nAPI_TIMEOUT=2\n",
                "# a user line the monitor keeps\nups.delay.shutdown: 30\n", ups="demo"))
            port = config.port_file
            print(f"simulated gateway at {sim.gateway_url}, port file {port}", flush=True)
            daemon = Daemon.from_config(config)
            seen: list[str] = []
            watcher = threading.Thread(target=_watch, args=(sim, daemon, port, seconds, seen),
                                       daemon=True)
            watcher.start()
            daemon.run()
            watcher.join(2)
            print(f"demo finished: ups.status went {' -> '.join(seen)}", flush=True)
    if seen != EXPECTED:
        print(f"demo failed: expected {' -> '.join(EXPECTED)}", file=sys.stderr, flush=True)
        return 1
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """`python -m enphase_sim.demo [--seconds N]`; returns 0 when the demo went as EXPECTED."""
    parser = argparse.ArgumentParser(prog="python -m enphase_sim.demo")
    parser.add_argument("--seconds", type=float, default=32.0, help="how long to run")
    return run(parser.parse_args(argv).seconds)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
