"""Read-only questions: inbox, done, started, a flow's history, and what a user may do right now."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import bindparam, select
from sqlalchemy.orm import Session, aliased

from workflow.engine import assign
from workflow.engine.context import Action
from workflow.engine.people import resolve
from workflow.engine.sql import FLOWS, ITEMS, OPEN, USERS, VISITS
from workflow.errors import BanliError, NotFound
from workflow.store.models import DefinitionVersion, RoleMembership, Unit

if TYPE_CHECKING:
    from workflow.engine.core import Engine

DEFS = DefinitionVersion.__table__


@dataclass
class WorkRow:
    """One line of a workbench tab."""

    item_id: int
    flow_id: int
    title: str
    definition: str
    definition_name: str
    step: str
    step_name: str
    role: str
    status: str
    initiator: str
    flow_state: str
    delivered_at: datetime
    confirmed_at: datetime | None
    handled_at: datetime | None


@dataclass
class PersonPart:
    item_id: int
    user_id: int
    name: str
    role: str
    status: str
    delivered_at: datetime
    confirmed_at: datetime | None
    handled_at: datetime | None
    action: str | None
    decision: str | None
    opinion: str | None


@dataclass
class VisitRecord:
    seq: int
    step: str
    step_name: str
    via: str
    entered_at: datetime
    left_at: datetime | None
    rejected: bool
    people: list[PersonPart] = field(default_factory=list)


@dataclass
class FlowRecord:
    """A flow with every step visited and every person's part: the stuff of the flow sheet."""

    id: int
    title: str
    definition: str
    definition_name: str
    definition_version: int
    definition_id: int
    state: str
    outcome: str | None
    version: int
    form: dict[str, Any]
    initiator_id: int
    initiator: str
    started_at: datetime
    ended_at: datetime | None
    audit_seq: int
    audit_head: str
    visits: list[VisitRecord]


_INITIATOR = aliased(USERS)
_WORK_ROWS = (
    select(
        ITEMS.c.id, ITEMS.c.flow_id, ITEMS.c.role, ITEMS.c.status, ITEMS.c.delivered_at,
        ITEMS.c.confirmed_at, ITEMS.c.handled_at, VISITS.c.step, FLOWS.c.title,
        FLOWS.c.definition_id, FLOWS.c.state, _INITIATOR.c.name.label("initiator"),
    )
    .select_from(
        ITEMS.join(FLOWS, FLOWS.c.id == ITEMS.c.flow_id)
        .join(VISITS, VISITS.c.id == ITEMS.c.visit_id)
        .join(_INITIATOR, _INITIATOR.c.id == FLOWS.c.initiator_id)
    )
    .limit(bindparam("b_limit"))
)  # fmt: skip
# Built once: on SQLite building the statement costs more than running it.
INBOX = _WORK_ROWS.where(ITEMS.c.user_id == bindparam("b_user"), ITEMS.c.status == OPEN).order_by(
    ITEMS.c.id.desc()
)
INBOX_BEFORE = INBOX.where(ITEMS.c.id < bindparam("b_before"))
DONE = _WORK_ROWS.where(
    ITEMS.c.user_id == bindparam("b_user"), ITEMS.c.handled_at.is_not(None)
).order_by(ITEMS.c.handled_at.desc())


