"""Gateway load at the default settings: TLS handshakes and requests per hour.

Usage: python benchmarks/load.py [--seconds 180]
The daemon runs with the default POLLFREQ (60) and RELAY_CHECK (5) against the simulator, which
counts handshakes and requests; the figures are scaled to one hour.
"""

from __future__ import annotations

import argparse
import time

from common import Simulator, daemon, workdir, write_config


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seconds", type=float, default=180.0)
    parser.add_argument("--extra", default="", help="extra config lines, e.g. 'RELAY_CHECK=0'")
    parser.add_argument("--topology", default="system-controller",
                        help="the simulator's backup hardware, e.g. collar")
    args = parser.parse_args()
    with Simulator(workdir=workdir("bench-sim-")) as sim:
        sim.update(topology=args.topology)
        config = write_config(workdir("bench-load-"), sim, args.extra.replace("\\n", "\n") + "\n")
        proc = daemon(config)
        try:
            time.sleep(args.seconds)
            stats = sim.stats()
        finally:
            proc.terminate()
            proc.wait(20)
    scale = 3600.0 / args.seconds
    gateway = {p: n for p, n in stats["requests"].items()
               if p.startswith(("/ivp", "/info", "/auth"))}
    total = sum(gateway.values())
    print(f"settings: defaults {args.extra or ''}; topology {args.topology};"
          f" measured over {args.seconds:g} s")
    print(f"TLS handshakes to the gateway: {stats['handshakes']['gateway']} in the whole run"
          " (one kept-alive connection; a new one only if the gateway drops it)")
    print(f"gateway requests: {total} in {args.seconds:g} s")
    for path, count in sorted(gateway.items()):
        rate = f"-> {count * scale:>5.0f} per hour" if count > 2 else "(once at start)"
        print(f"  {path:<26} {count:>5} {rate}")
    print(f"cloud logins: {stats['logins']}, token requests: {stats['token_requests']}")


if __name__ == "__main__":
    main()
