"""Invitations (Art. 10): a one-time link that lets an enrolled person set a password.

The token is random (``secrets``), 32 bytes; only its SHA-256 is stored. It expires after
``BANLI_INVITE_HOURS`` (72 by default) and is used once. Issuing a new one (a resend) voids the
person's earlier ones. The link goes out through the existing channels as ``deliver`` jobs: by
SMS, and by e-mail if the person has an address (the recording channel writes
``instance/outbox.jsonl`` in development). Until the worker sends it, the link lives in that
job's payload; the invitations table never holds it.

Accepting checks token, use, expiry and that the person is still invited, sets the password
(argon2, :mod:`workflow.passwords`), makes them active and records ``person_activate``, in one
transaction. An unknown, used, voided or expired token is refused with one sentence, whichever
it was.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import insert, select, update
from sqlalchemy.orm import Session

from workflow.access import AdminScope, require_capability
from workflow.delivery import enqueue_delivery
from workflow.errors import Conflict, FormInvalid, Hidden, NotFound
from workflow.org import adminlog
from workflow.passwords import hash_password
from workflow.refusals import FieldError
from workflow.store.db import ConnectionOrSession, Database
from workflow.store.models import Invitation, User

USERS = User.__table__
INVITES = Invitation.__table__
DEFAULT_HOURS = 72
PASSWORD_MIN = 8
PASSWORD_MAX = 128
#: the shortest a token may be before it is even looked up (a real one is 43 characters)
TOKEN_MIN = 20


@dataclass(frozen=True)
class Invited:
    """Whom a valid invitation is for, as the set-password page greets them."""

    user_id: int
    name: str
    login: str
    expires_at: datetime


def token_hash(token: str) -> str:
    """The stored form of a token: its SHA-256, hex."""
    return hashlib.sha256(token.encode("utf-8", "replace")).hexdigest()


def invite_link(base_url: str, token: str) -> str:
    """The address the invited person opens."""
    return f"{base_url.rstrip('/')}/invite/{token}"


def issue(
    s: Session,
    user_id: int,
    actor_id: int,
    now: datetime,
    *,
    base_url: str,
    hours: int = DEFAULT_HOURS,
) -> tuple[str, datetime]:
    """A new invitation for ``user_id`` (earlier ones void) and its SMS / e-mail deliveries,
    queued in the caller's transaction; returns the link and when it expires."""
    s.execute(update(INVITES).where(INVITES.c.user_id == user_id, INVITES.c.used_at.is_(None),
                                    INVITES.c.expires_at > now).values(expires_at=now))  # fmt: skip
    person = s.execute(select(USERS.c.name, USERS.c.email).where(USERS.c.id == user_id)).one()
    return issue_many(s, [(user_id, person.name, person.email)], actor_id, now,
                      base_url=base_url, hours=hours)[0]  # fmt: skip


def issue_many(
    s: Session,
    people: list[tuple[int, str, str | None]],
    actor_id: int,
    now: datetime,
    *,
    base_url: str,
    hours: int = DEFAULT_HOURS,
) -> list[tuple[str, datetime]]:
    """New invitations for ``people`` (user id, name, e-mail) who hold none yet (just enrolled,
    or their earlier ones voided), with their deliveries; the (link, expiry) of each, in order."""
    if not people:
        return []
    inviter = s.execute(select(USERS.c.name).where(USERS.c.id == actor_id)).scalar() or ""
    expires_at = now + timedelta(hours=hours)
    rows, out = [], []
    for user_id, name, email in people:
        token = secrets.token_urlsafe(32)
        digest = token_hash(token)
        rows.append({"token_hash": digest, "user_id": user_id, "created_by": actor_id,
                     "created_at": now, "expires_at": expires_at})  # fmt: skip
        link = invite_link(base_url, token)
        subject = "办理：请激活您的账号"
        body = (f"{name}，您好：{inviter}为您开通了办理（Banli）账号。请在 {hours} 小时内打开"
                f"以下链接设置密码，链接只能使用一次：{link}")  # fmt: skip
        key = f"invite:{user_id}:{digest[:16]}"
        enqueue_delivery(s, user_id, "sms", subject, body, f"{key}:sms", now, now=now)
        if email:
            enqueue_delivery(s, user_id, "email", subject, body, f"{key}:email", now, now=now)
        out.append((link, expires_at))
    s.execute(insert(INVITES), rows)
    return out


