"""Hostile configs and hostile log text: time and peak memory of refusing or escaping them.

Usage: python benchmarks/config_bounds.py
Prints, for each input, the outcome (the one-line error, cut), the wall time and the peak of
Python allocations (tracemalloc) while the config parser or the log formatter handled it.
"""

from __future__ import annotations

import logging
import time
import tracemalloc
from collections.abc import Callable
from pathlib import Path

import common  # noqa: F401  (puts the repository on sys.path)

from enphase_monitor.config import parse_config
from enphase_monitor.errors import ConfigError
from enphase_monitor.logsetup import Formatter

BASE = "UPS=b\nUSERNAME=u@x\nPASSWORD=pw\nSERIAL=1\nPORT_FILE=b.dev\n"


def bomb(lines: int) -> str:
    return "A0=0123456789abcdef\n" + "".join(f"A{i}=$A{i - 1}$A{i - 1}\n"
                                            for i in range(1, lines + 1))


CASES: dict[str, str] = {
    "a normal config (reference)": BASE + "POLLFREQ=30\nENVOY_HOST=192.0.2.7\n",
    "25 lines of A2=$A1$A1 (400 MB before the bound)": BASE + bomb(25),
    "one value of 30,000 $A references": BASE + "A=" + "x" * 100 + "\nB=" + "$A" * 30000,
    "4,500 lines of B_n=$A, A 16 KiB (60 KiB of text)": BASE + "A=" + "x" * 16000 + "\n"
    + "".join(f"B{i}=$A\n" for i in range(4500)),
    "config over 64 KiB": BASE + "# " + "x" * 70000 + "\n",
}


def measure(work: Callable[[], str]) -> tuple[str, float, float]:
    tracemalloc.start()
    start = time.perf_counter()
    outcome = work()
    elapsed = time.perf_counter() - start
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    return outcome, elapsed, peak / 2**20


def parse(text: str) -> str:
    try:
        parse_config(text, Path("/etc/nut/enphase-b.conf"), None, {})
    except ConfigError as exc:
        return f"refused: {str(exc)[:70]}"
    return "accepted"


def main() -> None:
    print(f"{'input':<52} {'ms':>8} {'peak MiB':>9}  outcome")
    for name, text in CASES.items():
        outcome, elapsed, peak = measure(lambda text=text: parse(text))  # type: ignore[misc]
        print(f"{name:<52} {elapsed * 1000:8.2f} {peak:9.2f}  {outcome}")
    hostile = ("x\nWATCHDOG=trigger\x1b[2J\u202e" * 50000)[:1_000_000]
    record = logging.LogRecord("enphase_monitor.b", logging.WARNING, __file__, 1,
                               "relay says %s", (hostile,), None)
    formatter = Formatter(journald=True, prefix="")
    outcome, elapsed, peak = measure(lambda: f"one line of {len(formatter.format(record))} chars")
    print(f"{'log record with 1 MB of control-character text':<52} {elapsed * 1000:8.2f}"
          f" {peak:9.2f}  {outcome}")


if __name__ == "__main__":
    main()
