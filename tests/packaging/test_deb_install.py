"""Install the built .debs (the daemon and the wizard) on this machine with apt, use them, purge
them, and check nothing is left.

Needs root (apt-get install); it skips otherwise, and also when enphase-monitor or
enphase-monitor-setup is already installed here (it would not put that installation back).
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import subprocess
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from . import sdboot
from .conftest import SAFE_PATH, Build, need, project_version, run, system_env, vendor_lock

pytestmark = pytest.mark.slow

PKG = "enphase-monitor"
SETUP = "enphase-monitor-setup"
VENDOR = Path("/usr/share/enphase-monitor/vendor")
APT = ["apt-get", "-o", "DPkg::Lock::Timeout=300", "-y", "--no-install-recommends", "-q"]
ENABLED = Path("/etc/systemd/system/nut-driver@pkgtest.service.wants/"
               "enphase-monitor@pkgtest.service")
USER_CONFIG = Path("/etc/nut/enphase-pkgtest.conf")


def installed(package: str) -> bool:
    proc = run(["dpkg-query", "-W", "-f=${db:Status-Status}", package], check=False)
    return proc.returncode == 0 and proc.stdout.strip() not in ("", "not-installed")


@dataclass
class Installed:
    simulated: str  # `apt-get -s install` output
    listing: list[str]  # `dpkg -L enphase-monitor enphase-monitor-setup`
    seconds: float


@pytest.fixture(scope="module")
def install(deb_build: Build) -> Iterator[Installed]:
    """apt-get install ./enphase-monitor_*.deb ./enphase-monitor-setup_*.deb; purged again at
    the end in any case."""
    if os.geteuid() != 0:
        pytest.skip("installing a .deb needs root (CI runs as root)")
    need("apt-get", "dpkg")
    for package in (PKG, SETUP):
        if installed(package):
            pytest.skip(f"{package} is already installed on this machine; not replacing it")
    debs = [deb_build.files["deb"], deb_build.files["setup"]]
    simulated = run([*APT, "-s", "install", *debs]).stdout
    started = time.monotonic()
    run([*APT, "install", *debs], env=system_env(DEBIAN_FRONTEND="noninteractive"))
    seconds = time.monotonic() - started
    listing = run(["dpkg", "-L", PKG, SETUP]).stdout.splitlines()
    try:
        yield Installed(simulated, listing, seconds)
    finally:
        if installed(PKG) or installed(SETUP):
            run([*APT, "purge", PKG, SETUP], check=False,
                env=system_env(DEBIAN_FRONTEND="noninteractive"))
        for leftover in (USER_CONFIG, ENABLED):
            with contextlib.suppress(FileNotFoundError):
                leftover.unlink()
        with contextlib.suppress(OSError):
            ENABLED.parent.rmdir()


def test_apt_pulls_only_debian_packages(install: Installed, deb_build: Build):
    print(f"apt-get install: {install.seconds:.1f} s")
    inst = [line for line in install.simulated.splitlines() if line.startswith("Inst ")]
    ours = [line for line in inst if line.startswith((f"Inst {PKG} ", f"Inst {SETUP} "))]
    assert len(ours) == 2, inst
    others = [line for line in inst if line not in ours]
    assert all("Debian" in line for line in others), others
    # and every dependency (but the daemon itself) exists in a Debian archive known to apt
    for deb in (deb_build.files["deb"], deb_build.files["setup"]):
        depends = run(["dpkg-deb", "-f", deb, "Depends"]).stdout
        for dep in depends.split(","):
            name = re.split(r"[\s:(]", dep.strip())[0]
            if name == PKG:
                continue
            madison = run(["apt-cache", "madison", name]).stdout
            assert re.search(r"debian", madison, re.I), f"{name} is not from a Debian archive"


def test_installed_command_runs_with_debian_python(install: Installed):
    script = Path("/usr/bin/enphase-monitor")
    assert script.read_text().splitlines()[0] == "#!/usr/bin/python3"
    assert "/usr/lib/python3/dist-packages/enphase_monitor/cli.py" in install.listing
    env = system_env(HOME="/nonexistent")
    version = run([script, "--version"], env=env).stdout.strip()
    assert version == f"enphase-monitor {project_version()}"
    helptext = run([script, "-h"], env=env).stdout
    assert "usage: enphase-monitor" in helptext and "-x" in helptext
    code = "import enphase_monitor; print(enphase_monitor.__file__)"
    where = run(["/usr/bin/python3", "-c", code], env=env, cwd="/").stdout.strip()
    assert where == "/usr/lib/python3/dist-packages/enphase_monitor/__init__.py"
    # byte-compiled by the postinst
    assert list(Path("/usr/lib/python3/dist-packages/enphase_monitor/__pycache__").glob("*.pyc"))


def test_installed_daemon_polls_the_simulator(install: Installed, tmp_path: Path):
    """`enphase-monitor --simulate`, then one `-s` poll writes the port file (Debian python)."""
    if not shutil.which("openssl", path=SAFE_PATH):
        pytest.skip("openssl (the simulator's certificate maker) is not installed")
    env = system_env(HOME=str(tmp_path))
    sim = Simulator(tmp_path / "sim", env)
    try:
        state = tmp_path / "state"
        state.mkdir(mode=0o700)
        port = state / "pkg.dev"
        port.write_text("ups.delay.shutdown: 30\n")
        config = state / "enphase-pkg.conf"
        config.write_text("UPS=pkg\n" + sim.config(state, "pkg.dev"))
        config.chmod(0o600)
        run(["/usr/bin/enphase-monitor", "-s", "-c", config], env=env, timeout=120)
        text = port.read_text()
        assert "ups.status: OL" in text and "ups.delay.shutdown: 30" in text, text
        assert (state / "enphase-pkg.token").exists()
    finally:
        sim.stop()


def test_installed_wizard_runs_with_debian_python(install: Installed):
    """/usr/bin/enphase-setup under Debian's /usr/bin/python3 imports the vendored Textual (not
    a system copy), which the postinst byte-compiled; the TUI module loads. Only the packaged
    launcher does: importing enphase_setup alone never looks in the vendor dir."""
    script = Path("/usr/bin/enphase-setup")
    assert script.read_text().splitlines()[0] == "#!/usr/bin/python3"
    assert "from enphase_setup.packaged import main" in script.read_text()
    env = system_env(HOME="/nonexistent")
    assert run([script, "--version"], env=env).stdout.strip() == \
        f"enphase-setup {project_version()}"
    code = ("from enphase_setup.packaged import use_vendored; use_vendored(); "
            "import enphase_setup.app, textual, rich, pygments; "
            "print(enphase_setup.__file__, textual.__file__, rich.__file__, pygments.__file__, "
            "textual.__version__)")
    where = run(["/usr/bin/python3", "-c", code], env=env, cwd="/").stdout.split()
    assert where[0] == "/usr/lib/python3/dist-packages/enphase_setup/__init__.py"
    assert all(path.startswith(f"{VENDOR}/") for path in where[1:4]), where
    assert where[4] == vendor_lock()["textual"], where
    assert list((VENDOR / "textual/__pycache__").glob("*.cpython-3*.pyc"))
    # only the wizard's launcher sees the vendored libraries, not an import of the package
    plain = run(["/usr/bin/python3", "-c", "import enphase_setup.cli, textual;"
                 " print(textual.__file__)"], env=env, cwd="/", check=False)
    assert plain.returncode != 0 or not plain.stdout.startswith(str(VENDOR)), plain.stdout


def fake_root(base: Path) -> Path:
    """A Debian-like host with NUT installed, as tests/wizard/conftest.py's make_root."""
    root = base / "root"
    (root / "etc/nut").mkdir(parents=True)
    (root / "etc/nut/nut.conf").write_text("# nut.conf\nMODE=none\n")
    (root / "etc/passwd").write_text("root:x:0:0:root:/root:/bin/bash\n"
                                     "nut:x:120:120::/var/lib/nut:/bin/false\n")
    (root / "etc/group").write_text("root:x:0:\nnut:x:120:\n")
    for directory in ("var/lib", "run/systemd/system", "usr/bin", "lib/nut",
                      "lib/systemd/system"):
        (root / directory).mkdir(parents=True, exist_ok=True)
    (root / "usr/bin/systemd-creds").write_text("")
    (root / "lib/nut/dummy-ups").write_text("")
    shutil.copy("/lib/systemd/system/enphase-monitor@.service", root / "lib/systemd/system")
    (root / "lib/systemd/system/nut-driver@.service").write_text("[Unit]\n")
    return root


