"""The message machine's guards and callbacks (revoke, ding), registered in workflow.engine.hooks."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import Connection, select

from workflow import calendar, dings
from workflow.engine.context import Action
from workflow.engine.hooks import Trigger, register_trigger
from workflow.engine.sql import ITEMS, USERS
from workflow.errors import InvalidAction
from workflow.messages.common import NobodyToDing, RevokeExpired, sent_time
from workflow.refusals import Duration

if TYPE_CHECKING:
    from workflow.engine.core import Engine


def revoke_until(engine: Engine, conn: Connection, flow: dict[str, Any]) -> datetime | None:
    """Until when the message may be revoked; None once closed or where it may not be."""
    compiled = engine.registry.get(conn, flow["definition_id"])
    step = compiled.spec.steps.get(flow["state"])
    if step is None or step.revoke_within is None:
        return None
    return calendar.due_at(sent_time(conn, flow["id"]), step.revoke_within, engine.tz)


def revoke_allowed(a: Action) -> bool:
    """Guard of ``revoke``: within ``revoke_within`` of sending (raises RevokeExpired if not)."""
    until = revoke_until(a.engine, a.conn, a.flow)
    if until is None or a.now > until:
        step = a.compiled.step(a.visit["step"])  # type: ignore[union-attr]
        if until is None:
            raise RevokeExpired("revoke_closed")
        raise RevokeExpired(
            "revoke_expired",
            within=Duration(step.revoke_within),
            until=until.astimezone(a.engine.tz),
        )
    return True


def ding_allowed(a: Action) -> bool:
    """Guard of ``ding``: someone is left to DING, and the sender has a DING left today."""
    rows = a.conn.execute(
        select(ITEMS.c.id, ITEMS.c.user_id, ITEMS.c.confirmed_at, USERS.c.ding_channel)
        .join(USERS, USERS.c.id == ITEMS.c.user_id)
        .where(
            ITEMS.c.visit_id == a.visit["id"],
            ITEMS.c.role == "recipient",
            ITEMS.c.status != "cancelled",
        )
        .order_by(ITEMS.c.id)
    ).all()
    req = dings.request_of(a)
    wanted = req.user_ids
    if wanted is not None:
        known = {r.user_id for r in rows}
        strangers = [u for u in wanted if u not in known]
        if strangers:
            raise InvalidAction("ding_not_recipient", user=strangers[0])
        rows = [r for r in rows if r.user_id in set(wanted)]
    targets = [r for r in rows if r.confirmed_at is None]
    if not targets:
        raise NobodyToDing("nobody_to_ding")
    req.targets = [(r.id, r.user_id, req.channel or r.ding_channel or "sms") for r in targets]
    req.used = dings.take(a)
    return True


def dinged(a: Action) -> None:
    """After ``ding``: one DING record and one queued channel delivery per person, one event."""
    title = a.flow["title"]
    body = f"{a.actor_name}给您发了一条钉消息：「{title}」。请打开 Banli 查看，并点击“确认收到”。"
    sent = []
    req = dings.request_of(a)
    for item_id, user_id, channel in req.targets:
        ding_id = dings.record(
            a, item_id, user_id, channel, f"【DING】{title}", body, "ding:{ding}"
        )
        sent.append([item_id, user_id, channel, ding_id])
    a.event("ding", step=a.visit["step"], to=sent, used=req.used)


register_trigger(
    "message",
    Trigger("revoke", where=lambda step: step.revoke_within is not None,
            guard=revoke_allowed, dest="withdrawn"),
)  # fmt: skip


register_trigger("message", Trigger("ding", where=lambda step: step.ding, guard=ding_allowed,
                                    after=dinged))  # fmt: skip
