"""Helpers for the wizard's tests: importable `enphase_setup`, a fake root, a recording runner,
fixed network answers for the snapshots, and the simulator's cloud URLs as answers."""

from __future__ import annotations

import asyncio
import functools
import importlib.util
import os
import sys
import tempfile
import time
from collections.abc import Callable, Coroutine
from pathlib import Path
from typing import Any

import pytest

from enphase_sim import Simulator, make_jwt

ROOT = Path(__file__).resolve().parents[2]


def _make_importable() -> Path | None:
    """`enphase_setup` lives in wizard/: without an install, link it into a path entry."""
    if importlib.util.find_spec("enphase_setup") is not None:
        return None
    site = Path(tempfile.mkdtemp(prefix="enphase-setup-path-"))
    (site / "enphase_setup").symlink_to(ROOT / "wizard", target_is_directory=True)
    sys.path.insert(0, str(site))
    os.environ["PYTHONPATH"] = os.pathsep.join(
        p for p in (str(site), str(ROOT), os.environ.get("PYTHONPATH", "")) if p)
    return site


SITE = _make_importable()

from enphase_monitor.models import GatewayInfo  # noqa: E402
from enphase_monitor.tokeninfo import TokenInfo  # noqa: E402
from enphase_setup.discovery import Found, Probe  # noqa: E402
from enphase_setup.facts import detect_host  # noqa: E402
from enphase_setup.runner import RecordingRunner, Result  # noqa: E402
from enphase_setup.session import Services, Session  # noqa: E402
from enphase_setup.system import System  # noqa: E402
from enphase_setup.validate import CheckResult  # noqa: E402

DEBIAN_UPS_CONF = """\
# Network UPS Tools: example ups.conf
#
# --------------------------------------------------------------------------
# This file is read by the driver controller (upsdrvctl), the NUT network
# server (upsd) and all drivers.
maxretry = 3

[other]
\tdriver = usbhid-ups
\tport = auto
\tdesc = "Server room UPS"   # the big one
"""
NUT_UID, NUT_GID = 107, 113
PACKAGED_UNIT = """\
[Service]
User=nut
LoadCredentialEncrypted=enphase-password:enphase-monitor-%i.password
LoadCredentialEncrypted=enphase-token:enphase-monitor-%i.token
StateDirectory=enphase-monitor
"""
SERIAL = "122302045678"
FINGERPRINT = "3f" * 32


def make_root(base: Path, *, ups_conf: str | None = DEBIAN_UPS_CONF, mode: str = "none",
              fedora: bool = False, selinux: bool = False, unit: bool = True) -> Path:
    """A fake root that looks like a Debian (or Fedora) host with NUT installed."""
    root = base / "root"
    conf = root / ("etc/ups" if fedora else "etc/nut")
    conf.mkdir(parents=True)
    if ups_conf is not None:
        (conf / "ups.conf").write_text(ups_conf)
        (conf / "ups.conf").chmod(0o640)
    (conf / "nut.conf").write_text(f"# nut.conf\nMODE={mode}\n")
    group = "dialout" if fedora else "nut"
    (root / "etc/passwd").write_text(
        f"root:x:0:0:root:/root:/bin/bash\nnut:x:{NUT_UID}:{NUT_GID}::/var/lib/nut:/bin/false\n")
    (root / "etc/group").write_text(f"root:x:0:\n{group}:x:{NUT_GID}:\n")
    for directory in ("var/lib", "run/systemd/system", "usr/bin", "lib/nut",
                      "lib/systemd/system"):
        (root / directory).mkdir(parents=True, exist_ok=True)
    (root / "usr/bin/systemd-creds").write_text("")
    (root / "lib/nut/dummy-ups").write_text("")
    if unit:
        (root / "lib/systemd/system/enphase-monitor@.service").write_text(PACKAGED_UNIT)
        (root / "lib/systemd/system/nut-driver@.service").write_text("[Unit]\n")
    if selinux:
        (root / "sys/fs/selinux").mkdir(parents=True)
        (root / "sys/fs/selinux/enforce").write_text("1")
    return root


def recorder(**extra: Result | str) -> RecordingRunner:
    """A runner that records, with systemd 252 and a driver that answers upsc."""
    answers: dict[str, Result | str] = {
        "systemctl --version": "systemd 252 (252.39-1~deb12u1)\n+PAM +AUDIT\n",
        "upsc ups@localhost": "battery.charge: 80\ndevice.type: ups\nups.status: OL\n",
    }
    answers.update(extra)
    return RecordingRunner(answers)


