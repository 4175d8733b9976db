"""What the grid signal costs per topology: the relay vs the ensemble inventory, per request.

Usage: python benchmarks/topology.py [--requests 400]
For an IQ System Controller the light check reads /ivp/ensemble/relay; for an IQ Meter Collar
it reads /ivp/ensemble/inventory. This script measures, against the simulator over one
kept-alive HTTPS connection, each request's wall time and the client's CPU, and prints the body
sizes of the simulator's payloads and of the real captures (tests/fixtures/pyenphase).
Gateway-side time is not measurable here: the captures hold bodies, not timings.
"""

from __future__ import annotations

import argparse
import json
import statistics
import time

from common import ROOT, Simulator, workdir, write_config

from enphase_monitor.config import load_config
from enphase_monitor.facts import INVENTORY, RELAY
from enphase_monitor.monitor import build_clients

CAPTURES = ROOT / "tests" / "fixtures" / "pyenphase"


def _sizes() -> None:
    print("body sizes (bytes, compact JSON as the gateway sends it):")
    for name in ("8.2.4286_with_3cts_and_battery_split", "8.3.1598_collar",
                 "8.3.5433_tot_is_net_cons"):
        for file in ("ivp_ensemble_inventory", "ivp_ensemble_relay"):
            path = CAPTURES / name / file
            if path.exists():
                body = json.dumps(json.loads(path.read_text()), separators=(",", ":"))
                print(f"  capture {name}/{file}: {len(body)}")


def _measure(topology: str, requests: int) -> None:
    with Simulator(workdir=workdir("bench-sim-")) as sim:
        sim.update(topology=topology)
        config = load_config(write_config(workdir("bench-topo-"), sim))
        clients = build_clients(config)
        try:
            for path in (RELAY, INVENTORY):
                body = clients.gateway.get(path).text
                walls, cpus = [], []
                for _ in range(requests):
                    wall, cpu = time.perf_counter(), time.process_time()
                    if path == RELAY:
                        clients.gateway.relay()
                    else:
                        clients.gateway.inventory()
                    walls.append(time.perf_counter() - wall)
                    cpus.append(time.process_time() - cpu)
                walls.sort()
                p95 = walls[int(len(walls) * 0.95)]
                print(f"  {topology:<18} {path:<24} {len(body):>6} B  wall p50"
                      f" {statistics.median(walls) * 1000:5.2f} ms, p95 {p95 * 1000:5.2f} ms;"
                      f" client CPU {statistics.fmean(cpus) * 1000:5.2f} ms")
        finally:
            clients.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--requests", type=int, default=400)
    args = parser.parse_args()
    _sizes()
    print(f"per request, {args.requests} each, one kept-alive connection to the simulator"
          " (body = the simulator's payload; the client parses it into its model):")
    for topology in ("system-controller", "collar"):
        _measure(topology, args.requests)


if __name__ == "__main__":
    main()
