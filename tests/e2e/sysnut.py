"""The daemon's unit and NUT's own units under a real systemd, with upsmon watching.

A private systemd (tests/packaging/sdboot.py: systemd 252 as PID 1 of a new PID + mount
namespace) runs, as the packages install them: `enphase-monitor@<ups>.service` from
packaging/systemd (only the path of the daemon differs: the package under test is staged at
/run/enphase-test), NUT's `nut-driver@.service`, `nut-server.service` and `nut-monitor.service`
from the distribution, optionally the wizard's driver drop-in (`RestartSec=3s`); each with a
drop-in `DefaultDependencies=no`, as the private systemd masks the boot targets. Everything
that would touch the host stays in the namespace: /etc/nut and /var/lib/nut are bind mounts of
a temporary directory there, the units are enabled with `--runtime` (in the private /run).
The gateway is the HTTPS simulator on 127.0.0.1; upsd listens on a free loopback port and a
NOTIFYCMD of upsmon (primary, DEADTIME 15, the defaults otherwise) writes its events to a file.

Needs root, systemd, unshare/nsenter and NUT (nut-server, nut-client): `available()` says why not.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from enphase_sim import Simulator
from tests.e2e.nut import UPSC, free_port
from tests.packaging import sdboot

ROOT = Path(__file__).resolve().parents[2]
UNIT = ROOT / "packaging/systemd/enphase-monitor@.service"
DRIVER_DROPIN = ROOT / "packaging/systemd/nut-driver-restart.conf"
NUT_UNITS = ("nut-driver@.service", "nut-server.service", "nut-monitor.service")
STAGE = "/run/enphase-test"  # the daemon under test, inside the namespace
UPS = "rig"
WRAPPER = f"""#!/usr/bin/python3
import sys
sys.path.insert(0, "{STAGE}/lib")
from enphase_monitor.cli import main
sys.exit(main())
"""
NOTIFY = """#!/bin/sh
echo "$(date +%s.%N) $NOTIFYTYPE $*" >> {events}
"""


def available() -> str:
    """Why this rig cannot run here ("" when it can)."""
    if os.geteuid() != 0:
        return "needs root (a private systemd, NUT's units); CI runs as root"
    missing = [u for u in NUT_UNITS if not Path("/lib/systemd/system", u).exists()]
    if missing or not UPSC:
        return "NUT's systemd units are not installed (nut-server, nut-client)"
    if not shutil.which("systemctl"):
        return "systemd is not installed"
    try:
        nut = __import__("pwd").getpwnam("nut")
    except KeyError:
        return "no user nut (NUT is not installed)"
    del nut
    return ""


@dataclass
class Sample:
    """One `upsc <ups> ups.status` at a monotonic time: the status, or None (no data)."""

    at: float
    status: str | None


@dataclass
class Sampler:
    """Reads ups.status through upsd every `step` seconds in a thread."""

    target: str
    step: float = 0.2
    samples: list[Sample] = field(default_factory=list)
    _stop: threading.Event = field(default_factory=threading.Event)

    def run(self) -> None:
        assert UPSC
        while not self._stop.is_set():
            out = subprocess.run([UPSC, self.target, "ups.status"], capture_output=True,
                                 text=True, timeout=10, check=False)
            status = out.stdout.strip() if out.returncode == 0 else None
            self.samples.append(Sample(time.monotonic(), status))
            self._stop.wait(self.step)

    def stop(self) -> None:
        self._stop.set()

    def longest_gap(self, since: float) -> float:
        """The longest time without data after `since`: from the last answer before a run of
        failed reads to the first answer after it (0 when no read failed)."""
        gap, last_ok, failed = 0.0, None, False
        for sample in self.samples:
            if sample.status is None:
                failed = sample.at >= since or failed
                continue
            if failed and last_ok is not None:
                gap = max(gap, sample.at - last_ok)
            last_ok, failed = sample.at, False
        return gap


class Rig:
    """The simulator, the private systemd, the units and upsmon."""

    def __init__(self, manager: sdboot.Manager, sim: Simulator, tmp: Path, dropin: bool,
                 start_post: bool = True, port_text: str = "ups.delay.shutdown: 30\n") -> None:
        self.m = manager
        self.sim = sim
        self.tmp = tmp
        self.tcp = free_port()
        self.etc = tmp / "etc-nut"
        self.lib = tmp / "var-lib-nut"
        self.stage = tmp / "stage"
        self.events = Path(STAGE) / "events"
        self.dropin = dropin
        self.start_post = start_post
        self.port_text = port_text
        self.port = self.lib / f"{UPS}.dev"
        self.hidden = self.lib / f"{UPS}.dev-nocomms"

    @property
    def unit(self) -> str:
        return f"enphase-monitor@{UPS}.service"

    @property
    def target(self) -> str:
        return f"{UPS}@127.0.0.1:{self.tcp}"

    # -- set-up -----------------------------------------------------------------------------
    def setup(self) -> None:
        self._stage()
        self._nut_config()
        m = self.m
        m.run("mkdir", "-p", STAGE, "/etc/nut", "/var/lib/nut")
        m.run("mount", "--bind", self.stage, STAGE)
        m.run("mount", "--bind", self.etc, "/etc/nut")
        m.run("mount", "--bind", self.lib, "/var/lib/nut")
        m.run("install", "-d", "-o", "nut", "-g", "nut", "-m", "0770", "/run/nut")
        unit = UNIT.read_text().replace("/usr/bin/enphase-monitor", f"{STAGE}/bin/enphase-monitor")
        if not self.start_post:
            unit = "\n".join(line for line in unit.splitlines()
                             if not line.startswith("ExecStartPost="))
        self._put("/run/systemd/system/enphase-monitor@.service", unit)
        for name in (*NUT_UNITS, "enphase-monitor@.service"):  # sysinit.target is masked here
            self._put(f"/run/systemd/system/{name}.d/pkgtest.conf",
                      "[Unit]\nDefaultDependencies=no\n")
        if self.dropin:
            self._put(f"/run/systemd/system/nut-driver@{UPS}.service.d/enphase-monitor.conf",
                      DRIVER_DROPIN.read_text())
        m.run("systemctl", "daemon-reload")
        m.run("systemctl", "enable", "--runtime", self.unit)

    def _put(self, path: str, text: str) -> None:
        self.m.run("mkdir", "-p", os.path.dirname(path))
        self.m.run("sh", "-c", f"cat > {path}", input=text)

    def _stage(self) -> None:
        """The package under test, readable by user nut, and its wrapper script."""
        shutil.copytree(ROOT / "enphase_monitor", self.stage / "lib/enphase_monitor",
                        ignore=shutil.ignore_patterns("__pycache__"))
        (self.stage / "bin").mkdir()
        (self.stage / "bin/enphase-monitor").write_text(WRAPPER)
        (self.stage / "notify").write_text(NOTIFY.format(events=self.events))
        for path in [self.stage, *self.stage.rglob("*")]:
            path.chmod(0o755 if path.is_dir() or path.parent.name in ("bin",) or
                       path.name == "notify" else 0o644)
        (self.stage / "events").touch()
        shutil.chown(self.stage / "events", "nut", "nut")

    def _nut_config(self) -> None:
        self.etc.mkdir()
        self.lib.mkdir()
        files = {
            "nut.conf": "MODE=standalone\n",
            "ups.conf": f"pollinterval = 2\n[{UPS}]\n  driver = dummy-ups\n"
                        f"  port = /var/lib/nut/{UPS}.dev\n  mode = dummy-loop\n",
            "upsd.conf": f"LISTEN 127.0.0.1 {self.tcp}\n",
            "upsd.users": "[mon]\n  password = secret\n  upsmon primary\n",
            "upsmon.conf": (
                f"MONITOR {UPS}@127.0.0.1:{self.tcp} 1 mon secret primary\n"
                "DEADTIME 15\nPOLLFREQ 5\nPOLLFREQALERT 5\nHOSTSYNC 15\nFINALDELAY 0\n"
                f'SHUTDOWNCMD "/bin/sh -c \'echo $(date +%s.%N) SHUTDOWNCMD >> {self.events}\'"\n'
                f"NOTIFYCMD {STAGE}/notify\nPOWERDOWNFLAG /run/nut/killpower\n"
                + "".join(f"NOTIFYFLAG {kind} SYSLOG+EXEC\n" for kind in (
                    "ONLINE", "ONBATT", "LOWBATT", "FSD", "COMMOK", "COMMBAD", "SHUTDOWN",
                    "NOCOMM"))),
            f"enphase-{UPS}.conf": (
                f"UPS={UPS}\nSERIAL={self.sim.state.serial}\nTOKEN={self.sim.issue_token()}\n"
                f"ENVOY_HOST={self.sim.gateway_host}\nSTATE_DIR=/var/lib/nut\n"
                f"PORT_FILE={UPS}.dev\nAPI_TIMEOUT=2\n"),
        }
        for name, text in files.items():
            path = self.etc / name
            path.write_text(text)
            shutil.chown(path, "root", "nut")
            path.chmod(0o640)
        shutil.chown(self.etc, "root", "nut")
        self.etc.chmod(0o755)
        shutil.chown(self.lib, "root", "nut")  # Debian's /var/lib/nut: 0770 root:nut
        self.lib.chmod(0o770)
        self.port.write_text(self.port_text)
        shutil.chown(self.port, "nut", "nut")
        self.port.chmod(0o640)

    # -- use --------------------------------------------------------------------------------
    def start(self, *, check: bool = True) -> None:
        """The monitor first (the driver is ordered after it), then upsd and upsmon; with
        `check`, until upsc answers (False: the driver's start may fail, e.g. no port file)."""
        self.m.run("systemctl", "start", "nut-driver.target", f"nut-driver@{UPS}.service",
                   "nut-server.service", "nut-monitor.service", check=check)
        if check:
            sdboot.wait_for(lambda: self.status() not in (None, ""), 40, "upsc to answer")

    def status(self, var: str = "ups.status") -> str | None:
        """What upsc says of `var`; None when it fails (e.g. Driver not connected)."""
        assert UPSC
        out = subprocess.run([UPSC, self.target, var], capture_output=True, text=True,
                             timeout=10, check=False)
        return out.stdout.strip() if out.returncode == 0 else None

    def event_lines(self) -> list[str]:
        path = self.stage / "events"
        return path.read_text().splitlines() if path.exists() else []

    def events_since(self, since_wall: float) -> list[str]:
        """upsmon's notify types (and SHUTDOWNCMD) written after `since_wall` (time.time())."""
        found = []
        for line in self.event_lines():
            stamp, _, rest = line.partition(" ")
            if float(stamp) >= since_wall:
                found.append(rest.split()[0])
        return found

    def show(self, *props: str) -> dict[str, str]:
        return self.m.show(self.unit, *props)

    def journal(self) -> str:
        units = [self.unit, f"nut-driver@{UPS}.service", "nut-monitor.service"]
        return self.m.run("journalctl", "-q", "--no-pager", "-o", "short-monotonic",
                          *(f"-u{u}" for u in units), check=False).stdout[-6000:]

    @contextlib.contextmanager
    def sampling(self) -> Iterator[Sampler]:
        sampler = Sampler(self.target)
        thread = threading.Thread(target=sampler.run, daemon=True)
        thread.start()
        try:
            yield sampler
        finally:
            sampler.stop()
            thread.join(15)

    def teardown(self) -> None:
        self.m.run("systemctl", "stop", "nut-monitor.service", "nut-server.service",
                   f"nut-driver@{UPS}.service", self.unit, check=False, timeout=60)


@contextlib.contextmanager
def rig(tmp: Path, sim: Simulator, dropin: bool, start_post: bool = True, *,
        port_text: str = "ups.delay.shutdown: 30\n", start: bool = True
        ) -> Iterator[tuple[Rig | None, str]]:
    """Yield (a Rig, "") or (None, why it cannot run here); with `start`, started."""
    why = available()
    if why:
        yield None, why
        return
    tmp.mkdir(mode=0o755, exist_ok=True)
    created_state = not Path("/var/lib/enphase-monitor").exists()  # the unit's StateDirectory
    try:
        with sdboot.service_manager() as (manager, why):
            if manager is None:
                yield None, why
                return
            if not manager.private:
                yield None, ("this machine's own systemd runs here: the rig reconfigures NUT's"
                             " units (/etc/nut, /var/lib/nut), which it does only inside a"
                             " private systemd in a namespace (containers, as CI)")
                return
            r = Rig(manager, sim, tmp, dropin, start_post, port_text)
            try:
                r.setup()
                if start:
                    r.start()
                yield r, ""
            finally:
                r.teardown()
    finally:
        if created_state:
            shutil.rmtree("/var/lib/enphase-monitor", ignore_errors=True)


def wall() -> float:
    return time.time()


if __name__ == "__main__":  # pragma: no cover - a manual look: python -m tests.e2e.sysnut
    import tempfile

    with tempfile.TemporaryDirectory() as tmpdir, Simulator(workdir=Path(tmpdir) / "sim") as s, \
            rig(Path(tmpdir) / "rig", s, dropin="--dropin" in sys.argv) as (r, why):
        print(why or f"up: {r and r.status()}")
        if r:
            print(r.journal())
