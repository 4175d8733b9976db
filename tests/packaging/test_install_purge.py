"""Install, use, remove and purge the .debs in throwaway Debian 12 and 13 roots (piuparts'
checks, by hand): `apt-get install ./*.deb nut-server nut-client` from the root's apt archive,
the installed commands under Debian's python3, one poll of the (installed) simulator, then
remove and purge, and the root's file tree and enabled units are as before the install.

The host that runs the tests is never changed: every step runs in an overlay of the cached
root (tests/packaging/debroot.py) with systemd-nspawn, without network. Debian 12 installs the
.debs `make deb` built here (test_rebuild.py shows a clean bookworm root rebuilds them byte for
byte); Debian 13 installs those its own root built from the source package.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from . import debroot
from .conftest import (
    ROOT,
    Build,
    RootBuild,
    cached_root,
    debian_version,
    project_version,
    vendor_lock,
)

pytestmark = pytest.mark.slow
PACKAGES = ("enphase-monitor", "enphase-monitor-setup")
VENDOR = "/usr/share/enphase-monitor/vendor"
# no --no-download: with it, apt 2.6 refuses local .debs ("Pathname to install is not
# absolute"); the container has no network anyway
APT = "apt-get -q -y -o DPkg::Lock::Timeout=60"
# the enabled units (offline: systemctl reads the unit files and links, no manager needed)
ENABLED = "systemctl list-unit-files --no-legend --no-pager --state=enabled | sort"
PACKAGE_LIST = "dpkg-query -W -f '${db:Status-Status} ${Package}\\n' | sed -n 's/^installed //p'"
# After purging everything installed, these may differ from the fresh root, for reasons that
# are Debian's, not this project's: dpkg's and apt's own records, the system users and groups
# packages create and by policy never delete (nut, _apt...), and caches rebuilt by triggers.
ALLOWED_AFTER_PURGE = (
    r"/var/lib/(dpkg|apt)(/.*)?",
    r"/etc/(passwd|group|shadow|gshadow|subuid|subgid)-?",
    r"/etc/ld\.so\.cache",
    r"/var/lib/systemd/deb-systemd-(helper-enabled|user-helper-enabled)(/.*)?",
    r"/var/lib/ucf(/.*)?",
    r"/usr/lib/python3(\.\d+)?(/.*)?/__pycache__(/.*)?",
    r"/usr/lib/python3/dist-packages",
    r"/etc/python3(\.\d+)?(/.*)?",
    r"/var/lib/python(/.*)?",
)

# one poll of the installed daemon against the source tree's simulator (the packages do not
# ship it: docs/packaging.md), copied to SIM_DIR: a port file with OL
SIM_DIR = "/var/tmp/enphase-sim"
POLL = r"""
mkdir -p /tmp/sim /tmp/state && chmod 700 /tmp/state
PYTHONPATH=/var/tmp/enphase-sim PYTHONDONTWRITEBYTECODE=1 \
    python3 -m enphase_sim --workdir /tmp/sim >/tmp/sim.out 2>&1 &
