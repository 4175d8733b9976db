"""A NUT sandbox for end-to-end tests: NUT's own dummy-ups and upsd on 127.0.0.1, in a temp dir.

Never touches /etc/nut, /run/nut or systemd: NUT_CONFPATH/NUT_STATEPATH/NUT_ALTPIDPATH point into
the directory, the driver runs in the foreground (`-F`), upsd listens on a free loopback port.
"""

from __future__ import annotations

import os
import random
import shutil
import socket
import subprocess
import time
from pathlib import Path


def find(*paths: str) -> str | None:
    """The first of `paths` that is an executable file."""
    return next((p for p in paths if os.access(p, os.X_OK)), None)


DRIVER = find("/lib/nut/dummy-ups", "/usr/lib/nut/dummy-ups", "/usr/sbin/dummy-ups")
UPSD = find("/lib/nut/upsd", "/usr/lib/nut/upsd", "/usr/sbin/upsd")
UPSC = find("/bin/upsc", "/usr/bin/upsc") or shutil.which("upsc")
AVAILABLE = bool(DRIVER and UPSD and UPSC)


def _ephemeral_start() -> int:
    """The first port the kernel hands out to connect() and bind(port 0)."""
    try:
        return int(Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return 32768


def free_port() -> int:
    """A loopback port free now, for upsd to bind a moment later. Taken below the ephemeral
    range: a port from bind(port 0), closed again, is the kernel's to give to the next
    connect() (this machine's other tests make hundreds), and upsd then failed to listen."""
    low, high = 10000, _ephemeral_start()
    for port in random.sample(range(low, high), min(200, high - low)):
        with socket.socket() as s:
            try:
                s.bind(("127.0.0.1", port))
            except OSError:
                continue
            return port
    raise RuntimeError(f"no free loopback port in {low}-{high - 1}")


class NutSandbox:
    """dummy-ups + upsd serving one UPS whose port is `port_file`."""

    def __init__(self, directory: Path, port_file: Path, ups: str = "test") -> None:
        self.dir = directory
        self.port_file = port_file
        self.ups = ups
        self.tcp = free_port()
        self.etc = directory / "etc"
        self.state = directory / "state"
        self.etc.mkdir(parents=True, exist_ok=True)
        self.state.mkdir(mode=0o700, parents=True, exist_ok=True)
        (self.etc / "ups.conf").write_text(
            f"pollinterval = 1\n[{ups}]\n    driver = dummy-ups\n    port = {port_file}\n"
            f"    mode = dummy-loop\n    desc = \"enphase-monitor e2e\"\n"
        )
        (self.etc / "upsd.conf").write_text(f"LISTEN 127.0.0.1 {self.tcp}\n")
        (self.etc / "upsd.users").write_text("# read-only upsc needs no user\n")
        for name in ("upsd.conf", "upsd.users"):
            (self.etc / name).chmod(0o600)
        self.env = dict(os.environ, NUT_CONFPATH=str(self.etc), NUT_STATEPATH=str(self.state),
                        NUT_ALTPIDPATH=str(self.state))
        self.as_root = ["-u", "root"] if os.geteuid() == 0 else []
        self.driver: subprocess.Popen[bytes] | None = None
        self.upsd: subprocess.Popen[bytes] | None = None

    @property
    def target(self) -> str:
        return f"{self.ups}@127.0.0.1:{self.tcp}"

    def start_driver(self) -> subprocess.Popen[bytes]:
        """Start dummy-ups as systemd's nut-driver@ would (it exits if the file is missing)."""
        assert DRIVER
        log = open(self.dir / "driver.log", "ab")  # noqa: SIM115 - lives as long as the process
        self.driver = subprocess.Popen([DRIVER, "-a", self.ups, *self.as_root, "-F"],
                                       env=self.env, stdout=log, stderr=log)
        return self.driver

    def start(self, *, wait: bool = True) -> None:
        """Start the driver and upsd; with `wait`, until upsc shows a status (False: the
        driver may exit at once, e.g. on a hidden port file)."""
        assert UPSD
        self.start_driver()
        log = open(self.dir / "upsd.log", "ab")  # noqa: SIM115
        self.upsd = subprocess.Popen([UPSD, *self.as_root, "-F"], env=self.env, stdout=log,
                                     stderr=log)
        if not wait:
            return
        if not self.wait(lambda: self.get("ups.status") not in (None, "", "WAIT"), 20):
            raise RuntimeError("NUT sandbox did not come up: " + self.logs())

    def get(self, var: str) -> str | None:
        """`upsc <ups> <var>`; None when upsc fails (e.g. `Driver not connected`)."""
        assert UPSC
        out = subprocess.run([UPSC, self.target, var], capture_output=True, text=True,
                             timeout=10)
        return out.stdout.strip() if out.returncode == 0 else None

    def error(self) -> str:
        """upsc's error line for the whole UPS (empty when it answers)."""
        assert UPSC
        out = subprocess.run([UPSC, self.target], capture_output=True, text=True, timeout=10)
        return "" if out.returncode == 0 else out.stderr.strip().splitlines()[-1]

    def all(self) -> dict[str, str]:
        assert UPSC
        out = subprocess.run([UPSC, self.target], capture_output=True, text=True, timeout=10)
        pairs = (line.split(": ", 1) for line in out.stdout.splitlines() if ": " in line)
        return {k: v for k, v in pairs}

    @staticmethod
    def wait(check: object, timeout: float) -> bool:
        end = time.monotonic() + timeout
        while True:
            if check():  # type: ignore[operator]
                return True
            if time.monotonic() > end:
                return False
            time.sleep(0.1)

    def logs(self) -> str:
        parts = []
        for name in ("driver.log", "upsd.log"):
            path = self.dir / name
            if path.exists():
                parts.append(f"--- {name}\n" + path.read_text()[-2000:])
        return "\n".join(parts)

    def stop(self) -> None:
        for proc in (self.upsd, self.driver):
            if proc is not None:
                stop_process(proc)


def stop_process(proc: subprocess.Popen[bytes]) -> None:
    """SIGTERM, then SIGKILL after 5 s; waits for the exit."""
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(5)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
