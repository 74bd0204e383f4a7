"""Enrolling a person and editing their card (Art. 9-10), each in one write transaction.

Enrolment writes the person (status ``invited``), their roles in their unit, the admin-chain
event ``person_enrol`` and the invitation with its queued deliveries, or nothing. Editing a
card (name, e-mail, post) writes the change and ``person_edit`` with before and after. Both
ask ``workflow.access`` first: the actor must hold ``people`` over the person's unit; a person
outside it is, to them, no person at all (``Hidden``).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import insert, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from workflow.access import AdminScope, admin_scope, require_capability
from workflow.errors import FormInvalid, Hidden
from workflow.org import adminlog, invitations
from workflow.org.names import name_keys
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
from workflow.refusals import FieldError, quoted
from workflow.store.db import ConnectionOrSession, Database
from workflow.store.models import RoleMembership, Unit, User

USERS = User.__table__
UNITS = Unit.__table__
ROLES = RoleMembership.__table__


@dataclass(frozen=True)
class Enrolled:
    """A person just enrolled: who, and the invitation link sent to them (shown once)."""

    user_id: int
    login: str
    name: str
    link: str
    expires_at: datetime


class _DuplicateMobile(Exception):
    """The database's unique index caught a mobile another enrolment took meanwhile."""

    def __init__(self, mobile: str) -> None:
        super().__init__(mobile)
        self.mobile = mobile


def find_unit(tx: ConnectionOrSession, value: Any) -> Any:
    """The unit ``value`` names: its id, its code, or its name (when only one unit has it)."""
    text = str(value or "").strip()
    if not text:
        return None
    cols = (UNITS.c.id, UNITS.c.code, UNITS.c.name, UNITS.c.closed_at)
    if text.isascii() and text.isdigit() and len(text) < 19:  # not "²" (int() refuses it)
        found = tx.execute(select(*cols).where(UNITS.c.id == int(text))).first()
        if found is not None:
            return found
    found = tx.execute(select(*cols).where(UNITS.c.code == text)).first()
    if found is not None:
        return found
    named = tx.execute(select(*cols).where(UNITS.c.name == text).limit(2)).all()
    return named[0] if len(named) == 1 else None


def unit_problem(scope: AdminScope, unit: Any, given: Any) -> FieldError | None:
    """Why a person may not be put in ``unit`` by this administrator (None: they may)."""
    if unit is None:
        if not str(given or "").strip():
            return FieldError("field_required")
        return FieldError("field_no_unit", value=quoted(str(given)))
    if unit.closed_at is not None:
        return FieldError("person_unit_closed", unit=unit.name)
    if not scope.covers("people", unit.id):
        return FieldError("person_unit_out_of_scope", unit=unit.name)
    return None


def mobile_problem(
    tx: ConnectionOrSession, scope: AdminScope, mobile: str, user_id: int | None = None
) -> FieldError | None:
    """The mobile is someone else's (not removed): naming them only if the actor sees them."""
    query = select(USERS.c.id, USERS.c.name, USERS.c.unit_id).where(
        USERS.c.mobile == mobile, USERS.c.status != "removed"
    )
    if user_id is not None:
        query = query.where(USERS.c.id != user_id)
    holder = tx.execute(query.limit(1)).first()
    if holder is None:
        return None
    return holder_problem(scope, holder.name, holder.unit_id)


def holder_problem(scope: AdminScope, name: str, unit_id: int) -> FieldError:
    """ "Already used by 王芳" to whoever administers her; "already in use" to anyone else."""
    if scope.covers("people", unit_id):
        return FieldError("person_mobile_in_use_by", name=name)
    return FieldError("person_mobile_in_use")


def taken_logins(tx: ConnectionOrSession, base: str) -> set[str]:
    """The logins that start with ``base`` (removed people's too: a login is never reused)."""
    pattern = base.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
    return set(tx.execute(select(USERS.c.login).where(USERS.c.login.like(pattern, escape="\\")))
               .scalars())  # fmt: skip


def enrol(
    db: Database,
    actor_id: int,
    fields: Mapping[str, Any],
    now: datetime,
    *,
    base_url: str,
    hours: int = invitations.DEFAULT_HOURS,
) -> Enrolled:
    """Enrol a person: status ``invited``, their roles, the admin-chain event, the invitation.

    Args:
        fields: ``name``, ``mobile``, ``unit`` (id, code or name), and optionally ``email``,
            ``post``, ``roles`` (a list or comma-separated), ``login`` (else from the pinyin).
        base_url: the site's address the invitation link starts with.
    Raises:
        Forbidden: the actor does not administer people anywhere.
        FormInvalid: every bad field with its message (nothing is written).
    """
    try:
        with db.write() as s:
            return _enrol(s, actor_id, fields, now, base_url, hours)
    except _DuplicateMobile as dup:  # another enrolment took the number since we looked
        with db.read() as s:
            scope = admin_scope(s, actor_id)
            problem = mobile_problem(s, scope, dup.mobile) or FieldError("person_mobile_in_use")
        raise FormInvalid({"mobile": problem}) from None


