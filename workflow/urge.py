"""Urging (催办): the host or the initiator DINGs a late person on an open step, within the daily quota.

An urge is a DING on an approval flow: :func:`urge` fires the step's ``ding`` trigger, which this
module registers for every step of an approval definition (``workflow.engine.hooks``). Its guard
takes one of the urger's DINGs for today (``workflow.dings``, shared with a message's DING), its
callback records the DING, queues its ``deliver`` job and appends an ``urge`` event to the flow's
audit chain, all in the urging action's one transaction, without bumping the flow's version.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from sqlalchemy import Connection, select

from workflow import dings
from workflow.channels import KINDS
from workflow.dings import DingQuotaExceeded, dings_used, dings_used_today, take_ding
from workflow.engine import sql
from workflow.engine.context import Action
from workflow.engine.hooks import Trigger, register_trigger
from workflow.errors import Forbidden, InvalidAction, NotFound
from workflow.refusals import quoted

if TYPE_CHECKING:
    from workflow.engine.core import Engine

__all__ = ["DingQuotaExceeded", "dings_used", "dings_used_today", "take_ding", "urge"]


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
        req = a.feature = dings.DingRequest(
            user_ids=[row["user_id"]], channel=channel, note=note,
            targets=[(item_id, row["user_id"], channel)],
        )  # fmt: skip
        a.fire("ding")
        a.bump = False
        a.write_flow()
        return req.used


def urge_allowed(a: Action) -> bool:
    """Guard of an approval step's ``ding``: the urger has a DING left today (raises if not)."""
    dings.request_of(a).used = dings.take(a)
    return True


def urged(a: Action) -> None:
    """After an approval step's ``ding``: the DING recorded and queued, the ``urge`` event."""
    assert a.item is not None
    req = dings.request_of(a)
    ((item_id, user_id, channel),) = req.targets
    step_id, note = a.visit["step"], req.note
    step = a.compiled.step(step_id).name.zh  # type: ignore[union-attr]
    title = a.flow["title"]
    body = f"{a.actor_name}催您尽快办理「{title}」的“{step}”步骤。"
    if note:
        body += f"附言：{note}"
    n = _urges_of(a.conn, a.flow["id"], item_id) + 1
    # An urge is a DING: recorded like a message's, so the late person confirms it with a
    # click and the host sees whether the channel delivered it (workflow.messages).
    ding_id = dings.record(
        a, item_id, user_id, channel, f"【催办】{title}", body, f"urge:{item_id}:{n}"
    )
    a.event("urge", item=item_id, to=user_id, channel=channel, step=step_id,
            note=note, ding=ding_id)  # fmt: skip


def _require_may_urge(a: Action, visit_id: int) -> None:
    if a.flow["initiator_id"] == a.actor_id:
        return
    host = a.conn.execute(
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


# Every open step of an approval may be urged: a ``ding`` on each, the flow staying where it is.
register_trigger(
    "approval", Trigger("ding", where=lambda step: True, guard=urge_allowed, after=urged)
)
