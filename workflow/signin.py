"""Sign-in that resists guessing: failures counted per account and per address, a growing delay,
a temporary lock, refused attempts recorded for administrators, and lifting a lock (audited).

The counters live in the database (``sign_in_throttles``), so every web worker sees the same
delay and lock. A delay is never a sleep: the engine answers "not before T" and the page says so.
The door passes in the login and password as typed, the network address and the user agent; the
answer is an ``Outcome``. See docs/web.md (Sign-in) for the thresholds and why.
"""

from __future__ import annotations

import ipaddress
import math
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import case, delete, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from workflow.access import require_admin
from workflow.audit import append_admin
from workflow.errors import NotFound
from workflow.passwords import verify_password
from workflow.refusals import Term
from workflow.store.db import ConnectionOrSession, Database
from workflow.store.models import SignInAttempt, SignInThrottle, User

ATTEMPTS = SignInAttempt.__table__
THROTTLES = SignInThrottle.__table__
ACCOUNT, ADDRESS = "account", "address"
SCOPES = (ACCOUNT, ADDRESS)
#: why an attempt was refused, as stored in ``sign_in_attempts.reason``
REASONS = ("unknown_login", "wrong_password", "inactive", "too_soon", "locked")
LOGIN_KEPT, AGENT_KEPT, ADDRESS_KEPT = 200, 300, 64
#: refused attempts are kept this long (the Cybersecurity Law, Art. 21: logs for six months)
KEPT_FOR = timedelta(days=183)


@dataclass(frozen=True)
class Rule:
    """How failures turn into a wait: from ``delay_from`` failures a delay of ``delay`` doubling
    per failure up to ``delay_cap``; from ``lock_at`` a lock of ``lock_for``; the count starts
    again ``window`` after its first failure (once nothing is blocked)."""

    delay_from: int
    delay: timedelta
    delay_cap: timedelta
    lock_at: int
    lock_for: timedelta
    window: timedelta

    def until(self, failures: int, last_at: datetime) -> tuple[datetime | None, bool]:
        """When the next attempt is accepted after ``failures`` (None: at once), and if locked."""
        if failures >= self.lock_at:
            # A lock lifts on a whole minute, so the minute shown on the page is exact.
            lifts = last_at + self.lock_for
            return datetime.fromtimestamp(math.ceil(lifts.timestamp() / 60) * 60, UTC), True
        if failures >= self.delay_from:
            wait = self.delay * 2 ** min(failures - self.delay_from, 30)
            return last_at + min(wait, self.delay_cap), False
        return None, False


#: One person's typos stay free; a guesser gets 5 s, 10 s … 80 s, then 15 minutes per try.
ACCOUNT_RULE = Rule(5, timedelta(seconds=5), timedelta(minutes=5), 10, timedelta(minutes=15),
                    timedelta(hours=24))  # fmt: skip
#: An office behind one NAT address shares this count: fifty typos an hour cost nobody a wait,
#: a sprayer is slowed to one guess per 30 s and locked out at the hundredth failure in an hour.
ADDRESS_RULE = Rule(50, timedelta(seconds=2), timedelta(seconds=30), 100, timedelta(minutes=15),
                    timedelta(hours=1))  # fmt: skip
RULES = {ACCOUNT: ACCOUNT_RULE, ADDRESS: ADDRESS_RULE}


@dataclass(frozen=True)
class Wait:
    """The next attempt for this account (or from this address) is accepted at ``until``."""

    scope: str
    until: datetime
    locked: bool


@dataclass(frozen=True)
class Outcome:
    """What one sign-in attempt came to: ``user_id`` when it succeeded; else ``refused`` is
    ``wrong`` (the password was checked and failed: same for an unknown or inactive login),
    ``removed`` (the right password of a removed account: only its owner learns it) or
    ``blocked`` (not checked: too soon or locked); ``wait`` says when the next try is accepted."""

    user_id: int | None = None
    refused: str | None = None
    wait: Wait | None = None


@dataclass(frozen=True)
class Counter:
    """One counter as the admin page shows it: its key, failures, and the wait it imposes now."""

    scope: str
    key: str
    failures: int
    last_at: datetime
    until: datetime
    locked: bool


@dataclass(frozen=True)
class Attempt:
    """One refused sign-in as administrators see it."""

    id: int
    at: datetime
    login: str
    user_id: int | None
    user_name: str | None
    address: str | None
    user_agent: str | None
    reason: str


def account_key(login: str) -> str:
    """The account counter's key: the login as looked up, case-folded (variants count together)."""
    return _printable(login.strip().casefold())[:LOGIN_KEPT]


