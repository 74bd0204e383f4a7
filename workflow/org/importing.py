"""Importing people from HR's sheet: a dry run, then the same plan applied in one transaction.

:func:`plan_import` reads the sheet (:mod:`workflow.org.sheets`) and says, row by row, what
would happen: ``create`` a new person, ``change`` an existing one (matched by mobile, then by
login; which fields, old → new), ``unchanged``, or ``refused`` with every reason. It writes
nothing. Its ``digest`` fingerprints the whole plan.

:func:`apply_import` plans again inside ONE write transaction and goes on only if the plan is
the one shown (same digest): if anyone changed the data meanwhile it refuses
(``import_changed``) and the page shows the new dry run. It creates and changes the accepted
rows, invites the new people, and records one admin-chain event per person plus one
``person_import`` summary carrying the digest, so that the same confirmation sent twice (a
double click) is recognised and not applied again. Importing the same sheet twice changes
nothing: the second dry run says ``unchanged`` on every row.

Empty optional cells (e-mail, post, roles) keep what the person has; roles in the sheet are
added in the person's unit, never taken away (a sheet from HR knows nothing of roles granted
here).
"""

from __future__ import annotations

import hashlib
import json
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from workflow.access import AdminScope, require_capability
from workflow.errors import Conflict
from workflow.org import adminlog, invitations
from workflow.org.batch import enrol_many
from workflow.org.names import name_keys
from workflow.org.people import _DuplicateMobile, change_person, holder_problem, unit_problem
from workflow.org.person_fields import (
    check_roles,
    clean_email,
    clean_login,
    clean_mobile,
    clean_name,
    clean_post,
    login_base,
    role_vocabulary,
    split_roles,
    unique_login,
)
from workflow.org.sheets import SheetRow, read_sheet
from workflow.refusals import FieldError, quoted
from workflow.store.db import Database
from workflow.store.models import AuditEvent, RoleMembership, Unit, User

USERS = User.__table__
UNITS = Unit.__table__
ROLES = RoleMembership.__table__
EVENTS = AuditEvent.__table__
ACTIONS = ("create", "change", "unchanged", "refused")


@dataclass(frozen=True)
class PlanRow:
    """What one row of the sheet would do."""

    number: int
    action: str
    name: str
    mobile: str
    unit: str
    #: the login the person has or would get
    login: str | None = None
    user_id: int | None = None
    #: (field, old, new) for a change; unit names, role lists
    changes: list[tuple[str, Any, Any]] = field(default_factory=list)
    #: (column, problem) for a refused row
    reasons: list[tuple[str, FieldError]] = field(default_factory=list)
    #: the checked values a create or change writes
    values: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Plan:
    rows: list[PlanRow]
    digest: str
    #: the SHA-256 of the file
    sheet: str
    filename: str

    @property
    def counts(self) -> dict[str, int]:
        found = Counter(r.action for r in self.rows)
        return {action: found.get(action, 0) for action in ACTIONS}


@dataclass(frozen=True)
class Imported:
    """What a confirmed import did: the plan applied, and each new person's invitation link."""

    plan: Plan
    #: (user id, login, name, link) of each person created
    invited: list[tuple[int, str, str, str]]
    #: True if this very plan had been applied before (a repeated confirmation): nothing done
    already: bool = False


def plan_import(db: Database, actor_id: int, data: bytes, filename: str) -> Plan:
    """The dry run: every row's action and reasons; nothing is written.

    Raises:
        Forbidden: the actor administers no people.
        InvalidAction: the file is too large, has too many rows, is no spreadsheet, is a
            broken XLSX, or lacks a required column.
    """
    rows = read_sheet(data, filename)
    with db.read() as s:
        scope = require_capability(s, actor_id, "people")
        return _plan(s, scope, rows, data, filename)


