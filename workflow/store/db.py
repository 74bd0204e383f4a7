"""Database connections: SQLite (WAL, BEGIN IMMEDIATE for writes) by default, PostgreSQL by URL.

How long a statement waits for another session's lock is a setting of the connection (see
docs/engine.md, "A stuck database"): the web waits a few seconds and answers 503, the worker and
the command line wait longer. A locked or read-only database surfaces as
:class:`workflow.errors.Busy`, whichever driver said so.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, Engine, create_engine, event, exc
from sqlalchemy.orm import Session
from sqlalchemy.pool import StaticPool

from workflow.busy import as_busy

DEFAULT_URL = "sqlite:///instance/banli.db"
#: What the engine's functions run their statements on: a Core connection (the actions' hot
#: path) or an ORM session (scripts, tests); either way inside one open transaction, which the
#: caller (``Database.transaction`` / ``Database.read``) commits or rolls back.
ConnectionOrSession = Connection | Session
#: The former, shorter name, kept for the modules that still use it.
Tx = ConnectionOrSession
_READ = "banli_read"
#: seconds the worker and the command line wait for a lock (SQLite busy_timeout, PostgreSQL
#: lock_timeout); the ``lock_timeout`` setting
LOCK_TIMEOUT = 30.0
#: the web's waits: short, so a stuck database answers 503 long before gunicorn's --timeout (30 s)
#: the ``web_lock_timeout`` and ``web_statement_timeout`` (PostgreSQL only) settings
WEB_LOCK_TIMEOUT = 5.0
WEB_STATEMENT_TIMEOUT = 20.0


def database_url(url: str | None = None) -> str:
    """The URL to use: the argument (the ``database_url`` setting), else ``instance/banli.db``."""
    return url or DEFAULT_URL


def make_engine(
    url: str | None = None,
    lock_timeout: float = LOCK_TIMEOUT,
    statement_timeout: float | None = None,
    **kwargs: Any,
) -> Engine:
    """An engine with Banli's connection settings for its dialect.

    ``lock_timeout``: seconds a statement waits for a lock another session holds (SQLite
    ``busy_timeout``, PostgreSQL ``lock_timeout``); ``statement_timeout``: seconds any one
    statement may run (PostgreSQL only; None or 0 = no limit).
    """
    url = database_url(url)
    if url.startswith("sqlite"):
        return _sqlite_engine(url, lock_timeout, **kwargs)
    ping_idle = "pool_pre_ping" not in kwargs
    kwargs.setdefault("pool_pre_ping", False)
    engine = create_engine(url, **kwargs)
    if ping_idle:
        _ping_when_idle(engine)
    if engine.dialect.name == "postgresql":
        _postgres_timeouts(engine, lock_timeout, statement_timeout or 0)
    return engine


#: a pooled connection unused for longer than this is pinged before it is handed out
PING_AFTER = 2.0


def _ping_when_idle(engine: Engine) -> None:
    """SQLAlchemy's pre-ping, only for a connection that sat in the pool over PING_AFTER seconds.

    A dead connection (the server restarted, a proxy dropped it) is found and replaced before a
    unit of work uses it, as with ``pool_pre_ping``; but a web request, which checks a connection
    out several times within milliseconds, no longer pays a round trip for each checkout.
    """

    @event.listens_for(engine, "checkin")
    def _checked_in(_dbapi_connection: Any, record: Any) -> None:
        if record is not None:
            record.info["banli_idle_since"] = time.monotonic()

    @event.listens_for(engine, "checkout")
    def _checked_out(dbapi_connection: Any, record: Any, _proxy: Any) -> None:
        since = record.info.get("banli_idle_since")
        if since is None or time.monotonic() - since <= PING_AFTER:
            return  # a new connection, or one used a moment ago
        try:
            alive = engine.dialect.do_ping(dbapi_connection)
        except engine.dialect.loaded_dbapi.Error as e:
            if not engine.dialect.is_disconnect(e, dbapi_connection, None):
                raise
            alive = False
        if not alive:
            raise exc.DisconnectionError("the pooled connection was dead; a new one is made")


def _postgres_timeouts(engine: Engine, lock_timeout: float, statement_timeout: float) -> None:
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # Session settings, kept for the connection's life in the pool; set outside a
        # transaction so that the pool's rollback on check-in does not undo them.
        autocommit = dbapi_connection.autocommit
        dbapi_connection.autocommit = True
        with dbapi_connection.cursor() as cursor:
            cursor.execute(f"SET lock_timeout = {round(lock_timeout * 1000)}")
            cursor.execute(f"SET statement_timeout = {round(statement_timeout * 1000)}")
        dbapi_connection.autocommit = autocommit


def _sqlite_engine(url: str, lock_timeout: float, **kwargs: Any) -> Engine:
    memory = url in ("sqlite://", "sqlite:///:memory:")
    if memory:
        kwargs.setdefault("poolclass", StaticPool)
    else:
        path = url.split("///", 1)[1].split("?", 1)[0].removeprefix("file:")  # uri=true
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
        cursor.execute(f"PRAGMA busy_timeout={round(lock_timeout * 1000)}")
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
    """One engine and the two kinds of unit of work the engine's actions and queries use.

    Each unit of work turns a locked or read-only database into :class:`~workflow.errors.Busy`
    (its transaction rolled back: nothing half-written).
    """

    def __init__(
        self,
        url: str | None = None,
        lock_timeout: float = LOCK_TIMEOUT,
        statement_timeout: float | None = None,
        **engine_kwargs: Any,
    ) -> None:
        self.engine = make_engine(url, lock_timeout, statement_timeout, **engine_kwargs)
        self.lock_timeout = lock_timeout
        self.url = self.engine.url
        self._reader = self.engine.execution_options(**{_READ: True})

    @property
    def dialect(self) -> str:
        return self.engine.dialect.name

    @contextmanager
    def write(self) -> Iterator[Session]:
        """A session in one write transaction: committed on success, rolled back on any error."""
        with as_busy(), Session(self.engine, expire_on_commit=False, autoflush=False) as session:
            with session.begin():
                yield session

    @contextmanager
    def transaction(self) -> Iterator[Connection]:
        """A connection in one write transaction, for Core-only work such as the engine's actions."""
        with as_busy(), self.engine.begin() as conn:
            yield conn

    @contextmanager
    def read(self) -> Iterator[Session]:
        """A session for queries; on SQLite its transaction does not take the write lock."""
        with as_busy(), Session(self._reader, expire_on_commit=False, autoflush=False) as session:
            with session.begin():
                yield session

    def create_all(self) -> None:
        """Create the schema directly (tests); deployments use ``banli init`` (Alembic)."""
        from workflow.store.models import Base

        Base.metadata.create_all(self.engine)

    def dispose(self) -> None:
        self.engine.dispose()
