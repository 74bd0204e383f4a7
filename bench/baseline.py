"""A hand-written SQLAlchemy Core contract review: the yardstick the engine is compared against.

It runs the same 13 actions as ``flows.engine_flow`` and leaves the same rows behind (flow,
visits, work items with their delivery / confirmation / handling times, hash-chained audit events,
flow version and chain head), one ``engine.begin()`` transaction per action, with the reads a
correct hand-written implementation needs and no more:

* every action on a work item first reads the item + its flow + its visit in one joined SELECT
  (owner, status, flow version, chain head) and refuses the action if the item is not open;
* a forward reads the next step's people in one SELECT on role_memberships (start: the
  initiator's unit head; countersign: office director, legal, finance; leader_review: checks the
  chosen deputy director; sealing: the seal keeper);
* the host's forward at countersign reads the co-signers' items once (the wait-for-all rule).

It knows the definition, so it skips what the generic engine must do: no state machine, no form
validation beyond the title, no "cancel the other open items" UPDATE at steps that can have none.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from baseline_sql import (
    FLOWS,
    ITEMS,
    USERS,
    VISITS,
    Refused,
    add_events,
    handle_item,
    holds_role,
    load_item,
    move_to,
    role_holders,
    update_flow,
)
from common import CONTRACT
from sqlalchemy import and_, insert, select, update
from sqlalchemy.engine import Engine as SAEngine


class Baseline:
    """The 13 actions of the contract review, each in its own ``engine.begin()`` transaction."""

    def __init__(self, engine: SAEngine, definition_id: int) -> None:
        self.e, self.definition_id = engine, definition_id

    def start(self, actor: int, form: dict[str, Any]) -> int:
        now = datetime.now(UTC)
        with self.e.begin() as conn:
            me = conn.execute(
                select(USERS.c.name, USERS.c.unit_id).where(
                    USERS.c.id == actor, USERS.c.status == "active"
                )
            ).one()
            head = role_holders(conn, ["unit_head"], me.unit_id)["unit_head"]
            fid = conn.scalar(
                insert(FLOWS)
                .values(
                    definition_id=self.definition_id,
                    title=form["title"],
                    form=form,
                    initiator_id=actor,
                    state="dept_review",
                    started_at=now,
                    version=1,
                    audit_seq=0,
                    audit_head="",
                )
                .returning(FLOWS.c.id)
            )
            v1 = conn.scalar(
                insert(VISITS)
                .values(
                    flow_id=fid,
                    seq=1,
                    step="draft",
                    entered_at=now,
                    via="start",
                    entered_by=actor,
                    left_at=now,
                    left_by=actor,
                    rejected=False,
                )
                .returning(VISITS.c.id)
            )
            i1 = conn.scalar(
                insert(ITEMS)
                .values(
                    flow_id=fid,
                    visit_id=v1,
                    user_id=actor,
                    role="host",
                    status="done",
                    delivered_at=now,
                    confirmed_at=now,
                    handled_at=now,
                    closed_at=now,
                    action="forward",
                )
                .returning(ITEMS.c.id)
            )
            v2 = conn.scalar(
                insert(VISITS)
                .values(
                    flow_id=fid,
                    seq=2,
                    step="dept_review",
                    entered_at=now,
                    via="forward",
                    entered_by=actor,
                    rejected=False,
                )
                .returning(VISITS.c.id)
            )
            i2 = conn.scalar(
                insert(ITEMS)
                .values(
                    flow_id=fid,
                    visit_id=v2,
                    user_id=head,
                    role="host",
                    status="open",
                    delivered_at=now,
                )
                .returning(ITEMS.c.id)
            )
            f = {"id": fid, "version": 1, "audit_seq": 0, "audit_head": ""}
            seq, h = add_events(
                conn,
                f,
                actor,
                me.name,
                now,
                [
                    ("start", {"definition": "contract_review", "form": form}),
                    ("deliver", {"step": "draft", "visit": 1, "items": [[i1, actor, "host"]]}),
                    ("forward", {"item": i1, "step": "draft", "to": "dept_review"}),
                    ("deliver", {"step": "dept_review", "visit": 2, "items": [[i2, head, "host"]]}),
                ],
            )
            update_flow(conn, f, seq, h, current_visit_id=v2)
            return i2

    def open(self, actor: int, item_id: int) -> None:
        now = datetime.now(UTC)
        with self.e.begin() as conn:
            f = load_item(conn, actor, item_id)
            if f["confirmed_at"] is not None:
                return
            conn.execute(update(ITEMS).where(ITEMS.c.id == item_id).values(confirmed_at=now))
            seq, h = add_events(
                conn, f, actor, f["name"], now, [("confirm", {"item": item_id, "step": f["step"]})]
            )
            update_flow(conn, f, seq, h, bump=0)

    def sign(self, actor: int, item_id: int, opinion: str) -> None:
        now = datetime.now(UTC)
        with self.e.begin() as conn:
            f = {**load_item(conn, actor, item_id), "item": item_id}
            handle_item(conn, f, now, "sign", decision="approve", opinion=opinion)
            seq, h = add_events(
                conn,
                f,
                actor,
                f["name"],
                now,
                [
                    (
                        "sign",
                        {
                            "item": item_id,
                            "step": f["step"],
                            "decision": "approve",
                            "opinion": opinion,
                        },
                    )
                ],
            )
            update_flow(conn, f, seq, h)

    def forward(self, actor: int, item_id: int, host: int | None = None) -> list[int]:
        now = datetime.now(UTC)
        with self.e.begin() as conn:
            f = {**load_item(conn, actor, item_id), "item": item_id}
            step = f["step"]
            if step == "dept_review":
                to = "countersign"
                r = role_holders(conn, ["office_director", "legal", "finance"])
                people = [
                    (r["office_director"], "host"),
                    *sorted(((r["legal"], "co_signer"), (r["finance"], "co_signer"))),
                ]
            elif step == "countersign":
                to = "leader_review"
                pending = conn.scalar(
                    select(ITEMS.c.id)
                    .where(
                        and_(
                            ITEMS.c.visit_id == f["visit_id"],
                            ITEMS.c.role != "host",
                            ITEMS.c.status != "done",
                        )
                    )
                    .limit(1)
                )
                if pending is not None or not holds_role(conn, host, "deputy_director"):
                    raise Refused(item_id)
                people = [(host, "host")]
            else:  # leader_review, amount < 500,000
                to = "sealing"
                people = [(role_holders(conn, ["seal_keeper"])["seal_keeper"], "host")]
            handle_item(conn, f, now, "forward")
            ids = move_to(conn, f, actor, now, to, people)
            seq, h = add_events(
                conn,
                f,
                actor,
                f["name"],
                now,
                [
                    ("forward", {"item": item_id, "step": step, "to": to, "cancelled": []}),
                    (
                        "deliver",
                        {
                            "step": to,
                            "visit": f["seq"] + 1,
                            "items": [[i, u, r] for i, (u, r) in zip(ids, people, strict=True)],
                        },
                    ),
                ],
            )
            update_flow(conn, f, seq, h, state=to, current_visit_id=f["new_visit"])
            return ids

    def end(self, actor: int, item_id: int) -> None:
        now = datetime.now(UTC)
        with self.e.begin() as conn:
            f = {**load_item(conn, actor, item_id), "item": item_id}
            handle_item(conn, f, now, "end")
            conn.execute(
                update(VISITS)
                .where(VISITS.c.id == f["visit_id"])
                .values(left_at=now, left_by=actor)
            )
            seq, h = add_events(
                conn,
                f,
                actor,
                f["name"],
                now,
                [("end", {"item": item_id, "step": f["step"], "outcome": "approved"})],
            )
            update_flow(conn, f, seq, h, state="ended", outcome="approved", ended_at=now)


def baseline_flow(b: Baseline, p: dict[str, int], mark=lambda label: None) -> None:
    """The same 13 actions as ``flows.engine_flow``, with the same labels."""
    from flows import LABELS

    mark(LABELS[0])
    item = b.start(p["huangyong"], CONTRACT)
    mark(LABELS[1])
    b.open(p["qianxuejun"], item)
    mark(LABELS[2])
    host_item, *signer_items = b.forward(p["qianxuejun"], item)
    for uid, it in zip(sorted((p["yangfan"], p["linxiaoyan"])), signer_items, strict=True):
        mark(LABELS[3])
        b.open(uid, it)
        mark(LABELS[4])
        b.sign(uid, it, "同意")
    mark(LABELS[5])
    b.open(p["liming"], host_item)
    mark(LABELS[6])
    (item,) = b.forward(p["liming"], host_item, host=p["chenzhiqiang"])
    mark(LABELS[7])
    b.open(p["chenzhiqiang"], item)
    mark(LABELS[8])
    (item,) = b.forward(p["chenzhiqiang"], item)
    mark(LABELS[9])
    b.open(p["sunli"], item)
    mark(LABELS[10])
    b.end(p["sunli"], item)
