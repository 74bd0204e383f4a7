"""Who may take part in a step: a definition's candidate rules resolved against the organisation."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import bindparam, select

from workflow.engine import sql
from workflow.spec.model import ChooseFrom, RoleRef, UnitRef, UserRef, Who
from workflow.store.db import ConnectionOrSession
from workflow.store.models import RoleMembership, Unit, User

ACTIVE = "active"

# Built once (building a statement costs more than running it on SQLite): see ``sql``.
_ACTIVE = User.status == ACTIVE
INITIATOR = select(User.id).where(User.id == bindparam("b_user"), _ACTIVE)
ANYONE = select(User.id).where(_ACTIVE)
BY_LOGIN = select(User.id).where(User.login == bindparam("b_login"), _ACTIVE)
IN_UNITS = select(User.id).where(User.unit_id.in_(bindparam("b_units", expanding=True)), _ACTIVE)
ALL_UNITS = select(Unit.id, Unit.parent_id, Unit.code)
#: The holders of a role in a unit named by code, in one query (an unknown unit names nobody).
ROLE_IN_UNIT = (
    select(RoleMembership.user_id)
    .join(User, User.id == RoleMembership.user_id)
    .join(Unit, Unit.id == RoleMembership.unit_id)
    .where(RoleMembership.role == bindparam("b_role"), Unit.code == bindparam("b_unit"), _ACTIVE)
)


@dataclass(frozen=True)
class Candidates:
    """The people a rule names, and whether the forwarding host chooses among them."""

    ids: tuple[int, ...]
    choose: bool
    min: int = 1
    max: int | None = None
    #: what the rule says, for messages ("role 'legal'")
    rule: str = ""


def resolve(session: ConnectionOrSession, who: Who | None, initiator_id: int) -> Candidates:
    """Resolve a rule to active user ids, in a stable order (by id)."""
    if who is None:
        return Candidates((), False, 0, 0, "nobody")
    if isinstance(who, ChooseFrom):
        ids = _union(session, who.choose_from, initiator_id)
        return Candidates(ids, True, who.min, who.max, describe(who))
    return Candidates(_union(session, [who], initiator_id), False, 1, None, describe(who))


def _union(session: ConnectionOrSession, rules: list[Who], initiator_id: int) -> tuple[int, ...]:
    found: set[int] = set()
    # Company-wide roles ([{role: legal}, {role: finance}]): their holders in one query.
    plain = [r.role for r in rules if isinstance(r, RoleRef) and r.unit is None and r.of is None]
    if len(plain) > 1:
        found.update(session.scalars(sql.ROLES_ANYWHERE, {"b_roles": plain}))
    for rule in rules:
        if len(plain) > 1 and isinstance(rule, RoleRef) and rule.unit is None and rule.of is None:
            continue
        found.update(_one(session, rule, initiator_id))
    return tuple(sorted(found))


def _one(session: ConnectionOrSession, rule: Who, initiator_id: int) -> list[int]:
    if rule == "initiator":
        return list(session.scalars(INITIATOR, {"b_user": initiator_id}))
    if rule == "anyone":
        return list(session.scalars(ANYONE))
    if isinstance(rule, list | ChooseFrom):
        inner = rule.choose_from if isinstance(rule, ChooseFrom) else rule
        return list(_union(session, inner, initiator_id))
    if isinstance(rule, UserRef):
        return list(session.scalars(BY_LOGIN, {"b_login": rule.user}))
    if isinstance(rule, UnitRef):
        units = _subtree(session, rule.unit)
        return list(session.scalars(IN_UNITS, {"b_units": units})) if units else []
    if isinstance(rule, RoleRef):
        return _role_holders(session, rule, initiator_id)
    raise TypeError(f"unknown candidate rule {rule!r}")


def _role_holders(session: ConnectionOrSession, rule: RoleRef, initiator_id: int) -> list[int]:
    if rule.unit is not None:  # an unknown unit names nobody (not the role's company-wide holders)
        return list(session.scalars(ROLE_IN_UNIT, {"b_role": rule.role, "b_unit": rule.unit}))
    if rule.of is None:
        return list(session.scalars(sql.ROLE_ANYWHERE, {"b_role": rule.role}))
    # The holders in the initiator's unit, else in the nearest unit above it: one recursive query.
    rows = session.execute(sql.ROLE_IN_CHAIN, {"b_role": rule.role, "b_user": initiator_id}).all()
    nearest = rows[0].depth if rows else None
    return [r.user_id for r in rows if r.depth == nearest]


def _subtree(session: ConnectionOrSession, code: str) -> list[int]:
    rows = session.execute(ALL_UNITS).all()
    root = next((r.id for r in rows if r.code == code), None)
    if root is None:
        return []
    children: dict[int, list[int]] = {}
    for r in rows:
        if r.parent_id is not None:
            children.setdefault(r.parent_id, []).append(r.id)
    out, todo = [], [root]
    while todo:
        u = todo.pop()
        out.append(u)
        todo.extend(children.get(u, ()))
    return out


def describe(who: Who | None) -> str:
    """A rule in words, for error messages."""
    if who is None:
        return "nobody"
    if isinstance(who, str):
        return who
    if isinstance(who, UserRef):
        return f"user '{who.user}'"
    if isinstance(who, RoleRef):
        where = (
            f" in unit '{who.unit}'" if who.unit else (" of the initiator's unit" if who.of else "")
        )
        return f"role '{who.role}'{where}"
    if isinstance(who, UnitRef):
        return f"members of unit '{who.unit}'"
    if isinstance(who, ChooseFrom):
        return "chosen from " + ", ".join(describe(w) for w in who.choose_from)
    return " + ".join(describe(w) for w in who)


def unit_of(
    session: ConnectionOrSession, user_ids: list[int]
) -> dict[int, tuple[int | None, str | None]]:
    """Each person's unit now, as (id, name): what a new work item keeps when they later move
    (Art. 11). One query for a whole step's people, not one per item."""
    if not user_ids:
        return {}
    rows = session.execute(sql.USER_UNITS, {"b_ids": sorted(set(user_ids))})
    return {r.id: (r.unit_id, r.name) for r in rows}
