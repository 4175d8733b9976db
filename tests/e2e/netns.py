"""Throwaway network namespaces for end-to-end tests that need NUT's own port (3493).

`NetNs` is a host whose upsd listens where a real one's would (127.0.0.1, ::1, a LAN address)
without clashing with anything else on the machine; `NetNs(peer=...)` is a second machine (a
NAS) on that LAN, joined by a veth pair. Nothing in them is reachable from outside. Needs root
(`ip netns`); `available()` says why not.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import uuid
from collections.abc import Sequence
from pathlib import Path

from tests.e2e.nut import stop_process

LAN = "198.51.100.1"  # TEST-NET-2 (RFC 5737): the host's LAN address
NAS = "198.51.100.2"  # the peer's
IP = shutil.which("ip") or "/usr/sbin/ip"


def available() -> str | None:
    """Why a namespace cannot be made here (None: it can)."""
    if os.geteuid() != 0:
        return "network namespaces need root"
    if not os.access(IP, os.X_OK):
        return "iproute2 (ip) is not installed"
    return None


class NetNs:
    """`ip netns add` with loopback up and LAN/24 on a veth (`close()` removes it all).

    Args:
        peer: the host namespace to join: this one gets the veth's other end with NAS/24.
    """

    def __init__(self, peer: NetNs | None = None) -> None:
        self.name = f"enphase-e2e-{uuid.uuid4().hex[:10]}"
        self.procs: list[subprocess.Popen[bytes]] = []
        subprocess.run([IP, "netns", "add", self.name], check=True)
        try:
            self.run([IP, "link", "set", "lo", "up"], check=True)
            if peer is None:
                self.run([IP, "link", "add", "lan0", "type", "veth", "peer", "name", "nas0"],
                         check=True)
                self.run([IP, "addr", "add", f"{LAN}/24", "dev", "lan0"], check=True)
                self.run([IP, "link", "set", "lan0", "up"], check=True)
            else:
                peer.run([IP, "link", "set", "nas0", "netns", self.name], check=True)
                self.run([IP, "addr", "add", f"{NAS}/24", "dev", "nas0"], check=True)
                self.run([IP, "link", "set", "nas0", "up"], check=True)
        except (subprocess.CalledProcessError, subprocess.TimeoutExpired):
            self.close()
            raise

    def argv(self, argv: Sequence[str]) -> list[str]:
        """`argv` run inside the namespace (`ip netns exec` execs it: same pid)."""
        return [IP, "netns", "exec", self.name, *argv]

    def run(self, argv: Sequence[str], **kwargs: object) -> subprocess.CompletedProcess[str]:
        """Run a command inside and wait for it."""
        return subprocess.run(self.argv(argv), capture_output=True, text=True,  # type: ignore[call-overload, no-any-return]
                              timeout=30, **kwargs)

    def start(self, argv: Sequence[str], log: Path, env: dict[str, str]) -> None:
        """Start a daemon inside, its output to `log`."""
        with open(log, "ab") as out:
            self.procs.append(subprocess.Popen(self.argv(argv), env=env, stdout=out,
                                               stderr=subprocess.STDOUT))

    def close(self) -> None:
        """Stop what was started (by pid), then delete the namespace."""
        for proc in reversed(self.procs):
            stop_process(proc)
        subprocess.run([IP, "netns", "del", self.name], check=False)
