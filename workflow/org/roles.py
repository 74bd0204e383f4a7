"""Roles as data (Art. 7, 25): who holds which role in which unit, granted and revoked by an
administrator with ``people`` over that unit, each act an event on the admin chain.

A definition assigns steps by role (``{role: seal_keeper}``, ``{role: unit_head, of:
initiator}``); a role is only a word until someone holds it. The vocabulary an administrator
may grant is what the loaded definitions name plus what someone already holds — a typo cannot
become a role nobody's step will ever look for. ``LABELS`` gives each known role its Chinese and
English name; an unknown one (a definition added later) shows as its word.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from pydantic import BaseModel
from sqlalchemy import delete, insert, select
from sqlalchemy.orm import Session

from workflow.access import require_capability
from workflow.errors import Conflict, FormInvalid, NotFound
from workflow.org import adminlog
from workflow.refusals import FieldError, Label, quoted
from workflow.spec.model import Definition, RoleRef, UnitRef, UserRef
from workflow.store.db import Database
from workflow.store.models import DefinitionVersion, RoleMembership, Unit, User

ROLES = RoleMembership.__table__
USERS = User.__table__
UNITS = Unit.__table__
DEFS = DefinitionVersion.__table__

#: the role a unit's head holds in it ("head of the initiator's unit" finds them)
HEAD = "unit_head"

#: role → (Chinese, English): how pages, refusals and the CLI name a role
LABELS: dict[str, tuple[str, str]] = {
    "unit_head": ("部门负责人", "Unit head"),
    "clerk": ("收文人员", "Document clerk"),
    "seal_keeper": ("印章管理员", "Seal keeper"),
    "archivist": ("档案管理员", "Archivist"),
    "legal": ("法务", "Legal"),
    "finance": ("财务", "Finance"),
    "office_director": ("办公室主任", "Office director"),
    "deputy_director": ("分管领导", "Deputy director"),
    "general_manager": ("总经理", "General manager"),
    "hr": ("人力资源", "HR"),
}


def label(role: str) -> Label:
    """The role's name in both languages (its word where it has no label)."""
    zh, en = LABELS.get(role, (role, role))
    return Label(zh=zh, en=en)


# --- what definitions name ---------------------------------------------------------------------

Ref = RoleRef | UnitRef | UserRef


def references(node: Any, path: tuple[str | int, ...] = ()) -> Iterator[tuple[tuple, Ref]]:
    """Every role, unit and user reference in a definition (or part of one), with its path in
    the YAML document (so a check can name the line)."""
    if isinstance(node, RoleRef | UnitRef | UserRef):
        yield path, node
    elif isinstance(node, BaseModel):
        for name in type(node).model_fields:
            yield from references(getattr(node, name), (*path, name))
    elif isinstance(node, dict):
        for key, value in node.items():
            yield from references(value, (*path, key))
    elif isinstance(node, list | tuple):
        for i, value in enumerate(node):
            yield from references(value, (*path, i))


def definition_roles(spec: Definition) -> set[str]:
    """The roles one definition assigns by."""
    return {ref.role for _, ref in references(spec) if isinstance(ref, RoleRef)}


def loaded_specs(s: Session, registry: Any) -> list[Definition]:
    """The newest active version of every loaded approval type (compiled once, cached)."""
    newest: dict[str, int] = {}
    for vid, key in s.execute(
        select(DEFS.c.id, DEFS.c.key).where(DEFS.c.active.is_(True)).order_by(DEFS.c.id)
    ):
        newest[key] = vid
    return [registry.get(s, vid).spec for vid in newest.values()]


def vocabulary(s: Session, registry: Any) -> list[str]:
    """The roles an administrator may grant: those the loaded definitions name, those held,
    and the unit head; labelled ones first, in the table's order."""
    found = {HEAD}
    for spec in loaded_specs(s, registry):
        found |= definition_roles(spec)
    found |= set(s.scalars(select(ROLES.c.role).distinct()))
    order = list(LABELS)
    return sorted(found, key=lambda r: (order.index(r) if r in order else len(order), r))


# --- who holds what ----------------------------------------------------------------------------


@dataclass(frozen=True)
class Holding:
    """One role held by one person in one unit (None: company-wide)."""

    user_id: int
    name: str
    status: str
    role: str
    unit_id: int | None


def holdings(s: Session, unit_ids: Any = None) -> list[Holding]:
    """The roles held, in these units (None: everywhere), by unit, role and person."""
    stmt = select(
        ROLES.c.user_id, USERS.c.name, USERS.c.status, ROLES.c.role, ROLES.c.unit_id
    ).join(USERS, USERS.c.id == ROLES.c.user_id)
    if unit_ids is not None:
        stmt = stmt.where(ROLES.c.unit_id.in_(list(unit_ids)))
    stmt = stmt.order_by(ROLES.c.unit_id, ROLES.c.role, ROLES.c.user_id)
    return [Holding(*row) for row in s.execute(stmt)]


