"""Changing a mobile number without a new account (Art. 8).

A person asks, in 我的设置 › 手机号, for a new number: a 6-digit code goes by SMS to that
*new* number (a delivery job, so the channels, retries and the recording outbox apply), proving
they hold it; only the code's hash is kept. Entering the code before it expires (10 minutes,
at most 5 wrong tries) changes ``users.mobile`` in one transaction, recorded on the admin
chain as the person's own act. An administrator with ``people`` over the person's unit may set
the number directly, recorded with the administrator as actor. The partial unique index on
``users.mobile`` (among people not removed) settles two people claiming one number at once:
the loser is told by the field.
"""

from __future__ import annotations

import hashlib
import re
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import func, insert, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from workflow.access import admin_scope, require_capability
from workflow.delivery import enqueue_delivery
from workflow.errors import FormInvalid, Hidden, InvalidAction, NotFound
from workflow.org import adminlog
from workflow.org.people import mobile_problem
from workflow.org.person_fields import clean_mobile
from workflow.refusals import FieldError
from workflow.store.db import Database
from workflow.store.models import MobileChange, Unit, User

USERS = User.__table__
CHANGES = MobileChange.__table__
CODE = re.compile(r"\d{6}")
VALID_FOR = timedelta(minutes=10)
MAX_TRIES = 5
#: codes one person may ask for in an hour (each is an SMS the company pays for)
PER_HOUR = 3


def normalise(raw: str | None) -> str:
    """The number as stored: 11 digits, without spaces, dashes or a +86 / 0086 prefix — the
    same cleaning as enrolment and import (``person_fields.clean_mobile``).

    Raises:
        FormInvalid: ``mobile``: not a mainland mobile number (1, then 3-9, then 9 digits).
    """
    digits, problem = clean_mobile(raw)
    if problem is not None:
        raise FormInvalid({"mobile": problem})
    return digits


def _hash(change_id: int, code: str) -> str:
    return hashlib.sha256(f"mobile-change:{change_id}:{code}".encode()).hexdigest()


@dataclass(frozen=True)
class Pending:
    """A code asked for and not yet used: to which number, until when, tries left."""

    new_mobile: str
    expires_at: datetime
    tries_left: int


def _latest(s: Session, user_id: int):  # type: ignore[no-untyped-def]
    return s.execute(
        select(CHANGES)
        .where(CHANGES.c.user_id == user_id, CHANGES.c.done_at.is_(None))
        .order_by(CHANGES.c.id.desc())
        .limit(1)
    ).first()


def pending(db: Database, user_id: int, now: datetime) -> Pending | None:
    """The person's newest unused request, if it can still be answered."""
    with db.read() as s:
        row = _latest(s, user_id)
    if row is None or row.expires_at <= now or row.attempts >= MAX_TRIES:
        return None
    return Pending(row.new_mobile, row.expires_at, MAX_TRIES - row.attempts)


def current(db: Database, user_id: int) -> tuple[str, str | None]:
    """The person's name and present number."""
    with db.read() as s:
        row = s.execute(select(USERS.c.name, USERS.c.mobile).where(USERS.c.id == user_id)).first()
    if row is None:
        raise NotFound("user_not_found", user=user_id)
    return row.name, row.mobile


def _holder(s: Session, number: str, user_id: int) -> str | None:
    """The name of another person (not removed) whose number this is."""
    return s.execute(
        select(USERS.c.name).where(
            USERS.c.mobile == number, USERS.c.status != "removed", USERS.c.id != user_id
        )
    ).scalar()


def request_change(db: Database, user_id: int, raw: str, now: datetime) -> Pending:
    """Send a code to the new number ``raw`` (validated, normalised, free).

    Raises:
        FormInvalid: ``mobile``: not a mobile number, the present one, or another's.
        InvalidAction: too many codes asked for in the last hour.
    """
    number = normalise(raw)
    code = f"{secrets.randbelow(10**6):06d}"
    with db.write() as s:
        mine = s.execute(select(USERS.c.mobile).where(USERS.c.id == user_id)).scalar()
        if mine == number:
            raise FormInvalid({"mobile": FieldError("mobile_unchanged")})
        if _holder(s, number, user_id) is not None:
            raise FormInvalid({"mobile": FieldError("person_mobile_in_use")})
        recent = s.execute(
            select(func.count(), func.min(CHANGES.c.created_at)).where(
                CHANGES.c.user_id == user_id, CHANGES.c.created_at > now - timedelta(hours=1)
            )
        ).one()
        if recent[0] >= PER_HOUR:
            raise InvalidAction("mobile_too_many_requests", count=recent[0],
                                at=recent[1] + timedelta(hours=1))  # fmt: skip
        change_id = s.execute(
            insert(CHANGES)
            .values(
                user_id=user_id,
                new_mobile=number,
                code_hash="",
                created_at=now,
                expires_at=now + VALID_FOR,
                attempts=0,
            )
            .returning(CHANGES.c.id)
        ).scalar_one()
        s.execute(
            update(CHANGES)
            .where(CHANGES.c.id == change_id)
            .values(code_hash=_hash(change_id, code))
        )
        body = f"您正在将办理平台账号的手机号更换为本号码，验证码 {code}，10分钟内有效。如非本人操作，请忽略。"
        enqueue_delivery(s, user_id, "sms", "手机号验证码", body, f"mobile-change:{change_id}", now,
                         now=now, extra={"address": number})  # fmt: skip
    return Pending(number, now + VALID_FOR, MAX_TRIES)


