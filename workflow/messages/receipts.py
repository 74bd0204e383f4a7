"""Receipts: per recipient, sent, failed, delivered, read, handled and their DING, for the sender."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import select

from workflow.access import may_see_receipts
from workflow.engine.history import dings_of
from workflow.engine.records import DingState
from workflow.engine.sql import FLOWS, ITEMS, UNITS, USERS
from workflow.errors import Forbidden, Hidden, NotFound
from workflow.messages.common import MESSAGE

if TYPE_CHECKING:
    from workflow.engine.core import Engine


@dataclass
class Receipt:
    """One recipient's state as the sender sees it."""

    item_id: int
    user_id: int
    name: str
    unit: str
    #: revoked | deleted | replied | relayed | read | delivered | failed | sent
    status: str
    delivered_at: datetime | None
    confirmed_at: datetime | None
    handled_at: datetime | None
    action: str | None
    failure: str | None
    ding: DingState | None = None


def receipts(engine: Engine, viewer_id: int, flow_id: int) -> list[Receipt]:
    """Per recipient: sent, failed (with the reason), delivered, read, handled, and their DING.

    Only the sender and administrators see them. Raises NotFound, Forbidden.
    """
    with engine.db.read() as s:
        c = s.connection()
        flow = c.execute(
            select(FLOWS.c.initiator_id, FLOWS.c.kind, FLOWS.c.state).where(FLOWS.c.id == flow_id)
        ).first()
        if flow is None or not engine.may_see(s, viewer_id, flow_id):
            raise Hidden("message_hidden", message=flow_id)
        if flow.kind != MESSAGE:
            raise NotFound("message_not_found", message=flow_id)
        if not may_see_receipts(c, viewer_id, flow.initiator_id):
            raise Forbidden("receipts_not_sender")
        rows = c.execute(
            select(ITEMS.c.id, ITEMS.c.user_id, ITEMS.c.status, ITEMS.c.delivered_at,
                   ITEMS.c.confirmed_at, ITEMS.c.handled_at, ITEMS.c.action, ITEMS.c.failure,
                   USERS.c.name, UNITS.c.name.label("unit"))
            .join(USERS, USERS.c.id == ITEMS.c.user_id)
            .join(UNITS, UNITS.c.id == USERS.c.unit_id)
            .where(ITEMS.c.flow_id == flow_id, ITEMS.c.role == "recipient")
            .order_by(ITEMS.c.id)
        ).all()  # fmt: skip
        dings = dings_of(c, flow_id)
    return [
        Receipt(
            item_id=r.id,
            user_id=r.user_id,
            name=r.name,
            unit=r.unit,
            status=_status(r, flow.state),
            delivered_at=r.delivered_at,
            confirmed_at=r.confirmed_at,
            handled_at=r.handled_at,
            action=r.action,
            failure=r.failure if r.delivered_at is None else None,
            ding=dings.get(r.id),
        )
        for r in rows
    ]


HANDLED = {"reply": "replied", "relay": "relayed", "delete": "deleted"}


def _status(r: Any, state: str) -> str:
    if r.status == "done":
        return HANDLED.get(r.action, "read")
    if r.status == "cancelled" and state == "withdrawn" and r.confirmed_at is None:
        return "revoked"
    if r.confirmed_at is not None:
        return "read"
    if r.delivered_at is not None:
        return "delivered"
    return "failed" if r.failure else "sent"
