"""Reading the admin log (管理日志): the ``admin`` chain's events newest first, in the reader's
scope, with keyset paging, filters and each event's before/after as a field diff.

Who reads what. The main administrator reads every event. A sub-administrator reads the events
whose *target unit* lies in any subtree they were granted (whatever the capability), and the
events about themselves (their own appointment, scope changes, revocation). Events with no target
unit (a job retried, a sign-in lock lifted, the unit-less acts) are the main administrator's.

The target-unit convention (every area's ``adminlog.record(..., target=...)`` follows it):
``target["unit"]`` is the id of the unit the act concerns — for an act on a person, the unit
they were in when it happened (``{"user": id, "name": …, "unit": id}``); for an act on a unit,
that unit (``{"unit": id, "name": …}``). An act that moves something from one unit to another
adds ``target["to_unit"]`` (the unit after), so the administrators of either side read it.
Both are filtered in SQL through the JSON column, on SQLite and PostgreSQL alike.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta, tzinfo
from typing import Any

from sqlalchemy import or_, select

from workflow.access import admin_scope
from workflow.errors import Forbidden
from workflow.store.db import Database
from workflow.store.models import AuditEvent, Unit, User

EVENTS = AuditEvent.__table__
USERS = User.__table__
CHAIN = "admin"
PAGE = 50
#: where the target's unit is kept in an event's data (see the module text)
UNIT_PATHS = (("target", "unit"), ("target", "to_unit"))


@dataclass(frozen=True)
class Change:
    """One field that an act changed: its name and the JSON values before and after."""

    field: str
    before: Any
    after: Any


@dataclass(frozen=True)
class LogEntry:
    """One event of the admin chain as the log shows it."""

    id: int
    seq: int
    kind: str
    at: datetime
    actor_id: int | None
    actor_name: str | None
    target: dict[str, Any]
    #: the actor's scope when they acted (``{"main": true}`` or capability → unit roots)
    scope: dict[str, Any]
    changes: list[Change]
    #: the event's other data (older kinds such as ``job_retry`` carry no before/after)
    details: dict[str, Any]


@dataclass(frozen=True)
class LogPage:
    entries: list[LogEntry]
    #: the ``before`` (a chain seq) of the next, older page; None when this is the last
    next_before: int | None


def diff(before: Any, after: Any) -> list[Change]:
    """The fields that differ between two before/after values (dicts compared key by key; any
    other value as one field ``value``)."""
    if isinstance(before, dict) or isinstance(after, dict):
        b = before if isinstance(before, dict) else {}
        a = after if isinstance(after, dict) else {}
        keys = list(dict.fromkeys([*b, *a]))
        return [Change(k, b.get(k), a.get(k)) for k in keys if b.get(k) != a.get(k)]
    if before == after:
        return []
    return [Change("value", before, after)]


def _entry(row: Any) -> LogEntry:
    data = row.data if isinstance(row.data, dict) else {}
    known = ("target", "before", "after", "scope")
    target = data.get("target") if isinstance(data.get("target"), dict) else {}
    scope = data.get("scope") if isinstance(data.get("scope"), dict) else {}
    changes = diff(data.get("before"), data.get("after")) if "before" in data else []
    details = {k: v for k, v in data.items() if k not in known}
    return LogEntry(row.id, row.seq, row.kind, row.at, row.actor_id, row.actor_name,
                    target or {}, scope or {}, changes, details)  # fmt: skip


def read_log(
    db: Database,
    viewer_id: int,
    *,
    before: int | None = None,
    kind: str | None = None,
    actor: str | None = None,
    since: date | None = None,
    until: date | None = None,
    tz: tzinfo | None = None,
    limit: int = PAGE,
) -> LogPage:
    """One page of the admin log for ``viewer_id``, newest first, before chain position ``before``
    (the ``seq`` of the last event of the page before: keyset paging).

    Filters: ``kind`` (exact), ``actor`` (a login; an unknown one finds nothing), ``since`` and
    ``until`` (days in ``tz``, both included). ``Forbidden`` (``admin_only``) for someone who
    administers nothing."""
    with db.read() as s:
        scope = admin_scope(s, viewer_id)
        if not scope.capabilities:
            raise Forbidden("admin_only")
        stmt = select(EVENTS).where(EVENTS.c.chain == CHAIN)
        if not scope.main:
            units = sorted(set().union(*scope.units.values()))
            seen = [EVENTS.c.data[p].as_integer().in_(units) for p in UNIT_PATHS]
            seen.append(EVENTS.c.data[("target", "user")].as_integer() == viewer_id)
            stmt = stmt.where(or_(*seen))
        if before is not None:
            stmt = stmt.where(EVENTS.c.seq < before)
        if kind:
            stmt = stmt.where(EVENTS.c.kind == kind)
        if actor:
            actor_id = s.execute(select(USERS.c.id).where(USERS.c.login == actor)).scalar()
            stmt = stmt.where(EVENTS.c.actor_id == (actor_id if actor_id is not None else -1))
        zone = tz or datetime.now().astimezone().tzinfo
        if since is not None:
            stmt = stmt.where(EVENTS.c.at >= datetime.combine(since, time(), zone))
        if until is not None:
            end = datetime.combine(until + timedelta(days=1), time(), zone)
            stmt = stmt.where(EVENTS.c.at < end)
        # newest first along the chain's own (chain, seq) index: no sort of the whole chain
        rows = s.execute(stmt.order_by(EVENTS.c.seq.desc()).limit(limit + 1)).all()
        entries = [_entry(r) for r in rows[:limit]]
        more = len(rows) > limit
        return LogPage(entries, entries[-1].seq if more and entries else None)


def log_kinds(db: Database) -> list[str]:
    """The kinds of event the admin chain holds, for the log's filter."""
    with db.read() as s:
        rows = s.execute(
            select(EVENTS.c.kind).where(EVENTS.c.chain == CHAIN).distinct().order_by(EVENTS.c.kind)
        )
        return [k for (k,) in rows]


def unit_names(db: Database, entries: list[LogEntry]) -> dict[int, str]:
    """The names of the units the entries' targets and grants name, for showing them."""
    ids: set[int] = set()
    for e in entries:
        for key in ("unit", "to_unit"):
            if isinstance(e.target.get(key), int):
                ids.add(e.target[key])
    if not ids:
        return {}
    with db.read() as s:
        rows = s.execute(select(Unit.id, Unit.name).where(Unit.id.in_(sorted(ids))))
        return {i: n for i, n in rows}
