"""The workbench's lists (to do, done, started by me, circulated to me): search, count, page."""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from functools import cache
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import Select, and_, bindparam, func, null, or_, select
from sqlalchemy.orm import Session, aliased

from workflow import calendar
from workflow.engine.sql import APPROVAL, FLOWS, ITEMS, OPEN, USERS, VISITS, WORK_ONLY
from workflow.errors import InvalidAction
from workflow.refusals import quoted
from workflow.spec.model import CLOSED_STATES, Names
from workflow.store.models import DefinitionVersion, UtcDateTime

DEFS = DefinitionVersion.__table__
TABS = ("todo", "done", "started", "circulated")
#: What the state filter accepts: active = at a step; approved / rejected = ended so.
STATES = ("active", "ended", "approved", "rejected", "withdrawn")
#: A circulated copy's role: the circulated tab lists these. "To do" and "done" do not leave
#: them out (a role test there would cost a table read per row of the plain to-do count); the
#: circulate issue decides whether copies stay open and gives them an index if they must.
READER = "reader"
#: Form fields that carry a document's number, searched along with the title: the sender's
#: number of an incoming document (原文号), an archive's number (档号). Read with a JSON path
#: on flows.form (JSON_EXTRACT on SQLite, ->> on PostgreSQL): no column of its own.
DOC_NUMBER_KEYS = ("original_number", "archive_number")
MAX_PER_PAGE = 100
#: The days a search may name: every flow lies between them, and a day outside them would not
#: survive the time zone shift to UTC (year 1 becomes year 0) or the day after (year 9999 + 1).
FIRST_DAY, LAST_DAY = date(1900, 1, 1), date(2999, 12, 31)
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


@dataclass
class WorkList:
    """One page of a tab, with the number of rows on every page together."""

    tab: str
    rows: list[WorkbenchRow]
    total: int
    page: int
    per_page: int

    @property
    def pages(self) -> int:
        return max(1, math.ceil(self.total / self.per_page))


@dataclass(frozen=True)
class Search:
    """A workbench search: text (title or document number), approval type, dates, flow state."""

    query: str | None = None
    definition: str | None = None
    since: date | None = None
    until: date | None = None
    state: str | None = None

    @classmethod
    def of(
        cls,
        query: str | None = None,
        definition: str | None = None,
        since: date | None = None,
        until: date | None = None,
        state: str | None = None,
    ) -> Search:
        """Blank values mean "any"; an unknown state is refused."""
        if state and state not in STATES:
            raise InvalidAction("state_unknown", allowed=list(STATES), value=quoted(state))
        for day in (since, until):
            if day is not None and not FIRST_DAY <= _as_date(day) <= LAST_DAY:
                raise InvalidAction(
                    "day_out_of_range",
                    first=FIRST_DAY,
                    last=LAST_DAY,
                    day=day,
                )
        return cls((query or "").strip() or None, definition or None, since, until, state or None)

    @property
    def shape(self) -> tuple[Any, ...]:
        """Which filters are set: one prebuilt statement per shape, values bound at run time."""
        return (
            self.query is not None,
            self.definition is not None,
            self.since is not None,
            self.until is not None,
            self.state,
        )

    def params(self, tz: ZoneInfo) -> dict[str, Any]:
        """Bind values; dates are whole days in the organisation's time zone, both ends included."""
        out: dict[str, Any] = {}
        if self.query is not None:
            out["b_q"] = f"%{_escape_like(self.query)}%"
        if self.definition is not None:
            out["b_definition"] = self.definition
        if self.since is not None:
            out["b_since"] = _day_start(self.since, tz)
        if self.until is not None:
            out["b_until"] = _day_start(self.until, tz) + timedelta(days=1)
        return out


def _as_date(day: date) -> date:
    return day.date() if isinstance(day, datetime) else day


def _escape_like(text: str) -> str:
    # "/" as the escape character, as SQLAlchemy's autoescape does: no backslash quoting issues.
    return text.replace("/", "//").replace("%", "/%").replace("_", "/_")


def _day_start(day: date, tz: ZoneInfo) -> datetime:
    if isinstance(day, datetime):
        return day
    return datetime.combine(day, time.min, tzinfo=tz)


# --- statements, built once per (tab, search shape) ------------------------------------------------

_INITIATOR = aliased(USERS)
_Q = bindparam("b_q")
_DOC_NUMBER = func.coalesce(*(FLOWS.c.form[k].as_string() for k in DOC_NUMBER_KEYS))
_FLOW_COLS = (
    FLOWS.c.id.label("flow_id"),
    FLOWS.c.title,
    FLOWS.c.definition_id,
    FLOWS.c.state,
    FLOWS.c.outcome,
    FLOWS.c.current_visit_id,
    _DOC_NUMBER.label("doc_number"),
    _INITIATOR.c.name.label("initiator"),
)
_TIME = {
    "todo": ITEMS.c.delivered_at,
    "circulated": ITEMS.c.delivered_at,
    "done": ITEMS.c.handled_at,
    "started": FLOWS.c.started_at,
}
_ORDER = {
    "todo": (ITEMS.c.id.desc(),),
    "circulated": (ITEMS.c.id.desc(),),
    "done": (ITEMS.c.handled_at.desc(), ITEMS.c.id.desc()),
    "started": (FLOWS.c.id.desc(),),
}
_STATE = {
    "active": and_(*(FLOWS.c.state != closed for closed in CLOSED_STATES)),
    "ended": FLOWS.c.state == "ended",
    "approved": and_(FLOWS.c.state == "ended", FLOWS.c.outcome == "approved"),
    "rejected": and_(FLOWS.c.state == "ended", FLOWS.c.outcome == "rejected"),
    "withdrawn": FLOWS.c.state == "withdrawn",
}