@pytest.fixture
def root(tmp_path: Path) -> Path:
    """A Debian-like fake root."""
    return make_root(tmp_path)


def token_info(serial: str = SERIAL) -> TokenInfo:
    """A parseable owner token valid for a year."""
    now = int(time.time())
    jwt = make_jwt({"aud": serial, "enphaseUser": "owner", "exp": now + 365 * 86400,
                    "iat": now, "username": "owner@example.com"})
    return TokenInfo.parse(jwt)


def fixed_services(check: CheckResult | None = None) -> Services:
    """Network answers that never change (for snapshots)."""

    def discover() -> list[Found]:
        return [Found("envoy.local", None, None, "envoy.local"),
                Found("192.168.1.50", SERIAL, "8.2.4264", "mDNS")]

    def probe_host(host: str, fingerprint: str) -> Probe:
        if host in ("envoy.local", "192.168.1.50"):
            return Probe(host, GatewayInfo(SERIAL, "D8.2.4264", "800-00654-r08"), FINGERPRINT)
        return Probe(host, None, "", f"gateway {host} unreachable: connection refused")

    result = check or CheckResult(True, "gateway accepted the token (owner token, expires in"
                                  " 365.0 days)", token=token_info())

    def check_creds(answers: object, progress: object) -> CheckResult:
        steps = ["Logging in to Enlighten", f"Getting a token for gateway {SERIAL}",
                 "Asking the gateway at envoy.local with the token"]
        for step in steps if result.ok else steps[:1]:
            progress(step)  # type: ignore[operator]
        return result

    return Services(discover=discover, probe=probe_host, check=check_creds,
                    sleep=lambda _s: None)


def sim_services(sim: Simulator) -> Services:
    """Real probe and check against the simulator; discovery finds it."""
    return Services(discover=lambda: [Found(sim.gateway_host, None, None, "mDNS")],
                    sleep=lambda _s: None)


def sim_session(root: Path, sim: Simulator, runner: RecordingRunner | None = None,
                euid: int | None = None, ups: str | None = None,
                mode: str = "setup") -> Session:
    """A session on the fake root whose cloud URLs point at the simulator."""
    system = System(root, env={}, runner=runner or recorder(), euid=euid)
    session = Session.start(system, detect_host(system), ups, mode, services=sim_services(sim))
    point_at(session, sim)
    return session


def point_at(session: Session, sim: Simulator) -> None:
    """The simulator's cloud (an answers-file-only setting)."""
    ans = session.answers
    ans.enphase_login, ans.enphase_tokens = sim.login_url, sim.tokens_url
    ans.cloud_ca_file = str(sim.ca_file)


def sync(test: Callable[..., Coroutine[Any, Any, None]]) -> Callable[..., None]:
    """Run an async test with asyncio.run (no pytest-asyncio needed); fixtures still work."""

    @functools.wraps(test)
    def run(*args: Any, **kwargs: Any) -> None:
        asyncio.run(test(*args, **kwargs))

    return run


def screen_text(app: Any) -> str:
    """What the terminal shows now, as plain text (one line per row)."""
    return "\n".join(strip.text for strip in app.screen._compositor.render_strips())


def fixed_app(root: Path, check: CheckResult | None = None, **runner: Result | str) -> Any:
    """The wizard on a fake root with fixed network answers (snapshots, screen tests)."""
    from enphase_setup.app import WizardApp

    runner.setdefault("runuser -u nut --", "keyring.backends.fail.Keyring 0\n")
    system = System(root, env={}, runner=recorder(**runner))
    session = Session.start(system, detect_host(system), services=fixed_services(check))
    return WizardApp(session)


async def settle(pilot: Any) -> None:
    """Let workers finish and the screen catch up."""
    for _ in range(3):
        await pilot.app.workers.wait_for_complete()
        await pilot.pause()


async def to_nut(pilot: Any) -> None:
    """Gateway -> Credentials (logged in) -> NUT, with the fixed services."""
    from textual.widgets import Input

    await settle(pilot)
    await pilot.press("ctrl+n")
    await settle(pilot)
    pilot.app.screen.query_one("#username", Input).value = "owner@example.com"
    pilot.app.screen.query_one("#password", Input).value = "secret"
    await pilot.press("ctrl+n")
    await settle(pilot)
