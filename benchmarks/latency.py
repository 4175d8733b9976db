"""Grid-loss latency through real NUT: simulator opens the relay at t0; when does the port file
say OB, and when does `upsc` say OB? p50 / p95 / max over N trials per setting.

Usage: python benchmarks/latency.py [--trials 20] [--settings default relay1 seedlike]
Needs NUT (dummy-ups, upsd, upsc): ./scripts/test installs it. Driver pollinterval is NUT's
default (2 s), mode dummy-loop.
"""

from __future__ import annotations

import argparse
import random
import time
from pathlib import Path

from common import Simulator, daemon, percentile, wait_for, workdir, write_config

from tests.e2e.nut import NutSandbox  # importable: common puts the repository on sys.path

SETTINGS = {
    "default": "",  # POLLFREQ=60, RELAY_CHECK=5
    "relay1": "RELAY_CHECK=1\n",
    "seedlike": "RELAY_CHECK=0\n",  # full polls only, every POLLFREQ=60 s
}


class DefaultPollNut(NutSandbox):
    """The sandbox with NUT's default driver poll interval (2 s)."""

    def __init__(self, directory: Path, port_file: Path) -> None:
        super().__init__(directory, port_file)
        conf = self.etc / "ups.conf"
        conf.write_text(conf.read_text().replace("pollinterval = 1\n", ""))


def trial_set(name: str, trials: int) -> None:
    with Simulator(workdir=workdir("bench-sim-")) as sim:
        directory = workdir(f"bench-lat-{name}-")
        config = write_config(directory, sim, SETTINGS[name], ups="test")
        port = directory / "test.dev"
        proc = daemon(config)
        nut = None
        try:
            # hidden at start-up until the first good poll writes it
            assert wait_for(lambda: port.exists() and "ups.status: OL" in port.read_text(),
                            30) is not None
            nut = DefaultPollNut(directory / "nut", port)
            nut.start()
            file_t: list[float] = []
            upsc_t: list[float] = []
            for _ in range(trials):
                assert wait_for(lambda: nut.get("ups.status") == "OL", 90) is not None
                time.sleep(random.uniform(0, 3))
                t0 = time.monotonic()
                sim.update(grid="open")
                seen_file = seen_upsc = None
                while seen_upsc is None and time.monotonic() - t0 < 120:
                    if seen_file is None and "ups.status: OB" in port.read_text():
                        seen_file = time.monotonic() - t0
                    if nut.get("ups.status") == "OB":
                        seen_upsc = time.monotonic() - t0
                        seen_file = seen_file if seen_file is not None else seen_upsc
                    time.sleep(0.02)
                assert seen_file is not None and seen_upsc is not None, "no OB within 120 s"
                file_t.append(seen_file)
                upsc_t.append(seen_upsc)
                sim.update(grid="closed")
        finally:
            proc.terminate()
            proc.wait(20)
            if nut:
                nut.stop()
    for label, values in (("port file OB", file_t), ("upsc OB", upsc_t)):
        print(f"{name:<9} {label:<13} n={len(values):<3} p50 {percentile(values, 50):5.2f} s"
              f"  p95 {percentile(values, 95):5.2f} s  max {max(values):5.2f} s", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--trials", type=int, default=20)
    parser.add_argument("--settings", nargs="+", default=["default", "relay1"],
                        choices=sorted(SETTINGS))
    args = parser.parse_args()
    for name in args.settings:
        trial_set(name, args.trials)


if __name__ == "__main__":
    main()
