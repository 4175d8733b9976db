"""The daemon under attack (tests/hostile/server.py): peak memory, time to a hidden port file,
SIGTERM latency in the middle of a dripping request.

Usage: python benchmarks/attacks.py [--memory] [--hide] [--sigterm] [--trials 3]
(no flag: all three). Each figure comes from the real daemon (`enphase-monitor -c`, its own
process) against the hostile gateway in front of the simulator, TOKEN= in the config.
"""

from __future__ import annotations

import argparse
import random
import signal
import threading
import time
from pathlib import Path

from common import daemon, percentile, status_kib, wait_for, workdir, write_config

from enphase_monitor.transport import HttpsTransport, TransportError
from enphase_sim import Simulator
from tests.hostile.server import HostileGateway  # importable: common puts the repo on sys.path

MEMORY_ATTACKS = ("huge_body", "huge_declared", "length_absurd", "absurd_chunk",
                  "endless_chunks", "deep_json", "wide_json", "many_strings", "cookie_flood",
                  "cookie_churn", "many_headers", "endless_continue")
HIDE_ATTACKS = ("drip_body", "huge_body")
FAST = "POLLFREQ=5\nPOLLFREQALERT=5\nAPI_TIMEOUT=2\n"


class Rig:
    """Simulator + hostile gateway + a daemon with TOKEN= and the given settings."""

    def __init__(self, settings: str) -> None:
        self.sim = Simulator(workdir=workdir("bench-atk-sim-")).start()
        self.server = HostileGateway(self.sim, workdir("bench-atk-gw-")).start()
        self.dir = workdir("bench-atk-")
        config = write_config(self.dir, self.sim, f"ENVOY_HOST={self.server.host}\n"
                              f"TOKEN={self.sim.issue_token()}\n{settings}", ups="test")
        self.port = self.dir / "test.dev"
        self.hidden = Path(f"{self.port}-nocomms")
        self.proc = daemon(config)
        assert wait_for(self.online, 60) is not None, "the daemon never wrote OL"

    def online(self) -> bool:
        return self.port.exists() and "ups.status: OL" in self.port.read_text()

    def is_hidden(self) -> bool:
        return self.hidden.exists() and not self.port.exists()

    def attacked(self, more_than: int, timeout: float) -> float | None:
        """Wait until the server has sent more than `more_than` attacked answers in all."""
        return wait_for(lambda: self.server.counts["attacked"] > more_than, timeout)

    def close(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(30)
        self.server.stop()
        self.sim.stop()


def memory() -> None:
    """VmHWM of the daemon after 3 polls under each attack (a fresh daemon each)."""
    rig = Rig(FAST)
    try:
        time.sleep(12)
        peak = status_kib(rig.proc.pid, "VmHWM") / 1024
        print(f"memory   no attack (3 polls)      peak RSS {peak:5.1f} MiB", flush=True)
    finally:
        rig.close()
    for attack in MEMORY_ATTACKS:
        rig = Rig(FAST)
        try:
            rig.server.attack = attack
            start = rig.server.counts["attacked"]
            rig.attacked(start + 5, 60)
            alive = rig.proc.poll() is None
            peak = status_kib(rig.proc.pid, "VmHWM") / 1024 if alive else float("nan")
            print(f"memory   {attack:<24} peak RSS {peak:5.1f} MiB"
                  f"  ({rig.server.counts['attacked'] - start} attacked answers,"
                  f" {'hidden' if rig.is_hidden() else 'OL' if rig.online() else '?'},"
                  f" {'alive' if alive else 'DEAD'})", flush=True)
        finally:
            rig.close()


def hide(trials: int) -> None:
    """Seconds from the start of an attack to the hidden port file, at default settings."""
    for attack in HIDE_ATTACKS:
        rig = Rig("")  # POLLFREQ 60, RELAY_CHECK 5, API_TIMEOUT 5, NOCOMMS_AFTER 2
        times: list[float] = []
        try:
            for _ in range(trials):
                assert wait_for(rig.online, 180) is not None
                time.sleep(random.uniform(0, 60))  # anywhere in the poll cycle
                t0 = time.monotonic()
                rig.server.attack = attack
                took = wait_for(rig.is_hidden, 400, step=0.05)
                assert took is not None, f"{attack}: not hidden within 400 s"
                times.append(time.monotonic() - t0)
                rig.server.attack = None
        finally:
            rig.close()
        print(f"hide     {attack:<13} n={len(times)}  p50 {percentile(times, 50):6.1f} s"
              f"  max {max(times):6.1f} s  min {min(times):6.1f} s", flush=True)


def sigterm(trials: int) -> None:
    """SIGTERM in the middle of a dripping request: the daemon's exit; the transport's cancel."""
    rig = Rig("API_TIMEOUT=5\n")
    exits: list[float] = []
    try:
        for _ in range(trials):
            if rig.proc.poll() is not None:
                rig.close()
                rig = Rig("API_TIMEOUT=5\n")
            rig.server.attack = "drip_body"
            assert rig.attacked(rig.server.counts["attacked"], 120) is not None
            time.sleep(random.uniform(0.2, 2.0))
            t0 = time.monotonic()
            rig.proc.send_signal(signal.SIGTERM)
            rig.proc.wait(60)
            exits.append(time.monotonic() - t0)
            rig.server.attack = None
    finally:
        rig.close()
    print(f"sigterm  daemon exit, mid-drip   n={len(exits)}  p50 {percentile(exits, 50):5.2f} s"
          f"  max {max(exits):5.2f} s", flush=True)
    cancels: list[float] = []
    with Simulator(workdir=workdir("bench-atk-sim-")) as sim, \
            HostileGateway(sim, workdir("bench-atk-gw-")) as server:
        server.attack = "drip_body"
        for _ in range(trials * 5):
            stop = threading.Event()
            http = HttpsTransport(verify=False, trust_env=False, stop=stop)
            fired: list[float] = []

            def fire(stop: threading.Event = stop, fired: list[float] = fired) -> None:
                fired.append(time.monotonic())
                stop.set()

            threading.Timer(random.uniform(0.3, 1.5), fire).start()
            try:
                http.request("GET", f"https://{server.host}/ivp/ensemble/relay", timeout=60)
            except TransportError as exc:
                assert exc.kind == "cancelled", exc
            cancels.append(time.monotonic() - fired[0])
            http.close()
    print(f"sigterm  transport cancel        n={len(cancels)}  p50 {percentile(cancels, 50):5.3f} s"
          f"  max {max(cancels):5.3f} s", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--memory", action="store_true")
    parser.add_argument("--hide", action="store_true")
    parser.add_argument("--sigterm", action="store_true")
    parser.add_argument("--trials", type=int, default=3)
    args = parser.parse_args()
    everything = not (args.memory or args.hide or args.sigterm)
    if args.memory or everything:
        memory()
    if args.sigterm or everything:
        sigterm(args.trials)
    if args.hide or everything:
        hide(args.trials)


if __name__ == "__main__":
    main()
