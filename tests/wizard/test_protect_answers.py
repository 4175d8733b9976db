"""protect.apply_values: every answers-file key of the step lands in its own field."""

from __future__ import annotations

from pathlib import Path

import pytest

from enphase_setup.answermodel import AnswerError
from enphase_setup.protect import KEYS, ProtectAnswers, apply_values


def test_every_key_sets_its_field(tmp_path: Path) -> None:
    """Each of KEYS changes the answers (a key added to KEYS without its branch fails here)."""
    secret = tmp_path / "nas.pw"
    secret.write_text("from-a-file\n")
    secret.chmod(0o600)
    raw = {"PROTECT": "no", "PROTECT_USER": " watcher ", "NAS_LISTEN": " 192.168.1.10 ",
           "NAS_USER": " nas ", "NAS_PASSWORD": "typed", "NAS_PASSWORD_FILE": str(secret),
           "NAS_SYNOLOGY": "yes"}
    assert sorted(raw) == sorted(KEYS)
    base = ProtectAnswers()
    got = apply_values(base, raw)
    assert (got.protect, got.user, got.nas_listen, got.nas_user, got.nas_synology) == (
        False, "watcher", "192.168.1.10", "nas", True)
    assert got.nas_password == "from-a-file"  # the later key wins, as in a file
    assert got.password == base.password  # not one of this step's keys
    assert base == ProtectAnswers(password=base.password, nas_password=base.nas_password)
    typed = apply_values(base, {"nas_password_file": str(secret), "nas_password": "typed "})
    assert typed.nas_password == "typed "  # a password keeps its bytes; keys in any case


def test_bad_values_name_the_key(tmp_path: Path) -> None:
    """A flag that is not yes/no, a password file others may read: one line naming the key."""
    with pytest.raises(AnswerError, match="PROTECT must be yes or no"):
        apply_values(ProtectAnswers(), {"PROTECT": "maybe"})
    secret = tmp_path / "open.pw"
    secret.write_text("x\n")
    secret.chmod(0o644)
    with pytest.raises(AnswerError, match="NAS_PASSWORD_FILE"):
        apply_values(ProtectAnswers(), {"NAS_PASSWORD_FILE": str(secret)})
