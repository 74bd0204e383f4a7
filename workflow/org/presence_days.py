"""Presence days (Art. 17): the local days on which a person was signed in, one row a day.

A row ``(user_id, day, first_at)`` is written when a session opens and when a session is seen on
a new local day of the organisation's time zone (``workflow.sessions`` asks :func:`is_new_day`
before it touches a session, so a page view on a day already counted writes nothing). The insert
is ``ON CONFLICT DO NOTHING``: a phone and a PC seen at once on a new day race harmlessly, the
first one's time is kept. The sign-in statistics (``workflow.org.signin_stats``) read these rows
through ``ix_presence_days_day``.
"""

from __future__ import annotations

from datetime import date, datetime, tzinfo
from zoneinfo import ZoneInfo

from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from workflow.store.db import ConnectionOrSession
from workflow.store.models import PresenceDay

DAYS = PresenceDay.__table__
#: the settings' default time zone (``BANLI_TIMEZONE``), for callers that pass none
DEFAULT_TZ = ZoneInfo("Asia/Shanghai")


def local_day(at: datetime, tz: tzinfo | None = None) -> date:
    """The organisation's local date of the aware time ``at``."""
    return at.astimezone(tz or DEFAULT_TZ).date()


def is_new_day(last: datetime, now: datetime, tz: tzinfo | None = None) -> bool:
    """Whether ``now`` falls on a later local day than ``last`` (a presence row is due)."""
    return local_day(now, tz) > local_day(last, tz)


def mark(tx: ConnectionOrSession, user_id: int, at: datetime, tz: tzinfo | None = None) -> None:
    """Count ``user_id`` as signed in on the local day of ``at`` (a no-op if counted already)."""
    bind = tx.get_bind() if isinstance(tx, Session) else tx
    insert = pg_insert if bind.dialect.name == "postgresql" else sqlite_insert
    tx.execute(
        insert(DAYS)
        .values(user_id=user_id, day=local_day(at, tz), first_at=at)
        .on_conflict_do_nothing(index_elements=["user_id", "day"])
    )
