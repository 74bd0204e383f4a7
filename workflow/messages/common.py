"""What every part of a message feature shares: the kind and step names, its refusals, a message's sent time."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import Connection, exists, select

from workflow.engine.context import Action
from workflow.engine.sql import ITEMS, VISITS
from workflow.errors import InvalidAction, NotFound
from workflow.store.models import Ding

if TYPE_CHECKING:
    pass


MESSAGE = "message"


SENT = "sent"


#: The most people one message may reach (units are expanded to their members).
MAX_RECIPIENTS = 5000


DINGS = Ding.__table__


class RevokeExpired(InvalidAction):
    """The time the definition allows for revoking a message has passed."""


class NobodyToDing(InvalidAction):
    """Every recipient asked for has already confirmed the message (or none is left)."""


def sent_time(conn: Connection, flow_id: int) -> datetime:
    """When the message was sent: when it entered its ``sent`` step."""
    at = conn.execute(
        select(VISITS.c.entered_at)
        .where(VISITS.c.flow_id == flow_id, VISITS.c.step == SENT)
        .order_by(VISITS.c.id)
        .limit(1)
    ).scalar()
    if at is None:
        raise NotFound("message_never_sent", message=flow_id)
    return at


def attachments_of(form: dict[str, Any]) -> list[dict[str, Any]]:
    files = form.get("attachments")
    return list(files) if isinstance(files, list) else []


def require_message(a: Action) -> None:
    if a.compiled is None or a.compiled.spec.kind != MESSAGE:
        raise InvalidAction("not_a_message", flow=a.flow["id"])


def pending_ding() -> Any:
    return exists().where(DINGS.c.item_id == ITEMS.c.id, DINGS.c.confirmed_at.is_(None))
