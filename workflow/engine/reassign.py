"""Reassignment: a person's open work items handed to a successor, one event per flow (Art. 11-12).

An administrator removing a leaver, or moving a person and ticking some of their items, hands
each open item (host, handler, co-signer, reader; never a message's sender or recipient item,
which is correspondence addressed to that person, not work of the step) to a successor. Per
flow, under the same lock the actions take (``BEGIN IMMEDIATE`` on SQLite, the flow row ``FOR
UPDATE`` on PostgreSQL), in the caller's one transaction for all flows:

- the old item is closed: ``status`` cancelled, ``action`` reassign, ``closed_by`` the
  administrator, ``closed_at`` now — never a handling effect the person did not perform;
- the successor gets an item in the same visit with the same role, delivered now — unless they
  already hold an open item of that role there, which is kept (one open item per person and role);
- the flow's chain gets one ``reassign`` event per item (replayed by ``workflow.replay``), and
  the flow's version is bumped, so a page the leaver still has open is refused as outdated.

No notification is queued: an ordinary delivery queues none either (the successor's 待办 shows
the items, each with its reason; see :func:`notes`).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import Connection, bindparam, select, update
from sqlalchemy.orm import Session

from workflow.engine import sql
from workflow.engine.context import Action
from workflow.engine.records import Note
from workflow.errors import InvalidAction

if TYPE_CHECKING:
    from workflow.engine.core import Engine

KIND = "reassign"
#: why items are reassigned: the person left (Art. 12) or moved to another unit (Art. 11)
REASONS = ("leaver", "moved")
#: the roles whose open items are work to hand over (not a message's sender / recipient)
ROLES = ("host", "handler", "co_signer", "reader")

ITEMS, FLOWS, VISITS, USERS = sql.ITEMS, sql.FLOWS, sql.VISITS, sql.USERS

_OPEN_OF = (
    select(ITEMS.c.id, ITEMS.c.flow_id, ITEMS.c.visit_id, ITEMS.c.role, ITEMS.c.delivered_at,
           VISITS.c.seq, VISITS.c.step, FLOWS.c.title, FLOWS.c.definition_id)
    .join(VISITS, VISITS.c.id == ITEMS.c.visit_id)
    .join(FLOWS, FLOWS.c.id == ITEMS.c.flow_id)
    .where(ITEMS.c.user_id == bindparam("b_user"), ITEMS.c.status == sql.OPEN,
           sql.WORK_ONLY, ITEMS.c.role.in_(ROLES))
)  # fmt: skip
OPEN_OF_USER = _OPEN_OF.order_by(ITEMS.c.flow_id, ITEMS.c.id)
OPEN_OF_USER_IN_FLOW = _OPEN_OF.where(ITEMS.c.flow_id == bindparam("b_flow")).order_by(ITEMS.c.id)
HELD_IN_FLOW = select(ITEMS.c.id, ITEMS.c.visit_id, ITEMS.c.role).where(
    ITEMS.c.flow_id == bindparam("b_flow"),
    ITEMS.c.user_id == bindparam("b_user"),
    ITEMS.c.status == sql.OPEN,
)
CLOSE = (
    update(ITEMS)
    .where(ITEMS.c.id == bindparam("b_item"), ITEMS.c.status == sql.OPEN)
    .values(status="cancelled", action=KIND, closed_at=sql.AT, closed_by=bindparam("b_actor"))
)


@dataclass(frozen=True)
class Party:
    """A person as a reassignment records them: id, name, and (for a successor) their unit now."""

    id: int
    name: str
    unit_id: int | None = None


@dataclass(frozen=True)
class OpenItem:
    """One open work item as the dialogs list it: flow, step, role and since when."""

    item_id: int
    flow_id: int
    title: str
    step: str
    step_name: str
    role: str
    since: datetime


@dataclass(frozen=True)
class Handed:
    """One item reassigned: the old item, and the successor's new one (or the one they kept)."""

    flow_id: int
    title: str
    step: str
    role: str
    old_item: int
    new_item: int
    #: the successor already held an open item of this role on the step: no new item was made
    kept: bool
    step_name: str = ""
    to_name: str = ""


def open_items(engine: Engine, conn: Connection, user_id: int) -> list[OpenItem]:
    """The person's open work items (not messages), by flow: what a reassignment would hand over."""
    out = []
    for r in conn.execute(OPEN_OF_USER, {"b_user": user_id}):
        spec = engine.registry.get(conn, r.definition_id).spec
        name = spec.steps[r.step].name.zh if r.step in spec.steps else r.step
        out.append(OpenItem(r.id, r.flow_id, r.title, r.step, name, r.role, r.delivered_at))
    return out


