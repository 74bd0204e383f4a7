"""What is shown is what the chain says: each flow's rows compared, field by field, with its replay.

``check_flow`` replays one flow's events (``workflow.replay``) and compares the projection with
the stored ``flows``, ``visits``, ``work_items`` and ``dings`` rows; ``check_all`` does it for
every flow, in batches, so a large database is never held in memory at once. Each difference is
a :class:`Mismatch`, printed as one line naming flow, row, field and event.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, select
from sqlalchemy.orm import Session

from workflow.audit import verify_all, verify_chain
from workflow.replay import Expected, Projection, replay
from workflow.store.db import Database
from workflow.store.models import AuditEvent, Ding, Flow, Visit, WorkItem

FLOWS, VISITS, ITEMS = Flow.__table__, Visit.__table__, WorkItem.__table__
DINGS, EVENTS = Ding.__table__, AuditEvent.__table__
#: flows checked per round trip by check_all
BATCH = 500

MISSING = "(missing)"
UNRECORDED = "(unrecorded)"
CHAIN = "(chain)"

FLOW_FIELDS = ("definition_id", "title", "kind", "initiator_id", "state", "outcome",
               "started_at", "ended_at")  # fmt: skip
VISIT_FIELDS = ("step", "via", "entered_at", "entered_by", "left_at", "left_by", "rejected")
ITEM_FIELDS = ("user_id", "unit_id", "role", "status", "delivered_at", "confirmed_at",
               "handled_at", "closed_at", "closed_by", "action", "decision", "opinion", "hidden",
               "failure")  # fmt: skip
DING_FIELDS = ("item_id", "user_id", "sender_id", "channel", "sent_at", "status", "delivered_at",
               "failure", "confirmed_at")  # fmt: skip

_FLOW_SELECT = select(FLOWS.c.id, FLOWS.c.audit_seq, FLOWS.c.audit_head, FLOWS.c.current_visit_id,
                      FLOWS.c.form, *(FLOWS.c[f] for f in FLOW_FIELDS))  # fmt: skip
_EVENT_SELECT = select(EVENTS.c.id, EVENTS.c.chain, EVENTS.c.seq, EVENTS.c.at, EVENTS.c.actor_id,
                       EVENTS.c.actor_name, EVENTS.c.kind, EVENTS.c.data, EVENTS.c.prev_hash,
                       EVENTS.c.hash)  # fmt: skip


@dataclass(frozen=True)
class Mismatch:
    """One stored fact the flow's event chain does not bear out.

    ``row`` is ``flow``, ``visit N`` (N its seq in the flow), ``work item N`` or ``ding N`` (their
    ids); ``field`` a column (``form.KEY`` for a form value), or MISSING (the events record a row
    the database lacks), UNRECORDED (a row no event records) or CHAIN (the chain itself is broken:
    ``note`` says how); ``seq`` the event that set the expected value.
    """

    flow_id: int
    row: str
    field: str
    seq: int | None
    note: str = ""

    def __str__(self) -> str:
        where = f"flow {self.flow_id}: {self.row}"
        if self.field == MISSING:
            return f"{where}: missing (recorded by event seq {self.seq})"
        if self.field == UNRECORDED:
            noun = self.row.rsplit(" ", 1)[0] if self.row[-1:].isdigit() else self.row
            return f"{where}: no event records this {noun}"
        if self.field == CHAIN:
            return f"{where}: {self.note}"
        return f"{where}: {self.field} differs from event seq {self.seq}"


@dataclass
class Stored:
    """One flow's rows as the database holds them."""

    flow: Any
    events: list[Any]
    visits: list[Any]
    items: list[Any]
    dings: list[Any]


def _conn(tx: Session | Connection) -> Connection:
    return tx if isinstance(tx, Connection) else tx.connection()


