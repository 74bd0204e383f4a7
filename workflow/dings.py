"""DINGs (钉): the sender's daily quota and the DING rows with their channel deliveries.

Both ways of sending one go through a ``ding`` trigger on the flow's machine — a message's DING
(``workflow.messages``) and an urge on an approval step (``workflow.urge``) — and both take the
quota in their guard (:func:`take`) and record each DING in their callback (:func:`record`).

A DING is counted per sender per local day (the organisation's time zone) in ``ding_counts``,
atomically in the database (Art. 20: at most 60 a day, the ``ding_limit`` setting), so two
processes can never together exceed the limit.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date
from typing import TYPE_CHECKING

from sqlalchemy import Connection, insert, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from workflow.delivery import enqueue_delivery
from workflow.errors import InvalidAction
from workflow.store.models import Ding, DingCount

if TYPE_CHECKING:
    from workflow.engine.context import Action
    from workflow.engine.core import Engine

#: one row per sender and day: how many DINGs they sent
DING_COUNTS = DingCount.__table__
#: one row per DING sent to one person about one work item
DING_ROWS = Ding.__table__


class DingQuotaExceeded(InvalidAction):
    """The sender has sent today's allowed number of DINGs (Art. 20)."""


@dataclass
class DingRequest:
    """A DING asked for: what the ``ding`` trigger's guard and callback read and find.

    The DINGing action carries it as ``a.feature`` (see workflow.engine.context.Action).
    """

    #: the people asked for (None: every recipient who has not confirmed)
    user_ids: Sequence[int] | None = None
    #: sms, voice or email (None: each person's own setting)
    channel: str | None = None
    #: an urge's note to the late person
    note: str | None = None
    #: found by the guard: (work item, person, channel) for each person DINGed
    targets: list[tuple[int, int, str]] = field(default_factory=list)
    #: set by the guard: the sender's DINGs used today, this one included
    used: int = 0


def request_of(a: Action) -> DingRequest:
    """The DING request of the action firing ``ding``."""
    if not isinstance(a.feature, DingRequest):
        raise TypeError("ding fired without a DingRequest on the action")
    return a.feature


def take_ding(conn: Connection, sender_id: int, day: date, limit: int) -> int:
    """Take one of ``sender_id``'s DINGs for ``day``; the count after taking it.

    Atomic in the database: the row is created if missing, then incremented only while below
    ``limit`` (the engine's ``settings.ding_limit``). Raises DingQuotaExceeded when none is left.
    """
    insert_ = pg_insert if conn.dialect.name == "postgresql" else sqlite_insert
    conn.execute(
        insert_(DING_COUNTS)
        .values(sender_id=sender_id, day=day, count=0)
        .on_conflict_do_nothing(index_elements=["sender_id", "day"])
    )
    taken = conn.execute(
        update(DING_COUNTS)
        .where(
            DING_COUNTS.c.sender_id == sender_id,
            DING_COUNTS.c.day == day,
            DING_COUNTS.c.count < limit,
        )
        .values(count=DING_COUNTS.c.count + 1)
        .returning(DING_COUNTS.c.count)
    ).first()
    if taken is None:
        raise DingQuotaExceeded("ding_quota_exceeded", limit=limit)
    return int(taken[0])


def take(a: Action) -> int:
    """The guards' part: take one of the actor's DINGs for today; the count after taking it."""
    day = a.now.astimezone(a.engine.tz).date()
    return take_ding(a.conn, a.actor_id, day, a.engine.settings.ding_limit)


def record(
    a: Action, item_id: int, user_id: int, channel: str, subject: str, body: str, key: str
) -> int:
    """The callbacks' part: one DING row and its queued channel delivery.

    ``key``: the delivery job's key; ``{ding}`` in it is replaced by the new DING's id.
    """
    ding_id = a.conn.execute(
        insert(DING_ROWS).returning(DING_ROWS.c.id),
        {"flow_id": a.flow["id"], "item_id": item_id, "sender_id": a.actor_id,
         "user_id": user_id, "channel": channel, "sent_at": a.now, "status": "sent"},
    ).scalar_one()  # fmt: skip
    enqueue_delivery(
        a.conn,
        user_id,
        channel,
        subject,
        body,
        key.format(ding=ding_id),
        a.now,
        now=a.now,
        extra={"ding_id": ding_id},
    )
    return int(ding_id)


def dings_used(conn: Connection, sender_id: int, day: date) -> int:
    """How many DINGs ``sender_id`` has sent on ``day``."""
    stmt = select(DING_COUNTS.c.count).where(
        DING_COUNTS.c.sender_id == sender_id, DING_COUNTS.c.day == day
    )
    return int(conn.execute(stmt).scalar() or 0)


def dings_used_today(engine: Engine, sender_id: int) -> int:
    """How many DINGs ``sender_id`` has sent today, in the organisation's time zone."""
    with engine.db.read() as s:
        return dings_used(s.connection(), sender_id, engine.clock().astimezone(engine.tz).date())