class Queries:
    """The engine's read side; every method opens its own read transaction."""

    db: Any
    registry: Any

    def _rows(self: Engine, s: Session, stmt: Any, params: dict[str, Any]) -> list[WorkRow]:
        out = []
        for r in s.connection().execute(stmt, params):
            spec = self.registry.get(s, r.definition_id).spec
            out.append(
                WorkRow(
                    r.id,
                    r.flow_id,
                    r.title,
                    spec.id,
                    spec.name.zh,
                    r.step,
                    spec.steps[r.step].name.zh,
                    r.role,
                    r.status,
                    r.initiator,
                    r.state,
                    r.delivered_at,
                    r.confirmed_at,
                    r.handled_at,
                )
            )
        return out

    def inbox(
        self: Engine, user_id: int, *, limit: int = 20, before: int | None = None
    ) -> list[WorkRow]:
        """Open work items of a user, newest first (待办); page with ``before`` = last item id."""
        with self.db.read() as s:
            if before is None:
                return self._rows(s, INBOX, {"b_user": user_id, "b_limit": limit})
            return self._rows(
                s, INBOX_BEFORE, {"b_user": user_id, "b_limit": limit, "b_before": before}
            )

    def done(self: Engine, user_id: int, *, limit: int = 20) -> list[WorkRow]:
        """Work items the user handled, most recent first (已办)."""
        with self.db.read() as s:
            return self._rows(s, DONE, {"b_user": user_id, "b_limit": limit})

    def started(self: Engine, user_id: int, *, limit: int = 20) -> list[dict[str, Any]]:
        """Flows the user started, newest first (我发起的)."""
        with self.db.read() as s:
            rows = s.execute(
                select(
                    FLOWS.c.id,
                    FLOWS.c.title,
                    FLOWS.c.state,
                    FLOWS.c.outcome,
                    FLOWS.c.started_at,
                    FLOWS.c.definition_id,
                )
                .where(FLOWS.c.initiator_id == user_id)
                .order_by(FLOWS.c.id.desc())
                .limit(limit)
            ).all()
            return [
                {
                    "flow_id": r.id,
                    "title": r.title,
                    "state": r.state,
                    "outcome": r.outcome,
                    "started_at": r.started_at,
                    "definition": self.registry.get(s, r.definition_id).spec.id,
                }
                for r in rows
            ]

    def organisation_name(self: Engine) -> str:
        """The name of the root unit: the company the printed sheets are headed with."""
        with self.db.read() as s:
            return (
                s.scalar(
                    select(Unit.name).where(Unit.parent_id.is_(None)).order_by(Unit.id).limit(1)
                )
                or ""
            )

    def may_see(self: Engine, s: Session, user_id: int, flow_id: int) -> bool:
        """The initiator, anyone with a part in the flow, and administrators."""
        if s.scalar(
            select(FLOWS.c.id).where(FLOWS.c.id == flow_id, FLOWS.c.initiator_id == user_id)
        ):
            return True
        if s.scalar(
            select(ITEMS.c.id)
            .where(ITEMS.c.flow_id == flow_id, ITEMS.c.user_id == user_id)
            .limit(1)
        ):
            return True
        return (
            s.scalar(
                select(RoleMembership.id)
                .where(RoleMembership.user_id == user_id, RoleMembership.role == "admin")
                .limit(1)
            )
            is not None
        )

    def history(self: Engine, flow_id: int, *, viewer_id: int | None = None) -> FlowRecord:
        """The whole record of a flow; with ``viewer_id``, only if that person may see it."""
        with self.db.read() as s:
            if viewer_id is not None and not self.may_see(s, viewer_id, flow_id):
                raise NotFound(f"flow {flow_id} does not exist or you have no part in it")
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
                raise NotFound(f"flow {flow_id} does not exist")
            spec = self.registry.get(s, f["definition_id"]).spec
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
                )
            for i in s.execute(
                select(ITEMS, USERS.c.name)
                .join(USERS, USERS.c.id == ITEMS.c.user_id)
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
                    )
                )
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
                form=f["form"],
                initiator_id=f["initiator_id"],
                initiator=f["initiator"],
                started_at=f["started_at"],
                ended_at=f["ended_at"],
                audit_seq=f["audit_seq"],
                audit_head=f["audit_head"],
                visits=list(visits.values()),
            )

    def available_actions(self: Engine, user_id: int, item_id: int) -> list[dict[str, Any]]:
        """What ``user_id`` may do with this work item now: what a page shows as buttons."""
        with self.db.read() as s:
            a = Action(self, s, user_id, self.clock())
            a.load_item(item_id)
            if a.item["status"] != "open" or a.flow["state"] in ("ended", "withdrawn"):
                return []
            triggers = set(a.compiled.machine.get_triggers(a.flow["state"]))
            role = a.item["role"]
            if role == "handler":
                return [{"action": "finish"}] if "finish" in triggers else []
            if role == "co_signer":
                return [{"action": "sign", "decisions": ["approve", "reject"]}]
            return self._host_actions(a, triggers)

    def _host_actions(self: Engine, a: Action, triggers: set[str]) -> list[dict[str, Any]]:
        out: list[dict[str, Any]] = []
        try:
            ready, waiting = a.waiting_met("forward"), None
        except BanliError as exc:
            ready, waiting = False, exc.message
        step_id = a.visit["step"]
        if "forward" in triggers:
            options = []
            for to in a.compiled.next_steps(step_id, a.form):
                step = a.compiled.step(to)
                init = a.flow["initiator_id"]
                options.append(
                    {
                        "step": to,
                        "name": step.name.zh,
                        "host": _cands(resolve(a.s, step.host, init), one=True),
                        "handlers": _cands(resolve(a.s, step.handlers, init)),
                        "co_signers": _cands(resolve(a.s, step.co_signers, init)),
                    }
                )
            if options:
                out.append(
                    {"action": "forward", "ready": ready, "waiting": waiting, "options": options}
                )
        can_end = a.compiled.step(step_id).can_end
        if "end" in triggers and (can_end or a.visit.get("rejected")):
            outcomes = ["approved", "rejected"] if ready and can_end else ["rejected"]
            out.append({"action": "end", "ready": ready, "waiting": waiting, "outcomes": outcomes})
        earlier = [
            v
            for v in a.s.scalars(
                select(VISITS.c.step)
                .where(VISITS.c.flow_id == a.flow["id"], VISITS.c.seq < a.visit["seq"])
                .order_by(VISITS.c.seq.desc())
            )
            if v in a.compiled.ancestors[step_id]
        ]
        if earlier:
            try:
                default = assign.previous_step(a)
            except BanliError:
                default = earlier[0]
            out.append(
                {"action": "return", "default": default, "options": list(dict.fromkeys(earlier))}
            )
        return out


def _cands(c: Any, one: bool = False) -> dict[str, Any]:
    """Candidates as a page needs them; a host among several is always a choice of one."""
    if one:
        return {"ids": list(c.ids), "choose": len(c.ids) > 1, "min": 1, "max": 1}
    return {"ids": list(c.ids), "choose": c.choose, "min": c.min, "max": c.max}