def _load(conn: Connection, flows: Sequence[Any]) -> Iterator[Stored]:
    """The events, visits, items and DINGs of these flows, in four queries."""
    ids = [f.id for f in flows]
    by: dict[str, dict[int, list[Any]]] = {k: defaultdict(list) for k in ("e", "v", "i", "d")}
    chains = {f"flow:{i}": i for i in ids}
    for ev in conn.execute(
        _EVENT_SELECT.where(EVENTS.c.chain.in_(list(chains))).order_by(EVENTS.c.chain, EVENTS.c.seq)
    ):
        by["e"][chains[ev.chain]].append(ev)
    for key, table in (("v", VISITS), ("i", ITEMS), ("d", DINGS)):
        for row in conn.execute(select(table).where(table.c.flow_id.in_(ids)).order_by(table.c.id)):
            by[key][row.flow_id].append(row)
    for f in flows:
        yield Stored(f, by["e"][f.id], by["v"][f.id], by["i"][f.id], by["d"][f.id])


def check_flow(tx: Session | Connection, flow_id: int, *, chain: bool = True) -> list[Mismatch]:
    """Every difference between flow ``flow_id``'s rows and its replayed events ([] if none).

    With ``chain`` (the default) the flow's hash chain is recomputed too and a broken link is
    reported as a CHAIN mismatch; a flow that does not exist and has no events gives [].
    """
    conn = _conn(tx)
    stmt = _FLOW_SELECT.where(FLOWS.c.id == flow_id)
    if conn.dialect.name == "postgresql":
        # Actions lock the flow row before they write (Action.load_item / load_flow): with a
        # share lock no action on this flow commits between the reads below, which on
        # PostgreSQL (READ COMMITTED) would otherwise each see a different state. SQLite's read
        # transaction is one snapshot already.
        stmt = stmt.with_for_update(read=True)
    flow = conn.execute(stmt).first()
    if flow is None:
        first = conn.execute(
            select(EVENTS.c.seq).where(EVENTS.c.chain == f"flow:{flow_id}").order_by(EVENTS.c.seq)
        ).first()
        return [] if first is None else [Mismatch(flow_id, "flow", MISSING, first.seq)]
    (stored,) = _load(conn, [flow])
    return _check(stored, chain)


def snapshot(session: Session) -> None:
    """Make ``session``'s transaction one snapshot of the database (call it before any query).

    SQLite's read transaction is one already; PostgreSQL's default (READ COMMITTED) lets each
    statement see commits made since the last, so a flow acted on while ``check_all`` reads it
    would show rows its events (read a moment earlier) do not record. REPEATABLE READ does not.
    """
    if session.get_bind().dialect.name == "postgresql":
        session.connection(execution_options={"isolation_level": "REPEATABLE READ"})


def check_all(tx: Session | Connection, batch: int = BATCH) -> tuple[int, list[Mismatch]]:
    """Every flow checked against its replay (chains are ``audit.verify_all``'s): (flows, mismatches).

    On a database in use, give it a transaction made one snapshot by :func:`snapshot`.
    """
    conn = _conn(tx)
    checked, out, last = 0, [], 0
    while True:
        flows = conn.execute(
            _FLOW_SELECT.where(FLOWS.c.id > last).order_by(FLOWS.c.id).limit(batch)
        ).all()
        if not flows:
            return checked, out
        for stored in _load(conn, flows):
            out.extend(_check(stored, chain=False))
        checked += len(flows)
        last = flows[-1].id


