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
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import Connection, bindparam, insert, select, update
from sqlalchemy.orm import Session

from workflow.audit import GENESIS, PendingEvent, chain_rows
from workflow.engine import sql
from workflow.engine.records import Note
from workflow.errors import InvalidAction, StaleVersion

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
_FLOWS = bindparam("b_flows", expanding=True)
LOCK_FLOWS = select(FLOWS.c.id).where(FLOWS.c.id.in_(_FLOWS)).order_by(FLOWS.c.id).with_for_update()
LOAD_FLOWS = select(*sql.FLOW_COLS).where(FLOWS.c.id.in_(_FLOWS))
HELD_IN_FLOWS = select(ITEMS.c.id, ITEMS.c.visit_id, ITEMS.c.role).where(
    ITEMS.c.flow_id.in_(_FLOWS),
    ITEMS.c.user_id == bindparam("b_user"),
    ITEMS.c.status == sql.OPEN,
)
INSERT_ITEMS = insert(ITEMS).returning(ITEMS.c.id, sort_by_parameter_order=True)
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
    transaction; the caller checked who may do it and that the successor is active.

    Set-wise, so a thousand items cost a handful of statements: the flows locked (PostgreSQL;
    in id order, so two such acts never deadlock) and read at once, the items then read again
    under those locks (one the person handled meanwhile is no longer open, and stays theirs),
    closed and given in two executemany statements, every flow's events appended and its
    version bumped in two more.
    """
    if reason not in REASONS:
        raise InvalidAction("reassign_reason_unknown", value=reason)
    conn = session.connection()
    wanted = None if only is None else set(only)
    rows = [r for r in conn.execute(OPEN_OF_USER, {"b_user": person.id})
            if wanted is None or r.id in wanted]  # fmt: skip
    flow_ids = sorted({r.flow_id for r in rows})
    if not flow_ids:
        return []
    if conn.dialect.name != "sqlite":  # SQLite: BEGIN IMMEDIATE has serialised us already
        for chunk in _chunks(flow_ids):
            conn.execute(LOCK_FLOWS, {"b_flows": chunk})
        rows = [r for r in conn.execute(OPEN_OF_USER, {"b_user": person.id})
                if r.flow_id in set(flow_ids) and (wanted is None or r.id in wanted)]  # fmt: skip
    flows: dict[int, dict[str, Any]] = {}
    held: dict[tuple[int, str], int] = {}
    for chunk in _chunks(flow_ids):
        flows.update((f["id"], dict(f)) for f in conn.execute(LOAD_FLOWS, {"b_flows": chunk})
                     .mappings())  # fmt: skip
        held.update(((h.visit_id, h.role), h.id) for h in conn.execute(
            HELD_IN_FLOWS, {"b_flows": chunk, "b_user": successor.id}))  # fmt: skip
    # close the old items, then give the successor theirs (in the order asked: ids come back so)
    conn.execute(CLOSE, [{"b_item": r.id, "b_at": now, "b_actor": actor.id} for r in rows])
    fresh: list[Any] = []
    for r in rows:
        if (r.visit_id, r.role) not in held:
            held[(r.visit_id, r.role)] = -1  # one new item per visit and role, even if asked twice
            fresh.append(r)
    if fresh:
        ids = conn.execute(INSERT_ITEMS, [{
            "flow_id": r.flow_id, "visit_id": r.visit_id, "user_id": successor.id,
            "unit_id": successor.unit_id, "role": r.role, "status": "open",
            "delivered_at": now, "confirmed_at": None} for r in fresh]).scalars().all()  # fmt: skip
        held.update(((r.visit_id, r.role), i) for r, i in zip(fresh, ids, strict=True))
    made = {id(r) for r in fresh}
    events: dict[int, list[PendingEvent]] = defaultdict(list)
    out: list[Handed] = []
    for r in rows:
        new, kept = held[(r.visit_id, r.role)], id(r) not in made
        events[r.flow_id].append(PendingEvent(now, actor.id, actor.name, KIND, {
            "item": r.id, "step": r.step, "visit": r.seq, "role": r.role, "reason": reason,
            "from": person.id, "from_name": person.name, "to": successor.id,
            "to_name": successor.name, "to_unit": successor.unit_id, "new": new, "kept": kept,
            "by": actor.id,
            "by_name": actor.name}))  # fmt: skip
        spec = engine.registry.get(conn, r.definition_id).spec
        name = spec.steps[r.step].name.zh if r.step in spec.steps else r.step
        out.append(Handed(r.flow_id, r.title, r.step, r.role, r.id, new, kept, name,
                          successor.name))  # fmt: skip
    _append(conn, flows, events)
    return out


def _append(conn: Connection, flows: dict[int, dict[str, Any]], events: dict[int, list]) -> None:
    """Each flow's events linked onto its chain, and its version bumped (the pages it showed
    are outdated), version-checked as every action's write is."""
    rows, updates = [], []
    for flow_id, pending in events.items():
        f = flows[flow_id]
        linked, seq, head = chain_rows(f"flow:{flow_id}", flow_id, f["audit_seq"],
                                       f["audit_head"] or GENESIS, pending)  # fmt: skip
        rows += linked
        updates.append({"b_flow": flow_id, "b_version": f["version"], "b_state": f["state"],
                        "b_new_version": f["version"] + 1, "b_visit": f["current_visit_id"],
                        "b_seq": seq, "b_head": head})  # fmt: skip
    conn.execute(sql.INSERT_EVENTS, rows)
    if conn.execute(sql.UPDATE_FLOW, updates).rowcount != len(updates):
        raise StaleVersion("stale_concurrent", flow=sorted(events)[0])


def _chunks(ids: list[int], size: int = 500) -> Iterator[list[int]]:
    for i in range(0, len(ids), size):
        yield ids[i : i + size]


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