sim=$!
for i in $(seq 100); do grep -q '^ready' /tmp/sim.out && break; sleep 0.2; done
. /dev/stdin <<EOF
$(grep = /tmp/sim.out | sed "s/^\([a-z_0-9]*\)=\(.*\)/\1='\2'/")
EOF
printf 'ups.delay.shutdown: 30\n' >/tmp/state/pkg.dev
cat >/tmp/state/enphase-pkg.conf <<EOF
UPS=pkg
USERNAME=$username
PASSWORD='$password'
SERIAL=$serial
STATE_DIR=/tmp/state
PORT_FILE=pkg.dev
ENVOY_HOST=$gateway_host
ENPHASE_LOGIN='$login_url'
ENPHASE_TOKENS=$tokens_url
CLOUD_CA_FILE=$ca_file
API_TIMEOUT=2
EOF
chmod 600 /tmp/state/enphase-pkg.conf
HOME=/nonexistent enphase-monitor -s -c /tmp/state/enphase-pkg.conf
kill $sim
cat /tmp/state/pkg.dev
"""


@pytest.fixture(params=sorted(debroot.SUITES))
def suite_debs(request: pytest.FixtureRequest, deb_build: Build,
               rebuild_in_root) -> tuple[str, list[Path]]:
    """(suite, the two .debs to install there)."""
    suite: str = request.param
    if suite == "bookworm":
        return suite, [deb_build.files["deb"], deb_build.files["setup"]]
    built: RootBuild = rebuild_in_root(suite)
    return suite, [built.debs[p] for p in PACKAGES]


def installed_files(root: debroot.Overlay) -> list[str]:
    listing = root.run(f"dpkg -L {' '.join(PACKAGES)}").stdout.splitlines()
    return [p for p in listing if p not in ("/.", "")]


def check_commands(root: debroot.Overlay) -> None:
    """The installed commands run under Debian's /usr/bin/python3; the wizard's packaged
    launcher imports the vendored Textual (byte-compiled by the postinst); plain python3, and
    an import of enphase_setup without that launcher, do not see it."""
    for script in ("/usr/bin/enphase-monitor", "/usr/bin/enphase-setup"):
        # trixie's pybuild writes "#! /usr/bin/python3"
        shebang = root.path(script).read_text().splitlines()[0]
        assert re.fullmatch(r"#! ?/usr/bin/python3", shebang), shebang
    out = root.run("cd / && HOME=/nonexistent enphase-monitor --version && "
                   "HOME=/nonexistent enphase-setup --version && enphase-monitor -h").stdout
    assert f"enphase-monitor {project_version()}\nenphase-setup {project_version()}\n" in out
    assert "usage: enphase-monitor" in out
    assert "from enphase_setup.packaged import main" in root.path("/usr/bin/enphase-setup") \
        .read_text()
    code = ("from enphase_setup.packaged import use_vendored; use_vendored(); "
            "import enphase_monitor, enphase_setup.app, textual, rich, pygments; "
            "print(enphase_monitor.__file__, enphase_setup.__file__, textual.__file__, "
            "rich.__file__, pygments.__file__, textual.__version__)")
    where = root.run(f"cd / && python3 -c '{code}'").stdout.split()
    assert where[0] == "/usr/lib/python3/dist-packages/enphase_monitor/__init__.py", where
    assert where[1] == "/usr/lib/python3/dist-packages/enphase_setup/__init__.py", where
    assert all(p.startswith(f"{VENDOR}/") for p in where[2:5]), where
    assert where[5] == vendor_lock()["textual"], where
    assert list(root.path(f"{VENDOR}/textual/__pycache__").glob("*.cpython-3*.pyc"))
    assert list(root.path("/usr/lib/python3/dist-packages/enphase_monitor/__pycache__").glob(
        "*.pyc"))
    plain = root.run("cd / && python3 -c 'import enphase_setup.cli, textual;"
                     " print(textual.__file__)'", check=False)
    assert plain.returncode != 0 or not plain.stdout.startswith(VENDOR), plain.stdout


def test_install_use_remove_purge(suite_debs: tuple[str, list[Path]], tmp_path: Path):
    suite, debs = suite_debs
    base = cached_root(suite)
    with debroot.Overlay(base, tmp_path / "overlay") as root:
        for deb in debs:  # not in /tmp: nspawn mounts a tmpfs there
            root.copy_in(deb, f"/var/tmp/debs/{deb.name}")
        root.copy_in(ROOT / "enphase_sim", f"{SIM_DIR}/enphase_sim")
        fresh, enabled_before = debroot.manifest(root.root), root.run(ENABLED).stdout
        packages_before = root.run(PACKAGE_LIST).stdout.split()
        args = " ".join(f"/var/tmp/debs/{deb.name}" for deb in debs) + " nut-server nut-client"

        # apt takes only Debian's packages besides ours
        inst = [line for line in root.run(f"{APT} -s install {args}").stdout.splitlines()
                if line.startswith("Inst ")]
        ours = [line for line in inst if line.split()[1] in PACKAGES]
        assert len(ours) == 2, inst
        assert all("Debian" in line for line in inst if line not in ours), inst

        root.run(f"{APT} install {args}")
        for package in PACKAGES:
            assert root.run(f"dpkg-query -W -f='${{Version}}' {package}").stdout == \
                debian_version()
        listing = installed_files(root)
        check_commands(root)
        polled = root.run(POLL, timeout=180).stdout
        assert "ups.status: OL" in polled and "ups.delay.shutdown: 30" in polled, polled

        # an instance enabled as the wizard does, and state as the daemon leaves it
        root.run("systemctl enable enphase-monitor@pkgtest.service && "
                 "mkdir -p /var/lib/enphase-monitor && "
                 "echo x >/var/lib/enphase-monitor/enphase-pkgtest.token && "
                 "echo SERIAL=1 >/etc/nut/enphase-pkgtest.conf")
        wants = "/etc/systemd/system/nut-driver@pkgtest.service.wants"
        assert root.path(f"{wants}/enphase-monitor@pkgtest.service").is_symlink()

        root.run(f"{APT} remove {' '.join(PACKAGES)}")
        left = [p for p in listing if root.path(p).exists() and not root.path(p).is_dir()]
        assert not left, f"files left after remove: {left}"

        # dpkg, not apt: what had nothing left to purge (no conffiles, no postrm: -setup) is
        # gone already, and apt would stop on it as unknown
        root.run(f"dpkg --purge {' '.join(PACKAGES)}")
        for package in PACKAGES:
            known = root.run(f"dpkg-query -W {package}", check=False)
            assert known.returncode != 0, f"{package} still known to dpkg: {known.stdout}"
        assert not root.path("/usr/share/enphase-monitor").exists()
        assert not root.path("/var/lib/enphase-monitor").exists()
        assert not root.path(wants).exists()
        assert root.path("/etc/nut/enphase-pkgtest.conf").exists(), "purge took the admin's file"
        root.run("rm /etc/nut/enphase-pkgtest.conf")

        # then, as piuparts does, every package the install added: the root is as it was
        added = sorted(set(root.run(PACKAGE_LIST).stdout.split()) - set(packages_before))
        root.run(f"{APT} purge {' '.join(added)}")
        assert root.run(ENABLED).stdout == enabled_before
        diff = debroot.manifest_diff(fresh, debroot.manifest(root.root))
        unexplained = [line for line in diff if not any(
            re.fullmatch(pattern, line.split()[1].rstrip(":")) for pattern in ALLOWED_AFTER_PURGE)]
        print(f"{suite}: differences after purge (allowed):\n  " + "\n  ".join(
            line for line in diff if line not in unexplained))
        assert not unexplained, "\n".join(unexplained[:60])
        assert not [line for line in diff if "enphase" in line], diff
