"""The import graph of ``workflow/``, read from the syntax trees: no circle, and an engine core that
imports no feature (messages, urging).

Every import counts — at module level and inside functions alike, so a circle cannot hide in a
function — except those under ``if TYPE_CHECKING:``, which never run. ``import workflow.a.b`` and
``from workflow.a import b`` (``b`` a module) are edges to ``workflow.a.b``; ``from workflow.a import
name`` (``name`` no module) is an edge to ``workflow.a``. The parent packages Python initialises
before a module are no edges of the importer's: they are done before its own code runs.
"""

from __future__ import annotations

import ast
from itertools import pairwise
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "workflow"
#: what the engine core must not import: the features that plug into it (workflow.engine.hooks)
FEATURES = ("workflow.messages", "workflow.urge")


def _module_name(path: Path, root: Path) -> str:
    parts = list(path.relative_to(root).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def modules(package: Path = PACKAGE) -> dict[str, Path]:
    return {_module_name(p, package.parent): p for p in sorted(package.rglob("*.py"))}


def _is_type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def _within(name: str, known: dict[str, Path]) -> str | None:
    """The module ``name`` names: itself, or the innermost known module it lies in."""
    while name:
        if name in known:
            return name
        name = name.rpartition(".")[0]
    return None


class _Imports(ast.NodeVisitor):
    """The modules one module imports (with the line), outside ``if TYPE_CHECKING:``."""

    def __init__(self, module: str, is_package: bool, known: dict[str, Path]) -> None:
        self.module, self.is_package, self.known = module, is_package, known
        self.found: dict[str, int] = {}

    def _add(self, name: str, line: int) -> None:
        target = _within(name, self.known)
        if target is not None and target != self.module:
            self.found.setdefault(target, line)

    def visit_If(self, node: ast.If) -> None:
        if _is_type_checking(node.test):
            for child in node.orelse:
                self.visit(child)
        else:
            self.generic_visit(node)

    def visit_Import(self, node: ast.Import) -> None:
        for alias in node.names:
            self._add(alias.name, node.lineno)

    def visit_ImportFrom(self, node: ast.ImportFrom) -> None:
        base = node.module or ""
        if node.level:  # relative: from the module's package upwards
            here = self.module.split(".")
            if not self.is_package:
                here.pop()
            here = here[: len(here) - (node.level - 1)]
            base = ".".join(here + ([base] if base else []))
        for alias in node.names:
            sub = f"{base}.{alias.name}"
            self._add(sub if sub in self.known else base, node.lineno)


def import_graph(package: Path = PACKAGE) -> dict[str, dict[str, int]]:
    """Module → the package's modules it imports, each with the line of its first import."""
    known = modules(package)
    graph = {}
    for name, path in known.items():
        visitor = _Imports(name, path.name == "__init__.py", known)
        visitor.visit(ast.parse(path.read_text(encoding="utf-8"), str(path)))
        graph[name] = visitor.found
    return graph


def cycles(graph: dict[str, dict[str, int]]) -> list[list[str]]:
    """One circle per strongly connected group of modules (Tarjan), each as a closed path."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    groups: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in graph.get(v, {}):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            group = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                group.append(w)
                if w == v:
                    break
            if len(group) > 1:
                groups.append(group)

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return [_path_in(graph, sorted(g)) for g in groups]


def _path_in(graph: dict[str, dict[str, int]], group: list[str]) -> list[str]:
    """A circle through the group's first module, by breadth-first search within the group."""
    start, members = group[0], set(group)
    came: dict[str, str] = {}
    todo = [start]
    while todo:
        v = todo.pop(0)
        for w in sorted(graph[v]):
            if w == start:
                path = [v]
                while path[-1] != start:
                    path.append(came[path[-1]])
                return [*reversed(path), start]
            if w in members and w not in came:
                came[w] = v
                todo.append(w)
    return group  # pragma: no cover - a strongly connected group always has a circle


def _describe(graph: dict[str, dict[str, int]], circle: list[str]) -> str:
    steps = [f"{a} (line {graph[a][b]})" for a, b in pairwise(circle)]
    return " -> ".join([*steps, circle[-1]])


def test_workflow_has_no_import_circle() -> None:
    graph = import_graph()
    found = cycles(graph)
    assert not found, "import circles in workflow/:\n" + "\n".join(
        _describe(graph, c) for c in found
    )


def test_the_engine_core_imports_no_feature() -> None:
    graph = import_graph()
    wrong = [
        f"{module} imports {target} (line {line})"
        for module, targets in graph.items()
        if module == "workflow.engine" or module.startswith("workflow.engine.")
        for target, line in targets.items()
        if any(target == f or target.startswith(f + ".") for f in FEATURES)
    ]
    assert not wrong, "the engine core must not know its features:\n" + "\n".join(wrong)


def test_the_graph_sees_imports_inside_functions_and_skips_type_checking(tmp_path: Path) -> None:
    """The reader itself, on a small package of known imports: what the tests above rely on."""
    pkg = tmp_path / "pkg"
    (pkg / "sub").mkdir(parents=True)
    files = {
        "__init__.py": "",
        "a.py": "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from pkg import b\n",
        "b.py": "def later():\n    from pkg.sub import c\n    return c\n",
        "sub/__init__.py": "from pkg.sub.c import NAME\n",
        "sub/c.py": "from .. import a\nfrom pkg.sub import NAME as N\nNAME = 1\n",
    }
    for name, text in files.items():
        (pkg / name).write_text(text, encoding="utf-8")
    graph = import_graph(pkg)
    assert graph["pkg.a"] == {}  # under TYPE_CHECKING: never runs
    assert graph["pkg.b"] == {"pkg.sub.c": 2}  # inside a function: counts
    assert graph["pkg.sub"] == {"pkg.sub.c": 1}
    assert graph["pkg.sub.c"] == {"pkg.a": 1, "pkg.sub": 2}  # relative; a name of a package
    (circle,) = cycles(graph)
    assert circle == ["pkg.sub", "pkg.sub.c", "pkg.sub"]


def test_a_circle_is_found_and_named() -> None:
    graph = {"a": {"b": 3}, "b": {"c": 5}, "c": {"a": 7}, "d": {"a": 1}}
    (circle,) = cycles(graph)
    assert circle == ["a", "b", "c", "a"]
    assert _describe(graph, circle) == "a (line 3) -> b (line 5) -> c (line 7) -> a"
