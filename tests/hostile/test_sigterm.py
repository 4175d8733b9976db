"""SIGTERM to the real `enphase-monitor <ups>` command (as the unit's ExecStart= runs it) in the
middle of a request the hostile gateway drips or stalls.

The request's own deadline (API_TIMEOUT=120, the maximum) is far beyond the hard timeout used
here against hangs, so the daemon can only exit in time by cancelling the request. What is
asserted is the outcome and its order: the request was still in flight when the signal came,
the daemon exited 0, the port file is hidden, the request did not end by its deadline and was
not counted as a failed poll. How fast (the promised 1 s) is measured in benchmarks/attacks.py.
"""

from __future__ import annotations

import signal
import sys
from pathlib import Path

import pytest

from enphase_sim import Simulator
from tests.conftest import port_values, start_daemon, write_setup
from tests.hostile.server import HostileGateway, wait_for

HANG_S = 60.0  # against hangs only: the request's own deadline is 120 s, its retry 120 more


def command() -> list[str]:
    """The installed console script next to this Python (as the packages install it)."""
    script = Path(sys.executable).with_name("enphase-monitor")
    if not script.exists():
        pytest.skip("the enphase-monitor console script is not installed (pip install -e .)")
    return [str(script)]


@pytest.mark.parametrize("attack", ["drip_body", "drip_headers", "stall_handshake"])
def test_sigterm_mid_request_hides_the_port_file_and_exits_0(
    tmp_path: Path, sim: Simulator, hostile: HostileGateway, attack: str
) -> None:
    etc = tmp_path / "etc"
    write_setup(etc, sim, f"ENVOY_HOST={hostile.host}\nTOKEN={sim.issue_token()}\n"
                "API_TIMEOUT=120\nPOLLFREQ=10\nRELAY_CHECK=1\n", "ups.delay.shutdown: 30\n")
    port, hidden = etc / "test.dev", etc / "test.dev-nocomms"
    log_path = tmp_path / "daemon.log"
    proc = start_daemon(["test"], log_path, {"NUT_SYSCONFIG": str(etc)}, command(),
                        cwd=tmp_path)
    try:
        assert wait_for(lambda: port_values(port).get("ups.status") == "OL",
                        HANG_S), log_path.read_text()
        before = hostile.counts["connections" if attack == "stall_handshake" else "attacked"]
        hostile.attack = attack
        # the next relay check (every second) is caught by the attack: it is in flight now
        assert wait_for(lambda: hostile.counts["connections" if attack == "stall_handshake"
                                               else "attacked"] > before, HANG_S)
        assert proc.poll() is None and port.exists()  # the request is still waiting
        proc.send_signal(signal.SIGTERM)
        code = proc.wait(HANG_S)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    log = log_path.read_text()
    assert code == 0, log
    assert not port.exists() and "ups.delay.shutdown: 30" in hidden.read_text(), log
    assert "stopped: port file hidden as" in log, log
    assert "within 120 s" not in log and "poll failed" not in log, log  # cancelled, not failed
    assert "Traceback" not in log, log
