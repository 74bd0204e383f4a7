"""The workbench's lists (to do, done, started by me, circulated to me): search, count, page.

A page's rows (names, current step, people, due time) are built by
:mod:`workflow.engine.workrows`; ``build_rows``, ``visit_due`` and ``WorkbenchRow`` are re-exported here.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from functools import cache
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import Select, and_, bindparam, func, literal_column, null, or_, select, tuple_
from sqlalchemy.orm import Session, aliased

from workflow.engine.sql import APPROVAL, FLOWS, ITEMS, OPEN, USERS, VISITS, WORK_ONLY
from workflow.engine.workrows import READER, WorkbenchRow
from workflow.engine.workrows import build_rows as build_rows  # re-exported: lists.py
from workflow.engine.workrows import visit_due as visit_due  # re-exported: history.py
from workflow.errors import InvalidAction
from workflow.refusals import quoted
from workflow.spec.model import CLOSED_STATES, Names
from workflow.store.models import DefinitionVersion, UtcDateTime

DEFS = DefinitionVersion.__table__
TABS = ("todo", "done", "started", "circulated")
#: What the state filter accepts: active = at a step; approved / rejected = ended so.
STATES = ("active", "ended", "approved", "rejected", "withdrawn")
#: Form fields that carry a document's number, searched along with the title: the sender's
#: number of an incoming document (原文号), an archive's number (档号). Read with a JSON path
#: on flows.form (JSON_EXTRACT on SQLite, ->> on PostgreSQL): no column of its own.
DOC_NUMBER_KEYS = ("original_number", "archive_number")
MAX_PER_PAGE = 100
#: The days a search may name: every flow lies between them, and a day outside them would not
#: survive the time zone shift to UTC (year 1 becomes year 0) or the day after (year 9999 + 1).
FIRST_DAY, LAST_DAY = date(1900, 1, 1), date(2999, 12, 31)


@dataclass
class WorkList:
    """One page of a tab, with the number of rows on every page together.

    ``next_after`` and ``prev_before`` are the keyset cursors of the pages either side (the
    last row's and the first row's sort key), None where there is no such page.
    """

    tab: str
    rows: list[WorkbenchRow]
    total: int
    page: int
    per_page: int
    next_after: str | None = None
    prev_before: str | None = None
    #: every tab's count, when asked for (``all_counts``)
    counts: dict[str, int] | None = None

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
_READER = literal_column(f"'{READER}'")
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
        # A literal, as the partial index ix_work_items_reader says it: SQLite uses it only then.
        out.append(ITEMS.c.role == _READER)
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


#: Each tab's sort key, newest first: what a keyset cursor carries.
_KEY = {
    "todo": (ITEMS.c.id,),
    "circulated": (ITEMS.c.id,),
    "done": (ITEMS.c.handled_at, ITEMS.c.id),
    "started": (FLOWS.c.id,),
}
_B_AT = bindparam("b_at", type_=UtcDateTime())
_B_KEY = bindparam("b_key")


def _keyset(tab: str, direction: str) -> Any:
    """Rows past the cursor: older ones ("after", the next page) or newer ("before")."""
    key = _KEY[tab]
    if len(key) == 1:
        return key[0] < _B_KEY if direction == "after" else key[0] > _B_KEY
    if direction == "after":
        return tuple_(*key) < tuple_(_B_AT, _B_KEY)
    return tuple_(*key) > tuple_(_B_AT, _B_KEY)


@cache
def list_statement(tab: str, shape: tuple[Any, ...], direction: str | None = None) -> Select[Any]:
    """One page of ``tab``; params b_user, b_limit, b_offset and the search's.

    With a ``direction`` ("after" / "before") the page starts at a keyset cursor (params b_key
    and, on "done", b_at) instead of an offset; "before" comes back oldest first.
    """
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
    stmt = stmt.where(*_conditions(tab, shape)).limit(bindparam("b_limit"))
    if direction is None:
        return stmt.order_by(*_ORDER[tab]).offset(bindparam("b_offset"))
    stmt = stmt.where(_keyset(tab, direction))
    if direction == "after":
        return stmt.order_by(*_ORDER[tab])
    return stmt.order_by(*(k.asc() for k in _KEY[tab]))


def cursor_of(tab: str, row: WorkbenchRow) -> str:
    """A row's keyset cursor: its item's (or, on "started", its flow's) id; on "done" the time
    it was handled, in microseconds since the epoch, before it."""
    if tab == "started":
        return str(row.flow_id)
    if tab == "done":
        return f"{_epoch_us(row.at)}.{row.item_id}"
    return str(row.item_id)


_EPOCH = datetime(1970, 1, 1, tzinfo=ZoneInfo("UTC"))


def _epoch_us(at: datetime) -> int:
    return (at - _EPOCH) // timedelta(microseconds=1)


def cursor_params(tab: str, cursor: str) -> dict[str, Any]:
    """The bind values of a cursor; one that cannot be read is refused (cursor_invalid)."""
    parts = cursor.strip().split(".")
    ok = len(parts) == (2 if tab == "done" else 1) and all(
        p.isascii() and p.lstrip("-").isdigit() and len(p) <= 19 for p in parts
    )
    if ok and tab == "done":
        try:
            at = _EPOCH + timedelta(microseconds=int(parts[0]))
        except OverflowError:
            ok = False
        else:
            return {"b_at": at, "b_key": int(parts[1])}
    if not ok:
        raise InvalidAction("cursor_invalid", value=quoted(cursor[:40]))
    return {"b_key": int(parts[0])}


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


_CURRENT = aliased(VISITS)


@cache
def export_statement(tab: str, direction: str | None) -> Select[Any]:
    """The export's chunk of ``tab``: the page's statement with the flow's current step and
    when it was entered (a join, no query a row); params b_user, b_limit (and the cursor's)."""
    stmt = list_statement(tab, Search().shape, direction)
    if direction is None:
        stmt = stmt.offset(None)
    return stmt.add_columns(
        _CURRENT.c.step.label("cur_step"), _CURRENT.c.entered_at.label("cur_entered_at")
    ).join_from(FLOWS, _CURRENT, _CURRENT.c.id == FLOWS.c.current_visit_id, isouter=True)


@dataclass(frozen=True)
class ExportRow:
    """A row of the export: its tab, the page's columns (``r``), its type, current step, due."""

    tab: str
    r: Any
    spec: Any
    step: str | None
    due_at: datetime | None


@cache
def counts_statement(shape: tuple[Any, ...]) -> Select[Any]:
    """Every tab's count in one statement (one round trip): a column per tab, named after it."""
    return select(*(count_statement(tab, shape).scalar_subquery().label(tab) for tab in TABS))


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
