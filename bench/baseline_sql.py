"""The statements of the hand-written baseline (see ``baseline``): plain SQLAlchemy Core.

Each helper runs one statement on the action's connection; ``add_events`` links the audit events of
an action into the flow's SHA-256 chain the way any implementation storing the same rows must.
"""

from __future__ import annotations

import hashlib
import json
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, insert, select, update

from workflow.store.models import AuditEvent, Flow, RoleMembership, User, Visit, WorkItem

FLOWS, ITEMS, VISITS = Flow.__table__, WorkItem.__table__, Visit.__table__
EVENTS, ROLES, USERS = AuditEvent.__table__, RoleMembership.__table__, User.__table__
GENESIS = "0" * 64


class Refused(Exception):
    pass


def chain_hash(prev: str, body: dict[str, Any]) -> str:
    text = json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str)
    return hashlib.sha256(prev.encode() + text.encode()).hexdigest()


def add_events(conn: Connection, f: Any, actor: int, name: str, now: datetime, evs: list) -> tuple:
    """Insert ``evs`` [(kind, data)] after the flow's chain head; return the new (seq, head)."""
    seq, head, rows = f["audit_seq"], f["audit_head"] or GENESIS, []
    for kind, data in evs:
        seq += 1
        h = chain_hash(
            head,
            {
                "chain": f"flow:{f['id']}",
                "seq": seq,
                "at": now.isoformat(),
                "actor_id": actor,
                "actor_name": name,
                "kind": kind,
                "data": data,
            },
        )
        rows.append(
            {
                "chain": f"flow:{f['id']}",
                "seq": seq,
                "flow_id": f["id"],
                "at": now,
                "actor_id": actor,
                "actor_name": name,
                "kind": kind,
                "data": data,
                "prev_hash": head,
                "hash": h,
            }
        )
        head = h
    conn.execute(insert(EVENTS), rows)
    return seq, head


def load_item(conn: Connection, actor: int, item_id: int) -> Any:
    row = (
        conn.execute(
            select(
                ITEMS.c.id.label("item_id"),
                ITEMS.c.status,
                ITEMS.c.user_id,
                ITEMS.c.delivered_at,
                ITEMS.c.confirmed_at,
                ITEMS.c.visit_id,
                ITEMS.c.flow_id.label("id"),
                FLOWS.c.version,
                FLOWS.c.audit_seq,
                FLOWS.c.audit_head,
                FLOWS.c.initiator_id,
                VISITS.c.step,
                VISITS.c.seq,
                USERS.c.name,
            )
            .join(FLOWS, FLOWS.c.id == ITEMS.c.flow_id)
            .join(VISITS, VISITS.c.id == ITEMS.c.visit_id)
            .join(USERS, USERS.c.id == ITEMS.c.user_id)
            .where(ITEMS.c.id == item_id)
        )
        .mappings()
        .first()
    )
    if row is None or row["user_id"] != actor or row["status"] != "open":
        raise Refused(item_id)
    return row


def update_flow(conn: Connection, f: Any, seq: int, head: str, bump: int = 1, **values: Any):
    r = conn.execute(
        update(FLOWS)
        .where(FLOWS.c.id == f["id"], FLOWS.c.version == f["version"])
        .values(version=f["version"] + bump, audit_seq=seq, audit_head=head, **values)
    )
    if r.rowcount != 1:
        raise Refused(f["id"])


def role_holders(conn: Connection, roles: list[str], unit_id: Any = None) -> dict[str, int]:
    where = [ROLES.c.role.in_(roles), USERS.c.status == "active"]
    if unit_id is not None:
        where.append(ROLES.c.unit_id == unit_id)
    rows = conn.execute(
        select(ROLES.c.role, ROLES.c.user_id)
        .join(USERS, USERS.c.id == ROLES.c.user_id)
        .where(*where)
    ).all()
    return {r.role: r.user_id for r in rows}


def handle_item(conn: Connection, f: Any, now: datetime, action: str, **extra: Any) -> None:
    conn.execute(
        update(ITEMS)
        .where(ITEMS.c.id == f["item"])
        .values(status="done", handled_at=now, closed_at=now, action=action, **extra)
    )


def move_to(conn: Connection, f: Any, actor: int, now: datetime, step: str, people: list) -> list:
    """Leave the current visit, enter ``step`` with ``people`` [(user, role)]; new item ids."""
    conn.execute(
        update(VISITS).where(VISITS.c.id == f["visit_id"]).values(left_at=now, left_by=actor)
    )
    vid = conn.scalar(
        insert(VISITS)
        .values(
            flow_id=f["id"],
            seq=f["seq"] + 1,
            step=step,
            entered_at=now,
            via="forward",
            entered_by=actor,
            rejected=False,
        )
        .returning(VISITS.c.id)
    )
    # One multi-row VALUES statement; SQLite hands out the rowids in VALUES order.
    ids = sorted(
        conn.scalars(
            insert(ITEMS)
            .values(
                [
                    {
                        "flow_id": f["id"],
                        "visit_id": vid,
                        "user_id": u,
                        "role": r,
                        "status": "open",
                        "delivered_at": now,
                    }
                    for u, r in people
                ]
            )
            .returning(ITEMS.c.id)
        )
    )
    f["new_visit"] = vid
    return ids


def holds_role(conn: Connection, user_id: int | None, role: str) -> bool:
    """Whether the chosen host holds ``role`` and is active (one indexed SELECT)."""
    return (
        conn.scalar(
            select(ROLES.c.id)
            .join(USERS, USERS.c.id == ROLES.c.user_id)
            .where(ROLES.c.role == role, ROLES.c.user_id == user_id, USERS.c.status == "active")
            .limit(1)
        )
        is not None
    )
