"""Telling a locked or read-only database apart from other database errors, whatever the driver."""

from __future__ import annotations

import functools
import random
import sqlite3
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import ParamSpec, TypeVar

from sqlalchemy.exc import DBAPIError

from workflow.errors import Busy

# SQLite primary result codes (the low byte of an extended code): another connection holds the
# lock (BUSY, LOCKED), the file or its directory may not be written (READONLY, CANTOPEN: the
# -wal / -shm files beside it cannot be made).
_SQLITE = {5: "locked", 6: "locked", 8: "read-only", 14: "read-only"}
_SQLITE_TEXT = {
    "database is locked": "locked",
    "database table is locked": "locked",
    "attempt to write a readonly database": "read-only",
    "unable to open database file": "read-only",
}
# PostgreSQL SQLSTATEs: lock_not_available (lock_timeout), query_canceled (statement_timeout),
# read_only_sql_transaction (default_transaction_read_only, a hot standby), deadlock_detected
# (one of the two is rolled back: trying again succeeds), serialization_failure (likewise)
_POSTGRES = {"55P03": "locked", "57014": "locked", "25006": "read-only", "40P01": "locked",
             "40001": "locked"}  # fmt: skip
#: The SQLSTATEs after which the database asks for the whole transaction to be tried again.
RETRY_SQLSTATES = frozenset({"40001", "40P01"})
#: Tries of one action in all (the first and two more), with a short random pause between.
ATTEMPTS = 3
P = ParamSpec("P")
R = TypeVar("R")


def busy_reason(exc: BaseException) -> str | None:
    """``"locked"`` or ``"read-only"`` if ``exc`` (or the driver error it wraps) says so, else None."""
    orig = exc.orig if isinstance(exc, DBAPIError) else exc
    if isinstance(orig, sqlite3.OperationalError):
        code = getattr(orig, "sqlite_errorcode", None)
        if isinstance(code, int) and (code & 0xFF) in _SQLITE:
            return _SQLITE[code & 0xFF]
        return next((why for text, why in _SQLITE_TEXT.items() if text in str(orig)), None)
    sqlstate = getattr(orig, "sqlstate", None) or getattr(orig, "pgcode", None)
    return _POSTGRES.get(sqlstate) if isinstance(sqlstate, str) else None


@contextmanager
def as_busy() -> Iterator[None]:
    """Around a unit of work: a locked or read-only database is raised as :class:`Busy`."""
    try:
        yield
    except (DBAPIError, sqlite3.OperationalError) as exc:
        why = busy_reason(exc)
        if why is None:
            raise
        raise Busy("database_locked" if why == "locked" else "database_read_only") from exc


def asks_retry(exc: BaseException) -> bool:
    """Whether ``exc`` (or the driver error behind a :class:`Busy`) is a deadlock or a
    serialization failure: the database rolled the transaction back and asks for it again."""
    for e in (exc, exc.__cause__):
        orig = e.orig if isinstance(e, DBAPIError) else e
        sqlstate = getattr(orig, "sqlstate", None) or getattr(orig, "pgcode", None)
        if sqlstate in RETRY_SQLSTATES:
            return True
    return False


def retried(fn: Callable[P, R]) -> Callable[P, R]:
    """Run a whole transaction again (at most ``ATTEMPTS`` tries) when the database asks for it.

    For functions whose every write is inside one transaction that they open and commit
    themselves (the engine's actions): a failed try left nothing behind."""

    @functools.wraps(fn)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        for attempt in range(1, ATTEMPTS + 1):
            try:
                return fn(*args, **kwargs)
            except (Busy, DBAPIError) as exc:
                if attempt == ATTEMPTS or not asks_retry(exc):
                    raise
                time.sleep(random.uniform(0, 0.002 * attempt))  # the two apart, briefly
        raise AssertionError("unreachable")  # pragma: no cover

    return wrapper
