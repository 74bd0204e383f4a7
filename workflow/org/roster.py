"""The people an administrator administers: the list (filtered, searched, by keyset), one
person's card, and the choices the enrol form offers (units in scope, the role vocabulary).

Only people in units the actor holds ``people`` over are listed or shown; anyone else is
``Hidden`` (404), the same as an id no one has.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import or_, select

from workflow.access import require_capability, subtree
from workflow.errors import InvalidAction
from workflow.org import invitations
from workflow.org.people import find_unit, held_roles, person_in_scope
from workflow.org.person_fields import role_vocabulary
from workflow.refusals import quoted
from workflow.store.db import Database
from workflow.store.models import RoleMembership, Unit, User

USERS = User.__table__
UNITS = Unit.__table__
ROLES = RoleMembership.__table__
STATUSES = ("active", "invited", "removed")
PAGE = 50


@dataclass(frozen=True)
class PersonRow:
    id: int
    login: str
    name: str
    unit_id: int
    unit: str
    post: str | None
    mobile: str | None
    email: str | None
    status: str


@dataclass(frozen=True)
class PeoplePage:
    rows: list[PersonRow]
    #: the id to pass as ``after`` for the next page; None on the last one
    after: int | None


@dataclass(frozen=True)
class UnitChoice:
    id: int
    code: str
    name: str
    depth: int
    closed: bool


@dataclass(frozen=True)
class PersonCard:
    row: PersonRow
    created_at: datetime | None
    #: (role, unit name) for every role held
    roles: list[tuple[str, str]]
    #: the newest invitation (created_at, expires_at, used_at), or None
    invitation: Any


def _like(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def list_people(
    db: Database,
    actor_id: int,
    *,
    unit_id: int | None = None,
    status: str | None = None,
    q: str | None = None,
    after: int | None = None,
    limit: int = PAGE,
) -> PeoplePage:
    """The people in the actor's scope, by pinyin then id, ``limit`` after the person ``after``.

    ``unit_id`` narrows to that unit's subtree (it must be in scope: else ``Forbidden``);
    ``q`` matches name, pinyin, initials, login or mobile.
    """
    if status is not None and status not in STATUSES:
        raise InvalidAction("state_unknown", allowed=list(STATUSES), value=quoted(status))
    with db.read() as s:
        scope = require_capability(s, actor_id, "people", unit_id)
        query = (select(USERS.c.id, USERS.c.login, USERS.c.name, USERS.c.unit_id,
                        UNITS.c.name.label("unit"), USERS.c.post, USERS.c.mobile, USERS.c.email,
                        USERS.c.status, USERS.c.pinyin)
                 .join(UNITS, UNITS.c.id == USERS.c.unit_id))  # fmt: skip
        allowed = scope.units_for("people")
        units = subtree(s, [unit_id]) if unit_id is not None else None
        if allowed is not None:
            units = allowed if units is None else units & allowed
        if units is not None:
            query = query.where(USERS.c.unit_id.in_(sorted(units)))
        if status is not None:
            query = query.where(USERS.c.status == status)
        text = " ".join((q or "").split())[:100]
        if text:
            like = _like(text.lower())
            query = query.where(or_(
                USERS.c.name.like(f"%{_like(text)}%", escape="\\"),
                USERS.c.pinyin.like(f"{like}%", escape="\\"),
                USERS.c.initials.like(f"{like}%", escape="\\"),
                USERS.c.login.like(f"{like}%", escape="\\"),
                USERS.c.mobile.like(f"%{_like(text)}%", escape="\\"),
            ))  # fmt: skip
        if after is not None:
            mark = s.execute(select(USERS.c.pinyin).where(USERS.c.id == after)).scalar()
            if mark is not None:
                query = query.where(or_(USERS.c.pinyin > mark,
                                        (USERS.c.pinyin == mark) & (USERS.c.id > after)))  # fmt: skip
        rows = s.execute(query.order_by(USERS.c.pinyin, USERS.c.id).limit(limit + 1)).all()
    found = [_row(r) for r in rows[:limit]]
    return PeoplePage(found, found[-1].id if len(rows) > limit else None)


def _row(r: Any) -> PersonRow:
    return PersonRow(r.id, r.login, r.name, r.unit_id, r.unit, r.post, r.mobile, r.email, r.status)


def person_card(db: Database, actor_id: int, user_id: int) -> PersonCard:
    """One person in the actor's scope: the row, their roles, their newest invitation.

    Raises ``Hidden`` for a person outside the scope (or none), ``Forbidden`` for an actor who
    administers no people.
    """
    with db.read() as s:
        scope = require_capability(s, actor_id, "people")
        row = person_in_scope(s, scope, user_id)
        unit = s.execute(select(UNITS.c.name).where(UNITS.c.id == row.unit_id)).scalar()
        roles = s.execute(
            select(ROLES.c.role, UNITS.c.name)
            .outerjoin(UNITS, UNITS.c.id == ROLES.c.unit_id)
            .where(ROLES.c.user_id == user_id)
            .order_by(ROLES.c.role)
        ).all()
        return PersonCard(
            PersonRow(row.id, row.login, row.name, row.unit_id, unit or "", row.post, row.mobile,
                      row.email, row.status),
            row.created_at,
            [(role, unit_name or "") for role, unit_name in roles],
            invitations.latest(s, user_id),
        )  # fmt: skip


def units_in_scope(db: Database, actor_id: int) -> list[UnitChoice]:
    """The units the actor holds ``people`` over, in tree order with their depth."""
    with db.read() as s:
        scope = require_capability(s, actor_id, "people")
        allowed = scope.units_for("people")
        rows = s.execute(select(UNITS.c.id, UNITS.c.code, UNITS.c.name, UNITS.c.parent_id,
                                UNITS.c.closed_at).order_by(UNITS.c.id)).all()  # fmt: skip
    children: dict[int | None, list[Any]] = {}
    for r in rows:
        children.setdefault(r.parent_id, []).append(r)
    ids = {r.id for r in rows}
    out: list[UnitChoice] = []
    todo = [(r, 0) for r in reversed(children.get(None, []))]
    todo += [(r, 0) for r in reversed(rows) if r.parent_id is not None and r.parent_id not in ids]
    while todo:
        r, depth = todo.pop()
        shown = allowed is None or r.id in allowed
        if shown:
            out.append(UnitChoice(r.id, r.code, r.name, depth, r.closed_at is not None))
        todo.extend((c, depth + 1 if shown else depth) for c in reversed(children.get(r.id, [])))
    return out


def roles_offered(db: Database) -> list[str]:
    """The role vocabulary, sorted: roles held by someone and roles definitions name."""
    with db.read() as s:
        return sorted(role_vocabulary(s))


def roles_of(db: Database, user_id: int, unit_id: int) -> list[str]:
    """The roles ``user_id`` holds in ``unit_id``."""
    with db.read() as s:
        return held_roles(s, user_id, unit_id)


def unit_id_of(db: Database, text: str) -> int | None:
    """The id of the unit ``text`` names (code, name or id), or None."""
    with db.read() as s:
        unit = find_unit(s, text)
    return None if unit is None else int(unit.id)
