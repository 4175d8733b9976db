"""Where the time of one poll cycle goes: cProfile over N steady-state cycles (cached token,
kept-alive connection), in-process against the simulator.

Usage: python benchmarks/profile_cycle.py [--cycles 200]
"""

from __future__ import annotations

import argparse
import cProfile
import io
import pstats
import time

from common import Simulator, workdir, write_config

from enphase_monitor.config import load_config
from enphase_monitor.monitor import Monitor
from enphase_monitor.sdnotify import Notifier
from enphase_monitor.wiring import build_clients


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--cycles", type=int, default=200)
    args = parser.parse_args()
    with Simulator(workdir=workdir("bench-sim-")) as sim:
        config = load_config(write_config(workdir("bench-prof-"), sim))
        mon = Monitor(config, build_clients(config), Notifier({}))
        mon.cycle()  # login, handshake, first write
        cpu0, wall0 = time.process_time(), time.perf_counter()
        for _ in range(args.cycles):
            mon.cycle()
        cpu, wall = time.process_time() - cpu0, time.perf_counter() - wall0
        profiler = cProfile.Profile()
        profiler.enable()
        for _ in range(args.cycles):
            mon.cycle()
        profiler.disable()
        mon.clients.close()
    print(f"{args.cycles} cycles: {cpu / args.cycles * 1000:.2f} ms CPU and"
          f" {wall / args.cycles * 1000:.2f} ms wall per cycle (this process also runs the"
          " simulator's server threads)")
    out = io.StringIO()
    stats = pstats.Stats(profiler, stream=out).sort_stats("cumulative")
    stats.print_stats(r"enphase_monitor/(monitor|poller|gateway|transport|nutvars|portfile|models)",
                      18)
    print(out.getvalue())


if __name__ == "__main__":
    main()
