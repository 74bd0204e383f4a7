"""The unit tree (Art. 7, 11): create, rename, move and close units, within the acting
administrator's ``people`` scope; each act one write transaction with its admin-chain event.

A unit is never deleted: flows and work items name it (``work_items.unit_id``). Closing one
(``closed_at``) needs it empty — nobody active or invited in it, no open unit below — and then
it takes nobody new and leaves the choosers, while history keeps showing its name.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import func, insert, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from workflow.access import admin_scope, require_capability, subtree
from workflow.errors import Conflict, FormInvalid, InvalidAction, NotFound
from workflow.org import adminlog
from workflow.refusals import FieldError, quoted
from workflow.store.db import Database
from workflow.store.models import RoleMembership, Unit, User

UNITS = Unit.__table__
ROLES = RoleMembership.__table__
USERS = User.__table__
KINDS = ("company", "department", "project", "branch", "subsidiary")
CODE = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]*")
CODE_MAX = 64
NAME_MAX = 200
#: people who count as "in" a unit: closing it waits for them to move or leave
PRESENT = ("active", "invited")


@dataclass
class UnitNode:
    """One unit as the tree page shows it, with its people counted."""

    id: int
    code: str
    name: str
    kind: str
    parent_id: int | None
    closed_at: datetime | None
    depth: int = 0
    #: active and invited people in this unit itself
    people: int = 0
    #: the names of its heads (active holders of ``unit_head`` in it)
    heads: list[str] = field(default_factory=list)
    children: list[UnitNode] = field(default_factory=list)


def tree(db: Database, viewer_id: int) -> list[UnitNode]:
    """The units the viewer administers (``people``), depth first, each with its people count.

    A unit outside the scope is left out; its units inside it appear as roots of their own.
    """
    with db.read() as s:
        scope = require_capability(s, viewer_id, "people")
        allowed = scope.units_for("people")
        counts = dict(
            s.execute(
                select(USERS.c.unit_id, func.count())
                .where(USERS.c.status.in_(PRESENT))
                .group_by(USERS.c.unit_id)
            ).all()
        )
        nodes = {
            r.id: UnitNode(
                r.id, r.code, r.name, r.kind, r.parent_id, r.closed_at, people=counts.get(r.id, 0)
            )
            for r in s.execute(select(UNITS).order_by(UNITS.c.id))
            if allowed is None or r.id in allowed
        }
        for unit_id, name in s.execute(
            select(ROLES.c.unit_id, USERS.c.name)
            .join(USERS, USERS.c.id == ROLES.c.user_id)
            .where(ROLES.c.role == "unit_head", USERS.c.status == "active")
            .order_by(ROLES.c.unit_id, USERS.c.id)
        ):
            if unit_id in nodes:
                nodes[unit_id].heads.append(name)
    roots: list[UnitNode] = []
    for node in nodes.values():
        parent = nodes.get(node.parent_id) if node.parent_id is not None else None
        (parent.children if parent else roots).append(node)
    out: list[UnitNode] = []

    def walk(node: UnitNode, depth: int) -> None:
        node.depth = depth
        out.append(node)
        for child in node.children:
            walk(child, depth + 1)

    for root in roots:
        walk(root, 0)
    return out


def in_scope(db: Database, viewer_id: int, unit_id: int) -> bool:
    """Whether the viewer administers people in this unit (the pages answer 404 if not)."""
    with db.read() as s:
        exists = s.execute(select(UNITS.c.id).where(UNITS.c.id == unit_id)).first()
        return exists is not None and admin_scope(s, viewer_id).covers("people", unit_id)


def _row(s: Session, unit_id: int | None) -> object | None:
    if unit_id is None:
        return None
    return s.execute(select(UNITS).where(UNITS.c.id == unit_id)).first()


def _name(name: str | None) -> str:
    name = (name or "").strip()
    if not name:
        raise FormInvalid({"name": FieldError("field_required")})
    if len(name) > NAME_MAX:
        raise FormInvalid({"name": FieldError("field_too_long", length=len(name), max=NAME_MAX)})
    return name


def _parent(s: Session, parent_id: int | None, actor_id: int) -> object:
    """The open unit ``parent_id`` names, in the actor's scope; else a field error."""
    parent = _row(s, parent_id)
    if parent is None:
        raise FormInvalid({"parent": FieldError("field_no_unit", value=quoted(parent_id))})
    if parent.closed_at is not None:  # type: ignore[attr-defined]
        raise FormInvalid({"parent": FieldError("unit_closed", unit=parent.name)})  # type: ignore[attr-defined]
    require_capability(s, actor_id, "people", parent_id)
    return parent