def reassign(
    engine: Engine,
    session: Session,
    *,
    actor: Party,
    person: Party,
    successor: Party,
    reason: str,
    now: datetime,
    only: Iterable[int] | None = None,
) -> list[Handed]:
    """Hand ``person``'s open items (all, or those in ``only``) to ``successor``, in ``session``'s
    transaction; the caller checked who may do it and that the successor is active."""
    if reason not in REASONS:
        raise InvalidAction("reassign_reason_unknown", value=reason)
    conn = session.connection()
    wanted = None if only is None else set(only)
    flows: dict[int, list[Any]] = defaultdict(list)
    for row in conn.execute(OPEN_OF_USER, {"b_user": person.id}):
        if wanted is None or row.id in wanted:
            flows[row.flow_id].append(row)
    locks = conn.dialect.name != "sqlite"
    out: list[Handed] = []
    for flow_id, rows in flows.items():
        a = Action(engine, session, actor.id, now)
        a.actor_name = actor.name
        if locks:
            # PostgreSQL: lock the flow as the actions do, then read its items again: one the
            # person handled meanwhile is no longer open and is not reassigned.
            conn.execute(sql.LOCK_FLOW, {"b_flow": flow_id})
            rows = [
                r
                for r in conn.execute(
                    OPEN_OF_USER_IN_FLOW, {"b_user": person.id, "b_flow": flow_id}
                )
                if wanted is None or r.id in wanted
            ]
            if not rows:
                continue
        a.flow = dict(conn.execute(sql.LOAD_FLOW, {"b_flow": flow_id}).mappings().one())
        out += _hand_flow(a, rows, person, successor, reason)
        a.write_flow()
    return out


def _hand_flow(
    a: Action, rows: list[Any], person: Party, successor: Party, reason: str
) -> list[Handed]:
    """One flow's items: close each, give (or keep) the successor's, record one event each."""
    conn = a.conn
    held = {(r.visit_id, r.role): r.id for r in conn.execute(
        HELD_IN_FLOW, {"b_flow": a.flow["id"], "b_user": successor.id})}  # fmt: skip
    out = []
    for r in rows:
        conn.execute(CLOSE, {"b_item": r.id, "b_at": a.now, "b_actor": a.actor_id})
        kept = held.get((r.visit_id, r.role))
        if kept is None:
            new = conn.execute(sql.INSERT_ITEM, {
                "flow_id": a.flow["id"], "visit_id": r.visit_id, "user_id": successor.id,
                "unit_id": successor.unit_id, "role": r.role, "status": "open",
                "delivered_at": a.now, "confirmed_at": None}).scalar_one()  # fmt: skip
            held[(r.visit_id, r.role)] = new
            a.delivered.append(new)
        a.event(KIND, item=r.id, step=r.step, visit=r.seq, role=r.role, reason=reason,
                **{"from": person.id}, from_name=person.name, to=successor.id,
                to_name=successor.name, new=kept or new, kept=kept is not None,
                by=a.actor_id, by_name=a.actor_name)  # fmt: skip
        spec = a.engine.registry.get(conn, r.definition_id).spec
        name = spec.steps[r.step].name.zh if r.step in spec.steps else r.step
        out.append(Handed(a.flow["id"], r.title, r.step, r.role, r.id, kept or new,
                          kept is not None, name, successor.name))  # fmt: skip
    return out


def notes(conn: Connection, flow_ids: Iterable[int]) -> dict[int, Note]:
    """Why items of these flows changed hands, by item id — the closed item and the successor's
    (made or kept) alike; a later reassignment of the same item wins."""
    chains = [f"flow:{f}" for f in set(flow_ids)]
    if not chains:
        return {}
    out: dict[int, Note] = {}
    stmt = (
        select(sql.EVENTS.c.data)
        .where(sql.EVENTS.c.chain.in_(chains), sql.EVENTS.c.kind == KIND)
        .order_by(sql.EVENTS.c.id)
    )
    for d in conn.execute(stmt).scalars():
        note = Note(d["from_name"], d["to_name"], d["reason"])
        out[d["item"]] = out[d["new"]] = note
    return out


def notes_for(engine: Engine, flow_ids: Iterable[int]) -> dict[int, Note]:
    """:func:`notes` in a read transaction of its own (the workbench's 待办 shows them)."""
    with engine.db.read() as s:
        return notes(s.connection(), flow_ids)


__all__ = ["KIND", "REASONS", "ROLES", "Handed", "Note", "OpenItem", "Party"]
