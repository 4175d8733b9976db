"""Packaging tests: real tools (dpkg-buildpackage, lintian, rpmbuild, rpmlint, the SELinux tool
chain, systemd-analyze), no mocks. Each package is built once per session, from a copy of the
tree (`make deb|rpm|selinux BUILD_DIR=<tmp>`), so the work tree stays clean.

scripts/test installs every tool with apt; a test skips (saying which tool) only when one is
missing.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from . import debroot

ROOT = Path(__file__).resolve().parents[2]
# pyenv's or a venv's python first on PATH breaks pybuild and rpmbuild (docs/packaging.md)
SAFE_PATH = "/usr/sbin:/usr/bin:/sbin:/bin"


def system_env(**extra: str) -> dict[str, str]:
    """The environment for system tools: plain PATH, no Python overrides, C locale."""
    env = {k: v for k, v in os.environ.items()
           if k not in ("PYTHONPATH", "PYTHONHOME", "VIRTUAL_ENV", "PYTHONSTARTUP")}
    env.update(PATH=SAFE_PATH, LC_ALL="C.UTF-8", **extra)
    return env


def which(tool: str) -> str | None:
    return shutil.which(tool, path=SAFE_PATH)


def need(*tools: str) -> None:
    """Skip the test when a tool (command name or absolute path) is not installed."""
    for tool in tools:
        found = Path(tool).exists() if tool.startswith("/") else which(tool)
        if not found:
            pytest.skip(f"{tool} is not installed (scripts/test installs it with apt)")


def run(cmd: Sequence[str | os.PathLike[str]], *, check: bool = True, timeout: float = 600,
        env: dict[str, str] | None = None, **kwargs: object) -> subprocess.CompletedProcess[str]:
    """Run a command with the system environment; on failure show its output."""
    proc: subprocess.CompletedProcess[str] = subprocess.run(  # type: ignore[call-overload]
        [str(c) for c in cmd], capture_output=True, text=True, timeout=timeout,
        env=env or system_env(), check=False, **kwargs,
    )
    if check and proc.returncode != 0:
        pytest.fail(f"{' '.join(map(str, cmd))} exited {proc.returncode}\n"
                    f"--- stdout\n{proc.stdout[-6000:]}\n--- stderr\n{proc.stderr[-6000:]}")
    return proc


def project_version() -> str:
    match = re.search(r'^version\s*=\s*"([^"]+)"', (ROOT / "pyproject.toml").read_text(), re.M)
    assert match, "no version in pyproject.toml"
    return match.group(1)


def debian_version() -> str:
    """The Debian version (upstream-revision) from debian/changelog's first entry."""
    head = (ROOT / "debian/changelog").read_text().splitlines()[0]
    match = re.match(r"^\S+ \(([^)]+)\)", head)
    assert match, f"no version in debian/changelog: {head}"
    return match.group(1)


def vendor_lock() -> dict[str, str]:
    """packaging/wizard-vendor.txt as {project: version} (names as the lock spells them)."""
    text = (ROOT / "packaging/wizard-vendor.txt").read_text()
    return dict(re.findall(r"^([A-Za-z0-9_.-]+)==(\S+)", text, re.M))


def wheel_name(project: str) -> str:
    """The normalised project name used in wheel and dist-info names (PEP 427/503)."""
    return re.sub(r"[-_.]+", "_", project).lower()


@dataclass
class Build:
    """What one `make <target>` produced, and how long it took."""

    out: Path
    seconds: float
    log: str
    files: dict[str, Path] = field(default_factory=dict)


def make(target: str, build_dir: Path, *variables: str, timeout: float = 900) -> Build:
    need("make", "git")
    started = time.monotonic()
    proc = run(["make", "-C", ROOT, target, f"BUILD_DIR={build_dir}", *variables],
               timeout=timeout)
    return Build(build_dir, time.monotonic() - started, proc.stdout + proc.stderr)


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", "slow: builds or installs a package (seconds to a minute); runs in CI too")


