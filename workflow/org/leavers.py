"""Moving a person to another unit (Art. 11) and removing a leaver (Art. 12), each one transaction.

A removal sets the person ``removed`` (with who and when), ends every sign-in session they have,
reassigns every open work item to the successor chosen in the dialog (``workflow.engine.reassign``:
one event on each flow's chain), and records ``person_remove`` on the admin chain — all or
nothing. Flows they started stay open and keep naming them; their history keeps their name. A
move changes their unit and records ``person_move``; their open items stay theirs unless the
administrator picks some (or all) to reassign in the same act. Work items keep the unit they were
made in (``work_items.unit_id``): a move never rewrites the record.

Who may: an administrator whose ``people`` scope covers the person's unit (and, for a move, the
new unit too); to anyone else the person is not there (404).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import Connection, func, select, update
from sqlalchemy.orm import Session

from workflow.access import AdminScope, admin_scope, main_admin_id
from workflow.engine import reassign
from workflow.engine.reassign import Handed, OpenItem, Party
from workflow.errors import Conflict, Forbidden, FormInvalid, Hidden, InvalidAction
from workflow.org import adminlog
from workflow.refusals import FieldError
from workflow.spec.model import CLOSED_STATES
from workflow.store.models import DefinitionVersion, Flow, SignInSession, Unit, User

if TYPE_CHECKING:
    from workflow.engine.core import Engine

USERS, UNITS, FLOWS = User.__table__, Unit.__table__, Flow.__table__
SESSIONS, DEFS = SignInSession.__table__, DefinitionVersion.__table__
CAPABILITY = "people"


@dataclass(frozen=True)
class Subject:
    """The person a dialog is about, as it shows them."""

    id: int
    login: str
    name: str
    status: str
    unit_id: int
    unit_name: str
    removed_at: datetime | None = None
    removed_by: str | None = None


@dataclass
class Plan:
    """What the move and remove dialogs show before anything is done."""

    person: Subject
    #: their open work items (not messages): listed first, each handed over on removal
    items: list[OpenItem]
    #: definitions whose source names them directly (``user: login``), as ``file:line``
    definitions: list[str]
    #: open flows they started: these stay open and keep naming them
    started: list[tuple[int, str]]


@dataclass
class Result:
    """What a removal or a move did."""

    person: Subject
    handed: list[Handed] = field(default_factory=list)
    sessions_ended: int = 0
    definitions: list[str] = field(default_factory=list)
    started: list[tuple[int, str]] = field(default_factory=list)
    unit_before: str | None = None
    unit_after: str | None = None


def _subject(conn: Connection | Session, person_id: int) -> Subject | None:
    by = USERS.alias("by")
    row = conn.execute(
        select(USERS.c.id, USERS.c.login, USERS.c.name, USERS.c.status, USERS.c.unit_id,
               UNITS.c.name.label("unit_name"), USERS.c.removed_at, by.c.name.label("by_name"))
        .join(UNITS, UNITS.c.id == USERS.c.unit_id)
        .outerjoin(by, by.c.id == USERS.c.removed_by)
        .where(USERS.c.id == person_id)
    ).first()  # fmt: skip
    if row is None:
        return None
    return Subject(row.id, row.login, row.name, row.status, row.unit_id, row.unit_name,
                   row.removed_at, row.by_name)  # fmt: skip


def _in_scope(
    conn: Connection | Session, actor_id: int, person_id: int
) -> tuple[AdminScope, Subject]:
    """The actor's scope and the person, if that scope covers the person's unit; else 404."""
    scope = admin_scope(conn, actor_id)
    person = _subject(conn, person_id)
    if person is None or not scope.covers(CAPABILITY, person.unit_id):
        raise Hidden("person_not_found", person=person_id)
    return scope, person


def naming_definitions(conn: Connection | Session, login: str) -> list[str]:
    """``file:line`` of each line of the newest active definition versions naming ``login`` as
    ``user:`` — they would find nobody once the person is gone."""
    pattern = re.compile(rf"\buser:\s*['\"]?{re.escape(login)}['\"]?\s*(?:[,}}#]|$)")
    newest = select(DEFS.c.key, func.max(DEFS.c.version).label("v")).group_by(DEFS.c.key).subquery()
    rows = conn.execute(
        select(DEFS.c.filename, DEFS.c.source)
        .join(newest, (newest.c.key == DEFS.c.key) & (newest.c.v == DEFS.c.version))
        .where(DEFS.c.active.is_(True))
        .order_by(DEFS.c.filename)
    )
    return [
        f"{r.filename}:{n}"
        for r in rows
        for n, line in enumerate(r.source.splitlines(), 1)
        if pattern.search(line)
    ]


def _started(conn: Connection | Session, person_id: int) -> list[tuple[int, str]]:
    rows = conn.execute(
        select(FLOWS.c.id, FLOWS.c.title)
        .where(FLOWS.c.initiator_id == person_id, FLOWS.c.state.not_in(CLOSED_STATES),
               FLOWS.c.kind == "approval")
        .order_by(FLOWS.c.id)
    )  # fmt: skip
    return [(r.id, r.title) for r in rows]


def plan(engine: Engine, actor_id: int, person_id: int) -> Plan:
    """What the dialogs show: the person, their open items, definitions naming them, their flows."""
    with engine.db.read() as s:
        _, person = _in_scope(s, actor_id, person_id)
        conn = s.connection()
        return Plan(person, reassign.open_items(engine, conn, person_id),
                    naming_definitions(s, person.login), _started(s, person_id))  # fmt: skip


def candidates(engine: Engine, actor_id: int, person_id: int) -> list[tuple[int, str, str]]:
    """Who may succeed the person: active people in the actor's ``people`` scope but them,
    as (id, name, unit name), by unit then name."""
    with engine.db.read() as s:
        scope, _ = _in_scope(s, actor_id, person_id)
        stmt = (
            select(USERS.c.id, USERS.c.name, UNITS.c.name.label("unit"))
            .join(UNITS, UNITS.c.id == USERS.c.unit_id)
            .where(USERS.c.status == "active", USERS.c.id != person_id)
            .order_by(UNITS.c.name, USERS.c.pinyin, USERS.c.id)
        )
        units = scope.units_for(CAPABILITY)
        if units is not None:
            stmt = stmt.where(USERS.c.unit_id.in_(sorted(units)))
        return [(r.id, r.name, r.unit) for r in s.execute(stmt)]


def units(engine: Engine, actor_id: int) -> list[tuple[str, str]]:
    """The open units the actor may move people into, as (code, name), by name."""
    with engine.db.read() as s:
        scope = admin_scope(s, actor_id)
        stmt = select(UNITS.c.code, UNITS.c.name).where(UNITS.c.closed_at.is_(None))
        allowed = scope.units_for(CAPABILITY)
        if allowed is not None:
            stmt = stmt.where(UNITS.c.id.in_(sorted(allowed)))
        return [(r.code, r.name) for r in s.execute(stmt.order_by(UNITS.c.id))]


def _successor(
    s: Session, scope: AdminScope, person: Subject, successor_id: int | None, need: int
) -> Party | None:
    """The chosen successor, checked; a FieldError on ``successor`` for a bad choice."""
    if successor_id is None:
        if need:
            raise FormInvalid({"successor": FieldError(
                "successor_required", name=person.name, count=need)})  # fmt: skip
        return None
    row = s.execute(
        select(USERS.c.id, USERS.c.name, USERS.c.status, USERS.c.unit_id).where(
            USERS.c.id == successor_id
        )
    ).first()
    if row is None or not scope.covers(CAPABILITY, row.unit_id):
        problem = FieldError("successor_unknown", value=successor_id)
    elif row.id == person.id:
        problem = FieldError("successor_is_person", name=person.name)
    elif row.status == "removed":
        problem = FieldError("successor_removed", name=row.name)
    elif row.status != "active":
        problem = FieldError("successor_invited", name=row.name)
    else:
        return Party(row.id, row.name, row.unit_id)
    raise FormInvalid({"successor": problem})


def _actor(s: Session, actor_id: int) -> Party:
    name = s.execute(select(USERS.c.name).where(USERS.c.id == actor_id)).scalar()
    return Party(actor_id, name or "")


def remove(
    engine: Engine, actor_id: int, person_id: int, successor_id: int | None, *, at: datetime
) -> Result:
    """Remove a leaver in one transaction; ``Conflict`` if someone removed them first."""
    with engine.db.write() as s:
        scope, person = _in_scope(s, actor_id, person_id)
        if person_id == actor_id:
            raise Forbidden("remove_self")
        if main_admin_id(s) == person_id:
            raise Forbidden("remove_main_admin", name=person.name)
        # The row first: a second administrator's removal waits here (PostgreSQL) or behind
        # BEGIN IMMEDIATE (SQLite), then finds the person removed; the person's own actions
        # share-lock this row before their flow's, so none lands half-way through.
        done = s.execute(
            update(USERS)
            .where(USERS.c.id == person_id, USERS.c.status != "removed")
            .values(status="removed", removed_at=at, removed_by=actor_id)
        ).rowcount
        if done != 1:
            gone = _subject(s, person_id)
            assert gone is not None
            raise Conflict("person_already_removed", name=gone.name, by=gone.removed_by or "?",
                           at=(gone.removed_at or at).astimezone(engine.tz))  # fmt: skip
        need = len(reassign.open_items(engine, s.connection(), person_id))
        successor = _successor(s, scope, person, successor_id, need)
        ended = s.execute(
            update(SESSIONS)
            .where(SESSIONS.c.user_id == person_id, SESSIONS.c.ended_at.is_(None))
            .values(ended_at=at)
        ).rowcount
        handed = []
        if successor is not None and need:
            handed = reassign.reassign(engine, s, actor=_actor(s, actor_id), person=_party(person),
                                       successor=successor, reason="leaver", now=at)  # fmt: skip
        result = Result(_subject(s, person_id) or person, handed, ended,
                        naming_definitions(s, person.login), _started(s, person_id))  # fmt: skip
        adminlog.record(s, scope, "person_remove", at=at, target=_target(person),
                        before={"status": person.status},
                        after={"status": "removed", "successor": _who(successor),
                               "reassigned": len(handed), "sessions_ended": ended,
                               "flows_started_open": len(result.started),
                               "definitions": result.definitions})  # fmt: skip
        return result


def move(
    engine: Engine,
    actor_id: int,
    person_id: int,
    unit_code: str,
    *,
    at: datetime,
    successor_id: int | None = None,
    items: list[int] | None = None,
) -> Result:
    """Move a person to the open unit ``unit_code`` (both units in scope); reassign ``items``
    (their open item ids; [] or None: none) to the successor in the same transaction."""
    with engine.db.write() as s:
        scope, person = _in_scope(s, actor_id, person_id)
        if person.status == "removed":
            raise InvalidAction("person_removed", name=person.name)
        unit = s.execute(
            select(UNITS.c.id, UNITS.c.name, UNITS.c.closed_at).where(UNITS.c.code == unit_code)
        ).first()
        problem = None
        if unit is None or not scope.covers(CAPABILITY, unit.id):
            problem = FieldError("move_unit_unknown", value=unit_code)
        elif unit.closed_at is not None:
            problem = FieldError("move_unit_closed", unit=unit.name)
        elif unit.id == person.unit_id:
            problem = FieldError("move_unit_same", name=person.name, unit=unit.name)
        if problem is not None:
            raise FormInvalid({"unit": problem})
        s.execute(update(USERS).where(USERS.c.id == person_id).values(unit_id=unit.id))
        wanted = sorted(set(items or ()))
        successor = _successor(s, scope, person, successor_id, len(wanted))
        handed = []
        if successor is not None and wanted:
            handed = reassign.reassign(engine, s, actor=_actor(s, actor_id), person=_party(person),
                                       successor=successor, reason="moved", now=at,
                                       only=wanted)  # fmt: skip
        adminlog.record(s, scope, "person_move", at=at,
                        target={**_target(person), "to_unit": unit.id},
                        before={"unit": person.unit_id, "unit_name": person.unit_name},
                        after={"unit": unit.id, "unit_name": unit.name,
                               "successor": _who(successor), "reassigned": len(handed)})  # fmt: skip
        return Result(_subject(s, person_id) or person, handed, unit_before=person.unit_name,
                      unit_after=unit.name)  # fmt: skip


def _party(person: Subject) -> Party:
    return Party(person.id, person.name, person.unit_id)


def _target(person: Subject) -> dict[str, Any]:
    """The person acted on, in the unit they were in (the admin log's target-unit convention)."""
    return {"user": person.id, "name": person.name, "login": person.login, "unit": person.unit_id}


def _who(party: Party | None) -> dict[str, Any] | None:
    return None if party is None else {"user": party.id, "name": party.name}
