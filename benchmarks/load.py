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
    args = parser.parse_args()
    with Simulator(workdir=workdir("bench-sim-")) as sim:
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
    print(f"settings: defaults {args.extra or ''}; measured over {args.seconds:g} s")
    print(f"TLS handshakes to the gateway: {stats['handshakes']['gateway']}"
          f" in the run (keep-alive; {stats['handshakes']['gateway'] * scale:.0f}/h if repeated)")
    print(f"gateway requests: {total} -> {total * scale:.0f} per hour")
    for path, count in sorted(gateway.items()):
        print(f"  {path:<26} {count:>5} -> {count * scale:>6.0f} per hour")
    print(f"cloud logins: {stats['logins']}, token requests: {stats['token_requests']}")


if __name__ == "__main__":
    main()
