"""A DNS server that never answers, for real: glibc's resolver in a private network namespace.

Root only (CI runs as root): `unshare --mount --net` gives the test its own loopback and its
own /etc/resolv.conf pointing at a UDP socket that swallows every query, so getaddrinfo hangs
for the resolver's 30 s timeout; the request must still end at its deadline.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import ROOT

SCRIPT = """
import socket, subprocess, sys, threading, time
subprocess.run(["ip", "link", "set", "lo", "up"], check=True)
open(sys.argv[1], "w").write("nameserver 127.0.0.1\\noptions timeout:30 attempts:1\\n")
subprocess.run(["mount", "--bind", sys.argv[1], "/etc/resolv.conf"], check=True)
sink = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
sink.bind(("127.0.0.1", 53))
from enphase_monitor.transport import HttpsTransport, TransportError
stop = threading.Event()
for name, timeout, cancel in (("a", 2, False), ("b", 60, True)):
    http = HttpsTransport(verify=False, trust_env=False, stop=stop)
    if cancel:
        threading.Timer(0.5, stop.set).start()
    try:
        http.request("GET", f"https://gateway-{name}.hang.test/x", timeout=timeout)
    except TransportError as exc:
        print(exc.kind, exc, flush=True)
sink.settimeout(1)
print("query seen" if sink.recv(512) else "no query", flush=True)
"""


def _can_unshare() -> str:
    if os.geteuid() != 0:
        return "needs root (a private mount and network namespace)"
    if not shutil.which("unshare") or not shutil.which("ip"):
        return "needs unshare (util-linux) and ip (iproute2)"
    probe = subprocess.run(["unshare", "--mount", "--net", "true"], capture_output=True)
    return "" if probe.returncode == 0 else "unshare --mount --net is not allowed here"


@pytest.mark.skipif(bool(_can_unshare()), reason=_can_unshare() or "-")
def test_a_hung_dns_server_costs_one_deadline_and_yields_to_the_stop(tmp_path: Path) -> None:
    out = subprocess.run(
        ["unshare", "--mount", "--net", sys.executable, "-c", SCRIPT,
         str(tmp_path / "resolv.conf")],
        cwd=ROOT, capture_output=True, text=True, timeout=50)  # the resolver alone needs 60 s
    assert out.returncode == 0, out.stderr
    lines = out.stdout.splitlines()
    assert lines == ["timeout no complete answer within 2 s",
                     "cancelled request cancelled: the daemon is stopping",
                     "query seen"], out.stdout + out.stderr
