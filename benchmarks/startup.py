"""Start-up time: `enphase-monitor -s` (one poll with a cached token) and `-h`, median of 10.

Usage: python benchmarks/startup.py [--runs 10]
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import time

from common import ROOT, Simulator, workdir, write_config


def timed(args: list[str], env: dict[str, str]) -> float:
    start = time.perf_counter()
    subprocess.run(args, cwd=ROOT, env=env, check=True, stdout=subprocess.DEVNULL,
                   stderr=subprocess.DEVNULL)
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=10)
    args = parser.parse_args()
    env = {k: v for k, v in os.environ.items() if k != "REQUESTS_CA_BUNDLE"}
    cli = [sys.executable, "-m", "enphase_monitor.cli"]
    with Simulator(workdir=workdir("bench-sim-")) as sim:
        config = write_config(workdir("bench-start-"), sim)
        timed([*cli, "-s", "-c", str(config)], env)  # caches the token
        once = [timed([*cli, "-s", "-c", str(config)], env) for _ in range(args.runs)]
        logins = sim.stats()["logins"]
    helps = [timed([*cli, "-h"], env) for _ in range(args.runs)]
    print(f"enphase-monitor -s (cached token): median {statistics.median(once) * 1000:.0f} ms,"
          f" min {min(once) * 1000:.0f} ms over {args.runs} runs; logins {logins} (1 = cached)")
    print(f"enphase-monitor -h: median {statistics.median(helps) * 1000:.0f} ms")


if __name__ == "__main__":
    main()
