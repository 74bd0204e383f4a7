"""Database connections: SQLite (WAL, BEGIN IMMEDIATE for writes) by default, PostgreSQL by URL."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, Engine, create_engine, event
from sqlalchemy.orm import Session
from sqlalchemy.pool import StaticPool

DEFAULT_URL = "sqlite:///instance/banli.db"
#: What the engine's functions run their statements on: a Core connection (the actions' hot
#: path) or an ORM session (scripts, tests); both are inside one transaction.
Tx = Connection | Session
_READ = "banli_read"


def database_url(url: str | None = None) -> str:
    """The URL to use: the argument, else ``BANLI_DATABASE_URL``, else ``instance/banli.db``."""
    return url or os.environ.get("BANLI_DATABASE_URL") or DEFAULT_URL


def make_engine(url: str | None = None, **kwargs: Any) -> Engine:
    """An engine with Banli's connection settings for its dialect."""
    url = database_url(url)
    if url.startswith("sqlite"):
        return _sqlite_engine(url, **kwargs)
    kwargs.setdefault("pool_pre_ping", True)
    return create_engine(url, **kwargs)


def _sqlite_engine(url: str, **kwargs: Any) -> Engine:
    memory = url in ("sqlite://", "sqlite:///:memory:")
    if memory:
        kwargs.setdefault("poolclass", StaticPool)
    else:
        path = url.split("///", 1)[1].split("?", 1)[0]
        Path(path).parent.mkdir(parents=True, exist_ok=True)
    connect_args = kwargs.pop("connect_args", {})
    connect_args.setdefault("check_same_thread", False)
    # The Python driver's own implicit BEGIN is switched off; we emit our own (below).
    connect_args["isolation_level"] = None
    engine = create_engine(url, connect_args=connect_args, **kwargs)

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        cursor = dbapi_connection.cursor()
        if not memory:
            cursor.execute("PRAGMA journal_mode=WAL")
            # WAL + NORMAL: durable across application crashes, one fsync per checkpoint.
            cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA busy_timeout=30000")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Any) -> None:
        # Writers take the write lock up front, so two writers queue on busy_timeout instead of
        # one failing with "database is locked" when it upgrades a read lock mid-transaction.
        mode = "DEFERRED" if conn.get_execution_options().get(_READ) else "IMMEDIATE"
        # Straight to the driver: a statement through SQLAlchemy costs several times this one.
        conn.connection.driver_connection.execute(f"BEGIN {mode}")

    return engine


class Database:
    """One engine and the two kinds of unit of work the engine's actions and queries use."""

    def __init__(self, url: str | None = None, **engine_kwargs: Any) -> None:
        self.engine = make_engine(url, **engine_kwargs)
        self.url = self.engine.url
        self._reader = self.engine.execution_options(**{_READ: True})

    @property
    def dialect(self) -> str:
        return self.engine.dialect.name

    @contextmanager
    def write(self) -> Iterator[Session]:
        """A session in one write transaction: committed on success, rolled back on any error."""
        with Session(self.engine, expire_on_commit=False, autoflush=False) as session:
            with session.begin():
                yield session

    @contextmanager
    def transaction(self) -> Iterator[Connection]:
        """A connection in one write transaction, for Core-only work such as the engine's actions."""
        with self.engine.begin() as conn:
            yield conn

    @contextmanager
    def read(self) -> Iterator[Session]:
        """A session for queries; on SQLite its transaction does not take the write lock."""
        with Session(self._reader, expire_on_commit=False, autoflush=False) as session:
            with session.begin():
                yield session

    def create_all(self) -> None:
        """Create the schema directly (tests); deployments use ``banli init`` (Alembic)."""
        from workflow.store.models import Base

        Base.metadata.create_all(self.engine)

    def dispose(self) -> None:
        self.engine.dispose()
