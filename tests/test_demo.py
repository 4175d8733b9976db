"""README's first command: the demo shows NUT's view go OL -> OB -> OB LB -> OL."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_the_demo_plays_grid_loss_low_battery_and_return() -> None:
    out = subprocess.run([sys.executable, "-m", "enphase_sim", "demo"], cwd=ROOT,
                         capture_output=True, text=True, timeout=180)
    assert out.returncode == 0, out.stdout + out.stderr
    assert "demo finished: ups.status went OL -> OB -> OB LB -> OL" in out.stdout
    assert "Traceback" not in out.stdout + out.stderr
