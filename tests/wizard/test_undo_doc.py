"""docs/wizard.md documents the undo record as wizard/undo.py writes it: its place, every key
of its JSON, that --remove deletes it, and that purging the package leaves it."""

from __future__ import annotations

import json
import re
from pathlib import Path, PurePosixPath

from enphase_setup.facts import NutLayout
from enphase_setup.undo import UndoRecord, record_path

DOC = Path(__file__).resolve().parents[2] / "docs" / "wizard.md"


def section() -> str:
    text = DOC.read_text()
    start = text.index("## The undo record")
    return text[start:text.index("\n## ", start + 1)]


def test_every_key_of_the_record_is_documented() -> None:
    keys = set(json.loads(UndoRecord().to_json()))
    documented = set(re.findall(r"^- `([a-z]+)`:", section(), re.M))
    assert documented == keys


def test_its_place_removal_and_purge_are_documented() -> None:
    text = section()
    layout = NutLayout(PurePosixPath("/etc/nut"), "nut", "nut", "Debian")
    assert str(record_path(layout, "ups")) in text  # /etc/nut/enphase-ups.undo
    assert "`<NUT dir>/enphase-<ups>.undo`" in text
    assert "deletes the record itself" in text
    assert "Purging the package does not run `--remove`" in text
    assert "the undo record stays" in text
