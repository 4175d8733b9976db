"""The packaged unit with NUT's own units under a real systemd, watched by a real upsmon.

What a user of the packages (and of the wizard, which adds a driver drop-in) gets when the
monitor restarts while the UPS is on battery, and when it stops or is killed (tests/e2e/sysnut.py
sets it all up). upsmon runs as primary with NUT's default DEADTIME (15 s): a UPS last seen on
battery that gives no data for longer is taken as low battery, and upsmon shuts the host down
(here its SHUTDOWNCMD only writes a line).
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from enphase_sim import Simulator
from tests.e2e import sysnut
from tests.packaging.sdboot import wait_for

ALARMS = {"LOWBATT", "FSD", "SHUTDOWN", "SHUTDOWNCMD"}


@pytest.fixture
def rig(request: pytest.FixtureRequest, tmp_path: Path, sim: Simulator) -> Iterator[sysnut.Rig]:
    """The units as the packages install them ("package", the default) or with the wizard's
    drop-in ("wizard")."""
    variant = getattr(request, "param", "package")
    with sysnut.rig(tmp_path / "rig", sim, dropin=variant == "wizard") as (r, why):
        if r is None:
            pytest.skip(why)
        wait_for(lambda: r.status() == "OL", 30, "upsc to say OL")
        yield r


def on_battery(rig: sysnut.Rig) -> None:
    """The grid goes down; NUT and upsmon see OB."""
    since = sysnut.wall()
    rig.sim.update(grid="open")
    wait_for(lambda: rig.status() == "OB", 20, "upsc to say OB")
    wait_for(lambda: "ONBATT" in rig.events_since(since), 20, "upsmon's ONBATT")


@pytest.mark.parametrize("rig", ["package", "wizard"], indirect=True)
def test_restart_while_on_battery_never_reaches_low_battery(rig: sysnut.Rig) -> None:
    on_battery(rig)
    since = sysnut.wall()
    with rig.sampling() as sampler:
        started = time.monotonic()
        rig.m.run("systemctl", "restart", rig.unit)
        wait_for(lambda: rig.status() == "OB", 30, "upsc to say OB again")
        time.sleep(20)  # beyond DEADTIME: upsmon would have acted by now
    gap = sampler.longest_gap(started)
    print(f"{'with' if rig.dropin else 'without'} the wizard's drop-in: no data from upsd for"
          f" {gap:.1f} s")
    events = rig.events_since(since)
    assert not ALARMS & set(events), f"upsmon: {events}\n{rig.journal()}"
    assert rig.status() == "OB"
    assert gap < 15, rig.journal()


def test_stop_and_kill_leave_no_readable_port_file(rig: sysnut.Rig) -> None:
    # SIGTERM (systemctl stop): the daemon hides the file itself and exits 0
    rig.m.run("systemctl", "stop", rig.unit)
    assert not rig.port.exists() and rig.hidden.exists()
    assert rig.show("Result", "ExecMainStatus") == {"Result": "success",
                                                     "ExecMainStatus": "0"}, rig.journal()
    wait_for(lambda: rig.status() is None, 10, "NUT to lose the driver")

    # SIGKILL: the daemon cannot act; ExecStopPost (enphase-monitor -x) hides the file
    rig.m.run("systemctl", "start", rig.unit)
    wait_for(lambda: rig.port.exists(), 20, "the port file back")
    wait_for(lambda: rig.status() == "OL", 30, "the driver restarted at once (ExecStartPost)")
    # the daemon's own process, as the OOM killer would (--kill-whom=all also signals the
    # unit's other processes and failed once under load: "Input/output error" from systemd 252)
    rig.m.run("systemctl", "kill", "--kill-whom=main", "--signal=KILL", rig.unit)
    wait_for(lambda: rig.hidden.exists() and not rig.port.exists(), 10,
             "ExecStopPost to hide the file")
    assert rig.show("Result")["Result"] == "signal"
    wait_for(lambda: rig.status() is None, 10, "NUT to lose the driver")

    # PORT_FILE edited without a reload, then SIGKILL: -x finds the new name in the config, but
    # hides the file the daemon served (recorded in its StateDirectory), here while the new
    # one does not exist yet (-x then fails on it, as the daemon's next start will)
    rig.m.run("systemctl", "restart", rig.unit)  # at once: `start` would wait for RestartSec
    wait_for(lambda: rig.port.exists(), 20, "the port file back")
    config = rig.etc / f"enphase-{sysnut.UPS}.conf"
    config.write_text(config.read_text().replace(f"PORT_FILE={sysnut.UPS}.dev\n",
                                                 "PORT_FILE=renamed.dev\n"))
    rig.m.run("systemctl", "kill", "--kill-whom=main", "--signal=KILL", rig.unit)
    wait_for(lambda: rig.hidden.exists() and not rig.port.exists(), 10,
             "ExecStopPost to hide the file the daemon served")
    assert "ups.status: OL" in rig.hidden.read_text()


def test_stop_while_on_battery_is_a_dead_ups_for_upsmon(rig: sysnut.Rig) -> None:
    """What a stop means for upsmon: a UPS last seen on battery that stays silent past
    DEADTIME is taken as low battery, and the host is shut down (the safe side)."""
    on_battery(rig)
    since = sysnut.wall()
    rig.m.run("systemctl", "stop", rig.unit)
    wait_for(lambda: "SHUTDOWNCMD" in rig.events_since(since), 40, "upsmon's shutdown")
    print(f"upsmon after the stop: {rig.events_since(since)}")


def test_a_boot_on_an_ol_file_left_by_a_power_loss_never_shows_it(tmp_path: Path,
                                                                   sim: Simulator) -> None:
    """A power loss left the file saying OL; at boot the gateway does not answer. The driver,
    ordered after the monitor's READY=1, finds the file hidden (the daemon hid it before its
    first poll): upsd never serves the old OL; OL with fresh values once the gateway answers."""
    stale = "ups.delay.shutdown: 30\nups.status: OL\nbattery.charge: 99\n"
    sim.inject("*", "reset")
    with sysnut.rig(tmp_path / "rig", sim, dropin=False, port_text=stale, start=False) as (
            rig, why):
        if rig is None:
            pytest.skip(why)
        with rig.sampling() as sampler:
            rig.start(check=False)  # the driver's start fails: no file to serve
            wait_for(lambda: rig.hidden.exists() and not rig.port.exists(), 20, "the file hidden")
            time.sleep(5)
            answered = time.monotonic()
            sim.clear_faults()
            wait_for(lambda: rig.status() == "OL", 60, "OL once the gateway answers")
        before = [s.status for s in sampler.samples if s.at < answered]
        assert before and set(before) == {None}, f"{before}\n{rig.journal()}"
        assert rig.status("battery.charge") == "80"  # fresh, not the 99 left behind
        log = rig.m.run("journalctl", "-q", "--no-pager", f"-u{rig.unit}").stdout
        assert "its OL was left by an earlier run" in log, log[-3000:]