def _conditions(tab: str, shape: tuple[Any, ...]) -> list[Any]:
    query, definition, since, until, state = shape
    # Messages (their own kind of flow, their own roles) live in the message list, not here.
    if tab == "started":
        out = [FLOWS.c.initiator_id == bindparam("b_user"), FLOWS.c.kind == APPROVAL]
    else:
        out = [ITEMS.c.user_id == bindparam("b_user")]
    if tab == "todo":
        # Literals: SQLite uses the partial index ix_work_items_open only then.
        out.extend([ITEMS.c.status == OPEN, WORK_ONLY])
    elif tab == "done":
        out.extend([ITEMS.c.handled_at.is_not(None), WORK_ONLY])
    elif tab == "circulated":
        out.append(ITEMS.c.role == READER)
    at = _TIME[tab]
    if since:
        out.append(at >= bindparam("b_since", type_=UtcDateTime()))
    if until:
        out.append(at < bindparam("b_until", type_=UtcDateTime()))
    if query:
        texts = [FLOWS.c.title, *(FLOWS.c.form[k].as_string() for k in DOC_NUMBER_KEYS)]
        out.append(or_(*(t.ilike(_Q, escape="/") for t in texts)))
    if definition:
        keyed = select(DEFS.c.id).where(DEFS.c.key == bindparam("b_definition"))
        out.append(FLOWS.c.definition_id.in_(keyed))
    if state:
        out.append(_STATE[state])
    return out


@cache
def list_statement(tab: str, shape: tuple[Any, ...]) -> Select[Any]:
    """One page of ``tab``; params b_user, b_limit, b_offset and the search's."""
    if tab == "started":
        stmt = select(
            *_FLOW_COLS,
            null().label("item_id"),
            FLOWS.c.started_at.label("at"),
        ).select_from(FLOWS.join(_INITIATOR, _INITIATOR.c.id == FLOWS.c.initiator_id))
    else:
        stmt = select(
            *_FLOW_COLS,
            ITEMS.c.id.label("item_id"),
            ITEMS.c.role,
            ITEMS.c.status,
            VISITS.c.step.label("item_step"),
            _TIME[tab].label("at"),
        ).select_from(
            ITEMS.join(FLOWS, FLOWS.c.id == ITEMS.c.flow_id)
            .join(VISITS, VISITS.c.id == ITEMS.c.visit_id)
            .join(_INITIATOR, _INITIATOR.c.id == FLOWS.c.initiator_id)
        )
    return (
        stmt.where(*_conditions(tab, shape))
        .order_by(*_ORDER[tab])
        .limit(bindparam("b_limit"))
        .offset(bindparam("b_offset"))
    )


@cache
def count_statement(tab: str, shape: tuple[Any, ...]) -> Select[Any]:
    """How many rows ``tab`` has for this search; params b_user and the search's."""
    query, definition, _since, _until, state = shape
    if tab == "started":
        counted = select(FLOWS.c.id)
    elif query or definition or state:
        counted = select(ITEMS.c.id).join(FLOWS, FLOWS.c.id == ITEMS.c.flow_id)
    else:
        counted = select(ITEMS.c.id)
    counted = counted.where(*_conditions(tab, shape))
    if tab == "todo":
        # Without statistics SQLite counts "user_id = ? AND status = 'open'" through the index
        # of handled items (every item the person ever had); ordered as the partial index is,
        # it walks the open items alone.
        counted = counted.order_by(ITEMS.c.id.desc())
    return select(func.count()).select_from(counted.subquery())


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
    for r in found:
        spec = spec_of(r.definition_id)
        m = r._mapping
        item_step = m.get("item_step")
        v = visits.get(r.current_visit_id) if r.state not in CLOSED_STATES else None
        due_at = visit_due(spec, v.step, v.entered_at, tz) if v else None
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


def approval_types(s: Session) -> list[tuple[str, Names]]:
    """Every approval type that has a version (retired ones too: old flows are searched by them)."""
    latest = select(func.max(DEFS.c.id)).group_by(DEFS.c.key)
    return [
        (r.key, Names(zh=r.name_zh, en=r.name_en))
        for r in s.execute(
            select(DEFS.c.key, DEFS.c.name_zh, DEFS.c.name_en)
            .where(DEFS.c.id.in_(latest))
            .order_by(DEFS.c.key)
        )
    ]
