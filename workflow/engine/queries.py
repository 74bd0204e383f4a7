"""Read-only questions: the workbench's lists, a flow's history, and what a user may do right now."""

from __future__ import annotations

from datetime import date
from typing import TYPE_CHECKING, Any

from sqlalchemy import Connection, bindparam, select
from sqlalchemy.orm import Session, aliased

from workflow.engine import assign, timeouts, visibility, worklist
from workflow.engine.context import Action
from workflow.engine.people import resolve
from workflow.engine.records import DingState, FlowRecord, PersonPart, VisitRecord, WorkRow
from workflow.engine.sql import FLOWS, ITEMS, OPEN, USERS, VISITS, WORK_ONLY
from workflow.engine.worklist import Search, WorkList
from workflow.errors import BanliError, InvalidAction, NotFound
from workflow.spec.model import Names
from workflow.store.models import DefinitionVersion, Ding, Unit

if TYPE_CHECKING:
    from workflow.engine.core import Engine

DEFS = DefinitionVersion.__table__


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
        Returns:
            The page's rows and the total number of rows the search finds.
        Raises:
            InvalidAction: an unknown tab or state.
        """
        search = Search.of(query, definition, since, until, state)
        _check_tab(tab)
        page, per_page = max(1, page), min(max(1, per_page), worklist.MAX_PER_PAGE)
        params = {**search.params(self.tz), "b_user": user_id}
        with self.db.read() as s:
            c = s.connection()
            total = c.execute(worklist.count_statement(tab, search.shape), params).scalar_one()
            found = []
            if total > (page - 1) * per_page:
                found = c.execute(
                    worklist.list_statement(tab, search.shape),
                    {**params, "b_limit": per_page, "b_offset": (page - 1) * per_page},
                ).all()
            rows = worklist.build_rows(
                s, lambda vid: self.registry.get(s, vid).spec, found, self.clock, self.tz
            )
        return WorkList(tab, rows, total, page, per_page)

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
            c = s.connection()
            return {
                tab: c.execute(worklist.count_statement(tab, search.shape), params).scalar_one()
                for tab in worklist.TABS
            }

    def approval_types(self: Engine) -> list[tuple[str, Names]]:
        """(key, names) of every approval type, retired ones too: what the workbench filters on."""
        with self.db.read() as s:
            return [(k, n) for k, n in worklist.approval_types(s) if self._is_approval(s, k)]

    def _is_approval(self: Engine, s: Session, key: str) -> bool:
        try:
            return bool(self.registry.latest(s, key).spec.kind == "approval")
        except NotFound:  # retired: its flows are still searched by it
            return True

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
        """The initiator, anyone with a part in the flow, and administrators (see visibility)."""
        return visibility.may_see(s.connection(), user_id, flow_id)

    def visible(
        self: Engine, viewer_id: int, *, flow_id: int | None = None, item_id: int | None = None
    ) -> int:
        """The flow (or the flow of the work item) ``viewer_id`` asks about, if they may see it.

        The one check every page that names a flow, work item, message or attachment makes
        first. Raises ``Hidden`` (404) alike for a flow that does not exist and for one the
        viewer has no part in.
        """
        with self.db.read() as s:
            return visibility.visible_flow(
                s.connection(), viewer_id, flow_id=flow_id, item_id=item_id
            )

    def history(self: Engine, flow_id: int, *, viewer_id: int | None = None) -> FlowRecord:
        """The whole record of a flow; with ``viewer_id``, only if that person may see it."""
        with self.db.read() as s:
            if viewer_id is not None:
                visibility.visible_flow(s.connection(), viewer_id, flow_id=flow_id)
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
            dings = dings_of(s.connection(), flow_id)
            for visit in visits.values():
                for part in visit.people:
                    part.ding = dings.get(part.item_id)
            current = visits.get(f["current_visit_id"])
            if (
                current is not None
                and current.due_at is not None
                and current.left_at is None
                and f["state"] not in worklist.CLOSED
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


def _form_for(flow: Any, viewer_id: int | None) -> dict[str, Any]:
    """The form as the viewer may read it: a revoked message's text is for its sender only."""
    form = dict(flow["form"])
    revoked = flow["kind"] == "message" and flow["state"] == "withdrawn"
    if revoked and viewer_id is not None and viewer_id != flow["initiator_id"]:
        return {"subject": form.get("subject")}
    return form


def _check_tab(tab: str) -> None:
    if tab not in worklist.TABS:
        raise InvalidAction("tab_unknown", allowed=list(worklist.TABS), value=repr(tab))


def _cands(c: Any, one: bool = False) -> dict[str, Any]:
    """Candidates as a page needs them; a host among several is always a choice of one."""
    if one:
        return {"ids": list(c.ids), "choose": len(c.ids) > 1, "min": 1, "max": 1}
    return {"ids": list(c.ids), "choose": c.choose, "min": c.min, "max": c.max}


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
