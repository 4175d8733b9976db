"""The Debian package: it builds with dh + pybuild, holds what it should, and lintian is clean."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

import pytest

from .conftest import (
    ROOT,
    Build,
    debian_version,
    need,
    project_version,
    run,
    vendor_lock,
    wheel_name,
)

pytestmark = pytest.mark.slow


def deb_files(deb: Path) -> list[str]:
    listing = run(["dpkg-deb", "-c", deb]).stdout.splitlines()
    return [line.split()[-1].removeprefix(".") for line in listing]


def control(deb: Path) -> dict[str, str]:
    fields: dict[str, str] = {}
    for line in run(["dpkg-deb", "-f", deb]).stdout.splitlines():
        if line and not line[0].isspace() and ":" in line:
            key, value = line.split(":", 1)
            fields[key] = value.strip()
    return fields


def test_deb_builds_without_touching_the_work_tree(deb_build: Build, clean_tree_check: None):
    assert deb_build.seconds < 300
    assert "smoke test passed" in deb_build.log  # dh_auto_test ran packaging/smoke-test
    print(f"make deb: {deb_build.seconds:.1f} s")


def test_deb_contents(deb_build: Build):
    files = deb_files(deb_build.files["deb"])
    for wanted in ("/lib/systemd/system/enphase-monitor@.service",
                   "/usr/bin/enphase-monitor",
                   "/usr/lib/python3/dist-packages/enphase_monitor/cli.py",
                   "/usr/share/man/man8/enphase-monitor.8.gz",
                   "/usr/share/doc/enphase-monitor/examples/enphase-monitor.conf",
                   "/usr/share/doc/enphase-monitor/examples/nut-driver-restart.conf",
                   "/usr/share/doc/enphase-monitor/copyright"):
        assert wanted in files, f"{wanted} missing from the .deb"
    # nothing under /etc (it would become a conffile), no wizard (enphase-monitor-setup)
    assert not [f for f in files if f.startswith("/etc/")]
    assert not [f for f in files if "enphase_setup" in f or f.endswith("/enphase-setup")]
    # no gateway simulator (a development and test tool: docs/packaging.md)
    assert not [f for f in files if "enphase_sim" in f or f.endswith("/enphase-sim")]
    # the unit is the one in packaging/systemd, byte for byte
    unit = run(["sh", "-c", 'dpkg-deb --fsys-tarfile "$1" | tar -xO '
                "./lib/systemd/system/enphase-monitor@.service", "sh",
                deb_build.files["deb"]]).stdout
    assert unit == (ROOT / "packaging/systemd/enphase-monitor@.service").read_text()


VENDOR = "/usr/share/enphase-monitor/vendor"


def test_setup_deb_contents(deb_build: Build):
    """enphase-monitor-setup: the wizard, its man page and the locked wheels in the vendor dir,
    installed (not byte-compiled: the postinst does that), pure Python, nothing else."""
    files = deb_files(deb_build.files["setup"])
    for wanted in ("/usr/bin/enphase-setup",
                   "/usr/lib/python3/dist-packages/enphase_setup/cli.py",
                   "/usr/lib/python3/dist-packages/enphase_setup/screens/__init__.py",
                   "/usr/share/man/man8/enphase-setup.8.gz",
                   "/usr/share/doc/enphase-monitor-setup/copyright",
                   f"{VENDOR}/textual/__init__.py", f"{VENDOR}/rich/__init__.py",
                   f"{VENDOR}/typing_extensions.py"):
        assert wanted in files, f"{wanted} missing from the -setup .deb"
    # exactly the projects and versions of the lock file, each with its dist-info
    top = {f.removeprefix(VENDOR + "/").split("/")[0] for f in files
           if f.startswith(VENDOR + "/")} - {""}
    dist_infos = {name for name in top if name.endswith(".dist-info")}
    assert dist_infos == {f"{wheel_name(p)}-{v}.dist-info" for p, v in vendor_lock().items()}
    assert "bin" not in top  # pygmentize, markdown-it: not shipped
    assert not [f for f in files if f.endswith((".pyc", ".so")) or "__pycache__" in f]
    assert not [f for f in files if f.startswith("/etc/")]
    # the daemon stays in its own package
    assert not [f for f in files if "enphase_monitor" in f or f.endswith("/enphase-monitor")]
    site = "/usr/lib/python3/dist-packages/"
    public = {f.removeprefix(site).split("/")[0] for f in files if f.startswith(site)} - {""}
    assert public == {"enphase_setup"}, public
    scripts = {name: run(["sh", "-c", f'dpkg-deb --ctrl-tarfile "$1" | tar -xO ./{name}', "sh",
                          deb_build.files["setup"]]).stdout for name in ("postinst", "prerm")}
    assert f"py3compile -p enphase-monitor-setup {VENDOR}" in scripts["postinst"]
    assert "py3clean -p enphase-monitor-setup" in scripts["prerm"]
    size = deb_build.files["setup"].stat().st_size
    print(f"enphase-monitor-setup .deb: {size / 1e6:.2f} MB, Installed-Size "
          f"{control(deb_build.files['setup'])['Installed-Size']} KiB")
    assert size < 4e6


def test_setup_deb_control_fields(deb_build: Build):
    """Depends: Debian's python3, the daemon of the same build and python3-zeroconf (not
    vendored); none of Debian's (too old) python3-rich, python3-pygments... although the
    vendored dist-infos require them."""
    fields = control(deb_build.files["setup"])
    assert (fields["Package"], fields["Version"], fields["Architecture"]) == (
        "enphase-monitor-setup", debian_version(), "all")
    depends = {d.strip() for d in fields["Depends"].split(",")}
    assert depends == {"python3:any (>= 3.11~)", f"enphase-monitor (= {debian_version()})",
                       "python3-zeroconf"}


def test_setup_copyright_names_every_vendored_project():
    text = (ROOT / "debian/enphase-monitor-setup.copyright").read_text()
    files_lines = re.findall(r"^Files: (.*)$", text, re.M)
    for project in vendor_lock():
        assert any(f"{VENDOR[1:]}/{wheel_name(project)}-*.dist-info/*" in line
                   for line in files_lines), f"{project}: no stanza in the -setup copyright"
    for licence in ("GPL-2+", "Expat", "BSD-2-clause", "PSF-2.0"):
        assert re.search(rf"^License: {re.escape(licence)}\n ", text, re.M), licence


def test_source_copyright_names_every_vendored_wheel():
    """The wheels are in the source package (vendor/, its second upstream component): the
    source's debian/copyright must not leave them under `Files: *` (GPL-2+)."""
    text = (ROOT / "debian/copyright").read_text()
    stanzas = {m.group(1): m.group(2) for m in re.finditer(
        r"^Files: vendor/(\S+)-\*\.whl\n(?:.+\n)*?License: (\S+)", text, re.M)}
    setup = (ROOT / "debian/enphase-monitor-setup.copyright").read_text()
    for project in vendor_lock():
        name = wheel_name(project)
        assert name in stanzas, f"{project}: no stanza in debian/copyright"
        installed = re.search(rf"^Files: .*/{re.escape(name)}-\*\.dist-info/\*\n"
                              r"(?:.+\n)*?License: (\S+)", setup, re.M)
        assert installed and installed.group(1) == stanzas[name], project  # one licence
    for licence in set(stanzas.values()):
        assert re.search(rf"^License: {re.escape(licence)}\n ", text, re.M), licence