def resend(
    db: Database,
    actor_id: int,
    user_id: int,
    now: datetime,
    *,
    base_url: str,
    hours: int = DEFAULT_HOURS,
) -> tuple[str, datetime]:
    """Send a person still invited a new link (the old ones stop working); recorded.

    Raises:
        Forbidden: no ``people`` capability; Hidden: the person is not in the actor's scope.
        Conflict: the person is not invited any more (active or removed).
    """
    with db.write() as s:
        scope = require_capability(s, actor_id, "people")
        row = s.execute(select(USERS.c.id, USERS.c.name, USERS.c.unit_id, USERS.c.status)
                        .where(USERS.c.id == user_id)).first()  # fmt: skip
        if row is None or not scope.covers("people", row.unit_id):
            raise Hidden("admin_person_hidden", person=user_id)
        if row.status != "invited":
            raise Conflict("invitation_not_invited", name=row.name)
        link, expires_at = issue(s, user_id, actor_id, now, base_url=base_url, hours=hours)
        adminlog.record(s, scope, "person_invite", at=now,
                        target={"user": user_id, "name": row.name},
                        after={"expires_at": expires_at.isoformat()})  # fmt: skip
        return link, expires_at


def _valid(tx: ConnectionOrSession, token: str, now: datetime) -> Any:
    """The invitation and its person if ``token`` may still be used; else ``NotFound``."""
    if not token or len(token) < TOKEN_MIN or len(token) > 200:
        raise NotFound("invitation_invalid")
    row = tx.execute(
        select(INVITES.c.token_hash, INVITES.c.expires_at, INVITES.c.used_at, USERS.c.id,
               USERS.c.name, USERS.c.login, USERS.c.mobile, USERS.c.status)
        .join(USERS, USERS.c.id == INVITES.c.user_id)
        .where(INVITES.c.token_hash == token_hash(token))
    ).first()  # fmt: skip
    if row is None or row.used_at is not None or row.expires_at <= now or row.status != "invited":
        raise NotFound("invitation_invalid")
    return row


def look_up(db: Database, token: str, now: datetime) -> Invited:
    """Whom ``token`` invites, if it may still be used (the set-password page's GET)."""
    with db.read() as s:
        row = _valid(s, token, now)
        return Invited(row.id, row.name, row.login, row.expires_at)


def password_problem(password: str, login: str, mobile: str | None) -> FieldError | None:
    """Why a new password is refused: too short or long, or the login or mobile itself."""
    if not password:
        return FieldError("field_required")
    if len(password) < PASSWORD_MIN:
        return FieldError("invite_password_too_short", min=PASSWORD_MIN)
    if len(password) > PASSWORD_MAX:
        return FieldError("field_too_long", length=len(password), max=PASSWORD_MAX)
    if password.lower() in {login.lower(), (mobile or "").lower()}:
        return FieldError("invite_password_is_login")
    return None


def accept(db: Database, token: str, password: str, confirm: str, now: datetime) -> Invited:
    """Set the password of the person ``token`` invites and make them active; the token is used.

    Raises:
        NotFound: the token is unknown, used, voided or expired, or the person is no longer
            invited (one sentence for all).
        FormInvalid: ``password`` / ``confirm`` refused (the token stays usable).
    """
    with db.read() as s:  # the checks first: argon2 takes a while, not inside the write lock
        row = _valid(s, token, now)
    problem = password_problem(password, row.login, row.mobile)
    if problem is not None:
        raise FormInvalid({"password": problem})
    if confirm != password:
        raise FormInvalid({"confirm": FieldError("invite_password_mismatch")})
    hashed = hash_password(password)
    with db.write() as s:
        row = _valid(s, token, now)  # again: the link may have been used or replaced meanwhile
        used = s.execute(update(INVITES).where(INVITES.c.token_hash == row.token_hash,
                                               INVITES.c.used_at.is_(None))
                         .values(used_at=now)).rowcount  # fmt: skip
        if used != 1:  # the same link submitted twice at once: the first one counts
            raise NotFound("invitation_invalid")
        s.execute(update(USERS).where(USERS.c.id == row.id, USERS.c.status == "invited")
                  .values(status="active", password_hash=hashed))  # fmt: skip
        adminlog.record(s, AdminScope(row.id), "person_activate", at=now,
                        target={"user": row.id, "name": row.name})  # fmt: skip
        return Invited(row.id, row.name, row.login, row.expires_at)


def latest(tx: ConnectionOrSession, user_id: int) -> Any:
    """The person's newest invitation (created_at, expires_at, used_at), or None."""
    return tx.execute(
        select(INVITES.c.created_at, INVITES.c.expires_at, INVITES.c.used_at)
        .where(INVITES.c.user_id == user_id)
        .order_by(INVITES.c.created_at.desc())
        .limit(1)
    ).first()  # fmt: skip
