"""A systemd service manager to start the packaged unit under, for tests run as root.

When systemd runs this machine (/run/systemd/system exists), that manager is used. Otherwise
(containers) a private one is booted: systemd 252 as PID 1 of a new PID + mount namespace,
with its own /run, so it sees the host's files (the installed package, /etc, /var/lib) but
starts only what a test asks for. Boot targets are masked inside it so nothing of the host's
start-up (tmpfiles cleaning /tmp, udev...) can run.
"""

from __future__ import annotations

import contextlib
import shutil
import subprocess
import time
from collections.abc import Callable, Iterator
from pathlib import Path

from .conftest import SAFE_PATH, run, system_env

# inside the namespace: shared propagation (systemd moves its credential mounts out of a child
# namespace), a private /proc and /run, masked boot targets, then systemd itself
BOOT = r"""
set -e
mount --make-rshared /
mount -t proc proc /proc
mount -t tmpfs -o mode=0755 tmpfs /run
mkdir -p /run/systemd/system /run/lock
for unit in sysinit.target basic.target systemd-tmpfiles-setup.service \
        systemd-tmpfiles-clean.service systemd-tmpfiles-clean.timer \
        systemd-tmpfiles-setup-dev.service systemd-udevd.service; do
    ln -s /dev/null /run/systemd/system/$unit
done
cat >/run/systemd/system/pkgtest.target <<EOF
[Unit]
Description=packaging test target
DefaultDependencies=no
Wants=systemd-journald.service
EOF
exec env -i container=pkgtest PATH=/usr/sbin:/usr/bin:/sbin:/bin \
    /lib/systemd/systemd --system --unit=pkgtest.target --log-target=journal
"""


class Manager:
    """Runs systemctl, journalctl and other commands against one service manager."""

    def __init__(self, pid: int | None) -> None:
        self.pid = pid  # the private systemd's PID, or None for the machine's own

    @property
    def private(self) -> bool:
        return self.pid is not None

    def cmd(self, *args: str | Path) -> list[str]:
        prefix = ["nsenter", "-t", str(self.pid), "-m", "-p", "--"] if self.pid else []
        return [*prefix, *map(str, args)]

    def run(self, *args: str | Path, check: bool = True, timeout: float = 120,
            input: str | None = None) -> subprocess.CompletedProcess[str]:
        return run(self.cmd(*args), check=check, timeout=timeout, input=input)

    def show(self, unit: str, *props: str) -> dict[str, str]:
        out = self.run("systemctl", "show", unit, *(f"--property={p}" for p in props)).stdout
        return dict(line.split("=", 1) for line in out.splitlines() if "=" in line)


def _wait_running(manager: Manager, proc: subprocess.Popen[str], deadline: float) -> str:
    state = ""
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            output = proc.stdout.read() if proc.stdout else ""
            return f"systemd exited with {proc.returncode}: {output[-500:]}"
        answer = manager.run("systemctl", "is-system-running", check=False, timeout=10)
        state = answer.stdout.strip()
        if state in ("running", "degraded"):
            return ""
        time.sleep(0.3)
    return f"systemd did not come up (state {state!r})"


@contextlib.contextmanager
def service_manager(boot_timeout: float = 30) -> Iterator[tuple[Manager | None, str]]:
    """Yield (manager, "") or (None, why it could not be had)."""
    if Path("/run/systemd/system").is_dir():
        yield Manager(None), ""
        return
    if not Path("/lib/systemd/systemd").exists():
        yield None, "no /lib/systemd/systemd"
        return
    missing = [tool for tool in ("unshare", "nsenter", "pgrep")
               if not shutil.which(tool, path=SAFE_PATH)]
    if missing:
        yield None, f"no systemd running here, and {' '.join(missing)} not installed"
        return
    proc = subprocess.Popen(
        ["unshare", "--pid", "--fork", "--mount", "--propagation", "private", "sh", "-c", BOOT],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=system_env())
    pid = None
    try:
        deadline = time.monotonic() + boot_timeout
        while pid is None and time.monotonic() < deadline and proc.poll() is None:
            children = run(["pgrep", "-P", str(proc.pid)], check=False).stdout.split()
            pid = int(children[0]) if children else None
            time.sleep(0.1)
        if pid is None:
            yield None, "could not start systemd in a private namespace"
            return
        manager = Manager(pid)
        why = _wait_running(manager, proc, deadline)
        yield (None if why else manager), why
    finally:
        if pid is not None:
            run(["kill", "-KILL", str(pid)], check=False)  # PID 1 of the namespace: all go
        with contextlib.suppress(subprocess.TimeoutExpired):
            proc.wait(timeout=30)


def wait_for(predicate: Callable[[], bool], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.2)
    raise AssertionError(f"timed out waiting for {what}")
