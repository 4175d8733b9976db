"""The man pages render without a groff warning at the widths people read them at.

lintian runs `man --warnings` too but drops "cannot adjust line" and "can't break line", so a
path too long for the line (the warning this test was written for) passed lintian clean.
"""

from __future__ import annotations

import pytest

from .conftest import ROOT, need, run, system_env

PAGES = sorted((ROOT / "packaging/man").glob("*.8"))


def test_both_pages_are_checked():
    """The glob finds the daemon's and the wizard's page (a move would skip the check silently)."""
    assert [p.name for p in PAGES] == ["enphase-monitor.8", "enphase-setup.8"]


@pytest.mark.parametrize("width", [80, 120])
@pytest.mark.parametrize("page", PAGES, ids=lambda p: p.name)
def test_man_page_renders_without_warnings(page, width: int):
    """`man --warnings` (lintian's command line) prints nothing on stderr at MANWIDTH=width."""
    need("man", "groff")
    proc = run(["man", "--warnings", "-E", "UTF-8", "-l", "-Tutf8", "-Z", page],
               env=system_env(MANWIDTH=str(width), MANROFFSEQ=""))
    assert proc.stderr == "", f"{page.name} at MANWIDTH={width}:\n{proc.stderr}"
