"""CPU per poll cycle and peak RSS of the daemon in steady state (loop mode, POLLFREQ=5).

Usage: python benchmarks/cpu.py [--seconds 60] [--compare PATH-TO-SEED-SCRIPT]
Measured from /proc (self + waited-for children) between two points after a warm-up. With
--compare, the seed's bash script runs the same way against the same simulator.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import time

from common import Simulator, cpu_seconds, daemon, status_kib, workdir, write_config

LIVE = "/ivp/livedata/status"


def measure(proc_pid: int, sim: Simulator, warmup: float, seconds: float) -> tuple[float, int]:
    time.sleep(warmup)
    cpu0, polls0 = cpu_seconds(proc_pid), sim.stats()["requests"].get(LIVE, 0)
    time.sleep(seconds)
    cpu1, polls1 = cpu_seconds(proc_pid), sim.stats()["requests"].get(LIVE, 0)
    return cpu1 - cpu0, polls1 - polls0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument("--warmup", type=float, default=12.0)
    parser.add_argument("--compare", help="path to a copy of the seed's bash enphase-monitor")
    args = parser.parse_args()
    with Simulator(workdir=workdir("bench-sim-")) as sim:
        config = write_config(workdir("bench-cpu-"), sim, "POLLFREQ=5\nPOLLFREQALERT=5\n")
        proc = daemon(config)
        try:
            cpu, polls = measure(proc.pid, sim, args.warmup, args.seconds)
            rss = status_kib(proc.pid, "VmHWM")
        finally:
            proc.terminate()
            proc.wait(20)
        per_poll = cpu / polls * 1000 if polls else float("nan")
        print(f"enphase-monitor: {polls} polls in {args.seconds:g} s, CPU {cpu * 1000:.0f} ms,"
              f" {per_poll:.2f} ms CPU per poll, peak RSS {rss / 1024:.1f} MiB")
        if args.compare:
            seed_dir = workdir("bench-seed-")
            seed_config = write_config(seed_dir, sim, "POLLFREQ=5\nPOLLFREQALERT=5\n")
            env = dict(os.environ, CURL_CA_BUNDLE=str(sim.ca_file))
            seed = subprocess.Popen(["bash", args.compare, "-c", str(seed_config)], env=env,
                                    stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            try:
                seed_cpu, seed_polls = measure(seed.pid, sim, args.warmup, args.seconds)
            finally:
                seed.terminate()
                seed.wait(20)
            seed_per = seed_cpu / seed_polls * 1000 if seed_polls else float("nan")
            print(f"seed script:     {seed_polls} polls, {seed_per:.1f} ms CPU per poll;"
                  f" ratio {seed_per / per_poll:.0f}x")


if __name__ == "__main__":
    main()
