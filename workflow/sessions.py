"""Sign-in sessions: opened at sign-in, looked up (and touched) on every request, ended or idled out.

A session is a row keyed by a random id the browser keeps in its (signed) cookie; signing out
or staying idle longer than the idle timeout ends it, and an ended session signs nobody in.
The web's sign-in pages call these functions; they build no query themselves.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass, field
from datetime import datetime, timedelta, tzinfo

from sqlalchemy import bindparam, exists, insert, select, update

from workflow import access
from workflow.org import presence_days
from workflow.store.db import Database
from workflow.store.models import (
    AdminGrant,
    MainAdmin,
    RoleMembership,
    SignInSession,
    Unit,
    User,
)

#: last_seen_at is written at most this often per session: a page view is no write.
SEEN_EVERY = timedelta(minutes=1)
AGENT_MAX = 300  # characters of the user agent kept


@dataclass
class SignedIn:
    """The person of an open session as the doors need them: names, unit, roles."""

    user_id: int
    login: str
    name: str
    unit: str
    roles: set[str] = field(default_factory=set)
    #: the main administrator (workflow.access.is_admin): asked once per request
    admin: bool = False
    #: the capabilities they administer somewhere (workflow.access.admin_scope)
    capabilities: frozenset[str] = frozenset()
    #: the capabilities they administer over the whole company
    company: frozenset[str] = frozenset()


def open_session(
    db: Database, user_id: int, now: datetime, user_agent: str | None, address: str | None,
    tz: tzinfo | None = None,
) -> str:  # fmt: skip
    """Open a session for ``user_id`` and return its new random id; the person counts as
    signed in on ``now``'s local day in ``tz`` (the organisation's time zone)."""
    sid = secrets.token_urlsafe(32)
    with db.write() as s:
        s.execute(insert(SignInSession).values(
            id=sid, user_id=user_id, created_at=now, last_seen_at=now,
            user_agent=(user_agent or "")[:AGENT_MAX], address=address))  # fmt: skip
        s.execute(update(User).where(User.id == user_id).values(last_seen_at=now))
        presence_days.mark(s, user_id, now, tz)
    return sid


def look_up(
    db: Database, sid: str, user_id: int, now: datetime, idle: timedelta,
    tz: tzinfo | None = None,
) -> SignedIn | None:  # fmt: skip
    """The person of session ``sid`` if it is theirs, open, not idle for ``idle``, and they are
    active; an idle session is ended here. Touches ``last_seen_at`` at most every SEEN_EVERY,
    and at once when the local day (in ``tz``) changed since: that day's presence is counted."""
    with db.read() as s:
        # One statement: the session, the person, their unit, one row per role they hold, and
        # whether they are the main administrator or hold any grant. Only a sub-administrator's
        # scope (rare) needs the grants' subtrees: access.admin_scope then reads those.
        rows = s.execute(_LOOK_UP, {"sid": sid, "user_id": user_id}).all()
        if not rows or rows[0].status != "active":
            return None
        row = rows[0]
        roles = {r.role for r in rows if r.role is not None}
        if row.main_admin == row.id:
            scope = access.AdminScope(row.id, main=True)
        elif row.granted:
            scope = access.admin_scope(s.connection(), row.id)
        else:
            scope = access.AdminScope(row.id)
    if now - row.last_seen_at > idle:
        end_session(db, sid, now)
        return None
    new_day = presence_days.is_new_day(row.last_seen_at, now, tz)
    if new_day or now - row.last_seen_at > SEEN_EVERY:
        with db.write() as s:
            s.execute(update(SignInSession).where(SignInSession.id == sid)
                      .values(last_seen_at=now))  # fmt: skip
            s.execute(update(User).where(User.id == row.id).values(last_seen_at=now))
            if new_day:
                presence_days.mark(s, row.id, now, tz)
    company = frozenset(c for c in scope.capabilities if scope.company_wide(c))
    return SignedIn(row.id, row.login, row.name, row.unit, roles, scope.main, scope.capabilities,
                    company)  # fmt: skip


#: the look-up of a request's session (see ``look_up``), built once
_LOOK_UP = (
    select(
        SignInSession.last_seen_at, User.id, User.login, User.name, User.status,
        Unit.name.label("unit"), RoleMembership.role,
        select(MainAdmin.user_id).where(MainAdmin.id == 1).scalar_subquery().label("main_admin"),
        exists().where(AdminGrant.user_id == User.id).label("granted"),
    )
    .join(User, User.id == SignInSession.user_id)
    .join(Unit, Unit.id == User.unit_id)
    .outerjoin(RoleMembership, RoleMembership.user_id == User.id)
    .where(SignInSession.id == bindparam("sid"), SignInSession.ended_at.is_(None),
           User.id == bindparam("user_id"))
)  # fmt: skip


def end_session(db: Database, sid: str, now: datetime) -> None:
    """End session ``sid`` (signed out, or idle): it signs nobody in any more."""
    with db.write() as s:
        s.execute(update(SignInSession).where(SignInSession.id == sid).values(ended_at=now))
