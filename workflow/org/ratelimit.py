"""Requests counted per person in a fixed window (``rate_counts``): the directory's guard against
someone scraping the company's phone list (Art. 5, 21).

A window opens at a person's first request and lasts ``Rate.window``; within it at most
``Rate.limit`` requests are served, the next ones are refused with :class:`RateLimited` saying
when the window ends. The count is one ``INSERT … ON CONFLICT DO UPDATE … RETURNING`` statement,
atomic on SQLite and PostgreSQL alike, so two requests at once are both counted (never lost to a
read-then-write race). A refused request is not counted: its transaction rolls back.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import case, literal
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from workflow.errors import RateLimited
from workflow.store.db import Database
from workflow.store.models import RateCount

RATES = RateCount.__table__
#: the directory's window (its limit is the setting BANLI_DIRECTORY_RATE)
DIRECTORY_WINDOW = timedelta(minutes=10)


@dataclass(frozen=True)
class Rate:
    """At most ``limit`` requests per ``window``; a limit of 0 means no limit."""

    limit: int
    window: timedelta = DIRECTORY_WINDOW


@dataclass(frozen=True)
class Counted:
    """The requests counted in the current window (this one included) and when it opened."""

    count: int
    window_start: datetime


def hit(db: Database, scope: str, key: str, now: datetime, rate: Rate) -> Counted:
    """Count one request of ``key`` (a person's id) under ``scope`` ("directory").

    Raises:
        RateLimited: ``rate.limit`` requests were already served in this window; nothing is
            counted and ``until`` says when the window ends.
    """
    if rate.limit <= 0:
        return Counted(0, now)
    with db.write() as s:
        insert = pg_insert if db.dialect == "postgresql" else sqlite_insert
        at = literal(now, RATES.c.window_start.type)
        expired = RATES.c.window_start <= now - rate.window
        stmt = (
            insert(RATES)
            .values(scope=scope, key=key, window_start=now, count=1)
            .on_conflict_do_update(
                index_elements=[RATES.c.scope, RATES.c.key],
                set_={
                    "count": case((expired, 1), else_=RATES.c.count + 1),
                    "window_start": case((expired, at), else_=RATES.c.window_start),
                },
            )
            .returning(RATES.c.count, RATES.c.window_start)
        )
        count, start = s.execute(stmt).one()
        if count > rate.limit:
            # raising rolls this transaction back: a refused request does not count
            raise RateLimited(
                "directory_rate_limited",
                count=rate.limit,
                minutes=round(rate.window.total_seconds() / 60),
                until=start + rate.window,
            )
    return Counted(count, start)
