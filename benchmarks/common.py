"""Shared set-up for the benchmark scripts: a simulator, a config, a daemon process."""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from enphase_sim import Simulator  # noqa: E402
from enphase_sim.monitorconf import write_setup  # noqa: E402

CLK_TCK = os.sysconf("SC_CLK_TCK")


def workdir(prefix: str) -> Path:
    path = Path(tempfile.mkdtemp(prefix=prefix))
    path.chmod(0o700)
    return path


def write_config(directory: Path, sim: Simulator, extra: str = "", ups: str = "bench") -> Path:
    """A 0600 config for `sim` and a port file with one user line in `directory`."""
    return write_setup(directory, sim, extra, "ups.delay.shutdown: 30\n", ups)


def daemon(config: Path, *args: str) -> subprocess.Popen[bytes]:
    """Start `enphase-monitor -c config` as its own process."""
    env = {k: v for k, v in os.environ.items() if k != "REQUESTS_CA_BUNDLE"}
    return subprocess.Popen([sys.executable, "-m", "enphase_monitor.cli", *args, "-c", str(config)],
                            cwd=ROOT, env=env, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)


def cpu_seconds(pid: int) -> float:
    """utime + stime of the process and its waited-for children, in seconds."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return sum(int(fields[i]) for i in (11, 12, 13, 14)) / CLK_TCK


def status_kib(pid: int, key: str) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(key + ":"):
            return int(line.split()[1])
    return 0


def open_fds(pid: int) -> int:
    return len(os.listdir(f"/proc/{pid}/fd"))


def wait_for(check, timeout: float, step: float = 0.02) -> float | None:  # type: ignore[no-untyped-def]
    """Seconds until check() is true, or None after timeout."""
    start = time.monotonic()
    while time.monotonic() - start < timeout:
        if check():
            return time.monotonic() - start
        time.sleep(step)
    return None


def percentile(values: list[float], pct: float) -> float:
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(pct / 100 * (len(ordered) - 1))))
    return ordered[index]
