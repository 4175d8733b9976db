"""Protect this host, end to end: the wizard's changes applied to a copy of Debian's /etc/nut,
then NUT's own dummy-ups, upsd and upsmon started with exactly those files.

They run in a network namespace (tests/e2e/netns.py), so upsd listens on its real port 3493
at 127.0.0.1/::1 and on a LAN address, as on a host; the NAS is a second namespace on that LAN.
upsmon runs as one process (-p) with a private /run/nut (its PID file is compiled in there).
The only lines the test changes after the wizard are SHUTDOWNCMD and POWERDOWNFLAG in
upsmon.conf, so that nothing here can ever shut the machine down.
"""

from __future__ import annotations

import os
import re
import shutil
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from enphase_setup import upsdusers
from enphase_setup.answers import load_existing
from enphase_setup.facts import detect_host
from enphase_setup.nutconf import UpsConf
from enphase_setup.plan import Plan
from enphase_setup.planner import Context
from enphase_setup.protect import ProtectAnswers
from enphase_setup.protectplan import extend_setup
from enphase_setup.runner import RecordingRunner
from enphase_setup.system import System
from tests.e2e import netns
from tests.e2e.nut import AVAILABLE, DRIVER, UPSC, UPSD, find

UPSMON = find("/lib/nut/upsmon", "/usr/lib/nut/upsmon", "/usr/sbin/upsmon")
DEBIAN = Path(__file__).resolve().parents[1] / "fixtures" / "nut-debian"
WHY_NOT = (None if AVAILABLE and UPSMON else "NUT (nut-server, nut-client) not installed:"
           " ./scripts/test installs it") or netns.available()
pytestmark = pytest.mark.skipif(WHY_NOT is not None, reason=str(WHY_NOT))


def upsmon(*args: str) -> list[str]:
    """upsmon in one process (-p), with a /run/nut of its own: it keeps its PID file there
    whatever NUT_ALTPIDPATH says, and two upsmons (or the host's) must not meet."""
    assert UPSMON
    private = 'mkdir -p /run/nut && mount -t tmpfs -o mode=0770 tmpfs /run/nut && exec "$0" "$@"'
    return ["/bin/sh", "-c", private, UPSMON, "-p", "-F", *args]


def fake_root(base: Path, port_file: Path) -> Path:
    """Debian's /etc/nut (MODE=standalone) with a dummy-ups section for UPS `ups`."""
    root = base / "root"
    conf = root / "etc/nut"
    conf.mkdir(parents=True)
    for name in ("upsd.users", "upsmon.conf", "upsd.conf", "nut.conf"):
        shutil.copy(DEBIAN / name, conf / name)
    ups_conf = UpsConf((DEBIAN / "ups.conf").read_text()).with_section(
        "ups", {"driver": "dummy-ups", "port": str(port_file), "mode": "dummy-loop"})
    (conf / "ups.conf").write_text(ups_conf.text())
    (conf / "nut.conf").write_text((conf / "nut.conf").read_text().replace(
        "MODE=none", "MODE=standalone"))
    for name in os.listdir(conf):
        (conf / name).chmod(0o640)
    (root / "lib/nut").mkdir(parents=True)
    (root / "lib/nut/upsmon").write_text("")  # upsmon is installed
    return root


def protect(root: Path, answers: ProtectAnswers) -> Plan:
    """Build and apply the protect changes on the fake root (commands are only recorded)."""
    system = System(root, env={}, runner=RecordingRunner())
    facts = detect_host(system)
    ctx = Context(system, facts, load_existing(system, facts, "ups"))
    plan = Plan("protect")
    extend_setup(plan, answers, "ups", ctx)
    outcome = plan.apply(system)
    assert outcome.ok, outcome.error
    return plan


def disarm(path: Path, tmp: Path) -> None:
    """SHUTDOWNCMD and POWERDOWNFLAG point into the test's directory (nothing else changes)."""
    text = path.read_text()
    text = re.sub(r"(?m)^SHUTDOWNCMD .*$", f'SHUTDOWNCMD "/bin/touch {tmp}/shutdown-called"',
                  text)
    text = re.sub(r"(?m)^POWERDOWNFLAG .*$", f"POWERDOWNFLAG {tmp}/killpower", text)
    path.write_text(text)


@dataclass
class Nut:
    """NUT running on the protected files inside a namespace."""

    ns: netns.NetNs
    root: Path
    tmp: Path
    env: dict[str, str]

    def upsc(self, *args: str) -> str:
        assert UPSC
        return self.ns.run([UPSC, *args], env=self.env).stdout

    def log(self, name: str) -> str:
        path = self.tmp / f"{name}.log"
        return path.read_text(errors="replace") if path.exists() else ""

    def wait(self, check: object, what: str, timeout: float = 30) -> None:
        end = time.monotonic() + timeout
        while not check():  # type: ignore[operator]
            assert time.monotonic() < end, (f"{what}\n--- upsd\n{self.log('upsd')[-3000:]}"
                                            f"\n--- upsmon\n{self.log('upsmon')[-3000:]}")
            time.sleep(0.2)

    def talk(self, host: str, *lines: str, ns: netns.NetNs | None = None) -> list[str]:
        """Speak NUT's protocol to upsd (one answer line per command), from `ns` (the host)."""
        script = ("import socket,sys\ns=socket.create_connection((sys.argv[1],3493),5)\n"
                  "f=s.makefile('rw')\nfor c in sys.argv[2:]:\n"
                  " f.write(c+'\\n'); f.flush(); print(f.readline().strip())\n")
        out = (ns or self.ns).run(["/usr/bin/python3", "-c", script, host, *lines])
        assert out.returncode == 0, out.stderr
        return out.stdout.splitlines()


