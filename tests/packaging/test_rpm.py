"""The RPM spec: `rpmbuild -bb --nodeps` builds both RPMs on Debian (macro fallbacks), the
Fedora branch of the spec parses, and rpmlint finds no error."""

from __future__ import annotations

import re

import pytest

from .conftest import ROOT, Build, need, project_version, run, vendor_lock, wheel_name

pytestmark = pytest.mark.slow
SPEC = ROOT / "rpm/enphase-monitor.spec"


def rpm_query(rpm: object, *args: str) -> str:
    return run(["rpm", "-qp", *args, str(rpm)]).stdout


def test_rpms_build(rpm_build: Build, clean_tree_check: None):
    assert "smoke test passed" in rpm_build.log  # %check ran packaging/smoke-test
    print(f"make rpm: {rpm_build.seconds:.1f} s")


def test_main_rpm_contents(rpm_build: Build):
    main = rpm_build.files["main"]
    files = rpm_query(main, "-l").splitlines()
    for wanted in ("/usr/bin/enphase-monitor", "/usr/lib/systemd/system/enphase-monitor@.service",
                   "/usr/share/man/man8/enphase-monitor.8",
                   "/usr/share/doc/enphase-monitor/examples/enphase-monitor.conf"):
        assert wanted in files, f"{wanted} missing"
    assert any(f.endswith("/enphase_monitor/cli.py") for f in files)
    assert not [f for f in files if "enphase_setup" in f or f.endswith("/enphase-setup")]
    assert not [f for f in files if "enphase_sim" in f or f.endswith("/enphase-sim")]
    assert rpm_query(main, "--qf", "%{VERSION} %{ARCH} %{LICENSE}") == \
        f"{project_version()} noarch GPL-2.0-or-later"
    recommends = rpm_query(main, "--recommends")
    assert "nut" in recommends.split() and "keyring" not in recommends
    # the daemon works without it (PASSWORD_KEYRING only): suggested, as in debian/control,
    # since dnf installs Recommends by default
    assert "python3dist(keyring)" in rpm_query(main, "--suggests").split()
    assert "(enphase-monitor-selinux if selinux-policy-targeted)" in recommends
    scripts = rpm_query(main, "--scripts")
    assert "systemctl stop 'enphase-monitor@*.service'" in scripts
    assert "systemctl try-restart 'enphase-monitor@*.service'" in scripts


def test_selinux_rpm_contents(rpm_build: Build):
    sub = rpm_build.files["selinux"]
    files = rpm_query(sub, "-l").splitlines()
    assert files == sorted([
        "/usr/share/selinux/devel/include/distributed/enphase_monitor.if",
        "/usr/share/selinux/packages/targeted/enphase_monitor.pp.bz2",
        "/var/lib/selinux/targeted/active/modules/200/enphase_monitor",
    ])
    assert "selinux-policy-targeted" in rpm_query(sub, "--requires")


def test_setup_rpm_contents(rpm_build: Build):
    """-setup: the wizard, its man page, the locked wheels in the vendor dir, a Provides:
    bundled(python3dist(...)) for each, and the exact main package."""
    sub = rpm_build.files["setup"]
    files = rpm_query(sub, "-l").splitlines()
    vendor = "/usr/share/enphase-monitor/vendor"
    for wanted in ("/usr/bin/enphase-setup", "/usr/share/man/man8/enphase-setup.8",
                   f"{vendor}/textual/__init__.py", f"{vendor}/typing_extensions.py"):
        assert wanted in files, f"{wanted} missing"
    assert any(f.endswith("/enphase_setup/cli.py") for f in files)
    for project, version in vendor_lock().items():
        assert f"{vendor}/{wheel_name(project)}-{version}.dist-info/METADATA" in files, project
    assert not [f for f in files if f.startswith(f"{vendor}/bin") or f.endswith(".so")]
    assert not [f for f in files if "enphase_monitor/" in f or f == "/usr/bin/enphase-monitor"]
    provides = set(rpm_query(sub, "--provides").splitlines())
    for project, version in vendor_lock().items():
        name = re_normalise(project)
        assert f"bundled(python3dist({name})) = {version}" in provides, (project, provides)
    requires = rpm_query(sub, "--requires").split("\n")
    assert f"enphase-monitor = {project_version()}-1" in requires
    assert "wizard imports textual" in rpm_build.log  # %check under the buildroot's vendor dir


def re_normalise(project: str) -> str:
    """python3dist() names: lower case, runs of -_. as one - (PEP 503)."""
    return re.sub(r"[-_.]+", "-", project).lower()


