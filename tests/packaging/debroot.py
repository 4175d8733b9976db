"""Throwaway Debian roots for the packaging tests; the host only runs them.

A root per suite (Debian 12 bookworm, Debian 13 trixie) is built once with mmdebstrap into
`build/roots/` and reused: minbase plus systemd and openssl, with the .debs that the tests
install (python3, nut-server, nut-client, and the build dependencies of `debian/control`)
downloaded into its apt archive, so the tests themselves need no network. A test never changes
the cached root: it works in an overlay (`Overlay`) whose upper layer is thrown away. Commands
run in it with systemd-nspawn: one at a time (`Overlay.run`, like a chroot: no init, no
network), or in a booted system with systemd as PID 1 and its own loopback (`Booted`).

Needs root, mmdebstrap and systemd-nspawn (systemd-container), all installed by scripts/test;
building a root needs Debian's archive (about 20 s per suite), a cached one nothing.
`python3 -m tests.packaging.debroot [SUITE...]` builds (or finds) the roots and prints where.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import os
import re
import shutil
import stat
import subprocess
import sys
import time
from collections.abc import Iterable
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
ROOTS = ROOT / "build" / "roots"
SAFE_PATH = "/usr/sbin:/usr/bin:/sbin:/bin"
MIRROR = "http://deb.debian.org/debian"
# Debian release number by suite
SUITES = {"bookworm": "12", "trixie": "13"}
# installed in every root: what booting with systemd as PID 1 needs, and openssl (the
# simulator's certificate; the daemon Suggests it)
INCLUDE = ("systemd", "systemd-sysv", "openssl")
# downloaded only (with their Recommends, as apt installs them): what the user's
# `apt install ./*.deb nut-server nut-client` pulls
DOWNLOAD = ("python3", "nut-server", "nut-client")
HOSTS = r"127.0.0.1\tlocalhost\n127.0.1.1\tdebian\n::1\tlocalhost ip6-localhost ip6-loopback\n"
# bump to rebuild every cached root
LAYOUT = 3
APT = "apt-get -q -y -o DPkg::Lock::Timeout=300 -o APT::Sandbox::User=root"
# systemd-nspawn's environment: cgroup v2 in the container even on a host with the hybrid
# layout (v1 controllers mounted one by one sometimes failed there: "Failed to mount cgroup
# ... perf_event: Operation not permitted")
NSPAWN_ENV = {"PATH": SAFE_PATH, "SYSTEMD_NSPAWN_UNIFIED_HIERARCHY": "1"}


class RootError(RuntimeError):
    """A root could not be built or a command in it failed; the message carries the output."""


def _build_depends() -> str:
    """The Build-Depends field of debian/control (the root caches those packages)."""
    text = (ROOT / "debian/control").read_text()
    match = re.search(r"^Build-Depends:(.*?)^\S", text, re.M | re.S)
    return " ".join(match.group(1).split()) if match else ""


def _binary_depends() -> list[str]:
    """The Debian packages debian/control's binary packages name in Depends and Recommends
    (not substitution variables, not our own): the root caches them too."""
    text = (ROOT / "debian/control").read_text()
    ours = set(re.findall(r"^Package:\s*(\S+)", text, re.M))
    names: set[str] = set()
    for field in re.findall(r"^(?:Depends|Recommends):(.*?)(?=^\S)", text + "\nEnd:",
                            re.M | re.S):
        for dep in field.replace("\n", " ").split(","):
            name = dep.split("(")[0].split("|")[0].strip()
            if name and not name.startswith("$") and name not in ours:
                names.add(name)
    return sorted(names)


def _downloads() -> list[str]:
    return sorted({*DOWNLOAD, *_binary_depends()})


def cache_key(suite: str) -> str:
    """What a cached root depends on, hashed: a change builds a new one."""
    facts = {"suite": suite, "include": INCLUDE, "download": _downloads(), "layout": LAYOUT,
             "build-depends": _build_depends(), "mirror": MIRROR}
    return hashlib.sha256(json.dumps(facts, sort_keys=True).encode()).hexdigest()[:12]


def _mmdebstrap(suite: str, target: Path, log: Path) -> None:
    hooks = [
        'mkdir -p "$1/tmp/src/debian"',
        f"copy-in {ROOT / 'debian/control'} /tmp/src/debian",
        f'chroot "$1" {APT} -o APT::Install-Recommends=true install --download-only '
        + " ".join(_downloads()),
        f'chroot "$1" {APT} build-dep --download-only /tmp/src',
        'rm -rf "$1/tmp/src"',
        # as the Debian installer writes it (mmdebstrap writes none): `localhost` resolves
        f"printf '{HOSTS}' >\"$1/etc/hosts\"",
    ]
    cmd = ["mmdebstrap", "--variant=minbase", f"--include={','.join(INCLUDE)}",
           "--skip=cleanup/apt/lists", "--skip=cleanup/apt/cache",
           *(f"--customize-hook={hook}" for hook in hooks), suite, str(target), MIRROR]
    with log.open("w") as out:
        proc = subprocess.run(cmd, stdout=out, stderr=subprocess.STDOUT, timeout=1800,
                              env={"PATH": SAFE_PATH, "LC_ALL": "C.UTF-8"}, check=False)
    if proc.returncode != 0:
        tail = log.read_text(errors="replace")[-3000:]
        raise RootError(f"mmdebstrap {suite} exited {proc.returncode} (log {log}):\n{tail}")


def cached_root(suite: str) -> Path:
    """The cached root of a suite, built first if there is none for this cache key.

    Raises:
        RootError: mmdebstrap failed (no network to Debian's archive, say).
    """
    if suite not in SUITES:
        raise ValueError(f"unknown suite {suite!r}: one of {', '.join(SUITES)}")
    ROOTS.mkdir(parents=True, exist_ok=True)
    target = ROOTS / f"{suite}-{cache_key(suite)}"
    with (ROOTS / f".{suite}.lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # another test run building the same root waits
        if (target / ".complete").exists():
            return target
        for old in ROOTS.glob(f"{suite}-*"):
            shutil.rmtree(old, ignore_errors=True)
        partial = ROOTS / f"{suite}-{cache_key(suite)}.partial"
        started = time.monotonic()
        _mmdebstrap(suite, partial, ROOTS / f"{suite}.log")
        (partial / ".complete").write_text(f"{time.monotonic() - started:.1f}\n")
        partial.rename(target)
    return target


def build_seconds(root: Path) -> float:
    """How long mmdebstrap took for a cached root."""
    return float((root / ".complete").read_text())


def missing_tools() -> str:
    """Why roots cannot be used here, or "" when they can."""
    if os.geteuid() != 0:
        return ("throwaway roots need root (mmdebstrap, overlay mounts, systemd-nspawn); "
                "CI runs as root")
    for tool in ("mmdebstrap", "systemd-nspawn", "nsenter", "mount"):
        if not shutil.which(tool, path=SAFE_PATH):
            return (f"{tool} is not installed (scripts/test installs mmdebstrap and "
                    "systemd-container)")
    if "overlay" not in Path("/proc/filesystems").read_text():
        return "the kernel has no overlay file system"
    return ""


def _check(proc: subprocess.CompletedProcess[str], what: str) -> subprocess.CompletedProcess[str]:
    if proc.returncode != 0:
        raise RootError(f"{what} exited {proc.returncode}\n--- stdout\n{proc.stdout[-6000:]}"
                        f"\n--- stderr\n{proc.stderr[-6000:]}")
    return proc


class Overlay:
    """A writable throwaway view of a cached root: overlayfs, upper layer under `where`."""

    _count = 0

    def __init__(self, base: Path, where: Path) -> None:
        self.base = base
        self.where = where
        self.root = where / "root"
        Overlay._count += 1
        self.name = f"enphase-test-{os.getpid()}-{Overlay._count}"

    def __enter__(self) -> Overlay:
        for sub in ("upper", "work", "root"):
            (self.where / sub).mkdir(parents=True, exist_ok=True)
        options = (f"lowerdir={self.base},upperdir={self.where / 'upper'},"
                   f"workdir={self.where / 'work'}")
        _check(subprocess.run(["mount", "-t", "overlay", "overlay", "-o", options,
                               str(self.root)], capture_output=True, text=True, check=False),
               "mount overlay")
        return self

    def __exit__(self, *exc: object) -> None:
        subprocess.run(["umount", "-l", str(self.root)], capture_output=True, check=False)
        # the upper layer holds root-owned files from the container: remove them now
        shutil.rmtree(self.where, ignore_errors=True)
        _forget_machine(self.name)

    def nspawn(self, *options: str) -> list[str]:
        """The systemd-nspawn command line for this root (no host registration, no network)."""
        return ["systemd-nspawn", "-q", "-D", str(self.root), "-M", self.name,
                "--register=no", "--keep-unit", "--private-network", *options]

    def run(self, script: str, *, check: bool = True, timeout: float = 900,
            env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
        """Run a shell script in the root (nspawn without init: a chroot with /proc and /dev)."""
        setenv = [f"--setenv={k}={v}" for k, v in
                  {"PATH": SAFE_PATH, "LC_ALL": "C.UTF-8", "DEBIAN_FRONTEND": "noninteractive",
                   **(env or {})}.items()]
        proc = subprocess.run([*self.nspawn("--as-pid2", "--pipe", *setenv), "--",
                               "/bin/sh", "-ec", script], capture_output=True, text=True,
                              timeout=timeout, check=False, stdin=subprocess.DEVNULL,
                              env=NSPAWN_ENV)
        return _check(proc, f"in {self.base.name}: {script[:200]}") if check else proc

    def path(self, inside: str) -> Path:
        """A path inside the root, as seen from the host."""
        return self.root / inside.lstrip("/")

    def copy_in(self, source: Path, inside: str) -> Path:
        """Copy a file or tree from the host into the root; returns the host-side path."""
        dest = self.path(inside)
        dest.parent.mkdir(parents=True, exist_ok=True)
        if source.is_dir():
            shutil.copytree(source, dest, dirs_exist_ok=True,
                            ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
        else:
            shutil.copy2(source, dest)
        return dest


def _forget_machine(name: str) -> None:
    # nspawn leaves its propagation directory when the host's /run is not a tmpfs
    shutil.rmtree(Path("/run/systemd/nspawn/propagate") / name, ignore_errors=True)
    with contextlib.suppress(OSError):
        Path("/run/systemd/nspawn/propagate").rmdir()


def _container_init(parent: int) -> int | None:
    """The PID (host's numbering) of the container's PID 1 among parent's descendants."""
    todo = [parent]
    while todo:
        pid = todo.pop()
        with contextlib.suppress(OSError):
            status = Path(f"/proc/{pid}/status").read_text()
            match = re.search(r"^NSpid:\s+(.*)$", status, re.M)
            if pid != parent and match and match.group(1).split()[-1] == "1":
                return pid
            children = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
            todo.extend(int(child) for child in children)
    return None


class Booted:
    """The overlay's root booted with systemd as PID 1 (systemd-nspawn --boot), private network:
    only its own loopback. Start with `boot()`, stop with `halt()`; can be booted again."""

    def __init__(self, overlay: Overlay, log: Path) -> None:
        self.overlay = overlay
        self.log = log
        self.proc: subprocess.Popen[bytes] | None = None
        self.pid = 0

    def boot(self, timeout: float = 120) -> float:
        """Boot and wait until systemd says running (or degraded); returns the seconds taken."""
        started = time.monotonic()
        with self.log.open("ab") as out:
            self.proc = subprocess.Popen([*self.overlay.nspawn("--boot", "--console=passive")],
                                         stdout=out, stderr=subprocess.STDOUT,
                                         stdin=subprocess.DEVNULL, env=NSPAWN_ENV)
        deadline = started + timeout
        while time.monotonic() < deadline and self.proc.poll() is None:
            self.pid = _container_init(self.proc.pid) or 0
            if self.pid:
                state = self.run("systemctl is-system-running", check=False).stdout.strip()
                if state in ("running", "degraded"):
                    return time.monotonic() - started
            time.sleep(0.3)
        log = self.log.read_text(errors="replace")[-3000:]
        self.halt()
        raise RootError(f"the container did not boot within {timeout:.0f} s:\n{log}")

    def run(self, script: str, *, check: bool = True, timeout: float = 300,
            input: str | None = None) -> subprocess.CompletedProcess[str]:
        """Run a shell script inside the booted system, as root, with a plain environment."""
        cmd = ["nsenter", "-t", str(self.pid), "-a", "-r", "-w", "env", "-i",
               f"PATH={SAFE_PATH}", "LC_ALL=C.UTF-8", "DEBIAN_FRONTEND=noninteractive",
               "HOME=/root", "/bin/sh", "-ec", script]
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, input=input,
                              check=False)
        return _check(proc, f"in the booted {self.overlay.base.name}: {script[:200]}") \
            if check else proc

    def halt(self, timeout: float = 90) -> None:
        """Shut the system down (nspawn turns SIGTERM into an orderly poweroff)."""
        if self.proc is None:
            return
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=30)
        self.proc = None
        self.pid = 0
        _forget_machine(self.overlay.name)


