"""Urging (催办): the host or the initiator DINGs a late person on an open step, within the daily quota.

A DING is counted per sender per local day (the organisation's time zone) in ``ding_counts``,
atomically in the database (Art. 20: at most 60 a day, the ``ding_limit`` setting), so two processes can
never together exceed the limit. An urge takes one DING, queues a ``deliver`` job to the late
person and appends an ``urge`` event to the flow's audit chain, all in one transaction.
"""

from __future__ import annotations

from datetime import date
from typing import TYPE_CHECKING

from sqlalchemy import Connection, insert, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from workflow.channels import KINDS
from workflow.delivery import enqueue_delivery
from workflow.engine import sql
from workflow.engine.context import Action
from workflow.errors import Forbidden, InvalidAction, NotFound
from workflow.refusals import quoted
from workflow.store.models import Ding, DingCount

if TYPE_CHECKING:
    from workflow.engine.core import Engine

DINGS = DingCount.__table__
DING_ROWS = Ding.__table__


class DingQuotaExceeded(InvalidAction):
    """The sender has sent today's allowed number of DINGs (Art. 20)."""


def take_ding(conn: Connection, sender_id: int, day: date, limit: int) -> int:
    """Take one of ``sender_id``'s DINGs for ``day``; the count after taking it.

    Atomic in the database: the row is created if missing, then incremented only while below
    ``limit`` (the engine's ``settings.ding_limit``). Raises DingQuotaExceeded when none is left.
    """
    insert = pg_insert if conn.dialect.name == "postgresql" else sqlite_insert
    conn.execute(
        insert(DINGS)
        .values(sender_id=sender_id, day=day, count=0)
        .on_conflict_do_nothing(index_elements=["sender_id", "day"])
    )
    taken = conn.execute(
        update(DINGS)
        .where(DINGS.c.sender_id == sender_id, DINGS.c.day == day, DINGS.c.count < limit)
        .values(count=DINGS.c.count + 1)
        .returning(DINGS.c.count)
    ).first()
    if taken is None:
        raise DingQuotaExceeded("ding_quota_exceeded", limit=limit)
    return int(taken[0])


def dings_used(conn: Connection, sender_id: int, day: date) -> int:
    """How many DINGs ``sender_id`` has sent on ``day``."""
    stmt = select(DINGS.c.count).where(DINGS.c.sender_id == sender_id, DINGS.c.day == day)
    return int(conn.execute(stmt).scalar() or 0)


def urge(
    engine: Engine, actor_id: int, item_id: int, *, channel: str = "sms", note: str | None = None
) -> int:
    """The step's host or the flow's initiator urges the owner of open work item ``item_id``.

    One transaction: takes one of the actor's DINGs for today, queues a delivery (key
    ``urge:<item>:<n>``, so every urge is its own message) and appends an ``urge`` audit event
    without bumping the flow version. Returns the actor's DINGs used today, this one included.

    Raises:
        NotFound, Forbidden (neither host of the step nor initiator), InvalidAction (own item,
        unknown channel), AlreadyHandled / FlowClosed (the item is not open), DingQuotaExceeded.
    """
    if channel not in KINDS:
        raise InvalidAction("channel_unknown", value=quoted(channel), allowed=list(KINDS))
    with engine.db.transaction() as conn:
        flow_id = conn.execute(
            select(sql.ITEMS.c.flow_id).where(sql.ITEMS.c.id == item_id)
        ).scalar()
        if flow_id is None:
            raise NotFound("item_not_found", item=item_id)
        a = Action(engine, conn, actor_id, engine.clock())
        a.load_flow(flow_id)  # locks the flow: urges of one flow queue behind each other
        row = conn.execute(sql.LOAD_ITEM, {"b_item": item_id}).mappings().one()
        a.item = {"id": item_id, **{k: row[k] for k in sql.ITEM_KEYS}}
        a.visit = {"id": row["visit_id"], **{k: row[k] for k in sql.VISIT_KEYS}}
        _require_may_urge(a, row["visit_id"])
        if row["user_id"] == actor_id:
            raise InvalidAction("urge_self")
        a.require_open(None)

        used = take_ding(
            conn, actor_id, a.now.astimezone(engine.tz).date(), engine.settings.ding_limit
        )
        n = _urges_of(conn, flow_id, item_id) + 1
        step = a.compiled.step(row["step"]).name.zh  # type: ignore[union-attr]
        title = a.flow["title"]
        body = f"{a.actor_name}催您尽快办理「{title}」的“{step}”步骤。"
        if note:
            body += f"附言：{note}"
        # An urge is a DING: recorded like a message's, so the late person confirms it with a
        # click and the host sees whether the channel delivered it (workflow.messages).
        ding_id = conn.execute(
            insert(DING_ROWS).returning(DING_ROWS.c.id),
            {"flow_id": flow_id, "item_id": item_id, "sender_id": actor_id,
             "user_id": row["user_id"], "channel": channel, "sent_at": a.now, "status": "sent"},
        ).scalar_one()  # fmt: skip
        enqueue_delivery(
            conn,
            row["user_id"],
            channel,
            f"【催办】{title}",
            body,
            f"urge:{item_id}:{n}",
            a.now,
            now=a.now,
            extra={"ding_id": ding_id},
        )
        a.event("urge", item=item_id, to=row["user_id"], channel=channel, step=row["step"],
                note=note, ding=ding_id)  # fmt: skip
        a.bump = False
        a.write_flow()
        return used


def _require_may_urge(a: Action, visit_id: int) -> None:
    if a.flow["initiator_id"] == a.actor_id:
        return
    host = a.c.execute(
        select(sql.ITEMS.c.id).where(
            sql.ITEMS.c.visit_id == visit_id,
            sql.ITEMS.c.user_id == a.actor_id,
            sql.ITEMS.c.role == "host",
            sql.ITEMS.c.status == "open",
        )
    ).first()
    if host is None:
        raise Forbidden("urge_not_allowed")


def _urges_of(conn: Connection, flow_id: int, item_id: int) -> int:
    """Earlier urges of this item, from the flow's append-only audit chain."""
    stmt = select(sql.EVENTS.c.data).where(
        sql.EVENTS.c.chain == f"flow:{flow_id}", sql.EVENTS.c.kind == "urge"
    )
    return sum(1 for (data,) in conn.execute(stmt) if data.get("item") == item_id)


def dings_used_today(engine: Engine, sender_id: int) -> int:
    """How many DINGs ``sender_id`` has sent today, in the organisation's time zone."""
    with engine.db.read() as s:
        return dings_used(s.connection(), sender_id, engine.clock().astimezone(engine.tz).date())
