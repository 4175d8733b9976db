"""Soak: the daemon's poll cycle against the simulator with random faults, >= 10,000 cycles.

Usage: python benchmarks/soak.py [--cycles 10000] [--seed 1]
Accelerated: cycles run back to back in-process (the sleeps between polls and before a
confirming read are skipped) and the clients' clocks (wall and monotonic) advance 5 s per
cycle, so the token back-offs (minutes) pass as they would at POLLFREQ=5. Prints cycles, faults
injected, RSS and open fds at start and end, state counts, and every port file that failed to
parse or lost the user's line.
"""

from __future__ import annotations

import argparse
import os
import random
import time
from collections import Counter

from common import Simulator, status_kib, workdir, write_config

from enphase_monitor.config import load_config
from enphase_monitor.monitor import Monitor
from enphase_monitor.pause import Pause
from enphase_monitor.portfile import PortContent
from enphase_monitor.sdnotify import Notifier
from enphase_monitor.wiring import build_clients

FAULTS = [("reset", None), ("status", 500.0), ("status", 503.0), ("garbage", None),
          ("empty", None), ("truncated", None), ("wrong_types", None), ("401", None),
          ("slow", 0.05), ("tls", None)]
PATHS = ["*", "/ivp/ensemble/relay", "/ivp/livedata/status", "/ivp/meters/reports",
         "/ivp/ensemble/secctrl"]


def check_file(mon: Monitor) -> str | None:
    path = mon.port.nocomms_path if mon.port.hidden else mon.config.port_file
    try:
        content = PortContent.parse(path.read_text())
    except OSError as exc:
        return f"{path}: {exc}"
    if content.values.get("ups.delay.shutdown") != "30":
        return f"{path}: user line lost"
    if content.values and "ups.status" not in content.values and not mon.port.hidden:
        return f"{path}: no ups.status"
    return None


class NoWait(Pause):
    """The confirming read's wait, skipped."""

    def sleep(self, seconds: float, *, until_reload: bool = False) -> None:
        """Return at once."""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--cycles", type=int, default=10000)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    rng = random.Random(args.seed)
    pid = os.getpid()
    with Simulator(workdir=workdir("bench-sim-")) as sim:
        config = load_config(write_config(workdir("bench-soak-"), sim,
                                          "API_TIMEOUT=2\nCONFIRM_DELAY=1\n"))
        # simulated time for the clients (the wall clock for token expiry, the monotonic one
        # for the back-off and the topology refresh): each cycle stands for a 5 s poll
        simulated = [time.time()]
        clients = build_clients(config, clock=lambda: simulated[0],
                                wall_clock=lambda: simulated[0])
        notifier = Notifier({})
        mon = Monitor(config, clients, notifier, NoWait(notifier))
        mon.cycle()
        rss0, fds0 = status_kib(pid, "VmRSS"), len(os.listdir(f"/proc/{pid}/fd"))
        faults: Counter[str] = Counter()
        states: Counter[str] = Counter()
        bad: list[str] = []
        start = time.monotonic()
        for i in range(args.cycles):
            roll = rng.random()
            if roll < 0.15:
                kind, value = rng.choice(FAULTS)
                target = rng.choice(PATHS)
                sim.inject(target, kind, count=rng.randint(1, 3), value=value)
                if kind == "tls":
                    sim.inject(target, "reset", count=1)
                faults[kind] += 1
            elif roll < 0.20:
                sim.clear_faults()
            if rng.random() < 0.03:
                sim.update(grid=rng.choice(["closed", "closed", "open", "open synchronizing"]),
                           soc=float(rng.randint(5, 100)), has_ct=rng.random() < 0.9)
            if rng.random() < 0.002:
                sim.revoke_tokens()
                faults["revoked token"] += 1
            mon.cycle()
            simulated[0] += 5.0
            states[mon.state.value] += 1
            problem = check_file(mon)
            if problem:
                bad.append(f"cycle {i}: {problem}")
        elapsed = time.monotonic() - start
        rss1, fds1 = status_kib(pid, "VmRSS"), len(os.listdir(f"/proc/{pid}/fd"))
        stats = sim.stats()
        mon.clients.close()
    print(f"cycles: {args.cycles} in {elapsed:.0f} s; faults injected: {sum(faults.values())}"
          f" ({', '.join(f'{k} {v}' for k, v in sorted(faults.items()))})")
    print(f"states after each cycle: {dict(states)}; port-file writes: {mon.writes}")
    print(f"RSS: start {rss0 / 1024:.1f} MiB, end {rss1 / 1024:.1f} MiB;"
          f" open fds: start {fds0}, end {fds1}")
    print(f"gateway TLS handshakes: {stats['handshakes']['gateway']};"
          f" logins: {stats['logins']}")
    print(f"port files that failed the check: {len(bad)}")
    for line in bad[:20]:
        print("  " + line)


if __name__ == "__main__":
    main()
