"""Issue 13 item 10: only the packaged entry point may import the vendored Textual; a pip or
venv install must never import from /usr/share/enphase-monitor/vendor."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from .conftest import ROOT

PROBE = ("import sys, textual; print(textual.__file__); "
         "print('FAKE' if getattr(textual, 'FAKE', False) else 'REAL')")


def fake_vendor(base: Path) -> Path:
    """A vendor directory whose 'textual' announces itself."""
    vendor = base / "vendor"
    (vendor / "textual").mkdir(parents=True)
    (vendor / "textual/__init__.py").write_text("FAKE = True\n")
    return vendor


def python(code: str, vendor: Path) -> list[str]:
    env = dict(os.environ, ENPHASE_SETUP_VENDOR_DIR=str(vendor),
               PYTHONPATH=os.environ.get("PYTHONPATH", str(ROOT)))
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          env=env, cwd=ROOT, timeout=60, check=True)
    return done.stdout.split()


def test_importing_the_wizard_never_uses_the_vendor_dir(tmp_path: Path) -> None:
    vendor = fake_vendor(tmp_path)
    where, which = python("import enphase_setup, enphase_setup.cli, enphase_setup.app; "
                          + PROBE, vendor)
    assert which == "REAL" and not where.startswith(str(vendor))


def test_the_packaged_entry_point_uses_it(tmp_path: Path) -> None:
    vendor = fake_vendor(tmp_path)
    where, which = python("from enphase_setup.packaged import use_vendored; use_vendored(); "
                          + PROBE, vendor)
    assert which == "FAKE" and where.startswith(str(vendor))


def test_the_packages_install_the_packaged_launcher() -> None:
    launcher = ROOT / "packaging/enphase-setup"
    assert launcher.read_text().startswith("#!/usr/bin/python3\n")
    assert "from enphase_setup.packaged import main" in launcher.read_text()
    assert os.access(launcher, os.X_OK)
    assert "install -m 0755 packaging/enphase-setup debian/enphase-monitor-setup/usr/bin/" \
        "enphase-setup" in (ROOT / "debian/rules").read_text()
    assert "packaging/enphase-setup %{buildroot}%{_bindir}/enphase-setup" in \
        (ROOT / "rpm/enphase-monitor.spec").read_text()