def apply_import(
    db: Database,
    actor_id: int,
    data: bytes,
    filename: str,
    digest: str,
    now: datetime,
    *,
    base_url: str,
    hours: int = invitations.DEFAULT_HOURS,
) -> Imported:
    """Apply the plan whose ``digest`` the actor confirmed, in one transaction.

    Raises:
        Conflict: ``import_changed`` — the plan is no longer the one shown; plan again.
        Forbidden, InvalidAction: as :func:`plan_import`.
    """
    rows = read_sheet(data, filename)
    try:
        with db.write() as s:
            scope = require_capability(s, actor_id, "people")
            plan = _plan(s, scope, rows, data, filename)
            if plan.digest != digest:
                if _applied_before(s, actor_id, digest):
                    return Imported(plan, [], already=True)
                raise Conflict("import_changed")
            invited = _apply(s, scope, plan, now, base_url, hours)
            adminlog.record(s, scope, "person_import", at=now,
                            target={"sheet": plan.sheet, "file": filename[:200]},
                            after={"digest": plan.digest, **plan.counts})  # fmt: skip
            return Imported(plan, invited)
    except (_DuplicateMobile, IntegrityError):  # someone took the same number meanwhile
        raise Conflict("import_changed") from None


def _apply(
    s: Session, scope: AdminScope, plan: Plan, now: datetime, base_url: str, hours: int
) -> list[tuple[int, str, str, str]]:
    for row in plan.rows:
        if row.action == "change":
            person = s.execute(select(USERS).where(USERS.c.id == row.user_id)).one()
            change_person(s, scope, person, row.values, now)
    created = [row.values for row in plan.rows if row.action == "create"]
    return enrol_many(s, scope, created, now, base_url=base_url, hours=hours)


def _applied_before(s: Session, actor_id: int, digest: str) -> bool:
    """Whether the actor's recent imports include one of this very plan."""
    recent = s.execute(
        select(EVENTS.c.data)
        .where(EVENTS.c.chain == "admin", EVENTS.c.kind == "person_import",
               EVENTS.c.actor_id == actor_id)
        .order_by(EVENTS.c.seq.desc())
        .limit(50)
    ).scalars()  # fmt: skip
    return any(((data or {}).get("after") or {}).get("digest") == digest for data in recent)


class _Known:
    """The organisation as a plan needs it, read once: units, people not removed, logins, roles."""

    def __init__(self, s: Session) -> None:
        units = s.execute(select(UNITS.c.id, UNITS.c.code, UNITS.c.name, UNITS.c.closed_at)).all()
        self.unit_by_id = {u.id: u for u in units}
        self.unit_by_code = {u.code: u for u in units}
        named = Counter(u.name for u in units)
        self.unit_by_name = {u.name: u for u in units if named[u.name] == 1}
        people = s.execute(select(USERS).where(USERS.c.status != "removed")).all()
        self.by_mobile = {p.mobile: p for p in people if p.mobile}
        self.by_login = {p.login: p for p in people}
        self.logins = set(s.execute(select(USERS.c.login)).scalars())
        self.roles: dict[tuple[int, int], set[str]] = {}
        for user_id, role, unit_id in s.execute(select(ROLES.c.user_id, ROLES.c.role,
                                                       ROLES.c.unit_id)):  # fmt: skip
            self.roles.setdefault((user_id, unit_id), set()).add(role)
        self.vocabulary = role_vocabulary(s)

    def unit(self, text: str) -> Any:
        text = text.strip()
        return self.unit_by_code.get(text) or self.unit_by_name.get(text)


def _plan(s: Session, scope: AdminScope, rows: list[SheetRow], data: bytes, filename: str) -> Plan:
    known = _Known(s)
    numbers: dict[str, list[int]] = {}
    for row in rows:
        mobile = clean_mobile(row.values.get("mobile"))[0]
        if mobile:
            numbers.setdefault(mobile, []).append(row.number)
    logins = Counter(clean_login(row.values.get("login"))[0] for row in rows)
    taken = set(known.logins)
    out = []
    for row in rows:
        same = numbers.get(clean_mobile(row.values.get("mobile"))[0], [])
        twice = [n for n in same if n != row.number]
        out.append(_row(known, scope, row, twice, logins, taken))
    shown = [[r.number, r.action, r.user_id, r.login, sorted(r.values.items()),
              [[f, str(o), str(n)] for f, o, n in r.changes], [[c, str(p)] for c, p in r.reasons]]
             for r in out]  # fmt: skip
    sheet = hashlib.sha256(data).hexdigest()
    digest = hashlib.sha256(
        json.dumps([sheet, shown], ensure_ascii=False, sort_keys=True, default=str).encode()
    ).hexdigest()
    return Plan(out, digest, sheet, filename)