def test_installed_wizard_dry_run(install: Installed, tmp_path: Path):
    """`enphase-setup --dry-run -n --answers FILE --root FAKEROOT` with the installed packages
    and Debian's python: it finds the (simulated) gateway, checks the credentials live, prints
    the plan and changes nothing."""
    if not shutil.which("openssl", path=SAFE_PATH):
        pytest.skip("openssl (the simulator's certificate maker) is not installed")
    env = system_env(HOME=str(tmp_path))
    sim = Simulator(tmp_path / "sim", env)
    try:
        root = fake_root(tmp_path)
        before = sorted((str(p), p.stat().st_mtime_ns) for p in root.rglob("*"))
        i = sim.info
        answers = tmp_path / "answers"
        answers.write_text(
            f"ENVOY_HOST='{i['gateway_host']}'\nUSERNAME='{i['username']}'\n"
            f"PASSWORD='{i['password']}'\nENPHASE_LOGIN='{i['login_url']}'\n"
            f"ENPHASE_TOKENS='{i['tokens_url']}'\nCLOUD_CA_FILE='{i['ca_file']}'\n"
            "SECRET_STORE='config'\n")
        answers.chmod(0o600)  # it holds a password: the wizard refuses a wider mode
        proc = run(["/usr/bin/enphase-setup", "--dry-run", "-n", "--answers", answers,
                    "--root", root], env=env, cwd="/", timeout=120)
        out = proc.stdout
        assert f"serial {i['serial']}" in out and "credentials ok" in out, out
        assert "Create /etc/nut/enphase-ups.conf" in out, out
        assert "dry run: nothing was changed" in out, out
        assert "PASSWORD=<hidden>" in out and i["password"] not in out
        assert sorted((str(p), p.stat().st_mtime_ns) for p in root.rglob("*")) == before
    finally:
        sim.stop()


