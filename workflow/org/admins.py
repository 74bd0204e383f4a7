"""The administrators (Art. 29-31): one main administrator, transferable; sub-administrators
appointed by the main one, each with a scope of (capability, unit subtree root) pairs.

Every act here is the main administrator's alone (a sub-administrator may not appoint: Art. 30)
and is one write transaction that first locks the ``main_admin`` row, then checks that the actor
is (still) the main administrator, then changes the grants and records the act on the admin
chain (``workflow.org.adminlog.record``). So a transfer racing an appointment is serialised: if
the transfer lands first, the appointment finds its actor no longer main and is refused.

Transfer. The main administrator hands the role to another *active* person. Afterwards the old
main administrator holds nothing (they are not made a sub-administrator: the new main one may
appoint them); the new main administrator's own grants, if they were a sub-administrator, are
dropped in the same transaction (the main role covers them, and they must not come back if the
role moves on again). Both show in the event's before/after.

Events (kinds ``main_transfer``, ``admin_appoint``, ``admin_scope_change``, ``admin_revoke``)
carry ``target = {"user": id, "name": …, "unit": id}`` (the person's unit: see
``workflow.org.adminlog_view`` for how the log filters by it) and before/after
``{"grants": [{"capability", "unit", "unit_name"}…]}`` or ``{"main": {"user", "name"}}``.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import delete, insert, select, update
from sqlalchemy.orm import Session

from workflow.access import CAPABILITIES, AdminScope, admin_scope
from workflow.errors import Conflict, Forbidden, FormInvalid, NotFound
from workflow.org.adminlog import record
from workflow.refusals import FieldError
from workflow.store.db import Database
from workflow.store.models import AdminGrant, MainAdmin, Unit, User

USERS = User.__table__
UNITS = Unit.__table__
GRANTS = AdminGrant.__table__
MAIN = MainAdmin.__table__

#: a grant as the admin chain records it and the pages show it
Pair = tuple[str, int]


@dataclass(frozen=True)
class Grant:
    """One capability over one unit's subtree."""

    capability: str
    unit_id: int
    unit_name: str
    #: the unit was closed since (the grant still covers its subtree's history)
    unit_closed: bool = False


@dataclass(frozen=True)
class Administrator:
    """A main or sub-administrator as the administrators page lists them."""

    id: int
    login: str
    name: str
    unit: str
    #: active | invited | removed: a removed person's grants no longer count
    status: str
    grants: tuple[Grant, ...] = ()

    @property
    def counts(self) -> bool:
        """Whether their grants take effect (only an active person administers)."""
        return self.status == "active"


@dataclass(frozen=True)
class Administrators:
    """The main administrator and the sub-administrators, by name."""

    main: Administrator | None
    subs: list[Administrator]


def _lock_main(s: Session, actor_id: int) -> AdminScope:
    """Lock the main_admin row (serialising every act of this module) and return the actor's
    scope; ``Forbidden`` unless they are the active main administrator."""
    s.execute(select(MAIN.c.user_id).where(MAIN.c.id == 1).with_for_update())
    scope = admin_scope(s, actor_id)
    if not scope.main:
        name = s.execute(select(USERS.c.name).where(USERS.c.id == actor_id)).scalar()
        if name is None:
            raise NotFound("user_not_found", user=actor_id)
        raise Forbidden("admin_not_main", name=name)
    return scope


def _person(s: Session, who: str | int, field: str = "person") -> Any:
    """The active person a form names (by id, login, or a name only one active person bears),
    else the field's error."""
    column = USERS.c.id if isinstance(who, int) else USERS.c.login
    if isinstance(who, str):
        who = who.strip()
    fields = select(USERS.c.id, USERS.c.login, USERS.c.name, USERS.c.unit_id, USERS.c.status)
    row = s.execute(fields.where(column == who)).first()
    if row is None and isinstance(who, str) and who:  # a name, if one active person bears it
        named = s.execute(fields.where(USERS.c.name == who, USERS.c.status == "active")).all()
        row = named[0] if len(named) == 1 else None
    if row is None or row.status != "active" or who == "":
        raise FormInvalid({field: FieldError("field_no_person", value=str(who))})
    return row


def _target(row: Any) -> dict[str, Any]:
    return {"user": row.id, "name": row.name, "unit": row.unit_id}


def _grants_of(s: Session, user_id: int) -> list[dict[str, Any]]:
    rows = s.execute(
        select(GRANTS.c.capability, GRANTS.c.unit_id, UNITS.c.name)
        .join(UNITS, UNITS.c.id == GRANTS.c.unit_id)
        .where(GRANTS.c.user_id == user_id)
        .order_by(GRANTS.c.capability, GRANTS.c.unit_id)
    )
    return [{"capability": c, "unit": u, "unit_name": n} for c, u, n in rows]