def test_vendor_lock_is_pinned_and_hashed():
    """Every requirement is `name==version` with a sha256 hash (pip --require-hashes)."""
    text = (ROOT / "packaging/wizard-vendor.txt").read_text()
    entries = re.split(r"\n(?=[A-Za-z])", "\n".join(
        line for line in text.splitlines() if line and not line.startswith("#")))
    assert len(entries) == len(vendor_lock()) >= 9
    for entry in entries:
        assert re.match(r"^[A-Za-z0-9_.-]+==[0-9][^ ]* \\\n\s+--hash=sha256:[0-9a-f]{64}$",
                        entry), entry
    assert "textual" in vendor_lock()


def test_deb_control_fields(deb_build: Build):
    """Depends is what dh_python3 derives from pyproject's dependencies, nothing else; the
    NUT is recommended, the optional keyring only suggested (as a Recommends, apt pulls
    gnome-keyring and GTK 3 with it: about 70 packages on a server, where keyring has no
    backend anyway)."""
    fields = control(deb_build.files["deb"])
    assert fields["Version"] == debian_version()
    assert fields["Architecture"] == "all"
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    # procps: /bin/kill of the unit's ExecReload= (not in a minbase Debian: the booted test
    # found `systemctl reload` failing with 203/EXEC without it)
    wanted = {"python3:any (>= 3.11~)", "procps"} | {
        "python3-" + re.split(r"[<>=!~;\[ ]", dep, maxsplit=1)[0].lower()
        for dep in project.get("dependencies", [])}
    depends = {re.sub(r" \(.*\)$", "", d.strip()) if d.strip().startswith("python3-")
               else d.strip() for d in fields["Depends"].split(",")}
    assert depends == wanted, depends
    assert fields["Recommends"].strip() == "nut-server"
    assert {r.strip() for r in fields["Suggests"].split(",")} == {"python3-keyring"}


