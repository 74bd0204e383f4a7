"""Delivery outcomes: a device fetched the messages, a channel delivered or failed a DING."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import Connection, bindparam, select, update

from workflow.engine.context import Action
from workflow.engine.sql import ITEMS
from workflow.messages.common import DINGS
from workflow.messages.queries import _UNREAD

if TYPE_CHECKING:
    from workflow.engine.core import Engine


def mark_delivered(engine: Engine, user_id: int, limit: int = 500) -> int:
    """The person's device fetched their messages: every message sent to them and not yet
    delivered now has its delivery effect. Cheap when there is none (one indexed read)."""
    with engine.db.read() as s:
        pending = s.execute(_UNDELIVERED, {"b_user": user_id, "b_limit": limit}).all()
    if not pending:
        return 0
    done = 0
    with engine.db.transaction() as s:
        by_flow: dict[int, list[int]] = {}
        for item_id, flow_id in pending:
            by_flow.setdefault(flow_id, []).append(item_id)
        for flow_id, items in sorted(by_flow.items()):
            a = Action(engine, s, user_id, engine.clock())
            a.load_flow(flow_id)
            changed = a.conn.execute(
                update(ITEMS)
                .where(ITEMS.c.id.in_(items), ITEMS.c.delivered_at.is_(None),
                       ITEMS.c.status != "cancelled")
                .values(delivered_at=a.now)
                .returning(ITEMS.c.id)
            ).scalars().all()  # fmt: skip
            if changed:
                a.event("delivered", items=list(changed), via="app")
                a.bump = False
                a.write_flow()
                done += len(changed)
    return done


def fetch_unread(engine: Engine, user_id: int) -> int:
    """What a page's navigation does: deliver the person's undelivered messages (as
    :func:`mark_delivered`) and count those still unread (as ``unread_count``). Usually nothing
    is undelivered: one read transaction with both statements instead of two transactions."""
    with engine.db.read() as s:
        pending = s.execute(_UNDELIVERED, {"b_user": user_id, "b_limit": 1}).first()
        if pending is None:
            return s.connection().execute(_UNREAD, {"b_user": user_id}).scalar_one()
    mark_delivered(engine, user_id)
    with engine.db.read() as s:
        return s.connection().execute(_UNREAD, {"b_user": user_id}).scalar_one()


_UNDELIVERED = (
    select(ITEMS.c.id, ITEMS.c.flow_id)
    .where(ITEMS.c.user_id == bindparam("b_user"), ITEMS.c.delivered_at.is_(None))
    .order_by(ITEMS.c.id)
    .limit(bindparam("b_limit"))
)


def ding_delivered(engine: Engine, ding_id: int, via: str, at: datetime | None = None) -> bool:
    """A channel accepted the DING: it is delivered, and so is the message if it was not yet."""
    return _ding_outcome(engine, ding_id, at, via=via)


def ding_failed(engine: Engine, ding_id: int, reason: str, at: datetime | None = None) -> bool:
    """The DING's delivery failed for good: shown as failed with the reason; no delivery effect."""
    return _ding_outcome(engine, ding_id, at, failure=reason)


def _ding_outcome(
    engine: Engine, ding_id: int, at: datetime | None, via: str = "", failure: str | None = None
) -> bool:
    with engine.db.transaction() as s:
        conn = s if isinstance(s, Connection) else s.connection()
        row = conn.execute(select(DINGS).where(DINGS.c.id == ding_id)).first()
        # A job runs at least once: record each outcome once. A DING that failed may still be
        # delivered later (an administrator retried its dead job): success then wins.
        if row is None or row.status == "delivered" or (failure and row.status == "failed"):
            return False
        a = Action(engine, s, row.user_id, at or engine.clock())
        a.load_flow(row.flow_id)
        if failure is None:
            values: dict[str, Any] = {"status": "delivered", "delivered_at": a.now, "failure": None}
        else:
            values = {"status": "failed", "failure": failure[:1000]}
        a.conn.execute(update(DINGS).where(DINGS.c.id == ding_id).values(**values))
        if failure is None:
            first = a.conn.execute(
                update(ITEMS)
                .where(ITEMS.c.id == row.item_id, ITEMS.c.delivered_at.is_(None))
                .values(delivered_at=a.now)
            ).rowcount
            a.event("delivered", items=[row.item_id] if first else [], ding=ding_id, via=via)
        else:
            a.conn.execute(
                update(ITEMS)
                .where(ITEMS.c.id == row.item_id, ITEMS.c.delivered_at.is_(None))
                .values(failure=failure[:1000])
            )
            a.event("delivery_failed", item=row.item_id, ding=ding_id, reason=failure[:1000])
        a.bump = False
        a.write_flow()
        return True


def delivery_hooks(engine: Engine) -> dict[str, Any]:
    """``on_sent`` / ``on_failed`` for :func:`workflow.delivery.make_deliver_handler`: record a
    DING's delivery or failure on the message (a delivery without ``ding_id`` is left alone)."""

    def on_sent(job: Any, receipt: Any) -> None:
        ding_id = job.payload.get("ding_id")
        if isinstance(ding_id, int):
            ding_delivered(engine, ding_id, receipt.channel)

    def on_failed(job: Any, reason: str) -> None:
        ding_id = job.payload.get("ding_id")
        if isinstance(ding_id, int):
            ding_failed(engine, ding_id, reason)

    return {"on_sent": on_sent, "on_failed": on_failed}