def create(
    db: Database,
    actor_id: int,
    *,
    code: str,
    name: str,
    kind: str,
    parent_id: int | None,
    now: datetime,
) -> int:
    """A new unit under ``parent_id`` (which the actor administers); its id.

    Raises:
        FormInvalid: by field — ``code`` empty, malformed or taken, ``name`` empty or too long,
            ``kind`` unknown, ``parent`` unknown or closed.
        Forbidden: the actor lacks ``people`` over the parent.
    """
    code = (code or "").strip()
    errors: dict[str, FieldError] = {}
    if not code:
        errors["code"] = FieldError("field_required")
    elif len(code) > CODE_MAX or not CODE.fullmatch(code):
        errors["code"] = FieldError("unit_code_invalid", value=quoted(code))
    if kind not in KINDS:
        errors["kind"] = FieldError("field_not_choice", allowed=list(KINDS), value=quoted(kind))
    try:
        name = _name(name)
    except FormInvalid as exc:
        errors.update(exc.errors)
    with db.write() as s:
        taken = (
            s.execute(select(UNITS.c.name).where(UNITS.c.code == code)).scalar() if code else None
        )
        if taken is not None and "code" not in errors:
            errors["code"] = FieldError("unit_code_taken", code=code, unit=taken)
        if parent_id is None:
            errors["parent"] = FieldError("field_required")
        else:
            try:
                _parent(s, parent_id, actor_id)
            except FormInvalid as exc:
                errors.update(exc.errors)
        if errors:
            raise FormInvalid(errors)
        scope = require_capability(s, actor_id, "people", parent_id)
        try:
            with s.begin_nested():
                unit_id = s.execute(
                    insert(UNITS)
                    .values(code=code, name=name, kind=kind, parent_id=parent_id)
                    .returning(UNITS.c.id)
                ).scalar_one()
        except IntegrityError:  # the same code created at the same moment elsewhere
            raise FormInvalid(
                {"code": FieldError("unit_code_taken", code=code, unit=name)}
            ) from None
        after = {"code": code, "name": name, "kind": kind, "parent": parent_id}
        adminlog.record(s, scope, "unit_create", at=now, target={"unit": unit_id, "name": name},
                        before=None, after=after)  # fmt: skip
    return unit_id


def rename(db: Database, actor_id: int, unit_id: int, name: str, now: datetime) -> None:
    """Give the unit a new name; history (events, sheets of closed flows) keeps the old one."""
    name = _name(name)
    with db.write() as s:
        scope = require_capability(s, actor_id, "people", unit_id)
        unit = _existing(s, unit_id)
        if unit.name == name:
            return
        s.execute(update(UNITS).where(UNITS.c.id == unit_id).values(name=name))
        adminlog.record(s, scope, "unit_rename", at=now, target={"unit": unit_id, "name": name},
                        before={"name": unit.name}, after={"name": name})  # fmt: skip


def move(db: Database, actor_id: int, unit_id: int, parent_id: int | None, now: datetime) -> None:
    """Put the unit (and everything below it) under ``parent_id``; both must be in scope.

    Raises:
        FormInvalid: ``parent`` unknown, closed, the unit itself or one of its own subunits.
        Forbidden: the actor lacks ``people`` over the unit or the new parent.
    """
    with db.write() as s:
        scope = require_capability(s, actor_id, "people", unit_id)
        unit = _existing(s, unit_id)
        if parent_id is None:
            raise FormInvalid({"parent": FieldError("field_required")})
        if parent_id in subtree(s, [unit_id]):
            raise FormInvalid({"parent": FieldError("unit_move_below_itself", unit=unit.name)})
        _parent(s, parent_id, actor_id)
        if unit.parent_id == parent_id:
            return
        s.execute(update(UNITS).where(UNITS.c.id == unit_id).values(parent_id=parent_id))
        adminlog.record(s, scope, "unit_move", at=now, target={"unit": unit_id, "name": unit.name},
                        before={"parent": unit.parent_id}, after={"parent": parent_id})  # fmt: skip


def close(db: Database, actor_id: int, unit_id: int, now: datetime) -> None:
    """Close an empty unit: nobody active or invited in it, no open unit below it.

    Raises:
        InvalidAction: people are still in it (how many, who first), or an open unit is below.
        Conflict: it is closed already.
    """
    with db.write() as s:
        scope = require_capability(s, actor_id, "people", unit_id)
        unit = _existing(s, unit_id)
        if unit.closed_at is not None:
            raise Conflict("unit_already_closed", unit=unit.name, at=unit.closed_at)
        present = (
            s.execute(
                select(USERS.c.name)
                .where(USERS.c.unit_id == unit_id, USERS.c.status.in_(PRESENT))
                .order_by(USERS.c.id)
            )
            .scalars()
            .all()
        )
        if present:
            raise InvalidAction(
                "unit_close_people", unit=unit.name, count=len(present), first=present[0]
            )
        below = (
            s.execute(
                select(UNITS.c.name)
                .where(UNITS.c.parent_id == unit_id, UNITS.c.closed_at.is_(None))
                .order_by(UNITS.c.id)
            )
            .scalars()
            .all()
        )
        if below:
            raise InvalidAction(
                "unit_close_units", unit=unit.name, count=len(below), first=below[0]
            )
        s.execute(update(UNITS).where(UNITS.c.id == unit_id).values(closed_at=now))
        adminlog.record(s, scope, "unit_close", at=now, target={"unit": unit_id, "name": unit.name},
                        before={"closed_at": None}, after={"closed_at": now.isoformat()})  # fmt: skip


def _existing(s: Session, unit_id: int):  # type: ignore[no-untyped-def]
    unit = _row(s, unit_id)
    if unit is None:
        raise NotFound("unit_not_found", unit=unit_id)
    return unit


def by_code(db: Database, codes: Iterable[str]) -> dict[str, int]:
    """Unit ids by code (the command line names units by code)."""
    with db.read() as s:
        return dict(
            s.execute(select(UNITS.c.code, UNITS.c.id).where(UNITS.c.code.in_(list(codes)))).all()
        )


def open_units(db: Database, viewer_id: int) -> list[tuple[int, str]]:
    """The open units in the viewer's ``people`` scope, as (id, name): a chooser's options."""
    return [(n.id, "\u3000" * n.depth + n.name) for n in tree(db, viewer_id) if n.closed_at is None]
