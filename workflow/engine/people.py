"""Who may take part in a step: a definition's candidate rules resolved against the organisation."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select

from workflow.engine import sql
from workflow.spec.model import ChooseFrom, RoleRef, UnitRef, UserRef, Who
from workflow.store.db import ConnectionOrSession
from workflow.store.models import RoleMembership, Unit, User

ACTIVE = "active"


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
    for rule in rules:
        found.update(_one(session, rule, initiator_id))
    return tuple(sorted(found))


def _one(session: ConnectionOrSession, rule: Who, initiator_id: int) -> list[int]:
    active = User.status == ACTIVE
    if rule == "initiator":
        return list(session.scalars(select(User.id).where(User.id == initiator_id, active)))
    if rule == "anyone":
        return list(session.scalars(select(User.id).where(active)))
    if isinstance(rule, list | ChooseFrom):
        inner = rule.choose_from if isinstance(rule, ChooseFrom) else rule
        return list(_union(session, inner, initiator_id))
    if isinstance(rule, UserRef):
        return list(session.scalars(select(User.id).where(User.login == rule.user, active)))
    if isinstance(rule, UnitRef):
        units = _subtree(session, rule.unit)
        return list(session.scalars(select(User.id).where(User.unit_id.in_(units), active)))
    if isinstance(rule, RoleRef):
        return _role_holders(session, rule, initiator_id)
    raise TypeError(f"unknown candidate rule {rule!r}")


def _role_holders(session: ConnectionOrSession, rule: RoleRef, initiator_id: int) -> list[int]:
    stmt = (
        select(RoleMembership.user_id, RoleMembership.unit_id)
        .join(User, User.id == RoleMembership.user_id)
        .where(RoleMembership.role == rule.role, User.status == ACTIVE)
    )
    if rule.unit is not None:
        unit_id = session.scalar(select(Unit.id).where(Unit.code == rule.unit))
        if unit_id is None:
            return []  # an unknown unit names nobody (not the role's company-wide holders)
        return list(
            session.scalars(
                stmt.with_only_columns(RoleMembership.user_id).where(
                    RoleMembership.unit_id == unit_id
                )
            )
        )
    if rule.of is None:
        return list(session.scalars(sql.ROLE_ANYWHERE, {"b_role": rule.role}))
    # The holders in the initiator's unit, else in the nearest unit above it: one recursive query.
    rows = session.execute(sql.ROLE_IN_CHAIN, {"b_role": rule.role, "b_user": initiator_id}).all()
    nearest = rows[0].depth if rows else None
    return [r.user_id for r in rows if r.depth == nearest]


def _subtree(session: ConnectionOrSession, code: str) -> list[int]:
    rows = session.execute(select(Unit.id, Unit.parent_id, Unit.code)).all()
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