class Simulator:
    """`/usr/bin/enphase-monitor --simulate` (the installed one) with its printed settings."""

    def __init__(self, workdir: Path, env: dict[str, str]) -> None:
        self.proc = subprocess.Popen(
            ["/usr/bin/enphase-monitor", "--simulate", "--workdir", str(workdir)],
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env)
        self.info: dict[str, str] = {}
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            if line.strip() == "ready":
                break
            key, _, value = line.strip().partition("=")
            self.info[key] = value
        assert "gateway_host" in self.info, self.info

    def config(self, state: Path, port: str, password: bool = True) -> str:
        i = self.info
        return (f"USERNAME={i['username']}\n"
                + (f"PASSWORD='{i['password']}'\n" if password else "")
                + f"SERIAL={i['serial']}\nSTATE_DIR={state}\nPORT_FILE={port}\n"
                f"ENVOY_HOST={i['gateway_host']}\nENPHASE_LOGIN='{i['login_url']}'\n"
                f"ENPHASE_TOKENS={i['tokens_url']}\nCLOUD_CA_FILE={i['ca_file']}\n"
                "API_TIMEOUT=2\nPOLLFREQ=10\nPOLLFREQALERT=5\n")

    def stop(self) -> None:
        self.proc.terminate()
        self.proc.wait(timeout=30)