@pytest.fixture(scope="session")
def vendor_wheels(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """`make vendor`: the wizard's locked wheels (the only step that needs PyPI), fetched once
    for both the .deb and the RPM build."""
    need("/usr/lib/python3/dist-packages/pip")
    where = tmp_path_factory.mktemp("vendor-wheels")
    proc = run(["make", "-C", ROOT, "vendor", f"VENDOR_WHEELS={where}"], check=False,
               timeout=300)
    if proc.returncode != 0:
        pytest.fail("make vendor (pip download of packaging/wizard-vendor.txt) failed; it needs "
                    f"PyPI:\n{proc.stdout[-2000:]}\n{proc.stderr[-3000:]}")
    return where


@pytest.fixture(scope="session")
def deb_build(tmp_path_factory: pytest.TempPathFactory, vendor_wheels: Path) -> Build:
    """`make deb`: the two .debs, the source package and .changes of a full build."""
    need("dpkg-buildpackage", "dh", "dh_python3",
         "/usr/share/dh-python/dhpython/build/plugin_pyproject.py",
         "/usr/lib/python3/dist-packages/setuptools", "/usr/lib/python3/dist-packages/wheel",
         "/usr/lib/python3/dist-packages/pip")
    build = make("deb", tmp_path_factory.mktemp("deb-build"), f"VENDOR_WHEELS={vendor_wheels}")
    version, upstream = debian_version(), project_version()
    deb_dir = build.out / "deb"
    build.files = {
        "deb": deb_dir / f"enphase-monitor_{version}_all.deb",
        "setup": deb_dir / f"enphase-monitor-setup_{version}_all.deb",
        "dsc": deb_dir / f"enphase-monitor_{version}.dsc",
        "orig": deb_dir / f"enphase-monitor_{upstream}.orig.tar.xz",
        "orig-vendor": deb_dir / f"enphase-monitor_{upstream}.orig-vendor.tar.xz",
        "changes": next(deb_dir.glob(f"enphase-monitor_{version}_*.changes")),
        "tree": deb_dir / f"enphase-monitor-{upstream}",
    }
    for path in build.files.values():
        assert path.exists(), f"{path} was not built:\n{build.log[-3000:]}"
    return build


@pytest.fixture(scope="session")
def rpm_build(tmp_path_factory: pytest.TempPathFactory, vendor_wheels: Path) -> Build:
    """`make rpm` (rpmbuild -ba --nodeps on Debian): the main, -selinux and -setup RPMs and
    the SRPM."""
    need("rpmbuild", "/usr/share/selinux/devel/Makefile", "bzip2",
         "/usr/lib/python3/dist-packages/pip")
    build = make("rpm", tmp_path_factory.mktemp("rpm-build"), f"VENDOR_WHEELS={vendor_wheels}")
    version = project_version()
    rpms = build.out / "rpm" / "RPMS" / "noarch"
    build.files = {
        "main": rpms / f"enphase-monitor-{version}-1.noarch.rpm",
        "selinux": rpms / f"enphase-monitor-selinux-{version}-1.noarch.rpm",
        "setup": rpms / f"enphase-monitor-setup-{version}-1.noarch.rpm",
        "srpm": build.out / "rpm" / "SRPMS" / f"enphase-monitor-{version}-1.src.rpm",
    }
    for path in build.files.values():
        assert path.exists(), f"{path} was not built:\n{build.log[-3000:]}"
    return build


@pytest.fixture(scope="session")
def selinux_build(tmp_path_factory: pytest.TempPathFactory) -> Build:
    """`make selinux`: selinux/enphase_monitor.pp compiled against the refpolicy headers."""
    need("/usr/share/selinux/devel/Makefile", "checkmodule", "semodule_package", "m4")
    build = make("selinux", tmp_path_factory.mktemp("selinux-build"))
    build.files = {"pp": build.out / "selinux" / "enphase_monitor.pp"}
    assert build.files["pp"].exists(), build.log[-3000:]
    return build


@pytest.fixture(scope="session")
def refpolicy(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """base.pp and nut.pp from Debian's selinux-policy-default (downloaded, not installed)."""
    need("apt-get", "dpkg-deb", "bunzip2")
    where = tmp_path_factory.mktemp("refpolicy")
    proc = run(["apt-get", "download", "selinux-policy-default"], cwd=where, check=False,
               timeout=300)
    debs = list(where.glob("selinux-policy-default_*.deb"))
    if proc.returncode != 0 or not debs:
        pytest.skip("cannot download selinux-policy-default with apt-get (no network or apt "
                    f"lists?): {proc.stderr.strip()[-300:]}")
    members = [f"./usr/share/selinux/default/{name}.pp.bz2" for name in ("base", "nut")]
    extract = 'deb=$1 dest=$2; shift 2; dpkg-deb --fsys-tarfile "$deb" | tar -x -C "$dest" "$@"'
    run(["sh", "-c", extract, "sh", debs[0], where, *members])
    out = {}
    for name in ("base", "nut"):
        packed = where / "usr/share/selinux/default" / f"{name}.pp.bz2"
        run(["bunzip2", "-k", packed])
        out[name] = packed.with_suffix("")
    return out


@pytest.fixture
def clean_tree_check() -> Iterator[None]:
    """Fail if a test leaves new build products in the work tree.

    Only new ones: `pip install -e .` (scripts/test) leaves its own egg-info there before.
    """
    products = ("debian/enphase-monitor", "debian/enphase-monitor-setup", "debian/.debhelper",
                "debian/files", "debian/tmp", ".pybuild", "dist", "enphase_monitor.egg-info",
                "selinux/tmp", "selinux/enphase_monitor.pp")
    before = {p for p in products if (ROOT / p).exists()}
    yield
    leftovers = [p for p in products if (ROOT / p).exists() and p not in before]
    assert not leftovers, f"build products in the work tree: {leftovers}"


def cached_root(suite: str) -> Path:
    """The cached throwaway root of a Debian suite (tests/packaging/debroot.py); skips when
    this machine cannot run one (not root, no mmdebstrap/systemd-nspawn)."""
    why = debroot.missing_tools()
    if why:
        pytest.skip(why)
    try:
        return debroot.cached_root(suite)
    except debroot.RootError as exc:
        pytest.fail(f"building the {suite} root failed (it needs Debian's archive once): {exc}")


def source_files(dsc: Path) -> list[Path]:
    """The files a .dsc names (its Files: field), beside it."""
    text = dsc.read_text()
    field = re.search(r"^Files:\n((?: .*\n)+)", text, re.M)
    assert field, f"no Files: in {dsc}"
    return [dsc.parent / line.split()[-1] for line in field.group(1).splitlines()]


@dataclass
class RootBuild:
    """The binary packages dpkg-buildpackage made from the .dsc alone in a clean root."""

    suite: str
    debs: dict[str, Path]  # package name -> .deb
    seconds: dict[str, float]  # step -> seconds
    log: str


# as the user's (and Debian's buildds') build: the source package only, build dependencies
# from the root's apt archive (--no-download: the container has no network anyway), then a
# binary build from the unpacked source
REBUILD = """
cd /build
apt-get build-dep -q -y --no-download ./enphase-monitor_{version}.dsc >/build/deps.log
echo "deps $(date +%s.%N)"
dpkg-source -x enphase-monitor_{version}.dsc src >/build/source.log
cd src
dpkg-buildpackage -us -uc -b >/build/build.log 2>&1 || {{ tail -50 /build/build.log; exit 1; }}
echo "built $(date +%s.%N)"
"""


@pytest.fixture(scope="session")
def rebuild_in_root(deb_build: Build, tmp_path_factory: pytest.TempPathFactory
                    ) -> Callable[[str], RootBuild]:
    """Rebuild the .debs from `make deb`'s source package (.dsc, .orig.tar.xz,
    .orig-vendor.tar.xz, .debian.tar.xz: nothing else) in a clean root of a suite, offline;
    once per suite and session."""
    done: dict[str, RootBuild] = {}
    version = debian_version()

    def rebuild(suite: str) -> RootBuild:
        if suite in done:
            return done[suite]
        base = cached_root(suite)
        out = tmp_path_factory.mktemp(f"rebuilt-{suite}")
        with debroot.Overlay(base, tmp_path_factory.mktemp(f"rebuild-root-{suite}")) as root:
            dsc = deb_build.files["dsc"]
            for path in [dsc, *source_files(dsc)]:
                root.copy_in(path, f"/build/{path.name}")
            started = time.time()
            proc = root.run(REBUILD.format(version=version), timeout=1800)
            stamps = dict(line.split() for line in proc.stdout.splitlines()
                          if line.startswith(("deps ", "built ")))
            debs = {}
            for deb in root.path("/build").glob("*.deb"):
                debs[deb.name.split("_")[0]] = Path(shutil.copy2(deb, out))
            log = root.path("/build/build.log").read_text(errors="replace")
        seconds = {"build-deps": float(stamps["deps"]) - started,
                   "dpkg-buildpackage": float(stamps["built"]) - float(stamps["deps"])}
        done[suite] = RootBuild(suite, debs, seconds, log)
        return done[suite]

    return rebuild
