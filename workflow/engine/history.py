"""A flow's record as the engine reads it: every visit with every person's part, and its DINGs."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from sqlalchemy import Connection, select

from workflow import access
from workflow.engine import reassign, timeouts, worklist
from workflow.engine.records import DingState, FlowRecord, PersonPart, VisitRecord
from workflow.engine.sql import FLOWS, ITEMS, USERS, VISITS
from workflow.errors import NotFound
from workflow.spec.model import CLOSED_STATES
from workflow.store.models import DefinitionVersion, Ding, Unit

if TYPE_CHECKING:
    from workflow.engine.core import Engine

DEFS = DefinitionVersion.__table__


class History:
    """A flow's record; every method opens its own read transaction."""

    db: Any
    registry: Any

    def organisation_name(self: Engine) -> str:
        """The name of the root unit: the company the printed sheets are headed with."""
        with self.db.read() as s:
            return (
                s.scalar(
                    select(Unit.name).where(Unit.parent_id.is_(None)).order_by(Unit.id).limit(1)
                )
                or ""
            )

    def history(self: Engine, flow_id: int, *, viewer_id: int | None = None) -> FlowRecord:
        """The whole record of a flow; with ``viewer_id``, only if that person may see it."""
        with self.db.read() as s:
            if viewer_id is not None:
                access.visible_flow(s.connection(), viewer_id, flow_id=flow_id)
            f = (
                s.execute(
                    select(FLOWS, USERS.c.name.label("initiator"), DEFS.c.version.label("dv"))
                    .join(USERS, USERS.c.id == FLOWS.c.initiator_id)
                    .join(DEFS, DEFS.c.id == FLOWS.c.definition_id)
                    .where(FLOWS.c.id == flow_id)
                )
                .mappings()
                .first()
            )
            if f is None:
                raise NotFound("flow_not_found", flow=flow_id)
            spec = self.registry.get(s, f["definition_id"]).spec
            timed_out = timeouts.marks(s, flow_id)
            visits: dict[int, VisitRecord] = {}
            for v in s.execute(
                select(VISITS).where(VISITS.c.flow_id == flow_id).order_by(VISITS.c.seq)
            ):
                visits[v.id] = VisitRecord(
                    v.seq,
                    v.step,
                    spec.steps[v.step].name.zh,
                    v.via,
                    v.entered_at,
                    v.left_at,
                    v.rejected,
                    due_at=worklist.visit_due(spec, v.step, v.entered_at, self.tz),
                    timeout=timed_out.get(v.seq),
                )
            for i in s.execute(
                select(ITEMS, USERS.c.name, Unit.name.label("unit_name"))
                .join(USERS, USERS.c.id == ITEMS.c.user_id)
                .outerjoin(Unit, Unit.id == ITEMS.c.unit_id)
                .where(ITEMS.c.flow_id == flow_id)
                .order_by(ITEMS.c.id)
            ):
                visits[i.visit_id].people.append(
                    PersonPart(
                        i.id,
                        i.user_id,
                        i.name,
                        i.role,
                        i.status,
                        i.delivered_at,
                        i.confirmed_at,
                        i.handled_at,
                        i.action,
                        i.decision,
                        i.opinion,
                        unit=i.unit_name,
                    )
                )
            dings = dings_of(s.connection(), flow_id)
            moved = reassign.notes(s.connection(), [flow_id])
            for visit in visits.values():
                for part in visit.people:
                    part.ding = dings.get(part.item_id)
                    part.reassigned = moved.get(part.item_id)
            current = visits.get(f["current_visit_id"])
            if (
                current is not None
                and current.due_at is not None
                and current.left_at is None
                and f["state"] not in CLOSED_STATES
            ):
                current.overdue = self.clock() > current.due_at
            return FlowRecord(
                id=f["id"],
                title=f["title"],
                definition=spec.id,
                definition_name=spec.name.zh,
                definition_version=f["dv"],
                definition_id=f["definition_id"],
                state=f["state"],
                outcome=f["outcome"],
                version=f["version"],
                form=_form_for(f, viewer_id),
                initiator_id=f["initiator_id"],
                initiator=f["initiator"],
                started_at=f["started_at"],
                ended_at=f["ended_at"],
                audit_seq=f["audit_seq"],
                audit_head=f["audit_head"],
                visits=list(visits.values()),
            )


def _form_for(flow: Any, viewer_id: int | None) -> dict[str, Any]:
    """The form as the viewer may read it: a revoked message's text is for its sender only."""
    form = dict(flow["form"])
    revoked = flow["kind"] == "message" and flow["state"] == "withdrawn"
    if revoked and viewer_id is not None and viewer_id != flow["initiator_id"]:
        return {"subject": form.get("subject")}
    return form


DINGS = Ding.__table__


def dings_of(conn: Connection, flow_id: int) -> dict[int, DingState]:
    """The latest DING to each work item of the flow that had one, by item id, with the count."""
    out: dict[int, DingState] = {}
    rows = conn.execute(
        select(DINGS, USERS.c.name.label("sender"))
        .join(USERS, USERS.c.id == DINGS.c.sender_id)
        .where(DINGS.c.flow_id == flow_id)
        .order_by(DINGS.c.id)
    )
    for d in rows:
        before = out.get(d.item_id)
        out[d.item_id] = DingState(
            d.channel, d.sent_at, d.status, d.delivered_at, d.failure, d.confirmed_at,
            (before.count + 1) if before else 1, d.sender,
            # an earlier DING still unconfirmed counts as waiting too
            pending=d.confirmed_at is None or bool(before and before.pending),
        )  # fmt: skip
    return out
