"""The command line as users run it: flags, exit codes, one-line errors, sd_notify, -v -s."""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

from enphase_monitor.portfile import PortContent
from enphase_sim import Simulator
from tests.conftest import FIXTURES, ROOT, write_setup


def run(*args: str, env: dict[str, str] | None = None, timeout: float = 60
        ) -> subprocess.CompletedProcess[str]:
    full_env = {k: v for k, v in os.environ.items()
                if k not in ("NOTIFY_SOCKET", "UPS", "CONFIG_FILE", "REQUESTS_CA_BUNDLE")}
    full_env.update(env or {})
    return subprocess.run([sys.executable, "-m", "enphase_monitor.cli", *args], cwd=ROOT,
                          env=full_env, capture_output=True, text=True, timeout=timeout)


def test_help_exits_zero_and_shows_the_seeds_flags() -> None:
    out = run("-h")
    assert out.returncode == 0
    for flag in ("-c <config>", "-d", "-s", "-v", "-x"):
        assert flag in out.stdout


def test_bad_usage_exits_two() -> None:
    assert run("--bogus", "ups").returncode == 2
    assert run().returncode == 2


def test_fatal_error_is_one_line_exit_one(tmp_path: Path, sim: Simulator) -> None:
    config = write_setup(tmp_path / "s", sim)
    (tmp_path / "s" / "test.dev").unlink()
    out = run("-c", str(config))
    assert out.returncode == 1
    lines = out.stderr.strip().splitlines()
    assert len(lines) == 1
    assert lines[0].startswith("enphase-monitor test: port file")
    assert "create it" in lines[0]


def test_ups_name_finds_the_config_in_nut_sysconfig(tmp_path: Path, sim: Simulator) -> None:
    write_setup(tmp_path / "s", sim)
    out = run("-s", "test", env={"NUT_SYSCONFIG": str(tmp_path / "s")})
    assert out.returncode == 0, out.stderr
    values = PortContent.parse((tmp_path / "s" / "test.dev").read_text()).values
    assert values["ups.status"] == "OL"


def test_world_readable_config_is_refused(tmp_path: Path, sim: Simulator) -> None:
    config = write_setup(tmp_path / "s", sim)
    config.chmod(0o644)
    out = run("-s", "-c", str(config))
    assert out.returncode == 1
    assert "world read permission" in out.stderr and "chmod" in out.stderr


def test_x_hides_the_port_file_without_network(tmp_path: Path, sim: Simulator) -> None:
    config = write_setup(tmp_path / "s", sim, extra="ENVOY_HOST=192.0.2.1\n")
    text = config.read_text().replace("PASSWORD='demo-password'\n", "")
    config.write_text(text)
    out = run("-x", "-c", str(config), timeout=10)
    assert out.returncode == 0, out.stderr
    assert (tmp_path / "s" / "test.dev-nocomms").exists()
    assert not (tmp_path / "s" / "test.dev").exists()
    assert sim.stats()["logins"] == 0


def _x_with(config: Path, old: str, new: str) -> subprocess.CompletedProcess[str]:
    """Run `-x` on `config` with `old` replaced by `new`; the port file starts visible."""
    text = config.read_text()
    assert old in text
    config.write_text(text.replace(old, new))
    return run("-x", "-c", str(config), timeout=10)


def test_x_hides_the_port_file_with_a_bad_value_elsewhere(tmp_path: Path,
                                                          sim: Simulator) -> None:
    """A config the daemon refuses (POLLFREQ not a number) must not leave a stale OL."""
    config = write_setup(tmp_path / "s", sim, port_text="ups.status: OL\n")
    out = _x_with(config, "POLLFREQ=5\n", "POLLFREQ=often\nUPS='bad name'\nTOKEN=x\n")
    assert out.returncode == 0, out.stderr
    assert (tmp_path / "s" / "test.dev-nocomms").read_text() == "ups.status: OL\n"
    assert not (tmp_path / "s" / "test.dev").exists()


def test_x_hides_the_port_file_without_username_and_world_readable(
        tmp_path: Path, sim: Simulator) -> None:
    config = write_setup(tmp_path / "s", sim, port_text="ups.status: OL\n")
    config.chmod(0o644)  # the daemon refuses it (it holds secrets); -x reads no secret
    text = config.read_text()
    user = next(line for line in text.splitlines() if line.startswith("USERNAME="))
    out = _x_with(config, user + "\n", "")
    assert out.returncode == 0, out.stderr
    assert (tmp_path / "s" / "test.dev-nocomms").exists()
    assert not (tmp_path / "s" / "test.dev").exists()


def test_x_refuses_a_config_others_can_change(tmp_path: Path, sim: Simulator) -> None:
    """PORT_FILE names what -x (maybe as root) renames: only a trusted config may say it."""
    config = write_setup(tmp_path / "s", sim, port_text="ups.status: OL\n")
    config.chmod(0o662)
    out = run("-x", "-c", str(config), timeout=10)
    assert out.returncode == 1
    assert out.stderr.count("\n") == 1 and "chmod go-w" in out.stderr
    assert (tmp_path / "s" / "test.dev").exists()


def test_x_with_an_unreadable_config_says_one_line(tmp_path: Path) -> None:
    for path in (tmp_path / "enphase-gone.conf", tmp_path):  # missing; a directory
        out = run("-x", "-c", str(path), timeout=10)
        assert out.returncode == 1
        lines = out.stderr.splitlines()
        assert len(lines) == 1, out.stderr
        assert lines[0].startswith("enphase-monitor") and str(path) in lines[0]
        assert "Traceback" not in out.stderr