def address_key(address: str | None) -> str:
    """The address counter's key: the IPv4 address, or an IPv6 address's /64 (one subscriber)."""
    try:
        ip = ipaddress.ip_address((address or "").strip())
    except ValueError:
        return _printable(address or "unknown")[:ADDRESS_KEPT]
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped:
        return str(ip.ipv4_mapped)
    if isinstance(ip, ipaddress.IPv6Address):
        return str(ipaddress.IPv6Network(f"{ip}/64", strict=False))
    return str(ip)


def sign_in(
    db: Database, login: str, password: str, address: str | None, user_agent: str | None,
    now: datetime,
) -> Outcome:  # fmt: skip
    """Check one sign-in attempt, counting it against the account and the address.

    The attempt is charged to both counters before the password is checked (so parallel guesses
    see each other), and refunded on success; the slow argon2 check runs outside any
    transaction. An unknown, removed or password-less login costs the same argon2 check and
    gets the same answer as a wrong password. Refused attempts are recorded.
    """
    keys = {ACCOUNT: account_key(login), ADDRESS: address_key(address)}
    seen = {"login": _printable(login)[:LOGIN_KEPT], "address": (address or "")[:ADDRESS_KEPT],
            "user_agent": _printable(user_agent or "")[:AGENT_KEPT] or None}  # fmt: skip
    with db.transaction() as conn:
        user = _user(conn, login.strip())
        user_id = user.id if user is not None else None
        rows = {scope: _locked_row(conn, scope, key, now) for scope, key in keys.items()}
        wait = _longest(_wait(scope, _live(scope, row, now), now) for scope, row in rows.items())
        if wait is not None:
            _record(conn, seen, user_id, "locked" if wait.locked else "too_soon", now)
            return Outcome(refused="blocked", wait=wait)
        before = {scope: _charge(conn, scope, keys[scope], rows[scope], now) for scope in SCOPES}
    usable = user is not None and user.status == "active"
    # A leaver's password is still checked: only someone who knows it learns that the account
    # was removed (Art. 12); to anyone else it is a wrong password like any other.
    checked = user is not None and user.status in ("active", "removed")
    right = verify_password(user.password_hash if checked else None, password)
    if right and usable:
        with db.transaction() as conn:
            _refund(conn, keys, before, now)
        return Outcome(user_id=user.id)
    reason = "unknown_login" if user is None else "wrong_password" if usable else "inactive"
    with db.transaction() as conn:
        _record(conn, seen, user_id, reason, now)
        conn.execute(delete(ATTEMPTS).where(ATTEMPTS.c.at < now - KEPT_FOR))
        rows = {scope: _live(scope, _row(conn, scope, key), now) for scope, key in keys.items()}
    refused = "removed" if right else "wrong"
    return Outcome(refused=refused, wait=_longest(_wait(s, row, now) for s, row in rows.items()))


def _user(conn: ConnectionOrSession, login: str) -> Any:
    if "\x00" in login or len(login) > LOGIN_KEPT:  # no such login can exist (nor be asked for)
        return None
    return conn.execute(
        select(User.id, User.password_hash, User.status).where(User.login == login)
    ).first()


def _locked_row(conn: ConnectionOrSession, scope: str, key: str, now: datetime) -> Any:
    """The counter row, created empty if missing, and locked for this transaction.

    Creating it first gives PostgreSQL a row to lock even for a first failure, so parallel
    attempts on one account queue here and each sees the others' charges (on SQLite, write
    transactions are serial anyway).
    """
    insert = pg_insert if conn.dialect.name == "postgresql" else sqlite_insert
    conn.execute(
        insert(THROTTLES)
        .values(scope=scope, key=key, failures=0, first_at=now, last_at=now)
        .on_conflict_do_nothing(index_elements=["scope", "key"])
    )
    return _row(conn, scope, key, lock=True)


def _row(conn: ConnectionOrSession, scope: str, key: str, lock: bool = False) -> Any:
    query = select(THROTTLES).where(THROTTLES.c.scope == scope, THROTTLES.c.key == key)
    return conn.execute(query.with_for_update() if lock else query).first()


def _live(scope: str, row: Any, now: datetime) -> Any:
    """The row, or None when its window is over and it blocks nothing any more (no failures)."""
    if row is None:
        return None
    until, _ = RULES[scope].until(row.failures, row.last_at)
    over = now - row.first_at >= RULES[scope].window and (until is None or now >= until)
    return None if over else row


def _wait(scope: str, row: Any, now: datetime) -> Wait | None:
    if row is None:
        return None
    until, locked = RULES[scope].until(row.failures, row.last_at)
    return Wait(scope, until, locked) if until is not None and until > now else None


def _longest(waits: Any) -> Wait | None:
    found = [w for w in waits if w is not None]
    return max(found, key=lambda w: (w.until, w.scope == ACCOUNT)) if found else None