def check_pairs(s: Session, pairs: Iterable[tuple[str, int | str]]) -> set[Pair]:
    """The (capability, unit id) pairs a form or command asked for; units by id or code; each
    must name a known capability and an open unit, else the field's error."""
    found: set[Pair] = set()
    errors: dict[str, FieldError] = {}
    for capability, unit in pairs:
        if capability not in CAPABILITIES:
            errors["capabilities"] = FieldError(
                "field_not_choice", allowed=", ".join(CAPABILITIES), value=capability
            )
            continue
        column = UNITS.c.id if isinstance(unit, int) else UNITS.c.code
        row = s.execute(select(UNITS.c.id, UNITS.c.name, UNITS.c.closed_at).where(column == unit))
        hit = row.first()
        if hit is None:
            errors["unit"] = FieldError("field_no_unit", value=str(unit))
        elif hit.closed_at is not None:
            errors["unit"] = FieldError("admin_unit_closed", unit=hit.name)
        else:
            found.add((capability, hit.id))
    if errors:
        raise FormInvalid(errors)
    return found


def appoint(
    db: Database,
    actor_id: int,
    person: str | int,
    pairs: Iterable[tuple[str, int | str]],
    now: datetime,
) -> list[dict[str, Any]]:
    """Give ``person`` (login or id, active) the capabilities ``pairs`` (capability, unit id or
    code): ``admin_appoint`` if they held none, else ``admin_scope_change`` adding to their
    scope. Returns their grants after. Refused field by field (``person``, ``capabilities``,
    ``unit``): an unknown or inactive person, the main administrator, no capability, a closed
    unit."""
    asked = list(pairs)
    with db.write() as s:
        scope = _lock_main(s, actor_id)
        errors: dict[str, FieldError] = {}
        row = None
        try:
            row = _person(s, person)
        except FormInvalid as exc:
            errors.update(exc.errors)
        if row is not None and row.id == actor_id:
            errors["person"] = FieldError("admin_person_is_main", name=row.name)
        if not asked:
            errors["capabilities"] = FieldError("admin_no_capability")
        try:
            wanted = check_pairs(s, asked)
        except FormInvalid as exc:
            errors = {**exc.errors, **errors}
        if errors or row is None:
            raise FormInvalid(errors)
        before = _grants_of(s, row.id)
        have = {(g["capability"], g["unit"]) for g in before}
        new = sorted(wanted - have)
        if new:
            s.execute(insert(GRANTS), [
                {"user_id": row.id, "capability": c, "unit_id": u, "granted_by": actor_id,
                 "granted_at": now} for c, u in new
            ])  # fmt: skip
        after = _grants_of(s, row.id)
        kind = "admin_scope_change" if before else "admin_appoint"
        if new:
            record(s, scope, kind, at=now, target=_target(row),
                   before={"grants": before}, after={"grants": after})  # fmt: skip
        return after


def change_scope(
    db: Database,
    actor_id: int,
    person: str | int,
    *,
    add: Iterable[tuple[str, int | str]] = (),
    remove: Iterable[tuple[str, int | str]] = (),
    now: datetime,
) -> list[dict[str, Any]]:
    """Add and remove (capability, unit) pairs of a sub-administrator's scope in one act
    (``admin_scope_change``; removing the last pair is a revocation, ``admin_revoke``).
    Removing a pair they do not hold is no change; a change that changes nothing records
    nothing. Returns their grants after."""
    adding, removing = list(add), list(remove)
    with db.write() as s:
        scope = _lock_main(s, actor_id)
        row = _person_any(s, person)
        before = _grants_of(s, row.id)
        if not before:
            raise Conflict("admin_not_appointed", name=row.name)
        if adding and row.status != "active":
            raise FormInvalid({"person": FieldError("field_no_person", value=row.login)})
        wanted = check_pairs(s, adding) if adding else set()
        have = {(g["capability"], g["unit"]) for g in before}
        dropped = have & _ids(s, removing)
        new = sorted(wanted - have)
        for capability, unit_id in dropped:
            s.execute(delete(GRANTS).where(GRANTS.c.user_id == row.id,
                                           GRANTS.c.capability == capability,
                                           GRANTS.c.unit_id == unit_id))  # fmt: skip
        if new:
            s.execute(insert(GRANTS), [
                {"user_id": row.id, "capability": c, "unit_id": u, "granted_by": actor_id,
                 "granted_at": now} for c, u in new
            ])  # fmt: skip
        after = _grants_of(s, row.id)
        if after != before:
            kind = "admin_scope_change" if after else "admin_revoke"
            record(s, scope, kind, at=now, target=_target(row),
                   before={"grants": before}, after={"grants": after})  # fmt: skip
        return after


def _ids(s: Session, pairs: list[tuple[str, int | str]]) -> set[Pair]:
    """Pairs to remove, units by id or code (unknown ones simply match nothing)."""
    out: set[Pair] = set()
    for capability, unit in pairs:
        if isinstance(unit, int):
            out.add((capability, unit))
        else:
            found = s.execute(select(UNITS.c.id).where(UNITS.c.code == unit)).scalar()
            if found is not None:
                out.add((capability, found))
    return out