def test_x_without_port_file_in_the_config_says_one_line(tmp_path: Path,
                                                         sim: Simulator) -> None:
    config = write_setup(tmp_path / "s", sim)
    text = config.read_text()
    port = next(line for line in text.splitlines() if line.startswith("PORT_FILE="))
    out = _x_with(config, port + "\n", "")
    assert out.returncode == 1
    assert out.stderr.count("\n") == 1 and "PORT_FILE" in out.stderr


def test_diagnostics_report(tmp_path: Path, sim: Simulator) -> None:
    config = write_setup(tmp_path / "s", sim)
    out = run("-v", "-s", "-c", str(config))
    assert out.returncode == 0, out.stdout + out.stderr
    for text in ("Token", "owner token, expires in", "D8.2.4264", "/ivp/ensemble/relay",
                 "HTTP 200", "ups.status: OL", "everything works", "PASSWORD"):
        assert text in out.stdout
    assert "demo-password" not in out.stdout + out.stderr


DIAGNOSED = [
    ({}, ["found                  1 IQ System Controller, 3 IQ Batteries",
          "topology               system-controller",
          "grid signal            relay: the IQ System Controller's relay",
          "grid state             on grid (mains_oper_state='closed'"]),
    ({"topology": "collar", "grid": "open"}, [
        "topology               collar (IQ Meter Collar with batteries)",
        "grid signal            collar: the IQ Meter Collar",
        "grid state             off grid (admin_state_str='ENCMN_MDE_OFF_GRID'",
        "ups.status: OB"]),
    ({"topology": "generator"}, ["off grid, on generator (the utility is out)"]),
]


def test_diagnostics_name_the_topology_and_the_signal(tmp_path: Path, sim: Simulator) -> None:
    config = write_setup(tmp_path / "s", sim)
    for change, texts in DIAGNOSED:
        sim.update(**change)
        out = run("-v", "-s", "-c", str(config))
        assert out.returncode == 0, out.stdout + out.stderr
        for text in texts:
            assert text in out.stdout, out.stdout


def test_diagnostics_report_refused_hardware_as_a_problem(tmp_path: Path,
                                                          sim: Simulator) -> None:
    sim.update(topology="no-backup")
    config = write_setup(tmp_path / "s", sim)
    out = run("-v", "-s", "-c", str(config))
    assert out.returncode == 1
    assert "grid signal            NONE: this hardware cannot act as a UPS" in out.stdout
    result = out.stdout.split("\nResult\n", 1)[1]
    assert "- this gateway cannot act as a UPS: found 1 IQ Battery;" in result
    assert "everything works" not in result and "poll failed" not in result
    override = run("-v", "-s", "-c", str(write_setup(tmp_path / "o", sim, "GRID_SIGNAL=relay\n")))
    assert override.returncode == 0, override.stdout
    assert "(GRID_SIGNAL=relay)" in override.stdout
    assert "detection alone would refuse: without an IQ System Controller" in override.stdout


def test_diagnostics_fail_and_say_what_to_do(tmp_path: Path, sim: Simulator) -> None:
    sim.update(has_relay=False)
    config = write_setup(tmp_path / "s", sim)
    out = run("-v", "-s", "-c", str(config))
    assert out.returncode == 1
    assert "/ivp/ensemble/relay failed" in out.stdout
    assert "System Controller" in out.stdout


def test_sd_notify_ready_after_first_write_then_watchdog_and_stop(
    tmp_path: Path, sim: Simulator
) -> None:
    config = write_setup(tmp_path / "s", sim)
    port = tmp_path / "s" / "test.dev"
    address = str(tmp_path / "notify.sock")
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    sock.bind(address)
    sock.settimeout(20)
    env = {k: v for k, v in os.environ.items() if k != "REQUESTS_CA_BUNDLE"}
    env.update(NOTIFY_SOCKET=address, WATCHDOG_USEC="1000000")
    proc = subprocess.Popen([sys.executable, "-m", "enphase_monitor.cli", "-c", str(config)],
                            cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True)
    try:
        assert sock.recv(4096).decode() == "STATUS=starting, no reading yet"
        first = sock.recv(4096).decode()
        while first.startswith("WATCHDOG=1\nEXTEND_TIMEOUT_USEC="):  # requests keep alive
            first = sock.recv(4096).decode()
        assert "READY=1" in first and "STATUS=OL" in first
        # READY only after the first port-file write
        assert "ups.status: OL" in port.read_text()
        seen = set()
        deadline = time.monotonic() + 20
        while "WATCHDOG=1" not in seen and time.monotonic() < deadline:
            seen.update(sock.recv(4096).decode().splitlines())
        assert "WATCHDOG=1" in seen
        proc.send_signal(signal.SIGTERM)
        while "STOPPING=1" not in seen:
            seen.update(sock.recv(4096).decode().splitlines())
        assert proc.wait(20) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.communicate()
        sock.close()


def test_diagnostics_show_raw_values_not_understood(tmp_path: Path) -> None:
    capture = tmp_path / "capture"
    shutil.copytree(FIXTURES / "8.3.1598_collar", capture)
    inventory = json.loads((capture / "ivp_ensemble_inventory").read_text())
    inventory[1]["devices"][0].update(admin_state_str="ENCMN_MDE_NEW\x1b[2J", mid_state="ajar")
    (capture / "ivp_ensemble_inventory").write_text(json.dumps(inventory))
    with Simulator(workdir=tmp_path / "sim", fixture_dir=capture) as sim:
        out = run("-v", "-s", "-c", str(write_setup(tmp_path / "s", sim)))
    assert out.returncode == 1
    assert ("raw values             admin_state_str='ENCMN_MDE_NEW\\x1b[2J', mid_state='ajar',"
            " communicating=True, grid_state='on_grid'") in out.stdout
    assert "\x1b" not in out.stdout + out.stderr
    assert "the grid state could not be read from the collar signal" in out.stdout
