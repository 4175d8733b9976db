"""`enphase-sim`: run the gateway + cloud simulator until stopped, or `enphase-sim demo`."""

from __future__ import annotations

import argparse
import json
import signal
import sys
import threading
from collections.abc import Sequence
from pathlib import Path
from types import FrameType

from .state import PHASES, TOPOLOGIES, SimState

FACTS = ("gateway_url", "gateway_host", "login_url", "tokens_url", "ca_file", "cert_sha256",
         "serial", "username", "password")


def parser() -> argparse.ArgumentParser:
    """The simulator's options, and the `demo` command."""
    p = argparse.ArgumentParser(
        prog="enphase-sim",
        description="HTTPS simulator of an Enphase IQ Gateway and of the Enphase cloud on "
                    "127.0.0.1: prints its URLs and credentials, then `ready`, and runs until "
                    "SIGTERM or SIGINT. `enphase-sim demo` runs the daemon against it instead.")
    p.add_argument("--gateway-port", type=int, default=0)
    p.add_argument("--cloud-port", type=int, default=0)
    p.add_argument("--fixture", type=Path, help="serve this pyenphase fixture directory")
    p.add_argument("--workdir", type=Path, help="certificate and simulator.json directory")
    p.add_argument("--grid", default="closed", help="relay state: open, closed, ...")
    p.add_argument("--soc", type=float, default=80.0)
    p.add_argument("--phases", choices=PHASES, default="split")
    p.add_argument("--load", type=float, default=1500.0, help="house load in W")
    p.add_argument("--mfa", action="store_true", help="the account needs MFA")
    p.add_argument("--live-stale", action="store_true",
                   help="livedata frozen from the start (its streaming off; or POST /__sim/state"
                   " {\"live_stale\": true} later)")
    p.add_argument("--topology", choices=TOPOLOGIES, default="system-controller",
                   help="the backup hardware (grid on and off for each: --grid, or"
                   " POST /__sim/state {\"grid\": \"open\"})")
    commands = p.add_subparsers(dest="command", metavar="{demo}")
    demo = commands.add_parser(
        "demo", help="run the daemon against the simulator and show the port file change")
    demo.add_argument("--seconds", type=float, default=32.0, help="how long to run")
    return p


def main(argv: Sequence[str] | None = None) -> int:
    """Run the simulator (or the demo); returns the exit status."""
    args = parser().parse_args(argv)
    if args.command == "demo":
        from .demo import run

        return run(args.seconds)
    return serve(args)


def serve(args: argparse.Namespace) -> int:
    """Run the simulator until SIGTERM/SIGINT; prints its URLs then ``ready``."""
    from .simulator import Simulator

    state = SimState(grid=args.grid, soc=args.soc, phases=args.phases, load_w=args.load,
                     mfa=args.mfa, topology=args.topology, live_stale=args.live_stale)
    done = threading.Event()

    def _on_signal(signum: int, frame: FrameType | None) -> None:
        done.set()

    signal.signal(signal.SIGTERM, _on_signal)
    signal.signal(signal.SIGINT, _on_signal)
    sim = Simulator(workdir=args.workdir, gateway_port=args.gateway_port,
                    cloud_port=args.cloud_port, fixture_dir=args.fixture, state=state)
    with sim:
        info = sim.info()
        (sim.workdir / "simulator.json").write_text(json.dumps(info, indent=2) + "\n")
        for key in FACTS:
            print(f"{key}={info[key]}")
        print("ready", flush=True)
        while not done.wait(0.5):
            pass
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
