"""Who is online (Art. 16): seen by any of their sessions within the last few minutes.

``users.last_seen_at`` is written with the session's own ``last_seen_at`` (at sign-in, then at
most once a minute per session: ``workflow.sessions``), so "online" costs no extra write.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime, timedelta

from sqlalchemy import select

from workflow.store.db import ConnectionOrSession
from workflow.store.models import User

#: seen within this long = online (a page view touches the session at most once a minute)
ONLINE_WITHIN = timedelta(minutes=5)
USERS = User.__table__


def is_online(last_seen_at: datetime | None, now: datetime) -> bool:
    """Whether someone last seen at ``last_seen_at`` counts as online at ``now``."""
    return last_seen_at is not None and now - last_seen_at <= ONLINE_WITHIN


def online_ids(tx: ConnectionOrSession, user_ids: Iterable[int], now: datetime) -> set[int]:
    """Which of ``user_ids`` are online now (active people seen within ONLINE_WITHIN)."""
    ids = list(set(user_ids))
    found: set[int] = set()
    for start in range(0, len(ids), 500):
        found.update(tx.execute(
            select(USERS.c.id).where(USERS.c.id.in_(ids[start:start + 500]),
                                     USERS.c.status == "active",
                                     USERS.c.last_seen_at >= now - ONLINE_WITHIN)
        ).scalars())  # fmt: skip
    return found
