"""A recipient's and a sender's actions on a message: read, confirm a DING, delete; revoke, DING."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from sqlalchemy import Connection, and_, select, update

from workflow import dings
from workflow.channels import KINDS
from workflow.engine import sql
from workflow.engine.context import Action, ActionInput, Outcome
from workflow.engine.sql import ITEMS
from workflow.errors import Forbidden, InvalidAction, NotFound
from workflow.messages.common import DINGS, require_message
from workflow.refusals import quoted

if TYPE_CHECKING:
    from workflow.engine.core import Engine


def read(engine: Engine, user_id: int, item_id: int) -> Outcome:
    """The recipient opened the message: confirmation (已读) and, if not yet, delivery."""
    return engine.open(user_id, item_id)


def confirm_ding(engine: Engine, user_id: int, item_id: int) -> int:
    """The person clicked 确认收到 on a DING of their work item (a message's DING, or an urge
    on an approval step): every open DING of the item is confirmed, and the item is confirmed
    (read) if it was not. Returns how many DINGs it confirmed (0 if none was waiting: a second
    click changes nothing)."""
    with engine.db.transaction() as s:
        a = Action(engine, s, user_id, engine.clock())
        a.load_item(item_id)
        assert a.item is not None
        waiting = DINGS.c.item_id == item_id, DINGS.c.confirmed_at.is_(None)
        confirmed = (
            a.conn.execute(
                update(DINGS).where(*waiting).values(confirmed_at=a.now).returning(DINGS.c.id)
            )
            .scalars()
            .all()
        )
        if not confirmed:
            return 0
        if a.item["confirmed_at"] is None:
            a.conn.execute(sql.CONFIRM, {"b_item": item_id, "b_at": a.now})
        a.event("ding_confirm", item=item_id, dings=list(confirmed))
        a.bump = False
        a.write_flow()
        return len(confirmed)


def delete(engine: Engine, user_id: int, item_id: int) -> Outcome:
    """Delete a message from the person's own list (for them only). An open recipient item is
    handled (deleted); the sender's items are only hidden. Deleting twice changes nothing."""
    with engine.db.transaction() as s:
        a = Action(engine, s, user_id, engine.clock())
        a.load_item(item_id)
        require_message(a)
        assert a.item is not None
        if a.item["role"] == "recipient" and a.item["status"] == "open":
            a.input = ActionInput(action="delete")
            a.fire("finish")
        elif _hidden(a.conn, item_id):
            return Outcome(a.flow["id"], a.flow["state"], a.flow["version"], item_id)
        else:
            a.event("delete", item=item_id)
        a.bump = False  # for that person only: the sender's page is not stale
        if a.item["role"] == "sender":
            mine = and_(ITEMS.c.flow_id == a.flow["id"], ITEMS.c.user_id == user_id,
                        ITEMS.c.role == "sender")  # fmt: skip
        else:
            mine = ITEMS.c.id == item_id
        a.conn.execute(update(ITEMS).where(mine).values(hidden=True))
        return a.write_flow()


def delete_sent(engine: Engine, sender_id: int, flow_id: int) -> Outcome:
    """The sender deletes a message from their sent list (recipients keep theirs)."""
    with engine.db.read() as s:
        item = s.scalar(
            select(ITEMS.c.id)
            .where(ITEMS.c.flow_id == flow_id, ITEMS.c.user_id == sender_id,
                   ITEMS.c.role == "sender")
            .order_by(ITEMS.c.id.desc())
            .limit(1)
        )  # fmt: skip
    if item is None:
        raise NotFound("message_not_sent_by_you", message=flow_id)
    return delete(engine, sender_id, item)


def _hidden(conn: Connection, item_id: int) -> bool:
    return bool(conn.execute(select(ITEMS.c.hidden).where(ITEMS.c.id == item_id)).scalar())


def revoke(engine: Engine, sender_id: int, flow_id: int, *, version: int | None = None) -> Outcome:
    """The sender takes the message back (撤回) within the definition's ``revoke_within``.

    Every open recipient item is closed; recipients see "已撤回" and no longer the text.
    Raises: Forbidden (not the sender), FlowClosed (revoked already), RevokeExpired.
    """
    with engine.db.transaction() as s:
        a = _senders_action(engine, s, sender_id, flow_id, "revoke", version)
        a.fire("revoke")
        return a.write_flow(ended_at=a.now, outcome="revoked")


def _senders_action(
    engine: Engine, s: Any, sender_id: int, flow_id: int, verb: str, version: int | None
) -> Action:
    """The sender's action on their message, locked and checked: theirs, not revoked, current."""
    a = Action(engine, s, sender_id, engine.clock())
    a.load_flow(flow_id)
    require_message(a)
    if a.flow["initiator_id"] != sender_id:
        raise Forbidden("revoke_not_sender" if verb == "revoke" else "ding_not_sender")
    if a.flow["state"] == "withdrawn":
        raise a._moved_on()
    a.require_open(version)
    return a


@dataclass
class DingResult:
    """What a DING did: the people it went to and the sender's DINGs used today."""

    user_ids: list[int]
    used: int


def ding(
    engine: Engine,
    sender_id: int,
    flow_id: int,
    *,
    user_ids: Sequence[int] | None = None,
    channel: str | None = None,
) -> DingResult:
    """Turn the message into a DING (钉) for recipients who have not confirmed it.

    One DING of the sender's daily quota, whatever the number of people. ``user_ids``: some of
    the recipients (default: all who have not confirmed). ``channel``: sms, voice or email
    (default: each person's own setting). Raises Forbidden (not the sender), FlowClosed,
    NobodyToDing, DingQuotaExceeded.
    """
    with engine.db.transaction() as s:
        a = _senders_action(engine, s, sender_id, flow_id, "DING", None)
        fire_ding(a, user_ids, channel)
        a.write_flow()
        req = dings.request_of(a)
        return DingResult([t[1] for t in req.targets], req.used)


def fire_ding(a: Action, user_ids: Sequence[int] | None, channel: str | None) -> None:
    if channel is not None and channel not in KINDS:
        raise InvalidAction("channel_unknown", value=quoted(channel), allowed=list(KINDS))
    a.feature = dings.DingRequest(user_ids=user_ids, channel=channel)
    a.fire("ding")
    a.bump = False
