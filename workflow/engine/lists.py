"""The workbench's lists as engine queries: inbox, done, started, a tab's page, tab counts."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date
from typing import TYPE_CHECKING, Any

from sqlalchemy import bindparam, select
from sqlalchemy.orm import Session, aliased

from workflow.engine import worklist
from workflow.engine.records import WorkRow
from workflow.engine.sql import FLOWS, ITEMS, OPEN, USERS, VISITS, WORK_ONLY
from workflow.engine.worklist import ExportRow, Search, WorkList, visit_due
from workflow.errors import InvalidAction, NotFound
from workflow.spec.model import CLOSED_STATES, Names

if TYPE_CHECKING:
    from workflow.engine.core import Engine


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
INBOX = _WORK_ROWS.where(
    ITEMS.c.user_id == bindparam("b_user"), ITEMS.c.status == OPEN, WORK_ONLY
).order_by(ITEMS.c.id.desc())
INBOX_BEFORE = INBOX.where(ITEMS.c.id < bindparam("b_before"))
DONE = _WORK_ROWS.where(
    ITEMS.c.user_id == bindparam("b_user"), ITEMS.c.handled_at.is_not(None), WORK_ONLY
).order_by(ITEMS.c.handled_at.desc())


class Lists:
    """The workbench's read side; every method opens its own read transaction."""

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
                .where(FLOWS.c.initiator_id == user_id, FLOWS.c.kind == "approval")
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

    def worklist(
        self: Engine,
        user_id: int,
        tab: str,
        *,
        query: str | None = None,
        definition: str | None = None,
        since: date | None = None,
        until: date | None = None,
        state: str | None = None,
        page: int = 1,
        per_page: int = 20,
        after: str | None = None,
        before: str | None = None,
        all_counts: bool = False,
    ) -> WorkList:
        """One page of a workbench tab of ``user_id``, newest first.

        Args:
            tab: todo (open items, newest first), done (items the user handled, latest first),
                started (flows the user started, newest first) or circulated (copies sent to
                the user to read, newest first).
            query: part of the title or of the document number (original_number,
                archive_number), any case.
            definition: an approval type's key.
            since, until: local calendar days, both included, of the item's arrival (todo,
                circulated), its handling (done) or the flow's start (started).
            state: active (at a step), ended, approved, rejected or withdrawn.
            page, per_page: which page, of how many rows (at most 100).
            after, before: a keyset cursor (``WorkList.next_after`` / ``prev_before`` of the
                page either side): the page starts just past that row, read through the
                tab's index, however deep; ``page`` is then only the number shown.
            all_counts: count every tab (``WorkList.counts``), in the same round trip.
        Returns:
            The page's rows and the total number of rows the search finds.
        Raises:
            InvalidAction: an unknown tab or state, or a cursor the list did not make.
        """
        search = Search.of(query, definition, since, until, state)
        _check_tab(tab)
        page, per_page = max(1, page), min(max(1, per_page), worklist.MAX_PER_PAGE)
        direction, cursor = ("after", after) if after else ("before", before)
        keyed = worklist.cursor_params(tab, cursor) if cursor else {}
        params = {**search.params(self.tz), "b_user": user_id}
        with self.db.read() as s:
            c = s.connection()
            counts = None
            if all_counts:
                got = c.execute(worklist.counts_statement(search.shape), params).one()
                counts = {t: got._mapping[t] for t in worklist.TABS}
                total = counts[tab]
            else:
                stmt = worklist.count_statement(tab, search.shape)
                total = c.execute(stmt, params).scalar_one()
            found: list[Any] = []
            if keyed:
                stmt = worklist.list_statement(tab, search.shape, direction)
                found = c.execute(stmt, {**params, **keyed, "b_limit": per_page}).all()
                if direction == "before":
                    found.reverse()
            elif total > (page - 1) * per_page:
                found = c.execute(
                    worklist.list_statement(tab, search.shape),
                    {**params, "b_limit": per_page, "b_offset": (page - 1) * per_page},
                ).all()
            rows = worklist.build_rows(
                s, lambda vid: self.registry.get(s, vid).spec, found, self.clock, self.tz
            )
        work = WorkList(tab, rows, total, page, per_page, counts=counts)
        if rows and page < work.pages:
            work.next_after = worklist.cursor_of(tab, rows[-1])
        if rows and page > 1:
            work.prev_before = worklist.cursor_of(tab, rows[0])
        return work

    def tab_counts(
        self: Engine,
        user_id: int,
        *,
        query: str | None = None,
        definition: str | None = None,
        since: date | None = None,
        until: date | None = None,
        state: str | None = None,
    ) -> dict[str, int]:
        """How many rows each workbench tab has for this search: {todo, done, started, circulated}."""
        search = Search.of(query, definition, since, until, state)
        params = {**search.params(self.tz), "b_user": user_id}
        with self.db.read() as s:
            found = s.connection().execute(worklist.counts_statement(search.shape), params).one()
            return {tab: found._mapping[tab] for tab in worklist.TABS}

    def export_rows(self: Engine, user_id: int, *, chunk: int = 5000) -> Iterator[ExportRow]:
        """Every row of every workbench tab of ``user_id`` (to do, done, started, circulated,
        each newest first, in the tab's order), streamed: ``chunk`` rows at a time by keyset
        through each tab's index, each chunk in its own read transaction (a long export holds
        no snapshot and no lock). A row is the page's row without the people waiting (a query
        a row): the flow's current step and its due time (reckoned once a visit) instead."""
        specs: dict[int, Any] = {}
        dues: dict[tuple[int, str, Any], Any] = {}
        for tab in worklist.TABS:
            cursor: dict[str, Any] | None = None
            while True:
                with self.db.read() as s:
                    params = {"b_user": user_id, "b_limit": chunk, **(cursor or {})}
                    stmt = worklist.export_statement(tab, "after" if cursor else None)
                    found = s.connection().execute(stmt, params).all()
                    for r in found:
                        if r.definition_id not in specs:
                            specs[r.definition_id] = self.registry.get(s, r.definition_id).spec
                spec_of = specs.__getitem__
                for r in found:
                    spec = spec_of(r.definition_id)
                    step = r.cur_step if r.state not in CLOSED_STATES else None
                    key = (r.definition_id, step or "", r.cur_entered_at)
                    if key not in dues:
                        dues[key] = (
                            visit_due(spec, step, r.cur_entered_at, self.tz) if step else None
                        )
                    yield ExportRow(tab, r, spec, step, dues[key])
                if len(found) < chunk:
                    break
                last = found[-1]
                cursor = {"b_key": last.flow_id if tab == "started" else last.item_id}
                if tab == "done":
                    cursor["b_at"] = last.at

    def approval_types(self: Engine) -> list[tuple[str, Names]]:
        """(key, names) of every approval type, retired ones too: what the workbench filters on."""
        with self.db.read() as s:
            return [(k, n) for k, n in worklist.approval_types(s) if self._is_approval(s, k)]

    def _is_approval(self: Engine, s: Session, key: str) -> bool:
        try:
            return bool(self.registry.latest(s, key).spec.kind == "approval")
        except NotFound:  # retired: its flows are still searched by it
            return True


def _check_tab(tab: str) -> None:
    if tab not in worklist.TABS:
        raise InvalidAction("tab_unknown", allowed=list(worklist.TABS), value=repr(tab))