@pytest.fixture
def nut(tmp_path: Path, request: pytest.FixtureRequest) -> Iterator[Nut]:
    answers: ProtectAnswers = request.param
    port = tmp_path / "ups.dev"
    port.write_text("ups.status: OL\nbattery.charge: 90\nups.mfr: Enphase Energy\n")
    root = fake_root(tmp_path, port)
    protect(root, answers)
    conf = root / "etc/nut"
    disarm(conf / "upsmon.conf", tmp_path)
    state = tmp_path / "state"
    state.mkdir(mode=0o700)
    env = dict(os.environ, NUT_CONFPATH=str(conf), NUT_STATEPATH=str(state),
               NUT_ALTPIDPATH=str(state))
    ns = netns.NetNs()
    try:
        assert DRIVER and UPSD and UPSMON
        ns.start([DRIVER, "-a", "ups", "-u", "root", "-F"], tmp_path / "driver.log", env)
        ns.start([UPSD, "-u", "root", "-F"], tmp_path / "upsd.log", env)
        running = Nut(ns, root, tmp_path, env)
        running.wait(lambda: "ups.status: OL" in running.upsc("ups@localhost"), "upsd up")
        ns.start(upsmon(), tmp_path / "upsmon.log", env)
        yield running
    finally:
        ns.close()
    assert not (tmp_path / "shutdown-called").exists()


@pytest.mark.parametrize("nut", [ProtectAnswers()], indirect=True)
def test_upsmon_logs_in_as_the_primary_user(nut: Nut) -> None:
    users = upsdusers.users((nut.root / "etc/nut/upsd.users").read_text())
    primary = users["upsmon-ups"]
    nut.wait(lambda: re.search(r"User upsmon-ups@(127\.0\.0\.1|::1) logged into UPS \[ups\]",
                               nut.log("upsd")), "upsmon logged in as upsmon-ups")
    assert "UPS: ups@localhost (primary)" in nut.log("upsmon")
    # the same user and password as a client of its own: upsd grants it primary
    assert primary.password
    assert nut.talk("127.0.0.1", "USERNAME upsmon-ups", f"PASSWORD {primary.password}",
                    "LOGIN ups", "PRIMARY ups") == ["OK", "OK", "OK", "OK PRIMARY-GRANTED"]
    # and a wrong password is refused: the check above can fail
    assert nut.talk("127.0.0.1", "USERNAME upsmon-ups", "PASSWORD wrong",
                    "LOGIN ups")[-1].startswith("ERR ACCESS-DENIED")
    # upsd listens on loopback only: the LAN address is not served
    with pytest.raises(AssertionError):
        nut.talk(netns.LAN, "VER")


@pytest.mark.parametrize("nut", [ProtectAnswers(nas_listen=netns.LAN)], indirect=True)
def test_a_nas_logs_in_as_the_secondary_user(nut: Nut, tmp_path: Path) -> None:
    users = upsdusers.users((nut.root / "etc/nut/upsd.users").read_text())
    nas = users["nas-ups"]
    assert nas.password
    nut.wait(lambda: re.search(r"User upsmon-ups@(127\.0\.0\.1|::1) logged into UPS \[ups\]",
                               nut.log("upsd")), "upsmon logged in as upsmon-ups")
    # a NAS: another machine on the LAN, running upsmon as a secondary with its own files
    client = tmp_path / "client"
    client.mkdir(mode=0o700)
    (client / "upsmon.conf").write_text(
        f"MONITOR ups@{netns.LAN} 1 nas-ups {nas.password} secondary\nMINSUPPLIES 1\n"
        f'SHUTDOWNCMD "/bin/touch {tmp_path}/shutdown-called"\n'
        f"POWERDOWNFLAG {tmp_path}/killpower-client\n")
    (client / "upsmon.conf").chmod(0o600)
    env = dict(nut.env, NUT_CONFPATH=str(client), NUT_STATEPATH=str(client),
               NUT_ALTPIDPATH=str(client))
    nas_host = netns.NetNs(peer=nut.ns)
    try:
        nas_host.start(upsmon(), tmp_path / "client.log", env)
        nut.wait(lambda: f"User nas-ups@{netns.NAS} logged into UPS [ups]" in nut.log("upsd"),
                 "the NAS logged in as nas-ups")
        assert netns.NAS in nut.upsc("-c", "ups@localhost")  # upsd lists it as a client
        assert nut.talk(netns.LAN, "USERNAME nas-ups", f"PASSWORD {nas.password}", "LOGIN ups",
                        "PRIMARY ups", ns=nas_host)[-2:] == ["OK", "ERR ACCESS-DENIED"]
        assert nut.talk(netns.LAN, "USERNAME nas-ups", "PASSWORD wrong", "LOGIN ups",
                        ns=nas_host)[-1].startswith("ERR ACCESS-DENIED")
    finally:
        nas_host.close()
