"""Issue 13 item 12: what a fake root needs is written in --help and docs/wizard.md, and a
root made from that list alone is enough."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from enphase_setup.fakeroot import NEEDS

from .conftest import ROOT


def run_cli(*args: str) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ, PYTHONPATH=os.environ.get("PYTHONPATH", str(ROOT)))
    return subprocess.run([sys.executable, "-m", "enphase_setup", *args], capture_output=True,
                          text=True, env=env, cwd=ROOT, timeout=60, check=False)


def test_help_and_docs_list_what_a_fake_root_needs() -> None:
    help_text = " ".join(run_cli("--help").stdout.split())
    docs = (ROOT / "docs/wizard.md").read_text()
    for path, _ in NEEDS:
        assert path in help_text, path
        for part in path.split(", "):
            assert f"`{part}`" in docs, part


def test_a_root_with_only_the_required_entries_works(tmp_path: Path) -> None:
    root = tmp_path / "root"
    (root / "etc/nut").mkdir(parents=True)
    (root / "lib/nut").mkdir(parents=True)
    (root / "lib/nut/dummy-ups").write_text("")
    answers = tmp_path / "answers"
    answers.write_text("ENVOY_HOST=127.0.0.1:9\nSERIAL=122302045678\nUSERNAME=u@example.com\n"
                       "PASSWORD=pw\nSECRET_STORE=config\n")
    answers.chmod(0o600)
    done = run_cli("--root", str(root), "-n", "--dry-run", "--no-validate", "--answers",
                   str(answers))
    assert done.returncode == 0, done.stdout + done.stderr
    assert "[1] Create directory /var/lib/enphase-monitor" in done.stdout
    (root / "lib/nut/dummy-ups").unlink()
    refused = run_cli("--root", str(root), "-n", "--dry-run", "--no-validate", "--answers",
                      str(answers))
    assert "dummy-ups driver is not installed" in refused.stdout + refused.stderr
