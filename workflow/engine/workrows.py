"""A workbench page's rows: each listed flow with its type's and steps' names, its current step, people and due time."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import bindparam, select
from sqlalchemy.orm import Session

from workflow import calendar
from workflow.engine.sql import ITEMS, USERS, VISITS
from workflow.spec.model import CLOSED_STATES, Names

#: A circulated copy's role: the circulated tab lists these. "To do" and "done" do not leave
#: them out (a role test there would cost a table read per row of the plain to-do count); the
#: circulate issue decides whether copies stay open and gives them an index if they must.
READER = "reader"
ROLE_ORDER = {"host": 0, "handler": 1, "co_signer": 2}


@dataclass
class WorkbenchRow:
    """One line of a workbench tab: a work item (or, on "started", a flow) and where it is now."""

    flow_id: int
    item_id: int | None
    title: str
    doc_number: str | None
    definition: str
    definition_name: Names
    initiator: str
    flow_state: str
    outcome: str | None
    #: when it arrived (to do, circulated), was handled (done) or was started (started by me)
    at: datetime
    #: the person's part: role, status and the step it was at (None on "started")
    role: str | None
    item_status: str | None
    item_step_name: Names | None
    #: the flow's current step and its host; None once the flow is ended or withdrawn
    step: str | None
    step_name: Names | None
    host: str | None
    #: who at the current step still has an open item: host, then handlers, then co-signers
    waiting_for: list[str] = field(default_factory=list)
    #: the flow ended rejected, or a co-signer vetoed its current step
    rejected: bool = False
    #: the current step's due time (its deadline counted from when the flow entered it), if any
    due_at: datetime | None = None
    #: past the due time and still waiting on this row's person (or, on "started", on anyone)
    overdue: bool = False


VISIT_PEOPLE = (
    select(
        VISITS.c.id,
        VISITS.c.step,
        VISITS.c.rejected,
        VISITS.c.entered_at,
        ITEMS.c.role,
        ITEMS.c.status,
        USERS.c.name,
    )
    .select_from(
        VISITS.join(ITEMS, ITEMS.c.visit_id == VISITS.c.id).join(
            USERS, USERS.c.id == ITEMS.c.user_id
        )
    )
    .where(VISITS.c.id.in_(bindparam("b_visits", expanding=True)), ITEMS.c.role != READER)
    .order_by(VISITS.c.id, ITEMS.c.id)
)


# --- rows ------------------------------------------------------------------------------------------


@dataclass
class _Visit:
    step: str
    rejected: bool
    entered_at: datetime | None = None
    host: str | None = None
    waiting: list[tuple[int, str]] = field(default_factory=list)


def current_visits(s: Session, visit_ids: set[int]) -> dict[int, _Visit]:
    """Step, veto mark, host and the people still open at each of these visits, in one query."""
    if not visit_ids:
        return {}
    out: dict[int, _Visit] = {}
    for r in s.connection().execute(VISIT_PEOPLE, {"b_visits": sorted(visit_ids)}):
        v = out.setdefault(r.id, _Visit(r.step, bool(r.rejected), r.entered_at))
        if r.role == "host" and v.host is None:
            v.host = r.name
        if r.status == "open":
            v.waiting.append((ROLE_ORDER.get(r.role, 9), r.name))
    return out


def build_rows(
    s: Session,
    spec_of: Callable[[int], Any],
    found: Sequence[Any],
    now: Callable[[], datetime],
    tz: ZoneInfo,
) -> list[WorkbenchRow]:
    """Rows of a page: each with its type's and steps' names, its current step and people.

    A row's due time is its flow's current step's (``visit_due``); an open item (not a copy to
    read) or, on "started", an active flow is overdue once the clock is past it. The clock is
    read once per page, and only when a row has a due time.
    """
    clock: list[datetime] = []

    def is_past(due: datetime | None) -> bool:
        if due is None:
            return False
        if not clock:
            clock.append(now())
        return clock[0] > due

    visits = current_visits(
        s,
        {r.current_visit_id for r in found if r.state not in CLOSED_STATES and r.current_visit_id},
    )
    rows = []
    dues: dict[int, datetime | None] = {}  # one due time a visit, however many rows show it
    for r in found:
        spec = spec_of(r.definition_id)
        m = r._mapping
        item_step = m.get("item_step")
        v = visits.get(r.current_visit_id) if r.state not in CLOSED_STATES else None
        due_at = None
        if v:
            if r.current_visit_id not in dues:
                dues[r.current_visit_id] = visit_due(spec, v.step, v.entered_at, tz)
            due_at = dues[r.current_visit_id]
        role, status = m.get("role"), m.get("status")
        waits_on_it = r.item_id is None or (status == "open" and role != READER)
        rows.append(
            WorkbenchRow(
                flow_id=r.flow_id,
                item_id=r.item_id,
                title=r.title,
                doc_number=r.doc_number,
                definition=spec.id,
                definition_name=spec.name,
                initiator=r.initiator,
                flow_state=r.state,
                outcome=r.outcome,
                at=r.at,
                role=role,
                item_status=status,
                item_step_name=spec.steps[item_step].name if item_step else None,
                step=v.step if v else None,
                step_name=spec.steps[v.step].name if v else None,
                host=v.host if v else None,
                waiting_for=[name for _, name in sorted(v.waiting, key=lambda w: w[0])]
                if v
                else [],
                rejected=r.outcome == "rejected" or bool(v and v.rejected),
                due_at=due_at,
                overdue=waits_on_it and is_past(due_at),
            )
        )
    return rows


def visit_due(spec: Any, step: str, entered_at: datetime | None, tz: ZoneInfo) -> datetime | None:
    """When a visit of ``step`` entered at ``entered_at`` is due; None if the step has no deadline."""
    deadline = getattr(spec.steps.get(step), "deadline", None)
    if not deadline or entered_at is None:
        return None
    return calendar.due_at(entered_at, deadline, tz)