def _enrol(
    s: Session, actor_id: int, fields: Mapping[str, Any], now: datetime, base_url: str, hours: int
) -> Enrolled:
    scope = require_capability(s, actor_id, "people")
    errors: dict[str, FieldError] = {}
    name, problem = clean_name(fields.get("name"))
    _note(errors, "name", problem)
    mobile, problem = clean_mobile(fields.get("mobile"))
    _note(errors, "mobile", problem or (mobile_problem(s, scope, mobile) if mobile else None))
    email, problem = clean_email(fields.get("email"))
    _note(errors, "email", problem)
    post, problem = clean_post(fields.get("post"))
    _note(errors, "post", problem)
    unit = find_unit(s, fields.get("unit"))
    _note(errors, "unit", unit_problem(scope, unit, fields.get("unit")))
    roles = split_roles(fields.get("roles"))
    _note(errors, "roles", check_roles(roles, role_vocabulary(s)) if roles else None)
    login, problem = clean_login(fields.get("login"))
    if problem is None and login is not None and login in taken_logins(s, login):
        problem = FieldError("person_login_taken", value=quoted(login))
    _note(errors, "login", problem)
    if errors:
        raise FormInvalid(errors)
    if login is None:
        base = login_base(name_keys(name)[0])
        login = unique_login(base, taken_logins(s, base))
    person = {"login": login, "name": name, "mobile": mobile, "email": email, "post": post,
              "unit_id": unit.id, "roles": roles}  # fmt: skip
    user_id = create_person(s, scope, person, now)
    link, expires_at = invitations.issue(s, user_id, actor_id, now, base_url=base_url, hours=hours)
    return Enrolled(user_id, login, name, link, expires_at)


def create_person(s: Session, scope: AdminScope, person: Mapping[str, Any], now: datetime) -> int:
    """Insert an invited person and their roles (in their unit) and record ``person_enrol``.

    ``person`` holds checked values: login, name, mobile, email, post, unit_id, roles.
    """
    pinyin, initials = name_keys(person["name"])
    try:
        with s.begin_nested():
            user_id = s.execute(
                insert(USERS).returning(USERS.c.id),
                {"login": person["login"], "name": person["name"], "mobile": person["mobile"],
                 "email": person["email"], "unit_id": person["unit_id"], "post": person["post"],
                 "status": "invited", "password_hash": None, "ding_channel": "sms",
                 "pinyin": pinyin, "initials": initials, "mobile_hidden": False,
                 "created_at": now},
            ).scalar_one()  # fmt: skip
    except IntegrityError as exc:
        if "mobile" in str(exc.orig):
            raise _DuplicateMobile(person["mobile"]) from None
        if "login" in str(exc.orig):
            raise FormInvalid(
                {"login": FieldError("person_login_taken", value=quoted(person["login"]))}
            ) from None
        raise
    for role in person["roles"]:
        s.execute(insert(ROLES).values(user_id=user_id, role=role, unit_id=person["unit_id"]))
    after = {k: person[k] for k in ("login", "name", "mobile", "email", "post", "unit_id", "roles")}
    adminlog.record(s, scope, "person_enrol", at=now,
                    target={"user": user_id, "name": person["name"]}, after=after)  # fmt: skip
    return int(user_id)


def person_in_scope(tx: ConnectionOrSession, scope: AdminScope, user_id: int) -> Any:
    """The person's row if ``scope`` administers people in their unit; else ``Hidden``."""
    row = tx.execute(select(USERS).where(USERS.c.id == user_id)).first()
    if row is None or not scope.covers("people", row.unit_id):
        raise Hidden("admin_person_hidden", person=user_id)
    return row


def edit_person(
    db: Database, actor_id: int, user_id: int, fields: Mapping[str, Any], now: datetime
) -> list[str]:
    """Change a person's name, e-mail and post (those in ``fields``); the fields changed (none:
    nothing recorded).

    Raises:
        Forbidden: the actor administers no people; Hidden: the person is not in their scope.
        FormInvalid: every bad field with its message.
    """
    with db.write() as s:
        scope = require_capability(s, actor_id, "people")
        row = person_in_scope(s, scope, user_id)
        errors: dict[str, FieldError] = {}
        new: dict[str, Any] = {}
        for key, clean in (("name", clean_name), ("email", clean_email), ("post", clean_post)):
            if key in fields:  # a field not sent is left as it is
                new[key], problem = clean(fields[key])
                _note(errors, key, problem)
        if errors:
            raise FormInvalid(errors)
        return change_person(s, scope, row, new, now)


def change_person(
    s: Session, scope: AdminScope, row: Any, new: Mapping[str, Any], now: datetime
) -> list[str]:
    """Write the fields of ``new`` that differ from ``row`` (``roles``: roles added in the
    person's unit) and record ``person_edit`` with before and after; the fields changed."""
    before: dict[str, Any] = {}
    after: dict[str, Any] = {}
    unit_id = new.get("unit_id", row.unit_id)
    for key, value in new.items():
        old = held_roles(s, row.id, unit_id) if key == "roles" else getattr(row, key)
        if key == "roles":
            value = sorted(set(old) | set(value))
            if value == sorted(old):
                continue
        elif old == value:
            continue
        before[key], after[key] = old, value
    if not after:
        return []
    values = {k: v for k, v in after.items() if k != "roles"}
    if "name" in values:
        values["pinyin"], values["initials"] = name_keys(values["name"])
    if values:
        s.execute(update(USERS).where(USERS.c.id == row.id).values(**values))
    for role in sorted(set(after.get("roles", ())) - set(before.get("roles", ()))):
        s.execute(insert(ROLES).values(user_id=row.id, role=role, unit_id=unit_id))
    adminlog.record(s, scope, "person_edit", at=now, target={"user": row.id, "name": row.name},
                    before=before, after=after)  # fmt: skip
    return list(after)


def held_roles(tx: ConnectionOrSession, user_id: int, unit_id: int) -> list[str]:
    """The roles ``user_id`` holds in ``unit_id``, sorted."""
    return sorted(tx.execute(
        select(ROLES.c.role).where(ROLES.c.user_id == user_id, ROLES.c.unit_id == unit_id)
    ).scalars())  # fmt: skip


def _note(errors: dict[str, FieldError], key: str, problem: FieldError | None) -> None:
    if problem is not None:
        errors[key] = problem