def test_debian_changelog_matches_pyproject():
    """The upstream part of the Debian version is pyproject's (3.0 (quilt): <upstream>-<rev>)."""
    assert debian_version().rsplit("-", 1)[0] == project_version(), debian_version()
    assert (ROOT / "debian/source/format").read_text().strip() == "3.0 (quilt)"


def test_maintainer_scripts(deb_build: Build, tmp_path: Path):
    run(["dpkg-deb", "-e", deb_build.files["deb"], tmp_path / "ctl"])
    scripts = {name: (tmp_path / "ctl" / name).read_text()
               for name in ("postinst", "prerm", "postrm")}
    for name, text in scripts.items():
        run(["sh", "-n", tmp_path / "ctl" / name])
        assert text.startswith("#!/bin/sh\n") and "set -e" in text, name
    assert "py3compile -p enphase-monitor" in scripts["postinst"]
    assert "try-restart 'enphase-monitor@*.service'" in scripts["postinst"]
    assert "stop 'enphase-monitor@*.service'" in scripts["prerm"]
    assert "rm -rf /var/lib/enphase-monitor" in scripts["postrm"]
    # the admin's configs are not ours to delete
    assert not re.search(r"rm .*/etc/(nut|ups)", scripts["postrm"])


def test_lintian_clean(deb_build: Build):
    """`lintian -EviIL +pedantic` on the .changes (source and binary): no error or warning.
    Experimental (X:) and info tags are printed, not failed on: they also fire on files of the
    tree that are not packaging's (long lines in test data, say)."""
    need("lintian")
    proc = run(["lintian", "-EviIL", "+pedantic", "--display-experimental", "--show-overrides",
                deb_build.files["changes"]], check=False, timeout=600)
    tags = [line for line in proc.stdout.splitlines() if re.match(r"^[A-Z]: ", line)]
    bad = [line for line in tags if line[0] in "EW"]
    print("\n".join(tags))
    assert not bad, "lintian:\n" + "\n".join(bad)
    # both binary packages were checked
    assert "enphase-monitor-setup_" in deb_build.files["changes"].read_text()
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    # overridden tags are shown as O:, and each override has its reason in a comment
    assert any(line.startswith("O: ") for line in tags)


@pytest.mark.parametrize("path", ["debian/enphase-monitor.lintian-overrides",
                                  "debian/enphase-monitor-setup.lintian-overrides",
                                  "debian/source/lintian-overrides"])
def test_lintian_overrides_have_reasons(path: str):
    lines = (ROOT / path).read_text().splitlines()
    for i, line in enumerate(lines):
        if line.strip() and not line.startswith("#"):
            assert i > 0 and lines[i - 1].startswith("#"), f"{path}:{i + 1}: no reason comment"
