"""The layout a maintainer can read: no import cycles between the project's modules, no module
over ~400 lines and no function over ~60 lines (issue 11).

Imports are read with `ast`, not by importing: every `import` counts, at module level or inside
a function, under `if TYPE_CHECKING:` too (a cycle hidden by a local or a type-only import is
still a cycle a reader has to untangle).
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import ROOT

# the import name of each package directory (the wizard's directory is not its import name)
PACKAGES = {"enphase_monitor": "enphase_monitor", "wizard": "enphase_setup",
            "enphase_sim": "enphase_sim"}
MAX_MODULE_LINES = 400
MAX_FUNCTION_LINES = 60

# The exceptions, each with its reason (a declarative table, say); none exist today. Keep these
# lists short: never add to them without a reason a reviewer accepts.
LONG_MODULES: dict[str, str] = {}
LONG_FUNCTIONS: dict[str, str] = {}


def modules() -> dict[str, Path]:
    """Every module of the project's packages, by import name."""
    found: dict[str, Path] = {}
    for directory, name in PACKAGES.items():
        root = ROOT / directory
        if not root.is_dir():
            continue
        for path in sorted(root.rglob("*.py")):
            parts = path.relative_to(root).with_suffix("").parts
            if parts[-1] == "__init__":
                parts = parts[:-1]
            found[".".join((name, *parts))] = path
    return found


def imported(module: str, path: Path, known: dict[str, Path]) -> set[str]:
    """The project's modules that `module` imports anywhere in its file."""
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[:len(base) - node.level + 1]
                source = ".".join([*base, node.module] if node.module else base)
            else:
                source = node.module or ""
            # `from pkg import mod` depends on pkg.mod; on pkg only for names pkg defines
            # (the parent package every import loads first is no edge, as for `import a.b`)
            names.update(f"{source}.{alias.name}" if f"{source}.{alias.name}" in known
                         else source for alias in node.names)
    return {found for name in names if (found := _project_module(name, known)) != module
            and found}


def _project_module(name: str, known: dict[str, Path]) -> str:
    """The longest prefix of a dotted name that is one of the project's modules ("" if none)."""
    parts = name.split(".")
    while parts:
        candidate = ".".join(parts)
        if candidate in known:
            return candidate
        parts.pop()
    return ""


def import_graph() -> dict[str, set[str]]:
    known = modules()
    return {module: imported(module, path, known) for module, path in known.items()}


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """One import cycle in each strongly connected group of modules (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    groups: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for nxt in sorted(graph.get(node, ())):
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in on_stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            group = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                group.append(member)
                if member == node:
                    break
            if len(group) > 1:
                groups.append(sorted(group))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return [_cycle_in(group, graph) for group in groups]


def _cycle_in(group: list[str], graph: dict[str, set[str]]) -> list[str]:
    """A shortest cycle through the group's first module, as a path back to it."""
    start, members = group[0], set(group)
    paths = {start: [start]}
    queue = [start]
    while queue:
        node = queue.pop(0)
        for nxt in sorted(graph[node] & members):
            if nxt == start:
                return [*paths[node], start]
            if nxt not in paths:
                paths[nxt] = [*paths[node], nxt]
                queue.append(nxt)
    return group  # not reached: a strongly connected group holds a cycle through each member


def test_no_import_cycle_between_the_projects_modules() -> None:
    found = cycles(import_graph())
    assert not found, "import cycles:\n" + "\n".join(" -> ".join(cycle) for cycle in found)


def test_the_cycle_check_sees_local_and_type_checking_imports(tmp_path: Path) -> None:
    """The check itself can fail: a cycle closed only by a TYPE_CHECKING import, and one
    closed only by an import inside a function, are both found; a package that re-exports
    its modules, which import each other through it, is none."""
    pkg = tmp_path / "enphase_monitor"
    pkg.mkdir()
    (pkg / "__init__.py").write_text("from .c import C\n")
    (pkg / "h.py").write_text("from . import c\nfrom enphase_monitor import e\n")
    (pkg / "a.py").write_text("from .b import B\n")
    (pkg / "b.py").write_text("from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n"
                              "    from .a import A\n")
    (pkg / "c.py").write_text("import enphase_monitor.a\n")
    (pkg / "d.py").write_text("def late():\n    from enphase_monitor import g\n")
    (pkg / "e.py").write_text("from . import d\n")
    (pkg / "f.py").write_text("def late():\n    from .e import E\n")
    (pkg / "g.py").write_text("import enphase_monitor.f as f\n")
    known = {f"enphase_monitor.{p.stem}": p for p in pkg.glob("*.py") if p.stem != "__init__"}
    known["enphase_monitor"] = pkg / "__init__.py"
    graph = {module: imported(module, path, known) for module, path in known.items()}
    assert graph["enphase_monitor.c"] == {"enphase_monitor.a"}
    assert graph["enphase_monitor.h"] == {"enphase_monitor.c", "enphase_monitor.e"}
    assert cycles(graph) == [["enphase_monitor.a", "enphase_monitor.b", "enphase_monitor.a"],
                             ["enphase_monitor.d", "enphase_monitor.g", "enphase_monitor.f",
                              "enphase_monitor.e", "enphase_monitor.d"]]


# ---------------------------------------------------------------------------- sizes


def _sources() -> Iterator[tuple[str, Path]]:
    for path in sorted(modules().values()):
        yield path.relative_to(ROOT).as_posix(), path


def long_modules() -> dict[str, int]:
    """Modules over MAX_MODULE_LINES lines, with their length."""
    found = {}
    for name, path in _sources():
        lines = len(path.read_text(encoding="utf-8").splitlines())
        if lines > MAX_MODULE_LINES:
            found[name] = lines
    return found


def long_functions() -> dict[str, int]:
    """Functions and methods over MAX_FUNCTION_LINES lines (decorators and docstring
    included), as `path:name`, with their length."""
    found = {}
    for name, path in _sources():
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                first = min([node.lineno, *(d.lineno for d in node.decorator_list)])
                lines = (node.end_lineno or node.lineno) - first + 1
                if lines > MAX_FUNCTION_LINES:
                    found[f"{name}:{node.name}"] = lines
    return found


def test_no_module_over_400_lines_but_the_listed_ones() -> None:
    found = long_modules()
    new = {name: lines for name, lines in found.items() if name not in LONG_MODULES}
    assert not new, (f"modules over {MAX_MODULE_LINES} lines: {new}; split them by job (or,"
                     " for a declarative table, list them in LONG_MODULES with the reason)")


def test_no_function_over_60_lines_but_the_listed_ones() -> None:
    found = long_functions()
    new = {name: lines for name, lines in found.items() if name not in LONG_FUNCTIONS}
    assert not new, (f"functions over {MAX_FUNCTION_LINES} lines: {new}; split them (or, for a"
                     " declarative table, list them in LONG_FUNCTIONS with the reason)")


@pytest.mark.parametrize("allowed", ["modules", "functions"])
def test_the_allow_lists_hold_no_stale_entries(allowed: str) -> None:
    """An exception that was fixed leaves its list, so the lists only ever shrink."""
    listed, found = ((LONG_MODULES, long_modules()) if allowed == "modules"
                     else (LONG_FUNCTIONS, long_functions()))
    stale = sorted(set(listed) - set(found))
    assert not stale, f"no longer over the limit, remove from the allow-list: {stale}"