def _person_any(s: Session, who: str | int) -> Any:
    """A person by id or login whatever their status (a removed sub-administrator can still be
    revoked), else the ``person`` field's error."""
    column = USERS.c.id if isinstance(who, int) else USERS.c.login
    value = who.strip() if isinstance(who, str) else who
    row = s.execute(
        select(USERS.c.id, USERS.c.login, USERS.c.name, USERS.c.unit_id, USERS.c.status).where(
            column == value
        )
    ).first()
    if row is None:
        raise FormInvalid({"person": FieldError("field_no_person", value=str(who))})
    return row


def revoke(db: Database, actor_id: int, person: str | int, now: datetime) -> list[dict[str, Any]]:
    """Take every grant from ``person`` (``admin_revoke``); returns the grants they held.
    ``Conflict`` if they hold none (revoked already: a second click, another page)."""
    with db.write() as s:
        scope = _lock_main(s, actor_id)
        row = _person_any(s, person)
        before = _grants_of(s, row.id)
        if not before:
            raise Conflict("admin_not_appointed", name=row.name)
        s.execute(delete(GRANTS).where(GRANTS.c.user_id == row.id))
        record(s, scope, "admin_revoke", at=now, target=_target(row),
               before={"grants": before}, after={"grants": []})  # fmt: skip
        return before


def transfer_main(db: Database, actor_id: int, to: str | int, now: datetime) -> int:
    """Make ``to`` (login or id, active, not the actor) the main administrator
    (``main_transfer``); returns their id. See the module text for what each keeps."""
    with db.write() as s:
        scope = _lock_main(s, actor_id)
        row = _person(s, to)
        if row.id == actor_id:
            raise FormInvalid({"person": FieldError("admin_transfer_self")})
        old = s.execute(select(USERS.c.id, USERS.c.name).where(USERS.c.id == actor_id)).one()
        dropped = _grants_of(s, row.id)
        s.execute(update(MAIN).where(MAIN.c.id == 1).values(user_id=row.id, since=now))
        s.execute(delete(GRANTS).where(GRANTS.c.user_id == row.id))
        before = {"main": {"user": old.id, "name": old.name}, "grants": dropped}
        after = {"main": {"user": row.id, "name": row.name}, "grants": []}
        record(s, scope, "main_transfer", at=now, target=_target(row), before=before, after=after)
        return int(row.id)


def administrators(db: Database, viewer_id: int) -> Administrators:
    """The main administrator and every sub-administrator with their grants (any status: a
    removed one is listed as such, their grants no longer counting). Main administrator only."""
    with db.read() as s:
        if not admin_scope(s, viewer_id).main:
            name = s.execute(select(USERS.c.name).where(USERS.c.id == viewer_id)).scalar()
            raise Forbidden("admin_not_main", name=name or viewer_id)
        person = select(
            USERS.c.id, USERS.c.login, USERS.c.name, UNITS.c.name.label("unit"), USERS.c.status
        ).join(UNITS, UNITS.c.id == USERS.c.unit_id)
        main_id = s.execute(select(MAIN.c.user_id).where(MAIN.c.id == 1)).scalar()
        main = None
        if main_id is not None:
            m = s.execute(person.where(USERS.c.id == main_id)).one()
            main = Administrator(m.id, m.login, m.name, m.unit, m.status)
        grants: dict[int, list[Grant]] = {}
        for g in s.execute(
            select(GRANTS.c.user_id, GRANTS.c.capability, GRANTS.c.unit_id, UNITS.c.name,
                   UNITS.c.closed_at)
            .join(UNITS, UNITS.c.id == GRANTS.c.unit_id)
            .order_by(GRANTS.c.user_id, GRANTS.c.unit_id, GRANTS.c.capability)
        ):  # fmt: skip
            grants.setdefault(g.user_id, []).append(
                Grant(g.capability, g.unit_id, g.name, g.closed_at is not None)
            )
        subs = [
            Administrator(p.id, p.login, p.name, p.unit, p.status, tuple(grants[p.id]))
            for p in s.execute(person.where(USERS.c.id.in_(list(grants))).order_by(USERS.c.id))
        ]
        return Administrators(main, subs)


def choosable_people(db: Database) -> list[tuple[str, str, str]]:
    """(login, name, unit) of every active person, for the person choosers' suggestions."""
    with db.read() as s:
        rows = s.execute(
            select(USERS.c.login, USERS.c.name, UNITS.c.name)
            .join(UNITS, UNITS.c.id == USERS.c.unit_id)
            .where(USERS.c.status == "active")
            .order_by(USERS.c.unit_id, USERS.c.id)
        )
        return [(login, name, unit) for login, name, unit in rows]


def open_units(db: Database) -> list[tuple[int, str, str]]:
    """(id, code, name) of every open unit, in creation order: what a scope may name."""
    with db.read() as s:
        rows = s.execute(
            select(UNITS.c.id, UNITS.c.code, UNITS.c.name)
            .where(UNITS.c.closed_at.is_(None))
            .order_by(UNITS.c.id)
        )
        return [(i, code, name) for i, code, name in rows]
