"""How long upsd has no data when enphase-monitor@<ups> restarts (a package upgrade,
`systemctl restart`), through real NUT under a real systemd, with upsmon (DEADTIME 15) watching.

The daemon hides the port file when it stops, so dummy-ups exits; the unit's ExecStartPost
restarts a driver waiting to restart once the first port file is written. Variants: the units
as the packages install them ("package", nut-driver@'s RestartSec=15s) or with the wizard's
drop-in ("wizard", RestartSec=3s), each with and without that ExecStartPost. The gap is the
longest time `upsc` (polled every 0.2 s) got no status; "upsmon" lists its alarms (LOWBATT, FSD,
SHUTDOWN...) in the 20 s after the restart.

Usage: python benchmarks/restart_gap.py [--trials 5] [--variants package wizard ...]
Needs root, systemd, NUT's units (see tests/e2e/sysnut.py).
"""

from __future__ import annotations

import argparse
import time

from common import Simulator, percentile, wait_for, workdir

from tests.e2e import sysnut  # importable: common puts the repository on sys.path

VARIANTS = {
    "package": (False, True),
    "wizard": (True, True),
    "package-no-kick": (False, False),
    "wizard-no-kick": (True, False),
}
ALARMS = {"LOWBATT", "FSD", "SHUTDOWN", "SHUTDOWNCMD", "NOCOMM"}


def trial(rig: sysnut.Rig, state: str) -> tuple[float, list[str]]:
    """Restart the monitor while NUT says `state`; (gap in s, upsmon's alarms)."""
    since = sysnut.wall()
    with rig.sampling() as sampler:
        started = time.monotonic()
        rig.m.run("systemctl", "restart", rig.unit)
        wait_for(lambda: rig.status() == state, 40, 0.1)
        time.sleep(20)
    alarms = [e for e in rig.events_since(since) if e in ALARMS]
    return sampler.longest_gap(started), alarms


def run_variant(name: str, trials: int) -> None:
    dropin, kick = VARIANTS[name]
    with Simulator(workdir=workdir("bench-gap-sim-")) as sim, \
            sysnut.rig(workdir("bench-gap-") / "rig", sim, dropin, kick) as (rig, why):
        if rig is None:
            print(f"{name}: cannot run here: {why}")
            return
        wait_for(lambda: rig.status() == "OL", 30, 0.1)
        for state in ("OL", "OB"):
            if state == "OB":
                sim.update(grid="open")
                wait_for(lambda: rig.status() == "OB", 20, 0.1)
                time.sleep(6)  # upsmon has seen OB
            gaps, alarms = [], []
            for _ in range(trials):
                gap, seen = trial(rig, state)
                gaps.append(gap)
                alarms.extend(seen)
                if seen:
                    break  # upsmon has shut down: later trials would mean nothing
            print(f"{name:16} restart while {state}: gap p50 {percentile(gaps, 50):5.1f} s,"
                  f" max {max(gaps):5.1f} s over {len(gaps)} trial(s); upsmon alarms:"
                  f" {', '.join(alarms) or 'none'}", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--trials", type=int, default=5)
    parser.add_argument("--variants", nargs="+", choices=sorted(VARIANTS),
                        default=list(VARIANTS))
    args = parser.parse_args()
    for name in args.variants:
        run_variant(name, args.trials)


if __name__ == "__main__":
    main()