def _charge(conn: ConnectionOrSession, scope: str, key: str, row: Any, now: datetime) -> Any:
    """Count one failure in advance; returns the live row as it was (None: a fresh window)."""
    where = (THROTTLES.c.scope == scope, THROTTLES.c.key == key)
    if _live(scope, row, now) is None:  # a new window
        conn.execute(update(THROTTLES).where(*where).values(failures=1, first_at=now, last_at=now))
        return None
    conn.execute(update(THROTTLES).where(*where)
                 .values(failures=THROTTLES.c.failures + 1, last_at=now))  # fmt: skip
    return row


def _refund(
    conn: ConnectionOrSession, keys: dict[str, str], before: dict[str, Any], now: datetime
) -> None:
    """A success: the account starts afresh; the address gives back only this attempt's charge
    (a success must not wipe other people's failures from the same address)."""
    conn.execute(delete(THROTTLES).where(THROTTLES.c.scope == ACCOUNT,
                                         THROTTLES.c.key == keys[ACCOUNT]))  # fmt: skip
    where = (THROTTLES.c.scope == ADDRESS, THROTTLES.c.key == keys[ADDRESS])
    last = THROTTLES.c.last_at
    if before[ADDRESS] is not None:
        # Nobody failed from here since our charge: the delay runs from the previous failure.
        last = case((THROTTLES.c.last_at == now, before[ADDRESS].last_at), else_=last)
    conn.execute(update(THROTTLES).where(*where, THROTTLES.c.failures > 0)
                 .values(failures=THROTTLES.c.failures - 1, last_at=last))  # fmt: skip
    conn.execute(delete(THROTTLES).where(*where, THROTTLES.c.failures <= 0))


def _record(
    conn: ConnectionOrSession, seen: dict[str, Any], user_id: int | None, reason: str, now: datetime
) -> None:
    conn.execute(ATTEMPTS.insert().values(at=now, user_id=user_id, reason=reason, **seen))


def _printable(text: str) -> str:
    # PostgreSQL text cannot hold NUL; keep the rest as typed, for the administrator to read.
    return text.replace("\x00", "\ufffd")


# -- for administrators ------------------------------------------------------------------------


def recent_attempts(db: Database, limit: int = 200) -> list[Attempt]:
    """The newest refused sign-ins, newest first, with the matched person's name."""
    with db.read() as s:
        rows = s.execute(
            select(ATTEMPTS, User.name.label("user_name"))
            .outerjoin(User, User.id == ATTEMPTS.c.user_id)
            .order_by(ATTEMPTS.c.at.desc(), ATTEMPTS.c.id.desc())
            .limit(limit)
        ).all()
    return [Attempt(r.id, r.at, r.login, r.user_id, r.user_name, r.address, r.user_agent,
                    r.reason) for r in rows]  # fmt: skip


def current_waits(db: Database, now: datetime) -> list[Counter]:
    """Every account and address that may not try again yet (locked or delayed), locks first."""
    smallest = min(rule.delay_from for rule in RULES.values())
    longest = max(max(r.lock_for, r.delay_cap) for r in RULES.values()) + timedelta(minutes=1)
    with db.read() as s:
        rows = s.execute(
            select(THROTTLES).where(THROTTLES.c.failures >= smallest,
                                    THROTTLES.c.last_at > now - longest)
        ).all()  # fmt: skip
    found = []
    for row in rows:
        until, locked = RULES[row.scope].until(row.failures, row.last_at)
        if until is not None and until > now:
            found.append(Counter(row.scope, row.key, row.failures, row.last_at, until, locked))
    return sorted(found, key=lambda c: (not c.locked, -c.until.timestamp(), c.scope, c.key))


def lift(db: Database, scope: str, key: str, actor_id: int, now: datetime) -> Counter:
    """Forget the failures of one account or address: its delay or lock ends now.

    Recorded as ``sign_in_unlock`` on the ``admin`` audit chain in the same transaction.

    Raises:
        Forbidden: ``actor_id`` is not an active administrator.
        NotFound: no failures are counted for that account or address (nothing to lift).
    """
    if scope not in SCOPES or "\x00" in key:
        raise NotFound("signin_nothing_counted", scope=Term(scope), key=repr(key))
    with db.transaction() as conn:
        name = require_admin(conn, actor_id, "unlock")
        row = conn.execute(
            delete(THROTTLES).where(THROTTLES.c.scope == scope, THROTTLES.c.key == key)
            .returning(*THROTTLES.c)
        ).first()  # fmt: skip
        if row is None:
            raise NotFound("signin_nothing_counted", scope=Term(scope), key=repr(key))
        until, locked = RULES[scope].until(row.failures, row.last_at)
        lifted = Counter(scope, key, row.failures, row.last_at, until or now, locked)
        data = {"scope": scope, "key": key, "failures": row.failures,
                "until": until.isoformat() if until else None, "locked": locked}  # fmt: skip
        append_admin(conn, actor_id, name, "sign_in_unlock", data, now)
    return lifted