# directories a manifest never looks at: the running system's, caches and logs
VOLATILE = ("proc", "sys", "dev", "run", "tmp", "var/tmp", "var/cache", "var/log")


def manifest(root: Path, skip: Iterable[str] = ()) -> dict[str, str]:
    """Every path under root (but VOLATILE and skip, both relative) with its type, mode,
    owner and content hash (or link target)."""
    skipped = {root / p for p in (*VOLATILE, *skip)}
    out: dict[str, str] = {}
    for directory, dirs, files in os.walk(root):
        here = Path(directory)
        dirs[:] = sorted(d for d in dirs if here / d not in skipped)
        for name in sorted([*dirs, *files]):
            path = here / name
            if path in skipped:
                continue
            st = path.lstat()
            what = f"{stat.filemode(st.st_mode)} {st.st_uid}:{st.st_gid}"
            if stat.S_ISLNK(st.st_mode):
                what += f" -> {os.readlink(path)}"
            elif stat.S_ISREG(st.st_mode):
                what += " " + hashlib.sha256(path.read_bytes()).hexdigest()[:16]
            out["/" + str(path.relative_to(root))] = what
    return out


def manifest_diff(before: dict[str, str], after: dict[str, str]) -> list[str]:
    """Lines `+ path`, `- path`, `~ path: old -> new` for what differs."""
    lines = [f"- {p}" for p in sorted(before.keys() - after.keys())]
    lines += [f"+ {p} {after[p]}" for p in sorted(after.keys() - before.keys())]
    lines += [f"~ {p}: {before[p]} -> {after[p]}" for p in sorted(before.keys() & after.keys())
              if before[p] != after[p]]
    return lines


def main(argv: list[str]) -> int:
    """Build or find the cached roots of the suites named (default: all)."""
    why = missing_tools()
    if why:
        print(f"debroot: {why}", file=sys.stderr)
        return 1
    for suite in argv or list(SUITES):
        started = time.monotonic()
        root = cached_root(suite)
        print(f"{suite}: {root} ({time.monotonic() - started:.1f} s now, "
              f"{build_seconds(root):.1f} s to build)")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
