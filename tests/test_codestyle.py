"""House rules checked on the source: the engine stays free of the web stack, every module says what it is."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parent.parent / "workflow"
MODULES = sorted(PACKAGE.rglob("*.py"))
WEB = {"flask", "werkzeug", "jinja2"}
# The PDF flow sheet renders the web's sheet template with plain Jinja2, so that `banli sheet
# -o x.pdf` works without Flask; a template library there is not the web framework.
ALLOWED = {("workflow/sheet_pdf.py", "jinja2")}


def _rel(path: Path) -> str:
    return path.relative_to(PACKAGE.parent).as_posix()


def _tree(path: Path) -> ast.Module:
    return ast.parse(path.read_text(encoding="utf-8"), filename=str(path))


def _imported(tree: ast.Module) -> list[tuple[int, str]]:
    """Every module name an import statement anywhere in the file (top level or nested) names."""
    found: list[tuple[int, str]] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            found.append((node.lineno, node.module))
        elif (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Attribute | ast.Name)
            and getattr(node.func, "attr", getattr(node.func, "id", None))
            in ("import_module", "__import__")
            and node.args
            and isinstance(node.args[0], ast.Constant)
            and isinstance(node.args[0].value, str)
        ):
            found.append((node.lineno, node.args[0].value))
    return found


def test_there_are_modules_to_check() -> None:
    names = {_rel(p) for p in MODULES}
    assert {"workflow/engine/core.py", "workflow/audit.py", "workflow/machine.py"} <= names


def test_the_engine_never_imports_the_web_stack() -> None:
    offenders = [
        f"{_rel(path)}:{line}: imports {name}"
        for path in MODULES
        for line, name in _imported(_tree(path))
        if name.split(".")[0] in WEB and (_rel(path), name.split(".")[0]) not in ALLOWED
    ]
    assert offenders == []


@pytest.mark.parametrize("path", MODULES, ids=_rel)
def test_every_module_has_a_docstring(path: Path) -> None:
    doc = ast.get_docstring(_tree(path))
    assert doc and doc.strip(), f"{_rel(path)} has no module docstring"


def test_the_import_check_catches_what_it_should() -> None:
    source = (
        "import flask\n"
        "from werkzeug.exceptions import NotFound\n"
        "def f():\n"
        "    import jinja2.sandbox\n"
        "    return __import__('flask')\n"
        "from . import flask_helpers\n"
        "import flasky\n"
    )
    names = [name for _, name in _imported(ast.parse(source))]
    assert [n for n in names if n.split(".")[0] in WEB] == [
        "flask",
        "werkzeug.exceptions",
        "jinja2.sandbox",
        "flask",
    ]