def test_spec_bundles_the_lock_file():
    """The spec's version macros are the lock file's wheels, nothing else; Source1 is the
    vendor tarball (its contents: test_rebuild.py)."""
    spec = SPEC.read_text()
    macros = dict(re.findall(r"^%global (\w+)_version (\S+)$", spec, re.M))
    assert macros == {wheel_name(p): v for p, v in vendor_lock().items()}
    sources = re.findall(r"^Source(\d+):\s*(\S+)$", spec, re.M)
    assert sources == [("0", "%{name}-%{version}.tar.gz"),
                       ("1", "%{name}-vendor-%{version}.tar.xz")]


def test_rpmlint_no_errors(rpm_build: Build):
    need("rpmlint")
    rpms = [rpm_build.files[k] for k in ("main", "selinux", "setup")]
    proc = run(["rpmlint", "-c", ROOT / "rpm/rpmlint-debian.toml", *rpms, SPEC], check=False)
    print(proc.stdout)
    summary = re.search(r"(\d+) errors?, (\d+) warnings?", proc.stdout)
    assert summary, proc.stdout + proc.stderr
    assert int(summary.group(1)) == 0, proc.stdout
    assert not [line for line in proc.stdout.splitlines() if ": E: " in line]
    # what is left are warnings that hold on Fedora too (no URL yet, no docs in -selinux)
    assert "3 packages and 1 specfiles checked" in proc.stdout  # main, -selinux, -setup
    warned = set(re.findall(r": W: (\S+)", proc.stdout))
    assert warned <= {"no-url-tag", "invalid-url", "no-documentation"}, warned


def test_spec_version_matches_pyproject():
    version = re.search(r"^Version:\s*(\S+)", SPEC.read_text(), re.M)
    assert version and version.group(1) == project_version()


def test_spec_fedora_branch_parses():
    """With the Fedora macros defined (stubs), the spec takes the pyproject/systemd/selinux
    macro branch and none of the Debian fallbacks."""
    need("rpmspec")
    stubs = {
        "pyproject_wheel": "echo PYPROJECT-WHEEL",
        "pyproject_install": "echo PYPROJECT-INSTALL",
        "pyproject_save_files()": "echo PYPROJECT-SAVE-FILES %*",
        "pyproject_buildrequires": "echo PYPROJECT-BUILDREQUIRES",
        "pyproject_check_import": "echo PYPROJECT-CHECK-IMPORT",
        "pyproject_files": "/tmp/pyproject-files",
        "systemd_post()": "echo SYSTEMD-POST %*",
        "systemd_preun()": "echo SYSTEMD-PREUN %*",
        "systemd_postun_with_restart()": "echo SYSTEMD-POSTUN %*",
        "selinux_requires": "Requires: selinux-policy-base",
        "selinux_relabel_pre(s:)": "echo RELABEL-PRE %{-s*}",
        "selinux_relabel_post(s:)": "echo RELABEL-POST %{-s*}",
        "selinux_modules_install(s:)": "echo SEMODULE-INSTALL %{-s*} %*",
        "selinux_modules_uninstall(s:)": "echo SEMODULE-UNINSTALL %{-s*} %*",
        "python3_sitelib": "/usr/lib/python3.13/site-packages",
        "fedora": "42",
    }
    defines = [arg for name, body in stubs.items() for arg in ("--define", f"{name} {body}")]
    parsed = run(["rpmspec", "-P", *defines, SPEC]).stdout
    for expected in ("PYPROJECT-BUILDREQUIRES", "PYPROJECT-WHEEL", "PYPROJECT-INSTALL",
                     "PYPROJECT-SAVE-FILES enphase_monitor", "PYPROJECT-CHECK-IMPORT",
                     "SYSTEMD-POST enphase-monitor@.service",
                     "SYSTEMD-PREUN enphase-monitor@.service",
                     "SYSTEMD-POSTUN enphase-monitor@.service", "RELABEL-PRE targeted",
                     "SEMODULE-INSTALL targeted /usr/share/selinux/packages/targeted/"
                     "enphase_monitor.pp.bz2",
                     "SEMODULE-UNINSTALL targeted enphase_monitor", "RELABEL-POST targeted",
                     "Requires: selinux-policy-base"):
        assert expected in parsed, f"{expected!r} not in the parsed spec"
    for fallback in ("-m build --wheel", "-m installer", "DEB_PYTHON_INSTALL_LAYOUT"):
        assert fallback not in parsed, f"Debian fallback {fallback!r} used with Fedora macros"
