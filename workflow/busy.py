"""Telling a locked or read-only database apart from other database errors, whatever the driver."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager

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
# (one of the two is rolled back: trying again succeeds)
_POSTGRES = {"55P03": "locked", "57014": "locked", "25006": "read-only", "40P01": "locked"}


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
