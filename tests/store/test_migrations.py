"""The Alembic migrations build exactly the schema the models declare, on SQLite and PostgreSQL."""

from __future__ import annotations

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import inspect

from workflow.store.db import Database
from workflow.store.migrate import upgrade
from workflow.store.models import Base


def _diff(db: Database) -> list:
    with db.engine.connect() as conn:
        ctx = MigrationContext.configure(conn, opts={"compare_type": True})
        return compare_metadata(ctx, Base.metadata)


@pytest.mark.parametrize("backend", ["sqlite", "postgres"])
def test_upgrade_creates_the_models_schema(backend, request, tmp_path):
    db = (
        Database(f"sqlite:///{tmp_path / 'm.db'}")
        if backend == "sqlite"
        else request.getfixturevalue("pg_db")
    )
    upgrade(db)
    tables = set(inspect(db.engine).get_table_names())
    assert {"flows", "work_items", "visits", "audit_events", "users", "units"} <= tables
    assert _diff(db) == []
    upgrade(db)  # a second run is a no-op


def test_sqlite_runs_in_wal_with_foreign_keys(tmp_path):
    db = Database(f"sqlite:///{tmp_path / 'w.db'}")
    with db.engine.connect() as conn:
        assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
        assert conn.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