def _check(st: Stored, chain: bool) -> list[Mismatch]:
    fid = st.flow.id
    out: list[Mismatch] = []
    if chain:
        broken = verify_chain(f"flow:{fid}", st.events, (st.flow.audit_seq, st.flow.audit_head))
        if broken is not None:
            out.append(Mismatch(fid, "chain", CHAIN, broken.seq, str(broken)))
    p = replay(fid, st.events)
    out += [
        Mismatch(fid, "chain", CHAIN, seq, f"event seq {seq}: {why}") for seq, why in p.unreadable
    ]
    seq_of_visit = {v.id: v.seq for v in st.visits}
    out += _flow(p, st.flow, seq_of_visit)
    out += _rows(fid, "visit", p.visits, {v.seq: v for v in st.visits}, VISIT_FIELDS,
                 dupes=_dupes(st.visits, "seq"))  # fmt: skip
    items = {i.id: i for i in st.items}
    out += _rows(fid, "work item", p.items, items, ITEM_FIELDS)
    for item_id, exp in sorted(p.items.items(), key=_order):
        row = items.get(item_id)
        if row is not None and seq_of_visit.get(row.visit_id) != exp["visit"]:
            out.append(Mismatch(fid, f"work item {item_id}", "visit_id", exp.born))
    out += _rows(fid, "ding", p.dings, {d.id: d for d in st.dings}, DING_FIELDS)
    return out


def _flow(p: Projection, row: Any, seq_of_visit: dict[int, int]) -> list[Mismatch]:
    fid, exp = row.id, p.flow
    if exp is None:
        return [Mismatch(fid, "flow", UNRECORDED, None)]
    out = [
        Mismatch(fid, "flow", f, exp.seq_of(f)) for f in FLOW_FIELDS if getattr(row, f) != exp[f]
    ]
    if seq_of_visit.get(row.current_visit_id) != exp["current_visit"]:
        out.append(Mismatch(fid, "flow", "current_visit_id", exp.seq_of("current_visit")))
    form, want = row.form if isinstance(row.form, dict) else {}, exp["form"] or {}
    for key in sorted(set(form) | set(want), key=str):
        if key not in form or key not in want or form[key] != want[key]:
            out.append(Mismatch(fid, "flow", f"form.{key}", exp.seq_of("form")))
    if not isinstance(row.form, dict):
        out.append(Mismatch(fid, "flow", "form", exp.seq_of("form")))
    return out


def _rows(
    fid: int,
    noun: str,
    expected: dict[int, Expected],
    stored: dict[int, Any],
    fields: Iterable[str],
    dupes: Iterable[Any] = (),
) -> list[Mismatch]:
    """Rows the events record (missing, or a field differs), then rows no event records."""
    out: list[Mismatch] = []
    fields = tuple(fields)
    for key, exp in sorted(expected.items(), key=_order):
        row = stored.get(key)
        if row is None:
            out.append(Mismatch(fid, f"{noun} {key}", MISSING, exp.born))
            continue
        out += [
            Mismatch(fid, f"{noun} {key}", f, exp.seq_of(f))
            for f in fields
            if f in exp.values and getattr(row, f) != exp[f]  # unit_id: only where recorded
        ]
    extra = [k for k in stored if k not in expected] + list(dupes)
    out += [Mismatch(fid, f"{noun} {k}", UNRECORDED, None) for k in sorted(extra, key=_key)]
    return out


def _key(key: Any) -> tuple[int, Any]:
    """Ids in numeric order; anything else a rewritten chain may hold after them, as text."""
    return (0, key) if isinstance(key, int) else (1, str(key))


def _order(pair: tuple[Any, Any]) -> tuple[int, Any]:
    return _key(pair[0])


def _dupes(rows: Sequence[Any], key: str) -> list[Any]:
    """Keys held by more than one row: the second and later rows are recorded by no event."""
    seen: set[Any] = set()
    out = []
    for row in rows:
        k = getattr(row, key)
        if k in seen:
            out.append(k)
        seen.add(k)
    return out


@dataclass
class TrailReport:
    """``banli audit verify``'s findings: the chains recomputed, the flows replayed."""

    events: int
    broken: list[Any]
    flows: int
    mismatches: list[Mismatch]


def verify_trail(db: Database) -> TrailReport:
    """Every hash chain recomputed and every flow replayed against its rows, as of one moment."""
    with db.read() as s:
        snapshot(s)  # chains and rows as of one moment, while people keep working
        checked, broken = verify_all(s)
        flows, mismatches = check_all(s)
    return TrailReport(checked, broken, flows, mismatches)