def test_unit_runs_under_systemd(install: Installed):
    """The packaged unit under a real systemd (252 on bookworm), sandbox and all: Type=notify
    start after the first port-file write, the watchdog, reload, a clean stop; the unit starts
    without a credential file (PASSWORD in the config) and reads an encrypted one."""
    need("systemctl", "systemd-creds")
    if not shutil.which("openssl", path=SAFE_PATH):
        pytest.skip("openssl (the simulator's certificate maker) is not installed")
    has_nut = run(["getent", "passwd", "nut"], check=False).returncode == 0
    if not has_nut or not USER_CONFIG.parent.is_dir():
        pytest.skip("NUT (user nut, /etc/nut) is not installed")
    unit = "enphase-monitor@pkgtest.service"
    dropin = f"/run/systemd/system/{unit}.d"
    credential = "/run/credstore.encrypted/enphase-monitor-pkgtest.password"
    state = Path("/var/lib/enphase-monitor")
    port = state / "pkgtest.dev"
    token = state / "enphase-pkgtest.token"
    simdir = Path("/var/lib/enphase-monitor-pkgtest-sim")  # visible to the unit (PrivateTmp)
    keydir = Path(tempfile.mkdtemp(prefix="pkgtest-creds-", dir="/var/tmp"))  # not a tmpfs
    secret = Path("/var/lib/systemd/credential.secret")
    had_secret = secret.exists()
    shutil.rmtree(simdir, ignore_errors=True)
    simdir.mkdir(mode=0o755)
    sim = Simulator(simdir, system_env(HOME=str(simdir)))
    try:
        with sdboot.service_manager() as (manager, why):
            if manager is None:
                pytest.skip(f"no systemd service manager to test under: {why}")
            print(f"systemd: {'a private one in a namespace' if manager.private else 'PID 1'}")
            run(["install", "-d", "-o", "nut", "-g", "nut", "-m", "0750", state])
            port.write_text("ups.delay.shutdown: 30\n")
            shutil.chown(port, "nut", "nut")
            port.chmod(0o640)
            USER_CONFIG.write_text(sim.config(state, "pkgtest.dev"))
            shutil.chown(USER_CONFIG, "root", "nut")
            USER_CONFIG.chmod(0o640)
            manager.run("mkdir", "-p", dropin)
            manager.run("sh", "-c", f"cat >{dropin}/test.conf",
                        input="[Unit]\nDefaultDependencies=no\n[Service]\nWatchdogSec=6\n")
            manager.run("systemctl", "daemon-reload")
            try:
                # 1. no credential file at all, PASSWORD in the config
                manager.run("systemctl", "start", unit)  # returns after READY=1
                assert "ups.status: OL" in port.read_text()
                shown = manager.show(unit, "ActiveState", "StatusText")
                assert shown["ActiveState"] == "active", shown
                assert shown["StatusText"].startswith("OL"), shown
                time.sleep(8)  # longer than WatchdogSec: WATCHDOG=1 keeps coming
                manager.run("systemctl", "reload", unit)
                this_run = "_SYSTEMD_INVOCATION_ID=" + manager.show(unit, "InvocationID")[
                    "InvocationID"]
                sdboot.wait_for(lambda: "config reloaded" in manager.run(
                    "journalctl", "-q", "-o", "cat", "-p", "warning", this_run).stdout, 20,
                    "the reload to be logged as a warning (journald priorities)")
                shown = manager.show(unit, "ActiveState", "NRestarts")
                assert shown == {"ActiveState": "active", "NRestarts": "0"}, shown
                assert token.owner() == "nut"  # User=nut
                manager.run("systemctl", "stop", unit)
                shown = manager.show(unit, "Result", "ExecMainStatus")
                assert shown == {"Result": "success", "ExecMainStatus": "0"}, shown

                # 2. the password only in an encrypted credential in the credential store
                USER_CONFIG.write_text(sim.config(state, "pkgtest.dev", password=False))
                token.unlink()
                port.write_text("ups.delay.shutdown: 30\n")
                if manager.private:  # the host key on disk, seen inside the namespace only
                    manager.run("mount", "--bind", keydir, "/var/lib/systemd")
                manager.run("mkdir", "-p", "/run/credstore.encrypted")
                manager.run("systemd-creds", "encrypt", "--name=enphase-password", "-",
                            credential, input=sim.info["password"])
                manager.run("systemctl", "start", unit)
                assert "ups.status: OL" in port.read_text()
                assert token.exists()  # it logged in with the credential's password
                manager.run("systemctl", "stop", unit)
            finally:
                manager.run("systemctl", "stop", unit, check=False)
                manager.run("rm", "-rf", credential, dropin, check=False)
                manager.run("systemctl", "daemon-reload", check=False)
    finally:
        sim.stop()
        shutil.rmtree(simdir, ignore_errors=True)
        shutil.rmtree(keydir, ignore_errors=True)
        if not had_secret:
            secret.unlink(missing_ok=True)
        USER_CONFIG.unlink(missing_ok=True)


def test_purge_leaves_nothing_behind(install: Installed):
    """Purge removes every file of both packages (the vendor dir and its byte-code too), the
    state dir and enablement links, but not the admin's own config."""
    need("systemctl")
    run(["systemctl", "enable", "enphase-monitor@pkgtest.service"])
    assert ENABLED.is_symlink()
    state = Path("/var/lib/enphase-monitor")
    state.mkdir(exist_ok=True)
    (state / "enphase-pkgtest.token").write_text("x")
    user_config = USER_CONFIG if USER_CONFIG.parent.is_dir() else None
    if user_config:
        user_config.write_text("SERIAL=1\n")
    run([*APT, "purge", PKG, SETUP], env=system_env(DEBIAN_FRONTEND="noninteractive"))
    for package in (PKG, SETUP):
        assert not installed(package)
        # not even config-files
        assert run(["dpkg-query", "-W", package], check=False).returncode != 0
    assert not Path("/usr/share/enphase-monitor").exists()
    listing = [Path(p) for p in install.listing if p != "/."]
    left = [p for p in listing if p.exists() and not p.is_dir()]
    assert not left, f"files of the package left after purge: {left}"
    ours = [p for p in listing if p.is_dir() and ("enphase" in p.name)]
    assert not ours, f"directories of the package left after purge: {ours}"
    assert not state.exists()
    assert not ENABLED.is_symlink() and not ENABLED.parent.exists()
    if user_config:
        assert user_config.exists(), "purge removed the admin's config"
