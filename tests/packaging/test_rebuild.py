"""The source packages rebuild the binary packages from themselves alone, offline: the .dsc
(with the wizard's wheels as its orig-vendor component) with `dpkg-source -x` and
`dpkg-buildpackage` in a clean Debian 12 root and in a Debian 13 root, and the SRPM (the wheels
as Source1) with `rpmbuild --rebuild` in a network namespace without any network.
"""

from __future__ import annotations

import hashlib
import os
import re
import tarfile
from pathlib import Path

import pytest

from .conftest import (
    Build,
    RootBuild,
    debian_version,
    need,
    run,
    source_files,
    system_env,
    vendor_lock,
    wheel_name,
)

pytestmark = pytest.mark.slow
PACKAGES = ("enphase-monitor", "enphase-monitor-setup")


def deb_contents(deb: Path) -> dict[str, str]:
    """What a .deb installs and declares: control fields, each file's mode, owner and md5."""
    fields = run(["dpkg-deb", "-f", deb]).stdout
    listing = run(["dpkg-deb", "-c", deb]).stdout.splitlines()
    md5 = run(["sh", "-c", 'dpkg-deb --ctrl-tarfile "$1" | tar -xO ./md5sums', "sh", deb])
    out = {"control": fields, "md5sums": md5.stdout}
    for line in listing:  # mode owner size date time path [-> target]
        mode, owner, size, _date, _time, rest = line.split(None, 5)
        out[rest] = f"{mode} {owner} {size}"
    return out


def wheels_in(tarball: Path) -> dict[str, str]:
    """{member name: sha256} of a vendor tarball."""
    with tarfile.open(tarball) as tar:
        return {m.name: hashlib.sha256(tar.extractfile(m).read()).hexdigest()  # type: ignore[union-attr]
                for m in tar.getmembers() if m.isfile()}


def assert_locked_wheels(tarball: Path) -> None:
    """Exactly the lock file's wheels, under vendor/, with the lock's hashes."""
    lock = (Path(__file__).resolve().parents[2] / "packaging/wizard-vendor.txt").read_text()
    found = wheels_in(tarball)
    assert {re.sub(r"-py3-none-any\.whl$", "", n) for n in found} == {
        f"vendor/{wheel_name(p)}-{v}" for p, v in vendor_lock().items()}, sorted(found)
    for name, digest in found.items():
        assert f"sha256:{digest}" in lock, f"{name}: not the hash of the lock file"


def test_source_package_carries_the_wheels(deb_build: Build):
    """The .dsc names the orig, the orig-vendor component and the Debian tarball; the
    component holds exactly the locked wheels."""
    names = sorted(p.name for p in source_files(deb_build.files["dsc"]))
    upstream = debian_version().rsplit("-", 1)[0]
    assert names == sorted([f"enphase-monitor_{upstream}.orig.tar.xz",
                            f"enphase-monitor_{upstream}.orig-vendor.tar.xz",
                            f"enphase-monitor_{debian_version()}.debian.tar.xz"]), names
    assert_locked_wheels(deb_build.files["orig-vendor"])
    with tarfile.open(deb_build.files["orig"]) as tar:
        top = {m.name.split("/")[1] for m in tar.getmembers() if "/" in m.name}
    assert "debian" not in top and "vendor" not in top and "enphase_monitor" in top, top


def test_dsc_rebuilds_the_same_debs_on_bookworm(deb_build: Build, rebuild_in_root):
    """dpkg-source -x + dpkg-buildpackage in a clean Debian 12 root, offline (build
    dependencies from the root's apt archive, no network in the container): the same files,
    modes, checksums and control fields as `make deb` on this machine."""
    rebuilt: RootBuild = rebuild_in_root("bookworm")
    print(f"bookworm rebuild: {rebuilt.seconds}")
    assert sorted(rebuilt.debs) == sorted(PACKAGES), rebuilt.debs
    for package, key in zip(PACKAGES, ("deb", "setup"), strict=True):
        ours, theirs = deb_contents(deb_build.files[key]), deb_contents(rebuilt.debs[package])
        differ = sorted(k for k in ours.keys() | theirs.keys() if ours.get(k) != theirs.get(k))
        assert not differ, f"{package}: {differ[:20]}"
        same = deb_build.files[key].read_bytes() == rebuilt.debs[package].read_bytes()
        print(f"{package}: identical contents; byte-identical .deb: {same}")


def test_dsc_builds_on_trixie(deb_build: Build, rebuild_in_root):
    """Debian 13 (Python 3.13, debhelper 13.24): the source package builds offline there;
    the same Python files, the dependency on python3 (>= 3.11), the unit where trixie keeps
    units; what differs from the bookworm build is printed (docs/packaging.md lists it)."""
    rebuilt: RootBuild = rebuild_in_root("trixie")
    print(f"trixie build: {rebuilt.seconds}")
    assert "python3.13" in rebuilt.log, rebuilt.log[-2000:]
    for package, key in zip(PACKAGES, ("deb", "setup"), strict=True):
        fields = run(["dpkg-deb", "-f", rebuilt.debs[package]]).stdout
        assert f"Version: {debian_version()}" in fields
        assert "python3:any (>= 3.11~)" in fields, fields
        ours, theirs = deb_contents(deb_build.files[key]), deb_contents(rebuilt.debs[package])
        only_bookworm = sorted(ours.keys() - theirs.keys())
        only_trixie = sorted(theirs.keys() - ours.keys())
        print(f"{package}: only in the bookworm build {only_bookworm}, "
              f"only in the trixie build {only_trixie}")
        modules = [p for p in ours if "/dist-packages/" in p and p.endswith(".py")]
        assert modules and all(p in theirs for p in modules), package
    daemon = deb_contents(rebuilt.debs["enphase-monitor"])
    assert "./usr/lib/systemd/system/enphase-monitor@.service" in daemon, sorted(daemon)


def test_srpm_rebuilds_offline(rpm_build: Build, tmp_path: Path):
    """`rpmbuild --rebuild` of the SRPM alone (Source1: the wheels) in a network namespace
    with no network: the same three RPMs with the same files."""
    need("rpmbuild", "unshare", "rpm2cpio", "cpio")
    srpm = rpm_build.files["srpm"]
    members = run(["sh", "-c", 'rpm2cpio "$1" | cpio -t --quiet', "sh", srpm]).stdout.split()
    vendor = [m for m in members if "-vendor-" in m]
    assert len(vendor) == 1 and not [m for m in members if m.endswith(".whl")], members
    run(["sh", "-c", 'cd "$2" && rpm2cpio "$1" | cpio -id --quiet', "sh", srpm, tmp_path])
    assert_locked_wheels(tmp_path / vendor[0])
    top = tmp_path / "rebuild"
    # a new network namespace has only a loopback that is down: no network at all
    unshare = ["unshare", "--net"] if os.geteuid() == 0 else ["unshare", "--net", "-r"]
    proc = run([*unshare, "--", "rpmbuild", "--rebuild", "--nodeps",
                "--define", f"_topdir {top}", srpm], env=system_env(), timeout=900)
    assert "smoke test passed" in proc.stdout + proc.stderr
    for key in ("main", "selinux", "setup"):
        rebuilt = top / "RPMS/noarch" / rpm_build.files[key].name
        query = ["rpm", "-qp", "--qf", "[%{FILEMODES:perms} %{FILEDIGESTS} %{FILENAMES}\n]"]
        want, got = run([*query, rpm_build.files[key]]).stdout, run([*query, rebuilt]).stdout
        assert got == want, key