def _row(
    known: _Known,
    scope: AdminScope,
    row: SheetRow,
    twice: list[int],
    logins: Counter[str | None],
    taken: set[str],
) -> PlanRow:
    v = row.values
    reasons: list[tuple[str, FieldError]] = []

    def check(column: str, problem: FieldError | None) -> None:
        if problem is not None:
            reasons.append((column, problem))

    name, problem = clean_name(v.get("name"))
    check("name", problem)
    mobile, problem = clean_mobile(v.get("mobile"))
    check("mobile", problem)
    if twice:
        check("mobile", FieldError("import_mobile_twice", rows=twice))
    email, problem = clean_email(v.get("email"))
    check("email", problem)
    post, problem = clean_post(v.get("post"))
    check("post", problem)
    login, problem = clean_login(v.get("login"))
    check("login", problem)
    if login is not None and logins[login] > 1:
        check("login", FieldError("import_login_twice", value=quoted(login)))
    unit = known.unit(v.get("unit", ""))
    check("unit", unit_problem(scope, unit, v.get("unit", "")))
    roles = split_roles(v.get("roles"))
    check("roles", check_roles(roles, known.vocabulary) if roles else None)
    unit_name = unit.name if unit is not None else v.get("unit", "")
    person = known.by_mobile.get(mobile) if mobile else None
    if person is None and login is not None:
        person = known.by_login.get(login)
    elif person is not None and login is not None and login != person.login:
        check("login", FieldError("import_login_mismatch", login=person.login))
    if person is not None and not scope.covers("people", person.unit_id):
        check("mobile", holder_problem(scope, person.name, person.unit_id))
    if person is None and login is not None and login in known.logins:
        check("login", FieldError("person_login_taken", value=quoted(login)))
    base = PlanRow(row.number, "refused", name, mobile, unit_name, login, reasons=reasons,
                   user_id=person.id if person is not None else None)  # fmt: skip
    if reasons:
        return base
    assert unit is not None
    if person is None:
        if login is None:
            login = unique_login(login_base(name_keys(name)[0]), taken)
        taken.add(login)
        values = {"login": login, "name": name, "mobile": mobile, "email": email, "post": post,
                  "unit_id": unit.id, "roles": roles}  # fmt: skip
        return PlanRow(row.number, "create", name, mobile, unit_name, login, values=values)
    return _change(known, person, row.number, name, mobile, email, post, unit, roles)


def _change(
    known: _Known,
    person: Any,
    number: int,
    name: str,
    mobile: str,
    email: str | None,
    post: str | None,
    unit: Any,
    roles: list[str],
) -> PlanRow:
    """A matched person: the fields the row changes (empty optional cells keep what is there)."""
    values: dict[str, Any] = {}
    changes: list[tuple[str, Any, Any]] = []
    for key, new in (("name", name), ("mobile", mobile), ("email", email), ("post", post)):
        if new is not None and new != getattr(person, key):
            values[key] = new
            changes.append((key, getattr(person, key), new))
    if unit.id != person.unit_id:
        values["unit_id"] = unit.id
        old_unit = known.unit_by_id.get(person.unit_id)
        changes.append(("unit", old_unit.name if old_unit is not None else "", unit.name))
    held = known.roles.get((person.id, values.get("unit_id", person.unit_id)), set())
    added = [r for r in roles if r not in held]
    if added:
        values["roles"] = added
        changes.append(("roles", sorted(held), sorted(held | set(added))))
    action = "change" if changes else "unchanged"
    return PlanRow(number, action, name, mobile, unit.name, person.login, person.id,
                   changes=changes, values=values)  # fmt: skip