def _unit(s: Session, unit_id: int) -> Any:
    row = s.execute(
        select(UNITS.c.id, UNITS.c.name, UNITS.c.closed_at).where(UNITS.c.id == unit_id)
    ).first()
    if row is None:
        raise NotFound("unit_not_found", unit=unit_id)
    return row


def _person(s: Session, user_id: int | None, field: str) -> Any:
    row = (
        s.execute(
            select(USERS.c.id, USERS.c.name, USERS.c.status).where(USERS.c.id == user_id)
        ).first()
        if user_id is not None
        else None
    )
    if row is None or row.status != "active":
        raise FormInvalid({field: FieldError("field_no_person", value=quoted(user_id))})
    return row


def grant(
    db: Database,
    registry: Any,
    actor_id: int,
    unit_id: int,
    user_id: int | None,
    role: str,
    now: datetime,
) -> None:
    """Give ``user_id`` the role ``role`` in unit ``unit_id`` (an act of ``actor_id``).

    Raises:
        Forbidden: the actor lacks ``people`` over the unit.
        NotFound: no such unit.
        FormInvalid: ``person`` is not an active person, ``role`` not in the vocabulary, or
            the unit is closed (``unit``).
        Conflict: they hold it there already.
    """
    with db.write() as s:
        scope = require_capability(s, actor_id, "people", unit_id)
        unit = _unit(s, unit_id)
        if unit.closed_at is not None:
            raise FormInvalid({"unit": FieldError("unit_closed", unit=unit.name)})
        if role not in vocabulary(s, registry):
            raise FormInvalid({"role": FieldError("role_unknown", value=quoted(role))})
        person = _person(s, user_id, "person")
        held = s.execute(
            select(ROLES.c.id).where(
                ROLES.c.user_id == person.id, ROLES.c.role == role, ROLES.c.unit_id == unit_id
            )
        ).first()
        if held is not None:
            raise Conflict("role_already_held", name=person.name, role=label(role), unit=unit.name)
        s.execute(insert(ROLES).values(user_id=person.id, role=role, unit_id=unit_id))
        target = {"user": person.id, "name": person.name, "unit": unit_id, "unit_name": unit.name}
        adminlog.record(s, scope, "role_grant", at=now, target=target, before=None,
                        after={"role": role})  # fmt: skip


def revoke(
    db: Database, actor_id: int, unit_id: int, user_id: int, role: str, now: datetime
) -> None:
    """Take the role ``role`` in unit ``unit_id`` from ``user_id`` (an act of ``actor_id``).

    Raises:
        Forbidden: the actor lacks ``people`` over the unit.
        NotFound: no such unit.
        Conflict: they do not hold it there (revoked meanwhile, or never held).
    """
    with db.write() as s:
        scope = require_capability(s, actor_id, "people", unit_id)
        unit = _unit(s, unit_id)
        name = s.execute(select(USERS.c.name).where(USERS.c.id == user_id)).scalar()
        if name is None:
            raise NotFound("user_not_found", user=user_id)
        gone = s.execute(
            delete(ROLES).where(
                ROLES.c.user_id == user_id, ROLES.c.role == role, ROLES.c.unit_id == unit_id
            )
        )
        if gone.rowcount != 1:
            raise Conflict("role_not_held", name=name, role=label(role), unit=unit.name)
        target = {"user": user_id, "name": name, "unit": unit_id, "unit_name": unit.name}
        adminlog.record(s, scope, "role_revoke", at=now, target=target, before={"role": role},
                        after=None)  # fmt: skip


@dataclass(frozen=True)
class Choice:
    """A person a role may be granted to: active, in the administrator's scope."""

    id: int
    name: str
    unit: str


def people_in_scope(db: Database, viewer_id: int) -> list[Choice]:
    """The active people in the units the viewer administers (``people``), by unit and id."""
    with db.read() as s:
        allowed = require_capability(s, viewer_id, "people").units_for("people")
        stmt = (
            select(USERS.c.id, USERS.c.name, UNITS.c.name.label("unit"))
            .join(UNITS, UNITS.c.id == USERS.c.unit_id)
            .where(USERS.c.status == "active")
            .order_by(USERS.c.unit_id, USERS.c.id)
        )
        if allowed is not None:
            stmt = stmt.where(USERS.c.unit_id.in_(sorted(allowed)))
        return [Choice(*row) for row in s.execute(stmt)]


def vocabulary_of(db: Database, registry: Any) -> list[str]:
    """:func:`vocabulary` in its own read transaction (for the doors)."""
    with db.read() as s:
        return vocabulary(s, registry)


def held_in(db: Database, unit_id: int) -> list[Holding]:
    """The roles held in one unit (for the doors)."""
    with db.read() as s:
        return holdings(s, [unit_id])
