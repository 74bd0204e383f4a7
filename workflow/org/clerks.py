"""Clerks online (Art. 16): the document clerks of a viewer's units, who has not signed in today.

Clerks (role ``clerk``) are expected to stay online. The page lists every active clerk in the
units the viewer sees for the sign-in statistics (``workflow.org.signin_stats.viewer``): those
without a presence row for today first, with their unit, last seen and mobile, and who of them
is online now (``workflow.org.presence``). A hidden mobile (``users.mobile_hidden``) is shown
only to an administrator with ``people`` over the clerk's unit.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, tzinfo

from sqlalchemy import select

from workflow.org.presence import online_ids
from workflow.org.presence_days import DAYS, local_day
from workflow.org.signin_stats import viewer
from workflow.store.db import Database
from workflow.store.models import RoleMembership, Unit, User

USERS, UNITS, ROLES = User.__table__, Unit.__table__, RoleMembership.__table__


@dataclass(frozen=True)
class Clerk:
    """One clerk as the page lists them."""

    user_id: int
    name: str
    unit: str
    mobile: str | None
    last_seen_at: datetime | None
    signed_in_today: bool
    online: bool


def clerks(db: Database, viewer_id: int, now: datetime, tz: tzinfo) -> list[Clerk]:
    """The active clerks of the viewer's units: not signed in today first, then by unit, name.

    Raises:
        Forbidden: the viewer is neither a ``stats`` administrator nor a unit head.
    """
    today = local_day(now, tz)
    with db.read() as s:
        tx = s.connection()
        seen = viewer(tx, viewer_id)
        where = [ROLES.c.role == "clerk", USERS.c.status == "active"]
        if seen.units is not None:
            where.append(USERS.c.unit_id.in_(sorted(seen.units)))
        rows = tx.execute(
            select(USERS.c.id, USERS.c.name, USERS.c.mobile, USERS.c.mobile_hidden,
                   USERS.c.unit_id, USERS.c.last_seen_at, UNITS.c.name.label("unit"))
            .join(ROLES, ROLES.c.user_id == USERS.c.id)
            .join(UNITS, UNITS.c.id == USERS.c.unit_id)
            .where(*where).distinct()
        ).all()  # fmt: skip
        ids = [r.id for r in rows]
        signed = set(
            tx.execute(select(DAYS.c.user_id).where(DAYS.c.day == today,
                                                    DAYS.c.user_id.in_(ids))).scalars()
        ) if ids else set()  # fmt: skip
        online = online_ids(tx, ids, now)
    found = [
        Clerk(r.id, r.name,
              r.unit, r.mobile if not r.mobile_hidden or seen.scope.covers("people", r.unit_id)
              else None, r.last_seen_at, r.id in signed, r.id in online)
        for r in rows
    ]  # fmt: skip
    return sorted(found, key=lambda c: (c.signed_in_today, c.unit, c.name))