def confirm(db: Database, user_id: int, code: str, now: datetime) -> str:
    """Enter the code: the number becomes the person's (their own act on the admin chain).

    Returns the new number. A wrong code counts a try (kept even though the call refuses).

    Raises:
        FormInvalid: ``code``: none asked for, malformed, expired, used up or wrong;
            ``mobile``: someone else took the number meanwhile.
    """
    code = (code or "").strip()
    if not CODE.fullmatch(code):
        raise FormInvalid({"code": FieldError("mobile_code_format")})
    wrong: FieldError | None = None
    with db.write() as s:
        row = _latest(s, user_id)
        if row is None:
            raise FormInvalid({"code": FieldError("mobile_code_none")})
        if row.attempts >= MAX_TRIES:
            raise FormInvalid({"code": FieldError("mobile_code_used_up")})
        if row.expires_at <= now:
            raise FormInvalid({"code": FieldError("mobile_code_expired")})
        if not secrets.compare_digest(row.code_hash, _hash(row.id, code)):
            s.execute(
                update(CHANGES).where(CHANGES.c.id == row.id).values(attempts=row.attempts + 1)
            )
            left = MAX_TRIES - row.attempts - 1
            wrong = (
                FieldError("mobile_code_wrong", left=left)
                if left
                else FieldError("mobile_code_used_up")
            )
        else:
            before = _set(s, user_id, row.new_mobile)
            s.execute(update(CHANGES).where(CHANGES.c.id == row.id).values(done_at=now))
            adminlog.record(s, admin_scope(s, user_id), "mobile_change_self", at=now,
                            target=_target(s, user_id), before={"mobile": before},
                            after={"mobile": row.new_mobile})  # fmt: skip
    if wrong is not None:
        raise FormInvalid({"code": wrong})
    return row.new_mobile


def admin_set(db: Database, actor_id: int, user_id: int, raw: str, now: datetime) -> str:
    """An administrator with ``people`` over the person's unit sets their number; returns it.

    Raises:
        NotFound: no such person.
        Forbidden: the actor does not administer people in the person's unit.
        FormInvalid: ``mobile``: not a mobile number, the present one, or another's (named).
    """
    number = normalise(raw)
    with db.write() as s:
        person = s.execute(
            select(USERS.c.unit_id, USERS.c.mobile, USERS.c.status).where(USERS.c.id == user_id)
        ).first()
        if person is None or person.status == "removed":
            raise NotFound("user_not_found", user=user_id)
        scope = require_capability(s, actor_id, "people", person.unit_id)
        if person.mobile == number:
            raise FormInvalid({"mobile": FieldError("mobile_unchanged")})
        taken = mobile_problem(s, scope, number, user_id)  # names the holder only in scope
        if taken is not None:
            raise FormInvalid({"mobile": taken})
        _set(s, user_id, number)
        adminlog.record(s, scope, "mobile_change_admin", at=now, target=_target(s, user_id),
                        before={"mobile": person.mobile}, after={"mobile": number})  # fmt: skip
    return number


def _target(s: Session, user_id: int) -> dict[str, object]:
    name = s.execute(select(USERS.c.name).where(USERS.c.id == user_id)).scalar()
    return {"user": user_id, "name": name}


def _set(s: Session, user_id: int, number: str) -> str | None:
    """Write the number, returning the one before; the unique index decides a race for it
    (the loser: ``mobile`` taken, and nothing written)."""
    before = s.execute(select(USERS.c.mobile).where(USERS.c.id == user_id)).scalar()
    try:
        with s.begin_nested():
            s.execute(update(USERS).where(USERS.c.id == user_id).values(mobile=number))
    except IntegrityError:
        raise FormInvalid({"mobile": FieldError("person_mobile_in_use")}) from None
    return before


@dataclass(frozen=True)
class Card:
    """A person as the administrator's change-of-number page shows them."""

    id: int
    name: str
    mobile: str | None
    unit: str


def card_for(db: Database, actor_id: int, user_id: int) -> Card:
    """The person whose number ``actor_id`` may set; ``Hidden`` (404) for anyone outside the
    actor's ``people`` scope, so an id says nothing about who is not theirs to see."""
    with db.read() as s:
        row = s.execute(
            select(
                USERS.c.id,
                USERS.c.name,
                USERS.c.mobile,
                USERS.c.unit_id,
                USERS.c.status,
                Unit.name.label("unit"),
            )
            .join(Unit, Unit.id == USERS.c.unit_id)
            .where(USERS.c.id == user_id)
        ).first()
        if (
            row is None
            or row.status == "removed"
            or not admin_scope(s, actor_id).covers("people", row.unit_id)
        ):
            raise Hidden("person_hidden", user=user_id)
    return Card(row.id, row.name, row.mobile, row.unit)
