"""Each fact of the outside world is written once, in enphase_monitor/facts.py: no other module
of the daemon or the wizard holds an endpoint, a credential name or a cloud URL as a literal."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from enphase_monitor import facts

ROOT = Path(__file__).resolve().parents[1]
FACTS = {
    *facts.DATA_ENDPOINTS, facts.INFO, facts.INFO_LEGACY, facts.CHECK_JWT,
    facts.LOGIN_URL, facts.TOKENS_URL, facts.PASSWORD_CREDENTIAL, facts.TOKEN_CREDENTIAL,
    # of the wire words only these two: "open" or "storage" are words of other fields too
    facts.CtKind.NET, facts.CtKind.TOTAL,
}
# facts.py defines them; the simulator (enphase_sim, another package) serves them
SOURCES = sorted(p for d in ("enphase_monitor", "wizard") for p in (ROOT / d).rglob("*.py")
                 if p != ROOT / "enphase_monitor" / "facts.py")


def literals(path: Path) -> set[str]:
    """Every string constant of a module's code (docstrings left out)."""
    tree = ast.parse(path.read_text())
    docstrings = {id(node.value) for node in ast.walk(tree) if isinstance(node, ast.Expr)}
    return {node.value for node in ast.walk(tree) if isinstance(node, ast.Constant)
            and isinstance(node.value, str) and id(node) not in docstrings}


@pytest.mark.parametrize("path", SOURCES, ids=lambda p: str(p.relative_to(ROOT)))
def test_no_copy_of_a_fact(path: Path) -> None:
    copies = literals(path) & {str(f) for f in FACTS}
    assert not copies, f"{path.name} holds {sorted(copies)}: import them from facts.py"


def test_yes_words() -> None:
    assert all(facts.is_true(w) for w in ("1", "yes", " Y ", "TRUE", "on"))
    assert not any(facts.is_true(w) for w in ("", "0", "no", "off", "yess"))
    assert not facts.TRUE_WORDS & facts.FALSE_WORDS
