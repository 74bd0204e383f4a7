"""``banli definitions check --org``: every role, unit and person a definition names, checked
against the organisation as it is now (Art. 12: a leaver or a closed unit must not strand a step).

A definition can be valid and still name nobody: a role no one holds (or only people who left),
a unit code that does not exist or was closed, a login of someone removed. Each such reference
is one problem, ``file:line: message``, at the line the definition names it — the same form as
the loader's own problems, so an editor jumps to it.
"""

from __future__ import annotations

import os
from collections.abc import Iterable

from sqlalchemy import select
from sqlalchemy.orm import Session

from workflow.access import subtree
from workflow.errors import DefinitionError
from workflow.org.roles import references
from workflow.spec.lint import line_of
from workflow.spec.loader import load_with_lines
from workflow.spec.model import Definition, RoleRef, UnitRef, UserRef
from workflow.store.db import Database
from workflow.store.models import RoleMembership, Unit, User

ROLES = RoleMembership.__table__
USERS = User.__table__
UNITS = Unit.__table__


class _Org:
    """The organisation read once for a whole check: units by code, people by login, holders."""

    def __init__(self, s: Session) -> None:
        self.s = s
        self.units = {r.code: r for r in s.execute(select(UNITS.c.id, UNITS.c.code,
                                                          UNITS.c.closed_at))}  # fmt: skip
        self.users = {r.login: r for r in s.execute(select(USERS.c.login, USERS.c.status))}
        self.holders: dict[str, list[tuple[int | None, str]]] = {}
        for role, unit_id, status in s.execute(
            select(ROLES.c.role, ROLES.c.unit_id, USERS.c.status).join(
                USERS, USERS.c.id == ROLES.c.user_id
            )
        ):
            self.holders.setdefault(role, []).append((unit_id, status))

    def active_in(self, code: str) -> bool:
        units = subtree(self.s, [self.units[code].id])
        found = self.s.execute(
            select(USERS.c.id)
            .where(USERS.c.unit_id.in_(sorted(units)), USERS.c.status == "active")
            .limit(1)
        ).first()
        return found is not None


def _problem(org: _Org, ref: RoleRef | UnitRef | UserRef) -> str | None:
    """What is wrong with one reference now, or None."""
    if isinstance(ref, UserRef):
        user = org.users.get(ref.user)
        if user is None:
            return f"user '{ref.user}' does not exist"
        if user.status != "active":
            return f"user '{ref.user}' is {user.status}, not active"
        return None
    if isinstance(ref, UnitRef):
        return _unit_problem(org, ref.unit) or (
            None if org.active_in(ref.unit) else f"unit '{ref.unit}' has no active person"
        )
    if ref.unit is not None:
        bad = _unit_problem(org, ref.unit)
        if bad:
            return bad
    held = org.holders.get(ref.role, [])
    where = f" in unit '{ref.unit}'" if ref.unit else ""
    if ref.unit is not None:
        held = [h for h in held if h[0] == org.units[ref.unit].id]
    if not held:
        return f"role '{ref.role}' is held by nobody{where}"
    if not any(status == "active" for _, status in held):
        return f"role '{ref.role}' has no active holder{where}"
    return None


def _unit_problem(org: _Org, code: str) -> str | None:
    unit = org.units.get(code)
    if unit is None:
        return f"unit '{code}' does not exist"
    if unit.closed_at is not None:
        return f"unit '{code}' is closed"
    return None


def problems_of(org: _Org, spec: Definition, lines: dict, name: str) -> list[str]:
    """The organisation problems of one loaded definition, ``name:line: message``."""
    out: list[str] = []
    for path, ref in references(spec):
        problem = _problem(org, ref)
        if problem:
            out.append(f"{name}:{line_of(lines, path)}: {problem}")
    return out


def check_org(db: Database, paths: Iterable[str | os.PathLike[str]]) -> list[str]:
    """Every definition problem (as ``banli definitions check`` finds them) and every role, unit
    or person the valid ones name that does not exist or has no active holder."""
    out: list[str] = []
    with db.read() as s:
        org = _Org(s)
        for path in paths:
            try:
                spec, lines = load_with_lines(path)
            except DefinitionError as err:
                out.extend(err.problems)
                continue
            out += problems_of(org, spec, dict(lines), os.path.basename(path))
    return out
