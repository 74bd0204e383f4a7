"""Shared fixtures: a database with the shipped definitions and the demo organisation, a test clock."""

from __future__ import annotations

import atexit
import os
import shutil
import tempfile
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from workflow.demo_org import seed_organisation
from workflow.engine import Engine
from workflow.engine.registry import store_definition
from workflow.store.db import Database

ROOT = Path(__file__).resolve().parent.parent
DEFINITIONS = sorted((ROOT / "definitions").glob("*.yaml"))
PG_URL = os.environ.get("BANLI_TEST_POSTGRES_URL")


START = datetime(2026, 3, 2, 1, 0, tzinfo=UTC)


class Clock:
    """A clock that moves one second per reading, so every effect time is distinct and ordered."""

    def __init__(self, start: datetime = START) -> None:
        self.now = start

    def __call__(self) -> datetime:
        self.now += timedelta(seconds=1)
        return self.now

    def advance(self, **delta: float) -> None:
        self.now += timedelta(**delta)


def setup_engine(db: Database, clock: Clock | None = None) -> tuple[Engine, dict[str, int]]:
    """Schema, shipped definitions and demo organisation on ``db``; returns (engine, login → id).

    A new SQLite file on a clock at its start is copied from a template made once per test run
    (the same rows, the clock moved on as building them would have moved it): most tests start
    so, and building the schema and the organisation each time cost minutes of the suite."""
    clock = clock or Clock()
    engine = Engine(db, clock=clock)
    target = _new_sqlite_file(db)
    if target is not None and clock.now == START:
        template, people = _template()
        shutil.copyfile(template, target)
        for _ in DEFINITIONS:  # the readings store_definition took while the template was made
            clock()
        return engine, dict(people)
    db.create_all()
    with db.write() as s:
        people = seed_organisation(s)
        for path in DEFINITIONS:
            store_definition(s, path, engine.clock())
    return engine, people


def _new_sqlite_file(db: Database) -> Path | None:
    """The file of a SQLite database nobody has created yet (else None)."""
    url = db.engine.url
    if url.get_backend_name() != "sqlite" or not url.database or url.database == ":memory:":
        return None
    path = Path(url.database)
    return None if path.exists() else path


_TEMPLATE: tuple[Path, dict[str, int]] | None = None


def _template() -> tuple[Path, dict[str, int]]:
    """The template database of this test run: built on first use, checkpointed into one file."""
    global _TEMPLATE
    if _TEMPLATE is None:
        folder = tempfile.mkdtemp(prefix="banli-template-")
        atexit.register(shutil.rmtree, folder, True)
        path = Path(folder) / "banli.db"
        db = Database(f"sqlite:///{path}")
        engine = Engine(db, clock=Clock())
        db.create_all()
        with db.write() as s:
            people = seed_organisation(s)
            for definition in DEFINITIONS:
                store_definition(s, definition, engine.clock())
        db.dispose()  # the last connection closed checkpoints the WAL into the file
        _TEMPLATE = (path, people)
    return _TEMPLATE


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def db(tmp_path: Path) -> Iterator[Database]:
    database = Database(f"sqlite:///{tmp_path / 'banli.db'}")
    yield database
    database.dispose()


@pytest.fixture
def engine_people(db: Database, clock: Clock) -> tuple[Engine, dict[str, int]]:
    return setup_engine(db, clock)


@pytest.fixture
def engine(engine_people: tuple[Engine, dict[str, int]]) -> Engine:
    return engine_people[0]


@pytest.fixture
def people(engine_people: tuple[Engine, dict[str, int]]) -> dict[str, int]:
    return engine_people[1]


@pytest.fixture
def item_of(engine: Engine, people: dict[str, int]):
    """``item_of(login, flow_id)``: that person's open work item in that flow."""

    def find(login: str, flow_id: int) -> int:
        rows = [r for r in engine.inbox(people[login], limit=500) if r.flow_id == flow_id]
        assert rows, f"{login} has no open work item in flow {flow_id}"
        assert len(rows) == 1, f"{login} has {len(rows)} open items in flow {flow_id}"
        return rows[0].item_id

    return find


@pytest.fixture
def pg_db() -> Iterator[Database]:
    """A PostgreSQL database in a schema of its own, dropped afterwards."""
    if not PG_URL:
        pytest.skip(
            "BANLI_TEST_POSTGRES_URL is not set: PostgreSQL tests skipped (.ci/run sets it)"
        )
    schema = f"t_{uuid.uuid4().hex[:12]}"
    admin = Database(PG_URL)
    with admin.engine.begin() as conn:
        conn.exec_driver_sql(f"CREATE SCHEMA {schema}")
    database = Database(
        PG_URL, connect_args={"options": f"-csearch_path={schema}"}, pool_size=25, max_overflow=10
    )
    yield database
    database.dispose()
    with admin.engine.begin() as conn:
        conn.exec_driver_sql(f"DROP SCHEMA {schema} CASCADE")
    admin.dispose()
