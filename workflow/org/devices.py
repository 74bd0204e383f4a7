"""Signed-in devices (Art. 14-15): a person's open sessions, ending one, all others, or all.

Each open session is listed with the device and browser read from its user agent ("Chrome 120 ·
Windows", "WeChat · iPhone"), its address, when it signed in and was last seen. A session is
named to the browser by a *handle* (a hash of its id), never by the id the cookie carries.
Ending a session sets ``ended_at``; ``workflow.sessions.look_up`` refuses an ended session, so
the end takes effect on that browser's next request. A person ends their own sessions; an
administrator with ``people`` over a person's unit ends all of theirs (an ``admin`` chain event,
``sessions_end``). A handle that is not one of the person's open sessions is ``NotFound``.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select, update
from user_agents import parse

from workflow.access import admin_scope, require_capability
from workflow.errors import NotFound
from workflow.org import adminlog
from workflow.store.db import ConnectionOrSession, Database
from workflow.store.models import SignInSession, User

SESSIONS = SignInSession.__table__
USERS = User.__table__
HANDLE_LENGTH = 16
#: the device names worth showing instead of the operating system
DEVICES = ("iPhone", "iPad")
SYSTEMS = {"Mac OS X": "macOS", "Chrome OS": "ChromeOS"}


@dataclass(frozen=True)
class Device:
    """One open session as 登录设备 shows it."""

    handle: str
    #: "Chrome 120", "WeChat", "" (unknown); the page translates "WeChat" (微信)
    browser: str
    #: "Windows", "iPhone", "Android", "" (unknown)
    system: str
    mobile: bool
    address: str | None
    signed_in_at: datetime
    last_seen_at: datetime
    #: the session of the browser asking
    current: bool


def handle_of(sid: str) -> str:
    """The name of a session in pages and forms: a hash of its id, not the id itself."""
    return hashlib.sha256(sid.encode()).hexdigest()[:HANDLE_LENGTH]


def describe(user_agent: str | None) -> tuple[str, str, bool]:
    """(browser, system, mobile) read from a user agent; empty strings where it says nothing."""
    agent = parse(user_agent or "")
    family = agent.browser.family
    if "WeChat" in family or "MicroMessenger" in (user_agent or ""):
        browser = "WeChat"
    elif family == "Other":
        browser = ""
    else:
        major = agent.browser.version[0] if agent.browser.version else None
        browser = f"{family} {major}" if major is not None else family
    if agent.device.family in DEVICES:
        system = agent.device.family
    elif agent.os.family == "Other":
        system = ""
    else:
        system = SYSTEMS.get(agent.os.family, agent.os.family)
    return browser, system, bool(agent.is_mobile or agent.is_tablet)


def _open(tx: ConnectionOrSession, user_id: int, now: datetime, idle: timedelta) -> list[Any]:
    return list(tx.execute(
        select(SESSIONS).where(SESSIONS.c.user_id == user_id, SESSIONS.c.ended_at.is_(None),
                               SESSIONS.c.last_seen_at >= now - idle)
        .order_by(SESSIONS.c.last_seen_at.desc(), SESSIONS.c.created_at.desc())
    ))  # fmt: skip


def _device(row: Any, current_sid: str | None) -> Device:
    browser, system, mobile = describe(row.user_agent)
    return Device(handle_of(row.id), browser, system, mobile, row.address, row.created_at,
                  row.last_seen_at, row.id == current_sid)  # fmt: skip


def my_devices(
    db: Database, user_id: int, now: datetime, idle: timedelta, current_sid: str | None = None
) -> list[Device]:
    """``user_id``'s open sessions (not ended, not idle for ``idle``), latest seen first; the one
    whose id is ``current_sid`` is marked current and listed first."""
    with db.read() as s:
        rows = _open(s.connection(), user_id, now, idle)
    found = [_device(row, current_sid) for row in rows]
    return sorted(found, key=lambda d: not d.current)


def devices_of(
    db: Database, actor_id: int, user_id: int, now: datetime, idle: timedelta
) -> list[Device]:
    """A person's open sessions as an administrator with ``people`` over their unit sees them
    (or the person themselves).

    Raises:
        Forbidden: the actor holds no ``people`` capability.
        NotFound: no such person, or their unit is outside the actor's scope.
    """
    with db.read() as s:
        tx = s.connection()
        if actor_id != user_id:
            _person_in_scope(tx, actor_id, user_id)
        rows = _open(tx, user_id, now, idle)
    return [_device(row, None) for row in rows]


def end_mine(db: Database, user_id: int, handle: str, now: datetime) -> None:
    """End one of ``user_id``'s open sessions, named by its handle.

    Raises:
        NotFound: no open session of theirs has that handle (ended already, or someone else's).
    """
    with db.write() as s:
        ids = s.execute(
            select(SESSIONS.c.id).where(SESSIONS.c.user_id == user_id,
                                        SESSIONS.c.ended_at.is_(None))
        ).scalars().all()  # fmt: skip
        sid = next((i for i in ids if handle_of(i) == handle), None)
        if sid is None:
            raise NotFound("session_not_found")
        s.execute(update(SESSIONS).where(SESSIONS.c.id == sid).values(ended_at=now))


def end_others(db: Database, user_id: int, current_sid: str, now: datetime) -> int:
    """End every open session of ``user_id`` but ``current_sid`` ("sign out everywhere else");
    returns how many were ended."""
    with db.write() as s:
        done = s.execute(
            update(SESSIONS).where(SESSIONS.c.user_id == user_id, SESSIONS.c.ended_at.is_(None),
                                   SESSIONS.c.id != current_sid)
            .values(ended_at=now)
        )  # fmt: skip
    return int(done.rowcount or 0)


def end_all_for(db: Database, actor_id: int, user_id: int, now: datetime) -> int:
    """An administrator ends every open session of ``user_id``; returns how many were ended.

    The act is a ``sessions_end`` event on the ``admin`` chain, in the same transaction.

    Raises:
        Forbidden: the actor holds no ``people`` capability.
        NotFound: no such person, or their unit is outside the actor's scope.
    """
    with db.write() as s:
        name = _person_in_scope(s.connection(), actor_id, user_id)
        done = s.execute(
            update(SESSIONS).where(SESSIONS.c.user_id == user_id, SESSIONS.c.ended_at.is_(None))
            .values(ended_at=now)
        )  # fmt: skip
        ended = int(done.rowcount or 0)
        adminlog.record(s, admin_scope(s.connection(), actor_id), "sessions_end", at=now,
                        target={"user": user_id, "name": name}, before={"open": ended},
                        after={"open": 0})  # fmt: skip
    return ended


def _person_in_scope(tx: ConnectionOrSession, actor_id: int, user_id: int) -> str:
    """The person's name if ``actor_id`` holds ``people`` over their unit; a person outside the
    scope is not found (a stranger learns nothing from an id)."""
    scope = require_capability(tx, actor_id, "people")
    row = tx.execute(select(USERS.c.name, USERS.c.unit_id).where(USERS.c.id == user_id)).first()
    if row is None or not scope.covers("people", row.unit_id):
        raise NotFound("user_not_found", user=user_id)
    return str(row.name)


def was_ended(db: Database, sid: str, user_id: int, idle: timedelta) -> bool:
    """Whether session ``sid`` of ``user_id`` was ended by someone (elsewhere, or by an
    administrator) rather than idling out: the sign-in page then says so once.

    An idle session is ended on the request that finds it idle, more than ``idle`` after it was
    last seen; one ended within ``idle`` of its last request was ended on purpose.
    """
    with db.read() as s:
        row = s.execute(
            select(SESSIONS.c.ended_at, SESSIONS.c.last_seen_at)
            .where(SESSIONS.c.id == sid, SESSIONS.c.user_id == user_id)
        ).first()  # fmt: skip
    return row is not None and row.ended_at is not None and row.ended_at - row.last_seen_at <= idle
