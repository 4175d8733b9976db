"""`enphase-monitor --demo`: the daemon against the built-in simulator, grid drop included."""

from __future__ import annotations

import argparse
import os
import tempfile
import threading
import time
from collections.abc import Sequence
from pathlib import Path

from . import logsetup
from .config import load_config
from .loop import Daemon
from .simulator import Simulator

SHOWN = ("ups.status", "battery.charge", "battery.runtime", "ups.load", "output.realpower",
         "input.realpower", "ups.delay.shutdown")
SCRIPT: tuple[tuple[float, str, dict[str, object]], ...] = (
    (8.0, "the grid goes down", {"grid": "open", "soc": 60.0}),
    (16.0, "the battery runs low", {"soc": 15.0}),
    (24.0, "the grid comes back", {"grid": "closed", "soc": 40.0}),
)


def write_setup(directory: Path, sim: Simulator, extra: str = "", port_text: str = "",
                ups: str = "test") -> Path:
    """Write a 0600 config pointing at `sim` and the port file it names; return the config.

    Shared by the demo, the tests and the benchmarks. An existing port file is kept.
    """
    directory.mkdir(parents=True, exist_ok=True)
    port = directory / f"{ups}.dev"
    if not port.exists():
        port.write_text(port_text)
        port.chmod(0o640)
    state = sim.state
    config = directory / f"enphase-{ups}.conf"
    config.write_text(
        f"UPS={ups}\nUSERNAME={state.username}\nPASSWORD='{state.password}'\n"
        f"SERIAL={state.serial}\nSTATE_DIR={directory}\nPORT_FILE={port.name}\n"
        f"ENVOY_HOST={sim.gateway_host}\nENPHASE_LOGIN='{sim.login_url}'\n"
        f"ENPHASE_TOKENS={sim.tokens_url}\nCLOUD_CA_FILE={sim.ca_file}\n{extra}"
    )
    config.chmod(0o600)
    return config


def _show(port: Path, started: float) -> None:
    try:
        lines = port.read_text().splitlines()
    except FileNotFoundError:
        print(f"[{time.monotonic() - started:5.1f} s] port file hidden (nocomms)", flush=True)
        return
    shown = [line for line in lines if line.split(":", 1)[0] in SHOWN]
    print(f"[{time.monotonic() - started:5.1f} s] {port.name}: " + "; ".join(shown), flush=True)


def main(argv: Sequence[str] | None = None) -> int:
    """Run the demo; returns 0."""
    parser = argparse.ArgumentParser(prog="enphase-monitor --demo")
    parser.add_argument("--seconds", type=float, default=32.0, help="how long to run")
    args = parser.parse_args(argv or [])
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
            started = time.monotonic()

            seen: list[str] = []

            def scenario() -> None:
                last = ""
                steps = list(SCRIPT)
                while not daemon.pause.stop_requested:
                    now = time.monotonic() - started
                    if steps and now >= steps[0][0]:
                        _, what, change = steps.pop(0)
                        print(f"[{now:5.1f} s] simulator: {what}", flush=True)
                        sim.update(**change)
                    text = port.read_text() if port.exists() else ""
                    if text != last:
                        last = text
                        _show(port, started)
                        status = next((line.split(": ", 1)[1] for line in text.splitlines()
                                       if line.startswith("ups.status: ")), "")
                        if status and (not seen or seen[-1] != status):
                            seen.append(status)
                    if now >= args.seconds:
                        daemon.request_stop()
                    time.sleep(0.2)

            watcher = threading.Thread(target=scenario, daemon=True)
            watcher.start()
            daemon.run()
            watcher.join(2)
            print(f"demo finished: ups.status went {' -> '.join(seen)}", flush=True)
    return 0
