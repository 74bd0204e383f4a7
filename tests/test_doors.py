"""Doors do not run SQL: web pages and the ``banli`` command call engine functions, never build queries.

Checked on the source (AST): no module in ``web/`` and no ``banli`` command module imports
SQLAlchemy or the stored models, and none opens a database transaction of its own.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
WEB = sorted((ROOT / "web").rglob("*.py"))
CLI = sorted((ROOT / "workflow").glob("cli*.py"))  # cli.py and its command-group modules
DATABASE = ("sqlalchemy", "workflow.store.models")
#: (module, import): the justified exceptions, each with its reason.
ALLOWED = {
    # The error pages tell a locked or read-only database (503) from other database errors;
    # the driver's exception class is what Flask's error handler is registered for. No query.
    ("web/errors.py", "sqlalchemy.exc"),
}


def _rel(path: Path) -> str:
    return path.relative_to(ROOT).as_posix()


def _imports(path: Path) -> list[tuple[int, str]]:
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    found: list[tuple[int, str]] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.append((node.lineno, node.module))
    return found


def _transactions(path: Path) -> list[int]:
    """Lines of ``with ….read()`` / ``.write()`` / ``.transaction()``: a unit of work opened here."""
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    return [
        node.lineno
        for node in ast.walk(tree)
        if isinstance(node, ast.With)
        for item in node.items
        if isinstance(item.context_expr, ast.Call)
        and isinstance(item.context_expr.func, ast.Attribute)
        and item.context_expr.func.attr in ("read", "write", "transaction")
    ]


def test_there_are_doors_to_check() -> None:
    names = {_rel(p) for p in WEB}
    assert {"web/auth.py", "web/admin.py", "web/verify.py", "web/sheet.py"} <= names
    assert all(p.exists() for p in CLI)


@pytest.mark.parametrize("path", [*WEB, *CLI], ids=_rel)
def test_a_door_imports_no_database_layer(path: Path) -> None:
    offenders = [
        f"{_rel(path)}:{line}: imports {name}"
        for line, name in _imports(path)
        if any(name == d or name.startswith(d + ".") for d in DATABASE)
        and (_rel(path), name) not in ALLOWED
    ]
    assert offenders == []


@pytest.mark.parametrize("path", [*WEB, *CLI], ids=_rel)
def test_a_door_opens_no_transaction_of_its_own(path: Path) -> None:
    assert _transactions(path) == [], f"{_rel(path)} opens a unit of work: call the engine"


def test_the_checks_catch_what_they_should(tmp_path: Path) -> None:
    source = tmp_path / "page.py"
    source.write_text(
        "from sqlalchemy import select\n"
        "import workflow.store.models\n"
        "def view(db):\n"
        "    from workflow.store.models import User\n"
        "    with db.read() as s:\n"
        "        return s.scalars(select(User))\n"
    )
    names = [n for _, n in _imports(source) if any(n.startswith(d) for d in DATABASE)]
    assert names == ["sqlalchemy", "workflow.store.models", "workflow.store.models"]
    assert _transactions(source) == [5]
